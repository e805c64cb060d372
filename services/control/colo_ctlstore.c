/*  colo_ctlstore.c - colo-control's durable store: one file, replaced atomically.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "colo_ctlstore.h"

#define S_FILE "rules.pb"
#define S_TMP "rules.pb.tmp"
#define S_LOCK "lock"
#define S_FILE_MAX (256u * 1024 * 1024)

struct colo_ctlstore {
    char dir[PATH_MAX];
    char path[PATH_MAX];
    char tmp[PATH_MAX];
    int dir_fd;
    int lock_fd;
};

static void
s_err (char *err, size_t cap, const char *fmt, ...)
{
    if (!err || !cap)
        return;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (err, cap, fmt, ap);
    va_end (ap);
}

colo_ctlstore_t *
colo_ctlstore_open (const char *dir, char *err, size_t err_cap)
{
    if (!dir || !*dir || strlen (dir) + sizeof "/" S_TMP > PATH_MAX) {
        s_err (err, err_cap, "store: no directory, or its path is too long");
        return NULL;
    }
    if (mkdir (dir, 0700) != 0 && errno != EEXIST) {
        s_err (err, err_cap, "store %s: %s", dir, strerror (errno));
        return NULL;
    }
    colo_ctlstore_t *self = (colo_ctlstore_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->dir_fd = -1;
    self->lock_fd = -1;
    snprintf (self->dir, sizeof self->dir, "%s", dir);
    snprintf (self->path, sizeof self->path, "%s/%s", dir, S_FILE);
    snprintf (self->tmp, sizeof self->tmp, "%s/%s", dir, S_TMP);
    self->dir_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (self->dir_fd < 0) {
        s_err (err, err_cap, "store %s: %s", dir, strerror (errno));
        colo_ctlstore_close (&self);
        return NULL;
    }
    char lock[PATH_MAX];
    snprintf (lock, sizeof lock, "%s/%s", dir, S_LOCK);
    self->lock_fd = open (lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (self->lock_fd < 0) {
        s_err (err, err_cap, "store %s: %s", lock, strerror (errno));
        colo_ctlstore_close (&self);
        return NULL;
    }
    if (flock (self->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        s_err (err, err_cap, "store %s: %s", dir,
               errno == EWOULDBLOCK ? "in use by another colo-control" : strerror (errno));
        colo_ctlstore_close (&self);
        return NULL;
    }
    return self;
}

void
colo_ctlstore_close (colo_ctlstore_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    colo_ctlstore_t *self = *self_p;
    if (self->lock_fd >= 0)
        close (self->lock_fd);   //  releases the flock
    if (self->dir_fd >= 0)
        close (self->dir_fd);
    free (self);
    *self_p = NULL;
}

const char *
colo_ctlstore_path (colo_ctlstore_t *self)
{
    return self->path;
}

int
colo_ctlstore_load (colo_ctlstore_t *self, colo_ctl_store_t *out, char *err,
                    size_t err_cap)
{
    memset (out, 0, sizeof *out);
    if (unlink (self->tmp) != 0 && errno != ENOENT) {
        s_err (err, err_cap, "store %s: %s", self->tmp, strerror (errno));
        return -1;
    }
    int fd = open (self->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            out->next_id = 1;
            return 0;
        }
        s_err (err, err_cap, "store %s: %s", self->path, strerror (errno));
        return -1;
    }
    struct stat st;
    if (fstat (fd, &st) != 0 || st.st_size < 0 || (uint64_t) st.st_size > S_FILE_MAX) {
        s_err (err, err_cap, "store %s: unreadable or larger than %u bytes", self->path,
               S_FILE_MAX);
        close (fd);
        return -1;
    }
    size_t size = (size_t) st.st_size;
    uint8_t *data = (uint8_t *) malloc (size ? size : 1);
    if (!data) {
        s_err (err, err_cap, "store %s: no memory", self->path);
        close (fd);
        return -1;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read (fd, data + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t) n;
    }
    close (fd);
    if (got != size) {
        s_err (err, err_cap, "store %s: short read", self->path);
        free (data);
        return -1;
    }
    char why[256];
    colo_ctl_error_t rc = colo_ctl_store_decode (data, size, out, why, sizeof why);
    free (data);
    if (rc != COLO_CTL_OK) {
        s_err (err, err_cap, "store %s is corrupt (%s); not starting, to not lose rules",
               self->path, why);
        return -1;
    }
    return 0;
}

static int
s_write_all (int fd, const uint8_t *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write (fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t) n;
    }
    return 0;
}

int
colo_ctlstore_save (colo_ctlstore_t *self, const colo_ctl_store_t *state, char *err,
                    size_t err_cap)
{
    size_t len = 0;
    uint8_t *data = colo_ctl_store_encode (state, &len);
    if (!data) {
        s_err (err, err_cap, "store: cannot encode the state (no memory)");
        return -1;
    }
    int fd = open (self->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        s_err (err, err_cap, "store %s: %s", self->tmp, strerror (errno));
        free (data);
        return -1;
    }
    int rc = s_write_all (fd, data, len);
    free (data);
    if (rc == 0)
        rc = fsync (fd);
    int saved = errno;
    if (close (fd) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc != 0) {
        s_err (err, err_cap, "store %s: %s", self->tmp, strerror (saved));
        unlink (self->tmp);
        return -1;
    }
    if (rename (self->tmp, self->path) != 0) {
        s_err (err, err_cap, "store %s: rename: %s", self->path, strerror (errno));
        unlink (self->tmp);
        return -1;
    }
    //  The rename is durable once the directory is.
    if (fsync (self->dir_fd) != 0) {
        s_err (err, err_cap, "store %s: fsync: %s", self->dir, strerror (errno));
        return -1;
    }
    return 0;
}
