/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_auditlog.h - the broker's tamper-evident audit log: an RFC 9162
 * Merkle tree log with signed checkpoints, on a store backend
 * (egide_auditstore.h: SQLite today, PostgreSQL next).
 *
 * What is stored (append-only: the backend refuses UPDATE and DELETE):
 *   leaves        idx -> leaf bytes (a serialized AuditEvent)
 *   hashes        the stored-hash index of research.swtch.com/tlog: the
 *                 hash of the complete subtree (level L, index n) is at
 *                 pos = i + L, where n is first replaced L times by 2n+1 and
 *                 then i = n + n/2 + n/4 + ...; appending leaf n writes
 *                 1 + trailing_ones(n) hashes, at consecutive positions
 *   checkpoints   size -> signed note (egide_checkpoint.h)
 *   msg index     msg_id -> indexes of its events
 * A proof reads O(log n) stored hashes.  With egide_auditlog_open() these
 * are the SQLite tables of egide_auditstore_sqlite.h in the caller's
 * database.
 *
 * Transactions: the log never BEGINs or COMMITs.  Each append runs inside
 * one unit of the store's work (a SAVEPOINT in SQLite), so it is atomic on
 * its own and, inside the caller's transaction, commits or rolls back with
 * it (e.g. "envelope accepted" + "audit leaf appended" in one COMMIT).  The
 * log keeps no state that a ROLLBACK could make stale: the size is read from
 * the store.  A handle must be used by one thread at a time (like its
 * connection).
 */
#ifndef EGIDE_AUDITLOG_H
#define EGIDE_AUDITLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include "egide.pb-c.h"
#include "egide/audit/egide_auditverify.h"
#include "egide/base/egide_rc.h"
#include "egide/store/egide_auditstore.h"

/* Most indexes egide_auditlog_find_msg returns for one msg_id. */
#define EGIDE_AUDITLOG_MAX_MSG_EVENTS 1024u
/* Largest leaf accepted by egide_auditlog_append. */
#define EGIDE_AUDITLOG_MAX_LEAF (64u * 1024u)

typedef struct egide_auditlog egide_auditlog_t;

/* The log on SQLite connection db (borrowed: must outlive the log), through
 * the SQLite store backend, which the log owns: creates or migrates the
 * tables and triggers, unless db is read-only (then they must exist:
 * EGIDE_ERR_NOTFOUND).  Does not BEGIN or COMMIT.
 * EGIDE_ERR_DB, EGIDE_ERR_NOMEM, EGIDE_ERR_INVALID, EGIDE_ERR_VERSION (tables
 * newer than this program). */
egide_rc egide_auditlog_open(sqlite3 *db, egide_auditlog_t **out);
/* The log on any store backend: ops (static, every required member set)
 * and its handle backend, both borrowed (must outlive the log; the log does
 * not destroy backend).  EGIDE_ERR_INVALID for a NULL or incomplete ops or
 * a NULL backend, EGIDE_ERR_NOMEM. */
egide_rc egide_auditlog_open_store(const egide_auditstore_ops_t *ops, void *backend,
                                   egide_auditlog_t **out);
/* Free the log (and the backend egide_auditlog_open made); NULL-safe, nulls
 * *self_p.  Does not close the connection. */
void egide_auditlog_destroy(egide_auditlog_t **self_p);

/* Check (egide_wire rules: version 1, a type, a time, 16-byte msg_id),
 * serialize and append ev; index its msg_id.  *leaf_index (may be NULL) gets
 * its index.  EGIDE_ERR_PROTO / EGIDE_ERR_LIMIT for an invalid event,
 * EGIDE_ERR_DB. */
egide_rc egide_auditlog_append_event(egide_auditlog_t *log, const Egide__V1__AuditEvent *ev,
                                     uint64_t *leaf_index);
/* Append raw leaf bytes (1..EGIDE_AUDITLOG_MAX_LEAF; not indexed by msg_id).
 * EGIDE_ERR_INVALID, EGIDE_ERR_LIMIT, EGIDE_ERR_DB (including a
 * stored-hash table that does not match the leaves). */
egide_rc egide_auditlog_append(egide_auditlog_t *log, const uint8_t *leaf, size_t len,
                               uint64_t *leaf_index);

/* Number of leaves (0 on error). */
uint64_t egide_auditlog_size(egide_auditlog_t *log);
/* Root of the tree of the first `size` leaves (size <= current size).
 * EGIDE_ERR_INVALID when size is beyond the log; EGIDE_ERR_DB. */
egide_rc egide_auditlog_root(egide_auditlog_t *log, uint64_t size, uint8_t root[32]);
/* Inclusion proof of leaf index in the tree of `size` leaves; *proof is the
 * caller's to free (NULL when *n == 0).  EGIDE_ERR_INVALID for index >= size
 * or size beyond the log; EGIDE_ERR_DB. */
egide_rc egide_auditlog_inclusion(egide_auditlog_t *log, uint64_t index, uint64_t size,
                                  uint8_t (**proof)[32], size_t *n);
/* Consistency proof from size m to size n (0 < m <= n <= current size).
 * EGIDE_ERR_INVALID otherwise; EGIDE_ERR_DB. */
egide_rc egide_auditlog_consistency(egide_auditlog_t *log, uint64_t m, uint64_t n,
                                    uint8_t (**proof)[32], size_t *count);
/* The leaf bytes at index (*leaf is the caller's to free).
 * EGIDE_ERR_NOTFOUND, EGIDE_ERR_DB, EGIDE_ERR_NOMEM. */
egide_rc egide_auditlog_leaf(egide_auditlog_t *log, uint64_t index, uint8_t **leaf, size_t *len);
/* The stored leaf hash of index.  EGIDE_ERR_NOTFOUND, EGIDE_ERR_DB. */
egide_rc egide_auditlog_leaf_hash(egide_auditlog_t *log, uint64_t index, uint8_t out[32]);
/* Indexes of the events of msg_id, ascending, at most
 * EGIDE_AUDITLOG_MAX_MSG_EVENTS (*indexes is the caller's to free; NULL when
 * *n == 0).  Not finding any is EGIDE_OK with *n == 0.  EGIDE_ERR_DB. */
egide_rc egide_auditlog_find_msg(egide_auditlog_t *log, const uint8_t msg_id[16],
                                 uint64_t **indexes, size_t *n);

/* Make, sign (key: Ed25519 private) and store a checkpoint of the current
 * size.  When one of that size is already stored, that one is returned.
 * *note_out (may be NULL) is the caller's to free.  Convention:
 * key_name == origin (see egide_checkpoint.h).  Runs in a SAVEPOINT.
 * EGIDE_ERR_INVALID, EGIDE_ERR_CRYPTO, EGIDE_ERR_DB. */
egide_rc egide_auditlog_checkpoint(egide_auditlog_t *log, const char *origin, const char *key_name,
                                   EVP_PKEY *key, char **note_out);
/* The stored checkpoint of the largest size.  EGIDE_ERR_NOTFOUND when none. */
egide_rc egide_auditlog_latest_checkpoint(egide_auditlog_t *log, char **note_out);
/* The first stored checkpoint with size >= min_size: its size and note
 * (caller frees).  EGIDE_ERR_NOTFOUND when none.  Used to page through all. */
egide_rc egide_auditlog_checkpoint_next(egide_auditlog_t *log, uint64_t min_size, uint64_t *size,
                                        char **note_out);

/* Recompute everything from the stored leaves: every stored hash, every
 * checkpoint (signature when pub is given; root against the recomputed tree
 * at its size), the msg_id index, and (events) that every leaf is a valid
 * AuditEvent and all events of a msg_id carry the same envelope hash.
 * key_name NULL = each note's origin.  rep (may be NULL) gets the outcome and
 * the first bad index.  With pub, a non-empty log that no signed checkpoint
 * covers fails (EGIDE_ERR_CONSISTENCY, rep->unanchored; see
 * egide_auditverify_finish()).  EGIDE_OK when all holds,
 * EGIDE_ERR_CONSISTENCY when not, EGIDE_ERR_DB / EGIDE_ERR_NOMEM when the
 * check could not run. */
egide_rc egide_auditlog_verify_all(egide_auditlog_t *log, const char *key_name, EVP_PKEY *pub,
                                   bool events, egide_auditverify_report_t *rep);
/* Told how far a long walk is: done of total leaves read (total is the log
 * size when the walk began; done may reach it, never passes it). */
typedef void (*egide_auditlog_progress_fn)(void *arg, uint64_t done, uint64_t total);
/* egide_auditlog_verify_all() calling progress (may be NULL) with arg after
 * each leaf read (the caller rate-limits what it shows). */
egide_rc egide_auditlog_verify_all_progress(egide_auditlog_t *log, const char *key_name,
                                            EVP_PKEY *pub, bool events,
                                            egide_auditlog_progress_fn progress, void *arg,
                                            egide_auditverify_report_t *rep);

/* The stored-hash position of (level, index) (exposed for tests and tools). */
uint64_t egide_auditlog_hash_pos(unsigned level, uint64_t index);

#endif
