/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_auditapi.c - the read-only audit API handler: every endpoint's
 * answer is checked by verifying what it returns (signature, inclusion and
 * consistency proofs), and bad requests get the right status and a JSON
 * error.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <string.h>
#include <unistd.h>

#include "egide/audit/egide_auditapi.h"
#include "egide/audit/egide_auditlog.h"
#include "egide/protocol/egide_checkpoint.h"
#include "egide/store/egide_db.h"
#include "egide/audit/egide_merkle.h"
#include "egide/base/egide_util.h"
#include "egide/base/egide_date.h"
#include "egide_test.h"

#define ORIGIN "egide.71.broker/audit"

static egide_auditlog_t *s_log;
static EVP_PKEY *s_key;

static void s_append(int i)
{
    static char *recips[2] = {"71.crip", "71.tas.macon"};
    Egide__V1__AuditEvent ev = EGIDE__V1__AUDIT_EVENT__INIT;
    uint8_t id[16] = {0}, env[32];
    id[0] = (uint8_t)(i / 2);
    memset(env, i / 2, 32);
    ev.version = 1;
    ev.type = i % 2 ? EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_REJECTED
                    : EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_SUBMITTED;
    ev.reason = i % 2 ? EGIDE__V1__REASON_CODE__REASON_FORBIDDEN_TYPE : 0;
    ev.msg_id.data = id;
    ev.msg_id.len = 16;
    ev.envelope_sha256.data = env;
    ev.envelope_sha256.len = 32;
    ev.sender_id = "71.police.macon";
    ev.n_recipient_ids = 2;
    ev.recipient_ids = recips;
    ev.message_type = "ip.transmission";
    ev.node_id = "71.broker";
    ev.time_ms = 1790000000000LL + i * 1000;
    egide_auditlog_append_event(s_log, &ev, NULL);
}

/* Call the handler; parse JSON bodies into *j (may be NULL). */
static int s_call(const char *method, const char *path, const char *query, json_t **j, char **text)
{
    char *body = NULL;
    const char *ct = NULL;
    int st = egide_auditapi_handle(s_log, method, path, query, &body, &ct);
    if (j)
        *j = NULL;
    /* JSON answers and problems; an error is never plain JSON. */
    bool json = ct && strcmp(ct, "application/json") == 0;
    bool problem = ct && strcmp(ct, "application/problem+json") == 0;
    if (st >= 400 && body)
        CHECK(problem);
    if (body && (json || problem) && j)
        *j = json_loads(body, 0, NULL);
    if (text)
        *text = body;
    else
        free(body);
    return st;
}

static void s_err(int want, const char *method, const char *path, const char *query,
                  const char *code)
{
    json_t *j = NULL;
    int st = s_call(method, path, query, &j, NULL);
    if (st != want)
        fprintf(stderr, "%s %s?%s: %d, wanted %d\n", method, path, query ? query : "", st, want);
    CHECK(st == want);
    /* An RFC 9457 problem: code, its type URI, a title, the status, a detail. */
    const char *got = json_string_value(json_object_get(j, "code"));
    CHECK_STREQ(got, code);
    char type[128];
    snprintf(type, sizeof type, "https://egide.fr/problems/%s", code);
    CHECK_STREQ(json_string_value(json_object_get(j, "type")), type);
    CHECK(json_string_value(json_object_get(j, "title")) != NULL);
    CHECK(json_integer_value(json_object_get(j, "status")) == want);
    CHECK(json_string_value(json_object_get(j, "detail")) != NULL);
    CHECK(json_object_get(j, "error") == NULL);
    json_decref(j);
}

static int s_b64_32(json_t *v, uint8_t out[32])
{
    const char *s = json_string_value(v);
    uint8_t *raw = NULL;
    size_t len = 0;
    if (!s || egide_base64_decode(s, strlen(s), &raw, &len, 64) != EGIDE_OK || len != 32) {
        free(raw);
        return 0;
    }
    memcpy(out, raw, 32);
    free(raw);
    return 1;
}

static size_t s_proof(json_t *arr, uint8_t (*p)[32])
{
    size_t n = json_array_size(arr);
    for (size_t i = 0; i < n && i < EGIDE_MERKLE_MAX_PROOF; i++)
        if (!s_b64_32(json_array_get(arr, i), p[i]))
            return SIZE_MAX;
    return n;
}

static void test_empty(void)
{
    s_err(404, "GET", "/v1/audit/checkpoint", NULL, "no-checkpoint");
    s_err(409, "GET", "/v1/audit/proof/inclusion", "index=0", "not-checkpointed");
    s_err(409, "GET", "/v1/audit/proof/consistency", "from=1", "not-checkpointed");
    json_t *j = NULL;
    CHECK(s_call("GET", "/v1/audit/entries", "start=0", &j, NULL) == 200);
    CHECK(json_array_size(json_object_get(j, "entries")) == 0);
    json_decref(j);
}

static void test_endpoints(void)
{
    for (int i = 0; i < 40; i++) {
        s_append(i);
        if (i == 9 || i == 29)
            egide_auditlog_checkpoint(s_log, ORIGIN, ORIGIN, s_key, NULL);
    }
    /* 40 entries, checkpoints at 10 and 30. */
    char *note = NULL;
    CHECK(s_call("GET", "/v1/audit/checkpoint", NULL, NULL, &note) == 200);
    egide_checkpoint_t cp;
    REQUIRE(note != NULL);
    CHECK_RC(egide_checkpoint_verify(note, strlen(note), ORIGIN, s_key, &cp), EGIDE_OK);
    CHECK(cp.size == 30);
    free(note);
    CHECK(s_call("HEAD", "/v1/audit/checkpoint", NULL, NULL, NULL) == 200);

    /* Inclusion by index against the latest checkpoint. */
    json_t *j = NULL;
    CHECK(s_call("GET", "/v1/audit/proof/inclusion", "index=7", &j, NULL) == 200);
    CHECK(json_integer_value(json_object_get(j, "tree_size")) == 30);
    const char *n2 = json_string_value(json_object_get(j, "checkpoint"));
    egide_checkpoint_t cp2;
    CHECK(n2 && egide_checkpoint_verify(n2, strlen(n2), ORIGIN, s_key, &cp2) == EGIDE_OK);
    json_t *e = json_array_get(json_object_get(j, "entries"), 0);
    CHECK(json_integer_value(json_object_get(e, "index")) == 7);
    uint8_t lh[32], p[EGIDE_MERKLE_MAX_PROOF][32];
    const char *leaf64 = json_string_value(json_object_get(e, "leaf"));
    uint8_t *leaf = NULL;
    size_t llen = 0;
    CHECK(leaf64 && egide_base64_decode(leaf64, strlen(leaf64), &leaf, &llen, 65536) == EGIDE_OK);
    egide_merkle_leaf_hash(leaf, llen, lh);
    free(leaf);
    size_t n = s_proof(json_object_get(e, "proof"), p);
    CHECK_RC(egide_merkle_verify_inclusion(lh, 7, 30, (const uint8_t(*)[32])p, n, cp2.root),
             EGIDE_OK);
    json_t *ev = json_object_get(e, "event");
    CHECK_STREQ(json_string_value(json_object_get(ev, "type")), "AUDIT_REJECTED");
    CHECK_STREQ(json_string_value(json_object_get(ev, "reason")), "REASON_FORBIDDEN_TYPE");
    CHECK_STREQ(json_string_value(json_object_get(ev, "sender")), "71.police.macon");
    CHECK_STREQ(json_string_value(json_object_get(ev, "msg_id")),
                "03000000000000000000000000000000");
    CHECK(json_array_size(json_object_get(ev, "recipients")) == 2);
    CHECK_STREQ(json_string_value(json_object_get(ev, "time")), "2026-09-21T14:13:27Z");
    /* And the RFC 3339 sibling of time_ms, with its milliseconds. */
    const char *tat = json_string_value(json_object_get(ev, "time_at"));
    CHECK(tat && strncmp(tat, "2026-09-21T14:13:27.", 20) == 0 && strlen(tat) == 24);
    int64_t tms = 0;
    CHECK(tat && egide_datetime_parse(tat, &tms) == EGIDE_OK &&
          tms == json_integer_value(json_object_get(ev, "time_ms")));
    json_decref(j);

    /* Explicit size with a stored checkpoint, and without one. */
    CHECK(s_call("GET", "/v1/audit/proof/inclusion", "index=3&size=10", &j, NULL) == 200);
    CHECK(json_is_string(json_object_get(j, "checkpoint")));
    json_decref(j);
    CHECK(s_call("GET", "/v1/audit/proof/inclusion", "size=40&index=39", &j, NULL) == 200);
    CHECK(json_is_null(json_object_get(j, "checkpoint")));
    json_decref(j);

    /* By msg_id: message 16 (events 32, 33) is after the checkpoint. */
    CHECK(s_call("GET", "/v1/audit/proof/inclusion", "msg_id=05000000000000000000000000000000", &j,
                 NULL) == 200);
    CHECK(json_array_size(json_object_get(j, "entries")) == 2);
    CHECK(json_array_size(json_object_get(j, "pending")) == 0);
    json_decref(j);
    CHECK(s_call("GET", "/v1/audit/proof/inclusion", "msg_id=10000000000000000000000000000000", &j,
                 NULL) == 200);
    CHECK(json_array_size(json_object_get(j, "entries")) == 0);
    CHECK(json_array_size(json_object_get(j, "pending")) == 2);
    json_decref(j);

    /* Consistency 10 -> 30 verifies against the two signed notes. */
    CHECK(s_call("GET", "/v1/audit/proof/consistency", "from=10", &j, NULL) == 200);
    CHECK(json_integer_value(json_object_get(j, "to")) == 30);
    const char *fn = json_string_value(json_object_get(j, "from_checkpoint"));
    const char *tn = json_string_value(json_object_get(j, "to_checkpoint"));
    egide_checkpoint_t a, b;
    CHECK(fn && egide_checkpoint_verify(fn, strlen(fn), ORIGIN, s_key, &a) == EGIDE_OK);
    CHECK(tn && egide_checkpoint_verify(tn, strlen(tn), ORIGIN, s_key, &b) == EGIDE_OK);
    n = s_proof(json_object_get(j, "proof"), p);
    CHECK_RC(
        egide_merkle_verify_consistency(a.size, b.size, a.root, b.root, (const uint8_t(*)[32])p, n),
        EGIDE_OK);
    json_decref(j);
    CHECK(s_call("GET", "/v1/audit/proof/consistency", "from=5&to=40", &j, NULL) == 200);
    CHECK(json_is_null(json_object_get(j, "from_checkpoint")));
    json_decref(j);

    /* Entries, paged. */
    CHECK(s_call("GET", "/v1/audit/entries", "start=35", &j, NULL) == 200);
    CHECK(json_array_size(json_object_get(j, "entries")) == 5);
    CHECK(json_integer_value(json_object_get(j, "end")) == 40);
    CHECK(json_is_null(json_object_get(j, "next")));
    json_decref(j);
    CHECK(s_call("GET", "/v1/audit/entries", "start=2&end=4", &j, NULL) == 200);
    CHECK(json_array_size(json_object_get(j, "entries")) == 2);
    CHECK(json_is_null(json_object_get(j, "next"))); /* end reached */
    json_decref(j);
    CHECK(s_call("GET", "/v1/audit/checkpoints", NULL, &j, NULL) == 200);
    CHECK(json_array_size(json_object_get(j, "checkpoints")) == 2);
    json_decref(j);
    CHECK(s_call("GET", "/v1/audit/checkpoints", "start=11", &j, NULL) == 200);
    CHECK(json_array_size(json_object_get(j, "checkpoints")) == 1);
    json_decref(j);
    /* A page is bounded. */
    for (int i = 40; i < 300; i++)
        s_append(i);
    CHECK(s_call("GET", "/v1/audit/entries", "start=0&end=300", &j, NULL) == 200);
    CHECK(json_array_size(json_object_get(j, "entries")) == EGIDE_AUDITAPI_MAX_PAGE);
    CHECK(json_integer_value(json_object_get(j, "next")) == EGIDE_AUDITAPI_MAX_PAGE);
    json_decref(j);
}

static void test_errors(void)
{
    s_err(405, "POST", "/v1/audit/checkpoint", NULL, "method-not-allowed");
    s_err(405, "DELETE", "/v1/audit/entries", "start=0", "method-not-allowed");
    s_err(404, "GET", "/v1/audit/nope", NULL, "not-found");
    s_err(404, "GET", "/v1/audit/checkpoint/", NULL, "not-found");
    s_err(400, "GET", "/v1/audit/checkpoint", "x=1", "bad-request");
    s_err(400, "GET", "/v1/audit/proof/inclusion", NULL, "bad-request");
    s_err(400, "GET", "/v1/audit/proof/inclusion", "index=-1", "bad-request");
    s_err(400, "GET", "/v1/audit/proof/inclusion", "index=1x", "bad-request");
    s_err(400, "GET", "/v1/audit/proof/inclusion", "index=1&index=2", "bad-request");
    s_err(400, "GET", "/v1/audit/proof/inclusion", "index=1&msg_id=00", "bad-request");
    s_err(400, "GET", "/v1/audit/proof/inclusion", "msg_id=00", "bad-request");
    s_err(400, "GET", "/v1/audit/proof/inclusion", "index=99999999999999999999", "bad-request");
    s_err(400, "GET", "/v1/audit/proof/inclusion", "index=1&size=100000", "bad-request");
    s_err(400, "GET", "/v1/audit/proof/inclusion", "index=5&size=5", "bad-request");
    s_err(409, "GET", "/v1/audit/proof/inclusion", "index=35", "not-checkpointed");
    s_err(404, "GET", "/v1/audit/proof/inclusion", "index=100000", "not-found");
    s_err(404, "GET", "/v1/audit/proof/inclusion", "msg_id=ffffffffffffffffffffffffffffffff",
          "not-found");
    s_err(400, "GET", "/v1/audit/proof/inclusion", "index=1&", "bad-request");
    s_err(400, "GET", "/v1/audit/proof/inclusion", "&index=1", "bad-request");
    s_err(400, "GET", "/v1/audit/proof/inclusion", "index", "bad-request");
    s_err(400, "GET", "/v1/audit/proof/inclusion", "index=%31", "bad-request");
    s_err(400, "GET", "/v1/audit/proof/consistency", NULL, "bad-request");
    s_err(400, "GET", "/v1/audit/proof/consistency", "from=0", "bad-request");
    s_err(400, "GET", "/v1/audit/proof/consistency", "from=31", "bad-request");
    s_err(400, "GET", "/v1/audit/proof/consistency", "from=5&to=4", "bad-request");
    s_err(400, "GET", "/v1/audit/proof/consistency", "from=5&to=100000", "bad-request");
    s_err(400, "GET", "/v1/audit/entries", NULL, "bad-request");
    s_err(400, "GET", "/v1/audit/entries", "start=100000", "bad-request");
    s_err(400, "GET", "/v1/audit/entries", "start=5&end=4", "bad-request");
    s_err(400, "GET", "/v1/audit/checkpoints", "start=z", "bad-request");
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    s_err(400, "GET", "/v1/audit/entries", big, "bad-request");
    char *body = (char *)1;
    const char *ct = NULL;
    CHECK(egide_auditapi_handle(NULL, "GET", "/v1/audit/checkpoint", NULL, &body, &ct) == 500);
    free(body);
    /* A leaf that is not an event is served with "event": null. */
    egide_auditlog_append(s_log, (const uint8_t *)"raw", 3, NULL);
    json_t *j = NULL;
    char q[64];
    snprintf(q, sizeof q, "start=%llu", (unsigned long long)egide_auditlog_size(s_log) - 1);
    CHECK(s_call("GET", "/v1/audit/entries", q, &j, NULL) == 200);
    CHECK(json_is_null(json_object_get(json_array_get(json_object_get(j, "entries"), 0), "event")));
    json_decref(j);
}

int main(void)
{
    char dir[] = "/tmp/egide-auditapi-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char path[128];
    snprintf(path, sizeof path, "%s/broker.sqlite", dir);
    sqlite3 *db = NULL;
    if (egide_db_open(path, false, &db) != EGIDE_OK || egide_auditlog_open(db, &s_log) != EGIDE_OK)
        return 1;
    s_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    RUN(test_empty);
    RUN(test_endpoints);
    RUN(test_errors);
    egide_auditlog_destroy(&s_log);
    egide_db_close(&db);
    EVP_PKEY_free(s_key);
    unlink(path);
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", path);
    unlink(wal);
    rmdir(dir);
    EGIDE_TEST_DONE();
}
