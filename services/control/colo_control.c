/*  colo_control.c - colo-control: the API, the events, the store, hooks, metrics.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  One thread owns the sockets and runs the loop; the state (colo_ctldb)
 *  is shared with the metrics thread and counter readers under one mutex,
 *  held while a request is handled (including the store's fsync: a scrape
 *  waits for a rule change to be durable, which is the order we want).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <czmq.h>

#include "colo_config.h"
#include "colo_control.h"
#include "colo_ctlhook.h"
#include "colo_ctlhttp.h"
#include "colo_ctlstore.h"
#include "colo_curve.h"
#include "colo_log.h"
#include "colo_loop.h"

#define S_ENDPOINT_MAX 256
#define S_BURST 256                   //  API messages per turn
#define S_API_MSG_MAX (1024 * 1024)   //  ZeroMQ drops peers sending more

#define S_MON_EVENTS                                                           \
    (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL \
     | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
//  ... and CLOSED, so that stop returns only once the endpoints are free.
#define S_MON_ALL (S_MON_EVENTS | ZMQ_EVENT_CLOSED)
#define S_UNBIND_WAIT_MS 2000

struct colo_control {
    char *id, *api, *events, *store_dir, *metrics, *curve_keys;
    uint32_t heartbeat_ms;
    colo_ctlstore_t *store;
    colo_ctldb_t *db;
    pthread_mutex_t lock;
    zsock_t *api_sock, *pub;
    zsock_t *api_mon, *pub_mon;
    char *curve_clients;              //  holds a colo_curve policy registration
    char api_ep[S_ENDPOINT_MAX], events_ep[S_ENDPOINT_MAX];
    uint64_t epoch;
    uint64_t event_seq;
    colo_loop_t *loop;
    pthread_t thread;
    int running;
    colo_ctlhttp_t *http;
    colo_ctlhooks_t *hooks;
    colo_ratelimit_t rl_bad, rl_curve, rl_hook, rl_send;
};

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

void
colo_control_config_defaults (colo_control_config_t *cfg)
{
    memset (cfg, 0, sizeof *cfg);
    cfg->id = "control";
    cfg->api = COLO_CONTROL_API_DEFAULT;
    cfg->events = COLO_CONTROL_EVENTS_DEFAULT;
    cfg->heartbeat_ms = COLO_CONTROL_HEARTBEAT_DEFAULT;
}

//  A ZeroMQ endpoint from "tcp://", "ipc://" or their "zmq+" forms.
static int
s_endpoint (const char *text, char *out, size_t cap)
{
    if (!text)
        return -1;
    if (strncmp (text, "zmq+", 4) == 0)
        text += 4;
    if ((strncmp (text, "tcp://", 6) != 0 && strncmp (text, "ipc://", 6) != 0)
        || strlen (text) <= 6 || strchr (text, ','))
        return -1;
    return snprintf (out, cap, "%s", text) < (int) cap ? 0 : -1;
}

//  "HOST:PORT", "[V6]:PORT", ":PORT" or "*:PORT" into an address.
int
colo_control_config_check (const colo_control_config_t *cfg, char *err, size_t err_cap)
{
    char ep[S_ENDPOINT_MAX];
    if (s_endpoint (cfg->api, ep, sizeof ep) != 0) {
        s_err (err, err_cap, "api '%s': expected tcp://HOST:PORT or ipc://PATH",
               cfg->api ? cfg->api : "");
        return -1;
    }
    if (s_endpoint (cfg->events, ep, sizeof ep) != 0) {
        s_err (err, err_cap, "events '%s': expected tcp://HOST:PORT or ipc://PATH",
               cfg->events ? cfg->events : "");
        return -1;
    }
    if (!cfg->store || !*cfg->store) {
        s_err (err, err_cap, "store '': a directory is required");
        return -1;
    }
    struct stat st_store;
    if (stat (cfg->store, &st_store) == 0 ? !S_ISDIR (st_store.st_mode) : errno != ENOENT) {
        s_err (err, err_cap, "store '%s': not a directory", cfg->store);
        return -1;
    }
    if (cfg->metrics && colo_ctlhttp_addr_check (cfg->metrics) != 0) {
        s_err (err, err_cap, "metrics '%s': expected HOST:PORT", cfg->metrics);
        return -1;
    }
    if (cfg->heartbeat_ms < 10 || cfg->heartbeat_ms > 600000) {
        s_err (err, err_cap, "heartbeat '%u': 10 to 600000 ms", cfg->heartbeat_ms);
        return -1;
    }
    if (cfg->curve_keys) {
        char path[PATH_MAX];
        struct stat st;
        snprintf (path, sizeof path, "%s/clients", cfg->curve_keys);
        if (stat (path, &st) != 0 || !S_ISDIR (st.st_mode)) {
            s_err (err, err_cap, "curve-keys '%s': no clients/ directory in it",
                   cfg->curve_keys);
            return -1;
        }
        char secret[PATH_MAX];
        snprintf (path, sizeof path, "%s/server", cfg->curve_keys);
        snprintf (secret, sizeof secret, "%s/server_secret", cfg->curve_keys);
        if (access (secret, R_OK) != 0 && access (path, R_OK) != 0) {
            s_err (err, err_cap, "curve-keys '%s': no server certificate (server_secret)",
                   cfg->curve_keys);
            return -1;
        }
    }
    for (size_t i = 0; i < cfg->n_vms; i++) {
        const colo_control_vm_t *vm = &cfg->vms[i];
        if (!colo_rule_name_ok (vm->vm)) {
            s_err (err, err_cap, "vm '%s': a VM name is 1 to 63 characters of A-Z a-z 0-9 . _ -",
                   vm->vm ? vm->vm : "");
            return -1;
        }
        char why[PATH_MAX + 64];
        if (vm->checkpoint_hook && colo_ctlhook_check (vm->checkpoint_hook, why, sizeof why) != 0) {
            s_err (err, err_cap, "checkpoint-hook %s (vm %s)", why, vm->vm);
            return -1;
        }
    }
    return 0;
}

// ---------------------------------------------------------------- sending

//  Send [route, (empty,) payload] on the API socket; 0 or -1.
static int
s_api_send (colo_control_t *self, const void *route, size_t route_len, int delimiter,
            const uint8_t *payload, size_t len)
{
    zmsg_t *msg = zmsg_new ();
    if (!msg)
        return -1;
    zmsg_addmem (msg, route, route_len);
    if (delimiter)
        zmsg_addmem (msg, "", 0);
    zmsg_addmem (msg, payload, len);
    if (zmsg_send (&msg, self->api_sock) != 0) {
        zmsg_destroy (&msg);
        return -1;
    }
    return 0;
}

static void
s_reply (colo_control_t *self, zframe_t *route, int delimiter, colo_ctl_reply_t *rep)
{
    rep->epoch = self->epoch;
    rep->rules_version = colo_ctldb_version (self->db);
    size_t len = 0;
    uint8_t *bytes = colo_ctl_reply_encode (rep, &len);
    if (!bytes || s_api_send (self, zframe_data (route), zframe_size (route), delimiter,
                              bytes, len)
                      != 0) {
        colo_ctldb_count (self->db, COLO_CTLDB_REPLIES_UNSENT);
        colo_log_limited (&self->rl_send, COLO_LOG_WARN, "%s: a reply could not be sent: %s",
                          self->id, bytes ? zmq_strerror (zmq_errno ()) : "no memory");
    }
    free (bytes);
}

static void
s_publish (colo_control_t *self, const char *topic, colo_ctl_pub_t *pub)
{
    pub->epoch = self->epoch;
    pub->rules_version = colo_ctldb_version (self->db);
    size_t len = 0;
    uint8_t *bytes = colo_ctl_pub_encode (pub, &len);
    if (!bytes)
        return;
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, topic);
    zmsg_addmem (msg, bytes, len);
    if (zmsg_send (&msg, self->pub) != 0)
        zmsg_destroy (&msg);
    free (bytes);
}

// ---------------------------------------------------------------- events and hooks

//  Reap the hook if it ended; start the coalesced run.
typedef struct {
    colo_control_t *self;
    const uint8_t *payload;
    size_t len;
    size_t delivered;
} s_push_t;

static void
s_push_one (void *arg, const void *route, size_t route_len, const char *kind,
            const char *instance)
{
    s_push_t *push = (s_push_t *) arg;
    colo_control_t *self = push->self;
    if (s_api_send (self, route, route_len, 0, push->payload, push->len) == 0)
        push->delivered++;
    else {
        colo_ctldb_count (self->db, COLO_CTLDB_EVENTS_UNDELIVERED);
        colo_log_limited (&self->rl_send, COLO_LOG_WARN,
                          "%s: an event for %s %s could not be delivered: %s", self->id,
                          kind, instance, zmq_strerror (zmq_errno ()));
    }
}

//  Fan an event out: instances (pushed Replies), PUB, and the VM's hook.
//  Returns how many got it.
static size_t
s_event (colo_control_t *self, colo_ctl_event_t *ev)
{
    ev->id = ++self->event_seq;
    colo_ctl_reply_t push_rep;
    memset (&push_rep, 0, sizeof push_rep);
    push_rep.has_event = 1;
    push_rep.event = *ev;
    push_rep.epoch = self->epoch;
    push_rep.rules_version = colo_ctldb_version (self->db);
    size_t len = 0;
    uint8_t *bytes = colo_ctl_reply_encode (&push_rep, &len);
    s_push_t push = {self, bytes, len, 0};
    if (bytes)
        colo_ctldb_each_target (self->db, ev->vm, ev->type, s_push_one, &push);
    free (bytes);
    char topic[COLO_CTL_NAME_MAX + 8];
    snprintf (topic, sizeof topic, "%s/%s/",
              ev->type == COLO_CTL_EV_CHECKPOINT_REQUEST ? "A" : "E", ev->vm);
    colo_ctl_pub_t pub;
    memset (&pub, 0, sizeof pub);
    pub.has_event = 1;
    pub.event = *ev;
    s_publish (self, topic, &pub);
    size_t delivered = push.delivered;
    if (ev->type == COLO_CTL_EV_CHECKPOINT_REQUEST) {
        if (colo_ctlhooks_fire (self->hooks, ev) == 1)
            delivered++;
        if (delivered == 0)
            colo_log_limited (&self->rl_hook, COLO_LOG_WARN,
                              "%s: checkpoint request for vm %s (%s) reached no adapter: "
                              "no checkpoint-hook, no adapter registered",
                              self->id, ev->vm, ev->reason);
    }
    colo_ctldb_count_event (self->db, ev, delivered);
    colo_info ("%s: %s for vm %s from %s: delivered to %zu", self->id,
               colo_ctl_event_name (ev->type), ev->vm, ev->source[0] ? ev->source : "?",
               delivered);
    return delivered;
}

// ---------------------------------------------------------------- requests

static void
s_persist_or_undo (colo_control_t *self, colo_ctl_reply_t *rep)
{
    colo_ctl_store_t view;
    colo_ctldb_store_view (self->db, &view);
    char err[512];
    if (colo_ctlstore_save (self->store, &view, err, sizeof err) == 0) {
        colo_ctldb_count (self->db, COLO_CTLDB_STORE_WRITES);
        return;
    }
    colo_ctldb_undo (self->db);
    colo_ctldb_count (self->db, COLO_CTLDB_STORE_FAILURES);
    colo_error ("%s: %s; the change is refused", self->id, err);
    rep->error = COLO_CTL_E_STORE_FAILED;
    snprintf (rep->message, sizeof rep->message, "not persisted, nothing changed: %.200s",
              err);
    rep->rule_id = 0;
}

static void
s_handle (colo_control_t *self, colo_ctl_request_t *req, zframe_t *route,
          colo_ctl_reply_t *rep)
{
    uint64_t now = colo_clock_mono_ms ();
    char msg[COLO_CTL_TEXT_MAX + 1] = "";
    colo_ctl_error_t rc = COLO_CTL_OK;
    if (req->has_vm && req->vm[0] && !colo_rule_name_ok (req->vm)) {
        rep->error = COLO_CTL_E_INVALID;
        snprintf (rep->message, sizeof rep->message, "vm '%s': not a VM name", req->vm);
        return;
    }
    const char *vm = req->has_vm && req->vm[0] ? req->vm : NULL;
    switch (req->type) {
        case COLO_CTL_REQ_RULE_ADD: {
            colo_rule_t added;
            uint64_t existing = 0;
            rc = colo_ctldb_rule_add (self->db, &req->rule, req->force, &added, &existing,
                                      msg, sizeof msg);
            if (rc == COLO_CTL_E_DUPLICATE)
                rep->rule_id = existing;
            if (rc != COLO_CTL_OK)
                break;
            rep->rule_id = added.id;
            s_persist_or_undo (self, rep);
            if (rep->error == COLO_CTL_OK) {
                char text[300];
                colo_info ("%s: rule %llu added (version %llu): %s", self->id,
                           (unsigned long long) added.id, (unsigned long long) added.version,
                           colo_rule_format (&added, text, sizeof text));
                colo_ctl_pub_t pub;
                memset (&pub, 0, sizeof pub);
                pub.has_update = 1;
                pub.update_version = added.version;
                pub.update_added = 1;
                pub.added = added;
                snprintf (pub.update_vm, sizeof pub.update_vm, "%s", added.vm);
                s_publish (self, "R", &pub);
            }
            return;
        }
        case COLO_CTL_REQ_RULE_DEL: {
            colo_rule_t deleted;
            rc = colo_ctldb_rule_del (self->db, req->rule_id, &deleted, msg, sizeof msg);
            if (rc != COLO_CTL_OK)
                break;
            rep->rule_id = deleted.id;
            s_persist_or_undo (self, rep);
            if (rep->error == COLO_CTL_OK) {
                colo_info ("%s: rule %llu deleted (version %llu)", self->id,
                           (unsigned long long) deleted.id,
                           (unsigned long long) colo_ctldb_version (self->db));
                colo_ctl_pub_t pub;
                memset (&pub, 0, sizeof pub);
                pub.has_update = 1;
                pub.update_version = colo_ctldb_version (self->db);
                pub.deleted = deleted.id;
                snprintf (pub.update_vm, sizeof pub.update_vm, "%s", deleted.vm);
                s_publish (self, "R", &pub);
            }
            return;
        }
        case COLO_CTL_REQ_RULE_LIST:
        case COLO_CTL_REQ_SNAPSHOT: {
            size_t n = 0;
            rep->rules = colo_ctldb_rules_for (self->db, vm, &n);
            if (n == (size_t) -1) {
                rc = COLO_CTL_E_INTERNAL;
                snprintf (msg, sizeof msg, "no memory");
                break;
            }
            rep->n_rules = n;
            snprintf (rep->events, sizeof rep->events, "%s", self->events_ep);
            break;
        }
        case COLO_CTL_REQ_STATUS:
            if (colo_ctldb_status (self->db, now, rep) != 0) {
                rc = COLO_CTL_E_INTERNAL;
                snprintf (msg, sizeof msg, "no memory");
            }
            break;
        case COLO_CTL_REQ_STATS:
            if (colo_ctldb_stats (self->db, vm, now, rep) != 0) {
                rc = COLO_CTL_E_INTERNAL;
                snprintf (msg, sizeof msg, "no memory");
            }
            break;
        case COLO_CTL_REQ_EVENT:
            if (!colo_rule_name_ok (req->event.vm)) {
                rc = COLO_CTL_E_INVALID;
                snprintf (msg, sizeof msg, "event: vm '%s' is not a VM name", req->event.vm);
                break;
            }
            rep->delivered = (uint32_t) s_event (self, &req->event);
            rep->has_event = 1;
            rep->event = req->event;
            break;
        case COLO_CTL_REQ_HELLO:
            rc = colo_ctldb_hello (self->db, &req->hello, zframe_data (route),
                                   zframe_size (route), now, msg, sizeof msg);
            snprintf (rep->events, sizeof rep->events, "%s", self->events_ep);
            break;
        default:
            rc = COLO_CTL_E_BAD_REQUEST;
            snprintf (msg, sizeof msg, "unknown request");
            break;
    }
    rep->error = rc;
    if (rc != COLO_CTL_OK)
        snprintf (rep->message, sizeof rep->message, "%s", msg);
}

//  One API message; returns -1 when there was none.
static int
s_api_one (colo_control_t *self)
{
    zmsg_t *msg = zmsg_recv (self->api_sock);
    if (!msg)
        return -1;
    zframe_t *route = zmsg_first (msg);
    size_t frames = zmsg_size (msg);
    zframe_t *second = zmsg_next (msg);
    int delimiter = frames == 3 && zframe_size (second) == 0;
    zframe_t *body = delimiter ? zmsg_next (msg) : second;
    colo_ctl_reply_t rep;
    memset (&rep, 0, sizeof rep);
    pthread_mutex_lock (&self->lock);
    if (!route || !body || (frames != 2 && !delimiter)) {
        colo_ctldb_count (self->db, COLO_CTLDB_BAD_ENVELOPES);
        colo_log_limited (&self->rl_bad, COLO_LOG_WARN,
                          "%s: API message of %zu frames refused (expected a request in "
                          "one frame)",
                          self->id, frames);
        if (route && frames >= 2) {
            rep.error = COLO_CTL_E_BAD_REQUEST;
            snprintf (rep.message, sizeof rep.message,
                      "a request is one frame (after an empty one for REQ sockets)");
            s_reply (self, route, delimiter, &rep);
        }
        pthread_mutex_unlock (&self->lock);
        zmsg_destroy (&msg);
        return 0;
    }
    colo_ctl_request_t req;
    char err[256];
    colo_ctl_error_t rc
        = colo_ctl_request_decode (zframe_data (body), zframe_size (body), &req, err, sizeof err);
    if (rc != COLO_CTL_OK) {
        colo_ctldb_count (self->db, COLO_CTLDB_BAD_REQUESTS);
        colo_ctldb_count_request (self->db, COLO_CTL_REQ_NONE, rc);
        colo_log_limited (&self->rl_bad, COLO_LOG_WARN, "%s: bad request (%zu bytes): %s",
                          self->id, zframe_size (body), err);
        rep.seq = req.seq;
        rep.error = rc;
        snprintf (rep.message, sizeof rep.message, "%s", err);
    }
    else {
        rep.seq = req.seq;
        s_handle (self, &req, route, &rep);
        colo_ctldb_count_request (self->db, req.type, rep.error);
        if (rep.error != COLO_CTL_OK)
            colo_debug ("%s: %s refused: %s: %s", self->id, colo_ctl_req_name (req.type),
                        colo_ctl_error_name (rep.error), rep.message);
    }
    s_reply (self, route, delimiter, &rep);
    pthread_mutex_unlock (&self->lock);
    colo_ctl_request_clear (&req);
    colo_ctl_reply_clear (&rep);
    zmsg_destroy (&msg);
    return 0;
}

static void
s_on_api (colo_loop_t *loop, int fd, void *arg)
{
    (void) fd;
    colo_control_t *self = (colo_control_t *) arg;
    for (int i = 0; i < S_BURST; i++)
        if (s_api_one (self) != 0)
            return;   //  drained: ZMQ_FD is armed again
    colo_loop_again (loop);
}

//  The socket may hold input that its fd will not announce again (a send
//  can consume the edge): look, and come back if so.
static void
s_api_recheck (colo_control_t *self)
{
    if (zsock_events (self->api_sock) & ZMQ_POLLIN)
        colo_loop_again (self->loop);
}

// ---------------------------------------------------------------- monitors, timers

static void
s_on_monitor (colo_loop_t *loop, int fd, void *arg)
{
    (void) loop;
    colo_control_t *self = (colo_control_t *) arg;
    zsock_t *mon = fd == zsock_fd (self->api_mon) ? self->api_mon : self->pub_mon;
    const char *what = mon == self->api_mon ? self->api_ep : self->events_ep;
    while (zsock_events (mon) & ZMQ_POLLIN) {
        zmsg_t *msg = zmsg_recv (mon);
        if (!msg)
            break;
        zframe_t *head = zmsg_first (msg);
        uint16_t event = 0;
        uint32_t value = 0;
        if (head && zframe_size (head) >= 6) {
            memcpy (&event, zframe_data (head), 2);
            memcpy (&value, zframe_data (head) + 2, 4);
        }
        zmsg_destroy (&msg);
        if (!(event & S_MON_EVENTS))
            continue;
        pthread_mutex_lock (&self->lock);
        colo_ctldb_count (self->db, COLO_CTLDB_CURVE_REFUSED);
        pthread_mutex_unlock (&self->lock);
        colo_log_limited (&self->rl_curve, COLO_LOG_WARN,
                          "%s: refused a client on %s: %s", self->id, what,
                          event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                              ? "its key is not in the clients directory"
                              : "CURVE handshake failed (no key, or the wrong server key)");
    }
}

static void
s_on_tick (colo_loop_t *loop, int timer_id, uint64_t now_ms, void *arg)
{
    (void) loop;
    (void) timer_id;
    colo_control_t *self = (colo_control_t *) arg;
    pthread_mutex_lock (&self->lock);
    colo_ctl_pub_t pub;
    memset (&pub, 0, sizeof pub);
    s_publish (self, "H", &pub);
    colo_ctldb_tick (self->db, now_ms);
    colo_ctlhooks_reap (self->hooks, -1);
    pthread_mutex_unlock (&self->lock);
    s_api_recheck (self);
}

static void *
s_run (void *arg)
{
    colo_control_t *self = (colo_control_t *) arg;
    colo_loop_run (self->loop);
    return NULL;
}

// ---------------------------------------------------------------- metrics

static char *
s_render_metrics (void *arg, size_t *len)
{
    colo_control_t *self = (colo_control_t *) arg;
    pthread_mutex_lock (&self->lock);
    char *text = colo_ctldb_metrics (self->db, colo_clock_mono_ms (), len);
    pthread_mutex_unlock (&self->lock);
    return text;
}

static void
s_on_hook_exit (colo_loop_t *loop, int fd, void *arg)
{
    (void) loop;
    colo_control_t *self = (colo_control_t *) arg;
    pthread_mutex_lock (&self->lock);
    colo_ctlhooks_reap (self->hooks, fd);
    pthread_mutex_unlock (&self->lock);
}

//  A hook's pidfd in or out of the loop (on the loop's thread, or before
//  it runs).
static void
s_hook_watch (void *arg, int fd, int watch)
{
    colo_control_t *self = (colo_control_t *) arg;
    if (!self->loop)
        return;
    if (watch)
        colo_loop_add_fd (self->loop, fd, s_on_hook_exit, self);
    else
        colo_loop_remove_fd (self->loop, fd);
}

// ---------------------------------------------------------------- start, stop

static zsock_t *
s_monitor (zsock_t *sock, const char *name, colo_control_t *self)
{
    char ep[128];
    snprintf (ep, sizeof ep, "inproc://colo-control-%p-%s-%llu", (void *) self, name,
              (unsigned long long) colo_clock_mono_ns ());
    if (zmq_socket_monitor (zsock_resolve (sock), ep, S_MON_ALL) != 0)
        return NULL;
    zsock_t *mon = zsock_new (ZMQ_PAIR);
    if (mon && zmq_connect (zsock_resolve (mon), ep) != 0)
        zsock_destroy (&mon);
    return mon;
}

static int
s_bind (colo_control_t *self, zsock_t *sock, const char *uri, char *out, const char *what)
{
    char ep[S_ENDPOINT_MAX];
    if (s_endpoint (uri, ep, sizeof ep) != 0) {
        colo_error ("%s: %s '%s': expected tcp://HOST:PORT or ipc://PATH", self->id, what,
                    uri);
        return -1;
    }
    //  ZeroMQ writes a free port as *, or 0 as the OS picks it.
    size_t len = strlen (ep);
    if (strncmp (ep, "tcp://", 6) == 0 && len > 2 && strcmp (ep + len - 2, ":0") == 0)
        ep[len - 1] = '*';
    //  IPv6 for an IPv6 address, and dual-stack for the wildcard host, which
    //  then takes IPv4 and IPv6 clients alike.
    if (strchr (ep, '[') || strncmp (ep, "tcp://*:", 8) == 0)
        zsock_set_ipv6 (sock, 1);
    if (zmq_bind (zsock_resolve (sock), ep) != 0) {
        colo_error ("%s: cannot bind the %s socket to %s: %s", self->id, what, ep,
                    zmq_strerror (zmq_errno ()));
        return -1;
    }
    char *last = zsock_last_endpoint (sock);
    snprintf (out, S_ENDPOINT_MAX, "%s", last ? last : ep);
    zstr_free (&last);
    return 0;
}

static int
s_curve (colo_control_t *self)
{
    char path[PATH_MAX], clients[PATH_MAX];
    snprintf (path, sizeof path, "%s/server", self->curve_keys);
    snprintf (clients, sizeof clients, "%s/clients", self->curve_keys);
    if (!zsys_has_curve ()) {
        colo_error ("%s: this libzmq was built without CURVE", self->id);
        return -1;
    }
    zcert_t *cert = colo_curve_load_secret (path);
    if (!cert)
        return -1;
    if (colo_curve_policy_acquire (clients) != 0) {
        zcert_destroy (&cert);
        return -1;
    }
    self->curve_clients = strdup (clients);
    zcert_apply (cert, self->api_sock);
    zcert_apply (cert, self->pub);
    zsock_set_curve_server (self->api_sock, 1);
    zsock_set_curve_server (self->pub, 1);
    zcert_destroy (&cert);
    colo_info ("%s: CURVE on, clients must hold a certificate in %s", self->id, clients);
    return self->curve_clients ? 0 : -1;
}

static char *
s_dup (const char *s)
{
    return s ? strdup (s) : NULL;
}

colo_control_t *
colo_control_start (const colo_control_config_t *cfg)
{
    char err[512];
    if (colo_control_config_check (cfg, err, sizeof err) != 0) {
        colo_error ("%s: %s", cfg->id ? cfg->id : "control", err);
        return NULL;
    }
    colo_control_t *self = (colo_control_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init (&self->lock, NULL);
    self->id = s_dup (cfg->id ? cfg->id : "control");
    self->api = s_dup (cfg->api);
    self->events = s_dup (cfg->events);
    self->store_dir = s_dup (cfg->store);
    self->metrics = s_dup (cfg->metrics);
    self->curve_keys = s_dup (cfg->curve_keys);
    self->heartbeat_ms = cfg->heartbeat_ms;
    self->rl_bad = (colo_ratelimit_t) COLO_RATELIMIT_INIT (1000, 5);
    self->rl_curve = (colo_ratelimit_t) COLO_RATELIMIT_INIT (1000, 5);
    self->rl_hook = (colo_ratelimit_t) COLO_RATELIMIT_INIT (1000, 5);
    self->rl_send = (colo_ratelimit_t) COLO_RATELIMIT_INIT (1000, 5);
    if (getrandom (&self->epoch, sizeof self->epoch, 0) != (ssize_t) sizeof self->epoch)
        self->epoch = colo_clock_real_ns ();
    self->epoch |= 1;
    if (!self->id || !self->api || !self->events || !self->store_dir)
        goto fail;

    colo_ctl_store_t state;
    self->store = colo_ctlstore_open (self->store_dir, err, sizeof err);
    if (!self->store || colo_ctlstore_load (self->store, &state, err, sizeof err) != 0) {
        colo_error ("%s: %s", self->id, err);
        goto fail;
    }
    self->db = colo_ctldb_new ();
    int loaded = self->db ? colo_ctldb_load (self->db, &state, err, sizeof err) : -1;
    colo_ctl_store_clear (&state);
    if (loaded != 0) {
        colo_error ("%s: store %s: %s", self->id, colo_ctlstore_path (self->store),
                    self->db ? err : "no memory");
        goto fail;
    }
    self->hooks = colo_ctlhooks_new (cfg->vms, cfg->n_vms, self->db, self->id);
    if (!self->hooks)
        goto fail;
    colo_ctlhooks_set_watch (self->hooks, s_hook_watch, self);

    self->api_sock = zsock_new (ZMQ_ROUTER);
    self->pub = zsock_new (ZMQ_PUB);
    if (!self->api_sock || !self->pub) {
        colo_error ("%s: cannot create ZeroMQ sockets", self->id);
        goto fail;
    }
    zsock_set_linger (self->api_sock, 0);
    zsock_set_linger (self->pub, 0);
    zsock_set_router_mandatory (self->api_sock, 1);
    zsock_set_rcvtimeo (self->api_sock, 0);
    zsock_set_sndtimeo (self->api_sock, 0);
    zsock_set_sndtimeo (self->pub, 0);
    zsock_set_maxmsgsize (self->api_sock, S_API_MSG_MAX);
    zsock_set_sndhwm (self->api_sock, 10000);
    zsock_set_rcvhwm (self->api_sock, 10000);
    zsock_set_sndhwm (self->pub, 100000);
    if (self->curve_keys && s_curve (self) != 0)
        goto fail;
    self->api_mon = s_monitor (self->api_sock, "api", self);
    self->pub_mon = s_monitor (self->pub, "pub", self);
    if (!self->api_mon || !self->pub_mon) {
        colo_error ("%s: cannot monitor the sockets", self->id);
        goto fail;
    }
    zsock_set_rcvtimeo (self->api_mon, 0);
    zsock_set_rcvtimeo (self->pub_mon, 0);
    if (s_bind (self, self->api_sock, self->api, self->api_ep, "api") != 0
        || s_bind (self, self->pub, self->events, self->events_ep, "events") != 0)
        goto fail;
    if (self->metrics) {
        self->http = colo_ctlhttp_start (self->metrics, s_render_metrics, self);
        if (!self->http)
            goto fail;
        colo_info ("%s: metrics on http://%s/metrics (port %d)", self->id, self->metrics,
                   colo_ctlhttp_port (self->http));
    }

    self->loop = colo_loop_new ();
    if (!self->loop
        || colo_loop_add_fd (self->loop, zsock_fd (self->api_sock), s_on_api, self) != 0
        || colo_loop_add_fd (self->loop, zsock_fd (self->api_mon), s_on_monitor, self) != 0
        || colo_loop_add_fd (self->loop, zsock_fd (self->pub_mon), s_on_monitor, self) != 0
        || colo_loop_add_timer (self->loop, self->heartbeat_ms, s_on_tick, self) < 0) {
        colo_error ("%s: cannot set up the event loop", self->id);
        goto fail;
    }
    colo_loop_again (self->loop);   //  requests may be waiting already
    if (pthread_create (&self->thread, NULL, s_run, self) != 0) {
        colo_error ("%s: cannot start a thread", self->id);
        goto fail;
    }
    self->running = 1;
    colo_info ("%s: api %s, events %s, store %s: %zu rules, version %llu", self->id,
               self->api_ep, self->events_ep, colo_ctlstore_path (self->store),
               colo_ctldb_rule_count (self->db),
               (unsigned long long) colo_ctldb_version (self->db));
    return self;
fail:
    colo_control_stop (&self);
    return NULL;
}

//  Unbind and wait (bounded) for ZeroMQ's I/O thread to close the
//  listener, so that a restart in the same process can bind again.
static void
s_unbind_wait (zsock_t *sock, zsock_t *mon, const char *endpoint)
{
    if (!sock || !mon || !endpoint[0] || zmq_unbind (zsock_resolve (sock), endpoint) != 0)
        return;
    uint64_t deadline = colo_clock_mono_ms () + S_UNBIND_WAIT_MS;
    while (1) {
        zmsg_t *msg = zmsg_recv (mon);
        if (msg) {
            zframe_t *head = zmsg_first (msg);
            uint16_t event = 0;
            if (head && zframe_size (head) >= 2)
                memcpy (&event, zframe_data (head), 2);
            zmsg_destroy (&msg);
            if (event == ZMQ_EVENT_CLOSED)
                return;
            continue;
        }
        uint64_t now = colo_clock_mono_ms ();
        if (now >= deadline)
            return;
        zmq_pollitem_t item = {zsock_resolve (mon), 0, ZMQ_POLLIN, 0};
        zmq_poll (&item, 1, (long) (deadline - now));
    }
}

void
colo_control_stop (colo_control_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    colo_control_t *self = *self_p;
    if (self->running) {
        colo_loop_stop (self->loop);
        pthread_join (self->thread, NULL);
    }
    colo_ctlhttp_stop (&self->http);
    colo_ctlhooks_destroy (&self->hooks);
    colo_loop_destroy (&self->loop);
    s_unbind_wait (self->api_sock, self->api_mon, self->api_ep);
    s_unbind_wait (self->pub, self->pub_mon, self->events_ep);
    if (self->api_sock)
        zmq_socket_monitor (zsock_resolve (self->api_sock), NULL, 0);
    if (self->pub)
        zmq_socket_monitor (zsock_resolve (self->pub), NULL, 0);
    zsock_destroy (&self->api_mon);
    zsock_destroy (&self->pub_mon);
    zsock_destroy (&self->pub);
    zsock_destroy (&self->api_sock);
    if (self->curve_clients)
        colo_curve_policy_release (self->curve_clients);
    free (self->curve_clients);
    colo_ctldb_destroy (&self->db);
    colo_ctlstore_close (&self->store);
    pthread_mutex_destroy (&self->lock);
    free (self->id);
    free (self->api);
    free (self->events);
    free (self->store_dir);
    free (self->metrics);
    free (self->curve_keys);
    free (self);
    *self_p = NULL;
}

const char *
colo_control_api_endpoint (colo_control_t *self)
{
    return self->api_ep;
}

const char *
colo_control_events_endpoint (colo_control_t *self)
{
    return self->events_ep;
}

int
colo_control_metrics_port (colo_control_t *self)
{
    return colo_ctlhttp_port (self->http);
}

uint64_t
colo_control_counter (colo_control_t *self, colo_ctldb_counter_t counter)
{
    pthread_mutex_lock (&self->lock);
    uint64_t value = colo_ctldb_counter (self->db, counter);
    pthread_mutex_unlock (&self->lock);
    return value;
}

uint64_t
colo_control_version (colo_control_t *self)
{
    pthread_mutex_lock (&self->lock);
    uint64_t value = colo_ctldb_version (self->db);
    pthread_mutex_unlock (&self->lock);
    return value;
}
