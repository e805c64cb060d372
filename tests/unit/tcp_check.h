/*  tcp_check.h - colo_packet_tcp4, _tcp6 and _udp held to what colo_packet_decode finds.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Shared by the decoder suite and the packet fuzz target.
 */
#ifndef TCP_CHECK_H_INCLUDED
#define TCP_CHECK_H_INCLUDED

#include <string.h>

#include "colo_packet.h"

#define COLO_TEST_KEY_SEED 0x0123456789abcdefULL

//  NULL if a light decoder's key and hash (with COLO_TEST_KEY_SEED) are
//  colo_flow_key_hash's of the decoded pkt; else "flow key".
static inline const char *
colo_test_key_differs (const colo_packet_t *pkt, const uint8_t *frame,
                       const colo_flow_key_t *key, uint64_t hash)
{
    colo_flow_key_t full;
    uint64_t full_hash = 0;
    if (colo_flow_key_hash (&full, &full_hash, pkt, frame, COLO_TEST_KEY_SEED) != 0
        || memcmp (&full, key, sizeof full) != 0 || full_hash != hash)
        return "flow key";
    return NULL;
}

//  1 if two light decodes found the same.
static inline int
colo_test_seg_equal (const colo_tcp_seg_t *a, const colo_tcp_seg_t *b)
{
    return a->seq == b->seq && a->ack == b->ack && a->payload_off == b->payload_off
           && a->payload_len == b->payload_len && a->sport == b->sport && a->dport == b->dport
           && a->window == b->window && a->vlan == b->vlan && a->flags == b->flags
           && a->wscale == b->wscale && a->info == b->info && a->l3_off == b->l3_off
           && a->l4_off == b->l4_off;
}

//  NULL if colo_packet_tcp4 (v6: colo_packet_tcp6) takes frame exactly when
//  colo_packet_decode finds an IPv4 packet without options, not a fragment,
//  carrying TCP (v6: an IPv6 packet whose next header is TCP), untagged or
//  in one VLAN tag, and then gives the same values (and
//  colo_flow_key_hash_tcp the same key and hash); else what differs.
static inline const char *
colo_test_light_differs (const uint8_t *frame, size_t len, int v6)
{
    colo_tcp_seg_t seg;
    colo_packet_t pkt;
    int took = v6 ? colo_packet_tcp6 (&seg, frame, len) : colo_packet_tcp4 (&seg, frame, len);
    colo_pkt_result_t rc = colo_packet_decode (&pkt, frame, len, NULL);
    int shape = rc == COLO_PKT_OK && pkt.l3 == (v6 ? COLO_L3_IPV6 : COLO_L3_IPV4)
                && pkt.l4 == COLO_L4_TCP && pkt.vlan_count <= 1
                && pkt.l3_hdr_len == (v6 ? 40u : 20u) && !pkt.is_fragment;
    if (took != shape)
        return "which frames are taken";
    //  colo_packet_tcp4_plain (v6: _tcp6_plain), and
    //  colo_packet_tcp_plain_tagged of this family: the ones with no TCP
    //  options or NOP NOP TS alone, untagged and in one tag, the same fields.
    colo_tcp_seg_t plain, tagged;
    memset (&plain, 0, sizeof plain);
    memset (&tagged, 0, sizeof tagged);
    int plain_took = len <= UINT32_MAX
                     && (v6 ? colo_packet_tcp6_plain (&plain, frame, (uint32_t) len)
                            : colo_packet_tcp4_plain (&plain, frame, (uint32_t) len));
    int tagged_took = len <= UINT32_MAX
                      && colo_packet_tcp_plain_tagged (&tagged, frame, (uint32_t) len)
                      && colo_get_be16 (frame + 16)
                             == (v6 ? COLO_ETHERTYPE_IPV6 : COLO_ETHERTYPE_IPV4);
    uint32_t doff = took ? seg.payload_off - seg.l4_off : 0;
    int plain_opts
        = took
          && (doff == 20
              || (doff == 32 && colo_get_be32 (frame + seg.l4_off + 20) == 0x0101080au));
    if (plain_took != (plain_opts && seg.l3_off == 14))
        return "which frames the plain decoder takes";
    if (tagged_took != (plain_opts && seg.l3_off == 18))
        return "which frames the tagged plain decoder takes";
    if (plain_took && !colo_test_seg_equal (&plain, &seg))
        return "the plain decoder's fields";
    if (tagged_took && !colo_test_seg_equal (&tagged, &seg))
        return "the tagged plain decoder's fields";
    if (!took)
        return NULL;
    uint32_t l3 = 14 + 4 * pkt.vlan_count;
    if (pkt.l3_off != l3 || pkt.src_off != l3 + (v6 ? 8 : 12)
        || pkt.dst_off != l3 + (v6 ? 24 : 16) || pkt.l4_off != l3 + (v6 ? 40 : 20))
        return "offsets";
    if (seg.l3_off != pkt.l3_off
        || seg.vlan != (pkt.vlan_count ? (pkt.vlan_tci[0] & 0x0fff) : 0))
        return "tag";
    if (seg.seq != pkt.tcp_seq || seg.ack != pkt.tcp_ack || seg.flags != pkt.tcp_flags
        || seg.window != pkt.tcp_window || seg.sport != pkt.sport || seg.dport != pkt.dport)
        return "header fields";
    if (seg.payload_off != pkt.payload_off || seg.payload_len != pkt.payload_len)
        return "payload";
    if (seg.wscale != pkt.tcp_wscale)
        return "window scale";
    if (seg.info != pkt.info)
        return "informational findings";
    if (seg.l4_off != pkt.l4_off)
        return "offsets";
    colo_flow_key_t key;
    uint64_t hash = 1;
    colo_flow_key_hash_tcp (&key, &hash, frame, &seg, COLO_TEST_KEY_SEED);
    return colo_test_key_differs (&pkt, frame, &key, hash);
}

static inline const char *
colo_test_tcp4_differs (const uint8_t *frame, size_t len)
{
    return colo_test_light_differs (frame, len, 0);
}

static inline const char *
colo_test_tcp6_differs (const uint8_t *frame, size_t len)
{
    return colo_test_light_differs (frame, len, 1);
}

//  NULL if colo_packet_udp takes frame exactly when colo_packet_decode finds
//  a UDP datagram in IPv4 without options, not a fragment, or in IPv6
//  without extension headers, untagged or in one VLAN tag, and then gives
//  the same values (and colo_flow_key_hash_udp the same key and hash); else
//  what differs.
static inline const char *
colo_test_udp_differs (const uint8_t *frame, size_t len)
{
    colo_udp_seg_t seg;
    colo_packet_t pkt;
    int took = colo_packet_udp (&seg, frame, len);
    colo_pkt_result_t rc = colo_packet_decode (&pkt, frame, len, NULL);
    int v6 = pkt.l3 == COLO_L3_IPV6;
    int shape = rc == COLO_PKT_OK && (pkt.l3 == COLO_L3_IPV4 || v6) && pkt.l4 == COLO_L4_UDP
                && pkt.vlan_count <= 1 && pkt.l3_hdr_len == (v6 ? 40u : 20u)
                && !pkt.is_fragment;
    if (took != shape)
        return "which frames are taken";
    if (!took)
        return NULL;
    uint32_t l3 = 14 + 4 * pkt.vlan_count;
    if (pkt.l3_off != l3 || seg.l3_off != l3 || pkt.l4_off != l3 + (v6 ? 40 : 20)
        || seg.l4_off != pkt.l4_off)
        return "offsets";
    if (seg.vlan != (pkt.vlan_count ? (pkt.vlan_tci[0] & 0x0fff) : 0))
        return "tag";
    if (seg.sport != pkt.sport || seg.dport != pkt.dport)
        return "header fields";
    if (seg.payload_off != pkt.payload_off || seg.payload_len != pkt.payload_len)
        return "payload";
    if (seg.info != pkt.info)
        return "informational findings";
    colo_flow_key_t key;
    uint64_t hash = 1;
    colo_flow_key_hash_udp (&key, &hash, frame, &seg, COLO_TEST_KEY_SEED);
    return colo_test_key_differs (&pkt, frame, &key, hash);
}

#endif
