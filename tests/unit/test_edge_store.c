/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_edge_store.c - the edge store conformance test: every operation of
 * edge_store_ops_t (edge_store.h) checked against its contract - state
 * transitions and the changes they report, the three outcomes of an inbox
 * put, ordering, paging and limits, empty results, NOTFOUND, and bad
 * arguments - through the table only, so it runs unchanged against another
 * backend: set OPS below (or add a row to s_backends) and nothing else.
 * Each backend gets a fresh store in a mkdtemp directory.
 */
#include <stdint.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "edge_store.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_rc.h"
#include "egide_test.h"

static const edge_store_ops_t *const s_backends[] = {&edge_store_sqlite_ops};
static const edge_store_ops_t *OPS;
static char s_dir[256];
static int s_seq_file;

static void s_quiet(egide_log_level level, const char *line, void *arg)
{
    (void)level, (void)line, (void)arg;
}

/* A fresh store file for each test. */
static edge_store_t *s_open(void)
{
    char p[400];
    snprintf(p, sizeof p, "%s/edge-%d.db", s_dir, ++s_seq_file);
    edge_store_t *s = NULL;
    if (OPS->open(p, &s) != EGIDE_OK)
        return NULL;
    return s;
}

static void s_id(uint8_t id[16], int k)
{
    memset(id, 0, 16);
    id[0] = 0xA5;
    id[15] = (uint8_t)k;
    id[14] = (uint8_t)(k >> 8);
}

static void s_sha(uint8_t sha[32], int k)
{
    memset(sha, (uint8_t)k, 32);
}

/* Queue message k with the given urgency, recipients and expiry. */
static egide_rc s_add(edge_store_t *s, int k, int urgency, const char *const *to, size_t n,
                      int64_t expires_ms)
{
    uint8_t id[16], sha[32], env[24];
    s_id(id, k);
    s_sha(sha, k);
    memset(env, k, sizeof env);
    edge_outbox_msg_t m = {
        .msg_id = id,
        .seq = (uint64_t)k,
        .type = "ip.transmission",
        .urgency = urgency,
        .created_ms = 1000 + k,
        .expires_ms = expires_ms,
        .envelope = env,
        .envelope_len = sizeof env,
        .sha256 = sha,
        .rcpt_ids = to,
        .n_rcpt = n,
    };
    return OPS->outbox_add(s, &m);
}

static egide_rc s_inbox(edge_store_t *s, int k, int sha_k, int64_t received,
                        edge_inbox_put_result *res, uint8_t **stored, size_t *sl)
{
    uint8_t id[16], sha[32], irt[16];
    s_id(id, k);
    s_sha(sha, sha_k);
    s_id(irt, 900);
    char receipt[32];
    snprintf(receipt, sizeof receipt, "receipt-%d-%d", k, sha_k);
    static const uint8_t payload[] = "{\"child\":\"x\"}";
    edge_inbox_msg_t m = {
        .msg_id = id,
        .sha256 = sha,
        .sender_id = "71.police.macon",
        .type = "ip.transmission",
        .urgency = 1,
        .in_reply_to = k % 2 ? irt : NULL,
        .created_ms = 500,
        .received_ms = received,
        .content_type = "application/x-egide-ip",
        .payload = payload,
        .payload_len = sizeof payload - 1,
        .receipt = (const uint8_t *)receipt,
        .receipt_len = strlen(receipt),
    };
    return OPS->inbox_put(s, &m, res, stored, sl);
}

/* ------------------------------------------------------------ tests */

static void test_open_close(void)
{
    edge_store_t *s = NULL;
    CHECK_RC(OPS->open(NULL, &s), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->open("/tmp/x.db", NULL), EGIDE_ERR_INVALID);
    char bad[400];
    snprintf(bad, sizeof bad, "%s/no/such/dir/edge.db", s_dir);
    CHECK(OPS->open(bad, &s) != EGIDE_OK);
    CHECK(s == NULL);
    /* Reopening keeps the data (migrations are idempotent). */
    char p[400];
    snprintf(p, sizeof p, "%s/reopen.db", s_dir);
    REQUIRE(OPS->open(p, &s) == EGIDE_OK);
    CHECK(s->ops == OPS);
    CHECK_RC(OPS->meta_put(s, "k", "v", 1), EGIDE_OK);
    OPS->close(&s);
    CHECK(s == NULL);
    OPS->close(&s); /* idempotent */
    OPS->close(NULL);
    REQUIRE(OPS->open(p, &s) == EGIDE_OK);
    uint8_t *v = NULL;
    size_t n = 0;
    CHECK_RC(OPS->meta_get(s, "k", &v, &n), EGIDE_OK);
    CHECK(n == 1 && v && v[0] == 'v' && v[1] == 0);
    free(v);
    OPS->close(&s);
}

static void test_transactions(void)
{
    edge_store_t *s = s_open();
    REQUIRE(s);
    CHECK_RC(OPS->begin(NULL), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->commit(NULL), EGIDE_ERR_INVALID);
    OPS->rollback(NULL);
    CHECK_RC(OPS->commit(s), EGIDE_ERR_STATE); /* none open */
    OPS->rollback(s);                          /* harmless */
    CHECK_RC(OPS->begin(s), EGIDE_OK);
    CHECK_RC(OPS->begin(s), EGIDE_ERR_STATE);
    CHECK_RC(OPS->meta_put(s, "a", "1", 1), EGIDE_OK);
    OPS->rollback(s);
    uint8_t *v = NULL;
    size_t n = 0;
    CHECK_RC(OPS->meta_get(s, "a", &v, &n), EGIDE_ERR_NOTFOUND);
    CHECK(v == NULL && n == 0);
    CHECK_RC(OPS->begin(s), EGIDE_OK);
    CHECK_RC(OPS->meta_put(s, "a", "2", 1), EGIDE_OK);
    CHECK_RC(OPS->commit(s), EGIDE_OK);
    CHECK_RC(OPS->meta_get(s, "a", &v, &n), EGIDE_OK);
    CHECK(n == 1 && v && v[0] == '2');
    free(v);
    OPS->close(&s);
}

/* The writers of one process share a lock (edge_store_sqlite_share_writes):
 * held exactly while a handle has a write transaction open (taken at
 * begin, given back at commit, rollback, or close), so another handle's
 * begin waits for it and goes on once it is given back; a mark undone
 * takes back one request's writes alone, inside the transaction. */
typedef struct {
    edge_store_t *s;
    egide_rc begin_rc, commit_rc;
} s_writer_t;

static void *s_writer_main(void *arg)
{
    s_writer_t *w = arg;
    w->begin_rc = OPS->begin(w->s);
    if (w->begin_rc == EGIDE_OK) {
        (void)OPS->meta_put(w->s, "b", "1", 1);
        w->commit_rc = OPS->commit(w->s);
    }
    return NULL;
}

static void test_shared_writes(void)
{
    char p[400];
    snprintf(p, sizeof p, "%s/shared.db", s_dir);
    edge_store_t *a = NULL, *b = NULL;
    REQUIRE(OPS->open(p, &a) == EGIDE_OK && OPS->open(p, &b) == EGIDE_OK);
    pthread_mutex_t lock;
    pthread_mutex_init(&lock, NULL);
    edge_store_sqlite_share_writes(a, &lock);
    edge_store_sqlite_share_writes(b, &lock);
    CHECK(pthread_mutex_trylock(&lock) == 0); /* free: no transaction */
    pthread_mutex_unlock(&lock);
    CHECK_RC(OPS->begin(a), EGIDE_OK);
    CHECK(pthread_mutex_trylock(&lock) == EBUSY);
    CHECK_RC(OPS->meta_put(a, "a", "1", 1), EGIDE_OK);
    /* b's writer waits for a's commit, then writes. */
    s_writer_t w = {.s = b, .begin_rc = -1, .commit_rc = -1};
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, s_writer_main, &w) == 0);
    CHECK_RC(OPS->commit(a), EGIDE_OK);
    pthread_join(t, NULL);
    CHECK_RC(w.begin_rc, EGIDE_OK);
    CHECK_RC(w.commit_rc, EGIDE_OK);
    CHECK(pthread_mutex_trylock(&lock) == 0); /* given back by both */
    pthread_mutex_unlock(&lock);
    /* Rolled back: given back. */
    CHECK_RC(OPS->begin(a), EGIDE_OK);
    OPS->rollback(a);
    CHECK(pthread_mutex_trylock(&lock) == 0);
    pthread_mutex_unlock(&lock);
    /* A second begin refused (one open) keeps it; a commit with none open
     * does not give back what another handle holds. */
    CHECK_RC(OPS->begin(a), EGIDE_OK);
    CHECK_RC(OPS->begin(a), EGIDE_ERR_STATE);
    CHECK_RC(OPS->commit(b), EGIDE_ERR_STATE);
    OPS->rollback(b);
    CHECK(pthread_mutex_trylock(&lock) == EBUSY);
    /* Marks: one request's writes undone alone, the others kept. */
    CHECK_RC(OPS->mark(a), EGIDE_OK);
    CHECK_RC(OPS->meta_put(a, "kept", "1", 1), EGIDE_OK);
    CHECK_RC(OPS->unmark(a, false), EGIDE_OK);
    CHECK_RC(OPS->mark(a), EGIDE_OK);
    CHECK_RC(OPS->meta_put(a, "undone", "1", 1), EGIDE_OK);
    CHECK_RC(OPS->unmark(a, true), EGIDE_OK);
    CHECK_RC(OPS->commit(a), EGIDE_OK);
    uint8_t *v = NULL;
    size_t n = 0;
    CHECK_RC(OPS->meta_get(b, "kept", &v, &n), EGIDE_OK);
    free(v);
    v = NULL;
    CHECK_RC(OPS->meta_get(b, "undone", &v, &n), EGIDE_ERR_NOTFOUND);
    CHECK_RC(OPS->mark(a), EGIDE_ERR_STATE); /* no transaction */
    CHECK_RC(OPS->unmark(a, true), EGIDE_ERR_STATE);
    /* Closed with a transaction open: given back. */
    CHECK_RC(OPS->begin(b), EGIDE_OK);
    OPS->close(&b);
    CHECK(pthread_mutex_trylock(&lock) == 0);
    pthread_mutex_unlock(&lock);
    OPS->close(&a);
    pthread_mutex_destroy(&lock);
}

static void test_meta_and_seq(void)
{
    edge_store_t *s = s_open();
    REQUIRE(s);
    uint8_t *v = NULL;
    size_t n = 0;
    CHECK_RC(OPS->meta_get(NULL, "k", &v, &n), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->meta_get(s, NULL, &v, &n), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->meta_get(s, "k", NULL, &n), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->meta_put(s, NULL, "x", 1), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->meta_put(s, "k", NULL, 3), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->meta_get(s, "missing", &v, &n), EGIDE_ERR_NOTFOUND);
    CHECK_RC(OPS->meta_put(s, "empty", NULL, 0), EGIDE_OK);
    CHECK_RC(OPS->meta_get(s, "empty", &v, &n), EGIDE_OK);
    CHECK(n == 0 && v && v[0] == 0);
    free(v);
    const uint8_t bin[4] = {0, 1, 0, 2};
    CHECK_RC(OPS->meta_put(s, "bin", bin, 4), EGIDE_OK);
    CHECK_RC(OPS->meta_put(s, "bin", bin, 3), EGIDE_OK); /* replaced */
    CHECK_RC(OPS->meta_get(s, "bin", &v, &n), EGIDE_OK);
    CHECK(n == 3 && v && memcmp(v, bin, 3) == 0);
    free(v);

    uint64_t q = 0;
    CHECK_RC(OPS->next_seq(NULL, &q), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->next_seq(s, NULL), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->next_seq(s, &q), EGIDE_OK);
    CHECK(q == 1);
    CHECK_RC(OPS->next_seq(s, &q), EGIDE_OK);
    CHECK(q == 2);
    /* A rolled-back sequence number is given again. */
    CHECK_RC(OPS->begin(s), EGIDE_OK);
    CHECK_RC(OPS->next_seq(s, &q), EGIDE_OK);
    CHECK(q == 3);
    OPS->rollback(s);
    CHECK_RC(OPS->next_seq(s, &q), EGIDE_OK);
    CHECK(q == 3);
    OPS->close(&s);
}

static int s_collect(const edge_outbox_due_t *m, void *arg);

/* seq_raise: the counter moves up to the broker's last + 1, never down,
 * never reuses a number, and rolls back with the transaction. */
static void test_seq_raise(void)
{
    edge_store_t *s = s_open();
    REQUIRE(s);
    uint64_t b = 9, a = 9, q = 0;
    CHECK_RC(OPS->seq_raise(NULL, 5, &b, &a), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->seq_raise(s, (uint64_t)INT64_MAX, &b, &a), EGIDE_ERR_LIMIT);
    CHECK_RC(OPS->seq_raise(s, UINT64_MAX, NULL, NULL), EGIDE_ERR_LIMIT);
    /* a fresh store: 0 from the broker changes nothing */
    CHECK_RC(OPS->seq_raise(s, 0, &b, &a), EGIDE_OK);
    CHECK(b == 1 && a == 1);
    /* a fresh store (reinstalled) and a broker holding 7: resume at 8 */
    CHECK_RC(OPS->seq_raise(s, 7, &b, &a), EGIDE_OK);
    CHECK(b == 1 && a == 8);
    CHECK_RC(OPS->next_seq(s, &q), EGIDE_OK);
    CHECK(q == 8);
    /* lower or equal: never down, never a number given twice */
    CHECK_RC(OPS->seq_raise(s, 3, &b, &a), EGIDE_OK);
    CHECK(b == 9 && a == 9);
    CHECK_RC(OPS->seq_raise(s, 8, NULL, &a), EGIDE_OK);
    CHECK(a == 9);
    CHECK_RC(OPS->next_seq(s, &q), EGIDE_OK);
    CHECK(q == 9);
    /* set back (a jump the broker refuses): just above the broker's last
     * number and the outbox's rows at or below the limit */
    CHECK_RC(OPS->seq_raise(s, UINT64_C(1) << 50, &b, &a), EGIDE_OK);
    CHECK(a == (UINT64_C(1) << 50) + 1);
    CHECK_RC(OPS->seq_lower(s, 5, 1000, &a), EGIDE_OK);
    CHECK(a == 6);
    CHECK_RC(OPS->next_seq(s, &q), EGIDE_OK);
    CHECK(q == 6);
    CHECK_RC(OPS->seq_lower(s, 5, 4, &a), EGIDE_ERR_LIMIT);
    CHECK_RC(OPS->seq_lower(s, (uint64_t)INT64_MAX, (uint64_t)INT64_MAX, &a), EGIDE_ERR_LIMIT);
    CHECK_RC(OPS->seq_lower(NULL, 5, 10, &a), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->seq_raise(s, 8, &b, &a), EGIDE_OK); /* back where the test goes on */
    CHECK(a == 9);
    CHECK_RC(OPS->next_seq(s, &q), EGIDE_OK);
    CHECK(q == 9);
    /* rolled back with the caller's transaction, kept with its commit */
    CHECK_RC(OPS->begin(s), EGIDE_OK);
    CHECK_RC(OPS->seq_raise(s, 100, &b, &a), EGIDE_OK);
    CHECK(b == 10 && a == 101);
    OPS->rollback(s);
    CHECK_RC(OPS->seq_raise(s, 0, &b, &a), EGIDE_OK);
    CHECK(b == 10 && a == 10);
    CHECK_RC(OPS->begin(s), EGIDE_OK);
    CHECK_RC(OPS->seq_raise(s, 100, &b, NULL), EGIDE_OK);
    CHECK_RC(OPS->commit(s), EGIDE_OK);
    CHECK_RC(OPS->next_seq(s, &q), EGIDE_OK);
    CHECK(q == 101);
    CHECK_RC(OPS->seq_raise(s, (uint64_t)INT64_MAX - 1, &b, &a), EGIDE_OK);
    CHECK(b == 102 && a == (uint64_t)INT64_MAX);
    OPS->close(&s);
}

/* outbox_envelope and outbox_resequence: the stored bytes read back, then
 * replaced (seq, bytes, hash) on a queued message only, counted, due now;
 * a seq held by another message is refused. */
static void test_outbox_resequence(void)
{
    edge_store_t *s = s_open();
    REQUIRE(s);
    const char *to1[] = {"71.crip"};
    int64_t far = INT64_C(4102444800000);
    uint8_t id[16], id2[16], unknown[16], sha[32], *env = NULL;
    size_t len = 0;
    s_id(id, 1);
    s_id(id2, 2);
    s_id(unknown, 77);
    CHECK_RC(s_add(s, 1, 0, to1, 1, far), EGIDE_OK);
    CHECK_RC(s_add(s, 2, 0, to1, 1, far), EGIDE_OK);
    CHECK_RC(OPS->outbox_envelope(NULL, id, &env, &len), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->outbox_envelope(s, NULL, &env, &len), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->outbox_envelope(s, id, NULL, &len), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->outbox_envelope(s, unknown, &env, &len), EGIDE_ERR_NOTFOUND);
    CHECK(env == NULL && len == 0);
    CHECK_RC(OPS->outbox_envelope(s, id, &env, &len), EGIDE_OK);
    CHECK(len == 24 && env && env[0] == 1 && env[23] == 1);
    free(env);
    env = NULL;

    uint8_t nenv[40];
    memset(nenv, 0x5A, sizeof nenv);
    s_sha(sha, 0x77);
    bool ch = true;
    CHECK_RC(OPS->outbox_resequence(NULL, id, 9, nenv, sizeof nenv, sha, &ch), EGIDE_ERR_INVALID);
    CHECK(!ch);
    CHECK_RC(OPS->outbox_resequence(s, NULL, 9, nenv, sizeof nenv, sha, &ch), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->outbox_resequence(s, id, 0, nenv, sizeof nenv, sha, &ch), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->outbox_resequence(s, id, 9, NULL, sizeof nenv, sha, &ch), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->outbox_resequence(s, id, 9, nenv, 0, sha, &ch), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->outbox_resequence(s, id, 9, nenv, sizeof nenv, NULL, &ch), EGIDE_ERR_INVALID);
    /* another message's seq: refused, nothing written */
    CHECK_RC(OPS->outbox_resequence(s, id, 2, nenv, sizeof nenv, sha, &ch), EGIDE_ERR_EXISTS);
    CHECK(!ch);
    edge_outbox_row_t row;
    CHECK_RC(OPS->outbox_get(s, id, &row), EGIDE_OK);
    CHECK(row.seq == 1 && row.resequenced == 0);
    /* an attempt makes it not due; the resequence makes it due again */
    CHECK_RC(OPS->outbox_attempt(s, id, 5000), EGIDE_OK);
    CHECK_RC(OPS->outbox_resequence(s, id, 9, nenv, sizeof nenv, sha, &ch), EGIDE_OK);
    CHECK(ch);
    CHECK_RC(OPS->outbox_get(s, id, &row), EGIDE_OK);
    CHECK(row.seq == 9 && row.resequenced == 1 && row.state == EDGE_OUT_QUEUED &&
          row.attempts == 1 && memcmp(row.sha256, sha, 32) == 0);
    CHECK_RC(OPS->outbox_envelope(s, id, &env, &len), EGIDE_OK);
    CHECK(len == sizeof nenv && env && memcmp(env, nenv, len) == 0);
    free(env);
    env = NULL;
    int seen[18] = {0};
    CHECK_RC(OPS->outbox_due(s, 10, 10, s_collect, seen), EGIDE_OK);
    CHECK(seen[0] == 2); /* both due: the new bytes are the ones sent */
    /* not for an absent message, nor one no longer queued */
    CHECK_RC(OPS->outbox_resequence(s, unknown, 11, nenv, sizeof nenv, sha, &ch), EGIDE_OK);
    CHECK(!ch);
    CHECK_RC(OPS->outbox_mark_rejected(s, id2, 4, 1900, &ch), EGIDE_OK);
    CHECK_RC(OPS->outbox_resequence(s, id2, 12, nenv, sizeof nenv, sha, &ch), EGIDE_OK);
    CHECK(!ch);
    CHECK_RC(OPS->outbox_get(s, id2, &row), EGIDE_OK);
    CHECK(row.seq == 2 && row.resequenced == 0);
    /* counted each time, and rolled back with the transaction */
    CHECK_RC(OPS->outbox_resequence(s, id, 10, nenv, sizeof nenv, sha, &ch), EGIDE_OK);
    CHECK_RC(OPS->begin(s), EGIDE_OK);
    CHECK_RC(OPS->outbox_resequence(s, id, 13, nenv, sizeof nenv, sha, &ch), EGIDE_OK);
    CHECK(ch);
    OPS->rollback(s);
    CHECK_RC(OPS->outbox_get(s, id, &row), EGIDE_OK);
    CHECK(row.seq == 10 && row.resequenced == 2);
    OPS->close(&s);
}

/* The kept copy of a queued message's content key (outbox_add's kept,
 * outbox_kept): stored as given, replaced envelopes keep it (outbox_reseal
 * counts in resealed, not resequenced), and it is erased as soon as the
 * message leaves QUEUED, by whichever way: accepted, rejected, expired.
 * A message queued without one reads NOTFOUND (the rejection stands). */
static void test_outbox_kept(void)
{
    edge_store_t *s = s_open();
    REQUIRE(s);
    const char *to1[] = {"71.crip"};
    int64_t far = INT64_C(4102444800000);
    uint8_t kept[80], sha[32], *got = NULL;
    size_t gl = 0;
    memset(kept, 0xC3, sizeof kept);
    s_sha(sha, 9);
    /* k = 1..4 kept, 5 without */
    for (int k = 1; k <= 5; k++) {
        uint8_t id[16], esha[32], env[24];
        s_id(id, k);
        s_sha(esha, k);
        memset(env, k, sizeof env);
        edge_outbox_msg_t m = {
            .msg_id = id,
            .seq = (uint64_t)k,
            .type = "ip.transmission",
            .urgency = 0,
            .created_ms = 1000 + k,
            .expires_ms = k == 4 ? 2000 : far,
            .envelope = env,
            .envelope_len = sizeof env,
            .sha256 = esha,
            .rcpt_ids = to1,
            .n_rcpt = 1,
            .kept = k <= 4 ? kept : NULL,
            .kept_len = k <= 4 ? sizeof kept : 0,
        };
        CHECK_RC(OPS->outbox_add(s, &m), EGIDE_OK);
    }
    uint8_t id[16], none[16];
    s_id(none, 77);
    /* a length without bytes, bytes without a length: refused */
    {
        uint8_t bid[16], env[4] = {1, 2, 3, 4};
        s_id(bid, 40);
        edge_outbox_msg_t m = {.msg_id = bid,
                               .seq = 40,
                               .type = "ip.transmission",
                               .created_ms = 1,
                               .expires_ms = far,
                               .envelope = env,
                               .envelope_len = sizeof env,
                               .sha256 = sha,
                               .rcpt_ids = to1,
                               .n_rcpt = 1,
                               .kept = NULL,
                               .kept_len = 80};
        CHECK_RC(OPS->outbox_add(s, &m), EGIDE_ERR_INVALID);
        m.kept = kept;
        m.kept_len = 0;
        CHECK_RC(OPS->outbox_add(s, &m), EGIDE_ERR_INVALID);
    }
    s_id(id, 1);
    CHECK_RC(OPS->outbox_kept(NULL, id, &got, &gl), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->outbox_kept(s, NULL, &got, &gl), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->outbox_kept(s, id, NULL, &gl), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->outbox_kept(s, none, &got, &gl), EGIDE_ERR_NOTFOUND);
    CHECK(got == NULL && gl == 0);
    CHECK_RC(OPS->outbox_kept(s, id, &got, &gl), EGIDE_OK);
    CHECK(gl == sizeof kept && got && memcmp(got, kept, gl) == 0);
    free(got);
    got = NULL;
    edge_outbox_row_t row;
    CHECK_RC(OPS->outbox_get(s, id, &row), EGIDE_OK);
    CHECK(row.has_kept && row.resealed == 0);
    /* queued without one: none to read */
    s_id(id, 5);
    CHECK_RC(OPS->outbox_get(s, id, &row), EGIDE_OK);
    CHECK(!row.has_kept);
    CHECK_RC(OPS->outbox_kept(s, id, &got, &gl), EGIDE_ERR_NOTFOUND);

    /* sealed again: bytes, hash, seq replaced, resealed counted, kept stays */
    uint8_t nenv[40];
    memset(nenv, 0x5B, sizeof nenv);
    bool ch = true;
    s_id(id, 1);
    CHECK_RC(OPS->outbox_reseal(s, id, 0, nenv, sizeof nenv, sha, &ch), EGIDE_ERR_INVALID);
    CHECK(!ch);
    CHECK_RC(OPS->outbox_reseal(s, id, 9, NULL, sizeof nenv, sha, &ch), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->outbox_reseal(s, id, 2, nenv, sizeof nenv, sha, &ch), EGIDE_ERR_EXISTS);
    CHECK_RC(OPS->outbox_attempt(s, id, 5000), EGIDE_OK);
    CHECK_RC(OPS->outbox_reseal(s, id, 9, nenv, sizeof nenv, sha, &ch), EGIDE_OK);
    CHECK(ch);
    CHECK_RC(OPS->outbox_get(s, id, &row), EGIDE_OK);
    CHECK(row.seq == 9 && row.resealed == 1 && row.resequenced == 0 && row.has_kept &&
          row.state == EDGE_OUT_QUEUED && memcmp(row.sha256, sha, 32) == 0);
    uint8_t *env = NULL;
    size_t len = 0;
    CHECK_RC(OPS->outbox_envelope(s, id, &env, &len), EGIDE_OK);
    CHECK(len == sizeof nenv && env && memcmp(env, nenv, len) == 0);
    free(env);
    /* rolled back with the transaction */
    CHECK_RC(OPS->begin(s), EGIDE_OK);
    CHECK_RC(OPS->outbox_reseal(s, id, 14, nenv, sizeof nenv, sha, &ch), EGIDE_OK);
    OPS->rollback(s);
    CHECK_RC(OPS->outbox_get(s, id, &row), EGIDE_OK);
    CHECK(row.seq == 9 && row.resealed == 1);

    /* erased when it leaves QUEUED: accepted (1), rejected (2), expired (4) */
    CHECK_RC(OPS->outbox_mark_accepted(s, id, 3000, 7, &ch), EGIDE_OK);
    CHECK(ch);
    CHECK_RC(OPS->outbox_get(s, id, &row), EGIDE_OK);
    CHECK(row.state == EDGE_OUT_ACCEPTED && !row.has_kept);
    CHECK_RC(OPS->outbox_kept(s, id, &got, &gl), EGIDE_ERR_NOTFOUND);
    /* and no longer re-sealable */
    CHECK_RC(OPS->outbox_reseal(s, id, 15, nenv, sizeof nenv, sha, &ch), EGIDE_OK);
    CHECK(!ch);
    s_id(id, 2);
    CHECK_RC(OPS->outbox_mark_rejected(s, id, 6, 3000, &ch), EGIDE_OK);
    CHECK_RC(OPS->outbox_get(s, id, &row), EGIDE_OK);
    CHECK(row.state == EDGE_OUT_REJECTED && !row.has_kept);
    CHECK_RC(OPS->outbox_kept(s, id, &got, &gl), EGIDE_ERR_NOTFOUND);
    size_t n = 0;
    CHECK_RC(OPS->outbox_expire(s, 2500, &n), EGIDE_OK);
    CHECK(n == 1);
    s_id(id, 4);
    CHECK_RC(OPS->outbox_get(s, id, &row), EGIDE_OK);
    CHECK(row.state == EDGE_OUT_EXPIRED && !row.has_kept);
    /* the one still queued keeps its copy */
    s_id(id, 3);
    CHECK_RC(OPS->outbox_get(s, id, &row), EGIDE_OK);
    CHECK(row.state == EDGE_OUT_QUEUED && row.has_kept);
    /* the list reads the same flags */
    edge_outbox_row_t *rows = NULL;
    CHECK_RC(OPS->outbox_list(s, -1, 10, &rows, &n), EGIDE_OK);
    size_t with = 0;
    for (size_t i = 0; i < n; i++)
        with += rows[i].has_kept;
    CHECK(n == 5 && with == 1);
    free(rows);
    OPS->close(&s);
}

static int s_collect(const edge_outbox_due_t *m, void *arg)
{
    int *seen = arg;
    int k = seen[0];
    if (k < 15)
        seen[1 + k] = (int)m->seq;
    seen[0]++;
    if (m->envelope_len != 24 || m->envelope[0] != (uint8_t)m->seq)
        seen[16] = 1; /* wrong bytes */
    return seen[17] && seen[0] >= seen[17];
}

static void test_outbox(void)
{
    edge_store_t *s = s_open();
    REQUIRE(s);
    const char *to2[] = {"71.crip", "71.tas.macon"};
    const char *to1[] = {"71.crip"};
    int64_t far = INT64_C(4102444800000);
    /* bad arguments */
    CHECK_RC(OPS->outbox_add(NULL, NULL), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->outbox_add(s, NULL), EGIDE_ERR_INVALID);
    CHECK_RC(s_add(s, 1, 0, to2, 0, far), EGIDE_ERR_INVALID);
    CHECK_RC(s_add(s, 1, 0, to2, EGIDE_MAX_RECIPIENTS + 1, far), EGIDE_ERR_INVALID);
    const char *tonull[] = {NULL};
    CHECK_RC(s_add(s, 1, 0, tonull, 1, far), EGIDE_ERR_INVALID);
    /* empty */
    edge_outbox_row_t *rows = NULL;
    size_t n = 9;
    CHECK_RC(OPS->outbox_list(s, -1, 10, &rows, &n), EGIDE_OK);
    CHECK(n == 0);
    free(rows);
    int seen[18] = {0};
    CHECK_RC(OPS->outbox_due(s, 0, 10, s_collect, seen), EGIDE_OK);
    CHECK(seen[0] == 0);
    uint8_t id[16];
    s_id(id, 1);
    edge_outbox_row_t row;
    CHECK_RC(OPS->outbox_get(s, id, &row), EGIDE_ERR_NOTFOUND);

    CHECK_RC(s_add(s, 1, 0, to2, 2, far), EGIDE_OK);
    CHECK_RC(s_add(s, 2, 2, to1, 1, far), EGIDE_OK);
    CHECK_RC(s_add(s, 3, 0, to1, 1, 1500), EGIDE_OK); /* expires early */
    CHECK_RC(s_add(s, 1, 0, to1, 1, far), EGIDE_ERR_EXISTS);
    CHECK_RC(OPS->outbox_get(s, id, &row), EGIDE_OK);
    CHECK(row.seq == 1 && row.state == EDGE_OUT_QUEUED && row.attempts == 0 && !row.has_accepted);
    CHECK(strcmp(row.type, "ip.transmission") == 0 && row.created_ms == 1001);
    uint8_t sha[32];
    s_sha(sha, 1);
    CHECK(memcmp(row.sha256, sha, 32) == 0 && !row.has_in_reply_to);

    /* due: most urgent first, then by seq; the callback can stop. */
    memset(seen, 0, sizeof seen);
    CHECK_RC(OPS->outbox_due(s, 10, 10, s_collect, seen), EGIDE_OK);
    CHECK(seen[0] == 3 && seen[1] == 2 && seen[2] == 1 && seen[3] == 3 && seen[16] == 0);
    memset(seen, 0, sizeof seen);
    CHECK_RC(OPS->outbox_due(s, 10, 2, s_collect, seen), EGIDE_OK);
    CHECK(seen[0] == 2);
    memset(seen, 0, sizeof seen);
    seen[17] = 1;
    CHECK_RC(OPS->outbox_due(s, 10, 10, s_collect, seen), EGIDE_OK);
    CHECK(seen[0] == 1);
    CHECK_RC(OPS->outbox_due(s, 10, 0, s_collect, seen), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->outbox_due(s, 10, 10, NULL, seen), EGIDE_ERR_INVALID);
    /* an attempt delays it */
    CHECK_RC(OPS->outbox_attempt(s, id, 5000), EGIDE_OK);
    CHECK_RC(OPS->outbox_attempt(NULL, id, 5000), EGIDE_ERR_INVALID);
    memset(seen, 0, sizeof seen);
    CHECK_RC(OPS->outbox_due(s, 10, 10, s_collect, seen), EGIDE_OK);
    CHECK(seen[0] == 2);
    CHECK_RC(OPS->outbox_get(s, id, &row), EGIDE_OK);
    CHECK(row.attempts == 1);
    CHECK_RC(OPS->outbox_retry_all(s), EGIDE_OK);
    CHECK_RC(OPS->outbox_retry_all(NULL), EGIDE_ERR_INVALID);
    memset(seen, 0, sizeof seen);
    CHECK_RC(OPS->outbox_due(s, 10, 10, s_collect, seen), EGIDE_OK);
    CHECK(seen[0] == 3);

    /* recipients */
    edge_rcpt_row_t r[EGIDE_MAX_RECIPIENTS];
    size_t pending = 0;
    CHECK_RC(OPS->rcpt_list(s, id, r, EGIDE_MAX_RECIPIENTS, &n, &pending), EGIDE_OK);
    CHECK(n == 2 && pending == 2 && strcmp(r[0].node_id, "71.crip") == 0 &&
          r[0].state == EDGE_RCPT_PENDING && !r[0].has_done);
    CHECK_RC(OPS->rcpt_list(s, id, r, 1, &n, &pending), EGIDE_OK); /* truncated, counted */
    CHECK(n == 1 && pending == 2);
    uint8_t unknown[16];
    s_id(unknown, 77);
    CHECK_RC(OPS->rcpt_list(s, unknown, r, EGIDE_MAX_RECIPIENTS, &n, &pending), EGIDE_ERR_NOTFOUND);
    bool ch = true;
    CHECK_RC(OPS->rcpt_update(s, id, "71.crip", EDGE_RCPT_PENDING, 0, 1, &ch), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->rcpt_update(s, id, NULL, EDGE_RCPT_DELIVERED, 0, 1, &ch), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->rcpt_update(s, id, "71.crip", EDGE_RCPT_DELIVERED, 0, 2000, &ch), EGIDE_OK);
    CHECK(ch);
    CHECK_RC(OPS->rcpt_update(s, id, "71.crip", EDGE_RCPT_REJECTED, 5, 2001, &ch), EGIDE_OK);
    CHECK(!ch); /* only from pending */
    CHECK_RC(OPS->rcpt_update(s, id, "71.other", EDGE_RCPT_DELIVERED, 0, 2000, &ch), EGIDE_OK);
    CHECK(!ch);
    CHECK_RC(OPS->rcpt_acknowledge(s, id, "71.crip", 3000, &ch), EGIDE_OK);
    CHECK(ch);
    CHECK_RC(OPS->rcpt_acknowledge(s, id, "71.crip", 3001, &ch), EGIDE_OK);
    CHECK(!ch);
    CHECK_RC(OPS->rcpt_acknowledge(s, id, NULL, 3001, &ch), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->rcpt_update(s, id, "71.tas.macon", EDGE_RCPT_REJECTED, 7, 2500, &ch), EGIDE_OK);
    CHECK(ch);
    CHECK_RC(OPS->rcpt_list(s, id, r, EGIDE_MAX_RECIPIENTS, &n, &pending), EGIDE_OK);
    CHECK(n == 2 && pending == 0);
    CHECK(r[0].state == EDGE_RCPT_ACKNOWLEDGED && r[0].has_done && r[0].done_ms == 2000 &&
          r[0].has_acknowledged && r[0].acknowledged_ms == 3000);
    CHECK(r[1].state == EDGE_RCPT_REJECTED && r[1].reason == 7 && !r[1].has_acknowledged);

    /* accepted, rejected */
    CHECK_RC(OPS->outbox_mark_accepted(s, id, 1800, 42, &ch), EGIDE_OK);
    CHECK(ch);
    CHECK_RC(OPS->outbox_mark_accepted(s, id, 1900, 43, &ch), EGIDE_OK);
    CHECK(!ch);
    CHECK_RC(OPS->outbox_mark_rejected(s, id, 3, 1900, &ch), EGIDE_OK);
    CHECK(!ch); /* accepted stays accepted */
    CHECK_RC(OPS->outbox_get(s, id, &row), EGIDE_OK);
    CHECK(row.state == EDGE_OUT_ACCEPTED && row.has_accepted && row.accepted_ms == 1800 &&
          row.leaf_index == 42 && row.reason == 0);
    uint8_t id2[16];
    s_id(id2, 2);
    CHECK_RC(OPS->outbox_mark_rejected(s, id2, 9, 1950, &ch), EGIDE_OK);
    CHECK(ch);
    CHECK_RC(OPS->outbox_get(s, id2, &row), EGIDE_OK);
    CHECK(row.state == EDGE_OUT_REJECTED && row.reason == 9);
    CHECK_RC(OPS->rcpt_list(s, id2, r, EGIDE_MAX_RECIPIENTS, &n, &pending), EGIDE_OK);
    CHECK(n == 1 && r[0].state == EDGE_RCPT_REJECTED && r[0].reason == 9);
    CHECK_RC(OPS->outbox_mark_accepted(s, id2, 1, 1, &ch), EGIDE_OK);
    CHECK(!ch);
    CHECK_RC(OPS->outbox_mark_accepted(s, unknown, 1, 1, &ch), EGIDE_OK);
    CHECK(!ch);
    CHECK_RC(OPS->outbox_mark_accepted(NULL, id, 1, 1, &ch), EGIDE_ERR_INVALID);

    /* expiry: only message 3 (queued, expires 1500) */
    size_t nexp = 99;
    CHECK_RC(OPS->outbox_expire(s, 1400, &nexp), EGIDE_OK);
    CHECK(nexp == 0);
    CHECK_RC(OPS->outbox_expire(s, 1600, &nexp), EGIDE_OK);
    CHECK(nexp == 1);
    CHECK_RC(OPS->outbox_expire(s, 1700, NULL), EGIDE_OK);
    uint8_t id3[16];
    s_id(id3, 3);
    CHECK_RC(OPS->outbox_get(s, id3, &row), EGIDE_OK);
    CHECK(row.state == EDGE_OUT_EXPIRED);
    CHECK_RC(OPS->rcpt_list(s, id3, r, EGIDE_MAX_RECIPIENTS, &n, &pending), EGIDE_OK);
    CHECK(n == 1 && r[0].state == EDGE_RCPT_EXPIRED && pending == 0);
    memset(seen, 0, sizeof seen);
    CHECK_RC(OPS->outbox_due(s, 10, 10, s_collect, seen), EGIDE_OK);
    CHECK(seen[0] == 0); /* nothing queued any more */

    /* listing: newest first, filters, limits */
    CHECK_RC(OPS->outbox_list(s, -1, 10, &rows, &n), EGIDE_OK);
    CHECK(n == 3 && rows && rows[0].seq == 3 && rows[2].seq == 1);
    free(rows);
    CHECK_RC(OPS->outbox_list(s, -1, 2, &rows, &n), EGIDE_OK);
    CHECK(n == 2 && rows[0].seq == 3 && rows[1].seq == 2);
    free(rows);
    CHECK_RC(OPS->outbox_list(s, EDGE_OUT_REJECTED, 10, &rows, &n), EGIDE_OK);
    CHECK(n == 1 && rows[0].seq == 2);
    free(rows);
    CHECK_RC(OPS->outbox_list(s, EDGE_OUT_QUEUED, 10, &rows, &n), EGIDE_OK);
    CHECK(n == 0);
    free(rows);
    CHECK_RC(OPS->outbox_list(s, -1, 0, &rows, &n), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->outbox_list(s, -1, EDGE_STORE_LIST_MAX + 1, &rows, &n), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->outbox_list(s, -1, 10, NULL, &n), EGIDE_ERR_INVALID);

    edge_store_counts_t c;
    CHECK_RC(OPS->counts(s, &c), EGIDE_OK);
    CHECK(c.outbox_queued == 0 && c.inbox == 0);
    CHECK(c.by_rcpt[EDGE_RCPT_ACKNOWLEDGED] == 1 && c.by_rcpt[EDGE_RCPT_REJECTED] == 2 &&
          c.by_rcpt[EDGE_RCPT_EXPIRED] == 1 && c.by_rcpt[EDGE_RCPT_PENDING] == 0);
    CHECK_RC(OPS->counts(s, NULL), EGIDE_ERR_INVALID);
    OPS->close(&s);
}

static void test_inbox(void)
{
    edge_store_t *s = s_open();
    REQUIRE(s);
    edge_inbox_put_result res = EDGE_INBOX_CONFLICT;
    uint8_t *stored = NULL;
    size_t sl = 0;
    CHECK_RC(OPS->inbox_put(s, NULL, &res, &stored, &sl), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->inbox_put(NULL, NULL, &res, &stored, &sl), EGIDE_ERR_INVALID);
    edge_inbox_row_t *rows = NULL;
    size_t n = 9;
    CHECK_RC(OPS->inbox_list(s, -1, 10, &rows, &n), EGIDE_OK);
    CHECK(n == 0);
    free(rows);

    /* the three outcomes */
    CHECK_RC(s_inbox(s, 1, 1, 2000, &res, &stored, &sl), EGIDE_OK);
    CHECK(res == EDGE_INBOX_STORED && stored == NULL);
    CHECK_RC(s_inbox(s, 1, 1, 2100, &res, &stored, &sl), EGIDE_OK);
    CHECK(res == EDGE_INBOX_DUPLICATE && stored && sl == strlen("receipt-1-1") &&
          memcmp(stored, "receipt-1-1", sl) == 0);
    free(stored);
    stored = NULL;
    CHECK_RC(s_inbox(s, 1, 2, 2200, &res, &stored, &sl), EGIDE_OK);
    CHECK(res == EDGE_INBOX_CONFLICT && stored == NULL);
    size_t k = 9;
    uint8_t id[16], sha[32];
    s_id(id, 1);
    CHECK_RC(OPS->inbox_count(s, id, &k), EGIDE_OK);
    CHECK(k == 1);
    CHECK_RC(OPS->inbox_count(s, NULL, &k), EGIDE_ERR_INVALID);

    /* receipt for the exact pair only */
    uint8_t *r = NULL;
    size_t rl = 0;
    s_sha(sha, 1);
    CHECK_RC(OPS->inbox_receipt(s, id, sha, &r, &rl), EGIDE_OK);
    CHECK(r && rl == strlen("receipt-1-1"));
    free(r);
    s_sha(sha, 2);
    CHECK_RC(OPS->inbox_receipt(s, id, sha, &r, &rl), EGIDE_ERR_NOTFOUND);
    CHECK(r == NULL);
    CHECK_RC(OPS->inbox_receipt(s, id, NULL, &r, &rl), EGIDE_ERR_INVALID);

    /* get, with and without the payload; the stored row is the first one */
    edge_inbox_row_t m;
    CHECK_RC(OPS->inbox_get(s, id, true, &m), EGIDE_OK);
    s_sha(sha, 1);
    CHECK(memcmp(m.sha256, sha, 32) == 0 && m.received_ms == 2000 && m.state == EDGE_IN_DELIVERED &&
          !m.has_acknowledged && m.has_in_reply_to);
    CHECK(strcmp(m.sender_id, "71.police.macon") == 0 &&
          strcmp(m.content_type, "application/x-egide-ip") == 0);
    CHECK(m.payload && m.payload_len == 13 && memcmp(m.payload, "{\"child\":\"x\"}", 13) == 0);
    edge_inbox_row_clear(&m);
    CHECK(m.payload == NULL && m.payload_len == 0);
    edge_inbox_row_clear(NULL);
    CHECK_RC(OPS->inbox_get(s, id, false, &m), EGIDE_OK);
    CHECK(m.payload == NULL);
    uint8_t other[16];
    s_id(other, 50);
    CHECK_RC(OPS->inbox_get(s, other, false, &m), EGIDE_ERR_NOTFOUND);

    /* listing: newest first, by state, limits */
    CHECK_RC(s_inbox(s, 2, 2, 3000, &res, &stored, &sl), EGIDE_OK);
    CHECK(res == EDGE_INBOX_STORED);
    CHECK_RC(s_inbox(s, 3, 3, 2500, &res, &stored, &sl), EGIDE_OK);
    CHECK_RC(OPS->inbox_list(s, -1, 10, &rows, &n), EGIDE_OK);
    CHECK(n == 3 && rows[0].received_ms == 3000 && rows[1].received_ms == 2500 &&
          rows[2].received_ms == 2000 && rows[0].payload == NULL);
    free(rows);
    CHECK_RC(OPS->inbox_list(s, -1, 1, &rows, &n), EGIDE_OK);
    CHECK(n == 1);
    free(rows);
    CHECK_RC(OPS->inbox_list(s, -1, 0, &rows, &n), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->inbox_list(s, -1, EDGE_STORE_LIST_MAX + 1, &rows, &n), EGIDE_ERR_INVALID);

    /* acknowledge */
    bool ch = false;
    CHECK_RC(OPS->inbox_acknowledge(s, id, 4000, &ch), EGIDE_OK);
    CHECK(ch);
    CHECK_RC(OPS->inbox_acknowledge(s, id, 4100, &ch), EGIDE_OK);
    CHECK(!ch);
    CHECK_RC(OPS->inbox_acknowledge(s, other, 4100, &ch), EGIDE_ERR_NOTFOUND);
    CHECK_RC(OPS->inbox_acknowledge(s, NULL, 4100, &ch), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->inbox_get(s, id, false, &m), EGIDE_OK);
    CHECK(m.state == EDGE_IN_ACKNOWLEDGED && m.has_acknowledged && m.acknowledged_ms == 4000);
    CHECK_RC(OPS->inbox_list(s, EDGE_IN_ACKNOWLEDGED, 10, &rows, &n), EGIDE_OK);
    CHECK(n == 1 && memcmp(rows[0].msg_id, id, 16) == 0);
    free(rows);
    CHECK_RC(OPS->inbox_list(s, EDGE_IN_DELIVERED, 10, &rows, &n), EGIDE_OK);
    CHECK(n == 2);
    free(rows);

    /* refused envelopes */
    s_sha(sha, 2);
    CHECK_RC(OPS->rejected_find(s, id, sha, &r, &rl), EGIDE_ERR_NOTFOUND);
    CHECK_RC(OPS->rejected_put(s, id, sha, "71.police.macon", 11, (const uint8_t *)"rej-a", 5, 1),
             EGIDE_OK);
    CHECK_RC(OPS->rejected_put(s, id, sha, "71.police.macon", 12, (const uint8_t *)"rej-b", 5, 2),
             EGIDE_OK); /* the first is kept */
    CHECK_RC(OPS->rejected_find(s, id, sha, &r, &rl), EGIDE_OK);
    CHECK(r && rl == 5 && memcmp(r, "rej-a", 5) == 0);
    free(r);
    CHECK_RC(OPS->rejected_put(s, id, sha, NULL, 1, NULL, 0, 1), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->rejected_find(s, NULL, sha, &r, &rl), EGIDE_ERR_INVALID);
    s_sha(sha, 1);
    CHECK_RC(OPS->rejected_find(s, id, sha, &r, &rl), EGIDE_ERR_NOTFOUND);

    edge_store_counts_t c;
    CHECK_RC(OPS->counts(s, &c), EGIDE_OK);
    CHECK(c.inbox == 3);
    OPS->close(&s);
}

static void test_receipts(void)
{
    edge_store_t *s = s_open();
    REQUIRE(s);
    uint8_t id[16];
    s_id(id, 1);
    edge_receipt_row_t *rows = NULL;
    size_t n = 9;
    CHECK_RC(OPS->receipt_list(s, id, &rows, &n), EGIDE_OK);
    CHECK(n == 0);
    free(rows);
    edge_receipt_row_t a;
    memset(&a, 0, sizeof a);
    s_sha(a.sha256, 7);
    memcpy(a.msg_id, id, 16);
    a.kind = 2;
    strcpy(a.issuer, "71.crip");
    strcpy(a.recipient, "71.crip");
    a.time_ms = 200;
    edge_receipt_row_t b = a;
    s_sha(b.sha256, 8);
    strcpy(b.issuer, "71.broker");
    b.recipient[0] = 0;
    b.kind = 1;
    b.time_ms = 100;
    b.has_leaf = true;
    b.leaf_index = 5;
    CHECK_RC(OPS->receipt_put(s, &a, (const uint8_t *)"A", 1), EGIDE_OK);
    CHECK_RC(OPS->receipt_put(s, &b, (const uint8_t *)"B", 1), EGIDE_OK);
    CHECK_RC(OPS->receipt_put(s, &a, (const uint8_t *)"A", 1), EGIDE_OK); /* kept once */
    CHECK_RC(OPS->receipt_put(s, &a, NULL, 0), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->receipt_put(NULL, &a, (const uint8_t *)"A", 1), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->receipt_list(s, id, &rows, &n), EGIDE_OK);
    CHECK(n == 2 && rows[0].time_ms == 100 && rows[0].has_leaf && rows[0].leaf_index == 5 &&
          strcmp(rows[0].issuer, "71.broker") == 0 && rows[0].recipient[0] == 0);
    CHECK(n == 2 && rows[1].kind == 2 && strcmp(rows[1].recipient, "71.crip") == 0 &&
          !rows[1].has_leaf);
    free(rows);
    CHECK_RC(OPS->receipt_list(s, NULL, &rows, &n), EGIDE_ERR_INVALID);

    OPS->close(&s);
}

/* A received message k (type ip.transmission) replying to irt (NULL =
 * none) with a case reference (NULL = none); *case_id gets its case. */
static egide_rc s_in_case(edge_store_t *s, int k, const uint8_t *irt, const char *ref,
                          int64_t *case_id, edge_inbox_put_result *res)
{
    uint8_t id[16], sha[32];
    s_id(id, k);
    s_sha(sha, k);
    uint8_t *stored = NULL;
    size_t sl = 0;
    edge_inbox_msg_t m = {
        .msg_id = id,
        .sha256 = sha,
        .sender_id = "fr.snated",
        .type = "snated.transmission",
        .urgency = 1,
        .in_reply_to = irt,
        .created_ms = 500,
        .received_ms = 1000 + k,
        .content_type = "application/x",
        .receipt = (const uint8_t *)"r",
        .receipt_len = 1,
        .case_ref = ref,
        .commune = "71137",
        .case_id = case_id,
    };
    egide_rc rc = OPS->inbox_put(s, &m, res, &stored, &sl);
    free(stored);
    return rc;
}

/* The same, queued in the outbox. */
static egide_rc s_out_case(edge_store_t *s, int k, const uint8_t *irt, const char *ref,
                           int64_t *case_id)
{
    uint8_t id[16], sha[32], env[8] = {1};
    s_id(id, k);
    s_sha(sha, k);
    const char *to[] = {"fr.snated"};
    edge_outbox_msg_t m = {
        .msg_id = id,
        .seq = (uint64_t)k,
        .type = "ip.qualification",
        .in_reply_to = irt,
        .created_ms = 2000 + k,
        .expires_ms = INT64_C(4102444800000),
        .envelope = env,
        .envelope_len = sizeof env,
        .sha256 = sha,
        .rcpt_ids = to,
        .n_rcpt = 1,
        .case_ref = ref,
        .case_id = case_id,
    };
    return OPS->outbox_add(s, &m);
}

static void test_cases(void)
{
    edge_store_t *s = s_open();
    REQUIRE(s);
    edge_inbox_put_result res;
    uint8_t a[16], p[16], e[16];
    s_id(a, 1);
    s_id(p, 50); /* a parent never held here */
    s_id(e, 5);
    int64_t ca = 0, cb = 0, cc = 0, cd = 0, cp = 0, ce = 0, cf = 0, cg = 0, ch = 0;
    /* a first message opens a case; its reply joins it */
    CHECK_RC(s_in_case(s, 1, NULL, NULL, &ca, &res), EGIDE_OK);
    CHECK(res == EDGE_INBOX_STORED && ca > 0);
    CHECK_RC(s_in_case(s, 2, a, NULL, &cb, &res), EGIDE_OK);
    CHECK(cb == ca);
    /* siblings replying to an unknown parent share one case, and the
     * parent arriving later joins it too */
    CHECK_RC(s_in_case(s, 3, p, NULL, &cc, &res), EGIDE_OK);
    CHECK(cc > 0 && cc != ca);
    CHECK_RC(s_in_case(s, 4, p, NULL, &cd, &res), EGIDE_OK);
    CHECK(cd == cc);
    CHECK_RC(s_in_case(s, 50, NULL, NULL, &cp, &res), EGIDE_OK);
    CHECK(cp == cc);
    /* by case reference */
    CHECK_RC(s_in_case(s, 5, NULL, "CRIP71-2026-0001", &ce, &res), EGIDE_OK);
    CHECK(ce > 0 && ce != ca && ce != cc);
    CHECK_RC(s_in_case(s, 6, NULL, "CRIP71-2026-0001", &cf, &res), EGIDE_OK);
    CHECK(cf == ce);
    /* an outbox reply joins its parent's case and gives it its reference */
    CHECK_RC(s_out_case(s, 7, a, "CRIP71-2026-0002", &cg), EGIDE_OK);
    CHECK(cg == ca);
    CHECK_RC(s_in_case(s, 8, NULL, "CRIP71-2026-0002", &ch, &res), EGIDE_OK);
    CHECK(ch == ca);
    /* the parent wins over another case's reference: never merged */
    int64_t ci = 0;
    CHECK_RC(s_out_case(s, 9, e, "CRIP71-2026-0002", &ci), EGIDE_OK);
    CHECK(ci == ce);
    /* a duplicate joins nothing new */
    int64_t cdup = 77;
    CHECK_RC(s_in_case(s, 1, NULL, "CRIP71-2026-0001", &cdup, &res), EGIDE_OK);
    CHECK(res == EDGE_INBOX_DUPLICATE && cdup == 0);

    /* the rows read back carry their case and the payload's facts */
    edge_inbox_row_t ir;
    CHECK_RC(OPS->inbox_get(s, e, true, &ir), EGIDE_OK);
    CHECK(ir.case_id == ce && strcmp(ir.commune, "71137") == 0 &&
          strcmp(ir.case_ref, "CRIP71-2026-0001") == 0 && ir.payload_len == 0);
    edge_inbox_row_clear(&ir);
    CHECK_RC(OPS->inbox_get(s, a, false, &ir), EGIDE_OK);
    CHECK(ir.case_id == ca && ir.case_ref[0] == '\0');
    edge_outbox_row_t orow;
    uint8_t g[16];
    s_id(g, 7);
    CHECK_RC(OPS->outbox_get(s, g, &orow), EGIDE_OK);
    CHECK(orow.case_id == ca && strcmp(orow.case_ref, "CRIP71-2026-0002") == 0 &&
          orow.commune[0] == '\0');

    edge_case_row_t row;
    CHECK_RC(OPS->case_get(s, ca, &row), EGIDE_OK);
    CHECK(row.id == ca && strcmp(row.ref, "CRIP71-2026-0002") == 0 && row.created_ms == 1001 &&
          row.updated_ms == 2007 && !row.has_origin && !row.has_declared);
    CHECK_RC(OPS->case_get(s, cc, &row), EGIDE_OK);
    CHECK(row.ref[0] == '\0');
    CHECK_RC(OPS->case_get(s, 9999, &row), EGIDE_ERR_NOTFOUND);
    CHECK_RC(OPS->case_get(s, 0, &row), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->case_get(NULL, ca, &row), EGIDE_ERR_INVALID);

    int64_t f = 0;
    uint8_t x[16];
    s_id(x, 600);
    CHECK_RC(OPS->case_find(s, x, NULL, NULL, &f), EGIDE_ERR_NOTFOUND);
    CHECK_RC(OPS->case_find(s, x, p, NULL, &f), EGIDE_OK);
    CHECK(f == cc);
    CHECK_RC(OPS->case_find(s, NULL, NULL, "CRIP71-2026-0001", &f), EGIDE_OK);
    CHECK(f == ce);
    CHECK_RC(OPS->case_find(s, NULL, NULL, "no-such-ref", &f), EGIDE_ERR_NOTFOUND);
    CHECK_RC(OPS->case_find(s, NULL, NULL, NULL, &f), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->case_find(s, NULL, NULL, "", &f), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->case_find(s, a, NULL, NULL, NULL), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->case_of(s, p, &f), EGIDE_OK); /* a placeholder counts */
    CHECK(f == cc);
    CHECK_RC(OPS->case_of(s, x, &f), EGIDE_ERR_NOTFOUND);
    CHECK_RC(OPS->case_of(s, NULL, &f), EGIDE_ERR_INVALID);

    /* the first origin is kept */
    bool changed = false;
    CHECK_RC(OPS->case_origin(s, ca, 5000, 1234, &changed), EGIDE_OK);
    CHECK(changed);
    CHECK_RC(OPS->case_origin(s, ca, 6000, 0, &changed), EGIDE_OK);
    CHECK(!changed);
    CHECK_RC(OPS->case_get(s, ca, &row), EGIDE_OK);
    CHECK(row.has_origin && row.origin_ms == 5000 && row.has_declared && row.declared_ms == 1234);
    CHECK_RC(OPS->case_origin(s, cc, 7000, 0, &changed), EGIDE_OK);
    CHECK_RC(OPS->case_get(s, cc, &row), EGIDE_OK);
    CHECK(row.has_origin && row.origin_ms == 7000 && !row.has_declared);
    CHECK_RC(OPS->case_origin(s, 9999, 1, 1, &changed), EGIDE_ERR_NOTFOUND);
    CHECK_RC(OPS->case_origin(s, -1, 1, 1, &changed), EGIDE_ERR_INVALID);
    OPS->close(&s);
}

/* A store written before the cases migration (schema version 4, copied
 * here as it was released) opens, migrates, keeps its rows with no case,
 * and replies to an old message share a case (the old id becomes a
 * placeholder).  SQLite-only: other backends have their own migrations. */
static const char s_schema_v4[] =
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
    "  practice INTEGER NOT NULL, PRIMARY KEY(msg_id, name));"
    "CREATE INDEX IF NOT EXISTS inbox_received ON inbox(received_ms);"
    "CREATE TABLE idempotency("
    "  key TEXT PRIMARY KEY, request_sha256 BLOB NOT NULL, msg_id BLOB NOT NULL,"
    "  time_ms INTEGER NOT NULL);"
    "ALTER TABLE outbox ADD COLUMN resequenced INTEGER NOT NULL DEFAULT 0;"
    "INSERT INTO inbox(msg_id, sha256, sender_id, type, urgency, created_ms, received_ms,"
    " content_type, payload, receipt) VALUES(x'0b0000000000000000000000000000aa', zeroblob(32),"
    " 'fr.snated', 'snated.transmission', 1, 5, 6, 'x', x'', x'00');"
    "INSERT INTO deadlines VALUES('0b0000000000000000000000000000aa', 'snated.transmission',"
    " 'evaluation', 'E', 'S', 1, 2, 0);"
    "PRAGMA user_version=4;";

/* Run sql on the database file at path with a connection of its own, as
 * an older program (or an administrator) would: SQLITE_OK or the error,
 * printed with what. */
static int s_raw_exec(const char *path, const char *sql, const char *what)
{
    sqlite3 *db = NULL;
    char *err = NULL;
    int r = sqlite3_open(path, &db);
    if (r == SQLITE_OK)
        r = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (r != SQLITE_OK)
        fprintf(stderr, "%s: %s\n", what, err ? err : sqlite3_errstr(r));
    sqlite3_free(err);
    sqlite3_close(db);
    return r;
}

/* One row's count(*) on the file at path; -1 on error. */
static int64_t s_raw_count(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (sqlite3_open(path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void test_migrate_v4(void)
{
    if (OPS != &edge_store_sqlite_ops)
        return;
    char p[400];
    snprintf(p, sizeof p, "%s/edge-v4.db", s_dir);
    REQUIRE(s_raw_exec(p, s_schema_v4, "v4 schema") == SQLITE_OK);
    edge_store_t *s = NULL;
    REQUIRE(OPS->open(p, &s) == EGIDE_OK);
    uint8_t old[16] = {0x0b};
    old[15] = 0xaa;
    edge_inbox_row_t row;
    CHECK_RC(OPS->inbox_get(s, old, false, &row), EGIDE_OK);
    CHECK(row.case_id == 0 && row.commune[0] == '\0'); /* not backfilled */
    int64_t cid = 0;
    CHECK_RC(OPS->case_of(s, old, &cid), EGIDE_ERR_NOTFOUND);
    /* the old deadlines row is not an obligation */
    edge_oblig_counts_t c;
    CHECK_RC(OPS->obligation_counts(s, 0, &c), EGIDE_OK);
    CHECK(c.open + c.overdue + c.met + c.late + c.released == 0);
    /* two replies to the old message: one case */
    int64_t c1 = 0, c2 = 0;
    CHECK_RC(s_out_case(s, 301, old, NULL, &c1), EGIDE_OK);
    CHECK_RC(s_out_case(s, 302, old, NULL, &c2), EGIDE_OK);
    CHECK(c1 > 0 && c1 == c2);
    CHECK_RC(OPS->case_of(s, old, &cid), EGIDE_OK);
    CHECK(cid == c1);
    OPS->close(&s);
    /* reopening migrates nothing twice */
    REQUIRE(OPS->open(p, &s) == EGIDE_OK);
    CHECK_RC(OPS->case_of(s, old, &cid), EGIDE_OK);
    OPS->close(&s);
}

/* Migration 14: the recipients of messages sent before it get their
 * message's expiry, expiry then finds them through its partial indexes
 * (an accepted message's pending recipient expires, a delivered one and a
 * message not yet due do not), and an insert that does not give the
 * expiry (older code) has it filled by the trigger.  SQLite-only. */
static void test_migrate_expiry(void)
{
    if (OPS != &edge_store_sqlite_ops)
        return;
/* Message k's id: k, then 15 zero bytes (as SQL, and as C). */
#define X0A   "x'0a000000000000000000000000000000'"
#define X0B   "x'0b000000000000000000000000000000'"
#define X0C   "x'0c000000000000000000000000000000'"
#define X0D   "x'0d000000000000000000000000000000'"
#define ID(k) ((const uint8_t[16]){k})
    char p[400];
    snprintf(p, sizeof p, "%s/edge-v13.db", s_dir);
    edge_store_t *s = NULL;
    REQUIRE(OPS->open(p, &s) == EGIDE_OK);
    OPS->close(&s);
    /* Back to version 13 as it was, with three messages in its form: 0a
     * accepted (expired; x pending, y delivered), 0b queued (expired), 0c
     * queued (expires at 5000). */
    REQUIRE(s_raw_exec(p,
                       "DROP TRIGGER outbox_rcpt_expiry_fill; DROP INDEX outbox_rcpt_expiry;"
                       "DROP INDEX outbox_queued_expiry;"
                       "ALTER TABLE outbox_rcpt DROP COLUMN expires_ms;"
                       "INSERT INTO outbox(msg_id, seq, type, urgency, created_ms, expires_ms,"
                       " envelope, sha256, state) VALUES"
                       " (" X0A ", 1, 't', 1, 1, 1000, x'00', zeroblob(32), 1),"
                       " (" X0B ", 2, 't', 1, 1, 1000, x'00', zeroblob(32), 0),"
                       " (" X0C ", 3, 't', 1, 1, 5000, x'00', zeroblob(32), 0);"
                       "INSERT INTO outbox_rcpt(msg_id, node_id, state) VALUES"
                       " (" X0A ", 'x', 0), (" X0A ", 'y', 1),"
                       " (" X0B ", 'x', 0), (" X0C ", 'x', 0);"
                       "PRAGMA user_version=13;",
                       "v13") == SQLITE_OK);
    REQUIRE(OPS->open(p, &s) == EGIDE_OK);
    size_t n = 99;
    CHECK_RC(OPS->outbox_expire(s, 2000, &n), EGIDE_OK);
    CHECK(n == 1); /* 0b, the queued one past its expiry */
    edge_rcpt_row_t rr[EGIDE_MAX_RECIPIENTS];
    size_t nr = 0, pending = 0;
    CHECK_RC(OPS->rcpt_list(s, ID(0x0a), rr, EGIDE_MAX_RECIPIENTS, &nr, &pending), EGIDE_OK);
    CHECK(nr == 2 && pending == 0);
    CHECK(nr == 2 && rr[0].state == EDGE_RCPT_EXPIRED && rr[1].state == EDGE_RCPT_DELIVERED);
    edge_outbox_row_t row;
    CHECK_RC(OPS->outbox_get(s, ID(0x0a), &row), EGIDE_OK);
    CHECK(row.state == EDGE_OUT_ACCEPTED);
    CHECK_RC(OPS->rcpt_list(s, ID(0x0b), rr, EGIDE_MAX_RECIPIENTS, &nr, &pending), EGIDE_OK);
    CHECK(nr == 1 && rr[0].state == EDGE_RCPT_EXPIRED);
    CHECK_RC(OPS->outbox_get(s, ID(0x0b), &row), EGIDE_OK);
    CHECK(row.state == EDGE_OUT_EXPIRED);
    CHECK_RC(OPS->rcpt_list(s, ID(0x0c), rr, EGIDE_MAX_RECIPIENTS, &nr, &pending), EGIDE_OK);
    CHECK(nr == 1 && rr[0].state == EDGE_RCPT_PENDING && pending == 1);
    OPS->close(&s);
    /* An insert without the expiry: the trigger gives it the message's. */
    CHECK(s_raw_exec(p,
                     "INSERT INTO outbox(msg_id, seq, type, urgency, created_ms, expires_ms,"
                     " envelope, sha256, state) VALUES"
                     " (" X0D ", 4, 't', 1, 1, 2500, x'00', zeroblob(32), 1);"
                     "INSERT INTO outbox_rcpt(msg_id, node_id, state) VALUES"
                     " (" X0D ", 'x', 0);",
                     "insert without expiry") == SQLITE_OK);
    REQUIRE(OPS->open(p, &s) == EGIDE_OK);
    CHECK_RC(OPS->outbox_expire(s, 2400, &n), EGIDE_OK);
    CHECK_RC(OPS->rcpt_list(s, ID(0x0d), rr, EGIDE_MAX_RECIPIENTS, &nr, &pending), EGIDE_OK);
    CHECK(nr == 1 && pending == 1);
    CHECK_RC(OPS->outbox_expire(s, 3000, &n), EGIDE_OK);
    CHECK_RC(OPS->rcpt_list(s, ID(0x0d), rr, EGIDE_MAX_RECIPIENTS, &nr, &pending), EGIDE_OK);
    CHECK(nr == 1 && rr[0].state == EDGE_RCPT_EXPIRED && pending == 0);
    CHECK_RC(OPS->rcpt_list(s, ID(0x0c), rr, EGIDE_MAX_RECIPIENTS, &nr, &pending), EGIDE_OK);
    CHECK(nr == 1 && pending == 1); /* 0c expires at 5000 */
    OPS->close(&s);
    /* The store's own insert gives the expiry itself (the trigger off). */
    CHECK(s_raw_exec(p, "DROP TRIGGER outbox_rcpt_expiry_fill", "drop trigger") == SQLITE_OK);
    REQUIRE(OPS->open(p, &s) == EGIDE_OK);
    static const char *const to[] = {"x", "y"};
    CHECK_RC(s_add(s, 77, 1, to, 2, 4000), EGIDE_OK);
    OPS->close(&s);
    CHECK(s_raw_count(p, "SELECT count(*) FROM outbox_rcpt WHERE expires_ms = 4000") == 2);
#undef ID
#undef X0A
#undef X0B
#undef X0C
#undef X0D
}

static edge_obligation_t s_oblig(int64_t case_id, const char *name, int year, int64_t due,
                                 edge_oblig_role role)
{
    edge_obligation_t o;
    memset(&o, 0, sizeof o);
    o.case_id = case_id;
    snprintf(o.name, sizeof o.name, "%s", name);
    o.year = year;
    strcpy(o.actor, role == EDGE_OBLIG_ACT ? "71.crip" : "71.tas.cluny-tournus");
    o.role = role;
    s_id(o.start_msg, (int)case_id);
    strcpy(o.start_type, "snated.transmission");
    o.start_ms = 100;
    o.declared_ms = 42;
    o.due_ms = due;
    o.practice = year == 0;
    strcpy(o.label, "Évaluation de l'information préoccupante (3 mois)");
    strcpy(o.source, "L226-3");
    return o;
}

static void test_obligations(void)
{
    edge_store_t *s = s_open();
    REQUIRE(s);
    bool created = false;
    int64_t id1 = 0, id2 = 0;
    edge_obligation_t o = s_oblig(1, "evaluation", 0, 5000, EDGE_OBLIG_ACT);
    CHECK_RC(OPS->obligation_open(s, &o, &created, &id1), EGIDE_OK);
    CHECK(created && id1 > 0);
    /* UNIQUE(case, name, year) keeps the first: its clock does not move */
    edge_obligation_t later = s_oblig(1, "evaluation", 0, 9000, EDGE_OBLIG_OVERSEE);
    CHECK_RC(OPS->obligation_open(s, &later, &created, &id2), EGIDE_OK);
    CHECK(!created && id2 == id1);
    CHECK_RC(OPS->obligation_open(s, &later, NULL, NULL), EGIDE_OK);
    /* bad arguments */
    edge_obligation_t bad = o;
    bad.name[0] = '\0';
    CHECK_RC(OPS->obligation_open(s, &bad, &created, NULL), EGIDE_ERR_INVALID);
    bad = o;
    bad.actor[0] = '\0';
    CHECK_RC(OPS->obligation_open(s, &bad, &created, NULL), EGIDE_ERR_INVALID);
    bad = o;
    bad.role = (edge_oblig_role)7;
    CHECK_RC(OPS->obligation_open(s, &bad, &created, NULL), EGIDE_ERR_INVALID);
    bad = o;
    bad.case_id = -1;
    CHECK_RC(OPS->obligation_open(s, &bad, &created, NULL), EGIDE_ERR_INVALID);
    bad = o;
    bad.label[0] = '\0';
    CHECK_RC(OPS->obligation_open(s, &bad, &created, NULL), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->obligation_open(s, NULL, &created, NULL), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->obligation_open(NULL, &o, &created, NULL), EGIDE_ERR_INVALID);

    edge_oblig_filter_t f;
    memset(&f, 0, sizeof f);
    f.role = -1;
    f.limit = 10;
    edge_obligation_t *rows = NULL;
    size_t n = 0;
    edge_oblig_cursor_t next;
    CHECK_RC(OPS->obligation_list(s, &f, &rows, &n, &next), EGIDE_OK);
    REQUIRE(n == 1);
    CHECK(rows[0].id == id1 && rows[0].due_ms == 5000 && rows[0].role == EDGE_OBLIG_ACT &&
          rows[0].state == EGIDE_DEADLINE_OPEN && rows[0].declared_ms == 42 &&
          strcmp(rows[0].label, o.label) == 0 && !rows[0].has_closed_by && !next.more &&
          memcmp(rows[0].start_msg, o.start_msg, 16) == 0 && rows[0].practice);
    free(rows);

    /* yearly rows of two years; closing year N leaves N+1 open */
    edge_obligation_t y1 = s_oblig(0, "observatory_export", 2026, 6000, EDGE_OBLIG_ACT);
    edge_obligation_t y2 = s_oblig(0, "observatory_export", 2027, 7000, EDGE_OBLIG_ACT);
    CHECK_RC(OPS->obligation_open(s, &y1, &created, NULL), EGIDE_OK);
    CHECK(created);
    CHECK_RC(OPS->obligation_open(s, &y2, &created, NULL), EGIDE_OK);
    CHECK(created);
    uint8_t by[16];
    s_id(by, 321);
    size_t closed = 9;
    CHECK_RC(OPS->obligation_close(s, 0, "observatory_export", 2026, -1, false, 6500, by, &closed),
             EGIDE_OK);
    CHECK(closed == 1);
    /* a second close changes nothing (only open rows close) */
    CHECK_RC(OPS->obligation_close(s, 0, "observatory_export", 2026, -1, false, 6600, by, &closed),
             EGIDE_OK);
    CHECK(closed == 0);
    f.state = EDGE_OBLIG_Q_LATE;
    CHECK_RC(OPS->obligation_list(s, &f, &rows, &n, &next), EGIDE_OK);
    CHECK(n == 1 && rows[0].year == 2026 && rows[0].closed_ms == 6500 && rows[0].has_closed_by &&
          memcmp(rows[0].closed_by, by, 16) == 0);
    free(rows);
    f.state = EDGE_OBLIG_Q_OPEN;
    f.has_case = true;
    f.case_id = 0;
    CHECK_RC(OPS->obligation_list(s, &f, &rows, &n, &next), EGIDE_OK);
    CHECK(n == 1 && rows[0].year == 2027);
    free(rows);
    f.has_case = false;

    /* met on time; release only touches "act" rows */
    CHECK_RC(
        OPS->obligation_close(s, 1, "evaluation", 0, EDGE_OBLIG_OVERSEE, true, 4000, by, &closed),
        EGIDE_OK);
    CHECK(closed == 0);
    CHECK_RC(OPS->obligation_close(s, 1, "evaluation", 0, -1, false, 5000, by, &closed), EGIDE_OK);
    CHECK(closed == 1);
    f.state = EDGE_OBLIG_Q_MET;
    CHECK_RC(OPS->obligation_list(s, &f, &rows, &n, &next), EGIDE_OK);
    CHECK(n == 1 && rows[0].id == id1 && rows[0].closed_ms == 5000);
    free(rows);
    edge_obligation_t r = s_oblig(2, "evaluation", 0, 5000, EDGE_OBLIG_ACT);
    CHECK_RC(OPS->obligation_open(s, &r, &created, NULL), EGIDE_OK);
    CHECK_RC(OPS->obligation_close(s, 2, "evaluation", 0, EDGE_OBLIG_ACT, true, 9000, by, &closed),
             EGIDE_OK);
    CHECK(closed == 1);
    f.state = EDGE_OBLIG_Q_RELEASED;
    CHECK_RC(OPS->obligation_list(s, &f, &rows, &n, &next), EGIDE_OK);
    CHECK(n == 1 && rows[0].case_id == 2 && rows[0].state == EGIDE_DEADLINE_RELEASED);
    free(rows);
    CHECK_RC(OPS->obligation_close(s, 1, "", 0, -1, false, 1, by, &closed), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->obligation_close(s, 1, NULL, 0, -1, false, 1, by, &closed), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->obligation_close(s, -1, "x", 0, -1, false, 1, by, &closed), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->obligation_close(s, 1, "x", 0, -1, false, 1, NULL, &closed), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->obligation_close(s, 1, "x", 0, 5, false, 1, by, &closed), EGIDE_ERR_INVALID);

    edge_oblig_counts_t c;
    CHECK_RC(OPS->obligation_counts(s, 6999, &c), EGIDE_OK);
    CHECK(c.open == 1 && c.overdue == 0 && c.met == 1 && c.late == 1 && c.released == 1);
    CHECK_RC(OPS->obligation_counts(s, 7001, &c), EGIDE_OK);
    CHECK(c.open == 0 && c.overdue == 1);
    CHECK_RC(OPS->obligation_counts(s, 1, NULL), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->obligation_counts(NULL, 1, &c), EGIDE_ERR_INVALID);

    /* list arguments */
    f.state = EDGE_OBLIG_Q_ANY;
    f.limit = 0;
    CHECK_RC(OPS->obligation_list(s, &f, &rows, &n, &next), EGIDE_ERR_INVALID);
    f.limit = EDGE_OBLIG_PAGE_MAX + 1;
    CHECK_RC(OPS->obligation_list(s, &f, &rows, &n, &next), EGIDE_ERR_INVALID);
    f.limit = 10;
    f.state = (edge_oblig_query)EDGE_OBLIG_Q__COUNT;
    CHECK_RC(OPS->obligation_list(s, &f, &rows, &n, &next), EGIDE_ERR_INVALID);
    f.state = EDGE_OBLIG_Q_ANY;
    f.role = 2;
    CHECK_RC(OPS->obligation_list(s, &f, &rows, &n, &next), EGIDE_ERR_INVALID);
    bool exact = false;
    CHECK_RC(OPS->obligation_count(s, &f, NULL, &exact), EGIDE_ERR_INVALID);
    int64_t total_ = 0;
    CHECK_RC(OPS->obligation_count(s, &f, &total_, NULL), EGIDE_ERR_INVALID);
    f.role = -1;
    CHECK_RC(OPS->obligation_list(s, &f, NULL, &n, &next), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->obligation_list(s, &f, &rows, &n, NULL), EGIDE_ERR_INVALID);

    /* recurring: the next occurrence only once the running one is closed,
     * never twice for one starting message; a message does not close the
     * occurrence it started */
    edge_obligation_t rr = s_oblig(9, "situation_report_next", 0, 8000, EDGE_OBLIG_ACT);
    rr.recurring = true;
    int64_t rid1 = 0, rid2 = 0, rid = 0;
    CHECK_RC(OPS->obligation_open(s, &rr, &created, &rid1), EGIDE_OK);
    CHECK(created && rid1 > 0);
    edge_obligation_t rr2 = rr;
    s_id(rr2.start_msg, 901);
    rr2.due_ms = 9000;
    CHECK_RC(OPS->obligation_open(s, &rr2, &created, &rid), EGIDE_OK);
    CHECK(!created && rid == rid1); /* occurrence 1 still open */
    CHECK_RC(OPS->obligation_close(s, 9, rr.name, 0, -1, false, 8500, rr.start_msg, &closed),
             EGIDE_OK);
    CHECK(closed == 0); /* its own start */
    CHECK_RC(OPS->obligation_close(s, 9, rr.name, 0, -1, false, 7500, rr2.start_msg, &closed),
             EGIDE_OK);
    CHECK(closed == 1);
    CHECK_RC(OPS->obligation_open(s, &rr2, &created, &rid2), EGIDE_OK);
    CHECK(created && rid2 > rid1);
    CHECK_RC(OPS->obligation_open(s, &rr2, &created, &rid), EGIDE_OK);
    CHECK(!created && rid == rid2); /* noted twice */
    CHECK_RC(OPS->obligation_close(s, 9, rr.name, 0, -1, false, 8600, rr2.start_msg, &closed),
             EGIDE_OK);
    CHECK(closed == 0);
    f.has_case = true;
    f.case_id = 9;
    f.state = EDGE_OBLIG_Q_ANY;
    CHECK_RC(OPS->obligation_list(s, &f, &rows, &n, &next), EGIDE_OK);
    REQUIRE(n == 2);
    CHECK(rows[0].id == rid1 && rows[0].occurrence == 1 && rows[0].state == EGIDE_DEADLINE_MET);
    CHECK(memcmp(rows[0].closed_by, rr2.start_msg, 16) == 0);
    CHECK(rows[1].id == rid2 && rows[1].occurrence == 2 && rows[1].state == EGIDE_DEADLINE_OPEN);
    free(rows);
    OPS->close(&s);
}

/* Paging: every row exactly once across pages, in (due_ms, id) order, with
 * ties on due_ms split across pages; the filters and the count agree. */
static void test_obligation_paging(void)
{
    edge_store_t *s = s_open();
    REQUIRE(s);
    enum { N = 37 };
    int64_t ids[N];
    for (int i = 0; i < N; i++) {
        /* dues repeat (i % 5), roles alternate */
        edge_obligation_t o = s_oblig(100 + i, "evaluation", 0, 1000 * (i % 5),
                                      i % 2 ? EDGE_OBLIG_OVERSEE : EDGE_OBLIG_ACT);
        bool created = false;
        CHECK_RC(OPS->obligation_open(s, &o, &created, &ids[i]), EGIDE_OK);
        CHECK(created);
    }
    static const int roles[] = {-1, EDGE_OBLIG_ACT, EDGE_OBLIG_OVERSEE};
    static const edge_oblig_query states[] = {EDGE_OBLIG_Q_ANY, EDGE_OBLIG_Q_OPEN};
    for (size_t ri = 0; ri < 3; ri++)
        for (size_t si = 0; si < 2; si++) {
            edge_oblig_filter_t f;
            memset(&f, 0, sizeof f);
            f.state = states[si];
            f.role = roles[ri];
            f.limit = 4;
            int seen[N] = {0};
            int64_t last_due = INT64_MIN, last_id = 0;
            size_t total = 0, pages = 0;
            bool ordered = true;
            for (;;) {
                edge_obligation_t *rows = NULL;
                size_t n = 0;
                edge_oblig_cursor_t next;
                REQUIRE(OPS->obligation_list(s, &f, &rows, &n, &next) == EGIDE_OK);
                pages++;
                for (size_t k = 0; k < n; k++) {
                    ordered = ordered && (rows[k].due_ms > last_due ||
                                          (rows[k].due_ms == last_due && rows[k].id > last_id));
                    last_due = rows[k].due_ms;
                    last_id = rows[k].id;
                    for (int i = 0; i < N; i++)
                        if (ids[i] == rows[k].id)
                            seen[i]++;
                    total++;
                }
                free(rows);
                if (!next.more)
                    break;
                CHECK(n == 4);
                f.has_cursor = true;
                f.cursor_due_ms = next.due_ms;
                f.cursor_id = next.id;
                REQUIRE(pages < 100);
            }
            CHECK(ordered);
            size_t want = 0;
            for (int i = 0; i < N; i++) {
                bool in =
                    roles[ri] < 0 || (i % 2 ? EDGE_OBLIG_OVERSEE : EDGE_OBLIG_ACT) == roles[ri];
                want += in;
                CHECK(seen[i] == (in ? 1 : 0));
            }
            CHECK(total == want);
            int64_t count = -1;
            bool exact = false;
            CHECK_RC(OPS->obligation_count(s, &f, &count, &exact), EGIDE_OK);
            CHECK(count == (int64_t)want && exact);
        }
    /* due bounds and overdue */
    edge_oblig_filter_t f;
    memset(&f, 0, sizeof f);
    f.role = -1;
    f.limit = EDGE_OBLIG_PAGE_MAX;
    f.has_due_after = true;
    f.due_after_ms = 1000;
    f.has_due_before = true;
    f.due_before_ms = 3000;
    edge_obligation_t *rows = NULL;
    size_t n = 0;
    edge_oblig_cursor_t next;
    CHECK_RC(OPS->obligation_list(s, &f, &rows, &n, &next), EGIDE_OK);
    bool in_bounds = true;
    for (size_t k = 0; k < n; k++)
        in_bounds = in_bounds && rows[k].due_ms >= 1000 && rows[k].due_ms < 3000;
    CHECK(in_bounds && n == 15 && !next.more); /* i % 5 in {1, 2}: 8 + 7 */
    free(rows);
    memset(&f, 0, sizeof f);
    f.state = EDGE_OBLIG_Q_OVERDUE;
    f.role = -1;
    f.now_ms = 1000;
    f.limit = EDGE_OBLIG_PAGE_MAX;
    CHECK_RC(OPS->obligation_list(s, &f, &rows, &n, &next), EGIDE_OK);
    CHECK(n == 8); /* due 0 < now 1000: i % 5 == 0 */
    free(rows);
    int64_t count = 0;
    bool exact = false;
    CHECK_RC(OPS->obligation_count(s, &f, &count, &exact), EGIDE_OK);
    CHECK(count == 8 && exact);
    /* closed ones: the count by state alone (the counters) and by state
     * and role (the index) agree with what was closed */
    static const uint8_t by[16] = {0x77};
    size_t closed = 0;
    for (int i = 0; i < 6; i++) {
        size_t k = 0;
        CHECK_RC(OPS->obligation_close(s, 100 + i, "evaluation", 0, -1, i == 5, 1500, by, &k),
                 EGIDE_OK);
        closed += k;
    }
    CHECK(closed == 6);
    static const struct {
        edge_oblig_query state;
        int role;
        int64_t want;
    } by_state[] = {
        /* i 0..4 closed at 1500 against due 1000 * (i % 5): 0 met (due 0,
         * 1000 late), 2..4 met; i 5 released */
        {EDGE_OBLIG_Q_MET, -1, 3},      {EDGE_OBLIG_Q_MET, EDGE_OBLIG_ACT, 2},      /* i 2, 4 */
        {EDGE_OBLIG_Q_LATE, -1, 2},     {EDGE_OBLIG_Q_LATE, EDGE_OBLIG_OVERSEE, 1}, /* i 1 */
        {EDGE_OBLIG_Q_RELEASED, -1, 1}, {EDGE_OBLIG_Q_OPEN, -1, N - 6},
        {EDGE_OBLIG_Q_ANY, -1, N},
    };
    for (size_t i = 0; i < sizeof by_state / sizeof by_state[0]; i++) {
        memset(&f, 0, sizeof f);
        f.state = by_state[i].state;
        f.role = by_state[i].role;
        count = -1;
        exact = false;
        CHECK_RC(OPS->obligation_count(s, &f, &count, &exact), EGIDE_OK);
        if (count != by_state[i].want || !exact)
            fprintf(stderr, "count %zu: %lld, want %lld\n", i, (long long)count,
                    (long long)by_state[i].want);
        CHECK(count == by_state[i].want && exact);
    }
    memset(&f, 0, sizeof f);
    f.role = -1;
    f.limit = EDGE_OBLIG_PAGE_MAX;
    f.has_case = true;
    f.case_id = 105;
    f.state = EDGE_OBLIG_Q_ANY;
    CHECK_RC(OPS->obligation_list(s, &f, &rows, &n, &next), EGIDE_OK);
    CHECK(n == 1 && rows[0].id == ids[5]);
    free(rows);
    OPS->close(&s);
}

static void test_state_names(void)
{
    CHECK_STREQ(edge_oblig_role_name(EDGE_OBLIG_ACT), "act");
    CHECK_STREQ(edge_oblig_role_name(EDGE_OBLIG_OVERSEE), "oversee");
    CHECK_STREQ(edge_oblig_role_name(2), "unknown");
    edge_oblig_role role = EDGE_OBLIG_ACT;
    CHECK_RC(edge_oblig_role_parse("oversee", &role), EGIDE_OK);
    CHECK(role == EDGE_OBLIG_OVERSEE);
    CHECK_RC(edge_oblig_role_parse("acts", &role), EGIDE_ERR_INVALID);
    edge_oblig_query q = EDGE_OBLIG_Q_ANY;
    CHECK_RC(edge_oblig_query_parse("overdue", &q), EGIDE_OK);
    CHECK(q == EDGE_OBLIG_Q_OVERDUE);
    CHECK_STREQ(edge_oblig_query_name(EDGE_OBLIG_Q_RELEASED), "released");
    CHECK_RC(edge_oblig_query_parse("closed", &q), EGIDE_ERR_INVALID);
    CHECK_RC(edge_oblig_query_parse(NULL, &q), EGIDE_ERR_INVALID);
    CHECK_STREQ(edge_out_state_name(EDGE_OUT_QUEUED), "queued");
    CHECK_STREQ(edge_out_state_name(EDGE_OUT_EXPIRED), "expired");
    CHECK_STREQ(edge_out_state_name(4), "unknown");
    CHECK_STREQ(edge_out_state_name(-1), "unknown");
    CHECK_STREQ(edge_rcpt_state_name(EDGE_RCPT_PENDING), "queued");
    CHECK_STREQ(edge_rcpt_state_name(EDGE_RCPT_ACKNOWLEDGED), "acknowledged");
    CHECK_STREQ(edge_rcpt_state_name(EDGE_RCPT_STATE__COUNT), "unknown");
    CHECK_STREQ(edge_in_state_name(EDGE_IN_DELIVERED), "delivered");
    CHECK_STREQ(edge_in_state_name(2), "unknown");
    CHECK_STREQ(edge_in_state_name(EDGE_IN_ACKNOWLEDGED), "acknowledged");
    edge_out_state os;
    edge_in_state is;
    CHECK_RC(edge_out_state_parse("rejected", &os), EGIDE_OK);
    CHECK(os == EDGE_OUT_REJECTED);
    CHECK_RC(edge_out_state_parse("delivered", &os), EGIDE_ERR_INVALID);
    CHECK_RC(edge_out_state_parse(NULL, &os), EGIDE_ERR_INVALID);
    CHECK_RC(edge_in_state_parse("acknowledged", &is), EGIDE_OK);
    CHECK(is == EDGE_IN_ACKNOWLEDGED);
    CHECK_RC(edge_in_state_parse("", &is), EGIDE_ERR_INVALID);
    CHECK_RC(edge_in_state_parse("queued", &is), EGIDE_ERR_INVALID);
}

/* Issue 13 item 6: the overall state of a sent message is never better
 * than its worst recipient, through the store's own recipient rows. */
static void test_overall_state(void)
{
    edge_store_t *s = s_open();
    REQUIRE(s);
    const char *to[] = {"71.crip", "71.tas.macon"};
    uint8_t id[16];
    s_id(id, 900);
    REQUIRE(s_add(s, 900, 1, to, 2, 1LL << 50) == EGIDE_OK);
    edge_rcpt_row_t r[EGIDE_MAX_RECIPIENTS];
    size_t n = 0;
    bool ch = false;
    edge_outbox_row_t m;
#define OVERALL()                                                                                  \
    (OPS->outbox_get(s, id, &m) == EGIDE_OK &&                                                     \
             OPS->rcpt_list(s, id, r, EGIDE_MAX_RECIPIENTS, &n, NULL) == EGIDE_OK                  \
         ? edge_overall_state(m.state, r, n)                                                       \
         : "error")
    CHECK_STREQ(OVERALL(), "queued");
    CHECK_RC(OPS->outbox_mark_accepted(s, id, 1500, 7, &ch), EGIDE_OK);
    CHECK_STREQ(OVERALL(), "accepted");
    CHECK_RC(OPS->rcpt_update(s, id, "71.tas.macon", EDGE_RCPT_DELIVERED, 0, 2000, &ch), EGIDE_OK);
    CHECK_STREQ(OVERALL(), "accepted"); /* the CRIP has not answered yet */
    /* The CRIP refuses it: the message must not look delivered. */
    CHECK_RC(OPS->rcpt_update(s, id, "71.crip", EDGE_RCPT_REJECTED, 13, 2100, &ch), EGIDE_OK);
    CHECK_STREQ(OVERALL(), "partly_rejected");
    CHECK_RC(OPS->rcpt_acknowledge(s, id, "71.tas.macon", 2200, &ch), EGIDE_OK);
    CHECK_STREQ(OVERALL(), "partly_rejected");
#undef OVERALL
    OPS->close(&s);
}

/* Idempotency keys: remembered once, found again, a second put of the
 * key refused without touching the first; bad arguments; rolled back with
 * the transaction. */
static void test_idempotency_keys(void)
{
    edge_store_t *s = s_open();
    REQUIRE(s);
    uint8_t sha[32], id[16], sha2[32], got_sha[32], got_id[16];
    s_sha(sha, 1);
    s_sha(sha2, 2);
    s_id(id, 77);
    CHECK_RC(OPS->idem_get(s, "k-1", got_sha, got_id), EGIDE_ERR_NOTFOUND);
    CHECK_RC(OPS->idem_put(s, "k-1", sha, id, 1000), EGIDE_OK);
    CHECK_RC(OPS->idem_get(s, "k-1", got_sha, got_id), EGIDE_OK);
    CHECK(memcmp(got_sha, sha, 32) == 0 && memcmp(got_id, id, 16) == 0);
    uint8_t other[16];
    s_id(other, 78);
    CHECK_RC(OPS->idem_put(s, "k-1", sha2, other, 2000), EGIDE_ERR_EXISTS);
    CHECK_RC(OPS->idem_get(s, "k-1", got_sha, got_id), EGIDE_OK);
    CHECK(memcmp(got_sha, sha, 32) == 0 && memcmp(got_id, id, 16) == 0);
    char big[EDGE_IDEM_KEY_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK_RC(OPS->idem_put(s, big, sha, id, 1), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->idem_put(s, "", sha, id, 1), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->idem_put(NULL, "k", sha, id, 1), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->idem_get(s, NULL, got_sha, got_id), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->begin(s), EGIDE_OK);
    CHECK_RC(OPS->idem_put(s, "k-2", sha, id, 1), EGIDE_OK);
    OPS->rollback(s);
    CHECK_RC(OPS->idem_get(s, "k-2", got_sha, got_id), EGIDE_ERR_NOTFOUND);
    OPS->close(&s);
}

static void test_overall_names(void)
{
    edge_rcpt_row_t r[3];
    memset(r, 0, sizeof r);
    CHECK_STREQ(edge_overall_state(EDGE_OUT_QUEUED, NULL, 0), "queued");
    CHECK_STREQ(edge_overall_state(EDGE_OUT_REJECTED, NULL, 0), "rejected");
    CHECK_STREQ(edge_overall_state(EDGE_OUT_EXPIRED, r, 3), "expired");
    CHECK_STREQ(edge_overall_state(EDGE_OUT_ACCEPTED, NULL, 0), "accepted");
    CHECK_STREQ(edge_overall_state(EDGE_OUT_ACCEPTED, r, 3), "accepted");
    r[0].state = r[1].state = r[2].state = EDGE_RCPT_DELIVERED;
    CHECK_STREQ(edge_overall_state(EDGE_OUT_ACCEPTED, r, 3), "delivered");
    r[1].state = EDGE_RCPT_ACKNOWLEDGED;
    CHECK_STREQ(edge_overall_state(EDGE_OUT_ACCEPTED, r, 3), "delivered");
    r[0].state = r[2].state = EDGE_RCPT_ACKNOWLEDGED;
    CHECK_STREQ(edge_overall_state(EDGE_OUT_ACCEPTED, r, 3), "acknowledged");
    r[2].state = EDGE_RCPT_EXPIRED;
    CHECK_STREQ(edge_overall_state(EDGE_OUT_ACCEPTED, r, 3), "partly_expired");
    r[1].state = EDGE_RCPT_REJECTED;
    CHECK_STREQ(edge_overall_state(EDGE_OUT_ACCEPTED, r, 3), "partly_rejected");
    r[0].state = EDGE_RCPT_EXPIRED;
    CHECK_STREQ(edge_overall_state(EDGE_OUT_ACCEPTED, r, 3), "rejected");
    r[1].state = EDGE_RCPT_EXPIRED;
    CHECK_STREQ(edge_overall_state(EDGE_OUT_ACCEPTED, r, 3), "expired");
    r[0].state = EDGE_RCPT_REJECTED;
    CHECK_STREQ(edge_overall_state(EDGE_OUT_QUEUED, r, 1), "rejected");
    CHECK(edge_overall_state_known("partly_rejected"));
    CHECK(edge_overall_state_known("delivered"));
    CHECK(!edge_overall_state_known("bogus"));
    CHECK(!edge_overall_state_known(NULL));
}

/* Queue message k created at created_ms, with the sender's copy of its
 * payload ("copy-k", or empty when empty) or without one. */
static egide_rc s_add_copy(edge_store_t *s, int k, int64_t created_ms, bool copy, bool empty)
{
    uint8_t id[16], sha[32], env[24];
    char pb[32];
    s_id(id, k);
    s_sha(sha, k);
    memset(env, k, sizeof env);
    snprintf(pb, sizeof pb, "copy-%d", k);
    const char *to[] = {"71.parquet.macon"};
    edge_outbox_msg_t m = {
        .msg_id = id,
        .seq = (uint64_t)k,
        .type = "parquet.saisine",
        .urgency = 1,
        .created_ms = created_ms,
        .expires_ms = INT64_C(4102444800000),
        .envelope = env,
        .envelope_len = sizeof env,
        .sha256 = sha,
        .rcpt_ids = to,
        .n_rcpt = 1,
        .content_type = copy ? "application/x-egide-parquet-saisine" : NULL,
        .payload = copy ? (const uint8_t *)pb : NULL,
        .payload_len = copy && !empty ? strlen(pb) : 0,
    };
    return OPS->outbox_add(s, &m);
}

static void s_range_plan(const char *name, const char *plan, void *arg)
{
    if (strcmp(name, "outbox range") != 0)
        return;
    int *ok = arg;
    *ok = strstr(plan, "outbox_time_page") && !strstr(plan, "TEMP B-TREE") ? 1 : -1;
}

static void test_outbox_range(void)
{
    edge_store_t *s = s_open();
    REQUIRE(s);
    edge_sent_row_t *rows = (edge_sent_row_t *)1;
    size_t n = 9;
    /* bad arguments (and the outputs reset) */
    CHECK_RC(OPS->outbox_range(NULL, 0, 10, 0, NULL, 1, &rows, &n), EGIDE_ERR_INVALID);
    CHECK(rows == NULL && n == 0);
    CHECK_RC(OPS->outbox_range(s, 0, 10, 0, NULL, 1, NULL, &n), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->outbox_range(s, 0, 10, 0, NULL, 1, &rows, NULL), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->outbox_range(s, 0, 10, 0, NULL, 0, &rows, &n), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->outbox_range(s, 0, 10, 0, NULL, EDGE_STORE_PAGE_MAX + 1, &rows, &n),
             EGIDE_ERR_INVALID);
    /* outbox_add: a copy needs its content type, a length needs bytes */
    uint8_t id[16], sha[32], env[4] = {1, 2, 3, 4};
    s_id(id, 900);
    s_sha(sha, 900);
    const char *to[] = {"71.parquet.macon"};
    edge_outbox_msg_t bad = {.msg_id = id,
                             .seq = 900,
                             .type = "parquet.saisine",
                             .created_ms = 1,
                             .expires_ms = 2,
                             .envelope = env,
                             .envelope_len = sizeof env,
                             .sha256 = sha,
                             .rcpt_ids = to,
                             .n_rcpt = 1,
                             .payload = env,
                             .payload_len = sizeof env};
    CHECK_RC(OPS->outbox_add(s, &bad), EGIDE_ERR_INVALID);
    bad.payload = NULL;
    bad.content_type = "application/x-egide-parquet-saisine";
    CHECK_RC(OPS->outbox_add(s, &bad), EGIDE_ERR_INVALID);
    /* empty */
    CHECK_RC(OPS->outbox_range(s, INT64_MIN, INT64_MAX, 0, NULL, 10, &rows, &n), EGIDE_OK);
    CHECK(n == 0 && rows == NULL);
    /* 30 messages, three per created millisecond (ties broken by id);
     * every fifth without a copy, k = 7 with an empty one. */
    for (int k = 1; k <= 30; k++)
        CHECK_RC(s_add_copy(s, k, 1000 + k / 3, k % 5 != 0, k == 7), EGIDE_OK);
    /* The window [1001, 1008): k/3 in 1..7, k in 3..23, less 5, 10, 15, 20. */
    const int limits[] = {1, 2, 7, 100};
    for (size_t l = 0; l < 4; l++) {
        int seen[31] = {0}, total = 0, pages = 0;
        int64_t after_ms = 0, last_ms = INT64_MIN;
        uint8_t after_id[16], last_id[16];
        bool after = false;
        memset(last_id, 0, sizeof last_id);
        for (;;) {
            CHECK_RC(OPS->outbox_range(s, 1001, 1008, after_ms, after ? after_id : NULL,
                                       (size_t)limits[l], &rows, &n),
                     EGIDE_OK);
            pages++;
            CHECK(n <= (size_t)limits[l]);
            for (size_t i = 0; i < n; i++) {
                int k = rows[i].msg_id[15];
                CHECK(k >= 3 && k <= 23 && k % 5 != 0);
                seen[k]++;
                total++;
                CHECK(rows[i].created_ms == 1000 + k / 3);
                CHECK_STREQ(rows[i].type, "parquet.saisine");
                CHECK_STREQ(rows[i].content_type, "application/x-egide-parquet-saisine");
                char want[32];
                snprintf(want, sizeof want, "copy-%d", k);
                if (k == 7)
                    CHECK(rows[i].payload_len == 0 && rows[i].payload);
                else
                    CHECK(rows[i].payload_len == strlen(want) &&
                          memcmp(rows[i].payload, want, strlen(want)) == 0);
                /* strictly increasing (created_ms, msg_id) */
                CHECK(rows[i].created_ms > last_ms ||
                      (rows[i].created_ms == last_ms && memcmp(rows[i].msg_id, last_id, 16) > 0));
                last_ms = rows[i].created_ms;
                memcpy(last_id, rows[i].msg_id, 16);
            }
            if (n > 0) {
                after = true;
                after_ms = rows[n - 1].created_ms;
                memcpy(after_id, rows[n - 1].msg_id, 16);
            }
            for (size_t i = 0; i < n; i++)
                edge_sent_row_clear(&rows[i]);
            free(rows);
            if (n == 0 || pages > 100)
                break;
        }
        CHECK(total == 17);
        for (int k = 3; k <= 23; k++)
            CHECK(seen[k] == (k % 5 != 0));
        if (limits[l] == 1)
            CHECK(pages == 18);
    }
    /* The window's end is excluded, its start included. */
    CHECK_RC(OPS->outbox_range(s, 1001, 1001, 0, NULL, 10, &rows, &n), EGIDE_OK);
    CHECK(n == 0);
    CHECK_RC(OPS->outbox_range(s, 1001, 1002, 0, NULL, 10, &rows, &n), EGIDE_OK);
    CHECK(n == 2); /* k = 3, 4 and 5 share 1001, 5 has no copy; 6 is at 1002 */
    /* The copy is the sender's own: what is sent is the envelope alone. */
    uint8_t *e = NULL, want[24];
    size_t el = 0;
    s_id(id, 4);
    memset(want, 4, sizeof want);
    CHECK_RC(OPS->outbox_envelope(s, id, &e, &el), EGIDE_OK);
    CHECK(el == sizeof want && e && memcmp(e, want, sizeof want) == 0);
    free(e);
    for (size_t i = 0; i < n; i++)
        edge_sent_row_clear(&rows[i]);
    free(rows);
    edge_sent_row_clear(NULL);
    /* Through the created-time index, without a sort. */
    if (OPS == &edge_store_sqlite_ops) {
        int ok = 0;
        CHECK_RC(edge_store_sqlite_plans(s, s_range_plan, &ok), EGIDE_OK);
        CHECK(ok == 1);
    }
    OPS->close(&s);
}

/* The count behind GET /v1/deadlines' total stops one past
 * EDGE_OBLIG_COUNT_CAP (the API then says total_exact false), however many
 * rows the filter selects; under the cap it is exact.  And the totals by
 * state follow every open and close (kept by triggers). */
static void test_obligation_count_cap(void)
{
    edge_store_t *s = s_open();
    REQUIRE(s);
    REQUIRE(OPS->begin(s) == EGIDE_OK);
    for (int i = 0; i < EDGE_OBLIG_COUNT_CAP + 5; i++) {
        edge_obligation_t o = s_oblig(100 + i, "evaluation", 0, 1000 + i, EDGE_OBLIG_ACT);
        bool created = false;
        REQUIRE(OPS->obligation_open(s, &o, &created, NULL) == EGIDE_OK && created);
    }
    REQUIRE(OPS->commit(s) == EGIDE_OK);
    edge_oblig_filter_t f;
    memset(&f, 0, sizeof f);
    f.state = EDGE_OBLIG_Q_OPEN;
    f.role = -1;
    int64_t total = 0;
    bool exact = false;
    /* by state alone: the counter, exact past the cap */
    CHECK_RC(OPS->obligation_count(s, &f, &total, &exact), EGIDE_OK);
    CHECK(total == EDGE_OBLIG_COUNT_CAP + 5 && exact);
    /* by state and role: the index, which stops one past the cap */
    f.role = EDGE_OBLIG_ACT;
    CHECK_RC(OPS->obligation_count(s, &f, &total, &exact), EGIDE_OK);
    CHECK(total == EDGE_OBLIG_COUNT_CAP + 1 && !exact);
    f.role = -1;
    f.has_due_before = true;
    f.due_before_ms = 1000 + 20;
    CHECK_RC(OPS->obligation_count(s, &f, &total, &exact), EGIDE_OK);
    CHECK(total == 20 && exact);
    edge_oblig_counts_t c;
    CHECK_RC(OPS->obligation_counts(s, 1000 + 7, &c), EGIDE_OK);
    CHECK(c.overdue == 7 && c.open == EDGE_OBLIG_COUNT_CAP + 5 - 7 && c.met == 0);
    OPS->close(&s);
}

int main(void)
{
    egide_log_set_sink(s_quiet, NULL);
    snprintf(s_dir, sizeof s_dir, "/tmp/egide-test-edge-store.XXXXXX");
    if (!mkdtemp(s_dir)) {
        fprintf(stderr, "mkdtemp failed\n");
        return 1;
    }
    RUN(test_state_names);
    RUN(test_overall_names);
    for (size_t b = 0; b < sizeof s_backends / sizeof s_backends[0]; b++) {
        OPS = s_backends[b];
        fprintf(stderr, "backend %s\n", OPS->name);
        RUN(test_open_close);
        RUN(test_transactions);
        RUN(test_shared_writes);
        RUN(test_meta_and_seq);
        RUN(test_outbox);
        RUN(test_seq_raise);
        RUN(test_outbox_resequence);
        RUN(test_outbox_kept);
        RUN(test_inbox);
        RUN(test_receipts);
        RUN(test_cases);
        RUN(test_migrate_v4);
        RUN(test_migrate_expiry);
        RUN(test_obligations);
        RUN(test_obligation_paging);
        RUN(test_obligation_count_cap);
        RUN(test_overall_state);
        RUN(test_idempotency_keys);
        RUN(test_outbox_range);
    }
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
    EGIDE_TEST_DONE();
}
