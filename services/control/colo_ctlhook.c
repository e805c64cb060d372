/*  colo_ctlhook.c - per-VM checkpoint hooks: run without a shell, one at a time, coalesced.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "colo_ctlhook.h"
#include "colo_log.h"

extern char **environ;

typedef struct {
    char *vm;
    char *command;                    //  as configured
    char *buffer;                     //  a copy, split into words
    char *words[COLO_CTLHOOK_WORDS_MAX + 1];
    size_t n_words;
    pid_t pid;                        //  running, or 0
    int pidfd;                        //  -1 without pidfd_open
    int pending;                      //  run again when it exits
    colo_ctl_event_t pending_ev;
} s_hook_t;

struct colo_ctlhooks {
    char *id;
    colo_ctldb_t *db;
    s_hook_t *hooks;
    size_t n_hooks;
    colo_ctlhooks_watch_fn *watch;
    void *watch_arg;
    colo_ratelimit_t rl;
};

static int
s_split (char *text, char **words, size_t max, size_t *n)
{
    *n = 0;
    for (char *save = NULL, *w = strtok_r (text, " \t", &save); w;
         w = strtok_r (NULL, " \t", &save)) {
        if (*n == max)
            return -1;
        words[(*n)++] = w;
    }
    words[*n] = NULL;
    return *n ? 0 : -1;
}

int
colo_ctlhook_check (const char *command, char *err, size_t err_cap)
{
    char copy[PATH_MAX];
    char *words[COLO_CTLHOOK_WORDS_MAX + 1];
    size_t n;
    if (!command || snprintf (copy, sizeof copy, "%s", command) >= (int) sizeof copy
        || s_split (copy, words, COLO_CTLHOOK_WORDS_MAX, &n) != 0) {
        snprintf (err, err_cap, "'%s': empty, too long, or more than %d words",
                  command ? command : "", COLO_CTLHOOK_WORDS_MAX);
        return -1;
    }
    if (strchr (words[0], '/') && access (words[0], X_OK) != 0) {
        snprintf (err, err_cap, "'%s': %s", words[0], strerror (errno));
        return -1;
    }
    return 0;
}

colo_ctlhooks_t *
colo_ctlhooks_new (const colo_control_vm_t *vms, size_t n, colo_ctldb_t *db, const char *id)
{
    colo_ctlhooks_t *self = (colo_ctlhooks_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->db = db;
    self->id = strdup (id ? id : "control");
    self->hooks = (s_hook_t *) calloc (n ? n : 1, sizeof *self->hooks);
    self->rl = (colo_ratelimit_t) COLO_RATELIMIT_INIT (1000, 5);
    if (!self->id || !self->hooks) {
        colo_ctlhooks_destroy (&self);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!vms[i].checkpoint_hook)
            continue;
        s_hook_t *hook = &self->hooks[self->n_hooks++];
        hook->pidfd = -1;
        hook->vm = strdup (vms[i].vm);
        hook->command = strdup (vms[i].checkpoint_hook);
        hook->buffer = strdup (vms[i].checkpoint_hook);
        if (!hook->vm || !hook->command || !hook->buffer
            || s_split (hook->buffer, hook->words, COLO_CTLHOOK_WORDS_MAX, &hook->n_words)
                   != 0) {
            colo_error ("%s: vm %s: bad checkpoint-hook", self->id, vms[i].vm);
            colo_ctlhooks_destroy (&self);
            return NULL;
        }
    }
    return self;
}

void
colo_ctlhooks_destroy (colo_ctlhooks_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    colo_ctlhooks_t *self = *self_p;
    for (size_t i = 0; i < self->n_hooks; i++) {
        s_hook_t *hook = &self->hooks[i];
        if (hook->pid > 0)
            waitpid (hook->pid, NULL, WNOHANG);
        if (hook->pidfd >= 0) {
            if (self->watch)
                self->watch (self->watch_arg, hook->pidfd, 0);
            close (hook->pidfd);
        }
        free (hook->vm);
        free (hook->command);
        free (hook->buffer);
    }
    free (self->hooks);
    free (self->id);
    free (self);
    *self_p = NULL;
}

void
colo_ctlhooks_set_watch (colo_ctlhooks_t *self, colo_ctlhooks_watch_fn *fn, void *arg)
{
    self->watch = fn;
    self->watch_arg = arg;
}

static int
s_spawn (colo_ctlhooks_t *self, s_hook_t *hook, const colo_ctl_event_t *ev)
{
    char *argv[COLO_CTLHOOK_WORDS_MAX + 4];
    size_t argc = 0;
    for (size_t i = 0; i < hook->n_words; i++)
        argv[argc++] = hook->words[i];
    argv[argc++] = (char *) ev->vm;
    argv[argc++] = (char *) ev->reason;
    argv[argc++] = (char *) ev->connection;
    argv[argc] = NULL;
    size_t n_env = 0;
    while (environ && environ[n_env])
        n_env++;
    char **envp = (char **) calloc (n_env + 6, sizeof *envp);
    if (!envp)
        return -1;
    char vars[5][COLO_CTL_TEXT_MAX + 32];
    size_t e = 0;
    for (size_t i = 0; i < n_env; i++)
        if (strncmp (environ[i], "COLO_", 5) != 0)
            envp[e++] = environ[i];
    snprintf (vars[0], sizeof vars[0], "COLO_EVENT=%s", colo_ctl_event_name (ev->type));
    snprintf (vars[1], sizeof vars[1], "COLO_VM=%s", ev->vm);
    snprintf (vars[2], sizeof vars[2], "COLO_REASON=%s", ev->reason);
    snprintf (vars[3], sizeof vars[3], "COLO_CONNECTION=%s", ev->connection);
    snprintf (vars[4], sizeof vars[4], "COLO_SOURCE=%s", ev->source);
    for (int i = 0; i < 5; i++)
        envp[e++] = vars[i];
    envp[e] = NULL;
    pid_t pid = 0;
    int rc = posix_spawnp (&pid, argv[0], NULL, NULL, argv, envp);
    free (envp);
    if (rc != 0) {
        colo_ctldb_count (self->db, COLO_CTLDB_HOOKS_FAILED);
        colo_log_limited (&self->rl, COLO_LOG_ERROR,
                          "%s: vm %s: cannot run checkpoint-hook '%s': %s", self->id, ev->vm,
                          hook->command, strerror (rc));
        return -1;
    }
    colo_ctldb_count (self->db, COLO_CTLDB_HOOKS_RUN);
    colo_debug ("%s: vm %s: checkpoint-hook started (pid %d, reason %s)", self->id, ev->vm,
                (int) pid, ev->reason);
    hook->pid = pid;
    hook->pidfd = (int) syscall (SYS_pidfd_open, pid, 0);
    if (hook->pidfd >= 0 && self->watch)
        self->watch (self->watch_arg, hook->pidfd, 1);
    return 0;
}

int
colo_ctlhooks_fire (colo_ctlhooks_t *self, const colo_ctl_event_t *ev)
{
    for (size_t i = 0; i < self->n_hooks; i++) {
        s_hook_t *hook = &self->hooks[i];
        if (strcmp (hook->vm, ev->vm) != 0)
            continue;
        if (hook->pid > 0) {
            hook->pending = 1;
            hook->pending_ev = *ev;
            colo_ctldb_count (self->db, COLO_CTLDB_HOOKS_COALESCED);
            return 1;
        }
        return s_spawn (self, hook, ev) == 0 ? 1 : -1;
    }
    return 0;
}

static void
s_reap (colo_ctlhooks_t *self, s_hook_t *hook)
{
    if (hook->pid <= 0)
        return;
    int status = 0;
    pid_t done = waitpid (hook->pid, &status, WNOHANG);
    if (done == 0 || (done < 0 && errno == EINTR))
        return;
    if (done < 0 || !WIFEXITED (status) || WEXITSTATUS (status) != 0) {
        colo_ctldb_count (self->db, COLO_CTLDB_HOOKS_FAILED);
        colo_log_limited (&self->rl, COLO_LOG_WARN,
                          "%s: vm %s: checkpoint-hook '%s' failed (%s %d)", self->id,
                          hook->vm, hook->command,
                          done < 0              ? "waitpid"
                          : WIFEXITED (status) ? "exit status"
                                               : "signal",
                          done < 0             ? errno
                          : WIFEXITED (status) ? WEXITSTATUS (status)
                                               : WTERMSIG (status));
    }
    hook->pid = 0;
    if (hook->pidfd >= 0) {
        if (self->watch)
            self->watch (self->watch_arg, hook->pidfd, 0);
        close (hook->pidfd);
        hook->pidfd = -1;
    }
    if (hook->pending) {
        hook->pending = 0;
        s_spawn (self, hook, &hook->pending_ev);
    }
}

void
colo_ctlhooks_reap (colo_ctlhooks_t *self, int fd)
{
    for (size_t i = 0; i < self->n_hooks; i++) {
        s_hook_t *hook = &self->hooks[i];
        if ((fd < 0 && hook->pidfd < 0) || (fd >= 0 && hook->pidfd == fd))
            s_reap (self, hook);
    }
}
