/*  colo_csum.h - Internet checksums: full, pseudo-header, and incremental.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Sums are the one's-complement 16-bit sums of RFC 1071.  Incremental
 *  updates follow RFC 1624 (HC' = ~(~HC + ~m + m')), so a checksum stays
 *  right however the other fields of the packet look.
 */
#ifndef COLO_CSUM_H_INCLUDED
#define COLO_CSUM_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "colo_bytes.h"   //  colo_get_be16 and the rest, for the callers of this header
#include "colo_packet.h"

//  Add len bytes at data to a 32-bit running sum (big-endian 16-bit words;
//  an odd last byte is padded with zero).  Start with sum = 0.  Chained
//  calls must pass even lengths except for the last chunk.  Any alignment.
//  The returned sum is folded to at most 0xffff.
uint32_t colo_csum_partial (const void *data, size_t len, uint32_t sum);

//  Fold a running sum to 16 bits and complement it: the value to store in a
//  checksum field (host order).  Inline: it is on the rewriter's per-frame
//  path.
static inline uint16_t
colo_csum_fold (uint32_t sum)
{
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t) ~sum;
}

//  Running sum of the IPv4 or IPv6 pseudo-header for an L4 segment of
//  l4_len bytes with protocol proto.  src and dst are 4 or 16 bytes.
uint32_t colo_csum_pseudo (const uint8_t *src, const uint8_t *dst,
                           size_t addr_len, uint8_t proto, uint32_t l4_len);

//  The IPv4 header checksum of the header at ip (ihl*4 bytes) as it should
//  be, computed with the checksum field taken as zero.
uint16_t colo_csum_ipv4_header (const uint8_t *ip, size_t hdr_len);

//  Offset (from the frame start) of the L4 checksum field of a decoded
//  packet: TCP l4_off+16, UDP +6, ICMP/ICMPv6 +2; 0 if there is none.
uint32_t colo_csum_l4_field (const colo_packet_t *pkt);

//  The TCP/UDP/ICMP/ICMPv6 checksum the decoded L4 segment should carry,
//  computed with the checksum field taken as zero (ICMP over IPv4 has no
//  pseudo header).  The segment is [l4_off, payload_off + payload_len): it
//  is bounded by the IP length (UDP: by the UDP length), never by the frame.
//  A UDP result of 0 is returned as 0xffff.  Returns -1 if the packet has no
//  checksummable L4 (not TCP/UDP/ICMP/ICMPv6, or a fragment).  Limitation:
//  the IPv6 pseudo-header uses the header's destination even when a routing
//  header with segments left > 0 names a different final destination.
int colo_csum_l4_expected (const colo_packet_t *pkt, const uint8_t *frame);

//  Verify the stored L4 checksum: 1 if right (a UDP/IPv4 checksum of 0,
//  "none", counts as right; 0x0000 and 0xffff are equivalent), 0 if wrong,
//  -1 if not checksummable (as for colo_csum_l4_expected).
int colo_csum_l4_verify (const colo_packet_t *pkt, const uint8_t *frame);

//  Recompute and store the IPv4 header checksum and the L4 checksum of a
//  decoded packet (UDP: a computed 0 is stored as 0xffff; a UDP/IPv4
//  checksum of 0, "none", is left alone).  Returns 0, -1 if nothing could be
//  computed.
int colo_csum_fix (const colo_packet_t *pkt, uint8_t *frame);

//  Incremental update of the 16-bit checksum field at csum (network order,
//  unaligned) for a 16- or 32-bit field changing from old_val to new_val
//  (host order).  The result equals a full recomputation.  Callers must skip
//  a UDP/IPv4 checksum of 0 ("none") and store 0xffff for a UDP result of 0.
void colo_csum_update16 (uint8_t *csum, uint16_t old_val, uint16_t new_val);
void colo_csum_update32 (uint8_t *csum, uint32_t old_val, uint32_t new_val);


#endif
