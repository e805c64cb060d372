/*  colo_port_shm.c - the shm: transport: a port over a colo_ring.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  shm:NAME[,size=BYTES].  A TX port is the ring's producer, an RX port its
 *  consumer; one ring carries one direction, so RXTX is refused.  The ring
 *  is the queue: send copies frames into it (and frees the buffers it took),
 *  recv takes them out, nothing is held in the port.
 */
#include <stdlib.h>

#include "colo_log.h"
#include "colo_port_int.h"
#include "colo_ring.h"

typedef struct {
    colo_ring_t *ring;
    uint64_t malformed_seen;   //  ring counters already added to the port's
    uint64_t invalid_seen;
} s_shm_t;

static int
s_open (colo_port_t *self, colo_uri_t *uri)
{
    if (self->dir == COLO_PORT_RXTX) {
        colo_error ("port %s: a shm ring carries one direction; open one port "
                    "to send and another (another ring) to receive",
                    self->uri);
        return -1;
    }
    uint64_t size = 0;
    if (colo_uri_opt_u64 (uri, "size", 0, COLO_RING_MIN_SIZE, COLO_RING_MAX_SIZE,
                          &size)
        != 0)
        return -1;
    if (size & (size - 1)) {
        colo_error ("port %s: size=%llu is not a power of two", self->uri,
                    (unsigned long long) size);
        return -1;
    }
    s_shm_t *shm = (s_shm_t *) calloc (1, sizeof (s_shm_t));
    if (!shm)
        return -1;
    colo_ring_role_t role
        = self->dir == COLO_PORT_TX ? COLO_RING_PRODUCER : COLO_RING_CONSUMER;
    shm->ring = colo_ring_open (uri->address, role, (size_t) size);
    if (!shm->ring) {
        colo_error ("port %s: cannot attach to the ring", self->uri);
        free (shm);
        return -1;
    }
    self->impl = shm;
    self->fd = colo_ring_fd (shm->ring);
    return 0;
}

static void
s_close (colo_port_t *self)
{
    s_shm_t *shm = (s_shm_t *) self->impl;
    if (!shm)
        return;
    colo_ring_destroy (&shm->ring);
    free (shm);
    self->impl = NULL;
}

//  Carry the ring's corruption counters into the port's: an impossible
//  position or record from the peer is malformed input; a frame the ring
//  could not encode is an error.
static void
s_sync_counters (colo_port_t *self, s_shm_t *shm)
{
    const uint64_t *c = colo_ring_counters (shm->ring);
    uint64_t malformed = c[COLO_RING_CORRUPT_POSITION] + c[COLO_RING_CORRUPT_RECORD];
    uint64_t invalid = c[COLO_RING_INVALID_FRAME];
    self->counters[COLO_PORT_RX_MALFORMED] += malformed - shm->malformed_seen;
    self->counters[COLO_PORT_ERRORS] += invalid - shm->invalid_seen;
    shm->malformed_seen = malformed;
    shm->invalid_seen = invalid;
}

static int
s_send (colo_port_t *self, colo_buf_t **bufs, int n)
{
    s_shm_t *shm = (s_shm_t *) self->impl;
    int taken = colo_ring_enqueue (shm->ring, bufs, n);
    if (taken < 0)
        return 0;
    uint64_t bytes = 0;
    for (int i = 0; i < taken; i++)
        if (bufs[i]) {
            bytes += bufs[i]->len;
            colo_buf_destroy (&bufs[i]);
        }
    self->counters[COLO_PORT_TX_FRAMES] += (uint64_t) taken;
    self->counters[COLO_PORT_TX_BYTES] += bytes;
    s_sync_counters (self, shm);
    return taken;
}

static int
s_recv (colo_port_t *self, colo_buf_t **bufs, int max)
{
    s_shm_t *shm = (s_shm_t *) self->impl;
    if (max <= 0 || self->dir != COLO_PORT_RX) {
        colo_ring_housekeep (shm->ring);
        return 0;
    }
    int got = colo_ring_dequeue (shm->ring, bufs, max);
    if (got < 0)
        return 0;
    uint64_t bytes = 0;
    for (int i = 0; i < got; i++)
        bytes += bufs[i]->len;
    self->counters[COLO_PORT_RX_FRAMES] += (uint64_t) got;
    self->counters[COLO_PORT_RX_BYTES] += bytes;
    s_sync_counters (self, shm);
    return got;
}

static int
s_pending (colo_port_t *self)
{
    (void) self;
    return 0;
}

static int
s_connected (colo_port_t *self)
{
    s_shm_t *shm = (s_shm_t *) self->impl;
    return colo_ring_peer_attached (shm->ring);
}

const colo_port_ops_t colo_port_shm_ops = {
    "shm", s_open, s_close, s_send, s_recv, s_pending, s_connected, NULL, NULL,
};
