/*  check_colo_mirror_control.c - colo-mirror driven by colo-control, in-process.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  A colo-control, a mirror instance for VM vm1 on shm rings, and a test
 *  hypervisor adapter (an instance client of kind "adapter"): an absent
 *  secondary makes the mirror diverge and the adapter receives its
 *  checkpoint request, once per episode; checkpoint-done from colo-control
 *  ends the episode; events for another VM do nothing; failover stops the
 *  copies until the next checkpoint; a request made while colo-control is
 *  down goes out once it is up.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "colo_control.h"
#include "colo_ctlclient.h"
#include "colo_log.h"
#include "colo_mirror.h"
#include "colo_ring.h"
#include "colo_test.h"

#define WAIT_MS 10000

typedef struct {
    char name[48];
    char dir[64];
    char api[96], events[96];     //  ipc endpoints (the "down" test), else ""
    char in[64], pri[64], sec[160];
    char sec_sock[96];
    colo_control_t *control;
    colo_mirror_t *mirror;
    colo_ctlclient_t *adapter;
    colo_port_t *in_tx, *pri_rx, *sec_rx;
    colo_port_t *all[3];
} s_rig_t;

static void
s_control_start (s_rig_t *rig)
{
    colo_control_config_t ccfg;
    colo_control_config_defaults (&ccfg);
    ccfg.api = rig->api[0] ? rig->api : "tcp://127.0.0.1:0";
    ccfg.events = rig->events[0] ? rig->events : "tcp://127.0.0.1:0";
    ccfg.store = rig->dir;
    ccfg.heartbeat_ms = 50;
    rig->control = colo_control_start (&ccfg);
    ck_assert_ptr_nonnull (rig->control);
}

//  How often the mirror repeats an unanswered request: the tests that count
//  requests per episode must not see a repeat however slow the machine.
static uint32_t s_repeat_ms = 600000;

//  secondary: 1 for a shm ring the test reads, 0 for a unix socket nobody
//  listens on.  ipc: colo-control on ipc endpoints, not started yet.
static void
s_rig_start (s_rig_t *rig, int secondary, int ipc)
{
    colo_log_set_level (getenv ("COLO_TEST_VERBOSE") ? COLO_LOG_DEBUG : COLO_LOG_ERROR);
    memset (rig, 0, sizeof *rig);
    colo_test_name (rig->name, sizeof rig->name);
    snprintf (rig->dir, sizeof rig->dir, "/tmp/%s-store", rig->name);
    ck_assert_int_eq (mkdir (rig->dir, 0700), 0);
    if (ipc) {
        snprintf (rig->api, sizeof rig->api, "ipc:///tmp/%s-api", rig->name);
        snprintf (rig->events, sizeof rig->events, "ipc:///tmp/%s-ev", rig->name);
    }
    else
        s_control_start (rig);
    snprintf (rig->in, sizeof rig->in, "shm:%s-in", rig->name);
    snprintf (rig->pri, sizeof rig->pri, "shm:%s-pri", rig->name);
    snprintf (rig->sec_sock, sizeof rig->sec_sock, "/tmp/%s-sec.sock", rig->name);
    if (secondary)
        snprintf (rig->sec, sizeof rig->sec, "shm:%s-sec", rig->name);
    else
        snprintf (rig->sec, sizeof rig->sec, "qemu+unix:%s,queue=4,backoff-max=50",
                  rig->sec_sock);
    colo_mirror_config_t cfg;
    colo_mirror_config_defaults (&cfg);
    cfg.id = "vm1-mirror";
    cfg.vm = "vm1";
    cfg.in = rig->in;
    cfg.to_primary = rig->pri;
    cfg.to_secondary = rig->sec;
    cfg.backlog = 8;
    cfg.request_repeat_ms = s_repeat_ms;
    cfg.control = ipc ? rig->api : colo_control_api_endpoint (rig->control);
    rig->mirror = colo_mirror_start (&cfg);
    ck_assert_ptr_nonnull (rig->mirror);
    rig->all[0] = rig->in_tx = colo_port_new (rig->in, COLO_PORT_TX);
    rig->all[1] = rig->pri_rx = colo_port_new (rig->pri, COLO_PORT_RX);
    ck_assert_ptr_nonnull (rig->in_tx);
    ck_assert_ptr_nonnull (rig->pri_rx);
    if (secondary) {
        rig->all[2] = rig->sec_rx = colo_port_new (rig->sec, COLO_PORT_RX);
        ck_assert_ptr_nonnull (rig->sec_rx);
    }
}

static void
s_adapter_start (s_rig_t *rig)
{
    rig->adapter = colo_ctlclient_new (colo_control_api_endpoint (rig->control), "adapter",
                                       "xen-vm1", "vm1");
    ck_assert_ptr_nonnull (rig->adapter);
    colo_ctlclient_set_heartbeat (rig->adapter, 50);
}

static void
s_rig_stop (s_rig_t *rig)
{
    for (int i = 0; i < 3; i++)
        colo_port_destroy (&rig->all[i]);
    colo_ctlclient_destroy (&rig->adapter);
    colo_mirror_stop (&rig->mirror);
    colo_control_stop (&rig->control);
    colo_ring_unlink (rig->in + 4);
    colo_ring_unlink (rig->pri + 4);
    if (strncmp (rig->sec, "shm:", 4) == 0)
        colo_ring_unlink (rig->sec + 4);
    unlink (rig->sec_sock);
    if (rig->api[0]) {
        unlink (rig->api + 6);
        unlink (rig->events + 6);
    }
    char cmd[128];
    snprintf (cmd, sizeof cmd, "rm -rf %s", rig->dir);
    ck_assert_int_eq (system (cmd), 0);
}

//  Wait for cond, pumping the adapter (if any) and the ports' housekeeping.
//  Events the adapter receives meanwhile go to *ev when of type want.
typedef struct {
    colo_ctl_event_type_t want;
    colo_ctl_event_t ev;
    int seen;
} s_events_t;

static int
s_until (s_rig_t *rig, int (*cond) (s_rig_t *, void *), void *arg, s_events_t *events)
{
    uint64_t deadline = colo_clock_mono_ms () + WAIT_MS;
    while (1) {
        if (rig->adapter) {
            colo_ctlclient_process (rig->adapter, colo_clock_mono_ms ());
            colo_ctl_event_t ev;
            while (colo_ctlclient_next_event (rig->adapter, &ev))
                if (events && ev.type == events->want) {
                    events->ev = ev;
                    events->seen++;
                }
        }
        for (int i = 0; i < 3; i++)
            if (rig->all[i])
                colo_port_recv (rig->all[i], NULL, 0);
        if (cond (rig, arg))
            return 1;
        uint64_t now = colo_clock_mono_ms ();
        if (now >= deadline)
            return 0;
        struct pollfd pfd[4];
        nfds_t n = 0;
        for (int i = 0; i < 3; i++)
            if (rig->all[i])
                pfd[n++] = (struct pollfd) {colo_port_fd (rig->all[i]), POLLIN, 0};
        if (rig->adapter)
            pfd[n++] = (struct pollfd) {colo_ctlclient_fd (rig->adapter), POLLIN, 0};
        poll (pfd, n, 20);
    }
}

static uint64_t
s_counter (s_rig_t *rig, int counter)
{
    uint64_t values[COLO_MIRROR_COUNTER_COUNT];
    colo_mirror_counters (rig->mirror, values);
    return values[counter];
}

typedef struct {
    int counter;
    uint64_t at_least;
} s_counter_want_t;

static int
s_counter_reached (s_rig_t *rig, void *arg)
{
    s_counter_want_t *w = (s_counter_want_t *) arg;
    return s_counter (rig, w->counter) >= w->at_least;
}

static void
s_wait_counter (s_rig_t *rig, int counter, uint64_t at_least)
{
    s_counter_want_t w = {counter, at_least};
    ck_assert_msg (s_until (rig, s_counter_reached, &w, NULL), "%s did not reach %llu",
                   colo_mirror_counter_names[counter], (unsigned long long) at_least);
}

static int
s_event_seen (s_rig_t *rig, void *arg)
{
    (void) rig;
    return ((s_events_t *) arg)->seen > 0;
}

static int
s_not_diverged (s_rig_t *rig, void *arg)
{
    (void) arg;
    return !colo_mirror_diverged (rig->mirror, NULL);
}

//  colo-control's status lists kind/instance of vm1 alive.
static int
s_registered (s_rig_t *rig, void *arg)
{
    const char *const *who = (const char *const *) arg;
    colo_ctl_request_t req;
    memset (&req, 0, sizeof req);
    req.type = COLO_CTL_REQ_STATUS;
    colo_ctl_reply_t rep;
    char err[256];
    if (colo_ctl_call (colo_control_api_endpoint (rig->control), &req, &rep, WAIT_MS, err,
                       sizeof err)
        != 0)
        return 0;
    int found = 0;
    for (size_t i = 0; i < rep.n_instances; i++)
        found |= strcmp (rep.instances[i].kind, who[0]) == 0
                 && strcmp (rep.instances[i].instance, who[1]) == 0
                 && strcmp (rep.instances[i].vm, "vm1") == 0 && rep.instances[i].alive;
    colo_ctl_reply_clear (&rep);
    return found;
}

static void
s_wait_registered (s_rig_t *rig, const char *kind, const char *instance)
{
    const char *who[2] = {kind, instance};
    ck_assert_msg (s_until (rig, s_registered, who, NULL), "%s/%s did not register", kind,
                   instance);
}

//  colo-control's per-VM counter `name` for vm1 (STATS), or -1.
static int64_t
s_vm_stat (s_rig_t *rig, const char *name)
{
    colo_ctl_request_t req;
    memset (&req, 0, sizeof req);
    req.type = COLO_CTL_REQ_STATS;
    req.has_vm = 1;
    snprintf (req.vm, sizeof req.vm, "vm1");
    colo_ctl_reply_t rep;
    char err[256];
    if (colo_ctl_call (colo_control_api_endpoint (rig->control), &req, &rep, WAIT_MS, err,
                       sizeof err)
        != 0)
        return -1;
    int64_t value = -1;
    for (size_t g = 0; g < rep.n_groups; g++)
        for (size_t c = 0; c < rep.groups[g].n_counters; c++)
            if (strcmp (rep.groups[g].counters[c].name, name) == 0)
                value = (int64_t) rep.groups[g].counters[c].value;
    colo_ctl_reply_clear (&rep);
    return value;
}

typedef struct {
    const char *name;
    int64_t at_least;
} s_stat_want_t;

static int
s_vm_stat_reached (s_rig_t *rig, void *arg)
{
    s_stat_want_t *w = (s_stat_want_t *) arg;
    return s_vm_stat (rig, w->name) >= w->at_least;
}

//  An event through colo-control; returns how many got it.
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

//  n frames through the mirror; the primary gets each of them.
static void
s_pass (s_rig_t *rig, uint32_t first, int n)
{
    for (int i = 0; i < n; i++) {
        colo_buf_t *buf = colo_test_frame (60 + (first + (uint32_t) i) % 100, first + (uint32_t) i);
        ck_assert_int_eq (colo_test_send_all (rig->in_tx, &buf, 1, rig->all, 3, WAIT_MS), 1);
    }
    for (int i = 0; i < n; i++) {
        colo_buf_t *out = NULL;
        ck_assert_int_eq (colo_test_recv_frames (rig->pri_rx, &out, 1, rig->all, 3, WAIT_MS), 1);
        colo_buf_t *want = colo_test_frame (60 + (first + (uint32_t) i) % 100, first + (uint32_t) i);
        ck_assert_uint_eq (out->len, want->len);
        ck_assert (memcmp (out->data, want->data, want->len) == 0);
        colo_buf_destroy (&out);
        colo_buf_destroy (&want);
    }
}

//  n frames must reach the secondary too.
static void
s_expect_secondary (s_rig_t *rig, uint32_t first, int n)
{
    for (int i = 0; i < n; i++) {
        colo_buf_t *out = NULL;
        ck_assert_int_eq (colo_test_recv_frames (rig->sec_rx, &out, 1, rig->all, 3, WAIT_MS), 1);
        colo_buf_t *want = colo_test_frame (60 + (first + (uint32_t) i) % 100, first + (uint32_t) i);
        ck_assert (out->len == want->len && memcmp (out->data, want->data, want->len) == 0);
        colo_buf_destroy (&out);
        colo_buf_destroy (&want);
    }
}

START_TEST (test_divergence_reaches_adapter)
{
    s_rig_t rig;
    s_rig_start (&rig, 0, 0);
    s_adapter_start (&rig);
    s_wait_registered (&rig, "adapter", "xen-vm1");
    s_wait_registered (&rig, "mirror", "vm1-mirror");
    //  The secondary is absent: after queue + backlog, copies overflow.
    s_pass (&rig, 0, 40);
    s_events_t events = {COLO_CTL_EV_CHECKPOINT_REQUEST, {0}, 0};
    ck_assert (s_until (&rig, s_event_seen, &events, &events));
    ck_assert_str_eq (events.ev.vm, "vm1");
    ck_assert_str_eq (events.ev.reason, "overflow");
    ck_assert_ptr_nonnull (strstr (events.ev.source, "mirror/vm1-mirror"));
    const char *reason = NULL;
    ck_assert_int_eq (colo_mirror_diverged (rig.mirror, &reason), 1);
    ck_assert_str_eq (reason, "overflow");
    s_wait_counter (&rig, COLO_MIRROR_IN_FRAMES, 40);
    ck_assert_uint_eq (s_counter (&rig, COLO_MIRROR_SECONDARY_OVERFLOW), 40 - 12);
    //  One request for the whole episode, however many copies overflowed.
    ck_assert_uint_eq (s_counter (&rig, COLO_MIRROR_CHECKPOINT_REQUESTS), 1);
    ck_assert_uint_eq (s_counter (&rig, COLO_MIRROR_DIVERGENCES), 1);

    //  Another VM's checkpoint reaches nobody; ours reaches the mirror.
    ck_assert_uint_eq (s_event (&rig, COLO_CTL_EV_CHECKPOINT_DONE, "vm2"), 0);
    ck_assert_uint_eq (s_event (&rig, COLO_CTL_EV_CHECKPOINT_DONE, "vm1"), 1);
    ck_assert (s_until (&rig, s_not_diverged, NULL, NULL));
    ck_assert_uint_eq (s_counter (&rig, COLO_MIRROR_CHECKPOINTS), 1);
    ck_assert_uint_eq (s_counter (&rig, COLO_MIRROR_FAILOVERS), 0);

    //  The secondary is still away: the next overflow is a new episode and
    //  a new request.
    events.seen = 0;
    s_pass (&rig, 100, 5);
    ck_assert (s_until (&rig, s_event_seen, &events, &events));
    ck_assert_str_eq (events.ev.reason, "overflow");
    ck_assert_uint_eq (s_counter (&rig, COLO_MIRROR_CHECKPOINT_REQUESTS), 2);
    ck_assert_uint_eq (s_counter (&rig, COLO_MIRROR_DIVERGENCES), 2);
    ck_assert_uint_eq (s_counter (&rig, COLO_MIRROR_CHECKPOINT_UNSENT), 0);
    //  colo-control saw two requests for vm1, both delivered to the adapter.
    ck_assert_int_eq (s_vm_stat (&rig, "checkpoint_request"), 2);
    ck_assert_int_eq (s_vm_stat (&rig, "checkpoint_request_delivered"), 2);
    //  The mirror's counters arrive with its heartbeats, its ports' too.
    s_stat_want_t w = {"mirror.divergences", 2};
    ck_assert (s_until (&rig, s_vm_stat_reached, &w, NULL));
    s_stat_want_t in = {"mirror.in.rx_frames", 45};
    ck_assert (s_until (&rig, s_vm_stat_reached, &in, NULL));
    s_stat_want_t pri = {"mirror.to_primary.tx_frames", 45};
    ck_assert (s_until (&rig, s_vm_stat_reached, &pri, NULL));
    s_rig_stop (&rig);
}
END_TEST

START_TEST (test_failover_stops_copies)
{
    s_rig_t rig;
    s_rig_start (&rig, 1, 0);
    s_wait_registered (&rig, "mirror", "vm1-mirror");
    s_pass (&rig, 0, 5);
    s_expect_secondary (&rig, 0, 5);
    ck_assert_uint_eq (s_event (&rig, COLO_CTL_EV_FAILOVER, "vm2"), 0);
    ck_assert_uint_eq (s_event (&rig, COLO_CTL_EV_FAILOVER, "vm1"), 1);
    s_wait_counter (&rig, COLO_MIRROR_FAILOVERS, 1);
    //  The primary still gets everything; the secondary nothing.
    s_pass (&rig, 10, 5);
    s_wait_counter (&rig, COLO_MIRROR_IN_FRAMES, 10);
    ck_assert_uint_eq (s_counter (&rig, COLO_MIRROR_SECONDARY_SKIPPED), 5);
    ck_assert_uint_eq (s_counter (&rig, COLO_MIRROR_SECONDARY_FRAMES), 5);
    ck_assert_uint_eq (s_counter (&rig, COLO_MIRROR_FAILOVERS), 1);
    ck_assert_int_eq (colo_mirror_diverged (rig.mirror, NULL), 0);
    //  Replication resumed: the next checkpoint makes it mirror again.
    ck_assert_uint_eq (s_event (&rig, COLO_CTL_EV_CHECKPOINT_DONE, "vm1"), 1);
    s_wait_counter (&rig, COLO_MIRROR_CHECKPOINTS, 1);
    s_pass (&rig, 20, 3);
    s_expect_secondary (&rig, 20, 3);
    ck_assert_uint_eq (s_counter (&rig, COLO_MIRROR_SECONDARY_SKIPPED), 5);
    ck_assert_uint_eq (s_counter (&rig, COLO_MIRROR_CHECKPOINT_REQUESTS), 0);
    s_rig_stop (&rig);
}
END_TEST

START_TEST (test_request_waits_for_control)
{
    s_rig_t rig;
    s_rig_start (&rig, 0, 1);
    //  colo-control is not there: the request cannot go out.
    s_pass (&rig, 0, 40);
    s_wait_counter (&rig, COLO_MIRROR_CHECKPOINT_UNSENT, 1);
    ck_assert_uint_eq (s_counter (&rig, COLO_MIRROR_CHECKPOINT_REQUESTS), 0);
    ck_assert_int_eq (colo_mirror_diverged (rig.mirror, NULL), 1);
    //  It comes up: the request is repeated and arrives, once.
    s_control_start (&rig);
    s_stat_want_t w = {"checkpoint_request", 1};
    ck_assert (s_until (&rig, s_vm_stat_reached, &w, NULL));
    s_wait_counter (&rig, COLO_MIRROR_CHECKPOINT_REQUESTS, 1);
    s_wait_registered (&rig, "mirror", "vm1-mirror");
    ck_assert_uint_eq (s_event (&rig, COLO_CTL_EV_CHECKPOINT_DONE, "vm1"), 1);
    ck_assert (s_until (&rig, s_not_diverged, NULL, NULL));
    ck_assert_int_eq (s_vm_stat (&rig, "checkpoint_request"), 1);
    ck_assert_uint_eq (s_counter (&rig, COLO_MIRROR_CHECKPOINT_REQUESTS), 1);
    s_rig_stop (&rig);
}
END_TEST

//  A request colo-control could deliver to no adapter (none registered) is
//  repeated while the episode lasts, so the adapter that registers later
//  still gets it; the checkpoint ends the episode.
START_TEST (test_request_repeated_until_answered)
{
    s_repeat_ms = 100;
    s_rig_t rig;
    s_rig_start (&rig, 0, 0);
    s_wait_registered (&rig, "mirror", "vm1-mirror");
    s_pass (&rig, 0, 40);
    //  Delivered to nobody, then asked again.
    s_stat_want_t w = {"checkpoint_request", 3};
    ck_assert (s_until (&rig, s_vm_stat_reached, &w, NULL));
    ck_assert_int_eq (s_vm_stat (&rig, "checkpoint_request_delivered"), 0);
    ck_assert_uint_eq (s_counter (&rig, COLO_MIRROR_DIVERGENCES), 1);
    //  The adapter comes: a repeat reaches it.
    s_adapter_start (&rig);
    s_events_t events = {COLO_CTL_EV_CHECKPOINT_REQUEST, {0}, 0};
    ck_assert (s_until (&rig, s_event_seen, &events, &events));
    ck_assert_str_eq (events.ev.vm, "vm1");
    ck_assert_str_eq (events.ev.reason, "overflow");
    ck_assert_ptr_nonnull (strstr (events.ev.source, "mirror/vm1-mirror"));
    ck_assert_uint_eq (s_event (&rig, COLO_CTL_EV_CHECKPOINT_DONE, "vm1"), 1);
    ck_assert (s_until (&rig, s_not_diverged, NULL, NULL));
    //  Still one episode; the requests were its repeats.
    ck_assert_uint_eq (s_counter (&rig, COLO_MIRROR_DIVERGENCES), 1);
    ck_assert_uint_ge (s_counter (&rig, COLO_MIRROR_CHECKPOINT_REQUESTS), 3);
    s_rig_stop (&rig);
}
END_TEST

START_TEST (test_control_config)
{
    colo_log_set_level (getenv ("COLO_TEST_VERBOSE") ? COLO_LOG_DEBUG : COLO_LOG_ERROR);
    colo_mirror_config_t cfg;
    colo_mirror_config_defaults (&cfg);
    cfg.in = "shm:a";
    cfg.to_secondary = "shm:b";
    char err[256];
    cfg.control = "udp://127.0.0.1:1";
    ck_assert_int_eq (colo_mirror_config_check (&cfg, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "control: "));
    cfg.control = "tcp://127.0.0.1:1";
    ck_assert_int_eq (colo_mirror_config_check (&cfg, err, sizeof err), 0);
    cfg.id = "vm1 mirror";
    ck_assert_int_eq (colo_mirror_config_check (&cfg, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "id 'vm1 mirror'"));
    cfg.id = "vm1-mirror";
    cfg.vm = "vm/1";
    ck_assert_int_eq (colo_mirror_config_check (&cfg, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "vm 'vm/1'"));
    cfg.vm = "vm1";
    ck_assert_int_eq (colo_mirror_config_check (&cfg, err, sizeof err), 0);
    //  Unreadable keys: the client cannot be made; the start fails cleanly.
    char name[48], in[64], sec[64];
    colo_test_name (name, sizeof name);
    snprintf (in, sizeof in, "shm:%s-in", name);
    snprintf (sec, sizeof sec, "shm:%s-sec", name);
    cfg.in = in;
    cfg.to_secondary = sec;
    cfg.control = "tcp://127.0.0.1:1,curve-server=/nonexistent/server.cert,"
                  "curve-secret=/nonexistent/client.cert";
    ck_assert_ptr_null (colo_mirror_start (&cfg));
    colo_ring_unlink (in + 4);
    colo_ring_unlink (sec + 4);
}
END_TEST

Suite *
colo_mirror_control_suite (void)
{
    Suite *s = suite_create ("colo_mirror_control");
    TCase *tc = tcase_create ("control");
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, test_divergence_reaches_adapter);
    tcase_add_test (tc, test_failover_stops_copies);
    tcase_add_test (tc, test_request_waits_for_control);
    tcase_add_test (tc, test_request_repeated_until_answered);
    tcase_add_test (tc, test_control_config);
    suite_add_tcase (s, tc);
    return s;
}
