/*  colo_counters.h - named counter sets: one enum, one name table, one array.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  A module that counts things declares an enum of counter indices, a
 *  `const char *const names[]` table in the same order, and keeps a
 *  `uint64_t values[N]` array in its state.  Counting is then a plain
 *  increment on the hot path; this module only formats and merges sets.
 */
#ifndef COLO_COUNTERS_H_INCLUDED
#define COLO_COUNTERS_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *const *names;   //  borrowed, `count` entries
    const uint64_t *values;     //  borrowed, `count` entries
    size_t count;
} colo_counters_t;

//  Value of the named counter, or 0 if no counter has that name.
uint64_t colo_counters_get (const colo_counters_t *set, const char *name);

//  Write "prefix name value\n" lines (or, with json=1, one JSON object
//  {"name":value,...}) into buf of size cap, NUL-terminated.  Zero counters
//  are skipped in the text form when skip_zero is set.  Returns the number of
//  bytes that the full output needs (like snprintf); output is truncated at
//  cap-1 bytes.
size_t colo_counters_format (const colo_counters_t *set, const char *prefix,
                             int json, int skip_zero, char *buf, size_t cap);

//  Add every value of src into dst (same name table, same count).
void colo_counters_add (uint64_t *dst, const uint64_t *src, size_t count);

#endif
