/*  runner.c - the one libcheck runner: every tests/unit/check_X.c suite.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Usage: check_colonet [SUITE...]   (no argument: every suite)
 *  The suite list is generated from the file names (suites.h).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COLO_SUITE(name) Suite *name##_suite (void);
#include "suites.h"
#undef COLO_SUITE

typedef struct {
    const char *name;
    Suite *(*make) (void);
} s_entry_t;

static const s_entry_t s_suites[] = {
#define COLO_SUITE(name) {#name, name##_suite},
#include "suites.h"
#undef COLO_SUITE
};

int
main (int argc, char **argv)
{
    SRunner *runner = NULL;
    size_t count = sizeof (s_suites) / sizeof (s_suites[0]);
    for (size_t i = 0; i < count; i++) {
        int wanted = argc < 2;
        for (int a = 1; a < argc; a++)
            if (strcmp (argv[a], s_suites[i].name) == 0)
                wanted = 1;
        if (!wanted)
            continue;
        if (!runner)
            runner = srunner_create (s_suites[i].make ());
        else
            srunner_add_suite (runner, s_suites[i].make ());
    }
    if (!runner) {
        fprintf (stderr, "check_colonet: no such suite\n");
        return 2;
    }
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
