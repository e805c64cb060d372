/*  main_mirror.c - colo-mirror: options and config, then one mirror actor per instance.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo_config.h"
#include "colo_ctlclient.h"
#include "colo_log.h"
#include "colo_service.h"
#include "colo_mirror.h"
#include "colo_port.h"

#define S_INSTANCES_MAX 64

static const char *s_usage =
    "usage: colo-mirror --in URI --to-secondary URI [--to-primary URI] [--backlog FRAMES]\n"
    "                   [--id NAME] [--control URI] [--vm NAME] [--busy-poll US]\n"
    "                   [--config FILE] [--check-config] [-v]\n";

typedef struct {
    colo_mirror_config_t cfg;
    const char *file;   //  config file, or NULL for the command line
    const char *name;   //  section name
} s_instance_t;

//  A number from min to max into *out; 0, or -1 (unchanged).
static int
s_parse_u32 (const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
    uint64_t value;
    if (colo_config_parse_u64 (text, min, max, &value) != 0)
        return -1;
    *out = (uint32_t) value;
    return 0;
}

static int
s_parse_backlog (const char *text, uint32_t *out)
{
    return s_parse_u32 (text, 1, COLO_MIRROR_BACKLOG_MAX, out);
}

static int
s_parse_busy (const char *text, uint32_t *out)
{
    return s_parse_u32 (text, 0, 1000, out);
}

//  Lines of the keys s_check_instance names (0: the command line).
enum { S_L_IN, S_L_PRIMARY, S_L_SECONDARY, S_L_CONTROL, S_L_VM, S_L_ID, S_LINES };

//  One line naming the key at fault.
static void
s_complain (const s_instance_t *inst, const int *lines, int which, const char *key,
            const char *err)
{
    int line = lines[which];
    if (inst->file && line)
        fprintf (stderr, "%s:%d: [mirror %s] key '%s': %s\n", inst->file, line, inst->name,
                 key, err);
    else if (inst->file)
        fprintf (stderr, "%s: [mirror %s] key '%s': %s\n", inst->file, inst->name, key, err);
    else
        fprintf (stderr, "colo-mirror: --%s: %s\n", key, err);
}

//  Check one instance; print one line and return -1 on the first problem.
//  lines[] holds the config line of each key (0 for the command line).
static int
s_check_instance (const s_instance_t *inst, const int *lines)
{
    const colo_mirror_config_t *cfg = &inst->cfg;
    const char *keys[3] = {"in", "to-primary", "to-secondary"};
    const char *uris[3] = {cfg->in, cfg->to_primary, cfg->to_secondary};
    colo_port_dir_t dirs[3] = {COLO_PORT_RX, COLO_PORT_TX, COLO_PORT_TX};
    char err[300];
    for (int i = 0; i < 3; i++) {
        if (!uris[i]) {
            if (i == 1)
                continue;
            if (inst->file)
                fprintf (stderr, "%s: [mirror %s] missing key '%s'\n", inst->file,
                         inst->name, keys[i]);
            else
                fprintf (stderr, "colo-mirror: --%s is required\n%s", keys[i], s_usage);
            return -1;
        }
        if (colo_port_check (uris[i], dirs[i], err, sizeof err) != 0) {
            if (inst->file)
                fprintf (stderr, "%s:%d: [mirror %s] key '%s': %s\n", inst->file,
                         lines[i], inst->name, keys[i], err);
            else
                fprintf (stderr, "colo-mirror: --%s: %s\n", keys[i], err);
            return -1;
        }
    }
    if (cfg->control) {
        colo_ctl_uri_t uri;
        if (colo_ctl_uri_parse (cfg->control, &uri, err, sizeof err) != 0) {
            s_complain (inst, lines, S_L_CONTROL, "control", err);
            return -1;
        }
        const char *id = cfg->id ? cfg->id : "mirror";
        if (!colo_rule_name_ok (id)) {
            snprintf (err, sizeof err, "'%s': colo-control needs 1 to 63 of A-Z a-z 0-9 . _ -",
                      id);
            s_complain (inst, lines, S_L_ID, "id", err);
            return -1;
        }
    }
    if (cfg->vm && !colo_rule_name_ok (cfg->vm)) {
        snprintf (err, sizeof err, "'%s': expected 1 to 63 of A-Z a-z 0-9 . _ -", cfg->vm);
        s_complain (inst, lines, S_L_VM, "vm", err);
        return -1;
    }
    if (colo_mirror_config_check (cfg, err, sizeof err) != 0) {
        if (inst->file)
            fprintf (stderr, "%s: [mirror %s]: %s\n", inst->file, inst->name, err);
        else
            fprintf (stderr, "colo-mirror: %s\n", err);
        return -1;
    }
    return 0;
}

//  Read the [mirror NAME] sections of the config into instances.
static int
s_load_config (colo_config_t *conf, const char *file, s_instance_t *insts, int *count)
{
    for (size_t s = 0; s < colo_config_section_count (conf); s++) {
        if (strcmp (colo_config_section_kind (conf, s), "mirror") != 0)
            continue;
        if (*count == S_INSTANCES_MAX) {
            fprintf (stderr, "%s: more than %d mirror instances\n", file,
                     S_INSTANCES_MAX);
            return -1;
        }
        s_instance_t *inst = &insts[(*count)++];
        const char *name = colo_config_section_name (conf, s);
        colo_mirror_config_defaults (&inst->cfg);
        inst->cfg.id = name;
        inst->file = file;
        inst->name = name;
        int lines[S_LINES] = {0};
        lines[S_L_ID] = colo_config_section_line (conf, s);   //  the name is the id
        for (size_t k = 0; k < colo_config_key_count (conf, s); k++) {
            const char *key = colo_config_key (conf, s, k);
            const char *value = colo_config_value (conf, s, k);
            int line = colo_config_line (conf, s, k);
            if (strcmp (key, "in") == 0) {
                inst->cfg.in = value;
                lines[0] = line;
            }
            else if (strcmp (key, "to-primary") == 0) {
                inst->cfg.to_primary = value;
                lines[1] = line;
            }
            else if (strcmp (key, "to-secondary") == 0) {
                inst->cfg.to_secondary = value;
                lines[2] = line;
            }
            else if (strcmp (key, "id") == 0) {
                inst->cfg.id = value;
                lines[S_L_ID] = line;
            }
            else if (strcmp (key, "control") == 0) {
                inst->cfg.control = value;
                lines[S_L_CONTROL] = line;
            }
            else if (strcmp (key, "vm") == 0) {
                inst->cfg.vm = value;
                lines[S_L_VM] = line;
            }
            else if (strcmp (key, "busy-poll") == 0) {
                if (s_parse_busy (value, &inst->cfg.busy_poll_us) != 0) {
                    fprintf (stderr, "%s:%d: [mirror %s] key 'busy-poll': '%s': expected "
                             "a number from 0 to 1000\n",
                             file, line, name, value);
                    return -1;
                }
            }
            else if (strcmp (key, "backlog") == 0) {
                if (s_parse_backlog (value, &inst->cfg.backlog) != 0) {
                    fprintf (stderr, "%s:%d: [mirror %s] key 'backlog': '%s': expected "
                             "a number from 1 to %u\n",
                             file, line, name, value, COLO_MIRROR_BACKLOG_MAX);
                    return -1;
                }
            }
            else {
                fprintf (stderr, "%s:%d: [mirror %s] key '%s': unknown key\n", file,
                         line, name, key);
                return -1;
            }
        }
        if (s_check_instance (inst, lines) != 0)
            return -1;
    }
    return 0;
}

static void *
s_start (void *cfg)
{
    return colo_mirror_start (cfg);
}

static void
s_stop (void *actor)
{
    colo_mirror_t *a = (colo_mirror_t *) actor;
    colo_mirror_stop (&a);
}

int
main (int argc, char **argv)
{
    static const struct option options[] = {
        {"in", required_argument, NULL, 'i'},
        {"to-primary", required_argument, NULL, 'p'},
        {"to-secondary", required_argument, NULL, 's'},
        {"backlog", required_argument, NULL, 'b'},
        {"busy-poll", required_argument, NULL, 'B'},
        {"id", required_argument, NULL, 'n'},
        {"control", required_argument, NULL, 'c'},
        {"vm", required_argument, NULL, 'm'},
        {"config", required_argument, NULL, 'f'},
        {"check-config", no_argument, NULL, 'C'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static s_instance_t insts[S_INSTANCES_MAX + 1];
    colo_mirror_config_t cli;
    colo_mirror_config_defaults (&cli);
    const char *config_file = NULL;
    int check_only = 0, verbose = 0, cli_used = 0;
    int opt;
    while ((opt = getopt_long (argc, argv, "vh", options, NULL)) != -1) {
        switch (opt) {
        case 'i': cli.in = optarg; cli_used = 1; break;
        case 'p': cli.to_primary = optarg; cli_used = 1; break;
        case 's': cli.to_secondary = optarg; cli_used = 1; break;
        case 'b':
            if (s_parse_backlog (optarg, &cli.backlog) != 0) {
                fprintf (stderr, "colo-mirror: --backlog '%s': expected a number from 1 "
                         "to %u\n%s", optarg, COLO_MIRROR_BACKLOG_MAX, s_usage);
                return 2;
            }
            cli_used = 1;
            break;
        case 'B':
            if (s_parse_busy (optarg, &cli.busy_poll_us) != 0) {
                fprintf (stderr, "colo-mirror: --busy-poll '%s': expected a number from 0 "
                         "to 1000\n%s", optarg, s_usage);
                return 2;
            }
            break;
        case 'n': cli.id = optarg; break;
        case 'c': cli.control = optarg; break;
        case 'm': cli.vm = optarg; break;
        case 'f': config_file = optarg; break;
        case 'C': check_only = 1; break;
        case 'v': verbose++; break;
        case 'h': fputs (s_usage, stdout); return 0;
        default: fputs (s_usage, stderr); return 2;
        }
    }
    if (optind < argc || (!cli_used && !config_file)) {
        fputs (s_usage, stderr);
        return 2;
    }
    colo_log_set_ident ("colo-mirror");
    if (verbose)
        colo_log_set_level ((colo_log_level_t) (COLO_LOG_INFO + verbose));
    colo_log_install_signals ();

    int count = 0;
    colo_config_t *conf = NULL;
    if (config_file) {
        char err[512];
        conf = colo_config_load (config_file, err, sizeof err);
        if (!conf) {
            fprintf (stderr, "%s\n", err);
            return 1;
        }
        if (s_load_config (conf, config_file, insts, &count) != 0) {
            colo_config_destroy (&conf);
            return 1;
        }
    }
    if (cli_used) {
        s_instance_t *inst = &insts[count++];
        inst->cfg = cli;
        if (!inst->cfg.id)
            inst->cfg.id = "mirror";
        inst->name = inst->cfg.id;
        int lines[S_LINES] = {0};
        if (s_check_instance (inst, lines) != 0) {
            colo_config_destroy (&conf);
            return cli.in && cli.to_secondary ? 1 : 2;
        }
    }
    if (count == 0) {
        fprintf (stderr, "%s: no [mirror NAME] section\n", config_file);
        colo_config_destroy (&conf);
        return 1;
    }
    if (check_only) {
        colo_config_destroy (&conf);
        return 0;
    }

    int rc = colo_service_run (&insts[0].cfg, sizeof insts[0], count, s_start, s_stop);
    colo_config_destroy (&conf);
    return rc;
}
