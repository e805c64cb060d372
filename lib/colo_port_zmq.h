/*  colo_port_zmq.h - what the zmq+tcp:// and zmq+ipc:// ports add to colo_port.h.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#ifndef COLO_PORT_ZMQ_H_INCLUDED
#define COLO_PORT_ZMQ_H_INCLUDED

#include "colo_port.h"

//  The ZeroMQ endpoint a zmq port is bound or connected to, with a wildcard
//  port resolved ("tcp://127.0.0.1:41234" for "zmq+tcp://127.0.0.1:*,bind"),
//  so a test or service can tell its peer where to connect.  Borrowed; NULL
//  if port is not a zmq port.
const char *colo_port_zmq_endpoint (colo_port_t *port);

#endif
