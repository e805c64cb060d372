/*  colo_service.h - what every service's main shares: running its instances until a signal.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#ifndef COLO_SERVICE_H_INCLUDED
#define COLO_SERVICE_H_INCLUDED

#include <stddef.h>

//  Start one instance from its configuration: the actor, or NULL (logged).
typedef void *(colo_service_start_fn) (void *cfg);
//  Stop an actor and free it.
typedef void (colo_service_stop_fn) (void *actor);

//  Block SIGTERM, SIGINT and SIGHUP in this thread, and so in every thread
//  started after (they are taken here by sigwait, never by an instance
//  thread), ignore SIGPIPE, start count instances in order -- instance i's
//  configuration is at (char *) cfgs + i * stride -- then wait for one of
//  those signals and stop the started instances in reverse order.  Returns 0
//  after a signal, or 1 at once if an instance did not start (those already
//  started are stopped).
int colo_service_run (void *cfgs, size_t stride, int count, colo_service_start_fn *start,
                      colo_service_stop_fn *stop);

//  A boolean option value: empty, on, true, yes, 1 -> 1; off, false, no, 0
//  -> 0.  Returns 0, or -1 for anything else.
int colo_service_parse_bool (const char *value, int *out);

#endif
