/*  colo_bytes.h - big-endian values read and written at unaligned addresses.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  One set for every module that reads wire formats (packets, framing,
 *  checksums), inline so a read is a load and a byte swap.
 */
#ifndef COLO_BYTES_H_INCLUDED
#define COLO_BYTES_H_INCLUDED

#include <stdint.h>

static inline uint16_t
colo_get_be16 (const uint8_t *p)
{
    return (uint16_t) ((p[0] << 8) | p[1]);
}

static inline uint32_t
colo_get_be32 (const uint8_t *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}

static inline uint64_t
colo_get_be64 (const uint8_t *p)
{
    return (uint64_t) colo_get_be32 (p) << 32 | colo_get_be32 (p + 4);
}

static inline void
colo_put_be16 (uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t) (v >> 8);
    p[1] = (uint8_t) v;
}

static inline void
colo_put_be32 (uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 24);
    p[1] = (uint8_t) (v >> 16);
    p[2] = (uint8_t) (v >> 8);
    p[3] = (uint8_t) v;
}

#endif
