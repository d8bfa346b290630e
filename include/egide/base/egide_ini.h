/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_ini.h - the one INI reader: every INI file Égide reads (daemon
 * configuration, the CLI's [api] file, jurisdiction profiles, the directory
 * authority's nodes and rules files) goes through it, so all of them report
 * errors the same way and refuse the same mistakes.
 *
 * inih does the tokenising (comments, "key = value", "key: value", inline
 * "; comments", a UTF-8 BOM); our line reader feeds it one physical line at
 * a time so that line numbers are exact, sees every [section] header (so a
 * repeated header is a new block, and an empty section still exists), and
 * refuses an over-long line instead of letting inih split it silently.
 *
 * The caller gives callbacks (one per section header, one per key) and,
 * optionally, a table of the sections and keys it accepts.  Refused, with
 * the first error reported as "file:line: message" ("file: message" when no
 * line applies):
 *   - a line longer than inih's buffer ("line too long (at most N bytes)");
 *   - a malformed line ("syntax error (expected [section] or key = value)");
 *   - a key before any [section] ("key outside any [section]");
 *   - an indented line after a key, which inih would glue to that key's
 *     value ("indented line (multi-line values are not supported...)");
 *   - a key set twice in one section block ("duplicate key 'k' (first set
 *     on line N)"), unless allow_duplicate_keys;
 *   - with a table: a section it does not list ("unknown section [s]", at
 *     its first key: an empty unknown section is harmless), or
 *     a key its section does not list ("unknown key 'k' in section [s]
 *     (known: a, b)");
 *   - whatever a callback refuses with egide_ini_fail().
 * Parsing stops at the first error: later lines are not looked at, so a
 * callback never sees input after a refusal.
 */
#ifndef EGIDE_INI_H
#define EGIDE_INI_H

#include <stdbool.h>
#include <stddef.h>
#include "egide/base/egide_rc.h"

/* The state of one parse, handed to the callbacks (opaque). */
typedef struct egide_ini egide_ini_t;

/* Called at each "[section]" header, repeated ones included, before any key
 * of that block.  Return false to refuse (after egide_ini_fail(); a bare
 * false is reported as "refused section [s]"). */
typedef bool (*egide_ini_section_fn)(egide_ini_t *ini, const char *section, void *user);
/* Called for each "key = value" (value trimmed, never NULL).  Return false
 * to refuse, as above. */
typedef bool (*egide_ini_key_fn)(egide_ini_t *ini, const char *section, const char *key,
                                 const char *value, void *user);

/* One row of the accepted sections.  Invariant: a table ends with a row
 * whose section is NULL. */
typedef struct egide_ini_section_spec {
    const char *section;     /* exact name; "prefix*" matches names starting with prefix
                                ("deadline *"); "*" matches any section */
    const char *const *keys; /* NULL-terminated accepted keys; NULL = any key (the
                                callback decides) */
} egide_ini_section_spec_t;

typedef struct egide_ini_opts {
    egide_ini_section_fn on_section;      /* optional */
    egide_ini_key_fn on_key;              /* optional (NULL: keys are only checked) */
    void *user;                           /* passed to both */
    const egide_ini_section_spec_t *spec; /* optional table of accepted sections/keys */
    bool skip_unknown_sections;           /* with spec: sections it does not list are
                                             skipped (their keys unchecked), not refused */
    bool allow_duplicate_keys;            /* do not refuse a key set twice in one block */
    const char *syntax_error;             /* message for a malformed line, NULL = the
                                             default above */
} egide_ini_opts_t;

/* Parse text (NUL-terminated) as INI; name is the file name used in
 * messages.  Returns EGIDE_OK, EGIDE_ERR_CONFIG with the first error
 * written to err ("name:line: message"), EGIDE_ERR_NOMEM, or
 * EGIDE_ERR_INVALID for NULL arguments.  err may be NULL when errsz is 0. */
egide_rc egide_ini_parse_string(const char *name, const char *text, const egide_ini_opts_t *opts,
                                char *err, size_t errsz);

/* Read path (at most EGIDE_MAX_CONFIG_FILE bytes, no NUL byte) and parse it.
 * Besides the codes above: the egide_file_read() code (EGIDE_ERR_NOTFOUND,
 * _IO, _LIMIT, _PERM) with "path: cannot read: why" in err, or
 * EGIDE_ERR_CONFIG with "path: binary data (NUL byte) in a text file". */
egide_rc egide_ini_parse_file(const char *path, const egide_ini_opts_t *opts, char *err,
                              size_t errsz);

/* From a callback: record the error "file:line: message" at the current line
 * (egide_ini_fail) or at line (egide_ini_fail_at; 0 = "file: message").
 * Only the first error is kept.  Both return false, so a callback can
 * `return egide_ini_fail(ini, ...)`. */
bool egide_ini_fail(egide_ini_t *ini, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool egide_ini_fail_at(egide_ini_t *ini, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The number of the line being handled (1-based). */
int egide_ini_line(const egide_ini_t *ini);
/* The line of the current block's [section] header (0 before the first). */
int egide_ini_section_line(const egide_ini_t *ini);
/* The file name given to the parse, for messages.  Borrowed. */
const char *egide_ini_name(const egide_ini_t *ini);

#endif
