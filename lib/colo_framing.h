/*  colo_framing.h - QEMU chardev framing codec (length, optional vnet_hdr_len, data).
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Wire format (QEMU net_fill_rstate): a 4-byte big-endian data length, then
 *  (only when both ends are configured for vnet headers) a 4-byte big-endian
 *  vnet_hdr_len, then `length` bytes of data.  Data length is at most
 *  COLO_FRAME_MAX.  The decoder is streaming: bytes may arrive split in any
 *  way.  An impossible header is a malformed stream: the caller must close
 *  that connection and colo_framing_reset the decoder before the next one,
 *  so a dead peer's half frame is never spliced into a new connection.
 */
#ifndef COLO_FRAMING_H_INCLUDED
#define COLO_FRAMING_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "colo_buf.h"
#include "colo_bytes.h"

#define COLO_FRAMING_HDR_MAX 8

typedef enum {
    COLO_FRAMING_NEED_MORE = 0,   //  every byte consumed, no complete frame yet
    COLO_FRAMING_FRAME = 1,       //  *out holds a complete frame
    COLO_FRAMING_ERR_OVERSIZE = -1,   //  length > COLO_FRAME_MAX
    COLO_FRAMING_ERR_VNET = -2,   //  vnet_hdr_len > COLO_VNET_HDR_MAX or > length
    COLO_FRAMING_ERR_NOMEM = -3
} colo_framing_result_t;

typedef enum {
    COLO_FRAMING_FRAMES,          //  complete frames decoded
    COLO_FRAMING_BYTES,           //  data bytes of complete frames
    COLO_FRAMING_EMPTY,           //  zero-length frames (skipped, not returned)
    COLO_FRAMING_OVERSIZE,
    COLO_FRAMING_BAD_VNET,
    COLO_FRAMING_PARTIAL_DISCARDED,   //  half frames dropped by reset
    COLO_FRAMING_COUNTER_COUNT
} colo_framing_counter_t;

extern const char *const colo_framing_counter_names[COLO_FRAMING_COUNTER_COUNT];

typedef struct colo_framing colo_framing_t;

//  New decoder; vnet says whether the vnet_hdr_len field is on the wire.
colo_framing_t *colo_framing_new (int vnet);
void colo_framing_destroy (colo_framing_t **self_p);

//  Forget any partial frame (counted as partial_discarded if there was one).
//  Call it whenever the underlying connection changes.
void colo_framing_reset (colo_framing_t *self);

//  1 if the decoder holds part of a frame (header or data).
int colo_framing_in_frame (const colo_framing_t *self);

//  Consume bytes from data[0..len).  Stops after the first complete frame:
//  returns COLO_FRAMING_FRAME with *out (caller owns) and *consumed bytes
//  used; call again with the rest.  Returns NEED_MORE when all len bytes
//  were consumed without completing a frame, or a negative error (the
//  decoder is then reset; *consumed tells where the fault was).  Zero-length
//  frames are counted and skipped.  Returned frames carry vnet_hdr_len (0
//  without vnet) and ts_ns of the moment they completed.
colo_framing_result_t colo_framing_feed (colo_framing_t *self, const uint8_t *data,
                                         size_t len, size_t *consumed,
                                         colo_buf_t **out);

//  colo_framing_feed, but a frame that completes is stamped with now_ns
//  instead of a fresh clock read: a caller that feeds the bytes of one
//  read() passes the time of that read, so the frames it held share one
//  arrival time and the clock is read once per read, not once per frame.
colo_framing_result_t colo_framing_feed_at (colo_framing_t *self, const uint8_t *data,
                                            size_t len, size_t *consumed,
                                            colo_buf_t **out, uint64_t now_ns);

//  colo_framing_feed_at until max frames are out, all data is used, or an
//  error: frames go to out[0..n) (caller owns) and n is returned (0..max),
//  *consumed says how many bytes were used, and *rc why it stopped:
//  COLO_FRAMING_FRAME after max frames (bytes may remain), NEED_MORE when
//  every byte was used, or the error of a malformed header after the n
//  frames before it (the decoder is then reset, *consumed tells where the
//  fault was).  One call per read() instead of one per frame.
int colo_framing_feed_many (colo_framing_t *self, const uint8_t *data, size_t len,
                            size_t *consumed, colo_buf_t **out, int max, uint64_t now_ns,
                            colo_framing_result_t *rc);

//  The whole frames at the start of data, as views into data (stamped
//  now_ns), without copying: up to max of them, while the decoder is
//  between frames and the next bytes are a whole valid frame of at least
//  one byte.  Stops at anything else (a frame cut short, an empty frame, a
//  bad header), which colo_framing_feed_at then takes.  Counts the frames
//  like the feeds; *consumed is the bytes the views cover.  Returns n.
int colo_framing_views (colo_framing_t *self, const uint8_t *data, size_t len, size_t *consumed,
                        colo_frame_view_t *out, int max, uint64_t now_ns);
//  colo_framing_views, with each view's slab set to slab, and the views'
//  bytes (their len summed) in *bytes_p when bytes_p is not NULL.
int colo_framing_views_in (colo_framing_t *self, const uint8_t *data, size_t len,
                           size_t *consumed, colo_frame_view_t *out, int max, uint64_t now_ns,
                           colo_buf_slab_t *slab, uint64_t *bytes_p);

//  Counters of this decoder (COLO_FRAMING_COUNTER_COUNT values).
const uint64_t *colo_framing_counters (const colo_framing_t *self);

//  The fields of the last header the decoder parsed, including one it
//  rejected (for error messages); vnet_hdr_len is 0 without vnet or when
//  the length alone was rejected.  Either pointer may be NULL.
void colo_framing_last_header (const colo_framing_t *self, uint32_t *len,
                               uint32_t *vnet_hdr_len);

//  Write the header for a frame of len data bytes into hdr (at least
//  COLO_FRAMING_HDR_MAX bytes); returns the header size (4 or 8).
size_t colo_framing_encode_header (uint8_t *hdr, uint32_t len, int vnet,
                                   uint32_t vnet_hdr_len);

//  The size of a header: 4 bytes of length, and with vnet 4 more of the
//  virtio-net header's length.
static inline size_t
colo_framing_header_len (int vnet)
{
    return vnet ? 8 : 4;
}

//  Whether the colo_framing_header_len (vnet) bytes at p are the header
//  colo_framing_encode_header writes for this frame (a frame read with its
//  header in front keeps it there): compared in place, nothing encoded.
static inline int
colo_framing_is_header (const uint8_t *p, uint32_t len, int vnet, uint32_t vnet_hdr_len)
{
    return colo_get_be32 (p) == len
           && (!vnet || colo_get_be32 (p + 4) == vnet_hdr_len);
}

#endif
