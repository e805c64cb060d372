/*  check_colo_redirector.c - tests for the colo-redirector actor.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Order across transports, backpressure (a slow output makes the input
 *  stop being read, and nothing is lost), several pairs in one process.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "colo_buf.h"
#include "colo_port.h"
#include "colo_ring.h"
#include "colo_redirector.h"
#include "colo_test.h"

#define S_DEADLINE_MS 10000

//  Frame number i of len bytes, i in the first 4 bytes.
static colo_buf_t *
s_frame (uint32_t i, uint32_t len)
{
    colo_buf_t *buf = colo_test_frame (len, i);
    ck_assert_ptr_nonnull (buf);
    uint32_t be = htonl (i);
    memcpy (buf->data, &be, 4);
    buf->vnet_hdr_len = (uint16_t) (i % 2 ? 12 : 0);
    return buf;
}

static uint32_t
s_len (uint32_t i)
{
    static const uint32_t sizes[] = {60, 1514, 65536, 14, 9000, 200};
    return sizes[i % 6];
}

//  Check buf is frame i as s_frame made it (vnet_hdr_len too if vnet).
static void
s_frame_check (colo_buf_t *buf, uint32_t i, int vnet)
{
    colo_buf_t *want = s_frame (i, s_len (i));
    ck_assert_uint_eq (buf->len, want->len);
    uint32_t be;
    memcpy (&be, buf->data, 4);
    ck_assert_uint_eq (ntohl (be), i);
    ck_assert_int_eq (memcmp (buf->data, want->data, buf->len), 0);
    if (vnet)
        ck_assert_uint_eq (buf->vnet_hdr_len, want->vnet_hdr_len);
    colo_buf_destroy (&want);
}

static void
s_path (char *buf, size_t cap)
{
    char name[64];
    colo_test_name (name, sizeof name);
    snprintf (buf, cap, "/tmp/%s.sock", name);
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

static uint64_t
s_counter (colo_redirector_t *red, int counter)
{
    uint64_t values[COLO_REDIRECTOR_COUNTER_COUNT];
    colo_redirector_counters (red, values);
    return values[counter];
}

//  The counters are a snapshot the actor publishes after each burst, so a
//  frame can reach its sink a moment before it is counted: wait (with a
//  deadline) until counter reaches want.
typedef struct {
    colo_redirector_t *red;
    int counter;
    uint64_t want;
} s_count_wait_t;

static int
s_counter_reached (void *arg)
{
    s_count_wait_t *w = (s_count_wait_t *) arg;
    return s_counter (w->red, w->counter) >= w->want;
}

static uint64_t
s_counter_wait (colo_redirector_t *red, int counter, uint64_t want)
{
    s_count_wait_t w = {red, counter, want};
    colo_test_wait (s_counter_reached, &w, NULL, 0, S_DEADLINE_MS);
    return s_counter (red, counter);
}

//  Receive frames first..first+n-1 from port, in order.
static void
s_expect (colo_port_t *port, uint32_t first, int n, int vnet, colo_port_t **others,
          int n_others)
{
    for (int i = 0; i < n; i++) {
        colo_buf_t *buf = NULL;
        ck_assert_int_eq (colo_test_recv_frames (port, &buf, 1, others, n_others,
                                                 S_DEADLINE_MS),
                          1);
        s_frame_check (buf, first + (uint32_t) i, vnet);
        colo_buf_destroy (&buf);
    }
}

static void
s_send (colo_port_t *port, uint32_t first, int n, colo_port_t **others, int n_others)
{
    for (int i = 0; i < n; i++) {
        colo_buf_t *buf = s_frame (first + (uint32_t) i, s_len (first + (uint32_t) i));
        ck_assert_int_eq (colo_test_send_all (port, &buf, 1, others, n_others,
                                              S_DEADLINE_MS),
                          1);
    }
}

//  ---------------------------------------------------------------- tests

//  qemu+tcp (vnet) in, shm out: every frame, in order, byte for byte.
START_TEST (test_redirector_order)
{
    char shm_name[64], in_uri[200], out_uri[200], uri[200];
    int tcp = s_free_tcp_port ();
    colo_test_name (shm_name, sizeof shm_name);
    snprintf (in_uri, sizeof in_uri, "qemu+tcp:127.0.0.1:%d,server,vnet", tcp);
    snprintf (out_uri, sizeof out_uri, "shm:%s", shm_name);
    colo_redirector_config_t cfg = {"t-order", in_uri, out_uri, NULL};
    colo_redirector_t *red = colo_redirector_start (&cfg);
    ck_assert_ptr_nonnull (red);

    snprintf (uri, sizeof uri, "qemu+tcp:127.0.0.1:%d,vnet", tcp);
    colo_port_t *client = colo_port_new (uri, COLO_PORT_TX);
    colo_port_t *sink = colo_port_new (out_uri, COLO_PORT_RX);
    ck_assert_ptr_nonnull (client);
    ck_assert_ptr_nonnull (sink);
    colo_port_t *all[2] = {client, sink};
    const int n = 600;
    for (int done = 0; done < n; done += 100) {
        s_send (client, (uint32_t) done, 100, all, 2);
        s_expect (sink, (uint32_t) done, 100, 1, all, 2);
    }
    ck_assert_uint_eq (s_counter_wait (red, COLO_REDIRECTOR_IN_FRAMES, n), n);
    ck_assert_uint_eq (s_counter_wait (red, COLO_REDIRECTOR_OUT_FRAMES, n), n);
    colo_redirector_stop (&red);
    ck_assert_ptr_null (red);
    colo_redirector_stop (&red);
    colo_port_destroy (&sink);
    colo_port_destroy (&client);
    colo_ring_unlink (shm_name);
}
END_TEST

typedef struct {
    colo_redirector_t *red;
    colo_port_t *client;
    uint32_t next;          //  next frame number to offer
    uint32_t total;
    colo_buf_t *held;       //  offered but not accepted
} s_feed_t;

//  Offer frames to the redirector's input; true once the redirector has
//  paused its input and the client cannot get rid of a frame.
static int
s_feed_until_paused (void *arg)
{
    s_feed_t *f = (s_feed_t *) arg;
    while (f->next < f->total || f->held) {
        if (!f->held) {
            f->held = s_frame (f->next, s_len (f->next));
            f->next++;
        }
        if (colo_port_send (f->client, &f->held, 1) != 1)
            break;
    }
    return s_counter (f->red, COLO_REDIRECTOR_INPUT_PAUSED) > 0 && f->held
           && colo_port_pending (f->client) > 0;
}

//  An output that does not read: the redirector stops reading its input,
//  so the sender is pushed back; when the output reads again every frame
//  arrives, in order.
START_TEST (test_redirector_backpressure)
{
    char in_path[108], out_path[108], in_uri[200], out_uri[200], uri[200];
    s_path (in_path, sizeof in_path);
    s_path (out_path, sizeof out_path);
    snprintf (in_uri, sizeof in_uri, "qemu+unix:%s,server", in_path);
    snprintf (out_uri, sizeof out_uri, "qemu+unix:%s,queue=4", out_path);
    snprintf (uri, sizeof uri, "qemu+unix:%s,server", out_path);
    colo_port_t *sink = colo_port_new (uri, COLO_PORT_RX);
    colo_redirector_config_t cfg = {NULL, in_uri, out_uri, NULL};
    colo_redirector_t *red = colo_redirector_start (&cfg);
    ck_assert_ptr_nonnull (red);
    snprintf (uri, sizeof uri, "qemu+unix:%s,queue=4", in_path);
    colo_port_t *client = colo_port_new (uri, COLO_PORT_TX);

    //  Far more than every buffer on the way can hold (about 300 MB).
    s_feed_t feed = {red, client, 0, 20000, NULL};
    colo_port_t *no_sink[1] = {client};
    ck_assert (colo_test_wait (s_feed_until_paused, &feed, no_sink, 1, S_DEADLINE_MS));
    uint64_t read_so_far = s_counter (red, COLO_REDIRECTOR_IN_FRAMES);
    ck_assert_uint_lt (read_so_far, feed.next);
    ck_assert_uint_lt (feed.next, feed.total);

    //  Read the output; keep feeding the rest.
    colo_port_t *all[2] = {client, sink};
    const uint32_t n = 1000;
    feed.total = n > feed.next ? n : feed.next;
    for (uint32_t i = 0; i < feed.total; i++) {
        if (feed.next < feed.total || feed.held)
            s_feed_until_paused (&feed);
        colo_buf_t *buf = NULL;
        ck_assert_int_eq (colo_test_recv_frames (sink, &buf, 1, all, 2, S_DEADLINE_MS), 1);
        s_frame_check (buf, i, 0);
        colo_buf_destroy (&buf);
    }
    ck_assert_ptr_null (feed.held);
    ck_assert_uint_eq (s_counter_wait (red, COLO_REDIRECTOR_OUT_FRAMES, feed.total), feed.total);
    ck_assert_uint_gt (s_counter (red, COLO_REDIRECTOR_INPUT_PAUSED), 0);
    colo_redirector_stop (&red);
    colo_port_destroy (&client);
    colo_port_destroy (&sink);
}
END_TEST

//  Two pairs in one process are independent: one with an absent output
//  holds its own frames while the other keeps flowing.
START_TEST (test_redirector_pairs)
{
    char p[4][108], in_uri[2][200], out_uri[2][200], uri[200];
    for (int i = 0; i < 4; i++)
        s_path (p[i], sizeof p[i]);
    for (int k = 0; k < 2; k++) {
        snprintf (in_uri[k], sizeof in_uri[k], "qemu+unix:%s,server", p[2 * k]);
        snprintf (out_uri[k], sizeof out_uri[k], "qemu+unix:%s,queue=4,backoff-max=50",
                  p[2 * k + 1]);
    }
    colo_redirector_config_t cfg_a = {"a", in_uri[0], out_uri[0], NULL};
    colo_redirector_config_t cfg_b = {"b", in_uri[1], out_uri[1], NULL};
    colo_redirector_t *a = colo_redirector_start (&cfg_a);
    colo_redirector_t *b = colo_redirector_start (&cfg_b);
    ck_assert_ptr_nonnull (a);
    ck_assert_ptr_nonnull (b);

    snprintf (uri, sizeof uri, "qemu+unix:%s", p[0]);
    colo_port_t *client_a = colo_port_new (uri, COLO_PORT_TX);
    snprintf (uri, sizeof uri, "qemu+unix:%s", p[2]);
    colo_port_t *client_b = colo_port_new (uri, COLO_PORT_TX);
    snprintf (uri, sizeof uri, "qemu+unix:%s,server", p[3]);
    colo_port_t *sink_b = colo_port_new (uri, COLO_PORT_RX);
    colo_port_t *all[4] = {client_a, client_b, sink_b, NULL};

    //  a's output is absent: a keeps what it gets, b flows.
    s_send (client_a, 0, 50, all, 3);
    s_send (client_b, 100, 200, all, 3);
    s_expect (sink_b, 100, 200, 0, all, 3);
    ck_assert_uint_le (s_counter (a, COLO_REDIRECTOR_OUT_FRAMES), 4);

    snprintf (uri, sizeof uri, "qemu+unix:%s,server", p[1]);
    colo_port_t *sink_a = colo_port_new (uri, COLO_PORT_RX);
    all[3] = sink_a;
    s_expect (sink_a, 0, 50, 0, all, 4);
    //  Counted after the burst went out (s_counter_wait).
    ck_assert_uint_eq (s_counter_wait (a, COLO_REDIRECTOR_OUT_FRAMES, 50), 50);
    ck_assert_uint_eq (s_counter_wait (b, COLO_REDIRECTOR_OUT_FRAMES, 200), 200);

    colo_redirector_stop (&b);
    colo_redirector_stop (&a);
    colo_port_destroy (&sink_a);
    colo_port_destroy (&sink_b);
    colo_port_destroy (&client_b);
    colo_port_destroy (&client_a);
}
END_TEST

START_TEST (test_redirector_config_check)
{
    char err[300];
    colo_redirector_config_t cfg = {NULL, "qemu+unix:/tmp/x,server", NULL, NULL};
    ck_assert_int_eq (colo_redirector_config_check (&cfg, err, sizeof err), -1);
    ck_assert_str_eq (err, "both an input and an output URI are required");
    ck_assert_ptr_null (colo_redirector_start (&cfg));
    cfg.out = "shm:x,size=lots";
    ck_assert_int_eq (colo_redirector_config_check (&cfg, err, sizeof err), -1);
    ck_assert_str_eq (err, "'shm:x,size=lots': option 'size' needs a number");
    cfg.out = "zmq+ipc:///tmp/x";
    ck_assert_int_eq (colo_redirector_config_check (&cfg, err, sizeof err), 0);
    cfg.in = "qemu+unix:/nonexistent-dir/x.sock,server";
    ck_assert_ptr_null (colo_redirector_start (&cfg));
    ck_assert_str_eq (colo_redirector_counter_names[COLO_REDIRECTOR_INPUT_PAUSED],
                      "input_paused");
}
END_TEST

Suite *
colo_redirector_suite (void)
{
    Suite *s = suite_create ("colo_redirector");
    TCase *tc = tcase_create ("redirector");
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, test_redirector_order);
    tcase_add_test (tc, test_redirector_backpressure);
    tcase_add_test (tc, test_redirector_pairs);
    tcase_add_test (tc, test_redirector_config_check);
    suite_add_tcase (s, tc);
    return s;
}
