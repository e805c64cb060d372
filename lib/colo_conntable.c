/*  colo_conntable.c - bounded connection table keyed by flow, with idle aging.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Layout, chosen so that a lookup reads two cache lines, one of the index
 *  and one of the entry, with no other load between them:
 *  - the index is an open-addressing array of 16-byte slots (linear
 *    probing), each the entry's hash and its address.  A probe compares
 *    hashes in the index line and reads an entry only when they match.
 *    Removal shifts the following slots of the run back (no tombstones),
 *    so probes do not lengthen with churn.  The index follows the entries,
 *    not the capacity: it starts at 1 MiB and doubles (rehashing every
 *    entry, some 20 ns each, once per doubling) when it would pass 1/4
 *    full, up to 2 slots per entry of capacity; it never shrinks.  Sized
 *    for a million entries while tens of thousands are live, the index
 *    spread lookups over 32 MiB of pages and cost a TLB miss a frame
 *    (bench/rewriter, 65536 connections: 300 ns a frame instead of 160);
 *    kept 1/4 full, most lookups end at the first slot.  A large index
 *    (2 MiB and up) asks for huge pages;
 *  - entries live in chunks allocated as the table fills and kept until
 *    destroy (never moved, so a value keeps its address; freed entries are
 *    reused first).  An entry is a multiple of 64 bytes on a 64-byte
 *    boundary: the key, the last activity time and the first 16 bytes of
 *    the value share its first cache line.  The age list links sit after
 *    the value, where only touch, remove and walks go.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "colo_conntable.h"

#define S_LINE 64
#define S_CHUNK_MAX 4096   //  entries per chunk at most

//  What an entry starts with; the value follows at S_VALUE_OFF.
typedef struct {
    colo_flow_key_t key;
    uint64_t last_active_ms;
} s_head_t;

#define S_VALUE_OFF 48
_Static_assert (sizeof (s_head_t) == S_VALUE_OFF, "key, time, then the value");
_Static_assert (S_VALUE_OFF == COLO_CONNTABLE_X_VALUE_OFF, "the inline lookup's offset");

//  After the value, at self->link_off.
typedef struct s_link {
    unsigned char *older, *younger;   //  age list; older is also the free list link
    uint64_t hash;
} s_link_t;

typedef colo_conntable_x_slot_t s_slot_t;

struct colo_conntable {
    colo_conntable_x_index_t ix;  //  first: colo_conntable_find_touch reads it inline
    size_t grow_at;               //  count that makes the index grow
    size_t max_slots;             //  the index for capacity entries
    unsigned char **chunks;
    size_t nchunks;               //  allocated so far
    size_t chunk_entries;
    size_t entry_size;            //  a multiple of S_LINE
    size_t link_off;              //  offset of s_link_t in an entry
    size_t count;
    size_t capacity;
    size_t value_size;
    size_t carved;                //  entries handed out of chunks so far
    uint64_t seed;
    unsigned char *oldest, *youngest;
    unsigned char *free_list;
};

static inline s_head_t *
s_head (unsigned char *entry)
{
    return (s_head_t *) entry;
}

static inline s_link_t *
s_link (const colo_conntable_t *self, unsigned char *entry)
{
    return (s_link_t *) (entry + self->link_off);
}

static inline unsigned char *
s_entry_of (const void *value)
{
    return (unsigned char *) value - S_VALUE_OFF;
}

static inline void *
s_value (unsigned char *entry)
{
    return entry + S_VALUE_OFF;
}

//  ---------------------------------------------------------------- index

//  The first index: 1 MiB, or the whole index if smaller.  Sparse enough
//  that a few thousand connections find their slot at the first probe.
#define S_FIRST_SLOTS 65536
#define S_HUGE ((size_t) 2 << 20)

//  A zeroed index of n slots; NULL if no memory.  From 2 MiB up it is
//  aligned for huge pages and asks for them (a hint: without transparent
//  huge pages it is an ordinary allocation).
static s_slot_t *
s_index_new (size_t n)
{
    size_t bytes = n * sizeof (s_slot_t);
    if (bytes < S_HUGE)
        return (s_slot_t *) calloc (n, sizeof (s_slot_t));
    s_slot_t *slots = (s_slot_t *) aligned_alloc (S_HUGE, bytes);   //  bytes: a multiple
    if (slots) {
#ifdef MADV_HUGEPAGE
        madvise (slots, bytes, MADV_HUGEPAGE);
#endif
        memset (slots, 0, bytes);
    }
    return slots;
}

static void
s_index_free (s_slot_t *slots)
{
    free (slots);
}

static void
s_index_set (colo_conntable_t *self, s_slot_t *slots, size_t n)
{
    self->ix.slots = slots;
    self->ix.mask = n - 1;
    self->grow_at = n / 4;
}

colo_conntable_t *
colo_conntable_new (size_t capacity, size_t value_size, uint64_t seed)
{
    if (capacity == 0 || capacity > ((size_t) 1 << 30) || value_size > ((size_t) 1 << 20))
        return NULL;
    colo_conntable_t *self = (colo_conntable_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    //  At most 2/3 full: short probes, and always an empty slot to stop at.
    self->max_slots = 16;
    while (self->max_slots < 2 * capacity)
        self->max_slots <<= 1;
    size_t first = self->max_slots < S_FIRST_SLOTS ? self->max_slots : S_FIRST_SLOTS;
    self->chunk_entries = capacity < S_CHUNK_MAX ? capacity : S_CHUNK_MAX;
    self->ix.slots = s_index_new (first);
    self->chunks = (unsigned char **) calloc ((capacity - 1) / self->chunk_entries + 1,
                                              sizeof (unsigned char *));
    if (!self->ix.slots || !self->chunks) {
        free (self->ix.slots);
        free (self->chunks);
        free (self);
        return NULL;
    }
    s_index_set (self, self->ix.slots, first);
    self->link_off = S_VALUE_OFF + ((value_size + 15) & ~(size_t) 15);
    self->entry_size = (self->link_off + sizeof (s_link_t) + S_LINE - 1) & ~(size_t) (S_LINE - 1);
    self->capacity = capacity;
    self->value_size = value_size;
    if (seed == 0 && getrandom (&seed, sizeof seed, 0) != sizeof seed)
        seed = (uint64_t) (uintptr_t) self ^ 0x9e3779b97f4a7c15ull;
    self->seed = seed ? seed : 1;
    return self;
}

void
colo_conntable_destroy (colo_conntable_t **self_p, void (*on_free) (void *, void *),
                        void *arg)
{
    if (!self_p || !*self_p)
        return;
    colo_conntable_t *self = *self_p;
    if (on_free)
        for (unsigned char *e = self->oldest; e;) {
            unsigned char *next = s_link (self, e)->younger;
            on_free (s_value (e), arg);
            e = next;
        }
    for (size_t i = 0; i < self->nchunks; i++)
        free (self->chunks[i]);
    free (self->chunks);
    s_index_free (self->ix.slots);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------- age list

static void
s_unlink_age (colo_conntable_t *self, s_link_t *l)
{
    if (l->older)
        s_link (self, l->older)->younger = l->younger;
    else
        self->oldest = l->younger;
    if (l->younger)
        s_link (self, l->younger)->older = l->older;
    else
        self->youngest = l->older;
    l->older = l->younger = NULL;
}

static void
s_append_age (colo_conntable_t *self, unsigned char *e)
{
    s_link_t *l = s_link (self, e);
    l->older = self->youngest;
    l->younger = NULL;
    if (self->youngest)
        s_link (self, self->youngest)->younger = e;
    else
        self->oldest = e;
    self->youngest = e;
}

//  ---------------------------------------------------------------- lookup

//  Empty slot i, moving back every later slot of the run that may take its
//  place (one whose home is not between i and itself).
static void
s_slot_clear (colo_conntable_t *self, size_t i)
{
    size_t mask = self->ix.mask;
    for (size_t j = (i + 1) & mask; self->ix.slots[j].entry; j = (j + 1) & mask) {
        size_t home = self->ix.slots[j].hash & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            self->ix.slots[i] = self->ix.slots[j];
            i = j;
        }
    }
    self->ix.slots[i].hash = 0;
    self->ix.slots[i].entry = NULL;
}

void *
colo_conntable_find (colo_conntable_t *self, const colo_flow_key_t *key)
{
    unsigned char *e = colo_conntable_x_find (&self->ix, key, colo_flow_hash (key, self->seed));
    return e ? s_value (e) : NULL;
}

void
colo_conntable_prefetch (const colo_conntable_t *self, uint64_t hash)
{
    __builtin_prefetch (&self->ix.slots[hash & self->ix.mask]);
}

void
colo_conntable_prefetch_entry (const colo_conntable_t *self, uint64_t hash)
{
    const s_slot_t *slot = &self->ix.slots[hash & self->ix.mask];
    const unsigned char *e = slot->entry;
    if (e && slot->hash == hash)
        //  The key and the value's first lines: the lookup, then its use.
        for (size_t off = 0; off < self->entry_size && off < 3 * S_LINE; off += S_LINE)
            __builtin_prefetch (e + off);
}

//  A free entry from the free list or a chunk; NULL if none.
static unsigned char *
s_alloc (colo_conntable_t *self)
{
    unsigned char *e = self->free_list;
    if (e) {
        self->free_list = s_link (self, e)->older;
        return e;
    }
    if (self->carved >= self->capacity)
        return NULL;
    size_t chunk = self->carved / self->chunk_entries;
    if (chunk == self->nchunks) {
        unsigned char *mem
            = (unsigned char *) aligned_alloc (S_LINE, self->chunk_entries * self->entry_size);
        if (!mem)
            return NULL;
        self->chunks[self->nchunks++] = mem;
    }
    e = self->chunks[chunk] + (self->carved % self->chunk_entries) * self->entry_size;
    self->carved++;
    return e;
}

//  Double the index, rehashing every entry; -1 (index unchanged) if there
//  is no memory for it.
static int
s_grow (colo_conntable_t *self)
{
    size_t n = (self->ix.mask + 1) * 2;
    s_slot_t *slots = s_index_new (n);
    if (!slots)
        return -1;
    for (size_t j = 0; j <= self->ix.mask; j++) {
        const s_slot_t *old = &self->ix.slots[j];
        if (!old->entry)
            continue;
        size_t i = old->hash & (n - 1);
        while (slots[i].entry)
            i = (i + 1) & (n - 1);
        slots[i] = *old;
    }
    s_index_free (self->ix.slots);
    s_index_set (self, slots, n);
    return 0;
}

void *
colo_conntable_insert (colo_conntable_t *self, const colo_flow_key_t *key,
                       uint64_t now_ms)
{
    if (self->count >= self->capacity)
        return NULL;
    //  Keep the index at most 1/4 full while it can grow (1/2 at full
    //  capacity); if it cannot, go on while an empty slot is left to end
    //  every probe.
    if (self->count + 1 > self->grow_at && self->ix.mask + 1 < self->max_slots
        && s_grow (self) != 0 && self->count + 2 > self->ix.mask + 1)
        return NULL;
    unsigned char *e = s_alloc (self);
    if (!e)
        return NULL;
    uint64_t hash = colo_flow_hash (key, self->seed);
    s_head (e)->key = *key;
    s_head (e)->last_active_ms = now_ms;
    memset (s_value (e), 0, self->value_size);
    s_link (self, e)->hash = hash;
    size_t i = hash & self->ix.mask;
    while (self->ix.slots[i].entry)
        i = (i + 1) & self->ix.mask;
    self->ix.slots[i].hash = hash;
    self->ix.slots[i].entry = e;
    s_append_age (self, e);
    self->count++;
    return s_value (e);
}

void
colo_conntable_remove (colo_conntable_t *self, void *value)
{
    unsigned char *e = s_entry_of (value);
    s_link_t *l = s_link (self, e);
    size_t i = l->hash & self->ix.mask;
    while (self->ix.slots[i].entry != e)
        i = (i + 1) & self->ix.mask;
    s_slot_clear (self, i);
    s_unlink_age (self, l);
    l->older = self->free_list;
    self->free_list = e;
    self->count--;
}

void
colo_conntable_touch (colo_conntable_t *self, void *value, uint64_t now_ms)
{
    unsigned char *e = s_entry_of (value);
    s_head (e)->last_active_ms = now_ms;
    if (self->youngest != e) {
        s_unlink_age (self, s_link (self, e));
        s_append_age (self, e);
    }
}

void *
colo_conntable_oldest (colo_conntable_t *self)
{
    return self->oldest ? s_value (self->oldest) : NULL;
}

void *
colo_conntable_younger (colo_conntable_t *self, void *value)
{
    unsigned char *e = s_link (self, s_entry_of (value))->younger;
    return e ? s_value (e) : NULL;
}

uint64_t
colo_conntable_last_active (colo_conntable_t *self, const void *value)
{
    (void) self;
    return s_head (s_entry_of (value))->last_active_ms;
}

const colo_flow_key_t *
colo_conntable_key (colo_conntable_t *self, const void *value)
{
    (void) self;
    return &s_head (s_entry_of (value))->key;
}

uint64_t
colo_conntable_seed (const colo_conntable_t *self)
{
    return self->seed;
}

size_t
colo_conntable_count (colo_conntable_t *self)
{
    return self->count;
}

size_t
colo_conntable_capacity (colo_conntable_t *self)
{
    return self->capacity;
}
