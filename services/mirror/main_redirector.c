/*  main_redirector.c - colo-redirector: options and config, then one actor per in/out pair.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo_config.h"
#include "colo_log.h"
#include "colo_service.h"
#include "colo_port.h"
#include "colo_redirector.h"

#define S_PAIRS_MAX 64

static const char *s_usage =
    "usage: colo-redirector --in URI --out URI [--in URI --out URI]... [--id NAME]\n"
    "                       [--control URI] [--config FILE] [--check-config] [-v]\n";

typedef struct {
    colo_redirector_config_t cfg;
    char name[64];      //  generated id for command-line pairs
    const char *file;   //  config file, or NULL for the command line
    int line_in, line_out;
} s_pair_t;

//  Check one pair's URIs; print one line and return -1 on a problem.
static int
s_check_pair (const s_pair_t *pair)
{
    const char *keys[2] = {"in", "out"};
    const char *uris[2] = {pair->cfg.in, pair->cfg.out};
    int lines[2] = {pair->line_in, pair->line_out};
    colo_port_dir_t dirs[2] = {COLO_PORT_RX, COLO_PORT_TX};
    char err[300];
    for (int i = 0; i < 2; i++) {
        if (!uris[i]) {
            fprintf (stderr, "%s: [redirector %s] missing key '%s'\n", pair->file,
                     pair->cfg.id, keys[i]);
            return -1;
        }
        if (colo_port_check (uris[i], dirs[i], err, sizeof err) != 0) {
            if (pair->file)
                fprintf (stderr, "%s:%d: [redirector %s] key '%s': %s\n", pair->file,
                         lines[i], pair->cfg.id, keys[i], err);
            else
                fprintf (stderr, "colo-redirector: --%s: %s\n", keys[i], err);
            return -1;
        }
    }
    return 0;
}

static int
s_load_config (colo_config_t *conf, const char *file, s_pair_t *pairs, int *count)
{
    for (size_t s = 0; s < colo_config_section_count (conf); s++) {
        if (strcmp (colo_config_section_kind (conf, s), "redirector") != 0)
            continue;
        if (*count == S_PAIRS_MAX) {
            fprintf (stderr, "%s: more than %d redirector instances\n", file, S_PAIRS_MAX);
            return -1;
        }
        s_pair_t *pair = &pairs[(*count)++];
        pair->file = file;
        pair->cfg.id = colo_config_section_name (conf, s);
        for (size_t k = 0; k < colo_config_key_count (conf, s); k++) {
            const char *key = colo_config_key (conf, s, k);
            const char *value = colo_config_value (conf, s, k);
            int line = colo_config_line (conf, s, k);
            if (strcmp (key, "in") == 0) {
                pair->cfg.in = value;
                pair->line_in = line;
            }
            else if (strcmp (key, "out") == 0) {
                pair->cfg.out = value;
                pair->line_out = line;
            }
            else if (strcmp (key, "control") == 0)
                pair->cfg.control = value;
            else {
                fprintf (stderr, "%s:%d: [redirector %s] key '%s': unknown key\n", file,
                         line, pair->cfg.id, key);
                return -1;
            }
        }
        if (s_check_pair (pair) != 0)
            return -1;
    }
    return 0;
}

static void *
s_start (void *cfg)
{
    return colo_redirector_start (cfg);
}

static void
s_stop (void *actor)
{
    colo_redirector_t *a = (colo_redirector_t *) actor;
    colo_redirector_stop (&a);
}

int
main (int argc, char **argv)
{
    static const struct option options[] = {
        {"in", required_argument, NULL, 'i'},
        {"out", required_argument, NULL, 'o'},
        {"id", required_argument, NULL, 'n'},
        {"control", required_argument, NULL, 'c'},
        {"config", required_argument, NULL, 'f'},
        {"check-config", no_argument, NULL, 'C'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static s_pair_t pairs[2 * S_PAIRS_MAX];
    const char *ins[S_PAIRS_MAX], *outs[S_PAIRS_MAX];
    int n_in = 0, n_out = 0;
    const char *id = "redirector", *control = NULL, *config_file = NULL;
    int check_only = 0, verbose = 0;
    int opt;
    while ((opt = getopt_long (argc, argv, "vh", options, NULL)) != -1) {
        switch (opt) {
        case 'i':
        case 'o':
            if ((opt == 'i' ? n_in : n_out) == S_PAIRS_MAX) {
                fprintf (stderr, "colo-redirector: more than %d pairs\n", S_PAIRS_MAX);
                return 2;
            }
            if (opt == 'i')
                ins[n_in++] = optarg;
            else
                outs[n_out++] = optarg;
            break;
        case 'n': id = optarg; break;
        case 'c': control = optarg; break;
        case 'f': config_file = optarg; break;
        case 'C': check_only = 1; break;
        case 'v': verbose++; break;
        case 'h': fputs (s_usage, stdout); return 0;
        default: fputs (s_usage, stderr); return 2;
        }
    }
    if (optind < argc || n_in != n_out || (n_in == 0 && !config_file)) {
        if (n_in != n_out)
            fprintf (stderr, "colo-redirector: %d --in but %d --out\n", n_in, n_out);
        fputs (s_usage, stderr);
        return 2;
    }
    colo_log_set_ident ("colo-redirector");
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
        if (s_load_config (conf, config_file, pairs, &count) != 0) {
            colo_config_destroy (&conf);
            return 1;
        }
    }
    for (int i = 0; i < n_in; i++) {
        s_pair_t *pair = &pairs[count++];
        if (n_in == 1)
            snprintf (pair->name, sizeof pair->name, "%s", id);
        else
            snprintf (pair->name, sizeof pair->name, "%s-%d", id, i + 1);
        pair->cfg.id = pair->name;
        pair->cfg.in = ins[i];
        pair->cfg.out = outs[i];
        pair->cfg.control = control;
        if (s_check_pair (pair) != 0) {
            colo_config_destroy (&conf);
            return 1;
        }
    }
    if (count == 0) {
        fprintf (stderr, "%s: no [redirector NAME] section\n", config_file);
        colo_config_destroy (&conf);
        return 1;
    }
    if (check_only) {
        colo_config_destroy (&conf);
        return 0;
    }

    int rc = colo_service_run (&pairs[0].cfg, sizeof pairs[0], count, s_start, s_stop);
    colo_config_destroy (&conf);
    return rc;
}
