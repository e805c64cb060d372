/*  colo_curve.c - CURVE keys from CZMQ certificate files, and the process's ZAP policy.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "colo_curve.h"
#include "colo_log.h"

//  The policy is per ZeroMQ context, which is per process: it is the one
//  piece of shared state here, guarded because ports live in several
//  threads (one actor each).
static pthread_mutex_t s_policy_lock = PTHREAD_MUTEX_INITIALIZER;
static zactor_t *s_auth;  //  zauth, while a server restricts clients
static char *s_auth_dir;  //  its directory (realpath)
static int s_restricted;  //  registrations with a directory
static int s_open;  //  registrations allowing any client

static int
s_key_is_zero (const char *z85)
{
    //  zcert stores an absent secret key as 32 zero bytes.
    uint8_t bin[32];
    if (!z85 || strlen (z85) != COLO_CURVE_Z85_LEN || !zmq_z85_decode (bin, z85))
        return 1;
    for (size_t i = 0; i < sizeof bin; i++)
        if (bin[i])
            return 0;
    return 1;
}

zcert_t *
colo_curve_load_secret (const char *path)
{
    if (!path || !*path) {
        colo_error ("curve: no certificate file given");
        return NULL;
    }
    zcert_t *cert = zcert_load (path);
    if (!cert) {
        colo_error ("curve: cannot load a certificate from %s (or %s_secret)", path, path);
        return NULL;
    }
    if (s_key_is_zero (zcert_secret_txt (cert))) {
        colo_error ("curve: %s holds no secret key (give the _secret file)", path);
        zcert_destroy (&cert);
        return NULL;
    }
    return cert;
}

int
colo_curve_public_key (const char *key_or_path, char out[COLO_CURVE_Z85_LEN + 1])
{
    if (!key_or_path || !*key_or_path) {
        colo_error ("curve: no public key given");
        return -1;
    }
    struct stat st;
    if (stat (key_or_path, &st) == 0) {
        zcert_t *cert = zcert_load (key_or_path);
        if (!cert) {
            colo_error ("curve: cannot load a certificate from %s", key_or_path);
            return -1;
        }
        memcpy (out, zcert_public_txt (cert), COLO_CURVE_Z85_LEN + 1);
        zcert_destroy (&cert);
        if (s_key_is_zero (out)) {
            colo_error ("curve: %s holds no public key", key_or_path);
            return -1;
        }
        return 0;
    }
    uint8_t bin[32];
    if (strlen (key_or_path) != COLO_CURVE_Z85_LEN || !zmq_z85_decode (bin, key_or_path)) {
        colo_error ("curve: '%s' is neither a certificate file nor a 40-character "
                    "Z85 key",
                    key_or_path);
        return -1;
    }
    memcpy (out, key_or_path, COLO_CURVE_Z85_LEN + 1);
    return 0;
}

//  Start zauth on dir.  Called with the lock held.
static int
s_auth_start (const char *dir)
{
    s_auth = zactor_new (zauth, NULL);
    if (!s_auth) {
        colo_error ("curve: cannot start the ZAP authenticator");
        return -1;
    }
    //  zauth logs each decision (client key, address) through zsys when
    //  verbose: worth it when debugging, too chatty otherwise.
    if (colo_log_level () >= COLO_LOG_DEBUG) {
        zstr_send (s_auth, "VERBOSE");
        zsock_wait (s_auth);
    }
    zstr_sendx (s_auth, "CURVE", dir, NULL);
    zsock_wait (s_auth);
    s_auth_dir = strdup (dir);
    if (!s_auth_dir) {
        zactor_destroy (&s_auth);
        return -1;
    }
    colo_info ("curve: clients must hold a certificate in %s", dir);
    return 0;
}

int
colo_curve_policy_acquire (const char *clients_dir)
{
    char real[PATH_MAX];
    if (clients_dir) {
        struct stat st;
        errno = 0;
        if (stat (clients_dir, &st) != 0 || !S_ISDIR (st.st_mode)
            || !realpath (clients_dir, real)) {
            colo_error ("curve: clients directory %s: %s", clients_dir,
                        errno ? strerror (errno) : "not a directory");
            return -1;
        }
    }
    int rc = 0;
    pthread_mutex_lock (&s_policy_lock);
    if (!clients_dir) {
        if (s_restricted > 0) {
            colo_error ("curve: this process already restricts CURVE clients to %s "
                        "(the policy is process-wide); give the same clients "
                        "directory",
                        s_auth_dir);
            rc = -1;
        }
        else
            s_open++;
    }
    else if (s_open > 0) {
        colo_error ("curve: another CURVE server in this process accepts any "
                    "client (the policy is process-wide); cannot restrict to %s",
                    real);
        rc = -1;
    }
    else if (s_restricted > 0 && strcmp (s_auth_dir, real) != 0) {
        colo_error ("curve: this process already restricts CURVE clients to %s "
                    "(the policy is process-wide); cannot use %s too",
                    s_auth_dir, real);
        rc = -1;
    }
    else if (s_restricted > 0 || s_auth_start (real) == 0)
        s_restricted++;
    else
        rc = -1;
    pthread_mutex_unlock (&s_policy_lock);
    return rc;
}

void
colo_curve_policy_release (const char *clients_dir)
{
    pthread_mutex_lock (&s_policy_lock);
    if (!clients_dir) {
        if (s_open > 0)
            s_open--;
    }
    else if (s_restricted > 0 && --s_restricted == 0) {
        zactor_destroy (&s_auth);
        free (s_auth_dir);
        s_auth_dir = NULL;
    }
    pthread_mutex_unlock (&s_policy_lock);
}
