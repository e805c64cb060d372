/*  check_colo_port_qemu.c - tests for the qemu+unix and qemu+tcp ports.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Ports are exercised against each other and against raw sockets written
 *  by hand (a QEMU-style writer, a peer that dies mid-frame, a peer that
 *  sends garbage).  Everything waits on conditions with deadlines.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "colo_buf.h"
#include "colo_framing.h"
#include "colo_log.h"
#include "colo_port.h"
#include "colo_test.h"

#define S_DEADLINE_MS 10000
#define S_FRAMES 64

//  ---------------------------------------------------------------- helpers

typedef struct {
    char path[108];         //  unix socket path (unix variants)
    int tcp_port;           //  tcp variants
    char server[200];
    char client[200];
} s_addr_t;

//  A free TCP port on 127.0.0.1 (bound and released).
static int
s_free_tcp_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge (fd, 0);
    struct sockaddr_in sin;
    memset (&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    ck_assert_int_eq (bind (fd, (struct sockaddr *) &sin, sizeof sin), 0);
    socklen_t len = sizeof sin;
    ck_assert_int_eq (getsockname (fd, (struct sockaddr *) &sin, &len), 0);
    close (fd);
    return ntohs (sin.sin_port);
}

//  URIs for a server and a client on a fresh address; opts are appended
//  to both (e.g. ",vnet").
static void
s_make_addr (s_addr_t *addr, int tcp, const char *opts)
{
    char name[64];
    colo_test_name (name, sizeof name);
    memset (addr, 0, sizeof *addr);
    if (tcp) {
        addr->tcp_port = s_free_tcp_port ();
        snprintf (addr->server, sizeof addr->server, "qemu+tcp:127.0.0.1:%d,server%s",
                  addr->tcp_port, opts);
        snprintf (addr->client, sizeof addr->client, "qemu+tcp:127.0.0.1:%d%s",
                  addr->tcp_port, opts);
    }
    else {
        snprintf (addr->path, sizeof addr->path, "/tmp/%s.sock", name);
        snprintf (addr->server, sizeof addr->server, "qemu+unix:%s,server%s",
                  addr->path, opts);
        snprintf (addr->client, sizeof addr->client, "qemu+unix:%s%s", addr->path,
                  opts);
    }
}

typedef struct {
    colo_port_t **ports;
    int n;
    int want;               //  1: all connected, 0: all disconnected
} s_conn_cond_t;

static int
s_cond_connected (void *arg)
{
    s_conn_cond_t *c = (s_conn_cond_t *) arg;
    for (int i = 0; i < c->n; i++)
        if (colo_port_connected (c->ports[i]) != c->want)
            return 0;
    return 1;
}

//  Wait until every port in ports[] is (want=1) or is not (want=0) connected.
static int
s_wait_connected (colo_port_t **ports, int n, int want)
{
    s_conn_cond_t cond = {ports, n, want};
    return colo_test_wait (s_cond_connected, &cond, ports, n, S_DEADLINE_MS);
}

//  Frame sizes for bulk tests: the edges first, then a spread up to the max.
static uint32_t
s_size (int i)
{
    static const uint32_t edges[] = {1, COLO_FRAME_MAX, 14, 60, 1514, 65536, 69632, 2};
    if (i < (int) (sizeof edges / sizeof edges[0]))
        return edges[i];
    return (uint32_t) ((unsigned) i * 7919u * 13u) % COLO_FRAME_MAX + 1;
}

static uint16_t
s_vnet_len (uint32_t len, int i)
{
    uint32_t want = i % 3 == 0 ? 0 : i % 3 == 1 ? 12 : 20;
    return (uint16_t) (want < len ? want : len);
}

//  Frame i of a test stream (content from colo_test_frame with seed i).
static colo_buf_t *
s_frame (int i, int vnet)
{
    colo_buf_t *buf = colo_test_frame (s_size (i), (uint32_t) i);
    ck_assert_ptr_nonnull (buf);
    if (vnet)
        buf->vnet_hdr_len = s_vnet_len (buf->len, i);
    return buf;
}

//  buf is exactly frame i as sent (vnet_hdr_len only travels with vnet).
static void
s_check_frame (colo_buf_t *buf, int i, int vnet)
{
    ck_assert_ptr_nonnull (buf);
    colo_buf_t *want = colo_test_frame (s_size (i), (uint32_t) i);
    ck_assert_uint_eq (buf->len, want->len);
    ck_assert_int_eq (memcmp (buf->data, want->data, want->len), 0);
    ck_assert_uint_eq (buf->vnet_hdr_len, vnet ? s_vnet_len (want->len, i) : 0);
    ck_assert_uint_eq (buf->dir, COLO_DIR_NONE);
    ck_assert_uint_ne (buf->ts_ns, 0);
    colo_buf_destroy (&want);
}

//  Send frames first..first+n through from, receive them on to, check them.
static void
s_transfer (colo_port_t *from, colo_port_t *to, int first, int n, int vnet)
{
    colo_buf_t **bufs = (colo_buf_t **) calloc ((size_t) n, sizeof (colo_buf_t *));
    colo_buf_t **got = (colo_buf_t **) calloc ((size_t) n, sizeof (colo_buf_t *));
    for (int i = 0; i < n; i++)
        bufs[i] = s_frame (first + i, vnet);
    ck_assert_int_eq (colo_test_send_all (from, bufs, n, &to, 1, S_DEADLINE_MS), n);
    for (int i = 0; i < n; i++)
        ck_assert_ptr_null (bufs[i]);
    ck_assert_int_eq (colo_test_recv_frames (to, got, n, &from, 1, S_DEADLINE_MS), n);
    for (int i = 0; i < n; i++)
        s_check_frame (got[i], first + i, vnet);
    colo_buf_destroy_array (got, n);
    free (bufs);
    free (got);
}

//  A server port and a client port, each asserted made, connected to each
//  other (asserted, within the deadline).
static void
s_pair (const char *server_uri, colo_port_dir_t server_dir, const char *client_uri,
        colo_port_dir_t client_dir, colo_port_t **server, colo_port_t **client)
{
    *server = colo_port_new (server_uri, server_dir);
    *client = colo_port_new (client_uri, client_dir);
    ck_assert_ptr_nonnull (*server);
    ck_assert_ptr_nonnull (*client);
    colo_port_t *both[2] = {*server, *client};
    ck_assert (s_wait_connected (both, 2, 1));
}

//  A plain blocking unix stream socket connected to path.
static int
s_raw_connect (const char *path)
{
    int fd = socket (AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge (fd, 0);
    struct sockaddr_un sun;
    memset (&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    snprintf (sun.sun_path, sizeof sun.sun_path, "%s", path);
    ck_assert_int_eq (connect (fd, (struct sockaddr *) &sun, sizeof sun), 0);
    return fd;
}

//  A qemu+unix server port (RX, vnet or not) on a fresh address, with a
//  raw client socket connected to it (*raw).
static colo_port_t *
s_raw_server (int vnet, s_addr_t *addr, int *raw)
{
    s_make_addr (addr, 0, vnet ? ",vnet" : "");
    colo_port_t *server = colo_port_new (addr->server, COLO_PORT_RX);
    ck_assert_ptr_nonnull (server);
    *raw = s_raw_connect (addr->path);
    ck_assert (s_wait_connected (&server, 1, 1));
    return server;
}

static void
s_raw_write (int fd, const void *data, size_t len)
{
    const uint8_t *p = (const uint8_t *) data;
    while (len > 0) {
        ssize_t n = write (fd, p, len);
        ck_assert_int_gt (n, 0);
        p += n;
        len -= (size_t) n;
    }
}

//  Write frame i whole, in QEMU's layout.
static void
s_raw_write_frame (int fd, int i, int vnet)
{
    colo_buf_t *buf = s_frame (i, vnet);
    uint8_t hdr[COLO_FRAMING_HDR_MAX];
    size_t hl = colo_framing_encode_header (hdr, buf->len, vnet, buf->vnet_hdr_len);
    s_raw_write (fd, hdr, hl);
    s_raw_write (fd, buf->data, buf->len);
    colo_buf_destroy (&buf);
}

typedef struct {
    colo_port_t *port;
    colo_buf_t *got[S_FRAMES];
    int count;
    colo_port_counter_t counter;   //  wait for this counter ...
    uint64_t value;                //  ... to reach this value
} s_recv_cond_t;

//  Receive whatever arrives (max > 0) and check a counter.
static int
s_cond_counter (void *arg)
{
    s_recv_cond_t *c = (s_recv_cond_t *) arg;
    if (c->count < S_FRAMES) {
        int n = colo_port_recv (c->port, c->got + c->count, S_FRAMES - c->count);
        ck_assert_int_ge (n, 0);
        c->count += n;
    }
    return colo_port_counters (c->port)[c->counter] >= c->value;
}

//  ---------------------------------------------------------------- tests

//  _i: bit 0 = tcp, bit 1 = vnet.
START_TEST (test_round_trip)
{
    int tcp = _i & 1, vnet = (_i >> 1) & 1;
    s_addr_t addr;
    s_make_addr (&addr, tcp, vnet ? ",vnet" : "");
    colo_port_t *server, *client;
    s_pair (addr.server, COLO_PORT_RXTX, addr.client, COLO_PORT_RXTX, &server, &client);
    ck_assert_str_eq (colo_port_uri (client), addr.client);

    s_transfer (client, server, 0, S_FRAMES, vnet);
    s_transfer (server, client, 1000, S_FRAMES, vnet);
    s_transfer (client, server, 2000, 3, vnet);

    const uint64_t *cc = colo_port_counters (client);
    const uint64_t *sc = colo_port_counters (server);
    ck_assert_uint_eq (cc[COLO_PORT_TX_FRAMES], S_FRAMES + 3);
    ck_assert_uint_eq (sc[COLO_PORT_RX_FRAMES], S_FRAMES + 3);
    ck_assert_uint_eq (sc[COLO_PORT_TX_FRAMES], S_FRAMES);
    ck_assert_uint_eq (cc[COLO_PORT_RX_FRAMES], S_FRAMES);
    ck_assert_uint_eq (cc[COLO_PORT_TX_BYTES], sc[COLO_PORT_RX_BYTES]);
    ck_assert_uint_eq (sc[COLO_PORT_TX_BYTES], cc[COLO_PORT_RX_BYTES]);
    ck_assert_uint_eq (cc[COLO_PORT_CONNECTS], 1);
    ck_assert_uint_eq (sc[COLO_PORT_CONNECTS], 1);
    ck_assert_uint_eq (sc[COLO_PORT_RX_MALFORMED], 0);
    ck_assert_uint_eq (sc[COLO_PORT_RX_TRUNCATED], 0);
    ck_assert_int_eq (colo_port_pending (client), 0);
    ck_assert_int_eq (colo_port_pending (server), 0);

    //  The fd is stable, and the server notices the client leaving.
    int fd = colo_port_fd (server);
    colo_port_destroy (&client);
    ck_assert_ptr_null (client);
    ck_assert (s_wait_connected (&server, 1, 0));
    ck_assert_int_eq (colo_port_fd (server), fd);
    ck_assert_uint_eq (sc[COLO_PORT_DISCONNECTS], 1);
    colo_port_destroy (&server);
    if (!tcp)
        ck_assert_int_ne (access (addr.path, F_OK), 0);   //  socket file removed
}
END_TEST

//  The client comes first, queues frames, and delivers them once the
//  server appears.  _i = tcp.
START_TEST (test_client_first)
{
    s_addr_t addr;
    s_make_addr (&addr, _i, ",backoff-max=100");
    colo_port_t *client = colo_port_new (addr.client, COLO_PORT_TX);
    ck_assert_ptr_nonnull (client);
    ck_assert_int_eq (colo_port_connected (client), 0);
    colo_buf_t *bufs[3];
    for (int i = 0; i < 3; i++)
        bufs[i] = s_frame (i, 0);
    ck_assert_int_eq (colo_port_send (client, bufs, 3), 3);
    ck_assert_int_eq (colo_port_pending (client), 3);
    colo_port_recv (client, NULL, 0);
    ck_assert_int_eq (colo_port_connected (client), 0);
    //  Not an RX port.
    colo_buf_t *dummy[1];
    ck_assert_int_eq (colo_port_recv (client, dummy, 1), -1);

    //  The server option string carries backoff-max too; it is harmless.
    colo_port_t *server = colo_port_new (addr.server, COLO_PORT_RX);
    ck_assert_ptr_nonnull (server);
    colo_port_t *both[2] = {server, client};
    ck_assert (s_wait_connected (both, 2, 1));
    colo_buf_t *got[3] = {NULL, NULL, NULL};
    ck_assert_int_eq (colo_test_recv_frames (server, got, 3, &client, 1, S_DEADLINE_MS),
                      3);
    for (int i = 0; i < 3; i++)
        s_check_frame (got[i], i, 0);
    colo_buf_destroy_array (got, 3);
    ck_assert_int_eq (colo_port_pending (client), 0);
    //  Not a TX port.
    ck_assert_int_eq (colo_port_send (server, bufs, 1), -1);
    colo_port_destroy (&client);
    colo_port_destroy (&server);
}
END_TEST

//  Frames a server sends before any client exists wait for the client.
START_TEST (test_server_queues)
{
    s_addr_t addr;
    s_make_addr (&addr, 0, "");
    colo_port_t *server = colo_port_new (addr.server, COLO_PORT_TX);
    ck_assert_ptr_nonnull (server);
    colo_buf_t *bufs[4];
    for (int i = 0; i < 4; i++)
        bufs[i] = s_frame (10 + i, 0);
    ck_assert_int_eq (colo_port_send (server, bufs, 4), 4);
    colo_port_recv (server, NULL, 0);
    ck_assert_int_eq (colo_port_pending (server), 4);
    colo_port_t *client = colo_port_new (addr.client, COLO_PORT_RX);
    ck_assert_ptr_nonnull (client);
    colo_buf_t *got[4] = {NULL};
    ck_assert_int_eq (colo_test_recv_frames (client, got, 4, &server, 1, S_DEADLINE_MS),
                      4);
    for (int i = 0; i < 4; i++)
        s_check_frame (got[i], 10 + i, 0);
    colo_buf_destroy_array (got, 4);
    ck_assert_int_eq (colo_port_pending (server), 0);
    ck_assert_uint_eq (colo_port_counters (server)[COLO_PORT_TX_FRAMES], 4);
    colo_port_destroy (&client);
    colo_port_destroy (&server);
}
END_TEST

//  The server goes away and comes back; the client reconnects.  _i = tcp.
START_TEST (test_server_restart)
{
    s_addr_t addr;
    s_make_addr (&addr, _i, ",backoff-max=200");
    colo_port_t *server, *client;
    s_pair (addr.server, COLO_PORT_RXTX, addr.client, COLO_PORT_RXTX, &server, &client);
    colo_port_t *both[2] = {server, client};
    s_transfer (client, server, 0, 2, 0);
    int fd = colo_port_fd (client);

    colo_port_destroy (&server);
    ck_assert (s_wait_connected (&client, 1, 0));
    //  Frames sent meanwhile wait in the client.
    colo_buf_t *bufs[2] = {s_frame (5, 0), s_frame (6, 0)};
    ck_assert_int_eq (colo_port_send (client, bufs, 2), 2);

    server = colo_port_new (addr.server, COLO_PORT_RXTX);
    ck_assert_ptr_nonnull (server);
    both[0] = server;
    ck_assert (s_wait_connected (both, 2, 1));
    colo_buf_t *got[2] = {NULL, NULL};
    ck_assert_int_eq (colo_test_recv_frames (server, got, 2, &client, 1, S_DEADLINE_MS),
                      2);
    s_check_frame (got[0], 5, 0);
    s_check_frame (got[1], 6, 0);
    colo_buf_destroy_array (got, 2);
    s_transfer (server, client, 7, 2, 0);

    const uint64_t *cc = colo_port_counters (client);
    ck_assert_uint_eq (cc[COLO_PORT_CONNECTS], 2);
    ck_assert_uint_eq (cc[COLO_PORT_DISCONNECTS], 1);
    ck_assert_int_eq (colo_port_fd (client), fd);
    colo_port_destroy (&client);
    colo_port_destroy (&server);
}
END_TEST

//  A raw peer dies in the middle of a frame: the half frame is dropped and
//  the next connection's frames are exact.
START_TEST (test_peer_dies_mid_frame)
{
    s_addr_t addr;
    int raw;
    colo_port_t *server = s_raw_server (0, &addr, &raw);
    s_raw_write_frame (raw, 1, 0);
    //  Header of a 100-byte frame and 10 bytes of it, then death.
    static const uint8_t half[] = {0, 0, 0, 100, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    s_raw_write (raw, half, sizeof half);
    close (raw);

    colo_buf_t *got[2] = {NULL, NULL};
    ck_assert_int_eq (colo_test_recv_frames (server, got, 1, NULL, 0, S_DEADLINE_MS), 1);
    s_check_frame (got[0], 1, 0);
    colo_buf_destroy (&got[0]);
    ck_assert (s_wait_connected (&server, 1, 0));
    const uint64_t *sc = colo_port_counters (server);
    ck_assert_uint_eq (sc[COLO_PORT_RX_TRUNCATED], 1);
    ck_assert_uint_eq (sc[COLO_PORT_DISCONNECTS], 1);

    raw = s_raw_connect (addr.path);
    s_raw_write_frame (raw, 2, 0);
    s_raw_write_frame (raw, 3, 0);
    ck_assert_int_eq (colo_test_recv_frames (server, got, 2, NULL, 0, S_DEADLINE_MS), 2);
    s_check_frame (got[0], 2, 0);
    s_check_frame (got[1], 3, 0);
    colo_buf_destroy_array (got, 2);
    ck_assert_uint_eq (sc[COLO_PORT_RX_TRUNCATED], 1);
    ck_assert_uint_eq (sc[COLO_PORT_RX_MALFORMED], 0);
    close (raw);
    colo_port_destroy (&server);
}
END_TEST

//  A second connection while the first is up replaces it: the first one's
//  complete frames are kept, its half frame dropped.
START_TEST (test_connection_replaced)
{
    s_addr_t addr;
    int raw1;
    colo_port_t *server = s_raw_server (1, &addr, &raw1);
    s_raw_write_frame (raw1, 4, 1);
    static const uint8_t half[] = {0, 0, 0, 64, 0, 0, 0, 12, 0xaa, 0xbb};
    s_raw_write (raw1, half, sizeof half);

    int raw2 = s_raw_connect (addr.path);
    s_raw_write_frame (raw2, 5, 1);
    colo_buf_t *got[2] = {NULL, NULL};
    ck_assert_int_eq (colo_test_recv_frames (server, got, 2, NULL, 0, S_DEADLINE_MS), 2);
    s_check_frame (got[0], 4, 1);
    s_check_frame (got[1], 5, 1);
    colo_buf_destroy_array (got, 2);
    const uint64_t *sc = colo_port_counters (server);
    ck_assert_uint_eq (sc[COLO_PORT_CONNECTS], 2);
    ck_assert_uint_eq (sc[COLO_PORT_DISCONNECTS], 1);
    ck_assert_uint_eq (sc[COLO_PORT_RX_TRUNCATED], 1);
    //  The replaced peer sees its connection closed.
    char byte;
    ck_assert_int_eq (read (raw1, &byte, 1), 0);
    close (raw1);
    close (raw2);
    colo_port_destroy (&server);
}
END_TEST

//  An impossible header closes the connection; the next one works.
//  _i: 0 = oversize length, 1 = vnet_hdr_len too big, 2 = vnet_hdr_len > length.
START_TEST (test_malformed)
{
    int vnet = _i > 0;
    s_addr_t addr;
    int raw;
    colo_port_t *server = s_raw_server (vnet, &addr, &raw);
    s_raw_write_frame (raw, 6, vnet);
    uint8_t bad[COLO_FRAMING_HDR_MAX + 4];
    size_t hl = _i == 0   ? colo_framing_encode_header (bad, COLO_FRAME_MAX + 1, 0, 0)
                : _i == 1 ? colo_framing_encode_header (bad, 100, 1, 21)
                          : colo_framing_encode_header (bad, 10, 1, 11);
    memset (bad + hl, 0x77, 4);
    s_raw_write (raw, bad, hl + 4);
    s_raw_write_frame (raw, 7, vnet);   //  never read: after the fault

    s_recv_cond_t cond;
    memset (&cond, 0, sizeof cond);
    cond.port = server;
    cond.counter = COLO_PORT_RX_MALFORMED;
    cond.value = 1;
    ck_assert (colo_test_wait (s_cond_counter, &cond, &server, 1, S_DEADLINE_MS));
    ck_assert_int_eq (cond.count, 1);
    s_check_frame (cond.got[0], 6, vnet);
    colo_buf_destroy (&cond.got[0]);
    ck_assert_int_eq (colo_port_connected (server), 0);
    //  The peer sees the connection closed (unread data: reset or EOF).
    char byte;
    ck_assert_int_le (read (raw, &byte, 1), 0);
    close (raw);

    raw = s_raw_connect (addr.path);
    s_raw_write_frame (raw, 8, vnet);
    colo_buf_t *got = NULL;
    ck_assert_int_eq (colo_test_recv_frames (server, &got, 1, NULL, 0, S_DEADLINE_MS), 1);
    s_check_frame (got, 8, vnet);
    colo_buf_destroy (&got);
    const uint64_t *sc = colo_port_counters (server);
    ck_assert_uint_eq (sc[COLO_PORT_RX_MALFORMED], 1);
    ck_assert_uint_eq (sc[COLO_PORT_RX_FRAMES], 2);
    ck_assert_uint_eq (sc[COLO_PORT_CONNECTS], 2);
    close (raw);
    colo_port_destroy (&server);
}
END_TEST

//  A QEMU-style writer: header and data in separate writes, and a frame
//  byte by byte, each byte read by the port as it comes.  _i = vnet.
START_TEST (test_qemu_style_writer)
{
    int vnet = _i;
    s_addr_t addr;
    int raw;
    colo_port_t *server = s_raw_server (vnet, &addr, &raw);

    //  As filter-mirror does it: length, vnet_hdr_len, data: three writes.
    colo_buf_t *buf = s_frame (11, vnet);
    uint32_t be_len = htonl (buf->len), be_vnet = htonl (buf->vnet_hdr_len);
    s_raw_write (raw, &be_len, 4);
    colo_buf_t *got = NULL;
    ck_assert_int_eq (colo_port_recv (server, &got, 1), 0);
    if (vnet) {
        s_raw_write (raw, &be_vnet, 4);
        ck_assert_int_eq (colo_port_recv (server, &got, 1), 0);
    }
    s_raw_write (raw, buf->data, buf->len);
    colo_buf_destroy (&buf);
    ck_assert_int_eq (colo_test_recv_frames (server, &got, 1, NULL, 0, S_DEADLINE_MS), 1);
    s_check_frame (got, 11, vnet);
    colo_buf_destroy (&got);

    //  Byte by byte: nothing comes out until the last byte is in.
    buf = s_frame (4, vnet);   //  1514 bytes
    uint8_t wire[COLO_FRAMING_HDR_MAX + 1514];
    ck_assert_uint_eq (buf->len, 1514);
    size_t hl = colo_framing_encode_header (wire, buf->len, vnet, buf->vnet_hdr_len);
    memcpy (wire + hl, buf->data, buf->len);
    size_t total = hl + buf->len;
    colo_buf_destroy (&buf);
    for (size_t i = 0; i < total; i++) {
        s_raw_write (raw, wire + i, 1);
        int n = colo_port_recv (server, &got, 1);
        if (i + 1 < total)
            ck_assert_int_eq (n, 0);
        else if (n == 0)   //  a unix socket delivers at once; tolerate a delay
            n = colo_test_recv_frames (server, &got, 1, NULL, 0, S_DEADLINE_MS);
        if (i + 1 == total)
            ck_assert_int_eq (n, 1);
    }
    s_check_frame (got, 4, vnet);
    colo_buf_destroy (&got);
    ck_assert_uint_eq (colo_port_counters (server)[COLO_PORT_RX_FRAMES], 2);
    close (raw);
    colo_port_destroy (&server);
}
END_TEST

//  A reader that does not read: send eventually accepts fewer than offered;
//  nothing is lost once the reader drains.
START_TEST (test_backpressure)
{
    s_addr_t addr;
    s_make_addr (&addr, 0, ",queue=32");
    colo_port_t *server, *client;
    s_pair (addr.server, COLO_PORT_RX, addr.client, COLO_PORT_TX, &server, &client);

    int sent = 0, blocked = 0;
    colo_buf_t *bufs[8];
    while (!blocked && sent < 100000) {
        for (int i = 0; i < 8; i++)
            bufs[i] = colo_test_frame (65536, (uint32_t) (sent + i));
        int n = colo_port_send (client, bufs, 8);
        ck_assert_int_ge (n, 0);
        for (int i = 0; i < n; i++)
            ck_assert_ptr_null (bufs[i]);
        colo_buf_destroy_array (bufs + n, 8 - n);
        sent += n;
        blocked = n < 8;
        colo_port_recv (client, NULL, 0);
    }
    ck_assert (blocked);
    ck_assert_int_eq (colo_port_pending (client), 32);
    ck_assert_uint_ge (colo_port_counters (client)[COLO_PORT_TX_BLOCKED], 1);

    //  Drain: every accepted frame arrives, in order.
    for (int i = 0; i < sent; i++) {
        colo_buf_t *got = NULL;
        ck_assert_int_eq (colo_test_recv_frames (server, &got, 1, &client, 1,
                                                 S_DEADLINE_MS),
                          1);
        colo_buf_t *want = colo_test_frame (65536, (uint32_t) i);
        ck_assert_uint_eq (got->len, 65536);
        ck_assert_int_eq (memcmp (got->data, want->data, 65536), 0);
        colo_buf_destroy (&want);
        colo_buf_destroy (&got);
    }
    ck_assert_int_eq (colo_port_pending (client), 0);
    ck_assert_uint_eq (colo_port_counters (client)[COLO_PORT_TX_FRAMES], (uint64_t) sent);
    colo_port_destroy (&client);
    colo_port_destroy (&server);
}
END_TEST

//  Bursts with a frame that cannot be encoded (its vnet_hdr_len above its
//  length), and later a hole (NULL), in them: all taken, the bad ones counted
//  as errors and not sent, the others arrive whole and in order, whether
//  they went straight out or waited behind a full socket (the sizes reach
//  COLO_FRAME_MAX: the later bursts find the socket full).
START_TEST (test_send_skips_unencodable)
{
    s_addr_t addr;
    s_make_addr (&addr, 0, ",vnet");
    colo_port_t *server, *client;
    s_pair (addr.server, COLO_PORT_RX, addr.client, COLO_PORT_TX, &server, &client);
    enum { N = 12, ROUNDS = 3, BAD = 3, HOLE = 7 };
    for (int r = 0; r < ROUNDS; r++) {
        colo_buf_t *bufs[N];
        for (int i = 0; i < N; i++)
            bufs[i] = s_frame (r * N + i, 1);
        colo_buf_destroy (&bufs[HOLE]);
        bufs[BAD]->vnet_hdr_len = (uint16_t) (bufs[BAD]->len + 1);
        ck_assert_int_eq (colo_port_send (client, bufs, N), N);
        for (int i = 0; i < N; i++)
            ck_assert_ptr_null (bufs[i]);
    }
    ck_assert_uint_eq (colo_port_counters (client)[COLO_PORT_ERRORS], ROUNDS);
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < N; i++) {
            if (i == HOLE || i == BAD)
                continue;
            colo_buf_t *got = NULL;
            ck_assert_int_eq (
                colo_test_recv_frames (server, &got, 1, &client, 1, S_DEADLINE_MS), 1);
            s_check_frame (got, r * N + i, 1);
            colo_buf_destroy (&got);
        }
    ck_assert_uint_eq (colo_port_counters (client)[COLO_PORT_TX_FRAMES], ROUNDS * (N - 2));
    ck_assert_int_eq (colo_port_pending (client), 0);
    colo_port_destroy (&client);
    colo_port_destroy (&server);
}
END_TEST

//  colo_port_input_pending: 1 while frames read are still held (a recv
//  stopped at its max), 0 once all were handed out and the socket was
//  found empty; 1 again when a read filled its buffer (the socket may hold
//  more than one read takes).
typedef struct {
    colo_port_t *port;
    colo_buf_t **bufs;
    int max, got;
} s_recv_some_t;

static int
s_recv_some (void *arg)
{
    s_recv_some_t *r = (s_recv_some_t *) arg;
    r->got = colo_port_recv (r->port, r->bufs, r->max);
    ck_assert_int_ge (r->got, 0);
    return r->got > 0;
}

START_TEST (test_input_pending)
{
    s_addr_t addr;
    s_make_addr (&addr, 0, "");
    colo_port_t *server, *client;
    s_pair (addr.server, COLO_PORT_RX, addr.client, COLO_PORT_TX, &server, &client);
    enum { N = 10 };
    colo_buf_t *bufs[64];
    for (int i = 0; i < N; i++)
        bufs[i] = colo_test_frame (100, (uint32_t) i);
    ck_assert_int_eq (colo_port_send (client, bufs, N), N);
    //  The ten come in one read; four handed out, six held.
    s_recv_some_t r = {server, bufs, 4, 0};
    ck_assert (colo_test_wait (s_recv_some, &r, &client, 1, S_DEADLINE_MS));
    ck_assert_int_eq (r.got, 4);
    ck_assert_int_eq (colo_port_input_pending (server), 1);
    colo_buf_destroy_array (bufs, 4);
    //  The six, and the socket found empty.
    ck_assert_int_eq (colo_port_recv (server, bufs, 64), N - 4);
    ck_assert_int_eq (colo_port_input_pending (server), 0);
    colo_buf_destroy_array (bufs, N - 4);
    //  Far more than one read (128 KiB) takes: pending after the first.
    for (int i = 0; i < 4; i++)
        bufs[i] = colo_test_frame (COLO_FRAME_MAX, (uint32_t) i);
    colo_port_t *both[2] = {server, client};
    ck_assert_int_eq (colo_test_send_all (client, bufs, 4, both, 2, S_DEADLINE_MS), 4);
    r.max = 1;
    ck_assert (colo_test_wait (s_recv_some, &r, &client, 1, S_DEADLINE_MS));
    ck_assert_int_eq (colo_port_input_pending (server), 1);
    colo_buf_destroy_array (bufs, 1);
    int got = 1;
    while (got < 4) {
        r.max = 4 - got;
        ck_assert (colo_test_wait (s_recv_some, &r, &client, 1, S_DEADLINE_MS));
        colo_buf_destroy_array (bufs, r.got);
        got += r.got;
    }
    colo_port_destroy (&client);
    colo_port_destroy (&server);
}
END_TEST

//  Read what is in fd now (non-blocking) into dec; returns bytes read and
//  appends complete frames to out.
static size_t
s_raw_read_frames (int fd, colo_framing_t *dec, colo_buf_t **out, int *count, int cap)
{
    static uint8_t chunk[65536];
    size_t total = 0;
    while (1) {
        ssize_t n = recv (fd, chunk, sizeof chunk, MSG_DONTWAIT);
        if (n <= 0)
            break;
        total += (size_t) n;
        size_t pos = 0;
        while (pos < (size_t) n) {
            size_t used = 0;
            colo_buf_t *buf = NULL;
            colo_framing_result_t rc =
                colo_framing_feed (dec, chunk + pos, (size_t) n - pos, &used, &buf);
            ck_assert_int_ge (rc, 0);
            pos += used;
            if (buf) {
                ck_assert_int_lt (*count, cap);
                out[(*count)++] = buf;
            }
        }
    }
    return total;
}

//  The connection breaks with a frame half written: the next peer gets that
//  frame whole, first, and every later one.
START_TEST (test_requeue_after_break)
{
    s_addr_t addr;
    s_make_addr (&addr, 0, "");
    colo_port_t *server = colo_port_new (addr.server, COLO_PORT_TX);
    ck_assert_ptr_nonnull (server);
    int raw = s_raw_connect (addr.path);
    int small = 4096;
    setsockopt (raw, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    ck_assert (s_wait_connected (&server, 1, 1));

    //  Far more than the socket holds.
    enum { N = 48 };
    colo_buf_t *bufs[N];
    for (int i = 0; i < N; i++)
        bufs[i] = colo_test_frame (COLO_FRAME_MAX, (uint32_t) i);
    ck_assert_int_eq (colo_port_send (server, bufs, N), N);
    colo_port_recv (server, NULL, 0);
    ck_assert_int_gt (colo_port_pending (server), 0);

    //  Take exactly what the port wrote so far, then die.
    colo_framing_t *dec = colo_framing_new (0);
    colo_buf_t *got[N];
    int count = 0;
    size_t taken = s_raw_read_frames (raw, dec, got, &count, N);
    size_t wire = 4 + COLO_FRAME_MAX;
    int whole = (int) (taken / wire);
    int cut = taken % wire != 0;
    ck_assert_int_eq (count, whole);
    ck_assert_int_eq (colo_framing_in_frame (dec), cut);
    close (raw);
    ck_assert (s_wait_connected (&server, 1, 0));
    ck_assert_uint_eq (colo_port_counters (server)[COLO_PORT_TX_REQUEUED],
                       (uint64_t) cut);
    ck_assert_int_eq (colo_port_pending (server), N - whole);

    //  The next peer: frames whole..N-1, exact, the cut one first.
    colo_framing_reset (dec);
    raw = s_raw_connect (addr.path);
    uint64_t deadline = colo_clock_mono_ms () + S_DEADLINE_MS;
    while (count < N && colo_clock_mono_ms () < deadline) {
        colo_port_recv (server, NULL, 0);
        s_raw_read_frames (raw, dec, got, &count, N);
        struct pollfd pfd[2] = {{raw, POLLIN, 0}, {colo_port_fd (server), POLLIN, 0}};
        poll (pfd, 2, 20);
    }
    ck_assert_int_eq (count, N);
    for (int i = 0; i < N; i++) {
        colo_buf_t *want = colo_test_frame (COLO_FRAME_MAX, (uint32_t) i);
        ck_assert_uint_eq (got[i]->len, COLO_FRAME_MAX);
        ck_assert_int_eq (memcmp (got[i]->data, want->data, COLO_FRAME_MAX), 0);
        colo_buf_destroy (&want);
    }
    colo_buf_destroy_array (got, N);
    ck_assert_int_eq (colo_port_pending (server), 0);
    colo_framing_destroy (&dec);
    close (raw);
    colo_port_destroy (&server);
}
END_TEST

START_TEST (test_open_errors)
{
    colo_log_set_level (COLO_LOG_ERROR);
    ck_assert_ptr_null (colo_port_new ("qemu+tcp:nohostport", COLO_PORT_RX));
    ck_assert_ptr_null (colo_port_new ("qemu+tcp:::1:4444", COLO_PORT_RX));
    ck_assert_ptr_null (colo_port_new ("qemu+tcp:[::1]4444", COLO_PORT_RX));
    ck_assert_ptr_null (colo_port_new ("qemu+tcp:[::1:4444", COLO_PORT_RX));
    ck_assert_ptr_null (colo_port_new ("qemu+tcp::4444", COLO_PORT_RX));
    ck_assert_ptr_null (colo_port_new ("qemu+tcp:127.0.0.1:", COLO_PORT_RX));
    ck_assert_ptr_null (colo_port_new ("qemu+tcp:127.0.0.1:1,bogus", COLO_PORT_RX));
    char long_path[200];
    memset (long_path, 'a', sizeof long_path);
    memcpy (long_path, "qemu+unix:/", 11);
    long_path[sizeof long_path - 1] = 0;
    ck_assert_ptr_null (colo_port_new (long_path, COLO_PORT_RX));

    //  An unknown option closes the port again (and removes its socket).
    s_addr_t addr;
    s_make_addr (&addr, 0, ",frobnicate");
    ck_assert_ptr_null (colo_port_new (addr.server, COLO_PORT_RX));
    ck_assert_int_ne (access (addr.path, F_OK), 0);

    //  A regular file in the way is not removed.
    s_make_addr (&addr, 0, "");
    FILE *f = fopen (addr.path, "w");
    ck_assert_ptr_nonnull (f);
    fclose (f);
    ck_assert_ptr_null (colo_port_new (addr.server, COLO_PORT_RX));
    ck_assert_int_eq (access (addr.path, F_OK), 0);
    unlink (addr.path);

    //  A live server is not displaced; a stale socket file is.
    colo_port_t *first = colo_port_new (addr.server, COLO_PORT_RX);
    ck_assert_ptr_nonnull (first);
    ck_assert_ptr_null (colo_port_new (addr.server, COLO_PORT_RX));
    colo_port_destroy (&first);
    ck_assert_int_ne (access (addr.path, F_OK), 0);
    int fd = socket (AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun;
    memset (&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    snprintf (sun.sun_path, sizeof sun.sun_path, "%s", addr.path);
    ck_assert_int_eq (bind (fd, (struct sockaddr *) &sun, sizeof sun), 0);
    close (fd);   //  leaves a stale socket file
    ck_assert_int_eq (access (addr.path, F_OK), 0);
    colo_port_t *again = colo_port_new (addr.server, COLO_PORT_RX);
    ck_assert_ptr_nonnull (again);
    colo_port_destroy (&again);
    ck_assert_int_ne (access (addr.path, F_OK), 0);

    //  A TCP port someone else listens on.
    s_make_addr (&addr, 1, "");
    first = colo_port_new (addr.server, COLO_PORT_RX);
    ck_assert_ptr_nonnull (first);
    ck_assert_ptr_null (colo_port_new (addr.server, COLO_PORT_RX));
    colo_port_destroy (&first);
}
END_TEST

//  Names and IPv6: a client of "localhost" finds a 127.0.0.1 server even
//  if the name resolves to ::1 first; a [::1] pair talks if IPv6 is there.
START_TEST (test_tcp_names)
{
    int port = s_free_tcp_port ();
    char server_uri[64], client_uri[64];
    snprintf (server_uri, sizeof server_uri, "qemu+tcp:127.0.0.1:%d,server", port);
    snprintf (client_uri, sizeof client_uri, "qemu+tcp:localhost:%d", port);
    colo_port_t *server, *client;
    s_pair (server_uri, COLO_PORT_RXTX, client_uri, COLO_PORT_RXTX, &server, &client);
    colo_port_t *both[2] = {server, client};
    s_transfer (client, server, 0, 2, 0);
    colo_port_destroy (&client);
    colo_port_destroy (&server);

    int probe = socket (AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 sin6;
    memset (&sin6, 0, sizeof sin6);
    sin6.sin6_family = AF_INET6;
    sin6.sin6_addr = in6addr_loopback;
    int have_v6 = probe >= 0 && bind (probe, (struct sockaddr *) &sin6, sizeof sin6) == 0;
    socklen_t len = sizeof sin6;
    if (have_v6)
        getsockname (probe, (struct sockaddr *) &sin6, &len);
    if (probe >= 0)
        close (probe);
    if (!have_v6)
        return;   //  no IPv6 loopback here
    port = ntohs (sin6.sin6_port);
    snprintf (server_uri, sizeof server_uri, "qemu+tcp:[::1]:%d,server,vnet", port);
    snprintf (client_uri, sizeof client_uri, "qemu+tcp:[::1]:%d,vnet", port);
    server = colo_port_new (server_uri, COLO_PORT_RXTX);
    client = colo_port_new (client_uri, COLO_PORT_RXTX);
    ck_assert_ptr_nonnull (server);
    ck_assert_ptr_nonnull (client);
    both[0] = server;
    both[1] = client;
    ck_assert (s_wait_connected (both, 2, 1));
    s_transfer (server, client, 0, 4, 1);
    colo_port_destroy (&client);
    colo_port_destroy (&server);
}
END_TEST

//  "@NAME" is a Linux abstract socket: no file to create or remove.
START_TEST (test_abstract_unix)
{
    char name[64], server_uri[100], client_uri[100];
    colo_test_name (name, sizeof name);
    snprintf (server_uri, sizeof server_uri, "qemu+unix:@%s,server", name);
    snprintf (client_uri, sizeof client_uri, "qemu+unix:@%s", name);
    colo_port_t *server, *client;
    s_pair (server_uri, COLO_PORT_RXTX, client_uri, COLO_PORT_RXTX, &server, &client);
    s_transfer (client, server, 0, 3, 0);
    s_transfer (server, client, 3, 3, 0);
    colo_port_destroy (&client);
    colo_port_destroy (&server);
    ck_assert_ptr_null (colo_port_new ("qemu+unix:@", COLO_PORT_RX));
}
END_TEST

//  ---------------------------------------------------------------- views

#define S_VIEWS_MAX 512

//  A stream written by a raw peer: the bytes, and the frames it carries
//  (empty ones are not kept: the port skips them).
typedef struct {
    uint8_t *data;
    size_t len;
    size_t cap;
    colo_buf_t **frames;
    int count;
    int frames_cap;
    uint64_t bytes;          //  data bytes of the frames
    int vnet;
} s_wire_t;

static void
s_wire_init (s_wire_t *w, size_t cap, int frames_cap, int vnet)
{
    memset (w, 0, sizeof *w);
    w->data = (uint8_t *) malloc (cap);
    w->frames = (colo_buf_t **) calloc ((size_t) frames_cap, sizeof (colo_buf_t *));
    ck_assert_ptr_nonnull (w->data);
    ck_assert_ptr_nonnull (w->frames);
    w->cap = cap;
    w->frames_cap = frames_cap;
    w->vnet = vnet;
}

static void
s_wire_free (s_wire_t *w)
{
    colo_buf_destroy_array (w->frames, w->count);
    free (w->frames);
    free (w->data);
    memset (w, 0, sizeof *w);
}

//  Append a frame of len bytes (content from seed) to the stream; returns
//  the offset of its header.
static size_t
s_wire_add (s_wire_t *w, uint32_t len, uint32_t seed)
{
    ck_assert_uint_le (w->len + COLO_FRAMING_HDR_MAX + len, w->cap);
    size_t at = w->len;
    colo_buf_t *buf = colo_test_frame (len, seed);
    ck_assert_ptr_nonnull (buf);
    buf->vnet_hdr_len = w->vnet ? s_vnet_len (len, (int) seed) : 0;
    w->len +=
        colo_framing_encode_header (w->data + w->len, len, w->vnet, buf->vnet_hdr_len);
    if (len)
        memcpy (w->data + w->len, buf->data, len);
    w->len += len;
    if (len == 0) {
        colo_buf_destroy (&buf);
        return at;
    }
    ck_assert_int_lt (w->count, w->frames_cap);
    w->frames[w->count++] = buf;
    w->bytes += len;
    return at;
}

//  got is frame i of the stream as sent.
static void
s_check_got (const s_wire_t *w, const colo_buf_t *got, int i)
{
    ck_assert_int_lt (i, w->count);
    const colo_buf_t *want = w->frames[i];
    ck_assert_ptr_nonnull (got);
    ck_assert_msg (got->len == want->len, "frame %d: len %u, want %u", i, got->len,
                   want->len);
    ck_assert_msg (memcmp (got->data, want->data, want->len) == 0, "frame %d differs", i);
    ck_assert_uint_eq (got->vnet_hdr_len, want->vnet_hdr_len);
    ck_assert_uint_ne (got->ts_ns, 0);
}

//  A view is frame i of the stream as sent.
static void
s_check_view (const s_wire_t *w, const colo_frame_view_t *view, int i)
{
    ck_assert_int_lt (i, w->count);
    const colo_buf_t *want = w->frames[i];
    ck_assert_ptr_nonnull (view->data);
    ck_assert_msg (view->len == want->len, "frame %d: len %u, want %u", i, view->len,
                   want->len);
    ck_assert_msg (memcmp (view->data, want->data, want->len) == 0, "frame %d differs", i);
    ck_assert_uint_eq (view->vnet_hdr_len, want->vnet_hdr_len);
    ck_assert_uint_ne (view->ts_ns, 0);
}

//  Frames received with colo_port_recv_views, copied out at once (a view
//  lasts until the next call on the port).
typedef struct {
    colo_port_t *port;
    int max;                 //  views asked for per call (<= S_VIEWS_MAX)
    uint64_t *rng;           //  non-NULL: max random in 1..max, and one call in
                             //  three a colo_port_recv instead (the same stream)
    colo_buf_t **got;
    int count;
    int cap;
    int want;                //  s_cond_views: until count >= want ...
    int want_down;           //  ... and, if set, the port is disconnected
    int calls;
} s_views_t;

static colo_buf_t *
s_view_copy (const colo_frame_view_t *view)
{
    ck_assert_ptr_nonnull (view->data);
    ck_assert_uint_gt (view->len, 0);
    ck_assert_uint_le (view->len, COLO_FRAME_MAX);
    ck_assert_uint_le (view->vnet_hdr_len, view->len);
    ck_assert_uint_ne (view->ts_ns, 0);
    colo_buf_t *buf = colo_buf_new_copy (view->data, view->len);
    ck_assert_ptr_nonnull (buf);
    buf->vnet_hdr_len = view->vnet_hdr_len;
    buf->ts_ns = view->ts_ns;
    return buf;
}

//  One receive call; returns how many frames it gave.
static int
s_views_once (s_views_t *v)
{
    int max = v->max;
    ck_assert_int_le (max, S_VIEWS_MAX);
    if (v->rng)
        max = (int) (colo_test_rand (v->rng) % (uint64_t) v->max) + 1;
    if (max > v->cap - v->count)
        max = v->cap - v->count;
    v->calls++;
    if (v->rng && colo_test_rand (v->rng) % 3 == 0) {
        int n = colo_port_recv (v->port, v->got + v->count, max);
        ck_assert_int_ge (n, 0);
        ck_assert_int_le (n, max);
        v->count += n;
        return n;
    }
    colo_frame_view_t views[S_VIEWS_MAX];
    int n = colo_port_recv_views (v->port, views, max);
    ck_assert_int_ge (n, 0);
    ck_assert_int_le (n, max);
    for (int i = 0; i < n; i++)
        v->got[v->count++] = s_view_copy (&views[i]);
    return n;
}

static int
s_cond_views (void *arg)
{
    s_views_t *v = (s_views_t *) arg;
    if (v->count < v->cap)
        s_views_once (v);
    return v->count >= v->want && (!v->want_down || !colo_port_connected (v->port));
}

static void
s_views_init (s_views_t *v, colo_port_t *port, int max, int cap)
{
    memset (v, 0, sizeof *v);
    v->port = port;
    v->max = max;
    v->cap = cap;
    v->got = (colo_buf_t **) calloc ((size_t) cap, sizeof (colo_buf_t *));
    ck_assert_ptr_nonnull (v->got);
}

static void
s_views_free (s_views_t *v)
{
    colo_buf_destroy_array (v->got, v->count);
    free (v->got);
    v->got = NULL;
}

//  Wait until v holds want frames (and, with down, the port is down).
static int
s_views_wait (s_views_t *v, int want, int down)
{
    v->want = want;
    v->want_down = down;
    return colo_test_wait (s_cond_views, v, &v->port, 1, S_DEADLINE_MS);
}

//  Frames written in one write come out of one recv_views as views into one
//  read, in order, byte for byte, counted; max limits a call.  _i = vnet.
START_TEST (test_views_one_write)
{
    int vnet = _i;
    s_addr_t addr;
    int raw;
    colo_port_t *server = s_raw_server (vnet, &addr, &raw);

    enum { N = 40 };
    s_wire_t w;
    s_wire_init (&w, 128 * 1024, N + 10, vnet);
    for (int i = 0; i < N; i++)
        s_wire_add (&w, (uint32_t) (1 + (i * 373) % 1514), (uint32_t) i);
    s_raw_write (raw, w.data, w.len);
    //  A unix socket holds the whole write when write() returns: one read.
    colo_frame_view_t views[64];
    memset (views, 0, sizeof views);
    int n = colo_port_recv_views (server, views, 64);
    ck_assert_int_eq (n, N);
    size_t hdr = vnet ? 8 : 4;
    for (int i = 0; i < N; i++) {
        s_check_view (&w, &views[i], i);
        ck_assert_uint_eq (views[i].ts_ns, views[0].ts_ns);
        //  Not copied: each frame follows the one before in the read buffer.
        if (i > 0)
            ck_assert_ptr_eq (views[i].data, views[i - 1].data + views[i - 1].len + hdr);
    }
    const uint64_t *sc = colo_port_counters (server);
    ck_assert_uint_eq (sc[COLO_PORT_RX_FRAMES], N);
    ck_assert_uint_eq (sc[COLO_PORT_RX_BYTES], w.bytes);
    ck_assert_int_eq (colo_port_recv_views (server, views, 64), 0);
    //  max 0 and a negative max: nothing, no error.
    ck_assert_int_eq (colo_port_recv_views (server, views, 0), 0);
    ck_assert_int_eq (colo_port_recv_views (server, NULL, -1), 0);

    //  Ten more, at most three per call.
    size_t first = w.len;
    for (int i = N; i < N + 10; i++)
        s_wire_add (&w, (uint32_t) (60 + i), (uint32_t) i);
    s_raw_write (raw, w.data + first, w.len - first);
    int got = 0, calls = 0;
    while (got < 10 && calls < 100) {
        n = colo_port_recv_views (server, views, 3);
        ck_assert_int_ge (n, 1);   //  the bytes are all there
        ck_assert_int_le (n, 3);
        for (int i = 0; i < n; i++)
            s_check_view (&w, &views[i], N + got + i);
        got += n;
        calls++;
    }
    ck_assert_int_eq (got, 10);
    ck_assert_int_ge (calls, 4);
    ck_assert_int_eq (colo_port_recv_views (server, views, 3), 0);
    ck_assert_uint_eq (sc[COLO_PORT_RX_FRAMES], N + 10);
    ck_assert_uint_eq (sc[COLO_PORT_RX_BYTES], w.bytes);
    ck_assert_uint_eq (sc[COLO_PORT_RX_MALFORMED], 0);
    ck_assert_uint_eq (sc[COLO_PORT_RX_TRUNCATED], 0);
    s_wire_free (&w);
    close (raw);
    colo_port_destroy (&server);
}
END_TEST

//  A frame split across two writes, cut in its header, just after it, in
//  its data, a byte before its end: the frame before it comes at once, it
//  comes whole after the second write, then the frame after it.  _i = vnet.
START_TEST (test_views_split_frame)
{
    int vnet = _i;
    s_addr_t addr;
    int raw;
    colo_port_t *server = s_raw_server (vnet, &addr, &raw);
    size_t hdr = vnet ? 8 : 4;
    size_t cuts[] = {2, hdr, hdr + 700, hdr + 1513};
    s_wire_t w;
    s_wire_init (&w, 64 * 1024, 16, vnet);
    int next = 0;   //  next frame expected
    for (int c = 0; c < 4; c++) {
        size_t start = w.len;
        s_wire_add (&w, 100, (uint32_t) (10 * c));   //  before
        size_t at = s_wire_add (&w, 1514, (uint32_t) (10 * c + 1));   //  split
        s_wire_add (&w, 60, (uint32_t) (10 * c + 2));   //  after
        size_t cut = at + cuts[c];
        s_raw_write (raw, w.data + start, cut - start);
        colo_frame_view_t views[8];
        int n = colo_port_recv_views (server, views, 8);
        ck_assert_int_eq (n, 1);
        s_check_view (&w, &views[0], next++);
        //  The rest is not there: nothing.
        ck_assert_int_eq (colo_port_recv_views (server, views, 8), 0);
        ck_assert_int_eq (colo_port_connected (server), 1);
        s_raw_write (raw, w.data + cut, w.len - cut);
        s_views_t v;
        s_views_init (&v, server, 8, 8);
        ck_assert (s_views_wait (&v, 2, 0));
        ck_assert_int_eq (v.count, 2);
        s_check_got (&w, v.got[0], next++);
        s_check_got (&w, v.got[1], next++);
        s_views_free (&v);
    }
    const uint64_t *sc = colo_port_counters (server);
    ck_assert_uint_eq (sc[COLO_PORT_RX_FRAMES], 12);
    ck_assert_uint_eq (sc[COLO_PORT_RX_BYTES], w.bytes);
    ck_assert_uint_eq (sc[COLO_PORT_RX_TRUNCATED], 0);
    s_wire_free (&w);
    close (raw);
    colo_port_destroy (&server);
}
END_TEST

//  A stream of frames of every size (empty ones among them) written in
//  random pieces, small and larger than a read, while recv_views with
//  random max values, and colo_port_recv now and then, read it: the frames
//  as sent, in order, counted.  _i = vnet.
START_TEST (test_views_interleaved)
{
    int vnet = _i;
    s_addr_t addr;
    s_make_addr (&addr, 0, vnet ? ",vnet" : "");
    colo_port_t *server = colo_port_new (addr.server, COLO_PORT_RX);
    ck_assert_ptr_nonnull (server);
    int raw = s_raw_connect (addr.path);
    ck_assert_int_eq (fcntl (raw, F_SETFL, fcntl (raw, F_GETFL) | O_NONBLOCK), 0);
    ck_assert (s_wait_connected (&server, 1, 1));

    enum { N = 600 };
    uint64_t rng = 0x51a7e5eedull + (uint64_t) vnet;
    s_wire_t w;
    size_t cap = (size_t) N * (COLO_FRAMING_HDR_MAX + 4096) + 30 * COLO_FRAME_MAX;
    s_wire_init (&w, cap, N, vnet);
    int large = 0;
    for (int i = 0; i < N; i++) {
        uint64_t r = colo_test_rand (&rng);
        uint32_t len;
        if (r % 10 == 0)
            len = 0;
        else if (r % 20 == 1 && large < 30) {
            len = (uint32_t) ((r >> 8) % COLO_FRAME_MAX) + 1;
            large++;
        }
        else
            len = (uint32_t) ((r >> 8) % 4096) + 1;
        s_wire_add (&w, len, (uint32_t) i);
    }
    s_views_t v;
    s_views_init (&v, server, 8, w.count);
    v.rng = &rng;
    size_t off = 0;
    uint64_t deadline = colo_clock_mono_ms () + S_DEADLINE_MS;
    while (off < w.len && colo_clock_mono_ms () < deadline) {
        uint64_t r = colo_test_rand (&rng);
        size_t piece = r % 4 == 0 ? (size_t) (r >> 8) % (300 * 1024) + 1
                                  : (size_t) (r >> 8) % 3000 + 1;
        if (piece > w.len - off)
            piece = w.len - off;
        ssize_t wrote = send (raw, w.data + off, piece, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (wrote < 0)
            ck_assert_msg (errno == EAGAIN || errno == EWOULDBLOCK, "send: %s",
                           strerror (errno));
        else
            off += (size_t) wrote;
        int n = s_views_once (&v);
        if (wrote < 0 && n == 0)   //  the socket is full: wait for the port
            colo_test_poll_ports (&server, 1, 20);
    }
    ck_assert_uint_eq (off, w.len);
    ck_assert (s_views_wait (&v, w.count, 0));
    ck_assert_int_eq (v.count, w.count);
    for (int i = 0; i < w.count; i++)
        s_check_got (&w, v.got[i], i);
    ck_assert_int_gt (v.calls, w.count / 8);
    const uint64_t *sc = colo_port_counters (server);
    ck_assert_uint_eq (sc[COLO_PORT_RX_FRAMES], (uint64_t) w.count);
    ck_assert_uint_eq (sc[COLO_PORT_RX_BYTES], w.bytes);
    ck_assert_uint_eq (sc[COLO_PORT_RX_MALFORMED], 0);
    ck_assert_uint_eq (sc[COLO_PORT_RX_TRUNCATED], 0);
    ck_assert_uint_eq (sc[COLO_PORT_DISCONNECTS], 0);
    //  Nothing more.
    colo_frame_view_t views[4];
    ck_assert_int_eq (colo_port_recv_views (server, views, 4), 0);
    s_views_free (&v);
    s_wire_free (&w);
    close (raw);
    colo_port_destroy (&server);
}
END_TEST

//  The peer writes frames (more than one call may hand out) and a half
//  frame, then closes: every whole frame still comes out of recv_views,
//  then the port is down like recv leaves it (disconnects, rx_truncated);
//  the next peer's frames are exact.  _i = vnet.
START_TEST (test_views_peer_closes)
{
    int vnet = _i;
    s_addr_t addr;
    int raw;
    colo_port_t *server = s_raw_server (vnet, &addr, &raw);
    enum { N = 300 };
    s_wire_t w;
    s_wire_init (&w, 256 * 1024, N + 2, vnet);
    for (int i = 0; i < N; i++)
        s_wire_add (&w, (uint32_t) (1 + i % 97), (uint32_t) i);
    size_t whole = w.len;
    s_wire_add (&w, 500, 7777);   //  only half of it goes out
    s_raw_write (raw, w.data, whole + (w.len - whole) / 2);
    close (raw);

    //  More than the port lends at once.
    s_views_t v;
    s_views_init (&v, server, S_VIEWS_MAX, N + 1);
    ck_assert (s_views_wait (&v, N, 1));
    ck_assert_int_eq (v.count, N);
    for (int i = 0; i < N; i++)
        s_check_got (&w, v.got[i], i);
    s_views_free (&v);
    const uint64_t *sc = colo_port_counters (server);
    ck_assert_uint_eq (sc[COLO_PORT_RX_FRAMES], N);
    ck_assert_uint_eq (sc[COLO_PORT_RX_BYTES], w.bytes - 500);
    ck_assert_uint_eq (sc[COLO_PORT_DISCONNECTS], 1);
    ck_assert_uint_eq (sc[COLO_PORT_RX_TRUNCATED], 1);
    ck_assert_uint_eq (sc[COLO_PORT_RX_MALFORMED], 0);
    colo_frame_view_t views[4];
    ck_assert_int_eq (colo_port_recv_views (server, views, 4), 0);
    ck_assert_int_eq (colo_port_connected (server), 0);

    //  The next peer: its frames only, exact (no half frame spliced in).
    s_wire_t w2;
    s_wire_init (&w2, 4096, 2, vnet);
    s_wire_add (&w2, 33, 1);
    s_wire_add (&w2, 1000, 2);
    raw = s_raw_connect (addr.path);
    s_raw_write (raw, w2.data, w2.len);
    s_views_init (&v, server, 4, 4);
    ck_assert (s_views_wait (&v, 2, 0));
    ck_assert_int_eq (v.count, 2);
    s_check_got (&w2, v.got[0], 0);
    s_check_got (&w2, v.got[1], 1);
    s_views_free (&v);
    ck_assert_uint_eq (sc[COLO_PORT_CONNECTS], 2);
    ck_assert_uint_eq (sc[COLO_PORT_RX_TRUNCATED], 1);
    s_wire_free (&w2);
    s_wire_free (&w);
    close (raw);
    colo_port_destroy (&server);
}
END_TEST

//  Frames kept from a closed connection are lent: a few handed out, the
//  rest still kept, then the port is closed (nothing leaks; ASan).
//  _i = vnet.
START_TEST (test_views_close_with_lent)
{
    int vnet = _i;
    s_addr_t addr;
    int raw;
    colo_port_t *server = s_raw_server (vnet, &addr, &raw);
    s_wire_t w;
    s_wire_init (&w, 64 * 1024, 50, vnet);
    for (int i = 0; i < 50; i++)
        s_wire_add (&w, (uint32_t) (14 + i * 11), (uint32_t) (100 + i));
    s_raw_write (raw, w.data, w.len);
    close (raw);
    //  Housekeeping notices the peer gone and keeps its frames.
    ck_assert (s_wait_connected (&server, 1, 0));
    colo_frame_view_t views[5];
    ck_assert_int_eq (colo_port_recv_views (server, views, 5), 5);
    for (int i = 0; i < 5; i++)
        s_check_view (&w, &views[i], i);
    ck_assert_int_eq (colo_port_recv_views (server, views, 5), 5);
    for (int i = 0; i < 5; i++)
        s_check_view (&w, &views[i], 5 + i);
    //  A copying recv in between takes the next one, in order.
    colo_buf_t *got = NULL;
    ck_assert_int_eq (colo_port_recv (server, &got, 1), 1);
    s_check_got (&w, got, 10);
    colo_buf_destroy (&got);
    ck_assert_int_eq (colo_port_recv_views (server, views, 5), 5);
    for (int i = 0; i < 5; i++)
        s_check_view (&w, &views[i], 11 + i);
    ck_assert_uint_eq (colo_port_counters (server)[COLO_PORT_RX_FRAMES], 50);
    s_wire_free (&w);
    colo_port_destroy (&server);
}
END_TEST

//  A second peer replaces the first while recv_views is part way through
//  the first one's bytes: the first one's whole frames come out, then the
//  second one's; the first one's half frame is dropped.
START_TEST (test_views_connection_replaced)
{
    s_addr_t addr;
    int raw1;
    colo_port_t *server = s_raw_server (1, &addr, &raw1);
    s_wire_t w;
    s_wire_init (&w, 64 * 1024, 32, 1);
    for (int i = 0; i < 20; i++)
        s_wire_add (&w, (uint32_t) (40 + i * 50), (uint32_t) i);
    size_t whole = w.len;
    s_wire_add (&w, 300, 99);   //  half of it only
    s_raw_write (raw1, w.data, whole + 150);
    w.count--;   //  never delivered
    w.bytes -= 300;
    colo_buf_destroy (&w.frames[w.count]);
    colo_frame_view_t views[3];
    ck_assert_int_eq (colo_port_recv_views (server, views, 3), 3);
    for (int i = 0; i < 3; i++)
        s_check_view (&w, &views[i], i);

    int raw2 = s_raw_connect (addr.path);
    size_t second = w.len;
    for (int i = 0; i < 5; i++)
        s_wire_add (&w, (uint32_t) (1000 + i), (uint32_t) (500 + i));
    s_raw_write (raw2, w.data + second, w.len - second);
    s_views_t v;
    s_views_init (&v, server, 3, 22);
    ck_assert (s_views_wait (&v, 22, 0));
    ck_assert_int_eq (v.count, 22);
    for (int i = 0; i < 22; i++)
        s_check_got (&w, v.got[i], 3 + i);
    s_views_free (&v);
    const uint64_t *sc = colo_port_counters (server);
    ck_assert_uint_eq (sc[COLO_PORT_RX_FRAMES], 25);
    ck_assert_uint_eq (sc[COLO_PORT_RX_BYTES], w.bytes);
    ck_assert_uint_eq (sc[COLO_PORT_CONNECTS], 2);
    ck_assert_uint_eq (sc[COLO_PORT_DISCONNECTS], 1);
    ck_assert_uint_eq (sc[COLO_PORT_RX_TRUNCATED], 1);
    ck_assert_int_eq (colo_port_connected (server), 1);
    s_wire_free (&w);
    close (raw1);
    close (raw2);
    colo_port_destroy (&server);
}
END_TEST

//  Whole frames, then an impossible header: the frames come out, then the
//  port drops the connection (rx_malformed); the next one works.
START_TEST (test_views_malformed)
{
    s_addr_t addr;
    int raw;
    colo_port_t *server = s_raw_server (1, &addr, &raw);
    s_wire_t w;
    s_wire_init (&w, 8192, 4, 1);
    s_wire_add (&w, 60, 1);
    s_wire_add (&w, 0, 0);   //  empty: skipped
    s_wire_add (&w, 61, 2);
    uint8_t bad[COLO_FRAMING_HDR_MAX + 16];
    size_t hl = colo_framing_encode_header (bad, 16, 1, 21);
    memset (bad + hl, 0x66, 16);
    s_raw_write (raw, w.data, w.len);
    s_raw_write (raw, bad, hl + 16);
    s_views_t v;
    s_views_init (&v, server, 8, 8);
    ck_assert (s_views_wait (&v, 2, 1));
    ck_assert_int_eq (v.count, 2);
    s_check_got (&w, v.got[0], 0);
    s_check_got (&w, v.got[1], 1);
    s_views_free (&v);
    const uint64_t *sc = colo_port_counters (server);
    ck_assert_uint_eq (sc[COLO_PORT_RX_MALFORMED], 1);
    ck_assert_uint_eq (sc[COLO_PORT_RX_FRAMES], 2);
    ck_assert_uint_eq (sc[COLO_PORT_DISCONNECTS], 1);
    close (raw);

    raw = s_raw_connect (addr.path);
    s_raw_write (raw, w.data, w.len);
    s_views_init (&v, server, 8, 8);
    ck_assert (s_views_wait (&v, 2, 0));
    s_check_got (&w, v.got[0], 0);
    s_check_got (&w, v.got[1], 1);
    s_views_free (&v);
    ck_assert_uint_eq (sc[COLO_PORT_RX_MALFORMED], 1);
    s_wire_free (&w);
    close (raw);
    colo_port_destroy (&server);
}
END_TEST

//  Port to port (qemu+unix and qemu+tcp, vnet or not): frames sent by
//  the client come out of the server's recv_views as sent.  _i: bit 0 =
//  tcp, bit 1 = vnet.
START_TEST (test_views_port_to_port)
{
    int tcp = _i & 1, vnet = (_i >> 1) & 1;
    s_addr_t addr;
    s_make_addr (&addr, tcp, vnet ? ",vnet" : "");
    colo_port_t *server, *client;
    s_pair (addr.server, COLO_PORT_RX, addr.client, COLO_PORT_TX, &server, &client);
    colo_port_t *both[2] = {server, client};
    colo_buf_t *bufs[S_FRAMES];
    for (int i = 0; i < S_FRAMES; i++)
        bufs[i] = s_frame (i, vnet);
    int sent = colo_test_send_all (client, bufs, S_FRAMES, &server, 1, S_DEADLINE_MS);
    ck_assert_int_eq (sent, S_FRAMES);
    s_views_t v;
    s_views_init (&v, server, 5, S_FRAMES);
    v.want = S_FRAMES;
    ck_assert (colo_test_wait (s_cond_views, &v, both, 2, S_DEADLINE_MS));
    ck_assert_int_eq (v.count, S_FRAMES);
    for (int i = 0; i < S_FRAMES; i++)
        s_check_frame (v.got[i], i, vnet);
    s_views_free (&v);
    const uint64_t *sc = colo_port_counters (server);
    ck_assert_uint_eq (sc[COLO_PORT_RX_FRAMES], S_FRAMES);
    const uint64_t *cc = colo_port_counters (client);
    ck_assert_uint_eq (sc[COLO_PORT_RX_BYTES], cc[COLO_PORT_TX_BYTES]);
    //  The client is send-only.
    colo_frame_view_t views[1];
    errno = 0;
    ck_assert_int_eq (colo_port_recv_views (client, views, 1), -1);
    ck_assert_int_eq (errno, EINVAL);
    colo_port_destroy (&client);
    colo_port_destroy (&server);
}
END_TEST

//  Frames read into a slab and sent on by another port: one that came in
//  right behind its own header goes out with it as one piece, and one whose
//  header would now differ gets a header of its own.  _i: 0 both ports
//  plain, frame 5 one byte shorter once read; 1 both vnet, frame 5's virtio
//  header one byte shorter; 2 vnet in, plain out; 3 plain in, vnet out.
START_TEST (test_forward_from_slab)
{
    int in_vnet = _i == 1 || _i == 2, out_vnet = _i == 1 || _i == 3;
    enum { N = 20, CHANGED = 5 };
    s_addr_t in_addr, out_addr;
    int raw;
    colo_port_t *in = s_raw_server (in_vnet, &in_addr, &raw);
    s_make_addr (&out_addr, 0, out_vnet ? ",vnet" : "");
    colo_port_t *out_server, *out_client;
    s_pair (out_addr.server, COLO_PORT_RX, out_addr.client, COLO_PORT_TX, &out_server, &out_client);

    s_wire_t w;
    s_wire_init (&w, 64 * 1024, N, in_vnet);
    for (int i = 0; i < N; i++)
        s_wire_add (&w, (uint32_t) (60 + (i * 211) % 1400), (uint32_t) i);
    s_raw_write (raw, w.data, w.len);
    colo_buf_t *bufs[N];
    int got = colo_test_recv_frames (in, bufs, N, &in, 1, S_DEADLINE_MS);
    ck_assert_int_eq (got, N);
    for (int i = 0; i < N; i++) {
        s_check_got (&w, bufs[i], i);
        ck_assert_ptr_nonnull (bufs[i]->slab);   //  in the read slab, not copied
    }
    if (_i == 0)
        bufs[CHANGED]->len--;
    if (_i == 1) {
        ck_assert_uint_gt (bufs[CHANGED]->vnet_hdr_len, 0);
        bufs[CHANGED]->vnet_hdr_len--;
    }
    if (!out_vnet)
        for (int i = 0; i < N; i++)
            bufs[i]->vnet_hdr_len = 0;
    uint32_t want_len[N];
    uint16_t want_vnet[N];
    for (int i = 0; i < N; i++) {
        want_len[i] = bufs[i]->len;
        want_vnet[i] = bufs[i]->vnet_hdr_len;
    }
    ck_assert_int_eq (colo_test_send_all (out_client, bufs, N, &out_server, 1, S_DEADLINE_MS),
                      N);
    colo_buf_t *out[N];
    ck_assert_int_eq (colo_test_recv_frames (out_server, out, N, &out_client, 1, S_DEADLINE_MS),
                      N);
    for (int i = 0; i < N; i++) {
        ck_assert_uint_eq (out[i]->len, want_len[i]);
        ck_assert_uint_eq (out[i]->vnet_hdr_len, want_vnet[i]);
        ck_assert_int_eq (memcmp (out[i]->data, w.frames[i]->data, want_len[i]), 0);
    }
    ck_assert_uint_eq (colo_port_counters (out_server)[COLO_PORT_RX_MALFORMED], 0);
    colo_buf_destroy_array (out, N);
    s_wire_free (&w);
    close (raw);
    colo_port_destroy (&out_client);
    colo_port_destroy (&out_server);
    colo_port_destroy (&in);
}
END_TEST

Suite *
colo_port_qemu_suite (void)
{
    Suite *s = suite_create ("colo_port_qemu");
    TCase *tc = tcase_create ("core");
    tcase_set_timeout (tc, 60);
    tcase_add_loop_test (tc, test_round_trip, 0, 4);
    tcase_add_loop_test (tc, test_client_first, 0, 2);
    tcase_add_test (tc, test_server_queues);
    tcase_add_loop_test (tc, test_server_restart, 0, 2);
    tcase_add_test (tc, test_peer_dies_mid_frame);
    tcase_add_test (tc, test_connection_replaced);
    tcase_add_loop_test (tc, test_malformed, 0, 3);
    tcase_add_loop_test (tc, test_qemu_style_writer, 0, 2);
    tcase_add_test (tc, test_backpressure);
    tcase_add_test (tc, test_send_skips_unencodable);
    tcase_add_test (tc, test_input_pending);
    tcase_add_test (tc, test_requeue_after_break);
    tcase_add_test (tc, test_open_errors);
    tcase_add_test (tc, test_tcp_names);
    tcase_add_test (tc, test_abstract_unix);
    tcase_add_loop_test (tc, test_views_one_write, 0, 2);
    tcase_add_loop_test (tc, test_views_split_frame, 0, 2);
    tcase_add_loop_test (tc, test_views_interleaved, 0, 2);
    tcase_add_loop_test (tc, test_views_peer_closes, 0, 2);
    tcase_add_loop_test (tc, test_views_close_with_lent, 0, 2);
    tcase_add_test (tc, test_views_connection_replaced);
    tcase_add_test (tc, test_views_malformed);
    tcase_add_loop_test (tc, test_views_port_to_port, 0, 4);
    tcase_add_loop_test (tc, test_forward_from_slab, 0, 4);
    suite_add_tcase (s, tc);
    return s;
}
