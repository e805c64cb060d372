/*  colo_port_packet.c - (stub, being written)
 *  SPDX-License-Identifier: MPL-2.0
 */
#include "colo_log.h"
#include "colo_port_int.h"

static int s_open (colo_port_t *self, colo_uri_t *uri) { (void) self; colo_error ("port %s: transport not built yet", uri->scheme); return -1; }
static void s_close (colo_port_t *self) { (void) self; }
static int s_send (colo_port_t *self, colo_buf_t **b, int n) { (void) self; (void) b; (void) n; return 0; }
static int s_recv (colo_port_t *self, colo_buf_t **b, int n) { (void) self; (void) b; (void) n; return 0; }
static int s_zero (colo_port_t *self) { (void) self; return 0; }
const colo_port_ops_t colo_port_packet_ops = {"packet", s_open, s_close, s_send, s_recv, s_zero, s_zero};
