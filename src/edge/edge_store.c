/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_store.c - the edge's SQLite schema and the few writes both threads
 * share.  The outbox holds the exact sealed bytes (retries are
 * byte-identical); outbox_rcpt the state per recipient; the inbox the opened
 * payload and the DELIVERED receipt we sent (a duplicate gets it again);
 * receipts every receipt received, verified, as bytes.
 */
#include "edge.h"

#include <stdlib.h>
#include <string.h>

#include "egide/store/egide_db.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"

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
};

egide_rc edge_store_open(const char *path, sqlite3 **db)
{
    egide_rc rc = egide_db_open(path, false, db);
    if (rc)
        return rc;
    return egide_db_migrate(*db, s_migrations, sizeof s_migrations / sizeof s_migrations[0]);
}

egide_rc edge_store_meta_get(sqlite3 *db, const char *key, uint8_t **val, size_t *len)
{
    *val = NULL;
    *len = 0;
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(db, "SELECT value FROM meta WHERE key=?", &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    rc = EGIDE_ERR_NOTFOUND;
    if (sqlite3_step(st) == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        *val = malloc(n + 1);
        if (!*val) {
            rc = EGIDE_ERR_NOMEM;
        } else {
            if (n)
                memcpy(*val, sqlite3_column_blob(st, 0), n);
            (*val)[n] = 0;
            *len = n;
            rc = EGIDE_OK;
        }
    }
    egide_db_done(st);
    return rc;
}

egide_rc edge_store_meta_put(sqlite3 *db, const char *key, const void *val, size_t len)
{
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?,?)", &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, val, (int)len, SQLITE_STATIC);
    rc = egide_db_rc(sqlite3_step(st));
    egide_db_done(st);
    return rc;
}

egide_rc edge_store_next_seq(sqlite3 *db, uint64_t *seq)
{
    sqlite3_stmt *st;
    egide_rc rc =
        egide_db_stmt(db,
                      "INSERT INTO meta(key, value) VALUES('seq', 1) ON CONFLICT(key) DO UPDATE SET"
                      " value=value+1 RETURNING value",
                      &st);
    if (rc)
        return rc;
    rc = EGIDE_ERR_DB;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *seq = (uint64_t)sqlite3_column_int64(st, 0);
        rc = EGIDE_OK;
    }
    while (sqlite3_step(st) == SQLITE_ROW)
        ;
    egide_db_done(st);
    return rc;
}

egide_rc edge_store_outbox_add(sqlite3 *db, const Egide__V1__EnvelopeHeader *h, const uint8_t *env,
                               size_t len, const uint8_t sha[32])
{
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(
        db,
        "INSERT INTO outbox(msg_id, seq, type, urgency, in_reply_to, created_ms, expires_ms,"
        " envelope, sha256) VALUES(?,?,?,?,?,?,?,?,?)",
        &st);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, h->msg_id.data, 16, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)h->sender_seq);
    sqlite3_bind_text(st, 3, h->message_type, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, h->urgency);
    if (h->in_reply_to.len == 16)
        sqlite3_bind_blob(st, 5, h->in_reply_to.data, 16, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, h->created_ms);
    sqlite3_bind_int64(st, 7, h->expires_ms);
    sqlite3_bind_blob(st, 8, env, (int)len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 9, sha, 32, SQLITE_STATIC);
    rc = egide_db_rc(sqlite3_step(st));
    egide_db_done(st);
    if (rc)
        return rc;
    rc = egide_db_stmt(db, "INSERT INTO outbox_rcpt(msg_id, node_id) VALUES(?,?)", &st);
    if (rc)
        return rc;
    for (size_t i = 0; i < h->n_recipients && !rc; i++) {
        sqlite3_reset(st);
        sqlite3_bind_blob(st, 1, h->msg_id.data, 16, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, h->recipients[i]->node_id, -1, SQLITE_STATIC);
        rc = egide_db_rc(sqlite3_step(st));
    }
    egide_db_done(st);
    return rc;
}

void edge_store_deadlines(edge_t *e, sqlite3 *db, const char *type, const uint8_t msg_id[16],
                          int64_t time_ms, const egide_payload_facts_t *facts)
{
    if (!e->profile)
        return;
    char hex[33];
    egide_hex_encode(msg_id, 16, hex);
    egide_deadline_t d[8];
    size_t n = 0;
    if (egide_deadline_compute(e->profile, type, hex, time_ms, facts, d, 8, &n) != EGIDE_OK)
        return;
    sqlite3_stmt *st;
    if (egide_db_stmt(db,
                      "INSERT OR IGNORE INTO deadlines(msg_id, type, name, label, source,"
                      " start_ms, due_ms, practice) VALUES(?,?,?,?,?,?,?,?)",
                      &st))
        return;
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, d[i].msg_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, d[i].type, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, d[i].name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, d[i].label, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, d[i].source, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, d[i].start_ms);
        sqlite3_bind_int64(st, 7, d[i].due_ms);
        sqlite3_bind_int(st, 8, d[i].practice);
        sqlite3_step(st);
    }
    egide_db_done(st);
}
