/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_trail.h - the edge's own tamper-evident trail of who read what
 * (issue 12 item 3; docs/audit-log.md, "The edge's trail"): every opening
 * of a referral's content and every action of a person, appended to an
 * RFC 9162 Merkle log with signed checkpoints - the very log of the
 * broker's audit (egide_auditlog.h, the same leaf and node hashing, the
 * same stored-hash tables and append-only triggers, through the library's
 * SQLite audit store), here in the edge's own database.
 *
 * An entry names the account, its role, the action, the message and the
 * case when known, and the time: never content, never a password.  A
 * request made with the machine token is the account "api-token" (role
 * "machine").  The leaf is the entry as compact JSON, in this order:
 *   {"v":1,"node":"71.crip","time_ms":N,"account":"alice","role":"agent",
 *    "action":"message.open","msg_id":"<32 hex>","case_id":N,"subject":"bob"}
 * (msg_id and case_id only when known; subject: the account an account
 * action was on, `egide user add|disable|enable|passwd`), at most EDGE_TRAIL_LEAF_MAX bytes;
 * anyone holding the leaf bytes can recompute its hash (0x00 || leaf).
 *
 * Finding entries: the table trail_index (edge store migration 9) repeats
 * each leaf's index, time, account, message and case, so that a page by
 * account, by message or by both is one index range (edge_trail_plans
 * gives the statements' plans for the tests); the entries shown are always
 * decoded from the leaves themselves.  edge_trail_verify recomputes the
 * tree from the leaves, checks every checkpoint's signature and root, and
 * that every index row says what its leaf says.
 *
 * Checkpoints are signed by the edge's own signing key (the key holder's
 * held key, e->sign_key), origin and key name "egide.<node id>/trail"
 * (egide_checkpoint.h's note format).  They are made when asked for
 * (edge_trail_checkpoint with refresh: the proof and checkpoint routes),
 * so one covers every entry an auditor is shown.
 *
 * Transactions: an append is one SAVEPOINT (the leaf, its hashes and its
 * index row together); inside the caller's transaction it commits with it.
 * A handle is used by one thread at a time, like its connection.
 */
#ifndef EGIDE_EDGE_TRAIL_H
#define EGIDE_EDGE_TRAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "edge_store.h"
#include "egide/audit/egide_auditlog.h"
#include "egide/audit/egide_auditverify.h"
#include "egide/base/egide_rc.h"
#include "egide/net/egide_http.h"

#define EDGE_TRAIL_ACCOUNT_TOKEN   "api-token" /* the machine token's account */
#define EDGE_TRAIL_ROLE_TOKEN      "machine"   /* ... and its role */
#define EDGE_TRAIL_ACCOUNT_UNKNOWN "inconnu"   /* a failed login of no account */
#define EDGE_TRAIL_ACCOUNT_MAX     64          /* bytes of an entry's account */
#define EDGE_TRAIL_ACTION_MAX      31          /* bytes of an action */
#define EDGE_TRAIL_LEAF_MAX        1024u       /* bytes of a leaf */
#define EDGE_TRAIL_PAGE_MAX        500         /* entries per page */

/* One entry of the trail. */
typedef struct edge_trail_entry {
    uint64_t index;                           /* its leaf index (set by the store) */
    int64_t time_ms;                          /* when, ms since the epoch */
    char node[EGIDE_MAX_NODE_ID + 1];         /* the edge it was written at */
    char account[EDGE_TRAIL_ACCOUNT_MAX + 1]; /* the account, or "api-token" */
    char role[16];                            /* its role then, or "machine" */
    char action[EDGE_TRAIL_ACTION_MAX + 1];   /* "message.open", "login", ... */
    bool has_msg;                             /* msg_id is set */
    uint8_t msg_id[16];                       /* the message */
    int64_t case_id;                          /* its case, 0 = none or not known */
    char subject[EDGE_TRAIL_ACCOUNT_MAX + 1]; /* the account acted on (user.*), "" = none */
} edge_trail_entry_t;

/* A page query: entries with index > after (when has_after), ascending,
 * at most limit (1..EDGE_TRAIL_PAGE_MAX), of account (NULL = any) and of
 * the message msg_id (when has_msg). */
typedef struct edge_trail_q {
    bool has_after;
    uint64_t after;
    size_t limit;
    const char *account;
    bool has_msg;
    uint8_t msg_id[16];
} edge_trail_q_t;

typedef struct edge_trail edge_trail_t;

/* The trail of node_id on db (borrowed: the edge store's connection,
 * edge_store_sqlite_db; it must outlive the trail).  On a writable db the
 * audit tables are created when missing (the library's migrations); the
 * index table is the edge store's (migration 9).  Never BEGINs.
 * EGIDE_ERR_INVALID, EGIDE_ERR_DB, EGIDE_ERR_NOMEM, EGIDE_ERR_NOTFOUND (a
 * read-only db without the tables). */
egide_rc edge_trail_open(sqlite3 *db, const char *node_id, edge_trail_t **out);
void edge_trail_destroy(edge_trail_t **self_p);
/* The underlying log (borrowed), for proofs and tests. */
egide_auditlog_t *edge_trail_log(edge_trail_t *t);
/* "egide.<node id>/trail". */
const char *edge_trail_origin(const edge_trail_t *t);

/* The leaf of an entry (its index ignored; node taken from the entry):
 * *out the caller's.  EGIDE_ERR_INVALID for an empty account, role or
 * action, or characters outside printable ASCII; EGIDE_ERR_LIMIT. */
egide_rc edge_trail_leaf_encode(const edge_trail_entry_t *en, char **out, size_t *len);
/* Parse a leaf strictly (exactly the members above).  EGIDE_ERR_PROTO. */
egide_rc edge_trail_leaf_decode(const uint8_t *leaf, size_t len, edge_trail_entry_t *en);

/* Append en (node set to the trail's) in one SAVEPOINT: leaf and index
 * row.  *index (may be NULL) gets its index.  EGIDE_ERR_INVALID,
 * EGIDE_ERR_LIMIT, EGIDE_ERR_DB. */
egide_rc edge_trail_append(edge_trail_t *t, const edge_trail_entry_t *en, uint64_t *index);
/* The same, only inside the caller's open transaction: EGIDE_ERR_DB when
 * none is open (it ended after an error), nothing written. */
egide_rc edge_trail_append_in(edge_trail_t *t, const edge_trail_entry_t *en, uint64_t *index);
/* One page (see edge_trail_q_t), decoded from the leaves: *rows the
 * caller's; *more when entries follow (continue after the last index).
 * EGIDE_ERR_INVALID for a limit out of range; EGIDE_ERR_CONSISTENCY when
 * an index row names a leaf that is missing or says otherwise. */
egide_rc edge_trail_list(edge_trail_t *t, const edge_trail_q_t *q, edge_trail_entry_t **rows,
                         size_t *n, bool *more);
/* The latest signed checkpoint (note the caller's, *size its tree size);
 * with refresh and a key, first a new one of the current size when the
 * latest does not cover every entry.  EGIDE_ERR_NOTFOUND when there is
 * none (and none could be made); EGIDE_ERR_UNAVAILABLE when the key
 * holder is down; EGIDE_ERR_DB. */
egide_rc edge_trail_checkpoint(edge_trail_t *t, EVP_PKEY *key, bool refresh, char **note,
                               uint64_t *size);
/* Verify everything (see the file comment) with the edge's public key pub
 * (NULL: roots only, no signatures).  EGIDE_OK, EGIDE_ERR_CONSISTENCY (rep
 * says why), EGIDE_ERR_DB. */
egide_rc edge_trail_verify(edge_trail_t *t, EVP_PKEY *pub, egide_auditverify_report_t *rep);

/* For tests: EXPLAIN QUERY PLAN of the page statements (name, plan). */
egide_rc edge_trail_plans(sqlite3 *db, edge_store_plan_fn fn, void *arg);

/* ---- the daemon's side (edge_t) ----------------------------------------- */
struct edge;
struct edge_principal;
/* Append one entry for who (NULL = the machine token) on e->api_store,
 * under e->api_lock (the caller must not hold it); msg_id may be NULL,
 * case_id 0 = not known (looked up from the message when it is in a
 * case).  Store errors as edge_trail_append. */
egide_rc edge_trail_note(struct edge *e, const struct edge_principal *who, const char *action,
                         const uint8_t *msg_id, int64_t case_id);
/* The same with account and role given (a login, where no session is
 * yet). */
egide_rc edge_trail_note_as(struct edge *e, const char *account, const char *role,
                            const char *action, const uint8_t *msg_id, int64_t case_id);
/* The same inside the caller's write transaction on e->api_store (the
 * caller holds e->api_lock), on the trail *t on that store (opened here
 * when NULL; the caller destroys it once its transaction ends): the entry
 * commits or rolls back with the caller's writes (a submission and the
 * entry saying who made it). */
egide_rc edge_trail_note_in(struct edge *e, edge_trail_t **t, const struct edge_principal *who,
                            const char *action, const uint8_t *msg_id);
/* The offline commands' entry (egide user ...) on the store st: account
 * and role of who ran it, the account acted on.  The node is the trail's
 * (its first entry's), "offline" while it is empty.  In a write
 * transaction of its own. */
egide_rc edge_trail_note_offline(edge_store_t *st, const char *account, const char *action,
                                 const char *subject, int64_t now_ms);

/* ---- the API (edge_api_trail.c), called by edge_api.c's dispatch ------- */
/* GET /v1/trail, /v1/trail/proof, /v1/trail/checkpoint (who NULL = the
 * token). */
void edge_api_trail_handle(struct edge *e, const egide_http_req_t *req,
                           const struct edge_principal *who, egide_http_resp_t *resp);
/* Whether message id is a received one (its payload would be shown). */
egide_rc edge_api_trail_in_inbox(struct edge *e, const uint8_t id[16], bool *in_inbox);
/* After a content read answered 200: note it; when the note fails, the
 * answer becomes a 503 (its body wiped). */
void edge_api_trail_served(struct edge *e, const struct edge_principal *who, const char *action,
                           const uint8_t *msg_id, int64_t case_id, egide_http_resp_t *resp);
/* After an action answered ok_status: note it (msg_id NULL: the answer's
 * "id"); a failed note is logged. */
void edge_api_trail_acted(struct edge *e, const struct edge_principal *who, const char *action,
                          const uint8_t *msg_id, const egide_http_resp_t *resp, int ok_status);
/* Around /v1/session: who is logging out (before), then the login,
 * failed login, lockout or logout (after). */
bool edge_api_trail_session_before(struct edge *e, const egide_http_req_t *req,
                                   struct edge_principal *who);
void edge_api_trail_session_after(struct edge *e, const egide_http_req_t *req,
                                  const struct edge_principal *before,
                                  const egide_http_resp_t *resp);
/* After GET /v1/cases/{id}: note "case.view" (as edge_api_trail_served). */
void edge_api_trail_cases(struct edge *e, const egide_http_req_t *req,
                          const struct edge_principal *who, egide_http_resp_t *resp);

#endif
