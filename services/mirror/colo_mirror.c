/*  colo_mirror.c - colo-mirror: each client frame to the primary and, in order, the secondary.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  One thread, one colo_loop_t, three ports.  Frames read from the input
 *  go into `pri` (at most one burst, waiting for the primary port) and a
 *  copy of each into `sec` (the bounded secondary backlog).  The input is
 *  read only while `pri` is empty, so the primary port's backpressure
 *  reaches the sender; the secondary's never does.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo_buf.h"
#include "colo_log.h"
#include "colo_loop.h"
#include "colo_mirror.h"
#include "colo_port.h"

#define S_BURST 64

const char *const colo_mirror_counter_names[COLO_MIRROR_COUNTER_COUNT] = {
    "in_frames",          "in_bytes",         "primary_frames",
    "secondary_frames",   "secondary_overflow", "secondary_broken",
    "divergences",        "checkpoints",      "input_paused",
};

struct colo_mirror {
    char *id;
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

    //  Shared, under lock
    pthread_mutex_t lock;
    uint64_t shared[COLO_MIRROR_COUNTER_COUNT];
    int diverged;
    const char *reason;
};

void
colo_mirror_config_defaults (colo_mirror_config_t *cfg)
{
    memset (cfg, 0, sizeof *cfg);
    cfg->backlog = COLO_MIRROR_BACKLOG_DEFAULT;
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
    if (cfg->backlog == 0 || cfg->backlog > COLO_MIRROR_BACKLOG_MAX) {
        snprintf (err, err_cap, "backlog %u is outside 1..%u", cfg->backlog,
                  COLO_MIRROR_BACKLOG_MAX);
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

//  The secondary missed input: start an episode unless one is running.
static void
s_diverge (colo_mirror_t *self, const char *reason)
{
    s_publish (self);   //  the counters that explain it are visible with the flag
    pthread_mutex_lock (&self->lock);
    int starts = !self->diverged;
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
}

void
colo_mirror_checkpoint_done (colo_mirror_t *self)
{
    pthread_mutex_lock (&self->lock);
    int was = self->diverged;
    self->diverged = 0;
    self->reason = NULL;
    self->shared[COLO_MIRROR_CHECKPOINTS]++;
    pthread_mutex_unlock (&self->lock);
    if (was)
        colo_info ("mirror %s: checkpoint done; the secondary is in step again", self->id);
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
        for (int i = 0; i < n; i++) {
            self->counters[COLO_MIRROR_IN_FRAMES]++;
            self->counters[COLO_MIRROR_IN_BYTES] += self->pri[i]->len;
            if (self->sec_port)
                s_copy_to_secondary (self, self->pri[i]);
        }
        if (self->pri_port) {
            self->pri_head = 0;
            self->pri_count = n;
            s_flush_primary (self);
        }
        else
            colo_buf_destroy_array (self->pri, n);
        if (self->sec_port) {
            s_flush_secondary (self);
            s_watch_secondary_link (self);
        }
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
    self->on_divergence = cfg->on_divergence;
    self->on_divergence_arg = cfg->on_divergence_arg;
    self->rl_overflow = (colo_ratelimit_t) COLO_RATELIMIT_INIT (10000, 5);
    self->loop = colo_loop_new ();
    if (!self->id || !self->loop)
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
    colo_loop_again (self->loop);   //  frames may already be waiting
    if (pthread_create (&self->thread, NULL, s_run, self) != 0) {
        colo_error ("mirror %s: cannot start a thread", self->id);
        goto fail;
    }
    self->thread_started = 1;
    colo_info ("mirror %s: %s -> primary %s, secondary %s", self->id, cfg->in,
               cfg->to_primary ? cfg->to_primary : "(none)",
               cfg->to_secondary ? cfg->to_secondary : "(none)");
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
    free (self->id);
    free (self);
    *self_p = NULL;
}
