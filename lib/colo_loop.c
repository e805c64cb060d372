/*  colo_loop.c - a small epoll event loop for one service thread.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "colo_log.h"
#include "colo_loop.h"

#define S_FDS_MAX 64
#define S_TIMERS_MAX 16
#define S_STOP_TAG UINT64_MAX

typedef struct {
    int fd;                 //  -1: a free slot
    int enabled;
    int registered;         //  in the epoll set (enabled, and the add worked)
    uint32_t gen;           //  tells a slot's watches apart across reuse
    int again;              //  colo_loop_again_fd: call on the next turn
    colo_loop_fd_fn *fn;
    void *arg;
} s_watch_t;

typedef struct {
    int used;
    uint64_t interval_ms;
    uint64_t next_ms;
    colo_loop_timer_fn *fn;
    void *arg;
} s_timer_t;

struct colo_loop {
    s_watch_t watches[S_FDS_MAX];   //  slots are stable: a handler's order is its slot
    int watch_end;                  //  every used slot is below
    s_timer_t timers[S_TIMERS_MAX];
    int epfd;
    int stop_fd;
    atomic_int stopping;
    int again;
    int again_fds;                  //  some watch has again set
    uint64_t busy_ns;               //  0: block at once
    uint64_t active_ns;             //  when the last event came
};

colo_loop_t *
colo_loop_new (void)
{
    colo_loop_t *self = (colo_loop_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    for (int i = 0; i < S_FDS_MAX; i++)
        self->watches[i].fd = -1;
    self->stop_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    self->epfd = epoll_create1 (EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = S_STOP_TAG};
    if (self->stop_fd < 0 || self->epfd < 0
        || epoll_ctl (self->epfd, EPOLL_CTL_ADD, self->stop_fd, &ev) != 0) {
        if (self->stop_fd >= 0)
            close (self->stop_fd);
        if (self->epfd >= 0)
            close (self->epfd);
        free (self);
        return NULL;
    }
    return self;
}

void
colo_loop_destroy (colo_loop_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    close ((*self_p)->stop_fd);
    close ((*self_p)->epfd);
    free (*self_p);
    *self_p = NULL;
}

//  Put a watch in the epoll set or take it out, as its enabled flag says.
//  A disabled fd is out of the set, not just masked: epoll reports errors
//  and hangups whatever the mask, and a disabled fd must not wake the loop.
static int
s_register (colo_loop_t *self, int slot)
{
    s_watch_t *w = &self->watches[slot];
    if (w->enabled == w->registered)
        return 0;
    if (w->enabled) {
        struct epoll_event ev = {.events = EPOLLIN,
                                 .data.u64 = (uint64_t) slot | ((uint64_t) w->gen << 32)};
        if (epoll_ctl (self->epfd, EPOLL_CTL_ADD, w->fd, &ev) != 0) {
            colo_error ("loop: cannot watch fd %d: %s", w->fd, strerror (errno));
            return -1;
        }
    }
    else
        //  Fails only if the owner closed fd first, which removed it.
        epoll_ctl (self->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    w->registered = w->enabled;
    return 0;
}

static int
s_find (colo_loop_t *self, int fd)
{
    for (int i = 0; i < self->watch_end; i++)
        if (self->watches[i].fd == fd)
            return i;
    return -1;
}

int
colo_loop_add_fd (colo_loop_t *self, int fd, colo_loop_fd_fn *fn, void *arg)
{
    if (fd < 0 || s_find (self, fd) >= 0)
        return -1;
    int slot = 0;
    while (slot < S_FDS_MAX && self->watches[slot].fd >= 0)
        slot++;
    if (slot == S_FDS_MAX)
        return -1;
    s_watch_t *w = &self->watches[slot];
    w->fd = fd;
    w->enabled = 1;
    w->registered = 0;
    w->gen++;
    w->fn = fn;
    w->arg = arg;
    if (s_register (self, slot) != 0) {
        w->fd = -1;
        return -1;
    }
    if (slot >= self->watch_end)
        self->watch_end = slot + 1;
    return 0;
}

int
colo_loop_remove_fd (colo_loop_t *self, int fd)
{
    int slot = s_find (self, fd);
    if (slot < 0)
        return -1;
    s_watch_t *w = &self->watches[slot];
    w->enabled = 0;
    s_register (self, slot);
    w->fd = -1;
    w->again = 0;
    while (self->watch_end > 0 && self->watches[self->watch_end - 1].fd < 0)
        self->watch_end--;
    return 0;
}

void
colo_loop_enable_fd (colo_loop_t *self, int fd, int enabled)
{
    int slot = s_find (self, fd);
    if (slot < 0)
        return;
    self->watches[slot].enabled = enabled != 0;
    if (s_register (self, slot) != 0)
        self->watches[slot].enabled = 0;   //  logged; not watched rather than half-watched
}

void
colo_loop_set_busy_poll (colo_loop_t *self, uint32_t us)
{
    self->busy_ns = (uint64_t) us * 1000;
}

int
colo_loop_add_timer (colo_loop_t *self, uint64_t interval_ms, colo_loop_timer_fn *fn,
                     void *arg)
{
    if (interval_ms == 0)
        return -1;
    for (int i = 0; i < S_TIMERS_MAX; i++)
        if (!self->timers[i].used) {
            s_timer_t *t = &self->timers[i];
            t->used = 1;
            t->interval_ms = interval_ms;
            t->next_ms = colo_clock_mono_ms () + interval_ms;
            t->fn = fn;
            t->arg = arg;
            return i;
        }
    return -1;
}

void
colo_loop_timer_set_next (colo_loop_t *self, int timer_id, uint64_t at_ms)
{
    if (timer_id >= 0 && timer_id < S_TIMERS_MAX && self->timers[timer_id].used)
        self->timers[timer_id].next_ms = at_ms;
}

void
colo_loop_timer_set_interval (colo_loop_t *self, int timer_id, uint64_t interval_ms)
{
    if (timer_id >= 0 && timer_id < S_TIMERS_MAX && self->timers[timer_id].used
        && interval_ms > 0)
        self->timers[timer_id].interval_ms = interval_ms;
}

void
colo_loop_again (colo_loop_t *self)
{
    self->again = 1;
}

void
colo_loop_again_fd (colo_loop_t *self, int fd)
{
    int slot = s_find (self, fd);
    if (slot < 0)
        return;
    self->watches[slot].again = 1;
    self->again_fds = 1;
}

void
colo_loop_stop (colo_loop_t *self)
{
    atomic_store (&self->stopping, 1);
    uint64_t one = 1;
    ssize_t rc = write (self->stop_fd, &one, sizeof one);
    (void) rc;
}

//  Wait up to timeout_ms (-1: no limit) for events.  Within busy_ns of the
//  last event, look without sleeping first: a wake-up costs more than the
//  gap between frames of a busy stream.  While looking, yield the CPU as
//  soon as a look finds nothing, and then every S_YIELD_NS: a thread our
//  last write woke (a reader on outdev) is often queued on this very CPU,
//  as the kernel expects a writer to sleep next, and a spinner that never
//  yields leaves it waiting for the scheduler's tick (bench/compare's
//  ours+poll at 50,000 frames/s on a 2-vCPU VM: p99 3.4-3.8 ms without the
//  yield, 48-60 us with it).
#define S_YIELD_NS 20000
static int
s_wait (colo_loop_t *self, struct epoll_event *events, int timeout_ms)
{
    int n;
    if (self->busy_ns && timeout_ms != 0) {
        uint64_t start = colo_clock_mono_ns ();
        uint64_t end = self->active_ns + self->busy_ns;
        if (timeout_ms > 0 && start + (uint64_t) timeout_ms * 1000000 < end)
            end = start + (uint64_t) timeout_ms * 1000000;
        uint64_t now = start, yield_at = start;
        while (now < end) {
            n = epoll_wait (self->epfd, events, S_FDS_MAX + 1, 0);
            if (n != 0)
                goto done;
            now = colo_clock_mono_ns ();
            if (now >= yield_at) {
                sched_yield ();
                yield_at = now + S_YIELD_NS;
            }
        }
        if (timeout_ms > 0 && now > start) {
            uint64_t spent_ms = (now - start) / 1000000;
            timeout_ms = spent_ms >= (uint64_t) timeout_ms ? 0 : timeout_ms - (int) spent_ms;
        }
    }
    n = epoll_wait (self->epfd, events, S_FDS_MAX + 1, timeout_ms);
done:
    if (n > 0 && self->busy_ns)
        self->active_ns = colo_clock_mono_ns ();
    return n;
}

int
colo_loop_run (colo_loop_t *self)
{
    struct epoll_event events[S_FDS_MAX + 1];
    uint8_t ready[S_FDS_MAX];        //  the slot reported this turn...
    uint32_t ready_gen[S_FDS_MAX];   //  ...for the watch of this generation
    uint8_t redo[S_FDS_MAX];         //  the slot's watch asked for this turn
    while (!atomic_load (&self->stopping)) {
        uint64_t now = colo_clock_mono_ms ();
        //  Timers first, so a handler's work never starves them.
        uint64_t next = UINT64_MAX;
        for (int i = 0; i < S_TIMERS_MAX; i++) {
            s_timer_t *t = &self->timers[i];
            if (!t->used)
                continue;
            if (t->next_ms <= now) {
                t->next_ms = now + t->interval_ms;
                t->fn (self, i, now, t->arg);
            }
            if (t->next_ms < next)
                next = t->next_ms;
        }
        int again = self->again;
        int again_fds = self->again_fds;
        self->again = self->again_fds = 0;
        int timeout = 0;
        if (!again && !again_fds) {
            now = colo_clock_mono_ms ();
            timeout = next == UINT64_MAX ? -1 : next <= now ? 0 : (int) (next - now);
        }
        int rc = s_wait (self, events, timeout);
        if (rc < 0 && errno != EINTR) {
            colo_error ("loop: epoll_wait failed: %s", strerror (errno));
            return -1;
        }
        if (atomic_load (&self->stopping))
            break;
        memset (ready, 0, sizeof ready);
        //  Set for every slot this turn calls (watch_end is this turn's
        //  end), and read only when set.
        if (again_fds)
            for (int i = 0; i < self->watch_end; i++) {
                redo[i] = (uint8_t) self->watches[i].again;
                self->watches[i].again = 0;
            }
        for (int i = 0; i < rc; i++) {
            uint64_t tag = events[i].data.u64;
            if (tag != S_STOP_TAG && (tag & 0xffffffffu) < S_FDS_MAX) {
                ready[tag & 0xffffffffu] = 1;
                ready_gen[tag & 0xffffffffu] = (uint32_t) (tag >> 32);
            }
        }
        //  In slot order; a watch removed, replaced or disabled by an
        //  earlier handler of this turn is not called.
        int end = self->watch_end;
        for (int i = 0; i < end; i++) {
            s_watch_t *w = &self->watches[i];
            if (w->fd < 0 || !w->enabled)
                continue;
            if (again || (again_fds && redo[i]) || (ready[i] && ready_gen[i] == w->gen))
                w->fn (self, w->fd, w->arg);
        }
    }
    return 0;
}
