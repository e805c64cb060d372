/*  colo_compare_svc.c - one colo-compare instance: ports, timers, notify-dev, around the engine.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "colo_compare_svc.h"
#include "colo_ctlclient.h"
#include "colo_log.h"
#include "colo_loop.h"
#include "colo_notify.h"
#include "colo_packet.h"
#include "colo_pcap.h"
#include "colo_port.h"

#define S_BURST 64
//  Released frames offered to outdev at a time: a qemu+ port writes what it
//  is given in one sendmsg (up to 256 frames), so fewer calls, and fewer
//  wake-ups of the reader, when many frames are released together.
#define S_OUT_BURST 256
//  Released frames the engine may hold for outdev before inputs pause.
#define S_OUT_HIGH 4096
//  Frames taken from one input per loop turn before the other input's turn:
//  a primary waits for its twin while the frames after it are read, so the
//  fewer in between, the likelier it is still in cache when compared (at
//  1024, the frames of a turn spanned more than a core's cache).
#define S_DRAIN_TURN 256
//  ports in the status (primary-in, secondary-in, outdev, notify-dev), and
//  rules whose hits fit beside them and the counters
#define S_PORTS 4
#define S_PORT_STATUS (S_PORTS * COLO_PORT_COUNTER_COUNT)
#define S_RULE_STATUS_MAX (COLO_CTL_COUNTERS_MAX - COLO_COMPARE_ALL_COUNTERS - S_PORT_STATUS)
_Static_assert (S_RULE_STATUS_MAX >= 64, "room for the hits of 64 rules at least");

const char *const colo_compare_svc_counter_names[COLO_SVC_COUNTER_COUNT] = {
    "checkpoint_requests", "checkpoint_episodes", "notify_init",      "notify_unknown",
    "input_pauses",        "out_queued",          "connections",      "queued_primary",
    "queued_secondary",    "out_frames",          "held_us",          "frames_lost",
    "held_le_10us",        "held_le_20us",        "held_le_50us",     "held_le_100us",
    "held_le_200us",       "held_le_500us",       "held_le_1ms",      "held_le_2ms",
    "held_le_5ms",         "held_le_10ms",        "held_le_20ms",     "held_le_50ms",
    "held_le_100ms",       "held_le_200ms",       "held_le_500ms",    "held_le_1s",
};

struct colo_compare_svc {
    colo_compare_svc_config_t cfg;
    char *id;
    char *vm;
    char *control;
    char *pcap_dir;
    colo_ctlclient_t *ctl;        //  colo-control, or NULL
    const colo_ruleset_t *rules;  //  our reference to the rules in force
    //  the status sent to colo-control: every counter, each port's counters
    //  ("primary_in.rx_frames"...), then "rule.ID" for each rule that has
    //  matched frames (as many as fit)
    const char *status_names[COLO_CTL_COUNTERS_MAX];
    char port_names[S_PORTS][COLO_PORT_COUNTER_COUNT][COLO_PORT_LABEL_MAX];
    uint64_t status_values[COLO_CTL_COUNTERS_MAX];
    char rule_names[S_RULE_STATUS_MAX][32];
    colo_compare_t *engine;
    colo_port_t *pri, *sec, *out, *notify;
    colo_loop_t *loop;
    pthread_t thread;
    int thread_started;
    int cmd_fd;                   //  eventfd: commands from other threads
    atomic_int checkpoint_done_cmd;
    atomic_int counters_cmd;
    //  frames refused by the engine (backpressure), in order, per input
    //  ([0] primary, [1] secondary); re-offered after a checkpoint
    struct {
        colo_buf_t *bufs[S_BURST];
        int count;
    } held[2];
    int inputs_paused;
    int sec_views;                //  secondary-in may hand out views (until it says not)
    int out_blocked;              //  outdev refused frames: wait for its fd
    //  checkpoint request state: at most one outstanding
    int outstanding;
    uint64_t last_request_ms;
    colo_compare_reason_t last_reason;
    char last_desc[160];
    int scan_timer, deadline_timer;
    uint64_t pcap_seq;
    uint64_t counters[COLO_SVC_COUNTER_COUNT];
    uint64_t held_in[COLO_COMPARE_HELD_BUCKETS + 1];   //  frames out by hold time, one bucket each
    //  counters snapshot handed to other threads
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint64_t snapshot[COLO_COMPARE_ALL_COUNTERS];
    uint64_t snapshot_gen;
    colo_ratelimit_t rl;
};

void
colo_compare_svc_config_defaults (colo_compare_svc_config_t *cfg)
{
    memset (cfg, 0, sizeof *cfg);
    colo_compare_config_defaults (&cfg->engine);
    cfg->expired_scan_cycle_ms = 1000;
    cfg->pcap_keep = 16;
}

const char *
colo_compare_svc_counter_name (int i)
{
    if (i < 0 || i >= COLO_COMPARE_ALL_COUNTERS)
        return "";
    return i < COLO_CMP_COUNTER_COUNT ? colo_compare_counter_names[i]
                                      : colo_compare_svc_counter_names[i - COLO_CMP_COUNTER_COUNT];
}

//  The URI with ",vnet" added for qemu+ ports when vnet is on.
static char *
s_data_uri (const char *uri, int vnet)
{
    size_t len = strlen (uri);
    char *out = (char *) malloc (len + 6);
    if (!out)
        return NULL;
    memcpy (out, uri, len + 1);
    if (vnet && strncmp (uri, "qemu+", 5) == 0 && !strstr (uri, ",vnet"))
        memcpy (out + len, ",vnet", 6);
    return out;
}

int
colo_compare_svc_check (const colo_compare_svc_config_t *cfg, char *err, size_t cap)
{
    struct {
        const char *name;
        const char *uri;
        colo_port_dir_t dir;
    } ports[] = {
        {"primary-in", cfg->primary_in, COLO_PORT_RX},
        {"secondary-in", cfg->secondary_in, COLO_PORT_RX},
        {"outdev", cfg->outdev, COLO_PORT_TX},
        {"notify-dev", cfg->notify_dev, COLO_PORT_RXTX},
    };
    for (int i = 0; i < 4; i++) {
        if (!ports[i].uri) {
            if (i < 3) {
                snprintf (err, cap, "'%s' is required", ports[i].name);
                return -1;
            }
            continue;
        }
        char why[300];
        if (colo_port_check (ports[i].uri, ports[i].dir, why, sizeof why) != 0) {
            snprintf (err, cap, "'%s': %s", ports[i].name, why);
            return -1;
        }
        if (i == 3 && strncmp (ports[i].uri, "qemu+", 5) != 0) {
            snprintf (err, cap, "'notify-dev': must be a qemu+unix or qemu+tcp port");
            return -1;
        }
    }
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (strcmp (ports[i].uri, ports[j].uri) == 0) {
                snprintf (err, cap, "'%s' and '%s' must differ", ports[i].name, ports[j].name);
                return -1;
            }
    if (cfg->control) {
        colo_ctl_uri_t uri;
        char why[300];
        if (colo_ctl_uri_parse (cfg->control, &uri, why, sizeof why) != 0) {
            snprintf (err, cap, "'control': %s", why);
            return -1;
        }
    }
    if (cfg->engine.compare_timeout_ms == 0 || cfg->expired_scan_cycle_ms == 0
        || cfg->engine.max_queue_size == 0 || cfg->engine.max_connections == 0) {
        snprintf (err, cap, "compare-timeout, expired-scan-cycle, max-queue-size and "
                            "max-connections must be > 0");
        return -1;
    }
    if (cfg->busy_poll_us > 1000) {
        snprintf (err, cap, "busy-poll %u is outside 0..1000", cfg->busy_poll_us);
        return -1;
    }
    return 0;
}

//  ---------------------------------------------------------------- output

static void s_update_inputs (colo_compare_svc_t *self);

//  The bounds, and one no time passes (past 1 s: the last bucket).
const uint64_t colo_compare_held_le_ns[COLO_COMPARE_HELD_BUCKETS + 1] = {
    10000,    20000,    50000,     100000,    200000,    500000,     1000000,   2000000,
    5000000,  10000000, 20000000,  50000000,  100000000, 200000000,  500000000, 1000000000,
    UINT64_MAX};

//  The bounds below 2^k ns, by k: the first bucket a time of 2^k to
//  2^(k+1) - 1 ns can fall in.  No two bounds are less than twice apart,
//  so such a range holds at most one, and one comparison after the lookup
//  finds the bucket: the same few instructions for any time.
static const uint8_t s_held_below_pow2[64] = {
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  1,  2,  3,  4,  5,  6,  7,  8,
    8,  9,  10, 11, 12, 13, 14, 15, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16};

int
colo_compare_svc_x_held_bucket (uint64_t ns)
{
    int b = s_held_below_pow2[63 - __builtin_clzll (ns | 1)];
    return b + (ns > colo_compare_held_le_ns[b]);
}

//  Add the time the frames that left spent in colonet, in all and to the
//  histogram (arrival stamps are CLOCK_REALTIME; a stamp from the future,
//  after a clock step, counts 0).  One increment a frame, in the bucket
//  its time falls in; the cumulative counters are made from them when
//  counters are read.
static void
s_count_held (colo_compare_svc_t *self, const uint64_t *ts, int n)
{
    uint64_t now = colo_clock_real_ns ();
    uint64_t sum = 0;
    //  The frames of one read share their stamp: a run of equal stamps is
    //  one bucket's worth.
    for (int i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && ts[j] == ts[i]; j++)
            ;
        uint64_t d = ts[i] && ts[i] < now ? now - ts[i] : 0;
        sum += d * (uint64_t) (j - i);
        self->held_in[colo_compare_svc_x_held_bucket (d)] += (uint64_t) (j - i);
    }
    self->counters[COLO_SVC_OUT_FRAMES] += (uint64_t) n;
    self->counters[COLO_SVC_HELD_US] += sum / 1000;
}

//  Offer released frames to outdev, in order; what it refuses stays first in
//  line in the engine.
static void
s_flush_out (colo_compare_svc_t *self)
{
    colo_buf_t **bufs, *scratch[S_OUT_BURST];
    self->out_blocked = 0;
    int n;
    while ((n = colo_compare_peek (self->engine, &bufs, scratch, S_OUT_BURST)) > 0) {
        //  Arrival stamps, read before outdev owns (and may free) the frames.
        uint64_t ts[S_OUT_BURST];
        for (int i = 0; i < n; i++)
            ts[i] = bufs[i]->ts_ns;
        int sent = colo_port_send (self->out, bufs, n);
        if (sent < 0)
            sent = 0;
        colo_compare_advance (self->engine, sent);
        if (sent > 0)
            s_count_held (self, ts, sent);
        if (sent < n) {
            self->out_blocked = 1;
            break;
        }
    }
    s_update_inputs (self);
}

//  Read the inputs only while the engine and outdev keep up.
static void
s_update_inputs (colo_compare_svc_t *self)
{
    int pause = self->held[0].count || self->held[1].count
                || colo_compare_released_count (self->engine) >= S_OUT_HIGH;
    if (pause == self->inputs_paused)
        return;
    self->inputs_paused = pause;
    if (pause)
        self->counters[COLO_SVC_INPUT_PAUSES]++;
    //  A held frame pauses only its own input; a full outdev pauses both.
    int out_full = colo_compare_released_count (self->engine) >= S_OUT_HIGH;
    colo_loop_enable_fd (self->loop, colo_port_fd (self->pri), !(out_full || self->held[0].count));
    colo_loop_enable_fd (self->loop, colo_port_fd (self->sec), !(out_full || self->held[1].count));
    if (!pause) {
        //  Edge-triggered inputs may hold data: their handlers, next turn.
        colo_loop_again_fd (self->loop, colo_port_fd (self->pri));
        colo_loop_again_fd (self->loop, colo_port_fd (self->sec));
    }
}

//  ---------------------------------------------------------------- checkpoints

static void
s_send_notify (colo_compare_svc_t *self, colo_notify_msg_t msg)
{
    if (!self->notify)
        return;
    colo_buf_t *frame = colo_notify_frame (msg);
    if (frame && colo_port_send (self->notify, &frame, 1) != 1) {
        colo_log_limited (&self->rl, COLO_LOG_WARN,
                          "compare %s: notify-dev full, %s not sent now (will repeat)",
                          self->id, colo_notify_string (msg));
        colo_buf_destroy (&frame);
    }
}

static void
s_request_checkpoint (colo_compare_svc_t *self, uint64_t now_ms, int repeat)
{
    self->counters[COLO_SVC_CHECKPOINT_REQUESTS]++;
    self->last_request_ms = now_ms;
    if (!repeat)
        self->counters[COLO_SVC_CHECKPOINT_EPISODES]++;
    if (self->notify)
        s_send_notify (self, COLO_NOTIFY_DO_CHECKPOINT);
    if (self->ctl
        && colo_ctlclient_request_checkpoint (self->ctl,
                                              colo_compare_reason_names[self->last_reason],
                                              self->last_desc)
               != 0)
        colo_log_limited (&self->rl, COLO_LOG_WARN,
                          "compare %s: colo-control unreachable; checkpoint request will "
                          "be repeated",
                          self->id);
    if (!repeat)
        colo_warn ("compare %s: checkpoint requested: %s %s%s", self->id,
                   colo_compare_reason_names[self->last_reason], self->last_desc,
                   self->notify || self->ctl
                       ? ""
                       : " (no notify-dev or control: nobody will answer; frames stay held)");
    else
        colo_debug ("compare %s: checkpoint request repeated (%s)", self->id,
                    colo_compare_reason_names[self->last_reason]);
}

//  New checkpoint-worthy events from the engine become one request.
static void
s_check_requests (colo_compare_svc_t *self, uint64_t now_ms)
{
    colo_compare_reason_t reason;
    char desc[160];
    if (!colo_compare_take_request (self->engine, &reason, desc, sizeof desc))
        return;
    if (self->outstanding)
        return;   //  one outstanding request; the scan repeats it
    self->outstanding = 1;
    self->last_reason = reason;
    snprintf (self->last_desc, sizeof self->last_desc, "%s", desc);
    s_request_checkpoint (self, now_ms, 0);
}

static void s_drain_input (colo_compare_svc_t *self, colo_port_t *port, int primary,
                           int budget);

static void
s_checkpoint_done (colo_compare_svc_t *self)
{
    uint64_t now = colo_clock_mono_ms ();
    //  Frames the guests emitted before the checkpoint are waiting on the
    //  inputs: take them in first so they are flushed with the rest.
    s_drain_input (self, self->pri, 1, 1 << 20);
    s_drain_input (self, self->sec, 0, 1 << 20);
    colo_compare_checkpoint_done (self->engine, now);
    self->outstanding = 0;
    //  Re-offer frames the engine refused before, in order.
    for (int side = 0; side < 2; side++) {
        int done = 0;
        while (done < self->held[side].count
               && (side == 0 ? colo_compare_primary (self->engine,
                                                     &self->held[side].bufs[done], now)
                             : colo_compare_secondary (self->engine,
                                                       &self->held[side].bufs[done], now))
                      == 0)
            done++;
        memmove (self->held[side].bufs, self->held[side].bufs + done,
                 sizeof (colo_buf_t *) * (size_t) (self->held[side].count - done));
        self->held[side].count -= done;
    }
    colo_info ("compare %s: checkpoint done, queues flushed", self->id);
    s_flush_out (self);
    s_check_requests (self, now);
}

//  ---------------------------------------------------------------- mismatch report

static void
s_on_mismatch (void *arg, colo_compare_reason_t reason, const colo_flow_key_t *key,
               const colo_buf_t *primary, const colo_buf_t *secondary, long offset)
{
    colo_compare_svc_t *self = (colo_compare_svc_t *) arg;
    char flow[160];
    if (key->family)
        colo_flow_key_str (key, flow, sizeof flow);
    else
        snprintf (flow, sizeof flow, "ethertype 0x%04x vlan %u", key->port_lo, key->vlan);
    char file[512] = "";
    if (self->pcap_dir) {
        snprintf (file, sizeof file, "%s/%s-mismatch-%02u.pcap", self->pcap_dir, self->id,
                  (unsigned) (self->pcap_seq++ % (self->cfg.pcap_keep ? self->cfg.pcap_keep : 16)));
        const colo_buf_t *frames[2] = {primary, secondary};
        if (colo_pcap_write (file, frames, 2) != 0) {
            colo_log_limited (&self->rl, COLO_LOG_WARN, "compare %s: cannot write %s: %s",
                              self->id, file, strerror (errno));
            file[0] = 0;
        }
    }
    colo_log_limited (&self->rl, COLO_LOG_WARN,
                      "compare %s: %s on %s: first difference at byte %ld of the compared "
                      "data (primary %u bytes, secondary %u bytes)%s%s",
                      self->id, colo_compare_reason_names[reason], flow, offset,
                      primary ? primary->len : 0, secondary ? secondary->len : 0,
                      file[0] ? "; frames in " : "", file);
}

//  ---------------------------------------------------------------- loop handlers

//  Feed up to budget frames from an input into the engine.  Returns when
//  the input is empty, the budget is spent, or the engine refuses a frame
//  (kept as held until a checkpoint).
//  The secondary's frames as views into its port (no copy for the many the
//  engine compares with their queued twin and drops at once; one that waits
//  for its twin keeps the port's slab rather than being copied).  Returns 0
//  when the input is empty, the budget spent, or the engine refused a frame
//  (it and the rest of the burst held as copies); -1 if the port hands out
//  buffers only.
static int
s_drain_views (colo_compare_svc_t *self, colo_port_t *port, int *budget)
{
    colo_frame_view_t views[S_BURST];
    while (*budget > 0 && self->held[1].count == 0) {
        int n = colo_port_recv_views (port, views, S_BURST);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        *budget -= n;
        int i = colo_compare_secondary_frames (self->engine, views, n, colo_clock_mono_ms ());
        if (i < n) {
            //  Refused: copies of it and the rest wait, in order, until a
            //  checkpoint (the views end at the next call on the port).
            for (int k = i; k < n; k++) {
                colo_buf_t *buf = colo_buf_new_copy (views[k].data, views[k].len);
                if (!buf) {
                    self->counters[COLO_SVC_FRAMES_LOST]++;
                    colo_log_limited (&self->rl, COLO_LOG_ERROR,
                                      "compare %s: out of memory holding a secondary frame "
                                      "of %u bytes: frame lost",
                                      self->id, views[k].len);
                    continue;
                }
                buf->vnet_hdr_len = views[k].vnet_hdr_len;
                buf->ts_ns = views[k].ts_ns;
                self->held[1].bufs[self->held[1].count++] = buf;
            }
            return 0;
        }
        if (n < S_BURST)
            break;
    }
    return 0;
}

static void
s_drain_input (colo_compare_svc_t *self, colo_port_t *port, int primary, int budget)
{
    colo_buf_t *bufs[S_BURST];
    int side = primary ? 0 : 1;
    int by_views = !primary && self->sec_views;
    if (by_views && s_drain_views (self, port, &budget) != 0)
        self->sec_views = by_views = 0;   //  the port hands out buffers only
    while (!by_views && budget > 0 && self->held[side].count == 0) {
        int n = colo_port_recv (port, bufs, S_BURST);
        if (n <= 0)
            break;
        budget -= n;
        uint64_t now = colo_clock_mono_ms ();
        int i = primary ? colo_compare_primaries (self->engine, bufs, n, now)
                        : colo_compare_secondaries (self->engine, bufs, n, now);
        //  The engine is full for frame i: it and the rest of the burst
        //  wait, in order, until a checkpoint; the input is not read
        //  meanwhile (backpressure, nothing dropped).
        for (int k = i; k < n; k++)
            self->held[side].bufs[self->held[side].count++] = bufs[k];
        if (n < S_BURST)
            break;
    }
    //  More may wait where the fd does not show it: next turn.
    if (budget <= 0 && colo_port_input_pending (port))
        colo_loop_again_fd (self->loop, colo_port_fd (port));
}

//  After input: release what matched, turn events into a request, and
//  wake for the engine's next deadline (datagram reorder grace).
static void
s_after_input (colo_compare_svc_t *self)
{
    s_flush_out (self);
    s_check_requests (self, colo_clock_mono_ms ());
    uint64_t deadline = colo_compare_next_deadline (self->engine);
    if (deadline != UINT64_MAX)
        colo_loop_timer_set_next (self->loop, self->deadline_timer, deadline);
}

static void
s_on_primary (colo_loop_t *loop, int fd, void *arg)
{
    (void) loop;
    (void) fd;
    colo_compare_svc_t *self = (colo_compare_svc_t *) arg;
    s_drain_input (self, self->pri, 1, S_DRAIN_TURN);
    s_after_input (self);
}

static void
s_on_secondary (colo_loop_t *loop, int fd, void *arg)
{
    (void) loop;
    (void) fd;
    colo_compare_svc_t *self = (colo_compare_svc_t *) arg;
    s_drain_input (self, self->sec, 0, S_DRAIN_TURN);
    s_after_input (self);
}

static void
s_on_outdev (colo_loop_t *loop, int fd, void *arg)
{
    (void) loop;
    (void) fd;
    colo_compare_svc_t *self = (colo_compare_svc_t *) arg;
    colo_port_recv (self->out, NULL, 0);   //  housekeeping: accept, reconnect, flush
    s_flush_out (self);
}

static void
s_on_notify (colo_loop_t *loop, int fd, void *arg)
{
    (void) loop;
    (void) fd;
    colo_compare_svc_t *self = (colo_compare_svc_t *) arg;
    colo_buf_t *bufs[8];
    int n;
    while ((n = colo_port_recv (self->notify, bufs, 8)) > 0) {
        for (int i = 0; i < n; i++) {
            colo_notify_msg_t msg = colo_notify_parse (colo_buf_frame (bufs[i]),
                                                       colo_buf_frame_len (bufs[i]));
            if (msg == COLO_NOTIFY_PROXY_INIT) {
                self->counters[COLO_SVC_NOTIFY_INIT]++;
                s_send_notify (self, COLO_NOTIFY_GET_XEN_INIT);
            }
            else if (msg == COLO_NOTIFY_CHECKPOINT)
                s_checkpoint_done (self);
            else {
                self->counters[COLO_SVC_NOTIFY_UNKNOWN]++;
                colo_log_limited (&self->rl, COLO_LOG_WARN,
                                  "compare %s: notify-dev sent an unsupported message "
                                  "(%u bytes): ignored",
                                  self->id, bufs[i]->len);
            }
            colo_buf_destroy (&bufs[i]);
        }
        if (n < 8)
            break;
    }
}

//  colo-control: rules, checkpoint-done and failover events.
static void
s_on_control (colo_loop_t *loop, int fd, void *arg)
{
    (void) loop;
    (void) fd;
    colo_compare_svc_t *self = (colo_compare_svc_t *) arg;
    uint64_t now = colo_clock_mono_ms ();
    colo_ctlclient_process (self->ctl, now);
    const colo_ruleset_t *rules = colo_ctlclient_rules (self->ctl);
    if (rules != self->rules
        && (!rules || !self->rules
            || colo_ruleset_version (rules) != colo_ruleset_version (self->rules))) {
        const colo_ruleset_t *old = self->rules;
        self->rules = rules ? colo_ruleset_ref (rules) : NULL;
        colo_compare_set_rules (self->engine, self->rules, now);
        colo_ruleset_destroy (&old);
        colo_info ("compare %s: %zu passthrough rule%s in force (version %llu)", self->id,
                   rules ? colo_ruleset_count (rules) : 0,
                   rules && colo_ruleset_count (rules) == 1 ? "" : "s",
                   rules ? (unsigned long long) colo_ruleset_version (rules) : 0ULL);
        s_flush_out (self);
    }
    colo_ctl_event_t ev;
    while (colo_ctlclient_next_event (self->ctl, &ev)) {
        if (ev.type == COLO_CTL_EV_CHECKPOINT_DONE)
            s_checkpoint_done (self);
        else if (ev.type == COLO_CTL_EV_FAILOVER) {
            colo_warn ("compare %s: failover (from %s): comparison stops, every primary "
                       "frame is released until replication resumes",
                       self->id, ev.source);
            colo_compare_failover (self->engine, now);
            self->outstanding = 0;
            s_flush_out (self);
        }
    }
}

//  Every counter, the engine's then the service's, with the gauges current.
static void
s_collect (colo_compare_svc_t *self, uint64_t out[COLO_COMPARE_ALL_COUNTERS])
{
    self->counters[COLO_SVC_OUT_QUEUED] = colo_compare_released_count (self->engine);
    self->counters[COLO_SVC_CONNECTIONS] = colo_compare_connections (self->engine);
    self->counters[COLO_SVC_QUEUED_PRIMARY] = colo_compare_queued_primary (self->engine);
    self->counters[COLO_SVC_QUEUED_SECONDARY] = colo_compare_queued_secondary (self->engine);
    uint64_t le = 0;
    for (int b = 0; b < COLO_COMPARE_HELD_BUCKETS; b++) {
        le += self->held_in[b];
        self->counters[COLO_SVC_HELD_LE_10US + b] = le;
    }
    memcpy (out, colo_compare_counters (self->engine),
            sizeof (uint64_t) * COLO_CMP_COUNTER_COUNT);
    memcpy (out + COLO_CMP_COUNTER_COUNT, self->counters, sizeof self->counters);
}

static void
s_fill_snapshot (colo_compare_svc_t *self)
{
    pthread_mutex_lock (&self->lock);
    s_collect (self, self->snapshot);
    self->snapshot_gen++;
    pthread_cond_broadcast (&self->cond);
    pthread_mutex_unlock (&self->lock);
}

//  The counters, the ports', and the hits of each rule that has any, to
//  colo-control (coloctl passthrough list sums the hits per rule).
static void
s_send_status (colo_compare_svc_t *self)
{
    s_collect (self, self->status_values);
    size_t n = COLO_COMPARE_ALL_COUNTERS;
    colo_port_t *ports[S_PORTS] = {self->pri, self->sec, self->out, self->notify};
    for (int p = 0; p < S_PORTS; p++)
        if (ports[p])
            n = colo_port_status_append (ports[p], self->port_names[p], self->status_names,
                                         self->status_values, n);
    uint64_t ids[S_RULE_STATUS_MAX], hits[S_RULE_STATUS_MAX];
    size_t rules = colo_compare_rule_hits (self->engine, ids, hits, S_RULE_STATUS_MAX);
    if (rules > S_RULE_STATUS_MAX)
        rules = S_RULE_STATUS_MAX;
    for (size_t i = 0; i < rules; i++) {
        if (!hits[i])
            continue;
        snprintf (self->rule_names[i], sizeof self->rule_names[i], "rule.%llu",
                  (unsigned long long) ids[i]);
        self->status_names[n] = self->rule_names[i];
        self->status_values[n++] = hits[i];
    }
    colo_ctlclient_set_status (self->ctl, self->status_names, self->status_values, n);
}

static void
s_on_command (colo_loop_t *loop, int fd, void *arg)
{
    (void) loop;
    colo_compare_svc_t *self = (colo_compare_svc_t *) arg;
    uint64_t value;
    ssize_t rc = read (fd, &value, sizeof value);
    (void) rc;
    if (atomic_exchange (&self->checkpoint_done_cmd, 0))
        s_checkpoint_done (self);
    if (atomic_exchange (&self->counters_cmd, 0))
        s_fill_snapshot (self);
}

static void
s_on_scan (colo_loop_t *loop, int id, uint64_t now_ms, void *arg)
{
    (void) loop;
    (void) id;
    colo_compare_svc_t *self = (colo_compare_svc_t *) arg;
    colo_compare_tick (self->engine, now_ms);
    s_flush_out (self);
    s_check_requests (self, now_ms);
    if (self->ctl)
        s_send_status (self);
    //  An unanswered request is repeated once per cycle, never per packet.
    if (self->outstanding && now_ms - self->last_request_ms >= self->cfg.expired_scan_cycle_ms)
        s_request_checkpoint (self, now_ms, 1);
}

static void
s_on_deadline (colo_loop_t *loop, int id, uint64_t now_ms, void *arg)
{
    colo_compare_svc_t *self = (colo_compare_svc_t *) arg;
    (void) loop;
    colo_compare_tick (self->engine, now_ms);
    s_flush_out (self);
    s_check_requests (self, now_ms);
    uint64_t deadline = colo_compare_next_deadline (self->engine);
    //  Park the timer far away unless the engine has a deadline.
    colo_loop_timer_set_next (self->loop, id,
                              deadline != UINT64_MAX ? deadline : now_ms + 3600000);
}

static void *
s_thread (void *arg)
{
    colo_compare_svc_t *self = (colo_compare_svc_t *) arg;
    colo_loop_run (self->loop);
    return NULL;
}

//  ---------------------------------------------------------------- life cycle

colo_compare_svc_t *
colo_compare_svc_start (const colo_compare_svc_config_t *cfg)
{
    char err[400];
    if (colo_compare_svc_check (cfg, err, sizeof err) != 0) {
        colo_error ("compare %s: %s", cfg->id ? cfg->id : "", err);
        return NULL;
    }
    colo_compare_svc_t *self = (colo_compare_svc_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    self->id = strdup (cfg->id ? cfg->id : "compare");
    self->vm = strdup (cfg->vm ? cfg->vm : self->id);
    self->control = cfg->control ? strdup (cfg->control) : NULL;
    for (int i = 0; i < COLO_COMPARE_ALL_COUNTERS; i++)
        self->status_names[i] = colo_compare_svc_counter_name (i);
    static const char *const roles[S_PORTS] = {"primary_in", "secondary_in", "outdev",
                                               "notify_dev"};
    for (int p = 0; p < S_PORTS; p++)
        colo_port_counter_labels (roles[p], self->port_names[p]);
    self->pcap_dir = cfg->pcap_dir ? strdup (cfg->pcap_dir) : NULL;
    self->cfg.id = self->id;
    self->cfg.pcap_dir = self->pcap_dir;
    self->cfg.primary_in = self->cfg.secondary_in = self->cfg.outdev = NULL;
    self->cfg.notify_dev = NULL;
    self->cfg.control = self->control;
    self->cfg.vm = self->vm;
    self->cmd_fd = -1;
    self->rl = (colo_ratelimit_t) COLO_RATELIMIT_INIT (10000, 10);
    pthread_mutex_init (&self->lock, NULL);
    pthread_cond_init (&self->cond, NULL);
    char *pri = s_data_uri (cfg->primary_in, cfg->vnet_hdr_support);
    char *sec = s_data_uri (cfg->secondary_in, cfg->vnet_hdr_support);
    char *out = s_data_uri (cfg->outdev, cfg->vnet_hdr_support);
    self->engine = colo_compare_new (&cfg->engine);
    self->loop = colo_loop_new ();
    if (self->loop)
        colo_loop_set_busy_poll (self->loop, cfg->busy_poll_us);
    self->cmd_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (self->engine && self->loop && pri && sec && out && self->cmd_fd >= 0) {
        self->pri = colo_port_new (pri, COLO_PORT_RX);
        self->sec = self->pri ? colo_port_new (sec, COLO_PORT_RX) : NULL;
        self->sec_views = 1;
        self->out = self->sec ? colo_port_new (out, COLO_PORT_TX) : NULL;
        if (self->out && cfg->notify_dev)
            self->notify = colo_port_new (cfg->notify_dev, COLO_PORT_RXTX);
        if (self->out && cfg->control)
            self->ctl = colo_ctlclient_new (cfg->control, "compare", self->id, self->vm);
    }
    free (pri);
    free (sec);
    free (out);
    if (!self->out || (cfg->notify_dev && !self->notify) || (cfg->control && !self->ctl)) {
        colo_error ("compare %s: cannot start", self->id);
        colo_compare_svc_stop (&self);
        return NULL;
    }
    colo_compare_set_mismatch_handler (self->engine, s_on_mismatch, self);
    colo_loop_add_fd (self->loop, colo_port_fd (self->pri), s_on_primary, self);
    colo_loop_add_fd (self->loop, colo_port_fd (self->sec), s_on_secondary, self);
    colo_loop_add_fd (self->loop, colo_port_fd (self->out), s_on_outdev, self);
    if (self->notify)
        colo_loop_add_fd (self->loop, colo_port_fd (self->notify), s_on_notify, self);
    colo_loop_add_fd (self->loop, self->cmd_fd, s_on_command, self);
    if (self->ctl)
        colo_loop_add_fd (self->loop, colo_ctlclient_fd (self->ctl), s_on_control, self);
    self->scan_timer = colo_loop_add_timer (self->loop, cfg->expired_scan_cycle_ms, s_on_scan,
                                            self);
    self->deadline_timer = colo_loop_add_timer (self->loop, 3600000, s_on_deadline, self);
    //  One turn for every input before the first sleep: some transports
    //  (shm) only ring a consumer that has looked and found nothing.
    colo_loop_again (self->loop);
    if (pthread_create (&self->thread, NULL, s_thread, self) != 0) {
        colo_compare_svc_stop (&self);
        return NULL;
    }
    self->thread_started = 1;
    colo_info ("compare %s: running (primary-in %s, secondary-in %s, outdev %s%s%s)", self->id,
               cfg->primary_in, cfg->secondary_in, cfg->outdev,
               cfg->notify_dev ? ", notify-dev " : "", cfg->notify_dev ? cfg->notify_dev : "");
    return self;
}

void
colo_compare_svc_stop (colo_compare_svc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    colo_compare_svc_t *self = *self_p;
    if (self->thread_started) {
        colo_loop_stop (self->loop);
        pthread_join (self->thread, NULL);
    }
    if (self->engine) {
        size_t queued = colo_compare_queued_primary (self->engine)
                        + colo_compare_released_count (self->engine);
        if (queued)
            colo_warn ("compare %s: stopping with %zu primary frames not released", self->id,
                       queued);
    }
    for (int side = 0; side < 2; side++)
        colo_buf_destroy_array (self->held[side].bufs, self->held[side].count);
    colo_ctlclient_destroy (&self->ctl);
    colo_ruleset_destroy (&self->rules);
    colo_port_destroy (&self->notify);
    colo_port_destroy (&self->out);
    colo_port_destroy (&self->sec);
    colo_port_destroy (&self->pri);
    colo_compare_destroy (&self->engine);
    colo_loop_destroy (&self->loop);
    if (self->cmd_fd >= 0)
        close (self->cmd_fd);
    pthread_mutex_destroy (&self->lock);
    pthread_cond_destroy (&self->cond);
    free (self->id);
    free (self->vm);
    free (self->control);
    free (self->pcap_dir);
    free (self);
    *self_p = NULL;
}

static void
s_command (colo_compare_svc_t *self)
{
    uint64_t one = 1;
    ssize_t rc = write (self->cmd_fd, &one, sizeof one);
    (void) rc;
}

void
colo_compare_svc_checkpoint_done (colo_compare_svc_t *self)
{
    atomic_store (&self->checkpoint_done_cmd, 1);
    s_command (self);
}

int
colo_compare_svc_counters (colo_compare_svc_t *self, uint64_t out[COLO_COMPARE_ALL_COUNTERS])
{
    pthread_mutex_lock (&self->lock);
    uint64_t gen = self->snapshot_gen;
    atomic_store (&self->counters_cmd, 1);
    s_command (self);
    struct timespec deadline;
    clock_gettime (CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 1;
    int rc = 0;
    while (self->snapshot_gen == gen && rc == 0)
        rc = pthread_cond_timedwait (&self->cond, &self->lock, &deadline);
    int ok = self->snapshot_gen != gen;
    if (ok)
        memcpy (out, self->snapshot, sizeof self->snapshot);
    pthread_mutex_unlock (&self->lock);
    return ok ? 0 : -1;
}
