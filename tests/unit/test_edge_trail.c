/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_edge_trail.c - the edge's trail of who read what (edge_trail.h,
 * edge_api_trail.c) through edge_api_handle, without a server.  The clock
 * is injected; accounts, passwords, the token and the edge's signing key
 * are made here.  The payload of the one received message carries a
 * marker that must never reach the trail.
 *
 * What it proves:
 *  - an agent opening a received message appends exactly one entry,
 *    naming the account, its role, the message, its case and the time,
 *    and none of the trail's tables holds a byte of the payload (nor a
 *    password); each opening is one more entry; an auditor's read of the
 *    same message has no payload and adds none; the machine token's read
 *    is "api-token";
 *  - logins, failed logins (the name only when it is an account's) and
 *    logouts are entries;
 *  - an opening the trail cannot record is not answered (503, no payload),
 *    and is once the trail can write again;
 *  - GET /v1/trail: auditor, supervisor, admin and the token may, an agent
 *    may not (403); pages by after/limit with next, filters message= and
 *    account=, every bad parameter a 400; its statements are index ranges
 *    (EXPLAIN QUERY PLAN: no scan of trail_index, no sort);
 *  - GET /v1/trail/proof: the entry's inclusion proof verifies against the
 *    checkpoint's root, whose signature verifies under the edge's key (a
 *    changed path element does not); unknown index 404, bad 400;
 *  - the auditor still gets 403 on cases, search and the export;
 *  - edge_trail_verify passes on the trail as written and fails on a
 *    rewritten index row and on a rewritten entry (append-only triggers
 *    dropped by the tamperer).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "edge.h"
#include "edge_trail.h"
#include "egide/audit/egide_merkle.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/protocol/egide_checkpoint.h"
#include "egide_test.h"

#define MARKER "MARQUEUR-CONTENU-7319"

static char s_dir[64], s_db[128];
static edge_t E;
static int64_t s_now = 1767225600000LL;
static char s_pw[40], s_pw_audit[40], s_pw_sup[40];
static uint8_t s_msg_id[16];
static char s_msg_hex[33];

static int64_t s_clock(void)
{
    return s_now;
}

static void s_quiet(egide_log_level level, const char *line, void *arg)
{
    (void)level, (void)line, (void)arg;
}

static void s_gen(char *out)
{
    uint8_t r[16];
    (void)egide_random(r, sizeof r);
    egide_hex_encode(r, sizeof r, out);
}

typedef struct t_resp {
    int status;
    char *body;
    char *cookie;
} t_resp_t;

static void t_free(t_resp_t *r)
{
    free(r->body);
    free(r->cookie);
    memset(r, 0, sizeof *r);
}

static t_resp_t s_call(const char *method, const char *path, const char *query, const char *as,
                       const char *session, const char *csrf, const char *body)
{
    egide_http_req_t req = {.method = method,
                            .path = path,
                            .query = query ? query : "",
                            .body = (const uint8_t *)(body ? body : ""),
                            .body_len = body ? strlen(body) : 0,
                            .authenticated_as = as,
                            .content_type = body ? "application/json" : NULL,
                            .session = session,
                            .csrf = csrf,
                            .client_addr = "127.0.0.1"};
    egide_http_resp_t resp = {.status = 500, .content_type = "application/json"};
    edge_api_handle(&E, &req, &resp);
    t_resp_t r = {.status = resp.status, .cookie = resp.set_cookie};
    r.body = calloc(1, resp.body_len + 1);
    if (r.body && resp.body)
        memcpy(r.body, resp.body, resp.body_len);
    free(resp.body);
    return r;
}

static int s_login(const char *user, const char *pw, char *sid, char *csrf)
{
    char body[256];
    snprintf(body, sizeof body, "{\"user\":\"%s\",\"password\":\"%s\"}", user, pw);
    t_resp_t r = s_call("POST", "/v1/session", NULL, NULL, NULL, NULL, body);
    sid[0] = csrf[0] = '\0';
    if (r.status == 200 && r.cookie && strncmp(r.cookie, "egide_session=", 14) == 0) {
        memcpy(sid, r.cookie + 14, EDGE_SESSION_HEX);
        sid[EDGE_SESSION_HEX] = '\0';
        json_t *j = json_loads(r.body, 0, NULL);
        const char *c = json_string_value(json_object_get(j, "csrf_token"));
        egide_strlcpy(csrf, c ? c : "", EDGE_CSRF_HEX + 1);
        json_decref(j);
    }
    int st = r.status;
    t_free(&r);
    return st;
}

static uint64_t s_size(void)
{
    edge_trail_t *t = NULL;
    if (edge_trail_open(edge_store_sqlite_db(E.api_store), E.node_id, &t) != EGIDE_OK)
        return UINT64_MAX;
    uint64_t n = egide_auditlog_size(edge_trail_log(t));
    edge_trail_destroy(&t);
    return n;
}

/* Rows of the trail's tables holding needle (bytes), by SQL on a second
 * connection: what a reader of the database file would find. */
static long s_trail_rows_with(const char *needle)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(s_db, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return -1;
    static const char *const sql =
        "SELECT (SELECT count(*) FROM audit_leaves WHERE instr(leaf, CAST(?1 AS BLOB)) > 0)"
        " + (SELECT count(*) FROM audit_checkpoints WHERE instr(note, ?1) > 0)"
        " + (SELECT count(*) FROM trail_index WHERE instr(account, ?1) > 0"
        "    OR instr(msg_id, CAST(?1 AS BLOB)) > 0)";
    sqlite3_stmt *st = NULL;
    long n = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, needle, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = (long)sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static int s_sql(const char *sql)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open(s_db, &db);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

static bool s_has_payload(const char *body)
{
    json_t *j = json_loads(body, 0, NULL);
    bool has = json_object_get(j, "payload") || json_object_get(j, "payload_b64");
    json_decref(j);
    return has;
}

/* The entries of a trail answer (new reference), NULL unless 200. */
static json_t *s_trail(const char *query, const char *sid, size_t *n)
{
    t_resp_t r = s_call("GET", "/v1/trail", query, sid ? "session" : "token", sid, NULL, NULL);
    json_t *j = r.status == 200 ? json_loads(r.body, 0, NULL) : NULL;
    t_free(&r);
    *n = json_array_size(json_object_get(j, "entries"));
    return j;
}

static char s_sid_agent[EDGE_SESSION_HEX + 1], s_csrf_agent[EDGE_CSRF_HEX + 1];
static char s_sid_audit[EDGE_SESSION_HEX + 1], s_csrf_audit[EDGE_CSRF_HEX + 1];

/* ------------------------------------------------------------ tests */

static void test_login_entries(void)
{
    uint64_t n0 = s_size();
    char sid[EDGE_SESSION_HEX + 1], csrf[EDGE_CSRF_HEX + 1];
    CHECK(s_login("alice", s_pw_audit, sid, csrf) == 401); /* wrong password */
    CHECK(s_login("nobody", s_pw, sid, csrf) == 401);      /* no such account */
    CHECK(s_login("alice", s_pw, s_sid_agent, s_csrf_agent) == 200);
    CHECK(s_login("audrey", s_pw_audit, s_sid_audit, s_csrf_audit) == 200);
    CHECK(s_size() == n0 + 4);
    size_t n = 0;
    json_t *j = s_trail("", NULL, &n);
    REQUIRE(j && n == n0 + 4);
    json_t *es = json_object_get(j, "entries");
    static const char *const want[4][3] = {{"alice", "agent", "login.failed"},
                                           {"inconnu", "unknown", "login.failed"},
                                           {"alice", "agent", "login"},
                                           {"audrey", "auditor", "login"}};
    for (size_t i = 0; i < 4; i++) {
        json_t *x = json_array_get(es, n0 + i);
        CHECK_STREQ(json_string_value(json_object_get(x, "account")), want[i][0]);
        CHECK_STREQ(json_string_value(json_object_get(x, "role")), want[i][1]);
        CHECK_STREQ(json_string_value(json_object_get(x, "action")), want[i][2]);
        CHECK(json_integer_value(json_object_get(x, "time_ms")) == s_now);
        CHECK(json_object_get(x, "msg_id") == NULL);
    }
    json_decref(j);
    /* No password and no name tried that is not an account. */
    CHECK(s_trail_rows_with(s_pw) == 0);
    CHECK(s_trail_rows_with(s_pw_audit) == 0);
    CHECK(s_trail_rows_with("nobody") == 0);
    /* A logout (with its CSRF token) is an entry; a refused one is not. */
    CHECK(s_login("sybil", s_pw_sup, sid, csrf) == 200);
    uint64_t n1 = s_size();
    t_resp_t r = s_call("DELETE", "/v1/session", NULL, NULL, sid, NULL, NULL);
    CHECK(r.status == 403);
    t_free(&r);
    CHECK(s_size() == n1);
    r = s_call("DELETE", "/v1/session", NULL, NULL, sid, csrf, NULL);
    CHECK(r.status == 200);
    t_free(&r);
    CHECK(s_size() == n1 + 1);
    j = s_trail("account=sybil", NULL, &n);
    REQUIRE(j && n == 2);
    CHECK_STREQ(json_string_value(
                    json_object_get(json_array_get(json_object_get(j, "entries"), 1), "action")),
                "logout");
    json_decref(j);
}

static void test_open_appends_one(void)
{
    char path[64];
    snprintf(path, sizeof path, "/v1/messages/%s", s_msg_hex);
    uint64_t n0 = s_size();
    s_now += 1000;
    t_resp_t r = s_call("GET", path, NULL, "session", s_sid_agent, NULL, NULL);
    CHECK(r.status == 200 && s_has_payload(r.body));
    t_free(&r);
    CHECK(s_size() == n0 + 1);
    char q[80];
    snprintf(q, sizeof q, "message=%s", s_msg_hex);
    size_t n = 0;
    json_t *j = s_trail(q, s_sid_audit, &n);
    REQUIRE(j && n == 1);
    json_t *x = json_array_get(json_object_get(j, "entries"), 0);
    CHECK_STREQ(json_string_value(json_object_get(x, "account")), "alice");
    CHECK_STREQ(json_string_value(json_object_get(x, "role")), "agent");
    CHECK_STREQ(json_string_value(json_object_get(x, "action")), "message.open");
    CHECK_STREQ(json_string_value(json_object_get(x, "msg_id")), s_msg_hex);
    CHECK_STREQ(json_string_value(json_object_get(x, "node")), "71.crip");
    CHECK(json_integer_value(json_object_get(x, "time_ms")) == s_now);
    CHECK(json_integer_value(json_object_get(x, "index")) == (json_int_t)n0);
    char *dump = json_dumps(j, 0);
    CHECK(dump && !strstr(dump, MARKER) && !strstr(dump, "payload"));
    free(dump);
    json_decref(j);
    /* Not a byte of the payload in the trail's tables. */
    CHECK(s_trail_rows_with(MARKER) == 0);
    CHECK(s_trail_rows_with("CONTENU") == 0);
    CHECK(s_trail_rows_with(s_msg_hex) == 1); /* the leaf names the message, in hex */

    /* A second opening: one more entry. */
    r = s_call("GET", path, NULL, "session", s_sid_agent, NULL, NULL);
    CHECK(r.status == 200);
    t_free(&r);
    CHECK(s_size() == n0 + 2);
    /* The auditor: the message without payload, no entry. */
    r = s_call("GET", path, NULL, "session", s_sid_audit, NULL, NULL);
    CHECK(r.status == 200 && !s_has_payload(r.body) && strstr(r.body, s_msg_hex));
    CHECK(!strstr(r.body, MARKER));
    t_free(&r);
    CHECK(s_size() == n0 + 2);
    /* The machine token: "api-token". */
    r = s_call("GET", path, NULL, "token", NULL, NULL, NULL);
    CHECK(r.status == 200 && s_has_payload(r.body));
    t_free(&r);
    CHECK(s_size() == n0 + 3);
    j = s_trail("account=api-token", NULL, &n);
    REQUIRE(j && n == 1);
    x = json_array_get(json_object_get(j, "entries"), 0);
    CHECK_STREQ(json_string_value(json_object_get(x, "role")), "machine");
    CHECK_STREQ(json_string_value(json_object_get(x, "msg_id")), s_msg_hex);
    json_decref(j);
    /* A message not held: 404 and no entry. */
    r = s_call("GET", "/v1/messages/00000000000000000000000000000000", NULL, "session", s_sid_agent,
               NULL, NULL);
    CHECK(r.status == 404);
    t_free(&r);
    CHECK(s_size() == n0 + 3);
}

static void test_unrecorded_not_shown(void)
{
    char path[64];
    snprintf(path, sizeof path, "/v1/messages/%s", s_msg_hex);
    uint64_t n0 = s_size();
    REQUIRE(s_sql("CREATE TRIGGER t_fail BEFORE INSERT ON trail_index"
                  " BEGIN SELECT RAISE(ABORT, 'injected'); END;") == SQLITE_OK);
    t_resp_t r = s_call("GET", path, NULL, "session", s_sid_agent, NULL, NULL);
    CHECK(r.status == 503 && !s_has_payload(r.body));
    t_free(&r);
    CHECK(s_size() == n0); /* the leaf rolled back with its index row */
    REQUIRE(s_sql("DROP TRIGGER t_fail") == SQLITE_OK);
    r = s_call("GET", path, NULL, "session", s_sid_agent, NULL, NULL);
    CHECK(r.status == 200 && s_has_payload(r.body));
    t_free(&r);
    CHECK(s_size() == n0 + 1);
}

static void test_roles(void)
{
    t_resp_t r = s_call("GET", "/v1/trail", NULL, "session", s_sid_agent, NULL, NULL);
    CHECK(r.status == 403);
    t_free(&r);
    r = s_call("GET", "/v1/trail/proof", "index=0", "session", s_sid_agent, NULL, NULL);
    CHECK(r.status == 403);
    t_free(&r);
    r = s_call("POST", "/v1/trail", NULL, "session", s_sid_audit, s_csrf_audit, "{}");
    CHECK(r.status == 405);
    t_free(&r);
    char sid[EDGE_SESSION_HEX + 1], csrf[EDGE_CSRF_HEX + 1];
    REQUIRE(s_login("sybil", s_pw_sup, sid, csrf) == 200);
    size_t n = 0;
    json_t *j = s_trail("limit=1", sid, &n);
    CHECK(j && n == 1);
    json_decref(j);
    /* The auditor's other limits hold. */
    static const char *const no[] = {"/v1/cases", "/v1/search", "/v1/export/olinpe", "/v1/cases/1"};
    for (size_t i = 0; i < 4; i++) {
        r = s_call("GET", no[i], "", "session", s_sid_audit, NULL, NULL);
        CHECK(r.status == 403);
        t_free(&r);
    }
}

static void test_pages_and_params(void)
{
    size_t total = 0, n = 0;
    json_t *all = s_trail("limit=500", NULL, &total);
    REQUIRE(all && total >= 8);
    CHECK(json_is_null(json_object_get(all, "next")));
    /* Pages of 3 walk the same entries in order. */
    char q[64] = "limit=3";
    size_t seen = 0;
    for (int pg = 0; pg < 100; pg++) {
        json_t *j = s_trail(q, NULL, &n);
        REQUIRE(j);
        for (size_t i = 0; i < n; i++) {
            json_t *a = json_array_get(json_object_get(j, "entries"), i);
            json_t *b = json_array_get(json_object_get(all, "entries"), seen + i);
            CHECK(json_equal(a, b));
        }
        seen += n;
        const char *next = json_string_value(json_object_get(j, "next"));
        if (!next) {
            json_decref(j);
            break;
        }
        CHECK(n == 3);
        snprintf(q, sizeof q, "limit=3&after=%s", next);
        json_decref(j);
    }
    CHECK(seen == total);
    json_decref(all);
    /* Both filters at once. */
    snprintf(q, sizeof q, "account=alice&message=%s", s_msg_hex);
    json_t *j = s_trail(q, NULL, &n);
    CHECK(j && n == 3);
    json_decref(j);
    j = s_trail("account=nobody", NULL, &n);
    CHECK(j && n == 0);
    json_decref(j);
    static const char *const bad[] = {
        "after=abc", "after=-1",       "after=01",      "limit=0",   "limit=501",
        "limit=",    "message=xyz",    "message=00",    "unknown=1", "after=1&after=2",
        "account=",  "account=Alice!", "account=a%20b", "index=0",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t_resp_t r = s_call("GET", "/v1/trail", bad[i], "token", NULL, NULL, NULL);
        if (r.status != 400)
            fprintf(stderr, "bad trail query %s: %d\n", bad[i], r.status);
        CHECK(r.status == 400);
        t_free(&r);
    }
}

static bool s_b64dec(const char *s, uint8_t *out, size_t max, size_t *n)
{
    uint8_t *b = NULL;
    if (!s || egide_base64_decode(s, strlen(s), &b, n, max) != EGIDE_OK)
        return false;
    memcpy(out, b, *n);
    free(b);
    return true;
}

static void test_proof(void)
{
    uint64_t size = s_size();
    REQUIRE(size > 2);
    EVP_PKEY *pub = E.sign_key;
    char origin[EGIDE_MAX_NODE_ID + 16];
    snprintf(origin, sizeof origin, "egide.%s/trail", E.node_id);
    for (uint64_t idx = 0; idx < size; idx++) {
        char q[32];
        snprintf(q, sizeof q, "index=%llu", (unsigned long long)idx);
        t_resp_t r = s_call("GET", "/v1/trail/proof", q, "session", s_sid_audit, NULL, NULL);
        REQUIRE(r.status == 200);
        json_t *j = json_loads(r.body, 0, NULL);
        t_free(&r);
        const char *note = json_string_value(json_object_get(j, "checkpoint"));
        egide_checkpoint_t cp;
        REQUIRE(note && egide_checkpoint_verify(note, strlen(note), origin, pub, &cp) == EGIDE_OK);
        CHECK(cp.size == size);
        CHECK(json_integer_value(json_object_get(j, "tree_size")) == (json_int_t)size);
        uint8_t leaf[EDGE_TRAIL_LEAF_MAX], lh[32], path[64][32], root[32];
        size_t ll = 0, hl = 0, rl = 0;
        REQUIRE(s_b64dec(json_string_value(json_object_get(j, "leaf")), leaf, sizeof leaf, &ll));
        REQUIRE(s_b64dec(json_string_value(json_object_get(j, "leaf_hash")), lh, 32, &hl));
        REQUIRE(s_b64dec(json_string_value(json_object_get(j, "root")), root, 32, &rl));
        CHECK(hl == 32 && rl == 32 && memcmp(root, cp.root, 32) == 0);
        uint8_t mine[32];
        egide_merkle_leaf_hash(leaf, ll, mine);
        CHECK(memcmp(mine, lh, 32) == 0);
        json_t *pa = json_object_get(j, "proof");
        size_t np = json_array_size(pa);
        REQUIRE(np <= 64);
        for (size_t i = 0; i < np; i++) {
            size_t k = 0;
            REQUIRE(s_b64dec(json_string_value(json_array_get(pa, i)), path[i], 32, &k) && k == 32);
        }
        CHECK_RC(egide_merkle_verify_inclusion(lh, idx, size, (const uint8_t(*)[32])path, np, root),
                 EGIDE_OK);
        if (np) {
            path[np - 1][5] ^= 1; /* a changed path element proves nothing */
            CHECK_RC(
                egide_merkle_verify_inclusion(lh, idx, size, (const uint8_t(*)[32])path, np, root),
                EGIDE_ERR_CONSISTENCY);
        }
        /* The entry shown is the leaf. */
        edge_trail_entry_t en;
        CHECK_RC(edge_trail_leaf_decode(leaf, ll, &en), EGIDE_OK);
        CHECK_STREQ(json_string_value(json_object_get(json_object_get(j, "entry"), "account")),
                    en.account);
        json_decref(j);
    }
    /* A new entry: the next proof comes with a new checkpoint covering it. */
    t_resp_t r = s_call("GET", "/v1/trail/proof", "index=999999", "token", NULL, NULL, NULL);
    CHECK(r.status == 404);
    t_free(&r);
    static const char *const bad[] = {"", "index=", "index=x", "index=1&index=2", "after=1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = s_call("GET", "/v1/trail/proof", bad[i], "token", NULL, NULL, NULL);
        CHECK(r.status == 400);
        t_free(&r);
    }
    r = s_call("GET", "/v1/trail/checkpoint", NULL, "token", NULL, NULL, NULL);
    CHECK(r.status == 200);
    json_t *j = json_loads(r.body, 0, NULL);
    t_free(&r);
    uint8_t pk[32], want[32];
    size_t pl = 0, wl = sizeof want;
    CHECK(s_b64dec(json_string_value(json_object_get(j, "public_key")), pk, 32, &pl) && pl == 32);
    CHECK(EVP_PKEY_get_raw_public_key(pub, want, &wl) == 1 && memcmp(pk, want, 32) == 0);
    CHECK_STREQ(json_string_value(json_object_get(j, "key_name")), origin);
    CHECK(json_integer_value(json_object_get(j, "tree_size")) == (json_int_t)size);
    json_decref(j);
}

static void s_plan(const char *name, const char *plan, void *arg)
{
    int *c = arg;
    bool full = false;
    for (const char *p = strstr(plan, "SCAN trail_index"); p; p = strstr(p + 1, "SCAN trail_index"))
        if (strncmp(p + 16, " USING", 6) != 0)
            full = true;
    bool index = strstr(plan, "USING INDEX") || strstr(plan, "USING COVERING INDEX") ||
                 strstr(plan, "USING INTEGER PRIMARY KEY");
    if (full || !index || strstr(plan, "TEMP B-TREE")) {
        fprintf(stderr, "plan of %s:\n%s", name, plan);
        c[0]++;
    }
    c[1]++;
}

static void test_plans(void)
{
    int c[2] = {0, 0};
    CHECK_RC(edge_trail_plans(edge_store_sqlite_db(E.api_store), s_plan, c), EGIDE_OK);
    CHECK(c[0] == 0 && c[1] == 4);
    CHECK_RC(edge_trail_plans(NULL, s_plan, c), EGIDE_ERR_INVALID);
}

/* An entry noted inside a request's transaction (edge_trail_note_in) is
 * never written alone: with no transaction open (the store ended it after
 * an error) it is refused as a store error and the trail is unchanged;
 * inside one it commits or rolls back with it. */
static void test_note_in_never_alone(void)
{
    uint64_t n0 = s_size();
    edge_trail_t *t = NULL;
    uint8_t mid[16];
    memset(mid, 0x5c, sizeof mid);
    CHECK_RC(edge_trail_note_in(&E, &t, NULL, "message.send", mid), EGIDE_ERR_DB);
    edge_trail_destroy(&t);
    CHECK(s_size() == n0);
    CHECK_RC(edge_store_begin(E.api_store), EGIDE_OK);
    CHECK_RC(edge_trail_note_in(&E, &t, NULL, "message.send", mid), EGIDE_OK);
    edge_trail_destroy(&t);
    edge_store_rollback(E.api_store);
    CHECK(s_size() == n0);
    CHECK_RC(edge_store_begin(E.api_store), EGIDE_OK);
    CHECK_RC(edge_trail_note_in(&E, &t, NULL, "message.send", mid), EGIDE_OK);
    edge_trail_destroy(&t);
    CHECK_RC(edge_store_commit(E.api_store), EGIDE_OK);
    CHECK(s_size() == n0 + 1);
}

static void test_verify_and_tamper(void)
{
    edge_trail_t *t = NULL;
    REQUIRE(edge_trail_open(edge_store_sqlite_db(E.api_store), E.node_id, &t) == EGIDE_OK);
    egide_auditverify_report_t rep;
    CHECK_RC(edge_trail_verify(t, E.sign_key, &rep), EGIDE_OK);
    CHECK(rep.ok && rep.checkpoints >= 1);
    /* The store refuses a plain rewrite. */
    CHECK(s_sql("UPDATE audit_leaves SET leaf = leaf WHERE idx = 0") != SQLITE_OK);
    CHECK(s_sql("UPDATE trail_index SET account = 'mallory' WHERE idx = 0") != SQLITE_OK);
    /* An index row rewritten by someone who dropped its trigger. */
    REQUIRE(s_sql("DROP TRIGGER trail_index_no_update;"
                  "UPDATE trail_index SET account = 'mallory' WHERE idx = 2") == SQLITE_OK);
    CHECK_RC(edge_trail_verify(t, E.sign_key, &rep), EGIDE_ERR_CONSISTENCY);
    CHECK(!rep.ok && rep.bad_index == 2);
    size_t n = 0;
    t_resp_t r = s_call("GET", "/v1/trail", "account=mallory", "token", NULL, NULL, NULL);
    CHECK(r.status == 500); /* the page does not show what the leaf does not say */
    t_free(&r);
    (void)n;
    REQUIRE(s_sql("UPDATE trail_index SET account = 'alice' WHERE idx = 2") == SQLITE_OK);
    CHECK_RC(edge_trail_verify(t, E.sign_key, &rep), EGIDE_OK);
    /* An entry rewritten (its name replaced, same length). */
    REQUIRE(s_sql("DROP TRIGGER audit_leaves_no_update;"
                  "UPDATE audit_leaves SET leaf = CAST(replace(CAST(leaf AS TEXT), 'alice',"
                  " 'bobby') AS BLOB) WHERE idx = 2") == SQLITE_OK);
    CHECK_RC(edge_trail_verify(t, E.sign_key, &rep), EGIDE_ERR_CONSISTENCY);
    CHECK(!rep.ok && rep.bad_index == 2);
    edge_trail_destroy(&t);
}

int main(void)
{
    egide_log_set_sink(s_quiet, NULL);
    snprintf(s_dir, sizeof s_dir, "/tmp/egide-test-trail.XXXXXX");
    if (!mkdtemp(s_dir))
        return 1;
    snprintf(s_db, sizeof s_db, "%s/edge.db", s_dir);
    memset(&E, 0, sizeof E);
    pthread_mutex_init(&E.dir_lock, NULL);
    pthread_mutex_init(&E.api_lock, NULL);
    E.wake[0] = E.wake[1] = -1;
    E.now_ms = s_clock;
    egide_strlcpy(E.node_id, "71.crip", sizeof E.node_id);
    edge_auth_policy_default(&E.auth);
    E.sign_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!E.sign_key || edge_store_sqlite_ops.open(s_db, &E.api_store) != EGIDE_OK)
        return 1;
    s_gen(s_pw);
    s_gen(s_pw_audit);
    s_gen(s_pw_sup);
    if (edge_account_add(E.api_store, NULL, "alice", EDGE_ROLE_AGENT, s_pw, strlen(s_pw), s_now) ||
        edge_account_add(E.api_store, NULL, "audrey", EDGE_ROLE_AUDITOR, s_pw_audit,
                         strlen(s_pw_audit), s_now) ||
        edge_account_add(E.api_store, NULL, "sybil", EDGE_ROLE_SUPERVISOR, s_pw_sup,
                         strlen(s_pw_sup), s_now))
        return 1;
    uint8_t sha[32], receipt[8] = {1};
    const char payload[] = "{\"note\":\"" MARKER "\"}";
    (void)egide_random(s_msg_id, sizeof s_msg_id);
    egide_sha256(payload, strlen(payload), sha);
    egide_hex_encode(s_msg_id, 16, s_msg_hex);
    edge_inbox_msg_t m = {
        .msg_id = s_msg_id,
        .sha256 = sha,
        .sender_id = "71.police.macon",
        .type = "ip.transmission",
        .created_ms = s_now,
        .received_ms = s_now,
        .content_type = "application/octet-stream",
        .payload = (const uint8_t *)payload,
        .payload_len = strlen(payload),
        .receipt = receipt,
        .receipt_len = sizeof receipt,
    };
    edge_inbox_put_result res;
    uint8_t *rb = NULL;
    size_t rl = 0;
    if (edge_store_inbox_put(E.api_store, &m, &res, &rb, &rl) != EGIDE_OK)
        return 1;
    free(rb);

    RUN(test_login_entries);
    RUN(test_open_appends_one);
    RUN(test_unrecorded_not_shown);
    RUN(test_roles);
    RUN(test_pages_and_params);
    RUN(test_plans);
    RUN(test_proof);
    RUN(test_verify_and_tamper);
    RUN(test_note_in_never_alone);

    edge_store_close(&E.api_store);
    EVP_PKEY_free(E.sign_key);
    pthread_mutex_destroy(&E.dir_lock);
    pthread_mutex_destroy(&E.api_lock);
    char p[160];
    static const char *const sfx[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", s_db, sfx[i]);
        unlink(p);
    }
    rmdir(s_dir);
    EGIDE_TEST_DONE();
}
