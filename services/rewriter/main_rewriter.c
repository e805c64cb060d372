/*  main_rewriter.c - colo-rewriter: options and config, start the instances, wait for SIGTERM.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo_config.h"
#include "colo_log.h"
#include "colo_service.h"
#include "colo_rewriter_actor.h"

#define S_INSTANCES_MAX 256
#define S_STRINGS_MAX 32

static const char *s_usage
    = "usage: colo-rewriter --from-mirror URI --to-guest URI --from-guest URI --to-compare URI\n"
      "         [--vnet-hdr-support] [--id NAME] [--control URI] [--vm NAME]\n"
      "         [--max-connections N]"
      " [--idle-timeout MS] [--closed-linger MS] [--busy-poll US]\n"
      "         [--config FILE]"
      " [--check-config] [-v]\n";

typedef struct {
    colo_rewriter_actor_config_t cfg;
    char *strings[S_STRINGS_MAX];   //  owned copies the cfg points into
    int string_count;
    const char *origin;             //  NULL for the command line, else the file
    const char *name;               //  section name
    int line;                       //  of the [rewriter NAME] header
    size_t section;
} s_instance_t;

static const char *
s_keep (s_instance_t *inst, const char *value)
{
    if (inst->string_count == S_STRINGS_MAX)
        return NULL;
    char *copy = strdup (value);
    if (copy)
        inst->strings[inst->string_count++] = copy;
    return copy;
}

static void
s_instance_free (s_instance_t *inst)
{
    for (int i = 0; i < inst->string_count; i++)
        free (inst->strings[i]);
    inst->string_count = 0;
}

//  Apply one option (its long name, no dashes).  0, or -1 with err set.
static int
s_apply (s_instance_t *inst, const char *key, const char *value, char *err, size_t cap)
{
    colo_rewriter_actor_config_t *cfg = &inst->cfg;
    struct {
        const char *name;
        const char **slot;
    } strings[] = {
        {"from-mirror", &cfg->from_mirror}, {"to-guest", &cfg->to_guest},
        {"from-guest", &cfg->from_guest},   {"to-compare", &cfg->to_compare},
        {"id", &cfg->id},                   {"control", &cfg->control},
        {"vm", &cfg->vm},
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        if (strcmp (key, strings[i].name) == 0) {
            if (!value || !*value) {
                snprintf (err, cap, "key '%s': needs a value", key);
                return -1;
            }
            if (!(*strings[i].slot = s_keep (inst, value))) {
                snprintf (err, cap, "key '%s': out of memory", key);
                return -1;
            }
            return 0;
        }
    struct {
        const char *name;
        uint64_t min, max;
    } numbers[] = {
        {"max-connections", 1, 1u << 30},
        {"idle-timeout", 1, 7u * 86400000u},
        {"closed-linger", 0, 3600000},
        {"busy-poll", 0, 1000},
    };
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++)
        if (strcmp (key, numbers[i].name) == 0) {
            uint64_t n = 0;
            if (colo_config_parse_u64 (value, numbers[i].min, numbers[i].max, &n) != 0) {
                snprintf (err, cap, "key '%s': '%s': expected a number from %llu to %llu", key,
                          value ? value : "", (unsigned long long) numbers[i].min,
                          (unsigned long long) numbers[i].max);
                return -1;
            }
            if (i == 0)
                cfg->engine.max_connections = (size_t) n;
            else if (i == 1)
                cfg->engine.idle_timeout_ms = (uint32_t) n;
            else if (i == 2)
                cfg->engine.closed_linger_ms = (uint32_t) n;
            else
                cfg->busy_poll_us = (uint32_t) n;
            return 0;
        }
    if (strcmp (key, "vnet-hdr-support") == 0) {
        if (colo_service_parse_bool (value, &cfg->vnet_hdr_support) != 0) {
            snprintf (err, cap, "key '%s': '%s': expected on or off", key, value);
            return -1;
        }
        return 0;
    }
    snprintf (err, cap, "unknown key '%s'", key);
    return -1;
}

//  Line of key in the instance's section, else of its header.
static int
s_key_line (colo_config_t *config, const s_instance_t *inst, const char *key)
{
    for (size_t k = 0; k < colo_config_key_count (config, inst->section); k++)
        if (strcmp (colo_config_key (config, inst->section, k), key) == 0)
            return colo_config_line (config, inst->section, k);
    return inst->line;
}

static void *
s_start (void *cfg)
{
    return colo_rewriter_actor_start ((colo_rewriter_actor_config_t *) cfg);
}

static void
s_stop (void *actor)
{
    colo_rewriter_actor_t *a = (colo_rewriter_actor_t *) actor;
    colo_rewriter_actor_stop (&a);
}

int
main (int argc, char **argv)
{
    static const struct option options[] = {
        {"from-mirror", required_argument, 0, 0},
        {"to-guest", required_argument, 0, 0},
        {"from-guest", required_argument, 0, 0},
        {"to-compare", required_argument, 0, 0},
        {"vnet-hdr-support", no_argument, 0, 0},
        {"id", required_argument, 0, 0},
        {"control", required_argument, 0, 0},
        {"vm", required_argument, 0, 0},
        {"max-connections", required_argument, 0, 0},
        {"idle-timeout", required_argument, 0, 0},
        {"busy-poll", required_argument, 0, 0},
        {"closed-linger", required_argument, 0, 0},
        {"config", required_argument, 0, 'c'},
        {"check-config", no_argument, 0, 'k'},
        {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    static s_instance_t instances[S_INSTANCES_MAX];
    int count = 0;
    s_instance_t *cli = &instances[count++];
    colo_rewriter_actor_config_defaults (&cli->cfg);
    const char *config_path = NULL;
    int check_only = 0, verbosity = 0, cli_used = 0;
    char err[512];
    int opt, index;
    while ((opt = getopt_long (argc, argv, "vh", options, &index)) != -1) {
        if (opt == 0) {
            if (s_apply (cli, options[index].name, optarg, err, sizeof err) != 0) {
                fprintf (stderr, "colo-rewriter: %s\n", err);
                fputs (s_usage, stderr);
                s_instance_free (cli);
                return 2;
            }
            cli_used = 1;
        }
        else if (opt == 'c')
            config_path = optarg;
        else if (opt == 'k')
            check_only = 1;
        else if (opt == 'v')
            verbosity++;
        else if (opt == 'h') {
            fputs (s_usage, stdout);
            s_instance_free (cli);
            return 0;
        }
        else {
            fputs (s_usage, stderr);
            s_instance_free (cli);
            return 2;
        }
    }
    if (optind < argc) {
        fputs (s_usage, stderr);
        s_instance_free (cli);
        return 2;
    }
    colo_log_set_ident ("colo-rewriter");
    colo_log_set_level ((colo_log_level_t) (COLO_LOG_INFO + verbosity));
    colo_log_install_signals ();

    if (!cli_used) {
        s_instance_free (cli);
        count = 0;
    }
    colo_config_t *config = NULL;
    int rc = 0;
    if (config_path) {
        config = colo_config_load (config_path, err, sizeof err);
        if (!config) {
            fprintf (stderr, "colo-rewriter: %s\n", err);
            return 1;
        }
        for (size_t sec = 0; rc == 0 && sec < colo_config_section_count (config); sec++) {
            if (strcmp (colo_config_section_kind (config, sec), "rewriter") != 0)
                continue;
            if (count == S_INSTANCES_MAX) {
                fprintf (stderr, "colo-rewriter: %s: more than %d instances\n", config_path,
                         S_INSTANCES_MAX);
                rc = 1;
                break;
            }
            s_instance_t *inst = &instances[count++];
            colo_rewriter_actor_config_defaults (&inst->cfg);
            inst->origin = config_path;
            inst->section = sec;
            inst->line = colo_config_section_line (config, sec);
            inst->name = colo_config_section_name (config, sec);
            if (*inst->name)
                inst->cfg.id = s_keep (inst, inst->name);
            for (size_t k = 0; k < colo_config_key_count (config, sec); k++) {
                const char *key = colo_config_key (config, sec, k);
                if (s_apply (inst, key, colo_config_value (config, sec, k), err, sizeof err)
                    != 0) {
                    fprintf (stderr, "%s:%d: [rewriter %s] %s\n", config_path,
                             colo_config_line (config, sec, k), inst->name, err);
                    rc = 1;
                    break;
                }
            }
        }
    }
    if (rc == 0 && count == 0) {
        fprintf (stderr, "colo-rewriter: nothing to run (give --from-mirror/--to-guest/"
                         "--from-guest/--to-compare or --config with [rewriter NAME] "
                         "sections)\n");
        fputs (s_usage, stderr);
        rc = 2;
    }
    for (int i = 0; rc == 0 && i < count; i++) {
        s_instance_t *inst = &instances[i];
        const char *key = "";
        if (colo_rewriter_actor_check (&inst->cfg, &key, err, sizeof err) != 0) {
            if (inst->origin)
                fprintf (stderr, "%s:%d: [rewriter %s] key '%s': %s\n", inst->origin,
                         s_key_line (config, inst, key), inst->name, key, err);
            else
                fprintf (stderr, "colo-rewriter: --%s: %s\n", key, err);
            rc = 1;
        }
        for (int j = 0; rc == 0 && j < i; j++)
            if (inst->cfg.id && instances[j].cfg.id
                && strcmp (inst->cfg.id, instances[j].cfg.id) == 0) {
                fprintf (stderr, "colo-rewriter: instance id '%s' used twice\n", inst->cfg.id);
                rc = 1;
            }
    }
    if (rc != 0 || check_only) {
        colo_config_destroy (&config);
        for (int i = 0; i < count; i++)
            s_instance_free (&instances[i]);
        return rc;
    }

    rc = colo_service_run (&instances[0].cfg, sizeof instances[0], count, s_start, s_stop);
    colo_config_destroy (&config);
    for (int i = 0; i < count; i++)
        s_instance_free (&instances[i]);
    return rc;
}
