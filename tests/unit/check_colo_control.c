/*  check_colo_control.c - colo-control: its state, its store, and the actor over ZeroMQ.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <czmq.h>

#include "colo_control.h"
#include "colo_counters.h"
#include "colo_ctlclient.h"
#include "colo_ctldb.h"
#include "colo_ctlstore.h"
#include "colo_log.h"
#include "colo_test.h"

// ---------------------------------------------------------------- helpers

static colo_rule_t
s_rule (const char *vm, int proto, const char *src, const char *dst, int dport)
{
    colo_rule_t r;
    colo_rule_init (&r);
    if (vm)
        snprintf (r.vm, sizeof r.vm, "%s", vm);
    r.proto = proto;
    if (src)
        ck_assert_int_eq (colo_rule_parse_cidr (src, &r.src), 0);
    if (dst)
        ck_assert_int_eq (colo_rule_parse_cidr (dst, &r.dst), 0);
    if (dport >= 0) {
        r.has_dport = 1;
        r.dport_lo = r.dport_hi = (uint16_t) dport;
    }
    return r;
}

static colo_ctl_instance_t
s_hello (const char *kind, const char *name, const char *vm)
{
    colo_ctl_instance_t h;
    memset (&h, 0, sizeof h);
    snprintf (h.kind, sizeof h.kind, "%s", kind);
    snprintf (h.instance, sizeof h.instance, "%s", name);
    snprintf (h.vm, sizeof h.vm, "%s", vm);
    h.heartbeat_ms = 1000;
    return h;
}

//  A fresh directory under /tmp for a store; removed by s_rmdir.
static char *
s_tmpdir (char *buf, size_t cap)
{
    char name[64];
    snprintf (buf, cap, "/tmp/%s-ctl", colo_test_name (name, sizeof name));
    return buf;
}

static void
s_rmdir (const char *dir)
{
    DIR *d = opendir (dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir (d))) {
            if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0)
                continue;
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

// ---------------------------------------------------------------- colo_ctldb: rules

START_TEST (test_db_add_del_versions)
{
    colo_ctldb_t *db = colo_ctldb_new ();
    char msg[256];
    colo_rule_t added, deleted;
    uint64_t existing = 0;
    colo_rule_t rdp = s_rule (NULL, 6, NULL, NULL, 3389);
    ck_assert_int_eq (colo_ctldb_rule_add (db, &rdp, 0, &added, &existing, msg, sizeof msg),
                      COLO_CTL_OK);
    ck_assert_uint_eq (added.id, 1);
    ck_assert_uint_eq (added.version, 1);
    colo_rule_t web = s_rule ("vm1", 6, NULL, "10.0.0.0/8", 80);
    ck_assert_int_eq (colo_ctldb_rule_add (db, &web, 0, &added, &existing, msg, sizeof msg),
                      COLO_CTL_OK);
    ck_assert_uint_eq (added.id, 2);
    ck_assert_uint_eq (colo_ctldb_version (db), 2);

    //  An exact duplicate names the existing rule; so does the same rule
    //  described from the other end.
    ck_assert_int_eq (colo_ctldb_rule_add (db, &rdp, 0, &added, &existing, msg, sizeof msg),
                      COLO_CTL_E_DUPLICATE);
    ck_assert_uint_eq (existing, 1);
    ck_assert_ptr_nonnull (strstr (msg, "id 1"));
    colo_rule_t rdp_reverse = s_rule (NULL, 6, NULL, NULL, -1);
    rdp_reverse.has_sport = 1;
    rdp_reverse.sport_lo = rdp_reverse.sport_hi = 3389;
    snprintf (rdp_reverse.comment, sizeof rdp_reverse.comment, "another comment");
    ck_assert_int_eq (colo_ctldb_rule_add (db, &rdp_reverse, 0, NULL, &existing, msg,
                                           sizeof msg),
                      COLO_CTL_E_DUPLICATE);
    ck_assert_uint_eq (existing, 1);
    //  The same rule for another VM is another rule.
    colo_rule_t web2 = web;
    snprintf (web2.vm, sizeof web2.vm, "vm2");
    ck_assert_int_eq (colo_ctldb_rule_add (db, &web2, 0, &added, NULL, msg, sizeof msg),
                      COLO_CTL_OK);
    ck_assert_uint_eq (added.id, 3);

    //  Everything needs force, even for one VM; /0 is everything of a family.
    colo_rule_t all = s_rule ("vm1", COLO_RULE_PROTO_ANY, NULL, NULL, -1);
    ck_assert_int_eq (colo_ctldb_rule_add (db, &all, 0, NULL, NULL, msg, sizeof msg),
                      COLO_CTL_E_MATCHES_ALL);
    ck_assert_ptr_nonnull (strstr (msg, "--force"));
    colo_rule_t all4 = s_rule (NULL, COLO_RULE_PROTO_ANY, "0.0.0.0/0", NULL, -1);
    ck_assert_int_eq (colo_ctldb_rule_add (db, &all4, 0, NULL, NULL, msg, sizeof msg),
                      COLO_CTL_E_MATCHES_ALL);
    ck_assert_int_eq (colo_ctldb_rule_add (db, &all, 1, &added, NULL, msg, sizeof msg),
                      COLO_CTL_OK);
    ck_assert_uint_eq (added.id, 4);
    //  ... and a forced duplicate is still a duplicate.
    ck_assert_int_eq (colo_ctldb_rule_add (db, &all, 1, NULL, &existing, msg, sizeof msg),
                      COLO_CTL_E_DUPLICATE);
    ck_assert_uint_eq (existing, 4);

    colo_rule_t bad = s_rule (NULL, 1, NULL, NULL, 7);   //  icmp with a port
    ck_assert_int_eq (colo_ctldb_rule_add (db, &bad, 1, NULL, NULL, msg, sizeof msg),
                      COLO_CTL_E_INVALID);
    ck_assert_uint_eq (colo_ctldb_version (db), 4);

    //  Delete by id; ids are never reused.
    ck_assert_int_eq (colo_ctldb_rule_del (db, 2, &deleted, msg, sizeof msg), COLO_CTL_OK);
    ck_assert_uint_eq (deleted.id, 2);
    ck_assert_int_eq (colo_ctldb_rule_del (db, 2, NULL, msg, sizeof msg),
                      COLO_CTL_E_NOT_FOUND);
    ck_assert_int_eq (colo_ctldb_rule_del (db, 99, NULL, msg, sizeof msg),
                      COLO_CTL_E_NOT_FOUND);
    ck_assert_uint_eq (colo_ctldb_version (db), 5);
    ck_assert_int_eq (colo_ctldb_rule_add (db, &web, 0, &added, NULL, msg, sizeof msg),
                      COLO_CTL_OK);
    ck_assert_uint_eq (added.id, 5);
    ck_assert_uint_eq (added.version, 6);

    //  What an instance of vm1 gets: vm1's and the global ones, by id.
    size_t n = 0;
    colo_rule_t *rules = colo_ctldb_rules_for (db, "vm1", &n);
    ck_assert_uint_eq (n, 3);
    ck_assert_uint_eq (rules[0].id, 1);
    ck_assert_uint_eq (rules[1].id, 4);
    ck_assert_uint_eq (rules[2].id, 5);
    free (rules);
    rules = colo_ctldb_rules_for (db, NULL, &n);
    ck_assert_uint_eq (n, 4);
    free (rules);
    rules = colo_ctldb_rules_for (db, "vm9", &n);
    ck_assert_uint_eq (n, 1);
    free (rules);
    colo_ctldb_destroy (&db);
    ck_assert_ptr_null (db);
}
END_TEST

START_TEST (test_db_undo_and_load)
{
    colo_ctldb_t *db = colo_ctldb_new ();
    char msg[256];
    colo_rule_t a = s_rule (NULL, 17, NULL, NULL, 53);
    colo_rule_t b = s_rule (NULL, 17, NULL, NULL, 123);
    colo_rule_t c = s_rule (NULL, 17, NULL, NULL, 161);
    ck_assert_int_eq (colo_ctldb_rule_add (db, &a, 0, NULL, NULL, msg, sizeof msg), COLO_CTL_OK);
    ck_assert_int_eq (colo_ctldb_rule_add (db, &b, 0, NULL, NULL, msg, sizeof msg), COLO_CTL_OK);
    ck_assert_int_eq (colo_ctldb_undo (db), 0);   //  b was not persisted
    ck_assert_int_eq (colo_ctldb_undo (db), -1);  //  once
    ck_assert_uint_eq (colo_ctldb_rule_count (db), 1);
    ck_assert_uint_eq (colo_ctldb_version (db), 1);
    colo_rule_t added;
    ck_assert_int_eq (colo_ctldb_rule_add (db, &c, 0, &added, NULL, msg, sizeof msg),
                      COLO_CTL_OK);
    ck_assert_uint_eq (added.id, 2);   //  the undone id is free again
    ck_assert_int_eq (colo_ctldb_rule_del (db, 1, NULL, msg, sizeof msg), COLO_CTL_OK);
    ck_assert_int_eq (colo_ctldb_undo (db), 0);
    ck_assert_uint_eq (colo_ctldb_rule_count (db), 2);
    ck_assert_uint_eq (colo_ctldb_version (db), 2);

    colo_ctl_store_t view;
    colo_ctldb_store_view (db, &view);
    ck_assert_uint_eq (view.n_rules, 2);
    ck_assert_uint_eq (view.rules[0].id, 1);   //  back in its place
    ck_assert_uint_eq (view.rules[1].id, 2);
    ck_assert_uint_eq (view.next_id, 3);

    //  A store read back: ids out of order are sorted, next_id and the
    //  version never go below what the rules say.
    colo_rule_t rules[2] = {c, a};
    rules[0].id = 9;
    rules[0].version = 12;
    rules[1].id = 4;
    rules[1].version = 3;
    colo_ctl_store_t store = {5, 2, rules, 2};
    colo_ctldb_t *db2 = colo_ctldb_new ();
    ck_assert_int_eq (colo_ctldb_load (db2, &store, msg, sizeof msg), 0);
    ck_assert_uint_eq (colo_ctldb_version (db2), 12);
    colo_ctldb_store_view (db2, &view);
    ck_assert_uint_eq (view.next_id, 10);
    ck_assert_uint_eq (view.rules[0].id, 4);
    //  Repeated ids and invalid rules are refused.
    rules[0].id = 4;
    ck_assert_int_eq (colo_ctldb_load (db2, &store, msg, sizeof msg), -1);
    ck_assert_ptr_nonnull (strstr (msg, "repeated"));
    rules[0].id = 9;
    rules[0].proto = 1;   //  icmp with a port
    ck_assert_int_eq (colo_ctldb_load (db2, &store, msg, sizeof msg), -1);
    ck_assert_ptr_nonnull (strstr (msg, "rule 9"));
    colo_ctldb_destroy (&db2);
    colo_ctldb_destroy (&db);
}
END_TEST

// ---------------------------------------------------------------- colo_ctldb: instances

typedef struct {
    char seen[8][64];
    int n;
} s_targets_t;

static void
s_collect (void *arg, const void *route, size_t route_len, const char *kind,
           const char *instance)
{
    s_targets_t *t = (s_targets_t *) arg;
    ck_assert_uint_eq (route_len, 2);
    ck_assert_int_eq (((const uint8_t *) route)[0], instance[0]);
    if (t->n < 8)
        snprintf (t->seen[t->n++], sizeof t->seen[0], "%s/%s", kind, instance);
}

START_TEST (test_db_instances_and_targets)
{
    colo_ctldb_t *db = colo_ctldb_new ();
    char msg[256];
    struct {
        const char *kind, *name, *vm;
    } insts[] = {
        {"compare", "a1", "vm1"}, {"rewriter", "b1", "vm1"}, {"mirror", "c1", "vm1"},
        {"adapter", "d1", "vm1"}, {"compare", "e2", "vm2"},
    };
    for (int i = 0; i < 5; i++) {
        colo_ctl_instance_t h = s_hello (insts[i].kind, insts[i].name, insts[i].vm);
        char route[2] = {insts[i].name[0], 'x'};
        ck_assert_int_eq (colo_ctldb_hello (db, &h, route, 2, 1000, msg, sizeof msg),
                          COLO_CTL_OK);
    }
    colo_ctl_instance_t bad = s_hello ("router", "x", "vm1");
    ck_assert_int_eq (colo_ctldb_hello (db, &bad, "x", 1, 1000, msg, sizeof msg),
                      COLO_CTL_E_INVALID);
    bad = s_hello ("compare", "x y", "vm1");
    ck_assert_int_eq (colo_ctldb_hello (db, &bad, "x", 1, 1000, msg, sizeof msg),
                      COLO_CTL_E_INVALID);

    //  Checkpoint-done: compare, rewriter and mirror of vm1 only.
    s_targets_t t = {{{0}}, 0};
    ck_assert_uint_eq (colo_ctldb_each_target (db, "vm1", COLO_CTL_EV_CHECKPOINT_DONE,
                                               s_collect, &t),
                       3);
    ck_assert_str_eq (t.seen[0], "compare/a1");
    ck_assert_str_eq (t.seen[1], "rewriter/b1");
    ck_assert_str_eq (t.seen[2], "mirror/c1");
    //  Failover: the same.
    t.n = 0;
    ck_assert_uint_eq (colo_ctldb_each_target (db, "vm1", COLO_CTL_EV_FAILOVER, s_collect, &t),
                       3);
    ck_assert_str_eq (t.seen[2], "mirror/c1");
    //  Checkpoint requests: the adapter.
    t.n = 0;
    ck_assert_uint_eq (colo_ctldb_each_target (db, "vm1", COLO_CTL_EV_CHECKPOINT_REQUEST,
                                               s_collect, &t),
                       1);
    ck_assert_str_eq (t.seen[0], "adapter/d1");
    t.n = 0;
    ck_assert_uint_eq (colo_ctldb_each_target (db, "vm2", COLO_CTL_EV_CHECKPOINT_DONE,
                                               s_collect, &t),
                       1);
    ck_assert_str_eq (t.seen[0], "compare/e2");
    ck_assert_uint_eq (colo_ctldb_each_target (db, "vm3", COLO_CTL_EV_FAILOVER, s_collect, &t),
                       0);

    //  A heartbeat refreshes (same kind and name: one entry, new route).
    //  (With a hold-time histogram, its buckets out of order, as metrics
    //  must not rely on the order an instance sends them in.)
    colo_ctl_counter_t counters[8] = {{"released", 5},     {"mismatch_tcp", 2},
                                      {"held_le_1ms", 4},  {"held_le_20us", 1},
                                      {"held_le_1s", 5},   {"out_frames", 6},
                                      {"held_us", 1250000}, {"held_le_bogus", 9}};
    colo_ctl_instance_t h = s_hello ("compare", "a1", "vm1");
    h.rules_version = 7;
    h.counters = counters;
    h.n_counters = 8;
    ck_assert_int_eq (colo_ctldb_hello (db, &h, "az", 2, 4000, msg, sizeof msg), COLO_CTL_OK);

    //  At 4500 ms everyone else missed three heartbeats of 1000 ms.
    colo_ctl_reply_t rep;
    memset (&rep, 0, sizeof rep);
    ck_assert_int_eq (colo_ctldb_status (db, 4500, &rep), 0);
    ck_assert_uint_eq (rep.n_instances, 5);
    //  Sorted by VM, kind, name.
    ck_assert_str_eq (rep.instances[0].instance, "d1");   //  adapter, vm1
    ck_assert_str_eq (rep.instances[1].instance, "a1");   //  compare, vm1
    ck_assert_int_eq (rep.instances[1].alive, 1);
    ck_assert_uint_eq (rep.instances[1].rules_version, 7);
    ck_assert_uint_eq (rep.instances[1].age_ms, 500);
    ck_assert_uint_eq (rep.instances[1].n_counters, 8);
    ck_assert_int_eq (rep.instances[0].alive, 0);
    ck_assert_str_eq (rep.instances[4].vm, "vm2");
    colo_ctl_reply_clear (&rep);

    //  Stats: vm1's group sums its instances' counters by kind.
    ck_assert_int_eq (colo_ctldb_stats (db, "vm1", 4500, &rep), 0);
    ck_assert_uint_eq (rep.n_groups, 1);
    colo_counters_t set;
    const char *names[COLO_CTL_COUNTERS_MAX];
    uint64_t values[COLO_CTL_COUNTERS_MAX];
    for (size_t i = 0; i < rep.groups[0].n_counters; i++) {
        names[i] = rep.groups[0].counters[i].name;
        values[i] = rep.groups[0].counters[i].value;
    }
    set.names = names;
    set.values = values;
    set.count = rep.groups[0].n_counters;
    ck_assert_uint_eq (colo_counters_get (&set, "compare.released"), 5);
    ck_assert_uint_eq (colo_counters_get (&set, "instances"), 4);
    ck_assert_uint_eq (colo_counters_get (&set, "instances_alive"), 1);
    colo_ctl_reply_clear (&rep);
    ck_assert_int_eq (colo_ctldb_stats (db, NULL, 4500, &rep), 0);
    ck_assert_uint_eq (rep.n_groups, 3);   //  control, vm1, vm2
    ck_assert_str_eq (rep.groups[0].name, "control");
    colo_ctl_reply_clear (&rep);

    //  Metrics.
    colo_ctl_event_t ev;
    memset (&ev, 0, sizeof ev);
    ev.type = COLO_CTL_EV_CHECKPOINT_DONE;
    snprintf (ev.vm, sizeof ev.vm, "vm1");
    colo_ctldb_count_event (db, &ev, 2);
    colo_ctldb_count_request (db, COLO_CTL_REQ_RULE_ADD, COLO_CTL_E_DUPLICATE);
    colo_ctldb_count (db, COLO_CTLDB_CURVE_REFUSED);
    size_t len = 0;
    char *text = colo_ctldb_metrics (db, 4500, &len);
    ck_assert_ptr_nonnull (text);
    ck_assert_uint_eq (strlen (text), len);
    ck_assert_ptr_nonnull (strstr (text, "# TYPE colonet_control_rules gauge\n"));
    ck_assert_ptr_nonnull (strstr (text, "colonet_control_requests_total{type=\"rule_add\"} 1\n"));
    ck_assert_ptr_nonnull (strstr (text, "colonet_control_errors_total{code=\"duplicate\"} 1\n"));
    ck_assert_ptr_nonnull (strstr (text, "colonet_control_curve_refused_total 1\n"));
    ck_assert_ptr_nonnull (
        strstr (text, "colonet_control_events_total{vm=\"vm1\",type=\"checkpoint_done\"} 1\n"));
    ck_assert_ptr_nonnull (
        strstr (text, "colonet_instance_up{kind=\"compare\",instance=\"a1\",vm=\"vm1\"} 1\n"));
    ck_assert_ptr_nonnull (
        strstr (text, "colonet_instance_up{kind=\"mirror\",instance=\"c1\",vm=\"vm1\"} 0\n"));
    ck_assert_ptr_nonnull (strstr (text, "colonet_instance_counter{kind=\"compare\","
                                         "instance=\"a1\",vm=\"vm1\",name=\"released\"} 5\n"));
    //  The histogram, in Prometheus' form: buckets by increasing bound,
    //  +Inf the count, the sum in seconds; a name that is no bound is not a
    //  bucket; an instance without one has none.
    const char *hist = "# TYPE colonet_instance_held_seconds histogram\n"
                       "colonet_instance_held_seconds_bucket{kind=\"compare\",instance=\"a1\","
                       "vm=\"vm1\",le=\"2e-05\"} 1\n"
                       "colonet_instance_held_seconds_bucket{kind=\"compare\",instance=\"a1\","
                       "vm=\"vm1\",le=\"0.001\"} 4\n"
                       "colonet_instance_held_seconds_bucket{kind=\"compare\",instance=\"a1\","
                       "vm=\"vm1\",le=\"1\"} 5\n"
                       "colonet_instance_held_seconds_bucket{kind=\"compare\",instance=\"a1\","
                       "vm=\"vm1\",le=\"+Inf\"} 6\n"
                       "colonet_instance_held_seconds_sum{kind=\"compare\",instance=\"a1\","
                       "vm=\"vm1\"} 1.250000\n"
                       "colonet_instance_held_seconds_count{kind=\"compare\",instance=\"a1\","
                       "vm=\"vm1\"} 6\n";
    ck_assert_msg (strstr (text, hist), "no histogram in:\n%s", text);
    ck_assert_ptr_null (strstr (text, "held_seconds_bucket{kind=\"mirror\""));
    free (text);

    //  Dead long enough: forgotten.
    colo_ctldb_tick (db, 4000 + 3000 + COLO_CTLDB_FORGET_MS + 1);
    ck_assert_int_eq (colo_ctldb_status (db, 4500, &rep), 0);
    ck_assert_uint_eq (rep.n_instances, 0);
    ck_assert_uint_eq (colo_ctldb_counter (db, COLO_CTLDB_INSTANCES_FORGOTTEN), 5);
    colo_ctl_reply_clear (&rep);
    colo_ctldb_destroy (&db);
}
END_TEST

// ---------------------------------------------------------------- colo_ctlstore

START_TEST (test_store_durable_files)
{
    char dir[256], err[512];
    s_tmpdir (dir, sizeof dir);
    colo_ctlstore_t *st = colo_ctlstore_open (dir, err, sizeof err);
    ck_assert_msg (st != NULL, "%s", err);
    //  One store, one owner.
    ck_assert_ptr_null (colo_ctlstore_open (dir, err, sizeof err));
    ck_assert_ptr_nonnull (strstr (err, "in use"));

    colo_ctl_store_t state;
    ck_assert_int_eq (colo_ctlstore_load (st, &state, err, sizeof err), 0);
    ck_assert_uint_eq (state.n_rules, 0);
    ck_assert_uint_eq (state.rules_version, 0);

    colo_rule_t rules[2] = {s_rule ("vm1", 6, "fd00::/64", NULL, 22),
                            s_rule (NULL, 17, NULL, NULL, 53)};
    rules[0].id = 1;
    rules[1].id = 3;
    colo_ctl_store_t save = {7, 4, rules, 2};
    ck_assert_int_eq (colo_ctlstore_save (st, &save, err, sizeof err), 0);
    char tmp[300];
    snprintf (tmp, sizeof tmp, "%s/rules.pb.tmp", dir);
    ck_assert_int_eq (access (tmp, F_OK), -1);
    ck_assert_int_eq (colo_ctlstore_load (st, &state, err, sizeof err), 0);
    ck_assert_uint_eq (state.rules_version, 7);
    ck_assert_uint_eq (state.next_id, 4);
    ck_assert_uint_eq (state.n_rules, 2);
    ck_assert_int_eq (colo_rule_same (&state.rules[0], &rules[0]), 1);
    colo_ctl_store_clear (&state);

    //  A crash's leftover temp file is ignored and removed.
    int fd = open (tmp, O_WRONLY | O_CREAT, 0600);
    ck_assert_int_ge (fd, 0);
    ck_assert_int_eq (write (fd, "junk", 4), 4);
    close (fd);
    ck_assert_int_eq (colo_ctlstore_load (st, &state, err, sizeof err), 0);
    ck_assert_uint_eq (state.n_rules, 2);
    ck_assert_int_eq (access (tmp, F_OK), -1);
    colo_ctl_store_clear (&state);

    //  A save that cannot write leaves the old state in place.
    ck_assert_int_eq (mkdir (tmp, 0700), 0);
    save.n_rules = 1;
    ck_assert_int_eq (colo_ctlstore_save (st, &save, err, sizeof err), -1);
    ck_assert_int_eq (rmdir (tmp), 0);
    ck_assert_int_eq (colo_ctlstore_load (st, &state, err, sizeof err), 0);
    ck_assert_uint_eq (state.n_rules, 2);
    colo_ctl_store_clear (&state);

    //  A corrupt store is an error, not an empty store.
    colo_ctlstore_close (&st);
    char path[300];
    snprintf (path, sizeof path, "%s/rules.pb", dir);
    fd = open (path, O_WRONLY | O_TRUNC);
    ck_assert_int_eq (write (fd, "\xff\xff\xff", 3), 3);
    close (fd);
    st = colo_ctlstore_open (dir, err, sizeof err);
    ck_assert_ptr_nonnull (st);
    ck_assert_int_eq (colo_ctlstore_load (st, &state, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "corrupt"));
    colo_ctlstore_close (&st);
    s_rmdir (dir);
}
END_TEST

// ---------------------------------------------------------------- the actor

static colo_control_t *
s_start (const char *dir, const colo_control_vm_t *vms, size_t n_vms, const char *metrics)
{
    colo_control_config_t cfg;
    colo_control_config_defaults (&cfg);
    cfg.api = "tcp://127.0.0.1:0";
    cfg.events = "tcp://127.0.0.1:0";
    cfg.store = dir;
    cfg.vms = vms;
    cfg.n_vms = n_vms;
    cfg.metrics = metrics;
    cfg.heartbeat_ms = 50;
    colo_control_t *ctl = colo_control_start (&cfg);
    ck_assert_ptr_nonnull (ctl);
    return ctl;
}

static colo_ctl_error_t
s_call (colo_control_t *ctl, colo_ctl_request_t *req, colo_ctl_reply_t *rep)
{
    char err[256];
    int rc = colo_ctl_call (colo_control_api_endpoint (ctl), req, rep, 5000, err, sizeof err);
    ck_assert_msg (rc == 0, "no reply: %s", err);
    return rep->error;
}

static uint64_t
s_add (colo_control_t *ctl, colo_rule_t rule, int force, colo_ctl_error_t expect)
{
    colo_ctl_request_t req;
    memset (&req, 0, sizeof req);
    req.type = COLO_CTL_REQ_RULE_ADD;
    req.rule = rule;
    req.force = force;
    colo_ctl_reply_t rep;
    ck_assert_int_eq (s_call (ctl, &req, &rep), expect);
    uint64_t id = rep.rule_id;
    colo_ctl_reply_clear (&rep);
    return id;
}

//  Send raw frames on a DEALER and return the reply's decoded error code
//  (or -1 if none came within 5 s).
static int
s_raw (colo_control_t *ctl, const void *const *frames, const size_t *sizes, int n,
       uint64_t *seq_out)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_linger (dealer, 0);
    ck_assert_int_eq (zsock_connect (dealer, "%s", colo_control_api_endpoint (ctl)), 0);
    zmsg_t *msg = zmsg_new ();
    for (int i = 0; i < n; i++)
        zmsg_addmem (msg, frames[i], sizes[i]);
    ck_assert_int_eq (zmsg_send (&msg, dealer), 0);
    zsock_set_rcvtimeo (dealer, 5000);
    zmsg_t *reply = zmsg_recv (dealer);
    int rc = -1;
    if (reply) {
        zframe_t *last = zmsg_last (reply);
        colo_ctl_reply_t rep;
        char err[256];
        ck_assert_int_eq (colo_ctl_reply_decode (zframe_data (last), zframe_size (last), &rep,
                                                 err, sizeof err),
                          COLO_CTL_OK);
        rc = rep.error;
        if (seq_out)
            *seq_out = rep.seq;
        colo_ctl_reply_clear (&rep);
        zmsg_destroy (&reply);
    }
    zsock_destroy (&dealer);
    return rc;
}

START_TEST (test_actor_rules_and_restart)
{
    char dir[256];
    s_tmpdir (dir, sizeof dir);
    colo_control_t *ctl = s_start (dir, NULL, 0, NULL);
    uint64_t rdp = s_add (ctl, s_rule (NULL, 6, NULL, NULL, 3389), 0, COLO_CTL_OK);
    ck_assert_uint_eq (rdp, 1);
    uint64_t dns = s_add (ctl, s_rule ("vm1", 17, "10.0.0.0/8", NULL, 53), 0, COLO_CTL_OK);
    ck_assert_uint_eq (dns, 2);
    ck_assert_uint_eq (s_add (ctl, s_rule (NULL, 6, NULL, NULL, 3389), 0, COLO_CTL_E_DUPLICATE),
                       rdp);
    s_add (ctl, s_rule (NULL, COLO_RULE_PROTO_ANY, NULL, NULL, -1), 0, COLO_CTL_E_MATCHES_ALL);
    uint64_t gone = s_add (ctl, s_rule ("vm2", 6, NULL, NULL, 22), 0, COLO_CTL_OK);

    colo_ctl_request_t req;
    colo_ctl_reply_t rep;
    memset (&req, 0, sizeof req);
    req.type = COLO_CTL_REQ_RULE_DEL;
    req.rule_id = gone;
    ck_assert_int_eq (s_call (ctl, &req, &rep), COLO_CTL_OK);
    ck_assert_uint_eq (rep.rules_version, 4);
    colo_ctl_reply_clear (&rep);
    ck_assert_int_eq (s_call (ctl, &req, &rep), COLO_CTL_E_NOT_FOUND);
    colo_ctl_reply_clear (&rep);

    memset (&req, 0, sizeof req);
    req.type = COLO_CTL_REQ_RULE_LIST;
    req.has_vm = 1;
    snprintf (req.vm, sizeof req.vm, "vm1");
    ck_assert_int_eq (s_call (ctl, &req, &rep), COLO_CTL_OK);
    ck_assert_uint_eq (rep.n_rules, 2);
    ck_assert_uint_eq (rep.rules[1].id, dns);
    ck_assert_str_eq (rep.rules[1].vm, "vm1");
    ck_assert_ptr_nonnull (strstr (rep.events, "tcp://127.0.0.1:"));
    colo_ctl_reply_clear (&rep);
    snprintf (req.vm, sizeof req.vm, "vm 1");   //  not a name
    ck_assert_int_eq (s_call (ctl, &req, &rep), COLO_CTL_E_INVALID);
    colo_ctl_reply_clear (&rep);

    //  A restart on the same store: every acknowledged rule, nothing else.
    colo_control_stop (&ctl);
    ck_assert_ptr_null (ctl);
    ctl = s_start (dir, NULL, 0, NULL);
    ck_assert_uint_eq (colo_control_version (ctl), 4);
    req.has_vm = 0;
    ck_assert_int_eq (s_call (ctl, &req, &rep), COLO_CTL_OK);
    ck_assert_uint_eq (rep.n_rules, 2);
    ck_assert_uint_eq (rep.rules[0].id, rdp);
    ck_assert_uint_eq (rep.rules[1].id, dns);
    colo_ctl_reply_clear (&rep);
    //  Ids go on from where they were.
    ck_assert_uint_eq (s_add (ctl, s_rule (NULL, 6, NULL, NULL, 80), 0, COLO_CTL_OK), 4);
    colo_control_stop (&ctl);
    s_rmdir (dir);
}
END_TEST

START_TEST (test_actor_bad_requests)
{
    char dir[256];
    s_tmpdir (dir, sizeof dir);
    colo_control_t *ctl = s_start (dir, NULL, 0, NULL);

    //  Garbage.
    static const uint8_t garbage[] = {0xff, 0x13, 0x37, 0x00, 0x01};
    const void *f1[1] = {garbage};
    size_t s1[1] = {sizeof garbage};
    ck_assert_int_eq (s_raw (ctl, f1, s1, 1, NULL), COLO_CTL_E_BAD_REQUEST);
    //  Version 2 (seq 9 comes back).
    static const uint8_t v2[] = {0x08, 0x02, 0x10, 0x09, 0x5a, 0x02, 0x08, 0x05};
    f1[0] = v2;
    s1[0] = sizeof v2;
    uint64_t seq = 0;
    ck_assert_int_eq (s_raw (ctl, f1, s1, 1, &seq), COLO_CTL_E_BAD_VERSION);
    ck_assert_uint_eq (seq, 9);
    //  An unknown field.
    static const uint8_t unknown[] = {0x08, 0x01, 0x10, 0x07, 0x5a, 0x02,
                                      0x08, 0x05, 0x98, 0x06, 0x01};
    f1[0] = unknown;
    s1[0] = sizeof unknown;
    ck_assert_int_eq (s_raw (ctl, f1, s1, 1, NULL), COLO_CTL_E_BAD_REQUEST);
    //  Oversized.
    uint8_t *big = (uint8_t *) calloc (1, COLO_CTL_REQUEST_MAX + 100);
    f1[0] = big;
    s1[0] = COLO_CTL_REQUEST_MAX + 100;
    ck_assert_int_eq (s_raw (ctl, f1, s1, 1, NULL), COLO_CTL_E_TOO_LARGE);
    free (big);
    //  Two frames where one is expected; a REQ-style empty frame is fine.
    static const uint8_t status[] = {0x08, 0x01, 0x10, 0x01, 0x6a, 0x00};
    const void *f2[2] = {status, status};
    size_t s2[2] = {sizeof status, sizeof status};
    ck_assert_int_eq (s_raw (ctl, f2, s2, 2, NULL), COLO_CTL_E_BAD_REQUEST);
    f2[0] = "";
    s2[0] = 0;
    ck_assert_int_eq (s_raw (ctl, f2, s2, 2, NULL), COLO_CTL_OK);
    //  No body.
    static const uint8_t nobody[] = {0x08, 0x01, 0x10, 0x01};
    f1[0] = nobody;
    s1[0] = sizeof nobody;
    ck_assert_int_eq (s_raw (ctl, f1, s1, 1, NULL), COLO_CTL_E_BAD_REQUEST);

    //  Still serving, and it counted.
    colo_ctl_request_t req;
    colo_ctl_reply_t rep;
    memset (&req, 0, sizeof req);
    req.type = COLO_CTL_REQ_STATUS;
    ck_assert_int_eq (s_call (ctl, &req, &rep), COLO_CTL_OK);
    colo_ctl_reply_clear (&rep);
    ck_assert_uint_eq (colo_control_counter (ctl, COLO_CTLDB_BAD_REQUESTS), 5);
    ck_assert_uint_eq (colo_control_counter (ctl, COLO_CTLDB_BAD_ENVELOPES), 1);
    colo_control_stop (&ctl);
    s_rmdir (dir);
}
END_TEST

START_TEST (test_actor_store_failure_refuses)
{
    char dir[256];
    s_tmpdir (dir, sizeof dir);
    colo_control_t *ctl = s_start (dir, NULL, 0, NULL);
    s_add (ctl, s_rule (NULL, 6, NULL, NULL, 22), 0, COLO_CTL_OK);
    //  rules.pb.tmp as a directory: the next save cannot write.
    char tmp[300];
    snprintf (tmp, sizeof tmp, "%s/rules.pb.tmp", dir);
    ck_assert_int_eq (mkdir (tmp, 0700), 0);
    s_add (ctl, s_rule (NULL, 6, NULL, NULL, 23), 0, COLO_CTL_E_STORE_FAILED);
    ck_assert_uint_eq (colo_control_version (ctl), 1);
    ck_assert_uint_eq (colo_control_counter (ctl, COLO_CTLDB_STORE_FAILURES), 1);
    ck_assert_int_eq (rmdir (tmp), 0);
    //  Nothing changed: the same rule goes in now, with the id it would
    //  have had.
    ck_assert_uint_eq (s_add (ctl, s_rule (NULL, 6, NULL, NULL, 23), 0, COLO_CTL_OK), 2);
    colo_control_stop (&ctl);
    s_rmdir (dir);
}
END_TEST

static int
s_file_has (void *arg)
{
    const char **want = (const char **) arg;
    FILE *f = fopen (want[0], "r");
    if (!f)
        return 0;
    char buf[512] = "";
    size_t n = fread (buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose (f);
    return strstr (buf, want[1]) != NULL;
}

START_TEST (test_actor_hook_and_metrics)
{
    char dir[256];
    s_tmpdir (dir, sizeof dir);
    ck_assert_int_eq (mkdir (dir, 0700), 0);
    char hook[300], out[300], cmd[700];
    snprintf (hook, sizeof hook, "%s/hook.sh", dir);
    snprintf (out, sizeof out, "%s/hook.out", dir);
    FILE *f = fopen (hook, "w");
    fprintf (f, "#!/bin/sh\necho \"$1|$2|$3|$COLO_EVENT|$COLO_SOURCE\" >> %s\n", out);
    fclose (f);
    chmod (hook, 0700);
    snprintf (cmd, sizeof cmd, "%s", hook);
    colo_control_vm_t vms[1] = {{"vm1", cmd}};
    colo_control_t *ctl = s_start (dir, vms, 1, "127.0.0.1:0");

    colo_ctl_request_t req;
    colo_ctl_reply_t rep;
    memset (&req, 0, sizeof req);
    req.type = COLO_CTL_REQ_EVENT;
    req.event.type = COLO_CTL_EV_CHECKPOINT_REQUEST;
    snprintf (req.event.vm, sizeof req.event.vm, "vm1");
    snprintf (req.event.reason, sizeof req.event.reason, "mismatch_tcp");
    snprintf (req.event.connection, sizeof req.event.connection, "tcp 10.0.0.1:80");
    snprintf (req.event.source, sizeof req.event.source, "compare/vm1-nic0");
    ck_assert_int_eq (s_call (ctl, &req, &rep), COLO_CTL_OK);
    ck_assert_uint_eq (rep.delivered, 1);
    ck_assert_uint_ne (rep.event.id, 0);
    colo_ctl_reply_clear (&rep);
    const char *want[2] = {out, "vm1|mismatch_tcp|tcp 10.0.0.1:80|checkpoint_request|"
                                "compare/vm1-nic0\n"};
    ck_assert_int_eq (colo_test_wait (s_file_has, want, NULL, 0, 5000), 1);
    //  Another VM has no adapter: nobody gets it.
    snprintf (req.event.vm, sizeof req.event.vm, "vm2");
    ck_assert_int_eq (s_call (ctl, &req, &rep), COLO_CTL_OK);
    ck_assert_uint_eq (rep.delivered, 0);
    colo_ctl_reply_clear (&rep);

    //  Metrics over HTTP.
    int port = colo_control_metrics_port (ctl);
    ck_assert_int_gt (port, 0);
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset (&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons ((uint16_t) port);
    sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    ck_assert_int_eq (connect (fd, (struct sockaddr *) &sa, sizeof sa), 0);
    const char *get = "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n";
    ck_assert_int_eq (write (fd, get, strlen (get)), (ssize_t) strlen (get));
    static char page[65536];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof page - 1 && (n = read (fd, page + got, sizeof page - 1 - got)) > 0)
        got += (size_t) n;
    page[got] = 0;
    close (fd);
    ck_assert_ptr_nonnull (strstr (page, " 200 OK\r\n"));
    ck_assert_ptr_nonnull (strstr (page, "text/plain; version=0.0.4"));
    ck_assert_ptr_nonnull (strstr (page, "colonet_control_hooks_run_total 1\n"));
    ck_assert_ptr_nonnull (strstr (
        page, "colonet_control_events_total{vm=\"vm1\",type=\"checkpoint_request\"} 1\n"));
    colo_control_stop (&ctl);
    s_rmdir (dir);
}
END_TEST

typedef struct {
    colo_control_t *ctl;
    colo_ctldb_counter_t counter;
    uint64_t want;
} s_counter_want_t;

static int
s_counter_is (void *arg)
{
    s_counter_want_t *w = (s_counter_want_t *) arg;
    return colo_control_counter (w->ctl, w->counter) == w->want;
}

static void
s_checkpoint_request (colo_control_t *ctl, const char *reason)
{
    colo_ctl_request_t req;
    colo_ctl_reply_t rep;
    memset (&req, 0, sizeof req);
    req.type = COLO_CTL_REQ_EVENT;
    req.event.type = COLO_CTL_EV_CHECKPOINT_REQUEST;
    snprintf (req.event.vm, sizeof req.event.vm, "vm1");
    snprintf (req.event.reason, sizeof req.event.reason, "%s", reason);
    ck_assert_int_eq (s_call (ctl, &req, &rep), COLO_CTL_OK);
    ck_assert_uint_eq (rep.delivered, 1);
    colo_ctl_reply_clear (&rep);
}

//  Let the hook that is waiting on the fifo finish.
static void
s_release (const char *fifo)
{
    int fd = open (fifo, O_WRONLY);   //  blocks until the hook reads
    ck_assert_int_ge (fd, 0);
    ck_assert_int_eq (write (fd, "go\n", 3), 3);
    close (fd);
}

START_TEST (test_actor_hook_coalesces)
{
    char dir[256];
    s_tmpdir (dir, sizeof dir);
    ck_assert_int_eq (mkdir (dir, 0700), 0);
    char hook[300], out[300], fifo[300];
    snprintf (hook, sizeof hook, "%s/hook.sh", dir);
    snprintf (out, sizeof out, "%s/hook.out", dir);
    snprintf (fifo, sizeof fifo, "%s/release", dir);
    ck_assert_int_eq (mkfifo (fifo, 0600), 0);
    FILE *f = fopen (hook, "w");
    fprintf (f, "#!/bin/sh\necho \"$2\" >> %s\nread line < %s\n", out, fifo);
    fclose (f);
    chmod (hook, 0700);
    colo_control_vm_t vms[1] = {{"vm1", hook}};
    colo_control_t *ctl = s_start (dir, vms, 1, NULL);

    //  The first request runs the hook; two more while it runs fold into
    //  one more run, with the latest request's reason.
    s_checkpoint_request (ctl, "r1");
    const char *first[2] = {out, "r1\n"};
    ck_assert_int_eq (colo_test_wait (s_file_has, first, NULL, 0, 5000), 1);
    s_checkpoint_request (ctl, "r2");
    s_checkpoint_request (ctl, "r3");
    ck_assert_uint_eq (colo_control_counter (ctl, COLO_CTLDB_HOOKS_RUN), 1);
    ck_assert_uint_eq (colo_control_counter (ctl, COLO_CTLDB_HOOKS_COALESCED), 2);
    s_release (fifo);
    const char *second[2] = {out, "r1\nr3\n"};
    ck_assert_int_eq (colo_test_wait (s_file_has, second, NULL, 0, 5000), 1);
    s_counter_want_t w = {ctl, COLO_CTLDB_HOOKS_RUN, 2};
    ck_assert_int_eq (colo_test_wait (s_counter_is, &w, NULL, 0, 5000), 1);
    s_release (fifo);
    //  Both runs ended well; nothing more runs.
    w.counter = COLO_CTLDB_HOOKS_FAILED;
    w.want = 0;
    ck_assert_int_eq (s_counter_is (&w), 1);
    colo_control_stop (&ctl);
    s_rmdir (dir);
}
END_TEST

START_TEST (test_actor_config_check)
{
    colo_control_config_t cfg;
    colo_control_config_defaults (&cfg);
    char err[256];
    ck_assert_int_eq (colo_control_config_check (&cfg, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "store"));
    cfg.store = "/tmp/x";
    ck_assert_int_eq (colo_control_config_check (&cfg, err, sizeof err), 0);
    cfg.api = "udp://x";
    ck_assert_int_eq (colo_control_config_check (&cfg, err, sizeof err), -1);
    cfg.api = "zmq+tcp://127.0.0.1:7100";
    cfg.metrics = "nonsense";
    ck_assert_int_eq (colo_control_config_check (&cfg, err, sizeof err), -1);
    cfg.metrics = "[::1]:9100";
    ck_assert_int_eq (colo_control_config_check (&cfg, err, sizeof err), 0);
    cfg.curve_keys = "/nonexistent";
    ck_assert_int_eq (colo_control_config_check (&cfg, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "clients"));
    cfg.curve_keys = NULL;
    colo_control_vm_t vms[1] = {{"vm1", "/nonexistent/hook"}};
    cfg.vms = vms;
    cfg.n_vms = 1;
    ck_assert_int_eq (colo_control_config_check (&cfg, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "checkpoint-hook"));
    vms[0].checkpoint_hook = "/bin/true --flag";
    ck_assert_int_eq (colo_control_config_check (&cfg, err, sizeof err), 0);
    vms[0].vm = "bad name";
    ck_assert_int_eq (colo_control_config_check (&cfg, err, sizeof err), -1);
}
END_TEST

Suite *
colo_control_suite (void)
{
    Suite *s = suite_create ("colo_control");
    TCase *tc = tcase_create ("db");
    tcase_add_test (tc, test_db_add_del_versions);
    tcase_add_test (tc, test_db_undo_and_load);
    tcase_add_test (tc, test_db_instances_and_targets);
    tcase_add_test (tc, test_store_durable_files);
    suite_add_tcase (s, tc);
    tc = tcase_create ("actor");
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, test_actor_rules_and_restart);
    tcase_add_test (tc, test_actor_bad_requests);
    tcase_add_test (tc, test_actor_store_failure_refuses);
    tcase_add_test (tc, test_actor_hook_and_metrics);
    tcase_add_test (tc, test_actor_hook_coalesces);
    tcase_add_test (tc, test_actor_config_check);
    suite_add_tcase (s, tc);
    return s;
}
