/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_edge_known_child.c - known-child and sibling detection at the CRIP
 * (issue 11 item 5), end to end through the edge's inbox step and the
 * message view: real envelopes sealed by 71.police.macon for 71.crip (the
 * development PKI and signed directory of deploy/71, made at run time),
 * a key file made at run time (0600), invented names.
 *
 * What it proves:
 *  - referrals of several types about the same child, typed differently
 *    (NFD, upper case, the mother's name on the child), are linked as
 *    "same_child", and the children of one household as "sibling"; a
 *    message's view lists only earlier messages (ids, child indexes,
 *    received times), never a name or a key;
 *  - a child without a mother's birth name is "not_comparable", not
 *    "new"; a household without the mother's first name is not compared;
 *  - a store failure while storing the keys rolls the whole receipt back
 *    (no receipt, no inbox row), and the redelivered bytes are then
 *    stored with their keys (transient, nothing lost);
 *  - without a key the view says detection is "off", and a message
 *    received while off says "not_computed" once a key is set; a node
 *    that is not a CRIP keys nothing and shows nothing;
 *  - the store operations refuse bad arguments and a second put.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "edge.h"
#include "egide/base/egide_date.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/domain/egide_known_child.h"
#include "egide/domain/egide_payload.h"
#include "egide/protocol/egide_envelope.h"
#include "egide/protocol/egide_receipt.h"
#include "egide/wire/egide_wire.h"
#include "edge_fixture.h"
#include "egide_test.h"

static char s_dir[256], s_db[512], s_keyfile[512];
static edge_t E;
static EVP_PKEY *s_police_sign, *s_crip_sign_pub, *s_crip_enc_pub;
static uint8_t s_police_fpr[32], s_crip_enc_fpr[32];
static uint64_t s_seq = 1;
static int64_t s_base_ms, s_tick;

/* The CRIP's clock: one second more at every delivery, so received times
 * are ordered. */
static int64_t s_clock(void)
{
    return s_base_ms + s_tick * 1000;
}

static void s_quiet(egide_log_level level, const char *line, void *arg)
{
    (void)level, (void)line, (void)arg;
}

static int s_setup(void)
{
    if (edge_fx_make_pki(s_dir, sizeof s_dir, "/tmp/egide-test-edge-kc.XXXXXX"))
        return -1;
    memset(&E, 0, sizeof E);
    pthread_mutex_init(&E.dir_lock, NULL);
    pthread_mutex_init(&E.api_lock, NULL);
    E.wake[0] = E.wake[1] = -1;
    egide_strlcpy(E.node_id, "71.crip", sizeof E.node_id);
    E.clock_skew_ms = 300000;
    E.ttl_ms = 86400000;
    s_base_ms = egide_now_ms();
    E.now_ms = s_clock;
    if (edge_fx_key(s_dir, "71.crip", "sign.key", EGIDE_CERT_USE_SIGN, &E.sign_key) ||
        edge_fx_key(s_dir, "71.crip", "enc.key", EGIDE_CERT_USE_ENC, &E.enc_key) ||
        edge_fx_cert(s_dir, "71.crip", "sign.crt", EGIDE_CERT_USE_SIGN, &s_crip_sign_pub,
                     E.sign_fpr) ||
        edge_fx_cert(s_dir, "71.crip", "enc.crt", EGIDE_CERT_USE_ENC, &s_crip_enc_pub,
                     s_crip_enc_fpr) ||
        edge_fx_key(s_dir, "71.police.macon", "sign.key", EGIDE_CERT_USE_SIGN, &s_police_sign) ||
        edge_fx_cert(s_dir, "71.police.macon", "sign.crt", EGIDE_CERT_USE_SIGN, NULL, s_police_fpr))
        return -1;
    char p[512], root[512], chain[512], crl[512];
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
    snprintf(s_db, sizeof s_db, "%s/crip.db", s_dir);
    egide_rc rc = edge_store_sqlite_ops.open(s_db, &E.store);
    if (!rc)
        rc = edge_adopt_directory(&E, d, dl, true);
    free(d);
    E.api_store = E.store;
    /* The known-child key: random, made now, mode 0600. */
    uint8_t key[32];
    snprintf(s_keyfile, sizeof s_keyfile, "%s/known-child.key", s_dir);
    if (rc || egide_random(key, sizeof key) ||
        egide_file_write_atomic(s_keyfile, key, sizeof key, 0600))
        return -1;
    egide_wipe(key, sizeof key);
    return strcmp(E.role, "crip") == 0 && E.peers ? 0 : -1;
}

static void s_teardown(void)
{
    E.api_store = NULL;
    edge_known_child_fini(&E);
    edge_store_close(&E.store);
    egide_peers_destroy(&E.peers);
    egide_directory_destroy(&E.dir);
    egide_trust_destroy(&E.trust);
    X509_free(E.anchor);
    EVP_PKEY_free(E.sign_key);
    EVP_PKEY_free(E.enc_key);
    EVP_PKEY_free(s_police_sign);
    EVP_PKEY_free(s_crip_sign_pub);
    EVP_PKEY_free(s_crip_enc_pub);
    pthread_mutex_destroy(&E.dir_lock);
    pthread_mutex_destroy(&E.api_lock);
    if (s_dir[0]) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
        edge_fx_sh(cmd);
    }
}

/* The head of each referral type used here (besides children, adults). */
static const char *s_head(const char *type)
{
    if (strcmp(type, "parquet.soit_transmis") == 0)
        return "\"issued_at\":\"2026-11-20T09:00:00+01:00\",\"parquet_ref\":\"P-1\","
               "\"request\":\"evaluate\",\"urgency\":\"normal\"";
    if (strcmp(type, "snated.transmission") == 0)
        return "\"received_at\":\"2026-11-20T09:00:00+01:00\",\"snated_ref\":\"S-1\","
               "\"caller_account\":\"x\",\"handler_assessment\":\"y\",\"danger\":{"
               "\"categories\":[\"severe_neglect\"]},\"urgency\":\"normal\"";
    return "\"received_at\":\"2026-11-20T09:00:00+01:00\",\"sender\":{\"type\":\"police\"},"
           "\"danger\":{\"categories\":[\"severe_neglect\"]},\"urgency\":\"normal\"";
}

/* Seal a payload of `type` with these members for 71.crip. */
static uint8_t *s_envelope(const char *type, const char *members, size_t *len, uint8_t id[16])
{
    char json[8192];
    snprintf(json, sizeof json, "{%s,%s}", s_head(type), members);
    uint8_t *pb = NULL, *out = NULL;
    size_t pl = 0;
    char *errors = NULL;
    egide_rc rc =
        egide_payload_from_json(type, json, strlen(json), egide_now_ms(), &pb, &pl, NULL, &errors);
    if (rc) {
        fprintf(stderr, "payload %s: %s\n", type, errors ? errors : egide_strerror(rc));
        free(errors);
        return NULL;
    }
    egide_seal_recipient_t r = {"71.crip", s_crip_enc_pub, s_crip_enc_fpr};
    egide_seal_params_t p = {
        .sender_id = "71.police.macon",
        .sign_key = s_police_sign,
        .sign_cert_fpr = s_police_fpr,
        .recipients = &r,
        .n_recipients = 1,
        .message_type = type,
        .urgency = EGIDE__V1__URGENCY__URGENCY_NORMAL,
        .sender_seq = s_seq++,
        .content_type = egide_payload_content_type(type),
        .payload = pb,
        .payload_len = pl,
    };
    rc = egide_envelope_seal(&p, &out, len, id);
    free(pb);
    return rc ? NULL : out;
}

/* The kind of the receipt in a Receipt frame, verified with 71.crip's key. */
static int s_receipt_kind(const uint8_t *frame, size_t len)
{
    Egide__V1__Frame *f = NULL;
    int kind = -1;
    if (egide_wire_unpack(EGIDE_WIRE_FRAME, frame, len, (void **)&f, NULL))
        return -1;
    egide_receipt_t *r = NULL;
    if (f->body_case == EGIDE__V1__FRAME__BODY_RECEIPT &&
        egide_receipt_parse(f->receipt->receipt.data, f->receipt->receipt.len, &r) == EGIDE_OK &&
        egide_receipt_verify(r, s_crip_sign_pub) == EGIDE_OK)
        kind = egide_receipt_body(r)->kind;
    egide_receipt_destroy(&r);
    egide_wire_free(EGIDE_WIRE_FRAME, f);
    return kind;
}

/* Deliver env through the inbox step: the step's result, *delivered when a
 * verified DELIVERED receipt came out. */
static egide_rc s_step(const uint8_t *env, size_t len, bool *delivered)
{
    uint8_t *frame = NULL;
    size_t fl = 0;
    s_tick++;
    egide_rc rc = edge_inbox_step(&E, env, len, &frame, &fl);
    *delivered = frame && s_receipt_kind(frame, fl) == EGIDE__V1__RECEIPT_KIND__RECEIPT_DELIVERED;
    free(frame);
    return rc;
}

/* Seal and deliver one referral; 0 when it was DELIVERED. */
static int s_deliver(const char *type, const char *members, uint8_t id[16])
{
    size_t len = 0;
    uint8_t *env = s_envelope(type, members, &len, id);
    if (!env)
        return -1;
    bool ok = false;
    egide_rc rc = s_step(env, len, &ok);
    free(env);
    return rc == EGIDE_OK && ok ? 0 : -1;
}

/* GET /v1/messages/{id}: the whole answer (the caller's) or NULL. */
static json_t *s_view(const uint8_t id[16], int *status)
{
    char path[64], hex[33];
    egide_hex_encode(id, 16, hex);
    snprintf(path, sizeof path, "/v1/messages/%s", hex);
    egide_http_req_t req = {.method = "GET",
                            .path = path,
                            .query = "",
                            .body = (const uint8_t *)"",
                            .authenticated_as = "token"};
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

/* Whether child c's "related" holds (relation, msg id, child index). */
static bool s_has_related(json_t *c, const char *relation, const uint8_t id[16], int child)
{
    char hex[33];
    egide_hex_encode(id, 16, hex);
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(c, "related"), i, r)
    {
        if (strcmp(s_str(r, "relation"), relation) == 0 && strcmp(s_str(r, "msg_id"), hex) == 0 &&
            json_integer_value(json_object_get(r, "child")) == child &&
            json_integer_value(json_object_get(r, "received_ms")) > 0 && s_str(r, "received")[0])
            return true;
    }
    return false;
}

static size_t s_n_related(json_t *c)
{
    return json_array_size(json_object_get(c, "related"));
}

#define MOTHER                                                                                     \
    "\"adults\":[{\"surname\":\"Martin\",\"birth_surname\":\"Invent\\u00e9\",\"first_names\":["    \
    "\"\\u00c5sa\"],\"link\":\"mother\"},{\"surname\":\"Martin\",\"first_names\":[\"Jean\"],"      \
    "\"link\":\"father\"}]"
/* The same mother typed in upper case, decomposed. */
#define MOTHER_NFD                                                                                 \
    "\"adults\":[{\"birth_surname\":\"INVENTE\\u0301\",\"first_names\":[\"A\\u030aSA\"],"          \
    "\"link\":\"mother\"}]"

static uint8_t s_r1[16], s_r2[16], s_r3[16], s_r4[16];

static void test_detection(void)
{
    REQUIRE(edge_known_child_set_key(&E, s_keyfile) == EGIDE_OK);
    /* R1: Zoë-Léa and Paul, of one household. */
    REQUIRE(s_deliver("ip.transmission",
                      "\"children\":[{\"first_names\":[\"Zo\\u00eb-L\\u00e9a\"],\"sex\":\"female\","
                      "\"birth_date\":\"2016-05-14\",\"commune\":\"71270\"},{\"first_names\":["
                      "\"Paul\"],\"sex\":\"male\",\"birth_date\":\"2018-03-02\",\"commune\":"
                      "\"71270\"}]," MOTHER,
                      s_r1) == 0);
    /* R2 (the parquet): Zoë-Léa again, typed otherwise, and Thị Ngọc, a
     * sister not seen before. */
    REQUIRE(s_deliver("parquet.soit_transmis",
                      "\"children\":[{\"first_names\":[\"ZOE\\u0308-LE\\u0301A\"],\"sex\":"
                      "\"female\",\"birth_date\":\"2016-05-30\",\"commune\":\"71270\"},{"
                      "\"first_names\":[\"Th\\u1ecb Ng\\u1ecdc\"],\"sex\":\"female\","
                      "\"birth_date\":\"2020-01-01\",\"commune\":\"71270\"}]," MOTHER_NFD,
                      s_r2) == 0);
    /* R3: a child whose mother is not named. */
    REQUIRE(s_deliver("ip.transmission",
                      "\"children\":[{\"first_names\":[\"No\\u00e9\"],\"sex\":\"male\","
                      "\"birth_date\":\"2017-01-01\",\"commune\":\"71270\"}]",
                      s_r3) == 0);
    /* R4 (the 119): Thị Ngọc, the mother's name on the child only. */
    REQUIRE(s_deliver("snated.transmission",
                      "\"children\":[{\"first_names\":[\"thi ngoc\"],\"sex\":\"female\","
                      "\"birth_date\":\"2020-01-15\",\"commune\":\"71270\","
                      "\"mother_birth_surname\":\"invent\\u00e9\"}]",
                      s_r4) == 0);

    int status = 0;
    json_t *v = s_view(s_r2, &status);
    CHECK(status == 200);
    json_t *kc = json_object_get(v, "known_child");
    CHECK_STREQ(s_str(kc, "detection"), "on");
    json_t *ch = json_object_get(kc, "children");
    REQUIRE(json_array_size(ch) == 2);
    json_t *zoe = json_array_get(ch, 0), *ngoc = json_array_get(ch, 1);
    CHECK_STREQ(s_str(zoe, "status"), "known");
    CHECK(s_has_related(zoe, "same_child", s_r1, 0));
    CHECK(s_has_related(zoe, "sibling", s_r1, 1)); /* Paul */
    CHECK(s_n_related(zoe) == 2);
    CHECK(json_is_true(json_object_get(zoe, "siblings_known")));
    CHECK_STREQ(s_str(ngoc, "status"), "new");
    CHECK(s_has_related(ngoc, "sibling", s_r1, 0));
    CHECK(s_has_related(ngoc, "sibling", s_r1, 1));
    CHECK(s_n_related(ngoc) == 2); /* nothing from R3 or the later R4 */
    /* Each related message names its case (case_msgs), the one the
     * store holds for it. */
    int64_t case1 = 0;
    CHECK_RC(edge_store_case_of(E.store, s_r1, &case1), EGIDE_OK);
    CHECK(case1 > 0);
    size_t ri;
    json_t *rr;
    json_array_foreach(json_object_get(zoe, "related"), ri, rr)
        CHECK(json_integer_value(json_object_get(rr, "case_id")) == case1);
    /* Neither a name nor a key in what the view adds. */
    char *dump = json_dumps(kc, 0);
    REQUIRE(dump);
    egide_child_keys_t keys[2];
    size_t nk = 0;
    const char *bad[] = {"Zo", "ZOE", "Paul", "Invent", "INVENT", "Martin", "Ng", "NG", "Th"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(strstr(dump, bad[i]) == NULL);
    edge_kc_row_t rows[4];
    CHECK_RC(edge_store_kc_get(E.store, s_r2, rows, 4, &nk), EGIDE_OK);
    CHECK(nk == 2 && strlen(rows[0].child_key) == 64 && strlen(rows[0].household_key) == 64);
    for (size_t i = 0; i < nk; i++) {
        CHECK(strstr(dump, rows[i].child_key) == NULL);
        CHECK(strstr(dump, rows[i].household_key) == NULL);
    }
    (void)keys;
    free(dump);
    json_decref(v);

    /* R1 sees nothing: the others came later. */
    v = s_view(s_r1, &status);
    ch = json_object_get(json_object_get(v, "known_child"), "children");
    REQUIRE(json_array_size(ch) == 2);
    CHECK_STREQ(s_str(json_array_get(ch, 0), "status"), "new");
    CHECK_STREQ(s_str(json_array_get(ch, 1), "status"), "new");
    CHECK(s_n_related(json_array_get(ch, 0)) == 0 && s_n_related(json_array_get(ch, 1)) == 0);
    CHECK(json_is_false(json_object_get(json_array_get(ch, 0), "siblings_known")));
    json_decref(v);

    /* R3: not comparable, and why; never "new". */
    v = s_view(s_r3, &status);
    ch = json_object_get(json_object_get(v, "known_child"), "children");
    REQUIRE(json_array_size(ch) == 1);
    CHECK_STREQ(s_str(json_array_get(ch, 0), "status"), "not_comparable");
    CHECK_STREQ(s_str(json_array_get(ch, 0), "reason"), "no_mother_name");
    CHECK(json_object_get(json_array_get(ch, 0), "related") == NULL);
    json_decref(v);

    /* R4: the same child as R2's second; its household is not keyed (no
     * mother's first name), so no sibling is looked for. */
    v = s_view(s_r4, &status);
    ch = json_object_get(json_object_get(v, "known_child"), "children");
    REQUIRE(json_array_size(ch) == 1);
    json_t *c = json_array_get(ch, 0);
    CHECK_STREQ(s_str(c, "status"), "known");
    CHECK(s_has_related(c, "same_child", s_r2, 1));
    CHECK(s_n_related(c) == 1);
    CHECK_STREQ(s_str(c, "household"), "not_comparable");
    json_decref(v);
}

/* Run one SQL statement on the CRIP's database from another connection
 * (the test's own fault injection). */
static int s_sql(const char *sql)
{
    sqlite3 *db = NULL;
    int r = sqlite3_open(s_db, &db);
    if (r == SQLITE_OK)
        r = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return r;
}

static void test_store_failure_is_transient(void)
{
    REQUIRE(edge_known_child_set_key(&E, s_keyfile) == EGIDE_OK);
    uint8_t id[16];
    size_t len = 0;
    uint8_t *env = s_envelope("ip.transmission",
                              "\"children\":[{\"first_names\":[\"Paul\"],\"sex\":\"male\","
                              "\"birth_date\":\"2018-03-02\",\"commune\":\"71270\"}]," MOTHER,
                              &len, id);
    REQUIRE(env);
    /* The keys' table is gone: storing the keys fails. */
    REQUIRE(s_sql("ALTER TABLE child_keys RENAME TO child_keys_away") == SQLITE_OK);
    bool delivered = true;
    egide_log_set_sink(s_quiet, NULL);
    egide_rc rc = s_step(env, len, &delivered);
    egide_log_set_sink(NULL, NULL);
    CHECK(rc != EGIDE_OK);
    CHECK(!delivered);
    size_t n = 9;
    CHECK_RC(edge_store_inbox_count(E.store, id, &n), EGIDE_OK);
    CHECK(n == 0); /* the message itself rolled back with its keys */
    uint8_t *r = NULL;
    size_t rl = 0;
    CHECK_RC(edge_store_rejected_find(E.store, id, id, &r, &rl), EGIDE_ERR_NOTFOUND);
    /* Fixed: the broker's redelivery of the same bytes is stored, keyed. */
    REQUIRE(s_sql("ALTER TABLE child_keys_away RENAME TO child_keys") == SQLITE_OK);
    CHECK_RC(s_step(env, len, &delivered), EGIDE_OK);
    CHECK(delivered);
    CHECK_RC(edge_store_inbox_count(E.store, id, &n), EGIDE_OK);
    CHECK(n == 1);
    edge_kc_row_t rows[2];
    CHECK_RC(edge_store_kc_get(E.store, id, rows, 2, &n), EGIDE_OK);
    CHECK(n == 1 && rows[0].status == EGIDE_KC_COMPARABLE);
    /* Paul again: the same child as R1's second. */
    int status = 0;
    json_t *v = s_view(id, &status);
    json_t *c = json_array_get(json_object_get(json_object_get(v, "known_child"), "children"), 0);
    CHECK_STREQ(s_str(c, "status"), "known");
    CHECK(s_has_related(c, "same_child", s_r1, 1));
    CHECK(s_has_related(c, "sibling", s_r1, 0));
    json_decref(v);
    free(env);
}

static void test_off_and_not_crip(void)
{
    uint8_t id[16], id2[16];
    edge_known_child_fini(&E);
    REQUIRE(s_deliver("ip.transmission",
                      "\"children\":[{\"first_names\":[\"Paul\"],\"sex\":\"male\","
                      "\"birth_date\":\"2018-03-02\",\"commune\":\"71270\"}]," MOTHER,
                      id) == 0);
    int status = 0;
    json_t *v = s_view(id, &status);
    CHECK(status == 200);
    json_t *kc = json_object_get(v, "known_child");
    CHECK_STREQ(s_str(kc, "detection"), "off");
    CHECK(s_str(kc, "reason")[0] != '\0');
    CHECK(json_object_get(kc, "children") == NULL);
    json_decref(v);
    /* A key now: that message was never compared, and says so. */
    REQUIRE(edge_known_child_set_key(&E, s_keyfile) == EGIDE_OK);
    v = s_view(id, &status);
    CHECK_STREQ(s_str(json_object_get(v, "known_child"), "detection"), "not_computed");
    json_decref(v);
    /* Not a CRIP (the directory's role): nothing keyed, nothing shown. */
    pthread_mutex_lock(&E.dir_lock);
    egide_strlcpy(E.role, "tas", sizeof E.role);
    pthread_mutex_unlock(&E.dir_lock);
    REQUIRE(s_deliver("ip.transmission",
                      "\"children\":[{\"first_names\":[\"Paul\"],\"sex\":\"male\","
                      "\"birth_date\":\"2018-03-02\",\"commune\":\"71270\"}]," MOTHER,
                      id2) == 0);
    size_t n = 9;
    edge_kc_row_t rows[2];
    CHECK_RC(edge_store_kc_get(E.store, id2, rows, 2, &n), EGIDE_OK);
    CHECK(n == 0);
    v = s_view(id2, &status);
    CHECK(status == 200 && json_object_get(v, "known_child") == NULL);
    json_decref(v);
    pthread_mutex_lock(&E.dir_lock);
    egide_strlcpy(E.role, "crip", sizeof E.role);
    pthread_mutex_unlock(&E.dir_lock);
    /* A key file readable by others, or too short, is refused. */
    char p[600];
    snprintf(p, sizeof p, "%s/open.key", s_dir);
    uint8_t k[32] = {1};
    REQUIRE(egide_file_write_atomic(p, k, sizeof k, 0644) == EGIDE_OK);
    CHECK(edge_known_child_set_key(&E, p) != EGIDE_OK);
    REQUIRE(egide_file_write_atomic(p, k, 16, 0600) == EGIDE_OK);
    CHECK_RC(edge_known_child_set_key(&E, p), EGIDE_ERR_INVALID);
    CHECK(E.kc_key != NULL); /* the key held before is kept */
    CHECK_RC(edge_known_child_set_key(&E, NULL), EGIDE_ERR_INVALID);
}

static void test_store_ops(void)
{
    edge_kc_row_t row = {.child = 0, .status = 0};
    memset(row.child_key, 'a', 64);
    memset(row.household_key, 'b', 64);
    /* A second put for a message already keyed writes nothing. */
    CHECK_RC(edge_store_kc_put(E.store, s_r1, 1, &row, 1), EGIDE_ERR_EXISTS);
    edge_kc_row_t rows[4];
    size_t n = 0;
    CHECK_RC(edge_store_kc_get(E.store, s_r1, rows, 4, &n), EGIDE_OK);
    CHECK(n == 2 && strcmp(rows[0].child_key, row.child_key) != 0);
    /* Bad arguments. */
    uint8_t id[16] = {0x42};
    CHECK_RC(edge_store_kc_put(E.store, NULL, 1, &row, 1), EGIDE_ERR_INVALID);
    CHECK_RC(edge_store_kc_put(E.store, id, 1, NULL, 1), EGIDE_ERR_INVALID);
    edge_kc_row_t shortkey = row;
    shortkey.child_key[10] = '\0';
    CHECK_RC(edge_store_kc_put(E.store, id, 1, &shortkey, 1), EGIDE_ERR_INVALID);
    CHECK_RC(edge_store_kc_put(E.store, id, 1, &row, 0), EGIDE_OK);
    CHECK_RC(edge_store_kc_get(E.store, id, rows, 4, &n), EGIDE_OK);
    CHECK(n == 0);
    /* Two rows of one message: all or none. */
    edge_kc_row_t two[2] = {row, row};
    CHECK_RC(edge_store_kc_put(E.store, id, 1, two, 2), EGIDE_ERR_EXISTS); /* same child twice */
    CHECK_RC(edge_store_kc_get(E.store, id, rows, 4, &n), EGIDE_OK);
    CHECK(n == 0);
    two[1].child = 1;
    CHECK_RC(edge_store_kc_put(E.store, id, 1, two, 2), EGIDE_OK);
    CHECK_RC(edge_store_kc_get(E.store, id, rows, 4, &n), EGIDE_OK);
    CHECK(n == 2);
    CHECK_RC(edge_store_kc_get(E.store, id, rows, 1, &n), EGIDE_OK);
    CHECK(n == 1);
    edge_kc_related_t rel[EDGE_KC_RELATED_MAX];
    CHECK_RC(edge_store_kc_related(E.store, EDGE_KC_SAME_CHILD, row.child_key, "", s_r1, INT64_MAX,
                                   EDGE_KC_RELATED_MAX, rel, &n),
             EGIDE_OK);
    /* Both rows of that message carry the key (same child twice: a test's
     * invention), each with its index. */
    CHECK(n == 2 && memcmp(rel[0].msg_id, id, 16) == 0 && memcmp(rel[1].msg_id, id, 16) == 0 &&
          rel[0].received_ms == 1 && rel[0].child + rel[1].child == 1);
    CHECK_RC(edge_store_kc_related(E.store, EDGE_KC_SAME_CHILD, row.child_key, "", s_r1, 0,
                                   EDGE_KC_RELATED_MAX, rel, &n),
             EGIDE_OK);
    CHECK(n == 0); /* received after before_ms */
    CHECK_RC(edge_store_kc_related(E.store, EDGE_KC_SAME_CHILD, row.child_key, "", id, INT64_MAX,
                                   EDGE_KC_RELATED_MAX, rel, &n),
             EGIDE_OK);
    CHECK(n == 0); /* its own message is not related to itself */
    CHECK_RC(edge_store_kc_related(E.store, EDGE_KC_SAME_CHILD, row.child_key, "", s_r1, INT64_MAX,
                                   0, rel, &n),
             EGIDE_ERR_INVALID);
    CHECK_RC(edge_store_kc_related(E.store, EDGE_KC_SAME_CHILD, row.child_key, "", s_r1, INT64_MAX,
                                   EDGE_KC_RELATED_MAX + 1, rel, &n),
             EGIDE_ERR_INVALID);
    CHECK_RC(edge_store_kc_related(E.store, EDGE_KC_SIBLING, row.child_key, "", s_r1, INT64_MAX, 10,
                                   rel, &n),
             EGIDE_ERR_INVALID);
    CHECK_RC(
        edge_store_kc_related(E.store, EDGE_KC_SAME_CHILD, "abc", "", s_r1, INT64_MAX, 10, rel, &n),
        EGIDE_ERR_INVALID);
    CHECK_RC(edge_store_kc_related(E.store, (edge_kc_relation)7, row.child_key, row.household_key,
                                   s_r1, INT64_MAX, 10, rel, &n),
             EGIDE_ERR_INVALID);
    edge_store_t *none = NULL;
    CHECK_RC(edge_store_kc_get(none, id, rows, 4, &n), EGIDE_ERR_INVALID);
    CHECK_RC(edge_known_child_note(&E, E.store, NULL, id, 1, NULL, 0), EGIDE_ERR_INVALID);
    /* A type that is not a referral is not keyed. */
    uint8_t other[16] = {0x43};
    CHECK_RC(edge_known_child_note(&E, E.store, "court.decision", other, 1, NULL, 0), EGIDE_OK);
    CHECK_RC(edge_store_kc_get(E.store, other, rows, 4, &n), EGIDE_OK);
    CHECK(n == 0);
}

int main(void)
{
    if (s_setup()) {
        fprintf(stderr, "setup failed\n");
        s_teardown();
        return 1;
    }
    RUN(test_detection);
    RUN(test_store_failure_is_transient);
    RUN(test_off_and_not_crip);
    RUN(test_store_ops);
    s_teardown();
    EGIDE_TEST_DONE();
}
