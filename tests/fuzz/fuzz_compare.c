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
 *  than that (bit 6).  Every released frame must be one the primary sent;
 *  the engine must never crash, leak or read out of bounds whatever the
 *  bytes.
 *
 *  A second engine gets the same records, but the secondary's frames
 *  through colo_compare_secondary_view, from the input bytes themselves.
 *  After every record both must have released the same frames in the same
 *  order with the same bytes, refused the same frames and asked for a
 *  checkpoint alike; at the end their counters agree, except those where
 *  the direct path legitimately differs: the split of the secondary's frames
 *  into matched, stale and flushed and the bytes compared (it compares a
 *  segment ahead that the queued path may flush instead), the split of the
 *  primary's verified frames into matched and retransmitted (see below),
 *  and timeouts (a secondary segment it took never waits in a queue).
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

//  Counters both engines must agree on.
static const colo_compare_counter_t s_same[] = {
    COLO_CMP_PRIMARY_FRAMES,      COLO_CMP_SECONDARY_FRAMES,   COLO_CMP_RELEASED,
    COLO_CMP_RELEASED_FLUSH,      COLO_CMP_ACK_LOWERED,        COLO_CMP_MISMATCH_TCP,
    COLO_CMP_MISMATCH_UDP,        COLO_CMP_MISMATCH_ICMP,      COLO_CMP_MISMATCH_IP,
    COLO_CMP_MISMATCH_L2,         COLO_CMP_QUEUE_FULL,         COLO_CMP_TABLE_FULL,
    COLO_CMP_MALFORMED_PRIMARY,   COLO_CMP_MALFORMED_SECONDARY, COLO_CMP_CONNS_CREATED,
    COLO_CMP_CONNS_CLOSED,        COLO_CMP_CONNS_IDLE,         COLO_CMP_CONNS_EVICTED,
    COLO_CMP_CHECKPOINTS,         COLO_CMP_RELEASED_BYPASS,    COLO_CMP_SECONDARY_BYPASSED,
    COLO_CMP_RELEASED_FAILOVER,   COLO_CMP_FLUSH_DUPLICATES,
};

//  Take everything both engines released: the same frames, in the same
//  order, with the same bytes.  Returns how many.
static uint64_t
s_take_both (colo_compare_t *cmp, colo_compare_t *view)
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
        }
        taken += (uint64_t) n;
        colo_buf_destroy_array (out, n);
        colo_buf_destroy_array (out2, n);
    }
    s_require (colo_compare_released_count (view) == 0);
    return taken;
}

static colo_buf_t *
s_frame (const uint8_t *bytes, size_t len, uint16_t vnet)
{
    colo_buf_t *buf = colo_buf_new_copy (bytes, len);
    if (buf)
        buf->vnet_hdr_len = vnet;
    return buf;
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
    colo_compare_t *view = colo_compare_new (&cfg);
    if (!cmp || !view) {
        colo_compare_destroy (&cmp);
        colo_compare_destroy (&view);
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
        if (ctl & 2)
            now += (uint64_t) (len ? data[off] : 1) * 16;
        const uint8_t *frame = data + off;
        off += len;
        uint16_t vnet = (ctl & 0x40) && len > S_VNET ? S_VNET : 0;
        colo_buf_t *buf = s_frame (frame, len, vnet);
        if (!buf)
            break;
        int rc, rc2;
        if (ctl & 1) {
            rc = colo_compare_secondary (cmp, &buf, now);
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
        colo_buf_destroy (&buf);   //  refused frames are still ours
        if (ctl & 2) {
            colo_compare_tick (cmp, now);
            colo_compare_tick (view, now);
        }
        if (ctl & 8) {
            colo_compare_failover (cmp, now);
            colo_compare_failover (view, now);
        }
        if (ctl & 4) {
            colo_compare_checkpoint_done (cmp, now);
            colo_compare_checkpoint_done (view, now);
        }
        //  Whether a checkpoint is wanted agrees; its description need not
        //  (a timeout names the oldest frame waiting, which on the queued
        //  path may be a secondary segment the direct path never kept).
        char desc[160];
        int req = colo_compare_take_request (cmp, NULL, desc, sizeof desc);
        s_require (req == colo_compare_take_request (view, NULL, desc, sizeof desc));
        s_require (colo_compare_stuck (cmp) == colo_compare_stuck (view));
        s_require (colo_compare_in_failover (cmp) == colo_compare_in_failover (view));
        released += s_take_both (cmp, view);
        s_require (colo_compare_queued_primary (cmp) == colo_compare_queued_primary (view));
        s_require (colo_compare_connections (cmp) == colo_compare_connections (view));
    }
    colo_compare_checkpoint_done (cmp, now);
    colo_compare_checkpoint_done (view, now);
    released += s_take_both (cmp, view);
    //  Output commit bookkeeping: never more out than the primary sent in,
    //  and after a final checkpoint everything accepted has left.
    s_require (released <= primaries);
    s_require (colo_compare_queued_primary (cmp) == 0);
    s_require (colo_compare_queued_primary (view) == 0);
    s_require (colo_compare_queued_secondary (cmp) == 0);
    s_require (colo_compare_queued_secondary (view) == 0);
    const uint64_t *c = colo_compare_counters (cmp), *c2 = colo_compare_counters (view);
    for (size_t i = 0; i < sizeof s_same / sizeof s_same[0]; i++)
        s_require (c[s_same[i]] == c2[s_same[i]]);
    //  A segment the direct path verified is released by s_tcp_run as one
    //  compared already, which counts it a retransmission if a frame with a
    //  later sequence (a pure ACK) left before it: the split may differ.
    s_require (c[COLO_CMP_RELEASED_MATCHED] + c[COLO_CMP_RELEASED_RETRANSMIT]
               == c2[COLO_CMP_RELEASED_MATCHED] + c2[COLO_CMP_RELEASED_RETRANSMIT]);
    //  Every secondary frame is accounted for alike, however split.
    s_require (c[COLO_CMP_SECONDARY_MATCHED] + c[COLO_CMP_SECONDARY_STALE]
                   + c[COLO_CMP_SECONDARY_FLUSHED]
               == c2[COLO_CMP_SECONDARY_MATCHED] + c2[COLO_CMP_SECONDARY_STALE]
                      + c2[COLO_CMP_SECONDARY_FLUSHED]);
    colo_compare_destroy (&cmp);
    colo_compare_destroy (&view);
    return 0;
}
