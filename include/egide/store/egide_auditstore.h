/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_auditstore.h - where the audit log keeps its rows: a table of
 * functions (egide_auditstore_ops_t) that a storage backend implements, so
 * that the log's logic (egide_auditlog.c: tree hashing, proofs, checkpoints,
 * verification) holds no SQL and a second engine (PostgreSQL) slots in
 * beside SQLite (egide_auditstore_sqlite.h).  The model is OpenSMTPD's
 * queue_backend.c; tests/unit/test_auditstore.c is the conformance test that
 * every backend must pass unchanged.
 *
 * What a backend stores, all append-only (a row once written is never
 * changed or removed, and the store itself refuses it, e.g. by triggers):
 *   leaves       index -> leaf bytes (1..EGIDE_AUDITSTORE_MAX_LEAF)
 *   hashes       position -> 32-byte hash (the positions are the log's
 *                business: the tlog stored-hash index; the store only keeps
 *                them, it never computes one)
 *   msg index    (16-byte msg_id, leaf index) pairs
 *   checkpoints  tree size -> note text (<= EGIDE_AUDITSTORE_MAX_NOTE bytes)
 * Indexes, positions and sizes are below 2^63 (so that any SQL integer holds
 * them); larger arguments are EGIDE_ERR_INVALID.
 *
 * Transactions: begin/release/rollback bracket a unit of the log's work (an
 * append reads the size and some hashes, then writes); they nest inside
 * whatever transaction the caller of the log has open on the backend's
 * connection (a SAVEPOINT in SQL terms), and never COMMIT it.  append() is
 * atomic on its own as well: when it fails, none of its rows remain.
 *
 * Return codes common to every operation: EGIDE_OK; EGIDE_ERR_DB (the
 * engine failed; one log line, never data); EGIDE_ERR_NOMEM; EGIDE_ERR_IO
 * (an I/O error, including an injected one); EGIDE_ERR_INVALID (bad
 * argument).  Each operation lists its own below.
 */
#ifndef EGIDE_AUDITSTORE_H
#define EGIDE_AUDITSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "egide/base/egide_rc.h"

#define EGIDE_AUDITSTORE_HASH_LEN   32u           /* every stored hash */
#define EGIDE_AUDITSTORE_MSG_ID_LEN 16u           /* every msg_id */
#define EGIDE_AUDITSTORE_MAX_LEAF   (64u * 1024u) /* largest leaf */
#define EGIDE_AUDITSTORE_MAX_NOTE   4096u         /* largest checkpoint note */
#define EGIDE_AUDITSTORE_MAX_INDEX  INT64_MAX     /* largest index, position or size */
/* Most hashes one append writes: 1 + trailing one bits of an index < 2^63. */
#define EGIDE_AUDITSTORE_MAX_HASHES 64u

/* Which checkpoint egide_auditstore_ops_t.checkpoint returns. */
typedef enum egide_auditstore_cp_query {
    EGIDE_AUDITSTORE_CP_AT = 0,     /* the one of size == arg */
    EGIDE_AUDITSTORE_CP_LATEST = 1, /* the one of the largest size (arg unused) */
    EGIDE_AUDITSTORE_CP_NEXT = 2,   /* the one of the smallest size >= arg */
} egide_auditstore_cp_query_t;

/* The stored row kinds (for probe_immutable). */
typedef enum egide_auditstore_kind {
    EGIDE_AUDITSTORE_LEAVES = 0,      /* keyed by leaf index */
    EGIDE_AUDITSTORE_HASHES = 1,      /* keyed by position */
    EGIDE_AUDITSTORE_CHECKPOINTS = 2, /* keyed by tree size */
    EGIDE_AUDITSTORE_MSG_INDEX = 3,   /* keyed by leaf index */
    EGIDE_AUDITSTORE_KIND__COUNT
} egide_auditstore_kind_t;

/* Row counts, for whole-log verification (every row, whatever its key). */
typedef struct egide_auditstore_counts {
    uint64_t leaves;      /* leaf rows */
    uint64_t hashes;      /* hash rows */
    uint64_t msg_entries; /* msg index rows */
    uint64_t checkpoints; /* checkpoint rows */
} egide_auditstore_counts_t;

/* Called by scan_leaves for each leaf in ascending index order; leaf is
 * borrowed for the call only.  A non-EGIDE_OK return stops the scan, which
 * then returns that code. */
typedef egide_rc (*egide_auditstore_leaf_fn)(void *ctx, uint64_t index, const uint8_t *leaf,
                                             size_t len);

/* A backend.  Every function takes the backend's handle `be` first (the
 * void * its constructor returned); a handle is used by one thread at a
 * time.  All members are required unless marked optional. */
typedef struct egide_auditstore_ops {
    const char *name; /* "sqlite", "postgresql": for logs */

    /* Free the handle (statements, not the connection it was given).
     * NULL-safe. */
    void (*destroy)(void *be);

    /* Open a unit of work (nests in the caller's transaction); release
     * keeps what it wrote, rollback undoes it.  Each begin is matched by
     * exactly one release or rollback; they do not nest among themselves. */
    egide_rc (*begin)(void *be);
    egide_rc (*release)(void *be);
    void (*rollback)(void *be);

    /* *size = 1 + the largest leaf index stored, 0 when none. */
    egide_rc (*size)(void *be, uint64_t *size);

    /* Store leaf `index` (leaf: 1..EGIDE_AUDITSTORE_MAX_LEAF bytes), the
     * nhashes (1..EGIDE_AUDITSTORE_MAX_HASHES) hashes[k] at positions
     * first_pos + k, and, when msg_id is not NULL, the pair (msg_id, index),
     * all or nothing.  EGIDE_ERR_EXISTS when any of those rows exists already
     * (nothing is written). */
    egide_rc (*append)(void *be, uint64_t index, const uint8_t *leaf, size_t len,
                       const uint8_t *msg_id, uint64_t first_pos,
                       const uint8_t (*hashes)[EGIDE_AUDITSTORE_HASH_LEN], size_t nhashes);

    /* The hash at position pos.  EGIDE_ERR_NOTFOUND when none;
     * EGIDE_ERR_CONSISTENCY when the stored value is not 32 bytes. */
    egide_rc (*hash)(void *be, uint64_t pos, uint8_t out[EGIDE_AUDITSTORE_HASH_LEN]);

    /* The hashes at positions first_pos, first_pos + 1, ... into out (the
     * caller's array of max entries), stopping before the first position
     * that is missing or does not hold 32 bytes: *n is how many were read
     * (0 is EGIDE_OK).  For reading long runs (verification) in one query. */
    egide_rc (*hash_run)(void *be, uint64_t first_pos, size_t max,
                         uint8_t (*out)[EGIDE_AUDITSTORE_HASH_LEN], size_t *n);

    /* A copy of leaf `index` (*leaf is the caller's to free, never NULL on
     * success).  EGIDE_ERR_NOTFOUND when none. */
    egide_rc (*leaf)(void *be, uint64_t index, uint8_t **leaf, size_t *len);

    /* Call fn for every leaf of index 0..2^63-1, ascending. */
    egide_rc (*scan_leaves)(void *be, egide_auditstore_leaf_fn fn, void *ctx);

    /* The indexes paired with msg_id, ascending, at most max of them, into
     * out (the caller's array of max entries); *n their number (0 is
     * EGIDE_OK). */
    egide_rc (*find_msg)(void *be, const uint8_t msg_id[EGIDE_AUDITSTORE_MSG_ID_LEN], uint64_t *out,
                         size_t max, size_t *n);

    /* EGIDE_OK when (msg_id, index) is stored, EGIDE_ERR_NOTFOUND when not. */
    egide_rc (*msg_has)(void *be, const uint8_t msg_id[EGIDE_AUDITSTORE_MSG_ID_LEN],
                        uint64_t index);

    /* Row counts of every kind. */
    egide_rc (*counts)(void *be, egide_auditstore_counts_t *out);

    /* Store the note (NUL-terminated, 1..EGIDE_AUDITSTORE_MAX_NOTE bytes) of
     * tree size `size`.  EGIDE_ERR_EXISTS when one of that size is stored. */
    egide_rc (*put_checkpoint)(void *be, uint64_t size, const char *note);

    /* The checkpoint chosen by q and arg: *size (may be NULL) its size,
     * *note (may be NULL) a copy of its note, the caller's to free.
     * EGIDE_ERR_NOTFOUND when none; EGIDE_ERR_LIMIT when the stored note is
     * longer than EGIDE_AUDITSTORE_MAX_NOTE. */
    egide_rc (*checkpoint)(void *be, egide_auditstore_cp_query_t q, uint64_t arg, uint64_t *size,
                           char **note);

    /* Optional, for tests (SQLite's own tests inject I/O errors the same
     * way): the nth write from now (1 = the next) fails with EGIDE_ERR_IO
     * before it reaches the engine, as a full or failing disk would make
     * it; 0 disarms.  One shot. */
    void (*inject_fault)(void *be, unsigned nth_write);

    /* Optional, for tests: try, by the engine's own means and around this
     * interface, to change, delete and replace the existing row of `kind`
     * keyed by `key` (e.g. UPDATE, DELETE, INSERT OR REPLACE), undoing any
     * that went through.  EGIDE_ERR_PERM when the store refused every one
     * (what a conforming store does), EGIDE_OK when one went through,
     * EGIDE_ERR_NOTFOUND when there is no such row. */
    egide_rc (*probe_immutable)(void *be, egide_auditstore_kind_t kind, uint64_t key);
} egide_auditstore_ops_t;

#endif
