/*  colo_loop.h - a small epoll event loop for one service thread.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  A loop watches file descriptors (port fds, sockets) for input and runs
 *  periodic timers and one-shot deadlines.  Handlers may ask for another
 *  turn without waiting (colo_loop_again), which is how edge-triggered fds
 *  such as ZeroMQ's are drained under backpressure.  colo_loop_stop may be
 *  called from any thread or a signal handler.
 */
#ifndef COLO_LOOP_H_INCLUDED
#define COLO_LOOP_H_INCLUDED

#include <stdint.h>

typedef struct colo_loop colo_loop_t;

//  Called when fd is readable (or has an error/hangup), or on every turn
//  while the loop is in "again" mode.
typedef void (colo_loop_fd_fn) (colo_loop_t *loop, int fd, void *arg);
//  Called when a timer fires; now_ms is the monotonic time.
typedef void (colo_loop_timer_fn) (colo_loop_t *loop, int timer_id, uint64_t now_ms,
                                   void *arg);

colo_loop_t *colo_loop_new (void);
void colo_loop_destroy (colo_loop_t **self_p);

//  Watch fd for input.  Returns 0, -1 if the loop is full (64 fds) or fd is
//  already watched.
int colo_loop_add_fd (colo_loop_t *self, int fd, colo_loop_fd_fn *fn, void *arg);
int colo_loop_remove_fd (colo_loop_t *self, int fd);

//  Stop or resume watching fd without forgetting it (backpressure).
void colo_loop_enable_fd (colo_loop_t *self, int fd, int enabled);

//  A timer firing every interval_ms (> 0) from now.  Returns its id (>= 0)
//  or -1.  colo_loop_timer_set_next moves its next firing to at_ms (e.g. an
//  earlier deadline); it returns to its period afterwards.
int colo_loop_add_timer (colo_loop_t *self, uint64_t interval_ms,
                         colo_loop_timer_fn *fn, void *arg);
void colo_loop_timer_set_next (colo_loop_t *self, int timer_id, uint64_t at_ms);
void colo_loop_timer_set_interval (colo_loop_t *self, int timer_id, uint64_t interval_ms);

//  Ask for another turn right away: every enabled fd handler is called on
//  the next turn whether or not its fd is readable.
void colo_loop_again (colo_loop_t *self);

//  The same for fd's handler alone (if fd is watched and enabled then): the
//  others run on that turn only if their fds are ready.  For an input a
//  handler left data in (its budget spent, or edge-triggered), without
//  calling every other handler for nothing.
void colo_loop_again_fd (colo_loop_t *self, int fd);

//  Busy polling: for up to us microseconds after the last event, the loop
//  looks for the next one without sleeping (epoll_wait with no timeout,
//  over and over) before it blocks.  A thread woken from sleep costs
//  several microseconds of latency and CPU; a stream whose frames come
//  closer than us apart never pays it, at the price of a core that spins
//  through the gaps.  While it spins it yields the CPU at once and then
//  every 20 us, so a thread its last write woke onto the same CPU runs
//  without waiting for the scheduler's tick.  0 (the default) blocks at
//  once.  Call before colo_loop_run.
void colo_loop_set_busy_poll (colo_loop_t *self, uint32_t us);

//  Run until colo_loop_stop.  Handlers of one turn run in the order their
//  fds were added (a freed place is reused); a watch removed or disabled by
//  an earlier handler of the turn is not called.  Returns 0, or -1 if
//  waiting failed.
int colo_loop_run (colo_loop_t *self);

//  Make colo_loop_run return after the current turn.  Async-signal-safe.
void colo_loop_stop (colo_loop_t *self);

#endif
