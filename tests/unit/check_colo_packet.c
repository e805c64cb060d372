/*  check_colo_packet.c - tests for the packet decoder and the flow key.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  The literal frames were built by a small script with an independent
 *  checksum implementation (addresses 10.0.0.1/2, 2001:db8::1/2, MACs
 *  52:54:00:12:34:56 and 52:54:00:65:43:21).  Malformed frames are the good
 *  ones with one field broken.  Every frame is decoded from a heap copy of
 *  exactly its length, so the sanitizer build catches any read past it.
 */
#include <check.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "colo_csum.h"
#include "colo_packet.h"
#include "colo_test.h"
#include "tcp_check.h"
#include "test_frames.h"

//  v4_frag_second (66 bytes)
static const uint8_t s_v4_frag_second[] = {
    0x52, 0x54, 0x00, 0x65, 0x43, 0x21, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x34, 0x00, 0x63, 0x00, 0x02, 0x40, 0x11,
    0x66, 0x52, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0x08, 0x09,
    0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
    0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21,
    0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
};

//  v6_frag_later (86 bytes)
static const uint8_t s_v6_frag_later[] = {
    0x52, 0x54, 0x00, 0x65, 0x43, 0x21, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
    0x86, 0xdd, 0x60, 0x01, 0x23, 0x45, 0x00, 0x20, 0x2c, 0x40, 0x20, 0x01,
    0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x11, 0x00, 0x00, 0x18, 0x00, 0x00,
    0xab, 0xcd, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19,
    0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25,
    0x26, 0x27,
};

//  v6_esp (78 bytes)
static const uint8_t s_v6_esp[] = {
    0x52, 0x54, 0x00, 0x65, 0x43, 0x21, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
    0x86, 0xdd, 0x60, 0x01, 0x23, 0x45, 0x00, 0x18, 0x32, 0x40, 0x20, 0x01,
    0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
    0x00, 0x01, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
    0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
};

//  v6_nonext (62 bytes)
static const uint8_t s_v6_nonext[] = {
    0x52, 0x54, 0x00, 0x65, 0x43, 0x21, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
    0x86, 0xdd, 0x60, 0x01, 0x23, 0x45, 0x00, 0x08, 0x00, 0x40, 0x20, 0x01,
    0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x3b, 0x00, 0x01, 0x04, 0x00, 0x00,
    0x00, 0x00,
};

//  v4_gre (46 bytes)
static const uint8_t s_v4_gre[] = {
    0x52, 0x54, 0x00, 0x65, 0x43, 0x21, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x20, 0x12, 0x34, 0x40, 0x00, 0x40, 0x2f,
    0x14, 0x79, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0x00, 0x00,
    0x08, 0x00, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78,
};

typedef struct {
    const char *name;
    const uint8_t *data;
    size_t len;
} s_frame_t;

#define S_FRAME(x) {#x, s_##x, sizeof (s_##x)}
static const s_frame_t s_frames[] = {
    S_FRAME (v4_tcp_syn),    S_FRAME (v4_tcp_sack),    S_FRAME (v4_udp),
    S_FRAME (v4_icmp_echo),  S_FRAME (v4_icmp_unreach), S_FRAME (v6_tcp_ext),
    S_FRAME (v6_udp),        S_FRAME (v6_icmp_echo),   S_FRAME (v6_icmp_ns),
    S_FRAME (arp_req),       S_FRAME (vlan_v4_tcp),    S_FRAME (qinq_v4_udp),
    S_FRAME (v4_ack_padded), S_FRAME (v4_frag_first),  S_FRAME (v4_frag_second),
    S_FRAME (v6_frag_first), S_FRAME (v6_frag_later),  S_FRAME (v6_ah_icmp),
    S_FRAME (v6_esp),        S_FRAME (v6_nonext),      S_FRAME (v4_gre),
};
#define S_NFRAMES (sizeof (s_frames) / sizeof (s_frames[0]))

//  Decode from a heap copy of exactly len bytes (ASan sees any overread).
static colo_pkt_result_t
s_decode (colo_packet_t *pkt, const uint8_t *data, size_t len,
          uint64_t *counters)
{
    uint8_t *copy = malloc (len ? len : 1);
    ck_assert_ptr_nonnull (copy);
    if (len)
        memcpy (copy, data, len);
    colo_pkt_result_t rc = colo_packet_decode (pkt, copy, len, counters);
    free (copy);
    return rc;
}

//  The layer extents promised by colo_packet.h.
static void
s_check_invariants (const colo_packet_t *pkt, colo_pkt_result_t rc, size_t len)
{
    ck_assert_uint_eq (pkt->frame_len, len);
    ck_assert (rc == COLO_PKT_OK || rc >= COLO_PKT_ERR_FIRST);
    ck_assert (rc < COLO_PKT_COUNTER_COUNT);
    if (pkt->l3 != COLO_L3_NONE) {
        ck_assert_uint_eq (pkt->l3_off, 14 + 4 * pkt->vlan_count);
        ck_assert_uint_le (pkt->l3_off, pkt->l3_end);
        ck_assert_uint_le (pkt->l3_end, len);
        ck_assert_uint_le (pkt->l3_off + pkt->l3_hdr_len, pkt->l3_end);
        ck_assert_uint_eq (pkt->trailer_len, len - pkt->l3_end);
        ck_assert_uint_ge (pkt->payload_off, pkt->l3_off);
        ck_assert_uint_le (pkt->payload_off + pkt->payload_len, pkt->l3_end);
    }
    if (rc != COLO_PKT_OK) {
        ck_assert (pkt->l4 == COLO_L4_NONE);
        if (pkt->l3 == COLO_L3_NONE) {
            ck_assert_uint_eq (pkt->payload_len, 0);
            ck_assert_uint_eq (pkt->l3_end, 0);
        }
        return;
    }
    ck_assert (pkt->l3 != COLO_L3_NONE);
    ck_assert_uint_le (pkt->vlan_count, COLO_VLAN_MAX);
    ck_assert_uint_ge (pkt->payload_off, pkt->l3_off);
    ck_assert_uint_le (pkt->payload_off + pkt->payload_len, pkt->l3_end);
    ck_assert_uint_eq (!!(pkt->info & (1u << COLO_PKT_INFO_PADDING)),
                       pkt->trailer_len > 0);
    if (pkt->l3 == COLO_L3_IPV4 || pkt->l3 == COLO_L3_IPV6) {
        ck_assert_uint_eq (pkt->addr_len, pkt->l3 == COLO_L3_IPV4 ? 4 : 16);
        ck_assert_uint_le (pkt->src_off + pkt->addr_len, pkt->l3_end);
        ck_assert_uint_le (pkt->dst_off + pkt->addr_len, pkt->l3_end);
        ck_assert_uint_ge (pkt->l4_off, pkt->l3_off + pkt->l3_hdr_len);
    }
    else
        ck_assert_uint_eq (pkt->addr_len, 0);
    switch (pkt->l4) {
        case COLO_L4_TCP:
        case COLO_L4_UDP:
        case COLO_L4_ICMP:
        case COLO_L4_ICMPV6:
            ck_assert_uint_eq (pkt->l4_off + pkt->l4_hdr_len, pkt->payload_off);
            break;
        case COLO_L4_NONE:
        case COLO_L4_OTHER:
            ck_assert_uint_eq (pkt->l4_hdr_len, 0);
            if (pkt->l3 == COLO_L3_IPV4 || pkt->l3 == COLO_L3_IPV6) {
                ck_assert_uint_eq (pkt->l4_off, pkt->payload_off);
                ck_assert_uint_eq (pkt->payload_off + pkt->payload_len,
                                   pkt->l3_end);
            }
            break;
    }
    if (pkt->l4 == COLO_L4_TCP) {
        if (pkt->tcp_has_ts)
            ck_assert_uint_le (pkt->tcp_ts_off + 8, pkt->payload_off);
        else
            ck_assert_uint_eq (pkt->tcp_ts_off, 0);
        if (pkt->tcp_sack_count)
            ck_assert_uint_le (pkt->tcp_sack_off + 8 * pkt->tcp_sack_count,
                               pkt->payload_off);
        ck_assert_uint_le (pkt->tcp_sack_count, COLO_TCP_SACK_MAX);
    }
    else {
        ck_assert_uint_eq (pkt->tcp_ts_off, 0);
        ck_assert_uint_eq (pkt->tcp_sack_off, 0);
        ck_assert_uint_eq (pkt->tcp_wscale, 0xff);
    }
}

static colo_pkt_result_t
s_decode_checked (colo_packet_t *pkt, const uint8_t *data, size_t len)
{
    colo_pkt_result_t rc = s_decode (pkt, data, len, NULL);
    s_check_invariants (pkt, rc, len);
    return rc;
}

//  ------------------------------------------------------------ good frames

START_TEST (test_v4_tcp_syn)
{
    colo_packet_t pkt;
    uint64_t counters[COLO_PKT_COUNTER_COUNT] = {0};
    ck_assert_int_eq (s_decode (&pkt, s_v4_tcp_syn, sizeof s_v4_tcp_syn,
                                counters),
                      COLO_PKT_OK);
    s_check_invariants (&pkt, COLO_PKT_OK, sizeof s_v4_tcp_syn);
    ck_assert_uint_eq (counters[COLO_PKT_OK], 1);
    for (int i = 1; i < COLO_PKT_COUNTER_COUNT; i++)
        ck_assert_uint_eq (counters[i], 0);
    ck_assert_uint_eq (pkt.frame_len, 82);
    ck_assert_uint_eq (pkt.info, 0);
    ck_assert_uint_eq (pkt.ethertype, COLO_ETHERTYPE_IPV4);
    ck_assert_uint_eq (pkt.vlan_count, 0);
    ck_assert_uint_eq (pkt.l3_off, 14);
    ck_assert_int_eq (pkt.l3, COLO_L3_IPV4);
    ck_assert_uint_eq (pkt.l3_hdr_len, 28);
    ck_assert_uint_eq (pkt.l3_end, 82);
    ck_assert_uint_eq (pkt.trailer_len, 0);
    ck_assert_uint_eq (pkt.ip_proto, COLO_IPPROTO_TCP);
    ck_assert_uint_eq (pkt.ip_ttl, 64);
    ck_assert_uint_eq (pkt.ip_tos, 0x10);
    ck_assert_uint_eq (pkt.is_fragment, 0);
    ck_assert_uint_eq (pkt.is_first_fragment, 1);
    ck_assert_uint_eq (pkt.ipv4_id, 0x4242);
    ck_assert_uint_eq (pkt.ipv6_flow, 0);
    ck_assert_uint_eq (pkt.addr_len, 4);
    ck_assert_uint_eq (pkt.src_off, 26);
    ck_assert_uint_eq (pkt.dst_off, 30);
    ck_assert_uint_eq (pkt.ipv4_opts_len, 8);
    ck_assert_int_eq (pkt.l4, COLO_L4_TCP);
    ck_assert_uint_eq (pkt.l4_off, 42);
    ck_assert_uint_eq (pkt.l4_hdr_len, 40);
    ck_assert_uint_eq (pkt.payload_off, 82);
    ck_assert_uint_eq (pkt.payload_len, 0);
    ck_assert_uint_eq (pkt.sport, 40000);
    ck_assert_uint_eq (pkt.dport, 80);
    ck_assert_uint_eq (pkt.tcp_seq, 0x01020304);
    ck_assert_uint_eq (pkt.tcp_ack, 0);
    ck_assert_uint_eq (pkt.tcp_flags, COLO_TCP_SYN);
    ck_assert_uint_eq (pkt.tcp_window, 64240);
    ck_assert_uint_eq (pkt.tcp_urg, 0);
    ck_assert_uint_eq (pkt.tcp_mss, 1460);
    ck_assert_uint_eq (pkt.tcp_wscale, 7);
    ck_assert_uint_eq (pkt.tcp_sack_permitted, 1);
    ck_assert_uint_eq (pkt.tcp_has_ts, 1);
    ck_assert_uint_eq (pkt.tcp_ts_val, 0x11223344);
    ck_assert_uint_eq (pkt.tcp_ts_ecr, 0);
    ck_assert_uint_eq (pkt.tcp_ts_off, 70);
    ck_assert_uint_eq (colo_get_be32 (s_v4_tcp_syn + pkt.tcp_ts_off),
                       0x11223344);
    ck_assert_uint_eq (pkt.tcp_sack_count, 0);
    ck_assert_uint_eq (pkt.tcp_sack_off, 0);
    ck_assert_uint_eq (pkt.icmp_type, 0);
    ck_assert_uint_eq (pkt.icmp_id, 0);
    ck_assert_uint_eq (pkt.arp_op, 0);
}
END_TEST

START_TEST (test_v4_tcp_sack)
{
    colo_packet_t pkt;
    ck_assert_int_eq (s_decode_checked (&pkt, s_v4_tcp_sack,
                                        sizeof s_v4_tcp_sack),
                      COLO_PKT_OK);
    ck_assert_uint_eq (pkt.l3_hdr_len, 20);
    ck_assert_uint_eq (pkt.ipv4_opts_len, 0);
    ck_assert_uint_eq (pkt.ipv4_id, 7);
    ck_assert_uint_eq (pkt.src_off, 26);
    ck_assert_uint_eq (s_v4_tcp_sack[pkt.src_off + 3], 2);   //  10.0.0.2
    ck_assert_int_eq (pkt.l4, COLO_L4_TCP);
    ck_assert_uint_eq (pkt.l4_off, 34);
    ck_assert_uint_eq (pkt.l4_hdr_len, 52);
    ck_assert_uint_eq (pkt.payload_off, 86);
    ck_assert_uint_eq (pkt.payload_len, 5);
    ck_assert_int_eq (memcmp (s_v4_tcp_sack + pkt.payload_off, "hello", 5), 0);
    ck_assert_uint_eq (pkt.sport, 80);
    ck_assert_uint_eq (pkt.dport, 40000);
    ck_assert_uint_eq (pkt.tcp_seq, 0xfffffff0);
    ck_assert_uint_eq (pkt.tcp_ack, 0x01020305);
    ck_assert_uint_eq (pkt.tcp_flags, COLO_TCP_PSH | COLO_TCP_ACK);
    ck_assert_uint_eq (pkt.tcp_window, 501);
    ck_assert_uint_eq (pkt.tcp_mss, 0);
    ck_assert_uint_eq (pkt.tcp_wscale, 0xff);
    ck_assert_uint_eq (pkt.tcp_sack_permitted, 0);
    ck_assert_uint_eq (pkt.tcp_has_ts, 1);
    ck_assert_uint_eq (pkt.tcp_ts_val, 1000);
    ck_assert_uint_eq (pkt.tcp_ts_ecr, 2000);
    ck_assert_uint_eq (pkt.tcp_ts_off, 58);
    ck_assert_uint_eq (pkt.tcp_sack_count, 2);
    ck_assert_uint_eq (pkt.tcp_sack_off, 70);
    ck_assert_uint_eq (pkt.tcp_sack[0][0], 5000);
    ck_assert_uint_eq (pkt.tcp_sack[0][1], 6000);
    ck_assert_uint_eq (pkt.tcp_sack[1][0], 7000);
    ck_assert_uint_eq (pkt.tcp_sack[1][1], 8000);
    ck_assert_uint_eq (pkt.tcp_sack[2][0], 0);
    ck_assert_uint_eq (pkt.tcp_sack[3][1], 0);
    ck_assert_uint_eq (colo_get_be32 (s_v4_tcp_sack + pkt.tcp_sack_off + 12),
                       8000);
}
END_TEST

START_TEST (test_v4_udp_icmp)
{
    colo_packet_t pkt;
    ck_assert_int_eq (s_decode_checked (&pkt, s_v4_udp, sizeof s_v4_udp),
                      COLO_PKT_OK);
    ck_assert_int_eq (pkt.l4, COLO_L4_UDP);
    ck_assert_uint_eq (pkt.ip_proto, COLO_IPPROTO_UDP);
    ck_assert_uint_eq (pkt.l4_off, 34);
    ck_assert_uint_eq (pkt.l4_hdr_len, 8);
    ck_assert_uint_eq (pkt.payload_off, 42);
    ck_assert_uint_eq (pkt.payload_len, 8);
    ck_assert_uint_eq (pkt.sport, 5353);
    ck_assert_uint_eq (pkt.dport, 53);
    ck_assert_uint_eq (pkt.tcp_seq, 0);
    ck_assert_uint_eq (pkt.tcp_wscale, 0xff);

    ck_assert_int_eq (s_decode_checked (&pkt, s_v4_icmp_echo,
                                        sizeof s_v4_icmp_echo),
                      COLO_PKT_OK);
    ck_assert_int_eq (pkt.l4, COLO_L4_ICMP);
    ck_assert_uint_eq (pkt.l4_off, 34);
    ck_assert_uint_eq (pkt.l4_hdr_len, 8);
    ck_assert_uint_eq (pkt.payload_off, 42);
    ck_assert_uint_eq (pkt.payload_len, 16);
    ck_assert_uint_eq (pkt.icmp_type, 8);
    ck_assert_uint_eq (pkt.icmp_code, 0);
    ck_assert_uint_eq (pkt.icmp_id, 0x77);
    ck_assert_uint_eq (pkt.icmp_seq, 3);
    ck_assert_uint_eq (pkt.sport, 0);

    ck_assert_int_eq (s_decode_checked (&pkt, s_v4_icmp_unreach,
                                        sizeof s_v4_icmp_unreach),
                      COLO_PKT_OK);
    ck_assert_int_eq (pkt.l4, COLO_L4_ICMP);
    ck_assert_uint_eq (pkt.icmp_type, 3);
    ck_assert_uint_eq (pkt.icmp_code, 3);
    ck_assert_uint_eq (pkt.icmp_id, 0);
    ck_assert_uint_eq (pkt.icmp_seq, 0);
    ck_assert_uint_eq (pkt.l4_hdr_len, 4);
    ck_assert_uint_eq (pkt.payload_off, 38);
    ck_assert_uint_eq (pkt.payload_len, 32);

    ck_assert_int_eq (s_decode_checked (&pkt, s_v4_gre, sizeof s_v4_gre),
                      COLO_PKT_OK);
    ck_assert_int_eq (pkt.l4, COLO_L4_OTHER);
    ck_assert_uint_eq (pkt.ip_proto, 47);
    ck_assert_uint_eq (pkt.l4_off, 34);
    ck_assert_uint_eq (pkt.payload_off, 34);
    ck_assert_uint_eq (pkt.payload_len, 12);
}
END_TEST

START_TEST (test_v6_tcp_ext)
{
    colo_packet_t pkt;
    ck_assert_int_eq (s_decode_checked (&pkt, s_v6_tcp_ext,
                                        sizeof s_v6_tcp_ext),
                      COLO_PKT_OK);
    ck_assert_uint_eq (pkt.ethertype, COLO_ETHERTYPE_IPV6);
    ck_assert_int_eq (pkt.l3, COLO_L3_IPV6);
    ck_assert_uint_eq (pkt.l3_off, 14);
    ck_assert_uint_eq (pkt.l3_hdr_len, 80);   //  40 + HBH 8 + RH 24 + DO 8
    ck_assert_uint_eq (pkt.l3_end, 142);
    ck_assert_uint_eq (pkt.trailer_len, 0);
    ck_assert_uint_eq (pkt.ip_proto, COLO_IPPROTO_TCP);
    ck_assert_uint_eq (pkt.ip_ttl, 64);
    ck_assert_uint_eq (pkt.ip_tos, 0xb8);
    ck_assert_uint_eq (pkt.ipv6_flow, 0x12345);
    ck_assert_uint_eq (pkt.ipv4_id, 0);
    ck_assert_uint_eq (pkt.addr_len, 16);
    ck_assert_uint_eq (pkt.src_off, 22);
    ck_assert_uint_eq (pkt.dst_off, 38);
    ck_assert_uint_eq (pkt.is_fragment, 0);
    ck_assert_uint_eq (pkt.is_first_fragment, 1);
    ck_assert_int_eq (pkt.l4, COLO_L4_TCP);
    ck_assert_uint_eq (pkt.l4_off, 94);
    ck_assert_uint_eq (pkt.l4_hdr_len, 32);
    ck_assert_uint_eq (pkt.payload_off, 126);
    ck_assert_uint_eq (pkt.payload_len, 16);
    ck_assert_int_eq (memcmp (s_v6_tcp_ext + 126, "GET / HTTP/1.0\r\n", 16), 0);
    ck_assert_uint_eq (pkt.sport, 443);
    ck_assert_uint_eq (pkt.dport, 51000);
    ck_assert_uint_eq (pkt.tcp_seq, 100);
    ck_assert_uint_eq (pkt.tcp_ack, 200);
    ck_assert_uint_eq (pkt.tcp_window, 1024);
    ck_assert_uint_eq (pkt.tcp_has_ts, 1);
    ck_assert_uint_eq (pkt.tcp_ts_val, 1);
    ck_assert_uint_eq (pkt.tcp_ts_ecr, 2);
    ck_assert_uint_eq (pkt.tcp_ts_off, 116);
}
END_TEST

START_TEST (test_v6_udp_icmp)
{
    colo_packet_t pkt;
    ck_assert_int_eq (s_decode_checked (&pkt, s_v6_udp, sizeof s_v6_udp),
                      COLO_PKT_OK);
    ck_assert_int_eq (pkt.l4, COLO_L4_UDP);
    ck_assert_uint_eq (pkt.l3_hdr_len, 40);
    ck_assert_uint_eq (pkt.l4_off, 54);
    ck_assert_uint_eq (pkt.payload_off, 62);
    ck_assert_uint_eq (pkt.payload_len, 10);
    ck_assert_uint_eq (pkt.sport, 546);
    ck_assert_uint_eq (pkt.dport, 547);

    ck_assert_int_eq (s_decode_checked (&pkt, s_v6_icmp_echo,
                                        sizeof s_v6_icmp_echo),
                      COLO_PKT_OK);
    ck_assert_int_eq (pkt.l4, COLO_L4_ICMPV6);
    ck_assert_uint_eq (pkt.ip_proto, COLO_IPPROTO_ICMPV6);
    ck_assert_uint_eq (pkt.icmp_type, 128);
    ck_assert_uint_eq (pkt.icmp_id, 0x1234);
    ck_assert_uint_eq (pkt.icmp_seq, 1);
    ck_assert_uint_eq (pkt.l4_hdr_len, 8);
    ck_assert_uint_eq (pkt.payload_off, 62);
    ck_assert_uint_eq (pkt.payload_len, 5);

    ck_assert_int_eq (s_decode_checked (&pkt, s_v6_icmp_ns,
                                        sizeof s_v6_icmp_ns),
                      COLO_PKT_OK);
    ck_assert_int_eq (pkt.l4, COLO_L4_ICMPV6);
    ck_assert_uint_eq (pkt.icmp_type, 135);
    ck_assert_uint_eq (pkt.icmp_id, 0);
    ck_assert_uint_eq (pkt.ip_ttl, 255);
    ck_assert_uint_eq (pkt.l4_hdr_len, 4);
    ck_assert_uint_eq (pkt.payload_off, 58);
    ck_assert_uint_eq (pkt.payload_len, 28);

    //  AH: length in 4-byte units + 2
    ck_assert_int_eq (s_decode_checked (&pkt, s_v6_ah_icmp,
                                        sizeof s_v6_ah_icmp),
                      COLO_PKT_OK);
    ck_assert_uint_eq (pkt.l3_hdr_len, 64);
    ck_assert_int_eq (pkt.l4, COLO_L4_ICMPV6);
    ck_assert_uint_eq (pkt.l4_off, 78);
    ck_assert_uint_eq (pkt.icmp_type, 129);
    ck_assert_uint_eq (pkt.icmp_id, 9);
    ck_assert_uint_eq (pkt.icmp_seq, 10);
    ck_assert_uint_eq (pkt.payload_off, 86);
    ck_assert_uint_eq (pkt.payload_len, 0);
}
END_TEST

START_TEST (test_v6_esp_nonext)
{
    colo_packet_t pkt;
    ck_assert_int_eq (s_decode_checked (&pkt, s_v6_esp, sizeof s_v6_esp),
                      COLO_PKT_OK);
    ck_assert_int_eq (pkt.l3, COLO_L3_IPV6);
    ck_assert_int_eq (pkt.l4, COLO_L4_NONE);
    ck_assert_uint_eq (pkt.ip_proto, 50);
    ck_assert_uint_eq (pkt.l3_hdr_len, 40);
    ck_assert_uint_eq (pkt.payload_off, 54);
    ck_assert_uint_eq (pkt.payload_len, 24);

    ck_assert_int_eq (s_decode_checked (&pkt, s_v6_nonext,
                                        sizeof s_v6_nonext),
                      COLO_PKT_OK);
    ck_assert_int_eq (pkt.l4, COLO_L4_NONE);
    ck_assert_uint_eq (pkt.ip_proto, 59);
    ck_assert_uint_eq (pkt.l3_hdr_len, 48);
    ck_assert_uint_eq (pkt.payload_off, 62);
    ck_assert_uint_eq (pkt.payload_len, 0);
}
END_TEST

START_TEST (test_arp)
{
    colo_packet_t pkt;
    uint64_t counters[COLO_PKT_COUNTER_COUNT] = {0};
    ck_assert_int_eq (s_decode (&pkt, s_arp_req, sizeof s_arp_req, counters),
                      COLO_PKT_OK);
    s_check_invariants (&pkt, COLO_PKT_OK, sizeof s_arp_req);
    ck_assert_uint_eq (pkt.ethertype, COLO_ETHERTYPE_ARP);
    ck_assert_int_eq (pkt.l3, COLO_L3_ARP);
    ck_assert_int_eq (pkt.l4, COLO_L4_NONE);
    ck_assert_uint_eq (pkt.arp_op, 1);
    ck_assert_uint_eq (pkt.arp_eth_ipv4, 1);
    ck_assert_uint_eq (pkt.l3_hdr_len, 28);
    ck_assert_uint_eq (pkt.l3_end, 42);
    ck_assert_uint_eq (pkt.trailer_len, 18);
    ck_assert_uint_eq (pkt.payload_off, 42);
    ck_assert_uint_eq (pkt.payload_len, 0);
    ck_assert_uint_eq (pkt.addr_len, 0);
    ck_assert_uint_eq (counters[COLO_PKT_INFO_PADDING], 1);
    ck_assert_uint_eq (counters[COLO_PKT_OK], 1);

    //  Not Ethernet/IPv4 (hardware type 6, 8-byte addresses): op only.
    uint8_t other[14 + 8 + 2 * (8 + 4)];
    memcpy (other, s_arp_req, 14 + 8);
    other[15] = 6;
    other[18] = 8;
    other[21] = 2;
    memset (other + 22, 0xab, sizeof other - 22);
    ck_assert_int_eq (s_decode_checked (&pkt, other, sizeof other),
                      COLO_PKT_OK);
    ck_assert_int_eq (pkt.l3, COLO_L3_ARP);
    ck_assert_uint_eq (pkt.arp_op, 2);
    ck_assert_uint_eq (pkt.arp_eth_ipv4, 0);
    ck_assert_uint_eq (pkt.l3_end, sizeof other);
    ck_assert_int_eq (s_decode_checked (&pkt, other, sizeof other - 1),
                      COLO_PKT_ERR_ARP_TRUNCATED);
    ck_assert_int_eq (pkt.l3, COLO_L3_NONE);
    ck_assert_int_eq (s_decode_checked (&pkt, s_arp_req, 41),
                      COLO_PKT_ERR_ARP_TRUNCATED);
    ck_assert_int_eq (s_decode_checked (&pkt, s_arp_req, 21),
                      COLO_PKT_ERR_ARP_TRUNCATED);
}
END_TEST

START_TEST (test_other_ethertype)
{
    uint8_t f[64];
    memcpy (f, s_v4_udp, 14);
    f[12] = 0x88;   //  LLDP
    f[13] = 0xcc;
    memset (f + 14, 0x5a, sizeof f - 14);
    colo_packet_t pkt;
    ck_assert_int_eq (s_decode_checked (&pkt, f, sizeof f), COLO_PKT_OK);
    ck_assert_uint_eq (pkt.ethertype, 0x88cc);
    ck_assert_int_eq (pkt.l3, COLO_L3_OTHER);
    ck_assert_int_eq (pkt.l4, COLO_L4_NONE);
    ck_assert_uint_eq (pkt.l3_end, 64);
    ck_assert_uint_eq (pkt.trailer_len, 0);
    ck_assert_uint_eq (pkt.payload_off, 14);
    ck_assert_uint_eq (pkt.payload_len, 50);
    ck_assert_int_eq (colo_flow_key (&(colo_flow_key_t) {0}, &pkt, f, NULL),
                      -1);
    //  Exactly an Ethernet header.
    ck_assert_int_eq (s_decode_checked (&pkt, f, 14), COLO_PKT_OK);
    ck_assert_uint_eq (pkt.payload_len, 0);
}
END_TEST

START_TEST (test_vlan)
{
    colo_packet_t pkt;
    ck_assert_int_eq (s_decode_checked (&pkt, s_vlan_v4_tcp,
                                        sizeof s_vlan_v4_tcp),
                      COLO_PKT_OK);
    ck_assert_uint_eq (pkt.vlan_count, 1);
    ck_assert_uint_eq (pkt.vlan_tpid[0], COLO_ETHERTYPE_VLAN);
    ck_assert_uint_eq (pkt.vlan_tci[0], (5 << 13) | 100);
    ck_assert_uint_eq (pkt.vlan_tpid[1], 0);
    ck_assert_uint_eq (pkt.ethertype, COLO_ETHERTYPE_IPV4);
    ck_assert_uint_eq (pkt.l3_off, 18);
    ck_assert_uint_eq (pkt.l4_off, 38);
    ck_assert_uint_eq (pkt.payload_off, 58);
    ck_assert_uint_eq (pkt.payload_len, 0);
    ck_assert_uint_eq (pkt.sport, 1234);
    ck_assert_uint_eq (pkt.tcp_flags, COLO_TCP_ACK);

    ck_assert_int_eq (s_decode_checked (&pkt, s_qinq_v4_udp,
                                        sizeof s_qinq_v4_udp),
                      COLO_PKT_OK);
    ck_assert_uint_eq (pkt.vlan_count, 2);
    ck_assert_uint_eq (pkt.vlan_tpid[0], COLO_ETHERTYPE_QINQ);
    ck_assert_uint_eq (pkt.vlan_tci[0], 200);
    ck_assert_uint_eq (pkt.vlan_tpid[1], COLO_ETHERTYPE_VLAN);
    ck_assert_uint_eq (pkt.vlan_tci[1], 300);
    ck_assert_uint_eq (pkt.l3_off, 22);
    ck_assert_int_eq (pkt.l4, COLO_L4_UDP);
    ck_assert_uint_eq (pkt.payload_off, 50);
    ck_assert_uint_eq (pkt.payload_len, 4);

    //  A third tag is too deep.
    uint8_t deep[sizeof s_qinq_v4_udp + 4];
    memcpy (deep, s_qinq_v4_udp, 20);
    deep[20] = 0x81;
    deep[21] = 0x00;
    deep[22] = 0x01;
    deep[23] = 0x90;
    memcpy (deep + 24, s_qinq_v4_udp + 20, sizeof s_qinq_v4_udp - 20);
    uint64_t counters[COLO_PKT_COUNTER_COUNT] = {0};
    ck_assert_int_eq (s_decode (&pkt, deep, sizeof deep, counters),
                      COLO_PKT_ERR_VLAN_TOO_DEEP);
    s_check_invariants (&pkt, COLO_PKT_ERR_VLAN_TOO_DEEP, sizeof deep);
    ck_assert_uint_eq (counters[COLO_PKT_ERR_VLAN_TOO_DEEP], 1);
    ck_assert_uint_eq (counters[COLO_PKT_OK], 0);
    ck_assert_uint_eq (pkt.vlan_count, 2);
    ck_assert_int_eq (pkt.l3, COLO_L3_NONE);

    //  Tags cut short.
    ck_assert_int_eq (s_decode_checked (&pkt, s_vlan_v4_tcp, 14),
                      COLO_PKT_ERR_VLAN_TRUNCATED);
    ck_assert_int_eq (s_decode_checked (&pkt, s_vlan_v4_tcp, 17),
                      COLO_PKT_ERR_VLAN_TRUNCATED);
    ck_assert_int_eq (s_decode_checked (&pkt, s_qinq_v4_udp, 21),
                      COLO_PKT_ERR_VLAN_TRUNCATED);
    ck_assert_int_eq (s_decode_checked (&pkt, s_vlan_v4_tcp, 18),
                      COLO_PKT_ERR_IPV4_TRUNCATED);
}
END_TEST

START_TEST (test_padding)
{
    colo_packet_t pkt;
    uint64_t counters[COLO_PKT_COUNTER_COUNT] = {0};
    ck_assert_uint_eq (sizeof s_v4_ack_padded, 60);
    ck_assert_int_eq (s_decode (&pkt, s_v4_ack_padded, 60, counters),
                      COLO_PKT_OK);
    s_check_invariants (&pkt, COLO_PKT_OK, 60);
    ck_assert_int_eq (pkt.l4, COLO_L4_TCP);
    ck_assert_uint_eq (pkt.tcp_flags, COLO_TCP_ACK);
    ck_assert_uint_eq (pkt.l3_end, 54);
    ck_assert_uint_eq (pkt.payload_off, 54);
    ck_assert_uint_eq (pkt.payload_len, 0);
    ck_assert_uint_eq (pkt.trailer_len, 6);
    ck_assert_uint_eq (pkt.info, 1u << COLO_PKT_INFO_PADDING);
    ck_assert_uint_eq (counters[COLO_PKT_INFO_PADDING], 1);
    ck_assert_uint_eq (counters[COLO_PKT_OK], 1);
    //  The same frame without padding: no trailer.
    ck_assert_int_eq (s_decode_checked (&pkt, s_v4_ack_padded, 54),
                      COLO_PKT_OK);
    ck_assert_uint_eq (pkt.trailer_len, 0);
    ck_assert_uint_eq (pkt.info, 0);
    //  Padding after an IPv6 packet, and after a UDP datagram.
    uint8_t f[sizeof s_v6_udp + 9];
    memcpy (f, s_v6_udp, sizeof s_v6_udp);
    memset (f + sizeof s_v6_udp, 0xee, 9);
    ck_assert_int_eq (s_decode_checked (&pkt, f, sizeof f), COLO_PKT_OK);
    ck_assert_uint_eq (pkt.trailer_len, 9);
    ck_assert_uint_eq (pkt.payload_len, 10);
}
END_TEST

START_TEST (test_fragments)
{
    colo_packet_t pkt;
    uint64_t counters[COLO_PKT_COUNTER_COUNT] = {0};
    ck_assert_int_eq (s_decode (&pkt, s_v4_frag_first, sizeof s_v4_frag_first,
                                counters),
                      COLO_PKT_OK);
    s_check_invariants (&pkt, COLO_PKT_OK, sizeof s_v4_frag_first);
    ck_assert_uint_eq (pkt.is_fragment, 1);
    ck_assert_uint_eq (pkt.is_first_fragment, 1);
    ck_assert_uint_eq (pkt.info, 1u << COLO_PKT_INFO_FRAGMENT);
    ck_assert_uint_eq (pkt.ipv4_id, 99);
    //  L4 decoded for the first fragment; the UDP length (48) describes the
    //  whole datagram and is not checked against this fragment.
    ck_assert_int_eq (pkt.l4, COLO_L4_UDP);
    ck_assert_uint_eq (pkt.sport, 7000);
    ck_assert_uint_eq (pkt.dport, 8000);
    ck_assert_uint_eq (pkt.payload_off, 42);
    ck_assert_uint_eq (pkt.payload_len, 8);
    ck_assert_int_eq (s_decode (&pkt, s_v4_frag_second,
                                sizeof s_v4_frag_second, counters),
                      COLO_PKT_OK);
    s_check_invariants (&pkt, COLO_PKT_OK, sizeof s_v4_frag_second);
    ck_assert_uint_eq (pkt.is_fragment, 1);
    ck_assert_uint_eq (pkt.is_first_fragment, 0);
    ck_assert_int_eq (pkt.l4, COLO_L4_NONE);
    ck_assert_uint_eq (pkt.ip_proto, COLO_IPPROTO_UDP);
    ck_assert_uint_eq (pkt.sport, 0);
    ck_assert_uint_eq (pkt.l4_off, 34);
    ck_assert_uint_eq (pkt.payload_off, 34);
    ck_assert_uint_eq (pkt.payload_len, 32);
    ck_assert_uint_eq (counters[COLO_PKT_INFO_FRAGMENT], 2);
    ck_assert_uint_eq (counters[COLO_PKT_OK], 2);

    //  DF alone is not a fragment.
    ck_assert_int_eq (s_decode_checked (&pkt, s_v4_udp, sizeof s_v4_udp),
                      COLO_PKT_OK);
    ck_assert_uint_eq (s_v4_udp[20], 0x40);
    ck_assert_uint_eq (pkt.is_fragment, 0);

    ck_assert_int_eq (s_decode_checked (&pkt, s_v6_frag_first,
                                        sizeof s_v6_frag_first),
                      COLO_PKT_OK);
    ck_assert_uint_eq (pkt.is_fragment, 1);
    ck_assert_uint_eq (pkt.is_first_fragment, 1);
    ck_assert_uint_eq (pkt.l3_hdr_len, 48);
    ck_assert_uint_eq (pkt.ip_proto, COLO_IPPROTO_UDP);
    ck_assert_int_eq (pkt.l4, COLO_L4_UDP);
    ck_assert_uint_eq (pkt.l4_off, 62);
    ck_assert_uint_eq (pkt.payload_off, 70);
    ck_assert_uint_eq (pkt.payload_len, 16);
    ck_assert_int_eq (s_decode_checked (&pkt, s_v6_frag_later,
                                        sizeof s_v6_frag_later),
                      COLO_PKT_OK);
    ck_assert_uint_eq (pkt.is_fragment, 1);
    ck_assert_uint_eq (pkt.is_first_fragment, 0);
    ck_assert_uint_eq (pkt.ip_proto, COLO_IPPROTO_UDP);
    ck_assert_int_eq (pkt.l4, COLO_L4_NONE);
    ck_assert_uint_eq (pkt.l3_hdr_len, 48);
    ck_assert_uint_eq (pkt.payload_off, 62);
    ck_assert_uint_eq (pkt.payload_len, 24);

    //  An atomic fragment (offset 0, M clear) is not a fragment.
    uint8_t f[sizeof s_v6_frag_first];
    memcpy (f, s_v6_frag_first, sizeof f);
    f[54 + 3] &= 0xfe;
    ck_assert_int_eq (s_decode_checked (&pkt, f, sizeof f),
                      COLO_PKT_ERR_UDP_BAD_LENGTH);   //  UDP length 48 > 24
    ck_assert_uint_eq (pkt.is_fragment, 0);
}
END_TEST

//  ------------------------------------------------------------ malformed

//  Every strict prefix of every good frame decodes without a fault, to an
//  error or to an OK with consistent extents; a prefix that cuts into the IP
//  packet is always an error.
START_TEST (test_truncated_everywhere)
{
    for (size_t f = 0; f < S_NFRAMES; f++) {
        colo_packet_t full;
        ck_assert_int_eq (s_decode_checked (&full, s_frames[f].data,
                                            s_frames[f].len),
                          COLO_PKT_OK);
        for (size_t n = 0; n < s_frames[f].len; n++) {
            colo_packet_t pkt;
            colo_pkt_result_t rc = s_decode_checked (&pkt, s_frames[f].data, n);
            if (n < COLO_ETH_HLEN)
                ck_assert_int_eq (rc, COLO_PKT_ERR_RUNT);
            else if (n < full.l3_end && full.l3 != COLO_L3_OTHER)
                ck_assert_msg (rc >= COLO_PKT_ERR_FIRST, "%s cut at %zu: %s",
                               s_frames[f].name, n,
                               colo_packet_result_name (rc));
            else {
                ck_assert_int_eq (rc, COLO_PKT_OK);
                ck_assert_uint_eq (pkt.trailer_len, n - full.l3_end);
                ck_assert_uint_eq (pkt.payload_len, full.payload_len);
            }
        }
    }
}
END_TEST

START_TEST (test_runt)
{
    colo_packet_t pkt;
    uint64_t counters[COLO_PKT_COUNTER_COUNT] = {0};
    for (size_t n = 0; n < COLO_ETH_HLEN; n++)
        ck_assert_int_eq (s_decode (&pkt, s_v4_udp, n, counters),
                          COLO_PKT_ERR_RUNT);
    ck_assert_uint_eq (counters[COLO_PKT_ERR_RUNT], COLO_ETH_HLEN);
    ck_assert_int_eq (colo_packet_decode (&pkt, NULL, 0, NULL),
                      COLO_PKT_ERR_RUNT);
    ck_assert_int_eq (pkt.l3, COLO_L3_NONE);
    ck_assert_uint_eq (pkt.tcp_wscale, 0xff);
}
END_TEST

//  Copy a frame into buf (cap bytes), patch one byte, decode.
static colo_pkt_result_t
s_patched (colo_packet_t *pkt, const uint8_t *frame, size_t len, size_t at,
           uint8_t value)
{
    uint8_t buf[256];
    ck_assert_uint_le (len, sizeof buf);
    memcpy (buf, frame, len);
    buf[at] = value;
    return s_decode_checked (pkt, buf, len);
}

START_TEST (test_ipv4_malformed)
{
    colo_packet_t pkt;
    const uint8_t *f = s_v4_udp;
    size_t n = sizeof s_v4_udp;   //  IPv4 at 14, total length 36 at 16..17
    ck_assert_int_eq (s_patched (&pkt, f, n, 14, 0x44),
                      COLO_PKT_ERR_IPV4_BAD_IHL);
    ck_assert_int_eq (pkt.l3, COLO_L3_NONE);
    ck_assert_int_eq (s_patched (&pkt, f, n, 14, 0x40),
                      COLO_PKT_ERR_IPV4_BAD_IHL);
    //  IHL 15 = 60 bytes: more than the 36 left in the frame.
    ck_assert_int_eq (s_patched (&pkt, f, n, 14, 0x4f),
                      COLO_PKT_ERR_IPV4_BAD_IHL);
    //  IHL 6 = 24 bytes fits the frame and the total length: the UDP
    //  ports become an (invalid) option, UDP then starts 4 bytes late.
    ck_assert_int_eq (s_patched (&pkt, f, n, 14, 0x46),
                      COLO_PKT_ERR_UDP_BAD_LENGTH);
    ck_assert_int_eq (pkt.l3, COLO_L3_IPV4);
    ck_assert_uint_eq (pkt.l3_hdr_len, 24);
    ck_assert_uint_eq (pkt.info, 1u << COLO_PKT_INFO_BAD_IP_OPTION);
    ck_assert_int_eq (s_patched (&pkt, f, n, 14, 0x65),
                      COLO_PKT_ERR_IPV4_BAD_VERSION);
    //  Total length larger than the frame, smaller than the header, zero.
    ck_assert_int_eq (s_patched (&pkt, f, n, 17, 37),
                      COLO_PKT_ERR_IPV4_LENGTH_EXCEEDS_FRAME);
    ck_assert_int_eq (s_patched (&pkt, f, n, 16, 0x10),
                      COLO_PKT_ERR_IPV4_LENGTH_EXCEEDS_FRAME);
    ck_assert_int_eq (s_patched (&pkt, f, n, 17, 19),
                      COLO_PKT_ERR_IPV4_BAD_LENGTH);
    ck_assert_int_eq (s_patched (&pkt, f, n, 17, 0),
                      COLO_PKT_ERR_IPV4_BAD_LENGTH);
    //  Smaller than the frame: the rest is trailer; here it cuts UDP.
    ck_assert_int_eq (s_patched (&pkt, f, n, 17, 20 + 8 + 4),
                      COLO_PKT_ERR_UDP_BAD_LENGTH);
    ck_assert_int_eq (pkt.l3, COLO_L3_IPV4);
    ck_assert_uint_eq (pkt.trailer_len, 4);
    ck_assert_uint_eq (pkt.payload_off, 34);
    ck_assert_uint_eq (pkt.payload_len, 12);
    ck_assert_int_eq (s_patched (&pkt, f, n, 17, 20 + 4),
                      COLO_PKT_ERR_UDP_TRUNCATED);
    ck_assert_int_eq (s_patched (&pkt, f, n, 17, 20),
                      COLO_PKT_ERR_UDP_TRUNCATED);
    ck_assert_uint_eq (pkt.payload_len, 0);
    ck_assert_int_eq (s_decode_checked (&pkt, f, 33),
                      COLO_PKT_ERR_IPV4_TRUNCATED);
}
END_TEST

START_TEST (test_ipv4_options)
{
    colo_packet_t pkt;
    uint64_t counters[COLO_PKT_COUNTER_COUNT] = {0};
    uint8_t f[sizeof s_v4_tcp_syn];
    //  The SYN's options: RA(4) NOP NOP NOP EOL at 34..41.
    memcpy (f, s_v4_tcp_syn, sizeof f);
    f[35] = 0;   //  RA with length 0
    ck_assert_int_eq (s_decode (&pkt, f, sizeof f, counters), COLO_PKT_OK);
    ck_assert_uint_eq (pkt.info, 1u << COLO_PKT_INFO_BAD_IP_OPTION);
    ck_assert_uint_eq (counters[COLO_PKT_INFO_BAD_IP_OPTION], 1);
    ck_assert_int_eq (pkt.l4, COLO_L4_TCP);   //  not fatal
    ck_assert_uint_eq (pkt.tcp_mss, 1460);
    f[35] = 9;   //  runs past the 8 bytes of options
    ck_assert_int_eq (s_decode (&pkt, f, sizeof f, counters), COLO_PKT_OK);
    ck_assert_uint_eq (pkt.info, 1u << COLO_PKT_INFO_BAD_IP_OPTION);
    f[35] = 8;   //  exactly the whole option area
    ck_assert_int_eq (s_decode (&pkt, f, sizeof f, counters), COLO_PKT_OK);
    ck_assert_uint_eq (pkt.info, 0);
    //  A type byte with no room for its length.
    memcpy (f, s_v4_tcp_syn, sizeof f);
    f[34] = 1;
    f[35] = 1;
    f[36] = 1;
    f[37] = 1;
    f[38] = 1;
    f[39] = 1;
    f[40] = 1;
    f[41] = 0x44;   //  timestamp option type as the last byte
    ck_assert_int_eq (s_decode (&pkt, f, sizeof f, counters), COLO_PKT_OK);
    ck_assert_uint_eq (pkt.info, 1u << COLO_PKT_INFO_BAD_IP_OPTION);
    ck_assert_uint_eq (counters[COLO_PKT_INFO_BAD_IP_OPTION], 3);
    ck_assert_uint_eq (counters[COLO_PKT_OK], 4);
}
END_TEST

//  Build an IPv6 frame (no checksums needed) with n destination-options
//  headers before a UDP header.
static size_t
s_build_v6_chain (uint8_t *buf, size_t cap, int n, uint8_t last_nh)
{
    size_t len = 14 + 40 + 8 * (size_t) n + 8;
    ck_assert_uint_le (len, cap);
    memcpy (buf, s_v6_udp, 14 + 40);
    buf[14 + 6] = n ? 60 : last_nh;
    for (int i = 0; i < n; i++) {
        uint8_t *x = buf + 54 + 8 * i;
        memset (x, 0, 8);
        x[0] = i == n - 1 ? last_nh : 60;
        x[2] = 1;   //  PadN covering the rest
        x[3] = 4;
    }
    memcpy (buf + 54 + 8 * n, s_v6_udp + 54, 8);
    buf[54 + 8 * n + 4] = 0;   //  UDP length 8
    buf[54 + 8 * n + 5] = 8;
    colo_put_be16 (buf + 14 + 4, (uint16_t) (len - 54));
    return len;
}

START_TEST (test_ipv6_malformed)
{
    colo_packet_t pkt;
    uint8_t buf[256];
    //  Payload length larger than the frame.
    ck_assert_int_eq (s_patched (&pkt, s_v6_udp, sizeof s_v6_udp, 19, 19),
                      COLO_PKT_ERR_IPV6_LENGTH_EXCEEDS_FRAME);
    ck_assert_int_eq (pkt.l3, COLO_L3_NONE);
    ck_assert_int_eq (s_patched (&pkt, s_v6_udp, sizeof s_v6_udp, 18, 0xff),
                      COLO_PKT_ERR_IPV6_LENGTH_EXCEEDS_FRAME);
    ck_assert_int_eq (s_patched (&pkt, s_v6_udp, sizeof s_v6_udp, 14, 0x40),
                      COLO_PKT_ERR_IPV6_BAD_VERSION);
    ck_assert_int_eq (s_decode_checked (&pkt, s_v6_udp, 53),
                      COLO_PKT_ERR_IPV6_TRUNCATED);
    //  Payload length 0 with a hop-by-hop header (a jumbogram): the
    //  extension header overruns the (empty) payload.
    ck_assert_int_eq (s_patched (&pkt, s_v6_nonext, sizeof s_v6_nonext, 19, 0),
                      COLO_PKT_ERR_IPV6_EXT_TRUNCATED);
    ck_assert_int_eq (pkt.l3, COLO_L3_IPV6);
    ck_assert_uint_eq (pkt.trailer_len, 8);
    ck_assert_int_eq (s_patched (&pkt, s_v6_udp, sizeof s_v6_udp, 19, 0),
                      COLO_PKT_ERR_UDP_TRUNCATED);
    //  Hop-by-hop header claiming 16 bytes in an 8-byte payload.
    ck_assert_int_eq (s_patched (&pkt, s_v6_nonext, sizeof s_v6_nonext, 55, 1),
                      COLO_PKT_ERR_IPV6_EXT_TRUNCATED);
    ck_assert_uint_eq (pkt.ip_proto, 0);
    ck_assert_uint_eq (pkt.l3_hdr_len, 40);
    //  The routing header of the extension chain overruns.
    ck_assert_int_eq (s_patched (&pkt, s_v6_tcp_ext, sizeof s_v6_tcp_ext, 63,
                                 10),
                      COLO_PKT_ERR_IPV6_EXT_TRUNCATED);
    ck_assert_uint_eq (pkt.ip_proto, 43);
    ck_assert_uint_eq (pkt.l3_hdr_len, 48);
    ck_assert_uint_eq (pkt.l4_off, 62);
    ck_assert_uint_eq (pkt.payload_off, 62);
    ck_assert_uint_eq (pkt.payload_len, 142 - 62);
    //  AH length overruns.
    ck_assert_int_eq (s_patched (&pkt, s_v6_ah_icmp, sizeof s_v6_ah_icmp, 55,
                                 7),
                      COLO_PKT_ERR_IPV6_EXT_TRUNCATED);
    //  AH length 6 = 32 bytes: nothing is left for ICMPv6.
    ck_assert_int_eq (s_patched (&pkt, s_v6_ah_icmp, sizeof s_v6_ah_icmp, 55,
                                 6),
                      COLO_PKT_ERR_ICMPV6_TRUNCATED);
    ck_assert_uint_eq (pkt.l3_hdr_len, 72);
    //  Chain cut inside the 8 bytes of the fragment header.
    size_t n = sizeof s_v6_frag_later;
    memcpy (buf, s_v6_frag_later, n);
    colo_put_be16 (buf + 18, 6);
    ck_assert_int_eq (s_decode_checked (&pkt, buf, n),
                      COLO_PKT_ERR_IPV6_EXT_TRUNCATED);

    //  COLO_IPV6_EXT_MAX headers are walked; one more is too many.
    n = s_build_v6_chain (buf, sizeof buf, COLO_IPV6_EXT_MAX, 17);
    ck_assert_int_eq (s_decode_checked (&pkt, buf, n), COLO_PKT_OK);
    ck_assert_int_eq (pkt.l4, COLO_L4_UDP);
    ck_assert_uint_eq (pkt.l3_hdr_len, 40 + 8 * COLO_IPV6_EXT_MAX);
    ck_assert_uint_eq (pkt.payload_len, 0);
    uint64_t counters[COLO_PKT_COUNTER_COUNT] = {0};
    n = s_build_v6_chain (buf, sizeof buf, COLO_IPV6_EXT_MAX + 1, 17);
    ck_assert_int_eq (s_decode (&pkt, buf, n, counters),
                      COLO_PKT_ERR_IPV6_EXT_TOO_MANY);
    s_check_invariants (&pkt, COLO_PKT_ERR_IPV6_EXT_TOO_MANY, n);
    ck_assert_uint_eq (counters[COLO_PKT_ERR_IPV6_EXT_TOO_MANY], 1);
    ck_assert_int_eq (pkt.l4, COLO_L4_NONE);
    n = s_build_v6_chain (buf, sizeof buf, 20, 59);
    ck_assert_int_eq (s_decode_checked (&pkt, buf, n),
                      COLO_PKT_ERR_IPV6_EXT_TOO_MANY);
    //  Every extension header type is walked (each 8 bytes here).
    static const uint8_t types[] = {0, 43, 60, 135, 139, 140};
    for (size_t i = 0; i < sizeof types; i++) {
        n = s_build_v6_chain (buf, sizeof buf, 1, 17);
        buf[20] = types[i];
        ck_assert_int_eq (s_decode_checked (&pkt, buf, n), COLO_PKT_OK);
        ck_assert_int_eq (pkt.l4, COLO_L4_UDP);
        ck_assert_uint_eq (pkt.l3_hdr_len, 48);
    }
    //  An unknown next header is L4_OTHER with the rest as payload.
    n = s_build_v6_chain (buf, sizeof buf, 2, 253);
    ck_assert_int_eq (s_decode_checked (&pkt, buf, n), COLO_PKT_OK);
    ck_assert_int_eq (pkt.l4, COLO_L4_OTHER);
    ck_assert_uint_eq (pkt.ip_proto, 253);
    ck_assert_uint_eq (pkt.payload_off, 54 + 16);
    ck_assert_uint_eq (pkt.payload_len, 8);
}
END_TEST

START_TEST (test_tcp_malformed)
{
    colo_packet_t pkt;
    const uint8_t *f = s_v4_tcp_sack;   //  TCP at 34, data offset byte at 46
    size_t n = sizeof s_v4_tcp_sack;
    //  Data offset 15 (60 bytes) > the 57 bytes of IP payload.
    ck_assert_int_eq (s_patched (&pkt, f, n, 46, 0xf0),
                      COLO_PKT_ERR_TCP_BAD_OFFSET);
    ck_assert_int_eq (pkt.l3, COLO_L3_IPV4);
    ck_assert_int_eq (pkt.l4, COLO_L4_NONE);
    ck_assert_uint_eq (pkt.sport, 0);
    ck_assert_uint_eq (pkt.payload_off, 34);
    ck_assert_uint_eq (pkt.payload_len, 57);
    ck_assert_int_eq (s_patched (&pkt, f, n, 46, 0x40),
                      COLO_PKT_ERR_TCP_BAD_OFFSET);
    ck_assert_int_eq (s_patched (&pkt, f, n, 46, 0x00),
                      COLO_PKT_ERR_TCP_BAD_OFFSET);
    //  Data offset 14 (56 bytes) fits: the SACK option ends at 52, the
    //  payload bytes become (invalid) options.
    ck_assert_int_eq (s_patched (&pkt, f, n, 46, 0xe0), COLO_PKT_OK);
    ck_assert_uint_eq (pkt.payload_len, 1);
    ck_assert_uint_eq (pkt.info, 1u << COLO_PKT_INFO_BAD_TCP_OPTION);
    //  Data offset past the IP payload but not past the frame (padding).
    uint8_t buf[128];
    memcpy (buf, s_v4_ack_padded, 60);
    buf[46] = 0x60;
    ck_assert_int_eq (s_decode_checked (&pkt, buf, 60),
                      COLO_PKT_ERR_TCP_BAD_OFFSET);
    //  Fewer than 20 bytes of TCP in the IP packet.
    memcpy (buf, s_v4_ack_padded, 60);
    colo_put_be16 (buf + 16, 20 + 19);
    ck_assert_int_eq (s_decode_checked (&pkt, buf, 60),
                      COLO_PKT_ERR_TCP_TRUNCATED);
    ck_assert_uint_eq (pkt.trailer_len, 7);
}
END_TEST

START_TEST (test_tcp_options)
{
    colo_packet_t pkt;
    uint64_t counters[COLO_PKT_COUNTER_COUNT] = {0};
    uint8_t f[sizeof s_v4_tcp_syn];
    //  SYN options at 62: MSS(4) SACKOK(2) TS(10) NOP WS(3).
    memcpy (f, s_v4_tcp_syn, sizeof f);
    f[67] = 0;   //  SACKOK length 0: stop, keep what was read
    ck_assert_int_eq (s_decode (&pkt, f, sizeof f, counters), COLO_PKT_OK);
    ck_assert_uint_eq (pkt.info, 1u << COLO_PKT_INFO_BAD_TCP_OPTION);
    ck_assert_uint_eq (counters[COLO_PKT_INFO_BAD_TCP_OPTION], 1);
    ck_assert_uint_eq (pkt.tcp_mss, 1460);
    ck_assert_uint_eq (pkt.tcp_sack_permitted, 0);
    ck_assert_uint_eq (pkt.tcp_has_ts, 0);
    ck_assert_uint_eq (pkt.tcp_ts_off, 0);
    ck_assert_uint_eq (pkt.tcp_wscale, 0xff);
    ck_assert_uint_eq (pkt.payload_len, 0);
    f[67] = 1;   //  length 1
    ck_assert_int_eq (s_decode_checked (&pkt, f, sizeof f), COLO_PKT_OK);
    ck_assert_uint_eq (pkt.info, 1u << COLO_PKT_INFO_BAD_TCP_OPTION);
    ck_assert_uint_eq (pkt.tcp_has_ts, 0);
    f[67] = 17;   //  runs past the header (16 bytes left)
    ck_assert_int_eq (s_decode_checked (&pkt, f, sizeof f), COLO_PKT_OK);
    ck_assert_uint_eq (pkt.info, 1u << COLO_PKT_INFO_BAD_TCP_OPTION);
    ck_assert_uint_eq (pkt.tcp_has_ts, 0);
    f[67] = 16;   //  an unknown length for SACKOK: ignored, walk ends
    ck_assert_int_eq (s_decode_checked (&pkt, f, sizeof f), COLO_PKT_OK);
    ck_assert_uint_eq (pkt.info, 1u << COLO_PKT_INFO_BAD_TCP_OPTION);
    ck_assert_uint_eq (pkt.tcp_sack_permitted, 0);
    ck_assert_uint_eq (pkt.tcp_mss, 1460);
    //  A known option with the wrong length is skipped, the rest is read.
    memcpy (f, s_v4_tcp_syn, sizeof f);
    f[63] = 3;    //  MSS of length 3 ...
    f[65] = 1;    //  ... followed by a NOP
    ck_assert_int_eq (s_decode_checked (&pkt, f, sizeof f), COLO_PKT_OK);
    ck_assert_uint_eq (pkt.info, 1u << COLO_PKT_INFO_BAD_TCP_OPTION);
    ck_assert_uint_eq (pkt.tcp_mss, 0);
    ck_assert_uint_eq (pkt.tcp_sack_permitted, 1);
    ck_assert_uint_eq (pkt.tcp_has_ts, 1);
    ck_assert_uint_eq (pkt.tcp_wscale, 7);
    //  The last option's kind is the header's last byte (no length byte).
    memcpy (f, s_v4_tcp_syn, sizeof f);
    f[79] = 1;
    f[80] = 1;
    f[81] = 3;
    ck_assert_int_eq (s_decode_checked (&pkt, f, sizeof f), COLO_PKT_OK);
    ck_assert_uint_eq (pkt.info, 1u << COLO_PKT_INFO_BAD_TCP_OPTION);
    ck_assert_uint_eq (pkt.tcp_has_ts, 1);
    ck_assert_uint_eq (pkt.tcp_wscale, 0xff);
    //  EOL ends the walk: nothing after it is read.
    memcpy (f, s_v4_tcp_syn, sizeof f);
    f[66] = 0;
    ck_assert_int_eq (s_decode_checked (&pkt, f, sizeof f), COLO_PKT_OK);
    ck_assert_uint_eq (pkt.info, 0);
    ck_assert_uint_eq (pkt.tcp_mss, 1460);
    ck_assert_uint_eq (pkt.tcp_has_ts, 0);

    //  SACK with a length that is not 2 + 8n, and with 4 blocks.
    uint8_t s[sizeof s_v4_tcp_sack];
    memcpy (s, s_v4_tcp_sack, sizeof s);
    s[69] = 17;   //  SACK at 68, 18 bytes
    ck_assert_int_eq (s_decode_checked (&pkt, s, sizeof s), COLO_PKT_OK);
    ck_assert_uint_eq (pkt.info, 1u << COLO_PKT_INFO_BAD_TCP_OPTION);
    ck_assert_uint_eq (pkt.tcp_sack_count, 0);
    ck_assert_uint_eq (pkt.tcp_sack_off, 0);
    ck_assert_uint_eq (pkt.tcp_has_ts, 1);

    uint8_t big[14 + 20 + 60];
    memcpy (big, s_v4_tcp_sack, 14 + 20 + 20);
    colo_put_be16 (big + 16, 20 + 60);
    big[46] = 0xf0;   //  60-byte TCP header
    uint8_t *o = big + 54;
    o[0] = 1;
    o[1] = 1;
    o[2] = 5;
    o[3] = 34;
    for (int i = 0; i < 8; i++)
        colo_put_be32 (o + 4 + 4 * i, 100 * (uint32_t) (i + 1));
    o[36] = 1;
    o[37] = 1;
    o[38] = 0;
    o[39] = 0;
    ck_assert_int_eq (s_decode_checked (&pkt, big, sizeof big), COLO_PKT_OK);
    ck_assert_uint_eq (pkt.info, 0);
    ck_assert_uint_eq (pkt.tcp_sack_count, 4);
    ck_assert_uint_eq (pkt.tcp_sack_off, 58);
    ck_assert_uint_eq (pkt.tcp_sack[0][0], 100);
    ck_assert_uint_eq (pkt.tcp_sack[3][1], 800);
    ck_assert_uint_eq (pkt.payload_len, 0);
}
END_TEST

START_TEST (test_udp_icmp_malformed)
{
    colo_packet_t pkt;
    //  UDP length < 8 and > the IP payload (16).
    ck_assert_int_eq (s_patched (&pkt, s_v4_udp, sizeof s_v4_udp, 39, 7),
                      COLO_PKT_ERR_UDP_BAD_LENGTH);
    ck_assert_int_eq (s_patched (&pkt, s_v4_udp, sizeof s_v4_udp, 39, 17),
                      COLO_PKT_ERR_UDP_BAD_LENGTH);
    //  UDP length shorter than the IP payload: the datagram ends there.
    ck_assert_int_eq (s_patched (&pkt, s_v4_udp, sizeof s_v4_udp, 39, 12),
                      COLO_PKT_OK);
    ck_assert_uint_eq (pkt.payload_len, 4);
    ck_assert_uint_eq (pkt.l3_end, 50);
    ck_assert_int_eq (s_patched (&pkt, s_v6_udp, sizeof s_v6_udp, 59, 19),
                      COLO_PKT_ERR_UDP_BAD_LENGTH);

    //  ICMP echo needs 8 bytes, other types 4.
    uint8_t buf[128];
    memcpy (buf, s_v4_icmp_echo, 14 + 20 + 8);
    colo_put_be16 (buf + 16, 20 + 7);
    ck_assert_int_eq (s_decode_checked (&pkt, buf, 14 + 20 + 7),
                      COLO_PKT_ERR_ICMP_TRUNCATED);
    buf[34] = 3;   //  unreachable: 4 bytes are enough
    ck_assert_int_eq (s_decode_checked (&pkt, buf, 14 + 20 + 7), COLO_PKT_OK);
    ck_assert_uint_eq (pkt.payload_len, 3);
    colo_put_be16 (buf + 16, 20 + 3);
    ck_assert_int_eq (s_decode_checked (&pkt, buf, 14 + 20 + 3),
                      COLO_PKT_ERR_ICMP_TRUNCATED);
    memcpy (buf, s_v6_icmp_echo, 54 + 8);
    colo_put_be16 (buf + 18, 7);
    ck_assert_int_eq (s_decode_checked (&pkt, buf, 54 + 7),
                      COLO_PKT_ERR_ICMPV6_TRUNCATED);
    buf[54] = 135;
    ck_assert_int_eq (s_decode_checked (&pkt, buf, 54 + 7), COLO_PKT_OK);
    colo_put_be16 (buf + 18, 3);
    ck_assert_int_eq (s_decode_checked (&pkt, buf, 54 + 3),
                      COLO_PKT_ERR_ICMPV6_TRUNCATED);
    //  ICMP's number inside IPv6 (and ICMPv6's in IPv4) is just "other".
    memcpy (buf, s_v6_icmp_echo, sizeof s_v6_icmp_echo);
    buf[20] = COLO_IPPROTO_ICMP;
    ck_assert_int_eq (s_decode_checked (&pkt, buf, sizeof s_v6_icmp_echo),
                      COLO_PKT_OK);
    ck_assert_int_eq (pkt.l4, COLO_L4_OTHER);
}
END_TEST

//  A TCP segment of ip_len bytes of IP (v4) or payload_len (v6) in a frame
//  of exactly the needed size; the content is a byte pattern.
static uint8_t *
s_big_frame (int v6, size_t *len_out)
{
    size_t len = v6 ? 14 + 40 + 65535 : 14 + 65535;
    uint8_t *f = malloc (len);
    ck_assert_ptr_nonnull (f);
    for (size_t i = 0; i < len; i++)
        f[i] = (uint8_t) (i * 7 + 3);
    if (v6) {
        memcpy (f, s_v6_udp, 54);
        f[20] = COLO_IPPROTO_TCP;
        colo_put_be16 (f + 18, 65535);
    }
    else {
        memcpy (f, s_v4_tcp_sack, 34);
        colo_put_be16 (f + 16, 65535);
        f[20] = 0;   //  no fragment flags
        f[21] = 0;
    }
    size_t l4 = v6 ? 54 : 34;
    memcpy (f + l4, s_v4_tcp_sack + 34, 20);
    f[l4 + 12] = 0x50;
    *len_out = len;
    return f;
}

START_TEST (test_64k_frames)
{
    for (int v6 = 0; v6 < 2; v6++) {
        size_t len;
        uint8_t *f = s_big_frame (v6, &len);
        colo_packet_t pkt;
        ck_assert_int_eq (colo_packet_decode (&pkt, f, len, NULL), COLO_PKT_OK);
        s_check_invariants (&pkt, COLO_PKT_OK, len);
        ck_assert_int_eq (pkt.l4, COLO_L4_TCP);
        ck_assert_uint_eq (pkt.l3_end, len);
        ck_assert_uint_eq (pkt.payload_off, (v6 ? 54 : 34) + 20);
        ck_assert_uint_eq (pkt.payload_len, v6 ? 65535 - 20 : 65535 - 40);
        ck_assert_uint_eq (pkt.trailer_len, 0);
        //  One byte short: the IP length exceeds the frame.
        ck_assert_int_eq (colo_packet_decode (&pkt, f, len - 1, NULL),
                          v6 ? COLO_PKT_ERR_IPV6_LENGTH_EXCEEDS_FRAME
                             : COLO_PKT_ERR_IPV4_LENGTH_EXCEEDS_FRAME);
        free (f);
    }
}
END_TEST

//  ------------------------------------------------------------ names

START_TEST (test_names)
{
    for (int i = 0; i < COLO_PKT_COUNTER_COUNT; i++) {
        const char *name = colo_packet_counter_names[i];
        ck_assert_ptr_nonnull (name);
        ck_assert_ptr_eq (colo_packet_result_name ((colo_pkt_result_t) i),
                          name);
        ck_assert_uint_gt (strlen (name), 1);
        for (const char *p = name; *p; p++)
            ck_assert (islower ((unsigned char) *p)
                       || isdigit ((unsigned char) *p) || *p == '_');
        for (int j = 0; j < i; j++)
            ck_assert_str_ne (name, colo_packet_counter_names[j]);
    }
    ck_assert_str_eq (colo_packet_result_name (COLO_PKT_OK), "ok");
    ck_assert_str_eq (colo_packet_result_name (COLO_PKT_ERR_IPV4_BAD_IHL),
                      "ipv4_bad_ihl");
    ck_assert_str_eq (colo_packet_result_name (COLO_PKT_ERR_TCP_BAD_OFFSET),
                      "tcp_bad_offset");
    ck_assert_str_eq (colo_packet_result_name (COLO_PKT_COUNTER_COUNT),
                      "unknown");
    ck_assert_str_eq (colo_packet_result_name ((colo_pkt_result_t) -1),
                      "unknown");
}
END_TEST

//  ------------------------------------------------------------ flow key

static void
s_key (colo_flow_key_t *key, const uint8_t *frame, size_t len, int *reversed)
{
    colo_packet_t pkt;
    ck_assert_int_eq (colo_packet_decode (&pkt, frame, len, NULL), COLO_PKT_OK);
    ck_assert_int_eq (colo_flow_key (key, &pkt, frame, reversed), 0);
}

START_TEST (test_flow_key_directions)
{
    colo_flow_key_t a, b;
    int ra = -1, rb = -1;
    //  The SYN (10.0.0.1:40000 -> 10.0.0.2:80) and the reply segment.
    s_key (&a, s_v4_tcp_syn, sizeof s_v4_tcp_syn, &ra);
    s_key (&b, s_v4_tcp_sack, sizeof s_v4_tcp_sack, &rb);
    ck_assert_int_eq (memcmp (&a, &b, sizeof a), 0);
    ck_assert_int_eq (ra, 0);
    ck_assert_int_eq (rb, 1);
    ck_assert_uint_eq (a.family, 4);
    ck_assert_uint_eq (a.proto, COLO_IPPROTO_TCP);
    ck_assert_uint_eq (a.port_lo, 40000);
    ck_assert_uint_eq (a.port_hi, 80);
    ck_assert_uint_eq (a.vlan, 0);
    static const uint8_t zero[12] = {0};
    ck_assert_int_eq (memcmp (a.addr_lo + 4, zero, 12), 0);
    ck_assert_int_eq (memcmp (a.addr_hi + 4, zero, 12), 0);
    ck_assert_uint_eq (colo_flow_hash (&a, 1), colo_flow_hash (&b, 1));
    char text[80];
    ck_assert_str_eq (colo_flow_key_str (&a, text, sizeof text),
                      "tcp 10.0.0.1:40000 <-> 10.0.0.2:80");

    //  IPv6: swap addresses and ports of the TCP frame by hand.
    uint8_t rev[sizeof s_v6_tcp_ext];
    memcpy (rev, s_v6_tcp_ext, sizeof rev);
    memcpy (rev + 22, s_v6_tcp_ext + 38, 16);
    memcpy (rev + 38, s_v6_tcp_ext + 22, 16);
    memcpy (rev + 94, s_v6_tcp_ext + 96, 2);
    memcpy (rev + 96, s_v6_tcp_ext + 94, 2);
    s_key (&a, s_v6_tcp_ext, sizeof s_v6_tcp_ext, &ra);
    s_key (&b, rev, sizeof rev, &rb);
    ck_assert_int_eq (memcmp (&a, &b, sizeof a), 0);
    ck_assert_int_ne (ra, rb);
    ck_assert_uint_eq (a.family, 6);
    ck_assert_str_eq (colo_flow_key_str (&a, text, sizeof text),
                      "tcp [2001:db8::1]:443 <-> [2001:db8::2]:51000");

    //  Same address, different ports: ordered by port.
    uint8_t self[sizeof s_v4_udp];
    memcpy (self, s_v4_udp, sizeof self);
    memcpy (self + 30, self + 26, 4);
    s_key (&a, self, sizeof self, &ra);
    ck_assert_int_eq (ra, 1);   //  5353 > 53
    ck_assert_uint_eq (a.port_lo, 53);
    ck_assert_str_eq (colo_flow_key_str (&a, text, sizeof text),
                      "udp 10.0.0.1:53 <-> 10.0.0.1:5353");
}
END_TEST

START_TEST (test_flow_key_vlan_icmp)
{
    colo_flow_key_t a, b;
    char text[96];
    //  The same packet untagged and on VLAN 100 are different flows.
    uint8_t untagged[sizeof s_vlan_v4_tcp - 4];
    memcpy (untagged, s_vlan_v4_tcp, 12);
    memcpy (untagged + 12, s_vlan_v4_tcp + 16, sizeof untagged - 12);
    s_key (&a, untagged, sizeof untagged, NULL);
    s_key (&b, s_vlan_v4_tcp, sizeof s_vlan_v4_tcp, NULL);
    ck_assert_int_ne (memcmp (&a, &b, sizeof a), 0);
    ck_assert_uint_eq (a.vlan, 0);
    ck_assert_uint_eq (b.vlan, 100);   //  the PCP bits are not part of it
    ck_assert_uint_ne (colo_flow_hash (&a, 7), colo_flow_hash (&b, 7));
    ck_assert_str_eq (colo_flow_key_str (&b, text, sizeof text),
                      "tcp 10.0.0.1:1234 <-> 10.0.0.2:22 vlan 100");
    //  QinQ: the outer tag.
    s_key (&a, s_qinq_v4_udp, sizeof s_qinq_v4_udp, NULL);
    ck_assert_uint_eq (a.vlan, 200);

    //  Two pings with different ids are different flows; request and
    //  reply of one ping are the same flow.
    uint8_t ping[sizeof s_v4_icmp_echo];
    memcpy (ping, s_v4_icmp_echo, sizeof ping);
    s_key (&a, ping, sizeof ping, NULL);
    ck_assert_uint_eq (a.port_lo, 0x77);
    ck_assert_uint_eq (a.port_hi, 0x77);
    ck_assert_str_eq (colo_flow_key_str (&a, text, sizeof text),
                      "icmp 10.0.0.1 <-> 10.0.0.2 id 119");
    ping[39] = 0x78;
    s_key (&b, ping, sizeof ping, NULL);
    ck_assert_int_ne (memcmp (&a, &b, sizeof a), 0);
    int r;
    memcpy (ping, s_v4_icmp_echo, sizeof ping);
    memcpy (ping + 26, s_v4_icmp_echo + 30, 4);
    memcpy (ping + 30, s_v4_icmp_echo + 26, 4);
    ping[34] = 0;   //  echo reply
    s_key (&b, ping, sizeof ping, &r);
    ck_assert_int_eq (memcmp (&a, &b, sizeof a), 0);
    ck_assert_int_eq (r, 1);
    //  Other ICMP: ports 0.
    s_key (&a, s_v4_icmp_unreach, sizeof s_v4_icmp_unreach, NULL);
    ck_assert_uint_eq (a.port_lo, 0);
    ck_assert_uint_eq (a.port_hi, 0);
    ck_assert_str_eq (colo_flow_key_str (&a, text, sizeof text),
                      "icmp 10.0.0.1 <-> 10.0.0.2");
    //  ICMPv6 echo.
    s_key (&a, s_v6_icmp_echo, sizeof s_v6_icmp_echo, NULL);
    ck_assert_uint_eq (a.port_lo, 0x1234);
    ck_assert_uint_eq (a.proto, COLO_IPPROTO_ICMPV6);
    ck_assert_str_eq (colo_flow_key_str (&a, text, sizeof text),
                      "icmpv6 2001:db8::1 <-> 2001:db8::2 id 4660");
    s_key (&a, s_v4_gre, sizeof s_v4_gre, NULL);
    ck_assert_str_eq (colo_flow_key_str (&a, text, sizeof text),
                      "proto 47 10.0.0.1 <-> 10.0.0.2");
    //  v4 and v6 never collide (family differs even with equal bytes).
    s_key (&a, s_v6_esp, sizeof s_v6_esp, NULL);
    ck_assert_uint_eq (a.proto, 50);
    ck_assert_uint_eq (a.port_lo, 0);

    //  No IP layer.
    colo_packet_t pkt;
    colo_flow_key_t k;
    memset (&k, 0xff, sizeof k);
    ck_assert_int_eq (colo_packet_decode (&pkt, s_arp_req, sizeof s_arp_req,
                                          NULL),
                      COLO_PKT_OK);
    r = 5;
    ck_assert_int_eq (colo_flow_key (&k, &pkt, s_arp_req, &r), -1);
    ck_assert_int_eq (r, 0);
    //  A fragment or an L4 error still has a key (ports 0).
    ck_assert_int_eq (colo_packet_decode (&pkt, s_v4_frag_second,
                                          sizeof s_v4_frag_second, NULL),
                      COLO_PKT_OK);
    ck_assert_int_eq (colo_flow_key (&k, &pkt, s_v4_frag_second, NULL), 0);
    ck_assert_uint_eq (k.port_lo, 0);
}
END_TEST

START_TEST (test_flow_key_str_truncation)
{
    colo_flow_key_t a;
    s_key (&a, s_v6_tcp_ext, sizeof s_v6_tcp_ext, NULL);
    char full[128], small[128];
    colo_flow_key_str (&a, full, sizeof full);
    for (size_t cap = 1; cap < strlen (full) + 2; cap++) {
        memset (small, 'x', sizeof small);
        ck_assert_ptr_eq (colo_flow_key_str (&a, small, cap), small);
        ck_assert_uint_eq (strlen (small), cap - 1 < strlen (full)
                                               ? cap - 1 : strlen (full));
        ck_assert_int_eq (strncmp (small, full, cap - 1), 0);
        ck_assert_int_eq (small[cap], 'x');
    }
    ck_assert_ptr_null (colo_flow_key_str (&a, NULL, 0));
    //  A key that did not come from the decoder.
    colo_flow_key_t odd;
    memset (&odd, 0, sizeof odd);
    odd.family = 9;
    odd.proto = 6;
    ck_assert_str_eq (colo_flow_key_str (&odd, full, sizeof full),
                      "tcp ?:0 <-> ?:0");
}
END_TEST

START_TEST (test_flow_hash)
{
    colo_flow_key_t k;
    s_key (&k, s_v4_tcp_syn, sizeof s_v4_tcp_syn, NULL);
    ck_assert_uint_eq (colo_flow_hash (&k, 42), colo_flow_hash (&k, 42));
    ck_assert_uint_ne (colo_flow_hash (&k, 42), colo_flow_hash (&k, 43));

    //  Avalanche: flipping any one of the 320 key bits flips each output
    //  bit in about half of the cases.
    uint64_t rng = 0x1234567;
    enum { TRIALS = 200 };
    static uint32_t flips[320][64];
    memset (flips, 0, sizeof flips);
    for (int t = 0; t < TRIALS; t++) {
        uint8_t raw[40];
        for (int i = 0; i < 40; i += 8) {
            uint64_t r = colo_test_rand (&rng);
            memcpy (raw + i, &r, 8);
        }
        uint64_t seed = colo_test_rand (&rng);
        colo_flow_key_t key;
        memcpy (&key, raw, sizeof key);
        uint64_t h = colo_flow_hash (&key, seed);
        for (int bit = 0; bit < 320; bit++) {
            uint8_t alt[40];
            memcpy (alt, raw, sizeof alt);
            alt[bit / 8] ^= (uint8_t) (1u << (bit % 8));
            memcpy (&key, alt, sizeof key);
            uint64_t d = h ^ colo_flow_hash (&key, seed);
            for (int o = 0; o < 64; o++)
                flips[bit][o] += (d >> o) & 1;
        }
    }
    for (int bit = 0; bit < 320; bit++)
        for (int o = 0; o < 64; o++)
            ck_assert_msg (flips[bit][o] > TRIALS / 4
                               && flips[bit][o] < TRIALS * 3 / 4,
                           "input bit %d -> output bit %d: %u/%d", bit, o,
                           flips[bit][o], TRIALS);

    //  The same for IPv4-shaped keys (address bytes 4..15 zero), which
    //  take a shorter path: every bit that can vary in them.
    static uint32_t flips4[104][64];
    memset (flips4, 0, sizeof flips4);
    static const int v4_bytes[13] = {0, 1, 2, 3, 16, 17, 18, 19, 32, 33, 34, 35, 36};
    for (int t = 0; t < TRIALS; t++) {
        uint8_t raw[40];
        memset (raw, 0, sizeof raw);
        uint64_t r = colo_test_rand (&rng), r2 = colo_test_rand (&rng);
        for (int i = 0; i < 13; i++)
            raw[v4_bytes[i]] = (uint8_t) ((i < 8 ? r >> (8 * i) : r2 >> (8 * (i - 8))));
        uint64_t seed = colo_test_rand (&rng);
        colo_flow_key_t key;
        memcpy (&key, raw, sizeof key);
        uint64_t h4 = colo_flow_hash (&key, seed);
        for (int bit = 0; bit < 104; bit++) {
            uint8_t alt[40];
            memcpy (alt, raw, sizeof alt);
            alt[v4_bytes[bit / 8]] ^= (uint8_t) (1u << (bit % 8));
            memcpy (&key, alt, sizeof key);
            uint64_t d = h4 ^ colo_flow_hash (&key, seed);
            for (int o = 0; o < 64; o++)
                flips4[bit][o] += (d >> o) & 1;
        }
    }
    for (int bit = 0; bit < 104; bit++)
        for (int o = 0; o < 64; o++)
            ck_assert_msg (flips4[bit][o] > TRIALS / 4
                               && flips4[bit][o] < TRIALS * 3 / 4,
                           "v4 input byte %d bit %d -> output bit %d: %u/%d",
                           v4_bytes[bit / 8], bit % 8, o, flips4[bit][o], TRIALS);

    //  No collisions among many close keys (one port apart).
    enum { N = 1 << 16 };
    uint64_t *h = malloc (N * sizeof *h);
    ck_assert_ptr_nonnull (h);
    for (uint32_t i = 0; i < N; i++) {
        k.port_lo = (uint16_t) i;
        h[i] = colo_flow_hash (&k, 99);
    }
    for (uint32_t i = 0; i < N; i++)
        for (uint32_t j = i + 1; j < i + 64 && j < N; j++)
            ck_assert_uint_ne (h[i], h[j]);
    //  The low 12 bits (a table index) spread evenly.
    static uint32_t bucket[4096];
    memset (bucket, 0, sizeof bucket);
    for (uint32_t i = 0; i < N; i++)
        bucket[h[i] & 4095]++;
    for (int b = 0; b < 4096; b++)
        ck_assert_uint_lt (bucket[b], 48);   //  mean 16
    free (h);
}
END_TEST

START_TEST (test_flow_key_hash)
{
    //  colo_flow_key_hash is colo_flow_key plus colo_flow_hash, for every
    //  shape of key: IPv4, IPv6, tagged, ICMP, and an IPv6 packet whose
    //  addresses look like IPv4 ones (bytes 4..15 zero).
    uint8_t v6_short[sizeof s_v6_tcp_ext];
    memcpy (v6_short, s_v6_tcp_ext, sizeof v6_short);
    memset (v6_short + 22 + 4, 0, 12);
    memset (v6_short + 38 + 4, 0, 12);
    const struct {
        const uint8_t *frame;
        size_t len;
    } cases[] = {
        {s_v4_tcp_syn, sizeof s_v4_tcp_syn},   {s_v4_tcp_sack, sizeof s_v4_tcp_sack},
        {s_v4_udp, sizeof s_v4_udp},           {s_vlan_v4_tcp, sizeof s_vlan_v4_tcp},
        {s_v4_icmp_echo, sizeof s_v4_icmp_echo}, {s_v6_tcp_ext, sizeof s_v6_tcp_ext},
        {s_v6_icmp_echo, sizeof s_v6_icmp_echo}, {v6_short, sizeof v6_short},
    };
    static const uint64_t seeds[] = {1, 0x0123456789abcdefULL, ~0ULL};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (size_t j = 0; j < sizeof seeds / sizeof seeds[0]; j++) {
            colo_packet_t pkt;
            ck_assert_int_eq (colo_packet_decode (&pkt, cases[i].frame, cases[i].len, NULL),
                              COLO_PKT_OK);
            colo_flow_key_t a, b;
            memset (&b, 0xa5, sizeof b);
            uint64_t h = 0;
            ck_assert_int_eq (colo_flow_key (&a, &pkt, cases[i].frame, NULL), 0);
            ck_assert_int_eq (colo_flow_key_hash (&b, &h, &pkt, cases[i].frame, seeds[j]), 0);
            ck_assert_msg (memcmp (&a, &b, sizeof a) == 0, "case %zu: key differs", i);
            ck_assert_msg (h == colo_flow_hash (&a, seeds[j]), "case %zu seed %zu: hash differs",
                           i, j);
        }
    //  The IPv4-shaped IPv6 key is not the IPv4 key of the same bytes.
    colo_packet_t pkt;
    colo_flow_key_t k6, k4;
    uint64_t h6, h4;
    ck_assert_int_eq (colo_packet_decode (&pkt, v6_short, sizeof v6_short, NULL), COLO_PKT_OK);
    ck_assert_int_eq (colo_flow_key_hash (&k6, &h6, &pkt, v6_short, 5), 0);
    memcpy (&k4, &k6, sizeof k4);
    k4.family = 4;
    h4 = colo_flow_hash (&k4, 5);
    ck_assert_uint_ne (h4, h6);
    //  No IP layer: -1, key zeroed, hash untouched.
    ck_assert_int_eq (colo_packet_decode (&pkt, s_arp_req, sizeof s_arp_req, NULL), COLO_PKT_OK);
    memset (&k4, 0xff, sizeof k4);
    h4 = 77;
    ck_assert_int_eq (colo_flow_key_hash (&k4, &h4, &pkt, s_arp_req, 5), -1);
    static const colo_flow_key_t zero;
    ck_assert_int_eq (memcmp (&k4, &zero, sizeof k4), 0);
    ck_assert_uint_eq (h4, 77);
}
END_TEST

//  A guest's TCP segment (proto 6) or UDP datagram (17) of 10 payload
//  bytes, IPv6 or not, TCP with 12 bytes of options (opts, NULL for none),
//  padded to pad bytes; tci: in a VLAN tag with that TCI (0: untagged).
static colo_buf_t *
s_shortcut_segment (uint8_t proto, int v6, uint16_t tci, const uint8_t *opts, size_t pad)
{
    colo_test_pkt_t spec;
    memset (&spec, 0, sizeof spec);
    spec.v6 = v6;
    spec.vlan = tci;
    spec.proto = proto;
    spec.from_guest = 1;
    spec.seq = 100;
    spec.ack = 200;
    spec.flags = COLO_TCP_ACK | COLO_TCP_PSH;
    spec.payload = "0123456789";
    spec.len = 10;
    spec.pad_to = pad;
    if (opts) {
        spec.tcp_opts = opts;
        spec.tcp_opts_len = 12;
    }
    colo_buf_t *buf = colo_test_packet (&spec);
    ck_assert_ptr_nonnull (buf);
    return buf;
}

//  colo_packet_tcp6 if v6, else colo_packet_tcp4.
static int
s_light (int v6, colo_tcp_seg_t *seg, const uint8_t *frame, size_t len)
{
    return v6 ? colo_packet_tcp6 (seg, frame, len) : colo_packet_tcp4 (seg, frame, len);
}

//  buf's frame copied to frame, then (k > 0) its byte at changed, or when
//  at is its length, cut to a random length; returns the length.
static size_t
s_mutant (uint8_t *frame, colo_buf_t *buf, size_t at, int k, uint64_t *rng)
{
    size_t len = colo_buf_frame_len (buf);
    memcpy (frame, colo_buf_frame (buf), len);
    if (at < len && k > 0)
        frame[at] = (uint8_t) colo_test_rand (rng);
    else if (at == len && k > 0)
        return (size_t) (colo_test_rand (rng) % (len + 1));
    return len;
}

//  _i 0: the decoder's one-pass shortcut for plain IPv4 TCP gives exactly
//  what its general path gives, and colo_packet_tcp4 takes just those
//  frames and finds the same in them, key and hash included.  _i 1: the
//  same of colo_packet_tcp6 and the IPv6 TCP segments without extension
//  headers.  _i 2 and 3: the same in a VLAN tag (its priority bits set,
//  which are not the VLAN id).  On segments with and without options,
//  padded, on every single-byte change of their first bytes (Ethernet, the
//  tag, IP, TCP and the first options: each condition of the shortcuts and
//  each error of the general path) and cut to every length (the IP length
//  then says more than is there).
START_TEST (test_plain_tcp_shortcut)
{
    int v6 = _i & 1;
    uint16_t tci = _i & 2 ? 0xa123 : 0;   //  priority 5, VLAN 0x123
    static const uint8_t opts[][12] = {
        {1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9},        //  NOP NOP TS
        {2, 4, 5, 0xb4, 3, 3, 7, 4, 2, 1, 0, 0},       //  MSS WS SACK-perm
        {5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1},         //  SACK one block
        {9, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},          //  bad length
    };
    static const size_t pads[] = {0, 40, 80, 100};
    const size_t l3 = tci ? 18 : 14;
    const size_t l4 = l3 + (v6 ? 40 : 20);
    uint64_t rng = (v6 ? 0x8765432112345678ull : 0x1234567887654321ull) + (uint64_t) tci;
    int variants = 0, lite = 0;
    colo_tcp_seg_t seg, other;
    for (int o = -1; o < 4; o++)
        for (size_t p = 0; p < sizeof pads / sizeof pads[0]; p++) {
            colo_buf_t *buf = s_shortcut_segment (6, v6, tci, o >= 0 ? opts[o] : NULL, pads[p]);
            uint8_t frame[224];
            size_t len = colo_buf_frame_len (buf);
            ck_assert_uint_le (len, sizeof frame);
            //  The unchanged segment is taken.
            ck_assert_int_eq (s_light (v6, &seg, colo_buf_frame (buf), len), 1);
            ck_assert_uint_eq (seg.l3_off, l3);
            ck_assert_uint_eq (seg.l4_off, l4);
            ck_assert_uint_eq (seg.vlan, tci & 0x0fff);
            ck_assert_uint_eq (seg.payload_len, 10);
            if (tci) {
                //  An 802.1ad tag is taken too; a second tag inside it is not.
                ck_assert_uint_le (len + 4, sizeof frame);
                memcpy (frame, colo_buf_frame (buf), len);
                colo_put_be16 (frame + 12, COLO_ETHERTYPE_QINQ);
                ck_assert_int_eq (s_light (v6, &seg, frame, len), 1);
                ck_assert_ptr_null (colo_test_light_differs (frame, len, v6));
                memcpy (frame + 16, colo_buf_frame (buf) + 12, len - 12);
                ck_assert_int_eq (s_light (v6, &seg, frame, len + 4), 0);
                ck_assert_ptr_null (colo_test_light_differs (frame, len + 4, v6));
            }
            for (size_t at = 0; at <= l4 + 30 && at <= len; at++)
                for (int k = 0; k < 4; k++) {
                    size_t flen = s_mutant (frame, buf, at, k, &rng);
                    colo_packet_t a, b;
                    colo_pkt_result_t ra = colo_packet_decode (&a, frame, flen, NULL);
                    colo_pkt_result_t rb = colo_packet_decode_general (&b, frame, flen);
                    ck_assert_int_eq (ra, rb);
                    ck_assert_mem_eq (&a, &b, sizeof a);
                    const char *differs = colo_test_light_differs (frame, flen, v6);
                    ck_assert_msg (!differs, "colo_packet_tcp%d differs: %s (byte %zu)",
                                   v6 ? 6 : 4, differs, at);
                    int took = s_light (v6, &seg, frame, flen);
                    ck_assert (!(took && s_light (!v6, &other, frame, flen)));   //  never both
                    lite += took;
                    variants++;
                }
            for (size_t flen = 0; flen <= len; flen++) {
                const char *differs = colo_test_light_differs (colo_buf_frame (buf), flen, v6);
                ck_assert_msg (!differs, "colo_packet_tcp%d differs: %s (cut to %zu)",
                               v6 ? 6 : 4, differs, flen);
            }
            colo_buf_destroy (&buf);
        }
    ck_assert_int_gt (variants, 1000);
    ck_assert_int_gt (lite, variants / 4);
    ck_assert_int_lt (lite, variants);
}
END_TEST

//  colo_packet_udp takes just the UDP datagrams of its shape (_i 0 IPv4,
//  1 IPv6, 2 and 3 the same in a VLAN tag) and finds in them what the
//  decoder finds, key and hash included: unchanged, padded, on every
//  single-byte change of the Ethernet, tag, IP and UDP headers, and cut to
//  every length.
START_TEST (test_plain_udp_shortcut)
{
    int v6 = _i & 1;
    uint16_t tci = _i & 2 ? 0x6456 : 0;   //  priority 3, VLAN 0x456
    static const size_t pads[] = {0, 60, 90};
    const size_t l4 = (tci ? 18 : 14) + (v6 ? 40 : 20);
    uint64_t rng = 0x5555aaaa1234abcdull + (uint64_t) _i;
    int variants = 0, lite = 0;
    colo_udp_seg_t seg;
    for (size_t p = 0; p < sizeof pads / sizeof pads[0]; p++) {
        colo_buf_t *buf = s_shortcut_segment (17, v6, tci, NULL, pads[p]);
        size_t len = colo_buf_frame_len (buf);
        uint8_t frame[128];
        ck_assert_uint_le (len, sizeof frame);
        ck_assert_int_eq (colo_packet_udp (&seg, colo_buf_frame (buf), len), 1);
        ck_assert_uint_eq (seg.l4_off, l4);
        ck_assert_uint_eq (seg.vlan, tci & 0x0fff);
        ck_assert_uint_eq (seg.payload_len, 10);
        ck_assert_int_eq (seg.info != 0, len > l4 + 18);   //  padded to pads[p]
        for (size_t at = 0; at < l4 + 8; at++)
            for (int k = 0; k < 4; k++) {
                size_t flen = s_mutant (frame, buf, at, k, &rng);
                const char *differs = colo_test_udp_differs (frame, flen);
                ck_assert_msg (!differs, "colo_packet_udp differs: %s (byte %zu)", differs, at);
                lite += colo_packet_udp (&seg, frame, flen);
                variants++;
            }
        for (size_t flen = 0; flen <= len; flen++) {
            const char *differs = colo_test_udp_differs (colo_buf_frame (buf), flen);
            ck_assert_msg (!differs, "colo_packet_udp differs: %s (cut to %zu)", differs, flen);
        }
        colo_buf_destroy (&buf);
    }
    ck_assert_int_gt (variants, 300);
    ck_assert_int_gt (lite, variants / 4);
    ck_assert_int_lt (lite, variants);
}
END_TEST

Suite *
colo_packet_suite (void)
{
    Suite *s = suite_create ("colo_packet");
    TCase *tc = tcase_create ("decode");
    tcase_add_test (tc, test_v4_tcp_syn);
    tcase_add_test (tc, test_v4_tcp_sack);
    tcase_add_test (tc, test_v4_udp_icmp);
    tcase_add_test (tc, test_v6_tcp_ext);
    tcase_add_test (tc, test_v6_udp_icmp);
    tcase_add_test (tc, test_v6_esp_nonext);
    tcase_add_test (tc, test_arp);
    tcase_add_test (tc, test_other_ethertype);
    tcase_add_test (tc, test_vlan);
    tcase_add_test (tc, test_padding);
    tcase_add_test (tc, test_fragments);
    tcase_add_loop_test (tc, test_plain_tcp_shortcut, 0, 4);
    tcase_add_loop_test (tc, test_plain_udp_shortcut, 0, 4);
    tcase_add_test (tc, test_names);
    suite_add_tcase (s, tc);
    tc = tcase_create ("malformed");
    tcase_add_test (tc, test_truncated_everywhere);
    tcase_add_test (tc, test_runt);
    tcase_add_test (tc, test_ipv4_malformed);
    tcase_add_test (tc, test_ipv4_options);
    tcase_add_test (tc, test_ipv6_malformed);
    tcase_add_test (tc, test_tcp_malformed);
    tcase_add_test (tc, test_tcp_options);
    tcase_add_test (tc, test_udp_icmp_malformed);
    tcase_add_test (tc, test_64k_frames);
    suite_add_tcase (s, tc);
    tc = tcase_create ("flow");
    tcase_add_test (tc, test_flow_key_directions);
    tcase_add_test (tc, test_flow_key_vlan_icmp);
    tcase_add_test (tc, test_flow_key_str_truncation);
    tcase_add_test (tc, test_flow_hash);
    tcase_add_test (tc, test_flow_key_hash);
    tcase_set_timeout (tc, 60);
    suite_add_tcase (s, tc);
    return s;
}
