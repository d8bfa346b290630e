/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * broker_store.c - the broker's SQLite schema.  Envelopes are kept as the
 * exact bytes received (retries and redeliveries are byte-identical); a
 * delivery row per (message, recipient) is the queue; relays hold receipts
 * on their way back to senders until the sender acknowledges them.  The
 * audit log tables live in the same database so that "accepted" and its
 * audit leaf are one commit.
 */
#include "broker.h"

#include "egide/store/egide_db.h"
#include "egide/base/egide_log.h"

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
    "  state INTEGER NOT NULL DEFAULT 0," /* 0 queued, 1 delivered, 2 rejected, 3 expired */
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

egide_rc broker_store_open(broker_t *b, const char *path)
{
    egide_rc rc = egide_db_open(path, false, &b->db);
    if (rc)
        return rc;
    rc = egide_db_migrate(b->db, s_migrations, sizeof s_migrations / sizeof s_migrations[0]);
    if (rc)
        return rc;
    rc = egide_auditlog_open(b->db, &b->audit);
    if (rc)
        egide_log(EGIDE_LOG_ERROR, "audit log: %s", egide_strerror(rc));
    return rc;
}
