/*  colo_ruleset.h - passthrough rules: parsing, validation, and matching at packet rate.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  A rule says "this traffic bypasses comparison".  Every field is optional
 *  and a missing field is a wildcard: IP protocol, source and destination
 *  prefix (IPv4 or IPv6), source and destination port range, and the VM it
 *  applies to (empty: every VM).
 *
 *  BOTH DIRECTIONS.  A rule describes a connection, not a direction: it
 *  matches a packet if it matches the packet as seen (src = packet source)
 *  OR with the packet's endpoints swapped (src = packet destination, sport
 *  = packet destination port).  Compare sees the guest's output, while an
 *  operator thinks "bypass RDP": `--dport 3389` then matches the client's
 *  packets to port 3389 and the guest's replies from port 3389 alike, and
 *  `--src 10.0.0.5 --dport 53` matches 10.0.0.5 asking anyone's port 53
 *  and the answers.  Addresses and ports swap together: `--src A --sport P`
 *  means "endpoint A:P", never "A as destination with P as source port".
 *
 *  What matches what:
 *  - Only IP packets (IPv4, IPv6) match; ARP and other ethertypes never do.
 *  - A rule with an address matches only packets of that address family.
 *  - A rule with a port matches only packets that carry ports (TCP, UDP);
 *    ICMP and the non-first fragments of a datagram carry none.
 *  - proto is the final IP protocol (after IPv6 extension headers).
 *
 *  Identity: two rules are the same (colo_rule_same) when their VMs,
 *  protocols, prefixes and ranges are equal, with a rule's two endpoints
 *  possibly swapped (by the both-directions rule `--src A --sport P` equals
 *  `--dst A --dport P`).  A /0 prefix and the range 0-65535 are kept as
 *  given: they still restrict the address family or the presence of ports.
 *
 *  Broad rules: a rule with no protocol whose prefixes are all absent or /0
 *  and whose port ranges are all absent or 0-65535 lets through all IP
 *  traffic (or all of one family, or all TCP and UDP), so colo-control
 *  adds it only when forced (colo_rule_matches_all).
 *
 *  A ruleset is an immutable, reference-counted set of rules with a version,
 *  indexed so that a lookup costs a fixed handful of hash probes however
 *  many rules it holds: rules keyed by an exact port or a range of at most
 *  COLO_RULESET_PORT_SPAN ports, then rules keyed by an address prefix (one
 *  probe per distinct prefix length), then a short list of the rest (rules
 *  with neither a narrow port nor an address: protocol-only, wide port
 *  ranges, match-everything), which is scanned.  Build it once, share it
 *  read-only between threads.
 */
#ifndef COLO_RULESET_H_INCLUDED
#define COLO_RULESET_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "colo_packet.h"

#define COLO_RULE_VM_MAX 63          //  VM names: [A-Za-z0-9._-], 1..63 chars
#define COLO_RULE_COMMENT_MAX 127    //  bytes (UTF-8 not checked; no control chars)
#define COLO_RULE_PROTO_ANY (-1)
#define COLO_RULESET_PORT_SPAN 16    //  ranges up to this many ports are indexed

typedef struct {
    uint8_t family;       //  0 = any address, 4 or 6
    uint8_t prefix_len;   //  0..32 or 0..128
    uint8_t addr[16];     //  network byte order; bits after the prefix are zero
} colo_cidr_t;

typedef struct {
    uint64_t id;          //  assigned by colo-control (0 before)
    uint64_t version;     //  the rules version that added it
    char vm[COLO_RULE_VM_MAX + 1];   //  "" = global
    int proto;            //  COLO_RULE_PROTO_ANY or 0..255
    colo_cidr_t src, dst;
    uint8_t has_sport, has_dport;
    uint16_t sport_lo, sport_hi;     //  inclusive, when has_sport
    uint16_t dport_lo, dport_hi;
    char comment[COLO_RULE_COMMENT_MAX + 1];
} colo_rule_t;

//  A rule with every field a wildcard (proto ANY, no prefixes, no ports).
void colo_rule_init (colo_rule_t *rule);

//  Parse "tcp", "udp", "icmp", "icmpv6" or a number 0..255 into *proto.
//  Returns 0 or -1.
int colo_rule_parse_proto (const char *text, int *proto);

//  Parse "10.0.0.0/8", "fd00::/64", or a bare address (a host prefix).
//  Bits set after the prefix are an error (say 10.0.0.0/8, not 10.1.2.3/8),
//  so that what an operator types is what the rule holds.  Returns 0 or -1.
int colo_rule_parse_cidr (const char *text, colo_cidr_t *cidr);

//  Parse "P" or "P-Q" (0 <= P <= Q <= 65535).  Returns 0 or -1.
int colo_rule_parse_ports (const char *text, uint16_t *lo, uint16_t *hi);

//  1 if name is a valid VM name (also used for instance names).
int colo_rule_name_ok (const char *name);

//  Check a rule as a client would send it: names, families (src and dst of
//  the same family; icmp only with IPv4 and icmpv6 only with IPv6), ports
//  only with tcp, udp or any protocol, prefixes in range with no host bits,
//  ranges ordered, comment printable.  Returns 0, or -1 with a one-line
//  reason in err.
int colo_rule_validate (const colo_rule_t *rule, char *err, size_t err_cap);

//  1 if the rule is broad (see "Broad rules" above) and so needs an
//  explicit force to be added.
int colo_rule_matches_all (const colo_rule_t *rule);

//  1 if a and b match the same packets (see "Identity" above).  ids,
//  versions and comments are ignored.
int colo_rule_same (const colo_rule_t *a, const colo_rule_t *b);

//  1 if rule matches the decoded packet in either direction.  The
//  reference matcher: a linear scan over rules with it is what the ruleset
//  must agree with (tests), never what the data path calls.
int colo_rule_match (const colo_rule_t *rule, const colo_packet_t *pkt,
                     const uint8_t *frame);

//  Format the rule for people: "tcp 10.0.0.0/8 port 1000-2000 -> any port
//  3389 vm vm1" (fields that are wildcards are omitted; "any" alone for a
//  match-everything rule).  Always NUL-terminated; returns buf.
char *colo_rule_format (const colo_rule_t *rule, char *buf, size_t cap);

//  Format a prefix ("10.0.0.0/8", "fd00::1/128") or "any".  Returns buf.
char *colo_cidr_format (const colo_cidr_t *cidr, char *buf, size_t cap);

//  Name of a protocol number ("tcp", "udp", "icmp", "icmpv6", or the
//  number) into buf; "any" for COLO_RULE_PROTO_ANY.  Returns buf.
char *colo_proto_format (int proto, char *buf, size_t cap);

typedef struct colo_ruleset colo_ruleset_t;

//  Build a ruleset from n rules (copied; kept in the given order, which
//  should be by id) at the given version.  With vm not NULL, only the
//  rules of that VM and the global ones are kept.  The caller holds the
//  one reference.  Returns NULL on no memory.
colo_ruleset_t *colo_ruleset_new (const colo_rule_t *rules, size_t n, uint64_t version,
                                  const char *vm);

//  Take another reference (safe from any thread).  Returns rs.
const colo_ruleset_t *colo_ruleset_ref (const colo_ruleset_t *rs);

//  Drop a reference and NULL *self_p; the last one frees the set.
void colo_ruleset_destroy (const colo_ruleset_t **self_p);

uint64_t colo_ruleset_version (const colo_ruleset_t *rs);
size_t colo_ruleset_count (const colo_ruleset_t *rs);

//  The i-th rule (0 <= i < count), in the order given to new.
const colo_rule_t *colo_ruleset_rule (const colo_ruleset_t *rs, size_t i);

//  The rule with this id, or NULL (binary search: rules must be by id).
const colo_rule_t *colo_ruleset_find (const colo_ruleset_t *rs, uint64_t id);

//  Index of a rule returned by this ruleset (for per-rule hit counters
//  kept by the caller in an array of colo_ruleset_count entries).
size_t colo_ruleset_index (const colo_ruleset_t *rs, const colo_rule_t *rule);

//  The packet-rate lookup: the first rule (lowest position, i.e. lowest id)
//  that matches the decoded packet in either direction, or NULL.  rs may be
//  NULL (no rules yet).  pkt must come from colo_packet_decode on frame.
//  Reads only; safe from many threads at once.
const colo_rule_t *colo_ruleset_match (const colo_ruleset_t *rs,
                                       const colo_packet_t *pkt, const uint8_t *frame);

#endif
