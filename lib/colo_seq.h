/*  colo_seq.h - wrap-safe TCP sequence arithmetic (RFC 1982 style).
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Sequence numbers live on a 2^32 circle; a is "before" b when the signed
 *  distance b - a is positive.  Values exactly 2^31 apart are ambiguous and
 *  compare as not before and not after in both directions' first test.
 */
#ifndef COLO_SEQ_H_INCLUDED
#define COLO_SEQ_H_INCLUDED

#include <stdint.h>

static inline int
colo_seq_before (uint32_t a, uint32_t b)
{
    return (int32_t) (a - b) < 0;
}
static inline int
colo_seq_after (uint32_t a, uint32_t b)
{
    return (int32_t) (b - a) < 0;
}
static inline int
colo_seq_before_eq (uint32_t a, uint32_t b)
{
    return !colo_seq_after (a, b);
}
static inline int
colo_seq_after_eq (uint32_t a, uint32_t b)
{
    return !colo_seq_before (a, b);
}
static inline uint32_t
colo_seq_max (uint32_t a, uint32_t b)
{
    return colo_seq_after (a, b) ? a : b;
}
static inline uint32_t
colo_seq_min (uint32_t a, uint32_t b)
{
    return colo_seq_before (a, b) ? a : b;
}
//  Distance from a forward to b (b - a), meaningful when !before(b, a).
static inline uint32_t
colo_seq_diff (uint32_t b, uint32_t a)
{
    return b - a;
}
//  1 if s lies in [lo, hi) on the circle.
static inline int
colo_seq_in (uint32_t s, uint32_t lo, uint32_t hi)
{
    return (uint32_t) (s - lo) < (uint32_t) (hi - lo);
}

#endif
