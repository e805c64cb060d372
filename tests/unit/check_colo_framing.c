/*  check_colo_framing.c - tests for the QEMU chardev framing codec.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "colo_framing.h"
#include "colo_test.h"

#define S_MAX_FRAMES 16

typedef struct {
    uint32_t len;
    uint32_t vnet_hdr_len;
} s_spec_t;

//  Several frames, one of them empty, vnet lengths within bounds.
static const s_spec_t s_specs[] = {
    {1, 0}, {60, 10}, {0, 0}, {14, 12}, {300, 20}, {2, 2}, {0, 0}, {77, 0},
};
#define S_SPEC_COUNT ((int) (sizeof s_specs / sizeof s_specs[0]))
#define S_SPEC_NONEMPTY 6

//  Encode s_specs into a stream; frame i's data byte j is (i * 31 + j).
static uint8_t *
s_make_stream (int vnet, size_t *size)
{
    size_t cap = 0;
    for (int i = 0; i < S_SPEC_COUNT; i++)
        cap += COLO_FRAMING_HDR_MAX + s_specs[i].len;
    uint8_t *stream = (uint8_t *) malloc (cap);
    ck_assert_ptr_nonnull (stream);
    size_t pos = 0;
    for (int i = 0; i < S_SPEC_COUNT; i++) {
        pos += colo_framing_encode_header (stream + pos, s_specs[i].len, vnet,
                                           s_specs[i].vnet_hdr_len);
        for (uint32_t j = 0; j < s_specs[i].len; j++)
            stream[pos++] = (uint8_t) (i * 31 + j);
    }
    *size = pos;
    return stream;
}

//  Feed data[0..len) completely, appending every frame to frames[].
static void
s_feed_all (colo_framing_t *dec, const uint8_t *data, size_t len,
            colo_buf_t **frames, int *count)
{
    while (len > 0) {
        size_t used = 0;
        colo_buf_t *buf = NULL;
        colo_framing_result_t rc = colo_framing_feed (dec, data, len, &used, &buf);
        ck_assert_int_ge (rc, 0);
        ck_assert_uint_le (used, len);
        if (rc == COLO_FRAMING_FRAME) {
            ck_assert_ptr_nonnull (buf);
            ck_assert_int_lt (*count, S_MAX_FRAMES);
            frames[(*count)++] = buf;
        }
        else {
            ck_assert_ptr_null (buf);
            ck_assert_uint_eq (used, len);
        }
        data += used;
        len -= used;
    }
}

//  The frames decoded from s_make_stream are exactly the non-empty specs.
static void
s_check_frames (colo_buf_t **frames, int count, int vnet)
{
    ck_assert_int_eq (count, S_SPEC_NONEMPTY);
    int k = 0;
    for (int i = 0; i < S_SPEC_COUNT; i++) {
        if (s_specs[i].len == 0)
            continue;
        colo_buf_t *buf = frames[k++];
        ck_assert_uint_eq (buf->len, s_specs[i].len);
        ck_assert_uint_eq (buf->vnet_hdr_len, vnet ? s_specs[i].vnet_hdr_len : 0);
        ck_assert_uint_eq (buf->dir, COLO_DIR_NONE);
        ck_assert_uint_ne (buf->ts_ns, 0);
        for (uint32_t j = 0; j < buf->len; j++)
            ck_assert_uint_eq (buf->data[j], (uint8_t) (i * 31 + j));
    }
    colo_buf_destroy_array (frames, count);
}

static void
s_check_counters (colo_framing_t *dec, uint64_t rounds)
{
    const uint64_t *c = colo_framing_counters (dec);
    uint64_t bytes = 0;
    for (int i = 0; i < S_SPEC_COUNT; i++)
        bytes += s_specs[i].len;
    ck_assert_uint_eq (c[COLO_FRAMING_FRAMES], rounds * S_SPEC_NONEMPTY);
    ck_assert_uint_eq (c[COLO_FRAMING_BYTES], rounds * bytes);
    ck_assert_uint_eq (c[COLO_FRAMING_EMPTY], rounds * 2);
    ck_assert_uint_eq (c[COLO_FRAMING_OVERSIZE], 0);
    ck_assert_uint_eq (c[COLO_FRAMING_BAD_VNET], 0);
    ck_assert_uint_eq (c[COLO_FRAMING_PARTIAL_DISCARDED], 0);
}

START_TEST (test_byte_by_byte)
{
    int vnet = _i;
    size_t size;
    uint8_t *stream = s_make_stream (vnet, &size);
    colo_framing_t *dec = colo_framing_new (vnet);
    ck_assert_ptr_nonnull (dec);
    colo_buf_t *frames[S_MAX_FRAMES];
    int count = 0;
    for (size_t i = 0; i < size; i++)
        s_feed_all (dec, stream + i, 1, frames, &count);
    ck_assert_int_eq (colo_framing_in_frame (dec), 0);
    s_check_frames (frames, count, vnet);
    s_check_counters (dec, 1);
    colo_framing_destroy (&dec);
    ck_assert_ptr_null (dec);
    colo_framing_destroy (&dec);
    free (stream);
}
END_TEST

START_TEST (test_two_chunk_splits)
{
    int vnet = _i;
    size_t size;
    uint8_t *stream = s_make_stream (vnet, &size);
    colo_framing_t *dec = colo_framing_new (vnet);
    colo_buf_t *frames[S_MAX_FRAMES];
    for (size_t split = 0; split <= size; split++) {
        int count = 0;
        s_feed_all (dec, stream, split, frames, &count);
        s_feed_all (dec, stream + split, size - split, frames, &count);
        ck_assert_int_eq (colo_framing_in_frame (dec), 0);
        s_check_frames (frames, count, vnet);
    }
    s_check_counters (dec, size + 1);
    colo_framing_destroy (&dec);
    free (stream);
}
END_TEST

START_TEST (test_single_feed)
{
    //  Literal bytes: "abc" then an empty frame then "Z"; one feed call
    //  stops after each frame and tells how much it used.
    static const uint8_t wire[] = {0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 0,
                                   0, 0, 0, 1, 'Z'};
    colo_framing_t *dec = colo_framing_new (0);
    size_t used = 0;
    colo_buf_t *buf = NULL;
    ck_assert_int_eq (colo_framing_feed (dec, wire, sizeof wire, &used, &buf),
                      COLO_FRAMING_FRAME);
    ck_assert_uint_eq (used, 7);
    ck_assert_uint_eq (buf->len, 3);
    ck_assert_int_eq (memcmp (buf->data, "abc", 3), 0);
    colo_buf_destroy (&buf);
    size_t used2 = 0;
    ck_assert_int_eq (colo_framing_feed (dec, wire + used, sizeof wire - used,
                                         &used2, &buf),
                      COLO_FRAMING_FRAME);
    ck_assert_uint_eq (used + used2, sizeof wire);
    ck_assert_uint_eq (buf->len, 1);
    ck_assert_uint_eq (buf->data[0], 'Z');
    colo_buf_destroy (&buf);
    ck_assert_uint_eq (colo_framing_counters (dec)[COLO_FRAMING_EMPTY], 1);
    //  Nothing fed: nothing happens.
    ck_assert_int_eq (colo_framing_feed (dec, wire, 0, &used, &buf),
                      COLO_FRAMING_NEED_MORE);
    ck_assert_uint_eq (used, 0);
    ck_assert_ptr_null (buf);
    colo_framing_destroy (&dec);
}
END_TEST

START_TEST (test_feed_at)
{
    //  Frames completed by feed_at carry the caller's time, also one whose
    //  header came in an earlier call.
    static const uint8_t wire[] = {0, 0, 0, 2, 'h', 'i', 0, 0, 0, 1, 'Z'};
    colo_framing_t *dec = colo_framing_new (0);
    size_t used = 0;
    colo_buf_t *buf = NULL;
    ck_assert_int_eq (colo_framing_feed_at (dec, wire, sizeof wire, &used, &buf, 1234),
                      COLO_FRAMING_FRAME);
    ck_assert_uint_eq (used, 6);
    ck_assert_uint_eq (buf->ts_ns, 1234);
    ck_assert_int_eq (memcmp (buf->data, "hi", 2), 0);
    colo_buf_destroy (&buf);
    ck_assert_int_eq (colo_framing_feed_at (dec, wire + 6, 4, &used, &buf, 5),
                      COLO_FRAMING_NEED_MORE);
    ck_assert_ptr_null (buf);
    ck_assert_int_eq (colo_framing_feed_at (dec, wire + 10, 1, &used, &buf, 99),
                      COLO_FRAMING_FRAME);
    ck_assert_uint_eq (buf->ts_ns, 99);
    ck_assert_uint_eq (buf->data[0], 'Z');
    colo_buf_destroy (&buf);
    ck_assert_uint_eq (colo_framing_counters (dec)[COLO_FRAMING_FRAMES], 2);
    colo_framing_destroy (&dec);
}
END_TEST

//  feed_many over every two-chunk split of the stream and every burst
//  size: the same frames as feed, all stamped with the caller's time.
START_TEST (test_feed_many_splits)
{
    int vnet = _i;
    size_t size;
    uint8_t *stream = s_make_stream (vnet, &size);
    colo_framing_t *dec = colo_framing_new (vnet);
    colo_buf_t *frames[S_MAX_FRAMES];
    //  One frame per call at every split; a few, and more than there are,
    //  at every fifth (the time a test may take is bounded).
    static const int maxes[] = {1, 3, S_SPEC_NONEMPTY + 1};
    static const size_t steps[] = {1, 5, 5};
    uint64_t rounds = 0;
    for (int m = 0; m < 3; m++) {
        int max = maxes[m];
        for (size_t split = 0; split <= size; split += steps[m]) {
            rounds++;
            int count = 0;
            size_t chunk_start[2] = {0, split};
            size_t chunk_len[2] = {split, size - split};
            for (int c = 0; c < 2; c++) {
                const uint8_t *data = stream + chunk_start[c];
                size_t len = chunk_len[c];
                while (1) {
                    size_t used = 0;
                    colo_framing_result_t rc = COLO_FRAMING_ERR_NOMEM;
                    ck_assert_int_le (count + max, S_MAX_FRAMES);
                    int n = colo_framing_feed_many (dec, data, len, &used, frames + count,
                                                    max, 77, &rc);
                    ck_assert_int_ge (n, 0);
                    ck_assert_int_le (n, max);
                    ck_assert_uint_le (used, len);
                    for (int k = count; k < count + n; k++)
                        ck_assert_uint_eq (frames[k]->ts_ns, 77);
                    count += n;
                    data += used;
                    len -= used;
                    if (rc == COLO_FRAMING_FRAME) {
                        ck_assert_int_eq (n, max);   //  stopped at max only
                        continue;
                    }
                    ck_assert_int_eq (rc, COLO_FRAMING_NEED_MORE);
                    ck_assert_uint_eq (len, 0);   //  every byte used
                    break;
                }
            }
            ck_assert_int_eq (colo_framing_in_frame (dec), 0);
            //  s_check_frames wants a non-zero stamp: 77 it is.
            s_check_frames (frames, count, vnet);
        }
    }
    s_check_counters (dec, rounds);
    colo_framing_destroy (&dec);
    free (stream);
}
END_TEST

START_TEST (test_feed_many_error)
{
    //  Two good frames, then an oversized length: both frames come out with
    //  the error, *consumed points past the bad header, the decoder is reset.
    uint8_t wire[32];
    size_t pos = 0;
    pos += colo_framing_encode_header (wire + pos, 2, 0, 0);
    wire[pos++] = 'a';
    wire[pos++] = 'b';
    pos += colo_framing_encode_header (wire + pos, 1, 0, 0);
    wire[pos++] = 'c';
    size_t bad_at = pos;
    pos += colo_framing_encode_header (wire + pos, COLO_FRAME_MAX + 1, 0, 0);
    wire[pos++] = 'x';
    colo_framing_t *dec = colo_framing_new (0);
    colo_buf_t *frames[4] = {NULL, NULL, NULL, NULL};
    size_t used = 0;
    colo_framing_result_t rc = COLO_FRAMING_FRAME;
    int n = colo_framing_feed_many (dec, wire, pos, &used, frames, 4, 5, &rc);
    ck_assert_int_eq (n, 2);
    ck_assert_int_eq (rc, COLO_FRAMING_ERR_OVERSIZE);
    ck_assert_uint_eq (used, bad_at + 4);
    ck_assert_uint_eq (frames[0]->len, 2);
    ck_assert_int_eq (memcmp (frames[0]->data, "ab", 2), 0);
    ck_assert_uint_eq (frames[1]->len, 1);
    ck_assert_uint_eq (frames[1]->data[0], 'c');
    ck_assert_int_eq (colo_framing_in_frame (dec), 0);
    const uint64_t *c = colo_framing_counters (dec);
    ck_assert_uint_eq (c[COLO_FRAMING_FRAMES], 2);
    ck_assert_uint_eq (c[COLO_FRAMING_BYTES], 3);
    ck_assert_uint_eq (c[COLO_FRAMING_OVERSIZE], 1);
    colo_buf_destroy_array (frames, 2);
    //  Nothing to decode: no frame, every (zero) byte used; max 0: nothing.
    n = colo_framing_feed_many (dec, wire, 0, &used, frames, 4, 5, &rc);
    ck_assert_int_eq (n, 0);
    ck_assert_int_eq (rc, COLO_FRAMING_NEED_MORE);
    ck_assert_uint_eq (used, 0);
    n = colo_framing_feed_many (dec, wire, pos, &used, frames, 0, 5, &rc);
    ck_assert_int_eq (n, 0);
    ck_assert_int_eq (rc, COLO_FRAMING_FRAME);
    ck_assert_uint_eq (used, 0);
    colo_framing_destroy (&dec);
}
END_TEST

START_TEST (test_encode_header)
{
    uint8_t hdr[COLO_FRAMING_HDR_MAX];
    static const uint8_t plain[] = {0x00, 0x01, 0x10, 0x00};
    ck_assert_uint_eq (colo_framing_encode_header (hdr, 69632, 0, 12), 4);
    ck_assert_int_eq (memcmp (hdr, plain, 4), 0);
    static const uint8_t vnet[] = {0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0x0c};
    ck_assert_uint_eq (colo_framing_encode_header (hdr, 0x12345678, 1, 12), 8);
    ck_assert_int_eq (memcmp (hdr, vnet, 8), 0);
}
END_TEST

START_TEST (test_max_size)
{
    int vnet = _i;
    size_t size = COLO_FRAMING_HDR_MAX + COLO_FRAME_MAX;
    uint8_t *stream = (uint8_t *) malloc (size);
    size_t hdr = colo_framing_encode_header (stream, COLO_FRAME_MAX, vnet, 20);
    for (size_t i = 0; i < COLO_FRAME_MAX; i++)
        stream[hdr + i] = (uint8_t) (i * 7);
    colo_framing_t *dec = colo_framing_new (vnet);
    colo_buf_t *buf = NULL;
    size_t used = 0;
    ck_assert_int_eq (colo_framing_feed (dec, stream, hdr + COLO_FRAME_MAX, &used,
                                         &buf),
                      COLO_FRAMING_FRAME);
    ck_assert_uint_eq (used, hdr + COLO_FRAME_MAX);
    ck_assert_uint_eq (buf->len, COLO_FRAME_MAX);
    ck_assert_uint_eq (buf->vnet_hdr_len, vnet ? 20 : 0);
    ck_assert_int_eq (memcmp (buf->data, stream + hdr, COLO_FRAME_MAX), 0);
    colo_buf_destroy (&buf);
    free (stream);
    colo_framing_destroy (&dec);
}
END_TEST

START_TEST (test_oversize)
{
    int vnet = _i;
    uint8_t wire[16];
    size_t hdr = colo_framing_encode_header (wire, COLO_FRAME_MAX + 1, vnet, 0);
    memset (wire + hdr, 0xee, sizeof wire - hdr);
    colo_framing_t *dec = colo_framing_new (vnet);
    colo_buf_t *buf = NULL;
    size_t used = 0;
    ck_assert_int_eq (colo_framing_feed (dec, wire, sizeof wire, &used, &buf),
                      COLO_FRAMING_ERR_OVERSIZE);
    ck_assert_ptr_null (buf);
    ck_assert_uint_eq (used, hdr);
    ck_assert_int_eq (colo_framing_in_frame (dec), 0);
    uint32_t bad_len = 0;
    colo_framing_last_header (dec, &bad_len, NULL);
    ck_assert_uint_eq (bad_len, COLO_FRAME_MAX + 1);
    //  The length alone condemns the frame, before the vnet field arrives.
    colo_framing_encode_header (wire, 0xffffffffu, vnet, 0);
    ck_assert_int_eq (colo_framing_feed (dec, wire, 3, &used, &buf),
                      COLO_FRAMING_NEED_MORE);
    ck_assert_int_eq (colo_framing_feed (dec, wire + 3, 1, &used, &buf),
                      COLO_FRAMING_ERR_OVERSIZE);
    ck_assert_uint_eq (used, 1);
    const uint64_t *c = colo_framing_counters (dec);
    ck_assert_uint_eq (c[COLO_FRAMING_OVERSIZE], 2);
    ck_assert_uint_eq (c[COLO_FRAMING_PARTIAL_DISCARDED], 0);
    //  The decoder was reset: a good frame decodes next.
    hdr = colo_framing_encode_header (wire, 2, vnet, 0);
    wire[hdr] = 'o';
    wire[hdr + 1] = 'k';
    ck_assert_int_eq (colo_framing_feed (dec, wire, hdr + 2, &used, &buf),
                      COLO_FRAMING_FRAME);
    ck_assert_int_eq (memcmp (buf->data, "ok", 2), 0);
    colo_buf_destroy (&buf);
    colo_framing_destroy (&dec);
}
END_TEST

START_TEST (test_bad_vnet)
{
    colo_framing_t *dec = colo_framing_new (1);
    colo_buf_t *buf = NULL;
    size_t used = 0;
    //  vnet_hdr_len above COLO_VNET_HDR_MAX.
    static const uint8_t too_big[] = {0, 0, 0, 40, 0, 0, 0, 21};
    ck_assert_int_eq (colo_framing_feed (dec, too_big, sizeof too_big, &used, &buf),
                      COLO_FRAMING_ERR_VNET);
    ck_assert_uint_eq (used, 8);
    uint32_t len = 0, vnet_hdr_len = 0;
    colo_framing_last_header (dec, &len, &vnet_hdr_len);
    ck_assert_uint_eq (len, 40);
    ck_assert_uint_eq (vnet_hdr_len, 21);
    //  vnet_hdr_len above the data length (split across feeds).
    static const uint8_t too_long[] = {0, 0, 0, 4, 0, 0, 0, 8, 1, 2, 3, 4};
    ck_assert_int_eq (colo_framing_feed (dec, too_long, 6, &used, &buf),
                      COLO_FRAMING_NEED_MORE);
    ck_assert_int_eq (colo_framing_feed (dec, too_long + 6, 6, &used, &buf),
                      COLO_FRAMING_ERR_VNET);
    ck_assert_uint_eq (used, 2);
    //  An empty frame with a vnet header is impossible too.
    static const uint8_t empty[] = {0, 0, 0, 0, 0, 0, 0, 1};
    ck_assert_int_eq (colo_framing_feed (dec, empty, sizeof empty, &used, &buf),
                      COLO_FRAMING_ERR_VNET);
    ck_assert_uint_eq (colo_framing_counters (dec)[COLO_FRAMING_BAD_VNET], 3);
    //  vnet_hdr_len == len is allowed (all header, no Ethernet bytes).
    static const uint8_t edge[] = {0, 0, 0, 2, 0, 0, 0, 2, 0xaa, 0xbb};
    ck_assert_int_eq (colo_framing_feed (dec, edge, sizeof edge, &used, &buf),
                      COLO_FRAMING_FRAME);
    ck_assert_uint_eq (buf->vnet_hdr_len, 2);
    ck_assert_uint_eq (colo_buf_frame_len (buf), 0);
    colo_buf_destroy (&buf);
    ck_assert_ptr_null (buf);
    colo_framing_destroy (&dec);
}
END_TEST

START_TEST (test_zero_length)
{
    int vnet = _i;
    uint8_t wire[64];
    size_t pos = 0;
    for (int i = 0; i < 5; i++)
        pos += colo_framing_encode_header (wire + pos, 0, vnet, 0);
    size_t before_last = pos;
    pos += colo_framing_encode_header (wire + pos, 1, vnet, 0);
    wire[pos++] = 0x5a;
    colo_framing_t *dec = colo_framing_new (vnet);
    colo_buf_t *buf = NULL;
    size_t used = 0;
    //  Only empty frames: all consumed, nothing returned, not mid-frame.
    ck_assert_int_eq (colo_framing_feed (dec, wire, before_last, &used, &buf),
                      COLO_FRAMING_NEED_MORE);
    ck_assert_uint_eq (used, before_last);
    ck_assert_ptr_null (buf);
    ck_assert_int_eq (colo_framing_in_frame (dec), 0);
    ck_assert_int_eq (colo_framing_feed (dec, wire + before_last, pos - before_last,
                                         &used, &buf),
                      COLO_FRAMING_FRAME);
    ck_assert_uint_eq (buf->len, 1);
    ck_assert_uint_eq (buf->data[0], 0x5a);
    colo_buf_destroy (&buf);
    const uint64_t *c = colo_framing_counters (dec);
    ck_assert_uint_eq (c[COLO_FRAMING_EMPTY], 5);
    ck_assert_uint_eq (c[COLO_FRAMING_FRAMES], 1);
    colo_framing_destroy (&dec);
}
END_TEST

START_TEST (test_reset_mid_frame)
{
    static const uint8_t wire[] = {0, 0, 0, 4, 'a', 'b', 'c', 'd'};
    colo_framing_t *dec = colo_framing_new (0);
    colo_buf_t *buf = NULL;
    size_t used = 0;
    //  Reset between frames is free.
    colo_framing_reset (dec);
    ck_assert_uint_eq (colo_framing_counters (dec)[COLO_FRAMING_PARTIAL_DISCARDED], 0);
    //  Half the data, then reset: counted, and the rest is not spliced in.
    ck_assert_int_eq (colo_framing_feed (dec, wire, 6, &used, &buf),
                      COLO_FRAMING_NEED_MORE);
    ck_assert_int_eq (colo_framing_in_frame (dec), 1);
    colo_framing_reset (dec);
    ck_assert_int_eq (colo_framing_in_frame (dec), 0);
    //  Half a header, then reset.
    ck_assert_int_eq (colo_framing_feed (dec, wire, 2, &used, &buf),
                      COLO_FRAMING_NEED_MORE);
    ck_assert_int_eq (colo_framing_in_frame (dec), 1);
    colo_framing_reset (dec);
    colo_framing_reset (dec);
    ck_assert_uint_eq (colo_framing_counters (dec)[COLO_FRAMING_PARTIAL_DISCARDED], 2);
    //  A whole frame after the resets decodes exactly.
    ck_assert_int_eq (colo_framing_feed (dec, wire, sizeof wire, &used, &buf),
                      COLO_FRAMING_FRAME);
    ck_assert_int_eq (memcmp (buf->data, "abcd", 4), 0);
    colo_buf_destroy (&buf);
    ck_assert_uint_eq (colo_framing_counters (dec)[COLO_FRAMING_FRAMES], 1);
    //  Destroying a decoder mid-frame frees the partial frame.
    ck_assert_int_eq (colo_framing_feed (dec, wire, 5, &used, &buf),
                      COLO_FRAMING_NEED_MORE);
    colo_framing_destroy (&dec);
}
END_TEST

START_TEST (test_counter_names)
{
    for (int i = 0; i < COLO_FRAMING_COUNTER_COUNT; i++)
        ck_assert_ptr_nonnull (colo_framing_counter_names[i]);
    ck_assert_str_eq (colo_framing_counter_names[COLO_FRAMING_PARTIAL_DISCARDED],
                      "partial_discarded");
}
END_TEST

Suite *
colo_framing_suite (void)
{
    Suite *s = suite_create ("colo_framing");
    TCase *tc = tcase_create ("core");
    //  The split tests decode the stream hundreds of times, slow under
    //  AddressSanitizer on a loaded machine.
    tcase_set_timeout (tc, 30);
    tcase_add_loop_test (tc, test_byte_by_byte, 0, 2);
    tcase_add_loop_test (tc, test_two_chunk_splits, 0, 2);
    tcase_add_test (tc, test_single_feed);
    tcase_add_test (tc, test_feed_at);
    tcase_add_loop_test (tc, test_feed_many_splits, 0, 2);
    tcase_add_test (tc, test_feed_many_error);
    tcase_add_test (tc, test_encode_header);
    tcase_add_loop_test (tc, test_max_size, 0, 2);
    tcase_add_loop_test (tc, test_oversize, 0, 2);
    tcase_add_test (tc, test_bad_vnet);
    tcase_add_loop_test (tc, test_zero_length, 0, 2);
    tcase_add_test (tc, test_reset_mid_frame);
    tcase_add_test (tc, test_counter_names);
    suite_add_tcase (s, tc);
    return s;
}
