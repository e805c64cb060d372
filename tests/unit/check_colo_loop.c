/*  check_colo_loop.c - the event loop.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "colo_log.h"
#include "colo_loop.h"
#include "colo_test.h"

typedef struct {
    int pipe_fd[2];
    int reads;
    int ticks;
    int again_turns;
} s_state_t;

static void
s_on_read (colo_loop_t *loop, int fd, void *arg)
{
    s_state_t *st = (s_state_t *) arg;
    char c;
    if (read (fd, &c, 1) == 1)
        st->reads++;
    else
        st->again_turns++;
    if (st->reads == 3)
        colo_loop_stop (loop);
}

static void
s_on_tick (colo_loop_t *loop, int id, uint64_t now, void *arg)
{
    (void) id;
    (void) now;
    s_state_t *st = (s_state_t *) arg;
    st->ticks++;
    //  Feed the pipe from the timer: three ticks, three reads, then stop.
    ssize_t rc = write (st->pipe_fd[1], "x", 1);
    (void) rc;
    if (st->ticks > 100)
        colo_loop_stop (loop);
}

//  The test binary is linked with --wrap=sched_yield: the loop's yields
//  while it spins are counted here.
int __real_sched_yield (void);
int __wrap_sched_yield (void);
static atomic_int s_yields;

int
__wrap_sched_yield (void)
{
    atomic_fetch_add (&s_yields, 1);
    return __real_sched_yield ();
}

//  A pipe fed by a 1 ms timer: three reads, then the loop stops; busy_us
//  as colo_loop_set_busy_poll.  Returns how often the loop yielded.
static int
s_fd_and_timer (uint32_t busy_us)
{
    atomic_store (&s_yields, 0);
    s_state_t st = {{-1, -1}, 0, 0, 0};
    ck_assert_int_eq (pipe2 (st.pipe_fd, O_NONBLOCK), 0);
    colo_loop_t *loop = colo_loop_new ();
    colo_loop_set_busy_poll (loop, busy_us);
    ck_assert_int_eq (colo_loop_add_fd (loop, st.pipe_fd[0], s_on_read, &st), 0);
    ck_assert_int_eq (colo_loop_add_fd (loop, st.pipe_fd[0], s_on_read, &st), -1);
    ck_assert_int_ge (colo_loop_add_timer (loop, 1, s_on_tick, &st), 0);
    ck_assert_int_eq (colo_loop_add_timer (loop, 0, s_on_tick, &st), -1);
    colo_loop_run (loop);
    ck_assert_int_eq (st.reads, 3);
    ck_assert_int_ge (st.ticks, 3);
    colo_loop_destroy (&loop);
    close (st.pipe_fd[0]);
    close (st.pipe_fd[1]);
    return atomic_load (&s_yields);
}

START_TEST (test_loop_fd_and_timer)
{
    //  A loop that sleeps never yields.
    ck_assert_int_eq (s_fd_and_timer (0), 0);
}
END_TEST

static void
s_on_again (colo_loop_t *loop, int fd, void *arg)
{
    (void) fd;
    s_state_t *st = (s_state_t *) arg;
    if (++st->again_turns < 5)
        colo_loop_again (loop);
    else
        colo_loop_stop (loop);
}

static void
s_on_kick (colo_loop_t *loop, int id, uint64_t now, void *arg)
{
    (void) id;
    (void) now;
    (void) arg;
    colo_loop_again (loop);
}

START_TEST (test_loop_again_and_disable)
{
    s_state_t st = {{-1, -1}, 0, 0, 0};
    ck_assert_int_eq (pipe (st.pipe_fd), 0);
    colo_loop_t *loop = colo_loop_new ();
    //  Never readable: only "again" turns call the handler.
    colo_loop_add_fd (loop, st.pipe_fd[0], s_on_again, &st);
    colo_loop_add_timer (loop, 1, s_on_kick, &st);
    colo_loop_run (loop);
    ck_assert_int_eq (st.again_turns, 5);
    colo_loop_destroy (&loop);

    //  A disabled fd is not called even when readable.
    loop = colo_loop_new ();
    st.reads = 0;
    ck_assert_int_eq (write (st.pipe_fd[1], "y", 1), 1);
    colo_loop_add_fd (loop, st.pipe_fd[0], s_on_read, &st);
    colo_loop_enable_fd (loop, st.pipe_fd[0], 0);
    st.ticks = 0;
    colo_loop_add_timer (loop, 1, s_on_tick, &st);
    //  s_on_tick stops the loop after 100 ticks; the fd stayed unread.
    colo_loop_run (loop);
    ck_assert_int_eq (st.reads, 0);
    ck_assert_int_eq (colo_loop_remove_fd (loop, st.pipe_fd[0]), 0);
    ck_assert_int_eq (colo_loop_remove_fd (loop, st.pipe_fd[0]), -1);
    colo_loop_destroy (&loop);
    close (st.pipe_fd[0]);
    close (st.pipe_fd[1]);
}
END_TEST

//  Busy polling: events and timers still come, in the same order, while
//  the loop spins between them (the timer feeds the pipe every 1 ms, the
//  spin window is 5 ms, so most waits end in the spin).  A spin that finds
//  nothing at its first look yields the CPU at once and then every 20 us
//  (a reader woken by the loop's last write is often queued behind it on
//  its CPU), so each of the at least three waits for a tick yields, and the
//  1 ms waits yield many times over.
START_TEST (test_loop_busy_poll)
{
    ck_assert_int_ge (s_fd_and_timer (5000), 3);
}
END_TEST

typedef struct {
    colo_loop_t *loop;
    int fd_a, fd_b;
    int calls_a, calls_b;
    int ticks;
} s_pair_t;

static void
s_on_a (colo_loop_t *loop, int fd, void *arg)
{
    (void) loop;
    s_pair_t *p = (s_pair_t *) arg;
    char c;
    if (read (fd, &c, 1) == 1)
        p->calls_a++;
    colo_loop_enable_fd (p->loop, p->fd_b, 0);   //  b is readable too
}

static void
s_on_b (colo_loop_t *loop, int fd, void *arg)
{
    (void) loop;
    s_pair_t *p = (s_pair_t *) arg;
    char c;
    if (read (fd, &c, 1) == 1)
        p->calls_b++;
}

static void
s_on_pair_tick (colo_loop_t *loop, int id, uint64_t now, void *arg)
{
    (void) id;
    (void) now;
    s_pair_t *p = (s_pair_t *) arg;
    if (++p->ticks == 20)
        colo_loop_stop (loop);
}

//  A handler that disables another watch in the same turn: the other is not
//  called, though its fd was readable when the turn began; a hangup on a
//  disabled fd does not wake the loop; enabled again, it is called.
START_TEST (test_loop_disable_in_turn)
{
    int a[2], b[2];
    ck_assert_int_eq (pipe2 (a, O_NONBLOCK), 0);
    ck_assert_int_eq (pipe2 (b, O_NONBLOCK), 0);
    colo_loop_t *loop = colo_loop_new ();
    s_pair_t p = {loop, a[0], b[0], 0, 0, 0};
    ck_assert_int_eq (write (a[1], "a", 1), 1);
    ck_assert_int_eq (write (b[1], "b", 1), 1);
    close (b[1]);   //  and a hangup after the byte
    ck_assert_int_eq (colo_loop_add_fd (loop, a[0], s_on_a, &p), 0);
    ck_assert_int_eq (colo_loop_add_fd (loop, b[0], s_on_b, &p), 0);
    ck_assert_int_ge (colo_loop_add_timer (loop, 1, s_on_pair_tick, &p), 0);
    colo_loop_run (loop);
    ck_assert_int_eq (p.calls_a, 1);
    ck_assert_int_eq (p.calls_b, 0);
    ck_assert_int_eq (p.ticks, 20);

    colo_loop_destroy (&loop);

    //  Disabled from the start, then enabled: b's byte is read (then its
    //  hangup keeps calling it, and reads of 0 count nothing).
    loop = colo_loop_new ();
    p.loop = loop;
    p.ticks = 0;
    ck_assert_int_eq (colo_loop_add_fd (loop, b[0], s_on_b, &p), 0);
    colo_loop_enable_fd (loop, b[0], 0);
    colo_loop_enable_fd (loop, b[0], 1);
    ck_assert_int_ge (colo_loop_add_timer (loop, 1, s_on_pair_tick, &p), 0);
    colo_loop_run (loop);
    ck_assert_int_eq (p.calls_b, 1);
    colo_loop_destroy (&loop);
    close (a[0]);
    close (a[1]);
    close (b[0]);
}
END_TEST

static void *
s_stopper (void *arg)
{
    colo_loop_stop ((colo_loop_t *) arg);
    return NULL;
}

//  colo_loop_again_fd: on the next turn the handler of that fd alone runs
//  (neither fd is ever readable); colo_loop_again still runs both.
typedef struct {
    int fd_a, fd_b;
    int calls_a, calls_b;
    int turns;                //  turns of a's handler asking again
    int all;                  //  ask for every handler on the last one
} s_again_t;

static void
s_on_again_a (colo_loop_t *loop, int fd, void *arg)
{
    s_again_t *st = (s_again_t *) arg;
    st->calls_a++;
    if (st->calls_a < st->turns)
        colo_loop_again_fd (loop, fd);
    else if (st->all && st->calls_a == st->turns)
        colo_loop_again (loop);
    else
        colo_loop_stop (loop);
}

static void
s_on_again_b (colo_loop_t *loop, int fd, void *arg)
{
    (void) loop;
    (void) fd;
    ((s_again_t *) arg)->calls_b++;
}

static void
s_on_start (colo_loop_t *loop, int id, uint64_t now, void *arg)
{
    (void) now;
    s_again_t *st = (s_again_t *) arg;
    colo_loop_again_fd (loop, st->fd_a);
    colo_loop_timer_set_interval (loop, id, 3600000);   //  once
}

START_TEST (test_loop_again_one_fd)
{
    int a[2], b[2];
    ck_assert_int_eq (pipe (a), 0);
    ck_assert_int_eq (pipe (b), 0);
    for (int all = 0; all < 2; all++) {
        s_again_t st = {a[0], b[0], 0, 0, 5, all};
        colo_loop_t *loop = colo_loop_new ();
        colo_loop_add_fd (loop, b[0], s_on_again_b, &st);   //  b's slot first
        colo_loop_add_fd (loop, a[0], s_on_again_a, &st);
        colo_loop_again_fd (loop, 12345);                    //  not watched: nothing
        colo_loop_add_timer (loop, 1, s_on_start, &st);
        colo_loop_run (loop);
        ck_assert_int_eq (st.calls_a, (all ? 6 : 5));
        ck_assert_int_eq (st.calls_b, (all ? 1 : 0));
        colo_loop_destroy (&loop);
    }
    close (a[0]);
    close (a[1]);
    close (b[0]);
    close (b[1]);
}
END_TEST

START_TEST (test_loop_stop_from_thread)
{
    colo_loop_t *loop = colo_loop_new ();
    pthread_t thread;
    pthread_create (&thread, NULL, s_stopper, loop);
    //  No fds, no timers: only the stop can end this.
    ck_assert_int_eq (colo_loop_run (loop), 0);
    pthread_join (thread, NULL);
    colo_loop_destroy (&loop);
}
END_TEST

Suite *
colo_loop_suite (void)
{
    Suite *s = suite_create ("colo_loop");
    TCase *tc = tcase_create ("loop");
    tcase_add_test (tc, test_loop_fd_and_timer);
    tcase_add_test (tc, test_loop_busy_poll);
    tcase_add_test (tc, test_loop_disable_in_turn);
    tcase_add_test (tc, test_loop_again_and_disable);
    tcase_add_test (tc, test_loop_again_one_fd);
    tcase_add_test (tc, test_loop_stop_from_thread);
    suite_add_tcase (s, tc);
    return s;
}
