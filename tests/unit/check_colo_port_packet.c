/*  check_colo_port_packet.c - packet:IFNAME ports on a veth pair in a private netns.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Each test runs in its own forked process, moves it into a new network
 *  namespace and creates a veth pair there, so nothing leaks onto the host.
 *  Without root (CAP_NET_ADMIN), or unforked (CK_FORK=no), the tests say
 *  so and pass vacuously.
 */
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "colo_log.h"
#include "colo_port.h"
#include "colo_test.h"

static int
s_netns_veth (void)
{
    //  Unforked (CK_FORK=no, as `make memcheck` runs), the namespace would
    //  be the whole runner's from here on, and every later test's
    //  loopback would be down.
    const char *fork_mode = getenv ("CK_FORK");
    if (fork_mode && strcmp (fork_mode, "no") == 0) {
        fprintf (stderr, "check_colo_port_packet: runs only forked (CK_FORK=no); skipped\n");
        return 0;
    }
    if (geteuid () != 0 || unshare (CLONE_NEWNET) != 0) {
        fprintf (stderr, "check_colo_port_packet: needs root for a private netns; skipped\n");
        return 0;
    }
    int rc = system ("ip link add cva type veth peer name cvb"
                     " && ip link set cva up && ip link set cvb up"
                     " && ethtool -K cva tx off rx off >/dev/null 2>&1;"
                     " ethtool -K cvb tx off rx off >/dev/null 2>&1; true");
    ck_assert_int_eq (rc, 0);
    return 1;
}

//  An Ethernet frame: dst, src, ethertype 0x88b5 (local experimental), body.
static colo_buf_t *
s_frame (uint16_t ethertype, uint32_t body_len, uint32_t seed)
{
    colo_buf_t *buf = colo_test_frame (14 + body_len, seed);
    static const uint8_t dst[6] = {0x02, 0, 0, 0, 0, 0xbb};
    static const uint8_t src[6] = {0x02, 0, 0, 0, 0, 0xaa};
    memcpy (buf->data, dst, 6);
    memcpy (buf->data + 6, src, 6);
    buf->data[12] = (uint8_t) (ethertype >> 8);
    buf->data[13] = (uint8_t) ethertype;
    return buf;
}

//  Receive frames until one with our test ethertype(s) arrives, skipping
//  whatever the kernel itself sends on a fresh link (IPv6 router
//  solicitations and the like).
static colo_buf_t *
s_recv_test_frame (colo_port_t *port, colo_port_t *other)
{
    colo_port_t *others[1] = {other};
    while (1) {
        colo_buf_t *buf = NULL;
        if (colo_test_recv_frames (port, &buf, 1, others, 1, 3000) != 1)
            return NULL;
        uint16_t type = (uint16_t) (buf->data[12] << 8 | buf->data[13]);
        if (type == 0x88b5 || type == 0x8100 || type == 0x88a8)
            return buf;
        colo_buf_destroy (&buf);
    }
}

START_TEST (test_packet_round_trip)
{
    if (!s_netns_veth ())
        return;
    colo_port_t *a = colo_port_new ("packet:cva", COLO_PORT_RXTX);
    colo_port_t *b = colo_port_new ("packet:cvb", COLO_PORT_RXTX);
    ck_assert_ptr_nonnull (a);
    ck_assert_ptr_nonnull (b);
    ck_assert_int_eq (colo_port_connected (a), 1);
    const int count = 50;
    colo_buf_t *out[50], *want[50];
    for (int i = 0; i < count; i++) {
        out[i] = s_frame (0x88b5, 46 + (uint32_t) i * 29, (uint32_t) i);
        want[i] = colo_buf_dup (out[i]);
    }
    colo_port_t *others[1] = {b};
    ck_assert_int_eq (colo_test_send_all (a, out, count, others, 1, 3000), count);
    for (int i = 0; i < count; i++) {
        colo_buf_t *got = s_recv_test_frame (b, a);
        ck_assert_ptr_nonnull (got);
        ck_assert_uint_eq (got->len, want[i]->len);
        ck_assert_int_eq (memcmp (got->data, want[i]->data, got->len), 0);
        ck_assert_uint_gt (got->ts_ns, 0);
        colo_buf_destroy (&got);
        colo_buf_destroy (&want[i]);
    }
    //  The sender never receives what it sent itself.
    colo_buf_t *echo[4] = {NULL};
    int n = colo_port_recv (a, echo, 4);
    for (int i = 0; i < n; i++) {
        uint16_t type = (uint16_t) (echo[i]->data[12] << 8 | echo[i]->data[13]);
        ck_assert_uint_ne (type, 0x88b5);
        colo_buf_destroy (&echo[i]);
    }
    ck_assert_uint_ge (colo_port_counters (a)[COLO_PORT_TX_FRAMES], (uint64_t) count);
    ck_assert_uint_ge (colo_port_counters (b)[COLO_PORT_RX_FRAMES], (uint64_t) count);
    colo_port_destroy (&a);
    colo_port_destroy (&b);
}
END_TEST

START_TEST (test_packet_vlan_tags_survive)
{
    if (!s_netns_veth ())
        return;
    colo_port_t *a = colo_port_new ("packet:cva", COLO_PORT_TX);
    colo_port_t *b = colo_port_new ("packet:cvb", COLO_PORT_RX);
    ck_assert_ptr_nonnull (a);
    ck_assert_ptr_nonnull (b);
    //  802.1Q tag, VLAN 100 priority 3, inner ethertype 0x88b5.
    colo_buf_t *f = s_frame (0x8100, 64, 7);
    f->data[14] = 0x60;
    f->data[15] = 0x64;
    f->data[16] = 0x88;
    f->data[17] = 0xb5;
    //  802.1ad outer tag 10 over 802.1Q inner tag 20.
    colo_buf_t *q = s_frame (0x88a8, 64, 8);
    q->data[14] = 0x00;
    q->data[15] = 0x0a;
    q->data[16] = 0x81;
    q->data[17] = 0x00;
    q->data[18] = 0x00;
    q->data[19] = 0x14;
    q->data[20] = 0x88;
    q->data[21] = 0xb5;
    colo_buf_t *want[2] = {colo_buf_dup (f), colo_buf_dup (q)};
    colo_buf_t *out[2] = {f, q};
    colo_port_t *others[1] = {b};
    ck_assert_int_eq (colo_test_send_all (a, out, 2, others, 1, 3000), 2);
    for (int i = 0; i < 2; i++) {
        colo_buf_t *got = s_recv_test_frame (b, a);
        ck_assert_ptr_nonnull (got);
        ck_assert_uint_eq (got->len, want[i]->len);
        ck_assert_int_eq (memcmp (got->data, want[i]->data, got->len), 0);
        colo_buf_destroy (&got);
        colo_buf_destroy (&want[i]);
    }
    colo_port_destroy (&a);
    colo_port_destroy (&b);
}
END_TEST

START_TEST (test_packet_vnet_header_not_sent)
{
    if (!s_netns_veth ())
        return;
    colo_port_t *a = colo_port_new ("packet:cva", COLO_PORT_TX);
    colo_port_t *b = colo_port_new ("packet:cvb", COLO_PORT_RX);
    colo_buf_t *plain = s_frame (0x88b5, 50, 3);
    colo_buf_t *with_vnet = colo_buf_new (plain->len + 12);
    memset (with_vnet->data, 0xee, 12);
    memcpy (with_vnet->data + 12, plain->data, plain->len);
    with_vnet->len = plain->len + 12;
    with_vnet->vnet_hdr_len = 12;
    colo_port_t *others[1] = {b};
    ck_assert_int_eq (colo_test_send_all (a, &with_vnet, 1, others, 1, 3000), 1);
    colo_buf_t *got = s_recv_test_frame (b, a);
    ck_assert_ptr_nonnull (got);
    ck_assert_uint_eq (got->len, plain->len);
    ck_assert_int_eq (memcmp (got->data, plain->data, plain->len), 0);
    colo_buf_destroy (&got);
    colo_buf_destroy (&plain);
    colo_port_destroy (&a);
    colo_port_destroy (&b);
}
END_TEST

//  The drop count the kernel keeps for the socket bound to IFNAME (ss -0 -m:
//  skmem "d"), or -1.
static long long
s_kernel_drops (const char *ifname)
{
    char cmd[128], line[1024];
    snprintf (cmd, sizeof cmd, "ss -0 -a -m 2>/dev/null | grep ':%s '", ifname);
    FILE *f = popen (cmd, "r");
    if (!f)
        return -1;
    long long drops = -1;
    while (fgets (line, sizeof line, f)) {
        const char *d = strstr (line, ",d");
        if (d)
            drops = atoll (d + 2);
    }
    pclose (f);
    return drops;
}

//  Frames the kernel drops because the receive buffer is full never reach
//  the port; each one is counted (as an error) all the same, so a frame
//  lost on one side is never lost silently.
START_TEST (test_packet_kernel_drops_counted)
{
    if (!s_netns_veth ())
        return;
    //  One CPU: the veth delivers through that CPU's backlog, in order.
    cpu_set_t one;
    CPU_ZERO (&one);
    CPU_SET (sched_getcpu (), &one);
    sched_setaffinity (0, sizeof one, &one);
    colo_port_t *a = colo_port_new ("packet:cva", COLO_PORT_TX);
    colo_port_t *b = colo_port_new ("packet:cvb", COLO_PORT_RX);
    ck_assert_ptr_nonnull (a);
    ck_assert_ptr_nonnull (b);
    //  Far more than b's receive buffer holds, none read yet.
    const int count = 12000;
    for (int sent = 0; sent < count; sent += 200) {
        colo_buf_t *out[200];
        for (int i = 0; i < 200; i++)
            out[i] = s_frame (0x88b5, 1486, (uint32_t) (sent + i));
        ck_assert_int_eq (colo_test_send_all (a, out, 200, NULL, 0, 3000), 200);
    }
    int got = 0;
    colo_buf_t *in[64];
    int n;
    while ((n = colo_port_recv (b, in, 64)) > 0) {
        got += n;
        colo_buf_destroy_array (in, n);
    }
    ck_assert_int_lt (got, count);
    //  The drop count rides on the next frame that gets in.
    colo_buf_t *marker = s_frame (0x88b5, 46, 99999);
    marker->data[14] = 0xee;
    ck_assert_int_eq (colo_test_send_all (a, &marker, 1, NULL, 0, 3000), 1);
    for (;;) {
        colo_buf_t *buf = s_recv_test_frame (b, a);
        ck_assert_ptr_nonnull (buf);
        int is_marker = buf->len == 60 && buf->data[14] == 0xee;
        colo_buf_destroy (&buf);
        if (is_marker)
            break;
    }
    long long kernel = s_kernel_drops ("cvb");
    ck_assert_int_gt (kernel, 0);
    ck_assert_uint_eq (colo_port_counters (b)[COLO_PORT_RX_DROPPED], (uint64_t) kernel);
    colo_port_destroy (&a);
    colo_port_destroy (&b);
}
END_TEST

START_TEST (test_packet_bad_uris)
{
    ck_assert_ptr_null (colo_port_new ("packet:no-such-if0", COLO_PORT_RX));
    ck_assert_ptr_null (colo_port_new ("packet:an-interface-name-far-too-long", COLO_PORT_RX));
    ck_assert_ptr_null (colo_port_new ("packet:lo,bogus", COLO_PORT_RX));
    ck_assert_ptr_null (colo_port_new ("nosuch:thing", COLO_PORT_RX));
    ck_assert_ptr_null (colo_port_new ("packet:", COLO_PORT_RX));
    ck_assert_ptr_null (colo_port_new ("justtext", COLO_PORT_RX));
}
END_TEST

Suite *
colo_port_packet_suite (void)
{
    Suite *s = suite_create ("colo_port_packet");
    TCase *tc = tcase_create ("veth");
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, test_packet_round_trip);
    tcase_add_test (tc, test_packet_vlan_tags_survive);
    tcase_add_test (tc, test_packet_vnet_header_not_sent);
    tcase_add_test (tc, test_packet_kernel_drops_counted);
    tcase_add_test (tc, test_packet_bad_uris);
    suite_add_tcase (s, tc);
    return s;
}
