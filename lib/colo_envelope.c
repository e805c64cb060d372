/*  colo_envelope.c - the record format between services: fixed header, and
 *  the msgpack form kept for comparison.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <endian.h>
#include <msgpack.h>
#include <string.h>

#include "colo_envelope.h"

static inline void
s_put_le16 (uint8_t *p, uint16_t v)
{
    v = htole16 (v);
    memcpy (p, &v, 2);
}
static inline void
s_put_le32 (uint8_t *p, uint32_t v)
{
    v = htole32 (v);
    memcpy (p, &v, 4);
}
static inline void
s_put_le64 (uint8_t *p, uint64_t v)
{
    v = htole64 (v);
    memcpy (p, &v, 8);
}
static inline uint16_t
s_get_le16 (const uint8_t *p)
{
    uint16_t v;
    memcpy (&v, p, 2);
    return le16toh (v);
}
static inline uint32_t
s_get_le32 (const uint8_t *p)
{
    uint32_t v;
    memcpy (&v, p, 4);
    return le32toh (v);
}
static inline uint64_t
s_get_le64 (const uint8_t *p)
{
    uint64_t v;
    memcpy (&v, p, 8);
    return le64toh (v);
}

void
colo_envelope_encode_header (const colo_buf_t *meta, uint8_t *out)
{
    out[0] = COLO_ENVELOPE_MAGIC;
    out[1] = COLO_ENVELOPE_VERSION;
    out[2] = meta->dir;
    out[3] = meta->flags;
    s_put_le32 (out + 4, meta->instance);
    s_put_le64 (out + 8, meta->ts_ns);
    s_put_le64 (out + 16, meta->seq);
    s_put_le16 (out + 24, meta->vnet_hdr_len);
    s_put_le16 (out + 26, 0);
    s_put_le32 (out + 28, meta->len);
}

size_t
colo_envelope_encode (const colo_buf_t *buf, uint8_t *out, size_t cap)
{
    size_t need = colo_envelope_size (buf);
    if (cap < need)
        return 0;
    colo_envelope_encode_header (buf, out);
    memcpy (out + COLO_ENVELOPE_HDR_LEN, buf->data, buf->len);
    return need;
}

colo_env_result_t
colo_envelope_peek (const uint8_t *in, size_t len, size_t *record_len)
{
    if (len >= 1 && in[0] != COLO_ENVELOPE_MAGIC)
        return COLO_ENV_ERR_MAGIC;
    if (len >= 2 && in[1] != COLO_ENVELOPE_VERSION)
        return COLO_ENV_ERR_VERSION;
    if (len < COLO_ENVELOPE_HDR_LEN)
        return COLO_ENV_NEED_MORE;
    uint32_t data_len = s_get_le32 (in + 28);
    uint16_t vnet = s_get_le16 (in + 24);
    if (data_len > COLO_FRAME_MAX || vnet > COLO_VNET_HDR_MAX || vnet > data_len)
        return COLO_ENV_ERR_LENGTH;
    *record_len = COLO_ENVELOPE_HDR_LEN + (size_t) data_len;
    return len < *record_len ? COLO_ENV_NEED_MORE : COLO_ENV_OK;
}

colo_env_result_t
colo_envelope_decode (const uint8_t *in, size_t len, colo_buf_t **out,
                      size_t *consumed)
{
    size_t record_len = 0;
    colo_env_result_t rc = colo_envelope_peek (in, len, &record_len);
    if (rc != COLO_ENV_OK)
        return rc;
    size_t data_len = record_len - COLO_ENVELOPE_HDR_LEN;
    colo_buf_t *buf = colo_buf_new (data_len);
    if (!buf)
        return COLO_ENV_ERR_NOMEM;
    buf->dir = in[2];
    buf->flags = in[3];
    buf->instance = s_get_le32 (in + 4);
    buf->ts_ns = s_get_le64 (in + 8);
    buf->seq = s_get_le64 (in + 16);
    buf->vnet_hdr_len = s_get_le16 (in + 24);
    buf->len = (uint32_t) data_len;
    memcpy (buf->data, in + COLO_ENVELOPE_HDR_LEN, data_len);
    *out = buf;
    *consumed = record_len;
    return COLO_ENV_OK;
}

//  ---------------------------------------------------------------- msgpack
//  A packer writing into a caller's fixed buffer.
typedef struct {
    uint8_t *out;
    size_t cap;
    size_t len;
    int overflow;
} s_fixed_writer_t;

static int
s_fixed_write (void *data, const char *buf, size_t len)
{
    s_fixed_writer_t *w = (s_fixed_writer_t *) data;
    if (w->len + len > w->cap) {
        w->overflow = 1;
        return -1;
    }
    memcpy (w->out + w->len, buf, len);
    w->len += len;
    return 0;
}

size_t
colo_envelope_mp_encode (const colo_buf_t *buf, uint8_t *out, size_t cap)
{
    s_fixed_writer_t w = {out, cap, 0, 0};
    msgpack_packer pk;
    msgpack_packer_init (&pk, &w, s_fixed_write);
    msgpack_pack_array (&pk, 8);
    msgpack_pack_uint8 (&pk, COLO_ENVELOPE_VERSION);
    msgpack_pack_uint8 (&pk, buf->dir);
    msgpack_pack_uint8 (&pk, buf->flags);
    msgpack_pack_uint32 (&pk, buf->instance);
    msgpack_pack_uint64 (&pk, buf->ts_ns);
    msgpack_pack_uint64 (&pk, buf->seq);
    msgpack_pack_uint16 (&pk, buf->vnet_hdr_len);
    msgpack_pack_bin (&pk, buf->len);
    msgpack_pack_bin_body (&pk, buf->data, buf->len);
    return w.overflow ? 0 : w.len;
}

static int
s_mp_uint (const msgpack_object *o, uint64_t max, uint64_t *v)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > max)
        return -1;
    *v = o->via.u64;
    return 0;
}

//  msgpack-c reserves memory for a container from its header before the
//  elements arrive, so a few hostile bytes can make it ask for gigabytes.
//  Check the exact shape first: a fixarray of 8, seven unsigned integers, a
//  bin no longer than what is left.  Returns COLO_ENV_OK, NEED_MORE, or an
//  error.
static colo_env_result_t
s_mp_shape_ok (const uint8_t *in, size_t len)
{
    if (len < 1)
        return COLO_ENV_NEED_MORE;
    if (in[0] != 0x98)
        return COLO_ENV_ERR_MAGIC;
    size_t off = 1;
    for (int i = 0; i < 7; i++) {
        if (off >= len)
            return COLO_ENV_NEED_MORE;
        uint8_t tag = in[off];
        size_t width = tag <= 0x7f ? 0 : tag == 0xcc ? 1 : tag == 0xcd ? 2
                       : tag == 0xce ? 4 : tag == 0xcf ? 8 : 99;
        if (width == 99)
            return COLO_ENV_ERR_MAGIC;
        off += 1 + width;
    }
    if (off >= len)
        return COLO_ENV_NEED_MORE;
    uint8_t tag = in[off];
    size_t width = tag == 0xc4 ? 1 : tag == 0xc5 ? 2 : tag == 0xc6 ? 4 : 0;
    if (!width)
        return COLO_ENV_ERR_MAGIC;
    if (off + 1 + width > len)
        return COLO_ENV_NEED_MORE;
    size_t bin = 0;
    for (size_t i = 0; i < width; i++)
        bin = bin << 8 | in[off + 1 + i];
    if (bin > COLO_FRAME_MAX)
        return COLO_ENV_ERR_LENGTH;
    return off + 1 + width + bin > len ? COLO_ENV_NEED_MORE : COLO_ENV_OK;
}

colo_env_result_t
colo_envelope_mp_decode (const uint8_t *in, size_t len, colo_buf_t **out,
                         size_t *consumed)
{
    colo_env_result_t shape = s_mp_shape_ok (in, len);
    if (shape != COLO_ENV_OK)
        return shape;
    //  One zone per thread, cleared after each record: msgpack at its best,
    //  so the comparison in bench/envelope is fair to it.
    static _Thread_local msgpack_zone *zone;
    if (!zone && !(zone = msgpack_zone_new (MSGPACK_ZONE_CHUNK_SIZE)))
        return COLO_ENV_ERR_NOMEM;
    msgpack_object obj;
    size_t off = 0;
    msgpack_unpack_return ret
        = msgpack_unpack ((const char *) in, len, &off, zone, &obj);
    colo_env_result_t rc = COLO_ENV_ERR_MAGIC;
    if (ret == MSGPACK_UNPACK_CONTINUE)
        rc = COLO_ENV_NEED_MORE;
    else if (ret == MSGPACK_UNPACK_NOMEM_ERROR)
        rc = COLO_ENV_ERR_NOMEM;
    else if (ret == MSGPACK_UNPACK_SUCCESS || ret == MSGPACK_UNPACK_EXTRA_BYTES) {
        const msgpack_object *o = &obj;
        uint64_t f[7];
        if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 8)
            rc = COLO_ENV_ERR_MAGIC;
        else if (s_mp_uint (&o->via.array.ptr[0], 255, &f[0]) != 0
                 || f[0] != COLO_ENVELOPE_VERSION)
            rc = COLO_ENV_ERR_VERSION;
        else if (s_mp_uint (&o->via.array.ptr[1], 255, &f[1]) != 0
                 || s_mp_uint (&o->via.array.ptr[2], 255, &f[2]) != 0
                 || s_mp_uint (&o->via.array.ptr[3], UINT32_MAX, &f[3]) != 0
                 || s_mp_uint (&o->via.array.ptr[4], UINT64_MAX, &f[4]) != 0
                 || s_mp_uint (&o->via.array.ptr[5], UINT64_MAX, &f[5]) != 0
                 || s_mp_uint (&o->via.array.ptr[6], COLO_VNET_HDR_MAX, &f[6]) != 0
                 || o->via.array.ptr[7].type != MSGPACK_OBJECT_BIN)
            rc = COLO_ENV_ERR_MAGIC;
        else {
            const msgpack_object_bin *bin = &o->via.array.ptr[7].via.bin;
            if (bin->size > COLO_FRAME_MAX || f[6] > bin->size)
                rc = COLO_ENV_ERR_LENGTH;
            else {
                colo_buf_t *buf = colo_buf_new_copy (bin->ptr, bin->size);
                if (!buf)
                    rc = COLO_ENV_ERR_NOMEM;
                else {
                    buf->dir = (uint8_t) f[1];
                    buf->flags = (uint8_t) f[2];
                    buf->instance = (uint32_t) f[3];
                    buf->ts_ns = f[4];
                    buf->seq = f[5];
                    buf->vnet_hdr_len = (uint16_t) f[6];
                    *out = buf;
                    *consumed = off;
                    rc = COLO_ENV_OK;
                }
            }
        }
    }
    msgpack_zone_clear (zone);
    return rc;
}

const char *
colo_envelope_result_name (colo_env_result_t code)
{
    switch (code) {
        case COLO_ENV_OK:
            return "ok";
        case COLO_ENV_NEED_MORE:
            return "need_more";
        case COLO_ENV_ERR_MAGIC:
            return "bad_magic";
        case COLO_ENV_ERR_VERSION:
            return "bad_version";
        case COLO_ENV_ERR_LENGTH:
            return "bad_length";
        case COLO_ENV_ERR_NOMEM:
            return "no_memory";
    }
    return "unknown";
}
