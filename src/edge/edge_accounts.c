/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_accounts.c - personal accounts (edge_accounts.h): roles and their
 * rights, the rules for names and passwords, Argon2id hashing through
 * libsodium, and the offline administration the `egide user` command and
 * the API share.  Sessions and login are in edge_session.c.
 */
#include "edge_accounts.h"

#include <sodium.h>
#include <string.h>

#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"

/* libsodium's INTERACTIVE limits: 2 passes over 64 MiB, about 0.1 s on a
 * server core.  MODERATE (256 MiB, ~0.7 s) would make a few concurrent
 * logins a memory exhaustion, and would hold the API's one thread for the
 * better part of a second per attempt; online guessing is bounded by the
 * lockout instead, and a stolen database still costs 64 MiB per guess. */
#define EDGE_PWHASH_OPSLIMIT crypto_pwhash_OPSLIMIT_INTERACTIVE
#define EDGE_PWHASH_MEMLIMIT crypto_pwhash_MEMLIMIT_INTERACTIVE

_Static_assert(crypto_pwhash_STRBYTES <= EDGE_PWHASH_MAX, "hash string must fit the row");

static const char *const s_role_names[EDGE_ROLE__COUNT] = {"agent", "supervisor", "auditor",
                                                           "admin"};

/* Rights by role, one row each, in edge_perm order:
 *                                  READ  CONTENT SEND  ACK   ACCOUNTS */
static const bool s_rights[EDGE_ROLE__COUNT][5] = {
    [EDGE_ROLE_AGENT] = {true, true, true, true, false},
    [EDGE_ROLE_SUPERVISOR] = {true, true, true, true, false},
    [EDGE_ROLE_AUDITOR] = {true, false, false, false, false},
    [EDGE_ROLE_ADMIN] = {true, false, false, false, true},
};

void edge_auth_policy_default(edge_auth_policy_t *p)
{
    if (!p)
        return;
    p->idle_ms = EDGE_SESSION_IDLE_MS_DEFAULT;
    p->absolute_ms = EDGE_SESSION_ABSOLUTE_MS_DEFAULT;
    p->max_user_failures = EDGE_LOCK_FAILURES_DEFAULT;
    p->max_source_failures = EDGE_LOCK_SOURCE_FAILURES_DEFAULT;
    p->fail_window_ms = EDGE_LOCK_MS_DEFAULT;
    p->lock_ms = EDGE_LOCK_MS_DEFAULT;
}

const char *edge_role_name(int role)
{
    return role >= 0 && role < EDGE_ROLE__COUNT ? s_role_names[role] : "unknown";
}

egide_rc edge_role_parse(const char *name, edge_role *out)
{
    for (int i = 0; name && out && i < EDGE_ROLE__COUNT; i++) {
        if (strcmp(name, s_role_names[i]) == 0) {
            *out = (edge_role)i;
            return EGIDE_OK;
        }
    }
    return EGIDE_ERR_INVALID;
}

bool edge_role_allows(int role, edge_perm perm)
{
    if (role < 0 || role >= EDGE_ROLE__COUNT || (int)perm < 0 || (int)perm >= 5)
        return false;
    return s_rights[role][perm];
}

bool edge_account_name_valid(const char *name, size_t len)
{
    if (!name || len == 0 || len > EDGE_USER_NAME_MAX || strlen(name) != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return false;
    }
    return true;
}

/* Valid UTF-8 (no overlong form, no surrogate, at most U+10FFFF) without
 * control characters. */
static bool s_utf8_clean(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return false;
            i++;
            continue;
        }
        size_t len;
        unsigned cp, min;
        if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
            (cp >= 0x80 && cp < 0xa0))
            return false;
        i += len;
    }
    return true;
}

bool edge_password_valid(const char *pw, size_t len, bool for_set)
{
    if (!pw || len == 0 || len > EDGE_PASSWORD_MAX || memchr(pw, '\0', len))
        return false;
    if (for_set && len < EDGE_PASSWORD_MIN)
        return false;
    return s_utf8_clean((const unsigned char *)pw, len);
}

static egide_rc s_sodium(void)
{
    /* sodium_init() is thread-safe and idempotent (0 first, 1 after). */
    if (sodium_init() < 0) {
        egide_log(EGIDE_LOG_ERROR, "accounts: libsodium cannot start");
        return EGIDE_ERR_CRYPTO;
    }
    return EGIDE_OK;
}

egide_rc edge_password_hash(const char *pw, size_t len, char out[EDGE_PWHASH_MAX])
{
    if (!out)
        return EGIDE_ERR_INVALID;
    out[0] = '\0';
    if (!edge_password_valid(pw, len, false))
        return EGIDE_ERR_INVALID;
    egide_rc rc = s_sodium();
    if (rc)
        return rc;
    if (crypto_pwhash_str(out, pw, len, EDGE_PWHASH_OPSLIMIT, EDGE_PWHASH_MEMLIMIT) != 0) {
        egide_log(EGIDE_LOG_ERROR, "accounts: Argon2id could not get its memory");
        out[0] = '\0';
        return EGIDE_ERR_NOMEM;
    }
    return EGIDE_OK;
}

egide_rc edge_password_verify(const char *hash, const char *pw, size_t len, bool *rehash)
{
    if (rehash)
        *rehash = false;
    if (!hash || !pw || len > EDGE_PASSWORD_MAX)
        return EGIDE_ERR_AUTH;
    if (s_sodium())
        return EGIDE_ERR_CRYPTO;
    if (crypto_pwhash_str_verify(hash, pw, len) != 0)
        return EGIDE_ERR_AUTH;
    if (rehash)
        *rehash =
            crypto_pwhash_str_needs_rehash(hash, EDGE_PWHASH_OPSLIMIT, EDGE_PWHASH_MEMLIMIT) != 0;
    return EGIDE_OK;
}

static void s_lock(pthread_mutex_t *m)
{
    if (m)
        pthread_mutex_lock(m);
}

static void s_unlock(pthread_mutex_t *m)
{
    if (m)
        pthread_mutex_unlock(m);
}

egide_rc edge_account_add(edge_store_t *st, pthread_mutex_t *lock, const char *name, int role,
                          const char *pw, size_t pwlen, int64_t now_ms)
{
    if (!st || !name || !edge_account_name_valid(name, strlen(name)) || role < 0 ||
        role >= EDGE_ROLE__COUNT || !edge_password_valid(pw, pwlen, true))
        return EGIDE_ERR_INVALID;
    edge_user_row_t u;
    memset(&u, 0, sizeof u);
    egide_strlcpy(u.name, name, sizeof u.name);
    u.role = role;
    u.created_ms = u.updated_ms = now_ms;
    egide_rc rc = edge_password_hash(pw, pwlen, u.pwhash);
    if (!rc) {
        s_lock(lock);
        rc = edge_store_user_add(st, &u);
        s_unlock(lock);
    }
    egide_wipe(u.pwhash, sizeof u.pwhash);
    return rc;
}

egide_rc edge_account_passwd(edge_store_t *st, pthread_mutex_t *lock, const char *name,
                             const char *pw, size_t pwlen, int64_t now_ms)
{
    if (!st || !name || !edge_account_name_valid(name, strlen(name)) ||
        !edge_password_valid(pw, pwlen, true))
        return EGIDE_ERR_INVALID;
    char h[EDGE_PWHASH_MAX];
    egide_rc rc = edge_password_hash(pw, pwlen, h);
    if (!rc) {
        s_lock(lock);
        /* The new password and the end of the old sessions go together. */
        rc = edge_store_begin(st);
        if (!rc)
            rc = edge_store_user_set_hash(st, name, h, now_ms);
        if (!rc)
            rc = edge_store_session_delete_user(st, name);
        if (!rc)
            rc = edge_store_commit(st);
        if (rc)
            edge_store_rollback(st);
        s_unlock(lock);
    }
    egide_wipe(h, sizeof h);
    return rc;
}

egide_rc edge_account_set_disabled(edge_store_t *st, pthread_mutex_t *lock, const char *name,
                                   bool disabled, int64_t now_ms)
{
    if (!st || !name || !edge_account_name_valid(name, strlen(name)))
        return EGIDE_ERR_INVALID;
    s_lock(lock);
    egide_rc rc = edge_store_user_set_disabled(st, name, disabled, now_ms);
    s_unlock(lock);
    return rc;
}
