/*  colo_buf.h - one frame in flight, with the envelope fields that travel with it.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  A colo_buf_t is usually a single allocation: the metadata followed by
 *  `cap` bytes of data.  Or its data lie in a slab, a block of bytes that
 *  several buffers share (frames read in one read() stay where the kernel
 *  put them): the buffer holds a reference, and the slab is freed with the
 *  last one.  Either way data[0..vnet_hdr_len) is the virtio-net header
 *  (if any), then the Ethernet frame without FCS.  Ports hand out and take
 *  buffers by pointer; whoever holds the pointer owns the buffer.
 */
#ifndef COLO_BUF_H_INCLUDED
#define COLO_BUF_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <string.h>

//  Largest data length of one frame: QEMU's NET_BUFSIZE (4096 + 65536).
#define COLO_FRAME_MAX 69632
//  Largest virtio-net header (struct virtio_net_hdr_v1_hash).
#define COLO_VNET_HDR_MAX 20

typedef enum {
    COLO_DIR_NONE = 0,
    COLO_DIR_TO_GUEST = 1,        //  client -> guest (mirrored input)
    COLO_DIR_FROM_PRIMARY = 2,    //  primary guest egress
    COLO_DIR_FROM_SECONDARY = 3,  //  secondary guest egress
    COLO_DIR_RELEASED = 4         //  compare output toward the client
} colo_dir_t;

typedef struct {
    uint64_t ts_ns;           //  arrival in colonet (CLOCK_REALTIME ns)
    uint64_t seq;             //  sequence number given by the sending port
    uint32_t instance;        //  instance id (see colo_instance_id)
    uint8_t dir;              //  colo_dir_t
    uint8_t flags;
    uint16_t vnet_hdr_len;    //  <= COLO_VNET_HDR_MAX and <= len
    uint32_t len;             //  bytes of data in use
    uint32_t cap;             //  bytes data may hold
    uint8_t *data;            //  storage, or a slab's bytes
    struct colo_buf_slab *slab;   //  the slab data lies in (a reference), or NULL
    uint8_t storage[];
} colo_buf_t;

//  A block of frame bytes shared by the buffers made in it, freed when its
//  owner and the last of them let go.  References are atomic: buffers may
//  be freed by any thread.
typedef struct colo_buf_slab colo_buf_slab_t;

//  New slab of size bytes, held by the caller (its owner); NULL if no memory.
colo_buf_slab_t *colo_buf_slab_new (size_t size);
//  Its bytes and size.
uint8_t *colo_buf_slab_data (colo_buf_slab_t *slab);
size_t colo_buf_slab_size (const colo_buf_slab_t *slab);
//  1 while buffers made in the slab are alive (the owner must not write
//  over their bytes), else 0.
int colo_buf_slab_shared (const colo_buf_slab_t *slab);
//  The owner lets go; NULL-safe, sets *slab_p to NULL.  The slab is freed
//  now, or with the last buffer made in it.
void colo_buf_slab_release (colo_buf_slab_t **slab_p);

//  New buffer whose data are the len bytes at data, inside slab (not
//  copied; len <= COLO_FRAME_MAX): it holds a reference to the slab until
//  destroyed.  cap = len.  NULL if no memory.
colo_buf_t *colo_buf_new_in (colo_buf_slab_t *slab, const uint8_t *data, size_t len);

//  A frame someone else holds (see colo_port_recv_views): the bytes a
//  colo_buf_t's data would hold (vnet_hdr_len bytes of virtio-net header,
//  then the Ethernet frame), for as long as the holder says.  When slab is
//  set the bytes lie in it, and a keeper may make a buffer in it
//  (colo_buf_new_in) rather than copy them: the slab then stays.
typedef struct {
    const uint8_t *data;
    uint32_t len;
    uint16_t vnet_hdr_len;
    uint64_t ts_ns;           //  arrival (CLOCK_REALTIME ns)
    colo_buf_slab_t *slab;    //  the slab data lie in (the holder's), or NULL
} colo_frame_view_t;

//  colo_buf_new_in for each of n views whose bytes lie in slab, into
//  out[0..), with their vnet_hdr_len and ts_ns: the references are taken
//  at once.  Returns how many were made, fewer than n only if memory ran
//  out (or a view is longer than COLO_FRAME_MAX).
int colo_buf_new_in_views (colo_buf_slab_t *slab, const colo_frame_view_t *views, int n,
                           colo_buf_t **out);

//  New buffer with room for cap bytes, len = 0, metadata zeroed.  NULL if cap
//  exceeds COLO_FRAME_MAX or memory is exhausted.
colo_buf_t *colo_buf_new (size_t cap);

//  New buffer holding a copy of len bytes at data (len <= COLO_FRAME_MAX).
colo_buf_t *colo_buf_new_copy (const void *data, size_t len);

//  A copy of buf, metadata included.
colo_buf_t *colo_buf_dup (const colo_buf_t *buf);

//  Free the buffer and set *self_p to NULL; NULL-safe and idempotent.
void colo_buf_destroy (colo_buf_t **self_p);

//  Free the first n buffers of an array (entries may be NULL) and NULL them;
//  the slab references of a run of buffers made in one slab go at once.
void colo_buf_destroy_array (colo_buf_t **bufs, int n);

//  The Ethernet frame inside the buffer (after the vnet header).
static inline uint8_t *
colo_buf_frame (colo_buf_t *buf)
{
    return buf->data + buf->vnet_hdr_len;
}
static inline size_t
colo_buf_frame_len (const colo_buf_t *buf)
{
    return buf->len - buf->vnet_hdr_len;
}

//  A FIFO of buffers: a ring of pointers that doubles when full (cap is 0
//  or a power of two).  Zeroed is empty; colo_bufq_destroy frees it.
typedef struct {
    colo_buf_t **items;
    size_t cap;
    size_t head;
    size_t count;
} colo_bufq_t;

//  Double the ring (64 slots at first), keeping the order; -1 if no memory
//  (the ring is as it was).
int colo_bufq_grow (colo_bufq_t *self);

//  Destroy the buffers still queued and free the ring; empty after.
void colo_bufq_destroy (colo_bufq_t *self);

//  Append buf (growing the ring when full); -1 if no memory (not queued).
static inline int
colo_bufq_push (colo_bufq_t *self, colo_buf_t *buf)
{
    if (self->count == self->cap && colo_bufq_grow (self) != 0)
        return -1;
    self->items[(self->head + self->count) & (self->cap - 1)] = buf;
    self->count++;
    return 0;
}

//  The i-th queued buffer (i < count), the oldest being 0.
static inline colo_buf_t *
colo_bufq_at (const colo_bufq_t *self, size_t i)
{
    return self->items[(self->head + i) & (self->cap - 1)];
}

//  Forget the n oldest (n <= count; the caller took them).
static inline void
colo_bufq_skip (colo_bufq_t *self, size_t n)
{
    self->head = (self->head + n) & (self->cap - 1);
    self->count -= n;
}

//  The oldest, up to max, in order, at *span: in the ring itself, or
//  (where the ring wraps) copied to scratch (room for max).  Still the
//  ring's: the caller may NULL the slots of those it takes, then skips
//  them.  Returns how many.
static inline size_t
colo_bufq_peek (colo_bufq_t *self, colo_buf_t ***span, colo_buf_t **scratch, size_t max)
{
    size_t n = self->count < max ? self->count : max;
    if (self->head + n <= self->cap) {
        *span = self->items + self->head;   //  in one piece
        return n;
    }
    //  Across the wrap: one array for one write, not two.
    size_t first = self->cap - self->head;
    memcpy (scratch, self->items + self->head, first * sizeof *scratch);
    memcpy (scratch + first, self->items, (n - first) * sizeof *scratch);
    *span = scratch;
    return n;
}

//  Take the oldest, or NULL when empty.
static inline colo_buf_t *
colo_bufq_pop (colo_bufq_t *self)
{
    if (self->count == 0)
        return NULL;
    colo_buf_t *buf = self->items[self->head];
    colo_bufq_skip (self, 1);
    return buf;
}

//  Stable 32-bit instance id for a name (FNV-1a); 0 for NULL.
uint32_t colo_instance_id (const char *name);

#endif
