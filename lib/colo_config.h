/*  colo_config.h - the deployment config file: INI sections per service instance.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  One file can describe a whole host: every service reads the sections of
 *  its own kind and ignores the others.
 *
 *    # comment (also ';')
 *    [compare vm1-nic0]              kind and instance name
 *    primary-in = shm:vm1-pri        keys are the long command-line options
 *    compare-timeout = 3000
 *    [rewriter vm1-nic0]
 *    ...
 *
 *  Keys and values are trimmed; a value may be quoted with "..." to keep
 *  surrounding spaces or a '#'.  A key may appear once per section.
 */
#ifndef COLO_CONFIG_H_INCLUDED
#define COLO_CONFIG_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef struct colo_config colo_config_t;

//  Parse the file at path.  Returns NULL and writes a one-line error naming
//  the file, line and problem into err (err_cap bytes) on failure.
colo_config_t *colo_config_load (const char *path, char *err, size_t err_cap);

//  Parse text (for tests); name is used in error messages.
colo_config_t *colo_config_parse (const char *text, const char *name, char *err,
                                  size_t err_cap);

void colo_config_destroy (colo_config_t **self_p);

//  Sections in file order.
size_t colo_config_section_count (colo_config_t *self);
const char *colo_config_section_kind (colo_config_t *self, size_t section);
const char *colo_config_section_name (colo_config_t *self, size_t section);
//  Line of the section's [header] (for errors about missing keys).
int colo_config_section_line (colo_config_t *self, size_t section);

//  Keys of a section in file order, their values, and their line numbers.
size_t colo_config_key_count (colo_config_t *self, size_t section);
const char *colo_config_key (colo_config_t *self, size_t section, size_t index);
const char *colo_config_value (colo_config_t *self, size_t section, size_t index);
int colo_config_line (colo_config_t *self, size_t section, size_t index);

//  Value of key in section, or NULL.
const char *colo_config_get (colo_config_t *self, size_t section, const char *key);

//  Parse an unsigned decimal value within [min, max]; 0 or -1.
int colo_config_parse_u64 (const char *text, uint64_t min, uint64_t max, uint64_t *out);

#endif
