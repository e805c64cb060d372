/*  main_compare.c - colo-compare: options and config, start the instances, wait for SIGTERM.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo_compare_svc.h"
#include "colo_config.h"
#include "colo_log.h"
#include "colo_service.h"

#define S_INSTANCES_MAX 256

static const char *s_usage
    = "usage: colo-compare --primary-in URI --secondary-in URI --outdev URI\n"
      "         [--notify-dev URI] [--compare-timeout MS] [--expired-scan-cycle MS]\n"
      "         [--max-queue-size N] [--vnet-hdr-support] [--id NAME] [--control URI]\n"
      "         [--vm NAME] [--busy-poll US]\n"
      "         [--pcap-dir DIR] [--max-connections N] [--ack-policy lower|hold]\n"
      "         [--reorder-grace MS] [--idle-timeout MS] [--config FILE] [--check-config] [-v]\n";

typedef struct {
    colo_compare_svc_config_t cfg;
    char *strings[16];            //  owned copies the cfg points into
    int string_count;
    const char *origin;           //  "command line" or the config file
    int line;                     //  of the [compare NAME] header
} s_instance_t;

static const char *
s_keep (s_instance_t *inst, const char *value)
{
    char *copy = strdup (value);
    if (copy && inst->string_count < 16)
        inst->strings[inst->string_count++] = copy;
    return copy;
}

//  Apply one option (by long name, without dashes).  0, or -1 with err set.
static int
s_apply (s_instance_t *inst, const char *key, const char *value, char *err, size_t cap)
{
    colo_compare_svc_config_t *cfg = &inst->cfg;
    uint64_t n = 0;
    struct {
        const char *name;
        const char **slot;
    } strings[] = {
        {"primary-in", &cfg->primary_in}, {"secondary-in", &cfg->secondary_in},
        {"outdev", &cfg->outdev},         {"notify-dev", &cfg->notify_dev},
        {"id", &cfg->id},                 {"control", &cfg->control},
        {"pcap-dir", &cfg->pcap_dir},     {"vm", &cfg->vm},
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        if (strcmp (key, strings[i].name) == 0) {
            if (!value || !*value) {
                snprintf (err, cap, "'%s' needs a value", key);
                return -1;
            }
            *strings[i].slot = s_keep (inst, value);
            return 0;
        }
    struct {
        const char *name;
        uint64_t min, max;
    } numbers[] = {
        {"compare-timeout", 1, 3600000},  {"expired-scan-cycle", 1, 3600000},
        {"max-queue-size", 1, 1u << 20},  {"max-connections", 1, 1u << 26},
        {"reorder-grace", 0, 60000},      {"idle-timeout", 1000, 86400000},
        {"busy-poll", 0, 1000},
    };
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++)
        if (strcmp (key, numbers[i].name) == 0) {
            if (colo_config_parse_u64 (value, numbers[i].min, numbers[i].max, &n) != 0) {
                snprintf (err, cap, "'%s' needs a number from %llu to %llu", key,
                          (unsigned long long) numbers[i].min,
                          (unsigned long long) numbers[i].max);
                return -1;
            }
            if (i == 0)
                cfg->engine.compare_timeout_ms = (uint32_t) n;
            else if (i == 1)
                cfg->expired_scan_cycle_ms = (uint32_t) n;
            else if (i == 2)
                cfg->engine.max_queue_size = (uint32_t) n;
            else if (i == 3)
                cfg->engine.max_connections = (size_t) n;
            else if (i == 4)
                cfg->engine.reorder_grace_ms = (uint32_t) n;
            else if (i == 5)
                cfg->engine.tcp_idle_ms = (uint32_t) n;
            else
                cfg->busy_poll_us = (uint32_t) n;
            return 0;
        }
    if (strcmp (key, "vnet-hdr-support") == 0) {
        if (colo_service_parse_bool (value, &cfg->vnet_hdr_support) != 0) {
            snprintf (err, cap, "'%s' takes on or off", key);
            return -1;
        }
        return 0;
    }
    if (strcmp (key, "ack-policy") == 0) {
        if (value && strcmp (value, "lower") == 0)
            cfg->engine.ack_policy = COLO_ACK_LOWER;
        else if (value && strcmp (value, "hold") == 0)
            cfg->engine.ack_policy = COLO_ACK_HOLD;
        else {
            snprintf (err, cap, "'%s' takes lower or hold", key);
            return -1;
        }
        return 0;
    }
    snprintf (err, cap, "unknown key '%s'", key);
    return -1;
}

static void *
s_start (void *cfg)
{
    return colo_compare_svc_start ((colo_compare_svc_config_t *) cfg);
}

static void
s_stop (void *actor)
{
    colo_compare_svc_t *svc = (colo_compare_svc_t *) actor;
    colo_compare_svc_stop (&svc);
}

static void
s_instance_free (s_instance_t *inst)
{
    for (int i = 0; i < inst->string_count; i++)
        free (inst->strings[i]);
    inst->string_count = 0;
}

int
main (int argc, char **argv)
{
    static const struct option options[] = {
        {"primary-in", required_argument, 0, 0},   {"secondary-in", required_argument, 0, 0},
        {"outdev", required_argument, 0, 0},       {"notify-dev", required_argument, 0, 0},
        {"compare-timeout", required_argument, 0, 0},
        {"expired-scan-cycle", required_argument, 0, 0},
        {"max-queue-size", required_argument, 0, 0},
        {"vnet-hdr-support", no_argument, 0, 0},   {"id", required_argument, 0, 0},
        {"control", required_argument, 0, 0},      {"pcap-dir", required_argument, 0, 0},
        {"vm", required_argument, 0, 0},
        {"max-connections", required_argument, 0, 0},
        {"ack-policy", required_argument, 0, 0},   {"reorder-grace", required_argument, 0, 0},
        {"idle-timeout", required_argument, 0, 0}, {"busy-poll", required_argument, 0, 0},
        {"config", required_argument, 0, 'c'},
        {"check-config", no_argument, 0, 'k'},     {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},             {0, 0, 0, 0},
    };
    static s_instance_t instances[S_INSTANCES_MAX];
    int count = 0;
    s_instance_t *cli = &instances[count++];
    colo_compare_svc_config_defaults (&cli->cfg);
    cli->origin = "command line";
    const char *config_path = NULL;
    int check_only = 0, verbosity = 0, cli_used = 0;
    char err[512];
    int opt, index;
    while ((opt = getopt_long (argc, argv, "vh", options, &index)) != -1) {
        if (opt == 0) {
            if (s_apply (cli, options[index].name, optarg, err, sizeof err) != 0) {
                fprintf (stderr, "colo-compare: --%s\n", err);
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
            return 0;
        }
        else {
            fputs (s_usage, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fputs (s_usage, stderr);
        return 2;
    }
    colo_log_set_ident ("colo-compare");
    colo_log_set_level ((colo_log_level_t) (COLO_LOG_INFO + verbosity));
    colo_log_install_signals ();

    if (!cli_used)
        count = 0;
    colo_config_t *config = NULL;
    if (config_path) {
        config = colo_config_load (config_path, err, sizeof err);
        if (!config) {
            fprintf (stderr, "colo-compare: %s\n", err);
            return 1;
        }
        for (size_t sec = 0; sec < colo_config_section_count (config); sec++) {
            if (strcmp (colo_config_section_kind (config, sec), "compare") != 0)
                continue;
            if (count == S_INSTANCES_MAX) {
                fprintf (stderr, "colo-compare: %s: more than %d instances\n", config_path,
                         S_INSTANCES_MAX);
                return 1;
            }
            s_instance_t *inst = &instances[count++];
            colo_compare_svc_config_defaults (&inst->cfg);
            inst->origin = config_path;
            inst->line = colo_config_section_line (config, sec);
            const char *name = colo_config_section_name (config, sec);
            if (*name)
                inst->cfg.id = s_keep (inst, name);
            for (size_t k = 0; k < colo_config_key_count (config, sec); k++) {
                const char *key = colo_config_key (config, sec, k);
                if (s_apply (inst, key, colo_config_value (config, sec, k), err, sizeof err)
                    != 0) {
                    fprintf (stderr, "colo-compare: %s:%d: [compare %s] %s\n", config_path,
                             colo_config_line (config, sec, k), name, err);
                    return 1;
                }
            }
        }
    }
    if (count == 0) {
        fprintf (stderr, "colo-compare: nothing to run (give --primary-in/--secondary-in/"
                         "--outdev or --config with [compare NAME] sections)\n");
        fputs (s_usage, stderr);
        return 2;
    }
    for (int i = 0; i < count; i++) {
        if (colo_compare_svc_check (&instances[i].cfg, err, sizeof err) != 0) {
            if (instances[i].origin == cli->origin && i == 0 && cli_used)
                fprintf (stderr, "colo-compare: %s\n", err);
            else
                fprintf (stderr, "colo-compare: %s:%d: [compare %s] %s\n",
                         instances[i].origin, instances[i].line,
                         instances[i].cfg.id ? instances[i].cfg.id : "", err);
            return 1;
        }
        for (int j = 0; j < i; j++)
            if (instances[i].cfg.id && instances[j].cfg.id
                && strcmp (instances[i].cfg.id, instances[j].cfg.id) == 0) {
                fprintf (stderr, "colo-compare: instance id '%s' used twice\n",
                         instances[i].cfg.id);
                return 1;
            }
    }
    if (check_only) {
        colo_config_destroy (&config);
        for (int i = 0; i < count; i++)
            s_instance_free (&instances[i]);
        return 0;
    }

    for (int i = 0; i < count; i++)
        if (!instances[i].cfg.id)
            instances[i].cfg.id = "compare";
    int rc = colo_service_run (&instances[0].cfg, sizeof instances[0], count, s_start, s_stop);
    colo_config_destroy (&config);
    for (int i = 0; i < count; i++)
        s_instance_free (&instances[i]);
    return rc;
}
