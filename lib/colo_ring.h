/*  colo_ring.h - single-producer single-consumer frame ring in POSIX shared memory.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  The ring is a named shm object (/dev/shm/colonet-NAME) holding a header and
 *  a byte ring of envelope records (colo_envelope.h), each 8-byte aligned and
 *  contiguous (a pad record fills the end before a wrap).  Producer and
 *  consumer publish their positions with release stores; a record is visible
 *  only once complete, so either side may die and re-attach at any moment
 *  without corrupting the ring or losing records already enqueued.  Each role
 *  is held by at most one process at a time (an OFD lock on the shm object).
 *
 *  Doorbells: a consumer that finds the ring empty sets a "sleeping" flag and
 *  waits on its fd; the producer writes to that fd (a FIFO beside the shm
 *  object) only when the flag is set, so a busy ring costs no syscalls.  The
 *  same scheme wakes a producer waiting for space.
 *
 *  Layout (version 1; integers in the host's byte order, the ring never
 *  leaves the host):
 *    0     u64 magic (COLO_RING_MAGIC)   8  u32 version   12 u32 header size
 *    16    u64 data size (power of two)
 *    128   u64 tail: producer position (bytes ever written, 8-aligned)
 *    256   u64 head: consumer position (bytes ever consumed, 8-aligned)
 *    384   u32 consumer_sleeping         512 u32 producer_waiting
 *    4096  data area; byte position P lives at offset P & (size - 1)
 *  A record is an envelope record (colo_envelope.h) padded to 8 bytes; when
 *  it does not fit before the end of the data area, the 8-byte pad marker
 *  COLO_RING_PAD_MARK is written there and the record starts at offset 0.
 *  Files: /dev/shm/colonet-NAME (shm_open "/colonet-NAME"), and the FIFOs
 *  /dev/shm/colonet-NAME.cbell (wakes the consumer) and .pbell (producer).
 *  Roles: an OFD write lock on byte 1 (producer) or 2 (consumer) of the shm
 *  object, held while attached; a process's death releases it.
 *
 *  Delivery: a frame whose enqueue returned is in the ring and is delivered
 *  exactly once unless the consumer dies between taking it and returning
 *  from dequeue (the position is published at the end of each dequeue call),
 *  in which case the next consumer gets that burst again.  Ports are not
 *  shared across fork(): open the ring after forking (a forked child shares
 *  the parent's role lock).
 */
#ifndef COLO_RING_H_INCLUDED
#define COLO_RING_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "colo_buf.h"

#define COLO_RING_DEFAULT_SIZE (8u << 20)
//  A record of the largest frame must always fit, even after a pad: the
//  data area holds at least two of them (2 * (32 + COLO_FRAME_MAX) < 256 KiB).
#define COLO_RING_MIN_SIZE (256u << 10)
#define COLO_RING_MAX_SIZE (1u << 30)
#define COLO_RING_HEADER_SIZE 4096
#define COLO_RING_MAGIC 0x474e49524f4c4f43ull  //  "COLORING" on little-endian
#define COLO_RING_VERSION 1
#define COLO_RING_PAD_MARK 0x444150474e4952f0ull  //  first byte is not 0xC0

typedef enum {
    COLO_RING_CORRUPT_POSITION,  //  the peer published an impossible position
    COLO_RING_CORRUPT_RECORD,    //  a bad record; skipped to the published tail
    COLO_RING_INVALID_FRAME,     //  producer: a buffer that cannot be encoded
    COLO_RING_NOMEM,             //  consumer: no memory for a buffer (retried)
    COLO_RING_WAITS,             //  times this side found the ring empty/full
    COLO_RING_BELLS_RUNG,        //  doorbell bytes written to the peer
    COLO_RING_BELL_ERRORS,       //  doorbell writes that failed
    COLO_RING_COUNTER_COUNT
} colo_ring_counter_t;

extern const char *const colo_ring_counter_names[COLO_RING_COUNTER_COUNT];

typedef enum { COLO_RING_PRODUCER = 1, COLO_RING_CONSUMER = 2 } colo_ring_role_t;

typedef struct colo_ring colo_ring_t;

//  Attach to the ring NAME ([A-Za-z0-9._-], at most 200 characters) in the
//  given role, creating it with a data area of size bytes (a power of two
//  from COLO_RING_MIN_SIZE to COLO_RING_MAX_SIZE; 0 = COLO_RING_DEFAULT_SIZE)
//  if it does not exist.  An existing
//  ring keeps its size.  Returns NULL (and logs why) if the name is invalid,
//  the role is held by a live process, or the object is not a colonet ring.
colo_ring_t *colo_ring_open (const char *name, colo_ring_role_t role, size_t size);

//  Detach (the ring and its contents stay for the next attach).
void colo_ring_destroy (colo_ring_t **self_p);

//  Remove the named ring and its doorbells; 0, or -1 if the name is invalid
//  or there was no such shm object.  Attached processes keep their mapping.
int colo_ring_unlink (const char *name);

//  Producer: copy up to n frames into the ring in order.  Returns how many
//  were taken (the caller still owns every buffer).  When it returns < n
//  the ring is full; wait for colo_ring_fd to become readable, then retry.
//  A buffer that cannot be encoded (NULL, len > COLO_FRAME_MAX, bad
//  vnet_hdr_len) is counted as taken but not written (COLO_RING_INVALID_FRAME).
//  Returns -1 if self is not the producer.
int colo_ring_enqueue (colo_ring_t *self, colo_buf_t *const *bufs, int n);

//  Consumer: take up to max frames, in order, as new buffers (caller owns).
//  Returns the count; fewer than max means the ring is empty now: wait for
//  colo_ring_fd, then retry.  Returns -1 if self is not the consumer.
int colo_ring_dequeue (colo_ring_t *self, colo_buf_t **bufs, int max);

//  Pollable fd: readable when the other side rang the doorbell.  Reading
//  the doorbell bytes is done by enqueue/dequeue themselves.
int colo_ring_fd (colo_ring_t *self);

//  Drain a doorbell byte left over from a wait that already ended, so the
//  fd does not stay readable; does nothing while a wait is armed.  Ports call
//  it on housekeeping turns.
void colo_ring_housekeep (colo_ring_t *self);

//  Bytes of records waiting, and the data area size.
size_t colo_ring_used (colo_ring_t *self);
size_t colo_ring_size (colo_ring_t *self);

//  1 if the other role is currently attached (its lock is held).
int colo_ring_peer_attached (colo_ring_t *self);

//  COLO_RING_COUNTER_COUNT counters of this attachment (borrowed; live).
const uint64_t *colo_ring_counters (colo_ring_t *self);

#endif
