/*  colo_rewriter.c - the sequence-translation engine: the secondary's TCP space to the primary's and back.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  One table entry per TCP connection, keyed by the normalized flow key.
 *  An entry is in one of three states:
 *  - ACCEPT: the client sent a SYN toward the guest; waiting for the
 *    secondary's SYN-ACK (its ISN, and the client ISN + 1 it acknowledges)
 *    and the client's ACK (primary ISN + 1), in either order;
 *  - OPEN: the guest sent a SYN (its ISN); waiting for the peer's SYN-ACK;
 *  - EST: the offset is known (zero after a checkpoint).
 *  Checkpoints are a generation number: an entry whose generation is older
 *  than the engine's is read as EST with offset 0 and nothing learned, so a
 *  checkpoint costs O(1) whatever the table holds.
 *
 *  Entries that start closing (FIN seen both ways) sit on a FIFO ordered by
 *  deadline; they leave when the later FIN is acknowledged, or when the
 *  linger runs out.  Idle entries are found oldest-first on the table's
 *  age list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo_conntable.h"
#include "colo_csum.h"
#include "colo_log.h"
#include "colo_rewriter.h"
#include "colo_seq.h"

const char *const colo_rewriter_counter_names[COLO_RW_COUNTER_COUNT] = {
    "frames_to_guest",   "frames_from_guest", "non_tcp",
    "rewritten_to_guest", "rewritten_from_guest", "sack_rewritten",
    "csum_partial",      "untracked",         "unlearned",
    "learned_accepted",  "learned_opened",    "syn_retransmits",
    "isn_changed",       "conns_created",     "table_full",
    "after_failover",    "malformed",         "closed",
    "reset",             "idle",              "evicted",
    "checkpoints",       "failovers",         "tsecr_rewritten",
};

//  For the per-frame path: inlined into its callers whatever the
//  compiler's size heuristics say (calls and register saves were a tenth
//  of the engine's own work on an ACK).
#define S_HOT __attribute__ ((always_inline))

//  Entries examined, oldest first, to find one to evict when full.
#define S_EVICT_SCAN 64

typedef enum { S_ACCEPT = 1, S_OPEN = 2, S_EST = 3 } s_state_t;

//  What an entry knows (bits of s_conn_t.have).
#define H_SEC 0x01       //  sec_isn: the secondary's ISN
#define H_PRI 0x02       //  pri_isn: the primary's ISN (an early client ACK)
#define H_PEER 0x04      //  peer_next: client ISN + 1
#define H_PENDING 0x08   //  syn_pending: a client SYN seen on an EST entry
#define H_SEC_TS 0x10    //  sec_tsval: the secondary's SYN/SYN-ACK TSval
#define H_PRI_TS 0x20    //  pri_tsval: the primary's, as the peer echoed it

//  Close tracking (bits of s_conn_t.fins).
#define F_GUEST 0x01         //  the guest sent FIN; guest_fin_end valid
#define F_PEER 0x02          //  the peer sent FIN; peer_fin_end valid
#define F_GUEST_ACKED 0x04   //  the peer acknowledged the guest's FIN
#define F_PEER_ACKED 0x08    //  the guest acknowledged the peer's FIN

//  The first 16 bytes are what every frame of an established connection
//  reads; the table keeps them in the cache line of the key.
typedef struct s_conn {
    uint32_t gen;             //  checkpoint generation the state belongs to
    uint32_t offset;          //  secondary - primary (EST)
    uint32_t ts_offset;       //  secondary - primary TCP timestamp clock (EST)
    uint8_t state;            //  s_state_t
    uint8_t have;
    uint8_t fins;
    uint8_t closing;
    struct s_conn *close_prev, *close_next;   //  the closing FIFO
    uint64_t close_deadline_ms;
    uint32_t sec_tsval;       //  H_SEC_TS
    uint32_t pri_tsval;       //  H_PRI_TS
    uint32_t sec_isn;         //  H_SEC
    uint32_t pri_isn;         //  H_PRI
    uint32_t peer_next;       //  H_PEER
    uint32_t syn_pending;     //  H_PENDING
    uint32_t guest_fin_end;   //  sequence after the guest's FIN (secondary space)
    uint32_t peer_fin_end;    //  sequence after the peer's FIN (peer space)
} s_conn_t;

struct colo_rewriter {
    colo_rewriter_config_t cfg;
    colo_conntable_t *table;
    uint64_t seed;            //  the table's
    s_conn_t *close_head, *close_tail;
    uint32_t gen;
    int failover;
    uint64_t counters[COLO_RW_COUNTER_COUNT];
    uint64_t pkt_counters[COLO_PKT_COUNTER_COUNT];
    uint64_t info_seen[16];   //  frames per combination of decoder findings
    colo_ratelimit_t rl_bad, rl_full;
};

void
colo_rewriter_config_defaults (colo_rewriter_config_t *cfg)
{
    memset (cfg, 0, sizeof *cfg);
    cfg->max_connections = 1u << 20;
    cfg->idle_timeout_ms = 300000;
    cfg->closed_linger_ms = 10000;
}

colo_rewriter_t *
colo_rewriter_new (const colo_rewriter_config_t *cfg)
{
    if (!cfg || cfg->max_connections == 0 || cfg->max_connections > ((size_t) 1 << 30)
        || cfg->idle_timeout_ms == 0)
        return NULL;
    colo_rewriter_t *self = (colo_rewriter_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    self->table = colo_conntable_new (cfg->max_connections, sizeof (s_conn_t), cfg->seed);
    if (!self->table) {
        free (self);
        return NULL;
    }
    self->seed = colo_conntable_seed (self->table);
    self->rl_bad = (colo_ratelimit_t) COLO_RATELIMIT_INIT (10000, 5);
    self->rl_full = (colo_ratelimit_t) COLO_RATELIMIT_INIT (10000, 5);
    return self;
}

void
colo_rewriter_destroy (colo_rewriter_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    colo_rewriter_t *self = *self_p;
    colo_conntable_destroy (&self->table, NULL, NULL);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------- entries

static void
s_close_unlink (colo_rewriter_t *self, s_conn_t *c)
{
    if (!c->closing)
        return;
    if (c->close_prev)
        c->close_prev->close_next = c->close_next;
    else
        self->close_head = c->close_next;
    if (c->close_next)
        c->close_next->close_prev = c->close_prev;
    else
        self->close_tail = c->close_prev;
    c->close_prev = c->close_next = NULL;
    c->closing = 0;
}

//  FINs were seen both ways: the entry leaves at the final ACK, or when the
//  linger runs out.  The linger is the same for every entry, so appending
//  keeps the FIFO ordered by deadline.
static void
s_close_start (colo_rewriter_t *self, s_conn_t *c, uint64_t now_ms)
{
    if (c->closing)
        return;
    c->closing = 1;
    c->close_deadline_ms = now_ms + self->cfg.closed_linger_ms;
    c->close_next = NULL;
    c->close_prev = self->close_tail;
    if (self->close_tail)
        self->close_tail->close_next = c;
    else
        self->close_head = c;
    self->close_tail = c;
}

static void
s_remove (colo_rewriter_t *self, s_conn_t *c, colo_rewriter_counter_t why)
{
    s_close_unlink (self, c);
    colo_conntable_remove (self->table, c);
    self->counters[why]++;
}

//  What a checkpoint did to an entry not touched since: the secondary runs
//  the primary's state, so the offset is zero and there is nothing left to
//  learn (a handshake in progress continues with the primary's ISN).
static void
s_refresh (colo_rewriter_t *self, s_conn_t *c)
{
    if (c->gen != self->gen) {
        if (c->state == S_EST)
            c->guest_fin_end -= c->offset;   //  now in the primary's space
        c->gen = self->gen;
        c->state = S_EST;
        c->offset = 0;
        c->ts_offset = 0;
        c->have = 0;
    }
}

//  An entry whose removal loses nothing a checkpoint would not also lose:
//  closing, zero offset, or a handshake that has not completed.
static int
s_evictable (colo_rewriter_t *self, const s_conn_t *c)
{
    return c->closing || c->gen != self->gen || c->state != S_EST || c->offset == 0;
}

static s_conn_t *
s_create (colo_rewriter_t *self, const colo_flow_key_t *key, uint64_t now_ms)
{
    if (self->failover) {
        self->counters[COLO_RW_AFTER_FAILOVER]++;
        return NULL;
    }
    s_conn_t *c = (s_conn_t *) colo_conntable_insert (self->table, key, now_ms);
    if (!c && colo_conntable_count (self->table) >= colo_conntable_capacity (self->table)) {
        s_conn_t *victim = (s_conn_t *) colo_conntable_oldest (self->table);
        for (int i = 0; victim && i < S_EVICT_SCAN; i++) {
            if (s_evictable (self, victim))
                break;
            victim = (s_conn_t *) colo_conntable_younger (self->table, victim);
        }
        if (victim && s_evictable (self, victim)) {
            s_remove (self, victim, COLO_RW_EVICTED);
            c = (s_conn_t *) colo_conntable_insert (self->table, key, now_ms);
        }
    }
    if (!c) {
        self->counters[COLO_RW_TABLE_FULL]++;
        char desc[128];
        colo_log_limited (&self->rl_full, COLO_LOG_WARN,
                          "rewriter: table full (%zu connections), %s not rewritten",
                          colo_conntable_count (self->table),
                          colo_flow_key_str (key, desc, sizeof desc));
        return NULL;
    }
    c->gen = self->gen;
    self->counters[COLO_RW_CONNS_CREATED]++;
    return c;
}

//  The connection now carries a new handshake (the same 4-tuple reused, or
//  a stale entry).  After failover a new connection is not rewritten, so
//  the entry goes.  Returns the entry, or NULL if it was removed.
static s_conn_t *
s_restart (colo_rewriter_t *self, s_conn_t *c, s_state_t state)
{
    self->counters[COLO_RW_ISN_CHANGED]++;
    if (self->failover) {
        s_remove (self, c, COLO_RW_CLOSED);   //  the old connection is over
        self->counters[COLO_RW_AFTER_FAILOVER]++;
        return NULL;
    }
    s_close_unlink (self, c);
    c->state = (uint8_t) state;
    c->have = 0;
    c->fins = 0;
    c->offset = 0;
    c->ts_offset = 0;
    return c;
}

static void
s_learned (colo_rewriter_t *self, s_conn_t *c, int opened)
{
    c->offset = c->sec_isn - c->pri_isn;
    //  The guests' timestamp clocks differ as their ISNs do: the peer echoes
    //  the primary's TSval, which the secondary must see as its own (Linux
    //  6.11+ drops a handshake ACK whose TSecr it never sent; older kernels
    //  take wrong RTT samples).
    c->ts_offset = (c->have & H_SEC_TS) && (c->have & H_PRI_TS) ? c->sec_tsval - c->pri_tsval
                                                                 : 0;
    c->state = S_EST;
    self->counters[opened ? COLO_RW_LEARNED_OPENED : COLO_RW_LEARNED_ACCEPTED]++;
}

//  ---------------------------------------------------------------- frames

typedef struct {
    colo_packet_t pkt;
    uint8_t *frame;
    uint8_t *tcp;             //  the TCP header
    uint8_t *csum;            //  the checksum field, or NULL: leave it alone
    colo_flow_key_t key;
    uint64_t hash;            //  of key, with the table's seed
    uint8_t changed;          //  a field was rewritten: csum_delta to apply
    uint32_t csum_delta;      //  sum of ~old + new over the 16-bit halves
} s_frame_t;

//  What colo_packet_decode counts when given counters: the result, and
//  each informational finding.  A padded minimum-size frame has one, so
//  findings are counted per combination, one increment a frame, and
//  added up by colo_rewriter_decode_counters.
static inline void
s_count_decode (colo_rewriter_t *self, colo_pkt_result_t rc, uint8_t info)
{
    _Static_assert (COLO_PKT_ERR_FIRST == COLO_PKT_INFO_FRAGMENT + 4, "four findings");
    self->pkt_counters[rc]++;
    self->info_seen[(info >> COLO_PKT_INFO_FRAGMENT) & 15]++;
}

//  Out of line: rare, and it keeps s_decode small.
static void
s_malformed (colo_rewriter_t *self, const colo_buf_t *buf, colo_pkt_result_t rc, int to_guest)
{
    self->counters[COLO_RW_MALFORMED]++;
    colo_log_limited (&self->rl_bad, COLO_LOG_WARN,
                      "rewriter: malformed frame of %u bytes %s the guest (%s): "
                      "passed unchanged",
                      buf->len, to_guest ? "toward" : "from", colo_packet_result_name (rc));
}

//  Out of line: IPv6 and the general case are long, and rarer.
static int __attribute__ ((noinline))
s_key_hash_any (s_frame_t *f, uint64_t seed)
{
    return colo_flow_key_hash (&f->key, &f->hash, &f->pkt, f->frame, seed);
}

//  colo_flow_key_hash for a decoded IPv4 TCP frame, the common case,
//  without the checks the general function makes for other frames (the
//  same colo_flow_x_build4 builds both; tests compare the two).  Other
//  frames go to colo_flow_key_hash.
static inline S_HOT int
s_key_hash (s_frame_t *f, uint64_t seed)
{
    const colo_packet_t *p = &f->pkt;
    if (p->l3 != COLO_L3_IPV4 || p->addr_len != 4 || p->src_off > p->frame_len - 4
        || p->dst_off > p->frame_len - 4 || p->frame_len < 4)
        return s_key_hash_any (f, seed);
    uint16_t vlan = p->vlan_count ? (uint16_t) (p->vlan_tci[0] & 0x0fff) : 0;
    colo_flow_x_build4 (&f->key, f->frame + p->src_off, f->frame + p->dst_off, p->sport,
                        p->dport, vlan, COLO_IPPROTO_TCP, NULL, &f->hash, seed);
    return 0;
}

//  Decode; 1 for TCP (f filled), 0 for other frames, -1 if malformed.
static inline S_HOT int
s_decode (colo_rewriter_t *self, colo_buf_t *buf, s_frame_t *f, int to_guest)
{
    colo_pkt_result_t rc = COLO_PKT_ERR_RUNT;
    if (buf->vnet_hdr_len <= buf->len && buf->len <= buf->cap) {
        f->frame = colo_buf_frame (buf);
        //  Counted here rather than by the decoder (same counts), without
        //  its loop over the findings: a few ns a frame less.
        rc = colo_packet_decode (&f->pkt, f->frame, colo_buf_frame_len (buf), NULL);
        s_count_decode (self, rc, f->pkt.info);
    }
    if (rc >= COLO_PKT_ERR_FIRST) {
        s_malformed (self, buf, rc, to_guest);
        return -1;
    }
    if (f->pkt.l4 != COLO_L4_TCP) {
        self->counters[COLO_RW_NON_TCP]++;
        return 0;
    }
    if (s_key_hash (f, self->seed) != 0)
        return -1;   //  cannot happen for a decoded TCP frame
    f->tcp = f->frame + f->pkt.l4_off;
    //  virtio-net NEEDS_CSUM (flags bit 0): the field is a partial sum over
    //  the pseudo header that the device completes; seq/ack are not in it.
    int partial = buf->vnet_hdr_len > 0 && (buf->data[0] & 1);
    f->csum = partial ? NULL : f->tcp + 16;
    f->changed = 0;
    f->csum_delta = 0;
    return 1;
}

//  Rewrite a 32-bit field; its share of the checksum update is added up
//  (RFC 1624: HC' = ~(~HC + sum of (~m + m'))) and applied once per frame
//  by s_csum_apply.  At most 10 fields (ack, 8 SACK edges, TSecr) of at
//  most 4 * 0xffff each: the sum cannot overflow.
static inline void
s_put32 (s_frame_t *f, uint8_t *field, uint32_t value)
{
    uint32_t old = colo_get_be32 (field);
    colo_put_be32 (field, value);
    f->csum_delta += (uint16_t) ~(old >> 16) + (uint16_t) ~old + (value >> 16) + (value & 0xffff);
    f->changed = 1;
}

//  Apply the summed update to the checksum field (RFC 1624); 0 when the
//  field is a partial sum the device completes (nothing to update).
static inline int
s_csum_put (s_frame_t *f)
{
    if (!f->csum)
        return 0;
    colo_put_be16 (f->csum, colo_csum_fold ((uint16_t) ~colo_get_be16 (f->csum) + f->csum_delta));
    return 1;
}

static inline void
s_csum_apply (s_frame_t *f)
{
    if (f->changed)
        s_csum_put (f);
}

//  Sequence number one past the segment (SYN and FIN count one each).
static uint32_t
s_seg_end (const s_frame_t *f)
{
    return f->pkt.tcp_seq + f->pkt.payload_len + ((f->pkt.tcp_flags & COLO_TCP_SYN) ? 1 : 0)
           + ((f->pkt.tcp_flags & COLO_TCP_FIN) ? 1 : 0);
}

static inline s_conn_t *
s_find (colo_rewriter_t *self, const s_frame_t *f, uint64_t now_ms)
{
    //  The age list has millisecond resolution: an entry already touched
    //  this millisecond is in order as it is (and costs no list update).
    return (s_conn_t *) colo_conntable_find_touch (self->table, &f->key, f->hash, now_ms);
}

//  After a frame of a tracked connection: FIN and RST bookkeeping.  The
//  entry goes on RST, and when both FINs are seen and acknowledged.
static void
s_track_close (colo_rewriter_t *self, s_conn_t *c, const s_frame_t *f, int to_guest,
               uint32_t ack_guest_space, uint64_t now_ms)
{
    if (f->pkt.tcp_flags & COLO_TCP_RST) {
        s_remove (self, c, COLO_RW_RESET);
        return;
    }
    if (f->pkt.tcp_flags & COLO_TCP_FIN) {
        if (to_guest) {
            c->peer_fin_end = s_seg_end (f);
            c->fins |= F_PEER;
        }
        else {
            c->guest_fin_end = s_seg_end (f);
            c->fins |= F_GUEST;
        }
    }
    if (f->pkt.tcp_flags & COLO_TCP_ACK) {
        if (to_guest && (c->fins & F_GUEST)
            && colo_seq_after_eq (ack_guest_space, c->guest_fin_end))
            c->fins |= F_GUEST_ACKED;
        if (!to_guest && (c->fins & F_PEER) && colo_seq_after_eq (f->pkt.tcp_ack, c->peer_fin_end))
            c->fins |= F_PEER_ACKED;
    }
    if ((c->fins & (F_GUEST | F_PEER)) == (F_GUEST | F_PEER)) {
        if ((c->fins & (F_GUEST_ACKED | F_PEER_ACKED)) == (F_GUEST_ACKED | F_PEER_ACKED))
            s_remove (self, c, COLO_RW_CLOSED);
        else
            s_close_start (self, c, now_ms);
    }
}

//  A TCP frame toward the guest, c its entry (NULL: none), in general.
static colo_rewriter_result_t __attribute__ ((noinline))
s_to_guest_slow (colo_rewriter_t *self, s_frame_t *fp, s_conn_t *c, uint64_t now_ms)
{
#define f (*fp)
    if (c)
        s_refresh (self, c);
    uint8_t syn_ack_rst = f.pkt.tcp_flags & (COLO_TCP_SYN | COLO_TCP_ACK | COLO_TCP_RST);
    if (syn_ack_rst == COLO_TCP_SYN) {
        //  A client SYN.  A new connection, a retransmission, or the 4-tuple
        //  reused: only the guest's answer tells the last two apart, so an
        //  established entry just notes the ISN (see the SYN-ACK below).
        if (!c) {
            c = s_create (self, &f.key, now_ms);
            if (!c)
                return COLO_RW_PASSED;
            c->state = S_ACCEPT;
        }
        else if (c->state == S_EST) {
            c->syn_pending = f.pkt.tcp_seq;
            c->have |= H_PENDING;
            self->counters[COLO_RW_SYN_RETRANSMITS]++;
            return COLO_RW_PASSED;
        }
        else if (c->state == S_ACCEPT && (c->have & H_PEER) && c->peer_next == f.pkt.tcp_seq + 1) {
            self->counters[COLO_RW_SYN_RETRANSMITS]++;
            return COLO_RW_PASSED;
        }
        if (c->state == S_ACCEPT && !(c->have & H_SEC)) {
            c->peer_next = f.pkt.tcp_seq + 1;
            c->have |= H_PEER;
        }
        return COLO_RW_PASSED;
    }
    if (!c) {
        self->counters[COLO_RW_UNTRACKED]++;
        return COLO_RW_PASSED;
    }
    if (c->state == S_ACCEPT && (syn_ack_rst & COLO_TCP_ACK) && !(f.pkt.tcp_flags & COLO_TCP_SYN)
        && (!(c->have & H_PEER) || f.pkt.tcp_seq == c->peer_next)) {
        //  The client's ACK completing the handshake (or its first data, or
        //  an RST-ACK): it acknowledges the primary's ISN + 1.
        c->pri_isn = f.pkt.tcp_ack - 1;
        c->have |= H_PRI;
        if (f.pkt.tcp_has_ts && f.pkt.tcp_ts_ecr) {
            c->pri_tsval = f.pkt.tcp_ts_ecr;
            c->have |= H_PRI_TS;
        }
        if (c->have & H_SEC)
            s_learned (self, c, 0);
    }
    else if (c->state == S_OPEN && (f.pkt.tcp_flags & COLO_TCP_ACK)
             && (f.pkt.tcp_flags & (COLO_TCP_SYN | COLO_TCP_RST))) {
        //  The peer's SYN-ACK (or refusal) to the guest's SYN acknowledges
        //  the primary's ISN + 1: the primary's SYN reached the peer.
        c->pri_isn = f.pkt.tcp_ack - 1;
        c->have |= H_PRI;
        if (f.pkt.tcp_has_ts && f.pkt.tcp_ts_ecr) {
            c->pri_tsval = f.pkt.tcp_ts_ecr;
            c->have |= H_PRI_TS;
        }
        if (f.pkt.tcp_flags & COLO_TCP_SYN) {
            c->peer_next = f.pkt.tcp_seq + 1;
            c->have |= H_PEER;
        }
        s_learned (self, c, 1);
    }
    colo_rewriter_result_t result = COLO_RW_PASSED;
    uint32_t ack = f.pkt.tcp_ack;
    if (f.pkt.tcp_flags & COLO_TCP_ACK) {
        if (c->state != S_EST)
            self->counters[COLO_RW_UNLEARNED]++;
        else if (c->offset != 0) {
            ack = f.pkt.tcp_ack + c->offset;
            s_put32 (&f, f.tcp + 8, ack);
            uint32_t sack_end = f.pkt.tcp_sack_off + 8u * f.pkt.tcp_sack_count;
            if (f.pkt.tcp_sack_count && f.pkt.tcp_sack_off >= f.pkt.l4_off + 20
                && sack_end <= f.pkt.l4_off + f.pkt.l4_hdr_len) {
                for (uint32_t i = 0; i < 2u * f.pkt.tcp_sack_count; i++) {
                    uint8_t *edge = f.frame + f.pkt.tcp_sack_off + 4 * i;
                    s_put32 (&f, edge, colo_get_be32 (edge) + c->offset);
                }
                self->counters[COLO_RW_SACK_REWRITTEN]++;
            }
            self->counters[COLO_RW_REWRITTEN_TO_GUEST]++;
            if (!f.csum)
                self->counters[COLO_RW_CSUM_PARTIAL]++;
            result = COLO_RW_REWRITTEN;
        }
        if (c->state == S_EST && c->ts_offset != 0 && f.pkt.tcp_has_ts && f.pkt.tcp_ts_ecr
            && f.pkt.tcp_ts_off >= f.pkt.l4_off + 20
            && f.pkt.tcp_ts_off + 8 <= f.pkt.l4_off + f.pkt.l4_hdr_len) {
            uint8_t *ecr = f.frame + f.pkt.tcp_ts_off + 4;
            s_put32 (&f, ecr, f.pkt.tcp_ts_ecr + c->ts_offset);
            self->counters[COLO_RW_TSECR_REWRITTEN]++;
            result = COLO_RW_REWRITTEN;
        }
        s_csum_apply (&f);
    }
    if ((f.pkt.tcp_flags & (COLO_TCP_FIN | COLO_TCP_RST)) || c->fins)
        s_track_close (self, c, &f, 1, ack, now_ms);
    return result;
#undef f
}

//  A TCP frame from the guest, c its entry (NULL: none), in general.
static colo_rewriter_result_t __attribute__ ((noinline))
s_from_guest_slow (colo_rewriter_t *self, s_frame_t *fp, s_conn_t *c, uint64_t now_ms)
{
#define f (*fp)
    if (c)
        s_refresh (self, c);
    if (f.pkt.tcp_flags & COLO_TCP_SYN) {
        //  SYN and SYN-ACK carry the secondary's ISN; they go out as they
        //  are (compare judges them by flags and ack, never by ISN).
        int synack = (f.pkt.tcp_flags & COLO_TCP_ACK) != 0;
        if (!c) {
            c = s_create (self, &f.key, now_ms);
            if (!c)
                return COLO_RW_PASSED;
            c->state = synack ? S_ACCEPT : S_OPEN;
        }
        else if ((c->have & H_SEC) && c->sec_isn == f.pkt.tcp_seq) {
            self->counters[COLO_RW_SYN_RETRANSMITS]++;
            return COLO_RW_PASSED;
        }
        else if (!synack && c->state != S_OPEN) {
            //  The guest opens a connection on a 4-tuple we hold: the guest
            //  knows its sockets, so the old entry is stale.
            if (!(c = s_restart (self, c, S_OPEN)))
                return COLO_RW_PASSED;
        }
        else if (synack && c->state == S_EST) {
            //  A new ISN answering a client SYN seen on this entry: the
            //  4-tuple was reused (or the guest lost a SYN at a checkpoint).
            //  Anything else is not a handshake: learn nothing from it.
            if (!(c->have & H_PENDING) || f.pkt.tcp_ack != c->syn_pending + 1) {
                self->counters[COLO_RW_SYN_RETRANSMITS]++;
                return COLO_RW_PASSED;
            }
            if (!(c = s_restart (self, c, S_ACCEPT)))
                return COLO_RW_PASSED;
        }
        else if (c->have & H_SEC)
            self->counters[COLO_RW_ISN_CHANGED]++;   //  a new ISN mid-handshake: latest wins
        c->sec_isn = f.pkt.tcp_seq;
        c->have |= H_SEC;
        if (f.pkt.tcp_has_ts) {
            c->sec_tsval = f.pkt.tcp_ts_val;
            c->have |= H_SEC_TS;
        }
        if (synack && c->state == S_ACCEPT) {
            c->peer_next = f.pkt.tcp_ack;
            c->have |= H_PEER;
            if (c->have & H_PRI)
                s_learned (self, c, 0);   //  the client's ACK came first
        }
        return COLO_RW_PASSED;
    }
    if (!c) {
        self->counters[COLO_RW_UNTRACKED]++;
        return COLO_RW_PASSED;
    }
    colo_rewriter_result_t result = COLO_RW_PASSED;
    if (c->state != S_EST)
        self->counters[COLO_RW_UNLEARNED]++;
    else if (c->offset != 0) {
        s_put32 (&f, f.tcp + 4, f.pkt.tcp_seq - c->offset);
        s_csum_apply (&f);
        self->counters[COLO_RW_REWRITTEN_FROM_GUEST]++;
        if (!f.csum)
            self->counters[COLO_RW_CSUM_PARTIAL]++;
        result = COLO_RW_REWRITTEN;
    }
    if ((f.pkt.tcp_flags & (COLO_TCP_FIN | COLO_TCP_RST)) || c->fins)
        s_track_close (self, c, &f, 0, f.pkt.tcp_ack, now_ms);
    return result;
#undef f
}

//  The common case, kept short: a segment with ACK (and no SYN, FIN or
//  RST) of an established connection that is not closing, in the current
//  checkpoint generation.  Anything else takes the general path.
static inline int
s_plain (const colo_rewriter_t *self, const s_conn_t *c, uint8_t flags)
{
    return c && c->gen == self->gen && c->state == S_EST && !c->fins
           && (flags & (COLO_TCP_SYN | COLO_TCP_ACK | COLO_TCP_RST | COLO_TCP_FIN))
                  == COLO_TCP_ACK;
}

static inline S_HOT colo_rewriter_result_t
s_to_guest (colo_rewriter_t *self, s_frame_t *f, uint64_t now_ms)
{
    s_conn_t *c = s_find (self, f, now_ms);
    if (!s_plain (self, c, f->pkt.tcp_flags))
        return s_to_guest_slow (self, f, c, now_ms);
    //  What s_to_guest_slow does for such a frame.
    colo_rewriter_result_t result = COLO_RW_PASSED;
    if (c->offset != 0) {
        s_put32 (f, f->tcp + 8, f->pkt.tcp_ack + c->offset);
        if (f->pkt.tcp_sack_count) {
            uint32_t sack_end = f->pkt.tcp_sack_off + 8u * f->pkt.tcp_sack_count;
            if (f->pkt.tcp_sack_off >= f->pkt.l4_off + 20
                && sack_end <= f->pkt.l4_off + f->pkt.l4_hdr_len) {
                for (uint32_t i = 0; i < 2u * f->pkt.tcp_sack_count; i++) {
                    uint8_t *edge = f->frame + f->pkt.tcp_sack_off + 4 * i;
                    s_put32 (f, edge, colo_get_be32 (edge) + c->offset);
                }
                self->counters[COLO_RW_SACK_REWRITTEN]++;
            }
        }
        self->counters[COLO_RW_REWRITTEN_TO_GUEST]++;
        result = COLO_RW_REWRITTEN;
    }
    if (c->ts_offset != 0 && f->pkt.tcp_has_ts && f->pkt.tcp_ts_ecr
        && f->pkt.tcp_ts_off >= f->pkt.l4_off + 20
        && f->pkt.tcp_ts_off + 8 <= f->pkt.l4_off + f->pkt.l4_hdr_len) {
        s_put32 (f, f->frame + f->pkt.tcp_ts_off + 4, f->pkt.tcp_ts_ecr + c->ts_offset);
        self->counters[COLO_RW_TSECR_REWRITTEN]++;
        result = COLO_RW_REWRITTEN;
    }
    if (f->changed && !s_csum_put (f) && c->offset != 0)
        self->counters[COLO_RW_CSUM_PARTIAL]++;
    return result;
}

static inline S_HOT colo_rewriter_result_t
s_from_guest (colo_rewriter_t *self, s_frame_t *f, uint64_t now_ms)
{
    s_conn_t *c = s_find (self, f, now_ms);
    if (!s_plain (self, c, f->pkt.tcp_flags))
        return s_from_guest_slow (self, f, c, now_ms);
    if (c->offset == 0)
        return COLO_RW_PASSED;
    s_put32 (f, f->tcp + 4, f->pkt.tcp_seq - c->offset);
    if (!s_csum_put (f))
        self->counters[COLO_RW_CSUM_PARTIAL]++;
    self->counters[COLO_RW_REWRITTEN_FROM_GUEST]++;
    return COLO_RW_REWRITTEN;
}

colo_rewriter_result_t
colo_rewriter_to_guest (colo_rewriter_t *self, colo_buf_t *buf, uint64_t now_ms)
{
    self->counters[COLO_RW_FRAMES_TO_GUEST]++;
    s_frame_t f;
    int rc = s_decode (self, buf, &f, 1);
    if (rc <= 0)
        return rc < 0 ? COLO_RW_BAD : COLO_RW_PASSED;
    return s_to_guest (self, &f, now_ms);
}

colo_rewriter_result_t
colo_rewriter_from_guest (colo_rewriter_t *self, colo_buf_t *buf, uint64_t now_ms)
{
    self->counters[COLO_RW_FRAMES_FROM_GUEST]++;
    s_frame_t f;
    int rc = s_decode (self, buf, &f, 0);
    if (rc <= 0)
        return rc < 0 ? COLO_RW_BAD : COLO_RW_PASSED;
    return s_from_guest (self, &f, now_ms);
}

//  Frames one after the other, exactly as the per-frame calls would take
//  them; one call and one frame count a burst, and the per-frame path
//  inlined into the loop.
static inline S_HOT void
s_burst (colo_rewriter_t *self, colo_buf_t **bufs, size_t n, uint64_t now_ms,
         colo_rewriter_result_t *results, int to_guest)
{
    self->counters[to_guest ? COLO_RW_FRAMES_TO_GUEST : COLO_RW_FRAMES_FROM_GUEST] += n;
    for (size_t i = 0; i < n; i++) {
        s_frame_t f;
        int rc = s_decode (self, bufs[i], &f, to_guest);
        colo_rewriter_result_t result = rc < 0 ? COLO_RW_BAD : COLO_RW_PASSED;
        if (rc > 0)
            result = to_guest ? s_to_guest (self, &f, now_ms) : s_from_guest (self, &f, now_ms);
        if (results)
            results[i] = result;
    }
}

void
colo_rewriter_to_guest_burst (colo_rewriter_t *self, colo_buf_t **bufs, size_t n,
                              uint64_t now_ms, colo_rewriter_result_t *results)
{
    s_burst (self, bufs, n, now_ms, results, 1);
}

void
colo_rewriter_from_guest_burst (colo_rewriter_t *self, colo_buf_t **bufs, size_t n,
                                uint64_t now_ms, colo_rewriter_result_t *results)
{
    s_burst (self, bufs, n, now_ms, results, 0);
}

//  ---------------------------------------------------------------- control

void
colo_rewriter_tick (colo_rewriter_t *self, uint64_t now_ms)
{
    while (self->close_head && self->close_head->close_deadline_ms <= now_ms)
        s_remove (self, self->close_head, COLO_RW_CLOSED);
    s_conn_t *c;
    while ((c = (s_conn_t *) colo_conntable_oldest (self->table))
           && colo_conntable_last_active (self->table, c) + self->cfg.idle_timeout_ms
                  <= now_ms)
        s_remove (self, c, COLO_RW_IDLE);
}

void
colo_rewriter_checkpoint_done (colo_rewriter_t *self)
{
    self->gen++;
    self->counters[COLO_RW_CHECKPOINTS]++;
}

void
colo_rewriter_failover (colo_rewriter_t *self)
{
    self->failover = 1;
    self->counters[COLO_RW_FAILOVERS]++;
}

int
colo_rewriter_offset (colo_rewriter_t *self, const colo_flow_key_t *key, uint32_t *offset)
{
    s_conn_t *c = (s_conn_t *) colo_conntable_find (self->table, key);
    if (!c)
        return -1;
    s_refresh (self, c);
    if (c->state != S_EST)
        return 0;
    if (offset)
        *offset = c->offset;
    return 1;
}

const uint64_t *
colo_rewriter_counters (colo_rewriter_t *self)
{
    return self->counters;
}

const uint64_t *
colo_rewriter_decode_counters (colo_rewriter_t *self)
{
    for (unsigned k = 0; k < 4; k++) {
        uint64_t n = 0;
        for (unsigned v = 1; v < 16; v++)
            if ((v >> k) & 1)
                n += self->info_seen[v];
        self->pkt_counters[COLO_PKT_INFO_FRAGMENT + k] = n;
    }
    return self->pkt_counters;
}

size_t
colo_rewriter_connections (colo_rewriter_t *self)
{
    return colo_conntable_count (self->table);
}
