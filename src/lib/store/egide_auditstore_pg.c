/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_auditstore_pg.c - the audit log's rows in PostgreSQL: the schema
 * (version 1 in schema_version), the append-only triggers, the one-row
 * audit_head that makes the writers take turns, and every statement the log
 * runs, behind egide_auditstore_ops_t (see egide_auditstore_pg.h).
 *
 * Statements are prepared once per server session (egide_pg_run); every
 * result is checked there and turned into an egide_rc.  A unit of work or
 * an append inside the caller's transaction is a SAVEPOINT, so that a
 * failed statement (which aborts a PostgreSQL transaction) is undone
 * without losing what the caller did before it; outside a transaction it
 * is a transaction of its own.
 */
#include "egide/store/egide_auditstore_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egide/base/egide_log.h"

/* ------------------------------------------------------------ schema */

#define S_REFUSE(t)                                                                                \
    "CREATE TRIGGER " t "_no_change BEFORE UPDATE OR DELETE ON " t                                 \
    " FOR EACH ROW EXECUTE FUNCTION egide_audit_refuse();"                                         \
    "CREATE TRIGGER " t "_no_truncate BEFORE TRUNCATE ON " t                                       \
    " FOR EACH STATEMENT EXECUTE FUNCTION egide_audit_refuse();"

static const char *const s_migrations[] = {
    /* 1: leaves, stored hashes, checkpoints, the msg_id index, the head */
    "CREATE TABLE audit_leaves(idx BIGINT PRIMARY KEY CHECK(idx >= 0), leaf BYTEA NOT NULL);"
    "CREATE TABLE audit_hashes(pos BIGINT PRIMARY KEY CHECK(pos >= 0),"
    " hash BYTEA NOT NULL CHECK(length(hash) = 32));"
    "CREATE TABLE audit_checkpoints(size BIGINT PRIMARY KEY CHECK(size >= 0), note TEXT NOT NULL);"
    "CREATE TABLE audit_msg_index(msg_id BYTEA NOT NULL, idx BIGINT NOT NULL,"
    " PRIMARY KEY(msg_id, idx));"
    "CREATE TABLE audit_head(one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK(one),"
    " size BIGINT NOT NULL CHECK(size >= 0));"
    "INSERT INTO audit_head(one, size) VALUES(TRUE, 0);"
    "CREATE FUNCTION egide_audit_refuse() RETURNS trigger LANGUAGE plpgsql AS"
    " $$BEGIN RAISE EXCEPTION 'audit log is append-only'; END$$;" S_REFUSE("audit_leaves")
        S_REFUSE("audit_hashes") S_REFUSE("audit_checkpoints") S_REFUSE("audit_msg_index"),
};
#define S_NMIGRATIONS (sizeof s_migrations / sizeof s_migrations[0])

/* The log's tables by kind: name, key column, a value column, the
 * primary key's columns. */
static const struct {
    const char *table, *key, *value, *pk;
} s_kinds[EGIDE_AUDITSTORE_KIND__COUNT] = {
    [EGIDE_AUDITSTORE_LEAVES] = {"audit_leaves", "idx", "leaf", "idx"},
    [EGIDE_AUDITSTORE_HASHES] = {"audit_hashes", "pos", "hash", "pos"},
    [EGIDE_AUDITSTORE_CHECKPOINTS] = {"audit_checkpoints", "size", "note", "size"},
    [EGIDE_AUDITSTORE_MSG_INDEX] = {"audit_msg_index", "idx", "msg_id", "msg_id, idx"},
};

/* ------------------------------------------------------------ statements */

enum {
    ST_SIZE_LOCK,
    ST_SIZE,
    ST_HEAD,
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
    ST__COUNT
};

#define S_SCAN_PAGE 512 /* leaves per round trip of scan_leaves */

static const char *const s_sql[ST__COUNT] = {
    [ST_SIZE_LOCK] = "SELECT size FROM audit_head FOR UPDATE",
    [ST_SIZE] = "SELECT size FROM audit_head",
    [ST_HEAD] = "UPDATE audit_head SET size = GREATEST(size, $1::bigint + 1)",
    [ST_INS_LEAF] = "INSERT INTO audit_leaves(idx, leaf) VALUES($1, $2)",
    [ST_INS_HASH] = "INSERT INTO audit_hashes(pos, hash) VALUES($1, $2)",
    [ST_GET_HASH] = "SELECT hash FROM audit_hashes WHERE pos = $1",
    [ST_HASH_RUN] = "SELECT pos, hash FROM audit_hashes WHERE pos >= $1 ORDER BY pos LIMIT $2",
    [ST_GET_LEAF] = "SELECT leaf FROM audit_leaves WHERE idx = $1",
    [ST_SCAN_LEAVES] = "SELECT idx, leaf FROM audit_leaves WHERE idx >= $1 ORDER BY idx LIMIT 512",
    [ST_INS_MSG] = "INSERT INTO audit_msg_index(msg_id, idx) VALUES($1, $2)",
    [ST_FIND_MSG] = "SELECT idx FROM audit_msg_index WHERE msg_id = $1 ORDER BY idx LIMIT $2",
    [ST_HAS_MSG] = "SELECT 1 FROM audit_msg_index WHERE msg_id = $1 AND idx = $2",
    /* One statement over several literals, not a missing comma. */
    /* NOLINTNEXTLINE(bugprone-suspicious-missing-comma) */
    [ST_COUNTS] = "SELECT (SELECT COUNT(*) FROM audit_leaves), (SELECT COUNT(*) FROM audit_hashes),"
                  " (SELECT COUNT(*) FROM audit_msg_index),"
                  " (SELECT COUNT(*) FROM audit_checkpoints)",
    [ST_INS_CP] = "INSERT INTO audit_checkpoints(size, note) VALUES($1, $2)",
    [ST_CP_AT] = "SELECT size, note FROM audit_checkpoints WHERE size = $1",
    [ST_CP_LATEST] = "SELECT size, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1",
    [ST_CP_NEXT] =
        "SELECT size, note FROM audit_checkpoints WHERE size >= $1 ORDER BY size LIMIT 1",
};

static const char *const s_names[ST__COUNT] = {
    "audit_size_lock", "audit_size",     "audit_head",     "audit_ins_leaf", "audit_ins_hash",
    "audit_get_hash",  "audit_hash_run", "audit_get_leaf", "audit_scan",     "audit_ins_msg",
    "audit_find_msg",  "audit_has_msg",  "audit_counts",   "audit_ins_cp",   "audit_cp_at",
    "audit_cp_latest", "audit_cp_next",
};

/* Invariants: pg is the caller's and outlives the handle; st[i] names
 * s_sql[i]; unit_own is set while a unit of work runs as a transaction of
 * its own (begin found none open); fault counts down the writes to an
 * injected failure (0 = none armed). */
struct egide_auditstore_pg {
    egide_pg_t *pg;                /* borrowed connection */
    egide_pg_stmt_t st[ST__COUNT]; /* statements, prepared per session */
    bool unit_own;                 /* the open unit is our own transaction */
    unsigned fault;                /* writes until an injected EGIDE_ERR_IO, 0 = off */
};

typedef struct egide_auditstore_pg s_self_t;

#define S_ST(self, which) (&(self)->st[which])

/* Whether an injected fault is due at this write (then logged). */
static bool s_fault(s_self_t *self, int which)
{
    if (self->fault == 0 || --self->fault != 0)
        return false;
    egide_log(EGIDE_LOG_WARNING, "audit store: %s: injected I/O error", s_names[which]);
    return true;
}

#define s_atomic_begin(self, sp, own)   egide_pg_atomic_begin((self)->pg, sp, own)
#define s_atomic_end(self, sp, own, rc) egide_pg_atomic_end((self)->pg, sp, own, rc)

/* ------------------------------------------------------------ lifecycle */

egide_rc egide_auditstore_pg_migrate(egide_pg_t *pg)
{
    if (!pg || egide_pg_reader(pg))
        return EGIDE_ERR_INVALID;
    return egide_pg_migrate(pg, "audit", s_migrations, S_NMIGRATIONS);
}

egide_rc egide_auditstore_pg_new(egide_pg_t *pg, egide_auditstore_pg_t **out)
{
    if (!pg || !out)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    egide_rc rc = EGIDE_OK;
    if (!egide_pg_reader(pg)) {
        rc = egide_auditstore_pg_migrate(pg);
    } else {
        int64_t v = 0;
        rc = egide_pg_version(pg, "audit", &v);
        if (rc == EGIDE_OK && v == 0)
            rc = EGIDE_ERR_NOTFOUND;
        else if (rc == EGIDE_OK && (uint64_t)v > S_NMIGRATIONS)
            rc = EGIDE_ERR_VERSION;
    }
    if (rc != EGIDE_OK)
        return rc;
    s_self_t *self = calloc(1, sizeof *self);
    if (!self)
        return EGIDE_ERR_NOMEM;
    self->pg = pg;
    for (int i = 0; i < ST__COUNT; i++)
        self->st[i] = (egide_pg_stmt_t){s_names[i], s_sql[i], 0};
    *out = self;
    return EGIDE_OK;
}

void egide_auditstore_pg_destroy(egide_auditstore_pg_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

/* ------------------------------------------------------------ operations */

static void s_op_destroy(void *be)
{
    s_self_t *self = be;
    egide_auditstore_pg_destroy(&self);
}

static egide_rc s_op_begin(void *be)
{
    s_self_t *self = be;
    return s_atomic_begin(self, "egide_audit", &self->unit_own);
}

static egide_rc s_op_release(void *be)
{
    s_self_t *self = be;
    return s_atomic_end(self, "egide_audit", self->unit_own, EGIDE_OK);
}

static void s_op_rollback(void *be)
{
    s_self_t *self = be;
    (void)s_atomic_end(self, "egide_audit", self->unit_own, EGIDE_ERR_STATE);
}

/* The size; a writer reads it under the audit_head row lock, held until
 * the end of its transaction: the single-writer rule. */
static egide_rc s_op_size(void *be, uint64_t *size)
{
    s_self_t *self = be;
    if (!size)
        return EGIDE_ERR_INVALID;
    PGresult *r = NULL;
    int which = egide_pg_reader(self->pg) ? ST_SIZE : ST_SIZE_LOCK;
    egide_rc rc = egide_pg_run(self->pg, S_ST(self, which), &r, NULL, "");
    if (rc == EGIDE_OK) {
        int64_t n = PQntuples(r) == 1 ? egide_pg_int(r, 0, 0) : -1;
        if (n < 0) {
            egide_log(EGIDE_LOG_ERROR, "audit store: audit_head is missing its row");
            rc = EGIDE_ERR_DB;
        } else {
            *size = (uint64_t)n;
        }
    }
    PQclear(r);
    return rc;
}

static egide_rc s_append_rows(s_self_t *self, uint64_t index, const uint8_t *leaf, size_t len,
                              const uint8_t *msg_id, uint64_t first_pos,
                              const uint8_t (*hashes)[EGIDE_AUDITSTORE_HASH_LEN], size_t nhashes)
{
    egide_rc rc = s_fault(self, ST_INS_LEAF) ? EGIDE_ERR_IO
                                             : egide_pg_run(self->pg, S_ST(self, ST_INS_LEAF), NULL,
                                                            NULL, "Ib", (int64_t)index, leaf, len);
    for (size_t k = 0; k < nhashes && rc == EGIDE_OK; k++)
        rc = s_fault(self, ST_INS_HASH)
                 ? EGIDE_ERR_IO
                 : egide_pg_run(self->pg, S_ST(self, ST_INS_HASH), NULL, NULL, "Ib",
                                (int64_t)(first_pos + k), hashes[k],
                                (size_t)EGIDE_AUDITSTORE_HASH_LEN);
    if (rc == EGIDE_OK && msg_id)
        rc = s_fault(self, ST_INS_MSG) ? EGIDE_ERR_IO
                                       : egide_pg_run(self->pg, S_ST(self, ST_INS_MSG), NULL, NULL,
                                                      "kI", msg_id, (int64_t)index);
    if (rc == EGIDE_OK)
        rc = egide_pg_run(self->pg, S_ST(self, ST_HEAD), NULL, NULL, "I", (int64_t)index);
    return rc;
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
    bool own = false;
    egide_rc rc = s_atomic_begin(self, "egide_audit_append", &own);
    if (rc != EGIDE_OK)
        return rc;
    rc = s_append_rows(self, index, leaf, len, msg_id, first_pos, hashes, nhashes);
    return s_atomic_end(self, "egide_audit_append", own, rc);
}

static egide_rc s_op_hash(void *be, uint64_t pos, uint8_t out[EGIDE_AUDITSTORE_HASH_LEN])
{
    s_self_t *self = be;
    if (!out || pos > EGIDE_AUDITSTORE_MAX_INDEX)
        return EGIDE_ERR_INVALID;
    PGresult *r = NULL;
    egide_rc rc = egide_pg_run(self->pg, S_ST(self, ST_GET_HASH), &r, NULL, "I", (int64_t)pos);
    if (rc == EGIDE_OK && PQntuples(r) == 0)
        rc = EGIDE_ERR_NOTFOUND;
    else if (rc == EGIDE_OK && !egide_pg_fixed(r, 0, 0, out, EGIDE_AUDITSTORE_HASH_LEN))
        rc = EGIDE_ERR_CONSISTENCY;
    PQclear(r);
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
    PGresult *r = NULL;
    egide_rc rc = egide_pg_run(self->pg, S_ST(self, ST_HASH_RUN), &r, NULL, "II",
                               (int64_t)first_pos, (int64_t)(max > INT32_MAX ? INT32_MAX : max));
    size_t k = 0;
    for (int row = 0; rc == EGIDE_OK && row < PQntuples(r) && k < max; row++) {
        if ((uint64_t)egide_pg_int(r, row, 0) != first_pos + k ||
            !egide_pg_fixed(r, row, 1, out[k], EGIDE_AUDITSTORE_HASH_LEN))
            break; /* the run ends at a gap or a malformed hash */
        k++;
    }
    PQclear(r);
    *n = rc == EGIDE_OK ? k : 0;
    return rc;
}

static egide_rc s_op_leaf(void *be, uint64_t index, uint8_t **leaf, size_t *len)
{
    s_self_t *self = be;
    if (!leaf || !len || index > EGIDE_AUDITSTORE_MAX_INDEX)
        return EGIDE_ERR_INVALID;
    *leaf = NULL;
    *len = 0;
    PGresult *r = NULL;
    egide_rc rc = egide_pg_run(self->pg, S_ST(self, ST_GET_LEAF), &r, NULL, "I", (int64_t)index);
    if (rc == EGIDE_OK && PQntuples(r) == 0)
        rc = EGIDE_ERR_NOTFOUND;
    else if (rc == EGIDE_OK)
        rc = egide_pg_dup(r, 0, 0, leaf, len);
    PQclear(r);
    return rc;
}

/* Page by page (S_SCAN_PAGE leaves a query), so that a large log is never
 * in memory whole; bounded by the number of leaves. */
static egide_rc s_op_scan_leaves(void *be, egide_auditstore_leaf_fn fn, void *ctx)
{
    s_self_t *self = be;
    if (!fn)
        return EGIDE_ERR_INVALID;
    egide_rc rc = EGIDE_OK;
    int64_t from = 0;
    for (bool more = true; more && rc == EGIDE_OK;) {
        PGresult *r = NULL;
        rc = egide_pg_run(self->pg, S_ST(self, ST_SCAN_LEAVES), &r, NULL, "I", from);
        int rows = rc == EGIDE_OK ? PQntuples(r) : 0;
        for (int row = 0; rc == EGIDE_OK && row < rows; row++) {
            int64_t idx = egide_pg_int(r, row, 0);
            const uint8_t *leaf = (const uint8_t *)PQgetvalue(r, row, 1);
            rc = fn(ctx, (uint64_t)idx, leaf, (size_t)PQgetlength(r, row, 1));
            from = idx + 1;
        }
        more = rows == S_SCAN_PAGE && from > 0;
        PQclear(r);
    }
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
    PGresult *r = NULL;
    egide_rc rc = egide_pg_run(self->pg, S_ST(self, ST_FIND_MSG), &r, NULL, "kI", msg_id,
                               (int64_t)(max > INT32_MAX ? INT32_MAX : max));
    size_t k = 0;
    for (int row = 0; rc == EGIDE_OK && row < PQntuples(r) && k < max; row++)
        out[k++] = (uint64_t)egide_pg_int(r, row, 0);
    PQclear(r);
    *n = rc == EGIDE_OK ? k : 0;
    return rc;
}

static egide_rc s_op_msg_has(void *be, const uint8_t msg_id[EGIDE_AUDITSTORE_MSG_ID_LEN],
                             uint64_t index)
{
    s_self_t *self = be;
    if (!msg_id || index > EGIDE_AUDITSTORE_MAX_INDEX)
        return EGIDE_ERR_INVALID;
    PGresult *r = NULL;
    egide_rc rc =
        egide_pg_run(self->pg, S_ST(self, ST_HAS_MSG), &r, NULL, "kI", msg_id, (int64_t)index);
    if (rc == EGIDE_OK && PQntuples(r) == 0)
        rc = EGIDE_ERR_NOTFOUND;
    PQclear(r);
    return rc;
}

static egide_rc s_op_counts(void *be, egide_auditstore_counts_t *out)
{
    s_self_t *self = be;
    if (!out)
        return EGIDE_ERR_INVALID;
    PGresult *r = NULL;
    egide_rc rc = egide_pg_run(self->pg, S_ST(self, ST_COUNTS), &r, NULL, "");
    if (rc == EGIDE_OK && PQntuples(r) != 1)
        rc = EGIDE_ERR_DB;
    if (rc == EGIDE_OK) {
        uint64_t *f[4] = {&out->leaves, &out->hashes, &out->msg_entries, &out->checkpoints};
        for (int i = 0; i < 4; i++)
            *f[i] = (uint64_t)egide_pg_int(r, 0, i);
    }
    PQclear(r);
    return rc;
}

static egide_rc s_op_put_checkpoint(void *be, uint64_t size, const char *note)
{
    s_self_t *self = be;
    size_t l = note ? strlen(note) : 0;
    if (l == 0 || l > EGIDE_AUDITSTORE_MAX_NOTE || size > EGIDE_AUDITSTORE_MAX_INDEX)
        return EGIDE_ERR_INVALID;
    if (s_fault(self, ST_INS_CP))
        return EGIDE_ERR_IO;
    bool own = false;
    egide_rc rc = s_atomic_begin(self, "egide_audit_cp", &own);
    if (rc != EGIDE_OK)
        return rc;
    rc = egide_pg_run(self->pg, S_ST(self, ST_INS_CP), NULL, NULL, "It", (int64_t)size, note);
    return s_atomic_end(self, "egide_audit_cp", own, rc);
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
    PGresult *r = NULL;
    egide_rc rc = which == ST_CP_LATEST
                      ? egide_pg_run(self->pg, S_ST(self, which), &r, NULL, "")
                      : egide_pg_run(self->pg, S_ST(self, which), &r, NULL, "I", (int64_t)arg);
    if (rc == EGIDE_OK && PQntuples(r) == 0)
        rc = EGIDE_ERR_NOTFOUND;
    if (rc == EGIDE_OK) {
        size_t l = (size_t)PQgetlength(r, 0, 1);
        if (size)
            *size = (uint64_t)egide_pg_int(r, 0, 0);
        if (PQgetisnull(r, 0, 1))
            rc = EGIDE_ERR_DB;
        else if (l > EGIDE_AUDITSTORE_MAX_NOTE)
            rc = EGIDE_ERR_LIMIT;
        else if (note && !(*note = malloc(l + 1)))
            rc = EGIDE_ERR_NOMEM;
        else if (note) {
            memcpy(*note, PQgetvalue(r, 0, 1), l);
            (*note)[l] = '\0';
        }
    }
    PQclear(r);
    return rc;
}

static void s_op_inject_fault(void *be, unsigned nth_write)
{
    ((s_self_t *)be)->fault = nth_write;
}

/* Try sql in a savepoint that is always undone: *through when it ran.
 * A refusal by the triggers (P0001) is not an error; anything else is. */
static egide_rc s_probe_one(s_self_t *self, const char *sql, bool *through)
{
    bool own = false;
    egide_rc rc = s_atomic_begin(self, "egide_audit_probe", &own);
    if (rc != EGIDE_OK)
        return rc;
    uint64_t rows = 0;
    rc = egide_pg_exec_rows(self->pg, sql, &rows);
    *through = rc == EGIDE_OK && rows > 0;
    if (rc != EGIDE_OK && strcmp(egide_pg_sqlstate(self->pg), "P0001") == 0)
        rc = EGIDE_OK;
    else if (rc == EGIDE_OK && strncmp(sql, "TRUNCATE", 8) == 0)
        *through = true; /* TRUNCATE reports no rows */
    (void)s_atomic_end(self, "egide_audit_probe", own, EGIDE_ERR_STATE); /* undo */
    return rc;
}

static egide_rc s_op_probe_immutable(void *be, egide_auditstore_kind_t kind, uint64_t key)
{
    s_self_t *self = be;
    if ((unsigned)kind >= EGIDE_AUDITSTORE_KIND__COUNT || key > EGIDE_AUDITSTORE_MAX_INDEX)
        return EGIDE_ERR_INVALID;
    const char *t = s_kinds[kind].table, *k = s_kinds[kind].key, *v = s_kinds[kind].value;
    long long key_ll = (long long)key; /* a number: safe to write into the SQL */
    char sql[5][320];
    (void)snprintf(sql[0], sizeof sql[0], "SELECT 1 FROM %s WHERE %s = %lld", t, k, key_ll);
    (void)snprintf(sql[1], sizeof sql[1], "UPDATE %s SET %s = %s WHERE %s = %lld", t, v, v, k,
                   key_ll);
    (void)snprintf(sql[2], sizeof sql[2], "DELETE FROM %s WHERE %s = %lld", t, k, key_ll);
    (void)snprintf(sql[3], sizeof sql[3],
                   "INSERT INTO %s SELECT * FROM %s WHERE %s = %lld ON CONFLICT(%s)"
                   " DO UPDATE SET %s = EXCLUDED.%s",
                   t, t, k, key_ll, s_kinds[kind].pk, v, v);
    (void)snprintf(sql[4], sizeof sql[4], "TRUNCATE %s", t);
    uint64_t rows = 0;
    egide_rc rc = egide_pg_exec_rows(self->pg, sql[0], &rows);
    if (rc != EGIDE_OK)
        return rc;
    if (rows == 0)
        return EGIDE_ERR_NOTFOUND;
    bool any = false;
    for (int i = 1; i < 5 && rc == EGIDE_OK; i++) {
        bool through = false;
        rc = s_probe_one(self, sql[i], &through);
        any = any || through;
    }
    if (rc != EGIDE_OK)
        return rc;
    return any ? EGIDE_OK : EGIDE_ERR_PERM;
}

const egide_auditstore_ops_t egide_auditstore_pg_ops = {
    .name = "postgresql",
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
