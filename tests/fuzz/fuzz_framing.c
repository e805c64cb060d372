/*  fuzz_framing.c - libFuzzer target for the QEMU chardev framing decoder.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Input: byte 0 bit 0 = vnet, bits 1-3 = burst size - 1 for feed_many;
 *  byte 1 = n (low 4 bits), then n chunk sizes (one byte each, 0 =
 *  everything left), used in turn; the rest is the stream.  Every decoded
 *  frame is checked against the codec's invariants, and colo_framing_feed_many
 *  over the same chunks must give the same frames, errors and counters; so
 *  must colo_framing_views_in with colo_framing_feed for what it leaves, as
 *  the QEMU port reads.
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

//  The frames of the same chunks through feed_many, bursts of max: the same
//  lengths and bytes in order (checked against a checksum of each frame as
//  feed decoded it), the same errors, the same counters.
typedef struct {
    uint32_t len, vnet_hdr_len;
    uint64_t sum;
} s_seen_t;

#define S_SEEN_MAX 4096

static uint64_t
s_sum_of (const uint8_t *data, uint32_t len)
{
    uint64_t sum = len;
    for (uint32_t i = 0; i < len; i++)
        sum = sum * 31 + data[i];
    return sum;
}

static uint64_t
s_sum (const colo_buf_t *buf)
{
    return s_sum_of (buf->data, buf->len);
}

//  The size of the next chunk fed to the decoder: the next of the input's
//  chunk sizes (0: all that is left), at most what is left.
static size_t
s_chunk (const uint8_t *chunks, size_t n_chunks, size_t *turn, size_t left)
{
    if (n_chunks == 0)
        return left;
    uint8_t want = chunks[(*turn)++ % n_chunks];
    return want != 0 && want < left ? want : left;
}

//  Another pass over the same chunks, with a decoder of its own, checked
//  against the frames the feed alone decoded (seen[0..n_seen)); k: how
//  many of them it has met so far.
typedef struct {
    colo_framing_t *dec;
    int max;                  //  frames a call at most
    const s_seen_t *seen;
    size_t n_seen, k;
} s_pass_t;

//  The next frame the pass decoded (len, vnet_hdr_len, bytes) is the next
//  of those the feed alone decoded.
static void
s_require_seen (s_pass_t *pass, const uint8_t *data, uint32_t len, uint32_t vnet_hdr_len)
{
    s_require (pass->k < pass->n_seen);
    const s_seen_t *want = &pass->seen[pass->k];
    s_require (len == want->len && vnet_hdr_len == want->vnet_hdr_len);
    s_require (s_sum_of (data, len) == want->sum);
    pass->k++;
}

//  How a pass decodes one chunk.
typedef void s_chunk_fn (s_pass_t *pass, const uint8_t *chunk, size_t len);

//  The chunks through fn, then: it decoded every frame the feed alone did,
//  and its decoder counted the same (expect).
static void
s_check_pass (s_chunk_fn *fn, int vnet, int max, const uint8_t *chunks, size_t n_chunks,
              const uint8_t *stream, size_t left, const s_seen_t *seen, size_t n_seen,
              const uint64_t *expect)
{
    s_pass_t pass = {colo_framing_new (vnet), max, seen, n_seen, 0};
    if (!pass.dec)
        return;
    size_t turn = 0;
    while (left > 0) {
        size_t chunk = s_chunk (chunks, n_chunks, &turn, left);
        fn (&pass, stream, chunk);
        stream += chunk;
        left -= chunk;
    }
    s_require (pass.k == n_seen);
    const uint64_t *c = colo_framing_counters (pass.dec);
    for (int i = 0; i < COLO_FRAMING_COUNTER_COUNT; i++)
        s_require (c[i] == expect[i]);
    colo_framing_destroy (&pass.dec);
}

//  A chunk through feed_many, bursts of max.
static void
s_many_chunk (s_pass_t *pass, const uint8_t *chunk, size_t len)
{
    colo_buf_t *out[8];
    size_t pos = 0;
    while (1) {
        size_t used = 0;
        colo_framing_result_t rc = COLO_FRAMING_ERR_NOMEM;
        int n = colo_framing_feed_many (pass->dec, chunk + pos, len - pos, &used, out,
                                        pass->max, 1, &rc);
        s_require (n >= 0 && n <= pass->max && used <= len - pos);
        for (int i = 0; i < n; i++) {
            s_require (out[i]->ts_ns == 1 && out[i]->dir == COLO_DIR_NONE);
            s_require_seen (pass, out[i]->data, out[i]->len, out[i]->vnet_hdr_len);
            colo_buf_destroy (&out[i]);
        }
        pos += used;
        if (rc == COLO_FRAMING_FRAME) {
            s_require (n == pass->max);
            continue;
        }
        if (rc == COLO_FRAMING_NEED_MORE) {
            s_require (pos == len);
            break;
        }
        s_require (rc == COLO_FRAMING_ERR_OVERSIZE || rc == COLO_FRAMING_ERR_VNET);
        s_require (!colo_framing_in_frame (pass->dec));
        colo_framing_reset (pass->dec);
        if (pos == len)
            break;
    }
}

//  A chunk as the QEMU port reads it: whole frames as views (up to max a
//  call, stamped 1, in the slab named), then one frame through
//  colo_framing_feed where the views stop.
static void
s_views_chunk (s_pass_t *pass, const uint8_t *chunk, size_t len)
{
    colo_buf_slab_t *slab = (colo_buf_slab_t *) (uintptr_t) 0x5151;   //  only compared
    colo_frame_view_t views[8];
    size_t pos = 0;
    while (pos < len) {
        size_t used = 0;
        uint64_t bytes = 0, sum = 0;
        int n = colo_framing_views_in (pass->dec, chunk + pos, len - pos, &used, views,
                                       pass->max, 1, slab, &bytes);
        s_require (n >= 0 && n <= pass->max && used <= len - pos && (n > 0) == (used > 0));
        for (int i = 0; i < n; i++) {
            s_require (views[i].ts_ns == 1 && views[i].slab == slab);
            s_require (views[i].data >= chunk + pos
                       && views[i].data + views[i].len <= chunk + pos + used);
            s_require_seen (pass, views[i].data, views[i].len, views[i].vnet_hdr_len);
            sum += views[i].len;
        }
        s_require (bytes == sum);
        pos += used;
        if (n > 0 || pos == len)
            continue;
        colo_buf_t *buf = NULL;
        colo_framing_result_t rc = colo_framing_feed (pass->dec, chunk + pos, len - pos, &used,
                                                      &buf);
        s_require (used <= len - pos);
        if (rc == COLO_FRAMING_FRAME) {
            s_require_seen (pass, buf->data, buf->len, buf->vnet_hdr_len);
            colo_buf_destroy (&buf);
        }
        else if (rc != COLO_FRAMING_NEED_MORE)
            colo_framing_reset (pass->dec);
        pos += used;
    }
}

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

    int max = ((data[0] >> 1) & 7) + 1;
    const uint8_t *stream0 = stream;
    size_t left0 = left;
    static s_seen_t seen[S_SEEN_MAX];
    size_t n_seen = 0;
    int compare_many = 1;

    colo_framing_t *dec = colo_framing_new (vnet);
    if (!dec)
        return 0;
    uint64_t frames = 0, bytes = 0, errors = 0;
    size_t turn = 0;
    while (left > 0) {
        size_t chunk = s_chunk (chunks, n_chunks, &turn, left);
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
                if (n_seen < S_SEEN_MAX)
                    seen[n_seen++] = (s_seen_t) {buf->len, buf->vnet_hdr_len, s_sum (buf)};
                else
                    compare_many = 0;
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
    if (compare_many) {
        s_check_pass (s_many_chunk, vnet, max, chunks, n_chunks, stream0, left0, seen, n_seen,
                      c);
        s_check_pass (s_views_chunk, vnet, max, chunks, n_chunks, stream0, left0, seen, n_seen,
                      c);
    }
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
