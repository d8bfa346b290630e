/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_store_sqlite.c - the SQLite backend of the edge store (edge_store.h):
 * the schema and its migrations, and every statement the edge runs.  This
 * file and egide_db are the only edge code that speaks SQL.
 *
 * States are bound as parameters from the typed enums of edge_store.h, never
 * written as numbers in the SQL.  Every sqlite3_step() result is checked: a
 * failure is logged once here (the operation, SQLite's message; never data)
 * and returned as EGIDE_ERR_IO (I/O error, full disk), EGIDE_ERR_NOMEM or
 * EGIDE_ERR_DB, which the edge treats as transient.  A statement comes from
 * egide_db's per-connection cache and goes back with egide_db_done().
 */
#include "edge_store.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sqlite3.h>

#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/store/egide_db.h"

/* Migration 1's DEFAULTs equal EDGE_OUT_QUEUED, EDGE_RCPT_PENDING and
 * EDGE_IN_DELIVERED; every INSERT binds the state anyway.  A migration
 * once released is never edited: add one. */
static const char *const s_migrations[] = {
    /* 1 */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB);"
    "CREATE TABLE outbox("
    "  msg_id BLOB PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, type TEXT NOT NULL,"
    "  urgency INTEGER NOT NULL, in_reply_to BLOB, created_ms INTEGER NOT NULL,"
    "  expires_ms INTEGER NOT NULL, envelope BLOB NOT NULL, sha256 BLOB NOT NULL,"
    "  state INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_ms INTEGER NOT NULL DEFAULT 0, accepted_ms INTEGER, reason INTEGER,"
    "  leaf_index INTEGER, done_ms INTEGER);"
    "CREATE INDEX outbox_queue ON outbox(state, next_ms);"
    "CREATE TABLE outbox_rcpt("
    "  msg_id BLOB NOT NULL REFERENCES outbox(msg_id), node_id TEXT NOT NULL,"
    "  state INTEGER NOT NULL DEFAULT 0, delivered_ms INTEGER, acknowledged_ms INTEGER,"
    "  reason INTEGER, PRIMARY KEY(msg_id, node_id));"
    "CREATE TABLE inbox("
    "  msg_id BLOB PRIMARY KEY, sha256 BLOB NOT NULL, sender_id TEXT NOT NULL,"
    "  type TEXT NOT NULL, urgency INTEGER NOT NULL, in_reply_to BLOB,"
    "  created_ms INTEGER NOT NULL, received_ms INTEGER NOT NULL, content_type TEXT NOT NULL,"
    "  payload BLOB NOT NULL, receipt BLOB NOT NULL, state INTEGER NOT NULL DEFAULT 1,"
    "  acknowledged_ms INTEGER);"
    "CREATE TABLE inbox_rejected("
    "  msg_id BLOB NOT NULL, sha256 BLOB NOT NULL, sender_id TEXT, reason INTEGER NOT NULL,"
    "  receipt BLOB NOT NULL, time_ms INTEGER NOT NULL, PRIMARY KEY(msg_id, sha256));"
    "CREATE TABLE receipts("
    "  sha256 BLOB PRIMARY KEY, msg_id BLOB NOT NULL, kind INTEGER NOT NULL, issuer TEXT NOT NULL,"
    "  recipient TEXT, time_ms INTEGER NOT NULL, reason INTEGER, leaf_index INTEGER,"
    "  data BLOB NOT NULL);"
    "CREATE INDEX receipts_msg ON receipts(msg_id);"
    "CREATE TABLE deadlines("
    "  msg_id TEXT NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL, label TEXT NOT NULL,"
    "  source TEXT NOT NULL, start_ms INTEGER NOT NULL, due_ms INTEGER NOT NULL,"
    "  practice INTEGER NOT NULL, PRIMARY KEY(msg_id, name));",
    /* 2: inbox listing pages by received time without a full scan. */
    "CREATE INDEX IF NOT EXISTS inbox_received ON inbox(received_ms);",
    /* 3: idempotency keys of POST /v1/messages, kept as long as the
     * outbox rows they name (never purged). */
    "CREATE TABLE idempotency("
    "  key TEXT PRIMARY KEY, request_sha256 BLOB NOT NULL, msg_id BLOB NOT NULL,"
    "  time_ms INTEGER NOT NULL);",
    /* 4: how many times a queued message was re-signed under a fresh
     * sequence after the broker refused its own as a replay (bounded). */
    "ALTER TABLE outbox ADD COLUMN resequenced INTEGER NOT NULL DEFAULT 0;",
    /* 5: cases and stored obligations (issue 11).  Messages linked by
     * in_reply_to or by the payload's case reference form a case;
     * case_msgs also holds placeholders for parents not held here.  Rows
     * stored before this migration keep case_id NULL (no backfill: their
     * deadlines were never obligations).  The old deadlines table is left
     * as it was, unread: its rows have no actor, role or case to migrate.
     * A recurring deadline (one its own closing type starts again) keeps
     * one row per occurrence, numbered from 1 within (case_id, name, year);
     * every other one has occurrence 1 only.  Changed in place: this
     * migration has not shipped. */
    "CREATE TABLE cases("
    "  id INTEGER PRIMARY KEY, ref TEXT, created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL, origin_ms INTEGER, declared_ms INTEGER);"
    "CREATE INDEX cases_ref ON cases(ref);"
    "CREATE TABLE case_msgs(msg_id BLOB PRIMARY KEY, case_id INTEGER NOT NULL);"
    "CREATE INDEX case_msgs_case ON case_msgs(case_id);"
    "ALTER TABLE inbox ADD COLUMN case_id INTEGER;"
    "ALTER TABLE inbox ADD COLUMN commune TEXT;"
    "ALTER TABLE inbox ADD COLUMN case_ref TEXT;"
    "CREATE INDEX inbox_case ON inbox(case_id);"
    "ALTER TABLE outbox ADD COLUMN case_id INTEGER;"
    "ALTER TABLE outbox ADD COLUMN commune TEXT;"
    "ALTER TABLE outbox ADD COLUMN case_ref TEXT;"
    "CREATE INDEX outbox_case ON outbox(case_id);"
    "CREATE TABLE obligations("
    "  id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL, name TEXT NOT NULL,"
    "  year INTEGER NOT NULL DEFAULT 0, actor TEXT NOT NULL,"
    "  role TEXT NOT NULL CHECK(role IN ('act', 'oversee')), start_msg BLOB NOT NULL,"
    "  start_type TEXT NOT NULL, start_ms INTEGER NOT NULL, declared_ms INTEGER,"
    "  due_ms INTEGER NOT NULL, practice INTEGER NOT NULL, label TEXT NOT NULL,"
    "  source TEXT NOT NULL, state INTEGER NOT NULL, closed_ms INTEGER, closed_by BLOB,"
    "  occurrence INTEGER NOT NULL DEFAULT 1 CHECK(occurrence >= 1),"
    "  UNIQUE(case_id, name, year, occurrence));"
    "CREATE INDEX obligations_state_due ON obligations(state, due_ms);"
    "CREATE INDEX obligations_role_state_due ON obligations(role, state, due_ms);"
    "CREATE INDEX obligations_due ON obligations(due_ms);"
    "CREATE INDEX obligations_role_due ON obligations(role, due_ms);"
    "CREATE INDEX obligations_case ON obligations(case_id);",
    /* accounts: personal accounts of the web pages (edge_accounts.h), their
     * sessions (only the SHA-256 of a session id is kept) and failed logins
     * for the lockout.  Sessions go with their account. */
    "CREATE TABLE users("
    "  name TEXT PRIMARY KEY, role INTEGER NOT NULL, pwhash TEXT NOT NULL,"
    "  disabled INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL);"
    "CREATE TABLE sessions("
    "  id_sha256 BLOB PRIMARY KEY, user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,"
    "  created_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL);"
    "CREATE INDEX sessions_user ON sessions(user);"
    "CREATE TABLE auth_failures(key TEXT NOT NULL, time_ms INTEGER NOT NULL);"
    "CREATE INDEX auth_failures_key ON auth_failures(key, time_ms);",
    /* 6, known child (edge_known_child.c): the keys of each child of a
     * received referral, never names; one partial index per key so that a
     * lookup costs the matches, newest first by received time. */
    "CREATE TABLE child_keys("
    "  msg_id BLOB NOT NULL, child INTEGER NOT NULL, status INTEGER NOT NULL,"
    "  child_key TEXT, household_key TEXT, received_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(msg_id, child));"
    "CREATE INDEX child_keys_child ON child_keys(child_key, received_ms)"
    "  WHERE child_key IS NOT NULL;"
    "CREATE INDEX child_keys_household ON child_keys(household_key, received_ms)"
    "  WHERE household_key IS NOT NULL;",
    /* 6 (wt-http): the API's pages, newest first after a cursor, with and
     * without a state filter, each an index range (no sort, no scan). */
    "CREATE INDEX IF NOT EXISTS inbox_page ON inbox(received_ms, msg_id);"
    "CREATE INDEX IF NOT EXISTS inbox_state_page ON inbox(state, received_ms, msg_id);"
    /* ... and the searches (edge_store.h, cases and search): one index per
     * leading filter, time order after it; a case's messages in time
     * order; cases by last activity. */
    "CREATE INDEX IF NOT EXISTS inbox_type_page ON inbox(type, received_ms, msg_id);"
    "CREATE INDEX IF NOT EXISTS inbox_sender_page ON inbox(sender_id, received_ms, msg_id);"
    "CREATE INDEX IF NOT EXISTS inbox_commune_page ON inbox(commune, received_ms, msg_id);"
    "CREATE INDEX IF NOT EXISTS inbox_case_time ON inbox(case_id, received_ms, msg_id);"
    "CREATE INDEX IF NOT EXISTS outbox_time_page ON outbox(created_ms, msg_id);"
    "CREATE INDEX IF NOT EXISTS outbox_type_page ON outbox(type, created_ms, msg_id);"
    "CREATE INDEX IF NOT EXISTS outbox_commune_page ON outbox(commune, created_ms, msg_id);"
    "CREATE INDEX IF NOT EXISTS outbox_state_page ON outbox(state, created_ms, msg_id);"
    "CREATE INDEX IF NOT EXISTS outbox_case_time ON outbox(case_id, created_ms, msg_id);"
    "CREATE INDEX IF NOT EXISTS cases_updated ON cases(updated_ms, id);",
    /* 7 (wt-sentcopy): the sender's own copy of what it sealed, for the
     * observatory export (outbox_range): NULL for messages queued before
     * this migration and for types that make no event.  The range reads
     * outbox_time_page (migration 6), created again here if missing. */
    "ALTER TABLE outbox ADD COLUMN content_type TEXT;"
    "ALTER TABLE outbox ADD COLUMN payload BLOB;"
    "CREATE INDEX IF NOT EXISTS outbox_time_page ON outbox(created_ms, msg_id);",
    /* 8: the totals health and /metrics show, kept by triggers in the
     * transaction of every write, so that reading them costs the same
     * whatever the store holds (counted once here, at the migration): the
     * inbox, the recipients by state, the outbox by state, the obligations
     * by state (the open ones' overdue split is read by index). */
    "CREATE TABLE counters(name TEXT PRIMARY KEY, n INTEGER NOT NULL);"
    "INSERT INTO counters SELECT 'inbox', count(*) FROM inbox;"
    "INSERT INTO counters SELECT 'rcpt' || state, count(*) FROM outbox_rcpt GROUP BY state;"
    "INSERT OR IGNORE INTO counters VALUES"
    "  ('rcpt0', 0), ('rcpt1', 0), ('rcpt2', 0), ('rcpt3', 0), ('rcpt4', 0);"
    "CREATE TRIGGER counters_inbox_ins AFTER INSERT ON inbox BEGIN"
    "  UPDATE counters SET n = n + 1 WHERE name = 'inbox'; END;"
    "CREATE TRIGGER counters_inbox_del AFTER DELETE ON inbox BEGIN"
    "  UPDATE counters SET n = n - 1 WHERE name = 'inbox'; END;"
    "CREATE TRIGGER counters_rcpt_ins AFTER INSERT ON outbox_rcpt BEGIN"
    "  UPDATE counters SET n = n + 1 WHERE name = 'rcpt' || NEW.state; END;"
    "CREATE TRIGGER counters_rcpt_del AFTER DELETE ON outbox_rcpt BEGIN"
    "  UPDATE counters SET n = n - 1 WHERE name = 'rcpt' || OLD.state; END;"
    "CREATE TRIGGER counters_rcpt_upd AFTER UPDATE OF state ON outbox_rcpt"
    "  WHEN OLD.state <> NEW.state BEGIN"
    "  UPDATE counters SET n = n - 1 WHERE name = 'rcpt' || OLD.state;"
    "  UPDATE counters SET n = n + 1 WHERE name = 'rcpt' || NEW.state; END;"
    /* ... the outbox by state, and the obligations by state (their closed
     * states grow with the years; the open ones are read by index). */
    "INSERT INTO counters SELECT 'out' || state, count(*) FROM outbox GROUP BY state;"
    "INSERT OR IGNORE INTO counters VALUES ('out0', 0), ('out1', 0), ('out2', 0), ('out3', 0);"
    "CREATE TRIGGER counters_out_ins AFTER INSERT ON outbox BEGIN"
    "  UPDATE counters SET n = n + 1 WHERE name = 'out' || NEW.state; END;"
    "CREATE TRIGGER counters_out_del AFTER DELETE ON outbox BEGIN"
    "  UPDATE counters SET n = n - 1 WHERE name = 'out' || OLD.state; END;"
    "CREATE TRIGGER counters_out_upd AFTER UPDATE OF state ON outbox"
    "  WHEN OLD.state <> NEW.state BEGIN"
    "  UPDATE counters SET n = n - 1 WHERE name = 'out' || OLD.state;"
    "  UPDATE counters SET n = n + 1 WHERE name = 'out' || NEW.state; END;"
    "INSERT INTO counters SELECT 'obl' || state, count(*) FROM obligations GROUP BY state;"
    "INSERT OR IGNORE INTO counters VALUES"
    "  ('obl0', 0), ('obl1', 0), ('obl2', 0), ('obl3', 0), ('obl4', 0);"
    "CREATE TRIGGER counters_obl_ins AFTER INSERT ON obligations BEGIN"
    "  UPDATE counters SET n = n + 1 WHERE name = 'obl' || NEW.state; END;"
    "CREATE TRIGGER counters_obl_del AFTER DELETE ON obligations BEGIN"
    "  UPDATE counters SET n = n - 1 WHERE name = 'obl' || OLD.state; END;"
    "CREATE TRIGGER counters_obl_upd AFTER UPDATE OF state ON obligations"
    "  WHEN OLD.state <> NEW.state BEGIN"
    "  UPDATE counters SET n = n - 1 WHERE name = 'obl' || OLD.state;"
    "  UPDATE counters SET n = n + 1 WHERE name = 'obl' || NEW.state; END;",
    /* 9: the searches' indexes cover every column their residual filters
     * read (type, state, urgency, commune, sender, case reference), and the
     * case list's covers its rows: a search looks at index entries only
     * until it has its page (s_msg_search), and a total counts index
     * entries, never table rows (which, in the inbox and outbox, keep their
     * late columns behind the payload's overflow pages).  Same names and
     * leading columns as before, so every plan keeps its order; built once,
     * at this migration. */
    "DROP INDEX IF EXISTS inbox_page;"
    "CREATE INDEX inbox_page ON inbox(received_ms, msg_id, type, state, urgency, commune,"
    "  sender_id, case_ref);"
    "DROP INDEX IF EXISTS inbox_state_page;"
    "CREATE INDEX inbox_state_page ON inbox(state, received_ms, msg_id, type, urgency, commune,"
    "  sender_id, case_ref);"
    "DROP INDEX IF EXISTS inbox_type_page;"
    "CREATE INDEX inbox_type_page ON inbox(type, received_ms, msg_id, state, urgency, commune,"
    "  sender_id, case_ref);"
    "DROP INDEX IF EXISTS inbox_sender_page;"
    "CREATE INDEX inbox_sender_page ON inbox(sender_id, received_ms, msg_id, type, state, urgency,"
    "  commune, case_ref);"
    "DROP INDEX IF EXISTS inbox_commune_page;"
    "CREATE INDEX inbox_commune_page ON inbox(commune, received_ms, msg_id, type, state, urgency,"
    "  sender_id, case_ref);"
    "DROP INDEX IF EXISTS outbox_time_page;"
    "CREATE INDEX outbox_time_page ON outbox(created_ms, msg_id, type, state, urgency, commune,"
    "  case_ref);"
    "DROP INDEX IF EXISTS outbox_type_page;"
    "CREATE INDEX outbox_type_page ON outbox(type, created_ms, msg_id, state, urgency, commune,"
    "  case_ref);"
    "DROP INDEX IF EXISTS outbox_commune_page;"
    "CREATE INDEX outbox_commune_page ON outbox(commune, created_ms, msg_id, type, state, urgency,"
    "  case_ref);"
    "DROP INDEX IF EXISTS outbox_state_page;"
    "CREATE INDEX outbox_state_page ON outbox(state, created_ms, msg_id, type, urgency, commune,"
    "  case_ref);"
    "DROP INDEX IF EXISTS cases_updated;"
    "CREATE INDEX cases_updated ON cases(updated_ms, id, ref, created_ms, origin_ms, declared_ms);",
    /* 10 (wt-trail): the index of the edge's own trail of who read what
     * (edge_trail.c).  The trail itself is the audit log's tables
     * (egide_auditstore_sqlite.c: audit_leaves, audit_hashes, ...) in this
     * database; this table only finds an entry's index by account or by
     * message, an index range each, and is append-only like them.  Every
     * row repeats what its leaf says, which `verify` checks. */
    "CREATE TABLE trail_index(idx INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL,"
    "  account TEXT NOT NULL, msg_id BLOB, case_id INTEGER);"
    "CREATE INDEX trail_by_account ON trail_index(account, idx);"
    "CREATE INDEX trail_by_msg ON trail_index(msg_id, idx);"
    "CREATE INDEX trail_by_msg_account ON trail_index(msg_id, account, idx);"
    "CREATE TRIGGER trail_index_no_update BEFORE UPDATE ON trail_index"
    "  BEGIN SELECT RAISE(ABORT, 'the trail is append-only'); END;"
    "CREATE TRIGGER trail_index_no_delete BEFORE DELETE ON trail_index"
    "  BEGIN SELECT RAISE(ABORT, 'the trail is append-only'); END;"
    "CREATE TRIGGER trail_index_no_replace BEFORE INSERT ON trail_index"
    "  WHEN EXISTS (SELECT 1 FROM trail_index WHERE idx = NEW.idx)"
    "  BEGIN SELECT RAISE(ABORT, 'the trail is append-only'); END;",
    /* 11 (wt-reseal): the sender's kept copy of a queued message's content
     * key, sealed to this node's own encryption key
     * (egide_envelope_seal_kept), so that a message refused because a
     * recipient's key was renewed before the broker took it can be sealed
     * again (outbox_reseal counts it in resealed).  NULL for messages
     * queued before this migration.  Erased by the trigger as soon as the
     * message leaves QUEUED (accepted, rejected, expired), whatever writes
     * the state. */
    "ALTER TABLE outbox ADD COLUMN kept_cek BLOB;"
    "ALTER TABLE outbox ADD COLUMN resealed INTEGER NOT NULL DEFAULT 0;"
    "CREATE TRIGGER outbox_kept_erase AFTER UPDATE OF state ON outbox"
    "  WHEN NEW.state <> 0 AND NEW.kept_cek IS NOT NULL BEGIN"
    "  UPDATE outbox SET kept_cek = NULL WHERE msg_id = NEW.msg_id; END;",
    /* 14: expiry reads only what can expire.  It used to look for the
     * pending recipients of every message whose expiry had passed, through
     * the whole outbox (every message ever sent: 10^6 for a decade of a
     * CRIP), five times a second, holding the writer lock.  Each recipient
     * row now carries its message's expiry (set at the insert; the trigger
     * fills it for an insert that did not; at the migration only pending
     * rows need it: no recipient goes back to pending), and two partial
     * indexes hold only the pending recipients and the queued messages
     * (state 0: EDGE_RCPT_PENDING, EDGE_OUT_QUEUED). */
    "ALTER TABLE outbox_rcpt ADD COLUMN expires_ms INTEGER;"
    "UPDATE outbox_rcpt SET expires_ms = (SELECT o.expires_ms FROM outbox o"
    "  WHERE o.msg_id = outbox_rcpt.msg_id) WHERE state = 0;"
    "CREATE INDEX outbox_rcpt_expiry ON outbox_rcpt(expires_ms) WHERE state = 0;"
    "CREATE INDEX outbox_queued_expiry ON outbox(expires_ms) WHERE state = 0;"
    "CREATE TRIGGER outbox_rcpt_expiry_fill AFTER INSERT ON outbox_rcpt"
    "  WHEN NEW.expires_ms IS NULL BEGIN"
    "  UPDATE outbox_rcpt SET expires_ms = (SELECT o.expires_ms FROM outbox o"
    "    WHERE o.msg_id = NEW.msg_id) WHERE msg_id = NEW.msg_id AND node_id = NEW.node_id; END;",
};

typedef struct s_store {
    edge_store_t base;      /* must be first: the handle callers hold */
    sqlite3 *db;            /* one connection, one thread at a time */
    pthread_mutex_t *wlock; /* the process's writers' (edge_store_sqlite_share_writes) */
    bool wlocked;           /* held by this handle's open transaction */
} s_store_t;

#define S_WLOCK_WAIT_MS 10000 /* as long as SQLite's busy timeout (egide_db_open) */

#define DB(s) (((s_store_t *)(s))->db)

/* ------------------------------------------------------------ helpers */

static egide_rc s_fail(sqlite3 *db, const char *op, int src)
{
    egide_log(EGIDE_LOG_ERROR, "edge store: %s: %s (%d)", op, sqlite3_errmsg(db),
              sqlite3_extended_errcode(db));
    egide_rc rc = egide_db_rc(src);
    return rc == EGIDE_OK ? EGIDE_ERR_DB : rc;
}

/* Step a statement that returns no row; done with it either way. */
static egide_rc s_exec(sqlite3 *db, sqlite3_stmt *st, const char *op)
{
    int r = sqlite3_step(st);
    egide_rc rc = r == SQLITE_DONE ? EGIDE_OK : s_fail(db, op, r);
    egide_db_done(st);
    return rc;
}

/* Step a write and report whether it changed a row. */
static egide_rc s_exec_changed(sqlite3 *db, sqlite3_stmt *st, const char *op, bool *changed)
{
    egide_rc rc = s_exec(db, st, op);
    if (changed)
        *changed = rc == EGIDE_OK && sqlite3_changes(db) > 0;
    return rc;
}

/* One write statement: prepare sql (a string literal), bind the arguments
 * by fmt - 'i' int (states, reasons), 'I' int64_t (times, indexes), 'd' a
 * 16-byte id, 't' text - run it, and report in *changed (may be NULL)
 * whether a row changed. */
static egide_rc s_write(edge_store_t *s, const char *sql, const char *op, bool *changed,
                        const char *fmt, ...)
{
    if (changed)
        *changed = false;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s), sql, &st);
    if (rc)
        return rc;
    va_list ap;
    va_start(ap, fmt);
    for (int i = 1; fmt[i - 1]; i++) {
        switch (fmt[i - 1]) {
        case 'i':
            sqlite3_bind_int(st, i, va_arg(ap, int));
            break;
        case 'I':
            sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
            break;
        case 'd':
            sqlite3_bind_blob(st, i, va_arg(ap, const uint8_t *), 16, SQLITE_STATIC);
            break;
        default: /* 't' */
            sqlite3_bind_text(st, i, va_arg(ap, const char *), -1, SQLITE_STATIC);
            break;
        }
    }
    va_end(ap);
    return s_exec_changed(DB(s), st, op, changed);
}

/* Step a query: EGIDE_OK with *row true/false, or the error. */
static egide_rc s_row(sqlite3 *db, sqlite3_stmt *st, const char *op, bool *row)
{
    int r = sqlite3_step(st);
    *row = r == SQLITE_ROW;
    if (r == SQLITE_ROW || r == SQLITE_DONE)
        return EGIDE_OK;
    return s_fail(db, op, r);
}

static void s_text(char *dst, size_t size, sqlite3_stmt *st, int col)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    egide_strlcpy(dst, t ? t : "", size);
}

/* Copy an exact-size blob column; false (and dst zeroed) when NULL or
 * another size. */
static bool s_blob(uint8_t *dst, size_t n, sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_BLOB && (size_t)sqlite3_column_bytes(st, col) == n) {
        memcpy(dst, sqlite3_column_blob(st, col), n);
        return true;
    }
    memset(dst, 0, n);
    return false;
}

/* A copy of a blob column, NUL-terminated beyond *len. */
static egide_rc s_dup(sqlite3_stmt *st, int col, uint8_t **out, size_t *len)
{
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    *out = malloc(n + 1);
    if (!*out)
        return EGIDE_ERR_NOMEM;
    if (n)
        memcpy(*out, sqlite3_column_blob(st, col), n);
    (*out)[n] = 0;
    *len = n;
    return EGIDE_OK;
}

static bool s_has(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) != SQLITE_NULL;
}

static void s_bind_opt_id(sqlite3_stmt *st, int i, const uint8_t *id)
{
    if (id)
        sqlite3_bind_blob(st, i, id, 16, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* A growing array of rows of `size` bytes for the list reads. */
static egide_rc s_grow(void **rows, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return EGIDE_OK;
    size_t nc = *cap ? *cap * 2 : 16;
    void *p = realloc(*rows, nc * size);
    if (!p)
        return EGIDE_ERR_NOMEM;
    *rows = p;
    *cap = nc;
    return EGIDE_OK;
}

/* Fill one row of a list read from the current result row. */
typedef void (*s_fill_fn)(sqlite3_stmt *st, void *row);

/* Step st to the end, one row of `size` bytes per result row; done with st
 * either way.  On error nothing is returned. */
static egide_rc s_collect(sqlite3 *db, sqlite3_stmt *st, const char *op, size_t size,
                          s_fill_fn fill, void **rows, size_t *n)
{
    size_t cap = 0;
    egide_rc rc;
    *rows = NULL;
    *n = 0;
    for (;;) {
        bool row;
        rc = s_row(db, st, op, &row);
        if (rc || !row)
            break;
        rc = s_grow(rows, &cap, *n, size);
        if (rc)
            break;
        void *r = (char *)*rows + *n * size;
        memset(r, 0, size);
        fill(st, r);
        (*n)++;
    }
    egide_db_done(st);
    if (rc) {
        free(*rows);
        *rows = NULL;
        *n = 0;
    }
    return rc;
}

/* ------------------------------------------------------------ lifecycle */

static egide_rc s_open(const char *path, edge_store_t **out)
{
    if (!path || !out)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    s_store_t *s = calloc(1, sizeof *s);
    if (!s)
        return EGIDE_ERR_NOMEM;
    s->base.ops = &edge_store_sqlite_ops;
    egide_rc rc = egide_db_open(path, false, &s->db);
    if (!rc)
        rc = egide_db_migrate(s->db, s_migrations, sizeof s_migrations / sizeof s_migrations[0]);
    if (rc) {
        egide_db_close(&s->db);
        free(s);
        return rc;
    }
    *out = &s->base;
    return EGIDE_OK;
}

static void s_close(edge_store_t **sp)
{
    if (!sp || !*sp)
        return;
    s_store_t *s = (s_store_t *)*sp;
    egide_db_close(&s->db); /* an open transaction rolled back */
    if (s->wlocked && s->wlock)
        pthread_mutex_unlock(s->wlock);
    free(s);
    *sp = NULL;
}

/* The shared writer lock is held exactly while this handle has a write
 * transaction open: taken before BEGIN, given back once no transaction
 * is open any more (committed, rolled back, or ended by SQLite itself). */
static void s_wunlock(s_store_t *x)
{
    if (x->wlocked && x->wlock && sqlite3_get_autocommit(x->db)) {
        x->wlocked = false;
        pthread_mutex_unlock(x->wlock);
    }
}

static egide_rc s_begin(edge_store_t *s)
{
    if (!s)
        return EGIDE_ERR_INVALID;
    s_store_t *x = (s_store_t *)s;
    s_wunlock(x); /* a transaction SQLite ended by itself since */
    if (!sqlite3_get_autocommit(DB(s)))
        return EGIDE_ERR_STATE;
    if (x->wlock && !x->wlocked) {
        struct timespec until; /* monotonic: a clock set meanwhile changes nothing */
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += S_WLOCK_WAIT_MS / 1000;
        if (pthread_mutex_clocklock(x->wlock, CLOCK_MONOTONIC, &until) != 0) {
            egide_log(EGIDE_LOG_ERROR, "edge store: another writer held the database for %d s",
                      S_WLOCK_WAIT_MS / 1000);
            return EGIDE_ERR_TIMEOUT;
        }
        x->wlocked = true;
    }
    egide_rc rc = egide_db_begin(DB(s));
    s_wunlock(x);
    return rc;
}

static egide_rc s_commit(edge_store_t *s)
{
    if (!s)
        return EGIDE_ERR_INVALID;
    /* SQLite rolls a transaction back by itself after some errors (a full
     * disk, an I/O error): a COMMIT then would "succeed" on nothing. */
    if (sqlite3_get_autocommit(DB(s))) {
        s_wunlock((s_store_t *)s);
        return EGIDE_ERR_STATE;
    }
    egide_rc rc = egide_db_commit(DB(s));
    s_wunlock((s_store_t *)s); /* a failed COMMIT leaves it open: the rollback gives it back */
    return rc;
}

static void s_rollback(edge_store_t *s)
{
    if (s && !sqlite3_get_autocommit(DB(s)))
        egide_db_rollback(DB(s));
    if (s)
        s_wunlock((s_store_t *)s);
}

void edge_store_sqlite_share_writes(edge_store_t *s, pthread_mutex_t *lock)
{
    if (!s || s->ops->open != s_open)
        return;
    s_store_t *x = (s_store_t *)s;
    if (x->wlocked)
        return; /* not while a transaction holds the lock there is */
    x->wlock = lock;
}

static egide_rc s_mark(edge_store_t *s)
{
    if (!s)
        return EGIDE_ERR_INVALID;
    if (sqlite3_get_autocommit(DB(s)))
        return EGIDE_ERR_STATE; /* a savepoint now would open a transaction of its own */
    return egide_db_exec(DB(s), "SAVEPOINT edge_request");
}

static egide_rc s_unmark(edge_store_t *s, bool undo)
{
    if (!s)
        return EGIDE_ERR_INVALID;
    /* After a full disk or an I/O error SQLite may have ended the whole
     * transaction: the savepoint is gone with it, and nothing is kept. */
    if (sqlite3_get_autocommit(DB(s)))
        return EGIDE_ERR_STATE;
    egide_rc rc = undo ? egide_db_exec(DB(s), "ROLLBACK TO edge_request") : EGIDE_OK;
    if (!rc)
        rc = egide_db_exec(DB(s), "RELEASE edge_request");
    if (!rc && sqlite3_get_autocommit(DB(s)))
        rc = EGIDE_ERR_STATE;
    return rc;
}

/* ------------------------------------------------------------ meta */

static egide_rc s_meta_get(edge_store_t *s, const char *key, uint8_t **val, size_t *len)
{
    if (!s || !key || !val || !len)
        return EGIDE_ERR_INVALID;
    *val = NULL;
    *len = 0;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s), "SELECT value FROM meta WHERE key=?", &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    bool row;
    rc = s_row(DB(s), st, "meta get", &row);
    if (!rc)
        rc = row ? s_dup(st, 0, val, len) : EGIDE_ERR_NOTFOUND;
    egide_db_done(st);
    return rc;
}

static egide_rc s_meta_put(edge_store_t *s, const char *key, const void *val, size_t len)
{
    if (!s || !key || (!val && len) || len > INT32_MAX)
        return EGIDE_ERR_INVALID;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s), "INSERT OR REPLACE INTO meta(key, value) VALUES(?,?)", &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, val ? val : "", (int)len, SQLITE_STATIC);
    return s_exec(DB(s), st, "meta put");
}

static egide_rc s_next_seq(edge_store_t *s, uint64_t *seq)
{
    if (!s || !seq)
        return EGIDE_ERR_INVALID;
    sqlite3_stmt *st;
    egide_rc rc =
        egide_db_stmt(DB(s),
                      "INSERT INTO meta(key, value) VALUES('seq', 1) ON CONFLICT(key) DO UPDATE SET"
                      " value=value+1 RETURNING value",
                      &st);
    if (rc)
        return rc;
    bool row;
    rc = s_row(DB(s), st, "next seq", &row);
    if (!rc && !row)
        rc = EGIDE_ERR_DB;
    if (!rc)
        *seq = (uint64_t)sqlite3_column_int64(st, 0);
    /* RETURNING: the write completes on the step that returns DONE. */
    if (!rc) {
        int r = sqlite3_step(st);
        if (r != SQLITE_DONE)
            rc = s_fail(DB(s), "next seq", r);
    }
    egide_db_done(st);
    return rc;
}

/* The number next_seq would give now (1 when none was ever given). */
static egide_rc s_seq_peek(edge_store_t *s, uint64_t *next)
{
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s), "SELECT value FROM meta WHERE key='seq'", &st);
    if (rc)
        return rc;
    bool row;
    rc = s_row(DB(s), st, "seq peek", &row);
    if (!rc) {
        int64_t v = row ? sqlite3_column_int64(st, 0) : 0;
        *next = v > 0 ? (uint64_t)v + 1 : 1;
    }
    egide_db_done(st);
    return rc;
}

static egide_rc s_seq_raise(edge_store_t *s, uint64_t last_used, uint64_t *before, uint64_t *after)
{
    if (!s)
        return EGIDE_ERR_INVALID;
    if (last_used >= (uint64_t)INT64_MAX)
        return EGIDE_ERR_LIMIT;
    uint64_t b = 0;
    egide_rc rc = s_seq_peek(s, &b);
    if (rc)
        return rc;
    /* One statement, so the counter only ever grows even without the
     * caller's transaction (the API's handle gives numbers too). */
    sqlite3_stmt *st;
    rc = egide_db_stmt(DB(s),
                       "INSERT INTO meta(key, value) VALUES('seq', ?1) ON CONFLICT(key) DO UPDATE"
                       " SET value=max(CAST(value AS INTEGER), ?1)",
                       &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, (int64_t)last_used);
    rc = s_exec(DB(s), st, "seq raise");
    uint64_t a = 0;
    if (!rc)
        rc = s_seq_peek(s, &a);
    if (rc)
        return rc;
    if (before)
        *before = b;
    if (after)
        *after = a;
    return EGIDE_OK;
}

static egide_rc s_seq_lower(edge_store_t *s, uint64_t last_used, uint64_t limit, uint64_t *after)
{
    if (!s)
        return EGIDE_ERR_INVALID;
    if (last_used >= (uint64_t)INT64_MAX || limit >= (uint64_t)INT64_MAX || limit < last_used)
        return EGIDE_ERR_LIMIT;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(
        DB(s),
        "INSERT INTO meta(key, value) VALUES('seq', max(?1, coalesce((SELECT max(seq) FROM outbox"
        " WHERE seq <= ?2), 0))) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
        &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, (int64_t)last_used);
    sqlite3_bind_int64(st, 2, (int64_t)limit);
    rc = s_exec(DB(s), st, "seq lower");
    uint64_t a = 0;
    if (!rc)
        rc = s_seq_peek(s, &a);
    if (!rc && after)
        *after = a;
    return rc;
}

/* ------------------------------------------------------------ cases */

static bool s_str_set(const char *v)
{
    return v && v[0];
}

/* One int64 from a one-row query on a statement already bound; *found
 * false (and EGIDE_OK) when no row or NULL. */
static egide_rc s_one_id(sqlite3 *db, sqlite3_stmt *st, const char *op, int64_t *v, bool *found)
{
    bool row;
    egide_rc rc = s_row(db, st, op, &row);
    *found = !rc && row && s_has(st, 0);
    if (*found)
        *v = sqlite3_column_int64(st, 0);
    egide_db_done(st);
    return rc;
}

/* The case of an id in case_msgs (held message or placeholder). */
static egide_rc s_case_of_id(edge_store_t *s, const uint8_t *id, int64_t *case_id, bool *found)
{
    *found = false;
    if (!id)
        return EGIDE_OK;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s), "SELECT case_id FROM case_msgs WHERE msg_id=?", &st);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, id, 16, SQLITE_STATIC);
    return s_one_id(DB(s), st, "case of message", case_id, found);
}

static egide_rc s_case_of_ref(edge_store_t *s, const char *ref, int64_t *case_id, bool *found)
{
    *found = false;
    if (!s_str_set(ref))
        return EGIDE_OK;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s), "SELECT min(id) FROM cases WHERE ref=?", &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, ref, -1, SQLITE_STATIC);
    return s_one_id(DB(s), st, "case of reference", case_id, found);
}

/* Rules 1-3 of edge_store.h, nothing written. */
static egide_rc s_case_lookup(edge_store_t *s, const uint8_t *msg_id, const uint8_t *in_reply_to,
                              const char *ref, int64_t *case_id, bool *found)
{
    egide_rc rc = s_case_of_id(s, msg_id, case_id, found);
    if (!rc && !*found)
        rc = s_case_of_id(s, in_reply_to, case_id, found);
    if (!rc && !*found)
        rc = s_case_of_ref(s, ref, case_id, found);
    return rc;
}

/* Join the message just written to `box` (a string literal: "inbox" or
 * "outbox") to its case, creating one when none applies (edge_store.h). */
static egide_rc s_case_join(edge_store_t *s, const char *box, const uint8_t *msg_id,
                            const uint8_t *in_reply_to, const char *ref, const char *commune,
                            int64_t time_ms, int64_t *out)
{
    int64_t cid = 0;
    bool found = false;
    const char *r = s_str_set(ref) ? ref : NULL;
    egide_rc rc = s_case_lookup(s, msg_id, in_reply_to, r, &cid, &found);
    if (rc)
        return rc;
    if (!found) {
        sqlite3_stmt *st;
        rc = egide_db_stmt(DB(s),
                           "INSERT INTO cases(ref, created_ms, updated_ms) VALUES(?1,?2,?2)"
                           " RETURNING id",
                           &st);
        if (rc)
            return rc;
        if (r)
            sqlite3_bind_text(st, 1, r, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, time_ms);
        bool row;
        rc = s_row(DB(s), st, "case new", &row);
        if (!rc && !row)
            rc = EGIDE_ERR_DB;
        if (!rc)
            cid = sqlite3_column_int64(st, 0);
        if (!rc) {
            int x = sqlite3_step(st);
            if (x != SQLITE_DONE)
                rc = s_fail(DB(s), "case new", x);
        }
        egide_db_done(st);
    } else {
        rc = s_write(s,
                     "UPDATE cases SET updated_ms=max(updated_ms, ?), ref=coalesce(ref, ?)"
                     " WHERE id=?",
                     "case update", NULL, "ItI", time_ms, r, cid);
    }
    if (!rc)
        rc = s_write(s, "INSERT OR IGNORE INTO case_msgs(msg_id, case_id) VALUES(?,?)",
                     "case message", NULL, "dI", msg_id, cid);
    if (!rc && in_reply_to)
        rc = s_write(s, "INSERT OR IGNORE INTO case_msgs(msg_id, case_id) VALUES(?,?)",
                     "case parent", NULL, "dI", in_reply_to, cid);
    if (!rc)
        rc = strcmp(box, "inbox") == 0
                 ? s_write(s, "UPDATE inbox SET case_id=?, commune=?, case_ref=? WHERE msg_id=?",
                           "inbox case", NULL, "Ittd", cid, s_str_set(commune) ? commune : NULL, r,
                           msg_id)
                 : s_write(s, "UPDATE outbox SET case_id=?, commune=?, case_ref=? WHERE msg_id=?",
                           "outbox case", NULL, "Ittd", cid, s_str_set(commune) ? commune : NULL, r,
                           msg_id);
    if (!rc && out)
        *out = cid;
    return rc;
}

static egide_rc s_case_get(edge_store_t *s, int64_t case_id, edge_case_row_t *row)
{
    if (!s || !row || case_id <= 0)
        return EGIDE_ERR_INVALID;
    memset(row, 0, sizeof *row);
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s),
                                "SELECT id, ref, created_ms, updated_ms, origin_ms, declared_ms"
                                " FROM cases WHERE id=?",
                                &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, case_id);
    bool found;
    rc = s_row(DB(s), st, "case get", &found);
    if (!rc && !found)
        rc = EGIDE_ERR_NOTFOUND;
    if (!rc) {
        row->id = sqlite3_column_int64(st, 0);
        s_text(row->ref, sizeof row->ref, st, 1);
        row->created_ms = sqlite3_column_int64(st, 2);
        row->updated_ms = sqlite3_column_int64(st, 3);
        row->has_origin = s_has(st, 4);
        row->origin_ms = sqlite3_column_int64(st, 4);
        row->has_declared = s_has(st, 5);
        row->declared_ms = sqlite3_column_int64(st, 5);
    }
    egide_db_done(st);
    return rc;
}

static egide_rc s_case_find(edge_store_t *s, const uint8_t *msg_id, const uint8_t *in_reply_to,
                            const char *case_ref, int64_t *case_id)
{
    if (!s || !case_id || (!msg_id && !in_reply_to && !s_str_set(case_ref)))
        return EGIDE_ERR_INVALID;
    *case_id = 0;
    bool found = false;
    egide_rc rc = s_case_lookup(s, msg_id, in_reply_to, case_ref, case_id, &found);
    return rc ? rc : found ? EGIDE_OK : EGIDE_ERR_NOTFOUND;
}

static egide_rc s_case_of(edge_store_t *s, const uint8_t msg_id[16], int64_t *case_id)
{
    if (!s || !msg_id || !case_id)
        return EGIDE_ERR_INVALID;
    *case_id = 0;
    bool found = false;
    egide_rc rc = s_case_of_id(s, msg_id, case_id, &found);
    return rc ? rc : found ? EGIDE_OK : EGIDE_ERR_NOTFOUND;
}

static egide_rc s_case_origin(edge_store_t *s, int64_t case_id, int64_t origin_ms,
                              int64_t declared_ms, bool *changed)
{
    if (changed)
        *changed = false;
    if (!s || case_id <= 0)
        return EGIDE_ERR_INVALID;
    bool ch = false;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s),
                                "UPDATE cases SET origin_ms=?, declared_ms=? WHERE id=?"
                                " AND origin_ms IS NULL",
                                &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, origin_ms);
    if (declared_ms)
        sqlite3_bind_int64(st, 2, declared_ms);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_int64(st, 3, case_id);
    rc = s_exec_changed(DB(s), st, "case origin", &ch);
    if (changed)
        *changed = ch;
    if (!rc && !ch) {
        edge_case_row_t row;
        rc = s_case_get(s, case_id, &row);
    }
    return rc;
}

/* ------------------------------------------------------------ obligations */

static bool s_oblig_ok(const edge_obligation_t *o)
{
    return o->name[0] && o->actor[0] && o->label[0] && o->source[0] && o->start_type[0] &&
           o->case_id >= 0 && o->year >= 0 &&
           (o->role == EDGE_OBLIG_ACT || o->role == EDGE_OBLIG_OVERSEE);
}

static egide_rc s_obligation_open(edge_store_t *s, const edge_obligation_t *o, bool *created,
                                  int64_t *id)
{
    if (created)
        *created = false;
    if (id)
        *id = 0;
    if (!s || !o || !s_oblig_ok(o))
        return EGIDE_ERR_INVALID;
    sqlite3_stmt *st;
    /* Non-recurring: occurrence 1, the first row wins.  Recurring: the next
     * occurrence, unless one is still open (its closing message has not
     * come) or this message started one already (noted twice). */
    egide_rc rc = egide_db_stmt(
        DB(s),
        o->recurring
            ? "INSERT INTO obligations(case_id, name, year, actor, role, start_msg,"
              " start_type, start_ms, declared_ms, due_ms, practice, label, source, state,"
              " occurrence)"
              " SELECT ?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,"
              " (SELECT coalesce(max(occurrence), 0) + 1 FROM obligations"
              "  WHERE case_id=?1 AND name=?2 AND year=?3)"
              " WHERE NOT EXISTS(SELECT 1 FROM obligations WHERE case_id=?1 AND name=?2"
              "  AND year=?3 AND (state=?14 OR start_msg=?6))"
            : "INSERT OR IGNORE INTO obligations(case_id, name, year, actor, role, start_msg,"
              " start_type, start_ms, declared_ms, due_ms, practice, label, source, state)"
              " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)",
        &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, o->case_id);
    sqlite3_bind_text(st, 2, o->name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, o->year);
    sqlite3_bind_text(st, 4, o->actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, edge_oblig_role_name(o->role), -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 6, o->start_msg, 16, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, o->start_type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, o->start_ms);
    if (o->declared_ms)
        sqlite3_bind_int64(st, 9, o->declared_ms);
    sqlite3_bind_int64(st, 10, o->due_ms);
    sqlite3_bind_int(st, 11, o->practice ? 1 : 0);
    sqlite3_bind_text(st, 12, o->label, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 13, o->source, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 14, EGIDE_DEADLINE_OPEN);
    bool ch = false;
    rc = s_exec_changed(DB(s), st, "obligation open", &ch);
    if (rc)
        return rc;
    if (created)
        *created = ch;
    if (!id)
        return EGIDE_OK;
    /* The row just inserted, or the one held: the latest occurrence. */
    rc = egide_db_stmt(DB(s),
                       "SELECT id FROM obligations WHERE case_id=? AND name=? AND year=?"
                       " ORDER BY occurrence DESC LIMIT 1",
                       &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, o->case_id);
    sqlite3_bind_text(st, 2, o->name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, o->year);
    bool found = false;
    rc = s_one_id(DB(s), st, "obligation id", id, &found);
    return rc ? rc : found ? EGIDE_OK : EGIDE_ERR_DB;
}

static egide_rc s_obligation_close(edge_store_t *s, int64_t case_id, const char *name, int year,
                                   int role, bool released, int64_t closed_ms,
                                   const uint8_t closed_by[16], size_t *n)
{
    if (n)
        *n = 0;
    if (!s || case_id < 0 || !name || !name[0] || !closed_by || role > EDGE_OBLIG_OVERSEE)
        return EGIDE_ERR_INVALID;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(
        DB(s),
        "UPDATE obligations SET state=CASE WHEN ?1 THEN ?2 WHEN ?3<=due_ms THEN ?4 ELSE ?5 END,"
        " closed_ms=?3, closed_by=?6 WHERE case_id=?7 AND name=?8 AND (?9<=0 OR year=?9)"
        " AND (?10 IS NULL OR role=?10) AND state=?11 AND start_msg<>?6",
        &st);
    if (rc)
        return rc;
    sqlite3_bind_int(st, 1, released ? 1 : 0);
    sqlite3_bind_int(st, 2, EGIDE_DEADLINE_RELEASED);
    sqlite3_bind_int64(st, 3, closed_ms);
    sqlite3_bind_int(st, 4, EGIDE_DEADLINE_MET);
    sqlite3_bind_int(st, 5, EGIDE_DEADLINE_LATE);
    sqlite3_bind_blob(st, 6, closed_by, 16, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, case_id);
    sqlite3_bind_text(st, 8, name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 9, year);
    if (role >= 0)
        sqlite3_bind_text(st, 10, edge_oblig_role_name(role), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 11, EGIDE_DEADLINE_OPEN);
    rc = s_exec(DB(s), st, "obligation close");
    if (!rc && n)
        *n = (size_t)sqlite3_changes(DB(s));
    return rc;
}

#define OBLIG_COLS                                                                                 \
    "id, case_id, name, year, actor, role, start_msg, start_type, start_ms, declared_ms, due_ms,"  \
    " practice, label, source, state, closed_ms, closed_by, occurrence"

static void s_oblig_row(sqlite3_stmt *st, void *row)
{
    edge_obligation_t *o = row;
    o->id = sqlite3_column_int64(st, 0);
    o->case_id = sqlite3_column_int64(st, 1);
    s_text(o->name, sizeof o->name, st, 2);
    o->year = sqlite3_column_int(st, 3);
    s_text(o->actor, sizeof o->actor, st, 4);
    char role[16];
    s_text(role, sizeof role, st, 5);
    edge_oblig_role r = EDGE_OBLIG_ACT;
    if (edge_oblig_role_parse(role, &r) == EGIDE_OK)
        o->role = r;
    s_blob(o->start_msg, 16, st, 6);
    s_text(o->start_type, sizeof o->start_type, st, 7);
    o->start_ms = sqlite3_column_int64(st, 8);
    o->declared_ms = sqlite3_column_int64(st, 9);
    o->due_ms = sqlite3_column_int64(st, 10);
    o->practice = sqlite3_column_int(st, 11) != 0;
    s_text(o->label, sizeof o->label, st, 12);
    s_text(o->source, sizeof o->source, st, 13);
    o->state = (egide_deadline_state)sqlite3_column_int(st, 14);
    o->closed_ms = sqlite3_column_int64(st, 15);
    o->has_closed_by = s_blob(o->closed_by, 16, st, 16);
    o->occurrence = sqlite3_column_int(st, 17);
}

/* The filter's WHERE tail, shared by every shape below.  Parameters:
 *   ?1 state (or -1)  ?2 role text (or NULL)  ?3 case id (unused unless
 *   the shape binds it)  ?4 due lower bound  ?5 due upper bound
 *   (exclusive)  ?6 cursor due  ?7 cursor id  ?8 limit. */
#define OBLIG_TAIL  " AND due_ms>=?4 AND due_ms<?5 AND due_ms>=?6 AND (due_ms>?6 OR id>?7)"
#define OBLIG_ORDER " ORDER BY due_ms, id LIMIT ?8"
/* One literal per shape, so each uses its index (egide_db caches by
 * pointer): state and role fixed -> (role, state, due_ms); state only ->
 * (state, due_ms); role only -> (role, due_ms); neither -> (due_ms); a
 * case -> (case_id), a handful of rows. */
static const char *const s_oblig_sql[2][5] = {
    {
        "SELECT " OBLIG_COLS " FROM obligations WHERE state=?1 AND role=?2" OBLIG_TAIL OBLIG_ORDER,
        "SELECT " OBLIG_COLS
        " FROM obligations WHERE state=?1 AND ?2 IS NULL" OBLIG_TAIL OBLIG_ORDER,
        "SELECT " OBLIG_COLS " FROM obligations WHERE ?1<0 AND role=?2" OBLIG_TAIL OBLIG_ORDER,
        "SELECT " OBLIG_COLS " FROM obligations WHERE ?1<0 AND ?2 IS NULL" OBLIG_TAIL OBLIG_ORDER,
        "SELECT " OBLIG_COLS " FROM obligations WHERE case_id=?3 AND (?1<0 OR state=?1) AND"
        " (?2 IS NULL OR role=?2)" OBLIG_TAIL OBLIG_ORDER,
    },
    {
        "SELECT count(*) FROM (SELECT 1 FROM obligations WHERE state=?1 AND role=?2" OBLIG_TAIL
        " LIMIT ?8)",
        "SELECT count(*) FROM (SELECT 1 FROM obligations WHERE state=?1 AND ?2 IS NULL" OBLIG_TAIL
        " LIMIT ?8)",
        "SELECT count(*) FROM (SELECT 1 FROM obligations WHERE ?1<0 AND role=?2" OBLIG_TAIL
        " LIMIT ?8)",
        "SELECT count(*) FROM (SELECT 1 FROM obligations WHERE ?1<0 AND ?2 IS NULL" OBLIG_TAIL
        " LIMIT ?8)",
        "SELECT count(*) FROM (SELECT 1 FROM obligations WHERE case_id=?3 AND (?1<0 OR state=?1)"
        " AND (?2 IS NULL OR role=?2)" OBLIG_TAIL " LIMIT ?8)",
    },
};

/* Prepare and bind the statement for f (count: the COUNT shape). */
static egide_rc s_oblig_stmt(edge_store_t *s, const edge_oblig_filter_t *f, bool count,
                             sqlite3_stmt **out)
{
    if ((unsigned)f->state >= EDGE_OBLIG_Q__COUNT || f->role < -1 || f->role > EDGE_OBLIG_OVERSEE)
        return EGIDE_ERR_INVALID;
    static const int states[EDGE_OBLIG_Q__COUNT] = {
        [EDGE_OBLIG_Q_ANY] = -1,
        [EDGE_OBLIG_Q_OPEN] = EGIDE_DEADLINE_OPEN,
        [EDGE_OBLIG_Q_OVERDUE] = EGIDE_DEADLINE_OPEN,
        [EDGE_OBLIG_Q_MET] = EGIDE_DEADLINE_MET,
        [EDGE_OBLIG_Q_LATE] = EGIDE_DEADLINE_LATE,
        [EDGE_OBLIG_Q_RELEASED] = EGIDE_DEADLINE_RELEASED,
    };
    int state = states[f->state];
    int shape = f->has_case ? 4 : state >= 0 ? (f->role >= 0 ? 0 : 1) : (f->role >= 0 ? 2 : 3);
    egide_rc rc = egide_db_stmt(DB(s), s_oblig_sql[count ? 1 : 0][shape], out);
    if (rc)
        return rc;
    sqlite3_stmt *st = *out;
    int64_t lo = f->has_due_after ? f->due_after_ms : INT64_MIN;
    int64_t hi = f->has_due_before ? f->due_before_ms : INT64_MAX;
    if (f->state == EDGE_OBLIG_Q_OVERDUE && f->now_ms < hi)
        hi = f->now_ms;
    sqlite3_bind_int(st, 1, state);
    if (f->role >= 0)
        sqlite3_bind_text(st, 2, edge_oblig_role_name(f->role), -1, SQLITE_STATIC);
    if (f->has_case)
        sqlite3_bind_int64(st, 3, f->case_id);
    sqlite3_bind_int64(st, 4, lo);
    sqlite3_bind_int64(st, 5, hi);
    bool cur = !count && f->has_cursor;
    sqlite3_bind_int64(st, 6, cur ? f->cursor_due_ms : INT64_MIN);
    sqlite3_bind_int64(st, 7, cur ? f->cursor_id : INT64_MIN);
    /* A page asks one row more than it shows (a page follows); a count
     * stops one past its cap (the total is then a lower bound). */
    sqlite3_bind_int64(st, 8, count ? EDGE_OBLIG_COUNT_CAP + 1 : (int64_t)f->limit + 1);
    return EGIDE_OK;
}

static egide_rc s_obligation_list(edge_store_t *s, const edge_oblig_filter_t *f,
                                  edge_obligation_t **rows, size_t *n, edge_oblig_cursor_t *next)
{
    if (!s || !f || !rows || !n || !next || f->limit == 0 || f->limit > EDGE_OBLIG_PAGE_MAX)
        return EGIDE_ERR_INVALID;
    *rows = NULL;
    *n = 0;
    memset(next, 0, sizeof *next);
    sqlite3_stmt *st;
    egide_rc rc = s_oblig_stmt(s, f, false, &st);
    if (rc)
        return rc;
    rc = s_collect(DB(s), st, "obligation list", sizeof **rows, s_oblig_row, (void **)rows, n);
    if (rc)
        return rc;
    /* One row more than the page was asked for: it says a page follows. */
    if (*n > f->limit) {
        *n = f->limit;
        next->more = true;
        next->due_ms = (*rows)[*n - 1].due_ms;
        next->id = (*rows)[*n - 1].id;
    }
    return EGIDE_OK;
}

/* A filter by state alone (or none): the counters kept by triggers
 * (migration 8), so that the total of years of closed obligations costs one
 * row.  Overdue is time-dependent: it is counted by index. */
static bool s_oblig_by_counter(const edge_oblig_filter_t *f)
{
    return !f->has_case && f->role < 0 && !f->has_due_after && !f->has_due_before &&
           f->state != EDGE_OBLIG_Q_OVERDUE && (unsigned)f->state < EDGE_OBLIG_Q__COUNT;
}

static egide_rc s_obligation_count(edge_store_t *s, const edge_oblig_filter_t *f, int64_t *total,
                                   bool *exact)
{
    if (!s || !f || !total || !exact)
        return EGIDE_ERR_INVALID;
    *total = 0;
    *exact = false;
    sqlite3_stmt *st;
    bool found = false;
    egide_rc rc;
    if (s_oblig_by_counter(f)) {
        _Static_assert(EGIDE_DEADLINE_MET == 1 && EGIDE_DEADLINE_LATE == 3 &&
                           EGIDE_DEADLINE_RELEASED == 4,
                       "the counters' names follow the states");
        static const char *const names[EDGE_OBLIG_Q__COUNT] = {
            [EDGE_OBLIG_Q_ANY] = "obl%",  [EDGE_OBLIG_Q_OPEN] = "obl0",
            [EDGE_OBLIG_Q_OVERDUE] = "",  [EDGE_OBLIG_Q_MET] = "obl1",
            [EDGE_OBLIG_Q_LATE] = "obl3", [EDGE_OBLIG_Q_RELEASED] = "obl4",
        };
        rc = egide_db_stmt(DB(s), "SELECT total(n) FROM counters WHERE name LIKE ?1", &st);
        if (rc)
            return rc;
        sqlite3_bind_text(st, 1, names[f->state], -1, SQLITE_STATIC);
        bool row;
        rc = s_row(DB(s), st, "obligation count", &row);
        if (!rc && row) {
            *total = (int64_t)sqlite3_column_double(st, 0);
            *exact = true;
        }
        egide_db_done(st);
        return rc;
    }
    rc = s_oblig_stmt(s, f, true, &st);
    if (rc)
        return rc;
    rc = s_one_id(DB(s), st, "obligation count", total, &found);
    if (!rc)
        *exact = *total <= EDGE_OBLIG_COUNT_CAP;
    return rc;
}

static egide_rc s_obligation_counts(edge_store_t *s, int64_t now_ms, edge_oblig_counts_t *c)
{
    if (!s || !c)
        return EGIDE_ERR_INVALID;
    memset(c, 0, sizeof *c);
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s),
                                "SELECT (SELECT n FROM counters WHERE name='obl' || ?1),"
                                " (SELECT count(*) FROM obligations WHERE state=?1 AND due_ms<?2),"
                                " (SELECT n FROM counters WHERE name='obl' || ?3),"
                                " (SELECT n FROM counters WHERE name='obl' || ?4),"
                                " (SELECT n FROM counters WHERE name='obl' || ?5)",
                                &st);
    if (rc)
        return rc;
    sqlite3_bind_int(st, 1, EGIDE_DEADLINE_OPEN);
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_int(st, 3, EGIDE_DEADLINE_MET);
    sqlite3_bind_int(st, 4, EGIDE_DEADLINE_LATE);
    sqlite3_bind_int(st, 5, EGIDE_DEADLINE_RELEASED);
    bool row;
    rc = s_row(DB(s), st, "obligation counts", &row);
    if (!rc && row) {
        /* The open ones from their counter, less the overdue ones, counted
         * by index: a count that grows with the backlog, never with the
         * years of closed obligations nor with the open ones. */
        c->overdue = sqlite3_column_int64(st, 1);
        c->open = sqlite3_column_int64(st, 0) - c->overdue;
        c->met = sqlite3_column_int64(st, 2);
        c->late = sqlite3_column_int64(st, 3);
        c->released = sqlite3_column_int64(st, 4);
    }
    egide_db_done(st);
    return rc;
}

/* ------------------------------------------------------------ outbox */

static egide_rc s_outbox_add(edge_store_t *s, const edge_outbox_msg_t *m)
{
    if (!s || !m || !m->msg_id || !m->type || !m->envelope || !m->envelope_len ||
        m->envelope_len > INT32_MAX || !m->sha256 || !m->rcpt_ids || m->n_rcpt == 0 ||
        m->n_rcpt > EGIDE_MAX_RECIPIENTS)
        return EGIDE_ERR_INVALID;
    /* The sender's copy: a payload needs its content type, and a length
     * without bytes is refused. */
    if ((m->payload && (!m->content_type || m->payload_len > INT32_MAX)) ||
        (!m->payload && m->payload_len))
        return EGIDE_ERR_INVALID;
    if ((m->kept && (m->kept_len == 0 || m->kept_len > 4096)) || (!m->kept && m->kept_len))
        return EGIDE_ERR_INVALID;
    for (size_t i = 0; i < m->n_rcpt; i++)
        if (!m->rcpt_ids[i])
            return EGIDE_ERR_INVALID;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(
        DB(s),
        "INSERT INTO outbox(msg_id, seq, type, urgency, in_reply_to, created_ms, expires_ms,"
        " envelope, sha256, state, attempts, next_ms, content_type, payload, kept_cek)"
        " VALUES(?,?,?,?,?,?,?,?,?,?,0,0,?,?,?)",
        &st);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, m->msg_id, 16, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)m->seq);
    sqlite3_bind_text(st, 3, m->type, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, m->urgency);
    s_bind_opt_id(st, 5, m->in_reply_to);
    sqlite3_bind_int64(st, 6, m->created_ms);
    sqlite3_bind_int64(st, 7, m->expires_ms);
    sqlite3_bind_blob(st, 8, m->envelope, (int)m->envelope_len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 9, m->sha256, 32, SQLITE_STATIC);
    sqlite3_bind_int(st, 10, EDGE_OUT_QUEUED);
    if (m->payload) {
        sqlite3_bind_text(st, 11, m->content_type, -1, SQLITE_STATIC);
        /* A zero-length copy is kept as an empty blob, not as "none". */
        sqlite3_bind_blob(st, 12, m->payload_len ? (const void *)m->payload : "",
                          (int)m->payload_len, SQLITE_STATIC);
    }
    if (m->kept)
        sqlite3_bind_blob(st, 13, m->kept, (int)m->kept_len, SQLITE_STATIC);
    rc = s_exec(DB(s), st, "outbox add");
    if (!rc)
        rc = s_case_join(s, "outbox", m->msg_id, m->in_reply_to, m->case_ref, m->commune,
                         m->created_ms, m->case_id);
    if (rc)
        return rc;
    rc = egide_db_stmt(
        DB(s), "INSERT INTO outbox_rcpt(msg_id, node_id, state, expires_ms) VALUES(?,?,?,?)", &st);
    if (rc)
        return rc;
    for (size_t i = 0; i < m->n_rcpt && !rc; i++) {
        sqlite3_reset(st);
        sqlite3_bind_blob(st, 1, m->msg_id, 16, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, m->rcpt_ids[i], -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, EDGE_RCPT_PENDING);
        sqlite3_bind_int64(st, 4, m->expires_ms);
        int r = sqlite3_step(st);
        if (r != SQLITE_DONE)
            rc = s_fail(DB(s), "outbox add recipient", r);
    }
    egide_db_done(st);
    return rc;
}

#define OUTBOX_COLS                                                                                \
    "msg_id, seq, type, urgency, created_ms, expires_ms, sha256, state, attempts, reason,"         \
    " accepted_ms, leaf_index, in_reply_to, resequenced, case_id, commune, case_ref, resealed,"    \
    " kept_cek IS NOT NULL"

static void s_outbox_row(sqlite3_stmt *st, void *row)
{
    edge_outbox_row_t *r = row;
    memset(r, 0, sizeof *r);
    s_blob(r->msg_id, 16, st, 0);
    r->seq = (uint64_t)sqlite3_column_int64(st, 1);
    s_text(r->type, sizeof r->type, st, 2);
    r->urgency = sqlite3_column_int(st, 3);
    r->created_ms = sqlite3_column_int64(st, 4);
    r->expires_ms = sqlite3_column_int64(st, 5);
    s_blob(r->sha256, 32, st, 6);
    r->state = (edge_out_state)sqlite3_column_int(st, 7);
    r->attempts = sqlite3_column_int(st, 8);
    r->reason = sqlite3_column_int(st, 9);
    r->has_accepted = s_has(st, 10);
    r->accepted_ms = sqlite3_column_int64(st, 10);
    r->leaf_index = sqlite3_column_int64(st, 11);
    r->has_in_reply_to = s_blob(r->in_reply_to, 16, st, 12);
    r->resequenced = sqlite3_column_int(st, 13);
    r->case_id = sqlite3_column_int64(st, 14);
    s_text(r->commune, sizeof r->commune, st, 15);
    s_text(r->case_ref, sizeof r->case_ref, st, 16);
    r->resealed = sqlite3_column_int(st, 17);
    r->has_kept = sqlite3_column_int(st, 18) != 0;
}

static egide_rc s_outbox_get(edge_store_t *s, const uint8_t msg_id[16], edge_outbox_row_t *row)
{
    if (!s || !msg_id || !row)
        return EGIDE_ERR_INVALID;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s), "SELECT " OUTBOX_COLS " FROM outbox WHERE msg_id=?", &st);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, msg_id, 16, SQLITE_STATIC);
    bool found;
    rc = s_row(DB(s), st, "outbox get", &found);
    if (!rc && !found)
        rc = EGIDE_ERR_NOTFOUND;
    if (!rc)
        s_outbox_row(st, row);
    egide_db_done(st);
    return rc;
}

static egide_rc s_outbox_due(edge_store_t *s, int64_t now_ms, size_t limit, edge_outbox_due_fn fn,
                             void *arg)
{
    if (!s || !fn || limit == 0)
        return EGIDE_ERR_INVALID;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s),
                                "SELECT msg_id, seq, envelope, attempts FROM outbox WHERE state=?"
                                " AND next_ms<=? ORDER BY urgency DESC, seq LIMIT ?",
                                &st);
    if (rc)
        return rc;
    sqlite3_bind_int(st, 1, EDGE_OUT_QUEUED);
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_int64(st, 3, limit > INT32_MAX ? INT32_MAX : (int64_t)limit);
    for (;;) {
        bool row;
        rc = s_row(DB(s), st, "outbox due", &row);
        if (rc || !row)
            break;
        uint8_t id[16];
        if (!s_blob(id, 16, st, 0))
            continue;
        edge_outbox_due_t m = {
            .msg_id = id,
            .seq = (uint64_t)sqlite3_column_int64(st, 1),
            .envelope = sqlite3_column_blob(st, 2),
            .envelope_len = (size_t)sqlite3_column_bytes(st, 2),
            .attempts = sqlite3_column_int(st, 3),
        };
        if (fn(&m, arg) != 0)
            break;
    }
    egide_db_done(st);
    return rc;
}

static egide_rc s_outbox_envelope(edge_store_t *s, const uint8_t msg_id[16], uint8_t **env,
                                  size_t *len)
{
    if (!s || !msg_id || !env || !len)
        return EGIDE_ERR_INVALID;
    *env = NULL;
    *len = 0;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s), "SELECT envelope FROM outbox WHERE msg_id=?", &st);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, msg_id, 16, SQLITE_STATIC);
    bool row;
    rc = s_row(DB(s), st, "outbox envelope", &row);
    if (!rc)
        rc = row ? s_dup(st, 0, env, len) : EGIDE_ERR_NOTFOUND;
    egide_db_done(st);
    return rc;
}

/* A QUEUED message's envelope replaced (sql: a literal binding seq,
 * envelope, sha256, msg_id, state in that order). */
static egide_rc s_outbox_replace(edge_store_t *s, const char *sql, const char *op,
                                 const uint8_t msg_id[16], uint64_t seq, const uint8_t *env,
                                 size_t len, const uint8_t sha256[32], bool *changed)
{
    if (changed)
        *changed = false;
    if (!s || !msg_id || seq == 0 || seq > (uint64_t)INT64_MAX || !env || !len || len > INT32_MAX ||
        !sha256)
        return EGIDE_ERR_INVALID;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s), sql, &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, (int64_t)seq);
    sqlite3_bind_blob(st, 2, env, (int)len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, sha256, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, msg_id, 16, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, EDGE_OUT_QUEUED);
    int r = sqlite3_step(st);
    if (r == SQLITE_DONE) {
        if (changed)
            *changed = sqlite3_changes(DB(s)) > 0;
        rc = EGIDE_OK;
    } else if ((r & 0xff) == SQLITE_CONSTRAINT) {
        rc = EGIDE_ERR_EXISTS; /* another message holds seq: not a storage failure */
    } else {
        rc = s_fail(DB(s), op, r);
    }
    egide_db_done(st);
    return rc;
}

static egide_rc s_outbox_resequence(edge_store_t *s, const uint8_t msg_id[16], uint64_t seq,
                                    const uint8_t *env, size_t len, const uint8_t sha256[32],
                                    bool *changed)
{
    return s_outbox_replace(s,
                            "UPDATE outbox SET seq=?, envelope=?, sha256=?,"
                            " resequenced=resequenced+1, next_ms=0 WHERE msg_id=? AND state=?",
                            "outbox resequence", msg_id, seq, env, len, sha256, changed);
}

static egide_rc s_outbox_reseal(edge_store_t *s, const uint8_t msg_id[16], uint64_t seq,
                                const uint8_t *env, size_t len, const uint8_t sha256[32],
                                bool *changed)
{
    return s_outbox_replace(s,
                            "UPDATE outbox SET seq=?, envelope=?, sha256=?,"
                            " resealed=resealed+1, next_ms=0 WHERE msg_id=? AND state=?",
                            "outbox reseal", msg_id, seq, env, len, sha256, changed);
}

static egide_rc s_outbox_kept(edge_store_t *s, const uint8_t msg_id[16], uint8_t **kept,
                              size_t *len)
{
    if (!s || !msg_id || !kept || !len)
        return EGIDE_ERR_INVALID;
    *kept = NULL;
    *len = 0;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s), "SELECT kept_cek FROM outbox WHERE msg_id=?", &st);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, msg_id, 16, SQLITE_STATIC);
    bool row;
    rc = s_row(DB(s), st, "outbox kept", &row);
    if (!rc)
        rc = row && sqlite3_column_type(st, 0) == SQLITE_BLOB ? s_dup(st, 0, kept, len)
                                                              : EGIDE_ERR_NOTFOUND;
    egide_db_done(st);
    return rc;
}

static egide_rc s_outbox_attempt(edge_store_t *s, const uint8_t msg_id[16], int64_t next_ms)
{
    if (!s || !msg_id)
        return EGIDE_ERR_INVALID;
    return s_write(s, "UPDATE outbox SET attempts=attempts+1, next_ms=? WHERE msg_id=?",
                   "outbox attempt", NULL, "Id", next_ms, msg_id);
}

static egide_rc s_outbox_retry_all(edge_store_t *s)
{
    if (!s)
        return EGIDE_ERR_INVALID;
    return s_write(s, "UPDATE outbox SET next_ms=0 WHERE state=?", "outbox retry", NULL, "i",
                   (int)EDGE_OUT_QUEUED);
}

static egide_rc s_outbox_mark_accepted(edge_store_t *s, const uint8_t msg_id[16], int64_t time_ms,
                                       int64_t leaf_index, bool *changed)
{
    if (!s || !msg_id)
        return EGIDE_ERR_INVALID;
    return s_write(s,
                   "UPDATE outbox SET state=?, accepted_ms=?, leaf_index=? WHERE msg_id=?"
                   " AND state=?",
                   "outbox accepted", changed, "iIIdi", (int)EDGE_OUT_ACCEPTED, time_ms, leaf_index,
                   msg_id, (int)EDGE_OUT_QUEUED);
}

static egide_rc s_outbox_mark_rejected(edge_store_t *s, const uint8_t msg_id[16], int reason,
                                       int64_t time_ms, bool *changed)
{
    if (!s || !msg_id)
        return EGIDE_ERR_INVALID;
    egide_rc rc = s_write(s,
                          "UPDATE outbox SET state=?, reason=?, done_ms=? WHERE msg_id=?"
                          " AND state=?",
                          "outbox rejected", changed, "iiIdi", (int)EDGE_OUT_REJECTED, reason,
                          time_ms, msg_id, (int)EDGE_OUT_QUEUED);
    if (rc)
        return rc;
    return s_write(s, "UPDATE outbox_rcpt SET state=?, reason=? WHERE msg_id=? AND state=?",
                   "outbox rejected recipients", NULL, "iidi", (int)EDGE_RCPT_REJECTED, reason,
                   msg_id, (int)EDGE_RCPT_PENDING);
}

/* The state is written out (0: EDGE_RCPT_PENDING, EDGE_OUT_QUEUED), not
 * bound: SQLite uses a partial index (migration 14) only when the query
 * says its condition itself. */
_Static_assert(EDGE_RCPT_PENDING == 0 && EDGE_OUT_QUEUED == 0, "the expiry indexes' state");
static const char *const s_expire_rcpt_sql =
    "UPDATE outbox_rcpt SET state=? WHERE state=0 AND expires_ms<=?";
static const char *const s_expire_out_sql =
    "UPDATE outbox INDEXED BY outbox_queued_expiry SET state=?, done_ms=?"
    " WHERE state=0 AND expires_ms<=?";

static egide_rc s_outbox_expire(edge_store_t *s, int64_t now_ms, size_t *n)
{
    if (!s)
        return EGIDE_ERR_INVALID;
    if (n)
        *n = 0;
    egide_rc rc = s_write(s, s_expire_rcpt_sql, "expire recipients", NULL, "iI",
                          (int)EDGE_RCPT_EXPIRED, now_ms);
    if (!rc)
        rc = s_write(s, s_expire_out_sql, "expire messages", NULL, "iII", (int)EDGE_OUT_EXPIRED,
                     now_ms, now_ms);
    if (!rc && n)
        *n = (size_t)sqlite3_changes(DB(s));
    return rc;
}

/* A list read: sql (a string literal: egide_db_stmt caches by pointer)
 * binds ?1 = state (< 0: any; unused by some) and ?2 = limit, 1..max. */
static egide_rc s_list(edge_store_t *s, const char *sql, const char *op, int state, size_t limit,
                       size_t max, size_t size, s_fill_fn fill, void **rows, size_t *n)
{
    if (!s || !rows || !n || limit == 0 || limit > max)
        return EGIDE_ERR_INVALID;
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s), sql, &st);
    if (rc)
        return rc;
    sqlite3_bind_int(st, 1, state);
    sqlite3_bind_int64(st, 2, (int64_t)limit);
    return s_collect(DB(s), st, op, size, fill, rows, n);
}

static egide_rc s_outbox_list(edge_store_t *s, int state, size_t limit, edge_outbox_row_t **rows,
                              size_t *n)
{
    return s_list(s,
                  "SELECT " OUTBOX_COLS " FROM outbox WHERE ?1<0 OR state=?1"
                  " ORDER BY seq DESC LIMIT ?2",
                  "outbox list", state, limit, EDGE_STORE_LIST_MAX, sizeof **rows, s_outbox_row,
                  (void **)rows, n);
}

/* ------------------------------------------------------------ recipients */

static egide_rc s_rcpt_update(edge_store_t *s, const uint8_t msg_id[16], const char *node_id,
                              edge_rcpt_state state, int reason, int64_t time_ms, bool *changed)
{
    if (changed)
        *changed = false;
    if (!s || !msg_id || !node_id ||
        (state != EDGE_RCPT_DELIVERED && state != EDGE_RCPT_REJECTED && state != EDGE_RCPT_EXPIRED))
        return EGIDE_ERR_INVALID;
    return s_write(s,
                   "UPDATE outbox_rcpt SET state=?, reason=?, delivered_ms=? WHERE"
                   " msg_id=? AND node_id=? AND state=?",
                   "recipient update", changed, "iiIdti", (int)state, reason, time_ms, msg_id,
                   node_id, (int)EDGE_RCPT_PENDING);
}

static egide_rc s_rcpt_acknowledge(edge_store_t *s, const uint8_t msg_id[16], const char *node_id,
                                   int64_t time_ms, bool *changed)
{
    if (changed)
        *changed = false;
    if (!s || !msg_id || !node_id)
        return EGIDE_ERR_INVALID;
    return s_write(s,
                   "UPDATE outbox_rcpt SET state=?, acknowledged_ms=? WHERE msg_id=?"
                   " AND node_id=? AND state IN (?,?)",
                   "recipient acknowledged", changed, "iIdtii", (int)EDGE_RCPT_ACKNOWLEDGED,
                   time_ms, msg_id, node_id, (int)EDGE_RCPT_PENDING, (int)EDGE_RCPT_DELIVERED);
}

static egide_rc s_rcpt_list(edge_store_t *s, const uint8_t msg_id[16], edge_rcpt_row_t *rows,
                            size_t max, size_t *n, size_t *pending)
{
    if (!s || !msg_id || (!rows && max) || !n)
        return EGIDE_ERR_INVALID;
    *n = 0;
    if (pending)
        *pending = 0;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s),
                                "SELECT node_id, state, delivered_ms, acknowledged_ms, reason FROM"
                                " outbox_rcpt WHERE msg_id=? ORDER BY node_id",
                                &st);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, msg_id, 16, SQLITE_STATIC);
    size_t seen = 0;
    for (;;) {
        bool row;
        rc = s_row(DB(s), st, "recipient list", &row);
        if (rc || !row)
            break;
        seen++;
        int state = sqlite3_column_int(st, 1);
        if (pending && state == EDGE_RCPT_PENDING)
            (*pending)++;
        if (*n >= max)
            continue;
        edge_rcpt_row_t *r = &rows[(*n)++];
        memset(r, 0, sizeof *r);
        s_text(r->node_id, sizeof r->node_id, st, 0);
        r->state = (edge_rcpt_state)state;
        r->has_done = s_has(st, 2);
        r->done_ms = sqlite3_column_int64(st, 2);
        r->has_acknowledged = s_has(st, 3);
        r->acknowledged_ms = sqlite3_column_int64(st, 3);
        r->reason = sqlite3_column_int(st, 4);
    }
    egide_db_done(st);
    if (!rc && seen == 0)
        rc = EGIDE_ERR_NOTFOUND;
    return rc;
}

/* ------------------------------------------------------------ inbox */

static egide_rc s_inbox_put(edge_store_t *s, const edge_inbox_msg_t *m,
                            edge_inbox_put_result *result, uint8_t **receipt, size_t *receipt_len)
{
    if (!s || !m || !result || !receipt || !receipt_len || !m->msg_id || !m->sha256 ||
        !m->sender_id || !m->type || !m->content_type || (!m->payload && m->payload_len) ||
        m->payload_len > INT32_MAX || !m->receipt || !m->receipt_len || m->receipt_len > INT32_MAX)
        return EGIDE_ERR_INVALID;
    *receipt = NULL;
    *receipt_len = 0;
    if (m->case_id)
        *m->case_id = 0;
    /* Look first, then insert: a failing INSERT is then always a storage
     * failure, never mistaken for a duplicate. */
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s), "SELECT sha256, receipt FROM inbox WHERE msg_id=?", &st);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, m->msg_id, 16, SQLITE_STATIC);
    bool row;
    rc = s_row(DB(s), st, "inbox put (lookup)", &row);
    if (!rc && row) {
        uint8_t sha[32];
        if (s_blob(sha, 32, st, 0) && memcmp(sha, m->sha256, 32) == 0) {
            rc = s_dup(st, 1, receipt, receipt_len);
            if (!rc)
                *result = EDGE_INBOX_DUPLICATE;
        } else {
            *result = EDGE_INBOX_CONFLICT;
        }
    }
    egide_db_done(st);
    if (rc || row)
        return rc;
    rc = egide_db_stmt(DB(s),
                       "INSERT INTO inbox(msg_id, sha256, sender_id, type, urgency, in_reply_to,"
                       " created_ms, received_ms, content_type, payload, receipt, state)"
                       " VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                       &st);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, m->msg_id, 16, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, m->sha256, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, m->sender_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, m->type, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, m->urgency);
    s_bind_opt_id(st, 6, m->in_reply_to);
    sqlite3_bind_int64(st, 7, m->created_ms);
    sqlite3_bind_int64(st, 8, m->received_ms);
    sqlite3_bind_text(st, 9, m->content_type, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 10, m->payload ? (const void *)m->payload : "", (int)m->payload_len,
                      SQLITE_STATIC);
    sqlite3_bind_blob(st, 11, m->receipt, (int)m->receipt_len, SQLITE_STATIC);
    sqlite3_bind_int(st, 12, EDGE_IN_DELIVERED);
    rc = s_exec(DB(s), st, "inbox put");
    if (!rc)
        rc = s_case_join(s, "inbox", m->msg_id, m->in_reply_to, m->case_ref, m->commune,
                         m->received_ms, m->case_id);
    if (!rc)
        *result = EDGE_INBOX_STORED;
    return rc;
}

/* The receipt column of the row for exactly (msg_id, sha256) from sql (a
 * string literal binding ?1 = msg_id, ?2 = sha256). */
static egide_rc s_receipt_for(edge_store_t *s, const char *sql, const uint8_t msg_id[16],
                              const uint8_t sha256[32], uint8_t **receipt, size_t *len,
                              const char *op)
{
    if (!s || !msg_id || !sha256 || !receipt || !len)
        return EGIDE_ERR_INVALID;
    *receipt = NULL;
    *len = 0;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s), sql, &st);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, msg_id, 16, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, sha256, 32, SQLITE_STATIC);
    bool row;
    rc = s_row(DB(s), st, op, &row);
    if (!rc)
        rc = row ? s_dup(st, 0, receipt, len) : EGIDE_ERR_NOTFOUND;
    egide_db_done(st);
    return rc;
}

static egide_rc s_inbox_receipt(edge_store_t *s, const uint8_t msg_id[16], const uint8_t sha256[32],
                                uint8_t **receipt, size_t *len)
{
    return s_receipt_for(s, "SELECT receipt FROM inbox WHERE msg_id=?1 AND sha256=?2", msg_id,
                         sha256, receipt, len, "inbox receipt");
}

#define INBOX_COLS                                                                                 \
    "msg_id, sha256, sender_id, type, urgency, created_ms, received_ms, state, acknowledged_ms,"   \
    " in_reply_to, content_type, case_id, commune, case_ref"
/* How many columns INBOX_COLS / OUTBOX_COLS select (what follows them
 * starts there). */
#define INBOX_NCOLS  14
#define OUTBOX_NCOLS 19

static void s_inbox_row(sqlite3_stmt *st, void *row)
{
    edge_inbox_row_t *r = row;
    memset(r, 0, sizeof *r);
    s_blob(r->msg_id, 16, st, 0);
    s_blob(r->sha256, 32, st, 1);
    s_text(r->sender_id, sizeof r->sender_id, st, 2);
    s_text(r->type, sizeof r->type, st, 3);
    r->urgency = sqlite3_column_int(st, 4);
    r->created_ms = sqlite3_column_int64(st, 5);
    r->received_ms = sqlite3_column_int64(st, 6);
    r->state = (edge_in_state)sqlite3_column_int(st, 7);
    r->has_acknowledged = s_has(st, 8);
    r->acknowledged_ms = sqlite3_column_int64(st, 8);
    r->has_in_reply_to = s_blob(r->in_reply_to, 16, st, 9);
    s_text(r->content_type, sizeof r->content_type, st, 10);
    r->case_id = sqlite3_column_int64(st, 11);
    s_text(r->commune, sizeof r->commune, st, 12);
    s_text(r->case_ref, sizeof r->case_ref, st, 13);
}

static egide_rc s_inbox_get(edge_store_t *s, const uint8_t msg_id[16], bool want_payload,
                            edge_inbox_row_t *row)
{
    if (!s || !msg_id || !row)
        return EGIDE_ERR_INVALID;
    sqlite3_stmt *st;
    egide_rc rc =
        egide_db_stmt(DB(s), "SELECT " INBOX_COLS ", payload FROM inbox WHERE msg_id=?", &st);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, msg_id, 16, SQLITE_STATIC);
    bool found;
    rc = s_row(DB(s), st, "inbox get", &found);
    if (!rc && !found)
        rc = EGIDE_ERR_NOTFOUND;
    if (!rc) {
        s_inbox_row(st, row);
        if (want_payload)
            rc = s_dup(st, 14, &row->payload, &row->payload_len);
    }
    egide_db_done(st);
    return rc;
}

static egide_rc s_inbox_list(edge_store_t *s, int state, size_t limit, edge_inbox_row_t **rows,
                             size_t *n)
{
    return s_list(s,
                  "SELECT " INBOX_COLS " FROM inbox WHERE ?1<0 OR state=?1"
                  " ORDER BY received_ms DESC LIMIT ?2",
                  "inbox list", state, limit, EDGE_STORE_LIST_MAX, sizeof **rows, s_inbox_row,
                  (void **)rows, n);
}

static egide_rc s_inbox_acknowledge(edge_store_t *s, const uint8_t msg_id[16], int64_t time_ms,
                                    bool *changed)
{
    if (changed)
        *changed = false;
    if (!s || !msg_id)
        return EGIDE_ERR_INVALID;
    bool ch = false;
    egide_rc rc = s_write(s,
                          "UPDATE inbox SET state=?, acknowledged_ms=? WHERE msg_id=?"
                          " AND state=?",
                          "inbox acknowledge", &ch, "iIdi", (int)EDGE_IN_ACKNOWLEDGED, time_ms,
                          msg_id, (int)EDGE_IN_DELIVERED);
    if (changed)
        *changed = ch;
    if (!rc && !ch) {
        size_t k = 0;
        rc = s->ops->inbox_count(s, msg_id, &k);
        if (!rc && k == 0)
            rc = EGIDE_ERR_NOTFOUND;
    }
    return rc;
}

static egide_rc s_inbox_count(edge_store_t *s, const uint8_t msg_id[16], size_t *n)
{
    if (!s || !msg_id || !n)
        return EGIDE_ERR_INVALID;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s), "SELECT count(*) FROM inbox WHERE msg_id=?", &st);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, msg_id, 16, SQLITE_STATIC);
    bool row;
    rc = s_row(DB(s), st, "inbox count", &row);
    *n = !rc && row ? (size_t)sqlite3_column_int64(st, 0) : 0;
    egide_db_done(st);
    return rc;
}

static egide_rc s_rejected_put(edge_store_t *s, const uint8_t msg_id[16], const uint8_t sha256[32],
                               const char *sender_id, int reason, const uint8_t *receipt,
                               size_t len, int64_t time_ms)
{
    if (!s || !msg_id || !sha256 || !receipt || !len || len > INT32_MAX)
        return EGIDE_ERR_INVALID;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s),
                                "INSERT OR IGNORE INTO inbox_rejected(msg_id, sha256, sender_id,"
                                " reason, receipt, time_ms) VALUES(?,?,?,?,?,?)",
                                &st);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, msg_id, 16, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, sha256, 32, SQLITE_STATIC);
    if (sender_id)
        sqlite3_bind_text(st, 3, sender_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, reason);
    sqlite3_bind_blob(st, 5, receipt, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, time_ms);
    return s_exec(DB(s), st, "rejected put");
}

static egide_rc s_rejected_find(edge_store_t *s, const uint8_t msg_id[16], const uint8_t sha256[32],
                                uint8_t **receipt, size_t *len)
{
    return s_receipt_for(s, "SELECT receipt FROM inbox_rejected WHERE msg_id=?1 AND sha256=?2",
                         msg_id, sha256, receipt, len, "rejected find");
}

/* ------------------------------------------------------------ receipts */

static egide_rc s_receipt_put(edge_store_t *s, const edge_receipt_row_t *r, const uint8_t *data,
                              size_t len)
{
    if (!s || !r || !data || !len || len > INT32_MAX || !r->issuer[0])
        return EGIDE_ERR_INVALID;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s),
                                "INSERT OR IGNORE INTO receipts(sha256, msg_id, kind, issuer,"
                                " recipient, time_ms, reason, leaf_index, data)"
                                " VALUES(?,?,?,?,?,?,?,?,?)",
                                &st);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, r->sha256, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, r->msg_id, 16, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, r->kind);
    sqlite3_bind_text(st, 4, r->issuer, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, r->recipient, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, r->time_ms);
    sqlite3_bind_int(st, 7, r->reason);
    if (r->has_leaf)
        sqlite3_bind_int64(st, 8, r->leaf_index);
    sqlite3_bind_blob(st, 9, data, (int)len, SQLITE_STATIC);
    return s_exec(DB(s), st, "receipt put");
}

static void s_receipt_row(sqlite3_stmt *st, void *row)
{
    edge_receipt_row_t *r = row;
    s_blob(r->sha256, 32, st, 0);
    s_blob(r->msg_id, 16, st, 1);
    r->kind = sqlite3_column_int(st, 2);
    s_text(r->issuer, sizeof r->issuer, st, 3);
    s_text(r->recipient, sizeof r->recipient, st, 4);
    r->time_ms = sqlite3_column_int64(st, 5);
    r->reason = sqlite3_column_int(st, 6);
    r->has_leaf = s_has(st, 7);
    r->leaf_index = sqlite3_column_int64(st, 7);
}

static egide_rc s_receipt_list(edge_store_t *s, const uint8_t msg_id[16], edge_receipt_row_t **rows,
                               size_t *n)
{
    if (!s || !msg_id || !rows || !n)
        return EGIDE_ERR_INVALID;
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s),
                                "SELECT sha256, msg_id, kind, issuer, recipient, time_ms, reason,"
                                " leaf_index FROM receipts WHERE msg_id=? ORDER BY time_ms LIMIT ?",
                                &st);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, msg_id, 16, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, EDGE_STORE_RECEIPTS_MAX);
    return s_collect(DB(s), st, "receipt list", sizeof(edge_receipt_row_t), s_receipt_row,
                     (void **)rows, n);
}

static egide_rc s_counts(edge_store_t *s, edge_store_counts_t *c)
{
    if (!s || !c)
        return EGIDE_ERR_INVALID;
    memset(c, 0, sizeof *c);
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s),
                                "SELECT (SELECT n FROM counters WHERE name='out' || ?),"
                                " (SELECT n FROM counters WHERE name='inbox')",
                                &st);
    if (rc)
        return rc;
    sqlite3_bind_int(st, 1, EDGE_OUT_QUEUED);
    bool row;
    rc = s_row(DB(s), st, "counts", &row);
    if (!rc && row) {
        c->outbox_queued = sqlite3_column_int64(st, 0);
        c->inbox = sqlite3_column_int64(st, 1);
    }
    egide_db_done(st);
    if (rc)
        return rc;
    /* The triggers of migration 8 keep these (not a scan of the table). */
    rc = egide_db_stmt(DB(s),
                       "SELECT CAST(substr(name, 5) AS INTEGER), n FROM counters"
                       " WHERE name LIKE 'rcpt%'",
                       &st);
    if (rc)
        return rc;
    for (;;) {
        rc = s_row(DB(s), st, "counts by state", &row);
        if (rc || !row)
            break;
        int k = sqlite3_column_int(st, 0);
        if (k >= 0 && k < EDGE_RCPT_STATE__COUNT)
            c->by_rcpt[k] = sqlite3_column_int64(st, 1);
    }
    egide_db_done(st);
    return rc;
}

/* Every operation X is s_X: the table names them once. */
/* ------------------------------------------------------------ known child */

static bool s_kc_key_ok(const char *k)
{
    return k && strlen(k) == EDGE_KC_HEX_LEN;
}

static egide_rc s_kc_put(edge_store_t *s, const uint8_t msg_id[16], int64_t received_ms,
                         const edge_kc_row_t *rows, size_t n)
{
    if (!s || !msg_id || (!rows && n))
        return EGIDE_ERR_INVALID;
    for (size_t i = 0; i < n; i++)
        if ((rows[i].child_key[0] && !s_kc_key_ok(rows[i].child_key)) ||
            (rows[i].household_key[0] && !s_kc_key_ok(rows[i].household_key)))
            return EGIDE_ERR_INVALID;
    if (n == 0)
        return EGIDE_OK;
    /* One message's rows all or none: a savepoint inside the caller's
     * transaction (or on its own). */
    egide_rc rc = egide_db_exec(DB(s), "SAVEPOINT kc_put");
    for (size_t i = 0; i < n && !rc; i++) {
        sqlite3_stmt *st;
        rc = egide_db_stmt(DB(s),
                           "INSERT INTO child_keys(msg_id, child, status, child_key,"
                           " household_key, received_ms) VALUES(?,?,?,?,?,?)",
                           &st);
        if (rc)
            break;
        sqlite3_bind_blob(st, 1, msg_id, 16, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, rows[i].child);
        sqlite3_bind_int(st, 3, rows[i].status);
        if (rows[i].child_key[0])
            sqlite3_bind_text(st, 4, rows[i].child_key, -1, SQLITE_STATIC);
        if (rows[i].household_key[0])
            sqlite3_bind_text(st, 5, rows[i].household_key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, received_ms);
        int r = sqlite3_step(st);
        if ((r & 0xff) == SQLITE_CONSTRAINT)
            rc = EGIDE_ERR_EXISTS;
        else if (r != SQLITE_DONE)
            rc = s_fail(DB(s), "known child put", r);
        egide_db_done(st);
    }
    if (rc) {
        (void)egide_db_exec(DB(s), "ROLLBACK TO kc_put");
        (void)egide_db_exec(DB(s), "RELEASE kc_put");
        return rc;
    }
    return egide_db_exec(DB(s), "RELEASE kc_put");
}

static egide_rc s_kc_get(edge_store_t *s, const uint8_t msg_id[16], edge_kc_row_t *rows, size_t max,
                         size_t *n)
{
    if (n)
        *n = 0;
    if (!s || !msg_id || !n || (!rows && max))
        return EGIDE_ERR_INVALID;
    if (max == 0)
        return EGIDE_OK;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s),
                                "SELECT child, status, child_key, household_key FROM child_keys"
                                " WHERE msg_id=? ORDER BY child LIMIT ?",
                                &st);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, msg_id, 16, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)max);
    for (;;) {
        bool row;
        rc = s_row(DB(s), st, "known child get", &row);
        if (rc || !row)
            break;
        edge_kc_row_t *r = &rows[*n];
        memset(r, 0, sizeof *r);
        r->child = sqlite3_column_int(st, 0);
        r->status = sqlite3_column_int(st, 1);
        s_text(r->child_key, sizeof r->child_key, st, 2);
        s_text(r->household_key, sizeof r->household_key, st, 3);
        (*n)++;
    }
    egide_db_done(st);
    if (rc)
        *n = 0;
    return rc;
}

static egide_rc s_kc_related(edge_store_t *s, edge_kc_relation rel, const char *child_key,
                             const char *household_key, const uint8_t msg_id[16], int64_t before_ms,
                             size_t limit, edge_kc_related_t *rows, size_t *n)
{
    if (n)
        *n = 0;
    if (!s || !msg_id || !rows || !n || limit == 0 || limit > EDGE_KC_RELATED_MAX ||
        !s_kc_key_ok(child_key) || (rel == EDGE_KC_SIBLING && !s_kc_key_ok(household_key)) ||
        (rel != EDGE_KC_SAME_CHILD && rel != EDGE_KC_SIBLING))
        return EGIDE_ERR_INVALID;
    sqlite3_stmt *st;
    egide_rc rc;
    if (rel == EDGE_KC_SAME_CHILD)
        rc = egide_db_stmt(DB(s),
                           "SELECT k.msg_id, k.child, k.received_ms, c.case_id FROM child_keys k"
                           " LEFT JOIN case_msgs c ON c.msg_id=k.msg_id"
                           " WHERE k.child_key=?1 AND k.child_key IS NOT NULL"
                           " AND k.received_ms<=?2 AND k.msg_id<>?3"
                           " ORDER BY k.received_ms DESC LIMIT ?4",
                           &st);
    else
        rc = egide_db_stmt(DB(s),
                           "SELECT k.msg_id, k.child, k.received_ms, c.case_id FROM child_keys k"
                           " LEFT JOIN case_msgs c ON c.msg_id=k.msg_id"
                           " WHERE k.household_key=?5 AND k.household_key IS NOT NULL"
                           " AND k.received_ms<=?2 AND k.msg_id<>?3 AND k.child_key IS NOT NULL"
                           " AND k.child_key<>?1 ORDER BY k.received_ms DESC LIMIT ?4",
                           &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, child_key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, before_ms);
    sqlite3_bind_blob(st, 3, msg_id, 16, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (int64_t)limit);
    if (rel == EDGE_KC_SIBLING)
        sqlite3_bind_text(st, 5, household_key, -1, SQLITE_STATIC);
    for (;;) {
        bool row;
        rc = s_row(DB(s), st, "known child related", &row);
        if (rc || !row)
            break;
        edge_kc_related_t *r = &rows[*n];
        memset(r, 0, sizeof *r);
        s_blob(r->msg_id, 16, st, 0);
        r->child = sqlite3_column_int(st, 1);
        r->received_ms = sqlite3_column_int64(st, 2);
        r->case_id = sqlite3_column_int64(st, 3); /* NULL (no case) reads as 0 */
        (*n)++;
    }
    egide_db_done(st);
    if (rc)
        *n = 0;
    return rc;
}

static egide_rc s_inbox_range(edge_store_t *s, int64_t from_ms, int64_t to_ms, int64_t after_ms,
                              const uint8_t *after_id, size_t limit, edge_inbox_row_t **rows,
                              size_t *n)
{
    if (rows)
        *rows = NULL;
    if (n)
        *n = 0;
    if (!s || !rows || !n || limit == 0 || limit > EDGE_STORE_PAGE_MAX)
        return EGIDE_ERR_INVALID;
    sqlite3_stmt *st;
    egide_rc rc =
        egide_db_stmt(DB(s),
                      "SELECT " INBOX_COLS ", payload FROM inbox"
                      " WHERE received_ms>=?1 AND received_ms<?2"
                      " AND (?4 IS NULL OR received_ms>?3 OR (received_ms=?3 AND msg_id>?4))"
                      " ORDER BY received_ms, msg_id LIMIT ?5",
                      &st);
    if (rc)
        return rc;
    /* The index range starts at the cursor, so a page never rereads the
     * pages before it (only the cursor's own millisecond is filtered). */
    sqlite3_bind_int64(st, 1, after_id && after_ms > from_ms ? after_ms : from_ms);
    sqlite3_bind_int64(st, 2, to_ms);
    sqlite3_bind_int64(st, 3, after_ms);
    s_bind_opt_id(st, 4, after_id);
    sqlite3_bind_int64(st, 5, (int64_t)limit);
    size_t cap = 0, bytes = 0;
    while (bytes < EDGE_STORE_PAGE_BYTES) {
        bool row;
        rc = s_row(DB(s), st, "inbox page", &row);
        if (rc || !row)
            break;
        rc = s_grow((void **)rows, &cap, *n, sizeof **rows);
        if (rc)
            break;
        edge_inbox_row_t *r = &(*rows)[*n];
        s_inbox_row(st, r);
        /* The payload is the last column, whatever INBOX_COLS holds. */
        rc = s_dup(st, sqlite3_column_count(st) - 1, &r->payload, &r->payload_len);
        if (rc)
            break;
        bytes += r->payload_len;
        (*n)++;
    }
    egide_db_done(st);
    if (rc) {
        for (size_t i = 0; i < *n; i++)
            edge_inbox_row_clear(&(*rows)[i]);
        free(*rows);
        *rows = NULL;
        *n = 0;
    }
    return rc;
}

/* The sender's own copies by created time (outbox_range); only rows that
 * kept one.  Named for edge_store_sqlite_plans. */
static const char *const s_outbox_range_sql =
    "SELECT msg_id, type, created_ms, content_type, payload FROM outbox"
    " WHERE created_ms>=?1 AND created_ms<?2"
    " AND (?4 IS NULL OR created_ms>?3 OR (created_ms=?3 AND msg_id>?4))"
    " AND payload IS NOT NULL"
    " ORDER BY created_ms, msg_id LIMIT ?5";

static egide_rc s_outbox_range(edge_store_t *s, int64_t from_ms, int64_t to_ms, int64_t after_ms,
                               const uint8_t *after_id, size_t limit, edge_sent_row_t **rows,
                               size_t *n)
{
    if (rows)
        *rows = NULL;
    if (n)
        *n = 0;
    if (!s || !rows || !n || limit == 0 || limit > EDGE_STORE_PAGE_MAX)
        return EGIDE_ERR_INVALID;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s), s_outbox_range_sql, &st);
    if (rc)
        return rc;
    /* As inbox_range: the index range starts at the cursor. */
    sqlite3_bind_int64(st, 1, after_id && after_ms > from_ms ? after_ms : from_ms);
    sqlite3_bind_int64(st, 2, to_ms);
    sqlite3_bind_int64(st, 3, after_ms);
    s_bind_opt_id(st, 4, after_id);
    sqlite3_bind_int64(st, 5, (int64_t)limit);
    size_t cap = 0, bytes = 0;
    while (bytes < EDGE_STORE_PAGE_BYTES) {
        bool row;
        rc = s_row(DB(s), st, "outbox range", &row);
        if (rc || !row)
            break;
        rc = s_grow((void **)rows, &cap, *n, sizeof **rows);
        if (rc)
            break;
        edge_sent_row_t *r = &(*rows)[*n];
        memset(r, 0, sizeof *r);
        s_blob(r->msg_id, 16, st, 0);
        s_text(r->type, sizeof r->type, st, 1);
        r->created_ms = sqlite3_column_int64(st, 2);
        s_text(r->content_type, sizeof r->content_type, st, 3);
        rc = s_dup(st, 4, &r->payload, &r->payload_len);
        if (rc)
            break;
        bytes += r->payload_len;
        (*n)++;
    }
    egide_db_done(st);
    if (rc) {
        for (size_t i = 0; i < *n; i++)
            edge_sent_row_clear(&(*rows)[i]);
        free(*rows);
        *rows = NULL;
        *n = 0;
    }
    return rc;
}

#define OP(x) .x = s_##x
/* ------------------------------------------------------------ idempotency keys */

static bool s_idem_key_ok(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    return n > 0 && n <= EDGE_IDEM_KEY_MAX;
}

static egide_rc s_idem_put(edge_store_t *s, const char *key, const uint8_t request_sha256[32],
                           const uint8_t msg_id[16], int64_t time_ms)
{
    if (!s || !s_idem_key_ok(key) || !request_sha256 || !msg_id)
        return EGIDE_ERR_INVALID;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(
        DB(s), "INSERT INTO idempotency(key, request_sha256, msg_id, time_ms) VALUES(?,?,?,?)",
        &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, request_sha256, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, msg_id, 16, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, time_ms);
    int r = sqlite3_step(st);
    if (r == SQLITE_DONE)
        rc = EGIDE_OK;
    else if ((r & 0xff) == SQLITE_CONSTRAINT)
        rc = EGIDE_ERR_EXISTS; /* the key is held: not a storage failure */
    else
        rc = s_fail(DB(s), "idempotency put", r);
    egide_db_done(st);
    return rc;
}

static egide_rc s_idem_get(edge_store_t *s, const char *key, uint8_t request_sha256[32],
                           uint8_t msg_id[16])
{
    if (!s || !s_idem_key_ok(key) || !request_sha256 || !msg_id)
        return EGIDE_ERR_INVALID;
    sqlite3_stmt *st;
    egide_rc rc =
        egide_db_stmt(DB(s), "SELECT request_sha256, msg_id FROM idempotency WHERE key=?", &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    bool row;
    rc = s_row(DB(s), st, "idempotency get", &row);
    if (!rc && !row)
        rc = EGIDE_ERR_NOTFOUND;
    if (!rc && (sqlite3_column_bytes(st, 0) != 32 || sqlite3_column_bytes(st, 1) != 16))
        rc = EGIDE_ERR_DB;
    if (!rc) {
        memcpy(request_sha256, sqlite3_column_blob(st, 0), 32);
        memcpy(msg_id, sqlite3_column_blob(st, 1), 16);
    }
    egide_db_done(st);
    return rc;
}

/* ------------------------------------------------------------ accounts */

static bool s_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    return n > 0 && n <= EDGE_USER_NAME_MAX;
}

static bool s_auth_key_ok(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    return n > 0 && n <= EDGE_AUTH_KEY_MAX;
}

static egide_rc s_user_add(edge_store_t *s, const edge_user_row_t *u)
{
    if (!s || !u || !s_name_ok(u->name) || !u->pwhash[0])
        return EGIDE_ERR_INVALID;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s),
                                "INSERT INTO users(name, role, pwhash, disabled, created_ms, "
                                "updated_ms) VALUES(?,?,?,?,?,?)",
                                &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, u->name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, u->role);
    sqlite3_bind_text(st, 3, u->pwhash, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, u->disabled ? 1 : 0);
    sqlite3_bind_int64(st, 5, u->created_ms);
    sqlite3_bind_int64(st, 6, u->updated_ms);
    int r = sqlite3_step(st);
    if (r == SQLITE_DONE)
        rc = EGIDE_OK;
    else if ((r & 0xff) == SQLITE_CONSTRAINT)
        rc = EGIDE_ERR_EXISTS; /* the name is taken: not a storage failure */
    else
        rc = s_fail(DB(s), "user add", r);
    egide_db_done(st);
    return rc;
}

static void s_fill_user(sqlite3_stmt *st, void *row)
{
    edge_user_row_t *u = row;
    s_text(u->name, sizeof u->name, st, 0);
    u->role = sqlite3_column_int(st, 1);
    u->disabled = sqlite3_column_int(st, 2) != 0;
    u->created_ms = sqlite3_column_int64(st, 3);
    u->updated_ms = sqlite3_column_int64(st, 4);
}

static egide_rc s_user_get(edge_store_t *s, const char *name, edge_user_row_t *u)
{
    if (!s || !s_name_ok(name) || !u)
        return EGIDE_ERR_INVALID;
    memset(u, 0, sizeof *u);
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(
        DB(s),
        "SELECT name, role, disabled, created_ms, updated_ms, pwhash FROM users WHERE name=?", &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    bool row;
    rc = s_row(DB(s), st, "user get", &row);
    if (!rc && !row)
        rc = EGIDE_ERR_NOTFOUND;
    if (!rc) {
        s_fill_user(st, u);
        s_text(u->pwhash, sizeof u->pwhash, st, 5);
    }
    egide_db_done(st);
    return rc;
}

static egide_rc s_user_set_hash(edge_store_t *s, const char *name, const char *pwhash,
                                int64_t time_ms)
{
    if (!s || !s_name_ok(name) || !pwhash || !*pwhash || strlen(pwhash) >= EDGE_PWHASH_MAX)
        return EGIDE_ERR_INVALID;
    bool changed;
    egide_rc rc = s_write(s, "UPDATE users SET pwhash=?, updated_ms=? WHERE name=?",
                          "user set hash", &changed, "tIt", pwhash, time_ms, name);
    return !rc && !changed ? EGIDE_ERR_NOTFOUND : rc;
}

static egide_rc s_user_set_disabled(edge_store_t *s, const char *name, bool disabled,
                                    int64_t time_ms)
{
    if (!s || !s_name_ok(name))
        return EGIDE_ERR_INVALID;
    /* A savepoint works inside the caller's transaction and outside one. */
    egide_rc rc = egide_db_exec(DB(s), "SAVEPOINT user_disable");
    if (rc)
        return rc;
    bool changed = false;
    rc = s_write(s, "UPDATE users SET disabled=?, updated_ms=? WHERE name=?", "user disable",
                 &changed, "iIt", disabled ? 1 : 0, time_ms, name);
    if (!rc && !changed)
        rc = EGIDE_ERR_NOTFOUND;
    if (!rc && disabled)
        rc = s_write(s, "DELETE FROM sessions WHERE user=?", "user disable sessions", NULL, "t",
                     name);
    if (rc)
        (void)egide_db_exec(DB(s), "ROLLBACK TO user_disable");
    egide_rc r2 = egide_db_exec(DB(s), "RELEASE user_disable");
    return rc ? rc : r2;
}

static egide_rc s_user_list(edge_store_t *s, edge_user_row_t **rows, size_t *n)
{
    if (!s || !rows || !n)
        return EGIDE_ERR_INVALID;
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(
        DB(s),
        "SELECT name, role, disabled, created_ms, updated_ms FROM users ORDER BY name LIMIT ?",
        &st);
    if (rc)
        return rc;
    sqlite3_bind_int(st, 1, EDGE_USERS_MAX);
    return s_collect(DB(s), st, "user list", sizeof **rows, s_fill_user, (void **)rows, n);
}

static egide_rc s_session_put(edge_store_t *s, const uint8_t id_sha256[32], const char *user,
                              int64_t time_ms)
{
    if (!s || !id_sha256 || !s_name_ok(user))
        return EGIDE_ERR_INVALID;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(
        DB(s), "INSERT INTO sessions(id_sha256, user, created_ms, last_ms) VALUES(?,?,?,?)", &st);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, id_sha256, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, time_ms);
    sqlite3_bind_int64(st, 4, time_ms);
    int r = sqlite3_step(st);
    if (r == SQLITE_DONE)
        rc = EGIDE_OK;
    else if ((r & 0xff) == SQLITE_CONSTRAINT)
        rc = EGIDE_ERR_EXISTS; /* same id (never, with 256 random bits) or no such user */
    else
        rc = s_fail(DB(s), "session put", r);
    egide_db_done(st);
    return rc;
}

static egide_rc s_session_get(edge_store_t *s, const uint8_t id_sha256[32], edge_session_row_t *row)
{
    if (!s || !id_sha256 || !row)
        return EGIDE_ERR_INVALID;
    memset(row, 0, sizeof *row);
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s),
                                "SELECT s.user, u.role, u.disabled, s.created_ms, s.last_ms "
                                "FROM sessions s JOIN users u ON u.name = s.user "
                                "WHERE s.id_sha256=?",
                                &st);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, id_sha256, 32, SQLITE_STATIC);
    bool found;
    rc = s_row(DB(s), st, "session get", &found);
    if (!rc && !found)
        rc = EGIDE_ERR_NOTFOUND;
    if (!rc) {
        memcpy(row->id_sha256, id_sha256, 32);
        s_text(row->user, sizeof row->user, st, 0);
        row->role = sqlite3_column_int(st, 1);
        row->disabled = sqlite3_column_int(st, 2) != 0;
        row->created_ms = sqlite3_column_int64(st, 3);
        row->last_ms = sqlite3_column_int64(st, 4);
    }
    egide_db_done(st);
    return rc;
}

/* A write keyed by a session's 32-byte hash. */
static egide_rc s_session_write(edge_store_t *s, const char *sql, const char *op,
                                const uint8_t id_sha256[32], bool with_time, int64_t time_ms)
{
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s), sql, &st);
    if (rc)
        return rc;
    int i = 1;
    if (with_time)
        sqlite3_bind_int64(st, i++, time_ms);
    sqlite3_bind_blob(st, i, id_sha256, 32, SQLITE_STATIC);
    bool changed;
    rc = s_exec_changed(DB(s), st, op, &changed);
    return !rc && !changed ? EGIDE_ERR_NOTFOUND : rc;
}

static egide_rc s_session_touch(edge_store_t *s, const uint8_t id_sha256[32], int64_t time_ms)
{
    if (!s || !id_sha256)
        return EGIDE_ERR_INVALID;
    return s_session_write(s, "UPDATE sessions SET last_ms=? WHERE id_sha256=?", "session touch",
                           id_sha256, true, time_ms);
}

static egide_rc s_session_delete(edge_store_t *s, const uint8_t id_sha256[32])
{
    if (!s || !id_sha256)
        return EGIDE_ERR_INVALID;
    return s_session_write(s, "DELETE FROM sessions WHERE id_sha256=?", "session delete", id_sha256,
                           false, 0);
}

static egide_rc s_session_delete_user(edge_store_t *s, const char *user)
{
    if (!s || !s_name_ok(user))
        return EGIDE_ERR_INVALID;
    return s_write(s, "DELETE FROM sessions WHERE user=?", "session delete user", NULL, "t", user);
}

static egide_rc s_session_purge(edge_store_t *s, int64_t created_before, int64_t last_before)
{
    if (!s)
        return EGIDE_ERR_INVALID;
    return s_write(s, "DELETE FROM sessions WHERE created_ms < ? OR last_ms < ?", "session purge",
                   NULL, "II", created_before, last_before);
}

static egide_rc s_auth_fail_add(edge_store_t *s, const char *key, int64_t time_ms)
{
    if (!s || !s_auth_key_ok(key))
        return EGIDE_ERR_INVALID;
    return s_write(s, "INSERT INTO auth_failures(key, time_ms) VALUES(?,?)", "auth failure add",
                   NULL, "tI", key, time_ms);
}

static egide_rc s_auth_fail_count(edge_store_t *s, const char *key, int64_t since_ms, size_t *n,
                                  int64_t *last_ms)
{
    if (!s || !s_auth_key_ok(key) || !n)
        return EGIDE_ERR_INVALID;
    *n = 0;
    if (last_ms)
        *last_ms = 0;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(
        DB(s), "SELECT count(*), max(time_ms) FROM auth_failures WHERE key=? AND time_ms>=?", &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, since_ms);
    bool row;
    rc = s_row(DB(s), st, "auth failure count", &row);
    if (!rc && row) {
        *n = (size_t)sqlite3_column_int64(st, 0);
        if (last_ms && s_has(st, 1))
            *last_ms = sqlite3_column_int64(st, 1);
    }
    egide_db_done(st);
    return rc;
}

static egide_rc s_auth_fail_clear(edge_store_t *s, const char *key)
{
    if (!s || !s_auth_key_ok(key))
        return EGIDE_ERR_INVALID;
    return s_write(s, "DELETE FROM auth_failures WHERE key=?", "auth failure clear", NULL, "t",
                   key);
}

static egide_rc s_auth_fail_purge(edge_store_t *s, int64_t before_ms)
{
    if (!s)
        return EGIDE_ERR_INVALID;
    return s_write(s, "DELETE FROM auth_failures WHERE time_ms < ?", "auth failure purge", NULL,
                   "I", before_ms);
}

static egide_rc s_auth_fail_remove(edge_store_t *s, const char *key, int64_t time_ms)
{
    if (!s || !s_auth_key_ok(key))
        return EGIDE_ERR_INVALID;
    return s_write(s,
                   "DELETE FROM auth_failures WHERE rowid = (SELECT rowid FROM auth_failures"
                   " WHERE key=?1 AND time_ms=?2 LIMIT 1)",
                   "auth failure remove", NULL, "tI", key, time_ms);
}

/* ------------------------------------------------------------ read-only handles, pages */

static egide_rc s_open_readonly(const char *path, edge_store_t **out)
{
    if (!path || !out)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    s_store_t *s = calloc(1, sizeof *s);
    if (!s)
        return EGIDE_ERR_NOMEM;
    s->base.ops = &edge_store_sqlite_ops;
    /* SQLITE_OPEN_READONLY on the WAL database the writer migrated; WAL
     * readers never wait for the writer (busy timeout as egide_db_open's
     * for the checkpoint corner cases). */
    egide_rc rc = egide_db_open(path, true, &s->db);
    if (rc) {
        free(s);
        return rc;
    }
    *out = &s->base;
    return EGIDE_OK;
}

static egide_rc s_read_begin(edge_store_t *s)
{
    if (!s)
        return EGIDE_ERR_INVALID;
    if (!sqlite3_get_autocommit(DB(s)))
        return EGIDE_ERR_STATE;
    return egide_db_exec(DB(s), "BEGIN DEFERRED");
}

static void s_read_end(edge_store_t *s)
{
    if (s && !sqlite3_get_autocommit(DB(s)))
        (void)egide_db_exec(DB(s), "COMMIT");
}

/* The recipients' states of one message packed in one integer by the
 * outbox page's subquery: 12 bits each for all, rejected, expired,
 * pending and acknowledged (EGIDE_MAX_RECIPIENTS < 4096). */
#define S_PACK_BITS 12
#define S_PACK_MASK ((1 << S_PACK_BITS) - 1)

/* The overall state (edge_overall_state) of an outbox row from the
 * packed counts of its recipients. */
static const char *s_overall_packed(edge_out_state st, int64_t packed)
{
    size_t n = (size_t)(packed & S_PACK_MASK);
    size_t k[4];
    for (int i = 0; i < 4; i++)
        k[i] = (size_t)((packed >> (S_PACK_BITS * (i + 1))) & S_PACK_MASK);
    edge_rcpt_row_t r[EGIDE_MAX_RECIPIENTS];
    if (n > EGIDE_MAX_RECIPIENTS)
        n = EGIDE_MAX_RECIPIENTS;
    static const edge_rcpt_state kind[4] = {EDGE_RCPT_REJECTED, EDGE_RCPT_EXPIRED,
                                            EDGE_RCPT_PENDING, EDGE_RCPT_ACKNOWLEDGED};
    size_t j = 0;
    for (int i = 0; i < 4; i++)
        for (size_t m = 0; m < k[i] && j < n; m++)
            r[j++].state = kind[i];
    while (j < n)
        r[j++].state = EDGE_RCPT_DELIVERED;
    return edge_overall_state(st, r, n);
}

static bool s_inbox_state_name(const char *name, int *state)
{
    edge_in_state is;
    if (edge_in_state_parse(name, &is) != EGIDE_OK)
        return false;
    *state = (int)is;
    return true;
}

static const char *const s_outbox_page_sql =
    "SELECT " OUTBOX_COLS ", (SELECT sum(1 + ((r.state=?2) << 12) + ((r.state=?3) << 24)"
    " + ((r.state=?4) << 36) + ((r.state=?5) << 48)) FROM outbox_rcpt r"
    " WHERE r.msg_id=outbox.msg_id) FROM outbox WHERE seq < ?1 ORDER BY seq DESC";

static egide_rc s_outbox_page(edge_store_t *s, const edge_page_q_t *q, edge_outbox_row_t **rows,
                              size_t *n, edge_page_t *pg)
{
    if (!s || !q || !rows || !n || !pg || q->limit == 0 || q->limit > EDGE_STORE_LIST_MAX ||
        (q->state && !edge_overall_state_known(q->state)))
        return EGIDE_ERR_INVALID;
    *rows = NULL;
    *n = 0;
    memset(pg, 0, sizeof *pg);
    sqlite3_stmt *st;
    /* Newest first from the seq index; each row's recipients counted
     * through outbox_rcpt's primary key (at most EGIDE_MAX_RECIPIENTS). */
    egide_rc rc = egide_db_stmt(DB(s), s_outbox_page_sql, &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, q->has_after ? q->after_key : INT64_MAX);
    sqlite3_bind_int(st, 2, EDGE_RCPT_REJECTED);
    sqlite3_bind_int(st, 3, EDGE_RCPT_EXPIRED);
    sqlite3_bind_int(st, 4, EDGE_RCPT_PENDING);
    sqlite3_bind_int(st, 5, EDGE_RCPT_ACKNOWLEDGED);
    size_t cap = 0, scanned = 0;
    int64_t last_seq = 0;
    for (;;) {
        bool row;
        rc = s_row(DB(s), st, "outbox page", &row);
        if (rc || !row)
            break;
        if (scanned == EDGE_STORE_SCAN_MAX) {
            /* Not looked at yet: the next page goes on from here. */
            pg->more = true;
            pg->next_key = *n == q->limit ? (int64_t)(*rows)[*n - 1].seq : last_seq;
            break;
        }
        scanned++;
        int64_t seq = sqlite3_column_int64(st, 1);
        if (q->state && strcmp(s_overall_packed((edge_out_state)sqlite3_column_int(st, 7),
                                                sqlite3_column_int64(st, OUTBOX_NCOLS)),
                               q->state) != 0) {
            if (*n < q->limit)
                last_seq = seq;
            continue;
        }
        if (*n == q->limit) {
            /* One more matching row: there is a next page. */
            pg->more = true;
            pg->next_key = (int64_t)(*rows)[*n - 1].seq;
            break;
        }
        rc = s_grow((void **)rows, &cap, *n, sizeof **rows);
        if (rc)
            break;
        s_outbox_row(st, &(*rows)[(*n)++]);
        last_seq = seq;
    }
    egide_db_done(st);
    if (rc) {
        free(*rows);
        *rows = NULL;
        *n = 0;
        memset(pg, 0, sizeof *pg);
        return rc;
    }
    return EGIDE_OK;
}

/* One statement per shape, each a range of inbox_page or
 * inbox_state_page read backwards (no sort). */
static const char *const s_inbox_page_sql[2][2] = {
    {"SELECT " INBOX_COLS " FROM inbox ORDER BY received_ms DESC, msg_id DESC LIMIT ?5",
     "SELECT " INBOX_COLS " FROM inbox WHERE (received_ms, msg_id) < (?2, ?3)"
     " ORDER BY received_ms DESC, msg_id DESC LIMIT ?5"},
    {"SELECT " INBOX_COLS " FROM inbox WHERE state=?4"
     " ORDER BY received_ms DESC, msg_id DESC LIMIT ?5",
     "SELECT " INBOX_COLS " FROM inbox WHERE state=?4 AND (received_ms, msg_id) < (?2, ?3)"
     " ORDER BY received_ms DESC, msg_id DESC LIMIT ?5"},
};

static egide_rc s_inbox_page(edge_store_t *s, const edge_page_q_t *q, edge_inbox_row_t **rows,
                             size_t *n, edge_page_t *pg)
{
    int state = -1;
    if (!s || !q || !rows || !n || !pg || q->limit == 0 || q->limit > EDGE_STORE_LIST_MAX ||
        (q->state && !s_inbox_state_name(q->state, &state)))
        return EGIDE_ERR_INVALID;
    *rows = NULL;
    *n = 0;
    memset(pg, 0, sizeof *pg);
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s), s_inbox_page_sql[state >= 0][q->has_after], &st);
    if (rc)
        return rc;
    if (q->has_after) {
        sqlite3_bind_int64(st, 2, q->after_key);
        sqlite3_bind_blob(st, 3, q->after_id, 16, SQLITE_STATIC);
    }
    if (state >= 0)
        sqlite3_bind_int(st, 4, state);
    sqlite3_bind_int64(st, 5, (int64_t)q->limit + 1); /* one more: is there a next page? */
    rc = s_collect(DB(s), st, "inbox page", sizeof **rows, s_inbox_row, (void **)rows, n);
    if (rc)
        return rc;
    if (*n > q->limit) {
        *n = q->limit;
        pg->more = true;
        pg->next_key = (*rows)[*n - 1].received_ms;
        memcpy(pg->next_id, (*rows)[*n - 1].msg_id, 16);
    }
    return EGIDE_OK;
}

/* ------------------------------------------------------------ cases and search (wt-http) */

/* The residual filters of a search, checked row by row (?1 type, ?2 state,
 * ?3 urgency, ?4 commune, ?5 sender, ?6 case reference substring; NULL =
 * any).  lower() folds ASCII only: the reference search says so. */
#define S_RESID_IN                                                                                 \
    "((?1 IS NULL OR type=?1) AND (?2 IS NULL OR state=?2) AND (?3 IS NULL OR urgency=?3) AND"     \
    " (?4 IS NULL OR commune=?4) AND (?5 IS NULL OR sender_id=?5) AND"                             \
    " (?6 IS NULL OR instr(lower(coalesce(case_ref, '')), lower(?6)) > 0))"
#define S_RESID_OUT                                                                                \
    "((?1 IS NULL OR type=?1) AND (?2 IS NULL OR state=?2) AND (?3 IS NULL OR urgency=?3) AND"     \
    " (?4 IS NULL OR commune=?4) AND"                                                              \
    " (?6 IS NULL OR instr(lower(coalesce(case_ref, '')), lower(?6)) > 0))"
/* Leading filters, each the equality prefix of one index. */
#define S_LEAD_NONE    ""
#define S_LEAD_TYPE    "type=?1 AND "
#define S_LEAD_STATE   "state=?2 AND "
#define S_LEAD_COMMUNE "commune=?4 AND "
#define S_LEAD_SENDER  "sender_id=?5 AND "
/* After a cursor (?12, ?13): the range's upper bound ?11 is brought down to
 * ?12 + 1 by the caller, so the index range starts at the cursor; this
 * only drops the rows of the cursor's own millisecond up to its id. */
#define S_IN_AFTER  " AND (received_ms < ?12 OR msg_id < ?13)"
#define S_OUT_AFTER " AND (created_ms < ?12 OR msg_id < ?13)"
/* A page is read in two steps: the range of the leading index, which
 * covers every column the residual filters read (migration 9), so that a
 * row that does not match costs one index entry and never its table row
 * (whose late columns sit behind the payload's overflow pages); then the
 * page's matches by primary key (s_search_fetch). */
#define S_IN_PAGE(lead, after)                                                                     \
    "SELECT received_ms, msg_id, " S_RESID_IN " FROM inbox WHERE " lead                            \
    "received_ms >= ?10 AND received_ms < ?11" after " ORDER BY received_ms DESC, msg_id DESC"
#define S_OUT_PAGE(lead, after)                                                                    \
    "SELECT created_ms, msg_id, " S_RESID_OUT " FROM outbox WHERE " lead                           \
    "created_ms >= ?10 AND created_ms < ?11" after " ORDER BY created_ms DESC, msg_id DESC"
static const char *const s_search_fetch_sql[2] = {
    "SELECT " INBOX_COLS " FROM inbox WHERE msg_id=?1",
    "SELECT " OUTBOX_COLS " FROM outbox WHERE msg_id=?1",
};
#define S_IN_COUNT(lead)                                                                           \
    "SELECT count(*), total(m) FROM (SELECT " S_RESID_IN " AS m FROM inbox WHERE " lead            \
    "received_ms >= ?10 AND received_ms < ?11 ORDER BY received_ms DESC, msg_id DESC LIMIT ?20)"
#define S_OUT_COUNT(lead)                                                                          \
    "SELECT count(*), total(m) FROM (SELECT " S_RESID_OUT " AS m FROM outbox WHERE " lead          \
    "created_ms >= ?10 AND created_ms < ?11 ORDER BY created_ms DESC, msg_id DESC LIMIT ?20)"

enum { S_L_NONE, S_L_TYPE, S_L_STATE, S_L_COMMUNE, S_L_SENDER, S_L__COUNT };

/* [outbox][lead][after]; the outbox has no sender lead (NULL). */
static const char *const s_search_sql[2][S_L__COUNT][2] = {
    {{S_IN_PAGE(S_LEAD_NONE, ""), S_IN_PAGE(S_LEAD_NONE, S_IN_AFTER)},
     {S_IN_PAGE(S_LEAD_TYPE, ""), S_IN_PAGE(S_LEAD_TYPE, S_IN_AFTER)},
     {S_IN_PAGE(S_LEAD_STATE, ""), S_IN_PAGE(S_LEAD_STATE, S_IN_AFTER)},
     {S_IN_PAGE(S_LEAD_COMMUNE, ""), S_IN_PAGE(S_LEAD_COMMUNE, S_IN_AFTER)},
     {S_IN_PAGE(S_LEAD_SENDER, ""), S_IN_PAGE(S_LEAD_SENDER, S_IN_AFTER)}},
    {{S_OUT_PAGE(S_LEAD_NONE, ""), S_OUT_PAGE(S_LEAD_NONE, S_OUT_AFTER)},
     {S_OUT_PAGE(S_LEAD_TYPE, ""), S_OUT_PAGE(S_LEAD_TYPE, S_OUT_AFTER)},
     {S_OUT_PAGE(S_LEAD_STATE, ""), S_OUT_PAGE(S_LEAD_STATE, S_OUT_AFTER)},
     {S_OUT_PAGE(S_LEAD_COMMUNE, ""), S_OUT_PAGE(S_LEAD_COMMUNE, S_OUT_AFTER)},
     {NULL, NULL}},
};
static const char *const s_count_sql[2][S_L__COUNT] = {
    {S_IN_COUNT(S_LEAD_NONE), S_IN_COUNT(S_LEAD_TYPE), S_IN_COUNT(S_LEAD_STATE),
     S_IN_COUNT(S_LEAD_COMMUNE), S_IN_COUNT(S_LEAD_SENDER)},
    {S_OUT_COUNT(S_LEAD_NONE), S_OUT_COUNT(S_LEAD_TYPE), S_OUT_COUNT(S_LEAD_STATE),
     S_OUT_COUNT(S_LEAD_COMMUNE), NULL},
};

/* The leading filter: the most selective one given. */
static int s_search_lead(const edge_search_q_t *q)
{
    if (q->sender)
        return S_L_SENDER;
    if (q->commune)
        return S_L_COMMUNE;
    if (q->type)
        return S_L_TYPE;
    if (q->state >= 0)
        return S_L_STATE;
    return S_L_NONE;
}

static void s_bind_opt_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void s_search_bind(sqlite3_stmt *st, const edge_search_q_t *q)
{
    s_bind_opt_text(st, 1, q->type);
    if (q->state >= 0)
        sqlite3_bind_int(st, 2, q->state);
    else
        sqlite3_bind_null(st, 2);
    if (q->urgency >= 0)
        sqlite3_bind_int(st, 3, q->urgency);
    else
        sqlite3_bind_null(st, 3);
    s_bind_opt_text(st, 4, q->commune);
    if (!q->outbox)
        s_bind_opt_text(st, 5, q->sender);
    s_bind_opt_text(st, 6, q->ref);
    sqlite3_bind_int64(st, 10, q->has_from ? q->from_ms : INT64_MIN);
    sqlite3_bind_int64(st, 11, q->has_to ? q->to_ms : INT64_MAX);
}

static bool s_ref_ok(const char *ref)
{
    size_t n = ref ? strlen(ref) : 1;
    return n >= 1 && n <= EDGE_SEARCH_REF_MAX;
}

/* total: the matches among the first EDGE_SEARCH_COUNT_CAP rows of the
 * leading range (the count's own statement: the page's cursor aside). */
static egide_rc s_search_total(edge_store_t *s, const edge_search_q_t *q, int lead,
                               edge_search_page_t *pg)
{
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s), s_count_sql[q->outbox][lead], &st);
    if (rc)
        return rc;
    s_search_bind(st, q);
    sqlite3_bind_int64(st, 20, EDGE_SEARCH_COUNT_CAP);
    bool row;
    rc = s_row(DB(s), st, "search total", &row);
    if (!rc && row) {
        int64_t seen = sqlite3_column_int64(st, 0);
        pg->total = (int64_t)sqlite3_column_double(st, 1);
        pg->total_exact = seen < EDGE_SEARCH_COUNT_CAP;
    }
    egide_db_done(st);
    return rc;
}

/* A found row's case columns, from the row of its box. */
static void s_search_case_cols(edge_search_row_t *r, bool outbox)
{
    r->case_id = outbox ? r->out.case_id : r->in.case_id;
    egide_strlcpy(r->commune, outbox ? r->out.commune : r->in.commune, sizeof r->commune);
    egide_strlcpy(r->case_ref, outbox ? r->out.case_ref : r->in.case_ref, sizeof r->case_ref);
}

/* The page's rows, by the ids the index range matched, in its order.  A
 * row gone meanwhile (the read is not one snapshot with the range) is left
 * out. */
static egide_rc s_search_fetch(edge_store_t *s, bool outbox, const uint8_t (*ids)[16], size_t found,
                               edge_search_row_t **rows, size_t *n)
{
    *rows = calloc(found, sizeof **rows);
    if (!*rows)
        return EGIDE_ERR_NOMEM;
    egide_rc rc = EGIDE_OK;
    for (size_t i = 0; i < found && !rc; i++) {
        sqlite3_stmt *st;
        rc = egide_db_stmt(DB(s), s_search_fetch_sql[outbox], &st);
        if (rc)
            break;
        sqlite3_bind_blob(st, 1, ids[i], 16, SQLITE_STATIC);
        bool row;
        rc = s_row(DB(s), st, "search row", &row);
        if (!rc && row) {
            edge_search_row_t *r = &(*rows)[(*n)++];
            if (outbox)
                s_outbox_row(st, &r->out);
            else
                s_inbox_row(st, &r->in);
            s_search_case_cols(r, outbox);
        }
        egide_db_done(st);
    }
    return rc;
}

static egide_rc s_msg_search(edge_store_t *s, const edge_search_q_t *q, edge_search_row_t **rows,
                             size_t *n, edge_search_page_t *pg)
{
    if (!s || !q || !rows || !n || !pg || q->limit == 0 || q->limit > EDGE_SEARCH_PAGE_MAX ||
        (q->outbox && q->sender) || !s_ref_ok(q->ref))
        return EGIDE_ERR_INVALID;
    *rows = NULL;
    *n = 0;
    memset(pg, 0, sizeof *pg);
    int lead = s_search_lead(q);
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s), s_search_sql[q->outbox][lead][q->has_after], &st);
    if (rc)
        return rc;
    s_search_bind(st, q);
    if (q->has_after) {
        sqlite3_bind_int64(st, 12, q->after_ms);
        sqlite3_bind_blob(st, 13, q->after_id, 16, SQLITE_STATIC);
        if (q->after_ms < INT64_MAX && (!q->has_to || q->after_ms + 1 < q->to_ms))
            sqlite3_bind_int64(st, 11, q->after_ms + 1);
    }
    size_t scanned = 0, found = 0;
    int64_t last_ms = 0;
    uint8_t last_id[16] = {0};
    uint8_t(*ids)[16] = calloc(q->limit, sizeof *ids);
    if (!ids) {
        egide_db_done(st);
        return EGIDE_ERR_NOMEM;
    }
    for (;;) {
        bool row;
        rc = s_row(DB(s), st, "search", &row);
        if (rc || !row)
            break;
        if (scanned == EDGE_STORE_SCAN_MAX) {
            pg->more = true; /* the scan bound: go on from the last row looked at */
            break;
        }
        scanned++;
        bool match = sqlite3_column_int(st, 2) != 0;
        if (match && found == q->limit) {
            pg->more = true;
            break;
        }
        /* The position of the row looked at last, in the order. */
        last_ms = sqlite3_column_int64(st, 0);
        s_blob(last_id, 16, st, 1);
        if (match)
            memcpy(ids[found++], last_id, 16);
    }
    egide_db_done(st);
    if (!rc && found)
        rc = s_search_fetch(s, q->outbox, ids, found, rows, n);
    free(ids);
    if (!rc && pg->more) {
        pg->next_ms = last_ms;
        memcpy(pg->next_id, last_id, 16);
    }
    if (!rc)
        rc = s_search_total(s, q, lead, pg);
    if (rc) {
        free(*rows);
        *rows = NULL;
        *n = 0;
        memset(pg, 0, sizeof *pg);
    }
    return rc;
}

static void s_case_fill(sqlite3_stmt *st, edge_case_row_t *row)
{
    memset(row, 0, sizeof *row);
    row->id = sqlite3_column_int64(st, 0);
    s_text(row->ref, sizeof row->ref, st, 1);
    row->created_ms = sqlite3_column_int64(st, 2);
    row->updated_ms = sqlite3_column_int64(st, 3);
    row->has_origin = s_has(st, 4);
    row->origin_ms = sqlite3_column_int64(st, 4);
    row->has_declared = s_has(st, 5);
    row->declared_ms = sqlite3_column_int64(st, 5);
}

#define S_CASE_RESID                                                                               \
    "((?1 IS NULL OR instr(lower(coalesce(ref, '')), lower(?1)) > 0) AND created_ms >= ?2 AND"     \
    " created_ms < ?3)"
#define S_CASE_PAGE(after)                                                                         \
    "SELECT id, ref, created_ms, updated_ms, origin_ms, declared_ms, " S_CASE_RESID                \
    " FROM cases WHERE updated_ms >= ?4" after " ORDER BY updated_ms DESC, id DESC"

static const char *const s_case_sql[2] = {S_CASE_PAGE(""),
                                          S_CASE_PAGE(" AND (updated_ms, id) < (?5, ?6)")};
static const char *const s_case_count_sql =
    "SELECT count(*), total(m) FROM (SELECT " S_CASE_RESID " AS m FROM cases"
    " WHERE updated_ms >= ?4 ORDER BY updated_ms DESC, id DESC LIMIT ?20)";

static egide_rc s_case_search(edge_store_t *s, const edge_case_q_t *q, edge_case_row_t **rows,
                              size_t *n, edge_search_page_t *pg)
{
    if (!s || !q || !rows || !n || !pg || q->limit == 0 || q->limit > EDGE_SEARCH_PAGE_MAX ||
        !s_ref_ok(q->ref))
        return EGIDE_ERR_INVALID;
    *rows = NULL;
    *n = 0;
    memset(pg, 0, sizeof *pg);
    egide_rc rc = EGIDE_OK;
    for (int pass = 0; pass < 2; pass++) {
        sqlite3_stmt *st;
        rc = egide_db_stmt(DB(s), pass ? s_case_count_sql : s_case_sql[q->has_after], &st);
        if (rc)
            goto fail;
        s_bind_opt_text(st, 1, q->ref);
        sqlite3_bind_int64(st, 2, q->has_from ? q->from_ms : INT64_MIN);
        sqlite3_bind_int64(st, 3, q->has_to ? q->to_ms : INT64_MAX);
        sqlite3_bind_int64(st, 4, q->has_since ? q->since_ms : INT64_MIN);
        if (pass) {
            sqlite3_bind_int64(st, 20, EDGE_SEARCH_COUNT_CAP);
            bool row;
            rc = s_row(DB(s), st, "case search total", &row);
            if (!rc && row) {
                pg->total = (int64_t)sqlite3_column_double(st, 1);
                pg->total_exact = sqlite3_column_int64(st, 0) < EDGE_SEARCH_COUNT_CAP;
            }
            egide_db_done(st);
            if (rc)
                goto fail;
            break;
        }
        if (q->has_after) {
            sqlite3_bind_int64(st, 5, q->after_ms);
            sqlite3_bind_int64(st, 6, q->after_id);
        }
        size_t cap = 0, scanned = 0;
        int64_t last_ms = 0, last_id = 0;
        for (;;) {
            bool row;
            rc = s_row(DB(s), st, "case search", &row);
            if (rc || !row)
                break;
            if (scanned == EDGE_STORE_SCAN_MAX) {
                pg->more = true;
                break;
            }
            scanned++;
            bool match = sqlite3_column_int(st, 6) != 0;
            if (match && *n == q->limit) {
                pg->more = true;
                break;
            }
            last_id = sqlite3_column_int64(st, 0);
            last_ms = sqlite3_column_int64(st, 3);
            if (!match)
                continue;
            rc = s_grow((void **)rows, &cap, *n, sizeof **rows);
            if (rc)
                break;
            s_case_fill(st, &(*rows)[(*n)++]);
        }
        egide_db_done(st);
        if (rc)
            goto fail;
        if (pg->more) {
            pg->next_ms = last_ms;
            for (int i = 0; i < 8; i++)
                pg->next_id[i] = (uint8_t)((uint64_t)last_id >> (56 - 8 * i));
        }
    }
    return EGIDE_OK;
fail:
    free(*rows);
    *rows = NULL;
    *n = 0;
    memset(pg, 0, sizeof *pg);
    return rc;
}

static const char *const s_case_msgs_sql[2] = {"SELECT " INBOX_COLS " FROM inbox WHERE case_id=?1"
                                               " ORDER BY received_ms, msg_id LIMIT ?2",
                                               "SELECT " OUTBOX_COLS " FROM outbox WHERE case_id=?1"
                                               " ORDER BY created_ms, msg_id LIMIT ?2"};

static egide_rc s_case_messages(edge_store_t *s, int64_t case_id, bool outbox, size_t max,
                                edge_search_row_t **rows, size_t *n, bool *more)
{
    if (!s || case_id <= 0 || !rows || !n || !more || max == 0 || max > EDGE_CASE_MSGS_MAX)
        return EGIDE_ERR_INVALID;
    *rows = NULL;
    *n = 0;
    *more = false;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(DB(s), s_case_msgs_sql[outbox], &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, case_id);
    sqlite3_bind_int64(st, 2, (int64_t)max + 1);
    size_t cap = 0;
    for (;;) {
        bool row;
        rc = s_row(DB(s), st, "case messages", &row);
        if (rc || !row)
            break;
        if (*n == max) {
            *more = true;
            break;
        }
        rc = s_grow((void **)rows, &cap, *n, sizeof **rows);
        if (rc)
            break;
        edge_search_row_t *r = &(*rows)[(*n)++];
        memset(r, 0, sizeof *r);
        if (outbox)
            s_outbox_row(st, &r->out);
        else
            s_inbox_row(st, &r->in);
        s_search_case_cols(r, outbox);
    }
    egide_db_done(st);
    if (rc) {
        free(*rows);
        *rows = NULL;
        *n = 0;
        *more = false;
    }
    return rc;
}

sqlite3 *edge_store_sqlite_db(edge_store_t *s)
{
    /* A handle of this backend, also when its table is a copy with an
     * operation replaced (the tests' fault injection). */
    return s && s->ops && s->ops->open == s_open ? DB(s) : NULL;
}

egide_rc edge_store_sqlite_plans(edge_store_t *s, edge_store_plan_fn fn, void *arg)
{
    if (!s || !fn || s->ops != &edge_store_sqlite_ops)
        return EGIDE_ERR_INVALID;
    const char *sql[64];
    char names[64][32];
    size_t n = 0;
#define S_ADD(name_, sql_)                                                                         \
    do {                                                                                           \
        if ((sql_) && n < 64) {                                                                    \
            snprintf(names[n], sizeof names[n], "%s", (name_));                                    \
            sql[n++] = (sql_);                                                                     \
        }                                                                                          \
    } while (0)
    static const char *const lead[S_L__COUNT] = {"time", "type", "state", "commune", "sender"};
    for (int b = 0; b < 2; b++)
        for (int l = 0; l < S_L__COUNT; l++) {
            char nm[32];
            for (int a = 0; a < 2; a++) {
                snprintf(nm, sizeof nm, "search %s %s%s", b ? "outbox" : "inbox", lead[l],
                         a ? " after" : "");
                S_ADD(nm, s_search_sql[b][l][a]);
            }
            snprintf(nm, sizeof nm, "total %s %s", b ? "outbox" : "inbox", lead[l]);
            S_ADD(nm, s_count_sql[b][l]);
        }
    S_ADD("inbox page", s_inbox_page_sql[0][0]);
    S_ADD("inbox page after", s_inbox_page_sql[0][1]);
    S_ADD("inbox page state", s_inbox_page_sql[1][0]);
    S_ADD("inbox page state after", s_inbox_page_sql[1][1]);
    S_ADD("outbox page", s_outbox_page_sql);
    S_ADD("cases", s_case_sql[0]);
    S_ADD("cases after", s_case_sql[1]);
    S_ADD("cases total", s_case_count_sql);
    S_ADD("case inbox", s_case_msgs_sql[0]);
    S_ADD("case outbox", s_case_msgs_sql[1]);
    S_ADD("outbox range", s_outbox_range_sql);
    S_ADD("expire recipients", s_expire_rcpt_sql);
    S_ADD("expire messages", s_expire_out_sql);
#undef S_ADD
    egide_rc rc = EGIDE_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        char *q = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", sql[i]);
        sqlite3_stmt *st = NULL;
        if (!q)
            return EGIDE_ERR_NOMEM;
        int r = sqlite3_prepare_v2(DB(s), q, -1, &st, NULL);
        sqlite3_free(q);
        if (r != SQLITE_OK)
            return s_fail(DB(s), "explain", r);
        egide_buf_t plan;
        egide_buf_init(&plan, 1 << 16);
        for (int k = 0; k < 256; k++) {
            r = sqlite3_step(st);
            if (r != SQLITE_ROW)
                break;
            const char *d = (const char *)sqlite3_column_text(st, 3);
            egide_buf_append(&plan, d ? d : "", d ? strlen(d) : 0);
            egide_buf_append(&plan, "\n", 1);
        }
        if (r != SQLITE_DONE && r != SQLITE_ROW)
            rc = s_fail(DB(s), "explain", r);
        sqlite3_finalize(st);
        egide_buf_append(&plan, "", 1);
        if (!rc)
            fn(names[i], (const char *)plan.data, arg);
        egide_buf_free(&plan);
    }
    return rc;
}

const edge_store_ops_t edge_store_sqlite_ops = {.name = "sqlite",
                                                OP(open),
                                                OP(close),
                                                OP(begin),
                                                OP(commit),
                                                OP(rollback),
                                                OP(mark),
                                                OP(unmark),
                                                OP(meta_get),
                                                OP(meta_put),
                                                OP(next_seq),
                                                OP(seq_raise),
                                                OP(seq_lower),
                                                OP(outbox_add),
                                                OP(outbox_envelope),
                                                OP(outbox_resequence),
                                                OP(outbox_reseal),
                                                OP(outbox_kept),
                                                OP(outbox_get),
                                                OP(outbox_due),
                                                OP(outbox_attempt),
                                                OP(outbox_retry_all),
                                                OP(outbox_mark_accepted),
                                                OP(outbox_mark_rejected),
                                                OP(outbox_expire),
                                                OP(outbox_list),
                                                OP(rcpt_update),
                                                OP(rcpt_acknowledge),
                                                OP(rcpt_list),
                                                OP(inbox_put),
                                                OP(inbox_receipt),
                                                OP(inbox_get),
                                                OP(inbox_list),
                                                OP(inbox_acknowledge),
                                                OP(inbox_count),
                                                OP(rejected_put),
                                                OP(rejected_find),
                                                OP(receipt_put),
                                                OP(receipt_list),
                                                OP(case_get),
                                                OP(case_find),
                                                OP(case_of),
                                                OP(case_origin),
                                                OP(obligation_open),
                                                OP(obligation_close),
                                                OP(obligation_list),
                                                OP(obligation_count),
                                                OP(obligation_counts),
                                                OP(counts),
                                                OP(idem_put),
                                                OP(idem_get),
                                                /* accounts */
                                                OP(user_add),
                                                OP(user_get),
                                                OP(user_set_hash),
                                                OP(user_set_disabled),
                                                OP(user_list),
                                                OP(session_put),
                                                OP(session_get),
                                                OP(session_touch),
                                                OP(session_delete),
                                                OP(session_delete_user),
                                                OP(session_purge),
                                                OP(auth_fail_add),
                                                OP(auth_fail_count),
                                                OP(auth_fail_clear),
                                                OP(auth_fail_purge),
                                                OP(auth_fail_remove),
                                                /* known child */
                                                OP(kc_put),
                                                OP(kc_get),
                                                OP(kc_related),
                                                OP(inbox_range),
                                                OP(open_readonly),
                                                OP(read_begin),
                                                OP(read_end),
                                                OP(outbox_page),
                                                OP(inbox_page),
                                                OP(msg_search),
                                                OP(case_search),
                                                OP(case_messages),
                                                OP(outbox_range)};
