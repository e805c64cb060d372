/*  colo_ring.c - single-producer single-consumer frame ring in POSIX shared memory.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Each side keeps its own position locally (the producer's tail, the
 *  consumer's head) and publishes it; it reads the other side's position
 *  only when its cached copy runs out, and trusts nothing it reads from the
 *  shared memory: positions and record lengths are checked against the data
 *  area before any byte is touched.
 *
 *  Doorbells and why no wake-up is lost.  Take the consumer (the producer
 *  waiting for space is the mirror image, with head for tail):
 *
 *    consumer, ring found empty          producer, after writing records
 *    C1 drain own FIFO if bytes may be   P1 store tail (seq_cst)
 *       there (see below)                P2 load consumer_sleeping (seq_cst)
 *    C2 store consumer_sleeping = 1      P3 if 1: exchange it with 0, and
 *       (seq_cst)                           if that returned 1, write one
 *    C3 load tail (seq_cst): if it            byte to the consumer's FIFO
 *       moved, disarm and go on; else
 *       return short (caller polls)
 *
 *  All four C2/C3/P1/P2 accesses are seq_cst, so they are totally ordered:
 *  either C3 sees the new tail (the consumer goes on reading), or P2 sees the
 *  flag (and the byte follows, after C1's drain, so poll() sees it).  Exactly
 *  one side wins each exchange of the flag back to 0, so each arming makes at
 *  most one byte.  Bytes are drained only when one may be there: when our
 *  exchange at disarm returned 0 (the peer took the flag, so its byte is sent
 *  or on its way), or when a call that started armed makes no progress (a
 *  wake-up with nothing to do: drain any stale byte before sleeping again, so
 *  the fd cannot stay readable for ever).  A stale byte can only cost one
 *  spurious wake-up.  On a busy ring neither side makes a syscall.  The
 *  consumer leaves a waiting producer's flag up until half the ring is free
 *  (P3 is skipped, the flag stays for a later publish); the producer adds
 *  nothing while it waits, so the consumer reaches that point or empties
 *  the ring, and each wake-up buys the producer a large burst.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "colo_envelope.h"
#include "colo_log.h"
#include "colo_ring.h"

#define S_LINE 128            //  two cache lines: adjacent-line prefetch
#define S_NAME_MAX 200
#define S_PATH_MAX 256

const char *const colo_ring_counter_names[COLO_RING_COUNTER_COUNT] = {
    "corrupt_position", "corrupt_record", "invalid_frame", "nomem",
    "waits",            "bells_rung",     "bell_errors",
};

//  The header page in shared memory (layout in colo_ring.h).
typedef struct {
    uint64_t magic;
    uint32_t version;
    uint32_t header_size;
    uint64_t data_size;
    alignas (S_LINE) _Atomic uint64_t tail;
    alignas (S_LINE) _Atomic uint64_t head;
    alignas (S_LINE) _Atomic uint32_t consumer_sleeping;
    alignas (S_LINE) _Atomic uint32_t producer_waiting;
} s_shared_t;

_Static_assert (offsetof (s_shared_t, data_size) == 16, "layout");
_Static_assert (offsetof (s_shared_t, tail) == 128, "layout");
_Static_assert (offsetof (s_shared_t, head) == 256, "layout");
_Static_assert (offsetof (s_shared_t, consumer_sleeping) == 384, "layout");
_Static_assert (offsetof (s_shared_t, producer_waiting) == 512, "layout");
_Static_assert (sizeof (s_shared_t) <= COLO_RING_HEADER_SIZE, "header page");
_Static_assert (ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
                "shared-memory atomics must be lock-free");
_Static_assert (2 * ((COLO_ENVELOPE_HDR_LEN + COLO_FRAME_MAX + 7) & ~7u)
                    <= COLO_RING_MIN_SIZE,
                "a largest record must always fit");

struct colo_ring {
    //  Hot fields first.
    s_shared_t *shared;
    uint8_t *data;
    uint64_t size;            //  data area bytes (power of two)
    uint64_t mask;
    uint64_t pos;             //  own position: tail (producer) or head (consumer)
    uint64_t other;           //  cached position of the other side
    _Atomic uint32_t *own_flag;   //  the flag that asks the peer to ring us
    _Atomic uint32_t *peer_flag;  //  the flag with which the peer asks us
    int armed;                //  we set own_flag and have not taken it back
    int owed;                 //  the peer took own_flag: a byte may be in our FIFO
    colo_ring_role_t role;
    int shm_fd;
    int bell_fd;              //  own FIFO, read end (colo_ring_fd)
    int peer_bell_fd;         //  the other side's FIFO, for ringing
    size_t map_len;
    char name[S_NAME_MAX + 1];
    colo_ratelimit_t rl;
    uint64_t counters[COLO_RING_COUNTER_COUNT];
};

static int
s_name_ok (const char *name)
{
    if (!name || !*name || strlen (name) > S_NAME_MAX)
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
            return 0;
    return 1;
}

static int
s_size_ok (uint64_t size)
{
    return size >= COLO_RING_MIN_SIZE && size <= COLO_RING_MAX_SIZE
           && (size & (size - 1)) == 0;
}

static void
s_bell_path (char *buf, const char *name, const char *suffix)
{
    snprintf (buf, S_PATH_MAX, "/dev/shm/colonet-%s.%s", name, suffix);
}

//  Wait for the creation lock, create or validate the shm object, and give
//  back its data size.  Returns 0 or -1 (logged).
static int
s_setup_object (int fd, const char *name, uint64_t want, uint64_t *size_out)
{
    if (flock (fd, LOCK_EX) != 0) {
        colo_error ("ring %s: flock: %s", name, strerror (errno));
        return -1;
    }
    int rc = -1;
    struct stat st;
    s_shared_t hdr;
    memset (&hdr, 0, sizeof hdr);
    if (fstat (fd, &st) != 0) {
        colo_error ("ring %s: fstat: %s", name, strerror (errno));
        goto done;
    }
    //  A creator that died before writing the magic leaves a zero header.
    if (st.st_size > 0
        && pread (fd, &hdr, 32, 0) == 32 && hdr.magic == 0 && hdr.version == 0)
        st.st_size = 0;
    if (st.st_size == 0) {
        if (ftruncate (fd, 0) != 0
            || ftruncate (fd, (off_t) (COLO_RING_HEADER_SIZE + want)) != 0) {
            colo_error ("ring %s: cannot size the shm object to %llu bytes: %s",
                        name, (unsigned long long) want, strerror (errno));
            goto done;
        }
        s_shared_t *shared = (s_shared_t *) mmap (NULL, COLO_RING_HEADER_SIZE,
                                                  PROT_READ | PROT_WRITE,
                                                  MAP_SHARED, fd, 0);
        if (shared == MAP_FAILED) {
            colo_error ("ring %s: mmap: %s", name, strerror (errno));
            goto done;
        }
        shared->version = COLO_RING_VERSION;
        shared->header_size = COLO_RING_HEADER_SIZE;
        shared->data_size = want;
        atomic_store (&shared->tail, 0);
        atomic_store (&shared->head, 0);
        atomic_store (&shared->consumer_sleeping, 0);
        atomic_store (&shared->producer_waiting, 0);
        atomic_thread_fence (memory_order_seq_cst);
        shared->magic = COLO_RING_MAGIC;
        munmap (shared, COLO_RING_HEADER_SIZE);
        *size_out = want;
        colo_debug ("ring %s: created with %llu data bytes", name,
                    (unsigned long long) want);
        rc = 0;
        goto done;
    }
    if (st.st_size < 32 || pread (fd, &hdr, 32, 0) != 32
        || hdr.magic != COLO_RING_MAGIC) {
        colo_error ("ring %s: /dev/shm/colonet-%s is not a colonet ring", name, name);
        goto done;
    }
    if (hdr.version != COLO_RING_VERSION || hdr.header_size != COLO_RING_HEADER_SIZE) {
        colo_error ("ring %s: layout version %u (header %u), expected %u (%u)",
                    name, hdr.version, hdr.header_size, COLO_RING_VERSION,
                    COLO_RING_HEADER_SIZE);
        goto done;
    }
    if (!s_size_ok (hdr.data_size)
        || (uint64_t) st.st_size != COLO_RING_HEADER_SIZE + hdr.data_size) {
        colo_error ("ring %s: bad data size %llu (object is %llu bytes)", name,
                    (unsigned long long) hdr.data_size,
                    (unsigned long long) st.st_size);
        goto done;
    }
    *size_out = hdr.data_size;
    rc = 0;
done:
    flock (fd, LOCK_UN);
    return rc;
}

//  Take (cmd F_OFD_SETLK) or test (F_OFD_GETLK) the lock of a role.
static int
s_role_lock (int fd, int cmd, colo_ring_role_t role)
{
    struct flock fl;
    memset (&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = (off_t) role;
    fl.l_len = 1;
    if (fcntl (fd, cmd, &fl) != 0)
        return -1;
    if (cmd == F_OFD_GETLK)
        return fl.l_type == F_UNLCK ? 0 : 1;
    return 0;
}

static int
s_open_fifo (const char *path)
{
    if (mkfifo (path, 0600) != 0 && errno != EEXIST)
        return -1;
    //  O_RDWR on both ends: ours never sees EOF, and writing to the peer's
    //  never raises SIGPIPE/ENXIO when no peer is attached (a byte left
    //  there is drained by the next peer when it attaches).
    return open (path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
}

static void
s_drain (colo_ring_t *self)
{
    char sink[256];
    while (read (self->bell_fd, sink, sizeof sink) > 0)
        ;
    self->owed = 0;
}

//  Take our flag back.  If the peer took it first, its byte is (or will be)
//  in our FIFO.
static void
s_disarm (colo_ring_t *self)
{
    self->armed = 0;
    if (atomic_exchange (self->own_flag, 0) == 0)
        self->owed = 1;
}

//  Set our flag before sleeping (C1-C2 in the comment at the top).
static void
s_arm (colo_ring_t *self, int drain)
{
    if (drain || self->owed)
        s_drain (self);
    atomic_store (self->own_flag, 1);
    self->armed = 1;
    self->counters[COLO_RING_WAITS]++;
}

//  Publish our position, then ring the peer if it asked (P1-P3) and
//  may_ring.  The flag stays up when we do not ring, for a later publish.
static void
s_publish (colo_ring_t *self, _Atomic uint64_t *where, uint64_t pos, int may_ring)
{
    atomic_store (where, pos);
    if (may_ring && atomic_load (self->peer_flag)
        && atomic_exchange (self->peer_flag, 0)) {
        ssize_t rc = write (self->peer_bell_fd, "", 1);
        if (rc == 1)
            self->counters[COLO_RING_BELLS_RUNG]++;
        else if (errno != EAGAIN) {   //  EAGAIN: full of bytes, so it is awake
            self->counters[COLO_RING_BELL_ERRORS]++;
            colo_log_limited (&self->rl, COLO_LOG_WARN, "ring %s: doorbell: %s",
                              self->name, strerror (errno));
        }
    }
}

//  Producer: is pos..tail a possible consumer position?
static inline int
s_head_ok (const colo_ring_t *self, uint64_t head, uint64_t tail)
{
    return tail - head <= self->size && (head & 7) == 0;
}

void
colo_ring_housekeep (colo_ring_t *self)
{
    //  Not waiting: any byte in our bell is a late ring for a wait that
    //  already ended (the peer took our flag just as we took it back).
    if (!self->armed)
        s_drain (self);
}

colo_ring_t *
colo_ring_open (const char *name, colo_ring_role_t role, size_t size)
{
    if (!s_name_ok (name)) {
        colo_error ("ring: invalid name '%s' (1-%d of [A-Za-z0-9._-])",
                    name ? name : "(null)", S_NAME_MAX);
        return NULL;
    }
    if (role != COLO_RING_PRODUCER && role != COLO_RING_CONSUMER) {
        colo_error ("ring %s: invalid role %d", name, (int) role);
        return NULL;
    }
    if (size == 0)
        size = COLO_RING_DEFAULT_SIZE;
    if (!s_size_ok (size)) {
        colo_error ("ring %s: size %zu is not a power of two from %u to %u", name,
                    size, COLO_RING_MIN_SIZE, COLO_RING_MAX_SIZE);
        return NULL;
    }
    colo_ring_t *self = (colo_ring_t *) calloc (1, sizeof (colo_ring_t));
    if (!self)
        return NULL;
    self->role = role;
    self->shm_fd = self->bell_fd = self->peer_bell_fd = -1;
    self->shared = (s_shared_t *) MAP_FAILED;
    snprintf (self->name, sizeof self->name, "%s", name);
    self->rl = (colo_ratelimit_t) COLO_RATELIMIT_INIT (1000, 10);
    const char *role_name = role == COLO_RING_PRODUCER ? "producer" : "consumer";

    char path[S_PATH_MAX];
    snprintf (path, sizeof path, "/colonet-%s", name);
    self->shm_fd = shm_open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (self->shm_fd < 0) {
        colo_error ("ring %s: shm_open: %s", name, strerror (errno));
        goto fail;
    }
    if (s_setup_object (self->shm_fd, name, size, &self->size) != 0)
        goto fail;
    if (s_role_lock (self->shm_fd, F_OFD_SETLK, role) != 0) {
        if (errno == EAGAIN || errno == EACCES)
            colo_error ("ring %s: the %s role is held by another live process",
                        name, role_name);
        else
            colo_error ("ring %s: role lock: %s", name, strerror (errno));
        goto fail;
    }
    self->mask = self->size - 1;
    self->map_len = COLO_RING_HEADER_SIZE + self->size;
    self->shared = (s_shared_t *) mmap (NULL, self->map_len, PROT_READ | PROT_WRITE,
                                        MAP_SHARED | MAP_POPULATE, self->shm_fd, 0);
    if (self->shared == MAP_FAILED) {
        colo_error ("ring %s: mmap: %s", name, strerror (errno));
        goto fail;
    }
    assert (atomic_is_lock_free (&self->shared->tail));
    self->data = (uint8_t *) self->shared + COLO_RING_HEADER_SIZE;

    char cbell[S_PATH_MAX], pbell[S_PATH_MAX];
    s_bell_path (cbell, name, "cbell");
    s_bell_path (pbell, name, "pbell");
    int is_producer = role == COLO_RING_PRODUCER;
    self->bell_fd = s_open_fifo (is_producer ? pbell : cbell);
    self->peer_bell_fd = s_open_fifo (is_producer ? cbell : pbell);
    if (self->bell_fd < 0 || self->peer_bell_fd < 0) {
        colo_error ("ring %s: doorbell FIFO: %s", name, strerror (errno));
        goto fail;
    }
    s_shared_t *sh = self->shared;
    self->own_flag = is_producer ? &sh->producer_waiting : &sh->consumer_sleeping;
    self->peer_flag = is_producer ? &sh->consumer_sleeping : &sh->producer_waiting;
    //  Whatever the previous holder of our role left behind goes.
    atomic_store (self->own_flag, 0);
    s_drain (self);

    //  Continue from the published positions, if they make sense.
    uint64_t tail = atomic_load (&sh->tail);
    uint64_t head = atomic_load (&sh->head);
    int sane = tail - head <= self->size && ((tail | head) & 7) == 0;
    if (!sane) {
        self->counters[COLO_RING_CORRUPT_POSITION]++;
        colo_warn ("ring %s: impossible positions head=%llu tail=%llu; resynchronised",
                   name, (unsigned long long) head, (unsigned long long) tail);
    }
    if (is_producer) {
        if (!sane) {
            tail = (tail + 7) & ~(uint64_t) 7;
            atomic_store (&sh->tail, tail);
        }
        self->pos = tail;
        self->other = sane ? head : tail;   //  insane: assume the consumer caught up
    }
    else {
        if (!sane) {
            head = (tail & 7) ? (head & ~(uint64_t) 7) : tail;
            atomic_store (&sh->head, head);
        }
        self->pos = head;
        self->other = head;                 //  tail reloaded on the first dequeue
    }
    colo_debug ("ring %s: %s attached (size %llu, head %llu, tail %llu)", name,
                role_name, (unsigned long long) self->size,
                (unsigned long long) head, (unsigned long long) tail);
    return self;

fail:
    colo_ring_destroy (&self);
    return NULL;
}

void
colo_ring_destroy (colo_ring_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    colo_ring_t *self = *self_p;
    if (self->shared != MAP_FAILED && self->shared) {
        //  Leave the flag down so the peer does not ring a departed process.
        if (self->own_flag)
            atomic_store (self->own_flag, 0);
        munmap (self->shared, self->map_len);
    }
    if (self->bell_fd >= 0)
        close (self->bell_fd);
    if (self->peer_bell_fd >= 0)
        close (self->peer_bell_fd);
    if (self->shm_fd >= 0)
        close (self->shm_fd);   //  releases the role lock
    free (self);
    *self_p = NULL;
}

int
colo_ring_unlink (const char *name)
{
    if (!s_name_ok (name))
        return -1;
    char path[S_PATH_MAX];
    s_bell_path (path, name, "cbell");
    unlink (path);
    s_bell_path (path, name, "pbell");
    unlink (path);
    snprintf (path, sizeof path, "/colonet-%s", name);
    return shm_unlink (path) == 0 ? 0 : -1;
}

int
colo_ring_enqueue (colo_ring_t *self, colo_buf_t *const *bufs, int n)
{
    if (self->role != COLO_RING_PRODUCER)
        return -1;
    if (n <= 0)
        return 0;
    int was_armed = self->armed;
    if (self->armed) {
        s_disarm (self);
        if (self->owed)
            s_drain (self);
    }
    uint64_t tail = self->pos;
    uint64_t limit = self->other + self->size;   //  tail may grow to this
    int done = 0;
    while (1) {
        while (done < n) {
            const colo_buf_t *buf = bufs[done];
            if (!buf || buf->len > COLO_FRAME_MAX || buf->vnet_hdr_len > COLO_VNET_HDR_MAX
                || buf->vnet_hdr_len > buf->len) {
                self->counters[COLO_RING_INVALID_FRAME]++;
                colo_log_limited (&self->rl, COLO_LOG_WARN,
                                  "ring %s: frame %d cannot be encoded (len %u, "
                                  "vnet_hdr_len %u); skipped",
                                  self->name, done, buf ? buf->len : 0,
                                  buf ? buf->vnet_hdr_len : 0);
                done++;
                continue;
            }
            uint64_t need = (COLO_ENVELOPE_HDR_LEN + (uint64_t) buf->len + 7) & ~(uint64_t) 7;
            uint64_t off = tail & self->mask;
            uint64_t to_end = self->size - off;
            uint64_t total = need <= to_end ? need : to_end + need;
            if (tail + total > limit) {
                uint64_t head = atomic_load_explicit (&self->shared->head,
                                                      memory_order_acquire);
                if (s_head_ok (self, head, tail))
                    self->other = head;
                else if (head != self->other) {
                    self->counters[COLO_RING_CORRUPT_POSITION]++;
                    colo_log_limited (&self->rl, COLO_LOG_WARN,
                                      "ring %s: impossible head %llu (tail %llu)",
                                      self->name, (unsigned long long) head,
                                      (unsigned long long) tail);
                }
                limit = self->other + self->size;
                if (tail + total > limit)
                    break;
            }
            if (need > to_end) {
                uint64_t mark = COLO_RING_PAD_MARK;
                memcpy (self->data + off, &mark, 8);
                tail += to_end;
                off = 0;
            }
            uint8_t *rec = self->data + off;
            colo_envelope_encode_header (buf, rec);
            memcpy (rec + COLO_ENVELOPE_HDR_LEN, buf->data, buf->len);
            tail += need;
            done++;
        }
        if (tail != self->pos) {
            self->pos = tail;
            s_publish (self, &self->shared->tail, tail, 1);
        }
        if (done == n)
            break;
        //  Full: ask the consumer to ring us, then look once more.
        s_arm (self, was_armed && done == 0);
        was_armed = 0;
        uint64_t head = atomic_load (&self->shared->head);
        if (head == self->other || !s_head_ok (self, head, tail))
            break;
        self->other = head;
        limit = head + self->size;
        s_disarm (self);
    }
    return done;
}

int
colo_ring_dequeue (colo_ring_t *self, colo_buf_t **bufs, int max)
{
    if (self->role != COLO_RING_CONSUMER)
        return -1;
    if (max <= 0)
        return 0;
    int was_armed = self->armed;
    if (self->armed) {
        s_disarm (self);
        if (self->owed)
            s_drain (self);
    }
    const uint64_t size = self->size;
    uint64_t head = self->pos;
    uint64_t tail = self->other;
    int got = 0;
    int nomem = 0;
    while (1) {
        while (got < max) {
            if (head == tail) {
                uint64_t t = atomic_load_explicit (&self->shared->tail,
                                                   memory_order_acquire);
                if (t == head)
                    break;
                if (t - head > size || (t & 7)) {
                    self->counters[COLO_RING_CORRUPT_POSITION]++;
                    colo_log_limited (&self->rl, COLO_LOG_WARN,
                                      "ring %s: impossible tail %llu (head %llu)%s",
                                      self->name, (unsigned long long) t,
                                      (unsigned long long) head,
                                      (t & 7) ? "" : "; skipped to it");
                    if (t & 7)
                        break;
                    head = tail = t;
                    continue;
                }
                tail = t;
            }
            uint64_t off = head & self->mask;
            uint64_t to_end = size - off;
            uint64_t avail = tail - head;
            size_t lim = (size_t) (avail < to_end ? avail : to_end);   //  >= 8
            const uint8_t *rec = self->data + off;
            if (rec[0] != COLO_ENVELOPE_MAGIC) {
                uint64_t mark;
                memcpy (&mark, rec, 8);
                if (mark == COLO_RING_PAD_MARK && to_end <= avail) {
                    head += to_end;
                    continue;
                }
            }
            colo_buf_t *buf = NULL;
            size_t used = 0;
            colo_env_result_t rc = colo_envelope_decode (rec, lim, &buf, &used);
            if (rc == COLO_ENV_OK) {
                bufs[got++] = buf;
                head += (used + 7) & ~(size_t) 7;   //  used <= lim, lim is 8-aligned
                continue;
            }
            if (rc == COLO_ENV_ERR_NOMEM) {
                nomem = 1;
                break;
            }
            self->counters[COLO_RING_CORRUPT_RECORD]++;
            colo_log_limited (&self->rl, COLO_LOG_WARN,
                              "ring %s: bad record at %llu (%s, %llu bytes "
                              "published); skipped to the tail",
                              self->name, (unsigned long long) head,
                              colo_envelope_result_name (rc),
                              (unsigned long long) avail);
            head = tail;
        }
        self->other = tail;
        if (head != self->pos) {
            //  Wake a waiting producer only once half the ring is free, so
            //  that each wake-up buys it a large burst.  No deadlock: it
            //  adds nothing while it waits, so we go on to empty the ring.
            self->pos = head;
            s_publish (self, &self->shared->head, head,
                       tail - head <= (size >> 1));
        }
        if (got == max)
            break;
        if (nomem) {
            //  Records are waiting but no buffer could be had: make our own
            //  fd readable so that the caller comes back soon.
            self->counters[COLO_RING_NOMEM]++;
            colo_log_limited (&self->rl, COLO_LOG_ERROR,
                              "ring %s: out of memory for a frame", self->name);
            if (write (self->bell_fd, "", 1) == 1)
                self->owed = 1;
            break;
        }
        //  Empty: ask the producer to ring us, then look once more.  A call
        //  that was woken (armed on entry) and found nothing drains the FIFO
        //  so that a stale byte cannot keep the fd readable.  A misaligned
        //  tail counts as nothing new (the producer's next store fixes it).
        s_arm (self, was_armed && got == 0);
        was_armed = 0;
        uint64_t t = atomic_load (&self->shared->tail);
        if (t == head || (t & 7))
            break;
        s_disarm (self);
    }
    return got;
}

int
colo_ring_fd (colo_ring_t *self)
{
    return self->bell_fd;
}

size_t
colo_ring_used (colo_ring_t *self)
{
    uint64_t head = atomic_load (&self->shared->head);
    uint64_t tail = atomic_load (&self->shared->tail);
    uint64_t used = tail - head;
    return (size_t) (used <= self->size ? used : self->size);
}

size_t
colo_ring_size (colo_ring_t *self)
{
    return (size_t) self->size;
}

int
colo_ring_peer_attached (colo_ring_t *self)
{
    colo_ring_role_t peer = self->role == COLO_RING_PRODUCER ? COLO_RING_CONSUMER
                                                             : COLO_RING_PRODUCER;
    return s_role_lock (self->shm_fd, F_OFD_GETLK, peer) == 1;
}

const uint64_t *
colo_ring_counters (colo_ring_t *self)
{
    return self->counters;
}
