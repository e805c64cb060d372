/*  colo_redirector.c - colo-redirector: frames from one port to another, with backpressure.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  A redirector is the mirror engine with a lossless primary output and no
 *  secondary, so both services share one tested loop.
 */
#include <stdio.h>
#include <stdlib.h>

#include "colo_ctlclient.h"
#include "colo_log.h"
#include "colo_mirror.h"
#include "colo_redirector.h"

const char *const colo_redirector_counter_names[COLO_REDIRECTOR_COUNTER_COUNT] = {
    "in_frames", "in_bytes", "out_frames", "input_paused",
};

struct colo_redirector {
    colo_mirror_t *engine;
};

static void
s_engine_config (const colo_redirector_config_t *cfg, colo_mirror_config_t *mcfg)
{
    colo_mirror_config_defaults (mcfg);
    mcfg->id = cfg->id ? cfg->id : "redirector";
    mcfg->in = cfg->in;
    mcfg->to_primary = cfg->out;
    //  Not passed on: the engine would register as a "mirror" with
    //  colo-control, and a redirector has no part in checkpoints yet.
    mcfg->control = NULL;
}

int
colo_redirector_config_check (const colo_redirector_config_t *cfg, char *err,
                              size_t err_cap)
{
    if (!cfg->in || !cfg->out) {
        snprintf (err, err_cap, "both an input and an output URI are required");
        return -1;
    }
    colo_ctl_uri_t uri;
    char why[256];
    if (cfg->control && colo_ctl_uri_parse (cfg->control, &uri, why, sizeof why) != 0) {
        snprintf (err, err_cap, "control: %s", why);
        return -1;
    }
    colo_mirror_config_t mcfg;
    s_engine_config (cfg, &mcfg);
    return colo_mirror_config_check (&mcfg, err, err_cap);
}

colo_redirector_t *
colo_redirector_start (const colo_redirector_config_t *cfg)
{
    char err[256];
    if (colo_redirector_config_check (cfg, err, sizeof err) != 0) {
        colo_error ("redirector %s: %s", cfg->id ? cfg->id : "redirector", err);
        return NULL;
    }
    colo_mirror_config_t mcfg;
    s_engine_config (cfg, &mcfg);
    colo_redirector_t *self = (colo_redirector_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->engine = colo_mirror_start (&mcfg);
    if (!self->engine) {
        free (self);
        return NULL;
    }
    return self;
}

void
colo_redirector_stop (colo_redirector_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    colo_mirror_stop (&(*self_p)->engine);
    free (*self_p);
    *self_p = NULL;
}

void
colo_redirector_counters (colo_redirector_t *self, uint64_t *out)
{
    uint64_t all[COLO_MIRROR_COUNTER_COUNT];
    colo_mirror_counters (self->engine, all);
    out[COLO_REDIRECTOR_IN_FRAMES] = all[COLO_MIRROR_IN_FRAMES];
    out[COLO_REDIRECTOR_IN_BYTES] = all[COLO_MIRROR_IN_BYTES];
    out[COLO_REDIRECTOR_OUT_FRAMES] = all[COLO_MIRROR_PRIMARY_FRAMES];
    out[COLO_REDIRECTOR_INPUT_PAUSED] = all[COLO_MIRROR_INPUT_PAUSED];
}
