/*  colo_config.c - the deployment config file: INI sections per service instance.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo_config.h"

typedef struct {
    char *key, *value;
    int line;
} s_pair_t;

typedef struct {
    char *kind, *name;
    int line;
    s_pair_t *pairs;
    size_t count, cap;
} s_section_t;

struct colo_config {
    s_section_t *sections;
    size_t count, cap;
};

static void
s_error (char *err, size_t cap, const char *name, int line, const char *fmt, ...)
{
    if (!err || !cap)
        return;
    int n = snprintf (err, cap, "%s:%d: ", name, line);
    if (n < 0 || (size_t) n >= cap)
        return;
    va_list args;
    va_start (args, fmt);
    vsnprintf (err + n, cap - (size_t) n, fmt, args);
    va_end (args);
}

static char *
s_trim (char *s)
{
    while (*s && isspace ((unsigned char) *s))
        s++;
    char *end = s + strlen (s);
    while (end > s && isspace ((unsigned char) end[-1]))
        *--end = 0;
    return s;
}

void
colo_config_destroy (colo_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    colo_config_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++) {
        s_section_t *sec = &self->sections[i];
        for (size_t k = 0; k < sec->count; k++) {
            free (sec->pairs[k].key);
            free (sec->pairs[k].value);
        }
        free (sec->pairs);
        free (sec->kind);
        free (sec->name);
    }
    free (self->sections);
    free (self);
    *self_p = NULL;
}

//  Parse one "key = value" line into the current section.
static int
s_parse_pair (colo_config_t *self, char *line, int lineno, const char *name, char *err,
              size_t err_cap)
{
    char *eq = strchr (line, '=');
    if (!eq) {
        s_error (err, err_cap, name, lineno, "expected 'key = value'");
        return -1;
    }
    *eq = 0;
    char *key = s_trim (line);
    char *value = s_trim (eq + 1);
    if (!*key) {
        s_error (err, err_cap, name, lineno, "empty key");
        return -1;
    }
    for (char *c = key; *c; c++)
        if (!isalnum ((unsigned char) *c) && *c != '-' && *c != '_') {
            s_error (err, err_cap, name, lineno, "bad key '%s'", key);
            return -1;
        }
    if (*value == '"') {
        char *close = strrchr (value + 1, '"');
        if (!close || s_trim (close + 1)[0] != 0) {
            s_error (err, err_cap, name, lineno, "unterminated quote in '%s'", key);
            return -1;
        }
        *close = 0;
        value++;
    }
    else {
        //  An unquoted value ends at a comment.
        char *hash = strpbrk (value, "#;");
        if (hash && hash > value && isspace ((unsigned char) hash[-1])) {
            *hash = 0;
            value = s_trim (value);
        }
    }
    if (self->count == 0) {
        s_error (err, err_cap, name, lineno, "'%s' outside of any [section]", key);
        return -1;
    }
    s_section_t *sec = &self->sections[self->count - 1];
    for (size_t k = 0; k < sec->count; k++)
        if (strcmp (sec->pairs[k].key, key) == 0) {
            s_error (err, err_cap, name, lineno, "key '%s' repeated (first on line %d)",
                     key, sec->pairs[k].line);
            return -1;
        }
    if (sec->count == sec->cap) {
        size_t cap = sec->cap ? sec->cap * 2 : 8;
        s_pair_t *grown = (s_pair_t *) realloc (sec->pairs, cap * sizeof (s_pair_t));
        if (!grown)
            return -1;
        sec->pairs = grown;
        sec->cap = cap;
    }
    s_pair_t *pair = &sec->pairs[sec->count];
    pair->key = strdup (key);
    pair->value = strdup (value);
    pair->line = lineno;
    if (!pair->key || !pair->value) {
        free (pair->key);
        free (pair->value);
        return -1;
    }
    sec->count++;
    return 0;
}

static int
s_parse_section (colo_config_t *self, char *line, int lineno, const char *name,
                 char *err, size_t err_cap)
{
    char *close = strchr (line, ']');
    if (!close || s_trim (close + 1)[0] != 0) {
        s_error (err, err_cap, name, lineno, "expected '[kind name]'");
        return -1;
    }
    *close = 0;
    char *inner = s_trim (line + 1);
    char *space = inner;
    while (*space && !isspace ((unsigned char) *space))
        space++;
    char *inst = "";
    if (*space) {
        *space = 0;
        inst = s_trim (space + 1);
    }
    if (!*inner || strchr (inst, ' ')) {
        s_error (err, err_cap, name, lineno, "expected '[kind name]'");
        return -1;
    }
    for (size_t i = 0; i < self->count; i++)
        if (strcmp (self->sections[i].kind, inner) == 0
            && strcmp (self->sections[i].name, inst) == 0) {
            s_error (err, err_cap, name, lineno, "section [%s %s] repeated", inner, inst);
            return -1;
        }
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 8;
        s_section_t *grown
            = (s_section_t *) realloc (self->sections, cap * sizeof (s_section_t));
        if (!grown)
            return -1;
        self->sections = grown;
        self->cap = cap;
    }
    s_section_t *sec = &self->sections[self->count];
    memset (sec, 0, sizeof *sec);
    sec->kind = strdup (inner);
    sec->name = strdup (inst);
    sec->line = lineno;
    self->count++;
    return sec->kind && sec->name ? 0 : -1;
}

colo_config_t *
colo_config_parse (const char *text, const char *name, char *err, size_t err_cap)
{
    colo_config_t *self = (colo_config_t *) calloc (1, sizeof *self);
    char *copy = strdup (text ? text : "");
    if (!self || !copy) {
        free (self);
        free (copy);
        return NULL;
    }
    int lineno = 0;
    char *cursor = copy;
    //  strtok_r would merge empty lines and lose line numbers: split by hand.
    while (cursor) {
        char *nl = strchr (cursor, '\n');
        if (nl)
            *nl = 0;
        lineno++;
        char *line = s_trim (cursor);
        cursor = nl ? nl + 1 : NULL;
        if (!*line || *line == '#' || *line == ';')
            continue;
        int rc = *line == '[' ? s_parse_section (self, line, lineno, name, err, err_cap)
                              : s_parse_pair (self, line, lineno, name, err, err_cap);
        if (rc != 0) {
            free (copy);
            colo_config_destroy (&self);
            return NULL;
        }
    }
    free (copy);
    return self;
}

colo_config_t *
colo_config_load (const char *path, char *err, size_t err_cap)
{
    FILE *file = fopen (path, "r");
    if (!file) {
        s_error (err, err_cap, path, 0, "cannot open: %s", strerror (errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *text = (char *) malloc (cap);
    size_t n;
    while (text && (n = fread (text + len, 1, cap - len - 1, file)) > 0) {
        len += n;
        if (len + 1 == cap) {
            if (cap >= (16u << 20)) {
                s_error (err, err_cap, path, 0, "larger than 16 MiB");
                free (text);
                fclose (file);
                return NULL;
            }
            char *grown = (char *) realloc (text, cap * 2);
            if (!grown) {
                free (text);
                text = NULL;
                break;
            }
            text = grown;
            cap *= 2;
        }
    }
    fclose (file);
    if (!text)
        return NULL;
    text[len] = 0;
    if (memchr (text, 0, len)) {
        s_error (err, err_cap, path, 0, "contains a NUL byte");
        free (text);
        return NULL;
    }
    colo_config_t *self = colo_config_parse (text, path, err, err_cap);
    free (text);
    return self;
}

size_t
colo_config_section_count (colo_config_t *self)
{
    return self->count;
}

const char *
colo_config_section_kind (colo_config_t *self, size_t section)
{
    return section < self->count ? self->sections[section].kind : NULL;
}

const char *
colo_config_section_name (colo_config_t *self, size_t section)
{
    return section < self->count ? self->sections[section].name : NULL;
}

int
colo_config_section_line (colo_config_t *self, size_t section)
{
    return section < self->count ? self->sections[section].line : 0;
}

size_t
colo_config_key_count (colo_config_t *self, size_t section)
{
    return section < self->count ? self->sections[section].count : 0;
}

const char *
colo_config_key (colo_config_t *self, size_t section, size_t index)
{
    if (section >= self->count || index >= self->sections[section].count)
        return NULL;
    return self->sections[section].pairs[index].key;
}

const char *
colo_config_value (colo_config_t *self, size_t section, size_t index)
{
    if (section >= self->count || index >= self->sections[section].count)
        return NULL;
    return self->sections[section].pairs[index].value;
}

int
colo_config_line (colo_config_t *self, size_t section, size_t index)
{
    if (section >= self->count || index >= self->sections[section].count)
        return 0;
    return self->sections[section].pairs[index].line;
}

const char *
colo_config_get (colo_config_t *self, size_t section, const char *key)
{
    if (section >= self->count)
        return NULL;
    s_section_t *sec = &self->sections[section];
    for (size_t k = 0; k < sec->count; k++)
        if (strcmp (sec->pairs[k].key, key) == 0)
            return sec->pairs[k].value;
    return NULL;
}

int
colo_config_parse_u64 (const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
    if (!text || !*text || *text == '-' || *text == '+')
        return -1;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull (text, &end, 10);
    if (errno || !end || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}
