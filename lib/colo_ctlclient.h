/*  colo_ctlclient.h - talking to colo-control: the instance client, one-shot requests, URIs.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  A control URI names colo-control's API socket and, optionally, how to
 *  reach its events socket and the CURVE keys to use:
 *
 *    tcp://HOST:PORT[,events=ENDPOINT][,curve-server=KEY|FILE][,curve-secret=FILE]
 *    ipc://PATH[,...the same options]
 *
 *  ("zmq+tcp://" and "zmq+ipc://" are accepted too.)  Without events=, the
 *  client asks colo-control where its events socket is bound and, if that
 *  is a wildcard address (0.0.0.0, ::, *), uses the API's host with it.
 *  curve-server is colo-control's public key (40 Z85 characters or a
 *  certificate file), curve-secret this client's certificate with its
 *  secret key (CZMQ zcert files, see lib/colo_curve.h); give both or
 *  neither.  Paths may not contain commas.
 *
 *  THE INSTANCE CLIENT (colo_ctlclient_t) is what every data-plane service
 *  (compare, rewriter, mirror; or a hypervisor adapter) links.  It lives in
 *  the service's loop thread and never blocks:
 *
 *    c = colo_ctlclient_new (control_uri, "compare", "vm1-nic0", "vm1");
 *    colo_loop_add_fd (loop, colo_ctlclient_fd (c), on_control, c);
 *    on_control:   colo_ctlclient_process (c, colo_clock_mono_ms ());
 *                  rs = colo_ctlclient_rules (c);           (may be NULL)
 *                  while (colo_ctlclient_next_event (c, &ev)) ...
 *    per frame:    colo_ruleset_match (rs, &pkt, frame)
 *
 *  Create it in any thread, then use it from one thread only (ZeroMQ
 *  sockets are not thread-safe); rulesets can be shared (colo_ruleset_ref).
 *
 *  The fd is one stable epoll fd over the client's sockets (whose ZMQ_FDs
 *  are edge-triggered), a timer and a wake-up; it is readable whenever
 *  process has work, including heartbeats, so a service needs no timer of
 *  its own for the client.  process drains everything each call.
 *
 *  Behind it: the client connects in the background, registers (Hello:
 *  kind, instance, VM, the rules version it applies, the counters given to
 *  set_status), and repeats that Hello every heartbeat (1 s by default),
 *  which is also how it re-registers after colo-control restarts.  Rules
 *  follow the clone pattern of the ZeroMQ guide: it subscribes to
 *  colo-control's updates, fetches a snapshot (its VM's rules and the
 *  global ones, with the version) at start, after a restart of
 *  colo-control (a new epoch), and whenever it sees a gap (an update whose
 *  version is not the next one, or a heartbeat or Hello reply announcing a
 *  newer version than it has); updates that arrive while a snapshot is on
 *  its way are kept and applied on top of it if they are newer.  Each
 *  change becomes a new immutable ruleset, swapped in whole.
 *
 *  If colo-control does not answer for 5 heartbeats the client drops its
 *  sockets and dials again (ZeroMQ itself gives up after a refused CURVE
 *  handshake); the last ruleset stays in force meanwhile.
 *
 *  Sockets come from CZMQ's process-wide context: use this only after any
 *  fork().
 */
#ifndef COLO_CTLCLIENT_H_INCLUDED
#define COLO_CTLCLIENT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "colo_ctlcodec.h"
#include "colo_ruleset.h"

#define COLO_CTL_ENDPOINT_MAX 255

typedef struct {
    char endpoint[COLO_CTL_ENDPOINT_MAX + 1];     //  "tcp://host:port" or "ipc://path"
    char events[COLO_CTL_ENDPOINT_MAX + 1];       //  "" unless events= was given
    char curve_server[COLO_CTL_ENDPOINT_MAX + 1]; //  "" without CURVE
    char curve_secret[COLO_CTL_ENDPOINT_MAX + 1];
} colo_ctl_uri_t;

//  Parse a control URI (above) without opening anything; keys and files
//  are not read here.  Returns 0, or -1 with a one-line reason in err.
int colo_ctl_uri_parse (const char *uri, colo_ctl_uri_t *out, char *err, size_t err_cap);

//  The events endpoint to use: uri->events if set, else advertised (what
//  colo-control says it bound) with a wildcard host replaced by the
//  API's host.  Writes into out (cap bytes).  Returns 0 or -1.
int colo_ctl_events_endpoint (const colo_ctl_uri_t *uri, const char *advertised, char *out,
                              size_t cap);

//  One request, one reply, blocking at most timeout_ms: what coloctl and
//  tests use.  Fills req->seq and req->version.  Returns 0 when a reply
//  came (its error field says whether the request was refused; clear it
//  with colo_ctl_reply_clear), -1 if none came in time (unreachable, or a
//  CURVE server that refused our keys: ZeroMQ makes the two look alike),
//  -2 if the URI or the keys are unusable or the request cannot be
//  encoded.  err gets the reason for -1 and -2.
int colo_ctl_call (const char *control_uri, colo_ctl_request_t *req, colo_ctl_reply_t *rep,
                   int timeout_ms, char *err, size_t err_cap);

// ---------------------------------------------------------------- the instance client

#define COLO_CTLCLIENT_HEARTBEAT_DEFAULT 1000
#define COLO_CTLCLIENT_EVENTS_MAX 64           //  queued events; older ones are dropped

typedef struct colo_ctlclient colo_ctlclient_t;

//  The client's counters (colo_ctlclient_counters).
typedef enum {
    COLO_CTLCLIENT_HELLOS,                 //  Hellos sent
    COLO_CTLCLIENT_REPLIES,                //  replies received
    COLO_CTLCLIENT_SNAPSHOTS,              //  snapshots applied
    COLO_CTLCLIENT_UPDATES,                //  updates applied (in order)
    COLO_CTLCLIENT_GAPS,                   //  version gaps seen (each costs a snapshot)
    COLO_CTLCLIENT_RESTARTS,               //  colo-control epochs after the first
    COLO_CTLCLIENT_EVENTS,                 //  events received
    COLO_CTLCLIENT_EVENTS_DROPPED,         //  events lost to a full queue
    COLO_CTLCLIENT_CHECKPOINT_REQUESTS,    //  requests sent
    COLO_CTLCLIENT_CHECKPOINT_UNSENT,      //  requests that found no connection
    COLO_CTLCLIENT_REFUSED,                //  requests colo-control refused
    COLO_CTLCLIENT_MALFORMED,              //  messages that did not decode
    COLO_CTLCLIENT_REDIALS,                //  sockets dropped and dialled again
    COLO_CTLCLIENT_DROPPED_BY_TEST,        //  updates dropped by the test hook
    COLO_CTLCLIENT_COUNTER_COUNT
} colo_ctlclient_counter_t;

extern const char *const colo_ctlclient_counter_names[COLO_CTLCLIENT_COUNTER_COUNT];

//  A client for one instance: kind is "compare", "rewriter", "mirror" or
//  "adapter"; instance and vm are names of 1..63 characters of
//  [A-Za-z0-9._-].  Returns NULL (after logging why) if an argument is bad
//  or the URI or keys are unusable; never waits for colo-control.
colo_ctlclient_t *colo_ctlclient_new (const char *control_uri, const char *kind,
                                      const char *instance, const char *vm);

//  Close the sockets; the current ruleset is released (others holding a
//  reference keep theirs).  NULL-safe, nulls *self_p.
void colo_ctlclient_destroy (colo_ctlclient_t **self_p);

//  The heartbeat interval (10..600000 ms; default 1000).  colo-control
//  marks the instance dead after 3 missed heartbeats.
void colo_ctlclient_set_heartbeat (colo_ctlclient_t *self, uint32_t ms);

//  The one fd to poll for input (stable for the client's life).
int colo_ctlclient_fd (colo_ctlclient_t *self);

//  Do everything that is due: read every message, apply rules, queue
//  events, send heartbeats and snapshot requests, dial again.  now_ms is
//  the monotonic clock (colo_clock_mono_ms).
void colo_ctlclient_process (colo_ctlclient_t *self, uint64_t now_ms);

//  The rules in force for this instance's VM (its own and the global
//  ones), or NULL before the first snapshot.  Borrowed: valid until the
//  next colo_ctlclient_process or destroy; to keep it longer (or hand it
//  to another thread), take a reference with colo_ruleset_ref.
const colo_ruleset_t *colo_ctlclient_rules (colo_ctlclient_t *self);

//  The next event for this instance, oldest first: 1 and *ev filled, or 0.
//  compare, rewriter and mirror get CHECKPOINT_DONE and FAILOVER, an
//  adapter gets CHECKPOINT_REQUEST; always for this VM only.
int colo_ctlclient_next_event (colo_ctlclient_t *self, colo_ctl_event_t *ev);

//  Ask colo-control for a checkpoint of this VM; it goes to the VM's
//  hypervisor adapter (see docs/control.md).  reason and connection are
//  free text for the adapter and the logs (truncated to 255 bytes;
//  connection may be NULL).  Returns 0 if sent, -1 if colo-control is not
//  reachable right now (the caller decides whether to retry).
int colo_ctlclient_request_checkpoint (colo_ctlclient_t *self, const char *reason,
                                       const char *connection);

//  The counters to report with the next heartbeats (copied; at most
//  COLO_CTL_COUNTERS_MAX, names truncated to 63 bytes).  They show in
//  coloctl status and stats and in colo-control's metrics.
void colo_ctlclient_set_status (colo_ctlclient_t *self, const char *const *names,
                                const uint64_t *values, size_t n);

//  1 while colo-control answers (a reply within the last 3 heartbeats).
int colo_ctlclient_connected (colo_ctlclient_t *self);

//  The rules version applied (0 before the first snapshot).
uint64_t colo_ctlclient_version (colo_ctlclient_t *self);

//  The client's counters (COLO_CTLCLIENT_COUNTER_COUNT values), borrowed.
const uint64_t *colo_ctlclient_counters (colo_ctlclient_t *self);

//  TEST HOOK: drop the next n rule updates as if the network had lost
//  them (to exercise gap repair).  Not for production use.
void colo_ctlclient_test_drop_updates (colo_ctlclient_t *self, unsigned n);

#endif
