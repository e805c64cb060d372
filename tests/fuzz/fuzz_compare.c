/*  fuzz_compare.c - the compare input path: arbitrary frames on both sides.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  The input is a sequence of records: one control byte, a 2-byte length,
 *  then that many frame bytes.  The control byte picks the side (bit 0), a
 *  tick (bit 1, time advancing by the next byte in ms * 16), a checkpoint
 *  (bit 2), and the ack policy of the engine (bit 7 of the first byte).
 *  Every released frame must be one the primary sent; the engine must never
 *  crash, leak or read out of bounds whatever the bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "colo_compare.h"
#include "colo_log.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

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
    if (!cmp)
        return 0;
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
        colo_buf_t *buf = colo_buf_new_copy (data + off, len);
        off += len;
        if (!buf)
            break;
        if (ctl & 0x40 && buf->len > 12) {
            buf->vnet_hdr_len = 12;   //  some frames carry a vnet header
        }
        int rc = (ctl & 1) ? colo_compare_secondary (cmp, &buf, now)
                           : colo_compare_primary (cmp, &buf, now);
        if (rc == 0 && !(ctl & 1))
            primaries++;
        colo_buf_destroy (&buf);   //  refused frames are still ours
        if (ctl & 2)
            colo_compare_tick (cmp, now);
        if (ctl & 4)
            colo_compare_checkpoint_done (cmp, now);
        colo_compare_reason_t reason;
        char desc[160];
        colo_compare_take_request (cmp, &reason, desc, sizeof desc);
        colo_buf_t *out[16];
        int n;
        while ((n = colo_compare_take (cmp, out, 16)) > 0) {
            released += (uint64_t) n;
            colo_buf_destroy_array (out, n);
        }
    }
    colo_compare_checkpoint_done (cmp, now);
    colo_buf_t *out[16];
    int n;
    while ((n = colo_compare_take (cmp, out, 16)) > 0) {
        released += (uint64_t) n;
        colo_buf_destroy_array (out, n);
    }
    //  Output commit bookkeeping: never more out than the primary sent in,
    //  and after a final checkpoint everything accepted has left.
    if (released > primaries || colo_compare_queued_primary (cmp) != 0)
        abort ();
    colo_compare_destroy (&cmp);
    return 0;
}
