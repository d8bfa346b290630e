/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_problem.c - the error codes' table (egide_problem.c) against its
 * documentation: every code is in docs/errors.md with its status and title,
 * the page lists no code the table lacks, docs/openapi.yaml's Problem code
 * enum is the table's; and egide_problem_pick() answers a code whose status
 * is the one asked, from the rows the handlers use.
 */
#include "egide/base/egide_problem.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egide.pb-c.h"
#include "egide_test.h"

/* The whole of a file of the source tree, NUL-terminated (NULL if absent). */
static char *s_slurp(const char *rel)
{
    const char *src = getenv("EGIDE_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", src ? src : EGIDE_SOURCE_DIR, rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (int i = 0; i < 4096; i++) { /* at most 4096 * 4 KiB */
        if (cap - n < 4096) {
            char *nb = realloc(buf, cap + 8192);
            if (!nb)
                break;
            buf = nb;
            cap += 8192;
        }
        size_t got = fread(buf + n, 1, 4096, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

/* The line of text that starts with prefix, copied into out ("" if none). */
static const char *s_line(const char *text, const char *prefix, char *out, size_t outsz)
{
    out[0] = '\0';
    size_t pl = strlen(prefix);
    for (const char *p = text; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len >= pl && strncmp(p, prefix, pl) == 0) {
            size_t c = len < outsz - 1 ? len : outsz - 1;
            memcpy(out, p, c);
            out[c] = '\0';
            return out;
        }
        p = e ? e + 1 : NULL;
    }
    return out;
}

static bool s_is_code(const char *code)
{
    for (egide_problem p = 0; p < EGIDE_PROBLEM__COUNT; p++)
        if (strcmp(egide_problem_info(p)->code, code) == 0)
            return true;
    return false;
}

/* Each code: lower-kebab, unique, a title, and a row in docs/errors.md of
 * the form "| `code` | status | title | meaning |". */
static void test_table_documented(void)
{
    char *doc = s_slurp("docs/errors.md");
    REQUIRE(doc != NULL);
    for (egide_problem p = 0; p < EGIDE_PROBLEM__COUNT; p++) {
        const egide_problem_info_t *pi = egide_problem_info(p);
        REQUIRE(pi->code && pi->title && pi->title[0]);
        bool kebab = pi->code[0] != '\0' && pi->code[0] != '-';
        for (const char *c = pi->code; *c; c++)
            kebab = kebab && (islower((unsigned char)*c) || isdigit((unsigned char)*c) ||
                              (*c == '-' && c[1] != '-' && c[1] != '\0'));
        CHECK(kebab);
        for (egide_problem q = p + 1; q < EGIDE_PROBLEM__COUNT; q++)
            CHECK(strcmp(pi->code, egide_problem_info(q)->code) != 0);
        CHECK(pi->status == 0 || (pi->status >= 400 && pi->status <= 599));
        char prefix[96], want[256], line[1024];
        snprintf(prefix, sizeof prefix, "| `%s` |", pi->code);
        s_line(doc, prefix, line, sizeof line);
        if (!line[0])
            fprintf(stderr, "docs/errors.md: no row for code %s\n", pi->code);
        REQUIRE(line[0] != '\0');
        char st[8];
        if (pi->status)
            snprintf(st, sizeof st, "%d", pi->status);
        else
            snprintf(st, sizeof st, "%s", p == EGIDE_PROBLEM_REQUEST_REFUSED ? "4xx" : "5xx");
        snprintf(want, sizeof want, "| `%s` | %s | %s |", pi->code, st, pi->title);
        if (strncmp(line, want, strlen(want)) != 0)
            fprintf(stderr, "docs/errors.md: wanted \"%s\", found \"%s\"\n", want, line);
        CHECK(strncmp(line, want, strlen(want)) == 0);
    }
    /* And the page's code table lists no code the C table does not have. */
    const char *p = strstr(doc, "\n## Codes");
    REQUIRE(p != NULL);
    size_t rows = 0;
    while ((p = strstr(p, "\n| `")) != NULL && rows < 1000) {
        p += 4;
        const char *e = strchr(p, '`');
        REQUIRE(e && e - p < 64);
        char code[64];
        memcpy(code, p, (size_t)(e - p));
        code[e - p] = '\0';
        if (!s_is_code(code))
            fprintf(stderr, "docs/errors.md lists %s, which the table lacks\n", code);
        CHECK(s_is_code(code));
        rows++;
    }
    CHECK(rows == EGIDE_PROBLEM__COUNT);
    free(doc);
}

/* docs/openapi.yaml's Problem schema enumerates exactly the table's codes. */
static void test_openapi_enum(void)
{
    char *y = s_slurp("docs/openapi.yaml");
    REQUIRE(y != NULL);
    const char *en = strstr(y, "x-egide-problem-codes");
    REQUIRE(en != NULL);
    en = strstr(en, "enum:");
    REQUIRE(en != NULL);
    size_t n = 0;
    for (egide_problem p = 0; p < EGIDE_PROBLEM__COUNT; p++) {
        char item[96];
        snprintf(item, sizeof item, "- %s\n", egide_problem_info(p)->code);
        const char *at = strstr(en, item);
        if (!at)
            fprintf(stderr, "docs/openapi.yaml: code %s not in the Problem enum\n",
                    egide_problem_info(p)->code);
        CHECK(at != NULL);
        n++;
    }
    /* Count the enum's items: as many as the table has. */
    const char *p = strchr(en, '\n');
    size_t items = 0;
    while (p && items < 1000) {
        p++;
        const char *q = p;
        while (*q == ' ')
            q++;
        if (strncmp(q, "- ", 2) != 0)
            break;
        items++;
        p = strchr(p, '\n');
    }
    CHECK(items == n);
    free(y);
}

/* The picks the handlers rely on; each answer's code has the asked status. */
static void test_pick(void)
{
    static const struct {
        int status;
        egide_rc rc;
        int reason;
        const char *code;
    } rows[] = {
        {400, EGIDE_ERR_INVALID, 0, "bad-request"},
        {400, EGIDE_ERR_LIMIT, 0, "bad-request"},
        {400, EGIDE_ERR_PROTO, 0, "malformed-request"},
        {400, EGIDE_ERR_VALIDATION, 0, "validation-failed"},
        {401, EGIDE_ERR_AUTH, 0, "unauthenticated"},
        {403, EGIDE_ERR_AUTH, 0, "forbidden"},
        {404, EGIDE_ERR_NOTFOUND, 0, "not-found"},
        {405, EGIDE_ERR_INVALID, 0, "method-not-allowed"},
        {409, EGIDE_ERR_EXISTS, 0, "conflict"},
        {409, EGIDE_ERR_STATE, 0, "not-checkpointed"},
        {411, EGIDE_ERR_INVALID, 0, "length-required"},
        {413, EGIDE_ERR_LIMIT, 0, "body-too-large"},
        {414, EGIDE_ERR_LIMIT, 0, "uri-too-long"},
        {415, EGIDE_ERR_INVALID, 0, "unsupported-media-type"},
        {422, EGIDE_ERR_VALIDATION, 0, "payload-invalid"},
        {422, EGIDE_ERR_ROUTE, 0, "routing-refused"},
        {422, EGIDE_ERR_RULE, 0, "forbidden-type"},
        {422, EGIDE_ERR_RULE, EGIDE__V1__REASON_CODE__REASON_FORBIDDEN_TYPE, "forbidden-type"},
        {422, EGIDE_ERR_RULE, EGIDE__V1__REASON_CODE__REASON_FORBIDDEN_RECIPIENT,
         "forbidden-recipient"},
        {422, EGIDE_ERR_RULE, EGIDE__V1__REASON_CODE__REASON_NODE_SUSPENDED, "node-suspended"},
        {422, EGIDE_ERR_AUTH, EGIDE__V1__REASON_CODE__REASON_UNKNOWN_RECIPIENT,
         "unknown-recipient"},
        {422, EGIDE_ERR_RULE, EGIDE__V1__REASON_CODE__REASON_UNKNOWN_TYPE, "unknown-type"},
        {422, EGIDE_ERR_RULE, EGIDE__V1__REASON_CODE__REASON_NO_RECIPIENT, "no-recipient"},
        {422, EGIDE_ERR_AUTH, EGIDE__V1__REASON_CODE__REASON_UNKNOWN_SENDER, "recipients-refused"},
        {422, EGIDE_ERR_NOTFOUND, 0, "unknown-recipient"},
        {422, EGIDE_ERR_IO, 0, "unprocessable"},
        {429, EGIDE_ERR_LIMIT, 0, "rate-limited"},
        {431, EGIDE_ERR_LIMIT, 0, "headers-too-large"},
        {418, EGIDE_ERR_INVALID, 0, "request-refused"},
        {500, EGIDE_ERR_NOMEM, 0, "internal-error"},
        {500, EGIDE_ERR_CONSISTENCY, 0, "integrity-failure"},
        {503, EGIDE_ERR_LIMIT, 0, "server-busy"},
        {503, EGIDE_ERR_STATE, 0, "unavailable"},
        {503, EGIDE_ERR_DB, 0, "store-unavailable"},
        {503, EGIDE_ERR_FULL, 0, "store-unavailable"},
        {503, EGIDE_ERR_UNAVAILABLE, 0, "key-holder-unavailable"},
        {503, EGIDE_ERR_EXISTS, 0, "sequence-collision"},
        /* A reason row is only for the status it names: a 503 with a
         * reason is still transient. */
        {503, EGIDE_ERR_STATE, EGIDE__V1__REASON_CODE__REASON_FORBIDDEN_TYPE, "unavailable"},
        {502, EGIDE_ERR_IO, 0, "server-error"},
        {200, EGIDE_OK, 0, "server-error"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        egide_problem p = egide_problem_pick(rows[i].status, rows[i].rc, rows[i].reason);
        const egide_problem_info_t *pi = egide_problem_info(p);
        if (strcmp(pi->code, rows[i].code) != 0)
            fprintf(stderr, "pick(%d, %s, %d) = %s, wanted %s\n", rows[i].status,
                    egide_rc_name(rows[i].rc), rows[i].reason, pi->code, rows[i].code);
        CHECK_STREQ(pi->code, rows[i].code);
        /* The code's own status is the answer's (or a catch-all). */
        CHECK(pi->status == 0 || pi->status == rows[i].status);
    }
    /* Every (status, rc) a table status could meet gives a code with that
     * status or a catch-all: no row contradicts its code. */
    for (int st = 400; st <= 599; st++)
        for (int rc = 0; rc < EGIDE_RC__COUNT; rc++)
            for (int reason = 0; reason <= 25; reason++) {
                const egide_problem_info_t *pi =
                    egide_problem_info(egide_problem_pick(st, (egide_rc)rc, reason));
                if (pi->status != 0 && pi->status != st) {
                    fprintf(stderr, "pick(%d, %d, %d) = %s (status %d)\n", st, rc, reason, pi->code,
                            pi->status);
                    CHECK(pi->status == st);
                    return;
                }
            }
    CHECK(true);
}

static void test_reason_text_and_uri(void)
{
    const char *t = egide_problem_reason_text(EGIDE__V1__REASON_CODE__REASON_FORBIDDEN_TYPE);
    REQUIRE(t != NULL);
    CHECK(strstr(t, "REASON_") == NULL);
    CHECK(strstr(t, "may not send this type") != NULL);
    CHECK(egide_problem_reason_text(0) == NULL);
    CHECK(egide_problem_reason_text(EGIDE__V1__REASON_CODE__REASON_REPLAY) == NULL);
    char uri[128];
    CHECK_STREQ(egide_problem_type_uri(EGIDE_PROBLEM_FORBIDDEN_TYPE, uri, sizeof uri),
                "https://egide.fr/problems/forbidden-type");
    char small[8];
    egide_problem_type_uri(EGIDE_PROBLEM_FORBIDDEN_TYPE, small, sizeof small);
    CHECK(strlen(small) == sizeof small - 1); /* cut, NUL-terminated */
    /* Out of range: the catch-all, never NULL. */
    CHECK_STREQ(egide_problem_info((egide_problem)9999)->code, "server-error");
    CHECK_STREQ(egide_problem_info((egide_problem)-1)->code, "server-error");
}

int main(void)
{
    test_table_documented();
    test_openapi_enum();
    test_pick();
    test_reason_text_and_uri();
    EGIDE_TEST_DONE();
}
