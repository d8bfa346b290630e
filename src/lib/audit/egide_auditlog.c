/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_auditlog.c - the audit log in SQLite: leaves, the tlog stored-hash
 * table, signed checkpoints and the msg_id index (see the header).
 *
 * Every statement is prepared once and reset after each use, so no read
 * lock outlives a call.  Appends run inside SAVEPOINT egide_audit so a
 * failure half-way leaves nothing behind, with or without an outer
 * transaction.  SQLite errors become one log line (never data) and an
 * egide_rc here, at the module boundary.
 */
#include "egide/audit/egide_auditlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egide/protocol/egide_checkpoint.h"
#include "egide/base/egide_limits.h"
#include "egide/base/egide_log.h"
#include "egide/audit/egide_merkle.h"
#include "egide/base/egide_util.h"
#include "egide/wire/egide_wire.h"

static const char *const s_schema =
    "CREATE TABLE IF NOT EXISTS audit_leaves(idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS audit_hashes(pos INTEGER PRIMARY KEY,"
    " hash BLOB NOT NULL CHECK(length(hash) = 32));"
    "CREATE TABLE IF NOT EXISTS audit_checkpoints(size INTEGER PRIMARY KEY, note TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS audit_msg_index(msg_id BLOB NOT NULL, idx INTEGER NOT NULL,"
    " PRIMARY KEY(msg_id, idx)) WITHOUT ROWID;"
/* INSERT OR REPLACE deletes the old row without firing DELETE triggers
 * (recursive_triggers is off by default), hence the _no_replace triggers. */
#define S_TRIGGERS(t, key_match)                                                                   \
    "CREATE TRIGGER IF NOT EXISTS " t "_no_update BEFORE UPDATE ON " t                             \
    " BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"                                 \
    "CREATE TRIGGER IF NOT EXISTS " t "_no_delete BEFORE DELETE ON " t                             \
    " BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"                                 \
    "CREATE TRIGGER IF NOT EXISTS " t "_no_replace BEFORE INSERT ON " t                            \
    " WHEN EXISTS (SELECT 1 FROM " t " WHERE " key_match ")"                                       \
    " BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
    S_TRIGGERS("audit_leaves", "idx = NEW.idx") S_TRIGGERS("audit_hashes", "pos = NEW.pos")
        S_TRIGGERS("audit_checkpoints", "size = NEW.size")
            S_TRIGGERS("audit_msg_index", "msg_id = NEW.msg_id AND idx = NEW.idx");

enum {
    ST_SIZE,
    ST_INS_LEAF,
    ST_INS_HASH,
    ST_GET_HASH,
    ST_GET_LEAF,
    ST_INS_MSG,
    ST_FIND_MSG,
    ST_INS_CP,
    ST_CP_AT,
    ST_CP_LATEST,
    ST_CP_NEXT,
    ST__COUNT
};

static const char *const s_sql[ST__COUNT] = {
    [ST_SIZE] = "SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_leaves",
    [ST_INS_LEAF] = "INSERT INTO audit_leaves(idx, leaf) VALUES(?1, ?2)",
    [ST_INS_HASH] = "INSERT INTO audit_hashes(pos, hash) VALUES(?1, ?2)",
    [ST_GET_HASH] = "SELECT hash FROM audit_hashes WHERE pos = ?1",
    [ST_GET_LEAF] = "SELECT leaf FROM audit_leaves WHERE idx = ?1",
    [ST_INS_MSG] = "INSERT INTO audit_msg_index(msg_id, idx) VALUES(?1, ?2)",
    [ST_FIND_MSG] = "SELECT idx FROM audit_msg_index WHERE msg_id = ?1 ORDER BY idx LIMIT ?2",
    [ST_INS_CP] = "INSERT INTO audit_checkpoints(size, note) VALUES(?1, ?2)",
    [ST_CP_AT] = "SELECT note FROM audit_checkpoints WHERE size = ?1",
    [ST_CP_LATEST] = "SELECT size, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1",
    [ST_CP_NEXT] =
        "SELECT size, note FROM audit_checkpoints WHERE size >= ?1 ORDER BY size LIMIT 1",
};

/* Invariant: st[] are all prepared on db; none is left un-reset between
 * calls. */
struct egide_auditlog {
    sqlite3 *db;                 /* borrowed connection */
    sqlite3_stmt *st[ST__COUNT]; /* prepared statements (owned) */
};

static egide_rc s_dberr(egide_auditlog_t *log, const char *what, int src)
{
    egide_log(EGIDE_LOG_ERROR, "audit log: %s: %s", what, sqlite3_errmsg(log->db));
    return (src & 0xff) == SQLITE_NOMEM ? EGIDE_ERR_NOMEM : EGIDE_ERR_DB;
}

uint64_t egide_auditlog_hash_pos(unsigned level, uint64_t index)
{
    for (unsigned l = level; l > 0; l--)
        index = 2 * index + 1;
    uint64_t i = 0;
    for (; index > 0; index >>= 1)
        i += index;
    return i + level;
}

static int s_table_exists(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1", -1,
                           &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        found = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    return found;
}

egide_rc egide_auditlog_open(sqlite3 *db, egide_auditlog_t **out)
{
    if (!db || !out)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    egide_auditlog_t *log = calloc(1, sizeof *log);
    if (!log)
        return EGIDE_ERR_NOMEM;
    log->db = db;
    egide_rc rc = EGIDE_OK;
    if (sqlite3_db_readonly(db, "main") == 1) {
        const char *t[] = {"audit_leaves", "audit_hashes", "audit_checkpoints", "audit_msg_index"};
        for (size_t i = 0; i < 4 && rc == EGIDE_OK; i++)
            if (!s_table_exists(db, t[i]))
                rc = EGIDE_ERR_NOTFOUND;
    } else {
        char *err = NULL;
        int src = sqlite3_exec(db, s_schema, NULL, NULL, &err);
        if (src != SQLITE_OK) {
            egide_log(EGIDE_LOG_ERROR, "audit log: creating tables: %s", err ? err : "?");
            rc = (src & 0xff) == SQLITE_NOMEM ? EGIDE_ERR_NOMEM : EGIDE_ERR_DB;
        }
        sqlite3_free(err);
    }
    for (int i = 0; i < ST__COUNT && rc == EGIDE_OK; i++) {
        int src =
            sqlite3_prepare_v3(db, s_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &log->st[i], NULL);
        if (src != SQLITE_OK)
            rc = s_dberr(log, "preparing statements", src);
    }
    if (rc != EGIDE_OK) {
        egide_auditlog_destroy(&log);
        return rc;
    }
    *out = log;
    return EGIDE_OK;
}

void egide_auditlog_destroy(egide_auditlog_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    for (int i = 0; i < ST__COUNT; i++)
        sqlite3_finalize((*self_p)->st[i]);
    free(*self_p);
    *self_p = NULL;
}

/* Step a statement expected to finish (INSERT); resets it. */
static egide_rc s_exec(egide_auditlog_t *log, sqlite3_stmt *st, const char *what)
{
    int src = sqlite3_step(st);
    egide_rc rc = src == SQLITE_DONE ? EGIDE_OK : s_dberr(log, what, src);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

static egide_rc s_savepoint(egide_auditlog_t *log, const char *sql)
{
    int src = sqlite3_exec(log->db, sql, NULL, NULL, NULL);
    return src == SQLITE_OK ? EGIDE_OK : s_dberr(log, sql, src);
}

static void s_rollback(egide_auditlog_t *log)
{
    sqlite3_exec(log->db, "ROLLBACK TO egide_audit; RELEASE egide_audit", NULL, NULL, NULL);
}

static egide_rc s_size(egide_auditlog_t *log, uint64_t *size)
{
    sqlite3_stmt *st = log->st[ST_SIZE];
    int src = sqlite3_step(st);
    egide_rc rc = EGIDE_OK;
    if (src == SQLITE_ROW)
        *size = (uint64_t)sqlite3_column_int64(st, 0);
    else
        rc = s_dberr(log, "reading the size", src);
    sqlite3_reset(st);
    return rc;
}

uint64_t egide_auditlog_size(egide_auditlog_t *log)
{
    uint64_t n = 0;
    if (!log || s_size(log, &n) != EGIDE_OK)
        return 0;
    return n;
}

static egide_rc s_get_hash(egide_auditlog_t *log, uint64_t pos, uint8_t out[32])
{
    sqlite3_stmt *st = log->st[ST_GET_HASH];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)pos);
    int src = sqlite3_step(st);
    egide_rc rc = EGIDE_OK;
    if (src == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32) {
        memcpy(out, sqlite3_column_blob(st, 0), 32);
    } else if (src == SQLITE_ROW || src == SQLITE_DONE) {
        egide_log(EGIDE_LOG_ERROR, "audit log: stored hash %llu missing or malformed",
                  (unsigned long long)pos);
        rc = EGIDE_ERR_DB;
    } else {
        rc = s_dberr(log, "reading a stored hash", src);
    }
    sqlite3_reset(st);
    return rc;
}

static egide_rc s_put_hash(egide_auditlog_t *log, uint64_t pos, const uint8_t h[32])
{
    sqlite3_stmt *st = log->st[ST_INS_HASH];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)pos);
    sqlite3_bind_blob(st, 2, h, 32, SQLITE_STATIC);
    return s_exec(log, st, "storing a hash");
}

/* Append inside the caller's SAVEPOINT. */
static egide_rc s_append_locked(egide_auditlog_t *log, const uint8_t *leaf, size_t len,
                                uint64_t *index)
{
    uint64_t n = 0;
    egide_rc rc = s_size(log, &n);
    if (rc != EGIDE_OK)
        return rc;
    if (n >= (UINT64_MAX >> 2))
        return EGIDE_ERR_LIMIT;
    sqlite3_stmt *st = log->st[ST_INS_LEAF];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)n);
    sqlite3_bind_blob(st, 2, leaf, (int)len, SQLITE_STATIC);
    if ((rc = s_exec(log, st, "storing a leaf")) != EGIDE_OK)
        return rc;
    uint8_t h[32];
    egide_merkle_leaf_hash(leaf, len, h);
    if ((rc = s_put_hash(log, egide_auditlog_hash_pos(0, n), h)) != EGIDE_OK)
        return rc;
    unsigned l = 0;
    uint64_t i = n;
    while (rc == EGIDE_OK && (i & 1)) {
        uint8_t left[32];
        rc = s_get_hash(log, egide_auditlog_hash_pos(l, i - 1), left);
        if (rc != EGIDE_OK)
            break;
        egide_merkle_node_hash(left, h, h);
        i >>= 1;
        l++;
        rc = s_put_hash(log, egide_auditlog_hash_pos(l, i), h);
    }
    if (rc == EGIDE_OK)
        *index = n;
    return rc;
}

static egide_rc s_append(egide_auditlog_t *log, const uint8_t *leaf, size_t len,
                         const uint8_t *msg_id, uint64_t *leaf_index)
{
    egide_rc rc = s_savepoint(log, "SAVEPOINT egide_audit");
    if (rc != EGIDE_OK)
        return rc;
    uint64_t idx = 0;
    rc = s_append_locked(log, leaf, len, &idx);
    if (rc == EGIDE_OK && msg_id) {
        sqlite3_stmt *st = log->st[ST_INS_MSG];
        sqlite3_bind_blob(st, 1, msg_id, 16, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)idx);
        rc = s_exec(log, st, "indexing a msg_id");
    }
    if (rc == EGIDE_OK)
        rc = s_savepoint(log, "RELEASE egide_audit");
    if (rc != EGIDE_OK) {
        s_rollback(log);
        return rc;
    }
    if (leaf_index)
        *leaf_index = idx;
    return EGIDE_OK;
}

egide_rc egide_auditlog_append(egide_auditlog_t *log, const uint8_t *leaf, size_t len,
                               uint64_t *leaf_index)
{
    if (!log || !leaf || len == 0)
        return EGIDE_ERR_INVALID;
    if (len > EGIDE_AUDITLOG_MAX_LEAF)
        return EGIDE_ERR_LIMIT;
    return s_append(log, leaf, len, NULL, leaf_index);
}

egide_rc egide_auditlog_append_event(egide_auditlog_t *log, const Egide__V1__AuditEvent *ev,
                                     uint64_t *leaf_index)
{
    if (!log || !ev)
        return EGIDE_ERR_INVALID;
    uint8_t *buf = NULL;
    size_t len = 0;
    egide_rc rc = egide_wire_pack(EGIDE_WIRE_AUDIT_EVENT, ev, &buf, &len);
    if (rc != EGIDE_OK)
        return rc;
    rc = s_append(log, buf, len, ev->msg_id.len == EGIDE_MSG_ID_LEN ? ev->msg_id.data : NULL,
                  leaf_index);
    free(buf);
    return rc;
}

/* Reader over the stored-hash table, bounded by the tree size asked for. */
typedef struct s_reader {
    egide_auditlog_t *log; /* the log */
    uint64_t size;         /* subtrees must lie within the first size leaves */
} s_reader_t;

static egide_rc s_read(void *ctx, unsigned level, uint64_t index, uint8_t out[32])
{
    s_reader_t *r = ctx;
    if (level >= 63 || index > (r->size >> level) || ((index + 1) << level) > r->size)
        return EGIDE_ERR_INVALID;
    return s_get_hash(r->log, egide_auditlog_hash_pos(level, index), out);
}

static egide_rc s_check_size(egide_auditlog_t *log, uint64_t size)
{
    uint64_t cur = 0;
    egide_rc rc = s_size(log, &cur);
    if (rc == EGIDE_OK && size > cur)
        rc = EGIDE_ERR_INVALID;
    return rc;
}

egide_rc egide_auditlog_root(egide_auditlog_t *log, uint64_t size, uint8_t root[32])
{
    if (!log || !root)
        return EGIDE_ERR_INVALID;
    egide_rc rc = s_check_size(log, size);
    if (rc != EGIDE_OK)
        return rc;
    s_reader_t r = {log, size};
    return egide_merkle_tree_hash(s_read, &r, size, root);
}

egide_rc egide_auditlog_inclusion(egide_auditlog_t *log, uint64_t index, uint64_t size,
                                  uint8_t (**proof)[32], size_t *n)
{
    if (!log || !proof || !n || index >= size)
        return EGIDE_ERR_INVALID;
    egide_rc rc = s_check_size(log, size);
    if (rc != EGIDE_OK)
        return rc;
    s_reader_t r = {log, size};
    return egide_merkle_inclusion_proof(s_read, &r, index, size, proof, n);
}

egide_rc egide_auditlog_consistency(egide_auditlog_t *log, uint64_t m, uint64_t n,
                                    uint8_t (**proof)[32], size_t *count)
{
    if (!log || !proof || !count || m == 0 || m > n)
        return EGIDE_ERR_INVALID;
    egide_rc rc = s_check_size(log, n);
    if (rc != EGIDE_OK)
        return rc;
    s_reader_t r = {log, n};
    return egide_merkle_consistency_proof(s_read, &r, m, n, proof, count);
}

egide_rc egide_auditlog_leaf(egide_auditlog_t *log, uint64_t index, uint8_t **leaf, size_t *len)
{
    if (!log || !leaf || !len || index > INT64_MAX)
        return EGIDE_ERR_INVALID;
    *leaf = NULL;
    *len = 0;
    sqlite3_stmt *st = log->st[ST_GET_LEAF];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)index);
    int src = sqlite3_step(st);
    egide_rc rc = EGIDE_OK;
    if (src == SQLITE_ROW) {
        int l = sqlite3_column_bytes(st, 0);
        const void *p = sqlite3_column_blob(st, 0);
        uint8_t *out = malloc(l > 0 ? (size_t)l : 1);
        if (!out) {
            rc = EGIDE_ERR_NOMEM;
        } else {
            if (l > 0)
                memcpy(out, p, (size_t)l);
            *leaf = out;
            *len = (size_t)l;
        }
    } else if (src == SQLITE_DONE) {
        rc = EGIDE_ERR_NOTFOUND;
    } else {
        rc = s_dberr(log, "reading a leaf", src);
    }
    sqlite3_reset(st);
    return rc;
}

egide_rc egide_auditlog_leaf_hash(egide_auditlog_t *log, uint64_t index, uint8_t out[32])
{
    if (!log || !out)
        return EGIDE_ERR_INVALID;
    egide_rc rc = s_check_size(log, index + 1);
    if (rc == EGIDE_ERR_INVALID)
        return EGIDE_ERR_NOTFOUND;
    return rc == EGIDE_OK ? s_get_hash(log, egide_auditlog_hash_pos(0, index), out) : rc;
}

egide_rc egide_auditlog_find_msg(egide_auditlog_t *log, const uint8_t msg_id[16],
                                 uint64_t **indexes, size_t *n)
{
    if (!log || !msg_id || !indexes || !n)
        return EGIDE_ERR_INVALID;
    *indexes = NULL;
    *n = 0;
    uint64_t *out = malloc(EGIDE_AUDITLOG_MAX_MSG_EVENTS * sizeof *out);
    if (!out)
        return EGIDE_ERR_NOMEM;
    sqlite3_stmt *st = log->st[ST_FIND_MSG];
    sqlite3_bind_blob(st, 1, msg_id, 16, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, EGIDE_AUDITLOG_MAX_MSG_EVENTS);
    size_t k = 0;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW && k < EGIDE_AUDITLOG_MAX_MSG_EVENTS)
        out[k++] = (uint64_t)sqlite3_column_int64(st, 0);
    egide_rc rc = (src == SQLITE_DONE || src == SQLITE_ROW) ? EGIDE_OK
                                                            : s_dberr(log, "finding a msg_id", src);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != EGIDE_OK || k == 0) {
        free(out);
        return rc;
    }
    *indexes = out;
    *n = k;
    return EGIDE_OK;
}

/* Copy column col of st as a new string. */
static egide_rc s_col_text(sqlite3_stmt *st, int col, char **out)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    int l = sqlite3_column_bytes(st, col);
    if (!t || l < 0 || (size_t)l > EGIDE_CHECKPOINT_MAX_NOTE)
        return EGIDE_ERR_DB;
    char *s = malloc((size_t)l + 1);
    if (!s)
        return EGIDE_ERR_NOMEM;
    memcpy(s, t, (size_t)l);
    s[l] = '\0';
    *out = s;
    return EGIDE_OK;
}

static egide_rc s_cp_query(egide_auditlog_t *log, int which, int64_t arg, uint64_t *size,
                           char **note_out)
{
    sqlite3_stmt *st = log->st[which];
    if (which != ST_CP_LATEST)
        sqlite3_bind_int64(st, 1, arg);
    int src = sqlite3_step(st);
    egide_rc rc = EGIDE_OK;
    if (src == SQLITE_ROW) {
        int col = 0;
        if (which != ST_CP_AT) {
            if (size)
                *size = (uint64_t)sqlite3_column_int64(st, 0);
            col = 1;
        }
        rc = note_out ? s_col_text(st, col, note_out) : EGIDE_OK;
    } else if (src == SQLITE_DONE) {
        rc = EGIDE_ERR_NOTFOUND;
    } else {
        rc = s_dberr(log, "reading checkpoints", src);
    }
    sqlite3_reset(st);
    return rc;
}

egide_rc egide_auditlog_checkpoint(egide_auditlog_t *log, const char *origin, const char *key_name,
                                   EVP_PKEY *key, char **note_out)
{
    if (!log || !origin || !key_name || !key)
        return EGIDE_ERR_INVALID;
    if (note_out)
        *note_out = NULL;
    egide_checkpoint_t cp;
    memset(&cp, 0, sizeof cp);
    uint8_t id[4];
    /* Validate origin, key name and key before anything is looked up. */
    if (egide_strlcpy(cp.origin, origin, sizeof cp.origin) != EGIDE_OK ||
        egide_checkpoint_key_id(origin, key, id) != EGIDE_OK ||
        egide_checkpoint_key_id(key_name, key, id) != EGIDE_OK)
        return EGIDE_ERR_INVALID;
    egide_rc rc = s_savepoint(log, "SAVEPOINT egide_audit");
    if (rc != EGIDE_OK)
        return rc;
    char *note = NULL;
    rc = s_size(log, &cp.size);
    if (rc == EGIDE_OK)
        rc = s_cp_query(log, ST_CP_AT, (int64_t)cp.size, NULL, &note);
    if (rc == EGIDE_ERR_NOTFOUND) {
        rc = egide_auditlog_root(log, cp.size, cp.root);
        if (rc == EGIDE_OK)
            rc = egide_checkpoint_sign(&cp, key_name, key, &note);
        if (rc == EGIDE_OK) {
            sqlite3_stmt *st = log->st[ST_INS_CP];
            sqlite3_bind_int64(st, 1, (sqlite3_int64)cp.size);
            sqlite3_bind_text(st, 2, note, -1, SQLITE_STATIC);
            rc = s_exec(log, st, "storing a checkpoint");
        }
    }
    if (rc == EGIDE_OK)
        rc = s_savepoint(log, "RELEASE egide_audit");
    if (rc != EGIDE_OK) {
        s_rollback(log);
        free(note);
        return rc;
    }
    if (note_out)
        *note_out = note;
    else
        free(note);
    return EGIDE_OK;
}

egide_rc egide_auditlog_latest_checkpoint(egide_auditlog_t *log, char **note_out)
{
    if (!log || !note_out)
        return EGIDE_ERR_INVALID;
    *note_out = NULL;
    return s_cp_query(log, ST_CP_LATEST, 0, NULL, note_out);
}

egide_rc egide_auditlog_checkpoint_next(egide_auditlog_t *log, uint64_t min_size, uint64_t *size,
                                        char **note_out)
{
    if (!log || !note_out || min_size > INT64_MAX)
        return EGIDE_ERR_INVALID;
    *note_out = NULL;
    return s_cp_query(log, ST_CP_NEXT, (int64_t)min_size, size, note_out);
}

/* ---------------------------------------------------------------- verify */

/* State of egide_auditlog_verify_all's hooks. */
typedef struct s_vctx {
    egide_auditlog_t *log; /* the log */
    sqlite3_stmt *hashes;  /* SELECT pos, hash ... ORDER BY pos, stepped along */
    sqlite3_stmt *msg;     /* SELECT 1 FROM audit_msg_index WHERE ... */
    uint64_t next_pos;     /* position the next formed hash must have */
    uint64_t msg_events;   /* events with a msg_id seen */
    egide_rc err;          /* a database error during the walk */
} s_vctx_t;

static egide_rc s_on_hash(void *ctx, unsigned level, uint64_t index, const uint8_t hash[32],
                          char *why)
{
    s_vctx_t *v = ctx;
    uint64_t want = egide_auditlog_hash_pos(level, index);
    int src = sqlite3_step(v->hashes);
    if (src != SQLITE_ROW) {
        if (src != SQLITE_DONE)
            v->err = s_dberr(v->log, "reading stored hashes", src);
        (void)snprintf(why, 160, "stored hash %llu (level %u, index %llu) is missing",
                       (unsigned long long)want, level, (unsigned long long)index);
        return EGIDE_ERR_CONSISTENCY;
    }
    uint64_t pos = (uint64_t)sqlite3_column_int64(v->hashes, 0);
    if (pos != want || sqlite3_column_bytes(v->hashes, 1) != 32 ||
        memcmp(sqlite3_column_blob(v->hashes, 1), hash, 32) != 0) {
        if (level == 0)
            (void)snprintf(why, 160, "entry %llu does not match its stored leaf hash",
                           (unsigned long long)index);
        else
            (void)snprintf(why, 160,
                           "stored hash at level %u, index %llu differs from the recomputed tree",
                           level, (unsigned long long)index);
        return EGIDE_ERR_CONSISTENCY;
    }
    return EGIDE_OK;
}

static egide_rc s_on_event(void *ctx, uint64_t index, const Egide__V1__AuditEvent *ev, char *why)
{
    s_vctx_t *v = ctx;
    if (ev->msg_id.len != EGIDE_MSG_ID_LEN)
        return EGIDE_OK;
    v->msg_events++;
    sqlite3_bind_blob(v->msg, 1, ev->msg_id.data, 16, SQLITE_STATIC);
    sqlite3_bind_int64(v->msg, 2, (sqlite3_int64)index);
    int src = sqlite3_step(v->msg);
    sqlite3_reset(v->msg);
    if (src == SQLITE_ROW)
        return EGIDE_OK;
    if (src != SQLITE_DONE)
        v->err = s_dberr(v->log, "reading the msg_id index", src);
    (void)snprintf(why, 160, "entry %llu is missing from the msg_id index",
                   (unsigned long long)index);
    return EGIDE_ERR_CONSISTENCY;
}

egide_rc egide_auditlog_verify_all(egide_auditlog_t *log, const char *key_name, EVP_PKEY *pub,
                                   bool events, egide_auditverify_report_t *rep)
{
    if (!log)
        return EGIDE_ERR_INVALID;
    egide_auditverify_t *v = egide_auditverify_new(key_name, pub, NULL, events);
    if (!v)
        return EGIDE_ERR_NOMEM;
    s_vctx_t vc = {.log = log, .err = EGIDE_OK};
    sqlite3_stmt *leaves = NULL, *cps = NULL, *count = NULL;
    egide_rc rc = EGIDE_OK;
    int src = SQLITE_OK;
    const char *q[] = {"SELECT pos, hash FROM audit_hashes ORDER BY pos",
                       "SELECT 1 FROM audit_msg_index WHERE msg_id = ?1 AND idx = ?2",
                       "SELECT idx, leaf FROM audit_leaves ORDER BY idx",
                       "SELECT note FROM audit_checkpoints ORDER BY size",
                       "SELECT COUNT(*) FROM audit_msg_index"};
    sqlite3_stmt **stp[] = {&vc.hashes, &vc.msg, &leaves, &cps, &count};
    for (size_t i = 0; i < 5 && rc == EGIDE_OK; i++)
        if ((src = sqlite3_prepare_v2(log->db, q[i], -1, stp[i], NULL)) != SQLITE_OK)
            rc = s_dberr(log, "preparing the verification", src);
    egide_auditverify_set_hooks(v, s_on_hash, events ? s_on_event : NULL, &vc);
    /* Checkpoints first (their signatures), then the leaves in order. */
    while (rc == EGIDE_OK && (src = sqlite3_step(cps)) == SQLITE_ROW) {
        const char *note = (const char *)sqlite3_column_text(cps, 0);
        int nl = sqlite3_column_bytes(cps, 0);
        rc = egide_auditverify_add_checkpoint(v, note ? note : "", note ? (size_t)nl : 0);
        if (rc == EGIDE_ERR_CONSISTENCY)
            break;
    }
    if (rc == EGIDE_OK && src != SQLITE_DONE)
        rc = s_dberr(log, "reading checkpoints", src);
    if (rc == EGIDE_OK) {
        while ((src = sqlite3_step(leaves)) == SQLITE_ROW) {
            sqlite3_int64 idx = sqlite3_column_int64(leaves, 0);
            const void *leaf = sqlite3_column_blob(leaves, 1);
            int len = sqlite3_column_bytes(leaves, 1);
            if (idx < 0) {
                egide_auditverify_fail(v, 0, "an entry has a negative index");
                break;
            }
            rc = egide_auditverify_add_leaf(v, (uint64_t)idx, leaf, leaf ? (size_t)len : 0, NULL);
            if (rc != EGIDE_OK || vc.err != EGIDE_OK)
                break;
        }
        if (rc == EGIDE_ERR_CONSISTENCY)
            rc = EGIDE_OK; /* recorded in v */
        else if (rc == EGIDE_OK && src != SQLITE_DONE && src != SQLITE_ROW)
            rc = s_dberr(log, "reading leaves", src);
    } else if (rc == EGIDE_ERR_CONSISTENCY) {
        rc = EGIDE_OK;
    }
    if (rc == EGIDE_OK && vc.err != EGIDE_OK)
        rc = vc.err;
    egide_auditverify_report_t r;
    if (rc == EGIDE_OK) {
        egide_auditverify_finish(v, &r);
        /* Stored hashes beyond those the leaves account for: the tail of
         * the leaves was removed. */
        if (r.ok && sqlite3_step(vc.hashes) == SQLITE_ROW) {
            egide_auditverify_fail(v, r.size,
                                   "stored hashes go beyond the last entry: entries were "
                                   "removed from the end");
        }
        if (r.ok && events && sqlite3_step(count) == SQLITE_ROW &&
            (uint64_t)sqlite3_column_int64(count, 0) != vc.msg_events) {
            egide_auditverify_fail(v, EGIDE_AUDITVERIFY_NO_INDEX,
                                   "the msg_id index has entries for events that do not exist");
        }
        egide_auditverify_finish(v, &r);
        if (rep)
            *rep = r;
        if (!r.ok)
            rc = EGIDE_ERR_CONSISTENCY;
    }
    for (size_t i = 0; i < 5; i++)
        sqlite3_finalize(*stp[i]);
    egide_auditverify_destroy(&v);
    return rc;
}
