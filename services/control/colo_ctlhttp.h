/*  colo_ctlhttp.h - colo-control's metrics endpoint: Prometheus text over HTTP.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  libmicrohttpd with its own thread: GET (or HEAD) /metrics answers with
 *  what the render callback returns, as text/plain; version=0.0.4; any
 *  other path is 404, any other method 405.  The callback runs on the
 *  HTTP thread: it takes whatever lock its data needs.
 */
#ifndef COLO_CTLHTTP_H_INCLUDED
#define COLO_CTLHTTP_H_INCLUDED

#include <stddef.h>

//  The page: malloc'd text and its length, or NULL (answered with 500).
typedef char *(colo_ctlhttp_render_fn) (void *arg, size_t *len);

typedef struct colo_ctlhttp colo_ctlhttp_t;

//  0 if addr is "HOST:PORT", "[V6]:PORT", ":PORT" or "*:PORT" with a
//  resolvable host and a port 0..65535 (0: any free port); -1 otherwise.
int colo_ctlhttp_addr_check (const char *addr);

//  Serve on addr.  NULL (after logging why) if it cannot.
colo_ctlhttp_t *colo_ctlhttp_start (const char *addr, colo_ctlhttp_render_fn *render,
                                    void *arg);

//  Stop serving (waits for the HTTP thread); NULL-safe, nulls *self_p.
void colo_ctlhttp_stop (colo_ctlhttp_t **self_p);

//  The TCP port served (the one picked for port 0).
int colo_ctlhttp_port (colo_ctlhttp_t *self);

#endif
