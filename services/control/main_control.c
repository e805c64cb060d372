/*  main_control.c - colo-control: options and config, then one control actor per instance.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo_config.h"
#include "colo_control.h"
#include "colo_log.h"
#include "colo_service.h"

#define S_INSTANCES_MAX 16
#define S_VMS_MAX 4096

static const char *s_usage
    = "usage: colo-control --store DIR [--api URI] [--events URI] [--metrics HOST:PORT]\n"
      "                    [--curve-keys DIR] [--heartbeat MS] [--id NAME]\n"
      "                    [--config FILE] [--check-config] [-v]\n";

//  Keys of [control NAME], in the order of s_instance_t.lines.
static const char *const s_keys[] = {"api", "events", "store", "metrics", "curve-keys",
                                     "heartbeat", "id"};
#define S_KEYS (sizeof s_keys / sizeof s_keys[0])

typedef struct {
    colo_control_config_t cfg;
    const char *file;   //  config file, or NULL for the command line
    const char *name;
    int section_line;   //  the section's first key
    int lines[S_KEYS];  //  each key's line, 0 if absent
} s_instance_t;

static s_instance_t s_insts[S_INSTANCES_MAX + 1];
static colo_control_vm_t s_vms[S_VMS_MAX];
static int s_vm_lines[S_VMS_MAX];   //  the checkpoint-hook line of each [vm]

//  Report a check failure: the key it names (the first word of err) with
//  the line it is on.
static void
s_report (const s_instance_t *inst, const char *err)
{
    if (!inst->file) {
        fprintf (stderr, "colo-control: %s\n", err);
        return;
    }
    size_t len = strcspn (err, " :");
    for (size_t k = 0; k < S_KEYS; k++)
        if (strlen (s_keys[k]) == len && strncmp (err, s_keys[k], len) == 0) {
            if (inst->lines[k])
                fprintf (stderr, "%s:%d: [control %s] key '%s': %s\n", inst->file,
                         inst->lines[k], inst->name, s_keys[k], err + len + (err[len] != 0));
            else
                fprintf (stderr, "%s: [control %s] missing key '%s' (%s)\n", inst->file,
                         inst->name, s_keys[k], err);
            return;
        }
    fprintf (stderr, "%s:%d: [control %s]: %s\n", inst->file, inst->section_line, inst->name,
             err);
}

static int
s_parse_heartbeat (const char *text, uint32_t *out)
{
    uint64_t value;
    if (colo_config_parse_u64 (text, 10, 600000, &value) != 0)
        return -1;
    *out = (uint32_t) value;
    return 0;
}

//  [vm NAME] sections: the hypervisor adapters.
static int
s_load_vms (colo_config_t *conf, const char *file, size_t *n_vms)
{
    for (size_t s = 0; s < colo_config_section_count (conf); s++) {
        if (strcmp (colo_config_section_kind (conf, s), "vm") != 0)
            continue;
        const char *name = colo_config_section_name (conf, s);
        if (*n_vms == S_VMS_MAX) {
            fprintf (stderr, "%s: more than %d [vm] sections\n", file, S_VMS_MAX);
            return -1;
        }
        colo_control_vm_t *vm = &s_vms[*n_vms];
        int *line = &s_vm_lines[(*n_vms)++];
        vm->vm = name;
        for (size_t k = 0; k < colo_config_key_count (conf, s); k++) {
            const char *key = colo_config_key (conf, s, k);
            if (strcmp (key, "checkpoint-hook") == 0) {
                vm->checkpoint_hook = colo_config_value (conf, s, k);
                *line = colo_config_line (conf, s, k);
            }
            else {
                fprintf (stderr, "%s:%d: [vm %s] key '%s': unknown key\n", file,
                         colo_config_line (conf, s, k), name, key);
                return -1;
            }
        }
        //  Checked on their own, so that an error names the [vm] section.
        colo_control_config_t alone;
        colo_control_config_defaults (&alone);
        alone.store = "/";
        alone.vms = vm;
        alone.n_vms = 1;
        char err[512];
        if (colo_control_config_check (&alone, err, sizeof err) != 0) {
            if (*line && strncmp (err, "checkpoint-hook ", 16) == 0)
                fprintf (stderr, "%s:%d: [vm %s] key 'checkpoint-hook': %s\n", file, *line,
                         name, err + 16);
            else
                fprintf (stderr, "%s: [vm %s]: %s\n", file, name, err);
            return -1;
        }
    }
    return 0;
}

static int
s_load_controls (colo_config_t *conf, const char *file, int *count)
{
    for (size_t s = 0; s < colo_config_section_count (conf); s++) {
        if (strcmp (colo_config_section_kind (conf, s), "control") != 0)
            continue;
        if (*count == S_INSTANCES_MAX) {
            fprintf (stderr, "%s: more than %d control instances\n", file, S_INSTANCES_MAX);
            return -1;
        }
        s_instance_t *inst = &s_insts[(*count)++];
        const char *name = colo_config_section_name (conf, s);
        colo_control_config_defaults (&inst->cfg);
        inst->cfg.id = name[0] ? name : "control";
        inst->file = file;
        inst->name = name;
        for (size_t k = 0; k < colo_config_key_count (conf, s); k++) {
            const char *key = colo_config_key (conf, s, k);
            const char *value = colo_config_value (conf, s, k);
            int line = colo_config_line (conf, s, k);
            if (!inst->section_line)
                inst->section_line = line;
            for (size_t i = 0; i < S_KEYS; i++)
                if (strcmp (key, s_keys[i]) == 0)
                    inst->lines[i] = line;
            if (strcmp (key, "api") == 0)
                inst->cfg.api = value;
            else if (strcmp (key, "events") == 0)
                inst->cfg.events = value;
            else if (strcmp (key, "store") == 0)
                inst->cfg.store = value;
            else if (strcmp (key, "metrics") == 0)
                inst->cfg.metrics = value;
            else if (strcmp (key, "curve-keys") == 0)
                inst->cfg.curve_keys = value;
            else if (strcmp (key, "id") == 0)
                inst->cfg.id = value;
            else if (strcmp (key, "heartbeat") == 0) {
                if (s_parse_heartbeat (value, &inst->cfg.heartbeat_ms) != 0) {
                    fprintf (stderr,
                             "%s:%d: [control %s] key 'heartbeat': '%s': expected a "
                             "number from 10 to 600000\n",
                             file, line, name, value);
                    return -1;
                }
            }
            else {
                fprintf (stderr, "%s:%d: [control %s] key '%s': unknown key\n", file, line,
                         name, key);
                return -1;
            }
        }
    }
    return 0;
}

static void *
s_start (void *cfg)
{
    return colo_control_start (cfg);
}

static void
s_stop (void *actor)
{
    colo_control_t *a = (colo_control_t *) actor;
    colo_control_stop (&a);
}

int
main (int argc, char **argv)
{
    static const struct option options[] = {
        {"api", required_argument, NULL, 'a'},
        {"events", required_argument, NULL, 'e'},
        {"store", required_argument, NULL, 's'},
        {"metrics", required_argument, NULL, 'm'},
        {"curve-keys", required_argument, NULL, 'k'},
        {"heartbeat", required_argument, NULL, 'b'},
        {"id", required_argument, NULL, 'n'},
        {"config", required_argument, NULL, 'f'},
        {"check-config", no_argument, NULL, 'C'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    colo_control_config_t cli;
    colo_control_config_defaults (&cli);
    const char *config_file = NULL;
    int check_only = 0, verbose = 0, cli_used = 0;
    int opt;
    while ((opt = getopt_long (argc, argv, "vh", options, NULL)) != -1) {
        switch (opt) {
            case 'a':
                cli.api = optarg;
                cli_used = 1;
                break;
            case 'e':
                cli.events = optarg;
                cli_used = 1;
                break;
            case 's':
                cli.store = optarg;
                cli_used = 1;
                break;
            case 'm':
                cli.metrics = optarg;
                cli_used = 1;
                break;
            case 'k':
                cli.curve_keys = optarg;
                cli_used = 1;
                break;
            case 'b':
                if (s_parse_heartbeat (optarg, &cli.heartbeat_ms) != 0) {
                    fprintf (stderr,
                             "colo-control: --heartbeat '%s': expected a number from 10 to "
                             "600000\n%s",
                             optarg, s_usage);
                    return 2;
                }
                break;
            case 'n':
                cli.id = optarg;
                break;
            case 'f':
                config_file = optarg;
                break;
            case 'C':
                check_only = 1;
                break;
            case 'v':
                verbose++;
                break;
            case 'h':
                fputs (s_usage, stdout);
                return 0;
            default:
                fputs (s_usage, stderr);
                return 2;
        }
    }
    if (optind < argc || (!cli_used && !config_file)) {
        fputs (s_usage, stderr);
        return 2;
    }
    if (cli_used && !cli.store) {
        fprintf (stderr, "colo-control: --store is required\n%s", s_usage);
        return 2;
    }
    colo_log_set_ident ("colo-control");
    if (verbose)
        colo_log_set_level ((colo_log_level_t) (COLO_LOG_INFO + verbose));
    colo_log_install_signals ();

    int count = 0;
    size_t n_vms = 0;
    colo_config_t *conf = NULL;
    if (config_file) {
        char err[512];
        conf = colo_config_load (config_file, err, sizeof err);
        if (!conf) {
            fprintf (stderr, "%s\n", err);
            return 1;
        }
        if (s_load_vms (conf, config_file, &n_vms) != 0
            || s_load_controls (conf, config_file, &count) != 0) {
            colo_config_destroy (&conf);
            return 1;
        }
    }
    if (cli_used) {
        s_instance_t *inst = &s_insts[count++];
        inst->cfg = cli;
        inst->name = cli.id;
    }
    if (count == 0) {
        fprintf (stderr, "%s: no [control NAME] section\n", config_file);
        colo_config_destroy (&conf);
        return 1;
    }
    for (int i = 0; i < count; i++) {
        s_insts[i].cfg.vms = s_vms;
        s_insts[i].cfg.n_vms = n_vms;
        char err[512];
        if (colo_control_config_check (&s_insts[i].cfg, err, sizeof err) != 0) {
            s_report (&s_insts[i], err);
            colo_config_destroy (&conf);
            return 1;
        }
    }
    if (check_only) {
        colo_config_destroy (&conf);
        return 0;
    }

    int rc = colo_service_run (&s_insts[0].cfg, sizeof s_insts[0], count, s_start, s_stop);
    colo_config_destroy (&conf);
    return rc;
}
