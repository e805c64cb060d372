/*  check_colo_ctlcodec.c - the control protocol codec: golden bytes, round trips, refusals.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo_ctlcodec.h"
#include "colo_test.h"

static colo_ctl_error_t
s_decode (const uint8_t *bytes, size_t len, colo_ctl_request_t *req, char *err)
{
    return colo_ctl_request_decode (bytes, len, req, err, 200);
}

START_TEST (test_codec_golden_request)
{
    //  Request { version 1, seq 7, rule_del { id 5 } }: field 11 of Request.
    static const uint8_t golden[] = {0x08, 0x01, 0x10, 0x07, 0x5a, 0x02, 0x08, 0x05};
    colo_ctl_request_t req = {0};
    req.seq = 7;
    req.type = COLO_CTL_REQ_RULE_DEL;
    req.rule_id = 5;
    size_t len = 0;
    uint8_t *bytes = colo_ctl_request_encode (&req, &len);
    ck_assert_ptr_nonnull (bytes);
    ck_assert_uint_eq (len, sizeof golden);
    ck_assert_mem_eq (bytes, golden, sizeof golden);
    free (bytes);

    char err[200];
    colo_ctl_request_t out;
    ck_assert_int_eq (s_decode (golden, sizeof golden, &out, err), COLO_CTL_OK);
    ck_assert_int_eq (out.type, COLO_CTL_REQ_RULE_DEL);
    ck_assert_uint_eq (out.seq, 7);
    ck_assert_uint_eq (out.rule_id, 5);
    ck_assert_uint_eq (out.version, 1);
}
END_TEST

START_TEST (test_codec_rule_add_round_trip)
{
    colo_ctl_request_t req = {0};
    req.seq = 1234567890123ULL;
    req.type = COLO_CTL_REQ_RULE_ADD;
    req.force = 1;
    colo_rule_init (&req.rule);
    req.rule.proto = 6;
    snprintf (req.rule.vm, sizeof req.rule.vm, "vm1");
    snprintf (req.rule.comment, sizeof req.rule.comment, "RDP, per ticket 42");
    ck_assert_int_eq (colo_rule_parse_cidr ("fd00::/64", &req.rule.src), 0);
    ck_assert_int_eq (colo_rule_parse_cidr ("fd00::2", &req.rule.dst), 0);
    req.rule.has_dport = 1;
    req.rule.dport_lo = 3389;
    req.rule.dport_hi = 3390;
    req.rule.has_sport = 1;  //  port 0 is a real value, not absence
    size_t len = 0;
    uint8_t *bytes = colo_ctl_request_encode (&req, &len);
    ck_assert_ptr_nonnull (bytes);
    colo_ctl_request_t out;
    char err[200];
    ck_assert_int_eq (s_decode (bytes, len, &out, err), COLO_CTL_OK);
    free (bytes);
    ck_assert_int_eq (out.type, COLO_CTL_REQ_RULE_ADD);
    ck_assert_uint_eq (out.seq, req.seq);
    ck_assert_int_eq (out.force, 1);
    ck_assert_int_eq (colo_rule_same (&out.rule, &req.rule), 1);
    ck_assert_str_eq (out.rule.comment, req.rule.comment);
    ck_assert_int_eq (out.rule.has_sport, 1);
    ck_assert_uint_eq (out.rule.sport_lo, 0);
    ck_assert_uint_eq (out.rule.sport_hi, 0);
    ck_assert_int_eq (out.rule.src.family, 6);
    ck_assert_uint_eq (out.rule.dst.prefix_len, 128);

    //  All wildcards stays all wildcards.
    colo_rule_init (&req.rule);
    bytes = colo_ctl_request_encode (&req, &len);
    ck_assert_int_eq (s_decode (bytes, len, &out, err), COLO_CTL_OK);
    free (bytes);
    ck_assert_int_eq (out.rule.proto, COLO_RULE_PROTO_ANY);
    ck_assert_int_eq (out.rule.src.family, 0);
    ck_assert_int_eq (out.rule.has_dport, 0);
    ck_assert_int_eq (colo_rule_matches_all (&out.rule), 1);
}
END_TEST

START_TEST (test_codec_every_request_type)
{
    for (int type = COLO_CTL_REQ_RULE_ADD; type < COLO_CTL_REQ_COUNT; type++) {
        colo_ctl_request_t req = {0};
        req.type = (colo_ctl_req_type_t)type;
        req.seq = (uint64_t)type;
        colo_rule_init (&req.rule);
        req.has_vm = 1;
        snprintf (req.vm, sizeof req.vm, "vm-%d", type);
        req.event.type = COLO_CTL_EV_CHECKPOINT_REQUEST;
        snprintf (req.event.vm, sizeof req.event.vm, "vm7");
        snprintf (req.event.reason, sizeof req.event.reason, "mismatch_tcp");
        snprintf (req.event.connection, sizeof req.event.connection,
                  "tcp 10.0.0.1:80 <-> 10.0.0.2:1234");
        colo_ctl_counter_t counters[2] = {{"released", 10}, {"mismatch_tcp", 3}};
        snprintf (req.hello.kind, sizeof req.hello.kind, "compare");
        snprintf (req.hello.instance, sizeof req.hello.instance, "vm7-nic0");
        snprintf (req.hello.vm, sizeof req.hello.vm, "vm7");
        req.hello.rules_version = 99;
        req.hello.heartbeat_ms = 1000;
        req.hello.counters = counters;
        req.hello.n_counters = 2;
        size_t len = 0;
        uint8_t *bytes = colo_ctl_request_encode (&req, &len);
        ck_assert_ptr_nonnull (bytes);
        colo_ctl_request_t out;
        char err[200];
        ck_assert_msg (s_decode (bytes, len, &out, err) == COLO_CTL_OK, "%s: %s",
                       colo_ctl_req_name (type), err);
        free (bytes);
        ck_assert_int_eq (out.type, type);
        ck_assert_uint_eq (out.seq, (uint64_t)type);
        if (type == COLO_CTL_REQ_RULE_LIST || type == COLO_CTL_REQ_STATS
            || type == COLO_CTL_REQ_SNAPSHOT) {
            ck_assert_int_eq (out.has_vm, 1);
            ck_assert_str_eq (out.vm, req.vm);
        }
        if (type == COLO_CTL_REQ_EVENT) {
            ck_assert_int_eq (out.event.type, COLO_CTL_EV_CHECKPOINT_REQUEST);
            ck_assert_str_eq (out.event.vm, "vm7");
            ck_assert_str_eq (out.event.reason, "mismatch_tcp");
            ck_assert_str_eq (out.event.connection, req.event.connection);
        }
        if (type == COLO_CTL_REQ_HELLO) {
            ck_assert_str_eq (out.hello.kind, "compare");
            ck_assert_str_eq (out.hello.instance, "vm7-nic0");
            ck_assert_uint_eq (out.hello.rules_version, 99);
            ck_assert_uint_eq (out.hello.heartbeat_ms, 1000);
            ck_assert_uint_eq (out.hello.n_counters, 2);
            ck_assert_str_eq (out.hello.counters[1].name, "mismatch_tcp");
            ck_assert_uint_eq (out.hello.counters[1].value, 3);
        }
        colo_ctl_request_clear (&out);
        ck_assert_ptr_null (out.hello.counters);
    }
}
END_TEST

START_TEST (test_codec_refusals)
{
    colo_ctl_request_t out;
    char err[200];
    //  Garbage.
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x13};
    ck_assert_int_eq (s_decode (garbage, sizeof garbage, &out, err),
                      COLO_CTL_E_BAD_REQUEST);
    ck_assert_ptr_nonnull (strstr (err, "not a Request"));
    //  Truncated: the rule_del body says 2 bytes, 1 follows.
    static const uint8_t truncated[] = {0x08, 0x01, 0x10, 0x07, 0x5a, 0x02, 0x08};
    ck_assert_int_eq (s_decode (truncated, sizeof truncated, &out, err),
                      COLO_CTL_E_BAD_REQUEST);
    //  Version 2, and no version at all; seq still comes back.
    static const uint8_t v2[] = {0x08, 0x02, 0x10, 0x09, 0x5a, 0x02, 0x08, 0x05};
    ck_assert_int_eq (s_decode (v2, sizeof v2, &out, err), COLO_CTL_E_BAD_VERSION);
    ck_assert_uint_eq (out.seq, 9);
    ck_assert_ptr_nonnull (strstr (err, "version 2"));
    static const uint8_t v0[] = {0x10, 0x09, 0x5a, 0x02, 0x08, 0x05};
    ck_assert_int_eq (s_decode (v0, sizeof v0, &out, err), COLO_CTL_E_BAD_VERSION);
    //  No body.
    static const uint8_t empty[] = {0x08, 0x01, 0x10, 0x03};
    ck_assert_int_eq (s_decode (empty, sizeof empty, &out, err), COLO_CTL_E_BAD_REQUEST);
    ck_assert_uint_eq (out.seq, 3);
    ck_assert_int_eq (s_decode (empty, 0, &out, err), COLO_CTL_E_BAD_VERSION);
    //  An unknown field at the top (99, varint 1) and inside a rule (50).
    static const uint8_t unknown_top[] = {0x08, 0x01, 0x10, 0x07, 0x5a, 0x02,
                                          0x08, 0x05, 0x98, 0x06, 0x01};
    ck_assert_int_eq (s_decode (unknown_top, sizeof unknown_top, &out, err),
                      COLO_CTL_E_BAD_REQUEST);
    ck_assert_ptr_nonnull (strstr (err, "unknown field 99"));
    static const uint8_t unknown_rule[] = {0x08, 0x01, 0x10, 0x07, 0x52, 0x07, 0x0a,
                                           0x05, 0x18, 0x06, 0x90, 0x03, 0x01};
    ck_assert_int_eq (s_decode (unknown_rule, sizeof unknown_rule, &out, err),
                      COLO_CTL_E_BAD_REQUEST);
    ck_assert_ptr_nonnull (strstr (err, "rule: unknown field 50"));
    //  The same rule without the stranger is fine: proto 6.
    static const uint8_t known_rule[] = {0x08, 0x01, 0x10, 0x07, 0x52,
                                         0x04, 0x0a, 0x02, 0x18, 0x06};
    ck_assert_int_eq (s_decode (known_rule, sizeof known_rule, &out, err), COLO_CTL_OK);
    ck_assert_int_eq (out.rule.proto, 6);
    //  Out of range: proto 300; an address of 5 bytes; ports 70000.
    static const uint8_t proto300[] = {0x08, 0x01, 0x52, 0x05, 0x0a,
                                       0x03, 0x18, 0xac, 0x02};
    ck_assert_int_eq (s_decode (proto300, sizeof proto300, &out, err), COLO_CTL_E_INVALID);
    static const uint8_t addr5[] = {0x08, 0x01, 0x52, 0x0b, 0x0a, 0x09, 0x22, 0x07,
                                    0x0a, 0x05, 0x01, 0x02, 0x03, 0x04, 0x05};
    ck_assert_int_eq (s_decode (addr5, sizeof addr5, &out, err), COLO_CTL_E_INVALID);
    ck_assert_ptr_nonnull (strstr (err, "src"));
    static const uint8_t port70000[] = {0x08, 0x01, 0x52, 0x08, 0x0a, 0x06,
                                        0x3a, 0x04, 0x08, 0xf0, 0xa2, 0x04};
    ck_assert_int_eq (s_decode (port70000, sizeof port70000, &out, err),
                      COLO_CTL_E_INVALID);
    //  Oversized, whatever it holds.
    size_t big_len = COLO_CTL_REQUEST_MAX + 1;
    uint8_t *big = (uint8_t *)calloc (1, big_len);
    ck_assert_int_eq (s_decode (big, big_len, &out, err), COLO_CTL_E_TOO_LARGE);
    free (big);
    //  A string longer than its field: a 64-byte vm in rule_list.
    colo_ctl_request_t req = {0};
    req.type = COLO_CTL_REQ_RULE_LIST;
    size_t len = 0;
    uint8_t *bytes = colo_ctl_request_encode (&req, &len);
    uint8_t *longer = (uint8_t *)malloc (len + 2 + 2 + 64);
    memcpy (longer, bytes, len);
    free (bytes);
    //  rule_list is field 12 (0x62) and empty: make it hold vm (field 1).
    ck_assert_uint_eq (longer[len - 2], 0x62);
    longer[len - 1] = 66;
    longer[len] = 0x0a;
    longer[len + 1] = 64;
    memset (longer + len + 2, 'a', 64);
    ck_assert_int_eq (s_decode (longer, len + 66, &out, err), COLO_CTL_E_INVALID);
    ck_assert_ptr_nonnull (strstr (err, "longer than 63"));
    free (longer);
    //  Encoding refuses strings not terminated within their field.
    colo_ctl_request_t bad = {0};
    bad.type = COLO_CTL_REQ_STATS;
    bad.has_vm = 1;
    memset (bad.vm, 'x', sizeof bad.vm);
    ck_assert_ptr_null (colo_ctl_request_encode (&bad, &len));
}
END_TEST

START_TEST (test_codec_reply_round_trip)
{
    colo_ctl_reply_t rep = {0};
    rep.seq = 5;
    rep.error = COLO_CTL_E_DUPLICATE;
    snprintf (rep.message, sizeof rep.message, "the same as rule 3");
    rep.rule_id = 3;
    rep.rules_version = 17;
    rep.epoch = 0xfeedULL;
    snprintf (rep.events, sizeof rep.events, "tcp://0.0.0.0:7101");
    colo_rule_t rules[3];
    for (int i = 0; i < 3; i++) {
        colo_rule_init (&rules[i]);
        rules[i].id = (uint64_t)i + 1;
        rules[i].version = (uint64_t)i + 10;
        rules[i].proto = 17;
    }
    colo_rule_parse_cidr ("10.0.0.0/8", &rules[2].dst);
    rep.rules = rules;
    rep.n_rules = 3;
    colo_ctl_counter_t c1[1] = {{"released", 77}};
    colo_ctl_instance_t inst[2];
    memset (inst, 0, sizeof inst);
    snprintf (inst[0].kind, sizeof inst[0].kind, "compare");
    snprintf (inst[0].instance, sizeof inst[0].instance, "a");
    snprintf (inst[0].vm, sizeof inst[0].vm, "vm1");
    inst[0].alive = 1;
    inst[0].age_ms = 250;
    inst[0].counters = c1;
    inst[0].n_counters = 1;
    snprintf (inst[1].kind, sizeof inst[1].kind, "rewriter");
    rep.instances = inst;
    rep.n_instances = 2;
    colo_ctl_group_t group = {"control", c1, 1};
    rep.groups = &group;
    rep.n_groups = 1;
    rep.has_event = 1;
    rep.event.type = COLO_CTL_EV_FAILOVER;
    rep.event.id = 12;
    snprintf (rep.event.vm, sizeof rep.event.vm, "vm1");
    rep.delivered = 2;
    size_t len = 0;
    uint8_t *bytes = colo_ctl_reply_encode (&rep, &len);
    ck_assert_ptr_nonnull (bytes);
    colo_ctl_reply_t out;
    char err[200];
    ck_assert_int_eq (colo_ctl_reply_decode (bytes, len, &out, err, sizeof err),
                      COLO_CTL_OK);
    free (bytes);
    ck_assert_uint_eq (out.seq, 5);
    ck_assert_int_eq (out.error, COLO_CTL_E_DUPLICATE);
    ck_assert_str_eq (out.message, rep.message);
    ck_assert_uint_eq (out.rule_id, 3);
    ck_assert_uint_eq (out.rules_version, 17);
    ck_assert_uint_eq (out.epoch, 0xfeed);
    ck_assert_str_eq (out.events, rep.events);
    ck_assert_uint_eq (out.n_rules, 3);
    ck_assert_uint_eq (out.rules[2].version, 12);
    ck_assert_int_eq (colo_rule_same (&out.rules[2], &rules[2]), 1);
    ck_assert_uint_eq (out.n_instances, 2);
    ck_assert_str_eq (out.instances[0].vm, "vm1");
    ck_assert_int_eq (out.instances[0].alive, 1);
    ck_assert_uint_eq (out.instances[0].age_ms, 250);
    ck_assert_uint_eq (out.instances[0].counters[0].value, 77);
    ck_assert_int_eq (out.instances[1].alive, 0);
    ck_assert_uint_eq (out.n_groups, 1);
    ck_assert_str_eq (out.groups[0].name, "control");
    ck_assert_int_eq (out.has_event, 1);
    ck_assert_int_eq (out.event.type, COLO_CTL_EV_FAILOVER);
    ck_assert_uint_eq (out.event.id, 12);
    ck_assert_uint_eq (out.delivered, 2);
    colo_ctl_reply_clear (&out);
    ck_assert_ptr_null (out.rules);
    colo_ctl_reply_clear (&out);
    //  A reply is not a request, and garbage is not a reply.
    ck_assert_int_ne (
        colo_ctl_reply_decode ((const uint8_t *)"\xff\xff", 2, &out, err, sizeof err),
        COLO_CTL_OK);
}
END_TEST

START_TEST (test_codec_pub_and_store)
{
    colo_ctl_pub_t pub = {0};
    pub.epoch = 1;
    pub.rules_version = 8;
    pub.has_update = 1;
    pub.update_version = 8;
    pub.update_added = 1;
    colo_rule_init (&pub.added);
    pub.added.id = 4;
    pub.added.proto = 6;
    snprintf (pub.update_vm, sizeof pub.update_vm, "vm2");
    size_t len;
    uint8_t *bytes = colo_ctl_pub_encode (&pub, &len);
    colo_ctl_pub_t out;
    char err[200];
    ck_assert_int_eq (colo_ctl_pub_decode (bytes, len, &out, err, sizeof err), COLO_CTL_OK);
    free (bytes);
    ck_assert_int_eq (out.has_update, 1);
    ck_assert_int_eq (out.update_added, 1);
    ck_assert_uint_eq (out.added.id, 4);
    ck_assert_str_eq (out.update_vm, "vm2");
    ck_assert_int_eq (out.has_event, 0);

    pub.update_added = 0;
    pub.deleted = 4;
    pub.has_event = 1;
    pub.event.type = COLO_CTL_EV_CHECKPOINT_REQUEST;
    bytes = colo_ctl_pub_encode (&pub, &len);
    ck_assert_int_eq (colo_ctl_pub_decode (bytes, len, &out, err, sizeof err), COLO_CTL_OK);
    free (bytes);
    ck_assert_int_eq (out.update_added, 0);
    ck_assert_uint_eq (out.deleted, 4);
    ck_assert_int_eq (out.event.type, COLO_CTL_EV_CHECKPOINT_REQUEST);

    colo_rule_t rules[2];
    colo_rule_init (&rules[0]);
    colo_rule_init (&rules[1]);
    rules[0].id = 1;
    rules[1].id = 9;
    colo_ctl_store_t store = {41, 10, rules, 2};
    bytes = colo_ctl_store_encode (&store, &len);
    colo_ctl_store_t back;
    ck_assert_int_eq (colo_ctl_store_decode (bytes, len, &back, err, sizeof err),
                      COLO_CTL_OK);
    ck_assert_uint_eq (back.rules_version, 41);
    ck_assert_uint_eq (back.next_id, 10);
    ck_assert_uint_eq (back.n_rules, 2);
    ck_assert_uint_eq (back.rules[1].id, 9);
    colo_ctl_store_clear (&back);
    //  A truncated store is refused, not half-read.
    ck_assert_int_ne (colo_ctl_store_decode (bytes, len - 1, &back, err, sizeof err),
                      COLO_CTL_OK);
    ck_assert_ptr_null (back.rules);
    free (bytes);
    //  Format 2 is not ours.
    static const uint8_t format2[] = {0x08, 0x02};
    ck_assert_int_eq (colo_ctl_store_decode (format2, 2, &back, err, sizeof err),
                      COLO_CTL_E_BAD_VERSION);
    ck_assert_str_eq (colo_ctl_error_name (COLO_CTL_E_MATCHES_ALL), "matches_all");
    ck_assert_str_eq (colo_ctl_error_name (99), "unknown");
    ck_assert_str_eq (colo_ctl_event_name (COLO_CTL_EV_FAILOVER), "failover");
}
END_TEST

Suite *
colo_ctlcodec_suite (void)
{
    Suite *s = suite_create ("colo_ctlcodec");
    TCase *tc = tcase_create ("core");
    tcase_add_test (tc, test_codec_golden_request);
    tcase_add_test (tc, test_codec_rule_add_round_trip);
    tcase_add_test (tc, test_codec_every_request_type);
    tcase_add_test (tc, test_codec_refusals);
    tcase_add_test (tc, test_codec_reply_round_trip);
    tcase_add_test (tc, test_codec_pub_and_store);
    suite_add_tcase (s, tc);
    return s;
}
