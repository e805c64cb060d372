/*  colo_rewriter_actor.c - one colo-rewriter instance: four ports, one thread, the engine between them.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  The thread runs a colo_loop over the ports' fds, an eventfd for
 *  commands and one timer (aging; a short retry period while a paused
 *  port's fd cannot be watched, see s_update_fds).  A pipeline reads a
 *  burst, rewrites it, and offers it to its output; what the output does
 *  not take waits in the pipeline (at most one burst), and the input fd is
 *  switched off until the output has taken it all.  The counters are
 *  copied under a mutex after every burst for colo_rewriter_actor_stats.
 *
 *  With --control, colo-control's client lives in the same thread: its fd
 *  is one more input of the loop (readable at least every heartbeat), its
 *  events are applied right there (the cross-thread calls would wait for
 *  this very thread), and the counters are handed to it on each turn.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "colo_ctlclient.h"
#include "colo_log.h"
#include "colo_loop.h"
#include "colo_port.h"
#include "colo_rewriter_actor.h"

#define S_BURST 64
#define S_BURSTS_PER_TURN 16   //  then let the other pipeline run
#define S_RETRY_MS 2
#define S_PORTS 4
//  the status: the engine's counters, 5 of the actor's, each port's
#define S_STATUS_COUNT (COLO_RW_COUNTER_COUNT + 5)
#define S_STATUS_MAX (S_STATUS_COUNT + S_PORTS * COLO_PORT_COUNTER_COUNT)
_Static_assert (S_STATUS_MAX <= COLO_CTL_COUNTERS_MAX, "the status fits in a Hello");

typedef struct s_port {
    colo_rewriter_actor_t *actor;
    colo_port_t *port;
    char *uri;                //  as opened (with ",vnet" if added)
    const char *key;          //  the option that named it first
    colo_port_dir_t dir;
    int fd;
    int enabled;              //  fd watched by the loop
} s_port_t;

typedef struct {
    const char *name;         //  "to-guest" or "to-compare"
    s_port_t *in, *out;
    int to_guest;             //  engine direction
    colo_buf_t *pending[S_BURST];   //  rewritten, not yet taken by out
    int head, count;
    int paused;               //  input not read until pending is empty
    uint64_t frames, stalls;
} s_pipe_t;

struct colo_rewriter_actor {
    char *id;
    char *control;
    char *vm;
    colo_ctlclient_t *ctl;            //  colo-control, or NULL
    int failed_over;                  //  loop thread: failover applied
    uint32_t tick_ms;
    colo_rewriter_t *engine;
    colo_loop_t *loop;
    s_port_t ports[S_PORTS];
    int nports;
    //  the status for colo-control (s_on_control)
    const char *status_names[S_STATUS_MAX];
    uint64_t status_values[S_STATUS_MAX];
    char port_names[S_PORTS][COLO_PORT_COUNTER_COUNT][COLO_PORT_LABEL_MAX];
    s_pipe_t pipes[2];
    int cmd_fd;
    int timer;
    int retrying;
    uint64_t next_tick_ms;
    uint64_t cp_done, fo_done;        //  commands applied (loop thread)
    pthread_t thread;
    int thread_started;
    //  shared with other threads, under lock
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int running;
    uint64_t cp_requested, cp_applied;
    uint64_t fo_requested, fo_applied;
    colo_rewriter_stats_t stats;
};

void
colo_rewriter_actor_config_defaults (colo_rewriter_actor_config_t *cfg)
{
    memset (cfg, 0, sizeof *cfg);
    cfg->tick_ms = 1000;
    colo_rewriter_config_defaults (&cfg->engine);
}

//  ---------------------------------------------------------------- config

static int
s_is_qemu (const char *uri)
{
    return strncmp (uri, "qemu+unix:", 10) == 0 || strncmp (uri, "qemu+tcp:", 9) == 0;
}

static int
s_has_option (const char *uri, const char *name)
{
    size_t n = strlen (name);
    for (const char *p = strchr (uri, ','); p; p = strchr (p + 1, ','))
        if (strncmp (p + 1, name, n) == 0 && (p[1 + n] == ',' || p[1 + n] == 0))
            return 1;
    return 0;
}

char *
colo_rewriter_port_uri (const char *uri, int vnet)
{
    if (!uri)
        return NULL;
    if (!vnet || !s_is_qemu (uri) || s_has_option (uri, "vnet"))
        return strdup (uri);
    size_t n = strlen (uri);
    char *out = (char *) malloc (n + 6);
    if (out)
        snprintf (out, n + 6, "%s,vnet", uri);
    return out;
}

typedef struct {
    const char *key;
    const char *uri;
    colo_port_dir_t dir;
    int pipe;                 //  0: toward the guest, 1: toward compare
} s_uri_spec_t;

static void
s_uri_specs (const colo_rewriter_actor_config_t *cfg, s_uri_spec_t specs[S_PORTS])
{
    specs[0] = (s_uri_spec_t) {"from-mirror", cfg->from_mirror, COLO_PORT_RX, 0};
    specs[1] = (s_uri_spec_t) {"to-guest", cfg->to_guest, COLO_PORT_TX, 0};
    specs[2] = (s_uri_spec_t) {"from-guest", cfg->from_guest, COLO_PORT_RX, 1};
    specs[3] = (s_uri_spec_t) {"to-compare", cfg->to_compare, COLO_PORT_TX, 1};
}

int
colo_rewriter_actor_check (const colo_rewriter_actor_config_t *cfg, const char **key,
                           char *err, size_t err_cap)
{
    const char *dummy_key;
    if (!key)
        key = &dummy_key;
    *key = "";
    if (err_cap)
        err[0] = 0;
    s_uri_spec_t specs[S_PORTS];
    s_uri_specs (cfg, specs);
    char *uris[S_PORTS] = {NULL, NULL, NULL, NULL};
    int rc = -1;
    for (int i = 0; i < S_PORTS; i++) {
        *key = specs[i].key;
        if (!specs[i].uri || !*specs[i].uri) {
            snprintf (err, err_cap, "missing (a URI is required)");
            goto done;
        }
        uris[i] = colo_rewriter_port_uri (specs[i].uri, cfg->vnet_hdr_support);
        if (!uris[i]) {
            snprintf (err, err_cap, "out of memory");
            goto done;
        }
        colo_port_dir_t dir = specs[i].dir;
        for (int j = 0; j < i; j++)
            if (strcmp (uris[i], uris[j]) == 0) {
                //  One port may serve as the input of one pipeline and the
                //  output of the other (a tap, a two-way chardev).
                if (specs[i].pipe == specs[j].pipe || specs[i].dir == specs[j].dir) {
                    snprintf (err, err_cap, "'%s': the same port as '%s'", specs[i].uri,
                              specs[j].key);
                    goto done;
                }
                dir = COLO_PORT_RXTX;
            }
        if (colo_port_check (uris[i], dir, err, err_cap) != 0)
            goto done;
    }
    *key = "max-connections";
    if (cfg->engine.max_connections == 0 || cfg->engine.max_connections > ((size_t) 1 << 30)) {
        snprintf (err, err_cap, "%zu: expected 1 to %zu", cfg->engine.max_connections,
                  (size_t) 1 << 30);
        goto done;
    }
    *key = "idle-timeout";
    if (cfg->engine.idle_timeout_ms == 0) {
        snprintf (err, err_cap, "0: expected at least 1 ms");
        goto done;
    }
    *key = "busy-poll";
    if (cfg->busy_poll_us > 1000) {
        snprintf (err, err_cap, "%u: expected 0 to 1000", cfg->busy_poll_us);
        goto done;
    }
    *key = "tick";
    if (cfg->tick_ms == 0) {
        snprintf (err, err_cap, "0: expected at least 1 ms");
        goto done;
    }
    if (cfg->control) {
        *key = "control";
        colo_ctl_uri_t uri;
        if (colo_ctl_uri_parse (cfg->control, &uri, err, err_cap) != 0)
            goto done;
        *key = "id";
        const char *id = cfg->id && *cfg->id ? cfg->id : "colo-rewriter";
        if (!colo_rule_name_ok (id)) {
            snprintf (err, err_cap, "'%s': colo-control needs 1 to 63 of A-Z a-z 0-9 . _ -",
                      id);
            goto done;
        }
    }
    *key = "vm";
    if (cfg->vm && !colo_rule_name_ok (cfg->vm)) {
        snprintf (err, err_cap, "'%s': expected 1 to 63 of A-Z a-z 0-9 . _ -", cfg->vm);
        goto done;
    }
    *key = "";
    rc = 0;
done:
    for (int i = 0; i < S_PORTS; i++)
        free (uris[i]);
    return rc;
}

//  ---------------------------------------------------------------- the loop

//  Copy the counters for other threads.
static void
s_publish (colo_rewriter_actor_t *self)
{
    pthread_mutex_lock (&self->lock);
    memcpy (self->stats.engine, colo_rewriter_counters (self->engine),
            sizeof self->stats.engine);
    self->stats.connections = colo_rewriter_connections (self->engine);
    self->stats.to_guest_frames = self->pipes[0].frames;
    self->stats.to_compare_frames = self->pipes[1].frames;
    self->stats.to_guest_stalls = self->pipes[0].stalls;
    self->stats.to_compare_stalls = self->pipes[1].stalls;
    pthread_mutex_unlock (&self->lock);
}

//  Watch a port's fd unless it is the input of a paused pipeline.  A port
//  that is also the output of the other pipeline still needs its flush
//  turns; its fd would stay readable (input we will not read) and spin the
//  loop, so it is switched off too and the timer retries the flush every
//  S_RETRY_MS instead.
static void
s_update_fds (colo_rewriter_actor_t *self)
{
    for (int i = 0; i < self->nports; i++) {
        s_port_t *p = &self->ports[i];
        int want = 1;
        for (int k = 0; k < 2; k++)
            if (self->pipes[k].in == p && self->pipes[k].paused)
                want = 0;
        if (want != p->enabled) {
            colo_loop_enable_fd (self->loop, p->fd, want);
            p->enabled = want;
        }
    }
    int retry = 0;
    for (int k = 0; k < 2; k++)
        if (self->pipes[k].count && !self->pipes[k].out->enabled)
            retry = 1;
    if (retry != self->retrying) {
        self->retrying = retry;
        uint64_t interval = retry ? S_RETRY_MS : self->tick_ms;
        colo_loop_timer_set_interval (self->loop, self->timer, interval);
        colo_loop_timer_set_next (self->loop, self->timer, colo_clock_mono_ms () + interval);
    }
}

//  Offer the waiting frames again; resume the input when all are taken.
static void
s_flush (colo_rewriter_actor_t *self, s_pipe_t *pipe)
{
    if (!pipe->count)
        return;
    int k = colo_port_send (pipe->out->port, pipe->pending + pipe->head, pipe->count);
    if (k > 0) {
        pipe->head += k;
        pipe->count -= k;
        pipe->frames += (uint64_t) k;
    }
    if (pipe->count == 0) {
        pipe->head = 0;
        if (pipe->paused) {
            pipe->paused = 0;
            colo_debug ("rewriter %s: %s flowing again", self->id, pipe->name);
            s_update_fds (self);
            colo_loop_again (self->loop);   //  the input may be edge-triggered
        }
    }
}

//  Read, rewrite and forward bursts until the input is drained, the output
//  pushes back, or this turn's share is used.
static void
s_pump (colo_rewriter_actor_t *self, s_pipe_t *pipe)
{
    colo_buf_t *bufs[S_BURST];
    for (int burst = 0; burst < S_BURSTS_PER_TURN; burst++) {
        int n = colo_port_recv (pipe->in->port, bufs, S_BURST);
        if (n <= 0)
            return;
        uint64_t now = colo_clock_mono_ms ();
        if (pipe->to_guest)
            colo_rewriter_to_guest_burst (self->engine, bufs, (size_t) n, now, NULL);
        else
            colo_rewriter_from_guest_burst (self->engine, bufs, (size_t) n, now, NULL);
        int k = colo_port_send (pipe->out->port, bufs, n);
        if (k < 0)
            k = 0;
        pipe->frames += (uint64_t) k;
        if (k < n) {
            memcpy (pipe->pending, bufs + k, sizeof (colo_buf_t *) * (size_t) (n - k));
            pipe->head = 0;
            pipe->count = n - k;
            pipe->paused = 1;
            pipe->stalls++;
            colo_debug ("rewriter %s: %s backed up (%d frames waiting)", self->id, pipe->name,
                        pipe->count);
            s_update_fds (self);
            return;
        }
        if (n < S_BURST)
            return;
    }
    colo_loop_again (self->loop);
}

static void
s_on_port (colo_loop_t *loop, int fd, void *arg)
{
    (void) loop;
    (void) fd;
    s_port_t *p = (s_port_t *) arg;
    colo_rewriter_actor_t *self = p->actor;
    int reading = 0;
    for (int k = 0; k < 2; k++)
        if (self->pipes[k].in == p && !self->pipes[k].paused)
            reading = 1;
    if (!reading)
        colo_port_recv (p->port, NULL, 0);   //  housekeeping: accept, reconnect, flush
    for (int k = 0; k < 2; k++)
        if (self->pipes[k].out == p && self->pipes[k].count) {
            if (reading)
                colo_port_recv (p->port, NULL, 0);
            s_flush (self, &self->pipes[k]);
        }
    for (int k = 0; k < 2; k++)
        if (self->pipes[k].in == p && !self->pipes[k].paused)
            s_pump (self, &self->pipes[k]);
    s_publish (self);
}

static void
s_on_timer (colo_loop_t *loop, int timer_id, uint64_t now_ms, void *arg)
{
    (void) loop;
    (void) timer_id;
    colo_rewriter_actor_t *self = (colo_rewriter_actor_t *) arg;
    for (int k = 0; k < 2; k++) {
        s_pipe_t *pipe = &self->pipes[k];
        if (pipe->count && !pipe->out->enabled) {
            colo_port_recv (pipe->out->port, NULL, 0);
            s_flush (self, pipe);
        }
    }
    if (now_ms >= self->next_tick_ms) {
        colo_rewriter_tick (self->engine, now_ms);
        self->next_tick_ms = now_ms + self->tick_ms;
    }
    s_publish (self);
}

static void
s_failover (colo_rewriter_actor_t *self, const char *source)
{
    if (!self->failed_over)
        colo_info ("rewriter %s: failover%s%s: connections opened from now on pass as they "
                   "are",
                   self->id, source ? " from " : "", source ? source : "");
    self->failed_over = 1;
    colo_rewriter_failover (self->engine);
}

static void
s_on_command (colo_loop_t *loop, int fd, void *arg)
{
    (void) loop;
    colo_rewriter_actor_t *self = (colo_rewriter_actor_t *) arg;
    uint64_t value;
    if (read (fd, &value, sizeof value) < 0 && errno != EAGAIN)
        colo_warn ("rewriter %s: command eventfd: %s", self->id, strerror (errno));
    pthread_mutex_lock (&self->lock);
    uint64_t cp = self->cp_requested, fo = self->fo_requested;
    pthread_mutex_unlock (&self->lock);
    for (; self->cp_done < cp; self->cp_done++)
        colo_rewriter_checkpoint_done (self->engine);
    if (self->fo_done < fo) {
        s_failover (self, NULL);
        self->fo_done = fo;
    }
    s_publish (self);
    pthread_mutex_lock (&self->lock);
    self->cp_applied = cp;
    self->fo_applied = fo;
    pthread_cond_broadcast (&self->cond);
    pthread_mutex_unlock (&self->lock);
}

static const char *const s_status_extra[] = {
    "connections", "to_guest_frames", "to_compare_frames", "to_guest_stalls",
    "to_compare_stalls",
};

//  colo-control: checkpoint-done and failover for this VM, applied here
//  (between bursts, like the calls); the counters go with the heartbeats.
static void
s_on_control (colo_loop_t *loop, int fd, void *arg)
{
    (void) loop;
    (void) fd;
    colo_rewriter_actor_t *self = (colo_rewriter_actor_t *) arg;
    const char **names = self->status_names;
    uint64_t *values = self->status_values;
    const uint64_t *engine = colo_rewriter_counters (self->engine);
    for (int i = 0; i < COLO_RW_COUNTER_COUNT; i++) {
        names[i] = colo_rewriter_counter_names[i];
        values[i] = engine[i];
    }
    for (int i = 0; i < 5; i++)
        names[COLO_RW_COUNTER_COUNT + i] = s_status_extra[i];
    values[COLO_RW_COUNTER_COUNT + 0] = colo_rewriter_connections (self->engine);
    values[COLO_RW_COUNTER_COUNT + 1] = self->pipes[0].frames;
    values[COLO_RW_COUNTER_COUNT + 2] = self->pipes[1].frames;
    values[COLO_RW_COUNTER_COUNT + 3] = self->pipes[0].stalls;
    values[COLO_RW_COUNTER_COUNT + 4] = self->pipes[1].stalls;
    //  Then each port's counters, named by the option that opened it
    //  ("from_mirror.rx_frames"...).
    size_t n = S_STATUS_COUNT;
    for (int p = 0; p < self->nports; p++)
        n = colo_port_status_append (self->ports[p].port, self->port_names[p], names, values,
                                     n);
    colo_ctlclient_set_status (self->ctl, names, values, n);
    colo_ctlclient_process (self->ctl, colo_clock_mono_ms ());
    colo_ctl_event_t ev;
    int applied = 0;
    while (colo_ctlclient_next_event (self->ctl, &ev)) {
        if (ev.type == COLO_CTL_EV_CHECKPOINT_DONE) {
            colo_rewriter_checkpoint_done (self->engine);
            colo_debug ("rewriter %s: checkpoint done (from %s): offsets are zero", self->id,
                        ev.source);
            applied = 1;
        }
        else if (ev.type == COLO_CTL_EV_FAILOVER) {
            s_failover (self, ev.source);
            applied = 1;
        }
    }
    if (applied)
        s_publish (self);
}

static void *
s_thread (void *arg)
{
    colo_rewriter_actor_t *self = (colo_rewriter_actor_t *) arg;
    pthread_mutex_lock (&self->lock);
    self->running = 1;
    pthread_cond_broadcast (&self->cond);
    pthread_mutex_unlock (&self->lock);
    colo_loop_run (self->loop);
    pthread_mutex_lock (&self->lock);
    self->running = 0;
    pthread_cond_broadcast (&self->cond);
    pthread_mutex_unlock (&self->lock);
    return NULL;
}

//  ---------------------------------------------------------------- life cycle

static s_port_t *
s_port_add (colo_rewriter_actor_t *self, const char *uri, const char *key, colo_port_dir_t dir)
{
    for (int i = 0; i < self->nports; i++)
        if (strcmp (self->ports[i].uri, uri) == 0) {
            self->ports[i].dir |= dir;
            return &self->ports[i];
        }
    s_port_t *p = &self->ports[self->nports];
    p->uri = strdup (uri);
    if (!p->uri)
        return NULL;
    p->actor = self;
    p->key = key;
    p->dir = dir;
    p->fd = -1;
    self->nports++;
    return p;
}

colo_rewriter_actor_t *
colo_rewriter_actor_start (const colo_rewriter_actor_config_t *cfg)
{
    const char *id = cfg && cfg->id && *cfg->id ? cfg->id : "colo-rewriter";
    if (!cfg)
        return NULL;
    const char *key = NULL;
    char err[512];
    if (colo_rewriter_actor_check (cfg, &key, err, sizeof err) != 0) {
        colo_error ("rewriter %s: key '%s': %s", id, key, err);
        return NULL;
    }
    colo_rewriter_actor_t *self = (colo_rewriter_actor_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init (&self->lock, NULL);
    pthread_cond_init (&self->cond, NULL);
    self->cmd_fd = -1;
    self->tick_ms = cfg->tick_ms;
    self->id = strdup (id);
    self->control = cfg->control ? strdup (cfg->control) : NULL;
    self->vm = strdup (cfg->vm ? cfg->vm : self->id ? self->id : id);
    self->engine = colo_rewriter_new (&cfg->engine);
    self->loop = colo_loop_new ();
    if (self->loop)
        colo_loop_set_busy_poll (self->loop, cfg->busy_poll_us);
    self->cmd_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!self->id || !self->vm || (cfg->control && !self->control) || !self->engine
        || !self->loop || self->cmd_fd < 0) {
        colo_error ("rewriter %s: out of resources", id);
        goto fail;
    }
    s_uri_spec_t specs[S_PORTS];
    s_uri_specs (cfg, specs);
    s_port_t *ends[S_PORTS];
    for (int i = 0; i < S_PORTS; i++) {
        char *uri = colo_rewriter_port_uri (specs[i].uri, cfg->vnet_hdr_support);
        ends[i] = uri ? s_port_add (self, uri, specs[i].key, specs[i].dir) : NULL;
        free (uri);
        if (!ends[i])
            goto fail;
    }
    for (int i = 0; i < self->nports; i++) {
        s_port_t *p = &self->ports[i];
        p->port = colo_port_new (p->uri, p->dir);
        if (!p->port) {
            colo_error ("rewriter %s: key '%s': cannot open port %s", self->id, p->key, p->uri);
            goto fail;
        }
        p->fd = colo_port_fd (p->port);
        if (colo_loop_add_fd (self->loop, p->fd, s_on_port, p) != 0)
            goto fail;
        colo_port_counter_labels (p->key, self->port_names[i]);
        p->enabled = 1;
    }
    self->pipes[0] = (s_pipe_t) {.name = "to-guest", .in = ends[0], .out = ends[1], .to_guest = 1};
    self->pipes[1] = (s_pipe_t) {.name = "to-compare", .in = ends[2], .out = ends[3]};
    self->timer = colo_loop_add_timer (self->loop, self->tick_ms, s_on_timer, self);
    if (self->timer < 0 || colo_loop_add_fd (self->loop, self->cmd_fd, s_on_command, self) != 0)
        goto fail;
    if (self->control) {
        self->ctl = colo_ctlclient_new (self->control, "rewriter", self->id, self->vm);
        if (!self->ctl) {
            colo_error ("rewriter %s: key 'control': cannot use %s", self->id, self->control);
            goto fail;
        }
        if (colo_loop_add_fd (self->loop, colo_ctlclient_fd (self->ctl), s_on_control, self)
            != 0)
            goto fail;
    }
    self->next_tick_ms = colo_clock_mono_ms () + self->tick_ms;
    s_publish (self);
    //  Every port gets a first turn: some only wake us once we have found
    //  them empty (shm rings ring the doorbell only for a sleeping peer).
    colo_loop_again (self->loop);
    if (pthread_create (&self->thread, NULL, s_thread, self) != 0) {
        colo_error ("rewriter %s: cannot start a thread", self->id);
        goto fail;
    }
    self->thread_started = 1;
    pthread_mutex_lock (&self->lock);
    while (!self->running)
        pthread_cond_wait (&self->cond, &self->lock);
    pthread_mutex_unlock (&self->lock);
    colo_info ("rewriter %s: %s -> %s (acks to the secondary's space), %s -> %s (seqs to the "
               "primary's)%s%s%s%s",
               self->id, ends[0]->uri, ends[1]->uri, ends[2]->uri, ends[3]->uri,
               self->ctl ? "; colo-control " : "", self->ctl ? self->control : "",
               self->ctl ? ", vm " : "", self->ctl ? self->vm : "");
    return self;
fail:
    colo_rewriter_actor_stop (&self);
    return NULL;
}

void
colo_rewriter_actor_stop (colo_rewriter_actor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    colo_rewriter_actor_t *self = *self_p;
    if (self->thread_started) {
        colo_loop_stop (self->loop);
        pthread_join (self->thread, NULL);
    }
    colo_ctlclient_destroy (&self->ctl);
    for (int i = self->nports - 1; i >= 0; i--) {
        colo_port_destroy (&self->ports[i].port);
        free (self->ports[i].uri);
    }
    for (int k = 0; k < 2; k++)
        colo_buf_destroy_array (self->pipes[k].pending + self->pipes[k].head,
                                self->pipes[k].count);
    if (self->cmd_fd >= 0)
        close (self->cmd_fd);
    colo_loop_destroy (&self->loop);
    colo_rewriter_destroy (&self->engine);
    pthread_cond_destroy (&self->cond);
    pthread_mutex_destroy (&self->lock);
    free (self->control);
    free (self->vm);
    free (self->id);
    free (self);
    *self_p = NULL;
}

static int
s_command (colo_rewriter_actor_t *self, int failover)
{
    pthread_mutex_lock (&self->lock);
    if (!self->running) {
        pthread_mutex_unlock (&self->lock);
        return -1;
    }
    uint64_t ticket = failover ? ++self->fo_requested : ++self->cp_requested;
    pthread_mutex_unlock (&self->lock);
    uint64_t one = 1;
    if (write (self->cmd_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        return -1;
    pthread_mutex_lock (&self->lock);
    while (self->running && (failover ? self->fo_applied : self->cp_applied) < ticket)
        pthread_cond_wait (&self->cond, &self->lock);
    int rc = (failover ? self->fo_applied : self->cp_applied) >= ticket ? 0 : -1;
    pthread_mutex_unlock (&self->lock);
    return rc;
}

int
colo_rewriter_actor_checkpoint_done (colo_rewriter_actor_t *self)
{
    return s_command (self, 0);
}

int
colo_rewriter_actor_failover (colo_rewriter_actor_t *self)
{
    return s_command (self, 1);
}

void
colo_rewriter_actor_stats (colo_rewriter_actor_t *self, colo_rewriter_stats_t *out)
{
    pthread_mutex_lock (&self->lock);
    *out = self->stats;
    pthread_mutex_unlock (&self->lock);
}

const char *
colo_rewriter_actor_id (colo_rewriter_actor_t *self)
{
    return self->id;
}
