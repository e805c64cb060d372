/*  check_colo_port.c - URI parsing and dispatch of colo_port (transport-independent).
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "colo_log.h"
#include "colo_port.h"
#include "colo_ring.h"
#include "colo_test.h"

START_TEST (test_port_rejects_bad_uris)
{
    colo_log_set_level (COLO_LOG_ERROR);
    static const char *const bad[] = {
        "",          ":",          "shm",        "nosuch:x",        "qemu+unix:",
        "qemu+unix:,server",       "packet:lo,queue=0",             "packet:lo,queue=abc",
        "packet:lo,queue=-1",      "packet:lo,backoff-max=",        "packet:lo,unknown=1",
        "packet:lo,queue=99999999999999999999",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        colo_port_t *port = colo_port_new (bad[i], COLO_PORT_RX);
        ck_assert_msg (port == NULL, "accepted bad URI '%s'", bad[i]);
    }
    ck_assert_ptr_null (colo_port_new (NULL, COLO_PORT_RX));
    ck_assert_ptr_null (colo_port_new ("packet:lo", (colo_port_dir_t) 0));
}
END_TEST

START_TEST (test_port_options_and_direction)
{
    //  packet:lo exists everywhere; opening it needs CAP_NET_RAW.
    colo_port_t *port = colo_port_new ("packet:lo,queue=8K,backoff-max=100,nopromisc",
                                       COLO_PORT_RX);
    if (!port)
        return;   //  not root: the URI grammar is covered by the test above
    ck_assert_str_eq (colo_port_uri (port), "packet:lo,queue=8K,backoff-max=100,nopromisc");
    ck_assert_int_ge (colo_port_fd (port), 0);
    //  An RX-only port refuses to send and allows housekeeping recv.
    colo_buf_t *buf = colo_buf_new_copy ("x", 1);
    ck_assert_int_eq (colo_port_send (port, &buf, 1), -1);
    ck_assert_ptr_nonnull (buf);
    colo_buf_destroy (&buf);
    ck_assert_int_eq (colo_port_recv (port, NULL, 0), 0);
    const uint64_t *counters = colo_port_counters (port);
    ck_assert_ptr_nonnull (counters);
    ck_assert_str_eq (colo_port_counter_names[COLO_PORT_TX_BLOCKED], "tx_blocked");
    colo_port_destroy (&port);
    ck_assert_ptr_null (port);
    colo_port_destroy (&port);

    //  A TX-only port refuses recv with max > 0.
    port = colo_port_new ("packet:lo", COLO_PORT_TX);
    ck_assert_ptr_nonnull (port);
    colo_buf_t *in[1];
    ck_assert_int_eq (colo_port_recv (port, in, 1), -1);
    ck_assert_int_eq (colo_port_recv (port, NULL, 0), 0);
    colo_port_destroy (&port);
}
END_TEST

START_TEST (test_port_check)
{
    char err[256];
    static const char *const good[] = {
        "qemu+unix:/run/x.sock,server,vnet", "qemu+tcp:127.0.0.1:9000,queue=64",
        "zmq+tcp://*:7001,bind,hwm=100",     "zmq+ipc:///tmp/a,bind",
        "shm:vm1-pri,size=16M",              "packet:eth0,nopromisc",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ck_assert_msg (colo_port_check (good[i], COLO_PORT_RX, err, sizeof err) == 0,
                       "%s: %s", good[i], err);
    ck_assert_int_eq (colo_port_check ("shm:x", COLO_PORT_RXTX, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "one direction"));
    ck_assert_int_eq (colo_port_check ("qemu+unix:/x,sever", COLO_PORT_RX, err, sizeof err), -1);
    ck_assert_str_eq (err, "'qemu+unix:/x,sever': unknown option 'sever'");
    ck_assert_int_eq (colo_port_check ("shm:x,size=big", COLO_PORT_RX, err, sizeof err), -1);
    ck_assert_int_eq (colo_port_check ("tcp:x", COLO_PORT_RX, err, sizeof err), -1);
    ck_assert_int_eq (colo_port_check ("nothing", COLO_PORT_RX, err, sizeof err), -1);
    ck_assert_int_eq (colo_port_check (NULL, COLO_PORT_RX, err, sizeof err), -1);
}
END_TEST

//  A service's status names and values for a port's counters.
START_TEST (test_port_status_labels)
{
    char labels[COLO_PORT_COUNTER_COUNT][COLO_PORT_LABEL_MAX];
    colo_port_counter_labels ("to-compare", labels);
    ck_assert_str_eq (labels[COLO_PORT_RX_FRAMES], "to_compare.rx_frames");
    ck_assert_str_eq (labels[COLO_PORT_RX_DROPPED], "to_compare.rx_dropped");
    char name[64], uri[80];
    colo_test_name (name, sizeof name);
    snprintf (uri, sizeof uri, "shm:%s", name);
    colo_port_t *port = colo_port_new (uri, COLO_PORT_RX);
    ck_assert_ptr_nonnull (port);
    const char *names[2 + COLO_PORT_COUNTER_COUNT] = {"a", "b"};
    uint64_t values[2 + COLO_PORT_COUNTER_COUNT] = {7, 8};
    ck_assert_uint_eq (colo_port_status_append (port, labels, names, values, 2),
                       2 + COLO_PORT_COUNTER_COUNT);
    ck_assert_str_eq (names[0], "a");
    ck_assert_uint_eq (values[1], 8);
    ck_assert_str_eq (names[2 + COLO_PORT_TX_BYTES], "to_compare.tx_bytes");
    ck_assert_uint_eq (values[2 + COLO_PORT_RX_FRAMES], 0);
    colo_port_destroy (&port);
    colo_ring_unlink (name);
}
END_TEST

//  recv_views is for the transports that can lend frames (qemu+unix,
//  qemu+tcp): the others say ENOTSUP, whatever the direction; a port
//  without RX says EINVAL; an RX port with nothing to give says 0.
START_TEST (test_port_recv_views_support)
{
    colo_frame_view_t views[4];
    char name[64], uri[160];

    //  zmq: buffers only.
    colo_port_t *port = colo_port_new ("zmq+tcp://127.0.0.1:*,bind", COLO_PORT_RX);
    ck_assert_ptr_nonnull (port);
    errno = 0;
    ck_assert_int_eq (colo_port_recv_views (port, views, 4), -1);
    ck_assert_int_eq (errno, ENOTSUP);
    colo_buf_t *bufs[1];
    ck_assert_int_eq (colo_port_recv (port, bufs, 1), 0);   //  recv still works
    colo_port_destroy (&port);

    //  shm, both directions: buffers only.
    colo_test_name (name, sizeof name);
    snprintf (uri, sizeof uri, "shm:%s", name);
    colo_port_t *rx = colo_port_new (uri, COLO_PORT_RX);
    ck_assert_ptr_nonnull (rx);
    colo_port_t *tx = colo_port_new (uri, COLO_PORT_TX);
    ck_assert_ptr_nonnull (tx);
    errno = 0;
    ck_assert_int_eq (colo_port_recv_views (rx, views, 4), -1);
    ck_assert_int_eq (errno, ENOTSUP);
    errno = 0;
    ck_assert_int_eq (colo_port_recv_views (tx, views, 4), -1);
    ck_assert_int_eq (errno, ENOTSUP);
    colo_port_destroy (&tx);
    colo_port_destroy (&rx);
    colo_ring_unlink (name);

    //  qemu+unix: views; not on a send-only port, whatever max says.
    colo_test_name (name, sizeof name);
    snprintf (uri, sizeof uri, "qemu+unix:/tmp/%s.sock,server", name);
    port = colo_port_new (uri, COLO_PORT_TX);
    ck_assert_ptr_nonnull (port);
    errno = 0;
    ck_assert_int_eq (colo_port_recv_views (port, views, 4), -1);
    ck_assert_int_eq (errno, EINVAL);
    errno = 0;
    ck_assert_int_eq (colo_port_recv_views (port, views, 0), -1);
    ck_assert_int_eq (errno, EINVAL);
    colo_port_destroy (&port);
    port = colo_port_new (uri, COLO_PORT_RX);
    ck_assert_ptr_nonnull (port);
    ck_assert_int_eq (colo_port_recv_views (port, views, 4), 0);
    ck_assert_int_eq (colo_port_recv_views (port, NULL, 0), 0);
    colo_port_destroy (&port);
}
END_TEST

Suite *
colo_port_suite (void)
{
    Suite *s = suite_create ("colo_port");
    TCase *tc = tcase_create ("uri");
    tcase_add_test (tc, test_port_rejects_bad_uris);
    tcase_add_test (tc, test_port_options_and_direction);
    tcase_add_test (tc, test_port_check);
    tcase_add_test (tc, test_port_status_labels);
    tcase_add_test (tc, test_port_recv_views_support);
    suite_add_tcase (s, tc);
    return s;
}
