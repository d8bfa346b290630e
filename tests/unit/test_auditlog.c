/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_auditlog.c - the SQLite audit log: stored-hash layout, appends inside
 * and outside the caller's transaction, proofs against an in-memory tree,
 * the msg_id index, checkpoints, the append-only triggers, and
 * egide_auditlog_verify_all naming the first bad index after direct
 * tampering (change, delete, reorder, truncate, forged checkpoint, envelope
 * hash conflict).
 */
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "egide/audit/egide_auditlog.h"
#include "egide/protocol/egide_checkpoint.h"
#include "egide/store/egide_db.h"
#include "egide/audit/egide_merkle.h"
#include "egide/base/egide_util.h"
#include "egide/wire/egide_wire.h"
#include "egide_test.h"

#define ORIGIN "egide.71.broker/audit"

static char s_tmp[256];
static EVP_PKEY *s_key, *s_other;
static int s_dbn;

static sqlite3 *s_newdb(char *path, size_t sz)
{
    snprintf(path, sz, "%s/log%d.sqlite", s_tmp, s_dbn++);
    sqlite3 *db = NULL;
    if (egide_db_open(path, false, &db) != EGIDE_OK)
        return NULL;
    return db;
}

static void s_event(Egide__V1__AuditEvent *ev, int i, uint8_t msg_id[16], uint8_t env[32])
{
    static char *recips[2] = {"71.crip", "71.tas.macon"};
    egide__v1__audit_event__init(ev);
    ev->version = 1;
    ev->type = (i % 3 == 0)   ? EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_SUBMITTED
               : (i % 3 == 1) ? EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_ACCEPTED
                              : EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_DELIVERED;
    memset(msg_id, 0, 16);
    msg_id[0] = (uint8_t)(i / 3);
    msg_id[1] = (uint8_t)(i / 3 >> 8);
    memset(env, 0xA0 ^ (i / 3), 32);
    ev->msg_id.data = msg_id;
    ev->msg_id.len = 16;
    ev->envelope_sha256.data = env;
    ev->envelope_sha256.len = 32;
    ev->sender_id = "fr.snated";
    ev->n_recipient_ids = 2;
    ev->recipient_ids = recips;
    ev->message_type = "snated.transmission";
    ev->node_id = (i % 3 == 2) ? "71.crip" : "71.broker";
    ev->time_ms = 1790000000000LL + i;
}

/* Append n events (3 per message); mirror the leaves into mem if given. */
static egide_rc s_fill(egide_auditlog_t *log, int from, int n, egide_merkle_mem_t *mem)
{
    for (int i = from; i < from + n; i++) {
        Egide__V1__AuditEvent ev;
        uint8_t id[16], env[32];
        s_event(&ev, i, id, env);
        uint64_t idx = 0;
        egide_rc rc = egide_auditlog_append_event(log, &ev, &idx);
        if (rc != EGIDE_OK || idx != (uint64_t)i)
            return rc ? rc : EGIDE_ERR_STATE;
        if (mem) {
            uint8_t *b = NULL;
            size_t l = 0;
            egide_wire_pack(EGIDE_WIRE_AUDIT_EVENT, &ev, &b, &l);
            egide_merkle_mem_append(mem, b, l);
            free(b);
        }
    }
    return EGIDE_OK;
}

static int64_t s_count(sqlite3 *db, const char *table)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s", table);
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void test_positions(void)
{
    /* research.swtch.com/tlog StoredHashIndex examples. */
    CHECK(egide_auditlog_hash_pos(0, 0) == 0);
    CHECK(egide_auditlog_hash_pos(0, 1) == 1);
    CHECK(egide_auditlog_hash_pos(1, 0) == 2);
    CHECK(egide_auditlog_hash_pos(0, 2) == 3);
    CHECK(egide_auditlog_hash_pos(0, 3) == 4);
    CHECK(egide_auditlog_hash_pos(1, 1) == 5);
    CHECK(egide_auditlog_hash_pos(2, 0) == 6);
    CHECK(egide_auditlog_hash_pos(0, 4) == 7);
    CHECK(egide_auditlog_hash_pos(3, 0) == 14);
}

static void test_append_and_proofs(void)
{
    char path[512];
    sqlite3 *db = s_newdb(path, sizeof path);
    REQUIRE(db != NULL);
    egide_auditlog_t *log = NULL;
    REQUIRE(egide_auditlog_open(db, &log) == EGIDE_OK);
    CHECK(egide_auditlog_size(log) == 0);
    uint8_t root[32], want[32];
    CHECK_RC(egide_auditlog_root(log, 0, root), EGIDE_OK);
    egide_merkle_empty_root(want);
    CHECK(memcmp(root, want, 32) == 0);

    egide_merkle_mem_t *mem = egide_merkle_mem_new();
    int bad_hashcount = 0;
    for (int i = 0; i < 70; i++) {
        int64_t before = s_count(db, "audit_hashes");
        REQUIRE(s_fill(log, i, 1, mem) == EGIDE_OK);
        int ones = 0;
        for (int k = i; k & 1; k >>= 1)
            ones++;
        bad_hashcount += s_count(db, "audit_hashes") - before != 1 + ones;
        bad_hashcount +=
            (uint64_t)s_count(db, "audit_hashes") != egide_auditlog_hash_pos(0, (uint64_t)i + 1);
    }
    CHECK(bad_hashcount == 0);
    CHECK(egide_auditlog_size(log) == 70);
    int bad = 0;
    for (uint64_t n = 0; n <= 70; n++) {
        CHECK_RC(egide_auditlog_root(log, n, root), EGIDE_OK);
        egide_merkle_tree_hash(egide_merkle_mem_reader, mem, n, want);
        bad += memcmp(root, want, 32) != 0;
        for (uint64_t m = 0; m < n; m++) {
            uint8_t(*p)[32] = NULL, (*q)[32] = NULL;
            size_t pn = 0, qn = 0;
            CHECK_RC(egide_auditlog_inclusion(log, m, n, &p, &pn), EGIDE_OK);
            egide_merkle_inclusion_proof(egide_merkle_mem_reader, mem, m, n, &q, &qn);
            bad += pn != qn || (pn && memcmp(p, q, pn * 32) != 0);
            uint8_t lh[32];
            CHECK_RC(egide_auditlog_leaf_hash(log, m, lh), EGIDE_OK);
            bad += egide_merkle_verify_inclusion(lh, m, n, (const uint8_t(*)[32])p, pn, root) !=
                   EGIDE_OK;
            free(p);
            free(q);
            if (m == 0)
                continue;
            CHECK_RC(egide_auditlog_consistency(log, m, n, &p, &pn), EGIDE_OK);
            egide_merkle_consistency_proof(egide_merkle_mem_reader, mem, m, n, &q, &qn);
            bad += pn != qn || (pn && memcmp(p, q, pn * 32) != 0);
            uint8_t r1[32];
            egide_auditlog_root(log, m, r1);
            bad += egide_merkle_verify_consistency(m, n, r1, root, (const uint8_t(*)[32])p, pn) !=
                   EGIDE_OK;
            free(p);
            free(q);
        }
    }
    CHECK(bad == 0);
    /* Leaves read back. */
    uint8_t *leaf = NULL;
    size_t len = 0;
    CHECK_RC(egide_auditlog_leaf(log, 5, &leaf, &len), EGIDE_OK);
    void *m = NULL;
    CHECK_RC(egide_wire_unpack(EGIDE_WIRE_AUDIT_EVENT, leaf, len, &m, NULL), EGIDE_OK);
    CHECK(m && ((Egide__V1__AuditEvent *)m)->time_ms == 1790000000005LL);
    egide_wire_free(EGIDE_WIRE_AUDIT_EVENT, m);
    free(leaf);
    CHECK_RC(egide_auditlog_leaf(log, 70, &leaf, &len), EGIDE_ERR_NOTFOUND);
    uint8_t lh[32];
    CHECK_RC(egide_auditlog_leaf_hash(log, 70, lh), EGIDE_ERR_NOTFOUND);
    /* Bad arguments. */
    uint8_t(*p)[32] = NULL;
    size_t pn = 0;
    CHECK_RC(egide_auditlog_root(log, 71, root), EGIDE_ERR_INVALID);
    CHECK_RC(egide_auditlog_inclusion(log, 70, 70, &p, &pn), EGIDE_ERR_INVALID);
    CHECK_RC(egide_auditlog_inclusion(log, 3, 71, &p, &pn), EGIDE_ERR_INVALID);
    CHECK_RC(egide_auditlog_consistency(log, 0, 5, &p, &pn), EGIDE_ERR_INVALID);
    CHECK_RC(egide_auditlog_consistency(log, 6, 5, &p, &pn), EGIDE_ERR_INVALID);
    CHECK_RC(egide_auditlog_consistency(log, 5, 71, &p, &pn), EGIDE_ERR_INVALID);
    CHECK_RC(egide_auditlog_append(log, (const uint8_t *)"x", 0, NULL), EGIDE_ERR_INVALID);
    uint8_t *big = calloc(1, EGIDE_AUDITLOG_MAX_LEAF + 1);
    CHECK_RC(egide_auditlog_append(log, big, EGIDE_AUDITLOG_MAX_LEAF + 1, NULL), EGIDE_ERR_LIMIT);
    free(big);
    Egide__V1__AuditEvent ev;
    uint8_t id[16], env[32];
    s_event(&ev, 1, id, env);
    ev.version = 0;
    CHECK_RC(egide_auditlog_append_event(log, &ev, NULL), EGIDE_ERR_PROTO);
    ev.version = 1;
    ev.msg_id.len = 5;
    CHECK_RC(egide_auditlog_append_event(log, &ev, NULL), EGIDE_ERR_PROTO);
    CHECK(egide_auditlog_size(log) == 70);

    /* msg_id index: message 4 has events 12, 13, 14. */
    s_event(&ev, 12, id, env);
    uint64_t *idx = NULL;
    size_t ni = 0;
    CHECK_RC(egide_auditlog_find_msg(log, id, &idx, &ni), EGIDE_OK);
    CHECK(ni == 3 && idx && idx[0] == 12 && idx[1] == 13 && idx[2] == 14);
    free(idx);
    memset(id, 0xFF, 16);
    CHECK_RC(egide_auditlog_find_msg(log, id, &idx, &ni), EGIDE_OK);
    CHECK(ni == 0 && idx == NULL);
    /* Raw leaves are not indexed. */
    uint64_t li = 0;
    CHECK_RC(egide_auditlog_append(log, (const uint8_t *)"raw", 3, &li), EGIDE_OK);
    CHECK(li == 70);

    egide_merkle_mem_destroy(&mem);
    egide_auditlog_destroy(&log);
    egide_auditlog_destroy(&log);
    CHECK(log == NULL);
    egide_db_close(&db);
    CHECK_RC(egide_auditlog_open(NULL, &log), EGIDE_ERR_INVALID);
}

static void test_transactions_and_triggers(void)
{
    char path[512];
    sqlite3 *db = s_newdb(path, sizeof path);
    REQUIRE(db != NULL);
    egide_auditlog_t *log = NULL;
    REQUIRE(egide_auditlog_open(db, &log) == EGIDE_OK);
    REQUIRE(s_fill(log, 0, 5, NULL) == EGIDE_OK);
    /* Inside the caller's transaction: a ROLLBACK undoes the append. */
    CHECK_RC(egide_db_begin(db), EGIDE_OK);
    CHECK_RC(s_fill(log, 5, 2, NULL), EGIDE_OK);
    CHECK(egide_auditlog_size(log) == 7);
    egide_db_rollback(db);
    CHECK(egide_auditlog_size(log) == 5);
    CHECK(s_count(db, "audit_hashes") == (int64_t)egide_auditlog_hash_pos(0, 5));
    CHECK(s_count(db, "audit_msg_index") == 5);
    /* ... and a COMMIT keeps it, with the same indexes. */
    CHECK_RC(egide_db_begin(db), EGIDE_OK);
    CHECK_RC(s_fill(log, 5, 2, NULL), EGIDE_OK);
    CHECK_RC(egide_db_commit(db), EGIDE_OK);
    CHECK(egide_auditlog_size(log) == 7);
    CHECK_RC(egide_auditlog_verify_all(log, NULL, NULL, true, NULL), EGIDE_OK);
    CHECK_RC(egide_auditlog_checkpoint(log, ORIGIN, ORIGIN, s_key, NULL), EGIDE_OK);

    const char *bad_sql[] = {
        "UPDATE audit_leaves SET leaf = x'00' WHERE idx = 1",
        "DELETE FROM audit_leaves WHERE idx = 6",
        "UPDATE audit_hashes SET hash = zeroblob(32) WHERE pos = 0",
        "DELETE FROM audit_hashes",
        "UPDATE audit_checkpoints SET note = 'x'",
        "DELETE FROM audit_checkpoints",
        "UPDATE audit_msg_index SET idx = 3",
        "DELETE FROM audit_msg_index",
        "INSERT OR REPLACE INTO audit_leaves(idx, leaf) VALUES(1, x'01')",
        "REPLACE INTO audit_hashes(pos, hash) VALUES(0, zeroblob(32))",
        "INSERT OR REPLACE INTO audit_checkpoints(size, note) VALUES(7, 'x')",
        "INSERT INTO audit_leaves(idx, leaf) VALUES(2, x'01') ON CONFLICT(idx) DO UPDATE SET "
        "leaf = x'02'",
    };
    for (size_t i = 0; i < sizeof bad_sql / sizeof bad_sql[0]; i++) {
        char *err = NULL;
        int src = sqlite3_exec(db, bad_sql[i], NULL, NULL, &err);
        int refused = src != SQLITE_OK;
        if (!refused)
            fprintf(stderr, "not refused: %s\n", bad_sql[i]);
        CHECK(refused);
        sqlite3_free(err);
    }
    CHECK_RC(egide_auditlog_verify_all(log, ORIGIN, s_key, true, NULL), EGIDE_OK);
    /* Read-only open of the same file. */
    sqlite3 *ro = NULL;
    CHECK_RC(egide_db_open(path, true, &ro), EGIDE_OK);
    egide_auditlog_t *rlog = NULL;
    CHECK_RC(egide_auditlog_open(ro, &rlog), EGIDE_OK);
    CHECK(egide_auditlog_size(rlog) == 7);
    CHECK_RC(egide_auditlog_verify_all(rlog, ORIGIN, s_key, true, NULL), EGIDE_OK);
    egide_auditlog_destroy(&rlog);
    egide_db_close(&ro);
    egide_auditlog_destroy(&log);
    egide_db_close(&db);
    /* Read-only open of a database without the tables. */
    sqlite3 *e = s_newdb(path, sizeof path);
    egide_db_close(&e);
    CHECK_RC(egide_db_open(path, true, &ro), EGIDE_OK);
    CHECK_RC(egide_auditlog_open(ro, &rlog), EGIDE_ERR_NOTFOUND);
    CHECK(rlog == NULL);
    egide_db_close(&ro);
}

static void test_checkpoints(void)
{
    char path[512];
    sqlite3 *db = s_newdb(path, sizeof path);
    REQUIRE(db != NULL);
    egide_auditlog_t *log = NULL;
    REQUIRE(egide_auditlog_open(db, &log) == EGIDE_OK);
    char *note = NULL;
    CHECK_RC(egide_auditlog_latest_checkpoint(log, &note), EGIDE_ERR_NOTFOUND);
    CHECK_RC(egide_auditlog_checkpoint(log, ORIGIN, ORIGIN, s_key, &note), EGIDE_OK);
    egide_checkpoint_t cp;
    CHECK_RC(egide_checkpoint_verify(note, strlen(note), ORIGIN, s_key, &cp), EGIDE_OK);
    CHECK(cp.size == 0);
    free(note);
    REQUIRE(s_fill(log, 0, 10, NULL) == EGIDE_OK);
    CHECK_RC(egide_auditlog_checkpoint(log, ORIGIN, ORIGIN, s_key, &note), EGIDE_OK);
    CHECK_RC(egide_checkpoint_verify(note, strlen(note), ORIGIN, s_key, &cp), EGIDE_OK);
    uint8_t root[32];
    egide_auditlog_root(log, 10, root);
    CHECK(cp.size == 10 && memcmp(cp.root, root, 32) == 0);
    /* Same size again: the stored one comes back, even with another key. */
    char *again = NULL;
    CHECK_RC(egide_auditlog_checkpoint(log, ORIGIN, ORIGIN, s_other, &again), EGIDE_OK);
    CHECK_STREQ(again, note);
    free(again);
    char *latest = NULL;
    CHECK_RC(egide_auditlog_latest_checkpoint(log, &latest), EGIDE_OK);
    CHECK_STREQ(latest, note);
    free(latest);
    free(note);
    REQUIRE(s_fill(log, 10, 5, NULL) == EGIDE_OK);
    CHECK_RC(egide_auditlog_checkpoint(log, ORIGIN, ORIGIN, s_key, NULL), EGIDE_OK);
    uint64_t size = 0;
    CHECK_RC(egide_auditlog_checkpoint_next(log, 1, &size, &note), EGIDE_OK);
    CHECK(size == 10);
    free(note);
    CHECK_RC(egide_auditlog_checkpoint_next(log, 11, &size, &note), EGIDE_OK);
    CHECK(size == 15);
    free(note);
    CHECK_RC(egide_auditlog_checkpoint_next(log, 16, &size, &note), EGIDE_ERR_NOTFOUND);
    CHECK(note == NULL);
    /* Bad origin / key. */
    CHECK_RC(egide_auditlog_checkpoint(log, "bad origin", ORIGIN, s_key, NULL), EGIDE_ERR_INVALID);
    EVP_PKEY *x = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    REQUIRE(s_fill(log, 15, 1, NULL) == EGIDE_OK);
    CHECK_RC(egide_auditlog_checkpoint(log, ORIGIN, ORIGIN, x, NULL), EGIDE_ERR_INVALID);
    EVP_PKEY_free(x);
    egide_auditverify_report_t rep;
    CHECK_RC(egide_auditlog_verify_all(log, ORIGIN, s_key, true, &rep), EGIDE_OK);
    CHECK(rep.ok && rep.size == 16 && rep.checkpoints == 3 && rep.messages == 6);
    /* Wrong anchor key: the signature check fails, no index. */
    CHECK_RC(egide_auditlog_verify_all(log, ORIGIN, s_other, true, &rep), EGIDE_ERR_CONSISTENCY);
    CHECK(!rep.ok && rep.bad_index == EGIDE_AUDITVERIFY_NO_INDEX);
    CHECK(strstr(rep.problem, "not signed") != NULL);
    egide_auditlog_destroy(&log);
    egide_db_close(&db);
}

/* Build a 30-entry log with checkpoints at 10, 20 and 30, apply `sql` with
 * the triggers dropped, and return verify_all's report. */
static egide_rc s_tamper(const char *sql, egide_auditverify_report_t *rep, int with_cps)
{
    char path[512];
    sqlite3 *db = s_newdb(path, sizeof path);
    if (!db)
        return EGIDE_ERR_DB;
    egide_auditlog_t *log = NULL;
    egide_rc rc = egide_auditlog_open(db, &log);
    for (int k = 0; k < 3 && rc == EGIDE_OK; k++) {
        rc = s_fill(log, k * 10, 10, NULL);
        if (rc == EGIDE_OK && with_cps)
            rc = egide_auditlog_checkpoint(log, ORIGIN, ORIGIN, s_key, NULL);
    }
    if (rc == EGIDE_OK)
        rc = egide_auditlog_verify_all(log, ORIGIN, s_key, true, rep);
    if (rc == EGIDE_ERR_CONSISTENCY && !with_cps && rep->unanchored)
        rc = EGIDE_OK; /* intact, but signed by nothing: see test_unanchored */
    if (rc == EGIDE_OK) {
        const char *t[] = {"audit_leaves", "audit_hashes", "audit_checkpoints", "audit_msg_index"};
        for (int i = 0; i < 4; i++) {
            char drop[200];
            snprintf(drop, sizeof drop, "DROP TRIGGER %s_no_update; DROP TRIGGER %s_no_delete;",
                     t[i], t[i]);
            sqlite3_exec(db, drop, NULL, NULL, NULL);
        }
        if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
            fprintf(stderr, "tamper SQL failed: %s\n", sqlite3_errmsg(db));
            rc = EGIDE_ERR_DB;
        }
    }
    if (rc == EGIDE_OK)
        rc = egide_auditlog_verify_all(log, ORIGIN, s_key, true, rep);
    egide_auditlog_destroy(&log);
    egide_db_close(&db);
    return rc;
}

static void s_expect(const char *sql, int with_cps, uint64_t bad, const char *words)
{
    egide_auditverify_report_t rep;
    memset(&rep, 0, sizeof rep);
    egide_rc rc = s_tamper(sql, &rep, with_cps);
    CHECK_RC(rc, EGIDE_ERR_CONSISTENCY);
    if (rep.bad_index != bad || !strstr(rep.problem, words))
        fprintf(stderr, "tamper '%s': bad index %llu (want %llu): %s\n", sql,
                (unsigned long long)rep.bad_index, (unsigned long long)bad, rep.problem);
    CHECK(!rep.ok && rep.bad_index == bad);
    CHECK(strstr(rep.problem, words) != NULL);
}

static void test_tamper(void)
{
    /* Change one entry (one byte of its time). */
    s_expect("UPDATE audit_leaves SET leaf = CAST(substr(leaf, 1, length(leaf) - 1) || x'7f' "
             "AS BLOB) WHERE idx = 17",
             1, 17, "entry 17");
    /* Delete one entry. */
    s_expect("DELETE FROM audit_leaves WHERE idx = 8", 1, 8, "entry 8 is missing");
    /* Reorder two entries. */
    s_expect("UPDATE audit_leaves SET idx = -1 WHERE idx = 4;"
             "UPDATE audit_leaves SET idx = 4 WHERE idx = 5;"
             "UPDATE audit_leaves SET idx = 5 WHERE idx = -1;",
             1, 4, "entry 4");
    /* Remove the last entry (and its hashes): the checkpoint at 30 names 29. */
    s_expect("DELETE FROM audit_leaves WHERE idx = 29;"
             "DELETE FROM audit_hashes WHERE pos >= 54",
             1, 29, "entry 29 and later were removed");
    /* ... without checkpoints, the stored hashes still show it. */
    s_expect("DELETE FROM audit_leaves WHERE idx = 29", 0, 29, "removed from the end");
    /* Replace an entry by bytes that are not an event. */
    s_expect("UPDATE audit_leaves SET leaf = x'0801' WHERE idx = 12", 1, 12,
             "not a valid audit event");
    /* Remove the stored hashes. */
    s_expect("DELETE FROM audit_hashes WHERE pos >= 3", 1, 2, "stored hash 3");
    /* A forged checkpoint note. */
    s_expect("UPDATE audit_checkpoints SET note = replace(note, '\n20\n', '\n21\n') WHERE "
             "size = 20",
             1, EGIDE_AUDITVERIFY_NO_INDEX, "not signed");
    /* A stored interior hash changed. */
    /* (Named entry 1, the entry whose append wrote that hash, until it was
     * seen that a leaf rewritten with its leaf hash gives the same mismatch:
     * the stored hash cannot say which, so the range under it is named.) */
    s_expect("UPDATE audit_hashes SET hash = zeroblob(32) WHERE pos = 2", 1, 0, "level 1, index 0");
    egide_auditverify_report_t rep;
    CHECK_RC(s_tamper("UPDATE audit_hashes SET hash = zeroblob(32) WHERE pos = 2", &rep, 1),
             EGIDE_ERR_CONSISTENCY);
    CHECK(rep.bad_index == 0 && rep.bad_end == 2 && strstr(rep.problem, "entries 0 to 1"));
    /* An index row removed. */
    s_expect("DELETE FROM audit_msg_index WHERE idx = 3", 1, 3, "msg_id index");
}

/* Alter entry n of a small log in one way (kind 0: its bytes; 1: its stored
 * leaf hash; 2: its bytes and its stored leaf hash rewritten to match, as an
 * attacker who knows the layout would; 3: replaced by another valid event of
 * the same message and time, with its leaf hash rewritten) and verify. */
static void s_alter(sqlite3 *db, uint64_t n, int kind)
{
    sqlite3_stmt *st = NULL;
    uint8_t leaf[4096];
    int len = 0;
    sqlite3_prepare_v2(db, "SELECT leaf FROM audit_leaves WHERE idx = ?1", -1, &st, NULL);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)n);
    if (sqlite3_step(st) == SQLITE_ROW) {
        len = sqlite3_column_bytes(st, 0);
        if (len > (int)sizeof leaf)
            len = 0;
        memcpy(leaf, sqlite3_column_blob(st, 0), (size_t)len);
    }
    sqlite3_finalize(st);
    if (len == 0)
        return;
    if (kind == 3) {
        /* The same event but another recipient list order: still valid. */
        Egide__V1__AuditEvent ev;
        uint8_t id[16], env[32];
        s_event(&ev, (int)n, id, env);
        char *swapped[2] = {"71.tas.macon", "71.crip"};
        ev.recipient_ids = swapped;
        uint8_t *b = NULL;
        size_t l = 0;
        egide_wire_pack(EGIDE_WIRE_AUDIT_EVENT, &ev, &b, &l);
        memcpy(leaf, b, l);
        len = (int)l;
        free(b);
    } else if (kind != 1) {
        leaf[len - 1] ^= 0x01; /* the last byte of time_ms */
    }
    uint8_t h[32];
    egide_merkle_leaf_hash(leaf, (size_t)len, h);
    if (kind == 1)
        h[7] ^= 0x80;
    if (kind != 1) {
        sqlite3_prepare_v2(db, "UPDATE audit_leaves SET leaf = ?2 WHERE idx = ?1", -1, &st, NULL);
        sqlite3_bind_int64(st, 1, (sqlite3_int64)n);
        sqlite3_bind_blob(st, 2, leaf, len, SQLITE_TRANSIENT);
        CHECK(sqlite3_step(st) == SQLITE_DONE);
        sqlite3_finalize(st);
    }
    if (kind != 0) {
        sqlite3_prepare_v2(db, "UPDATE audit_hashes SET hash = ?2 WHERE pos = ?1", -1, &st, NULL);
        sqlite3_bind_int64(st, 1, (sqlite3_int64)egide_auditlog_hash_pos(0, n));
        sqlite3_bind_blob(st, 2, h, 32, SQLITE_TRANSIENT);
        CHECK(sqlite3_step(st) == SQLITE_DONE);
        sqlite3_finalize(st);
    }
}

static void test_tamper_each_entry(void)
{
    const int N = 13;
    for (int kind = 0; kind < 4; kind++) {
        for (int n = 0; n < N; n++) {
            char path[512];
            sqlite3 *db = s_newdb(path, sizeof path);
            REQUIRE(db != NULL);
            egide_auditlog_t *log = NULL;
            REQUIRE(egide_auditlog_open(db, &log) == EGIDE_OK);
            REQUIRE(s_fill(log, 0, 6, NULL) == EGIDE_OK);
            REQUIRE(egide_auditlog_checkpoint(log, ORIGIN, ORIGIN, s_key, NULL) == EGIDE_OK);
            REQUIRE(s_fill(log, 6, N - 6, NULL) == EGIDE_OK);
            REQUIRE(egide_auditlog_checkpoint(log, ORIGIN, ORIGIN, s_key, NULL) == EGIDE_OK);
            const char *t[] = {"audit_leaves", "audit_hashes"};
            for (int i = 0; i < 2; i++) {
                char drop[200];
                snprintf(drop, sizeof drop, "DROP TRIGGER %s_no_update; DROP TRIGGER %s_no_delete;",
                         t[i], t[i]);
                sqlite3_exec(db, drop, NULL, NULL, NULL);
            }
            s_alter(db, (uint64_t)n, kind);
            egide_auditverify_report_t rep;
            memset(&rep, 0, sizeof rep);
            CHECK_RC(egide_auditlog_verify_all(log, ORIGIN, s_key, true, &rep),
                     EGIDE_ERR_CONSISTENCY);
            char want[64];
            bool ok;
            if (kind < 2) {
                /* The bytes or the stored leaf hash: the entry, exactly. */
                snprintf(want, sizeof want, "entry %d", n);
                ok = !rep.ok && rep.bad_index == (uint64_t)n && rep.bad_end == 0 &&
                     strstr(rep.problem, want);
            } else if (n < 12) {
                /* Rewritten with its leaf hash: only the pair's stored hash
                 * shows it, and it cannot say which of the two (nor the
                 * stored hash itself) changed: the pair is named. */
                uint64_t first = (uint64_t)n & ~1ull;
                snprintf(want, sizeof want, "one of entries %llu to %llu",
                         (unsigned long long)first, (unsigned long long)first + 1);
                ok = !rep.ok && rep.bad_index == first && rep.bad_end == first + 2 &&
                     strstr(rep.problem, want);
            } else {
                /* The last entry, alone in its subtree: only the checkpoint. */
                ok = !rep.ok && rep.bad_index == 6 && rep.bad_end == 13;
            }
            if (!ok)
                fprintf(stderr, "kind %d entry %d: bad index %llu end %llu: %s\n", kind, n,
                        (unsigned long long)rep.bad_index, (unsigned long long)rep.bad_end,
                        rep.problem);
            CHECK(ok);
            egide_auditlog_destroy(&log);
            egide_db_close(&db);
        }
    }
}

/* With the broker's key, a log that no signed checkpoint covers proves
 * nothing and fails; entries after the last checkpoint are normal. */
static void test_unanchored(void)
{
    char path[512];
    sqlite3 *db = s_newdb(path, sizeof path);
    REQUIRE(db != NULL);
    egide_auditlog_t *log = NULL;
    REQUIRE(egide_auditlog_open(db, &log) == EGIDE_OK);
    egide_auditverify_report_t rep;
    /* Empty: nothing to prove. */
    CHECK_RC(egide_auditlog_verify_all(log, ORIGIN, s_key, true, &rep), EGIDE_OK);
    CHECK(rep.ok && !rep.unanchored && rep.size == 0);
    REQUIRE(s_fill(log, 0, 7, NULL) == EGIDE_OK);
    CHECK_RC(egide_auditlog_verify_all(log, ORIGIN, s_key, true, &rep), EGIDE_ERR_CONSISTENCY);
    CHECK(!rep.ok && rep.unanchored && rep.size == 7 && rep.checkpoints == 0);
    CHECK(rep.bad_index == EGIDE_AUDITVERIFY_NO_INDEX && rep.signed_size == 0);
    CHECK(strstr(rep.problem, "no checkpoint signed by the anchored broker key") != NULL);
    /* Without a key only the tree is checked, as before. */
    CHECK_RC(egide_auditlog_verify_all(log, NULL, NULL, true, &rep), EGIDE_OK);
    CHECK(rep.ok && !rep.unanchored);
    /* Checkpoint at 7, then 3 more entries: fine, 7 of 10 signed. */
    REQUIRE(egide_auditlog_checkpoint(log, ORIGIN, ORIGIN, s_key, NULL) == EGIDE_OK);
    REQUIRE(s_fill(log, 7, 3, NULL) == EGIDE_OK);
    CHECK_RC(egide_auditlog_verify_all(log, ORIGIN, s_key, true, &rep), EGIDE_OK);
    CHECK(rep.ok && rep.size == 10 && rep.checkpoints == 1 && rep.signed_size == 7);
    /* Checkpoints signed by another key do not count (they fail). */
    CHECK_RC(egide_auditlog_verify_all(log, ORIGIN, s_other, true, &rep), EGIDE_ERR_CONSISTENCY);
    CHECK(!rep.ok && !rep.unanchored && strstr(rep.problem, "not signed"));
    egide_auditlog_destroy(&log);
    egide_db_close(&db);
    /* A log whose checkpoints were all deleted. */
    CHECK_RC(s_tamper("DELETE FROM audit_checkpoints", &rep, 1), EGIDE_ERR_CONSISTENCY);
    CHECK(rep.unanchored && rep.size == 30 && strstr(rep.problem, "30 entries"));
    /* The same for an export fed to the streaming verifier. */
    egide_auditverify_t *v = egide_auditverify_new(NULL, s_key, ORIGIN, true);
    REQUIRE(v != NULL);
    Egide__V1__AuditEvent ev;
    uint8_t id[16], env[32];
    s_event(&ev, 0, id, env);
    uint8_t *b = NULL;
    size_t l = 0;
    egide_wire_pack(EGIDE_WIRE_AUDIT_EVENT, &ev, &b, &l);
    CHECK_RC(egide_auditverify_add_leaf(v, 0, b, l, NULL), EGIDE_OK);
    free(b);
    CHECK_RC(egide_auditverify_finish(v, &rep), EGIDE_ERR_CONSISTENCY);
    CHECK(rep.unanchored && rep.size == 1);
    /* A problem recorded afterwards replaces it. */
    egide_auditverify_fail(v, 0, "caller's problem");
    CHECK_RC(egide_auditverify_finish(v, &rep), EGIDE_ERR_CONSISTENCY);
    CHECK(!rep.unanchored && rep.bad_index == 0 && strcmp(rep.problem, "caller's problem") == 0);
    egide_auditverify_destroy(&v);
}

static void test_envelope_conflict(void)
{
    char path[512];
    sqlite3 *db = s_newdb(path, sizeof path);
    REQUIRE(db != NULL);
    egide_auditlog_t *log = NULL;
    REQUIRE(egide_auditlog_open(db, &log) == EGIDE_OK);
    REQUIRE(s_fill(log, 0, 6, NULL) == EGIDE_OK);
    /* Event 6 about message 0 (events 0..2) with another envelope hash. */
    Egide__V1__AuditEvent ev;
    uint8_t id[16], env[32];
    s_event(&ev, 0, id, env);
    env[3] ^= 1;
    CHECK_RC(egide_auditlog_append_event(log, &ev, NULL), EGIDE_OK);
    egide_auditverify_report_t rep;
    CHECK_RC(egide_auditlog_verify_all(log, NULL, NULL, true, &rep), EGIDE_ERR_CONSISTENCY);
    CHECK(rep.bad_index == 6 && strstr(rep.problem, "entry 0") != NULL);
    /* Raw leaves fail events mode, pass the tree-only mode. */
    egide_auditlog_destroy(&log);
    egide_db_close(&db);
    db = s_newdb(path, sizeof path);
    REQUIRE(egide_auditlog_open(db, &log) == EGIDE_OK);
    CHECK_RC(egide_auditlog_append(log, (const uint8_t *)"abc", 3, NULL), EGIDE_OK);
    CHECK_RC(egide_auditlog_verify_all(log, NULL, NULL, false, &rep), EGIDE_OK);
    CHECK(rep.ok && rep.size == 1);
    CHECK_RC(egide_auditlog_verify_all(log, NULL, NULL, true, &rep), EGIDE_ERR_CONSISTENCY);
    CHECK(rep.bad_index == 0);
    egide_auditlog_destroy(&log);
    egide_db_close(&db);
}

/* Without stored hashes (an export), a changed entry shows only against the
 * signed checkpoints: the range since the last good one is named. */
static void test_stream_ranges(void)
{
    egide_merkle_mem_t *mem = egide_merkle_mem_new();
    uint8_t *leaves[30];
    size_t lens[30];
    for (int i = 0; i < 30; i++) {
        Egide__V1__AuditEvent ev;
        uint8_t id[16], env[32];
        s_event(&ev, i, id, env);
        egide_wire_pack(EGIDE_WIRE_AUDIT_EVENT, &ev, &leaves[i], &lens[i]);
        egide_merkle_mem_append(mem, leaves[i], lens[i]);
    }
    char *notes[3];
    for (int k = 0; k < 3; k++) {
        egide_checkpoint_t cp;
        memset(&cp, 0, sizeof cp);
        egide_strlcpy(cp.origin, ORIGIN, sizeof cp.origin);
        cp.size = (uint64_t)(k + 1) * 10;
        egide_merkle_tree_hash(egide_merkle_mem_reader, mem, cp.size, cp.root);
        egide_checkpoint_sign(&cp, ORIGIN, s_key, &notes[k]);
    }
    for (int variant = 0; variant < 4; variant++) {
        egide_auditverify_t *v = egide_auditverify_new(NULL, s_key, ORIGIN, true);
        REQUIRE(v != NULL);
        for (int k = 2; k >= 0; k--) /* any order */
            CHECK_RC(egide_auditverify_add_checkpoint(v, notes[k], strlen(notes[k])), EGIDE_OK);
        for (int i = 0; i < 30; i++) {
            uint8_t lh[32];
            egide_merkle_leaf_hash(leaves[i], lens[i], lh);
            if (variant == 1 && i == 14) {
                /* Other valid event in place of 14. */
                Egide__V1__AuditEvent ev;
                uint8_t id[16], env[32];
                s_event(&ev, 15, id, env);
                uint8_t *b = NULL;
                size_t l = 0;
                egide_wire_pack(EGIDE_WIRE_AUDIT_EVENT, &ev, &b, &l);
                egide_auditverify_add_leaf(v, 14, b, l, NULL);
                free(b);
            } else if (variant == 2 && i == 14) {
                /* The recorded leaf hash gives the exact index. */
                egide_auditverify_add_leaf(v, 14, leaves[15], lens[15], lh);
            } else if (variant == 3 && i >= 25) {
                break; /* truncated export */
            } else {
                egide_auditverify_add_leaf(v, (uint64_t)i, leaves[i], lens[i], lh);
            }
        }
        egide_auditverify_report_t rep;
        egide_rc rc = egide_auditverify_finish(v, &rep);
        if (variant == 0) {
            CHECK_RC(rc, EGIDE_OK);
            CHECK(rep.ok && rep.size == 30 && rep.checkpoints == 3 && rep.messages == 10);
            CHECK_RC(egide_auditverify_add_checkpoint(v, notes[0], strlen(notes[0])),
                     EGIDE_ERR_STATE);
        } else {
            CHECK_RC(rc, EGIDE_ERR_CONSISTENCY);
            if (variant == 1)
                CHECK(rep.bad_index == 10 && rep.bad_end == 20);
            if (variant == 2)
                CHECK(rep.bad_index == 14 && strstr(rep.problem, "recorded leaf hash"));
            if (variant == 3)
                CHECK(rep.bad_index == 25 && strstr(rep.problem, "removed"));
        }
        egide_auditverify_destroy(&v);
    }
    /* A checkpoint under another origin, or malformed. */
    egide_auditverify_t *v = egide_auditverify_new(NULL, NULL, "egide.other/audit", false);
    CHECK_RC(egide_auditverify_add_checkpoint(v, notes[0], strlen(notes[0])),
             EGIDE_ERR_CONSISTENCY);
    egide_auditverify_destroy(&v);
    v = egide_auditverify_new(NULL, NULL, NULL, false);
    CHECK_RC(egide_auditverify_add_checkpoint(v, "junk", 4), EGIDE_ERR_CONSISTENCY);
    CHECK_RC(egide_auditverify_add_leaf(v, 0, leaves[0], lens[0], NULL), EGIDE_ERR_CONSISTENCY);
    egide_auditverify_destroy(&v);
    egide_auditverify_destroy(&v);
    for (int i = 0; i < 30; i++)
        free(leaves[i]);
    for (int k = 0; k < 3; k++)
        free(notes[k]);
    egide_merkle_mem_destroy(&mem);
}

int main(void)
{
    snprintf(s_tmp, sizeof s_tmp, "/tmp/egide-auditlog-XXXXXX");
    if (!mkdtemp(s_tmp))
        return 1;
    s_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    s_other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    RUN(test_positions);
    RUN(test_append_and_proofs);
    RUN(test_transactions_and_triggers);
    RUN(test_checkpoints);
    RUN(test_tamper);
    RUN(test_tamper_each_entry);
    RUN(test_unanchored);
    RUN(test_envelope_conflict);
    RUN(test_stream_ranges);
    EVP_PKEY_free(s_key);
    EVP_PKEY_free(s_other);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", s_tmp);
    EGIDE_TEST_DONE();
}
