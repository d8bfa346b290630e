/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_ini.c - the one INI reader: callbacks in file order with exact line
 * numbers, repeated sections, the table of accepted sections and keys, and
 * every refusal with its "file:line: message" (over-long line, malformed
 * line, key outside a section, duplicate key, unknown section or key, a
 * callback's refusal), plus the file entry point's own errors.
 */
#include "egide/base/egide_ini.h"
#include "egide/base/egide_util.h"
#include "egide_test.h"

#include <unistd.h>

/* What the callbacks saw, one event per line: "S name@line" or "K section.key=value@line". */
typedef struct rec {
    char log[2048];
    const char *refuse_key; /* refuse this key with a message */
    const char *bare_key;   /* refuse this key with a bare false */
    const char *refuse_sec; /* refuse this section */
} rec_t;

static bool on_section(egide_ini_t *ini, const char *section, void *user)
{
    rec_t *r = user;
    size_t n = strlen(r->log);
    snprintf(r->log + n, sizeof r->log - n, "S %s@%d/%d\n", section, egide_ini_line(ini),
             egide_ini_section_line(ini));
    if (r->refuse_sec && strcmp(section, r->refuse_sec) == 0)
        return egide_ini_fail(ini, "no %s here", section);
    return true;
}

static bool on_key(egide_ini_t *ini, const char *section, const char *key, const char *value,
                   void *user)
{
    rec_t *r = user;
    size_t n = strlen(r->log);
    snprintf(r->log + n, sizeof r->log - n, "K %s.%s=%s@%d\n", section, key, value,
             egide_ini_line(ini));
    if (r->refuse_key && strcmp(key, r->refuse_key) == 0)
        return egide_ini_fail(ini, "bad %s in %s", key, egide_ini_name(ini));
    if (r->bare_key && strcmp(key, r->bare_key) == 0)
        return false;
    return true;
}

static egide_rc s_parse(const char *text, const egide_ini_opts_t *o, char *err, size_t errsz)
{
    return egide_ini_parse_string("t.ini", text, o, err, errsz);
}

/* Parsing must fail with EGIDE_ERR_CONFIG and exactly want. */
static void s_refused(const char *text, const egide_ini_opts_t *o, const char *want)
{
    char err[512] = "x";
    CHECK_RC(s_parse(text, o, err, sizeof err), EGIDE_ERR_CONFIG);
    CHECK_STREQ(err, want);
}

static void test_callbacks_in_order(void)
{
    rec_t r = {0};
    egide_ini_opts_t o = {.on_section = on_section, .on_key = on_key, .user = &r};
    char err[256] = "x";
    CHECK_RC(s_parse("\xef\xbb\xbf; comment\n[a]\nk = v ; inline\n\n[ b c ]  \nx: 1\n"
                     "# another\n[a]\nk = again\n[empty]\n",
                     &o, err, sizeof err),
             EGIDE_OK);
    CHECK_STREQ(err, "");
    /* Repeated [a] is a new block: k may be set again there. */
    CHECK_STREQ(r.log, "S a@2/2\nK a.k=v@3\nS b c@5/5\nK b c.x=1@6\nS a@8/8\nK a.k=again@9\n"
                       "S empty@10/10\n");
    /* No callbacks at all: only checked. */
    egide_ini_opts_t none = {0};
    CHECK_RC(s_parse("[a]\nk = v\n", &none, err, sizeof err), EGIDE_OK);
    CHECK_RC(s_parse("", &none, err, sizeof err), EGIDE_OK);
    /* Indentation before any key is harmless (comments and blank lines too). */
    r.log[0] = '\0';
    CHECK_RC(s_parse("  [a]\nk = v\n   ; note\n  \n", &o, err, sizeof err), EGIDE_OK);
    CHECK_STREQ(r.log, "S a@1/1\nK a.k=v@2\n");
}

static void test_refusals(void)
{
    rec_t r = {0};
    egide_ini_opts_t o = {.on_section = on_section, .on_key = on_key, .user = &r};
    s_refused("k = v\n", &o, "t.ini:1: key outside any [section]");
    s_refused("[a]\nk = 1\nj = 2\nk = 3\n", &o, "t.ini:4: duplicate key 'k' (first set on line 2)");
    /* inih would read "  j = 2" as more of k's value: refused instead. */
    s_refused("[a]\nk = 1\n  j = 2\n", &o,
              "t.ini:3: indented line (multi-line values are not supported: remove the "
              "indentation)");
    s_refused("[a]\nk = 1\n\t[b]\n", &o,
              "t.ini:3: indented line (multi-line values are not supported: remove the "
              "indentation)");
    s_refused("[a]\nthis is not ini\n", &o,
              "t.ini:2: syntax error (expected [section] or key = value)");
    /* inih's syntax error comes first when it is on an earlier line than
     * ours: "[a" is the cause, not the key that then seems sectionless. */
    s_refused("[a\nk = v\n", &o, "t.ini:1: syntax error (expected [section] or key = value)");
    egide_ini_opts_t own = o;
    own.syntax_error = "malformed line";
    s_refused("[a]\nk v\n", &own, "t.ini:2: malformed line");
    /* Over-long line: refused, not split into two. */
    char longline[600];
    memset(longline, 'x', sizeof longline);
    memcpy(longline, "[a]\nk = ", 8);
    longline[sizeof longline - 2] = '\n';
    longline[sizeof longline - 1] = '\0';
    char err[512];
    CHECK_RC(s_parse(longline, &o, err, sizeof err), EGIDE_ERR_CONFIG);
    CHECK(strncmp(err, "t.ini:2: line too long (at most ", 32) == 0);
    /* Duplicates allowed when asked. */
    egide_ini_opts_t dup = o;
    dup.allow_duplicate_keys = true;
    r.log[0] = '\0';
    CHECK_RC(s_parse("[a]\nk = 1\nk = 2\n", &dup, err, sizeof err), EGIDE_OK);
    CHECK(strstr(r.log, "K a.k=2@3") != NULL);
    /* A section name too long to keep. */
    char big[400] = "[";
    memset(big + 1, 's', 194);
    memcpy(big + 195, "]\nk = v\n", 9);
    CHECK_RC(s_parse(big, &o, err, sizeof err), EGIDE_ERR_CONFIG);
    CHECK(strstr(err, "t.ini:1: section name longer than") == err);
}

static void test_callback_refusals(void)
{
    rec_t r = {.refuse_key = "bad"};
    egide_ini_opts_t o = {.on_section = on_section, .on_key = on_key, .user = &r};
    s_refused("[a]\nok = 1\nbad = 2\nlater = 3\n", &o, "t.ini:3: bad bad in t.ini");
    /* The parse stopped at the refusal: "later" was never handed over. */
    CHECK(strstr(r.log, "later") == NULL);
    rec_t b = {.bare_key = "nope"};
    o.user = &b;
    s_refused("[a]\nnope = 1\n", &o, "t.ini:2: refused key 'nope'");
    rec_t s = {.refuse_sec = "b"};
    o.user = &s;
    s_refused("[a]\nk = 1\n[b]\nk = 2\n", &o, "t.ini:3: no b here");
    CHECK(strstr(s.log, "K b.k") == NULL);
}

static bool fail_at_zero(egide_ini_t *ini, const char *section, const char *key, const char *value,
                         void *user)
{
    (void)section, (void)key, (void)value, (void)user;
    egide_ini_fail_at(ini, 0, "whole file");
    return egide_ini_fail(ini, "second error, not kept");
}

static void test_fail_at(void)
{
    egide_ini_opts_t o = {.on_key = fail_at_zero};
    s_refused("[a]\nk = v\n", &o, "t.ini: whole file");
}

static const char *const s_net_keys[] = {"host", "port", NULL};
static const egide_ini_section_spec_t s_spec[] = {
    {"net", s_net_keys}, {"deadline *", NULL}, {"free", NULL}, {NULL, NULL}};

static void test_spec(void)
{
    rec_t r = {0};
    egide_ini_opts_t o = {.on_section = on_section, .on_key = on_key, .user = &r, .spec = s_spec};
    char err[512];
    CHECK_RC(s_parse("[net]\nhost = a\nport = 1\n[deadline x]\nanything = 1\n[free]\ny = 2\n", &o,
                     err, sizeof err),
             EGIDE_OK);
    CHECK(strstr(r.log, "K deadline x.anything=1@5") != NULL);
    s_refused("[net]\nhots = a\n", &o,
              "t.ini:2: unknown key 'hots' in section [net] (known: host, port)");
    /* An unknown section is reported at its first key, where a reader looks;
     * "deadline" alone does not match "deadline *". */
    s_refused("[net]\nhost = a\n[deadline]\nk = 1\n", &o, "t.ini:4: unknown section [deadline]");
    s_refused("[other]\nk = 1\n", &o, "t.ini:2: unknown section [other]");
    CHECK_RC(s_parse("[other]\n", &o, err, sizeof err), EGIDE_OK); /* empty: harmless */
    /* Skipped instead: neither refused nor handed to the callbacks. */
    r.log[0] = '\0';
    o.skip_unknown_sections = true;
    CHECK_RC(s_parse("[other]\nk = 1\nk = 1\n[net]\nport = 2\n", &o, err, sizeof err), EGIDE_OK);
    CHECK_STREQ(r.log, "S net@4/4\nK net.port=2@5\n");
    /* A control character in a name does not reach the message. */
    o.skip_unknown_sections = false;
    CHECK_RC(s_parse("[net]\nho\x1bst = a\n", &o, err, sizeof err), EGIDE_ERR_CONFIG);
    CHECK(strchr(err, 0x1b) == NULL && strstr(err, "unknown key 'ho?st'") != NULL);
}

static void test_args_and_files(void)
{
    egide_ini_opts_t o = {0};
    char err[512];
    CHECK_RC(egide_ini_parse_string(NULL, "", &o, err, sizeof err), EGIDE_ERR_INVALID);
    CHECK_RC(egide_ini_parse_string("t", NULL, &o, err, sizeof err), EGIDE_ERR_INVALID);
    CHECK_RC(egide_ini_parse_string("t", "", NULL, err, sizeof err), EGIDE_ERR_INVALID);
    CHECK_RC(egide_ini_parse_file(NULL, &o, err, sizeof err), EGIDE_ERR_INVALID);
    /* No error buffer: still refused. */
    CHECK_RC(egide_ini_parse_string("t", "k = v\n", &o, NULL, 0), EGIDE_ERR_CONFIG);
    CHECK_RC(egide_ini_parse_file("/nonexistent/x.ini", &o, err, sizeof err), EGIDE_ERR_NOTFOUND);
    CHECK(strstr(err, "/nonexistent/x.ini: cannot read: ") == err);
    char path[] = "/tmp/egide-test-ini-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    CHECK(write(fd, "[a]\nk = v\0\n", 11) == 11);
    close(fd);
    CHECK_RC(egide_ini_parse_file(path, &o, err, sizeof err), EGIDE_ERR_CONFIG);
    CHECK(strstr(err, "binary data") != NULL);
    CHECK_RC(egide_file_write_atomic(path, "[a]\nk = v\nk = w\n", 16, 0600), EGIDE_OK);
    CHECK_RC(egide_ini_parse_file(path, &o, err, sizeof err), EGIDE_ERR_CONFIG);
    char want[128];
    snprintf(want, sizeof want, "%s:3: duplicate key 'k' (first set on line 2)", path);
    CHECK_STREQ(err, want);
    unlink(path);
}

int main(void)
{
    RUN(test_callbacks_in_order);
    RUN(test_refusals);
    RUN(test_callback_refusals);
    RUN(test_fail_at);
    RUN(test_spec);
    RUN(test_args_and_files);
    EGIDE_TEST_DONE();
}
