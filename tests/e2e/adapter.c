/*  adapter.c - a test hypervisor adapter: counts checkpoint requests on notify-dev and answers them.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  usage: adapter URI STATEFILE [GATEFILE]
 *
 *  Connects to colo-compare's notify-dev (URI, e.g. qemu+tcp:127.0.0.1:9010)
 *  and speaks Xen's strings: every DO_CHECKPOINT is counted, and answered
 *  with COLO_CHECKPOINT (checkpoint done).  With GATEFILE, the answer waits
 *  until that file exists (a test holds the checkpoint open while it looks
 *  at what the client received); requests that arrive meanwhile are folded
 *  into that one answer.  After every change the adapter rewrites STATEFILE
 *  (atomically, by rename) with one line:
 *
 *    connected=C requests=R answers=A
 *
 *  Runs until killed.  Exits 2 on a usage error, 1 if the port cannot be
 *  opened.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "colo_buf.h"
#include "colo_log.h"
#include "colo_notify.h"
#include "colo_port.h"

static const char *s_state_path;
static int s_connected;
static long s_requests;
static long s_answers;

static void
s_write_state (void)
{
    char tmp[4096];
    snprintf (tmp, sizeof tmp, "%s.tmp", s_state_path);
    FILE *f = fopen (tmp, "w");
    if (!f)
        return;
    fprintf (f, "connected=%d requests=%ld answers=%ld\n", s_connected, s_requests, s_answers);
    if (fclose (f) == 0)
        rename (tmp, s_state_path);
}

int
main (int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf (stderr, "usage: adapter URI STATEFILE [GATEFILE]\n");
        return 2;
    }
    colo_log_set_ident ("e2e-adapter");
    s_state_path = argv[2];
    const char *gate = argc == 4 ? argv[3] : NULL;
    colo_port_t *port = colo_port_new (argv[1], COLO_PORT_RXTX);
    if (!port)
        return 1;
    s_write_state ();

    int pending = 0;            //  a request not answered yet
    colo_buf_t *out = NULL;     //  an answer the port has not taken yet
    while (1) {
        struct pollfd pfd = {.fd = colo_port_fd (port), .events = POLLIN};
        poll (&pfd, 1, 20);
        colo_buf_t *bufs[16];
        int n;
        int changed = 0;
        while ((n = colo_port_recv (port, bufs, 16)) > 0) {
            for (int i = 0; i < n; i++) {
                colo_notify_msg_t msg =
                    colo_notify_parse (colo_buf_frame (bufs[i]), colo_buf_frame_len (bufs[i]));
                if (msg == COLO_NOTIFY_DO_CHECKPOINT) {
                    s_requests++;
                    pending = 1;
                    changed = 1;
                }
                colo_buf_destroy (&bufs[i]);
            }
            if (n < 16)
                break;
        }
        int connected = colo_port_connected (port);
        if (connected != s_connected) {
            s_connected = connected;
            changed = 1;
        }
        if (pending && !out && (!gate || access (gate, F_OK) == 0)) {
            out = colo_notify_frame (COLO_NOTIFY_CHECKPOINT);
            pending = 0;
        }
        if (out && colo_port_send (port, &out, 1) == 1) {
            s_answers++;
            changed = 1;
        }
        if (changed)
            s_write_state ();
    }
    return 0;
}
