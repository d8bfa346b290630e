/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_accounts.h - personal accounts of an edge's web pages: who a person
 * is (account name, role), how they prove it (a password hashed with
 * Argon2id), and the sessions they hold once logged in.  The API bearer
 * token stays for machines; a person uses an account, so the edge knows
 * which person opened a child's file.
 *
 * Roles (stored as these integers: never renumber) and what they may do:
 *   agent       read messages with their content, send, acknowledge
 *   supervisor  the same (later: assignments, workload)
 *   auditor     read messages' metadata, receipts and deadlines; never a
 *               payload; no change
 *   admin       read metadata; manage accounts; never a payload
 * edge_role_allows() is the one table of it.
 *
 * Passwords: libsodium's crypto_pwhash_str (Argon2id) with
 * EDGE_PWHASH_OPSLIMIT / EDGE_PWHASH_MEMLIMIT (libsodium's INTERACTIVE
 * values: 2 passes, 64 MiB); a stored hash made with other parameters is
 * rehashed at the next successful login (crypto_pwhash_str_needs_rehash).
 * A password is 1..EDGE_PASSWORD_MAX bytes of valid UTF-8 with no control
 * character; EDGE_PASSWORD_MIN applies when one is set (add, passwd), not
 * at login, so that the answer to a login never depends on the policy.
 *
 * Sessions: an id of 32 random bytes, given to the browser as 64 hex
 * digits in the cookie EDGE_SESSION_COOKIE; the store keeps only its
 * SHA-256.  A session ends after policy.idle_ms without a request, after
 * policy.absolute_ms since login, at logout, or when its account is
 * disabled.  Its CSRF token is HMAC-SHA256(id, "egide-csrf-v1") in hex:
 * nothing more is stored, and only the holder of the cookie can compute it.
 *
 * Lockout: policy.max_user_failures failed logins for one account name
 * within policy.fail_window_ms lock that name for policy.lock_ms from the
 * last of them (an unknown name too, so that a lock says nothing of
 * whether the account exists); policy.max_source_failures from one source
 * address lock that address likewise.  While locked, a login is refused
 * without checking the password and is not counted.
 *
 * Every function takes the store handle and the time (ms since the epoch,
 * so tests inject a clock) from the caller, and a lock (may be NULL) held
 * around each store call but never around Argon2: another request is not
 * held up for the ~0.1 s a hash takes.  Names, passwords, session ids and
 * tokens are never logged.
 */
#ifndef EGIDE_EDGE_ACCOUNTS_H
#define EGIDE_EDGE_ACCOUNTS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_store.h"
#include "egide/base/egide_rc.h"

typedef enum edge_role {
    EDGE_ROLE_AGENT = 0,
    EDGE_ROLE_SUPERVISOR = 1,
    EDGE_ROLE_AUDITOR = 2,
    EDGE_ROLE_ADMIN = 3,
} edge_role;
#define EDGE_ROLE__COUNT 4

/* What a role may do (edge_role_allows). */
typedef enum edge_perm {
    EDGE_PERM_READ = 0,     /* message lists, metadata, receipts, deadlines, health */
    EDGE_PERM_CONTENT = 1,  /* a message's payload */
    EDGE_PERM_SEND = 2,     /* POST /v1/messages */
    EDGE_PERM_ACK = 3,      /* acknowledge a received message */
    EDGE_PERM_ACCOUNTS = 4, /* manage accounts */
} edge_perm;

#define EDGE_PASSWORD_MIN   12u   /* bytes, when a password is set */
#define EDGE_PASSWORD_MAX   1024u /* bytes, always */
#define EDGE_SESSION_COOKIE "egide_session"
#define EDGE_SESSION_HEX    64u /* hex digits of a session id */
#define EDGE_CSRF_HEX       64u /* hex digits of a CSRF token */
#define EDGE_CSRF_HEADER    "X-CSRF-Token"
#define EDGE_CSRF_FIELD     "csrf_token" /* form field, for forms posted without script */

/* Defaults of the [web] configuration (edge_main.c's schema says the same). */
#define EDGE_SESSION_IDLE_MS_DEFAULT      (30LL * 60 * 1000)
#define EDGE_SESSION_ABSOLUTE_MS_DEFAULT  (12LL * 3600 * 1000)
#define EDGE_LOCK_FAILURES_DEFAULT        5u
#define EDGE_LOCK_SOURCE_FAILURES_DEFAULT 20u
#define EDGE_LOCK_MS_DEFAULT              (15LL * 60 * 1000)

/* The session and lockout rules.  Invariant: every field > 0. */
typedef struct edge_auth_policy {
    int64_t idle_ms;              /* a session unused this long ends */
    int64_t absolute_ms;          /* a session this old ends, used or not */
    unsigned max_user_failures;   /* failed logins of one name that lock it */
    unsigned max_source_failures; /* failed logins from one address that lock it */
    int64_t fail_window_ms;       /* failures counted over this window */
    int64_t lock_ms;              /* how long a lock lasts from the last failure */
} edge_auth_policy_t;

/* The defaults above. */
void edge_auth_policy_default(edge_auth_policy_t *p);

/* "agent", "supervisor", "auditor", "admin"; "unknown" out of range. */
const char *edge_role_name(int role);
/* EGIDE_ERR_INVALID when name is none of them. */
egide_rc edge_role_parse(const char *name, edge_role *out);
/* Whether role may do perm (false for an unknown role). */
bool edge_role_allows(int role, edge_perm perm);

/* An account name: 1..EDGE_USER_NAME_MAX of [a-z0-9._-], starting with a
 * letter or digit. */
bool edge_account_name_valid(const char *name, size_t len);
/* A password as described above; for_set adds EDGE_PASSWORD_MIN. */
bool edge_password_valid(const char *pw, size_t len, bool for_set);

/* The Argon2id string for pw into out (EDGE_PWHASH_MAX bytes).
 * EGIDE_ERR_INVALID for a bad password, EGIDE_ERR_NOMEM when Argon2 cannot
 * get its memory, EGIDE_ERR_CRYPTO when libsodium cannot start. */
egide_rc edge_password_hash(const char *pw, size_t len, char out[EDGE_PWHASH_MAX]);
/* EGIDE_OK when pw matches hash, EGIDE_ERR_AUTH when not (or hash is not
 * an Argon2 string); *rehash (may be NULL) when the hash's parameters are
 * not today's. */
egide_rc edge_password_verify(const char *hash, const char *pw, size_t len, bool *rehash);

/* ---- offline administration (egide user ...) and the API ---------------- */

/* A new enabled account.  EGIDE_ERR_INVALID: bad name, role or password
 * (too short included); EGIDE_ERR_EXISTS: the name is taken. */
egide_rc edge_account_add(edge_store_t *st, pthread_mutex_t *lock, const char *name, int role,
                          const char *pw, size_t pwlen, int64_t now_ms);
/* A new password (same checks); the account's sessions end.  NOTFOUND. */
egide_rc edge_account_passwd(edge_store_t *st, pthread_mutex_t *lock, const char *name,
                             const char *pw, size_t pwlen, int64_t now_ms);
/* Disable (and end every session of) or enable again.  NOTFOUND. */
egide_rc edge_account_set_disabled(edge_store_t *st, pthread_mutex_t *lock, const char *name,
                                   bool disabled, int64_t now_ms);

/* ---- login, sessions ----------------------------------------------------- */

/* A logged-in person, as a request sees them. */
typedef struct edge_principal {
    char user[EDGE_USER_NAME_MAX + 1]; /* account name */
    int role;                          /* edge_role */
    int64_t created_ms;                /* login time */
    int64_t expires_ms;                /* when the session ends if unused (idle or absolute) */
    uint8_t id_sha256[32];             /* the session's stored key */
    char csrf[EDGE_CSRF_HEX + 1];      /* its CSRF token (hex) */
} edge_principal_t;

/* Check user and password, and open a session.  source is the client's
 * address ("" if unknown).  On EGIDE_OK: sid (EDGE_SESSION_HEX + 1 bytes)
 * holds the new session id for the cookie, *who the person.
 * EGIDE_ERR_AUTH: unknown name, wrong password or disabled account (one
 * answer for all three, and the same Argon2 work); EGIDE_ERR_LIMIT: the
 * name or the source is locked (see the file comment); EGIDE_ERR_INVALID:
 * a malformed name or password (empty, too long, not UTF-8, a control
 * character: no account can have it, so nothing is checked or counted);
 * a store error as the store returns it. */
egide_rc edge_session_login(edge_store_t *st, pthread_mutex_t *lock,
                            const edge_auth_policy_t *policy, const char *user, size_t ulen,
                            const char *pw, size_t pwlen, const char *source, int64_t now_ms,
                            char sid[EDGE_SESSION_HEX + 1], edge_principal_t *who);

/* The session whose id (the cookie's value) is sid.  touch: the request
 * counts as activity (idle expiry restarts).  EGIDE_ERR_AUTH: malformed,
 * unknown, expired (then deleted) or its account disabled. */
egide_rc edge_session_check(edge_store_t *st, pthread_mutex_t *lock,
                            const edge_auth_policy_t *policy, const char *sid, int64_t now_ms,
                            bool touch, edge_principal_t *who);

/* Whether token is who's CSRF token (constant time; false for NULL). */
bool edge_session_csrf_ok(const edge_principal_t *who, const char *token);

/* End the session sid (logout).  EGIDE_ERR_AUTH when no such session. */
egide_rc edge_session_logout(edge_store_t *st, pthread_mutex_t *lock, const char *sid);

/* The Set-Cookie value for sid (NULL: one that clears the cookie), with
 * max_age_s (ignored when clearing); secure adds "Secure" (served over
 * TLS).  malloc'ed, the caller's; NULL when out of memory. */
char *edge_session_cookie(const char *sid, int64_t max_age_s, bool secure);

#endif
