/*  colo_compare.c - the comparison engine: per-connection output comparison and release.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  TCP is compared as two byte streams by sequence position: cmp_seq is the
 *  point up to which both guests produced equal bytes.  A primary segment
 *  whose bytes all lie below cmp_seq is verified; it leaves when the
 *  secondary has acknowledged as much as it does, or (ack policy "lower")
 *  with its ack lowered to the secondary's.  Segments without data are
 *  judged by flags and ack.  Primary frames of a connection leave in the
 *  order they came.
 *
 *  Datagrams (UDP, ICMP, ICMPv6, other IP, ARP, other ethertypes) are
 *  matched per flow: a primary datagram takes the oldest equal secondary
 *  datagram; matched primaries leave in the primary's order.  Unmatched
 *  datagrams on both sides for longer than the reorder grace are a mismatch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo_compare.h"
#include "colo_conntable.h"
#include "colo_csum.h"
#include "colo_log.h"
#include "colo_ruleset.h"
#include "colo_seq.h"

const char *const colo_compare_reason_names[COLO_REASON_COUNT] = {
    "none",          "mismatch_tcp", "mismatch_udp", "mismatch_icmp", "mismatch_ip",
    "mismatch_l2",   "timeout",      "queue_full",   "table_full",
};

const char *const colo_compare_counter_names[COLO_CMP_COUNTER_COUNT] = {
    "primary_frames",     "secondary_frames",    "released",
    "released_matched",   "released_retransmit", "released_flush",
    "ack_lowered",        "bytes_compared",      "secondary_matched",
    "secondary_stale",    "secondary_flushed",   "mismatch_tcp",
    "mismatch_udp",       "mismatch_icmp",       "mismatch_ip",
    "mismatch_l2",        "timeouts",            "queue_full",
    "table_full",         "malformed_primary",   "malformed_secondary",
    "conns_created",      "conns_closed",        "conns_idle",
    "conns_evicted",      "checkpoints",         "released_bypass",
    "secondary_bypassed", "released_failover", "flush_duplicates",   "secondary_lost",
    "released_lost",
};

typedef struct s_item {
    struct s_item *next;
    colo_buf_t *buf;
    uint64_t arrival_ms;
    //  TCP
    uint32_t seq, end;        //  payload sequence range (FIN not included)
    uint32_t ack;
    uint32_t tcp_off;         //  TCP header offset in buf->data
    uint16_t win;             //  the window field as sent
    uint8_t wscale;           //  window scale option (SYN, SYN-ACK), 0xff if absent
    uint8_t flags;
    uint8_t csum_updatable;   //  0 when a vnet header asks the device for the checksum
    uint8_t borrowed;         //  buf is colo_compare_secondary_view's, while it runs
    //  datagrams
    uint8_t matched;
    //  compared region(s), offsets in buf->data
    uint32_t r1_off, r1_len, r2_off, r2_len;
} s_item_t;

typedef struct {
    s_item_t *head, *tail;
    uint32_t count;
} s_queue_t;

typedef enum { S_KIND_TCP = 1, S_KIND_DGRAM = 2 } s_kind_t;

typedef struct s_conn {
    struct s_conn *busy_prev, *busy_next;   //  on the busy list while frames are queued
    s_queue_t pq, sq;
    uint8_t kind;
    uint8_t reason;           //  mismatch reason for this flow's kind
    uint8_t diverged;         //  a mismatch: only a checkpoint releases it
    uint8_t closing;          //  FIN or RST released
    uint8_t busy;
    //  TCP
    uint8_t cmp_valid, s_ack_valid, released_valid, p_ack_valid;
    uint8_t s_syn, s_synack, s_fin, s_rst, syn_released, p_fin;
    //  window scales (shift counts), from each guest's SYN or SYN-ACK
    uint8_t p_ws, s_ws, p_ws_known, s_ws_known, p_ws_synack, s_ws_synack;
    uint8_t s_right_valid;
    uint32_t cmp_seq;         //  bytes before it are verified equal
    uint32_t s_ack;           //  highest ack the secondary sent
    uint32_t s_right;         //  highest right window edge the secondary offered
    uint32_t s_synack_ack, s_fin_seq, syn_seq, p_fin_seq;
    uint32_t released_end;    //  highest sequence released (FIN counted)
    uint32_t p_ack_max;       //  highest ack released
    //  datagrams
    uint32_t p_unmatched;
    uint64_t suspect_since;   //  unmatched datagrams on both sides since
    uint32_t epoch;           //  the engine's when this state was last valid
} s_conn_t;

struct colo_compare {
    colo_compare_config_t cfg;
    colo_conntable_t *table;
    uint64_t seed;            //  the table's hash seed
    s_conn_t *busy_head;
    colo_bufq_t out;          //  released frames, in order
    //  the first checkpoint-worthy event since the last take_request
    int request;
    colo_compare_reason_t request_reason;
    char request_desc[160];
    size_t diverged_count;
    int refused;              //  input refused since the last checkpoint
    uint64_t next_deadline;
    size_t queued_p, queued_s;
    colo_compare_mismatch_fn *on_mismatch;
    void *on_mismatch_arg;
    uint64_t counters[COLO_CMP_COUNTER_COUNT];
    uint64_t pkt_counters[COLO_PKT_COUNTER_COUNT];
    colo_ratelimit_t rl;
    s_item_t *item_cache;     //  free items, reused (one per queued frame)
    size_t item_cached;
    const colo_ruleset_t *rules;  //  passthrough rules (borrowed), or NULL
    uint64_t *rule_ids;       //  per-rule hit counters, by position in rules
    uint64_t *rule_hits;
    size_t rule_count;
    int failover;             //  no secondary any more: release everything
    s_item_t *warm;           //  a queued item to prefetch the buffer of (see s_warm)
    s_item_t *warm_frame;     //  and one whose buffer was: the frame's bytes next
    colo_buf_slab_t *view_slab;   //  while colo_compare_secondary_frame runs: its view's slab
    uint32_t epoch;           //  a new one when replication resumes after a failover
};

//  Items kept for reuse at most (a malloc and free per frame was an eighth
//  of the engine's instructions).  None under AddressSanitizer, so a use
//  after free is still caught.
#define S_ITEM_CACHE_MAX 4096
#if defined(__SANITIZE_ADDRESS__)
#define S_ITEM_CACHING 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define S_ITEM_CACHING 0
#endif
#endif
#ifndef S_ITEM_CACHING
#define S_ITEM_CACHING 1
#endif

void
colo_compare_config_defaults (colo_compare_config_t *cfg)
{
    memset (cfg, 0, sizeof *cfg);
    cfg->compare_timeout_ms = 3000;
    cfg->max_queue_size = 1024;
    cfg->max_connections = 1u << 20;
    cfg->tcp_idle_ms = 300000;
    cfg->dgram_idle_ms = 60000;
    cfg->closed_linger_ms = 10000;
    cfg->reorder_grace_ms = 20;
    cfg->ack_policy = COLO_ACK_LOWER;
    cfg->lookahead_connections = 2048;
}

colo_compare_t *
colo_compare_new (const colo_compare_config_t *cfg)
{
    if (!cfg || cfg->compare_timeout_ms == 0 || cfg->max_queue_size == 0
        || cfg->max_connections == 0)
        return NULL;
    colo_compare_t *self = (colo_compare_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    self->table = colo_conntable_new (cfg->max_connections, sizeof (s_conn_t), 0);
    if (!self->table || colo_bufq_grow (&self->out) != 0) {
        colo_compare_destroy (&self);
        return NULL;
    }
    self->seed = colo_conntable_seed (self->table);
    self->next_deadline = UINT64_MAX;
    self->rl = (colo_ratelimit_t) COLO_RATELIMIT_INIT (10000, 5);
    return self;
}

static void
s_queue_free (s_queue_t *q)
{
    s_item_t *item = q->head;
    while (item) {
        s_item_t *next = item->next;
        colo_buf_destroy (&item->buf);
        free (item);
        item = next;
    }
    memset (q, 0, sizeof *q);
}

static void
s_conn_free (void *value, void *arg)
{
    (void) arg;
    s_conn_t *conn = (s_conn_t *) value;
    s_queue_free (&conn->pq);
    s_queue_free (&conn->sq);
}

void
colo_compare_destroy (colo_compare_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    colo_compare_t *self = *self_p;
    colo_conntable_destroy (&self->table, s_conn_free, NULL);
    colo_bufq_destroy (&self->out);
    free (self->rule_ids);
    free (self->rule_hits);
    while (self->item_cache) {
        s_item_t *next = self->item_cache->next;
        free (self->item_cache);
        self->item_cache = next;
    }
    free (self);
    *self_p = NULL;
}

void
colo_compare_set_mismatch_handler (colo_compare_t *self, colo_compare_mismatch_fn *fn,
                                   void *arg)
{
    self->on_mismatch = fn;
    self->on_mismatch_arg = arg;
}

//  ---------------------------------------------------------------- helpers

//  The connection joins or leaves the busy list (s_busy_update).
static void
s_busy_set (colo_compare_t *self, s_conn_t *conn, int busy)
{
    if (busy) {
        conn->busy_prev = NULL;
        conn->busy_next = self->busy_head;
        if (self->busy_head)
            self->busy_head->busy_prev = conn;
        self->busy_head = conn;
    }
    else {
        if (conn->busy_prev)
            conn->busy_prev->busy_next = conn->busy_next;
        else
            self->busy_head = conn->busy_next;
        if (conn->busy_next)
            conn->busy_next->busy_prev = conn->busy_prev;
        conn->busy_prev = conn->busy_next = NULL;
    }
    conn->busy = (uint8_t) busy;
}

//  On the busy list while frames of the connection are queued.
static inline void
s_busy_update (colo_compare_t *self, s_conn_t *conn)
{
    int busy = conn->pq.count || conn->sq.count;
    if (busy != conn->busy)
        s_busy_set (self, conn, busy);
}

static void
s_push (s_queue_t *q, s_item_t *item)
{
    item->next = NULL;
    if (q->tail)
        q->tail->next = item;
    else
        q->head = item;
    q->tail = item;
    q->count++;
}

static s_item_t *
s_pop (s_queue_t *q)
{
    s_item_t *item = q->head;
    if (item) {
        q->head = item->next;
        if (!q->head)
            q->tail = NULL;
        q->count--;
        item->next = NULL;
    }
    return item;
}

//  Unlink item whose predecessor is prev (NULL for the head).
static void
s_unlink (s_queue_t *q, s_item_t *prev, s_item_t *item)
{
    if (prev)
        prev->next = item->next;
    else
        q->head = item->next;
    if (q->tail == item)
        q->tail = prev;
    q->count--;
    item->next = NULL;
}

//  No memory to queue a released frame: it is lost, counted and logged
//  (the peer's retransmission brings its bytes again).
static __attribute__ ((noinline, cold)) void
s_out_lost (colo_compare_t *self, colo_buf_t *buf)
{
    self->counters[COLO_CMP_RELEASED_LOST]++;
    colo_log_limited (&self->rl, COLO_LOG_ERROR,
                      "compare: out of memory queueing a released frame of %u bytes: "
                      "dropped (%zu waiting for outdev)",
                      buf->len, self->out.count);
    colo_buf_destroy (&buf);
}

static inline void
s_out_push (colo_compare_t *self, colo_buf_t *buf)
{
    if (colo_bufq_push (&self->out, buf) != 0)
        s_out_lost (self, buf);
}

//  Items are a cache line each, on a line: a queued frame that waited for
//  its twin is read back from a cold cache, one miss rather than two.
#define S_ITEM_ALIGN 64
_Static_assert (sizeof (s_item_t) <= S_ITEM_ALIGN, "an item fits a cache line");

static s_item_t *
s_item_new (colo_compare_t *self)
{
    s_item_t *item = self->item_cache;
    if (!item)
        return (s_item_t *) aligned_alloc (S_ITEM_ALIGN, S_ITEM_ALIGN);
    self->item_cache = item->next;
    self->item_cached--;
    //  The next one was freed long ago: load its line before it is wanted.
    if (item->next)
        __builtin_prefetch (item->next, 1);
    return item;
}

static void
s_item_free (colo_compare_t *self, s_item_t *item)
{
    if (item == self->warm)
        self->warm = NULL;
    if (item == self->warm_frame)
        self->warm_frame = NULL;
    if (S_ITEM_CACHING && self->item_cached < S_ITEM_CACHE_MAX) {
        item->next = self->item_cache;
        self->item_cache = item;
        self->item_cached++;
    }
    else
        free (item);
}

//  Hand the primary item's frame to the output and free the item.
static inline void
s_release (colo_compare_t *self, s_item_t *item, colo_compare_counter_t why)
{
    s_out_push (self, item->buf);
    self->counters[COLO_CMP_RELEASED]++;
    self->counters[why]++;
    self->queued_p--;
    s_item_free (self, item);
}

static void
s_drop_secondary (colo_compare_t *self, s_item_t *item, colo_compare_counter_t why)
{
    self->counters[why]++;
    self->queued_s--;
    if (item->borrowed) {
        item->buf = NULL;   //  colo_compare_secondary_view's bytes: s_settle_borrowed
        return;
    }
    colo_buf_destroy (&item->buf);
    s_item_free (self, item);
}

//  Describe a flow; non-IP flows (family 0) carry their ethertype in port_lo.
static void
s_key_str (const colo_flow_key_t *key, char *buf, size_t cap)
{
    if (key->family == 0)
        snprintf (buf, cap, "ethertype 0x%04x vlan %u", key->port_lo, key->vlan);
    else
        colo_flow_key_str (key, buf, cap);
}

static void
s_raise (colo_compare_t *self, colo_compare_reason_t reason, const colo_flow_key_t *key)
{
    if (self->request)
        return;
    self->request = 1;
    self->request_reason = reason;
    if (key)
        s_key_str (key, self->request_desc, sizeof self->request_desc);
    else
        self->request_desc[0] = 0;
}

//  A timeout request, with what waits: the oldest frame (side, sequence
//  range, flags, ack, age) and, for TCP, how far the comparison got.
static void
s_raise_timeout (colo_compare_t *self, s_conn_t *conn, const s_item_t *old, int primary,
                 uint64_t age_ms)
{
    if (self->request)
        return;
    s_raise (self, COLO_REASON_TIMEOUT, colo_conntable_key (self->table, conn));
    size_t used = strlen (self->request_desc);
    size_t cap = sizeof self->request_desc - used;
    if (conn->kind == S_KIND_TCP) {
        static const char names[] = "FSRPAUEC";
        char flags[9];
        int k = 0;
        for (int i = 0; i < 8; i++)
            if (old->flags & (1 << i))
                flags[k++] = names[i];
        flags[k] = 0;
        snprintf (self->request_desc + used, cap,
                  ": %s %u+%u %s ack %u, %llu ms; cmp %u%s, sec ack %u%s%s",
                  primary ? "pri" : "sec", old->seq, old->end - old->seq, flags, old->ack,
                  (unsigned long long) age_ms, conn->cmp_seq, conn->cmp_valid ? "" : "?",
                  conn->s_ack, conn->s_fin ? " fin" : "", conn->s_rst ? " rst" : "");
    }
    else
        snprintf (self->request_desc + used, cap, ": %s datagram of %u bytes, %llu ms",
                  primary ? "pri" : "sec", old->buf->len, (unsigned long long) age_ms);
}

static long
s_first_diff (const uint8_t *a, const uint8_t *b, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (a[i] != b[i])
            return (long) i;
    return -1;
}

static void
s_mismatch (colo_compare_t *self, s_conn_t *conn, const s_item_t *p, const s_item_t *s,
            long offset)
{
    static const colo_compare_counter_t counter_of[COLO_REASON_COUNT] = {
        [COLO_REASON_MISMATCH_TCP] = COLO_CMP_MISMATCH_TCP,
        [COLO_REASON_MISMATCH_UDP] = COLO_CMP_MISMATCH_UDP,
        [COLO_REASON_MISMATCH_ICMP] = COLO_CMP_MISMATCH_ICMP,
        [COLO_REASON_MISMATCH_IP] = COLO_CMP_MISMATCH_IP,
        [COLO_REASON_MISMATCH_L2] = COLO_CMP_MISMATCH_L2,
    };
    colo_compare_reason_t reason = (colo_compare_reason_t) conn->reason;
    if (!conn->diverged) {
        conn->diverged = 1;
        self->diverged_count++;
    }
    self->counters[counter_of[reason]]++;
    const colo_flow_key_t *key = colo_conntable_key (self->table, conn);
    s_raise (self, reason, key);
    if (self->on_mismatch)
        self->on_mismatch (self->on_mismatch_arg, reason, key, p ? p->buf : NULL,
                           s ? s->buf : NULL, offset);
}

//  ---------------------------------------------------------------- classification

typedef struct {
    colo_pkt_result_t rc;
    uint8_t info;             //  the decoder's informational findings
    colo_packet_t pkt;
    colo_flow_key_t key;
    uint64_t hash;            //  of key, with the table's seed
    s_kind_t kind;
    colo_compare_reason_t reason;
} s_parsed_t;

//  The item's fields for a TCP segment whose header is at l4_off of the
//  frame (offsets from data, the first v bytes a virtio-net header).
static inline void
s_tcp_item (s_item_t *item, const uint8_t *data, uint32_t v, const colo_tcp_seg_t *seg,
            uint32_t l4_off)
{
    item->seq = seg->seq;
    item->end = seg->seq + seg->payload_len;
    item->ack = seg->ack;
    item->flags = seg->flags;
    item->win = seg->window;
    item->wscale = seg->wscale;
    item->tcp_off = v + l4_off;
    item->r1_off = v + seg->payload_off;
    item->r1_len = seg->payload_len;
    //  virtio-net NEEDS_CSUM: the field holds a partial sum the device
    //  completes over the header, so it must not be patched.
    item->csum_updatable = !(v > 0 && (data[0] & 1));
}

//  The item's fields for a UDP datagram: its ports and its payload.
static inline void
s_udp_item (s_item_t *item, uint32_t v, uint32_t l4_off, uint32_t payload_off,
            uint32_t payload_len)
{
    item->r1_off = v + l4_off;   //  ports
    item->r1_len = 4;
    item->r2_off = v + payload_off;
    item->r2_len = payload_len;
}

//  A frame the light decode took: its result and findings (counted if
//  counters is not NULL), and an item with nothing set yet.
static inline void
s_lite_taken (s_parsed_t *out, uint64_t *counters, uint8_t info, s_item_t *item)
{
    out->rc = COLO_PKT_OK;
    out->info = info;
    if (counters)
        colo_packet_count_info (counters, COLO_PKT_OK, info);
    memset (item, 0, sizeof *item);
}

//  A TCP segment the light decode took (seg, its frame after v bytes of
//  data) into out and the item.
static inline __attribute__ ((always_inline)) void
s_lite_tcp (s_parsed_t *out, uint64_t *counters, uint64_t seed, const uint8_t *data, uint32_t v,
            const colo_tcp_seg_t *seg, s_item_t *item)
{
    colo_flow_key_hash_tcp (&out->key, &out->hash, data + v, seg, seed);
    s_lite_taken (out, counters, seg->info, item);
    s_tcp_item (item, data, v, seg, seg->l4_off);
    out->kind = S_KIND_TCP;
    out->reason = COLO_REASON_MISMATCH_TCP;
}

//  Decode a frame as a buffer holds it (data[0..len), the first v bytes a
//  virtio-net header) into out and the item's fields, offsets from data;
//  item->buf is left NULL.  The decoder's findings are counted only if
//  counters is not NULL.  With lite, a plain IPv4 or IPv6 TCP segment or
//  UDP datagram is decoded only as far as compare needs (out->pkt is not
//  set then: only for a caller without rules).  Returns -1 if the frame cannot be parsed.
static inline __attribute__ ((always_inline)) int
s_parse (const uint8_t *data, uint32_t len, uint32_t v, uint64_t *counters, uint64_t seed,
         int lite, s_parsed_t *out, s_item_t *item)
{
    if (v > len) {   //  a virtio-net header longer than the frame
        out->rc = COLO_PKT_ERR_RUNT;
        out->info = 0;
        return -1;
    }
    const uint8_t *frame = data + v;
    len -= v;
    if (lite) {
        //  A seg of its own that nothing takes the address of out of line:
        //  it stays in registers.
        colo_tcp_seg_t plain;
        if (colo_packet_tcp4_plain (&plain, frame, len)) {
            s_lite_tcp (out, counters, seed, data, v, &plain, item);
            return 0;
        }
        colo_tcp_seg_t plain6;
        if (colo_packet_tcp6_plain (&plain6, frame, len)) {
            s_lite_tcp (out, counters, seed, data, v, &plain6, item);
            return 0;
        }
        colo_tcp_seg_t tagged;
        if (colo_packet_tcp_plain_tagged (&tagged, frame, len)) {
            s_lite_tcp (out, counters, seed, data, v, &tagged, item);
            return 0;
        }
    }
    //  Untagged IPv4 that says UDP is no TCP segment: no TCP decoder tried.
    int udp4 = len >= 24 && frame[12] == 0x08 && frame[13] == 0x00 && frame[23] == 17;
    colo_tcp_seg_t seg;
    if (lite && !udp4
        && (colo_packet_tcp4 (&seg, frame, len) || colo_packet_tcp6 (&seg, frame, len))) {
        s_lite_tcp (out, counters, seed, data, v, &seg, item);
        return 0;
    }
    colo_udp_seg_t useg;
    if (lite && colo_packet_udp (&useg, frame, len)) {
        colo_flow_key_hash_udp (&out->key, &out->hash, frame, &useg, seed);
        s_lite_taken (out, counters, useg.info, item);
        s_udp_item (item, v, useg.l4_off, useg.payload_off, useg.payload_len);
        out->kind = S_KIND_DGRAM;
        out->reason = COLO_REASON_MISMATCH_UDP;
        return 0;
    }
    colo_packet_t *pkt = &out->pkt;
    out->rc = colo_packet_decode (pkt, frame, len, counters);
    out->info = pkt->info;
    if (out->rc != COLO_PKT_OK)
        return -1;
    memset (item, 0, sizeof *item);
    if (pkt->l3 == COLO_L3_IPV4 || pkt->l3 == COLO_L3_IPV6) {
        if (colo_flow_key_hash (&out->key, &out->hash, pkt, frame, seed) != 0)
            out->hash = colo_flow_hash (&out->key, seed);   //  (cannot happen once decoded)
        if (pkt->l4 == COLO_L4_TCP) {
            out->kind = S_KIND_TCP;
            out->reason = COLO_REASON_MISMATCH_TCP;
            seg.seq = pkt->tcp_seq;
            seg.ack = pkt->tcp_ack;
            seg.payload_off = pkt->payload_off;
            seg.payload_len = pkt->payload_len;
            seg.flags = pkt->tcp_flags;
            seg.window = pkt->tcp_window;
            seg.wscale = pkt->tcp_wscale;
            s_tcp_item (item, data, v, &seg, pkt->l4_off);
            return 0;
        }
        out->kind = S_KIND_DGRAM;
        if (pkt->l4 == COLO_L4_UDP) {
            out->reason = COLO_REASON_MISMATCH_UDP;
            s_udp_item (item, v, pkt->l4_off, pkt->payload_off, pkt->payload_len);
        }
        else if (pkt->l4 == COLO_L4_ICMP || pkt->l4 == COLO_L4_ICMPV6) {
            out->reason = COLO_REASON_MISMATCH_ICMP;
            item->r1_off = v + pkt->l4_off;   //  type, code
            item->r1_len = 2;
            item->r2_off = v + pkt->l4_off + 4;   //  everything after the checksum
            item->r2_len = pkt->l3_end - pkt->l4_off - 4;
        }
        else {
            out->reason = COLO_REASON_MISMATCH_IP;
            if (pkt->l3 == COLO_L3_IPV4 && pkt->is_fragment) {
                item->r1_off = v + pkt->l3_off + 6;   //  flags and fragment offset
                item->r1_len = 2;
            }
            item->r2_off = v + pkt->payload_off;
            item->r2_len = pkt->l3_end - pkt->payload_off;
        }
        return 0;
    }
    //  ARP and other ethertypes: one flow per ethertype and VLAN.
    memset (&out->key, 0, sizeof out->key);
    out->key.port_lo = pkt->ethertype;
    out->key.vlan = pkt->vlan_count ? (uint16_t) (pkt->vlan_tci[0] & 0x0fff) : 0;
    out->hash = colo_flow_hash (&out->key, seed);
    out->kind = S_KIND_DGRAM;
    out->reason = COLO_REASON_MISMATCH_L2;
    if (pkt->l3 == COLO_L3_ARP) {
        item->r1_off = v;   //  destination and source MAC
        item->r1_len = 12;
        item->r2_off = v + pkt->l3_off;
        item->r2_len = pkt->l3_end - pkt->l3_off;
    }
    else {
        item->r2_off = v;
        item->r2_len = len;
    }
    return 0;
}

static int
s_dgram_equal (const s_item_t *a, const s_item_t *b)
{
    return a->r1_len == b->r1_len && a->r2_len == b->r2_len
           && memcmp (a->buf->data + a->r1_off, b->buf->data + b->r1_off, a->r1_len) == 0
           && memcmp (a->buf->data + a->r2_off, b->buf->data + b->r2_off, a->r2_len) == 0;
}

static long
s_dgram_diff (const s_item_t *a, const s_item_t *b)
{
    if (a->r1_len != b->r1_len || a->r2_len != b->r2_len)
        return 0;
    long d = s_first_diff (a->buf->data + a->r1_off, b->buf->data + b->r1_off, a->r1_len);
    if (d >= 0)
        return d;
    d = s_first_diff (a->buf->data + a->r2_off, b->buf->data + b->r2_off, a->r2_len);
    return d >= 0 ? (long) a->r1_len + d : -1;
}

//  ---------------------------------------------------------------- TCP

//  Lower the ack of a primary segment to the secondary's, keeping the
//  checksum right.
static void
s_lower_ack (colo_compare_t *self, s_item_t *item, uint32_t ack)
{
    uint8_t *tcp = item->buf->data + item->tcp_off;
    colo_put_be32 (tcp + 8, ack);
    if (item->csum_updatable)
        colo_csum_update32 (tcp + 16, item->ack, ack);
    item->ack = ack;
    self->counters[COLO_CMP_ACK_LOWERED]++;
}

//  Drop queued secondary segments that lie wholly below cmp_seq: copies of
//  bytes already compared, such as a retransmission that came while the
//  first copy still waited for the primary.  Left in the queue, one would
//  wait there until it timed out.  sq is sorted by seq, so only the items
//  that start below cmp_seq are looked at.
static void
s_tcp_drop_verified (colo_compare_t *self, s_conn_t *conn)
{
    if (!conn->cmp_valid)
        return;
    s_item_t *prev = NULL, *s = conn->sq.head;
    while (s && colo_seq_before (s->seq, conn->cmp_seq)) {
        s_item_t *next = s->next;
        if (colo_seq_before_eq (s->end, conn->cmp_seq)) {
            s_unlink (&conn->sq, prev, s);
            s_drop_secondary (self, s, COLO_CMP_SECONDARY_STALE);
        }
        else
            prev = s;
        s = next;
    }
}

//  Advance cmp_seq toward target through the secondary segments, comparing
//  with the primary head h.  Returns -1 on a mismatch, else 0.
static int
s_tcp_compare (colo_compare_t *self, s_conn_t *conn, s_item_t *h, uint32_t target)
{
    while (colo_seq_before (conn->cmp_seq, target)) {
        s_item_t *s = conn->sq.head;
        while (s && colo_seq_before_eq (s->end, conn->cmp_seq)) {
            s_pop (&conn->sq);
            s_drop_secondary (self, s, COLO_CMP_SECONDARY_MATCHED);
            s = conn->sq.head;
        }
        if (!s || colo_seq_after (s->seq, conn->cmp_seq))
            return 0;   //  the secondary has not produced these bytes yet
        uint32_t stop = colo_seq_before (s->end, target) ? s->end : target;
        uint32_t n = stop - conn->cmp_seq;
        const uint8_t *pb = h->buf->data + h->r1_off + (conn->cmp_seq - h->seq);
        const uint8_t *sb = s->buf->data + s->r1_off + (conn->cmp_seq - s->seq);
        if (memcmp (pb, sb, n) != 0) {
            long off = s_first_diff (pb, sb, n);
            s_mismatch (self, conn, h, s,
                        off < 0 ? -1 : (long) (conn->cmp_seq - h->seq) + off);
            return -1;
        }
        conn->cmp_seq = stop;
        self->counters[COLO_CMP_BYTES_COMPARED] += n;
        if (colo_seq_before_eq (s->end, conn->cmp_seq)) {
            s_pop (&conn->sq);
            s_drop_secondary (self, s, COLO_CMP_SECONDARY_MATCHED);
        }
    }
    return 0;
}

static inline void
s_note_released (s_conn_t *conn, const s_item_t *h)
{
    uint32_t end = h->end + ((h->flags & (COLO_TCP_SYN | COLO_TCP_FIN)) ? 1 : 0);
    if (!conn->released_valid || colo_seq_after (end, conn->released_end)) {
        conn->released_end = end;
        conn->released_valid = 1;
    }
    if (h->flags & COLO_TCP_ACK) {
        if (!conn->p_ack_valid || colo_seq_after (h->ack, conn->p_ack_max)) {
            conn->p_ack_max = h->ack;
            conn->p_ack_valid = 1;
        }
    }
    if (h->flags & COLO_TCP_FIN) {
        conn->p_fin = 1;
        conn->p_fin_seq = h->end;
    }
    if (h->flags & (COLO_TCP_FIN | COLO_TCP_RST))
        conn->closing = 1;
}

//  The shift a window scale option announces (RFC 7323: absent is 0, more
//  than 14 counts as 14).
static uint8_t
s_wscale_shift (uint8_t option)
{
    return option == 0xff ? 0 : option > 14 ? 14 : option;
}

//  The client takes its send window from the primary's segments only; data
//  beyond the secondary's window would be dropped by the secondary guest and
//  never sent again (the client has the primary's ACK for it), so the
//  connection would wait for a checkpoint.  Lower the window of a released
//  segment so that its right edge is not beyond the secondary's, keeping
//  the checksum right.  Rounding is down, so the edge never passes the
//  secondary's.  The scales come from the guests' SYN-ACKs (the guest
//  accepted: exact), or from their SYNs when equal (the guest opened: the
//  peer's answer, which compare does not see, enables that scale for both
//  or none; either way the edge computed with the SYN's scale is not
//  beyond the secondary's real one).
static void
s_clamp_window (s_conn_t *conn, s_item_t *h)
{
    if (!(h->flags & COLO_TCP_ACK) || (h->flags & (COLO_TCP_SYN | COLO_TCP_RST))
        || !conn->s_right_valid || !conn->p_ws_known || !conn->s_ws_known)
        return;
    if (!(conn->p_ws_synack && conn->s_ws_synack) && conn->p_ws != conn->s_ws)
        return;
    uint32_t room = colo_seq_after (conn->s_right, h->ack) ? conn->s_right - h->ack : 0;
    uint32_t limit = room >> conn->p_ws;
    if (limit >= h->win)
        return;
    uint8_t *tcp = h->buf->data + h->tcp_off;
    colo_put_be16 (tcp + 14, (uint16_t) limit);
    if (h->csum_updatable)
        colo_csum_update16 (tcp + 16, h->win, (uint16_t) limit);
    h->win = (uint16_t) limit;
}

//  The release rule for the acknowledgement of a verified segment: 1 to
//  release (possibly after lowering its ack), 0 to hold.
static inline int
s_tcp_ack_ok (colo_compare_t *self, s_conn_t *conn, s_item_t *h, int may_lower)
{
    if (!(h->flags & COLO_TCP_ACK))
        return 1;
    if (conn->s_ack_valid && colo_seq_after_eq (conn->s_ack, h->ack))
        return 1;
    if (may_lower && self->cfg.ack_policy == COLO_ACK_LOWER && conn->s_ack_valid) {
        s_lower_ack (self, h, conn->s_ack);
        return 1;
    }
    return 0;
}

//  Release the head h of the connection's primary queue.
static inline void
s_tcp_let_go (colo_compare_t *self, s_conn_t *conn, s_item_t *h, colo_compare_counter_t why)
{
    s_clamp_window (conn, h);
    s_pop (&conn->pq);
    //  The next segment waited in the queue since it came (its line is
    //  cold by now); it is looked at next, here or at the secondary's next
    //  segment.
    if (conn->pq.head) {
        __builtin_prefetch (conn->pq.head);
        self->warm = conn->pq.head;
    }
    s_note_released (conn, h);
    s_release (self, h, why);
}

static void
s_tcp_run (colo_compare_t *self, s_conn_t *conn)
{
    s_item_t *h;
    while (!conn->diverged && (h = conn->pq.head)) {
        colo_compare_counter_t why = COLO_CMP_RELEASED_MATCHED;
        uint8_t f = h->flags;
        if (f & COLO_TCP_SYN) {
            //  The ISNs differ legitimately: judge by flags (and the ack of
            //  a SYN-ACK, which both guests take from the peer's SYN).
            if (f & COLO_TCP_ACK) {
                if (!conn->s_synack)
                    break;
                if (conn->s_synack_ack != h->ack) {
                    s_mismatch (self, conn, h, NULL, -1);
                    break;
                }
            }
            else if (!conn->s_syn
                     && !(conn->syn_released && conn->syn_seq == h->seq))
                break;
            conn->syn_released = 1;
            conn->syn_seq = h->seq;
            conn->p_ws = s_wscale_shift (h->wscale);
            conn->p_ws_known = 1;
            conn->p_ws_synack = (f & COLO_TCP_ACK) ? 1 : 0;
            //  Data on a SYN (fast open) is not compared: its sequence space
            //  is the guest's own until the rewriter learns the offset.
            conn->cmp_seq = h->end + 1;
            conn->cmp_valid = 1;
        }
        else if (f & COLO_TCP_RST) {
            if (!conn->s_rst) {
                //  RST here, FIN there is a divergence, unless this guest
                //  closed at the same point too: a reset after both FINs
                //  answers a late segment (the client's ACK of a FIN sent
                //  twice, data after the close), and the secondary answers
                //  it alike; its RST may just not be here yet.
                if (conn->s_fin && !(conn->p_fin && conn->p_fin_seq == conn->s_fin_seq))
                    s_mismatch (self, conn, h, NULL, -1);
                break;
            }
        }
        else if (h->end == h->seq && !(f & COLO_TCP_FIN)) {
            //  A pure ACK (or window update): only once the secondary has
            //  acknowledged as much; never lowered (that would forge a
            //  duplicate ACK).
            if (!s_tcp_ack_ok (self, conn, h, 0))
                break;
        }
        else {
            if (!conn->cmp_valid) {
                //  First data seen on this connection (compare started mid-way,
                //  or after aging): tracking starts at this segment.
                conn->cmp_seq = h->seq;
                conn->cmp_valid = 1;
            }
            if (colo_seq_after (h->seq, conn->cmp_seq))
                break;   //  a hole in the primary's own stream: wait (timeout)
            int retransmit = colo_seq_before_eq (h->end, conn->cmp_seq);
            if (!retransmit && s_tcp_compare (self, conn, h, h->end) != 0)
                break;
            if (colo_seq_before (conn->cmp_seq, h->end))
                break;   //  waiting for the secondary's bytes
            if (f & COLO_TCP_FIN) {
                int fin_done = conn->released_valid && (conn->closing)
                               && colo_seq_after_eq (conn->released_end, h->end + 1);
                if (!fin_done) {
                    //  A secondary FIN at the same point matches, even if
                    //  the secondary reset afterwards (a late segment).
                    if (!conn->s_fin) {
                        if (conn->s_rst)   //  FIN here, RST there
                            s_mismatch (self, conn, h, NULL, -1);
                        break;
                    }
                    if (conn->s_fin_seq != h->end) {
                        s_mismatch (self, conn, h, NULL, -1);
                        break;
                    }
                }
            }
            if (!s_tcp_ack_ok (self, conn, h, 1))
                break;
            if (retransmit && h->end != h->seq && conn->released_valid
                && colo_seq_before_eq (h->end, conn->released_end))
                why = COLO_CMP_RELEASED_RETRANSMIT;
        }
        s_tcp_let_go (self, conn, h, why);
    }
    if (!conn->diverged)
        s_tcp_drop_verified (self, conn);
}

//  A primary retransmission of bytes already verified leaves at once, even
//  while an earlier segment of its connection waits (for the secondary's
//  bytes or ack, or for a hole in the primary's stream): queued behind it,
//  the retransmission that would draw the client's ACK both guests wait for
//  (e.g. after a restart of the mirror lost the client's ACKs) could not
//  leave, and only a checkpoint would end the wait.  Its bytes are
//  verified and its ack is lowered to the secondary's if need be, so
//  nothing unverified leaves; TCP takes the reordering.  Returns 1 if the
//  item was released.
static int
s_tcp_verified_retransmit (colo_compare_t *self, s_conn_t *conn, s_item_t *item)
{
    if (!conn->pq.head || conn->diverged || !conn->cmp_valid || item->end == item->seq
        || (item->flags & (COLO_TCP_SYN | COLO_TCP_FIN | COLO_TCP_RST))
        || !colo_seq_before_eq (item->end, conn->cmp_seq)
        || !s_tcp_ack_ok (self, conn, item, 1))
        return 0;
    s_clamp_window (conn, item);
    s_note_released (conn, item);
    s_release (self, item, COLO_CMP_RELEASED_RETRANSMIT);
    return 1;
}

//  1 if item starts at or before the compared point and reaches past it
//  while the queue's head waits behind a hole in the primary's stream (e.g.
//  a compare restarted mid-connection saw new data before the
//  retransmission that fills the gap): taken in arrival order, the filler
//  would wait behind the hole it fills until a checkpoint.
static int
s_tcp_fills_hole (s_conn_t *conn, const s_item_t *item)
{
    return conn->pq.head && conn->cmp_valid && !conn->diverged
           && !(item->flags & (COLO_TCP_SYN | COLO_TCP_RST))
           && colo_seq_after (conn->pq.head->seq, conn->cmp_seq)
           && colo_seq_before_eq (item->seq, conn->cmp_seq)
           && colo_seq_after (item->end, conn->cmp_seq);
}

//  What a secondary segment tells of the secondary's receive side: the
//  highest ack, and the right edge of the window it offers (not on a SYN,
//  whose window is unscaled; the SYN's own bookkeeping resets the edge).
static inline void
s_tcp_note_ack (s_conn_t *conn, const s_item_t *item)
{
    uint8_t f = item->flags;
    if (!(f & COLO_TCP_ACK))
        return;
    if (!conn->s_ack_valid || colo_seq_after (item->ack, conn->s_ack)) {
        conn->s_ack = item->ack;
        conn->s_ack_valid = 1;
    }
    if (!(f & (COLO_TCP_SYN | COLO_TCP_RST)) && conn->s_ws_known) {
        uint32_t right = item->ack + ((uint32_t) item->win << conn->s_ws);
        if (!conn->s_right_valid || colo_seq_after (right, conn->s_right)) {
            conn->s_right = right;
            conn->s_right_valid = 1;
        }
    }
}

//  1 if s_tcp_run would stop at the head h without doing anything: data,
//  no SYN or RST, not all compared, and nothing of the secondary's queued.
static inline int
s_tcp_head_waits (const s_conn_t *conn, const s_item_t *h)
{
    return !(h->flags & (COLO_TCP_SYN | COLO_TCP_RST)) && h->end != h->seq && conn->cmp_valid
           && colo_seq_after (h->end, conn->cmp_seq) && !conn->sq.head;
}

//  The common case in order: the secondary's segment is the twin of the
//  primary head that waits for it (the same sequence range, at the
//  compared point, nothing of the secondary's queued, data and no SYN, FIN
//  or RST on either).  Its bytes are compared where they lie, its ack
//  noted, the head released as s_tcp_run would release it, and the rest
//  of the queue run only if its new head may go too; the segment itself
//  is done with, never queued.  Returns 1 if so; 0 leaves the segment to
//  the queued path, which also names a difference.  Saves the queued
//  secondary's push, pop and compare loop and a turn of s_tcp_run: about
//  155 instructions a packet of 1,720.
static inline int
s_tcp_twin (colo_compare_t *self, s_conn_t *conn, const s_item_t *item)
{
    s_item_t *h = conn->pq.head;
    if (!h || conn->sq.head || !conn->cmp_valid || item->seq != conn->cmp_seq
        || h->seq != conn->cmp_seq || item->end != h->end || item->end == item->seq
        || ((item->flags | h->flags) & (COLO_TCP_SYN | COLO_TCP_FIN | COLO_TCP_RST)))
        return 0;
    uint32_t n = item->end - item->seq;
    if (memcmp (h->buf->data + h->r1_off, item->buf->data + item->r1_off, n) != 0)
        return 0;
    s_tcp_note_ack (conn, item);
    conn->cmp_seq = item->end;
    self->counters[COLO_CMP_BYTES_COMPARED] += n;
    self->counters[COLO_CMP_SECONDARY_MATCHED]++;
    if (!s_tcp_ack_ok (self, conn, h, 1))
        return 1;   //  it waits for the secondary's ack
    s_tcp_let_go (self, conn, h, COLO_CMP_RELEASED_MATCHED);
    if (conn->pq.head && !s_tcp_head_waits (conn, conn->pq.head))
        s_tcp_run (self, conn);
    return 1;
}

static void
s_tcp_secondary (colo_compare_t *self, s_conn_t *conn, s_item_t *item)
{
    uint8_t f = item->flags;
    s_tcp_note_ack (conn, item);
    if (f & COLO_TCP_SYN) {
        if (f & COLO_TCP_ACK) {
            conn->s_synack = 1;
            conn->s_synack_ack = item->ack;
        }
        else
            conn->s_syn = 1;
        conn->s_ws = s_wscale_shift (item->wscale);
        conn->s_ws_known = 1;
        conn->s_ws_synack = (f & COLO_TCP_ACK) ? 1 : 0;
        conn->s_right_valid = 0;
    }
    if (f & COLO_TCP_RST)
        conn->s_rst = 1;
    if (f & COLO_TCP_FIN) {
        conn->s_fin = 1;
        conn->s_fin_seq = item->end;
    }
    int has_data = item->end != item->seq && !(f & COLO_TCP_SYN);
    if (!has_data) {
        //  Its flags and ack are recorded; nothing to compare.
        s_drop_secondary (self, item, COLO_CMP_SECONDARY_MATCHED);
    }
    else if (conn->cmp_valid && colo_seq_before_eq (item->end, conn->cmp_seq)) {
        //  Space already verified or released: a retransmission, or stale
        //  after a checkpoint.
        s_drop_secondary (self, item, COLO_CMP_SECONDARY_STALE);
    }
    else {
        //  Keep sq sorted by sequence; in-order arrival appends.
        if (!conn->sq.tail || colo_seq_after_eq (item->seq, conn->sq.tail->seq))
            s_push (&conn->sq, item);
        else {
            s_item_t *prev = NULL, *cur = conn->sq.head;
            while (cur && colo_seq_before_eq (cur->seq, item->seq)) {
                prev = cur;
                cur = cur->next;
            }
            item->next = cur;
            if (prev)
                prev->next = item;
            else
                conn->sq.head = item;
            conn->sq.count++;
        }
    }
    s_tcp_run (self, conn);
}

//  ---------------------------------------------------------------- datagrams

static void
s_dgram_release_head (colo_compare_t *self, s_conn_t *conn)
{
    s_item_t *h;
    while ((h = conn->pq.head) && h->matched) {
        s_pop (&conn->pq);
        s_release (self, h, COLO_CMP_RELEASED_MATCHED);
    }
}

static void
s_dgram_check_suspect (colo_compare_t *self, s_conn_t *conn, uint64_t now_ms)
{
    if (conn->p_unmatched > 0 && conn->sq.count > 0) {
        if (!conn->suspect_since) {
            conn->suspect_since = now_ms ? now_ms : 1;
            uint64_t deadline = conn->suspect_since + self->cfg.reorder_grace_ms;
            if (deadline < self->next_deadline)
                self->next_deadline = deadline;
        }
    }
    else
        conn->suspect_since = 0;
}

//  The oldest unmatched primary and the oldest secondary, for a report.
static void
s_dgram_mismatch (colo_compare_t *self, s_conn_t *conn)
{
    s_item_t *p = conn->pq.head;
    while (p && p->matched)
        p = p->next;
    s_item_t *s = conn->sq.head;
    s_mismatch (self, conn, p, s, p && s ? s_dgram_diff (p, s) : -1);
}

static void
s_dgram_primary (colo_compare_t *self, s_conn_t *conn, s_item_t *item, uint64_t now_ms)
{
    if (!conn->diverged) {
        s_item_t *prev = NULL;
        for (s_item_t *s = conn->sq.head; s; prev = s, s = s->next)
            if (s_dgram_equal (item, s)) {
                s_unlink (&conn->sq, prev, s);
                s_drop_secondary (self, s, COLO_CMP_SECONDARY_MATCHED);
                item->matched = 1;
                break;
            }
    }
    s_push (&conn->pq, item);
    if (!item->matched)
        conn->p_unmatched++;
    if (conn->diverged)
        return;
    s_dgram_release_head (self, conn);
    s_dgram_check_suspect (self, conn, now_ms);
    if (conn->suspect_since && self->cfg.reorder_grace_ms == 0)
        s_dgram_mismatch (self, conn);
}

static void
s_dgram_secondary (colo_compare_t *self, s_conn_t *conn, s_item_t *item, uint64_t now_ms)
{
    if (!conn->diverged)
        for (s_item_t *p = conn->pq.head; p; p = p->next)
            if (!p->matched && s_dgram_equal (p, item)) {
                p->matched = 1;
                conn->p_unmatched--;
                s_drop_secondary (self, item, COLO_CMP_SECONDARY_MATCHED);
                s_dgram_release_head (self, conn);
                s_dgram_check_suspect (self, conn, now_ms);
                return;
            }
    s_push (&conn->sq, item);
    if (conn->diverged)
        return;
    s_dgram_check_suspect (self, conn, now_ms);
    if (conn->suspect_since && self->cfg.reorder_grace_ms == 0)
        s_dgram_mismatch (self, conn);
}

//  ---------------------------------------------------------------- input

//  The connection for a frame, if the table has it.  Frames released
//  during a failover passed without its state seeing them: from the epoch
//  that resumed replication on, it is tracked afresh, as a connection
//  first seen mid-way (its queues are empty: the checkpoint flushed them).
static s_conn_t *
s_conn_find (colo_compare_t *self, const s_parsed_t *parsed, uint64_t now_ms)
{
    s_conn_t *conn = (s_conn_t *) colo_conntable_find_touch (self->table, &parsed->key,
                                                             parsed->hash, now_ms);
    if (conn && conn->epoch != self->epoch) {
        s_conn_t fresh;
        memset (&fresh, 0, sizeof fresh);
        fresh.kind = conn->kind;
        fresh.reason = conn->reason;
        fresh.epoch = self->epoch;
        *conn = fresh;
    }
    return conn;
}

//  Find or create the connection; NULL when the table is full even after
//  evicting the least recently active idle connection.
static s_conn_t *
s_conn_get (colo_compare_t *self, const s_parsed_t *parsed, uint64_t now_ms)
{
    s_conn_t *conn = s_conn_find (self, parsed, now_ms);
    if (conn)
        return conn;
    conn = (s_conn_t *) colo_conntable_insert (self->table, &parsed->key, now_ms);
    if (!conn) {
        s_conn_t *old = (s_conn_t *) colo_conntable_oldest (self->table);
        if (old && !old->busy && !old->diverged) {
            colo_conntable_remove (self->table, old);
            self->counters[COLO_CMP_CONNS_EVICTED]++;
            conn = (s_conn_t *) colo_conntable_insert (self->table, &parsed->key, now_ms);
        }
    }
    if (!conn)
        return NULL;
    conn->kind = (uint8_t) parsed->kind;
    conn->reason = (uint8_t) parsed->reason;
    conn->epoch = self->epoch;
    self->counters[COLO_CMP_CONNS_CREATED]++;
    return conn;
}

//  The frame of the queued item whose line s_tcp_run prefetched when the
//  segment before it left, in two steps, one input apart, each asking only
//  for what a line already in cache points to: at the next input, its
//  buffer's line; at the one after, the frame's header and the start of its
//  payload, well before the secondary's twin comes to be compared with it.
//  (Both at once waited for the buffer's line: 2 % of the service's time.)
#define S_WARM_BYTES 512
static inline void
s_warm (colo_compare_t *self)
{
    s_item_t *item = self->warm;
    self->warm = NULL;
    if (item)
        __builtin_prefetch (item->buf);
    s_item_t *ready = self->warm_frame;
    self->warm_frame = item;
    if (!ready)
        return;
    const uint8_t *p = ready->buf->data + ready->r1_off;
    uint32_t lines = ready->r1_len < S_WARM_BYTES ? (ready->r1_len + 63) / 64 : S_WARM_BYTES / 64;
    //  A constant bound, unrolled: straight-line prefetches, not a loop.
#pragma GCC unroll 8
    for (uint32_t k = 0; k < S_WARM_BYTES / 64; k++)
        if (k < lines)
            __builtin_prefetch (p + 64 * k);
}

static inline int s_input_parsed (colo_compare_t *self, colo_buf_t **buf_p,
                                  const s_parsed_t *parsed, s_item_t *item, uint64_t now_ms,
                                  int primary);

//  Whether a frame may be decoded only as far as compare needs: rules
//  match on the whole decoded packet.
static inline int
s_lite (const colo_compare_t *self)
{
    return !self->rules && !self->cfg.full_decode;
}

//  After the queued path ran on a borrowed item: dropped (compared, stale,
//  flushed: s_drop_secondary cleared its buf), it goes back to the cache;
//  still queued, it gets a buffer of its own in place: in the slab the
//  bytes lie in when the caller named one (colo_compare_secondary_frame),
//  else a copy.  Without memory for it the item leaves the queue, counted
//  and logged (its twin then times out and asks for a checkpoint).
static void
s_settle_borrowed (colo_compare_t *self, s_queue_t *q, s_item_t *item)
{
    const colo_buf_t *view = item->buf;
    item->borrowed = 0;
    if (!view) {
        s_item_free (self, item);
        return;
    }
    if (self->view_slab) {
        //  A buffer in the slab the bytes lie in: it keeps the slab, no copy.
        colo_frame_view_t in = {view->data, view->len, view->vnet_hdr_len, view->ts_ns, NULL};
        if (colo_buf_new_in_views (self->view_slab, &in, 1, &item->buf) != 1)
            item->buf = NULL;
        else
            item->buf->dir = view->dir;
    }
    else
        item->buf = colo_buf_dup (view);
    if (item->buf)
        return;
    s_item_t *prev = NULL, *cur = q->head;
    while (cur && cur != item) {
        prev = cur;
        cur = cur->next;
    }
    if (cur)
        s_unlink (q, prev, item);
    s_item_free (self, item);
    self->counters[COLO_CMP_SECONDARY_LOST]++;
    self->queued_s--;
    colo_log_limited (&self->rl, COLO_LOG_ERROR,
                      "compare: out of memory keeping a secondary frame of %u bytes: "
                      "dropped (its twin will time out)",
                      view->len);
}

//  A buffer the engine is done with: a borrowed one (a secondary view's
//  bytes) is its caller's.
static void
s_let_go (colo_buf_t **buf_p, int borrowed)
{
    if (borrowed)
        *buf_p = NULL;
    else
        colo_buf_destroy (buf_p);
}

//  A frame decoded ahead of its turn: its item (NULL when there was no
//  memory for one) and what the decoder found.
typedef struct {
    s_item_t *item;
    int rc;                   //  s_parse's
    s_parsed_t parsed;
} s_prep_t;

//  Frames decoded ahead of the one going in, in a burst, once the table
//  is large (cfg.lookahead_connections; its lines are cold then): by its
//  turn, the index line of its connection was asked for S_AHEAD frames
//  before, and the entry's lines one frame before.
#define S_AHEAD 2
#define S_RING 4   //  a power of two above S_AHEAD

//  The buffer a view goes in as: it borrows the caller's bytes, copied only
//  if the frame stays queued.
static inline void
s_view_buf (colo_buf_t *buf, const colo_frame_view_t *view)
{
    memset (buf, 0, sizeof *buf);
    buf->data = (uint8_t *) view->data;
    buf->len = buf->cap = view->len;
    buf->vnet_hdr_len = view->vnet_hdr_len;
    buf->ts_ns = view->ts_ns;
    buf->dir = COLO_DIR_FROM_SECONDARY;
}

//  Decode frame data[0..len) ahead of its turn into prep (an item, and
//  what the decoder found; lite as s_lite); ask for its connection's index
//  line if ahead.
static inline __attribute__ ((always_inline)) void
s_prepare (colo_compare_t *self, const uint8_t *data, uint32_t len, uint16_t vnet_hdr_len,
           int lite, int ahead, s_prep_t *prep)
{
    prep->item = s_item_new (self);
    if (!prep->item)
        return;
    prep->rc = s_parse (data, len, vnet_hdr_len, self->pkt_counters, self->seed, lite,
                        &prep->parsed, prep->item);
    if (ahead && prep->rc == 0)
        colo_conntable_prefetch (self->table, prep->parsed.hash);
}

//  A prepared frame into the engine: 0 when taken (or dropped as
//  malformed), -1 when refused.  borrowed: *buf_p is a view's stack buffer.
static inline __attribute__ ((always_inline)) int
s_input_prepared (colo_compare_t *self, colo_buf_t **buf_p, s_prep_t *prep, uint64_t now_ms,
                  int primary, int borrowed)
{
    s_item_t *item = prep->item;
    if (!item)
        return -1;
    if (prep->rc != 0) {
        self->counters[primary ? COLO_CMP_MALFORMED_PRIMARY : COLO_CMP_MALFORMED_SECONDARY]++;
        colo_log_limited (&self->rl, COLO_LOG_WARN,
                          "compare: %s frame of %u bytes not parseable (%s): dropped",
                          primary ? "primary" : "secondary", (*buf_p)->len,
                          colo_packet_result_name (prep->parsed.rc));
        s_item_free (self, item);
        s_let_go (buf_p, borrowed);
        return 0;
    }
    item->buf = *buf_p;
    item->borrowed = (uint8_t) borrowed;
    return s_input_parsed (self, buf_p, &prep->parsed, item, now_ms, primary);
}

//  n frames into the engine, in order: buffers (bufs) or secondary views
//  (views).  Returns how many were taken: n, or the index of the one
//  refused.  The one way in, for one frame or a burst.
static int
s_input (colo_compare_t *self, colo_buf_t **bufs, const colo_frame_view_t *views, int n,
         uint64_t now_ms, int primary)
{
    s_prep_t ring[S_RING];
    //  A small table's lines stay in cache: looking ahead would only cost.
    int ahead = n > 1 && colo_conntable_count (self->table) >= self->cfg.lookahead_connections
                    ? S_AHEAD
                    : 0;
    //  Rules and the decode option change between calls, never during one.
    int lite = s_lite (self);
    for (int i = -ahead; i < n; i++) {
        int j = i + ahead;   //  j >= 0: & is a modulo
        if (j < n)
            s_prepare (self, views ? views[j].data : bufs[j]->data,
                       views ? views[j].len : bufs[j]->len,
                       views ? views[j].vnet_hdr_len : bufs[j]->vnet_hdr_len, lite, ahead,
                       &ring[j & (S_RING - 1)]);
        if (i < 0)
            continue;
        const s_prep_t *next = &ring[(i + 1) & (S_RING - 1)];
        if (ahead && i + 1 < n && next->item && next->rc == 0)
            colo_conntable_prefetch_entry (self->table, next->parsed.hash);
        s_warm (self);
        colo_buf_t view, *borrowed = &view;
        colo_buf_t **buf_p = &borrowed;
        if (views) {
            s_view_buf (&view, &views[i]);
            self->view_slab = views[i].slab;
        }
        else
            buf_p = &bufs[i];
        int rc = s_input_prepared (self, buf_p, &ring[i & (S_RING - 1)], now_ms, primary,
                                   views != NULL);
        self->view_slab = NULL;
        if (rc != 0) {
            //  Refused: the frames decoded ahead are not taken either.
            for (int k = i + 1; k <= i + ahead && k < n; k++)
                if (ring[k & (S_RING - 1)].item)
                    s_item_free (self, ring[k & (S_RING - 1)].item);
            return i;
        }
    }
    return n;
}

//  A parsed frame (item holds its fields and buffer) into the engine.
static inline int
s_input_parsed (colo_compare_t *self, colo_buf_t **buf_p, const s_parsed_t *parsed,
                s_item_t *item, uint64_t now_ms, int primary)
{
    colo_buf_t *buf = *buf_p;
    int borrowed = item->borrowed;
    item->arrival_ms = now_ms;
    //  Failover, or a passthrough rule: the primary's frame leaves at once
    //  and the secondary's twin is dropped; no connection state at all.
    const colo_rule_t *rule = NULL;
    if (self->failover
        || (self->rules
            && (rule = colo_ruleset_match (self->rules, &parsed->pkt,
                                           buf->data + buf->vnet_hdr_len)))) {
        if (rule)
            self->rule_hits[colo_ruleset_index (self->rules, rule)]++;
        s_item_free (self, item);
        *buf_p = NULL;
        if (primary) {
            self->counters[COLO_CMP_PRIMARY_FRAMES]++;
            self->counters[COLO_CMP_RELEASED]++;
            self->counters[rule ? COLO_CMP_RELEASED_BYPASS : COLO_CMP_RELEASED_FAILOVER]++;
            s_out_push (self, buf);
        }
        else {
            self->counters[COLO_CMP_SECONDARY_FRAMES]++;
            self->counters[COLO_CMP_SECONDARY_BYPASSED]++;
            s_let_go (&buf, borrowed);
        }
        return 0;
    }
    s_conn_t *conn = s_conn_get (self, parsed, now_ms);
    if (!conn) {
        s_item_free (self, item);
        self->counters[COLO_CMP_TABLE_FULL]++;
        self->refused = 1;
        s_raise (self, COLO_REASON_TABLE_FULL, &parsed->key);
        return -1;
    }
    if (!primary && conn->diverged) {
        //  Only the checkpoint can settle this connection, and it drops
        //  queued secondary frames: drop now rather than stall the input.
        s_item_free (self, item);
        self->counters[COLO_CMP_SECONDARY_FRAMES]++;
        self->counters[COLO_CMP_SECONDARY_FLUSHED]++;
        s_let_go (buf_p, borrowed);
        return 0;
    }
    if (!primary && conn->kind == S_KIND_TCP && parsed->kind == S_KIND_TCP
        && !self->cfg.queued_only && s_tcp_twin (self, conn, item)) {
        self->counters[COLO_CMP_SECONDARY_FRAMES]++;
        s_let_go (buf_p, borrowed);
        s_item_free (self, item);
        s_busy_update (self, conn);
        return 0;
    }
    s_queue_t *q = primary ? &conn->pq : &conn->sq;
    if (q->count >= self->cfg.max_queue_size) {
        s_item_free (self, item);
        self->counters[COLO_CMP_QUEUE_FULL]++;
        self->refused = 1;
        s_raise (self, COLO_REASON_QUEUE_FULL, &parsed->key);
        return -1;
    }
    *buf_p = NULL;
    if (primary) {
        self->counters[COLO_CMP_PRIMARY_FRAMES]++;
        self->queued_p++;
    }
    else {
        self->counters[COLO_CMP_SECONDARY_FRAMES]++;
        self->queued_s++;
    }
    if (conn->kind == S_KIND_TCP && parsed->kind == S_KIND_TCP) {
        if (primary && s_tcp_verified_retransmit (self, conn, item))
            ;   //  released past the queue
        else if (primary && s_tcp_fills_hole (conn, item)) {
            //  It goes first; it inherits the waiting head's age, so the
            //  connection's timeout comes when it would have.
            if (conn->pq.head->arrival_ms < item->arrival_ms)
                item->arrival_ms = conn->pq.head->arrival_ms;
            item->next = conn->pq.head;
            conn->pq.head = item;
            conn->pq.count++;
            s_tcp_run (self, conn);
        }
        else if (primary) {
            //  Behind a head that waits, a new tail changes nothing the
            //  head waits for: only a segment into an empty queue can go.
            int was_empty = conn->pq.head == NULL;
            s_push (&conn->pq, item);
            if (was_empty)
                s_tcp_run (self, conn);
        }
        else
            s_tcp_secondary (self, conn, item);
    }
    else if (primary)
        s_dgram_primary (self, conn, item, now_ms);
    else
        s_dgram_secondary (self, conn, item, now_ms);
    if (borrowed)
        s_settle_borrowed (self, q, item);
    s_busy_update (self, conn);
    return 0;
}

int
colo_compare_primary (colo_compare_t *self, colo_buf_t **buf, uint64_t now_ms)
{
    return s_input (self, buf, NULL, 1, now_ms, 1) == 1 ? 0 : -1;
}

int
colo_compare_secondary (colo_compare_t *self, colo_buf_t **buf, uint64_t now_ms)
{
    return s_input (self, buf, NULL, 1, now_ms, 0) == 1 ? 0 : -1;
}

int
colo_compare_secondary_frame (colo_compare_t *self, const colo_frame_view_t *view,
                              uint64_t now_ms)
{
    return s_input (self, NULL, view, 1, now_ms, 0) == 1 ? 0 : -1;
}

int
colo_compare_secondary_view (colo_compare_t *self, const uint8_t *data, uint32_t len,
                             uint16_t vnet_hdr_len, uint64_t ts_ns, uint64_t now_ms)
{
    colo_frame_view_t view;
    memset (&view, 0, sizeof view);
    view.data = (uint8_t *) data;
    view.len = len;
    view.vnet_hdr_len = vnet_hdr_len;
    view.ts_ns = ts_ns;
    return colo_compare_secondary_frame (self, &view, now_ms);
}

int
colo_compare_primaries (colo_compare_t *self, colo_buf_t **bufs, int n, uint64_t now_ms)
{
    return s_input (self, bufs, NULL, n, now_ms, 1);
}

int
colo_compare_secondaries (colo_compare_t *self, colo_buf_t **bufs, int n, uint64_t now_ms)
{
    return s_input (self, bufs, NULL, n, now_ms, 0);
}

int
colo_compare_secondary_frames (colo_compare_t *self, const colo_frame_view_t *views, int n,
                               uint64_t now_ms)
{
    return s_input (self, NULL, views, n, now_ms, 0);
}

int
colo_compare_take (colo_compare_t *self, colo_buf_t **out, int max)
{
    int n = 0;
    while (n < max && self->out.count > 0)
        out[n++] = colo_bufq_pop (&self->out);
    return n;
}

int
colo_compare_peek (colo_compare_t *self, colo_buf_t ***span, colo_buf_t **scratch, int max)
{
    return (int) colo_bufq_peek (&self->out, span, scratch, max > 0 ? (size_t) max : 0);
}

void
colo_compare_advance (colo_compare_t *self, int n)
{
    if (n <= 0)
        return;
    if ((size_t) n > self->out.count)
        n = (int) self->out.count;
    colo_bufq_skip (&self->out, (size_t) n);
}

size_t
colo_compare_released_count (colo_compare_t *self)
{
    return self->out.count;
}

//  ---------------------------------------------------------------- time

void
colo_compare_tick (colo_compare_t *self, uint64_t now_ms)
{
    //  Frames waiting too long, and datagram reorder grace that ran out.
    self->next_deadline = UINT64_MAX;
    int timed_out = 0;
    for (s_conn_t *conn = self->busy_head; conn; conn = conn->busy_next) {
        if (conn->kind == S_KIND_DGRAM && conn->suspect_since && !conn->diverged) {
            uint64_t deadline = conn->suspect_since + self->cfg.reorder_grace_ms;
            if (now_ms >= deadline)
                s_dgram_mismatch (self, conn);
            else if (deadline < self->next_deadline)
                self->next_deadline = deadline;
        }
        uint64_t oldest = UINT64_MAX;
        const s_item_t *old = NULL;
        if (conn->pq.head) {
            old = conn->pq.head;
            oldest = old->arrival_ms;
        }
        if (conn->sq.head && conn->sq.head->arrival_ms < oldest) {
            old = conn->sq.head;
            oldest = old->arrival_ms;
        }
        if (oldest != UINT64_MAX && now_ms >= oldest + self->cfg.compare_timeout_ms) {
            if (!timed_out)
                s_raise_timeout (self, conn, old, old == conn->pq.head, now_ms - oldest);
            timed_out = 1;
        }
    }
    if (timed_out)
        self->counters[COLO_CMP_TIMEOUTS]++;

    //  Age out idle and closed connections, oldest first, a bounded number
    //  per tick so a tick never stalls the data path.
    int budget = 4096;
    uint32_t min_limit = self->cfg.closed_linger_ms;
    if (self->cfg.tcp_idle_ms < min_limit)
        min_limit = self->cfg.tcp_idle_ms;
    if (self->cfg.dgram_idle_ms < min_limit)
        min_limit = self->cfg.dgram_idle_ms;
    s_conn_t *conn = (s_conn_t *) colo_conntable_oldest (self->table);
    while (conn && budget-- > 0) {
        s_conn_t *next = (s_conn_t *) colo_conntable_younger (self->table, conn);
        uint64_t idle = now_ms - colo_conntable_last_active (self->table, conn);
        uint32_t limit = conn->closing                 ? self->cfg.closed_linger_ms
                         : conn->kind == S_KIND_TCP ? self->cfg.tcp_idle_ms
                                                    : self->cfg.dgram_idle_ms;
        if (idle < min_limit)
            break;   //  everything younger is younger still
        if (idle >= limit && !conn->busy && !conn->diverged) {
            self->counters[conn->closing ? COLO_CMP_CONNS_CLOSED : COLO_CMP_CONNS_IDLE]++;
            colo_conntable_remove (self->table, conn);
        }
        conn = next;
    }
}

uint64_t
colo_compare_next_deadline (colo_compare_t *self)
{
    return self->next_deadline;
}

int
colo_compare_take_request (colo_compare_t *self, colo_compare_reason_t *reason,
                           char *desc, size_t desc_cap)
{
    if (!self->request)
        return 0;
    if (reason)
        *reason = self->request_reason;
    if (desc && desc_cap) {
        strncpy (desc, self->request_desc, desc_cap - 1);
        desc[desc_cap - 1] = 0;
    }
    self->request = 0;
    return 1;
}

int
colo_compare_stuck (colo_compare_t *self)
{
    return self->diverged_count > 0 || self->refused;
}

//  ---------------------------------------------------------------- checkpoint

//  Sort a TCP queue by sequence, stably, relative to its lowest sequence.
static void
s_sort_by_seq (s_queue_t *q)
{
    if (q->count < 2)
        return;
    uint32_t base = q->head->seq;
    for (s_item_t *it = q->head->next; it; it = it->next)
        if (colo_seq_before (it->seq, base))
            base = it->seq;
    s_item_t *sorted = NULL, **tail;
    s_item_t *item = q->head;
    while (item) {
        s_item_t *next = item->next;
        uint32_t rel = item->seq - base;
        tail = &sorted;
        while (*tail && (*tail)->seq - base <= rel)
            tail = &(*tail)->next;
        item->next = *tail;
        *tail = item;
        item = next;
    }
    q->head = sorted;
    for (q->tail = sorted; q->tail->next; q->tail = q->tail->next)
        ;
}

//  Release a connection's queued primary frames (TCP by sequence, others by
//  arrival), drop its secondary frames, and start comparing afresh.
static void
s_flush_conn (colo_compare_t *self, s_conn_t *conn, uint64_t now_ms,
              colo_compare_counter_t why)
{
    if (conn->kind == S_KIND_TCP)
        s_sort_by_seq (&conn->pq);
    s_item_t *item;
    while ((item = s_pop (&conn->pq))) {
        if (conn->kind == S_KIND_TCP) {
            //  A copy of bytes this flush (or an earlier release) sent
            //  already: a retransmission queued with its original.  Sent
            //  after the original in sequence order, its newer TCP
            //  timestamp would make the client drop the segments that
            //  follow as older (PAWS).  The client has its bytes: dropped,
            //  counted.
            if (item->end != item->seq
                && !(item->flags & (COLO_TCP_SYN | COLO_TCP_FIN | COLO_TCP_RST))
                && conn->released_valid && colo_seq_before_eq (item->end, conn->released_end)) {
                self->counters[COLO_CMP_FLUSH_DUPLICATES]++;
                self->queued_p--;
                colo_buf_destroy (&item->buf);
                s_item_free (self, item);
                continue;
            }
            s_note_released (conn, item);
        }
        s_release (self, item, why);
    }
    while ((item = s_pop (&conn->sq)))
        s_drop_secondary (self, item, COLO_CMP_SECONDARY_FLUSHED);
    if (conn->kind == S_KIND_TCP) {
        //  The secondary now runs the primary's state: its stream and
        //  acknowledgements start where the primary's released ones end.
        if (conn->released_valid) {
            conn->cmp_seq = conn->released_end;
            conn->cmp_valid = 1;
        }
        conn->s_ack = conn->p_ack_max;
        conn->s_ack_valid = conn->p_ack_valid;
        conn->s_syn = conn->s_synack = conn->s_fin = conn->s_rst = 0;
        //  Its windows are the primary's from now on, in the primary's scale.
        conn->s_ws = conn->p_ws;
        conn->s_ws_known = conn->p_ws_known;
        conn->s_ws_synack = conn->p_ws_synack;
        conn->s_right_valid = 0;
    }
    conn->p_unmatched = 0;
    conn->suspect_since = 0;
    if (conn->diverged) {
        conn->diverged = 0;
        self->diverged_count--;
    }
    colo_conntable_touch (self->table, conn, now_ms);
    s_busy_update (self, conn);
}

void
colo_compare_checkpoint_done (colo_compare_t *self, uint64_t now_ms)
{
    s_conn_t *conn = self->busy_head;
    while (conn) {
        s_conn_t *next = conn->busy_next;
        s_flush_conn (self, conn, now_ms, COLO_CMP_RELEASED_FLUSH);
        conn = next;
    }
    //  Diverged connections always hold frames, so none is left; be exact.
    self->diverged_count = 0;
    self->refused = 0;
    self->request = 0;
    self->next_deadline = UINT64_MAX;
    if (self->failover)
        self->epoch++;   //  every connection's state is from before the failover
    self->failover = 0;   //  replication runs again
    self->counters[COLO_CMP_CHECKPOINTS]++;
}

void
colo_compare_failover (colo_compare_t *self, uint64_t now_ms)
{
    s_conn_t *conn = self->busy_head;
    while (conn) {
        s_conn_t *next = conn->busy_next;
        s_flush_conn (self, conn, now_ms, COLO_CMP_RELEASED_FAILOVER);
        conn = next;
    }
    self->diverged_count = 0;
    self->refused = 0;
    self->request = 0;
    self->next_deadline = UINT64_MAX;
    self->failover = 1;
}

int
colo_compare_in_failover (colo_compare_t *self)
{
    return self->failover;
}

void
colo_compare_set_rules (colo_compare_t *self, const colo_ruleset_t *rules, uint64_t now_ms)
{
    //  Hit counters follow their rule (by id) into the new set.
    size_t count = rules ? colo_ruleset_count (rules) : 0;
    uint64_t *ids = count ? (uint64_t *) calloc (count, sizeof (uint64_t)) : NULL;
    uint64_t *hits = count ? (uint64_t *) calloc (count, sizeof (uint64_t)) : NULL;
    if (count && (!ids || !hits)) {
        free (ids);
        free (hits);
        colo_error ("compare: out of memory applying %zu rules; keeping the old set", count);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        ids[i] = colo_ruleset_rule (rules, i)->id;
        for (size_t k = 0; k < self->rule_count; k++)
            if (self->rule_ids[k] == ids[i])
                hits[i] = self->rule_hits[k];
    }
    free (self->rule_ids);
    free (self->rule_hits);
    self->rule_ids = ids;
    self->rule_hits = hits;
    self->rule_count = count;
    self->rules = rules;
    if (!rules)
        return;
    //  Connections a new rule now covers would wait forever for secondary
    //  frames that are dropped from now on: release what they hold.
    s_conn_t *conn = self->busy_head;
    while (conn) {
        s_conn_t *next = conn->busy_next;
        s_item_t *probe = conn->pq.head ? conn->pq.head : conn->sq.head;
        colo_packet_t pkt;
        const colo_rule_t *rule = NULL;
        if (probe
            && colo_packet_decode (&pkt, probe->buf->data + probe->buf->vnet_hdr_len,
                                   probe->buf->len - probe->buf->vnet_hdr_len, NULL)
                   == COLO_PKT_OK
            && (rule = colo_ruleset_match (rules, &pkt,
                                           probe->buf->data + probe->buf->vnet_hdr_len))) {
            //  The rule's hits: every frame it lets out or drops here.
            self->rule_hits[colo_ruleset_index (rules, rule)] += conn->pq.count + conn->sq.count;
            s_flush_conn (self, conn, now_ms, COLO_CMP_RELEASED_BYPASS);
        }
        conn = next;
    }
    if (self->diverged_count == 0)
        self->refused = 0;
}

size_t
colo_compare_rule_hits (colo_compare_t *self, uint64_t *ids, uint64_t *hits, size_t cap)
{
    size_t n = self->rule_count < cap ? self->rule_count : cap;
    for (size_t i = 0; i < n; i++) {
        ids[i] = self->rule_ids[i];
        hits[i] = self->rule_hits[i];
    }
    return self->rule_count;
}

//  ---------------------------------------------------------------- status

const uint64_t *
colo_compare_counters (colo_compare_t *self)
{
    return self->counters;
}

size_t
colo_compare_connections (colo_compare_t *self)
{
    return colo_conntable_count (self->table);
}

size_t
colo_compare_queued_primary (colo_compare_t *self)
{
    return self->queued_p;
}

size_t
colo_compare_queued_secondary (colo_compare_t *self)
{
    return self->queued_s;
}
