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
 */
#ifndef COLO_RING_H_INCLUDED
#define COLO_RING_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "colo_buf.h"

#define COLO_RING_DEFAULT_SIZE (8u << 20)

typedef enum { COLO_RING_PRODUCER = 1, COLO_RING_CONSUMER = 2 } colo_ring_role_t;

typedef struct colo_ring colo_ring_t;

//  Attach to the ring NAME ([A-Za-z0-9._-], at most 200 characters) in the
//  given role, creating it with a data area of size bytes (a power of two,
//  >= 64 KiB; 0 = COLO_RING_DEFAULT_SIZE) if it does not exist.  An existing
//  ring keeps its size.  Returns NULL (and logs why) if the name is invalid,
//  the role is held by a live process, or the object is not a colonet ring.
colo_ring_t *colo_ring_open (const char *name, colo_ring_role_t role, size_t size);

//  Detach (the ring and its contents stay for the next attach).
void colo_ring_destroy (colo_ring_t **self_p);

//  Remove the named ring and its doorbells; 0 or -1.
int colo_ring_unlink (const char *name);

//  Producer: copy up to n frames into the ring in order.  Returns how many
//  were copied (the caller still owns every buffer).  When it returns < n
//  the ring is full; wait for colo_ring_fd to become readable, then retry.
int colo_ring_enqueue (colo_ring_t *self, colo_buf_t *const *bufs, int n);

//  Consumer: take up to max frames, in order, as new buffers (caller owns).
//  Returns the count; 0 means empty: wait for colo_ring_fd, then retry.
int colo_ring_dequeue (colo_ring_t *self, colo_buf_t **bufs, int max);

//  Pollable fd: readable when the other side rang the doorbell.  Reading
//  the doorbell bytes is done by enqueue/dequeue themselves.
int colo_ring_fd (colo_ring_t *self);

//  Bytes of records waiting, and the data area size.
size_t colo_ring_used (colo_ring_t *self);
size_t colo_ring_size (colo_ring_t *self);

//  1 if the other role is currently attached (its lock is held).
int colo_ring_peer_attached (colo_ring_t *self);

#endif
