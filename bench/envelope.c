/*  envelope.c - encode+decode cost of the fixed-header envelope vs msgpack.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Usage: envelope [--records N] [--json]
 *  For 64, 512 and 1500-byte frames, encodes N records into a buffer and
 *  decodes them back into colo_buf_t (as a receiving port does), once with
 *  the fixed header and once with msgpack, and prints ns per record for
 *  each and the ratio msgpack / fixed.  Each measurement is the best of 5
 *  rounds, so a noisy neighbour shows less.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo_envelope.h"
#include "colo_log.h"

typedef size_t (*s_encode_fn) (const colo_buf_t *, uint8_t *, size_t);
typedef colo_env_result_t (*s_decode_fn) (const uint8_t *, size_t, colo_buf_t **,
                                          size_t *);

static volatile uint64_t s_sink;

//  ns per record (encode + decode) over n records; -1 on a codec error.
static double
s_measure (colo_buf_t *src, uint64_t n, s_encode_fn enc, s_decode_fn dec,
           uint8_t *scratch, size_t cap, size_t *record_size)
{
    double best = -1;
    for (int round = 0; round < 5; round++) {
        uint64_t start = colo_clock_mono_ns ();
        for (uint64_t i = 0; i < n; i++) {
            src->seq = i;
            size_t len = enc (src, scratch, cap);
            colo_buf_t *out = NULL;
            size_t used = 0;
            if (len == 0 || dec (scratch, len, &out, &used) != COLO_ENV_OK
                || used != len || out->seq != i)
                return -1;
            s_sink += out->data[out->len - 1];
            colo_buf_destroy (&out);
            *record_size = len;
        }
        double ns = (double) (colo_clock_mono_ns () - start) / (double) n;
        if (best < 0 || ns < best)
            best = ns;
    }
    return best;
}

int
main (int argc, char **argv)
{
    uint64_t records = 1000000;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "--records") == 0 && i + 1 < argc)
            records = strtoull (argv[++i], NULL, 10);
        else if (strcmp (argv[i], "--json") == 0)
            json = 1;
        else {
            fprintf (stderr, "usage: envelope [--records N] [--json]\n");
            return 2;
        }
    }
    if (records == 0)
        return 2;
    static const uint32_t sizes[] = {64, 512, 1500};
    double fixed_ns[3], mp_ns[3];
    size_t fixed_size[3], mp_size[3];
    size_t cap = 2 * COLO_FRAME_MAX;
    uint8_t *scratch = (uint8_t *) malloc (cap);
    int rc = 0;
    for (int s = 0; s < 3; s++) {
        colo_buf_t *src = colo_buf_new (sizes[s]);
        memset (src->data, 0xa5, sizes[s]);
        src->len = sizes[s];
        src->dir = COLO_DIR_FROM_PRIMARY;
        src->instance = colo_instance_id ("vm1-nic0");
        src->ts_ns = colo_clock_real_ns ();
        fixed_ns[s] = s_measure (src, records, colo_envelope_encode,
                                 colo_envelope_decode, scratch, cap, &fixed_size[s]);
        mp_ns[s] = s_measure (src, records, colo_envelope_mp_encode,
                              colo_envelope_mp_decode, scratch, cap, &mp_size[s]);
        if (fixed_ns[s] < 0 || mp_ns[s] < 0)
            rc = 1;
        colo_buf_destroy (&src);
    }
    free (scratch);
    if (json) {
        printf ("{\"benchmark\":\"envelope\",\"records\":%llu,\"results\":[",
                (unsigned long long) records);
        for (int s = 0; s < 3; s++)
            printf ("%s{\"size\":%u,\"fixed_ns\":%.1f,\"msgpack_ns\":%.1f,"
                    "\"fixed_bytes\":%zu,\"msgpack_bytes\":%zu,"
                    "\"ratio_msgpack_fixed\":%.2f}",
                    s ? "," : "", sizes[s], fixed_ns[s], mp_ns[s], fixed_size[s],
                    mp_size[s], fixed_ns[s] > 0 ? mp_ns[s] / fixed_ns[s] : 0);
        printf ("],\"ok\":%s}\n", rc ? "false" : "true");
    }
    else {
        printf ("envelope: encode+decode per record, best of 5 rounds of %llu\n",
                (unsigned long long) records);
        for (int s = 0; s < 3; s++)
            printf ("  %5u bytes  fixed %6.1f ns (%zu B)  msgpack %6.1f ns (%zu B)"
                    "  ratio msgpack/fixed %.2f\n",
                    sizes[s], fixed_ns[s], fixed_size[s], mp_ns[s], mp_size[s],
                    fixed_ns[s] > 0 ? mp_ns[s] / fixed_ns[s] : 0);
    }
    return rc;
}
