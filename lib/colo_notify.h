/*  colo_notify.h - the Xen COLO notify_dev strings (one codec for that wire format).
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Each message is one QEMU-framed frame whose data is the ASCII string,
 *  without a NUL.  Matching is exact (length and bytes), as libxl and QEMU
 *  do.  The frames travel on an ordinary qemu+tcp/qemu+unix port; unlike
 *  QEMU, the notify port's vnet field is set by its own URI only, so Xen
 *  (which never sends one) works whatever the data ports use.
 */
#ifndef COLO_NOTIFY_H_INCLUDED
#define COLO_NOTIFY_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "colo_buf.h"

typedef enum {
    COLO_NOTIFY_UNKNOWN = 0,
    COLO_NOTIFY_PROXY_INIT,       //  "COLO_USERSPACE_PROXY_INIT"  peer -> us
    COLO_NOTIFY_GET_XEN_INIT,     //  "COLO_COMPARE_GET_XEN_INIT"  us -> peer (reply)
    COLO_NOTIFY_DO_CHECKPOINT,    //  "DO_CHECKPOINT"              us -> peer
    COLO_NOTIFY_CHECKPOINT        //  "COLO_CHECKPOINT"            peer -> us: checkpoint done
} colo_notify_msg_t;

//  Which message data[0..len) is (COLO_NOTIFY_UNKNOWN for anything else).
colo_notify_msg_t colo_notify_parse (const uint8_t *data, size_t len);

//  A new frame carrying msg (caller owns), or NULL for UNKNOWN.
colo_buf_t *colo_notify_frame (colo_notify_msg_t msg);

//  The string of msg ("" for UNKNOWN).
const char *colo_notify_string (colo_notify_msg_t msg);

#endif
