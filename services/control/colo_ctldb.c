/*  colo_ctldb.c - colo-control's state: rules with ids and versions, instances, counters.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo_ctldb.h"

const char *const colo_ctldb_counter_names[COLO_CTLDB_COUNTER_COUNT] = {
    "bad_requests",       "bad_envelopes", "replies_unsent", "events_undelivered",
    "store_writes",       "store_failures", "curve_refused", "instances_forgotten",
    "hooks_run",          "hooks_failed",  "hooks_coalesced",
};

typedef struct {
    colo_ctl_instance_t info;     //  the latest Hello (counters owned)
    uint8_t route[COLO_CTLDB_ROUTE_MAX];
    size_t route_len;
    uint64_t last_ms;             //  last Hello
} s_inst_t;

typedef struct {
    char name[COLO_CTL_NAME_MAX + 1];
    uint64_t events[COLO_CTL_EV_COUNT];       //  requests seen, by type
    uint64_t delivered[COLO_CTL_EV_COUNT];    //  copies sent to instances
} s_vm_t;

enum { S_UNDO_NONE, S_UNDO_ADD, S_UNDO_DEL };

struct colo_ctldb {
    colo_rule_t *rules;           //  by id
    size_t n_rules, cap_rules;
    uint64_t version;
    uint64_t next_id;
    int undo;                     //  S_UNDO_*
    colo_rule_t undo_rule;
    size_t undo_pos;
    uint64_t undo_version, undo_next_id;
    s_inst_t *inst;
    size_t n_inst, cap_inst;
    s_vm_t *vms;
    size_t n_vms, cap_vms;
    uint64_t counters[COLO_CTLDB_COUNTER_COUNT];
    uint64_t requests[COLO_CTL_REQ_COUNT];
    uint64_t errors[COLO_CTL_E_COUNT];
};

static void
s_msg (char *msg, size_t cap, const char *fmt, ...)
{
    if (!msg || !cap)
        return;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (msg, cap, fmt, ap);
    va_end (ap);
}

colo_ctldb_t *
colo_ctldb_new (void)
{
    colo_ctldb_t *self = (colo_ctldb_t *) calloc (1, sizeof *self);
    if (self)
        self->next_id = 1;
    return self;
}

void
colo_ctldb_destroy (colo_ctldb_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    colo_ctldb_t *self = *self_p;
    for (size_t i = 0; i < self->n_inst; i++)
        colo_ctl_instance_clear (&self->inst[i].info);
    free (self->inst);
    free (self->vms);
    free (self->rules);
    free (self);
    *self_p = NULL;
}

//  Room for one more element in a growing array.
static int
s_grow (void **array, size_t *cap, size_t count, size_t size)
{
    if (count < *cap)
        return 0;
    size_t next = *cap ? *cap * 2 : 16;
    void *bigger = realloc (*array, next * size);
    if (!bigger)
        return -1;
    *array = bigger;
    *cap = next;
    return 0;
}

static int
s_rule_cmp (const void *a, const void *b)
{
    uint64_t x = ((const colo_rule_t *) a)->id, y = ((const colo_rule_t *) b)->id;
    return x < y ? -1 : x > y;
}

int
colo_ctldb_load (colo_ctldb_t *self, const colo_ctl_store_t *store, char *err,
                 size_t err_cap)
{
    if (store->n_rules > COLO_CTLDB_RULES_MAX) {
        s_msg (err, err_cap, "%zu rules, at most %d", store->n_rules, COLO_CTLDB_RULES_MAX);
        return -1;
    }
    colo_rule_t *rules = NULL;
    if (store->n_rules) {
        rules = (colo_rule_t *) malloc (store->n_rules * sizeof *rules);
        if (!rules) {
            s_msg (err, err_cap, "no memory");
            return -1;
        }
        memcpy (rules, store->rules, store->n_rules * sizeof *rules);
        qsort (rules, store->n_rules, sizeof *rules, s_rule_cmp);
    }
    uint64_t next_id = store->next_id ? store->next_id : 1;
    uint64_t version = store->rules_version;
    for (size_t i = 0; i < store->n_rules; i++) {
        char why[128];
        const colo_rule_t *r = &rules[i];
        if (r->id == 0 || (i > 0 && r->id == rules[i - 1].id)) {
            s_msg (err, err_cap, "rule id %llu: missing or repeated",
                   (unsigned long long) r->id);
            free (rules);
            return -1;
        }
        if (colo_rule_validate (r, why, sizeof why) != 0) {
            s_msg (err, err_cap, "rule %llu: %s", (unsigned long long) r->id, why);
            free (rules);
            return -1;
        }
        //  Ids are never reused, and versions only grow.
        if (r->id >= next_id)
            next_id = r->id + 1;
        if (r->version > version)
            version = r->version;
    }
    free (self->rules);
    self->rules = rules;
    self->n_rules = self->cap_rules = store->n_rules;
    self->next_id = next_id;
    self->version = version;
    self->undo = S_UNDO_NONE;
    return 0;
}

void
colo_ctldb_store_view (colo_ctldb_t *self, colo_ctl_store_t *out)
{
    out->rules_version = self->version;
    out->next_id = self->next_id;
    out->rules = self->rules;
    out->n_rules = self->n_rules;
}

uint64_t
colo_ctldb_version (colo_ctldb_t *self)
{
    return self->version;
}

size_t
colo_ctldb_rule_count (colo_ctldb_t *self)
{
    return self->n_rules;
}

colo_ctl_error_t
colo_ctldb_rule_add (colo_ctldb_t *self, const colo_rule_t *rule, int force,
                     colo_rule_t *added, uint64_t *existing_id, char *msg, size_t msg_cap)
{
    char why[128];
    if (colo_rule_validate (rule, why, sizeof why) != 0) {
        s_msg (msg, msg_cap, "invalid rule: %s", why);
        return COLO_CTL_E_INVALID;
    }
    for (size_t i = 0; i < self->n_rules; i++)
        if (colo_rule_same (&self->rules[i], rule)) {
            if (existing_id)
                *existing_id = self->rules[i].id;
            s_msg (msg, msg_cap, "the same rule exists: id %llu",
                   (unsigned long long) self->rules[i].id);
            return COLO_CTL_E_DUPLICATE;
        }
    if (!force && colo_rule_matches_all (rule)) {
        s_msg (msg, msg_cap,
               "this rule lets all %s traffic%s bypass comparison; add --force if "
               "that is meant",
               rule->src.family == 4 || rule->dst.family == 4   ? "IPv4"
               : rule->src.family == 6 || rule->dst.family == 6 ? "IPv6"
                                                                : "IP",
               rule->vm[0] ? " of the VM" : " of every VM");
        return COLO_CTL_E_MATCHES_ALL;
    }
    if (self->n_rules >= COLO_CTLDB_RULES_MAX
        || s_grow ((void **) &self->rules, &self->cap_rules, self->n_rules,
                   sizeof *self->rules)
               != 0) {
        s_msg (msg, msg_cap, "no room for another rule (%zu)", self->n_rules);
        return COLO_CTL_E_FULL;
    }
    self->undo = S_UNDO_ADD;
    self->undo_version = self->version;
    self->undo_next_id = self->next_id;
    colo_rule_t *r = &self->rules[self->n_rules++];
    *r = *rule;
    r->id = self->next_id++;
    r->version = ++self->version;
    if (added)
        *added = *r;
    return COLO_CTL_OK;
}

colo_ctl_error_t
colo_ctldb_rule_del (colo_ctldb_t *self, uint64_t id, colo_rule_t *deleted, char *msg,
                     size_t msg_cap)
{
    size_t lo = 0, hi = self->n_rules;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->rules[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == self->n_rules || self->rules[lo].id != id) {
        s_msg (msg, msg_cap, "no rule with id %llu", (unsigned long long) id);
        return COLO_CTL_E_NOT_FOUND;
    }
    self->undo = S_UNDO_DEL;
    self->undo_rule = self->rules[lo];
    self->undo_pos = lo;
    self->undo_version = self->version;
    self->undo_next_id = self->next_id;
    if (deleted)
        *deleted = self->rules[lo];
    memmove (&self->rules[lo], &self->rules[lo + 1],
             (self->n_rules - lo - 1) * sizeof *self->rules);
    self->n_rules--;
    self->version++;
    return COLO_CTL_OK;
}

int
colo_ctldb_undo (colo_ctldb_t *self)
{
    if (self->undo == S_UNDO_ADD)
        self->n_rules--;
    else if (self->undo == S_UNDO_DEL) {
        //  The slot is still allocated: the array only shrank by one.
        size_t pos = self->undo_pos;
        memmove (&self->rules[pos + 1], &self->rules[pos],
                 (self->n_rules - pos) * sizeof *self->rules);
        self->rules[pos] = self->undo_rule;
        self->n_rules++;
    }
    else
        return -1;
    self->version = self->undo_version;
    self->next_id = self->undo_next_id;
    self->undo = S_UNDO_NONE;
    return 0;
}

colo_rule_t *
colo_ctldb_rules_for (colo_ctldb_t *self, const char *vm, size_t *n)
{
    *n = 0;
    if (self->n_rules == 0)
        return NULL;
    colo_rule_t *out = (colo_rule_t *) malloc (self->n_rules * sizeof *out);
    if (!out) {
        *n = (size_t) -1;
        return NULL;
    }
    size_t count = 0;
    for (size_t i = 0; i < self->n_rules; i++)
        if (!vm || !self->rules[i].vm[0] || strcmp (self->rules[i].vm, vm) == 0)
            out[count++] = self->rules[i];
    if (count == 0) {
        free (out);
        return NULL;
    }
    *n = count;
    return out;
}

// ---------------------------------------------------------------- VMs

static s_vm_t *
s_vm (colo_ctldb_t *self, const char *name)
{
    if (!name || !name[0])
        return NULL;
    for (size_t i = 0; i < self->n_vms; i++)
        if (strcmp (self->vms[i].name, name) == 0)
            return &self->vms[i];
    if (self->n_vms >= COLO_CTLDB_VMS_MAX || !colo_rule_name_ok (name)
        || s_grow ((void **) &self->vms, &self->cap_vms, self->n_vms, sizeof *self->vms)
               != 0)
        return NULL;
    s_vm_t *vm = &self->vms[self->n_vms++];
    memset (vm, 0, sizeof *vm);
    snprintf (vm->name, sizeof vm->name, "%s", name);
    return vm;
}

// ---------------------------------------------------------------- instances

static int
s_kind_ok (const char *kind)
{
    return strcmp (kind, "compare") == 0 || strcmp (kind, "rewriter") == 0
           || strcmp (kind, "mirror") == 0 || strcmp (kind, "adapter") == 0;
}

static int
s_alive (const s_inst_t *inst, uint64_t now_ms)
{
    uint64_t hb = inst->info.heartbeat_ms;
    return now_ms - inst->last_ms <= hb * COLO_CTLDB_DEAD_HEARTBEATS;
}

colo_ctl_error_t
colo_ctldb_hello (colo_ctldb_t *self, const colo_ctl_instance_t *hello, const void *route,
                  size_t route_len, uint64_t now_ms, char *msg, size_t msg_cap)
{
    if (!s_kind_ok (hello->kind)) {
        s_msg (msg, msg_cap, "kind '%s': expected compare, rewriter, mirror or adapter",
               hello->kind);
        return COLO_CTL_E_INVALID;
    }
    if (!colo_rule_name_ok (hello->instance) || !colo_rule_name_ok (hello->vm)) {
        s_msg (msg, msg_cap, "instance and vm names: 1 to 63 characters of A-Z a-z 0-9 . _ -");
        return COLO_CTL_E_INVALID;
    }
    if (route_len == 0 || route_len > COLO_CTLDB_ROUTE_MAX) {
        s_msg (msg, msg_cap, "no route to the instance");
        return COLO_CTL_E_INVALID;
    }
    s_inst_t *inst = NULL;
    for (size_t i = 0; i < self->n_inst && !inst; i++)
        if (strcmp (self->inst[i].info.kind, hello->kind) == 0
            && strcmp (self->inst[i].info.instance, hello->instance) == 0)
            inst = &self->inst[i];
    if (!inst) {
        if (self->n_inst >= COLO_CTLDB_INSTANCES_MAX
            || s_grow ((void **) &self->inst, &self->cap_inst, self->n_inst,
                       sizeof *self->inst)
                   != 0) {
            s_msg (msg, msg_cap, "no room for another instance (%zu)", self->n_inst);
            return COLO_CTL_E_FULL;
        }
        inst = &self->inst[self->n_inst++];
        memset (inst, 0, sizeof *inst);
    }
    colo_ctl_instance_t copy;
    if (colo_ctl_instance_copy (&copy, hello) != 0) {
        s_msg (msg, msg_cap, "no memory");
        return COLO_CTL_E_INTERNAL;
    }
    colo_ctl_instance_clear (&inst->info);
    inst->info = copy;
    //  A heartbeat interval out of reason is clamped, not refused.
    if (inst->info.heartbeat_ms < 100)
        inst->info.heartbeat_ms = inst->info.heartbeat_ms ? 100 : 1000;
    if (inst->info.heartbeat_ms > 600000)
        inst->info.heartbeat_ms = 600000;
    memcpy (inst->route, route, route_len);
    inst->route_len = route_len;
    inst->last_ms = now_ms;
    s_vm (self, hello->vm);
    return COLO_CTL_OK;
}

static int
s_receives (const char *kind, colo_ctl_event_type_t type)
{
    switch (type) {
        case COLO_CTL_EV_CHECKPOINT_REQUEST:
            return strcmp (kind, "adapter") == 0;
        case COLO_CTL_EV_CHECKPOINT_DONE:
        case COLO_CTL_EV_FAILOVER:
            return strcmp (kind, "compare") == 0 || strcmp (kind, "rewriter") == 0
                   || strcmp (kind, "mirror") == 0;
        default:
            return 0;
    }
}

size_t
colo_ctldb_each_target (colo_ctldb_t *self, const char *vm, colo_ctl_event_type_t type,
                        colo_ctldb_route_fn *fn, void *arg)
{
    size_t calls = 0;
    for (size_t i = 0; i < self->n_inst; i++) {
        const s_inst_t *inst = &self->inst[i];
        if (strcmp (inst->info.vm, vm) == 0 && s_receives (inst->info.kind, type)) {
            fn (arg, inst->route, inst->route_len, inst->info.kind, inst->info.instance);
            calls++;
        }
    }
    return calls;
}

void
colo_ctldb_tick (colo_ctldb_t *self, uint64_t now_ms)
{
    size_t kept = 0;
    for (size_t i = 0; i < self->n_inst; i++) {
        s_inst_t *inst = &self->inst[i];
        uint64_t dead_after = (uint64_t) inst->info.heartbeat_ms * COLO_CTLDB_DEAD_HEARTBEATS;
        if (now_ms > inst->last_ms && now_ms - inst->last_ms > dead_after + COLO_CTLDB_FORGET_MS) {
            colo_ctl_instance_clear (&inst->info);
            self->counters[COLO_CTLDB_INSTANCES_FORGOTTEN]++;
            continue;
        }
        if (kept != i)
            self->inst[kept] = *inst;
        kept++;
    }
    self->n_inst = kept;
}

// ---------------------------------------------------------------- counting

void
colo_ctldb_count (colo_ctldb_t *self, colo_ctldb_counter_t counter)
{
    if ((int) counter >= 0 && counter < COLO_CTLDB_COUNTER_COUNT)
        self->counters[counter]++;
}

uint64_t
colo_ctldb_counter (colo_ctldb_t *self, colo_ctldb_counter_t counter)
{
    return (int) counter >= 0 && counter < COLO_CTLDB_COUNTER_COUNT ? self->counters[counter]
                                                                    : 0;
}

void
colo_ctldb_count_request (colo_ctldb_t *self, colo_ctl_req_type_t type,
                          colo_ctl_error_t result)
{
    if ((int) type >= 0 && type < COLO_CTL_REQ_COUNT)
        self->requests[type]++;
    if ((int) result >= 0 && result < COLO_CTL_E_COUNT)
        self->errors[result]++;
}

void
colo_ctldb_count_event (colo_ctldb_t *self, const colo_ctl_event_t *ev, size_t delivered)
{
    s_vm_t *vm = s_vm (self, ev->vm);
    if (!vm || (int) ev->type <= 0 || ev->type >= COLO_CTL_EV_COUNT)
        return;
    vm->events[ev->type]++;
    vm->delivered[ev->type] += delivered;
}

// ---------------------------------------------------------------- reports

static int
s_inst_cmp (const void *a, const void *b)
{
    const colo_ctl_instance_t *x = (const colo_ctl_instance_t *) a;
    const colo_ctl_instance_t *y = (const colo_ctl_instance_t *) b;
    int c = strcmp (x->vm, y->vm);
    if (!c)
        c = strcmp (x->kind, y->kind);
    if (!c)
        c = strcmp (x->instance, y->instance);
    return c;
}

int
colo_ctldb_status (colo_ctldb_t *self, uint64_t now_ms, colo_ctl_reply_t *rep)
{
    rep->n_instances = 0;
    rep->instances = NULL;
    if (self->n_inst == 0)
        return 0;
    rep->instances = (colo_ctl_instance_t *) calloc (self->n_inst, sizeof *rep->instances);
    if (!rep->instances)
        return -1;
    for (size_t i = 0; i < self->n_inst; i++) {
        const s_inst_t *inst = &self->inst[i];
        if (colo_ctl_instance_copy (&rep->instances[i], &inst->info) != 0)
            return -1;
        rep->n_instances = i + 1;
        rep->instances[i].age_ms = now_ms - inst->last_ms;
        rep->instances[i].alive = s_alive (inst, now_ms);
    }
    qsort (rep->instances, rep->n_instances, sizeof *rep->instances, s_inst_cmp);
    return 0;
}

//  A group under construction: counters found by name, added to.
typedef struct {
    colo_ctl_group_t *g;
    size_t cap;
} s_group_t;

static int
s_group_add (s_group_t *b, const char *name, uint64_t value)
{
    colo_ctl_group_t *g = b->g;
    for (size_t i = 0; i < g->n_counters; i++)
        if (strcmp (g->counters[i].name, name) == 0) {
            g->counters[i].value += value;
            return 0;
        }
    if (g->n_counters >= COLO_CTL_COUNTERS_MAX
        || s_grow ((void **) &g->counters, &b->cap, g->n_counters, sizeof *g->counters) != 0)
        return -1;
    colo_ctl_counter_t *c = &g->counters[g->n_counters++];
    snprintf (c->name, sizeof c->name, "%s", name);
    c->value = value;
    return 0;
}

static int
s_group_control (colo_ctldb_t *self, uint64_t now_ms, colo_ctl_group_t *g)
{
    s_group_t b = {g, 0};
    snprintf (g->name, sizeof g->name, "control");
    size_t alive = 0;
    for (size_t i = 0; i < self->n_inst; i++)
        alive += s_alive (&self->inst[i], now_ms);
    int rc = s_group_add (&b, "rules", self->n_rules);
    rc |= s_group_add (&b, "rules_version", self->version);
    rc |= s_group_add (&b, "instances", self->n_inst);
    rc |= s_group_add (&b, "instances_alive", alive);
    char name[COLO_CTL_NAME_MAX + 1];
    for (int t = 1; t < COLO_CTL_REQ_COUNT; t++) {
        snprintf (name, sizeof name, "requests_%s", colo_ctl_req_name (t));
        rc |= s_group_add (&b, name, self->requests[t]);
    }
    for (int e = 1; e < COLO_CTL_E_COUNT; e++) {
        snprintf (name, sizeof name, "errors_%s", colo_ctl_error_name (e));
        rc |= s_group_add (&b, name, self->errors[e]);
    }
    for (int c = 0; c < COLO_CTLDB_COUNTER_COUNT; c++)
        rc |= s_group_add (&b, colo_ctldb_counter_names[c], self->counters[c]);
    return rc ? -1 : 0;
}

static int
s_group_vm (colo_ctldb_t *self, const s_vm_t *vm, uint64_t now_ms, colo_ctl_group_t *g)
{
    s_group_t b = {g, 0};
    snprintf (g->name, sizeof g->name, "%s", vm->name);
    size_t own = 0, global = 0, inst = 0, alive = 0;
    for (size_t i = 0; i < self->n_rules; i++) {
        own += strcmp (self->rules[i].vm, vm->name) == 0;
        global += self->rules[i].vm[0] == 0;
    }
    int rc = s_group_add (&b, "rules", own);
    rc |= s_group_add (&b, "rules_global", global);
    char name[COLO_CTL_KIND_MAX + COLO_CTL_NAME_MAX + 2];   //  truncated when added
    for (int t = 1; t < COLO_CTL_EV_COUNT; t++) {
        snprintf (name, sizeof name, "%s", colo_ctl_event_name (t));
        rc |= s_group_add (&b, name, vm->events[t]);
        snprintf (name, sizeof name, "%s_delivered", colo_ctl_event_name (t));
        rc |= s_group_add (&b, name, vm->delivered[t]);
    }
    for (size_t i = 0; i < self->n_inst; i++) {
        const s_inst_t *in = &self->inst[i];
        if (strcmp (in->info.vm, vm->name) != 0)
            continue;
        inst++;
        alive += s_alive (in, now_ms);
        for (size_t c = 0; c < in->info.n_counters; c++) {
            snprintf (name, sizeof name, "%s.%s", in->info.kind, in->info.counters[c].name);
            rc |= s_group_add (&b, name, in->info.counters[c].value);
        }
    }
    rc |= s_group_add (&b, "instances", inst);
    rc |= s_group_add (&b, "instances_alive", alive);
    return rc ? -1 : 0;
}

int
colo_ctldb_stats (colo_ctldb_t *self, const char *vm, uint64_t now_ms,
                  colo_ctl_reply_t *rep)
{
    rep->groups = (colo_ctl_group_t *) calloc (self->n_vms + 1, sizeof *rep->groups);
    rep->n_groups = 0;
    if (!rep->groups)
        return -1;
    if (!vm) {
        rep->n_groups = 1;
        if (s_group_control (self, now_ms, &rep->groups[0]) != 0)
            return -1;
    }
    for (size_t i = 0; i < self->n_vms; i++) {
        if (vm && strcmp (self->vms[i].name, vm) != 0)
            continue;
        colo_ctl_group_t *g = &rep->groups[rep->n_groups++];
        if (s_group_vm (self, &self->vms[i], now_ms, g) != 0)
            return -1;
    }
    if (vm && rep->n_groups == 0) {
        //  A VM nobody mentioned yet: its rules, and zeros.
        s_vm_t empty;
        memset (&empty, 0, sizeof empty);
        snprintf (empty.name, sizeof empty.name, "%s", vm);
        rep->n_groups = 1;
        if (s_group_vm (self, &empty, now_ms, &rep->groups[0]) != 0)
            return -1;
    }
    return 0;
}

// ---------------------------------------------------------------- metrics

typedef struct {
    char *data;
    size_t len, cap;
    int failed;
} s_text_t;

static void
s_text (s_text_t *t, const char *fmt, ...)
{
    if (t->failed)
        return;
    for (int attempt = 0; attempt < 2; attempt++) {
        va_list ap;
        va_start (ap, fmt);
        int n = vsnprintf (t->data ? t->data + t->len : NULL, t->data ? t->cap - t->len : 0,
                           fmt, ap);
        va_end (ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if (t->data && t->len + (size_t) n < t->cap) {
            t->len += (size_t) n;
            return;
        }
        size_t cap = t->cap ? t->cap : 4096;
        while (cap <= t->len + (size_t) n)
            cap *= 2;
        char *bigger = (char *) realloc (t->data, cap);
        if (!bigger) {
            t->failed = 1;
            return;
        }
        t->data = bigger;
        t->cap = cap;
    }
}

//  A label value with \, " and newlines escaped, into buf.
static const char *
s_label (const char *value, char *buf, size_t cap)
{
    size_t o = 0;
    for (const char *p = value; *p && o + 3 < cap; p++) {
        if (*p == '\\' || *p == '"') {
            buf[o++] = '\\';
            buf[o++] = *p;
        }
        else if (*p == '\n') {
            buf[o++] = '\\';
            buf[o++] = 'n';
        }
        else
            buf[o++] = *p;
    }
    buf[o] = 0;
    return buf;
}

static void
s_family (s_text_t *t, const char *name, const char *type, const char *help)
{
    s_text (t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

//  An instance's labels: kind, instance and VM.
static void
s_inst_labels (const s_inst_t *in, char *buf, size_t cap)
{
    snprintf (buf, cap, "kind=\"%s\",instance=\"%s\",vm=\"%s\"", in->info.kind,
              in->info.instance, in->info.vm);
}

//  The bound in seconds of a histogram bucket counter named "held_le_" and
//  a number with us, ms or s ("held_le_20us", "held_le_1s"): > 0, or 0 when
//  name is not one.
static double
s_held_bound (const char *name)
{
    static const char prefix[] = "held_le_";
    if (strncmp (name, prefix, sizeof prefix - 1) != 0)
        return 0;
    const char *p = name + sizeof prefix - 1;
    char *unit;
    unsigned long n = strtoul (p, &unit, 10);
    if (unit == p || n == 0)
        return 0;
    if (strcmp (unit, "us") == 0)
        return (double) n / 1e6;
    if (strcmp (unit, "ms") == 0)
        return (double) n / 1e3;
    if (strcmp (unit, "s") == 0)
        return (double) n;
    return 0;
}

typedef struct {
    double le;
    uint64_t count;
} s_bucket_t;

static int
s_bucket_cmp (const void *a, const void *b)
{
    double x = ((const s_bucket_t *) a)->le, y = ((const s_bucket_t *) b)->le;
    return x < y ? -1 : x > y;
}

//  An instance that reports a hold-time histogram (colo-compare's
//  held_le_* buckets, held_us and out_frames) as a Prometheus histogram:
//  its buckets in increasing order, +Inf (out_frames), sum and count.
static void
s_held_histogram (s_text_t *t, const s_inst_t *in, const char *labels)
{
    s_bucket_t b[COLO_CTL_COUNTERS_MAX];
    size_t nb = 0;
    uint64_t held_us = 0, out_frames = 0;
    for (size_t c = 0; c < in->info.n_counters; c++) {
        const colo_ctl_counter_t *k = &in->info.counters[c];
        double le = s_held_bound (k->name);
        if (le > 0 && nb < COLO_CTL_COUNTERS_MAX)   //  the codec allows no more
            b[nb++] = (s_bucket_t){le, k->value};
        else if (strcmp (k->name, "held_us") == 0)
            held_us = k->value;
        else if (strcmp (k->name, "out_frames") == 0)
            out_frames = k->value;
    }
    if (nb == 0)
        return;
    qsort (b, nb, sizeof b[0], s_bucket_cmp);
    for (size_t i = 0; i < nb; i++)
        s_text (t, "colonet_instance_held_seconds_bucket{%s,le=\"%g\"} %llu\n", labels, b[i].le,
                (unsigned long long) b[i].count);
    s_text (t, "colonet_instance_held_seconds_bucket{%s,le=\"+Inf\"} %llu\n", labels,
            (unsigned long long) out_frames);
    s_text (t, "colonet_instance_held_seconds_sum{%s} %.6f\n", labels, (double) held_us / 1e6);
    s_text (t, "colonet_instance_held_seconds_count{%s} %llu\n", labels,
            (unsigned long long) out_frames);
}

char *
colo_ctldb_metrics (colo_ctldb_t *self, uint64_t now_ms, size_t *len)
{
    s_text_t t = {NULL, 0, 0, 0};
    s_family (&t, "colonet_control_rules", "gauge", "Passthrough rules in the store.");
    s_text (&t, "colonet_control_rules %zu\n", self->n_rules);
    s_family (&t, "colonet_control_rules_version", "gauge",
              "Version of the rules (bumped by every change).");
    s_text (&t, "colonet_control_rules_version %llu\n", (unsigned long long) self->version);
    s_family (&t, "colonet_control_requests_total", "counter", "API requests by type.");
    for (int r = 1; r < COLO_CTL_REQ_COUNT; r++)
        s_text (&t, "colonet_control_requests_total{type=\"%s\"} %llu\n",
                colo_ctl_req_name (r), (unsigned long long) self->requests[r]);
    s_family (&t, "colonet_control_errors_total", "counter", "Refused requests by code.");
    for (int e = 1; e < COLO_CTL_E_COUNT; e++)
        s_text (&t, "colonet_control_errors_total{code=\"%s\"} %llu\n",
                colo_ctl_error_name (e), (unsigned long long) self->errors[e]);
    for (int c = 0; c < COLO_CTLDB_COUNTER_COUNT; c++) {
        char name[96];
        snprintf (name, sizeof name, "colonet_control_%s_total", colo_ctldb_counter_names[c]);
        s_family (&t, name, "counter", "See docs/control.md.");
        s_text (&t, "%s %llu\n", name, (unsigned long long) self->counters[c]);
    }
    char vm[2 * COLO_CTL_NAME_MAX + 2];
    s_family (&t, "colonet_control_vm_rules", "gauge", "Rules scoped to one VM.");
    for (size_t i = 0; i < self->n_vms; i++) {
        size_t own = 0;
        for (size_t r = 0; r < self->n_rules; r++)
            own += strcmp (self->rules[r].vm, self->vms[i].name) == 0;
        s_text (&t, "colonet_control_vm_rules{vm=\"%s\"} %zu\n",
                s_label (self->vms[i].name, vm, sizeof vm), own);
    }
    s_family (&t, "colonet_control_events_total", "counter",
              "Checkpoint requests, checkpoint-done and failover events by VM.");
    for (size_t i = 0; i < self->n_vms; i++)
        for (int e = 1; e < COLO_CTL_EV_COUNT; e++)
            s_text (&t, "colonet_control_events_total{vm=\"%s\",type=\"%s\"} %llu\n",
                    s_label (self->vms[i].name, vm, sizeof vm), colo_ctl_event_name (e),
                    (unsigned long long) self->vms[i].events[e]);
    static const char *const inst_families[4][3] = {
        {"colonet_instance_up", "gauge", "1 while the instance heartbeats."},
        {"colonet_instance_rules_version", "gauge", "Rules version the instance applies."},
        {"colonet_instance_heartbeat_age_seconds", "gauge", "Time since the last heartbeat."},
        {"colonet_instance_counter", "untyped", "An instance's own counters, by name."},
    };
    for (int f = 0; f < 4; f++) {
        s_family (&t, inst_families[f][0], inst_families[f][1], inst_families[f][2]);
        for (size_t i = 0; i < self->n_inst; i++) {
            const s_inst_t *in = &self->inst[i];
            char labels[256];
            char name[2 * COLO_CTL_NAME_MAX + 2];
            s_inst_labels (in, labels, sizeof labels);
            if (f == 0)
                s_text (&t, "%s{%s} %d\n", inst_families[f][0], labels, s_alive (in, now_ms));
            else if (f == 1)
                s_text (&t, "%s{%s} %llu\n", inst_families[f][0], labels,
                        (unsigned long long) in->info.rules_version);
            else if (f == 2)
                s_text (&t, "%s{%s} %.3f\n", inst_families[f][0], labels,
                        (double) (now_ms - in->last_ms) / 1000.0);
            else
                for (size_t c = 0; c < in->info.n_counters; c++)
                    s_text (&t, "%s{%s,name=\"%s\"} %llu\n", inst_families[f][0], labels,
                            s_label (in->info.counters[c].name, name, sizeof name),
                            (unsigned long long) in->info.counters[c].value);
        }
    }
    s_family (&t, "colonet_instance_held_seconds", "histogram",
              "How long an instance held the frames it let out, from arrival to output.");
    for (size_t i = 0; i < self->n_inst; i++) {
        const s_inst_t *in = &self->inst[i];
        char labels[256];
        s_inst_labels (in, labels, sizeof labels);
        s_held_histogram (&t, in, labels);
    }
    if (t.failed) {
        free (t.data);
        return NULL;
    }
    if (len)
        *len = t.len;
    return t.data;
}
