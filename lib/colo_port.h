/*  colo_port.h - one API for every edge: ports opened from URIs.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  URIs (options after commas, in any order):
 *    qemu+unix:PATH[,server][,vnet]         QEMU chardev framing on a unix socket
 *    qemu+tcp:HOST:PORT[,server][,vnet]     ... on TCP (IPv6 hosts in brackets)
 *    zmq+tcp://HOST:PORT[,bind][,hwm=N][,curve-...]   ZeroMQ PUSH (send) / PULL (recv)
 *    zmq+ipc://PATH[,bind]
 *    shm:NAME[,size=BYTES]                  shared-memory ring (colo_ring.h)
 *    packet:IFNAME                          AF_PACKET on a tap/veth
 *  Common options: backoff-max=MS (client reconnect cap, default 2000),
 *  queue=FRAMES (frames a port holds while its peer is absent, default 4096).
 *
 *  Usage pattern (single thread per port; ports are not thread-safe):
 *    poll colo_port_fd() for POLLIN; when it fires, or before sleeping, call
 *    colo_port_recv() until it returns fewer than asked, and retry any
 *    colo_port_send() that accepted fewer than offered.  recv also does the
 *    port's housekeeping (accepting, reconnecting, flushing queued output),
 *    so call it on send-only ports too.
 */
#ifndef COLO_PORT_H_INCLUDED
#define COLO_PORT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "colo_buf.h"

typedef enum {
    COLO_PORT_RX = 1,       //  this process receives on the port
    COLO_PORT_TX = 2,       //  this process sends on the port
    COLO_PORT_RXTX = 3      //  both (qemu+*, packet: only)
} colo_port_dir_t;

typedef enum {
    COLO_PORT_RX_FRAMES,
    COLO_PORT_RX_BYTES,
    COLO_PORT_TX_FRAMES,    //  frames handed to the transport
    COLO_PORT_TX_BYTES,
    COLO_PORT_TX_BLOCKED,   //  send calls that accepted fewer than offered
    COLO_PORT_RX_MALFORMED, //  framing/envelope errors (connection closed where stream-based)
    COLO_PORT_RX_TRUNCATED, //  frames lost because a peer died mid-frame
    COLO_PORT_TX_REQUEUED,  //  frames re-sent whole after a connection broke mid-frame
    COLO_PORT_CONNECTS,
    COLO_PORT_DISCONNECTS,
    COLO_PORT_ERRORS,       //  socket errors other than disconnects
    COLO_PORT_RX_DROPPED,   //  frames the kernel dropped before this port read them (packet:)
    COLO_PORT_COUNTER_COUNT
} colo_port_counter_t;

extern const char *const colo_port_counter_names[COLO_PORT_COUNTER_COUNT];

typedef struct colo_port colo_port_t;

//  Open a port.  Returns NULL (and logs the reason) on a malformed URI, an
//  unknown scheme or option, a direction the transport cannot do, or a
//  setup failure that retrying cannot fix (bind failed, no such interface).
//  A client whose server is not there yet is not a failure: it reconnects
//  with backoff.
colo_port_t *colo_port_new (const char *uri, colo_port_dir_t dir);

//  Check a URI without opening anything (for --check-config): grammar,
//  scheme, option names, numeric option values, and that the transport can
//  work in direction dir.  Returns 0, or -1 with a one-line reason in err.
int colo_port_check (const char *uri, colo_port_dir_t dir, char *err, size_t err_cap);

//  Close the port and free it; frames still queued are freed and counted.
void colo_port_destroy (colo_port_t **self_p);

//  Offer n frames, in order.  Returns k (0..n): the port took ownership of
//  bufs[0..k) and set them to NULL; the rest stay with the caller (the port
//  is full, or its peer absent and its queue full: retry after the fd fires).
//  Returns -1 only for a port opened without COLO_PORT_TX.
int colo_port_send (colo_port_t *self, colo_buf_t **bufs, int n);

//  Take up to max received frames (caller owns them), and do housekeeping.
//  Returns the count (0 if none).  max may be 0: housekeeping only, allowed
//  on every port.  Returns -1 if max > 0 on a port opened without
//  COLO_PORT_RX.
int colo_port_recv (colo_port_t *self, colo_buf_t **bufs, int max);

//  colo_port_recv without copies where the transport can: up to max frames
//  as views into the port's own memory, valid until the next call on this
//  port (any function); a caller that keeps a frame copies it
//  (colo_buf_new_copy), or, when the view's slab is set, makes a buffer in
//  that slab (colo_buf_new_in), which the port then reads past.  The frames are received as by colo_port_recv
//  (counted, gone from the port).  Returns the count (0 if none), or -1
//  with errno ENOTSUP when the transport hands out buffers only (use
//  colo_port_recv), or EINVAL on a port opened without COLO_PORT_RX.
//  Frames of a stream port that lie whole in one read are not copied.
int colo_port_recv_views (colo_port_t *self, colo_frame_view_t *views, int max);

//  A pollable file descriptor, stable for the life of the port.
int colo_port_fd (colo_port_t *self);

//  Frames accepted by send but not yet written to the transport.
int colo_port_pending (colo_port_t *self);

//  0 when a recv would give nothing until the fd becomes readable again
//  (nothing held, the socket found empty), 1 when it might: a reader that
//  stopped at a budget asks its loop to come back only then.  Transports
//  that cannot tell (edge-triggered ones) say 1.
int colo_port_input_pending (colo_port_t *self);

//  1 if a peer is attached right now (stream: connected; shm: other side
//  attached; zmq: at least one peer connected or bound; packet: link up).
int colo_port_connected (colo_port_t *self);

//  The URI the port was opened with (borrowed).
const char *colo_port_uri (colo_port_t *self);

//  COLO_PORT_COUNTER_COUNT counters (borrowed; live).
const uint64_t *colo_port_counters (colo_port_t *self);

//  For a service's status: the names of one port's counters, "ROLE.NAME"
//  ('-' in role becomes '_'), written to labels[i] for each counter i.
#define COLO_PORT_LABEL_MAX 48
void colo_port_counter_labels (const char *role,
                               char labels[COLO_PORT_COUNTER_COUNT][COLO_PORT_LABEL_MAX]);

//  Append the port's counters to a status being built: names[n + i] =
//  labels[i], values[n + i] = counter i.  Returns n + COLO_PORT_COUNTER_COUNT.
size_t colo_port_status_append (colo_port_t *self,
                                char labels[COLO_PORT_COUNTER_COUNT][COLO_PORT_LABEL_MAX],
                                const char **names, uint64_t *values, size_t n);

#endif
