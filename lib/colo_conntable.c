/*  colo_conntable.c - bounded connection table keyed by flow, with idle aging.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "colo_conntable.h"

typedef struct s_entry {
    struct s_entry *chain;            //  next in the bucket
    struct s_entry *older, *younger;  //  age list
    uint64_t hash;
    uint64_t last_active_ms;
    colo_flow_key_t key;
    //  value follows, aligned to 16
    _Alignas (16) unsigned char value[];
} s_entry_t;

struct colo_conntable {
    s_entry_t **buckets;
    size_t mask;
    size_t count;
    size_t capacity;
    size_t value_size;
    uint64_t seed;
    s_entry_t *oldest, *youngest;
};

static s_entry_t *
s_entry_of (const void *value)
{
    return (s_entry_t *) ((unsigned char *) value - offsetof (s_entry_t, value));
}

colo_conntable_t *
colo_conntable_new (size_t capacity, size_t value_size, uint64_t seed)
{
    if (capacity == 0 || capacity > ((size_t) 1 << 30))
        return NULL;
    colo_conntable_t *self = (colo_conntable_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    size_t buckets = 16;
    while (buckets < capacity)
        buckets <<= 1;
    self->buckets = (s_entry_t **) calloc (buckets, sizeof (s_entry_t *));
    if (!self->buckets) {
        free (self);
        return NULL;
    }
    self->mask = buckets - 1;
    self->capacity = capacity;
    self->value_size = value_size;
    if (seed == 0 && getrandom (&seed, sizeof seed, 0) != sizeof seed)
        seed = (uint64_t) (uintptr_t) self ^ 0x9e3779b97f4a7c15ull;
    self->seed = seed ? seed : 1;
    return self;
}

static void
s_unlink_age (colo_conntable_t *self, s_entry_t *e)
{
    if (e->older)
        e->older->younger = e->younger;
    else
        self->oldest = e->younger;
    if (e->younger)
        e->younger->older = e->older;
    else
        self->youngest = e->older;
    e->older = e->younger = NULL;
}

static void
s_append_age (colo_conntable_t *self, s_entry_t *e)
{
    e->older = self->youngest;
    e->younger = NULL;
    if (self->youngest)
        self->youngest->younger = e;
    else
        self->oldest = e;
    self->youngest = e;
}

void
colo_conntable_destroy (colo_conntable_t **self_p, void (*on_free) (void *, void *),
                        void *arg)
{
    if (!self_p || !*self_p)
        return;
    colo_conntable_t *self = *self_p;
    s_entry_t *e = self->oldest;
    while (e) {
        s_entry_t *next = e->younger;
        if (on_free)
            on_free (e->value, arg);
        free (e);
        e = next;
    }
    free (self->buckets);
    free (self);
    *self_p = NULL;
}

void *
colo_conntable_find (colo_conntable_t *self, const colo_flow_key_t *key)
{
    uint64_t hash = colo_flow_hash (key, self->seed);
    for (s_entry_t *e = self->buckets[hash & self->mask]; e; e = e->chain)
        if (e->hash == hash && memcmp (&e->key, key, sizeof *key) == 0)
            return e->value;
    return NULL;
}

void *
colo_conntable_insert (colo_conntable_t *self, const colo_flow_key_t *key,
                       uint64_t now_ms)
{
    if (self->count >= self->capacity)
        return NULL;
    s_entry_t *e = (s_entry_t *) calloc (1, sizeof (s_entry_t) + self->value_size);
    if (!e)
        return NULL;
    e->key = *key;
    e->hash = colo_flow_hash (key, self->seed);
    e->last_active_ms = now_ms;
    s_entry_t **bucket = &self->buckets[e->hash & self->mask];
    e->chain = *bucket;
    *bucket = e;
    s_append_age (self, e);
    self->count++;
    return e->value;
}

void
colo_conntable_remove (colo_conntable_t *self, void *value)
{
    s_entry_t *e = s_entry_of (value);
    s_entry_t **link = &self->buckets[e->hash & self->mask];
    while (*link && *link != e)
        link = &(*link)->chain;
    if (*link)
        *link = e->chain;
    s_unlink_age (self, e);
    self->count--;
    free (e);
}

void
colo_conntable_touch (colo_conntable_t *self, void *value, uint64_t now_ms)
{
    s_entry_t *e = s_entry_of (value);
    e->last_active_ms = now_ms;
    if (self->youngest != e) {
        s_unlink_age (self, e);
        s_append_age (self, e);
    }
}

void *
colo_conntable_oldest (colo_conntable_t *self)
{
    return self->oldest ? self->oldest->value : NULL;
}

void *
colo_conntable_younger (colo_conntable_t *self, void *value)
{
    (void) self;
    s_entry_t *e = s_entry_of (value)->younger;
    return e ? e->value : NULL;
}

uint64_t
colo_conntable_last_active (colo_conntable_t *self, const void *value)
{
    (void) self;
    return s_entry_of (value)->last_active_ms;
}

const colo_flow_key_t *
colo_conntable_key (colo_conntable_t *self, const void *value)
{
    (void) self;
    return &s_entry_of (value)->key;
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
