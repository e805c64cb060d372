/*  colo_log.h - leveled logging, switchable at run time, and rate limiting.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#ifndef COLO_LOG_H_INCLUDED
#define COLO_LOG_H_INCLUDED

#include <stdint.h>

typedef enum {
    COLO_LOG_ERROR = 0,
    COLO_LOG_WARN = 1,
    COLO_LOG_INFO = 2,
    COLO_LOG_DEBUG = 3,
    COLO_LOG_TRACE = 4
} colo_log_level_t;

//  Set the process-wide threshold; messages above it are discarded cheaply.
//  Safe to call from any thread or from a signal handler at any time.
void colo_log_set_level (colo_log_level_t level);
colo_log_level_t colo_log_level (void);

//  Parse "error|warn|info|debug|trace" or a digit 0-4; -1 if unknown.
int colo_log_level_parse (const char *name);

//  Name shown in front of every line (e.g. the service name); borrowed.
void colo_log_set_ident (const char *ident);

//  Install SIGUSR1 (more verbose) and SIGUSR2 (less verbose) handlers.
void colo_log_install_signals (void);

//  Write one line to stderr: "time ident LEVEL message".
void colo_log_emit (colo_log_level_t level, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

#define colo_log_at(lvl, ...)                                                  \
    do {                                                                       \
        if ((int) (lvl) <= (int) colo_log_level ())                            \
            colo_log_emit ((lvl), __VA_ARGS__);                                \
    } while (0)
#define colo_error(...) colo_log_at (COLO_LOG_ERROR, __VA_ARGS__)
#define colo_warn(...) colo_log_at (COLO_LOG_WARN, __VA_ARGS__)
#define colo_info(...) colo_log_at (COLO_LOG_INFO, __VA_ARGS__)
#define colo_debug(...) colo_log_at (COLO_LOG_DEBUG, __VA_ARGS__)
#define colo_trace(...) colo_log_at (COLO_LOG_TRACE, __VA_ARGS__)

//  A rate limiter for log lines about bad input: at most `burst` lines per
//  `interval_ms`; lines beyond that are counted in `suppressed` and the
//  count is reported with the next line that is allowed.  Zero-initialise
//  with COLO_RATELIMIT_INIT.
typedef struct {
    uint32_t interval_ms;
    uint32_t burst;
    uint64_t window_start_ms;
    uint32_t printed;
    uint64_t suppressed;
} colo_ratelimit_t;

#define COLO_RATELIMIT_INIT(interval_ms, burst) {(interval_ms), (burst), 0, 0, 0}

//  Return 1 if a line may be printed now, 0 if it must be suppressed.
//  When it returns 1 after suppressions, *suppressed_out (if not NULL) gets
//  the number of lines suppressed since the last allowed one.
int colo_ratelimit_ok (colo_ratelimit_t *rl, uint64_t *suppressed_out);

#define colo_log_limited(rl, lvl, fmt, ...)                                    \
    do {                                                                       \
        uint64_t colo_sup_ = 0;                                                \
        if ((int) (lvl) <= (int) colo_log_level ()                             \
            && colo_ratelimit_ok ((rl), &colo_sup_)) {                         \
            if (colo_sup_)                                                     \
                colo_log_emit ((lvl), fmt " (%llu similar suppressed)",        \
                               ##__VA_ARGS__, (unsigned long long) colo_sup_); \
            else                                                               \
                colo_log_emit ((lvl), fmt, ##__VA_ARGS__);                     \
        }                                                                      \
    } while (0)

//  Clocks in nanoseconds (and milliseconds): monotonic for timers and
//  deadlines, realtime for envelope arrival stamps.
uint64_t colo_clock_mono_ns (void);
uint64_t colo_clock_real_ns (void);
uint64_t colo_clock_mono_ms (void);

#endif
