/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_store_trail.c - the store of the edge's trail of who read what
 * (edge_trail.h): the broker's audit log (egide_auditlog_open on the edge
 * store's connection) plus the index table trail_index of edge store
 * migration 10.  SQL here only for that table; the log's rows are the
 * library's.  The daemon's side (what is noted, when) is edge_trail.c.
 */
#include "edge_trail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "edge.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/protocol/egide_checkpoint.h"
#include "egide/store/egide_db.h"

struct edge_trail {
    sqlite3 *db;                         /* borrowed */
    egide_auditlog_t *log;               /* the Merkle log on db */
    char node[EGIDE_MAX_NODE_ID + 1];    /* this edge */
    char origin[EGIDE_MAX_NODE_ID + 16]; /* "egide.<node>/trail" */
};

egide_rc edge_trail_open(sqlite3 *db, const char *node_id, edge_trail_t **out)
{
    if (!out)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    if (!db || !node_id || !node_id[0] || strlen(node_id) > EGIDE_MAX_NODE_ID)
        return EGIDE_ERR_INVALID;
    edge_trail_t *t = calloc(1, sizeof *t);
    if (!t)
        return EGIDE_ERR_NOMEM;
    t->db = db;
    egide_strlcpy(t->node, node_id, sizeof t->node);
    snprintf(t->origin, sizeof t->origin, "egide.%s/trail", node_id);
    egide_rc rc = egide_auditlog_open(db, &t->log);
    if (rc) {
        free(t);
        return rc;
    }
    *out = t;
    return EGIDE_OK;
}

void edge_trail_destroy(edge_trail_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    egide_auditlog_destroy(&(*self_p)->log);
    free(*self_p);
    *self_p = NULL;
}

egide_auditlog_t *edge_trail_log(edge_trail_t *t)
{
    return t ? t->log : NULL;
}

const char *edge_trail_origin(const edge_trail_t *t)
{
    return t ? t->origin : "";
}

/* ------------------------------------------------------------ leaves */

static bool s_printable(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
            return false;
    return true;
}

egide_rc edge_trail_leaf_encode(const edge_trail_entry_t *en, char **out, size_t *len)
{
    if (!en || !out || !len)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    *len = 0;
    if (!s_printable(en->node, EGIDE_MAX_NODE_ID) ||
        !s_printable(en->account, EDGE_TRAIL_ACCOUNT_MAX) ||
        !s_printable(en->role, sizeof en->role - 1) ||
        !s_printable(en->action, EDGE_TRAIL_ACTION_MAX) || en->time_ms < 0 || en->case_id < 0)
        return EGIDE_ERR_INVALID;
    /* Written by hand so that the bytes are fixed by this code alone. */
    char buf[EDGE_TRAIL_LEAF_MAX];
    int k = snprintf(buf, sizeof buf,
                     "{\"v\":1,\"node\":\"%s\",\"time_ms\":%lld,\"account\":\"%s\",\"role\":\"%s\","
                     "\"action\":\"%s\"",
                     en->node, (long long)en->time_ms, en->account, en->role, en->action);
    if (k > 0 && (size_t)k < sizeof buf && en->has_msg) {
        char hex[33];
        egide_hex_encode(en->msg_id, 16, hex);
        k += snprintf(buf + k, sizeof buf - (size_t)k, ",\"msg_id\":\"%s\"", hex);
    }
    if (k > 0 && (size_t)k < sizeof buf && en->case_id > 0)
        k += snprintf(buf + k, sizeof buf - (size_t)k, ",\"case_id\":%lld", (long long)en->case_id);
    if (k > 0 && (size_t)k < sizeof buf && en->subject[0]) {
        if (!s_printable(en->subject, EDGE_TRAIL_ACCOUNT_MAX))
            return EGIDE_ERR_INVALID;
        k += snprintf(buf + k, sizeof buf - (size_t)k, ",\"subject\":\"%s\"", en->subject);
    }
    if (k > 0 && (size_t)k < sizeof buf)
        k += snprintf(buf + k, sizeof buf - (size_t)k, "}");
    if (k <= 0 || (size_t)k >= sizeof buf)
        return EGIDE_ERR_LIMIT;
    char *s = malloc((size_t)k + 1);
    if (!s)
        return EGIDE_ERR_NOMEM;
    memcpy(s, buf, (size_t)k + 1);
    *out = s;
    *len = (size_t)k;
    return EGIDE_OK;
}

static bool s_copy_str(json_t *o, const char *key, char *dst, size_t size)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v && egide_strlcpy(dst, v, size) == EGIDE_OK && s_printable(dst, size - 1);
}

egide_rc edge_trail_leaf_decode(const uint8_t *leaf, size_t len, edge_trail_entry_t *en)
{
    if (!leaf || !en || len == 0 || len > EDGE_TRAIL_LEAF_MAX)
        return EGIDE_ERR_PROTO;
    memset(en, 0, sizeof *en);
    json_t *o = json_loadb((const char *)leaf, len, JSON_REJECT_DUPLICATES, NULL);
    egide_rc rc = EGIDE_ERR_PROTO;
    json_t *v = json_object_get(o, "v"), *t = json_object_get(o, "time_ms");
    json_t *m = json_object_get(o, "msg_id"), *c = json_object_get(o, "case_id");
    json_t *sj = json_object_get(o, "subject");
    size_t want = 6 + (m ? 1 : 0) + (c ? 1 : 0) + (sj ? 1 : 0);
    if (json_is_object(o) && json_object_size(o) == want && json_integer_value(v) == 1 &&
        json_is_integer(t) && json_integer_value(t) >= 0 &&
        s_copy_str(o, "node", en->node, sizeof en->node) &&
        s_copy_str(o, "account", en->account, sizeof en->account) &&
        s_copy_str(o, "role", en->role, sizeof en->role) &&
        s_copy_str(o, "action", en->action, sizeof en->action) &&
        (!m || (json_string_length(m) == 32 &&
                egide_hex_decode(json_string_value(m), en->msg_id, 16) == EGIDE_OK)) &&
        (!c || (json_is_integer(c) && json_integer_value(c) > 0)) &&
        (!sj || s_copy_str(o, "subject", en->subject, sizeof en->subject))) {
        en->time_ms = json_integer_value(t);
        en->has_msg = m != NULL;
        en->case_id = c ? json_integer_value(c) : 0;
        rc = EGIDE_OK;
    }
    json_decref(o);
    return rc;
}

/* ------------------------------------------------------------ append */

static egide_rc s_exec(sqlite3 *db, sqlite3_stmt *st, const char *what)
{
    int src = sqlite3_step(st);
    egide_db_done(st);
    if (src == SQLITE_DONE)
        return EGIDE_OK;
    egide_log(EGIDE_LOG_ERROR, "trail: %s: %s", what, sqlite3_errmsg(db));
    egide_rc rc = egide_db_rc(src);
    return rc == EGIDE_OK || rc == EGIDE_ERR_EXISTS ? EGIDE_ERR_DB : rc;
}

egide_rc edge_trail_append_in(edge_trail_t *t, const edge_trail_entry_t *en, uint64_t *index)
{
    if (!t || !en)
        return EGIDE_ERR_INVALID;
    /* The caller's transaction ended under it (SQLite rolls back by
     * itself after some errors): a savepoint now would commit the entry
     * alone, saying what was never done. */
    if (sqlite3_get_autocommit(t->db))
        return EGIDE_ERR_DB;
    return edge_trail_append(t, en, index);
}

egide_rc edge_trail_append(edge_trail_t *t, const edge_trail_entry_t *en, uint64_t *index)
{
    if (!t || !en)
        return EGIDE_ERR_INVALID;
    edge_trail_entry_t e = *en;
    egide_strlcpy(e.node, t->node, sizeof e.node);
    char *leaf = NULL;
    size_t len = 0;
    egide_rc rc = edge_trail_leaf_encode(&e, &leaf, &len);
    if (rc)
        return rc;
    rc = egide_db_exec(t->db, "SAVEPOINT edge_trail");
    if (rc) {
        free(leaf);
        return EGIDE_ERR_DB;
    }
    uint64_t idx = 0;
    rc = egide_auditlog_append(t->log, (const uint8_t *)leaf, len, &idx);
    free(leaf);
    sqlite3_stmt *st = NULL;
    if (!rc)
        rc = egide_db_stmt(t->db,
                           "INSERT INTO trail_index(idx, time_ms, account, msg_id, case_id)"
                           " VALUES(?1, ?2, ?3, ?4, ?5)",
                           &st);
    if (!rc) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)idx);
        sqlite3_bind_int64(st, 2, e.time_ms);
        sqlite3_bind_text(st, 3, e.account, -1, SQLITE_STATIC);
        if (e.has_msg)
            sqlite3_bind_blob(st, 4, e.msg_id, 16, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 4);
        if (e.case_id > 0)
            sqlite3_bind_int64(st, 5, e.case_id);
        else
            sqlite3_bind_null(st, 5);
        rc = s_exec(t->db, st, "index row");
    }
    if (!rc)
        rc = egide_db_exec(t->db, "RELEASE edge_trail") ? EGIDE_ERR_DB : EGIDE_OK;
    if (rc) {
        (void)egide_db_exec(t->db, "ROLLBACK TO edge_trail");
        (void)egide_db_exec(t->db, "RELEASE edge_trail");
        return rc;
    }
    if (index)
        *index = idx;
    return EGIDE_OK;
}

/* ------------------------------------------------------------ pages */

/* The page statements: one index range each (edge_trail_plans). */
static const char *const s_page_sql[4] = {
    "SELECT idx, time_ms, account, msg_id, case_id FROM trail_index"
    " WHERE idx > ?1 ORDER BY idx LIMIT ?2",
    "SELECT idx, time_ms, account, msg_id, case_id FROM trail_index"
    " WHERE account = ?3 AND idx > ?1 ORDER BY idx LIMIT ?2",
    "SELECT idx, time_ms, account, msg_id, case_id FROM trail_index"
    " WHERE msg_id = ?4 AND idx > ?1 ORDER BY idx LIMIT ?2",
    "SELECT idx, time_ms, account, msg_id, case_id FROM trail_index"
    " WHERE msg_id = ?4 AND account = ?3 AND idx > ?1 ORDER BY idx LIMIT ?2",
};
static const char *const s_page_name[4] = {"trail all", "trail by account", "trail by message",
                                           "trail by message and account"};

/* The index row says what the leaf says. */
static bool s_row_matches(sqlite3_stmt *st, const edge_trail_entry_t *en)
{
    const unsigned char *acc = sqlite3_column_text(st, 2);
    if (sqlite3_column_int64(st, 1) != en->time_ms || !acc ||
        strcmp((const char *)acc, en->account) != 0)
        return false;
    int mtype = sqlite3_column_type(st, 3);
    if (en->has_msg != (mtype != SQLITE_NULL))
        return false;
    if (en->has_msg && (sqlite3_column_bytes(st, 3) != 16 ||
                        memcmp(sqlite3_column_blob(st, 3), en->msg_id, 16) != 0))
        return false;
    int64_t cid = sqlite3_column_type(st, 4) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 4);
    return cid == en->case_id;
}

egide_rc edge_trail_list(edge_trail_t *t, const edge_trail_q_t *q, edge_trail_entry_t **rows,
                         size_t *n, bool *more)
{
    if (rows)
        *rows = NULL;
    if (n)
        *n = 0;
    if (more)
        *more = false;
    if (!t || !q || !rows || !n || !more || q->limit == 0 || q->limit > EDGE_TRAIL_PAGE_MAX ||
        (q->has_after && q->after >= INT64_MAX) ||
        (q->account && (!q->account[0] || strlen(q->account) > EDGE_TRAIL_ACCOUNT_MAX)))
        return EGIDE_ERR_INVALID;
    int which = (q->has_msg ? 2 : 0) + (q->account ? 1 : 0);
    sqlite3_stmt *st = NULL;
    egide_rc rc = egide_db_stmt(t->db, s_page_sql[which], &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, q->has_after ? (sqlite3_int64)q->after : -1);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)q->limit + 1);
    if (q->account)
        sqlite3_bind_text(st, 3, q->account, -1, SQLITE_STATIC);
    if (q->has_msg)
        sqlite3_bind_blob(st, 4, q->msg_id, 16, SQLITE_STATIC);
    edge_trail_entry_t *out = calloc(q->limit, sizeof *out);
    if (!out) {
        egide_db_done(st);
        return EGIDE_ERR_NOMEM;
    }
    size_t k = 0;
    for (;;) {
        int src = sqlite3_step(st);
        if (src == SQLITE_DONE)
            break;
        if (src != SQLITE_ROW) {
            egide_log(EGIDE_LOG_ERROR, "trail: page: %s", sqlite3_errmsg(t->db));
            rc = EGIDE_ERR_DB;
            break;
        }
        if (k == q->limit) {
            *more = true;
            break;
        }
        uint64_t idx = (uint64_t)sqlite3_column_int64(st, 0);
        uint8_t *leaf = NULL;
        size_t len = 0;
        rc = egide_auditlog_leaf(t->log, idx, &leaf, &len);
        if (rc == EGIDE_ERR_NOTFOUND)
            rc = EGIDE_ERR_CONSISTENCY;
        if (!rc && (edge_trail_leaf_decode(leaf, len, &out[k]) || !s_row_matches(st, &out[k])))
            rc = EGIDE_ERR_CONSISTENCY;
        free(leaf);
        if (rc) {
            if (rc == EGIDE_ERR_CONSISTENCY)
                egide_log(EGIDE_LOG_ERROR, "trail: entry %llu does not match its index row",
                          (unsigned long long)idx);
            break;
        }
        out[k++].index = idx;
    }
    egide_db_done(st);
    if (rc) {
        free(out);
        *more = false;
        return rc;
    }
    *rows = out;
    *n = k;
    return EGIDE_OK;
}

egide_rc edge_trail_plans(sqlite3 *db, edge_store_plan_fn fn, void *arg)
{
    if (!db || !fn)
        return EGIDE_ERR_INVALID;
    for (int i = 0; i < 4; i++) {
        char sql[512];
        snprintf(sql, sizeof sql, "EXPLAIN QUERY PLAN %s", s_page_sql[i]);
        sqlite3_stmt *st = NULL;
        egide_rc rc = egide_db_prepare(db, sql, &st);
        if (rc)
            return rc;
        char plan[1024] = "";
        size_t used = 0;
        while (sqlite3_step(st) == SQLITE_ROW) {
            const unsigned char *d = sqlite3_column_text(st, 3);
            int k = snprintf(plan + used, sizeof plan - used, "%s\n", d ? (const char *)d : "");
            if (k < 0 || (size_t)k >= sizeof plan - used)
                break;
            used += (size_t)k;
        }
        sqlite3_finalize(st);
        fn(s_page_name[i], plan, arg);
    }
    return EGIDE_OK;
}

/* ------------------------------------------------------------ checkpoints */

egide_rc edge_trail_checkpoint(edge_trail_t *t, EVP_PKEY *key, bool refresh, char **note,
                               uint64_t *size)
{
    if (!t || !note)
        return EGIDE_ERR_INVALID;
    *note = NULL;
    if (refresh && key) {
        char *latest = NULL;
        egide_checkpoint_t cp = {.size = 0};
        egide_rc rc = egide_auditlog_latest_checkpoint(t->log, &latest);
        if (rc == EGIDE_OK && egide_checkpoint_parse(latest, strlen(latest), &cp) != EGIDE_OK)
            rc = EGIDE_ERR_CONSISTENCY;
        free(latest);
        if (rc && rc != EGIDE_ERR_NOTFOUND)
            return rc;
        uint64_t cur = egide_auditlog_size(t->log);
        if (cur > 0 && (rc == EGIDE_ERR_NOTFOUND || cp.size < cur)) {
            rc = egide_auditlog_checkpoint(t->log, t->origin, t->origin, key, NULL);
            if (rc == EGIDE_ERR_CRYPTO)
                rc = EGIDE_ERR_UNAVAILABLE; /* the key holder did not sign */
            if (rc)
                return rc;
        }
    }
    char *latest = NULL;
    egide_rc rc = egide_auditlog_latest_checkpoint(t->log, &latest);
    if (rc)
        return rc;
    egide_checkpoint_t cp;
    if (egide_checkpoint_parse(latest, strlen(latest), &cp) != EGIDE_OK) {
        free(latest);
        return EGIDE_ERR_CONSISTENCY;
    }
    if (size)
        *size = cp.size;
    *note = latest;
    return EGIDE_OK;
}

/* ------------------------------------------------------------ verify */

egide_rc edge_trail_verify(edge_trail_t *t, EVP_PKEY *pub, egide_auditverify_report_t *rep)
{
    if (!t)
        return EGIDE_ERR_INVALID;
    egide_auditverify_report_t r;
    memset(&r, 0, sizeof r);
    egide_rc rc = egide_auditlog_verify_all(t->log, t->origin, pub, false, &r);
    if (rc == EGIDE_OK) {
        /* Every index row says what its leaf says, one row per leaf. */
        sqlite3_stmt *st = NULL;
        rc = egide_db_prepare(t->db,
                              "SELECT idx, time_ms, account, msg_id, case_id FROM trail_index"
                              " ORDER BY idx",
                              &st);
        uint64_t expect = 0;
        while (!rc) {
            int src = sqlite3_step(st);
            if (src == SQLITE_DONE)
                break;
            if (src != SQLITE_ROW) {
                rc = EGIDE_ERR_DB;
                break;
            }
            uint64_t idx = (uint64_t)sqlite3_column_int64(st, 0);
            uint8_t *leaf = NULL;
            size_t len = 0;
            edge_trail_entry_t en;
            bool ok = idx == expect && egide_auditlog_leaf(t->log, idx, &leaf, &len) == EGIDE_OK &&
                      edge_trail_leaf_decode(leaf, len, &en) == EGIDE_OK && s_row_matches(st, &en);
            free(leaf);
            if (!ok) {
                r.ok = false;
                r.bad_index = idx == expect ? idx : expect;
                snprintf(r.problem, sizeof r.problem,
                         "trail entry %llu: its index row is missing or differs from the entry",
                         (unsigned long long)r.bad_index);
                rc = EGIDE_ERR_CONSISTENCY;
            }
            expect++;
        }
        sqlite3_finalize(st);
        if (!rc && expect != r.size) {
            r.ok = false;
            r.bad_index = expect;
            snprintf(r.problem, sizeof r.problem,
                     "the trail holds %llu entries but its index %llu rows",
                     (unsigned long long)r.size, (unsigned long long)expect);
            rc = EGIDE_ERR_CONSISTENCY;
        }
        /* Every entry decodes (verify_all does not know the leaves' form). */
        for (uint64_t i = 0; !rc && i < r.size; i++) {
            uint8_t *leaf = NULL;
            size_t len = 0;
            edge_trail_entry_t en;
            if (egide_auditlog_leaf(t->log, i, &leaf, &len) != EGIDE_OK ||
                edge_trail_leaf_decode(leaf, len, &en) != EGIDE_OK) {
                r.ok = false;
                r.bad_index = i;
                snprintf(r.problem, sizeof r.problem, "trail entry %llu is not an entry",
                         (unsigned long long)i);
                rc = EGIDE_ERR_CONSISTENCY;
            }
            free(leaf);
        }
    }
    if (rep)
        *rep = r;
    return rc;
}

/* The node of the trail's first entry, "offline" when there is none. */
static void s_first_node(edge_trail_t *t, char *node, size_t size)
{
    uint8_t *leaf = NULL;
    size_t len = 0;
    edge_trail_entry_t en;
    if (egide_auditlog_leaf(t->log, 0, &leaf, &len) == EGIDE_OK &&
        edge_trail_leaf_decode(leaf, len, &en) == EGIDE_OK)
        egide_strlcpy(node, en.node, size);
    else
        egide_strlcpy(node, "offline", size);
    free(leaf);
}

egide_rc edge_trail_note_offline(edge_store_t *st, const char *account, const char *action,
                                 const char *subject, int64_t now_ms)
{
    sqlite3 *db = edge_store_sqlite_db(st);
    if (!db || !account || !action || !subject)
        return EGIDE_ERR_INVALID;
    edge_trail_entry_t en = {.time_ms = now_ms};
    egide_strlcpy(en.account, account, sizeof en.account);
    egide_strlcpy(en.role, "admin", sizeof en.role);
    egide_strlcpy(en.action, action, sizeof en.action);
    egide_strlcpy(en.subject, subject, sizeof en.subject);
    edge_trail_t *t = NULL;
    egide_rc rc = edge_trail_open(db, "offline", &t);
    if (!rc) {
        s_first_node(t, t->node, sizeof t->node);
        snprintf(t->origin, sizeof t->origin, "egide.%s/trail", t->node);
        rc = edge_store_begin(st);
    }
    if (!rc) {
        rc = edge_trail_append(t, &en, NULL);
        if (!rc)
            rc = edge_store_commit(st);
        if (rc)
            edge_store_rollback(st);
    }
    edge_trail_destroy(&t);
    return rc;
}
