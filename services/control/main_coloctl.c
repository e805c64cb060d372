/*  main_coloctl.c - coloctl: the command line client of colo-control.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Exit codes: 0 success, 1 refused by the service (the reason on
 *  stderr), 2 usage (or an unusable control URI or key), 3 no reply
 *  within the timeout.  With --json, results (and refusals) are one JSON
 *  object on stdout.
 */
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <czmq.h>

#include "colo_config.h"
#include "colo_ctlclient.h"
#include "colo_ctlcodec.h"
#include "colo_log.h"
#include "colo_ruleset.h"

#define S_TIMEOUT_DEFAULT 5000
#define S_CONTROL_DEFAULT "tcp://127.0.0.1:7100"

enum { S_OK = 0, S_REFUSED = 1, S_USAGE = 2, S_UNREACHABLE = 3 };

static const char *s_usage
    = "usage: coloctl [--control URI] [--timeout MS] [--json] COMMAND\n"
      "  passthrough add [--vm ID] [--proto tcp|udp|icmp|icmpv6|NUMBER] [--src CIDR]\n"
      "                  [--dst CIDR] [--sport P[-Q]] [--dport P[-Q]] [--force]\n"
      "                  [--comment TEXT]          prints the new rule's id\n"
      "  passthrough del ID\n"
      "  passthrough list [--vm ID]\n"
      "  status\n"
      "  stats [--vm ID]\n"
      "  checkpoint-done --vm ID\n"
      "  failover --vm ID\n"
      "  keygen PATH                               writes PATH and PATH_secret\n"
      "  watch --vm ID [--as KIND] [--instance NAME]\n"
      "                  register as an instance (default: adapter) and print its\n"
      "                  rules version and events, one line each, until interrupted\n"
      "URI: tcp://HOST:PORT or ipc://PATH [,curve-server=KEY|FILE,curve-secret=FILE]\n"
      "     (default: $COLO_CONTROL, else " S_CONTROL_DEFAULT ")\n";

typedef struct {
    const char *control;
    int timeout_ms;
    int json;
    const char *vm, *proto, *src, *dst, *sport, *dport, *comment;
    const char *as, *instance;
    int force;
} s_opts_t;

static int
s_usage_error (const char *fmt, const char *arg)
{
    fprintf (stderr, "coloctl: ");
    fprintf (stderr, fmt, arg);
    fprintf (stderr, "\n%s", s_usage);
    return S_USAGE;
}

// ---------------------------------------------------------------- JSON

static void
s_json_str (const char *s)
{
    if (!s) {
        fputs ("null", stdout);
        return;
    }
    putchar ('"');
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf (stdout, "\\%c", *p);
        else if (*p < 0x20)
            fprintf (stdout, "\\u%04x", *p);
        else
            putchar (*p);
    }
    putchar ('"');
}

static const char *
s_ports (uint8_t has, uint16_t lo, uint16_t hi, char *buf, size_t cap)
{
    if (!has)
        return NULL;
    if (lo == hi)
        snprintf (buf, cap, "%u", lo);
    else
        snprintf (buf, cap, "%u-%u", lo, hi);
    return buf;
}

//  hits < 0: unknown, left out.
static void
s_rule_json (const colo_rule_t *r, int64_t hits)
{
    char proto[16], src[64], dst[64], sport[16], dport[16];
    fprintf (stdout, "{\"id\":%llu,\"version\":%llu,\"vm\":", (unsigned long long) r->id,
            (unsigned long long) r->version);
    s_json_str (r->vm[0] ? r->vm : NULL);
    fputs (",\"proto\":", stdout);
    s_json_str (r->proto >= 0 ? colo_proto_format (r->proto, proto, sizeof proto) : NULL);
    fputs (",\"src\":", stdout);
    s_json_str (r->src.family ? colo_cidr_format (&r->src, src, sizeof src) : NULL);
    fputs (",\"sport\":", stdout);
    s_json_str (s_ports (r->has_sport, r->sport_lo, r->sport_hi, sport, sizeof sport));
    fputs (",\"dst\":", stdout);
    s_json_str (r->dst.family ? colo_cidr_format (&r->dst, dst, sizeof dst) : NULL);
    fputs (",\"dport\":", stdout);
    s_json_str (s_ports (r->has_dport, r->dport_lo, r->dport_hi, dport, sizeof dport));
    fputs (",\"comment\":", stdout);
    s_json_str (r->comment[0] ? r->comment : NULL);
    if (hits >= 0)
        fprintf (stdout, ",\"hits\":%lld", (long long) hits);
    putchar ('}');
}

static void
s_counters_json (const colo_ctl_counter_t *c, size_t n)
{
    putchar ('{');
    for (size_t i = 0; i < n; i++) {
        if (i)
            putchar (',');
        s_json_str (c[i].name);
        fprintf (stdout, ":%llu", (unsigned long long) c[i].value);
    }
    putchar ('}');
}

// ---------------------------------------------------------------- commands

//  Send req; print a refusal; return an exit code (S_OK: rep holds the reply).
static int
s_call (const s_opts_t *o, colo_ctl_request_t *req, colo_ctl_reply_t *rep)
{
    char err[512];
    int rc = colo_ctl_call (o->control, req, rep, o->timeout_ms, err, sizeof err);
    if (rc == -2) {
        fprintf (stderr, "coloctl: %s\n", err);
        return S_USAGE;
    }
    if (rc != 0) {
        fprintf (stderr, "coloctl: %s (is colo-control running, and are the keys right?)\n",
                 err);
        if (o->json)
            fprintf (stdout, "{\"ok\":false,\"error\":\"unreachable\",\"message\":\"%s\"}\n",
                    "no reply");
        return S_UNREACHABLE;
    }
    if (rep->error != COLO_CTL_OK) {
        fprintf (stderr, "coloctl: refused (%s): %s\n", colo_ctl_error_name (rep->error),
                 rep->message);
        if (o->json) {
            fprintf (stdout, "{\"ok\":false,\"error\":\"%s\",\"message\":",
                    colo_ctl_error_name (rep->error));
            s_json_str (rep->message);
            if (rep->rule_id)
                fprintf (stdout, ",\"id\":%llu", (unsigned long long) rep->rule_id);
            puts ("}");
        }
        colo_ctl_reply_clear (rep);
        return S_REFUSED;
    }
    return S_OK;
}

static int
s_rule_from_opts (const s_opts_t *o, colo_rule_t *r)
{
    colo_rule_init (r);
    if (o->vm && snprintf (r->vm, sizeof r->vm, "%s", o->vm) >= (int) sizeof r->vm)
        return s_usage_error ("--vm '%s': too long", o->vm);
    if (o->comment
        && snprintf (r->comment, sizeof r->comment, "%s", o->comment) >= (int) sizeof r->comment)
        return s_usage_error ("--comment: at most %s bytes", "127");
    if (o->proto && colo_rule_parse_proto (o->proto, &r->proto) != 0)
        return s_usage_error ("--proto '%s': tcp, udp, icmp, icmpv6 or 0..255", o->proto);
    if (o->src && colo_rule_parse_cidr (o->src, &r->src) != 0)
        return s_usage_error ("--src '%s': an address or ADDRESS/LENGTH with no host bits",
                              o->src);
    if (o->dst && colo_rule_parse_cidr (o->dst, &r->dst) != 0)
        return s_usage_error ("--dst '%s': an address or ADDRESS/LENGTH with no host bits",
                              o->dst);
    if (o->sport) {
        if (colo_rule_parse_ports (o->sport, &r->sport_lo, &r->sport_hi) != 0)
            return s_usage_error ("--sport '%s': P or P-Q within 0..65535", o->sport);
        r->has_sport = 1;
    }
    if (o->dport) {
        if (colo_rule_parse_ports (o->dport, &r->dport_lo, &r->dport_hi) != 0)
            return s_usage_error ("--dport '%s': P or P-Q within 0..65535", o->dport);
        r->has_dport = 1;
    }
    return S_OK;
}

static int
s_cmd_add (const s_opts_t *o)
{
    colo_ctl_request_t req;
    memset (&req, 0, sizeof req);
    req.type = COLO_CTL_REQ_RULE_ADD;
    req.force = o->force;
    int rc = s_rule_from_opts (o, &req.rule);
    if (rc != S_OK)
        return rc;
    char why[128];
    if (colo_rule_validate (&req.rule, why, sizeof why) != 0)
        return s_usage_error ("%s", why);
    colo_ctl_reply_t rep;
    rc = s_call (o, &req, &rep);
    if (rc != S_OK)
        return rc;
    if (o->json)
        fprintf (stdout, "{\"ok\":true,\"id\":%llu,\"version\":%llu}\n",
                (unsigned long long) rep.rule_id, (unsigned long long) rep.rules_version);
    else
        fprintf (stdout, "%llu\n", (unsigned long long) rep.rule_id);
    colo_ctl_reply_clear (&rep);
    return S_OK;
}

static int
s_cmd_del (const s_opts_t *o, const char *id_text)
{
    uint64_t id;
    if (colo_config_parse_u64 (id_text, 1, UINT64_MAX, &id) != 0)
        return s_usage_error ("'%s': a rule id is a positive number", id_text);
    colo_ctl_request_t req;
    memset (&req, 0, sizeof req);
    req.type = COLO_CTL_REQ_RULE_DEL;
    req.rule_id = id;
    colo_ctl_reply_t rep;
    int rc = s_call (o, &req, &rep);
    if (rc != S_OK)
        return rc;
    if (o->json)
        fprintf (stdout, "{\"ok\":true,\"id\":%llu,\"version\":%llu}\n", (unsigned long long) id,
                (unsigned long long) rep.rules_version);
    else
        fprintf (stdout, "deleted %llu\n", (unsigned long long) id);
    colo_ctl_reply_clear (&rep);
    return S_OK;
}

//  Frames each rule let out, summed over the compare instances colo-control
//  knows (of vm, or all): their "rule.ID" counters, which count since each
//  instance started.  hits[i] for rules[i]; -1 each if status fails.
static void
s_rule_hits (const s_opts_t *o, const colo_rule_t *rules, size_t n, int64_t *hits)
{
    for (size_t i = 0; i < n; i++)
        hits[i] = -1;
    colo_ctl_request_t req;
    memset (&req, 0, sizeof req);
    req.type = COLO_CTL_REQ_STATUS;
    colo_ctl_reply_t rep;
    s_opts_t quiet = *o;   //  a failure here goes to stderr, not into the list's JSON
    quiet.json = 0;
    if (n == 0 || s_call (&quiet, &req, &rep) != S_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf (name, sizeof name, "rule.%llu", (unsigned long long) rules[i].id);
        hits[i] = 0;
        for (size_t k = 0; k < rep.n_instances; k++) {
            const colo_ctl_instance_t *in = &rep.instances[k];
            if (strcmp (in->kind, "compare") != 0 || (o->vm && strcmp (in->vm, o->vm) != 0))
                continue;
            for (size_t c = 0; c < in->n_counters; c++)
                if (strcmp (in->counters[c].name, name) == 0)
                    hits[i] += (int64_t) in->counters[c].value;
        }
    }
    colo_ctl_reply_clear (&rep);
}

static int
s_cmd_list (const s_opts_t *o)
{
    colo_ctl_request_t req;
    memset (&req, 0, sizeof req);
    req.type = COLO_CTL_REQ_RULE_LIST;
    if (o->vm) {
        req.has_vm = 1;
        if (snprintf (req.vm, sizeof req.vm, "%s", o->vm) >= (int) sizeof req.vm)
            return s_usage_error ("--vm '%s': too long", o->vm);
    }
    colo_ctl_reply_t rep;
    int rc = s_call (o, &req, &rep);
    if (rc != S_OK)
        return rc;
    //  Without memory for them, the hits are unknown ("-"), the list is not.
    int64_t *hits = (int64_t *) calloc (rep.n_rules ? rep.n_rules : 1, sizeof (int64_t));
    if (hits)
        s_rule_hits (o, rep.rules, rep.n_rules, hits);
    if (o->json) {
        fprintf (stdout, "{\"ok\":true,\"version\":%llu,\"rules\":[",
                (unsigned long long) rep.rules_version);
        for (size_t i = 0; i < rep.n_rules; i++) {
            if (i)
                putchar (',');
            s_rule_json (&rep.rules[i], hits ? hits[i] : -1);
        }
        puts ("]}");
    }
    else {
        fprintf (stdout, "%-6s %-12s %-6s %-24s %-11s %-24s %-11s %-10s %s\n", "ID", "VM", "PROTO",
                "SRC", "SPORT", "DST", "DPORT", "HITS", "COMMENT");
        for (size_t i = 0; i < rep.n_rules; i++) {
            const colo_rule_t *r = &rep.rules[i];
            char proto[16], src[64], dst[64], sport[16], dport[16];
            const char *sp = s_ports (r->has_sport, r->sport_lo, r->sport_hi, sport,
                                      sizeof sport);
            const char *dp = s_ports (r->has_dport, r->dport_lo, r->dport_hi, dport,
                                      sizeof dport);
            char hit[24];
            if (!hits || hits[i] < 0)
                snprintf (hit, sizeof hit, "-");
            else
                snprintf (hit, sizeof hit, "%lld", (long long) hits[i]);
            fprintf (stdout, "%-6llu %-12s %-6s %-24s %-11s %-24s %-11s %-10s %s\n",
                    (unsigned long long) r->id, r->vm[0] ? r->vm : "*",
                    colo_proto_format (r->proto, proto, sizeof proto),
                    colo_cidr_format (&r->src, src, sizeof src), sp ? sp : "any",
                    colo_cidr_format (&r->dst, dst, sizeof dst), dp ? dp : "any", hit,
                    r->comment);
        }
    }
    free (hits);
    colo_ctl_reply_clear (&rep);
    return S_OK;
}

static int
s_cmd_status (const s_opts_t *o)
{
    colo_ctl_request_t req;
    memset (&req, 0, sizeof req);
    req.type = COLO_CTL_REQ_STATUS;
    colo_ctl_reply_t rep;
    int rc = s_call (o, &req, &rep);
    if (rc != S_OK)
        return rc;
    if (o->json) {
        fprintf (stdout, "{\"ok\":true,\"version\":%llu,\"instances\":[",
                (unsigned long long) rep.rules_version);
        for (size_t i = 0; i < rep.n_instances; i++) {
            const colo_ctl_instance_t *in = &rep.instances[i];
            fprintf (stdout, "%s{\"kind\":", i ? "," : "");
            s_json_str (in->kind);
            fputs (",\"instance\":", stdout);
            s_json_str (in->instance);
            fputs (",\"vm\":", stdout);
            s_json_str (in->vm);
            fprintf (stdout, ",\"rules_version\":%llu,\"last_heartbeat_ms\":%llu,\"alive\":%s,"
                    "\"counters\":",
                    (unsigned long long) in->rules_version, (unsigned long long) in->age_ms,
                    in->alive ? "true" : "false");
            s_counters_json (in->counters, in->n_counters);
            putchar ('}');
        }
        puts ("]}");
    }
    else {
        fprintf (stdout, "rules version %llu\n", (unsigned long long) rep.rules_version);
        fprintf (stdout, "%-12s %-9s %-16s %-8s %-14s %-6s %s\n", "VM", "KIND", "INSTANCE", "RULES",
                "HEARTBEAT", "STATE", "COUNTERS");
        for (size_t i = 0; i < rep.n_instances; i++) {
            const colo_ctl_instance_t *in = &rep.instances[i];
            char version[24], age[24];
            snprintf (version, sizeof version, "%llu%s", (unsigned long long) in->rules_version,
                      in->rules_version < rep.rules_version ? "*" : "");
            snprintf (age, sizeof age, "%.1fs ago", (double) in->age_ms / 1000.0);
            fprintf (stdout, "%-12s %-9s %-16s %-8s %-14s %-6s", in->vm, in->kind, in->instance,
                    version, age, in->alive ? "alive" : "DEAD");
            for (size_t c = 0; c < in->n_counters; c++)
                if (in->counters[c].value)
                    fprintf (stdout, " %s=%llu", in->counters[c].name,
                            (unsigned long long) in->counters[c].value);
            putchar ('\n');
        }
    }
    colo_ctl_reply_clear (&rep);
    return S_OK;
}

static int
s_cmd_stats (const s_opts_t *o)
{
    colo_ctl_request_t req;
    memset (&req, 0, sizeof req);
    req.type = COLO_CTL_REQ_STATS;
    if (o->vm) {
        req.has_vm = 1;
        if (snprintf (req.vm, sizeof req.vm, "%s", o->vm) >= (int) sizeof req.vm)
            return s_usage_error ("--vm '%s': too long", o->vm);
    }
    colo_ctl_reply_t rep;
    int rc = s_call (o, &req, &rep);
    if (rc != S_OK)
        return rc;
    if (o->json) {
        fprintf (stdout, "{\"ok\":true,\"version\":%llu,\"groups\":{",
                (unsigned long long) rep.rules_version);
        for (size_t i = 0; i < rep.n_groups; i++) {
            if (i)
                putchar (',');
            s_json_str (rep.groups[i].name);
            putchar (':');
            s_counters_json (rep.groups[i].counters, rep.groups[i].n_counters);
        }
        puts ("}}");
    }
    else
        for (size_t i = 0; i < rep.n_groups; i++) {
            fprintf (stdout, "[%s]\n", rep.groups[i].name);
            for (size_t c = 0; c < rep.groups[i].n_counters; c++)
                fprintf (stdout, "  %-32s %llu\n", rep.groups[i].counters[c].name,
                        (unsigned long long) rep.groups[i].counters[c].value);
        }
    colo_ctl_reply_clear (&rep);
    return S_OK;
}

static int
s_cmd_event (const s_opts_t *o, colo_ctl_event_type_t type, const char *name)
{
    if (!o->vm)
        return s_usage_error ("%s needs --vm ID", name);
    colo_ctl_request_t req;
    memset (&req, 0, sizeof req);
    req.type = COLO_CTL_REQ_EVENT;
    req.event.type = type;
    if (snprintf (req.event.vm, sizeof req.event.vm, "%s", o->vm) >= (int) sizeof req.event.vm)
        return s_usage_error ("--vm '%s': too long", o->vm);
    snprintf (req.event.source, sizeof req.event.source, "coloctl");
    colo_ctl_reply_t rep;
    int rc = s_call (o, &req, &rep);
    if (rc != S_OK)
        return rc;
    if (o->json)
        fprintf (stdout, "{\"ok\":true,\"event_id\":%llu,\"delivered\":%u}\n",
                (unsigned long long) rep.event.id, rep.delivered);
    else
        fprintf (stdout, "%s for vm %s delivered to %u instance%s\n", name, o->vm, rep.delivered,
                rep.delivered == 1 ? "" : "s");
    colo_ctl_reply_clear (&rep);
    return S_OK;
}

static int
s_cmd_keygen (const s_opts_t *o, const char *path)
{
    zcert_t *cert = zcert_new ();
    char secret[4096];
    snprintf (secret, sizeof secret, "%s_secret", path);
    if (!cert || zcert_save (cert, path) != 0) {
        fprintf (stderr, "coloctl: cannot write %s and %s\n", path, secret);
        zcert_destroy (&cert);
        return S_REFUSED;
    }
    if (o->json)
        fprintf (stdout, "{\"ok\":true,\"public\":\"%s\",\"secret_file\":\"%s\"}\n",
                zcert_public_txt (cert), secret);
    else
        fprintf (stdout, "%s\n", zcert_public_txt (cert));
    zcert_destroy (&cert);
    return S_OK;
}

//  Register as an instance and print what it gets.  Text lines:
//    connected | disconnected
//    rules VERSION COUNT
//    event TYPE VM ID REASON CONNECTION SOURCE      (tab-separated)
//  or the same as one JSON object per line.
static int
s_cmd_watch (const s_opts_t *o)
{
    if (!o->vm)
        return s_usage_error ("%s needs --vm ID", "watch");
    const char *kind = o->as ? o->as : "adapter";
    char name[COLO_CTL_NAME_MAX + 1];
    if (o->instance)
        snprintf (name, sizeof name, "%s", o->instance);
    else
        snprintf (name, sizeof name, "coloctl-%d", (int) getpid ());
    sigset_t sigs;
    sigemptyset (&sigs);
    sigaddset (&sigs, SIGINT);
    sigaddset (&sigs, SIGTERM);
    sigprocmask (SIG_BLOCK, &sigs, NULL);
    int sig_fd = signalfd (-1, &sigs, SFD_CLOEXEC);
    colo_ctlclient_t *c = colo_ctlclient_new (o->control, kind, name, o->vm);
    if (!c || sig_fd < 0) {
        colo_ctlclient_destroy (&c);
        if (sig_fd >= 0)
            close (sig_fd);
        return S_USAGE;
    }
    setvbuf (stdout, NULL, _IOLBF, 0);
    int connected = 0;
    uint64_t version = 0;
    int have = 0;
    while (1) {
        colo_ctlclient_process (c, colo_clock_mono_ms ());
        int now_connected = colo_ctlclient_connected (c);
        if (now_connected != connected) {
            connected = now_connected;
            if (o->json)
                fprintf (stdout, "{\"connected\":%s}\n", connected ? "true" : "false");
            else
                puts (connected ? "connected" : "disconnected");
        }
        const colo_ruleset_t *rs = colo_ctlclient_rules (c);
        if (rs && (!have || colo_ruleset_version (rs) != version)) {
            have = 1;
            version = colo_ruleset_version (rs);
            if (o->json)
                fprintf (stdout, "{\"rules_version\":%llu,\"rules\":%zu}\n",
                        (unsigned long long) version, colo_ruleset_count (rs));
            else
                fprintf (stdout, "rules %llu %zu\n", (unsigned long long) version,
                        colo_ruleset_count (rs));
        }
        colo_ctl_event_t ev;
        while (colo_ctlclient_next_event (c, &ev)) {
            if (o->json) {
                fprintf (stdout, "{\"event\":\"%s\",\"vm\":", colo_ctl_event_name (ev.type));
                s_json_str (ev.vm);
                fprintf (stdout, ",\"id\":%llu,\"reason\":", (unsigned long long) ev.id);
                s_json_str (ev.reason);
                fputs (",\"connection\":", stdout);
                s_json_str (ev.connection);
                fputs (",\"source\":", stdout);
                s_json_str (ev.source);
                puts ("}");
            }
            else
                fprintf (stdout, "event\t%s\t%s\t%llu\t%s\t%s\t%s\n", colo_ctl_event_name (ev.type),
                        ev.vm, (unsigned long long) ev.id, ev.reason, ev.connection,
                        ev.source);
        }
        struct pollfd pfd[2] = {{colo_ctlclient_fd (c), POLLIN, 0}, {sig_fd, POLLIN, 0}};
        //  The client's fd wakes us for heartbeats; the second is a backstop
        //  for "connected" turning false without any input.
        poll (pfd, 2, 1000);
        if (pfd[1].revents & POLLIN)
            break;
    }
    colo_ctlclient_destroy (&c);
    close (sig_fd);
    return S_OK;
}

//  Which options each command takes (beyond --control, --timeout, --json).
static int
s_only (const s_opts_t *o, const char *allowed, const char *command)
{
    struct {
        const char *name;
        int set;
    } opts[] = {
        {"vm", o->vm != NULL},       {"proto", o->proto != NULL}, {"src", o->src != NULL},
        {"dst", o->dst != NULL},     {"sport", o->sport != NULL}, {"dport", o->dport != NULL},
        {"comment", o->comment != NULL}, {"force", o->force},
    };
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        if (opts[i].set && !strstr (allowed, opts[i].name)) {
            fprintf (stderr, "coloctl: %s takes no --%s\n%s", command, opts[i].name, s_usage);
            return -1;
        }
    return 0;
}

int
main (int argc, char **argv)
{
    static const struct option options[] = {
        {"control", required_argument, NULL, 'c'},
        {"timeout", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {"vm", required_argument, NULL, 'V'},
        {"proto", required_argument, NULL, 'p'},
        {"src", required_argument, NULL, 's'},
        {"dst", required_argument, NULL, 'd'},
        {"sport", required_argument, NULL, 'S'},
        {"dport", required_argument, NULL, 'D'},
        {"comment", required_argument, NULL, 'm'},
        {"force", no_argument, NULL, 'f'},
        {"as", required_argument, NULL, 'A'},
        {"instance", required_argument, NULL, 'I'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    s_opts_t o;
    memset (&o, 0, sizeof o);
    o.control = getenv ("COLO_CONTROL");
    if (!o.control || !*o.control)
        o.control = S_CONTROL_DEFAULT;
    o.timeout_ms = S_TIMEOUT_DEFAULT;
    int verbose = 0;
    int opt;
    while ((opt = getopt_long (argc, argv, "vh", options, NULL)) != -1) {
        switch (opt) {
            case 'c': o.control = optarg; break;
            case 't': {
                uint64_t ms;
                if (colo_config_parse_u64 (optarg, 1, 3600000, &ms) != 0)
                    return s_usage_error ("--timeout '%s': 1 to 3600000 ms", optarg);
                o.timeout_ms = (int) ms;
                break;
            }
            case 'j': o.json = 1; break;
            case 'V': o.vm = optarg; break;
            case 'p': o.proto = optarg; break;
            case 's': o.src = optarg; break;
            case 'd': o.dst = optarg; break;
            case 'S': o.sport = optarg; break;
            case 'D': o.dport = optarg; break;
            case 'm': o.comment = optarg; break;
            case 'f': o.force = 1; break;
            case 'A': o.as = optarg; break;
            case 'I': o.instance = optarg; break;
            case 'v': verbose++; break;
            case 'h': fputs (s_usage, stdout); return S_OK;
            default: fputs (s_usage, stderr); return S_USAGE;
        }
    }
    colo_log_set_ident ("coloctl");
    colo_log_set_level ((colo_log_level_t) (COLO_LOG_WARN + verbose));
    int n = argc - optind;
    char **args = argv + optind;
    if ((o.as || o.instance) && !(n == 1 && strcmp (args[0], "watch") == 0))
        return s_usage_error ("%s", "--as and --instance go with watch only");
    if (n < 1) {
        fputs (s_usage, stderr);
        return S_USAGE;
    }
    const char *cmd = args[0];
    if (strcmp (cmd, "passthrough") == 0 && n >= 2) {
        const char *sub = args[1];
        if (strcmp (sub, "add") == 0 && n == 2)
            return s_cmd_add (&o);
        if (strcmp (sub, "del") == 0 && n == 3)
            return s_only (&o, "", "passthrough del") ? S_USAGE : s_cmd_del (&o, args[2]);
        if (strcmp (sub, "list") == 0 && n == 2)
            return s_only (&o, "vm", "passthrough list") ? S_USAGE : s_cmd_list (&o);
    }
    else if (strcmp (cmd, "status") == 0 && n == 1)
        return s_only (&o, "", cmd) ? S_USAGE : s_cmd_status (&o);
    else if (strcmp (cmd, "stats") == 0 && n == 1)
        return s_only (&o, "vm", cmd) ? S_USAGE : s_cmd_stats (&o);
    else if (strcmp (cmd, "checkpoint-done") == 0 && n == 1)
        return s_only (&o, "vm", cmd) ? S_USAGE
                                      : s_cmd_event (&o, COLO_CTL_EV_CHECKPOINT_DONE, cmd);
    else if (strcmp (cmd, "failover") == 0 && n == 1)
        return s_only (&o, "vm", cmd) ? S_USAGE : s_cmd_event (&o, COLO_CTL_EV_FAILOVER, cmd);
    else if (strcmp (cmd, "watch") == 0 && n == 1)
        return s_only (&o, "vm", cmd) ? S_USAGE : s_cmd_watch (&o);
    else if (strcmp (cmd, "keygen") == 0 && n == 2)
        return s_only (&o, "", cmd) ? S_USAGE : s_cmd_keygen (&o, args[1]);
    fputs (s_usage, stderr);
    return S_USAGE;
}
