/*  colo_ctldb.h - colo-control's state: rules with ids and versions, instances, counters.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Pure logic, no I/O: the actor (colo_control.c) feeds it decoded
 *  requests and the clock, persists what it says, and sends what it
 *  builds.  Tests drive it with literal rules.
 *
 *  Rules.  Every rule has an id (never reused: next_id only grows) and the
 *  version that added it; every add or delete bumps the version by one.  A
 *  change is applied here first, then persisted by the caller; if that
 *  fails, colo_ctldb_undo puts everything back as it was (ids, version),
 *  so the reply can say "nothing changed".
 *
 *  Instances (compare, rewriter, mirror, adapter) say Hello at start and
 *  at every heartbeat; an instance is known by (kind, name), and the
 *  latest Hello's route (the API socket's routing id) is where events for
 *  it go.  It is alive while it heartbeats: dead after
 *  COLO_CTLDB_DEAD_HEARTBEATS missed heartbeats, forgotten after
 *  COLO_CTLDB_FORGET_MS dead.  Instances are not persisted: after a
 *  restart they reappear with their next heartbeat.
 *
 *  Events go to instances of the event's VM only: checkpoint-done and
 *  failover to compare, rewriter and mirror (a checkpoint ends a mirror's
 *  divergence),
 *  checkpoint requests to adapters (besides the VM's hook, which the actor
 *  runs).
 */
#ifndef COLO_CTLDB_H_INCLUDED
#define COLO_CTLDB_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "colo_ctlcodec.h"
#include "colo_ruleset.h"

#define COLO_CTLDB_RULES_MAX 100000
#define COLO_CTLDB_INSTANCES_MAX 4096
#define COLO_CTLDB_VMS_MAX 4096           //  VMs with their own counters
#define COLO_CTLDB_DEAD_HEARTBEATS 3
#define COLO_CTLDB_FORGET_MS (10 * 60 * 1000)
#define COLO_CTLDB_ROUTE_MAX 255          //  ZeroMQ routing ids are at most 255 bytes

//  colo-control's own counters (stats group "control", metrics).
typedef enum {
    COLO_CTLDB_BAD_REQUESTS,              //  refused before reaching a handler
    COLO_CTLDB_BAD_ENVELOPES,             //  API messages not shaped [id, (empty,) body]
    COLO_CTLDB_REPLIES_UNSENT,            //  replies the API socket refused
    COLO_CTLDB_EVENTS_UNDELIVERED,        //  events for an instance that had gone
    COLO_CTLDB_STORE_WRITES,
    COLO_CTLDB_STORE_FAILURES,
    COLO_CTLDB_CURVE_REFUSED,             //  handshakes refused (no authorised key)
    COLO_CTLDB_INSTANCES_FORGOTTEN,
    COLO_CTLDB_HOOKS_RUN,
    COLO_CTLDB_HOOKS_FAILED,              //  could not start, or exited non-zero
    COLO_CTLDB_HOOKS_COALESCED,           //  requests folded into a running hook
    COLO_CTLDB_COUNTER_COUNT
} colo_ctldb_counter_t;

extern const char *const colo_ctldb_counter_names[COLO_CTLDB_COUNTER_COUNT];

typedef struct colo_ctldb colo_ctldb_t;

colo_ctldb_t *colo_ctldb_new (void);
void colo_ctldb_destroy (colo_ctldb_t **self_p);

//  Replace the rules with those of a store read at start.  Checks every
//  rule (colo_rule_validate, ids unique and below next_id, versions not
//  above the store's); returns 0, or -1 with the reason in err.
int colo_ctldb_load (colo_ctldb_t *self, const colo_ctl_store_t *store, char *err,
                     size_t err_cap);

//  The state to persist: borrowed, valid until the next change.
void colo_ctldb_store_view (colo_ctldb_t *self, colo_ctl_store_t *out);

uint64_t colo_ctldb_version (colo_ctldb_t *self);
size_t colo_ctldb_rule_count (colo_ctldb_t *self);

//  Add a rule (id and version are assigned; the caller's are ignored).
//  Refuses, with a message in msg: an invalid rule (INVALID), a rule equal
//  to an existing one (DUPLICATE, *existing_id set), a broad rule without
//  force (MATCHES_ALL), one rule too many (FULL).  On COLO_CTL_OK *added
//  (if not NULL) is the rule as stored.
colo_ctl_error_t colo_ctldb_rule_add (colo_ctldb_t *self, const colo_rule_t *rule,
                                      int force, colo_rule_t *added,
                                      uint64_t *existing_id, char *msg, size_t msg_cap);

//  Delete by id: COLO_CTL_OK (*deleted, if not NULL, is the rule) or
//  NOT_FOUND.
colo_ctl_error_t colo_ctldb_rule_del (colo_ctldb_t *self, uint64_t id, colo_rule_t *deleted,
                                      char *msg, size_t msg_cap);

//  Take back the last successful add or delete (once).  Returns 0, or -1
//  if there is nothing to undo.
int colo_ctldb_undo (colo_ctldb_t *self);

//  A malloc'd copy of the rules by id: every rule (vm NULL), or those of
//  vm and the global ones.  *n gets the count; NULL when there are none
//  (or no memory: *n is then (size_t) -1).
colo_rule_t *colo_ctldb_rules_for (colo_ctldb_t *self, const char *vm, size_t *n);

//  Register or refresh an instance.  INVALID for a bad kind or name, FULL
//  when the table is full.
colo_ctl_error_t colo_ctldb_hello (colo_ctldb_t *self, const colo_ctl_instance_t *hello,
                                   const void *route, size_t route_len, uint64_t now_ms,
                                   char *msg, size_t msg_cap);

//  Call fn for every instance of vm that receives events of this type.
//  Returns the number of calls.
typedef void (colo_ctldb_route_fn) (void *arg, const void *route, size_t route_len,
                                    const char *kind, const char *instance);
size_t colo_ctldb_each_target (colo_ctldb_t *self, const char *vm,
                               colo_ctl_event_type_t type, colo_ctldb_route_fn *fn,
                               void *arg);

//  Forget instances dead for longer than COLO_CTLDB_FORGET_MS.
void colo_ctldb_tick (colo_ctldb_t *self, uint64_t now_ms);

//  Counting.
void colo_ctldb_count (colo_ctldb_t *self, colo_ctldb_counter_t counter);
void colo_ctldb_count_request (colo_ctldb_t *self, colo_ctl_req_type_t type,
                               colo_ctl_error_t result);
void colo_ctldb_count_event (colo_ctldb_t *self, const colo_ctl_event_t *ev,
                             size_t delivered);
uint64_t colo_ctldb_counter (colo_ctldb_t *self, colo_ctldb_counter_t counter);

//  Fill rep->instances (deep copies, sorted by VM, kind, name) for status.
//  Returns 0 or -1 (no memory).
int colo_ctldb_status (colo_ctldb_t *self, uint64_t now_ms, colo_ctl_reply_t *rep);

//  Fill rep->groups for stats: "control" (requests, errors, rules,
//  instances, the counters above) unless vm is given, then one group per
//  VM (its rules, live instances, events, and its instances' counters
//  summed by name).  Returns 0 or -1.
int colo_ctldb_stats (colo_ctldb_t *self, const char *vm, uint64_t now_ms,
                      colo_ctl_reply_t *rep);

//  The Prometheus text exposition of everything above; malloc'd,
//  NUL-terminated, *len (if not NULL) its length.  NULL on no memory.
char *colo_ctldb_metrics (colo_ctldb_t *self, uint64_t now_ms, size_t *len);

#endif
