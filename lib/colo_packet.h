/*  colo_packet.h - the one packet decoder: Ethernet, VLAN, ARP, IPv4, IPv6,
 *  TCP, UDP, ICMP, ICMPv6, and the normalized flow key.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Decoding never reads outside [frame, frame+len) and never allocates.  It
 *  fills a colo_packet_t with offsets (from the start of the Ethernet header)
 *  and host-order field values.  Payload lengths come from the IP length
 *  fields, never from the frame length: bytes past the IP packet are
 *  Ethernet padding (trailer_len) and belong to no layer.
 *
 *  Decisions worth knowing:
 *  - The decoder does not log (it is a pure function on the hot path); it
 *    returns a code and counts it.  Callers log, rate-limited, with context.
 *  - Informational findings (fragment, padding, bad IPv4/TCP option) never
 *    change the return value; they are counted and flagged in pkt->info.
 *  - UDP: payload_len is the UDP length - 8 (the UDP length is checked to be
 *    <= the IP payload; bytes after it inside the IP packet belong to no
 *    layer).  For a first fragment it is the fragment's IP payload - 8.
 *  - IPv6 jumbograms (RFC 2675) cannot fit in a frame (COLO_FRAME_MAX), so a
 *    payload length of 0 is taken literally: with next header 59 or an
 *    unknown protocol the packet is OK with an empty payload; an extension
 *    header (e.g. the hop-by-hop header carrying a jumbo option) then runs
 *    past the packet (ERR_IPV6_EXT_TRUNCATED), TCP/UDP/ICMPv6 are truncated.
 *    IPv4 total length 0 (GSO "BIG TCP") is ERR_IPV4_BAD_LENGTH likewise.
 *  - Non-first fragments have l4 = NONE, hence ports 0 in the flow key: they
 *    do not map to the flow of their first fragment.
 *  - Only tags with TPID 0x8100 and 0x88a8 are VLAN tags.
 */
#ifndef COLO_PACKET_H_INCLUDED
#define COLO_PACKET_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "colo_bytes.h"

#define COLO_ETH_HLEN 14
#define COLO_ETHERTYPE_IPV4 0x0800
#define COLO_ETHERTYPE_ARP 0x0806
#define COLO_ETHERTYPE_VLAN 0x8100   //  802.1Q
#define COLO_ETHERTYPE_QINQ 0x88a8   //  802.1ad
#define COLO_ETHERTYPE_IPV6 0x86dd
#define COLO_VLAN_MAX 2              //  tags accepted in front of L3

#define COLO_IPPROTO_ICMP 1
#define COLO_IPPROTO_TCP 6
#define COLO_IPPROTO_UDP 17
#define COLO_IPPROTO_ICMPV6 58

#define COLO_IPV6_EXT_MAX 8          //  extension headers walked at most

#define COLO_TCP_FIN 0x01
#define COLO_TCP_SYN 0x02
#define COLO_TCP_RST 0x04
#define COLO_TCP_PSH 0x08
#define COLO_TCP_ACK 0x10
#define COLO_TCP_URG 0x20
#define COLO_TCP_ECE 0x40
#define COLO_TCP_CWR 0x80

#define COLO_TCP_SACK_MAX 4

typedef enum {
    COLO_L3_NONE = 0,   //  no L3 decoded (runt, or decoding failed before)
    COLO_L3_ARP,
    COLO_L3_IPV4,
    COLO_L3_IPV6,
    COLO_L3_OTHER       //  an ethertype we do not decode further
} colo_l3_t;

typedef enum {
    COLO_L4_NONE = 0,   //  no L4 (not IP, non-first fragment, ESP, no-next-header)
    COLO_L4_TCP,
    COLO_L4_UDP,
    COLO_L4_ICMP,
    COLO_L4_ICMPV6,
    COLO_L4_OTHER       //  an IP protocol we do not decode further
} colo_l4_t;

//  Decoder results and counters.  COLO_PKT_OK and the informational codes
//  below COLO_PKT_ERR_FIRST are not errors; every other code names one
//  malformed case and is both the return value of colo_packet_decode and the
//  index of its counter.  Keep colo_packet_counter_names in step.
typedef enum {
    COLO_PKT_OK = 0,
    //  informational counters (the frame decodes)
    COLO_PKT_INFO_FRAGMENT,          //  IPv4 or IPv6 fragment
    COLO_PKT_INFO_PADDING,           //  bytes after the IP packet (trailer_len > 0)
    COLO_PKT_INFO_BAD_IP_OPTION,     //  IPv4 option list malformed (ignored)
    COLO_PKT_INFO_BAD_TCP_OPTION,    //  TCP option list malformed (ignored after the fault)
    COLO_PKT_ERR_FIRST,
    //  malformed frames (decoding stops; pkt holds what was decoded)
    COLO_PKT_ERR_RUNT = COLO_PKT_ERR_FIRST,   //  shorter than an Ethernet header
    COLO_PKT_ERR_VLAN_TRUNCATED,
    COLO_PKT_ERR_VLAN_TOO_DEEP,      //  more than COLO_VLAN_MAX tags
    COLO_PKT_ERR_ARP_TRUNCATED,
    COLO_PKT_ERR_IPV4_TRUNCATED,     //  fewer than 20 bytes after L2
    COLO_PKT_ERR_IPV4_BAD_VERSION,
    COLO_PKT_ERR_IPV4_BAD_IHL,       //  IHL < 5, or header longer than the frame
    COLO_PKT_ERR_IPV4_BAD_LENGTH,    //  total length < header length
    COLO_PKT_ERR_IPV4_LENGTH_EXCEEDS_FRAME,
    COLO_PKT_ERR_IPV6_TRUNCATED,
    COLO_PKT_ERR_IPV6_BAD_VERSION,
    COLO_PKT_ERR_IPV6_LENGTH_EXCEEDS_FRAME,
    COLO_PKT_ERR_IPV6_EXT_TRUNCATED, //  an extension header runs past the packet
    COLO_PKT_ERR_IPV6_EXT_TOO_MANY,  //  more than COLO_IPV6_EXT_MAX headers
    COLO_PKT_ERR_TCP_TRUNCATED,      //  fewer than 20 bytes of TCP header
    COLO_PKT_ERR_TCP_BAD_OFFSET,     //  data offset < 5 or past the IP payload
    COLO_PKT_ERR_UDP_TRUNCATED,
    COLO_PKT_ERR_UDP_BAD_LENGTH,     //  UDP length < 8 or > IP payload
    COLO_PKT_ERR_ICMP_TRUNCATED,
    COLO_PKT_ERR_ICMPV6_TRUNCATED,
    COLO_PKT_COUNTER_COUNT
} colo_pkt_result_t;

extern const char *const colo_packet_counter_names[COLO_PKT_COUNTER_COUNT];

//  What the decoder found.  All offsets are from the start of the Ethernet
//  header; all multi-byte values are in host order.
typedef struct {
    uint32_t frame_len;       //  bytes handed to the decoder (capped at 2^32-1)
    uint8_t info;             //  bit (1 << COLO_PKT_INFO_x) per informational finding

    //  L2
    uint16_t ethertype;       //  the L3 ethertype, after any VLAN tags
    uint8_t vlan_count;       //  0..COLO_VLAN_MAX
    uint16_t vlan_tpid[COLO_VLAN_MAX];
    uint16_t vlan_tci[COLO_VLAN_MAX];   //  outermost first
    uint32_t l3_off;          //  14 + 4 * vlan_count

    //  L3
    colo_l3_t l3;
    uint32_t l3_hdr_len;      //  IPv4: IHL*4; IPv6: 40 + extension headers
    uint32_t l3_end;          //  offset one past the IP packet (from its length field)
    uint32_t trailer_len;     //  frame bytes after l3_end (Ethernet padding)
    uint8_t ip_proto;         //  IPv4 protocol / IPv6 final next header
    uint8_t ip_ttl;           //  TTL or hop limit
    uint8_t ip_tos;           //  TOS or traffic class
    uint8_t is_fragment;      //  1 if a fragment (first or not)
    uint8_t is_first_fragment;  //  offset 0 (also 1 when not a fragment)
    uint16_t ipv4_id;
    uint32_t ipv6_flow;       //  20-bit flow label
    uint32_t addr_len;        //  4 or 16 (0 if not IP)
    uint32_t src_off, dst_off;//  offsets of source and destination addresses
    uint32_t ipv4_opts_len;   //  bytes of IPv4 options

    //  L4
    colo_l4_t l4;
    uint32_t l4_off;
    uint32_t l4_hdr_len;      //  TCP data offset*4, UDP 8, ICMP/ICMPv6 8 (echo) or 4
    uint32_t payload_off;     //  l4_off + l4_hdr_len (or l3 payload start for L4_OTHER/NONE)
    uint32_t payload_len;     //  from the IP length; never includes padding
    uint16_t sport, dport;    //  TCP/UDP ports

    //  TCP
    uint32_t tcp_seq, tcp_ack;
    uint8_t tcp_flags;
    uint16_t tcp_window;
    uint16_t tcp_urg;
    uint16_t tcp_mss;         //  0 if absent
    uint8_t tcp_wscale;       //  0xff if absent
    uint8_t tcp_sack_permitted;
    uint8_t tcp_has_ts;
    uint32_t tcp_ts_val, tcp_ts_ecr;
    uint32_t tcp_ts_off;      //  offset of the TSval field (0 if absent)
    uint8_t tcp_sack_count;   //  SACK blocks in the SACK option
    uint32_t tcp_sack_off;    //  offset of the first SACK block (0 if absent)
    uint32_t tcp_sack[COLO_TCP_SACK_MAX][2];  //  left, right edges

    //  ICMP / ICMPv6
    uint8_t icmp_type, icmp_code;
    uint16_t icmp_id, icmp_seq;   //  echo request/reply only, else 0

    //  ARP (Ethernet/IPv4 only; other hardware/protocol types: l3=ARP, arp_op only)
    uint16_t arp_op;
    uint8_t arp_eth_ipv4;     //  1: Ethernet/IPv4 ARP, 28 bytes at l3_off (sender
                              //  MAC +8, IP +14; target MAC +18, IP +24)
} colo_packet_t;

//  Layer extents after COLO_PKT_OK (and, for the layers decoded, on error):
//  - l3_off <= l3_end <= frame_len and trailer_len = frame_len - l3_end for
//    IP and ARP; L3_OTHER: l3_end = frame_len, l3_hdr_len 0, the payload is
//    everything after the ethertype.  ARP: l3_hdr_len = l3_end - l3_off, no
//    payload (payload_off = l3_end, payload_len 0).
//  - IP: payload_off + payload_len <= l3_end.  L4_NONE (non-first fragment,
//    ESP, no-next-header) and L4_OTHER: payload = the IP payload after the
//    headers walked (l4_off = payload_off).
//  - On an L4 error, l4 = NONE, l4_off = payload_off = the L4 start and
//    payload_len covers the rest of the IP packet; L4 fields stay zero.  On
//    an error inside the IPv6 extension chain, l3 = IPV6 (the fixed header
//    is valid) and ip_proto/l3_hdr_len/l4_off/payload_off stop at the faulty
//    header (the payload is the rest of the IP packet from there).
//  - Fields of layers not decoded are zero, except tcp_wscale (0xff) and
//    is_first_fragment (1).
//  - TCP options: the last occurrence of an option wins.  A known option with
//    the wrong length is ignored and counted as INFO_BAD_TCP_OPTION; an
//    option with length 0/1 or running past the header stops the walk.

//  Decode the Ethernet frame at frame[0..len).  Returns COLO_PKT_OK or an
//  error code (>= COLO_PKT_ERR_FIRST).  If counters is not NULL, it is an
//  array of COLO_PKT_COUNTER_COUNT values: the result (counters[COLO_PKT_OK]
//  counts frames that decoded) and every informational finding are counted
//  there.  On error, pkt keeps the fields of the layers decoded before the
//  fault and l4/l3 say how far it got.  NULL frame: ERR_RUNT.
colo_pkt_result_t colo_packet_decode (colo_packet_t *pkt, const uint8_t *frame,
                                      size_t len, uint64_t *counters);

//  colo_packet_decode without its one-pass shortcut for the most common
//  shape (untagged IPv4 without options, TCP), and without counting: for
//  tests that check the shortcut decodes exactly as the general path.
colo_pkt_result_t colo_packet_decode_general (colo_packet_t *pkt, const uint8_t *frame,
                                              size_t len);

//  Count a result and the packet's informational findings into counters
//  (COLO_PKT_COUNTER_COUNT values), as colo_packet_decode does when given
//  counters: for a caller that decodes first and decides afterwards whether
//  the frame counts here.
void colo_packet_count (uint64_t *counters, colo_pkt_result_t rc, const colo_packet_t *pkt);

//  The same for a result and informational findings (colo_packet_t.info,
//  colo_tcp_seg_t.info).  Inline: most frames have no findings, and then
//  it is one increment (a compare engine counts every frame).
static inline void colo_packet_count_info (uint64_t *counters, colo_pkt_result_t rc,
                                           uint8_t info);

//  What a comparator needs of the frames most traffic is made of: IPv4
//  without options, not a fragment, carrying TCP (colo_packet_tcp4), or
//  IPv6 carrying TCP without extension headers (colo_packet_tcp6); either
//  untagged or in one VLAN tag (802.1Q or 802.1ad).  Host order.
typedef struct {
    uint32_t seq, ack;
    uint32_t payload_off;     //  l4_off + TCP header length: after it
    uint32_t payload_len;     //  never includes padding
    uint16_t sport, dport;
    uint16_t window;
    uint16_t vlan;            //  the tag's VLAN id (its low 12 bits), 0 if untagged
    uint8_t flags;
    uint8_t wscale;           //  window scale option, 0xff if absent
    uint8_t info;             //  as colo_packet_t.info: padding, bad TCP option
    uint8_t l3_off;           //  where the IP header is: 14, or 18 after the tag
    uint8_t l4_off;           //  where the TCP header is: l3_off + 20 (IPv4) or + 40 (IPv6)
} colo_tcp_seg_t;

//  1 and *seg filled if frame has that shape; colo_packet_decode then
//  returns COLO_PKT_OK, l3 IPv4, l4 TCP, no tag or one (vlan_count), the
//  addresses at l3_off + 12 and + 16, and the same values in the fields of
//  the same names (tests and a fuzz target hold it to that).  0 for any
//  other frame: decode it.  The cheaper of the two for a caller that needs
//  no more than these fields.
int colo_packet_tcp4 (colo_tcp_seg_t *seg, const uint8_t *frame, size_t len);

//  The same for IPv6: 1 and *seg filled if frame is IPv6 (untagged or in
//  one tag) whose next header is TCP; colo_packet_decode then returns
//  COLO_PKT_OK, l3 IPv6, l4 TCP, the addresses at l3_off + 8 and + 24, TCP
//  at l3_off + 40, the same values.
int colo_packet_tcp6 (colo_tcp_seg_t *seg, const uint8_t *frame, size_t len);

//  The IP layer of the light decoders (colo_packet_tcp4, _tcp6, _udp, the
//  plain ones below and the full decoder's shortcut), its header at l3
//  (l3 <= len, the ethertype seen): IPv4 without options, not a fragment
//  (v6 0), or IPv6 without extension headers (v6 1), carrying proto, its
//  length within the frame.
//  Returns 1 and the bytes of IP payload (at l3 + 20, or + 40) in *l4_len.
//  This and the helpers below are inlined by force: each caller's constant
//  l3 and v6 then fold away (left to the compiler, one shared copy cost the
//  plain IPv4 segment 36 instructions a packet more).  (The decoders' own;
//  not for other use.)
static inline __attribute__ ((always_inline)) int
colo_packet_x_light_ip (const uint8_t *frame, uint32_t len, uint32_t l3, int v6, uint8_t proto,
                        uint32_t *l4_len)
{
    const uint8_t *ip = frame + l3;
    if (!v6) {
        if (len - l3 < 20 || ip[0] != 0x45 || ip[9] != proto)
            return 0;
        uint32_t tot = colo_get_be16 (ip + 2);
        if (tot < 20 || tot > len - l3 || (colo_get_be16 (ip + 6) & 0x3fff))
            return 0;
        *l4_len = tot - 20;
        return 1;
    }
    if (len - l3 < 40 || (ip[0] >> 4) != 6 || ip[6] != proto)
        return 0;
    uint32_t plen = colo_get_be16 (ip + 4);
    if (plen > len - l3 - 40)
        return 0;
    *l4_len = plen;
    return 1;
}

//  That IP layer carrying TCP with a sound data offset: 1, the IP payload's
//  length and the TCP data offset.
static inline __attribute__ ((always_inline)) int
colo_packet_x_light_tcp (const uint8_t *frame, uint32_t len, uint32_t l3, int v6,
                         uint32_t *l4_len, uint32_t *doff_p)
{
    if (!colo_packet_x_light_ip (frame, len, l3, v6, COLO_IPPROTO_TCP, l4_len) || *l4_len < 20)
        return 0;
    uint32_t doff = (uint32_t) (frame[l3 + (v6 ? 40 : 20) + 12] >> 4) * 4;
    if (doff < 20 || doff > *l4_len)
        return 0;
    *doff_p = doff;
    return 1;
}

//  The fields of a TCP segment whose header (doff bytes) is at l4 of
//  frame, in l4_len bytes of IP payload; padded: bytes follow the IP
//  packet.  No option walk: wscale 0xff, and the caller sets vlan and
//  l3_off.  (The light decoders' own; not for other use.)
static inline __attribute__ ((always_inline)) void
colo_packet_x_tcp_fields (colo_tcp_seg_t *seg, const uint8_t *frame, uint32_t l4,
                          uint32_t l4_len, uint32_t doff, int padded)
{
    const uint8_t *th = frame + l4;
    seg->sport = colo_get_be16 (th);
    seg->dport = colo_get_be16 (th + 2);
    seg->seq = colo_get_be32 (th + 4);
    seg->ack = colo_get_be32 (th + 8);
    seg->flags = th[13];
    seg->window = colo_get_be16 (th + 14);
    seg->l4_off = (uint8_t) l4;
    seg->payload_off = l4 + doff;
    seg->payload_len = l4_len - doff;
    seg->info = padded ? (uint8_t) (1u << COLO_PKT_INFO_PADDING) : 0;
    seg->wscale = 0xff;
}

//  1 if the doff bytes of TCP header at th carry no options, or NOP NOP
//  TS alone (those of nearly every segment once the handshake is done),
//  which set nothing a light decoder finds: no option walk.  (The light
//  decoders' own; not for other use.)
static inline int
colo_packet_x_tcp_plain_opts (const uint8_t *th, uint32_t doff)
{
    return doff == 20 || (doff == 32 && colo_get_be32 (th + 20) == 0x0101080au);
}

//  The plain decoders below with the IP header at l3 (14, or 18 after a
//  tag: a constant once inlined), the ethertype (and tag) seen; IPv6 if
//  v6.  Sets all of seg but vlan.  (Theirs; not for other use.)
static inline __attribute__ ((always_inline)) int
colo_packet_x_tcp_plain_at (colo_tcp_seg_t *seg, const uint8_t *frame, uint32_t len,
                            uint32_t l3, int v6)
{
    uint32_t l4 = l3 + (v6 ? 40 : 20), l4_len, doff;
    if (!colo_packet_x_light_tcp (frame, len, l3, v6, &l4_len, &doff)
        || !colo_packet_x_tcp_plain_opts (frame + l4, doff))
        return 0;
    colo_packet_x_tcp_fields (seg, frame, l4, l4_len, doff, len - l4 > l4_len);
    seg->l3_off = (uint8_t) l3;
    return 1;
}

//  The plain decoders below untagged: IPv6 if v6.  (Theirs; not for other
//  use.)
static inline __attribute__ ((always_inline)) int
colo_packet_x_tcp_plain_untagged (colo_tcp_seg_t *seg, const uint8_t *frame, uint32_t len,
                                  int v6)
{
    if (len < (v6 ? 74u : 54u)
        || colo_get_be16 (frame + 12) != (v6 ? COLO_ETHERTYPE_IPV6 : COLO_ETHERTYPE_IPV4)
        || !colo_packet_x_tcp_plain_at (seg, frame, len, 14, v6))
        return 0;
    seg->vlan = 0;
    return 1;
}

//  colo_packet_tcp4 of the shape nearly every frame has, inline: untagged
//  IPv4 without options, not a fragment, TCP with no options or only NOP
//  NOP TS.  1 and *seg filled as colo_packet_tcp4 fills it; 0 for any
//  other frame, which colo_packet_tcp4 may still take.  Inlined into its
//  caller, seg can live in registers (tests and a fuzz target hold the
//  two to the same results).
static inline __attribute__ ((always_inline)) int
colo_packet_tcp4_plain (colo_tcp_seg_t *seg, const uint8_t *frame, uint32_t len)
{
    return colo_packet_x_tcp_plain_untagged (seg, frame, len, 0);
}

//  The same of colo_packet_tcp6: untagged IPv6 whose next header is TCP,
//  with no options or only NOP NOP TS.
static inline __attribute__ ((always_inline)) int
colo_packet_tcp6_plain (colo_tcp_seg_t *seg, const uint8_t *frame, uint32_t len)
{
    return colo_packet_x_tcp_plain_untagged (seg, frame, len, 1);
}

//  The same in one VLAN tag (802.1Q or 802.1ad), IPv4 (as colo_packet_tcp4
//  fills seg) or IPv6 (as colo_packet_tcp6 does).
static inline __attribute__ ((always_inline)) int
colo_packet_tcp_plain_tagged (colo_tcp_seg_t *seg, const uint8_t *frame, uint32_t len)
{
    if (len < 58)
        return 0;
    uint16_t outer = colo_get_be16 (frame + 12), inner = colo_get_be16 (frame + 16);
    int v6 = inner == COLO_ETHERTYPE_IPV6;
    if ((outer != COLO_ETHERTYPE_VLAN && outer != COLO_ETHERTYPE_QINQ)
        || (!v6 && inner != COLO_ETHERTYPE_IPV4)
        || !colo_packet_x_tcp_plain_at (seg, frame, len, 18, v6))
        return 0;
    seg->vlan = colo_get_be16 (frame + 14) & 0x0fff;
    return 1;
}

//  What a comparator needs of a UDP datagram in IPv4 without options, not
//  a fragment, or in IPv6 without extension headers; untagged or in one
//  VLAN tag.  Host order.
typedef struct {
    uint32_t payload_off;     //  l4_off + 8
    uint32_t payload_len;     //  the UDP length less 8
    uint16_t sport, dport;
    uint16_t vlan;            //  the tag's VLAN id (its low 12 bits), 0 if untagged
    uint8_t info;             //  as colo_packet_t.info: padding
    uint8_t l3_off;           //  where the IP header is: 14, or 18 after the tag
    uint8_t l4_off;           //  where the UDP header is: l3_off + 20 (IPv4) or + 40 (IPv6)
} colo_udp_seg_t;

//  1 and *seg filled if frame has that shape; colo_packet_decode then
//  returns COLO_PKT_OK, l3 IPv4 or IPv6, l4 UDP, the same values in the
//  fields of the same names (tests and a fuzz target hold it to that).  0
//  for any other frame: decode it.
int colo_packet_udp (colo_udp_seg_t *seg, const uint8_t *frame, size_t len);

//  Human-readable name of a result code ("ok", "ipv4_bad_ihl", ...).
const char *colo_packet_result_name (colo_pkt_result_t code);

//  The normalized flow key: both directions of a connection map to the same
//  key.  Fields are zero-padded so keys compare with memcmp.
typedef struct {
    uint8_t addr_lo[16];      //  IPv4 addresses in the first 4 bytes
    uint8_t addr_hi[16];
    uint16_t port_lo, port_hi;//  TCP/UDP ports; ICMP echo id in both; else 0
    uint16_t vlan;            //  outer VLAN id (0 if untagged)
    uint8_t proto;            //  IP protocol
    uint8_t family;           //  4 or 6
} colo_flow_key_t;

//  Fill key from a decoded IP packet.  Returns 0, or -1 (key zeroed) if the
//  packet has no IP layer.  *reversed (if not NULL) is 1 when the packet's
//  source is the "hi" endpoint, so callers can tell the two directions
//  apart.  Inline (below), like colo_flow_hash: every frame of the rewriter
//  and of compare takes both, and inlined they lose the call overhead and
//  the cases the caller has already ruled out.
static inline int colo_flow_key (colo_flow_key_t *key, const colo_packet_t *pkt,
                                 const uint8_t *frame, int *reversed);

//  Seeded 64-bit hash of a flow key (seed it randomly per process so that
//  traffic cannot choose collisions).  Fast, not cryptographic: the key's
//  five 64-bit words go through two chained lanes of a multiply-xorshift
//  bijection, joined by a final round; a key whose address bytes 4..15 are
//  zero (IPv4) has two informative words, each multiplied with its own
//  seed-dependent start, joined by one round of the bijection.
static inline uint64_t colo_flow_hash (const colo_flow_key_t *key, uint64_t seed);

//  colo_flow_key (key, pkt, frame, NULL), and *hash = colo_flow_hash (key,
//  seed) when it returns 0, in one pass: an IPv4 key is hashed from the
//  registers it is built in.
static inline int colo_flow_key_hash (colo_flow_key_t *key, uint64_t *hash,
                                      const colo_packet_t *pkt, const uint8_t *frame,
                                      uint64_t seed);

//  colo_flow_key_hash of a frame colo_packet_tcp4 or _tcp6 took, from seg.
static inline void colo_flow_key_hash_tcp (colo_flow_key_t *key, uint64_t *hash,
                                           const uint8_t *frame, const colo_tcp_seg_t *seg,
                                           uint64_t seed);

//  The same of a frame colo_packet_udp took.
static inline void colo_flow_key_hash_udp (colo_flow_key_t *key, uint64_t *hash,
                                           const uint8_t *frame, const colo_udp_seg_t *seg,
                                           uint64_t seed);

//  Format "tcp 10.0.0.1:80 <-> 10.0.0.2:1234" (IPv6 in brackets) into buf;
//  ICMP: "icmp 10.0.0.1 <-> 10.0.0.2 id 7" (id only when not 0); others:
//  "proto 47 10.0.0.1 <-> 10.0.0.2"; " vlan N" is appended when tagged.
//  Truncated to cap-1 bytes, always NUL-terminated (if cap > 0).  Returns buf.
char *colo_flow_key_str (const colo_flow_key_t *key, char *buf, size_t cap);

//  ---------------------------------------------------------------- inline

//  colo_packet_count_info's findings, one counter each (not for other use).
void colo_packet_x_count_findings (uint64_t *counters, uint8_t info);

static inline void
colo_packet_count_info (uint64_t *counters, colo_pkt_result_t rc, uint8_t info)
{
    counters[rc]++;
    if (info)
        colo_packet_x_count_findings (counters, info);
}

//  colo_flow_key and colo_flow_hash, and their helpers (colo_flow_x_*, not
//  for other use).  The key is built as five 64-bit words in registers and
//  stored whole: clearing it and then storing parts would make the word
//  loads of the hash and of a table's compare wait (store forwarding fails
//  on a load that spans several smaller stores).

static inline uint64_t
colo_flow_x_word (const colo_flow_key_t *key, unsigned i)
{
    uint64_t w;
    memcpy (&w, (const unsigned char *) key + 8 * i, 8);
    return w;
}

static inline void
colo_flow_x_put (colo_flow_key_t *key, unsigned i, uint64_t w)
{
    memcpy ((unsigned char *) key + 8 * i, &w, 8);
}

//  A word whose bytes are the 4 bytes at p, then 4 zero bytes; and word 4
//  of a key (ports, vlan, proto, family) as it lies in memory.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#    define COLO_FLOW_X_WORD4(u32) ((uint64_t) (u32) << 32)
#    define COLO_FLOW_X_TAIL(plo, phi, vlan, proto, fam)                                   \
        ((uint64_t) (plo) << 48 | (uint64_t) (phi) << 32 | (uint64_t) (vlan) << 16         \
         | (uint64_t) (proto) << 8 | (uint64_t) (fam))
#else
#    define COLO_FLOW_X_WORD4(u32) ((uint64_t) (u32))
#    define COLO_FLOW_X_TAIL(plo, phi, vlan, proto, fam)                                   \
        ((uint64_t) (plo) | (uint64_t) (phi) << 16 | (uint64_t) (vlan) << 32               \
         | (uint64_t) (proto) << 48 | (uint64_t) (fam) << 56)
#endif

_Static_assert (sizeof (colo_flow_key_t) == 40 && offsetof (colo_flow_key_t, addr_hi) == 16
                    && offsetof (colo_flow_key_t, port_lo) == 32
                    && offsetof (colo_flow_key_t, port_hi) == 34
                    && offsetof (colo_flow_key_t, vlan) == 36
                    && offsetof (colo_flow_key_t, proto) == 38
                    && offsetof (colo_flow_key_t, family) == 39,
                "the flow key is five words; COLO_FLOW_X_TAIL is word 4");

//  A bijective 64-bit mixer (multiply-xorshift, Stafford's variant 13).
static inline uint64_t
colo_flow_x_mix64 (uint64_t h)
{
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

//  The hash of an IPv4-shaped key from its two informative words: word
//  holds the "lo" address in its high half and the "hi" one in its low
//  half (as the bytes lie in memory), tail is word 4 of the key.  Each
//  word, offset by the seed, is multiplied by its own odd constant (the
//  two multiplications run side by side), and one round of the bijection
//  joins them: half the latency of two chained rounds, and every input bit
//  still reaches every output bit.
static inline uint64_t
colo_flow_x_hash4 (uint64_t word, uint64_t tail, uint64_t seed)
{
    uint64_t a = (word ^ seed) * 0x9e3779b97f4a7c15ULL;
    uint64_t b = (tail ^ (seed << 32 | seed >> 32) ^ 0x5851f42d4c957f2dULL) * 0xd6e8feb86659fd93ULL;
    return colo_flow_x_mix64 (a ^ (b << 32 | b >> 32));
}

//  The hash of a key with IPv6-shaped addresses (out of line: long, and
//  rarer).
uint64_t colo_flow_x_hash_wide (const colo_flow_key_t *key, uint64_t seed);

//  The IPv4 key (and hash, if hash is not NULL) of a flow from its
//  addresses (4 bytes each, in the frame), ports, VLAN and protocol.
static inline void
colo_flow_x_build4 (colo_flow_key_t *key, const uint8_t *src, const uint8_t *dst,
                    uint16_t sport, uint16_t dport, uint16_t vlan, uint8_t proto, int *reversed,
                    uint64_t *hash, uint64_t seed)
{
    //  Big-endian values compare like the bytes (memcmp order).
    uint32_t a = colo_get_be32 (src), b = colo_get_be32 (dst);
    int rev = a > b || (a == b && sport > dport);
    uint32_t s32, d32;
    memcpy (&s32, src, 4);
    memcpy (&d32, dst, 4);
    uint32_t lo32 = rev ? d32 : s32, hi32 = rev ? s32 : d32;
    colo_flow_x_put (key, 0, COLO_FLOW_X_WORD4 (lo32));
    colo_flow_x_put (key, 1, 0);
    colo_flow_x_put (key, 2, COLO_FLOW_X_WORD4 (hi32));
    colo_flow_x_put (key, 3, 0);
    uint64_t tail = rev ? COLO_FLOW_X_TAIL (dport, sport, vlan, proto, 4)
                        : COLO_FLOW_X_TAIL (sport, dport, vlan, proto, 4);
    colo_flow_x_put (key, 4, tail);
    if (reversed)
        *reversed = rev;
    if (hash)
        *hash = colo_flow_x_hash4 ((uint64_t) lo32 << 32 | hi32, tail, seed);
}

static inline uint64_t colo_flow_hash (const colo_flow_key_t *key, uint64_t seed);

//  The IPv6 key (and hash, if hash is not NULL) of a flow from its
//  addresses (16 bytes each, in the frame), ports, VLAN and protocol.
static inline void
colo_flow_x_build6 (colo_flow_key_t *key, const uint8_t *src, const uint8_t *dst,
                    uint16_t sport, uint16_t dport, uint16_t vlan, uint8_t proto, int *reversed,
                    uint64_t *hash, uint64_t seed)
{
    uint64_t a = colo_get_be64 (src), b = colo_get_be64 (dst);
    if (a == b) {
        a = colo_get_be64 (src + 8);
        b = colo_get_be64 (dst + 8);
    }
    int rev = a > b || (a == b && sport > dport);
    memcpy (key->addr_lo, rev ? dst : src, 16);
    memcpy (key->addr_hi, rev ? src : dst, 16);
    colo_flow_x_put (key, 4,
                     rev ? COLO_FLOW_X_TAIL (dport, sport, vlan, proto, 6)
                         : COLO_FLOW_X_TAIL (sport, dport, vlan, proto, 6));
    if (reversed)
        *reversed = rev;
    if (hash)
        *hash = colo_flow_hash (key, seed);   //  IPv6 addresses may still be IPv4-shaped
}

//  colo_flow_key, and the hash if hash is not NULL.
static inline int
colo_flow_x_build (colo_flow_key_t *key, const colo_packet_t *pkt, const uint8_t *frame,
                   int *reversed, uint64_t *hash, uint64_t seed)
{
    if (reversed)
        *reversed = 0;
    uint32_t alen = pkt->addr_len;
    if ((pkt->l3 != COLO_L3_IPV4 && pkt->l3 != COLO_L3_IPV6) || (alen != 4 && alen != 16)
        || !frame || pkt->frame_len < alen || pkt->src_off > pkt->frame_len - alen
        || pkt->dst_off > pkt->frame_len - alen) {
        memset (key, 0, sizeof *key);
        return -1;
    }
    const uint8_t *src = frame + pkt->src_off;
    const uint8_t *dst = frame + pkt->dst_off;
    uint16_t sport = 0, dport = 0;
    if (pkt->l4 == COLO_L4_TCP || pkt->l4 == COLO_L4_UDP) {
        sport = pkt->sport;
        dport = pkt->dport;
    }
    else if (pkt->l4 == COLO_L4_ICMP || pkt->l4 == COLO_L4_ICMPV6)
        sport = dport = pkt->icmp_id;   //  0 unless echo
    uint16_t vlan = pkt->vlan_count ? (uint16_t) (pkt->vlan_tci[0] & 0x0fff) : 0;
    if (alen == 4) {
        colo_flow_x_build4 (key, src, dst, sport, dport, vlan, pkt->ip_proto, reversed, hash,
                            seed);
        return 0;
    }
    colo_flow_x_build6 (key, src, dst, sport, dport, vlan, pkt->ip_proto, reversed, hash, seed);
    return 0;
}

static inline int
colo_flow_key (colo_flow_key_t *key, const colo_packet_t *pkt, const uint8_t *frame,
               int *reversed)
{
    return colo_flow_x_build (key, pkt, frame, reversed, NULL, 0);
}

static inline int
colo_flow_key_hash (colo_flow_key_t *key, uint64_t *hash, const colo_packet_t *pkt,
                    const uint8_t *frame, uint64_t seed)
{
    return colo_flow_x_build (key, pkt, frame, NULL, hash, seed);
}

//  colo_flow_key_hash of a frame whose IP header is at l3 and its TCP or
//  UDP header (proto) at l4, with those ports and VLAN id (out of line:
//  the inline functions stay small).
void colo_flow_x_key_hash_at (colo_flow_key_t *key, uint64_t *hash, const uint8_t *frame,
                              uint32_t l3, uint32_t l4, uint16_t sport, uint16_t dport,
                              uint16_t vlan, uint8_t proto, uint64_t seed);

static inline void
colo_flow_key_hash_tcp (colo_flow_key_t *key, uint64_t *hash, const uint8_t *frame,
                        const colo_tcp_seg_t *seg, uint64_t seed)
{
    //  Untagged IPv4, the most common, and untagged IPv6 inline with
    //  constant offsets; tagged frames out of line.  The ports are read
    //  from the frame, as the addresses are: the build loads them as one
    //  word, and a load that spans seg's two 16-bit stores, made just
    //  before, waits for them to retire (store forwarding fails).
    if (seg->l4_off == 34)
        colo_flow_x_build4 (key, frame + 26, frame + 30, colo_get_be16 (frame + 34),
                            colo_get_be16 (frame + 36), 0, COLO_IPPROTO_TCP, NULL, hash, seed);
    else if (seg->l4_off == 54)   //  untagged IPv6 (tagged IPv4 is at 38, tagged IPv6 at 58)
        colo_flow_x_build6 (key, frame + 22, frame + 38, colo_get_be16 (frame + 54),
                            colo_get_be16 (frame + 56), 0, COLO_IPPROTO_TCP, NULL, hash, seed);
    else if (seg->l4_off == 38)   //  IPv4 in one tag
        colo_flow_x_build4 (key, frame + 30, frame + 34, colo_get_be16 (frame + 38),
                            colo_get_be16 (frame + 40), seg->vlan, COLO_IPPROTO_TCP, NULL, hash,
                            seed);
    else
        colo_flow_x_key_hash_at (key, hash, frame, seg->l3_off, seg->l4_off, seg->sport,
                                 seg->dport, seg->vlan, COLO_IPPROTO_TCP, seed);
}

//  colo_flow_key_hash of a frame colo_packet_udp took, from seg.
static inline void
colo_flow_key_hash_udp (colo_flow_key_t *key, uint64_t *hash, const uint8_t *frame,
                        const colo_udp_seg_t *seg, uint64_t seed)
{
    //  Untagged IPv4 inline with constant offsets, as for TCP; the rest out
    //  of line.
    if (seg->l4_off == 34)
        colo_flow_x_build4 (key, frame + 26, frame + 30, colo_get_be16 (frame + 34),
                            colo_get_be16 (frame + 36), 0, COLO_IPPROTO_UDP, NULL, hash, seed);
    else
        colo_flow_x_key_hash_at (key, hash, frame, seg->l3_off, seg->l4_off, seg->sport,
                                 seg->dport, seg->vlan, COLO_IPPROTO_UDP, seed);
}

static inline uint64_t
colo_flow_hash (const colo_flow_key_t *key, uint64_t seed)
{
    //  An IPv4 key (or any key whose address bytes beyond the first four
    //  are zero) carries only two words of information: hash just those.
    //  The test looks at the key, not at family, so the result stays a
    //  function of all 40 bytes.
    uint32_t lo32, hi32, lo_rest, hi_rest;
    memcpy (&lo32, key->addr_lo, 4);
    memcpy (&hi32, key->addr_hi, 4);
    memcpy (&lo_rest, key->addr_lo + 4, 4);
    memcpy (&hi_rest, key->addr_hi + 4, 4);
    if ((lo_rest | hi_rest | colo_flow_x_word (key, 1) | colo_flow_x_word (key, 3)) != 0)
        return colo_flow_x_hash_wide (key, seed);
    return colo_flow_x_hash4 ((uint64_t) lo32 << 32 | hi32, colo_flow_x_word (key, 4), seed);
}

#endif
