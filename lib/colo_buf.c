/*  colo_buf.c - frame buffers in flight.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <stdlib.h>
#include <string.h>

#include "colo_buf.h"

colo_buf_t *
colo_buf_new (size_t cap)
{
    if (cap > COLO_FRAME_MAX)
        return NULL;
    colo_buf_t *self = (colo_buf_t *) malloc (sizeof (colo_buf_t) + cap);
    if (!self)
        return NULL;
    memset (self, 0, sizeof (colo_buf_t));
    self->cap = (uint32_t) cap;
    return self;
}

colo_buf_t *
colo_buf_new_copy (const void *data, size_t len)
{
    colo_buf_t *self = colo_buf_new (len);
    if (self) {
        if (len)
            memcpy (self->data, data, len);
        self->len = (uint32_t) len;
    }
    return self;
}

colo_buf_t *
colo_buf_dup (const colo_buf_t *buf)
{
    colo_buf_t *self = colo_buf_new (buf->len);
    if (self) {
        uint32_t cap = self->cap;
        memcpy (self, buf, sizeof (colo_buf_t) + buf->len);
        self->cap = cap;
    }
    return self;
}

void
colo_buf_destroy (colo_buf_t **self_p)
{
    if (self_p && *self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

void
colo_buf_destroy_array (colo_buf_t **bufs, int n)
{
    for (int i = 0; i < n; i++)
        colo_buf_destroy (&bufs[i]);
}

uint32_t
colo_instance_id (const char *name)
{
    if (!name)
        return 0;
    uint32_t hash = 2166136261u;
    for (const unsigned char *p = (const unsigned char *) name; *p; p++) {
        hash ^= *p;
        hash *= 16777619u;
    }
    return hash;
}
