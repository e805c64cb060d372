/*  colo_mirror.h - colo-mirror: each client frame to the primary and, in order, the secondary.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  An actor (one thread running a colo_loop_t) that reads frames from the
 *  input port and hands each one to the primary port and a copy of it to
 *  the secondary port, both in input order.
 *
 *  The primary path is lossless: while the primary port takes no more
 *  frames, the input is not read (the sender feels the backpressure).
 *  The secondary path never holds up the primary: copies wait in a bounded
 *  backlog (in addition to the port's own queue=); a copy that finds the
 *  backlog full is not sent, but counted (secondary_overflow), logged
 *  (rate-limited) and turned into a divergence: the secondary has missed
 *  input and needs a checkpoint.  A secondary connection that breaks after
 *  frames were written on it is a divergence too (bytes in flight may be
 *  lost).  The divergence stays set, across reconnects, until
 *  colo_mirror_checkpoint_done.
 *
 *  Either output may be omitted (NULL URI), not both: without a primary the
 *  actor only feeds the secondary and never stops reading its input (for a
 *  QEMU filter-mirror, which already delivers the original to the guest);
 *  without a secondary it is a plain lossless relay (what colo-redirector
 *  runs).
 *
 *  With a control URI the actor registers with colo-control (kind
 *  "mirror", its id, its VM) and, in its own thread:
 *  - asks for a checkpoint of the VM when a divergence episode starts
 *    (colo_ctlclient_request_checkpoint with the reason); if colo-control
 *    was unreachable, the request is repeated at most once a second while
 *    the episode lasts, until one goes out;
 *  - on the VM's checkpoint-done, does what colo_mirror_checkpoint_done
 *    does;
 *  - on the VM's failover, stops feeding the secondary (it is gone, or
 *    serves on its own): the backlog is dropped, copies are no longer made
 *    (secondary_skipped), any divergence ends and none starts; the primary
 *    path goes on as before.  The next checkpoint-done (replication
 *    resumed) makes it mirror again;
 *  - reports its counters with every heartbeat.
 */
#ifndef COLO_MIRROR_H_INCLUDED
#define COLO_MIRROR_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *id;                //  instance name for logs (default "mirror")
    const char *in;                //  URI of the input (client -> guest frames)
    const char *to_primary;        //  URI toward the primary guest, or NULL
    const char *to_secondary;      //  URI toward the secondary, or NULL
    const char *control;           //  colo-control URI (lib/colo_ctlclient.h), or NULL
    const char *vm;                //  the VM in colo-control (default: id)
    uint32_t backlog;              //  secondary copies waiting beyond the port's queue
    //  A checkpoint request nobody has answered (no checkpoint-done yet) is
    //  sent again this often, as colo-compare repeats its own once per
    //  expired-scan-cycle: a request colo-control could deliver to no
    //  adapter (none registered yet) is not lost.  0: never repeat.  A
    //  request that found colo-control unreachable is tried again every
    //  second whatever this says.
    uint32_t request_repeat_ms;
    uint32_t busy_poll_us;         //  colo_loop_set_busy_poll (0: off, at most 1000)
    //  Called on the actor thread when a divergence episode starts (the flag
    //  goes from clear to set); reason is a short static string.  Optional.
    void (*on_divergence) (void *arg, const char *reason);
    void *on_divergence_arg;
} colo_mirror_config_t;

#define COLO_MIRROR_BACKLOG_DEFAULT 1024
#define COLO_MIRROR_REQUEST_REPEAT_DEFAULT 1000
#define COLO_MIRROR_BACKLOG_MAX (1u << 24)

typedef enum {
    COLO_MIRROR_IN_FRAMES,           //  frames read from the input
    COLO_MIRROR_IN_BYTES,
    COLO_MIRROR_PRIMARY_FRAMES,      //  frames the primary port accepted
    COLO_MIRROR_SECONDARY_FRAMES,    //  copies the secondary port accepted
    COLO_MIRROR_SECONDARY_OVERFLOW,  //  copies not sent: backlog full (or no memory)
    COLO_MIRROR_SECONDARY_BROKEN,    //  secondary connections lost after frames were written
    COLO_MIRROR_DIVERGENCES,         //  divergence episodes (each needs a checkpoint)
    COLO_MIRROR_CHECKPOINTS,         //  checkpoint-done calls
    COLO_MIRROR_INPUT_PAUSED,        //  times the input stopped for primary backpressure
    COLO_MIRROR_FAILOVERS,           //  failover events from colo-control
    COLO_MIRROR_SECONDARY_SKIPPED,   //  copies not made or dropped after failover
    COLO_MIRROR_CHECKPOINT_REQUESTS, //  checkpoint requests sent to colo-control
    COLO_MIRROR_CHECKPOINT_UNSENT,   //  requests that found colo-control unreachable
    COLO_MIRROR_COUNTER_COUNT
} colo_mirror_counter_t;

extern const char *const colo_mirror_counter_names[COLO_MIRROR_COUNTER_COUNT];

typedef struct colo_mirror colo_mirror_t;

//  Fill cfg with defaults: every URI NULL, backlog COLO_MIRROR_BACKLOG_DEFAULT,
//  request_repeat_ms COLO_MIRROR_REQUEST_REPEAT_DEFAULT.
void colo_mirror_config_defaults (colo_mirror_config_t *cfg);

//  Check cfg without opening anything: URIs (colo_port_check), numbers, the
//  control URI (colo_ctl_uri_parse) and, with one, the id and vm as
//  colo-control names (1..63 of [A-Za-z0-9._-]).  Returns 0, or -1 with a
//  one-line reason in err.
int colo_mirror_config_check (const colo_mirror_config_t *cfg, char *err, size_t err_cap);

//  Open the ports and start the actor thread; returns once it runs, or NULL
//  (after logging why) if a port cannot be opened.  cfg's strings are copied.
colo_mirror_t *colo_mirror_start (const colo_mirror_config_t *cfg);

//  Stop the thread, close the ports in reverse order, free; NULL-safe.
//  Frames still queued toward an output are freed (and logged by the port).
void colo_mirror_stop (colo_mirror_t **self_p);

//  A checkpoint completed: the secondary runs the primary's state, so a
//  divergence is cleared (and mirroring resumes after a failover).  Copies
//  still waiting for the secondary are kept and sent, like frames in
//  flight through QEMU's own filter-mirror.  Thread-safe; takes effect
//  before it returns.
void colo_mirror_checkpoint_done (colo_mirror_t *self);

//  1 while the secondary has missed input since the last checkpoint.
//  Thread-safe.  reason_out (may be NULL) gets the first cause of the
//  episode ("overflow", "disconnected") or NULL.
int colo_mirror_diverged (colo_mirror_t *self, const char **reason_out);

//  Copy the counters (COLO_MIRROR_COUNTER_COUNT values) into out.
//  Thread-safe; values are at most one loop turn old.
void colo_mirror_counters (colo_mirror_t *self, uint64_t *out);

//  The instance name (borrowed).
const char *colo_mirror_id (colo_mirror_t *self);

#endif
