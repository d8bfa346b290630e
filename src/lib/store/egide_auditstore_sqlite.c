/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_auditstore_sqlite.c - the audit log's rows in SQLite: the schema and
 * its migrations, the append-only triggers, and every statement the log
 * runs, behind egide_auditstore_ops_t (see egide_auditstore.h and
 * egide_auditstore_sqlite.h).
 *
 * Every statement is prepared once from one table and reset after each use,
 * so no read lock outlives a call.  The log's unit of work is SAVEPOINT
 * egide_audit; an append runs in its own SAVEPOINT egide_audit_append inside
 * it, so it is atomic even when called alone.  Savepoints are prepared
 * statements too (an append would otherwise parse four SQL strings).
 * SQLite errors become one log line (sqlite3_errmsg, never data) and an
 * egide_rc here, at the store boundary; every sqlite3_step() result is
 * checked.
 */
#include "egide/store/egide_auditstore_sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egide/base/egide_log.h"
#include "egide/store/egide_db.h"

/* ------------------------------------------------------------ schema */

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

/* s_migrations[i] takes the audit tables from version i to i + 1.  Version
 * 1 is written with IF NOT EXISTS so that it applies over the tables that
 * egide_auditlog_open() created before the versions were recorded. */
static const char *const s_migrations[] = {
    /* 1: leaves, stored hashes, checkpoints, the msg_id index; append-only */
    "CREATE TABLE IF NOT EXISTS audit_leaves(idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS audit_hashes(pos INTEGER PRIMARY KEY,"
    " hash BLOB NOT NULL CHECK(length(hash) = 32));"
    "CREATE TABLE IF NOT EXISTS audit_checkpoints(size INTEGER PRIMARY KEY, note TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS audit_msg_index(msg_id BLOB NOT NULL, idx INTEGER NOT NULL,"
    " PRIMARY KEY(msg_id, idx)) WITHOUT ROWID;" S_TRIGGERS("audit_leaves", "idx = NEW.idx")
        S_TRIGGERS("audit_hashes", "pos = NEW.pos")
            S_TRIGGERS("audit_checkpoints", "size = NEW.size")
                S_TRIGGERS("audit_msg_index", "msg_id = NEW.msg_id AND idx = NEW.idx")
                    S_TRIGGERS("audit_migrations", "version = NEW.version"),
};
#define S_NMIGRATIONS (sizeof s_migrations / sizeof s_migrations[0])

/* The log's tables by kind: name, key column, a value column. */
static const struct {
    const char *table, *key, *value;
} s_kinds[EGIDE_AUDITSTORE_KIND__COUNT] = {
    [EGIDE_AUDITSTORE_LEAVES] = {"audit_leaves", "idx", "leaf"},
    [EGIDE_AUDITSTORE_HASHES] = {"audit_hashes", "pos", "hash"},
    [EGIDE_AUDITSTORE_CHECKPOINTS] = {"audit_checkpoints", "size", "note"},
    [EGIDE_AUDITSTORE_MSG_INDEX] = {"audit_msg_index", "idx", "msg_id"},
};

/* ------------------------------------------------------------ statements */

enum {
    ST_SIZE,
    ST_INS_LEAF,
    ST_INS_HASH,
    ST_GET_HASH,
    ST_HASH_RUN,
    ST_GET_LEAF,
    ST_SCAN_LEAVES,
    ST_INS_MSG,
    ST_FIND_MSG,
    ST_HAS_MSG,
    ST_COUNTS,
    ST_INS_CP,
    ST_CP_AT,
    ST_CP_LATEST,
    ST_CP_NEXT,
    ST_SP_BEGIN,
    ST_SP_RELEASE,
    ST_SP_ROLLBACK,
    ST_AP_BEGIN,
    ST_AP_RELEASE,
    ST_AP_ROLLBACK,
    ST__COUNT
};

static const char *const s_sql[ST__COUNT] = {
    [ST_SIZE] = "SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_leaves",
    [ST_INS_LEAF] = "INSERT INTO audit_leaves(idx, leaf) VALUES(?1, ?2)",
    [ST_INS_HASH] = "INSERT INTO audit_hashes(pos, hash) VALUES(?1, ?2)",
    [ST_GET_HASH] = "SELECT hash FROM audit_hashes WHERE pos = ?1",
    [ST_HASH_RUN] = "SELECT pos, hash FROM audit_hashes WHERE pos >= ?1 ORDER BY pos LIMIT ?2",
    [ST_GET_LEAF] = "SELECT leaf FROM audit_leaves WHERE idx = ?1",
    [ST_SCAN_LEAVES] = "SELECT idx, leaf FROM audit_leaves WHERE idx >= 0 ORDER BY idx",
    [ST_INS_MSG] = "INSERT INTO audit_msg_index(msg_id, idx) VALUES(?1, ?2)",
    [ST_FIND_MSG] = "SELECT idx FROM audit_msg_index WHERE msg_id = ?1 ORDER BY idx LIMIT ?2",
    [ST_HAS_MSG] = "SELECT 1 FROM audit_msg_index WHERE msg_id = ?1 AND idx = ?2",
    /* One statement over several literals, not a missing comma. */
    /* NOLINTNEXTLINE(bugprone-suspicious-missing-comma) */
    [ST_COUNTS] = "SELECT (SELECT COUNT(*) FROM audit_leaves), (SELECT COUNT(*) FROM audit_hashes),"
                  " (SELECT COUNT(*) FROM audit_msg_index),"
                  " (SELECT COUNT(*) FROM audit_checkpoints)",
    [ST_INS_CP] = "INSERT INTO audit_checkpoints(size, note) VALUES(?1, ?2)",
    [ST_CP_AT] = "SELECT size, note FROM audit_checkpoints WHERE size = ?1",
    [ST_CP_LATEST] = "SELECT size, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1",
    [ST_CP_NEXT] =
        "SELECT size, note FROM audit_checkpoints WHERE size >= ?1 ORDER BY size LIMIT 1",
    [ST_SP_BEGIN] = "SAVEPOINT egide_audit",
    [ST_SP_RELEASE] = "RELEASE egide_audit",
    [ST_SP_ROLLBACK] = "ROLLBACK TO egide_audit",
    [ST_AP_BEGIN] = "SAVEPOINT egide_audit_append",
    [ST_AP_RELEASE] = "RELEASE egide_audit_append",
    [ST_AP_ROLLBACK] = "ROLLBACK TO egide_audit_append",
};

/* Invariants: st[] are all prepared on db and none is left un-reset between
 * calls (ST_SCAN_LEAVES only while scan_leaves runs); fault counts down the
 * writes to an injected failure (0 = none armed). */
struct egide_auditstore_sqlite {
    sqlite3 *db; /* borrowed connection */
    /* The connection's cached statements (egide_db_stmt): a log opened
     * again on the same connection (the edge's trail, once per API batch)
     * prepares none of them again.  Two logs open on one connection share them, so
     * they are used one after the other, never one inside another's step. */
    sqlite3_stmt *st[ST__COUNT];
    unsigned fault; /* writes until an injected EGIDE_ERR_IO, 0 = off */
};

typedef struct egide_auditstore_sqlite s_self_t;

static egide_rc s_err(sqlite3 *db, const char *what, int src)
{
    egide_log(EGIDE_LOG_ERROR, "audit store: %s: %s", what, sqlite3_errmsg(db));
    egide_rc rc = egide_db_rc(src);
    return rc == EGIDE_OK ? EGIDE_ERR_DB : rc;
}

static void s_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Step statement `which`, expected to finish without a row; resets it. */
static egide_rc s_run(s_self_t *self, int which, const char *what)
{
    sqlite3_stmt *st = self->st[which];
    int src = sqlite3_step(st);
    egide_rc rc = src == SQLITE_DONE ? EGIDE_OK : s_err(self->db, what, src);
    s_done(st);
    return rc;
}

/* Step statement `which` for one row: EGIDE_OK with the row ready to read
 * (the caller then calls s_done), else EGIDE_ERR_NOTFOUND when there is no
 * row or the error, the statement reset. */
static egide_rc s_row(s_self_t *self, int which, const char *what)
{
    sqlite3_stmt *st = self->st[which];
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        return EGIDE_OK;
    egide_rc rc = src == SQLITE_DONE ? EGIDE_ERR_NOTFOUND : s_err(self->db, what, src);
    s_done(st);
    return rc;
}

/* A write: as s_run, unless an injected fault is due. */
static egide_rc s_write(s_self_t *self, int which, const char *what)
{
    if (self->fault > 0 && --self->fault == 0) {
        s_done(self->st[which]);
        egide_log(EGIDE_LOG_WARNING, "audit store: %s: injected I/O error", what);
        return EGIDE_ERR_IO;
    }
    return s_run(self, which, what);
}

/* Undo and close savepoint `rollback` (ST_SP_ROLLBACK / ST_AP_ROLLBACK; its
 * RELEASE follows it in the enum). */
static void s_rollback_to(s_self_t *self, int rollback)
{
    if (s_run(self, rollback, "rolling back") == EGIDE_OK)
        (void)s_run(self, rollback - 1, "releasing after a rollback");
}

/* ------------------------------------------------------------ lifecycle */

static egide_rc s_version(sqlite3 *db, int64_t *version)
{
    sqlite3_stmt *st = NULL;
    egide_rc rc = egide_db_stmt(db, "SELECT COALESCE(MAX(version), 0) FROM audit_migrations", &st);
    if (rc != EGIDE_OK)
        return rc;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        *version = sqlite3_column_int64(st, 0);
    else
        rc = s_err(db, "reading the audit schema version", src);
    egide_db_done(st);
    return rc;
}

egide_rc egide_auditstore_sqlite_migrate(sqlite3 *db)
{
    if (!db)
        return EGIDE_ERR_INVALID;
    egide_rc rc = egide_db_exec(db, "CREATE TABLE IF NOT EXISTS audit_migrations("
                                    "version INTEGER PRIMARY KEY)");
    int64_t v = 0;
    if (rc == EGIDE_OK)
        rc = s_version(db, &v);
    if (rc == EGIDE_OK && (v < 0 || (uint64_t)v > S_NMIGRATIONS)) {
        egide_log(EGIDE_LOG_ERROR,
                  "audit store: schema version %lld is newer than this program's %zu", (long long)v,
                  S_NMIGRATIONS);
        rc = EGIDE_ERR_VERSION;
    }
    for (size_t i = (size_t)v; rc == EGIDE_OK && i < S_NMIGRATIONS; i++) {
        char mark[96];
        (void)snprintf(mark, sizeof mark, "INSERT INTO audit_migrations(version) VALUES(%zu)",
                       i + 1);
        rc = egide_db_exec(db, "SAVEPOINT egide_audit_migrate");
        if (rc != EGIDE_OK)
            break;
        rc = egide_db_exec(db, s_migrations[i]);
        if (rc == EGIDE_OK)
            rc = egide_db_exec(db, mark);
        if (rc == EGIDE_OK)
            rc = egide_db_exec(db, "RELEASE egide_audit_migrate");
        if (rc != EGIDE_OK && egide_db_exec(db, "ROLLBACK TO egide_audit_migrate") == EGIDE_OK)
            (void)egide_db_exec(db, "RELEASE egide_audit_migrate");
    }
    return rc;
}

/* On a read-only connection: the four log tables must exist. */
static egide_rc s_check_tables(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    egide_rc rc = egide_db_prepare(
        db,
        "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name IN"
        " ('audit_leaves', 'audit_hashes', 'audit_checkpoints', 'audit_msg_index')",
        &st);
    if (rc != EGIDE_OK)
        return rc;
    int src = sqlite3_step(st);
    if (src != SQLITE_ROW)
        rc = s_err(db, "looking for the audit tables", src);
    else if (sqlite3_column_int64(st, 0) != 4)
        rc = EGIDE_ERR_NOTFOUND;
    sqlite3_finalize(st);
    return rc;
}

egide_rc egide_auditstore_sqlite_new(sqlite3 *db, egide_auditstore_sqlite_t **out)
{
    if (!db || !out)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    s_self_t *self = calloc(1, sizeof *self);
    if (!self)
        return EGIDE_ERR_NOMEM;
    self->db = db;
    egide_rc rc = sqlite3_db_readonly(db, "main") == 1 ? s_check_tables(db)
                                                       : egide_auditstore_sqlite_migrate(db);
    for (int i = 0; i < ST__COUNT && rc == EGIDE_OK; i++)
        rc = egide_db_stmt(db, s_sql[i], &self->st[i]);
    if (rc != EGIDE_OK) {
        egide_auditstore_sqlite_destroy(&self);
        return rc;
    }
    *out = self;
    return EGIDE_OK;
}

void egide_auditstore_sqlite_destroy(egide_auditstore_sqlite_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    for (int i = 0; i < ST__COUNT; i++)
        egide_db_done((*self_p)->st[i]); /* finalized with the connection */
    free(*self_p);
    *self_p = NULL;
}

/* ------------------------------------------------------------ operations */

static void s_op_destroy(void *be)
{
    s_self_t *self = be;
    egide_auditstore_sqlite_destroy(&self);
}

static egide_rc s_op_begin(void *be)
{
    return s_run(be, ST_SP_BEGIN, "opening a savepoint");
}

static egide_rc s_op_release(void *be)
{
    return s_run(be, ST_SP_RELEASE, "releasing a savepoint");
}

static void s_op_rollback(void *be)
{
    s_rollback_to(be, ST_SP_ROLLBACK);
}

static egide_rc s_op_size(void *be, uint64_t *size)
{
    s_self_t *self = be;
    if (!size)
        return EGIDE_ERR_INVALID;
    egide_rc rc = s_row(self, ST_SIZE, "reading the size");
    if (rc == EGIDE_OK) {
        sqlite3_int64 n = sqlite3_column_int64(self->st[ST_SIZE], 0);
        *size = n > 0 ? (uint64_t)n : 0; /* only negative indexes: none counts */
        s_done(self->st[ST_SIZE]);
    }
    return rc == EGIDE_ERR_NOTFOUND ? EGIDE_ERR_DB : rc; /* an aggregate has a row */
}

static egide_rc s_op_append(void *be, uint64_t index, const uint8_t *leaf, size_t len,
                            const uint8_t *msg_id, uint64_t first_pos,
                            const uint8_t (*hashes)[EGIDE_AUDITSTORE_HASH_LEN], size_t nhashes)
{
    s_self_t *self = be;
    if (!leaf || len == 0 || len > EGIDE_AUDITSTORE_MAX_LEAF ||
        index > EGIDE_AUDITSTORE_MAX_INDEX || !hashes || nhashes == 0 ||
        nhashes > EGIDE_AUDITSTORE_MAX_HASHES || first_pos > EGIDE_AUDITSTORE_MAX_INDEX - nhashes)
        return EGIDE_ERR_INVALID;
    egide_rc rc = s_run(self, ST_AP_BEGIN, "opening the append savepoint");
    if (rc != EGIDE_OK)
        return rc;
    sqlite3_bind_int64(self->st[ST_INS_LEAF], 1, (sqlite3_int64)index);
    sqlite3_bind_blob(self->st[ST_INS_LEAF], 2, leaf, (int)len, SQLITE_STATIC);
    rc = s_write(self, ST_INS_LEAF, "storing a leaf");
    for (size_t k = 0; k < nhashes && rc == EGIDE_OK; k++) {
        sqlite3_bind_int64(self->st[ST_INS_HASH], 1, (sqlite3_int64)first_pos + (sqlite3_int64)k);
        sqlite3_bind_blob(self->st[ST_INS_HASH], 2, hashes[k], EGIDE_AUDITSTORE_HASH_LEN,
                          SQLITE_STATIC);
        rc = s_write(self, ST_INS_HASH, "storing a hash");
    }
    if (rc == EGIDE_OK && msg_id) {
        sqlite3_bind_blob(self->st[ST_INS_MSG], 1, msg_id, EGIDE_AUDITSTORE_MSG_ID_LEN,
                          SQLITE_STATIC);
        sqlite3_bind_int64(self->st[ST_INS_MSG], 2, (sqlite3_int64)index);
        rc = s_write(self, ST_INS_MSG, "indexing a msg_id");
    }
    if (rc == EGIDE_OK)
        rc = s_run(self, ST_AP_RELEASE, "releasing the append savepoint");
    if (rc != EGIDE_OK)
        s_rollback_to(self, ST_AP_ROLLBACK);
    return rc;
}

static egide_rc s_op_hash(void *be, uint64_t pos, uint8_t out[EGIDE_AUDITSTORE_HASH_LEN])
{
    s_self_t *self = be;
    if (!out || pos > EGIDE_AUDITSTORE_MAX_INDEX)
        return EGIDE_ERR_INVALID;
    sqlite3_stmt *st = self->st[ST_GET_HASH];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)pos);
    egide_rc rc = s_row(self, ST_GET_HASH, "reading a stored hash");
    if (rc == EGIDE_OK) {
        const void *h = sqlite3_column_blob(st, 0);
        if (h && sqlite3_column_bytes(st, 0) == EGIDE_AUDITSTORE_HASH_LEN)
            memcpy(out, h, EGIDE_AUDITSTORE_HASH_LEN);
        else
            rc = EGIDE_ERR_CONSISTENCY;
        s_done(st);
    }
    return rc;
}

static egide_rc s_op_hash_run(void *be, uint64_t first_pos, size_t max,
                              uint8_t (*out)[EGIDE_AUDITSTORE_HASH_LEN], size_t *n)
{
    s_self_t *self = be;
    if (!n || (max > 0 && !out) || first_pos > EGIDE_AUDITSTORE_MAX_INDEX)
        return EGIDE_ERR_INVALID;
    *n = 0;
    if (max == 0)
        return EGIDE_OK;
    sqlite3_stmt *st = self->st[ST_HASH_RUN];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)first_pos);
    sqlite3_bind_int64(st, 2, max > INT32_MAX ? INT32_MAX : (sqlite3_int64)max);
    size_t k = 0;
    int src = SQLITE_DONE;
    while (k < max && (src = sqlite3_step(st)) == SQLITE_ROW) {
        const void *h = sqlite3_column_blob(st, 1);
        if ((uint64_t)sqlite3_column_int64(st, 0) != first_pos + k || !h ||
            sqlite3_column_bytes(st, 1) != EGIDE_AUDITSTORE_HASH_LEN) {
            src = SQLITE_DONE; /* the run ends at a gap or a malformed hash */
            break;
        }
        memcpy(out[k++], h, EGIDE_AUDITSTORE_HASH_LEN);
    }
    egide_rc rc = EGIDE_OK;
    if (k < max && src != SQLITE_DONE)
        rc = s_err(self->db, "reading stored hashes", src);
    s_done(st);
    *n = rc == EGIDE_OK ? k : 0;
    return rc;
}

/* A malloc'ed copy of column col of st (never NULL on success). */
static egide_rc s_col_copy(sqlite3_stmt *st, int col, uint8_t **out, size_t *len)
{
    int l = sqlite3_column_bytes(st, col);
    const void *p = sqlite3_column_blob(st, col);
    uint8_t *b = malloc(l > 0 ? (size_t)l : 1);
    if (!b)
        return EGIDE_ERR_NOMEM;
    if (l > 0 && p)
        memcpy(b, p, (size_t)l);
    *out = b;
    *len = l > 0 && p ? (size_t)l : 0;
    return EGIDE_OK;
}

static egide_rc s_op_leaf(void *be, uint64_t index, uint8_t **leaf, size_t *len)
{
    s_self_t *self = be;
    if (!leaf || !len || index > EGIDE_AUDITSTORE_MAX_INDEX)
        return EGIDE_ERR_INVALID;
    *leaf = NULL;
    *len = 0;
    sqlite3_stmt *st = self->st[ST_GET_LEAF];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)index);
    egide_rc rc = s_row(self, ST_GET_LEAF, "reading a leaf");
    if (rc == EGIDE_OK) {
        rc = s_col_copy(st, 0, leaf, len);
        s_done(st);
    }
    return rc;
}

static egide_rc s_op_scan_leaves(void *be, egide_auditstore_leaf_fn fn, void *ctx)
{
    s_self_t *self = be;
    if (!fn)
        return EGIDE_ERR_INVALID;
    sqlite3_stmt *st = self->st[ST_SCAN_LEAVES];
    egide_rc rc = EGIDE_OK;
    int src = SQLITE_DONE;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        const uint8_t *leaf = sqlite3_column_blob(st, 1);
        int len = sqlite3_column_bytes(st, 1);
        rc =
            fn(ctx, (uint64_t)sqlite3_column_int64(st, 0), leaf, leaf && len > 0 ? (size_t)len : 0);
        if (rc != EGIDE_OK)
            break;
    }
    if (rc == EGIDE_OK && src != SQLITE_DONE)
        rc = s_err(self->db, "reading leaves", src);
    s_done(st);
    return rc;
}

static egide_rc s_op_find_msg(void *be, const uint8_t msg_id[EGIDE_AUDITSTORE_MSG_ID_LEN],
                              uint64_t *out, size_t max, size_t *n)
{
    s_self_t *self = be;
    if (!msg_id || !n || (max > 0 && !out))
        return EGIDE_ERR_INVALID;
    *n = 0;
    if (max == 0)
        return EGIDE_OK;
    sqlite3_stmt *st = self->st[ST_FIND_MSG];
    sqlite3_bind_blob(st, 1, msg_id, EGIDE_AUDITSTORE_MSG_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, max > INT32_MAX ? INT32_MAX : (sqlite3_int64)max);
    size_t k = 0;
    int src = SQLITE_DONE;
    while (k < max && (src = sqlite3_step(st)) == SQLITE_ROW)
        out[k++] = (uint64_t)sqlite3_column_int64(st, 0);
    egide_rc rc = EGIDE_OK;
    if (k < max && src != SQLITE_DONE)
        rc = s_err(self->db, "finding a msg_id", src);
    s_done(st);
    *n = rc == EGIDE_OK ? k : 0;
    return rc;
}

static egide_rc s_op_msg_has(void *be, const uint8_t msg_id[EGIDE_AUDITSTORE_MSG_ID_LEN],
                             uint64_t index)
{
    s_self_t *self = be;
    if (!msg_id || index > EGIDE_AUDITSTORE_MAX_INDEX)
        return EGIDE_ERR_INVALID;
    sqlite3_stmt *st = self->st[ST_HAS_MSG];
    sqlite3_bind_blob(st, 1, msg_id, EGIDE_AUDITSTORE_MSG_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)index);
    egide_rc rc = s_row(self, ST_HAS_MSG, "reading the msg_id index");
    if (rc == EGIDE_OK)
        s_done(st);
    return rc;
}

static egide_rc s_op_counts(void *be, egide_auditstore_counts_t *out)
{
    s_self_t *self = be;
    if (!out)
        return EGIDE_ERR_INVALID;
    sqlite3_stmt *st = self->st[ST_COUNTS];
    egide_rc rc = s_row(self, ST_COUNTS, "counting rows");
    if (rc == EGIDE_OK) {
        uint64_t *f[4] = {&out->leaves, &out->hashes, &out->msg_entries, &out->checkpoints};
        for (int i = 0; i < 4; i++)
            *f[i] = (uint64_t)sqlite3_column_int64(st, i);
        s_done(st);
    }
    return rc == EGIDE_ERR_NOTFOUND ? EGIDE_ERR_DB : rc;
}

static egide_rc s_op_put_checkpoint(void *be, uint64_t size, const char *note)
{
    s_self_t *self = be;
    size_t l = note ? strlen(note) : 0;
    if (l == 0 || l > EGIDE_AUDITSTORE_MAX_NOTE || size > EGIDE_AUDITSTORE_MAX_INDEX)
        return EGIDE_ERR_INVALID;
    sqlite3_bind_int64(self->st[ST_INS_CP], 1, (sqlite3_int64)size);
    sqlite3_bind_text(self->st[ST_INS_CP], 2, note, (int)l, SQLITE_STATIC);
    return s_write(self, ST_INS_CP, "storing a checkpoint");
}

static egide_rc s_op_checkpoint(void *be, egide_auditstore_cp_query_t q, uint64_t arg,
                                uint64_t *size, char **note)
{
    s_self_t *self = be;
    if (note)
        *note = NULL;
    int which = q == EGIDE_AUDITSTORE_CP_AT       ? ST_CP_AT
                : q == EGIDE_AUDITSTORE_CP_LATEST ? ST_CP_LATEST
                : q == EGIDE_AUDITSTORE_CP_NEXT   ? ST_CP_NEXT
                                                  : -1;
    if (which < 0)
        return EGIDE_ERR_INVALID;
    if (which != ST_CP_LATEST && arg > EGIDE_AUDITSTORE_MAX_INDEX)
        return EGIDE_ERR_NOTFOUND; /* no size is that large */
    sqlite3_stmt *st = self->st[which];
    if (which != ST_CP_LATEST)
        sqlite3_bind_int64(st, 1, (sqlite3_int64)arg);
    egide_rc rc = s_row(self, which, "reading checkpoints");
    if (rc != EGIDE_OK)
        return rc;
    if (size)
        *size = (uint64_t)sqlite3_column_int64(st, 0);
    const unsigned char *t = sqlite3_column_text(st, 1);
    int l = sqlite3_column_bytes(st, 1);
    if (!t || l < 0)
        rc = EGIDE_ERR_DB;
    else if ((size_t)l > EGIDE_AUDITSTORE_MAX_NOTE)
        rc = EGIDE_ERR_LIMIT;
    else if (note && !(*note = malloc((size_t)l + 1)))
        rc = EGIDE_ERR_NOMEM;
    else if (note) {
        memcpy(*note, t, (size_t)l);
        (*note)[l] = '\0';
    }
    s_done(st);
    return rc;
}

static void s_op_inject_fault(void *be, unsigned nth_write)
{
    ((s_self_t *)be)->fault = nth_write;
}

/* Run sql (one statement, ?1 = key) and say whether it changed a row. */
static egide_rc s_probe_one(s_self_t *self, const char *sql, uint64_t key, bool *changed)
{
    sqlite3_stmt *st = NULL;
    egide_rc rc = egide_db_prepare(self->db, sql, &st);
    if (rc != EGIDE_OK)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)key);
    int src = sqlite3_step(st);
    *changed = src == SQLITE_DONE && sqlite3_changes(self->db) > 0;
    if (src != SQLITE_DONE && (src & 0xff) != SQLITE_CONSTRAINT)
        rc = s_err(self->db, "probing", src); /* anything but a refusal */
    sqlite3_finalize(st);
    return rc;
}

static egide_rc s_op_probe_immutable(void *be, egide_auditstore_kind_t kind, uint64_t key)
{
    s_self_t *self = be;
    if ((unsigned)kind >= EGIDE_AUDITSTORE_KIND__COUNT || key > EGIDE_AUDITSTORE_MAX_INDEX)
        return EGIDE_ERR_INVALID;
    const char *t = s_kinds[kind].table, *k = s_kinds[kind].key, *v = s_kinds[kind].value;
    char sql[4][256];
    (void)snprintf(sql[0], sizeof sql[0], "SELECT 1 FROM %s WHERE %s = ?1", t, k);
    (void)snprintf(sql[1], sizeof sql[1], "UPDATE %s SET %s = %s WHERE %s = ?1", t, v, v, k);
    (void)snprintf(sql[2], sizeof sql[2], "DELETE FROM %s WHERE %s = ?1", t, k);
    (void)snprintf(sql[3], sizeof sql[3],
                   "INSERT OR REPLACE INTO %s SELECT * FROM %s WHERE %s = ?1", t, t, k);
    sqlite3_stmt *st = NULL;
    egide_rc rc = egide_db_prepare(self->db, sql[0], &st);
    if (rc != EGIDE_OK)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)key);
    int src = sqlite3_step(st);
    if (src == SQLITE_DONE)
        rc = EGIDE_ERR_NOTFOUND;
    else if (src != SQLITE_ROW)
        rc = s_err(self->db, "probing", src);
    sqlite3_finalize(st);
    if (rc != EGIDE_OK)
        return rc;
    /* Whatever goes through is undone: the probe must not change the log. */
    if ((rc = egide_db_exec(self->db, "SAVEPOINT egide_audit_probe")) != EGIDE_OK)
        return rc;
    bool any = false;
    for (int i = 1; i < 4 && rc == EGIDE_OK; i++) {
        bool changed = false;
        rc = s_probe_one(self, sql[i], key, &changed);
        any = any || changed;
    }
    if (egide_db_exec(self->db, "ROLLBACK TO egide_audit_probe") == EGIDE_OK)
        (void)egide_db_exec(self->db, "RELEASE egide_audit_probe");
    if (rc != EGIDE_OK)
        return rc;
    return any ? EGIDE_OK : EGIDE_ERR_PERM;
}

const egide_auditstore_ops_t egide_auditstore_sqlite_ops = {
    .name = "sqlite",
    .destroy = s_op_destroy,
    .begin = s_op_begin,
    .release = s_op_release,
    .rollback = s_op_rollback,
    .size = s_op_size,
    .append = s_op_append,
    .hash = s_op_hash,
    .hash_run = s_op_hash_run,
    .leaf = s_op_leaf,
    .scan_leaves = s_op_scan_leaves,
    .find_msg = s_op_find_msg,
    .msg_has = s_op_msg_has,
    .counts = s_op_counts,
    .put_checkpoint = s_op_put_checkpoint,
    .checkpoint = s_op_checkpoint,
    .inject_fault = s_op_inject_fault,
    .probe_immutable = s_op_probe_immutable,
};
