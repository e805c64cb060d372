/*  rewriter.c - frames/s and CPU per frame of the sequence-translation engine vs pass-through.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Usage: rewriter [--flows N] [--frames N] [--rounds N] [--json]
 *  Sets up N established TCP connections (IPv4, every one with a non-zero
 *  offset) in an engine with the default table bound (1048576), then runs
 *  64-byte ACKs and 1460-byte data segments through the engine, toward the
 *  guest (ack translated) and from it (seq translated), round-robin over
 *  the connections (so consecutive frames never share a connection).  The
 *  engine reads the clock once per 64 frames, as the actor does per burst,
 *  so connections are touched on the age list as often as in service.
 *
 *  The engine takes the frames as the actor does, in bursts of 64
 *  (colo_rewriter_to_guest_burst, from_guest_burst); "rewrite_one" is the
 *  engine called frame by frame (colo_rewriter_to_guest, from_guest).
 *
 *  In the same run, on the same frames:
 *  - service level, what one frame costs a service between its two ports:
 *    "hop" allocates each frame, sends it into an shm ring, receives it and
 *    frees it (a pass-through that never looks at a frame, such as
 *    colo-redirector); "hop_decode" adds the packet decoder (a pass-through
 *    that parses what it forwards: receive, decode, forward); "hop_rewrite"
 *    has the engine there instead.  The target ratio is hop_rewrite /
 *    hop_decode: rewriting cannot be done without decoding, so that is
 *    what rewriting adds to a hop that would have to parse anyway.
 *    hop_rewrite / hop is printed too.
 *  - engine level, frames rewritten in place: "decode" is the packet
 *    decoder alone, "rewrite" the engine; "lookup" is the engine on the
 *    same connections after a checkpoint (offsets zero: decode, flow key,
 *    table lookup, nothing rewritten), which splits finding the connection
 *    from rewriting; "copy" is a memcpy of the frame, for scale.  lookup
 *    and copy are not pass-through baselines.
 *  Rounds interleave the modes (each round runs every mode once), so load
 *  that comes and goes hits every mode alike; each figure is the best of
 *  5 rounds (--rounds; on a loaded machine more and shorter rounds, such
 *  as --frames 500000 --rounds 20, find more quiet slices).  Prints CPU ns per frame (thread CPU time; wall in brackets),
 *  Mpps, and the ratios.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "colo_csum.h"
#include "colo_log.h"
#include "colo_packet.h"
#include "colo_port.h"
#include "colo_rewriter.h"
#include "colo_ring.h"

typedef enum {
    S_REWRITE,
    S_DECODE,
    S_COPY,
    S_LOOKUP,
    S_HOP_REWRITE,
    S_HOP_DECODE,
    S_HOP,
    S_REWRITE_ONE,
    S_MODES
} s_mode_t;
static const char *const s_mode_names[S_MODES] = {
    "rewrite", "decode", "copy", "lookup", "hop_rewrite", "hop_decode", "hop", "rewrite_one"};

//  The same connections after a checkpoint (offsets zero): the engine's
//  whole path but the rewrite itself.
static colo_rewriter_t *s_rw_zero;

#define S_BATCH 64    //  frames per burst (and per clock read)
#define S_ROUNDS 5   //  by default

//  The shm ring of the "hop" modes: both ends in this thread.
static colo_port_t *s_hop_tx, *s_hop_rx;

typedef struct {
    const char *name;
    uint32_t payload;         //  TCP payload bytes
    uint32_t pad_to;          //  frame length (without FCS) at least
    int to_guest;
} s_case_t;

static volatile uint64_t s_sink;

static uint64_t
s_cpu_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

//  An Ethernet/IPv4/TCP frame of connection `flow`, checksums filled in.
static colo_buf_t *
s_frame (uint32_t flow, int from_guest, uint8_t flags, uint32_t seq, uint32_t ack,
         uint32_t payload, uint32_t pad_to)
{
    uint32_t len = 14 + 20 + 20 + payload;
    if (len < pad_to)
        len = pad_to;
    colo_buf_t *buf = colo_buf_new (len);
    if (!buf)
        return NULL;
    uint8_t *f = buf->data;
    memset (f, 0, len);
    static const uint8_t mac_c[6] = {2, 0, 0, 0, 0, 1}, mac_g[6] = {0x52, 0x54, 0, 0x12, 0x34, 0x56};
    memcpy (f, from_guest ? mac_c : mac_g, 6);
    memcpy (f + 6, from_guest ? mac_g : mac_c, 6);
    colo_put_be16 (f + 12, COLO_ETHERTYPE_IPV4);
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    colo_put_be16 (ip + 2, (uint16_t) (40 + payload));
    ip[6] = 0x40;
    ip[8] = 64;
    ip[9] = COLO_IPPROTO_TCP;
    uint8_t client[4] = {10, (uint8_t) (flow >> 16), (uint8_t) (flow >> 8), (uint8_t) flow};
    uint8_t guest[4] = {192, 168, 0, 2};
    memcpy (ip + 12, from_guest ? guest : client, 4);
    memcpy (ip + 16, from_guest ? client : guest, 4);
    uint8_t *tcp = ip + 20;
    uint16_t cport = (uint16_t) (10000 + flow % 50000), gport = 80;
    colo_put_be16 (tcp, from_guest ? gport : cport);
    colo_put_be16 (tcp + 2, from_guest ? cport : gport);
    colo_put_be32 (tcp + 4, seq);
    colo_put_be32 (tcp + 8, ack);
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    colo_put_be16 (tcp + 14, 65535);
    for (uint32_t i = 0; i < payload; i++)
        tcp[20 + i] = (uint8_t) (i * 7 + flow);
    buf->len = len;
    colo_packet_t pkt;
    if (colo_packet_decode (&pkt, f, len, NULL) != COLO_PKT_OK || colo_csum_fix (&pkt, f) != 0)
        colo_buf_destroy (&buf);
    return buf;
}

//  A burst through the engine, as the actor passes it; the sum of the
//  results.
static uint64_t
s_burst (colo_rewriter_t *rw, colo_buf_t **bufs, int n, int to_guest, uint64_t now_ms)
{
    colo_rewriter_result_t results[S_BATCH];
    if (to_guest)
        colo_rewriter_to_guest_burst (rw, bufs, (size_t) n, now_ms, results);
    else
        colo_rewriter_from_guest_burst (rw, bufs, (size_t) n, now_ms, results);
    uint64_t sum = 0;
    for (int j = 0; j < n; j++)
        sum += results[j];
    return sum;
}

//  One frame through the engine (rewrite_one) or a baseline.
static uint64_t
s_one (colo_rewriter_t *rw, colo_buf_t *buf, s_mode_t mode, int to_guest, uint8_t *scratch,
       uint64_t now_ms)
{
    if (mode == S_REWRITE_ONE)
        return to_guest ? colo_rewriter_to_guest (rw, buf, now_ms)
                        : colo_rewriter_from_guest (rw, buf, now_ms);
    if (mode == S_DECODE || mode == S_HOP_DECODE) {
        colo_packet_t pkt;
        return colo_packet_decode (&pkt, colo_buf_frame (buf), colo_buf_frame_len (buf), NULL)
               + pkt.l4;
    }
    if (mode == S_COPY) {
        memcpy (scratch, buf->data, buf->len);
        return scratch[buf->len - 1];
    }
    return buf->data[buf->len - 1];
}

//  S_BATCH frames (copies of frames[k..]) sent into the ring, received,
//  handled and freed.  Returns the sum, or UINT64_MAX if the ring lost any.
static uint64_t
s_hop_batch (colo_rewriter_t *rw, colo_buf_t **frames, uint32_t nflows, uint32_t *k,
             s_mode_t mode, int to_guest)
{
    colo_buf_t *batch[S_BATCH];
    for (int j = 0; j < S_BATCH; j++) {
        batch[j] = colo_buf_dup (frames[*k]);
        if (++*k == nflows)
            *k = 0;
    }
    int sent = colo_port_send (s_hop_tx, batch, S_BATCH);
    colo_buf_destroy_array (batch + (sent > 0 ? sent : 0), S_BATCH - (sent > 0 ? sent : 0));
    int got = 0;
    uint64_t sum = 0;
    while (got < sent) {
        int n = colo_port_recv (s_hop_rx, batch + got, S_BATCH - got);
        if (n <= 0)
            return UINT64_MAX;
        got += n;
    }
    if (mode == S_HOP_REWRITE)
        sum += s_burst (rw, batch, got, to_guest, colo_clock_mono_ms ());
    for (int j = 0; j < got; j++) {
        if (mode != S_HOP_REWRITE)
            sum += s_one (rw, batch[j], mode, to_guest, NULL, 0);
        colo_buf_destroy (&batch[j]);
    }
    return sent == S_BATCH ? sum : UINT64_MAX;
}

//  One round of one mode over the frames: wall and CPU ns per frame, kept
//  in *wall_ns and *cpu_ns if better than what they hold (< 0: nothing yet).
static int
s_measure (colo_rewriter_t *rw, colo_buf_t **frames, uint32_t nflows, uint64_t n,
           s_mode_t mode, int to_guest, uint8_t *scratch, double *wall_ns, double *cpu_ns)
{
    int rc = 0;
    uint64_t w0 = colo_clock_mono_ns (), c0 = s_cpu_ns ();
    uint32_t k = 0;
    uint64_t sum = 0, i = 0;
    if (mode == S_HOP || mode == S_HOP_DECODE || mode == S_HOP_REWRITE)
        for (; i < n; i += S_BATCH) {
            uint64_t got = s_hop_batch (rw, frames, nflows, &k, mode, to_guest);
            if (got == UINT64_MAX)
                rc = -1;
            sum += got;
        }
    else if (mode == S_REWRITE || mode == S_LOOKUP) {
        colo_rewriter_t *engine = mode == S_LOOKUP ? s_rw_zero : rw;
        colo_buf_t *batch[S_BATCH];
        for (; i < n; i += S_BATCH) {
            uint64_t now_ms = colo_clock_mono_ms ();
            colo_buf_t **bufs = frames + k;
            if (k + S_BATCH <= nflows)
                k += S_BATCH;
            else {
                for (int j = 0; j < S_BATCH; j++) {
                    batch[j] = frames[k];
                    if (++k == nflows)
                        k = 0;
                }
                bufs = batch;
            }
            if (k == nflows)
                k = 0;
            sum += s_burst (engine, bufs, S_BATCH, to_guest, now_ms);
        }
    }
    else {
        int engine = mode == S_REWRITE_ONE;
        for (; i < n; i += S_BATCH) {
            uint64_t now_ms = engine ? colo_clock_mono_ms () : 0;
            for (int j = 0; j < S_BATCH; j++) {
                sum += s_one (rw, frames[k], mode, to_guest, scratch, now_ms);
                if (++k == nflows)
                    k = 0;
            }
        }
    }
    double w = (double) (colo_clock_mono_ns () - w0) / (double) i;
    double c = (double) (s_cpu_ns () - c0) / (double) i;
    s_sink += sum;
    if (*wall_ns < 0 || w < *wall_ns)
        *wall_ns = w;
    if (*cpu_ns < 0 || c < *cpu_ns)
        *cpu_ns = c;
    return rc;
}

int
main (int argc, char **argv)
{
    uint32_t nflows = 1024;
    uint64_t nframes = 2000000;
    int json = 0, rounds = S_ROUNDS;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "--flows") == 0 && i + 1 < argc)
            nflows = (uint32_t) strtoul (argv[++i], NULL, 10);
        else if (strcmp (argv[i], "--frames") == 0 && i + 1 < argc)
            nframes = strtoull (argv[++i], NULL, 10);
        else if (strcmp (argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi (argv[++i]);
        else if (strcmp (argv[i], "--json") == 0)
            json = 1;
        else
            nflows = 0;
    }
    nframes = (nframes + S_BATCH - 1) / S_BATCH * S_BATCH;
    if (nflows == 0 || nflows > 1000000 || nframes == 0 || rounds < 1 || rounds > 1000) {
        fprintf (stderr, "usage: rewriter [--flows N] [--frames N] [--rounds N] [--json]\n");
        return 2;
    }
    colo_log_set_level (COLO_LOG_ERROR);
    colo_rewriter_config_t cfg;
    colo_rewriter_config_defaults (&cfg);
    colo_rewriter_t *rw = colo_rewriter_new (&cfg);
    s_rw_zero = colo_rewriter_new (&cfg);
    char shm_name[64], shm_uri[96];
    snprintf (shm_name, sizeof shm_name, "bench-rewriter-%d", (int) getpid ());
    snprintf (shm_uri, sizeof shm_uri, "shm:%s,size=16M", shm_name);
    s_hop_rx = colo_port_new (shm_uri, COLO_PORT_RX);
    s_hop_tx = colo_port_new (shm_uri, COLO_PORT_TX);
    if (!rw || !s_rw_zero || !s_hop_rx || !s_hop_tx) {
        fprintf (stderr, "rewriter: setup failed\n");
        return 1;
    }
    //  Establish every connection: client SYN, secondary SYN-ACK, client ACK.
    const uint32_t c_isn = 1000, p_isn = 2000000, s_isn = 0xfff00000u;
    for (int e = 0; e < 2; e++)
        for (uint32_t flow = 0; flow < nflows; flow++) {
            colo_rewriter_t *engine = e ? s_rw_zero : rw;
            colo_buf_t *syn = s_frame (flow, 0, COLO_TCP_SYN, c_isn, 0, 0, 0);
            colo_buf_t *synack = s_frame (flow, 1, COLO_TCP_SYN | COLO_TCP_ACK, s_isn + flow,
                                          c_isn + 1, 0, 0);
            colo_buf_t *ack = s_frame (flow, 0, COLO_TCP_ACK, c_isn + 1, p_isn + 1, 0, 0);
            if (!syn || !synack || !ack)
                return 1;
            colo_rewriter_to_guest (engine, syn, 1000);
            colo_rewriter_from_guest (engine, synack, 1000);
            colo_rewriter_to_guest (engine, ack, 1000);
            colo_buf_destroy (&syn);
            colo_buf_destroy (&synack);
            colo_buf_destroy (&ack);
        }
    colo_rewriter_checkpoint_done (s_rw_zero);
    if (colo_rewriter_counters (rw)[COLO_RW_LEARNED_ACCEPTED] != nflows) {
        fprintf (stderr, "rewriter: setup failed\n");
        return 1;
    }
    static const s_case_t cases[] = {
        {"ack_to_guest", 0, 64, 1},
        {"ack_from_guest", 0, 64, 0},
        {"data1460_to_guest", 1460, 0, 1},
        {"data1460_from_guest", 1460, 0, 0},
    };
    enum { NCASES = sizeof cases / sizeof cases[0] };
    double wall[NCASES][S_MODES], cpu[NCASES][S_MODES];
    colo_buf_t **frames = (colo_buf_t **) calloc (nflows, sizeof (colo_buf_t *));
    uint8_t *scratch = (uint8_t *) malloc (COLO_FRAME_MAX);
    int rc = frames && scratch ? 0 : 1;
    for (int k = 0; k < NCASES && frames && scratch; k++) {
        const s_case_t *cs = &cases[k];
        for (uint32_t flow = 0; flow < nflows; flow++)
            frames[flow] = cs->to_guest
                               ? s_frame (flow, 0, COLO_TCP_ACK, c_isn + 1, p_isn + 1,
                                          cs->payload, cs->pad_to)
                               : s_frame (flow, 1, COLO_TCP_ACK, s_isn + flow + 1, c_isn + 1,
                                          cs->payload, cs->pad_to);
        colo_rewriter_counter_t which = cs->to_guest ? COLO_RW_REWRITTEN_TO_GUEST
                                                     : COLO_RW_REWRITTEN_FROM_GUEST;
        uint64_t before = colo_rewriter_counters (rw)[which];
        for (int m = 0; m < S_MODES; m++)
            wall[k][m] = cpu[k][m] = -1;
        for (int round = 0; round < rounds; round++)
            for (int m = 0; m < S_MODES; m++)
                if (s_measure (rw, frames, nflows, nframes, (s_mode_t) m, cs->to_guest, scratch,
                               &wall[k][m], &cpu[k][m])
                    != 0)
                    rc = 1;
        //  Every frame was rewritten, and the frames are still right.
        if (colo_rewriter_counters (rw)[which] - before != 3 * (uint64_t) rounds * nframes)
            rc = 1;
        for (uint32_t flow = 0; flow < nflows; flow++) {
            colo_packet_t pkt;
            if (colo_packet_decode (&pkt, frames[flow]->data, frames[flow]->len, NULL)
                    != COLO_PKT_OK
                || colo_csum_l4_verify (&pkt, frames[flow]->data) != 1)
                rc = 1;
        }
        colo_buf_destroy_array (frames, (int) nflows);
    }
    free (frames);
    free (scratch);
    colo_port_destroy (&s_hop_tx);
    colo_port_destroy (&s_hop_rx);
    colo_ring_unlink (shm_name);
    colo_rewriter_destroy (&rw);
    colo_rewriter_destroy (&s_rw_zero);
    if (json) {
        printf ("{\"benchmark\":\"rewriter\",\"flows\":%u,\"frames\":%llu,\"rounds\":%d,"
                "\"results\":[",
                nflows, (unsigned long long) nframes, rounds);
        for (int k = 0; k < NCASES; k++) {
            const double *c = cpu[k];
            printf ("%s{\"case\":\"%s\"", k ? "," : "", cases[k].name);
            for (int m = 0; m < S_MODES; m++)
                printf (",\"%s_cpu_ns\":%.1f,\"%s_wall_ns\":%.1f", s_mode_names[m], c[m],
                        s_mode_names[m], wall[k][m]);
            printf (",\"rewrite_mpps\":%.2f,\"hop_rewrite_mpps\":%.2f,"
                    "\"ratio_hop_decode\":%.2f,\"ratio_hop\":%.2f,\"ratio_decode\":%.2f,"
                    "\"ratio_lookup\":%.2f,\"ratio_copy\":%.2f}",
                    1000.0 / c[S_REWRITE], 1000.0 / c[S_HOP_REWRITE],
                    c[S_HOP_REWRITE] / c[S_HOP_DECODE], c[S_HOP_REWRITE] / c[S_HOP],
                    c[S_REWRITE] / c[S_DECODE], c[S_REWRITE] / c[S_LOOKUP],
                    c[S_REWRITE] / c[S_COPY]);
        }
        printf ("],\"ok\":%s}\n", rc ? "false" : "true");
    }
    else {
        printf ("rewriter: %u connections, %llu frames per round, best of %d interleaved "
                "rounds; CPU ns per frame (wall)\n",
                nflows, (unsigned long long) nframes, rounds);
        for (int k = 0; k < NCASES; k++) {
            const double *c = cpu[k], *w = wall[k];
            printf ("  %-19s service: hop+rewrite %5.1f (%5.1f) = %5.2f Mpps; hop+decode %5.1f "
                    "(%5.1f), hop %5.1f (%5.1f); x%.2f hop+decode, x%.2f hop\n"
                    "  %-19s engine:  rewrite %5.1f (%5.1f) = %5.2f Mpps; decode %5.1f (%5.1f), "
                    "lookup %5.1f (%5.1f), copy %5.1f (%5.1f); x%.2f decode, x%.2f lookup; "
                    "frame by frame %5.1f (%5.1f)\n",
                    cases[k].name, c[S_HOP_REWRITE], w[S_HOP_REWRITE], 1000.0 / c[S_HOP_REWRITE],
                    c[S_HOP_DECODE], w[S_HOP_DECODE], c[S_HOP], w[S_HOP],
                    c[S_HOP_REWRITE] / c[S_HOP_DECODE], c[S_HOP_REWRITE] / c[S_HOP], "",
                    c[S_REWRITE], w[S_REWRITE], 1000.0 / c[S_REWRITE], c[S_DECODE], w[S_DECODE],
                    c[S_LOOKUP], w[S_LOOKUP], c[S_COPY], w[S_COPY], c[S_REWRITE] / c[S_DECODE],
                    c[S_REWRITE] / c[S_LOOKUP], c[S_REWRITE_ONE], w[S_REWRITE_ONE]);
        }
        if (rc)
            printf ("  FAILED: a frame was lost, not rewritten, or came out wrong\n");
    }
    return rc;
}
