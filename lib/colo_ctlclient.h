/*  colo_ctlclient.h - talking to colo-control: control URIs and one-shot requests.
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

#endif
