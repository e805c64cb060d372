/*  colo_buf.c - frame buffers in flight, with a per-thread cache.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Every frame is a buffer, and a busy service allocates and frees millions
 *  a second, usually in bursts larger than malloc's per-thread cache.  So
 *  buffers come in size classes (powers of two from 128 bytes of data to
 *  COLO_FRAME_MAX) and each thread keeps a small stack of free ones per
 *  class, at most S_CACHE_BYTES per class (4 MiB for the 2048-byte class,
 *  which holds full-size frames); a thread's stacks are freed when it exits.
 *  A buffer freed by another thread than the one that made it simply joins
 *  the freeing thread's cache.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "colo_buf.h"

#define S_CLASSES 11            //  128 .. 128K (the last one holds COLO_FRAME_MAX)
#define S_CACHE_BYTES (1u << 20)
#define S_CACHE_MIN 32
#define S_ALIGN 64              //  buffers start on a cache line

//  Under AddressSanitizer every buffer goes back to malloc, so a use after
//  free is still caught.
#if defined(__SANITIZE_ADDRESS__)
#define S_CACHING 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define S_CACHING 0
#endif
#endif
#ifndef S_CACHING
#define S_CACHING 1
#endif

//  A stack of free buffers per class (its limit's worth of slots, made on
//  first use), not a list through them: a burst of allocations reads
//  independent slots instead of one buffer after another, and the buffers
//  a few allocations ahead can be asked for in time.
typedef struct {
    void **slots[S_CLASSES];
    uint32_t count[S_CLASSES];
    int registered;
} s_cache_t;

#define S_CACHE_AHEAD 4         //  buffers prefetched ahead of the one taken

static _Thread_local s_cache_t s_cache;
static pthread_key_t s_key;
static pthread_once_t s_key_once = PTHREAD_ONCE_INIT;

static void
s_cache_release (void *arg)
{
    s_cache_t *cache = (s_cache_t *) arg;
    for (int c = 0; c < S_CLASSES; c++) {
        for (uint32_t i = 0; i < cache->count[c]; i++)
            free (cache->slots[c][i]);
        free (cache->slots[c]);
        cache->slots[c] = NULL;
        cache->count[c] = 0;
    }
}

static void
s_make_key (void)
{
    pthread_key_create (&s_key, s_cache_release);
}

//  The class of a capacity, or -1 above COLO_FRAME_MAX: the power of two
//  from 128 up that holds it.
static inline int
s_class (size_t cap)
{
    if (cap > COLO_FRAME_MAX)
        return -1;
    if (cap <= 128)
        return 0;
    return 64 - __builtin_clzll ((unsigned long long) cap - 1) - 7;
}

static inline size_t
s_class_cap (int c)
{
    size_t cap = (size_t) 128 << c;
    return cap > COLO_FRAME_MAX ? COLO_FRAME_MAX : cap;
}

//  Buffers a thread keeps per class: S_CACHE_BYTES worth, at least
//  S_CACHE_MIN (1 MiB / class size, precomputed), and at least
//  S_CACHE_FRAMES of the classes that hold the frames of a 1500-byte MTU
//  (1024 and 2048 bytes): a service holds a few bursts of those in flight,
//  and each one beyond the limit went back to malloc (aligned, the slow
//  path) to be allocated again a moment later.
#define S_CACHE_FRAMES 2048
static const uint32_t s_class_limits[S_CLASSES] = {
    8192, 4096, 2048, S_CACHE_FRAMES, S_CACHE_FRAMES, 256,
    128,  64,   S_CACHE_MIN, S_CACHE_MIN, S_CACHE_MIN,
};

static inline uint32_t
s_class_limit (int c)
{
    return s_class_limits[c];
}

colo_buf_t *
colo_buf_new (size_t cap)
{
    int c = s_class (cap);
    if (c < 0)
        return NULL;
    colo_buf_t *self;
    uint32_t n = s_cache.count[c];
    if (n > 0) {
        self = (colo_buf_t *) s_cache.slots[c][--n];
        s_cache.count[c] = n;
        //  The buffers taken next were freed a while ago (a whole batch
        //  of frames went through the cache since): start loading their
        //  first lines now, not when they are needed.
        if (n >= S_CACHE_AHEAD)
            __builtin_prefetch (s_cache.slots[c][n - S_CACHE_AHEAD], 1);
    }
    else {
        //  On a cache line boundary: the metadata and the first bytes of
        //  the frame (Ethernet and part of IP) share one line, so reading
        //  a frame's headers touches two lines, not up to three.
        size_t size = sizeof (colo_buf_t) + s_class_cap (c);
        size = (size + S_ALIGN - 1) & ~(size_t) (S_ALIGN - 1);
        self = (colo_buf_t *) aligned_alloc (S_ALIGN, size);
        if (!self)
            return NULL;
    }
    memset (self, 0, sizeof (colo_buf_t));
    self->cap = (uint32_t) s_class_cap (c);
    self->data = self->storage;
    return self;
}

//  ---------------------------------------------------------------- slabs

struct colo_buf_slab {
    atomic_uint refs;         //  the owner's (while it holds it) + one per buffer
    size_t size;
    _Alignas (64) uint8_t data[];
};

colo_buf_slab_t *
colo_buf_slab_new (size_t size)
{
    colo_buf_slab_t *slab = (colo_buf_slab_t *) aligned_alloc (
        S_ALIGN, (sizeof (colo_buf_slab_t) + size + S_ALIGN - 1) & ~(size_t) (S_ALIGN - 1));
    if (!slab)
        return NULL;
    atomic_init (&slab->refs, 1);
    slab->size = size;
    return slab;
}

uint8_t *
colo_buf_slab_data (colo_buf_slab_t *slab)
{
    return slab->data;
}

size_t
colo_buf_slab_size (const colo_buf_slab_t *slab)
{
    return slab->size;
}

int
colo_buf_slab_shared (const colo_buf_slab_t *slab)
{
    return atomic_load_explicit (&((colo_buf_slab_t *) slab)->refs, memory_order_acquire) > 1;
}

static void
s_slab_unref (colo_buf_slab_t *slab, unsigned refs)
{
    if (atomic_fetch_sub_explicit (&slab->refs, refs, memory_order_acq_rel) == refs)
        free (slab);
}

void
colo_buf_slab_release (colo_buf_slab_t **slab_p)
{
    if (!slab_p || !*slab_p)
        return;
    s_slab_unref (*slab_p, 1);
    *slab_p = NULL;
}

colo_buf_t *
colo_buf_new_in (colo_buf_slab_t *slab, const uint8_t *data, size_t len)
{
    if (len > COLO_FRAME_MAX)
        return NULL;
    colo_frame_view_t view = {data, (uint32_t) len, 0, 0, slab};
    colo_buf_t *self = NULL;
    colo_buf_new_in_views (slab, &view, 1, &self);
    return self;
}

int
colo_buf_new_in_views (colo_buf_slab_t *slab, const colo_frame_view_t *views, int n,
                       colo_buf_t **out)
{
    int made = 0;
    for (; made < n && views[made].len <= COLO_FRAME_MAX; made++) {
        colo_buf_t *self = colo_buf_new (0);   //  the smallest class: metadata only is used
        if (!self)
            break;
        self->slab = slab;
        self->data = (uint8_t *) views[made].data;
        self->len = self->cap = views[made].len;
        self->vnet_hdr_len = views[made].vnet_hdr_len;
        self->ts_ns = views[made].ts_ns;
        out[made] = self;
    }
    //  One atomic operation for the lot: it is most of what a buffer costs.
    if (made > 0)
        atomic_fetch_add_explicit (&slab->refs, (unsigned) made, memory_order_relaxed);
    return made;
}

colo_buf_t *
colo_buf_new_copy (const void *data, size_t len)
{
    colo_buf_t *self = colo_buf_new (len);
    if (self) {
        if (len)
            memcpy (self->data, data, len);
        self->len = (uint32_t) len;
    }
    return self;
}

colo_buf_t *
colo_buf_dup (const colo_buf_t *buf)
{
    colo_buf_t *self = colo_buf_new (buf->len);
    if (self) {
        self->ts_ns = buf->ts_ns;
        self->seq = buf->seq;
        self->instance = buf->instance;
        self->dir = buf->dir;
        self->flags = buf->flags;
        self->vnet_hdr_len = buf->vnet_hdr_len;
        self->len = buf->len;
        if (buf->len)
            memcpy (self->data, buf->data, buf->len);
    }
    return self;
}

//  The buffer of class c back to this thread's cache (made on first use),
//  or freed.
static __attribute__ ((noinline)) void
s_put_slow (colo_buf_t *self, int c)
{
    if (S_CACHING && s_cache.count[c] < s_class_limit (c)) {
        if (!s_cache.registered) {
            //  First use in this thread: free the stacks when it exits.
            pthread_once (&s_key_once, s_make_key);
            pthread_setspecific (s_key, &s_cache);
            s_cache.registered = 1;
        }
        if (!s_cache.slots[c])
            s_cache.slots[c] = (void **) malloc (s_class_limit (c) * sizeof (void *));
        if (s_cache.slots[c]) {
            s_cache.slots[c][s_cache.count[c]++] = self;
            return;
        }
    }
    free (self);
}

//  The buffer of class c (its cap that class's) back to this thread's
//  cache, or freed.
static inline void
s_put_class (colo_buf_t *self, int c)
{
    if (S_CACHING && s_cache.slots[c] && s_cache.count[c] < s_class_limit (c))
        s_cache.slots[c][s_cache.count[c]++] = self;
    else
        s_put_slow (self, c);
}

//  The buffer back to this thread's cache, or freed; its slab reference
//  is the caller's business.
static void
s_put (colo_buf_t *self)
{
    int c = s_class (self->cap);
    if (c >= 0 && s_class_cap (c) == self->cap)
        s_put_class (self, c);
    else
        free (self);
}

//  A buffer made in a slab lets go of it: metadata only, as it was made.
static colo_buf_slab_t *
s_detach (colo_buf_t *self)
{
    colo_buf_slab_t *slab = self->slab;
    self->slab = NULL;
    self->cap = (uint32_t) s_class_cap (0);   //  its storage, unused
    return slab;
}

void
colo_buf_destroy (colo_buf_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    colo_buf_t *self = *self_p;
    *self_p = NULL;
    if (self->slab)
        s_slab_unref (s_detach (self), 1);
    s_put (self);
}

void
colo_buf_destroy_array (colo_buf_t **bufs, int n)
{
    colo_buf_slab_t *run = NULL;
    unsigned refs = 0;
    for (int i = 0; i < n; i++) {
        colo_buf_t *self = bufs[i];
        if (!self)
            continue;
        bufs[i] = NULL;
        if (self->slab) {
            colo_buf_slab_t *slab = s_detach (self);
            if (slab != run) {
                if (run)
                    s_slab_unref (run, refs);
                run = slab;
                refs = 0;
            }
            refs++;
            s_put_class (self, 0);   //  metadata only, as it was made
        }
        else
            s_put (self);
    }
    if (run)
        s_slab_unref (run, refs);
}

int
colo_bufq_grow (colo_bufq_t *self)
{
    size_t cap = self->cap ? self->cap * 2 : 64;
    colo_buf_t **items = (colo_buf_t **) malloc (cap * sizeof (colo_buf_t *));
    if (!items)
        return -1;
    for (size_t i = 0; i < self->count; i++)
        items[i] = colo_bufq_at (self, i);
    free (self->items);
    self->items = items;
    self->cap = cap;
    self->head = 0;
    return 0;
}

void
colo_bufq_destroy (colo_bufq_t *self)
{
    while (self->count > 0) {
        colo_buf_t *buf = colo_bufq_pop (self);
        colo_buf_destroy (&buf);
    }
    free (self->items);
    memset (self, 0, sizeof *self);
}

uint32_t
colo_instance_id (const char *name)
{
    if (!name)
        return 0;
    uint32_t hash = 2166136261u;
    for (const unsigned char *p = (const unsigned char *) name; *p; p++) {
        hash ^= *p;
        hash *= 16777619u;
    }
    return hash;
}
