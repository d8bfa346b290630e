/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_edge_api.c - the edge's REST routes (edge_api_handle, the handler
 * the HTTP server calls, without a server) on a real sending edge: the
 * development PKI and signed directory of deploy/71 made at run time, the
 * keys of 71.police.macon and a SQLite store.
 *
 * What it proves:
 *  - a sent message's overall state is never better than its worst
 *    recipient (issue 13 item 6): one recipient DELIVERED and the CRIP
 *    REJECTED shows "partly_rejected", in GET /v1/messages/{id} and in the
 *    outbox list (and not under state=delivered);
 *  - a catalogue type sent with another content type (opaque bytes) is a
 *    422 naming the expected content type, and nothing is queued (issue
 *    11, Deliver 4);
 *  - an idempotency key makes a retried submission return the original
 *    message (also after a restart), and the same key with another
 *    request a 409 (issue 13 item 14);
 *  - routing by commune goes where the payload says (issue 11 item 3): a
 *    commune that is not a child's, or a payload territory that is not the
 *    directory's for the commune, is a 422 naming both sides; an override
 *    with a reason lets it through, travels inside the sealed payload (the
 *    recipient opens it and finds it) and is kept in the sender's store;
 *    bad reasons and a commune written as a JSON number are refused by
 *    name; without a commune the children's is used; routing.misrouted
 *    answers the message it names;
 *  - a submitted type that makes observatory events keeps the sender's
 *    own copy of the payload it sealed in the outbox (outbox_range, for
 *    the export), the envelope sent holding none of it in the clear; a
 *    type that makes no event keeps no copy.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edge.h"
#include "edge_trail.h"
#include "egide/base/egide_date.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/domain/egide_observatory.h"
#include "egide/domain/egide_payload.h"
#include "egide/protocol/egide_envelope.h"
#include "edge_fixture.h"
#include "egide_test.h"

static char s_dir[256];
static edge_t E;

static void s_quiet(egide_log_level level, const char *line, void *arg)
{
    (void)level, (void)line, (void)arg;
}

/* The sending edge 71.police.macon: keys, trust, the signed directory, a
 * store (the loop's and the API's handle at once: one thread here). */
static int s_setup(void)
{
    if (edge_fx_make_pki(s_dir, sizeof s_dir, "/tmp/egide-test-edge-api.XXXXXX"))
        return -1;
    memset(&E, 0, sizeof E);
    pthread_mutex_init(&E.dir_lock, NULL);
    pthread_mutex_init(&E.api_lock, NULL);
    pthread_mutex_init(&E.batch_lock, NULL);
    pthread_cond_init(&E.batch_cond, NULL);
    E.wake[0] = E.wake[1] = -1;
    egide_strlcpy(E.node_id, "71.police.macon", sizeof E.node_id);
    E.clock_skew_ms = 300000;
    E.ttl_ms = 86400000;
    char p[512], root[512], chain[512], crl[512];
    X509 *c = NULL;
    snprintf(p, sizeof p, "%s/pki/nodes/71.police.macon/sign.key", s_dir);
    if (egide_pki_load_key(p, EGIDE_CERT_USE_SIGN, &E.sign_key))
        return -1;
    snprintf(p, sizeof p, "%s/pki/nodes/71.police.macon/enc.key", s_dir);
    if (egide_pki_load_key(p, EGIDE_CERT_USE_ENC, &E.enc_key))
        return -1;
    snprintf(p, sizeof p, "%s/pki/nodes/71.police.macon/sign.crt", s_dir);
    if (egide_cert_load(p, &c) || egide_cert_fingerprint(c, E.sign_fpr)) {
        X509_free(c);
        return -1;
    }
    X509_free(c);
    snprintf(p, sizeof p, "%s/pki/authority/authority.crt", s_dir);
    snprintf(root, sizeof root, "%s/pki/ca/root.crt", s_dir);
    snprintf(chain, sizeof chain, "%s/pki/ca/chain.pem", s_dir);
    snprintf(crl, sizeof crl, "%s/pki/ca/crl.pem", s_dir);
    if (egide_cert_load(p, &E.anchor) || egide_trust_new(root, chain, crl, 0, &E.trust))
        return -1;
    snprintf(p, sizeof p, "%s/pki/directory.bin", s_dir);
    uint8_t *d = NULL;
    size_t dl = 0;
    if (egide_file_read(p, EGIDE_MAX_DIRECTORY, &d, &dl))
        return -1;
    snprintf(p, sizeof p, "%s/police.db", s_dir);
    egide_rc rc = edge_store_sqlite_ops.open(p, &E.store);
    if (!rc)
        rc = edge_adopt_directory(&E, d, dl, true);
    free(d);
    E.api_store = E.store;
    return rc || !E.peers ? -1 : 0;
}

static void s_teardown(void)
{
    E.api_store = NULL;
    edge_store_close(&E.store);
    egide_peers_destroy(&E.peers);
    egide_directory_destroy(&E.dir);
    egide_trust_destroy(&E.trust);
    X509_free(E.anchor);
    EVP_PKEY_free(E.sign_key);
    EVP_PKEY_free(E.enc_key);
    pthread_mutex_destroy(&E.dir_lock);
    pthread_mutex_destroy(&E.api_lock);
    pthread_cond_destroy(&E.batch_cond);
    pthread_mutex_destroy(&E.batch_lock);
    if (s_dir[0]) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
        edge_fx_sh(cmd);
    }
}

/* One request through the routes; *status gets the HTTP status and the
 * parsed JSON answer is returned (the caller's; NULL when not JSON). */
static json_t *s_call(const char *method, const char *path, const char *query, const char *body,
                      int *status)
{
    egide_http_req_t req = {method,
                            path,
                            query ? query : "",
                            (const uint8_t *)(body ? body : ""),
                            body ? strlen(body) : 0,
                            "token",
                            body ? "application/json" : NULL,
                            NULL,
                            NULL,
                            ""};
    egide_http_resp_t resp = {.status = 500, .content_type = "application/json"};
    edge_api_handle(&E, &req, &resp);
    *status = resp.status;
    json_t *j = resp.body ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
    free(resp.body);
    return j;
}

static const char *s_str(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}

/* ------------------------------------------------------------ overall state */

/* Issue 13 item 6: the CRIP REJECTED the referral, the territory has it:
 * the message is "partly_rejected", never "delivered". */
static void test_overall_state_shows_rejection(void)
{
    uint8_t id[16], sha[32], env[24];
    memset(id, 0x6c, sizeof id);
    memset(sha, 0x21, sizeof sha);
    memset(env, 0x33, sizeof env);
    const char *to[] = {"71.crip", "71.tas.macon"};
    edge_outbox_msg_t m = {
        .msg_id = id,
        .seq = 9001,
        .type = "ip.transmission",
        .urgency = 2,
        .created_ms = 1000,
        .expires_ms = 1LL << 50,
        .envelope = env,
        .envelope_len = sizeof env,
        .sha256 = sha,
        .rcpt_ids = to,
        .n_rcpt = 2,
    };
    bool ch = false;
    REQUIRE(edge_store_outbox_add(E.store, &m) == EGIDE_OK);
    REQUIRE(edge_store_outbox_mark_accepted(E.store, id, 1500, 3, &ch) == EGIDE_OK);
    REQUIRE(edge_store_rcpt_update(E.store, id, "71.tas.macon", EDGE_RCPT_DELIVERED, 0, 2000,
                                   &ch) == EGIDE_OK);
    REQUIRE(edge_store_rcpt_update(E.store, id, "71.crip", EDGE_RCPT_REJECTED,
                                   EGIDE__V1__REASON_CODE__REASON_PAYLOAD_INVALID, 2100,
                                   &ch) == EGIDE_OK);
    char hex[33], path[64];
    egide_hex_encode(id, 16, hex);
    snprintf(path, sizeof path, "/v1/messages/%s", hex);
    int st = 0;
    json_t *j = s_call("GET", path, NULL, NULL, &st);
    CHECK(st == 200);
    CHECK_STREQ(s_str(j, "state"), "partly_rejected");
    json_decref(j);

    j = s_call("GET", "/v1/messages", "box=outbox&state=partly_rejected", NULL, &st);
    CHECK(st == 200);
    json_t *arr = json_object_get(j, "messages");
    CHECK(json_array_size(arr) == 1 && strcmp(s_str(json_array_get(arr, 0), "id"), hex) == 0);
    json_decref(j);
    j = s_call("GET", "/v1/messages", "box=outbox&state=delivered", NULL, &st);
    CHECK(st == 200);
    CHECK(json_array_size(json_object_get(j, "messages")) == 0);
    json_decref(j);
    j = s_call("GET", "/v1/messages", "box=outbox&state=nonsense", NULL, &st);
    CHECK(st == 400);
    json_decref(j);
}

/* ------------------------------------------------------------ RFC 3339 times */

/* Every <name>_ms of j (walked down) that is an instant has <name>_at, the
 * same instant in RFC 3339 UTC (null for none); durations have none.
 * Returns the pairs checked with a time in them; *bad counts disagreements. */
static int s_time_pairs(json_t *j, int depth, int *bad)
{
    int n = 0;
    if (depth > 16)
        return 0;
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) n += s_time_pairs(v, depth + 1, bad);
        return n;
    }
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        if (strcmp(key, "payload") == 0)
            continue;
        if (json_is_object(v) || json_is_array(v)) {
            n += s_time_pairs(v, depth + 1, bad);
            continue;
        }
        size_t kl = strlen(key);
        if (kl <= 3 || strcmp(key + kl - 3, "_ms") != 0)
            continue;
        char at[96];
        snprintf(at, sizeof at, "%.*s_at", (int)(kl - 3), key);
        json_t *a = json_object_get(j, at);
        bool duration = strcmp(key, "offset_ms") == 0 || strcmp(key, "clock_skew_ms") == 0 ||
                        strcmp(key, "heartbeat_ms") == 0 || strstr(key, "retry_") == key;
        if (duration) {
            if (a) {
                fprintf(stderr, "duration %s has %s\n", key, at);
                (*bad)++;
            }
            continue;
        }
        int64_t ms = 0;
        if (json_is_integer(v) && json_integer_value(v) > 0) {
            if (!json_is_string(a) || egide_datetime_parse(json_string_value(a), &ms) ||
                ms != json_integer_value(v) || strlen(json_string_value(a)) != 24 ||
                json_string_value(a)[23] != 'Z') {
                fprintf(stderr, "%s=%lld but %s=%s\n", key, (long long)json_integer_value(v), at,
                        json_is_string(a) ? json_string_value(a) : "(none)");
                (*bad)++;
            }
            n++;
        } else if (!json_is_null(a)) {
            fprintf(stderr, "%s has no time but %s is not null\n", key, at);
            (*bad)++;
        }
    }
    return n;
}

/* Issue 16 item 4: times as RFC 3339 beside the milliseconds, in the
 * message detail, the outbox list and the health answer. */
static void test_times_beside_ms(void)
{
    uint8_t id[16], sha[32], env[24];
    memset(id, 0x7d, sizeof id);
    memset(sha, 0x22, sizeof sha);
    memset(env, 0x34, sizeof env);
    const char *to[] = {"71.crip", "71.tas.macon"};
    edge_outbox_msg_t m = {
        .msg_id = id,
        .seq = 9002,
        .type = "ip.transmission",
        .urgency = 2,
        .created_ms = 1796144400123LL, /* 2026-12-01T17:00:00.123Z */
        .expires_ms = 1796144400123LL + 86400000LL * 30,
        .envelope = env,
        .envelope_len = sizeof env,
        .sha256 = sha,
        .rcpt_ids = to,
        .n_rcpt = 2,
    };
    bool ch = false;
    REQUIRE(edge_store_outbox_add(E.store, &m) == EGIDE_OK);
    REQUIRE(edge_store_outbox_mark_accepted(E.store, id, 1796144401000LL, 3, &ch) == EGIDE_OK);
    REQUIRE(edge_store_rcpt_update(E.store, id, "71.tas.macon", EDGE_RCPT_DELIVERED, 0,
                                   1796144402999LL, &ch) == EGIDE_OK);
    char hex[33], path[64];
    egide_hex_encode(id, 16, hex);
    snprintf(path, sizeof path, "/v1/messages/%s", hex);
    int st = 0, bad = 0;
    json_t *j = s_call("GET", path, NULL, NULL, &st);
    CHECK(st == 200);
    CHECK_STREQ(s_str(j, "created_at"), "2026-12-01T17:00:00.123Z");
    CHECK(json_integer_value(json_object_get(j, "created_ms")) == 1796144400123LL);
    int n = s_time_pairs(j, 0, &bad);
    CHECK(n >= 3); /* created, accepted, delivered at least */
    CHECK(bad == 0);
    char *txt = json_dumps(j, 0);
    CHECK(txt && strstr(txt, "\"2026-12-01T17:00:02.999Z\"")); /* the delivery */
    free(txt);
    json_decref(j);

    j = s_call("GET", "/v1/messages", "box=outbox", NULL, &st);
    CHECK(st == 200);
    bad = 0;
    CHECK(s_time_pairs(j, 0, &bad) >= 2);
    CHECK(bad == 0);
    json_decref(j);

    j = s_call("GET", "/v1/health", NULL, NULL, &st);
    REQUIRE(j != NULL);
    bad = 0;
    (void)s_time_pairs(j, 0, &bad);
    CHECK(bad == 0);
    json_t *clk = json_object_get(j, "clock");
    if (clk && json_object_get(clk, "offset_ms"))
        CHECK(json_object_get(clk, "offset_at") == NULL); /* a duration */
    json_decref(j);
}

/* ------------------------------------------------------------ content type */

/* Issue 11 (Deliver 4), the sender's side: a catalogue type sent as
 * opaque bytes, or with another content type, is a 422 naming the content
 * type expected; nothing is queued. */
static void test_submit_content_type_mismatch(void)
{
    edge_outbox_row_t *rows = NULL;
    size_t before = 0, after = 0;
    REQUIRE(edge_store_outbox_list(E.store, -1, 100, &rows, &before) == EGIDE_OK);
    free(rows);
    static const char *const bodies[] = {
        "{\"type\":\"snated.transmission\",\"to\":[\"71.crip\"],\"payload_b64\":\"JVBERi0x\","
        "\"content_type\":\"application/octet-stream\"}",
        "{\"type\":\"snated.transmission\",\"to\":[\"71.crip\"],\"payload_b64\":\"JVBERi0x\"}",
        "{\"type\":\"ip.transmission\",\"to\":[\"71.crip\"],\"payload\":{},"
        "\"content_type\":\"application/octet-stream\"}",
    };
    const char *want[] = {"application/vnd.egide.snated-transmission+protobuf",
                          "application/vnd.egide.snated-transmission+protobuf",
                          "application/vnd.egide.ip-transmission+protobuf"};
    for (size_t i = 0; i < 3; i++) {
        int st = 0;
        json_t *j = s_call("POST", "/v1/messages", NULL, bodies[i], &st);
        CHECK(st == 422);
        char *txt = j ? json_dumps(j, 0) : NULL;
        CHECK(txt && strstr(txt, want[i]));
        CHECK_STREQ(egide_payload_content_type(i < 2 ? "snated.transmission" : "ip.transmission"),
                    want[i]);
        free(txt);
        json_decref(j);
    }
    REQUIRE(edge_store_outbox_list(E.store, -1, 100, &rows, &after) == EGIDE_OK);
    free(rows);
    CHECK(after == before);
}

/* Hardening #12 at the API: an unknown top-level member is named in the 400
 * quoted, escaped and bounded, never raw (no forged lines, no escapes). */
static void test_unknown_member_quoted(void)
{
    int st = 0;
    json_t *j = s_call("POST", "/v1/messages", NULL,
                       "{\"type\":\"ip.transmission\",\"a\\nERROR forged\\u001b[31m\":1}", &st);
    CHECK(st == 400);
    const char *msg = json_string_value(json_object_get(j, "detail"));
    CHECK(msg && strstr(msg, "unknown field \"a\\u000aERROR forged\\u001b[31m\""));
    CHECK(msg && !strchr(msg, '\n') && !strchr(msg, 0x1b));
    json_decref(j);
    char big[9000];
    memcpy(big, "{\"", 2);
    memset(big + 2, 'k', 8000);
    memcpy(big + 8002, "\":1}", 5);
    j = s_call("POST", "/v1/messages", NULL, big, &st);
    CHECK(st == 400);
    msg = json_string_value(json_object_get(j, "detail"));
    CHECK(msg && strlen(msg) < 200 && strstr(msg, "\u2026"));
    json_decref(j);
}

/* ------------------------------------------------------------ idempotency */

#define IP_PAYLOAD                                                                                 \
    "{\"received_at\":\"2026-10-01T16:40:00+02:00\",\"sender\":{\"type\":\"police\"},"             \
    "\"children\":[{\"first_names\":[\"L\u00e9o\"],\"sex\":\"male\",\"birth_date\":"               \
    "\"2016-05-14\",\"commune\":\"71270\"}],\"danger\":{\"categories\":[\"severe_neglect\"]},"     \
    "\"urgency\":\"urgent\"}"

static size_t s_outbox_count(void)
{
    edge_outbox_row_t *rows = NULL;
    size_t n = 0;
    if (edge_store_outbox_list(E.store, -1, EDGE_STORE_LIST_MAX, &rows, &n) != EGIDE_OK)
        n = 99999;
    free(rows);
    return n;
}

/* POST body; *id gets the answer's "id" ("" when none). */
static int s_post(const char *body, char id[33])
{
    int st = 0;
    json_t *j = s_call("POST", "/v1/messages", NULL, body, &st);
    egide_strlcpy(id, s_str(j, "id"), 33);
    json_decref(j);
    return st;
}

/* Issue 13 item 14: a request cut off after its commit and retried with
 * the same key makes no second referral: the original id comes back
 * (200), also after the store is reopened (a restart); the same key with
 * another request is a 409; bad keys are a 400; without a key nothing
 * changes. */
static void test_idempotency_key(void)
{
    const char *body = "{\"type\":\"ip.transmission\",\"to\":[\"71.crip\"],"
                       "\"idempotency_key\":\"8c0f-retry-1\",\"payload\":" IP_PAYLOAD "}";
    /* The same request with its members in another order. */
    const char *reordered = "{\"payload\":" IP_PAYLOAD ",\"idempotency_key\":\"8c0f-retry-1\","
                            "\"to\":[\"71.crip\"],\"type\":\"ip.transmission\"}";
    const char *other =
        "{\"type\":\"ip.transmission\",\"to\":[\"71.crip\"],\"urgency\":"
        "\"immediate\",\"idempotency_key\":\"8c0f-retry-1\",\"payload\":" IP_PAYLOAD "}";
    char id1[33], id2[33];
    size_t n0 = s_outbox_count();
    CHECK(s_post(body, id1) == 202);
    CHECK(strlen(id1) == 32);
    CHECK(s_outbox_count() == n0 + 1);
    CHECK(s_post(body, id2) == 200);
    CHECK_STREQ(id2, id1);
    CHECK(s_post(reordered, id2) == 200);
    CHECK_STREQ(id2, id1);
    CHECK(s_outbox_count() == n0 + 1);

    /* Remembered in the store: the same after a restart. */
    char path[512];
    snprintf(path, sizeof path, "%s/police.db", s_dir);
    edge_store_close(&E.store);
    REQUIRE(edge_store_sqlite_ops.open(path, &E.store) == EGIDE_OK);
    E.api_store = E.store;
    CHECK(s_post(body, id2) == 200);
    CHECK_STREQ(id2, id1);
    CHECK(s_outbox_count() == n0 + 1);

    int st = 0;
    json_t *j = s_call("POST", "/v1/messages", NULL, other, &st);
    CHECK(st == 409);
    char *txt = j ? json_dumps(j, 0) : NULL;
    CHECK(txt && strstr(txt, id1) && strstr(txt, "another request"));
    free(txt);
    json_decref(j);
    CHECK(s_outbox_count() == n0 + 1);

    static const char *const bad[] = {
        "{\"type\":\"ip.transmission\",\"to\":[\"71.crip\"],\"idempotency_key\":\"a b\","
        "\"payload\":" IP_PAYLOAD "}",
        "{\"type\":\"ip.transmission\",\"to\":[\"71.crip\"],\"idempotency_key\":\"\","
        "\"payload\":" IP_PAYLOAD "}",
        "{\"type\":\"ip.transmission\",\"to\":[\"71.crip\"],\"idempotency_key\":12,"
        "\"payload\":" IP_PAYLOAD "}",
        "{\"type\":\"ip.transmission\",\"to\":[\"71.crip\"],\"idempotency_key\":\"\\u001b[2J\","
        "\"payload\":" IP_PAYLOAD "}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(s_post(bad[i], id2) == 400);
    char longkey[600];
    snprintf(longkey, sizeof longkey,
             "{\"type\":\"ip.transmission\",\"to\":[\"71.crip\"],\"idempotency_key\":\"%0*d\","
             "\"payload\":" IP_PAYLOAD "}",
             EDGE_IDEM_KEY_MAX + 1, 7);
    CHECK(s_post(longkey, id2) == 400);
    CHECK(s_outbox_count() == n0 + 1);

    /* Without a key, each request is a message of its own, as before. */
    const char *plain =
        "{\"type\":\"ip.transmission\",\"to\":[\"71.crip\"],\"payload\":" IP_PAYLOAD "}";
    CHECK(s_post(plain, id2) == 202);
    CHECK(s_post(plain, id2) == 202);
    CHECK(s_outbox_count() == n0 + 3);
}

/* A store failure while queueing is transient: 503 and nothing queued,
 * never a bare 500 or a refusal, also when an idempotency key was given and
 * the EXISTS came from the message's own id or sequence; the client's retry
 * then queues it once. */
static egide_rc s_add_rc = EGIDE_OK;
static egide_rc s_add_fails(edge_store_t *st, const edge_outbox_msg_t *m)
{
    (void)st, (void)m;
    return s_add_rc;
}

static void test_submit_store_faults(void)
{
    const char *keyed = "{\"type\":\"ip.transmission\",\"to\":[\"71.crip\"],"
                        "\"idempotency_key\":\"fault-retry-1\",\"payload\":" IP_PAYLOAD "}";
    const char *plain =
        "{\"type\":\"ip.transmission\",\"to\":[\"71.crip\"],\"payload\":" IP_PAYLOAD "}";
    static const egide_rc faults[] = {EGIDE_ERR_EXISTS, EGIDE_ERR_FULL, EGIDE_ERR_IO, EGIDE_ERR_DB};
    edge_store_ops_t faulty = *E.api_store->ops;
    faulty.outbox_add = s_add_fails;
    const edge_store_ops_t *real = E.api_store->ops;
    size_t n0 = s_outbox_count();
    char id[33];
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
        s_add_rc = faults[i];
        E.api_store->ops = &faulty;
        int with_key = s_post(keyed, id), without = s_post(plain, id);
        E.api_store->ops = real;
        if (with_key != 503 || without != 503)
            fprintf(stderr, "fault %s: %d with a key, %d without\n", egide_strerror(faults[i]),
                    with_key, without);
        CHECK(with_key == 503 && without == 503);
        CHECK(s_outbox_count() == n0);
    }
    /* The retry once the store is back: queued once, then the original. */
    char id2[33];
    CHECK(s_post(keyed, id) == 202);
    CHECK(s_post(keyed, id2) == 200);
    CHECK_STREQ(id2, id);
    CHECK(s_outbox_count() == n0 + 1);
}

/* Submissions commit together (edge_api_batch.c).  The test stands in for
 * a batch being written (batch_writer) until all its requests are queued,
 * so that they run as one batch: every answer is as if alone (202s, the
 * retry of a key 200 with the original id, the same key with another
 * request 409, its writes undone alone), in one transaction, each queued
 * message with its trail entry.  A batch whose commit fails keeps nothing
 * and answers every request 503; a transaction the store ended by itself
 * (a full disk) fails the request that met it and those after it, 503. */
typedef struct {
    pthread_t t;
    const char *body;
    int status;
    char id[33];
} s_par_t;

static void *s_par_main(void *arg)
{
    s_par_t *p = arg;
    p->status = s_post(p->body, p->id);
    return NULL;
}

static size_t s_queued_jobs(void)
{
    size_t n = 0;
    pthread_mutex_lock(&E.batch_lock);
    for (edge_api_job_t *j = E.batch_head; j; j = j->next)
        n++;
    pthread_mutex_unlock(&E.batch_lock);
    return n;
}

/* Run the requests as one batch: held until all are queued (bounded). */
static bool s_par_batch(s_par_t *p, size_t n)
{
    pthread_mutex_lock(&E.batch_lock);
    E.batch_writer = true;
    pthread_mutex_unlock(&E.batch_lock);
    for (size_t i = 0; i < n; i++)
        if (pthread_create(&p[i].t, NULL, s_par_main, &p[i]) != 0)
            return false;
    bool all = false;
    for (int k = 0; k < 3000 && !all; k++) {
        all = s_queued_jobs() == n;
        if (!all)
            usleep(10000);
    }
    pthread_mutex_lock(&E.batch_lock);
    E.batch_writer = false;
    pthread_cond_broadcast(&E.batch_cond);
    pthread_mutex_unlock(&E.batch_lock);
    for (size_t i = 0; i < n; i++)
        pthread_join(p[i].t, NULL);
    return all;
}

/* message.send entries in the trail. */
static size_t s_trail_sends(void)
{
    edge_trail_t *t = NULL;
    if (edge_trail_open(edge_store_sqlite_db(E.store), E.node_id, &t) != EGIDE_OK)
        return 99999;
    size_t sends = 0;
    edge_trail_q_t q = {.limit = EDGE_TRAIL_PAGE_MAX};
    for (int page = 0; page < 100; page++) {
        edge_trail_entry_t *rows = NULL;
        size_t n = 0;
        bool more = false;
        if (edge_trail_list(t, &q, &rows, &n, &more) != EGIDE_OK) {
            sends = 99999;
            break;
        }
        for (size_t i = 0; i < n; i++)
            sends += strcmp(rows[i].action, "message.send") == 0;
        if (n) {
            q.has_after = true;
            q.after = rows[n - 1].index;
        }
        free(rows);
        if (!more)
            break;
    }
    edge_trail_destroy(&t);
    return sends;
}

static egide_rc s_commit_fails(edge_store_t *st)
{
    (void)st;
    return EGIDE_ERR_FULL;
}

static const edge_store_ops_t *s_real_ops;
static egide_rc s_add_ends_txn(edge_store_t *st, const edge_outbox_msg_t *m)
{
    (void)m;
    s_real_ops->rollback(st); /* as SQLite does after SQLITE_FULL */
    return EGIDE_ERR_FULL;
}

/* Three requests of body as one batch on the store table ops: how many
 * were answered 503. */
static int s_faulty_batch(const edge_store_ops_t *ops, const char *body)
{
    const edge_store_ops_t *real = E.api_store->ops;
    s_par_t q[3];
    memset(q, 0, sizeof q);
    for (int i = 0; i < 3; i++)
        q[i].body = body;
    E.api_store->ops = ops;
    bool one = s_par_batch(q, 3);
    E.api_store->ops = real;
    int n503 = 0;
    for (int i = 0; i < 3; i++)
        n503 += q[i].status == 503;
    return one ? n503 : -1;
}

static void test_submit_batched(void)
{
    const char *plain =
        "{\"type\":\"ip.transmission\",\"to\":[\"71.crip\"],\"payload\":" IP_PAYLOAD "}";
    const char *keyed = "{\"type\":\"ip.transmission\",\"to\":[\"71.crip\"],"
                        "\"idempotency_key\":\"batch-key-1\",\"payload\":" IP_PAYLOAD "}";
    const char *keyed_other =
        "{\"type\":\"ip.transmission\",\"to\":[\"71.crip\"],\"urgency\":"
        "\"immediate\",\"idempotency_key\":\"batch-key-1\",\"payload\":" IP_PAYLOAD "}";
    s_par_t p[9];
    memset(p, 0, sizeof p);
    for (int i = 0; i < 6; i++)
        p[i].body = plain;
    p[6].body = p[7].body = keyed;
    p[8].body = keyed_other;
    size_t out0 = s_outbox_count(), sends0 = s_trail_sends();
    uint64_t b0 = atomic_load(&E.m.api_batches), j0 = atomic_load(&E.m.api_batched);
    CHECK(s_par_batch(p, 9));
    CHECK(atomic_load(&E.m.api_batches) == b0 + 1); /* one transaction */
    CHECK(atomic_load(&E.m.api_batched) == j0 + 9);
    int n202 = 0;
    for (int i = 0; i < 6; i++)
        n202 += p[i].status == 202 && strlen(p[i].id) == 32;
    CHECK(n202 == 6);
    /* The key's first request in the batch's order (the threads') is
     * queued; the same request again gets its id (200), another request
     * with the key a 409. */
    if (p[8].status == 202) {
        CHECK(p[6].status == 409 && p[7].status == 409);
        egide_strlcpy(p[6].id, p[8].id, sizeof p[6].id);
    } else {
        CHECK((p[6].status == 202 && p[7].status == 200) ||
              (p[6].status == 200 && p[7].status == 202));
        CHECK_STREQ(p[6].id, p[7].id);
        CHECK(p[8].status == 409);
    }
    for (int i = 0; i < 6; i++)
        for (int k = i + 1; k < 7; k++)
            CHECK(strcmp(p[i].id, p[k].id) != 0);
    CHECK(s_outbox_count() == out0 + 7);  /* the 409's message undone alone */
    CHECK(s_trail_sends() == sends0 + 7); /* each queued message with its entry */

    /* The commit fails: nothing of the batch kept, every request 503. */
    const edge_store_ops_t *real = E.api_store->ops;
    s_real_ops = real;
    edge_store_ops_t faulty = *real;
    faulty.commit = s_commit_fails;
    CHECK(s_faulty_batch(&faulty, plain) == 3);
    CHECK(s_outbox_count() == out0 + 7);
    CHECK(s_trail_sends() == sends0 + 7);

    /* The store ends the transaction under the first request: it and the
     * ones after are 503, nothing kept, nothing written outside it. */
    faulty = *real;
    faulty.outbox_add = s_add_ends_txn;
    CHECK(s_faulty_batch(&faulty, plain) == 3);
    CHECK(s_outbox_count() == out0 + 7);
    CHECK(s_trail_sends() == sends0 + 7);
    /* and the next request is served as usual */
    char id[33];
    CHECK(s_post(plain, id) == 202);
    CHECK(s_outbox_count() == out0 + 8);
    CHECK(s_trail_sends() == sends0 + 8);
}

/* The CRIP's evaluation.assignment carries the case's clock origin as
 * ip_received_at (edge_api.c s_fill_origin): missing or different, it is
 * filled from the case the reply belongs to and the answer says so; equal,
 * nothing changes; a case without an origin here is left as submitted.
 * The assignment then opens the CRIP's "oversee" evaluation on that clock. */
#define ASSIGN_CHILD                                                                               \
    "{\"surname\":\"Fictif\",\"first_names\":[\"Zoé\"],\"sex\":\"female\","                       \
    "\"birth_date\":\"2016-05-14\",\"commune\":\"71137\"}"
static void test_assignment_fills_origin(void)
{
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/deploy/profiles/fr-casf.ini", getenv("EGIDE_SOURCE_DIR"));
    REQUIRE(egide_deadline_profile_load(path, &E.profile, err, sizeof err) == EGIDE_OK);
    char saved_id[sizeof E.node_id], saved_role[sizeof E.role];
    memcpy(saved_id, E.node_id, sizeof saved_id);
    memcpy(saved_role, E.role, sizeof saved_role);
    egide_strlcpy(E.node_id, "71.crip", sizeof E.node_id);
    egide_strlcpy(E.role, "crip", sizeof E.role);
    /* the referral this CRIP received, its case and origin */
    uint8_t ip[16], sha[32];
    memset(ip, 0x3c, sizeof ip);
    memset(sha, 0x3d, sizeof sha);
    int64_t cid = 0, origin = 0;
    REQUIRE(egide_datetime_parse("2026-09-14T07:14:25Z", &origin) == EGIDE_OK);
    edge_inbox_msg_t im = {.msg_id = ip,
                           .sha256 = sha,
                           .sender_id = "fr.snated",
                           .type = "snated.transmission",
                           .received_ms = origin,
                           .content_type = "x",
                           .receipt = (const uint8_t *)"r",
                           .receipt_len = 1,
                           .case_id = &cid};
    edge_inbox_put_result res;
    uint8_t *stored = NULL;
    size_t sl = 0;
    REQUIRE(edge_store_inbox_put(E.store, &im, &res, &stored, &sl) == EGIDE_OK && cid > 0);
    REQUIRE(edge_store_case_origin(E.store, cid, origin, 0, NULL) == EGIDE_OK);
    char body[2048];
    static const char *const irts[] = {
        "3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c", "3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c",
        "3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c", "99999999999999999999999999999999"};
    static const char *const given[] = {",\"ip_received_at\":\"2026-05-14T07:14:25Z\"", "",
                                        ",\"ip_received_at\":\"2026-09-14T09:14:25+02:00\"",
                                        ",\"ip_received_at\":\"2026-05-14T07:14:25Z\""};
    static const bool want_filled[] = {true, true, false, false};
    static const char *const refs[] = {"CRIP71-2026-0042", "CRIP71-2026-0042", "CRIP71-2026-0042",
                                       "CRIP71-2026-0999"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(body, sizeof body,
                 "{\"type\":\"evaluation.assignment\",\"to\":[\"71.tas.cluny-tournus\"],"
                 "\"in_reply_to\":\"%s\",\"payload\":{\"assigned_at\":\"2026-09-16T08:00:00Z\"%s,"
                 "\"case_ref\":\"%s\",\"urgency\":\"normal\","
                 "\"territory\":\"71.tas.cluny-tournus\",\"children\":[" ASSIGN_CHILD "]}}",
                 irts[i], given[i], refs[i]);
        int st = 0;
        json_t *j = s_call("POST", "/v1/messages", NULL, body, &st);
        CHECK(st == 202);
        if (st != 202) {
            char *dump = json_dumps(j, 0);
            fprintf(stderr, "case %zu: %d %s\n", i, st, dump ? dump : "");
            free(dump);
        }
        json_t *filled = json_object_get(j, "filled");
        CHECK(want_filled[i] == (json_array_size(filled) == 1));
        if (want_filled[i])
            CHECK_STREQ(json_string_value(json_array_get(filled, 0)), "ip_received_at");
        json_decref(j);
    }
    free(stored);
    edge_oblig_filter_t f;
    memset(&f, 0, sizeof f);
    f.role = EDGE_OBLIG_OVERSEE;
    f.has_case = true;
    f.case_id = cid;
    f.limit = 10;
    edge_obligation_t *rows = NULL;
    size_t n = 0;
    edge_oblig_cursor_t next;
    CHECK_RC(edge_store_obligation_list(E.store, &f, &rows, &n, &next), EGIDE_OK);
    CHECK(n == 1 && strcmp(rows[0].name, "evaluation") == 0 && rows[0].start_ms == origin &&
          strcmp(rows[0].actor, "71.tas.cluny-tournus") == 0);
    free(rows);
    memcpy(E.node_id, saved_id, sizeof saved_id);
    memcpy(E.role, saved_role, sizeof saved_role);
    egide_deadline_profile_destroy(&E.profile);
}

/* ------------------------------------------------------------ routing checks */

/* Issue 11 item 3.  Sender identities: the fixture starts as the police;
 * the CRIP and a territory are taken on by swapping the signing key and
 * the node id (one store, nothing is sent). */
static int s_become(const char *id, const char *role)
{
    EVP_PKEY_free(E.sign_key);
    E.sign_key = NULL;
    if (edge_fx_key(s_dir, id, "sign.key", EGIDE_CERT_USE_SIGN, &E.sign_key) ||
        edge_fx_cert(s_dir, id, "sign.crt", EGIDE_CERT_USE_SIGN, NULL, E.sign_fpr))
        return -1;
    egide_strlcpy(E.node_id, id, sizeof E.node_id);
    egide_strlcpy(E.role, role, sizeof E.role);
    return 0;
}

#define KID(c)                                                                                     \
    "{\"first_names\":[\"L\u00e9o\"],\"sex\":\"male\",\"birth_date\":\"2016-05-14\","              \
    "\"commune\":" c "}"
#define IP_KIDS(kids)                                                                              \
    "{\"received_at\":\"2026-10-01T16:40:00+02:00\",\"sender\":{\"type\":\"police\"},"             \
    "\"children\":[" kids "],\"danger\":{\"categories\":[\"severe_neglect\"]},\"urgency\":"        \
    "\"urgent\"}"
#define ASSIGN(territory, kids)                                                                    \
    "{\"assigned_at\":\"2026-10-02T09:00:00+02:00\",\"ip_received_at\":"                           \
    "\"2026-10-01T16:40:00+02:00\",\"case_ref\":\"CRIP71-2026-0815\",\"territory\":\"" territory   \
    "\",\"children\":[" kids "],\"urgency\":\"normal\"}"

/* POST body: the status; *j the answer (the caller's). */
static int s_post_j(const char *body, json_t **j)
{
    int st = 0;
    *j = s_call("POST", "/v1/messages", NULL, body, &st);
    return st;
}

static const char *s_err_msg(json_t *j)
{
    const char *m = json_string_value(json_object_get(j, "detail"));
    return m ? m : "";
}

static const char *s_err_code(json_t *j)
{
    const char *m = json_string_value(json_object_get(j, "code"));
    return m ? m : "";
}

/* The answer's recipients joined by spaces. */
static void s_rcpts(json_t *j, char *out, size_t outsz)
{
    json_t *a = json_object_get(j, "recipients");
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < json_array_size(a) && o < outsz; i++)
        o += (size_t)snprintf(out + o, outsz - o, "%s%s", i ? " " : "",
                              json_string_value(json_array_get(a, i)));
}

/* Open message id (hex) from this edge's outbox as recipient `as` would:
 * verify, decrypt, strict payload check; the payload as JSON (the
 * caller's) and its facts, or NULL. */
static char *s_open_as(const char *hex, const char *as, const char *type, egide_payload_facts_t *fx)
{
    uint8_t id[16], *env = NULL, *pl = NULL;
    size_t len = 0, pl_len = 0;
    char *ct = NULL, *json = NULL;
    EVP_PKEY *enc = NULL, *spub = NULL;
    egide_envelope_t *parsed = NULL;
    if (egide_hex_decode(hex, id, 16) || edge_store_outbox_envelope(E.store, id, &env, &len) ||
        egide_envelope_parse(env, len, &parsed) ||
        edge_fx_key(s_dir, as, "enc.key", EGIDE_CERT_USE_ENC, &enc) ||
        edge_fx_cert(s_dir, E.node_id, "sign.crt", EGIDE_CERT_USE_SIGN, &spub, NULL))
        goto done;
    if (egide_envelope_open(parsed, as, enc, spub, &ct, &pl, &pl_len) ||
        strcmp(ct, egide_payload_content_type(type)) != 0 ||
        egide_payload_check(type, pl, pl_len, egide_now_ms(), fx, NULL) ||
        egide_payload_to_json(type, pl, pl_len, &json))
        goto done;
done:
    egide_free_secret(pl, pl_len);
    free(ct);
    free(env);
    egide_envelope_destroy(&parsed);
    EVP_PKEY_free(enc);
    EVP_PKEY_free(spub);
    return json;
}

/* The commune given is not the child's: refused naming both; with an
 * override it goes, the reason inside the sealed payload as the recipient
 * opens it, and in the sender's store. */
static void test_route_commune_mismatch_and_override(void)
{
    size_t n0 = s_outbox_count();
    json_t *j = NULL;
    /* an unknown type is answered with the types there are */
    CHECK(s_post_j("{\"type\":\"ip.transmision\",\"commune\":\"71137\",\"payload\":{}}", &j) ==
          400);
    CHECK(strstr(s_err_msg(j), "type: unknown message type; one of: ") != NULL);
    CHECK(strstr(s_err_msg(j), "ip.transmission") != NULL);
    CHECK(strstr(s_err_msg(j), "evaluation.report") != NULL);
    json_decref(j);
    j = NULL;
    const char *mismatch =
        "{\"type\":\"ip.transmission\",\"commune\":\"71270\",\"payload\":" IP_KIDS(
            KID("\"71137\"")) "}";
    CHECK(s_post_j(mismatch, &j) == 422);
    CHECK_STREQ(s_err_code(j), "routing-refused");
    CHECK(strstr(s_err_msg(j), "routing mismatch: commune 71270") != NULL);
    CHECK(strstr(s_err_msg(j), "children (71137)") != NULL);
    CHECK(strstr(s_err_msg(j), "routing_override") != NULL);
    json_decref(j);
    /* Two children in two communes: either may be routed by, another not. */
#define TWO                                                                                        \
    "{\"type\":\"ip.transmission\",\"commune\":\"%s\",\"payload\":" IP_KIDS(                       \
        KID("\"71137\"") "," KID("\"2A004\"")) "}"
    char body[4096], r[256];
    snprintf(body, sizeof body, TWO, "71543");
    CHECK(s_post_j(body, &j) == 422);
    CHECK(strstr(s_err_msg(j), "commune 71543") && strstr(s_err_msg(j), "(71137, 2A004)"));
    json_decref(j);
    CHECK(s_outbox_count() == n0);
    snprintf(body, sizeof body, TWO, "71137");
#undef TWO
    CHECK(s_post_j(body, &j) == 202);
    s_rcpts(j, r, sizeof r);
    CHECK_STREQ(r, "71.crip 71.tas.cluny-tournus");
    CHECK(json_object_get(j, "routing_override") == NULL);
    json_decref(j);
    CHECK(s_outbox_count() == n0 + 1);

    /* The override: accepted, routed by the commune given. */
    const char *ovr =
        "{\"type\":\"ip.transmission\",\"commune\":\"71270\",\"routing_override\":{\"reason\":"
        "\"Enfant d\u00e9j\u00e0 suivi par le TAS de M\u00e2con (mesure en cours)\"},"
        "\"payload\":" IP_KIDS(KID("\"71137\"")) "}";
    CHECK(s_post_j(ovr, &j) == 202);
    s_rcpts(j, r, sizeof r);
    CHECK_STREQ(r, "71.crip 71.tas.macon");
    json_t *rec = json_object_get(j, "routing_override");
    CHECK_STREQ(s_str(rec, "commune"), "71270");
    CHECK(strstr(s_str(rec, "reason"), "TAS de M\u00e2con") != NULL);
    char hex[33];
    egide_strlcpy(hex, s_str(j, "id"), sizeof hex);
    json_decref(j);
    CHECK(s_outbox_count() == n0 + 2);
    /* The recipient (and the CRIP) open it and find the override. */
    const char *as[] = {"71.tas.macon", "71.crip"};
    for (size_t i = 0; i < 2; i++) {
        egide_payload_facts_t fx;
        char *pl = s_open_as(hex, as[i], "ip.transmission", &fx);
        CHECK(pl != NULL);
        json_t *p = pl ? json_loads(pl, 0, NULL) : NULL;
        json_t *po = json_object_get(p, "routing_override");
        CHECK(strstr(s_str(po, "reason"), "TAS de M\u00e2con (mesure en cours)") != NULL);
        CHECK_STREQ(s_str(po, "commune"), "71270");
        CHECK(fx.routing_override);
        CHECK_STREQ(fx.commune, "71137");
        json_decref(p);
        free(pl);
    }
    /* The sender's record, committed with the message. */
    char key[64];
    snprintf(key, sizeof key, "routing_override/%s", hex);
    uint8_t *val = NULL;
    size_t vlen = 0;
    CHECK_RC(edge_store_meta_get(E.store, key, &val, &vlen), EGIDE_OK);
    json_t *kept = val ? json_loadb((const char *)val, vlen, 0, NULL) : NULL;
    CHECK_STREQ(s_str(kept, "commune"), "71270");
    CHECK(strstr(s_str(kept, "reason"), "mesure en cours") != NULL);
    CHECK(json_array_size(json_object_get(kept, "children_communes")) == 1);
    CHECK(json_array_size(json_object_get(kept, "recipients")) == 2);
    json_decref(kept);
    free(val);
    /* Retried with an idempotency key: the same message, its record again. */
    const char *keyed =
        "{\"type\":\"ip.transmission\",\"commune\":\"71270\",\"idempotency_key\":\"ovr-1\","
        "\"routing_override\":{\"reason\":\"Suivi \u00e0 M\u00e2con\"},\"payload\":" IP_KIDS(
            KID("\"71137\"")) "}";
    CHECK(s_post_j(keyed, &j) == 202);
    char first[33];
    egide_strlcpy(first, s_str(j, "id"), sizeof first);
    json_decref(j);
    CHECK(s_post_j(keyed, &j) == 200);
    CHECK_STREQ(s_str(j, "id"), first);
    CHECK(json_is_true(json_object_get(j, "idempotent_replay")));
    CHECK_STREQ(s_str(json_object_get(j, "routing_override"), "reason"), "Suivi \u00e0 M\u00e2con");
    json_decref(j);
    CHECK(s_outbox_count() == n0 + 3);
    /* A message without an override has no record. */
    CHECK(edge_store_meta_get(E.store, "routing_override/00000000000000000000000000000000", &val,
                              &vlen) == EGIDE_ERR_NOTFOUND);
}

/* Without a commune the children's is routed by; INSEE codes of Corsica,
 * the overseas departments and New Caledonia are communes (routed or
 * refused by the directory, never by their shape); a malformed one is a
 * 400. */
static void test_route_from_payload_and_codes(void)
{
    json_t *j = NULL;
    char r[256], body[4096];
    CHECK(s_post_j("{\"type\":\"ip.transmission\",\"payload\":" IP_KIDS(KID("\"71137\"")) "}",
                   &j) == 202);
    s_rcpts(j, r, sizeof r);
    CHECK_STREQ(r, "71.crip 71.tas.cluny-tournus");
    json_decref(j);
    static const char *const codes[] = {"2A004", "2B033", "97411", "98818"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(body, sizeof body,
                 "{\"type\":\"ip.transmission\",\"commune\":\"%s\",\"payload\":" IP_KIDS(
                     KID("\"%s\"")) "}",
                 codes[i], codes[i]);
        CHECK(s_post_j(body, &j) == 422); /* not department 71's */
        CHECK(strstr(s_err_msg(j), "no route in the directory") != NULL);
        json_decref(j);
        /* Given against a child of 71137: a mismatch naming both. */
        snprintf(body, sizeof body,
                 "{\"type\":\"ip.transmission\",\"commune\":\"%s\",\"payload\":" IP_KIDS(
                     KID("\"71137\"")) "}",
                 codes[i]);
        CHECK(s_post_j(body, &j) == 422);
        CHECK(strstr(s_err_msg(j), codes[i]) && strstr(s_err_msg(j), "(71137)"));
        json_decref(j);
    }
    static const char *const bad[] = {"7113",  "711370", "2C004", "71 37",
                                      "7A137", "00123",  "20004"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(body, sizeof body,
                 "{\"type\":\"ip.transmission\",\"commune\":\"%s\",\"payload\":" IP_KIDS(
                     KID("\"71137\"")) "}",
                 bad[i]);
        int st = s_post_j(body, &j);
        if (st != 400)
            fprintf(stderr, "%s: %d %s\n", bad[i], st, s_err_msg(j));
        CHECK(st == 400);
        CHECK(strstr(s_err_msg(j), "is not an INSEE commune code") != NULL);
        json_decref(j);
    }
}

/* A commune written as a JSON number, in the request or in the payload: a
 * specific error, nothing queued. */
static void test_route_commune_number(void)
{
    size_t n0 = s_outbox_count();
    json_t *j = NULL;
    CHECK(s_post_j("{\"type\":\"ip.transmission\",\"commune\":71137,\"payload\":" IP_KIDS(
                       KID("\"71137\"")) "}",
                   &j) == 400);
    CHECK_STREQ(s_err_msg(j), "commune: commune must be a string INSEE code such as \"71137\"");
    json_decref(j);
    CHECK(s_post_j("{\"type\":\"ip.transmission\",\"payload\":" IP_KIDS(KID("71137")) "}", &j) ==
          422);
    char *txt = j ? json_dumps(json_object_get(j, "errors"), 0) : NULL;
    CHECK(txt && strstr(txt, "children[0].commune: commune must be a string INSEE code such as "
                             "\\\"71137\\\""));
    free(txt);
    json_decref(j);
    CHECK(s_outbox_count() == n0);
}

/* Bad overrides: a 400 naming what is wrong, nothing queued. */
static void test_route_bad_override(void)
{
    size_t n0 = s_outbox_count();
    char longr[EGIDE_PAYLOAD_OVERRIDE_REASON_MAX + 2];
    memset(longr, 'x', sizeof longr - 1);
    longr[sizeof longr - 1] = '\0';
    char longbody[4096];
    snprintf(longbody, sizeof longbody,
             "{\"type\":\"ip.transmission\",\"commune\":\"71270\",\"routing_override\":{"
             "\"reason\":\"%s\"},\"payload\":" IP_KIDS(KID("\"71137\"")) "}",
             longr);
#define OVB(o) "{\"type\":\"ip.transmission\",\"commune\":\"71270\",\"routing_override\":" o
#define PL     ",\"payload\":" IP_KIDS(KID("\"71137\"")) "}"
    static const struct {
        const char *body, *want;
    } cases[] = {
        {OVB("{\"reason\":\"\"}") PL, "routing_override.reason: must not be empty"},
        {NULL, "routing_override.reason: longer than 300 bytes"},
        {OVB("{\"reason\":\"suivi\\u0007ailleurs\"}") PL, "routing_override.reason: control"},
        {OVB("{\"reason\":\"ligne\\nforg\u00e9e\"}") PL, "routing_override.reason: control"},
        {OVB("{\"reason\":\"\\u202eenrev\"}") PL, "routing_override.reason: control"},
        {OVB("{\"reason\":42}") PL, "routing_override.reason: not a string"},
        {OVB("{}") PL, "routing_override.reason: required"},
        {OVB("\"because\"") PL, "routing_override: an object"},
        {OVB("{\"reason\":\"r\",\"by\":\"me\"}") PL, "routing_override: unknown field \"by\""},
        {"{\"type\":\"message.acknowledgement\",\"commune\":\"71270\",\"routing_override\":{"
         "\"reason\":\"r\"},\"payload\":{\"acknowledged_at\":\"2026-10-01T16:40:00+02:00\","
         "\"acknowledged_by\":\"x\"}}",
         "routing_override: type message.acknowledgement is not routed"},
        {OVB("{\"reason\":\"r\"}") ",\"payload\":{\"received_at\":\"2026-10-01T16:40:00+02:00\","
                                   "\"sender\":{\"type\":\"police\"},\"children\":[" KID(
                                       "\"71137\"") "],\"danger\":{\"categories\":[\"severe_"
                                                    "neglect\"]},\"urgency\":\"urgent\","
                                                    "\"routing_override\":{\"reason\":\"r\"}}}",
         "routing_override: given both in the request and in the payload"},
    };
#undef OVB
#undef PL
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *j = NULL;
        int st = s_post_j(cases[i].body ? cases[i].body : longbody, &j);
        if (st != 400 || !strstr(s_err_msg(j), cases[i].want))
            fprintf(stderr, "case %zu: %d %s\n", i, st, s_err_msg(j));
        CHECK(st == 400);
        CHECK(strstr(s_err_msg(j), cases[i].want) == s_err_msg(j));
        CHECK(!strchr(s_err_msg(j), '\n') && !strchr(s_err_msg(j), 0x07));
        json_decref(j);
    }
    CHECK(s_outbox_count() == n0);
}

/* The CRIP's assignment whose territory is not the directory's for the
 * commune: refused naming both territories; with an override it goes to
 * the directory's territory; a matching one goes as is. */
static void test_route_territory_disagreement(void)
{
    REQUIRE(s_become("71.crip", "crip") == 0);
    size_t n0 = s_outbox_count();
    json_t *j = NULL;
    char r[256];
    const char *bad = "{\"type\":\"evaluation.assignment\",\"payload\":" ASSIGN(
        "71.tas.cluny-tournus", KID("\"71270\"")) "}";
    CHECK(s_post_j(bad, &j) == 422);
    CHECK_STREQ(s_err_code(j), "routing-refused");
    CHECK(strstr(s_err_msg(j), "territory is 71.tas.cluny-tournus") != NULL);
    CHECK(strstr(s_err_msg(j), "routes commune 71270 to 71.tas.macon") != NULL);
    json_decref(j);
    /* The same with the commune given. */
    const char *bad2 =
        "{\"type\":\"evaluation.assignment\",\"commune\":\"71270\",\"payload\":" ASSIGN(
            "71.tas.cluny-tournus", KID("\"71270\"")) "}";
    CHECK(s_post_j(bad2, &j) == 422);
    CHECK(strstr(s_err_msg(j), "71.tas.cluny-tournus") && strstr(s_err_msg(j), "71.tas.macon"));
    json_decref(j);
    CHECK(s_outbox_count() == n0);
    const char *ovr = "{\"type\":\"evaluation.assignment\",\"routing_override\":{\"reason\":"
                      "\"TAS de M\u00e2con en sous-effectif\"},\"payload\":" ASSIGN(
                          "71.tas.cluny-tournus", KID("\"71270\"")) "}";
    int st = s_post_j(ovr, &j);
    if (st != 202)
        fprintf(stderr, "override: %d %s\n", st, s_err_msg(j));
    CHECK(st == 202);
    s_rcpts(j, r, sizeof r);
    CHECK_STREQ(r, "71.tas.macon");
    char hex[33];
    egide_strlcpy(hex, s_str(j, "id"), sizeof hex);
    json_decref(j);
    egide_payload_facts_t fx;
    char *pl = s_open_as(hex, "71.tas.macon", "evaluation.assignment", &fx);
    CHECK(pl && strstr(pl, "sous-effectif"));
    CHECK(fx.routing_override);
    CHECK_STREQ(fx.territory, "71.tas.cluny-tournus");
    free(pl);
    const char *good = "{\"type\":\"evaluation.assignment\",\"payload\":" ASSIGN(
        "71.tas.cluny-tournus", KID("\"71137\"")) "}";
    CHECK(s_post_j(good, &j) == 202);
    s_rcpts(j, r, sizeof r);
    CHECK_STREQ(r, "71.tas.cluny-tournus");
    json_decref(j);
    CHECK(s_outbox_count() == n0 + 2);
    REQUIRE(s_become("71.police.macon", "police") == 0);
}

/* routing.misrouted from a territory answers the message it names. */
static void test_misrouted_reply(void)
{
    REQUIRE(s_become("71.tas.macon", "tas") == 0);
    size_t n0 = s_outbox_count();
#define MR(irt, rid)                                                                               \
    "{\"type\":\"routing.misrouted\",\"to\":[\"71.crip\"]" irt ",\"payload\":{\"reported_at\":"    \
    "\"2026-10-02T10:00:00+02:00\",\"case_ref\":\"CRIP71-2026-0815\",\"received_msg_id\":\"" rid   \
    "\",\"reason\":\"wrong_commune\",\"reason_text\":\"Famille domicili\u00e9e \u00e0 Cluny.\","   \
    "\"believed_commune\":\"71137\",\"believed_territory\":\"71.tas.cluny-tournus\"}}"
    json_t *j = NULL;
    CHECK(s_post_j(MR("", "0123456789abcdef0123456789abcdef"), &j) == 400);
    CHECK(strstr(s_err_msg(j), "in_reply_to: required for routing.misrouted") != NULL);
    json_decref(j);
    CHECK(s_post_j(MR(",\"in_reply_to\":\"ffffffffffffffffffffffffffffffff\"",
                      "0123456789abcdef0123456789abcdef"),
                   &j) == 422);
    CHECK(strstr(s_err_msg(j), "received_msg_id 0123456789abcdef0123456789abcdef differs") != NULL);
    json_decref(j);
    CHECK(s_outbox_count() == n0);
    CHECK(s_post_j(MR(",\"in_reply_to\":\"0123456789ABCDEF0123456789ABCDEF\"",
                      "0123456789abcdef0123456789abcdef"),
                   &j) == 202);
    char r[256];
    s_rcpts(j, r, sizeof r);
    CHECK_STREQ(r, "71.crip");
    json_decref(j);
    /* Only a territory may say so: the police may not. */
    REQUIRE(s_become("71.police.macon", "police") == 0);
    CHECK(s_post_j(MR(",\"in_reply_to\":\"0123456789abcdef0123456789abcdef\"",
                      "0123456789abcdef0123456789abcdef"),
                   &j) == 422);
    CHECK(strstr(s_err_msg(j), "recipients refused") != NULL);
    /* The code names the reason; no internal name in the detail. */
    CHECK_STREQ(s_err_code(j), "forbidden-type");
    CHECK(strstr(s_err_msg(j), "may not send this type") != NULL);
    CHECK(strstr(s_err_msg(j), "REASON_") == NULL);
    json_decref(j);
    CHECK(s_outbox_count() == n0 + 1);
#undef MR
}
#undef KID
#undef IP_KIDS
#undef ASSIGN

/* Issue 13 item 14: a confidential sender's identity reaches the CRIP
 * only.  Routed by the child's commune to the CRIP and the territory, the
 * submission becomes two messages: the CRIP's opens with the sender's
 * name, phone and organisation; the territory's opens without them, with
 * the confidential flag; the answer names what was withheld.  Not
 * confidential: one message, as before. */
#define CONF_IP(conf)                                                                              \
    "{\"type\":\"ip.transmission\",\"commune\":\"71137\",\"payload\":"                             \
    "{\"received_at\":\"2026-10-01T16:40:00+02:00\",\"sender\":{\"type\":\"police\","              \
    "\"name\":\"Agent Exemple-Invente\",\"phone\":\"03 85 00 00 00\",\"organisation\":"            \
    "\"Commissariat fictif\",\"confidential\":" conf "},\"children\":[{\"first_names\":"           \
    "[\"L\u00e9o\"],\"sex\":\"male\",\"birth_date\":\"2016-05-14\",\"commune\":\"71137\"}],"       \
    "\"danger\":{\"categories\":[\"severe_neglect\"]},\"urgency\":\"urgent\"}}"
static void test_confidential_sender(void)
{
    size_t n0 = s_outbox_count();
    json_t *j = NULL;
    CHECK(s_post_j(CONF_IP("true"), &j) == 202);
    char crip_id[33] = "", tas_id[33] = "", rc[256];
    egide_strlcpy(crip_id, s_str(j, "id"), sizeof crip_id);
    s_rcpts(j, rc, sizeof rc);
    CHECK_STREQ(rc, "71.crip");
    json_t *cp = json_array_get(json_object_get(j, "copies"), 0);
    egide_strlcpy(tas_id, s_str(cp, "id"), sizeof tas_id);
    s_rcpts(cp, rc, sizeof rc);
    CHECK_STREQ(rc, "71.tas.cluny-tournus");
    char *w = cp ? json_dumps(json_object_get(cp, "withheld"), JSON_COMPACT) : NULL;
    CHECK(w && strcmp(w, "[\"sender.name\",\"sender.phone\",\"sender.organisation\"]") == 0);
    free(w);
    json_decref(j);
    CHECK(s_outbox_count() == n0 + 2);
    CHECK(strlen(crip_id) == 32 && strlen(tas_id) == 32 && strcmp(crip_id, tas_id) != 0);
    egide_payload_facts_t fx;
    char *at_crip = s_open_as(crip_id, "71.crip", "ip.transmission", &fx);
    CHECK(at_crip && strstr(at_crip, "Agent Exemple-Invente") && strstr(at_crip, "03 85") &&
          strstr(at_crip, "Commissariat fictif"));
    CHECK(fx.confidential_sender);
    char *at_tas = s_open_as(tas_id, "71.tas.cluny-tournus", "ip.transmission", &fx);
    CHECK(at_tas && !strstr(at_tas, "Agent Exemple") && !strstr(at_tas, "03 85") &&
          !strstr(at_tas, "Commissariat"));
    CHECK(at_tas && strstr(at_tas, "\"confidential\"") && strstr(at_tas, "\"police\""));
    CHECK(fx.confidential_sender);
    /* The territory cannot open the CRIP's message, nor the CRIP's key
     * the territory's (each is sealed for its own recipients only). */
    char *cross = s_open_as(crip_id, "71.tas.cluny-tournus", "ip.transmission", &fx);
    CHECK(cross == NULL);
    free(cross);
    free(at_crip);
    free(at_tas);
    /* Not confidential: one message to both. */
    CHECK(s_post_j(CONF_IP("false"), &j) == 202);
    s_rcpts(j, rc, sizeof rc);
    CHECK_STREQ(rc, "71.crip 71.tas.cluny-tournus");
    CHECK(json_object_get(j, "copies") == NULL);
    json_decref(j);
    CHECK(s_outbox_count() == n0 + 3);
}
#undef CONF_IP
/* The sender's own copy (the observatory export): kept for a type that
 * makes events, exactly the payload sealed, never in the sent envelope;
 * none for a type that makes no event (evaluation.assignment, queued by
 * test_assignment_fills_origin). */
static void test_sender_copy(void)
{
    const char *body =
        "{\"type\":\"ip.transmission\",\"to\":[\"71.crip\"],\"payload\":" IP_PAYLOAD "}";
    char id_hex[33];
    uint8_t id[16];
    REQUIRE(s_post(body, id_hex) == 202);
    REQUIRE(egide_hex_decode(id_hex, id, 16) == EGIDE_OK);
    edge_sent_row_t *rows = NULL;
    size_t n = 0;
    REQUIRE(edge_store_outbox_range(E.store, INT64_MIN, INT64_MAX, 0, NULL, EDGE_STORE_PAGE_MAX,
                                    &rows, &n) == EGIDE_OK);
    edge_outbox_row_t *all = NULL;
    size_t n_all = 0, assignments = 0;
    REQUIRE(edge_store_outbox_list(E.store, -1, 1000, &all, &n_all) == EGIDE_OK);
    for (size_t i = 0; i < n_all; i++)
        assignments += strcmp(all[i].type, "evaluation.assignment") == 0;
    free(all);
    CHECK(assignments > 0 && n > 0 && n < n_all);
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        CHECK(egide_observatory_type_counted(rows[i].type));
        if (memcmp(rows[i].msg_id, id, 16) != 0)
            continue;
        found = true;
        CHECK_STREQ(rows[i].content_type, egide_payload_content_type("ip.transmission"));
        char *js = NULL;
        CHECK_RC(
            egide_payload_to_json("ip.transmission", rows[i].payload, rows[i].payload_len, &js),
            EGIDE_OK);
        CHECK(js && strstr(js, "2026-10-01T16:40:00+02:00"));
        free(js);
        uint8_t *env = NULL;
        size_t el = 0;
        CHECK_RC(edge_store_outbox_envelope(E.store, id, &env, &el), EGIDE_OK);
        CHECK(env && rows[i].payload_len > 16 &&
              !memmem(env, el, rows[i].payload, rows[i].payload_len));
        free(env);
    }
    CHECK(found);
    for (size_t i = 0; i < n; i++)
        edge_sent_row_clear(&rows[i]);
    free(rows);
}

int main(void)
{
    egide_log_set_sink(s_quiet, NULL);
    if (s_setup() != 0) {
        fprintf(stderr, "setup failed\n");
        s_teardown();
        return 1;
    }
    RUN(test_overall_state_shows_rejection);
    RUN(test_submit_content_type_mismatch);
    RUN(test_idempotency_key);
    RUN(test_submit_store_faults);
    RUN(test_submit_batched);
    RUN(test_unknown_member_quoted);
    RUN(test_assignment_fills_origin);
    RUN(test_route_commune_mismatch_and_override);
    RUN(test_route_from_payload_and_codes);
    RUN(test_route_commune_number);
    RUN(test_route_bad_override);
    RUN(test_route_territory_disagreement);
    RUN(test_misrouted_reply);
    RUN(test_confidential_sender);
    RUN(test_sender_copy);
    RUN(test_times_beside_ms);
    s_teardown();
    EGIDE_TEST_DONE();
}
