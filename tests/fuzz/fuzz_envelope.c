/*  fuzz_envelope.c - libFuzzer target for the envelope codec (both forms).
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  The input is read as a sequence of records, once with the fixed-header
 *  decoder and once with the msgpack decoder.  After a malformed record the
 *  decoder is retried one byte further on, to reach the records behind it.
 *  Every frame decoded is checked against the codec's invariants and
 *  encoded again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "colo_envelope.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
const char *__asan_default_options (void);

//  Failed allocations are NULL (ERR_NOMEM), as in production.
const char *
__asan_default_options (void)
{
    return "allocator_may_return_null=1";
}

#define s_require(cond)                                                        \
    do {                                                                       \
        if (!(cond))                                                           \
            abort ();                                                          \
    } while (0)

static uint8_t s_scratch[COLO_FRAME_MAX + 64];

static void
s_check_buf (const colo_buf_t *buf)
{
    s_require (buf != NULL);
    s_require (buf->len <= COLO_FRAME_MAX);
    s_require (buf->len <= buf->cap);
    s_require (buf->vnet_hdr_len <= buf->len);
    s_require (buf->vnet_hdr_len <= COLO_VNET_HDR_MAX);
}

static int
s_same_fields (const colo_buf_t *a, const colo_buf_t *b)
{
    return a->len == b->len && a->dir == b->dir && a->flags == b->flags
           && a->instance == b->instance && a->ts_ns == b->ts_ns
           && a->seq == b->seq && a->vnet_hdr_len == b->vnet_hdr_len
           && memcmp (a->data, b->data, a->len) == 0;
}

static void
s_fixed (const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        const uint8_t *in = data + off;
        size_t left = size - off;
        colo_buf_t *buf = NULL;
        size_t used = 0, record_len = 0;
        colo_env_result_t rc = colo_envelope_decode (in, left, &buf, &used);
        colo_env_result_t peek = colo_envelope_peek (in, left, &record_len);
        if (rc == COLO_ENV_ERR_NOMEM)
            return;
        s_require (rc == peek);
        if (rc != COLO_ENV_OK) {
            s_require (buf == NULL);
            if (rc == COLO_ENV_NEED_MORE)
                return;
            s_require (rc == COLO_ENV_ERR_MAGIC || rc == COLO_ENV_ERR_VERSION
                       || rc == COLO_ENV_ERR_LENGTH);
            off++;
            continue;
        }
        s_check_buf (buf);
        s_require (used == record_len);
        s_require (used == COLO_ENVELOPE_HDR_LEN + buf->len);
        s_require (used <= left);
        //  One byte short is NEED_MORE.
        colo_buf_t *none = NULL;
        size_t used2 = 0;
        s_require (colo_envelope_decode (in, used - 1, &none, &used2)
                   == COLO_ENV_NEED_MORE);
        s_require (none == NULL);
        //  Encoding it again gives the same bytes, the reserved field aside.
        size_t n = colo_envelope_encode (buf, s_scratch, sizeof s_scratch);
        s_require (n == used);
        s_require (memcmp (s_scratch, in, 26) == 0);
        s_require (memcmp (s_scratch + 28, in + 28, used - 28) == 0);
        colo_buf_destroy (&buf);
        off += used;
    }
}

static void
s_msgpack (const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        const uint8_t *in = data + off;
        size_t left = size - off;
        colo_buf_t *buf = NULL;
        size_t used = 0;
        colo_env_result_t rc = colo_envelope_mp_decode (in, left, &buf, &used);
        if (rc == COLO_ENV_ERR_NOMEM)
            return;
        if (rc != COLO_ENV_OK) {
            s_require (buf == NULL);
            if (rc == COLO_ENV_NEED_MORE)
                return;
            s_require (rc == COLO_ENV_ERR_MAGIC || rc == COLO_ENV_ERR_VERSION
                       || rc == COLO_ENV_ERR_LENGTH);
            off++;
            continue;
        }
        s_check_buf (buf);
        s_require (used > 0 && used <= left);
        //  The fields survive an encode/decode round trip (msgpack encodings
        //  are not unique, so the bytes may differ).
        size_t n = colo_envelope_mp_encode (buf, s_scratch, sizeof s_scratch);
        s_require (n > 0);
        colo_buf_t *again = NULL;
        size_t used2 = 0;
        rc = colo_envelope_mp_decode (s_scratch, n, &again, &used2);
        if (rc != COLO_ENV_ERR_NOMEM) {
            s_require (rc == COLO_ENV_OK);
            s_require (used2 == n);
            s_require (s_same_fields (buf, again));
            colo_buf_destroy (&again);
        }
        colo_buf_destroy (&buf);
        off += used;
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_fixed (data, size);
    s_msgpack (data, size);
    return 0;
}
