/*  colo_ctlcodec.c - the control protocol's codec: plain C structs <-> protobuf bytes.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo_ctlcodec.h"

#include "control.pb-c.h"

static const char *const s_error_names[COLO_CTL_E_COUNT] = {
    "ok",          "bad_request", "bad_version",  "too_large", "invalid",  "duplicate",
    "matches_all", "not_found",   "store_failed", "full",      "internal",
};

const char *
colo_ctl_error_name (int code)
{
    return code >= 0 && code < COLO_CTL_E_COUNT ? s_error_names[code] : "unknown";
}

static const char *const s_event_names[COLO_CTL_EV_COUNT] = {
    "none",
    "checkpoint_request",
    "checkpoint_done",
    "failover",
};

const char *
colo_ctl_event_name (int type)
{
    return type >= 0 && type < COLO_CTL_EV_COUNT ? s_event_names[type] : "unknown";
}

static const char *const s_req_names[COLO_CTL_REQ_COUNT] = {
    "none",  "rule_add", "rule_del", "rule_list", "status",
    "stats", "event",    "hello",    "snapshot",
};

const char *
colo_ctl_req_name (int type)
{
    return type >= 0 && type < COLO_CTL_REQ_COUNT ? s_req_names[type] : "unknown";
}

// ---------------------------------------------------------------- clearing

void
colo_ctl_instance_clear (colo_ctl_instance_t *inst)
{
    if (!inst)
        return;
    free (inst->counters);
    memset (inst, 0, sizeof *inst);
}

int
colo_ctl_instance_copy (colo_ctl_instance_t *dst, const colo_ctl_instance_t *src)
{
    *dst = *src;
    dst->counters = NULL;
    dst->n_counters = 0;
    if (src->n_counters) {
        dst->counters =
            (colo_ctl_counter_t *)malloc (src->n_counters * sizeof *dst->counters);
        if (!dst->counters) {
            memset (dst, 0, sizeof *dst);
            return -1;
        }
        memcpy (dst->counters, src->counters, src->n_counters * sizeof *dst->counters);
        dst->n_counters = src->n_counters;
    }
    return 0;
}

void
colo_ctl_request_clear (colo_ctl_request_t *req)
{
    if (!req)
        return;
    colo_ctl_instance_clear (&req->hello);
    memset (req, 0, sizeof *req);
}

void
colo_ctl_reply_clear (colo_ctl_reply_t *rep)
{
    if (!rep)
        return;
    free (rep->rules);
    for (size_t i = 0; i < rep->n_instances; i++)
        colo_ctl_instance_clear (&rep->instances[i]);
    free (rep->instances);
    for (size_t i = 0; i < rep->n_groups; i++)
        free (rep->groups[i].counters);
    free (rep->groups);
    memset (rep, 0, sizeof *rep);
}

void
colo_ctl_store_clear (colo_ctl_store_t *store)
{
    if (!store)
        return;
    free (store->rules);
    memset (store, 0, sizeof *store);
}


// ---------------------------------------------------------------- helpers

static void
s_err (char *err, size_t cap, const char *fmt, ...)
{
    if (!err || !cap)
        return;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (err, cap, fmt, ap);
    va_end (ap);
}

//  A string field in: NULL is "", longer than cap-1 is refused.
static int
s_str_in (char *dst, size_t cap, const char *src, const char *field, char *err,
          size_t err_cap)
{
    if (!src) {
        dst[0] = 0;
        return 0;
    }
    size_t len = strlen (src);
    if (len >= cap) {
        s_err (err, err_cap, "%s: longer than %zu bytes", field, cap - 1);
        return -1;
    }
    memcpy (dst, src, len + 1);
    return 0;
}

//  A string field out: NULL (absent) when empty; -1 if not terminated.
static int
s_str_out (char **dst, const char *src, size_t cap)
{
    size_t len = strnlen (src, cap);
    if (len == cap)
        return -1;
    *dst = len ? (char *)src : NULL;
    return 0;
}

//  Internal results: 0, S_INVALID (a value out of range), S_UNKNOWN (a
//  field the schema does not know: a bad request, not a bad value).
#define S_INVALID (-1)
#define S_UNKNOWN (-2)

static colo_ctl_error_t
s_code (int rc)
{
    return rc == S_UNKNOWN ? COLO_CTL_E_BAD_REQUEST : COLO_CTL_E_INVALID;
}

static int
s_no_unknown (const ProtobufCMessage *m, const char *what, char *err, size_t err_cap)
{
    if (m && m->n_unknown_fields > 0) {
        s_err (err, err_cap, "%s: unknown field %u", what, m->unknown_fields[0].tag);
        return S_UNKNOWN;
    }
    return 0;
}

// ---------------------------------------------------------------- rules

typedef struct {
    Colonet__Rule rule;
    Colonet__Cidr src, dst;
    Colonet__PortRange sport, dport;
} s_pb_rule_t;

static void
s_cidr_out (Colonet__Cidr *pb, const colo_cidr_t *c)
{
    colonet__cidr__init (pb);
    pb->has_addr = 1;
    pb->addr.len = c->family == 4 ? 4 : 16;
    pb->addr.data = (uint8_t *)c->addr;
    pb->has_prefix_len = 1;
    pb->prefix_len = c->prefix_len;
}

static int
s_rule_out (s_pb_rule_t *out, const colo_rule_t *r)
{
    Colonet__Rule *pb = &out->rule;
    colonet__rule__init (pb);
    if (r->id) {
        pb->has_id = 1;
        pb->id = r->id;
    }
    if (r->version) {
        pb->has_version = 1;
        pb->version = r->version;
    }
    if (s_str_out (&pb->vm, r->vm, sizeof r->vm) != 0
        || s_str_out (&pb->comment, r->comment, sizeof r->comment) != 0)
        return -1;
    if (r->proto >= 0) {
        pb->has_proto = 1;
        pb->proto = (uint32_t)r->proto;
    }
    if (r->src.family) {
        s_cidr_out (&out->src, &r->src);
        pb->src = &out->src;
    }
    if (r->dst.family) {
        s_cidr_out (&out->dst, &r->dst);
        pb->dst = &out->dst;
    }
    if (r->has_sport) {
        colonet__port_range__init (&out->sport);
        out->sport.has_lo = out->sport.has_hi = 1;
        out->sport.lo = r->sport_lo;
        out->sport.hi = r->sport_hi;
        pb->sport = &out->sport;
    }
    if (r->has_dport) {
        colonet__port_range__init (&out->dport);
        out->dport.has_lo = out->dport.has_hi = 1;
        out->dport.lo = r->dport_lo;
        out->dport.hi = r->dport_hi;
        pb->dport = &out->dport;
    }
    return 0;
}

static int
s_cidr_in (colo_cidr_t *c, const Colonet__Cidr *pb, const char *what, char *err,
           size_t err_cap)
{
    memset (c, 0, sizeof *c);
    if (!pb)
        return 0;
    if (s_no_unknown (&pb->base, what, err, err_cap) != 0)
        return S_UNKNOWN;
    if (!pb->has_addr || (pb->addr.len != 4 && pb->addr.len != 16)) {
        s_err (err, err_cap, "%s: an address of 4 or 16 bytes is required", what);
        return -1;
    }
    unsigned max = pb->addr.len == 4 ? 32 : 128;
    unsigned len = pb->has_prefix_len ? pb->prefix_len : max;
    if (pb->has_prefix_len && pb->prefix_len > max) {
        s_err (err, err_cap, "%s: prefix length %u over %u", what, pb->prefix_len, max);
        return -1;
    }
    c->family = pb->addr.len == 4 ? 4 : 6;
    c->prefix_len = (uint8_t)len;
    memcpy (c->addr, pb->addr.data, pb->addr.len);
    return 0;
}

static int
s_ports_in (uint8_t *has, uint16_t *lo, uint16_t *hi, const Colonet__PortRange *pb,
            const char *what, char *err, size_t err_cap)
{
    *has = 0;
    *lo = *hi = 0;
    if (!pb)
        return 0;
    if (s_no_unknown (&pb->base, what, err, err_cap) != 0)
        return S_UNKNOWN;
    uint32_t a = pb->has_lo ? pb->lo : 0;
    uint32_t b = pb->has_hi ? pb->hi : a;
    if (a > 65535 || b > 65535 || a > b) {
        s_err (err, err_cap, "%s: not a range within 0..65535", what);
        return -1;
    }
    *has = 1;
    *lo = (uint16_t)a;
    *hi = (uint16_t)b;
    return 0;
}

static int
s_rule_in (colo_rule_t *r, const Colonet__Rule *pb, char *err, size_t err_cap)
{
    colo_rule_init (r);
    if (!pb) {
        s_err (err, err_cap, "rule: missing");
        return S_INVALID;
    }
    int rc = s_no_unknown (&pb->base, "rule", err, err_cap);
    if (rc != 0)
        return rc;
    r->id = pb->has_id ? pb->id : 0;
    r->version = pb->has_version ? pb->version : 0;
    if (pb->has_proto) {
        if (pb->proto > 255) {
            s_err (err, err_cap, "rule: proto %u over 255", pb->proto);
            return S_INVALID;
        }
        r->proto = (int)pb->proto;
    }
    if (s_str_in (r->vm, sizeof r->vm, pb->vm, "rule vm", err, err_cap) != 0
        || s_str_in (r->comment, sizeof r->comment, pb->comment, "rule comment", err,
                     err_cap)
               != 0)
        return S_INVALID;
    if ((rc = s_cidr_in (&r->src, pb->src, "rule src", err, err_cap)) != 0
        || (rc = s_cidr_in (&r->dst, pb->dst, "rule dst", err, err_cap)) != 0
        || (rc = s_ports_in (&r->has_sport, &r->sport_lo, &r->sport_hi, pb->sport,
                             "rule sport", err, err_cap))
               != 0
        || (rc = s_ports_in (&r->has_dport, &r->dport_lo, &r->dport_hi, pb->dport,
                             "rule dport", err, err_cap))
               != 0)
        return rc;
    return 0;
}

//  Rules out as an array of pointers into a block of s_pb_rule_t.
static Colonet__Rule **
s_rules_out (const colo_rule_t *rules, size_t n, s_pb_rule_t **block)
{
    *block = NULL;
    if (n == 0)
        return NULL;
    s_pb_rule_t *b = (s_pb_rule_t *)calloc (n, sizeof *b);
    Colonet__Rule **ptrs = (Colonet__Rule **)calloc (n, sizeof *ptrs);
    if (!b || !ptrs) {
        free (b);
        free (ptrs);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (s_rule_out (&b[i], &rules[i]) != 0) {
            free (b);
            free (ptrs);
            return NULL;
        }
        ptrs[i] = &b[i].rule;
    }
    *block = b;
    return ptrs;
}

static int
s_rules_in (colo_rule_t **out, size_t *n_out, Colonet__Rule **pb, size_t n, char *err,
            size_t err_cap)
{
    *out = NULL;
    *n_out = 0;
    if (n == 0)
        return 0;
    colo_rule_t *rules = (colo_rule_t *)malloc (n * sizeof *rules);
    if (!rules) {
        s_err (err, err_cap, "no memory for %zu rules", n);
        return S_INVALID;
    }
    for (size_t i = 0; i < n; i++) {
        int rc = s_rule_in (&rules[i], pb[i], err, err_cap);
        if (rc != 0) {
            free (rules);
            return rc;
        }
    }
    *out = rules;
    *n_out = n;
    return 0;
}

// ---------------------------------------------------------------- counters, instances

typedef struct {
    Colonet__Counter *items;
    Colonet__Counter **ptrs;
} s_pb_counters_t;

static int
s_counters_out (s_pb_counters_t *out, const colo_ctl_counter_t *c, size_t n)
{
    memset (out, 0, sizeof *out);
    if (n == 0)
        return 0;
    out->items = (Colonet__Counter *)calloc (n, sizeof *out->items);
    out->ptrs = (Colonet__Counter **)calloc (n, sizeof *out->ptrs);
    if (!out->items || !out->ptrs)
        return -1;
    for (size_t i = 0; i < n; i++) {
        colonet__counter__init (&out->items[i]);
        if (s_str_out (&out->items[i].name, c[i].name, sizeof c[i].name) != 0)
            return -1;
        out->items[i].has_value = 1;
        out->items[i].value = c[i].value;
        out->ptrs[i] = &out->items[i];
    }
    return 0;
}

static void
s_counters_out_free (s_pb_counters_t *c)
{
    free (c->items);
    free (c->ptrs);
    memset (c, 0, sizeof *c);
}

static int
s_counters_in (colo_ctl_counter_t **out, size_t *n_out, Colonet__Counter **pb, size_t n,
               char *err, size_t err_cap)
{
    *out = NULL;
    *n_out = 0;
    if (n == 0)
        return 0;
    if (n > COLO_CTL_COUNTERS_MAX) {
        s_err (err, err_cap, "counters: %zu, at most %d", n, COLO_CTL_COUNTERS_MAX);
        return -1;
    }
    colo_ctl_counter_t *c = (colo_ctl_counter_t *)calloc (n, sizeof *c);
    if (!c) {
        s_err (err, err_cap, "no memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        int rc = s_no_unknown (&pb[i]->base, "counter", err, err_cap);
        if (rc == 0)
            rc = s_str_in (c[i].name, sizeof c[i].name, pb[i]->name, "counter name", err,
                           err_cap);
        if (rc != 0) {
            free (c);
            return rc;
        }
        c[i].value = pb[i]->has_value ? pb[i]->value : 0;
    }
    *out = c;
    *n_out = n;
    return 0;
}

// ---------------------------------------------------------------- events

static int
s_event_out (Colonet__Event *pb, const colo_ctl_event_t *ev)
{
    colonet__event__init (pb);
    pb->has_type = 1;
    pb->type = (Colonet__EventType)ev->type;
    if (ev->id) {
        pb->has_id = 1;
        pb->id = ev->id;
    }
    if (s_str_out (&pb->vm, ev->vm, sizeof ev->vm) != 0
        || s_str_out (&pb->reason, ev->reason, sizeof ev->reason) != 0
        || s_str_out (&pb->connection, ev->connection, sizeof ev->connection) != 0
        || s_str_out (&pb->source, ev->source, sizeof ev->source) != 0)
        return -1;
    return 0;
}

static int
s_event_in (colo_ctl_event_t *ev, const Colonet__Event *pb, char *err, size_t err_cap)
{
    memset (ev, 0, sizeof *ev);
    if (s_no_unknown (&pb->base, "event", err, err_cap) != 0)
        return S_UNKNOWN;
    if (!pb->has_type || pb->type <= 0 || pb->type >= (int)COLO_CTL_EV_COUNT) {
        s_err (err, err_cap, "event: unknown type");
        return -1;
    }
    ev->type = (colo_ctl_event_type_t)pb->type;
    ev->id = pb->has_id ? pb->id : 0;
    if (s_str_in (ev->vm, sizeof ev->vm, pb->vm, "event vm", err, err_cap) != 0
        || s_str_in (ev->reason, sizeof ev->reason, pb->reason, "event reason", err,
                     err_cap)
               != 0
        || s_str_in (ev->connection, sizeof ev->connection, pb->connection,
                     "event connection", err, err_cap)
               != 0
        || s_str_in (ev->source, sizeof ev->source, pb->source, "event source", err,
                     err_cap)
               != 0)
        return -1;
    return 0;
}

// ---------------------------------------------------------------- packing

//  Pack any message into a malloc'd buffer.
static uint8_t *
s_pack (const ProtobufCMessage *m, size_t *len)
{
    size_t size = protobuf_c_message_get_packed_size (m);
    uint8_t *buf = (uint8_t *)malloc (size ? size : 1);
    if (!buf)
        return NULL;
    *len = protobuf_c_message_pack (m, buf);
    return buf;
}

// ---------------------------------------------------------------- requests

uint8_t *
colo_ctl_request_encode (const colo_ctl_request_t *req, size_t *len)
{
    Colonet__Request pb = COLONET__REQUEST__INIT;
    Colonet__RuleAdd add = COLONET__RULE_ADD__INIT;
    Colonet__RuleDel del = COLONET__RULE_DEL__INIT;
    Colonet__RuleList list = COLONET__RULE_LIST__INIT;
    Colonet__Status status = COLONET__STATUS__INIT;
    Colonet__Stats stats = COLONET__STATS__INIT;
    Colonet__Event event = COLONET__EVENT__INIT;
    Colonet__Hello hello = COLONET__HELLO__INIT;
    Colonet__Snapshot snap = COLONET__SNAPSHOT__INIT;
    s_pb_rule_t rule;
    s_pb_counters_t counters = {NULL, NULL};
    uint8_t *out = NULL;
    pb.has_version = 1;
    pb.version = req->version ? req->version : COLO_CTL_VERSION;
    pb.has_seq = 1;
    pb.seq = req->seq;
    char *vm = NULL;
    if (req->has_vm && s_str_out (&vm, req->vm, sizeof req->vm) != 0)
        return NULL;
    switch (req->type) {
        case COLO_CTL_REQ_RULE_ADD:
            if (s_rule_out (&rule, &req->rule) != 0)
                return NULL;
            add.rule = &rule.rule;
            if (req->force) {
                add.has_force = 1;
                add.force = 1;
            }
            pb.body_case = COLONET__REQUEST__BODY_RULE_ADD;
            pb.rule_add = &add;
            break;
        case COLO_CTL_REQ_RULE_DEL:
            del.has_id = 1;
            del.id = req->rule_id;
            pb.body_case = COLONET__REQUEST__BODY_RULE_DEL;
            pb.rule_del = &del;
            break;
        case COLO_CTL_REQ_RULE_LIST:
            list.vm = vm;
            pb.body_case = COLONET__REQUEST__BODY_RULE_LIST;
            pb.rule_list = &list;
            break;
        case COLO_CTL_REQ_STATUS:
            pb.body_case = COLONET__REQUEST__BODY_STATUS;
            pb.status = &status;
            break;
        case COLO_CTL_REQ_STATS:
            stats.vm = vm;
            pb.body_case = COLONET__REQUEST__BODY_STATS;
            pb.stats = &stats;
            break;
        case COLO_CTL_REQ_EVENT:
            if (s_event_out (&event, &req->event) != 0)
                return NULL;
            pb.body_case = COLONET__REQUEST__BODY_EVENT;
            pb.event = &event;
            break;
        case COLO_CTL_REQ_HELLO: {
            const colo_ctl_instance_t *h = &req->hello;
            if (s_str_out (&hello.kind, h->kind, sizeof h->kind) != 0
                || s_str_out (&hello.instance, h->instance, sizeof h->instance) != 0
                || s_str_out (&hello.vm, h->vm, sizeof h->vm) != 0)
                return NULL;
            hello.has_rules_version = 1;
            hello.rules_version = h->rules_version;
            hello.has_heartbeat_ms = 1;
            hello.heartbeat_ms = h->heartbeat_ms;
            if (s_counters_out (&counters, h->counters, h->n_counters) != 0)
                goto done;
            hello.n_counters = h->n_counters;
            hello.counters = counters.ptrs;
            pb.body_case = COLONET__REQUEST__BODY_HELLO;
            pb.hello = &hello;
            break;
        }
        case COLO_CTL_REQ_SNAPSHOT:
            snap.vm = vm;
            pb.body_case = COLONET__REQUEST__BODY_SNAPSHOT;
            pb.snapshot = &snap;
            break;
        default:
            break;  //  no body: the server will refuse it (tests use this)
    }
    out = s_pack (&pb.base, len);
done:
    s_counters_out_free (&counters);
    return out;
}

static colo_ctl_error_t
s_request_in (colo_ctl_request_t *out, const Colonet__Request *pb, char *err,
              size_t err_cap)
{
    if (!pb->has_version || pb->version != COLO_CTL_VERSION) {
        s_err (err, err_cap, "protocol version %u, this server speaks %d",
               pb->has_version ? pb->version : 0, COLO_CTL_VERSION);
        return COLO_CTL_E_BAD_VERSION;
    }
    out->version = pb->version;
    if (s_no_unknown (&pb->base, "request", err, err_cap) != 0)
        return COLO_CTL_E_BAD_REQUEST;
    const char *vm = NULL;
    const ProtobufCMessage *body = NULL;
    int rc;
    switch (pb->body_case) {
        case COLONET__REQUEST__BODY_RULE_ADD:
            out->type = COLO_CTL_REQ_RULE_ADD;
            body = &pb->rule_add->base;
            if (s_no_unknown (body, "rule_add", err, err_cap) != 0)
                return COLO_CTL_E_BAD_REQUEST;
            if ((rc = s_rule_in (&out->rule, pb->rule_add->rule, err, err_cap)) != 0)
                return s_code (rc);
            out->force = pb->rule_add->has_force && pb->rule_add->force;
            return COLO_CTL_OK;
        case COLONET__REQUEST__BODY_RULE_DEL:
            out->type = COLO_CTL_REQ_RULE_DEL;
            body = &pb->rule_del->base;
            if (s_no_unknown (body, "rule_del", err, err_cap) != 0)
                return COLO_CTL_E_BAD_REQUEST;
            if (!pb->rule_del->has_id) {
                s_err (err, err_cap, "rule_del: no id");
                return COLO_CTL_E_INVALID;
            }
            out->rule_id = pb->rule_del->id;
            return COLO_CTL_OK;
        case COLONET__REQUEST__BODY_RULE_LIST:
            out->type = COLO_CTL_REQ_RULE_LIST;
            body = &pb->rule_list->base;
            vm = pb->rule_list->vm;
            break;
        case COLONET__REQUEST__BODY_STATUS:
            out->type = COLO_CTL_REQ_STATUS;
            body = &pb->status->base;
            break;
        case COLONET__REQUEST__BODY_STATS:
            out->type = COLO_CTL_REQ_STATS;
            body = &pb->stats->base;
            vm = pb->stats->vm;
            break;
        case COLONET__REQUEST__BODY_SNAPSHOT:
            out->type = COLO_CTL_REQ_SNAPSHOT;
            body = &pb->snapshot->base;
            vm = pb->snapshot->vm;
            break;
        case COLONET__REQUEST__BODY_EVENT:
            out->type = COLO_CTL_REQ_EVENT;
            if ((rc = s_event_in (&out->event, pb->event, err, err_cap)) != 0)
                return s_code (rc);
            return COLO_CTL_OK;
        case COLONET__REQUEST__BODY_HELLO: {
            out->type = COLO_CTL_REQ_HELLO;
            const Colonet__Hello *h = pb->hello;
            colo_ctl_instance_t *inst = &out->hello;
            if (s_no_unknown (&h->base, "hello", err, err_cap) != 0)
                return COLO_CTL_E_BAD_REQUEST;
            if (s_str_in (inst->kind, sizeof inst->kind, h->kind, "hello kind", err,
                          err_cap)
                    != 0
                || s_str_in (inst->instance, sizeof inst->instance, h->instance,
                             "hello instance", err, err_cap)
                       != 0
                || s_str_in (inst->vm, sizeof inst->vm, h->vm, "hello vm", err, err_cap)
                       != 0)
                return COLO_CTL_E_INVALID;
            if ((rc = s_counters_in (&inst->counters, &inst->n_counters, h->counters,
                                     h->n_counters, err, err_cap))
                != 0)
                return s_code (rc);
            inst->rules_version = h->has_rules_version ? h->rules_version : 0;
            inst->heartbeat_ms = h->has_heartbeat_ms ? h->heartbeat_ms : 0;
            return COLO_CTL_OK;
        }
        default:
            s_err (err, err_cap, "request: no body");
            return COLO_CTL_E_BAD_REQUEST;
    }
    if (s_no_unknown (body, colo_ctl_req_name (out->type), err, err_cap) != 0)
        return COLO_CTL_E_BAD_REQUEST;
    if (vm) {
        out->has_vm = 1;
        if (s_str_in (out->vm, sizeof out->vm, vm, "vm", err, err_cap) != 0)
            return COLO_CTL_E_INVALID;
    }
    return COLO_CTL_OK;
}

colo_ctl_error_t
colo_ctl_request_decode (const uint8_t *data, size_t len, colo_ctl_request_t *out,
                         char *err, size_t err_cap)
{
    memset (out, 0, sizeof *out);
    if (err && err_cap)
        err[0] = 0;
    if (len > COLO_CTL_REQUEST_MAX) {
        s_err (err, err_cap, "request of %zu bytes, at most %d", len, COLO_CTL_REQUEST_MAX);
        return COLO_CTL_E_TOO_LARGE;
    }
    Colonet__Request *pb = colonet__request__unpack (NULL, len, data);
    if (!pb) {
        s_err (err, err_cap, "not a Request message (%zu bytes)", len);
        return COLO_CTL_E_BAD_REQUEST;
    }
    colo_ctl_error_t rc = s_request_in (out, pb, err, err_cap);
    uint64_t seq = pb->has_seq ? pb->seq : 0;
    colonet__request__free_unpacked (pb, NULL);
    if (rc != COLO_CTL_OK)
        colo_ctl_request_clear (out);
    out->seq = seq;
    return rc;
}

// ---------------------------------------------------------------- replies

uint8_t *
colo_ctl_reply_encode (const colo_ctl_reply_t *rep, size_t *len)
{
    Colonet__Reply pb = COLONET__REPLY__INIT;
    Colonet__Event event = COLONET__EVENT__INIT;
    s_pb_rule_t *rule_block = NULL;
    Colonet__Instance *inst = NULL;
    Colonet__Instance **inst_ptrs = NULL;
    s_pb_counters_t *inst_counters = NULL;
    Colonet__Group *groups = NULL;
    Colonet__Group **group_ptrs = NULL;
    s_pb_counters_t *group_counters = NULL;
    uint8_t *out = NULL;

    pb.has_version = 1;
    pb.version = COLO_CTL_VERSION;
    pb.has_seq = 1;
    pb.seq = rep->seq;
    pb.has_error = 1;
    pb.error = (Colonet__ErrorCode)rep->error;
    if (s_str_out (&pb.message, rep->message, sizeof rep->message) != 0
        || s_str_out (&pb.events, rep->events, sizeof rep->events) != 0)
        return NULL;
    if (rep->rule_id) {
        pb.has_rule_id = 1;
        pb.rule_id = rep->rule_id;
    }
    pb.has_rules_version = 1;
    pb.rules_version = rep->rules_version;
    if (rep->epoch) {
        pb.has_epoch = 1;
        pb.epoch = rep->epoch;
    }
    if (rep->delivered) {
        pb.has_delivered = 1;
        pb.delivered = rep->delivered;
    }
    if (rep->has_event) {
        if (s_event_out (&event, &rep->event) != 0)
            return NULL;
        pb.event = &event;
    }
    if (rep->n_rules) {
        pb.rules = s_rules_out (rep->rules, rep->n_rules, &rule_block);
        if (!pb.rules)
            goto done;
        pb.n_rules = rep->n_rules;
    }
    if (rep->n_instances) {
        size_t n = rep->n_instances;
        inst = (Colonet__Instance *)calloc (n, sizeof *inst);
        inst_ptrs = (Colonet__Instance **)calloc (n, sizeof *inst_ptrs);
        inst_counters = (s_pb_counters_t *)calloc (n, sizeof *inst_counters);
        if (!inst || !inst_ptrs || !inst_counters)
            goto done;
        for (size_t i = 0; i < n; i++) {
            const colo_ctl_instance_t *src = &rep->instances[i];
            Colonet__Instance *d = &inst[i];
            colonet__instance__init (d);
            if (s_str_out (&d->kind, src->kind, sizeof src->kind) != 0
                || s_str_out (&d->instance, src->instance, sizeof src->instance) != 0
                || s_str_out (&d->vm, src->vm, sizeof src->vm) != 0
                || s_counters_out (&inst_counters[i], src->counters, src->n_counters) != 0)
                goto done;
            d->has_rules_version = d->has_age_ms = d->has_alive = d->has_heartbeat_ms = 1;
            d->rules_version = src->rules_version;
            d->age_ms = src->age_ms;
            d->alive = src->alive != 0;
            d->heartbeat_ms = src->heartbeat_ms;
            d->n_counters = src->n_counters;
            d->counters = inst_counters[i].ptrs;
            inst_ptrs[i] = d;
        }
        pb.instances = inst_ptrs;
        pb.n_instances = n;
    }
    if (rep->n_groups) {
        size_t n = rep->n_groups;
        groups = (Colonet__Group *)calloc (n, sizeof *groups);
        group_ptrs = (Colonet__Group **)calloc (n, sizeof *group_ptrs);
        group_counters = (s_pb_counters_t *)calloc (n, sizeof *group_counters);
        if (!groups || !group_ptrs || !group_counters)
            goto done;
        for (size_t i = 0; i < n; i++) {
            const colo_ctl_group_t *src = &rep->groups[i];
            colonet__group__init (&groups[i]);
            if (s_str_out (&groups[i].name, src->name, sizeof src->name) != 0
                || s_counters_out (&group_counters[i], src->counters, src->n_counters) != 0)
                goto done;
            groups[i].n_counters = src->n_counters;
            groups[i].counters = group_counters[i].ptrs;
            group_ptrs[i] = &groups[i];
        }
        pb.groups = group_ptrs;
        pb.n_groups = n;
    }
    out = s_pack (&pb.base, len);
done:
    free (pb.rules);
    free (rule_block);
    if (inst_counters)
        for (size_t i = 0; i < rep->n_instances; i++)
            s_counters_out_free (&inst_counters[i]);
    free (inst_counters);
    free (inst);
    free (inst_ptrs);
    if (group_counters)
        for (size_t i = 0; i < rep->n_groups; i++)
            s_counters_out_free (&group_counters[i]);
    free (group_counters);
    free (groups);
    free (group_ptrs);
    return out;
}

static colo_ctl_error_t
s_reply_in (colo_ctl_reply_t *out, const Colonet__Reply *pb, char *err, size_t err_cap)
{
    if (s_no_unknown (&pb->base, "reply", err, err_cap) != 0)
        return COLO_CTL_E_BAD_REQUEST;
    if (!pb->has_version || pb->version != COLO_CTL_VERSION) {
        s_err (err, err_cap, "reply of protocol version %u, expected %d",
               pb->has_version ? pb->version : 0, COLO_CTL_VERSION);
        return COLO_CTL_E_BAD_VERSION;
    }
    out->seq = pb->has_seq ? pb->seq : 0;
    out->error = pb->has_error && pb->error >= 0 && pb->error < (int)COLO_CTL_E_COUNT
                     ? (colo_ctl_error_t)pb->error
                     : (pb->has_error ? COLO_CTL_E_INTERNAL : COLO_CTL_OK);
    out->rule_id = pb->has_rule_id ? pb->rule_id : 0;
    out->rules_version = pb->has_rules_version ? pb->rules_version : 0;
    out->epoch = pb->has_epoch ? pb->epoch : 0;
    out->delivered = pb->has_delivered ? pb->delivered : 0;
    if (s_str_in (out->message, sizeof out->message, pb->message, "reply message", err,
                  err_cap)
            != 0
        || s_str_in (out->events, sizeof out->events, pb->events, "reply events", err,
                     err_cap)
               != 0)
        return COLO_CTL_E_INVALID;
    if (pb->event) {
        if (s_event_in (&out->event, pb->event, err, err_cap) != 0)
            return COLO_CTL_E_INVALID;
        out->has_event = 1;
    }
    if (s_rules_in (&out->rules, &out->n_rules, pb->rules, pb->n_rules, err, err_cap) != 0)
        return COLO_CTL_E_INVALID;
    if (pb->n_instances) {
        out->instances =
            (colo_ctl_instance_t *)calloc (pb->n_instances, sizeof *out->instances);
        if (!out->instances)
            return COLO_CTL_E_INTERNAL;
        for (size_t i = 0; i < pb->n_instances; i++) {
            const Colonet__Instance *s = pb->instances[i];
            colo_ctl_instance_t *d = &out->instances[i];
            out->n_instances = i + 1;
            if (s_no_unknown (&s->base, "instance", err, err_cap) != 0
                || s_str_in (d->kind, sizeof d->kind, s->kind, "instance kind", err,
                             err_cap)
                       != 0
                || s_str_in (d->instance, sizeof d->instance, s->instance, "instance name",
                             err, err_cap)
                       != 0
                || s_str_in (d->vm, sizeof d->vm, s->vm, "instance vm", err, err_cap) != 0
                || s_counters_in (&d->counters, &d->n_counters, s->counters, s->n_counters,
                                  err, err_cap)
                       != 0)
                return COLO_CTL_E_INVALID;
            d->rules_version = s->has_rules_version ? s->rules_version : 0;
            d->age_ms = s->has_age_ms ? s->age_ms : 0;
            d->alive = s->has_alive && s->alive;
            d->heartbeat_ms = s->has_heartbeat_ms ? s->heartbeat_ms : 0;
        }
    }
    if (pb->n_groups) {
        out->groups = (colo_ctl_group_t *)calloc (pb->n_groups, sizeof *out->groups);
        if (!out->groups)
            return COLO_CTL_E_INTERNAL;
        for (size_t i = 0; i < pb->n_groups; i++) {
            const Colonet__Group *s = pb->groups[i];
            colo_ctl_group_t *d = &out->groups[i];
            out->n_groups = i + 1;
            if (s_no_unknown (&s->base, "group", err, err_cap) != 0
                || s_str_in (d->name, sizeof d->name, s->name, "group name", err, err_cap)
                       != 0
                || s_counters_in (&d->counters, &d->n_counters, s->counters, s->n_counters,
                                  err, err_cap)
                       != 0)
                return COLO_CTL_E_INVALID;
        }
    }
    return COLO_CTL_OK;
}

colo_ctl_error_t
colo_ctl_reply_decode (const uint8_t *data, size_t len, colo_ctl_reply_t *out, char *err,
                       size_t err_cap)
{
    memset (out, 0, sizeof *out);
    if (err && err_cap)
        err[0] = 0;
    Colonet__Reply *pb = colonet__reply__unpack (NULL, len, data);
    if (!pb) {
        s_err (err, err_cap, "not a Reply message (%zu bytes)", len);
        return COLO_CTL_E_BAD_REQUEST;
    }
    colo_ctl_error_t rc = s_reply_in (out, pb, err, err_cap);
    colonet__reply__free_unpacked (pb, NULL);
    if (rc != COLO_CTL_OK)
        colo_ctl_reply_clear (out);
    return rc;
}

// ---------------------------------------------------------------- publications

uint8_t *
colo_ctl_pub_encode (const colo_ctl_pub_t *pub, size_t *len)
{
    Colonet__Publication pb = COLONET__PUBLICATION__INIT;
    Colonet__Update update = COLONET__UPDATE__INIT;
    Colonet__Event event = COLONET__EVENT__INIT;
    s_pb_rule_t rule;
    pb.has_epoch = 1;
    pb.epoch = pub->epoch;
    pb.has_rules_version = 1;
    pb.rules_version = pub->rules_version;
    if (pub->has_update) {
        update.has_version = 1;
        update.version = pub->update_version;
        if (s_str_out (&update.vm, pub->update_vm, sizeof pub->update_vm) != 0)
            return NULL;
        if (pub->update_added) {
            if (s_rule_out (&rule, &pub->added) != 0)
                return NULL;
            update.added = &rule.rule;
        }
        else {
            update.has_deleted = 1;
            update.deleted = pub->deleted;
        }
        pb.update = &update;
    }
    if (pub->has_event) {
        if (s_event_out (&event, &pub->event) != 0)
            return NULL;
        pb.event = &event;
    }
    return s_pack (&pb.base, len);
}

static colo_ctl_error_t
s_pub_in (colo_ctl_pub_t *out, const Colonet__Publication *pb, char *err, size_t err_cap)
{
    if (s_no_unknown (&pb->base, "publication", err, err_cap) != 0)
        return COLO_CTL_E_BAD_REQUEST;
    out->epoch = pb->has_epoch ? pb->epoch : 0;
    out->rules_version = pb->has_rules_version ? pb->rules_version : 0;
    if (pb->update) {
        const Colonet__Update *u = pb->update;
        if (s_no_unknown (&u->base, "update", err, err_cap) != 0)
            return COLO_CTL_E_BAD_REQUEST;
        if (!u->has_version || (!u->added == !u->has_deleted)) {
            s_err (err, err_cap, "update: needs a version and one of added, deleted");
            return COLO_CTL_E_INVALID;
        }
        out->has_update = 1;
        out->update_version = u->version;
        if (s_str_in (out->update_vm, sizeof out->update_vm, u->vm, "update vm", err,
                      err_cap)
            != 0)
            return COLO_CTL_E_INVALID;
        if (u->added) {
            out->update_added = 1;
            if (s_rule_in (&out->added, u->added, err, err_cap) != 0)
                return COLO_CTL_E_INVALID;
        }
        else
            out->deleted = u->deleted;
    }
    if (pb->event) {
        if (s_event_in (&out->event, pb->event, err, err_cap) != 0)
            return COLO_CTL_E_INVALID;
        out->has_event = 1;
    }
    return COLO_CTL_OK;
}

colo_ctl_error_t
colo_ctl_pub_decode (const uint8_t *data, size_t len, colo_ctl_pub_t *out, char *err,
                     size_t err_cap)
{
    memset (out, 0, sizeof *out);
    if (err && err_cap)
        err[0] = 0;
    Colonet__Publication *pb = colonet__publication__unpack (NULL, len, data);
    if (!pb) {
        s_err (err, err_cap, "not a Publication message (%zu bytes)", len);
        return COLO_CTL_E_BAD_REQUEST;
    }
    colo_ctl_error_t rc = s_pub_in (out, pb, err, err_cap);
    colonet__publication__free_unpacked (pb, NULL);
    if (rc != COLO_CTL_OK)
        memset (out, 0, sizeof *out);
    return rc;
}

// ---------------------------------------------------------------- the store

#define S_STORE_FORMAT 1

uint8_t *
colo_ctl_store_encode (const colo_ctl_store_t *store, size_t *len)
{
    Colonet__Store pb = COLONET__STORE__INIT;
    s_pb_rule_t *block = NULL;
    pb.has_format = 1;
    pb.format = S_STORE_FORMAT;
    pb.has_rules_version = 1;
    pb.rules_version = store->rules_version;
    pb.has_next_id = 1;
    pb.next_id = store->next_id;
    if (store->n_rules) {
        pb.rules = s_rules_out (store->rules, store->n_rules, &block);
        if (!pb.rules)
            return NULL;
        pb.n_rules = store->n_rules;
    }
    uint8_t *out = s_pack (&pb.base, len);
    free (pb.rules);
    free (block);
    return out;
}

colo_ctl_error_t
colo_ctl_store_decode (const uint8_t *data, size_t len, colo_ctl_store_t *out, char *err,
                       size_t err_cap)
{
    memset (out, 0, sizeof *out);
    if (err && err_cap)
        err[0] = 0;
    Colonet__Store *pb = colonet__store__unpack (NULL, len, data);
    if (!pb) {
        s_err (err, err_cap, "not a store file (%zu bytes)", len);
        return COLO_CTL_E_BAD_REQUEST;
    }
    colo_ctl_error_t rc = COLO_CTL_OK;
    if (s_no_unknown (&pb->base, "store", err, err_cap) != 0)
        rc = COLO_CTL_E_BAD_REQUEST;
    else if (!pb->has_format || pb->format != S_STORE_FORMAT) {
        s_err (err, err_cap, "store format %u, expected %d",
               pb->has_format ? pb->format : 0, S_STORE_FORMAT);
        rc = COLO_CTL_E_BAD_VERSION;
    }
    else if (s_rules_in (&out->rules, &out->n_rules, pb->rules, pb->n_rules, err, err_cap)
             != 0)
        rc = COLO_CTL_E_INVALID;
    out->rules_version = pb->has_rules_version ? pb->rules_version : 0;
    out->next_id = pb->has_next_id ? pb->next_id : 0;
    colonet__store__free_unpacked (pb, NULL);
    if (rc != COLO_CTL_OK)
        colo_ctl_store_clear (out);
    return rc;
}

