/*  colo_packet.c - the one packet decoder and the normalized flow key.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Every read is preceded by a length check against the end of the layer
 *  that contains it (frame end for L2/L3 headers, l3_end for everything
 *  inside the IP packet).  Offsets are uint32_t; the frame length is capped
 *  at 2^32-1 so no offset arithmetic can wrap.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "colo_csum.h"
#include "colo_packet.h"

const char *const colo_packet_counter_names[COLO_PKT_COUNTER_COUNT] = {
    [COLO_PKT_OK] = "ok",
    [COLO_PKT_INFO_FRAGMENT] = "fragment",
    [COLO_PKT_INFO_PADDING] = "padding",
    [COLO_PKT_INFO_BAD_IP_OPTION] = "bad_ip_option",
    [COLO_PKT_INFO_BAD_TCP_OPTION] = "bad_tcp_option",
    [COLO_PKT_ERR_RUNT] = "runt",
    [COLO_PKT_ERR_VLAN_TRUNCATED] = "vlan_truncated",
    [COLO_PKT_ERR_VLAN_TOO_DEEP] = "vlan_too_deep",
    [COLO_PKT_ERR_ARP_TRUNCATED] = "arp_truncated",
    [COLO_PKT_ERR_IPV4_TRUNCATED] = "ipv4_truncated",
    [COLO_PKT_ERR_IPV4_BAD_VERSION] = "ipv4_bad_version",
    [COLO_PKT_ERR_IPV4_BAD_IHL] = "ipv4_bad_ihl",
    [COLO_PKT_ERR_IPV4_BAD_LENGTH] = "ipv4_bad_length",
    [COLO_PKT_ERR_IPV4_LENGTH_EXCEEDS_FRAME] = "ipv4_length_exceeds_frame",
    [COLO_PKT_ERR_IPV6_TRUNCATED] = "ipv6_truncated",
    [COLO_PKT_ERR_IPV6_BAD_VERSION] = "ipv6_bad_version",
    [COLO_PKT_ERR_IPV6_LENGTH_EXCEEDS_FRAME] = "ipv6_length_exceeds_frame",
    [COLO_PKT_ERR_IPV6_EXT_TRUNCATED] = "ipv6_ext_truncated",
    [COLO_PKT_ERR_IPV6_EXT_TOO_MANY] = "ipv6_ext_too_many",
    [COLO_PKT_ERR_TCP_TRUNCATED] = "tcp_truncated",
    [COLO_PKT_ERR_TCP_BAD_OFFSET] = "tcp_bad_offset",
    [COLO_PKT_ERR_UDP_TRUNCATED] = "udp_truncated",
    [COLO_PKT_ERR_UDP_BAD_LENGTH] = "udp_bad_length",
    [COLO_PKT_ERR_ICMP_TRUNCATED] = "icmp_truncated",
    [COLO_PKT_ERR_ICMPV6_TRUNCATED] = "icmpv6_truncated",
};

#define S_INFO(code) ((uint8_t) (1u << (code)))

//  IPv6 extension header numbers we walk.
#define S_IP6_HOPOPTS 0
#define S_IP6_ROUTING 43
#define S_IP6_FRAGMENT 44
#define S_IP6_ESP 50
#define S_IP6_AH 51
#define S_IP6_NONE 59
#define S_IP6_DSTOPTS 60
#define S_IP6_MOBILITY 135
#define S_IP6_HIP 139
#define S_IP6_SHIM6 140

//  TCP option kinds we read.
#define S_TCPOPT_EOL 0
#define S_TCPOPT_NOP 1
#define S_TCPOPT_MSS 2
#define S_TCPOPT_WSCALE 3
#define S_TCPOPT_SACK_PERM 4
#define S_TCPOPT_SACK 5
#define S_TCPOPT_TS 8

//  Walk the IPv4 option list: 0 if every option is well formed (type-length
//  with 2 <= length <= what is left; EOL ends the list), -1 otherwise.
static int
s_ipv4_options_ok (const uint8_t *opt, uint32_t len)
{
    uint32_t off = 0;
    while (off < len) {
        uint8_t type = opt[off];
        if (type == 0)
            return 0;
        if (type == 1) {
            off++;
            continue;
        }
        if (len - off < 2)
            return -1;
        uint32_t olen = opt[off + 1];
        if (olen < 2 || olen > len - off)
            return -1;
        off += olen;
    }
    return 0;
}

//  Read the TCP options in frame[off..end).  Malformed options set the
//  informational flag; the packet still decodes.
static void
s_tcp_options (colo_packet_t *pkt, const uint8_t *frame, uint32_t off,
               uint32_t end)
{
    while (off < end) {
        const uint8_t *o = frame + off;
        uint8_t kind = o[0];
        if (kind == S_TCPOPT_EOL)
            return;
        if (kind == S_TCPOPT_NOP) {
            off++;
            continue;
        }
        if (end - off < 2 || o[1] < 2 || o[1] > end - off) {
            pkt->info |= S_INFO (COLO_PKT_INFO_BAD_TCP_OPTION);
            return;
        }
        uint32_t olen = o[1];
        int bad = 0;
        switch (kind) {
            case S_TCPOPT_MSS:
                if (olen == 4)
                    pkt->tcp_mss = colo_get_be16 (o + 2);
                else
                    bad = 1;
                break;
            case S_TCPOPT_WSCALE:
                if (olen == 3)
                    pkt->tcp_wscale = o[2];
                else
                    bad = 1;
                break;
            case S_TCPOPT_SACK_PERM:
                if (olen == 2)
                    pkt->tcp_sack_permitted = 1;
                else
                    bad = 1;
                break;
            case S_TCPOPT_SACK:
                if (olen >= 10 && (olen - 2) % 8 == 0
                    && (olen - 2) / 8 <= COLO_TCP_SACK_MAX) {
                    uint32_t n = (olen - 2) / 8;
                    for (uint32_t i = 0; i < n; i++) {
                        pkt->tcp_sack[i][0] = colo_get_be32 (o + 2 + 8 * i);
                        pkt->tcp_sack[i][1] = colo_get_be32 (o + 6 + 8 * i);
                    }
                    for (uint32_t i = n; i < pkt->tcp_sack_count; i++)
                        pkt->tcp_sack[i][0] = pkt->tcp_sack[i][1] = 0;
                    pkt->tcp_sack_count = (uint8_t) n;
                    pkt->tcp_sack_off = off + 2;
                }
                else
                    bad = 1;
                break;
            case S_TCPOPT_TS:
                if (olen == 10) {
                    pkt->tcp_has_ts = 1;
                    pkt->tcp_ts_val = colo_get_be32 (o + 2);
                    pkt->tcp_ts_ecr = colo_get_be32 (o + 6);
                    pkt->tcp_ts_off = off + 2;
                }
                else
                    bad = 1;
                break;
            default:
                break;
        }
        if (bad)
            pkt->info |= S_INFO (COLO_PKT_INFO_BAD_TCP_OPTION);
        off += olen;
    }
}

//  The TCP header at off, of doff bytes (20..avail), in avail bytes of IP
//  payload.
static inline void
s_tcp_header (colo_packet_t *pkt, const uint8_t *frame, uint32_t off, uint32_t doff,
              uint32_t avail)
{
    const uint8_t *th = frame + off;
    pkt->l4 = COLO_L4_TCP;
    pkt->l4_off = off;
    pkt->l4_hdr_len = doff;
    pkt->sport = colo_get_be16 (th);
    pkt->dport = colo_get_be16 (th + 2);
    pkt->tcp_seq = colo_get_be32 (th + 4);
    pkt->tcp_ack = colo_get_be32 (th + 8);
    pkt->tcp_flags = th[13];
    pkt->tcp_window = colo_get_be16 (th + 14);
    pkt->tcp_urg = colo_get_be16 (th + 18);
    pkt->payload_off = off + doff;
    pkt->payload_len = avail - doff;
    if (doff > 20)
        s_tcp_options (pkt, frame, off + 20, off + doff);
}

static colo_pkt_result_t
s_decode_tcp (colo_packet_t *pkt, const uint8_t *frame, uint32_t off,
              uint32_t avail)
{
    if (avail < 20)
        return COLO_PKT_ERR_TCP_TRUNCATED;
    uint32_t doff = (uint32_t) (frame[off + 12] >> 4) * 4;
    if (doff < 20 || doff > avail)
        return COLO_PKT_ERR_TCP_BAD_OFFSET;
    s_tcp_header (pkt, frame, off, doff, avail);
    return COLO_PKT_OK;
}

static colo_pkt_result_t
s_decode_udp (colo_packet_t *pkt, const uint8_t *frame, uint32_t off,
              uint32_t avail)
{
    if (avail < 8)
        return COLO_PKT_ERR_UDP_TRUNCATED;
    const uint8_t *uh = frame + off;
    uint32_t ulen = colo_get_be16 (uh + 4);
    if (ulen < 8)
        return COLO_PKT_ERR_UDP_BAD_LENGTH;
    //  A first fragment carries only part of the datagram the UDP length
    //  describes.
    if (pkt->is_fragment)
        ulen = avail;
    else if (ulen > avail)
        return COLO_PKT_ERR_UDP_BAD_LENGTH;
    pkt->l4 = COLO_L4_UDP;
    pkt->l4_hdr_len = 8;
    pkt->sport = colo_get_be16 (uh);
    pkt->dport = colo_get_be16 (uh + 2);
    pkt->payload_off = off + 8;
    pkt->payload_len = ulen - 8;
    return COLO_PKT_OK;
}

//  ICMP and ICMPv6 share a layout: type, code, checksum, then for echo
//  request/reply an identifier and a sequence number.
static colo_pkt_result_t
s_decode_icmp (colo_packet_t *pkt, const uint8_t *frame, uint32_t off,
               uint32_t avail, int v6)
{
    colo_pkt_result_t trunc
        = v6 ? COLO_PKT_ERR_ICMPV6_TRUNCATED : COLO_PKT_ERR_ICMP_TRUNCATED;
    if (avail < 4)
        return trunc;
    const uint8_t *ih = frame + off;
    uint8_t type = ih[0];
    int echo = v6 ? (type == 128 || type == 129) : (type == 0 || type == 8);
    uint32_t hdr = echo ? 8 : 4;
    if (avail < hdr)
        return trunc;
    pkt->l4 = v6 ? COLO_L4_ICMPV6 : COLO_L4_ICMP;
    pkt->l4_hdr_len = hdr;
    pkt->icmp_type = type;
    pkt->icmp_code = ih[1];
    if (echo) {
        pkt->icmp_id = colo_get_be16 (ih + 4);
        pkt->icmp_seq = colo_get_be16 (ih + 6);
    }
    pkt->payload_off = off + hdr;
    pkt->payload_len = avail - hdr;
    return COLO_PKT_OK;
}

//  Everything from off to the end of the IP packet is payload (L4 not
//  decoded, or not yet).
static inline void
s_rest_is_payload (colo_packet_t *pkt, uint32_t off)
{
    pkt->l4_off = off;
    pkt->payload_off = off;
    pkt->payload_len = pkt->l3_end - off;
}

//  L4 starts at off (ip_proto, l3_end and the fragment flags are set).  The
//  payload defaults to the rest of the IP packet, which is also what stays
//  when L4 is not decoded or fails.
static colo_pkt_result_t
s_decode_l4 (colo_packet_t *pkt, const uint8_t *frame, uint32_t off)
{
    uint32_t avail = pkt->l3_end - off;
    s_rest_is_payload (pkt, off);
    if (!pkt->is_first_fragment)
        return COLO_PKT_OK;
    switch (pkt->ip_proto) {
        case COLO_IPPROTO_TCP:
            return s_decode_tcp (pkt, frame, off, avail);
        case COLO_IPPROTO_UDP:
            return s_decode_udp (pkt, frame, off, avail);
        case COLO_IPPROTO_ICMP:
            if (pkt->l3 == COLO_L3_IPV4)
                return s_decode_icmp (pkt, frame, off, avail, 0);
            break;
        case COLO_IPPROTO_ICMPV6:
            if (pkt->l3 == COLO_L3_IPV6)
                return s_decode_icmp (pkt, frame, off, avail, 1);
            break;
        default:
            break;
    }
    pkt->l4 = COLO_L4_OTHER;
    return COLO_PKT_OK;
}

static colo_pkt_result_t
s_decode_ipv4 (colo_packet_t *pkt, const uint8_t *frame, uint32_t len)
{
    uint32_t l3 = pkt->l3_off;
    uint32_t avail = len - l3;
    if (avail < 20)
        return COLO_PKT_ERR_IPV4_TRUNCATED;
    const uint8_t *ip = frame + l3;
    if ((ip[0] >> 4) != 4)
        return COLO_PKT_ERR_IPV4_BAD_VERSION;
    uint32_t hl = (uint32_t) (ip[0] & 0x0f) * 4;
    if (hl < 20 || hl > avail)
        return COLO_PKT_ERR_IPV4_BAD_IHL;
    uint32_t tot = colo_get_be16 (ip + 2);
    if (tot < hl)
        return COLO_PKT_ERR_IPV4_BAD_LENGTH;
    if (tot > avail)
        return COLO_PKT_ERR_IPV4_LENGTH_EXCEEDS_FRAME;

    pkt->l3 = COLO_L3_IPV4;
    pkt->l3_hdr_len = hl;
    pkt->l3_end = l3 + tot;
    pkt->trailer_len = avail - tot;
    pkt->ip_tos = ip[1];
    pkt->ipv4_id = colo_get_be16 (ip + 4);
    pkt->ip_ttl = ip[8];
    pkt->ip_proto = ip[9];
    pkt->addr_len = 4;
    pkt->src_off = l3 + 12;
    pkt->dst_off = l3 + 16;
    pkt->ipv4_opts_len = hl - 20;
    if (hl > 20 && s_ipv4_options_ok (ip + 20, hl - 20) != 0)
        pkt->info |= S_INFO (COLO_PKT_INFO_BAD_IP_OPTION);
    uint16_t frag = colo_get_be16 (ip + 6);
    if (frag & 0x3fff) {   //  MF or a fragment offset
        pkt->is_fragment = 1;
        pkt->is_first_fragment = (frag & 0x1fff) == 0;
        pkt->info |= S_INFO (COLO_PKT_INFO_FRAGMENT);
    }
    return s_decode_l4 (pkt, frame, l3 + hl);
}

static colo_pkt_result_t
s_decode_ipv6 (colo_packet_t *pkt, const uint8_t *frame, uint32_t len)
{
    uint32_t l3 = pkt->l3_off;
    uint32_t avail = len - l3;
    if (avail < 40)
        return COLO_PKT_ERR_IPV6_TRUNCATED;
    const uint8_t *ip = frame + l3;
    if ((ip[0] >> 4) != 6)
        return COLO_PKT_ERR_IPV6_BAD_VERSION;
    uint32_t plen = colo_get_be16 (ip + 4);
    if (plen > avail - 40)
        return COLO_PKT_ERR_IPV6_LENGTH_EXCEEDS_FRAME;

    uint32_t word = colo_get_be32 (ip);
    pkt->l3 = COLO_L3_IPV6;
    pkt->l3_end = l3 + 40 + plen;
    pkt->trailer_len = avail - 40 - plen;
    pkt->ip_tos = (uint8_t) (word >> 20);
    pkt->ipv6_flow = word & 0xfffff;
    pkt->ip_ttl = ip[7];
    pkt->addr_len = 16;
    pkt->src_off = l3 + 8;
    pkt->dst_off = l3 + 24;

    uint8_t nh = ip[6];
    uint32_t off = l3 + 40;
    int count = 0;
    for (;;) {
        uint32_t hlen;
        switch (nh) {
            case S_IP6_HOPOPTS:
            case S_IP6_ROUTING:
            case S_IP6_DSTOPTS:
            case S_IP6_MOBILITY:
            case S_IP6_HIP:
            case S_IP6_SHIM6:
            case S_IP6_AH:
            case S_IP6_FRAGMENT:
                break;
            case S_IP6_ESP:
            case S_IP6_NONE:
                //  Nothing we can read follows.
                pkt->ip_proto = nh;
                pkt->l3_hdr_len = off - l3;
                s_rest_is_payload (pkt, off);
                return COLO_PKT_OK;
            default:
                pkt->ip_proto = nh;
                pkt->l3_hdr_len = off - l3;
                return s_decode_l4 (pkt, frame, off);
        }
        pkt->ip_proto = nh;
        pkt->l3_hdr_len = off - l3;
        s_rest_is_payload (pkt, off);   //  what stays if this header is bad
        if (count == COLO_IPV6_EXT_MAX)
            return COLO_PKT_ERR_IPV6_EXT_TOO_MANY;
        uint32_t left = pkt->l3_end - off;
        const uint8_t *x = frame + off;
        if (left < 8)   //  every extension header is at least 8 bytes
            return COLO_PKT_ERR_IPV6_EXT_TRUNCATED;
        if (nh == S_IP6_FRAGMENT)
            hlen = 8;
        else if (nh == S_IP6_AH)
            hlen = ((uint32_t) x[1] + 2) * 4;
        else
            hlen = ((uint32_t) x[1] + 1) * 8;
        if (hlen > left)
            return COLO_PKT_ERR_IPV6_EXT_TRUNCATED;
        count++;
        uint8_t cur = nh;
        nh = x[0];
        off += hlen;
        if (cur == S_IP6_FRAGMENT) {
            uint16_t fo = colo_get_be16 (x + 2);
            if (fo & 0xfff9) {   //  an offset or M set (not atomic)
                pkt->is_fragment = 1;
                pkt->is_first_fragment = (fo & 0xfff8) == 0;
                pkt->info |= S_INFO (COLO_PKT_INFO_FRAGMENT);
                if (!pkt->is_first_fragment) {
                    pkt->ip_proto = nh;
                    pkt->l3_hdr_len = off - l3;
                    return s_decode_l4 (pkt, frame, off);
                }
            }
        }
    }
}

static colo_pkt_result_t
s_decode_arp (colo_packet_t *pkt, const uint8_t *frame, uint32_t len)
{
    uint32_t l3 = pkt->l3_off;
    uint32_t avail = len - l3;
    if (avail < 8)
        return COLO_PKT_ERR_ARP_TRUNCATED;
    const uint8_t *a = frame + l3;
    uint32_t body = 8 + 2 * ((uint32_t) a[4] + a[5]);
    if (body > avail)
        return COLO_PKT_ERR_ARP_TRUNCATED;
    pkt->l3 = COLO_L3_ARP;
    pkt->arp_op = colo_get_be16 (a + 6);
    pkt->arp_eth_ipv4 = colo_get_be16 (a) == 1
                        && colo_get_be16 (a + 2) == COLO_ETHERTYPE_IPV4
                        && a[4] == 6 && a[5] == 4;
    pkt->l3_hdr_len = body;
    pkt->l3_end = l3 + body;
    pkt->trailer_len = avail - body;
    pkt->payload_off = l3 + body;
    return COLO_PKT_OK;
}

//  The shape most frames have: untagged IPv4 without options, not a
//  fragment, TCP with a sound data offset.  Returns 1 and the IP total
//  length and the TCP data offset when frame has it.
static inline int
s_plain_tcp4 (const uint8_t *frame, uint32_t len, uint32_t *tot_p, uint32_t *doff_p)
{
    uint32_t l4_len;
    if (len < 54 || frame[12] != 0x08 || frame[13] != 0x00
        || !colo_packet_x_light_tcp (frame, len, 14, 0, &l4_len, doff_p))
        return 0;
    *tot_p = l4_len + 20;
    return 1;
}

//  That shape decoded in one pass, to what the general path below makes of
//  it field for field (tests compare the two).  Returns 1 when it took the
//  frame.
static inline int
s_decode_plain_tcp4 (colo_packet_t *pkt, const uint8_t *frame, uint32_t len)
{
    uint32_t tot, doff;
    if (!s_plain_tcp4 (frame, len, &tot, &doff))
        return 0;
    const uint8_t *ip = frame + 14;
    pkt->ethertype = COLO_ETHERTYPE_IPV4;
    pkt->l3_off = 14;
    pkt->l3 = COLO_L3_IPV4;
    pkt->l3_hdr_len = 20;
    pkt->l3_end = 14 + tot;
    pkt->trailer_len = len - 14 - tot;
    pkt->ip_tos = ip[1];
    pkt->ipv4_id = colo_get_be16 (ip + 4);
    pkt->ip_ttl = ip[8];
    pkt->ip_proto = COLO_IPPROTO_TCP;
    pkt->addr_len = 4;
    pkt->src_off = 14 + 12;
    pkt->dst_off = 14 + 16;
    s_tcp_header (pkt, frame, 34, doff, tot - 20);
    if (pkt->trailer_len)
        pkt->info |= S_INFO (COLO_PKT_INFO_PADDING);
    return 1;
}

//  The fields of a TCP segment whose header (doff bytes) is at l4, in
//  l4_len bytes of IP payload; padded: bytes follow the IP packet.  (The
//  caller sets vlan and l3_off: six arguments go in registers.)
static int
s_tcp_seg (colo_tcp_seg_t *seg, const uint8_t *frame, uint32_t l4, uint32_t l4_len, uint32_t doff,
           int padded)
{
    colo_packet_x_tcp_fields (seg, frame, l4, l4_len, doff, padded);
    if (!colo_packet_x_tcp_plain_opts (frame + l4, doff)) {
        //  The option walk reads and leaves only these three fields here.
        colo_packet_t opts;
        opts.info = 0;
        opts.tcp_wscale = 0xff;
        opts.tcp_sack_count = 0;
        s_tcp_options (&opts, frame, l4 + 20, l4 + doff);
        seg->wscale = opts.tcp_wscale;
        seg->info |= opts.info;
    }
    return 1;
}

//  1 if frame (len >= 18) carries one VLAN tag, 802.1Q or 802.1ad, and
//  then ethertype type; *vlan is then the tag's VLAN id.
static inline int
s_one_tag (const uint8_t *frame, uint16_t type, uint16_t *vlan)
{
    uint16_t outer = colo_get_be16 (frame + 12);
    *vlan = colo_get_be16 (frame + 14) & 0x0fff;
    return (outer == COLO_ETHERTYPE_VLAN || outer == COLO_ETHERTYPE_QINQ)
           && colo_get_be16 (frame + 16) == type;
}

//  colo_packet_tcp4 (v6: _tcp6) with the IP header at l3, after the
//  ethertype and tag seen.
static inline __attribute__ ((always_inline)) int
s_tcp_at (colo_tcp_seg_t *seg, const uint8_t *frame, uint32_t len, uint32_t l3, uint16_t vlan,
          int v6)
{
    uint32_t l4_len, doff;
    if (!colo_packet_x_light_tcp (frame, len, l3, v6, &l4_len, &doff))
        return 0;
    uint32_t l4 = l3 + (v6 ? 40 : 20);
    seg->vlan = vlan;
    seg->l3_off = (uint8_t) l3;
    return s_tcp_seg (seg, frame, l4, l4_len, doff, len - l4 > l4_len);
}

int
colo_packet_tcp4 (colo_tcp_seg_t *seg, const uint8_t *frame, size_t len)
{
    uint16_t vlan;
    if (!frame || len > UINT32_MAX || len < 54)
        return 0;
    //  Untagged (constant offsets once inlined), or in one tag.
    if (frame[12] == 0x08 && frame[13] == 0x00)
        return s_tcp_at (seg, frame, (uint32_t) len, 14, 0, 0);
    if (s_one_tag (frame, COLO_ETHERTYPE_IPV4, &vlan))
        return s_tcp_at (seg, frame, (uint32_t) len, 18, vlan, 0);
    return 0;
}

int
colo_packet_tcp6 (colo_tcp_seg_t *seg, const uint8_t *frame, size_t len)
{
    uint16_t vlan;
    if (!frame || len > UINT32_MAX || len < 74)
        return 0;
    if (frame[12] == 0x86 && frame[13] == 0xdd)
        return s_tcp_at (seg, frame, (uint32_t) len, 14, 0, 1);
    if (s_one_tag (frame, COLO_ETHERTYPE_IPV6, &vlan))
        return s_tcp_at (seg, frame, (uint32_t) len, 18, vlan, 1);
    return 0;
}

void
colo_flow_x_key_hash_at (colo_flow_key_t *key, uint64_t *hash, const uint8_t *frame, uint32_t l3,
                         uint32_t l4, uint16_t sport, uint16_t dport, uint16_t vlan, uint8_t proto,
                         uint64_t seed)
{
    //  The addresses end where the L4 header starts: 4 or 16 bytes each.
    const uint8_t *ip = frame + l3;
    if (l4 - l3 == 20)
        colo_flow_x_build4 (key, ip + 12, ip + 16, sport, dport, vlan, proto, NULL, hash, seed);
    else
        colo_flow_x_build6 (key, ip + 8, ip + 24, sport, dport, vlan, proto, NULL, hash, seed);
}

//  colo_packet_udp with the IP header at l3, after the ethertype and tag
//  seen, IPv6 or not.
static inline __attribute__ ((always_inline)) int
s_udp_at (colo_udp_seg_t *seg, const uint8_t *frame, uint32_t len, uint32_t l3, uint16_t vlan,
          int v6)
{
    uint32_t l4_len;
    if (!colo_packet_x_light_ip (frame, len, l3, v6, COLO_IPPROTO_UDP, &l4_len) || l4_len < 8)
        return 0;
    uint32_t l4 = l3 + (v6 ? 40 : 20);
    const uint8_t *uh = frame + l4;
    uint32_t ulen = colo_get_be16 (uh + 4);
    if (ulen < 8 || ulen > l4_len)
        return 0;
    seg->sport = colo_get_be16 (uh);
    seg->dport = colo_get_be16 (uh + 2);
    seg->payload_off = l4 + 8;
    seg->payload_len = ulen - 8;
    seg->vlan = vlan;
    seg->l3_off = (uint8_t) l3;
    seg->l4_off = (uint8_t) l4;
    seg->info = len - l4 > l4_len ? S_INFO (COLO_PKT_INFO_PADDING) : 0;
    return 1;
}

int
colo_packet_udp (colo_udp_seg_t *seg, const uint8_t *frame, size_t len)
{
    uint16_t vlan;
    if (!frame || len > UINT32_MAX || len < 42)
        return 0;
    uint32_t n = (uint32_t) len;
    if (frame[12] == 0x08 && frame[13] == 0x00)
        return s_udp_at (seg, frame, n, 14, 0, 0);
    if (frame[12] == 0x86 && frame[13] == 0xdd)
        return s_udp_at (seg, frame, n, 14, 0, 1);
    if (s_one_tag (frame, COLO_ETHERTYPE_IPV4, &vlan))
        return s_udp_at (seg, frame, n, 18, vlan, 0);
    if (s_one_tag (frame, COLO_ETHERTYPE_IPV6, &vlan))
        return s_udp_at (seg, frame, n, 18, vlan, 1);
    return 0;
}

static colo_pkt_result_t
s_decode (colo_packet_t *pkt, const uint8_t *frame, uint32_t len)
{
    if (len < COLO_ETH_HLEN)
        return COLO_PKT_ERR_RUNT;
    uint32_t off = 12;   //  the ethertype or the first tag's TPID
    uint16_t type = colo_get_be16 (frame + off);
    while (type == COLO_ETHERTYPE_VLAN || type == COLO_ETHERTYPE_QINQ) {
        if (pkt->vlan_count == COLO_VLAN_MAX)
            return COLO_PKT_ERR_VLAN_TOO_DEEP;
        if (len - off < 6)   //  TPID, TCI, next type
            return COLO_PKT_ERR_VLAN_TRUNCATED;
        pkt->vlan_tpid[pkt->vlan_count] = type;
        pkt->vlan_tci[pkt->vlan_count] = colo_get_be16 (frame + off + 2);
        pkt->vlan_count++;
        off += 4;
        type = colo_get_be16 (frame + off);
    }
    pkt->ethertype = type;
    pkt->l3_off = off + 2;

    colo_pkt_result_t rc;
    switch (type) {
        case COLO_ETHERTYPE_IPV4:
            rc = s_decode_ipv4 (pkt, frame, len);
            break;
        case COLO_ETHERTYPE_IPV6:
            rc = s_decode_ipv6 (pkt, frame, len);
            break;
        case COLO_ETHERTYPE_ARP:
            rc = s_decode_arp (pkt, frame, len);
            break;
        default:
            pkt->l3 = COLO_L3_OTHER;
            pkt->l3_end = len;
            pkt->payload_off = pkt->l3_off;
            pkt->payload_len = len - pkt->l3_off;
            return COLO_PKT_OK;
    }
    if (pkt->trailer_len)
        pkt->info |= S_INFO (COLO_PKT_INFO_PADDING);
    return rc;
}

//  Zero the whole packet in one constant-size run of word stores (the
//  compiler pairs them into vector stores), cheaper than resetting the ~60
//  fields one by one per layer.  Not memset: for this size the compiler
//  emits a "rep stos", whose start-up cost was a third of the decoder's
//  time on a TCP segment.  Every store's condition is a constant.
#define S_CLEAR_MAX 256
_Static_assert (sizeof (colo_packet_t) % 4 == 0 && sizeof (colo_packet_t) <= S_CLEAR_MAX,
                "s_clear covers the packet in words");

static inline void
s_clear (colo_packet_t *pkt)
{
    unsigned char *p = (unsigned char *) pkt;
    const size_t size = sizeof *pkt;
    const uint64_t zero = 0;
    const uint32_t zero4 = 0;
#define S_CLEAR8(at)                                                                   \
    do {                                                                               \
        if ((at) + 8 <= size)                                                          \
            memcpy (p + (at), &zero, 8);                                               \
        else if ((at) + 4 <= size)                                                     \
            memcpy (p + (at), &zero4, 4);                                              \
    } while (0)
#define S_CLEAR64(at)                                                                  \
    do {                                                                               \
        S_CLEAR8 ((at) + 0);                                                           \
        S_CLEAR8 ((at) + 8);                                                           \
        S_CLEAR8 ((at) + 16);                                                          \
        S_CLEAR8 ((at) + 24);                                                          \
        S_CLEAR8 ((at) + 32);                                                          \
        S_CLEAR8 ((at) + 40);                                                          \
        S_CLEAR8 ((at) + 48);                                                          \
        S_CLEAR8 ((at) + 56);                                                          \
    } while (0)
    S_CLEAR64 (0);
    S_CLEAR64 (64);
    S_CLEAR64 (128);
    S_CLEAR64 (192);
#undef S_CLEAR64
#undef S_CLEAR8
}

//  A packet with nothing decoded yet; returns the length to decode.
static inline uint32_t
s_start (colo_packet_t *pkt, size_t len)
{
    s_clear (pkt);
    pkt->tcp_wscale = 0xff;
    pkt->is_first_fragment = 1;
    uint32_t flen = len > UINT32_MAX ? UINT32_MAX : (uint32_t) len;
    pkt->frame_len = flen;
    return flen;
}

colo_pkt_result_t
colo_packet_decode (colo_packet_t *pkt, const uint8_t *frame, size_t len,
                    uint64_t *counters)
{
    uint32_t flen = s_start (pkt, len);
    colo_pkt_result_t rc = !frame                                  ? COLO_PKT_ERR_RUNT
                           : s_decode_plain_tcp4 (pkt, frame, flen) ? COLO_PKT_OK
                                                                    : s_decode (pkt, frame, flen);
    if (counters)
        colo_packet_count (counters, rc, pkt);
    return rc;
}

colo_pkt_result_t
colo_packet_decode_general (colo_packet_t *pkt, const uint8_t *frame, size_t len)
{
    uint32_t flen = s_start (pkt, len);
    return frame ? s_decode (pkt, frame, flen) : COLO_PKT_ERR_RUNT;
}

void
colo_packet_count (uint64_t *counters, colo_pkt_result_t rc, const colo_packet_t *pkt)
{
    colo_packet_count_info (counters, rc, pkt->info);
}

void
colo_packet_x_count_findings (uint64_t *counters, uint8_t info)
{
    for (int code = COLO_PKT_INFO_FRAGMENT; code < COLO_PKT_ERR_FIRST; code++)
        if (info & S_INFO (code))
            counters[code]++;
}

const char *
colo_packet_result_name (colo_pkt_result_t code)
{
    if ((unsigned) code >= COLO_PKT_COUNTER_COUNT)
        return "unknown";
    return colo_packet_counter_names[code];
}

uint64_t
colo_flow_x_hash_wide (const colo_flow_key_t *key, uint64_t seed)
{
    //  Two chained lanes (half the latency of one chain), joined by a last
    //  round.  Every word enters a nonlinear, seed-dependent state, so a
    //  chosen difference in one word cannot be cancelled by another.
    uint64_t a = colo_flow_x_mix64 (colo_flow_x_word (key, 0) ^ seed);
    uint64_t b = colo_flow_x_mix64 (colo_flow_x_word (key, 1) ^ seed ^ 0x9e3779b97f4a7c15ULL);
    a = colo_flow_x_mix64 (a ^ colo_flow_x_word (key, 2));
    b = colo_flow_x_mix64 (b ^ colo_flow_x_word (key, 3));
    a = colo_flow_x_mix64 (a ^ colo_flow_x_word (key, 4));
    return colo_flow_x_mix64 (a ^ ((b << 32) | (b >> 32)));
}

//  Append to buf at *used (snprintf semantics: *used may pass cap).
static void
s_append (char *buf, size_t cap, size_t *used, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

static void
s_append (char *buf, size_t cap, size_t *used, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    size_t at = *used < cap ? *used : cap - 1;
    int n = vsnprintf (buf + at, cap - at, fmt, ap);
    va_end (ap);
    if (n > 0)
        *used = at + (size_t) n;
}

static void
s_endpoint (char *buf, size_t cap, size_t *used, const colo_flow_key_t *key,
            const uint8_t *addr, uint16_t port, int with_port)
{
    char text[INET6_ADDRSTRLEN];
    int af = key->family == 6 ? AF_INET6 : AF_INET;
    if ((key->family != 4 && key->family != 6)
        || !inet_ntop (af, addr, text, sizeof text))
        snprintf (text, sizeof text, "?");
    if (!with_port)
        s_append (buf, cap, used, "%s", text);
    else if (af == AF_INET6)
        s_append (buf, cap, used, "[%s]:%u", text, port);
    else
        s_append (buf, cap, used, "%s:%u", text, port);
}

char *
colo_flow_key_str (const colo_flow_key_t *key, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return buf;
    size_t used = 0;
    int with_port = 0, icmp = 0;
    switch (key->proto) {
        case COLO_IPPROTO_TCP:
            s_append (buf, cap, &used, "tcp ");
            with_port = 1;
            break;
        case COLO_IPPROTO_UDP:
            s_append (buf, cap, &used, "udp ");
            with_port = 1;
            break;
        case COLO_IPPROTO_ICMP:
            s_append (buf, cap, &used, "icmp ");
            icmp = 1;
            break;
        case COLO_IPPROTO_ICMPV6:
            s_append (buf, cap, &used, "icmpv6 ");
            icmp = 1;
            break;
        default:
            s_append (buf, cap, &used, "proto %u ", key->proto);
            break;
    }
    s_endpoint (buf, cap, &used, key, key->addr_lo, key->port_lo, with_port);
    s_append (buf, cap, &used, " <-> ");
    s_endpoint (buf, cap, &used, key, key->addr_hi, key->port_hi, with_port);
    if (icmp && key->port_lo)
        s_append (buf, cap, &used, " id %u", key->port_lo);
    if (key->vlan)
        s_append (buf, cap, &used, " vlan %u", key->vlan);
    return buf;
}
