/*  colo_conntable.h - bounded connection table keyed by flow, with idle aging.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  A hash table (open addressing, seeded hash) of at most `capacity`
 *  entries, each carrying a caller-defined value of a fixed size.  Entries
 *  are kept on a list ordered by last activity, so idle entries are found
 *  oldest-first in O(1) each; nothing is ever wiped wholesale.  Values are
 *  zeroed on insert, 16-byte aligned, and stay at the same address until
 *  removed.  A lookup reads one index line and one entry line, which holds
 *  the key, the last activity time and the value's first 16 bytes: put the
 *  fields read on every frame there.
 */
#ifndef COLO_CONNTABLE_H_INCLUDED
#define COLO_CONNTABLE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "colo_packet.h"

typedef struct colo_conntable colo_conntable_t;

//  New table for at most capacity entries (1 to 2^30) with values of
//  value_size bytes (at most 1 MiB).  seed keys the hash (0 = a random
//  seed).  NULL on bad arguments or no memory.  Entry memory is allocated
//  as the table fills and kept (for reuse) until destroy.
colo_conntable_t *colo_conntable_new (size_t capacity, size_t value_size,
                                      uint64_t seed);

//  Free every entry and the table; NULL-safe, nulls the pointer.  on_free (if
//  not NULL) is called for each remaining value first.
void colo_conntable_destroy (colo_conntable_t **self_p,
                             void (*on_free) (void *value, void *arg), void *arg);

//  The value for key, or NULL.
void *colo_conntable_find (colo_conntable_t *self, const colo_flow_key_t *key);

//  The seed of the table's hash: the table files key under
//  colo_flow_hash (key, colo_conntable_seed (self)).
uint64_t colo_conntable_seed (const colo_conntable_t *self);

//  The value for key, whose hash the caller has (colo_flow_hash or
//  colo_flow_key_hash with the table's seed; any other hash finds nothing),
//  or NULL.  A value found is marked active at now_ms, as by
//  colo_conntable_touch, at no cost when it already is.  Inline (below).
static inline void *colo_conntable_find_touch (colo_conntable_t *self,
                                               const colo_flow_key_t *key, uint64_t hash,
                                               uint64_t now_ms);

//  Hints for a lookup of hash a little later, so that its lines are in by
//  then; neither changes the table.  colo_conntable_prefetch asks for the
//  index line the lookup reads first; colo_conntable_prefetch_entry (best
//  once that line is in) for the first lines of the entry it names, if its
//  hash is hash.
void colo_conntable_prefetch (const colo_conntable_t *self, uint64_t hash);
void colo_conntable_prefetch_entry (const colo_conntable_t *self, uint64_t hash);

//  Insert key (which must not be present) with a zeroed value, active at
//  now_ms.  Returns the value, or NULL when the table is full (the caller
//  decides what to evict) or memory is exhausted.
void *colo_conntable_insert (colo_conntable_t *self, const colo_flow_key_t *key,
                             uint64_t now_ms);

//  Remove the entry holding value (from find/insert/oldest); value is
//  invalid afterwards.
void colo_conntable_remove (colo_conntable_t *self, void *value);

//  Mark value active at now_ms (moves it to the young end of the age list).
void colo_conntable_touch (colo_conntable_t *self, void *value, uint64_t now_ms);

//  The least recently active value (NULL if empty), its last activity time,
//  and the next older-to-younger value after a given one (for walks that
//  skip entries they must keep).
void *colo_conntable_oldest (colo_conntable_t *self);
void *colo_conntable_younger (colo_conntable_t *self, void *value);
uint64_t colo_conntable_last_active (colo_conntable_t *self, const void *value);

//  The key of an entry (borrowed).
const colo_flow_key_t *colo_conntable_key (colo_conntable_t *self, const void *value);

size_t colo_conntable_count (colo_conntable_t *self);
size_t colo_conntable_capacity (colo_conntable_t *self);

//  ---------------------------------------------------------------- inline
//  What colo_conntable_find_touch reads, inline in the callers' per-frame
//  path (a call cost a lookup a third of its instructions); not an API.

//  An index slot: an entry's hash and the entry, NULL when empty.
typedef struct {
    uint64_t hash;
    unsigned char *entry;
} colo_conntable_x_slot_t;

//  The index, the first member of the table: open addressing, linear probes.
typedef struct {
    colo_conntable_x_slot_t *slots;
    size_t mask;              //  slots - 1
} colo_conntable_x_index_t;

//  An entry: its key, then its last activity time (ms), then at this
//  offset its value.
#define COLO_CONNTABLE_X_VALUE_OFF 48

//  The key's five words (colo_flow_x_word), compared without a branch.
static inline int
colo_conntable_x_key_eq (const colo_flow_key_t *a, const colo_flow_key_t *b)
{
    uint64_t d = (colo_flow_x_word (a, 0) ^ colo_flow_x_word (b, 0))
                 | (colo_flow_x_word (a, 1) ^ colo_flow_x_word (b, 1))
                 | (colo_flow_x_word (a, 2) ^ colo_flow_x_word (b, 2))
                 | (colo_flow_x_word (a, 3) ^ colo_flow_x_word (b, 3))
                 | (colo_flow_x_word (a, 4) ^ colo_flow_x_word (b, 4));
    return d == 0;
}

//  The entry filed under key (whose hash is hash) in index ix, or NULL:
//  the one probe loop, for colo_conntable_find_touch and the table's own
//  lookups.
static inline unsigned char *
colo_conntable_x_find (const colo_conntable_x_index_t *ix, const colo_flow_key_t *key,
                       uint64_t hash)
{
    for (size_t i = hash & ix->mask;; i = (i + 1) & ix->mask) {
        const colo_conntable_x_slot_t *slot = &ix->slots[i];
        if (!slot->entry)
            return NULL;
        if (slot->hash == hash
            && colo_conntable_x_key_eq ((const colo_flow_key_t *) slot->entry, key))
            return slot->entry;
    }
}

static inline void *
colo_conntable_find_touch (colo_conntable_t *self, const colo_flow_key_t *key, uint64_t hash,
                           uint64_t now_ms)
{
    //  The table begins with its index (a pointer to a struct is one to
    //  its first member).
    unsigned char *e =
        colo_conntable_x_find ((const colo_conntable_x_index_t *) (void *) self, key, hash);
    if (!e)
        return NULL;
    if (*(const uint64_t *) (e + sizeof (colo_flow_key_t)) != now_ms)
        colo_conntable_touch (self, e + COLO_CONNTABLE_X_VALUE_OFF, now_ms);
    return e + COLO_CONNTABLE_X_VALUE_OFF;
}

#endif
