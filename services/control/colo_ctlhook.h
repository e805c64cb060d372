/*  colo_ctlhook.h - per-VM checkpoint hooks: run without a shell, one at a time, coalesced.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  A VM's hook is a command (words split on blanks, no shell) run as
 *  WORDS... VM REASON CONNECTION with COLO_EVENT, COLO_VM, COLO_REASON,
 *  COLO_CONNECTION and COLO_SOURCE in its environment (inherited COLO_*
 *  variables are replaced).  While a VM's hook runs, further requests for
 *  that VM fold into one more run, with the latest request, after it
 *  exits.  Runs, failures (cannot start, non-zero exit, killed) and folded
 *  requests are counted in the colo_ctldb given (the caller holds
 *  whatever lock guards it while calling in).  Ended hooks are reaped
 *  through a pidfd per run that the caller's loop watches, or, where
 *  pidfd_open is missing, by calling colo_ctlhooks_reap (self, -1) now and
 *  then.
 */
#ifndef COLO_CTLHOOK_H_INCLUDED
#define COLO_CTLHOOK_H_INCLUDED

#include <stddef.h>

#include "colo_control.h"
#include "colo_ctlcodec.h"
#include "colo_ctldb.h"

#define COLO_CTLHOOK_WORDS_MAX 32

typedef struct colo_ctlhooks colo_ctlhooks_t;

//  0 if command splits into 1..COLO_CTLHOOK_WORDS_MAX words and its first
//  word, when it is a path, is executable; -1 with the reason in err
//  ("'WORD': reason").
int colo_ctlhook_check (const char *command, char *err, size_t err_cap);

//  Hooks for the VMs that have one.  id names the service in logs.  NULL
//  on no memory or a command that does not split.
colo_ctlhooks_t *colo_ctlhooks_new (const colo_control_vm_t *vms, size_t n,
                                    colo_ctldb_t *db, const char *id);

//  Forget the hooks; running ones are not killed (reaped if they ended).
void colo_ctlhooks_destroy (colo_ctlhooks_t **self_p);

//  Called with watch 1 for a new run's pidfd (readable when it ends), 0
//  before it is closed.
typedef void (colo_ctlhooks_watch_fn) (void *arg, int fd, int watch);
void colo_ctlhooks_set_watch (colo_ctlhooks_t *self, colo_ctlhooks_watch_fn *fn, void *arg);

//  A checkpoint request for ev->vm: 1 if its hook runs it (now, or folded
//  into the run under way), 0 if the VM has no hook, -1 if it could not
//  start (counted and logged).
int colo_ctlhooks_fire (colo_ctlhooks_t *self, const colo_ctl_event_t *ev);

//  Reap the run whose pidfd is fd, or, with fd -1, every run without a
//  pidfd; start the folded run of a VM whose hook ended.
void colo_ctlhooks_reap (colo_ctlhooks_t *self, int fd);

#endif
