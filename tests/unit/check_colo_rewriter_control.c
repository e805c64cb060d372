/*  check_colo_rewriter_control.c - colo-rewriter driven by colo-control, in-process.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  A colo-control and a rewriter instance for VM vm1 on shm rings: a
 *  checkpoint-done sent to colo-control zeroes the offsets of a learned
 *  connection, a failover stops tracking new connections, events for
 *  another VM reach nobody, the counters show in colo-control's status,
 *  and a control URI that cannot be used fails the start.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "colo_control.h"
#include "colo_csum.h"
#include "colo_ctlclient.h"
#include "colo_log.h"
#include "colo_packet.h"
#include "colo_rewriter_actor.h"
#include "colo_ring.h"
#include "colo_test.h"

#define GUEST_PORT 80
#define CLIENT_PORT 40000
#define ISN_C 5000u
#define ISN_P 1000000u
#define ISN_S 7777777u
#define WAIT_MS 5000

static const char s_payload[1460] = "colonet rewriter control test";

typedef struct {
    char dir[64];
    char shm[4][64];
    char uri[4][80];
    colo_control_t *control;
    colo_rewriter_actor_t *actor;
    colo_port_t *mirror, *guest_rx, *guest_tx, *compare;
    colo_port_t *all[4];
} s_rig_t;

static void
s_rig_start (s_rig_t *rig)
{
    colo_log_set_level (getenv ("COLO_TEST_VERBOSE") ? COLO_LOG_DEBUG : COLO_LOG_ERROR);
    memset (rig, 0, sizeof *rig);
    char name[48];
    colo_test_name (name, sizeof name);
    snprintf (rig->dir, sizeof rig->dir, "/tmp/%s-store", name);
    ck_assert_int_eq (mkdir (rig->dir, 0700), 0);
    colo_control_config_t ccfg;
    colo_control_config_defaults (&ccfg);
    ccfg.api = "tcp://127.0.0.1:0";
    ccfg.events = "tcp://127.0.0.1:0";
    ccfg.store = rig->dir;
    ccfg.heartbeat_ms = 50;
    rig->control = colo_control_start (&ccfg);
    ck_assert_ptr_nonnull (rig->control);

    for (int i = 0; i < 4; i++) {
        snprintf (rig->shm[i], sizeof rig->shm[i], "%s-%d", name, i);
        snprintf (rig->uri[i], sizeof rig->uri[i], "shm:%s", rig->shm[i]);
    }
    colo_rewriter_actor_config_t cfg;
    colo_rewriter_actor_config_defaults (&cfg);
    cfg.id = "vm1-nic0";
    cfg.vm = "vm1";
    cfg.from_mirror = rig->uri[0];
    cfg.to_guest = rig->uri[1];
    cfg.from_guest = rig->uri[2];
    cfg.to_compare = rig->uri[3];
    cfg.control = colo_control_api_endpoint (rig->control);
    rig->actor = colo_rewriter_actor_start (&cfg);
    ck_assert_ptr_nonnull (rig->actor);
    rig->all[0] = rig->mirror = colo_port_new (rig->uri[0], COLO_PORT_TX);
    rig->all[1] = rig->guest_rx = colo_port_new (rig->uri[1], COLO_PORT_RX);
    rig->all[2] = rig->guest_tx = colo_port_new (rig->uri[2], COLO_PORT_TX);
    rig->all[3] = rig->compare = colo_port_new (rig->uri[3], COLO_PORT_RX);
    for (int i = 0; i < 4; i++)
        ck_assert_ptr_nonnull (rig->all[i]);
}

static void
s_rig_stop (s_rig_t *rig)
{
    for (int i = 0; i < 4; i++)
        colo_port_destroy (&rig->all[i]);
    colo_rewriter_actor_stop (&rig->actor);
    colo_control_stop (&rig->control);
    for (int i = 0; i < 4; i++)
        colo_ring_unlink (rig->shm[i]);
    char cmd[128];
    snprintf (cmd, sizeof cmd, "rm -rf %s", rig->dir);
    ck_assert_int_eq (system (cmd), 0);
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

//  Send a frame in; it must come out of `to` with this seq and ack (and
//  valid checksums).
static void
s_through (s_rig_t *rig, colo_port_t *from, colo_port_t *to, colo_buf_t *in, uint32_t seq,
           uint32_t ack)
{
    ck_assert_int_eq (colo_test_send_all (from, &in, 1, rig->all, 4, WAIT_MS), 1);
    colo_buf_t *out = NULL;
    ck_assert_int_eq (colo_test_recv_frames (to, &out, 1, rig->all, 4, WAIT_MS), 1);
    colo_packet_t pkt;
    ck_assert_int_eq (colo_packet_decode (&pkt, colo_buf_frame (out), colo_buf_frame_len (out),
                                          NULL),
                      COLO_PKT_OK);
    ck_assert_int_eq (colo_csum_l4_verify (&pkt, colo_buf_frame (out)), 1);
    ck_assert_uint_eq (pkt.tcp_seq, seq);
    ck_assert_uint_eq (pkt.tcp_ack, ack);
    colo_buf_destroy (&out);
}

//  The accept handshake: the offset ISN_S - ISN_P is learned.
static void
s_learn (s_rig_t *rig)
{
    s_through (rig, rig->mirror, rig->guest_rx,
               s_tcp (0, CLIENT_PORT, COLO_TCP_SYN, ISN_C, 0, 0), ISN_C, 0);
    s_through (rig, rig->guest_tx, rig->compare,
               s_tcp (1, CLIENT_PORT, COLO_TCP_SYN | COLO_TCP_ACK, ISN_S, ISN_C + 1, 0), ISN_S,
               ISN_C + 1);
    s_through (rig, rig->mirror, rig->guest_rx,
               s_tcp (0, CLIENT_PORT, COLO_TCP_ACK, ISN_C + 1, ISN_P + 1, 0), ISN_C + 1,
               ISN_S + 1);
}

typedef struct {
    s_rig_t *rig;
    int counter;              //  COLO_RW_...
    uint64_t at_least;
} s_stat_wait_t;

static int
s_stat_reached (void *arg)
{
    s_stat_wait_t *w = (s_stat_wait_t *) arg;
    colo_rewriter_stats_t st;
    colo_rewriter_actor_stats (w->rig->actor, &st);
    return st.engine[w->counter] >= w->at_least;
}

static void
s_wait_stat (s_rig_t *rig, int counter, uint64_t at_least)
{
    s_stat_wait_t w = {rig, counter, at_least};
    ck_assert_msg (colo_test_wait (s_stat_reached, &w, rig->all, 4, WAIT_MS),
                   "%s did not reach %llu", colo_rewriter_counter_names[counter],
                   (unsigned long long) at_least);
}

static uint64_t
s_stat (s_rig_t *rig, int counter)
{
    colo_rewriter_stats_t st;
    colo_rewriter_actor_stats (rig->actor, &st);
    return st.engine[counter];
}

//  colo-control's status shows our instance alive with counter `name` at
//  least at `value` (name NULL: just registered).
typedef struct {
    s_rig_t *rig;
    const char *name;
    uint64_t value;
} s_status_want_t;

static int
s_status_shows (void *arg)
{
    s_status_want_t *w = (s_status_want_t *) arg;
    colo_ctl_request_t req;
    memset (&req, 0, sizeof req);
    req.type = COLO_CTL_REQ_STATUS;
    colo_ctl_reply_t rep;
    char err[256];
    if (colo_ctl_call (colo_control_api_endpoint (w->rig->control), &req, &rep, WAIT_MS, err,
                       sizeof err)
        != 0)
        return 0;
    int found = 0;
    for (size_t i = 0; i < rep.n_instances; i++) {
        const colo_ctl_instance_t *in = &rep.instances[i];
        if (strcmp (in->kind, "rewriter") != 0 || strcmp (in->instance, "vm1-nic0") != 0
            || strcmp (in->vm, "vm1") != 0 || !in->alive)
            continue;
        if (!w->name)
            found = 1;
        for (size_t c = 0; w->name && c < in->n_counters; c++)
            if (strcmp (in->counters[c].name, w->name) == 0 && in->counters[c].value >= w->value)
                found = 1;
    }
    colo_ctl_reply_clear (&rep);
    return found;
}

static void
s_wait_registered (s_rig_t *rig)
{
    s_status_want_t w = {rig, NULL, 0};
    ck_assert (colo_test_wait (s_status_shows, &w, rig->all, 4, WAIT_MS));
}

//  An event for vm through colo-control; returns how many got it.
static uint32_t
s_event (s_rig_t *rig, colo_ctl_event_type_t type, const char *vm)
{
    colo_ctl_request_t req;
    colo_ctl_reply_t rep;
    memset (&req, 0, sizeof req);
    req.type = COLO_CTL_REQ_EVENT;
    req.event.type = type;
    snprintf (req.event.vm, sizeof req.event.vm, "%s", vm);
    snprintf (req.event.source, sizeof req.event.source, "test-adapter");
    char err[256];
    ck_assert_int_eq (colo_ctl_call (colo_control_api_endpoint (rig->control), &req, &rep,
                                     WAIT_MS, err, sizeof err),
                      0);
    ck_assert_int_eq (rep.error, COLO_CTL_OK);
    uint32_t delivered = rep.delivered;
    colo_ctl_reply_clear (&rep);
    return delivered;
}

START_TEST (test_checkpoint_done_through_control)
{
    s_rig_t rig;
    s_rig_start (&rig);
    s_learn (&rig);
    //  Learned: the guest's seq is moved into the primary's space.
    s_through (&rig, rig.guest_tx, rig.compare,
               s_tcp (1, CLIENT_PORT, COLO_TCP_ACK | COLO_TCP_PSH, ISN_S + 1, ISN_C + 1, 1460),
               ISN_P + 1, ISN_C + 1);
    s_wait_registered (&rig);
    //  Another VM's checkpoint reaches nobody here.
    ck_assert_uint_eq (s_event (&rig, COLO_CTL_EV_CHECKPOINT_DONE, "vm2"), 0);
    ck_assert_uint_eq (s_event (&rig, COLO_CTL_EV_CHECKPOINT_DONE, "vm1"), 1);
    s_wait_stat (&rig, COLO_RW_CHECKPOINTS, 1);
    //  Offsets are zero now: both directions pass untranslated.
    s_through (&rig, rig.guest_tx, rig.compare,
               s_tcp (1, CLIENT_PORT, COLO_TCP_ACK, ISN_P + 1461, ISN_C + 1, 10), ISN_P + 1461,
               ISN_C + 1);
    s_through (&rig, rig.mirror, rig.guest_rx,
               s_tcp (0, CLIENT_PORT, COLO_TCP_ACK, ISN_C + 1, ISN_P + 1471, 0), ISN_C + 1,
               ISN_P + 1471);
    //  Events come in order: the vm2 one was not applied.
    ck_assert_uint_eq (s_stat (&rig, COLO_RW_CHECKPOINTS), 1);
    ck_assert_uint_eq (s_stat (&rig, COLO_RW_FAILOVERS), 0);
    //  The counters reach colo-control with the heartbeats.
    s_status_want_t w = {&rig, "checkpoints", 1};
    ck_assert (colo_test_wait (s_status_shows, &w, rig.all, 4, WAIT_MS));
    w.name = "to_compare_frames";
    w.value = 3;
    ck_assert (colo_test_wait (s_status_shows, &w, rig.all, 4, WAIT_MS));
    //  Its ports' counters too, named by the option that opened them.
    w.name = "from_mirror.rx_frames";
    w.value = 2;
    ck_assert (colo_test_wait (s_status_shows, &w, rig.all, 4, WAIT_MS));
    w.name = "to_compare.tx_frames";
    w.value = 3;
    ck_assert (colo_test_wait (s_status_shows, &w, rig.all, 4, WAIT_MS));
    //  The cross-thread call still works alongside.
    ck_assert_int_eq (colo_rewriter_actor_checkpoint_done (rig.actor), 0);
    ck_assert_uint_eq (s_stat (&rig, COLO_RW_CHECKPOINTS), 2);
    s_rig_stop (&rig);
}
END_TEST

START_TEST (test_failover_through_control)
{
    s_rig_t rig;
    s_rig_start (&rig);
    s_learn (&rig);
    s_wait_registered (&rig);
    ck_assert_uint_eq (s_event (&rig, COLO_CTL_EV_FAILOVER, "vm2"), 0);
    ck_assert_uint_eq (s_event (&rig, COLO_CTL_EV_FAILOVER, "vm1"), 1);
    s_wait_stat (&rig, COLO_RW_FAILOVERS, 1);
    ck_assert_uint_eq (s_stat (&rig, COLO_RW_FAILOVERS), 1);
    //  A new connection is neither tracked nor rewritten.
    s_through (&rig, rig.mirror, rig.guest_rx, s_tcp (0, 41000, COLO_TCP_SYN, 9, 0, 0), 9, 0);
    s_through (&rig, rig.guest_tx, rig.compare,
               s_tcp (1, 41000, COLO_TCP_SYN | COLO_TCP_ACK, 123, 10, 0), 123, 10);
    s_wait_stat (&rig, COLO_RW_AFTER_FAILOVER, 1);
    colo_rewriter_stats_t st;
    colo_rewriter_actor_stats (rig.actor, &st);
    ck_assert_uint_eq (st.connections, 1);
    //  The connection learned before keeps its offset.
    s_through (&rig, rig.guest_tx, rig.compare,
               s_tcp (1, CLIENT_PORT, COLO_TCP_ACK, ISN_S + 1, ISN_C + 1, 10), ISN_P + 1,
               ISN_C + 1);
    s_rig_stop (&rig);
}
END_TEST

START_TEST (test_control_config)
{
    colo_log_set_level (getenv ("COLO_TEST_VERBOSE") ? COLO_LOG_DEBUG : COLO_LOG_ERROR);
    char name[48], shm[4][64];
    colo_test_name (name, sizeof name);
    for (int i = 0; i < 4; i++)
        snprintf (shm[i], sizeof shm[i], "shm:%s-%d", name, i);
    colo_rewriter_actor_config_t cfg;
    colo_rewriter_actor_config_defaults (&cfg);
    cfg.from_mirror = shm[0];
    cfg.to_guest = shm[1];
    cfg.from_guest = shm[2];
    cfg.to_compare = shm[3];
    const char *key = NULL;
    char err[256];
    cfg.control = "udp://127.0.0.1:1";
    ck_assert_int_eq (colo_rewriter_actor_check (&cfg, &key, err, sizeof err), -1);
    ck_assert_str_eq (key, "control");
    ck_assert_ptr_nonnull (strstr (err, "tcp://HOST:PORT"));
    cfg.control = "tcp://127.0.0.1:1,curve-server=x";
    ck_assert_int_eq (colo_rewriter_actor_check (&cfg, &key, err, sizeof err), -1);
    ck_assert_str_eq (key, "control");
    cfg.control = "tcp://127.0.0.1:1";
    ck_assert_int_eq (colo_rewriter_actor_check (&cfg, &key, err, sizeof err), 0);
    cfg.id = "vm1 nic0";
    ck_assert_int_eq (colo_rewriter_actor_check (&cfg, &key, err, sizeof err), -1);
    ck_assert_str_eq (key, "id");
    cfg.id = "vm1-nic0";
    cfg.vm = "";
    ck_assert_int_eq (colo_rewriter_actor_check (&cfg, &key, err, sizeof err), -1);
    ck_assert_str_eq (key, "vm");
    cfg.vm = "vm1";
    ck_assert_int_eq (colo_rewriter_actor_check (&cfg, &key, err, sizeof err), 0);
    //  Without control the id is only a log name.
    cfg.control = NULL;
    cfg.id = "vm1 nic0";
    ck_assert_int_eq (colo_rewriter_actor_check (&cfg, &key, err, sizeof err), 0);
    //  Keys that cannot be read: the client cannot be made, the start fails
    //  cleanly (ports closed again).
    cfg.id = "vm1-nic0";
    cfg.control = "tcp://127.0.0.1:1,curve-server=/nonexistent/server.cert,"
                  "curve-secret=/nonexistent/client.cert";
    ck_assert_int_eq (colo_rewriter_actor_check (&cfg, &key, err, sizeof err), 0);
    ck_assert_ptr_null (colo_rewriter_actor_start (&cfg));
    //  The rings were released: the same names open again.
    cfg.control = NULL;
    colo_rewriter_actor_t *actor = colo_rewriter_actor_start (&cfg);
    ck_assert_ptr_nonnull (actor);
    colo_rewriter_actor_stop (&actor);
    for (int i = 0; i < 4; i++)
        colo_ring_unlink (shm[i] + 4);
}
END_TEST

Suite *
colo_rewriter_control_suite (void)
{
    Suite *s = suite_create ("colo_rewriter_control");
    TCase *tc = tcase_create ("control");
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, test_checkpoint_done_through_control);
    tcase_add_test (tc, test_failover_through_control);
    tcase_add_test (tc, test_control_config);
    suite_add_tcase (s, tc);
    return s;
}
