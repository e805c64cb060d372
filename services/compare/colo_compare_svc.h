/*  colo_compare_svc.h - one colo-compare instance: ports, timers, notify-dev, around the engine.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  An actor: colo_compare_svc_start opens the ports and runs the instance
 *  in its own thread; colo_compare_svc_stop stops it.  Released frames go to
 *  outdev in order and wait there (never dropped) while its peer is away;
 *  while outdev or the engine pushes back, the inputs are not read.
 *  Checkpoint requests go out on notify-dev (DO_CHECKPOINT), at most one
 *  outstanding, repeated once per expired-scan-cycle until a checkpoint
 *  completes (COLO_CHECKPOINT on notify-dev, or colo_compare_svc_checkpoint_done).
 */
#ifndef COLO_COMPARE_SVC_H_INCLUDED
#define COLO_COMPARE_SVC_H_INCLUDED

#include <stdint.h>

#include "colo_compare.h"

typedef struct {
    const char *id;               //  instance name for logs (borrowed)
    const char *primary_in;       //  URIs (borrowed)
    const char *secondary_in;
    const char *outdev;
    const char *notify_dev;       //  NULL: none
    const char *control;          //  colo-control URI (colo_ctlclient.h), NULL: none
    const char *vm;               //  the VM this instance serves (rules, events); default id
    const char *pcap_dir;         //  NULL: no mismatch captures
    uint32_t pcap_keep;           //  mismatch captures kept (16)
    uint32_t expired_scan_cycle_ms;   //  1000
    int vnet_hdr_support;         //  adds ",vnet" to qemu+ data ports
    uint32_t busy_poll_us;        //  colo_loop_set_busy_poll (0: off)
    colo_compare_config_t engine;
} colo_compare_svc_config_t;

//  Defaults: QEMU's (compare-timeout 3000, expired-scan-cycle 1000,
//  max-queue-size 1024, vnet off) and the engine's.
void colo_compare_svc_config_defaults (colo_compare_svc_config_t *cfg);

//  Check a configuration without opening anything; 0, or -1 with a
//  one-line reason naming the option in err.
int colo_compare_svc_check (const colo_compare_svc_config_t *cfg, char *err, size_t cap);

typedef struct colo_compare_svc colo_compare_svc_t;

//  Open the ports and start the instance thread.  NULL (logged) on failure.
colo_compare_svc_t *colo_compare_svc_start (const colo_compare_svc_config_t *cfg);

//  Stop the thread, close the ports, free.  Queued frames are freed and
//  their number logged.
void colo_compare_svc_stop (colo_compare_svc_t **self_p);

//  Tell the instance a checkpoint completed (from another thread).
void colo_compare_svc_checkpoint_done (colo_compare_svc_t *self);

//  Service counters, after the engine's (COLO_CMP_COUNTER_COUNT of them).
typedef enum {
    COLO_SVC_CHECKPOINT_REQUESTS = 0,   //  DO_CHECKPOINT (or control) requests sent
    COLO_SVC_CHECKPOINT_EPISODES,       //  distinct episodes (first request of each)
    COLO_SVC_NOTIFY_INIT,               //  COLO_USERSPACE_PROXY_INIT answered
    COLO_SVC_NOTIFY_UNKNOWN,            //  unsupported notify messages
    COLO_SVC_INPUT_PAUSES,              //  times the inputs stopped being read
    COLO_SVC_OUT_QUEUED,                //  gauge: released frames not yet taken by outdev
    COLO_SVC_CONNECTIONS,               //  gauge
    COLO_SVC_QUEUED_PRIMARY,            //  gauge
    COLO_SVC_QUEUED_SECONDARY,          //  gauge
    COLO_SVC_OUT_FRAMES,                //  frames outdev took
    COLO_SVC_HELD_US,                   //  their summed time in colonet, from arrival on
                                        //  a port to outdev (µs): held_us / out_frames is
                                        //  the mean added latency
    COLO_SVC_FRAMES_LOST,               //  input frames lost for want of memory (logged)
    //  How long the frames outdev took were held, as the buckets of a
    //  histogram (10, 20, 50, 100, 200, 500 us, 1, 2, 5 ... 500 ms, 1 s):
    //  each counts the frames held at most that long, so each holds the
    //  one before it, and out_frames is the last, past 1 s.
    COLO_SVC_HELD_LE_10US,
    COLO_SVC_HELD_LE_1S = COLO_SVC_HELD_LE_10US + 15,
    COLO_SVC_COUNTER_COUNT
} colo_compare_svc_counter_t;

extern const char *const colo_compare_svc_counter_names[COLO_SVC_COUNTER_COUNT];

#define COLO_COMPARE_ALL_COUNTERS (COLO_CMP_COUNTER_COUNT + COLO_SVC_COUNTER_COUNT)

//  The hold-time histogram: its buckets' bounds in ns, held_le_10us's first
//  (then UINT64_MAX, the bucket past 1 s), for readers of the counters.
#define COLO_COMPARE_HELD_BUCKETS (COLO_SVC_HELD_LE_1S - COLO_SVC_HELD_LE_10US + 1)
extern const uint64_t colo_compare_held_le_ns[COLO_COMPARE_HELD_BUCKETS + 1];

//  The hold-time bucket of a frame held ns: 0 for at most 10 us (held_le_10us),
//  ..., 15 for at most 1 s (held_le_1s), 16 past that (not for other use; the
//  tests check it against the bounds).
int colo_compare_svc_x_held_bucket (uint64_t ns);

//  Copy every counter (engine's, then the service's) into out, as the
//  instance thread sees them now; waits at most 1 s for it.  0 or -1.
int colo_compare_svc_counters (colo_compare_svc_t *self,
                               uint64_t out[COLO_COMPARE_ALL_COUNTERS]);

//  Name of counter i of that array.
const char *colo_compare_svc_counter_name (int i);

#endif
