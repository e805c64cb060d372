/*  colo_rewriter.h - the sequence-translation engine: the secondary's TCP space to the primary's and back.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Pure logic, no I/O.  The client talks to the primary guest, so every
 *  sequence number it sees and acknowledges is in the primary's space; the
 *  secondary guest picked its own initial sequence numbers (ISNs).  Per TCP
 *  connection (IPv4 and IPv6) the engine learns offset = secondary ISN -
 *  primary ISN and rewrites, in place:
 *  - frames toward the secondary guest: the ack (when ACK is set) and every
 *    SACK block edge, primary -> secondary space (+ offset);
 *  - frames from the secondary guest: the seq, secondary -> primary space
 *    (- offset), except on SYN and SYN-ACK (compare never compares ISNs).
 *  Checksums are patched incrementally (RFC 1624), except when a virtio-net
 *  header asks the device to complete the checksum (NEEDS_CSUM): then the
 *  field holds a partial pseudo-header sum that does not cover seq/ack, and
 *  is left alone.  Every other byte passes unchanged.
 *
 *  How the offset is learned (the guest's own SYN gives the secondary ISN,
 *  and the peer's acknowledgement of the primary's SYN gives the primary's):
 *  - guest accepts: client SYN; the secondary's SYN-ACK (seq = its ISN);
 *    the client's ACK (seq = client ISN + 1) acknowledges primary ISN + 1.
 *  - guest opens: the secondary's SYN (seq = its ISN); the peer's SYN-ACK
 *    (or RST-ACK) acknowledges primary ISN + 1, and is itself translated.
 *  Frames of a tracked connection seen before its offset is known pass
 *  untranslated (counted "unlearned"); frames of connections the engine
 *  never saw open pass untranslated ("untracked") until a checkpoint makes
 *  both guests equal.  See docs/rewriter.md for retransmitted and reused
 *  SYNs, checkpoints, failover and table bounds.
 */
#ifndef COLO_REWRITER_H_INCLUDED
#define COLO_REWRITER_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "colo_buf.h"
#include "colo_packet.h"

typedef struct {
    size_t max_connections;     //  connection table bound (1048576)
    uint32_t idle_timeout_ms;   //  an idle connection is forgotten (300000)
    uint32_t closed_linger_ms;  //  after FINs both ways, wait this long for
                                //  the final ACK (10000)
    uint64_t seed;              //  flow hash seed (0: random)
} colo_rewriter_config_t;

//  Fill cfg with the defaults above.
void colo_rewriter_config_defaults (colo_rewriter_config_t *cfg);

typedef enum {
    COLO_RW_FRAMES_TO_GUEST,        //  frames offered toward the guest
    COLO_RW_FRAMES_FROM_GUEST,      //  frames offered from the guest
    COLO_RW_NON_TCP,                //  well-formed frames that are not TCP
    COLO_RW_REWRITTEN_TO_GUEST,     //  acks translated
    COLO_RW_REWRITTEN_FROM_GUEST,   //  seqs translated
    COLO_RW_SACK_REWRITTEN,         //  frames whose SACK blocks were translated
    COLO_RW_CSUM_PARTIAL,           //  rewritten, checksum left to the device
    COLO_RW_UNTRACKED,              //  TCP frames of connections not in the table
    COLO_RW_UNLEARNED,              //  tracked, but the offset is not known yet
    COLO_RW_LEARNED_ACCEPTED,       //  offsets learned, guest accepted
    COLO_RW_LEARNED_OPENED,         //  offsets learned, guest opened
    COLO_RW_SYN_RETRANSMITS,        //  duplicate SYN / SYN-ACK (nothing re-learned)
    COLO_RW_ISN_CHANGED,            //  a handshake restarted with a new ISN
    COLO_RW_CONNS_CREATED,
    COLO_RW_TABLE_FULL,             //  new connections left untracked: table full
    COLO_RW_AFTER_FAILOVER,         //  new connections left untracked: failover
    COLO_RW_MALFORMED,              //  frames that do not decode (passed unchanged)
    COLO_RW_CLOSED,                 //  removed after FIN both ways (+ final ACK or linger)
    COLO_RW_RESET,                  //  removed after RST
    COLO_RW_IDLE,                   //  removed after the idle timeout
    COLO_RW_EVICTED,                //  removed to make room
    COLO_RW_CHECKPOINTS,
    COLO_RW_FAILOVERS,
    COLO_RW_TSECR_REWRITTEN,        //  timestamp echoes translated toward the guest
    COLO_RW_COUNTER_COUNT
} colo_rewriter_counter_t;

extern const char *const colo_rewriter_counter_names[COLO_RW_COUNTER_COUNT];

//  What happened to one frame.
typedef enum {
    COLO_RW_PASSED = 0,     //  unchanged (non-TCP, untracked, nothing to translate)
    COLO_RW_REWRITTEN = 1,  //  seq or ack (and SACK) translated in place
    COLO_RW_BAD = 2         //  malformed: unchanged, counted
} colo_rewriter_result_t;

typedef struct colo_rewriter colo_rewriter_t;

//  New engine; cfg is copied.  NULL on bad configuration (max_connections
//  0 or above 2^30, idle_timeout_ms 0) or no memory.
colo_rewriter_t *colo_rewriter_new (const colo_rewriter_config_t *cfg);

//  Free the engine; NULL-safe, nulls the pointer.
void colo_rewriter_destroy (colo_rewriter_t **self_p);

//  A frame travelling toward the secondary guest (from the mirror), seen at
//  now_ms (monotonic).  buf->data[0..vnet_hdr_len) is the virtio-net
//  header.  The frame is rewritten in place; never fails on input.
colo_rewriter_result_t colo_rewriter_to_guest (colo_rewriter_t *self, colo_buf_t *buf,
                                               uint64_t now_ms);

//  A frame the secondary guest sent (toward compare), as above.
colo_rewriter_result_t colo_rewriter_from_guest (colo_rewriter_t *self, colo_buf_t *buf,
                                                 uint64_t now_ms);

//  n frames toward (from) the guest, all seen at now_ms: the same as
//  colo_rewriter_to_guest (from_guest) on bufs[0], bufs[1], ... in turn
//  (the same bytes out, the same counters), at less cost a frame.
//  results (if not NULL) receives the n results.
void colo_rewriter_to_guest_burst (colo_rewriter_t *self, colo_buf_t **bufs, size_t n,
                                   uint64_t now_ms, colo_rewriter_result_t *results);
void colo_rewriter_from_guest_burst (colo_rewriter_t *self, colo_buf_t **bufs, size_t n,
                                     uint64_t now_ms, colo_rewriter_result_t *results);

//  Forget connections idle for idle_timeout_ms and closing ones whose
//  linger ran out.  Call it periodically (every second is plenty).
void colo_rewriter_tick (colo_rewriter_t *self, uint64_t now_ms);

//  A checkpoint completed: the secondary now runs the primary's state, so
//  every offset is zero and handshakes in progress need no learning.  O(1).
void colo_rewriter_checkpoint_done (colo_rewriter_t *self);

//  Failover: the secondary serves clients alone from now on.  Connections
//  already tracked keep their offsets (and finish learning); connections
//  opened after it are neither tracked nor rewritten.
void colo_rewriter_failover (colo_rewriter_t *self);

//  The offset (secondary - primary) in force for key, for tests and
//  diagnostics: 1 and *offset if learned, 0 if the connection is tracked
//  but not learned yet, -1 if not tracked.
int colo_rewriter_offset (colo_rewriter_t *self, const colo_flow_key_t *key,
                          uint32_t *offset);

//  Counters (COLO_RW_COUNTER_COUNT values, borrowed), the decoder's
//  counters (COLO_PKT_COUNTER_COUNT, borrowed; brought up to date by the
//  call, so call it again for later values) and the table size.
const uint64_t *colo_rewriter_counters (colo_rewriter_t *self);
const uint64_t *colo_rewriter_decode_counters (colo_rewriter_t *self);
size_t colo_rewriter_connections (colo_rewriter_t *self);

#endif
