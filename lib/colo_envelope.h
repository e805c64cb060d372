/*  colo_envelope.h - the envelope that carries a frame between colonet services.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  One record = a fixed 32-byte header (little-endian) then `len` data bytes:
 *
 *    0  u8  magic (0xC0)        1  u8  version (COLO_ENVELOPE_VERSION)
 *    2  u8  dir (colo_dir_t)    3  u8  flags
 *    4  u32 instance            8  u64 ts_ns
 *    16 u64 seq                 24 u16 vnet_hdr_len   26 u16 reserved (0)
 *    28 u32 len
 *
 *  A message on a ZeroMQ pipe and a record in a shm ring both carry records
 *  in this form; several records may follow each other in one message.  A
 *  msgpack encoding of the same fields is kept beside it only so that
 *  bench/envelope can compare the two (see docs/envelope.md for the choice).
 */
#ifndef COLO_ENVELOPE_H_INCLUDED
#define COLO_ENVELOPE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "colo_buf.h"

#define COLO_ENVELOPE_MAGIC 0xC0
#define COLO_ENVELOPE_VERSION 1
#define COLO_ENVELOPE_HDR_LEN 32

typedef enum {
    COLO_ENV_OK = 1,              //  *out holds a frame
    COLO_ENV_NEED_MORE = 0,       //  fewer bytes than the record needs
    COLO_ENV_ERR_MAGIC = -1,
    COLO_ENV_ERR_VERSION = -2,
    COLO_ENV_ERR_LENGTH = -3,     //  len > COLO_FRAME_MAX, or vnet_hdr_len invalid
    COLO_ENV_ERR_NOMEM = -4
} colo_env_result_t;

//  Bytes the record for buf takes: COLO_ENVELOPE_HDR_LEN + buf->len.
static inline size_t
colo_envelope_size (const colo_buf_t *buf)
{
    return COLO_ENVELOPE_HDR_LEN + buf->len;
}

//  Write buf's record at out (cap bytes).  Returns the bytes written, or 0 if
//  cap is too small.
size_t colo_envelope_encode (const colo_buf_t *buf, uint8_t *out, size_t cap);

//  Write only the header for a frame of the given metadata (buf->data is not
//  read); the caller places buf->len data bytes right after it.
void colo_envelope_encode_header (const colo_buf_t *meta, uint8_t *out);

//  Check the header at in[0..len) and give the whole record size.  Returns
//  COLO_ENV_OK with *record_len set, NEED_MORE, or an error.
colo_env_result_t colo_envelope_peek (const uint8_t *in, size_t len,
                                      size_t *record_len);

//  Decode one record from in[0..len) into a new buffer *out (caller owns);
//  *consumed gets the record size.  Never reads past len.
colo_env_result_t colo_envelope_decode (const uint8_t *in, size_t len,
                                        colo_buf_t **out, size_t *consumed);

//  The same fields as a msgpack array [version, dir, flags, instance, ts_ns,
//  seq, vnet_hdr_len, bin data] (for bench/envelope only).  encode returns
//  the bytes written into out (0 if cap too small); decode behaves like
//  colo_envelope_decode.
size_t colo_envelope_mp_encode (const colo_buf_t *buf, uint8_t *out, size_t cap);
colo_env_result_t colo_envelope_mp_decode (const uint8_t *in, size_t len,
                                           colo_buf_t **out, size_t *consumed);

const char *colo_envelope_result_name (colo_env_result_t code);

#endif
