/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_broker_store.c - the broker store conformance test: the contract of
 * every operation of broker_store_ops_t (broker_store.h), written against
 * the broker_store_* functions only, and run once per backend of
 * broker_store_backends[] so that it runs unchanged against PostgreSQL when
 * that backend is added.  `test_broker_store NAME` runs one backend only.
 * A backend's location comes from EGIDE_TEST_STORE_<NAME> (e.g. a
 * conninfo), else a fresh file in a temporary directory (SQLite) or a fresh
 * database on the server of pg_fixture.h (PostgreSQL: EGIDE_TEST_PG, else a
 * temporary cluster this test starts and stops).
 *
 * Checked: write then read back; state transitions of a delivery and their
 * refusals; duplicates refused (accept) or idempotent (rejections); order of
 * due deliveries (urgency, then acceptance) and relays (oldest first);
 * empty results; bad arguments; a reader refuses writes; data survives a
 * reopen; the audit log shares the store's transactions; and injected write
 * failures (each write of an accept in turn, and the commit) leave nothing
 * half-written, after which the same accept succeeds.
 */
#include "broker_store.h"

#include <poll.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "egide/base/egide_rc.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/store/egide_pg.h"
#include "egide_test.h"
#include "pg_fixture.h"

static const broker_store_ops_t *s_ops; /* backend under test */
static char s_tmp[256];
static int s_count;

/* The second PostgreSQL pass runs every test with a wait hook, as the
 * broker's loop sets one: every statement, COMMIT included, is then sent
 * without blocking and awaited through the hook (egide_pg_set_wait). */
static bool s_waiting;
static int s_hook_calls, s_hook_bad_fd;

static void s_hook(void *arg, int fd, bool write, int timeout_ms)
{
    (void)arg;
    s_hook_calls++;
    if (fd < 0 || timeout_ms <= 0 || timeout_ms > EGIDE_PG_WAIT_MS) {
        s_hook_bad_fd++;
        return;
    }
    struct pollfd p = {.fd = fd, .events = (short)(POLLIN | (write ? POLLOUT : 0))};
    (void)poll(&p, 1, timeout_ms);
}

/* A fresh, empty store of the backend under test. */
static broker_store_t *s_fresh(char *loc, size_t size)
{
    char env[64];
    snprintf(env, sizeof env, "EGIDE_TEST_STORE_%s", s_ops->name);
    for (char *p = env; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    const char *given = getenv(env);
    if (given)
        snprintf(loc, size, "%s", given);
    else if (s_ops == &broker_store_pg_ops) {
        if (pg_fixture_db(loc, size) != 0)
            return NULL;
    } else
        snprintf(loc, size, "%s/store-%s-%d.db", s_tmp, s_ops->name, ++s_count);
    broker_store_t *s = NULL;
    if (broker_store_open(s_ops, loc, false, &s) != EGIDE_OK)
        return NULL;
    if (s_waiting && broker_store_set_wait(s, s_hook, NULL) != EGIDE_OK) {
        broker_store_close(&s);
        return NULL;
    }
    return s;
}

/* An accept record: msg_id byte i, sender seq, urgency, recipients. */
typedef struct {
    uint8_t msg_id[16], sha[32];
    uint8_t data[64], receipt[40];
    const char *rcpts[4];
    broker_accept_t a;
} s_acc_t;

static void s_acc(s_acc_t *x, uint8_t id, uint64_t seq, int urgency, int64_t expires_ms,
                  const char *r1, const char *r2)
{
    memset(x, 0, sizeof *x);
    memset(x->msg_id, id, 16);
    memset(x->data, id ^ 0x5a, sizeof x->data);
    memset(x->receipt, id ^ 0xa5, sizeof x->receipt);
    egide_sha256(x->data, sizeof x->data, x->sha);
    x->rcpts[0] = r1;
    x->rcpts[1] = r2;
    x->a = (broker_accept_t){
        .msg_id = x->msg_id,
        .sha256 = x->sha,
        .sender_id = "71.crip",
        .sender_seq = seq,
        .type = "ip.transmission",
        .urgency = urgency,
        .created_ms = 1000,
        .expires_ms = expires_ms,
        .received_ms = 1001,
        .data = x->data,
        .len = sizeof x->data,
        .receipt = x->receipt,
        .receipt_len = sizeof x->receipt,
        .leaf_index = id,
        .recipients = x->rcpts,
        .n_recipients = r2 ? 2 : 1,
    };
}

/* Nothing of x is in the store. */
static void s_check_absent(broker_store_t *s, const s_acc_t *x)
{
    broker_stored_t st;
    CHECK_RC(broker_store_envelope_find(s, x->msg_id, &st), EGIDE_ERR_NOTFOUND);
    broker_delivery_t d;
    for (size_t i = 0; i < x->a.n_recipients; i++)
        CHECK_RC(broker_store_delivery_get(s, x->msg_id, x->rcpts[i], &d), EGIDE_ERR_NOTFOUND);
    uint64_t max = 99;
    CHECK_RC(broker_store_sender_max_seq(s, x->a.sender_id, &max), EGIDE_OK);
    CHECK(max == 0);
    uint64_t q = 9, r = 9;
    CHECK_RC(broker_store_counts(s, &q, &r), EGIDE_OK);
    CHECK(q == 0);
}

/* ------------------------------------------------------------ tests */

static void test_open_and_names(void)
{
    broker_store_t *s = NULL;
    CHECK_RC(broker_store_open(s_ops, NULL, false, &s), EGIDE_ERR_INVALID);
    CHECK_RC(broker_store_open(s_ops, "", false, &s), EGIDE_ERR_INVALID);
    CHECK_RC(broker_store_open(s_ops, "/x", false, NULL), EGIDE_ERR_INVALID);
    CHECK(s == NULL);
    broker_store_close(NULL);
    broker_store_close(&s); /* NULL-safe */
    CHECK_STREQ(broker_delivery_state_name(BROKER_DELIVERY_QUEUED), "queued");
    CHECK_STREQ(broker_delivery_state_name(BROKER_DELIVERY_DELIVERED), "delivered");
    CHECK_STREQ(broker_delivery_state_name(BROKER_DELIVERY_REJECTED), "rejected");
    CHECK_STREQ(broker_delivery_state_name(BROKER_DELIVERY_EXPIRED), "expired");
    CHECK_STREQ(broker_delivery_state_name((broker_delivery_state)42), "unknown");
    CHECK_STREQ(broker_delivery_state_name((broker_delivery_state)-1), "unknown");
    char loc[512];
    s = s_fresh(loc, sizeof loc);
    REQUIRE(s != NULL);
    CHECK_STREQ(broker_store_backend(s), s_ops->name);
    CHECK(broker_store_audit(s) != NULL);
    char where[512];
    CHECK_RC(broker_store_location(s, where, sizeof where), EGIDE_OK);
    CHECK_RC(broker_store_location(s, where, 1), EGIDE_ERR_LIMIT);
    CHECK_RC(broker_store_location(s, NULL, 10), EGIDE_ERR_INVALID);
    CHECK_RC(broker_store_begin(NULL), EGIDE_ERR_INVALID);
    CHECK_RC(broker_store_commit(NULL), EGIDE_ERR_INVALID);
    broker_store_rollback(NULL);
    broker_store_close(&s);
    CHECK(s == NULL);
}

static void test_accept_read_back(void)
{
    char loc[512];
    broker_store_t *s = s_fresh(loc, sizeof loc);
    REQUIRE(s != NULL);
    s_acc_t x;
    s_acc(&x, 1, 7, 2, 5000, "71.tas.macon", "71.parquet.macon");
    CHECK_RC(broker_store_begin(s), EGIDE_OK);
    CHECK_RC(broker_store_begin(s), EGIDE_ERR_STATE); /* one transaction at a time */
    CHECK_RC(broker_store_accept(s, &x.a), EGIDE_OK);
    CHECK_RC(broker_store_commit(s), EGIDE_OK);

    broker_stored_t st;
    CHECK_RC(broker_store_envelope_find(s, x.msg_id, &st), EGIDE_OK);
    CHECK(memcmp(st.sha256, x.sha, 32) == 0);
    CHECK(st.receipt_len == sizeof x.receipt && memcmp(st.receipt, x.receipt, st.receipt_len) == 0);
    broker_stored_clear(&st);
    CHECK(st.receipt == NULL);
    broker_stored_clear(NULL);
    for (int i = 0; i < 2; i++) {
        broker_delivery_t d;
        CHECK_RC(broker_store_delivery_get(s, x.msg_id, x.rcpts[i], &d), EGIDE_OK);
        CHECK(d.state == BROKER_DELIVERY_QUEUED);
        CHECK(d.attempts == 0);
        CHECK(memcmp(d.sha256, x.sha, 32) == 0);
        CHECK_STREQ(d.sender_id, "71.crip");
        CHECK_STREQ(d.type, "ip.transmission");
    }
    broker_delivery_t d;
    CHECK_RC(broker_store_delivery_get(s, x.msg_id, "71.ase", &d), EGIDE_ERR_NOTFOUND);
    uint64_t max = 0;
    bool used = false;
    CHECK_RC(broker_store_sender_max_seq(s, "71.crip", &max), EGIDE_OK);
    CHECK(max == 7);
    CHECK_RC(broker_store_sender_max_seq(s, "71.ase", &max), EGIDE_OK);
    CHECK(max == 0);
    CHECK_RC(broker_store_sender_seq_used(s, "71.crip", 7, &used), EGIDE_OK);
    CHECK(used);
    CHECK_RC(broker_store_sender_seq_used(s, "71.crip", 8, &used), EGIDE_OK);
    CHECK(!used);
    CHECK_RC(broker_store_sender_seq_used(s, "71.ase", 7, &used), EGIDE_OK);
    CHECK(!used);
    /* A lower sequence accepted later does not lower the highest. */
    s_acc_t y;
    s_acc(&y, 2, 3, 2, 5000, "71.tas.macon", NULL);
    CHECK_RC(broker_store_begin(s), EGIDE_OK);
    CHECK_RC(broker_store_accept(s, &y.a), EGIDE_OK);
    CHECK_RC(broker_store_commit(s), EGIDE_OK);
    CHECK_RC(broker_store_sender_max_seq(s, "71.crip", &max), EGIDE_OK);
    CHECK(max == 7);
    uint64_t q = 0, r = 0;
    CHECK_RC(broker_store_counts(s, &q, &r), EGIDE_OK);
    CHECK(q == 3 && r == 0);
    /* Survives a reopen; migrations run again without harm. */
    broker_store_close(&s);
    CHECK_RC(broker_store_open(s_ops, loc, false, &s), EGIDE_OK);
    REQUIRE(s != NULL);
    CHECK_RC(broker_store_envelope_find(s, y.msg_id, &st), EGIDE_OK);
    broker_stored_clear(&st);
    CHECK_RC(broker_store_counts(s, &q, &r), EGIDE_OK);
    CHECK(q == 3);
    broker_store_close(&s);
}

static void test_accept_refusals(void)
{
    char loc[512];
    broker_store_t *s = s_fresh(loc, sizeof loc);
    REQUIRE(s != NULL);
    s_acc_t x, y;
    s_acc(&x, 1, 7, 2, 5000, "71.tas.macon", NULL);
    CHECK_RC(broker_store_begin(s), EGIDE_OK);
    CHECK_RC(broker_store_accept(s, &x.a), EGIDE_OK);
    /* Same msg_id again. */
    CHECK_RC(broker_store_accept(s, &x.a), EGIDE_ERR_EXISTS);
    /* Same (sender, seq) under another msg_id: nothing of it written. */
    s_acc(&y, 2, 7, 2, 5000, "71.ase", NULL);
    CHECK_RC(broker_store_accept(s, &y.a), EGIDE_ERR_EXISTS);
    broker_stored_t st;
    CHECK_RC(broker_store_envelope_find(s, y.msg_id, &st), EGIDE_ERR_NOTFOUND);
    /* A recipient twice: the envelope and the first delivery are undone. */
    s_acc(&y, 3, 9, 2, 5000, "71.ase", "71.ase");
    CHECK_RC(broker_store_accept(s, &y.a), EGIDE_ERR_EXISTS);
    CHECK_RC(broker_store_envelope_find(s, y.msg_id, &st), EGIDE_ERR_NOTFOUND);
    broker_delivery_t d;
    CHECK_RC(broker_store_delivery_get(s, y.msg_id, "71.ase", &d), EGIDE_ERR_NOTFOUND);
    uint64_t max = 0;
    CHECK_RC(broker_store_sender_max_seq(s, "71.crip", &max), EGIDE_OK);
    CHECK(max == 7);
    /* The first accept is untouched by the failures after it. */
    CHECK_RC(broker_store_commit(s), EGIDE_OK);
    CHECK_RC(broker_store_envelope_find(s, x.msg_id, &st), EGIDE_OK);
    broker_stored_clear(&st);

    /* Bad arguments, checked before the backend. */
    CHECK_RC(broker_store_accept(NULL, &x.a), EGIDE_ERR_INVALID);
    CHECK_RC(broker_store_accept(s, NULL), EGIDE_ERR_INVALID);
    s_acc(&y, 4, 10, 2, 5000, "71.ase", NULL);
    broker_accept_t bad = y.a;
    bad.sender_seq = 0;
    CHECK_RC(broker_store_accept(s, &bad), EGIDE_ERR_INVALID);
    bad = y.a;
    bad.n_recipients = 0;
    CHECK_RC(broker_store_accept(s, &bad), EGIDE_ERR_INVALID);
    bad = y.a;
    bad.len = 0;
    CHECK_RC(broker_store_accept(s, &bad), EGIDE_ERR_INVALID);
    bad = y.a;
    bad.receipt = NULL;
    CHECK_RC(broker_store_accept(s, &bad), EGIDE_ERR_INVALID);
    bad = y.a;
    bad.sender_id = "";
    CHECK_RC(broker_store_accept(s, &bad), EGIDE_ERR_INVALID);
    char longid[BROKER_STORE_ID_MAX + 8];
    memset(longid, 'a', sizeof longid - 1);
    longid[sizeof longid - 1] = 0;
    const char *lr[1] = {longid};
    bad = y.a;
    bad.recipients = lr;
    CHECK_RC(broker_store_accept(s, &bad), EGIDE_ERR_INVALID);
    CHECK_RC(broker_store_envelope_find(s, NULL, &st), EGIDE_ERR_INVALID);
    CHECK_RC(broker_store_sender_max_seq(s, longid, &max), EGIDE_ERR_INVALID);
    CHECK_RC(broker_store_sender_max_seq(s, NULL, &max), EGIDE_ERR_INVALID);
    CHECK_RC(broker_store_delivery_get(s, x.msg_id, "", &d), EGIDE_ERR_INVALID);
    broker_store_close(&s);
}

static void test_rejections(void)
{
    char loc[512];
    broker_store_t *s = s_fresh(loc, sizeof loc);
    REQUIRE(s != NULL);
    uint8_t id[16], sha[32], other[32], r1[8] = "first", r2[8] = "second";
    memset(id, 9, sizeof id);
    memset(sha, 1, sizeof sha);
    memset(other, 2, sizeof other);
    broker_stored_t st;
    CHECK_RC(broker_store_rejection_find(s, id, sha, &st), EGIDE_ERR_NOTFOUND);
    CHECK_RC(broker_store_begin(s), EGIDE_OK);
    CHECK_RC(broker_store_rejection_put(s, id, sha, r1, sizeof r1, 5), EGIDE_OK);
    /* Idempotent: the first answer stays. */
    CHECK_RC(broker_store_rejection_put(s, id, sha, r2, sizeof r2, 6), EGIDE_OK);
    CHECK_RC(broker_store_commit(s), EGIDE_OK);
    CHECK_RC(broker_store_rejection_find(s, id, sha, &st), EGIDE_OK);
    CHECK(st.receipt_len == sizeof r1 && memcmp(st.receipt, r1, sizeof r1) == 0);
    CHECK(memcmp(st.sha256, sha, 32) == 0);
    broker_stored_clear(&st);
    /* Only the exact (msg_id, hash) pair. */
    CHECK_RC(broker_store_rejection_find(s, id, other, &st), EGIDE_ERR_NOTFOUND);
    /* A rejection is not an accepted envelope. */
    CHECK_RC(broker_store_envelope_find(s, id, &st), EGIDE_ERR_NOTFOUND);
    CHECK_RC(broker_store_rejection_put(s, id, sha, r1, 0, 5), EGIDE_ERR_INVALID);
    CHECK_RC(broker_store_rejection_put(s, NULL, sha, r1, sizeof r1, 5), EGIDE_ERR_INVALID);
    CHECK_RC(broker_store_rejection_find(s, id, NULL, &st), EGIDE_ERR_INVALID);
    broker_store_close(&s);
}

static void test_due_order_and_attempts(void)
{
    char loc[512];
    broker_store_t *s = s_fresh(loc, sizeof loc);
    REQUIRE(s != NULL);
    s_acc_t x[4];
    const int urg[4] = {1, 3, 2, 3};
    CHECK_RC(broker_store_begin(s), EGIDE_OK);
    for (int i = 0; i < 4; i++) {
        s_acc(&x[i], (uint8_t)(10 + i), (uint64_t)(i + 1), urg[i], 100000, "71.ase", NULL);
        CHECK_RC(broker_store_accept(s, &x[i].a), EGIDE_OK);
    }
    CHECK_RC(broker_store_commit(s), EGIDE_OK);
    broker_due_t *due = NULL;
    size_t n = 0;
    CHECK_RC(broker_store_deliveries_due(s, "71.ase", 50, 10, &due, &n), EGIDE_OK);
    REQUIRE(n == 4 && due != NULL);
    /* Most urgent first, then in the order accepted. */
    CHECK(due[0].msg_id[0] == 11);
    CHECK(due[1].msg_id[0] == 13);
    CHECK(due[2].msg_id[0] == 12);
    CHECK(due[3].msg_id[0] == 10);
    CHECK(due[0].len == sizeof x[1].data && memcmp(due[0].data, x[1].data, due[0].len) == 0);
    CHECK(due[0].attempts == 0);
    broker_due_free(due, n);
    broker_due_free(NULL, 0);
    /* The limit. */
    CHECK_RC(broker_store_deliveries_due(s, "71.ase", 50, 2, &due, &n), EGIDE_OK);
    CHECK(n == 2 && due[0].msg_id[0] == 11);
    broker_due_free(due, n);
    /* Empty: another node. */
    due = (broker_due_t *)&n;
    CHECK_RC(broker_store_deliveries_due(s, "71.crip", 50, 10, &due, &n), EGIDE_OK);
    CHECK(n == 0 && due == NULL);
    /* Bad arguments. */
    CHECK_RC(broker_store_deliveries_due(s, "71.ase", 50, 0, &due, &n), EGIDE_ERR_INVALID);
    CHECK_RC(broker_store_deliveries_due(s, "71.ase", 50, 5000, &due, &n), EGIDE_ERR_INVALID);
    CHECK_RC(broker_store_deliveries_due(s, "71.ase", 50, 10, NULL, &n), EGIDE_ERR_INVALID);

    /* A sent delivery is due again at next_ms, with one more attempt. */
    CHECK_RC(broker_store_begin(s), EGIDE_OK);
    CHECK_RC(broker_store_delivery_attempted(s, x[1].msg_id, "71.ase", 1000), EGIDE_OK);
    CHECK_RC(broker_store_delivery_attempted(s, x[1].msg_id, "71.crip", 1000), EGIDE_ERR_NOTFOUND);
    CHECK_RC(broker_store_commit(s), EGIDE_OK);
    CHECK_RC(broker_store_deliveries_due(s, "71.ase", 999, 10, &due, &n), EGIDE_OK);
    CHECK(n == 3 && due[0].msg_id[0] == 13);
    broker_due_free(due, n);
    CHECK_RC(broker_store_deliveries_due(s, "71.ase", 1000, 10, &due, &n), EGIDE_OK);
    CHECK(n == 4 && due[0].msg_id[0] == 11 && due[0].attempts == 1);
    broker_due_free(due, n);
    /* node_wake: due now again. */
    CHECK_RC(broker_store_begin(s), EGIDE_OK);
    CHECK_RC(broker_store_delivery_attempted(s, x[1].msg_id, "71.ase", 1 << 30), EGIDE_OK);
    CHECK_RC(broker_store_node_wake(s, "71.ase"), EGIDE_OK);
    CHECK_RC(broker_store_node_wake(s, "71.nobody"), EGIDE_OK);
    CHECK_RC(broker_store_commit(s), EGIDE_OK);
    CHECK_RC(broker_store_deliveries_due(s, "71.ase", 50, 10, &due, &n), EGIDE_OK);
    CHECK(n == 4 && due[0].attempts == 2);
    broker_due_free(due, n);
    CHECK_RC(broker_store_node_wake(s, ""), EGIDE_ERR_INVALID);
    broker_store_close(&s);
}

static void test_finish_and_expiry(void)
{
    char loc[512];
    broker_store_t *s = s_fresh(loc, sizeof loc);
    REQUIRE(s != NULL);
    s_acc_t x;
    s_acc(&x, 1, 1, 2, 5000, "71.tas.macon", "71.ase");
    const uint8_t rc_bytes[4] = {1, 2, 3, 4};
    CHECK_RC(broker_store_begin(s), EGIDE_OK);
    CHECK_RC(broker_store_accept(s, &x.a), EGIDE_OK);
    broker_expiring_t *ex = NULL;
    size_t n = 0;
    CHECK_RC(broker_store_deliveries_expiring(s, 4999, 10, &ex, &n), EGIDE_OK);
    CHECK(n == 0 && ex == NULL);
    CHECK_RC(broker_store_deliveries_expiring(s, 5000, 10, &ex, &n), EGIDE_OK);
    CHECK(n == 2);
    if (n == 2) {
        CHECK(memcmp(ex[0].msg_id, x.msg_id, 16) == 0);
        CHECK(memcmp(ex[0].sha256, x.sha, 32) == 0);
        CHECK_STREQ(ex[0].sender_id, "71.crip");
        CHECK_STREQ(ex[0].type, "ip.transmission");
        CHECK(strcmp(ex[0].recipient_id, "71.ase") == 0 ||
              strcmp(ex[0].recipient_id, "71.tas.macon") == 0);
    }
    broker_expiring_free(ex);
    CHECK_RC(broker_store_deliveries_expiring(s, 5000, 0, &ex, &n), EGIDE_ERR_INVALID);

    /* QUEUED -> DELIVERED, once. */
    CHECK_RC(broker_store_delivery_finish(s, x.msg_id, "71.tas.macon", BROKER_DELIVERY_DELIVERED,
                                          rc_bytes, sizeof rc_bytes, 10),
             EGIDE_OK);
    CHECK_RC(broker_store_delivery_finish(s, x.msg_id, "71.tas.macon", BROKER_DELIVERY_REJECTED,
                                          rc_bytes, sizeof rc_bytes, 11),
             EGIDE_ERR_STATE);
    CHECK_RC(broker_store_delivery_finish(s, x.msg_id, "71.nobody", BROKER_DELIVERY_DELIVERED,
                                          rc_bytes, sizeof rc_bytes, 11),
             EGIDE_ERR_NOTFOUND);
    CHECK_RC(broker_store_delivery_finish(s, x.msg_id, "71.ase", BROKER_DELIVERY_QUEUED, rc_bytes,
                                          sizeof rc_bytes, 11),
             EGIDE_ERR_INVALID);
    CHECK_RC(
        broker_store_delivery_finish(s, x.msg_id, "71.ase", BROKER_DELIVERY_EXPIRED, NULL, 0, 11),
        EGIDE_ERR_INVALID);
    broker_delivery_t d;
    CHECK_RC(broker_store_delivery_get(s, x.msg_id, "71.tas.macon", &d), EGIDE_OK);
    CHECK(d.state == BROKER_DELIVERY_DELIVERED);
    /* A final delivery is neither due, nor expiring, nor attempted. */
    broker_due_t *due = NULL;
    CHECK_RC(broker_store_deliveries_due(s, "71.tas.macon", 50, 10, &due, &n), EGIDE_OK);
    CHECK(n == 0);
    CHECK_RC(broker_store_delivery_attempted(s, x.msg_id, "71.tas.macon", 99), EGIDE_ERR_NOTFOUND);
    CHECK_RC(broker_store_deliveries_expiring(s, 5000, 10, &ex, &n), EGIDE_OK);
    CHECK(n == 1 && strcmp(ex[0].recipient_id, "71.ase") == 0);
    broker_expiring_free(ex);
    CHECK_RC(broker_store_delivery_finish(s, x.msg_id, "71.ase", BROKER_DELIVERY_EXPIRED, rc_bytes,
                                          sizeof rc_bytes, 5000),
             EGIDE_OK);
    CHECK_RC(broker_store_deliveries_expiring(s, 5000, 10, &ex, &n), EGIDE_OK);
    CHECK(n == 0);
    CHECK_RC(broker_store_delivery_get(s, x.msg_id, "71.ase", &d), EGIDE_OK);
    CHECK(d.state == BROKER_DELIVERY_EXPIRED);
    uint64_t q = 9, r = 9;
    CHECK_RC(broker_store_counts(s, &q, &r), EGIDE_OK);
    CHECK(q == 0 && r == 0);
    CHECK_RC(broker_store_commit(s), EGIDE_OK);
    broker_store_close(&s);
}

/* The gauges are counters kept in the store (O(1) to read, whatever the
 * queue's length): right through accepts, finishes, expiry, relays and
 * their acks, a rolled-back transaction, and counted from the rows already
 * there when a store of the version before them is migrated. */
static void test_counters(void)
{
    char loc[512];
    broker_store_t *s = s_fresh(loc, sizeof loc);
    REQUIRE(s != NULL);
    s_acc_t x[4];
    CHECK_RC(broker_store_begin(s), EGIDE_OK);
    for (uint8_t i = 0; i < 4; i++) {
        s_acc(&x[i], (uint8_t)(0x40 + i), 100 + i, 2, 5000, "71.ase", "71.tas.macon");
        CHECK_RC(broker_store_accept(s, &x[i].a), EGIDE_OK);
    }
    uint8_t mid[16], rb[8] = "receipt";
    memset(mid, 0x40, sizeof mid);
    uint64_t id1 = 0, id2 = 0;
    CHECK_RC(broker_store_relay_queue(s, "71.crip", "71.ase", mid, rb, sizeof rb, 10, &id1),
             EGIDE_OK);
    CHECK_RC(broker_store_relay_queue(s, "71.crip", "71.tas.macon", mid, rb, sizeof rb, 10, &id2),
             EGIDE_OK);
    CHECK_RC(broker_store_commit(s), EGIDE_OK);
    uint64_t q = 0, r = 0;
    CHECK_RC(broker_store_counts(s, &q, &r), EGIDE_OK);
    CHECK(q == 8 && r == 2);
    /* A delivered, an expired, a refused one leave the queue; a second
     * finish of the same delivery changes nothing; an ack takes a relay. */
    CHECK_RC(broker_store_begin(s), EGIDE_OK);
    CHECK_RC(broker_store_delivery_finish(s, x[0].msg_id, "71.ase", BROKER_DELIVERY_DELIVERED, rb,
                                          sizeof rb, 20),
             EGIDE_OK);
    CHECK_RC(broker_store_delivery_finish(s, x[1].msg_id, "71.ase", BROKER_DELIVERY_EXPIRED, rb,
                                          sizeof rb, 20),
             EGIDE_OK);
    CHECK_RC(broker_store_delivery_finish(s, x[2].msg_id, "71.ase", BROKER_DELIVERY_REJECTED, rb,
                                          sizeof rb, 20),
             EGIDE_OK);
    (void)broker_store_delivery_finish(s, x[0].msg_id, "71.ase", BROKER_DELIVERY_DELIVERED, rb,
                                       sizeof rb, 21);
    broker_relay_acked_t acked;
    CHECK_RC(broker_store_relay_ack(s, id1, "71.crip", &acked), EGIDE_OK);
    CHECK_RC(broker_store_relay_ack(s, id1, "71.crip", &acked), EGIDE_ERR_NOTFOUND);
    CHECK_RC(broker_store_commit(s), EGIDE_OK);
    CHECK_RC(broker_store_counts(s, &q, &r), EGIDE_OK);
    CHECK(q == 5 && r == 1);
    /* Rolled back: the counters with it. */
    s_acc_t y;
    s_acc(&y, 0x50, 200, 2, 5000, "71.ase", "71.tas.macon");
    CHECK_RC(broker_store_begin(s), EGIDE_OK);
    CHECK_RC(broker_store_accept(s, &y.a), EGIDE_OK);
    CHECK_RC(broker_store_relay_ack(s, id2, "71.crip", &acked), EGIDE_OK);
    CHECK_RC(broker_store_counts(s, &q, &r), EGIDE_OK);
    CHECK(q == 7 && r == 0); /* seen inside the transaction */
    broker_store_rollback(s);
    CHECK_RC(broker_store_counts(s, &q, &r), EGIDE_OK);
    CHECK(q == 5 && r == 1);
    broker_store_close(&s);
    /* A store of version 4 (before the counters), its rows there: the
     * migration counts them. */
    if (s_ops == &broker_store_sqlite_ops) {
        sqlite3 *db = NULL;
        REQUIRE(sqlite3_open(loc, &db) == SQLITE_OK);
        CHECK(sqlite3_exec(
                  db,
                  "DROP TABLE broker_counters;"
                  "DROP TRIGGER broker_counters_dlv_ins; DROP TRIGGER broker_counters_dlv_del;"
                  "DROP TRIGGER broker_counters_dlv_upd; DROP TRIGGER broker_counters_rly_ins;"
                  "DROP TRIGGER broker_counters_rly_del; DROP TRIGGER broker_counters_rly_upd;"
                  "PRAGMA user_version = 4;",
                  NULL, NULL, NULL) == SQLITE_OK);
        sqlite3_close(db);
    } else if (s_ops == &broker_store_pg_ops) {
        egide_pg_t *pg = NULL;
        REQUIRE(egide_pg_open(loc, false, &pg) == EGIDE_OK);
        CHECK_RC(egide_pg_exec(pg,
                               "DROP TABLE broker_counters; DROP FUNCTION broker_count() CASCADE;"
                               "UPDATE schema_version SET version = 4 WHERE component = 'broker'"),
                 EGIDE_OK);
        egide_pg_close(&pg);
    } else
        return;
    CHECK_RC(broker_store_open(s_ops, loc, false, &s), EGIDE_OK);
    REQUIRE(s != NULL);
    CHECK_RC(broker_store_counts(s, &q, &r), EGIDE_OK);
    CHECK(q == 5 && r == 1);
    /* and keeps them from then on */
    CHECK_RC(broker_store_begin(s), EGIDE_OK);
    CHECK_RC(broker_store_delivery_finish(s, x[3].msg_id, "71.ase", BROKER_DELIVERY_DELIVERED, rb,
                                          sizeof rb, 30),
             EGIDE_OK);
    CHECK_RC(broker_store_commit(s), EGIDE_OK);
    CHECK_RC(broker_store_counts(s, &q, &r), EGIDE_OK);
    CHECK(q == 4 && r == 1);
    broker_store_close(&s);
}

static void test_relays(void)
{
    char loc[512];
    broker_store_t *s = s_fresh(loc, sizeof loc);
    REQUIRE(s != NULL);
    uint8_t mid[16], r1[6] = "rcpt1", r2[6] = "rcpt2";
    memset(mid, 3, sizeof mid);
    uint64_t id1 = 0, id2 = 0;
    CHECK_RC(broker_store_begin(s), EGIDE_OK);
    CHECK_RC(broker_store_relay_queue(s, "71.crip", "71.ase", mid, r1, sizeof r1, 10, &id1),
             EGIDE_OK);
    CHECK_RC(broker_store_relay_queue(s, "71.crip", "71.tas.macon", mid, r2, sizeof r2, 11, &id2),
             EGIDE_OK);
    CHECK(id1 > 0 && id2 > id1);
    CHECK_RC(broker_store_relay_queue(s, "71.crip", "71.ase", mid, r1, 0, 10, &id1),
             EGIDE_ERR_INVALID);
    CHECK_RC(broker_store_relay_queue(s, "71.crip", "", mid, r1, sizeof r1, 10, &id1),
             EGIDE_ERR_INVALID);
    CHECK_RC(broker_store_commit(s), EGIDE_OK);
    broker_due_t *rel = NULL;
    size_t n = 0;
    CHECK_RC(broker_store_relays_due(s, "71.crip", 0, 10, &rel, &n), EGIDE_OK);
    REQUIRE(n == 2);
    CHECK(rel[0].id == id1 && rel[1].id == id2); /* oldest first */
    CHECK(rel[0].len == sizeof r1 && memcmp(rel[0].data, r1, sizeof r1) == 0);
    CHECK(memcmp(rel[0].msg_id, mid, 16) == 0);
    CHECK(rel[0].attempts == 0);
    broker_due_free(rel, n);
    CHECK_RC(broker_store_relays_due(s, "71.ase", 0, 10, &rel, &n), EGIDE_OK);
    CHECK(n == 0 && rel == NULL);
    uint64_t q = 0, r = 0;
    CHECK_RC(broker_store_counts(s, &q, &r), EGIDE_OK);
    CHECK(r == 2);

    CHECK_RC(broker_store_begin(s), EGIDE_OK);
    CHECK_RC(broker_store_relay_attempted(s, id1, 500), EGIDE_OK);
    CHECK_RC(broker_store_relay_attempted(s, id2 + 100, 500), EGIDE_ERR_NOTFOUND);
    CHECK_RC(broker_store_relay_attempted(s, 0, 500), EGIDE_ERR_INVALID);
    CHECK_RC(broker_store_relays_due(s, "71.crip", 499, 10, &rel, &n), EGIDE_OK);
    CHECK(n == 1 && rel[0].id == id2);
    broker_due_free(rel, n);
    CHECK_RC(broker_store_relays_due(s, "71.crip", 500, 10, &rel, &n), EGIDE_OK);
    CHECK(n == 2 && rel[0].attempts == 1);
    broker_due_free(rel, n);

    /* Ack: only the sender's own relay, once. */
    broker_relay_acked_t ack;
    CHECK_RC(broker_store_relay_ack(s, id1, "71.ase", &ack), EGIDE_ERR_NOTFOUND);
    CHECK_RC(broker_store_relay_ack(s, id1, "71.crip", &ack), EGIDE_OK);
    uint8_t rsha[32];
    egide_sha256(r1, sizeof r1, rsha);
    CHECK(memcmp(ack.msg_id, mid, 16) == 0);
    CHECK(memcmp(ack.receipt_sha256, rsha, 32) == 0);
    CHECK_STREQ(ack.issuer, "71.ase");
    CHECK_RC(broker_store_relay_ack(s, id1, "71.crip", &ack), EGIDE_ERR_NOTFOUND);
    CHECK_RC(broker_store_relay_ack(s, 0, "71.crip", &ack), EGIDE_ERR_NOTFOUND);
    CHECK_RC(broker_store_relay_ack(s, UINT64_MAX, "71.crip", &ack), EGIDE_ERR_NOTFOUND);
    CHECK_RC(broker_store_relay_ack(s, id2, "71.crip", NULL), EGIDE_ERR_INVALID);
    CHECK_RC(broker_store_relay_attempted(s, id1, 600), EGIDE_ERR_NOTFOUND); /* done */
    /* Wake makes a pending relay due now. */
    CHECK_RC(broker_store_relay_attempted(s, id2, 1 << 30), EGIDE_OK);
    CHECK_RC(broker_store_relays_due(s, "71.crip", 1000, 10, &rel, &n), EGIDE_OK);
    CHECK(n == 0);
    CHECK_RC(broker_store_node_wake(s, "71.crip"), EGIDE_OK);
    CHECK_RC(broker_store_relays_due(s, "71.crip", 0, 10, &rel, &n), EGIDE_OK);
    CHECK(n == 1 && rel[0].id == id2);
    broker_due_free(rel, n);
    CHECK_RC(broker_store_commit(s), EGIDE_OK);
    CHECK_RC(broker_store_counts(s, &q, &r), EGIDE_OK);
    CHECK(r == 1);
    CHECK_RC(broker_store_counts(s, NULL, &r), EGIDE_ERR_INVALID);
    broker_store_close(&s);
}

/* The msg_ids of a due list, as their first byte, into ids (up to 8). */
static size_t s_due_ids(broker_store_t *s, const char *node, int64_t now, uint8_t *ids)
{
    broker_due_t *due = NULL;
    size_t n = 0;
    CHECK_RC(broker_store_redeliveries_due(s, node, now, 8, &due, &n), EGIDE_OK);
    for (size_t i = 0; i < n && i < 8; i++)
        ids[i] = due[i].msg_id[0];
    broker_due_free(due, n);
    return n;
}

/* Redelivery to a restored recipient: what was finished DELIVERED after the
 * message it holds, in finishing order, paged, without touching the
 * deliveries' final state. */
static void test_redeliveries(void)
{
    char loc[512];
    broker_store_t *s = s_fresh(loc, sizeof loc);
    REQUIRE(s != NULL);
    s_acc_t x[8];
    const uint8_t rcpt[4] = {9, 8, 7, 6};
    CHECK_RC(broker_store_begin(s), EGIDE_OK);
    for (uint8_t i = 1; i <= 7; i++) {
        s_acc(&x[i], i, i, 1, 900000, i == 7 ? "71.ase" : "71.crip", NULL);
        CHECK_RC(broker_store_accept(s, &x[i].a), EGIDE_OK);
    }
    /* Finished: 1 at 100, 2 at 200, 3 REJECTED and 4 at 300, 5 at 350;
     * 6 still queued; 7 is another node's. */
    const struct {
        uint8_t id;
        broker_delivery_state st;
        int64_t at;
        const char *node;
    } fin[] = {
        {1, BROKER_DELIVERY_DELIVERED, 100, "71.crip"},
        {2, BROKER_DELIVERY_DELIVERED, 200, "71.crip"},
        {3, BROKER_DELIVERY_REJECTED, 300, "71.crip"},
        {4, BROKER_DELIVERY_DELIVERED, 300, "71.crip"},
        {5, BROKER_DELIVERY_DELIVERED, 350, "71.crip"},
        {7, BROKER_DELIVERY_DELIVERED, 400, "71.ase"},
    };
    for (size_t i = 0; i < sizeof fin / sizeof fin[0]; i++)
        CHECK_RC(broker_store_delivery_finish(s, x[fin[i].id].msg_id, fin[i].node, fin[i].st, rcpt,
                                              sizeof rcpt, fin[i].at),
                 EGIDE_OK);

    broker_redeliver_cursor_t cur;
    size_t n = 99;
    uint8_t ids[8] = {0};
    uint8_t unknown[16];
    memset(unknown, 0xee, sizeof unknown);
    /* Nothing to compare with: queued, refused, unknown, another node's. */
    CHECK_RC(broker_store_redeliver_start(s, "71.crip", x[6].msg_id, &cur), EGIDE_ERR_NOTFOUND);
    CHECK_RC(broker_store_redeliver_start(s, "71.crip", x[3].msg_id, &cur), EGIDE_ERR_NOTFOUND);
    CHECK_RC(broker_store_redeliver_start(s, "71.crip", unknown, &cur), EGIDE_ERR_NOTFOUND);
    CHECK_RC(broker_store_redeliver_start(s, "71.crip", x[7].msg_id, &cur), EGIDE_ERR_NOTFOUND);
    CHECK_RC(broker_store_redeliver_start(s, "71.crip", NULL, &cur), EGIDE_ERR_INVALID);
    CHECK_RC(broker_store_redeliver_start(s, "", x[1].msg_id, &cur), EGIDE_ERR_INVALID);

    /* The normal case: it holds the newest; nothing is queued. */
    CHECK_RC(broker_store_redeliver_start(s, "71.crip", x[5].msg_id, &cur), EGIDE_OK);
    CHECK_RC(broker_store_redeliver_page(s, "71.crip", &cur, 16, 500, &n), EGIDE_OK);
    CHECK(n == 0);
    CHECK(s_due_ids(s, "71.crip", 500, ids) == 0);
    /* A tie of done_ms is sent again (the recipient's order may differ);
     * a REJECTED one is not. */
    CHECK_RC(broker_store_redeliver_start(s, "71.crip", x[4].msg_id, &cur), EGIDE_OK);
    CHECK_RC(broker_store_redeliver_page(s, "71.crip", &cur, 16, 500, &n), EGIDE_OK);
    CHECK(n == 1);
    CHECK(s_due_ids(s, "71.crip", 500, ids) == 1 && ids[0] == 5);
    CHECK_RC(broker_store_redelivery_done(s, x[5].msg_id, "71.crip"), EGIDE_OK);

    /* Restored to when it held 1: 2, 4, 5 in finishing order, by pages of 2. */
    CHECK_RC(broker_store_redeliver_start(s, "71.crip", x[1].msg_id, &cur), EGIDE_OK);
    CHECK_RC(broker_store_redeliver_page(s, "71.crip", &cur, 2, 500, &n), EGIDE_OK);
    CHECK(n == 2);
    CHECK(s_due_ids(s, "71.crip", 500, ids) == 2 && ids[0] == 2 && ids[1] == 4);
    CHECK_RC(broker_store_redeliver_page(s, "71.crip", &cur, 2, 500, &n), EGIDE_OK);
    CHECK(n == 1);
    CHECK(s_due_ids(s, "71.crip", 500, ids) == 3 && ids[2] == 5);
    CHECK_RC(broker_store_redeliver_page(s, "71.crip", &cur, 2, 500, &n), EGIDE_OK);
    CHECK(n == 0);
    CHECK_RC(broker_store_redeliver_page(s, "71.crip", &cur, 0, 500, &n), EGIDE_ERR_INVALID);
    CHECK_RC(broker_store_redeliver_page(s, "71.crip", NULL, 2, 500, &n), EGIDE_ERR_INVALID);
    /* Queued again from the start: nothing twice. */
    CHECK_RC(broker_store_redeliver_start(s, "71.crip", x[1].msg_id, &cur), EGIDE_OK);
    CHECK_RC(broker_store_redeliver_page(s, "71.crip", &cur, 16, 500, &n), EGIDE_OK);
    CHECK(n == 3);
    CHECK(s_due_ids(s, "71.crip", 500, ids) == 3);
    /* The bytes are the envelope's; another node has none. */
    broker_due_t *due = NULL;
    CHECK_RC(broker_store_redeliveries_due(s, "71.crip", 500, 1, &due, &n), EGIDE_OK);
    CHECK(n == 1 && due[0].len == sizeof x[2].data &&
          memcmp(due[0].data, x[2].data, sizeof x[2].data) == 0 && due[0].attempts == 0);
    broker_due_free(due, n);
    CHECK(s_due_ids(s, "71.ase", 500, ids) == 0);
    CHECK_RC(broker_store_redeliveries_due(s, "71.crip", 500, 0, &due, &n), EGIDE_ERR_INVALID);

    /* Attempted: not due until next_ms; a node's wake makes it due. */
    CHECK_RC(broker_store_redelivery_attempted(s, x[2].msg_id, "71.crip", 1000), EGIDE_OK);
    CHECK_RC(broker_store_redelivery_attempted(s, x[6].msg_id, "71.crip", 1000),
             EGIDE_ERR_NOTFOUND);
    CHECK(s_due_ids(s, "71.crip", 999, ids) == 2 && ids[0] == 4);
    CHECK_RC(broker_store_redeliveries_due(s, "71.crip", 1000, 8, &due, &n), EGIDE_OK);
    CHECK(n == 3 && due[0].msg_id[0] == 2 && due[0].attempts == 1);
    broker_due_free(due, n);
    CHECK_RC(broker_store_node_wake(s, "71.crip"), EGIDE_OK);
    CHECK(s_due_ids(s, "71.crip", 500, ids) == 3);

    /* Answered: it leaves the queue, once. */
    CHECK_RC(broker_store_redelivery_done(s, x[2].msg_id, "71.crip"), EGIDE_OK);
    CHECK_RC(broker_store_redelivery_done(s, x[2].msg_id, "71.crip"), EGIDE_ERR_NOTFOUND);
    CHECK_RC(broker_store_redelivery_done(s, x[4].msg_id, "71.ase"), EGIDE_ERR_NOTFOUND);
    CHECK(s_due_ids(s, "71.crip", 500, ids) == 2 && ids[0] == 4 && ids[1] == 5);

    /* The deliveries themselves are as they were finished. */
    broker_delivery_t d;
    CHECK_RC(broker_store_delivery_get(s, x[2].msg_id, "71.crip", &d), EGIDE_OK);
    CHECK(d.state == BROKER_DELIVERY_DELIVERED);
    CHECK_RC(broker_store_delivery_finish(s, x[2].msg_id, "71.crip", BROKER_DELIVERY_DELIVERED,
                                          rcpt, sizeof rcpt, 600),
             EGIDE_ERR_STATE);
    uint64_t q = 9, r = 9;
    CHECK_RC(broker_store_counts(s, &q, &r), EGIDE_OK);
    CHECK(q == 1 && r == 0); /* 6, still queued */
    CHECK_RC(broker_store_commit(s), EGIDE_OK);

    /* Committed: a reader sees the queue; it cannot write to it. */
    broker_store_t *rd = NULL;
    CHECK_RC(broker_store_open_reader(s, &rd), EGIDE_OK);
    if (rd) {
        CHECK(s_due_ids(rd, "71.crip", 500, ids) == 2);
        CHECK_RC(broker_store_redeliver_page(rd, "71.crip", &cur, 2, 500, &n), EGIDE_ERR_INVALID);
        CHECK_RC(broker_store_redelivery_done(rd, x[4].msg_id, "71.crip"), EGIDE_ERR_INVALID);
        broker_store_close(&rd);
    }
    broker_store_close(&s);
}

/* Two cursors the same. */
static bool s_cursor_eq(const broker_redeliver_cursor_t *a, const broker_redeliver_cursor_t *b)
{
    return a->done_ms == b->done_ms && a->seq == b->seq && memcmp(a->skip, b->skip, 16) == 0;
}

/* The cursor of a redelivery of more than one page is in the store, written
 * with the page it queued: it survives a reopen (a broker restart), goes
 * back with a rolled-back page, and is gone when a short page ends it. */
static void test_redeliver_cursor(void)
{
    char loc[512];
    broker_store_t *s = s_fresh(loc, sizeof loc);
    REQUIRE(s != NULL);
    s_acc_t x[7];
    const uint8_t rcpt[4] = {9, 8, 7, 6};
    CHECK_RC(broker_store_begin(s), EGIDE_OK);
    for (uint8_t i = 1; i <= 6; i++) {
        s_acc(&x[i], i, i, 1, 900000, i == 6 ? "71.ase" : "71.crip", NULL);
        CHECK_RC(broker_store_accept(s, &x[i].a), EGIDE_OK);
        CHECK_RC(broker_store_delivery_finish(s, x[i].msg_id, i == 6 ? "71.ase" : "71.crip",
                                              BROKER_DELIVERY_DELIVERED, rcpt, sizeof rcpt,
                                              100 * i),
                 EGIDE_OK);
    }
    CHECK_RC(broker_store_commit(s), EGIDE_OK);

    broker_redeliver_cursor_t cur, got, kept;
    size_t n = 99;
    uint8_t ids[8] = {0};
    /* None under way; bad arguments. */
    CHECK_RC(broker_store_redeliver_resume(s, "71.crip", &got), EGIDE_ERR_NOTFOUND);
    CHECK_RC(broker_store_redeliver_resume(s, "", &got), EGIDE_ERR_INVALID);
    CHECK_RC(broker_store_redeliver_resume(s, "71.crip", NULL), EGIDE_ERR_INVALID);
    CHECK_RC(broker_store_redeliver_resume(NULL, "71.crip", &got), EGIDE_ERR_INVALID);

    /* Restored to when it held 1: a full page (2, 3) keeps the cursor. */
    CHECK_RC(broker_store_begin(s), EGIDE_OK);
    CHECK_RC(broker_store_redeliver_start(s, "71.crip", x[1].msg_id, &cur), EGIDE_OK);
    CHECK_RC(broker_store_redeliver_resume(s, "71.crip", &got), EGIDE_ERR_NOTFOUND);
    CHECK_RC(broker_store_redeliver_page(s, "71.crip", &cur, 2, 500, &n), EGIDE_OK);
    CHECK(n == 2);
    CHECK_RC(broker_store_redeliver_resume(s, "71.crip", &got), EGIDE_OK);
    CHECK(s_cursor_eq(&got, &cur) && got.done_ms == 300 && memcmp(got.skip, x[1].msg_id, 16) == 0);
    CHECK_RC(broker_store_commit(s), EGIDE_OK);
    kept = cur;
    CHECK_RC(broker_store_redeliver_resume(s, "71.ase", &got), EGIDE_ERR_NOTFOUND);

    /* A restart: the cursor is still there, the page queued with it. */
    broker_store_close(&s);
    REQUIRE(broker_store_open(s_ops, loc, false, &s) == EGIDE_OK);
    memset(&got, 0, sizeof got);
    CHECK_RC(broker_store_redeliver_resume(s, "71.crip", &got), EGIDE_OK);
    CHECK(s_cursor_eq(&got, &kept));
    CHECK(s_due_ids(s, "71.crip", 500, ids) == 2 && ids[0] == 2 && ids[1] == 3);

    /* Rolled back: the next page (4, 5) and the cursor's move with it. */
    CHECK_RC(broker_store_begin(s), EGIDE_OK);
    cur = got;
    CHECK_RC(broker_store_redeliver_page(s, "71.crip", &cur, 2, 500, &n), EGIDE_OK);
    CHECK(n == 2 && cur.done_ms == 500);
    CHECK_RC(broker_store_redeliver_resume(s, "71.crip", &got), EGIDE_OK);
    CHECK(s_cursor_eq(&got, &cur));
    broker_store_rollback(s);
    CHECK_RC(broker_store_redeliver_resume(s, "71.crip", &got), EGIDE_OK);
    CHECK(s_cursor_eq(&got, &kept));
    CHECK(s_due_ids(s, "71.crip", 500, ids) == 2);
    /* The cursor's write fails (after the page's two): the batch is rolled
     * back, the cursor as it was. */
    CHECK_RC(broker_store_begin(s), EGIDE_OK);
    cur = kept;
    CHECK_RC(broker_store_inject_fault(s, 3), EGIDE_OK);
    CHECK_RC(broker_store_redeliver_page(s, "71.crip", &cur, 2, 500, &n), EGIDE_ERR_IO);
    broker_store_rollback(s);
    broker_store_inject_fault(s, 0);
    CHECK_RC(broker_store_redeliver_resume(s, "71.crip", &got), EGIDE_OK);
    CHECK(s_cursor_eq(&got, &kept));

    /* A short page (4, 5 of at most 3: none follow) ends it. */
    CHECK_RC(broker_store_begin(s), EGIDE_OK);
    cur = kept;
    CHECK_RC(broker_store_redeliver_page(s, "71.crip", &cur, 3, 500, &n), EGIDE_OK);
    CHECK(n == 2);
    CHECK_RC(broker_store_redeliver_resume(s, "71.crip", &got), EGIDE_ERR_NOTFOUND);
    CHECK_RC(broker_store_commit(s), EGIDE_OK);
    CHECK(s_due_ids(s, "71.crip", 500, ids) == 4 && ids[2] == 4 && ids[3] == 5);
    broker_store_close(&s);
    REQUIRE(broker_store_open(s_ops, loc, false, &s) == EGIDE_OK);
    CHECK_RC(broker_store_redeliver_resume(s, "71.crip", &got), EGIDE_ERR_NOTFOUND);

    /* An empty page after a full one (exactly a page left) ends it too. */
    CHECK_RC(broker_store_begin(s), EGIDE_OK);
    CHECK_RC(broker_store_redeliver_start(s, "71.crip", x[3].msg_id, &cur), EGIDE_OK);
    CHECK_RC(broker_store_redeliver_page(s, "71.crip", &cur, 2, 500, &n), EGIDE_OK);
    CHECK(n == 2);
    CHECK_RC(broker_store_redeliver_resume(s, "71.crip", &got), EGIDE_OK);
    CHECK_RC(broker_store_redeliver_page(s, "71.crip", &cur, 2, 500, &n), EGIDE_OK);
    CHECK(n == 0);
    CHECK_RC(broker_store_redeliver_resume(s, "71.crip", &got), EGIDE_ERR_NOTFOUND);
    CHECK_RC(broker_store_commit(s), EGIDE_OK);
    /* A reader sees what is committed. */
    broker_store_t *rd = NULL;
    CHECK_RC(broker_store_open_reader(s, &rd), EGIDE_OK);
    if (rd) {
        CHECK_RC(broker_store_redeliver_resume(rd, "71.crip", &got), EGIDE_ERR_NOTFOUND);
        broker_store_close(&rd);
    }
    broker_store_close(&s);
}

static void test_rollback_and_reader(void)
{
    char loc[512];
    broker_store_t *s = s_fresh(loc, sizeof loc);
    REQUIRE(s != NULL);
    s_acc_t x, y;
    s_acc(&x, 1, 1, 2, 5000, "71.ase", NULL);
    s_acc(&y, 2, 2, 2, 5000, "71.ase", NULL);
    egide_auditlog_t *log = broker_store_audit(s);
    REQUIRE(log != NULL);
    uint64_t size0 = egide_auditlog_size(log);
    /* Rolled back: nothing, audit leaf included. */
    CHECK_RC(broker_store_begin(s), EGIDE_OK);
    CHECK_RC(broker_store_accept(s, &x.a), EGIDE_OK);
    uint8_t leaf[4] = {1, 2, 3, 4};
    uint64_t idx = 0;
    CHECK_RC(egide_auditlog_append(log, leaf, sizeof leaf, &idx), EGIDE_OK);
    broker_store_rollback(s);
    CHECK(egide_auditlog_size(log) == size0);
    s_check_absent(s, &x);
    broker_store_rollback(s); /* no transaction: harmless */
    /* Committed: seen by a reader, which refuses writes. */
    CHECK_RC(broker_store_begin(s), EGIDE_OK);
    CHECK_RC(broker_store_accept(s, &y.a), EGIDE_OK);
    CHECK_RC(broker_store_commit(s), EGIDE_OK);
    broker_store_t *rd = NULL;
    CHECK_RC(broker_store_open_reader(s, &rd), EGIDE_OK);
    REQUIRE(rd != NULL);
    broker_stored_t st;
    CHECK_RC(broker_store_envelope_find(rd, y.msg_id, &st), EGIDE_OK);
    broker_stored_clear(&st);
    CHECK(broker_store_audit(rd) != NULL);
    CHECK_RC(broker_store_accept(rd, &x.a), EGIDE_ERR_INVALID);
    CHECK_RC(broker_store_node_wake(rd, "71.ase"), EGIDE_ERR_INVALID);
    uint64_t id;
    CHECK_RC(broker_store_relay_queue(rd, "71.crip", "71.ase", x.msg_id, x.receipt, 4, 1, &id),
             EGIDE_ERR_INVALID);
    broker_store_close(&rd);
    CHECK_RC(broker_store_open_reader(NULL, &rd), EGIDE_ERR_INVALID);
    broker_store_close(&s);
}

/* Each write of an accept fails in turn, then the commit: nothing stays. */
static void test_injected_failures(void)
{
    char loc[512];
    broker_store_t *s = s_fresh(loc, sizeof loc);
    REQUIRE(s != NULL);
    s_acc_t x;
    s_acc(&x, 1, 5, 2, 5000, "71.tas.macon", "71.ase");
    if (broker_store_inject_fault(s, 1) == EGIDE_ERR_STATE) {
        fprintf(stderr, "backend %s has no fault injection; skipped\n", s_ops->name);
        broker_store_close(&s);
        return;
    }
    broker_store_inject_fault(s, 0);
    CHECK_RC(broker_store_inject_fault(s, -1), EGIDE_ERR_INVALID);
    CHECK_RC(broker_store_inject_fault(NULL, 1), EGIDE_ERR_INVALID);
    /* envelope, delivery 1, delivery 2, sender sequence */
    for (int nth = 1; nth <= 4; nth++) {
        CHECK_RC(broker_store_begin(s), EGIDE_OK);
        CHECK_RC(broker_store_inject_fault(s, nth), EGIDE_OK);
        egide_rc rc = broker_store_accept(s, &x.a);
        CHECK(rc == EGIDE_ERR_IO || rc == EGIDE_ERR_DB);
        s_check_absent(s, &x); /* inside the transaction: the savepoint undid it */
        broker_store_rollback(s);
        s_check_absent(s, &x);
    }
    /* The commit fails: rolled back, nothing stays. */
    CHECK_RC(broker_store_begin(s), EGIDE_OK);
    CHECK_RC(broker_store_accept(s, &x.a), EGIDE_OK);
    CHECK_RC(broker_store_inject_fault(s, 1), EGIDE_OK);
    CHECK(broker_store_commit(s) != EGIDE_OK);
    broker_store_rollback(s);
    s_check_absent(s, &x);
    /* Other writes fail cleanly too. */
    CHECK_RC(broker_store_begin(s), EGIDE_OK);
    CHECK_RC(broker_store_inject_fault(s, 1), EGIDE_OK);
    uint8_t sha[32] = {0};
    CHECK(broker_store_rejection_put(s, x.msg_id, sha, x.receipt, 4, 1) != EGIDE_OK);
    broker_stored_t st;
    CHECK_RC(broker_store_rejection_find(s, x.msg_id, sha, &st), EGIDE_ERR_NOTFOUND);
    broker_store_rollback(s);
    /* The fault has cleared: the same accept now succeeds, once. */
    CHECK_RC(broker_store_begin(s), EGIDE_OK);
    CHECK_RC(broker_store_accept(s, &x.a), EGIDE_OK);
    CHECK_RC(broker_store_commit(s), EGIDE_OK);
    CHECK_RC(broker_store_envelope_find(s, x.msg_id, &st), EGIDE_OK);
    broker_stored_clear(&st);
    uint64_t q = 0, r = 0;
    CHECK_RC(broker_store_counts(s, &q, &r), EGIDE_OK);
    CHECK(q == 2);
    broker_store_close(&s);
}

/* PostgreSQL only: a batch (several accepts and their audit leaves) is one
 * transaction; a session cut before its COMMIT loses the whole batch and
 * nothing else; the store answers EGIDE_ERR_DB (transient) until the
 * rollback, then reconnects on its own; with the server away every call is
 * EGIDE_ERR_DB, and once it is back the same batch commits. */
static void test_pg_connection_loss(void)
{
    char loc[512];
    broker_store_t *s = s_fresh(loc, sizeof loc);
    REQUIRE(s != NULL);
    egide_auditlog_t *log = broker_store_audit(s);
    REQUIRE(log != NULL);
    s_acc_t x, y, z;
    s_acc(&x, 1, 1, 2, 5000, "71.ase", NULL);
    s_acc(&y, 2, 2, 2, 5000, "71.ase", NULL);
    s_acc(&z, 3, 3, 2, 5000, "71.ase", NULL);
    const uint8_t leaf[3] = {7, 7, 7};
    /* A unique violation inside a batch: refused, the batch goes on. */
    CHECK_RC(broker_store_begin(s), EGIDE_OK);
    CHECK_RC(broker_store_accept(s, &x.a), EGIDE_OK);
    CHECK_RC(broker_store_accept(s, &x.a), EGIDE_ERR_EXISTS);
    CHECK_RC(egide_auditlog_append(log, leaf, sizeof leaf, NULL), EGIDE_OK);
    CHECK_RC(broker_store_commit(s), EGIDE_OK);
    CHECK(egide_auditlog_size(log) == 1);
    /* The session is cut in the middle of a batch. */
    CHECK_RC(broker_store_begin(s), EGIDE_OK);
    CHECK_RC(broker_store_accept(s, &y.a), EGIDE_OK);
    CHECK_RC(egide_auditlog_append(log, leaf, sizeof leaf, NULL), EGIDE_OK);
    REQUIRE(pg_fixture_cut(loc) == 0);
    CHECK_RC(broker_store_accept(s, &z.a), EGIDE_ERR_DB);
    CHECK_RC(broker_store_commit(s), EGIDE_ERR_DB);
    uint64_t q = 0, r = 0;
    CHECK_RC(broker_store_counts(s, &q, &r), EGIDE_ERR_DB); /* until the rollback */
    broker_store_rollback(s);
    /* Reconnected: the batch is gone whole, what came before is there. */
    CHECK_RC(broker_store_counts(s, &q, &r), EGIDE_OK);
    CHECK(q == 1);
    CHECK(egide_auditlog_size(log) == 1);
    broker_stored_t st;
    CHECK_RC(broker_store_envelope_find(s, y.msg_id, &st), EGIDE_ERR_NOTFOUND);
    CHECK_RC(broker_store_envelope_find(s, x.msg_id, &st), EGIDE_OK);
    broker_stored_clear(&st);
    /* The server away: every call fails, transiently; none loops. */
    if (pg_fixture_server(false) == 0) {
        CHECK_RC(broker_store_begin(s), EGIDE_ERR_DB);
        CHECK_RC(broker_store_counts(s, &q, &r), EGIDE_ERR_DB);
        CHECK(egide_auditlog_size(log) == 0); /* unreadable: 0, as the log's header says */
        REQUIRE(pg_fixture_server(true) == 0);
    } else {
        fprintf(stderr, "  not our server: the stop/start part is skipped\n");
    }
    /* Back: the same batch commits, once. */
    CHECK_RC(broker_store_begin(s), EGIDE_OK);
    CHECK_RC(broker_store_accept(s, &y.a), EGIDE_OK);
    CHECK_RC(broker_store_accept(s, &z.a), EGIDE_OK);
    uint64_t idx = 0;
    CHECK_RC(egide_auditlog_append(log, leaf, sizeof leaf, &idx), EGIDE_OK);
    CHECK(idx == 1);
    CHECK_RC(broker_store_commit(s), EGIDE_OK);
    CHECK_RC(broker_store_counts(s, &q, &r), EGIDE_OK);
    CHECK(q == 3);
    egide_auditverify_report_t rep;
    CHECK_RC(egide_auditlog_verify_all(log, NULL, NULL, false, &rep), EGIDE_OK);
    CHECK(rep.ok && rep.size == 2);
    broker_store_close(&s);
}

/* The write lease and its fencing epoch: one holder at a time, renewals
 * keep the epoch, a new holder raises it, and a handle whose lease was
 * taken over cannot commit anything any more (the takeover is what a
 * paused broker's lease expiring allows; ttl 0 makes it expire now). */
static void test_lease(void)
{
    char loc[512];
    broker_store_t *a = s_fresh(loc, sizeof loc);
    REQUIRE(a != NULL);
    uint64_t ea = 0, eb = 0;
    egide_rc rc = broker_store_lease(a, "broker-a", 60000, &ea);
    if (rc == EGIDE_ERR_NOTFOUND) {
        fprintf(stderr, "  backend %s has no lease; skipped\n", s_ops->name);
        CHECK(s_ops == &broker_store_sqlite_ops); /* the only one without */
        broker_store_close(&a);
        return;
    }
    CHECK_RC(rc, EGIDE_OK);
    CHECK(ea >= 1);
    CHECK_RC(broker_store_lease(a, "", 1000, &ea), EGIDE_ERR_INVALID);
    CHECK_RC(broker_store_lease(a, "broker-a", -1, &ea), EGIDE_ERR_INVALID);
    CHECK_RC(broker_store_lease(a, "broker-a", 1000, NULL), EGIDE_ERR_INVALID);
    /* A second broker on the same database. */
    broker_store_t *b = NULL;
    REQUIRE(broker_store_open(s_ops, loc, false, &b) == EGIDE_OK);
    CHECK_RC(broker_store_lease(b, "broker-b", 60000, &eb), EGIDE_ERR_STATE);
    /* The holder writes; a renewal keeps the epoch. */
    s_acc_t x, y, z;
    s_acc(&x, 1, 1, 2, 5000, "71.ase", NULL);
    s_acc(&y, 2, 2, 2, 5000, "71.ase", NULL);
    s_acc(&z, 3, 3, 2, 5000, "71.ase", NULL);
    CHECK_RC(broker_store_begin(a), EGIDE_OK);
    CHECK_RC(broker_store_accept(a, &x.a), EGIDE_OK);
    CHECK_RC(broker_store_commit(a), EGIDE_OK);
    uint64_t again = 0;
    CHECK_RC(broker_store_lease(a, "broker-a", 60000, &again), EGIDE_OK);
    CHECK(again == ea);
    /* Not inside a transaction. */
    CHECK_RC(broker_store_begin(a), EGIDE_OK);
    CHECK_RC(broker_store_lease(a, "broker-a", 60000, &again), EGIDE_ERR_STATE);
    broker_store_rollback(a);
    /* a's lease runs out (ttl 0); b takes over with a higher epoch. */
    CHECK_RC(broker_store_lease(a, "broker-a", 0, &again), EGIDE_OK);
    CHECK_RC(broker_store_lease(b, "broker-b", 60000, &eb), EGIDE_OK);
    CHECK(eb == ea + 1);
    /* a, unaware, tries to write: refused at commit, nothing written. */
    CHECK_RC(broker_store_begin(a), EGIDE_OK);
    CHECK_RC(broker_store_accept(a, &y.a), EGIDE_OK);
    CHECK_RC(broker_store_commit(a), EGIDE_ERR_STATE);
    broker_store_rollback(a);
    broker_stored_t st;
    CHECK_RC(broker_store_envelope_find(b, y.msg_id, &st), EGIDE_ERR_NOTFOUND);
    CHECK_RC(broker_store_lease(a, "broker-a", 60000, &again), EGIDE_ERR_STATE);
    CHECK_RC(broker_store_begin(a), EGIDE_OK);
    CHECK_RC(broker_store_accept(a, &y.a), EGIDE_OK);
    CHECK_RC(broker_store_commit(a), EGIDE_ERR_STATE); /* still fenced */
    broker_store_rollback(a);
    /* b writes. */
    CHECK_RC(broker_store_begin(b), EGIDE_OK);
    CHECK_RC(broker_store_accept(b, &z.a), EGIDE_OK);
    CHECK_RC(broker_store_commit(b), EGIDE_OK);
    uint64_t q = 0, r = 0;
    CHECK_RC(broker_store_counts(b, &q, &r), EGIDE_OK);
    CHECK(q == 2); /* x by a before, z by b; never y */
    /* A reader takes no lease. */
    broker_store_t *rd = NULL;
    REQUIRE(broker_store_open_reader(b, &rd) == EGIDE_OK);
    CHECK_RC(broker_store_lease(rd, "broker-r", 1000, &again), EGIDE_ERR_INVALID);
    broker_store_close(&rd);
    broker_store_close(&b);
    broker_store_close(&a);
}

int main(int argc, char **argv)
{
    snprintf(s_tmp, sizeof s_tmp, "/tmp/egide-test-broker-store.XXXXXX");
    if (!mkdtemp(s_tmp)) {
        fprintf(stderr, "mkdtemp failed\n");
        return 1;
    }
    int ran = 0;
    size_t nb = 0;
    while (broker_store_backends[nb])
        nb++;
    /* every backend, then PostgreSQL again with the wait hook */
    for (size_t i = 0; i <= nb; i++) {
        s_ops = i < nb ? broker_store_backends[i] : &broker_store_pg_ops;
        s_waiting = i == nb;
        if (argc > 1 && strcmp(argv[1], s_ops->name) != 0)
            continue;
        ran++;
        fprintf(stderr, "backend %s%s\n", s_ops->name, s_waiting ? ", waits through a hook" : "");
        if (s_ops == &broker_store_pg_ops && !s_waiting) {
            int up = pg_fixture_start(s_tmp);
            CHECK(up >= 0); /* a required server that cannot start fails */
            if (up <= 0) {
                nb = i; /* no server: no second pass either */
                break;
            }
        }
        if (!s_waiting) {
            broker_store_t *sq = s_fresh((char[512]){0}, 512);
            CHECK(sq != NULL);
            CHECK_RC(broker_store_set_wait(sq, s_hook, NULL),
                     s_ops == &broker_store_pg_ops ? EGIDE_OK : EGIDE_ERR_STATE);
            broker_store_close(&sq);
            CHECK_RC(broker_store_set_wait(NULL, s_hook, NULL), EGIDE_ERR_INVALID);
        }
        RUN(test_open_and_names);
        RUN(test_accept_read_back);
        RUN(test_accept_refusals);
        RUN(test_rejections);
        RUN(test_due_order_and_attempts);
        RUN(test_finish_and_expiry);
        RUN(test_relays);
        RUN(test_counters);
        RUN(test_redeliveries);
        RUN(test_redeliver_cursor);
        RUN(test_rollback_and_reader);
        RUN(test_injected_failures);
        RUN(test_lease);
        if (s_ops == &broker_store_pg_ops)
            RUN(test_pg_connection_loss);
        if (s_waiting) {
            fprintf(stderr, "wait hook: %d calls\n", s_hook_calls);
            CHECK(s_hook_calls > 0);   /* the statements did go through it */
            CHECK(s_hook_bad_fd == 0); /* a socket, a bounded wait */
        }
    }
    CHECK(ran > 0); /* an unknown backend name is a failure, not a pass */
    pg_fixture_drop_all();
    pg_fixture_stop();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup of %s failed\n", s_tmp);
    EGIDE_TEST_DONE();
}
