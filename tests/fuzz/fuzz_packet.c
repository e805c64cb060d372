/*  fuzz_packet.c - libFuzzer target for the packet decoder, flow key and checksums.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  The input is one Ethernet frame.  Besides "no crash, no read outside the
 *  frame" (ASan), it checks the extents promised by colo_packet.h, that the
 *  counters match the result, that decoding is deterministic and does not
 *  depend on checksum fields, that the decoder's shortcut for plain IPv4
 *  TCP gives exactly what its general path gives, that the light decoders
 *  (colo_packet_tcp4, _tcp6, _udp) take exactly the frames of their shape
 *  and find what the decoder finds, and that after
 *  colo_csum_fix the checksums verify and survive an incremental update.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo_csum.h"
#include "colo_packet.h"
#include "../unit/tcp_check.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define S_CHECK(cond)                                                          \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf (stderr, "fuzz_packet: %s:%d: check failed: %s\n",         \
                     __FILE__, __LINE__, #cond);                               \
            abort ();                                                          \
        }                                                                      \
    } while (0)

static void
s_check_extents (const colo_packet_t *pkt, colo_pkt_result_t rc, size_t size)
{
    S_CHECK (pkt->frame_len == size);
    S_CHECK (rc == COLO_PKT_OK
             || (rc >= COLO_PKT_ERR_FIRST && rc < COLO_PKT_COUNTER_COUNT));
    S_CHECK (pkt->vlan_count <= COLO_VLAN_MAX);
    if (pkt->l3 != COLO_L3_NONE) {
        S_CHECK (pkt->l3_off == 14u + 4u * pkt->vlan_count);
        S_CHECK (pkt->l3_off <= pkt->l3_end);
        S_CHECK (pkt->l3_end <= pkt->frame_len);
        S_CHECK (pkt->l3_hdr_len <= pkt->l3_end - pkt->l3_off);
        S_CHECK (pkt->trailer_len == pkt->frame_len - pkt->l3_end);
        S_CHECK (pkt->payload_off >= pkt->l3_off);
        S_CHECK (pkt->payload_off <= pkt->l3_end);
        S_CHECK (pkt->payload_len <= pkt->l3_end - pkt->payload_off);
    }
    else {
        S_CHECK (rc != COLO_PKT_OK);
        S_CHECK (pkt->l3_end == 0 && pkt->payload_len == 0);
    }
    if (pkt->l3 == COLO_L3_IPV4 || pkt->l3 == COLO_L3_IPV6) {
        S_CHECK (pkt->addr_len == (pkt->l3 == COLO_L3_IPV4 ? 4u : 16u));
        S_CHECK (pkt->src_off + pkt->addr_len <= pkt->l3_end);
        S_CHECK (pkt->dst_off + pkt->addr_len <= pkt->l3_end);
        S_CHECK (pkt->is_first_fragment || pkt->is_fragment);
    }
    if (rc != COLO_PKT_OK) {
        S_CHECK (pkt->l4 == COLO_L4_NONE);
        return;
    }
    switch (pkt->l4) {
        case COLO_L4_TCP:
            S_CHECK (pkt->l4_hdr_len >= 20 && pkt->l4_hdr_len <= 60);
            S_CHECK (pkt->payload_off + pkt->payload_len == pkt->l3_end);
            if (pkt->tcp_has_ts)
                S_CHECK (pkt->tcp_ts_off > pkt->l4_off
                         && pkt->tcp_ts_off + 8 <= pkt->payload_off);
            else
                S_CHECK (pkt->tcp_ts_off == 0);
            S_CHECK (pkt->tcp_sack_count <= COLO_TCP_SACK_MAX);
            if (pkt->tcp_sack_count)
                S_CHECK (pkt->tcp_sack_off > pkt->l4_off
                         && pkt->tcp_sack_off + 8u * pkt->tcp_sack_count
                                <= pkt->payload_off);
            else
                S_CHECK (pkt->tcp_sack_off == 0);
            /* fall through */
        case COLO_L4_UDP:
        case COLO_L4_ICMP:
        case COLO_L4_ICMPV6:
            S_CHECK (pkt->l4_off >= pkt->l3_off + pkt->l3_hdr_len);
            S_CHECK (pkt->l4_off + pkt->l4_hdr_len == pkt->payload_off);
            S_CHECK (pkt->is_first_fragment);
            break;
        case COLO_L4_NONE:
        case COLO_L4_OTHER:
            S_CHECK (pkt->l4_hdr_len == 0);
            if (pkt->l3 == COLO_L3_IPV4 || pkt->l3 == COLO_L3_IPV6)
                S_CHECK (pkt->payload_off == pkt->l4_off
                         && pkt->payload_off + pkt->payload_len == pkt->l3_end);
            break;
    }
    if (pkt->l4 != COLO_L4_TCP)
        S_CHECK (pkt->tcp_wscale == 0xff && pkt->tcp_ts_off == 0
                 && pkt->tcp_sack_off == 0 && pkt->tcp_mss == 0);
}

static void
s_check_csum (const colo_packet_t *pkt, const uint8_t *data, size_t size)
{
    int expected = colo_csum_l4_expected (pkt, data);
    S_CHECK (expected >= -1 && expected <= 0xffff);
    int verdict = colo_csum_l4_verify (pkt, data);
    S_CHECK ((expected < 0) == (verdict < 0));
    if (size == 0)
        return;
    uint8_t *copy = malloc (size);
    if (!copy)
        return;
    memcpy (copy, data, size);
    int fixed = colo_csum_fix (pkt, copy);
    if (fixed == 0) {
        //  Only checksum fields changed, so the frame decodes the same.
        colo_packet_t again;
        colo_pkt_result_t rc = colo_packet_decode (&again, copy, size, NULL);
        S_CHECK (rc == COLO_PKT_OK || rc >= COLO_PKT_ERR_FIRST);
        S_CHECK (memcmp (&again, pkt, sizeof again) == 0);
        if (pkt->l3 == COLO_L3_IPV4)
            S_CHECK (colo_csum_ipv4_header (copy + pkt->l3_off,
                                            pkt->l3_hdr_len)
                     == colo_get_be16 (copy + pkt->l3_off + 10));
        if (expected >= 0) {
            S_CHECK (colo_csum_l4_verify (pkt, copy) == 1);
            S_CHECK (colo_csum_l4_expected (pkt, copy) == expected);
        }
        //  An incremental change of the TCP sequence number keeps it right.
        if (pkt->l4 == COLO_L4_TCP && expected >= 0) {
            uint8_t *seq = copy + pkt->l4_off + 4;
            uint32_t old = colo_get_be32 (seq);
            uint32_t nv = old * 2654435761u + 12345;
            colo_put_be32 (seq, nv);
            uint8_t *field = copy + colo_csum_l4_field (pkt);
            colo_csum_update32 (field, old, nv);
            S_CHECK (colo_get_be16 (field) == colo_csum_l4_expected (pkt, copy));
        }
    }
    else
        S_CHECK (expected < 0 && pkt->l3 != COLO_L3_IPV4);
    free (copy);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    colo_packet_t pkt, plain;
    uint64_t counters[COLO_PKT_COUNTER_COUNT] = {0};
    colo_pkt_result_t rc = colo_packet_decode (&pkt, data, size, counters);
    s_check_extents (&pkt, rc, size);

    //  Counters: the result once, each informational finding once.
    S_CHECK (counters[rc] == 1);
    for (int i = COLO_PKT_INFO_FRAGMENT; i < COLO_PKT_ERR_FIRST; i++)
        S_CHECK (counters[i] == ((pkt.info >> i) & 1u));
    for (int i = COLO_PKT_ERR_FIRST; i < COLO_PKT_COUNTER_COUNT; i++)
        S_CHECK (counters[i] == (i == (int) rc));
    S_CHECK (colo_packet_result_name (rc) == colo_packet_counter_names[rc]);

    //  Deterministic, with or without counters.
    S_CHECK (colo_packet_decode (&plain, data, size, NULL) == rc);
    S_CHECK (memcmp (&plain, &pkt, sizeof pkt) == 0);
    //  The one-pass shortcut decodes exactly as the general path.
    S_CHECK (colo_packet_decode_general (&plain, data, size) == rc);
    S_CHECK (memcmp (&plain, &pkt, sizeof pkt) == 0);
    //  The light decoders take the frames of their shape, and find the same.
    S_CHECK (colo_test_tcp4_differs (data, size) == NULL);
    S_CHECK (colo_test_tcp6_differs (data, size) == NULL);
    S_CHECK (colo_test_udp_differs (data, size) == NULL);

    colo_flow_key_t key;
    int reversed = -1;
    if (colo_flow_key (&key, &pkt, data, &reversed) == 0) {
        S_CHECK (reversed == 0 || reversed == 1);
        S_CHECK (key.family == 4 || key.family == 6);
        S_CHECK (memcmp (key.addr_lo, key.addr_hi, sizeof key.addr_lo) < 0
                 || (memcmp (key.addr_lo, key.addr_hi, sizeof key.addr_lo)
                         == 0
                     && key.port_lo <= key.port_hi));
        (void) colo_flow_hash (&key, 0x0123456789abcdefULL);
        char text[128];
        colo_flow_key_str (&key, text, sizeof text);
        S_CHECK (strlen (text) < sizeof text);
    }
    else
        S_CHECK (reversed == 0);

    s_check_csum (&pkt, data, size);
    return 0;
}
