/*  colo_notify.c - the Xen COLO notify_dev strings.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <string.h>

#include "colo_notify.h"

static const char *const s_strings[] = {
    "",
    "COLO_USERSPACE_PROXY_INIT",
    "COLO_COMPARE_GET_XEN_INIT",
    "DO_CHECKPOINT",
    "COLO_CHECKPOINT",
};

colo_notify_msg_t
colo_notify_parse (const uint8_t *data, size_t len)
{
    for (int m = COLO_NOTIFY_PROXY_INIT; m <= COLO_NOTIFY_CHECKPOINT; m++)
        if (len == strlen (s_strings[m]) && memcmp (data, s_strings[m], len) == 0)
            return (colo_notify_msg_t) m;
    return COLO_NOTIFY_UNKNOWN;
}

colo_buf_t *
colo_notify_frame (colo_notify_msg_t msg)
{
    if (msg <= COLO_NOTIFY_UNKNOWN || msg > COLO_NOTIFY_CHECKPOINT)
        return NULL;
    return colo_buf_new_copy (s_strings[msg], strlen (s_strings[msg]));
}

const char *
colo_notify_string (colo_notify_msg_t msg)
{
    if (msg <= COLO_NOTIFY_UNKNOWN || msg > COLO_NOTIFY_CHECKPOINT)
        return "";
    return s_strings[msg];
}
