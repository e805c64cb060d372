/*  colo_port_zmq.c - the zmq+tcp:// and zmq+ipc:// transports: ZeroMQ PUSH/PULL pipes.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  zmq+tcp://HOST:PORT[,bind|,server][,hwm=N][,batch=BYTES][,linger=MS]
 *             [,curve-secret=FILE[,curve-server=KEY|FILE][,curve-clients=DIR]]
 *  zmq+ipc://PATH[,bind|,server][,hwm=N][,batch=BYTES][,linger=MS]
 *
 *  A TX port is a PUSH socket, an RX port a PULL socket; one pipe carries
 *  one direction (RXTX is refused).  The port connects unless given `bind`
 *  (or `server`), or a host (or ipc path) of `*`.  A bound port accepts
 *  any number of peers; a PUSH with several peers deals messages
 *  round-robin, so a pipe is meant to have one peer at each end.  A PORT of `*` (bind
 *  only) picks a free port; colo_port_zmq_endpoint() tells which.
 *
 *  Messages.  send packs as many envelope records (colo_envelope.h) as fit
 *  in `batch` bytes (default 128 KiB; a frame bigger than that goes alone)
 *  into one ZeroMQ message.  recv decodes every record of a message; what
 *  does not fit in the caller's array stays in the port for the next call.
 *  A message that is not a clean sequence of records is counted
 *  (rx_malformed), logged with a rate limit and dropped from the first bad
 *  byte on; the records before it are delivered.
 *
 *  Backpressure and loss.  `hwm` (default 1000 messages) bounds the queue
 *  on each side.  send never blocks: when ZeroMQ refuses a message (queue
 *  full, or a bound PUSH with no peer) it returns what was accepted and the
 *  rest stays with the caller.  A bound PUSH takes nothing while no peer
 *  is connected (ZeroMQ may still hold a departed peer's queue for a
 *  moment, and frames put there would be lost).  A connecting PUSH keeps
 *  its queue while the peer is away (ZMQ_IMMEDIATE off), up to hwm, and
 *  delivers it when the peer is back; that costs nothing in the steady
 *  state and loses less than ZMQ_IMMEDIATE, which would throw the queue
 *  away on every disconnect.  What ZeroMQ cannot give back is lost without
 *  a per-frame count: messages already in the kernel or the peer's queue
 *  when the peer dies, a bound PUSH's queue toward a peer that left, and
 *  what is still queued `linger` ms (default 1000, TX only) after the port
 *  is destroyed.  Each such event shows as a disconnect (counted, logged).
 *  pending() is 0: ZeroMQ's queue is not observable.
 *
 *  The fd.  ZMQ_FD is edge-triggered: it signals that the socket's state
 *  may have changed, and only after the socket has processed its pending
 *  commands will it signal again.  The port's fd is an epoll set over the
 *  data socket's ZMQ_FD, the monitor socket's ZMQ_FD, an eventfd and a
 *  timerfd (dialling again, below), and the port keeps it honest: recv
 *  reads until ZeroMQ says EAGAIN (which processes commands and re-arms
 *  ZMQ_FD) or the caller's array is full (then the caller calls again, as
 *  colo_port.h asks); a send that
 *  ZeroMQ refused checks ZMQ_EVENTS, which re-arms ZMQ_FD, so the fd fires
 *  when the queue has room again; housekeeping (recv with max 0) processes
 *  commands too and, where that consumed a wake-up the caller still needs
 *  (input waiting on an RX port, room again after a refused send), raises
 *  the eventfd so the fd stays readable until the next recv or send.
 *
 *  connected().  A socket monitor (inproc PAIR, read in recv and
 *  connected(), never blocking) counts connects (CONNECTED, ACCEPTED) and
 *  disconnects; a peer is attached while connects exceed disconnects (and
 *  for a bound PUSH also while ZeroMQ still holds a departed peer's queue,
 *  a moment after it left).  This is the transport's view: a CURVE peer
 *  counts from the TCP connection, before its handshake succeeds or fails.
 *  The same monitor reports
 *  handshake failures (counted as errors, logged: a refused CURVE client
 *  on the server, with its key and address from zauth at debug level; a
 *  refusing server on the client) and, when a bound port closes, the
 *  moment its listener is gone, so that destroy returns only when the
 *  endpoint can be bound again (ZeroMQ closes it asynchronously); destroy
 *  then removes the ipc socket file, which ZeroMQ leaves behind.  A bind
 *  refuses an ipc path that a live listener answers on (ZeroMQ would
 *  unlink it from under its owner) and takes over a stale one.
 *
 *  CURVE.  curve-secret=FILE is this side's certificate with its secret key
 *  (CZMQ zcert format; FILE_secret is tried first, as zcert_load does).
 *  With curve-server=KEY (40 Z85 characters, or a certificate file) the
 *  port is a CURVE client of that server; without, it is a CURVE server.
 *  A server with curve-clients=DIR admits only clients whose certificate is
 *  in DIR (ZAP via zauth, see colo_curve.h); without it, any client that
 *  knows the server's public key.  A CURVE client's send takes nothing
 *  until the server has accepted its handshake, so a client without the
 *  right keys never gets a frame through and never loses one either: the
 *  frames stay with the caller.  Any connecting port whose handshake is
 *  refused holds frames back the same way and dials again with backoff
 *  (ZeroMQ itself gives up after a refusal), so a certificate added to
 *  the server's directory later takes effect without a restart.
 *
 *  Sockets come from CZMQ's process-wide context.  Open ports only after
 *  any fork().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <czmq.h>

#include "colo_curve.h"
#include "colo_envelope.h"
#include "colo_log.h"
#include "colo_port_int.h"
#include "colo_port_zmq.h"

#define S_HWM_DEFAULT 1000
#define S_BATCH_DEFAULT (128 * 1024)
#define S_BATCH_MAX (16 * 1024 * 1024)
//  A message holds at most max(batch, one record); refuse larger ones.
#define S_MSG_MAX ((int64_t)S_BATCH_MAX + COLO_ENVELOPE_HDR_LEN + COLO_FRAME_MAX)
#define S_LINGER_DEFAULT 1000
#define S_RECONNECT_IVL 100
//  How long destroy waits for a bound endpoint to be released.
#define S_UNBIND_WAIT_MS 2000
#define S_ENDPOINT_MAX 256

#define S_MONITOR_EVENTS                                                                   \
    (ZMQ_EVENT_CONNECTED | ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED  \
     | ZMQ_EVENT_ACCEPT_FAILED | ZMQ_EVENT_CLOSE_FAILED                                    \
     | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL          \
     | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
//  First wait before dialling again after a refused handshake.
#define S_REDIAL_FIRST_MS 500

typedef struct {
    zsock_t *sock;  //  PUSH (TX) or PULL (RX)
    void *handle;  //  its libzmq handle
    zsock_t *monitor;  //  PAIR reading the socket's events
    int epoll_fd;  //  the port's fd
    int kick_fd;  //  eventfd in the set: "call me again"
    int kicked;
    int timer_fd;  //  timerfd in the set: time to dial again
    int redial_pending;
    uint64_t redial_ms;  //  the next wait (doubles up to backoff-max)
    int verified;  //  connecting: the peer accepted our handshake
    int blocked;  //  the last send was refused
    int bound;
    int curve_server;  //  holds a colo_curve policy registration
    int curve_client;
    char *curve_clients;  //  ... for this directory (NULL: any)
    int peers;  //  connects minus disconnects
    int listener_closed;  //  the monitor saw CLOSED
    zmq_msg_t held;  //  a received message not fully decoded
    int held_valid;
    size_t held_off;  //  its first undecoded byte
    size_t batch;
    int linger;
    char endpoint[S_ENDPOINT_MAX];
    colo_ratelimit_t rl_malformed;
    colo_ratelimit_t rl_event;
    colo_ratelimit_t rl_error;
} s_zmq_t;

static void
s_kick (s_zmq_t *z)
{
    if (!z->kicked) {
        uint64_t one = 1;
        if (write (z->kick_fd, &one, sizeof one) == (ssize_t)sizeof one)
            z->kicked = 1;
    }
}

static void
s_unkick (s_zmq_t *z)
{
    if (z->kicked) {
        uint64_t value;
        if (read (z->kick_fd, &value, sizeof value) < 0) {
            //  EAGAIN: already clear.
        }
        z->kicked = 0;
    }
}

//  ZMQ_EVENTS: processes the socket's pending commands, which re-arms
//  ZMQ_FD.
static int
s_events (s_zmq_t *z)
{
    int events = 0;
    size_t size = sizeof events;
    if (zmq_getsockopt (z->handle, ZMQ_EVENTS, &events, &size) != 0)
        return 0;
    return events;
}

static void
s_held_release (s_zmq_t *z)
{
    if (z->held_valid) {
        zmq_msg_close (&z->held);
        zmq_msg_init (&z->held);
        z->held_valid = 0;
        z->held_off = 0;
    }
}

static const char *
s_handshake_reason (int event, uint32_t value)
{
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        return "connection dropped during the handshake (wrong server key?)";
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        return value == 400 ? "refused by the server's client policy (ZAP 400)"
                            : "authentication failed";
    if (value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC)
        return "CURVE keys do not match";
    if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        return "one side uses CURVE, the other not";
    return "protocol error";
}

static uint64_t
s_redial_first (colo_port_t *self)
{
    return self->backoff_max_ms < S_REDIAL_FIRST_MS ? self->backoff_max_ms
                                                    : S_REDIAL_FIRST_MS;
}

//  Arm the timer to dial again (connecting ports; ZeroMQ does not retry
//  after the peer refused the handshake).
static void
s_redial_schedule (colo_port_t *self, s_zmq_t *z)
{
    if (z->redial_pending)
        return;
    struct itimerspec its;
    memset (&its, 0, sizeof its);
    its.it_value.tv_sec = (time_t)(z->redial_ms / 1000);
    its.it_value.tv_nsec = (long)(z->redial_ms % 1000) * 1000000L;
    if (timerfd_settime (z->timer_fd, 0, &its, NULL) != 0) {
        colo_error ("port %s: timerfd: %s", self->uri, strerror (errno));
        return;
    }
    z->redial_pending = 1;
    colo_debug ("port %s: dialling again in %llu ms", self->uri,
                (unsigned long long)z->redial_ms);
    z->redial_ms *= 2;
    if (z->redial_ms > self->backoff_max_ms)
        z->redial_ms = self->backoff_max_ms;
}

static void
s_redial_check (colo_port_t *self, s_zmq_t *z)
{
    uint64_t expirations = 0;
    if (!z->redial_pending
        || read (z->timer_fd, &expirations, sizeof expirations)
               != (ssize_t)sizeof expirations)
        return;
    z->redial_pending = 0;
    //  The refused session is gone already; disconnect is for the odd case
    //  where it is not.
    zmq_disconnect (z->handle, z->endpoint);
    if (zmq_connect (z->handle, z->endpoint) != 0) {
        self->counters[COLO_PORT_ERRORS]++;
        colo_log_limited (&z->rl_error, COLO_LOG_ERROR, "port %s: connect: %s", self->uri,
                          zmq_strerror (zmq_errno ()));
        s_redial_schedule (self, z);
    }
}

//  Read every event the monitor holds (never blocks).
static void
s_monitor_drain (colo_port_t *self)
{
    s_zmq_t *z = (s_zmq_t *)self->impl;
    void *mon = zsock_resolve (z->monitor);
    while (1) {
        zmq_msg_t part;
        zmq_msg_init (&part);
        if (zmq_msg_recv (&part, mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&part);
            return;
        }
        int event = 0;
        uint32_t value = 0;
        if (zmq_msg_size (&part) >= 6) {
            const uint8_t *data = (const uint8_t *)zmq_msg_data (&part);
            uint16_t ev16;
            memcpy (&ev16, data, 2);
            memcpy (&value, data + 2, 4);
            event = ev16;
        }
        //  The event's second part is the endpoint (ours when bound).
        while (zmq_msg_more (&part)) {
            zmq_msg_close (&part);
            zmq_msg_init (&part);
            if (zmq_msg_recv (&part, mon, 0) < 0)
                break;
        }
        zmq_msg_close (&part);
        switch (event) {
            case ZMQ_EVENT_CONNECTED:
            case ZMQ_EVENT_ACCEPTED:
                self->counters[COLO_PORT_CONNECTS]++;
                z->peers++;
                colo_debug ("port %s: peer connected (%d now)", self->uri, z->peers);
                break;
            case ZMQ_EVENT_DISCONNECTED:
                self->counters[COLO_PORT_DISCONNECTS]++;
                if (z->peers > 0)
                    z->peers--;
                colo_log_limited (&z->rl_event, COLO_LOG_INFO,
                                  "port %s: peer disconnected (%d left)", self->uri,
                                  z->peers);
                break;
            case ZMQ_EVENT_CLOSED:
                z->listener_closed = 1;
                break;
            case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
                if (!z->verified)
                    colo_debug ("port %s: handshake succeeded", self->uri);
                z->verified = 1;
                z->redial_ms = s_redial_first (self);
                break;
            case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
            case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
            case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
                self->counters[COLO_PORT_ERRORS]++;
                if (!z->bound) {
                    //  Hold frames back until a handshake succeeds, and
                    //  dial again where ZeroMQ gives up (it retries after
                    //  a dropped connection, not after a refusal).
                    z->verified = 0;
                    if (event != ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
                        s_redial_schedule (self, z);
                }
                colo_log_limited (&z->rl_error, COLO_LOG_WARN, "port %s: %s: %s (0x%x)",
                                  self->uri,
                                  z->curve_server   ? "refused a peer"
                                  : z->curve_client ? "the server refused us"
                                                    : "a peer failed the handshake",
                                  s_handshake_reason (event, value), value);
                break;
            case ZMQ_EVENT_ACCEPT_FAILED:
            case ZMQ_EVENT_CLOSE_FAILED:
                self->counters[COLO_PORT_ERRORS]++;
                colo_log_limited (&z->rl_error, COLO_LOG_WARN,
                                  "port %s: socket event 0x%x: %s", self->uri, event,
                                  zmq_strerror ((int)value));
                break;
            default:
                break;
        }
    }
}

//  What every entry point does first or last: monitor events, dialling.
static void
s_service (colo_port_t *self)
{
    s_monitor_drain (self);
    s_redial_check (self, (s_zmq_t *)self->impl);
}

//  A bound ipc path that a live listener answers on is in use: refuse it
//  instead of letting ZeroMQ unlink it from under its owner.  A stale file
//  (nobody listening) is ZeroMQ's to replace.
static int
s_ipc_in_use (const char *path)
{
    struct sockaddr_un sa;
    if (path[0] == '@' || strcmp (path, "*") == 0 || strlen (path) >= sizeof sa.sun_path)
        return 0;
    memset (&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy (sa.sun_path, path, strlen (path));
    int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    int rc = connect (fd, (struct sockaddr *)&sa, sizeof sa);
    int in_use = rc == 0 || errno == EAGAIN || errno == EINPROGRESS;
    close (fd);
    return in_use;
}

static int
s_wants_bind (colo_uri_t *uri)
{
    if (colo_uri_flag (uri, "bind") + colo_uri_flag (uri, "server") > 0)
        return 1;
    const char *addr = uri->address;
    return strncmp (addr, "tcp://*:", 8) == 0 || strcmp (addr, "ipc://*") == 0;
}

static int
s_epoll_add (int epoll_fd, int fd)
{
    struct epoll_event ev;
    memset (&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    return epoll_ctl (epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

//  CURVE options; called before bind/connect.
static int
s_curve_setup (colo_port_t *self, s_zmq_t *z, colo_uri_t *uri)
{
    const char *secret = colo_uri_opt (uri, "curve-secret");
    const char *server_key = colo_uri_opt (uri, "curve-server");
    const char *clients = colo_uri_opt (uri, "curve-clients");
    if (!secret && !server_key && !clients)
        return 0;
    if (!secret) {
        colo_error ("port %s: curve-server and curve-clients need curve-secret=FILE "
                    "(this side's certificate)",
                    self->uri);
        return -1;
    }
    if (server_key && clients) {
        colo_error ("port %s: curve-server (client side) and curve-clients (server "
                    "side) exclude each other",
                    self->uri);
        return -1;
    }
    if (!zsys_has_curve ()) {
        colo_error ("port %s: this libzmq was built without CURVE", self->uri);
        return -1;
    }
    zcert_t *cert = colo_curve_load_secret (secret);
    if (!cert)
        return -1;
    zcert_apply (cert, z->sock);
    zcert_destroy (&cert);
    if (server_key) {
        char z85[COLO_CURVE_Z85_LEN + 1];
        if (colo_curve_public_key (server_key, z85) != 0)
            return -1;
        zsock_set_curve_serverkey (z->sock, z85);
        z->curve_client = 1;
        return 0;
    }
    if (clients && !*clients) {
        colo_error ("port %s: curve-clients needs a directory", self->uri);
        return -1;
    }
    //  The policy must be in place before the first peer can arrive.
    if (colo_curve_policy_acquire (clients) != 0)
        return -1;
    if (clients && !(z->curve_clients = strdup (clients))) {
        colo_curve_policy_release (clients);
        return -1;
    }
    z->curve_server = 1;
    zsock_set_curve_server (z->sock, 1);
    return 0;
}

static void s_close (colo_port_t *self);

static int
s_open (colo_port_t *self, colo_uri_t *uri)
{
    if (self->dir == COLO_PORT_RXTX) {
        colo_error ("port %s: a ZeroMQ pipe (PUSH/PULL) carries one direction; "
                    "open one port to send and another to receive",
                    self->uri);
        return -1;
    }
    int bind = s_wants_bind (uri);
    uint64_t hwm, batch, linger;
    if (colo_uri_opt_u64 (uri, "hwm", S_HWM_DEFAULT, 1, 10000000, &hwm) != 0
        || colo_uri_opt_u64 (uri, "batch", S_BATCH_DEFAULT, 1, S_BATCH_MAX, &batch) != 0
        || colo_uri_opt_u64 (uri, "linger", S_LINGER_DEFAULT, 0, 600000, &linger) != 0)
        return -1;
    s_zmq_t *z = (s_zmq_t *)calloc (1, sizeof (s_zmq_t));
    if (!z)
        return -1;
    self->impl = z;
    z->epoll_fd = -1;
    z->kick_fd = -1;
    z->timer_fd = -1;
    z->redial_ms = s_redial_first (self);
    z->batch = (size_t)batch;
    z->linger = self->dir == COLO_PORT_TX ? (int)linger : 0;
    z->bound = bind;
    zmq_msg_init (&z->held);
    z->rl_malformed = (colo_ratelimit_t)COLO_RATELIMIT_INIT (1000, 5);
    z->rl_event = (colo_ratelimit_t)COLO_RATELIMIT_INIT (1000, 5);
    z->rl_error = (colo_ratelimit_t)COLO_RATELIMIT_INIT (1000, 5);

    z->sock = zsock_new (self->dir == COLO_PORT_TX ? ZMQ_PUSH : ZMQ_PULL);
    if (!z->sock) {
        colo_error ("port %s: cannot create a ZeroMQ socket: %s", self->uri,
                    zmq_strerror (zmq_errno ()));
        goto fail;
    }
    z->handle = zsock_resolve (z->sock);
    zsock_set_linger (z->sock, z->linger);
    zsock_set_sndhwm (z->sock, (int)hwm);
    zsock_set_rcvhwm (z->sock, (int)hwm);
    zsock_set_maxmsgsize (z->sock, (int)S_MSG_MAX);
    zsock_set_immediate (z->sock, 0);
    zsock_set_reconnect_ivl (z->sock, (int)(self->backoff_max_ms < S_RECONNECT_IVL
                                                ? self->backoff_max_ms
                                                : S_RECONNECT_IVL));
    zsock_set_reconnect_ivl_max (z->sock, (int)self->backoff_max_ms);
    if (strchr (uri->address, '['))
        zsock_set_ipv6 (z->sock, 1);
    //  CURVE is for TCP; on ipc the file's permissions are the access
    //  control, and the options stay unknown.
    if (self->ops == &colo_port_zmq_tcp_ops && s_curve_setup (self, z, uri) != 0)
        goto fail;
    //  A CURVE client sends nothing until the server has accepted its keys:
    //  frames queued toward a server that refuses them would be lost.
    z->verified = !z->curve_client;

    //  The monitor first, so that it sees the first connection.
    char mon_ep[96];
    snprintf (mon_ep, sizeof mon_ep, "inproc://colo-port-zmq-monitor-%p-%llu", (void *)z,
              (unsigned long long)colo_clock_mono_ns ());
    if (zmq_socket_monitor (z->handle, mon_ep, S_MONITOR_EVENTS) != 0
        || !(z->monitor = zsock_new (ZMQ_PAIR))
        || zmq_connect (zsock_resolve (z->monitor), mon_ep) != 0) {
        colo_error ("port %s: cannot monitor the socket: %s", self->uri,
                    zmq_strerror (zmq_errno ()));
        goto fail;
    }

    if (bind) {
        if (strncmp (uri->address, "ipc://", 6) == 0 && s_ipc_in_use (uri->address + 6)) {
            colo_error ("port %s: %s is in use by a live listener", self->uri,
                        uri->address + 6);
            goto fail;
        }
        if (zmq_bind (z->handle, uri->address) != 0) {
            colo_error ("port %s: cannot bind %s: %s", self->uri, uri->address,
                        zmq_strerror (zmq_errno ()));
            z->bound = 0;
            goto fail;
        }
        char *last = zsock_last_endpoint (z->sock);
        snprintf (z->endpoint, sizeof z->endpoint, "%s", last ? last : uri->address);
        zstr_free (&last);
    }
    else {
        if (zmq_connect (z->handle, uri->address) != 0) {
            colo_error ("port %s: cannot connect to %s: %s", self->uri, uri->address,
                        zmq_strerror (zmq_errno ()));
            goto fail;
        }
        snprintf (z->endpoint, sizeof z->endpoint, "%s", uri->address);
    }

    int data_fd = zsock_fd (z->sock);
    int mon_fd = zsock_fd (z->monitor);
    z->kick_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    z->timer_fd = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    z->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
    if (z->kick_fd < 0 || z->timer_fd < 0 || z->epoll_fd < 0
        || s_epoll_add (z->epoll_fd, data_fd) != 0 || s_epoll_add (z->epoll_fd, mon_fd) != 0
        || s_epoll_add (z->epoll_fd, z->kick_fd) != 0
        || s_epoll_add (z->epoll_fd, z->timer_fd) != 0) {
        colo_error ("port %s: cannot set up the port's fd: %s", self->uri,
                    strerror (errno));
        goto fail;
    }
    self->fd = z->epoll_fd;
    colo_debug ("port %s: %s %s as %s (hwm %llu, batch %llu)", self->uri,
                bind ? "bound" : "connecting to", z->endpoint,
                self->dir == COLO_PORT_TX ? "PUSH" : "PULL", (unsigned long long)hwm,
                (unsigned long long)batch);
    return 0;

fail:
    s_close (self);
    return -1;
}

//  Release the bound endpoint and wait (bounded) until ZeroMQ's I/O thread
//  has closed the listener; then remove an ipc socket file.
static void
s_unbind_wait (colo_port_t *self, s_zmq_t *z)
{
    if (zmq_unbind (z->handle, z->endpoint) != 0) {
        colo_debug ("port %s: unbind %s: %s", self->uri, z->endpoint,
                    zmq_strerror (zmq_errno ()));
        return;
    }
    uint64_t deadline = colo_clock_mono_ms () + S_UNBIND_WAIT_MS;
    zmq_pollitem_t item = {zsock_resolve (z->monitor), 0, ZMQ_POLLIN, 0};
    while (1) {
        s_monitor_drain (self);
        uint64_t now = colo_clock_mono_ms ();
        if (z->listener_closed || now >= deadline)
            break;
        zmq_poll (&item, 1, (long)(deadline - now));
    }
    if (!z->listener_closed) {
        colo_warn ("port %s: %s not released after %d ms", self->uri, z->endpoint,
                   S_UNBIND_WAIT_MS);
        return;
    }
    //  ZeroMQ leaves a named ipc socket file behind; it is ours to remove.
    const char *path = z->endpoint + 6;
    if (strncmp (z->endpoint, "ipc://", 6) == 0 && path[0] != '@')
        unlink (path);
}

static void
s_close (colo_port_t *self)
{
    s_zmq_t *z = (s_zmq_t *)self->impl;
    if (!z)
        return;
    if (z->held_valid) {
        //  Records the caller never took: count them for the log.
        size_t size = zmq_msg_size (&z->held);
        const uint8_t *data = (const uint8_t *)zmq_msg_data (&z->held);
        int left = 0;
        size_t record = 0;
        for (size_t off = z->held_off;
             off < size
             && colo_envelope_peek (data + off, size - off, &record) == COLO_ENV_OK;
             off += record)
            left++;
        colo_warn ("port %s: closed with %d received frames not taken", self->uri, left);
    }
    s_held_release (z);
    zmq_msg_close (&z->held);
    if (z->sock && z->monitor) {
        s_monitor_drain (self);
        //  A connecting PUSH that cannot send has a full queue or a dead
        //  session; a bound one with no peer has no queue at all.
        if (self->dir == COLO_PORT_TX && (!z->bound || z->peers > 0)
            && !(s_events (z) & ZMQ_POLLOUT))
            colo_info ("port %s: closed with a full queue; ZeroMQ tries %d ms "
                       "more to deliver it, then drops what is left",
                       self->uri, z->linger);
        if (z->bound)
            s_unbind_wait (self, z);
    }
    if (z->epoll_fd >= 0)
        close (z->epoll_fd);
    if (z->kick_fd >= 0)
        close (z->kick_fd);
    if (z->timer_fd >= 0)
        close (z->timer_fd);
    if (z->sock)
        zmq_socket_monitor (z->handle, NULL, 0);
    zsock_destroy (&z->monitor);
    zsock_destroy (&z->sock);
    if (z->curve_server)
        colo_curve_policy_release (z->curve_clients);
    free (z->curve_clients);
    free (z);
    self->impl = NULL;
    self->fd = -1;
}

//  A frame whose record the receiver would reject would take its whole
//  message down with it: catch it here.
static int
s_frame_ok (const colo_buf_t *buf)
{
    return buf && buf->len <= COLO_FRAME_MAX && buf->len <= buf->cap
           && buf->vnet_hdr_len <= COLO_VNET_HDR_MAX && buf->vnet_hdr_len <= buf->len;
}

static int
s_send (colo_port_t *self, colo_buf_t **bufs, int n)
{
    s_zmq_t *z = (s_zmq_t *)self->impl;
    s_unkick (z);
    if (!z->verified)
        s_service (self);
    if (!z->verified) {
        z->blocked = 1;
        return 0;
    }
    //  A bound PUSH whose peers have all left may still hold the last one's
    //  queue until ZeroMQ's I/O thread has torn it down, and whatever went
    //  into it would be lost: with no peer, take nothing.
    if (z->bound && z->peers == 0)
        s_monitor_drain (self);
    if (z->bound && z->peers == 0) {
        z->blocked = 1;
        return 0;
    }
    int done = 0;
    int retried = 0;
    while (done < n) {
        if (!s_frame_ok (bufs[done])) {
            //  The caller's bug, not the peer's: count, log, consume.
            self->counters[COLO_PORT_ERRORS]++;
            colo_log_limited (&z->rl_error, COLO_LOG_ERROR,
                              "port %s: invalid frame not sent (len %u, vnet %u)",
                              self->uri, bufs[done] ? bufs[done]->len : 0,
                              bufs[done] ? bufs[done]->vnet_hdr_len : 0);
            colo_buf_destroy (&bufs[done]);
            done++;
            continue;
        }
        size_t total = colo_envelope_size (bufs[done]);
        int end = done + 1;
        while (end < n && s_frame_ok (bufs[end])
               && total + colo_envelope_size (bufs[end]) <= z->batch)
            total += colo_envelope_size (bufs[end++]);
        zmq_msg_t msg;
        if (zmq_msg_init_size (&msg, total) != 0) {
            self->counters[COLO_PORT_ERRORS]++;
            colo_log_limited (&z->rl_error, COLO_LOG_ERROR,
                              "port %s: no memory for a %zu-byte message", self->uri,
                              total);
            break;
        }
        uint8_t *out = (uint8_t *)zmq_msg_data (&msg);
        size_t off = 0;
        for (int i = done; i < end; i++)
            off += colo_envelope_encode (bufs[i], out + off, total - off);
        if (zmq_msg_send (&msg, z->handle, ZMQ_DONTWAIT) < 0) {
            int err = zmq_errno ();
            zmq_msg_close (&msg);
            //  ZeroMQ may not have processed the command that reopened the
            //  queue yet: ZMQ_EVENTS processes it (and re-arms ZMQ_FD).
            if (err == EAGAIN && !retried && (s_events (z) & ZMQ_POLLOUT)) {
                retried = 1;
                continue;
            }
            if (err != EAGAIN && err != EINTR) {
                self->counters[COLO_PORT_ERRORS]++;
                colo_log_limited (&z->rl_error, COLO_LOG_ERROR, "port %s: send: %s",
                                  self->uri, zmq_strerror (err));
            }
            break;
        }
        uint64_t bytes = 0;
        for (int i = done; i < end; i++) {
            bytes += bufs[i]->len;
            colo_buf_destroy (&bufs[i]);
        }
        self->counters[COLO_PORT_TX_FRAMES] += (uint64_t)(end - done);
        self->counters[COLO_PORT_TX_BYTES] += bytes;
        done = end;
        retried = 0;
    }
    z->blocked = done < n;
    return done;
}

//  recv with max 0: events, commands, and keeping a wake-up the caller
//  still needs.
static void
s_housekeep (colo_port_t *self, s_zmq_t *z)
{
    s_service (self);
    int events = s_events (z);
    if (self->dir == COLO_PORT_RX) {
        if ((events & ZMQ_POLLIN) || z->held_valid)
            s_kick (z);
    }
    else if (z->blocked && z->verified && (!z->bound || z->peers > 0)
             && (events & ZMQ_POLLOUT)) {
        z->blocked = 0;
        s_kick (z);
    }
}

static int
s_recv (colo_port_t *self, colo_buf_t **bufs, int max)
{
    s_zmq_t *z = (s_zmq_t *)self->impl;
    if (max <= 0 || !bufs) {
        s_housekeep (self, z);
        return 0;
    }
    s_unkick (z);
    int got = 0;
    while (got < max) {
        if (!z->held_valid) {
            if (zmq_msg_recv (&z->held, z->handle, ZMQ_DONTWAIT) < 0) {
                int err = zmq_errno ();
                if (err != EAGAIN) {
                    //  Not drained: make sure the caller comes back.
                    if (err != EINTR) {
                        self->counters[COLO_PORT_ERRORS]++;
                        colo_log_limited (&z->rl_error, COLO_LOG_ERROR, "port %s: recv: %s",
                                          self->uri, zmq_strerror (err));
                    }
                    s_kick (z);
                }
                break;
            }
            z->held_valid = 1;
            z->held_off = 0;
        }
        const uint8_t *data = (const uint8_t *)zmq_msg_data (&z->held);
        size_t size = zmq_msg_size (&z->held);
        if (size == 0) {
            self->counters[COLO_PORT_RX_MALFORMED]++;
            colo_log_limited (&z->rl_malformed, COLO_LOG_WARN,
                              "port %s: empty message dropped", self->uri);
            s_held_release (z);
            continue;
        }
        while (got < max && z->held_off < size) {
            colo_buf_t *buf = NULL;
            size_t used = 0;
            colo_env_result_t rc =
                colo_envelope_decode (data + z->held_off, size - z->held_off, &buf, &used);
            if (rc == COLO_ENV_OK) {
                bufs[got++] = buf;
                z->held_off += used;
                self->counters[COLO_PORT_RX_FRAMES]++;
                self->counters[COLO_PORT_RX_BYTES] += buf->len;
                continue;
            }
            if (rc == COLO_ENV_ERR_NOMEM) {
                //  Keep the message; the caller is told to come back.
                self->counters[COLO_PORT_ERRORS]++;
                colo_log_limited (&z->rl_error, COLO_LOG_ERROR,
                                  "port %s: no memory for a received frame", self->uri);
                s_kick (z);
                return got;
            }
            //  NEED_MORE: the message ends inside a record.
            self->counters[COLO_PORT_RX_MALFORMED]++;
            colo_log_limited (&z->rl_malformed, COLO_LOG_WARN,
                              "port %s: malformed message (%s at byte %zu of %zu), "
                              "rest dropped",
                              self->uri,
                              rc == COLO_ENV_NEED_MORE ? "truncated record"
                                                       : colo_envelope_result_name (rc),
                              z->held_off, size);
            s_held_release (z);
            break;
        }
        if (z->held_valid && z->held_off >= size)
            s_held_release (z);
    }
    if (got < max)
        s_service (self);
    return got;
}

static int
s_pending (colo_port_t *self)
{
    (void)self;
    return 0;
}

static int
s_connected (colo_port_t *self)
{
    s_zmq_t *z = (s_zmq_t *)self->impl;
    s_service (self);
    if (z->peers > 0)
        return 1;
    //  A bound PUSH is attached until ZeroMQ has torn down the queue of the
    //  peer that left, so that "not connected" means a new peer will not
    //  share the socket with it.
    return z->bound && self->dir == COLO_PORT_TX && (s_events (z) & ZMQ_POLLOUT);
}

const char *
colo_port_zmq_endpoint (colo_port_t *port)
{
    if (!port
        || (port->ops != &colo_port_zmq_tcp_ops && port->ops != &colo_port_zmq_ipc_ops)
        || !port->impl)
        return NULL;
    return ((s_zmq_t *)port->impl)->endpoint;
}

const colo_port_ops_t colo_port_zmq_tcp_ops = {
    "zmq+tcp", s_open, s_close, s_send, s_recv, s_pending, s_connected, NULL, NULL,
};
const colo_port_ops_t colo_port_zmq_ipc_ops = {
    "zmq+ipc", s_open, s_close, s_send, s_recv, s_pending, s_connected, NULL, NULL,
};
