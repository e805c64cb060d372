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

//  ---------------------------------------------------------------- views

#define S_VIEW_CAP 64

//  Append frame (len, vnet_hdr_len) with data byte j = (seed + j) to wire
//  at *pos; returns the offset of its data.
static size_t
s_put_frame (uint8_t *wire, size_t cap, size_t *pos, uint32_t len, uint32_t vnet_hdr_len,
             int vnet, uint32_t seed)
{
    ck_assert_uint_le (*pos + COLO_FRAMING_HDR_MAX + len, cap);
    *pos += colo_framing_encode_header (wire + *pos, len, vnet, vnet_hdr_len);
    size_t at = *pos;
    for (uint32_t j = 0; j < len; j++)
        wire[(*pos)++] = (uint8_t) (seed + j);
    return at;
}

//  A view is exactly the frame whose data starts at wire + at.
static void
s_check_view (const colo_frame_view_t *view, const uint8_t *wire, size_t at, uint32_t len,
              uint32_t vnet_hdr_len, int vnet, uint64_t ts)
{
    ck_assert_ptr_eq (view->data, wire + at);
    ck_assert_uint_eq (view->len, len);
    ck_assert_uint_eq (view->vnet_hdr_len, vnet ? vnet_hdr_len : 0);
    ck_assert_uint_eq (view->ts_ns, ts);
}

//  Whole frames come out as views into the bytes, with their fields, the
//  caller's time, and the bytes they cover; max limits them.  _i = vnet.
START_TEST (test_views_whole)
{
    int vnet = _i;
    static const s_spec_t specs[] = {{1, 0}, {60, 10}, {14, 12}, {300, 20}, {2, 2}};
    int count = (int) (sizeof specs / sizeof specs[0]);
    uint8_t wire[512];
    size_t at[8], end[8], pos = 0;
    uint64_t bytes = 0;
    for (int i = 0; i < count; i++) {
        at[i] = s_put_frame (wire, sizeof wire, &pos, specs[i].len, specs[i].vnet_hdr_len,
                             vnet, (uint32_t) i * 40);
        end[i] = pos;
        bytes += specs[i].len;
    }
    //  Two bytes of a next header: cut short, not taken.
    wire[pos++] = 0;
    wire[pos++] = 0;

    colo_framing_t *dec = colo_framing_new (vnet);
    colo_frame_view_t views[S_VIEW_CAP];
    memset (views, 0, sizeof views);
    size_t used = 12345;
    int n = colo_framing_views (dec, wire, pos, &used, views, S_VIEW_CAP, 4242);
    ck_assert_int_eq (n, count);
    ck_assert_uint_eq (used, end[count - 1]);
    for (int i = 0; i < count; i++)
        s_check_view (&views[i], wire, at[i], specs[i].len, specs[i].vnet_hdr_len, vnet,
                      4242);
    ck_assert_int_eq (colo_framing_in_frame (dec), 0);
    const uint64_t *c = colo_framing_counters (dec);
    ck_assert_uint_eq (c[COLO_FRAMING_FRAMES], (uint64_t) count);
    ck_assert_uint_eq (c[COLO_FRAMING_BYTES], bytes);
    ck_assert_uint_eq (c[COLO_FRAMING_EMPTY], 0);
    //  The header it stopped at is feed_at's: two bytes in, mid-frame.
    colo_buf_t *buf = NULL;
    size_t used2 = 0;
    ck_assert_int_eq (colo_framing_feed_at (dec, wire + used, pos - used, &used2, &buf, 1),
                      COLO_FRAMING_NEED_MORE);
    ck_assert_uint_eq (used2, 2);
    ck_assert_int_eq (colo_framing_in_frame (dec), 1);
    colo_framing_destroy (&dec);

    //  max: two, then none (max 0), then the rest.
    dec = colo_framing_new (vnet);
    n = colo_framing_views (dec, wire, end[count - 1], &used, views, 2, 7);
    ck_assert_int_eq (n, 2);
    ck_assert_uint_eq (used, end[1]);
    s_check_view (&views[1], wire, at[1], specs[1].len, specs[1].vnet_hdr_len, vnet, 7);
    size_t off = used;
    n = colo_framing_views (dec, wire + off, end[count - 1] - off, &used, views, 0, 8);
    ck_assert_int_eq (n, 0);
    ck_assert_uint_eq (used, 0);
    n = colo_framing_views (dec, wire + off, end[count - 1] - off, &used, views, S_VIEW_CAP,
                            9);
    ck_assert_int_eq (n, count - 2);
    ck_assert_uint_eq (off + used, end[count - 1]);
    for (int i = 2; i < count; i++)
        s_check_view (&views[i - 2], wire, at[i], specs[i].len, specs[i].vnet_hdr_len, vnet,
                      9);
    c = colo_framing_counters (dec);
    ck_assert_uint_eq (c[COLO_FRAMING_FRAMES], (uint64_t) count);
    ck_assert_uint_eq (c[COLO_FRAMING_BYTES], bytes);
    //  Nothing, or less than a header: no view, nothing consumed.
    ck_assert_int_eq (colo_framing_views (dec, wire, 0, &used, views, S_VIEW_CAP, 1), 0);
    ck_assert_uint_eq (used, 0);
    ck_assert_int_eq (colo_framing_views (dec, wire, vnet ? 7 : 3, &used, views, S_VIEW_CAP,
                                          1),
                      0);
    ck_assert_uint_eq (used, 0);
    ck_assert_uint_eq (c[COLO_FRAMING_FRAMES], (uint64_t) count);
    colo_framing_destroy (&dec);
}
END_TEST

//  A frame cut short at every byte (in its header, in its data): views stop
//  at its start, feed_at takes the start, and with the next chunk the decoder
//  is mid-frame (no views) until feed_at completes it; then views again.
//  _i = vnet.
START_TEST (test_views_cut_short)
{
    int vnet = _i;
    uint8_t wire[256];
    size_t pos = 0;
    size_t at_a = s_put_frame (wire, sizeof wire, &pos, 5, 2, vnet, 1);
    size_t start_b = pos;
    size_t at_b = s_put_frame (wire, sizeof wire, &pos, 40, 12, vnet, 100);
    size_t end_b = pos;
    size_t at_c = s_put_frame (wire, sizeof wire, &pos, 3, 0, vnet, 200);
    size_t size = pos;
    for (size_t cut = start_b + 1; cut < end_b; cut++) {
        colo_framing_t *dec = colo_framing_new (vnet);
        colo_frame_view_t views[S_VIEW_CAP];
        size_t used = 0;
        int n = colo_framing_views (dec, wire, cut, &used, views, S_VIEW_CAP, 10);
        ck_assert_int_eq (n, 1);
        ck_assert_uint_eq (used, start_b);
        s_check_view (&views[0], wire, at_a, 5, 2, vnet, 10);
        //  Asked again at the cut frame: nothing.
        ck_assert_int_eq (colo_framing_views (dec, wire + used, cut - used, &used, views,
                                              S_VIEW_CAP, 10),
                          0);
        ck_assert_uint_eq (used, 0);
        colo_buf_t *buf = NULL;
        ck_assert_int_eq (colo_framing_feed_at (dec, wire + start_b, cut - start_b, &used,
                                                &buf, 10),
                          COLO_FRAMING_NEED_MORE);
        ck_assert_uint_eq (used, cut - start_b);
        ck_assert_ptr_null (buf);
        ck_assert_int_eq (colo_framing_in_frame (dec), 1);
        //  Second chunk: the rest of B, then C.  Mid-frame: no views.
        ck_assert_int_eq (colo_framing_views (dec, wire + cut, size - cut, &used, views,
                                              S_VIEW_CAP, 20),
                          0);
        ck_assert_uint_eq (used, 0);
        colo_framing_result_t rc =
            colo_framing_feed_at (dec, wire + cut, size - cut, &used, &buf, 20);
        ck_assert_int_eq (rc, COLO_FRAMING_FRAME);
        ck_assert_uint_eq (cut + used, end_b);
        ck_assert_ptr_nonnull (buf);
        ck_assert_uint_eq (buf->len, 40);
        ck_assert_uint_eq (buf->vnet_hdr_len, vnet ? 12 : 0);
        ck_assert_uint_eq (buf->ts_ns, 20);
        ck_assert_int_eq (memcmp (buf->data, wire + at_b, 40), 0);
        colo_buf_destroy (&buf);
        ck_assert_int_eq (colo_framing_in_frame (dec), 0);
        n = colo_framing_views (dec, wire + end_b, size - end_b, &used, views, S_VIEW_CAP,
                                30);
        ck_assert_int_eq (n, 1);
        ck_assert_uint_eq (used, size - end_b);
        s_check_view (&views[0], wire, at_c, 3, 0, vnet, 30);
        const uint64_t *c = colo_framing_counters (dec);
        ck_assert_uint_eq (c[COLO_FRAMING_FRAMES], 3);
        ck_assert_uint_eq (c[COLO_FRAMING_BYTES], 5 + 40 + 3);
        ck_assert_uint_eq (c[COLO_FRAMING_PARTIAL_DISCARDED], 0);
        colo_framing_destroy (&dec);
    }
}
END_TEST

//  Views stop at an empty frame; feed_at skips it (counted) and returns the
//  next frame; views go on after that.  An empty frame last: feed_at uses
//  every byte.  _i = vnet.
START_TEST (test_views_empty)
{
    int vnet = _i;
    uint8_t wire[256];
    size_t pos = 0;
    size_t at_a = s_put_frame (wire, sizeof wire, &pos, 9, 0, vnet, 1);
    size_t start_e = pos;
    s_put_frame (wire, sizeof wire, &pos, 0, 0, vnet, 0);
    s_put_frame (wire, sizeof wire, &pos, 0, 0, vnet, 0);
    size_t at_b = s_put_frame (wire, sizeof wire, &pos, 20, 20, vnet, 50);
    size_t end_b = pos;
    size_t at_c = s_put_frame (wire, sizeof wire, &pos, 7, 1, vnet, 90);
    size_t end_c = pos;
    s_put_frame (wire, sizeof wire, &pos, 0, 0, vnet, 0);
    size_t size = pos;

    colo_framing_t *dec = colo_framing_new (vnet);
    colo_frame_view_t views[S_VIEW_CAP];
    size_t used = 0;
    ck_assert_int_eq (colo_framing_views (dec, wire, size, &used, views, S_VIEW_CAP, 5), 1);
    ck_assert_uint_eq (used, start_e);
    s_check_view (&views[0], wire, at_a, 9, 0, vnet, 5);
    ck_assert_int_eq (colo_framing_views (dec, wire + start_e, size - start_e, &used, views,
                                          S_VIEW_CAP, 5),
                      0);
    ck_assert_uint_eq (used, 0);
    ck_assert_uint_eq (colo_framing_counters (dec)[COLO_FRAMING_EMPTY], 0);
    colo_buf_t *buf = NULL;
    colo_framing_result_t rc =
        colo_framing_feed_at (dec, wire + start_e, size - start_e, &used, &buf, 6);
    ck_assert_int_eq (rc, COLO_FRAMING_FRAME);
    ck_assert_uint_eq (start_e + used, end_b);
    ck_assert_uint_eq (buf->len, 20);
    ck_assert_uint_eq (buf->vnet_hdr_len, vnet ? 20 : 0);
    ck_assert_int_eq (memcmp (buf->data, wire + at_b, 20), 0);
    colo_buf_destroy (&buf);
    ck_assert_int_eq (colo_framing_views (dec, wire + end_b, size - end_b, &used, views,
                                          S_VIEW_CAP, 7),
                      1);
    ck_assert_uint_eq (end_b + used, end_c);
    s_check_view (&views[0], wire, at_c, 7, 1, vnet, 7);
    ck_assert_int_eq (colo_framing_views (dec, wire + end_c, size - end_c, &used, views,
                                          S_VIEW_CAP, 7),
                      0);
    rc = colo_framing_feed_at (dec, wire + end_c, size - end_c, &used, &buf, 8);
    ck_assert_int_eq (rc, COLO_FRAMING_NEED_MORE);
    ck_assert_uint_eq (end_c + used, size);
    ck_assert_ptr_null (buf);
    ck_assert_int_eq (colo_framing_in_frame (dec), 0);
    const uint64_t *c = colo_framing_counters (dec);
    ck_assert_uint_eq (c[COLO_FRAMING_EMPTY], 3);
    ck_assert_uint_eq (c[COLO_FRAMING_FRAMES], 3);
    ck_assert_uint_eq (c[COLO_FRAMING_BYTES], 9 + 20 + 7);
    colo_framing_destroy (&dec);
}
END_TEST

//  A bad header after a good frame: views give the good frame and stop
//  (counting no error); feed_at reports the error and counts it.
//  _i: 0/1 = oversize without/with vnet, 2 = vnet_hdr_len above the max,
//  3 = vnet_hdr_len above the length, 4 = empty frame with a vnet header.
START_TEST (test_views_bad_header)
{
    int vnet = _i > 0;
    uint8_t wire[64];
    size_t pos = 0;
    size_t at_a = s_put_frame (wire, sizeof wire, &pos, 4, 4, vnet, 3);
    size_t bad_at = pos;
    uint32_t bad_len = _i <= 1 ? COLO_FRAME_MAX + 1 : _i == 2 ? 30 : _i == 3 ? 10 : 0;
    uint32_t bad_vnet = _i <= 1 ? 0 : _i == 2 ? 21 : _i == 3 ? 11 : 1;
    size_t hl = colo_framing_encode_header (wire + pos, bad_len, vnet, bad_vnet);
    pos += hl;
    //  Enough bytes after it for the lengths that fit (30 and 10).
    memset (wire + pos, 0x5c, 30);
    pos += 30;
    colo_framing_t *dec = colo_framing_new (vnet);
    colo_frame_view_t views[S_VIEW_CAP];
    size_t used = 0;
    ck_assert_int_eq (colo_framing_views (dec, wire, pos, &used, views, S_VIEW_CAP, 5), 1);
    ck_assert_uint_eq (used, bad_at);
    s_check_view (&views[0], wire, at_a, 4, 4, vnet, 5);
    ck_assert_int_eq (colo_framing_views (dec, wire + bad_at, pos - bad_at, &used, views,
                                          S_VIEW_CAP, 5),
                      0);
    ck_assert_uint_eq (used, 0);
    const uint64_t *c = colo_framing_counters (dec);
    ck_assert_uint_eq (c[COLO_FRAMING_OVERSIZE], 0);
    ck_assert_uint_eq (c[COLO_FRAMING_BAD_VNET], 0);
    colo_buf_t *buf = NULL;
    colo_framing_result_t rc =
        colo_framing_feed_at (dec, wire + bad_at, pos - bad_at, &used, &buf, 6);
    ck_assert_int_eq (rc, _i <= 1 ? COLO_FRAMING_ERR_OVERSIZE : COLO_FRAMING_ERR_VNET);
    ck_assert_ptr_null (buf);
    ck_assert_uint_le (used, hl);
    ck_assert_uint_gt (used, 0);
    uint32_t last_len = 0, last_vnet = 0;
    colo_framing_last_header (dec, &last_len, &last_vnet);
    ck_assert_uint_eq (last_len, bad_len);
    ck_assert_uint_eq (last_vnet, _i <= 1 ? 0 : bad_vnet);
    ck_assert_uint_eq (c[COLO_FRAMING_OVERSIZE], _i <= 1 ? 1 : 0);
    ck_assert_uint_eq (c[COLO_FRAMING_BAD_VNET], _i <= 1 ? 0 : 1);
    ck_assert_uint_eq (c[COLO_FRAMING_FRAMES], 1);
    ck_assert_uint_eq (c[COLO_FRAMING_BYTES], 4);
    ck_assert_uint_eq (c[COLO_FRAMING_EMPTY], 0);
    ck_assert_int_eq (colo_framing_in_frame (dec), 0);
    colo_framing_destroy (&dec);
}
END_TEST

//  Mid-frame (part of a header, or part of the data) the decoder gives no
//  views, even of bytes that look like whole frames.  _i = vnet.
START_TEST (test_views_mid_frame)
{
    int vnet = _i;
    uint8_t wire[128];
    size_t pos = 0;
    s_put_frame (wire, sizeof wire, &pos, 10, 0, vnet, 0);
    size_t start_b = pos;
    s_put_frame (wire, sizeof wire, &pos, 10, 0, vnet, 0);
    s_put_frame (wire, sizeof wire, &pos, 10, 0, vnet, 0);
    size_t size = pos;
    static const size_t cuts[] = {1, 3, 9, 13};   //  in the header, in the data
    for (int k = 0; k < 4; k++) {
        colo_framing_t *dec = colo_framing_new (vnet);
        colo_buf_t *buf = NULL;
        size_t used = 0;
        ck_assert_int_eq (colo_framing_feed_at (dec, wire, cuts[k], &used, &buf, 1),
                          COLO_FRAMING_NEED_MORE);
        ck_assert_int_eq (colo_framing_in_frame (dec), 1);
        colo_frame_view_t views[S_VIEW_CAP];
        //  From where the frame went on, and from a frame boundary after it.
        ck_assert_int_eq (colo_framing_views (dec, wire + cuts[k], size - cuts[k], &used,
                                              views, S_VIEW_CAP, 2),
                          0);
        ck_assert_uint_eq (used, 0);
        ck_assert_int_eq (colo_framing_views (dec, wire + start_b, size - start_b, &used,
                                              views, S_VIEW_CAP, 2),
                          0);
        ck_assert_uint_eq (used, 0);
        ck_assert_uint_eq (colo_framing_counters (dec)[COLO_FRAMING_FRAMES], 0);
        ck_assert_int_eq (colo_framing_in_frame (dec), 1);
        colo_framing_destroy (&dec);
    }
}
END_TEST

//  Random streams (empty frames among them) in random chunks, decoded as a
//  port does (views while they come, feed_at for the rest) and by
//  feed_many: the same frames, bytes, stamps and counters.  _i = vnet.
START_TEST (test_views_differential)
{
    int vnet = _i;
    uint64_t rng = 0x9e3779b97f4a7c15ull + (uint64_t) vnet;
    enum { FRAMES = 300, CAP = 300 * (COLO_FRAMING_HDR_MAX + 2100) };
    uint8_t *wire = (uint8_t *) malloc (CAP);
    ck_assert_ptr_nonnull (wire);
    for (int round = 0; round < 20; round++) {
        size_t pos = 0;
        for (int i = 0; i < FRAMES; i++) {
            uint64_t r = colo_test_rand (&rng);
            uint32_t len = r % 8 == 0 ? 0 : (uint32_t) (r >> 8) % 2048 + 1;
            uint32_t vlen = (uint32_t) (r >> 40) % (COLO_VNET_HDR_MAX + 1);
            s_put_frame (wire, CAP, &pos, len, vlen < len ? vlen : len, vnet, (uint32_t) r);
        }
        size_t size = pos;
        colo_framing_t *dv = colo_framing_new (vnet);   //  views + feed_at
        colo_framing_t *dm = colo_framing_new (vnet);   //  feed_many
        int nv = 0, nm = 0;
        size_t off = 0;
        uint64_t chunk = 0;
        colo_frame_view_t got[FRAMES];
        colo_buf_t *lent[FRAMES];   //  frames feed_at made, behind got[]
        int lent_count = 0;
        colo_buf_t *many[FRAMES];
        while (off < size) {
            chunk++;
            size_t len = (size_t) (colo_test_rand (&rng) % 6000) + 1;
            if (len > size - off)
                len = size - off;
            //  The port's way.
            const uint8_t *data = wire + off;
            size_t left = len;
            while (left > 0) {
                int max = (int) (colo_test_rand (&rng) % 4) + 1;
                size_t used = 0;
                colo_frame_view_t views[4];
                int k = colo_framing_views (dv, data, left, &used, views, max, chunk);
                ck_assert_int_ge (k, 0);
                ck_assert_int_le (k, max);
                ck_assert_uint_le (used, left);
                for (int i = 0; i < k; i++) {
                    ck_assert_int_lt (nv, FRAMES);
                    ck_assert_uint_gt (views[i].len, 0);
                    got[nv++] = views[i];
                }
                data += used;
                left -= used;
                if (k > 0)
                    continue;
                ck_assert_uint_eq (used, 0);
                colo_buf_t *buf = NULL;
                colo_framing_result_t rc =
                    colo_framing_feed_at (dv, data, left, &used, &buf, chunk);
                ck_assert_int_ge (rc, 0);
                data += used;
                left -= used;
                if (rc == COLO_FRAMING_FRAME) {
                    ck_assert_int_lt (nv, FRAMES);
                    lent[lent_count++] = buf;
                    got[nv].data = buf->data;
                    got[nv].len = buf->len;
                    got[nv].vnet_hdr_len = buf->vnet_hdr_len;
                    got[nv].ts_ns = buf->ts_ns;
                    nv++;
                }
                else
                    ck_assert_uint_eq (left, 0);
            }
            //  feed_many's way.
            data = wire + off;
            left = len;
            while (1) {
                size_t used = 0;
                colo_framing_result_t rc;
                int k = colo_framing_feed_many (dm, data, left, &used, many + nm,
                                                FRAMES - nm, chunk, &rc);
                ck_assert_int_ge (rc, 0);
                nm += k;
                data += used;
                left -= used;
                if (rc == COLO_FRAMING_NEED_MORE)
                    break;
            }
            ck_assert_uint_eq (left, 0);
            ck_assert_int_eq (nv, nm);
            off += len;
        }
        ck_assert_int_gt (nv, FRAMES / 2);
        for (int i = 0; i < nv; i++) {
            ck_assert_uint_eq (got[i].len, many[i]->len);
            ck_assert_uint_eq (got[i].vnet_hdr_len, many[i]->vnet_hdr_len);
            ck_assert_uint_eq (got[i].ts_ns, many[i]->ts_ns);
            ck_assert_int_eq (memcmp (got[i].data, many[i]->data, got[i].len), 0);
        }
        const uint64_t *cv = colo_framing_counters (dv);
        const uint64_t *cm = colo_framing_counters (dm);
        for (int k = 0; k < COLO_FRAMING_COUNTER_COUNT; k++)
            ck_assert_msg (cv[k] == cm[k], "%s: views %llu, feed_many %llu",
                           colo_framing_counter_names[k], (unsigned long long) cv[k],
                           (unsigned long long) cm[k]);
        ck_assert_uint_eq (cv[COLO_FRAMING_FRAMES], (uint64_t) nv);
        ck_assert_uint_gt (cv[COLO_FRAMING_EMPTY], 0);
        ck_assert_int_eq (colo_framing_in_frame (dv), 0);
        colo_buf_destroy_array (lent, lent_count);
        colo_buf_destroy_array (many, nm);
        colo_framing_destroy (&dv);
        colo_framing_destroy (&dm);
    }
    free (wire);
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
    tcase_add_loop_test (tc, test_views_whole, 0, 2);
    tcase_add_loop_test (tc, test_views_cut_short, 0, 2);
    tcase_add_loop_test (tc, test_views_empty, 0, 2);
    tcase_add_loop_test (tc, test_views_bad_header, 0, 5);
    tcase_add_loop_test (tc, test_views_mid_frame, 0, 2);
    tcase_add_loop_test (tc, test_views_differential, 0, 2);
    suite_add_tcase (s, tc);
    return s;
}
