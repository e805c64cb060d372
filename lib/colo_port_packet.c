/*  colo_port_packet.c - packet:IFNAME, frames on a tap/veth/vif through AF_PACKET.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  One raw socket bound to the interface, in promiscuous mode, that ignores
 *  frames leaving the interface (ours and anyone else's): what we receive is
 *  what the attached guest or peer sent.  The kernel strips VLAN tags into
 *  auxiliary data; we put them back so a tagged frame is received as it was
 *  sent.  Frames go out in bursts with sendmmsg; a virtio-net header in
 *  front of a frame is not sent (the interface has no use for it).
 *
 *  The pollable fd is an epoll set holding the socket: readable for input,
 *  and for output room when a send was refused (EAGAIN/ENOBUFS).
 *
 *  The kernel drops frames for a packet socket whose receive buffer is
 *  full, before we see them: one guest's frame lost on one side only looks
 *  like a divergence.  So the buffer is sized past net.core.rmem_max when
 *  allowed (SO_RCVBUFFORCE, CAP_NET_ADMIN, which promiscuous mode needs
 *  anyway), a smaller one is logged at open, and every drop the kernel
 *  reports (SO_RXQ_OVFL: the socket's drop count rides on each received
 *  frame) is counted (rx_dropped) and logged.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "colo_log.h"
#include "colo_port_int.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif
#ifndef SO_RXQ_OVFL
#define SO_RXQ_OVFL 40
#endif

#define S_BURST 32
#define S_SOCKBUF (4 << 20)   //  bytes asked for each way
//  Room for a frame plus a re-inserted VLAN tag.
#define S_SLOT (COLO_FRAME_MAX + 4)

typedef struct {
    int sock;
    int ifindex;
    char ifname[IF_NAMESIZE];
    int want_out;                     //  EPOLLOUT registered
    uint8_t *slots;                   //  S_BURST receive slots of S_SLOT bytes
    struct mmsghdr msgs[S_BURST];
    struct iovec iovs[S_BURST];
    struct sockaddr_ll addrs[S_BURST];
    union {
        char buf[CMSG_SPACE (sizeof (struct tpacket_auxdata)) + CMSG_SPACE (sizeof (uint32_t))];
        struct cmsghdr align;
    } ctl[S_BURST];
    colo_ratelimit_t rl;
    colo_ratelimit_t rl_drops;
    uint32_t drops_seen;              //  the kernel's drop count at the last frame
    uint64_t drops;                   //  frames the kernel dropped, in total
} s_packet_t;

//  Size one of the socket's buffers: past the sysctl limit when allowed,
//  else up to it; say so when the kernel gave less than asked.
static void
s_size_buffer (colo_port_t *self, s_packet_t *pk, int force_opt, int opt, const char *what,
               const char *sysctl)
{
    int want = S_SOCKBUF;
    if (setsockopt (pk->sock, SOL_SOCKET, force_opt, &want, sizeof want) != 0)
        setsockopt (pk->sock, SOL_SOCKET, opt, &want, sizeof want);
    int got = 0;
    socklen_t len = sizeof got;
    //  The kernel reports twice what it accounts against (its overhead).
    if (getsockopt (pk->sock, SOL_SOCKET, opt, &got, &len) == 0 && got < want)
        colo_warn ("port %s: %s buffer %d bytes, not %d (%s, and no CAP_NET_ADMIN to "
                   "exceed it): frames may be dropped under load",
                   self->uri, what, got / 2, want, sysctl);
}

//  The kernel's drop count rides on a received frame: count what is new.
static void
s_note_drops (colo_port_t *self, s_packet_t *pk, uint32_t count)
{
    uint32_t fresh = count - pk->drops_seen;   //  wraps like the kernel's counter
    pk->drops_seen = count;
    if (fresh == 0)
        return;
    pk->drops += fresh;
    self->counters[COLO_PORT_RX_DROPPED] += fresh;
    colo_log_limited (&pk->rl_drops, COLO_LOG_WARN,
                      "port %s: the kernel dropped %u frames before we read them (receive "
                      "buffer full; %llu in all)",
                      self->uri, fresh, (unsigned long long) pk->drops);
}

static void
s_set_out_interest (colo_port_t *self, s_packet_t *pk, int want)
{
    if (pk->want_out == want)
        return;
    struct epoll_event ev;
    memset (&ev, 0, sizeof ev);
    ev.events = EPOLLIN | (want ? EPOLLOUT : 0);
    if (epoll_ctl (self->fd, EPOLL_CTL_MOD, pk->sock, &ev) == 0)
        pk->want_out = want;
}

static void
s_close (colo_port_t *self)
{
    s_packet_t *pk = (s_packet_t *) self->impl;
    if (pk) {
        if (pk->sock >= 0)
            close (pk->sock);
        free (pk->slots);
        free (pk);
        self->impl = NULL;
    }
    if (self->fd >= 0)
        close (self->fd);
    self->fd = -1;
}

static int
s_open (colo_port_t *self, colo_uri_t *uri)
{
    int promisc = !colo_uri_flag (uri, "nopromisc");
    if (strlen (uri->address) >= IF_NAMESIZE) {
        colo_error ("port %s: interface name too long", self->uri);
        return -1;
    }
    s_packet_t *pk = (s_packet_t *) calloc (1, sizeof (s_packet_t));
    if (!pk)
        return -1;
    self->impl = pk;
    pk->sock = -1;
    pk->rl = (colo_ratelimit_t) COLO_RATELIMIT_INIT (10000, 5);
    pk->rl_drops = (colo_ratelimit_t) COLO_RATELIMIT_INIT (10000, 5);
    strcpy (pk->ifname, uri->address);
    pk->ifindex = (int) if_nametoindex (pk->ifname);
    if (pk->ifindex == 0) {
        colo_error ("port %s: no interface '%s'", self->uri, pk->ifname);
        s_close (self);
        return -1;
    }
    pk->slots = (uint8_t *) malloc ((size_t) S_BURST * S_SLOT);
    //  A send-only port binds to no protocol, so the kernel queues nothing
    //  for it (another port on the same interface may be the receiver).
    uint16_t proto = (self->dir & COLO_PORT_RX) ? htons (ETH_P_ALL) : 0;
    pk->sock = socket (AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    self->fd = epoll_create1 (EPOLL_CLOEXEC);
    if (!pk->slots || pk->sock < 0 || self->fd < 0) {
        colo_error ("port %s: cannot open a packet socket: %s (needs CAP_NET_RAW)",
                    self->uri, strerror (errno));
        s_close (self);
        return -1;
    }
    struct sockaddr_ll sll;
    memset (&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = proto;
    sll.sll_ifindex = pk->ifindex;
    int one = 1;
    if (bind (pk->sock, (struct sockaddr *) &sll, sizeof sll) != 0
        || setsockopt (pk->sock, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) != 0) {
        colo_error ("port %s: bind to %s failed: %s", self->uri, pk->ifname,
                    strerror (errno));
        s_close (self);
        return -1;
    }
    //  Older kernels lack it; the receive path checks sll_pkttype as well.
    setsockopt (pk->sock, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
    if (promisc && (self->dir & COLO_PORT_RX)) {
        struct packet_mreq mr;
        memset (&mr, 0, sizeof mr);
        mr.mr_ifindex = pk->ifindex;
        mr.mr_type = PACKET_MR_PROMISC;
        if (setsockopt (pk->sock, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr)
            != 0)
            colo_warn ("port %s: promiscuous mode refused: %s", self->uri,
                       strerror (errno));
    }
    if (self->dir & COLO_PORT_RX) {
        s_size_buffer (self, pk, SO_RCVBUFFORCE, SO_RCVBUF, "receive", "net.core.rmem_max");
        setsockopt (pk->sock, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
    }
    if (self->dir & COLO_PORT_TX)
        s_size_buffer (self, pk, SO_SNDBUFFORCE, SO_SNDBUF, "send", "net.core.wmem_max");
    struct epoll_event ev;
    memset (&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    if (epoll_ctl (self->fd, EPOLL_CTL_ADD, pk->sock, &ev) != 0) {
        s_close (self);
        return -1;
    }
    for (int i = 0; i < S_BURST; i++) {
        pk->iovs[i].iov_base = pk->slots + (size_t) i * S_SLOT + 4;
        pk->iovs[i].iov_len = COLO_FRAME_MAX;
    }
    return 0;
}

static int
s_send (colo_port_t *self, colo_buf_t **bufs, int n)
{
    s_packet_t *pk = (s_packet_t *) self->impl;
    int done = 0;
    while (done < n) {
        struct mmsghdr msgs[S_BURST];
        struct iovec iovs[S_BURST];
        int batch = n - done < S_BURST ? n - done : S_BURST;
        memset (msgs, 0, sizeof (struct mmsghdr) * (size_t) batch);
        for (int i = 0; i < batch; i++) {
            colo_buf_t *buf = bufs[done + i];
            iovs[i].iov_base = colo_buf_frame (buf);
            iovs[i].iov_len = colo_buf_frame_len (buf);
            msgs[i].msg_hdr.msg_iov = &iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int sent = sendmmsg (pk->sock, msgs, (unsigned) batch, MSG_DONTWAIT);
        if (sent < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS
                || errno == EINTR) {
                s_set_out_interest (self, pk, 1);
                break;
            }
            //  This frame cannot go (too big for the MTU, link gone):
            //  counted and logged, then consumed so the stream moves on.
            colo_buf_t *bad = bufs[done];
            self->counters[COLO_PORT_ERRORS]++;
            colo_log_limited (&pk->rl, COLO_LOG_WARN,
                              "port %s: frame of %zu bytes not sent: %s", self->uri,
                              colo_buf_frame_len (bad), strerror (errno));
            colo_buf_destroy (&bufs[done]);
            done++;
            continue;
        }
        for (int i = 0; i < sent; i++) {
            self->counters[COLO_PORT_TX_FRAMES]++;
            self->counters[COLO_PORT_TX_BYTES] += colo_buf_frame_len (bufs[done + i]);
            colo_buf_destroy (&bufs[done + i]);
        }
        done += sent;
        if (sent < batch) {
            s_set_out_interest (self, pk, 1);
            break;
        }
    }
    if (done == n)
        s_set_out_interest (self, pk, 0);
    return done;
}

static int
s_recv (colo_port_t *self, colo_buf_t **bufs, int max)
{
    s_packet_t *pk = (s_packet_t *) self->impl;
    if (pk->want_out)
        s_set_out_interest (self, pk, 0);   //  the caller retries its send now
    int got = 0;
    while (got < max) {
        int batch = max - got < S_BURST ? max - got : S_BURST;
        for (int i = 0; i < batch; i++) {
            struct msghdr *mh = &pk->msgs[i].msg_hdr;
            memset (mh, 0, sizeof *mh);
            mh->msg_name = &pk->addrs[i];
            mh->msg_namelen = sizeof pk->addrs[i];
            mh->msg_iov = &pk->iovs[i];
            mh->msg_iovlen = 1;
            mh->msg_control = pk->ctl[i].buf;
            mh->msg_controllen = sizeof pk->ctl[i].buf;
        }
        int rc = recvmmsg (pk->sock, pk->msgs, (unsigned) batch, MSG_DONTWAIT, NULL);
        if (rc <= 0) {
            if (rc < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                self->counters[COLO_PORT_ERRORS]++;
                colo_log_limited (&pk->rl, COLO_LOG_WARN, "port %s: receive failed: %s",
                                  self->uri, strerror (errno));
            }
            break;
        }
        uint64_t now = colo_clock_real_ns ();
        for (int i = 0; i < rc; i++) {
            struct msghdr *mh = &pk->msgs[i].msg_hdr;
            for (struct cmsghdr *c = CMSG_FIRSTHDR (mh); c; c = CMSG_NXTHDR (mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL
                    && c->cmsg_len >= CMSG_LEN (sizeof (uint32_t))) {
                    uint32_t count;
                    memcpy (&count, CMSG_DATA (c), sizeof count);
                    s_note_drops (self, pk, count);
                }
            if (pk->addrs[i].sll_pkttype == PACKET_OUTGOING)
                continue;
            uint8_t *frame = (uint8_t *) pk->iovs[i].iov_base;
            size_t len = pk->msgs[i].msg_len;
            if (mh->msg_flags & MSG_TRUNC) {
                self->counters[COLO_PORT_RX_MALFORMED]++;
                colo_log_limited (&pk->rl, COLO_LOG_WARN,
                                  "port %s: frame larger than %d bytes dropped",
                                  self->uri, COLO_FRAME_MAX);
                continue;
            }
            //  Put back a VLAN tag the kernel moved into auxdata.
            for (struct cmsghdr *c = CMSG_FIRSTHDR (mh); c; c = CMSG_NXTHDR (mh, c)) {
                if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA
                    || c->cmsg_len < CMSG_LEN (sizeof (struct tpacket_auxdata)))
                    continue;
                struct tpacket_auxdata aux;
                memcpy (&aux, CMSG_DATA (c), sizeof aux);
                if ((aux.tp_status & TP_STATUS_VLAN_VALID) && len >= 12
                    && len + 4 <= COLO_FRAME_MAX) {
                    uint16_t tpid = (aux.tp_status & TP_STATUS_VLAN_TPID_VALID)
                                        ? aux.tp_vlan_tpid
                                        : ETH_P_8021Q;
                    memmove (frame - 4, frame, 12);
                    frame -= 4;
                    frame[12] = (uint8_t) (tpid >> 8);
                    frame[13] = (uint8_t) tpid;
                    frame[14] = (uint8_t) (aux.tp_vlan_tci >> 8);
                    frame[15] = (uint8_t) aux.tp_vlan_tci;
                    len += 4;
                }
            }
            colo_buf_t *buf = colo_buf_new_copy (frame, len);
            if (!buf) {
                self->counters[COLO_PORT_ERRORS]++;
                continue;
            }
            buf->ts_ns = now;
            bufs[got++] = buf;
            self->counters[COLO_PORT_RX_FRAMES]++;
            self->counters[COLO_PORT_RX_BYTES] += len;
        }
        if (rc < batch)
            break;
    }
    return got;
}

static int
s_pending (colo_port_t *self)
{
    (void) self;
    return 0;
}

static int
s_connected (colo_port_t *self)
{
    s_packet_t *pk = (s_packet_t *) self->impl;
    struct ifreq ifr;
    memset (&ifr, 0, sizeof ifr);
    strcpy (ifr.ifr_name, pk->ifname);
    if (ioctl (pk->sock, SIOCGIFFLAGS, &ifr) != 0)
        return 0;
    return (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING);
}

const colo_port_ops_t colo_port_packet_ops = {
    "packet", s_open, s_close, s_send, s_recv, s_pending, s_connected, NULL, NULL,
};
