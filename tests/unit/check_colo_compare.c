/*  check_colo_compare.c - the comparison engine on literal packets.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <string.h>

#include "colo_compare.h"
#include "colo_csum.h"
#include "colo_log.h"
#include "colo_packet.h"
#include "colo_ruleset.h"
#include "colo_test.h"

#define GUEST_PORT 80
#define CLIENT_PORT 40000
#define ISN_P 1000000u
#define ISN_S 7777777u
#define ISN_C 5000u

static colo_compare_t *s_cmp;
static uint64_t s_now;
//  The "views" test case feeds the secondary through
//  colo_compare_secondary_view (1), "slab views" through
//  colo_compare_secondary_frame with the bytes in a slab of their own (2),
//  every assertion the same.
static int s_via_view;
//  The "queued" test case sends every secondary segment through the queue
//  (queued_only), where the others compare a waiting primary's twin in
//  place: every assertion the same.
static int s_queued_only;

static void
s_setup (void)
{
    colo_log_set_level (COLO_LOG_ERROR);
    colo_compare_config_t cfg;
    colo_compare_config_defaults (&cfg);
    cfg.max_connections = 1024;
    cfg.queued_only = s_queued_only;
    s_cmp = colo_compare_new (&cfg);
    ck_assert_ptr_nonnull (s_cmp);
    s_now = 1000;
}

static void
s_setup_queued (void)
{
    s_queued_only = 1;
    s_setup ();
}

static void
s_setup_views (void)
{
    s_setup ();
    s_via_view = 1;
}

static void
s_setup_slab_views (void)
{
    s_setup ();
    s_via_view = 2;
}

static void
s_teardown (void)
{
    colo_compare_destroy (&s_cmp);
}

static colo_compare_t *
s_new_with (colo_compare_config_t *cfg)
{
    colo_compare_destroy (&s_cmp);
    cfg->queued_only = s_queued_only;
    s_cmp = colo_compare_new (cfg);
    ck_assert_ptr_nonnull (s_cmp);
    return s_cmp;
}

//  A guest -> client TCP segment.
static colo_buf_t *
s_tcp (uint32_t seq, uint32_t ack, uint8_t flags, const char *payload, size_t len)
{
    colo_test_pkt_t spec;
    memset (&spec, 0, sizeof spec);
    spec.from_guest = 1;
    spec.proto = 6;
    spec.sport = GUEST_PORT;
    spec.dport = CLIENT_PORT;
    spec.seq = seq;
    spec.ack = ack;
    spec.flags = flags;
    spec.payload = payload;
    spec.len = len;
    return colo_test_packet (&spec);
}

//  A guest -> client UDP datagram to client port dport.
static colo_buf_t *
s_udp_to (int v6, uint16_t dport, const char *payload, size_t len)
{
    colo_test_pkt_t spec;
    memset (&spec, 0, sizeof spec);
    spec.v6 = v6;
    spec.from_guest = 1;
    spec.proto = 17;
    spec.sport = 53;
    spec.dport = dport;
    spec.payload = payload;
    spec.len = len;
    return colo_test_packet (&spec);
}

static colo_buf_t *
s_udp (int v6, const char *payload, size_t len)
{
    return s_udp_to (v6, 33333, payload, len);
}

static void
s_pri (colo_buf_t *buf)
{
    ck_assert_int_eq (colo_compare_primary (s_cmp, &buf, s_now), 0);
    ck_assert_ptr_null (buf);
}

static void
s_sec (colo_buf_t *buf)
{
    if (s_via_view == 2) {
        //  The caller lets go of its slab at once: a frame the engine keeps
        //  must hold the slab itself (ASan and valgrind see any slip).
        colo_buf_slab_t *slab = colo_buf_slab_new (buf->len);
        ck_assert_ptr_nonnull (slab);
        memcpy (colo_buf_slab_data (slab), buf->data, buf->len);
        colo_frame_view_t view = {colo_buf_slab_data (slab), buf->len, buf->vnet_hdr_len,
                                  buf->ts_ns, slab};
        ck_assert_int_eq (colo_compare_secondary_frame (s_cmp, &view, s_now), 0);
        colo_buf_slab_release (&slab);
        colo_buf_destroy (&buf);
        return;
    }
    if (s_via_view) {
        ck_assert_int_eq (colo_compare_secondary_view (s_cmp, buf->data, buf->len,
                                                       buf->vnet_hdr_len, buf->ts_ns, s_now),
                          0);
        colo_buf_destroy (&buf);
        return;
    }
    ck_assert_int_eq (colo_compare_secondary (s_cmp, &buf, s_now), 0);
    ck_assert_ptr_null (buf);
}

//  Take every released frame; return how many, keep the last n in out.
static int
s_take (colo_buf_t **out, int max)
{
    colo_buf_t *tmp[256];
    int total = 0, n;
    while ((n = colo_compare_take (s_cmp, tmp, 256)) > 0) {
        for (int i = 0; i < n; i++) {
            if (out && total < max)
                out[total] = tmp[i];
            else
                colo_buf_destroy (&tmp[i]);
            total++;
        }
    }
    return total;
}

static int
s_released (void)
{
    return s_take (NULL, 0);
}

static int
s_requests (colo_compare_reason_t *reason)
{
    return colo_compare_take_request (s_cmp, reason, NULL, 0);
}

static uint64_t
s_counter (colo_compare_counter_t c)
{
    return colo_compare_counters (s_cmp)[c];
}

static uint32_t
s_released_seq (colo_buf_t *buf)
{
    colo_packet_t pkt;
    ck_assert_int_eq (colo_packet_decode (&pkt, colo_buf_frame (buf), colo_buf_frame_len (buf), NULL),
                      COLO_PKT_OK);
    return pkt.tcp_seq;
}

//  The guest accepts a connection: both guests answer the client's SYN with
//  their own ISN; the rewriter has translated the secondary's later
//  segments into the primary's space.
static void
s_handshake (void)
{
    s_pri (s_tcp (ISN_P, ISN_C + 1, COLO_TCP_SYN | COLO_TCP_ACK, NULL, 0));
    ck_assert_int_eq (s_released (), 0);   //  waits for the secondary's SYN-ACK
    s_sec (s_tcp (ISN_S, ISN_C + 1, COLO_TCP_SYN | COLO_TCP_ACK, NULL, 0));
    ck_assert_int_eq (s_released (), 1);
}

START_TEST (test_identical_streams)
{
    s_handshake ();
    char data[1000];
    for (int i = 0; i < 1000; i++)
        data[i] = (char) i;
    uint32_t seq = ISN_P + 1;
    for (int i = 0; i < 20; i++) {
        s_pri (s_tcp (seq, ISN_C + 1 + (uint32_t) i, COLO_TCP_ACK | COLO_TCP_PSH, data, 1000));
        s_sec (s_tcp (seq, ISN_C + 1 + (uint32_t) i, COLO_TCP_ACK | COLO_TCP_PSH, data, 1000));
        ck_assert_int_eq (s_released (), 1);
        seq += 1000;
    }
    ck_assert_int_eq (s_requests (NULL), 0);
    ck_assert_uint_eq (s_counter (COLO_CMP_BYTES_COMPARED), 20000);
    ck_assert_uint_eq (colo_compare_queued_primary (s_cmp), 0);
    //  Matched secondary data leaves the queue at once.
    ck_assert_uint_eq (colo_compare_queued_secondary (s_cmp), 0);
    //  Nothing times out afterwards.
    s_now += 100000;
    colo_compare_tick (s_cmp, s_now);
    ck_assert_int_eq (s_requests (NULL), 0);
}
END_TEST

START_TEST (test_one_byte_difference)
{
    s_handshake ();
    char a[100], b[100];
    memset (a, 'x', sizeof a);
    memcpy (b, a, sizeof b);
    b[57] = 'y';
    s_pri (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, a, 100));
    s_sec (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, b, 100));
    ck_assert_int_eq (s_released (), 0);
    colo_compare_reason_t reason;
    ck_assert_int_eq (s_requests (&reason), 1);
    ck_assert_int_eq (reason, COLO_REASON_MISMATCH_TCP);
    ck_assert_uint_eq (s_counter (COLO_CMP_MISMATCH_TCP), 1);
    ck_assert (colo_compare_stuck (s_cmp));
    //  Later segments on that connection stay queued; no request storm.
    s_pri (s_tcp (ISN_P + 101, ISN_C + 1, COLO_TCP_ACK, a, 100));
    s_sec (s_tcp (ISN_P + 101, ISN_C + 1, COLO_TCP_ACK, a, 100));
    ck_assert_int_eq (s_released (), 0);
    ck_assert_int_eq (s_requests (NULL), 0);
    //  The checkpoint releases the primary's frames in order.
    colo_compare_checkpoint_done (s_cmp, s_now);
    colo_buf_t *out[4];
    ck_assert_int_eq (s_take (out, 4), 2);
    ck_assert_uint_eq (s_released_seq (out[0]), ISN_P + 1);
    ck_assert_uint_eq (s_released_seq (out[1]), ISN_P + 101);
    colo_buf_destroy_array (out, 2);
    ck_assert (!colo_compare_stuck (s_cmp));
    //  Both guests now continue equal; stale secondary data is dropped.
    s_sec (s_tcp (ISN_P + 101, ISN_C + 1, COLO_TCP_ACK, a, 100));
    ck_assert_uint_eq (s_counter (COLO_CMP_SECONDARY_STALE), 1);
    s_pri (s_tcp (ISN_P + 201, ISN_C + 1, COLO_TCP_ACK, a, 10));
    s_sec (s_tcp (ISN_P + 201, ISN_C + 1, COLO_TCP_ACK, a, 10));
    ck_assert_int_eq (s_released (), 1);
    ck_assert_int_eq (s_requests (NULL), 0);
}
END_TEST

//  A small deterministic generator (the same frames on every run).
static unsigned
s_rand (unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 8;
}

//  A random frame for the burst test: TCP over IPv4 or IPv6 (tagged or
//  not) on one of a few connections, UDP, or bytes that do not parse; the
//  secondary's copy differs now and then.
static colo_buf_t *
s_burst_frame (unsigned *rnd, uint32_t seq[8], int secondary)
{
    static char payload[600];
    int kind = (int) (s_rand (rnd) % 10);
    int conn = (int) (s_rand (rnd) % 8);
    if (kind == 9) {
        uint8_t junk[40];
        for (size_t k = 0; k < sizeof junk; k++)
            junk[k] = (uint8_t) s_rand (rnd);
        if (s_rand (rnd) % 2)
            return colo_buf_new_copy (junk, 1 + s_rand (rnd) % 13);   //  a runt
        junk[12] = 0x08;   //  IPv4 with a header that does not hold
        junk[13] = 0x00;
        junk[14] = 0x4f;
        return colo_buf_new_copy (junk, 20 + s_rand (rnd) % 20);
    }
    colo_test_pkt_t spec;
    memset (&spec, 0, sizeof spec);
    spec.from_guest = 1;
    spec.v6 = conn & 1;
    spec.vlan = conn & 2 ? 7 : 0;
    spec.proto = kind == 8 ? 17 : 6;
    spec.sport = GUEST_PORT;
    spec.dport = (uint16_t) (CLIENT_PORT + conn);
    size_t len = s_rand (rnd) % 4 == 0 ? 0 : 1 + s_rand (rnd) % 500;
    for (size_t k = 0; k < len; k++)
        payload[k] = (char) (seq[conn] + k);
    if (secondary && s_rand (rnd) % 16 == 0 && len)
        payload[s_rand (rnd) % len] ^= 1;
    spec.payload = payload;
    spec.len = len;
    spec.seq = ISN_P + seq[conn];
    spec.ack = ISN_C + 1;
    spec.flags = COLO_TCP_ACK;
    if (spec.proto == 6)
        seq[conn] += (uint32_t) len;
    return colo_test_packet (&spec);
}

//  Everything both released: the same frames in the same order.
static void
s_burst_same_out (colo_compare_t *one, colo_compare_t *burst)
{
    colo_buf_t *a[64], *b[64];
    int n;
    while ((n = colo_compare_take (one, a, 64)) > 0) {
        ck_assert_int_eq (colo_compare_take (burst, b, n), n);
        for (int i = 0; i < n; i++) {
            ck_assert_uint_eq (a[i]->len, b[i]->len);
            ck_assert_mem_eq (a[i]->data, b[i]->data, a[i]->len);
        }
        colo_buf_destroy_array (a, n);
        colo_buf_destroy_array (b, n);
    }
    ck_assert_uint_eq (colo_compare_released_count (burst), 0);
}

START_TEST (test_bursts_as_single_frames)
{
    //  colo_compare_primaries and colo_compare_secondary_frames (with a
    //  large table: _i = 1) decode each frame ahead of its turn: they must
    //  do exactly what the frames one by one do, refusals (small queues) and
    //  bytes that do not parse included, and take nothing of a burst past
    //  the frame refused.
    colo_log_set_level (COLO_LOG_ERROR);
    colo_compare_config_t cfg;
    colo_compare_config_defaults (&cfg);
    cfg.max_connections = 8192;
    cfg.max_queue_size = 6;
    colo_compare_t *one = colo_compare_new (&cfg);
    colo_compare_t *burst = colo_compare_new (&cfg);
    ck_assert (one && burst);
    for (int flow = 0; _i && flow < 4096; flow++) {
        //  Other flows, matched and left: the table is large.
        for (int side = 0; side < 2; side++) {
            colo_compare_t *e = side ? burst : one;
            colo_buf_t *p = s_udp_to (0, (uint16_t) (20000 + flow), "fill", 4),
                       *q = s_udp_to (0, (uint16_t) (20000 + flow), "fill", 4);
            ck_assert_int_eq (colo_compare_primary (e, &p, s_now), 0);
            ck_assert_int_eq (colo_compare_secondary (e, &q, s_now), 0);
        }
        s_burst_same_out (one, burst);
    }
    ck_assert_uint_eq (colo_compare_connections (burst), _i ? 4096 : 0);
    unsigned rnd = 12345;
    uint32_t seq[2][8] = {{0}};
    int refusals = 0;
    for (int round = 0; round < 400; round++) {
        int secondary = (int) (s_rand (&rnd) % 2);
        int n = 1 + (int) (s_rand (&rnd) % 12);
        colo_buf_t *a[12], *b[12];
        colo_buf_slab_t *slab[12];
        colo_frame_view_t views[12];
        for (int i = 0; i < n; i++) {
            a[i] = s_burst_frame (&rnd, seq[secondary], secondary);
            b[i] = colo_buf_new_copy (a[i]->data, a[i]->len);
            ck_assert_ptr_nonnull (b[i]);
            slab[i] = colo_buf_slab_new (b[i]->len);
            memcpy (colo_buf_slab_data (slab[i]), b[i]->data, b[i]->len);
            views[i] = (colo_frame_view_t) {colo_buf_slab_data (slab[i]), b[i]->len, 0, 0,
                                            slab[i]};
        }
        int took = 0;
        while (took < n
               && (secondary ? colo_compare_secondary (one, &a[took], s_now)
                             : colo_compare_primary (one, &a[took], s_now))
                      == 0)
            took++;
        //  Secondary frames as views (as from a qemu+ port) or as buffers.
        int by_views = secondary && round % 2;
        int took2 = by_views    ? colo_compare_secondary_frames (burst, views, n, s_now)
                    : secondary ? colo_compare_secondaries (burst, b, n, s_now)
                                : colo_compare_primaries (burst, b, n, s_now);
        ck_assert_int_eq (took2, took);
        for (int i = 0; i < n; i++) {
            if (!by_views)
                ck_assert (i < took ? b[i] == NULL : b[i] != NULL);
            colo_buf_destroy (&a[i]);
            colo_buf_destroy (&b[i]);
            colo_buf_slab_release (&slab[i]);
        }
        s_burst_same_out (one, burst);
        colo_compare_reason_t why, why2;
        char desc[160], desc2[160];
        int req = colo_compare_take_request (one, &why, desc, sizeof desc);
        ck_assert_int_eq (colo_compare_take_request (burst, &why2, desc2, sizeof desc2), req);
        if (req) {
            ck_assert_int_eq (why, why2);
            ck_assert_str_eq (desc, desc2);
        }
        if (took < n)
            refusals++;
        if (took < n || s_rand (&rnd) % 8 == 0) {
            colo_compare_checkpoint_done (one, s_now);
            colo_compare_checkpoint_done (burst, s_now);
            s_burst_same_out (one, burst);
            //  Both guests go on from the checkpoint's state alike.
            memcpy (seq[1], seq[0], sizeof seq[0]);
        }
        ck_assert_uint_eq (colo_compare_queued_primary (one), colo_compare_queued_primary (burst));
        ck_assert_uint_eq (colo_compare_queued_secondary (one),
                           colo_compare_queued_secondary (burst));
    }
    ck_assert_int_gt (refusals, 0);
    const uint64_t *c = colo_compare_counters (one), *c2 = colo_compare_counters (burst);
    for (int i = 0; i < COLO_CMP_COUNTER_COUNT; i++)
        ck_assert_msg (c[i] == c2[i], "counter %d: %llu one by one, %llu in bursts", i,
                       (unsigned long long) c[i], (unsigned long long) c2[i]);
    ck_assert_uint_gt (c[COLO_CMP_RELEASED_MATCHED], 100);
    ck_assert_uint_gt (c[COLO_CMP_MALFORMED_PRIMARY], 0);
    colo_compare_destroy (&one);
    colo_compare_destroy (&burst);
}
END_TEST

//  1 x 1000 bytes against 2 x 500, in both directions and both arrival orders.
START_TEST (test_segmentation_independent)
{
    char data[1000];
    for (int i = 0; i < 1000; i++)
        data[i] = (char) (i * 7);
    for (int variant = 0; variant < 4; variant++) {
        s_setup ();
        s_handshake ();
        int primary_big = variant & 1;
        int primary_first = variant & 2;
        uint32_t seq = ISN_P + 1;
        colo_buf_t *big = s_tcp (seq, ISN_C + 1, COLO_TCP_ACK, data, 1000);
        colo_buf_t *h1 = s_tcp (seq, ISN_C + 1, COLO_TCP_ACK, data, 500);
        colo_buf_t *h2 = s_tcp (seq + 500, ISN_C + 1, COLO_TCP_ACK, data + 500, 500);
        if (primary_first) {
            if (primary_big)
                s_pri (big);
            else {
                s_pri (h1);
                s_pri (h2);
            }
            ck_assert_int_eq (s_released (), 0);
        }
        if (primary_big) {
            s_sec (h1);
            s_sec (h2);
        }
        else
            s_sec (big);
        if (!primary_first) {
            if (primary_big)
                s_pri (big);
            else {
                s_pri (h1);
                s_pri (h2);
            }
        }
        ck_assert_int_eq (s_released (), primary_big ? 1 : 2);
        ck_assert_int_eq (s_requests (NULL), 0);
        ck_assert_uint_eq (colo_compare_queued_secondary (s_cmp), 0);
        ck_assert_uint_eq (s_counter (COLO_CMP_BYTES_COMPARED), 1000);
        s_teardown ();
    }
}
END_TEST

START_TEST (test_retransmissions)
{
    s_handshake ();
    s_pri (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, "hello", 5));
    s_sec (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, "hello", 5));
    ck_assert_int_eq (s_released (), 1);
    //  The primary retransmits verified bytes: out at once.
    s_pri (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, "hello", 5));
    ck_assert_int_eq (s_released (), 1);
    ck_assert_uint_eq (s_counter (COLO_CMP_RELEASED_RETRANSMIT), 1);
    //  The secondary retransmits: dropped, not queued.
    s_sec (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, "hello", 5));
    ck_assert_uint_eq (s_counter (COLO_CMP_SECONDARY_STALE), 1);
    ck_assert_uint_eq (colo_compare_queued_secondary (s_cmp), 0);
    ck_assert_int_eq (s_requests (NULL), 0);
}
END_TEST

//  A verified retransmission leaves even while a later segment of its
//  connection waits for the secondary (after a mirror restart lost the
//  client's ACKs, both guests retransmit old data to draw a new ACK; held
//  behind the waiting segment, only a checkpoint would end the wait).
START_TEST (test_retransmission_passes_waiting_segment)
{
    s_handshake ();
    s_pri (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, "hello", 5));
    s_sec (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, "hello", 5));
    ck_assert_int_eq (s_released (), 1);
    //  New primary data the secondary has not produced yet: it waits.
    s_pri (s_tcp (ISN_P + 6, ISN_C + 1, COLO_TCP_ACK, "world", 5));
    ck_assert_int_eq (s_released (), 0);
    //  A retransmission of the verified bytes, acking more than the
    //  secondary did: out at once, past the waiting one, ack lowered.
    s_pri (s_tcp (ISN_P + 1, ISN_C + 9, COLO_TCP_ACK, "hello", 5));
    colo_buf_t *out[2];
    ck_assert_int_eq (s_take (out, 2), 1);
    ck_assert_uint_eq (s_released_seq (out[0]), ISN_P + 1);
    colo_packet_t pkt;
    ck_assert_int_eq (colo_packet_decode (&pkt, colo_buf_frame (out[0]),
                                          colo_buf_frame_len (out[0]), NULL),
                      COLO_PKT_OK);
    ck_assert_uint_eq (pkt.tcp_ack, ISN_C + 1);
    colo_buf_destroy (&out[0]);
    ck_assert_uint_eq (s_counter (COLO_CMP_RELEASED_RETRANSMIT), 1);
    ck_assert_uint_eq (colo_compare_queued_primary (s_cmp), 1);
    //  A retransmission that reaches into unverified bytes does not pass.
    s_pri (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, "hellowo", 7));
    ck_assert_int_eq (s_released (), 0);
    //  The secondary's bytes arrive: the rest leaves in order.
    s_sec (s_tcp (ISN_P + 6, ISN_C + 1, COLO_TCP_ACK, "world", 5));
    ck_assert_int_eq (s_take (out, 2), 2);
    ck_assert_uint_eq (s_released_seq (out[0]), ISN_P + 6);
    ck_assert_uint_eq (s_released_seq (out[1]), ISN_P + 1);
    colo_buf_destroy_array (out, 2);
    ck_assert_int_eq (s_requests (NULL), 0);
    ck_assert_uint_eq (colo_compare_queued_primary (s_cmp), 0);
}
END_TEST

//  A segment that fills the hole the queue's head waits behind goes first
//  (a compare restarted mid-connection saw new data before the
//  retransmission that fills the gap).
START_TEST (test_hole_filler_goes_first)
{
    s_handshake ();
    s_pri (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, "hello", 5));
    s_sec (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, "hello", 5));
    ck_assert_int_eq (s_released (), 1);
    s_pri (s_tcp (ISN_P + 11, ISN_C + 1, COLO_TCP_ACK, "again", 5));
    s_pri (s_tcp (ISN_P + 6, ISN_C + 1, COLO_TCP_ACK, "world", 5));
    ck_assert_int_eq (s_released (), 0);
    s_sec (s_tcp (ISN_P + 6, ISN_C + 1, COLO_TCP_ACK, "worldagain", 10));
    colo_buf_t *out[2];
    ck_assert_int_eq (s_take (out, 2), 2);
    ck_assert_uint_eq (s_released_seq (out[0]), ISN_P + 6);
    ck_assert_uint_eq (s_released_seq (out[1]), ISN_P + 11);
    colo_buf_destroy_array (out, 2);
    ck_assert_int_eq (s_requests (NULL), 0);
    ck_assert_uint_eq (colo_compare_queued_primary (s_cmp), 0);
    ck_assert_uint_eq (colo_compare_queued_secondary (s_cmp), 0);
}
END_TEST

START_TEST (test_secondary_reordered)
{
    s_handshake ();
    s_sec (s_tcp (ISN_P + 11, ISN_C + 1, COLO_TCP_ACK, " world", 6));
    s_sec (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, "hello", 5));
    s_sec (s_tcp (ISN_P + 6, ISN_C + 1, COLO_TCP_ACK, ", the", 5));
    s_pri (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, "hello, the world", 16));
    ck_assert_int_eq (s_released (), 1);
    ck_assert_int_eq (s_requests (NULL), 0);
    ck_assert_uint_eq (colo_compare_queued_secondary (s_cmp), 0);
}
END_TEST

START_TEST (test_sequence_wrap)
{
    uint32_t isn = 0xffffff00u;
    s_pri (s_tcp (isn, ISN_C + 1, COLO_TCP_SYN | COLO_TCP_ACK, NULL, 0));
    s_sec (s_tcp (ISN_S, ISN_C + 1, COLO_TCP_SYN | COLO_TCP_ACK, NULL, 0));
    ck_assert_int_eq (s_released (), 1);
    char data[400];
    memset (data, 'w', sizeof data);
    //  Crosses 2^32: [0xffffff01, 0x91)
    s_pri (s_tcp (isn + 1, ISN_C + 1, COLO_TCP_ACK, data, 200));
    s_pri (s_tcp (isn + 201, ISN_C + 1, COLO_TCP_ACK, data, 200));
    s_sec (s_tcp (isn + 1, ISN_C + 1, COLO_TCP_ACK, data, 400));
    ck_assert_int_eq (s_released (), 2);
    ck_assert_int_eq (s_requests (NULL), 0);
    data[399] = 'x';
    s_pri (s_tcp (isn + 401, ISN_C + 1, COLO_TCP_ACK, data + 300, 100));
    s_sec (s_tcp (isn + 401, ISN_C + 1, COLO_TCP_ACK, data + 200, 100));
    ck_assert_int_eq (s_released (), 0);
    ck_assert_int_eq (s_requests (NULL), 1);
}
END_TEST

START_TEST (test_ack_lowered_with_checksum)
{
    s_handshake ();
    //  The secondary has acknowledged less client data than the primary.
    s_sec (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, "abc", 3));
    s_pri (s_tcp (ISN_P + 1, ISN_C + 501, COLO_TCP_ACK, "abc", 3));
    colo_buf_t *out[1];
    ck_assert_int_eq (s_take (out, 1), 1);
    colo_packet_t pkt;
    ck_assert_int_eq (colo_packet_decode (&pkt, colo_buf_frame (out[0]),
                                          colo_buf_frame_len (out[0]), NULL),
                      COLO_PKT_OK);
    ck_assert_uint_eq (pkt.tcp_ack, ISN_C + 1);
    uint16_t stored = colo_get_be16 (colo_buf_frame (out[0]) + pkt.l4_off + 16);
    ck_assert_int_eq (colo_csum_l4_expected (&pkt, colo_buf_frame (out[0])), stored);
    ck_assert_uint_eq (s_counter (COLO_CMP_ACK_LOWERED), 1);
    colo_buf_destroy (&out[0]);
}
END_TEST

START_TEST (test_ack_hold_policy)
{
    colo_compare_config_t cfg;
    colo_compare_config_defaults (&cfg);
    cfg.ack_policy = COLO_ACK_HOLD;
    s_new_with (&cfg);
    s_handshake ();
    s_sec (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, "abc", 3));
    s_pri (s_tcp (ISN_P + 1, ISN_C + 501, COLO_TCP_ACK, "abc", 3));
    ck_assert_int_eq (s_released (), 0);
    //  The secondary's ACK catches up: released unchanged.
    s_sec (s_tcp (ISN_P + 4, ISN_C + 501, COLO_TCP_ACK, NULL, 0));
    colo_buf_t *out[1];
    ck_assert_int_eq (s_take (out, 1), 1);
    colo_packet_t pkt;
    colo_packet_decode (&pkt, colo_buf_frame (out[0]), colo_buf_frame_len (out[0]), NULL);
    ck_assert_uint_eq (pkt.tcp_ack, ISN_C + 501);
    colo_buf_destroy (&out[0]);
}
END_TEST

START_TEST (test_pure_ack_judged_by_ack)
{
    s_handshake ();
    s_pri (s_tcp (ISN_P + 1, ISN_C + 101, COLO_TCP_ACK, NULL, 0));
    //  An unrelated secondary packet (a lower ack) does not release it.
    s_sec (s_tcp (ISN_P + 1, ISN_C + 51, COLO_TCP_ACK, NULL, 0));
    ck_assert_int_eq (s_released (), 0);
    s_sec (s_tcp (ISN_P + 1, ISN_C + 101, COLO_TCP_ACK, NULL, 0));
    ck_assert_int_eq (s_released (), 1);
    //  Ethernet padding is not payload: a padded pure ACK is still pure.
    colo_test_pkt_t spec;
    memset (&spec, 0, sizeof spec);
    spec.from_guest = 1;
    spec.proto = 6;
    spec.sport = GUEST_PORT;
    spec.dport = CLIENT_PORT;
    spec.seq = ISN_P + 1;
    spec.ack = ISN_C + 101;
    spec.flags = COLO_TCP_ACK;
    spec.pad_to = 60;
    s_pri (colo_test_packet (&spec));
    ck_assert_int_eq (s_released (), 1);
    ck_assert_int_eq (s_requests (NULL), 0);
}
END_TEST

START_TEST (test_fin_versus_rst)
{
    s_handshake ();
    s_pri (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK | COLO_TCP_FIN, NULL, 0));
    s_sec (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK | COLO_TCP_RST, NULL, 0));
    ck_assert_int_eq (s_released (), 0);
    colo_compare_reason_t reason;
    ck_assert_int_eq (s_requests (&reason), 1);
    ck_assert_int_eq (reason, COLO_REASON_MISMATCH_TCP);
}
END_TEST

START_TEST (test_fin_both_and_close)
{
    s_handshake ();
    s_pri (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK | COLO_TCP_FIN, "bye", 3));
    ck_assert_int_eq (s_released (), 0);
    s_sec (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK | COLO_TCP_FIN, "bye", 3));
    ck_assert_int_eq (s_released (), 1);
    //  The last ACK of the client's FIN.
    s_sec (s_tcp (ISN_P + 5, ISN_C + 2, COLO_TCP_ACK, NULL, 0));
    s_pri (s_tcp (ISN_P + 5, ISN_C + 2, COLO_TCP_ACK, NULL, 0));
    ck_assert_int_eq (s_released (), 1);
    ck_assert_uint_eq (colo_compare_connections (s_cmp), 1);
    s_now += 10000;
    colo_compare_tick (s_cmp, s_now);
    ck_assert_uint_eq (colo_compare_connections (s_cmp), 0);
    ck_assert_uint_eq (s_counter (COLO_CMP_CONNS_CLOSED), 1);
    ck_assert_int_eq (s_requests (NULL), 0);
}
END_TEST

//  Data after a FIN (a broken guest) whose twin matches: the FIN's sequence
//  number counts as released, so the data's end is not beyond what was
//  released, but its bytes were never sent: matched, not a retransmission,
//  whether the secondary's copy is compared in place or queued.
START_TEST (test_data_after_fin_matched)
{
    s_handshake ();
    s_pri (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK | COLO_TCP_FIN, NULL, 0));
    s_sec (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK | COLO_TCP_FIN, NULL, 0));
    ck_assert_int_eq (s_released (), 1);
    s_pri (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, "x", 1));
    ck_assert_int_eq (s_released (), 0);
    s_sec (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, "x", 1));
    ck_assert_int_eq (s_released (), 1);
    ck_assert_uint_eq (s_counter (COLO_CMP_RELEASED_RETRANSMIT), 0);
    ck_assert_uint_eq (s_counter (COLO_CMP_BYTES_COMPARED), 1);
    ck_assert_int_eq (s_requests (NULL), 0);
}
END_TEST

//  The close of an echo connection whose primary FIN waited for the
//  secondary's long enough to be sent twice: the client ACKs both copies, and
//  the second ACK reaches two closed sockets, which both answer with an RST
//  (no ACK).  The primary's RST is here first; it waits for the secondary's.
START_TEST (test_rst_after_both_fins_waits)
{
    s_handshake ();
    s_pri (s_tcp (ISN_P + 1, ISN_C + 2, COLO_TCP_ACK | COLO_TCP_FIN, "bye", 3));
    s_pri (s_tcp (ISN_P + 1, ISN_C + 2, COLO_TCP_ACK | COLO_TCP_FIN, "bye", 3));
    ck_assert_int_eq (s_released (), 0);
    s_sec (s_tcp (ISN_P + 1, ISN_C + 2, COLO_TCP_ACK | COLO_TCP_FIN, "bye", 3));
    ck_assert_int_eq (s_released (), 2);
    s_pri (s_tcp (ISN_P + 5, 0, COLO_TCP_RST, NULL, 0));
    ck_assert_int_eq (s_requests (NULL), 0);
    ck_assert_int_eq (s_released (), 0);
    ck_assert_uint_eq (s_counter (COLO_CMP_MISMATCH_TCP), 0);
    s_sec (s_tcp (ISN_P + 5, 0, COLO_TCP_RST, NULL, 0));
    ck_assert_int_eq (s_released (), 1);
    ck_assert_int_eq (s_requests (NULL), 0);
    ck_assert_uint_eq (colo_compare_queued_primary (s_cmp), 0);
    s_now += 10000;
    colo_compare_tick (s_cmp, s_now);
    ck_assert_int_eq (s_requests (NULL), 0);
    ck_assert_uint_eq (colo_compare_connections (s_cmp), 0);
}
END_TEST

//  The primary resets where the secondary closed: a divergence at once.
START_TEST (test_rst_versus_fin)
{
    s_handshake ();
    s_sec (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK | COLO_TCP_FIN, NULL, 0));
    s_pri (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK | COLO_TCP_RST, NULL, 0));
    ck_assert_int_eq (s_released (), 0);
    colo_compare_reason_t reason;
    ck_assert_int_eq (s_requests (&reason), 1);
    ck_assert_int_eq (reason, COLO_REASON_MISMATCH_TCP);
}
END_TEST

//  The secondary is ahead: its FIN and its RST for a late segment are both
//  here before the primary's FIN, which matches the FIN.
START_TEST (test_fin_matches_before_secondary_rst)
{
    s_handshake ();
    s_sec (s_tcp (ISN_P + 1, ISN_C + 2, COLO_TCP_ACK | COLO_TCP_FIN, "bye", 3));
    s_sec (s_tcp (ISN_P + 5, 0, COLO_TCP_RST, NULL, 0));
    s_pri (s_tcp (ISN_P + 1, ISN_C + 2, COLO_TCP_ACK | COLO_TCP_FIN, "bye", 3));
    ck_assert_int_eq (s_released (), 1);
    s_pri (s_tcp (ISN_P + 5, 0, COLO_TCP_RST, NULL, 0));
    ck_assert_int_eq (s_released (), 1);
    ck_assert_int_eq (s_requests (NULL), 0);
}
END_TEST

//  A guest -> client TCP segment with a window, TCP options and a payload.
static colo_buf_t *
s_tcp_full (uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win, const uint8_t *opts,
            size_t opts_len, const char *payload, size_t len)
{
    colo_test_pkt_t spec;
    memset (&spec, 0, sizeof spec);
    spec.from_guest = 1;
    spec.proto = 6;
    spec.sport = GUEST_PORT;
    spec.dport = CLIENT_PORT;
    spec.seq = seq;
    spec.ack = ack;
    spec.flags = flags;
    spec.window = win;
    spec.tcp_opts = opts;
    spec.tcp_opts_len = opts_len;
    spec.payload = payload;
    spec.len = len;
    colo_buf_t *buf = colo_test_packet (&spec);
    if (win == 0) {
        //  The builder's 0 means its default: set a zero window by hand.
        colo_packet_t pkt;
        ck_assert_int_eq (colo_packet_decode (&pkt, colo_buf_frame (buf),
                                              colo_buf_frame_len (buf), NULL),
                          COLO_PKT_OK);
        uint8_t *tcp = colo_buf_frame (buf) + pkt.l4_off;
        colo_csum_update16 (tcp + 16, colo_get_be16 (tcp + 14), 0);
        colo_put_be16 (tcp + 14, 0);
    }
    return buf;
}

static colo_buf_t *
s_tcp_win (uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win, const uint8_t *opts,
           size_t opts_len)
{
    return s_tcp_full (seq, ack, flags, win, opts, opts_len, NULL, 0);
}

//  The window field of a released frame; its checksum must be right.
static uint16_t
s_released_window (colo_buf_t *buf)
{
    colo_packet_t pkt;
    ck_assert_int_eq (colo_packet_decode (&pkt, colo_buf_frame (buf), colo_buf_frame_len (buf), NULL),
                      COLO_PKT_OK);
    uint16_t stored = colo_get_be16 (colo_buf_frame (buf) + pkt.l4_off + 16);
    ck_assert_int_eq (colo_csum_l4_expected (&pkt, colo_buf_frame (buf)), stored);
    return pkt.tcp_window;
}

//  Release one frame and return its window.
static uint16_t
s_take_window (void)
{
    colo_buf_t *out[1];
    ck_assert_int_eq (s_take (out, 1), 1);
    uint16_t win = s_released_window (out[0]);
    colo_buf_destroy (&out[0]);
    return win;
}

//  NOP, window scale.
static const uint8_t s_ws7[] = { 1, 3, 3, 7 };
static const uint8_t s_ws8[] = { 1, 3, 3, 8 };
static const uint8_t s_ws9[] = { 1, 3, 3, 9 };

//  Both guests accept with window scale 7.  The client's data has filled
//  the secondary's receive buffer (its application reads later than the
//  primary's): the primary's windows must not let the client send beyond
//  what the secondary can take, or the secondary drops those segments for
//  good (the client has the primary's ACK for them) and the connection
//  waits for a checkpoint.
START_TEST (test_window_clamped_to_secondary)
{
    s_pri (s_tcp_win (ISN_P, ISN_C + 1, COLO_TCP_SYN | COLO_TCP_ACK, 64260, s_ws7, 4));
    s_sec (s_tcp_win (ISN_S, ISN_C + 1, COLO_TCP_SYN | COLO_TCP_ACK, 64260, s_ws7, 4));
    //  The SYN-ACK's window is not scaled and not touched.
    ck_assert_uint_eq (s_take_window (), 64260);
    //  The secondary's buffer is full: right edge at ack ISN_C + 1001.
    s_sec (s_tcp_win (ISN_P + 1, ISN_C + 1001, COLO_TCP_ACK, 0, NULL, 0));
    s_pri (s_tcp_win (ISN_P + 1, ISN_C + 1001, COLO_TCP_ACK, 50, NULL, 0));
    ck_assert_uint_eq (s_take_window (), 0);
    //  It reads some: 10 units of 128 bytes.
    s_sec (s_tcp_win (ISN_P + 1, ISN_C + 1001, COLO_TCP_ACK, 10, NULL, 0));
    s_pri (s_tcp_win (ISN_P + 1, ISN_C + 1001, COLO_TCP_ACK, 60, NULL, 0));
    ck_assert_uint_eq (s_take_window (), 10);
    //  Relative to a later ack, rounded down: (1001 + 1280 - 1101) / 128 = 9.
    s_sec (s_tcp_win (ISN_P + 1, ISN_C + 1101, COLO_TCP_ACK, 0, NULL, 0));
    s_pri (s_tcp_win (ISN_P + 1, ISN_C + 1101, COLO_TCP_ACK, 60, NULL, 0));
    ck_assert_uint_eq (s_take_window (), 9);
    //  A smaller primary window is left alone.
    s_pri (s_tcp_win (ISN_P + 1, ISN_C + 1101, COLO_TCP_ACK, 3, NULL, 0));
    ck_assert_uint_eq (s_take_window (), 3);
    //  Data with its ack lowered to the secondary's is clamped too:
    //  (1001 + 1280 - 1101) / 128 = 9 again.
    s_sec (s_tcp_full (ISN_P + 1, ISN_C + 1101, COLO_TCP_ACK, 1, NULL, 0, "abc", 3));
    s_pri (s_tcp_full (ISN_P + 1, ISN_C + 2001, COLO_TCP_ACK, 60, NULL, 0, "abc", 3));
    colo_buf_t *out[2];
    ck_assert_int_eq (s_take (out, 1), 1);
    colo_packet_t pkt;
    ck_assert_int_eq (colo_packet_decode (&pkt, colo_buf_frame (out[0]),
                                          colo_buf_frame_len (out[0]), NULL),
                      COLO_PKT_OK);
    ck_assert_uint_eq (pkt.tcp_ack, ISN_C + 1101);
    ck_assert_uint_eq (s_released_window (out[0]), 9);
    colo_buf_destroy (&out[0]);
    //  A pure ACK ahead of the secondary's ack waits; the secondary's
    //  window update then opens the edge for it and the next segment.
    s_pri (s_tcp_win (ISN_P + 4, ISN_C + 2001, COLO_TCP_ACK, 60, NULL, 0));
    s_pri (s_tcp_full (ISN_P + 4, ISN_C + 2001, COLO_TCP_ACK, 120, NULL, 0, "d", 1));
    ck_assert_int_eq (s_released (), 0);
    s_sec (s_tcp_full (ISN_P + 4, ISN_C + 2001, COLO_TCP_ACK, 100, NULL, 0, "d", 1));
    ck_assert_int_eq (s_take (out, 2), 2);
    ck_assert_uint_eq (s_released_window (out[0]), 60);
    ck_assert_uint_eq (s_released_window (out[1]), 100);
    colo_buf_destroy (&out[0]);
    colo_buf_destroy (&out[1]);
    ck_assert_int_eq (s_requests (NULL), 0);
    //  A checkpoint flushes what waits as it is, and the secondary runs the
    //  primary's state from then on: no clamp until it offers a window.
    s_pri (s_tcp_win (ISN_P + 5, ISN_C + 3001, COLO_TCP_ACK, 500, NULL, 0));
    ck_assert_int_eq (s_released (), 0);
    colo_compare_checkpoint_done (s_cmp, s_now);
    ck_assert_uint_eq (s_take_window (), 500);
    s_pri (s_tcp_win (ISN_P + 5, ISN_C + 3001, COLO_TCP_ACK, 500, NULL, 0));
    ck_assert_uint_eq (s_take_window (), 500);
    s_sec (s_tcp_win (ISN_P + 5, ISN_C + 3001, COLO_TCP_ACK, 200, NULL, 0));
    s_pri (s_tcp_win (ISN_P + 5, ISN_C + 3001, COLO_TCP_ACK, 500, NULL, 0));
    ck_assert_uint_eq (s_take_window (), 200);
}
END_TEST

//  Each guest's own scale counts (the client reads the primary's).
START_TEST (test_window_clamp_scales_differ)
{
    s_pri (s_tcp_win (ISN_P, ISN_C + 1, COLO_TCP_SYN | COLO_TCP_ACK, 64260, s_ws7, 4));
    s_sec (s_tcp_win (ISN_S, ISN_C + 1, COLO_TCP_SYN | COLO_TCP_ACK, 64260, s_ws9, 4));
    ck_assert_int_eq (s_released (), 1);
    //  512 * 2 bytes = 8 units of 128.
    s_sec (s_tcp_win (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, 2, NULL, 0));
    s_pri (s_tcp_win (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, 100, NULL, 0));
    ck_assert_uint_eq (s_take_window (), 8);
    //  No scale option on either SYN-ACK: windows in bytes.
    colo_compare_destroy (&s_cmp);
    colo_compare_config_t cfg;
    colo_compare_config_defaults (&cfg);
    s_new_with (&cfg);
    s_handshake ();
    s_sec (s_tcp_win (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, 3000, NULL, 0));
    s_pri (s_tcp_win (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, 60000, NULL, 0));
    ck_assert_uint_eq (s_take_window (), 3000);
}
END_TEST

//  The guest opens: the peer's SYN-ACK (not seen here) enables the SYNs'
//  scale for both guests or for none.  Equal scales: clamped in those
//  units (never beyond the secondary's edge either way); different scales:
//  left alone.
START_TEST (test_window_clamp_guest_opened)
{
    s_pri (s_tcp_win (ISN_P, 0, COLO_TCP_SYN, 64240, s_ws7, 4));
    s_sec (s_tcp_win (ISN_S, 0, COLO_TCP_SYN, 64240, s_ws7, 4));
    ck_assert_int_eq (s_released (), 1);
    s_sec (s_tcp_win (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, 4, NULL, 0));
    s_pri (s_tcp_win (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, 40, NULL, 0));
    ck_assert_uint_eq (s_take_window (), 4);
    colo_compare_destroy (&s_cmp);
    colo_compare_config_t cfg;
    colo_compare_config_defaults (&cfg);
    s_new_with (&cfg);
    s_pri (s_tcp_win (ISN_P, 0, COLO_TCP_SYN, 64240, s_ws7, 4));
    s_sec (s_tcp_win (ISN_S, 0, COLO_TCP_SYN, 64240, s_ws8, 4));
    ck_assert_int_eq (s_released (), 1);
    s_sec (s_tcp_win (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, 4, NULL, 0));
    s_pri (s_tcp_win (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, 40, NULL, 0));
    ck_assert_uint_eq (s_take_window (), 40);
}
END_TEST

//  The secondary is ahead and sends its last segment twice (a tail loss
//  probe) before the primary's arrives.  Once the primary's is compared
//  with the first copy, the second copy holds nothing new and must not stay
//  queued until it times out.
START_TEST (test_secondary_duplicate_dropped_when_verified)
{
    s_handshake ();
    s_sec (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, "0123456789", 10));
    s_sec (s_tcp (ISN_P + 11, ISN_C + 1, COLO_TCP_ACK | COLO_TCP_FIN, "abcde", 5));
    s_sec (s_tcp (ISN_P + 11, ISN_C + 1, COLO_TCP_ACK | COLO_TCP_FIN, "abcde", 5));
    //  and a retransmission of a part inside the first segment
    s_sec (s_tcp (ISN_P + 3, ISN_C + 1, COLO_TCP_ACK, "2345", 4));
    ck_assert_uint_eq (colo_compare_queued_secondary (s_cmp), 4);
    s_pri (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, "0123456789", 10));
    s_pri (s_tcp (ISN_P + 11, ISN_C + 1, COLO_TCP_ACK | COLO_TCP_FIN, "abcde", 5));
    ck_assert_int_eq (s_released (), 2);
    ck_assert_uint_eq (colo_compare_queued_secondary (s_cmp), 0);
    ck_assert_uint_eq (colo_compare_queued_primary (s_cmp), 0);
    s_now += 3000;
    colo_compare_tick (s_cmp, s_now);
    ck_assert_int_eq (s_requests (NULL), 0);
    ck_assert_uint_eq (s_counter (COLO_CMP_TIMEOUTS), 0);
}
END_TEST

START_TEST (test_guest_opened_syn)
{
    //  The guest opens a connection: each SYN has its own ISN.
    s_pri (s_tcp (ISN_P, 0, COLO_TCP_SYN, NULL, 0));
    ck_assert_int_eq (s_released (), 0);
    s_sec (s_tcp (ISN_S, 0, COLO_TCP_SYN, NULL, 0));
    ck_assert_int_eq (s_released (), 1);
    //  A retransmitted SYN leaves at once.
    s_pri (s_tcp (ISN_P, 0, COLO_TCP_SYN, NULL, 0));
    ck_assert_int_eq (s_released (), 1);
    ck_assert_int_eq (s_requests (NULL), 0);
}
END_TEST

START_TEST (test_udp_orders)
{
    //  Primary first, secondary first, and a different secondary order:
    //  no checkpoint, output in the primary's order.
    const char *msgs[3] = {"one", "two", "three"};
    for (int i = 0; i < 3; i++)
        s_pri (s_udp (0, msgs[i], strlen (msgs[i])));
    ck_assert_int_eq (s_released (), 0);
    for (int i = 0; i < 3; i++)
        s_sec (s_udp (0, msgs[i], strlen (msgs[i])));
    ck_assert_int_eq (s_released (), 3);
    for (int i = 0; i < 3; i++)
        s_sec (s_udp (0, msgs[i], strlen (msgs[i])));
    for (int i = 0; i < 3; i++)
        s_pri (s_udp (0, msgs[i], strlen (msgs[i])));
    ck_assert_int_eq (s_released (), 3);
    //  Interleaved and reordered: P1 S3 P2 S2 P3 S1.
    s_pri (s_udp (0, msgs[0], 3));
    s_sec (s_udp (0, msgs[2], 5));
    s_pri (s_udp (0, msgs[1], 3));
    s_sec (s_udp (0, msgs[1], 3));
    ck_assert_int_eq (s_released (), 0);   //  P2 matched, waits behind P1
    s_pri (s_udp (0, msgs[2], 5));
    s_sec (s_udp (0, msgs[0], 3));
    colo_buf_t *out[3];
    ck_assert_int_eq (s_take (out, 3), 3);
    for (int i = 0; i < 3; i++) {
        colo_packet_t pkt;
        colo_packet_decode (&pkt, colo_buf_frame (out[i]), colo_buf_frame_len (out[i]), NULL);
        ck_assert_uint_eq (pkt.payload_len, strlen (msgs[i]));
        ck_assert_int_eq (memcmp (colo_buf_frame (out[i]) + pkt.payload_off, msgs[i],
                                  pkt.payload_len), 0);
        colo_buf_destroy (&out[i]);
    }
    s_now += 1000;
    colo_compare_tick (s_cmp, s_now);
    ck_assert_int_eq (s_requests (NULL), 0);
    ck_assert_uint_eq (s_counter (COLO_CMP_MISMATCH_UDP), 0);
}
END_TEST

START_TEST (test_udp_mismatch_after_grace)
{
    s_pri (s_udp (0, "answer-A", 8));
    s_sec (s_udp (0, "answer-B", 8));
    ck_assert_int_eq (s_released (), 0);
    ck_assert_int_eq (s_requests (NULL), 0);
    uint64_t deadline = colo_compare_next_deadline (s_cmp);
    ck_assert_uint_eq (deadline, s_now + 20);
    colo_compare_tick (s_cmp, deadline);
    colo_compare_reason_t reason;
    ck_assert_int_eq (s_requests (&reason), 1);
    ck_assert_int_eq (reason, COLO_REASON_MISMATCH_UDP);
    colo_compare_checkpoint_done (s_cmp, deadline);
    ck_assert_int_eq (s_released (), 1);
}
END_TEST

START_TEST (test_ipv6_compared)
{
    s_pri (s_udp (1, "v6 data", 7));
    s_sec (s_udp (1, "v6 data", 7));
    ck_assert_int_eq (s_released (), 1);
    //  IPv6 TCP too: a difference is caught.
    colo_test_pkt_t spec;
    memset (&spec, 0, sizeof spec);
    spec.v6 = 1;
    spec.from_guest = 1;
    spec.proto = 6;
    spec.sport = 443;
    spec.dport = 50000;
    spec.seq = 10;
    spec.ack = 20;
    spec.flags = COLO_TCP_ACK;
    spec.payload = "abcd";
    spec.len = 4;
    s_pri (colo_test_packet (&spec));
    spec.payload = "abce";
    s_sec (colo_test_packet (&spec));
    ck_assert_int_eq (s_released (), 0);
    colo_compare_reason_t reason;
    ck_assert_int_eq (s_requests (&reason), 1);
    ck_assert_int_eq (reason, COLO_REASON_MISMATCH_TCP);
    //  ICMPv6 echo is compared as well.
    colo_compare_checkpoint_done (s_cmp, s_now);
    s_released ();
    memset (&spec, 0, sizeof spec);
    spec.v6 = 1;
    spec.from_guest = 1;
    spec.proto = 58;
    spec.icmp_type = 129;
    spec.icmp_id = 7;
    spec.icmp_seq = 1;
    spec.payload = "ping";
    spec.len = 4;
    s_pri (colo_test_packet (&spec));
    spec.payload = "pong";
    s_sec (colo_test_packet (&spec));
    colo_compare_tick (s_cmp, s_now + 1000);
    ck_assert_int_eq (s_requests (&reason), 1);
    ck_assert_int_eq (reason, COLO_REASON_MISMATCH_ICMP);
}
END_TEST

START_TEST (test_vlan_and_arp_compared)
{
    colo_test_pkt_t spec;
    memset (&spec, 0, sizeof spec);
    spec.from_guest = 1;
    spec.proto = 17;
    spec.sport = 1;
    spec.dport = 2;
    spec.vlan = 100;
    spec.payload = "tagged";
    spec.len = 6;
    s_pri (colo_test_packet (&spec));
    //  The same datagram on another VLAN is another flow: no match.
    spec.vlan = 200;
    s_sec (colo_test_packet (&spec));
    ck_assert_int_eq (s_released (), 0);
    spec.vlan = 100;
    s_sec (colo_test_packet (&spec));
    ck_assert_int_eq (s_released (), 1);

    memset (&spec, 0, sizeof spec);
    spec.from_guest = 1;
    spec.arp_op = 1;
    spec.pad_to = 60;
    s_pri (colo_test_packet (&spec));
    spec.pad_to = 0;   //  padding differs: not compared
    s_sec (colo_test_packet (&spec));
    ck_assert_int_eq (s_released (), 1);
    spec.arp_op = 2;
    s_pri (colo_test_packet (&spec));
    spec.arp_op = 1;
    s_sec (colo_test_packet (&spec));
    colo_compare_tick (s_cmp, s_now + 1000);
    colo_compare_reason_t reason;
    char desc[160];
    ck_assert_int_eq (colo_compare_take_request (s_cmp, &reason, desc, sizeof desc), 1);
    ck_assert_int_eq (reason, COLO_REASON_MISMATCH_L2);
    ck_assert_str_eq (desc, "ethertype 0x0806 vlan 0");
}
END_TEST

START_TEST (test_timeout)
{
    s_handshake ();
    s_pri (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, "lonely", 6));
    colo_compare_tick (s_cmp, s_now + 2999);
    ck_assert_int_eq (s_requests (NULL), 0);
    colo_compare_tick (s_cmp, s_now + 3000);
    colo_compare_reason_t reason;
    char desc[160];
    ck_assert_int_eq (colo_compare_take_request (s_cmp, &reason, desc, sizeof desc), 1);
    ck_assert_int_eq (reason, COLO_REASON_TIMEOUT);
    ck_assert_ptr_nonnull (strstr (desc, "10.0.0.2"));
    //  What waits: the primary's segment, its range, flags, ack and age.
    ck_assert_ptr_nonnull (strstr (desc, ": pri 1000001+6 A ack 5001, 3000 ms; cmp 1000001,"));
    ck_assert_uint_eq (s_counter (COLO_CMP_TIMEOUTS), 1);
    colo_compare_checkpoint_done (s_cmp, s_now + 3000);
    ck_assert_int_eq (s_released (), 1);
}
END_TEST

START_TEST (test_queue_full_backpressure)
{
    colo_compare_config_t cfg;
    colo_compare_config_defaults (&cfg);
    cfg.max_queue_size = 4;
    s_new_with (&cfg);
    s_handshake ();
    uint32_t seq = ISN_P + 1;
    for (int i = 0; i < 4; i++, seq += 2)
        s_pri (s_tcp (seq, ISN_C + 1, COLO_TCP_ACK, "ab", 2));
    colo_buf_t *extra = s_tcp (seq, ISN_C + 1, COLO_TCP_ACK, "ab", 2);
    ck_assert_int_eq (colo_compare_primary (s_cmp, &extra, s_now), -1);
    ck_assert_ptr_nonnull (extra);   //  still ours: nothing lost
    colo_compare_reason_t reason;
    ck_assert_int_eq (s_requests (&reason), 1);
    ck_assert_int_eq (reason, COLO_REASON_QUEUE_FULL);
    ck_assert (colo_compare_stuck (s_cmp));
    colo_compare_checkpoint_done (s_cmp, s_now);
    ck_assert_int_eq (s_released (), 4);
    ck_assert_int_eq (colo_compare_primary (s_cmp, &extra, s_now), 0);
    ck_assert (!colo_compare_stuck (s_cmp));
}
END_TEST

START_TEST (test_flush_order)
{
    s_handshake ();
    //  Out-of-order primary segments (a hole): flushed by sequence.
    s_pri (s_tcp (ISN_P + 21, ISN_C + 1, COLO_TCP_ACK, "cccccccccc", 10));
    s_pri (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, "aaaaaaaaaa", 10));
    s_pri (s_tcp (ISN_P + 11, ISN_C + 1, COLO_TCP_ACK, "bbbbbbbbbb", 10));
    //  Datagrams by arrival.
    s_pri (s_udp (0, "first", 5));
    s_pri (s_udp (0, "second", 6));
    colo_compare_checkpoint_done (s_cmp, s_now);
    colo_buf_t *out[8];
    int n = s_take (out, 8);
    ck_assert_int_eq (n, 5);
    uint32_t last = 0;
    int tcp_seen = 0, udp_seen = 0;
    for (int i = 0; i < n; i++) {
        colo_packet_t pkt;
        colo_packet_decode (&pkt, colo_buf_frame (out[i]), colo_buf_frame_len (out[i]), NULL);
        if (pkt.l4 == COLO_L4_TCP) {
            if (tcp_seen)
                ck_assert_uint_gt (pkt.tcp_seq, last);
            last = pkt.tcp_seq;
            tcp_seen++;
        }
        else {
            ck_assert_uint_eq (pkt.payload_len, udp_seen == 0 ? 5 : 6);
            udp_seen++;
        }
        colo_buf_destroy (&out[i]);
    }
    ck_assert_int_eq (tcp_seen, 3);
    ck_assert_uint_eq (s_counter (COLO_CMP_RELEASED_FLUSH), 5);
}
END_TEST

//  The primary sent A and B, then retransmitted A (with a newer TCP
//  timestamp) before the secondary produced anything.  Flushed by sequence,
//  the copy would go out between A and B and the client would drop B as
//  older than it (PAWS): the copy is dropped, counted; a coalesced
//  retransmission that carries new bytes goes, and then what it covers
//  does not.
START_TEST (test_flush_drops_duplicates)
{
    s_handshake ();
    s_pri (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, "aaaaaaaaaa", 10));
    s_pri (s_tcp (ISN_P + 11, ISN_C + 1, COLO_TCP_ACK, "bbbbbbbbbb", 10));
    s_pri (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, "aaaaaaaaaa", 10));
    colo_compare_checkpoint_done (s_cmp, s_now);
    colo_buf_t *out[8];
    ck_assert_int_eq (s_take (out, 8), 2);
    uint32_t want[2] = {ISN_P + 1, ISN_P + 11};
    for (int i = 0; i < 2; i++) {
        colo_packet_t pkt;
        colo_packet_decode (&pkt, colo_buf_frame (out[i]), colo_buf_frame_len (out[i]), NULL);
        ck_assert_uint_eq (pkt.tcp_seq, want[i]);
        colo_buf_destroy (&out[i]);
    }
    ck_assert_uint_eq (s_counter (COLO_CMP_RELEASED_FLUSH), 2);
    ck_assert_uint_eq (s_counter (COLO_CMP_FLUSH_DUPLICATES), 1);

    //  C, D, then C and D again as one segment: C, the coalesced copy (its
    //  second half is new), and not D.
    s_pri (s_tcp (ISN_P + 21, ISN_C + 1, COLO_TCP_ACK, "cccccccccc", 10));
    s_pri (s_tcp (ISN_P + 31, ISN_C + 1, COLO_TCP_ACK, "dddddddddd", 10));
    s_pri (s_tcp (ISN_P + 21, ISN_C + 1, COLO_TCP_ACK, "ccccccccccdddddddddd", 20));
    colo_compare_checkpoint_done (s_cmp, s_now);
    ck_assert_int_eq (s_take (out, 8), 2);
    uint32_t len[2] = {10, 20};
    for (int i = 0; i < 2; i++) {
        colo_packet_t pkt;
        colo_packet_decode (&pkt, colo_buf_frame (out[i]), colo_buf_frame_len (out[i]), NULL);
        ck_assert_uint_eq (pkt.tcp_seq, ISN_P + 21);
        ck_assert_uint_eq (pkt.payload_len, len[i]);
        colo_buf_destroy (&out[i]);
    }
    ck_assert_uint_eq (s_counter (COLO_CMP_FLUSH_DUPLICATES), 2);
    ck_assert_uint_eq (colo_compare_queued_primary (s_cmp), 0);
}
END_TEST

START_TEST (test_malformed_never_forwarded)
{
    colo_buf_t *runt = colo_buf_new_copy ("\x01\x02\x03", 3);
    s_pri (runt);
    colo_test_pkt_t spec;
    memset (&spec, 0, sizeof spec);
    spec.from_guest = 1;
    spec.proto = 17;
    spec.payload = "x";
    spec.len = 1;
    colo_buf_t *bad = colo_test_packet (&spec);
    bad->data[14] = 0x43;   //  IHL 3
    s_sec (bad);
    ck_assert_int_eq (s_released (), 0);
    ck_assert_uint_eq (s_counter (COLO_CMP_MALFORMED_PRIMARY), 1);
    ck_assert_uint_eq (s_counter (COLO_CMP_MALFORMED_SECONDARY), 1);
    ck_assert_uint_eq (colo_compare_connections (s_cmp), 0);
}
END_TEST

START_TEST (test_table_bounded)
{
    colo_compare_config_t cfg;
    colo_compare_config_defaults (&cfg);
    cfg.max_connections = 8;
    s_new_with (&cfg);
    //  Eight matched flows fill the table; a ninth evicts the oldest idle one.
    colo_test_pkt_t spec;
    memset (&spec, 0, sizeof spec);
    spec.from_guest = 1;
    spec.proto = 17;
    spec.payload = "q";
    spec.len = 1;
    for (uint16_t port = 1; port <= 9; port++) {
        spec.sport = port;
        s_pri (colo_test_packet (&spec));
        s_sec (colo_test_packet (&spec));
        s_now++;
    }
    ck_assert_int_eq (s_released (), 9);
    ck_assert_uint_eq (colo_compare_connections (s_cmp), 8);
    ck_assert_uint_eq (s_counter (COLO_CMP_CONNS_EVICTED), 1);
    //  Busy flows are never evicted: the table refuses and asks for a checkpoint.
    for (uint16_t port = 20; port < 28; port++) {
        spec.sport = port;
        s_pri (colo_test_packet (&spec));
    }
    spec.sport = 99;
    colo_buf_t *extra = colo_test_packet (&spec);
    ck_assert_int_eq (colo_compare_primary (s_cmp, &extra, s_now), -1);
    colo_compare_reason_t reason;
    ck_assert_int_eq (s_requests (&reason), 1);
    ck_assert_int_eq (reason, COLO_REASON_TABLE_FULL);
    colo_buf_destroy (&extra);
    //  Idle flows age out, one by one.
    colo_compare_checkpoint_done (s_cmp, s_now);
    s_released ();
    colo_compare_tick (s_cmp, s_now + 60000);
    ck_assert_uint_eq (colo_compare_connections (s_cmp), 0);
}
END_TEST

START_TEST (test_passthrough_rules)
{
    s_handshake ();
    //  A connection with a frame already waiting when the rule arrives.
    s_pri (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, "rdp-1", 5));
    ck_assert_int_eq (s_released (), 0);
    colo_rule_t rule;
    colo_rule_init (&rule);
    rule.id = 7;
    rule.proto = 6;
    rule.has_dport = 1;   //  the operator names the guest's port as a destination
    rule.dport_lo = rule.dport_hi = GUEST_PORT;
    colo_ruleset_t *rs = colo_ruleset_new (&rule, 1, 1, NULL);
    colo_compare_set_rules (s_cmp, rs, s_now);
    //  The waiting frame leaves, and so does every later one: matched in
    //  either direction (the guest's replies come from port 80).
    ck_assert_int_eq (s_released (), 1);
    s_pri (s_tcp (ISN_P + 6, ISN_C + 1, COLO_TCP_ACK, "rdp-2", 5));
    ck_assert_int_eq (s_released (), 1);
    s_sec (s_tcp (ISN_P + 6, ISN_C + 1, COLO_TCP_ACK, "other", 5));   //  twin: dropped
    ck_assert_int_eq (s_requests (NULL), 0);
    ck_assert_uint_eq (s_counter (COLO_CMP_RELEASED_BYPASS), 2);
    ck_assert_uint_eq (s_counter (COLO_CMP_SECONDARY_BYPASSED), 1);
    uint64_t ids[4], hits[4];
    ck_assert_uint_eq (colo_compare_rule_hits (s_cmp, ids, hits, 4), 1);
    ck_assert_uint_eq (ids[0], 7);
    //  The frame the rule found waiting, rdp-2 and its twin.
    ck_assert_uint_eq (hits[0], 3);
    //  Other traffic is still compared.
    s_pri (s_udp (0, "dns", 3));
    ck_assert_int_eq (s_released (), 0);
    //  Hits follow the rule into a new set; removing the rules brings
    //  comparison back.
    colo_rule_t two[2] = {rule, rule};
    two[1].id = 9;
    two[1].dport_lo = two[1].dport_hi = 3389;
    colo_ruleset_t *rs2 = colo_ruleset_new (two, 2, 2, NULL);
    colo_compare_set_rules (s_cmp, rs2, s_now);
    colo_ruleset_destroy ((const colo_ruleset_t **) &rs);
    ck_assert_uint_eq (colo_compare_rule_hits (s_cmp, ids, hits, 4), 2);
    ck_assert_uint_eq (hits[0], 3);
    ck_assert_uint_eq (hits[1], 0);
    colo_compare_set_rules (s_cmp, NULL, s_now);
    colo_ruleset_destroy ((const colo_ruleset_t **) &rs2);
    s_pri (s_tcp (ISN_P + 11, ISN_C + 1, COLO_TCP_ACK, "rdp-3", 5));
    ck_assert_int_eq (s_released (), 0);
}
END_TEST

//  ---------------------------------------------------------------- views

//  Feed a secondary segment from a caller's array, then scribble over it:
//  whatever the engine kept must be its own copy.
static void
s_sec_view_scribbled (colo_buf_t *buf)
{
    uint8_t bytes[2048];
    ck_assert_uint_le (buf->len, sizeof bytes);
    memcpy (bytes, buf->data, buf->len);
    ck_assert_int_eq (
        colo_compare_secondary_view (s_cmp, bytes, buf->len, buf->vnet_hdr_len, 0, s_now), 0);
    memset (bytes, 0xa5, sizeof bytes);
    colo_buf_destroy (&buf);
}

START_TEST (test_view_copies_what_it_keeps)
{
    s_handshake ();
    char data[600];
    for (int i = 0; i < 600; i++)
        data[i] = (char) (i * 7);
    //  The secondary first: it must wait for its twin, so it is copied.
    s_sec_view_scribbled (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, data, 600));
    ck_assert_uint_eq (colo_compare_queued_secondary (s_cmp), 1);
    s_pri (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, data, 600));
    ck_assert_int_eq (s_released (), 1);
    ck_assert_int_eq (s_requests (NULL), 0);
    ck_assert_uint_eq (s_counter (COLO_CMP_BYTES_COMPARED), 600);
    ck_assert_uint_eq (colo_compare_queued_secondary (s_cmp), 0);
}
END_TEST

//  A secondary frame from a slab (colo_compare_secondary_frame) that must
//  wait for its twin keeps the slab, not a copy, until it is compared, or
//  dropped by a checkpoint; one whose twin waits already is compared at
//  once and keeps nothing.
START_TEST (test_slab_view_keeps_the_slab)
{
    s_handshake ();
    char data[300];
    for (int i = 0; i < 300; i++)
        data[i] = (char) (i * 5);
    colo_buf_slab_t *slab = colo_buf_slab_new (4096);
    ck_assert_ptr_nonnull (slab);
    uint8_t *bytes = colo_buf_slab_data (slab);
    colo_frame_view_t views[3];
    size_t at = 0;
    for (int k = 0; k < 3; k++) {
        colo_buf_t *buf = s_tcp (ISN_P + 1 + 300 * (uint32_t) k, ISN_C + 1, COLO_TCP_ACK, data, 300);
        memcpy (bytes + at, buf->data, buf->len);
        views[k] = (colo_frame_view_t) {bytes + at, buf->len, 0, 0, slab};
        at += buf->len;
        colo_buf_destroy (&buf);
    }
    //  The secondary first: it waits, holding the slab.
    ck_assert_int_eq (colo_compare_secondary_frame (s_cmp, &views[0], s_now), 0);
    ck_assert_uint_eq (colo_compare_queued_secondary (s_cmp), 1);
    ck_assert_int_eq (colo_buf_slab_shared (slab), 1);
    s_pri (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, data, 300));
    ck_assert_int_eq (s_released (), 1);
    ck_assert_uint_eq (colo_compare_queued_secondary (s_cmp), 0);
    ck_assert_int_eq (colo_buf_slab_shared (slab), 0);
    //  The primary first: the secondary is compared from the view, kept nowhere.
    s_pri (s_tcp (ISN_P + 301, ISN_C + 1, COLO_TCP_ACK, data, 300));
    ck_assert_int_eq (colo_compare_secondary_frame (s_cmp, &views[1], s_now), 0);
    ck_assert_int_eq (colo_buf_slab_shared (slab), 0);
    ck_assert_int_eq (s_released (), 1);
    //  Waiting again, then dropped by a checkpoint: the slab goes with it.
    ck_assert_int_eq (colo_compare_secondary_frame (s_cmp, &views[2], s_now), 0);
    ck_assert_int_eq (colo_buf_slab_shared (slab), 1);
    colo_compare_checkpoint_done (s_cmp, s_now);
    ck_assert_uint_eq (colo_compare_queued_secondary (s_cmp), 0);
    ck_assert_int_eq (colo_buf_slab_shared (slab), 0);
    ck_assert_int_eq (s_requests (NULL), 0);
    ck_assert_uint_eq (s_counter (COLO_CMP_BYTES_COMPARED), 600);
    colo_buf_slab_release (&slab);
}
END_TEST

//  What cannot be parsed is counted and dropped, never kept: a runt, and a
//  virtio-net header said to be longer than the frame.
START_TEST (test_view_malformed)
{
    static const uint8_t runt[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    ck_assert_int_eq (colo_compare_secondary_view (s_cmp, runt, sizeof runt, 0, 0, s_now), 0);
    ck_assert_int_eq (colo_compare_secondary_view (s_cmp, runt, sizeof runt, 12, 0, s_now), 0);
    ck_assert_uint_eq (s_counter (COLO_CMP_MALFORMED_SECONDARY), 2);
    ck_assert_uint_eq (s_counter (COLO_CMP_SECONDARY_FRAMES), 0);
    ck_assert_uint_eq (colo_compare_queued_secondary (s_cmp), 0);
}
END_TEST

START_TEST (test_view_spans_queued_primaries)
{
    s_handshake ();
    char data[1500];
    for (int i = 0; i < 1500; i++)
        data[i] = (char) (i * 13 + 1);
    //  Three primaries queued; one secondary segment covers the first two
    //  and half of the third, straight from the caller's bytes.
    s_pri (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, data, 500));
    s_pri (s_tcp (ISN_P + 501, ISN_C + 1, COLO_TCP_ACK, data + 500, 500));
    s_pri (s_tcp (ISN_P + 1001, ISN_C + 1, COLO_TCP_ACK, data + 1000, 500));
    ck_assert_int_eq (s_released (), 0);
    s_sec_view_scribbled (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, data, 1250));
    ck_assert_int_eq (s_released (), 2);
    ck_assert_uint_eq (colo_compare_queued_secondary (s_cmp), 0);
    ck_assert_uint_eq (s_counter (COLO_CMP_BYTES_COMPARED), 1250);
    //  The rest of the third comes later, as a view again.
    s_sec_view_scribbled (s_tcp (ISN_P + 1251, ISN_C + 1, COLO_TCP_ACK, data + 1250, 250));
    ck_assert_int_eq (s_released (), 1);
    ck_assert_uint_eq (colo_compare_queued_primary (s_cmp), 0);
    //  A retransmission of verified bytes is stale; a pure ACK is noted.
    s_sec_view_scribbled (s_tcp (ISN_P + 501, ISN_C + 1, COLO_TCP_ACK, data + 500, 500));
    ck_assert_uint_eq (s_counter (COLO_CMP_SECONDARY_STALE), 1);
    s_sec_view_scribbled (s_tcp (ISN_P + 1501, ISN_C + 2, COLO_TCP_ACK, NULL, 0));
    s_pri (s_tcp (ISN_P + 1501, ISN_C + 2, COLO_TCP_ACK, NULL, 0));
    ck_assert_int_eq (s_released (), 1);
    ck_assert_int_eq (s_requests (NULL), 0);
    ck_assert_uint_eq (colo_compare_queued_secondary (s_cmp), 0);
}
END_TEST

static int s_reports;
static uint8_t s_report_sec[2048];
static uint32_t s_report_sec_len;

static void
s_on_mismatch (void *arg, colo_compare_reason_t reason, const colo_flow_key_t *key,
               const colo_buf_t *primary, const colo_buf_t *secondary, long offset)
{
    (void) arg;
    (void) reason;
    (void) key;
    (void) primary;
    (void) offset;
    s_reports++;
    if (secondary && secondary->len <= sizeof s_report_sec) {
        memcpy (s_report_sec, secondary->data, secondary->len);
        s_report_sec_len = secondary->len;
    }
}

START_TEST (test_view_mismatch_reports_the_frame)
{
    colo_compare_set_mismatch_handler (s_cmp, s_on_mismatch, NULL);
    s_reports = 0;
    s_report_sec_len = 0;
    s_handshake ();
    char a[300], b[300];
    memset (a, 'a', sizeof a);
    memcpy (b, a, sizeof b);
    b[299] = 'b';
    s_pri (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, a, 300));
    colo_buf_t *sec = s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, b, 300);
    colo_buf_t *expect = colo_buf_dup (sec);
    s_sec_view_scribbled (sec);
    ck_assert_int_eq (s_released (), 0);
    colo_compare_reason_t reason;
    ck_assert_int_eq (s_requests (&reason), 1);
    ck_assert_int_eq (reason, COLO_REASON_MISMATCH_TCP);
    //  The report holds the secondary's frame as it came, not the scribble.
    ck_assert_int_eq (s_reports, 1);
    ck_assert_uint_eq (s_report_sec_len, expect->len);
    ck_assert_mem_eq (s_report_sec, expect->data, expect->len);
    colo_buf_destroy (&expect);
}
END_TEST

START_TEST (test_failover_releases_everything)
{
    s_handshake ();
    s_pri (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, "waiting", 7));
    s_pri (s_udp (0, "also", 4));
    ck_assert_int_eq (s_released (), 0);
    colo_compare_failover (s_cmp, s_now);
    ck_assert (colo_compare_in_failover (s_cmp));
    ck_assert_int_eq (s_released (), 2);
    //  From now on nothing waits for a secondary that is gone.
    s_pri (s_tcp (ISN_P + 8, ISN_C + 1, COLO_TCP_ACK, "next", 4));
    ck_assert_int_eq (s_released (), 1);
    s_sec (s_tcp (ISN_P + 8, ISN_C + 1, COLO_TCP_ACK, "late", 4));
    ck_assert_uint_eq (colo_compare_queued_secondary (s_cmp), 0);
    ck_assert_uint_eq (s_counter (COLO_CMP_RELEASED_FAILOVER), 3);
    s_now += 10000;
    colo_compare_tick (s_cmp, s_now);
    ck_assert_int_eq (s_requests (NULL), 0);
    //  A checkpoint (replication resumed) brings comparison back.
    colo_compare_checkpoint_done (s_cmp, s_now);
    ck_assert (!colo_compare_in_failover (s_cmp));
    s_pri (s_tcp (ISN_P + 12, ISN_C + 1, COLO_TCP_ACK, "cmp", 3));
    ck_assert_int_eq (s_released (), 0);
    s_sec (s_tcp (ISN_P + 12, ISN_C + 1, COLO_TCP_ACK, "cmp", 3));
    ck_assert_int_eq (s_released (), 1);
    ck_assert_int_eq (s_requests (NULL), 0);
}
END_TEST

//  Frames released during a failover went out without the connection's
//  state seeing them: after the checkpoint that resumes replication, its
//  streams are tracked afresh from the next segment, not from where they
//  stood before the failover (a hole that would wait for a timeout).
START_TEST (test_after_failover_tracking_restarts)
{
    s_handshake ();
    char data[100];
    memset (data, 'd', sizeof data);
    s_pri (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, data, 100));
    s_sec (s_tcp (ISN_P + 1, ISN_C + 1, COLO_TCP_ACK, data, 100));
    ck_assert_int_eq (s_released (), 1);
    colo_compare_failover (s_cmp, s_now);
    for (uint32_t i = 1; i <= 5; i++)
        s_pri (s_tcp (ISN_P + 1 + 100 * i, ISN_C + 1 + i, COLO_TCP_ACK, data, 100));
    ck_assert_int_eq (s_released (), 5);
    colo_compare_checkpoint_done (s_cmp, s_now);
    //  Both guests go on from the primary's state.
    s_pri (s_tcp (ISN_P + 601, ISN_C + 6, COLO_TCP_ACK, data, 100));
    s_sec (s_tcp (ISN_P + 601, ISN_C + 6, COLO_TCP_ACK, data, 100));
    ck_assert_int_eq (s_released (), 1);
    s_pri (s_tcp (ISN_P + 701, ISN_C + 7, COLO_TCP_ACK, data, 50));
    s_sec (s_tcp (ISN_P + 701, ISN_C + 7, COLO_TCP_ACK, data, 50));
    ck_assert_int_eq (s_released (), 1);
    ck_assert_uint_eq (colo_compare_queued_primary (s_cmp), 0);
    s_now += 10000;
    colo_compare_tick (s_cmp, s_now);
    ck_assert_int_eq (s_requests (NULL), 0);
    //  And a divergence is still one.
    s_pri (s_tcp (ISN_P + 751, ISN_C + 7, COLO_TCP_ACK, "x", 1));
    s_sec (s_tcp (ISN_P + 751, ISN_C + 7, COLO_TCP_ACK, "y", 1));
    ck_assert_int_eq (s_released (), 0);
    ck_assert_int_eq (s_requests (NULL), 1);
}
END_TEST


//  Released frames seen where the engine keeps them (colo_compare_peek):
//  in order, at most max, in the ring itself or (across its wrap) copied to
//  the caller's scratch; advance drops those a port took, the rest stay
//  first in line.  The ring (256 at first) wraps here: 200 released, 150
//  taken, 150 more released.
static void
s_release_matched (uint32_t *seq, int n)
{
    for (int i = 0; i < n; i++, *seq += 10) {
        s_pri (s_tcp (*seq, ISN_C + 1, COLO_TCP_ACK, "0123456789", 10));
        s_sec (s_tcp (*seq, ISN_C + 1, COLO_TCP_ACK, "0123456789", 10));
    }
}

//  Peek and take up to max frames (a port taking them: their slots NULL);
//  each must be next in sequence, in the ring or (copied) in scratch as
//  expected.  Returns how many.
static int
s_peek_take (int max, int take, uint32_t *next, int copied)
{
    colo_buf_t **span = NULL, *scratch[256];
    ck_assert_int_le (max, 256);
    int n = colo_compare_peek (s_cmp, &span, scratch, max);
    ck_assert_int_le (n, max);
    if (n > 0)
        ck_assert_int_eq (span == scratch, copied);
    for (int i = 0; i < n; i++)
        ck_assert_uint_eq (s_released_seq (span[i]), *next + 10u * (uint32_t) i);
    if (take > n)
        take = n;
    for (int i = 0; i < take; i++)
        colo_buf_destroy (&span[i]);
    colo_compare_advance (s_cmp, take);
    *next += 10u * (uint32_t) take;
    return n;
}

START_TEST (test_peek_spans_the_ring)
{
    uint32_t seq = ISN_P + 1, next = ISN_P + 1;
    s_pri (s_tcp (ISN_P, 0, COLO_TCP_SYN, NULL, 0));
    s_sec (s_tcp (ISN_P + 77, 0, COLO_TCP_SYN, NULL, 0));
    colo_buf_t *syn = NULL;
    ck_assert_int_eq (s_take (&syn, 1), 1);
    colo_buf_destroy (&syn);
    s_release_matched (&seq, 200);
    ck_assert_int_eq (s_peek_take (10, 0, &next, 0), 10);   //  max bounds it
    ck_assert_int_eq (s_peek_take (256, 150, &next, 0), 200);
    s_release_matched (&seq, 150);
    ck_assert_uint_eq (colo_compare_released_count (s_cmp), 200);
    //  From slot 151 (the SYN had slot 0) across the wrap: copied, in
    //  order; then within the ring again.
    ck_assert_int_eq (s_peek_take (256, 120, &next, 1), 200);
    ck_assert_int_eq (s_peek_take (256, 80, &next, 0), 80);
    ck_assert_int_eq (s_peek_take (256, 1, &next, 0), 0);
    ck_assert_uint_eq (next, seq);
}
END_TEST

Suite *
colo_compare_suite (void)
{
    Suite *s = suite_create ("colo_compare");
    const TTest *engine_tests[] = {
        test_identical_streams,
        test_one_byte_difference,
        test_retransmissions,
        test_retransmission_passes_waiting_segment,
        test_hole_filler_goes_first,
        test_secondary_reordered,
        test_sequence_wrap,
        test_ack_lowered_with_checksum,
        test_ack_hold_policy,
        test_pure_ack_judged_by_ack,
        test_fin_versus_rst,
        test_fin_both_and_close,
        test_data_after_fin_matched,
        test_rst_after_both_fins_waits,
        test_rst_versus_fin,
        test_fin_matches_before_secondary_rst,
        test_secondary_duplicate_dropped_when_verified,
        test_window_clamped_to_secondary,
        test_window_clamp_scales_differ,
        test_window_clamp_guest_opened,
        test_guest_opened_syn,
        test_udp_orders,
        test_udp_mismatch_after_grace,
        test_ipv6_compared,
        test_vlan_and_arp_compared,
        test_timeout,
        test_queue_full_backpressure,
        test_flush_order,
        test_flush_drops_duplicates,
        test_malformed_never_forwarded,
        test_table_bounded,
        test_passthrough_rules,
        test_failover_releases_everything,
        test_after_failover_tracking_restarts,
    };
    //  The same cases with the secondary fed as buffers, as views (zero
    //  copy), as views into a slab the engine keeps rather than copies, and
    //  as buffers that all go through the queue (no twin compared in place).
    static const char *const names[4] = {"engine", "views", "slab views", "queued"};
    void (*const setups[4]) (void) = {s_setup, s_setup_views, s_setup_slab_views,
                                      s_setup_queued};
    TCase *tcs[4];
    for (int m = 0; m < 4; m++) {
        tcs[m] = tcase_create (names[m]);
        tcase_add_checked_fixture (tcs[m], setups[m], s_teardown);
        for (size_t i = 0; i < sizeof engine_tests / sizeof engine_tests[0]; i++)
            tcase_add_test (tcs[m], engine_tests[i]);
        suite_add_tcase (s, tcs[m]);
    }
    tcase_add_test (tcs[1], test_view_copies_what_it_keeps);
    tcase_add_test (tcs[1], test_view_malformed);
    tcase_add_test (tcs[1], test_view_spans_queued_primaries);
    tcase_add_test (tcs[1], test_view_mismatch_reports_the_frame);
    tcase_add_test (tcs[2], test_slab_view_keeps_the_slab);
    tcase_add_test (tcs[0], test_peek_spans_the_ring);
    TCase *tc2 = tcase_create ("segmentation");
    tcase_add_test (tc2, test_segmentation_independent);
    tcase_add_loop_test (tc2, test_bursts_as_single_frames, 0, 2);
    suite_add_tcase (s, tc2);
    return s;
}
