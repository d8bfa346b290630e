/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * broker_store_sqlite.c - the broker store on SQLite, the embedded default:
 * one file, migrations by PRAGMA user_version, the audit log's tables in the
 * same file so that "accepted" and its audit leaf are one commit.  Every
 * statement is one row of s_sql, prepared once (egide_db_stmt caches it) and
 * every sqlite3_step() result is checked; SQLite errors become an egide_rc
 * and one log line here, never with message content.
 *
 * Together with broker_store.c this is the only broker file that knows SQL.
 * Envelopes are kept as the exact bytes received (retries and redeliveries
 * are byte-identical); a delivery row per (message, recipient) is the queue;
 * relays hold receipts on their way back to senders until acknowledged.
 */
#include "broker_store.h"

#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/store/egide_db.h"

static const char *const s_migrations[] = {
    /* 1 */
    "CREATE TABLE envelopes("
    "  msg_id BLOB PRIMARY KEY,"
    "  sha256 BLOB NOT NULL,"
    "  sender_id TEXT NOT NULL,"
    "  sender_seq INTEGER NOT NULL,"
    "  type TEXT NOT NULL,"
    "  urgency INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  expires_ms INTEGER NOT NULL,"
    "  received_ms INTEGER NOT NULL,"
    "  data BLOB NOT NULL,"
    "  receipt BLOB NOT NULL,"
    "  leaf_index INTEGER,"
    "  UNIQUE(sender_id, sender_seq));"
    "CREATE TABLE deliveries("
    "  msg_id BLOB NOT NULL REFERENCES envelopes(msg_id),"
    "  recipient_id TEXT NOT NULL,"
    "  state INTEGER NOT NULL DEFAULT 0," /* broker_delivery_state */
    "  urgency INTEGER NOT NULL,"
    "  expires_ms INTEGER NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_ms INTEGER NOT NULL DEFAULT 0,"
    "  done_ms INTEGER,"
    "  receipt BLOB,"
    "  PRIMARY KEY(msg_id, recipient_id));"
    "CREATE INDEX deliveries_queue ON deliveries(recipient_id, state, next_ms);"
    "CREATE INDEX deliveries_expiry ON deliveries(state, expires_ms);"
    "CREATE TABLE rejections("
    "  msg_id BLOB NOT NULL, sha256 BLOB NOT NULL, receipt BLOB NOT NULL, time_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(msg_id, sha256));"
    "CREATE TABLE senders(sender_id TEXT PRIMARY KEY, max_seq INTEGER NOT NULL);"
    "CREATE TABLE relays("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  sender_id TEXT NOT NULL,"
    "  msg_id BLOB NOT NULL,"
    "  receipt BLOB NOT NULL,"
    "  receipt_sha256 BLOB NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  next_ms INTEGER NOT NULL DEFAULT 0,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  done INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX relays_queue ON relays(sender_id, done, next_ms);"
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value);",
    /* 2: who issued each relayed receipt (for the audit trail) */
    "ALTER TABLE relays ADD COLUMN issuer TEXT NOT NULL DEFAULT '';",
};
/* The audit log's own tables are created by egide_auditlog_open() on this
 * connection, right after these migrations (its DDL is the audit layer's). */

enum {
    ST_ENV_INSERT,
    ST_DELIVERY_INSERT,
    ST_SENDER_UPSERT,
    ST_ENV_FIND,
    ST_REJ_INSERT,
    ST_REJ_FIND,
    ST_SENDER_MAX,
    ST_SEQ_USED,
    ST_DELIVERY_GET,
    ST_DUE,
    ST_ATTEMPTED,
    ST_FINISH,
    ST_EXPIRING,
    ST_WAKE_DELIVERIES,
    ST_WAKE_RELAYS,
    ST_RELAY_INSERT,
    ST_RELAYS_DUE,
    ST_RELAY_ATTEMPTED,
    ST_RELAY_ACK,
    ST_COUNTS,
    ST__COUNT
};

static const char *const s_sql[ST__COUNT] = {
    [ST_ENV_INSERT] =
        "INSERT INTO envelopes(msg_id, sha256, sender_id, sender_seq, type, urgency, created_ms,"
        " expires_ms, received_ms, data, receipt, leaf_index) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
    [ST_DELIVERY_INSERT] = "INSERT INTO deliveries(msg_id, recipient_id, urgency, expires_ms)"
                           " VALUES(?,?,?,?)",
    [ST_SENDER_UPSERT] = "INSERT INTO senders(sender_id, max_seq) VALUES(?1, ?2)"
                         " ON CONFLICT(sender_id) DO UPDATE SET max_seq=max(max_seq, ?2)",
    [ST_ENV_FIND] = "SELECT sha256, receipt FROM envelopes WHERE msg_id=?",
    [ST_REJ_INSERT] = "INSERT OR IGNORE INTO rejections(msg_id, sha256, receipt, time_ms)"
                      " VALUES(?,?,?,?)",
    [ST_REJ_FIND] = "SELECT sha256, receipt FROM rejections WHERE msg_id=? AND sha256=?",
    [ST_SENDER_MAX] = "SELECT max_seq FROM senders WHERE sender_id=?",
    [ST_SEQ_USED] = "SELECT 1 FROM envelopes WHERE sender_id=? AND sender_seq=?",
    [ST_DELIVERY_GET] =
        "SELECT e.sha256, e.sender_id, e.type, d.state, d.attempts FROM deliveries d"
        " JOIN envelopes e ON e.msg_id=d.msg_id WHERE d.msg_id=? AND d.recipient_id=?",
    [ST_DUE] = "SELECT d.msg_id, e.data, d.attempts FROM deliveries d JOIN envelopes e"
               " ON e.msg_id=d.msg_id WHERE d.recipient_id=? AND d.state=0 AND"
               " d.next_ms<=? ORDER BY d.urgency DESC, d.rowid LIMIT ?",
    [ST_ATTEMPTED] = "UPDATE deliveries SET attempts=attempts+1, next_ms=? WHERE"
                     " msg_id=? AND recipient_id=? AND state=0",
    [ST_FINISH] = "UPDATE deliveries SET state=?, done_ms=?, receipt=? WHERE msg_id=?"
                  " AND recipient_id=? AND state=0",
    [ST_EXPIRING] =
        "SELECT d.msg_id, d.recipient_id, e.sha256, e.sender_id, e.type FROM deliveries d"
        " JOIN envelopes e ON e.msg_id=d.msg_id WHERE d.state=0 AND d.expires_ms<=?"
        " ORDER BY d.expires_ms LIMIT ?",
    [ST_WAKE_DELIVERIES] = "UPDATE deliveries SET next_ms=0 WHERE recipient_id=? AND state=0",
    [ST_WAKE_RELAYS] = "UPDATE relays SET next_ms=0 WHERE sender_id=? AND done=0",
    [ST_RELAY_INSERT] =
        "INSERT INTO relays(sender_id, msg_id, receipt, receipt_sha256, created_ms, issuer)"
        " VALUES(?,?,?,?,?,?)",
    [ST_RELAYS_DUE] = "SELECT id, receipt, attempts FROM relays WHERE sender_id=? AND"
                      " done=0 AND next_ms<=? ORDER BY id LIMIT ?",
    [ST_RELAY_ATTEMPTED] = "UPDATE relays SET attempts=attempts+1, next_ms=? WHERE id=? AND done=0",
    [ST_RELAY_ACK] = "UPDATE relays SET done=1 WHERE id=? AND sender_id=? AND done=0"
                     " RETURNING msg_id, receipt_sha256, issuer",
    [ST_COUNTS] = "SELECT (SELECT count(*) FROM deliveries WHERE state=0),"
                  " (SELECT count(*) FROM relays WHERE done=0)",
};

typedef struct s_store {
    sqlite3 *db;           /* one connection, used by one thread */
    egide_auditlog_t *log; /* the audit log on the same connection */
    int fault_in;          /* > 0: the fault_in-th write from now fails (tests) */
} s_store_t;

/* ------------------------------------------------------------ helpers */

/* One log line for a failed statement; the SQL names the operation. */
static egide_rc s_fail(s_store_t *x, int st, int src)
{
    egide_rc rc = egide_db_rc(src);
    if (!rc)
        rc = EGIDE_ERR_DB;
    egide_log(EGIDE_LOG_ERROR, "broker store (statement %d): %s", st,
              src == SQLITE_IOERR && x->fault_in < 0 ? "injected I/O error"
                                                     : sqlite3_errmsg(x->db));
    if (x->fault_in < 0)
        x->fault_in = 0;
    return rc;
}

static egide_rc s_prepare(s_store_t *x, int st, sqlite3_stmt **out)
{
    return egide_db_stmt(x->db, s_sql[st], out);
}

/* Step a write, counting down to an injected fault. */
static int s_step_write(s_store_t *x, sqlite3_stmt *st)
{
    if (x->fault_in > 0 && --x->fault_in == 0) {
        x->fault_in = -1; /* tells s_fail the error was ours */
        return SQLITE_IOERR;
    }
    return sqlite3_step(st);
}

/* Run a prepared write to completion; EGIDE_ERR_NOTFOUND when want_change
 * and no row changed. */
static egide_rc s_write(s_store_t *x, int which, sqlite3_stmt *st, bool want_change)
{
    int src = s_step_write(x, st);
    egide_rc rc = src == SQLITE_DONE ? EGIDE_OK : s_fail(x, which, src);
    if (!rc && want_change && sqlite3_changes(x->db) == 0)
        rc = EGIDE_ERR_NOTFOUND;
    egide_db_done(st);
    return rc;
}

static void s_bind_id(sqlite3_stmt *st, int i, const uint8_t *msg_id)
{
    sqlite3_bind_blob(st, i, msg_id, 16, SQLITE_STATIC);
}

static void s_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* Copy column col (a blob of exactly n bytes) into out. */
static bool s_col_fixed(sqlite3_stmt *st, int col, uint8_t *out, size_t n)
{
    if ((size_t)sqlite3_column_bytes(st, col) != n || !sqlite3_column_blob(st, col))
        return false;
    memcpy(out, sqlite3_column_blob(st, col), n);
    return true;
}

/* A malloc'd copy of column col (a non-empty blob). */
static egide_rc s_col_dup(sqlite3_stmt *st, int col, uint8_t **out, size_t *len)
{
    int n = sqlite3_column_bytes(st, col);
    const void *p = sqlite3_column_blob(st, col);
    if (n <= 0 || !p)
        return EGIDE_ERR_DB;
    *out = malloc((size_t)n);
    if (!*out)
        return EGIDE_ERR_NOMEM;
    memcpy(*out, p, (size_t)n);
    *len = (size_t)n;
    return EGIDE_OK;
}

static void s_col_text(sqlite3_stmt *st, int col, char *out, size_t size)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    egide_strlcpy(out, t ? t : "", size);
}

/* A stored answer: sha256 (col 0) and receipt (col 1) of the current row. */
static egide_rc s_stored_row(sqlite3_stmt *st, broker_stored_t *out)
{
    if (!s_col_fixed(st, 0, out->sha256, 32))
        return EGIDE_ERR_DB;
    return s_col_dup(st, 1, &out->receipt, &out->receipt_len);
}

/* Step a one-row query: EGIDE_OK with a row, EGIDE_ERR_NOTFOUND without. */
static egide_rc s_step_one(s_store_t *x, int which, sqlite3_stmt *st)
{
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        return EGIDE_OK;
    return src == SQLITE_DONE ? EGIDE_ERR_NOTFOUND : s_fail(x, which, src);
}

/* Grow a list by one element of size sz; NULL when out of memory. */
static void *s_grow(void **items, size_t n, size_t *cap, size_t sz)
{
    if (n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        void *p = realloc(*items, ncap * sz);
        if (!p)
            return NULL;
        *items = p;
        *cap = ncap;
    }
    return (char *)*items + n * sz;
}

/* ------------------------------------------------------------ lifecycle */

static egide_rc s_open(const char *location, bool reader, void **impl)
{
    s_store_t *x = calloc(1, sizeof *x);
    if (!x)
        return EGIDE_ERR_NOMEM;
    /* The reader is the API thread's connection: read-write at the SQLite
     * level (WAL needs its -shm), but it runs no migration and the store
     * refuses writes through it. */
    egide_rc rc = egide_db_open(location, false, &x->db);
    if (!rc && !reader)
        rc = egide_db_migrate(x->db, s_migrations, sizeof s_migrations / sizeof s_migrations[0]);
    if (!rc) {
        rc = egide_auditlog_open(x->db, &x->log);
        if (rc)
            egide_log(EGIDE_LOG_ERROR, "audit log: %s", egide_strerror(rc));
    }
    if (rc) {
        egide_auditlog_destroy(&x->log);
        egide_db_close(&x->db);
        free(x);
        return rc;
    }
    *impl = x;
    return EGIDE_OK;
}

static void s_close(void *impl)
{
    s_store_t *x = impl;
    if (!x)
        return;
    if (x->db && !sqlite3_get_autocommit(x->db))
        egide_db_rollback(x->db);
    egide_auditlog_destroy(&x->log);
    egide_db_close(&x->db);
    free(x);
}

static egide_rc s_audit(void *impl, egide_auditlog_t **log)
{
    s_store_t *x = impl;
    *log = x->log;
    return x->log ? EGIDE_OK : EGIDE_ERR_STATE;
}

static egide_rc s_location(void *impl, char *out, size_t size)
{
    s_store_t *x = impl;
    const char *f = sqlite3_db_filename(x->db, "main");
    if (!f || !f[0])
        return EGIDE_ERR_NOTFOUND;
    if (strlen(f) >= size)
        return EGIDE_ERR_LIMIT;
    egide_strlcpy(out, f, size);
    return EGIDE_OK;
}

static egide_rc s_begin(void *impl)
{
    s_store_t *x = impl;
    if (!sqlite3_get_autocommit(x->db))
        return EGIDE_ERR_STATE;
    return egide_db_begin(x->db);
}

static egide_rc s_commit(void *impl)
{
    s_store_t *x = impl;
    if (x->fault_in > 0 && --x->fault_in == 0) {
        x->fault_in = 0;
        egide_log(EGIDE_LOG_ERROR, "broker store: commit: injected I/O error");
        return EGIDE_ERR_IO;
    }
    return egide_db_commit(x->db);
}

static void s_rollback(void *impl)
{
    s_store_t *x = impl;
    if (!sqlite3_get_autocommit(x->db))
        egide_db_rollback(x->db);
}

static void s_inject_fault(void *impl, int nth_write)
{
    s_store_t *x = impl;
    x->fault_in = nth_write;
}

/* ------------------------------------------------------------ accept */

static egide_rc s_accept_rows(s_store_t *x, const broker_accept_t *a)
{
    sqlite3_stmt *st;
    egide_rc rc = s_prepare(x, ST_ENV_INSERT, &st);
    if (rc)
        return rc;
    s_bind_id(st, 1, a->msg_id);
    sqlite3_bind_blob(st, 2, a->sha256, 32, SQLITE_STATIC);
    s_bind_text(st, 3, a->sender_id);
    sqlite3_bind_int64(st, 4, (int64_t)a->sender_seq);
    s_bind_text(st, 5, a->type);
    sqlite3_bind_int(st, 6, a->urgency);
    sqlite3_bind_int64(st, 7, a->created_ms);
    sqlite3_bind_int64(st, 8, a->expires_ms);
    sqlite3_bind_int64(st, 9, a->received_ms);
    sqlite3_bind_blob(st, 10, a->data, (int)a->len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 11, a->receipt, (int)a->receipt_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 12, (int64_t)a->leaf_index);
    if ((rc = s_write(x, ST_ENV_INSERT, st, false)))
        return rc;
    for (size_t i = 0; i < a->n_recipients; i++) {
        if ((rc = s_prepare(x, ST_DELIVERY_INSERT, &st)))
            return rc;
        s_bind_id(st, 1, a->msg_id);
        s_bind_text(st, 2, a->recipients[i]);
        sqlite3_bind_int(st, 3, a->urgency);
        sqlite3_bind_int64(st, 4, a->expires_ms);
        if ((rc = s_write(x, ST_DELIVERY_INSERT, st, false)))
            return rc;
    }
    if ((rc = s_prepare(x, ST_SENDER_UPSERT, &st)))
        return rc;
    s_bind_text(st, 1, a->sender_id);
    sqlite3_bind_int64(st, 2, (int64_t)a->sender_seq);
    return s_write(x, ST_SENDER_UPSERT, st, false);
}

/* All rows or none: a savepoint inside the caller's transaction. */
static egide_rc s_accept(void *impl, const broker_accept_t *a)
{
    s_store_t *x = impl;
    egide_rc rc = egide_db_exec(x->db, "SAVEPOINT broker_accept");
    if (rc)
        return rc;
    rc = s_accept_rows(x, a);
    if (rc) {
        /* Undo what was written before the failure; the outer transaction
         * (and what the caller did in it) is the caller's to roll back. */
        if (egide_db_exec(x->db, "ROLLBACK TO broker_accept") != EGIDE_OK)
            egide_log(EGIDE_LOG_ERROR, "broker store: cannot undo a failed accept");
        egide_db_exec(x->db, "RELEASE broker_accept");
        return rc;
    }
    return egide_db_exec(x->db, "RELEASE broker_accept");
}

/* ------------------------------------------------------------ lookups */

static egide_rc s_envelope_find(void *impl, const uint8_t *msg_id, broker_stored_t *out)
{
    s_store_t *x = impl;
    sqlite3_stmt *st;
    egide_rc rc = s_prepare(x, ST_ENV_FIND, &st);
    if (rc)
        return rc;
    s_bind_id(st, 1, msg_id);
    rc = s_step_one(x, ST_ENV_FIND, st);
    if (!rc)
        rc = s_stored_row(st, out);
    egide_db_done(st);
    return rc;
}

static egide_rc s_rejection_put(void *impl, const uint8_t *msg_id, const uint8_t *sha256,
                                const uint8_t *receipt, size_t len, int64_t now_ms)
{
    s_store_t *x = impl;
    sqlite3_stmt *st;
    egide_rc rc = s_prepare(x, ST_REJ_INSERT, &st);
    if (rc)
        return rc;
    s_bind_id(st, 1, msg_id);
    sqlite3_bind_blob(st, 2, sha256, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, receipt, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now_ms);
    return s_write(x, ST_REJ_INSERT, st, false);
}

static egide_rc s_rejection_find(void *impl, const uint8_t *msg_id, const uint8_t *sha256,
                                 broker_stored_t *out)
{
    s_store_t *x = impl;
    sqlite3_stmt *st;
    egide_rc rc = s_prepare(x, ST_REJ_FIND, &st);
    if (rc)
        return rc;
    s_bind_id(st, 1, msg_id);
    sqlite3_bind_blob(st, 2, sha256, 32, SQLITE_STATIC);
    rc = s_step_one(x, ST_REJ_FIND, st);
    if (!rc)
        rc = s_stored_row(st, out);
    egide_db_done(st);
    return rc;
}

static egide_rc s_sender_max_seq(void *impl, const char *sender_id, uint64_t *max)
{
    s_store_t *x = impl;
    sqlite3_stmt *st;
    egide_rc rc = s_prepare(x, ST_SENDER_MAX, &st);
    if (rc)
        return rc;
    s_bind_text(st, 1, sender_id);
    rc = s_step_one(x, ST_SENDER_MAX, st);
    if (!rc)
        *max = (uint64_t)sqlite3_column_int64(st, 0);
    egide_db_done(st);
    return rc == EGIDE_ERR_NOTFOUND ? EGIDE_OK : rc;
}

static egide_rc s_sender_seq_used(void *impl, const char *sender_id, uint64_t seq, bool *used)
{
    s_store_t *x = impl;
    sqlite3_stmt *st;
    egide_rc rc = s_prepare(x, ST_SEQ_USED, &st);
    if (rc)
        return rc;
    s_bind_text(st, 1, sender_id);
    sqlite3_bind_int64(st, 2, (int64_t)seq);
    rc = s_step_one(x, ST_SEQ_USED, st);
    *used = rc == EGIDE_OK;
    egide_db_done(st);
    return rc == EGIDE_ERR_NOTFOUND ? EGIDE_OK : rc;
}

static egide_rc s_delivery_get(void *impl, const uint8_t *msg_id, const char *recipient_id,
                               broker_delivery_t *out)
{
    s_store_t *x = impl;
    sqlite3_stmt *st;
    egide_rc rc = s_prepare(x, ST_DELIVERY_GET, &st);
    if (rc)
        return rc;
    s_bind_id(st, 1, msg_id);
    s_bind_text(st, 2, recipient_id);
    rc = s_step_one(x, ST_DELIVERY_GET, st);
    if (!rc && !s_col_fixed(st, 0, out->sha256, 32))
        rc = EGIDE_ERR_DB;
    if (!rc) {
        s_col_text(st, 1, out->sender_id, sizeof out->sender_id);
        s_col_text(st, 2, out->type, sizeof out->type);
        out->state = (broker_delivery_state)sqlite3_column_int(st, 3);
        out->attempts = sqlite3_column_int(st, 4);
    }
    egide_db_done(st);
    return rc;
}

/* ------------------------------------------------------------ deliveries */

static egide_rc s_deliveries_due(void *impl, const char *recipient_id, int64_t now_ms, size_t limit,
                                 broker_due_t **items, size_t *n)
{
    s_store_t *x = impl;
    sqlite3_stmt *st;
    egide_rc rc = s_prepare(x, ST_DUE, &st);
    if (rc)
        return rc;
    s_bind_text(st, 1, recipient_id);
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_int64(st, 3, (int64_t)limit);
    size_t cap = 0;
    int src = SQLITE_DONE;
    while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW) {
        broker_due_t *d = s_grow((void **)items, *n, &cap, sizeof *d);
        if (!d) {
            rc = EGIDE_ERR_NOMEM;
            break;
        }
        memset(d, 0, sizeof *d);
        if (!s_col_fixed(st, 0, d->msg_id, 16))
            rc = EGIDE_ERR_DB;
        else if (!(rc = s_col_dup(st, 1, &d->data, &d->len)))
            d->attempts = sqlite3_column_int(st, 2);
        if (!rc)
            (*n)++;
    }
    if (!rc && src != SQLITE_DONE)
        rc = s_fail(x, ST_DUE, src);
    egide_db_done(st);
    if (rc) {
        broker_due_free(*items, *n);
        *items = NULL;
        *n = 0;
    }
    return rc;
}

static egide_rc s_delivery_attempted(void *impl, const uint8_t *msg_id, const char *recipient_id,
                                     int64_t next_ms)
{
    s_store_t *x = impl;
    sqlite3_stmt *st;
    egide_rc rc = s_prepare(x, ST_ATTEMPTED, &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, next_ms);
    s_bind_id(st, 2, msg_id);
    s_bind_text(st, 3, recipient_id);
    return s_write(x, ST_ATTEMPTED, st, true);
}

static egide_rc s_delivery_finish(void *impl, const uint8_t *msg_id, const char *recipient_id,
                                  broker_delivery_state state, const uint8_t *receipt, size_t len,
                                  int64_t now_ms)
{
    s_store_t *x = impl;
    sqlite3_stmt *st;
    egide_rc rc = s_prepare(x, ST_FINISH, &st);
    if (rc)
        return rc;
    sqlite3_bind_int(st, 1, (int)state);
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_blob(st, 3, receipt, (int)len, SQLITE_STATIC);
    s_bind_id(st, 4, msg_id);
    s_bind_text(st, 5, recipient_id);
    rc = s_write(x, ST_FINISH, st, true);
    if (rc == EGIDE_ERR_NOTFOUND) {
        /* Nothing changed: no such delivery, or it is already final. */
        broker_delivery_t d;
        rc = s_delivery_get(impl, msg_id, recipient_id, &d);
        if (!rc)
            rc = EGIDE_ERR_STATE;
    }
    return rc;
}

static egide_rc s_deliveries_expiring(void *impl, int64_t now_ms, size_t limit,
                                      broker_expiring_t **items, size_t *n)
{
    s_store_t *x = impl;
    sqlite3_stmt *st;
    egide_rc rc = s_prepare(x, ST_EXPIRING, &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, (int64_t)limit);
    size_t cap = 0;
    int src = SQLITE_DONE;
    while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW) {
        broker_expiring_t *e = s_grow((void **)items, *n, &cap, sizeof *e);
        if (!e) {
            rc = EGIDE_ERR_NOMEM;
            break;
        }
        memset(e, 0, sizeof *e);
        if (!s_col_fixed(st, 0, e->msg_id, 16) || !s_col_fixed(st, 2, e->sha256, 32)) {
            rc = EGIDE_ERR_DB;
            break;
        }
        s_col_text(st, 1, e->recipient_id, sizeof e->recipient_id);
        s_col_text(st, 3, e->sender_id, sizeof e->sender_id);
        s_col_text(st, 4, e->type, sizeof e->type);
        (*n)++;
    }
    if (!rc && src != SQLITE_DONE)
        rc = s_fail(x, ST_EXPIRING, src);
    egide_db_done(st);
    if (rc) {
        free(*items);
        *items = NULL;
        *n = 0;
    }
    return rc;
}

static egide_rc s_node_wake(void *impl, const char *node_id)
{
    s_store_t *x = impl;
    static const int which[] = {ST_WAKE_DELIVERIES, ST_WAKE_RELAYS};
    for (size_t i = 0; i < sizeof which / sizeof which[0]; i++) {
        sqlite3_stmt *st;
        egide_rc rc = s_prepare(x, which[i], &st);
        if (rc)
            return rc;
        s_bind_text(st, 1, node_id);
        if ((rc = s_write(x, which[i], st, false)))
            return rc;
    }
    return EGIDE_OK;
}

/* ------------------------------------------------------------ relays */

static egide_rc s_relay_queue(void *impl, const char *sender_id, const char *issuer,
                              const uint8_t *msg_id, const uint8_t *receipt, size_t len,
                              int64_t now_ms, uint64_t *id)
{
    s_store_t *x = impl;
    uint8_t rsha[32];
    egide_sha256(receipt, len, rsha);
    sqlite3_stmt *st;
    egide_rc rc = s_prepare(x, ST_RELAY_INSERT, &st);
    if (rc)
        return rc;
    s_bind_text(st, 1, sender_id);
    s_bind_id(st, 2, msg_id);
    sqlite3_bind_blob(st, 3, receipt, (int)len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, rsha, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now_ms);
    s_bind_text(st, 6, issuer);
    rc = s_write(x, ST_RELAY_INSERT, st, false);
    if (!rc)
        *id = (uint64_t)sqlite3_last_insert_rowid(x->db);
    return rc;
}

static egide_rc s_relays_due(void *impl, const char *sender_id, int64_t now_ms, size_t limit,
                             broker_relay_due_t **items, size_t *n)
{
    s_store_t *x = impl;
    sqlite3_stmt *st;
    egide_rc rc = s_prepare(x, ST_RELAYS_DUE, &st);
    if (rc)
        return rc;
    s_bind_text(st, 1, sender_id);
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_int64(st, 3, (int64_t)limit);
    size_t cap = 0;
    int src = SQLITE_DONE;
    while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW) {
        broker_relay_due_t *r = s_grow((void **)items, *n, &cap, sizeof *r);
        if (!r) {
            rc = EGIDE_ERR_NOMEM;
            break;
        }
        memset(r, 0, sizeof *r);
        r->id = (uint64_t)sqlite3_column_int64(st, 0);
        r->attempts = sqlite3_column_int(st, 2);
        if (!(rc = s_col_dup(st, 1, &r->receipt, &r->len)))
            (*n)++;
    }
    if (!rc && src != SQLITE_DONE)
        rc = s_fail(x, ST_RELAYS_DUE, src);
    egide_db_done(st);
    if (rc) {
        broker_relay_due_free(*items, *n);
        *items = NULL;
        *n = 0;
    }
    return rc;
}

static egide_rc s_relay_attempted(void *impl, uint64_t id, int64_t next_ms)
{
    s_store_t *x = impl;
    sqlite3_stmt *st;
    egide_rc rc = s_prepare(x, ST_RELAY_ATTEMPTED, &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, next_ms);
    sqlite3_bind_int64(st, 2, (int64_t)id);
    return s_write(x, ST_RELAY_ATTEMPTED, st, true);
}

static egide_rc s_relay_ack(void *impl, uint64_t id, const char *sender_id,
                            broker_relay_acked_t *out)
{
    s_store_t *x = impl;
    sqlite3_stmt *st;
    egide_rc rc = s_prepare(x, ST_RELAY_ACK, &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, (int64_t)id);
    s_bind_text(st, 2, sender_id);
    int src = s_step_write(x, st);
    if (src == SQLITE_ROW) {
        if (!s_col_fixed(st, 0, out->msg_id, 16) || !s_col_fixed(st, 1, out->receipt_sha256, 32))
            rc = EGIDE_ERR_DB;
        s_col_text(st, 2, out->issuer, sizeof out->issuer);
        /* Run the UPDATE to its end (id is a key: no second row). */
        src = sqlite3_step(st);
        if (src != SQLITE_DONE)
            rc = s_fail(x, ST_RELAY_ACK, src);
    } else {
        rc = src == SQLITE_DONE ? EGIDE_ERR_NOTFOUND : s_fail(x, ST_RELAY_ACK, src);
    }
    egide_db_done(st);
    return rc;
}

static egide_rc s_counts(void *impl, uint64_t *queued, uint64_t *relays)
{
    s_store_t *x = impl;
    sqlite3_stmt *st;
    egide_rc rc = s_prepare(x, ST_COUNTS, &st);
    if (rc)
        return rc;
    rc = s_step_one(x, ST_COUNTS, st);
    if (!rc) {
        *queued = (uint64_t)sqlite3_column_int64(st, 0);
        *relays = (uint64_t)sqlite3_column_int64(st, 1);
    }
    egide_db_done(st);
    return rc == EGIDE_ERR_NOTFOUND ? EGIDE_ERR_DB : rc;
}

const broker_store_ops_t broker_store_sqlite_ops = {
    .name = "sqlite",
    .open = s_open,
    .close = s_close,
    .audit = s_audit,
    .location = s_location,
    .begin = s_begin,
    .commit = s_commit,
    .rollback = s_rollback,
    .accept = s_accept,
    .envelope_find = s_envelope_find,
    .rejection_put = s_rejection_put,
    .rejection_find = s_rejection_find,
    .sender_max_seq = s_sender_max_seq,
    .sender_seq_used = s_sender_seq_used,
    .delivery_get = s_delivery_get,
    .deliveries_due = s_deliveries_due,
    .delivery_attempted = s_delivery_attempted,
    .delivery_finish = s_delivery_finish,
    .deliveries_expiring = s_deliveries_expiring,
    .node_wake = s_node_wake,
    .relay_queue = s_relay_queue,
    .relays_due = s_relays_due,
    .relay_attempted = s_relay_attempted,
    .relay_ack = s_relay_ack,
    .counts = s_counts,
    .inject_fault = s_inject_fault,
};
