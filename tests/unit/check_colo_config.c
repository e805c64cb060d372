/*  check_colo_config.c - the deployment config parser.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "colo_config.h"
#include "colo_test.h"

START_TEST (test_config_good)
{
    const char *text = "# a host\n"
                       "\n"
                       "[compare vm1-nic0]\n"
                       "primary-in = shm:vm1-pri   # the ring\n"
                       "  secondary-in=zmq+tcp://*:7001,bind\n"
                       "comment = \"  spaced # kept \"\n"
                       "; another comment\n"
                       "[rewriter vm1-nic0]\n"
                       "id = vm1\n"
                       "[control]\n"
                       "store = /var/lib/colonet\n";
    char err[200] = "";
    colo_config_t *cfg = colo_config_parse (text, "test.conf", err, sizeof err);
    ck_assert_msg (cfg != NULL, "%s", err);
    ck_assert_uint_eq (colo_config_section_count (cfg), 3);
    ck_assert_str_eq (colo_config_section_kind (cfg, 0), "compare");
    ck_assert_str_eq (colo_config_section_name (cfg, 0), "vm1-nic0");
    ck_assert_str_eq (colo_config_section_name (cfg, 2), "");
    ck_assert_uint_eq (colo_config_key_count (cfg, 0), 3);
    ck_assert_str_eq (colo_config_get (cfg, 0, "primary-in"), "shm:vm1-pri");
    ck_assert_str_eq (colo_config_get (cfg, 0, "secondary-in"), "zmq+tcp://*:7001,bind");
    ck_assert_str_eq (colo_config_get (cfg, 0, "comment"), "  spaced # kept ");
    ck_assert_int_eq (colo_config_line (cfg, 0, 1), 5);
    ck_assert_int_eq (colo_config_section_line (cfg, 0), 3);
    ck_assert_int_eq (colo_config_section_line (cfg, 2), 10);
    ck_assert_ptr_null (colo_config_get (cfg, 0, "missing"));
    ck_assert_ptr_null (colo_config_section_kind (cfg, 3));
    colo_config_destroy (&cfg);
    ck_assert_ptr_null (cfg);
}
END_TEST

START_TEST (test_config_errors_name_the_line)
{
    static const struct {
        const char *text;
        const char *expect;
    } cases[] = {
        {"key = 1\n", "x.conf:1: 'key' outside of any [section]"},
        {"[a b]\nnovalue\n", "x.conf:2: expected 'key = value'"},
        {"[a b]\nk = 1\nk = 2\n", "x.conf:3: key 'k' repeated (first on line 2)"},
        {"[a b\n", "x.conf:1: expected '[kind name]'"},
        {"[a b c]\n", "x.conf:1: expected '[kind name]'"},
        {"[a b]\n[a b]\n", "x.conf:2: section [a b] repeated"},
        {"[a b]\nk = \"open\n", "x.conf:2: unterminated quote in 'k'"},
        {"[a b]\nbad key = 1\n", "x.conf:2: bad key 'bad key'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[200] = "";
        colo_config_t *cfg = colo_config_parse (cases[i].text, "x.conf", err, sizeof err);
        ck_assert_ptr_null (cfg);
        ck_assert_str_eq (err, cases[i].expect);
    }
}
END_TEST

START_TEST (test_config_load_file)
{
    char path[64];
    snprintf (path, sizeof path, "/tmp/colotest-%d.conf", (int) getpid ());
    FILE *f = fopen (path, "w");
    ck_assert_ptr_nonnull (f);
    fputs ("[compare a]\nx = 1\n", f);
    fclose (f);
    char err[200] = "";
    colo_config_t *cfg = colo_config_load (path, err, sizeof err);
    ck_assert_ptr_nonnull (cfg);
    uint64_t v = 0;
    ck_assert_int_eq (colo_config_parse_u64 (colo_config_get (cfg, 0, "x"), 0, 10, &v), 0);
    ck_assert_uint_eq (v, 1);
    ck_assert_int_eq (colo_config_parse_u64 ("11", 0, 10, &v), -1);
    ck_assert_int_eq (colo_config_parse_u64 ("-1", 0, 10, &v), -1);
    ck_assert_int_eq (colo_config_parse_u64 ("1x", 0, 10, &v), -1);
    colo_config_destroy (&cfg);
    unlink (path);
    ck_assert_ptr_null (colo_config_load (path, err, sizeof err));
    ck_assert_ptr_nonnull (strstr (err, "cannot open"));
}
END_TEST

Suite *
colo_config_suite (void)
{
    Suite *s = suite_create ("colo_config");
    TCase *tc = tcase_create ("parse");
    tcase_add_test (tc, test_config_good);
    tcase_add_test (tc, test_config_errors_name_the_line);
    tcase_add_test (tc, test_config_load_file);
    suite_add_tcase (s, tc);
    return s;
}
