/*  check_colo_envelope.c - tests for the envelope codec (fixed header and msgpack).
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <check.h>
#include <string.h>

#include "colo_envelope.h"
#include "colo_test.h"

//  A frame with every metadata field set to something recognisable.
static colo_buf_t *
s_sample (uint32_t len, uint16_t vnet)
{
    colo_buf_t *buf = colo_test_frame (len, len + 5);
    ck_assert_ptr_nonnull (buf);
    buf->dir = COLO_DIR_FROM_SECONDARY;
    buf->flags = 0xA5;
    buf->instance = 0xDEADBEEF;
    buf->ts_ns = 0x0123456789ABCDEFull;
    buf->seq = 0xFEDCBA9876543210ull;
    buf->vnet_hdr_len = vnet;
    return buf;
}

static void
s_assert_same (const colo_buf_t *a, const colo_buf_t *b)
{
    ck_assert_uint_eq (a->len, b->len);
    ck_assert_uint_eq (a->dir, b->dir);
    ck_assert_uint_eq (a->flags, b->flags);
    ck_assert_uint_eq (a->instance, b->instance);
    ck_assert_uint_eq (a->ts_ns, b->ts_ns);
    ck_assert_uint_eq (a->seq, b->seq);
    ck_assert_uint_eq (a->vnet_hdr_len, b->vnet_hdr_len);
    ck_assert_int_eq (memcmp (a->data, b->data, a->len), 0);
}

//  The fixed header of a known frame, byte by byte (little-endian).
START_TEST (test_fixed_golden)
{
    colo_buf_t *buf = colo_buf_new_copy ("\x01\x02\x03\x04\x05", 5);
    buf->dir = COLO_DIR_TO_GUEST;
    buf->flags = 0x80;
    buf->instance = 0x11223344;
    buf->ts_ns = 0x0102030405060708ull;
    buf->seq = 42;
    buf->vnet_hdr_len = 2;
    static const uint8_t golden[] = {
        0xC0, 0x01, 0x01, 0x80, 0x44, 0x33, 0x22, 0x11,   //  magic ver dir flags instance
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,   //  ts_ns
        0x2A, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,   //  seq
        0x02, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00,   //  vnet reserved len
        0x01, 0x02, 0x03, 0x04, 0x05,
    };
    ck_assert_uint_eq (colo_envelope_size (buf), sizeof golden);
    uint8_t out[64];
    ck_assert_uint_eq (colo_envelope_encode (buf, out, sizeof out), sizeof golden);
    ck_assert_int_eq (memcmp (out, golden, sizeof golden), 0);
    //  Too small a buffer: nothing written.
    ck_assert_uint_eq (colo_envelope_encode (buf, out, sizeof golden - 1), 0);
    //  The header alone, without data.
    uint8_t hdr[COLO_ENVELOPE_HDR_LEN];
    colo_envelope_encode_header (buf, hdr);
    ck_assert_int_eq (memcmp (hdr, golden, sizeof hdr), 0);
    size_t record_len = 0;
    ck_assert_int_eq (colo_envelope_peek (golden, sizeof golden, &record_len),
                      COLO_ENV_OK);
    ck_assert_uint_eq (record_len, sizeof golden);
    colo_buf_t *dec = NULL;
    size_t used = 0;
    ck_assert_int_eq (colo_envelope_decode (golden, sizeof golden, &dec, &used),
                      COLO_ENV_OK);
    ck_assert_uint_eq (used, sizeof golden);
    s_assert_same (dec, buf);
    colo_buf_destroy (&dec);
    colo_buf_destroy (&buf);
}
END_TEST

START_TEST (test_fixed_roundtrip)
{
    static const uint32_t lens[] = {0, 1, 20, 60, 1514, 9000, COLO_FRAME_MAX};
    static uint8_t out[COLO_ENVELOPE_HDR_LEN + COLO_FRAME_MAX + 8];
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint16_t vnet = lens[i] >= COLO_VNET_HDR_MAX ? COLO_VNET_HDR_MAX : 0;
        colo_buf_t *buf = s_sample (lens[i], vnet);
        size_t n = colo_envelope_encode (buf, out, sizeof out - 8);
        ck_assert_uint_eq (n, COLO_ENVELOPE_HDR_LEN + lens[i]);
        colo_buf_t *dec = NULL;
        size_t used = 0;
        ck_assert_int_eq (colo_envelope_decode (out, n, &dec, &used), COLO_ENV_OK);
        ck_assert_uint_eq (used, n);
        s_assert_same (dec, buf);
        colo_buf_destroy (&dec);
        //  Bytes after the record (the next one) are not consumed.
        ck_assert_int_eq (colo_envelope_decode (out, n + 8, &dec, &used), COLO_ENV_OK);
        ck_assert_uint_eq (used, n);
        colo_buf_destroy (&dec);
        colo_buf_destroy (&buf);
    }
}
END_TEST

START_TEST (test_mp_roundtrip)
{
    static const uint32_t lens[] = {0, 1, 31, 32, 255, 256, 65535, 65536, COLO_FRAME_MAX};
    static uint8_t out[COLO_FRAME_MAX + 128];
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint16_t vnet = lens[i] >= 12 ? 12 : 0;
        colo_buf_t *buf = s_sample (lens[i], vnet);
        size_t n = colo_envelope_mp_encode (buf, out, sizeof out);
        ck_assert_uint_gt (n, lens[i]);
        colo_buf_t *dec = NULL;
        size_t used = 0;
        ck_assert_int_eq (colo_envelope_mp_decode (out, n, &dec, &used), COLO_ENV_OK);
        ck_assert_uint_eq (used, n);
        s_assert_same (dec, buf);
        colo_buf_destroy (&dec);
        ck_assert_uint_eq (colo_envelope_mp_encode (buf, out, n - 1), 0);
        colo_buf_destroy (&buf);
    }
    //  Small metadata values use msgpack's short forms and still decode.
    colo_buf_t *buf = colo_buf_new_copy ("ab", 2);
    size_t n = colo_envelope_mp_encode (buf, out, sizeof out);
    static const uint8_t golden[] = {0x98, 0x01, 0x00, 0x00, 0x00, 0x00,
                                     0x00, 0x00, 0xC4, 0x02, 'a', 'b'};
    ck_assert_uint_eq (n, sizeof golden);
    ck_assert_int_eq (memcmp (out, golden, n), 0);
    colo_buf_destroy (&buf);
}
END_TEST

//  Every proper prefix of a record needs more bytes, in both forms.
START_TEST (test_truncation_need_more)
{
    colo_buf_t *buf = s_sample (300, 12);
    uint8_t fixed[400], mp[400];
    size_t nf = colo_envelope_encode (buf, fixed, sizeof fixed);
    size_t nm = colo_envelope_mp_encode (buf, mp, sizeof mp);
    ck_assert_uint_gt (nf, 0);
    ck_assert_uint_gt (nm, 0);
    colo_buf_t *dec = NULL;
    size_t used = 0, record_len = 0;
    for (size_t len = 0; len < nf; len++) {
        ck_assert_int_eq (colo_envelope_decode (fixed, len, &dec, &used),
                          COLO_ENV_NEED_MORE);
        ck_assert_int_eq (colo_envelope_peek (fixed, len, &record_len),
                          COLO_ENV_NEED_MORE);
    }
    ck_assert_ptr_null (dec);
    for (size_t len = 0; len < nm; len++)
        ck_assert_int_eq (colo_envelope_mp_decode (mp, len, &dec, &used),
                          COLO_ENV_NEED_MORE);
    ck_assert_ptr_null (dec);
    //  Once the header is there, peek knows the whole size.
    ck_assert_int_eq (colo_envelope_peek (fixed, COLO_ENVELOPE_HDR_LEN, &record_len),
                      COLO_ENV_NEED_MORE);
    ck_assert_uint_eq (record_len, nf);
    colo_buf_destroy (&buf);
}
END_TEST

START_TEST (test_fixed_malformed)
{
    colo_buf_t *buf = s_sample (100, 0);
    uint8_t good[200], bad[200];
    size_t n = colo_envelope_encode (buf, good, sizeof good);
    colo_buf_destroy (&buf);
    colo_buf_t *dec = NULL;
    size_t used = 0;
    uint32_t v32;
    uint16_t v16;

    memcpy (bad, good, n);
    bad[0] = 0xC1;
    ck_assert_int_eq (colo_envelope_decode (bad, n, &dec, &used), COLO_ENV_ERR_MAGIC);
    ck_assert_int_eq (colo_envelope_decode (bad, 1, &dec, &used), COLO_ENV_ERR_MAGIC);

    memcpy (bad, good, n);
    bad[1] = COLO_ENVELOPE_VERSION + 1;
    ck_assert_int_eq (colo_envelope_decode (bad, n, &dec, &used), COLO_ENV_ERR_VERSION);
    ck_assert_int_eq (colo_envelope_decode (bad, 2, &dec, &used), COLO_ENV_ERR_VERSION);
    bad[1] = 0;
    ck_assert_int_eq (colo_envelope_decode (bad, n, &dec, &used), COLO_ENV_ERR_VERSION);

    memcpy (bad, good, n);
    v32 = COLO_FRAME_MAX + 1;
    memcpy (bad + 28, &v32, 4);
    ck_assert_int_eq (colo_envelope_decode (bad, n, &dec, &used), COLO_ENV_ERR_LENGTH);
    v32 = 0xFFFFFFFFu;
    memcpy (bad + 28, &v32, 4);
    ck_assert_int_eq (colo_envelope_decode (bad, n, &dec, &used), COLO_ENV_ERR_LENGTH);

    memcpy (bad, good, n);
    v16 = 101;   //  vnet_hdr_len > len
    memcpy (bad + 24, &v16, 2);
    ck_assert_int_eq (colo_envelope_decode (bad, n, &dec, &used), COLO_ENV_ERR_LENGTH);
    v16 = COLO_VNET_HDR_MAX + 1;
    memcpy (bad + 24, &v16, 2);
    ck_assert_int_eq (colo_envelope_decode (bad, n, &dec, &used), COLO_ENV_ERR_LENGTH);
    //  ... and on a tiny frame, a vnet header longer than the frame.
    colo_buf_t *tiny = s_sample (4, 0);
    size_t nt = colo_envelope_encode (tiny, bad, sizeof bad);
    v16 = 5;
    memcpy (bad + 24, &v16, 2);
    ck_assert_int_eq (colo_envelope_decode (bad, nt, &dec, &used), COLO_ENV_ERR_LENGTH);
    colo_buf_destroy (&tiny);

    //  A longer length than present is NEED_MORE, never a read past the end.
    memcpy (bad, good, n);
    v32 = 150;
    memcpy (bad + 28, &v32, 4);
    ck_assert_int_eq (colo_envelope_decode (bad, n, &dec, &used), COLO_ENV_NEED_MORE);
    ck_assert_ptr_null (dec);

    ck_assert_str_eq (colo_envelope_result_name (COLO_ENV_ERR_LENGTH), "bad_length");
    ck_assert_str_eq (colo_envelope_result_name (COLO_ENV_NEED_MORE), "need_more");
    ck_assert_str_eq (colo_envelope_result_name ((colo_env_result_t) 42), "unknown");
}
END_TEST

START_TEST (test_mp_malformed)
{
    colo_buf_t *dec = NULL;
    size_t used = 0;
    //  Not an array.
    static const uint8_t not_array[] = {0x01};
    ck_assert_int_eq (colo_envelope_mp_decode (not_array, 1, &dec, &used),
                      COLO_ENV_ERR_MAGIC);
    //  An array of the wrong size.
    static const uint8_t short_array[] = {0x92, 0x01, 0x00};
    ck_assert_int_eq (colo_envelope_mp_decode (short_array, 3, &dec, &used),
                      COLO_ENV_ERR_MAGIC);
    //  Wrong version.
    static const uint8_t version[] = {0x98, 0x02, 0, 0, 0, 0, 0, 0, 0xC4, 0x00};
    ck_assert_int_eq (colo_envelope_mp_decode (version, sizeof version, &dec, &used),
                      COLO_ENV_ERR_VERSION);
    //  A string where the data should be bin.
    static const uint8_t str_data[] = {0x98, 0x01, 0, 0, 0, 0, 0, 0, 0xA1, 'x'};
    ck_assert_int_eq (colo_envelope_mp_decode (str_data, sizeof str_data, &dec, &used),
                      COLO_ENV_ERR_MAGIC);
    //  A negative number for a field.
    static const uint8_t negative[] = {0x98, 0x01, 0xFF, 0, 0, 0, 0, 0, 0xC4, 0x00};
    ck_assert_int_eq (colo_envelope_mp_decode (negative, sizeof negative, &dec, &used),
                      COLO_ENV_ERR_MAGIC);
    //  dir out of range (256).
    static const uint8_t big_dir[]
        = {0x98, 0x01, 0xCD, 0x01, 0x00, 0, 0, 0, 0, 0, 0xC4, 0x00};
    ck_assert_int_eq (colo_envelope_mp_decode (big_dir, sizeof big_dir, &dec, &used),
                      COLO_ENV_ERR_MAGIC);
    //  vnet_hdr_len larger than the data.
    static const uint8_t vnet[] = {0x98, 0x01, 0, 0, 0, 0, 0, 0x02, 0xC4, 0x01, 'x'};
    ck_assert_int_eq (colo_envelope_mp_decode (vnet, sizeof vnet, &dec, &used),
                      COLO_ENV_ERR_LENGTH);
    //  Data longer than the largest frame.
    static uint8_t huge[COLO_FRAME_MAX + 32];
    static const uint8_t huge_hdr[] = {0x98, 0x01, 0, 0, 0, 0, 0, 0, 0xC6,
                                       0x00, 0x01, 0x10, 0x01};   //  bin32 69633
    memset (huge, 0, sizeof huge);
    memcpy (huge, huge_hdr, sizeof huge_hdr);
    ck_assert_int_eq (colo_envelope_mp_decode (huge, sizeof huge_hdr + COLO_FRAME_MAX + 1,
                                               &dec, &used),
                      COLO_ENV_ERR_LENGTH);
    //  A reserved byte (0xC1) is malformed, not NEED_MORE.
    static const uint8_t reserved[] = {0xC1, 0x00};
    ck_assert_int_lt (colo_envelope_mp_decode (reserved, sizeof reserved, &dec, &used), 0);
    ck_assert_ptr_null (dec);
}
END_TEST

//  Several records back to back in one message, in both forms.
START_TEST (test_back_to_back)
{
    uint8_t fixed[4096], mp[4096];
    size_t nf = 0, nm = 0;
    colo_buf_t *bufs[5];
    for (int i = 0; i < 5; i++) {
        bufs[i] = s_sample ((uint32_t) (i * 97), i % 2 ? 12 : 0);
        bufs[i]->seq = (uint64_t) i;
        nf += colo_envelope_encode (bufs[i], fixed + nf, sizeof fixed - nf);
        nm += colo_envelope_mp_encode (bufs[i], mp + nm, sizeof mp - nm);
    }
    size_t off = 0;
    for (int i = 0; i < 5; i++) {
        colo_buf_t *dec = NULL;
        size_t used = 0;
        ck_assert_int_eq (colo_envelope_decode (fixed + off, nf - off, &dec, &used),
                          COLO_ENV_OK);
        s_assert_same (dec, bufs[i]);
        colo_buf_destroy (&dec);
        off += used;
    }
    ck_assert_uint_eq (off, nf);
    off = 0;
    for (int i = 0; i < 5; i++) {
        colo_buf_t *dec = NULL;
        size_t used = 0;
        ck_assert_int_eq (colo_envelope_mp_decode (mp + off, nm - off, &dec, &used),
                          COLO_ENV_OK);
        s_assert_same (dec, bufs[i]);
        colo_buf_destroy (&dec);
        off += used;
    }
    ck_assert_uint_eq (off, nm);
    colo_buf_destroy_array (bufs, 5);
}
END_TEST

Suite *
colo_envelope_suite (void)
{
    Suite *s = suite_create ("colo_envelope");
    TCase *tc = tcase_create ("codec");
    tcase_add_test (tc, test_fixed_golden);
    tcase_add_test (tc, test_fixed_roundtrip);
    tcase_add_test (tc, test_mp_roundtrip);
    tcase_add_test (tc, test_truncation_need_more);
    tcase_add_test (tc, test_fixed_malformed);
    tcase_add_test (tc, test_mp_malformed);
    tcase_add_test (tc, test_back_to_back);
    suite_add_tcase (s, tc);
    return s;
}
