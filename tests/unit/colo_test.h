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

//  A deterministic PRNG (xorshift64*): the next number from *state (which
//  must not start at 0).
uint64_t colo_test_rand (uint64_t *state);

//  A unique name for the test's files and shm objects ("colotest-PID-N").
const char *colo_test_name (char *buf, int cap);

//  What colo_test_packet builds: Ethernet [+ VLAN] + IPv4/IPv6 + TCP/UDP/
//  ICMP/ICMPv6 (or ARP when arp_op is set), checksums filled in.  Addresses
//  are the test client (10.0.0.1 / fd00::1) and guest (10.0.0.2 / fd00::2);
//  from_guest picks the direction.  Zero fields take sensible defaults.
typedef struct {
    int v6;
    uint16_t vlan;            //  802.1Q VLAN id, 0 = untagged
    uint8_t proto;            //  6, 17, 1 or 58
    int from_guest;           //  1: guest -> client
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;            //  TCP flags
    uint16_t window;
    uint8_t icmp_type;
    uint16_t icmp_id, icmp_seq;
    const void *payload;
    size_t len;
    uint16_t ipid;
    uint8_t ttl;
    size_t pad_to;            //  pad the frame with zeros to this length
    uint16_t vnet_hdr_len;    //  put a zeroed vnet header of this size in front
    uint16_t arp_op;          //  build an ARP frame instead
    const void *tcp_opts;     //  TCP option bytes after the 20-byte header
    size_t tcp_opts_len;      //  padded with zeros (EOL) to a multiple of 4, <= 40
} colo_test_pkt_t;

colo_buf_t *colo_test_packet (const colo_test_pkt_t *spec);

#endif
