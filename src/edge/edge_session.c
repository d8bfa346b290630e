/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_session.c - login, sessions, CSRF tokens and the lockout of failed
 * logins (edge_accounts.h).  Store calls run under the caller's lock;
 * Argon2 never does.  The session id exists only in the cookie and, for
 * the duration of a request, on the stack (wiped): the store has its
 * SHA-256.
 */
#include "edge_accounts.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/crypto/egide_crypto.h"

static const char s_csrf_label[] = "egide-csrf-v1";

/* A hash of a random password, verified against when the account does not
 * exist or the password is malformed, so that those cases cost the same
 * Argon2 work as a wrong password. */
static pthread_once_t s_dummy_once = PTHREAD_ONCE_INIT;
static char s_dummy_hash[EDGE_PWHASH_MAX];

static void s_dummy_init(void)
{
    uint8_t r[24];
    char pw[49];
    if (egide_random(r, sizeof r) == EGIDE_OK) {
        egide_hex_encode(r, sizeof r, pw);
        if (edge_password_hash(pw, strlen(pw), s_dummy_hash) != EGIDE_OK)
            s_dummy_hash[0] = '\0';
    }
    egide_wipe(pw, sizeof pw);
    egide_wipe(r, sizeof r);
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

/* Whether addr is a loopback address (127.0.0.0/8, ::1, or 127/8 mapped). */
static bool s_loopback(const char *addr)
{
    return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
           strncasecmp(addr, "::ffff:127.", 11) == 0;
}

/* The lockout keys of a login: "u:" name and "s:" source address.  None
 * for an unknown or loopback source: every local browser, and a reverse
 * proxy, share that address, so bounding it would let any one client lock
 * everybody out (the proxy bounds its clients; see docs/accounts.md). */
static void s_keys(const char *user, const char *source, char ukey[EDGE_AUTH_KEY_MAX + 1],
                   char skey[EDGE_AUTH_KEY_MAX + 1])
{
    snprintf(ukey, EDGE_AUTH_KEY_MAX + 1, "u:%s", user);
    skey[0] = '\0';
    if (source && *source && !s_loopback(source)) {
        char clean[64];
        snprintf(skey, EDGE_AUTH_KEY_MAX + 1, "s:%s",
                 egide_sanitize(source, strlen(source), clean, sizeof clean));
    }
}

/* Whether key is locked now (lock held): its latest failure is less than
 * lock_ms old, and it ends a run of at least max failures within
 * fail_window_ms.  (Failures are not recorded while locked, so the latest
 * is the one that locked.) */
static egide_rc s_locked(edge_store_t *st, const edge_auth_policy_t *p, const char *key,
                         unsigned max, int64_t now_ms, bool *locked)
{
    *locked = false;
    if (!key[0])
        return EGIDE_OK;
    size_t n = 0;
    int64_t last = 0;
    egide_rc rc = edge_store_auth_fail_count(st, key, now_ms - p->lock_ms, &n, &last);
    if (rc || n == 0 || now_ms >= last + p->lock_ms)
        return rc;
    rc = edge_store_auth_fail_count(st, key, last - p->fail_window_ms, &n, NULL);
    if (!rc)
        *locked = n >= max;
    return rc;
}

static void s_csrf(const uint8_t id[32], char out[EDGE_CSRF_HEX + 1])
{
    uint8_t mac[32];
    if (egide_hmac_sha256(id, 32, s_csrf_label, sizeof s_csrf_label - 1, mac) != EGIDE_OK) {
        /* Cannot happen with a valid key; a random token then matches nothing. */
        (void)egide_random(mac, sizeof mac);
    }
    egide_hex_encode(mac, sizeof mac, out);
    egide_wipe(mac, sizeof mac);
}

static int64_t s_min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

egide_rc edge_session_login(edge_store_t *st, pthread_mutex_t *lock,
                            const edge_auth_policy_t *policy, const char *user, size_t ulen,
                            const char *pw, size_t pwlen, const char *source, int64_t now_ms,
                            char sid[EDGE_SESSION_HEX + 1], edge_principal_t *who)
{
    if (sid)
        sid[0] = '\0';
    if (who)
        memset(who, 0, sizeof *who);
    if (!st || !policy || !sid || !who || !user || !pw)
        return EGIDE_ERR_INVALID;
    if (!edge_account_name_valid(user, ulen) || !edge_password_valid(pw, pwlen, false))
        return EGIDE_ERR_INVALID;
    pthread_once(&s_dummy_once, s_dummy_init);

    char ukey[EDGE_AUTH_KEY_MAX + 1], skey[EDGE_AUTH_KEY_MAX + 1];
    s_keys(user, source, ukey, skey);
    edge_user_row_t u;
    bool ulocked = false, slocked = false, found = false;
    s_lock(lock);
    egide_rc rc = s_locked(st, policy, ukey, policy->max_user_failures, now_ms, &ulocked);
    if (!rc)
        rc = s_locked(st, policy, skey, policy->max_source_failures, now_ms, &slocked);
    /* The attempt is counted as a failure before its password is checked
     * (in the same locked step as the check of the lockout), and taken back
     * once it proves right: concurrent attempts on several HTTP workers
     * cannot each pass the check before any of them is counted. */
    if (!rc && !ulocked && !slocked) {
        rc = edge_store_auth_fail_add(st, ukey, now_ms);
        if (!rc && skey[0])
            rc = edge_store_auth_fail_add(st, skey, now_ms);
        if (!rc)
            rc = edge_store_user_get(st, user, &u);
        found = rc == EGIDE_OK;
        if (rc == EGIDE_ERR_NOTFOUND)
            rc = EGIDE_OK;
    }
    s_unlock(lock);
    if (rc)
        return rc;
    if (ulocked || slocked)
        return EGIDE_ERR_LIMIT; /* not checked, not counted */

    bool rehash = false;
    egide_rc v = edge_password_verify(found ? u.pwhash : s_dummy_hash, pw, pwlen, &rehash);
    bool ok = found && !u.disabled && v == EGIDE_OK;
    if (!ok) {
        if (found)
            egide_wipe(u.pwhash, sizeof u.pwhash);
        return EGIDE_ERR_AUTH; /* counted already */
    }
    char newhash[EDGE_PWHASH_MAX] = "";
    if (rehash && edge_password_hash(pw, pwlen, newhash) != EGIDE_OK)
        newhash[0] = '\0'; /* try again at the next login */
    egide_wipe(u.pwhash, sizeof u.pwhash);

    uint8_t id[32], h[32];
    rc = egide_random(id, sizeof id);
    if (!rc) {
        egide_sha256(id, sizeof id, h);
        s_lock(lock);
        rc = edge_store_begin(st);
        if (!rc)
            rc = edge_store_auth_fail_clear(st, ukey);
        if (!rc && skey[0])
            rc = edge_store_auth_fail_remove(st, skey, now_ms); /* this attempt's */
        /* Old failures and ended sessions go while we are here. */
        if (!rc)
            rc = edge_store_auth_fail_purge(st, now_ms - policy->fail_window_ms - policy->lock_ms);
        if (!rc)
            rc = edge_store_session_purge(st, now_ms - policy->absolute_ms,
                                          now_ms - policy->idle_ms);
        if (!rc)
            rc = edge_store_session_put(st, h, u.name, now_ms);
        if (!rc && newhash[0])
            rc = edge_store_user_set_hash(st, u.name, newhash, now_ms);
        if (!rc)
            rc = edge_store_commit(st);
        if (rc)
            edge_store_rollback(st);
        s_unlock(lock);
    }
    egide_wipe(newhash, sizeof newhash);
    if (!rc) {
        egide_hex_encode(id, sizeof id, sid);
        egide_strlcpy(who->user, u.name, sizeof who->user);
        who->role = u.role;
        who->created_ms = now_ms;
        who->expires_ms = now_ms + s_min64(policy->idle_ms, policy->absolute_ms);
        memcpy(who->id_sha256, h, 32);
        s_csrf(id, who->csrf);
    }
    egide_wipe(id, sizeof id);
    return rc;
}

/* The 32 bytes of a session id given as 64 lowercase hex digits. */
static bool s_parse_sid(const char *sid, uint8_t id[32])
{
    if (!sid || strlen(sid) != EDGE_SESSION_HEX)
        return false;
    for (size_t i = 0; i < EDGE_SESSION_HEX; i++) {
        char c = sid[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return egide_hex_decode(sid, id, 32) == EGIDE_OK;
}

egide_rc edge_session_check(edge_store_t *st, pthread_mutex_t *lock,
                            const edge_auth_policy_t *policy, const char *sid, int64_t now_ms,
                            bool touch, edge_principal_t *who)
{
    if (who)
        memset(who, 0, sizeof *who);
    if (!st || !policy || !who)
        return EGIDE_ERR_INVALID;
    uint8_t id[32], h[32];
    if (!s_parse_sid(sid, id))
        return EGIDE_ERR_AUTH;
    egide_sha256(id, sizeof id, h);
    edge_session_row_t row;
    s_lock(lock);
    egide_rc rc = edge_store_session_get(st, h, &row);
    bool ended = !rc && (now_ms - row.created_ms >= policy->absolute_ms ||
                         now_ms - row.last_ms >= policy->idle_ms);
    if (ended)
        rc = edge_store_session_delete(st, h);
    else if (!rc && !row.disabled && touch)
        rc = edge_store_session_touch(st, h, now_ms);
    s_unlock(lock);
    if (rc == EGIDE_ERR_NOTFOUND || (!rc && (ended || row.disabled)))
        rc = EGIDE_ERR_AUTH;
    if (!rc) {
        egide_strlcpy(who->user, row.user, sizeof who->user);
        who->role = row.role;
        who->created_ms = row.created_ms;
        who->expires_ms = s_min64(row.created_ms + policy->absolute_ms,
                                  (touch ? now_ms : row.last_ms) + policy->idle_ms);
        memcpy(who->id_sha256, h, 32);
        s_csrf(id, who->csrf);
    }
    egide_wipe(id, sizeof id);
    return rc;
}

bool edge_session_csrf_ok(const edge_principal_t *who, const char *token)
{
    if (!who || !token || !who->csrf[0] || strlen(token) != EDGE_CSRF_HEX)
        return false;
    return egide_ct_equal(who->csrf, token, EDGE_CSRF_HEX);
}

egide_rc edge_session_logout(edge_store_t *st, pthread_mutex_t *lock, const char *sid)
{
    if (!st)
        return EGIDE_ERR_INVALID;
    uint8_t id[32], h[32];
    if (!s_parse_sid(sid, id))
        return EGIDE_ERR_AUTH;
    egide_sha256(id, sizeof id, h);
    egide_wipe(id, sizeof id);
    s_lock(lock);
    egide_rc rc = edge_store_session_delete(st, h);
    s_unlock(lock);
    return rc == EGIDE_ERR_NOTFOUND ? EGIDE_ERR_AUTH : rc;
}

char *edge_session_cookie(const char *sid, int64_t max_age_s, bool secure)
{
    char buf[256];
    int n;
    if (sid && s_parse_sid(sid, (uint8_t[32]){0}))
        n = snprintf(buf, sizeof buf, "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s",
                     EDGE_SESSION_COOKIE, sid, (long long)(max_age_s > 0 ? max_age_s : 0),
                     secure ? "; Secure" : "");
    else
        n = snprintf(buf, sizeof buf, "%s=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0%s",
                     EDGE_SESSION_COOKIE, secure ? "; Secure" : "");
    if (n < 0 || (size_t)n >= sizeof buf)
        return NULL;
    char *out = malloc((size_t)n + 1);
    if (out)
        memcpy(out, buf, (size_t)n + 1);
    egide_wipe(buf, sizeof buf);
    return out;
}
