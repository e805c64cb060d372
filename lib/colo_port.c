/*  colo_port.c - ports opened from URIs: parsing and dispatch to a transport.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo_log.h"
#include "colo_port_int.h"

const char *const colo_port_counter_names[COLO_PORT_COUNTER_COUNT] = {
    "rx_frames",    "rx_bytes",     "tx_frames", "tx_bytes",
    "tx_blocked",   "rx_malformed", "rx_truncated", "tx_requeued",
    "connects",     "disconnects",  "errors",       "rx_dropped",
};

static const colo_port_ops_t *const s_transports[] = {
    &colo_port_qemu_unix_ops, &colo_port_qemu_tcp_ops, &colo_port_zmq_tcp_ops,
    &colo_port_zmq_ipc_ops,   &colo_port_shm_ops,      &colo_port_packet_ops,
};

static void
s_uri_free (colo_uri_t *uri)
{
    free (uri->scheme);
    free (uri->address);
    for (int i = 0; i < uri->opt_count; i++) {
        free (uri->opt_key[i]);
        free (uri->opt_val[i]);
    }
    memset (uri, 0, sizeof *uri);
}

//  "SCHEME:ADDRESS[,opt[=val]]...".  For zmq+X the address keeps "X:" in
//  front so it is a ready ZeroMQ endpoint.  Returns 0 or -1.
static int
s_uri_parse (const char *text, colo_uri_t *uri)
{
    memset (uri, 0, sizeof *uri);
    const char *colon = strchr (text, ':');
    if (!colon || colon == text)
        return -1;
    uri->scheme = strndup (text, (size_t) (colon - text));
    const char *rest = colon + 1;
    const char *comma = strchr (rest, ',');
    size_t addr_len = comma ? (size_t) (comma - rest) : strlen (rest);
    if (strncmp (uri->scheme, "zmq+", 4) == 0) {
        //  zmq+tcp://h:p -> "tcp://h:p"
        size_t tlen = strlen (uri->scheme + 4);
        uri->address = (char *) malloc (tlen + 1 + addr_len + 1);
        if (uri->address) {
            memcpy (uri->address, uri->scheme + 4, tlen);
            uri->address[tlen] = ':';
            memcpy (uri->address + tlen + 1, rest, addr_len);
            uri->address[tlen + 1 + addr_len] = 0;
        }
    }
    else
        uri->address = strndup (rest, addr_len);
    if (!uri->scheme || !uri->address || addr_len == 0)
        return -1;
    while (comma) {
        const char *opt = comma + 1;
        comma = strchr (opt, ',');
        size_t len = comma ? (size_t) (comma - opt) : strlen (opt);
        if (len == 0)
            continue;
        if (uri->opt_count == COLO_URI_OPT_MAX)
            return -1;
        const char *eq = memchr (opt, '=', len);
        int i = uri->opt_count++;
        if (eq) {
            uri->opt_key[i] = strndup (opt, (size_t) (eq - opt));
            uri->opt_val[i] = strndup (eq + 1, len - (size_t) (eq - opt) - 1);
        }
        else {
            uri->opt_key[i] = strndup (opt, len);
            uri->opt_val[i] = strdup ("");
        }
        if (!uri->opt_key[i] || !uri->opt_val[i])
            return -1;
    }
    return 0;
}

const char *
colo_uri_opt (colo_uri_t *uri, const char *key)
{
    const char *found = NULL;
    for (int i = 0; i < uri->opt_count; i++)
        if (strcmp (uri->opt_key[i], key) == 0) {
            uri->opt_used[i] = 1;
            found = uri->opt_val[i];   //  the last one wins
        }
    return found;
}

int
colo_uri_flag (colo_uri_t *uri, const char *key)
{
    return colo_uri_opt (uri, key) != NULL;
}

int
colo_uri_opt_u64 (colo_uri_t *uri, const char *key, uint64_t def, uint64_t min,
                  uint64_t max, uint64_t *out)
{
    const char *text = colo_uri_opt (uri, key);
    if (!text) {
        *out = def;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull (text, &end, 0);
    //  Accept K/M/G suffixes (powers of two) for sizes.
    if (end && end != text && *end && end[1] == 0) {
        unsigned shift = *end == 'K' || *end == 'k' ? 10
                         : *end == 'M' || *end == 'm' ? 20
                         : *end == 'G' || *end == 'g' ? 30 : 0;
        if (shift && value <= (~0ULL >> shift)) {
            value <<= shift;
            end++;
        }
    }
    if (errno || !end || end == text || *end || text[0] == '-' || value < min
        || value > max) {
        colo_error ("port option %s=%s: expected a number from %llu to %llu", key,
                    text, (unsigned long long) min, (unsigned long long) max);
        return -1;
    }
    *out = value;
    return 0;
}

//  The options each transport understands, for colo_port_check.  A name
//  ending in '=' takes a number.
typedef struct {
    const char *scheme;
    colo_port_dir_t dirs;
    const char *options[12];
} s_scheme_info_t;

static const s_scheme_info_t s_schemes[] = {
    {"qemu+unix", COLO_PORT_RXTX, {"server", "vnet"}},
    {"qemu+tcp", COLO_PORT_RXTX, {"server", "vnet"}},
    {"zmq+tcp", COLO_PORT_RXTX,
     {"bind", "server", "hwm=", "batch=", "linger=", "curve-secret", "curve-server",
      "curve-clients"}},
    {"zmq+ipc", COLO_PORT_RXTX, {"bind", "server", "hwm=", "batch=", "linger="}},
    {"shm", COLO_PORT_RXTX, {"size="}},
    {"packet", COLO_PORT_RXTX, {"nopromisc"}},
};

int
colo_port_check (const char *uri_text, colo_port_dir_t dir, char *err, size_t err_cap)
{
    colo_uri_t uri;
    memset (&uri, 0, sizeof uri);
    const s_scheme_info_t *info = NULL;
    int rc = -1;
    if (err && err_cap)
        err[0] = 0;
    if (!uri_text || s_uri_parse (uri_text, &uri) != 0) {
        snprintf (err, err_cap, "'%s': malformed URI (expected SCHEME:ADDRESS[,option...])",
                  uri_text ? uri_text : "");
        s_uri_free (&uri);
        return -1;
    }
    for (size_t i = 0; i < sizeof s_schemes / sizeof s_schemes[0]; i++)
        if (strcmp (s_schemes[i].scheme, uri.scheme) == 0)
            info = &s_schemes[i];
    if (!info) {
        snprintf (err, err_cap, "'%s': unknown scheme '%s'", uri_text, uri.scheme);
        goto done;
    }
    //  Stream and packet transports go both ways; zmq and shm are one-way.
    if (dir == COLO_PORT_RXTX
        && (strncmp (uri.scheme, "zmq+", 4) == 0 || strcmp (uri.scheme, "shm") == 0)) {
        snprintf (err, err_cap, "'%s': %s ports carry one direction only", uri_text,
                  uri.scheme);
        goto done;
    }
    for (int i = 0; i < uri.opt_count; i++) {
        const char *key = uri.opt_key[i];
        int known = 0, numeric = strcmp (key, "queue") == 0
                                 || strcmp (key, "backoff-max") == 0;
        known = numeric;
        for (int k = 0; !known && k < 12 && info->options[k]; k++) {
            size_t n = strlen (info->options[k]);
            int takes_number = info->options[k][n - 1] == '=';
            if (strncmp (info->options[k], key, takes_number ? n - 1 : n) == 0
                && key[takes_number ? n - 1 : n] == 0) {
                known = 1;
                numeric = takes_number;
            }
        }
        if (!known) {
            snprintf (err, err_cap, "'%s': unknown option '%s'", uri_text, key);
            goto done;
        }
        const char *val = uri.opt_val[i];
        if (numeric) {
            size_t digits = strspn (val, "0123456789");
            if (digits == 0 || (val[digits] && (val[digits + 1] || !strchr ("KkMmGg", val[digits])))) {
                snprintf (err, err_cap, "'%s': option '%s' needs a number", uri_text, key);
                goto done;
            }
        }
    }
    rc = 0;
done:
    s_uri_free (&uri);
    return rc;
}

colo_port_t *
colo_port_new (const char *uri_text, colo_port_dir_t dir)
{
    if (!uri_text || (dir & COLO_PORT_RXTX) == 0) {
        colo_error ("port: no URI or no direction");
        return NULL;
    }
    colo_uri_t uri;
    if (s_uri_parse (uri_text, &uri) != 0) {
        colo_error ("port %s: malformed URI (expected SCHEME:ADDRESS[,option...])",
                    uri_text);
        s_uri_free (&uri);
        return NULL;
    }
    const colo_port_ops_t *ops = NULL;
    for (size_t i = 0; i < sizeof s_transports / sizeof s_transports[0]; i++)
        if (strcmp (s_transports[i]->scheme, uri.scheme) == 0)
            ops = s_transports[i];
    if (!ops) {
        colo_error ("port %s: unknown scheme '%s' (qemu+unix, qemu+tcp, zmq+tcp, "
                    "zmq+ipc, shm, packet)",
                    uri_text, uri.scheme);
        s_uri_free (&uri);
        return NULL;
    }
    colo_port_t *self = (colo_port_t *) calloc (1, sizeof (colo_port_t));
    if (!self || !(self->uri = strdup (uri_text))) {
        free (self);
        s_uri_free (&uri);
        return NULL;
    }
    self->ops = ops;
    self->dir = dir;
    self->fd = -1;
    if (colo_uri_opt_u64 (&uri, "queue", 4096, 1, 1u << 24, &self->queue_frames) != 0
        || colo_uri_opt_u64 (&uri, "backoff-max", 2000, 1, 3600000,
                             &self->backoff_max_ms)
               != 0
        || ops->open (self, &uri) != 0) {
        s_uri_free (&uri);
        free (self->uri);
        free (self);
        return NULL;
    }
    for (int i = 0; i < uri.opt_count; i++)
        if (!uri.opt_used[i]) {
            colo_error ("port %s: unknown option '%s'", uri_text, uri.opt_key[i]);
            ops->close (self);
            s_uri_free (&uri);
            free (self->uri);
            free (self);
            return NULL;
        }
    s_uri_free (&uri);
    return self;
}

void
colo_port_destroy (colo_port_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    colo_port_t *self = *self_p;
    self->ops->close (self);
    free (self->uri);
    free (self);
    *self_p = NULL;
}

int
colo_port_send (colo_port_t *self, colo_buf_t **bufs, int n)
{
    if (!(self->dir & COLO_PORT_TX))
        return -1;
    if (n <= 0)
        return 0;
    int sent = self->ops->send (self, bufs, n);
    if (sent >= 0 && sent < n)
        self->counters[COLO_PORT_TX_BLOCKED]++;
    return sent;
}

int
colo_port_recv (colo_port_t *self, colo_buf_t **bufs, int max)
{
    if (max > 0 && !(self->dir & COLO_PORT_RX))
        return -1;
    if (max < 0)
        max = 0;
    return self->ops->recv (self, bufs, max);
}

int
colo_port_input_pending (colo_port_t *self)
{
    return self->ops->input_pending ? self->ops->input_pending (self) : 1;
}

int
colo_port_recv_views (colo_port_t *self, colo_frame_view_t *views, int max)
{
    if (!self->ops->recv_views) {
        errno = ENOTSUP;
        return -1;
    }
    if (!(self->dir & COLO_PORT_RX)) {
        errno = EINVAL;
        return -1;
    }
    return self->ops->recv_views (self, views, max < 0 ? 0 : max);
}

int
colo_port_fd (colo_port_t *self)
{
    return self->fd;
}

int
colo_port_pending (colo_port_t *self)
{
    return self->ops->pending (self);
}

int
colo_port_connected (colo_port_t *self)
{
    return self->ops->connected (self);
}

const char *
colo_port_uri (colo_port_t *self)
{
    return self->uri;
}

const uint64_t *
colo_port_counters (colo_port_t *self)
{
    return self->counters;
}

void
colo_port_counter_labels (const char *role,
                          char labels[COLO_PORT_COUNTER_COUNT][COLO_PORT_LABEL_MAX])
{
    for (int i = 0; i < COLO_PORT_COUNTER_COUNT; i++) {
        snprintf (labels[i], COLO_PORT_LABEL_MAX, "%s.%s", role, colo_port_counter_names[i]);
        for (char *dash = strchr (labels[i], '-'); dash; dash = strchr (dash, '-'))
            *dash = '_';
    }
}

size_t
colo_port_status_append (colo_port_t *self,
                         char labels[COLO_PORT_COUNTER_COUNT][COLO_PORT_LABEL_MAX],
                         const char **names, uint64_t *values, size_t n)
{
    for (int i = 0; i < COLO_PORT_COUNTER_COUNT; i++) {
        names[n + (size_t) i] = labels[i];
        values[n + (size_t) i] = self->counters[i];
    }
    return n + COLO_PORT_COUNTER_COUNT;
}
