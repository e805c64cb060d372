/*  fuzz_compare.c - the compare input path: arbitrary frames on both sides.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  The input is one byte of configuration (bit 7 the ack policy, the low six
 *  bits the datagram reorder grace), then a sequence of records: one control
 *  byte, a 2-byte length, then that many frame bytes.  The control byte
 *  picks the side (bit 0), a tick (bit 1, time advancing by the next byte in
 *  ms * 16), a checkpoint (bit 2), a failover (bit 3, before the
 *  checkpoint), and a 12-byte vnet header at the front of a frame longer
 *  than that (bit 6); bit 4 puts a secondary frame's bytes for the second
 *  engine (below) in a slab of their own, which the harness lets go of at
 *  once (colo_compare_secondary_frame: what the engine keeps holds the
 *  slab, where it otherwise copies).  Every released frame must be one the primary sent;
 *  the engine must never crash, leak or read out of bounds whatever the
 *  bytes.
 *
 *  A second engine gets the same records, but the secondary's frames
 *  through colo_compare_secondary_view, from the input bytes themselves
 *  (which the fuzzer owns and may not keep: the engine must copy what it
 *  keeps), and it decodes every frame in full (full_decode), where the
 *  first decodes plain IPv4 TCP segments only as far as compare needs;
 *  and every secondary segment goes through its queue (queued_only),
 *  where the first compares one that is the waiting primary head's twin
 *  in place.  The view path runs the queued path's code on a borrowed
 *  item, the lite decode must find what the full one finds, and the
 *  in-place match must do what the queue does, so the two engines must
 *  agree on everything: after every record the
 *  same frames released in the same order with the same bytes, the same
 *  refusals, the same checkpoint requests with the same reason and text,
 *  the same queues; at the end every counter.
 *
 *  A third engine, like the first but looking ahead at any table size
 *  (lookahead_connections 0), gets the same frames in bursts: each run of
 *  records on one side between ticks, checkpoints and failovers goes in at
 *  once (colo_compare_primaries, or the secondary's through
 *  colo_compare_secondary_frames when bit 5 of the run's first record is
 *  set, else colo_compare_secondaries), the rest of a run offered again
 *  after a refusal.  It must refuse the records the first refused and
 *  release the same frames in the same order; at each run's end its
 *  queues must match, at the end every counter.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "colo_compare.h"
#include "colo_log.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define s_require(cond)                                                        \
    do {                                                                       \
        if (!(cond))                                                           \
            abort ();                                                          \
    } while (0)

#define S_VNET 12

static colo_buf_t *
s_frame (const uint8_t *bytes, size_t len, uint16_t vnet)
{
    colo_buf_t *buf = colo_buf_new_copy (bytes, len);
    if (buf)
        buf->vnet_hdr_len = vnet;
    return buf;
}

//  The burst engine's side: the records of the run not yet fed, and what
//  the first engine released that the burst engine has not yet.
#define S_RUN 64
typedef struct {
    colo_compare_t *engine;
    int side, views;
    int n;
    const uint8_t *frame[S_RUN];
    uint32_t len[S_RUN];
    uint16_t vnet[S_RUN];
    int rc[S_RUN];            //  the first engine's verdict on each
    colo_buf_t **log;         //  released by the first engine, in order
    size_t log_head, log_tail, log_cap;
    uint64_t now;
} s_burst_t;

static void
s_log (s_burst_t *b, const colo_buf_t *out)
{
    if (b->log_tail == b->log_cap) {
        b->log_cap = b->log_cap ? b->log_cap * 2 : 64;
        b->log = (colo_buf_t **) realloc (b->log, b->log_cap * sizeof *b->log);
        s_require (b->log);
    }
    colo_buf_t *copy = colo_buf_new_copy (out->data, out->len);
    s_require (copy);
    copy->vnet_hdr_len = out->vnet_hdr_len;
    b->log[b->log_tail++] = copy;
}

//  What the burst engine released must be what the first one did.
static void
s_burst_take (s_burst_t *b)
{
    colo_buf_t *out[16];
    int n;
    while ((n = colo_compare_take (b->engine, out, 16)) > 0) {
        for (int i = 0; i < n; i++) {
            s_require (b->log_head < b->log_tail);
            colo_buf_t *want = b->log[b->log_head++];
            s_require (want->len == out[i]->len && want->vnet_hdr_len == out[i]->vnet_hdr_len);
            s_require (memcmp (want->data, out[i]->data, want->len) == 0);
            colo_buf_destroy (&want);
        }
        colo_buf_destroy_array (out, n);
    }
}

//  Feed the run, as bursts, each refusal where the first engine refused
//  (what it releases is taken once the first engine's is logged).
static void
s_burst_flush (s_burst_t *b)
{
    int at = 0;
    while (at < b->n) {
        int n = b->n - at, took;
        colo_buf_t *bufs[S_RUN] = {NULL};
        colo_frame_view_t views[S_RUN];
        for (int i = 0; i < n; i++)
            if (b->side == 1 && b->views)
                views[i] = (colo_frame_view_t) {b->frame[at + i], b->len[at + i],
                                                b->vnet[at + i], b->now * 1000000, NULL};
            else {
                bufs[i] = s_frame (b->frame[at + i], b->len[at + i], b->vnet[at + i]);
                s_require (bufs[i]);
            }
        if (b->side == 0)
            took = colo_compare_primaries (b->engine, bufs, n, b->now);
        else if (b->views)
            took = colo_compare_secondary_frames (b->engine, views, n, b->now);
        else
            took = colo_compare_secondaries (b->engine, bufs, n, b->now);
        s_require (took >= 0 && took <= n);
        for (int i = 0; i < took; i++)
            s_require (b->rc[at + i] == 0 && bufs[i] == NULL);
        if (took < n)
            s_require (b->rc[at + took] != 0);
        for (int i = 0; i < n; i++)
            colo_buf_destroy (&bufs[i]);
        at += took + 1;
    }
    b->n = 0;
}

//  Take everything both engines released: the same frames, in the same
//  order, with the same bytes.  Returns how many.
static uint64_t
s_take_both (colo_compare_t *cmp, colo_compare_t *view, s_burst_t *b)
{
    uint64_t taken = 0;
    colo_buf_t *out[16], *out2[16];
    int n;
    while ((n = colo_compare_take (cmp, out, 16)) > 0) {
        int n2 = colo_compare_take (view, out2, n);
        s_require (n2 == n);
        for (int i = 0; i < n; i++) {
            s_require (out[i]->len == out2[i]->len);
            s_require (out[i]->vnet_hdr_len == out2[i]->vnet_hdr_len);
            s_require (memcmp (out[i]->data, out2[i]->data, out[i]->len) == 0);
            s_log (b, out[i]);
        }
        taken += (uint64_t) n;
        colo_buf_destroy_array (out, n);
        colo_buf_destroy_array (out2, n);
    }
    s_require (colo_compare_released_count (view) == 0);
    return taken;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    colo_log_set_level (COLO_LOG_ERROR);
    colo_compare_config_t cfg;
    colo_compare_config_defaults (&cfg);
    cfg.max_connections = 64;
    cfg.max_queue_size = 32;
    cfg.reorder_grace_ms = size ? data[0] & 0x3f : 0;
    cfg.ack_policy = size && (data[0] & 0x80) ? COLO_ACK_HOLD : COLO_ACK_LOWER;
    colo_compare_t *cmp = colo_compare_new (&cfg);
    s_burst_t b;
    memset (&b, 0, sizeof b);
    cfg.lookahead_connections = 0;
    b.engine = colo_compare_new (&cfg);
    cfg.lookahead_connections = 2048;
    cfg.full_decode = 1;
    cfg.queued_only = 1;
    colo_compare_t *view = colo_compare_new (&cfg);
    if (!cmp || !view || !b.engine) {
        colo_compare_destroy (&cmp);
        colo_compare_destroy (&view);
        colo_compare_destroy (&b.engine);
        return 0;
    }
    uint64_t now = 1000;
    size_t off = size ? 1 : 0;
    uint64_t primaries = 0, released = 0;
    while (off + 3 <= size) {
        uint8_t ctl = data[off];
        size_t len = (size_t) data[off + 1] << 8 | data[off + 2];
        off += 3;
        if (len > size - off)
            len = size - off;
        //  A run ends at a change of side, a tick, or a full run.
        if (b.n && (b.side != (ctl & 1) || (ctl & 2) || b.n == S_RUN))
            s_burst_flush (&b);
        if (ctl & 2)
            now += (uint64_t) (len ? data[off] : 1) * 16;
        const uint8_t *frame = data + off;
        off += len;
        uint16_t vnet = (ctl & 0x40) && len > S_VNET ? S_VNET : 0;
        if (b.n == 0) {
            b.side = ctl & 1;
            b.views = (ctl & 0x20) != 0;
            b.now = now;
        }
        b.frame[b.n] = frame;
        b.len[b.n] = (uint32_t) len;
        b.vnet[b.n] = vnet;
        colo_buf_t *buf = s_frame (frame, len, vnet);
        if (!buf)
            break;
        int rc, rc2;
        if (ctl & 1) {
            rc = colo_compare_secondary (cmp, &buf, now);
            if (ctl & 0x10) {
                //  The view's bytes in a slab, which this caller lets go of
                //  at once: what the engine keeps must hold the slab.
                colo_buf_slab_t *slab = colo_buf_slab_new (len ? len : 1);
                s_require (slab);
                if (len)
                    memcpy (colo_buf_slab_data (slab), frame, len);
                colo_frame_view_t v = {colo_buf_slab_data (slab), (uint32_t) len, vnet,
                                       now * 1000000, slab};
                rc2 = colo_compare_secondary_frame (view, &v, now);
                colo_buf_slab_release (&slab);
            }
            else
                rc2 = colo_compare_secondary_view (view, frame, (uint32_t) len, vnet,
                                                   now * 1000000, now);
        }
        else {
            colo_buf_t *buf2 = s_frame (frame, len, vnet);
            s_require (buf2);
            rc = colo_compare_primary (cmp, &buf, now);
            rc2 = colo_compare_primary (view, &buf2, now);
            s_require ((rc == 0) == (buf2 == NULL));
            colo_buf_destroy (&buf2);
            if (rc == 0)
                primaries++;
        }
        s_require (rc == rc2);
        s_require ((rc == 0) == (buf == NULL));
        b.rc[b.n++] = rc;
        if (ctl & (2 | 4 | 8))
            s_burst_flush (&b);   //  the run ends before the tick, failover, checkpoint
        colo_buf_destroy (&buf);   //  refused frames are still ours
        if (ctl & 2) {
            colo_compare_tick (cmp, now);
            colo_compare_tick (view, now);
            colo_compare_tick (b.engine, now);
        }
        if (ctl & 8) {
            colo_compare_failover (cmp, now);
            colo_compare_failover (view, now);
            colo_compare_failover (b.engine, now);
        }
        if (ctl & 4) {
            colo_compare_checkpoint_done (cmp, now);
            colo_compare_checkpoint_done (view, now);
            colo_compare_checkpoint_done (b.engine, now);
        }
        colo_compare_reason_t reason = COLO_REASON_COUNT, reason2 = COLO_REASON_COUNT;
        char desc[160] = "", desc2[160] = "";
        int req = colo_compare_take_request (cmp, &reason, desc, sizeof desc);
        s_require (req == colo_compare_take_request (view, &reason2, desc2, sizeof desc2));
        s_require (!req || (reason == reason2 && strcmp (desc, desc2) == 0));
        s_require (colo_compare_stuck (cmp) == colo_compare_stuck (view));
        s_require (colo_compare_in_failover (cmp) == colo_compare_in_failover (view));
        released += s_take_both (cmp, view, &b);
        if (b.n == 0) {
            //  The burst engine is level with the first: it took the same.
            s_burst_take (&b);
            s_require (colo_compare_queued_primary (cmp) == colo_compare_queued_primary (b.engine));
            s_require (colo_compare_queued_secondary (cmp)
                       == colo_compare_queued_secondary (b.engine));
        }
        s_require (colo_compare_queued_primary (cmp) == colo_compare_queued_primary (view));
        s_require (colo_compare_queued_secondary (cmp) == colo_compare_queued_secondary (view));
        s_require (colo_compare_connections (cmp) == colo_compare_connections (view));
    }
    s_burst_flush (&b);
    colo_compare_checkpoint_done (cmp, now);
    colo_compare_checkpoint_done (view, now);
    colo_compare_checkpoint_done (b.engine, now);
    released += s_take_both (cmp, view, &b);
    s_burst_take (&b);
    s_require (b.log_head == b.log_tail);
    //  Output commit bookkeeping: never more out than the primary sent in,
    //  and after a final checkpoint everything accepted has left.
    s_require (released <= primaries);
    s_require (colo_compare_queued_primary (cmp) == 0);
    s_require (colo_compare_queued_primary (view) == 0);
    s_require (colo_compare_queued_secondary (cmp) == 0);
    s_require (colo_compare_queued_secondary (view) == 0);
    const uint64_t *c = colo_compare_counters (cmp), *c2 = colo_compare_counters (view);
    s_require (memcmp (c, c2, COLO_CMP_COUNTER_COUNT * sizeof c[0]) == 0);
    s_require (memcmp (c, colo_compare_counters (b.engine), COLO_CMP_COUNTER_COUNT * sizeof c[0])
               == 0);
    colo_compare_destroy (&cmp);
    colo_compare_destroy (&view);
    colo_compare_destroy (&b.engine);
    free (b.log);
    return 0;
}
