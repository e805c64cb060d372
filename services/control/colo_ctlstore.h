/*  colo_ctlstore.h - colo-control's durable store: one file, replaced atomically.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  DIR/rules.pb holds the whole state (a Store message: rules, version,
 *  next id).  Saving writes DIR/rules.pb.tmp, fsyncs it, renames it over
 *  rules.pb and fsyncs DIR, so that when save returns 0 the new state
 *  survives a crash or power loss, and at any moment the file is either
 *  the old state or the new one, never a mix.  DIR/lock is held with
 *  flock(2) while the store is open, so two colo-control processes cannot
 *  share a store.
 */
#ifndef COLO_CTLSTORE_H_INCLUDED
#define COLO_CTLSTORE_H_INCLUDED

#include <stddef.h>

#include "colo_ctlcodec.h"

typedef struct colo_ctlstore colo_ctlstore_t;

//  Open the store in dir (created, mode 0700, if missing; its parent must
//  exist).  NULL with the reason in err if dir cannot be used or another
//  process holds it.
colo_ctlstore_t *colo_ctlstore_open (const char *dir, char *err, size_t err_cap);
void colo_ctlstore_close (colo_ctlstore_t **self_p);

//  Read the state.  A missing file is an empty store (version 0) and
//  returns 0; an unreadable or corrupt file returns -1 with the reason in
//  err (colo-control then refuses to start rather than lose rules).  A
//  leftover rules.pb.tmp from a crash is removed.  Clear *out with
//  colo_ctl_store_clear.
int colo_ctlstore_load (colo_ctlstore_t *self, colo_ctl_store_t *out, char *err,
                        size_t err_cap);

//  Persist the state durably (see above).  Returns 0, or -1 with the
//  reason in err, the old state still in place.
int colo_ctlstore_save (colo_ctlstore_t *self, const colo_ctl_store_t *state, char *err,
                        size_t err_cap);

//  The store file's path (borrowed).
const char *colo_ctlstore_path (colo_ctlstore_t *self);

#endif
