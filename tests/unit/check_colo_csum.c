/*  check_colo_csum.c - tests for the Internet checksums.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  The literal frames carry checksums computed by a separate, byte-wise
 *  implementation (the script that built them), so "expected == stored"
 *  checks the fast code against an independent one.  Incremental updates
 *  are checked against full recomputation for many random field changes
 *  (deterministic PRNG).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "colo_csum.h"
#include "colo_packet.h"
#include "colo_test.h"
#include "test_frames.h"

//  v4_udp_zero (48 bytes)
static const uint8_t s_v4_udp_zero[] = {
    0x52, 0x54, 0x00, 0x65, 0x43, 0x21, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x22, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11,
    0x14, 0x95, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0x04, 0x57,
    0x08, 0xae, 0x00, 0x0e, 0xff, 0xff, 0x7a, 0x65, 0x72, 0x6f, 0xf1, 0xf5,
};

//  v4_udp_odd (45 bytes)
static const uint8_t s_v4_udp_odd[] = {
    0x52, 0x54, 0x00, 0x65, 0x43, 0x21, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x1f, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11,
    0x14, 0x98, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0x04, 0x57,
    0x08, 0xae, 0x00, 0x0b, 0x0b, 0x6c, 0x6f, 0x64, 0x64,
};

//  ------------------------------------------------------------ helpers

//  The obvious byte-wise RFC 1071 sum, folded to 16 bits (0 only for
//  all-zero input): the reference the fast code is checked against.
static uint32_t
s_ref_sum (const uint8_t *p, size_t len, uint32_t sum)
{
    uint64_t s = sum;
    for (size_t i = 0; i + 1 < len; i += 2)
        s += (uint32_t) (p[i] << 8 | p[i + 1]);
    if (len & 1)
        s += (uint32_t) p[len - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint32_t) s;
}

static uint8_t *
s_dup (const uint8_t *data, size_t len)
{
    uint8_t *copy = malloc (len);
    ck_assert_ptr_nonnull (copy);
    memcpy (copy, data, len);
    return copy;
}

typedef struct {
    const char *name;
    const uint8_t *data;
    size_t len;
} s_frame_t;

#define S_FRAME(x) {#x, s_##x, sizeof (s_##x)}
//  Frames whose checksums are all complete and right.
static const s_frame_t s_good[] = {
    S_FRAME (v4_tcp_syn),      S_FRAME (v4_tcp_sack),  S_FRAME (v4_udp),
    S_FRAME (v4_udp_zero),     S_FRAME (v4_udp_odd),   S_FRAME (v4_icmp_echo),
    S_FRAME (v4_icmp_unreach), S_FRAME (v6_tcp_ext),   S_FRAME (v6_udp),
    S_FRAME (v6_icmp_echo),    S_FRAME (v6_icmp_ns),   S_FRAME (v6_ah_icmp),
    S_FRAME (vlan_v4_tcp),     S_FRAME (qinq_v4_udp),  S_FRAME (v4_ack_padded),
};
#define S_NGOOD (sizeof (s_good) / sizeof (s_good[0]))

//  ------------------------------------------------------------ sums

START_TEST (test_rfc1071_example)
{
    //  RFC 1071 §3: 0001 f203 f4f5 f6f7 sums to ddf2.
    static const uint8_t data[] = {0x00, 0x01, 0xf2, 0x03,
                                   0xf4, 0xf5, 0xf6, 0xf7};
    ck_assert_uint_eq (colo_csum_partial (data, sizeof data, 0), 0xddf2);
    ck_assert_uint_eq (colo_csum_fold (0xddf2), 0x220d);
    ck_assert_uint_eq (colo_csum_fold (0x2ddf0), 0x220d);
    ck_assert_uint_eq (colo_csum_fold (0xffffffffu), 0);
    ck_assert_uint_eq (colo_csum_fold (0), 0xffff);
    //  Odd lengths: the last byte is the high byte of a padded word.
    static const uint8_t one[] = {0xab};
    ck_assert_uint_eq (colo_csum_partial (one, 1, 0), 0xab00);
    static const uint8_t three[] = {0x01, 0x02, 0x03};
    ck_assert_uint_eq (colo_csum_partial (three, 3, 0), 0x0402);
    ck_assert_uint_eq (colo_csum_partial (three, 0, 0x1234), 0x1234);
    ck_assert_uint_eq (colo_csum_partial (three, 3, 0xfffe), 0x0401);
}
END_TEST

START_TEST (test_partial_vs_reference)
{
    enum { CAP = 70000 };
    uint8_t *buf = malloc (CAP);
    ck_assert_ptr_nonnull (buf);
    uint64_t rng = 0xc0ffee;
    for (size_t i = 0; i < CAP; i++)
        buf[i] = (uint8_t) colo_test_rand (&rng);
    //  Every length up to 300 at every alignment, with and without a
    //  starting sum.
    for (size_t off = 0; off < 8; off++)
        for (size_t len = 0; len <= 300; len++) {
            uint32_t start = (uint32_t) (len * 2654435761u);
            ck_assert_uint_eq (colo_csum_fold (colo_csum_partial (buf + off,
                                                                  len, 0)),
                               colo_csum_fold (s_ref_sum (buf + off, len, 0)));
            ck_assert_uint_eq (colo_csum_fold (colo_csum_partial (buf + off,
                                                                  len, start)),
                               colo_csum_fold (s_ref_sum (buf + off, len,
                                                          start)));
        }
    //  Large lengths, odd and even, and chaining at even split points.
    static const size_t lens[] = {1499, 1500, 9001, 65535, 65536, CAP - 3};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        size_t len = lens[i];
        uint32_t ref = s_ref_sum (buf + 3, len, 0);
        ck_assert_uint_eq (colo_csum_partial (buf + 3, len, 0), ref);
        uint32_t s = colo_csum_partial (buf + 3, 1000, 0);
        s = colo_csum_partial (buf + 1003, len - 1000, s);
        ck_assert_uint_eq (colo_csum_fold (s), colo_csum_fold (ref));
    }
    //  Extremes: all zeros sum to 0, all ones to 0xffff.
    memset (buf, 0, 4096);
    ck_assert_uint_eq (colo_csum_partial (buf, 4096, 0), 0);
    ck_assert_uint_eq (colo_csum_fold (colo_csum_partial (buf, 4096, 0)),
                       0xffff);
    memset (buf, 0xff, 4097);
    ck_assert_uint_eq (colo_csum_partial (buf, 4096, 0), 0xffff);
    ck_assert_uint_eq (colo_csum_partial (buf, 4097, 0),
                       s_ref_sum (buf, 4097, 0));
    free (buf);
}
END_TEST

START_TEST (test_pseudo)
{
    static const uint8_t a4[4] = {10, 0, 0, 1}, b4[4] = {192, 168, 200, 255};
    uint8_t ph[40];
    //  IPv4: src, dst, zero, proto, 16-bit length.
    memcpy (ph, a4, 4);
    memcpy (ph + 4, b4, 4);
    ph[8] = 0;
    ph[9] = 6;
    colo_put_be16 (ph + 10, 1480);
    ck_assert_uint_eq (colo_csum_fold (colo_csum_pseudo (a4, b4, 4, 6, 1480)),
                       colo_csum_fold (s_ref_sum (ph, 12, 0)));
    //  IPv6: src, dst, 32-bit length, three zeros, next header.
    uint8_t a6[16], b6[16];
    for (int i = 0; i < 16; i++) {
        a6[i] = (uint8_t) (0x20 + 17 * i);
        b6[i] = (uint8_t) (0xfe - 9 * i);
    }
    static const uint32_t lens[] = {0, 8, 1500, 65535, 65536, 0x12345678};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        memcpy (ph, a6, 16);
        memcpy (ph + 16, b6, 16);
        colo_put_be32 (ph + 32, lens[i]);
        ph[36] = ph[37] = ph[38] = 0;
        ph[39] = 58;
        ck_assert_uint_eq (
            colo_csum_fold (colo_csum_pseudo (a6, b6, 16, 58, lens[i])),
            colo_csum_fold (s_ref_sum (ph, 40, 0)));
    }
}
END_TEST

//  ------------------------------------------------------------ packets

START_TEST (test_known_packets)
{
    for (size_t i = 0; i < S_NGOOD; i++) {
        const s_frame_t *f = &s_good[i];
        uint8_t *frame = s_dup (f->data, f->len);
        colo_packet_t pkt;
        ck_assert_int_eq (colo_packet_decode (&pkt, frame, f->len, NULL),
                          COLO_PKT_OK);
        if (pkt.l3 == COLO_L3_IPV4)
            ck_assert_uint_eq (colo_csum_ipv4_header (frame + pkt.l3_off,
                                                      pkt.l3_hdr_len),
                               colo_get_be16 (frame + pkt.l3_off + 10));
        uint32_t field = colo_csum_l4_field (&pkt);
        ck_assert_uint_ne (field, 0);
        ck_assert_msg (colo_csum_l4_expected (&pkt, frame)
                           == colo_get_be16 (frame + field),
                       "%s: expected %04x, stored %04x", f->name,
                       colo_csum_l4_expected (&pkt, frame),
                       colo_get_be16 (frame + field));
        ck_assert_int_eq (colo_csum_l4_verify (&pkt, frame), 1);
        //  fix rewrites the same values.
        ck_assert_int_eq (colo_csum_fix (&pkt, frame), 0);
        ck_assert_int_eq (memcmp (frame, f->data, f->len), 0);
        //  One flipped payload bit is caught.
        if (pkt.payload_len) {
            frame[pkt.payload_off] ^= 0x10;
            ck_assert_int_eq (colo_csum_l4_verify (&pkt, frame), 0);
            ck_assert_int_ne (colo_csum_l4_expected (&pkt, frame),
                              colo_get_be16 (frame + field));
        }
        free (frame);
    }
    //  The UDP datagram whose sum is 0 carries 0xffff.
    colo_packet_t pkt;
    ck_assert_int_eq (colo_packet_decode (&pkt, s_v4_udp_zero,
                                          sizeof s_v4_udp_zero, NULL),
                      COLO_PKT_OK);
    ck_assert_int_eq (colo_csum_l4_expected (&pkt, s_v4_udp_zero), 0xffff);
}
END_TEST

START_TEST (test_fields)
{
    colo_packet_t pkt;
    ck_assert_int_eq (colo_packet_decode (&pkt, s_v4_tcp_syn,
                                          sizeof s_v4_tcp_syn, NULL),
                      COLO_PKT_OK);
    ck_assert_uint_eq (colo_csum_l4_field (&pkt), 42 + 16);
    ck_assert_int_eq (colo_packet_decode (&pkt, s_v6_udp, sizeof s_v6_udp,
                                          NULL),
                      COLO_PKT_OK);
    ck_assert_uint_eq (colo_csum_l4_field (&pkt), 54 + 6);
    ck_assert_int_eq (colo_packet_decode (&pkt, s_v6_icmp_ns,
                                          sizeof s_v6_icmp_ns, NULL),
                      COLO_PKT_OK);
    ck_assert_uint_eq (colo_csum_l4_field (&pkt), 54 + 2);
    ck_assert_int_eq (colo_packet_decode (&pkt, s_arp_req, sizeof s_arp_req,
                                          NULL),
                      COLO_PKT_OK);
    ck_assert_uint_eq (colo_csum_l4_field (&pkt), 0);
    ck_assert_int_eq (colo_csum_l4_expected (&pkt, s_arp_req), -1);
    ck_assert_int_eq (colo_csum_l4_verify (&pkt, s_arp_req), -1);
    uint8_t *frame = s_dup (s_arp_req, sizeof s_arp_req);
    ck_assert_int_eq (colo_csum_fix (&pkt, frame), -1);
    ck_assert_int_eq (memcmp (frame, s_arp_req, sizeof s_arp_req), 0);
    free (frame);
}
END_TEST

//  Corrupt the checksum fields, fix, get the original back.
START_TEST (test_fix)
{
    for (size_t i = 0; i < S_NGOOD; i++) {
        const s_frame_t *f = &s_good[i];
        uint8_t *frame = s_dup (f->data, f->len);
        colo_packet_t pkt;
        ck_assert_int_eq (colo_packet_decode (&pkt, frame, f->len, NULL),
                          COLO_PKT_OK);
        uint32_t field = colo_csum_l4_field (&pkt);
        colo_put_be16 (frame + field, 0x1357);
        if (pkt.l3 == COLO_L3_IPV4)
            colo_put_be16 (frame + pkt.l3_off + 10, 0x2468);
        ck_assert_int_eq (colo_csum_l4_verify (&pkt, frame), 0);
        ck_assert_int_eq (colo_csum_fix (&pkt, frame), 0);
        ck_assert_msg (memcmp (frame, f->data, f->len) == 0, "%s", f->name);
        free (frame);
    }
}
END_TEST

START_TEST (test_udp_zero)
{
    colo_packet_t pkt;
    //  UDP/IPv4 without checksum: verifies, and fix leaves it alone.
    uint8_t *frame = s_dup (s_v4_udp, sizeof s_v4_udp);
    ck_assert_int_eq (colo_packet_decode (&pkt, frame, sizeof s_v4_udp, NULL),
                      COLO_PKT_OK);
    colo_put_be16 (frame + 40, 0);
    ck_assert_int_eq (colo_csum_l4_verify (&pkt, frame), 1);
    colo_put_be16 (frame + 24, 0);   //  the IP header checksum is fixed
    ck_assert_int_eq (colo_csum_fix (&pkt, frame), 0);
    ck_assert_uint_eq (colo_get_be16 (frame + 40), 0);
    ck_assert_uint_eq (colo_get_be16 (frame + 24),
                       colo_get_be16 (s_v4_udp + 24));
    //  A computed 0 is stored as 0xffff.
    memcpy (frame, s_v4_udp_zero, sizeof s_v4_udp_zero);
    ck_assert_int_eq (colo_packet_decode (&pkt, frame, sizeof s_v4_udp_zero,
                                          NULL),
                      COLO_PKT_OK);
    colo_put_be16 (frame + 40, 0x1111);
    ck_assert_int_eq (colo_csum_fix (&pkt, frame), 0);
    ck_assert_uint_eq (colo_get_be16 (frame + 40), 0xffff);
    free (frame);
    //  UDP/IPv6 must have a checksum: 0 is wrong and gets fixed.
    frame = s_dup (s_v6_udp, sizeof s_v6_udp);
    ck_assert_int_eq (colo_packet_decode (&pkt, frame, sizeof s_v6_udp, NULL),
                      COLO_PKT_OK);
    colo_put_be16 (frame + 60, 0);
    ck_assert_int_eq (colo_csum_l4_verify (&pkt, frame), 0);
    ck_assert_int_eq (colo_csum_fix (&pkt, frame), 0);
    ck_assert_int_eq (memcmp (frame, s_v6_udp, sizeof s_v6_udp), 0);
    free (frame);
}
END_TEST

//  The segment is bounded by the IP length: padding does not count.
START_TEST (test_padding_ignored)
{
    uint8_t *frame = s_dup (s_v4_ack_padded, sizeof s_v4_ack_padded);
    memset (frame + 54, 0xab, 6);
    colo_packet_t pkt;
    ck_assert_int_eq (colo_packet_decode (&pkt, frame, 60, NULL), COLO_PKT_OK);
    ck_assert_uint_eq (pkt.trailer_len, 6);
    ck_assert_int_eq (colo_csum_l4_verify (&pkt, frame), 1);
    ck_assert_int_eq (colo_csum_l4_expected (&pkt, frame),
                      colo_get_be16 (frame + 50));
    ck_assert_int_eq (colo_csum_fix (&pkt, frame), 0);
    ck_assert_int_eq (memcmp (frame, s_v4_ack_padded, 54), 0);
    free (frame);
    //  Likewise bytes after a UDP datagram shorter than its IP payload.
    uint8_t f[sizeof s_v4_udp_odd + 4];
    memcpy (f, s_v4_udp_odd, sizeof s_v4_udp_odd);
    memset (f + sizeof s_v4_udp_odd, 0x77, 4);
    colo_put_be16 (f + 16, colo_get_be16 (f + 16) + 4);   //  IP length + 4
    ck_assert_int_eq (colo_packet_decode (&pkt, f, sizeof f, NULL), COLO_PKT_OK);
    ck_assert_uint_eq (pkt.trailer_len, 0);
    ck_assert_uint_eq (pkt.payload_len, 3);
    ck_assert_int_eq (colo_csum_l4_verify (&pkt, f), 1);
}
END_TEST

START_TEST (test_fragments)
{
    colo_packet_t pkt;
    uint8_t *frame = s_dup (s_v4_frag_first, sizeof s_v4_frag_first);
    ck_assert_int_eq (colo_packet_decode (&pkt, frame, sizeof s_v4_frag_first,
                                          NULL),
                      COLO_PKT_OK);
    ck_assert_int_eq (colo_csum_l4_expected (&pkt, frame), -1);
    ck_assert_int_eq (colo_csum_l4_verify (&pkt, frame), -1);
    frame[24] ^= 0xff;
    ck_assert_int_eq (colo_csum_fix (&pkt, frame), 0);   //  IP header only
    ck_assert_int_eq (memcmp (frame, s_v4_frag_first, sizeof s_v4_frag_first),
                      0);
    free (frame);
    frame = s_dup (s_v6_frag_first, sizeof s_v6_frag_first);
    ck_assert_int_eq (colo_packet_decode (&pkt, frame, sizeof s_v6_frag_first,
                                          NULL),
                      COLO_PKT_OK);
    ck_assert_int_eq (colo_csum_fix (&pkt, frame), -1);
    free (frame);
}
END_TEST

//  A packet description that did not come from the decoder must not make
//  the checksum code touch memory outside the frame.
START_TEST (test_bogus_pkt)
{
    uint8_t *frame = s_dup (s_v4_tcp_syn, sizeof s_v4_tcp_syn);
    colo_packet_t pkt;
    ck_assert_int_eq (colo_packet_decode (&pkt, frame, sizeof s_v4_tcp_syn,
                                          NULL),
                      COLO_PKT_OK);
    colo_packet_t bad = pkt;
    bad.payload_len = 1000;
    ck_assert_int_eq (colo_csum_l4_expected (&bad, frame), -1);
    bad = pkt;
    bad.l3_end = 1000;
    ck_assert_int_eq (colo_csum_l4_expected (&bad, frame), -1);
    bad = pkt;
    bad.src_off = 80;
    ck_assert_int_eq (colo_csum_l4_verify (&bad, frame), -1);
    bad = pkt;
    bad.l4_off = bad.payload_off - 1;   //  checksum field past the end
    ck_assert_int_eq (colo_csum_l4_expected (&bad, frame), -1);
    bad = pkt;
    bad.l3_off = 70;
    bad.l4 = COLO_L4_NONE;
    ck_assert_int_eq (colo_csum_fix (&bad, frame), -1);
    ck_assert_int_eq (colo_csum_l4_expected (NULL, frame), -1);
    ck_assert_int_eq (colo_csum_fix (&pkt, NULL), -1);
    ck_assert_int_eq (memcmp (frame, s_v4_tcp_syn, sizeof s_v4_tcp_syn), 0);
    free (frame);
}
END_TEST

//  ------------------------------------------------------------ incremental

START_TEST (test_rfc1624_example)
{
    //  RFC 1624 §4: HC 0xdd2f, m 0x5555 -> m' 0x3285 gives 0x0000.
    uint8_t c[2];
    colo_put_be16 (c, 0xdd2f);
    colo_csum_update16 (c, 0x5555, 0x3285);
    ck_assert_uint_eq (colo_get_be16 (c), 0x0000);
    //  No change leaves a computed checksum as it is.
    colo_put_be16 (c, 0x1234);
    colo_csum_update16 (c, 0xabcd, 0xabcd);
    ck_assert_uint_eq (colo_get_be16 (c), 0x1234);
    colo_csum_update32 (c, 0xdeadbeef, 0xdeadbeef);
    ck_assert_uint_eq (colo_get_be16 (c), 0x1234);
}
END_TEST

//  Change random fields of a packet many times, updating the checksums
//  incrementally; after each change they equal a full recomputation.
static void
s_random_updates (const uint8_t *orig, size_t len, uint64_t seed, int rounds)
{
    uint8_t *frame = s_dup (orig, len);
    colo_packet_t pkt;
    ck_assert_int_eq (colo_packet_decode (&pkt, frame, len, NULL), COLO_PKT_OK);
    uint8_t *l4csum = frame + colo_csum_l4_field (&pkt);
    uint8_t *ipcsum = pkt.l3 == COLO_L3_IPV4 ? frame + pkt.l3_off + 10 : NULL;
    int udp = pkt.l4 == COLO_L4_UDP;
    uint64_t rng = seed;
    for (int r = 0; r < rounds; r++) {
        uint64_t x = colo_test_rand (&rng);
        uint32_t nv = (uint32_t) (x >> 32);
        //  A field: (offset, width, covered by IP header, covered by L4).
        uint32_t off = 0;
        int width = 0, in_ip = 0, in_l4 = 0;
        switch (x % 8) {
            case 0:   //  TCP seq / UDP ports
                off = pkt.l4_off + (udp ? 0 : 4);
                width = 32;
                in_l4 = 1;
                break;
            case 1:   //  TCP ack / UDP length..checksum: use the ports
                off = pkt.l4_off + (udp ? 0 : 8);
                width = udp ? 16 : 32;
                in_l4 = 1;
                break;
            case 2:   //  TCP window / UDP dport
                off = pkt.l4_off + (udp ? 2 : 14);
                width = 16;
                in_l4 = 1;
                break;
            case 3:   //  a payload or option word (TS or SACK when present)
                if (pkt.tcp_sack_count)
                    off = pkt.tcp_sack_off + 4 * (uint32_t) (x >> 8 & 3);
                else if (pkt.tcp_has_ts)
                    off = pkt.tcp_ts_off + 4 * (uint32_t) (x >> 8 & 1);
                else
                    off = pkt.payload_off;
                width = pkt.payload_len >= 4 || off != pkt.payload_off ? 32
                                                                        : 0;
                in_l4 = 1;
                break;
            case 4:   //  source address word (pseudo-header)
            case 5:   //  destination address word
                off = (x % 8 == 4 ? pkt.src_off : pkt.dst_off)
                      + 4 * (uint32_t) ((x >> 8) % (pkt.addr_len / 4));
                width = 32;
                in_ip = pkt.l3 == COLO_L3_IPV4;
                in_l4 = pkt.l4 != COLO_L4_ICMP;
                break;
            case 6:   //  IPv4 id or IPv6 flow label word
                off = pkt.l3_off + 4;
                width = pkt.l3 == COLO_L3_IPV4 ? 16 : 0;
                in_ip = 1;
                break;
            default:   //  IPv4 TTL+protocol word: change only the TTL
                if (pkt.l3 == COLO_L3_IPV4) {
                    off = pkt.l3_off + 8;
                    nv = (nv & 0xff00) | frame[off + 1];
                    width = 16;
                    in_ip = 1;
                }
                break;
        }
        //  Stay inside the segment (short ICMP/UDP) and off the checksum.
        uint32_t seg_end = pkt.payload_off + pkt.payload_len;
        if (width == 0 || (in_l4 && off + (uint32_t) width / 8 > seg_end))
            continue;
        if (width == 32) {
            uint32_t ov = colo_get_be32 (frame + off);
            colo_put_be32 (frame + off, nv);
            if (in_ip)
                colo_csum_update32 (ipcsum, ov, nv);
            if (in_l4)
                colo_csum_update32 (l4csum, ov, nv);
        }
        else {
            uint16_t ov = colo_get_be16 (frame + off);
            colo_put_be16 (frame + off, (uint16_t) nv);
            if (in_ip)
                colo_csum_update16 (ipcsum, ov, (uint16_t) nv);
            if (in_l4)
                colo_csum_update16 (l4csum, ov, (uint16_t) nv);
        }
        if (udp && colo_get_be16 (l4csum) == 0)
            colo_put_be16 (l4csum, 0xffff);   //  the caller's duty for UDP
        //  Lengths did not change, so the decoded extents still hold.
        if (ipcsum)
            ck_assert_uint_eq (colo_get_be16 (ipcsum),
                               colo_csum_ipv4_header (frame + pkt.l3_off,
                                                      pkt.l3_hdr_len));
        ck_assert_msg (colo_get_be16 (l4csum)
                           == colo_csum_l4_expected (&pkt, frame),
                       "round %d field at %u: %04x != %04x", r, off,
                       colo_get_be16 (l4csum),
                       colo_csum_l4_expected (&pkt, frame));
    }
    free (frame);
}

START_TEST (test_incremental)
{
    for (size_t i = 0; i < S_NGOOD; i++)
        s_random_updates (s_good[i].data, s_good[i].len, 0x5eed + i, 3000);
}
END_TEST

//  ------------------------------------------------------------ 64 KiB

static uint8_t *
s_big (int v6, size_t *len_out)
{
    size_t len = v6 ? 14 + 40 + 65535 : 14 + 65535;
    uint8_t *f = malloc (len);
    ck_assert_ptr_nonnull (f);
    uint64_t rng = 77 + (uint64_t) v6;
    for (size_t i = 0; i < len; i++)
        f[i] = (uint8_t) colo_test_rand (&rng);
    if (v6) {
        memcpy (f, s_v6_tcp_ext, 54);
        f[20] = COLO_IPPROTO_TCP;
        colo_put_be16 (f + 18, 65535);
    }
    else {
        memcpy (f, s_v4_tcp_sack, 34);
        colo_put_be16 (f + 16, 65535);
    }
    f[(v6 ? 54 : 34) + 12] = 0x50;
    *len_out = len;
    return f;
}

START_TEST (test_64k)
{
    for (int v6 = 0; v6 < 2; v6++) {
        size_t len;
        uint8_t *f = s_big (v6, &len);
        colo_packet_t pkt;
        ck_assert_int_eq (colo_packet_decode (&pkt, f, len, NULL), COLO_PKT_OK);
        ck_assert_int_eq (colo_csum_fix (&pkt, f), 0);
        ck_assert_int_eq (colo_csum_l4_verify (&pkt, f), 1);
        //  Against the reference: pseudo-header + segment sums to 0xffff.
        uint32_t seg = pkt.l3_end - pkt.l4_off;
        uint8_t ph[40];
        size_t a = pkt.addr_len;
        memcpy (ph, f + pkt.src_off, a);
        memcpy (ph + a, f + pkt.dst_off, a);
        if (v6) {
            colo_put_be32 (ph + 32, seg);
            ph[36] = ph[37] = ph[38] = 0;
            ph[39] = COLO_IPPROTO_TCP;
        }
        else {
            ph[8] = 0;
            ph[9] = COLO_IPPROTO_TCP;
            colo_put_be16 (ph + 10, (uint16_t) seg);
        }
        uint32_t s = s_ref_sum (ph, v6 ? 40 : 12, 0);
        s = s_ref_sum (f + pkt.l4_off, seg, s);
        ck_assert_uint_eq (s, 0xffff);
        if (!v6)
            ck_assert_uint_eq (s_ref_sum (f + 14, 20, 0), 0xffff);
        free (f);
    }
}
END_TEST

Suite *
colo_csum_suite (void)
{
    Suite *s = suite_create ("colo_csum");
    TCase *tc = tcase_create ("sum");
    tcase_add_test (tc, test_rfc1071_example);
    tcase_add_test (tc, test_partial_vs_reference);
    tcase_add_test (tc, test_pseudo);
    suite_add_tcase (s, tc);
    tc = tcase_create ("packet");
    tcase_add_test (tc, test_known_packets);
    tcase_add_test (tc, test_fields);
    tcase_add_test (tc, test_fix);
    tcase_add_test (tc, test_udp_zero);
    tcase_add_test (tc, test_padding_ignored);
    tcase_add_test (tc, test_fragments);
    tcase_add_test (tc, test_bogus_pkt);
    tcase_add_test (tc, test_64k);
    suite_add_tcase (s, tc);
    tc = tcase_create ("incremental");
    tcase_add_test (tc, test_rfc1624_example);
    tcase_add_test (tc, test_incremental);
    tcase_set_timeout (tc, 60);
    suite_add_tcase (s, tc);
    return s;
}
