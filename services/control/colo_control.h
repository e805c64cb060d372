/*  colo_control.h - colo-control: the API, the events, the store, hooks, metrics.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  An actor (one thread running a colo_loop_t) with:
 *  - the API, a ZeroMQ ROUTER bound to `api`: one Request in, one Reply
 *    out (proto/control.proto via lib/colo_ctlcodec.h); it also pushes
 *    events to registered instances (DEALERs) as Replies with seq 0;
 *  - the events, a ZeroMQ PUB bound to `events`: topic "R" (every rule
 *    change), "H" (heartbeat with the rules version, every heartbeat_ms),
 *    "E/<vm>/" (checkpoint-done and failover), "A/<vm>/" (checkpoint
 *    requests, for adapters);
 *  - the store (colo_ctlstore.h): a rule change is persisted before its
 *    reply, and a change that cannot be persisted is undone and refused
 *    (STORE_FAILED);
 *  - per-VM checkpoint hooks: a checkpoint request for a VM runs its hook
 *    (argv: the hook's words, then VM, REASON, CONNECTION; environment:
 *    COLO_EVENT, COLO_VM, COLO_REASON, COLO_CONNECTION, COLO_SOURCE).  One
 *    run at a time per VM: requests while it runs are coalesced into one
 *    more run after it exits;
 *  - Prometheus metrics over HTTP (libmicrohttpd, its own thread) at
 *    `metrics`, GET /metrics;
 *  - CURVE: with curve_keys=DIR, both sockets are CURVE servers with the
 *    certificate DIR/server (DIR/server_secret holds the secret key) and
 *    admit only clients whose certificate is in DIR/clients/; a refused
 *    handshake is counted (curve_refused) and logged.
 *
 *  Endpoints are ZeroMQ's ("tcp://127.0.0.1:7100", "ipc:///run/colonet/api";
 *  a host of * binds every interface; a "zmq+" prefix is accepted), always
 *  bound.  A TCP port 0 or * picks a free port: colo_control_api_endpoint
 *  and colo_control_events_endpoint tell which.
 */
#ifndef COLO_CONTROL_H_INCLUDED
#define COLO_CONTROL_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "colo_ctldb.h"

#define COLO_CONTROL_API_DEFAULT "tcp://127.0.0.1:7100"
#define COLO_CONTROL_EVENTS_DEFAULT "tcp://127.0.0.1:7101"
#define COLO_CONTROL_HEARTBEAT_DEFAULT 1000

//  A VM's hypervisor adapter ([vm NAME] in the config file).
typedef struct {
    const char *vm;
    const char *checkpoint_hook;      //  command (words split on blanks), or NULL
} colo_control_vm_t;

typedef struct {
    const char *id;                   //  name for logs (default "control")
    const char *api;                  //  ROUTER endpoint (COLO_CONTROL_API_DEFAULT)
    const char *events;               //  PUB endpoint (COLO_CONTROL_EVENTS_DEFAULT)
    const char *store;                //  store directory (required)
    const char *metrics;              //  HOST:PORT for HTTP, or NULL
    const char *curve_keys;           //  directory, or NULL
    uint32_t heartbeat_ms;            //  "H" publications (COLO_CONTROL_HEARTBEAT_DEFAULT)
    const colo_control_vm_t *vms;
    size_t n_vms;
} colo_control_config_t;

typedef struct colo_control colo_control_t;

void colo_control_config_defaults (colo_control_config_t *cfg);

//  Check cfg without opening anything: endpoints, the metrics address,
//  names and hooks (an executable file), that the CURVE directory holds
//  what it must.  Returns 0, or -1 with a one-line reason in err.
int colo_control_config_check (const colo_control_config_t *cfg, char *err, size_t err_cap);

//  Open the store, bind the sockets, start metrics and the thread; returns
//  once it serves, or NULL after logging why.  cfg is copied.
colo_control_t *colo_control_start (const colo_control_config_t *cfg);

//  Stop the thread, close everything in reverse order, free; NULL-safe.
//  Running hooks are not killed (they are reaped if they end first).
void colo_control_stop (colo_control_t **self_p);

//  The bound endpoints (wildcard ports resolved), borrowed.
const char *colo_control_api_endpoint (colo_control_t *self);
const char *colo_control_events_endpoint (colo_control_t *self);

//  The metrics TCP port, or 0 without metrics.
int colo_control_metrics_port (colo_control_t *self);

//  A counter, read under the actor's lock (any thread).
uint64_t colo_control_counter (colo_control_t *self, colo_ctldb_counter_t counter);

//  The rules version, read under the lock (any thread).
uint64_t colo_control_version (colo_control_t *self);

#endif
