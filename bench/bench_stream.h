/*  bench_stream.h - the stream bench/compare and bench/engine run.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Guest -> client frames over bench_conns flows (BENCH_CONNS unless set
 *  before the stream is built), one segment of each in turn, payloads of
 *  64, 512 and 1460 bytes in turn, each record in QEMU framing; primary
 *  and secondary send the same bytes.  Flow c is guest port 80 to client
 *  port 40000 + c % 20000 at 10.0.0.1 + 256 * (c / 20000) (fd00::1 +
 *  256 * (c / 20000) over IPv6).  bench_shape (set before the first frame is
 *  encoded) chooses what they carry: TCP segments over IPv4 (the default),
 *  over IPv6, or over IPv4 in an 802.1Q tag, or UDP datagrams over IPv4.
 *  With bench_timestamps set, every TCP segment carries NOP NOP TS, the
 *  options of a Linux TCP segment once the handshake is done: 12 bytes
 *  more of TCP header.  The payload starts at bench_payload_off ().
 */
#ifndef BENCH_STREAM_H_INCLUDED
#define BENCH_STREAM_H_INCLUDED

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "colo_csum.h"
#include "colo_packet.h"

#define BENCH_CONNS 16
#define BENCH_CONNS_MAX 4000000
#define BENCH_PORTS 20000  //  client ports per client address
#define BENCH_TS_LEN 12  //  NOP NOP TS

typedef enum { BENCH_TCP4, BENCH_TCP6, BENCH_VLAN, BENCH_UDP4, BENCH_SHAPES } bench_shape_t;
static const char *const bench_shape_names[BENCH_SHAPES] = {"tcp4", "tcp6", "vlan", "udp4"};

static int bench_timestamps;
static uint32_t bench_conns = BENCH_CONNS;
static bench_shape_t bench_shape = BENCH_TCP4;

//  The shape called name; -1 if none is.
static inline int
bench_shape_parse (const char *name)
{
    for (int k = 0; k < BENCH_SHAPES; k++)
        if (strcmp (name, bench_shape_names[k]) == 0)
            return k;
    return -1;
}

static inline uint32_t
bench_l3_off (void)
{
    return bench_shape == BENCH_VLAN ? 18 : 14;
}

static inline uint32_t
bench_l4_off (void)
{
    return bench_l3_off () + (bench_shape == BENCH_TCP6 ? 40 : 20);
}

static inline uint32_t
bench_payload_off (void)
{
    if (bench_shape == BENCH_UDP4)
        return bench_l4_off () + 8;
    return bench_l4_off () + 20 + (bench_timestamps ? BENCH_TS_LEN : 0);
}

//  "TCP segments over IPv4" and so on, for a report.
static inline const char *
bench_shape_desc (void)
{
    static const char *const desc[BENCH_SHAPES] = {
        "TCP segments over IPv4", "TCP segments over IPv6",
        "TCP segments over IPv4 in a VLAN tag", "UDP datagrams over IPv4"};
    return desc[bench_shape];
}

static const uint32_t bench_sizes[3] = {64, 512, 1460};

//  Records in QEMU framing: a big-endian length, then the frame.
typedef struct {
    uint8_t *data;
    uint64_t *off;  //  off[i]: start of record i; off[n]: end
    uint64_t n;
} bench_stream_t;

//  One guest -> client segment into out (a record) to client_port at client
//  address group client_group (see above); returns its size.
static size_t
bench_encode (uint8_t *out, uint16_t client_port, uint32_t client_group, uint32_t seq,
              uint32_t index, uint32_t payload_len)
{
    static const uint8_t mac_client[6] = {0x02, 0, 0, 0, 0, 1};
    static const uint8_t mac_guest[6] = {0x52, 0x54, 0, 0x12, 0x34, 0x56};
    uint8_t *f = out + 4;
    uint32_t off = bench_payload_off ();
    uint32_t len = off + payload_len;
    uint32_t l3 = bench_l3_off (), l4 = bench_l4_off ();
    memset (f, 0, off);
    memcpy (f, mac_client, 6);
    memcpy (f + 6, mac_guest, 6);
    if (bench_shape == BENCH_VLAN) {
        colo_put_be16 (f + 12, 0x8100);
        colo_put_be16 (f + 14, 100);  //  VLAN 100
    }
    uint8_t proto = bench_shape == BENCH_UDP4 ? 17 : 6;
    uint8_t *ip = f + l3;
    if (bench_shape == BENCH_TCP6) {
        colo_put_be16 (ip - 2, 0x86dd);
        ip[0] = 0x60;
        colo_put_be16 (ip + 4, (uint16_t)(len - l4));
        ip[6] = proto;
        ip[7] = 64;
        ip[8] = ip[24] = 0xfd;  //  fd00::2 -> fd00::1
        ip[23] = 2;
        colo_put_be32 (ip + 36, client_group << 8 | 1);
    }
    else {
        colo_put_be16 (ip - 2, 0x0800);
        ip[0] = 0x45;
        colo_put_be16 (ip + 2, (uint16_t)(len - l3));
        colo_put_be16 (ip + 4, (uint16_t)index);
        ip[6] = 0x40;
        ip[8] = 64;
        ip[9] = proto;
        memcpy (ip + 12, "\x0a\x00\x00\x02", 4);
        colo_put_be32 (ip + 16, 0x0a000001u + (client_group << 8));
    }
    uint8_t *l4h = f + l4;
    if (bench_shape == BENCH_UDP4) {
        colo_put_be16 (l4h, 5353);
        colo_put_be16 (l4h + 2, client_port);
        colo_put_be16 (l4h + 4, (uint16_t)(len - l4));
        colo_put_be16 (l4h + 6, 0xffff);  //  computed below
    }
    else {
        colo_put_be16 (l4h, 80);
        colo_put_be16 (l4h + 2, client_port);
        colo_put_be32 (l4h + 4, seq);
        colo_put_be32 (l4h + 8, 5001);
        l4h[12] = (uint8_t)(((off - l4) / 4) << 4);
        l4h[13] = COLO_TCP_ACK | COLO_TCP_PSH;
        colo_put_be16 (l4h + 14, 65535);
        if (bench_timestamps) {
            static const uint8_t ts[4] = {1, 1, 8, 10};
            memcpy (l4h + 20, ts, 4);
            colo_put_be32 (l4h + 24, 100000u + index);  //  TSval
            colo_put_be32 (l4h + 28, 4242u);  //  TSecr
        }
    }
    uint8_t *payload = f + off;
    colo_put_be32 (payload, index);
    for (uint32_t k = 4; k < payload_len; k++)
        payload[k] = (uint8_t)(index * 31 + k);
    colo_packet_t pkt;
    if (colo_packet_decode (&pkt, f, len, NULL) == COLO_PKT_OK)
        colo_csum_fix (&pkt, f);
    colo_put_be32 (out, len);
    return 4 + len;
}

static int
bench_stream_build (bench_stream_t *s, uint64_t n)
{
    s->n = n;
    s->off = (uint64_t *)malloc ((n + 1) * sizeof (uint64_t));
    uint64_t bytes = 0;
    for (uint64_t i = 0; i < n; i++)
        bytes += 4 + bench_payload_off () + bench_sizes[i % 3];
    s->data = (uint8_t *)malloc (bytes);
    if (!s->off || !s->data)
        return -1;
    uint32_t *seq = (uint32_t *)malloc (bench_conns * sizeof (uint32_t));
    if (!seq)
        return -1;
    for (uint32_t c = 0; c < bench_conns; c++)
        seq[c] = 1000000u + 7919u * c;
    uint64_t at = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint32_t c = (uint32_t)(i % bench_conns);
        uint32_t size = bench_sizes[i % 3];
        s->off[i] = at;
        at += bench_encode (s->data + at, (uint16_t)(40000 + c % BENCH_PORTS),
                            c / BENCH_PORTS, seq[c], (uint32_t)i, size);
        seq[c] += size;
    }
    s->off[n] = at;
    free (seq);
    return 0;
}

#endif
