/*  fuzz_rewriter.c - the sequence-translation engine on arbitrary frames both ways.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  The input is a sequence of records: one control byte, a 2-byte
 *  big-endian length, then that many frame bytes.  Control bits: 0 the
 *  direction (1 = from the guest), 1 a tick (time advances by the next
 *  byte * 16 ms), 2 a checkpoint, 3 failover, 4 a 12-byte vnet header in
 *  front of the frame, 5 its NEEDS_CSUM flag.  Invariants: the engine never
 *  crashes, leaks or reads out of bounds; a frame keeps its length; a frame
 *  not rewritten is byte-identical; a rewritten one differs only in seq,
 *  ack, SACK edges and the checksum, and a checksum that was right stays
 *  right (unless the device completes it); the table stays in its bound.
 *  A second engine gets the same frames through the burst calls (runs of
 *  one direction between events): same bytes out, same results, same
 *  counters.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "colo_csum.h"
#include "colo_log.h"
#include "colo_packet.h"
#include "colo_rewriter.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define s_require(cond)                                                        \
    do {                                                                       \
        if (!(cond))                                                           \
            abort ();                                                          \
    } while (0)

#define S_TABLE 16
#define S_VNET 12
#define S_BURST 32

//  Frames waiting for the burst engine: its input, and what the per-frame
//  engine made of the same frame.
typedef struct {
    colo_buf_t *in[S_BURST];
    colo_buf_t *want[S_BURST];
    colo_rewriter_result_t want_rc[S_BURST];
    size_t n;
    int from_guest;
} s_burst_t;

static colo_buf_t *
s_copy (const colo_buf_t *buf)
{
    colo_buf_t *copy = colo_buf_new (buf->len);
    if (copy) {
        memcpy (copy->data, buf->data, buf->len);
        copy->len = buf->len;
        copy->vnet_hdr_len = buf->vnet_hdr_len;
    }
    return copy;
}

//  Run the waiting frames through the burst engine and compare.
static void
s_burst_flush (s_burst_t *b, colo_rewriter_t *rw2, uint64_t now)
{
    if (b->n == 0)
        return;
    colo_rewriter_result_t rc[S_BURST];
    if (b->from_guest)
        colo_rewriter_from_guest_burst (rw2, b->in, b->n, now, rc);
    else
        colo_rewriter_to_guest_burst (rw2, b->in, b->n, now, rc);
    for (size_t i = 0; i < b->n; i++) {
        s_require (rc[i] == b->want_rc[i]);
        s_require (b->in[i]->len == b->want[i]->len);
        s_require (memcmp (b->in[i]->data, b->want[i]->data, b->in[i]->len) == 0);
        colo_buf_destroy (&b->in[i]);
        colo_buf_destroy (&b->want[i]);
    }
    b->n = 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    colo_log_set_level (COLO_LOG_ERROR);
    colo_rewriter_config_t cfg;
    colo_rewriter_config_defaults (&cfg);
    cfg.max_connections = S_TABLE;
    cfg.idle_timeout_ms = 2000;
    cfg.closed_linger_ms = 100;
    cfg.seed = 1;
    colo_rewriter_t *rw = colo_rewriter_new (&cfg);
    colo_rewriter_t *rw2 = colo_rewriter_new (&cfg);
    if (!rw || !rw2) {
        colo_rewriter_destroy (&rw);
        colo_rewriter_destroy (&rw2);
        return 0;
    }
    s_burst_t burst;
    memset (&burst, 0, sizeof burst);
    uint64_t now = 1000;
    size_t pos = 0;
    while (pos + 3 <= size) {
        uint8_t ctl = data[pos];
        size_t len = ((size_t) data[pos + 1] << 8) | data[pos + 2];
        pos += 3;
        if (len > size - pos)
            len = size - pos;
        //  An event, or the other direction: the burst so far goes first.
        if ((ctl & 0x0e) || burst.from_guest != (ctl & 1) || burst.n == S_BURST)
            s_burst_flush (&burst, rw2, now);
        burst.from_guest = ctl & 1;
        if (ctl & 0x02)
            now += 16u * (pos < size ? data[pos] : 1);
        if (ctl & 0x04) {
            colo_rewriter_checkpoint_done (rw);
            colo_rewriter_checkpoint_done (rw2);
        }
        if (ctl & 0x08) {
            colo_rewriter_failover (rw);
            colo_rewriter_failover (rw2);
        }
        size_t vnet = (ctl & 0x10) ? S_VNET : 0;
        colo_buf_t *buf = colo_buf_new (vnet + len);
        colo_buf_t *orig = colo_buf_new (vnet + len);
        if (!buf || !orig) {
            colo_buf_destroy (&buf);
            colo_buf_destroy (&orig);
            break;
        }
        memset (buf->data, 0, vnet);
        if (vnet && (ctl & 0x20))
            buf->data[0] = 1;   //  VIRTIO_NET_HDR_F_NEEDS_CSUM
        if (len)
            memcpy (buf->data + vnet, data + pos, len);
        buf->len = (uint32_t) (vnet + len);
        buf->vnet_hdr_len = (uint16_t) vnet;
        memcpy (orig->data, buf->data, buf->len);
        orig->len = buf->len;
        pos += len;

        colo_packet_t pkt;
        int decoded = colo_packet_decode (&pkt, buf->data + vnet, len, NULL) == COLO_PKT_OK;
        int csum_ok = decoded && pkt.l4 == COLO_L4_TCP
                      && colo_csum_l4_verify (&pkt, buf->data + vnet) == 1;
        colo_buf_t *in2 = s_copy (buf);
        colo_rewriter_result_t rc = (ctl & 1) ? colo_rewriter_from_guest (rw, buf, now)
                                              : colo_rewriter_to_guest (rw, buf, now);
        colo_buf_t *want = s_copy (buf);
        s_require (in2 && want);
        burst.in[burst.n] = in2;
        burst.want[burst.n] = want;
        burst.want_rc[burst.n++] = rc;
        s_require (buf->len == orig->len && buf->vnet_hdr_len == vnet);
        if (rc != COLO_RW_REWRITTEN)
            s_require (memcmp (buf->data, orig->data, buf->len) == 0);
        else {
            s_require (decoded && pkt.l4 == COLO_L4_TCP);
            uint8_t *a = buf->data + vnet, *b = orig->data + vnet;
            //  Blank what may change, then everything must be equal.
            if (!(vnet && (ctl & 0x20)) && csum_ok)
                s_require (colo_csum_l4_verify (&pkt, a) == 1);
            if (vnet && (ctl & 0x20))
                s_require (memcmp (a + pkt.l4_off + 16, b + pkt.l4_off + 16, 2) == 0);
            memset (a + pkt.l4_off + 4, 0, 8);
            memset (b + pkt.l4_off + 4, 0, 8);
            memset (a + pkt.l4_off + 16, 0, 2);
            memset (b + pkt.l4_off + 16, 0, 2);
            if (pkt.tcp_sack_off) {
                memset (a + pkt.tcp_sack_off, 0, 8u * pkt.tcp_sack_count);
                memset (b + pkt.tcp_sack_off, 0, 8u * pkt.tcp_sack_count);
            }
            s_require (memcmp (buf->data, orig->data, buf->len) == 0);
        }
        s_require (colo_rewriter_connections (rw) <= S_TABLE);
        colo_buf_destroy (&buf);
        colo_buf_destroy (&orig);
        if (ctl & 0x02) {
            s_burst_flush (&burst, rw2, now);
            colo_rewriter_tick (rw, now);
            colo_rewriter_tick (rw2, now);
        }
    }
    s_burst_flush (&burst, rw2, now);
    const uint64_t *c1 = colo_rewriter_counters (rw), *c2 = colo_rewriter_counters (rw2);
    s_require (memcmp (c1, c2, sizeof (uint64_t) * COLO_RW_COUNTER_COUNT) == 0);
    const uint64_t *d1 = colo_rewriter_decode_counters (rw);
    const uint64_t *d2 = colo_rewriter_decode_counters (rw2);
    s_require (memcmp (d1, d2, sizeof (uint64_t) * COLO_PKT_COUNTER_COUNT) == 0);
    s_require (colo_rewriter_connections (rw) == colo_rewriter_connections (rw2));
    colo_rewriter_destroy (&rw);
    colo_rewriter_destroy (&rw2);
    return 0;
}
