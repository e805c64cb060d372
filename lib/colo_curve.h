/*  colo_curve.h - CURVE keys from CZMQ certificate files, and the process's ZAP policy.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Keys live in CZMQ certificate files (zcert_save / zcert_save_secret
 *  format).  Client authentication is ZAP, and ZeroMQ has one ZAP handler
 *  per context: CZMQ's global context, so one per process.  This module
 *  owns it: a zauth actor, started when the first CURVE server asks for a
 *  directory of allowed client certificates and stopped with the last.
 *  Nothing else in the process may start a zauth (a second one cannot
 *  bind the ZAP endpoint).
 */
#ifndef COLO_CURVE_H_INCLUDED
#define COLO_CURVE_H_INCLUDED

#include <czmq.h>

//  Length of a CURVE key in Z85 text (without the NUL).
#define COLO_CURVE_Z85_LEN 40

//  Load a certificate that holds a secret key.  Like zcert_load, PATH_secret
//  is tried before PATH.  Returns NULL (and logs why) if neither can be
//  read or the certificate has no secret key.
zcert_t *colo_curve_load_secret (const char *path);

//  A public key given as 40 Z85 characters or as a certificate file (a file
//  of that name wins).  Writes the Z85 text and a NUL into out.  Returns 0,
//  or -1 after logging.
int colo_curve_public_key (const char *key_or_path, char out[COLO_CURVE_Z85_LEN + 1]);

//  Register a CURVE server with the process's client policy.  clients_dir
//  is a directory of allowed client certificates (public ones are enough;
//  the directory is re-read when it changes); NULL means any client that
//  completes the CURVE handshake, i.e. knows the server's public key.  The
//  policy is process-wide, so every CURVE server in a process must ask for
//  the same thing: returns -1 (and logs) if clients_dir conflicts with an
//  earlier registration, is not a directory, or the authenticator cannot
//  start; 0 otherwise.
int colo_curve_policy_acquire (const char *clients_dir);

//  Drop one registration made with the same clients_dir.  The last one
//  with a directory stops the authenticator.
void colo_curve_policy_release (const char *clients_dir);

#endif
