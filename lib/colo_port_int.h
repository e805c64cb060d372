/*  colo_port_int.h - what colo_port.c and its transports share (internal).
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  colo_port.c parses the URI and dispatches to one transport; each
 *  transport (colo_port_qemu.c, colo_port_zmq.c, colo_port_shm.c,
 *  colo_port_packet.c) fills in a colo_port_ops_t.  Nothing outside lib/
 *  includes this file.
 */
#ifndef COLO_PORT_INT_H_INCLUDED
#define COLO_PORT_INT_H_INCLUDED

#include "colo_port.h"

#define COLO_URI_OPT_MAX 16

//  A parsed URI: "SCHEME:ADDRESS[,opt][,key=value]..."
typedef struct {
    char *scheme;                     //  "qemu+unix", "zmq+tcp", "shm", ...
    char *address;                    //  what follows "SCHEME:" up to the first ','
                                      //  (for zmq the full "tcp://..." endpoint)
    int opt_count;
    char *opt_key[COLO_URI_OPT_MAX];
    char *opt_val[COLO_URI_OPT_MAX];  //  "" for a bare flag
    uint8_t opt_used[COLO_URI_OPT_MAX];   //  set by colo_uri_opt; unused ones are errors
} colo_uri_t;

//  Value of option key ("" for a flag), or NULL if absent.  Marks it used.
const char *colo_uri_opt (colo_uri_t *uri, const char *key);
//  1 if the flag or option is present (marks it used).
int colo_uri_flag (colo_uri_t *uri, const char *key);
//  Parse an unsigned option; def if absent; -1 (and logs) if not a number or
//  outside [min, max].
int colo_uri_opt_u64 (colo_uri_t *uri, const char *key, uint64_t def,
                      uint64_t min, uint64_t max, uint64_t *out);

typedef struct colo_port_ops {
    const char *scheme;
    //  Set self->impl and self->fd; return 0, or -1 after logging why.
    int (*open) (colo_port_t *self, colo_uri_t *uri);
    void (*close) (colo_port_t *self);
    int (*send) (colo_port_t *self, colo_buf_t **bufs, int n);
    int (*recv) (colo_port_t *self, colo_buf_t **bufs, int max);
    int (*pending) (colo_port_t *self);
    int (*connected) (colo_port_t *self);
    //  Optional (NULL: colo_port_recv_views says ENOTSUP).
    int (*recv_views) (colo_port_t *self, colo_frame_view_t *views, int max);
    //  Optional (NULL: colo_port_input_pending says 1).
    int (*input_pending) (colo_port_t *self);
} colo_port_ops_t;

//  Transports count every counter except tx_blocked (colo_port.c does).
struct colo_port {
    const colo_port_ops_t *ops;
    void *impl;                       //  the transport's state
    int fd;                           //  the pollable fd the transport gives
    colo_port_dir_t dir;
    char *uri;
    uint64_t queue_frames;            //  "queue=" option
    uint64_t backoff_max_ms;          //  "backoff-max=" option
    uint64_t counters[COLO_PORT_COUNTER_COUNT];
};

extern const colo_port_ops_t colo_port_qemu_unix_ops;
extern const colo_port_ops_t colo_port_qemu_tcp_ops;
extern const colo_port_ops_t colo_port_zmq_tcp_ops;
extern const colo_port_ops_t colo_port_zmq_ipc_ops;
extern const colo_port_ops_t colo_port_shm_ops;
extern const colo_port_ops_t colo_port_packet_ops;

#endif
