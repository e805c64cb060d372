/*  check_colo_rewriter.c - the sequence-translation engine on literal packets.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Every frame the engine handles is compared byte for byte with the frame
 *  the test expects (built from scratch with full checksums), and every
 *  TCP checksum is checked against a full recomputation.
 */
#include <string.h>

#include "colo_csum.h"
#include "colo_log.h"
#include "colo_packet.h"
#include "colo_rewriter.h"
#include "colo_test.h"

#define GUEST_PORT 80
#define CLIENT_PORT 40000
#define ISN_C 5000u          //  the client's (peer's) ISN
#define ISN_P 1000000u       //  the primary guest's ISN
#define ISN_S 7777777u       //  the secondary guest's ISN
#define OFFSET (ISN_S - ISN_P)

static colo_rewriter_t *s_rw;
static uint64_t s_now;
static const char s_payload[1460] = "GET / HTTP/1.1\r\nHost: colonet\r\n\r\n";

static void
s_setup (void)
{
    colo_log_set_level (COLO_LOG_ERROR);
    colo_rewriter_config_t cfg;
    colo_rewriter_config_defaults (&cfg);
    cfg.max_connections = 1024;
    cfg.seed = 42;
    s_rw = colo_rewriter_new (&cfg);
    ck_assert_ptr_nonnull (s_rw);
    s_now = 1000;
}

static void
s_teardown (void)
{
    colo_rewriter_destroy (&s_rw);
}

static void
s_new_with (const colo_rewriter_config_t *cfg)
{
    colo_rewriter_destroy (&s_rw);
    s_rw = colo_rewriter_new (cfg);
    ck_assert_ptr_nonnull (s_rw);
}

static uint64_t
s_count (colo_rewriter_counter_t which)
{
    return colo_rewriter_counters (s_rw)[which];
}

//  A TCP segment of the test connection (client port CLIENT_PORT, guest
//  port GUEST_PORT); from_guest picks the direction.
static colo_test_pkt_t
s_tcp (int v6, int from_guest, uint8_t flags, uint32_t seq, uint32_t ack, size_t len)
{
    colo_test_pkt_t spec;
    memset (&spec, 0, sizeof spec);
    spec.v6 = v6;
    spec.proto = 6;
    spec.from_guest = from_guest;
    spec.sport = from_guest ? GUEST_PORT : CLIENT_PORT;
    spec.dport = from_guest ? CLIENT_PORT : GUEST_PORT;
    spec.flags = flags;
    spec.seq = seq;
    spec.ack = ack;
    spec.payload = s_payload;
    spec.len = len;
    return spec;
}

//  The stored TCP checksum equals a full recomputation, other L4 checksums
//  verify, and the IPv4 header checksum is right.
static void
s_check_csum (colo_buf_t *buf, int line)
{
    colo_packet_t pkt;
    uint8_t *frame = colo_buf_frame (buf);
    if (colo_packet_decode (&pkt, frame, colo_buf_frame_len (buf), NULL) != COLO_PKT_OK)
        return;
    if (pkt.l4 != COLO_L4_TCP) {
        //  Not ours to touch; a UDP/IPv4 checksum of 0 ("none") is fine.
        ck_assert_msg (colo_csum_l4_verify (&pkt, frame) != 0, "line %d: L4 checksum", line);
        return;
    }
    int want = colo_csum_l4_expected (&pkt, frame);
    if (want >= 0) {
        uint32_t field = colo_csum_l4_field (&pkt);
        ck_assert_msg (colo_get_be16 (frame + field) == (uint16_t) want,
                       "line %d: checksum 0x%04x, recomputed 0x%04x", line,
                       colo_get_be16 (frame + field), want);
    }
    if (pkt.l3 == COLO_L3_IPV4)
        ck_assert_msg (colo_get_be16 (frame + pkt.l3_off + 10)
                           == colo_csum_ipv4_header (frame + pkt.l3_off, pkt.l3_hdr_len),
                       "line %d: IPv4 header checksum", line);
}

//  Run the frame built from `in` through the engine; it must come out as
//  the frame built from `want` (NULL: unchanged), with result rc.
static void
s_expect (int to_guest, const colo_test_pkt_t *in, const colo_test_pkt_t *want,
          colo_rewriter_result_t rc, int line)
{
    colo_buf_t *buf = colo_test_packet (in);
    colo_buf_t *exp = colo_test_packet (want ? want : in);
    ck_assert_ptr_nonnull (buf);
    colo_rewriter_result_t got = to_guest ? colo_rewriter_to_guest (s_rw, buf, s_now)
                                          : colo_rewriter_from_guest (s_rw, buf, s_now);
    ck_assert_msg (got == rc, "line %d: result %d, expected %d", line, got, rc);
    ck_assert_msg (buf->len == exp->len, "line %d: length changed", line);
    ck_assert_msg (memcmp (buf->data, exp->data, buf->len) == 0,
                   "line %d: frame differs from the expected bytes", line);
    s_check_csum (buf, line);
    colo_buf_destroy (&buf);
    colo_buf_destroy (&exp);
}

#define TO_GUEST(in, want, rc) s_expect (1, &(in), want, rc, __LINE__)
#define FROM_GUEST(in, want, rc) s_expect (0, &(in), want, rc, __LINE__)

//  Toward the guest: spec with its ack (and nothing else) changed.
static colo_test_pkt_t
s_with_ack (colo_test_pkt_t spec, uint32_t ack)
{
    spec.ack = ack;
    return spec;
}

static colo_test_pkt_t
s_with_seq (colo_test_pkt_t spec, uint32_t seq)
{
    spec.seq = seq;
    return spec;
}

//  The offset state of the test connection (see colo_rewriter_offset).
static int
s_offset (int v6, uint32_t *offset)
{
    colo_test_pkt_t spec = s_tcp (v6, 0, COLO_TCP_ACK, 1, 1, 0);
    colo_buf_t *buf = colo_test_packet (&spec);
    colo_packet_t pkt;
    colo_flow_key_t key;
    ck_assert_int_eq (colo_packet_decode (&pkt, colo_buf_frame (buf), colo_buf_frame_len (buf),
                                          NULL),
                      COLO_PKT_OK);
    ck_assert_int_eq (colo_flow_key (&key, &pkt, colo_buf_frame (buf), NULL), 0);
    colo_buf_destroy (&buf);
    return colo_rewriter_offset (s_rw, &key, offset);
}

//  The guest accepts: client SYN, secondary SYN-ACK, client ACK.
static void
s_accept (int v6, uint32_t c, uint32_t p, uint32_t s)
{
    colo_test_pkt_t syn = s_tcp (v6, 0, COLO_TCP_SYN, c, 0, 0);
    TO_GUEST (syn, NULL, COLO_RW_PASSED);
    ck_assert_int_eq (s_offset (v6, NULL), 0);
    colo_test_pkt_t synack = s_tcp (v6, 1, COLO_TCP_SYN | COLO_TCP_ACK, s, c + 1, 0);
    FROM_GUEST (synack, NULL, COLO_RW_PASSED);
    colo_test_pkt_t ack = s_tcp (v6, 0, COLO_TCP_ACK, c + 1, p + 1, 0);
    colo_test_pkt_t ack_want = s_with_ack (ack, s + 1);
    TO_GUEST (ack, &ack_want, s == p ? COLO_RW_PASSED : COLO_RW_REWRITTEN);
    uint32_t offset = 0;
    ck_assert_int_eq (s_offset (v6, &offset), 1);
    ck_assert_uint_eq (offset, s - p);
}

//  The guest opens: secondary SYN, peer SYN-ACK (translated), guest ACK.
static void
s_open (int v6, uint32_t c, uint32_t p, uint32_t s)
{
    colo_test_pkt_t syn = s_tcp (v6, 1, COLO_TCP_SYN, s, 0, 0);
    FROM_GUEST (syn, NULL, COLO_RW_PASSED);
    ck_assert_int_eq (s_offset (v6, NULL), 0);
    colo_test_pkt_t synack = s_tcp (v6, 0, COLO_TCP_SYN | COLO_TCP_ACK, c, p + 1, 0);
    colo_test_pkt_t synack_want = s_with_ack (synack, s + 1);
    TO_GUEST (synack, &synack_want, COLO_RW_REWRITTEN);
    uint32_t offset = 0;
    ck_assert_int_eq (s_offset (v6, &offset), 1);
    ck_assert_uint_eq (offset, s - p);
    colo_test_pkt_t ack = s_tcp (v6, 1, COLO_TCP_ACK, s + 1, c + 1, 0);
    colo_test_pkt_t ack_want = s_with_seq (ack, p + 1);
    FROM_GUEST (ack, &ack_want, COLO_RW_REWRITTEN);
}

//  Data both ways after a handshake: n bytes from the client, then m from
//  the guest, starting at client seq c+1 and primary seq p+1.
static void
s_data_both_ways (int v6, uint32_t c, uint32_t p, uint32_t s, size_t n, size_t m)
{
    colo_test_pkt_t in = s_tcp (v6, 0, COLO_TCP_ACK | COLO_TCP_PSH, c + 1, p + 1, n);
    colo_test_pkt_t in_want = s_with_ack (in, s + 1);
    TO_GUEST (in, &in_want, COLO_RW_REWRITTEN);
    colo_test_pkt_t out = s_tcp (v6, 1, COLO_TCP_ACK | COLO_TCP_PSH, s + 1,
                                 c + 1 + (uint32_t) n, m);
    colo_test_pkt_t out_want = s_with_seq (out, p + 1);
    FROM_GUEST (out, &out_want, COLO_RW_REWRITTEN);
    colo_test_pkt_t ack = s_tcp (v6, 0, COLO_TCP_ACK, c + 1 + (uint32_t) n,
                                 p + 1 + (uint32_t) m, 0);
    colo_test_pkt_t ack_want = s_with_ack (ack, s + 1 + (uint32_t) m);
    TO_GUEST (ack, &ack_want, COLO_RW_REWRITTEN);
}

//  ---------------------------------------------------------------- handshakes

START_TEST (test_guest_accepts)
{
    int v6 = _i;
    s_accept (v6, ISN_C, ISN_P, ISN_S);
    s_data_both_ways (v6, ISN_C, ISN_P, ISN_S, 100, 1460);
    ck_assert_uint_eq (s_count (COLO_RW_LEARNED_ACCEPTED), 1);
    ck_assert_uint_eq (s_count (COLO_RW_LEARNED_OPENED), 0);
    ck_assert_uint_eq (s_count (COLO_RW_REWRITTEN_TO_GUEST), 3);
    ck_assert_uint_eq (s_count (COLO_RW_REWRITTEN_FROM_GUEST), 1);
    ck_assert_uint_eq (s_count (COLO_RW_FRAMES_TO_GUEST), 4);
    ck_assert_uint_eq (s_count (COLO_RW_FRAMES_FROM_GUEST), 2);
    ck_assert_uint_eq (colo_rewriter_connections (s_rw), 1);
}
END_TEST

START_TEST (test_guest_opens)
{
    int v6 = _i;
    s_open (v6, ISN_C, ISN_P, ISN_S);
    //  The guest speaks first here: data from the guest, then the peer's.
    colo_test_pkt_t out = s_tcp (v6, 1, COLO_TCP_ACK | COLO_TCP_PSH, ISN_S + 1, ISN_C + 1, 200);
    colo_test_pkt_t out_want = s_with_seq (out, ISN_P + 1);
    FROM_GUEST (out, &out_want, COLO_RW_REWRITTEN);
    colo_test_pkt_t in = s_tcp (v6, 0, COLO_TCP_ACK | COLO_TCP_PSH, ISN_C + 1, ISN_P + 201, 50);
    colo_test_pkt_t in_want = s_with_ack (in, ISN_S + 201);
    TO_GUEST (in, &in_want, COLO_RW_REWRITTEN);
    ck_assert_uint_eq (s_count (COLO_RW_LEARNED_OPENED), 1);
    ck_assert_uint_eq (s_count (COLO_RW_LEARNED_ACCEPTED), 0);
}
END_TEST

START_TEST (test_client_ack_before_synack)
{
    //  The client's ACK overtakes the secondary's SYN-ACK: it passes as it
    //  is (nothing to translate it with), and still teaches the primary ISN.
    colo_test_pkt_t syn = s_tcp (0, 0, COLO_TCP_SYN, ISN_C, 0, 0);
    TO_GUEST (syn, NULL, COLO_RW_PASSED);
    colo_test_pkt_t ack = s_tcp (0, 0, COLO_TCP_ACK, ISN_C + 1, ISN_P + 1, 0);
    TO_GUEST (ack, NULL, COLO_RW_PASSED);
    ck_assert_uint_eq (s_count (COLO_RW_UNLEARNED), 1);
    colo_test_pkt_t synack = s_tcp (0, 1, COLO_TCP_SYN | COLO_TCP_ACK, ISN_S, ISN_C + 1, 0);
    FROM_GUEST (synack, NULL, COLO_RW_PASSED);
    uint32_t offset = 0;
    ck_assert_int_eq (s_offset (0, &offset), 1);
    ck_assert_uint_eq (offset, OFFSET);
    s_data_both_ways (0, ISN_C, ISN_P, ISN_S, 10, 10);
}
END_TEST

START_TEST (test_handshake_needs_matching_seq)
{
    //  Toward the guest, only the segment at client ISN + 1 completes the
    //  accept handshake (a stray ACK teaches nothing).
    colo_test_pkt_t syn = s_tcp (0, 0, COLO_TCP_SYN, ISN_C, 0, 0);
    TO_GUEST (syn, NULL, COLO_RW_PASSED);
    colo_test_pkt_t synack = s_tcp (0, 1, COLO_TCP_SYN | COLO_TCP_ACK, ISN_S, ISN_C + 1, 0);
    FROM_GUEST (synack, NULL, COLO_RW_PASSED);
    colo_test_pkt_t stray = s_tcp (0, 0, COLO_TCP_ACK, ISN_C + 999, 123456, 0);
    TO_GUEST (stray, NULL, COLO_RW_PASSED);
    ck_assert_int_eq (s_offset (0, NULL), 0);
    colo_test_pkt_t ack = s_tcp (0, 0, COLO_TCP_ACK, ISN_C + 1, ISN_P + 1, 0);
    colo_test_pkt_t ack_want = s_with_ack (ack, ISN_S + 1);
    TO_GUEST (ack, &ack_want, COLO_RW_REWRITTEN);
}
END_TEST

//  ---------------------------------------------------------------- timestamps

//  NOP NOP TS(val, ecr): the 12 option bytes of a timestamped segment.
static void
s_ts_opts (uint8_t opts[12], uint32_t val, uint32_t ecr)
{
    static const uint8_t head[4] = {1, 1, 8, 10};
    memcpy (opts, head, 4);
    colo_put_be32 (opts + 4, val);
    colo_put_be32 (opts + 8, ecr);
}

//  The two guests' timestamp clocks differ like their ISNs: the peer echoes
//  the primary's TSval, and the secondary must get its own back, or Linux
//  6.11+ drops the handshake's last ACK (TSEcrRejected) and the connection
//  never establishes on the secondary.
START_TEST (test_timestamp_echo_translated)
{
    int v6 = _i;
    const uint32_t ts_c = 100, ts_p = 9000, ts_s = 5000;
    uint8_t o_syn[12], o_synack[12], o_ack[12], o_ack_want[12];
    //  Guest accepts.
    colo_test_pkt_t syn = s_tcp (v6, 0, COLO_TCP_SYN, ISN_C, 0, 0);
    s_ts_opts (o_syn, ts_c, 0);
    syn.tcp_opts = o_syn;
    syn.tcp_opts_len = 12;
    TO_GUEST (syn, NULL, COLO_RW_PASSED);
    colo_test_pkt_t synack = s_tcp (v6, 1, COLO_TCP_SYN | COLO_TCP_ACK, ISN_S, ISN_C + 1, 0);
    s_ts_opts (o_synack, ts_s, ts_c);
    synack.tcp_opts = o_synack;
    synack.tcp_opts_len = 12;
    FROM_GUEST (synack, NULL, COLO_RW_PASSED);
    colo_test_pkt_t ack = s_tcp (v6, 0, COLO_TCP_ACK, ISN_C + 1, ISN_P + 1, 0);
    s_ts_opts (o_ack, ts_c + 1, ts_p);          //  echoes the primary's SYN-ACK
    ack.tcp_opts = o_ack;
    ack.tcp_opts_len = 12;
    colo_test_pkt_t ack_want = s_with_ack (ack, ISN_S + 1);
    s_ts_opts (o_ack_want, ts_c + 1, ts_s);     //  the secondary sees its own
    ack_want.tcp_opts = o_ack_want;
    TO_GUEST (ack, &ack_want, COLO_RW_REWRITTEN);
    //  Later echoes keep the offset; TSval (the client's clock) is untouched.
    s_ts_opts (o_ack, ts_c + 50, ts_p + 700);
    s_ts_opts (o_ack_want, ts_c + 50, ts_s + 700);
    TO_GUEST (ack, &ack_want, COLO_RW_REWRITTEN);
    ck_assert_uint_eq (s_count (COLO_RW_TSECR_REWRITTEN), 2);
    //  From the guest, timestamps pass unchanged (compare does not look).
    colo_test_pkt_t out = s_tcp (v6, 1, COLO_TCP_ACK, ISN_S + 1, ISN_C + 1, 10);
    uint8_t o_out[12];
    s_ts_opts (o_out, ts_s + 700, ts_c + 50);
    out.tcp_opts = o_out;
    out.tcp_opts_len = 12;
    colo_test_pkt_t out_want = s_with_seq (out, ISN_P + 1);
    FROM_GUEST (out, &out_want, COLO_RW_REWRITTEN);
    //  After a checkpoint the secondary runs the primary's clock: no change.
    colo_rewriter_checkpoint_done (s_rw);
    s_ts_opts (o_ack, ts_c + 60, ts_p + 800);
    colo_test_pkt_t after = s_tcp (v6, 0, COLO_TCP_ACK, ISN_C + 1, ISN_P + 11, 0);
    after.tcp_opts = o_ack;
    after.tcp_opts_len = 12;
    TO_GUEST (after, NULL, COLO_RW_PASSED);
}
END_TEST

START_TEST (test_timestamp_echo_guest_opens)
{
    int v6 = _i;
    const uint32_t ts_peer = 300, ts_p = 2000, ts_s = 7000;
    uint8_t o_syn[12], o_synack[12], o_want[12];
    colo_test_pkt_t syn = s_tcp (v6, 1, COLO_TCP_SYN, ISN_S, 0, 0);
    s_ts_opts (o_syn, ts_s, 0);
    syn.tcp_opts = o_syn;
    syn.tcp_opts_len = 12;
    FROM_GUEST (syn, NULL, COLO_RW_PASSED);
    colo_test_pkt_t synack = s_tcp (v6, 0, COLO_TCP_SYN | COLO_TCP_ACK, ISN_C, ISN_P + 1, 0);
    s_ts_opts (o_synack, ts_peer, ts_p);       //  echoes the primary's SYN
    synack.tcp_opts = o_synack;
    synack.tcp_opts_len = 12;
    colo_test_pkt_t want = s_with_ack (synack, ISN_S + 1);
    s_ts_opts (o_want, ts_peer, ts_s);
    want.tcp_opts = o_want;
    TO_GUEST (synack, &want, COLO_RW_REWRITTEN);
    ck_assert_uint_eq (s_count (COLO_RW_TSECR_REWRITTEN), 1);
}
END_TEST

//  ---------------------------------------------------------------- SACK, wrap

START_TEST (test_sack_blocks)
{
    int v6 = _i;
    s_accept (v6, ISN_C, ISN_P, ISN_S);
    //  NOP NOP TS(10, 20) NOP NOP SACK(2 blocks), in primary space.
    uint8_t opts[32] = {1, 1, 8, 10, 0, 0, 0, 10, 0, 0, 0, 20, 1, 1, 5, 18};
    colo_put_be32 (opts + 16, ISN_P + 1001);
    colo_put_be32 (opts + 20, ISN_P + 2001);
    colo_put_be32 (opts + 24, ISN_P + 3001);
    colo_put_be32 (opts + 28, ISN_P + 4001);
    uint8_t want_opts[32];
    memcpy (want_opts, opts, sizeof opts);
    colo_put_be32 (want_opts + 16, ISN_S + 1001);
    colo_put_be32 (want_opts + 20, ISN_S + 2001);
    colo_put_be32 (want_opts + 24, ISN_S + 3001);
    colo_put_be32 (want_opts + 28, ISN_S + 4001);
    colo_test_pkt_t in = s_tcp (v6, 0, COLO_TCP_ACK, ISN_C + 1, ISN_P + 1, 0);
    in.tcp_opts = opts;
    in.tcp_opts_len = sizeof opts;
    colo_test_pkt_t want = s_with_ack (in, ISN_S + 1);
    want.tcp_opts = want_opts;
    TO_GUEST (in, &want, COLO_RW_REWRITTEN);
    ck_assert_uint_eq (s_count (COLO_RW_SACK_REWRITTEN), 1);

    //  A SACK from the guest is about the peer's bytes: only seq changes.
    uint8_t gopts[12] = {1, 1, 5, 10};
    colo_put_be32 (gopts + 4, ISN_C + 501);
    colo_put_be32 (gopts + 8, ISN_C + 601);
    colo_test_pkt_t out = s_tcp (v6, 1, COLO_TCP_ACK, ISN_S + 1, ISN_C + 1, 0);
    out.tcp_opts = gopts;
    out.tcp_opts_len = sizeof gopts;
    colo_test_pkt_t out_want = s_with_seq (out, ISN_P + 1);
    FROM_GUEST (out, &out_want, COLO_RW_REWRITTEN);
    ck_assert_uint_eq (s_count (COLO_RW_SACK_REWRITTEN), 1);

    //  Four blocks (no timestamps), and a D-SACK below the ack.
    uint8_t four[36] = {1, 1, 5, 34};
    uint8_t four_want[36] = {1, 1, 5, 34};
    for (int i = 0; i < 8; i++) {
        colo_put_be32 (four + 4 + 4 * i, ISN_P - 100 + 1000u * (uint32_t) i);
        colo_put_be32 (four_want + 4 + 4 * i, ISN_S - 100 + 1000u * (uint32_t) i);
    }
    colo_test_pkt_t in4 = s_tcp (v6, 0, COLO_TCP_ACK, ISN_C + 1, ISN_P + 1, 0);
    in4.tcp_opts = four;
    in4.tcp_opts_len = sizeof four;
    colo_test_pkt_t want4 = s_with_ack (in4, ISN_S + 1);
    want4.tcp_opts = four_want;
    TO_GUEST (in4, &want4, COLO_RW_REWRITTEN);
    ck_assert_uint_eq (s_count (COLO_RW_SACK_REWRITTEN), 2);
}
END_TEST

START_TEST (test_sack_and_timestamp)
{
    //  The most fields one frame can carry: ack, three SACK blocks and the
    //  TSecr all change; the checksum is updated once for all of them and
    //  equals a full recomputation (s_expect checks both).
    int v6 = _i;
    const uint32_t ts_c = 100, ts_p = 9000, ts_s = 5000;
    uint8_t o_syn[12], o_synack[12], o_ack[12], o_ack_want[12];
    colo_test_pkt_t syn = s_tcp (v6, 0, COLO_TCP_SYN, ISN_C, 0, 0);
    s_ts_opts (o_syn, ts_c, 0);
    syn.tcp_opts = o_syn;
    syn.tcp_opts_len = 12;
    TO_GUEST (syn, NULL, COLO_RW_PASSED);
    colo_test_pkt_t synack = s_tcp (v6, 1, COLO_TCP_SYN | COLO_TCP_ACK, ISN_S, ISN_C + 1, 0);
    s_ts_opts (o_synack, ts_s, ts_c);
    synack.tcp_opts = o_synack;
    synack.tcp_opts_len = 12;
    FROM_GUEST (synack, NULL, COLO_RW_PASSED);
    colo_test_pkt_t ack = s_tcp (v6, 0, COLO_TCP_ACK, ISN_C + 1, ISN_P + 1, 0);
    s_ts_opts (o_ack, ts_c + 1, ts_p);
    ack.tcp_opts = o_ack;
    ack.tcp_opts_len = 12;
    colo_test_pkt_t ack_want = s_with_ack (ack, ISN_S + 1);
    s_ts_opts (o_ack_want, ts_c + 1, ts_s);
    ack_want.tcp_opts = o_ack_want;
    TO_GUEST (ack, &ack_want, COLO_RW_REWRITTEN);
    //  NOP NOP TS, NOP NOP SACK (3 blocks): 40 bytes of options.
    uint8_t opts[40] = {1, 1, 8, 10}, want_opts[40];
    colo_put_be32 (opts + 4, ts_c + 9);
    colo_put_be32 (opts + 8, ts_p + 70);
    opts[12] = 1;
    opts[13] = 1;
    opts[14] = 5;
    opts[15] = 26;
    for (int i = 0; i < 6; i++)
        colo_put_be32 (opts + 16 + 4 * i, ISN_P + 0xfffff000u + 1000u * (uint32_t) i);
    memcpy (want_opts, opts, sizeof opts);
    colo_put_be32 (want_opts + 8, ts_s + 70);
    for (int i = 0; i < 6; i++)
        colo_put_be32 (want_opts + 16 + 4 * i, ISN_S + 0xfffff000u + 1000u * (uint32_t) i);
    colo_test_pkt_t in = s_tcp (v6, 0, COLO_TCP_ACK, ISN_C + 1, ISN_P + 0xfffff000u, 100);
    in.tcp_opts = opts;
    in.tcp_opts_len = sizeof opts;
    colo_test_pkt_t want = s_with_ack (in, ISN_S + 0xfffff000u);
    want.tcp_opts = want_opts;
    TO_GUEST (in, &want, COLO_RW_REWRITTEN);
    ck_assert_uint_eq (s_count (COLO_RW_SACK_REWRITTEN), 1);
    ck_assert_uint_eq (s_count (COLO_RW_TSECR_REWRITTEN), 2);
}
END_TEST

START_TEST (test_sequence_wrap)
{
    int v6 = _i;
    //  Secondary ISN just below 2^32, primary's just above 0; the streams
    //  and the SACK edges cross the wrap.
    uint32_t c = 0xfffffff0u, p = 0x00000010u, s = 0xffffff00u;
    s_accept (v6, c, p, s);
    s_data_both_ways (v6, c, p, s, 1460, 1460);
    uint8_t opts[12] = {1, 1, 5, 10};
    colo_put_be32 (opts + 4, p + 3000);
    colo_put_be32 (opts + 8, p + 4460);
    uint8_t want_opts[12] = {1, 1, 5, 10};
    colo_put_be32 (want_opts + 4, s + 3000);
    colo_put_be32 (want_opts + 8, s + 4460);
    colo_test_pkt_t in = s_tcp (v6, 0, COLO_TCP_ACK, c + 1461, p + 1461, 0);
    in.tcp_opts = opts;
    in.tcp_opts_len = sizeof opts;
    colo_test_pkt_t want = s_with_ack (in, s + 1461);
    want.tcp_opts = want_opts;
    TO_GUEST (in, &want, COLO_RW_REWRITTEN);
    //  And the other way round: primary near 2^32, secondary near 0.
    s_teardown ();
    s_setup ();
    s_open (v6, 0x7ffffff0u, 0xfffffffeu, 0x00000005u);
    s_data_both_ways (v6, 0x7ffffff0u, 0xfffffffeu, 0x00000005u, 700, 70);
}
END_TEST

//  ---------------------------------------------------------------- close

START_TEST (test_passive_close)
{
    int v6 = _i;
    s_accept (v6, ISN_C, ISN_P, ISN_S);
    //  The client closes first; the guest answers FIN-ACK; the client's
    //  final ACK (translated) removes the entry.
    colo_test_pkt_t fin = s_tcp (v6, 0, COLO_TCP_FIN | COLO_TCP_ACK, ISN_C + 1, ISN_P + 1, 0);
    colo_test_pkt_t fin_want = s_with_ack (fin, ISN_S + 1);
    TO_GUEST (fin, &fin_want, COLO_RW_REWRITTEN);
    colo_test_pkt_t gfin = s_tcp (v6, 1, COLO_TCP_FIN | COLO_TCP_ACK, ISN_S + 1, ISN_C + 2, 0);
    colo_test_pkt_t gfin_want = s_with_seq (gfin, ISN_P + 1);
    FROM_GUEST (gfin, &gfin_want, COLO_RW_REWRITTEN);
    ck_assert_uint_eq (colo_rewriter_connections (s_rw), 1);
    colo_test_pkt_t last = s_tcp (v6, 0, COLO_TCP_ACK, ISN_C + 2, ISN_P + 2, 0);
    colo_test_pkt_t last_want = s_with_ack (last, ISN_S + 2);
    TO_GUEST (last, &last_want, COLO_RW_REWRITTEN);
    ck_assert_uint_eq (colo_rewriter_connections (s_rw), 0);
    ck_assert_uint_eq (s_count (COLO_RW_CLOSED), 1);
    ck_assert_int_eq (s_offset (v6, NULL), -1);
}
END_TEST

START_TEST (test_active_close)
{
    int v6 = _i;
    s_open (v6, ISN_C, ISN_P, ISN_S);
    s_data_both_ways (v6, ISN_C, ISN_P, ISN_S, 10, 20);
    //  The guest closes first (FIN with ACK, as real stacks send it).
    colo_test_pkt_t gfin = s_tcp (v6, 1, COLO_TCP_FIN | COLO_TCP_ACK, ISN_S + 21, ISN_C + 11, 0);
    colo_test_pkt_t gfin_want = s_with_seq (gfin, ISN_P + 21);
    FROM_GUEST (gfin, &gfin_want, COLO_RW_REWRITTEN);
    colo_test_pkt_t fin = s_tcp (v6, 0, COLO_TCP_FIN | COLO_TCP_ACK, ISN_C + 11, ISN_P + 22, 0);
    colo_test_pkt_t fin_want = s_with_ack (fin, ISN_S + 22);
    TO_GUEST (fin, &fin_want, COLO_RW_REWRITTEN);
    ck_assert_uint_eq (colo_rewriter_connections (s_rw), 1);
    colo_test_pkt_t last = s_tcp (v6, 1, COLO_TCP_ACK, ISN_S + 22, ISN_C + 12, 0);
    colo_test_pkt_t last_want = s_with_seq (last, ISN_P + 22);
    FROM_GUEST (last, &last_want, COLO_RW_REWRITTEN);
    ck_assert_uint_eq (colo_rewriter_connections (s_rw), 0);
    ck_assert_uint_eq (s_count (COLO_RW_CLOSED), 1);
    //  A late retransmission passes untouched and creates nothing.
    FROM_GUEST (last, NULL, COLO_RW_PASSED);
    ck_assert_uint_eq (s_count (COLO_RW_UNTRACKED), 1);
    ck_assert_uint_eq (colo_rewriter_connections (s_rw), 0);
}
END_TEST

START_TEST (test_close_linger)
{
    colo_rewriter_config_t cfg;
    colo_rewriter_config_defaults (&cfg);
    cfg.closed_linger_ms = 500;
    s_new_with (&cfg);
    s_accept (0, ISN_C, ISN_P, ISN_S);
    //  FINs both ways, the final ACK never seen: the linger removes it,
    //  translating until then.
    colo_test_pkt_t fin = s_tcp (0, 0, COLO_TCP_FIN | COLO_TCP_ACK, ISN_C + 1, ISN_P + 1, 0);
    colo_test_pkt_t fin_want = s_with_ack (fin, ISN_S + 1);
    TO_GUEST (fin, &fin_want, COLO_RW_REWRITTEN);
    colo_test_pkt_t gfin = s_tcp (0, 1, COLO_TCP_FIN | COLO_TCP_ACK, ISN_S + 1, ISN_C + 2, 0);
    colo_test_pkt_t gfin_want = s_with_seq (gfin, ISN_P + 1);
    FROM_GUEST (gfin, &gfin_want, COLO_RW_REWRITTEN);
    colo_rewriter_tick (s_rw, s_now + 499);
    ck_assert_uint_eq (colo_rewriter_connections (s_rw), 1);
    s_now += 100;
    FROM_GUEST (gfin, &gfin_want, COLO_RW_REWRITTEN);   //  a FIN retransmission
    colo_rewriter_tick (s_rw, s_now + 400);
    ck_assert_uint_eq (colo_rewriter_connections (s_rw), 0);
    ck_assert_uint_eq (s_count (COLO_RW_CLOSED), 1);
}
END_TEST

START_TEST (test_rst)
{
    int v6 = _i;
    //  RST from the guest: its seq is translated, then the entry goes.
    s_accept (v6, ISN_C, ISN_P, ISN_S);
    colo_test_pkt_t rst = s_tcp (v6, 1, COLO_TCP_RST | COLO_TCP_ACK, ISN_S + 1, ISN_C + 1, 0);
    colo_test_pkt_t rst_want = s_with_seq (rst, ISN_P + 1);
    FROM_GUEST (rst, &rst_want, COLO_RW_REWRITTEN);
    ck_assert_uint_eq (colo_rewriter_connections (s_rw), 0);
    ck_assert_uint_eq (s_count (COLO_RW_RESET), 1);
    //  A bare RST toward the guest (its seq is the client's own).
    s_accept (v6, ISN_C + 100, ISN_P, ISN_S);
    colo_test_pkt_t crst = s_tcp (v6, 0, COLO_TCP_RST, ISN_C + 101, 0, 0);
    TO_GUEST (crst, NULL, COLO_RW_PASSED);
    ck_assert_uint_eq (colo_rewriter_connections (s_rw), 0);
    ck_assert_uint_eq (s_count (COLO_RW_RESET), 2);
    //  The peer refuses a connection the guest opens: the RST-ACK is
    //  translated so the guest accepts it.
    colo_test_pkt_t syn = s_tcp (v6, 1, COLO_TCP_SYN, ISN_S, 0, 0);
    FROM_GUEST (syn, NULL, COLO_RW_PASSED);
    colo_test_pkt_t refuse = s_tcp (v6, 0, COLO_TCP_RST | COLO_TCP_ACK, 0, ISN_P + 1, 0);
    colo_test_pkt_t refuse_want = s_with_ack (refuse, ISN_S + 1);
    TO_GUEST (refuse, &refuse_want, COLO_RW_REWRITTEN);
    ck_assert_uint_eq (colo_rewriter_connections (s_rw), 0);
    ck_assert_uint_eq (s_count (COLO_RW_RESET), 3);
}
END_TEST

//  ---------------------------------------------------------------- retransmitted SYNs

START_TEST (test_retransmitted_syn_synack)
{
    colo_test_pkt_t syn = s_tcp (0, 0, COLO_TCP_SYN, ISN_C, 0, 0);
    TO_GUEST (syn, NULL, COLO_RW_PASSED);
    TO_GUEST (syn, NULL, COLO_RW_PASSED);
    colo_test_pkt_t synack = s_tcp (0, 1, COLO_TCP_SYN | COLO_TCP_ACK, ISN_S, ISN_C + 1, 0);
    FROM_GUEST (synack, NULL, COLO_RW_PASSED);
    FROM_GUEST (synack, NULL, COLO_RW_PASSED);
    TO_GUEST (syn, NULL, COLO_RW_PASSED);
    ck_assert_uint_eq (s_count (COLO_RW_SYN_RETRANSMITS), 3);
    colo_test_pkt_t ack = s_tcp (0, 0, COLO_TCP_ACK, ISN_C + 1, ISN_P + 1, 0);
    colo_test_pkt_t ack_want = s_with_ack (ack, ISN_S + 1);
    TO_GUEST (ack, &ack_want, COLO_RW_REWRITTEN);
    //  After learning: duplicates of every handshake frame change nothing.
    FROM_GUEST (synack, NULL, COLO_RW_PASSED);
    TO_GUEST (syn, NULL, COLO_RW_PASSED);
    FROM_GUEST (synack, NULL, COLO_RW_PASSED);   //  answers the SYN: same ISN
    TO_GUEST (ack, &ack_want, COLO_RW_REWRITTEN);
    uint32_t offset = 0;
    ck_assert_int_eq (s_offset (0, &offset), 1);
    ck_assert_uint_eq (offset, OFFSET);
    ck_assert_uint_eq (s_count (COLO_RW_LEARNED_ACCEPTED), 1);
    ck_assert_uint_eq (s_count (COLO_RW_ISN_CHANGED), 0);
    s_data_both_ways (0, ISN_C, ISN_P, ISN_S, 5, 5);
}
END_TEST

START_TEST (test_synack_new_isn_mid_handshake)
{
    //  The secondary answers a retransmitted SYN with a new ISN (its first
    //  request was dropped, or SYN cookies): the latest ISN wins.
    colo_test_pkt_t syn = s_tcp (0, 0, COLO_TCP_SYN, ISN_C, 0, 0);
    TO_GUEST (syn, NULL, COLO_RW_PASSED);
    colo_test_pkt_t synack = s_tcp (0, 1, COLO_TCP_SYN | COLO_TCP_ACK, ISN_S, ISN_C + 1, 0);
    FROM_GUEST (synack, NULL, COLO_RW_PASSED);
    colo_test_pkt_t synack2 = s_tcp (0, 1, COLO_TCP_SYN | COLO_TCP_ACK, ISN_S + 5555, ISN_C + 1, 0);
    FROM_GUEST (synack2, NULL, COLO_RW_PASSED);
    ck_assert_uint_eq (s_count (COLO_RW_ISN_CHANGED), 1);
    colo_test_pkt_t ack = s_tcp (0, 0, COLO_TCP_ACK, ISN_C + 1, ISN_P + 1, 0);
    colo_test_pkt_t ack_want = s_with_ack (ack, ISN_S + 5556);
    TO_GUEST (ack, &ack_want, COLO_RW_REWRITTEN);
}
END_TEST

START_TEST (test_guest_syn_retransmitted)
{
    int v6 = _i;
    colo_test_pkt_t syn = s_tcp (v6, 1, COLO_TCP_SYN, ISN_S, 0, 0);
    FROM_GUEST (syn, NULL, COLO_RW_PASSED);
    FROM_GUEST (syn, NULL, COLO_RW_PASSED);
    ck_assert_uint_eq (s_count (COLO_RW_SYN_RETRANSMITS), 1);
    colo_test_pkt_t synack = s_tcp (v6, 0, COLO_TCP_SYN | COLO_TCP_ACK, ISN_C, ISN_P + 1, 0);
    colo_test_pkt_t synack_want = s_with_ack (synack, ISN_S + 1);
    TO_GUEST (synack, &synack_want, COLO_RW_REWRITTEN);
    //  The guest's SYN crossed the SYN-ACK; the peer repeats its SYN-ACK.
    FROM_GUEST (syn, NULL, COLO_RW_PASSED);
    TO_GUEST (synack, &synack_want, COLO_RW_REWRITTEN);
    uint32_t offset = 0;
    ck_assert_int_eq (s_offset (v6, &offset), 1);
    ck_assert_uint_eq (offset, OFFSET);
    ck_assert_uint_eq (s_count (COLO_RW_LEARNED_OPENED), 1);
}
END_TEST

START_TEST (test_tuple_reused)
{
    //  A connection, then the client reuses the 4-tuple with a new ISN
    //  while the old entry still exists: the guest's SYN-ACK to the new SYN
    //  restarts learning.
    s_accept (0, ISN_C, ISN_P, ISN_S);
    s_data_both_ways (0, ISN_C, ISN_P, ISN_S, 10, 10);
    uint32_t c2 = ISN_C + 100000, p2 = 3333, s2 = 44444444;
    colo_test_pkt_t syn = s_tcp (0, 0, COLO_TCP_SYN, c2, 0, 0);
    TO_GUEST (syn, NULL, COLO_RW_PASSED);
    //  Until the guest answers, the old offset stays.
    uint32_t offset = 0;
    ck_assert_int_eq (s_offset (0, &offset), 1);
    ck_assert_uint_eq (offset, OFFSET);
    colo_test_pkt_t synack = s_tcp (0, 1, COLO_TCP_SYN | COLO_TCP_ACK, s2, c2 + 1, 0);
    FROM_GUEST (synack, NULL, COLO_RW_PASSED);
    ck_assert_int_eq (s_offset (0, NULL), 0);
    colo_test_pkt_t ack = s_tcp (0, 0, COLO_TCP_ACK, c2 + 1, p2 + 1, 0);
    colo_test_pkt_t ack_want = s_with_ack (ack, s2 + 1);
    TO_GUEST (ack, &ack_want, COLO_RW_REWRITTEN);
    ck_assert_int_eq (s_offset (0, &offset), 1);
    ck_assert_uint_eq (offset, s2 - p2);
    ck_assert_uint_eq (s_count (COLO_RW_ISN_CHANGED), 1);
    ck_assert_uint_eq (s_count (COLO_RW_LEARNED_ACCEPTED), 2);
    ck_assert_uint_eq (colo_rewriter_connections (s_rw), 1);

    //  A guest SYN-ACK with a new ISN that answers no SYN teaches nothing.
    colo_test_pkt_t bogus = s_tcp (0, 1, COLO_TCP_SYN | COLO_TCP_ACK, 99, 12345, 0);
    FROM_GUEST (bogus, NULL, COLO_RW_PASSED);
    ck_assert_int_eq (s_offset (0, &offset), 1);
    ck_assert_uint_eq (offset, s2 - p2);

    //  The guest itself opens on the 4-tuple: the entry starts over.
    uint32_t s3 = 987654321u, p3 = 123456789u;
    colo_test_pkt_t gsyn = s_tcp (0, 1, COLO_TCP_SYN, s3, 0, 0);
    FROM_GUEST (gsyn, NULL, COLO_RW_PASSED);
    ck_assert_int_eq (s_offset (0, NULL), 0);
    colo_test_pkt_t psynack = s_tcp (0, 0, COLO_TCP_SYN | COLO_TCP_ACK, 77, p3 + 1, 0);
    colo_test_pkt_t psynack_want = s_with_ack (psynack, s3 + 1);
    TO_GUEST (psynack, &psynack_want, COLO_RW_REWRITTEN);
    ck_assert_int_eq (s_offset (0, &offset), 1);
    ck_assert_uint_eq (offset, s3 - p3);
}
END_TEST

//  ---------------------------------------------------------------- checkpoint, failover

START_TEST (test_checkpoint_resets_offsets)
{
    int v6 = _i;
    s_accept (v6, ISN_C, ISN_P, ISN_S);
    colo_rewriter_checkpoint_done (s_rw);
    ck_assert_uint_eq (s_count (COLO_RW_CHECKPOINTS), 1);
    uint32_t offset = 1;
    ck_assert_int_eq (s_offset (v6, &offset), 1);
    ck_assert_uint_eq (offset, 0);
    //  The secondary now runs the primary's state: primary space both ways.
    colo_test_pkt_t in = s_tcp (v6, 0, COLO_TCP_ACK, ISN_C + 1, ISN_P + 1, 30);
    TO_GUEST (in, NULL, COLO_RW_PASSED);
    colo_test_pkt_t out = s_tcp (v6, 1, COLO_TCP_ACK, ISN_P + 1, ISN_C + 31, 40);
    FROM_GUEST (out, NULL, COLO_RW_PASSED);
    ck_assert_uint_eq (colo_rewriter_connections (s_rw), 1);
}
END_TEST

START_TEST (test_checkpoint_mid_handshake)
{
    //  The secondary's SYN-ACK was seen, then a checkpoint: the secondary
    //  now holds the primary's ISN, so the client's ACK must not teach
    //  secondary ISN - primary ISN.
    colo_test_pkt_t syn = s_tcp (0, 0, COLO_TCP_SYN, ISN_C, 0, 0);
    TO_GUEST (syn, NULL, COLO_RW_PASSED);
    colo_test_pkt_t synack = s_tcp (0, 1, COLO_TCP_SYN | COLO_TCP_ACK, ISN_S, ISN_C + 1, 0);
    FROM_GUEST (synack, NULL, COLO_RW_PASSED);
    colo_rewriter_checkpoint_done (s_rw);
    colo_test_pkt_t ack = s_tcp (0, 0, COLO_TCP_ACK, ISN_C + 1, ISN_P + 1, 0);
    TO_GUEST (ack, NULL, COLO_RW_PASSED);
    uint32_t offset = 1;
    ck_assert_int_eq (s_offset (0, &offset), 1);
    ck_assert_uint_eq (offset, 0);
    ck_assert_uint_eq (s_count (COLO_RW_LEARNED_ACCEPTED), 0);
    //  The guest opened, checkpoint, and it retransmits its SYN with the
    //  primary's ISN: learning restarts and finds offset 0.
    s_teardown ();
    s_setup ();
    colo_test_pkt_t gsyn = s_tcp (0, 1, COLO_TCP_SYN, ISN_S, 0, 0);
    FROM_GUEST (gsyn, NULL, COLO_RW_PASSED);
    colo_rewriter_checkpoint_done (s_rw);
    colo_test_pkt_t gsyn2 = s_tcp (0, 1, COLO_TCP_SYN, ISN_P, 0, 0);
    FROM_GUEST (gsyn2, NULL, COLO_RW_PASSED);
    colo_test_pkt_t psynack = s_tcp (0, 0, COLO_TCP_SYN | COLO_TCP_ACK, ISN_C, ISN_P + 1, 0);
    TO_GUEST (psynack, NULL, COLO_RW_PASSED);
    ck_assert_int_eq (s_offset (0, &offset), 1);
    ck_assert_uint_eq (offset, 0);
}
END_TEST

START_TEST (test_checkpoint_lost_syn_relearns)
{
    //  A checkpoint wiped the secondary's half-open connection; the client
    //  retransmits its SYN and the secondary answers with a fresh ISN.
    colo_test_pkt_t syn = s_tcp (0, 0, COLO_TCP_SYN, ISN_C, 0, 0);
    TO_GUEST (syn, NULL, COLO_RW_PASSED);
    colo_rewriter_checkpoint_done (s_rw);
    TO_GUEST (syn, NULL, COLO_RW_PASSED);
    colo_test_pkt_t synack = s_tcp (0, 1, COLO_TCP_SYN | COLO_TCP_ACK, ISN_S, ISN_C + 1, 0);
    FROM_GUEST (synack, NULL, COLO_RW_PASSED);
    colo_test_pkt_t ack = s_tcp (0, 0, COLO_TCP_ACK, ISN_C + 1, ISN_P + 1, 0);
    colo_test_pkt_t ack_want = s_with_ack (ack, ISN_S + 1);
    TO_GUEST (ack, &ack_want, COLO_RW_REWRITTEN);
    uint32_t offset = 0;
    ck_assert_int_eq (s_offset (0, &offset), 1);
    ck_assert_uint_eq (offset, OFFSET);
}
END_TEST

START_TEST (test_checkpoint_during_close)
{
    //  The guest's FIN was seen in its own space; after a checkpoint the
    //  peer acknowledges it in the primary's, and the close still completes.
    s_accept (0, ISN_C, ISN_P, ISN_S);
    colo_test_pkt_t gfin = s_tcp (0, 1, COLO_TCP_FIN | COLO_TCP_ACK, ISN_S + 1, ISN_C + 1, 0);
    colo_test_pkt_t gfin_want = s_with_seq (gfin, ISN_P + 1);
    FROM_GUEST (gfin, &gfin_want, COLO_RW_REWRITTEN);
    colo_rewriter_checkpoint_done (s_rw);
    colo_test_pkt_t fin = s_tcp (0, 0, COLO_TCP_FIN | COLO_TCP_ACK, ISN_C + 1, ISN_P + 2, 0);
    TO_GUEST (fin, NULL, COLO_RW_PASSED);
    colo_test_pkt_t last = s_tcp (0, 1, COLO_TCP_ACK, ISN_P + 2, ISN_C + 2, 0);
    FROM_GUEST (last, NULL, COLO_RW_PASSED);
    ck_assert_uint_eq (colo_rewriter_connections (s_rw), 0);
    ck_assert_uint_eq (s_count (COLO_RW_CLOSED), 1);
}
END_TEST

START_TEST (test_failover)
{
    int v6 = _i;
    s_accept (v6, ISN_C, ISN_P, ISN_S);
    //  A second connection mid-handshake (guest opens on another port).
    colo_test_pkt_t gsyn = s_tcp (v6, 1, COLO_TCP_SYN, 50000, 0, 0);
    gsyn.sport = 33000;
    FROM_GUEST (gsyn, NULL, COLO_RW_PASSED);
    colo_rewriter_failover (s_rw);
    ck_assert_uint_eq (s_count (COLO_RW_FAILOVERS), 1);
    //  Existing connections keep their offsets and finish learning.
    s_data_both_ways (v6, ISN_C, ISN_P, ISN_S, 10, 10);
    colo_test_pkt_t psynack = s_tcp (v6, 0, COLO_TCP_SYN | COLO_TCP_ACK, 1, 60001, 0);
    psynack.dport = 33000;
    colo_test_pkt_t psynack_want = s_with_ack (psynack, 50001);
    TO_GUEST (psynack, &psynack_want, COLO_RW_REWRITTEN);
    ck_assert_uint_eq (colo_rewriter_connections (s_rw), 2);
    //  A connection opened after failover is neither tracked nor rewritten.
    colo_test_pkt_t syn = s_tcp (v6, 0, COLO_TCP_SYN, 9, 0, 0);
    syn.sport = 41000;
    TO_GUEST (syn, NULL, COLO_RW_PASSED);
    colo_test_pkt_t synack = s_tcp (v6, 1, COLO_TCP_SYN | COLO_TCP_ACK, 777, 10, 0);
    synack.dport = 41000;
    FROM_GUEST (synack, NULL, COLO_RW_PASSED);
    colo_test_pkt_t ack = s_tcp (v6, 0, COLO_TCP_ACK, 10, 778, 0);
    ack.sport = 41000;
    TO_GUEST (ack, NULL, COLO_RW_PASSED);
    ck_assert_uint_eq (colo_rewriter_connections (s_rw), 2);
    ck_assert_uint_eq (s_count (COLO_RW_AFTER_FAILOVER), 2);
    //  Reusing a tracked 4-tuple after failover ends its tracking.
    colo_test_pkt_t gsyn2 = s_tcp (v6, 1, COLO_TCP_SYN, 4242, 0, 0);
    FROM_GUEST (gsyn2, NULL, COLO_RW_PASSED);
    ck_assert_int_eq (s_offset (v6, NULL), -1);
    ck_assert_uint_eq (colo_rewriter_connections (s_rw), 1);
}
END_TEST

//  ---------------------------------------------------------------- table bounds, aging

static void
s_syn_from (uint16_t client_port, uint32_t isn)
{
    colo_test_pkt_t syn = s_tcp (0, 0, COLO_TCP_SYN, isn, 0, 0);
    syn.sport = client_port;
    TO_GUEST (syn, NULL, COLO_RW_PASSED);
}

static void
s_accept_on (uint16_t client_port, uint32_t c, uint32_t p, uint32_t s)
{
    s_syn_from (client_port, c);
    colo_test_pkt_t synack = s_tcp (0, 1, COLO_TCP_SYN | COLO_TCP_ACK, s, c + 1, 0);
    synack.dport = client_port;
    FROM_GUEST (synack, NULL, COLO_RW_PASSED);
    colo_test_pkt_t ack = s_tcp (0, 0, COLO_TCP_ACK, c + 1, p + 1, 0);
    ack.sport = client_port;
    colo_test_pkt_t ack_want = s_with_ack (ack, s + 1);
    TO_GUEST (ack, &ack_want, COLO_RW_REWRITTEN);
}

START_TEST (test_table_bound)
{
    colo_rewriter_config_t cfg;
    colo_rewriter_config_defaults (&cfg);
    cfg.max_connections = 2;
    s_new_with (&cfg);
    s_accept_on (1001, 10, 20, 30000);
    s_accept_on (1002, 10, 20, 40000);
    //  Full of live offsets: a third connection passes untracked; nothing
    //  is wiped.
    s_syn_from (1003, 10);
    ck_assert_uint_eq (s_count (COLO_RW_TABLE_FULL), 1);
    ck_assert_uint_eq (colo_rewriter_connections (s_rw), 2);
    colo_test_pkt_t ack = s_tcp (0, 0, COLO_TCP_ACK, 11, 21, 0);
    ack.sport = 1003;
    TO_GUEST (ack, NULL, COLO_RW_PASSED);
    ack.sport = 1001;
    colo_test_pkt_t ack_want = s_with_ack (ack, 30001);
    TO_GUEST (ack, &ack_want, COLO_RW_REWRITTEN);
    //  A checkpoint makes every entry free to drop (offset 0): the least
    //  recently active one (1002) makes room.
    colo_rewriter_checkpoint_done (s_rw);
    s_syn_from (1004, 10);
    ck_assert_uint_eq (s_count (COLO_RW_EVICTED), 1);
    ck_assert_uint_eq (colo_rewriter_connections (s_rw), 2);
    colo_test_pkt_t syn = s_tcp (0, 0, COLO_TCP_SYN, 10, 0, 0);
    syn.sport = 1004;
    TO_GUEST (syn, NULL, COLO_RW_PASSED);
    ck_assert_uint_eq (s_count (COLO_RW_SYN_RETRANSMITS), 1);   //  it is tracked
    //  Incomplete handshakes make room too (a SYN flood cannot lock out
    //  new connections): 1001 (offset 0) goes first, then 1004.
    s_syn_from (1005, 10);
    s_syn_from (1006, 10);
    ck_assert_uint_eq (s_count (COLO_RW_EVICTED), 3);
    ck_assert_uint_eq (colo_rewriter_connections (s_rw), 2);
    s_accept_on (1006, 10, 20, 50000);
}
END_TEST

START_TEST (test_idle_aging)
{
    colo_rewriter_config_t cfg;
    colo_rewriter_config_defaults (&cfg);
    cfg.idle_timeout_ms = 1000;
    s_new_with (&cfg);
    s_accept_on (1001, 10, 20, 30000);
    s_now += 500;
    s_accept_on (1002, 10, 20, 40000);
    colo_rewriter_tick (s_rw, s_now + 499);
    ck_assert_uint_eq (colo_rewriter_connections (s_rw), 2);
    colo_rewriter_tick (s_rw, s_now + 500);   //  1001 idle for 1000 ms
    ck_assert_uint_eq (colo_rewriter_connections (s_rw), 1);
    ck_assert_uint_eq (s_count (COLO_RW_IDLE), 1);
    //  Traffic keeps an entry young.
    s_now += 900;
    colo_test_pkt_t ack = s_tcp (0, 0, COLO_TCP_ACK, 11, 21, 0);
    ack.sport = 1002;
    colo_test_pkt_t ack_want = s_with_ack (ack, 40001);
    TO_GUEST (ack, &ack_want, COLO_RW_REWRITTEN);
    colo_rewriter_tick (s_rw, s_now + 999);
    ck_assert_uint_eq (colo_rewriter_connections (s_rw), 1);
    colo_rewriter_tick (s_rw, s_now + 1000);
    ck_assert_uint_eq (colo_rewriter_connections (s_rw), 0);
    ck_assert_uint_eq (s_count (COLO_RW_IDLE), 2);
}
END_TEST

START_TEST (test_bad_config)
{
    colo_rewriter_config_t cfg;
    colo_rewriter_config_defaults (&cfg);
    cfg.max_connections = 0;
    ck_assert_ptr_null (colo_rewriter_new (&cfg));
    colo_rewriter_config_defaults (&cfg);
    cfg.idle_timeout_ms = 0;
    ck_assert_ptr_null (colo_rewriter_new (&cfg));
    ck_assert_ptr_null (colo_rewriter_new (NULL));
    colo_rewriter_t *rw = NULL;
    colo_rewriter_destroy (&rw);
    colo_rewriter_destroy (NULL);
}
END_TEST

//  ---------------------------------------------------------------- other frames

START_TEST (test_untracked_midstream)
{
    //  A connection that was open before the rewriter started.
    colo_test_pkt_t in = s_tcp (0, 0, COLO_TCP_ACK | COLO_TCP_PSH, 100, 200, 100);
    TO_GUEST (in, NULL, COLO_RW_PASSED);
    colo_test_pkt_t out = s_tcp (0, 1, COLO_TCP_ACK, 200, 200, 0);
    FROM_GUEST (out, NULL, COLO_RW_PASSED);
    ck_assert_uint_eq (s_count (COLO_RW_UNTRACKED), 2);
    ck_assert_uint_eq (colo_rewriter_connections (s_rw), 0);
}
END_TEST

START_TEST (test_non_tcp_untouched)
{
    s_accept (0, ISN_C, ISN_P, ISN_S);
    colo_test_pkt_t spec;
    memset (&spec, 0, sizeof spec);
    spec.proto = 17;
    spec.sport = CLIENT_PORT;   //  same ports as the TCP connection
    spec.dport = GUEST_PORT;
    spec.payload = s_payload;
    spec.len = 64;
    TO_GUEST (spec, NULL, COLO_RW_PASSED);
    spec.from_guest = 1;
    FROM_GUEST (spec, NULL, COLO_RW_PASSED);
    spec.v6 = 1;
    FROM_GUEST (spec, NULL, COLO_RW_PASSED);
    memset (&spec, 0, sizeof spec);
    spec.proto = 1;
    spec.icmp_id = 7;
    TO_GUEST (spec, NULL, COLO_RW_PASSED);
    spec.proto = 58;
    spec.v6 = 1;
    TO_GUEST (spec, NULL, COLO_RW_PASSED);
    memset (&spec, 0, sizeof spec);
    spec.arp_op = 1;
    TO_GUEST (spec, NULL, COLO_RW_PASSED);
    ck_assert_uint_eq (s_count (COLO_RW_NON_TCP), 6);
    ck_assert_uint_eq (s_count (COLO_RW_MALFORMED), 0);
}
END_TEST

//  Run raw bytes through the engine both ways; they must come back equal.
static void
s_raw_unchanged (const uint8_t *bytes, size_t len, uint16_t vnet_hdr_len)
{
    for (int dir = 0; dir < 2; dir++) {
        colo_buf_t *buf = colo_buf_new_copy (bytes, len);
        ck_assert_ptr_nonnull (buf);
        buf->vnet_hdr_len = vnet_hdr_len;
        colo_rewriter_result_t rc = dir ? colo_rewriter_to_guest (s_rw, buf, s_now)
                                        : colo_rewriter_from_guest (s_rw, buf, s_now);
        ck_assert_int_eq (rc, COLO_RW_BAD);
        ck_assert_uint_eq (buf->len, len);
        ck_assert (memcmp (buf->data, bytes, len) == 0);
        colo_buf_destroy (&buf);
    }
}

START_TEST (test_malformed_unchanged)
{
    s_accept (0, ISN_C, ISN_P, ISN_S);
    colo_test_pkt_t spec = s_tcp (0, 0, COLO_TCP_ACK, ISN_C + 1, ISN_P + 1, 20);
    colo_buf_t *good = colo_test_packet (&spec);
    uint8_t bytes[256];
    size_t len = good->len;
    ck_assert_uint_le (len, sizeof bytes);
    //  Truncated inside the TCP header (the IP length now exceeds the frame).
    memcpy (bytes, good->data, len);
    s_raw_unchanged (bytes, 14 + 20 + 10, 0);
    //  TCP data offset below 5.
    memcpy (bytes, good->data, len);
    bytes[14 + 20 + 12] = 0x40;
    s_raw_unchanged (bytes, len, 0);
    //  IPv4 header length 3.
    memcpy (bytes, good->data, len);
    bytes[14] = 0x43;
    s_raw_unchanged (bytes, len, 0);
    //  A runt.
    s_raw_unchanged (bytes, 10, 0);
    s_raw_unchanged (bytes, 0, 0);
    //  A vnet header longer than the frame.
    {
        colo_buf_t *buf = colo_buf_new_copy (good->data, 8);
        buf->vnet_hdr_len = 12;
        ck_assert_int_eq (colo_rewriter_to_guest (s_rw, buf, s_now), COLO_RW_BAD);
        ck_assert (memcmp (buf->data, good->data, 8) == 0);
        colo_buf_destroy (&buf);
    }
    ck_assert_uint_eq (s_count (COLO_RW_MALFORMED), 11);
    ck_assert_uint_eq (s_count (COLO_RW_REWRITTEN_TO_GUEST), 1);   //  the handshake ACK
    //  The decoder's counters: the handshake decoded, each fault counted
    //  once per direction (the over-long vnet header never reaches it).
    const uint64_t *d = colo_rewriter_decode_counters (s_rw);
    ck_assert_uint_eq (d[COLO_PKT_OK], 3);
    ck_assert_uint_eq (d[COLO_PKT_ERR_IPV4_LENGTH_EXCEEDS_FRAME], 2);
    ck_assert_uint_eq (d[COLO_PKT_ERR_TCP_BAD_OFFSET], 2);
    ck_assert_uint_eq (d[COLO_PKT_ERR_IPV4_BAD_IHL], 2);
    ck_assert_uint_eq (d[COLO_PKT_ERR_RUNT], 4);
    ck_assert_uint_eq (d[COLO_PKT_INFO_PADDING], 0);
    //  Garbage of every length up to 200 bytes never crashes.
    for (size_t n = 0; n < 200; n++) {
        uint8_t junk[200];
        for (size_t i = 0; i < n; i++)
            junk[i] = (uint8_t) (i * 37 + n);
        colo_buf_t *buf = colo_buf_new_copy (junk, n);
        colo_rewriter_to_guest (s_rw, buf, s_now);
        colo_rewriter_from_guest (s_rw, buf, s_now);
        colo_buf_destroy (&buf);
    }
    colo_buf_destroy (&good);
}
END_TEST

START_TEST (test_vnet_header)
{
    //  A 12-byte vnet header without NEEDS_CSUM: checksums patched.
    colo_test_pkt_t syn = s_tcp (0, 0, COLO_TCP_SYN, ISN_C, 0, 0);
    syn.vnet_hdr_len = 12;
    TO_GUEST (syn, NULL, COLO_RW_PASSED);
    colo_test_pkt_t synack = s_tcp (0, 1, COLO_TCP_SYN | COLO_TCP_ACK, ISN_S, ISN_C + 1, 0);
    synack.vnet_hdr_len = 12;
    FROM_GUEST (synack, NULL, COLO_RW_PASSED);
    colo_test_pkt_t ack = s_tcp (0, 0, COLO_TCP_ACK, ISN_C + 1, ISN_P + 1, 0);
    ack.vnet_hdr_len = 12;
    colo_test_pkt_t ack_want = s_with_ack (ack, ISN_S + 1);
    TO_GUEST (ack, &ack_want, COLO_RW_REWRITTEN);
    ck_assert_uint_eq (s_count (COLO_RW_CSUM_PARTIAL), 0);

    //  NEEDS_CSUM: seq/ack change, the (partial) checksum field does not.
    for (int dir = 0; dir < 2; dir++) {
        colo_test_pkt_t spec = dir ? s_tcp (0, 0, COLO_TCP_ACK, ISN_C + 1, ISN_P + 1, 500)
                                   : s_tcp (0, 1, COLO_TCP_ACK, ISN_S + 1, ISN_C + 1, 500);
        spec.vnet_hdr_len = 12;
        colo_buf_t *buf = colo_test_packet (&spec);
        buf->data[0] = 1;   //  VIRTIO_NET_HDR_F_NEEDS_CSUM
        colo_put_be16 (colo_buf_frame (buf) + 14 + 20 + 16, 0x1234);   //  a partial sum
        colo_buf_t *orig = colo_buf_dup (buf);
        colo_rewriter_result_t rc = dir ? colo_rewriter_to_guest (s_rw, buf, s_now)
                                        : colo_rewriter_from_guest (s_rw, buf, s_now);
        ck_assert_int_eq (rc, COLO_RW_REWRITTEN);
        uint8_t *tcp = colo_buf_frame (buf) + 14 + 20;
        if (dir)
            ck_assert_uint_eq (colo_get_be32 (tcp + 8), ISN_S + 1);
        else
            ck_assert_uint_eq (colo_get_be32 (tcp + 4), ISN_P + 1);
        ck_assert_uint_eq (colo_get_be16 (tcp + 16), 0x1234);
        //  Every byte but the translated field is unchanged.
        uint32_t field = (uint32_t) (12 + 14 + 20 + (dir ? 8 : 4));
        ck_assert (memcmp (buf->data, orig->data, field) == 0);
        ck_assert (memcmp (buf->data + field + 4, orig->data + field + 4,
                           buf->len - field - 4) == 0);
        colo_buf_destroy (&buf);
        colo_buf_destroy (&orig);
    }
    ck_assert_uint_eq (s_count (COLO_RW_CSUM_PARTIAL), 2);
}
END_TEST

START_TEST (test_vlan_and_padding)
{
    //  A tagged connection is its own connection; padding is not payload
    //  and passes unchanged.
    colo_test_pkt_t syn = s_tcp (0, 0, COLO_TCP_SYN, ISN_C, 0, 0);
    syn.vlan = 10;
    TO_GUEST (syn, NULL, COLO_RW_PASSED);
    colo_test_pkt_t synack = s_tcp (0, 1, COLO_TCP_SYN | COLO_TCP_ACK, ISN_S, ISN_C + 1, 0);
    synack.vlan = 10;
    FROM_GUEST (synack, NULL, COLO_RW_PASSED);
    colo_test_pkt_t ack = s_tcp (0, 0, COLO_TCP_ACK, ISN_C + 1, ISN_P + 1, 0);
    ack.vlan = 10;
    ack.pad_to = 64;
    colo_test_pkt_t ack_want = s_with_ack (ack, ISN_S + 1);
    TO_GUEST (ack, &ack_want, COLO_RW_REWRITTEN);
    //  The untagged 4-tuple is not tracked.
    colo_test_pkt_t plain = s_tcp (0, 0, COLO_TCP_ACK, ISN_C + 1, ISN_P + 1, 0);
    plain.pad_to = 60;
    TO_GUEST (plain, NULL, COLO_RW_PASSED);
    colo_test_pkt_t out = s_tcp (0, 1, COLO_TCP_ACK, ISN_S + 1, ISN_C + 1, 0);
    out.vlan = 10;
    out.pad_to = 60;
    colo_test_pkt_t out_want = s_with_seq (out, ISN_P + 1);
    FROM_GUEST (out, &out_want, COLO_RW_REWRITTEN);
    //  Every frame decoded; the three padded ones are counted as such.
    const uint64_t *d = colo_rewriter_decode_counters (s_rw);
    ck_assert_uint_eq (d[COLO_PKT_OK], 5);
    ck_assert_uint_eq (d[COLO_PKT_INFO_PADDING], 3);
    ck_assert_uint_eq (d[COLO_PKT_INFO_FRAGMENT], 0);
}
END_TEST

START_TEST (test_counter_names)
{
    for (int i = 0; i < COLO_RW_COUNTER_COUNT; i++) {
        ck_assert_ptr_nonnull (colo_rewriter_counter_names[i]);
        for (int j = 0; j < i; j++)
            ck_assert_str_ne (colo_rewriter_counter_names[i], colo_rewriter_counter_names[j]);
    }
    ck_assert_ptr_nonnull (colo_rewriter_decode_counters (s_rw));
}
END_TEST

//  The frame of spec with other IPv4 addresses (host order), checksums
//  fixed.
static colo_buf_t *
s_tcp4_at (const colo_test_pkt_t *spec, uint32_t client, uint32_t guest)
{
    colo_buf_t *buf = colo_test_packet (spec);
    ck_assert_ptr_nonnull (buf);
    uint8_t *frame = colo_buf_frame (buf);
    colo_packet_t pkt;
    ck_assert_int_eq (colo_packet_decode (&pkt, frame, colo_buf_frame_len (buf), NULL),
                      COLO_PKT_OK);
    colo_put_be32 (frame + pkt.src_off, spec->from_guest ? guest : client);
    colo_put_be32 (frame + pkt.dst_off, spec->from_guest ? client : guest);
    ck_assert_int_eq (colo_csum_fix (&pkt, frame), 0);
    return buf;
}

START_TEST (test_flow_key_shapes)
{
    //  The engine builds IPv4 keys itself; whatever the order of the
    //  addresses (or, when they are equal, of the ports), with or without a
    //  VLAN tag, it must file a connection under colo_flow_key's key and
    //  colo_flow_hash's hash, and find it again from either direction.
    static const struct {
        uint32_t client, guest;
        uint16_t cport, gport, vlan;
    } shapes[] = {
        {0x0a000001, 0x0a000002, 40000, 80, 0},     //  client below guest
        {0xc0a80105, 0x0a000002, 40000, 80, 0},     //  client above guest
        {0x0a000009, 0x0a000009, 40000, 80, 0},     //  same address, client port higher
        {0x0a000009, 0x0a000009, 81, 40001, 0},     //  same address, client port lower
        {0xffffffff, 0x00000000, 1, 65535, 7},      //  extremes, tagged
        {0x7f000001, 0x7f000001, 5000, 5000, 4095}, //  one endpoint talking to itself
    };
    enum { N = sizeof shapes / sizeof shapes[0] };
    for (unsigned i = 0; i < N; i++) {
        colo_test_pkt_t syn = s_tcp (0, 0, COLO_TCP_SYN, ISN_C + i, 0, 0);
        colo_test_pkt_t synack = s_tcp (0, 1, COLO_TCP_SYN | COLO_TCP_ACK, ISN_S + i,
                                        ISN_C + i + 1, 0);
        colo_test_pkt_t ack = s_tcp (0, 0, COLO_TCP_ACK, ISN_C + i + 1, ISN_P + 1, 0);
        colo_test_pkt_t *specs[3] = {&syn, &synack, &ack};
        for (int k = 0; k < 3; k++) {
            colo_test_pkt_t *spec = specs[k];
            spec->vlan = shapes[i].vlan;
            spec->sport = spec->from_guest ? shapes[i].gport : shapes[i].cport;
            spec->dport = spec->from_guest ? shapes[i].cport : shapes[i].gport;
        }
        colo_buf_t *buf = s_tcp4_at (&syn, shapes[i].client, shapes[i].guest);
        ck_assert_int_eq (colo_rewriter_to_guest (s_rw, buf, s_now), COLO_RW_PASSED);
        colo_packet_t pkt;
        colo_flow_key_t key;
        ck_assert_int_eq (colo_packet_decode (&pkt, colo_buf_frame (buf),
                                              colo_buf_frame_len (buf), NULL),
                          COLO_PKT_OK);
        ck_assert_int_eq (colo_flow_key (&key, &pkt, colo_buf_frame (buf), NULL), 0);
        colo_buf_destroy (&buf);
        ck_assert_int_eq (colo_rewriter_offset (s_rw, &key, NULL), 0);
        //  The guest's answer finds the entry (no new one), and so does the
        //  client's ACK, which completes the handshake and is translated.
        buf = s_tcp4_at (&synack, shapes[i].client, shapes[i].guest);
        ck_assert_int_eq (colo_rewriter_from_guest (s_rw, buf, s_now), COLO_RW_PASSED);
        colo_buf_destroy (&buf);
        buf = s_tcp4_at (&ack, shapes[i].client, shapes[i].guest);
        ck_assert_int_eq (colo_rewriter_to_guest (s_rw, buf, s_now), COLO_RW_REWRITTEN);
        ck_assert_uint_eq (colo_get_be32 (colo_buf_frame (buf) + pkt.l4_off + 8),
                           ISN_S + i + 1);
        s_check_csum (buf, __LINE__);
        colo_buf_destroy (&buf);
        uint32_t offset = 0;
        ck_assert_int_eq (colo_rewriter_offset (s_rw, &key, &offset), 1);
        ck_assert_uint_eq (offset, ISN_S + i - ISN_P);
        ck_assert_uint_eq (s_count (COLO_RW_CONNS_CREATED), i + 1);
    }
    ck_assert_uint_eq (s_count (COLO_RW_UNTRACKED), 0);
    ck_assert_uint_eq (colo_rewriter_connections (s_rw), N);
}
END_TEST

//  ---------------------------------------------------------------- random traffic

static uint32_t
s_rand (uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

START_TEST (test_random_traffic)
{
    //  Random TCP frames (flags, numbers, SACK, v4/v6, 12 connections over
    //  a table of 8) with checkpoints, failovers and ticks in between.
    //  Whatever the engine does, a frame leaves with a right checksum,
    //  and only seq, ack, SACK edges and the checksum ever change.
    colo_rewriter_config_t cfg;
    colo_rewriter_config_defaults (&cfg);
    cfg.max_connections = 8;
    cfg.idle_timeout_ms = 50;
    cfg.closed_linger_ms = 5;
    s_new_with (&cfg);
    uint32_t rng = 12345;
    static const uint8_t flag_set[] = {
        COLO_TCP_SYN, COLO_TCP_SYN | COLO_TCP_ACK, COLO_TCP_ACK, COLO_TCP_ACK | COLO_TCP_PSH,
        COLO_TCP_FIN | COLO_TCP_ACK, COLO_TCP_RST, COLO_TCP_RST | COLO_TCP_ACK, 0xff,
    };
    for (int i = 0; i < 20000; i++) {
        uint32_t r = s_rand (&rng);
        int from_guest = r & 1;
        colo_test_pkt_t spec = s_tcp ((r >> 1) & 1, from_guest, flag_set[(r >> 2) & 7],
                                      s_rand (&rng) % 64 * 1000, s_rand (&rng) % 64 * 1000,
                                      (r >> 5) % 3 ? 0 : 100);
        uint16_t port = (uint16_t) (2000 + (r >> 8) % 6);
        if (from_guest)
            spec.dport = port;
        else
            spec.sport = port;
        uint8_t opts[20] = {1, 1, 5, 18};
        for (int k = 0; k < 4; k++)
            colo_put_be32 (opts + 4 + 4 * k, s_rand (&rng));
        if ((r >> 12) % 4 == 0) {
            spec.tcp_opts = opts;
            spec.tcp_opts_len = sizeof opts;
        }
        colo_buf_t *buf = colo_test_packet (&spec);
        colo_buf_t *orig = colo_buf_dup (buf);
        colo_rewriter_result_t rc = from_guest ? colo_rewriter_from_guest (s_rw, buf, s_now)
                                               : colo_rewriter_to_guest (s_rw, buf, s_now);
        ck_assert (rc == COLO_RW_PASSED || rc == COLO_RW_REWRITTEN);
        s_check_csum (buf, __LINE__);
        //  Blank what may change and compare the rest.
        colo_packet_t pkt;
        ck_assert_int_eq (colo_packet_decode (&pkt, buf->data, buf->len, NULL), COLO_PKT_OK);
        uint8_t *a = buf->data, *b = orig->data;
        memset (a + pkt.l4_off + 4, 0, 8);
        memset (b + pkt.l4_off + 4, 0, 8);
        memset (a + pkt.l4_off + 16, 0, 2);
        memset (b + pkt.l4_off + 16, 0, 2);
        if (pkt.tcp_sack_off) {
            memset (a + pkt.tcp_sack_off, 0, 8u * pkt.tcp_sack_count);
            memset (b + pkt.tcp_sack_off, 0, 8u * pkt.tcp_sack_count);
        }
        ck_assert (rc == COLO_RW_REWRITTEN || memcmp (buf->data, orig->data, buf->len) == 0);
        ck_assert (memcmp (a, b, buf->len) == 0);
        colo_buf_destroy (&buf);
        colo_buf_destroy (&orig);
        ck_assert_uint_le (colo_rewriter_connections (s_rw), 8);
        s_now += (r >> 20) % 3;
        if ((r >> 24) % 64 == 0)
            colo_rewriter_tick (s_rw, s_now);
        if ((r >> 24) == 7)
            colo_rewriter_checkpoint_done (s_rw);
        if (i == 15000)
            colo_rewriter_failover (s_rw);
    }
    const uint64_t *c = colo_rewriter_counters (s_rw);
    ck_assert_uint_gt (c[COLO_RW_REWRITTEN_TO_GUEST] + c[COLO_RW_REWRITTEN_FROM_GUEST], 0);
    ck_assert_uint_gt (c[COLO_RW_CONNS_CREATED], 0);
    //  Every connection created has left or is still there.
    ck_assert_uint_eq (c[COLO_RW_CONNS_CREATED],
                       c[COLO_RW_CLOSED] + c[COLO_RW_RESET] + c[COLO_RW_IDLE] + c[COLO_RW_EVICTED]
                           + colo_rewriter_connections (s_rw));
}
END_TEST

START_TEST (test_burst_same_as_frames)
{
    //  The burst calls take frames exactly as the per-frame calls do: two
    //  engines, the same random traffic (TCP with and without options,
    //  v4/v6, a tagged connection, UDP, runts, NEEDS_CSUM vnet headers) in
    //  random bursts, one engine frame by frame and the other a burst at a
    //  time; same bytes, results, counters and table.
    colo_rewriter_config_t cfg;
    colo_rewriter_config_defaults (&cfg);
    cfg.max_connections = 8;
    cfg.idle_timeout_ms = 50;
    cfg.closed_linger_ms = 5;
    cfg.seed = 99;
    colo_rewriter_t *one = colo_rewriter_new (&cfg);
    colo_rewriter_t *many = colo_rewriter_new (&cfg);
    ck_assert_ptr_nonnull (one);
    ck_assert_ptr_nonnull (many);
    uint32_t rng = 4242;
    static const uint8_t flag_set[] = {
        COLO_TCP_SYN, COLO_TCP_SYN | COLO_TCP_ACK, COLO_TCP_ACK, COLO_TCP_ACK | COLO_TCP_PSH,
        COLO_TCP_FIN | COLO_TCP_ACK, COLO_TCP_RST, COLO_TCP_ACK, COLO_TCP_ACK,
    };
    uint64_t now = 1000, frames = 0;
    for (int round = 0; round < 600; round++) {
        uint32_t r = s_rand (&rng);
        int from_guest = r & 1;
        size_t n = 1 + (r >> 1) % 64;
        colo_buf_t *a[64], *b[64];
        colo_rewriter_result_t want[64], got[64];
        for (size_t i = 0; i < n; i++) {
            uint32_t q = s_rand (&rng);
            colo_test_pkt_t spec = s_tcp ((q >> 1) & 1, from_guest, flag_set[(q >> 2) & 7],
                                          s_rand (&rng) % 16 * 1000, s_rand (&rng) % 16 * 1000,
                                          (q >> 5) % 3 ? 0 : 100);
            uint16_t port = (uint16_t) (2000 + (q >> 8) % 10);
            if (from_guest)
                spec.dport = port;
            else
                spec.sport = port;
            uint8_t opts[20] = {1, 1, 5, 18};
            for (int k = 0; k < 4; k++)
                colo_put_be32 (opts + 4 + 4 * k, s_rand (&rng));
            if ((q >> 12) % 4 == 0) {
                spec.tcp_opts = opts;
                spec.tcp_opts_len = sizeof opts;
            }
            if ((q >> 14) % 16 == 0)
                spec.vlan = 5;
            if ((q >> 18) % 16 == 0)
                spec.proto = 17;
            if ((q >> 22) % 8 == 0)
                spec.vnet_hdr_len = 12;
            if ((q >> 25) % 32 == 0)
                spec.pad_to = 64;
            a[i] = colo_test_packet (&spec);
            ck_assert_ptr_nonnull (a[i]);
            if (spec.vnet_hdr_len && (q >> 27) & 1)
                a[i]->data[0] = 1;   //  NEEDS_CSUM
            if ((q >> 28) == 0)
                a[i]->len = a[i]->vnet_hdr_len + 30;   //  a runt: malformed
            b[i] = colo_buf_dup (a[i]);
            ck_assert_ptr_nonnull (b[i]);
        }
        for (size_t i = 0; i < n; i++)
            want[i] = from_guest ? colo_rewriter_from_guest (one, a[i], now)
                                 : colo_rewriter_to_guest (one, a[i], now);
        colo_rewriter_result_t *results = (r >> 8) % 8 ? got : NULL;
        if (from_guest)
            colo_rewriter_from_guest_burst (many, b, n, now, results);
        else
            colo_rewriter_to_guest_burst (many, b, n, now, results);
        for (size_t i = 0; i < n; i++) {
            if (results)
                ck_assert_int_eq (got[i], want[i]);
            ck_assert_uint_eq (a[i]->len, b[i]->len);
            ck_assert (memcmp (a[i]->data, b[i]->data, a[i]->len) == 0);
            colo_buf_destroy (&a[i]);
            colo_buf_destroy (&b[i]);
        }
        frames += n;
        now += (r >> 16) % 4;
        if ((r >> 20) % 8 == 0) {
            colo_rewriter_tick (one, now);
            colo_rewriter_tick (many, now);
        }
        if ((r >> 24) % 32 == 0) {
            colo_rewriter_checkpoint_done (one);
            colo_rewriter_checkpoint_done (many);
        }
        if (round == 500) {
            colo_rewriter_failover (one);
            colo_rewriter_failover (many);
        }
    }
    const uint64_t *c1 = colo_rewriter_counters (one), *c2 = colo_rewriter_counters (many);
    for (int i = 0; i < COLO_RW_COUNTER_COUNT; i++)
        ck_assert_msg (c1[i] == c2[i], "%s: %llu frame by frame, %llu in bursts",
                       colo_rewriter_counter_names[i], (unsigned long long) c1[i],
                       (unsigned long long) c2[i]);
    const uint64_t *d1 = colo_rewriter_decode_counters (one);
    const uint64_t *d2 = colo_rewriter_decode_counters (many);
    for (int i = 0; i < COLO_PKT_COUNTER_COUNT; i++)
        ck_assert_msg (d1[i] == d2[i], "decoder %s: %llu frame by frame, %llu in bursts",
                       colo_packet_counter_names[i], (unsigned long long) d1[i],
                       (unsigned long long) d2[i]);
    ck_assert_uint_eq (colo_rewriter_connections (one), colo_rewriter_connections (many));
    //  The traffic went through every path worth comparing.
    ck_assert_uint_eq (c1[COLO_RW_FRAMES_TO_GUEST] + c1[COLO_RW_FRAMES_FROM_GUEST], frames);
    ck_assert_uint_gt (c1[COLO_RW_REWRITTEN_TO_GUEST], 0);
    ck_assert_uint_gt (c1[COLO_RW_REWRITTEN_FROM_GUEST], 0);
    ck_assert_uint_gt (c1[COLO_RW_SACK_REWRITTEN], 0);
    ck_assert_uint_gt (c1[COLO_RW_CSUM_PARTIAL], 0);
    ck_assert_uint_gt (c1[COLO_RW_NON_TCP], 0);
    ck_assert_uint_gt (c1[COLO_RW_MALFORMED], 0);
    ck_assert_uint_gt (c1[COLO_RW_EVICTED] + c1[COLO_RW_TABLE_FULL], 0);
    ck_assert_uint_gt (c1[COLO_RW_CLOSED] + c1[COLO_RW_RESET], 0);
    ck_assert_uint_gt (d1[COLO_PKT_INFO_PADDING], 0);
    colo_rewriter_destroy (&one);
    colo_rewriter_destroy (&many);
}
END_TEST

Suite *
colo_rewriter_suite (void)
{
    Suite *s = suite_create ("colo_rewriter");
    TCase *tc = tcase_create ("engine");
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_add_loop_test (tc, test_guest_accepts, 0, 2);
    tcase_add_loop_test (tc, test_guest_opens, 0, 2);
    tcase_add_test (tc, test_client_ack_before_synack);
    tcase_add_test (tc, test_handshake_needs_matching_seq);
    tcase_add_loop_test (tc, test_sack_blocks, 0, 2);
    tcase_add_loop_test (tc, test_sack_and_timestamp, 0, 2);
    tcase_add_loop_test (tc, test_timestamp_echo_translated, 0, 2);
    tcase_add_loop_test (tc, test_timestamp_echo_guest_opens, 0, 2);
    tcase_add_loop_test (tc, test_sequence_wrap, 0, 2);
    tcase_add_loop_test (tc, test_passive_close, 0, 2);
    tcase_add_loop_test (tc, test_active_close, 0, 2);
    tcase_add_test (tc, test_close_linger);
    tcase_add_loop_test (tc, test_rst, 0, 2);
    tcase_add_test (tc, test_retransmitted_syn_synack);
    tcase_add_test (tc, test_synack_new_isn_mid_handshake);
    tcase_add_loop_test (tc, test_guest_syn_retransmitted, 0, 2);
    tcase_add_test (tc, test_tuple_reused);
    tcase_add_loop_test (tc, test_checkpoint_resets_offsets, 0, 2);
    tcase_add_test (tc, test_checkpoint_mid_handshake);
    tcase_add_test (tc, test_checkpoint_lost_syn_relearns);
    tcase_add_test (tc, test_checkpoint_during_close);
    tcase_add_loop_test (tc, test_failover, 0, 2);
    tcase_add_test (tc, test_table_bound);
    tcase_add_test (tc, test_idle_aging);
    tcase_add_test (tc, test_bad_config);
    tcase_add_test (tc, test_untracked_midstream);
    tcase_add_test (tc, test_non_tcp_untouched);
    tcase_add_test (tc, test_malformed_unchanged);
    tcase_add_test (tc, test_vnet_header);
    tcase_add_test (tc, test_vlan_and_padding);
    tcase_add_test (tc, test_flow_key_shapes);
    tcase_add_test (tc, test_counter_names);
    tcase_add_test (tc, test_random_traffic);
    tcase_add_test (tc, test_burst_same_as_frames);
    suite_add_tcase (s, tc);
    return s;
}
