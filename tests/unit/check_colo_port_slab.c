/*  check_colo_port_slab.c - a qemu+ port's frames point into its read slabs.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Frames that lie whole in one read are buffers pointing into the slab the
 *  port read them into (no copy); a slab that frames still point into is
 *  not read into again; when every slab a port may have is pinned, frames
 *  are copied.  Whichever way, every frame comes out whole and in order.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo_buf.h"
#include "colo_log.h"
#include "colo_port.h"
#include "colo_test.h"

#define S_DEADLINE_MS 20000
#define S_FRAMES 3000

typedef struct {
    colo_port_t *rx, *tx;
} s_pair_t;

static void
s_pair_open (s_pair_t *p)
{
    char name[64], server[128], client[128];
    colo_test_name (name, sizeof name);
    snprintf (server, sizeof server, "qemu+unix:@%s,server", name);
    snprintf (client, sizeof client, "qemu+unix:@%s,queue=%d", name, S_FRAMES);
    p->rx = colo_port_new (server, COLO_PORT_RX);
    p->tx = colo_port_new (client, COLO_PORT_TX);
    ck_assert_ptr_nonnull (p->rx);
    ck_assert_ptr_nonnull (p->tx);
}

static void
s_pair_close (s_pair_t *p)
{
    colo_port_destroy (&p->tx);
    colo_port_destroy (&p->rx);
}

static uint32_t
s_len (int i)
{
    return 60 + (uint32_t) ((i * 389) % 1455);
}

//  S_FRAMES frames of varied sizes (seed: of the first), in a new array.
static colo_buf_t **
s_frames (uint32_t seed)
{
    colo_buf_t **frames = (colo_buf_t **) calloc (S_FRAMES, sizeof (colo_buf_t *));
    ck_assert_ptr_nonnull (frames);
    for (int i = 0; i < S_FRAMES; i++)
        frames[i] = colo_test_frame (s_len (i), (uint32_t) i + seed);
    return frames;
}

//  Send copies of the burst of (up to) 500 frames from sent[at]; returns
//  how many.
static int
s_send_burst (s_pair_t *p, colo_buf_t **sent, int at)
{
    colo_port_t *both[2] = {p->rx, p->tx};
    colo_buf_t *burst[500];
    int n = S_FRAMES - at < 500 ? S_FRAMES - at : 500;
    for (int i = 0; i < n; i++)
        burst[i] = colo_buf_dup (sent[at + i]);
    ck_assert_int_eq (colo_test_send_all (p->tx, burst, n, both, 2, S_DEADLINE_MS), n);
    return n;
}

//  Send S_FRAMES frames of varied sizes; receive them all, keeping every
//  one if keep (so the slabs stay pinned), else freeing each at once.
//  Checks each frame against what was sent; counts slab-backed frames and
//  the distinct slabs seen.
static void
s_run (int keep, int *in_slab, int *slabs_seen)
{
    colo_log_set_level (COLO_LOG_ERROR);
    s_pair_t p;
    s_pair_open (&p);
    colo_port_t *both[2] = {p.rx, p.tx};
    colo_buf_t **sent = s_frames (1);
    colo_buf_t **got = (colo_buf_t **) calloc (S_FRAMES, sizeof (colo_buf_t *));
    const void *slabs[64];
    int nslabs = 0;
    *in_slab = 0;
    //  Sent in bursts, received as they come.
    int received = 0;
    for (int at = 0; at < S_FRAMES; at += 500) {
        int n = s_send_burst (&p, sent, at);
        int want = at + n - received;
        int k = colo_test_recv_frames (p.rx, got + received, want, both + 1, 1, S_DEADLINE_MS);
        ck_assert_int_eq (k, want);
        for (int i = received; i < received + k; i++) {
            ck_assert_uint_eq (got[i]->len, sent[i]->len);
            ck_assert_mem_eq (got[i]->data, sent[i]->data, sent[i]->len);
            if (got[i]->slab) {
                (*in_slab)++;
                int seen = 0;
                for (int s = 0; s < nslabs; s++)
                    seen |= slabs[s] == (const void *) got[i]->slab;
                if (!seen && nslabs < 64)
                    slabs[nslabs++] = got[i]->slab;
            }
            if (!keep)
                colo_buf_destroy (&got[i]);
        }
        received += k;
    }
    //  Held frames are intact after everything else was read.
    for (int i = 0; keep && i < S_FRAMES; i++)
        ck_assert_mem_eq (got[i]->data, sent[i]->data, sent[i]->len);
    *slabs_seen = nslabs;
    colo_buf_destroy_array (got, S_FRAMES);
    colo_buf_destroy_array (sent, S_FRAMES);
    free (got);
    free (sent);
    s_pair_close (&p);
}

START_TEST (test_frames_point_into_slabs)
{
    int in_slab, slabs;
    s_run (0, &in_slab, &slabs);
    //  Only frames cut by a read boundary are copies.
    ck_assert_int_gt (in_slab, S_FRAMES / 2);
    //  Freed at once, frames never pin more than a couple of slabs.
    ck_assert_int_le (slabs, 8);
}
END_TEST

START_TEST (test_pinned_slabs_then_copies)
{
    int in_slab, slabs;
    //  About 2.3 MB kept: more than the slabs a port may have (8 of
    //  256 KiB), so the later frames are copies; every one is intact.
    s_run (1, &in_slab, &slabs);
    ck_assert_int_gt (in_slab, 0);
    ck_assert_int_lt (in_slab, S_FRAMES);
    ck_assert_int_le (slabs, 8);
}
END_TEST

//  Views (colo_port_recv_views) name the slab their bytes lie in, and a
//  frame kept as a buffer in it (colo_buf_new_in) pins it as a received
//  buffer does: the port reads past it.  Every third frame is kept, enough
//  to pin every slab the port may have, so later views lie in the copy
//  buffer and say so (no slab): kept as copies.  All intact at the end.
START_TEST (test_views_name_their_slab)
{
    colo_log_set_level (COLO_LOG_ERROR);
    s_pair_t p;
    s_pair_open (&p);
    colo_port_t *both[2] = {p.rx, p.tx};
    colo_buf_t **sent = s_frames (7);
    colo_buf_t **kept = (colo_buf_t **) calloc (S_FRAMES, sizeof (colo_buf_t *));
    int received = 0, in_slab = 0, unslabbed = 0;
    for (int at = 0; at < S_FRAMES; at += 500) {
        int n = s_send_burst (&p, sent, at);
        uint64_t deadline = colo_clock_mono_ms () + S_DEADLINE_MS;
        while (received < at + n) {
            colo_frame_view_t views[64];
            int k = colo_port_recv_views (p.rx, views, 64);
            ck_assert_int_ge (k, 0);
            for (int j = 0; j < k; j++, received++) {
                const colo_frame_view_t *v = &views[j];
                ck_assert_uint_eq (v->len, sent[received]->len);
                ck_assert_mem_eq (v->data, sent[received]->data, v->len);
                if (v->slab) {
                    in_slab++;
                    const uint8_t *base = colo_buf_slab_data (v->slab);
                    ck_assert (v->data >= base
                               && v->data + v->len <= base + colo_buf_slab_size (v->slab));
                }
                else
                    unslabbed++;
                if (received % 3 == 0)
                    kept[received] = v->slab ? colo_buf_new_in (v->slab, v->data, v->len)
                                             : colo_buf_new_copy (v->data, v->len);
            }
            if (k == 0) {
                ck_assert_uint_lt (colo_clock_mono_ms (), deadline);
                colo_port_recv (p.tx, NULL, 0);   //  the sender's housekeeping: it flushes
                colo_test_poll_ports (both, 2, 20);
            }
        }
    }
    ck_assert_int_gt (in_slab, S_FRAMES / 4);
    ck_assert_int_gt (unslabbed, 0);
    for (int i = 0; i < S_FRAMES; i += 3)
        ck_assert_mem_eq (kept[i]->data, sent[i]->data, sent[i]->len);
    colo_buf_destroy_array (kept, S_FRAMES);
    colo_buf_destroy_array (sent, S_FRAMES);
    free (kept);
    free (sent);
    s_pair_close (&p);
}
END_TEST

//  Frames outlive the port that read them (the slab goes with the last).
START_TEST (test_frames_outlive_port)
{
    colo_log_set_level (COLO_LOG_ERROR);
    s_pair_t p;
    s_pair_open (&p);
    colo_port_t *both[2] = {p.rx, p.tx};
    colo_buf_t *out[16], *in[16];
    for (int i = 0; i < 16; i++)
        out[i] = colo_test_frame (100 + (uint32_t) i, 77 + (uint32_t) i);
    colo_buf_t *copy[16];
    for (int i = 0; i < 16; i++)
        copy[i] = colo_buf_dup (out[i]);
    ck_assert_int_eq (colo_test_send_all (p.tx, copy, 16, both, 2, S_DEADLINE_MS), 16);
    ck_assert_int_eq (colo_test_recv_frames (p.rx, in, 16, both + 1, 1, S_DEADLINE_MS), 16);
    s_pair_close (&p);
    for (int i = 0; i < 16; i++)
        ck_assert_mem_eq (in[i]->data, out[i]->data, out[i]->len);
    colo_buf_destroy_array (in, 16);
    colo_buf_destroy_array (out, 16);
}
END_TEST

//  Frames read into a slab and sent on by another port: runs of them go
//  out as one piece of the slab (their headers as they came), changed
//  bytes and all; what arrives is every frame, whole, in order.
START_TEST (test_relay_from_slabs)
{
    colo_log_set_level (COLO_LOG_ERROR);
    s_pair_t a, b;
    s_pair_open (&a);
    s_pair_open (&b);
    colo_port_t *all[4] = {a.rx, a.tx, b.rx, b.tx};
    enum { N = 400 };
    colo_buf_t *sent[N], *mid[N], *got[N];
    for (int i = 0; i < N; i++)
        sent[i] = colo_test_frame (s_len (i), 1000 + (uint32_t) i);
    colo_buf_t *copy[N];
    for (int i = 0; i < N; i++)
        copy[i] = colo_buf_dup (sent[i]);
    ck_assert_int_eq (colo_test_send_all (a.tx, copy, N, all, 4, S_DEADLINE_MS), N);
    ck_assert_int_eq (colo_test_recv_frames (a.rx, mid, N, all + 1, 3, S_DEADLINE_MS), N);
    int in_slab = 0;
    for (int i = 0; i < N; i++) {
        in_slab += mid[i]->slab != NULL;
        if (i % 7 == 3) {
            //  changed in place, as compare lowers an ack
            mid[i]->data[mid[i]->len - 1] ^= 0xff;
            sent[i]->data[sent[i]->len - 1] ^= 0xff;
        }
    }
    ck_assert_int_gt (in_slab, N / 2);
    ck_assert_int_eq (colo_test_send_all (b.tx, mid, N, all, 4, S_DEADLINE_MS), N);
    ck_assert_int_eq (colo_test_recv_frames (b.rx, got, N, all, 4, S_DEADLINE_MS), N);
    for (int i = 0; i < N; i++) {
        ck_assert_uint_eq (got[i]->len, sent[i]->len);
        ck_assert_mem_eq (got[i]->data, sent[i]->data, sent[i]->len);
    }
    colo_buf_destroy_array (got, N);
    colo_buf_destroy_array (sent, N);
    s_pair_close (&b);
    s_pair_close (&a);
}
END_TEST

Suite *
colo_port_slab_suite (void)
{
    Suite *s = suite_create ("colo_port_slab");
    TCase *tc = tcase_create ("slabs");
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, test_frames_point_into_slabs);
    tcase_add_test (tc, test_pinned_slabs_then_copies);
    tcase_add_test (tc, test_views_name_their_slab);
    tcase_add_test (tc, test_frames_outlive_port);
    tcase_add_test (tc, test_relay_from_slabs);
    suite_add_tcase (s, tc);
    return s;
}
