/*  engine.c - CPU per packet of the compare engine alone, against the least a comparator does.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Usage: engine [--segments N] [--rounds N] [--only MODE] [--timestamps]
 *                [--shape tcp4|tcp6|vlan|udp4] [--secondary-first] [--connections N]
 *                [--json]
 *
 *  bench/compare's stream (TCP segments over 16 connections, payloads of
 *  64, 512 and 1460 bytes in turn; default 200,000 segments) goes through
 *  colo-compare's engine in this process, with no sockets and no kernel:
 *  the user-space share of bench/compare's "ours" without the kernel's
 *  share and its noise, so a change to the engine of a few percent shows
 *  here where bench/compare cannot see it.
 *
 *  Batches of 256 segments, as compare takes them from an input per loop
 *  turn: the primary's and the secondary's bytes of a batch are copied
 *  into a staging slab each, as a port's read leaves them (in cache); the
 *  primary's frames go in as buffers made in their slab
 *  (colo_buf_new_in_views; colo_compare_primaries, the whole batch at
 *  once), the secondary's as views into theirs
 *  (colo_compare_secondary_frames); the released frames are taken and
 *  freed.
 *  Modes, on the same bytes:
 *  - "engine": the engine as colo-compare runs it;
 *  - "engine_full": the same with full_decode (every frame decoded in
 *    full, as with rules loaded);
 *  - "engine_queued": the same with queued_only (every secondary segment
 *    through its connection's queue, none compared in place as the waiting
 *    primary's twin): what the in-place path saves;
 *  - "bare": the least any comparator does: each secondary payload
 *    compared with its primary twin (memcmp, the offsets known in advance);
 *  - "copy": the staging copies alone, taken off every other mode.
 *  Rounds interleave the modes (each round runs each once), so load that
 *  comes and goes hits them alike; each figure is the best of --rounds
 *  (default 7).  Prints CPU ns per packet (process CPU time) and the ratios
 *  engine / bare, engine_full / engine and engine / engine_queued; --json
 *  prints one JSON object.
 *  --timestamps: every segment carries NOP NOP TS (as bench/compare's).
 *  --shape: what the frames carry (bench_stream.h): TCP over IPv4 (the
 *  default), over IPv6, over IPv4 in a VLAN tag, or UDP over IPv4, so the
 *  paths other traffic takes through the engine can be held against it.
 *  --secondary-first: each batch's secondary frames go in before its
 *  primary ones, so every secondary frame waits in the queue for its twin
 *  (by default they find their twin waiting).
 *  --connections N: the stream over N flows (default 16; bench_stream.h),
 *  for the cost of a large connection table whose entries are cold; each
 *  round's engine is new, so each flow's first segment makes its entry.
 *  --only MODE runs that mode (and "copy", taken off it) alone, without
 *  the ratios: for a profiler (cachegrind, perf) to see one mode only.
 *  On a shared VM the host may run a vCPU at half speed for seconds at a
 *  time (seen here: every mode about twice as slow in one invocation, the
 *  bytes copied alone not): compare builds over several invocations each,
 *  alternating them, and look at the best.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_stream.h"
#include "colo_buf.h"
#include "colo_compare.h"
#include "colo_log.h"

#define S_BATCH 256
#define S_ROUNDS 7
#define S_STAGE (1u << 20)  //  staging bytes per side (a batch is < 400 KiB)

typedef enum { S_ENGINE, S_ENGINE_FULL, S_ENGINE_QUEUED, S_BARE, S_COPY, S_MODES } s_mode_t;
static const char *const s_mode_names[S_MODES] = {"engine", "engine_full", "engine_queued",
                                                  "bare", "copy"};

static volatile uint64_t s_sink;
static int s_secondary_first;

static uint64_t
s_cpu_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

//  The views of records [first, end) of s staged at base, in slab (offsets
//  as in s, less s->off[first]).
static void
s_views (const bench_stream_t *s, uint64_t first, uint64_t end, const uint8_t *base,
         colo_buf_slab_t *slab, colo_frame_view_t *views)
{
    for (uint64_t k = first; k < end; k++) {
        colo_frame_view_t *v = &views[k - first];
        v->data = base + (s->off[k] - s->off[first]) + 4;
        v->len = (uint32_t)(s->off[k + 1] - s->off[k] - 4);
        v->vnet_hdr_len = 0;
        v->ts_ns = 0;
        v->slab = slab;
    }
}

//  One round of one mode over the stream: CPU ns for it, or 0 on failure.
static uint64_t
s_round (const bench_stream_t *s, s_mode_t mode, colo_buf_slab_t *slab,
         colo_buf_slab_t *sslab)
{
    colo_compare_config_t cfg;
    colo_compare_config_defaults (&cfg);
    cfg.full_decode = mode == S_ENGINE_FULL;
    cfg.queued_only = mode == S_ENGINE_QUEUED;
    colo_compare_t *engine = NULL;
    if (mode == S_ENGINE || mode == S_ENGINE_FULL || mode == S_ENGINE_QUEUED) {
        engine = colo_compare_new (&cfg);
        if (!engine)
            return 0;
    }
    uint8_t *pri = colo_buf_slab_data (slab), *sec = colo_buf_slab_data (sslab);
    colo_frame_view_t pv[S_BATCH], sv[S_BATCH];
    colo_buf_t *bufs[S_BATCH];
    uint64_t released = 0, sum = 0;
    uint64_t c0 = s_cpu_ns ();
    for (uint64_t i = 0; i < s->n; i += S_BATCH) {
        uint64_t end = i + S_BATCH < s->n ? i + S_BATCH : s->n;
        int n = (int)(end - i);
        size_t bytes = (size_t)(s->off[end] - s->off[i]);
        if (colo_buf_slab_shared (slab) || colo_buf_slab_shared (sslab))
            break;  //  frames of the last batch still held: the counts say so below
        memcpy (pri, s->data + s->off[i], bytes);
        memcpy (sec, s->data + s->off[i], bytes);
        if (mode == S_COPY) {
            sum += pri[bytes - 1] + sec[0];
            released += (uint64_t)n;
            continue;
        }
        s_views (s, i, end, pri, slab, pv);
        s_views (s, i, end, sec, sslab, sv);
        if (mode == S_BARE) {
            for (int k = 0; k < n; k++)
                sum += memcmp (pv[k].data + bench_payload_off (),
                               sv[k].data + bench_payload_off (),
                               pv[k].len - bench_payload_off ())
                       == 0;
            released += (uint64_t)n;
            continue;
        }
        if (colo_buf_new_in_views (slab, pv, n, bufs) != n)
            break;
        for (int pass = 0; pass < 2; pass++) {
            if (pass == s_secondary_first) {
                for (int k = colo_compare_primaries (engine, bufs, n, 1000); k < n; k++)
                    colo_buf_destroy (&bufs[k]);
            }
            else
                colo_compare_secondary_frames (engine, sv, n, 1000);
        }
        int got;
        while ((got = colo_compare_take (engine, bufs, S_BATCH)) > 0) {
            released += (uint64_t)got;
            colo_buf_destroy_array (bufs, got);
        }
    }
    uint64_t cpu = s_cpu_ns () - c0;
    s_sink += sum;
    if (engine) {
        //  Every segment matched and left: anything else and the figure
        //  is not what it claims to be.
        const uint64_t *c = colo_compare_counters (engine);
        colo_compare_reason_t why;
        char desc[8];
        if (c[COLO_CMP_RELEASED_MATCHED] != s->n
            || colo_compare_take_request (engine, &why, desc, sizeof desc))
            released = 0;
        colo_compare_destroy (&engine);
    }
    return released == s->n ? (cpu ? cpu : 1) : 0;
}

int
main (int argc, char **argv)
{
    uint64_t segments = 200000;
    int rounds = S_ROUNDS, json = 0, bad = 0, only = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "--segments") == 0 && i + 1 < argc)
            segments = strtoull (argv[++i], NULL, 10);
        else if (strcmp (argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi (argv[++i]);
        else if (strcmp (argv[i], "--json") == 0)
            json = 1;
        else if (strcmp (argv[i], "--timestamps") == 0)
            bench_timestamps = 1;
        else if (strcmp (argv[i], "--secondary-first") == 0)
            s_secondary_first = 1;
        else if (strcmp (argv[i], "--connections") == 0 && i + 1 < argc) {
            unsigned long long n = strtoull (argv[++i], NULL, 10);
            if (n < 1 || n > BENCH_CONNS_MAX)
                bad = 1;
            else
                bench_conns = (uint32_t)n;
        }
        else if (strcmp (argv[i], "--shape") == 0 && i + 1 < argc) {
            int shape = bench_shape_parse (argv[++i]);
            if (shape < 0)
                bad = 1;
            else
                bench_shape = (bench_shape_t)shape;
        }
        else if (strcmp (argv[i], "--only") == 0 && i + 1 < argc) {
            const char *name = argv[++i];
            for (int m = 0; m < S_MODES; m++)
                if (strcmp (name, s_mode_names[m]) == 0)
                    only = m;
            if (only < 0)
                bad = 1;
        }
        else
            bad = 1;
    }
    if (bad || segments == 0 || segments > 100000000 || rounds < 1 || rounds > 1000) {
        fprintf (stderr, "usage: engine [--segments N] [--rounds N] [--only MODE] "
                         "[--timestamps] [--shape tcp4|tcp6|vlan|udp4] "
                         "[--secondary-first] [--connections N] [--json]\n");
        return 2;
    }
    colo_log_set_level (COLO_LOG_ERROR);
    bench_stream_t stream;
    colo_buf_slab_t *slab = colo_buf_slab_new (S_STAGE);
    colo_buf_slab_t *sslab = colo_buf_slab_new (S_STAGE);
    if (bench_stream_build (&stream, segments) != 0 || !slab || !sslab) {
        fprintf (stderr, "engine: out of memory\n");
        return 1;
    }
    uint64_t best[S_MODES] = {0};
    for (int r = 0; r < rounds; r++)
        for (int m = 0; m < S_MODES; m++) {
            if (only >= 0 && m != only && m != S_COPY)
                continue;
            uint64_t ns = s_round (&stream, (s_mode_t)m, slab, sslab);
            if (ns == 0) {
                fprintf (stderr, "engine: mode %s did not release every segment matched\n",
                         s_mode_names[m]);
                return 1;
            }
            if (best[m] == 0 || ns < best[m])
                best[m] = ns;
        }
    //  Per packet, the staging copies taken off.
    double per[S_MODES];
    for (int m = 0; m < S_MODES; m++) {
        double ns = (double)best[m] - (m == S_COPY ? 0.0 : (double)best[S_COPY]);
        per[m] = (ns > 0 ? ns : 0.0) / (double)segments;
    }
    double vs_bare = per[S_BARE] > 0 ? per[S_ENGINE] / per[S_BARE] : 0;
    double full_vs = per[S_ENGINE] > 0 ? per[S_ENGINE_FULL] / per[S_ENGINE] : 0;
    double vs_queued = per[S_ENGINE_QUEUED] > 0 ? per[S_ENGINE] / per[S_ENGINE_QUEUED] : 0;
    if (json) {
        printf ("{\"benchmark\":\"engine\",\"shape\":\"%s\",\"timestamps\":%s,"
                "\"secondary_first\":%s,\"segments\":%llu,\"connections\":%u,\"rounds\":%d",
                bench_shape_names[bench_shape], bench_timestamps ? "true" : "false",
                s_secondary_first ? "true" : "false", (unsigned long long)segments,
                bench_conns, rounds);
        for (int m = 0; m < S_MODES; m++)
            if (best[m])
                printf (",\"%s_cpu_ns_per_packet\":%.1f", s_mode_names[m], per[m]);
        if (only < 0)
            printf (",\"engine_vs_bare\":%.2f,\"engine_full_vs_engine\":%.2f"
                    ",\"engine_vs_engine_queued\":%.2f",
                    vs_bare, full_vs, vs_queued);
        printf ("}\n");
    }
    else {
        printf ("engine: %llu %s%s over %u flows (payloads 64/512/1460), batches of %d%s; "
                "best of %d rounds\n",
                (unsigned long long)segments, bench_shape_desc (),
                bench_timestamps && bench_shape != BENCH_UDP4 ? " (with timestamps)" : "",
                bench_conns, S_BATCH, s_secondary_first ? ", the secondary's first" : "",
                rounds);
        printf ("  %-14s %12s\n", "mode", "CPU ns/pkt");
        for (int m = 0; m < S_MODES; m++)
            if (best[m])
                printf ("  %-14s %12.1f%s\n", s_mode_names[m], per[m],
                        m == S_COPY ? "   (staging copies; taken off the others)" : "");
        if (only < 0)
            printf ("  engine / bare: x%.2f; engine_full / engine: x%.2f; "
                    "engine / engine_queued: x%.2f\n",
                    vs_bare, full_vs, vs_queued);
    }
    colo_buf_slab_release (&slab);
    colo_buf_slab_release (&sslab);
    free (stream.data);
    free (stream.off);
    return 0;
}
