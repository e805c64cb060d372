/*  helper_ports.c - deadline-bounded waiting helpers for the unit tests.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <poll.h>
#include <stdio.h>
#include <unistd.h>

#include "colo_log.h"
#include "colo_test.h"

void
colo_test_poll_ports (colo_port_t **ports, int n, int ms)
{
    struct pollfd pfd[32];
    int count = 0;
    for (int i = 0; i < n && count < 32; i++)
        if (ports[i]) {
            pfd[count].fd = colo_port_fd (ports[i]);
            pfd[count].events = POLLIN;
            pfd[count].revents = 0;
            count++;
        }
    if (ms < 0)
        ms = 0;
    poll (pfd, (nfds_t) count, ms);
}

static int
s_remaining_ms (uint64_t deadline)
{
    uint64_t now = colo_clock_mono_ms ();
    return now >= deadline ? 0 : (int) (deadline - now);
}

static void
s_housekeep (colo_port_t **ports, int n)
{
    for (int i = 0; i < n; i++)
        if (ports[i])
            colo_port_recv (ports[i], NULL, 0);
}

int
colo_test_recv_frames (colo_port_t *port, colo_buf_t **out, int want,
                       colo_port_t **others, int n_others, int ms)
{
    uint64_t deadline = colo_clock_mono_ms () + (uint64_t) ms;
    int got = 0;
    while (got < want) {
        int rc = colo_port_recv (port, out + got, want - got);
        if (rc > 0) {
            got += rc;
            continue;
        }
        s_housekeep (others, n_others);
        int left = s_remaining_ms (deadline);
        if (left == 0)
            break;
        colo_port_t *all[33];
        all[0] = port;
        int count = 1;
        for (int i = 0; i < n_others && count < 33; i++)
            all[count++] = others[i];
        colo_test_poll_ports (all, count, left < 20 ? left : 20);
    }
    return got;
}

int
colo_test_send_all (colo_port_t *port, colo_buf_t **bufs, int n,
                    colo_port_t **others, int n_others, int ms)
{
    uint64_t deadline = colo_clock_mono_ms () + (uint64_t) ms;
    int sent = 0;
    while (sent < n) {
        int rc = colo_port_send (port, bufs + sent, n - sent);
        if (rc < 0)
            break;
        sent += rc;
        if (sent == n)
            break;
        colo_port_recv (port, NULL, 0);
        s_housekeep (others, n_others);
        int left = s_remaining_ms (deadline);
        if (left == 0)
            break;
        colo_port_t *all[33];
        all[0] = port;
        int count = 1;
        for (int i = 0; i < n_others && count < 33; i++)
            all[count++] = others[i];
        colo_test_poll_ports (all, count, left < 20 ? left : 20);
    }
    return sent;
}

int
colo_test_wait (int (*cond_fn) (void *arg), void *arg, colo_port_t **ports,
                int n, int ms)
{
    uint64_t deadline = colo_clock_mono_ms () + (uint64_t) ms;
    while (1) {
        s_housekeep (ports, n);
        if (cond_fn (arg))
            return 1;
        int left = s_remaining_ms (deadline);
        if (left == 0)
            return 0;
        colo_test_poll_ports (ports, n, left < 20 ? left : 20);
    }
}

uint64_t
colo_test_rand (uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

colo_buf_t *
colo_test_frame (uint32_t len, uint32_t seed)
{
    colo_buf_t *buf = colo_buf_new (len);
    if (!buf)
        return NULL;
    uint32_t x = seed * 2654435761u + 1;
    for (uint32_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf->data[i] = (uint8_t) x;
    }
    buf->len = len;
    return buf;
}

const char *
colo_test_name (char *buf, int cap)
{
    static int counter;
    snprintf (buf, (size_t) cap, "colotest-%d-%d", (int) getpid (), ++counter);
    return buf;
}
