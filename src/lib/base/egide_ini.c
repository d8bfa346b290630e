/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_ini.c - the one INI reader (see the header).  inih tokenises; our
 * line reader s_reader() hands it one physical line per call, counts lines,
 * notices section headers itself (inih only reports keys) and refuses lines
 * longer than inih's buffer.  After the first error the reader reports end
 * of input, so nothing past a refusal reaches a callback.
 */
#include "egide/base/egide_ini.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "egide/base/egide_limits.h"
#include "egide/base/egide_util.h"

#define S_MAX_SECTION 192u  /* bytes of a section name */
#define S_MAX_KEYS    1024u /* keys in one section block */

typedef struct s_seen {
    char *key; /* owned */
    int line;  /* where it was set */
} s_seen_t;

/* Invariants: line counts the lines handed to inih; once failed is set, err
 * holds the message and the reader hands out nothing more; seen lists the
 * keys of the current section block only. */
struct egide_ini {
    const egide_ini_opts_t *o;
    const char *name;                    /* file name for messages (borrowed) */
    const char *text;                    /* the whole input (borrowed) */
    size_t pos;                          /* next byte of text */
    int line;                            /* number of the last line handed to inih */
    char *err;                           /* caller's buffer */
    size_t errsz;                        /* its size */
    bool failed;                         /* an error is recorded */
    int err_line;                        /* its line (0 = none) */
    char section[S_MAX_SECTION];         /* the current block's name */
    int section_line;                    /* its header's line, 0 before any */
    bool skip;                           /* current block: not in spec, skipped */
    bool unknown;                        /* current block: not in spec, refused at its
                                            first key (that is where a reader looks) */
    const egide_ini_section_spec_t *cur; /* current block's spec row, or NULL */
    bool after_key;                      /* a key came since the last header: inih would read an
                                            indented line as the continuation of its value */
    s_seen_t *seen;                      /* keys of the current block */
    size_t n_seen, cap_seen;
};

/* ------------------------------------------------------------------ errors */

static bool s_vfail(egide_ini_t *ini, int line, const char *fmt, va_list ap)
{
    if (ini->failed)
        return false; /* keep the first: it is the one to fix first */
    ini->failed = true;
    ini->err_line = line;
    if (!ini->err || !ini->errsz)
        return false;
    char msg[768];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (line > 0)
        snprintf(ini->err, ini->errsz, "%s:%d: %s", ini->name, line, msg);
    else
        snprintf(ini->err, ini->errsz, "%s: %s", ini->name, msg);
    return false;
}

bool egide_ini_fail(egide_ini_t *ini, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vfail(ini, ini->line, fmt, ap);
    va_end(ap);
    return false;
}

bool egide_ini_fail_at(egide_ini_t *ini, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vfail(ini, line, fmt, ap);
    va_end(ap);
    return false;
}

int egide_ini_line(const egide_ini_t *ini)
{
    return ini->line;
}

int egide_ini_section_line(const egide_ini_t *ini)
{
    return ini->section_line;
}

const char *egide_ini_name(const egide_ini_t *ini)
{
    return ini->name;
}

/* Copy s for a message: control bytes become '?' (UTF-8 is kept). */
static const char *s_safe(const char *s, char *out, size_t outsz)
{
    size_t o = 0;
    for (; *s && o + 1 < outsz; s++)
        out[o++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
    out[o] = '\0';
    return out;
}

/* ------------------------------------------------------------------ spec */

static bool s_spec_match(const char *pattern, const char *section)
{
    size_t n = strlen(pattern);
    if (n && pattern[n - 1] == '*')
        return strncmp(pattern, section, n - 1) == 0 && section[n - 1] != '\0';
    return strcmp(pattern, section) == 0;
}

static void s_seen_clear(egide_ini_t *ini)
{
    for (size_t i = 0; i < ini->n_seen; i++)
        free(ini->seen[i].key);
    ini->n_seen = 0;
}

/* A "[section]" header was read at the current line. */
static void s_begin_section(egide_ini_t *ini, const char *name)
{
    s_seen_clear(ini);
    ini->after_key = false;
    ini->section_line = ini->line;
    ini->skip = ini->unknown = false;
    ini->cur = NULL;
    char safe[S_MAX_SECTION];
    if (egide_strlcpy(ini->section, name, sizeof ini->section) != EGIDE_OK) {
        egide_ini_fail(ini, "section name longer than %u bytes", S_MAX_SECTION - 1);
        return;
    }
    if (ini->o->spec) {
        for (const egide_ini_section_spec_t *s = ini->o->spec; s->section && !ini->cur; s++)
            if (s_spec_match(s->section, name))
                ini->cur = s;
        if (!ini->cur) {
            ini->skip = ini->o->skip_unknown_sections;
            ini->unknown = !ini->skip;
            return;
        }
    }
    if (ini->o->on_section && !ini->o->on_section(ini, ini->section, ini->o->user))
        egide_ini_fail(ini, "refused section [%s]", s_safe(name, safe, sizeof safe));
}

/* Is the line in str a section header?  Mirrors inih: leading blanks, '[',
 * the name up to ']' (an inline "; comment" before it makes the line
 * malformed, which inih reports), blanks trimmed. */
static void s_scan_header(egide_ini_t *ini, const char *str)
{
    const char *p = str;
    if (ini->line == 1 && strncmp(p, "\xef\xbb\xbf", 3) == 0)
        p += 3;
    const char *text = p;
    while (*p == ' ' || *p == '\t')
        p++;
    if (p > text && ini->after_key && *p && !strchr(";#\r\n", *p)) {
        /* inih would glue this line to the value of the key above: an
         * indented file would silently read wrong. */
        egide_ini_fail(ini, "indented line (multi-line values are not supported: remove the "
                            "indentation)");
        return;
    }
    if (*p != '[')
        return;
    const char *e = p + 1;
    while (*e && *e != ']' && !(*e == ';' && (e[-1] == ' ' || e[-1] == '\t')))
        e++;
    if (*e != ']')
        return; /* malformed: inih says so */
    const char *b = p + 1;
    while (*b == ' ' || *b == '\t')
        b++;
    const char *t = e;
    while (t > b && (t[-1] == ' ' || t[-1] == '\t'))
        t--;
    char name[S_MAX_SECTION + 1];
    size_t n = (size_t)(t - b);
    if (n >= sizeof name)
        n = sizeof name - 1; /* then too long for ini->section: refused */
    memcpy(name, b, n);
    name[n] = '\0';
    s_begin_section(ini, name);
}

/* ------------------------------------------------------------------ inih glue */

static char *s_reader(char *str, int num, void *stream)
{
    egide_ini_t *ini = stream;
    if (ini->failed || !ini->text[ini->pos] || num < 3)
        return NULL;
    const char *start = ini->text + ini->pos;
    const char *nl = strchr(start, '\n');
    size_t len = nl ? (size_t)(nl - start) + 1 : strlen(start);
    ini->pos += len;
    ini->line++;
    if (len >= (size_t)num) {
        egide_ini_fail(ini, "line too long (at most %d bytes)", num - 3);
        egide_strlcpy(str, ";\n", (size_t)num); /* a comment, so inih stays in step */
        return str;
    }
    memcpy(str, start, len);
    str[len] = '\0';
    s_scan_header(ini, str);
    return str;
}

static int s_handler(void *user, const char *section, const char *key, const char *value)
{
    egide_ini_t *ini = user;
    char a[96], b[S_MAX_SECTION];
    (void)section; /* the reader tracked it, repeats included */
    if (ini->failed)
        return 0;
    if (ini->section_line == 0)
        return egide_ini_fail(ini, "key outside any [section]");
    ini->after_key = true;
    if (ini->skip)
        return 1;
    if (ini->unknown)
        return egide_ini_fail(ini, "unknown section [%s]", s_safe(ini->section, b, sizeof b));
    if (!value)
        value = "";
    if (!ini->o->allow_duplicate_keys) {
        for (size_t i = 0; i < ini->n_seen; i++)
            if (strcmp(ini->seen[i].key, key) == 0)
                return egide_ini_fail(ini, "duplicate key '%s' (first set on line %d)",
                                      s_safe(key, a, sizeof a), ini->seen[i].line);
        if (ini->n_seen >= S_MAX_KEYS)
            return egide_ini_fail(ini, "more than %u keys in section [%s]", S_MAX_KEYS,
                                  s_safe(ini->section, b, sizeof b));
        if (ini->n_seen == ini->cap_seen) {
            size_t cap = ini->cap_seen ? ini->cap_seen * 2 : 16;
            s_seen_t *v = realloc(ini->seen, cap * sizeof *v);
            if (!v)
                return egide_ini_fail(ini, "out of memory");
            ini->seen = v;
            ini->cap_seen = cap;
        }
        char *k = strdup(key);
        if (!k)
            return egide_ini_fail(ini, "out of memory");
        ini->seen[ini->n_seen].key = k;
        ini->seen[ini->n_seen++].line = ini->line;
    }
    if (ini->cur && ini->cur->keys) {
        bool known = false;
        for (const char *const *k = ini->cur->keys; *k && !known; k++)
            known = strcmp(*k, key) == 0;
        if (!known) {
            char list[512] = "";
            size_t used = 0;
            for (const char *const *k = ini->cur->keys; *k; k++) {
                int w = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", *k);
                if (w < 0 || (size_t)w >= sizeof list - used)
                    break;
                used += (size_t)w;
            }
            return egide_ini_fail(ini, "unknown key '%s' in section [%s] (known: %s)",
                                  s_safe(key, a, sizeof a), s_safe(ini->section, b, sizeof b),
                                  list);
        }
    }
    if (ini->o->on_key && !ini->o->on_key(ini, ini->section, key, value, ini->o->user))
        return egide_ini_fail(ini, "refused key '%s'", s_safe(key, a, sizeof a));
    return 1;
}

egide_rc egide_ini_parse_string(const char *name, const char *text, const egide_ini_opts_t *opts,
                                char *err, size_t errsz)
{
    if (err && errsz)
        err[0] = '\0';
    if (!name || !text || !opts)
        return EGIDE_ERR_INVALID;
    egide_ini_t ini = {.o = opts, .name = name, .text = text, .err = err, .errsz = errsz};
    int r = ini_parse_stream(s_reader, &ini, s_handler, &ini);
    /* inih reports the first line it could not parse; when that comes before
     * our own complaint it is the real cause (e.g. "[node" followed by keys
     * that then seem to be outside any section). */
    if (r > 0 && ini.failed && r < ini.err_line) {
        ini.failed = false;
        ini.err_line = 0;
    }
    if (r != 0 && !ini.failed)
        egide_ini_fail_at(&ini, r > 0 ? r : ini.line, "%s",
                          opts->syntax_error ? opts->syntax_error
                                             : "syntax error (expected [section] or key = value)");
    s_seen_clear(&ini);
    free(ini.seen);
    return ini.failed ? EGIDE_ERR_CONFIG : EGIDE_OK;
}

egide_rc egide_ini_parse_file(const char *path, const egide_ini_opts_t *opts, char *err,
                              size_t errsz)
{
    if (err && errsz)
        err[0] = '\0';
    if (!path || !opts)
        return EGIDE_ERR_INVALID;
    uint8_t *buf = NULL;
    size_t len = 0;
    egide_rc rc = egide_file_read(path, EGIDE_MAX_CONFIG_FILE, &buf, &len);
    if (rc) {
        if (err && errsz)
            snprintf(err, errsz, "%s: cannot read: %s", path,
                     rc == EGIDE_ERR_LIMIT ? "file too large" : egide_strerror(rc));
        return rc;
    }
    if (memchr(buf, '\0', len)) {
        free(buf);
        if (err && errsz)
            snprintf(err, errsz, "%s: binary data (NUL byte) in a text file", path);
        return EGIDE_ERR_CONFIG;
    }
    rc = egide_ini_parse_string(path, (const char *)buf, opts, err, errsz);
    free(buf);
    return rc;
}
