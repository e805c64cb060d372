/*  bench_stream.h - the TCP stream bench/compare and bench/engine run.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Guest -> client segments over BENCH_CONNS connections, payloads of 64,
 *  512 and 1460 bytes in turn, each record in QEMU framing; primary and
 *  secondary send the same bytes.  With bench_timestamps set (before the
 *  first segment is encoded), every segment carries NOP NOP TS, the options
 *  of a Linux TCP segment once the handshake is done: 12 bytes more of TCP
 *  header, the payload at bench_payload_off ().
 */
#ifndef BENCH_STREAM_H_INCLUDED
#define BENCH_STREAM_H_INCLUDED

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "colo_csum.h"
#include "colo_packet.h"

#define BENCH_CONNS 16
#define BENCH_PAYLOAD_OFF 54  //  Ethernet + IPv4 + TCP, no options
#define BENCH_TS_LEN 12  //  NOP NOP TS

static int bench_timestamps;

//  Where a segment's payload starts: after its options, if any.
static inline uint32_t
bench_payload_off (void)
{
    return BENCH_PAYLOAD_OFF + (bench_timestamps ? BENCH_TS_LEN : 0);
}

static const uint32_t bench_sizes[3] = {64, 512, 1460};

//  Records in QEMU framing: a big-endian length, then the frame.
typedef struct {
    uint8_t *data;
    uint64_t *off;  //  off[i]: start of record i; off[n]: end
    uint64_t n;
} bench_stream_t;

//  One guest -> client segment into out (a record); returns its size.
static size_t
bench_encode (uint8_t *out, uint16_t client_port, uint32_t seq, uint32_t index,
              uint32_t payload_len)
{
    static const uint8_t mac_client[6] = {0x02, 0, 0, 0, 0, 1};
    static const uint8_t mac_guest[6] = {0x52, 0x54, 0, 0x12, 0x34, 0x56};
    uint8_t *f = out + 4;
    uint32_t off = bench_payload_off ();
    uint32_t len = off + payload_len;
    memset (f, 0, off);
    memcpy (f, mac_client, 6);
    memcpy (f + 6, mac_guest, 6);
    colo_put_be16 (f + 12, 0x0800);
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    colo_put_be16 (ip + 2, (uint16_t)(len - 14));
    colo_put_be16 (ip + 4, (uint16_t)index);
    ip[6] = 0x40;
    ip[8] = 64;
    ip[9] = 6;
    memcpy (ip + 12, "\x0a\x00\x00\x02", 4);
    memcpy (ip + 16, "\x0a\x00\x00\x01", 4);
    uint8_t *tcp = ip + 20;
    colo_put_be16 (tcp, 80);
    colo_put_be16 (tcp + 2, client_port);
    colo_put_be32 (tcp + 4, seq);
    colo_put_be32 (tcp + 8, 5001);
    tcp[12] = (uint8_t)(((off - 34) / 4) << 4);
    tcp[13] = COLO_TCP_ACK | COLO_TCP_PSH;
    colo_put_be16 (tcp + 14, 65535);
    if (bench_timestamps) {
        static const uint8_t ts[4] = {1, 1, 8, 10};
        memcpy (tcp + 20, ts, 4);
        colo_put_be32 (tcp + 24, 100000u + index);  //  TSval
        colo_put_be32 (tcp + 28, 4242u);  //  TSecr
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

//  n segments round-robin over the connections, payload sizes in turn;
//  every connection's sequence numbers run on from one segment to the next.
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
    uint32_t seq[BENCH_CONNS];
    for (int c = 0; c < BENCH_CONNS; c++)
        seq[c] = 1000000u + 7919u * (uint32_t)c;
    uint64_t at = 0;
    for (uint64_t i = 0; i < n; i++) {
        int c = (int)(i % BENCH_CONNS);
        uint32_t size = bench_sizes[i % 3];
        s->off[i] = at;
        at += bench_encode (s->data + at, (uint16_t)(40000 + c), seq[c], (uint32_t)i, size);
        seq[c] += size;
    }
    s->off[n] = at;
    return 0;
}

#endif
