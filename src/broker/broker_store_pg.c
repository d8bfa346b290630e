/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * broker_store_pg.c - the broker store on PostgreSQL (libpq), for brokers
 * that need the store off the broker's own disk.  The location is a libpq
 * conninfo (`[store] conninfo`), which may list several hosts with
 * target_session_attrs=read-write so that a reconnection finds the primary.
 * The broker's tables and the audit log's (egide_auditstore_pg.c) live in
 * one database and are written on one connection, so that "accepted" and
 * its audit leaf are one commit, and a group commit is one transaction.
 *
 * Every statement is one row of s_sql, prepared once per server session;
 * every result is checked (egide_pg.c), PostgreSQL errors become an
 * egide_rc and one log line there, never with message content.  A unique
 * violation is EGIDE_ERR_EXISTS; a lost connection is EGIDE_ERR_DB, the
 * transaction is gone, and the call after the caller's rollback
 * reconnects: a store error stays transient, as broker_store.h asks.
 * Migrations: the s_migrations steps recorded as "broker" in
 * schema_version, then the audit tables ("audit").
 */
#include "broker_store.h"

#include <stdlib.h>
#include <string.h>

#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/store/egide_auditstore_pg.h"
#include "egide/store/egide_pg.h"

static const char *const s_migrations[] = {
    /* 1: the same tables as the SQLite store's versions 1 and 2 */
    "CREATE TABLE envelopes("
    "  msg_id BYTEA PRIMARY KEY,"
    "  sha256 BYTEA NOT NULL,"
    "  sender_id TEXT NOT NULL,"
    "  sender_seq BIGINT NOT NULL,"
    "  type TEXT NOT NULL,"
    "  urgency INTEGER NOT NULL,"
    "  created_ms BIGINT NOT NULL,"
    "  expires_ms BIGINT NOT NULL,"
    "  received_ms BIGINT NOT NULL,"
    "  data BYTEA NOT NULL,"
    "  receipt BYTEA NOT NULL,"
    "  leaf_index BIGINT,"
    "  UNIQUE(sender_id, sender_seq));"
    "CREATE TABLE deliveries("
    "  seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE," /* the order accepted */
    "  msg_id BYTEA NOT NULL REFERENCES envelopes(msg_id),"
    "  recipient_id TEXT NOT NULL,"
    "  state INTEGER NOT NULL DEFAULT 0," /* broker_delivery_state */
    "  urgency INTEGER NOT NULL,"
    "  expires_ms BIGINT NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_ms BIGINT NOT NULL DEFAULT 0,"
    "  done_ms BIGINT,"
    "  receipt BYTEA,"
    "  PRIMARY KEY(msg_id, recipient_id));"
    "CREATE INDEX deliveries_queue ON deliveries(recipient_id, urgency DESC, seq) WHERE state = 0;"
    "CREATE INDEX deliveries_expiry ON deliveries(expires_ms) WHERE state = 0;"
    "CREATE TABLE rejections("
    "  msg_id BYTEA NOT NULL, sha256 BYTEA NOT NULL, receipt BYTEA NOT NULL,"
    "  time_ms BIGINT NOT NULL, PRIMARY KEY(msg_id, sha256));"
    "CREATE TABLE senders(sender_id TEXT PRIMARY KEY, max_seq BIGINT NOT NULL);"
    "CREATE TABLE relays("
    "  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  sender_id TEXT NOT NULL,"
    "  issuer TEXT NOT NULL DEFAULT '',"
    "  msg_id BYTEA NOT NULL,"
    "  receipt BYTEA NOT NULL,"
    "  receipt_sha256 BYTEA NOT NULL,"
    "  created_ms BIGINT NOT NULL,"
    "  next_ms BIGINT NOT NULL DEFAULT 0,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  done BOOLEAN NOT NULL DEFAULT FALSE);"
    "CREATE INDEX relays_queue ON relays(sender_id, next_ms) WHERE NOT done;"
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);",
    /* 2: the write lease; epoch is the fencing token */
    "CREATE TABLE broker_lease(one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK(one),"
    "  holder TEXT NOT NULL, epoch BIGINT NOT NULL, expires_ms BIGINT NOT NULL);"
    "INSERT INTO broker_lease(one, holder, epoch, expires_ms) VALUES(TRUE, '', 0, 0);",
    /* 3: redeliveries to a restored recipient (docs/backup.md), read in the
     * order deliveries were finished; the delivery keeps its final state. */
    "CREATE INDEX deliveries_done ON deliveries(recipient_id, done_ms, seq) WHERE state = 1;"
    "CREATE TABLE redeliveries("
    "  recipient_id TEXT NOT NULL,"
    "  msg_id BYTEA NOT NULL REFERENCES envelopes(msg_id),"
    "  done_ms BIGINT NOT NULL,"
    "  seq BIGINT NOT NULL,"
    "  next_ms BIGINT NOT NULL DEFAULT 0,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY(recipient_id, msg_id));"
    "CREATE INDEX redeliveries_queue ON redeliveries(recipient_id, next_ms);",
    /* 4: where a redelivery of more than one page stands, written with the
     * page it queued so that a restart goes on from it (docs/backup.md). */
    "CREATE TABLE redeliver_cursors("
    "  recipient_id TEXT PRIMARY KEY,"
    "  done_ms BIGINT NOT NULL,"
    "  seq BIGINT NOT NULL,"
    "  skip BYTEA NOT NULL);",
    /* 5: the queue gauges kept by a trigger, read in O(1) (the SQLite
     * store's version 5). */
    "CREATE TABLE broker_counters(name TEXT PRIMARY KEY, n BIGINT NOT NULL);"
    "INSERT INTO broker_counters VALUES"
    "  ('queued', (SELECT count(*) FROM deliveries WHERE state = 0)),"
    "  ('relays', (SELECT count(*) FROM relays WHERE NOT done));"
    "CREATE FUNCTION broker_count() RETURNS trigger LANGUAGE plpgsql AS $$"
    "DECLARE d BIGINT := 0; c TEXT := 'queued';"
    "BEGIN"
    "  IF TG_TABLE_NAME = 'deliveries' THEN"
    "    IF TG_OP <> 'DELETE' AND NEW.state = 0 THEN d := d + 1; END IF;"
    "    IF TG_OP <> 'INSERT' AND OLD.state = 0 THEN d := d - 1; END IF;"
    "  ELSE"
    "    c := 'relays';"
    "    IF TG_OP <> 'DELETE' AND NOT NEW.done THEN d := d + 1; END IF;"
    "    IF TG_OP <> 'INSERT' AND NOT OLD.done THEN d := d - 1; END IF;"
    "  END IF;"
    "  IF d <> 0 THEN UPDATE broker_counters SET n = n + d WHERE name = c; END IF;"
    "  RETURN NULL;"
    "END$$;"
    "CREATE TRIGGER broker_count AFTER INSERT OR DELETE OR UPDATE OF state ON deliveries"
    "  FOR EACH ROW EXECUTE FUNCTION broker_count();"
    "CREATE TRIGGER broker_count AFTER INSERT OR DELETE OR UPDATE OF done ON relays"
    "  FOR EACH ROW EXECUTE FUNCTION broker_count();",
};

/* The database server's clock in ms: one clock for every broker. */
#define S_NOW_MS "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

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
    ST_LEASE,
    ST_FENCE,
    ST_IDLE,
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
    [ST_ENV_INSERT] = "INSERT INTO envelopes(msg_id, sha256, sender_id, sender_seq, type, urgency,"
                      " created_ms, expires_ms, received_ms, data, receipt, leaf_index)"
                      " VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
    [ST_DELIVERY_INSERT] = "INSERT INTO deliveries(msg_id, recipient_id, urgency, expires_ms)"
                           " VALUES($1,$2,$3,$4)",
    [ST_SENDER_UPSERT] = "INSERT INTO senders(sender_id, max_seq) VALUES($1, $2)"
                         " ON CONFLICT(sender_id) DO UPDATE"
                         " SET max_seq = GREATEST(senders.max_seq, EXCLUDED.max_seq)",
    [ST_ENV_FIND] = "SELECT sha256, receipt FROM envelopes WHERE msg_id=$1",
    [ST_REJ_INSERT] = "INSERT INTO rejections(msg_id, sha256, receipt, time_ms)"
                      " VALUES($1,$2,$3,$4) ON CONFLICT DO NOTHING",
    [ST_REJ_FIND] = "SELECT sha256, receipt FROM rejections WHERE msg_id=$1 AND sha256=$2",
    [ST_SENDER_MAX] = "SELECT max_seq FROM senders WHERE sender_id=$1",
    [ST_SEQ_USED] = "SELECT 1 FROM envelopes WHERE sender_id=$1 AND sender_seq=$2",
    [ST_DELIVERY_GET] =
        "SELECT e.sha256, e.sender_id, e.type, d.state, d.attempts FROM deliveries d"
        " JOIN envelopes e ON e.msg_id=d.msg_id WHERE d.msg_id=$1 AND d.recipient_id=$2",
    [ST_DUE] = "SELECT d.seq, d.msg_id, e.data, d.attempts FROM deliveries d JOIN envelopes e"
               " ON e.msg_id=d.msg_id WHERE d.recipient_id=$1 AND d.state=0 AND"
               " d.next_ms<=$2 ORDER BY d.urgency DESC, d.seq LIMIT $3",
    [ST_ATTEMPTED] = "UPDATE deliveries SET attempts=attempts+1, next_ms=$1 WHERE"
                     " msg_id=$2 AND recipient_id=$3 AND state=0",
    [ST_FINISH] = "UPDATE deliveries SET state=$1, done_ms=$2, receipt=$3 WHERE msg_id=$4"
                  " AND recipient_id=$5 AND state=0",
    [ST_EXPIRING] =
        "SELECT d.msg_id, d.recipient_id, e.sha256, e.sender_id, e.type FROM deliveries d"
        " JOIN envelopes e ON e.msg_id=d.msg_id WHERE d.state=0 AND d.expires_ms<=$1"
        " ORDER BY d.expires_ms LIMIT $2",
    [ST_WAKE_DELIVERIES] = "UPDATE deliveries SET next_ms=0 WHERE recipient_id=$1 AND state=0"
                           " AND next_ms<>0",
    [ST_WAKE_RELAYS] = "UPDATE relays SET next_ms=0 WHERE sender_id=$1 AND NOT done AND next_ms<>0",
    [ST_RELAY_INSERT] =
        "INSERT INTO relays(sender_id, msg_id, receipt, receipt_sha256, created_ms, issuer)"
        " VALUES($1,$2,$3,$4,$5,$6) RETURNING id",
    [ST_RELAYS_DUE] = "SELECT id, msg_id, receipt, attempts FROM relays WHERE sender_id=$1 AND"
                      " NOT done AND next_ms<=$2 ORDER BY id LIMIT $3",
    [ST_RELAY_ATTEMPTED] =
        "UPDATE relays SET attempts=attempts+1, next_ms=$1 WHERE id=$2 AND NOT done",
    [ST_RELAY_ACK] = "UPDATE relays SET done=TRUE WHERE id=$1 AND sender_id=$2 AND NOT done"
                     " RETURNING msg_id, receipt_sha256, issuer",
    [ST_COUNTS] = "SELECT (SELECT n FROM broker_counters WHERE name = 'queued'),"
                  " (SELECT n FROM broker_counters WHERE name = 'relays')",
    /* Taken when free or expired, renewed by its holder; a new holder
     * raises the epoch. */
    [ST_LEASE] = "UPDATE broker_lease SET epoch = CASE WHEN holder = $1 THEN epoch ELSE epoch + 1"
                 " END, holder = $1, expires_ms = " S_NOW_MS " + $2 WHERE one AND (holder = $1"
                 " OR expires_ms <= " S_NOW_MS ") RETURNING epoch",
    /* FOR SHARE: a takeover waits for this transaction's end. */
    [ST_FENCE] = "SELECT 1 FROM broker_lease WHERE one AND holder = $1 AND epoch = $2 AND"
                 " expires_ms > " S_NOW_MS " FOR SHARE",
    /* A lease holder's session: a transaction left open (the broker paused
     * or stopped inside it) is ended by the server after the lease's time,
     * so its row locks do not hold up the broker that takes over. */
    [ST_IDLE] = "SELECT set_config('idle_in_transaction_session_timeout', $1, false)",
    [ST_REDELIVER_START] = "SELECT done_ms FROM deliveries WHERE msg_id=$1 AND recipient_id=$2"
                           " AND state=1 AND done_ms IS NOT NULL",
    [ST_REDELIVER_PAGE] = "SELECT msg_id, done_ms, seq FROM deliveries WHERE recipient_id=$1"
                          " AND state=1 AND (done_ms, seq) > ($2, $3) AND msg_id<>$4"
                          " ORDER BY done_ms, seq LIMIT $5",
    [ST_REDELIVER_INSERT] = "INSERT INTO redeliveries(recipient_id, msg_id, done_ms, seq, next_ms)"
                            " VALUES($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING",
    [ST_REDELIVERIES_DUE] =
        "SELECT r.seq, r.msg_id, e.data, r.attempts FROM redeliveries r JOIN envelopes e"
        " ON e.msg_id=r.msg_id WHERE r.recipient_id=$1 AND r.next_ms<=$2"
        " ORDER BY r.done_ms, r.seq LIMIT $3",
    [ST_REDELIVERY_ATTEMPTED] = "UPDATE redeliveries SET attempts=attempts+1, next_ms=$1 WHERE"
                                " msg_id=$2 AND recipient_id=$3",
    [ST_REDELIVERY_DONE] = "DELETE FROM redeliveries WHERE msg_id=$1 AND recipient_id=$2",
    [ST_WAKE_REDELIVERIES] =
        "UPDATE redeliveries SET next_ms=0 WHERE recipient_id=$1 AND next_ms<>0",
    [ST_CURSOR_GET] = "SELECT done_ms, seq, skip FROM redeliver_cursors WHERE recipient_id=$1",
    [ST_CURSOR_PUT] = "INSERT INTO redeliver_cursors(recipient_id, done_ms, seq, skip)"
                      " VALUES($1,$2,$3,$4) ON CONFLICT(recipient_id) DO UPDATE SET"
                      " done_ms=$2, seq=$3, skip=$4",
    [ST_CURSOR_DROP] = "DELETE FROM redeliver_cursors WHERE recipient_id=$1",
};

static const char *const s_names[ST__COUNT] = {
    "broker_env_insert",
    "broker_delivery_insert",
    "broker_sender_upsert",
    "broker_env_find",
    "broker_rej_insert",
    "broker_rej_find",
    "broker_sender_max",
    "broker_seq_used",
    "broker_delivery_get",
    "broker_due",
    "broker_attempted",
    "broker_finish",
    "broker_expiring",
    "broker_wake_deliveries",
    "broker_wake_relays",
    "broker_relay_insert",
    "broker_relays_due",
    "broker_relay_attempted",
    "broker_relay_ack",
    "broker_counts",
    "broker_lease",
    "broker_fence",
    "broker_idle_timeout",
    "broker_redeliver_start",
    "broker_redeliver_page",
    "broker_redeliver_insert",
    "broker_redeliveries_due",
    "broker_redelivery_attempted",
    "broker_redelivery_done",
    "broker_wake_redeliveries",
    "broker_cursor_get",
    "broker_cursor_put",
    "broker_cursor_drop",
};

/* Invariants: pg is the one connection of this handle (one thread); as
 * and log are on it; st[i] names s_sql[i]. */
typedef struct s_store {
    egide_pg_t *pg;                   /* the connection (owned) */
    egide_auditstore_pg_t *as;        /* the audit tables on it (owned) */
    egide_auditlog_t *log;            /* the audit log on as (owned) */
    egide_pg_stmt_t st[ST__COUNT];    /* statements, prepared per session */
    int fault_in;                     /* > 0: the fault_in-th write from now fails (tests) */
    char holder[BROKER_STORE_ID_MAX]; /* the lease's holder once taken, "" before */
    uint64_t epoch;                   /* its epoch: every commit checks it */
    int64_t lease_ms;                 /* the lease's time once taken */
    uint64_t idle_session;            /* session whose idle timeout is set (0: none) */
} s_store_t;

/* ------------------------------------------------------------ helpers */

#define ST(x, which) (&(x)->st[which])

/* Whether an injected fault is due at this write (then logged). */
static bool s_fault(s_store_t *x, int which)
{
    if (x->fault_in <= 0 || --x->fault_in != 0)
        return false;
    egide_log(EGIDE_LOG_ERROR, "broker store: %s: injected I/O error", s_names[which]);
    return true;
}

/* A write that must change a row: EGIDE_ERR_NOTFOUND when none changed. */
static egide_rc s_changed(egide_rc rc, uint64_t n)
{
    return rc == EGIDE_OK && n == 0 ? EGIDE_ERR_NOTFOUND : rc;
}

/* A stored answer: sha256 (col 0) and receipt (col 1) of the first row. */
static egide_rc s_stored_row(egide_rc rc, PGresult *r, broker_stored_t *out)
{
    if (rc == EGIDE_OK && PQntuples(r) == 0)
        rc = EGIDE_ERR_NOTFOUND;
    else if (rc == EGIDE_OK && !egide_pg_fixed(r, 0, 0, out->sha256, 32))
        rc = EGIDE_ERR_DB;
    else if (rc == EGIDE_OK)
        rc = egide_pg_dup(r, 0, 1, &out->receipt, &out->receipt_len);
    PQclear(r);
    return rc;
}

/* ------------------------------------------------------------ lifecycle */

static void s_close(void *impl)
{
    s_store_t *x = impl;
    if (!x)
        return;
    egide_pg_rollback(x->pg);
    egide_auditlog_destroy(&x->log);
    egide_auditstore_pg_destroy(&x->as);
    egide_pg_close(&x->pg);
    free(x);
}

static egide_rc s_open(const char *location, bool reader, void **impl)
{
    s_store_t *x = calloc(1, sizeof *x);
    if (!x)
        return EGIDE_ERR_NOMEM;
    for (int i = 0; i < ST__COUNT; i++)
        x->st[i] = (egide_pg_stmt_t){s_names[i], s_sql[i], 0};
    egide_rc rc = egide_pg_open(location, reader, &x->pg);
    if (!rc && !reader)
        rc = egide_pg_migrate(x->pg, "broker", s_migrations,
                              sizeof s_migrations / sizeof s_migrations[0]);
    if (!rc)
        rc = egide_auditstore_pg_new(x->pg, &x->as);
    if (!rc) {
        rc = egide_auditlog_open_store(&egide_auditstore_pg_ops, x->as, &x->log);
        if (rc)
            egide_log(EGIDE_LOG_ERROR, "audit log: %s", egide_strerror(rc));
    }
    if (rc) {
        s_close(x);
        return rc;
    }
    *impl = x;
    return EGIDE_OK;
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
    const char *c = egide_pg_conninfo(x->pg);
    if (strlen(c) >= size)
        return EGIDE_ERR_LIMIT;
    egide_strlcpy(out, c, size);
    return EGIDE_OK;
}

static egide_rc s_begin(void *impl)
{
    s_store_t *x = impl;
    if (x->holder[0] && x->lease_ms > 0 && x->idle_session != egide_pg_session(x->pg)) {
        /* Once per session, outside a transaction (a rollback would undo it). */
        char ms[24];
        (void)snprintf(ms, sizeof ms, "%lld", (long long)x->lease_ms);
        PGresult *r = NULL;
        if (egide_pg_run(x->pg, ST(x, ST_IDLE), &r, NULL, "t", ms) == EGIDE_OK)
            x->idle_session = egide_pg_session(x->pg);
        PQclear(r);
    }
    return egide_pg_begin(x->pg);
}

static egide_rc s_commit(void *impl)
{
    s_store_t *x = impl;
    if (x->fault_in > 0 && --x->fault_in == 0) {
        egide_log(EGIDE_LOG_ERROR, "broker store: commit: injected I/O error");
        return EGIDE_ERR_IO;
    }
    if (x->holder[0]) {
        /* Fencing: still the holder, at our epoch, in this transaction. */
        PGresult *r = NULL;
        egide_rc rc =
            egide_pg_run(x->pg, ST(x, ST_FENCE), &r, NULL, "tI", x->holder, (int64_t)x->epoch);
        bool held = !rc && PQntuples(r) == 1;
        PQclear(r);
        if (rc)
            return rc;
        if (!held) {
            egide_log(EGIDE_LOG_ERROR,
                      "broker store: the write lease (epoch %llu) is lost: this transaction is "
                      "not committed",
                      (unsigned long long)x->epoch);
            return EGIDE_ERR_STATE;
        }
    }
    return egide_pg_commit(x->pg);
}

static egide_rc s_lease(void *impl, const char *holder, int64_t ttl_ms, uint64_t *epoch)
{
    s_store_t *x = impl;
    if (egide_pg_in_txn(x->pg))
        return EGIDE_ERR_STATE;
    PGresult *r = NULL;
    egide_rc rc = egide_pg_run(x->pg, ST(x, ST_LEASE), &r, NULL, "tI", holder, ttl_ms);
    if (!rc && PQntuples(r) != 1)
        rc = EGIDE_ERR_STATE; /* another holder's lease is valid */
    if (!rc) {
        *epoch = (uint64_t)egide_pg_int(r, 0, 0);
        if (x->epoch != *epoch || strcmp(x->holder, holder) != 0)
            egide_log(EGIDE_LOG_NOTICE, "broker store: write lease taken (epoch %llu)",
                      (unsigned long long)*epoch);
        egide_strlcpy(x->holder, holder, sizeof x->holder);
        x->epoch = *epoch;
        if (ttl_ms > 0)
            x->lease_ms = ttl_ms;
    }
    PQclear(r);
    return rc;
}

static void s_rollback(void *impl)
{
    egide_pg_rollback(((s_store_t *)impl)->pg);
}

static void s_inject_fault(void *impl, int nth_write)
{
    ((s_store_t *)impl)->fault_in = nth_write;
}

static void s_set_wait(void *impl, broker_store_wait_fn fn, void *arg)
{
    egide_pg_set_wait(((s_store_t *)impl)->pg, fn, arg);
}

/* ------------------------------------------------------------ accept */

static egide_rc s_accept_rows(s_store_t *x, const broker_accept_t *a)
{
    egide_rc rc =
        s_fault(x, ST_ENV_INSERT)
            ? EGIDE_ERR_IO
            : egide_pg_run(x->pg, ST(x, ST_ENV_INSERT), NULL, NULL, "khtItiIIIbbI", a->msg_id,
                           a->sha256, a->sender_id, (int64_t)a->sender_seq, a->type, a->urgency,
                           a->created_ms, a->expires_ms, a->received_ms, a->data, a->len,
                           a->receipt, a->receipt_len, (int64_t)a->leaf_index);
    for (size_t i = 0; !rc && i < a->n_recipients; i++)
        rc = s_fault(x, ST_DELIVERY_INSERT)
                 ? EGIDE_ERR_IO
                 : egide_pg_run(x->pg, ST(x, ST_DELIVERY_INSERT), NULL, NULL, "ktiI", a->msg_id,
                                a->recipients[i], a->urgency, a->expires_ms);
    if (!rc)
        rc = s_fault(x, ST_SENDER_UPSERT)
                 ? EGIDE_ERR_IO
                 : egide_pg_run(x->pg, ST(x, ST_SENDER_UPSERT), NULL, NULL, "tI", a->sender_id,
                                (int64_t)a->sender_seq);
    return rc;
}

/* All rows or none: a savepoint inside the caller's transaction (a failed
 * INSERT aborts a PostgreSQL transaction; the savepoint keeps the rest of
 * the caller's batch). */
static egide_rc s_accept(void *impl, const broker_accept_t *a)
{
    s_store_t *x = impl;
    bool own = false;
    egide_rc rc = egide_pg_atomic_begin(x->pg, "broker_accept", &own);
    if (rc)
        return rc;
    rc = s_accept_rows(x, a);
    return egide_pg_atomic_end(x->pg, "broker_accept", own, rc);
}

/* ------------------------------------------------------------ lookups */

static egide_rc s_envelope_find(void *impl, const uint8_t *msg_id, broker_stored_t *out)
{
    s_store_t *x = impl;
    PGresult *r = NULL;
    egide_rc rc = egide_pg_run(x->pg, ST(x, ST_ENV_FIND), &r, NULL, "k", msg_id);
    return s_stored_row(rc, r, out);
}

static egide_rc s_rejection_put(void *impl, const uint8_t *msg_id, const uint8_t *sha256,
                                const uint8_t *receipt, size_t len, int64_t now_ms)
{
    s_store_t *x = impl;
    if (s_fault(x, ST_REJ_INSERT))
        return EGIDE_ERR_IO;
    return egide_pg_run(x->pg, ST(x, ST_REJ_INSERT), NULL, NULL, "khbI", msg_id, sha256, receipt,
                        len, now_ms);
}

static egide_rc s_rejection_find(void *impl, const uint8_t *msg_id, const uint8_t *sha256,
                                 broker_stored_t *out)
{
    s_store_t *x = impl;
    PGresult *r = NULL;
    egide_rc rc = egide_pg_run(x->pg, ST(x, ST_REJ_FIND), &r, NULL, "kh", msg_id, sha256);
    return s_stored_row(rc, r, out);
}

static egide_rc s_sender_max_seq(void *impl, const char *sender_id, uint64_t *max)
{
    s_store_t *x = impl;
    PGresult *r = NULL;
    egide_rc rc = egide_pg_run(x->pg, ST(x, ST_SENDER_MAX), &r, NULL, "t", sender_id);
    if (!rc)
        *max = PQntuples(r) ? (uint64_t)egide_pg_int(r, 0, 0) : 0; /* none yet: 0 */
    PQclear(r);
    return rc;
}

static egide_rc s_sender_seq_used(void *impl, const char *sender_id, uint64_t seq, bool *used)
{
    s_store_t *x = impl;
    PGresult *r = NULL;
    egide_rc rc = egide_pg_run(x->pg, ST(x, ST_SEQ_USED), &r, NULL, "tI", sender_id, (int64_t)seq);
    *used = !rc && PQntuples(r) > 0;
    PQclear(r);
    return rc;
}

static egide_rc s_delivery_get(void *impl, const uint8_t *msg_id, const char *recipient_id,
                               broker_delivery_t *out)
{
    s_store_t *x = impl;
    PGresult *r = NULL;
    egide_rc rc = egide_pg_run(x->pg, ST(x, ST_DELIVERY_GET), &r, NULL, "kt", msg_id, recipient_id);
    if (!rc && PQntuples(r) == 0)
        rc = EGIDE_ERR_NOTFOUND;
    if (!rc) {
        if (!egide_pg_fixed(r, 0, 0, out->sha256, 32))
            rc = EGIDE_ERR_DB;
        egide_pg_text(r, 0, 1, out->sender_id, sizeof out->sender_id);
        egide_pg_text(r, 0, 2, out->type, sizeof out->type);
        out->state = (broker_delivery_state)egide_pg_int(r, 0, 3);
        out->attempts = (int)egide_pg_int(r, 0, 4);
    }
    PQclear(r);
    return rc;
}

/* ------------------------------------------------------------ deliveries */

/* The rows of a due query (id, msg_id, data, attempts) into a new array. */
static egide_rc s_due_rows(PGresult *r, broker_due_t **items, size_t *n)
{
    int rows = PQntuples(r);
    if (rows == 0)
        return EGIDE_OK;
    broker_due_t *d = calloc((size_t)rows, sizeof *d);
    if (!d)
        return EGIDE_ERR_NOMEM;
    egide_rc rc = EGIDE_OK;
    size_t k = 0;
    for (int i = 0; !rc && i < rows; i++, k++) {
        d[k].id = (uint64_t)egide_pg_int(r, i, 0);
        d[k].attempts = (int)egide_pg_int(r, i, 3);
        if (!egide_pg_fixed(r, i, 1, d[k].msg_id, 16))
            rc = EGIDE_ERR_DB;
        else
            rc = egide_pg_dup(r, i, 2, &d[k].data, &d[k].len);
    }
    if (rc) {
        broker_due_free(d, k);
        return rc;
    }
    *items = d;
    *n = k;
    return EGIDE_OK;
}

static egide_rc s_due(s_store_t *x, int which, const char *node_id, int64_t now_ms, size_t limit,
                      broker_due_t **items, size_t *n)
{
    PGresult *r = NULL;
    egide_rc rc =
        egide_pg_run(x->pg, ST(x, which), &r, NULL, "tII", node_id, now_ms, (int64_t)limit);
    if (!rc)
        rc = s_due_rows(r, items, n);
    PQclear(r);
    return rc;
}

static egide_rc s_deliveries_due(void *impl, const char *recipient_id, int64_t now_ms, size_t limit,
                                 broker_due_t **items, size_t *n)
{
    return s_due(impl, ST_DUE, recipient_id, now_ms, limit, items, n);
}

static egide_rc s_delivery_attempted(void *impl, const uint8_t *msg_id, const char *recipient_id,
                                     int64_t next_ms)
{
    s_store_t *x = impl;
    if (s_fault(x, ST_ATTEMPTED))
        return EGIDE_ERR_IO;
    uint64_t n = 0;
    egide_rc rc =
        egide_pg_run(x->pg, ST(x, ST_ATTEMPTED), NULL, &n, "Ikt", next_ms, msg_id, recipient_id);
    return s_changed(rc, n);
}

static egide_rc s_delivery_finish(void *impl, const uint8_t *msg_id, const char *recipient_id,
                                  broker_delivery_state state, const uint8_t *receipt, size_t len,
                                  int64_t now_ms)
{
    s_store_t *x = impl;
    if (s_fault(x, ST_FINISH))
        return EGIDE_ERR_IO;
    uint64_t n = 0;
    egide_rc rc = egide_pg_run(x->pg, ST(x, ST_FINISH), NULL, &n, "iIbkt", (int)state, now_ms,
                               receipt, len, msg_id, recipient_id);
    rc = s_changed(rc, n);
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
    PGresult *r = NULL;
    egide_rc rc = egide_pg_run(x->pg, ST(x, ST_EXPIRING), &r, NULL, "II", now_ms, (int64_t)limit);
    int rows = rc ? 0 : PQntuples(r);
    broker_expiring_t *e = rows ? calloc((size_t)rows, sizeof *e) : NULL;
    if (rows && !e)
        rc = EGIDE_ERR_NOMEM;
    for (int i = 0; !rc && i < rows; i++) {
        if (!egide_pg_fixed(r, i, 0, e[i].msg_id, 16) || !egide_pg_fixed(r, i, 2, e[i].sha256, 32))
            rc = EGIDE_ERR_DB;
        egide_pg_text(r, i, 1, e[i].recipient_id, sizeof e[i].recipient_id);
        egide_pg_text(r, i, 3, e[i].sender_id, sizeof e[i].sender_id);
        egide_pg_text(r, i, 4, e[i].type, sizeof e[i].type);
    }
    PQclear(r);
    if (rc) {
        free(e);
        return rc;
    }
    *items = e;
    *n = (size_t)rows;
    return EGIDE_OK;
}

static egide_rc s_node_wake(void *impl, const char *node_id)
{
    s_store_t *x = impl;
    if (s_fault(x, ST_WAKE_DELIVERIES))
        return EGIDE_ERR_IO;
    egide_rc rc = egide_pg_run(x->pg, ST(x, ST_WAKE_DELIVERIES), NULL, NULL, "t", node_id);
    if (!rc)
        rc = egide_pg_run(x->pg, ST(x, ST_WAKE_REDELIVERIES), NULL, NULL, "t", node_id);
    return rc ? rc : egide_pg_run(x->pg, ST(x, ST_WAKE_RELAYS), NULL, NULL, "t", node_id);
}

/* ------------------------------------------------------------ redeliveries */

static egide_rc s_redeliver_start(void *impl, const char *recipient_id, const uint8_t *held_msg_id,
                                  broker_redeliver_cursor_t *cur)
{
    s_store_t *x = impl;
    PGresult *r = NULL;
    egide_rc rc =
        egide_pg_run(x->pg, ST(x, ST_REDELIVER_START), &r, NULL, "kt", held_msg_id, recipient_id);
    if (!rc && PQntuples(r) == 0)
        rc = EGIDE_ERR_NOTFOUND;
    if (!rc) {
        cur->done_ms = egide_pg_int(r, 0, 0);
        cur->seq = -1; /* the ties of done_ms: the recipient's order may differ */
        memcpy(cur->skip, held_msg_id, 16);
    }
    PQclear(r);
    return rc;
}

static egide_rc s_redeliver_resume(void *impl, const char *recipient_id,
                                   broker_redeliver_cursor_t *cur)
{
    s_store_t *x = impl;
    PGresult *r = NULL;
    egide_rc rc = egide_pg_run(x->pg, ST(x, ST_CURSOR_GET), &r, NULL, "t", recipient_id);
    if (!rc && PQntuples(r) == 0)
        rc = EGIDE_ERR_NOTFOUND;
    if (!rc) {
        cur->done_ms = egide_pg_int(r, 0, 0);
        cur->seq = egide_pg_int(r, 0, 1);
        if (!egide_pg_fixed(r, 0, 2, cur->skip, 16))
            rc = EGIDE_ERR_DB;
    }
    PQclear(r);
    return rc;
}

/* The cursor is kept (a full page: more may follow) or dropped (none
 * follow) in the same transaction as the page. */
static egide_rc s_redeliver_page(void *impl, const char *recipient_id,
                                 broker_redeliver_cursor_t *cur, size_t limit, int64_t now_ms,
                                 size_t *n)
{
    s_store_t *x = impl;
    PGresult *r = NULL;
    egide_rc rc = egide_pg_run(x->pg, ST(x, ST_REDELIVER_PAGE), &r, NULL, "tIIkI", recipient_id,
                               cur->done_ms, cur->seq, cur->skip, (int64_t)limit);
    int rows = rc ? 0 : PQntuples(r);
    uint8_t id[16];
    int64_t done_ms = 0, seq = 0;
    for (int i = 0; !rc && i < rows; i++) {
        if (!egide_pg_fixed(r, i, 0, id, 16)) {
            rc = EGIDE_ERR_DB;
            break;
        }
        done_ms = egide_pg_int(r, i, 1);
        seq = egide_pg_int(r, i, 2);
        rc = s_fault(x, ST_REDELIVER_INSERT)
                 ? EGIDE_ERR_IO
                 : egide_pg_run(x->pg, ST(x, ST_REDELIVER_INSERT), NULL, NULL, "tkIII",
                                recipient_id, id, done_ms, seq, now_ms);
    }
    PQclear(r);
    if (!rc && rows > 0) {
        cur->done_ms = done_ms;
        cur->seq = seq;
    }
    if (!rc) {
        bool full = (size_t)rows == limit;
        int which = full ? ST_CURSOR_PUT : ST_CURSOR_DROP;
        if (s_fault(x, which))
            rc = EGIDE_ERR_IO;
        else if (full)
            rc = egide_pg_run(x->pg, ST(x, which), NULL, NULL, "tIIk", recipient_id, cur->done_ms,
                              cur->seq, cur->skip);
        else
            rc = egide_pg_run(x->pg, ST(x, which), NULL, NULL, "t", recipient_id);
    }
    if (!rc)
        *n = (size_t)rows;
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
    s_store_t *x = impl;
    if (s_fault(x, ST_REDELIVERY_ATTEMPTED))
        return EGIDE_ERR_IO;
    uint64_t n = 0;
    egide_rc rc = egide_pg_run(x->pg, ST(x, ST_REDELIVERY_ATTEMPTED), NULL, &n, "Ikt", next_ms,
                               msg_id, recipient_id);
    return s_changed(rc, n);
}

static egide_rc s_redelivery_done(void *impl, const uint8_t *msg_id, const char *recipient_id)
{
    s_store_t *x = impl;
    if (s_fault(x, ST_REDELIVERY_DONE))
        return EGIDE_ERR_IO;
    uint64_t n = 0;
    egide_rc rc =
        egide_pg_run(x->pg, ST(x, ST_REDELIVERY_DONE), NULL, &n, "kt", msg_id, recipient_id);
    return s_changed(rc, n);
}

/* ------------------------------------------------------------ relays */

static egide_rc s_relay_queue(void *impl, const char *sender_id, const char *issuer,
                              const uint8_t *msg_id, const uint8_t *receipt, size_t len,
                              int64_t now_ms, uint64_t *id)
{
    s_store_t *x = impl;
    if (s_fault(x, ST_RELAY_INSERT))
        return EGIDE_ERR_IO;
    uint8_t rsha[32];
    egide_sha256(receipt, len, rsha);
    PGresult *r = NULL;
    egide_rc rc = egide_pg_run(x->pg, ST(x, ST_RELAY_INSERT), &r, NULL, "tkbhIt", sender_id, msg_id,
                               receipt, len, rsha, now_ms, issuer);
    if (!rc && PQntuples(r) != 1)
        rc = EGIDE_ERR_DB;
    if (!rc)
        *id = (uint64_t)egide_pg_int(r, 0, 0);
    PQclear(r);
    return rc;
}

static egide_rc s_relays_due(void *impl, const char *sender_id, int64_t now_ms, size_t limit,
                             broker_due_t **items, size_t *n)
{
    return s_due(impl, ST_RELAYS_DUE, sender_id, now_ms, limit, items, n);
}

static egide_rc s_relay_attempted(void *impl, uint64_t id, int64_t next_ms)
{
    s_store_t *x = impl;
    if (s_fault(x, ST_RELAY_ATTEMPTED))
        return EGIDE_ERR_IO;
    uint64_t n = 0;
    egide_rc rc =
        egide_pg_run(x->pg, ST(x, ST_RELAY_ATTEMPTED), NULL, &n, "II", next_ms, (int64_t)id);
    return s_changed(rc, n);
}

static egide_rc s_relay_ack(void *impl, uint64_t id, const char *sender_id,
                            broker_relay_acked_t *out)
{
    s_store_t *x = impl;
    if (s_fault(x, ST_RELAY_ACK))
        return EGIDE_ERR_IO;
    PGresult *r = NULL;
    egide_rc rc = egide_pg_run(x->pg, ST(x, ST_RELAY_ACK), &r, NULL, "It", (int64_t)id, sender_id);
    if (!rc && PQntuples(r) == 0)
        rc = EGIDE_ERR_NOTFOUND;
    if (!rc) {
        if (!egide_pg_fixed(r, 0, 0, out->msg_id, 16) ||
            !egide_pg_fixed(r, 0, 1, out->receipt_sha256, 32))
            rc = EGIDE_ERR_DB;
        egide_pg_text(r, 0, 2, out->issuer, sizeof out->issuer);
    }
    PQclear(r);
    return rc;
}

static egide_rc s_counts(void *impl, uint64_t *queued, uint64_t *relays)
{
    s_store_t *x = impl;
    PGresult *r = NULL;
    egide_rc rc = egide_pg_run(x->pg, ST(x, ST_COUNTS), &r, NULL, "");
    if (!rc && PQntuples(r) != 1)
        rc = EGIDE_ERR_DB;
    if (!rc) {
        *queued = (uint64_t)egide_pg_int(r, 0, 0);
        *relays = (uint64_t)egide_pg_int(r, 0, 1);
    }
    PQclear(r);
    return rc;
}

const broker_store_ops_t broker_store_pg_ops = {
    .name = "postgresql",
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
    .lease = s_lease,
    .inject_fault = s_inject_fault,
    .set_wait = s_set_wait,
};
