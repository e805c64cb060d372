/*  colo_framing.c - QEMU chardev framing codec (length, optional vnet_hdr_len, data).
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  The decoder keeps only the header bytes it has seen so far; as soon as
 *  the length is known it allocates the frame's colo_buf_t and copies data
 *  straight into it.  When a whole frame lies inside the fed bytes, that is
 *  one allocation and one memcpy.
 */
#include <stdlib.h>
#include <string.h>

#include "colo_framing.h"
#include "colo_log.h"

const char *const colo_framing_counter_names[COLO_FRAMING_COUNTER_COUNT] = {
    "frames", "bytes", "empty", "oversize", "bad_vnet", "partial_discarded",
};

struct colo_framing {
    int vnet;                 //  the vnet_hdr_len field is on the wire
    uint32_t hdr_size;        //  4, or 8 with vnet
    uint32_t hdr_have;        //  header bytes held in hdr[]
    uint8_t hdr[COLO_FRAMING_HDR_MAX];
    colo_buf_t *cur;          //  frame being filled, or NULL
    uint32_t have;            //  data bytes of cur filled so far
    uint32_t last_len;        //  last header seen, for error messages
    uint32_t last_vnet;
    uint64_t counters[COLO_FRAMING_COUNTER_COUNT];
};

colo_framing_t *
colo_framing_new (int vnet)
{
    colo_framing_t *self = (colo_framing_t *) calloc (1, sizeof (colo_framing_t));
    if (!self)
        return NULL;
    self->vnet = vnet ? 1 : 0;
    self->hdr_size = (uint32_t) colo_framing_header_len (vnet);
    return self;
}

void
colo_framing_destroy (colo_framing_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    colo_buf_destroy (&(*self_p)->cur);
    free (*self_p);
    *self_p = NULL;
}

void
colo_framing_reset (colo_framing_t *self)
{
    if (colo_framing_in_frame (self))
        self->counters[COLO_FRAMING_PARTIAL_DISCARDED]++;
    colo_buf_destroy (&self->cur);
    self->have = 0;
    self->hdr_have = 0;
}

int
colo_framing_in_frame (const colo_framing_t *self)
{
    return self->cur != NULL || self->hdr_have > 0;
}

//  Drop header state after a malformed header; not a partial frame.
static colo_framing_result_t
s_fail (colo_framing_t *self, colo_framing_result_t rc)
{
    colo_buf_destroy (&self->cur);
    self->have = 0;
    self->hdr_have = 0;
    return rc;
}

static colo_framing_result_t
s_check_len (colo_framing_t *self, uint32_t len)
{
    self->last_len = len;
    self->last_vnet = 0;
    if (len > COLO_FRAME_MAX) {
        self->counters[COLO_FRAMING_OVERSIZE]++;
        return s_fail (self, COLO_FRAMING_ERR_OVERSIZE);
    }
    return COLO_FRAMING_NEED_MORE;
}

//  A complete header is at hdr: validate it and start the frame.  Empty
//  frames are counted and leave the decoder between frames.
static colo_framing_result_t
s_start_frame (colo_framing_t *self, const uint8_t *hdr)
{
    uint32_t len = colo_get_be32 (hdr);
    if (s_check_len (self, len) != COLO_FRAMING_NEED_MORE)
        return COLO_FRAMING_ERR_OVERSIZE;
    uint32_t vnet_hdr_len = 0;
    if (self->vnet) {
        vnet_hdr_len = colo_get_be32 (hdr + 4);
        self->last_vnet = vnet_hdr_len;
        if (vnet_hdr_len > COLO_VNET_HDR_MAX || vnet_hdr_len > len) {
            self->counters[COLO_FRAMING_BAD_VNET]++;
            return s_fail (self, COLO_FRAMING_ERR_VNET);
        }
    }
    self->hdr_have = 0;
    if (len == 0) {
        self->counters[COLO_FRAMING_EMPTY]++;
        return COLO_FRAMING_NEED_MORE;
    }
    self->cur = colo_buf_new (len);
    if (!self->cur)
        return s_fail (self, COLO_FRAMING_ERR_NOMEM);
    self->cur->len = len;
    self->cur->vnet_hdr_len = (uint16_t) vnet_hdr_len;
    self->have = 0;
    return COLO_FRAMING_NEED_MORE;
}

//  A whole valid frame (header included) at data[0..len), for a header of
//  hdr_size bytes (vnet: with the vnet_hdr_len field): its len and
//  vnet_hdr_len.  0 for anything else, errors included, which the general
//  path handles.
static inline int
s_whole_at (const uint8_t *data, size_t len, size_t hdr_size, int vnet, uint32_t *flen_p,
            uint32_t *vlen_p)
{
    if (len < hdr_size)
        return 0;
    uint32_t flen = colo_get_be32 (data);
    uint32_t vlen = vnet ? colo_get_be32 (data + 4) : 0;
    if (flen == 0 || flen > COLO_FRAME_MAX || vlen > COLO_VNET_HDR_MAX || vlen > flen
        || len - hdr_size < flen)
        return 0;
    *flen_p = flen;
    *vlen_p = vlen;
    return 1;
}

//  The fast path: between frames, with a whole valid frame at data, the
//  usual case for a large read: the frame in one pass (the caller counts
//  it; its size is hdr_size + its len).
static inline int
s_whole_header (const colo_framing_t *self, const uint8_t *data, size_t len, uint32_t *flen_p,
                uint32_t *vlen_p)
{
    return !self->cur && self->hdr_have == 0
           && s_whole_at (data, len, self->hdr_size, self->vnet, flen_p, vlen_p);
}

static inline colo_buf_t *
s_whole_frame (colo_framing_t *self, const uint8_t *data, size_t len, uint64_t now_ns)
{
    size_t hdr_size = self->hdr_size;
    uint32_t flen, vlen;
    if (!s_whole_header (self, data, len, &flen, &vlen))
        return NULL;
    colo_buf_t *buf = colo_buf_new (flen);
    if (!buf)
        return NULL;
    memcpy (buf->data, data + hdr_size, flen);
    buf->len = flen;
    buf->vnet_hdr_len = (uint16_t) vlen;
    buf->ts_ns = now_ns;
    buf->dir = COLO_DIR_NONE;
    self->last_len = flen;
    self->last_vnet = vlen;
    return buf;
}

colo_framing_result_t
colo_framing_feed_at (colo_framing_t *self, const uint8_t *data, size_t len,
                      size_t *consumed, colo_buf_t **out, uint64_t now_ns)
{
    colo_buf_t *whole = s_whole_frame (self, data, len, now_ns);
    if (whole) {
        self->counters[COLO_FRAMING_FRAMES]++;
        self->counters[COLO_FRAMING_BYTES] += whole->len;
        *consumed = self->hdr_size + whole->len;
        *out = whole;
        return COLO_FRAMING_FRAME;
    }
    size_t pos = 0;
    colo_framing_result_t rc = COLO_FRAMING_NEED_MORE;
    *out = NULL;
    while (pos < len) {
        if (!self->cur) {
            const uint8_t *hdr;
            if (self->hdr_have == 0 && len - pos >= self->hdr_size) {
                hdr = data + pos;   //  fast path: the header is all here
                pos += self->hdr_size;
            }
            else {
                size_t take = self->hdr_size - self->hdr_have;
                if (take > len - pos)
                    take = len - pos;
                uint32_t before = self->hdr_have;
                memcpy (self->hdr + self->hdr_have, data + pos, take);
                self->hdr_have += (uint32_t) take;
                pos += take;
                //  Refuse an impossible length before waiting for the rest.
                if (before < 4 && self->hdr_have >= 4
                    && (rc = s_check_len (self, colo_get_be32 (self->hdr))) < 0)
                    break;
                if (self->hdr_have < self->hdr_size)
                    continue;
                hdr = self->hdr;
            }
            if ((rc = s_start_frame (self, hdr)) < 0)
                break;
            continue;
        }
        colo_buf_t *buf = self->cur;
        size_t take = buf->len - self->have;
        if (take > len - pos)
            take = len - pos;
        memcpy (buf->data + self->have, data + pos, take);
        self->have += (uint32_t) take;
        pos += take;
        if (self->have == buf->len) {
            buf->ts_ns = now_ns;
            buf->dir = COLO_DIR_NONE;
            self->counters[COLO_FRAMING_FRAMES]++;
            self->counters[COLO_FRAMING_BYTES] += buf->len;
            self->cur = NULL;
            self->have = 0;
            *out = buf;
            rc = COLO_FRAMING_FRAME;
            break;
        }
    }
    *consumed = pos;
    return rc;
}

int
colo_framing_feed_many (colo_framing_t *self, const uint8_t *data, size_t len,
                        size_t *consumed, colo_buf_t **out, int max, uint64_t now_ns,
                        colo_framing_result_t *rc)
{
    size_t pos = 0;
    uint64_t frames = 0, bytes = 0;
    int n = 0;
    *rc = COLO_FRAMING_FRAME;
    while (n < max) {
        //  Whole valid frames, with the counters kept in registers.
        colo_buf_t *whole = s_whole_frame (self, data + pos, len - pos, now_ns);
        if (whole) {
            frames++;
            bytes += whole->len;
            pos += self->hdr_size + whole->len;
            out[n++] = whole;
            continue;
        }
        if (pos == len) {
            *rc = COLO_FRAMING_NEED_MORE;
            break;
        }
        //  Anything else (a frame split across reads, an empty frame, an
        //  error, no memory) takes the general path, one frame at a time.
        size_t used = 0;
        colo_buf_t *buf = NULL;
        colo_framing_result_t r
            = colo_framing_feed_at (self, data + pos, len - pos, &used, &buf, now_ns);
        pos += used;
        if (r == COLO_FRAMING_FRAME) {
            out[n++] = buf;
            continue;
        }
        *rc = r;   //  NEED_MORE (every byte used) or an error
        break;
    }
    self->counters[COLO_FRAMING_FRAMES] += frames;
    self->counters[COLO_FRAMING_BYTES] += bytes;
    *consumed = pos;
    return n;
}

//  The views loop of colo_framing_views_in, for a header of hdr_size bytes
//  (vnet: with the vnet_hdr_len field), inlined with both constant: the
//  frames at data[0..len), up to max into out; *pos_p the bytes they
//  cover, *bytes_p their lengths' sum, *fl_p and *vl_p the last header.
static inline __attribute__ ((always_inline)) int
s_views (const uint8_t *data, size_t len, size_t hdr_size, int vnet, colo_frame_view_t *out,
         int max, uint64_t now_ns, colo_buf_slab_t *slab, size_t *pos_p, uint64_t *bytes_p,
         uint32_t *fl_p, uint32_t *vl_p)
{
    const uint8_t *p = data, *end = data + len;
    colo_frame_view_t *o = out, *o_end = out + max;
    uint64_t bytes = 0;
    uint32_t fl = 0, vl = 0;   //  s_whole_at sets them only for a frame it takes
    while (o < o_end && s_whole_at (p, (size_t) (end - p), hdr_size, vnet, &fl, &vl)) {
        o->data = p + hdr_size;
        o->len = fl;
        o->vnet_hdr_len = (uint16_t) vl;
        o->ts_ns = now_ns;
        o->slab = slab;
        o++;
        bytes += fl;
        p += hdr_size + fl;
    }
    *pos_p = (size_t) (p - data);
    *bytes_p = bytes;
    *fl_p = fl;
    *vl_p = vl;
    return (int) (o - out);
}

int
colo_framing_views_in (colo_framing_t *self, const uint8_t *data, size_t len, size_t *consumed,
                       colo_frame_view_t *out, int max, uint64_t now_ns, colo_buf_slab_t *slab,
                       uint64_t *bytes_p)
{
    size_t pos = 0;
    uint64_t bytes = 0;
    int n = 0;
    //  Between frames only (a frame begun by a feed is finished by one).
    if (!self->cur && self->hdr_have == 0 && max > 0) {
        uint32_t fl, vl;
        if (self->vnet)
            n = s_views (data, len, colo_framing_header_len (1), 1, out, max, now_ns, slab, &pos,
                         &bytes, &fl, &vl);
        else
            n = s_views (data, len, colo_framing_header_len (0), 0, out, max, now_ns, slab, &pos,
                         &bytes, &fl, &vl);
        if (n > 0) {
            self->last_len = fl;
            self->last_vnet = vl;
        }
    }
    self->counters[COLO_FRAMING_FRAMES] += (uint64_t) n;
    self->counters[COLO_FRAMING_BYTES] += bytes;
    *consumed = pos;
    if (bytes_p)
        *bytes_p = bytes;
    return n;
}

int
colo_framing_views (colo_framing_t *self, const uint8_t *data, size_t len, size_t *consumed,
                    colo_frame_view_t *out, int max, uint64_t now_ns)
{
    return colo_framing_views_in (self, data, len, consumed, out, max, now_ns, NULL, NULL);
}

colo_framing_result_t
colo_framing_feed (colo_framing_t *self, const uint8_t *data, size_t len,
                   size_t *consumed, colo_buf_t **out)
{
    colo_framing_result_t rc = colo_framing_feed_at (self, data, len, consumed, out, 0);
    if (rc == COLO_FRAMING_FRAME)
        (*out)->ts_ns = colo_clock_real_ns ();
    return rc;
}

const uint64_t *
colo_framing_counters (const colo_framing_t *self)
{
    return self->counters;
}

void
colo_framing_last_header (const colo_framing_t *self, uint32_t *len,
                          uint32_t *vnet_hdr_len)
{
    if (len)
        *len = self->last_len;
    if (vnet_hdr_len)
        *vnet_hdr_len = self->last_vnet;
}

size_t
colo_framing_encode_header (uint8_t *hdr, uint32_t len, int vnet,
                            uint32_t vnet_hdr_len)
{
    colo_put_be32 (hdr, len);
    if (vnet)
        colo_put_be32 (hdr + 4, vnet_hdr_len);
    return colo_framing_header_len (vnet);
}
