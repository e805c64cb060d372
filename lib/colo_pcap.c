/*  colo_pcap.c - write frames as a pcap file (nanosecond timestamps, Ethernet).
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "colo_pcap.h"

//  Classic pcap, native byte order, nanosecond variant of the magic.
typedef struct {
    uint32_t magic, version_major_minor, thiszone, sigfigs, snaplen, linktype;
} s_file_hdr_t;

int
colo_pcap_write (const char *path, const colo_buf_t *const *frames, size_t n)
{
    char tmp[4096];
    if (snprintf (tmp, sizeof tmp, "%s.tmp", path) >= (int) sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    FILE *file = fopen (tmp, "wb");
    if (!file)
        return -1;
    uint16_t version[2] = {2, 4};
    s_file_hdr_t hdr = {0xa1b23c4du, 0, 0, 0, COLO_FRAME_MAX, 1};
    memcpy (&hdr.version_major_minor, version, 4);
    int ok = fwrite (&hdr, sizeof hdr, 1, file) == 1;
    for (size_t i = 0; ok && i < n; i++) {
        const colo_buf_t *buf = frames[i];
        if (!buf)
            continue;
        uint32_t len = buf->len - buf->vnet_hdr_len;
        uint32_t rec[4] = {(uint32_t) (buf->ts_ns / 1000000000u),
                           (uint32_t) (buf->ts_ns % 1000000000u), len, len};
        ok = fwrite (rec, sizeof rec, 1, file) == 1
             && (len == 0 || fwrite (buf->data + buf->vnet_hdr_len, len, 1, file) == 1);
    }
    if (fclose (file) != 0)
        ok = 0;
    if (!ok || rename (tmp, path) != 0) {
        int saved = errno;
        unlink (tmp);
        errno = saved ? saved : EIO;
        return -1;
    }
    return 0;
}
