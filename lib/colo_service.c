/*  colo_service.c - what every service's main shares: running its instances until a signal.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "colo_log.h"
#include "colo_service.h"

int
colo_service_run (void *cfgs, size_t stride, int count, colo_service_start_fn *start,
                  colo_service_stop_fn *stop)
{
    sigset_t sigs;
    sigemptyset (&sigs);
    sigaddset (&sigs, SIGTERM);
    sigaddset (&sigs, SIGINT);
    sigaddset (&sigs, SIGHUP);
    pthread_sigmask (SIG_BLOCK, &sigs, NULL);
    signal (SIGPIPE, SIG_IGN);
    void **actors = (void **) calloc ((size_t) (count > 0 ? count : 1), sizeof (void *));
    if (!actors)
        return 1;
    int started = 0, rc = 0;
    for (; started < count; started++) {
        actors[started] = start ((char *) cfgs + (size_t) started * stride);
        if (!actors[started]) {
            rc = 1;
            break;
        }
    }
    if (rc == 0) {
        int sig = 0;
        sigwait (&sigs, &sig);
        colo_info ("signal %d: stopping %d instance%s", sig, started, started == 1 ? "" : "s");
    }
    while (started > 0)
        stop (actors[--started]);
    free (actors);
    return rc;
}

int
colo_service_parse_bool (const char *value, int *out)
{
    if (!value || !*value || !strcmp (value, "on") || !strcmp (value, "true")
        || !strcmp (value, "yes") || !strcmp (value, "1"))
        *out = 1;
    else if (!strcmp (value, "off") || !strcmp (value, "false") || !strcmp (value, "no")
             || !strcmp (value, "0"))
        *out = 0;
    else
        return -1;
    return 0;
}
