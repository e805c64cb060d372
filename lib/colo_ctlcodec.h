/*  colo_ctlcodec.h - the control protocol's codec: plain C structs <-> protobuf bytes.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  proto/control.proto is the schema; this module is the only one that
 *  touches protobuf-c (pack, unpack, and their free rules), so nothing else
 *  includes generated code.  Decoders copy what they accept into the plain
 *  structs below, checking every length and range; what does not fit is
 *  refused, never truncated silently.
 *
 *  Decoders refuse (and say why in err):
 *  - bytes that are not the message (COLO_CTL_E_BAD_REQUEST);
 *  - a field the schema does not know, at any depth (BAD_REQUEST: an
 *    older server must not half-understand a newer client);
 *  - a request without a body, or with a version other than
 *    COLO_CTL_VERSION (BAD_VERSION);
 *  - a request over COLO_CTL_REQUEST_MAX bytes (TOO_LARGE);
 *  - values out of range: an address that is not 4 or 16 bytes, a prefix
 *    or port out of range, a string longer than its field here (INVALID).
 *  Rule semantics (families, host bits, names) are colo_rule_validate's.
 *
 *  Ownership: encoders return a malloc'd buffer (the caller frees it) or
 *  NULL (no memory).  Structs with arrays (requests with counters, replies,
 *  stores) are released with their _clear function, which leaves them
 *  zeroed; clearing a zeroed struct is harmless.
 */
#ifndef COLO_CTLCODEC_H_INCLUDED
#define COLO_CTLCODEC_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "colo_ruleset.h"

#define COLO_CTL_VERSION 1
#define COLO_CTL_REQUEST_MAX 65536  //  bytes; bigger requests are refused
#define COLO_CTL_NAME_MAX 63  //  vm, instance, counter names
#define COLO_CTL_KIND_MAX 15
#define COLO_CTL_TEXT_MAX 255  //  reasons, connections, messages
#define COLO_CTL_COUNTERS_MAX 256  //  per instance

//  Reply codes; the same numbers as ErrorCode in the proto.
typedef enum {
    COLO_CTL_OK = 0,
    COLO_CTL_E_BAD_REQUEST = 1,
    COLO_CTL_E_BAD_VERSION = 2,
    COLO_CTL_E_TOO_LARGE = 3,
    COLO_CTL_E_INVALID = 4,
    COLO_CTL_E_DUPLICATE = 5,
    COLO_CTL_E_MATCHES_ALL = 6,
    COLO_CTL_E_NOT_FOUND = 7,
    COLO_CTL_E_STORE_FAILED = 8,
    COLO_CTL_E_FULL = 9,
    COLO_CTL_E_INTERNAL = 10,
    COLO_CTL_E_COUNT
} colo_ctl_error_t;

//  "ok", "bad_request", ... ("unknown" out of range).
const char *colo_ctl_error_name (int code);

typedef enum {
    COLO_CTL_EV_NONE = 0,
    COLO_CTL_EV_CHECKPOINT_REQUEST = 1,  //  compare -> control -> adapter
    COLO_CTL_EV_CHECKPOINT_DONE = 2,  //  adapter -> control -> compare, rewriter, mirror
    COLO_CTL_EV_FAILOVER = 3,  //  adapter -> control -> compare, rewriter, mirror
    COLO_CTL_EV_COUNT
} colo_ctl_event_type_t;

//  "none", "checkpoint_request", "checkpoint_done", "failover".
const char *colo_ctl_event_name (int type);

typedef struct {
    colo_ctl_event_type_t type;
    uint64_t id;  //  colo-control's event sequence number
    char vm[COLO_CTL_NAME_MAX + 1];
    char reason[COLO_CTL_TEXT_MAX + 1];
    char connection[COLO_CTL_TEXT_MAX + 1];
    char source[COLO_CTL_TEXT_MAX + 1];  //  "compare/vm1-nic0", "coloctl", ...
} colo_ctl_event_t;

typedef struct {
    char name[COLO_CTL_NAME_MAX + 1];
    uint64_t value;
} colo_ctl_counter_t;

//  An instance: what Hello carries, and what status reports.
typedef struct {
    char kind[COLO_CTL_KIND_MAX + 1];  //  compare, rewriter, mirror, adapter
    char instance[COLO_CTL_NAME_MAX + 1];
    char vm[COLO_CTL_NAME_MAX + 1];
    uint64_t rules_version;
    uint32_t heartbeat_ms;
    uint64_t age_ms;  //  status only
    int alive;  //  status only
    colo_ctl_counter_t *counters;  //  malloc'd, n_counters entries
    size_t n_counters;
} colo_ctl_instance_t;

typedef struct {
    char name[COLO_CTL_NAME_MAX + 1];
    colo_ctl_counter_t *counters;
    size_t n_counters;
} colo_ctl_group_t;

typedef enum {
    COLO_CTL_REQ_NONE = 0,
    COLO_CTL_REQ_RULE_ADD,
    COLO_CTL_REQ_RULE_DEL,
    COLO_CTL_REQ_RULE_LIST,
    COLO_CTL_REQ_STATUS,
    COLO_CTL_REQ_STATS,
    COLO_CTL_REQ_EVENT,
    COLO_CTL_REQ_HELLO,
    COLO_CTL_REQ_SNAPSHOT,
    COLO_CTL_REQ_COUNT
} colo_ctl_req_type_t;

//  "none", "rule_add", "rule_del", ... (for counters and logs).
const char *colo_ctl_req_name (int type);

typedef struct {
    uint32_t version;  //  COLO_CTL_VERSION when encoding
    uint64_t seq;
    colo_ctl_req_type_t type;
    colo_rule_t rule;  //  RULE_ADD
    int force;  //  RULE_ADD
    uint64_t rule_id;  //  RULE_DEL
    int has_vm;  //  RULE_LIST, STATS, SNAPSHOT
    char vm[COLO_CTL_NAME_MAX + 1];
    colo_ctl_event_t event;  //  EVENT
    colo_ctl_instance_t hello;  //  HELLO
} colo_ctl_request_t;

typedef struct {
    uint64_t seq;
    colo_ctl_error_t error;
    char message[COLO_CTL_TEXT_MAX + 1];
    uint64_t rule_id;
    uint64_t rules_version;
    uint64_t epoch;
    char events[COLO_CTL_TEXT_MAX + 1];  //  the server's events endpoint
    colo_rule_t *rules;
    size_t n_rules;
    colo_ctl_instance_t *instances;
    size_t n_instances;
    colo_ctl_group_t *groups;
    size_t n_groups;
    int has_event;  //  a pushed event (seq 0)
    colo_ctl_event_t event;
    uint32_t delivered;
} colo_ctl_reply_t;

//  What goes out on the events socket, after the topic frame.
typedef struct {
    uint64_t epoch;
    uint64_t rules_version;
    int has_update;  //  topic "R"
    uint64_t update_version;
    int update_added;  //  1: added is the new rule; 0: deleted
    colo_rule_t added;
    uint64_t deleted;
    char update_vm[COLO_CTL_NAME_MAX + 1];
    int has_event;  //  topics "E/<vm>/", "A/<vm>/"
    colo_ctl_event_t event;
} colo_ctl_pub_t;

//  The store file.
typedef struct {
    uint64_t rules_version;
    uint64_t next_id;
    colo_rule_t *rules;
    size_t n_rules;
} colo_ctl_store_t;

//  Encoders: a malloc'd buffer and its length, or NULL (no memory, or a
//  struct whose strings are not terminated within their fields).
uint8_t *colo_ctl_request_encode (const colo_ctl_request_t *req, size_t *len);
uint8_t *colo_ctl_reply_encode (const colo_ctl_reply_t *rep, size_t *len);
uint8_t *colo_ctl_pub_encode (const colo_ctl_pub_t *pub, size_t *len);
uint8_t *colo_ctl_store_encode (const colo_ctl_store_t *store, size_t *len);

//  Decoders: COLO_CTL_OK and *out filled, or an error code with a reason in
//  err (err_cap bytes, may be 0) and *out zeroed.  *out is overwritten
//  without being cleared first.  For requests, seq is set even when
//  decoding fails, whenever the bytes parsed far enough to show it, so the
//  error reply can carry it.
colo_ctl_error_t colo_ctl_request_decode (const uint8_t *data, size_t len,
                                          colo_ctl_request_t *out, char *err,
                                          size_t err_cap);
colo_ctl_error_t colo_ctl_reply_decode (const uint8_t *data, size_t len,
                                        colo_ctl_reply_t *out, char *err, size_t err_cap);
colo_ctl_error_t colo_ctl_pub_decode (const uint8_t *data, size_t len, colo_ctl_pub_t *out,
                                      char *err, size_t err_cap);
colo_ctl_error_t colo_ctl_store_decode (const uint8_t *data, size_t len,
                                        colo_ctl_store_t *out, char *err, size_t err_cap);

void colo_ctl_request_clear (colo_ctl_request_t *req);
void colo_ctl_reply_clear (colo_ctl_reply_t *rep);
void colo_ctl_store_clear (colo_ctl_store_t *store);
void colo_ctl_instance_clear (colo_ctl_instance_t *inst);

//  Copy an instance with its counters (deep).  Returns 0 or -1 (no memory;
//  dst is then zeroed).
int colo_ctl_instance_copy (colo_ctl_instance_t *dst, const colo_ctl_instance_t *src);

#endif
