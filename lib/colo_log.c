/*  colo_log.c - leveled logging, switchable at run time, and rate limiting.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "colo_log.h"

static atomic_int s_level = COLO_LOG_INFO;
static const char *s_ident = "colonet";
static const char *const s_level_names[] = {"ERROR", "WARN", "INFO", "DEBUG",
                                            "TRACE"};

void
colo_log_set_level (colo_log_level_t level)
{
    if ((int) level < COLO_LOG_ERROR)
        level = COLO_LOG_ERROR;
    if ((int) level > COLO_LOG_TRACE)
        level = COLO_LOG_TRACE;
    atomic_store_explicit (&s_level, (int) level, memory_order_relaxed);
}

colo_log_level_t
colo_log_level (void)
{
    return (colo_log_level_t) atomic_load_explicit (&s_level, memory_order_relaxed);
}

int
colo_log_level_parse (const char *name)
{
    static const char *const lower[] = {"error", "warn", "info", "debug", "trace"};
    if (!name)
        return -1;
    for (int i = 0; i < 5; i++)
        if (strcmp (name, lower[i]) == 0)
            return i;
    if (name[0] >= '0' && name[0] <= '4' && name[1] == 0)
        return name[0] - '0';
    return -1;
}

void
colo_log_set_ident (const char *ident)
{
    s_ident = ident ? ident : "colonet";
}

static void
s_on_signal (int sig)
{
    int level = atomic_load_explicit (&s_level, memory_order_relaxed);
    if (sig == SIGUSR1 && level < COLO_LOG_TRACE)
        atomic_store_explicit (&s_level, level + 1, memory_order_relaxed);
    else if (sig == SIGUSR2 && level > COLO_LOG_ERROR)
        atomic_store_explicit (&s_level, level - 1, memory_order_relaxed);
}

void
colo_log_install_signals (void)
{
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset (&sa.sa_mask);
    sigaction (SIGUSR1, &sa, NULL);
    sigaction (SIGUSR2, &sa, NULL);
}

void
colo_log_emit (colo_log_level_t level, const char *fmt, ...)
{
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime (CLOCK_REALTIME, &ts);
    gmtime_r (&ts.tv_sec, &tm);
    int lvl = (int) level;
    if (lvl < 0 || lvl > COLO_LOG_TRACE)
        lvl = COLO_LOG_ERROR;
    int n = snprintf (line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s ",
                      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                      tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, s_ident,
                      s_level_names[lvl]);
    if (n < 0)
        return;
    va_list args;
    va_start (args, fmt);
    int m = vsnprintf (line + n, sizeof line - (size_t) n - 1, fmt, args);
    va_end (args);
    size_t used = (size_t) n + (m < 0 ? 0 : (size_t) m);
    if (used > sizeof line - 2)
        used = sizeof line - 2;
    line[used++] = '\n';
    //  One write per line so lines from several threads do not interleave.
    fwrite (line, 1, used, stderr);
    fflush (stderr);
}

int
colo_ratelimit_ok (colo_ratelimit_t *rl, uint64_t *suppressed_out)
{
    uint64_t now = colo_clock_mono_ms ();
    if (rl->window_start_ms == 0 || now - rl->window_start_ms >= rl->interval_ms) {
        rl->window_start_ms = now ? now : 1;
        rl->printed = 0;
    }
    if (rl->printed >= rl->burst) {
        rl->suppressed++;
        return 0;
    }
    rl->printed++;
    if (suppressed_out)
        *suppressed_out = rl->suppressed;
    rl->suppressed = 0;
    return 1;
}

static uint64_t
s_clock_ns (clockid_t id)
{
    struct timespec ts;
    clock_gettime (id, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

uint64_t
colo_clock_mono_ns (void)
{
    return s_clock_ns (CLOCK_MONOTONIC);
}

uint64_t
colo_clock_real_ns (void)
{
    return s_clock_ns (CLOCK_REALTIME);
}

uint64_t
colo_clock_mono_ms (void)
{
    return colo_clock_mono_ns () / 1000000u;
}
