/*  qframes.c - interop helper: make frame files, push them through ports, collect the rest.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *    qframes gen COUNT SEED FILE
 *        COUNT deterministic frames (14 to 65536 bytes, the frame number in
 *        the first 4 bytes) into FILE, each as a 4-byte big-endian length and
 *        the bytes (QEMU's framing without the vnet field).
 *    qframes port
 *        Print a TCP port that is free on 127.0.0.1 right now.
 *    qframes run [--timeout MS] STEP [--then STEP]...
 *        STEP is any number of  --send URI FILE  and  --recv URI COUNT FILE,
 *        and optionally  --wait-file PATH  (start the step once PATH exists)
 *        and  --mark PATH  (create PATH when the step is done).  Every port
 *        (one per distinct URI, both directions if needed) is opened first
 *        and must be connected.  A step then sends probe frames on its
 *        --send ports every 100 ms until each of its --recv ports has seen
 *        one, because a connection being up on our side does not mean QEMU
 *        has noticed it yet (QEMU drops frames toward a chardev it thinks is
 *        down).  Then it sends its files and waits until each --recv port
 *        got COUNT frames (probes are left out), written to FILE in the gen
 *        format.  MS (default 10000) bounds each step.  Exits 0, or 1
 *        naming what did not arrive in time.
 *    qframes hmp SOCKET COMMAND...
 *        Run QEMU human-monitor commands on a unix socket; exits 1 if one
 *        prints an error.

 *  It speaks through lib/colo_port.h, so every URI colonet knows works
 *  (qemu+unix, qemu+tcp with or without vnet, shm, zmq).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "colo_buf.h"
#include "colo_log.h"
#include "colo_port.h"

#define S_PORTS_MAX 16
#define S_ACTIONS_MAX 64
#define S_PROBE_MAGIC "QFPROBE"  //  no gen frame starts with it (its number is too big)
#define S_PROBE_EVERY_MS 100

typedef struct {
    const char *uri;
    int dir;
    colo_port_t *port;
} s_port_t;

typedef struct {
    int step;
    int send;  //  1 send, 0 recv
    int port;
    const char *file;
    long count;  //  recv
    //  Running state
    colo_buf_t **bufs;  //  send: frames still to send
    long n, next;
    FILE *out;  //  recv
    long got;
    int probed;  //  recv: a probe arrived
} s_action_t;

static s_port_t s_ports[S_PORTS_MAX];
static int s_port_count;
static s_action_t s_actions[S_ACTIONS_MAX];
static int s_action_count;

static int
s_usage (void)
{
    fprintf (stderr, "usage: qframes gen COUNT SEED FILE\n"
                     "       qframes port\n"
                     "       qframes hmp SOCKET COMMAND...\n"
                     "       qframes run [--timeout MS] STEP [--then STEP]...\n"
                     "       STEP: [--wait-file PATH] [--mark PATH] [--send URI FILE]...\n"
                     "             [--recv URI COUNT FILE]...\n");
    return 2;
}

//  ---------------------------------------------------------------- gen

static uint32_t
s_size (uint32_t i, uint32_t x)
{
    static const uint32_t edges[] = {60, 14, 1514, 65536, 9018, 42};
    if (i < 6)
        return edges[i];
    return 14 + x % 1501;
}

static int
s_gen (long count, unsigned long seed, const char *path)
{
    FILE *f = fopen (path, "wb");
    if (!f) {
        perror (path);
        return 1;
    }
    uint32_t x = (uint32_t) seed * 2654435761u + 7;
    static uint8_t data[COLO_FRAME_MAX];
    for (long i = 0; i < count; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        uint32_t len = s_size ((uint32_t) i, x);
        for (uint32_t k = 0; k < len; k++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            data[k] = (uint8_t) x;
        }
        uint32_t be = htonl ((uint32_t) i);
        memcpy (data, &be, 4);
        be = htonl (len);
        if (fwrite (&be, 4, 1, f) != 1 || fwrite (data, len, 1, f) != 1) {
            perror (path);
            fclose (f);
            return 1;
        }
    }
    return fclose (f) == 0 ? 0 : 1;
}

static int
s_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin;
    memset (&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    if (fd < 0 || bind (fd, (struct sockaddr *) &sin, sizeof sin) != 0
        || getsockname (fd, (struct sockaddr *) &sin, &len) != 0) {
        perror ("qframes: port");
        return 1;
    }
    close (fd);
    printf ("%u\n", (unsigned) ntohs (sin.sin_port));
    return 0;
}

//  ---------------------------------------------------------------- run

static int
s_port_index (const char *uri, int dir)
{
    for (int i = 0; i < s_port_count; i++)
        if (strcmp (s_ports[i].uri, uri) == 0) {
            s_ports[i].dir |= dir;
            return i;
        }
    if (s_port_count == S_PORTS_MAX)
        return -1;
    s_ports[s_port_count].uri = uri;
    s_ports[s_port_count].dir = dir;
    return s_port_count++;
}

//  Read a frame file into an array of buffers.
static int
s_load (s_action_t *a)
{
    FILE *f = fopen (a->file, "rb");
    if (!f) {
        perror (a->file);
        return -1;
    }
    long cap = 0;
    while (1) {
        uint32_t be;
        if (fread (&be, 4, 1, f) != 1)
            break;
        uint32_t len = ntohl (be);
        colo_buf_t *buf = len <= COLO_FRAME_MAX ? colo_buf_new (len) : NULL;
        if (!buf || (len && fread (buf->data, len, 1, f) != 1)) {
            fprintf (stderr, "qframes: %s: bad frame %ld\n", a->file, a->n);
            colo_buf_destroy (&buf);
            fclose (f);
            return -1;
        }
        buf->len = len;
        if (a->n == cap) {
            cap = cap ? cap * 2 : 256;
            a->bufs = (colo_buf_t **) realloc (a->bufs, (size_t) cap * sizeof *a->bufs);
            if (!a->bufs) {
                fclose (f);
                return -1;
            }
        }
        a->bufs[a->n++] = buf;
    }
    fclose (f);
    return 0;
}

static int
s_all_connected (void)
{
    for (int i = 0; i < s_port_count; i++)
        if (!colo_port_connected (s_ports[i].port))
            return 0;
    return 1;
}

static void
s_wait (int ms)
{
    struct pollfd pfd[S_PORTS_MAX];
    for (int i = 0; i < s_port_count; i++) {
        pfd[i].fd = colo_port_fd (s_ports[i].port);
        pfd[i].events = POLLIN;
        pfd[i].revents = 0;
    }
    poll (pfd, (nfds_t) s_port_count, ms);
    for (int i = 0; i < s_port_count; i++)
        colo_port_recv (s_ports[i].port, NULL, 0);
}

static int
s_is_probe (const colo_buf_t *buf)
{
    return buf->len >= sizeof S_PROBE_MAGIC
           && memcmp (buf->data, S_PROBE_MAGIC, sizeof S_PROBE_MAGIC) == 0;
}

//  Send probes on the step's sending ports until every receiving port of
//  the step saw one; 1 when done, 0 on timeout.
static int
s_probe (int step, uint64_t deadline)
{
    uint64_t next_send = 0;
    while (1) {
        int done = 1;
        for (int i = 0; i < s_action_count; i++) {
            s_action_t *a = &s_actions[i];
            if (a->step != step || a->send || a->probed)
                continue;
            colo_buf_t *buf = NULL;
            //  Only probes can be there: nothing real was sent in this step.
            while (colo_port_recv (s_ports[a->port].port, &buf, 1) == 1) {
                if (s_is_probe (buf))
                    a->probed = 1;
                colo_buf_destroy (&buf);
            }
            if (!a->probed)
                done = 0;
        }
        if (done)
            return 1;
        uint64_t now = colo_clock_mono_ms ();
        if (now >= deadline)
            return 0;
        if (now >= next_send) {
            for (int i = 0; i < s_action_count; i++) {
                if (s_actions[i].step != step || !s_actions[i].send)
                    continue;
                colo_buf_t *buf = colo_buf_new (64);
                if (!buf)
                    return 0;
                memset (buf->data, 0, 64);
                memcpy (buf->data, S_PROBE_MAGIC, sizeof S_PROBE_MAGIC);
                buf->len = 64;
                if (colo_port_send (s_ports[s_actions[i].port].port, &buf, 1) != 1)
                    colo_buf_destroy (&buf);
            }
            next_send = now + S_PROBE_EVERY_MS;
        }
        s_wait (20);
    }
}

//  Send the step's files and receive its counts; 1 when done, 0 on timeout.
static int
s_transfer (int step, uint64_t deadline)
{
    while (1) {
        int done = 1;
        for (int i = 0; i < s_action_count; i++) {
            s_action_t *a = &s_actions[i];
            if (a->step != step)
                continue;
            colo_port_t *port = s_ports[a->port].port;
            if (a->send) {
                if (a->next < a->n) {
                    long left = a->n - a->next;
                    int k = colo_port_send (port, a->bufs + a->next,
                                            (int) (left < 64 ? left : 64));
                    if (k > 0)
                        a->next += k;
                }
                if (a->next < a->n || colo_port_pending (port) > 0)
                    done = 0;
                continue;
            }
            while (a->got < a->count) {
                colo_buf_t *buf = NULL;
                if (colo_port_recv (port, &buf, 1) != 1)
                    break;
                if (!s_is_probe (buf)) {
                    uint32_t be = htonl (buf->len);
                    fwrite (&be, 4, 1, a->out);
                    fwrite (buf->data, buf->len, 1, a->out);
                    a->got++;
                }
                colo_buf_destroy (&buf);
            }
            if (a->got < a->count)
                done = 0;
        }
        if (done)
            return 1;
        if (colo_clock_mono_ms () >= deadline)
            return 0;
        s_wait (20);
    }
}

static int
s_file_exists (const char *path)
{
    return access (path, F_OK) == 0;
}

//  One step: wait for its go file, probe, transfer, close its outputs,
//  create its mark file.  Returns 0, or -1 after saying what is missing.
static int
s_run_step (int step, const char *wait_file, const char *mark_file, long timeout_ms)
{
    uint64_t deadline = colo_clock_mono_ms () + (uint64_t) timeout_ms;
    while (wait_file && !s_file_exists (wait_file)) {
        if (colo_clock_mono_ms () >= deadline) {
            fprintf (stderr, "qframes: step %d: %s never appeared\n", step, wait_file);
            return -1;
        }
        s_wait (20);
    }
    deadline = colo_clock_mono_ms () + (uint64_t) timeout_ms;
    int ok = s_probe (step, deadline) && s_transfer (step, deadline);
    for (int i = 0; i < s_action_count; i++) {
        s_action_t *a = &s_actions[i];
        if (a->step != step)
            continue;
        const char *uri = s_ports[a->port].uri;
        if (!ok && !a->send && !a->probed)
            fprintf (stderr, "qframes: step %d: %s: no probe arrived\n", step, uri);
        else if (!ok && a->send && a->next < a->n)
            fprintf (stderr, "qframes: step %d: %s: sent %ld of %ld frames\n", step, uri,
                     a->next, a->n);
        else if (!ok && !a->send && a->got < a->count)
            fprintf (stderr, "qframes: step %d: %s: got %ld of %ld frames\n", step, uri,
                     a->got, a->count);
        if (a->out) {
            if (fclose (a->out) != 0)
                ok = 0;
            a->out = NULL;
        }
    }
    if (ok && mark_file) {
        FILE *f = fopen (mark_file, "w");
        if (!f || fclose (f) != 0)
            ok = 0;
    }
    return ok ? 0 : -1;
}

#define S_STEPS_MAX 16

static int
s_run (int argc, char **argv)
{
    long timeout_ms = 10000;
    int step = 0;
    const char *wait_files[S_STEPS_MAX] = {NULL}, *mark_files[S_STEPS_MAX] = {NULL};
    for (int i = 0; i < argc; i++) {
        if (strcmp (argv[i], "--timeout") == 0 && i + 1 < argc)
            timeout_ms = atol (argv[++i]);
        else if (strcmp (argv[i], "--then") == 0 && step + 1 < S_STEPS_MAX)
            step++;
        else if (strcmp (argv[i], "--wait-file") == 0 && i + 1 < argc)
            wait_files[step] = argv[++i];
        else if (strcmp (argv[i], "--mark") == 0 && i + 1 < argc)
            mark_files[step] = argv[++i];
        else if (strcmp (argv[i], "--send") == 0 && i + 2 < argc
                 && s_action_count < S_ACTIONS_MAX) {
            s_action_t *a = &s_actions[s_action_count++];
            a->step = step;
            a->send = 1;
            a->port = s_port_index (argv[i + 1], COLO_PORT_TX);
            a->file = argv[i + 2];
            if (a->port < 0 || s_load (a) != 0)
                return 1;
            i += 2;
        }
        else if (strcmp (argv[i], "--recv") == 0 && i + 3 < argc
                 && s_action_count < S_ACTIONS_MAX) {
            s_action_t *a = &s_actions[s_action_count++];
            a->step = step;
            a->port = s_port_index (argv[i + 1], COLO_PORT_RX);
            a->count = atol (argv[i + 2]);
            a->file = argv[i + 3];
            a->out = fopen (a->file, "wb");
            if (a->port < 0 || !a->out) {
                perror (a->file);
                return 1;
            }
            i += 3;
        }
        else
            return s_usage ();
    }
    for (int i = 0; i < s_port_count; i++) {
        s_ports[i].port = colo_port_new (s_ports[i].uri, (colo_port_dir_t) s_ports[i].dir);
        if (!s_ports[i].port)
            return 1;
    }
    int rc = 0;
    uint64_t deadline = colo_clock_mono_ms () + (uint64_t) timeout_ms;
    while (!s_all_connected ()) {
        if (colo_clock_mono_ms () >= deadline) {
            for (int i = 0; i < s_port_count; i++)
                if (!colo_port_connected (s_ports[i].port))
                    fprintf (stderr, "qframes: %s: not connected\n", s_ports[i].uri);
            rc = 1;
            break;
        }
        s_wait (20);
    }
    for (int s = 0; s <= step && rc == 0; s++)
        if (s_run_step (s, wait_files[s], mark_files[s], timeout_ms) != 0)
            rc = 1;
    for (int i = 0; i < s_action_count; i++) {
        s_action_t *a = &s_actions[i];
        if (a->out)
            fclose (a->out);
        for (long k = a->next; k < a->n; k++)
            colo_buf_destroy (&a->bufs[k]);
        free (a->bufs);
    }
    for (int i = s_port_count - 1; i >= 0; i--)
        colo_port_destroy (&s_ports[i].port);
    return rc;
}

//  ---------------------------------------------------------------- hmp

//  Read from fd until the HMP prompt; the text goes to out (cap bytes).
static int
s_hmp_read (int fd, char *out, size_t cap, uint64_t deadline)
{
    size_t len = 0;
    out[0] = 0;
    while (!strstr (out, "(qemu) ")) {
        int left = (int) (deadline - colo_clock_mono_ms ());
        if (left <= 0)
            return -1;
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll (&pfd, 1, left) <= 0)
            continue;
        if (len + 1 >= cap)
            len = 0;  //  keep the tail only
        ssize_t n = read (fd, out + len, cap - len - 1);
        if (n <= 0)
            return -1;
        len += (size_t) n;
        out[len] = 0;
    }
    return 0;
}

//  Run HMP commands on a monitor unix socket; fail if one prints "Error".
static int
s_hmp (const char *path, int count, char **cmds)
{
    int fd = socket (AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun;
    memset (&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    snprintf (sun.sun_path, sizeof sun.sun_path, "%s", path);
    if (fd < 0 || connect (fd, (struct sockaddr *) &sun, sizeof sun) != 0) {
        perror (path);
        return 1;
    }
    static char text[65536];
    uint64_t deadline = colo_clock_mono_ms () + 10000;
    int rc = s_hmp_read (fd, text, sizeof text, deadline);
    for (int i = 0; i < count && rc == 0; i++) {
        size_t len = strlen (cmds[i]);
        if (write (fd, cmds[i], len) != (ssize_t) len || write (fd, "\n", 1) != 1
            || s_hmp_read (fd, text, sizeof text, deadline) != 0) {
            fprintf (stderr, "qframes: hmp %s: no answer to '%s'\n", path, cmds[i]);
            rc = -1;
        }
        else if (strstr (text, "Error")) {
            fprintf (stderr, "qframes: hmp '%s': %s\n", cmds[i], text);
            rc = -1;
        }
    }
    close (fd);
    return rc == 0 ? 0 : 1;
}

int
main (int argc, char **argv)
{
    colo_log_set_ident ("qframes");
    colo_log_set_level (COLO_LOG_WARN);
    if (argc == 5 && strcmp (argv[1], "gen") == 0)
        return s_gen (atol (argv[2]), strtoul (argv[3], NULL, 10), argv[4]);
    if (argc >= 4 && strcmp (argv[1], "hmp") == 0)
        return s_hmp (argv[2], argc - 3, argv + 3);
    if (argc == 2 && strcmp (argv[1], "port") == 0)
        return s_free_port ();
    if (argc >= 2 && strcmp (argv[1], "run") == 0)
        return s_run (argc - 2, argv + 2);
    return s_usage ();
}
