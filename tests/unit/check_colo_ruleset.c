/*  check_colo_ruleset.c - passthrough rules: parsing, validation, identity, matching.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "colo_packet.h"
#include "colo_ruleset.h"
#include "colo_test.h"

//  A decoded frame: TCP/UDP/ICMP/ICMPv6 from src to dst.
typedef struct {
    colo_buf_t *buf;
    colo_packet_t pkt;
} s_frame_t;

static void
s_frame (s_frame_t *f, uint8_t proto, const char *src, uint16_t sport, const char *dst,
         uint16_t dport)
{
    int v6 = strchr (src, ':') != NULL;
    colo_test_pkt_t spec = {0};
    spec.v6 = v6;
    spec.proto = proto;
    spec.sport = sport;
    spec.dport = dport;
    spec.icmp_type = v6 ? 128 : 8;
    f->buf = colo_test_packet (&spec);
    ck_assert_ptr_nonnull (f->buf);
    uint8_t *frame = colo_buf_frame (f->buf);
    ck_assert_int_eq (colo_packet_decode (&f->pkt, frame, f->buf->len, NULL), COLO_PKT_OK);
    //  The checksums go stale; the matcher does not read them.
    int af = v6 ? AF_INET6 : AF_INET;
    ck_assert_int_eq (inet_pton (af, src, frame + f->pkt.src_off), 1);
    ck_assert_int_eq (inet_pton (af, dst, frame + f->pkt.dst_off), 1);
}

static int
s_matches (const colo_rule_t *rule, const s_frame_t *f)
{
    return colo_rule_match (rule, &f->pkt, colo_buf_frame (f->buf));
}

static void
s_frame_free (s_frame_t *f)
{
    colo_buf_destroy (&f->buf);
}

START_TEST (test_rule_parse)
{
    int proto = 0;
    ck_assert_int_eq (colo_rule_parse_proto ("tcp", &proto), 0);
    ck_assert_int_eq (proto, 6);
    ck_assert_int_eq (colo_rule_parse_proto ("UDP", &proto), 0);
    ck_assert_int_eq (proto, 17);
    ck_assert_int_eq (colo_rule_parse_proto ("icmp", &proto), 0);
    ck_assert_int_eq (proto, 1);
    ck_assert_int_eq (colo_rule_parse_proto ("icmpv6", &proto), 0);
    ck_assert_int_eq (proto, 58);
    ck_assert_int_eq (colo_rule_parse_proto ("132", &proto), 0);
    ck_assert_int_eq (proto, 132);
    ck_assert_int_eq (colo_rule_parse_proto ("0", &proto), 0);
    ck_assert_int_eq (proto, 0);
    const char *bad_proto[] = {"256", "-1", "", "tcp6", "6x", " 6", "0x6", NULL};
    for (int i = 0; bad_proto[i]; i++)
        ck_assert_int_eq (colo_rule_parse_proto (bad_proto[i], &proto), -1);
    ck_assert_int_eq (colo_rule_parse_proto (NULL, &proto), -1);

    colo_cidr_t c;
    ck_assert_int_eq (colo_rule_parse_cidr ("10.0.0.0/8", &c), 0);
    ck_assert_uint_eq (c.family, 4);
    ck_assert_uint_eq (c.prefix_len, 8);
    ck_assert_uint_eq (c.addr[0], 10);
    ck_assert_int_eq (colo_rule_parse_cidr ("192.168.1.7", &c), 0);
    ck_assert_uint_eq (c.prefix_len, 32);
    ck_assert_uint_eq (c.addr[3], 7);
    ck_assert_int_eq (colo_rule_parse_cidr ("0.0.0.0/0", &c), 0);
    ck_assert_uint_eq (c.family, 4);
    ck_assert_uint_eq (c.prefix_len, 0);
    ck_assert_int_eq (colo_rule_parse_cidr ("fd00::/64", &c), 0);
    ck_assert_uint_eq (c.family, 6);
    ck_assert_uint_eq (c.prefix_len, 64);
    ck_assert_uint_eq (c.addr[0], 0xfd);
    ck_assert_int_eq (colo_rule_parse_cidr ("::1", &c), 0);
    ck_assert_uint_eq (c.prefix_len, 128);
    ck_assert_uint_eq (c.addr[15], 1);
    ck_assert_int_eq (colo_rule_parse_cidr ("10.1.0.0/15", &c), -1);  //  host bits
    ck_assert_int_eq (colo_rule_parse_cidr ("10.0.0.1/8", &c), -1);
    ck_assert_int_eq (colo_rule_parse_cidr ("10.0.0.0/33", &c), -1);
    ck_assert_int_eq (colo_rule_parse_cidr ("fd00::/129", &c), -1);
    ck_assert_int_eq (colo_rule_parse_cidr ("fd00::1/64", &c), -1);
    const char *bad_cidr[] = {"",         "/8",   "10.0.0.0/",    "10.0.0.0/x",
                              "10.0.0/8", "host", "10.0.0.0/08x", "1.2.3.4/-1",
                              NULL};
    for (int i = 0; bad_cidr[i]; i++)
        ck_assert_msg (colo_rule_parse_cidr (bad_cidr[i], &c) == -1, "%s", bad_cidr[i]);

    uint16_t lo = 0, hi = 0;
    ck_assert_int_eq (colo_rule_parse_ports ("3389", &lo, &hi), 0);
    ck_assert_uint_eq (lo, 3389);
    ck_assert_uint_eq (hi, 3389);
    ck_assert_int_eq (colo_rule_parse_ports ("1000-2000", &lo, &hi), 0);
    ck_assert_uint_eq (lo, 1000);
    ck_assert_uint_eq (hi, 2000);
    ck_assert_int_eq (colo_rule_parse_ports ("0-65535", &lo, &hi), 0);
    ck_assert_uint_eq (hi, 65535);
    const char *bad_ports[] = {"",   "-",  "2000-1000", "65536",    "1-65536", "a",
                               "1-", "-5", "1-2-3",     "12345678", NULL};
    for (int i = 0; bad_ports[i]; i++)
        ck_assert_msg (colo_rule_parse_ports (bad_ports[i], &lo, &hi) == -1, "%s",
                       bad_ports[i]);
}
END_TEST

START_TEST (test_rule_validate)
{
    char err[128];
    colo_rule_t r;
    colo_rule_init (&r);
    ck_assert_int_eq (colo_rule_validate (&r, err, sizeof err), 0);

    snprintf (r.vm, sizeof r.vm, "vm 1");
    ck_assert_int_eq (colo_rule_validate (&r, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "vm"));
    snprintf (r.vm, sizeof r.vm, "vm-1.a_b");
    ck_assert_int_eq (colo_rule_validate (&r, err, sizeof err), 0);

    colo_rule_parse_cidr ("10.0.0.0/8", &r.src);
    colo_rule_parse_cidr ("fd00::/8", &r.dst);
    ck_assert_int_eq (colo_rule_validate (&r, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "families"));
    colo_rule_parse_cidr ("10.0.0.0/16", &r.dst);
    ck_assert_int_eq (colo_rule_validate (&r, err, sizeof err), 0);

    r.proto = 1;  //  icmp with ports
    r.has_dport = 1;
    r.dport_lo = r.dport_hi = 7;
    ck_assert_int_eq (colo_rule_validate (&r, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "ports"));
    r.has_dport = 0;
    ck_assert_int_eq (colo_rule_validate (&r, err, sizeof err), 0);
    r.proto = 58;  //  icmpv6 with IPv4 prefixes
    ck_assert_int_eq (colo_rule_validate (&r, err, sizeof err), -1);
    r.proto = 256;
    ck_assert_int_eq (colo_rule_validate (&r, err, sizeof err), -1);
    r.proto = COLO_RULE_PROTO_ANY;

    r.has_sport = 1;
    r.sport_lo = 10;
    r.sport_hi = 9;
    ck_assert_int_eq (colo_rule_validate (&r, err, sizeof err), -1);
    r.sport_hi = 10;
    ck_assert_int_eq (colo_rule_validate (&r, err, sizeof err), 0);

    r.src.addr[3] = 1;  //  host bit behind /8
    ck_assert_int_eq (colo_rule_validate (&r, err, sizeof err), -1);
    r.src.addr[3] = 0;
    r.src.prefix_len = 40;
    ck_assert_int_eq (colo_rule_validate (&r, err, sizeof err), -1);
    r.src.prefix_len = 8;

    snprintf (r.comment, sizeof r.comment, "bell\a");
    ck_assert_int_eq (colo_rule_validate (&r, err, sizeof err), -1);
    snprintf (r.comment, sizeof r.comment, "RDP for the ops team");
    ck_assert_int_eq (colo_rule_validate (&r, err, sizeof err), 0);
    memset (r.vm, 'a', sizeof r.vm);  //  not terminated
    ck_assert_int_eq (colo_rule_validate (&r, err, sizeof err), -1);
}
END_TEST

START_TEST (test_rule_matches_all)
{
    colo_rule_t r;
    colo_rule_init (&r);
    ck_assert_int_eq (colo_rule_matches_all (&r), 1);
    snprintf (r.vm, sizeof r.vm, "vm1");  //  scope does not narrow traffic
    ck_assert_int_eq (colo_rule_matches_all (&r), 1);
    colo_rule_parse_cidr ("0.0.0.0/0", &r.src);
    ck_assert_int_eq (colo_rule_matches_all (&r), 1);
    r.has_dport = 1;
    r.dport_lo = 0;
    r.dport_hi = 65535;
    ck_assert_int_eq (colo_rule_matches_all (&r), 1);
    r.dport_lo = 1;
    ck_assert_int_eq (colo_rule_matches_all (&r), 0);
    r.has_dport = 0;
    colo_rule_parse_cidr ("10.0.0.0/8", &r.dst);
    ck_assert_int_eq (colo_rule_matches_all (&r), 0);
    colo_rule_init (&r);
    r.proto = 6;
    ck_assert_int_eq (colo_rule_matches_all (&r), 0);
}
END_TEST

START_TEST (test_rule_same)
{
    colo_rule_t a, b;
    colo_rule_init (&a);
    a.proto = 6;
    colo_rule_parse_cidr ("10.0.0.5", &a.src);
    a.has_dport = 1;
    a.dport_lo = a.dport_hi = 3389;
    b = a;
    b.id = 7;
    snprintf (b.comment, sizeof b.comment, "other words");
    ck_assert_int_eq (colo_rule_same (&a, &b), 1);

    //  The same connection seen from the other end.
    colo_rule_init (&b);
    b.proto = 6;
    colo_rule_parse_cidr ("10.0.0.5", &b.dst);
    b.has_sport = 1;
    b.sport_lo = b.sport_hi = 3389;
    ck_assert_int_eq (colo_rule_same (&a, &b), 1);
    ck_assert_int_eq (colo_rule_same (&b, &a), 1);

    //  Swapping only the ports is another rule.
    colo_rule_init (&b);
    b.proto = 6;
    colo_rule_parse_cidr ("10.0.0.5", &b.src);
    b.has_sport = 1;
    b.sport_lo = b.sport_hi = 3389;
    ck_assert_int_eq (colo_rule_same (&a, &b), 0);

    b = a;
    snprintf (b.vm, sizeof b.vm, "vm1");
    ck_assert_int_eq (colo_rule_same (&a, &b), 0);
    b = a;
    b.proto = COLO_RULE_PROTO_ANY;
    ck_assert_int_eq (colo_rule_same (&a, &b), 0);
    b = a;
    b.dport_hi = 3390;
    ck_assert_int_eq (colo_rule_same (&a, &b), 0);
    b = a;
    colo_rule_parse_cidr ("10.0.0.4/31", &b.src);
    ck_assert_int_eq (colo_rule_same (&a, &b), 0);
}
END_TEST

START_TEST (test_match_both_directions)
{
    //  "bypass RDP": dport 3389 matches the client's packets and the
    //  guest's replies.
    colo_rule_t rdp;
    colo_rule_init (&rdp);
    rdp.proto = 6;
    rdp.has_dport = 1;
    rdp.dport_lo = rdp.dport_hi = 3389;
    s_frame_t to_guest, from_guest, other, udp;
    s_frame (&to_guest, 6, "10.0.0.1", 50000, "10.0.0.2", 3389);
    s_frame (&from_guest, 6, "10.0.0.2", 3389, "10.0.0.1", 50000);
    s_frame (&other, 6, "10.0.0.2", 3390, "10.0.0.1", 50000);
    s_frame (&udp, 17, "10.0.0.2", 3389, "10.0.0.1", 50000);
    ck_assert_int_eq (s_matches (&rdp, &to_guest), 1);
    ck_assert_int_eq (s_matches (&rdp, &from_guest), 1);
    ck_assert_int_eq (s_matches (&rdp, &other), 0);
    ck_assert_int_eq (s_matches (&rdp, &udp), 0);
    rdp.proto = COLO_RULE_PROTO_ANY;  //  TCP and UDP 3389
    ck_assert_int_eq (s_matches (&rdp, &udp), 1);

    //  Address and port swap together: endpoint 10.0.0.2:3389.
    colo_rule_t ep;
    colo_rule_init (&ep);
    colo_rule_parse_cidr ("10.0.0.2", &ep.src);
    ep.has_sport = 1;
    ep.sport_lo = ep.sport_hi = 3389;
    ck_assert_int_eq (s_matches (&ep, &to_guest), 1);
    ck_assert_int_eq (s_matches (&ep, &from_guest), 1);
    s_frame_t mixed;  //  10.0.0.2 with 3389 at the other end
    s_frame (&mixed, 6, "10.0.0.2", 50000, "10.0.0.1", 3389);
    ck_assert_int_eq (s_matches (&ep, &mixed), 0);

    s_frame_free (&to_guest);
    s_frame_free (&from_guest);
    s_frame_free (&other);
    s_frame_free (&udp);
    s_frame_free (&mixed);
}
END_TEST

START_TEST (test_match_prefixes_v4_v6)
{
    colo_rule_t net;
    colo_rule_init (&net);
    colo_rule_parse_cidr ("192.168.4.0/23", &net.dst);
    s_frame_t in, edge, out, v6;
    s_frame (&in, 17, "192.168.5.255", 53, "8.8.8.8", 53);  //  src side, reversed
    s_frame (&edge, 17, "8.8.8.8", 53, "192.168.4.0", 53);
    s_frame (&out, 17, "8.8.8.8", 53, "192.168.6.1", 53);
    s_frame (&v6, 17, "fd00::1", 53, "fd00::2", 53);
    ck_assert_int_eq (s_matches (&net, &in), 1);
    ck_assert_int_eq (s_matches (&net, &edge), 1);
    ck_assert_int_eq (s_matches (&net, &out), 0);
    ck_assert_int_eq (s_matches (&net, &v6), 0);

    colo_rule_t net6;
    colo_rule_init (&net6);
    colo_rule_parse_cidr ("fd00::/64", &net6.src);
    colo_rule_parse_cidr ("fd00::2", &net6.dst);
    ck_assert_int_eq (s_matches (&net6, &v6), 1);
    s_frame_t v6b, v6c;
    s_frame (&v6b, 17, "fd00::2", 53, "fd00::77", 53);  //  reversed
    s_frame (&v6c, 17, "fd00:0:0:1::1", 53, "fd00::2", 53);
    ck_assert_int_eq (s_matches (&net6, &v6b), 1);
    ck_assert_int_eq (s_matches (&net6, &v6c), 0);
    ck_assert_int_eq (s_matches (&net6, &in), 0);

    //  /0 restricts the family only.
    colo_rule_t all4;
    colo_rule_init (&all4);
    colo_rule_parse_cidr ("0.0.0.0/0", &all4.src);
    ck_assert_int_eq (s_matches (&all4, &out), 1);
    ck_assert_int_eq (s_matches (&all4, &v6), 0);

    s_frame_free (&in);
    s_frame_free (&edge);
    s_frame_free (&out);
    s_frame_free (&v6);
    s_frame_free (&v6b);
    s_frame_free (&v6c);
}
END_TEST

START_TEST (test_match_ranges_protocols_wildcards)
{
    colo_rule_t range;
    colo_rule_init (&range);
    range.has_dport = 1;
    range.dport_lo = 1000;
    range.dport_hi = 2000;
    uint16_t ports[] = {999, 1000, 1500, 2000, 2001};
    int expect[] = {0, 1, 1, 1, 0};
    for (int i = 0; i < 5; i++) {
        s_frame_t f;
        s_frame (&f, 6, "10.0.0.1", 40000, "10.0.0.2", ports[i]);
        ck_assert_msg (s_matches (&range, &f) == expect[i], "port %u", ports[i]);
        s_frame_free (&f);
    }
    //  ICMP carries no ports: a port rule never matches it.
    s_frame_t icmp, icmp6;
    s_frame (&icmp, 1, "10.0.0.1", 0, "10.0.0.2", 0);
    s_frame (&icmp6, 58, "fd00::1", 0, "fd00::2", 0);
    range.dport_lo = 0;
    ck_assert_int_eq (s_matches (&range, &icmp), 0);

    colo_rule_t by_proto;
    colo_rule_init (&by_proto);
    colo_rule_parse_proto ("icmp", &by_proto.proto);
    ck_assert_int_eq (s_matches (&by_proto, &icmp), 1);
    ck_assert_int_eq (s_matches (&by_proto, &icmp6), 0);
    colo_rule_parse_proto ("icmpv6", &by_proto.proto);
    ck_assert_int_eq (s_matches (&by_proto, &icmp6), 1);

    //  Everything wildcard: every IP packet, but not ARP.
    colo_rule_t any;
    colo_rule_init (&any);
    ck_assert_int_eq (s_matches (&any, &icmp), 1);
    ck_assert_int_eq (s_matches (&any, &icmp6), 1);
    colo_test_pkt_t spec = {0};
    spec.arp_op = 1;
    colo_buf_t *arp = colo_test_packet (&spec);
    colo_packet_t pkt;
    ck_assert_int_eq (colo_packet_decode (&pkt, colo_buf_frame (arp), arp->len, NULL),
                      COLO_PKT_OK);
    ck_assert_int_eq (colo_rule_match (&any, &pkt, colo_buf_frame (arp)), 0);
    colo_buf_destroy (&arp);
    s_frame_free (&icmp);
    s_frame_free (&icmp6);
}
END_TEST

START_TEST (test_ruleset_basics)
{
    colo_rule_t rules[4];
    for (int i = 0; i < 4; i++) {
        colo_rule_init (&rules[i]);
        rules[i].id = (uint64_t)(10 + i);
        rules[i].proto = 6;
        rules[i].has_dport = 1;
        rules[i].dport_lo = rules[i].dport_hi = 80;
    }
    snprintf (rules[0].vm, sizeof rules[0].vm, "vm1");
    snprintf (rules[1].vm, sizeof rules[1].vm, "vm2");
    snprintf (rules[3].vm, sizeof rules[3].vm, "vm1");
    //  rules[2] is global

    colo_ruleset_t *all = colo_ruleset_new (rules, 4, 42, NULL);
    const colo_ruleset_t *rs = colo_ruleset_new (rules, 4, 42, "vm2");
    ck_assert_ptr_nonnull (all);
    ck_assert_ptr_nonnull (rs);
    ck_assert_uint_eq (colo_ruleset_count (all), 4);
    ck_assert_uint_eq (colo_ruleset_count (rs), 2);
    ck_assert_uint_eq (colo_ruleset_version (rs), 42);
    ck_assert_uint_eq (colo_ruleset_rule (rs, 0)->id, 11);
    ck_assert_uint_eq (colo_ruleset_rule (rs, 1)->id, 12);
    ck_assert_ptr_null (colo_ruleset_rule (rs, 2));
    ck_assert_ptr_null (colo_ruleset_find (rs, 10));
    ck_assert_uint_eq (colo_ruleset_find (rs, 12)->id, 12);
    ck_assert_uint_eq (colo_ruleset_find (all, 13)->id, 13);
    ck_assert_uint_eq (colo_ruleset_index (all, colo_ruleset_find (all, 13)), 3);

    s_frame_t web;
    s_frame (&web, 6, "10.0.0.2", 80, "10.0.0.1", 40000);
    //  The lowest id among the matching rules.
    const colo_rule_t *hit = colo_ruleset_match (rs, &web.pkt, colo_buf_frame (web.buf));
    ck_assert_ptr_nonnull (hit);
    ck_assert_uint_eq (hit->id, 11);
    hit = colo_ruleset_match (all, &web.pkt, colo_buf_frame (web.buf));
    ck_assert_uint_eq (hit->id, 10);
    ck_assert_ptr_null (colo_ruleset_match (NULL, &web.pkt, colo_buf_frame (web.buf)));
    const colo_ruleset_t *none = colo_ruleset_new (NULL, 0, 0, NULL);
    ck_assert_ptr_null (colo_ruleset_match (none, &web.pkt, colo_buf_frame (web.buf)));
    colo_ruleset_destroy (&none);

    //  References: the set lives until the last one goes.
    const colo_ruleset_t *second = colo_ruleset_ref (rs);
    colo_ruleset_destroy (&rs);
    ck_assert_ptr_null (rs);
    ck_assert_ptr_nonnull (colo_ruleset_match (second, &web.pkt, colo_buf_frame (web.buf)));
    colo_ruleset_destroy (&second);
    colo_ruleset_destroy (&second);  //  idempotent
    const colo_ruleset_t *c_all = all;
    colo_ruleset_destroy (&c_all);
    s_frame_free (&web);
}
END_TEST

//  A small deterministic generator.
static uint64_t
s_rand (uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

static void
s_random_cidr (uint64_t *st, int family, colo_cidr_t *c)
{
    memset (c, 0, sizeof *c);
    c->family = (uint8_t)family;
    unsigned bits = family == 4 ? 32 : 128;
    static const unsigned lens4[] = {0, 8, 16, 23, 24, 30, 32, 32, 32};
    static const unsigned lens6[] = {0, 48, 64, 64, 127, 128, 128};
    c->prefix_len =
        (uint8_t)(family == 4 ? lens4[s_rand (st) % 9] : lens6[s_rand (st) % 7]);
    //  Addresses from a small pool, so rules and packets meet.
    if (family == 4) {
        c->addr[0] = 10;
        c->addr[2] = (uint8_t)(s_rand (st) % 3);
        c->addr[3] = (uint8_t)(s_rand (st) % 4);
    }
    else {
        c->addr[0] = 0xfd;
        c->addr[7] = (uint8_t)(s_rand (st) % 2);
        c->addr[15] = (uint8_t)(s_rand (st) % 4);
    }
    for (unsigned b = c->prefix_len; b < bits; b++)
        c->addr[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
}

static void
s_random_ports (uint64_t *st, uint8_t *has, uint16_t *lo, uint16_t *hi)
{
    unsigned kind = (unsigned)(s_rand (st) % 5);
    *has = kind != 0;
    *lo = (uint16_t)(1000 + s_rand (st) % 8);
    *hi = *lo;
    if (kind == 3)
        *hi = (uint16_t)(*lo + s_rand (st) % 12);  //  narrow range
    else if (kind == 4)
        *hi = (uint16_t)(*lo + 20 + s_rand (st) % 100);  //  wide range
}

START_TEST (test_ruleset_agrees_with_reference)
{
    //  The index must find exactly what a linear scan finds: the first
    //  matching rule.
    enum { N_RULES = 400, N_PACKETS = 4000 };
    static colo_rule_t rules[N_RULES];
    uint64_t st = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < N_RULES; i++) {
        colo_rule_t *r = &rules[i];
        colo_rule_init (r);
        r->id = (uint64_t)i + 1;
        int family = s_rand (&st) % 3 == 0 ? 6 : 4;
        unsigned shape = (unsigned)(s_rand (&st) % 8);
        if (shape & 1)
            s_random_cidr (&st, family, &r->src);
        if (shape & 2)
            s_random_cidr (&st, family, &r->dst);
        s_random_ports (&st, &r->has_sport, &r->sport_lo, &r->sport_hi);
        s_random_ports (&st, &r->has_dport, &r->dport_lo, &r->dport_hi);
        unsigned p = (unsigned)(s_rand (&st) % 4);
        r->proto = p == 0 ? COLO_RULE_PROTO_ANY : p == 1 ? 6 : 17;
        if ((shape & 4) && !r->has_sport && !r->has_dport)
            r->proto = family == 4 ? 1 : 58;
        //  Keep mostly specific rules, or everything matches the first one.
        if (colo_rule_matches_all (r) && s_rand (&st) % 8)
            r->proto = 17;
        char err[128];
        ck_assert_msg (colo_rule_validate (r, err, sizeof err) == 0, "rule %d: %s", i, err);
    }
    const colo_ruleset_t *rs = colo_ruleset_new (rules, N_RULES, 1, NULL);
    ck_assert_ptr_nonnull (rs);
    int hits = 0;
    for (int i = 0; i < N_PACKETS; i++) {
        int v6 = s_rand (&st) % 3 == 0;
        static const uint8_t protos[] = {6, 17, 1, 47};
        uint8_t proto = protos[s_rand (&st) % 4];
        if (v6 && proto == 1)
            proto = 58;
        char src[64], dst[64];
        if (v6) {
            snprintf (src, sizeof src, "fd00:0:0:%x::%x", (unsigned)(s_rand (&st) % 2),
                      (unsigned)(s_rand (&st) % 4));
            snprintf (dst, sizeof dst, "fd00:0:0:%x::%x", (unsigned)(s_rand (&st) % 2),
                      (unsigned)(s_rand (&st) % 4));
        }
        else {
            snprintf (src, sizeof src, "10.0.%u.%u", (unsigned)(s_rand (&st) % 3),
                      (unsigned)(s_rand (&st) % 4));
            snprintf (dst, sizeof dst, "10.0.%u.%u", (unsigned)(s_rand (&st) % 3),
                      (unsigned)(s_rand (&st) % 4));
        }
        uint16_t sport = (uint16_t)(995 + s_rand (&st) % 130);
        uint16_t dport = (uint16_t)(995 + s_rand (&st) % 130);
        s_frame_t f;
        s_frame (&f, proto == 47 ? 17 : proto, src, sport, dst, dport);
        if (proto == 47) {
            //  An IP protocol the decoder does not know: no ports.
            uint8_t *frame = colo_buf_frame (f.buf);
            if (v6)
                frame[f.pkt.l3_off + 6] = 47;
            else
                frame[f.pkt.l3_off + 9] = 47;
            colo_packet_t pkt;
            colo_packet_decode (&pkt, frame, f.buf->len, NULL);
            f.pkt = pkt;
            ck_assert_int_eq (f.pkt.l4, COLO_L4_OTHER);
        }
        const colo_rule_t *expect = NULL;
        for (int r = 0; r < N_RULES && !expect; r++)
            if (s_matches (&rules[r], &f))
                expect = &rules[r];
        const colo_rule_t *got = colo_ruleset_match (rs, &f.pkt, colo_buf_frame (f.buf));
        ck_assert_msg ((expect ? expect->id : 0) == (got ? got->id : 0),
                       "packet %d: expected rule %llu, got %llu", i,
                       (unsigned long long)(expect ? expect->id : 0),
                       (unsigned long long)(got ? got->id : 0));
        hits += expect != NULL;
        s_frame_free (&f);
    }
    //  The workload exercises both outcomes.
    ck_assert_int_gt (hits, N_PACKETS / 20);
    ck_assert_int_lt (hits, N_PACKETS - N_PACKETS / 20);
    colo_ruleset_destroy (&rs);
}
END_TEST

START_TEST (test_rule_format)
{
    colo_rule_t r;
    colo_rule_init (&r);
    char buf[200];
    ck_assert_str_eq (colo_rule_format (&r, buf, sizeof buf), "any any <-> any");
    r.proto = 6;
    colo_rule_parse_cidr ("10.0.0.0/8", &r.src);
    r.has_dport = 1;
    r.dport_lo = 3389;
    r.dport_hi = 3390;
    snprintf (r.vm, sizeof r.vm, "vm1");
    ck_assert_str_eq (colo_rule_format (&r, buf, sizeof buf),
                      "tcp 10.0.0.0/8 <-> any port 3389-3390 vm vm1");
    ck_assert_str_eq (colo_proto_format (132, buf, sizeof buf), "132");
    colo_cidr_t c;
    colo_rule_parse_cidr ("fd00::1", &c);
    ck_assert_str_eq (colo_cidr_format (&c, buf, sizeof buf), "fd00::1/128");
    ck_assert_str_eq (colo_rule_format (&r, buf, 5), "tcp ");
}
END_TEST

Suite *
colo_ruleset_suite (void)
{
    Suite *s = suite_create ("colo_ruleset");
    TCase *tc = tcase_create ("core");
    tcase_add_test (tc, test_rule_parse);
    tcase_add_test (tc, test_rule_validate);
    tcase_add_test (tc, test_rule_matches_all);
    tcase_add_test (tc, test_rule_same);
    tcase_add_test (tc, test_match_both_directions);
    tcase_add_test (tc, test_match_prefixes_v4_v6);
    tcase_add_test (tc, test_match_ranges_protocols_wildcards);
    tcase_add_test (tc, test_ruleset_basics);
    tcase_add_test (tc, test_ruleset_agrees_with_reference);
    tcase_add_test (tc, test_rule_format);
    suite_add_tcase (s, tc);
    return s;
}
