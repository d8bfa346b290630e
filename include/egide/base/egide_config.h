/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_config.h - INI configuration files checked against a schema.
 *
 * Each program declares the keys it accepts (section, name, type, range,
 * default, required).  Loading refuses unknown sections and keys, duplicate
 * keys, bad values and missing required keys, and reports the first error as
 * "file:line: message" (or "file: message" for a missing key).  The file is
 * read by egide_ini (the one INI reader, see egide_ini.h).
 */
#ifndef EGIDE_CONFIG_H
#define EGIDE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "egide/base/egide_rc.h"

typedef enum egide_cfg_type {
    EGIDE_CFG_STRING = 0, /* any non-empty printable text */
    EGIDE_CFG_INT,        /* decimal integer in [min, max] */
    EGIDE_CFG_BOOL,       /* true/false/yes/no/on/off/1/0 */
    EGIDE_CFG_PATH,       /* a file system path (not checked for existence here) */
    EGIDE_CFG_ENUM,       /* one of choices[] */
    EGIDE_CFG_NODE_ID,    /* a node id: [a-z0-9.-]{1,64}, e.g. "71.tas.macon" */
    EGIDE_CFG_ENDPOINT,   /* a ZeroMQ endpoint "tcp://host:port" or "ipc://path" */
} egide_cfg_type;

typedef struct egide_config_key {
    const char *section; /* "broker", "edge", "api", ... */
    const char *name;    /* key name */
    egide_cfg_type type;
    bool required;              /* missing -> error */
    int64_t min, max;           /* EGIDE_CFG_INT range */
    const char *def;            /* default as text, or NULL */
    const char *const *choices; /* EGIDE_CFG_ENUM: NULL-terminated */
    const char *help;           /* one line for --help / docs */
} egide_config_key_t;

/* Terminates a schema array. */
#define EGIDE_CONFIG_END                                                                           \
    {                                                                                              \
        NULL, NULL, EGIDE_CFG_STRING, false, 0, 0, NULL, NULL, NULL                                \
    }

typedef struct egide_config egide_config_t;

/* Load path against schema (array ended by EGIDE_CONFIG_END).  On error
 * returns EGIDE_ERR_CONFIG (or _IO/_NOTFOUND/_LIMIT for the file itself) and
 * writes "file:line: message" into err. */
egide_rc egide_config_load(const char *path, const egide_config_key_t *schema, egide_config_t **out,
                           char *err, size_t errsz);
/* Same from a string (name is used in messages). */
egide_rc egide_config_load_string(const char *name, const char *text,
                                  const egide_config_key_t *schema, egide_config_t **out, char *err,
                                  size_t errsz);
void egide_config_destroy(egide_config_t **self_p);

/* Value or default; NULL when neither.  Borrowed, valid until destroy. */
const char *egide_config_str(const egide_config_t *c, const char *section, const char *name);
/* Value or default (0 / false when neither; the schema check guarantees validity). */
int64_t egide_config_int(const egide_config_t *c, const char *section, const char *name);
bool egide_config_bool(const egide_config_t *c, const char *section, const char *name);
/* Whether the file set the key (defaults do not count). */
bool egide_config_has(const egide_config_t *c, const char *section, const char *name);
/* The file's path, for messages; relative paths in values are taken relative
 * to the file's directory by egide_config_path(). */
const char *egide_config_file(const egide_config_t *c);
/* A path value resolved against the config file's directory; caller frees. */
char *egide_config_path(const egide_config_t *c, const char *section, const char *name);

/* Print the schema as an annotated example file (for --help-config). */
void egide_config_print_schema(const egide_config_key_t *schema, void *file /* FILE* */);

#endif
