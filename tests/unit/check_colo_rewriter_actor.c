/*  check_colo_rewriter_actor.c - a colo-rewriter instance in-process on shm and qemu+unix ports.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "colo_csum.h"
#include "colo_log.h"
#include "colo_packet.h"
#include "colo_ring.h"
#include "colo_rewriter_actor.h"
#include "colo_test.h"

#define GUEST_PORT 80
#define CLIENT_PORT 40000
#define ISN_C 5000u
#define ISN_P 1000000u
#define ISN_S 7777777u
#define WAIT_MS 5000

static const char s_payload[1460] = "colonet rewriter actor test";

//  Names of everything a test creates, removed at teardown.
static char s_shm[4][64];
static char s_sock[2][128];

static void
s_setup (void)
{
    colo_log_set_level (COLO_LOG_ERROR);
    char name[64];
    for (int i = 0; i < 4; i++)
        snprintf (s_shm[i], sizeof s_shm[i], "%s", colo_test_name (name, sizeof name));
    for (int i = 0; i < 2; i++)
        snprintf (s_sock[i], sizeof s_sock[i], "/tmp/%s.sock",
                  colo_test_name (name, sizeof name));
}

static void
s_teardown (void)
{
    for (int i = 0; i < 4; i++)
        colo_ring_unlink (s_shm[i]);
    for (int i = 0; i < 2; i++)
        unlink (s_sock[i]);
}

static colo_buf_t *
s_tcp (int from_guest, uint16_t client_port, uint8_t flags, uint32_t seq, uint32_t ack,
       size_t len)
{
    colo_test_pkt_t spec;
    memset (&spec, 0, sizeof spec);
    spec.proto = 6;
    spec.from_guest = from_guest;
    spec.sport = from_guest ? GUEST_PORT : client_port;
    spec.dport = from_guest ? client_port : GUEST_PORT;
    spec.flags = flags;
    spec.seq = seq;
    spec.ack = ack;
    spec.payload = s_payload;
    spec.len = len;
    return colo_test_packet (&spec);
}

//  The test's ends of the four ports, and everything to pump while waiting.
typedef struct {
    colo_port_t *mirror;      //  we send what colo-mirror would
    colo_port_t *guest_rx;    //  we receive what the guest would
    colo_port_t *guest_tx;    //  we send what the guest would (may be guest_rx)
    colo_port_t *compare;     //  we receive what colo-compare would
    colo_port_t *all[4];
    int n;
} s_ends_t;

static void
s_ends_init (s_ends_t *e)
{
    e->n = 0;
    colo_port_t *list[4] = {e->mirror, e->guest_rx, e->guest_tx, e->compare};
    for (int i = 0; i < 4; i++) {
        ck_assert_ptr_nonnull (list[i]);
        int dup = 0;
        for (int j = 0; j < e->n; j++)
            dup |= e->all[j] == list[i];
        if (!dup)
            e->all[e->n++] = list[i];
    }
}

static void
s_ends_destroy (s_ends_t *e)
{
    if (e->guest_tx == e->guest_rx)
        e->guest_tx = NULL;
    colo_port_destroy (&e->mirror);
    colo_port_destroy (&e->guest_rx);
    colo_port_destroy (&e->guest_tx);
    colo_port_destroy (&e->compare);
}

static void
s_send (s_ends_t *e, colo_port_t *port, colo_buf_t *buf)
{
    ck_assert_int_eq (colo_test_send_all (port, &buf, 1, e->all, e->n, WAIT_MS), 1);
}

//  Receive one frame on port and decode it (checksums verified).
static colo_buf_t *
s_recv (s_ends_t *e, colo_port_t *port, colo_packet_t *pkt)
{
    colo_buf_t *buf = NULL;
    ck_assert_int_eq (colo_test_recv_frames (port, &buf, 1, e->all, e->n, WAIT_MS), 1);
    ck_assert_int_eq (colo_packet_decode (pkt, colo_buf_frame (buf), colo_buf_frame_len (buf),
                                          NULL),
                      COLO_PKT_OK);
    ck_assert_int_eq (colo_csum_l4_verify (pkt, colo_buf_frame (buf)), 1);
    return buf;
}

//  Send `in` on `from`; the frame must come out of `to` with this seq/ack
//  and otherwise unchanged.
static void
s_through (s_ends_t *e, colo_port_t *from, colo_port_t *to, colo_buf_t *in, uint32_t seq,
           uint32_t ack)
{
    colo_buf_t *copy = colo_buf_dup (in);
    s_send (e, from, in);
    colo_packet_t pkt;
    colo_buf_t *out = s_recv (e, to, &pkt);
    ck_assert_uint_eq (pkt.tcp_seq, seq);
    ck_assert_uint_eq (pkt.tcp_ack, ack);
    ck_assert_uint_eq (out->len, copy->len);
    //  Only seq/ack and the checksum may differ.
    uint32_t tcp = pkt.l4_off;
    ck_assert (memcmp (colo_buf_frame (out), colo_buf_frame (copy), tcp + 4) == 0);
    ck_assert (memcmp (colo_buf_frame (out) + tcp + 12, colo_buf_frame (copy) + tcp + 12, 4)
               == 0);
    ck_assert (memcmp (colo_buf_frame (out) + tcp + 18, colo_buf_frame (copy) + tcp + 18,
                       colo_buf_frame_len (out) - tcp - 18)
               == 0);
    colo_buf_destroy (&out);
    colo_buf_destroy (&copy);
}

typedef struct {
    colo_rewriter_actor_t *actor;
    size_t field;             //  offset of a uint64_t in colo_rewriter_stats_t
    uint64_t at_least;
} s_stat_wait_t;

static int
s_stat_reached (void *arg)
{
    s_stat_wait_t *w = (s_stat_wait_t *) arg;
    colo_rewriter_stats_t st;
    colo_rewriter_actor_stats (w->actor, &st);
    uint64_t v;
    memcpy (&v, (const char *) &st + w->field, sizeof v);
    return v >= w->at_least;
}

static void
s_wait_stat (s_ends_t *e, colo_rewriter_actor_t *actor, size_t field, uint64_t at_least)
{
    s_stat_wait_t w = {actor, field, at_least};
    ck_assert_msg (colo_test_wait (s_stat_reached, &w, e->all, e->n, WAIT_MS),
                   "counter did not reach %llu", (unsigned long long) at_least);
}

#define ENGINE_FIELD(c) (offsetof (colo_rewriter_stats_t, engine) + sizeof (uint64_t) * (c))

//  The accept handshake and data both ways through a running instance.
static void
s_handshake_and_data (s_ends_t *e)
{
    s_through (e, e->mirror, e->guest_rx, s_tcp (0, CLIENT_PORT, COLO_TCP_SYN, ISN_C, 0, 0),
               ISN_C, 0);
    s_through (e, e->guest_tx, e->compare,
               s_tcp (1, CLIENT_PORT, COLO_TCP_SYN | COLO_TCP_ACK, ISN_S, ISN_C + 1, 0), ISN_S,
               ISN_C + 1);
    s_through (e, e->mirror, e->guest_rx,
               s_tcp (0, CLIENT_PORT, COLO_TCP_ACK, ISN_C + 1, ISN_P + 1, 0), ISN_C + 1,
               ISN_S + 1);
    s_through (e, e->mirror, e->guest_rx,
               s_tcp (0, CLIENT_PORT, COLO_TCP_ACK | COLO_TCP_PSH, ISN_C + 1, ISN_P + 1, 100),
               ISN_C + 1, ISN_S + 1);
    s_through (e, e->guest_tx, e->compare,
               s_tcp (1, CLIENT_PORT, COLO_TCP_ACK | COLO_TCP_PSH, ISN_S + 1, ISN_C + 101, 1460),
               ISN_P + 1, ISN_C + 101);
}

START_TEST (test_actor_shm_and_qemu)
{
    char uri[4][160];
    snprintf (uri[0], sizeof uri[0], "shm:%s", s_shm[0]);
    snprintf (uri[1], sizeof uri[1], "qemu+unix:%s,server", s_sock[0]);
    snprintf (uri[2], sizeof uri[2], "qemu+unix:%s,server", s_sock[1]);
    snprintf (uri[3], sizeof uri[3], "shm:%s", s_shm[1]);
    colo_rewriter_actor_config_t cfg;
    colo_rewriter_actor_config_defaults (&cfg);
    cfg.id = "vm1-nic0";
    cfg.from_mirror = uri[0];
    cfg.to_guest = uri[1];
    cfg.from_guest = uri[2];
    cfg.to_compare = uri[3];
    colo_rewriter_actor_t *actor = colo_rewriter_actor_start (&cfg);
    ck_assert_ptr_nonnull (actor);
    ck_assert_str_eq (colo_rewriter_actor_id (actor), "vm1-nic0");

    char turi[2][160];
    snprintf (turi[0], sizeof turi[0], "qemu+unix:%s", s_sock[0]);
    snprintf (turi[1], sizeof turi[1], "qemu+unix:%s", s_sock[1]);
    s_ends_t e;
    e.mirror = colo_port_new (uri[0], COLO_PORT_TX);
    e.guest_rx = colo_port_new (turi[0], COLO_PORT_RX);
    e.guest_tx = colo_port_new (turi[1], COLO_PORT_TX);
    e.compare = colo_port_new (uri[3], COLO_PORT_RX);
    s_ends_init (&e);
    s_handshake_and_data (&e);

    colo_rewriter_stats_t st;
    s_wait_stat (&e, actor, ENGINE_FIELD (COLO_RW_REWRITTEN_FROM_GUEST), 1);
    colo_rewriter_actor_stats (actor, &st);
    ck_assert_uint_eq (st.engine[COLO_RW_LEARNED_ACCEPTED], 1);
    ck_assert_uint_eq (st.engine[COLO_RW_REWRITTEN_TO_GUEST], 2);
    ck_assert_uint_eq (st.engine[COLO_RW_REWRITTEN_FROM_GUEST], 1);
    ck_assert_uint_eq (st.connections, 1);
    ck_assert_uint_eq (st.to_guest_frames, 3);
    ck_assert_uint_eq (st.to_compare_frames, 2);

    //  Checkpoint: the secondary now speaks in the primary's space.
    ck_assert_int_eq (colo_rewriter_actor_checkpoint_done (actor), 0);
    s_through (&e, e.guest_tx, e.compare,
               s_tcp (1, CLIENT_PORT, COLO_TCP_ACK, ISN_P + 1461, ISN_C + 101, 10), ISN_P + 1461,
               ISN_C + 101);
    s_through (&e, e.mirror, e.guest_rx,
               s_tcp (0, CLIENT_PORT, COLO_TCP_ACK, ISN_C + 101, ISN_P + 1471, 0), ISN_C + 101,
               ISN_P + 1471);

    //  Failover: a new connection is left alone.
    ck_assert_int_eq (colo_rewriter_actor_failover (actor), 0);
    s_through (&e, e.mirror, e.guest_rx, s_tcp (0, 41000, COLO_TCP_SYN, 9, 0, 0), 9, 0);
    s_wait_stat (&e, actor, ENGINE_FIELD (COLO_RW_AFTER_FAILOVER), 1);
    colo_rewriter_actor_stats (actor, &st);
    ck_assert_uint_eq (st.engine[COLO_RW_CHECKPOINTS], 1);
    ck_assert_uint_eq (st.engine[COLO_RW_FAILOVERS], 1);
    ck_assert_uint_eq (st.connections, 1);

    colo_rewriter_actor_stop (&actor);
    ck_assert_ptr_null (actor);
    colo_rewriter_actor_stop (&actor);
    s_ends_destroy (&e);
}
END_TEST

START_TEST (test_actor_shared_guest_port)
{
    //  One two-way chardev toward the guest (to-guest = from-guest), and
    //  vnet headers on it (added by vnet_hdr_support).
    char uri[3][160];
    snprintf (uri[0], sizeof uri[0], "shm:%s", s_shm[0]);
    snprintf (uri[1], sizeof uri[1], "qemu+unix:%s,server", s_sock[0]);
    snprintf (uri[2], sizeof uri[2], "shm:%s", s_shm[1]);
    colo_rewriter_actor_config_t cfg;
    colo_rewriter_actor_config_defaults (&cfg);
    cfg.from_mirror = uri[0];
    cfg.to_guest = uri[1];
    cfg.from_guest = uri[1];
    cfg.to_compare = uri[2];
    cfg.vnet_hdr_support = 1;
    colo_rewriter_actor_t *actor = colo_rewriter_actor_start (&cfg);
    ck_assert_ptr_nonnull (actor);
    ck_assert_str_eq (colo_rewriter_actor_id (actor), "colo-rewriter");
    char turi[160];
    snprintf (turi, sizeof turi, "qemu+unix:%s,vnet", s_sock[0]);
    s_ends_t e;
    e.mirror = colo_port_new (uri[0], COLO_PORT_TX);
    e.guest_rx = e.guest_tx = colo_port_new (turi, COLO_PORT_RXTX);
    e.compare = colo_port_new (uri[2], COLO_PORT_RX);
    s_ends_init (&e);
    s_handshake_and_data (&e);
    //  A frame with a 12-byte vnet header crosses with it intact.
    colo_test_pkt_t spec;
    memset (&spec, 0, sizeof spec);
    spec.proto = 6;
    spec.from_guest = 1;
    spec.sport = GUEST_PORT;
    spec.dport = CLIENT_PORT;
    spec.flags = COLO_TCP_ACK;
    spec.seq = ISN_S + 1461;
    spec.ack = ISN_C + 101;
    spec.vnet_hdr_len = 12;
    colo_buf_t *buf = colo_test_packet (&spec);
    buf->data[1] = 0x7e;   //  something to carry
    s_send (&e, e.guest_tx, buf);
    colo_packet_t pkt;
    colo_buf_t *out = s_recv (&e, e.compare, &pkt);
    ck_assert_uint_eq (out->vnet_hdr_len, 12);
    ck_assert_uint_eq (out->data[1], 0x7e);
    ck_assert_uint_eq (pkt.tcp_seq, ISN_P + 1461);
    colo_buf_destroy (&out);
    colo_rewriter_actor_stop (&actor);
    s_ends_destroy (&e);
}
END_TEST

START_TEST (test_actor_backpressure)
{
    //  The guest side is a small ring nobody reads for a while: the
    //  instance stops reading from-mirror, and loses nothing.
    char uri[4][160];
    snprintf (uri[0], sizeof uri[0], "shm:%s", s_shm[0]);
    snprintf (uri[1], sizeof uri[1], "shm:%s,size=256K", s_shm[1]);
    snprintf (uri[2], sizeof uri[2], "shm:%s", s_shm[2]);
    snprintf (uri[3], sizeof uri[3], "shm:%s", s_shm[3]);
    colo_rewriter_actor_config_t cfg;
    colo_rewriter_actor_config_defaults (&cfg);
    cfg.from_mirror = uri[0];
    cfg.to_guest = uri[1];
    cfg.from_guest = uri[2];
    cfg.to_compare = uri[3];
    colo_rewriter_actor_t *actor = colo_rewriter_actor_start (&cfg);
    ck_assert_ptr_nonnull (actor);
    s_ends_t e;
    e.mirror = colo_port_new (uri[0], COLO_PORT_TX);
    e.guest_rx = colo_port_new (uri[1], COLO_PORT_RX);
    e.guest_tx = colo_port_new (uri[2], COLO_PORT_TX);
    e.compare = colo_port_new (uri[3], COLO_PORT_RX);
    s_ends_init (&e);
    s_handshake_and_data (&e);

    enum { N = 1000 };
    colo_buf_t *bufs[N];
    for (uint32_t i = 0; i < N; i++)
        bufs[i] = s_tcp (0, CLIENT_PORT, COLO_TCP_ACK, ISN_C + 101 + 1460 * i, ISN_P + 1461,
                         1460);
    ck_assert_int_eq (colo_test_send_all (e.mirror, bufs, N, e.all, e.n, WAIT_MS), N);
    s_wait_stat (&e, actor, offsetof (colo_rewriter_stats_t, to_guest_stalls), 1);
    //  Meanwhile the other pipeline still flows.
    s_through (&e, e.guest_tx, e.compare,
               s_tcp (1, CLIENT_PORT, COLO_TCP_ACK, ISN_S + 1461, ISN_C + 101, 0), ISN_P + 1461,
               ISN_C + 101);
    for (uint32_t i = 0; i < N; i++) {
        colo_packet_t pkt;
        colo_buf_t *out = s_recv (&e, e.guest_rx, &pkt);
        ck_assert_uint_eq (pkt.tcp_seq, ISN_C + 101 + 1460 * i);
        ck_assert_uint_eq (pkt.tcp_ack, ISN_S + 1461);
        colo_buf_destroy (&out);
    }
    s_wait_stat (&e, actor, offsetof (colo_rewriter_stats_t, to_guest_frames), 3 + N);
    colo_rewriter_stats_t st;
    colo_rewriter_actor_stats (actor, &st);
    ck_assert_uint_ge (st.to_guest_stalls, 1);
    ck_assert_uint_eq (st.to_guest_frames, 3 + N);
    colo_rewriter_actor_stop (&actor);
    s_ends_destroy (&e);
}
END_TEST

START_TEST (test_actor_refuses_bad_config)
{
    colo_rewriter_actor_config_t cfg;
    colo_rewriter_actor_config_defaults (&cfg);
    const char *key = NULL;
    char err[256];
    ck_assert_ptr_null (colo_rewriter_actor_start (&cfg));
    ck_assert_int_eq (colo_rewriter_actor_check (&cfg, &key, err, sizeof err), -1);
    ck_assert_str_eq (key, "from-mirror");
    cfg.from_mirror = "shm:a";
    cfg.to_guest = "shm:b";
    cfg.from_guest = "shm:c";
    ck_assert_int_eq (colo_rewriter_actor_check (&cfg, &key, err, sizeof err), -1);
    ck_assert_str_eq (key, "to-compare");
    cfg.to_compare = "shm:d";
    ck_assert_int_eq (colo_rewriter_actor_check (&cfg, &key, err, sizeof err), 0);
    ck_assert_int_eq (colo_rewriter_actor_check (&cfg, NULL, err, sizeof err), 0);
    cfg.busy_poll_us = 1001;
    ck_assert_int_eq (colo_rewriter_actor_check (&cfg, &key, err, sizeof err), -1);
    ck_assert_str_eq (key, "busy-poll");
    cfg.busy_poll_us = 1000;
    ck_assert_int_eq (colo_rewriter_actor_check (&cfg, &key, err, sizeof err), 0);
    //  A loop, and one ring read twice.
    cfg.to_guest = "shm:a";
    ck_assert_int_eq (colo_rewriter_actor_check (&cfg, &key, err, sizeof err), -1);
    ck_assert_str_eq (key, "to-guest");
    ck_assert_str_eq (err, "'shm:a': the same port as 'from-mirror'");
    cfg.to_guest = "shm:b";
    cfg.from_guest = "shm:a";
    ck_assert_int_eq (colo_rewriter_actor_check (&cfg, &key, err, sizeof err), -1);
    ck_assert_str_eq (key, "from-guest");
    //  Sharing a port between the pipelines needs a two-way transport.
    cfg.from_guest = "shm:b";
    ck_assert_int_eq (colo_rewriter_actor_check (&cfg, &key, err, sizeof err), -1);
    ck_assert_str_eq (key, "from-guest");
    ck_assert_str_eq (err, "'shm:b': shm ports carry one direction only");
    cfg.to_guest = cfg.from_guest = "qemu+unix:/run/x.sock,server";
    ck_assert_int_eq (colo_rewriter_actor_check (&cfg, &key, err, sizeof err), 0);
    cfg.to_guest = "qemu+unix:/run/x.sock,sever";
    ck_assert_int_eq (colo_rewriter_actor_check (&cfg, &key, err, sizeof err), -1);
    ck_assert_str_eq (key, "to-guest");
    ck_assert_str_eq (err, "'qemu+unix:/run/x.sock,sever': unknown option 'sever'");
    cfg.to_guest = "shm:b";
    cfg.from_guest = "shm:c";
    cfg.engine.max_connections = 0;
    ck_assert_int_eq (colo_rewriter_actor_check (&cfg, &key, err, sizeof err), -1);
    ck_assert_str_eq (key, "max-connections");
    cfg.engine.max_connections = 10;
    cfg.engine.idle_timeout_ms = 0;
    ck_assert_int_eq (colo_rewriter_actor_check (&cfg, &key, err, sizeof err), -1);
    ck_assert_str_eq (key, "idle-timeout");
    ck_assert_ptr_null (colo_rewriter_actor_start (&cfg));
    //  A port that cannot be opened (bad shm name) fails the start.
    char uri[3][96];
    snprintf (uri[0], sizeof uri[0], "shm:%s", s_shm[0]);
    snprintf (uri[1], sizeof uri[1], "shm:%s", s_shm[1]);
    snprintf (uri[2], sizeof uri[2], "shm:%s", s_shm[2]);
    colo_rewriter_actor_config_defaults (&cfg);
    cfg.from_mirror = uri[0];
    cfg.to_guest = "shm:no/slash";
    cfg.from_guest = uri[1];
    cfg.to_compare = uri[2];
    ck_assert_ptr_null (colo_rewriter_actor_start (&cfg));
}
END_TEST

START_TEST (test_port_uri_vnet)
{
    struct {
        const char *in;
        int vnet;
        const char *out;
    } cases[] = {
        {"qemu+unix:/x,server", 1, "qemu+unix:/x,server,vnet"},
        {"qemu+unix:/x", 1, "qemu+unix:/x,vnet"},
        {"qemu+unix:/x,vnet,server", 1, "qemu+unix:/x,vnet,server"},
        {"qemu+tcp:127.0.0.1:9000,server,vnet", 1, "qemu+tcp:127.0.0.1:9000,server,vnet"},
        {"qemu+tcp:[::1]:9000", 1, "qemu+tcp:[::1]:9000,vnet"},
        {"qemu+unix:/vnetdir/x", 1, "qemu+unix:/vnetdir/x,vnet"},
        {"qemu+unix:/x,server", 0, "qemu+unix:/x,server"},
        {"shm:x", 1, "shm:x"},
        {"zmq+tcp://h:1", 1, "zmq+tcp://h:1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = colo_rewriter_port_uri (cases[i].in, cases[i].vnet);
        ck_assert_str_eq (out, cases[i].out);
        free (out);
    }
    ck_assert_ptr_null (colo_rewriter_port_uri (NULL, 1));
}
END_TEST

Suite *
colo_rewriter_actor_suite (void)
{
    Suite *s = suite_create ("colo_rewriter_actor");
    TCase *tc = tcase_create ("actor");
    tcase_set_timeout (tc, 30);
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_add_test (tc, test_actor_shm_and_qemu);
    tcase_add_test (tc, test_actor_shared_guest_port);
    tcase_add_test (tc, test_actor_backpressure);
    tcase_add_test (tc, test_actor_refuses_bad_config);
    tcase_add_test (tc, test_port_uri_vnet);
    suite_add_tcase (s, tc);
    return s;
}
