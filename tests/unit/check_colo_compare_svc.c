/*  check_colo_compare_svc.c - colo-compare in-process, driven over QEMU chardev sockets.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  The instance listens on unix sockets as QEMU's chardev servers would;
 *  the test connects as the filter-redirectors and the Xen agent.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "colo_compare_svc.h"
#include "colo_log.h"
#include "colo_notify.h"
#include "colo_packet.h"
#include "colo_ring.h"
#include "colo_test.h"

typedef struct {
    char pri[96], sec[96], out[96], notify[96];
    colo_compare_svc_t *svc;
    colo_port_t *p, *s, *o, *n;   //  the test's ends
} s_rig_t;

static void
s_uri (char *buf, size_t cap, const char *role, int server)
{
    char name[48];
    colo_test_name (name, sizeof name);
    snprintf (buf, cap, "qemu+unix:/tmp/%s-%s.sock%s", name, role, server ? ",server" : "");
}

static void
s_rig_start (s_rig_t *rig, uint32_t scan_ms, int with_out_client)
{
    colo_log_set_level (COLO_LOG_ERROR);
    memset (rig, 0, sizeof *rig);
    s_uri (rig->pri, sizeof rig->pri, "pri", 1);
    s_uri (rig->sec, sizeof rig->sec, "sec", 1);
    s_uri (rig->out, sizeof rig->out, "out", 1);
    s_uri (rig->notify, sizeof rig->notify, "notify", 1);
    colo_compare_svc_config_t cfg;
    colo_compare_svc_config_defaults (&cfg);
    cfg.id = "test";
    cfg.primary_in = rig->pri;
    cfg.secondary_in = rig->sec;
    cfg.outdev = rig->out;
    cfg.notify_dev = rig->notify;
    cfg.expired_scan_cycle_ms = scan_ms;
    rig->svc = colo_compare_svc_start (&cfg);
    ck_assert_ptr_nonnull (rig->svc);
    //  The test's ends are clients of the same paths.
    char client[96];
    strcpy (client, rig->pri);
    *strstr (client, ",server") = 0;
    rig->p = colo_port_new (client, COLO_PORT_TX);
    strcpy (client, rig->sec);
    *strstr (client, ",server") = 0;
    rig->s = colo_port_new (client, COLO_PORT_TX);
    strcpy (client, rig->notify);
    *strstr (client, ",server") = 0;
    rig->n = colo_port_new (client, COLO_PORT_RXTX);
    if (with_out_client) {
        strcpy (client, rig->out);
        *strstr (client, ",server") = 0;
        rig->o = colo_port_new (client, COLO_PORT_RX);
        ck_assert_ptr_nonnull (rig->o);
    }
    ck_assert_ptr_nonnull (rig->p);
    ck_assert_ptr_nonnull (rig->s);
    ck_assert_ptr_nonnull (rig->n);
}

static void
s_rig_stop (s_rig_t *rig)
{
    colo_compare_svc_stop (&rig->svc);
    colo_port_destroy (&rig->p);
    colo_port_destroy (&rig->s);
    colo_port_destroy (&rig->o);
    colo_port_destroy (&rig->n);
}

static colo_buf_t *
s_tcp (uint32_t seq, const char *payload)
{
    colo_test_pkt_t spec;
    memset (&spec, 0, sizeof spec);
    spec.from_guest = 1;
    spec.proto = 6;
    spec.sport = 80;
    spec.dport = 40000;
    spec.seq = seq;
    spec.ack = 5001;
    spec.flags = 0x10;
    spec.payload = payload;
    spec.len = payload ? strlen (payload) : 0;
    return colo_test_packet (&spec);
}

static void
s_send (s_rig_t *rig, colo_port_t *port, colo_buf_t *buf)
{
    colo_port_t *others[3] = {rig->p, rig->s, rig->n};
    ck_assert_int_eq (colo_test_send_all (port, &buf, 1, others, 3, 5000), 1);
}

//  Receive one notify message within ms.
static colo_notify_msg_t
s_notify (s_rig_t *rig, int ms)
{
    colo_buf_t *buf = NULL;
    colo_port_t *others[3] = {rig->p, rig->s, rig->o};
    if (colo_test_recv_frames (rig->n, &buf, 1, others, rig->o ? 3 : 2, ms) != 1)
        return COLO_NOTIFY_UNKNOWN;
    colo_notify_msg_t msg = colo_notify_parse (buf->data, buf->len);
    colo_buf_destroy (&buf);
    return msg;
}

static uint64_t
s_counter (s_rig_t *rig, const char *name)
{
    uint64_t values[COLO_COMPARE_ALL_COUNTERS];
    ck_assert_int_eq (colo_compare_svc_counters (rig->svc, values), 0);
    for (int i = 0; i < COLO_COMPARE_ALL_COUNTERS; i++)
        if (strcmp (colo_compare_svc_counter_name (i), name) == 0)
            return values[i];
    ck_abort_msg ("no counter %s", name);
    return 0;
}

//  The hold-time histogram: frames outdev took, each in every bucket at or
//  above its hold time: the buckets never fall, the last is at most
//  out_frames, and out_frames is n.
static void
s_assert_held_histogram (s_rig_t *rig, uint64_t n)
{
    static const char *const le[] = {
        "held_le_10us",  "held_le_20us",  "held_le_50us",  "held_le_100us",
        "held_le_200us", "held_le_500us", "held_le_1ms",   "held_le_2ms",
        "held_le_5ms",   "held_le_10ms",  "held_le_20ms",  "held_le_50ms",
        "held_le_100ms", "held_le_200ms", "held_le_500ms", "held_le_1s"};
    ck_assert_uint_eq (s_counter (rig, "out_frames"), n);
    uint64_t prev = 0;
    for (size_t i = 0; i < sizeof le / sizeof le[0]; i++) {
        uint64_t v = s_counter (rig, le[i]);
        ck_assert_msg (v >= prev && v <= n, "%s = %llu after %llu, of %llu", le[i],
                       (unsigned long long) v, (unsigned long long) prev,
                       (unsigned long long) n);
        prev = v;
    }
}

START_TEST (test_svc_matched_stream_released)
{
    s_rig_t rig;
    s_rig_start (&rig, 1000, 1);
    const char *words[] = {"alpha", "beta", "gamma", "delta"};
    uint32_t seq = 1001;
    for (int i = 0; i < 4; i++) {
        s_send (&rig, rig.p, s_tcp (seq, words[i]));
        s_send (&rig, rig.s, s_tcp (seq, words[i]));
        seq += (uint32_t) strlen (words[i]);
    }
    colo_buf_t *out[4] = {NULL};
    colo_port_t *others[3] = {rig.p, rig.s, rig.n};
    ck_assert_int_eq (colo_test_recv_frames (rig.o, out, 4, others, 3, 5000), 4);
    seq = 1001;
    for (int i = 0; i < 4; i++) {
        colo_packet_t pkt;
        ck_assert_int_eq (colo_packet_decode (&pkt, out[i]->data, out[i]->len, NULL), 0);
        ck_assert_uint_eq (pkt.tcp_seq, seq);
        ck_assert_int_eq (memcmp (out[i]->data + pkt.payload_off, words[i], pkt.payload_len), 0);
        seq += pkt.payload_len;
        colo_buf_destroy (&out[i]);
    }
    ck_assert_uint_eq (s_counter (&rig, "checkpoint_requests"), 0);
    ck_assert_uint_eq (s_counter (&rig, "released_matched"), 4);
    s_assert_held_histogram (&rig, 4);
    s_rig_stop (&rig);
}
END_TEST

//  Frames that leave together with one arrival stamp (the primary's four
//  in one write, each matching a secondary already queued) are each
//  counted in the hold-time histogram, not once for the run.
START_TEST (test_svc_held_counts_each_frame)
{
    s_rig_t rig;
    s_rig_start (&rig, 1000, 1);
    const char *words[] = {"one", "two", "three", "four"};
    colo_buf_t *pri[4];
    uint32_t seq = 1001;
    for (int i = 0; i < 4; i++) {
        s_send (&rig, rig.s, s_tcp (seq, words[i]));
        pri[i] = s_tcp (seq, words[i]);
        seq += (uint32_t) strlen (words[i]);
    }
    colo_port_t *others[3] = {rig.p, rig.s, rig.n};
    for (int tries = 0; tries < 500 && s_counter (&rig, "secondary_frames") < 4; tries++)
        colo_test_poll_ports (others, 3, 10);
    ck_assert_uint_eq (s_counter (&rig, "secondary_frames"), 4);
    ck_assert_int_eq (colo_test_send_all (rig.p, pri, 4, others, 3, 5000), 4);
    colo_buf_t *out[4] = {NULL};
    ck_assert_int_eq (colo_test_recv_frames (rig.o, out, 4, others, 3, 5000), 4);
    colo_buf_destroy_array (out, 4);
    s_assert_held_histogram (&rig, 4);
    //  Released as they came: none held anywhere near a second.
    ck_assert_uint_eq (s_counter (&rig, "held_le_1s"), 4);
    s_rig_stop (&rig);
}
END_TEST

START_TEST (test_svc_xen_notify_protocol)
{
    s_rig_t rig;
    s_rig_start (&rig, 50, 1);
    //  The Xen agent's greeting is answered.
    colo_buf_t *init = colo_notify_frame (COLO_NOTIFY_PROXY_INIT);
    s_send (&rig, rig.n, init);
    ck_assert_int_eq (s_notify (&rig, 5000), COLO_NOTIFY_GET_XEN_INIT);
    //  A divergence: DO_CHECKPOINT, and nothing of the answer reaches outdev.
    s_send (&rig, rig.p, s_tcp (1001, "right answer"));
    s_send (&rig, rig.s, s_tcp (1001, "wrong answer"));
    for (int i = 0; i < 10; i++) {
        s_send (&rig, rig.p, s_tcp (1013 + 5 * (uint32_t) i, "more!"));
        s_send (&rig, rig.s, s_tcp (1013 + 5 * (uint32_t) i, "more!"));
    }
    ck_assert_int_eq (s_notify (&rig, 5000), COLO_NOTIFY_DO_CHECKPOINT);
    colo_buf_t *none = NULL;
    colo_port_t *others[3] = {rig.p, rig.s, rig.n};
    ck_assert_int_eq (colo_port_recv (rig.o, &none, 1), 0);
    //  Unanswered, it is repeated once per scan cycle, as one episode.
    ck_assert_int_eq (s_notify (&rig, 5000), COLO_NOTIFY_DO_CHECKPOINT);
    ck_assert_uint_eq (s_counter (&rig, "checkpoint_episodes"), 1);
    ck_assert_uint_ge (s_counter (&rig, "checkpoint_requests"), 2);
    ck_assert_uint_eq (s_counter (&rig, "mismatch_tcp"), 1);
    //  COLO_CHECKPOINT: the primary's frames are flushed in order.
    s_send (&rig, rig.n, colo_notify_frame (COLO_NOTIFY_CHECKPOINT));
    colo_buf_t *out[11] = {NULL};
    ck_assert_int_eq (colo_test_recv_frames (rig.o, out, 11, others, 3, 5000), 11);
    colo_packet_t pkt;
    colo_packet_decode (&pkt, out[0]->data, out[0]->len, NULL);
    ck_assert_int_eq (memcmp (out[0]->data + pkt.payload_off, "right answer", 12), 0);
    colo_buf_destroy_array (out, 11);
    ck_assert_uint_eq (s_counter (&rig, "checkpoints"), 1);
    //  The right answer waited from the first request to the checkpoint,
    //  which came after the repeat, one scan cycle (50 ms, counted in whole
    //  ms: 49 at the least) later: it is not among the frames held 20 ms or
    //  less.
    s_assert_held_histogram (&rig, 11);
    ck_assert_uint_le (s_counter (&rig, "held_le_20ms"), 10);
    //  An unknown instruction is counted and ignored.
    s_send (&rig, rig.n, colo_buf_new_copy ("HELLO", 5));
    for (int tries = 0; tries < 500 && s_counter (&rig, "notify_unknown") == 0; tries++)
        colo_test_poll_ports (others, 3, 10);
    ck_assert_uint_eq (s_counter (&rig, "notify_unknown"), 1);
    s_rig_stop (&rig);
}
END_TEST

START_TEST (test_svc_outdev_absent_frames_wait)
{
    s_rig_t rig;
    s_rig_start (&rig, 1000, 0);
    s_send (&rig, rig.p, s_tcp (1001, "patience"));
    s_send (&rig, rig.s, s_tcp (1001, "patience"));
    //  Released with nobody on outdev: it waits in the port.
    for (int tries = 0; tries < 500 && s_counter (&rig, "released") == 0; tries++) {
        colo_port_t *others[3] = {rig.p, rig.s, rig.n};
        colo_test_poll_ports (others, 3, 10);
    }
    ck_assert_uint_eq (s_counter (&rig, "released"), 1);
    char client[96];
    strcpy (client, rig.out);
    *strstr (client, ",server") = 0;
    rig.o = colo_port_new (client, COLO_PORT_RX);
    colo_buf_t *out = NULL;
    colo_port_t *others[3] = {rig.p, rig.s, rig.n};
    ck_assert_int_eq (colo_test_recv_frames (rig.o, &out, 1, others, 3, 5000), 1);
    colo_packet_t pkt;
    colo_packet_decode (&pkt, out->data, out->len, NULL);
    ck_assert_int_eq (memcmp (out->data + pkt.payload_off, "patience", 8), 0);
    colo_buf_destroy (&out);
    s_rig_stop (&rig);
}
END_TEST

//  The bucket of a hold time, against the bounds themselves: each bound
//  is in its own bucket, one more ns in the next; and the times between.
START_TEST (test_svc_held_buckets)
{
    static const uint64_t bound[16] = {
        10000,    20000,    50000,    100000,    200000,    500000,    1000000,   2000000,
        5000000,  10000000, 20000000, 50000000, 100000000, 200000000, 500000000, 1000000000};
    ck_assert_int_eq (colo_compare_svc_x_held_bucket (0), 0);
    ck_assert_int_eq (colo_compare_svc_x_held_bucket (UINT64_MAX), 16);
    for (int b = 0; b < 16; b++) {
        ck_assert_int_eq (colo_compare_svc_x_held_bucket (bound[b]), b);
        ck_assert_int_eq (colo_compare_svc_x_held_bucket (bound[b] + 1), b + 1);
        ck_assert_int_eq (colo_compare_svc_x_held_bucket (bound[b] - 1), b);
    }
    //  Every power of two and its neighbours, and a sweep, against a count
    //  of the bounds below.
    uint64_t rng = 0x5eed;
    for (int i = 0; i < 200000; i++) {
        uint64_t ns = i < 192 ? ((uint64_t) 1 << (i / 3)) + (uint64_t) (i % 3) - 1
                              : colo_test_rand (&rng) >> (colo_test_rand (&rng) % 64);
        int want = 0;
        while (want < 16 && ns > bound[want])
            want++;
        ck_assert_msg (colo_compare_svc_x_held_bucket (ns) == want, "%llu ns: bucket %d, not %d",
                       (unsigned long long) ns, colo_compare_svc_x_held_bucket (ns), want);
    }
}
END_TEST

START_TEST (test_svc_check_config)
{
    colo_compare_svc_config_t cfg;
    colo_compare_svc_config_defaults (&cfg);
    char err[300];
    ck_assert_int_eq (colo_compare_svc_check (&cfg, err, sizeof err), -1);
    ck_assert_str_eq (err, "'primary-in' is required");
    cfg.primary_in = "shm:a";
    cfg.secondary_in = "shm:a";
    cfg.outdev = "qemu+unix:/tmp/x";
    ck_assert_int_eq (colo_compare_svc_check (&cfg, err, sizeof err), -1);
    ck_assert_str_eq (err, "'primary-in' and 'secondary-in' must differ");
    cfg.secondary_in = "zmq+tcp://*:7000,bind";
    ck_assert_int_eq (colo_compare_svc_check (&cfg, err, sizeof err), 0);
    cfg.notify_dev = "shm:n";
    ck_assert_int_eq (colo_compare_svc_check (&cfg, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "notify-dev"));
    cfg.notify_dev = NULL;
    cfg.busy_poll_us = 1001;
    ck_assert_int_eq (colo_compare_svc_check (&cfg, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "busy-poll 1001"));
    cfg.busy_poll_us = 1000;
    ck_assert_int_eq (colo_compare_svc_check (&cfg, err, sizeof err), 0);
    //  A port that cannot open fails the start cleanly.
    cfg.outdev = "qemu+unix:/nonexistent-dir/x.sock,server";
    colo_log_set_level (COLO_LOG_ERROR);
    ck_assert_ptr_null (colo_compare_svc_start (&cfg));
    colo_ring_unlink ("a");
}
END_TEST

Suite *
colo_compare_svc_suite (void)
{
    Suite *s = suite_create ("colo_compare_svc");
    TCase *tc = tcase_create ("service");
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, test_svc_matched_stream_released);
    tcase_add_test (tc, test_svc_xen_notify_protocol);
    tcase_add_test (tc, test_svc_outdev_absent_frames_wait);
    tcase_add_test (tc, test_svc_held_buckets);
    tcase_add_test (tc, test_svc_held_counts_each_frame);
    tcase_add_test (tc, test_svc_check_config);
    suite_add_tcase (s, tc);
    return s;
}
