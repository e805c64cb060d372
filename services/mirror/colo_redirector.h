/*  colo_redirector.h - colo-redirector: frames from one port to another, with backpressure.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  One actor moves frames from `in` to `out`, e.g. from a QEMU
 *  filter-redirector chardev into a shm ring toward colo-compare, or from
 *  compare's output back to QEMU.  Nothing is dropped: while `out` takes no
 *  more frames, `in` is not read, so the sender feels the backpressure.
 *  One direction per pair; a process runs one actor per pair.  (It is the
 *  colo-mirror engine with a primary and no secondary.)
 */
#ifndef COLO_REDIRECTOR_H_INCLUDED
#define COLO_REDIRECTOR_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *id;        //  instance name for logs (default "redirector")
    const char *in;        //  URI read from
    const char *out;       //  URI written to
    const char *control;   //  colo-control URI (kept; used later), or NULL
} colo_redirector_config_t;

typedef enum {
    COLO_REDIRECTOR_IN_FRAMES,      //  frames read from in
    COLO_REDIRECTOR_IN_BYTES,
    COLO_REDIRECTOR_OUT_FRAMES,     //  frames out accepted
    COLO_REDIRECTOR_INPUT_PAUSED,   //  times in stopped being read because out was full
    COLO_REDIRECTOR_COUNTER_COUNT
} colo_redirector_counter_t;

extern const char *const colo_redirector_counter_names[COLO_REDIRECTOR_COUNTER_COUNT];

typedef struct colo_redirector colo_redirector_t;

//  Check cfg without opening anything.  Returns 0, or -1 with a one-line
//  reason in err.
int colo_redirector_config_check (const colo_redirector_config_t *cfg, char *err,
                                  size_t err_cap);

//  Open the ports and start the actor thread; NULL (after logging why) if
//  a port cannot be opened.  cfg's strings are copied.
colo_redirector_t *colo_redirector_start (const colo_redirector_config_t *cfg);

//  Stop the thread, close the ports, free; NULL-safe.
void colo_redirector_stop (colo_redirector_t **self_p);

//  Copy the counters (COLO_REDIRECTOR_COUNTER_COUNT values) into out.
//  Thread-safe.
void colo_redirector_counters (colo_redirector_t *self, uint64_t *out);

#endif
