/*  colo_mirror.c - colo-mirror: each client frame to the primary and, in order, the secondary.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  One thread, one colo_loop_t, three ports.  Frames read from the input
 *  go into `pri` (at most one burst, waiting for the primary port) and a
 *  copy of each into `sec` (the bounded secondary backlog).  The input is
 *  read only while `pri` is empty, so the primary port's backpressure
 *  reaches the sender; the secondary's never does.
 *
 *  colo-control's client (with --control) is one more fd of the loop,
 *  readable at least every heartbeat; its events, the checkpoint requests
 *  and their repeats all happen in this thread.  The divergence and
 *  failover flags are shared (under the lock) because
 *  colo_mirror_checkpoint_done may come from any thread.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo_buf.h"
#include "colo_ctlclient.h"
#include "colo_log.h"
#include "colo_loop.h"
#include "colo_mirror.h"
#include "colo_port.h"

#define S_BURST 64
#define S_REQUEST_REPEAT_MS 1000   //  an unsent checkpoint request, tried again
#define S_PORTS 3                  //  in the status: in, to-primary, to-secondary
#define S_STATUS (COLO_MIRROR_COUNTER_COUNT + S_PORTS * COLO_PORT_COUNTER_COUNT)
_Static_assert (S_STATUS <= COLO_CTL_COUNTERS_MAX, "the status fits in a Hello");

const char *const colo_mirror_counter_names[COLO_MIRROR_COUNTER_COUNT] = {
    "in_frames",          "in_bytes",         "primary_frames",
    "secondary_frames",   "secondary_overflow", "secondary_broken",
    "divergences",        "checkpoints",      "input_paused",
    "failovers",          "secondary_skipped", "checkpoint_requests",
    "checkpoint_unsent",
};

struct colo_mirror {
    char *id;
    char *vm;
    char *control;
    colo_ctlclient_t *ctl;        //  colo-control, or NULL
    colo_port_t *in;
    colo_port_t *pri_port;
    colo_port_t *sec_port;
    colo_loop_t *loop;
    pthread_t thread;
    int thread_started;
    void (*on_divergence) (void *arg, const char *reason);
    void *on_divergence_arg;

    //  Actor thread only
    colo_buf_t *pri[S_BURST];     //  read, not yet accepted by the primary
    int pri_head, pri_count;
    colo_buf_t **sec;             //  ring of copies for the secondary
    size_t sec_cap, sec_head, sec_count;
    int in_enabled;
    uint64_t sec_connects_seen;   //  secondary port counters at the last look
    uint64_t sec_disconnects_seen;
    uint64_t sec_tx_at_connect;
    uint64_t counters[COLO_MIRROR_COUNTER_COUNT];
    colo_ratelimit_t rl_overflow;
    colo_ratelimit_t rl_control;
    int request_unsent;           //  this episode's request has not gone out yet
    uint64_t request_ms;          //  when it was last tried
    uint32_t request_repeat_ms;   //  cfg's
    //  the status for colo-control: the counters, then each port's
    //  ("in.rx_frames", "to_primary.tx_frames"...)
    const char *status_names[S_STATUS];
    uint64_t status_values[S_STATUS];
    char port_names[S_PORTS][COLO_PORT_COUNTER_COUNT][COLO_PORT_LABEL_MAX];

    //  Shared, under lock
    pthread_mutex_t lock;
    uint64_t shared[COLO_MIRROR_COUNTER_COUNT];
    int diverged;
    const char *reason;
    int failover;                 //  the secondary is not fed until a checkpoint
};

void
colo_mirror_config_defaults (colo_mirror_config_t *cfg)
{
    memset (cfg, 0, sizeof *cfg);
    cfg->backlog = COLO_MIRROR_BACKLOG_DEFAULT;
    cfg->request_repeat_ms = COLO_MIRROR_REQUEST_REPEAT_DEFAULT;
}

int
colo_mirror_config_check (const colo_mirror_config_t *cfg, char *err, size_t err_cap)
{
    char why[256];
    if (!cfg->in) {
        snprintf (err, err_cap, "an input URI is required");
        return -1;
    }
    if (!cfg->to_primary && !cfg->to_secondary) {
        snprintf (err, err_cap, "at least one output URI is required");
        return -1;
    }
    if (cfg->busy_poll_us > 1000) {
        snprintf (err, err_cap, "busy-poll %u is outside 0..1000", cfg->busy_poll_us);
        return -1;
    }
    if (cfg->backlog == 0 || cfg->backlog > COLO_MIRROR_BACKLOG_MAX) {
        snprintf (err, err_cap, "backlog %u is outside 1..%u", cfg->backlog,
                  COLO_MIRROR_BACKLOG_MAX);
        return -1;
    }
    if (cfg->control) {
        colo_ctl_uri_t uri;
        if (colo_ctl_uri_parse (cfg->control, &uri, why, sizeof why) != 0) {
            snprintf (err, err_cap, "control: %s", why);
            return -1;
        }
        const char *id = cfg->id ? cfg->id : "mirror";
        if (!colo_rule_name_ok (id)) {
            snprintf (err, err_cap, "id '%s': colo-control needs 1 to 63 of A-Z a-z 0-9 . _ -",
                      id);
            return -1;
        }
    }
    if (cfg->vm && !colo_rule_name_ok (cfg->vm)) {
        snprintf (err, err_cap, "vm '%s': expected 1 to 63 of A-Z a-z 0-9 . _ -", cfg->vm);
        return -1;
    }
    const char *uris[3] = {cfg->in, cfg->to_primary, cfg->to_secondary};
    colo_port_dir_t dirs[3] = {COLO_PORT_RX, COLO_PORT_TX, COLO_PORT_TX};
    for (int i = 0; i < 3; i++)
        if (uris[i] && colo_port_check (uris[i], dirs[i], why, sizeof why) != 0) {
            snprintf (err, err_cap, "%s", why);
            return -1;
        }
    return 0;
}

//  ---------------------------------------------------------------- divergence

static void
s_publish (colo_mirror_t *self)
{
    pthread_mutex_lock (&self->lock);
    for (int i = 0; i < COLO_MIRROR_COUNTER_COUNT; i++)
        if (i != COLO_MIRROR_DIVERGENCES && i != COLO_MIRROR_CHECKPOINTS)
            self->shared[i] = self->counters[i];
    pthread_mutex_unlock (&self->lock);
}

//  Ask colo-control for a checkpoint; remember whether it went out.
static void
s_request_checkpoint (colo_mirror_t *self, const char *reason, uint64_t now_ms)
{
    self->request_ms = now_ms;
    if (colo_ctlclient_request_checkpoint (self->ctl, reason, NULL) == 0) {
        self->counters[COLO_MIRROR_CHECKPOINT_REQUESTS]++;
        self->request_unsent = 0;
        return;
    }
    self->counters[COLO_MIRROR_CHECKPOINT_UNSENT]++;
    self->request_unsent = 1;
    colo_log_limited (&self->rl_control, COLO_LOG_WARN,
                      "mirror %s: colo-control unreachable; the checkpoint request (%s) will "
                      "be repeated every second",
                      self->id, reason);
}

//  The secondary missed input: start an episode unless one is running (or
//  the secondary is not fed at all since a failover).
static void
s_diverge (colo_mirror_t *self, const char *reason)
{
    s_publish (self);   //  the counters that explain it are visible with the flag
    pthread_mutex_lock (&self->lock);
    int starts = !self->diverged && !self->failover;
    if (starts) {
        self->diverged = 1;
        self->reason = reason;
        self->shared[COLO_MIRROR_DIVERGENCES]++;
    }
    pthread_mutex_unlock (&self->lock);
    if (!starts)
        return;
    colo_warn ("mirror %s: the secondary missed input (%s); it needs a checkpoint",
               self->id, reason);
    if (self->on_divergence)
        self->on_divergence (self->on_divergence_arg, reason);
    if (self->ctl)
        s_request_checkpoint (self, reason, colo_clock_mono_ms ());
}

void
colo_mirror_checkpoint_done (colo_mirror_t *self)
{
    pthread_mutex_lock (&self->lock);
    int was = self->diverged, resumes = self->failover;
    self->diverged = 0;
    self->reason = NULL;
    self->failover = 0;
    self->shared[COLO_MIRROR_CHECKPOINTS]++;
    pthread_mutex_unlock (&self->lock);
    if (was)
        colo_info ("mirror %s: checkpoint done; the secondary is in step again", self->id);
    if (resumes)
        colo_info ("mirror %s: checkpoint done after failover; mirroring to the secondary "
                   "again",
                   self->id);
}

int
colo_mirror_diverged (colo_mirror_t *self, const char **reason_out)
{
    pthread_mutex_lock (&self->lock);
    int diverged = self->diverged;
    if (reason_out)
        *reason_out = self->reason;
    pthread_mutex_unlock (&self->lock);
    return diverged;
}

void
colo_mirror_counters (colo_mirror_t *self, uint64_t *out)
{
    pthread_mutex_lock (&self->lock);
    memcpy (out, self->shared, sizeof self->shared);
    pthread_mutex_unlock (&self->lock);
}

const char *
colo_mirror_id (colo_mirror_t *self)
{
    return self->id;
}

//  ---------------------------------------------------------------- primary path

//  Offer the waiting frames to the primary port, in order.
static void
s_flush_primary (colo_mirror_t *self)
{
    while (self->pri_count > 0) {
        int k = colo_port_send (self->pri_port, self->pri + self->pri_head, self->pri_count);
        if (k <= 0)
            break;
        self->pri_head += k;
        self->pri_count -= k;
        self->counters[COLO_MIRROR_PRIMARY_FRAMES] += (uint64_t) k;
    }
    if (self->pri_count == 0)
        self->pri_head = 0;
}

//  Read the input only while the primary has taken everything.
static void
s_input_gate (colo_mirror_t *self)
{
    int want = self->pri_count == 0;
    if (want == self->in_enabled)
        return;
    self->in_enabled = want;
    colo_loop_enable_fd (self->loop, colo_port_fd (self->in), want);
    if (want)
        colo_loop_again (self->loop);   //  edge-triggered fds (zmq) may not fire again
    else
        self->counters[COLO_MIRROR_INPUT_PAUSED]++;
}

//  ---------------------------------------------------------------- secondary path

static void
s_flush_secondary (colo_mirror_t *self)
{
    while (self->sec_count > 0) {
        size_t run = self->sec_cap - self->sec_head;
        if (run > self->sec_count)
            run = self->sec_count;
        if (run > S_BURST)
            run = S_BURST;
        int k = colo_port_send (self->sec_port, self->sec + self->sec_head, (int) run);
        if (k <= 0)
            break;
        self->sec_head = (self->sec_head + (size_t) k) % self->sec_cap;
        self->sec_count -= (size_t) k;
        self->counters[COLO_MIRROR_SECONDARY_FRAMES] += (uint64_t) k;
        if ((size_t) k < run)
            break;
    }
}

//  A copy of buf for the secondary, or an overflow.
static void
s_copy_to_secondary (colo_mirror_t *self, const colo_buf_t *buf)
{
    colo_buf_t *copy = NULL;
    if (self->sec_count == self->sec_cap)
        s_flush_secondary (self);   //  the port's queue may have room
    if (self->sec_count < self->sec_cap)
        copy = colo_buf_dup (buf);
    if (!copy) {
        self->counters[COLO_MIRROR_SECONDARY_OVERFLOW]++;
        colo_log_limited (&self->rl_overflow, COLO_LOG_WARN,
                          "mirror %s: %s: %s; frame of %u bytes not mirrored "
                          "(%llu so far)",
                          self->id, colo_port_uri (self->sec_port),
                          self->sec_count < self->sec_cap ? "out of memory"
                                                          : "secondary backlog full",
                          buf->len,
                          (unsigned long long)
                              self->counters[COLO_MIRROR_SECONDARY_OVERFLOW]);
        s_diverge (self, "overflow");
        return;
    }
    self->sec[(self->sec_head + self->sec_count) % self->sec_cap] = copy;
    self->sec_count++;
}

//  A secondary connection that broke after frames were written on it may
//  have lost them in flight.
static void
s_watch_secondary_link (colo_mirror_t *self)
{
    const uint64_t *c = colo_port_counters (self->sec_port);
    if (c[COLO_PORT_DISCONNECTS] != self->sec_disconnects_seen) {
        self->sec_disconnects_seen = c[COLO_PORT_DISCONNECTS];
        if (c[COLO_PORT_TX_FRAMES] > self->sec_tx_at_connect) {
            self->counters[COLO_MIRROR_SECONDARY_BROKEN]++;
            s_diverge (self, "disconnected");
        }
        self->sec_tx_at_connect = c[COLO_PORT_TX_FRAMES];
    }
    if (c[COLO_PORT_CONNECTS] != self->sec_connects_seen) {
        self->sec_connects_seen = c[COLO_PORT_CONNECTS];
        self->sec_tx_at_connect = c[COLO_PORT_TX_FRAMES];
    }
}

//  ---------------------------------------------------------------- handlers

static void
s_on_input (colo_loop_t *loop, int fd, void *arg)
{
    (void) fd;
    colo_mirror_t *self = (colo_mirror_t *) arg;
    if (self->pri_count > 0)
        return;   //  still waiting for the primary
    int n = colo_port_recv (self->in, self->pri, S_BURST);
    if (n > 0) {
        int mirroring = self->sec_port != NULL;
        if (mirroring && self->ctl) {
            pthread_mutex_lock (&self->lock);
            mirroring = !self->failover;
            pthread_mutex_unlock (&self->lock);
            if (!mirroring)
                self->counters[COLO_MIRROR_SECONDARY_SKIPPED] += (uint64_t) n;
        }
        for (int i = 0; i < n; i++) {
            self->counters[COLO_MIRROR_IN_FRAMES]++;
            self->counters[COLO_MIRROR_IN_BYTES] += self->pri[i]->len;
            if (mirroring)
                s_copy_to_secondary (self, self->pri[i]);
        }
        //  The secondary's copies go first: its path is the longer one (a
        //  host link, the rewriter), and handing a frame to the primary's
        //  port may run the primary guest's receive path inline (a veth or
        //  tap).  Neither send blocks, and each port keeps its own order.
        if (self->sec_port) {
            s_flush_secondary (self);
            s_watch_secondary_link (self);
        }
        if (self->pri_port) {
            self->pri_head = 0;
            self->pri_count = n;
            s_flush_primary (self);
        }
        else
            colo_buf_destroy_array (self->pri, n);
        if (n == S_BURST)
            colo_loop_again (loop);   //  more may be waiting; let others run first
    }
    if (self->pri_port)
        s_input_gate (self);
    s_publish (self);
}

static void
s_on_primary (colo_loop_t *loop, int fd, void *arg)
{
    (void) loop;
    (void) fd;
    colo_mirror_t *self = (colo_mirror_t *) arg;
    colo_port_recv (self->pri_port, NULL, 0);
    s_flush_primary (self);
    s_input_gate (self);
    s_publish (self);
}

static void
s_on_secondary (colo_loop_t *loop, int fd, void *arg)
{
    (void) loop;
    (void) fd;
    colo_mirror_t *self = (colo_mirror_t *) arg;
    colo_port_recv (self->sec_port, NULL, 0);
    s_flush_secondary (self);
    s_watch_secondary_link (self);
    s_publish (self);
}

//  colo-control failover: the secondary is gone (or serves alone).  Drop
//  what waits for it and stop copying; the primary path is untouched.
static void
s_failover (colo_mirror_t *self, const char *source)
{
    pthread_mutex_lock (&self->lock);
    int was = self->failover;
    self->failover = 1;
    self->diverged = 0;
    self->reason = NULL;
    pthread_mutex_unlock (&self->lock);
    self->counters[COLO_MIRROR_FAILOVERS]++;
    self->request_unsent = 0;
    size_t dropped = self->sec_count;
    for (size_t i = 0; i < self->sec_count; i++)
        colo_buf_destroy (&self->sec[(self->sec_head + i) % self->sec_cap]);
    self->sec_head = self->sec_count = 0;
    self->counters[COLO_MIRROR_SECONDARY_SKIPPED] += dropped;
    if (!was)
        colo_warn ("mirror %s: failover (from %s): no longer feeding the secondary (%zu "
                   "waiting copies dropped) until the next checkpoint",
                   self->id, source, dropped);
}

//  colo-control: checkpoint-done and failover events, request repeats,
//  and the counters for the next heartbeat.
static void
s_on_control (colo_loop_t *loop, int fd, void *arg)
{
    (void) loop;
    (void) fd;
    colo_mirror_t *self = (colo_mirror_t *) arg;
    s_publish (self);
    colo_mirror_counters (self, self->status_values);
    size_t n = COLO_MIRROR_COUNTER_COUNT;
    colo_port_t *ports[S_PORTS] = {self->in, self->pri_port, self->sec_port};
    for (int p = 0; p < S_PORTS; p++)
        if (ports[p])
            n = colo_port_status_append (ports[p], self->port_names[p], self->status_names,
                                         self->status_values, n);
    colo_ctlclient_set_status (self->ctl, self->status_names, self->status_values, n);
    uint64_t now = colo_clock_mono_ms ();
    colo_ctlclient_process (self->ctl, now);
    colo_ctl_event_t ev;
    while (colo_ctlclient_next_event (self->ctl, &ev)) {
        if (ev.type == COLO_CTL_EV_CHECKPOINT_DONE) {
            colo_mirror_checkpoint_done (self);
            self->request_unsent = 0;
        }
        else if (ev.type == COLO_CTL_EV_FAILOVER)
            s_failover (self, ev.source);
    }
    //  Repeat the request while the episode lasts: at once-a-second if it
    //  never went out, at request_repeat_ms if nobody answered it.
    const char *reason = NULL;
    uint64_t every = self->request_unsent ? S_REQUEST_REPEAT_MS : self->request_repeat_ms;
    if (every && now - self->request_ms >= every) {
        if (colo_mirror_diverged (self, &reason) && reason) {
            if (!self->request_unsent)
                colo_log_limited (&self->rl_control, COLO_LOG_WARN,
                                  "mirror %s: no checkpoint %llu ms after asking for one "
                                  "(%s); asking again",
                                  self->id, (unsigned long long) (now - self->request_ms),
                                  reason);
            s_request_checkpoint (self, reason, now);
        }
        else
            self->request_unsent = 0;   //  ended meanwhile (a checkpoint from elsewhere)
    }
    s_publish (self);
}

static void *
s_run (void *arg)
{
    colo_mirror_t *self = (colo_mirror_t *) arg;
    colo_loop_run (self->loop);
    return NULL;
}

//  ---------------------------------------------------------------- lifecycle

colo_mirror_t *
colo_mirror_start (const colo_mirror_config_t *cfg)
{
    char err[256];
    const char *id = cfg->id ? cfg->id : "mirror";
    if (colo_mirror_config_check (cfg, err, sizeof err) != 0) {
        colo_error ("mirror %s: %s", id, err);
        return NULL;
    }
    colo_mirror_t *self = (colo_mirror_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init (&self->lock, NULL);
    self->id = strdup (id);
    self->vm = strdup (cfg->vm ? cfg->vm : id);
    self->control = cfg->control ? strdup (cfg->control) : NULL;
    self->on_divergence = cfg->on_divergence;
    self->on_divergence_arg = cfg->on_divergence_arg;
    self->request_repeat_ms = cfg->request_repeat_ms;
    for (int i = 0; i < COLO_MIRROR_COUNTER_COUNT; i++)
        self->status_names[i] = colo_mirror_counter_names[i];
    static const char *const roles[S_PORTS] = {"in", "to_primary", "to_secondary"};
    for (int p = 0; p < S_PORTS; p++)
        colo_port_counter_labels (roles[p], self->port_names[p]);
    self->rl_overflow = (colo_ratelimit_t) COLO_RATELIMIT_INIT (10000, 5);
    self->rl_control = (colo_ratelimit_t) COLO_RATELIMIT_INIT (10000, 3);
    self->loop = colo_loop_new ();
    if (self->loop)
        colo_loop_set_busy_poll (self->loop, cfg->busy_poll_us);
    if (!self->id || !self->vm || (cfg->control && !self->control) || !self->loop)
        goto fail;
    //  Outputs first, so nothing is read before it has somewhere to go.
    if (cfg->to_secondary) {
        self->sec_cap = cfg->backlog;
        self->sec = (colo_buf_t **) calloc (self->sec_cap, sizeof (colo_buf_t *));
        self->sec_port = colo_port_new (cfg->to_secondary, COLO_PORT_TX);
        if (!self->sec || !self->sec_port)
            goto fail;
        const uint64_t *c = colo_port_counters (self->sec_port);
        self->sec_connects_seen = c[COLO_PORT_CONNECTS];
        self->sec_disconnects_seen = c[COLO_PORT_DISCONNECTS];
        self->sec_tx_at_connect = c[COLO_PORT_TX_FRAMES];
        if (colo_loop_add_fd (self->loop, colo_port_fd (self->sec_port), s_on_secondary,
                              self)
            != 0)
            goto fail;
    }
    if (cfg->to_primary) {
        self->pri_port = colo_port_new (cfg->to_primary, COLO_PORT_TX);
        if (!self->pri_port
            || colo_loop_add_fd (self->loop, colo_port_fd (self->pri_port), s_on_primary,
                                 self)
                   != 0)
            goto fail;
    }
    self->in = colo_port_new (cfg->in, COLO_PORT_RX);
    if (!self->in
        || colo_loop_add_fd (self->loop, colo_port_fd (self->in), s_on_input, self) != 0)
        goto fail;
    self->in_enabled = 1;
    if (self->control) {
        self->ctl = colo_ctlclient_new (self->control, "mirror", self->id, self->vm);
        if (!self->ctl) {
            colo_error ("mirror %s: control: cannot use %s", self->id, self->control);
            goto fail;
        }
        if (colo_loop_add_fd (self->loop, colo_ctlclient_fd (self->ctl), s_on_control, self)
            != 0)
            goto fail;
    }
    colo_loop_again (self->loop);   //  frames may already be waiting
    if (pthread_create (&self->thread, NULL, s_run, self) != 0) {
        colo_error ("mirror %s: cannot start a thread", self->id);
        goto fail;
    }
    self->thread_started = 1;
    colo_info ("mirror %s: %s -> primary %s, secondary %s%s%s%s%s", self->id, cfg->in,
               cfg->to_primary ? cfg->to_primary : "(none)",
               cfg->to_secondary ? cfg->to_secondary : "(none)",
               self->ctl ? "; colo-control " : "", self->ctl ? self->control : "",
               self->ctl ? ", vm " : "", self->ctl ? self->vm : "");
    return self;
fail:
    colo_error ("mirror %s: cannot start", id);
    colo_mirror_stop (&self);
    return NULL;
}

void
colo_mirror_stop (colo_mirror_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    colo_mirror_t *self = *self_p;
    if (self->thread_started) {
        colo_loop_stop (self->loop);
        pthread_join (self->thread, NULL);
    }
    colo_ctlclient_destroy (&self->ctl);
    colo_port_destroy (&self->in);
    colo_port_destroy (&self->pri_port);
    colo_port_destroy (&self->sec_port);
    if (self->pri_count || self->sec_count)
        colo_info ("mirror %s: stopping with %d frame(s) for the primary and %zu for the "
                   "secondary unsent",
                   self->id, self->pri_count, self->sec_count);
    colo_buf_destroy_array (self->pri + self->pri_head, self->pri_count);
    for (size_t i = 0; i < self->sec_count; i++)
        colo_buf_destroy (&self->sec[(self->sec_head + i) % self->sec_cap]);
    free (self->sec);
    colo_loop_destroy (&self->loop);
    pthread_mutex_destroy (&self->lock);
    free (self->control);
    free (self->vm);
    free (self->id);
    free (self);
    *self_p = NULL;
}
