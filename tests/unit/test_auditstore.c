/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_auditstore.c - the conformance test of egide_auditstore_ops_t: every
 * operation's contract checked through the function table only, so that it
 * runs unchanged against each backend listed in s_backends[] (SQLite, and
 * PostgreSQL on the server of pg_fixture.h: EGIDE_TEST_PG or a temporary
 * cluster this test starts).  It checks an empty store, appends read back
 * (leaves, hash runs, the msg_id index, sizes and counts, the scan order),
 * missing entries, bad arguments, conflicts, the atomicity of an append that
 * fails half-way (an existing row, and an injected I/O error at each of its
 * writes), units of work rolled back and released, checkpoints, and that the
 * store itself refuses to change, delete or replace a stored row.  Then the
 * audit log (egide_auditlog_open_store) on each backend, and last the
 * SQLite backend's own migrations and read-only opening, and PostgreSQL's
 * single writer: two connections appending at once end with a gap-free,
 * duplicate-free index sequence and a verifiable tree.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "egide/audit/egide_auditlog.h"
#include "egide/audit/egide_merkle.h"
#include "egide/base/egide_rc.h"
#include "egide/store/egide_auditstore.h"
#include "egide/store/egide_auditstore_pg.h"
#include "egide/store/egide_auditstore_sqlite.h"
#include "egide/store/egide_db.h"
#include "egide/store/egide_pg.h"
#include "egide_test.h"
#include "pg_fixture.h"

static char s_tmp[256];
static int s_dbn;

/* ------------------------------------------------------------ backends */

/* A backend under test: a fresh empty store per test. */
typedef struct s_backend {
    const char *name;                  /* for the log */
    const egide_auditstore_ops_t *ops; /* its functions */
    egide_rc (*open)(void **be, void **env);
    void (*close)(void *env); /* after ops->destroy(be) */
} s_backend_t;

static egide_rc s_sqlite_open(void **be, void **env)
{
    char path[512];
    snprintf(path, sizeof path, "%s/store%d.sqlite", s_tmp, s_dbn++);
    sqlite3 *db = NULL;
    egide_rc rc = egide_db_open(path, false, &db);
    egide_auditstore_sqlite_t *s = NULL;
    if (rc == EGIDE_OK)
        rc = egide_auditstore_sqlite_new(db, &s);
    if (rc != EGIDE_OK) {
        egide_db_close(&db);
        return rc;
    }
    *be = s;
    *env = db;
    return EGIDE_OK;
}

static void s_sqlite_close(void *env)
{
    sqlite3 *db = env;
    egide_db_close(&db);
}

/* PostgreSQL: a fresh database per store, a writer connection. */
static egide_rc s_pg_open(void **be, void **env)
{
    char loc[512];
    if (pg_fixture_db(loc, sizeof loc) != 0)
        return EGIDE_ERR_DB;
    egide_pg_t *pg = NULL;
    egide_rc rc = egide_pg_open(loc, false, &pg);
    egide_auditstore_pg_t *s = NULL;
    if (rc == EGIDE_OK)
        rc = egide_auditstore_pg_new(pg, &s);
    if (rc != EGIDE_OK) {
        egide_pg_close(&pg);
        return rc;
    }
    *be = s;
    *env = pg;
    return EGIDE_OK;
}

static void s_pg_close(void *env)
{
    egide_pg_t *pg = env;
    egide_pg_close(&pg);
}

static const s_backend_t s_backends[] = {
    {"sqlite", &egide_auditstore_sqlite_ops, s_sqlite_open, s_sqlite_close},
    {"postgresql", &egide_auditstore_pg_ops, s_pg_open, s_pg_close},
};

static const s_backend_t *s_b;          /* the backend the tests run on */
static const egide_auditstore_ops_t *o; /* s_b->ops */
static void *s_env;

static void *s_open(void)
{
    void *be = NULL;
    s_env = NULL;
    if (s_b->open(&be, &s_env) != EGIDE_OK)
        return NULL;
    return be;
}

static void s_close(void *be)
{
    o->destroy(be);
    s_b->close(s_env);
}

/* ------------------------------------------------------------ helpers */

static void s_hash(uint8_t h[32], uint64_t pos)
{
    memset(h, 0x5A, 32);
    memcpy(h, &pos, sizeof pos);
}

static void s_msg(uint8_t id[16], int m)
{
    memset(id, 0, 16);
    id[0] = (uint8_t)m;
    id[15] = 0xEE;
}

/* Append leaf `index` ("leaf-<index>") with nh hashes from first_pos and
 * the msg_id of message m (none when m < 0). */
static egide_rc s_put(void *be, uint64_t index, uint64_t first_pos, size_t nh, int m)
{
    char leaf[32];
    int len = snprintf(leaf, sizeof leaf, "leaf-%llu", (unsigned long long)index);
    uint8_t h[8][32], id[16];
    for (size_t k = 0; k < nh && k < 8; k++)
        s_hash(h[k], first_pos + k);
    s_msg(id, m);
    return o->append(be, index, (const uint8_t *)leaf, (size_t)len, m >= 0 ? id : NULL, first_pos,
                     (const uint8_t(*)[32])h, nh);
}

static int s_counts_are(void *be, uint64_t leaves, uint64_t hashes, uint64_t msgs, uint64_t cps)
{
    egide_auditstore_counts_t c;
    memset(&c, 0xFF, sizeof c);
    if (o->counts(be, &c) != EGIDE_OK)
        return 0;
    return c.leaves == leaves && c.hashes == hashes && c.msg_entries == msgs &&
           c.checkpoints == cps;
}

static uint64_t s_size(void *be)
{
    uint64_t n = UINT64_MAX;
    return o->size(be, &n) == EGIDE_OK ? n : UINT64_MAX;
}

/* scan_leaves' callback: records the indexes and checks the bytes. */
typedef struct s_scan {
    uint64_t idx[16];
    size_t n;
    int bad_bytes;
    size_t stop_after; /* return EGIDE_ERR_STATE after this many, 0 = never */
} s_scan_t;

static egide_rc s_on_leaf(void *ctx, uint64_t index, const uint8_t *leaf, size_t len)
{
    s_scan_t *s = ctx;
    char want[32];
    int wl = snprintf(want, sizeof want, "leaf-%llu", (unsigned long long)index);
    s->bad_bytes += len != (size_t)wl || memcmp(leaf, want, len) != 0;
    if (s->n < 16)
        s->idx[s->n] = index;
    s->n++;
    return s->stop_after && s->n >= s->stop_after ? EGIDE_ERR_STATE : EGIDE_OK;
}

/* ------------------------------------------------------------ conformance */

static void test_empty(void)
{
    void *be = s_open();
    REQUIRE(be != NULL);
    CHECK(o->name && o->name[0]);
    CHECK(s_size(be) == 0);
    CHECK(s_counts_are(be, 0, 0, 0, 0));
    uint8_t h[32], id[16], run[4][32];
    CHECK_RC(o->hash(be, 0, h), EGIDE_ERR_NOTFOUND);
    size_t n = 99;
    CHECK_RC(o->hash_run(be, 0, 4, run, &n), EGIDE_OK);
    CHECK(n == 0);
    uint8_t *leaf = (uint8_t *)"x";
    size_t len = 7;
    CHECK_RC(o->leaf(be, 0, &leaf, &len), EGIDE_ERR_NOTFOUND);
    CHECK(leaf == NULL && len == 0);
    s_msg(id, 1);
    uint64_t idx[4];
    n = 99;
    CHECK_RC(o->find_msg(be, id, idx, 4, &n), EGIDE_OK);
    CHECK(n == 0);
    CHECK_RC(o->msg_has(be, id, 0), EGIDE_ERR_NOTFOUND);
    char *note = (char *)"x";
    uint64_t size = 7;
    CHECK_RC(o->checkpoint(be, EGIDE_AUDITSTORE_CP_LATEST, 0, &size, &note), EGIDE_ERR_NOTFOUND);
    CHECK(note == NULL);
    CHECK_RC(o->checkpoint(be, EGIDE_AUDITSTORE_CP_AT, 0, NULL, &note), EGIDE_ERR_NOTFOUND);
    CHECK_RC(o->checkpoint(be, EGIDE_AUDITSTORE_CP_NEXT, 0, NULL, &note), EGIDE_ERR_NOTFOUND);
    s_scan_t sc = {0};
    CHECK_RC(o->scan_leaves(be, s_on_leaf, &sc), EGIDE_OK);
    CHECK(sc.n == 0);
    s_close(be);
}

static void test_append_read_back(void)
{
    void *be = s_open();
    REQUIRE(be != NULL);
    /* The tlog layout of three leaves: 0 -> pos 0; 1 -> pos 1, 2; 2 -> 3. */
    CHECK_RC(s_put(be, 0, 0, 1, 1), EGIDE_OK);
    CHECK_RC(s_put(be, 1, 1, 2, 1), EGIDE_OK);
    CHECK_RC(s_put(be, 2, 3, 1, 2), EGIDE_OK);
    CHECK(s_size(be) == 3);
    CHECK(s_counts_are(be, 3, 4, 3, 0));
    /* Leaves are copies, the caller's to free. */
    for (uint64_t i = 0; i < 3; i++) {
        uint8_t *leaf = NULL;
        size_t len = 0;
        char want[32];
        int wl = snprintf(want, sizeof want, "leaf-%llu", (unsigned long long)i);
        CHECK_RC(o->leaf(be, i, &leaf, &len), EGIDE_OK);
        CHECK(leaf && len == (size_t)wl && memcmp(leaf, want, len) == 0);
        free(leaf);
    }
    uint8_t *leaf = NULL;
    size_t len = 0;
    CHECK_RC(o->leaf(be, 3, &leaf, &len), EGIDE_ERR_NOTFOUND);
    /* Hashes, one at a time and as runs. */
    uint8_t h[32], want[32], run[8][32];
    for (uint64_t p = 0; p < 4; p++) {
        s_hash(want, p);
        CHECK_RC(o->hash(be, p, h), EGIDE_OK);
        CHECK(memcmp(h, want, 32) == 0);
    }
    CHECK_RC(o->hash(be, 4, h), EGIDE_ERR_NOTFOUND);
    size_t n = 0;
    CHECK_RC(o->hash_run(be, 0, 8, run, &n), EGIDE_OK);
    CHECK(n == 4);
    int bad = 0;
    for (size_t k = 0; k < n; k++) {
        s_hash(want, k);
        bad += memcmp(run[k], want, 32) != 0;
    }
    CHECK(bad == 0);
    CHECK_RC(o->hash_run(be, 2, 1, run, &n), EGIDE_OK);
    s_hash(want, 2);
    CHECK(n == 1 && memcmp(run[0], want, 32) == 0);
    CHECK_RC(o->hash_run(be, 4, 8, run, &n), EGIDE_OK);
    CHECK(n == 0);
    CHECK_RC(o->hash_run(be, 0, 0, NULL, &n), EGIDE_OK);
    CHECK(n == 0);
    /* The msg_id index: ascending, bounded by max. */
    uint8_t id[16];
    uint64_t idx[4] = {9, 9, 9, 9};
    s_msg(id, 1);
    CHECK_RC(o->find_msg(be, id, idx, 4, &n), EGIDE_OK);
    CHECK(n == 2 && idx[0] == 0 && idx[1] == 1);
    CHECK_RC(o->find_msg(be, id, idx, 1, &n), EGIDE_OK);
    CHECK(n == 1 && idx[0] == 0);
    CHECK_RC(o->msg_has(be, id, 1), EGIDE_OK);
    CHECK_RC(o->msg_has(be, id, 2), EGIDE_ERR_NOTFOUND);
    s_msg(id, 2);
    CHECK_RC(o->msg_has(be, id, 2), EGIDE_OK);
    s_msg(id, 3);
    CHECK_RC(o->find_msg(be, id, idx, 4, &n), EGIDE_OK);
    CHECK(n == 0);
    /* A leaf without a msg_id is not indexed. */
    CHECK_RC(s_put(be, 3, 4, 3, -1), EGIDE_OK);
    CHECK(s_counts_are(be, 4, 7, 3, 0));
    /* Scan: every leaf, ascending, bytes intact; a callback's code stops it. */
    s_scan_t sc = {0};
    CHECK_RC(o->scan_leaves(be, s_on_leaf, &sc), EGIDE_OK);
    CHECK(sc.n == 4 && sc.bad_bytes == 0);
    CHECK(sc.idx[0] == 0 && sc.idx[1] == 1 && sc.idx[2] == 2 && sc.idx[3] == 3);
    s_scan_t stop = {.stop_after = 2};
    CHECK_RC(o->scan_leaves(be, s_on_leaf, &stop), EGIDE_ERR_STATE);
    CHECK(stop.n == 2);
    /* ... and the scan is reusable afterwards. */
    s_scan_t again = {0};
    CHECK_RC(o->scan_leaves(be, s_on_leaf, &again), EGIDE_OK);
    CHECK(again.n == 4);
    /* Sizes follow the largest index, even with a gap. */
    CHECK_RC(s_put(be, 9, 40, 1, -1), EGIDE_OK);
    CHECK(s_size(be) == 10);
    CHECK_RC(o->leaf(be, 5, &leaf, &len), EGIDE_ERR_NOTFOUND);
    s_close(be);
}

static void test_bad_arguments(void)
{
    void *be = s_open();
    REQUIRE(be != NULL);
    uint8_t h[2][32] = {{0}}, id[16] = {0};
    uint8_t *big = calloc(1, EGIDE_AUDITSTORE_MAX_LEAF + 1);
    REQUIRE(big != NULL);
    const uint8_t *leaf = (const uint8_t *)"abc";
    CHECK_RC(o->append(be, 0, NULL, 3, NULL, 0, (const uint8_t(*)[32])h, 1), EGIDE_ERR_INVALID);
    CHECK_RC(o->append(be, 0, leaf, 0, NULL, 0, (const uint8_t(*)[32])h, 1), EGIDE_ERR_INVALID);
    CHECK_RC(
        o->append(be, 0, big, EGIDE_AUDITSTORE_MAX_LEAF + 1, NULL, 0, (const uint8_t(*)[32])h, 1),
        EGIDE_ERR_INVALID);
    CHECK_RC(o->append(be, 0, leaf, 3, NULL, 0, NULL, 1), EGIDE_ERR_INVALID);
    CHECK_RC(o->append(be, 0, leaf, 3, NULL, 0, (const uint8_t(*)[32])h, 0), EGIDE_ERR_INVALID);
    CHECK_RC(o->append(be, 0, leaf, 3, NULL, 0, (const uint8_t(*)[32])h,
                       EGIDE_AUDITSTORE_MAX_HASHES + 1),
             EGIDE_ERR_INVALID);
    CHECK_RC(o->append(be, (uint64_t)INT64_MAX + 1, leaf, 3, NULL, 0, (const uint8_t(*)[32])h, 1),
             EGIDE_ERR_INVALID);
    CHECK_RC(o->append(be, 0, leaf, 3, NULL, (uint64_t)INT64_MAX, (const uint8_t(*)[32])h, 2),
             EGIDE_ERR_INVALID);
    /* The largest leaf is accepted. */
    CHECK_RC(o->append(be, 0, big, EGIDE_AUDITSTORE_MAX_LEAF, NULL, 0, (const uint8_t(*)[32])h, 1),
             EGIDE_OK);
    CHECK(s_counts_are(be, 1, 1, 0, 0));
    free(big);
    uint8_t out[32], run[2][32];
    size_t n = 0;
    CHECK_RC(o->hash(be, (uint64_t)INT64_MAX + 1, out), EGIDE_ERR_INVALID);
    CHECK_RC(o->hash(be, 0, NULL), EGIDE_ERR_INVALID);
    CHECK_RC(o->hash_run(be, 0, 2, NULL, &n), EGIDE_ERR_INVALID);
    CHECK_RC(o->hash_run(be, 0, 2, run, NULL), EGIDE_ERR_INVALID);
    uint8_t *l = NULL;
    size_t len = 0;
    CHECK_RC(o->leaf(be, 0, NULL, &len), EGIDE_ERR_INVALID);
    CHECK_RC(o->leaf(be, 0, &l, NULL), EGIDE_ERR_INVALID);
    CHECK_RC(o->leaf(be, (uint64_t)INT64_MAX + 1, &l, &len), EGIDE_ERR_INVALID);
    CHECK_RC(o->scan_leaves(be, NULL, NULL), EGIDE_ERR_INVALID);
    uint64_t idx[2];
    CHECK_RC(o->find_msg(be, NULL, idx, 2, &n), EGIDE_ERR_INVALID);
    CHECK_RC(o->find_msg(be, id, NULL, 2, &n), EGIDE_ERR_INVALID);
    CHECK_RC(o->find_msg(be, id, idx, 2, NULL), EGIDE_ERR_INVALID);
    CHECK_RC(o->msg_has(be, NULL, 0), EGIDE_ERR_INVALID);
    CHECK_RC(o->counts(be, NULL), EGIDE_ERR_INVALID);
    CHECK_RC(o->size(be, NULL), EGIDE_ERR_INVALID);
    char note[EGIDE_AUDITSTORE_MAX_NOTE + 2];
    memset(note, 'n', sizeof note - 1);
    note[sizeof note - 1] = '\0';
    CHECK_RC(o->put_checkpoint(be, 1, NULL), EGIDE_ERR_INVALID);
    CHECK_RC(o->put_checkpoint(be, 1, ""), EGIDE_ERR_INVALID);
    CHECK_RC(o->put_checkpoint(be, 1, note), EGIDE_ERR_INVALID); /* one byte too long */
    CHECK_RC(o->put_checkpoint(be, (uint64_t)INT64_MAX + 1, "n"), EGIDE_ERR_INVALID);
    char *got = NULL;
    CHECK_RC(o->checkpoint(be, (egide_auditstore_cp_query_t)7, 0, NULL, &got), EGIDE_ERR_INVALID);
    CHECK_RC(o->probe_immutable ? o->probe_immutable(be, EGIDE_AUDITSTORE_KIND__COUNT, 0)
                                : EGIDE_ERR_INVALID,
             EGIDE_ERR_INVALID);
    /* Nothing was written by the refused calls. */
    CHECK(s_counts_are(be, 1, 1, 0, 0));
    s_close(be);
}

/* An append whose rows collide with stored ones is refused whole, even when
 * the collision is met after its first writes. */
static void test_conflicts_are_atomic(void)
{
    void *be = s_open();
    REQUIRE(be != NULL);
    CHECK_RC(s_put(be, 0, 0, 1, 1), EGIDE_OK);
    CHECK_RC(s_put(be, 1, 1, 2, 1), EGIDE_OK);
    CHECK_RC(s_put(be, 2, 3, 1, 2), EGIDE_OK);
    CHECK_RC(s_put(be, 5, 20, 1, -1), EGIDE_OK);
    CHECK(s_counts_are(be, 4, 5, 3, 0));
    /* The same index again (with free hash positions). */
    CHECK_RC(s_put(be, 1, 10, 1, -1), EGIDE_ERR_EXISTS);
    uint8_t h[32];
    CHECK_RC(o->hash(be, 10, h), EGIDE_ERR_NOTFOUND);
    /* A new index whose third hash lands on a stored position: the leaf and
     * two hashes were written before the conflict, and are gone. */
    CHECK_RC(s_put(be, 3, 18, 3, 3), EGIDE_ERR_EXISTS);
    uint8_t *leaf = NULL;
    size_t len = 0;
    CHECK_RC(o->leaf(be, 3, &leaf, &len), EGIDE_ERR_NOTFOUND);
    CHECK_RC(o->hash(be, 18, h), EGIDE_ERR_NOTFOUND);
    CHECK_RC(o->hash(be, 19, h), EGIDE_ERR_NOTFOUND);
    uint8_t id[16];
    s_msg(id, 3);
    CHECK_RC(o->msg_has(be, id, 3), EGIDE_ERR_NOTFOUND);
    CHECK(s_counts_are(be, 4, 5, 3, 0));
    /* The stored row it collided with is intact, and the store still works. */
    uint8_t want[32];
    s_hash(want, 20);
    CHECK_RC(o->hash(be, 20, h), EGIDE_OK);
    CHECK(memcmp(h, want, 32) == 0);
    CHECK_RC(s_put(be, 3, 4, 2, 3), EGIDE_OK);
    CHECK(s_counts_are(be, 5, 7, 4, 0));
    /* A checkpoint of a stored size. */
    CHECK_RC(o->put_checkpoint(be, 4, "first"), EGIDE_OK);
    CHECK_RC(o->put_checkpoint(be, 4, "second"), EGIDE_ERR_EXISTS);
    char *note = NULL;
    CHECK_RC(o->checkpoint(be, EGIDE_AUDITSTORE_CP_AT, 4, NULL, &note), EGIDE_OK);
    CHECK_STREQ(note, "first");
    free(note);
    s_close(be);
}

/* An I/O error injected at each write of an append in turn (the leaf, each
 * hash, the msg pair): nothing of that append remains; the next one works. */
static void test_injected_faults(void)
{
    if (!o->inject_fault) {
        fprintf(stderr, "  %s has no fault injection: skipped\n", s_b->name);
        return;
    }
    void *be = s_open();
    REQUIRE(be != NULL);
    CHECK_RC(s_put(be, 0, 0, 1, 1), EGIDE_OK);
    /* Leaf 1: its leaf, 2 hashes and a msg pair = 4 writes. */
    for (unsigned nth = 1; nth <= 4; nth++) {
        o->inject_fault(be, nth);
        CHECK_RC(s_put(be, 1, 1, 2, 1), EGIDE_ERR_IO);
        CHECK(s_size(be) == 1);
        CHECK(s_counts_are(be, 1, 1, 1, 0));
    }
    /* One shot: the next append goes through without disarming. */
    CHECK_RC(s_put(be, 1, 1, 2, 1), EGIDE_OK);
    CHECK(s_counts_are(be, 2, 3, 2, 0));
    /* Armed beyond the append's writes, then disarmed: never fires. */
    o->inject_fault(be, 9);
    CHECK_RC(s_put(be, 2, 3, 1, -1), EGIDE_OK);
    o->inject_fault(be, 0);
    CHECK_RC(s_put(be, 3, 4, 3, -1), EGIDE_OK);
    CHECK_RC(s_put(be, 4, 7, 1, -1), EGIDE_OK);
    CHECK(s_counts_are(be, 5, 8, 2, 0));
    /* A checkpoint write. */
    o->inject_fault(be, 1);
    CHECK_RC(o->put_checkpoint(be, 5, "note"), EGIDE_ERR_IO);
    char *note = NULL;
    CHECK_RC(o->checkpoint(be, EGIDE_AUDITSTORE_CP_LATEST, 0, NULL, &note), EGIDE_ERR_NOTFOUND);
    CHECK_RC(o->put_checkpoint(be, 5, "note"), EGIDE_OK);
    /* Inside a unit of work, a failed append leaves the earlier one. */
    CHECK_RC(o->begin(be), EGIDE_OK);
    CHECK_RC(s_put(be, 5, 8, 1, 5), EGIDE_OK);
    o->inject_fault(be, 2);
    CHECK_RC(s_put(be, 6, 9, 2, 6), EGIDE_ERR_IO);
    CHECK_RC(o->release(be), EGIDE_OK);
    CHECK(s_size(be) == 6);
    CHECK(s_counts_are(be, 6, 9, 3, 1));
    s_close(be);
}

/* begin/rollback undoes every write since begin; begin/release keeps them. */
static void test_units_of_work(void)
{
    void *be = s_open();
    REQUIRE(be != NULL);
    CHECK_RC(o->begin(be), EGIDE_OK);
    CHECK_RC(s_put(be, 0, 0, 1, 1), EGIDE_OK);
    CHECK(s_size(be) == 1); /* visible inside the unit */
    o->rollback(be);
    CHECK(s_size(be) == 0);
    CHECK(s_counts_are(be, 0, 0, 0, 0));
    CHECK_RC(o->begin(be), EGIDE_OK);
    CHECK_RC(s_put(be, 0, 0, 1, 1), EGIDE_OK);
    CHECK_RC(o->release(be), EGIDE_OK);
    CHECK_RC(o->begin(be), EGIDE_OK);
    CHECK_RC(s_put(be, 1, 1, 2, 1), EGIDE_OK);
    CHECK_RC(o->put_checkpoint(be, 2, "two"), EGIDE_OK);
    o->rollback(be);
    CHECK(s_size(be) == 1);
    CHECK(s_counts_are(be, 1, 1, 1, 0));
    uint8_t *leaf = NULL;
    size_t len = 0;
    CHECK_RC(o->leaf(be, 0, &leaf, &len), EGIDE_OK);
    CHECK(len == 6 && leaf && memcmp(leaf, "leaf-0", 6) == 0);
    free(leaf);
    s_close(be);
}

static void test_checkpoints(void)
{
    void *be = s_open();
    REQUIRE(be != NULL);
    CHECK_RC(o->put_checkpoint(be, 0, "note-0"), EGIDE_OK);
    CHECK_RC(o->put_checkpoint(be, 20, "note-20"), EGIDE_OK);
    CHECK_RC(o->put_checkpoint(be, 10, "note-10"), EGIDE_OK); /* any order */
    CHECK(s_counts_are(be, 0, 0, 0, 3));
    static const struct {
        egide_auditstore_cp_query_t q;
        uint64_t arg;
        egide_rc rc;
        uint64_t size;
    } rows[] = {
        {EGIDE_AUDITSTORE_CP_AT, 10, EGIDE_OK, 10},
        {EGIDE_AUDITSTORE_CP_AT, 0, EGIDE_OK, 0},
        {EGIDE_AUDITSTORE_CP_AT, 11, EGIDE_ERR_NOTFOUND, 0},
        {EGIDE_AUDITSTORE_CP_LATEST, 0, EGIDE_OK, 20},
        {EGIDE_AUDITSTORE_CP_LATEST, 99, EGIDE_OK, 20}, /* arg unused */
        {EGIDE_AUDITSTORE_CP_NEXT, 0, EGIDE_OK, 0},
        {EGIDE_AUDITSTORE_CP_NEXT, 1, EGIDE_OK, 10},
        {EGIDE_AUDITSTORE_CP_NEXT, 10, EGIDE_OK, 10},
        {EGIDE_AUDITSTORE_CP_NEXT, 11, EGIDE_OK, 20},
        {EGIDE_AUDITSTORE_CP_NEXT, 21, EGIDE_ERR_NOTFOUND, 0},
        {EGIDE_AUDITSTORE_CP_NEXT, UINT64_MAX, EGIDE_ERR_NOTFOUND, 0},
        {EGIDE_AUDITSTORE_CP_AT, UINT64_MAX, EGIDE_ERR_NOTFOUND, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint64_t size = 777;
        char *note = NULL;
        CHECK_RC(o->checkpoint(be, rows[i].q, rows[i].arg, &size, &note), rows[i].rc);
        if (rows[i].rc != EGIDE_OK) {
            CHECK(note == NULL);
            continue;
        }
        char want[32];
        snprintf(want, sizeof want, "note-%llu", (unsigned long long)rows[i].size);
        CHECK(size == rows[i].size);
        CHECK_STREQ(note, want);
        free(note);
    }
    /* Either output may be NULL. */
    uint64_t size = 0;
    CHECK_RC(o->checkpoint(be, EGIDE_AUDITSTORE_CP_LATEST, 0, &size, NULL), EGIDE_OK);
    CHECK(size == 20);
    CHECK_RC(o->checkpoint(be, EGIDE_AUDITSTORE_CP_LATEST, 0, NULL, NULL), EGIDE_OK);
    /* The longest note comes back byte for byte (multi-line, UTF-8). */
    char *big = malloc(EGIDE_AUDITSTORE_MAX_NOTE + 1);
    REQUIRE(big != NULL);
    for (size_t i = 0; i < EGIDE_AUDITSTORE_MAX_NOTE; i++)
        big[i] = (char)(i % 61 == 60 ? '\n' : 'a' + (int)(i % 26));
    memcpy(big, "\xe2\x80\x94 ", 4); /* U+2014, as in a signature line */
    big[EGIDE_AUDITSTORE_MAX_NOTE] = '\0';
    CHECK_RC(o->put_checkpoint(be, 30, big), EGIDE_OK);
    char *note = NULL;
    CHECK_RC(o->checkpoint(be, EGIDE_AUDITSTORE_CP_AT, 30, NULL, &note), EGIDE_OK);
    CHECK(note && strlen(note) == EGIDE_AUDITSTORE_MAX_NOTE && strcmp(note, big) == 0);
    free(note);
    free(big);
    s_close(be);
}

/* The store itself, not only this interface, refuses to change stored rows. */
static void test_rows_are_immutable(void)
{
    if (!o->probe_immutable) {
        fprintf(stderr, "  %s has no immutability probe: skipped\n", s_b->name);
        return;
    }
    void *be = s_open();
    REQUIRE(be != NULL);
    CHECK_RC(s_put(be, 0, 0, 1, 1), EGIDE_OK);
    CHECK_RC(s_put(be, 1, 1, 2, 1), EGIDE_OK);
    CHECK_RC(o->put_checkpoint(be, 2, "note-2"), EGIDE_OK);
    static const struct {
        egide_auditstore_kind_t kind;
        uint64_t key;
    } rows[] = {
        {EGIDE_AUDITSTORE_LEAVES, 0},      {EGIDE_AUDITSTORE_LEAVES, 1},
        {EGIDE_AUDITSTORE_HASHES, 0},      {EGIDE_AUDITSTORE_HASHES, 2},
        {EGIDE_AUDITSTORE_CHECKPOINTS, 2}, {EGIDE_AUDITSTORE_MSG_INDEX, 1},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        CHECK_RC(o->probe_immutable(be, rows[i].kind, rows[i].key), EGIDE_ERR_PERM);
    CHECK_RC(o->probe_immutable(be, EGIDE_AUDITSTORE_LEAVES, 5), EGIDE_ERR_NOTFOUND);
    CHECK_RC(o->probe_immutable(be, EGIDE_AUDITSTORE_CHECKPOINTS, 3), EGIDE_ERR_NOTFOUND);
    /* Everything is as it was. */
    CHECK(s_counts_are(be, 2, 3, 2, 1));
    s_scan_t sc = {0};
    CHECK_RC(o->scan_leaves(be, s_on_leaf, &sc), EGIDE_OK);
    CHECK(sc.n == 2 && sc.bad_bytes == 0);
    uint8_t h[32], want[32];
    s_hash(want, 2);
    CHECK_RC(o->hash(be, 2, h), EGIDE_OK);
    CHECK(memcmp(h, want, 32) == 0);
    s_close(be);
}

/* ------------------------------------------------------------ the log on it */

/* egide_auditlog on the backend through egide_auditlog_open_store: appends,
 * root against an in-memory tree, verify_all, a failing write that leaves
 * the log whole, and the handle staying the caller's. */
static void test_log_on_store(void)
{
    void *be = s_open();
    REQUIRE(be != NULL);
    egide_auditlog_t *log = NULL;
    CHECK_RC(egide_auditlog_open_store(NULL, be, &log), EGIDE_ERR_INVALID);
    CHECK_RC(egide_auditlog_open_store(o, NULL, &log), EGIDE_ERR_INVALID);
    CHECK_RC(egide_auditlog_open_store(o, be, NULL), EGIDE_ERR_INVALID);
    egide_auditstore_ops_t partial = *o;
    partial.hash_run = NULL;
    CHECK_RC(egide_auditlog_open_store(&partial, be, &log), EGIDE_ERR_INVALID);
    CHECK(log == NULL);
    REQUIRE(egide_auditlog_open_store(o, be, &log) == EGIDE_OK);
    egide_merkle_mem_t *mem = egide_merkle_mem_new();
    REQUIRE(mem != NULL);
    int bad = 0;
    for (int i = 0; i < 37; i++) {
        char leaf[16];
        int len = snprintf(leaf, sizeof leaf, "event %d", i);
        uint64_t idx = 99;
        bad += egide_auditlog_append(log, (const uint8_t *)leaf, (size_t)len, &idx) != EGIDE_OK ||
               idx != (uint64_t)i;
        egide_merkle_mem_append(mem, (const uint8_t *)leaf, (size_t)len);
    }
    CHECK(bad == 0);
    /* The stored-hash layout: 2n - popcount(n) hashes for n leaves. */
    CHECK(s_counts_are(be, 37, egide_auditlog_hash_pos(0, 37), 0, 0));
    uint8_t root[32], want[32];
    CHECK_RC(egide_auditlog_root(log, 37, root), EGIDE_OK);
    egide_merkle_tree_hash(egide_merkle_mem_reader, mem, 37, want);
    CHECK(memcmp(root, want, 32) == 0);
    if (o->inject_fault) {
        /* Leaf 37 = 0b100101 writes its leaf and 2 hashes: fail the first hash. */
        o->inject_fault(be, 2);
        CHECK_RC(egide_auditlog_append(log, (const uint8_t *)"x", 1, NULL), EGIDE_ERR_DB);
        CHECK(egide_auditlog_size(log) == 37);
        CHECK(s_counts_are(be, 37, egide_auditlog_hash_pos(0, 37), 0, 0));
    }
    egide_auditverify_report_t rep;
    CHECK_RC(egide_auditlog_verify_all(log, NULL, NULL, false, &rep), EGIDE_OK);
    CHECK(rep.ok && rep.size == 37 && memcmp(rep.root, want, 32) == 0);
    egide_auditlog_destroy(&log);
    CHECK(log == NULL);
    CHECK(s_size(be) == 37); /* the backend is still the caller's */
    egide_merkle_mem_destroy(&mem);
    s_close(be);
}

/* ------------------------------------------------------------ SQLite only */

static int64_t s_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Migrations: idempotent, recorded, over the tables of before the versions,
 * refused when newer; read-only opening; bad arguments. */
static void test_sqlite_migrations(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/migrate.sqlite", s_tmp);
    sqlite3 *db = NULL;
    REQUIRE(egide_db_open(path, false, &db) == EGIDE_OK);
    /* The schema as egide_auditlog_open() made it before versions existed. */
    REQUIRE(sqlite3_exec(db,
                         "CREATE TABLE audit_leaves(idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL);"
                         "INSERT INTO audit_leaves VALUES(0, x'01');",
                         NULL, NULL, NULL) == SQLITE_OK);
    CHECK_RC(egide_auditstore_sqlite_migrate(db), EGIDE_OK);
    CHECK_RC(egide_auditstore_sqlite_migrate(db), EGIDE_OK);
    CHECK(s_int(db, "SELECT COUNT(*) FROM audit_migrations") == 1);
    CHECK(s_int(db, "SELECT MAX(version) FROM audit_migrations") == 1);
    CHECK(s_int(db, "SELECT COUNT(*) FROM audit_leaves") == 1);
    CHECK(s_int(db, "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'trigger'") == 15);
    CHECK(sqlite3_exec(db, "DELETE FROM audit_leaves", NULL, NULL, NULL) != SQLITE_OK);
    CHECK(sqlite3_exec(db, "UPDATE audit_migrations SET version = 0", NULL, NULL, NULL) !=
          SQLITE_OK);
    egide_auditstore_sqlite_t *s = NULL;
    CHECK_RC(egide_auditstore_sqlite_new(db, &s), EGIDE_OK);
    egide_auditstore_sqlite_destroy(&s);
    egide_auditstore_sqlite_destroy(&s);
    CHECK(s == NULL);
    /* Read-only: the tables exist here... */
    sqlite3 *ro = NULL;
    CHECK_RC(egide_db_open(path, true, &ro), EGIDE_OK);
    CHECK_RC(egide_auditstore_sqlite_new(ro, &s), EGIDE_OK);
    uint64_t n = 0;
    CHECK_RC(egide_auditstore_sqlite_ops.size(s, &n), EGIDE_OK);
    CHECK(n == 1);
    egide_auditstore_sqlite_destroy(&s);
    egide_db_close(&ro);
    /* ... a version from the future is refused. */
    CHECK(sqlite3_exec(db, "INSERT INTO audit_migrations(version) VALUES(99)", NULL, NULL, NULL) ==
          SQLITE_OK);
    CHECK_RC(egide_auditstore_sqlite_new(db, &s), EGIDE_ERR_VERSION);
    CHECK(s == NULL);
    egide_db_close(&db);
    /* Read-only without the tables. */
    snprintf(path, sizeof path, "%s/empty.sqlite", s_tmp);
    REQUIRE(egide_db_open(path, false, &db) == EGIDE_OK);
    egide_db_close(&db);
    CHECK_RC(egide_db_open(path, true, &ro), EGIDE_OK);
    CHECK_RC(egide_auditstore_sqlite_new(ro, &s), EGIDE_ERR_NOTFOUND);
    CHECK(s == NULL);
    egide_db_close(&ro);
    CHECK_RC(egide_auditstore_sqlite_new(NULL, &s), EGIDE_ERR_INVALID);
    CHECK_RC(egide_auditstore_sqlite_migrate(NULL), EGIDE_ERR_INVALID);
    egide_auditstore_sqlite_destroy(NULL);
}

/* ------------------------------------------------------------ PostgreSQL only */

#define S_PG_PER_WRITER 60 /* leaves each writer appends */

typedef struct s_writer {
    char conninfo[512];
    int id;                        /* 0 or 1 */
    int failures;                  /* appends that did not succeed */
    uint64_t idx[S_PG_PER_WRITER]; /* the index each append got */
} s_writer_t;

static void *s_writer_run(void *arg)
{
    s_writer_t *w = arg;
    egide_pg_t *pg = NULL;
    egide_auditstore_pg_t *be = NULL;
    egide_auditlog_t *log = NULL;
    if (egide_pg_open(w->conninfo, false, &pg) != EGIDE_OK ||
        egide_auditstore_pg_new(pg, &be) != EGIDE_OK ||
        egide_auditlog_open_store(&egide_auditstore_pg_ops, be, &log) != EGIDE_OK) {
        w->failures = S_PG_PER_WRITER;
    } else {
        for (int i = 0; i < S_PG_PER_WRITER; i++) {
            char leaf[32];
            int len = snprintf(leaf, sizeof leaf, "writer-%d-%d", w->id, i);
            w->failures += egide_auditlog_append(log, (const uint8_t *)leaf, (size_t)len,
                                                 &w->idx[i]) != EGIDE_OK;
        }
    }
    egide_auditlog_destroy(&log);
    egide_auditstore_pg_destroy(&be);
    egide_pg_close(&pg);
    return NULL;
}

/* Two connections append at once: each leaf index is the tree size read
 * under the audit_head row lock, so every append succeeds, no index is
 * given twice, none is skipped, each stored leaf is the one its writer was
 * told it got, and the tree verifies. */
static void test_pg_two_writers(void)
{
    static s_writer_t w[2];
    memset(w, 0, sizeof w);
    REQUIRE(pg_fixture_db(w[0].conninfo, sizeof w[0].conninfo) == 0);
    memcpy(w[1].conninfo, w[0].conninfo, sizeof w[1].conninfo);
    w[1].id = 1;
    /* Migrate first, so that the two start on a ready schema. */
    egide_pg_t *pg = NULL;
    REQUIRE(egide_pg_open(w[0].conninfo, false, &pg) == EGIDE_OK);
    egide_auditstore_pg_t *be = NULL;
    REQUIRE(egide_auditstore_pg_new(pg, &be) == EGIDE_OK);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        REQUIRE(pthread_create(&t[i], NULL, s_writer_run, &w[i]) == 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    CHECK(w[0].failures == 0 && w[1].failures == 0);
    enum { N = 2 * S_PG_PER_WRITER };
    int seen[N] = {0}, dup = 0, out_of_range = 0, wrong_leaf = 0;
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < S_PG_PER_WRITER; i++) {
            uint64_t x = w[k].idx[i];
            if (x >= N) {
                out_of_range++;
                continue;
            }
            dup += seen[x]++ > 0;
            char want[32];
            int wl = snprintf(want, sizeof want, "writer-%d-%d", k, i);
            uint8_t *leaf = NULL;
            size_t len = 0;
            wrong_leaf += egide_auditstore_pg_ops.leaf(be, x, &leaf, &len) != EGIDE_OK ||
                          len != (size_t)wl || memcmp(leaf, want, len) != 0;
            free(leaf);
        }
    CHECK(dup == 0 && out_of_range == 0 && wrong_leaf == 0);
    int missing = 0;
    for (int x = 0; x < N; x++)
        missing += seen[x] == 0;
    CHECK(missing == 0);
    /* Each writer's own indexes rise (it appended in order). */
    int unordered = 0;
    for (int k = 0; k < 2; k++)
        for (int i = 1; i < S_PG_PER_WRITER; i++)
            unordered += w[k].idx[i] <= w[k].idx[i - 1];
    CHECK(unordered == 0);
    egide_auditlog_t *log = NULL;
    REQUIRE(egide_auditlog_open_store(&egide_auditstore_pg_ops, be, &log) == EGIDE_OK);
    CHECK(egide_auditlog_size(log) == N);
    egide_auditverify_report_t rep;
    CHECK_RC(egide_auditlog_verify_all(log, NULL, NULL, false, &rep), EGIDE_OK);
    CHECK(rep.ok && rep.size == N);
    egide_auditlog_destroy(&log);
    egide_auditstore_pg_destroy(&be);
    egide_pg_close(&pg);
}

/* A writer holds the head lock until its commit; a reader reads the
 * committed size without waiting for it (it takes no lock) and refuses
 * nothing it may do; migrations are recorded and a newer schema refused. */
static void test_pg_reader_and_versions(void)
{
    char loc[512];
    REQUIRE(pg_fixture_db(loc, sizeof loc) == 0);
    egide_pg_t *pg = NULL, *ro = NULL;
    REQUIRE(egide_pg_open(loc, false, &pg) == EGIDE_OK);
    /* A reader on a database without the audit tables. */
    REQUIRE(egide_pg_open(loc, true, &ro) == EGIDE_OK);
    egide_auditstore_pg_t *rbe = NULL, *be = NULL;
    CHECK(egide_auditstore_pg_new(ro, &rbe) != EGIDE_OK);
    CHECK(rbe == NULL);
    egide_pg_close(&ro);
    REQUIRE(egide_auditstore_pg_new(pg, &be) == EGIDE_OK);
    CHECK_RC(egide_auditstore_pg_migrate(pg), EGIDE_OK); /* idempotent */
    int64_t v = -1;
    CHECK_RC(egide_pg_version(pg, "audit", &v), EGIDE_OK);
    CHECK(v == 1);
    REQUIRE(egide_pg_open(loc, true, &ro) == EGIDE_OK);
    REQUIRE(egide_auditstore_pg_new(ro, &rbe) == EGIDE_OK);
    CHECK_RC(egide_auditstore_pg_migrate(ro), EGIDE_ERR_INVALID);
    /* The writer's unit holds the lock... */
    const egide_auditstore_ops_t *po = &egide_auditstore_pg_ops;
    CHECK_RC(po->begin(be), EGIDE_OK);
    uint64_t n = 99;
    CHECK_RC(po->size(be, &n), EGIDE_OK);
    CHECK(n == 0);
    uint8_t h[1][32] = {{1}};
    CHECK_RC(po->append(be, 0, (const uint8_t *)"a", 1, NULL, 0, (const uint8_t(*)[32])h, 1),
             EGIDE_OK);
    /* ... the reader does not wait, and sees what is committed. */
    n = 99;
    CHECK_RC(po->size(rbe, &n), EGIDE_OK);
    CHECK(n == 0);
    CHECK_RC(po->release(be), EGIDE_OK);
    CHECK_RC(po->size(rbe, &n), EGIDE_OK);
    CHECK(n == 1);
    /* A read-only session cannot write, whatever it calls. */
    CHECK(po->append(rbe, 1, (const uint8_t *)"b", 1, NULL, 1, (const uint8_t(*)[32])h, 1) !=
          EGIDE_OK);
    CHECK_RC(po->size(be, &n), EGIDE_OK);
    CHECK(n == 1);
    egide_auditstore_pg_destroy(&rbe);
    egide_pg_close(&ro);
    /* A schema from the future. */
    CHECK_RC(egide_pg_exec(pg, "UPDATE schema_version SET version = 99 WHERE component = 'audit'"),
             EGIDE_OK);
    egide_auditstore_pg_t *again = NULL;
    CHECK_RC(egide_auditstore_pg_new(pg, &again), EGIDE_ERR_VERSION);
    CHECK(again == NULL);
    egide_auditstore_pg_destroy(&be);
    egide_auditstore_pg_destroy(&be); /* NULL-safe */
    egide_pg_close(&pg);
    CHECK_RC(egide_auditstore_pg_new(NULL, &be), EGIDE_ERR_INVALID);
    CHECK_RC(egide_auditstore_pg_migrate(NULL), EGIDE_ERR_INVALID);
}

static int s_stmts(sqlite3 *db)
{
    int n = 0;
    for (sqlite3_stmt *st = sqlite3_next_stmt(db, NULL); st && n < 10000;
         st = sqlite3_next_stmt(db, st))
        n++;
    return n;
}

/* A log opened again on the same connection (the edge's trail, once per
 * API batch) prepares nothing: its statements are the connection's cached
 * ones, kept after the log is closed, finalized with the connection.  Two
 * logs on one connection, used in turn, see each other's entries. */
static void test_sqlite_reopen(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/reopen.sqlite", s_tmp);
    sqlite3 *db = NULL;
    REQUIRE(egide_db_open(path, false, &db) == EGIDE_OK);
    egide_auditstore_sqlite_t *a = NULL, *b = NULL;
    REQUIRE(egide_auditstore_sqlite_new(db, &a) == EGIDE_OK);
    int first = s_stmts(db);
    CHECK(first >= 10);
    egide_auditstore_sqlite_destroy(&a);
    CHECK(s_stmts(db) == first); /* kept for the next one */
    for (int i = 0; i < 3; i++) {
        REQUIRE(egide_auditstore_sqlite_new(db, &a) == EGIDE_OK);
        CHECK(s_stmts(db) == first); /* nothing prepared again */
        egide_auditstore_sqlite_destroy(&a);
    }
    REQUIRE(egide_auditstore_sqlite_new(db, &a) == EGIDE_OK);
    REQUIRE(egide_auditstore_sqlite_new(db, &b) == EGIDE_OK);
    uint8_t leaf[] = "an invented entry";
    uint8_t h[1][EGIDE_AUDITSTORE_HASH_LEN] = {{7}};
    CHECK_RC(egide_auditstore_sqlite_ops.begin(a), EGIDE_OK);
    CHECK_RC(egide_auditstore_sqlite_ops.append(a, 0, leaf, sizeof leaf, NULL, 0,
                                                (const uint8_t(*)[32])h, 1),
             EGIDE_OK);
    CHECK_RC(egide_auditstore_sqlite_ops.release(a), EGIDE_OK);
    uint64_t n = 0;
    CHECK_RC(egide_auditstore_sqlite_ops.size(b, &n), EGIDE_OK);
    CHECK(n == 1);
    CHECK_RC(egide_auditstore_sqlite_ops.size(a, &n), EGIDE_OK);
    CHECK(n == 1);
    egide_auditstore_sqlite_destroy(&a);
    CHECK_RC(egide_auditstore_sqlite_ops.size(b, &n), EGIDE_OK); /* a's close left b's intact */
    CHECK(n == 1);
    egide_auditstore_sqlite_destroy(&b);
    egide_db_close(&db);
    CHECK(db == NULL);
}

int main(void)
{
    snprintf(s_tmp, sizeof s_tmp, "/tmp/egide-auditstore-XXXXXX");
    if (!mkdtemp(s_tmp))
        return 1;
    for (size_t i = 0; i < sizeof s_backends / sizeof s_backends[0]; i++) {
        s_b = &s_backends[i];
        o = s_b->ops;
        fprintf(stderr, "backend %s\n", s_b->name);
        if (o == &egide_auditstore_pg_ops) {
            int up = pg_fixture_start(s_tmp);
            CHECK(up >= 0); /* a required server that cannot start fails */
            if (up <= 0)
                continue;
        }
        RUN(test_empty);
        RUN(test_append_read_back);
        RUN(test_bad_arguments);
        RUN(test_conflicts_are_atomic);
        RUN(test_injected_faults);
        RUN(test_units_of_work);
        RUN(test_checkpoints);
        RUN(test_rows_are_immutable);
        RUN(test_log_on_store);
        if (o == &egide_auditstore_pg_ops) {
            RUN(test_pg_two_writers);
            RUN(test_pg_reader_and_versions);
        }
    }
    RUN(test_sqlite_migrations);
    RUN(test_sqlite_reopen);
    pg_fixture_drop_all();
    pg_fixture_stop();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", s_tmp);
    EGIDE_TEST_DONE();
}
