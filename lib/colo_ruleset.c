/*  colo_ruleset.c - passthrough rules: parsing, validation, and matching at packet rate.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo_ruleset.h"

// ---------------------------------------------------------------- rules

void
colo_rule_init (colo_rule_t *rule)
{
    memset (rule, 0, sizeof *rule);
    rule->proto = COLO_RULE_PROTO_ANY;
}

static int
s_parse_uint (const char *text, unsigned long max, unsigned long *out)
{
    if (!text || !isdigit ((unsigned char)text[0]))
        return -1;
    errno = 0;
    char *end = NULL;
    unsigned long value = strtoul (text, &end, 10);
    if (errno || *end || value > max)
        return -1;
    *out = value;
    return 0;
}

int
colo_rule_parse_proto (const char *text, int *proto)
{
    static const struct {
        const char *name;
        int number;
    } names[] = {
        {"tcp", COLO_IPPROTO_TCP},
        {"udp", COLO_IPPROTO_UDP},
        {"icmp", COLO_IPPROTO_ICMP},
        {"icmpv6", COLO_IPPROTO_ICMPV6},
    };
    if (!text)
        return -1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp (text, names[i].name) == 0) {
            *proto = names[i].number;
            return 0;
        }
    unsigned long value;
    if (s_parse_uint (text, 255, &value) != 0)
        return -1;
    *proto = (int)value;
    return 0;
}

//  1 if every bit of addr after prefix_len bits is zero.
static int
s_host_bits_clear (const uint8_t *addr, unsigned addr_len, unsigned prefix_len)
{
    for (unsigned bit = prefix_len; bit < addr_len * 8; bit++)
        if (addr[bit / 8] & (0x80u >> (bit % 8)))
            return 0;
    return 1;
}

int
colo_rule_parse_cidr (const char *text, colo_cidr_t *cidr)
{
    if (!text || !*text)
        return -1;
    char host[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr (text, '/');
    size_t host_len = slash ? (size_t)(slash - text) : strlen (text);
    if (host_len == 0 || host_len >= sizeof host)
        return -1;
    memcpy (host, text, host_len);
    host[host_len] = 0;
    colo_cidr_t out;
    memset (&out, 0, sizeof out);
    unsigned addr_len;
    if (inet_pton (AF_INET, host, out.addr) == 1) {
        out.family = 4;
        addr_len = 4;
    }
    else if (inet_pton (AF_INET6, host, out.addr) == 1) {
        out.family = 6;
        addr_len = 16;
    }
    else
        return -1;
    unsigned long prefix = addr_len * 8;
    if (slash && s_parse_uint (slash + 1, addr_len * 8, &prefix) != 0)
        return -1;
    out.prefix_len = (uint8_t)prefix;
    if (!s_host_bits_clear (out.addr, addr_len, out.prefix_len))
        return -1;
    *cidr = out;
    return 0;
}

int
colo_rule_parse_ports (const char *text, uint16_t *lo, uint16_t *hi)
{
    if (!text)
        return -1;
    char first[8];
    const char *dash = strchr (text, '-');
    size_t len = dash ? (size_t)(dash - text) : strlen (text);
    if (len == 0 || len >= sizeof first)
        return -1;
    memcpy (first, text, len);
    first[len] = 0;
    unsigned long a, b;
    if (s_parse_uint (first, 65535, &a) != 0)
        return -1;
    b = a;
    if (dash && s_parse_uint (dash + 1, 65535, &b) != 0)
        return -1;
    if (a > b)
        return -1;
    *lo = (uint16_t)a;
    *hi = (uint16_t)b;
    return 0;
}

int
colo_rule_name_ok (const char *name)
{
    if (!name)
        return 0;
    size_t len = strlen (name);
    if (len == 0 || len > COLO_RULE_VM_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!isalnum (c) && c != '.' && c != '_' && c != '-')
            return 0;
    }
    return 1;
}

static int
s_cidr_ok (const colo_cidr_t *cidr)
{
    if (cidr->family == 0)
        return cidr->prefix_len == 0;
    unsigned addr_len = cidr->family == 4 ? 4 : cidr->family == 6 ? 16 : 0;
    if (addr_len == 0 || cidr->prefix_len > addr_len * 8)
        return 0;
    if (addr_len == 4) {
        for (int i = 4; i < 16; i++)
            if (cidr->addr[i])
                return 0;
    }
    return s_host_bits_clear (cidr->addr, addr_len, cidr->prefix_len);
}

int
colo_rule_validate (const colo_rule_t *rule, char *err, size_t err_cap)
{
    const char *why = NULL;
    size_t vm_len = strnlen (rule->vm, sizeof rule->vm);
    size_t comment_len = strnlen (rule->comment, sizeof rule->comment);
    if (vm_len == sizeof rule->vm || (vm_len > 0 && !colo_rule_name_ok (rule->vm)))
        why = "vm: 1 to 63 characters of A-Z a-z 0-9 . _ -";
    else if (comment_len == sizeof rule->comment)
        why = "comment: at most 127 bytes";
    else if (rule->proto < COLO_RULE_PROTO_ANY || rule->proto > 255)
        why = "proto: tcp, udp, icmp, icmpv6 or 0..255";
    else if (!s_cidr_ok (&rule->src))
        why = "src: not a prefix (host bits set, or length out of range)";
    else if (!s_cidr_ok (&rule->dst))
        why = "dst: not a prefix (host bits set, or length out of range)";
    else if (rule->src.family && rule->dst.family && rule->src.family != rule->dst.family)
        why = "src and dst are of different address families";
    else if ((rule->has_sport && rule->sport_lo > rule->sport_hi)
             || (rule->has_dport && rule->dport_lo > rule->dport_hi))
        why = "port range: the first port is above the last";
    else if ((rule->has_sport || rule->has_dport) && rule->proto != COLO_RULE_PROTO_ANY
             && rule->proto != COLO_IPPROTO_TCP && rule->proto != COLO_IPPROTO_UDP)
        why = "ports need proto tcp or udp (or no proto)";
    else if (rule->proto == COLO_IPPROTO_ICMP
             && (rule->src.family == 6 || rule->dst.family == 6))
        why = "icmp is IPv4 only (use icmpv6)";
    else if (rule->proto == COLO_IPPROTO_ICMPV6
             && (rule->src.family == 4 || rule->dst.family == 4))
        why = "icmpv6 is IPv6 only (use icmp)";
    else {
        for (size_t i = 0; i < comment_len; i++)
            if ((unsigned char)rule->comment[i] < 0x20 || rule->comment[i] == 0x7f) {
                why = "comment: control characters";
                break;
            }
    }
    if (why) {
        if (err && err_cap)
            snprintf (err, err_cap, "%s", why);
        return -1;
    }
    return 0;
}

int
colo_rule_matches_all (const colo_rule_t *rule)
{
    return rule->proto == COLO_RULE_PROTO_ANY && rule->src.prefix_len == 0
           && rule->dst.prefix_len == 0
           && (!rule->has_sport || (rule->sport_lo == 0 && rule->sport_hi == 65535))
           && (!rule->has_dport || (rule->dport_lo == 0 && rule->dport_hi == 65535));
}

static int
s_cidr_eq (const colo_cidr_t *a, const colo_cidr_t *b)
{
    return a->family == b->family && a->prefix_len == b->prefix_len
           && memcmp (a->addr, b->addr, sizeof a->addr) == 0;
}

static int
s_ports_eq (uint8_t has_a, uint16_t lo_a, uint16_t hi_a, uint8_t has_b, uint16_t lo_b,
            uint16_t hi_b)
{
    return has_a == has_b && (!has_a || (lo_a == lo_b && hi_a == hi_b));
}

int
colo_rule_same (const colo_rule_t *a, const colo_rule_t *b)
{
    if (strcmp (a->vm, b->vm) != 0 || a->proto != b->proto)
        return 0;
    if (s_cidr_eq (&a->src, &b->src) && s_cidr_eq (&a->dst, &b->dst)
        && s_ports_eq (a->has_sport, a->sport_lo, a->sport_hi, b->has_sport, b->sport_lo,
                       b->sport_hi)
        && s_ports_eq (a->has_dport, a->dport_lo, a->dport_hi, b->has_dport, b->dport_lo,
                       b->dport_hi))
        return 1;
    //  The same connection described from the other end.
    return s_cidr_eq (&a->src, &b->dst) && s_cidr_eq (&a->dst, &b->src)
           && s_ports_eq (a->has_sport, a->sport_lo, a->sport_hi, b->has_dport, b->dport_lo,
                          b->dport_hi)
           && s_ports_eq (a->has_dport, a->dport_lo, a->dport_hi, b->has_sport, b->sport_lo,
                          b->sport_hi);
}

// ---------------------------------------------------------------- matching core

//  What the matcher needs of a rule, compact.
typedef struct {
    int16_t proto;  //  -1 any
    uint8_t family;  //  0 any, 4 or 6 (of src and/or dst)
    uint8_t src_len, dst_len;  //  prefix lengths (0 with has_* = /0)
    uint8_t has_src, has_dst;
    uint8_t has_sport, has_dport;
    uint16_t sport_lo, sport_hi, dport_lo, dport_hi;
    uint8_t src[16], dst[16];
} s_match_t;

//  What the matcher needs of a packet.
typedef struct {
    uint8_t family;  //  4 or 6
    uint8_t proto;
    uint8_t has_ports;
    uint16_t sport, dport;
    const uint8_t *src, *dst;  //  addr_len bytes in the frame
} s_pkt_t;

static void
s_match_from_rule (s_match_t *m, const colo_rule_t *rule)
{
    memset (m, 0, sizeof *m);
    m->proto = (int16_t)rule->proto;
    m->family = rule->src.family ? rule->src.family : rule->dst.family;
    m->has_src = rule->src.family != 0;
    m->has_dst = rule->dst.family != 0;
    m->src_len = rule->src.prefix_len;
    m->dst_len = rule->dst.prefix_len;
    memcpy (m->src, rule->src.addr, 16);
    memcpy (m->dst, rule->dst.addr, 16);
    m->has_sport = rule->has_sport;
    m->has_dport = rule->has_dport;
    m->sport_lo = rule->sport_lo;
    m->sport_hi = rule->sport_hi;
    m->dport_lo = rule->dport_lo;
    m->dport_hi = rule->dport_hi;
}

static inline int
s_prefix_eq (const uint8_t *net, const uint8_t *addr, unsigned len)
{
    unsigned bytes = len / 8;
    if (bytes && memcmp (net, addr, bytes) != 0)
        return 0;
    unsigned bits = len % 8;
    if (bits) {
        uint8_t mask = (uint8_t)(0xff00u >> bits);
        if ((addr[bytes] & mask) != net[bytes])
            return 0;
    }
    return 1;
}

//  The rule's src side is packet endpoint a, its dst side endpoint b.
static inline int
s_match_dir (const s_match_t *m, const uint8_t *a, const uint8_t *b, uint16_t a_port,
             uint16_t b_port)
{
    if (m->has_sport && (a_port < m->sport_lo || a_port > m->sport_hi))
        return 0;
    if (m->has_dport && (b_port < m->dport_lo || b_port > m->dport_hi))
        return 0;
    if (m->has_src && !s_prefix_eq (m->src, a, m->src_len))
        return 0;
    if (m->has_dst && !s_prefix_eq (m->dst, b, m->dst_len))
        return 0;
    return 1;
}

static inline int
s_match (const s_match_t *m, const s_pkt_t *p)
{
    if (m->proto >= 0 && m->proto != p->proto)
        return 0;
    if (m->family && m->family != p->family)
        return 0;
    if ((m->has_sport || m->has_dport) && !p->has_ports)
        return 0;
    return s_match_dir (m, p->src, p->dst, p->sport, p->dport)
           || s_match_dir (m, p->dst, p->src, p->dport, p->sport);
}

//  Fill p from a decoded packet; -1 if it is not IP (matches no rule).
static inline int
s_pkt_from (s_pkt_t *p, const colo_packet_t *pkt, const uint8_t *frame)
{
    if (pkt->l3 == COLO_L3_IPV4 && pkt->addr_len == 4)
        p->family = 4;
    else if (pkt->l3 == COLO_L3_IPV6 && pkt->addr_len == 16)
        p->family = 6;
    else
        return -1;
    if (!frame || (uint64_t)pkt->src_off + pkt->addr_len > pkt->frame_len
        || (uint64_t)pkt->dst_off + pkt->addr_len > pkt->frame_len)
        return -1;
    p->proto = pkt->ip_proto;
    p->has_ports = pkt->l4 == COLO_L4_TCP || pkt->l4 == COLO_L4_UDP;
    p->sport = p->has_ports ? pkt->sport : 0;
    p->dport = p->has_ports ? pkt->dport : 0;
    p->src = frame + pkt->src_off;
    p->dst = frame + pkt->dst_off;
    return 0;
}

int
colo_rule_match (const colo_rule_t *rule, const colo_packet_t *pkt, const uint8_t *frame)
{
    s_pkt_t p;
    if (s_pkt_from (&p, pkt, frame) != 0)
        return 0;
    s_match_t m;
    s_match_from_rule (&m, rule);
    return s_match (&m, &p);
}

// ---------------------------------------------------------------- formatting

char *
colo_cidr_format (const colo_cidr_t *cidr, char *buf, size_t cap)
{
    if (!cap)
        return buf;
    if (cidr->family == 0) {
        snprintf (buf, cap, "any");
        return buf;
    }
    char addr[INET6_ADDRSTRLEN];
    if (!inet_ntop (cidr->family == 4 ? AF_INET : AF_INET6, cidr->addr, addr, sizeof addr))
        snprintf (addr, sizeof addr, "?");
    snprintf (buf, cap, "%s/%u", addr, cidr->prefix_len);
    return buf;
}

char *
colo_proto_format (int proto, char *buf, size_t cap)
{
    if (!cap)
        return buf;
    switch (proto) {
        case COLO_RULE_PROTO_ANY:
            snprintf (buf, cap, "any");
            break;
        case COLO_IPPROTO_TCP:
            snprintf (buf, cap, "tcp");
            break;
        case COLO_IPPROTO_UDP:
            snprintf (buf, cap, "udp");
            break;
        case COLO_IPPROTO_ICMP:
            snprintf (buf, cap, "icmp");
            break;
        case COLO_IPPROTO_ICMPV6:
            snprintf (buf, cap, "icmpv6");
            break;
        default:
            snprintf (buf, cap, "%d", proto);
            break;
    }
    return buf;
}

static void
s_endpoint_format (const colo_cidr_t *cidr, uint8_t has_port, uint16_t lo, uint16_t hi,
                   char *buf, size_t cap)
{
    char addr[64];
    colo_cidr_format (cidr, addr, sizeof addr);
    if (!has_port)
        snprintf (buf, cap, "%s", addr);
    else if (lo == hi)
        snprintf (buf, cap, "%s port %u", addr, lo);
    else
        snprintf (buf, cap, "%s port %u-%u", addr, lo, hi);
}

char *
colo_rule_format (const colo_rule_t *rule, char *buf, size_t cap)
{
    if (!cap)
        return buf;
    char proto[16], src[96], dst[96];
    colo_proto_format (rule->proto, proto, sizeof proto);
    s_endpoint_format (&rule->src, rule->has_sport, rule->sport_lo, rule->sport_hi, src,
                       sizeof src);
    s_endpoint_format (&rule->dst, rule->has_dport, rule->dport_lo, rule->dport_hi, dst,
                       sizeof dst);
    snprintf (buf, cap, "%s %s <-> %s%s%s", proto, src, dst, rule->vm[0] ? " vm " : "",
              rule->vm);
    return buf;
}

// ---------------------------------------------------------------- the ruleset

//  An open-addressing hash slot: key, and the key's candidates
//  cand[first .. first + count), rule positions in ascending order.
typedef struct {
    uint64_t key;  //  0 = empty (real keys have bit 63 set)
    uint32_t first, count;
} s_slot_t;

#define S_FILTER_BITS 18  //  pre-filter: 2^18 bits (32 KiB) per table

typedef struct {
    s_slot_t *slots;
    unsigned shift;  //  64 - log2 (capacity)
    uint32_t mask;  //  capacity - 1, 0 if the table is empty
    uint32_t *cand;
    //  One bit per hash of a key present: most packets match no rule, and
    //  a miss here costs one load from a small, hot array.
    uint64_t *filter;
} s_table_t;

struct colo_ruleset {
    int refs;  //  atomic
    uint64_t version;
    size_t count;
    colo_rule_t *rules;
    s_match_t *m;
    //  Rules keyed by a narrow port: key (1 << 63) | proto_key << 16 | port,
    //  proto_key 256 for "any".
    s_table_t ports;
    uint8_t port_protos[257];  //  1 if some port rule has this proto_key
    //  Rules keyed by a prefix: key (family, length, network), exact for
    //  IPv4, hashed for IPv6 (colliding networks share a slot; candidates
    //  are always checked in full).
    s_table_t prefixes;
    uint8_t plen4[33], n_plen4;  //  distinct prefix lengths in the table
    uint8_t plen6[129], n_plen6;
    //  The rest, scanned.
    uint32_t *rest;
    size_t n_rest;
};

//  Fibonacci hashing: the top bits of key * 2^64/phi.
static inline uint64_t
s_fib (uint64_t key)
{
    return key * 0x9e3779b97f4a7c15ULL;
}

static inline uint64_t
s_port_key (unsigned proto_key, unsigned port)
{
    return (1ULL << 63) | ((uint64_t)proto_key << 16) | port;
}

static inline uint64_t
s_prefix_key4 (unsigned len, const uint8_t *addr)
{
    uint32_t a = (uint32_t)addr[0] << 24 | (uint32_t)addr[1] << 16 | (uint32_t)addr[2] << 8
                 | addr[3];
    uint32_t mask = len ? ~0u << (32 - len) : 0;
    return (1ULL << 63) | (4ULL << 40) | ((uint64_t)len << 32) | (a & mask);
}

static inline uint64_t
s_prefix_key6 (unsigned len, const uint8_t *addr)
{
    uint64_t hi, lo;
    memcpy (&hi, addr, 8);
    memcpy (&lo, addr + 8, 8);
    hi = be64toh (hi);
    lo = be64toh (lo);
    if (len <= 64) {
        hi &= len ? ~0ULL << (64 - len) : 0;
        lo = 0;
    }
    else
        lo &= ~0ULL << (128 - len);
    uint64_t h = s_fib (hi ^ ((uint64_t)len << 1 | 1));
    h ^= h >> 29;
    h = s_fib (h ^ lo);
    h ^= h >> 32;
    return h | (1ULL << 63);
}

static inline uint64_t
s_prefix_key (unsigned family, unsigned len, const uint8_t *addr)
{
    return family == 4 ? s_prefix_key4 (len, addr) : s_prefix_key6 (len, addr);
}

static inline int
s_filter_test (const s_table_t *t, uint64_t key)
{
    uint64_t h = s_fib (key) >> (64 - S_FILTER_BITS);
    return (t->filter[h >> 6] >> (h & 63)) & 1;
}

static inline const s_slot_t *
s_table_find (const s_table_t *t, uint64_t key)
{
    if (!t->mask || !s_filter_test (t, key))
        return NULL;
    uint32_t i = (uint32_t)(s_fib (key ^ (key >> 29)) >> t->shift);
    while (1) {
        const s_slot_t *slot = &t->slots[i];
        if (slot->key == key)
            return slot;
        if (slot->key == 0)
            return NULL;
        i = (i + 1) & t->mask;
    }
}

//  Entries (key, rule position) collected before the table is built.
typedef struct {
    uint64_t key;
    uint32_t pos;
} s_entry_t;

static int
s_entry_cmp (const void *a, const void *b)
{
    const s_entry_t *x = (const s_entry_t *)a, *y = (const s_entry_t *)b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

//  Build t from n entries (sorted here).  Returns 0 or -1 (no memory).
static int
s_table_build (s_table_t *t, s_entry_t *e, size_t n)
{
    memset (t, 0, sizeof *t);
    if (n == 0)
        return 0;
    qsort (e, n, sizeof *e, s_entry_cmp);
    size_t keys = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || e[i].key != e[i - 1].key)
            keys++;
    uint32_t cap = 16;
    unsigned log2 = 4;
    while (cap < keys * 2) {
        cap *= 2;
        log2++;
    }
    t->slots = (s_slot_t *)calloc (cap, sizeof *t->slots);
    t->cand = (uint32_t *)malloc (n * sizeof *t->cand);
    t->filter = (uint64_t *)calloc ((1u << S_FILTER_BITS) / 64, sizeof (uint64_t));
    if (!t->slots || !t->cand || !t->filter)
        return -1;
    t->mask = cap - 1;
    t->shift = 64 - log2;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && e[j].key == e[i].key) {
            t->cand[j] = e[j].pos;
            j++;
        }
        uint64_t key = e[i].key;
        uint64_t h = s_fib (key) >> (64 - S_FILTER_BITS);
        t->filter[h >> 6] |= 1ULL << (h & 63);
        uint32_t at = (uint32_t)(s_fib (key ^ (key >> 29)) >> t->shift);
        while (t->slots[at].key != 0)
            at = (at + 1) & t->mask;
        t->slots[at].key = key;
        t->slots[at].first = (uint32_t)i;
        t->slots[at].count = (uint32_t)(j - i);
        i = j;
    }
    return 0;
}

static void
s_table_free (s_table_t *t)
{
    free (t->slots);
    free (t->cand);
    free (t->filter);
    memset (t, 0, sizeof *t);
}

static void
s_ruleset_free (colo_ruleset_t *rs)
{
    if (!rs)
        return;
    s_table_free (&rs->ports);
    s_table_free (&rs->prefixes);
    free (rs->rest);
    free (rs->m);
    free (rs->rules);
    free (rs);
}

static int
s_narrow (uint8_t has, uint16_t lo, uint16_t hi)
{
    return has && (unsigned)hi - lo < COLO_RULESET_PORT_SPAN;
}

colo_ruleset_t *
colo_ruleset_new (const colo_rule_t *rules, size_t n, uint64_t version, const char *vm)
{
    colo_ruleset_t *rs = (colo_ruleset_t *)calloc (1, sizeof *rs);
    if (!rs)
        return NULL;
    rs->refs = 1;
    rs->version = version;
    if (n > UINT32_MAX / COLO_RULESET_PORT_SPAN)
        goto fail;
    rs->rules = (colo_rule_t *)malloc ((n ? n : 1) * sizeof *rs->rules);
    if (!rs->rules)
        goto fail;
    for (size_t i = 0; i < n; i++)
        if (!vm || !rules[i].vm[0] || strcmp (rules[i].vm, vm) == 0)
            rs->rules[rs->count++] = rules[i];
    size_t count = rs->count;
    size_t alloc = count ? count : 1;
    rs->m = (s_match_t *)malloc (alloc * sizeof *rs->m);
    s_entry_t *port_e =
        (s_entry_t *)malloc (alloc * COLO_RULESET_PORT_SPAN * sizeof (s_entry_t));
    s_entry_t *pfx_e = (s_entry_t *)malloc (alloc * sizeof (s_entry_t));
    rs->rest = (uint32_t *)malloc (alloc * sizeof *rs->rest);
    if (!rs->m || !port_e || !pfx_e || !rs->rest) {
        free (port_e);
        free (pfx_e);
        goto fail;
    }
    size_t n_port = 0, n_pfx = 0;
    uint8_t seen4[33] = {0}, seen6[129] = {0};
    for (size_t i = 0; i < count; i++) {
        const colo_rule_t *r = &rs->rules[i];
        s_match_from_rule (&rs->m[i], r);
        unsigned proto_key = r->proto < 0 ? 256 : (unsigned)r->proto;
        uint16_t lo = 0, hi = 0;
        int by_port = 1;
        if (s_narrow (r->has_dport, r->dport_lo, r->dport_hi)) {
            lo = r->dport_lo;
            hi = r->dport_hi;
        }
        else if (s_narrow (r->has_sport, r->sport_lo, r->sport_hi)) {
            lo = r->sport_lo;
            hi = r->sport_hi;
        }
        else
            by_port = 0;
        if (by_port) {
            //  A packet matching the rule has this port at one end.
            rs->port_protos[proto_key] = 1;
            for (unsigned p = lo; p <= hi; p++) {
                port_e[n_port].key = s_port_key (proto_key, p);
                port_e[n_port++].pos = (uint32_t)i;
            }
            continue;
        }
        //  A packet matching the rule has an address in this prefix.
        const colo_cidr_t *c = r->src.prefix_len >= r->dst.prefix_len ? &r->src : &r->dst;
        if (c->family && c->prefix_len > 0) {
            pfx_e[n_pfx].key = s_prefix_key (c->family, c->prefix_len, c->addr);
            pfx_e[n_pfx++].pos = (uint32_t)i;
            if (c->family == 4 && !seen4[c->prefix_len]) {
                seen4[c->prefix_len] = 1;
                rs->plen4[rs->n_plen4++] = c->prefix_len;
            }
            else if (c->family == 6 && !seen6[c->prefix_len]) {
                seen6[c->prefix_len] = 1;
                rs->plen6[rs->n_plen6++] = c->prefix_len;
            }
            continue;
        }
        rs->rest[rs->n_rest++] = (uint32_t)i;
    }
    int rc = s_table_build (&rs->ports, port_e, n_port);
    if (rc == 0)
        rc = s_table_build (&rs->prefixes, pfx_e, n_pfx);
    free (port_e);
    free (pfx_e);
    if (rc != 0)
        goto fail;
    return rs;
fail:
    s_ruleset_free (rs);
    return NULL;
}

const colo_ruleset_t *
colo_ruleset_ref (const colo_ruleset_t *rs)
{
    if (rs)
        __atomic_add_fetch (&((colo_ruleset_t *)rs)->refs, 1, __ATOMIC_RELAXED);
    return rs;
}

void
colo_ruleset_destroy (const colo_ruleset_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    colo_ruleset_t *rs = (colo_ruleset_t *)*self_p;
    *self_p = NULL;
    if (__atomic_sub_fetch (&rs->refs, 1, __ATOMIC_ACQ_REL) == 0)
        s_ruleset_free (rs);
}

uint64_t
colo_ruleset_version (const colo_ruleset_t *rs)
{
    return rs ? rs->version : 0;
}

size_t
colo_ruleset_count (const colo_ruleset_t *rs)
{
    return rs ? rs->count : 0;
}

const colo_rule_t *
colo_ruleset_rule (const colo_ruleset_t *rs, size_t i)
{
    return rs && i < rs->count ? &rs->rules[i] : NULL;
}

const colo_rule_t *
colo_ruleset_find (const colo_ruleset_t *rs, uint64_t id)
{
    if (!rs)
        return NULL;
    size_t lo = 0, hi = rs->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (rs->rules[mid].id == id)
            return &rs->rules[mid];
        if (rs->rules[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

size_t
colo_ruleset_index (const colo_ruleset_t *rs, const colo_rule_t *rule)
{
    return (size_t)(rule - rs->rules);
}

//  Check the candidates of key; best is the lowest matching position.
static inline void
s_check (const colo_ruleset_t *rs, const s_table_t *t, uint64_t key, const s_pkt_t *p,
         uint32_t *best)
{
    const s_slot_t *slot = s_table_find (t, key);
    if (!slot)
        return;
    const uint32_t *cand = t->cand + slot->first;
    for (uint32_t k = 0; k < slot->count; k++) {
        uint32_t pos = cand[k];
        if (pos >= *best)
            return;  //  ascending: nothing better follows
        if (s_match (&rs->m[pos], p)) {
            *best = pos;
            return;
        }
    }
}

const colo_rule_t *
colo_ruleset_match (const colo_ruleset_t *rs, const colo_packet_t *pkt,
                    const uint8_t *frame)
{
    if (!rs || rs->count == 0)
        return NULL;
    s_pkt_t p;
    if (s_pkt_from (&p, pkt, frame) != 0)
        return NULL;
    uint32_t best = UINT32_MAX;
    if (rs->ports.mask && p.has_ports) {
        unsigned keys[2] = {p.proto, 256};
        for (int k = 0; k < 2; k++) {
            if (!rs->port_protos[keys[k]])
                continue;
            s_check (rs, &rs->ports, s_port_key (keys[k], p.sport), &p, &best);
            if (p.dport != p.sport)
                s_check (rs, &rs->ports, s_port_key (keys[k], p.dport), &p, &best);
        }
    }
    if (rs->prefixes.mask) {
        if (p.family == 4) {
            for (unsigned i = 0; i < rs->n_plen4; i++) {
                s_check (rs, &rs->prefixes, s_prefix_key4 (rs->plen4[i], p.src), &p, &best);
                s_check (rs, &rs->prefixes, s_prefix_key4 (rs->plen4[i], p.dst), &p, &best);
            }
        }
        else {
            for (unsigned i = 0; i < rs->n_plen6; i++) {
                s_check (rs, &rs->prefixes, s_prefix_key6 (rs->plen6[i], p.src), &p, &best);
                s_check (rs, &rs->prefixes, s_prefix_key6 (rs->plen6[i], p.dst), &p, &best);
            }
        }
    }
    for (size_t i = 0; i < rs->n_rest; i++) {
        uint32_t pos = rs->rest[i];
        if (pos >= best)
            break;
        if (s_match (&rs->m[pos], &p)) {
            best = pos;
            break;
        }
    }
    return best == UINT32_MAX ? NULL : &rs->rules[best];
}
