/*  transport.c - frames/s through shm, zmq+ipc and zmq+tcp ports, side by side.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Usage: transport [--frames N] [--burst B] [--json]
 *  For each frame size (64, 512, 1500 bytes) and each transport, a producer
 *  thread sends N frames through colo_port_send and a consumer thread takes
 *  them with colo_port_recv, checking count and order (zmq+ipc-1 is zmq+ipc
 *  with one frame per message, to show what batching buys); the figure is frames
 *  per second over the consumer's wall time.  zmq+ipc is the baseline: the
 *  ratio shm / zmq+ipc is printed for each size.  Allocation of every frame
 *  (producer) and its free (consumer) are inside the measurement, as in a
 *  real service.
 */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "colo_log.h"
#include "colo_port.h"
#include "colo_ring.h"

#define S_BURST_MAX 256

typedef struct {
    const char *tx_uri;
    const char *rx_uri;
    uint32_t frame_len;
    uint64_t frames;
    int burst;
    //  results
    uint64_t received;
    uint64_t out_of_order;
    double seconds;
    int failed;
    //  start-up handshake
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int rx_ready;
} s_run_t;

static void
s_wait_fd (colo_port_t *port, int ms)
{
    struct pollfd pfd = {colo_port_fd (port), POLLIN, 0};
    poll (&pfd, 1, ms);
}

static void *
s_producer (void *arg)
{
    s_run_t *run = (s_run_t *) arg;
    pthread_mutex_lock (&run->lock);
    while (!run->rx_ready)
        pthread_cond_wait (&run->cond, &run->lock);
    pthread_mutex_unlock (&run->lock);
    colo_port_t *tx = colo_port_new (run->tx_uri, COLO_PORT_TX);
    if (!tx) {
        run->failed = 1;
        return NULL;
    }
    colo_buf_t *bufs[S_BURST_MAX];
    int have = 0;
    uint64_t seq = 0;
    while (seq < run->frames || have > 0) {
        while (have < run->burst && seq < run->frames) {
            colo_buf_t *buf = colo_buf_new (run->frame_len);
            memset (buf->data, 0x5a, run->frame_len);
            buf->len = run->frame_len;
            buf->seq = ++seq;
            bufs[have++] = buf;
        }
        int sent = colo_port_send (tx, bufs, have);
        if (sent < 0) {
            run->failed = 1;
            break;
        }
        if (sent < have) {
            memmove (bufs, bufs + sent, sizeof (bufs[0]) * (size_t) (have - sent));
            have -= sent;
            colo_port_recv (tx, NULL, 0);
            s_wait_fd (tx, 1);
        }
        else
            have = 0;
    }
    //  Let stream transports flush what they hold before closing.
    for (int i = 0; i < 10000 && colo_port_pending (tx) > 0; i++) {
        colo_port_recv (tx, NULL, 0);
        s_wait_fd (tx, 1);
    }
    colo_buf_destroy_array (bufs, have);
    colo_port_destroy (&tx);
    return NULL;
}

static void *
s_consumer (void *arg)
{
    s_run_t *run = (s_run_t *) arg;
    colo_port_t *rx = colo_port_new (run->rx_uri, COLO_PORT_RX);
    pthread_mutex_lock (&run->lock);
    run->rx_ready = 1;
    if (!rx)
        run->failed = 1;
    pthread_cond_signal (&run->cond);
    pthread_mutex_unlock (&run->lock);
    if (!rx)
        return NULL;
    colo_buf_t *bufs[S_BURST_MAX];
    uint64_t expect = 1;
    uint64_t start = 0;
    uint64_t idle_since = colo_clock_mono_ms ();
    while (run->received < run->frames) {
        int n = colo_port_recv (rx, bufs, run->burst);
        if (n > 0) {
            if (!start)
                start = colo_clock_mono_ns ();
            for (int i = 0; i < n; i++) {
                if (bufs[i]->seq != expect)
                    run->out_of_order++;
                expect = bufs[i]->seq + 1;
                colo_buf_destroy (&bufs[i]);
            }
            run->received += (uint64_t) n;
            idle_since = colo_clock_mono_ms ();
        }
        else {
            if (colo_clock_mono_ms () - idle_since > 10000) {
                run->failed = 1;   //  nothing for 10 s: give up
                break;
            }
            s_wait_fd (rx, 5);
        }
    }
    uint64_t end = colo_clock_mono_ns ();
    run->seconds = start ? (double) (end - start) / 1e9 : 0;
    colo_port_destroy (&rx);
    return NULL;
}

static int
s_run (s_run_t *run)
{
    pthread_mutex_init (&run->lock, NULL);
    pthread_cond_init (&run->cond, NULL);
    pthread_t prod, cons;
    pthread_create (&cons, NULL, s_consumer, run);
    pthread_create (&prod, NULL, s_producer, run);
    pthread_join (prod, NULL);
    pthread_join (cons, NULL);
    pthread_mutex_destroy (&run->lock);
    pthread_cond_destroy (&run->cond);
    return run->failed || run->received != run->frames || run->out_of_order ? -1 : 0;
}

int
main (int argc, char **argv)
{
    uint64_t frames = 2000000;
    int burst = 32;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "--frames") == 0 && i + 1 < argc)
            frames = strtoull (argv[++i], NULL, 10);
        else if (strcmp (argv[i], "--burst") == 0 && i + 1 < argc)
            burst = atoi (argv[++i]);
        else if (strcmp (argv[i], "--json") == 0)
            json = 1;
        else {
            fprintf (stderr, "usage: transport [--frames N] [--burst B] [--json]\n");
            return 2;
        }
    }
    if (burst < 1 || burst > S_BURST_MAX || frames == 0) {
        fprintf (stderr, "transport: --burst 1..%d, --frames > 0\n", S_BURST_MAX);
        return 2;
    }
    colo_log_set_level (COLO_LOG_WARN);
    char shm_name[64], ipc_path[128], shm_uri[96], ipc_tx[160], ipc_rx[160];
    snprintf (shm_name, sizeof shm_name, "bench-transport-%d", (int) getpid ());
    snprintf (shm_uri, sizeof shm_uri, "shm:%s,size=16M", shm_name);
    snprintf (ipc_path, sizeof ipc_path, "/tmp/colonet-bench-%d.ipc", (int) getpid ());
    snprintf (ipc_tx, sizeof ipc_tx, "zmq+ipc://%s", ipc_path);
    snprintf (ipc_rx, sizeof ipc_rx, "zmq+ipc://%s,bind", ipc_path);
    int tcp_port = 20000 + (int) (getpid () % 20000);
    char tcp_tx[96], tcp_rx[96], one_tx[200], one_rx[200];
    //  Also zmq+ipc with one frame per message, to show what batching buys.
    snprintf (one_tx, sizeof one_tx, "zmq+ipc://%s.1,batch=1", ipc_path);
    snprintf (one_rx, sizeof one_rx, "zmq+ipc://%s.1,bind", ipc_path);
    snprintf (tcp_tx, sizeof tcp_tx, "zmq+tcp://127.0.0.1:%d", tcp_port);
    snprintf (tcp_rx, sizeof tcp_rx, "zmq+tcp://127.0.0.1:%d,bind", tcp_port);

    static const uint32_t sizes[] = {64, 512, 1500};
    const char *names[] = {"shm", "zmq+ipc", "zmq+tcp", "zmq+ipc-1"};
    const char *tx_uris[] = {shm_uri, ipc_tx, tcp_tx, one_tx};
    const char *rx_uris[] = {shm_uri, ipc_rx, tcp_rx, one_rx};
    enum { S_T = 4 };
    double fps[3][S_T];
    int rc = 0;
    if (!json)
        printf ("transport: %llu frames per run, burst %d\n",
                (unsigned long long) frames, burst);
    for (int s = 0; s < 3; s++) {
        for (int t = 0; t < S_T; t++) {
            s_run_t run;
            memset (&run, 0, sizeof run);
            run.tx_uri = tx_uris[t];
            run.rx_uri = rx_uris[t];
            run.frame_len = sizes[s];
            run.frames = frames;
            run.burst = burst;
            if (s_run (&run) != 0) {
                fprintf (stderr, "transport: %s %u bytes failed (%llu of %llu received, "
                                 "%llu out of order)\n",
                         names[t], sizes[s], (unsigned long long) run.received,
                         (unsigned long long) frames,
                         (unsigned long long) run.out_of_order);
                rc = 1;
                fps[s][t] = 0;
            }
            else
                fps[s][t] = run.seconds > 0 ? (double) frames / run.seconds : 0;
            if (t == 0)
                colo_ring_unlink (shm_name);
            if (!json)
                printf ("  %5u bytes  %-8s %12.0f frames/s  %8.1f MB/s\n", sizes[s],
                        names[t], fps[s][t], fps[s][t] * sizes[s] / 1e6);
        }
        if (!json)
            printf ("  %5u bytes  ratio shm / zmq+ipc = %.2f  (shm / zmq+ipc one frame per "
                    "message = %.2f)\n",
                    sizes[s], fps[s][1] > 0 ? fps[s][0] / fps[s][1] : 0,
                    fps[s][3] > 0 ? fps[s][0] / fps[s][3] : 0);
    }
    unlink (ipc_path);
    char one_path[160];
    snprintf (one_path, sizeof one_path, "%s.1", ipc_path);
    unlink (one_path);
    if (json) {
        printf ("{\"benchmark\":\"transport\",\"frames\":%llu,\"burst\":%d,\"results\":[",
                (unsigned long long) frames, burst);
        for (int s = 0; s < 3; s++) {
            printf ("%s{\"size\":%u", s ? "," : "", sizes[s]);
            for (int t = 0; t < S_T; t++)
                printf (",\"%s_fps\":%.0f", names[t], fps[s][t]);
            printf (",\"ratio_shm_zmq_ipc\":%.3f,\"ratio_shm_zmq_tcp\":%.3f,"
                    "\"ratio_shm_zmq_ipc_1\":%.3f}",
                    fps[s][1] > 0 ? fps[s][0] / fps[s][1] : 0,
                    fps[s][2] > 0 ? fps[s][0] / fps[s][2] : 0,
                    fps[s][3] > 0 ? fps[s][0] / fps[s][3] : 0);
        }
        printf ("],\"ok\":%s}\n", rc ? "false" : "true");
    }
    return rc;
}
