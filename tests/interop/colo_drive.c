/*  colo_drive.c - interop driver: the same frames into QEMU's colo-compare and ours, outcomes compared.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *    colo_drive --qemu DIR --ours DIR [--scan-ms MS] [--queue N] [--only CASE] [--list]
 *
 *  Each DIR holds the four server sockets of one comparator: pri.sock,
 *  sec.sock, out.sock and notify.sock (QEMU's colo-compare chardevs, or
 *  colo-compare's qemu+unix:...,server ports).  The driver connects to all
 *  eight through qemu+unix client ports, writes the same frame sequences to
 *  both comparators, collects what each releases on outdev and what it says
 *  on notify-dev (DO_CHECKPOINT; a case that wants a flush answers with
 *  COLO_CHECKPOINT), and checks the outcome.  Where QEMU is right both must
 *  release the same frames, byte for byte and in the same order, and make
 *  the same checkpoint decision; where QEMU is wrong (docs/compare.md lists
 *  each difference), ours must show the documented improvement and QEMU
 *  the documented fault.  --scan-ms and --queue must be the
 *  expired_scan_cycle and max_queue_size both comparators run with.
 *
 *  Scheduling never decides an outcome: a comparator reads its primary and
 *  secondary sockets in whatever order it likes, so where order matters a
 *  case puts a barrier between the two sides.  A barrier is a marker
 *  datagram written to both inputs of both comparators; once a comparator
 *  released it, everything written before it on both sockets has been
 *  processed.  A flush writes a probe datagram that only a checkpoint
 *  releases, then COLO_CHECKPOINT, and waits for the probe.  Every wait has a
 *  deadline; nothing sleeps.
 *
 *  Prints one line per check, "ok   CASE: what" or "FAIL CASE: what: why";
 *  exits 0 if every check passed, 1 otherwise, 2 on bad usage.
 */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo_buf.h"
#include "colo_csum.h"
#include "colo_log.h"
#include "colo_notify.h"
#include "colo_packet.h"
#include "colo_port.h"
#include "colo_test.h"

#define S_WAIT_MS 5000            //  deadline of an ordinary wait
#define S_MARKER_PORT 5000        //  UDP source ports of the driver's own flows
#define S_PROBE_PORT 5001
#define S_READY_PORT 5002
#define S_GUEST_PORT 80           //  the guest's TCP port in every case
#define S_ISN 1000000u            //  the guest's sequence numbers start here
#define S_PEER_ACK 5001u          //  and it acknowledges the client this far

enum { S_PRI = 0, S_SEC = 1, S_OUT = 2, S_NOTIFY = 3 };
enum { S_QEMU = 0, S_OURS = 1 };

typedef struct {
    colo_buf_t **items;
    size_t count, cap;
} s_list_t;

typedef struct {
    const char *name;
    colo_port_t *port[4];
    s_list_t frames;              //  released case frames, in arrival order
    uint32_t marker_seen, probe_seen, ready_seen;
    int ckpt;                     //  DO_CHECKPOINT received in this case
    int xen_init;                 //  COLO_COMPARE_GET_XEN_INIT received
    int unknown;                  //  anything else on notify-dev
    int auto_answer;              //  answer DO_CHECKPOINT at once
    uint64_t first_ckpt_ms;
} s_impl_t;

static s_impl_t s_impl[2];
static uint32_t s_marker, s_probe, s_ready;
static int s_case_no;
static const char *s_case = "setup";
static int s_passed, s_failed;
static uint32_t s_scan_ms = 1000;
static uint32_t s_queue = 1024;

//  ---------------------------------------------------------------- checks

static void
s_list_push (s_list_t *list, colo_buf_t *buf)
{
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 64;
        colo_buf_t **items = (colo_buf_t **) realloc (list->items, cap * sizeof *items);
        if (!items) {
            fprintf (stderr, "colo_drive: out of memory\n");
            exit (1);
        }
        list->items = items;
        list->cap = cap;
    }
    list->items[list->count++] = buf;
}

static void
s_list_clear (s_list_t *list)
{
    colo_buf_destroy_array (list->items, (int) list->count);
    list->count = 0;
}

static int
s_check (int ok, const char *what, const char *why_fmt, ...)
{
    if (ok) {
        printf ("ok   %s: %s\n", s_case, what);
        s_passed++;
    }
    else {
        char why[512] = "";
        if (why_fmt) {
            va_list ap;
            va_start (ap, why_fmt);
            vsnprintf (why, sizeof why, why_fmt, ap);
            va_end (ap);
        }
        printf ("FAIL %s: %s%s%s\n", s_case, what, *why ? ": " : "", why);
        s_failed++;
    }
    fflush (stdout);
    return ok;
}

//  Compare a list of frames with the expected ones, byte for byte and in
//  order; 1 if equal, else 0 with the first difference described in why.
static int
s_same_frames (colo_buf_t *const *got, size_t n_got, colo_buf_t *const *want,
               size_t n_want, char *why, size_t cap)
{
    size_t n = n_got < n_want ? n_got : n_want;
    for (size_t i = 0; i < n; i++) {
        if (got[i]->len != want[i]->len) {
            snprintf (why, cap, "frame %zu is %u bytes, expected %u", i, got[i]->len,
                      want[i]->len);
            return 0;
        }
        for (uint32_t b = 0; b < got[i]->len; b++)
            if (got[i]->data[b] != want[i]->data[b]) {
                snprintf (why, cap, "frame %zu differs at byte %u", i, b);
                return 0;
            }
    }
    if (n_got != n_want) {
        snprintf (why, cap, "%zu frames, expected %zu", n_got, n_want);
        return 0;
    }
    return 1;
}

//  Check that impl released exactly want[0..n) so far.
static int
s_check_released (int impl, colo_buf_t *const *want, size_t n, const char *what)
{
    char why[200] = "";
    s_impl_t *self = &s_impl[impl];
    int ok = s_same_frames (self->frames.items, self->frames.count, want, n, why, sizeof why);
    char line[300];
    snprintf (line, sizeof line, "%s %s", self->name, what);
    return s_check (ok, line, "%s", why);
}

//  Check that both released the same frames, and exactly want[0..n).
static int
s_check_both_released (colo_buf_t *const *want, size_t n, const char *what)
{
    char why[200] = "";
    s_impl_t *q = &s_impl[S_QEMU], *o = &s_impl[S_OURS];
    int same = s_same_frames (o->frames.items, o->frames.count, q->frames.items,
                              q->frames.count, why, sizeof why);
    char line[300];
    snprintf (line, sizeof line, "ours and qemu release the same frames, %s", what);
    if (!same)
        return s_check (0, line, "ours vs qemu: %s", why);
    int ok = s_same_frames (o->frames.items, o->frames.count, want, n, why, sizeof why);
    return s_check (ok, line, "%s", why);
}

//  ---------------------------------------------------------------- frames

//  Deterministic payload bytes.
static const uint8_t *
s_bytes (uint32_t seed, size_t len)
{
    static uint8_t buf[4][2048];
    static int turn;
    uint8_t *out = buf[turn++ & 3];
    uint32_t x = seed * 2654435761u + 12345;
    for (size_t i = 0; i < len && i < sizeof buf[0]; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out[i] = (uint8_t) (x >> 8);
    }
    return out;
}

//  A guest -> client TCP segment on the case's connection.
static colo_buf_t *
s_tcp_spec (uint16_t vlan, int v6, uint32_t seq, uint32_t ack, uint8_t flags,
            const void *payload, size_t len, size_t pad_to)
{
    colo_test_pkt_t spec;
    memset (&spec, 0, sizeof spec);
    spec.v6 = v6;
    spec.vlan = vlan;
    spec.proto = 6;
    spec.from_guest = 1;
    spec.sport = S_GUEST_PORT;
    spec.dport = (uint16_t) (40000 + s_case_no);
    spec.seq = seq;
    spec.ack = ack;
    spec.flags = flags;
    spec.payload = payload;
    spec.len = len;
    spec.pad_to = pad_to;
    return colo_test_packet (&spec);
}

static colo_buf_t *
s_tcp (uint32_t seq, const void *payload, size_t len)
{
    return s_tcp_spec (0, 0, seq, S_PEER_ACK, COLO_TCP_ACK | COLO_TCP_PSH, payload, len, 0);
}

static colo_buf_t *
s_udp (uint16_t sport, uint16_t dport, const void *payload, size_t len)
{
    colo_test_pkt_t spec;
    memset (&spec, 0, sizeof spec);
    spec.proto = 17;
    spec.from_guest = 1;
    spec.sport = sport;
    spec.dport = dport;
    spec.payload = payload;
    spec.len = len;
    return colo_test_packet (&spec);
}

//  A datagram of the driver's own flows, numbered.
static colo_buf_t *
s_own (uint16_t sport, uint16_t dport, uint32_t id, int v6)
{
    uint8_t payload[16];
    colo_put_be32 (payload, id);
    memcpy (payload + 4, "colo_drive..", 12);
    colo_test_pkt_t spec;
    memset (&spec, 0, sizeof spec);
    spec.v6 = v6;
    spec.proto = 17;
    spec.from_guest = 1;
    spec.sport = sport;
    spec.dport = dport;
    spec.payload = payload;
    spec.len = sizeof payload;
    return colo_test_packet (&spec);
}

//  A released frame: the driver's own flows are noted, case frames kept.
static void
s_classify (s_impl_t *self, colo_buf_t *buf)
{
    colo_packet_t pkt;
    if (colo_packet_decode (&pkt, colo_buf_frame (buf), colo_buf_frame_len (buf), NULL)
            == COLO_PKT_OK
        && pkt.l4 == COLO_L4_UDP && pkt.payload_len == 16
        && (pkt.sport == S_MARKER_PORT || pkt.sport == S_PROBE_PORT
            || pkt.sport == S_READY_PORT)) {
        uint32_t id = colo_get_be32 (colo_buf_frame (buf) + pkt.payload_off);
        uint32_t *seen = pkt.sport == S_MARKER_PORT  ? &self->marker_seen
                         : pkt.sport == S_PROBE_PORT ? &self->probe_seen
                                                     : &self->ready_seen;
        if (id > *seen)
            *seen = id;
        colo_buf_destroy (&buf);
        return;
    }
    s_list_push (&self->frames, buf);
}

//  ---------------------------------------------------------------- I/O

static void
s_send_notify (s_impl_t *self, colo_notify_msg_t msg);

//  Take everything both comparators have said so far.
static void
s_pump (void)
{
    for (int i = 0; i < 2; i++) {
        s_impl_t *self = &s_impl[i];
        colo_buf_t *bufs[64];
        int n;
        while ((n = colo_port_recv (self->port[S_OUT], bufs, 64)) > 0)
            for (int k = 0; k < n; k++)
                s_classify (self, bufs[k]);
        while ((n = colo_port_recv (self->port[S_NOTIFY], bufs, 64)) > 0)
            for (int k = 0; k < n; k++) {
                colo_notify_msg_t msg = colo_notify_parse (colo_buf_frame (bufs[k]),
                                                           colo_buf_frame_len (bufs[k]));
                if (msg == COLO_NOTIFY_DO_CHECKPOINT) {
                    if (self->ckpt++ == 0)
                        self->first_ckpt_ms = colo_clock_mono_ms ();
                    if (self->auto_answer)
                        s_send_notify (self, COLO_NOTIFY_CHECKPOINT);
                }
                else if (msg == COLO_NOTIFY_GET_XEN_INIT)
                    self->xen_init++;
                else
                    self->unknown++;
                colo_buf_destroy (&bufs[k]);
            }
        colo_port_recv (self->port[S_PRI], NULL, 0);
        colo_port_recv (self->port[S_SEC], NULL, 0);
    }
}

static void
s_poll (int ms)
{
    struct pollfd pfd[8];
    for (int i = 0; i < 8; i++) {
        pfd[i].fd = colo_port_fd (s_impl[i / 4].port[i % 4]);
        pfd[i].events = POLLIN;
        pfd[i].revents = 0;
    }
    poll (pfd, 8, ms);
}

//  Pump until cond (arg) holds or ms pass; 1 if it held.
static int
s_wait (int (*cond) (void *arg), void *arg, int ms)
{
    uint64_t deadline = colo_clock_mono_ms () + (uint64_t) ms;
    while (1) {
        s_pump ();
        if (cond (arg))
            return 1;
        uint64_t now = colo_clock_mono_ms ();
        if (now >= deadline)
            return 0;
        s_poll (deadline - now < 20 ? (int) (deadline - now) : 20);
    }
}

//  Write buf to one port of the comparators in mask (1 qemu, 2 ours, 3
//  both); takes ownership.  Exits if a port will not take it in time.
static void
s_write (int mask, int which, colo_buf_t *buf)
{
    for (int i = 0; i < 2; i++) {
        if (!(mask & (1 << i)))
            continue;
        colo_buf_t *copy = colo_buf_dup (buf);
        uint64_t deadline = colo_clock_mono_ms () + S_WAIT_MS;
        while (colo_port_send (s_impl[i].port[which], &copy, 1) != 1) {
            s_pump ();
            if (colo_clock_mono_ms () >= deadline) {
                s_check (0, "write a frame", "%s: port %s does not take it",
                         s_impl[i].name, colo_port_uri (s_impl[i].port[which]));
                exit (1);
            }
            s_poll (20);
        }
    }
    colo_buf_destroy (&buf);
}

static void
s_send_notify (s_impl_t *self, colo_notify_msg_t msg)
{
    colo_buf_t *buf = colo_notify_frame (msg);
    if (colo_port_send (self->port[S_NOTIFY], &buf, 1) != 1) {
        s_check (0, "write to notify-dev", "%s: port full", self->name);
        colo_buf_destroy (&buf);
    }
}

//  The same frame to the primary (or secondary) input of both.
static void
s_p (colo_buf_t *buf)
{
    s_write (3, S_PRI, buf);
}

static void
s_s (colo_buf_t *buf)
{
    s_write (3, S_SEC, buf);
}

static int
s_markers_seen (void *arg)
{
    uint32_t id = *(uint32_t *) arg;
    return s_impl[0].marker_seen >= id && s_impl[1].marker_seen >= id;
}

//  Everything written so far has been processed by both comparators.
static int
s_barrier (void)
{
    uint32_t id = ++s_marker;
    s_write (3, S_PRI, s_own (S_MARKER_PORT, 9, id, 0));
    s_write (3, S_SEC, s_own (S_MARKER_PORT, 9, id, 0));
    if (s_wait (s_markers_seen, &id, S_WAIT_MS))
        return 1;
    s_check (0, "barrier", "marker %u: qemu saw %u, ours %u", id, s_impl[0].marker_seen,
             s_impl[1].marker_seen);
    return 0;
}

typedef struct {
    size_t qemu, ours;
} s_counts_t;

static int
s_frames_reached (void *arg)
{
    s_counts_t *want = (s_counts_t *) arg;
    return s_impl[S_QEMU].frames.count >= want->qemu && s_impl[S_OURS].frames.count >= want->ours;
}

//  Wait until qemu released at least nq case frames and ours no.
static int
s_wait_frames (size_t nq, size_t no)
{
    s_counts_t want = {nq, no};
    if (s_wait (s_frames_reached, &want, S_WAIT_MS))
        return 1;
    s_check (0, "frames released in time", "qemu %zu of %zu, ours %zu of %zu",
             s_impl[S_QEMU].frames.count, nq, s_impl[S_OURS].frames.count, no);
    return 0;
}

static int
s_ckpt_reached (void *arg)
{
    int *want = (int *) arg;
    return s_impl[S_QEMU].ckpt >= want[0] && s_impl[S_OURS].ckpt >= want[1];
}

//  Wait until qemu sent at least nq DO_CHECKPOINT and ours no, within ms.
static int
s_wait_ckpt (int nq, int no, int ms)
{
    int want[2] = {nq, no};
    if (s_wait (s_ckpt_reached, want, ms))
        return 1;
    s_check (0, "DO_CHECKPOINT in time", "qemu %d of %d, ours %d of %d", s_impl[S_QEMU].ckpt,
             nq, s_impl[S_OURS].ckpt, no);
    return 0;
}

static int
s_probes_seen (void *arg)
{
    uint32_t id = *(uint32_t *) arg;
    return s_impl[0].probe_seen >= id && s_impl[1].probe_seen >= id;
}

//  A checkpoint completes on both: queued primaries leave, queued
//  secondaries are dropped.  A probe datagram on a flow of its own (new in
//  each case, so QEMU flushes it after the case's connections) shows when.
static int
s_flush (void)
{
    uint32_t id = ++s_probe;
    s_write (3, S_PRI, s_own (S_PROBE_PORT, (uint16_t) (30000 + s_case_no), id, 0));
    if (!s_barrier ())
        return 0;
    s_send_notify (&s_impl[S_QEMU], COLO_NOTIFY_CHECKPOINT);
    s_send_notify (&s_impl[S_OURS], COLO_NOTIFY_CHECKPOINT);
    if (!s_wait (s_probes_seen, &id, S_WAIT_MS)) {
        s_check (0, "flush", "probe %u: qemu saw %u, ours %u", id, s_impl[0].probe_seen,
                 s_impl[1].probe_seen);
        return 0;
    }
    return s_barrier ();
}

//  ---------------------------------------------------------------- cases

typedef struct {
    colo_buf_t *items[256];
    size_t count;
} s_keep_t;

//  Keep a copy of a primary frame as an expected output; returns buf.
static colo_buf_t *
s_keep (s_keep_t *keep, colo_buf_t *buf)
{
    if (keep->count < 256)
        keep->items[keep->count++] = colo_buf_dup (buf);
    return buf;
}

static void
s_keep_free (s_keep_t *keep)
{
    colo_buf_destroy_array (keep->items, (int) keep->count);
    keep->count = 0;
}

static void
s_begin (const char *name)
{
    s_case = name;
    s_case_no++;
    for (int i = 0; i < 2; i++) {
        s_list_clear (&s_impl[i].frames);
        s_impl[i].ckpt = 0;
        s_impl[i].auto_answer = 0;
        s_impl[i].first_ckpt_ms = 0;
    }
}

static int
s_no_ckpt (int impl, const char *what)
{
    char line[200];
    snprintf (line, sizeof line, "%s %s", s_impl[impl].name, what);
    return s_check (s_impl[impl].ckpt == 0, line, "%d DO_CHECKPOINT", s_impl[impl].ckpt);
}

static void
s_no_ckpt_both (void)
{
    s_check (s_impl[S_QEMU].ckpt == 0 && s_impl[S_OURS].ckpt == 0,
             "no checkpoint requested by either", "qemu %d, ours %d DO_CHECKPOINT",
             s_impl[S_QEMU].ckpt, s_impl[S_OURS].ckpt);
}

//  Identical byte streams, identical segmentation.
static void
s_case_tcp_identical (void)
{
    s_begin ("tcp identical streams");
    s_keep_t keep = {{0}, 0};
    static const size_t sizes[] = {1, 100, 1460, 7, 512};
    uint32_t seq = S_ISN;
    for (int i = 0; i < 5; i++) {
        const uint8_t *data = s_bytes ((uint32_t) i, sizes[i]);
        s_p (s_keep (&keep, s_tcp (seq, data, sizes[i])));
        s_s (s_tcp (seq, data, sizes[i]));
        seq += (uint32_t) sizes[i];
    }
    if (s_wait_frames (5, 5) && s_barrier ()) {
        s_check_both_released (keep.items, keep.count, "the 5 primary segments in order");
        s_no_ckpt_both ();
    }
    s_flush ();
    s_keep_free (&keep);
}

//  A one-byte difference: both ask for a checkpoint and release nothing
//  until it completes; QEMU asks again for every later packet of the
//  connection, ours once per episode.
static void
s_case_tcp_one_byte (void)
{
    s_begin ("tcp 1-byte payload difference");
    s_keep_t keep = {{0}, 0};
    uint8_t data[5][200];
    uint32_t seq = S_ISN;
    for (int i = 0; i < 5; i++) {
        memcpy (data[i], s_bytes (100 + (uint32_t) i, 200), 200);
        s_p (s_keep (&keep, s_tcp (seq + 200 * (uint32_t) i, data[i], 200)));
    }
    if (!s_barrier ())
        goto done;
    data[0][17] ^= 0x01;
    for (int i = 0; i < 5; i++)
        s_s (s_tcp (seq + 200 * (uint32_t) i, data[i], 200));
    if (!s_wait_ckpt (1, 1, S_WAIT_MS) || !s_barrier () || !s_barrier ())
        goto done;
    s_check (s_impl[S_QEMU].frames.count == 0 && s_impl[S_OURS].frames.count == 0,
             "nothing released before the checkpoint", "qemu %zu, ours %zu frames",
             s_impl[S_QEMU].frames.count, s_impl[S_OURS].frames.count);
    uint64_t elapsed = colo_clock_mono_ms () - s_impl[S_OURS].first_ckpt_ms;
    int ours_max = 1 + (int) (elapsed / s_scan_ms) + 1;
    s_check (s_impl[S_QEMU].ckpt >= 5, "qemu repeats DO_CHECKPOINT for every packet (>= 5)",
             "%d", s_impl[S_QEMU].ckpt);
    char line[200];
    snprintf (line, sizeof line,
              "ours sends one DO_CHECKPOINT per episode (qemu %d, ours %d in %llu ms)",
              s_impl[S_QEMU].ckpt, s_impl[S_OURS].ckpt, (unsigned long long) elapsed);
    s_check (s_impl[S_OURS].ckpt >= 1 && s_impl[S_OURS].ckpt <= ours_max, line,
             "more than %d", ours_max);
    if (s_flush () && s_wait_frames (5, 5))
        s_check_both_released (keep.items, keep.count,
                               "the primary's 5 segments in order after the checkpoint");
done:
    s_keep_free (&keep);
}

//  One segment of 1000 bytes on one side, two of 500 on the other, one side
//  entirely before the other (a barrier in between).
static void
s_case_segmentation (int primary_whole, int secondary_first)
{
    static char names[4][80];
    char *name = names[primary_whole * 2 + secondary_first];
    snprintf (name, sizeof names[0], "tcp %s vs %s, %s first",
              primary_whole ? "1x1000" : "2x500", primary_whole ? "2x500" : "1x1000",
              secondary_first ? "secondary" : "primary");
    s_begin (name);
    s_keep_t keep = {{0}, 0};
    const uint8_t *data = s_bytes (200, 1000);
    colo_buf_t *pri[2], *sec[2];
    int np, ns;
    if (primary_whole) {
        pri[0] = s_keep (&keep, s_tcp (S_ISN, data, 1000));
        np = 1;
        sec[0] = s_tcp (S_ISN, data, 500);
        sec[1] = s_tcp (S_ISN + 500, data + 500, 500);
        ns = 2;
    }
    else {
        pri[0] = s_keep (&keep, s_tcp (S_ISN, data, 500));
        pri[1] = s_keep (&keep, s_tcp (S_ISN + 500, data + 500, 500));
        np = 2;
        sec[0] = s_tcp (S_ISN, data, 1000);
        ns = 1;
    }
    for (int i = 0; i < (secondary_first ? ns : np); i++)
        (secondary_first ? s_s : s_p) (secondary_first ? sec[i] : pri[i]);
    if (s_barrier ()) {
        for (int i = 0; i < (secondary_first ? np : ns); i++)
            (secondary_first ? s_p : s_s) (secondary_first ? pri[i] : sec[i]);
        if (s_wait_frames ((size_t) np, (size_t) np) && s_barrier ()) {
            s_check_both_released (keep.items, keep.count, "the primary's segments");
            s_no_ckpt_both ();
        }
    }
    else
        colo_buf_destroy_array (secondary_first ? pri : sec, secondary_first ? np : ns);
    s_flush ();
    s_keep_free (&keep);
}

//  A primary retransmission of verified bytes: ours releases it at once,
//  QEMU holds it until some secondary packet of the connection arrives.
static void
s_case_retransmit (void)
{
    s_begin ("tcp retransmission");
    s_keep_t keep = {{0}, 0};
    const uint8_t *d1 = s_bytes (300, 100), *d2 = s_bytes (301, 100);
    s_p (s_keep (&keep, s_tcp (S_ISN, d1, 100)));
    s_p (s_keep (&keep, s_tcp (S_ISN + 100, d2, 100)));
    s_s (s_tcp (S_ISN, d1, 100));
    s_s (s_tcp (S_ISN + 100, d2, 100));
    if (!s_wait_frames (2, 2) || !s_barrier ())
        goto done;
    s_p (s_keep (&keep, s_tcp (S_ISN, d1, 100)));
    if (!s_barrier ())
        goto done;
    s_check_released (S_OURS, keep.items, 3, "releases the retransmission at once");
    s_check_released (S_QEMU, keep.items, 2,
                      "holds the retransmission until a secondary packet arrives");
    s_s (s_tcp (S_ISN, d1, 100));
    if (s_wait_frames (3, 3) && s_barrier ()) {
        s_check_both_released (keep.items, keep.count,
                               "both segments and the retransmission");
        s_no_ckpt_both ();
    }
    s_flush ();
done:
    s_keep_free (&keep);
}

//  A primary retransmission queued with its original (no secondary output
//  yet), then a checkpoint: QEMU sends the copy too, by sequence right
//  behind the original; ours drops it (its newer TCP timestamp would make
//  the client drop the segment after it as old, PAWS).
static void
s_case_flush_duplicate (void)
{
    s_begin ("tcp retransmission queued, then a checkpoint");
    s_keep_t keep = {{0}, 0};
    const uint8_t *d1 = s_bytes (500, 100), *d2 = s_bytes (501, 100);
    s_p (s_keep (&keep, s_tcp (S_ISN, d1, 100)));
    s_p (s_keep (&keep, s_tcp (S_ISN + 100, d2, 100)));
    s_p (s_tcp (S_ISN, d1, 100));
    if (s_barrier () && s_flush () && s_wait_frames (3, 2) && s_barrier ()) {
        s_check_released (S_OURS, keep.items, keep.count,
                          "releases the two segments, not the copy");
        s_check (s_impl[S_QEMU].frames.count == 3, "qemu releases the copy as well",
                 "%zu frames", s_impl[S_QEMU].frames.count);
    }
    s_keep_free (&keep);
}

//  A secondary retransmission after everything matched: ours drops it at
//  once; QEMU keeps it and asks for a needless checkpoint after
//  compare_timeout.
static void
s_case_stale_secondary (int timeout_ms)
{
    s_begin ("tcp secondary retransmission of matched data");
    s_keep_t keep = {{0}, 0};
    const uint8_t *d1 = s_bytes (400, 100), *d2 = s_bytes (401, 100);
    s_p (s_keep (&keep, s_tcp (S_ISN, d1, 100)));
    s_p (s_keep (&keep, s_tcp (S_ISN + 100, d2, 100)));
    s_s (s_tcp (S_ISN, d1, 100));
    s_s (s_tcp (S_ISN + 100, d2, 100));
    if (!s_wait_frames (2, 2) || !s_barrier ())
        goto done;
    s_s (s_tcp (S_ISN + 100, d2, 100));
    if (!s_barrier ())
        goto done;
    //  QEMU's scan finds it older than compare_timeout within one more cycle.
    int ok = s_wait_ckpt (1, 0, timeout_ms + 2 * (int) s_scan_ms + 2000);
    if (ok && s_barrier ()) {
        s_check (1, "qemu asks for a needless checkpoint after compare_timeout", NULL);
        s_no_ckpt (S_OURS, "drops the stale copy and asks for nothing");
    }
    if (s_flush ())
        s_check_both_released (keep.items, keep.count, "the two segments once");
done:
    s_keep_free (&keep);
}

static colo_buf_t *
s_dgram (int i)
{
    char text[64];
    int len = snprintf (text, sizeof text, "datagram %d of the case", i);
    return s_udp (53, (uint16_t) (40000 + s_case_no), text, (size_t) len);
}

//  Datagrams in lockstep (each pair released before the next is sent).
static void
s_case_udp_lockstep (void)
{
    s_begin ("udp same order, lockstep");
    s_keep_t keep = {{0}, 0};
    for (int i = 1; i <= 3; i++) {
        s_p (s_keep (&keep, s_dgram (i)));
        s_s (s_dgram (i));
        if (!s_wait_frames ((size_t) i, (size_t) i))
            break;
    }
    if (s_barrier ()) {
        s_check_both_released (keep.items, keep.count, "u1 u2 u3 in order");
        s_no_ckpt_both ();
    }
    s_flush ();
    s_keep_free (&keep);
}

//  The secondary lags by three datagrams (same order, or another order):
//  ours matches oldest-first and releases in the primary's order without a
//  checkpoint; QEMU matches newest-first, reorders and may ask for one.
static void
s_case_udp_lagging (const int *sec_order, const char *name, int qemu_ckpt)
{
    s_begin (name);
    s_keep_t keep = {{0}, 0};
    for (int i = 1; i <= 3; i++)
        s_p (s_keep (&keep, s_dgram (i)));
    if (!s_barrier ())
        goto done;
    for (int i = 0; i < 3; i++)
        s_s (s_dgram (sec_order[i]));
    if (!s_wait_frames (3, 3) || !s_barrier ())
        goto done;
    s_check_released (S_OURS, keep.items, 3, "releases u1 u2 u3 in the primary's order");
    s_no_ckpt (S_OURS, "asks for no checkpoint");
    colo_buf_t *reversed[3] = {keep.items[2], keep.items[1], keep.items[0]};
    s_check_released (S_QEMU, reversed, 3, "reorders them to u3 u2 u1 (newest-first matching)");
    char line[120];
    snprintf (line, sizeof line, "qemu asks for %d spurious checkpoint%s", qemu_ckpt,
              qemu_ckpt == 1 ? "" : "s");
    s_check (s_impl[S_QEMU].ckpt == qemu_ckpt, line, "%d", s_impl[S_QEMU].ckpt);
    s_flush ();
done:
    s_keep_free (&keep);
}

//  The secondary's datagrams, in another order, all arrive first: both match
//  each primary against the oldest equal one.
static void
s_case_udp_secondary_first (void)
{
    s_begin ("udp other order, secondary first");
    s_keep_t keep = {{0}, 0};
    s_s (s_dgram (2));
    s_s (s_dgram (1));
    if (s_barrier ()) {
        s_p (s_keep (&keep, s_dgram (1)));
        s_p (s_keep (&keep, s_dgram (2)));
        if (s_wait_frames (2, 2) && s_barrier ()) {
            s_check_both_released (keep.items, keep.count, "u1 u2 in order");
            s_no_ckpt_both ();
        }
    }
    s_flush ();
    s_keep_free (&keep);
}

//  Frames QEMU does not parse (IPv6, VLAN, ARP): QEMU releases the
//  primary at once and drops the secondary unseen; ours compares.
//  kind: 0 IPv6 TCP, 1 VLAN-tagged IPv4 TCP, 2 ARP reply.
static colo_buf_t *
s_unparsed (int kind, int variant)
{
    if (kind == 2) {
        colo_test_pkt_t spec;
        memset (&spec, 0, sizeof spec);
        spec.arp_op = 2;
        spec.from_guest = 1;
        colo_buf_t *buf = colo_test_packet (&spec);
        //  A different target protocol address (last byte of the ARP body).
        if (variant)
            buf->data[14 + 27] ^= 0x40;
        return buf;
    }
    uint8_t data[64];
    memcpy (data, s_bytes (500, sizeof data), sizeof data);
    if (variant)
        data[40] ^= 0x80;
    return s_tcp_spec (kind == 1 ? 100 : 0, kind == 0, S_ISN, S_PEER_ACK,
                       COLO_TCP_ACK | COLO_TCP_PSH, data, sizeof data, 0);
}

static void
s_case_unparsed (int kind, int differ)
{
    static const char *kinds[] = {"ipv6 tcp", "vlan-tagged tcp", "arp reply"};
    static char names[6][80];
    char *name = names[kind * 2 + differ];
    snprintf (name, sizeof names[0], "%s, %s", kinds[kind],
              differ ? "secondary differs" : "secondary equal");
    s_begin (name);
    s_keep_t keep = {{0}, 0};
    s_p (s_keep (&keep, s_unparsed (kind, 0)));
    if (!s_barrier ())
        goto done;
    s_check_released (S_QEMU, keep.items, 1, "releases the primary unchecked, at once");
    s_check_released (S_OURS, keep.items, 0, "holds it for comparison");
    s_s (s_unparsed (kind, differ));
    if (!differ) {
        if (s_wait_frames (1, 1) && s_barrier ()) {
            s_check_both_released (keep.items, keep.count, "the primary's frame");
            s_no_ckpt_both ();
        }
        s_flush ();
    }
    else {
        if (s_wait_ckpt (0, 1, S_WAIT_MS) && s_barrier ()) {
            s_check (1, "ours asks for a checkpoint", NULL);
            s_no_ckpt (S_QEMU, "never notices the divergence");
            s_check_released (S_OURS, keep.items, 0, "releases nothing before it");
        }
        if (s_flush ())
            s_check_both_released (keep.items, keep.count, "the primary's frame");
    }
done:
    s_keep_free (&keep);
}

//  A pure ACK padded to 60 bytes (e.g. rtl8139, e1000).  Padded on both
//  sides QEMU is right; when the secondary sends the ACK with its data,
//  QEMU compares the padding against that data and asks for a checkpoint.
static void
s_case_padding (int piggyback)
{
    s_begin (piggyback ? "padded pure ack vs ack carried by data"
                       : "padded pure ack on both sides");
    s_keep_t keep = {{0}, 0};
    const uint8_t *data = s_bytes (600, 100);
    s_p (s_keep (&keep, s_tcp_spec (0, 0, S_ISN, S_PEER_ACK, COLO_TCP_ACK, NULL, 0, 60)));
    if (!piggyback) {
        s_s (s_tcp_spec (0, 0, S_ISN, S_PEER_ACK, COLO_TCP_ACK, NULL, 0, 60));
        if (s_wait_frames (1, 1) && s_barrier ()) {
            s_check_both_released (keep.items, keep.count, "the ack");
            s_no_ckpt_both ();
        }
        s_flush ();
        s_keep_free (&keep);
        return;
    }
    s_p (s_keep (&keep, s_tcp (S_ISN, data, 100)));
    if (!s_barrier ())
        goto done;
    s_s (s_tcp (S_ISN, data, 100));
    if (!s_wait_frames (0, 2) || !s_wait_ckpt (1, 0, S_WAIT_MS) || !s_barrier ())
        goto done;
    s_check_released (S_OURS, keep.items, 2, "releases the ack and the data");
    s_no_ckpt (S_OURS, "asks for no checkpoint (padding is not payload)");
    s_check (s_impl[S_QEMU].ckpt >= 1 && s_impl[S_QEMU].frames.count == 0,
             "qemu compares the padding as payload: checkpoint, nothing released",
             "%d DO_CHECKPOINT, %zu frames", s_impl[S_QEMU].ckpt,
             s_impl[S_QEMU].frames.count);
    if (s_flush ())
        s_check_both_released (keep.items, keep.count, "the ack and the data in order");
done:
    s_keep_free (&keep);
}

//  The primary acknowledges client data the secondary has not acknowledged
//  yet: QEMU releases the primary's pure ACK as soon as any secondary packet
//  arrives; ours holds it until the secondary acknowledges as far.
static void
s_case_ack_ahead (void)
{
    s_begin ("pure ack ahead of the secondary's ack");
    s_keep_t keep = {{0}, 0};
    const uint8_t *data = s_bytes (700, 50);
    s_p (s_keep (&keep, s_tcp (S_ISN, data, 50)));
    s_s (s_tcp (S_ISN, data, 50));
    if (!s_wait_frames (1, 1))
        goto done;
    s_p (s_keep (&keep, s_tcp_spec (0, 0, S_ISN + 50, S_PEER_ACK + 100, COLO_TCP_ACK, NULL, 0,
                                     0)));
    s_s (s_tcp_spec (0, 0, S_ISN + 50, S_PEER_ACK, COLO_TCP_ACK, NULL, 0, 0));
    if (!s_barrier ())
        goto done;
    s_check_released (S_QEMU, keep.items, 2,
                      "releases the ack although the secondary acknowledged less");
    s_check_released (S_OURS, keep.items, 1, "holds it (output commit)");
    s_s (s_tcp_spec (0, 0, S_ISN + 50, S_PEER_ACK + 100, COLO_TCP_ACK, NULL, 0, 0));
    if (s_wait_frames (2, 2) && s_barrier ()) {
        s_check_released (S_OURS, keep.items, 2, "releases it once the secondary caught up");
        s_no_ckpt_both ();
    }
    s_flush ();
done:
    s_keep_free (&keep);
}

//  FIN on the primary, RST on the secondary: a divergence for ours; QEMU
//  releases the FIN without looking at flags.
static void
s_case_fin_rst (void)
{
    s_begin ("fin vs rst");
    s_keep_t keep = {{0}, 0};
    const uint8_t *data = s_bytes (800, 30);
    s_p (s_keep (&keep, s_tcp (S_ISN, data, 30)));
    s_s (s_tcp (S_ISN, data, 30));
    if (!s_wait_frames (1, 1))
        goto done;
    s_p (s_keep (&keep, s_tcp_spec (0, 0, S_ISN + 30, S_PEER_ACK, COLO_TCP_ACK | COLO_TCP_FIN,
                                     NULL, 0, 0)));
    s_s (s_tcp_spec (0, 0, S_ISN + 30, S_PEER_ACK, COLO_TCP_ACK | COLO_TCP_RST, NULL, 0, 0));
    if (!s_wait_frames (2, 1) || !s_wait_ckpt (0, 1, S_WAIT_MS) || !s_barrier ())
        goto done;
    s_check_released (S_QEMU, keep.items, 2, "releases the FIN");
    s_no_ckpt (S_QEMU, "sees no divergence");
    s_check_released (S_OURS, keep.items, 1, "holds the FIN and asks for a checkpoint");
    if (s_flush ())
        s_check_both_released (keep.items, keep.count, "the data and the FIN");
done:
    s_keep_free (&keep);
}

//  Frames that cannot be parsed: QEMU forwards the primary unchecked; ours
//  counts and drops them on both sides.
static void
s_case_malformed (void)
{
    s_begin ("malformed frames");
    s_keep_t keep = {{0}, 0};
    //  A 12-byte runt, and an IPv4 header claiming 60 bytes in a 60-byte frame.
    colo_buf_t *runt = colo_buf_new_copy (s_bytes (1000, 12), 12);
    colo_buf_t *bad_ihl = s_udp (53, (uint16_t) (40000 + s_case_no), s_bytes (1001, 18), 18);
    bad_ihl->data[14] = 0x4f;
    s_p (s_keep (&keep, runt));
    s_p (s_keep (&keep, bad_ihl));
    s_s (colo_buf_dup (keep.items[0]));
    s_s (colo_buf_dup (keep.items[1]));
    if (s_wait_frames (2, 0) && s_flush ()) {
        s_check_released (S_QEMU, keep.items, 2, "forwards them unchecked");
        s_check_released (S_OURS, keep.items, 0, "counts and drops them, even at a checkpoint");
        s_no_ckpt_both ();
    }
    s_keep_free (&keep);
}

//  More primary frames than max_queue_size with no secondary: QEMU keeps
//  max_queue_size + 1 and drops the rest without a word; ours refuses the
//  next one, asks for a checkpoint and reads on after it (nothing lost).
static void
s_case_overflow (void)
{
    s_begin ("queue overflow");
    size_t total = s_queue + 36;
    colo_buf_t **all = (colo_buf_t **) calloc (total, sizeof *all);
    if (!all)
        return;
    for (size_t i = 0; i < total; i++) {
        const uint8_t *data = s_bytes (900 + (uint32_t) i, 10);
        all[i] = s_tcp (S_ISN + 10 * (uint32_t) i, data, 10);
        s_p (colo_buf_dup (all[i]));
    }
    s_impl[S_OURS].auto_answer = 1;
    if (!s_wait_ckpt (0, 1, S_WAIT_MS) || !s_barrier ())
        goto done;
    s_check (s_impl[S_OURS].ckpt >= 1, "ours asks for a checkpoint when the queue is full",
             NULL);
    s_no_ckpt (S_QEMU, "asks for none");
    if (!s_flush () || !s_wait_frames (s_queue + 1, total) || !s_barrier ())
        goto done;
    char line[160];
    snprintf (line, sizeof line, "releases all %zu in order (backpressure, nothing lost)",
              total);
    s_check_released (S_OURS, all, total, line);
    //  QEMU's flush leaves TCP in sequence order unless its output coroutine
    //  had to wait for the socket; compare the set.
    s_impl_t *q = &s_impl[S_QEMU];
    size_t found = 0;
    for (size_t i = 0; i < q->frames.count; i++)
        for (size_t k = 0; k < s_queue + 1; k++)
            if (q->frames.items[i]->len == all[k]->len
                && memcmp (q->frames.items[i]->data, all[k]->data, all[k]->len) == 0) {
                found++;
                break;
            }
    snprintf (line, sizeof line,
              "qemu keeps max_queue_size+1 = %u and drops %zu silently", s_queue + 1,
              total - s_queue - 1);
    s_check (q->frames.count == s_queue + 1 && found == s_queue + 1, line,
             "released %zu frames, %zu of them among the first %u", q->frames.count, found,
             s_queue + 1);
done:
    colo_buf_destroy_array (all, (int) total);
    free (all);
}

//  ---------------------------------------------------------------- setup

static int
s_all_connected (void *arg)
{
    (void) arg;
    for (int i = 0; i < 8; i++)
        if (!colo_port_connected (s_impl[i / 4].port[i % 4]))
            return 0;
    return 1;
}

static int
s_xen_init_seen (void *arg)
{
    (void) arg;
    return s_impl[0].xen_init > 0 && s_impl[1].xen_init > 0;
}

static int
s_ready_seen (void *arg)
{
    (void) arg;
    return s_impl[S_QEMU].ready_seen >= s_ready;
}

static int
s_setup (const char *dirs[2])
{
    static const char *roles[4] = {"pri", "sec", "out", "notify"};
    static const colo_port_dir_t dirs_of[4] = {COLO_PORT_TX, COLO_PORT_TX, COLO_PORT_RX,
                                               COLO_PORT_RXTX};
    for (int i = 0; i < 2; i++) {
        s_impl[i].name = i == S_QEMU ? "qemu" : "ours";
        for (int r = 0; r < 4; r++) {
            char uri[600];
            snprintf (uri, sizeof uri, "qemu+unix:%s/%s.sock,backoff-max=100", dirs[i],
                      roles[r]);
            s_impl[i].port[r] = colo_port_new (uri, dirs_of[r]);
            if (!s_impl[i].port[r]) {
                s_check (0, "open the ports", "%s", uri);
                return 0;
            }
        }
    }
    if (!s_check (s_wait (s_all_connected, NULL, 10000), "connect to both comparators",
                  "not every socket connected in 10 s"))
        return 0;
    s_send_notify (&s_impl[S_QEMU], COLO_NOTIFY_PROXY_INIT);
    s_send_notify (&s_impl[S_OURS], COLO_NOTIFY_PROXY_INIT);
    if (!s_check (s_wait (s_xen_init_seen, NULL, S_WAIT_MS),
                  "both answer COLO_USERSPACE_PROXY_INIT with COLO_COMPARE_GET_XEN_INIT",
                  "qemu %d, ours %d answers", s_impl[0].xen_init, s_impl[1].xen_init))
        return 0;
    //  QEMU drops what it releases before it has accepted outdev: send an
    //  IPv6 datagram (released unchecked) until one comes out.
    int ready = 0;
    for (int tries = 0; tries < 50 && !ready; tries++) {
        ++s_ready;
        s_write (1, S_PRI, s_own (S_READY_PORT, 9, s_ready, 1));
        ready = s_wait (s_ready_seen, NULL, 200);
    }
    if (!s_check (ready, "qemu's outdev is connected", "no frame came out in 10 s"))
        return 0;
    return s_check (s_barrier (), "both compare and release (barrier)", NULL);
}

int
main (int argc, char **argv)
{
    const char *dirs[2] = {NULL, NULL};
    const char *only = NULL;
    int timeout_ms = 3000;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "--qemu") == 0 && i + 1 < argc)
            dirs[S_QEMU] = argv[++i];
        else if (strcmp (argv[i], "--ours") == 0 && i + 1 < argc)
            dirs[S_OURS] = argv[++i];
        else if (strcmp (argv[i], "--scan-ms") == 0 && i + 1 < argc)
            s_scan_ms = (uint32_t) atoi (argv[++i]);
        else if (strcmp (argv[i], "--timeout-ms") == 0 && i + 1 < argc)
            timeout_ms = atoi (argv[++i]);
        else if (strcmp (argv[i], "--queue") == 0 && i + 1 < argc)
            s_queue = (uint32_t) atoi (argv[++i]);
        else if (strcmp (argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else {
            dirs[0] = NULL;
            break;
        }
    }
    if (!dirs[0] || !dirs[1] || s_scan_ms == 0 || s_queue == 0 || s_queue > 4096
        || timeout_ms <= 0) {
        fprintf (stderr, "usage: colo_drive --qemu DIR --ours DIR [--scan-ms MS] "
                         "[--timeout-ms MS] [--queue N] [--only CASE-SUBSTRING]\n");
        return 2;
    }
    colo_log_set_level (COLO_LOG_ERROR);
    if (s_setup (dirs)) {
#define S_RUN(name, call)                                                      \
    do {                                                                       \
        if (!only || strstr (name, only))                                      \
            call;                                                              \
        else                                                                   \
            s_case_no++;                                                       \
    } while (0)
        static const int same_order[3] = {1, 2, 3}, other_order[3] = {3, 1, 2};
        S_RUN ("tcp identical", s_case_tcp_identical ());
        S_RUN ("tcp 1-byte", s_case_tcp_one_byte ());
        for (int whole = 1; whole >= 0; whole--)
            for (int sf = 0; sf < 2; sf++)
                S_RUN ("tcp segmentation", s_case_segmentation (whole, sf));
        S_RUN ("tcp retransmission", s_case_retransmit ());
        S_RUN ("tcp stale secondary", s_case_stale_secondary (timeout_ms));
        S_RUN ("tcp flush duplicate", s_case_flush_duplicate ());
        S_RUN ("udp lockstep", s_case_udp_lockstep ());
        S_RUN ("udp lagging",
               s_case_udp_lagging (same_order, "udp same order, secondary 3 behind", 2));
        S_RUN ("udp other order",
               s_case_udp_lagging (other_order, "udp other order, secondary 3 behind", 1));
        S_RUN ("udp secondary first", s_case_udp_secondary_first ());
        for (int kind = 0; kind < 3; kind++)
            for (int differ = 0; differ < 2; differ++)
                S_RUN ("unparsed", s_case_unparsed (kind, differ));
        S_RUN ("padding", s_case_padding (0));
        S_RUN ("padding", s_case_padding (1));
        S_RUN ("ack ahead", s_case_ack_ahead ());
        S_RUN ("fin rst", s_case_fin_rst ());
        S_RUN ("malformed", s_case_malformed ());
        S_RUN ("overflow", s_case_overflow ());
    }
    for (int i = 0; i < 2; i++) {
        s_list_clear (&s_impl[i].frames);
        free (s_impl[i].frames.items);
        for (int r = 0; r < 4; r++)
            colo_port_destroy (&s_impl[i].port[r]);
    }
    return s_failed == 0 && s_passed > 0 ? 0 : 1;
}
