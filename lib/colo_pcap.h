/*  colo_pcap.h - write frames as a pcap file (nanosecond timestamps, Ethernet).
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#ifndef COLO_PCAP_H_INCLUDED
#define COLO_PCAP_H_INCLUDED

#include <stddef.h>

#include "colo_buf.h"

//  Write the frames (vnet headers left out, NULL entries skipped) to path,
//  replacing it atomically (temporary file, then rename).  Timestamps come
//  from buf->ts_ns.  Returns 0 or -1 (errno set).
int colo_pcap_write (const char *path, const colo_buf_t *const *frames, size_t n);

#endif
