/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_config.c - INI configuration checked against a schema (see the
 * header).  egide_ini reads the file (line numbers, over-long lines, unknown
 * sections and keys, duplicates within a block, from a table built from the
 * schema); this file checks each value against its type and keeps it.
 */
#include "egide/base/egide_config.h"

#include <ctype.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egide/base/egide_ini.h"
#include "egide/base/egide_limits.h"
#include "egide/base/egide_util.h"

typedef struct s_entry {
    const egide_config_key_t *key; /* schema entry */
    char *value;                   /* owned */
    int line;                      /* where it was set */
} s_entry_t;

struct egide_config {
    const egide_config_key_t *schema; /* borrowed, static in callers */
    s_entry_t *entries;               /* one per schema key, same order */
    size_t n;
    char *file; /* owned copy of the name */
};

/* The parse of one file: the egide_ini table built from the schema (one row
 * per section, its keys in key_ptrs), and the configuration being filled. */
typedef struct s_parse {
    egide_config_t *cfg;
    egide_ini_section_spec_t *spec; /* owned, rows end with section NULL */
    const char **key_ptrs;          /* owned, the rows' NULL-terminated key lists */
} s_parse_t;

static bool s_valid_node_id(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > EGIDE_MAX_NODE_ID || v[0] == '.' || v[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (!(islower(c) || isdigit(c) || c == '.' || c == '-'))
            return false;
    }
    return true;
}

static bool s_valid_endpoint(const char *v)
{
    if (strncmp(v, "ipc://", 6) == 0)
        return v[6] != '\0';
    if (strncmp(v, "tcp://", 6) != 0)
        return false;
    const char *colon = strrchr(v + 6, ':');
    if (!colon || colon == v + 6)
        return false;
    int64_t port;
    return egide_parse_int64(colon + 1, 1, 65535, &port) == EGIDE_OK;
}

/* Check value v against key k; returns NULL or a static message. */
static const char *s_check(const egide_config_key_t *k, const char *v, char *buf, size_t bufsz)
{
    for (const char *s = v; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return "control characters are not allowed";
    switch (k->type) {
    case EGIDE_CFG_STRING:
    case EGIDE_CFG_PATH:
        return *v ? NULL : "empty value";
    case EGIDE_CFG_INT: {
        int64_t x;
        if (egide_parse_int64(v, k->min, k->max, &x) != EGIDE_OK) {
            snprintf(buf, bufsz, "not an integer in %lld..%lld", (long long)k->min,
                     (long long)k->max);
            return buf;
        }
        return NULL;
    }
    case EGIDE_CFG_BOOL: {
        bool b;
        return egide_parse_bool(v, &b) ? "not a boolean (true/false, yes/no, on/off, 1/0)" : NULL;
    }
    case EGIDE_CFG_ENUM:
        for (const char *const *c = k->choices; c && *c; c++)
            if (strcmp(*c, v) == 0)
                return NULL;
        snprintf(buf, bufsz, "not one of:");
        for (const char *const *c = k->choices; c && *c; c++) {
            size_t l = strlen(buf);
            snprintf(buf + l, bufsz - l, " %s", *c);
        }
        return buf;
    case EGIDE_CFG_NODE_ID:
        return s_valid_node_id(v) ? NULL : "not a node id (lower-case letters, digits, '.', '-')";
    case EGIDE_CFG_ENDPOINT:
        return s_valid_endpoint(v) ? NULL : "not an endpoint (tcp://HOST:PORT or ipc://PATH)";
    }
    return "unknown type";
}

static bool s_on_key(egide_ini_t *ini, const char *section, const char *name, const char *value,
                     void *user)
{
    s_parse_t *p = user;
    egide_config_t *c = p->cfg;
    for (size_t i = 0; i < c->n; i++) {
        const egide_config_key_t *k = c->entries[i].key;
        if (strcmp(k->section, section) != 0 || strcmp(k->name, name) != 0)
            continue;
        /* egide_ini refuses a repeat inside one block; this catches one in
         * a repeated [section]. */
        if (c->entries[i].value)
            return egide_ini_fail(ini, "duplicate key '%s' (first set on line %d)", name,
                                  c->entries[i].line);
        char buf[256];
        const char *bad = s_check(k, value, buf, sizeof buf);
        if (bad)
            return egide_ini_fail(ini, "bad value for '%s': %s", name, bad);
        c->entries[i].value = strdup(value);
        c->entries[i].line = egide_ini_line(ini);
        if (!c->entries[i].value)
            return egide_ini_fail(ini, "out of memory");
        return true;
    }
    /* Not reached: the table built from the schema lets only its keys through. */
    return egide_ini_fail(ini, "unknown key '%s' in section [%s]", name, section);
}

/* The egide_ini table of the schema's sections and keys. */
static egide_rc s_spec_new(s_parse_t *p, const egide_config_key_t *schema, size_t n)
{
    p->spec = calloc(n + 1, sizeof *p->spec);
    p->key_ptrs = calloc(2 * n + 1, sizeof *p->key_ptrs);
    if (!p->spec || !p->key_ptrs)
        return EGIDE_ERR_NOMEM;
    size_t rows = 0, used = 0;
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t r = 0; r < rows && !seen; r++)
            seen = strcmp(p->spec[r].section, schema[i].section) == 0;
        if (seen)
            continue;
        p->spec[rows].section = schema[i].section;
        p->spec[rows].keys = &p->key_ptrs[used];
        rows++;
        for (size_t j = i; j < n; j++)
            if (strcmp(schema[j].section, schema[i].section) == 0)
                p->key_ptrs[used++] = schema[j].name;
        p->key_ptrs[used++] = NULL;
    }
    return EGIDE_OK;
}

egide_rc egide_config_load_string(const char *name, const char *text,
                                  const egide_config_key_t *schema, egide_config_t **out, char *err,
                                  size_t errsz)
{
    *out = NULL;
    if (errsz)
        err[0] = '\0';
    egide_config_t *c = calloc(1, sizeof *c);
    if (!c)
        return EGIDE_ERR_NOMEM;
    c->schema = schema;
    while (schema[c->n].name)
        c->n++;
    c->entries = calloc(c->n ? c->n : 1, sizeof *c->entries);
    c->file = strdup(name);
    if (!c->entries || !c->file) {
        egide_config_destroy(&c);
        return EGIDE_ERR_NOMEM;
    }
    for (size_t i = 0; i < c->n; i++)
        c->entries[i].key = &schema[i];

    s_parse_t p = {.cfg = c};
    egide_rc rc = s_spec_new(&p, schema, c->n);
    if (rc == EGIDE_OK) {
        egide_ini_opts_t o = {.on_key = s_on_key, .user = &p, .spec = p.spec};
        rc = egide_ini_parse_string(name, text, &o, err, errsz);
    }
    free(p.spec);
    free(p.key_ptrs);
    for (size_t i = 0; rc == EGIDE_OK && i < c->n; i++)
        if (c->entries[i].key->required && !c->entries[i].value) {
            snprintf(err, errsz, "%s: missing required key '%s' in section [%s]", name,
                     c->entries[i].key->name, c->entries[i].key->section);
            rc = EGIDE_ERR_CONFIG;
        }
    if (rc) {
        egide_config_destroy(&c);
        return rc;
    }
    *out = c;
    return EGIDE_OK;
}

egide_rc egide_config_load(const char *path, const egide_config_key_t *schema, egide_config_t **out,
                           char *err, size_t errsz)
{
    *out = NULL;
    uint8_t *data;
    size_t len;
    egide_rc rc = egide_file_read(path, EGIDE_MAX_CONFIG_FILE, &data, &len);
    if (rc) {
        snprintf(err, errsz, "%s: cannot read configuration: %s", path,
                 rc == EGIDE_ERR_LIMIT ? "file too large" : egide_strerror(rc));
        return rc;
    }
    if (memchr(data, '\0', len)) {
        snprintf(err, errsz, "%s: binary data in configuration file", path);
        free(data);
        return EGIDE_ERR_CONFIG;
    }
    rc = egide_config_load_string(path, (const char *)data, schema, out, err, errsz);
    free(data);
    return rc;
}

void egide_config_destroy(egide_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    egide_config_t *c = *self_p;
    for (size_t i = 0; c->entries && i < c->n; i++)
        free(c->entries[i].value);
    free(c->entries);
    free(c->file);
    free(c);
    *self_p = NULL;
}

static const s_entry_t *s_find(const egide_config_t *c, const char *section, const char *name)
{
    for (size_t i = 0; c && i < c->n; i++)
        if (strcmp(c->entries[i].key->section, section) == 0 &&
            strcmp(c->entries[i].key->name, name) == 0)
            return &c->entries[i];
    return NULL;
}

const char *egide_config_str(const egide_config_t *c, const char *section, const char *name)
{
    const s_entry_t *e = s_find(c, section, name);
    if (!e)
        return NULL;
    return e->value ? e->value : e->key->def;
}

int64_t egide_config_int(const egide_config_t *c, const char *section, const char *name)
{
    const char *v = egide_config_str(c, section, name);
    int64_t x = 0;
    if (v && egide_parse_int64(v, INT64_MIN, INT64_MAX, &x) != EGIDE_OK)
        x = 0;
    return x;
}

bool egide_config_bool(const egide_config_t *c, const char *section, const char *name)
{
    const char *v = egide_config_str(c, section, name);
    bool b = false;
    if (v && egide_parse_bool(v, &b) != EGIDE_OK)
        b = false;
    return b;
}

bool egide_config_has(const egide_config_t *c, const char *section, const char *name)
{
    const s_entry_t *e = s_find(c, section, name);
    return e && e->value;
}

const char *egide_config_file(const egide_config_t *c)
{
    return c->file;
}

char *egide_config_path(const egide_config_t *c, const char *section, const char *name)
{
    const char *v = egide_config_str(c, section, name);
    if (!v)
        return NULL;
    if (v[0] == '/')
        return strdup(v);
    char *copy = strdup(c->file);
    if (!copy)
        return NULL;
    const char *dir = dirname(copy);
    size_t n = strlen(dir) + strlen(v) + 2;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s/%s", dir, v);
    free(copy);
    return out;
}

void egide_config_print_schema(const egide_config_key_t *schema, void *file)
{
    FILE *f = file;
    const char *section = NULL;
    for (const egide_config_key_t *k = schema; k->name; k++) {
        if (!section || strcmp(section, k->section) != 0) {
            fprintf(f, "%s[%s]\n", section ? "\n" : "", k->section);
            section = k->section;
        }
        fprintf(f, "; %s%s\n", k->help ? k->help : "", k->required ? " (required)" : "");
        fprintf(f, "%s%s = %s\n", k->required ? "" : ";", k->name, k->def ? k->def : "");
    }
}
