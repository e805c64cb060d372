/*  colo_loop.c - a small poll(2) event loop for one service thread.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "colo_log.h"
#include "colo_loop.h"

#define S_FDS_MAX 64
#define S_TIMERS_MAX 16

typedef struct {
    int fd;
    int enabled;
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
    s_watch_t watches[S_FDS_MAX];
    int watch_count;
    s_timer_t timers[S_TIMERS_MAX];
    int stop_fd;
    atomic_int stopping;
    int again;
};

colo_loop_t *
colo_loop_new (void)
{
    colo_loop_t *self = (colo_loop_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->stop_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (self->stop_fd < 0) {
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
    free (*self_p);
    *self_p = NULL;
}

int
colo_loop_add_fd (colo_loop_t *self, int fd, colo_loop_fd_fn *fn, void *arg)
{
    if (fd < 0 || self->watch_count == S_FDS_MAX)
        return -1;
    for (int i = 0; i < self->watch_count; i++)
        if (self->watches[i].fd == fd)
            return -1;
    s_watch_t *w = &self->watches[self->watch_count++];
    w->fd = fd;
    w->enabled = 1;
    w->fn = fn;
    w->arg = arg;
    return 0;
}

int
colo_loop_remove_fd (colo_loop_t *self, int fd)
{
    for (int i = 0; i < self->watch_count; i++)
        if (self->watches[i].fd == fd) {
            self->watches[i] = self->watches[--self->watch_count];
            return 0;
        }
    return -1;
}

void
colo_loop_enable_fd (colo_loop_t *self, int fd, int enabled)
{
    for (int i = 0; i < self->watch_count; i++)
        if (self->watches[i].fd == fd)
            self->watches[i].enabled = enabled;
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
colo_loop_stop (colo_loop_t *self)
{
    atomic_store (&self->stopping, 1);
    uint64_t one = 1;
    ssize_t rc = write (self->stop_fd, &one, sizeof one);
    (void) rc;
}

int
colo_loop_run (colo_loop_t *self)
{
    struct pollfd pfd[S_FDS_MAX + 1];
    s_watch_t snapshot[S_FDS_MAX];
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
        int count = 0;
        pfd[count].fd = self->stop_fd;
        pfd[count].events = POLLIN;
        count++;
        int watched = self->watch_count;
        memcpy (snapshot, self->watches, sizeof (s_watch_t) * (size_t) watched);
        for (int i = 0; i < watched; i++) {
            pfd[count].fd = snapshot[i].enabled ? snapshot[i].fd : -1;
            pfd[count].events = POLLIN;
            pfd[count].revents = 0;
            count++;
        }
        int again = self->again;
        self->again = 0;
        int timeout = 0;
        if (!again) {
            now = colo_clock_mono_ms ();
            timeout = next == UINT64_MAX ? -1 : next <= now ? 0 : (int) (next - now);
        }
        int rc = poll (pfd, (nfds_t) count, timeout);
        if (rc < 0 && errno != EINTR) {
            colo_error ("loop: poll failed: %s", strerror (errno));
            return -1;
        }
        if (atomic_load (&self->stopping))
            break;
        for (int i = 0; i < watched; i++) {
            if (!snapshot[i].enabled)
                continue;
            if (again || (rc > 0 && pfd[i + 1].revents))
                snapshot[i].fn (self, snapshot[i].fd, snapshot[i].arg);
        }
    }
    return 0;
}
