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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static void test_receipts_deadlines(void)
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

    egide_deadline_t *d = NULL;
    CHECK_RC(OPS->deadline_list(s, 10, &d, &n), EGIDE_OK);
    CHECK(n == 0);
    free(d);
    egide_deadline_t in[3];
    memset(in, 0, sizeof in);
    for (int i = 0; i < 3; i++) {
        snprintf(in[i].msg_id, sizeof in[i].msg_id, "%032d", i);
        strcpy(in[i].type, "ip.transmission");
        snprintf(in[i].name, sizeof in[i].name, "step%d", i);
        strcpy(in[i].label, "Évaluation");
        strcpy(in[i].source, "L226-3");
        in[i].start_ms = 10;
        in[i].due_ms = 1000 - i * 100;
        in[i].practice = i == 1;
    }
    CHECK_RC(OPS->deadline_put(s, in, 3), EGIDE_OK);
    in[0].due_ms = 1;
    CHECK_RC(OPS->deadline_put(s, in, 1), EGIDE_OK); /* the first is kept */
    CHECK_RC(OPS->deadline_put(s, NULL, 0), EGIDE_OK);
    CHECK_RC(OPS->deadline_put(s, NULL, 2), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->deadline_list(s, 10, &d, &n), EGIDE_OK);
    CHECK(n == 3 && d[0].due_ms == 800 && d[2].due_ms == 1000 && d[1].practice &&
          strcmp(d[0].label, "Évaluation") == 0 && strcmp(d[2].name, "step0") == 0);
    free(d);
    CHECK_RC(OPS->deadline_list(s, 2, &d, &n), EGIDE_OK);
    CHECK(n == 2);
    free(d);
    CHECK_RC(OPS->deadline_list(s, 0, &d, &n), EGIDE_ERR_INVALID);
    CHECK_RC(OPS->deadline_list(s, EDGE_STORE_DEADLINES_MAX + 1, &d, &n), EGIDE_ERR_INVALID);

    /* message times cover both boxes */
    edge_msg_time_t *t = NULL;
    CHECK_RC(OPS->message_times(s, 10, &t, &n), EGIDE_OK);
    CHECK(n == 0);
    free(t);
    const char *to[] = {"71.crip"};
    CHECK_RC(s_add(s, 5, 0, to, 1, INT64_C(4102444800000)), EGIDE_OK);
    edge_inbox_put_result res;
    uint8_t *stored = NULL;
    size_t sl = 0;
    CHECK_RC(s_inbox(s, 7, 7, 7000, &res, &stored, &sl), EGIDE_OK);
    CHECK_RC(OPS->message_times(s, 10, &t, &n), EGIDE_OK);
    CHECK(n == 2);
    bool out_seen = false, in_seen = false;
    for (size_t i = 0; i < n; i++) {
        out_seen = out_seen || (t[i].time_ms == 1005 && !t[i].has_in_reply_to);
        in_seen = in_seen || (t[i].time_ms == 7000 && t[i].has_in_reply_to);
    }
    CHECK(out_seen && in_seen);
    free(t);
    CHECK_RC(OPS->message_times(s, 1, &t, &n), EGIDE_OK);
    CHECK(n == 1);
    free(t);
    CHECK_RC(OPS->message_times(s, 0, &t, &n), EGIDE_ERR_INVALID);
    OPS->close(&s);
}

static void test_state_names(void)
{
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
        RUN(test_meta_and_seq);
        RUN(test_outbox);
        RUN(test_seq_raise);
        RUN(test_outbox_resequence);
        RUN(test_inbox);
        RUN(test_receipts_deadlines);
        RUN(test_overall_state);
        RUN(test_idempotency_keys);
    }
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
    EGIDE_TEST_DONE();
}
