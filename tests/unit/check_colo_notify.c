/*  check_colo_notify.c - the Xen notify strings and the pcap writer.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "colo_notify.h"
#include "colo_pcap.h"
#include "colo_test.h"

START_TEST (test_notify_strings)
{
    static const struct {
        const char *text;
        colo_notify_msg_t msg;
    } cases[] = {
        {"COLO_USERSPACE_PROXY_INIT", COLO_NOTIFY_PROXY_INIT},
        {"COLO_COMPARE_GET_XEN_INIT", COLO_NOTIFY_GET_XEN_INIT},
        {"DO_CHECKPOINT", COLO_NOTIFY_DO_CHECKPOINT},
        {"COLO_CHECKPOINT", COLO_NOTIFY_CHECKPOINT},
    };
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq (colo_notify_parse ((const uint8_t *) cases[i].text,
                                             strlen (cases[i].text)),
                          cases[i].msg);
        colo_buf_t *frame = colo_notify_frame (cases[i].msg);
        ck_assert_uint_eq (frame->len, strlen (cases[i].text));   //  no NUL
        ck_assert_int_eq (memcmp (frame->data, cases[i].text, frame->len), 0);
        colo_buf_destroy (&frame);
        ck_assert_str_eq (colo_notify_string (cases[i].msg), cases[i].text);
    }
    //  Exact matching: a NUL, a prefix or a suffix is not the message.
    ck_assert_int_eq (colo_notify_parse ((const uint8_t *) "COLO_CHECKPOINT", 16),
                      COLO_NOTIFY_UNKNOWN);
    ck_assert_int_eq (colo_notify_parse ((const uint8_t *) "COLO_CHECKPOIN", 14),
                      COLO_NOTIFY_UNKNOWN);
    ck_assert_int_eq (colo_notify_parse ((const uint8_t *) "", 0), COLO_NOTIFY_UNKNOWN);
    ck_assert_ptr_null (colo_notify_frame (COLO_NOTIFY_UNKNOWN));
    ck_assert_str_eq (colo_notify_string ((colo_notify_msg_t) 42), "");
}
END_TEST

START_TEST (test_pcap_write)
{
    char path[64];
    snprintf (path, sizeof path, "/tmp/colotest-%d.pcap", (int) getpid ());
    colo_buf_t *a = colo_test_frame (60, 1);
    a->ts_ns = 1700000000123456789ull;
    colo_buf_t *b = colo_test_frame (72, 2);
    b->vnet_hdr_len = 12;   //  left out of the capture
    const colo_buf_t *frames[3] = {a, NULL, b};
    ck_assert_int_eq (colo_pcap_write (path, frames, 3), 0);
    FILE *f = fopen (path, "rb");
    ck_assert_ptr_nonnull (f);
    uint8_t data[512];
    size_t n = fread (data, 1, sizeof data, f);
    fclose (f);
    ck_assert_uint_eq (n, 24 + 16 + 60 + 16 + 60);
    uint32_t magic, sec, nsec, caplen;
    memcpy (&magic, data, 4);
    memcpy (&sec, data + 24, 4);
    memcpy (&nsec, data + 28, 4);
    memcpy (&caplen, data + 32, 4);
    ck_assert_uint_eq (magic, 0xa1b23c4du);
    ck_assert_uint_eq (sec, 1700000000u);
    ck_assert_uint_eq (nsec, 123456789u);
    ck_assert_uint_eq (caplen, 60);
    ck_assert_int_eq (memcmp (data + 40, a->data, 60), 0);
    ck_assert_int_eq (memcmp (data + 40 + 60 + 16, b->data + 12, 60), 0);
    unlink (path);
    ck_assert_int_eq (colo_pcap_write ("/nonexistent-dir/x.pcap", frames, 1), -1);
    colo_buf_destroy (&a);
    colo_buf_destroy (&b);
}
END_TEST

Suite *
colo_notify_suite (void)
{
    Suite *s = suite_create ("colo_notify");
    TCase *tc = tcase_create ("codec");
    tcase_add_test (tc, test_notify_strings);
    tcase_add_test (tc, test_pcap_write);
    suite_add_tcase (s, tc);
    return s;
}
