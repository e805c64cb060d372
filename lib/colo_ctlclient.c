/*  colo_ctlclient.c - talking to colo-control: control URIs and one-shot requests.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

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
s_dealer (const colo_ctl_uri_t *uri, char *err, size_t err_cap)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    if (!sock) {
        s_err (err, err_cap, "cannot create a ZeroMQ socket");
        return NULL;
    }
    zsock_set_linger (sock, 0);
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
    zsock_t *sock = s_dealer (&uri, err, err_cap);
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
