/*  colo_port_qemu.c - qemu+unix and qemu+tcp ports: QEMU chardev framing on a socket.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  One stream socket carries both directions.  The port's pollable fd is an
 *  epoll fd owned by the port, so it stays the same while connections come
 *  and go; it watches the listening socket, the connected socket, a timerfd
 *  for reconnect backoff and an eventfd that is readable while frames
 *  salvaged from a closed connection wait to be received.
 *
 *  Receiving is lazy: recv() reads the socket (128 KiB at a time) only when
 *  it has decoded every byte it holds, so a caller that stops reading
 *  leaves the bytes in the kernel and the peer feels the backpressure.
 *  When a connection goes away, the complete frames it delivered are kept
 *  (salvaged); a half frame is dropped and counted, never spliced into the
 *  next connection.  Sending goes through a bounded queue written with
 *  sendmsg (several frames per call); a frame cut by a broken connection is
 *  re-sent whole on the next one.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "colo_framing.h"
#include "colo_log.h"
#include "colo_port_int.h"

//  Bytes per read(): the frames of one read are handed out in place (see
//  slabs below), so this is also how much memory a burst of frames spans;
//  128 KiB keeps a few reads' worth within a core's cache.
#define S_READ_SIZE (128 * 1024)
#define S_BATCH 256                //  frames per sendmsg() (a call and a wake-up of
                                   //  the reader cost as much as copying ~20 frames)
#define S_BACKOFF_MIN_MS 50        //  first reconnect delay
#define S_DRAIN_READS 64           //  reads salvaged from a replaced connection
#define S_DISCARD_READS 16         //  reads discarded per turn on a send-only port
#define S_HOUSEKEEP_SKIP 64        //  recv calls in a row that may skip housekeeping
#define S_LEND_MAX 256             //  views per recv_views call at most
#define S_SLABS_MAX 8              //  read slabs per port at most (1 MiB)
#define S_READ_MIN (16 * 1024)     //  a read goes on in a pinned slab if this much is left

enum { S_TAG_LISTEN = 1, S_TAG_CONN = 2, S_TAG_TIMER = 3, S_TAG_STASH = 4 };

typedef struct {
    colo_port_t *port;
    int tcp;                     //  qemu+tcp (else qemu+unix)
    int server;
    int vnet;
    int epfd;                    //  = port->fd
    int lfd;                     //  listening socket (server)
    int cfd;                     //  connected or connecting socket
    int tfd;                     //  reconnect timer (client)
    int efd;                     //  readable while stash holds frames
    int connecting;              //  cfd is a non-blocking connect in progress
    uint32_t conn_gen;           //  tells events of an old cfd apart
    uint32_t cfd_events;         //  events registered for cfd (0: none)
    uint64_t backoff_ms;         //  next reconnect delay
    //  Addresses
    struct sockaddr_un sun;      //  unix
    socklen_t sun_len;
    int unlink_on_close;         //  our server socket file
    dev_t sock_dev;
    ino_t sock_ino;
    struct addrinfo *ai_list;    //  tcp client: resolved at open
    struct addrinfo *ai_next;    //  next address to try
    //  Receiving
    colo_framing_t *dec;
    //  Reads go into a slab, and frames that lie whole in it become
    //  buffers pointing into it (no copy).  A slab that frames still point
    //  into is set aside and another one read into; when S_SLABS_MAX are
    //  all pinned, a read goes into cbuf and its frames are copied.
    colo_buf_slab_t *slab;       //  the slab read into last
    colo_buf_slab_t *spare[S_SLABS_MAX];
    int spares;
    uint8_t *cbuf;               //  read into when every slab is pinned (made on need)
    size_t slab_used;            //  bytes of slab read into (frames may point there)
    size_t rwant;                //  bytes the last read asked for
    int copying;                 //  the bytes held are in cbuf
    uint8_t *rbuf;               //  the bytes held: slab's or cbuf
    size_t rpos;
    size_t rlen;
    uint64_t rts_ns;             //  when rbuf was filled: frames' arrival time
    int streaming;               //  the last recv got frames from the socket
    int sock_empty;              //  the last read found the socket empty (short, EAGAIN)
    int hk_skips;                //  recv calls in a row without housekeeping
    colo_bufq_t stash;           //  complete frames of a closed connection
    colo_buf_t *lent[S_LEND_MAX];   //  buffers behind the last recv_views' views
    int lent_count;
    //  Sending
    colo_bufq_t outq;            //  frames waiting for the socket, in order
    size_t out_off;              //  bytes of the head frame already written
    colo_ratelimit_t rl_bad;
    colo_ratelimit_t rl_conn;
} s_qemu_t;

//  ---------------------------------------------------------------- helpers

static inline int
s_connected (const s_qemu_t *q)
{
    return q->cfd >= 0 && !q->connecting;
}

static int
s_watch (s_qemu_t *q, int op, int fd, uint32_t events, uint64_t tag)
{
    struct epoll_event ev;
    memset (&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = tag;
    if (epoll_ctl (q->epfd, op, fd, &ev) == 0)
        return 0;
    colo_error ("port %s: epoll_ctl: %s", q->port->uri, strerror (errno));
    q->port->counters[COLO_PORT_ERRORS]++;
    return -1;
}

//  Register (or change) the events watched on cfd.
static void
s_watch_conn (s_qemu_t *q, uint32_t events)
{
    if (q->cfd_events == events)
        return;
    uint64_t tag = (uint64_t) q->conn_gen << 8 | S_TAG_CONN;
    if (s_watch (q, q->cfd_events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, q->cfd, events, tag)
        == 0)
        q->cfd_events = events;
}

static void
s_want_output (s_qemu_t *q, int on)
{
    if (!s_connected (q))
        return;
    uint32_t events = EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0);
    s_watch_conn (q, events);
}

static void
s_stash_push (s_qemu_t *q, colo_buf_t *buf)
{
    if (colo_bufq_push (&q->stash, buf) != 0) {
        q->port->counters[COLO_PORT_ERRORS]++;
        colo_log_limited (&q->rl_bad, COLO_LOG_ERROR,
                          "port %s: out of memory keeping a received frame",
                          q->port->uri);
        colo_buf_destroy (&buf);
        return;
    }
    if (q->stash.count == 1)
        eventfd_write (q->efd, 1);
}

static colo_buf_t *
s_stash_pop (s_qemu_t *q)
{
    colo_buf_t *buf = colo_bufq_pop (&q->stash);
    if (buf && q->stash.count == 0) {
        eventfd_t value;
        eventfd_read (q->efd, &value);
    }
    return buf;
}

//  ---------------------------------------------------------------- receiving

static void
s_malformed (s_qemu_t *q, colo_framing_result_t rc)
{
    uint32_t len = 0, vnet_hdr_len = 0;
    colo_framing_last_header (q->dec, &len, &vnet_hdr_len);
    if (rc == COLO_FRAMING_ERR_NOMEM) {
        q->port->counters[COLO_PORT_ERRORS]++;
        colo_log_limited (&q->rl_bad, COLO_LOG_ERROR,
                          "port %s: out of memory for a frame of %u bytes; "
                          "closing the connection",
                          q->port->uri, len);
    }
    else if (rc == COLO_FRAMING_ERR_OVERSIZE) {
        q->port->counters[COLO_PORT_RX_MALFORMED]++;
        colo_log_limited (&q->rl_bad, COLO_LOG_WARN,
                          "port %s: malformed stream: frame length %u exceeds %u; "
                          "closing the connection",
                          q->port->uri, len, (unsigned) COLO_FRAME_MAX);
    }
    else {
        q->port->counters[COLO_PORT_RX_MALFORMED]++;
        colo_log_limited (&q->rl_bad, COLO_LOG_WARN,
                          "port %s: malformed stream: vnet_hdr_len %u with frame "
                          "length %u (max %u); closing the connection",
                          q->port->uri, vnet_hdr_len, len, (unsigned) COLO_VNET_HDR_MAX);
    }
    q->rpos = q->rlen = 0;
}

//  Decode the next frame from the bytes held.  Returns 1 with *out, 0 when
//  every held byte is used, -1 on a malformed stream (counted and logged;
//  the caller closes the connection).
static int
s_decode_one (s_qemu_t *q, colo_buf_t **out)
{
    while (q->rpos < q->rlen) {
        size_t used = 0;
        colo_framing_result_t rc = colo_framing_feed_at (
            q->dec, q->rbuf + q->rpos, q->rlen - q->rpos, &used, out, q->rts_ns);
        q->rpos += used;
        if (rc == COLO_FRAMING_FRAME) {
            q->port->counters[COLO_PORT_RX_FRAMES]++;
            q->port->counters[COLO_PORT_RX_BYTES] += (*out)->len;
            return 1;
        }
        if (rc < 0) {
            s_malformed (q, rc);
            return -1;
        }
    }
    q->rpos = q->rlen = 0;
    return 0;
}

//  Read once into rbuf.  Returns bytes read, 0 on end of stream, -1 with
//  errno (EAGAIN when nothing is there).
//  Where the next read goes: the current slab if no frame points into it,
//  else the rest of it after the bytes frames point into (if at least
//  S_READ_MIN), else a spare that none points into, else a new spare, else
//  cbuf (its frames will be copied).  *room: how much may be read there.
//  NULL if no memory at all.
static uint8_t *
s_read_target (s_qemu_t *q, size_t *room)
{
    q->copying = 0;
    *room = S_READ_SIZE;
    if (!colo_buf_slab_shared (q->slab)) {
        q->slab_used = 0;
        return colo_buf_slab_data (q->slab);
    }
    if (S_READ_SIZE - q->slab_used >= S_READ_MIN) {
        *room = S_READ_SIZE - q->slab_used;
        return colo_buf_slab_data (q->slab) + q->slab_used;
    }
    for (int i = 0; i < q->spares; i++)
        if (!colo_buf_slab_shared (q->spare[i])) {
            colo_buf_slab_t *free_slab = q->spare[i];
            q->spare[i] = q->slab;
            q->slab = free_slab;
            q->slab_used = 0;
            return colo_buf_slab_data (q->slab);
        }
    if (q->spares < S_SLABS_MAX - 1) {
        colo_buf_slab_t *fresh = colo_buf_slab_new (S_READ_SIZE);
        if (fresh) {
            q->spare[q->spares++] = q->slab;
            q->slab = fresh;
            q->slab_used = 0;
            return colo_buf_slab_data (q->slab);
        }
    }
    if (!q->cbuf)
        q->cbuf = (uint8_t *) malloc (S_READ_SIZE);
    q->copying = 1;
    return q->cbuf;
}

static ssize_t
s_read (s_qemu_t *q)
{
    uint8_t *target = s_read_target (q, &q->rwant);
    if (!target) {
        errno = ENOMEM;
        return -1;
    }
    q->rbuf = target;
    ssize_t n;
    do
        n = read (q->cfd, q->rbuf, q->rwant);
    while (n < 0 && errno == EINTR);
    q->sock_empty = n >= 0 ? (size_t) n < q->rwant : errno == EAGAIN || errno == EWOULDBLOCK;
    if (n > 0) {
        q->rpos = 0;
        q->rlen = (size_t) n;
        q->rts_ns = colo_clock_real_ns ();
        if (!q->copying)
            q->slab_used += (size_t) n;
    }
    return n;
}

static void s_conn_down (s_qemu_t *q, const char *why);

//  A read that gave no bytes (n <= 0, errno set when < 0): the end of the
//  stream or an error closes the connection (1); nothing there yet is 0.
static int
s_read_ended (s_qemu_t *q, ssize_t n)
{
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (n == 0)
        s_conn_down (q, "peer closed");
    else {
        if (errno != ECONNRESET)
            q->port->counters[COLO_PORT_ERRORS]++;
        s_conn_down (q, strerror (errno));
    }
    return 1;
}

//  Move the complete frames of the current connection into the stash: the
//  bytes held, then up to max_reads more reads (until EOF or EAGAIN).  Used
//  before a connection is closed for any reason but a malformed stream.
//  Returns -1 if the stream turned out malformed.
static int
s_salvage (s_qemu_t *q, int max_reads)
{
    if (!(q->port->dir & COLO_PORT_RX)) {
        q->rpos = q->rlen = 0;
        return 0;
    }
    int reads = 0;
    while (1) {
        colo_buf_t *buf = NULL;
        int rc = s_decode_one (q, &buf);
        if (rc < 0)
            return -1;
        if (rc == 1) {
            s_stash_push (q, buf);
            continue;
        }
        if (reads++ >= max_reads || s_read (q) <= 0)
            return 0;
    }
}

//  ---------------------------------------------------------------- connections

static void s_connect_start (s_qemu_t *q);

static void
s_schedule_reconnect (s_qemu_t *q)
{
    struct itimerspec its;
    memset (&its, 0, sizeof its);
    its.it_value.tv_sec = (time_t) (q->backoff_ms / 1000);
    its.it_value.tv_nsec = (long) (q->backoff_ms % 1000) * 1000000L;
    if (timerfd_settime (q->tfd, 0, &its, NULL) != 0) {
        q->port->counters[COLO_PORT_ERRORS]++;
        colo_error ("port %s: timerfd_settime: %s", q->port->uri, strerror (errno));
    }
    q->backoff_ms *= 2;
    if (q->backoff_ms > q->port->backoff_max_ms)
        q->backoff_ms = q->port->backoff_max_ms;
}

static void
s_flush (s_qemu_t *q);

//  The socket fd (non-blocking) is now the peer.
static void
s_conn_up (s_qemu_t *q, int fd)
{
    if (q->cfd != fd) {
        q->cfd = fd;
        q->conn_gen++;
        q->cfd_events = 0;
    }
    q->connecting = 0;
    if (q->tcp) {
        int one = 1;
        setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    //  A new peer starts a new stream.
    if (colo_framing_in_frame (q->dec))
        q->port->counters[COLO_PORT_RX_TRUNCATED]++;
    colo_framing_reset (q->dec);
    q->rpos = q->rlen = 0;
    q->sock_empty = 0;
    q->out_off = 0;
    q->backoff_ms = S_BACKOFF_MIN_MS < q->port->backoff_max_ms
                        ? S_BACKOFF_MIN_MS
                        : q->port->backoff_max_ms;
    q->port->counters[COLO_PORT_CONNECTS]++;
    colo_info ("port %s: connected", q->port->uri);
    s_want_output (q, q->outq.count > 0);
    s_flush (q);
}

//  Close the current socket.  A dropped half frame is counted in
//  rx_truncated, a half-written frame is re-sent whole later (tx_requeued);
//  a client schedules a reconnect.
static void
s_conn_down (s_qemu_t *q, const char *why)
{
    if (q->cfd < 0)
        return;
    int was_connected = !q->connecting;
    if (q->cfd_events)
        epoll_ctl (q->epfd, EPOLL_CTL_DEL, q->cfd, NULL);
    close (q->cfd);
    q->cfd = -1;
    q->cfd_events = 0;
    q->connecting = 0;
    q->rpos = q->rlen = 0;
    if (was_connected) {
        if (colo_framing_in_frame (q->dec)) {
            q->port->counters[COLO_PORT_RX_TRUNCATED]++;
            colo_log_limited (&q->rl_bad, COLO_LOG_WARN,
                              "port %s: peer left in the middle of a frame; "
                              "half frame dropped",
                              q->port->uri);
        }
        colo_framing_reset (q->dec);
        if (q->out_off > 0) {
            q->port->counters[COLO_PORT_TX_REQUEUED]++;
            q->out_off = 0;
        }
        q->port->counters[COLO_PORT_DISCONNECTS]++;
        colo_info ("port %s: disconnected (%s)", q->port->uri, why);
    }
    if (!q->server)
        s_schedule_reconnect (q);
}

//  Salvage what the connection delivered, then close it.
static void
s_conn_lost (s_qemu_t *q, const char *why, int max_reads)
{
    s_salvage (q, max_reads);
    s_conn_down (q, why);
}

//  The current connect attempt failed with err: try the next address, or
//  wait for the backoff timer.
static void
s_connect_failed (s_qemu_t *q, int err)
{
    colo_log_limited (&q->rl_conn, COLO_LOG_DEBUG,
                      "port %s: connect: %s; retrying", q->port->uri,
                      strerror (err));
    if (q->ai_next)
        q->ai_next = q->ai_next->ai_next;
    if (q->ai_next) {
        s_connect_start (q);
        return;
    }
    q->ai_next = q->ai_list;
    s_schedule_reconnect (q);
}

static void
s_connect_start (s_qemu_t *q)
{
    const struct sockaddr *addr;
    socklen_t addr_len;
    int family, protocol = 0;
    if (q->tcp) {
        if (!q->ai_next)
            q->ai_next = q->ai_list;
        addr = q->ai_next->ai_addr;
        addr_len = q->ai_next->ai_addrlen;
        family = q->ai_next->ai_family;
        protocol = q->ai_next->ai_protocol;
    }
    else {
        addr = (const struct sockaddr *) &q->sun;
        addr_len = q->sun_len;
        family = AF_UNIX;
    }
    int fd = socket (family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (fd < 0) {
        q->port->counters[COLO_PORT_ERRORS]++;
        s_connect_failed (q, errno);
        return;
    }
    int rc;
    do
        rc = connect (fd, addr, addr_len);
    while (rc != 0 && errno == EINTR);
    if (rc == 0) {
        s_conn_up (q, fd);
        return;
    }
    if (errno == EINPROGRESS) {
        q->cfd = fd;
        q->conn_gen++;
        q->cfd_events = 0;
        q->connecting = 1;
        s_watch_conn (q, EPOLLOUT);
        return;
    }
    int err = errno;
    close (fd);
    s_connect_failed (q, err);
}

static void
s_connect_finish (s_qemu_t *q)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt (q->cfd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err == 0) {
        s_conn_up (q, q->cfd);
        return;
    }
    epoll_ctl (q->epfd, EPOLL_CTL_DEL, q->cfd, NULL);
    close (q->cfd);
    q->cfd = -1;
    q->cfd_events = 0;
    q->connecting = 0;
    s_connect_failed (q, err);
}

static void
s_accept (s_qemu_t *q)
{
    while (1) {
        int fd = accept4 (q->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                q->port->counters[COLO_PORT_ERRORS]++;
                colo_log_limited (&q->rl_conn, COLO_LOG_ERROR, "port %s: accept: %s",
                                  q->port->uri, strerror (errno));
            }
            return;
        }
        if (q->cfd >= 0) {
            //  The peer came back without our noticing it left: trust the
            //  new connection, keep the old one's complete frames.
            colo_info ("port %s: a new connection replaces the current one",
                       q->port->uri);
            s_conn_lost (q, "replaced by a new connection", S_DRAIN_READS);
        }
        s_conn_up (q, fd);
    }
}

//  A send-only port ignores what the peer writes, but must notice EOF.
static void
s_discard_input (s_qemu_t *q)
{
    for (int i = 0; i < S_DISCARD_READS; i++) {
        ssize_t n = s_read (q);
        q->rpos = q->rlen = 0;
        if (n > 0)
            continue;
        s_read_ended (q, n);
        return;
    }
}

//  ---------------------------------------------------------------- sending

//  One sendmsg() of frames bufs[0..n) (n <= S_BATCH), the first of them
//  skip bytes in (written in part before).  Returns what sendmsg returned;
//  *want_p is the bytes asked for.
static ssize_t
s_sendmsg_frames (s_qemu_t *q, colo_buf_t *const *bufs, size_t n, size_t skip,
                  size_t *want_p)
{
    struct iovec iov[2 * S_BATCH];
    uint8_t hdr[S_BATCH][COLO_FRAMING_HDR_MAX];
    int niov = 0;
    size_t want = 0;
    const size_t hl = colo_framing_header_len (q->vnet);
    //  Where the last iovec ends when it ends with a frame's last byte in
    //  a slab, else NULL (at first, and after a header alone).
    const uint8_t *run_end = NULL;
    for (size_t k = 0; k < n; k++) {
        colo_buf_t *buf = bufs[k];
        //  A frame read in the same slab as the one before it lies right
        //  after it, behind its header as it came: when those bytes are the
        //  header to send, the two go as one piece of memory (a run of
        //  frames read together is one iovec).
        if (buf->data - hl == run_end && buf->slab
            && colo_framing_is_header (buf->data - hl, buf->len, q->vnet, buf->vnet_hdr_len)) {
            iov[niov - 1].iov_len += hl + buf->len;
            want += hl + buf->len;
            run_end += hl + buf->len;
            continue;
        }
        if (k > 0)
            skip = 0;
        colo_framing_encode_header (hdr[k], buf->len, q->vnet, buf->vnet_hdr_len);
        if (skip < hl) {
            iov[niov].iov_base = hdr[k] + skip;
            iov[niov++].iov_len = hl - skip;
            want += hl - skip;
            skip = 0;
        }
        else
            skip -= hl;
        run_end = NULL;
        if (buf->len > skip) {
            iov[niov].iov_base = buf->data + skip;
            iov[niov++].iov_len = buf->len - skip;
            want += buf->len - skip;
            if (buf->slab)
                run_end = buf->data + buf->len;
        }
    }
    struct msghdr msg;
    memset (&msg, 0, sizeof msg);
    msg.msg_iov = iov;
    msg.msg_iovlen = (size_t) niov;
    *want_p = want;
    return sendmsg (q->cfd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
}

//  After done bytes of frames bufs[0..n) went (the first skip bytes in):
//  the frames that went whole, counted and destroyed; *skip_p becomes the
//  bytes written of the next one.  Returns how many went whole.
static size_t
s_frames_sent (s_qemu_t *q, colo_buf_t **bufs, size_t n, size_t done, size_t *skip_p)
{
    const size_t hl = colo_framing_header_len (q->vnet);
    size_t whole = 0;
    uint64_t bytes = 0;
    size_t skip = *skip_p;
    while (done > 0 && whole < n) {
        size_t total = hl + bufs[whole]->len - skip;
        if (done < total) {
            skip += done;
            break;
        }
        done -= total;
        skip = 0;
        bytes += bufs[whole]->len;
        whole++;
    }
    *skip_p = skip;
    q->port->counters[COLO_PORT_TX_FRAMES] += (uint64_t) whole;
    q->port->counters[COLO_PORT_TX_BYTES] += bytes;
    colo_buf_destroy_array (bufs, (int) whole);
    return whole;
}

//  A sendmsg() that failed: 1 to try again (EINTR), else 0 after noting
//  it: a full socket asks to be told when it drains, an error drops the
//  connection.
static int
s_send_failed (s_qemu_t *q)
{
    if (errno == EINTR)
        return 1;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        s_want_output (q, 1);
        return 0;
    }
    if (errno != EPIPE && errno != ECONNRESET)
        q->port->counters[COLO_PORT_ERRORS]++;
    s_conn_lost (q, strerror (errno), S_DRAIN_READS);
    return 0;
}

//  Whether a frame can be put on the wire.
static inline int
s_encodable (const s_qemu_t *q, const colo_buf_t *buf)
{
    return buf->len <= COLO_FRAME_MAX && buf->len <= buf->cap
           && (!q->vnet
               || (buf->vnet_hdr_len <= buf->len && buf->vnet_hdr_len <= COLO_VNET_HDR_MAX));
}

//  A frame that cannot be put on the wire: a bug upstream, not the peer's
//  fault; counted, logged and destroyed.
static __attribute__ ((noinline, cold)) void
s_refuse (colo_port_t *self, colo_buf_t **buf_p)
{
    s_qemu_t *q = (s_qemu_t *) self->impl;
    self->counters[COLO_PORT_ERRORS]++;
    colo_log_limited (&q->rl_bad, COLO_LOG_ERROR,
                      "port %s: refusing to send a frame of %u bytes (vnet_hdr_len %u)",
                      self->uri, (*buf_p)->len, (*buf_p)->vnet_hdr_len);
    colo_buf_destroy (buf_p);
}

//  Frames bufs[0..n) (all encodable), the first of them q->out_off bytes
//  in (written in part before), written from bufs itself: the queue's
//  head, or a caller's frames when nothing is queued.  Returns how many
//  went whole (each destroyed, its slot NULL); *stopped is set when the
//  socket took no more (q->out_off: the bytes of the next frame that went)
//  or failed (s_send_failed).
static int
s_write_frames (s_qemu_t *q, colo_buf_t **bufs, int n, int *stopped)
{
    int done = 0;
    *stopped = 0;
    while (done < n && !*stopped) {
        size_t frames = (size_t) (n - done) < S_BATCH ? (size_t) (n - done) : S_BATCH;
        size_t want = 0;
        ssize_t w = s_sendmsg_frames (q, bufs + done, frames, q->out_off, &want);
        if (w < 0) {
            *stopped = !s_send_failed (q);
            continue;
        }
        done += (int) s_frames_sent (q, bufs + done, frames, (size_t) w, &q->out_off);
        if ((size_t) w < want) {
            s_want_output (q, 1);   //  the socket is full
            *stopped = 1;
        }
    }
    return done;
}

//  Write queued frames until the queue is empty or the socket is full.
static void
s_flush (s_qemu_t *q)
{
    int stopped = 0;
    while (q->outq.count > 0 && s_connected (q) && !stopped) {
        colo_buf_t **span, *scratch[S_BATCH];
        size_t n = colo_bufq_peek (&q->outq, &span, scratch, S_BATCH);
        colo_bufq_skip (&q->outq, (size_t) s_write_frames (q, span, (int) n, &stopped));
    }
    if (!stopped)
        s_want_output (q, 0);
}

static int
s_send (colo_port_t *self, colo_buf_t **bufs, int n)
{
    s_qemu_t *q = (s_qemu_t *) self->impl;
    int accepted = 0;
    int stopped = 0;
    //  The queue has room for a frame before any is written: one written
    //  in part must wait there.
    if (q->outq.count == 0 && s_connected (q)
        && (q->outq.cap > 0 || colo_bufq_grow (&q->outq) == 0)) {
        int sendable = 0;
        while (sendable < n && bufs[sendable] && s_encodable (q, bufs[sendable]))
            sendable++;
        accepted = s_write_frames (q, bufs, sendable, &stopped);
    }
    while (1) {
        //  The rest waits (after a direct write that stopped, the first of
        //  them perhaps written in part).
        while (accepted < n && q->outq.count < self->queue_frames) {
            colo_buf_t *buf = bufs[accepted];
            if (buf && !s_encodable (q, buf))
                s_refuse (self, &bufs[accepted]);
            else if (buf && colo_bufq_push (&q->outq, buf) != 0)
                break;
            bufs[accepted++] = NULL;
        }
        if (stopped || !s_connected (q) || q->outq.count == 0)
            break;
        size_t before = q->outq.count;
        s_flush (q);
        if (accepted == n || q->outq.count == before)
            break;
    }
    return accepted;
}

//  ---------------------------------------------------------------- recv

//  The port's own events (accept, timer, hang-up, EPOLLOUT, stash).
//  Returns how many there were.
static int
s_housekeep (s_qemu_t *q)
{
    struct epoll_event events[8];
    int count = epoll_wait (q->epfd, events, 8, 0);
    for (int i = 0; i < count; i++) {
        uint64_t tag = events[i].data.u64;
        uint32_t ev = events[i].events;
        switch (tag & 0xff) {
        case S_TAG_LISTEN:
            s_accept (q);
            break;
        case S_TAG_TIMER: {
            uint64_t expirations;
            ssize_t rc = read (q->tfd, &expirations, sizeof expirations);
            (void) rc;   //  EAGAIN: already consumed
            if (q->cfd < 0)
                s_connect_start (q);
            break;
        }
        case S_TAG_CONN:
            if (q->cfd < 0 || (uint32_t) (tag >> 8) != q->conn_gen)
                break;   //  an event of a socket already replaced
            if (q->connecting) {
                s_connect_finish (q);
                break;
            }
            if (ev & EPOLLOUT)
                s_flush (q);
            if (q->cfd < 0)
                break;
            if (!(q->port->dir & COLO_PORT_RX)) {
                if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                    s_discard_input (q);
            }
            else if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                //  The peer is gone: keep what it sent, then close.
                s_conn_lost (q, "peer closed", 1 << 30);
            }
            break;
        default:
            break;   //  S_TAG_STASH: served by recv
        }
    }
    if (s_connected (q) && q->outq.count > 0 && !(q->cfd_events & EPOLLOUT))
        s_flush (q);
    return count > 0 ? count : 0;
}

//  The start of a recv: while the socket keeps yielding frames, most
//  wake-ups are for its data: go straight to it, and look at the other
//  events (accept, hang-up, timer, EPOLLOUT) when it has nothing, or at
//  least every S_HOUSEKEEP_SKIP + 1 calls.  One epoll_wait less per
//  wake-up.  Returns 1 if housekeeping was skipped.
static int
s_recv_begin (s_qemu_t *q, int max)
{
    int skipped = 0;
    if (max > 0 && q->streaming && q->hk_skips < S_HOUSEKEEP_SKIP && s_connected (q)
        && q->stash.count == 0 && q->outq.count == 0) {
        q->hk_skips++;
        skipped = 1;
    }
    else {
        q->hk_skips = 0;
        s_housekeep (q);
    }
    q->streaming = 0;
    return skipped;
}

//  Every held byte is used: read more.  Returns 1 when the caller should
//  look again (bytes came, the connection ended, or housekeeping ran and
//  may have stashed or accepted something), 0 when it should return what
//  it has.  *drained: a read returned less than asked.
static int
s_recv_refill (s_qemu_t *q, int *skipped, int *drained)
{
    //  Another read would most likely say EAGAIN; the fd is level-
    //  triggered, so bytes that come meanwhile wake the caller again.
    if (*drained)
        return 0;
    ssize_t n = s_read (q);
    if (n > 0) {
        *drained = (size_t) n < q->rwant;
        return 1;
    }
    if (s_read_ended (q, n))
        return 1;
    if (!*skipped)
        return 0;
    //  Nothing to read: the wake-up may be for something else (and if it
    //  was for nothing else either, another read would say EAGAIN again).
    *skipped = 0;
    q->hk_skips = 0;
    return s_housekeep (q) > 0;
}

static int
s_recv (colo_port_t *self, colo_buf_t **bufs, int max)
{
    s_qemu_t *q = (s_qemu_t *) self->impl;
    int skipped = s_recv_begin (q, max);
    int got = 0;
    int drained = 0;   //  a read returned less than asked: the socket was empty
    while (got < max) {
        if (q->stash.count) {
            bufs[got++] = s_stash_pop (q);
            continue;
        }
        if (!s_connected (q))
            break;
        if (q->rpos < q->rlen && !q->copying) {
            //  The whole frames in the slab, as buffers pointing into it.
            colo_frame_view_t views[64];
            size_t used = 0;
            int want = max - got < 64 ? max - got : 64;
            uint64_t bytes = 0;
            int k = colo_framing_views_in (q->dec, q->rbuf + q->rpos, q->rlen - q->rpos, &used,
                                           views, want, q->rts_ns, NULL, &bytes);
            //  Fewer made only for want of memory: the rest take the
            //  copying path below.
            int made = colo_buf_new_in_views (q->slab, views, k, bufs + got);
            if (made < k) {
                //  Not taken: give their bytes back to the decoder (which
                //  has counted them already and will once more: only when
                //  memory ran out).
                used = (size_t) (views[made].data - (q->rbuf + q->rpos))
                       - colo_framing_header_len (q->vnet);
                for (int i = made; i < k; i++)
                    bytes -= views[i].len;
            }
            q->rpos += used;
            self->counters[COLO_PORT_RX_FRAMES] += (uint64_t) made;
            self->counters[COLO_PORT_RX_BYTES] += bytes;
            got += made;
            if (made > 0) {
                q->streaming = 1;
                continue;
            }
            if (made == k) {
                //  Not a whole frame here (cut short by the read, empty, a
                //  bad header): one frame the general way, then views again.
                colo_buf_t *buf = NULL;
                int one = s_decode_one (q, &buf);
                if (one == 1) {
                    bufs[got++] = buf;
                    q->streaming = 1;
                    continue;
                }
                if (one < 0) {
                    s_conn_down (q, "malformed stream");
                    break;
                }
            }
        }
        if (q->rpos < q->rlen) {
            //  Every frame the bytes held complete, up to what is asked
            //  (copies: the bytes are in cbuf, or the next frame is not
            //  whole in the slab).
            size_t used = 0;
            colo_framing_result_t rc;
            int k = colo_framing_feed_many (q->dec, q->rbuf + q->rpos, q->rlen - q->rpos,
                                            &used, bufs + got, max - got, q->rts_ns, &rc);
            q->rpos += used;
            uint64_t bytes = 0;
            for (int i = got; i < got + k; i++)
                bytes += bufs[i]->len;
            self->counters[COLO_PORT_RX_FRAMES] += (uint64_t) k;
            self->counters[COLO_PORT_RX_BYTES] += bytes;
            got += k;
            if (k > 0)
                q->streaming = 1;
            if (rc < 0) {
                s_malformed (q, rc);
                s_conn_down (q, "malformed stream");
                break;
            }
            if (rc == COLO_FRAMING_FRAME)
                continue;   //  max frames: got == max
            q->rpos = q->rlen = 0;   //  every byte used
        }
        if (!s_recv_refill (q, &skipped, &drained))
            break;
    }
    return got;
}

//  Free the buffers behind the views the last recv_views handed out.
static void
s_lent_free (s_qemu_t *q)
{
    for (int i = 0; i < q->lent_count; i++)
        colo_buf_destroy (&q->lent[i]);
    q->lent_count = 0;
}

//  A buffer shown as a view until the next call.
static void
s_lend (s_qemu_t *q, colo_buf_t *buf, colo_frame_view_t *view)
{
    q->lent[q->lent_count++] = buf;
    view->data = buf->data;
    view->len = buf->len;
    view->vnet_hdr_len = buf->vnet_hdr_len;
    view->ts_ns = buf->ts_ns;
    view->slab = buf->slab;
}

//  recv, but frames that lie whole in rbuf are views into it, not copies.
//  Once a view points into rbuf, rbuf is not read into again in this call.
//  Frames that are buffers anyway (split across reads, salvaged from an
//  old connection) are lent as views and freed at the next call.
static int
s_recv_views (colo_port_t *self, colo_frame_view_t *views, int max)
{
    s_qemu_t *q = (s_qemu_t *) self->impl;
    s_lent_free (q);
    if (max > S_LEND_MAX)
        max = S_LEND_MAX;
    int skipped = s_recv_begin (q, max);
    int got = 0;
    int drained = 0;
    int pinned = 0;    //  a view points into rbuf
    while (got < max) {
        if (q->stash.count) {
            s_lend (q, s_stash_pop (q), &views[got++]);
            continue;
        }
        if (!s_connected (q))
            break;
        if (q->rpos < q->rlen) {
            size_t used = 0;
            //  In the slab, unless every slab was pinned (cbuf).
            uint64_t bytes = 0;
            int k = colo_framing_views_in (q->dec, q->rbuf + q->rpos, q->rlen - q->rpos, &used,
                                           views + got, max - got, q->rts_ns,
                                           q->copying ? NULL : q->slab, &bytes);
            q->rpos += used;
            if (k > 0) {
                self->counters[COLO_PORT_RX_FRAMES] += (uint64_t) k;
                self->counters[COLO_PORT_RX_BYTES] += bytes;
                got += k;
                q->streaming = 1;
                pinned = 1;
                continue;   //  max views, or something else is next
            }
            //  Not a whole frame: a frame cut short (its start is copied
            //  and completed by the next read), an empty frame, a bad
            //  header.
            colo_buf_t *buf = NULL;
            int one = s_decode_one (q, &buf);
            if (one == 1) {
                q->streaming = 1;
                s_lend (q, buf, &views[got++]);
                continue;
            }
            if (one < 0) {
                s_conn_down (q, "malformed stream");
                break;
            }
        }
        if (pinned || !s_recv_refill (q, &skipped, &drained))
            break;
    }
    return got;
}

static int
s_pending (colo_port_t *self)
{
    s_qemu_t *q = (s_qemu_t *) self->impl;
    return (int) q->outq.count;
}

static int
s_is_connected (colo_port_t *self)
{
    return s_connected ((s_qemu_t *) self->impl);
}

//  Frames held (stashed, or bytes read and not handed out), or a socket
//  not known to be empty: a recv may give frames before the fd says so.
static int
s_input_pending (colo_port_t *self)
{
    s_qemu_t *q = (s_qemu_t *) self->impl;
    return q->stash.count > 0 || q->rpos < q->rlen || (s_connected (q) && !q->sock_empty);
}

//  ---------------------------------------------------------------- open/close

static void
s_close (colo_port_t *self)
{
    s_qemu_t *q = (s_qemu_t *) self->impl;
    if (!q)
        return;
    if (q->outq.count)
        colo_info ("port %s: closing with %zu frame(s) unsent", self->uri,
                   q->outq.count);
    if (q->cfd >= 0)
        close (q->cfd);
    if (q->lfd >= 0)
        close (q->lfd);
    if (q->tfd >= 0)
        close (q->tfd);
    if (q->efd >= 0)
        close (q->efd);
    if (q->epfd >= 0)
        close (q->epfd);
    if (q->unlink_on_close) {
        //  Only if the file is still ours (a successor may have replaced it).
        struct stat st;
        if (lstat (q->sun.sun_path, &st) == 0 && st.st_dev == q->sock_dev
            && st.st_ino == q->sock_ino)
            unlink (q->sun.sun_path);
    }
    colo_bufq_destroy (&q->outq);
    colo_bufq_destroy (&q->stash);
    s_lent_free (q);
    colo_framing_destroy (&q->dec);
    colo_buf_slab_release (&q->slab);
    for (int i = 0; i < q->spares; i++)
        colo_buf_slab_release (&q->spare[i]);
    free (q->cbuf);
    if (q->ai_list)
        freeaddrinfo (q->ai_list);
    free (q);
    self->impl = NULL;
    self->fd = -1;
}

//  PATH, or @NAME for the abstract namespace.
static int
s_unix_address (s_qemu_t *q, const char *path)
{
    memset (&q->sun, 0, sizeof q->sun);
    q->sun.sun_family = AF_UNIX;
    size_t len = strlen (path);
    if (len >= sizeof q->sun.sun_path || (path[0] == '@' && len < 2)) {
        colo_error ("port %s: unix socket path must be 1 to %zu bytes",
                    q->port->uri, sizeof q->sun.sun_path - 1);
        return -1;
    }
    memcpy (q->sun.sun_path, path, len);
    if (path[0] == '@') {
        q->sun.sun_path[0] = 0;
        q->sun_len = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + len);
    }
    else
        q->sun_len = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + len + 1);
    return 0;
}

//  A socket file left by a dead server is removed; a live one is an error.
static int
s_unix_clear_stale (s_qemu_t *q)
{
    const char *path = q->sun.sun_path;
    struct stat st;
    if (lstat (path, &st) != 0)
        return 0;
    if (!S_ISSOCK (st.st_mode)) {
        colo_error ("port %s: %s exists and is not a socket", q->port->uri, path);
        return -1;
    }
    //  Non-blocking, so a live server with a full backlog (EAGAIN) cannot
    //  hold us up.
    int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    int rc = connect (fd, (const struct sockaddr *) &q->sun, q->sun_len);
    int err = errno;
    close (fd);
    if (rc == 0 || err == EAGAIN) {
        colo_error ("port %s: another process is listening on %s", q->port->uri,
                    path);
        return -1;
    }
    if (err == ECONNREFUSED) {
        colo_info ("port %s: removing stale socket %s", q->port->uri, path);
        unlink (path);
    }
    return 0;
}

static int
s_unix_listen (s_qemu_t *q)
{
    int abstract = q->sun.sun_path[0] == 0;
    if (!abstract && s_unix_clear_stale (q) != 0)
        return -1;
    int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind (fd, (const struct sockaddr *) &q->sun, q->sun_len) != 0
        || listen (fd, 16) != 0) {
        colo_error ("port %s: cannot listen: %s", q->port->uri, strerror (errno));
        if (fd >= 0)
            close (fd);
        return -1;
    }
    q->lfd = fd;
    struct stat st;
    if (!abstract && stat (q->sun.sun_path, &st) == 0) {
        q->unlink_on_close = 1;
        q->sock_dev = st.st_dev;
        q->sock_ino = st.st_ino;
    }
    return 0;
}

//  "HOST:PORT", "[V6]:PORT", or ":PORT" (server: every address).
static int
s_tcp_resolve (s_qemu_t *q, const char *address)
{
    char host[256];
    const char *service;
    if (address[0] == '[') {
        const char *end = strchr (address, ']');
        if (!end || end[1] != ':' || (size_t) (end - address - 1) >= sizeof host)
            goto malformed;
        memcpy (host, address + 1, (size_t) (end - address - 1));
        host[end - address - 1] = 0;
        service = end + 2;
    }
    else {
        const char *colon = strchr (address, ':');
        if (!colon || colon != strrchr (address, ':')
            || (size_t) (colon - address) >= sizeof host)
            goto malformed;
        memcpy (host, address, (size_t) (colon - address));
        host[colon - address] = 0;
        service = colon + 1;
    }
    if (!*service || (!*host && !q->server))
        goto malformed;
    struct addrinfo hints;
    memset (&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = q->server ? AI_PASSIVE : 0;
    int rc = getaddrinfo (*host ? host : NULL, service, &hints, &q->ai_list);
    if (rc != 0) {
        colo_error ("port %s: cannot resolve '%s': %s", q->port->uri, address,
                    gai_strerror (rc));
        q->ai_list = NULL;
        return -1;
    }
    q->ai_next = q->ai_list;
    return 0;
malformed:
    colo_error ("port %s: expected HOST:PORT or [IPV6]:PORT", q->port->uri);
    return -1;
}

static int
s_tcp_listen (s_qemu_t *q)
{
    int err = 0;
    for (struct addrinfo *ai = q->ai_list; ai; ai = ai->ai_next) {
        int fd = socket (ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                         ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind (fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen (fd, 16) == 0) {
            q->lfd = fd;
            struct sockaddr_storage ss;
            socklen_t len = sizeof ss;
            if (getsockname (fd, (struct sockaddr *) &ss, &len) == 0) {
                unsigned port = ss.ss_family == AF_INET6
                                    ? ntohs (((struct sockaddr_in6 *) &ss)->sin6_port)
                                    : ntohs (((struct sockaddr_in *) &ss)->sin_port);
                colo_debug ("port %s: listening on port %u", q->port->uri, port);
            }
            return 0;
        }
        err = errno;
        close (fd);
    }
    colo_error ("port %s: cannot listen: %s", q->port->uri, strerror (err));
    return -1;
}

static int
s_open (colo_port_t *self, colo_uri_t *uri, int tcp)
{
    s_qemu_t *q = (s_qemu_t *) calloc (1, sizeof (s_qemu_t));
    if (!q) {
        colo_error ("port %s: out of memory", self->uri);
        return -1;
    }
    self->impl = q;
    q->port = self;
    q->tcp = tcp;
    q->epfd = q->lfd = q->cfd = q->tfd = q->efd = -1;
    q->server = colo_uri_flag (uri, "server");
    q->vnet = colo_uri_flag (uri, "vnet");
    q->rl_bad = (colo_ratelimit_t) COLO_RATELIMIT_INIT (10000, 5);
    q->rl_conn = (colo_ratelimit_t) COLO_RATELIMIT_INIT (60000, 3);
    q->backoff_ms =
        S_BACKOFF_MIN_MS < self->backoff_max_ms ? S_BACKOFF_MIN_MS : self->backoff_max_ms;
    q->epfd = epoll_create1 (EPOLL_CLOEXEC);
    q->efd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    q->dec = colo_framing_new (q->vnet);
    q->slab = colo_buf_slab_new (S_READ_SIZE);
    q->rbuf = q->slab ? colo_buf_slab_data (q->slab) : NULL;
    self->fd = q->epfd;
    if (q->epfd < 0 || q->efd < 0 || !q->dec || !q->rbuf) {
        colo_error ("port %s: cannot set up: %s", self->uri, strerror (errno));
        goto fail;
    }
    if (s_watch (q, EPOLL_CTL_ADD, q->efd, EPOLLIN, S_TAG_STASH) != 0)
        goto fail;
    if (tcp ? s_tcp_resolve (q, uri->address) != 0
            : s_unix_address (q, uri->address) != 0)
        goto fail;
    if (q->server) {
        if ((tcp ? s_tcp_listen (q) : s_unix_listen (q)) != 0
            || s_watch (q, EPOLL_CTL_ADD, q->lfd, EPOLLIN, S_TAG_LISTEN) != 0)
            goto fail;
    }
    else {
        q->tfd = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (q->tfd < 0) {
            colo_error ("port %s: timerfd_create: %s", self->uri, strerror (errno));
            goto fail;
        }
        if (s_watch (q, EPOLL_CTL_ADD, q->tfd, EPOLLIN, S_TAG_TIMER) != 0)
            goto fail;
        s_connect_start (q);   //  a server that is not there yet is fine
    }
    return 0;
fail:
    s_close (self);
    return -1;
}

static int
s_open_unix (colo_port_t *self, colo_uri_t *uri)
{
    return s_open (self, uri, 0);
}

static int
s_open_tcp (colo_port_t *self, colo_uri_t *uri)
{
    return s_open (self, uri, 1);
}

const colo_port_ops_t colo_port_qemu_unix_ops = {
    "qemu+unix", s_open_unix, s_close, s_send, s_recv, s_pending, s_is_connected, s_recv_views,
    s_input_pending,
};
const colo_port_ops_t colo_port_qemu_tcp_ops = {
    "qemu+tcp", s_open_tcp, s_close, s_send, s_recv, s_pending, s_is_connected, s_recv_views,
    s_input_pending,
};
