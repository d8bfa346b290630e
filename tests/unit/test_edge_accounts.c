/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_edge_accounts.c - personal accounts and sessions (edge_accounts.c,
 * edge_session.c) on a real SQLite edge store, with an injected clock
 * (times are arguments: nothing here sleeps or measures time).
 *
 * What it proves:
 *  - Argon2id hashing: a hash verifies its password and no other; a hash
 *    made with weaker parameters verifies but asks for a rehash, and the
 *    next login stores a hash with today's parameters;
 *  - names and passwords: empty, over-long, non-UTF-8 (bad byte, overlong
 *    form, surrogate), control characters and embedded NULs are refused;
 *    a password set must be long enough; `list` rows carry no hash;
 *  - login: one answer (EGIDE_ERR_AUTH) for an unknown name, a wrong
 *    password and a disabled account; the session id is 256 random bits of
 *    which the store keeps only the SHA-256 (the id is in no database
 *    file); the CSRF token matches only itself;
 *  - lockout: five failures within the window lock the name (an unknown
 *    name too) for the lock time, even for the right password, and nothing
 *    is counted meanwhile; a per-source bound locks an address across
 *    names, not other addresses;
 *  - expiry: idle expiry restarts with each request and ends the session
 *    after idle_ms without one; absolute expiry ends it however active;
 *  - disabling an account (and changing its password) ends its sessions;
 *    logout ends the session once;
 *  - the cookie: HttpOnly, SameSite=Strict, Path=/, Secure only when asked.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edge_accounts.h"
#include "edge_store.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide_test.h"

static char s_dir[64];
static char s_db[128];
static edge_store_t *S;
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static edge_auth_policy_t P;
static char s_pw[40];    /* a generated password, never a literal */
static char s_other[40]; /* another */

#define T0  1767225600000LL /* 2026-01-01, the injected clock's start */
#define MIN 60000LL

static void s_quiet(egide_log_level level, const char *line, void *arg)
{
    (void)level, (void)line, (void)arg;
}

static void s_gen(char *out, size_t n)
{
    uint8_t r[16];
    (void)egide_random(r, sizeof r);
    egide_hex_encode(r, sizeof r, out);
    out[n - 1] = '\0';
}

static egide_rc s_login(const char *user, const char *pw, const char *src, int64_t now, char *sid,
                        edge_principal_t *who)
{
    return edge_session_login(S, &s_lock, &P, user, strlen(user), pw, strlen(pw), src, now, sid,
                              who);
}

/* ------------------------------------------------------------ hashing */

static void test_hash_verify(void)
{
    char h[EDGE_PWHASH_MAX];
    CHECK_RC(edge_password_hash(s_pw, strlen(s_pw), h), EGIDE_OK);
    CHECK(strncmp(h, "$argon2id$", 10) == 0);
    CHECK(strstr(h, s_pw) == NULL);
    bool rehash = true;
    CHECK_RC(edge_password_verify(h, s_pw, strlen(s_pw), &rehash), EGIDE_OK);
    CHECK(!rehash);
    CHECK_RC(edge_password_verify(h, s_other, strlen(s_other), NULL), EGIDE_ERR_AUTH);
    /* One byte less is another password. */
    CHECK_RC(edge_password_verify(h, s_pw, strlen(s_pw) - 1, NULL), EGIDE_ERR_AUTH);
    CHECK_RC(edge_password_verify("not a hash", s_pw, strlen(s_pw), NULL), EGIDE_ERR_AUTH);
    CHECK_RC(edge_password_verify(NULL, s_pw, strlen(s_pw), NULL), EGIDE_ERR_AUTH);
    /* Two hashes of one password differ (a salt each). */
    char h2[EDGE_PWHASH_MAX];
    CHECK_RC(edge_password_hash(s_pw, strlen(s_pw), h2), EGIDE_OK);
    CHECK(strcmp(h, h2) != 0);
    CHECK_RC(edge_password_hash("", 0, h2), EGIDE_ERR_INVALID);
    CHECK(h2[0] == '\0');
}

/* A stored hash with weaker parameters: verified, then replaced at login. */
static void test_rehash_on_login(void)
{
    CHECK_RC(edge_account_add(S, &s_lock, "rehash", EDGE_ROLE_AGENT, s_pw, strlen(s_pw), T0),
             EGIDE_OK);
    char weak[crypto_pwhash_STRBYTES];
    REQUIRE(crypto_pwhash_str(weak, s_pw, strlen(s_pw), crypto_pwhash_OPSLIMIT_MIN,
                              crypto_pwhash_MEMLIMIT_MIN) == 0);
    CHECK_RC(edge_store_user_set_hash(S, "rehash", weak, T0), EGIDE_OK);
    bool rehash = false;
    CHECK_RC(edge_password_verify(weak, s_pw, strlen(s_pw), &rehash), EGIDE_OK);
    CHECK(rehash);
    char sid[EDGE_SESSION_HEX + 1];
    edge_principal_t who;
    CHECK_RC(s_login("rehash", s_pw, "", T0, sid, &who), EGIDE_OK);
    edge_user_row_t u;
    REQUIRE(edge_store_user_get(S, "rehash", &u) == EGIDE_OK);
    CHECK(strcmp(u.pwhash, weak) != 0);
    CHECK(crypto_pwhash_str_needs_rehash(u.pwhash, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                         crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0);
    CHECK_RC(edge_password_verify(u.pwhash, s_pw, strlen(s_pw), NULL), EGIDE_OK);
}

/* ------------------------------------------------------------ input rules */

static void test_names_and_passwords(void)
{
    CHECK(edge_account_name_valid("marie.dupont", 12));
    CHECK(edge_account_name_valid("a", 1));
    CHECK(!edge_account_name_valid("", 0));
    CHECK(!edge_account_name_valid(".x", 2));
    CHECK(!edge_account_name_valid("Marie", 5));
    CHECK(!edge_account_name_valid("a b", 3));
    CHECK(!edge_account_name_valid("a\0b", 3));
    char longname[EDGE_USER_NAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CHECK(!edge_account_name_valid(longname, strlen(longname)));
    longname[EDGE_USER_NAME_MAX] = '\0';
    CHECK(edge_account_name_valid(longname, EDGE_USER_NAME_MAX));

    const char *accents = "phrase de passe très sûre é";
    CHECK(edge_password_valid(accents, strlen(accents), true));
    CHECK(!edge_password_valid("", 0, false));
    CHECK(!edge_password_valid("short", 5, true)); /* too short to set */
    CHECK(edge_password_valid("short", 5, false)); /* but may be tried */
    CHECK(!edge_password_valid("abc\xff"
                               "defghijklm",
                               14, false)); /* bad byte */
    CHECK(!edge_password_valid("abc\xc0\xaf"
                               "defghijklm",
                               15, false)); /* overlong '/' */
    CHECK(!edge_password_valid("abc\xed\xa0\x80"
                               "defghijkl",
                               15, false));                   /* surrogate */
    CHECK(!edge_password_valid("abc\xe2\x82", 5, false));     /* cut off */
    CHECK(!edge_password_valid("abcdefghijkl\n", 13, false)); /* control */
    CHECK(!edge_password_valid("abcdef\0ghijkl", 13, false)); /* NUL */
    static char big[EDGE_PASSWORD_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    CHECK(!edge_password_valid(big, EDGE_PASSWORD_MAX + 1, false));
    CHECK(edge_password_valid(big, EDGE_PASSWORD_MAX, false));

    edge_role r;
    CHECK_RC(edge_role_parse("auditor", &r), EGIDE_OK);
    CHECK(r == EDGE_ROLE_AUDITOR);
    CHECK_RC(edge_role_parse("root", &r), EGIDE_ERR_INVALID);
    CHECK_STREQ(edge_role_name(EDGE_ROLE_SUPERVISOR), "supervisor");
    CHECK_STREQ(edge_role_name(99), "unknown");
    CHECK(edge_role_allows(EDGE_ROLE_AGENT, EDGE_PERM_CONTENT));
    CHECK(!edge_role_allows(EDGE_ROLE_AUDITOR, EDGE_PERM_CONTENT));
    CHECK(!edge_role_allows(EDGE_ROLE_AUDITOR, EDGE_PERM_SEND));
    CHECK(edge_role_allows(EDGE_ROLE_AUDITOR, EDGE_PERM_READ));
    CHECK(!edge_role_allows(EDGE_ROLE_ADMIN, EDGE_PERM_CONTENT));
    CHECK(edge_role_allows(EDGE_ROLE_ADMIN, EDGE_PERM_ACCOUNTS));
    CHECK(!edge_role_allows(-1, EDGE_PERM_READ));
}

static void test_add_and_list(void)
{
    CHECK_RC(edge_account_add(S, &s_lock, "alice", EDGE_ROLE_AGENT, s_pw, strlen(s_pw), T0),
             EGIDE_OK);
    CHECK_RC(edge_account_add(S, &s_lock, "alice", EDGE_ROLE_ADMIN, s_pw, strlen(s_pw), T0),
             EGIDE_ERR_EXISTS);
    CHECK_RC(edge_account_add(S, &s_lock, "bob", 7, s_pw, strlen(s_pw), T0), EGIDE_ERR_INVALID);
    CHECK_RC(edge_account_add(S, &s_lock, "bob", EDGE_ROLE_AGENT, "short", 5, T0),
             EGIDE_ERR_INVALID);
    CHECK_RC(edge_account_add(S, &s_lock, "Bob!", EDGE_ROLE_AGENT, s_pw, strlen(s_pw), T0),
             EGIDE_ERR_INVALID);
    CHECK_RC(edge_account_add(NULL, &s_lock, "bob", EDGE_ROLE_AGENT, s_pw, strlen(s_pw), T0),
             EGIDE_ERR_INVALID);
    CHECK_RC(edge_account_add(S, &s_lock, "audrey", EDGE_ROLE_AUDITOR, s_pw, strlen(s_pw), T0),
             EGIDE_OK);
    edge_user_row_t *rows = NULL;
    size_t n = 0;
    REQUIRE(edge_store_user_list(S, &rows, &n) == EGIDE_OK);
    bool saw_alice = false, saw_audrey = false;
    for (size_t i = 0; i < n; i++) {
        CHECK(rows[i].pwhash[0] == '\0');
        if (strcmp(rows[i].name, "alice") == 0)
            saw_alice = rows[i].role == EDGE_ROLE_AGENT && !rows[i].disabled;
        if (strcmp(rows[i].name, "audrey") == 0)
            saw_audrey = rows[i].role == EDGE_ROLE_AUDITOR;
    }
    CHECK(saw_alice && saw_audrey);
    free(rows);
    CHECK_RC(edge_account_set_disabled(S, &s_lock, "nobody", true, T0), EGIDE_ERR_NOTFOUND);
    CHECK_RC(edge_account_passwd(S, &s_lock, "nobody", s_pw, strlen(s_pw), T0), EGIDE_ERR_NOTFOUND);
}

/* ------------------------------------------------------------ login */

/* Whether buf[0..n) contains needle[0..k). */
static bool s_contains(const uint8_t *buf, size_t n, const void *needle, size_t k)
{
    for (size_t i = 0; k <= n && i <= n - k; i++)
        if (memcmp(buf + i, needle, k) == 0)
            return true;
    return false;
}

static bool s_in_db_files(const void *needle, size_t k)
{
    static const char *const sfx[] = {"", "-wal"};
    for (size_t i = 0; i < 2; i++) {
        char p[160];
        snprintf(p, sizeof p, "%s%s", s_db, sfx[i]);
        uint8_t *buf = NULL;
        size_t n = 0;
        if (egide_file_read(p, 64u << 20, &buf, &n) != EGIDE_OK)
            continue;
        bool hit = s_contains(buf, n, needle, k);
        free(buf);
        if (hit)
            return true;
    }
    return false;
}

static void test_login_and_same_answer(void)
{
    char sid[EDGE_SESSION_HEX + 1];
    edge_principal_t who;
    CHECK_RC(s_login("alice", s_pw, "10.0.0.1", T0, sid, &who), EGIDE_OK);
    CHECK(strlen(sid) == EDGE_SESSION_HEX);
    CHECK_STREQ(who.user, "alice");
    CHECK(who.role == EDGE_ROLE_AGENT);
    CHECK(strlen(who.csrf) == EDGE_CSRF_HEX);
    CHECK(strcmp(who.csrf, sid) != 0);
    /* The id is in no database file, neither as text nor as bytes. */
    uint8_t id[32];
    REQUIRE(egide_hex_decode(sid, id, 32) == EGIDE_OK);
    CHECK(!s_in_db_files(sid, EDGE_SESSION_HEX));
    CHECK(!s_in_db_files(id, 32));
    /* ...but its SHA-256 is the key. */
    edge_session_row_t row;
    CHECK_RC(edge_store_session_get(S, who.id_sha256, &row), EGIDE_OK);
    CHECK_STREQ(row.user, "alice");

    edge_principal_t w2;
    CHECK_RC(edge_session_check(S, &s_lock, &P, sid, T0 + 1, true, &w2), EGIDE_OK);
    CHECK_STREQ(w2.user, "alice");
    CHECK_STREQ(w2.csrf, who.csrf);
    CHECK(edge_session_csrf_ok(&w2, who.csrf));
    char wrong[EDGE_CSRF_HEX + 1];
    memcpy(wrong, who.csrf, sizeof wrong);
    wrong[10] = wrong[10] == 'a' ? 'b' : 'a';
    CHECK(!edge_session_csrf_ok(&w2, wrong));
    CHECK(!edge_session_csrf_ok(&w2, ""));
    CHECK(!edge_session_csrf_ok(&w2, NULL));
    CHECK(!edge_session_csrf_ok(&w2, sid)); /* the session id is not its CSRF token */

    /* A second login is a second session with another id and token. */
    char sid2[EDGE_SESSION_HEX + 1];
    edge_principal_t who2;
    CHECK_RC(s_login("alice", s_pw, "10.0.0.1", T0, sid2, &who2), EGIDE_OK);
    CHECK(strcmp(sid, sid2) != 0);
    CHECK(strcmp(who.csrf, who2.csrf) != 0);
    CHECK(!edge_session_csrf_ok(&who2, who.csrf));

    /* Unknown name, wrong password, disabled account: one answer. */
    CHECK_RC(edge_account_add(S, &s_lock, "carl", EDGE_ROLE_AGENT, s_pw, strlen(s_pw), T0),
             EGIDE_OK);
    CHECK_RC(edge_account_set_disabled(S, &s_lock, "carl", true, T0), EGIDE_OK);
    CHECK_RC(s_login("zoe", s_pw, "10.0.0.2", T0, sid, &who), EGIDE_ERR_AUTH);
    CHECK(sid[0] == '\0' && who.user[0] == '\0');
    CHECK_RC(s_login("alice", s_other, "10.0.0.2", T0, sid, &who), EGIDE_ERR_AUTH);
    CHECK_RC(s_login("carl", s_pw, "10.0.0.2", T0, sid, &who), EGIDE_ERR_AUTH);

    /* Malformed: refused before anything, not counted. */
    CHECK_RC(s_login("", s_pw, "10.0.0.2", T0, sid, &who), EGIDE_ERR_INVALID);
    CHECK_RC(s_login("alice", "", "10.0.0.2", T0, sid, &who), EGIDE_ERR_INVALID);
    CHECK_RC(s_login("alice",
                     "abc\xff"
                     "def",
                     "10.0.0.2", T0, sid, &who),
             EGIDE_ERR_INVALID);
    static char big[EDGE_PASSWORD_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    CHECK_RC(s_login("alice", big, "10.0.0.2", T0, sid, &who), EGIDE_ERR_INVALID);
    CHECK_RC(
        edge_session_login(S, &s_lock, &P, "ali\0ce", 6, s_pw, strlen(s_pw), "", T0, sid, &who),
        EGIDE_ERR_INVALID);
    /* Malformed session ids are no session. */
    CHECK_RC(edge_session_check(S, &s_lock, &P, "", T0, true, &w2), EGIDE_ERR_AUTH);
    CHECK_RC(edge_session_check(S, &s_lock, &P, NULL, T0, true, &w2), EGIDE_ERR_AUTH);
    char upper[EDGE_SESSION_HEX + 1];
    memcpy(upper, sid2, sizeof upper);
    for (char *c = upper; *c; c++)
        if (*c >= 'a' && *c <= 'f')
            *c = (char)(*c - 'a' + 'A');
    CHECK_RC(edge_session_check(S, &s_lock, &P, upper, T0, true, &w2),
             strcmp(upper, sid2) ? EGIDE_ERR_AUTH : EGIDE_OK);
    char unknown[EDGE_SESSION_HEX + 1];
    memset(unknown, '0', EDGE_SESSION_HEX);
    unknown[EDGE_SESSION_HEX] = '\0';
    CHECK_RC(edge_session_check(S, &s_lock, &P, unknown, T0, true, &w2), EGIDE_ERR_AUTH);
}

/* ------------------------------------------------------------ lockout */

static void test_lockout_per_account(void)
{
    CHECK_RC(edge_account_add(S, &s_lock, "dora", EDGE_ROLE_AGENT, s_pw, strlen(s_pw), T0),
             EGIDE_OK);
    char sid[EDGE_SESSION_HEX + 1];
    edge_principal_t who;
    int64_t t = T0 + 1000 * MIN;
    /* Four failures: the right password still works, and clears them. */
    for (int i = 0; i < 4; i++)
        CHECK_RC(s_login("dora", s_other, "", t + i * MIN, sid, &who), EGIDE_ERR_AUTH);
    CHECK_RC(s_login("dora", s_pw, "", t + 4 * MIN, sid, &who), EGIDE_OK);
    /* Five failures within 15 min, from several addresses: locked. */
    for (int i = 0; i < 5; i++) {
        char src[16];
        snprintf(src, sizeof src, "10.1.0.%d", i);
        CHECK_RC(s_login("dora", s_other, src, t + (5 + i) * MIN, sid, &who), EGIDE_ERR_AUTH);
    }
    int64_t last = t + 9 * MIN;
    CHECK_RC(s_login("dora", s_pw, "10.9.9.9", last + 1, sid, &who), EGIDE_ERR_LIMIT);
    CHECK(sid[0] == '\0');
    /* Attempts while locked are not counted: the lock still ends on time. */
    for (int i = 0; i < 3; i++)
        CHECK_RC(s_login("dora", s_other, "", last + (i + 1) * MIN, sid, &who), EGIDE_ERR_LIMIT);
    CHECK_RC(s_login("dora", s_pw, "", last + P.lock_ms - 1, sid, &who), EGIDE_ERR_LIMIT);
    CHECK_RC(s_login("dora", s_pw, "", last + P.lock_ms, sid, &who), EGIDE_OK);

    /* An unknown name locks the same way: a lock says nothing of existence. */
    for (int i = 0; i < 5; i++)
        CHECK_RC(s_login("ghost", s_other, "", t + i, sid, &who), EGIDE_ERR_AUTH);
    CHECK_RC(s_login("ghost", s_other, "", t + 5, sid, &who), EGIDE_ERR_LIMIT);
    /* Six failures 4 min apart: never five within 15 min, never locked. */
    for (int i = 0; i < 6; i++)
        CHECK_RC(s_login("dora", s_other, "", t + 2000 * MIN + i * 4 * MIN, sid, &who),
                 EGIDE_ERR_AUTH);
    CHECK_RC(s_login("dora", s_pw, "", t + 2000 * MIN + 24 * MIN, sid, &who), EGIDE_OK);
}

static void test_lockout_per_source(void)
{
    edge_auth_policy_t saved = P;
    P.max_source_failures = 3;
    char sid[EDGE_SESSION_HEX + 1];
    edge_principal_t who;
    int64_t t = T0 + 5000 * MIN;
    CHECK_RC(s_login("eve1", s_other, "192.0.2.7", t, sid, &who), EGIDE_ERR_AUTH);
    CHECK_RC(s_login("eve2", s_other, "192.0.2.7", t + 1, sid, &who), EGIDE_ERR_AUTH);
    CHECK_RC(s_login("alice", s_other, "192.0.2.7", t + 2, sid, &who), EGIDE_ERR_AUTH);
    /* The address is locked for every name, the right password included. */
    CHECK_RC(s_login("alice", s_pw, "192.0.2.7", t + 3, sid, &who), EGIDE_ERR_LIMIT);
    /* Not another address. */
    CHECK_RC(s_login("alice", s_pw, "192.0.2.8", t + 3, sid, &who), EGIDE_OK);
    CHECK_RC(s_login("alice", s_pw, "192.0.2.7", t + 2 + P.lock_ms, sid, &who), EGIDE_OK);
    /* Loopback is not bounded: every local browser (or a reverse proxy)
     * shares it, and one client must not lock everybody out. */
    t += 2 * P.lock_ms;
    static const char *const lo[] = {"127.0.0.1", "::1", "::ffff:127.0.0.1"};
    for (size_t k = 0; k < 3; k++) {
        for (int i = 0; i < 4; i++) {
            char name[16];
            snprintf(name, sizeof name, "lo%zu-%d", k, i);
            CHECK_RC(s_login(name, s_other, lo[k], t + i, sid, &who), EGIDE_ERR_AUTH);
        }
        CHECK_RC(s_login("alice", s_pw, lo[k], t + 5, sid, &who), EGIDE_OK);
    }
    P = saved;
}

/* Attempts at once (the edge's HTTP workers run logins side by side): no
 * more are checked than the lockout allows, and successful logins from a
 * shared address never count against it. */
typedef struct s_try {
    const char *user, *pw, *src;
    int64_t t;
    egide_rc rc;
} s_try_t;

static void *s_try_login(void *arg)
{
    s_try_t *x = arg;
    char sid[EDGE_SESSION_HEX + 1];
    edge_principal_t who;
    x->rc = s_login(x->user, x->pw, x->src, x->t, sid, &who);
    return NULL;
}

static void test_lockout_concurrent(void)
{
    CHECK_RC(edge_account_add(S, &s_lock, "fred", EDGE_ROLE_AGENT, s_pw, strlen(s_pw), T0),
             EGIDE_OK);
    enum { N = 8 };
    pthread_t th[N];
    s_try_t x[N];
    int64_t t = T0 + 9000 * MIN;
    for (int i = 0; i < N; i++) {
        x[i] = (s_try_t){.user = "fred", .pw = s_other, .src = "", .t = t, .rc = EGIDE_OK};
        REQUIRE(pthread_create(&th[i], NULL, s_try_login, &x[i]) == 0);
    }
    int checked = 0, refused = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        checked += x[i].rc == EGIDE_ERR_AUTH;
        refused += x[i].rc == EGIDE_ERR_LIMIT;
    }
    if (checked != (int)P.max_user_failures)
        fprintf(stderr, "%d of %d concurrent attempts checked (lockout at %u)\n", checked, N,
                P.max_user_failures);
    CHECK(checked == (int)P.max_user_failures);
    CHECK(refused == N - (int)P.max_user_failures);
    char sid[EDGE_SESSION_HEX + 1];
    edge_principal_t who;
    CHECK_RC(s_login("fred", s_pw, "", t + 1, sid, &who), EGIDE_ERR_LIMIT);

    /* A shared office address: right passwords, one after another, never
     * add up against it (each attempt's reservation is taken back). */
    edge_auth_policy_t saved = P;
    P.max_source_failures = 3;
    t += 2 * P.lock_ms;
    int ok = 0;
    for (int i = 0; i < 10; i++)
        ok += s_login("fred", s_pw, "198.51.100.9", t + i, sid, &who) == EGIDE_OK;
    CHECK(ok == 10);
    size_t n = 99;
    CHECK_RC(edge_store_auth_fail_count(S, "s:198.51.100.9", 0, &n, NULL), EGIDE_OK);
    CHECK(n == 0);
    CHECK_RC(edge_store_auth_fail_remove(S, "s:198.51.100.9", t), EGIDE_OK); /* none: no-op */
    CHECK_RC(edge_store_auth_fail_remove(S, "", t), EGIDE_ERR_INVALID);
    P = saved;
}

/* ------------------------------------------------------------ expiry */

static void test_idle_expiry(void)
{
    char sid[EDGE_SESSION_HEX + 1];
    edge_principal_t who, w;
    int64_t t = T0 + 10000 * MIN;
    REQUIRE(s_login("alice", s_pw, "", t, sid, &who) == EGIDE_OK);
    CHECK(who.expires_ms == t + P.idle_ms);
    /* Each request restarts the idle clock... */
    int64_t now = t;
    for (int i = 0; i < 3; i++) {
        now += P.idle_ms - 1;
        CHECK_RC(edge_session_check(S, &s_lock, &P, sid, now, true, &w), EGIDE_OK);
        CHECK(w.expires_ms == now + P.idle_ms);
    }
    /* ...a check that does not count as activity does not. */
    CHECK_RC(edge_session_check(S, &s_lock, &P, sid, now + P.idle_ms - 1, false, &w), EGIDE_OK);
    CHECK_RC(edge_session_check(S, &s_lock, &P, sid, now + P.idle_ms, true, &w), EGIDE_ERR_AUTH);
    CHECK(w.user[0] == '\0');
    /* Gone for good: the row was deleted. */
    CHECK_RC(edge_store_session_get(S, who.id_sha256, &(edge_session_row_t){0}),
             EGIDE_ERR_NOTFOUND);
    CHECK_RC(edge_session_check(S, &s_lock, &P, sid, now + 1, true, &w), EGIDE_ERR_AUTH);
}

static void test_absolute_expiry(void)
{
    char sid[EDGE_SESSION_HEX + 1];
    edge_principal_t who, w;
    int64_t t = T0 + 20000 * MIN;
    REQUIRE(s_login("alice", s_pw, "", t, sid, &who) == EGIDE_OK);
    int64_t now = t;
    /* Active every 10 minutes, for 12 hours: then it ends anyway. */
    size_t ok = 0;
    for (int i = 0; i < 200 && now + 10 * MIN < t + P.absolute_ms; i++) {
        now += 10 * MIN;
        if (edge_session_check(S, &s_lock, &P, sid, now, true, &w) == EGIDE_OK)
            ok++;
    }
    CHECK(ok == (size_t)((P.absolute_ms - 1) / (10 * MIN)));
    CHECK(w.expires_ms == t + P.absolute_ms);
    CHECK_RC(edge_session_check(S, &s_lock, &P, sid, t + P.absolute_ms - 1, true, &w), EGIDE_OK);
    CHECK_RC(edge_session_check(S, &s_lock, &P, sid, t + P.absolute_ms, true, &w), EGIDE_ERR_AUTH);
}

/* ------------------------------------------------------------ disable, passwd, logout */

static void test_disable_kills_sessions(void)
{
    CHECK_RC(edge_account_add(S, &s_lock, "fanny", EDGE_ROLE_SUPERVISOR, s_pw, strlen(s_pw), T0),
             EGIDE_OK);
    char a[EDGE_SESSION_HEX + 1], b[EDGE_SESSION_HEX + 1], other[EDGE_SESSION_HEX + 1];
    edge_principal_t who, w;
    int64_t t = T0 + 30000 * MIN;
    REQUIRE(s_login("fanny", s_pw, "", t, a, &who) == EGIDE_OK);
    REQUIRE(s_login("fanny", s_pw, "", t, b, &who) == EGIDE_OK);
    REQUIRE(s_login("alice", s_pw, "", t, other, &who) == EGIDE_OK);
    CHECK_RC(edge_account_set_disabled(S, &s_lock, "fanny", true, t + 1), EGIDE_OK);
    CHECK_RC(edge_session_check(S, &s_lock, &P, a, t + 2, true, &w), EGIDE_ERR_AUTH);
    CHECK_RC(edge_session_check(S, &s_lock, &P, b, t + 2, true, &w), EGIDE_ERR_AUTH);
    CHECK_RC(edge_session_check(S, &s_lock, &P, other, t + 2, true, &w), EGIDE_OK);
    CHECK_RC(s_login("fanny", s_pw, "", t + 3, a, &who), EGIDE_ERR_AUTH);
    /* Enabled again: a new login works (the old sessions stay dead). */
    CHECK_RC(edge_account_set_disabled(S, &s_lock, "fanny", false, t + 4), EGIDE_OK);
    CHECK_RC(edge_session_check(S, &s_lock, &P, b, t + 5, true, &w), EGIDE_ERR_AUTH);
    CHECK_RC(s_login("fanny", s_pw, "", t + 5, a, &who), EGIDE_OK);

    /* A new password ends the sessions too, and the old password is refused. */
    CHECK_RC(edge_account_passwd(S, &s_lock, "fanny", s_other, strlen(s_other), t + 6), EGIDE_OK);
    CHECK_RC(edge_session_check(S, &s_lock, &P, a, t + 7, true, &w), EGIDE_ERR_AUTH);
    CHECK_RC(s_login("fanny", s_pw, "", t + 8, a, &who), EGIDE_ERR_AUTH);
    CHECK_RC(s_login("fanny", s_other, "", t + 9, a, &who), EGIDE_OK);
    CHECK_RC(edge_account_passwd(S, &s_lock, "fanny", "short", 5, t + 10), EGIDE_ERR_INVALID);

    /* Logout ends one session, once. */
    CHECK_RC(edge_session_logout(S, &s_lock, a), EGIDE_OK);
    CHECK_RC(edge_session_check(S, &s_lock, &P, a, t + 11, true, &w), EGIDE_ERR_AUTH);
    CHECK_RC(edge_session_logout(S, &s_lock, a), EGIDE_ERR_AUTH);
    CHECK_RC(edge_session_logout(S, &s_lock, "nonsense"), EGIDE_ERR_AUTH);
    CHECK_RC(edge_session_check(S, &s_lock, &P, other, t + 11, true, &w), EGIDE_OK);
}

static void test_cookie(void)
{
    char sid[EDGE_SESSION_HEX + 1];
    memset(sid, 'a', EDGE_SESSION_HEX);
    sid[EDGE_SESSION_HEX] = '\0';
    char *c = edge_session_cookie(sid, 43200, false);
    REQUIRE(c != NULL);
    CHECK(strncmp(c, "egide_session=", 14) == 0);
    CHECK(strncmp(c + 14, sid, EDGE_SESSION_HEX) == 0);
    CHECK(strstr(c, "; HttpOnly") && strstr(c, "; SameSite=Strict") && strstr(c, "; Path=/"));
    CHECK(strstr(c, "Max-Age=43200") != NULL);
    CHECK(strstr(c, "Secure") == NULL);
    free(c);
    c = edge_session_cookie(sid, 43200, true);
    REQUIRE(c != NULL);
    CHECK(strstr(c, "; Secure") != NULL);
    free(c);
    /* Clearing, and a malformed id never becomes a cookie. */
    c = edge_session_cookie(NULL, 0, false);
    REQUIRE(c != NULL);
    CHECK(strncmp(c, "egide_session=;", 15) == 0 && strstr(c, "Max-Age=0"));
    free(c);
    c = edge_session_cookie("x; Domain=evil", 10, false);
    REQUIRE(c != NULL);
    CHECK(strstr(c, "evil") == NULL && strstr(c, "Max-Age=0"));
    free(c);
}

int main(void)
{
    egide_log_set_sink(s_quiet, NULL);
    snprintf(s_dir, sizeof s_dir, "/tmp/egide-test-accounts.XXXXXX");
    if (!mkdtemp(s_dir))
        return 1;
    snprintf(s_db, sizeof s_db, "%s/edge.db", s_dir);
    if (edge_store_sqlite_ops.open(s_db, &S) != EGIDE_OK) {
        fprintf(stderr, "cannot open the store\n");
        return 1;
    }
    edge_auth_policy_default(&P);
    s_gen(s_pw, 33);
    s_gen(s_other, 33);
    RUN(test_hash_verify);
    RUN(test_names_and_passwords);
    RUN(test_add_and_list);
    RUN(test_rehash_on_login);
    RUN(test_login_and_same_answer);
    RUN(test_lockout_per_account);
    RUN(test_lockout_per_source);
    RUN(test_lockout_concurrent);
    RUN(test_idle_expiry);
    RUN(test_absolute_expiry);
    RUN(test_disable_kills_sessions);
    RUN(test_cookie);
    edge_store_close(&S);
    char p[160];
    static const char *const sfx[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", s_db, sfx[i]);
        unlink(p);
    }
    rmdir(s_dir);
    EGIDE_TEST_DONE();
}
