/*  colo_csum.c - Internet checksums: full, pseudo-header, and incremental.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  The full sum adds the data as native-order 32-bit words into 64-bit
 *  accumulators and byte-swaps the folded result once on little-endian
 *  hosts: the one's-complement sum commutes with byte swapping (RFC 1071
 *  §2(B)), and 2^16 = 1 (mod 2^16 - 1) makes the word width irrelevant.
 *  Loads go through memcpy, so any alignment is fine.
 */
#include <string.h>

#include "colo_csum.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define S_BIG_ENDIAN 1
#else
#define S_BIG_ENDIAN 0
#endif

//  Bytes summed per chunk before the accumulators are folded: 2^28 32-bit
//  words per accumulator cannot overflow 64 bits.
#define S_CHUNK ((size_t) 1 << 30)

static inline uint32_t
s_fold16 (uint64_t s)
{
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    return (uint32_t) s;
}

//  Native-order one's-complement sum of len < 2^32 bytes, folded to 16 bits.
static uint32_t
s_sum_native (const uint8_t *p, size_t len)
{
    uint64_t a = 0, b = 0, c = 0, d = 0;
    while (len >= 16) {
        uint64_t w0, w1;
        memcpy (&w0, p, 8);
        memcpy (&w1, p + 8, 8);
        a += (uint32_t) w0;
        b += w0 >> 32;
        c += (uint32_t) w1;
        d += w1 >> 32;
        p += 16;
        len -= 16;
    }
    if (len >= 8) {
        uint64_t w;
        memcpy (&w, p, 8);
        a += (uint32_t) w;
        b += w >> 32;
        p += 8;
        len -= 8;
    }
    if (len >= 4) {
        uint32_t w;
        memcpy (&w, p, 4);
        c += w;
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        uint16_t w;
        memcpy (&w, p, 2);
        d += w;
        p += 2;
        len -= 2;
    }
    if (len) {
        //  The odd byte is the first of a zero-padded 16-bit word.
        uint16_t w = 0;
        memcpy (&w, p, 1);
        a += w;
    }
    return s_fold16 (a + b + c + d);
}

uint32_t
colo_csum_partial (const void *data, size_t len, uint32_t sum)
{
    const uint8_t *p = data;
    uint64_t total = sum;
    while (len) {
        size_t n = len > S_CHUNK ? S_CHUNK : len;
        uint32_t s = s_sum_native (p, n);
#if !S_BIG_ENDIAN
        s = ((s >> 8) | (s << 8)) & 0xffff;
#endif
        total += s;
        p += n;
        len -= n;
    }
    return s_fold16 (total);
}

uint32_t
colo_csum_pseudo (const uint8_t *src, const uint8_t *dst, size_t addr_len,
                  uint8_t proto, uint32_t l4_len)
{
    uint64_t s = colo_csum_partial (src, addr_len, 0);
    s += colo_csum_partial (dst, addr_len, 0);
    //  IPv4: zero, protocol, 16-bit length.  IPv6: 32-bit length, three
    //  zero bytes, next header.  Both sum to this.
    s += proto;
    s += l4_len >> 16;
    s += l4_len & 0xffff;
    return s_fold16 (s);
}

uint16_t
colo_csum_ipv4_header (const uint8_t *ip, size_t hdr_len)
{
    if (hdr_len <= 10)
        return colo_csum_fold (colo_csum_partial (ip, hdr_len, 0));
    uint32_t s = colo_csum_partial (ip, 10, 0);
    if (hdr_len > 12)
        s = colo_csum_partial (ip + 12, hdr_len - 12, s);
    return colo_csum_fold (s);
}

uint32_t
colo_csum_l4_field (const colo_packet_t *pkt)
{
    switch (pkt->l4) {
        case COLO_L4_TCP:
            return pkt->l4_off + 16;
        case COLO_L4_UDP:
            return pkt->l4_off + 6;
        case COLO_L4_ICMP:
        case COLO_L4_ICMPV6:
            return pkt->l4_off + 2;
        default:
            return 0;
    }
}

//  The L4 segment [*start, *end) and its checksum field, or -1 when the
//  packet has no complete, checksummable L4 segment.
static int
s_l4_segment (const colo_packet_t *pkt, uint32_t *start, uint32_t *field,
              uint32_t *end)
{
    if ((pkt->l3 != COLO_L3_IPV4 && pkt->l3 != COLO_L3_IPV6)
        || pkt->is_fragment)
        return -1;
    uint32_t f = colo_csum_l4_field (pkt);
    if (f == 0)
        return -1;
    uint32_t s = pkt->l4_off;
    uint32_t e = pkt->payload_off + pkt->payload_len;
    //  Defensive: a pkt that did not come from colo_packet_decode on this
    //  frame must not make us read or write out of bounds.
    if (e < pkt->payload_off || e > pkt->l3_end || pkt->l3_end > pkt->frame_len
        || f < s || f > e || e - f < 2
        || (pkt->addr_len != 4 && pkt->addr_len != 16)
        || pkt->addr_len > pkt->frame_len
        || pkt->src_off > pkt->frame_len - pkt->addr_len
        || pkt->dst_off > pkt->frame_len - pkt->addr_len)
        return -1;
    *start = s;
    *field = f;
    *end = e;
    return 0;
}

//  One's-complement sum of the segment with the checksum field as zero,
//  pseudo-header included (except for ICMP over IPv4).
static uint32_t
s_l4_sum (const colo_packet_t *pkt, const uint8_t *frame, uint32_t start,
          uint32_t field, uint32_t end)
{
    uint32_t s = 0;
    if (pkt->l4 != COLO_L4_ICMP)
        s = colo_csum_pseudo (frame + pkt->src_off, frame + pkt->dst_off,
                              pkt->addr_len, pkt->ip_proto, end - start);
    //  field - start is even, so only the last chunk can be odd.
    s = colo_csum_partial (frame + start, field - start, s);
    return colo_csum_partial (frame + field + 2, end - field - 2, s);
}

int
colo_csum_l4_expected (const colo_packet_t *pkt, const uint8_t *frame)
{
    uint32_t start, field, end;
    if (!pkt || !frame || s_l4_segment (pkt, &start, &field, &end) != 0)
        return -1;
    uint16_t c = colo_csum_fold (s_l4_sum (pkt, frame, start, field, end));
    if (pkt->l4 == COLO_L4_UDP && c == 0)
        c = 0xffff;
    return c;
}

int
colo_csum_l4_verify (const colo_packet_t *pkt, const uint8_t *frame)
{
    uint32_t start, field, end;
    if (!pkt || !frame || s_l4_segment (pkt, &start, &field, &end) != 0)
        return -1;
    uint16_t stored = colo_get_be16 (frame + field);
    if (pkt->l4 == COLO_L4_UDP && pkt->l3 == COLO_L3_IPV4 && stored == 0)
        return 1;
    uint32_t s = s_l4_sum (pkt, frame, start, field, end);
    return colo_csum_fold (s + stored) == 0;
}

int
colo_csum_fix (const colo_packet_t *pkt, uint8_t *frame)
{
    if (!pkt || !frame)
        return -1;
    int done = 0;
    if (pkt->l3 == COLO_L3_IPV4 && pkt->l3_hdr_len >= 20
        && pkt->l3_off <= pkt->frame_len
        && pkt->l3_hdr_len <= pkt->frame_len - pkt->l3_off) {
        uint8_t *ip = frame + pkt->l3_off;
        colo_put_be16 (ip + 10, colo_csum_ipv4_header (ip, pkt->l3_hdr_len));
        done = 1;
    }
    int c = colo_csum_l4_expected (pkt, frame);
    if (c >= 0) {
        uint8_t *field = frame + colo_csum_l4_field (pkt);
        //  A UDP/IPv4 sender that chose "no checksum" keeps it.
        if (!(pkt->l4 == COLO_L4_UDP && pkt->l3 == COLO_L3_IPV4
              && colo_get_be16 (field) == 0))
            colo_put_be16 (field, (uint16_t) c);
        done = 1;
    }
    return done ? 0 : -1;
}

void
colo_csum_update16 (uint8_t *csum, uint16_t old_val, uint16_t new_val)
{
    uint32_t s = (uint16_t) ~colo_get_be16 (csum);
    s += (uint16_t) ~old_val;
    s += new_val;
    colo_put_be16 (csum, colo_csum_fold (s));
}

void
colo_csum_update32 (uint8_t *csum, uint32_t old_val, uint32_t new_val)
{
    uint32_t s = (uint16_t) ~colo_get_be16 (csum);
    s += (uint16_t) ~(old_val >> 16);
    s += (uint16_t) ~old_val;
    s += new_val >> 16;
    s += new_val & 0xffff;
    colo_put_be16 (csum, colo_csum_fold (s));
}
