/*  rules.c - passthrough rule lookup cost at 0, 10, 1k and 10k rules.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Usage: rules [--lookups N] [--json]
 *  Builds rulesets of 0, 10, 1,000 and 10,000 rules shaped like a fleet's
 *  (host + port bypasses, port-only bypasses, /24 networks, a few narrow
 *  ranges and protocol-only rules), then looks up N decoded packets (TCP
 *  and UDP, IPv4 and IPv6; 1 in 8 aimed at a rule, the others random, which
 *  the bigger rule sets also catch) with colo_ruleset_match and prints ns
 *  per lookup, the difference to 0 rules and the ratio.  For
 *  comparison it also times a linear scan with colo_rule_match (fewer
 *  lookups).  Each figure is the best of 5 rounds.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo_log.h"
#include "colo_packet.h"
#include "colo_ruleset.h"

#define S_PACKETS 4096

typedef struct {
    uint8_t frame[128];
    size_t len;
    colo_packet_t pkt;
} s_pkt_t;

static volatile uint64_t s_sink;

static uint64_t
s_rand (uint64_t *st)
{
    *st ^= *st << 13;
    *st ^= *st >> 7;
    *st ^= *st << 17;
    return *st;
}

static void
s_put16 (uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

//  An Ethernet + IPv4/IPv6 + TCP/UDP frame (checksums not needed to decode).
static int
s_build (s_pkt_t *p, int v6, uint8_t proto, const uint8_t *src, const uint8_t *dst,
         uint16_t sport, uint16_t dport)
{
    memset (p, 0, sizeof *p);
    uint8_t *f = p->frame;
    s_put16 (f + 12, v6 ? 0x86dd : 0x0800);
    size_t l4_len = proto == 6 ? 20 : 8;
    uint8_t *ip = f + 14;
    size_t ip_len = v6 ? 40 : 20;
    if (v6) {
        ip[0] = 0x60;
        s_put16 (ip + 4, (uint16_t)l4_len);
        ip[6] = proto;
        ip[7] = 64;
        memcpy (ip + 8, src, 16);
        memcpy (ip + 24, dst, 16);
    }
    else {
        ip[0] = 0x45;
        s_put16 (ip + 2, (uint16_t)(20 + l4_len));
        ip[8] = 64;
        ip[9] = proto;
        memcpy (ip + 12, src, 4);
        memcpy (ip + 16, dst, 4);
    }
    uint8_t *l4 = ip + ip_len;
    s_put16 (l4, sport);
    s_put16 (l4 + 2, dport);
    if (proto == 6)
        l4[12] = 0x50;
    else
        s_put16 (l4 + 4, 8);
    p->len = 14 + ip_len + l4_len;
    return colo_packet_decode (&p->pkt, p->frame, p->len, NULL) == COLO_PKT_OK ? 0 : -1;
}

static void
s_addr (uint64_t *st, int v6, uint8_t *out)
{
    memset (out, 0, 16);
    if (v6) {
        out[0] = 0xfd;
        out[13] = (uint8_t) s_rand (st);
        out[14] = (uint8_t)s_rand (st);
        out[15] = (uint8_t)s_rand (st);
    }
    else {
        out[0] = 10;
        out[1] = (uint8_t) s_rand (st);
        out[2] = (uint8_t)s_rand (st);
        out[3] = (uint8_t)s_rand (st);
    }
}

//  n rules shaped like a fleet's.
static colo_rule_t *
s_rules (size_t n, uint64_t *st)
{
    colo_rule_t *rules = (colo_rule_t *)calloc (n ? n : 1, sizeof *rules);
    if (!rules)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        colo_rule_t *r = &rules[i];
        colo_rule_init (r);
        r->id = i + 1;
        int v6 = s_rand (st) % 4 == 0;
        unsigned shape = (unsigned)(s_rand (st) % 100);
        if (i < 2)
            r->proto = i == 0 ? 47 : 132;  //  protocol-only: the scanned rest
        else if (shape < 60) {  //  a host's service
            r->proto = s_rand (st) % 2 ? 6 : 17;
            r->dst.family = v6 ? 6 : 4;
            r->dst.prefix_len = v6 ? 128 : 32;
            s_addr (st, v6, r->dst.addr);
            r->has_dport = 1;
            r->dport_lo = r->dport_hi = (uint16_t)(1 + s_rand (st) % 65535);
        }
        else if (shape < 75) {  //  a service everywhere
            r->proto = 6;
            r->has_dport = 1;
            r->dport_lo = r->dport_hi = (uint16_t)(1 + s_rand (st) % 65535);
        }
        else if (shape < 95) {  //  a network
            r->src.family = v6 ? 6 : 4;
            r->src.prefix_len = v6 ? 64 : 24;
            s_addr (st, v6, r->src.addr);
            if (v6)
                memset (r->src.addr + 8, 0, 8);
            else
                r->src.addr[3] = 0;
        }
        else {  //  a narrow range
            r->proto = 17;
            r->has_dport = 1;
            r->dport_lo = (uint16_t)(1024 + s_rand (st) % 60000);
            r->dport_hi = (uint16_t)(r->dport_lo + s_rand (st) % COLO_RULESET_PORT_SPAN);
        }
    }
    return rules;
}

//  Packets: about 1 in 8 aimed at a rule (when there are rules).
static void
s_packets (s_pkt_t *pkts, const colo_rule_t *rules, size_t n_rules, uint64_t *st)
{
    for (size_t i = 0; i < S_PACKETS; i++) {
        int v6 = s_rand (st) % 4 == 0;
        uint8_t proto = s_rand (st) % 3 ? 6 : 17;
        uint8_t src[16], dst[16];
        s_addr (st, v6, src);
        s_addr (st, v6, dst);
        uint16_t sport = (uint16_t)(32768 + s_rand (st) % 28000);
        uint16_t dport = (uint16_t)(1 + s_rand (st) % 65535);
        if (n_rules > 2 && s_rand (st) % 8 == 0) {
            const colo_rule_t *r = &rules[2 + s_rand (st) % (n_rules - 2)];
            if (r->dst.family)
                memcpy (dst, r->dst.addr, 16), v6 = r->dst.family == 6;
            if (r->src.family) {
                v6 = r->src.family == 6;
                memcpy (src, r->src.addr, 16);
                src[v6 ? 15 : 3] = 9;
                s_addr (st, v6, dst);
            }
            if (r->proto == 6 || r->proto == 17)
                proto = (uint8_t)r->proto;
            if (r->has_dport)
                dport = r->dport_lo;
        }
        if (s_build (&pkts[i], v6, proto, src, dst, sport, dport) != 0) {
            fprintf (stderr, "rules: cannot build a packet\n");
            exit (1);
        }
    }
}

static double
s_time_index (const colo_ruleset_t *rs, const s_pkt_t *pkts, uint64_t lookups,
              uint64_t *hits)
{
    double best = -1;
    for (int round = 0; round < 5; round++) {
        uint64_t found = 0;
        uint64_t start = colo_clock_mono_ns ();
        for (uint64_t i = 0; i < lookups; i++) {
            const s_pkt_t *p = &pkts[i % S_PACKETS];
            const colo_rule_t *r = colo_ruleset_match (rs, &p->pkt, p->frame);
            found += r != NULL;
        }
        double ns = (double)(colo_clock_mono_ns () - start) / (double)lookups;
        if (best < 0 || ns < best)
            best = ns;
        *hits = found;
    }
    s_sink += *hits;
    return best;
}

static double
s_time_linear (const colo_rule_t *rules, size_t n, const s_pkt_t *pkts, uint64_t lookups)
{
    double best = -1;
    for (int round = 0; round < 5; round++) {
        uint64_t found = 0;
        uint64_t start = colo_clock_mono_ns ();
        for (uint64_t i = 0; i < lookups; i++) {
            const s_pkt_t *p = &pkts[i % S_PACKETS];
            for (size_t k = 0; k < n; k++)
                if (colo_rule_match (&rules[k], &p->pkt, p->frame)) {
                    found++;
                    break;
                }
        }
        double ns = (double)(colo_clock_mono_ns () - start) / (double)lookups;
        if (best < 0 || ns < best)
            best = ns;
        s_sink += found;
    }
    return best;
}

int
main (int argc, char **argv)
{
    uint64_t lookups = 2000000;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "--lookups") == 0 && i + 1 < argc)
            lookups = strtoull (argv[++i], NULL, 10);
        else if (strcmp (argv[i], "--json") == 0)
            json = 1;
        else {
            fprintf (stderr, "usage: rules [--lookups N] [--json]\n");
            return 2;
        }
    }
    if (lookups == 0)
        return 2;
    static const size_t sizes[] = {0, 10, 1000, 10000};
    enum { N_SIZES = 4 };
    double index_ns[N_SIZES], linear_ns[N_SIZES];
    uint64_t hits[N_SIZES];
    s_pkt_t *pkts = (s_pkt_t *)malloc (S_PACKETS * sizeof *pkts);
    if (!pkts)
        return 1;
    int rc = 0;
    for (int s = 0; s < N_SIZES; s++) {
        uint64_t st = 0x2545f4914f6cdd1dULL;
        colo_rule_t *rules = s_rules (sizes[s], &st);
        const colo_ruleset_t *rs =
            rules ? colo_ruleset_new (rules, sizes[s], 1, NULL) : NULL;
        if (!rs) {
            fprintf (stderr, "rules: no memory\n");
            return 1;
        }
        s_packets (pkts, rules, sizes[s], &st);
        index_ns[s] = s_time_index (rs, pkts, lookups, &hits[s]);
        //  Cross-check the index against the scan on the packet pool.
        for (size_t i = 0; i < S_PACKETS; i++) {
            const colo_rule_t *want = NULL;
            for (size_t k = 0; k < sizes[s] && !want; k++)
                if (colo_rule_match (&rules[k], &pkts[i].pkt, pkts[i].frame))
                    want = &rules[k];
            if (colo_ruleset_match (rs, &pkts[i].pkt, pkts[i].frame)
                != (want ? colo_ruleset_find (rs, want->id) : NULL))
                rc = 1;
        }
        uint64_t linear_lookups = sizes[s] ? lookups / (sizes[s] / 10 + 1) + 1 : lookups;
        linear_ns[s] = s_time_linear (rules, sizes[s], pkts, linear_lookups);
        colo_ruleset_destroy (&rs);
        free (rules);
    }
    free (pkts);
    if (rc)
        fprintf (stderr, "rules: the index disagrees with a linear scan\n");
    if (json) {
        printf ("{\"benchmark\":\"rules\",\"lookups\":%llu,\"results\":[",
                (unsigned long long)lookups);
        for (int s = 0; s < N_SIZES; s++)
            printf ("%s{\"rules\":%zu,\"ns_per_lookup\":%.1f,\"over_none_ns\":%.1f,"
                    "\"ratio_to_none\":%.2f,\"linear_ns\":%.1f,\"hits\":%llu}",
                    s ? "," : "", sizes[s], index_ns[s], index_ns[s] - index_ns[0],
                    index_ns[0] > 0 ? index_ns[s] / index_ns[0] : 0, linear_ns[s],
                    (unsigned long long)hits[s]);
        printf ("],\"ok\":%s}\n", rc ? "false" : "true");
    }
    else {
        printf ("rules: colo_ruleset_match, best of 5 rounds of %llu lookups\n",
                (unsigned long long)lookups);
        for (int s = 0; s < N_SIZES; s++)
            printf ("  %5zu rules  %6.1f ns/lookup  (+%5.1f ns over none, ratio %5.2f)"
                    "  linear scan %9.1f ns  hits %llu\n",
                    sizes[s], index_ns[s], index_ns[s] - index_ns[0],
                    index_ns[0] > 0 ? index_ns[s] / index_ns[0] : 0, linear_ns[s],
                    (unsigned long long)hits[s]);
    }
    return rc;
}
