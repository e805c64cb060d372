/*  check_colo_loop.c - the poll event loop.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <fcntl.h>
#include <pthread.h>
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

START_TEST (test_loop_fd_and_timer)
{
    s_state_t st = {{-1, -1}, 0, 0, 0};
    ck_assert_int_eq (pipe2 (st.pipe_fd, O_NONBLOCK), 0);
    colo_loop_t *loop = colo_loop_new ();
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

static void *
s_stopper (void *arg)
{
    colo_loop_stop ((colo_loop_t *) arg);
    return NULL;
}

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
    tcase_add_test (tc, test_loop_again_and_disable);
    tcase_add_test (tc, test_loop_stop_from_thread);
    suite_add_tcase (s, tc);
    return s;
}
