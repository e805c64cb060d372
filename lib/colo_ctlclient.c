/*  colo_ctlclient.c - talking to colo-control: the instance client, one-shot requests, URIs.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <czmq.h>

#include "colo_ctlclient.h"
#include "colo_curve.h"
#include "colo_log.h"

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

//  Copy src[0..len) into dst (cap bytes); -1 if it does not fit.
static int
s_copy (char *dst, size_t cap, const char *src, size_t len)
{
    if (len >= cap)
        return -1;
    memcpy (dst, src, len);
    dst[len] = 0;
    return 0;
}

//  "tcp://..." or "ipc://..." (optionally "zmq+" in front) into out.
static int
s_endpoint (const char *text, size_t len, char *out, size_t cap)
{
    if (len > 4 && strncmp (text, "zmq+", 4) == 0) {
        text += 4;
        len -= 4;
    }
    if (!((len > 6 && strncmp (text, "tcp://", 6) == 0)
          || (len > 6 && strncmp (text, "ipc://", 6) == 0)))
        return -1;
    return s_copy (out, cap, text, len);
}

int
colo_ctl_uri_parse (const char *uri, colo_ctl_uri_t *out, char *err, size_t err_cap)
{
    memset (out, 0, sizeof *out);
    if (!uri || !*uri) {
        s_err (err, err_cap, "no control URI");
        return -1;
    }
    const char *comma = strchr (uri, ',');
    size_t len = comma ? (size_t) (comma - uri) : strlen (uri);
    if (s_endpoint (uri, len, out->endpoint, sizeof out->endpoint) != 0) {
        s_err (err, err_cap, "'%.*s': expected tcp://HOST:PORT or ipc://PATH", (int) len,
               uri);
        return -1;
    }
    while (comma) {
        const char *opt = comma + 1;
        comma = strchr (opt, ',');
        size_t opt_len = comma ? (size_t) (comma - opt) : strlen (opt);
        const char *eq = memchr (opt, '=', opt_len);
        size_t key_len = eq ? (size_t) (eq - opt) : opt_len;
        const char *value = eq ? eq + 1 : "";
        size_t value_len = eq ? opt_len - key_len - 1 : 0;
        char *dst = NULL;
        if (key_len == 6 && strncmp (opt, "events", 6) == 0) {
            if (s_endpoint (value, value_len, out->events, sizeof out->events) != 0) {
                s_err (err, err_cap, "events='%.*s': expected tcp://HOST:PORT or ipc://PATH",
                       (int) value_len, value);
                return -1;
            }
            continue;
        }
        if (key_len == 12 && strncmp (opt, "curve-server", 12) == 0)
            dst = out->curve_server;
        else if (key_len == 12 && strncmp (opt, "curve-secret", 12) == 0)
            dst = out->curve_secret;
        else {
            s_err (err, err_cap, "unknown option '%.*s' (events, curve-server, curve-secret)",
                   (int) key_len, opt);
            return -1;
        }
        if (value_len == 0 || dst[0] || s_copy (dst, COLO_CTL_ENDPOINT_MAX + 1, value,
                                                value_len)
                                            != 0) {
            s_err (err, err_cap, "option '%.*s': needs one value", (int) key_len, opt);
            return -1;
        }
    }
    if (!out->curve_server[0] != !out->curve_secret[0]) {
        s_err (err, err_cap, "curve-server and curve-secret go together");
        return -1;
    }
    return 0;
}

//  The host part of a tcp endpoint: [start, start+len).
static int
s_tcp_host (const char *ep, const char **host, size_t *len)
{
    if (strncmp (ep, "tcp://", 6) != 0)
        return -1;
    const char *h = ep + 6;
    const char *colon = strrchr (h, ':');
    if (!colon || colon == h)
        return -1;
    *host = h;
    *len = (size_t) (colon - h);
    return 0;
}

int
colo_ctl_events_endpoint (const colo_ctl_uri_t *uri, const char *advertised, char *out,
                          size_t cap)
{
    if (uri->events[0])
        return snprintf (out, cap, "%s", uri->events) < (int) cap ? 0 : -1;
    if (!advertised || !advertised[0])
        return -1;
    const char *host;
    size_t host_len;
    if (s_tcp_host (advertised, &host, &host_len) != 0)
        return snprintf (out, cap, "%s", advertised) < (int) cap ? 0 : -1;   //  ipc
    int wild = (host_len == 7 && strncmp (host, "0.0.0.0", 7) == 0)
               || (host_len == 1 && host[0] == '*')
               || (host_len == 4 && strncmp (host, "[::]", 4) == 0);
    if (!wild)
        return snprintf (out, cap, "%s", advertised) < (int) cap ? 0 : -1;
    const char *api_host;
    size_t api_len;
    if (s_tcp_host (uri->endpoint, &api_host, &api_len) != 0)
        return -1;
    const char *port = host + host_len;   //  ":PORT"
    int n = snprintf (out, cap, "tcp://%.*s%s", (int) api_len, api_host, port);
    return n > 0 && n < (int) cap ? 0 : -1;
}

//  A DEALER connected to the API with the URI's keys; NULL with err.
static zsock_t *
s_dealer (const colo_ctl_uri_t *uri, int immediate, char *err, size_t err_cap)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    if (!sock) {
        s_err (err, err_cap, "cannot create a ZeroMQ socket");
        return NULL;
    }
    zsock_set_linger (sock, 0);
    //  Options that shape the connection go before connect.
    zsock_set_immediate (sock, immediate);
    if (strchr (uri->endpoint, '['))
        zsock_set_ipv6 (sock, 1);
    if (uri->curve_secret[0]) {
        char key[COLO_CURVE_Z85_LEN + 1];
        zcert_t *cert = colo_curve_load_secret (uri->curve_secret);
        if (!cert || colo_curve_public_key (uri->curve_server, key) != 0) {
            s_err (err, err_cap, "cannot load the CURVE keys (%s, %s)", uri->curve_secret,
                   uri->curve_server);
            zcert_destroy (&cert);
            zsock_destroy (&sock);
            return NULL;
        }
        zcert_apply (cert, sock);
        zcert_destroy (&cert);
        zsock_set_curve_serverkey (sock, key);
    }
    if (zmq_connect (zsock_resolve (sock), uri->endpoint) != 0) {
        s_err (err, err_cap, "cannot connect to %s: %s", uri->endpoint,
               zmq_strerror (zmq_errno ()));
        zsock_destroy (&sock);
        return NULL;
    }
    return sock;
}

int
colo_ctl_call (const char *control_uri, colo_ctl_request_t *req, colo_ctl_reply_t *rep,
               int timeout_ms, char *err, size_t err_cap)
{
    memset (rep, 0, sizeof *rep);
    colo_ctl_uri_t uri;
    if (colo_ctl_uri_parse (control_uri, &uri, err, err_cap) != 0)
        return -2;
    uint64_t seq = 0;
    if (getrandom (&seq, sizeof seq, 0) != (ssize_t) sizeof seq)
        seq = colo_clock_real_ns ();
    req->seq = seq ? seq : 1;
    req->version = COLO_CTL_VERSION;
    size_t len = 0;
    uint8_t *bytes = colo_ctl_request_encode (req, &len);
    if (!bytes) {
        s_err (err, err_cap, "cannot encode the request");
        return -2;
    }
    zsock_t *sock = s_dealer (&uri, 0, err, err_cap);
    if (!sock) {
        free (bytes);
        return -2;
    }
    //  Queued until the connection is up (or the deadline passes).
    int rc = -1;
    if (zmq_send (zsock_resolve (sock), bytes, len, 0) < 0) {
        s_err (err, err_cap, "cannot send: %s", zmq_strerror (zmq_errno ()));
        goto done;
    }
    uint64_t deadline = colo_clock_mono_ms () + (uint64_t) (timeout_ms > 0 ? timeout_ms : 0);
    while (1) {
        uint64_t now = colo_clock_mono_ms ();
        if (now >= deadline) {
            s_err (err, err_cap, "no reply from %s within %d ms", uri.endpoint, timeout_ms);
            break;
        }
        zmq_pollitem_t item = {zsock_resolve (sock), 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, (long) (deadline - now)) < 0 && zmq_errno () != EINTR) {
            s_err (err, err_cap, "poll: %s", zmq_strerror (zmq_errno ()));
            break;
        }
        if (!(item.revents & ZMQ_POLLIN))
            continue;
        zmsg_t *msg = zmsg_recv (sock);
        if (!msg)
            continue;
        zframe_t *last = zmsg_last (msg);
        char why[256];
        colo_ctl_error_t drc = last ? colo_ctl_reply_decode (zframe_data (last),
                                                             zframe_size (last), rep, why,
                                                             sizeof why)
                                    : COLO_CTL_E_BAD_REQUEST;
        zmsg_destroy (&msg);
        if (drc != COLO_CTL_OK) {
            s_err (err, err_cap, "unreadable reply: %s", why);
            colo_ctl_reply_clear (rep);
            continue;
        }
        if (rep->seq != req->seq && !(rep->seq == 0 && rep->error != COLO_CTL_OK
                                      && !rep->has_event)) {
            colo_ctl_reply_clear (rep);   //  a stale reply or a pushed event
            continue;
        }
        rc = 0;
        break;
    }
done:
    free (bytes);
    zsock_destroy (&sock);
    return rc;
}

// ---------------------------------------------------------------- the instance client

const char *const colo_ctlclient_counter_names[COLO_CTLCLIENT_COUNTER_COUNT] = {
    "hellos",          "replies",           "snapshots",      "updates",
    "gaps",            "restarts",          "events",         "events_dropped",
    "checkpoint_requests", "checkpoint_unsent", "refused",    "malformed",
    "redials",         "dropped_by_test",
};

#define S_PENDING_MAX 4096         //  updates kept while a snapshot is on its way
#define S_REDIAL_HEARTBEATS 5
#define S_DEAD_HEARTBEATS 3
#define S_RETRY_MS 200             //  retry a Hello that found no connection

struct colo_ctlclient {
    colo_ctl_uri_t uri;
    char kind[COLO_CTL_KIND_MAX + 1];
    char instance[COLO_CTL_NAME_MAX + 1];
    char vm[COLO_CTL_NAME_MAX + 1];
    char source[COLO_CTL_TEXT_MAX + 1];   //  "kind/instance"
    uint32_t heartbeat_ms;
    zsock_t *dealer, *sub;
    char sub_endpoint[COLO_CTL_ENDPOINT_MAX + 1];
    int epoll_fd, timer_fd, kick_fd;
    int kicked;
    uint64_t seq;                  //  last request seq used
    uint64_t hello_seq, snapshot_seq;
    uint64_t next_hello_ms;
    uint64_t snapshot_sent_ms;     //  0: no snapshot on its way
    uint64_t last_reply_ms;        //  0: none yet
    uint64_t dialled_ms;           //  when the sockets were made
    uint64_t epoch;                //  colo-control's, 0 before the first reply
    int need_snapshot;
    uint64_t version;              //  of rules[]
    int have_rules;                //  a snapshot has been applied
    colo_rule_t *rules;            //  by id
    size_t n_rules, cap_rules;
    int dirty;                     //  rules[] changed: build a new ruleset
    const colo_ruleset_t *ruleset;
    colo_ctl_pub_t *pending;       //  updates kept during a snapshot
    size_t n_pending;
    colo_ctl_event_t events[COLO_CTLCLIENT_EVENTS_MAX];
    size_t ev_head, ev_count;
    colo_ctl_counter_t *status;
    size_t n_status;
    unsigned drop_updates;
    uint64_t counters[COLO_CTLCLIENT_COUNTER_COUNT];
    colo_ratelimit_t rl_warn;
};

static int
s_epoll_add (int epoll_fd, int fd)
{
    struct epoll_event ev;
    memset (&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    return epoll_ctl (epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

static void
s_kick (colo_ctlclient_t *self)
{
    if (!self->kicked) {
        uint64_t one = 1;
        if (write (self->kick_fd, &one, sizeof one) == (ssize_t) sizeof one)
            self->kicked = 1;
    }
}

static void
s_unkick (colo_ctlclient_t *self)
{
    uint64_t value;
    if (read (self->kick_fd, &value, sizeof value) < 0) {
        //  EAGAIN: nothing to clear.
    }
    self->kicked = 0;
    if (read (self->timer_fd, &value, sizeof value) < 0) {
        //  EAGAIN: the timer has not fired.
    }
}

static void
s_drop_socket (colo_ctlclient_t *self, zsock_t **sock)
{
    if (*sock) {
        epoll_ctl (self->epoll_fd, EPOLL_CTL_DEL, zsock_fd (*sock), NULL);
        zsock_destroy (sock);
    }
}

//  (Re)make the DEALER; the SUB follows once colo-control says where.
static int
s_dial (colo_ctlclient_t *self, uint64_t now_ms)
{
    s_drop_socket (self, &self->sub);
    s_drop_socket (self, &self->dealer);
    self->sub_endpoint[0] = 0;
    self->dialled_ms = now_ms;
    char err[256];
    //  Nothing queues toward a colo-control that is not there: a Hello or
    //  a request either goes now or is retried by us.
    self->dealer = s_dealer (&self->uri, 1, err, sizeof err);
    if (!self->dealer) {
        colo_log_limited (&self->rl_warn, COLO_LOG_ERROR, "control client %s/%s: %s",
                          self->kind, self->instance, err);
        return -1;
    }
    zsock_set_sndtimeo (self->dealer, 0);
    zsock_set_rcvtimeo (self->dealer, 0);
    if (s_epoll_add (self->epoll_fd, zsock_fd (self->dealer)) != 0)
        return -1;
    self->hello_seq = self->snapshot_seq = 0;
    self->snapshot_sent_ms = 0;
    self->next_hello_ms = now_ms;
    return 0;
}

static int
s_subscribe (colo_ctlclient_t *self, const char *advertised)
{
    char ep[COLO_CTL_ENDPOINT_MAX + 1];
    if (colo_ctl_events_endpoint (&self->uri, advertised, ep, sizeof ep) != 0)
        return -1;
    if (self->sub && strcmp (ep, self->sub_endpoint) == 0)
        return 0;
    s_drop_socket (self, &self->sub);
    self->sub = zsock_new (ZMQ_SUB);
    if (!self->sub)
        return -1;
    zsock_set_linger (self->sub, 0);
    zsock_set_rcvtimeo (self->sub, 0);
    zsock_set_rcvhwm (self->sub, 100000);
    if (strchr (ep, '['))
        zsock_set_ipv6 (self->sub, 1);
    if (self->uri.curve_secret[0]) {
        char key[COLO_CURVE_Z85_LEN + 1];
        zcert_t *cert = colo_curve_load_secret (self->uri.curve_secret);
        if (!cert || colo_curve_public_key (self->uri.curve_server, key) != 0) {
            zcert_destroy (&cert);
            zsock_destroy (&self->sub);
            return -1;
        }
        zcert_apply (cert, self->sub);
        zcert_destroy (&cert);
        zsock_set_curve_serverkey (self->sub, key);
    }
    zsock_set_subscribe (self->sub, "R");
    zsock_set_subscribe (self->sub, "H");
    if (zmq_connect (zsock_resolve (self->sub), ep) != 0
        || s_epoll_add (self->epoll_fd, zsock_fd (self->sub)) != 0) {
        colo_log_limited (&self->rl_warn, COLO_LOG_WARN,
                          "control client %s/%s: cannot subscribe to %s", self->kind,
                          self->instance, ep);
        zsock_destroy (&self->sub);
        return -1;
    }
    snprintf (self->sub_endpoint, sizeof self->sub_endpoint, "%s", ep);
    colo_debug ("control client %s/%s: subscribed to %s", self->kind, self->instance, ep);
    return 0;
}

colo_ctlclient_t *
colo_ctlclient_new (const char *control_uri, const char *kind, const char *instance,
                    const char *vm)
{
    char err[256];
    colo_ctl_uri_t uri;
    if (colo_ctl_uri_parse (control_uri, &uri, err, sizeof err) != 0) {
        colo_error ("control client: --control %s: %s", control_uri ? control_uri : "",
                    err);
        return NULL;
    }
    if (!kind || !instance || !vm
        || (strcmp (kind, "compare") != 0 && strcmp (kind, "rewriter") != 0
            && strcmp (kind, "mirror") != 0 && strcmp (kind, "adapter") != 0)
        || !colo_rule_name_ok (instance) || !colo_rule_name_ok (vm)) {
        colo_error ("control client: bad kind, instance or vm name (%s/%s, vm %s)",
                    kind ? kind : "", instance ? instance : "", vm ? vm : "");
        return NULL;
    }
    colo_ctlclient_t *self = (colo_ctlclient_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->uri = uri;
    snprintf (self->kind, sizeof self->kind, "%s", kind);
    snprintf (self->instance, sizeof self->instance, "%s", instance);
    snprintf (self->vm, sizeof self->vm, "%s", vm);
    snprintf (self->source, sizeof self->source, "%s/%s", kind, instance);
    self->heartbeat_ms = COLO_CTLCLIENT_HEARTBEAT_DEFAULT;
    self->rl_warn = (colo_ratelimit_t) COLO_RATELIMIT_INIT (10000, 3);
    if (getrandom (&self->seq, sizeof self->seq, 0) != (ssize_t) sizeof self->seq)
        self->seq = colo_clock_real_ns ();
    self->seq &= 0x7fffffffffffffffULL;
    self->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
    self->timer_fd = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    self->kick_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    self->pending = (colo_ctl_pub_t *) calloc (S_PENDING_MAX, sizeof *self->pending);
    if (self->epoll_fd < 0 || self->timer_fd < 0 || self->kick_fd < 0 || !self->pending
        || s_epoll_add (self->epoll_fd, self->timer_fd) != 0
        || s_epoll_add (self->epoll_fd, self->kick_fd) != 0
        || s_dial (self, colo_clock_mono_ms ()) != 0) {
        colo_error ("control client %s/%s: cannot set up", kind, instance);
        colo_ctlclient_destroy (&self);
        return NULL;
    }
    self->need_snapshot = 1;
    s_kick (self);   //  the first Hello is due now
    return self;
}

void
colo_ctlclient_destroy (colo_ctlclient_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    colo_ctlclient_t *self = *self_p;
    s_drop_socket (self, &self->sub);
    s_drop_socket (self, &self->dealer);
    if (self->epoll_fd >= 0)
        close (self->epoll_fd);
    if (self->timer_fd >= 0)
        close (self->timer_fd);
    if (self->kick_fd >= 0)
        close (self->kick_fd);
    colo_ruleset_destroy (&self->ruleset);
    free (self->rules);
    free (self->pending);
    free (self->status);
    free (self);
    *self_p = NULL;
}

void
colo_ctlclient_set_heartbeat (colo_ctlclient_t *self, uint32_t ms)
{
    if (ms < 10)
        ms = 10;
    if (ms > 600000)
        ms = 600000;
    self->heartbeat_ms = ms;
}

int
colo_ctlclient_fd (colo_ctlclient_t *self)
{
    return self->epoll_fd;
}

const colo_ruleset_t *
colo_ctlclient_rules (colo_ctlclient_t *self)
{
    return self->ruleset;
}

uint64_t
colo_ctlclient_version (colo_ctlclient_t *self)
{
    return self->have_rules ? self->version : 0;
}

const uint64_t *
colo_ctlclient_counters (colo_ctlclient_t *self)
{
    return self->counters;
}

int
colo_ctlclient_connected (colo_ctlclient_t *self)
{
    return self->last_reply_ms
           && colo_clock_mono_ms () - self->last_reply_ms
                  <= (uint64_t) self->heartbeat_ms * S_DEAD_HEARTBEATS;
}

void
colo_ctlclient_test_drop_updates (colo_ctlclient_t *self, unsigned n)
{
    self->drop_updates = n;
}

void
colo_ctlclient_set_status (colo_ctlclient_t *self, const char *const *names,
                           const uint64_t *values, size_t n)
{
    if (n > COLO_CTL_COUNTERS_MAX)
        n = COLO_CTL_COUNTERS_MAX;
    if (n != self->n_status) {
        colo_ctl_counter_t *c = (colo_ctl_counter_t *) realloc (self->status,
                                                                (n ? n : 1) * sizeof *c);
        if (!c)
            return;
        self->status = c;
        self->n_status = n;
    }
    for (size_t i = 0; i < n; i++) {
        snprintf (self->status[i].name, sizeof self->status[i].name, "%s",
                  names[i] ? names[i] : "");
        self->status[i].value = values[i];
    }
}

int
colo_ctlclient_next_event (colo_ctlclient_t *self, colo_ctl_event_t *ev)
{
    if (self->ev_count == 0)
        return 0;
    *ev = self->events[self->ev_head];
    self->ev_head = (self->ev_head + 1) % COLO_CTLCLIENT_EVENTS_MAX;
    self->ev_count--;
    return 1;
}

//  Send a request on the DEALER; 0, or -1 if it could not go now.
static int
s_send (colo_ctlclient_t *self, colo_ctl_request_t *req)
{
    if (!self->dealer)
        return -1;
    req->version = COLO_CTL_VERSION;
    req->seq = ++self->seq;
    size_t len = 0;
    uint8_t *bytes = colo_ctl_request_encode (req, &len);
    if (!bytes)
        return -1;
    int rc = zmq_send (zsock_resolve (self->dealer), bytes, len, ZMQ_DONTWAIT) < 0 ? -1 : 0;
    free (bytes);
    return rc;
}

int
colo_ctlclient_request_checkpoint (colo_ctlclient_t *self, const char *reason,
                                   const char *connection)
{
    colo_ctl_request_t req;
    memset (&req, 0, sizeof req);
    req.type = COLO_CTL_REQ_EVENT;
    req.event.type = COLO_CTL_EV_CHECKPOINT_REQUEST;
    snprintf (req.event.vm, sizeof req.event.vm, "%s", self->vm);
    snprintf (req.event.reason, sizeof req.event.reason, "%s", reason ? reason : "");
    snprintf (req.event.connection, sizeof req.event.connection, "%s",
              connection ? connection : "");
    snprintf (req.event.source, sizeof req.event.source, "%s", self->source);
    if (s_send (self, &req) != 0) {
        self->counters[COLO_CTLCLIENT_CHECKPOINT_UNSENT]++;
        return -1;
    }
    self->counters[COLO_CTLCLIENT_CHECKPOINT_REQUESTS]++;
    s_kick (self);   //  the reply needs reading; the send may have eaten the edge
    return 0;
}

static void
s_hello (colo_ctlclient_t *self, uint64_t now_ms)
{
    colo_ctl_request_t req;
    memset (&req, 0, sizeof req);
    req.type = COLO_CTL_REQ_HELLO;
    snprintf (req.hello.kind, sizeof req.hello.kind, "%s", self->kind);
    snprintf (req.hello.instance, sizeof req.hello.instance, "%s", self->instance);
    snprintf (req.hello.vm, sizeof req.hello.vm, "%s", self->vm);
    req.hello.rules_version = colo_ctlclient_version (self);
    req.hello.heartbeat_ms = self->heartbeat_ms;
    req.hello.counters = self->status;
    req.hello.n_counters = self->n_status;
    if (s_send (self, &req) == 0) {
        self->hello_seq = req.seq;
        self->counters[COLO_CTLCLIENT_HELLOS]++;
        self->next_hello_ms = now_ms + self->heartbeat_ms;
    }
    else   //  not connected yet: try again soon
        self->next_hello_ms = now_ms + (self->heartbeat_ms < S_RETRY_MS ? self->heartbeat_ms
                                                                        : S_RETRY_MS);
}

static void
s_snapshot_request (colo_ctlclient_t *self, uint64_t now_ms)
{
    colo_ctl_request_t req;
    memset (&req, 0, sizeof req);
    req.type = COLO_CTL_REQ_SNAPSHOT;
    req.has_vm = 1;
    snprintf (req.vm, sizeof req.vm, "%s", self->vm);
    if (s_send (self, &req) == 0) {
        self->snapshot_seq = req.seq;
        self->snapshot_sent_ms = now_ms;
        self->n_pending = 0;
        colo_debug ("control client %s/%s: snapshot requested (have version %llu)",
                    self->kind, self->instance, (unsigned long long) self->version);
    }
}

// ---------------------------------------------------------------- applying rules

static int
s_rule_applies (colo_ctlclient_t *self, const char *vm)
{
    return !vm[0] || strcmp (vm, self->vm) == 0;
}

static void
s_rule_insert (colo_ctlclient_t *self, const colo_rule_t *rule)
{
    if (self->n_rules == self->cap_rules) {
        size_t cap = self->cap_rules ? self->cap_rules * 2 : 64;
        colo_rule_t *bigger = (colo_rule_t *) realloc (self->rules, cap * sizeof *bigger);
        if (!bigger) {
            self->need_snapshot = 1;   //  try again from scratch later
            return;
        }
        self->rules = bigger;
        self->cap_rules = cap;
    }
    //  Ids grow: almost always an append.
    size_t at = self->n_rules;
    while (at > 0 && self->rules[at - 1].id > rule->id)
        at--;
    if (at > 0 && self->rules[at - 1].id == rule->id) {
        self->rules[at - 1] = *rule;
        return;
    }
    memmove (&self->rules[at + 1], &self->rules[at], (self->n_rules - at) * sizeof *rule);
    self->rules[at] = *rule;
    self->n_rules++;
}

static void
s_rule_remove (colo_ctlclient_t *self, uint64_t id)
{
    for (size_t i = 0; i < self->n_rules; i++)
        if (self->rules[i].id == id) {
            memmove (&self->rules[i], &self->rules[i + 1],
                     (self->n_rules - i - 1) * sizeof *self->rules);
            self->n_rules--;
            return;
        }
}

//  Apply an update that is the next version.
static void
s_apply (colo_ctlclient_t *self, const colo_ctl_pub_t *pub)
{
    if (s_rule_applies (self, pub->update_vm)) {
        if (pub->update_added)
            s_rule_insert (self, &pub->added);
        else
            s_rule_remove (self, pub->deleted);
    }
    self->version = pub->update_version;
    self->dirty = 1;   //  a new version, if not new rules
    self->counters[COLO_CTLCLIENT_UPDATES]++;
}

static void
s_gap (colo_ctlclient_t *self, uint64_t seen)
{
    if (!self->need_snapshot && !self->snapshot_sent_ms) {
        self->counters[COLO_CTLCLIENT_GAPS]++;
        colo_debug ("control client %s/%s: rules version %llu seen, have %llu: resync",
                    self->kind, self->instance, (unsigned long long) seen,
                    (unsigned long long) self->version);
    }
    self->need_snapshot = 1;
}

static void
s_update (colo_ctlclient_t *self, const colo_ctl_pub_t *pub)
{
    if (self->drop_updates > 0) {
        self->drop_updates--;
        self->counters[COLO_CTLCLIENT_DROPPED_BY_TEST]++;
        return;
    }
    if (self->snapshot_sent_ms || !self->have_rules) {
        //  Keep it for after the snapshot.
        if (self->n_pending < S_PENDING_MAX)
            self->pending[self->n_pending++] = *pub;
        else
            self->need_snapshot = 1;   //  too many: another snapshot after this one
        return;
    }
    if (pub->update_version <= self->version)
        return;   //  already in
    if (pub->update_version != self->version + 1) {
        s_gap (self, pub->update_version);
        return;
    }
    s_apply (self, pub);
}

static void
s_snapshot (colo_ctlclient_t *self, colo_ctl_reply_t *rep)
{
    self->snapshot_sent_ms = 0;
    self->snapshot_seq = 0;
    free (self->rules);
    self->rules = rep->rules;   //  taken over: already this VM's and global, by id
    self->n_rules = self->cap_rules = rep->n_rules;
    rep->rules = NULL;
    rep->n_rules = 0;
    self->version = rep->rules_version;
    self->have_rules = 1;
    self->dirty = 1;
    self->counters[COLO_CTLCLIENT_SNAPSHOTS]++;
    //  Updates that came meanwhile: the newer ones, in order, if unbroken.
    for (size_t i = 0; i < self->n_pending; i++) {
        const colo_ctl_pub_t *pub = &self->pending[i];
        if (pub->update_version <= self->version)
            continue;
        if (pub->update_version != self->version + 1) {
            s_gap (self, pub->update_version);
            break;
        }
        s_apply (self, pub);
    }
    self->n_pending = 0;
    colo_debug ("control client %s/%s: snapshot applied: %zu rules, version %llu",
                self->kind, self->instance, self->n_rules,
                (unsigned long long) self->version);
}

// ---------------------------------------------------------------- input

static void
s_epoch (colo_ctlclient_t *self, uint64_t epoch, uint64_t now_ms)
{
    if (!epoch || epoch == self->epoch)
        return;
    if (self->epoch) {
        self->counters[COLO_CTLCLIENT_RESTARTS]++;
        colo_info ("control client %s/%s: colo-control restarted; registering and "
                   "resyncing",
                   self->kind, self->instance);
        self->next_hello_ms = now_ms;   //  register with the new one now
        self->hello_seq = 0;
    }
    self->epoch = epoch;
    self->need_snapshot = 1;
    self->snapshot_sent_ms = 0;
}

static void
s_event (colo_ctlclient_t *self, const colo_ctl_event_t *ev)
{
    if (strcmp (ev->vm, self->vm) != 0)
        return;   //  colo-control sends only ours; never act on another VM's
    self->counters[COLO_CTLCLIENT_EVENTS]++;
    if (self->ev_count == COLO_CTLCLIENT_EVENTS_MAX) {
        self->ev_head = (self->ev_head + 1) % COLO_CTLCLIENT_EVENTS_MAX;
        self->ev_count--;
        self->counters[COLO_CTLCLIENT_EVENTS_DROPPED]++;
    }
    self->events[(self->ev_head + self->ev_count) % COLO_CTLCLIENT_EVENTS_MAX] = *ev;
    self->ev_count++;
}

static void
s_on_reply (colo_ctlclient_t *self, colo_ctl_reply_t *rep, uint64_t now_ms)
{
    self->counters[COLO_CTLCLIENT_REPLIES]++;
    self->last_reply_ms = now_ms;
    s_epoch (self, rep->epoch, now_ms);
    if (rep->has_event && rep->seq == 0) {
        s_event (self, &rep->event);
        return;
    }
    if (rep->error != COLO_CTL_OK) {
        self->counters[COLO_CTLCLIENT_REFUSED]++;
        colo_log_limited (&self->rl_warn, COLO_LOG_WARN,
                          "control client %s/%s: colo-control refused a request: %s: %s",
                          self->kind, self->instance, colo_ctl_error_name (rep->error),
                          rep->message);
        if (rep->seq == self->snapshot_seq)
            self->snapshot_sent_ms = 0;   //  asked again at the next heartbeat
        return;
    }
    if (rep->seq && rep->seq == self->snapshot_seq) {
        s_snapshot (self, rep);
        if (rep->events[0])
            s_subscribe (self, rep->events);
        return;
    }
    if (rep->has_event && rep->event.type == COLO_CTL_EV_CHECKPOINT_REQUEST
        && rep->delivered == 0)
        colo_log_limited (&self->rl_warn, COLO_LOG_WARN,
                          "control client %s/%s: colo-control has no adapter for vm %s "
                          "(no checkpoint-hook, no adapter registered)",
                          self->kind, self->instance, self->vm);
    if (rep->seq && rep->seq == self->hello_seq) {
        if (rep->events[0])
            s_subscribe (self, rep->events);
        if (self->have_rules && !self->snapshot_sent_ms && rep->rules_version > self->version)
            s_gap (self, rep->rules_version);
    }
}

static void
s_drain_dealer (colo_ctlclient_t *self, uint64_t now_ms)
{
    while (self->dealer) {
        zmsg_t *msg = zmsg_recv (self->dealer);
        if (!msg)
            return;
        zframe_t *frame = zmsg_last (msg);
        colo_ctl_reply_t rep;
        char err[256];
        if (frame && colo_ctl_reply_decode (zframe_data (frame), zframe_size (frame), &rep,
                                            err, sizeof err)
                         == COLO_CTL_OK)
            s_on_reply (self, &rep, now_ms);
        else {
            self->counters[COLO_CTLCLIENT_MALFORMED]++;
            colo_log_limited (&self->rl_warn, COLO_LOG_WARN,
                              "control client %s/%s: unreadable reply: %s", self->kind,
                              self->instance, frame ? err : "empty");
        }
        colo_ctl_reply_clear (&rep);
        zmsg_destroy (&msg);
    }
}

static void
s_drain_sub (colo_ctlclient_t *self, uint64_t now_ms)
{
    while (self->sub) {
        zmsg_t *msg = zmsg_recv (self->sub);
        if (!msg)
            return;
        zframe_t *topic = zmsg_first (msg);
        zframe_t *body = zmsg_next (msg);
        colo_ctl_pub_t pub;
        char err[256];
        if (!topic || !body || zframe_size (topic) < 1
            || colo_ctl_pub_decode (zframe_data (body), zframe_size (body), &pub, err,
                                    sizeof err)
                   != COLO_CTL_OK) {
            self->counters[COLO_CTLCLIENT_MALFORMED]++;
            colo_log_limited (&self->rl_warn, COLO_LOG_WARN,
                              "control client %s/%s: unreadable publication", self->kind,
                              self->instance);
            zmsg_destroy (&msg);
            continue;
        }
        char kind = (char) zframe_data (topic)[0];
        zmsg_destroy (&msg);
        s_epoch (self, pub.epoch, now_ms);
        if (kind == 'R' && pub.has_update)
            s_update (self, &pub);
        else if (kind == 'H' && self->have_rules && !self->snapshot_sent_ms
                 && pub.rules_version > self->version)
            s_gap (self, pub.rules_version);
    }
}

static void
s_arm (colo_ctlclient_t *self, uint64_t now_ms)
{
    uint64_t next = self->next_hello_ms;
    if (self->snapshot_sent_ms) {
        uint64_t retry = self->snapshot_sent_ms + (uint64_t) self->heartbeat_ms * S_DEAD_HEARTBEATS;
        if (retry < next)
            next = retry;
    }
    uint64_t since = self->last_reply_ms > self->dialled_ms ? self->last_reply_ms
                                                            : self->dialled_ms;
    uint64_t redial = since + (uint64_t) self->heartbeat_ms * S_REDIAL_HEARTBEATS;
    if (redial < next)
        next = redial;
    uint64_t wait = next > now_ms ? next - now_ms : 0;
    struct itimerspec its;
    memset (&its, 0, sizeof its);
    if (wait == 0)
        wait = 1;   //  0 would disarm
    its.it_value.tv_sec = (time_t) (wait / 1000);
    its.it_value.tv_nsec = (long) (wait % 1000) * 1000000L;
    timerfd_settime (self->timer_fd, 0, &its, NULL);
}

void
colo_ctlclient_process (colo_ctlclient_t *self, uint64_t now_ms)
{
    s_unkick (self);
    //  Long silence: drop the sockets and dial again.
    uint64_t since = self->last_reply_ms > self->dialled_ms ? self->last_reply_ms
                                                            : self->dialled_ms;
    if (now_ms > since && now_ms - since >= (uint64_t) self->heartbeat_ms * S_REDIAL_HEARTBEATS) {
        self->counters[COLO_CTLCLIENT_REDIALS]++;
        colo_log_limited (&self->rl_warn, COLO_LOG_WARN,
                          "control client %s/%s: no answer from %s; dialling again",
                          self->kind, self->instance, self->uri.endpoint);
        s_dial (self, now_ms);
    }
    s_drain_dealer (self, now_ms);
    s_drain_sub (self, now_ms);
    //  Register (again) before anything else: after a dial or a restart of
    //  colo-control there is no Hello of ours on record yet.
    if (now_ms >= self->next_hello_ms || !self->hello_seq)
        s_hello (self, now_ms);
    if (self->snapshot_sent_ms
        && now_ms - self->snapshot_sent_ms >= (uint64_t) self->heartbeat_ms * S_DEAD_HEARTBEATS)
        self->snapshot_sent_ms = 0;   //  lost: ask again
    if (self->need_snapshot && !self->snapshot_sent_ms && self->epoch) {
        self->need_snapshot = 0;
        s_snapshot_request (self, now_ms);
        if (!self->snapshot_sent_ms)
            self->need_snapshot = 1;
    }
    if (self->dirty) {
        const colo_ruleset_t *rs
            = colo_ruleset_new (self->rules, self->n_rules, self->version, self->vm);
        if (rs) {
            colo_ruleset_destroy (&self->ruleset);
            self->ruleset = rs;
            self->dirty = 0;
        }
    }
    //  Sends may have taken the sockets' edges: input still waiting must
    //  keep the fd readable.
    if ((self->dealer && (zsock_events (self->dealer) & ZMQ_POLLIN))
        || (self->sub && (zsock_events (self->sub) & ZMQ_POLLIN)))
        s_kick (self);
    s_arm (self, now_ms);
}
