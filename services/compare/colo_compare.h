/*  colo_compare.h - the comparison engine: per-connection output comparison and release.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Pure logic, no I/O: frames go in (primary and secondary guest output,
 *  with their arrival time), released primary frames come out in order, and
 *  checkpoint-worthy events are reported.  The service around it owns the
 *  ports, the timers, notify-dev and the "one request outstanding" rule.
 *
 *  Output commit: a primary frame leaves only when the secondary produced
 *  the same bytes for it and acknowledged at least the same peer data (or the
 *  frame's ack is lowered to what the secondary acknowledged), when a
 *  checkpoint completed, or when a rule says bypass.
 */
#ifndef COLO_COMPARE_H_INCLUDED
#define COLO_COMPARE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "colo_buf.h"
#include "colo_packet.h"
#include "colo_ruleset.h"

typedef enum {
    COLO_ACK_LOWER = 0,   //  release verified data with its ack lowered to the secondary's
    COLO_ACK_HOLD = 1     //  hold verified data until the secondary's ack catches up
} colo_ack_policy_t;

typedef struct {
    uint32_t compare_timeout_ms;    //  a frame queued longer requests a checkpoint (3000)
    uint32_t max_queue_size;        //  frames per connection per side (1024)
    size_t max_connections;         //  connection table size (1048576)
    uint32_t tcp_idle_ms;           //  idle TCP connections age out (300000)
    uint32_t dgram_idle_ms;         //  idle UDP/ICMP/other flows age out (60000)
    uint32_t closed_linger_ms;      //  after FIN/RST released (10000)
    uint32_t reorder_grace_ms;      //  datagrams unmatched on both sides (20)
    colo_ack_policy_t ack_policy;
    int full_decode;                //  decode every frame in full (0: plain IPv4 TCP
                                    //  segments only as far as compared; for tests
                                    //  that hold the two to the same results)
    size_t lookahead_connections;   //  from this many connections, bursts are decoded
                                    //  ahead of their turn (2048; tests set 0)
    int queued_only;                //  every secondary segment through the queue (0: one
                                    //  that is the waiting primary head's twin is
                                    //  compared in place; for tests that hold the two
                                    //  to the same results)
} colo_compare_config_t;

//  Fill cfg with the defaults above (QEMU's for the first two).
void colo_compare_config_defaults (colo_compare_config_t *cfg);

//  Why a checkpoint is wanted.
typedef enum {
    COLO_REASON_NONE = 0,
    COLO_REASON_MISMATCH_TCP,
    COLO_REASON_MISMATCH_UDP,
    COLO_REASON_MISMATCH_ICMP,
    COLO_REASON_MISMATCH_IP,        //  other IP protocols
    COLO_REASON_MISMATCH_L2,        //  ARP and other ethertypes
    COLO_REASON_TIMEOUT,
    COLO_REASON_QUEUE_FULL,
    COLO_REASON_TABLE_FULL,
    COLO_REASON_COUNT
} colo_compare_reason_t;

extern const char *const colo_compare_reason_names[COLO_REASON_COUNT];

typedef enum {
    COLO_CMP_PRIMARY_FRAMES,
    COLO_CMP_SECONDARY_FRAMES,
    COLO_CMP_RELEASED,              //  all primary frames released
    COLO_CMP_RELEASED_MATCHED,      //  after comparison
    COLO_CMP_RELEASED_RETRANSMIT,   //  TCP bytes verified earlier
    COLO_CMP_RELEASED_FLUSH,        //  by a checkpoint
    COLO_CMP_ACK_LOWERED,           //  released with the secondary's ack
    COLO_CMP_BYTES_COMPARED,        //  TCP payload bytes found equal
    COLO_CMP_SECONDARY_MATCHED,     //  secondary frames consumed by a match
    COLO_CMP_SECONDARY_STALE,       //  secondary data for space already released: dropped
    COLO_CMP_SECONDARY_FLUSHED,     //  dropped by a checkpoint
    COLO_CMP_MISMATCH_TCP,
    COLO_CMP_MISMATCH_UDP,
    COLO_CMP_MISMATCH_ICMP,
    COLO_CMP_MISMATCH_IP,
    COLO_CMP_MISMATCH_L2,
    COLO_CMP_TIMEOUTS,
    COLO_CMP_QUEUE_FULL,
    COLO_CMP_TABLE_FULL,
    COLO_CMP_MALFORMED_PRIMARY,     //  not parseable: counted, never forwarded
    COLO_CMP_MALFORMED_SECONDARY,
    COLO_CMP_CONNS_CREATED,
    COLO_CMP_CONNS_CLOSED,          //  aged out after FIN/RST
    COLO_CMP_CONNS_IDLE,            //  aged out idle
    COLO_CMP_CONNS_EVICTED,         //  removed to make room (idle, empty)
    COLO_CMP_CHECKPOINTS,           //  checkpoint flushes done
    COLO_CMP_RELEASED_BYPASS,       //  primary frames a passthrough rule let out
    COLO_CMP_SECONDARY_BYPASSED,    //  their secondary twins, dropped
    COLO_CMP_RELEASED_FAILOVER,     //  released unverified after a failover
    COLO_CMP_FLUSH_DUPLICATES,      //  queued primary copies of bytes already sent,
                                    //  dropped by a flush (retransmissions)
    COLO_CMP_SECONDARY_LOST,        //  secondary frames dropped for want of memory (logged)
    COLO_CMP_RELEASED_LOST,         //  released frames dropped for want of memory (logged)
    COLO_CMP_COUNTER_COUNT
} colo_compare_counter_t;

extern const char *const colo_compare_counter_names[COLO_CMP_COUNTER_COUNT];

typedef struct colo_compare colo_compare_t;

//  Called on every mismatch with both frames involved (either may be NULL)
//  and the first differing byte offset from the start of each frame's
//  compared region (or -1), for logs and pcap.  Borrowed pointers.
typedef void (colo_compare_mismatch_fn) (void *arg, colo_compare_reason_t reason,
                                         const colo_flow_key_t *key,
                                         const colo_buf_t *primary,
                                         const colo_buf_t *secondary, long offset);

//  New engine; cfg is copied.  NULL on bad configuration or no memory.
colo_compare_t *colo_compare_new (const colo_compare_config_t *cfg);
void colo_compare_destroy (colo_compare_t **self_p);

void colo_compare_set_mismatch_handler (colo_compare_t *self,
                                        colo_compare_mismatch_fn *fn, void *arg);

//  Feed one frame from the primary (or secondary) guest, arrived at now_ms
//  (monotonic).  On 0 the engine owns the frame and *buf is NULL.  On -1 the
//  frame was refused because its connection's queue or the table is full:
//  a checkpoint has been asked for, *buf is untouched, and the caller should
//  stop reading that input (backpressure) until a checkpoint completes.
int colo_compare_primary (colo_compare_t *self, colo_buf_t **buf, uint64_t now_ms);
int colo_compare_secondary (colo_compare_t *self, colo_buf_t **buf, uint64_t now_ms);

//  colo_compare_secondary for a frame the caller keeps (a view into a
//  port's buffer, see colo_port_recv_views): data[0..len) as a buffer would
//  hold it, the first vnet_hdr_len bytes a virtio-net header; ts_ns its
//  arrival stamp.  The engine copies only a frame it must keep: a segment
//  whose primary twin is queued already is compared with it from data and
//  dropped, a pure ACK is noted and dropped, neither copied.  Returns 0 when
//  the engine took the frame (a copy, if any, is its own); -1 when it
//  refused it, as colo_compare_secondary (or had no memory for a copy): it
//  keeps nothing, and the caller keeps its own copy to offer again.
int colo_compare_secondary_view (colo_compare_t *self, const uint8_t *data, uint32_t len,
                                 uint16_t vnet_hdr_len, uint64_t ts_ns, uint64_t now_ms);

//  colo_compare_secondary_view of a port's view: when view->slab is set
//  (the bytes lie in it), a frame the engine keeps is a buffer in that
//  slab, which it holds until done with the frame, not a copy.
int colo_compare_secondary_frame (colo_compare_t *self, const colo_frame_view_t *view,
                                  uint64_t now_ms);

//  colo_compare_primary (colo_compare_secondary) for bufs[0..n), and
//  colo_compare_secondary_frame for views[0..n), in order, as n calls
//  would, but with a large connection table each frame is decoded a little
//  ahead of its turn and its connection's lines asked for meanwhile (they
//  are cold then).  Returns how many were taken (their bufs[i] are NULL):
//  n, or the index of the one refused (it and those after it are the
//  caller's, untouched).
int colo_compare_primaries (colo_compare_t *self, colo_buf_t **bufs, int n, uint64_t now_ms);
int colo_compare_secondaries (colo_compare_t *self, colo_buf_t **bufs, int n, uint64_t now_ms);
int colo_compare_secondary_frames (colo_compare_t *self, const colo_frame_view_t *views, int n,
                                   uint64_t now_ms);

//  Take up to max released primary frames, in release order (caller owns).
int colo_compare_take (colo_compare_t *self, colo_buf_t **out, int max);

//  The first released frames, up to max, in release order, at *span:
//  where the engine keeps them, or (where its ring wraps) copied to scratch
//  (room for max).  Still the engine's: a caller offers them to a port that
//  may accept only some (it may NULL the slots of those it takes), then
//  drops the first n from the engine with colo_compare_advance.  Returns
//  how many.
int colo_compare_peek (colo_compare_t *self, colo_buf_t ***span, colo_buf_t **scratch,
                       int max);
void colo_compare_advance (colo_compare_t *self, int n);

//  Frames waiting in colo_compare_take.
size_t colo_compare_released_count (colo_compare_t *self);

//  Age out idle and closed connections, find frames older than
//  compare_timeout and datagram reorder grace that ran out.  Call it every
//  expired-scan-cycle, and at the time colo_compare_next_deadline gives.
void colo_compare_tick (colo_compare_t *self, uint64_t now_ms);

//  The earliest time a tick has work that cannot wait for the next scan
//  (datagram reorder grace), or UINT64_MAX.
uint64_t colo_compare_next_deadline (colo_compare_t *self);

//  1 if a checkpoint-worthy event happened since the last call (mismatch,
//  timeout, full queue or table); *reason and desc (the connection, may be
//  empty) describe the first of them.  Clears the event.
int colo_compare_take_request (colo_compare_t *self, colo_compare_reason_t *reason,
                               char *desc, size_t desc_cap);

//  1 while some connection is diverged, timed out, or refused input, i.e.
//  only a checkpoint can make progress there.
int colo_compare_stuck (colo_compare_t *self);

//  A checkpoint completed: release every queued primary frame (TCP by
//  sequence, others by arrival), drop queued secondary frames, and reset
//  compare state so both guests start equal.
void colo_compare_checkpoint_done (colo_compare_t *self, uint64_t now_ms);

//  Failover: the secondary is gone, so comparing is over: every queued
//  primary frame is released, and from now on primary frames leave at once
//  and secondary frames are dropped (counted as released_failover), until
//  the next colo_compare_checkpoint_done (replication running again).
void colo_compare_failover (colo_compare_t *self, uint64_t now_ms);
int colo_compare_in_failover (colo_compare_t *self);

//  The passthrough rules in force (borrowed: the caller keeps rules alive
//  until it sets others or destroys the engine; NULL for none).  A primary
//  frame a rule matches leaves at once and its secondary twin is dropped,
//  with no connection state.  Connections that hold frames and that a new
//  rule covers are released (their secondary frames would never come).
void colo_compare_set_rules (colo_compare_t *self, const colo_ruleset_t *rules,
                             uint64_t now_ms);

//  Hits per rule of the current set: fills up to cap (id, hits) pairs and
//  returns the number of rules.  Hits follow a rule across set changes.
size_t colo_compare_rule_hits (colo_compare_t *self, uint64_t *ids, uint64_t *hits,
                               size_t cap);

//  Counters (COLO_CMP_COUNTER_COUNT values) and gauges.
const uint64_t *colo_compare_counters (colo_compare_t *self);
size_t colo_compare_connections (colo_compare_t *self);
size_t colo_compare_queued_primary (colo_compare_t *self);
size_t colo_compare_queued_secondary (colo_compare_t *self);

#endif
