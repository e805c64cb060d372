/*  check_colo_ring.c - tests for the shm ring (colo_ring) and the shm: port.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  The other process of a test is a fork()ed child that opens its own
 *  attachment after the fork; it dies with its parent (PR_SET_PDEATHSIG) and
 *  is synchronised by pipes and deadlines, never by sleeping.
 */
#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "colo_envelope.h"
#include "colo_log.h"
#include "colo_ring.h"
#include "colo_test.h"

#define S_WAIT_MS 10000
#define S_SMALL COLO_RING_MIN_SIZE

//  ---------------------------------------------------------------- helpers

//  A frame whose content and metadata all follow from (len, seq).
static colo_buf_t *
s_frame (uint32_t len, uint64_t seq)
{
    colo_buf_t *buf = colo_test_frame (len, (uint32_t) seq);
    ck_assert_ptr_nonnull (buf);
    buf->seq = seq;
    buf->dir = (uint8_t) (seq % 5);
    buf->flags = (uint8_t) (seq * 7);
    buf->instance = 0xABCD0000u + (uint32_t) seq;
    buf->ts_ns = seq * 1000003u + 17;
    buf->vnet_hdr_len = len >= 12 && seq % 3 == 0 ? 12 : 0;
    return buf;
}

//  1 if buf is exactly s_frame (len, seq).
static int
s_frame_ok (const colo_buf_t *buf, uint32_t len, uint64_t seq)
{
    colo_buf_t *want = s_frame (len, seq);
    int ok = buf && buf->len == want->len && buf->seq == want->seq
             && buf->dir == want->dir && buf->flags == want->flags
             && buf->instance == want->instance && buf->ts_ns == want->ts_ns
             && buf->vnet_hdr_len == want->vnet_hdr_len
             && memcmp (buf->data, want->data, len) == 0;
    colo_buf_destroy (&want);
    return ok;
}

//  Frame lengths of the long streams: mostly small, sometimes large.
static uint32_t
s_stream_len (uint64_t seq)
{
    uint32_t h = (uint32_t) seq * 2654435761u;
    h ^= h >> 15;
    if (h % 16 == 0)
        return 16000 + h % 50000;
    if (h % 16 == 1)
        return COLO_FRAME_MAX - h % 64;
    return h % 1600;
}

static int
s_readable (int fd, int ms)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    return poll (&pfd, 1, ms) == 1 && (pfd.revents & POLLIN);
}

static const char *
s_new_name (char *buf, int cap)
{
    colo_test_name (buf, cap);
    colo_ring_unlink (buf);
    return buf;
}

//  Dequeue exactly want frames (polling the fd, up to ms), checking each
//  against s_frame (len_fn (seq), seq) from first_seq on.  Returns how many
//  arrived in order and intact.
static int
s_expect (colo_ring_t *ring, int want, uint64_t first_seq,
          uint32_t (*len_fn) (uint64_t), int ms)
{
    uint64_t deadline = colo_clock_mono_ms () + (uint64_t) ms;
    int got = 0;
    colo_buf_t *bufs[32];
    while (got < want) {
        int max = want - got < 32 ? want - got : 32;
        int k = colo_ring_dequeue (ring, bufs, max);
        int bad = 0;
        for (int i = 0; i < k; i++) {
            uint64_t seq = first_seq + (uint64_t) got;
            if (!bad && s_frame_ok (bufs[i], len_fn (seq), seq))
                got++;
            else
                bad = 1;
        }
        colo_buf_destroy_array (bufs, k);
        if (bad)
            break;
        if (k < max) {
            uint64_t now = colo_clock_mono_ms ();
            if (now >= deadline)
                break;
            s_readable (colo_ring_fd (ring), (int) (deadline - now));
        }
    }
    return got;
}

//  Enqueue frames first_seq .. first_seq+count-1 (polling while full, up to
//  ms).  Returns how many went in.
static int
s_produce (colo_ring_t *ring, int count, uint64_t first_seq,
           uint32_t (*len_fn) (uint64_t), int ms)
{
    uint64_t deadline = colo_clock_mono_ms () + (uint64_t) ms;
    int done = 0;
    while (done < count) {
        colo_buf_t *bufs[8];
        int n = count - done < 8 ? count - done : 8;
        for (int i = 0; i < n; i++) {
            uint64_t seq = first_seq + (uint64_t) (done + i);
            bufs[i] = s_frame (len_fn (seq), seq);
        }
        int k = colo_ring_enqueue (ring, bufs, n);
        colo_buf_destroy_array (bufs, n);
        if (k < 0)
            break;
        done += k;
        if (k < n) {
            uint64_t now = colo_clock_mono_ms ();
            if (now >= deadline)
                break;
            s_readable (colo_ring_fd (ring), (int) (deadline - now));
        }
    }
    return done;
}

static uint32_t
s_len_100 (uint64_t seq)
{
    (void) seq;
    return 100;
}

static uint32_t
s_len_1000 (uint64_t seq)
{
    (void) seq;
    return 1000;
}

//  In a forked child: die with the parent, and wait for a byte (or EOF).
static void
s_child_setup (void)
{
    prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static int
s_wait_byte (int fd, int ms)
{
    char c;
    return s_readable (fd, ms) && read (fd, &c, 1) == 1;
}

static void
s_kill (pid_t pid)
{
    kill (pid, SIGKILL);
    int status = 0;
    ck_assert_int_eq (waitpid (pid, &status, 0), pid);
}

static int
s_exit_code (pid_t pid)
{
    int status = 0;
    if (waitpid (pid, &status, 0) != pid || !WIFEXITED (status))
        return -1;
    return WEXITSTATUS (status);
}

//  Map the whole shm object of a ring, to corrupt it from the test.
static uint8_t *
s_map_raw (const char *name, size_t *len)
{
    char path[256];
    snprintf (path, sizeof path, "/colonet-%s", name);
    int fd = shm_open (path, O_RDWR, 0);
    ck_assert_int_ge (fd, 0);
    struct stat st;
    ck_assert_int_eq (fstat (fd, &st), 0);
    *len = (size_t) st.st_size;
    void *map = mmap (NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close (fd);
    ck_assert_ptr_ne (map, MAP_FAILED);
    return (uint8_t *) map;
}

static uint64_t
s_get64 (const uint8_t *map, size_t off)
{
    uint64_t v;
    memcpy (&v, map + off, 8);
    return v;
}

static void
s_put64 (uint8_t *map, size_t off, uint64_t v)
{
    memcpy (map + off, &v, 8);
}

#define S_TAIL 128
#define S_HEAD 256

//  ---------------------------------------------------------------- tests

START_TEST (test_open_errors)
{
    char name[64];
    s_new_name (name, sizeof name);
    ck_assert_ptr_null (colo_ring_open (NULL, COLO_RING_PRODUCER, 0));
    ck_assert_ptr_null (colo_ring_open ("", COLO_RING_PRODUCER, 0));
    ck_assert_ptr_null (colo_ring_open ("a/b", COLO_RING_PRODUCER, 0));
    ck_assert_ptr_null (colo_ring_open ("a b", COLO_RING_PRODUCER, 0));
    char longname[260];
    memset (longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    ck_assert_ptr_null (colo_ring_open (longname, COLO_RING_PRODUCER, 0));
    ck_assert_ptr_null (colo_ring_open (name, (colo_ring_role_t) 3, 0));
    ck_assert_ptr_null (colo_ring_open (name, COLO_RING_PRODUCER, 300000));
    ck_assert_ptr_null (colo_ring_open (name, COLO_RING_PRODUCER, 64 << 10));
    ck_assert_ptr_null (colo_ring_open (name, COLO_RING_PRODUCER, 2u << 30));
    //  Nothing was created by the refusals.
    ck_assert_int_eq (colo_ring_unlink (name), -1);
    ck_assert_int_eq (colo_ring_unlink ("bad/name"), -1);

    //  The wrong role for a call is refused.
    colo_ring_t *p = colo_ring_open (name, COLO_RING_PRODUCER, S_SMALL);
    ck_assert_ptr_nonnull (p);
    ck_assert_uint_eq (colo_ring_size (p), S_SMALL);
    colo_buf_t *bufs[1];
    ck_assert_int_eq (colo_ring_dequeue (p, bufs, 1), -1);
    colo_ring_t *c = colo_ring_open (name, COLO_RING_CONSUMER, 0);
    ck_assert_ptr_nonnull (c);
    ck_assert_uint_eq (colo_ring_size (c), S_SMALL);   //  an existing ring keeps its size
    ck_assert_int_eq (colo_ring_enqueue (c, bufs, 1), -1);
    ck_assert_int_eq (colo_ring_enqueue (p, bufs, 0), 0);
    ck_assert_int_eq (colo_ring_dequeue (c, bufs, 0), 0);
    colo_ring_destroy (&p);
    colo_ring_destroy (&c);
    ck_assert_ptr_null (p);
    colo_ring_destroy (&p);
    ck_assert_int_eq (colo_ring_unlink (name), 0);
}
END_TEST

START_TEST (test_unlink_removes_all)
{
    char name[64], path[128];
    s_new_name (name, sizeof name);
    colo_ring_t *p = colo_ring_open (name, COLO_RING_PRODUCER, S_SMALL);
    colo_ring_t *c = colo_ring_open (name, COLO_RING_CONSUMER, S_SMALL);
    ck_assert_ptr_nonnull (p);
    ck_assert_ptr_nonnull (c);
    const char *suffix[] = {"", ".cbell", ".pbell"};
    for (int i = 0; i < 3; i++) {
        snprintf (path, sizeof path, "/dev/shm/colonet-%s%s", name, suffix[i]);
        ck_assert_int_eq (access (path, F_OK), 0);
    }
    colo_ring_destroy (&p);
    colo_ring_destroy (&c);
    ck_assert_int_eq (colo_ring_unlink (name), 0);
    for (int i = 0; i < 3; i++) {
        snprintf (path, sizeof path, "/dev/shm/colonet-%s%s", name, suffix[i]);
        ck_assert_int_ne (access (path, F_OK), 0);
    }
    ck_assert_int_eq (colo_ring_unlink (name), -1);
}
END_TEST

START_TEST (test_roundtrip_sizes)
{
    char name[64];
    s_new_name (name, sizeof name);
    colo_ring_t *p = colo_ring_open (name, COLO_RING_PRODUCER, S_SMALL);
    colo_ring_t *c = colo_ring_open (name, COLO_RING_CONSUMER, S_SMALL);
    ck_assert_ptr_nonnull (p);
    ck_assert_ptr_nonnull (c);
    ck_assert_int_eq (colo_ring_peer_attached (p), 1);
    ck_assert_int_eq (colo_ring_peer_attached (c), 1);

    uint32_t sizes[400];
    int n = 0;
    for (uint32_t len = 0; len <= 80; len++)
        sizes[n++] = len;
    for (int k = 7; k <= 16; k++) {
        sizes[n++] = (1u << k) - 1;
        sizes[n++] = 1u << k;
        sizes[n++] = (1u << k) + 1;
    }
    for (uint32_t len = 1500; len < COLO_FRAME_MAX - 9; len += 997)
        sizes[n++] = len;
    for (uint32_t len = COLO_FRAME_MAX - 9; len <= COLO_FRAME_MAX; len++)
        sizes[n++] = len;
    ck_assert_int_le (n, 400);

    for (int i = 0; i < n; i++) {
        colo_buf_t *buf = s_frame (sizes[i], (uint64_t) i);
        ck_assert_int_eq (colo_ring_enqueue (p, &buf, 1), 1);
        colo_buf_destroy (&buf);
        //  The record, plus a pad when it did not fit before the end.
        size_t rec = (COLO_ENVELOPE_HDR_LEN + sizes[i] + 7) & ~7u;
        ck_assert_uint_ge (colo_ring_used (c), rec);
        ck_assert_uint_lt (colo_ring_used (c), 2 * rec);
        colo_buf_t *out[4] = {NULL};
        ck_assert_int_eq (colo_ring_dequeue (c, out, 4), 1);
        ck_assert_msg (s_frame_ok (out[0], sizes[i], (uint64_t) i),
                       "frame of %u bytes differs", sizes[i]);
        colo_buf_destroy (&out[0]);
        ck_assert_uint_eq (colo_ring_used (c), 0);
    }
    //  A burst of several, then a burst dequeue.
    colo_buf_t *burst[16];
    for (int i = 0; i < 16; i++)
        burst[i] = s_frame (100, 1000 + (uint64_t) i);
    ck_assert_int_eq (colo_ring_enqueue (p, burst, 16), 16);
    colo_buf_destroy_array (burst, 16);
    ck_assert_int_eq (s_expect (c, 16, 1000, s_len_100, S_WAIT_MS), 16);
    const uint64_t *pc = colo_ring_counters (p);
    const uint64_t *cc = colo_ring_counters (c);
    ck_assert_uint_eq (cc[COLO_RING_CORRUPT_RECORD] + cc[COLO_RING_CORRUPT_POSITION], 0);
    ck_assert_uint_eq (pc[COLO_RING_CORRUPT_POSITION] + pc[COLO_RING_INVALID_FRAME], 0);
    colo_ring_destroy (&p);
    ck_assert_int_eq (colo_ring_peer_attached (c), 0);
    colo_ring_destroy (&c);
    colo_ring_unlink (name);
}
END_TEST

START_TEST (test_invalid_frames_skipped)
{
    char name[64];
    s_new_name (name, sizeof name);
    colo_ring_t *p = colo_ring_open (name, COLO_RING_PRODUCER, S_SMALL);
    colo_ring_t *c = colo_ring_open (name, COLO_RING_CONSUMER, S_SMALL);
    colo_buf_t *bufs[5];
    bufs[0] = s_frame (100, 0);
    bufs[1] = NULL;
    bufs[2] = s_frame (10, 99);
    bufs[2]->vnet_hdr_len = 11;                   //  longer than the frame
    bufs[3] = s_frame (100, 98);
    bufs[3]->vnet_hdr_len = COLO_VNET_HDR_MAX + 2;
    bufs[4] = s_frame (100, 1);
    ck_assert_int_eq (colo_ring_enqueue (p, bufs, 5), 5);
    ck_assert_uint_eq (colo_ring_counters (p)[COLO_RING_INVALID_FRAME], 3);
    colo_buf_destroy_array (bufs, 5);
    ck_assert_int_eq (s_expect (c, 2, 0, s_len_100, S_WAIT_MS), 2);
    colo_buf_t *out[1];
    ck_assert_int_eq (colo_ring_dequeue (c, out, 1), 0);
    colo_ring_destroy (&p);
    colo_ring_destroy (&c);
    colo_ring_unlink (name);
}
END_TEST

START_TEST (test_wrap_mixed)
{
    char name[64];
    s_new_name (name, sizeof name);
    colo_ring_t *p = colo_ring_open (name, COLO_RING_PRODUCER, S_SMALL);
    colo_ring_t *c = colo_ring_open (name, COLO_RING_CONSUMER, S_SMALL);
    ck_assert_ptr_nonnull (p);
    ck_assert_ptr_nonnull (c);
    uint64_t next_in = 0, next_out = 0, bytes = 0;
    uint32_t x = 2463534242u;
    while (bytes < 40ull * S_SMALL) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        //  Offer a burst; take whatever it accepted.
        int n = 1 + (int) (x % 12);
        colo_buf_t *bufs[12];
        for (int i = 0; i < n; i++)
            bufs[i] = s_frame (s_stream_len (next_in + (uint64_t) i),
                               next_in + (uint64_t) i);
        int k = colo_ring_enqueue (p, bufs, n);
        ck_assert_int_ge (k, 0);
        for (int i = 0; i < k; i++)
            bytes += (COLO_ENVELOPE_HDR_LEN + bufs[i]->len + 7) & ~7u;
        colo_buf_destroy_array (bufs, n);
        next_in += (uint64_t) k;
        ck_assert_uint_le (colo_ring_used (c), S_SMALL);
        //  Take a burst of another size.
        int max = 1 + (int) ((x >> 8) % 14);
        colo_buf_t *out[14];
        int got = colo_ring_dequeue (c, out, max);
        ck_assert_int_ge (got, 0);
        for (int i = 0; i < got; i++) {
            ck_assert_msg (s_frame_ok (out[i], s_stream_len (next_out), next_out),
                           "frame %llu differs", (unsigned long long) next_out);
            next_out++;
        }
        colo_buf_destroy_array (out, got);
        ck_assert_uint_le (next_out, next_in);
    }
    //  Drain what is left.
    int left = (int) (next_in - next_out);
    ck_assert_int_eq (s_expect (c, left, next_out, s_stream_len, S_WAIT_MS), left);
    ck_assert_uint_eq (colo_ring_used (c), 0);
    const uint64_t *cc = colo_ring_counters (c);
    ck_assert_uint_eq (cc[COLO_RING_CORRUPT_RECORD] + cc[COLO_RING_CORRUPT_POSITION], 0);
    colo_ring_destroy (&p);
    colo_ring_destroy (&c);
    colo_ring_unlink (name);
}
END_TEST

//  Full ring: enqueue takes fewer, and the consumer (another process)
//  freeing space makes the producer's fd readable.
START_TEST (test_full_wakes_producer)
{
    char name[64];
    s_new_name (name, sizeof name);
    int go[2];
    ck_assert_int_eq (pipe (go), 0);
    const int total = 1000;   //  about 4 rings' worth of 1000-byte frames
    pid_t pid = fork ();
    ck_assert_int_ge (pid, 0);
    if (pid == 0) {
        s_child_setup ();
        close (go[1]);
        if (!s_wait_byte (go[0], S_WAIT_MS))
            _exit (2);
        colo_ring_t *c = colo_ring_open (name, COLO_RING_CONSUMER, S_SMALL);
        if (!c)
            _exit (3);
        int got = s_expect (c, total, 0, s_len_1000, 3 * S_WAIT_MS);
        colo_ring_destroy (&c);
        _exit (got == total ? 0 : 1);
    }
    close (go[0]);
    colo_ring_t *p = colo_ring_open (name, COLO_RING_PRODUCER, S_SMALL);
    ck_assert_ptr_nonnull (p);
    ck_assert_int_eq (colo_ring_peer_attached (p), 0);
    //  Fill: with no consumer, the ring takes about size / 1032 frames.
    int sent = 0;
    while (sent < total) {
        colo_buf_t *buf = s_frame (1000, (uint64_t) sent);
        int k = colo_ring_enqueue (p, &buf, 1);
        colo_buf_destroy (&buf);
        if (k == 0)
            break;
        sent++;
    }
    ck_assert_int_eq (sent, S_SMALL / 1032);
    ck_assert_uint_gt (colo_ring_used (p), S_SMALL - 1032);
    ck_assert_int_eq (s_readable (colo_ring_fd (p), 0), 0);
    //  Still full: a retry takes nothing and leaves the fd quiet.
    colo_buf_t *buf = s_frame (1000, (uint64_t) sent);
    ck_assert_int_eq (colo_ring_enqueue (p, &buf, 1), 0);
    colo_buf_destroy (&buf);
    ck_assert_int_eq (s_readable (colo_ring_fd (p), 0), 0);
    //  Let the consumer run: its first dequeue rings us.
    ck_assert_int_eq (write (go[1], "g", 1), 1);
    ck_assert_int_eq (s_readable (colo_ring_fd (p), S_WAIT_MS), 1);
    ck_assert_uint_ge (colo_ring_counters (p)[COLO_RING_WAITS], 1);
    ck_assert_int_eq (s_produce (p, total - sent, (uint64_t) sent, s_len_1000,
                                 3 * S_WAIT_MS),
                      total - sent);
    ck_assert_int_eq (s_exit_code (pid), 0);
    ck_assert_uint_ge (colo_ring_counters (p)[COLO_RING_WAITS], 2);
    colo_ring_destroy (&p);
    close (go[1]);
    colo_ring_unlink (name);
}
END_TEST

//  Empty ring: the consumer's fd becomes readable when the producer (another
//  process) enqueues, and is quiet again once drained.
START_TEST (test_empty_wakes_consumer)
{
    char name[64];
    s_new_name (name, sizeof name);
    int go[2];
    ck_assert_int_eq (pipe (go), 0);
    colo_ring_t *c = NULL;
    pid_t pid = fork ();
    ck_assert_int_ge (pid, 0);
    if (pid == 0) {
        s_child_setup ();
        close (go[1]);
        if (!s_wait_byte (go[0], S_WAIT_MS))
            _exit (2);
        colo_ring_t *p = colo_ring_open (name, COLO_RING_PRODUCER, S_SMALL);
        if (!p)
            _exit (3);
        colo_buf_t *buf = s_frame (100, 0);
        int k = colo_ring_enqueue (p, &buf, 1);
        colo_buf_destroy (&buf);
        //  Stay attached until the parent closes the pipe.
        s_wait_byte (go[0], S_WAIT_MS);
        colo_ring_destroy (&p);
        _exit (k == 1 ? 0 : 1);
    }
    close (go[0]);
    c = colo_ring_open (name, COLO_RING_CONSUMER, S_SMALL);
    ck_assert_ptr_nonnull (c);
    colo_buf_t *out[4];
    ck_assert_int_eq (colo_ring_dequeue (c, out, 4), 0);
    ck_assert_int_eq (s_readable (colo_ring_fd (c), 0), 0);
    ck_assert_int_eq (colo_ring_dequeue (c, out, 4), 0);
    ck_assert_int_eq (s_readable (colo_ring_fd (c), 0), 0);
    ck_assert_int_eq (write (go[1], "g", 1), 1);
    ck_assert_int_eq (s_readable (colo_ring_fd (c), S_WAIT_MS), 1);
    ck_assert_int_eq (colo_ring_dequeue (c, out, 4), 1);
    ck_assert (s_frame_ok (out[0], 100, 0));
    colo_buf_destroy (&out[0]);
    //  The doorbell byte was consumed: no busy loop.
    ck_assert_int_eq (s_readable (colo_ring_fd (c), 0), 0);
    ck_assert_int_eq (colo_ring_dequeue (c, out, 4), 0);
    ck_assert_int_eq (s_readable (colo_ring_fd (c), 0), 0);
    ck_assert_uint_eq (colo_ring_counters (c)[COLO_RING_BELLS_RUNG], 0);
    close (go[1]);
    ck_assert_int_eq (s_exit_code (pid), 0);
    colo_ring_destroy (&c);
    colo_ring_unlink (name);
}
END_TEST

//  A stray byte in the consumer's FIFO (say, from a producer that died
//  after taking the flag) costs one wake-up, not a busy loop.
START_TEST (test_stale_doorbell_drained)
{
    char name[64], path[128];
    s_new_name (name, sizeof name);
    colo_ring_t *c = colo_ring_open (name, COLO_RING_CONSUMER, S_SMALL);
    ck_assert_ptr_nonnull (c);
    colo_buf_t *out[4];
    ck_assert_int_eq (colo_ring_dequeue (c, out, 4), 0);
    snprintf (path, sizeof path, "/dev/shm/colonet-%s.cbell", name);
    int fd = open (path, O_WRONLY | O_NONBLOCK);
    ck_assert_int_ge (fd, 0);
    ck_assert_int_eq (write (fd, "xyz", 3), 3);
    close (fd);
    ck_assert_int_eq (s_readable (colo_ring_fd (c), 0), 1);
    ck_assert_int_eq (colo_ring_dequeue (c, out, 4), 0);
    ck_assert_int_eq (s_readable (colo_ring_fd (c), 0), 0);
    colo_ring_destroy (&c);
    colo_ring_unlink (name);
}
END_TEST

START_TEST (test_roles_exclusive)
{
    char name[64];
    s_new_name (name, sizeof name);
    colo_ring_t *p1 = colo_ring_open (name, COLO_RING_PRODUCER, S_SMALL);
    ck_assert_ptr_nonnull (p1);
    ck_assert_ptr_null (colo_ring_open (name, COLO_RING_PRODUCER, S_SMALL));
    colo_ring_t *c1 = colo_ring_open (name, COLO_RING_CONSUMER, S_SMALL);
    ck_assert_ptr_nonnull (c1);
    ck_assert_ptr_null (colo_ring_open (name, COLO_RING_CONSUMER, S_SMALL));
    ck_assert_int_eq (colo_ring_peer_attached (c1), 1);
    colo_ring_destroy (&p1);
    ck_assert_int_eq (colo_ring_peer_attached (c1), 0);
    p1 = colo_ring_open (name, COLO_RING_PRODUCER, S_SMALL);
    ck_assert_ptr_nonnull (p1);
    colo_ring_destroy (&p1);

    //  A producer in another process holds the role until it is killed.
    int ready[2], hold[2];
    ck_assert_int_eq (pipe (ready), 0);
    ck_assert_int_eq (pipe (hold), 0);
    pid_t pid = fork ();
    ck_assert_int_ge (pid, 0);
    if (pid == 0) {
        s_child_setup ();
        close (ready[0]);
        close (hold[1]);
        colo_ring_t *p = colo_ring_open (name, COLO_RING_PRODUCER, S_SMALL);
        if (!p)
            _exit (3);
        if (write (ready[1], "r", 1) != 1)
            _exit (4);
        char ch;
        while (read (hold[0], &ch, 1) > 0)
            ;
        _exit (0);
    }
    close (ready[1]);
    close (hold[0]);
    ck_assert_int_eq (s_wait_byte (ready[0], S_WAIT_MS), 1);
    ck_assert_ptr_null (colo_ring_open (name, COLO_RING_PRODUCER, S_SMALL));
    ck_assert_int_eq (colo_ring_peer_attached (c1), 1);
    s_kill (pid);
    ck_assert_int_eq (colo_ring_peer_attached (c1), 0);
    p1 = colo_ring_open (name, COLO_RING_PRODUCER, S_SMALL);
    ck_assert_ptr_nonnull (p1);
    ck_assert_int_eq (colo_ring_peer_attached (p1), 1);
    colo_ring_destroy (&p1);
    colo_ring_destroy (&c1);
    close (ready[0]);
    close (hold[1]);
    colo_ring_unlink (name);
}
END_TEST

//  A producer killed in the middle of a long stream: every frame whose
//  enqueue returned arrives, in order, intact; a new producer continues.
START_TEST (test_producer_killed)
{
    char name[64];
    s_new_name (name, sizeof name);
    _Atomic uint64_t *confirmed = (_Atomic uint64_t *) mmap (
        NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne (confirmed, MAP_FAILED);
    atomic_store (confirmed, 0);
    const int burst = 8;
    pid_t pid = fork ();
    ck_assert_int_ge (pid, 0);
    if (pid == 0) {
        s_child_setup ();
        colo_ring_t *p = colo_ring_open (name, COLO_RING_PRODUCER, S_SMALL);
        if (!p)
            _exit (3);
        for (uint64_t seq = 0;;) {
            colo_buf_t *bufs[8];
            int n = 1 + (int) (seq % (uint64_t) burst);
            for (int i = 0; i < n; i++)
                bufs[i] = s_frame (s_stream_len (seq + (uint64_t) i), seq + (uint64_t) i);
            int off = 0;
            while (off < n) {
                int k = colo_ring_enqueue (p, bufs + off, n - off);
                if (k > 0) {
                    off += k;
                    atomic_store (confirmed, seq + (uint64_t) off);
                }
                else
                    s_readable (colo_ring_fd (p), 1000);
            }
            colo_buf_destroy_array (bufs, n);
            seq += (uint64_t) n;
        }
    }
    colo_ring_t *c = colo_ring_open (name, COLO_RING_CONSUMER, S_SMALL);
    ck_assert_ptr_nonnull (c);
    int got = s_expect (c, 3000, 0, s_stream_len, 3 * S_WAIT_MS);
    ck_assert_int_eq (got, 3000);
    s_kill (pid);
    //  (The child publishes a burst before it notes it as confirmed.)
    uint64_t sure = atomic_load (confirmed);
    ck_assert_uint_ge (sure + (uint64_t) burst, 3000);
    //  Take everything that is left; nothing more can come.
    colo_buf_t *out[32];
    uint64_t next = 3000;
    int k;
    while ((k = colo_ring_dequeue (c, out, 32)) > 0) {
        for (int i = 0; i < k; i++) {
            ck_assert_msg (s_frame_ok (out[i], s_stream_len (next), next),
                           "frame %llu differs", (unsigned long long) next);
            next++;
        }
        colo_buf_destroy_array (out, k);
    }
    //  Everything confirmed, plus at most the burst it was publishing.
    ck_assert_uint_ge (next, sure);
    ck_assert_uint_le (next, sure + (uint64_t) burst);
    ck_assert_uint_eq (colo_ring_used (c), 0);
    //  A new producer takes over at the published tail.
    colo_ring_t *p = colo_ring_open (name, COLO_RING_PRODUCER, S_SMALL);
    ck_assert_ptr_nonnull (p);
    for (int i = 0; i < 100; i++, next += 2) {   //  two largest frames fit
        ck_assert_int_eq (s_produce (p, 2, next, s_stream_len, S_WAIT_MS), 2);
        ck_assert_int_eq (s_expect (c, 2, next, s_stream_len, S_WAIT_MS), 2);
    }
    const uint64_t *cc = colo_ring_counters (c);
    ck_assert_uint_eq (cc[COLO_RING_CORRUPT_RECORD] + cc[COLO_RING_CORRUPT_POSITION], 0);
    colo_ring_destroy (&p);
    colo_ring_destroy (&c);
    munmap ((void *) confirmed, 4096);
    colo_ring_unlink (name);
}
END_TEST

//  A record half written past the published tail (a producer that died
//  mid-write) is never seen; the next producer overwrites it.
START_TEST (test_partial_record_invisible)
{
    char name[64];
    s_new_name (name, sizeof name);
    colo_ring_t *p = colo_ring_open (name, COLO_RING_PRODUCER, S_SMALL);
    colo_ring_t *c = colo_ring_open (name, COLO_RING_CONSUMER, S_SMALL);
    ck_assert_int_eq (s_produce (p, 3, 0, s_len_100, S_WAIT_MS), 3);
    size_t len = 0;
    uint8_t *map = s_map_raw (name, &len);
    uint64_t tail = s_get64 (map, S_TAIL);
    ck_assert_uint_eq (tail, 3 * 136);
    //  Half a record of 5000 bytes, valid header and all.
    colo_buf_t *half = s_frame (5000, 77);
    uint8_t *at = map + COLO_RING_HEADER_SIZE + tail;
    colo_envelope_encode_header (half, at);
    memcpy (at + COLO_ENVELOPE_HDR_LEN, half->data, 2500);
    colo_buf_destroy (&half);
    colo_ring_destroy (&p);
    ck_assert_int_eq (s_expect (c, 3, 0, s_len_100, S_WAIT_MS), 3);
    colo_buf_t *out[4];
    ck_assert_int_eq (colo_ring_dequeue (c, out, 4), 0);
    p = colo_ring_open (name, COLO_RING_PRODUCER, S_SMALL);
    ck_assert_ptr_nonnull (p);
    ck_assert_int_eq (s_produce (p, 2, 3, s_len_100, S_WAIT_MS), 2);
    ck_assert_int_eq (s_expect (c, 2, 3, s_len_100, S_WAIT_MS), 2);
    ck_assert_uint_eq (colo_ring_counters (c)[COLO_RING_CORRUPT_RECORD], 0);
    munmap (map, len);
    colo_ring_destroy (&p);
    colo_ring_destroy (&c);
    colo_ring_unlink (name);
}
END_TEST

//  Frames enqueued while no consumer is attached, or after a consumer was
//  killed, all reach the next consumer.
START_TEST (test_consumer_restart)
{
    char name[64];
    s_new_name (name, sizeof name);
    colo_ring_t *p = colo_ring_open (name, COLO_RING_PRODUCER, S_SMALL);
    ck_assert_ptr_nonnull (p);
    ck_assert_int_eq (s_produce (p, 50, 0, s_len_100, S_WAIT_MS), 50);
    colo_ring_t *c = colo_ring_open (name, COLO_RING_CONSUMER, S_SMALL);
    ck_assert_ptr_nonnull (c);
    ck_assert_int_eq (s_expect (c, 20, 0, s_len_100, S_WAIT_MS), 20);
    colo_ring_destroy (&c);
    ck_assert_int_eq (s_produce (p, 30, 50, s_len_100, S_WAIT_MS), 30);
    c = colo_ring_open (name, COLO_RING_CONSUMER, S_SMALL);
    ck_assert_int_eq (s_expect (c, 60, 20, s_len_100, S_WAIT_MS), 60);
    colo_ring_destroy (&c);

    //  A consumer process takes 25 frames, then is killed.
    int ready[2];
    ck_assert_int_eq (pipe (ready), 0);
    ck_assert_int_eq (s_produce (p, 40, 80, s_len_100, S_WAIT_MS), 40);
    pid_t pid = fork ();
    ck_assert_int_ge (pid, 0);
    if (pid == 0) {
        s_child_setup ();
        close (ready[0]);
        colo_ring_t *cc = colo_ring_open (name, COLO_RING_CONSUMER, S_SMALL);
        if (!cc)
            _exit (3);
        if (s_expect (cc, 25, 80, s_len_100, S_WAIT_MS) != 25)
            _exit (1);
        if (write (ready[1], "r", 1) != 1)
            _exit (4);
        for (;;)
            pause ();
    }
    close (ready[1]);
    ck_assert_int_eq (s_wait_byte (ready[0], S_WAIT_MS), 1);
    s_kill (pid);
    close (ready[0]);
    ck_assert_int_eq (s_produce (p, 10, 120, s_len_100, S_WAIT_MS), 10);
    c = colo_ring_open (name, COLO_RING_CONSUMER, S_SMALL);
    ck_assert_ptr_nonnull (c);
    ck_assert_int_eq (s_expect (c, 25, 105, s_len_100, S_WAIT_MS), 25);
    colo_buf_t *out[4];
    ck_assert_int_eq (colo_ring_dequeue (c, out, 4), 0);
    colo_ring_destroy (&c);
    colo_ring_destroy (&p);
    colo_ring_unlink (name);
}
END_TEST

//  Garbage in the records: counted, skipped, and the ring carries on.
START_TEST (test_corrupt_records)
{
    char name[64];
    s_new_name (name, sizeof name);
    colo_ring_t *p = colo_ring_open (name, COLO_RING_PRODUCER, S_SMALL);
    colo_ring_t *c = colo_ring_open (name, COLO_RING_CONSUMER, S_SMALL);
    size_t len = 0;
    uint8_t *map = s_map_raw (name, &len);
    uint8_t *data = map + COLO_RING_HEADER_SIZE;
    const uint64_t *cc = colo_ring_counters (c);
    const size_t rec = 136;   //  a 100-byte frame's record
    uint64_t seq = 0;

    //  Each case: three records; the second is damaged; the first arrives,
    //  the rest is skipped; a later record arrives.
    for (int variant = 0; variant < 7; variant++) {
        uint64_t base = s_get64 (map, S_TAIL);
        ck_assert_int_eq (s_produce (p, 3, seq, s_len_100, S_WAIT_MS), 3);
        uint8_t *second = data + ((base + rec) & (S_SMALL - 1));
        uint32_t v32;
        uint16_t v16;
        switch (variant) {
            case 0:
                second[0] = 0x55;   //  bad magic
                break;
            case 1:
                second[1] = 9;      //  bad version
                break;
            case 2:
                v32 = 0xFFFFFFF0u;  //  length beyond any frame
                memcpy (second + 28, &v32, 4);
                break;
            case 3:
                v32 = 5000;         //  length beyond the published tail
                memcpy (second + 28, &v32, 4);
                break;
            case 4:
                v16 = 101;          //  vnet_hdr_len > len
                memcpy (second + 24, &v16, 2);
                break;
            case 5: {
                uint64_t mark = COLO_RING_PAD_MARK;   //  a pad that is not at the end
                memcpy (second, &mark, 8);
                break;
            }
            default:
                memset (second, 0, 8);   //  zeroes
                break;
        }
        uint64_t before = cc[COLO_RING_CORRUPT_RECORD];
        colo_buf_t *out[8];
        int got = colo_ring_dequeue (c, out, 8);
        ck_assert_int_eq (got, 1);
        ck_assert (s_frame_ok (out[0], 100, seq));
        colo_buf_destroy (&out[0]);
        ck_assert_uint_eq (cc[COLO_RING_CORRUPT_RECORD], before + 1);
        ck_assert_uint_eq (colo_ring_used (c), 0);
        seq += 3;
        ck_assert_int_eq (s_produce (p, 1, seq, s_len_100, S_WAIT_MS), 1);
        ck_assert_int_eq (s_expect (c, 1, seq, s_len_100, S_WAIT_MS), 1);
        seq++;
    }
    munmap (map, len);
    colo_ring_destroy (&p);
    colo_ring_destroy (&c);
    colo_ring_unlink (name);
}
END_TEST

//  Garbage in the published positions: counted, resynchronised, no crash.
START_TEST (test_corrupt_positions)
{
    char name[64];
    s_new_name (name, sizeof name);
    colo_ring_t *p = colo_ring_open (name, COLO_RING_PRODUCER, S_SMALL);
    colo_ring_t *c = colo_ring_open (name, COLO_RING_CONSUMER, S_SMALL);
    size_t len = 0;
    uint8_t *map = s_map_raw (name, &len);
    const uint64_t *cc = colo_ring_counters (c);
    const uint64_t *pc = colo_ring_counters (p);
    colo_buf_t *out[8];

    //  A tail far ahead: the consumer skips to it, then back to the real one.
    ck_assert_int_eq (s_produce (p, 2, 0, s_len_100, S_WAIT_MS), 2);
    s_put64 (map, S_TAIL, s_get64 (map, S_TAIL) + 10 * (uint64_t) S_SMALL);
    ck_assert_int_eq (colo_ring_dequeue (c, out, 8), 0);
    ck_assert_uint_eq (cc[COLO_RING_CORRUPT_POSITION], 1);
    ck_assert_int_eq (s_produce (p, 1, 2, s_len_100, S_WAIT_MS), 1);
    ck_assert_int_eq (colo_ring_dequeue (c, out, 8), 0);   //  skipped back
    ck_assert_uint_eq (cc[COLO_RING_CORRUPT_POSITION], 2);
    ck_assert_int_eq (s_produce (p, 1, 3, s_len_100, S_WAIT_MS), 1);
    ck_assert_int_eq (s_expect (c, 1, 3, s_len_100, S_WAIT_MS), 1);

    //  A misaligned tail: counted, nothing read; the next store fixes it.
    s_put64 (map, S_TAIL, s_get64 (map, S_TAIL) + 3);
    ck_assert_int_eq (colo_ring_dequeue (c, out, 8), 0);
    ck_assert_uint_eq (cc[COLO_RING_CORRUPT_POSITION], 3);
    ck_assert_int_eq (s_produce (p, 1, 4, s_len_100, S_WAIT_MS), 1);
    ck_assert_int_eq (s_expect (c, 1, 4, s_len_100, S_WAIT_MS), 1);

    //  A head beyond the tail: the producer counts it and treats the ring as
    //  full; the consumer's next store of its head repairs it.
    uint64_t real_head = s_get64 (map, S_HEAD);
    s_put64 (map, S_HEAD, real_head + 10 * (uint64_t) S_SMALL);
    int taken = s_produce (p, 5000, 5, s_len_100, 0);
    ck_assert_int_lt (taken, 5000);
    ck_assert_uint_ge (pc[COLO_RING_CORRUPT_POSITION], 1);
    ck_assert_int_eq (s_expect (c, taken, 5, s_len_100, S_WAIT_MS), taken);
    ck_assert_int_eq (s_produce (p, 10, 5 + (uint64_t) taken, s_len_100, S_WAIT_MS), 10);
    ck_assert_int_eq (s_expect (c, 10, 5 + (uint64_t) taken, s_len_100, S_WAIT_MS), 10);
    ck_assert_uint_eq (cc[COLO_RING_CORRUPT_RECORD], 0);

    //  Impossible positions seen when attaching are repaired.
    colo_ring_destroy (&p);
    colo_ring_destroy (&c);
    s_put64 (map, S_HEAD, 12345);
    s_put64 (map, S_TAIL, 7);
    c = colo_ring_open (name, COLO_RING_CONSUMER, S_SMALL);
    ck_assert_ptr_nonnull (c);
    ck_assert_uint_eq (colo_ring_counters (c)[COLO_RING_CORRUPT_POSITION], 1);
    p = colo_ring_open (name, COLO_RING_PRODUCER, S_SMALL);
    ck_assert_ptr_nonnull (p);
    ck_assert_int_eq (s_produce (p, 3, 100, s_len_100, S_WAIT_MS), 3);
    //  The consumer may lose what came before it could resynchronise, but
    //  then delivers again.
    for (int i = 0; i < 3; i++) {
        int k = colo_ring_dequeue (c, out, 8);
        colo_buf_destroy_array (out, k > 0 ? k : 0);
    }
    ck_assert_int_eq (s_produce (p, 3, 200, s_len_100, S_WAIT_MS), 3);
    ck_assert_int_eq (s_expect (c, 3, 200, s_len_100, S_WAIT_MS), 3);
    munmap (map, len);
    colo_ring_destroy (&p);
    colo_ring_destroy (&c);
    colo_ring_unlink (name);
}
END_TEST

//  A damaged header is refused at attach; an empty object is initialised.
START_TEST (test_corrupt_header)
{
    char name[64], path[128];
    s_new_name (name, sizeof name);
    colo_ring_t *p = colo_ring_open (name, COLO_RING_PRODUCER, S_SMALL);
    ck_assert_ptr_nonnull (p);
    ck_assert_int_eq (s_produce (p, 3, 0, s_len_100, S_WAIT_MS), 3);
    colo_ring_destroy (&p);
    size_t len = 0;
    uint8_t *map = s_map_raw (name, &len);
    uint8_t saved[32];
    memcpy (saved, map, 32);
    struct {
        size_t off;
        uint64_t value;
        int width;
    } damage[] = {
        {0, 0x4141414141414141ull, 8},   //  magic
        {8, 2, 4},                       //  version
        {12, 512, 4},                    //  header size
        {16, 12345, 8},                  //  data size, not a power of two
        {16, 2 * S_SMALL, 8},            //  data size, not the object's
        {16, 0, 8},
    };
    for (size_t i = 0; i < sizeof damage / sizeof damage[0]; i++) {
        memcpy (map + damage[i].off, &damage[i].value, (size_t) damage[i].width);
        ck_assert_ptr_null (colo_ring_open (name, COLO_RING_PRODUCER, S_SMALL));
        ck_assert_ptr_null (colo_ring_open (name, COLO_RING_CONSUMER, S_SMALL));
        memcpy (map, saved, 32);
    }
    munmap (map, len);
    //  Restored, the frames are still there.
    colo_ring_t *c = colo_ring_open (name, COLO_RING_CONSUMER, S_SMALL);
    ck_assert_ptr_nonnull (c);
    ck_assert_int_eq (s_expect (c, 3, 0, s_len_100, S_WAIT_MS), 3);
    colo_ring_destroy (&c);
    ck_assert_int_eq (colo_ring_unlink (name), 0);

    //  Not a ring at all.
    snprintf (path, sizeof path, "/colonet-%s", name);
    int fd = shm_open (path, O_RDWR | O_CREAT | O_EXCL, 0600);
    ck_assert_int_ge (fd, 0);
    ck_assert_int_eq (write (fd, "hello, this is not a ring at all", 32), 32);
    ck_assert_ptr_null (colo_ring_open (name, COLO_RING_CONSUMER, S_SMALL));
    //  An object left empty by a creator that died is initialised.
    ck_assert_int_eq (ftruncate (fd, 0), 0);
    close (fd);
    c = colo_ring_open (name, COLO_RING_CONSUMER, S_SMALL);
    ck_assert_ptr_nonnull (c);
    ck_assert_uint_eq (colo_ring_size (c), S_SMALL);
    colo_ring_destroy (&c);
    colo_ring_unlink (name);
}
END_TEST

//  ---------------------------------------------------------------- port

START_TEST (test_port_roundtrip)
{
    char name[64], uri[128];
    s_new_name (name, sizeof name);
    snprintf (uri, sizeof uri, "shm:%s,size=256K", name);
    colo_port_t *tx = colo_port_new (uri, COLO_PORT_TX);
    ck_assert_ptr_nonnull (tx);
    ck_assert_int_eq (colo_port_connected (tx), 0);
    snprintf (uri, sizeof uri, "shm:%s", name);
    colo_port_t *rx = colo_port_new (uri, COLO_PORT_RX);
    ck_assert_ptr_nonnull (rx);
    ck_assert_int_eq (colo_port_connected (tx), 1);
    ck_assert_int_eq (colo_port_connected (rx), 1);
    ck_assert_int_ge (colo_port_fd (tx), 0);
    ck_assert_int_ge (colo_port_fd (rx), 0);

    const int n = 100;
    colo_buf_t *bufs[100];
    uint64_t bytes = 0;
    for (int i = 0; i < n; i++) {
        bufs[i] = s_frame ((uint32_t) (i * 13), (uint64_t) i);
        bytes += (uint64_t) i * 13;
    }
    ck_assert_int_eq (colo_test_send_all (tx, bufs, n, &rx, 1, S_WAIT_MS), n);
    for (int i = 0; i < n; i++)
        ck_assert_ptr_null (bufs[i]);   //  ownership passed
    ck_assert_int_eq (colo_port_pending (tx), 0);
    colo_buf_t *out[100];
    ck_assert_int_eq (colo_test_recv_frames (rx, out, n, &tx, 1, S_WAIT_MS), n);
    for (int i = 0; i < n; i++)
        ck_assert (s_frame_ok (out[i], (uint32_t) (i * 13), (uint64_t) i));
    colo_buf_destroy_array (out, n);
    const uint64_t *tc = colo_port_counters (tx);
    const uint64_t *rc = colo_port_counters (rx);
    ck_assert_uint_eq (tc[COLO_PORT_TX_FRAMES], n);
    ck_assert_uint_eq (tc[COLO_PORT_TX_BYTES], bytes);
    ck_assert_uint_eq (rc[COLO_PORT_RX_FRAMES], n);
    ck_assert_uint_eq (rc[COLO_PORT_RX_BYTES], bytes);
    ck_assert_uint_eq (rc[COLO_PORT_RX_MALFORMED], 0);
    //  Directions are enforced by the port layer.
    ck_assert_int_eq (colo_port_recv (tx, out, 1), -1);
    colo_buf_t *one = s_frame (10, 0);
    ck_assert_int_eq (colo_port_send (rx, &one, 1), -1);
    colo_buf_destroy (&one);
    ck_assert_int_eq (colo_port_recv (tx, NULL, 0), 0);
    ck_assert_int_eq (colo_port_recv (rx, NULL, 0), 0);

    //  Through a full ring: more than it holds, with the receiver draining.
    const int big = 1000;
    uint64_t deadline = colo_clock_mono_ms () + 3 * S_WAIT_MS;
    int sent = 0, got = 0;
    colo_buf_t *pending[8] = {NULL};
    int npend = 0;
    while (got < big && colo_clock_mono_ms () < deadline) {
        //  Send until the ring pushes back, then receive a little.
        int k = 0;
        do {
            while (npend < 8 && sent + npend < big) {
                pending[npend] = s_frame (1000, (uint64_t) (sent + npend));
                npend++;
            }
            int offered = npend;
            k = npend ? colo_port_send (tx, pending, npend) : 0;
            ck_assert_int_ge (k, 0);
            memmove (pending, pending + k,
                     sizeof (colo_buf_t *) * (size_t) (npend - k));
            npend -= k;
            sent += k;
            if (k < offered)
                break;
        } while (npend > 0 || sent < big);
        colo_buf_t *in[16];
        int r = colo_port_recv (rx, in, 16);
        for (int i = 0; i < r; i++)
            ck_assert (s_frame_ok (in[i], 1000, (uint64_t) (got + i)));
        colo_buf_destroy_array (in, r);
        got += r;
        if (k == 0 && r == 0) {
            colo_port_t *both[2] = {tx, rx};
            colo_test_poll_ports (both, 2, 100);
        }
    }
    ck_assert_int_eq (got, big);
    ck_assert_uint_ge (tc[COLO_PORT_TX_BLOCKED], 1);
    colo_port_destroy (&tx);
    ck_assert_int_eq (colo_port_connected (rx), 0);
    colo_port_destroy (&rx);
    ck_assert_ptr_null (rx);
    colo_ring_unlink (name);
}
END_TEST

START_TEST (test_port_bad_uris)
{
    char name[64], uri[512];
    s_new_name (name, sizeof name);
    snprintf (uri, sizeof uri, "shm:%s", name);
    ck_assert_ptr_null (colo_port_new (uri, COLO_PORT_RXTX));
    snprintf (uri, sizeof uri, "shm:%s,size=300000", name);
    ck_assert_ptr_null (colo_port_new (uri, COLO_PORT_TX));
    snprintf (uri, sizeof uri, "shm:%s,size=64K", name);
    ck_assert_ptr_null (colo_port_new (uri, COLO_PORT_TX));
    snprintf (uri, sizeof uri, "shm:%s,size=big", name);
    ck_assert_ptr_null (colo_port_new (uri, COLO_PORT_RX));
    snprintf (uri, sizeof uri, "shm:%s,size=4G", name);
    ck_assert_ptr_null (colo_port_new (uri, COLO_PORT_RX));
    ck_assert_ptr_null (colo_port_new ("shm:bad/name", COLO_PORT_RX));
    ck_assert_ptr_null (colo_port_new ("shm:bad name", COLO_PORT_RX));
    ck_assert_ptr_null (colo_port_new ("shm:", COLO_PORT_RX));
    char longname[300];
    memset (longname, 'n', 250);
    longname[250] = 0;
    snprintf (uri, sizeof uri, "shm:%s", longname);
    ck_assert_ptr_null (colo_port_new (uri, COLO_PORT_RX));
    //  None of those left an object behind.
    ck_assert_int_eq (colo_ring_unlink (name), -1);
    //  An unknown option is refused after the transport opened: cleaned up.
    snprintf (uri, sizeof uri, "shm:%s,colour=blue", name);
    ck_assert_ptr_null (colo_port_new (uri, COLO_PORT_RX));
    //  And the role is free again afterwards.
    snprintf (uri, sizeof uri, "shm:%s", name);
    colo_port_t *rx = colo_port_new (uri, COLO_PORT_RX);
    ck_assert_ptr_nonnull (rx);
    ck_assert_ptr_null (colo_port_new (uri, COLO_PORT_RX));   //  role held
    colo_port_destroy (&rx);
    colo_ring_unlink (name);
}
END_TEST

//  A doorbell byte that arrives after a wait ended (the race between the
//  peer taking our flag and us taking it back) must not leave the port's fd
//  readable forever: housekeeping drains it.
START_TEST (test_port_stray_bell_drained)
{
    char name[64], uri[96], path[160];
    colo_test_name (name, sizeof name);
    snprintf (uri, sizeof uri, "shm:%s", name);
    colo_port_t *tx = colo_port_new (uri, COLO_PORT_TX);
    ck_assert_ptr_nonnull (tx);
    snprintf (path, sizeof path, "/dev/shm/colonet-%s.pbell", name);
    int fd = open (path, O_WRONLY | O_NONBLOCK);
    ck_assert_int_ge (fd, 0);
    ck_assert_int_eq (write (fd, "", 1), 1);
    close (fd);
    struct pollfd pfd = {colo_port_fd (tx), POLLIN, 0};
    ck_assert_int_eq (poll (&pfd, 1, 0), 1);
    ck_assert_int_eq (colo_port_recv (tx, NULL, 0), 0);
    pfd.revents = 0;
    ck_assert_int_eq (poll (&pfd, 1, 0), 0);
    colo_port_destroy (&tx);
    colo_ring_unlink (name);
}
END_TEST

Suite *
colo_ring_suite (void)
{
    Suite *s = suite_create ("colo_ring");
    TCase *tc = tcase_create ("ring");
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, test_open_errors);
    tcase_add_test (tc, test_unlink_removes_all);
    tcase_add_test (tc, test_roundtrip_sizes);
    tcase_add_test (tc, test_invalid_frames_skipped);
    tcase_add_test (tc, test_wrap_mixed);
    tcase_add_test (tc, test_full_wakes_producer);
    tcase_add_test (tc, test_empty_wakes_consumer);
    tcase_add_test (tc, test_stale_doorbell_drained);
    tcase_add_test (tc, test_roles_exclusive);
    tcase_add_test (tc, test_producer_killed);
    tcase_add_test (tc, test_partial_record_invisible);
    tcase_add_test (tc, test_consumer_restart);
    tcase_add_test (tc, test_corrupt_records);
    tcase_add_test (tc, test_corrupt_positions);
    tcase_add_test (tc, test_corrupt_header);
    suite_add_tcase (s, tc);
    TCase *tp = tcase_create ("port");
    tcase_set_timeout (tp, 60);
    tcase_add_test (tp, test_port_roundtrip);
    tcase_add_test (tp, test_port_bad_uris);
    tcase_add_test (tp, test_port_stray_bell_drained);
    suite_add_tcase (s, tp);
    return s;
}
