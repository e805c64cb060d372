/*  colo_counters.c - formatting and merging of named counter sets.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <stdio.h>
#include <string.h>

#include "colo_counters.h"

uint64_t
colo_counters_get (const colo_counters_t *set, const char *name)
{
    for (size_t i = 0; i < set->count; i++)
        if (strcmp (set->names[i], name) == 0)
            return set->values[i];
    return 0;
}

//  Append to buf like snprintf would, keeping track of the full length.
static void
s_append (char *buf, size_t cap, size_t *len, const char *fmt, const char *a,
          const char *b, unsigned long long v)
{
    size_t room = *len < cap ? cap - *len : 0;
    int n = snprintf (room ? buf + *len : NULL, room, fmt, a, b, v);
    if (n > 0)
        *len += (size_t) n;
}

size_t
colo_counters_format (const colo_counters_t *set, const char *prefix, int json,
                      int skip_zero, char *buf, size_t cap)
{
    size_t len = 0;
    if (cap)
        buf[0] = 0;
    if (!prefix)
        prefix = "";
    if (json)
        s_append (buf, cap, &len, "%s%s{", "", "", 0);
    int first = 1;
    for (size_t i = 0; i < set->count; i++) {
        if (!json && skip_zero && set->values[i] == 0)
            continue;
        if (json)
            s_append (buf, cap, &len, "%s\"%s\":%llu", first ? "" : ",",
                      set->names[i], (unsigned long long) set->values[i]);
        else
            s_append (buf, cap, &len, "%s%s %llu\n", prefix, set->names[i],
                      (unsigned long long) set->values[i]);
        first = 0;
    }
    if (json)
        s_append (buf, cap, &len, "%s%s}", "", "", 0);
    if (cap && len >= cap)
        buf[cap - 1] = 0;
    return len;
}

void
colo_counters_add (uint64_t *dst, const uint64_t *src, size_t count)
{
    for (size_t i = 0; i < count; i++)
        dst[i] += src[i];
}
