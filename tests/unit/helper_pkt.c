/*  helper_pkt.c - builds literal test frames with correct checksums.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <string.h>

#include "colo_csum.h"
#include "colo_packet.h"
#include "colo_test.h"

static const uint8_t s_mac_client[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
static const uint8_t s_mac_guest[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t s_ip4_client[4] = {10, 0, 0, 1};
static const uint8_t s_ip4_guest[4] = {10, 0, 0, 2};
static const uint8_t s_ip6_client[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t s_ip6_guest[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

colo_buf_t *
colo_test_packet (const colo_test_pkt_t *spec)
{
    uint8_t frame[COLO_FRAME_MAX];
    memset (frame, 0, sizeof frame);
    size_t off = 0;
    const uint8_t *src_mac = spec->from_guest ? s_mac_guest : s_mac_client;
    const uint8_t *dst_mac = spec->from_guest ? s_mac_client : s_mac_guest;
    memcpy (frame, spec->arp_op == 1 ? (const uint8_t *) "\xff\xff\xff\xff\xff\xff" : dst_mac, 6);
    memcpy (frame + 6, src_mac, 6);
    off = 12;
    if (spec->vlan) {
        colo_put_be16 (frame + off, 0x8100);
        colo_put_be16 (frame + off + 2, spec->vlan);
        off += 4;
    }
    if (spec->arp_op) {
        colo_put_be16 (frame + off, 0x0806);
        off += 2;
        uint8_t *arp = frame + off;
        colo_put_be16 (arp, 1);
        colo_put_be16 (arp + 2, 0x0800);
        arp[4] = 6;
        arp[5] = 4;
        colo_put_be16 (arp + 6, spec->arp_op);
        memcpy (arp + 8, src_mac, 6);
        memcpy (arp + 14, spec->from_guest ? s_ip4_guest : s_ip4_client, 4);
        if (spec->arp_op == 2)
            memcpy (arp + 18, dst_mac, 6);
        memcpy (arp + 24, spec->from_guest ? s_ip4_client : s_ip4_guest, 4);
        off += 28;
    }
    else {
        colo_put_be16 (frame + off, spec->v6 ? 0x86dd : 0x0800);
        off += 2;
        uint8_t proto = spec->proto ? spec->proto : 6;
        size_t opts_len = 0;
        if (proto == 6 && spec->tcp_opts && spec->tcp_opts_len <= 40)
            opts_len = (spec->tcp_opts_len + 3) & ~(size_t) 3;
        size_t l4_hdr = proto == 6 ? 20 + opts_len : 8;
        size_t l4_len = l4_hdr + spec->len;
        uint8_t *ip = frame + off;
        size_t ip_hdr = spec->v6 ? 40 : 20;
        if (spec->v6) {
            ip[0] = 0x60;
            colo_put_be16 (ip + 4, (uint16_t) l4_len);
            ip[6] = proto;
            ip[7] = spec->ttl ? spec->ttl : 64;
            memcpy (ip + 8, spec->from_guest ? s_ip6_guest : s_ip6_client, 16);
            memcpy (ip + 24, spec->from_guest ? s_ip6_client : s_ip6_guest, 16);
        }
        else {
            ip[0] = 0x45;
            colo_put_be16 (ip + 2, (uint16_t) (ip_hdr + l4_len));
            colo_put_be16 (ip + 4, spec->ipid);
            ip[6] = 0x40;   //  DF
            ip[8] = spec->ttl ? spec->ttl : 64;
            ip[9] = proto;
            memcpy (ip + 12, spec->from_guest ? s_ip4_guest : s_ip4_client, 4);
            memcpy (ip + 16, spec->from_guest ? s_ip4_client : s_ip4_guest, 4);
        }
        uint8_t *l4 = ip + ip_hdr;
        if (proto == 6) {
            colo_put_be16 (l4, spec->sport);
            colo_put_be16 (l4 + 2, spec->dport);
            colo_put_be32 (l4 + 4, spec->seq);
            colo_put_be32 (l4 + 8, spec->ack);
            l4[12] = (uint8_t) ((l4_hdr / 4) << 4);
            if (opts_len)
                memcpy (l4 + 20, spec->tcp_opts, spec->tcp_opts_len);
            l4[13] = spec->flags;
            colo_put_be16 (l4 + 14, spec->window ? spec->window : 65535);
        }
        else if (proto == 17) {
            colo_put_be16 (l4, spec->sport);
            colo_put_be16 (l4 + 2, spec->dport);
            colo_put_be16 (l4 + 4, (uint16_t) l4_len);
        }
        else {
            l4[0] = spec->icmp_type ? spec->icmp_type : (proto == 58 ? 128 : 8);
            colo_put_be16 (l4 + 4, spec->icmp_id);
            colo_put_be16 (l4 + 6, spec->icmp_seq);
        }
        if (spec->len)
            memcpy (l4 + l4_hdr, spec->payload, spec->len);
        off += ip_hdr + l4_len;
    }
    size_t len = off < spec->pad_to ? spec->pad_to : off;
    colo_packet_t pkt;
    if (colo_packet_decode (&pkt, frame, len, NULL) == COLO_PKT_OK && !spec->arp_op)
        colo_csum_fix (&pkt, frame);
    colo_buf_t *buf = colo_buf_new (spec->vnet_hdr_len + len);
    memset (buf->data, 0, spec->vnet_hdr_len);
    memcpy (buf->data + spec->vnet_hdr_len, frame, len);
    buf->len = (uint32_t) (spec->vnet_hdr_len + len);
    buf->vnet_hdr_len = spec->vnet_hdr_len;
    return buf;
}
