/*  check_colo_mirror.c - tests for the colo-mirror actor.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  The actor runs in-process on fresh unix sockets, TCP ports and shm
 *  rings; the test plays client, primary and secondary with ports of its
 *  own.  A slow or absent peer is a port the test does not read or does
 *  not open.  Every wait is a condition with a deadline.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "colo_buf.h"
#include "colo_mirror.h"
#include "colo_port.h"
#include "colo_ring.h"
#include "colo_test.h"

#define S_DEADLINE_MS 10000

//  ---------------------------------------------------------------- helpers

//  Frame number i: len bytes derived from i, with i in the first 4 bytes and
//  a vnet header length that varies when vnet is set.
static colo_buf_t *
s_frame (uint32_t i, uint32_t len, int vnet)
{
    colo_buf_t *buf = colo_test_frame (len, i);
    ck_assert_ptr_nonnull (buf);
    uint32_t be = htonl (i);
    memcpy (buf->data, &be, 4);
    if (vnet)
        buf->vnet_hdr_len = (uint16_t) (i % 3 == 0 ? 0 : i % 3 == 1 ? 10 : 12);
    return buf;
}

static uint32_t
s_len (uint32_t i)
{
    static const uint32_t sizes[] = {60, 1514, 64, 9000, 590, 65536, 14, 1500};
    return sizes[i % 8];
}

//  The number a frame carries; asserts its content matches s_frame.
static uint32_t
s_frame_check (colo_buf_t *buf, int vnet)
{
    ck_assert_uint_ge (buf->len, 4);
    uint32_t be;
    memcpy (&be, buf->data, 4);
    uint32_t i = ntohl (be);
    colo_buf_t *want = s_frame (i, s_len (i), vnet);
    ck_assert_uint_eq (buf->len, want->len);
    ck_assert_uint_eq (buf->vnet_hdr_len, want->vnet_hdr_len);
    ck_assert_int_eq (memcmp (buf->data, want->data, buf->len), 0);
    colo_buf_destroy (&want);
    return i;
}

//  Send frames first..first+n-1 into port.
static void
s_send_frames (colo_port_t *port, uint32_t first, int n, int vnet, colo_port_t **others,
               int n_others)
{
    for (int done = 0; done < n;) {
        colo_buf_t *bufs[64];
        int batch = n - done < 64 ? n - done : 64;
        for (int k = 0; k < batch; k++)
            bufs[k] = s_frame (first + (uint32_t) (done + k), s_len (first + (uint32_t) (done + k)),
                               vnet);
        ck_assert_int_eq (
            colo_test_send_all (port, bufs, batch, others, n_others, S_DEADLINE_MS), batch);
        done += batch;
    }
}

//  Receive n frames from port and check they are first, first+1, ...
static void
s_expect_frames (colo_port_t *port, uint32_t first, int n, int vnet, colo_port_t **others,
                 int n_others)
{
    for (int done = 0; done < n;) {
        colo_buf_t *bufs[64];
        int batch = n - done < 64 ? n - done : 64;
        int got = colo_test_recv_frames (port, bufs, batch, others, n_others, S_DEADLINE_MS);
        ck_assert_int_eq (got, batch);
        for (int k = 0; k < got; k++) {
            ck_assert_uint_eq (s_frame_check (bufs[k], vnet), first + (uint32_t) (done + k));
            colo_buf_destroy (&bufs[k]);
        }
        done += got;
    }
}

typedef struct {
    colo_mirror_t *mirror;
    int counter;
    uint64_t at_least;
} s_counter_cond_t;

static int
s_counter_reached (void *arg)
{
    s_counter_cond_t *c = (s_counter_cond_t *) arg;
    uint64_t values[COLO_MIRROR_COUNTER_COUNT];
    colo_mirror_counters (c->mirror, values);
    return values[c->counter] >= c->at_least;
}

static int
s_wait_counter (colo_mirror_t *mirror, int counter, uint64_t at_least,
                colo_port_t **ports, int n)
{
    s_counter_cond_t cond = {mirror, counter, at_least};
    return colo_test_wait (s_counter_reached, &cond, ports, n, S_DEADLINE_MS);
}

static uint64_t
s_counter (colo_mirror_t *mirror, int counter)
{
    uint64_t values[COLO_MIRROR_COUNTER_COUNT];
    colo_mirror_counters (mirror, values);
    return values[counter];
}

static int
s_is_diverged (void *arg)
{
    return colo_mirror_diverged ((colo_mirror_t *) arg, NULL);
}

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

//  A unix socket path for a test.
static void
s_path (char *buf, size_t cap)
{
    char name[64];
    colo_test_name (name, sizeof name);
    snprintf (buf, cap, "/tmp/%s.sock", name);
}

static atomic_int s_divergence_calls;
static const char *s_divergence_reason;

static void
s_on_divergence (void *arg, const char *reason)
{
    (void) arg;
    s_divergence_reason = reason;
    atomic_fetch_add (&s_divergence_calls, 1);
}

//  ---------------------------------------------------------------- tests

//  Every frame reaches both outputs, in order, byte for byte, over three
//  transports (tcp in, unix to the primary, shm to the secondary), vnet on.
START_TEST (test_mirror_order_both)
{
    char pri_path[108], shm_name[64], in_uri[200], pri_uri[200], sec_uri[200], uri[200];
    int tcp = s_free_tcp_port ();
    s_path (pri_path, sizeof pri_path);
    colo_test_name (shm_name, sizeof shm_name);
    snprintf (in_uri, sizeof in_uri, "qemu+tcp:127.0.0.1:%d,server,vnet", tcp);
    snprintf (pri_uri, sizeof pri_uri, "qemu+unix:%s,server,vnet", pri_path);
    snprintf (sec_uri, sizeof sec_uri, "shm:%s", shm_name);

    colo_mirror_config_t cfg;
    colo_mirror_config_defaults (&cfg);
    cfg.id = "t-order";
    cfg.in = in_uri;
    cfg.to_primary = pri_uri;
    cfg.to_secondary = sec_uri;
    cfg.busy_poll_us = 200;   //  the same order when the loop spins between frames
    colo_mirror_t *mirror = colo_mirror_start (&cfg);
    ck_assert_ptr_nonnull (mirror);
    ck_assert_str_eq (colo_mirror_id (mirror), "t-order");

    snprintf (uri, sizeof uri, "qemu+tcp:127.0.0.1:%d,vnet", tcp);
    colo_port_t *client = colo_port_new (uri, COLO_PORT_TX);
    snprintf (uri, sizeof uri, "qemu+unix:%s,vnet", pri_path);
    colo_port_t *primary = colo_port_new (uri, COLO_PORT_RX);
    colo_port_t *secondary = colo_port_new (sec_uri, COLO_PORT_RX);
    ck_assert_ptr_nonnull (client);
    ck_assert_ptr_nonnull (primary);
    ck_assert_ptr_nonnull (secondary);
    colo_port_t *all[3] = {client, primary, secondary};

    const int n = 300;
    s_send_frames (client, 0, n, 1, all, 3);
    s_expect_frames (primary, 0, n, 1, all, 3);
    s_expect_frames (secondary, 0, n, 1, all, 3);
    ck_assert (s_wait_counter (mirror, COLO_MIRROR_SECONDARY_FRAMES, n, all, 3));
    ck_assert_uint_eq (s_counter (mirror, COLO_MIRROR_IN_FRAMES), n);
    ck_assert_uint_eq (s_counter (mirror, COLO_MIRROR_PRIMARY_FRAMES), n);
    ck_assert_uint_eq (s_counter (mirror, COLO_MIRROR_SECONDARY_OVERFLOW), 0);
    ck_assert_uint_eq (s_counter (mirror, COLO_MIRROR_DIVERGENCES), 0);
    ck_assert_int_eq (colo_mirror_diverged (mirror, NULL), 0);

    colo_mirror_stop (&mirror);
    ck_assert_ptr_null (mirror);
    colo_mirror_stop (&mirror);   //  idempotent
    colo_port_destroy (&secondary);
    colo_port_destroy (&primary);
    colo_port_destroy (&client);
    colo_ring_unlink (shm_name);
}
END_TEST

//  An absent secondary: the primary gets everything at once, the copies
//  beyond port queue + backlog are counted as overflow, and one divergence
//  episode starts.  It survives the secondary's arrival and ends with a
//  checkpoint; afterwards the secondary gets every frame again.
START_TEST (test_mirror_absent_secondary)
{
    char in_path[108], pri_path[108], sec_path[108];
    char in_uri[200], pri_uri[200], sec_uri[200], uri[200];
    s_path (in_path, sizeof in_path);
    s_path (pri_path, sizeof pri_path);
    s_path (sec_path, sizeof sec_path);
    snprintf (in_uri, sizeof in_uri, "qemu+unix:%s,server", in_path);
    snprintf (pri_uri, sizeof pri_uri, "qemu+unix:%s,server", pri_path);
    snprintf (sec_uri, sizeof sec_uri, "qemu+unix:%s,queue=4,backoff-max=50", sec_path);

    atomic_store (&s_divergence_calls, 0);
    colo_mirror_config_t cfg;
    colo_mirror_config_defaults (&cfg);
    cfg.in = in_uri;
    cfg.to_primary = pri_uri;
    cfg.to_secondary = sec_uri;
    cfg.backlog = 8;
    cfg.on_divergence = s_on_divergence;
    colo_mirror_t *mirror = colo_mirror_start (&cfg);
    ck_assert_ptr_nonnull (mirror);
    ck_assert_str_eq (colo_mirror_id (mirror), "mirror");

    snprintf (uri, sizeof uri, "qemu+unix:%s", in_path);
    colo_port_t *client = colo_port_new (uri, COLO_PORT_TX);
    snprintf (uri, sizeof uri, "qemu+unix:%s", pri_path);
    colo_port_t *primary = colo_port_new (uri, COLO_PORT_RX);
    colo_port_t *all[3] = {client, primary, NULL};

    const int n = 100;
    s_send_frames (client, 0, n, 0, all, 2);
    s_expect_frames (primary, 0, n, 0, all, 2);
    ck_assert (s_wait_counter (mirror, COLO_MIRROR_SECONDARY_OVERFLOW, n - 12, all, 2));
    ck_assert_uint_eq (s_counter (mirror, COLO_MIRROR_IN_FRAMES), n);
    ck_assert_uint_eq (s_counter (mirror, COLO_MIRROR_SECONDARY_OVERFLOW), n - 12);
    ck_assert_uint_eq (s_counter (mirror, COLO_MIRROR_SECONDARY_FRAMES), 4);
    ck_assert_uint_eq (s_counter (mirror, COLO_MIRROR_DIVERGENCES), 1);
    ck_assert_uint_eq (s_counter (mirror, COLO_MIRROR_INPUT_PAUSED), 0);
    const char *reason = NULL;
    ck_assert_int_eq (colo_mirror_diverged (mirror, &reason), 1);
    ck_assert_str_eq (reason, "overflow");
    ck_assert_int_eq (atomic_load (&s_divergence_calls), 1);
    ck_assert_str_eq (s_divergence_reason, "overflow");

    //  The secondary arrives: it gets what was kept (the first 12), and the
    //  divergence stays.
    snprintf (uri, sizeof uri, "qemu+unix:%s,server", sec_path);
    colo_port_t *secondary = colo_port_new (uri, COLO_PORT_RX);
    ck_assert_ptr_nonnull (secondary);
    all[2] = secondary;
    s_expect_frames (secondary, 0, 12, 0, all, 3);
    ck_assert (s_wait_counter (mirror, COLO_MIRROR_SECONDARY_FRAMES, 12, all, 3));
    ck_assert_int_eq (colo_mirror_diverged (mirror, NULL), 1);

    colo_mirror_checkpoint_done (mirror);
    ck_assert_int_eq (colo_mirror_diverged (mirror, &reason), 0);
    ck_assert_ptr_null (reason);
    ck_assert_uint_eq (s_counter (mirror, COLO_MIRROR_CHECKPOINTS), 1);

    s_send_frames (client, 1000, 20, 0, all, 3);
    s_expect_frames (primary, 1000, 20, 0, all, 3);
    s_expect_frames (secondary, 1000, 20, 0, all, 3);
    ck_assert_int_eq (colo_mirror_diverged (mirror, NULL), 0);
    ck_assert_uint_eq (s_counter (mirror, COLO_MIRROR_DIVERGENCES), 1);
    ck_assert_int_eq (atomic_load (&s_divergence_calls), 1);

    colo_mirror_stop (&mirror);
    colo_port_destroy (&secondary);
    colo_port_destroy (&primary);
    colo_port_destroy (&client);
}
END_TEST

//  A secondary that is connected but does not read never stalls the
//  primary; what it gets later is the input in order with the overflow
//  left out, and nothing is dropped silently: received + overflow = sent.
START_TEST (test_mirror_slow_secondary)
{
    char in_path[108], pri_path[108], sec_path[108];
    char in_uri[200], pri_uri[200], sec_uri[200], uri[200];
    s_path (in_path, sizeof in_path);
    s_path (pri_path, sizeof pri_path);
    s_path (sec_path, sizeof sec_path);
    snprintf (in_uri, sizeof in_uri, "qemu+unix:%s,server", in_path);
    snprintf (pri_uri, sizeof pri_uri, "qemu+unix:%s,server", pri_path);
    snprintf (sec_uri, sizeof sec_uri, "qemu+unix:%s,queue=4", sec_path);

    snprintf (uri, sizeof uri, "qemu+unix:%s,server", sec_path);
    colo_port_t *secondary = colo_port_new (uri, COLO_PORT_RX);
    ck_assert_ptr_nonnull (secondary);
    colo_mirror_config_t cfg;
    colo_mirror_config_defaults (&cfg);
    cfg.in = in_uri;
    cfg.to_primary = pri_uri;
    cfg.to_secondary = sec_uri;
    cfg.backlog = 8;
    colo_mirror_t *mirror = colo_mirror_start (&cfg);
    ck_assert_ptr_nonnull (mirror);

    snprintf (uri, sizeof uri, "qemu+unix:%s", in_path);
    colo_port_t *client = colo_port_new (uri, COLO_PORT_TX);
    snprintf (uri, sizeof uri, "qemu+unix:%s", pri_path);
    colo_port_t *primary = colo_port_new (uri, COLO_PORT_RX);
    colo_port_t *all[2] = {client, primary};

    //  About 12 MB: far more than the socket buffers of the secondary.
    const int n = 800;
    for (int done = 0; done < n; done += 100) {
        s_send_frames (client, (uint32_t) done, 100, 0, all, 2);
        s_expect_frames (primary, (uint32_t) done, 100, 0, all, 2);
    }
    ck_assert (s_wait_counter (mirror, COLO_MIRROR_IN_FRAMES, n, all, 2));
    uint64_t overflow = s_counter (mirror, COLO_MIRROR_SECONDARY_OVERFLOW);
    ck_assert_uint_gt (overflow, 0);
    ck_assert_int_eq (colo_mirror_diverged (mirror, NULL), 1);
    ck_assert_uint_eq (s_counter (mirror, COLO_MIRROR_DIVERGENCES), 1);

    //  Now read the secondary: n - overflow frames, increasing numbers.
    colo_port_t *with_sec[3] = {client, primary, secondary};
    uint64_t want = (uint64_t) n - overflow;
    uint64_t got = 0;
    int64_t last = -1;
    while (got < want) {
        colo_buf_t *bufs[64];
        int batch = want - got < 64 ? (int) (want - got) : 64;
        int rc = colo_test_recv_frames (secondary, bufs, batch, with_sec, 3, S_DEADLINE_MS);
        ck_assert_int_eq (rc, batch);
        for (int k = 0; k < rc; k++) {
            int64_t i = (int64_t) s_frame_check (bufs[k], 0);
            ck_assert_int_gt (i, last);
            last = i;
            colo_buf_destroy (&bufs[k]);
        }
        got += (uint64_t) rc;
    }
    ck_assert_uint_eq (s_counter (mirror, COLO_MIRROR_SECONDARY_FRAMES), want);
    ck_assert_uint_eq (s_counter (mirror, COLO_MIRROR_PRIMARY_FRAMES), n);

    colo_mirror_stop (&mirror);
    colo_port_destroy (&secondary);
    colo_port_destroy (&primary);
    colo_port_destroy (&client);
}
END_TEST

//  A secondary connection that breaks after frames were written on it is
//  a divergence (bytes may have been lost in flight), still set after the
//  secondary reconnects, cleared by a checkpoint.
START_TEST (test_mirror_secondary_reconnect)
{
    char in_path[108], sec_path[108], in_uri[200], sec_uri[200], uri[200];
    s_path (in_path, sizeof in_path);
    s_path (sec_path, sizeof sec_path);
    snprintf (in_uri, sizeof in_uri, "qemu+unix:%s,server", in_path);
    snprintf (sec_uri, sizeof sec_uri, "qemu+unix:%s,backoff-max=50", sec_path);
    snprintf (uri, sizeof uri, "qemu+unix:%s,server", sec_path);
    colo_port_t *secondary = colo_port_new (uri, COLO_PORT_RX);

    //  No primary: colo-mirror behind a QEMU filter-mirror.
    colo_mirror_config_t cfg;
    colo_mirror_config_defaults (&cfg);
    cfg.in = in_uri;
    cfg.to_secondary = sec_uri;
    colo_mirror_t *mirror = colo_mirror_start (&cfg);
    ck_assert_ptr_nonnull (mirror);
    snprintf (uri, sizeof uri, "qemu+unix:%s", in_path);
    colo_port_t *client = colo_port_new (uri, COLO_PORT_TX);
    colo_port_t *all[2] = {client, secondary};

    s_send_frames (client, 0, 10, 0, all, 2);
    s_expect_frames (secondary, 0, 10, 0, all, 2);
    ck_assert_int_eq (colo_mirror_diverged (mirror, NULL), 0);

    colo_port_destroy (&secondary);
    all[1] = NULL;
    ck_assert (colo_test_wait (s_is_diverged, mirror, all, 1, S_DEADLINE_MS));
    const char *reason = NULL;
    ck_assert_int_eq (colo_mirror_diverged (mirror, &reason), 1);
    ck_assert_str_eq (reason, "disconnected");
    ck_assert_uint_eq (s_counter (mirror, COLO_MIRROR_SECONDARY_BROKEN), 1);

    snprintf (uri, sizeof uri, "qemu+unix:%s,server", sec_path);
    secondary = colo_port_new (uri, COLO_PORT_RX);
    ck_assert_ptr_nonnull (secondary);
    all[1] = secondary;
    s_send_frames (client, 10, 10, 0, all, 2);
    s_expect_frames (secondary, 10, 10, 0, all, 2);
    ck_assert_int_eq (colo_mirror_diverged (mirror, NULL), 1);
    colo_mirror_checkpoint_done (mirror);
    ck_assert_int_eq (colo_mirror_diverged (mirror, NULL), 0);
    ck_assert_uint_eq (s_counter (mirror, COLO_MIRROR_SECONDARY_OVERFLOW), 0);
    ck_assert_uint_eq (s_counter (mirror, COLO_MIRROR_DIVERGENCES), 1);

    colo_mirror_stop (&mirror);
    colo_port_destroy (&secondary);
    colo_port_destroy (&client);
}
END_TEST

//  Without a primary the input is never paused, even with the secondary
//  absent: the sender is never held up, the loss is counted.
START_TEST (test_mirror_secondary_only_never_blocks)
{
    char in_path[108], sec_path[108], in_uri[200], sec_uri[200], uri[200];
    s_path (in_path, sizeof in_path);
    s_path (sec_path, sizeof sec_path);
    snprintf (in_uri, sizeof in_uri, "qemu+unix:%s,server", in_path);
    snprintf (sec_uri, sizeof sec_uri, "qemu+unix:%s,queue=2", sec_path);
    colo_mirror_config_t cfg;
    colo_mirror_config_defaults (&cfg);
    cfg.in = in_uri;
    cfg.to_secondary = sec_uri;
    cfg.backlog = 3;
    colo_mirror_t *mirror = colo_mirror_start (&cfg);
    ck_assert_ptr_nonnull (mirror);
    snprintf (uri, sizeof uri, "qemu+unix:%s", in_path);
    colo_port_t *client = colo_port_new (uri, COLO_PORT_TX);
    colo_port_t *all[1] = {client};
    const int n = 2000;
    s_send_frames (client, 0, n, 0, all, 1);
    ck_assert (s_wait_counter (mirror, COLO_MIRROR_IN_FRAMES, n, all, 1));
    ck_assert (s_wait_counter (mirror, COLO_MIRROR_SECONDARY_OVERFLOW, n - 5, all, 1));
    ck_assert_uint_eq (s_counter (mirror, COLO_MIRROR_SECONDARY_OVERFLOW), n - 5);
    ck_assert_uint_eq (s_counter (mirror, COLO_MIRROR_INPUT_PAUSED), 0);
    ck_assert_uint_eq (s_counter (mirror, COLO_MIRROR_DIVERGENCES), 1);
    colo_mirror_stop (&mirror);
    colo_port_destroy (&client);
}
END_TEST

//  An absent primary stops the input from being read (lossless primary
//  path); once it comes, both outputs get every frame in order.
START_TEST (test_mirror_primary_backpressure)
{
    char in_path[108], pri_path[108], sec_path[108];
    char in_uri[200], pri_uri[200], sec_uri[200], uri[200];
    s_path (in_path, sizeof in_path);
    s_path (pri_path, sizeof pri_path);
    s_path (sec_path, sizeof sec_path);
    snprintf (in_uri, sizeof in_uri, "qemu+unix:%s,server", in_path);
    snprintf (pri_uri, sizeof pri_uri, "qemu+unix:%s,queue=4,backoff-max=50", pri_path);
    snprintf (sec_uri, sizeof sec_uri, "qemu+unix:%s,server", sec_path);
    colo_mirror_config_t cfg;
    colo_mirror_config_defaults (&cfg);
    cfg.in = in_uri;
    cfg.to_primary = pri_uri;
    cfg.to_secondary = sec_uri;
    colo_mirror_t *mirror = colo_mirror_start (&cfg);
    ck_assert_ptr_nonnull (mirror);
    snprintf (uri, sizeof uri, "qemu+unix:%s", in_path);
    colo_port_t *client = colo_port_new (uri, COLO_PORT_TX);
    snprintf (uri, sizeof uri, "qemu+unix:%s", sec_path);
    colo_port_t *secondary = colo_port_new (uri, COLO_PORT_RX);
    colo_port_t *all[3] = {client, secondary, NULL};

    //  Small frames: all of them fit in the socket buffers, so only the
    //  mirror's pause keeps it from reading them.
    const int n = 500;
    for (int i = 0; i < n; i++) {
        colo_buf_t *buf = s_frame ((uint32_t) i, 60, 0);
        ck_assert_int_eq (colo_test_send_all (client, &buf, 1, all, 2, S_DEADLINE_MS), 1);
    }
    ck_assert (s_wait_counter (mirror, COLO_MIRROR_INPUT_PAUSED, 1, all, 2));
    uint64_t read_so_far = s_counter (mirror, COLO_MIRROR_IN_FRAMES);
    ck_assert_uint_lt (read_so_far, n);
    ck_assert_uint_le (s_counter (mirror, COLO_MIRROR_PRIMARY_FRAMES), 4);

    snprintf (uri, sizeof uri, "qemu+unix:%s,server", pri_path);
    colo_port_t *primary = colo_port_new (uri, COLO_PORT_RX);
    ck_assert_ptr_nonnull (primary);
    all[2] = primary;
    for (int i = 0; i < n; i++) {
        colo_buf_t *buf = NULL;
        ck_assert_int_eq (colo_test_recv_frames (primary, &buf, 1, all, 3, S_DEADLINE_MS), 1);
        ck_assert_uint_eq (buf->len, 60);
        uint32_t be;
        memcpy (&be, buf->data, 4);
        ck_assert_uint_eq (ntohl (be), (uint32_t) i);
        colo_buf_destroy (&buf);
    }
    for (int i = 0; i < n; i++) {
        colo_buf_t *buf = NULL;
        ck_assert_int_eq (colo_test_recv_frames (secondary, &buf, 1, all, 3, S_DEADLINE_MS),
                          1);
        uint32_t be;
        memcpy (&be, buf->data, 4);
        ck_assert_uint_eq (ntohl (be), (uint32_t) i);
        colo_buf_destroy (&buf);
    }
    ck_assert_uint_eq (s_counter (mirror, COLO_MIRROR_SECONDARY_OVERFLOW), 0);
    ck_assert_int_eq (colo_mirror_diverged (mirror, NULL), 0);
    colo_mirror_stop (&mirror);
    colo_port_destroy (&primary);
    colo_port_destroy (&secondary);
    colo_port_destroy (&client);
}
END_TEST

START_TEST (test_mirror_config_check)
{
    char err[300];
    colo_mirror_config_t cfg;
    colo_mirror_config_defaults (&cfg);
    ck_assert_uint_eq (cfg.backlog, COLO_MIRROR_BACKLOG_DEFAULT);
    ck_assert_int_eq (colo_mirror_config_check (&cfg, err, sizeof err), -1);
    ck_assert_str_eq (err, "an input URI is required");
    cfg.in = "qemu+unix:/tmp/x,server";
    ck_assert_int_eq (colo_mirror_config_check (&cfg, err, sizeof err), -1);
    ck_assert_str_eq (err, "at least one output URI is required");
    cfg.to_secondary = "zmq+tcp://127.0.0.1:1";
    ck_assert_int_eq (colo_mirror_config_check (&cfg, err, sizeof err), 0);
    cfg.backlog = 0;
    ck_assert_int_eq (colo_mirror_config_check (&cfg, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "backlog 0"));
    cfg.backlog = 5;
    cfg.busy_poll_us = 1001;
    ck_assert_int_eq (colo_mirror_config_check (&cfg, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "busy-poll 1001"));
    cfg.busy_poll_us = 1000;
    ck_assert_int_eq (colo_mirror_config_check (&cfg, err, sizeof err), 0);
    cfg.to_primary = "qemu+unix:/tmp/y,srever";
    ck_assert_int_eq (colo_mirror_config_check (&cfg, err, sizeof err), -1);
    ck_assert_str_eq (err, "'qemu+unix:/tmp/y,srever': unknown option 'srever'");
    cfg.to_primary = "carrier-pigeon:x";
    ck_assert_int_eq (colo_mirror_config_check (&cfg, err, sizeof err), -1);
    ck_assert_ptr_null (colo_mirror_start (&cfg));

    //  A port that cannot be opened: start fails cleanly.
    cfg.to_primary = "qemu+unix:/nonexistent-dir/x.sock,server";
    ck_assert_int_eq (colo_mirror_config_check (&cfg, err, sizeof err), 0);
    ck_assert_ptr_null (colo_mirror_start (&cfg));
    ck_assert_str_eq (colo_mirror_counter_names[COLO_MIRROR_SECONDARY_OVERFLOW],
                      "secondary_overflow");
}
END_TEST

Suite *
colo_mirror_suite (void)
{
    Suite *s = suite_create ("colo_mirror");
    TCase *tc = tcase_create ("mirror");
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, test_mirror_order_both);
    tcase_add_test (tc, test_mirror_absent_secondary);
    tcase_add_test (tc, test_mirror_slow_secondary);
    tcase_add_test (tc, test_mirror_secondary_reconnect);
    tcase_add_test (tc, test_mirror_secondary_only_never_blocks);
    tcase_add_test (tc, test_mirror_primary_backpressure);
    tcase_add_test (tc, test_mirror_config_check);
    suite_add_tcase (s, tc);
    return s;
}
