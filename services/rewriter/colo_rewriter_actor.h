/*  colo_rewriter_actor.h - one colo-rewriter instance: four ports, one thread, the engine between them.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Two pipelines run in the instance's thread:
 *    from-mirror -> engine (toward the guest: ack, SACK) -> to-guest
 *    from-guest  -> engine (from the guest: seq)         -> to-compare
 *  Frames keep their order.  When an output takes fewer frames than
 *  offered, the rest wait in the pipeline and its input is no longer read
 *  until they are gone (backpressure): nothing is dropped.  Checkpoint and
 *  failover arrive as calls from any thread and are applied by the
 *  instance's thread between bursts.
 *
 *  With a control URI the instance registers with colo-control (kind
 *  "rewriter", its id, its VM), applies the VM's checkpoint-done and
 *  failover events in its own thread exactly as the calls below do, and
 *  reports its counters (colo_rewriter_stats: the engine's counters by
 *  their names, then connections, to_guest_frames, to_compare_frames,
 *  to_guest_stalls, to_compare_stalls) with every heartbeat.
 */
#ifndef COLO_REWRITER_ACTOR_H_INCLUDED
#define COLO_REWRITER_ACTOR_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "colo_rewriter.h"

typedef struct {
    const char *id;             //  instance name for logs (default "colo-rewriter")
    const char *from_mirror;    //  client -> guest frames from colo-mirror (RX)
    const char *to_guest;       //  toward the secondary guest (TX)
    const char *from_guest;     //  the secondary guest's output (RX)
    const char *to_compare;     //  toward colo-compare's secondary input (TX)
    const char *control;        //  colo-control URI (lib/colo_ctlclient.h), or NULL
    const char *vm;             //  the VM this instance serves in colo-control (default: id)
    int vnet_hdr_support;       //  qemu+ ports carry the vnet_hdr_len field
    uint32_t tick_ms;           //  aging period (default 1000)
    uint32_t busy_poll_us;      //  colo_loop_set_busy_poll (0: off, at most 1000)
    colo_rewriter_config_t engine;
} colo_rewriter_actor_config_t;

//  Defaults: no URIs, engine defaults, tick 1000 ms.
void colo_rewriter_actor_config_defaults (colo_rewriter_actor_config_t *cfg);

//  Check a configuration without opening anything: the four URIs present
//  and valid for their direction (colo_port_check), no URI used twice
//  except an input of one pipeline shared with the output of the other on
//  a two-way transport (e.g. to-guest = from-guest = packet:tap0), engine
//  numbers in range, the control URI (colo_ctl_uri_parse) and, with one,
//  the id and vm as colo-control names (1..63 of [A-Za-z0-9._-]); a vm is
//  checked whenever given.  Returns 0, or -1 with the option at fault in
//  *key ("to-guest", "max-connections", "control", ...) and the reason in
//  err.
int colo_rewriter_actor_check (const colo_rewriter_actor_config_t *cfg, const char **key,
                               char *err, size_t err_cap);

//  The URI a port is opened with: with vnet set, ",vnet" is appended to a
//  qemu+unix/qemu+tcp URI that lacks it (QEMU's vnet_hdr_support=on on the
//  filters at the other end).  Other schemes carry vnet_hdr_len in their
//  envelope and are returned as they are.  Caller frees; NULL if no memory.
char *colo_rewriter_port_uri (const char *uri, int vnet);

typedef struct colo_rewriter_actor colo_rewriter_actor_t;

//  Open the ports and start the instance's thread; returns once it runs.
//  NULL (after logging why) if the configuration is invalid or a port
//  cannot be opened.  A client port whose server is absent is not an
//  error: it reconnects.  cfg and its strings are copied.
colo_rewriter_actor_t *colo_rewriter_actor_start (const colo_rewriter_actor_config_t *cfg);

//  Stop the thread, close the ports in reverse order, free frames still
//  held.  NULL-safe; nulls the pointer.
void colo_rewriter_actor_stop (colo_rewriter_actor_t **self_p);

//  A checkpoint completed (every offset becomes zero).  Returns once the
//  instance applied it: every frame it reads afterwards is handled with
//  offsets zero.  Safe from any thread; 0, or -1 if the instance stopped.
int colo_rewriter_actor_checkpoint_done (colo_rewriter_actor_t *self);

//  Failover: connections opened from now on are not rewritten.  Returns
//  once applied, like checkpoint_done.
int colo_rewriter_actor_failover (colo_rewriter_actor_t *self);

typedef struct {
    uint64_t engine[COLO_RW_COUNTER_COUNT];   //  the engine's counters
    uint64_t connections;                     //  entries in the table now
    uint64_t to_guest_frames;                 //  frames taken by the to-guest port
    uint64_t to_compare_frames;               //  frames taken by the to-compare port
    uint64_t to_guest_stalls;                 //  times from-mirror was paused (backpressure)
    uint64_t to_compare_stalls;               //  times from-guest was paused
} colo_rewriter_stats_t;

//  A consistent copy of the instance's counters, from any thread.  They are
//  published after every burst, so they may trail the thread by one burst.
void colo_rewriter_actor_stats (colo_rewriter_actor_t *self, colo_rewriter_stats_t *out);

//  The instance name (borrowed).
const char *colo_rewriter_actor_id (colo_rewriter_actor_t *self);

#endif
