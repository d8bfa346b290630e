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
 * Migrations: the broker's tables (s_migrations, PRAGMA user_version), then
 * the audit tables (egide_auditstore_sqlite_migrate); the audit log is then
 * opened on the same connection.
 * Envelopes are kept as the exact bytes received (retries and redeliveries
 * are byte-identical); a delivery row per (message, recipient) is the queue;
 * relays hold receipts on their way back to senders until acknowledged.
 */
#include "broker_store.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/store/egide_auditstore_sqlite.h"
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
    /* 3: redeliveries to a restored recipient (docs/backup.md), read in the
     * order deliveries were finished; the delivery keeps its final state. */
    "CREATE INDEX deliveries_done ON deliveries(recipient_id, state, done_ms);"
    "CREATE TABLE redeliveries("
    "  recipient_id TEXT NOT NULL,"
    "  msg_id BLOB NOT NULL REFERENCES envelopes(msg_id),"
    "  done_ms INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  next_ms INTEGER NOT NULL DEFAULT 0,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY(recipient_id, msg_id));"
    "CREATE INDEX redeliveries_queue ON redeliveries(recipient_id, next_ms);",
    /* 4: where a redelivery of more than one page stands, written with the
     * page it queued so that a restart goes on from it (docs/backup.md). */
    "CREATE TABLE redeliver_cursors("
    "  recipient_id TEXT PRIMARY KEY,"
    "  done_ms INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  skip BLOB NOT NULL);",
    /* 5: the queue gauges kept by triggers, read in O(1): counting the
     * queued rows every second held the loop for as long as the queue was
     * long (an offline recipient's 10^5 deliveries). */
    "CREATE TABLE broker_counters(name TEXT PRIMARY KEY, n INTEGER NOT NULL);"
    "INSERT INTO broker_counters VALUES"
    "  ('queued', (SELECT count(*) FROM deliveries WHERE state=0)),"
    "  ('relays', (SELECT count(*) FROM relays WHERE done=0));"
    "CREATE TRIGGER broker_counters_dlv_ins AFTER INSERT ON deliveries WHEN NEW.state=0 BEGIN"
    "  UPDATE broker_counters SET n = n + 1 WHERE name = 'queued'; END;"
    "CREATE TRIGGER broker_counters_dlv_del AFTER DELETE ON deliveries WHEN OLD.state=0 BEGIN"
    "  UPDATE broker_counters SET n = n - 1 WHERE name = 'queued'; END;"
    "CREATE TRIGGER broker_counters_dlv_upd AFTER UPDATE OF state ON deliveries"
    "  WHEN (OLD.state=0) <> (NEW.state=0) BEGIN"
    "  UPDATE broker_counters SET n = n + (CASE WHEN NEW.state=0 THEN 1 ELSE -1 END)"
    "  WHERE name = 'queued'; END;"
    "CREATE TRIGGER broker_counters_rly_ins AFTER INSERT ON relays WHEN NEW.done=0 BEGIN"
    "  UPDATE broker_counters SET n = n + 1 WHERE name = 'relays'; END;"
    "CREATE TRIGGER broker_counters_rly_del AFTER DELETE ON relays WHEN OLD.done=0 BEGIN"
    "  UPDATE broker_counters SET n = n - 1 WHERE name = 'relays'; END;"
    "CREATE TRIGGER broker_counters_rly_upd AFTER UPDATE OF done ON relays"
    "  WHEN (OLD.done=0) <> (NEW.done=0) BEGIN"
    "  UPDATE broker_counters SET n = n + (CASE WHEN NEW.done=0 THEN 1 ELSE -1 END)"
    "  WHERE name = 'relays'; END;",
};
/* The audit log's tables are migrated right after these, on the same
 * connection, by egide_auditstore_sqlite_migrate(): their DDL belongs to the
 * store layer, and they keep their own version table since user_version is
 * ours. */

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
    ST_REDELIVER_START,
    ST_REDELIVER_PAGE,
    ST_REDELIVER_INSERT,
    ST_REDELIVERIES_DUE,
    ST_REDELIVERY_ATTEMPTED,
    ST_REDELIVERY_DONE,
    ST_WAKE_REDELIVERIES,
    ST_CURSOR_GET,
    ST_CURSOR_PUT,
    ST_CURSOR_DROP,
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
    [ST_DUE] = "SELECT d.rowid, d.msg_id, e.data, d.attempts FROM deliveries d JOIN envelopes e"
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
    [ST_RELAYS_DUE] = "SELECT id, msg_id, receipt, attempts FROM relays WHERE sender_id=? AND"
                      " done=0 AND next_ms<=? ORDER BY id LIMIT ?",
    [ST_RELAY_ATTEMPTED] = "UPDATE relays SET attempts=attempts+1, next_ms=? WHERE id=? AND done=0",
    [ST_RELAY_ACK] = "UPDATE relays SET done=1 WHERE id=? AND sender_id=? AND done=0"
                     " RETURNING msg_id, receipt_sha256, issuer",
    [ST_COUNTS] = "SELECT (SELECT n FROM broker_counters WHERE name='queued'),"
                  " (SELECT n FROM broker_counters WHERE name='relays')",
    [ST_REDELIVER_START] = "SELECT done_ms FROM deliveries WHERE msg_id=? AND recipient_id=?"
                           " AND state=1 AND done_ms IS NOT NULL",
    [ST_REDELIVER_PAGE] = "SELECT msg_id, done_ms, rowid FROM deliveries WHERE recipient_id=?1"
                          " AND state=1 AND (done_ms, rowid) > (?2, ?3) AND msg_id<>?4"
                          " ORDER BY done_ms, rowid LIMIT ?5",
    [ST_REDELIVER_INSERT] = "INSERT OR IGNORE INTO redeliveries(recipient_id, msg_id, done_ms, seq,"
                            " next_ms) VALUES(?,?,?,?,?)",
    [ST_REDELIVERIES_DUE] =
        "SELECT r.seq, r.msg_id, e.data, r.attempts FROM redeliveries r JOIN envelopes e"
        " ON e.msg_id=r.msg_id WHERE r.recipient_id=? AND r.next_ms<=?"
        " ORDER BY r.done_ms, r.seq LIMIT ?",
    [ST_REDELIVERY_ATTEMPTED] = "UPDATE redeliveries SET attempts=attempts+1, next_ms=? WHERE"
                                " msg_id=? AND recipient_id=?",
    [ST_REDELIVERY_DONE] = "DELETE FROM redeliveries WHERE msg_id=? AND recipient_id=?",
    [ST_WAKE_REDELIVERIES] =
        "UPDATE redeliveries SET next_ms=0 WHERE recipient_id=? AND next_ms<>0",
    [ST_CURSOR_GET] = "SELECT done_ms, seq, skip FROM redeliver_cursors WHERE recipient_id=?",
    [ST_CURSOR_PUT] = "INSERT INTO redeliver_cursors(recipient_id, done_ms, seq, skip)"
                      " VALUES(?1,?2,?3,?4) ON CONFLICT(recipient_id) DO UPDATE SET"
                      " done_ms=?2, seq=?3, skip=?4",
    [ST_CURSOR_DROP] = "DELETE FROM redeliver_cursors WHERE recipient_id=?",
};

typedef struct s_store {
    sqlite3 *db;           /* one connection, used by one thread */
    egide_auditlog_t *log; /* the audit log on the same connection */
    int fault_in;          /* > 0: the fault_in-th write from now fails (tests) */
} s_store_t;

/* ------------------------------------------------------------ helpers */

/* One log line for a failed statement, named by the start of its SQL (which
 * holds no data: every value is a bound parameter). */
static egide_rc s_fail(s_store_t *x, int st, int src)
{
    egide_rc rc = egide_db_rc(src);
    if (!rc)
        rc = EGIDE_ERR_DB;
    egide_log(EGIDE_LOG_ERROR, "broker store: \"%.40s...\": %s", s_sql[st],
              src == SQLITE_IOERR && x->fault_in < 0 ? "injected I/O error"
                                                     : sqlite3_errmsg(x->db));
    if (x->fault_in < 0)
        x->fault_in = 0;
    return rc;
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

/* Prepare statement `which` and bind its parameters from the arguments, one
 * letter of fmt each: 'k' a 16-byte key (msg_id), 'h' a 32-byte hash, 'b' a
 * blob (const uint8_t *, size_t), 't' text, 'I' an int64_t, 'i' an int.
 * Everything is bound SQLITE_STATIC: the arguments outlive the step. */
static egide_rc s_bindv(s_store_t *x, int which, sqlite3_stmt **out, const char *fmt, va_list ap)
{
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(x->db, s_sql[which], &st);
    if (rc)
        return rc;
    for (int i = 1; *fmt; fmt++, i++) {
        const uint8_t *p;
        switch (*fmt) {
        case 'k':
        case 'h':
            p = va_arg(ap, const uint8_t *);
            sqlite3_bind_blob(st, i, p, *fmt == 'k' ? 16 : 32, SQLITE_STATIC);
            break;
        case 'b':
            p = va_arg(ap, const uint8_t *);
            sqlite3_bind_blob(st, i, p, (int)va_arg(ap, size_t), SQLITE_STATIC);
            break;
        case 't':
            sqlite3_bind_text(st, i, va_arg(ap, const char *), -1, SQLITE_STATIC);
            break;
        case 'I':
            sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
            break;
        default:
            sqlite3_bind_int(st, i, va_arg(ap, int));
            break;
        }
    }
    *out = st;
    return EGIDE_OK;
}

/* How s_run steps a statement. */
enum {
    RUN_DONE,   /* a write, to completion */
    RUN_CHANGE, /* a write that must change a row (else EGIDE_ERR_NOTFOUND) */
    RUN_ROW,    /* a query (or a write with RETURNING): stop on its first row */
};

/* Bind the arguments (see s_bindv) and step statement `which`.  RUN_ROW:
 * EGIDE_OK with *row on its first row (the caller gives it back with
 * egide_db_done), else EGIDE_ERR_NOTFOUND or the error, the statement
 * already given back.  Writes count towards an injected fault. */
static egide_rc s_run(s_store_t *x, int which, int mode, sqlite3_stmt **row, const char *fmt, ...)
{
    sqlite3_stmt *st;
    va_list ap;
    va_start(ap, fmt);
    egide_rc rc = s_bindv(x, which, &st, fmt, ap);
    va_end(ap);
    if (rc)
        return rc;
    bool write = mode != RUN_ROW || which == ST_RELAY_ACK;
    int src = write ? s_step_write(x, st) : sqlite3_step(st);
    if (mode == RUN_ROW && src == SQLITE_ROW) {
        *row = st;
        return EGIDE_OK;
    }
    if (src == SQLITE_DONE)
        rc = mode == RUN_ROW || (mode == RUN_CHANGE && sqlite3_changes(x->db) == 0)
                 ? EGIDE_ERR_NOTFOUND
                 : EGIDE_OK;
    else
        rc = s_fail(x, which, src);
    egide_db_done(st);
    return rc;
}
#define s_exec(x, which, want_change, ...)                                                         \
    s_run(x, which, (want_change) ? RUN_CHANGE : RUN_DONE, NULL, __VA_ARGS__)
#define s_row(x, which, row, ...) s_run(x, which, RUN_ROW, row, __VA_ARGS__)

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

/* A stored answer: sha256 (col 0) and receipt (col 1) of the row, which is
 * given back. */
static egide_rc s_stored_row(egide_rc rc, sqlite3_stmt *st, broker_stored_t *out)
{
    if (rc)
        return rc;
    if (!s_col_fixed(st, 0, out->sha256, 32))
        rc = EGIDE_ERR_DB;
    else
        rc = s_col_dup(st, 1, &out->receipt, &out->receipt_len);
    egide_db_done(st);
    return rc;
}

/* Read one row of a list into item (zeroed); EGIDE_OK or an error. */
typedef egide_rc (*s_row_fn)(sqlite3_stmt *st, void *item);

/* Collect the rows of a query s_row started (its rc and statement): every
 * row through fn into a grown array of sz-byte items; no row is an empty
 * list.  On error nothing is returned (release frees what rows hold). */
static egide_rc s_collect(s_store_t *x, int which, egide_rc rc, sqlite3_stmt *st, s_row_fn fn,
                          size_t sz, void (*release)(void *, size_t), void **items, size_t *n)
{
    if (rc)
        return rc == EGIDE_ERR_NOTFOUND ? EGIDE_OK : rc;
    size_t cap = 0;
    int src = SQLITE_ROW;
    for (; !rc && src == SQLITE_ROW; src = rc ? src : sqlite3_step(st)) {
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            void *p = realloc(*items, ncap * sz);
            if (!p) {
                rc = EGIDE_ERR_NOMEM;
                break;
            }
            *items = p;
            cap = ncap;
        }
        void *item = (char *)*items + *n * sz;
        memset(item, 0, sz);
        if (!(rc = fn(st, item)))
            (*n)++;
        else
            release(item, 1); /* what fn read of it */
    }
    if (!rc && src != SQLITE_DONE)
        rc = s_fail(x, which, src);
    egide_db_done(st);
    if (rc) {
        release(*items, *n);
        free(*items);
        *items = NULL;
        *n = 0;
    }
    return rc;
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
    if (!rc && !reader)
        rc = egide_auditstore_sqlite_migrate(x->db);
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
    egide_rc rc =
        s_exec(x, ST_ENV_INSERT, false, "khtItiIIIbbI", a->msg_id, a->sha256, a->sender_id,
               (int64_t)a->sender_seq, a->type, a->urgency, a->created_ms, a->expires_ms,
               a->received_ms, a->data, a->len, a->receipt, a->receipt_len, (int64_t)a->leaf_index);
    for (size_t i = 0; !rc && i < a->n_recipients; i++)
        rc = s_exec(x, ST_DELIVERY_INSERT, false, "ktiI", a->msg_id, a->recipients[i], a->urgency,
                    a->expires_ms);
    if (!rc)
        rc = s_exec(x, ST_SENDER_UPSERT, false, "tI", a->sender_id, (int64_t)a->sender_seq);
    return rc;
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
    sqlite3_stmt *st = NULL;
    egide_rc rc = s_row(impl, ST_ENV_FIND, &st, "k", msg_id);
    return s_stored_row(rc, st, out);
}

static egide_rc s_rejection_put(void *impl, const uint8_t *msg_id, const uint8_t *sha256,
                                const uint8_t *receipt, size_t len, int64_t now_ms)
{
    return s_exec(impl, ST_REJ_INSERT, false, "khbI", msg_id, sha256, receipt, len, now_ms);
}

static egide_rc s_rejection_find(void *impl, const uint8_t *msg_id, const uint8_t *sha256,
                                 broker_stored_t *out)
{
    sqlite3_stmt *st = NULL;
    egide_rc rc = s_row(impl, ST_REJ_FIND, &st, "kh", msg_id, sha256);
    return s_stored_row(rc, st, out);
}

static egide_rc s_sender_max_seq(void *impl, const char *sender_id, uint64_t *max)
{
    sqlite3_stmt *st;
    egide_rc rc = s_row(impl, ST_SENDER_MAX, &st, "t", sender_id);
    if (rc)
        return rc == EGIDE_ERR_NOTFOUND ? EGIDE_OK : rc; /* no envelope yet: 0 */
    *max = (uint64_t)sqlite3_column_int64(st, 0);
    egide_db_done(st);
    return EGIDE_OK;
}

static egide_rc s_sender_seq_used(void *impl, const char *sender_id, uint64_t seq, bool *used)
{
    sqlite3_stmt *st;
    egide_rc rc = s_row(impl, ST_SEQ_USED, &st, "tI", sender_id, (int64_t)seq);
    if (!rc)
        egide_db_done(st);
    *used = rc == EGIDE_OK;
    return rc == EGIDE_ERR_NOTFOUND ? EGIDE_OK : rc;
}

static egide_rc s_delivery_get(void *impl, const uint8_t *msg_id, const char *recipient_id,
                               broker_delivery_t *out)
{
    sqlite3_stmt *st;
    egide_rc rc = s_row(impl, ST_DELIVERY_GET, &st, "kt", msg_id, recipient_id);
    if (rc)
        return rc;
    if (!s_col_fixed(st, 0, out->sha256, 32))
        rc = EGIDE_ERR_DB;
    s_col_text(st, 1, out->sender_id, sizeof out->sender_id);
    s_col_text(st, 2, out->type, sizeof out->type);
    out->state = (broker_delivery_state)sqlite3_column_int(st, 3);
    out->attempts = sqlite3_column_int(st, 4);
    egide_db_done(st);
    return rc;
}

/* ------------------------------------------------------------ deliveries */

/* A due delivery or relay: id, msg_id, the bytes to send, attempts. */
static egide_rc s_due_row(sqlite3_stmt *st, void *item)
{
    broker_due_t *d = item;
    d->id = (uint64_t)sqlite3_column_int64(st, 0);
    if (!s_col_fixed(st, 1, d->msg_id, 16))
        return EGIDE_ERR_DB;
    d->attempts = sqlite3_column_int(st, 3);
    return s_col_dup(st, 2, &d->data, &d->len);
}

static void s_due_release(void *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(((broker_due_t *)items)[i].data);
}

/* What is due for one node: deliveries (ST_DUE) or relays (ST_RELAYS_DUE). */
static egide_rc s_due(s_store_t *x, int which, const char *node_id, int64_t now_ms, size_t limit,
                      broker_due_t **items, size_t *n)
{
    sqlite3_stmt *st = NULL;
    egide_rc rc = s_row(x, which, &st, "tII", node_id, now_ms, (int64_t)limit);
    return s_collect(x, which, rc, st, s_due_row, sizeof **items, s_due_release, (void **)items, n);
}

static egide_rc s_deliveries_due(void *impl, const char *recipient_id, int64_t now_ms, size_t limit,
                                 broker_due_t **items, size_t *n)
{
    return s_due(impl, ST_DUE, recipient_id, now_ms, limit, items, n);
}

static egide_rc s_delivery_attempted(void *impl, const uint8_t *msg_id, const char *recipient_id,
                                     int64_t next_ms)
{
    return s_exec(impl, ST_ATTEMPTED, true, "Ikt", next_ms, msg_id, recipient_id);
}

static egide_rc s_delivery_finish(void *impl, const uint8_t *msg_id, const char *recipient_id,
                                  broker_delivery_state state, const uint8_t *receipt, size_t len,
                                  int64_t now_ms)
{
    egide_rc rc = s_exec(impl, ST_FINISH, true, "iIbkt", (int)state, now_ms, receipt, len, msg_id,
                         recipient_id);
    if (rc == EGIDE_ERR_NOTFOUND) {
        /* Nothing changed: no such delivery, or it is already final. */
        broker_delivery_t d;
        rc = s_delivery_get(impl, msg_id, recipient_id, &d);
        if (!rc)
            rc = EGIDE_ERR_STATE;
    }
    return rc;
}

static egide_rc s_expiring_row(sqlite3_stmt *st, void *item)
{
    broker_expiring_t *e = item;
    if (!s_col_fixed(st, 0, e->msg_id, 16) || !s_col_fixed(st, 2, e->sha256, 32))
        return EGIDE_ERR_DB;
    s_col_text(st, 1, e->recipient_id, sizeof e->recipient_id);
    s_col_text(st, 3, e->sender_id, sizeof e->sender_id);
    s_col_text(st, 4, e->type, sizeof e->type);
    return EGIDE_OK;
}

static void s_nothing_to_release(void *items, size_t n)
{
    (void)items, (void)n;
}

static egide_rc s_deliveries_expiring(void *impl, int64_t now_ms, size_t limit,
                                      broker_expiring_t **items, size_t *n)
{
    sqlite3_stmt *st = NULL;
    egide_rc rc = s_row(impl, ST_EXPIRING, &st, "II", now_ms, (int64_t)limit);
    return s_collect(impl, ST_EXPIRING, rc, st, s_expiring_row, sizeof **items,
                     s_nothing_to_release, (void **)items, n);
}

static egide_rc s_node_wake(void *impl, const char *node_id)
{
    egide_rc rc = s_exec(impl, ST_WAKE_DELIVERIES, false, "t", node_id);
    if (!rc)
        rc = s_exec(impl, ST_WAKE_REDELIVERIES, false, "t", node_id);
    return rc ? rc : s_exec(impl, ST_WAKE_RELAYS, false, "t", node_id);
}

/* ------------------------------------------------------------ redeliveries */

static egide_rc s_redeliver_start(void *impl, const char *recipient_id, const uint8_t *held_msg_id,
                                  broker_redeliver_cursor_t *cur)
{
    sqlite3_stmt *st;
    egide_rc rc = s_row(impl, ST_REDELIVER_START, &st, "kt", held_msg_id, recipient_id);
    if (rc)
        return rc;
    cur->done_ms = sqlite3_column_int64(st, 0);
    cur->seq = -1; /* the ties of done_ms: the recipient's order may differ */
    memcpy(cur->skip, held_msg_id, 16);
    egide_db_done(st);
    return EGIDE_OK;
}

/* One candidate of a redelivery page. */
typedef struct s_redeliver_row {
    uint8_t msg_id[16];
    int64_t done_ms, seq;
} s_redeliver_row_t;

static egide_rc s_redeliver_row(sqlite3_stmt *st, void *item)
{
    s_redeliver_row_t *r = item;
    if (!s_col_fixed(st, 0, r->msg_id, 16))
        return EGIDE_ERR_DB;
    r->done_ms = sqlite3_column_int64(st, 1);
    r->seq = sqlite3_column_int64(st, 2);
    return EGIDE_OK;
}

static egide_rc s_redeliver_resume(void *impl, const char *recipient_id,
                                   broker_redeliver_cursor_t *cur)
{
    sqlite3_stmt *st;
    egide_rc rc = s_row(impl, ST_CURSOR_GET, &st, "t", recipient_id);
    if (rc)
        return rc;
    cur->done_ms = sqlite3_column_int64(st, 0);
    cur->seq = sqlite3_column_int64(st, 1);
    if (!s_col_fixed(st, 2, cur->skip, 16))
        rc = EGIDE_ERR_DB;
    egide_db_done(st);
    return rc;
}

/* The candidates are read first, then queued: no write while the query
 * steps.  The cursor is kept (a full page: more may follow) or dropped
 * (none follow) in the same transaction. */
static egide_rc s_redeliver_page(void *impl, const char *recipient_id,
                                 broker_redeliver_cursor_t *cur, size_t limit, int64_t now_ms,
                                 size_t *n)
{
    s_store_t *x = impl;
    sqlite3_stmt *st = NULL;
    s_redeliver_row_t *rows = NULL;
    size_t k = 0;
    egide_rc rc = s_row(x, ST_REDELIVER_PAGE, &st, "tIIkI", recipient_id, cur->done_ms, cur->seq,
                        cur->skip, (int64_t)limit);
    rc = s_collect(x, ST_REDELIVER_PAGE, rc, st, s_redeliver_row, sizeof *rows,
                   s_nothing_to_release, (void **)&rows, &k);
    for (size_t i = 0; !rc && i < k; i++)
        rc = s_exec(x, ST_REDELIVER_INSERT, false, "tkIII", recipient_id, rows[i].msg_id,
                    rows[i].done_ms, rows[i].seq, now_ms);
    if (!rc && k > 0) {
        cur->done_ms = rows[k - 1].done_ms;
        cur->seq = rows[k - 1].seq;
    }
    if (!rc)
        rc = k == limit ? s_exec(x, ST_CURSOR_PUT, false, "tIIk", recipient_id, cur->done_ms,
                                 cur->seq, cur->skip)
                        : s_exec(x, ST_CURSOR_DROP, false, "t", recipient_id);
    if (!rc)
        *n = k;
    free(rows);
    return rc;
}

static egide_rc s_redeliveries_due(void *impl, const char *recipient_id, int64_t now_ms,
                                   size_t limit, broker_due_t **items, size_t *n)
{
    return s_due(impl, ST_REDELIVERIES_DUE, recipient_id, now_ms, limit, items, n);
}

static egide_rc s_redelivery_attempted(void *impl, const uint8_t *msg_id, const char *recipient_id,
                                       int64_t next_ms)
{
    return s_exec(impl, ST_REDELIVERY_ATTEMPTED, true, "Ikt", next_ms, msg_id, recipient_id);
}

static egide_rc s_redelivery_done(void *impl, const uint8_t *msg_id, const char *recipient_id)
{
    return s_exec(impl, ST_REDELIVERY_DONE, true, "kt", msg_id, recipient_id);
}

/* ------------------------------------------------------------ relays */

static egide_rc s_relay_queue(void *impl, const char *sender_id, const char *issuer,
                              const uint8_t *msg_id, const uint8_t *receipt, size_t len,
                              int64_t now_ms, uint64_t *id)
{
    s_store_t *x = impl;
    uint8_t rsha[32];
    egide_sha256(receipt, len, rsha);
    egide_rc rc = s_exec(x, ST_RELAY_INSERT, false, "tkbhIt", sender_id, msg_id, receipt, len, rsha,
                         now_ms, issuer);
    if (!rc)
        *id = (uint64_t)sqlite3_last_insert_rowid(x->db);
    return rc;
}

static egide_rc s_relays_due(void *impl, const char *sender_id, int64_t now_ms, size_t limit,
                             broker_due_t **items, size_t *n)
{
    return s_due(impl, ST_RELAYS_DUE, sender_id, now_ms, limit, items, n);
}

static egide_rc s_relay_attempted(void *impl, uint64_t id, int64_t next_ms)
{
    return s_exec(impl, ST_RELAY_ATTEMPTED, true, "II", next_ms, (int64_t)id);
}

static egide_rc s_relay_ack(void *impl, uint64_t id, const char *sender_id,
                            broker_relay_acked_t *out)
{
    s_store_t *x = impl;
    sqlite3_stmt *st;
    egide_rc rc = s_row(x, ST_RELAY_ACK, &st, "It", (int64_t)id, sender_id);
    if (rc)
        return rc;
    if (!s_col_fixed(st, 0, out->msg_id, 16) || !s_col_fixed(st, 1, out->receipt_sha256, 32))
        rc = EGIDE_ERR_DB;
    s_col_text(st, 2, out->issuer, sizeof out->issuer);
    /* Run the UPDATE to its end (id is a key: no second row). */
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = s_fail(x, ST_RELAY_ACK, src);
    egide_db_done(st);
    return rc;
}

static egide_rc s_counts(void *impl, uint64_t *queued, uint64_t *relays)
{
    sqlite3_stmt *st;
    egide_rc rc = s_row(impl, ST_COUNTS, &st, "");
    if (rc)
        return rc == EGIDE_ERR_NOTFOUND ? EGIDE_ERR_DB : rc;
    *queued = (uint64_t)sqlite3_column_int64(st, 0);
    *relays = (uint64_t)sqlite3_column_int64(st, 1);
    egide_db_done(st);
    return EGIDE_OK;
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
    .redeliver_start = s_redeliver_start,
    .redeliver_page = s_redeliver_page,
    .redeliver_resume = s_redeliver_resume,
    .redeliveries_due = s_redeliveries_due,
    .redelivery_attempted = s_redelivery_attempted,
    .redelivery_done = s_redelivery_done,
    .inject_fault = s_inject_fault,
};
