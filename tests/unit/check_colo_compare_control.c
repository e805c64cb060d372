/*  check_colo_compare_control.c - colo-compare driven by colo-control, in-process.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  A colo-control, a compare instance for VM vm1 on shm rings, and a test
 *  hypervisor adapter (an instance client of kind "adapter"): checkpoint
 *  requests reach the adapter, its checkpoint-done flushes compare, rules
 *  added at run time make compare let a port through, and failover
 *  releases everything.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "colo_compare_svc.h"
#include "colo_control.h"
#include "colo_ctlclient.h"
#include "colo_log.h"
#include "colo_packet.h"
#include "colo_ring.h"
#include "colo_test.h"

typedef struct {
    char dir[64];
    char pri[64], sec[64], out[64];
    colo_control_t *control;
    colo_compare_svc_t *cmp;
    colo_ctlclient_t *adapter;
    colo_port_t *p, *s, *o;
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

    snprintf (rig->pri, sizeof rig->pri, "shm:%s-p", name);
    snprintf (rig->sec, sizeof rig->sec, "shm:%s-s", name);
    snprintf (rig->out, sizeof rig->out, "shm:%s-o", name);
    colo_compare_svc_config_t cfg;
    colo_compare_svc_config_defaults (&cfg);
    cfg.id = "vm1-nic0";
    cfg.vm = "vm1";
    cfg.primary_in = rig->pri;
    cfg.secondary_in = rig->sec;
    cfg.outdev = rig->out;
    cfg.control = colo_control_api_endpoint (rig->control);
    cfg.expired_scan_cycle_ms = 50;
    rig->cmp = colo_compare_svc_start (&cfg);
    ck_assert_ptr_nonnull (rig->cmp);
    rig->adapter = colo_ctlclient_new (colo_control_api_endpoint (rig->control), "adapter",
                                       "xen-vm1", "vm1");
    ck_assert_ptr_nonnull (rig->adapter);
    colo_ctlclient_set_heartbeat (rig->adapter, 50);
    rig->p = colo_port_new (rig->pri, COLO_PORT_TX);
    rig->s = colo_port_new (rig->sec, COLO_PORT_TX);
    rig->o = colo_port_new (rig->out, COLO_PORT_RX);
    ck_assert_ptr_nonnull (rig->o);
}

static void
s_rig_stop (s_rig_t *rig)
{
    colo_port_destroy (&rig->p);
    colo_port_destroy (&rig->s);
    colo_port_destroy (&rig->o);
    colo_ctlclient_destroy (&rig->adapter);
    colo_compare_svc_stop (&rig->cmp);
    colo_control_stop (&rig->control);
    colo_ring_unlink (rig->pri + 4);
    colo_ring_unlink (rig->sec + 4);
    colo_ring_unlink (rig->out + 4);
    char cmd[128];
    snprintf (cmd, sizeof cmd, "rm -rf %s", rig->dir);
    ck_assert_int_eq (system (cmd), 0);
}

static colo_buf_t *
s_tcp (uint16_t port, uint32_t seq, const char *payload)
{
    colo_test_pkt_t spec;
    memset (&spec, 0, sizeof spec);
    spec.from_guest = 1;
    spec.proto = 6;
    spec.sport = port;
    spec.dport = 40000;
    spec.seq = seq;
    spec.ack = 5001;
    spec.flags = 0x10;
    spec.payload = payload;
    spec.len = strlen (payload);
    return colo_test_packet (&spec);
}

static void
s_send (colo_port_t *port, colo_buf_t *buf)
{
    ck_assert_int_eq (colo_test_send_all (port, &buf, 1, NULL, 0, 5000), 1);
}

static uint64_t
s_counter (s_rig_t *rig, const char *name)
{
    uint64_t values[COLO_COMPARE_ALL_COUNTERS];
    ck_assert_int_eq (colo_compare_svc_counters (rig->cmp, values), 0);
    for (int i = 0; i < COLO_COMPARE_ALL_COUNTERS; i++)
        if (strcmp (colo_compare_svc_counter_name (i), name) == 0)
            return values[i];
    ck_abort_msg ("no counter %s", name);
    return 0;
}

//  Wait (pumping the adapter) for an event of the given type.
static int
s_adapter_event (s_rig_t *rig, colo_ctl_event_type_t type, colo_ctl_event_t *ev, int ms)
{
    uint64_t deadline = colo_clock_mono_ms () + (uint64_t) ms;
    while (colo_clock_mono_ms () < deadline) {
        colo_ctlclient_process (rig->adapter, colo_clock_mono_ms ());
        while (colo_ctlclient_next_event (rig->adapter, ev))
            if (ev->type == type)
                return 1;
        struct pollfd pfd = {colo_ctlclient_fd (rig->adapter), POLLIN, 0};
        poll (&pfd, 1, 20);
    }
    return 0;
}

static void
s_event (s_rig_t *rig, colo_ctl_event_type_t type)
{
    colo_ctl_request_t req;
    colo_ctl_reply_t rep;
    memset (&req, 0, sizeof req);
    req.type = COLO_CTL_REQ_EVENT;
    req.event.type = type;
    snprintf (req.event.vm, sizeof req.event.vm, "vm1");
    snprintf (req.event.source, sizeof req.event.source, "test-adapter");
    char err[256];
    ck_assert_int_eq (colo_ctl_call (colo_control_api_endpoint (rig->control), &req, &rep,
                                     5000, err, sizeof err),
                      0);
    ck_assert_int_eq (rep.error, COLO_CTL_OK);
    colo_ctl_reply_clear (&rep);
}

static int
s_recv_out (s_rig_t *rig, int want, int ms)
{
    colo_buf_t *bufs[16];
    int got = colo_test_recv_frames (rig->o, bufs, want, NULL, 0, ms);
    colo_buf_destroy_array (bufs, got);
    return got;
}

//  Wait until compare reports a counter at least at value.
static int
s_wait_counter (s_rig_t *rig, const char *name, uint64_t value, int ms)
{
    uint64_t deadline = colo_clock_mono_ms () + (uint64_t) ms;
    while (colo_clock_mono_ms () < deadline) {
        if (s_counter (rig, name) >= value)
            return 1;
        colo_test_poll_ports (&rig->o, 1, 20);
    }
    return 0;
}

START_TEST (test_checkpoint_through_control)
{
    s_rig_t rig;
    s_rig_start (&rig);
    //  Let the adapter register before compare asks for anything.
    colo_ctl_event_t ev;
    s_adapter_event (&rig, COLO_CTL_EV_NONE, &ev, 300);
    s_send (rig.p, s_tcp (80, 1001, "the right answer"));
    s_send (rig.s, s_tcp (80, 1001, "the wrong answer"));
    //  The request reaches this VM's adapter, with the reason.
    ck_assert_int_eq (s_adapter_event (&rig, COLO_CTL_EV_CHECKPOINT_REQUEST, &ev, 5000), 1);
    ck_assert_str_eq (ev.vm, "vm1");
    ck_assert_str_eq (ev.reason, "mismatch_tcp");
    ck_assert_ptr_nonnull (strstr (ev.source, "vm1-nic0"));
    ck_assert_int_eq (s_recv_out (&rig, 1, 200), 0);   //  nothing leaked meanwhile
    //  The adapter says the checkpoint is done: compare flushes.
    s_event (&rig, COLO_CTL_EV_CHECKPOINT_DONE);
    ck_assert_int_eq (s_recv_out (&rig, 1, 5000), 1);
    ck_assert_uint_eq (s_counter (&rig, "checkpoints"), 1);
    s_rig_stop (&rig);
}
END_TEST

//  The value colo-control reports for a counter of the compare instance
//  (its status, sent with the heartbeats); -1 while it has none.
static int64_t
s_status_counter (s_rig_t *rig, const char *name)
{
    colo_ctl_request_t req;
    colo_ctl_reply_t rep;
    memset (&req, 0, sizeof req);
    req.type = COLO_CTL_REQ_STATUS;
    char err[256];
    if (colo_ctl_call (colo_control_api_endpoint (rig->control), &req, &rep, 5000, err,
                       sizeof err)
        != 0)
        return -1;
    int64_t value = -1;
    for (size_t i = 0; i < rep.n_instances; i++)
        if (strcmp (rep.instances[i].kind, "compare") == 0)
            for (size_t c = 0; c < rep.instances[i].n_counters; c++)
                if (strcmp (rep.instances[i].counters[c].name, name) == 0)
                    value = (int64_t) rep.instances[i].counters[c].value;
    colo_ctl_reply_clear (&rep);
    return value;
}

//  Wait (deadline ms) until colo-control reports counter name >= want.
static int
s_wait_status (s_rig_t *rig, const char *name, int64_t want, int ms)
{
    uint64_t deadline = colo_clock_mono_ms () + (uint64_t) ms;
    do {
        if (s_status_counter (rig, name) >= want)
            return 1;
        poll (NULL, 0, 20);
    } while (colo_clock_mono_ms () < deadline);
    return 0;
}

START_TEST (test_rules_and_failover_through_control)
{
    s_rig_t rig;
    s_rig_start (&rig);
    //  Port 3389's answers differ on every run; a rule lets them through.
    colo_ctl_request_t req;
    colo_ctl_reply_t rep;
    memset (&req, 0, sizeof req);
    req.type = COLO_CTL_REQ_RULE_ADD;
    colo_rule_init (&req.rule);
    snprintf (req.rule.vm, sizeof req.rule.vm, "vm1");
    req.rule.proto = 6;
    req.rule.has_dport = 1;
    req.rule.dport_lo = req.rule.dport_hi = 3389;
    char err[256];
    ck_assert_int_eq (colo_ctl_call (colo_control_api_endpoint (rig.control), &req, &rep,
                                     5000, err, sizeof err),
                      0);
    ck_assert_int_eq (rep.error, COLO_CTL_OK);
    uint64_t rule_id = rep.rule_id;
    colo_ctl_reply_clear (&rep);
    //  Compare learns the rule (clone pattern) within a deadline.
    int passed = 0;
    for (int i = 0; i < 200 && !passed; i++) {
        s_send (rig.p, s_tcp (3389, 1001 + 2 * (uint32_t) i, "ab"));
        passed = s_recv_out (&rig, 1, 50) == 1;
    }
    ck_assert (passed);
    ck_assert_uint_ge (s_counter (&rig, "released_bypass"), 1);
    //  Operators see the rule's hits and the ports' counters in colo-control.
    char rule_counter[32];
    snprintf (rule_counter, sizeof rule_counter, "rule.%llu", (unsigned long long) rule_id);
    ck_assert_int_eq (s_wait_status (&rig, rule_counter, 1, 5000), 1);
    ck_assert_int_eq (s_wait_status (&rig, "primary_in.rx_frames", 1, 5000), 1);
    ck_assert_int_eq (s_wait_status (&rig, "outdev.tx_frames", 1, 5000), 1);
    ck_assert_int_eq (s_status_counter (&rig, "secondary_in.rx_frames"), 0);
    //  Other ports are still compared: held without a secondary twin.
    s_send (rig.p, s_tcp (80, 1001, "held"));
    ck_assert_int_eq (s_recv_out (&rig, 1, 200), 0);
    //  Failover: the held frame goes, and later ones do not wait.
    s_event (&rig, COLO_CTL_EV_FAILOVER);
    ck_assert_int_eq (s_recv_out (&rig, 1, 5000), 1);
    s_send (rig.p, s_tcp (80, 1005, "free"));
    ck_assert_int_eq (s_recv_out (&rig, 1, 5000), 1);
    ck_assert_int_eq (s_wait_counter (&rig, "released_failover", 2, 5000), 1);
    s_rig_stop (&rig);
}
END_TEST

Suite *
colo_compare_control_suite (void)
{
    Suite *s = suite_create ("colo_compare_control");
    TCase *tc = tcase_create ("control");
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, test_checkpoint_through_control);
    tcase_add_test (tc, test_rules_and_failover_through_control);
    suite_add_tcase (s, tc);
    return s;
}
