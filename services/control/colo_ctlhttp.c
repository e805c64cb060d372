/*  colo_ctlhttp.c - colo-control's metrics endpoint: Prometheus text over HTTP.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "colo_config.h"
#include "colo_ctlhttp.h"
#include "colo_log.h"

struct colo_ctlhttp {
    struct MHD_Daemon *daemon;
    colo_ctlhttp_render_fn *render;
    void *arg;
    int port;
};

static int
s_addr (const char *text, struct sockaddr_storage *sa, socklen_t *sa_len)
{
    char host[256];
    const char *port;
    if (!text || !*text)
        return -1;
    if (text[0] == '[') {
        const char *close = strchr (text, ']');
        if (!close || close[1] != ':' || (size_t) (close - text - 1) >= sizeof host)
            return -1;
        memcpy (host, text + 1, (size_t) (close - text - 1));
        host[close - text - 1] = 0;
        port = close + 2;
    }
    else {
        const char *colon = strrchr (text, ':');
        if (!colon || (size_t) (colon - text) >= sizeof host)
            return -1;
        memcpy (host, text, (size_t) (colon - text));
        host[colon - text] = 0;
        port = colon + 1;
    }
    uint64_t number;
    if (colo_config_parse_u64 (port, 0, 65535, &number) != 0)
        return -1;
    struct addrinfo hints, *res = NULL;
    memset (&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int any = !host[0] || strcmp (host, "*") == 0;
    if (getaddrinfo (any ? NULL : host, port, &hints, &res) != 0 || !res)
        return -1;
    memcpy (sa, res->ai_addr, res->ai_addrlen);
    *sa_len = res->ai_addrlen;
    freeaddrinfo (res);
    return 0;
}

int
colo_ctlhttp_addr_check (const char *addr)
{
    struct sockaddr_storage sa;
    socklen_t sa_len;
    return s_addr (addr, &sa, &sa_len);
}

static enum MHD_Result
s_answer (void *cls, struct MHD_Connection *conn, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_size, void **state)
{
    (void) version;
    (void) upload_data;
    (void) upload_size;
    (void) state;
    colo_ctlhttp_t *self = (colo_ctlhttp_t *) cls;
    unsigned status = MHD_HTTP_OK;
    char *text = NULL;
    size_t len = 0;
    if (strcmp (method, "GET") != 0 && strcmp (method, "HEAD") != 0)
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
    else if (strcmp (url, "/metrics") != 0)
        status = MHD_HTTP_NOT_FOUND;
    else if (!(text = self->render (self->arg, &len)))
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    if (status != MHD_HTTP_OK) {
        text = strdup (status == MHD_HTTP_INTERNAL_SERVER_ERROR ? "no memory\n"
                                                                : "see /metrics\n");
        len = text ? strlen (text) : 0;
    }
    struct MHD_Response *resp
        = MHD_create_response_from_buffer (len, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free (text);
        return MHD_NO;
    }
    MHD_add_response_header (resp, "Content-Type",
                             status == MHD_HTTP_OK ? "text/plain; version=0.0.4; charset=utf-8"
                                                   : "text/plain");
    enum MHD_Result ret = MHD_queue_response (conn, status, resp);
    MHD_destroy_response (resp);
    return ret;
}

colo_ctlhttp_t *
colo_ctlhttp_start (const char *addr, colo_ctlhttp_render_fn *render, void *arg)
{
    struct sockaddr_storage sa;
    socklen_t sa_len;
    if (s_addr (addr, &sa, &sa_len) != 0) {
        colo_error ("metrics '%s': expected HOST:PORT", addr ? addr : "");
        return NULL;
    }
    colo_ctlhttp_t *self = (colo_ctlhttp_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->render = render;
    self->arg = arg;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    uint16_t port = sa.ss_family == AF_INET6
                        ? ntohs (((struct sockaddr_in6 *) &sa)->sin6_port)
                        : ntohs (((struct sockaddr_in *) &sa)->sin_port);
    self->daemon = MHD_start_daemon (flags, port, NULL, NULL, s_answer, self,
                                     MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &sa,
                                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 10,
                                     MHD_OPTION_END);
    if (!self->daemon) {
        colo_error ("cannot serve metrics on %s", addr);
        free (self);
        return NULL;
    }
    const union MHD_DaemonInfo *info
        = MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? info->port : port;
    return self;
}

void
colo_ctlhttp_stop (colo_ctlhttp_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    colo_ctlhttp_t *self = *self_p;
    MHD_stop_daemon (self->daemon);
    free (self);
    *self_p = NULL;
}

int
colo_ctlhttp_port (colo_ctlhttp_t *self)
{
    return self ? self->port : 0;
}
