/*  fuzz_framing.c - libFuzzer target for the QEMU chardev framing decoder.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Input: byte 0 bit 0 = vnet; byte 1 = n (low 4 bits), then n chunk sizes
 *  (one byte each, 0 = everything left), used in turn; the rest is the
 *  stream.  Every decoded frame is checked against the codec's invariants.
 */
#include <stdint.h>
#include <stdlib.h>

#include "colo_framing.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define s_require(cond)                                                        \
    do {                                                                       \
        if (!(cond))                                                           \
            abort ();                                                          \
    } while (0)

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int vnet = data[0] & 1;
    size_t n_chunks = data[1] & 0x0f;
    if (size < 2 + n_chunks)
        return 0;
    const uint8_t *chunks = data + 2;
    const uint8_t *stream = chunks + n_chunks;
    size_t left = size - 2 - n_chunks;

    colo_framing_t *dec = colo_framing_new (vnet);
    if (!dec)
        return 0;
    uint64_t frames = 0, bytes = 0, errors = 0;
    size_t turn = 0;
    while (left > 0) {
        size_t chunk = left;
        if (n_chunks > 0) {
            uint8_t want = chunks[turn++ % n_chunks];
            if (want != 0 && want < chunk)
                chunk = want;
        }
        size_t pos = 0;
        while (pos < chunk) {
            size_t used = 0;
            colo_buf_t *buf = NULL;
            colo_framing_result_t rc =
                colo_framing_feed (dec, stream + pos, chunk - pos, &used, &buf);
            s_require (used <= chunk - pos);
            if (rc == COLO_FRAMING_FRAME) {
                s_require (buf != NULL);
                s_require (buf->len > 0 && buf->len <= COLO_FRAME_MAX);
                s_require (buf->len <= buf->cap);
                s_require (buf->vnet_hdr_len <= buf->len);
                s_require (buf->vnet_hdr_len <= COLO_VNET_HDR_MAX);
                s_require (vnet || buf->vnet_hdr_len == 0);
                s_require (buf->dir == COLO_DIR_NONE);
                s_require (used > 0);
                frames++;
                bytes += buf->len;
                colo_buf_destroy (&buf);
            }
            else if (rc == COLO_FRAMING_NEED_MORE) {
                s_require (buf == NULL);
                s_require (used == chunk - pos);
            }
            else {
                s_require (buf == NULL);
                s_require (rc == COLO_FRAMING_ERR_OVERSIZE
                           || rc == COLO_FRAMING_ERR_VNET);
                s_require (!colo_framing_in_frame (dec));
                errors++;
                //  A port would close the connection; carry on with the
                //  rest as if it were the next one.
                colo_framing_reset (dec);
            }
            pos += used;
        }
        stream += chunk;
        left -= chunk;
    }
    const uint64_t *c = colo_framing_counters (dec);
    s_require (c[COLO_FRAMING_FRAMES] == frames);
    s_require (c[COLO_FRAMING_BYTES] == bytes);
    s_require (c[COLO_FRAMING_OVERSIZE] + c[COLO_FRAMING_BAD_VNET] == errors);
    s_require (c[COLO_FRAMING_PARTIAL_DISCARDED] == 0);
    int partial = colo_framing_in_frame (dec);
    colo_framing_reset (dec);
    s_require (c[COLO_FRAMING_PARTIAL_DISCARDED] == (uint64_t) partial);
    colo_framing_destroy (&dec);
    return 0;
}
