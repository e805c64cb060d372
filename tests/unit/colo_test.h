/*  colo_test.h - helpers shared by the unit tests.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Tests never sleep to synchronise: they wait for a condition with a
 *  deadline, blocking in poll() on the fds that will change it.
 */
#ifndef COLO_TEST_H_INCLUDED
#define COLO_TEST_H_INCLUDED

#include <check.h>
#include <stdint.h>

#include "colo_port.h"

//  Prototypes of every suite function (X_suite for check_X.c), generated.
#define COLO_SUITE(name) Suite *name##_suite (void);
#include "suites.h"
#undef COLO_SUITE

//  Block in poll() on the ports' fds (NULL entries are skipped) for at most
//  ms milliseconds; returns when any fd is readable or time is up.
void colo_test_poll_ports (colo_port_t **ports, int n, int ms);

//  Receive exactly `want` frames from port into out[], calling recv on every
//  port in others[] (housekeeping) while waiting; gives up after ms
//  milliseconds.  Returns the number received.
int colo_test_recv_frames (colo_port_t *port, colo_buf_t **out, int want,
                           colo_port_t **others, int n_others, int ms);

//  Send all n frames through port (taking ownership of all of them),
//  pumping others[] while the port pushes back; gives up after ms
//  milliseconds.  Returns the number accepted.
int colo_test_send_all (colo_port_t *port, colo_buf_t **bufs, int n,
                        colo_port_t **others, int n_others, int ms);

//  Wait until cond_fn(arg) returns non-zero, giving the ports housekeeping
//  turns (colo_port_recv with max 0, which receives nothing) and blocking on
//  their fds in between.  Returns 1 if the condition held in time.
int colo_test_wait (int (*cond_fn) (void *arg), void *arg, colo_port_t **ports,
                    int n, int ms);

//  A frame of len bytes whose content is derived from seed (deterministic).
colo_buf_t *colo_test_frame (uint32_t len, uint32_t seed);

//  A unique name for the test's files and shm objects ("colotest-PID-N").
const char *colo_test_name (char *buf, int cap);

#endif
