/*  check_colo_ctlclient.c - instances and colo-control in process: rules, gaps, events, restarts.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  colo-control runs as an actor on ephemeral TCP ports; clients are used
 *  as a compare instance uses them (fd, process, rules, events).  Every
 *  wait is for a condition, blocking in poll on the clients' fds, with a
 *  deadline.
 */
#include <dirent.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <czmq.h>

#include "colo_control.h"
#include "colo_ctlclient.h"
#include "colo_log.h"
#include "colo_packet.h"
#include "colo_test.h"

#define S_WAIT_MS 10000

typedef struct {
    colo_ctlclient_t *c[8];
    int n;
} s_fleet_t;

//  Process every client until cond holds or S_WAIT_MS pass; 1 if it held.
static int
s_until (s_fleet_t *f, int (*cond) (void *), void *arg)
{
    uint64_t deadline = colo_clock_mono_ms () + S_WAIT_MS;
    while (1) {
        for (int i = 0; i < f->n; i++)
            if (f->c[i])
                colo_ctlclient_process (f->c[i], colo_clock_mono_ms ());
        if (cond (arg))
            return 1;
        uint64_t now = colo_clock_mono_ms ();
        if (now >= deadline)
            return 0;
        struct pollfd pfd[8];
        int n = 0;
        for (int i = 0; i < f->n; i++)
            if (f->c[i]) {
                pfd[n].fd = colo_ctlclient_fd (f->c[i]);
                pfd[n].events = POLLIN;
                n++;
            }
        poll (pfd, (nfds_t) n, (int) (deadline - now < 100 ? deadline - now : 100));
    }
}

typedef struct {
    colo_ctlclient_t *c;
    uint64_t version;
    size_t count;
} s_want_t;

static int
s_has_version (void *arg)
{
    s_want_t *w = (s_want_t *) arg;
    const colo_ruleset_t *rs = colo_ctlclient_rules (w->c);
    return rs && colo_ruleset_version (rs) == w->version && colo_ruleset_count (rs) == w->count;
}

static void
s_wait_rules (s_fleet_t *f, colo_ctlclient_t *c, uint64_t version, size_t count)
{
    s_want_t w = {c, version, count};
    ck_assert_msg (s_until (f, s_has_version, &w), "client never had version %llu with %zu rules "
                   "(has %llu, %zu)",
                   (unsigned long long) version, count,
                   (unsigned long long) colo_ruleset_version (colo_ctlclient_rules (c)),
                   colo_ruleset_count (colo_ctlclient_rules (c)));
}

static char *
s_tmpdir (char *buf, size_t cap)
{
    char name[64];
    snprintf (buf, cap, "/tmp/%s-cli", colo_test_name (name, sizeof name));
    return buf;
}

static void
s_rmdir (const char *dir)
{
    DIR *d = opendir (dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir (d)))
            if (strcmp (e->d_name, ".") != 0 && strcmp (e->d_name, "..") != 0) {
                char path[512];
                snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
                struct stat st;
                if (lstat (path, &st) == 0 && S_ISDIR (st.st_mode))
                    s_rmdir (path);
                else
                    unlink (path);
            }
        closedir (d);
    }
    rmdir (dir);
}

static colo_control_t *
s_start (const char *dir, const char *api, const char *events)
{
    colo_control_config_t cfg;
    colo_control_config_defaults (&cfg);
    cfg.api = api ? api : "tcp://127.0.0.1:0";
    cfg.events = events ? events : "tcp://127.0.0.1:0";
    cfg.store = dir;
    cfg.heartbeat_ms = 100;
    colo_control_t *ctl = colo_control_start (&cfg);
    ck_assert_ptr_nonnull (ctl);
    return ctl;
}

static colo_ctlclient_t *
s_client (colo_control_t *ctl, const char *kind, const char *name, const char *vm)
{
    colo_ctlclient_t *c = colo_ctlclient_new (colo_control_api_endpoint (ctl), kind, name, vm);
    ck_assert_ptr_nonnull (c);
    colo_ctlclient_set_heartbeat (c, 100);
    return c;
}

static uint64_t
s_request (colo_control_t *ctl, colo_ctl_request_t *req, colo_ctl_reply_t *rep)
{
    char err[256];
    ck_assert_msg (colo_ctl_call (colo_control_api_endpoint (ctl), req, rep, 5000, err,
                                  sizeof err)
                       == 0,
                   "%s", err);
    ck_assert_msg (rep->error == COLO_CTL_OK, "%s", rep->message);
    return rep->rule_id;
}

static uint64_t
s_add_port (colo_control_t *ctl, const char *vm, uint16_t dport)
{
    colo_ctl_request_t req;
    memset (&req, 0, sizeof req);
    req.type = COLO_CTL_REQ_RULE_ADD;
    colo_rule_init (&req.rule);
    req.rule.proto = 6;
    req.rule.has_dport = 1;
    req.rule.dport_lo = req.rule.dport_hi = dport;
    if (vm)
        snprintf (req.rule.vm, sizeof req.rule.vm, "%s", vm);
    colo_ctl_reply_t rep;
    uint64_t id = s_request (ctl, &req, &rep);
    colo_ctl_reply_clear (&rep);
    return id;
}

static void
s_del (colo_control_t *ctl, uint64_t id)
{
    colo_ctl_request_t req;
    memset (&req, 0, sizeof req);
    req.type = COLO_CTL_REQ_RULE_DEL;
    req.rule_id = id;
    colo_ctl_reply_t rep;
    s_request (ctl, &req, &rep);
    colo_ctl_reply_clear (&rep);
}

static uint32_t
s_event (colo_control_t *ctl, colo_ctl_event_type_t type, const char *vm)
{
    colo_ctl_request_t req;
    memset (&req, 0, sizeof req);
    req.type = COLO_CTL_REQ_EVENT;
    req.event.type = type;
    snprintf (req.event.vm, sizeof req.event.vm, "%s", vm);
    snprintf (req.event.source, sizeof req.event.source, "test");
    colo_ctl_reply_t rep;
    s_request (ctl, &req, &rep);
    uint32_t delivered = rep.delivered;
    colo_ctl_reply_clear (&rep);
    return delivered;
}

//  Does the client's ruleset let TCP to port through?
static int
s_bypasses (colo_ctlclient_t *c, uint16_t port)
{
    colo_test_pkt_t spec = {0};
    spec.proto = 6;
    spec.sport = 40000;
    spec.dport = port;
    colo_buf_t *buf = colo_test_packet (&spec);
    colo_packet_t pkt;
    colo_packet_decode (&pkt, colo_buf_frame (buf), buf->len, NULL);
    int hit = colo_ruleset_match (colo_ctlclient_rules (c), &pkt, colo_buf_frame (buf)) != NULL;
    colo_buf_destroy (&buf);
    return hit;
}

START_TEST (test_client_rules_and_late_joiner)
{
    char dir[256];
    s_tmpdir (dir, sizeof dir);
    colo_control_t *ctl = s_start (dir, NULL, NULL);
    s_fleet_t f = {{NULL}, 0};
    colo_ctlclient_t *a = f.c[f.n++] = s_client (ctl, "compare", "a", "vm1");
    ck_assert_ptr_null (colo_ctlclient_rules (a));   //  nothing before a snapshot
    s_wait_rules (&f, a, 0, 0);
    ck_assert_int_eq (colo_ctlclient_connected (a), 1);

    uint64_t rdp = s_add_port (ctl, NULL, 3389);
    s_wait_rules (&f, a, 1, 1);
    ck_assert_int_eq (s_bypasses (a, 3389), 1);
    ck_assert_int_eq (s_bypasses (a, 22), 0);
    s_add_port (ctl, "vm2", 22);   //  another VM's: version moves, rules do not
    s_wait_rules (&f, a, 2, 1);
    ck_assert_int_eq (s_bypasses (a, 22), 0);
    s_add_port (ctl, "vm1", 22);
    s_wait_rules (&f, a, 3, 2);
    ck_assert_int_eq (s_bypasses (a, 22), 1);
    //  A ruleset taken before a change stays valid and unchanged.
    const colo_ruleset_t *old = colo_ruleset_ref (colo_ctlclient_rules (a));
    s_del (ctl, rdp);
    s_wait_rules (&f, a, 4, 1);
    ck_assert_int_eq (s_bypasses (a, 3389), 0);
    ck_assert_uint_eq (colo_ruleset_count (old), 2);
    colo_ruleset_destroy (&old);

    //  A late joiner starts from the snapshot.
    colo_ctlclient_t *b = f.c[f.n++] = s_client (ctl, "rewriter", "b", "vm1");
    s_wait_rules (&f, b, 4, 1);
    ck_assert_int_eq (s_bypasses (b, 22), 1);
    ck_assert_uint_eq (colo_ctlclient_counters (b)[COLO_CTLCLIENT_SNAPSHOTS], 1);
    ck_assert_uint_eq (colo_ctlclient_counters (a)[COLO_CTLCLIENT_GAPS], 0);

    for (int i = 0; i < f.n; i++)
        colo_ctlclient_destroy (&f.c[i]);
    colo_control_stop (&ctl);
    s_rmdir (dir);
}
END_TEST

START_TEST (test_client_gap_repaired)
{
    char dir[256];
    s_tmpdir (dir, sizeof dir);
    colo_control_t *ctl = s_start (dir, NULL, NULL);
    s_fleet_t f = {{NULL}, 0};
    colo_ctlclient_t *a = f.c[f.n++] = s_client (ctl, "compare", "a", "vm1");
    s_add_port (ctl, NULL, 1000);
    s_wait_rules (&f, a, 1, 1);

    //  Lose one update; the next one shows the gap.
    colo_ctlclient_test_drop_updates (a, 1);
    s_add_port (ctl, NULL, 1001);
    s_add_port (ctl, NULL, 1002);
    s_wait_rules (&f, a, 3, 3);
    ck_assert_int_eq (s_bypasses (a, 1001), 1);
    ck_assert_uint_eq (colo_ctlclient_counters (a)[COLO_CTLCLIENT_DROPPED_BY_TEST], 1);
    ck_assert_uint_ge (colo_ctlclient_counters (a)[COLO_CTLCLIENT_GAPS], 1);
    ck_assert_uint_ge (colo_ctlclient_counters (a)[COLO_CTLCLIENT_SNAPSHOTS], 2);

    //  Lose the last update: nothing follows it, the heartbeats show it.
    uint64_t gaps = colo_ctlclient_counters (a)[COLO_CTLCLIENT_GAPS];
    colo_ctlclient_test_drop_updates (a, 1);
    s_add_port (ctl, NULL, 1003);
    s_wait_rules (&f, a, 4, 4);
    ck_assert_int_eq (s_bypasses (a, 1003), 1);
    ck_assert_uint_gt (colo_ctlclient_counters (a)[COLO_CTLCLIENT_GAPS], gaps);

    colo_ctlclient_destroy (&f.c[0]);
    colo_control_stop (&ctl);
    s_rmdir (dir);
}
END_TEST

typedef struct {
    colo_ctlclient_t *c;
    colo_ctl_event_t ev;
    int got;
} s_ev_want_t;

static int
s_got_event (void *arg)
{
    s_ev_want_t *w = (s_ev_want_t *) arg;
    if (!w->got)
        w->got = colo_ctlclient_next_event (w->c, &w->ev);
    return w->got;
}

static void
s_expect_event (s_fleet_t *f, colo_ctlclient_t *c, colo_ctl_event_type_t type, const char *vm)
{
    s_ev_want_t w = {c, {0}, 0};
    ck_assert_msg (s_until (f, s_got_event, &w), "no %s event", colo_ctl_event_name (type));
    ck_assert_int_eq (w.ev.type, type);
    ck_assert_str_eq (w.ev.vm, vm);
}

static int
s_all_connected (void *arg)
{
    s_fleet_t *f = (s_fleet_t *) arg;
    for (int i = 0; i < f->n; i++)
        if (!colo_ctlclient_connected (f->c[i]) || !colo_ctlclient_rules (f->c[i]))
            return 0;
    return 1;
}

START_TEST (test_client_events_reach_the_right_vm)
{
    char dir[256];
    s_tmpdir (dir, sizeof dir);
    colo_control_t *ctl = s_start (dir, NULL, NULL);
    s_fleet_t f = {{NULL}, 0};
    colo_ctlclient_t *cmp1 = f.c[f.n++] = s_client (ctl, "compare", "cmp1", "vm1");
    colo_ctlclient_t *rew1 = f.c[f.n++] = s_client (ctl, "rewriter", "rew1", "vm1");
    colo_ctlclient_t *mir1 = f.c[f.n++] = s_client (ctl, "mirror", "mir1", "vm1");
    colo_ctlclient_t *ada1 = f.c[f.n++] = s_client (ctl, "adapter", "ada1", "vm1");
    colo_ctlclient_t *cmp2 = f.c[f.n++] = s_client (ctl, "compare", "cmp2", "vm2");
    ck_assert (s_until (&f, s_all_connected, &f));

    //  checkpoint-done for vm1: its compare, rewriter and mirror, nobody else.
    ck_assert_uint_eq (s_event (ctl, COLO_CTL_EV_CHECKPOINT_DONE, "vm1"), 3);
    s_expect_event (&f, cmp1, COLO_CTL_EV_CHECKPOINT_DONE, "vm1");
    s_expect_event (&f, rew1, COLO_CTL_EV_CHECKPOINT_DONE, "vm1");
    s_expect_event (&f, mir1, COLO_CTL_EV_CHECKPOINT_DONE, "vm1");
    //  vm2's own event is the first one cmp2 sees.
    ck_assert_uint_eq (s_event (ctl, COLO_CTL_EV_CHECKPOINT_DONE, "vm2"), 1);
    s_expect_event (&f, cmp2, COLO_CTL_EV_CHECKPOINT_DONE, "vm2");
    //  Failover for vm1: compare, rewriter and mirror.
    ck_assert_uint_eq (s_event (ctl, COLO_CTL_EV_FAILOVER, "vm1"), 3);
    s_expect_event (&f, mir1, COLO_CTL_EV_FAILOVER, "vm1");
    s_expect_event (&f, cmp1, COLO_CTL_EV_FAILOVER, "vm1");
    s_expect_event (&f, rew1, COLO_CTL_EV_FAILOVER, "vm1");

    //  A checkpoint request from vm1's compare reaches vm1's adapter.
    ck_assert_int_eq (colo_ctlclient_request_checkpoint (cmp1, "mismatch_tcp",
                                                         "tcp 10.0.0.1:80 <-> 10.0.0.2:5"),
                      0);
    s_ev_want_t w = {ada1, {0}, 0};
    ck_assert (s_until (&f, s_got_event, &w));
    ck_assert_int_eq (w.ev.type, COLO_CTL_EV_CHECKPOINT_REQUEST);
    ck_assert_str_eq (w.ev.vm, "vm1");
    ck_assert_str_eq (w.ev.reason, "mismatch_tcp");
    ck_assert_str_eq (w.ev.connection, "tcp 10.0.0.1:80 <-> 10.0.0.2:5");
    ck_assert_str_eq (w.ev.source, "compare/cmp1");

    //  Nothing else arrived anywhere: vm2's compare saw only its own events,
    //  the adapter nothing but its request.
    ck_assert_uint_eq (s_event (ctl, COLO_CTL_EV_FAILOVER, "vm2"), 1);
    s_expect_event (&f, cmp2, COLO_CTL_EV_FAILOVER, "vm2");
    colo_ctl_event_t ev;
    ck_assert_int_eq (colo_ctlclient_next_event (cmp2, &ev), 0);
    ck_assert_int_eq (colo_ctlclient_next_event (mir1, &ev), 0);
    ck_assert_int_eq (colo_ctlclient_next_event (ada1, &ev), 0);
    ck_assert_int_eq (colo_ctlclient_next_event (cmp1, &ev), 0);
    ck_assert_uint_eq (colo_ctlclient_counters (cmp2)[COLO_CTLCLIENT_EVENTS], 2);
    ck_assert_uint_eq (colo_ctlclient_counters (mir1)[COLO_CTLCLIENT_EVENTS], 2);

    for (int i = 0; i < f.n; i++)
        colo_ctlclient_destroy (&f.c[i]);
    colo_control_stop (&ctl);
    s_rmdir (dir);
}
END_TEST

typedef struct {
    colo_control_t *ctl;
    const char *instance;
    uint64_t released;
    int alive;
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
    if (colo_ctl_call (colo_control_api_endpoint (w->ctl), &req, &rep, 5000, err, sizeof err)
        != 0)
        return 0;
    int found = 0;
    for (size_t i = 0; i < rep.n_instances; i++) {
        const colo_ctl_instance_t *in = &rep.instances[i];
        if (strcmp (in->instance, w->instance) != 0 || in->alive != w->alive)
            continue;
        for (size_t c = 0; c < in->n_counters; c++)
            if (strcmp (in->counters[c].name, "released") == 0
                && in->counters[c].value == w->released)
                found = 1;
    }
    colo_ctl_reply_clear (&rep);
    return found;
}

START_TEST (test_client_status_and_dead)
{
    char dir[256];
    s_tmpdir (dir, sizeof dir);
    colo_control_t *ctl = s_start (dir, NULL, NULL);
    s_fleet_t f = {{NULL}, 0};
    colo_ctlclient_t *a = f.c[f.n++] = s_client (ctl, "compare", "a", "vm1");
    const char *names[2] = {"released", "mismatch_tcp"};
    uint64_t values[2] = {42, 3};
    colo_ctlclient_set_status (a, names, values, 2);
    s_status_want_t w = {ctl, "a", 42, 1};
    ck_assert (s_until (&f, s_status_shows, &w));
    values[0] = 43;
    colo_ctlclient_set_status (a, names, values, 2);
    w.released = 43;
    ck_assert (s_until (&f, s_status_shows, &w));
    //  Gone silent: marked dead after three heartbeats.
    colo_ctlclient_destroy (&f.c[0]);
    f.n = 0;
    w.alive = 0;
    ck_assert (s_until (&f, s_status_shows, &w));
    colo_control_stop (&ctl);
    s_rmdir (dir);
}
END_TEST

START_TEST (test_client_resyncs_after_restart)
{
    char dir[256];
    s_tmpdir (dir, sizeof dir);
    colo_control_t *ctl = s_start (dir, NULL, NULL);
    char api[256], events[256];
    snprintf (api, sizeof api, "%s", colo_control_api_endpoint (ctl));
    snprintf (events, sizeof events, "%s", colo_control_events_endpoint (ctl));
    s_fleet_t f = {{NULL}, 0};
    colo_ctlclient_t *a = f.c[f.n++] = s_client (ctl, "compare", "a", "vm1");
    s_add_port (ctl, NULL, 80);
    s_wait_rules (&f, a, 1, 1);

    //  colo-control goes away; the client keeps its rules.
    colo_control_stop (&ctl);
    ctl = s_start (dir, api, events);
    s_add_port (ctl, "vm1", 443);
    //  The new colo-control has the old rules plus one: the client notices
    //  the new epoch, registers again and fetches a snapshot.
    s_wait_rules (&f, a, 2, 2);
    ck_assert_uint_ge (colo_ctlclient_counters (a)[COLO_CTLCLIENT_RESTARTS], 1);
    ck_assert_int_eq (s_bypasses (a, 443), 1);
    ck_assert_int_eq (s_bypasses (a, 80), 1);
    s_status_want_t w = {ctl, "a", 0, 1};
    const char *names[1] = {"released"};
    uint64_t values[1] = {0};
    colo_ctlclient_set_status (a, names, values, 1);
    ck_assert (s_until (&f, s_status_shows, &w));

    colo_ctlclient_destroy (&f.c[0]);
    colo_control_stop (&ctl);
    s_rmdir (dir);
}
END_TEST

typedef struct {
    colo_control_t *ctl;
    uint64_t above;
} s_refused_want_t;

static int
s_refused_above (void *arg)
{
    s_refused_want_t *w = (s_refused_want_t *) arg;
    return colo_control_counter (w->ctl, COLO_CTLDB_CURVE_REFUSED) > w->above;
}

START_TEST (test_client_curve)
{
    char dir[256], path[512], good[512], bad[512], server[512];
    s_tmpdir (dir, sizeof dir);
    ck_assert_int_eq (mkdir (dir, 0700), 0);
    snprintf (path, sizeof path, "%s/keys", dir);
    ck_assert_int_eq (mkdir (path, 0700), 0);
    snprintf (path, sizeof path, "%s/keys/clients", dir);
    ck_assert_int_eq (mkdir (path, 0700), 0);
    snprintf (server, sizeof server, "%s/keys/server", dir);
    snprintf (good, sizeof good, "%s/good", dir);
    snprintf (bad, sizeof bad, "%s/bad", dir);
    zcert_t *cert = zcert_new ();
    ck_assert_int_eq (zcert_save (cert, server), 0);
    zcert_destroy (&cert);
    cert = zcert_new ();
    ck_assert_int_eq (zcert_save (cert, good), 0);
    snprintf (path, sizeof path, "%s/keys/clients/good.cert", dir);
    ck_assert_int_eq (zcert_save_public (cert, path), 0);
    zcert_destroy (&cert);
    cert = zcert_new ();
    ck_assert_int_eq (zcert_save (cert, bad), 0);   //  not in clients/
    zcert_destroy (&cert);

    colo_control_config_t cfg;
    colo_control_config_defaults (&cfg);
    cfg.api = "tcp://127.0.0.1:0";
    cfg.events = "tcp://127.0.0.1:0";
    snprintf (path, sizeof path, "%s/store", dir);
    cfg.store = path;
    char keys[512];
    snprintf (keys, sizeof keys, "%s/keys", dir);
    cfg.curve_keys = keys;
    cfg.heartbeat_ms = 100;
    colo_control_t *ctl = colo_control_start (&cfg);
    ck_assert_ptr_nonnull (ctl);
    const char *api = colo_control_api_endpoint (ctl);
    char uri_good[2048], uri_bad[2048];
    snprintf (uri_good, sizeof uri_good, "%s,curve-server=%s,curve-secret=%s", api, server,
              good);
    snprintf (uri_bad, sizeof uri_bad, "%s,curve-server=%s,curve-secret=%s", api, server, bad);

    //  An authorised key: served.
    colo_ctl_request_t req;
    memset (&req, 0, sizeof req);
    req.type = COLO_CTL_REQ_STATUS;
    colo_ctl_reply_t rep;
    char err[256];
    ck_assert_int_eq (colo_ctl_call (uri_good, &req, &rep, 5000, err, sizeof err), 0);
    ck_assert_int_eq (rep.error, COLO_CTL_OK);
    colo_ctl_reply_clear (&rep);
    ck_assert_uint_eq (colo_control_counter (ctl, COLO_CTLDB_CURVE_REFUSED), 0);

    //  A key not in clients/, and no key at all: no reply, and counted.
    ck_assert_int_eq (colo_ctl_call (uri_bad, &req, &rep, 1000, err, sizeof err), -1);
    s_refused_want_t w = {ctl, 0};
    s_fleet_t none = {{NULL}, 0};
    ck_assert (s_until (&none, s_refused_above, &w));
    w.above = colo_control_counter (ctl, COLO_CTLDB_CURVE_REFUSED);
    ck_assert_int_eq (colo_ctl_call (api, &req, &rep, 1000, err, sizeof err), -1);
    ck_assert (s_until (&none, s_refused_above, &w));

    //  Instance clients: the authorised one gets rules, the other nothing.
    s_fleet_t f = {{NULL}, 0};
    colo_ctlclient_t *ok = f.c[f.n++] = colo_ctlclient_new (uri_good, "compare", "ok", "vm1");
    colo_ctlclient_t *no = f.c[f.n++] = colo_ctlclient_new (uri_bad, "compare", "no", "vm1");
    ck_assert_ptr_nonnull (ok);
    ck_assert_ptr_nonnull (no);
    colo_ctlclient_set_heartbeat (ok, 100);
    colo_ctlclient_set_heartbeat (no, 100);
    uint64_t id = 0;
    {
        memset (&req, 0, sizeof req);
        req.type = COLO_CTL_REQ_RULE_ADD;
        colo_rule_init (&req.rule);
        req.rule.proto = 17;
        req.rule.has_dport = 1;
        req.rule.dport_lo = req.rule.dport_hi = 53;
        ck_assert_int_eq (colo_ctl_call (uri_good, &req, &rep, 5000, err, sizeof err), 0);
        id = rep.rule_id;
        colo_ctl_reply_clear (&rep);
    }
    ck_assert_uint_eq (id, 1);
    w.above = colo_control_counter (ctl, COLO_CTLDB_CURVE_REFUSED);
    s_wait_rules (&f, ok, 1, 1);
    ck_assert (s_until (&f, s_refused_above, &w));
    ck_assert_ptr_null (colo_ctlclient_rules (no));
    ck_assert_int_eq (colo_ctlclient_connected (no), 0);
    ck_assert_uint_eq (colo_ctlclient_counters (no)[COLO_CTLCLIENT_REPLIES], 0);

    //  A subscriber without a key hears nothing on the events socket.
    zsock_t *sub = zsock_new (ZMQ_SUB);
    zsock_set_subscribe (sub, "");
    ck_assert_int_eq (zsock_connect (sub, "%s", colo_control_events_endpoint (ctl)), 0);
    //  (Whether the events socket's monitor reports this refusal in time
    //  depends on libzmq's scheduling: under load it sometimes did not
    //  within 10 s, so only the outcome is asserted here; refusals on the
    //  API socket are asserted above.)
    zsock_set_rcvtimeo (sub, 300);   //  three heartbeats' worth
    zmsg_t *heard = zmsg_recv (sub);
    ck_assert_ptr_null (heard);
    zsock_destroy (&sub);

    for (int i = 0; i < f.n; i++)
        colo_ctlclient_destroy (&f.c[i]);
    colo_control_stop (&ctl);
    s_rmdir (dir);
}
END_TEST

START_TEST (test_client_bad_arguments)
{
    ck_assert_ptr_null (colo_ctlclient_new ("udp://x", "compare", "a", "vm1"));
    ck_assert_ptr_null (colo_ctlclient_new ("tcp://127.0.0.1:1", "compare", "a b", "vm1"));
    ck_assert_ptr_null (colo_ctlclient_new ("tcp://127.0.0.1:1", "compare", "a", ""));
    ck_assert_ptr_null (colo_ctlclient_new ("tcp://127.0.0.1:1,curve-server=x", "compare",
                                            "a", "vm1"));
    colo_ctl_uri_t uri;
    char err[256];
    ck_assert_int_eq (colo_ctl_uri_parse ("zmq+tcp://h:1,events=tcp://h:2", &uri, err,
                                          sizeof err),
                      0);
    ck_assert_str_eq (uri.endpoint, "tcp://h:1");
    ck_assert_str_eq (uri.events, "tcp://h:2");
    ck_assert_int_eq (colo_ctl_uri_parse ("tcp://h:1,bogus=1", &uri, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "bogus"));
    //  Where the events are: a wildcard bind takes the API's host.
    ck_assert_int_eq (colo_ctl_uri_parse ("tcp://10.1.2.3:7100", &uri, err, sizeof err), 0);
    char ep[256];
    ck_assert_int_eq (colo_ctl_events_endpoint (&uri, "tcp://0.0.0.0:7101", ep, sizeof ep), 0);
    ck_assert_str_eq (ep, "tcp://10.1.2.3:7101");
    ck_assert_int_eq (colo_ctl_events_endpoint (&uri, "tcp://192.168.0.1:7101", ep, sizeof ep),
                      0);
    ck_assert_str_eq (ep, "tcp://192.168.0.1:7101");
    ck_assert_int_eq (colo_ctl_events_endpoint (&uri, "ipc:///run/x", ep, sizeof ep), 0);
    ck_assert_str_eq (ep, "ipc:///run/x");
    //  Nobody there: a call times out (-1), a client is just not connected.
    colo_ctl_request_t req;
    memset (&req, 0, sizeof req);
    req.type = COLO_CTL_REQ_STATUS;
    colo_ctl_reply_t rep;
    ck_assert_int_eq (colo_ctl_call ("tcp://127.0.0.1:1", &req, &rep, 200, err, sizeof err), -1);
    ck_assert_int_eq (colo_ctl_call ("bogus", &req, &rep, 200, err, sizeof err), -2);
    colo_ctlclient_t *c = colo_ctlclient_new ("tcp://127.0.0.1:1", "compare", "a", "vm1");
    ck_assert_ptr_nonnull (c);
    colo_ctlclient_process (c, colo_clock_mono_ms ());
    ck_assert_int_eq (colo_ctlclient_connected (c), 0);
    ck_assert_int_eq (colo_ctlclient_request_checkpoint (c, "x", NULL), -1);
    ck_assert_uint_eq (colo_ctlclient_counters (c)[COLO_CTLCLIENT_CHECKPOINT_UNSENT], 1);
    colo_ctlclient_destroy (&c);
    ck_assert_ptr_null (c);
}
END_TEST

Suite *
colo_ctlclient_suite (void)
{
    Suite *s = suite_create ("colo_ctlclient");
    TCase *tc = tcase_create ("fleet");
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, test_client_rules_and_late_joiner);
    tcase_add_test (tc, test_client_gap_repaired);
    tcase_add_test (tc, test_client_events_reach_the_right_vm);
    tcase_add_test (tc, test_client_status_and_dead);
    tcase_add_test (tc, test_client_resyncs_after_restart);
    tcase_add_test (tc, test_client_curve);
    tcase_add_test (tc, test_client_bad_arguments);
    suite_add_tcase (s, tc);
    return s;
}
