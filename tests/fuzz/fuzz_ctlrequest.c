/*  fuzz_ctlrequest.c - libFuzzer target for the control request decoder (and replies).
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  colo-control decodes whatever any client sends to its API socket, so the
 *  request decoder must refuse anything malformed with a code and never
 *  read out of bounds.  A request it accepts is checked against the codec's
 *  promises (strings terminated, ranges in order), encoded again, and must
 *  decode to the same thing.  The same bytes also go through the reply,
 *  publication and store decoders, which read what the server sends.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "colo_ctlcodec.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
const char *__asan_default_options (void);

const char *
__asan_default_options (void)
{
    return "allocator_may_return_null=1";
}

static void
s_check_rule (const colo_rule_t *r)
{
    if (strnlen (r->vm, sizeof r->vm) == sizeof r->vm
        || strnlen (r->comment, sizeof r->comment) == sizeof r->comment
        || r->proto < COLO_RULE_PROTO_ANY || r->proto > 255
        || (r->has_sport && r->sport_lo > r->sport_hi)
        || (r->has_dport && r->dport_lo > r->dport_hi)
        || (r->src.family == 4 && r->src.prefix_len > 32)
        || (r->dst.family == 4 && r->dst.prefix_len > 32) || r->src.prefix_len > 128
        || r->dst.prefix_len > 128)
        abort ();
    //  Validation must not trip on anything the decoder lets through.
    char err[128];
    colo_rule_validate (r, err, sizeof err);
    colo_rule_matches_all (r);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    colo_ctl_request_t req;
    char err[256];
    colo_ctl_error_t rc = colo_ctl_request_decode (data, size, &req, err, sizeof err);
    if (rc != COLO_CTL_OK) {
        if (rc >= COLO_CTL_E_COUNT || !err[0])
            abort ();  //  every refusal has a code and a reason
    }
    else {
        if (req.type <= COLO_CTL_REQ_NONE || req.type >= COLO_CTL_REQ_COUNT)
            abort ();
        s_check_rule (&req.rule);
        if (req.hello.n_counters > COLO_CTL_COUNTERS_MAX)
            abort ();
        size_t len = 0;
        uint8_t *again = colo_ctl_request_encode (&req, &len);
        if (again) {
            colo_ctl_request_t back;
            if (colo_ctl_request_decode (again, len, &back, err, sizeof err) != COLO_CTL_OK
                || back.type != req.type || back.seq != req.seq
                || back.rule_id != req.rule_id || back.force != req.force
                || back.hello.n_counters != req.hello.n_counters
                || strcmp (back.vm, req.vm) != 0
                || (req.type == COLO_CTL_REQ_RULE_ADD
                    && (!colo_rule_same (&back.rule, &req.rule)
                        || strcmp (back.rule.comment, req.rule.comment) != 0))
                || (req.type == COLO_CTL_REQ_EVENT
                    && (back.event.type != req.event.type
                        || strcmp (back.event.reason, req.event.reason) != 0)))
                abort ();
            colo_ctl_request_clear (&back);
            free (again);
        }
        colo_ctl_request_clear (&req);
    }

    colo_ctl_reply_t rep;
    if (colo_ctl_reply_decode (data, size, &rep, err, sizeof err) == COLO_CTL_OK) {
        for (size_t i = 0; i < rep.n_rules; i++)
            s_check_rule (&rep.rules[i]);
        size_t len = 0;
        free (colo_ctl_reply_encode (&rep, &len));
        colo_ctl_reply_clear (&rep);
    }
    colo_ctl_pub_t pub;
    if (colo_ctl_pub_decode (data, size, &pub, err, sizeof err) == COLO_CTL_OK)
        s_check_rule (&pub.added);
    colo_ctl_store_t store;
    if (colo_ctl_store_decode (data, size, &store, err, sizeof err) == COLO_CTL_OK)
        colo_ctl_store_clear (&store);
    return 0;
}
