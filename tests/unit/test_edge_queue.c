/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_edge_queue.c - the reads behind the web pages (issue 12):
 * GET /v1/queue, GET /v1/route and the embedded pages' paths
 * (edge_api_handle, no server) on a seeded SQLite store: three referrals
 * with real catalogue payloads (deploy/samples), an open obligation on the
 * first one's case and a met one on the second's.
 *
 * What it proves: each queue row carries the triage facts (age band, the
 * first child's commune, sender type, children, case, clock) and none of
 * the names, birth dates, addresses or the sender's identity of the
 * payload; paging with the cursor returns every row once, newest first;
 * every bad parameter is a 400; an auditor's session may not read the
 * queue (403); the route of a commune is 404 without a directory and 400
 * for a malformed code; every embedded page and asset is served by its
 * path only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge.h"
#include "edge_web.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/domain/egide_payload.h"
#include "egide_test.h"

#define N_REF 3

static char s_dir[64];
static edge_t E;
static int64_t s_case[N_REF];

static void s_quiet(egide_log_level level, const char *line, void *arg)
{
    (void)level, (void)line, (void)arg;
}

static void s_id(uint8_t id[16], int i)
{
    memset(id, 0, 16);
    id[0] = 0xC0;
    id[15] = (uint8_t)i;
}

static char *s_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 65536);
    size_t n = buf ? fread(buf, 1, 65535, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

static const char *const s_samples[N_REF][2] = {
    {"ip.transmission", "ip-macon-under2.json"},
    {"snated.transmission", "snated-cluny.json"},
    {"ip.transmission", "ip-macon-under2.json"},
};

static int s_seed(void)
{
    char p[256];
    snprintf(p, sizeof p, "%s/edge.db", s_dir);
    if (edge_store_sqlite_ops.open(p, &E.store))
        return -1;
    E.api_store = E.store;
    const char *src = getenv("EGIDE_SOURCE_DIR");
    for (int i = 0; i < N_REF; i++) {
        snprintf(p, sizeof p, "%s/deploy/samples/%s", src ? src : ".", s_samples[i][1]);
        char *js = s_read(p);
        uint8_t *pb = NULL;
        size_t pb_len = 0;
        char *errors = NULL;
        egide_payload_facts_t facts;
        if (!js || egide_payload_from_json(s_samples[i][0], js, strlen(js), egide_now_ms(), &pb,
                                           &pb_len, &facts, &errors) != EGIDE_OK) {
            fprintf(stderr, "sample %s: %s\n", p, errors ? errors : "unreadable");
            free(js);
            free(errors);
            return -1;
        }
        free(js);
        uint8_t id[16], sha[32];
        s_id(id, i);
        memset(sha, i + 1, sizeof sha);
        edge_inbox_msg_t m = {.msg_id = id,
                              .sha256 = sha,
                              .sender_id = i == 1 ? "fr.snated" : "71.education.dsden",
                              .type = s_samples[i][0],
                              .urgency = 0,
                              .created_ms = 1000000 + i * 1000 - 5,
                              .received_ms = 1000000 + i * 1000,
                              .content_type = egide_payload_content_type(s_samples[i][0]),
                              .payload = pb,
                              .payload_len = pb_len,
                              .receipt = (const uint8_t *)"R",
                              .receipt_len = 1,
                              .commune = facts.commune,
                              .case_id = &s_case[i]};
        edge_inbox_put_result res;
        uint8_t *rc = NULL;
        size_t rl = 0;
        egide_rc r = edge_store_inbox_put(E.store, &m, &res, &rc, &rl);
        free(rc);
        free(pb);
        if (r || res != EDGE_INBOX_STORED)
            return -1;
    }
    /* Case 0: an evaluation open, due far ahead; case 1: one met. */
    for (int k = 0; k < 2; k++) {
        edge_obligation_t o = {.case_id = s_case[k],
                               .role = EDGE_OBLIG_ACT,
                               .start_ms = 1000000,
                               .due_ms = k ? 2000000 : INT64_C(4000000000000)};
        strcpy(o.name, "evaluation");
        strcpy(o.actor, "71.crip");
        s_id(o.start_msg, k);
        strcpy(o.start_type, s_samples[k][0]);
        strcpy(o.label, "Évaluation (3 mois)");
        strcpy(o.source, "L226-3");
        if (edge_store_obligation_open(E.store, &o, NULL, NULL))
            return -1;
    }
    uint8_t closer[16];
    s_id(closer, 9);
    size_t closed = 0;
    return edge_store_obligation_close(E.store, s_case[1], "evaluation", 0, -1, false, 1500000,
                                       closer, &closed)
               ? -1
               : 0;
}

static json_t *s_get_as(const char *path, const char *query, const char *as, int *status,
                        char **raw)
{
    egide_http_req_t req = {.method = "GET",
                            .path = path,
                            .query = query ? query : "",
                            .body = (const uint8_t *)"",
                            .authenticated_as = as};
    egide_http_resp_t resp = {.status = 500, .content_type = "application/json"};
    edge_api_handle(&E, &req, &resp);
    *status = resp.status;
    json_t *j = resp.body ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
    if (raw)
        *raw = resp.body;
    else
        free(resp.body);
    free(resp.set_cookie);
    return j;
}

static json_t *s_get(const char *path, const char *query, int *status)
{
    return s_get_as(path, query, "token", status, NULL);
}

static void test_queue_rows(void)
{
    int st;
    char *raw = NULL;
    json_t *j = s_get_as("/v1/queue", "", "token", &st, &raw);
    CHECK(st == 200);
    json_t *arr = json_object_get(j, "messages");
    REQUIRE(json_array_size(arr) == N_REF);
    CHECK(json_is_null(json_object_get(j, "next")));
    /* Newest first: 2, 1, 0. */
    json_t *r2 = json_array_get(arr, 0), *r1 = json_array_get(arr, 1), *r0 = json_array_get(arr, 2);
    CHECK_STREQ(json_string_value(json_object_get(r0, "id")), "c000000000000000000000000000000"
                                                              "0");
    CHECK_STREQ(json_string_value(json_object_get(r0, "type")), "ip.transmission");
    CHECK_STREQ(json_string_value(json_object_get(r0, "age_band")), "0-2");
    CHECK_STREQ(json_string_value(json_object_get(r0, "commune")), "71270");
    CHECK_STREQ(json_string_value(json_object_get(r0, "sender_type")), "health");
    CHECK(json_integer_value(json_object_get(r0, "children")) == 1);
    CHECK(json_integer_value(json_object_get(r0, "case_id")) == s_case[0]);
    json_t *c0 = json_object_get(r0, "clock");
    CHECK_STREQ(json_string_value(json_object_get(c0, "state")), "open");
    CHECK_STREQ(json_string_value(json_object_get(c0, "name")), "evaluation");
    CHECK(json_integer_value(json_object_get(c0, "due_ms")) == INT64_C(4000000000000));
    /* The 119's: two children, the youngest's band, its commune. */
    CHECK_STREQ(json_string_value(json_object_get(r1, "sender_type")), "snated");
    CHECK_STREQ(json_string_value(json_object_get(r1, "commune")), "71137");
    CHECK(json_integer_value(json_object_get(r1, "children")) == 2);
    CHECK_STREQ(json_string_value(json_object_get(r1, "age_band")), "6-10");
    CHECK_STREQ(json_string_value(json_object_get(json_object_get(r1, "clock"), "state")), "met");
    /* No obligation on case 2: no clock. */
    CHECK(json_object_get(r2, "clock") == NULL);
    CHECK(json_object_get(r2, "payload") == NULL);
    /* None of the content: names, birth dates, addresses, the sender. */
    static const char *const secret[] = {"Imaginaire", "Léo",         "2025-08-03", "Fictive",
                                         "Alice",      "CHX-PED",     "pediatrie@", "Zoé",
                                         "Fictif",     "SNATED-2026", "cris",       NULL};
    for (const char *const *s = secret; *s; s++)
        CHECK(raw && strstr(raw, *s) == NULL);
    free(raw);
    json_decref(j);
}

static void test_queue_paging(void)
{
    int seen[N_REF] = {0}, pages = 0;
    char q[160] = "limit=1";
    for (int guard = 0; guard < 10; guard++) {
        int st;
        json_t *j = s_get("/v1/queue", q, &st);
        CHECK(st == 200);
        json_t *arr = json_object_get(j, "messages");
        CHECK(json_array_size(arr) <= 1);
        for (size_t i = 0; i < json_array_size(arr); i++) {
            const char *id = json_string_value(json_object_get(json_array_get(arr, i), "id"));
            uint8_t b[16];
            if (id && egide_hex_decode(id, b, 16) == EGIDE_OK && b[15] < N_REF)
                seen[b[15]]++;
        }
        pages++;
        const char *next = json_string_value(json_object_get(j, "next"));
        if (!next) {
            json_decref(j);
            break;
        }
        snprintf(q, sizeof q, "limit=1&after=%s", next);
        json_decref(j);
    }
    for (int i = 0; i < N_REF; i++)
        CHECK(seen[i] == 1);
    CHECK(pages >= N_REF && pages <= N_REF + 1);
}

static void test_queue_bad(void)
{
    static const char *const bad[] = {"limit=0",   "limit=101",       "limit=x",
                                      "after=o12", "after=i12.zz",    "after=i12.00",
                                      "foo=1",     "limit=1&limit=2", NULL};
    for (const char *const *q = bad; *q; q++) {
        int st;
        json_t *j = s_get("/v1/queue", *q, &st);
        CHECK(st == 400);
        json_decref(j);
    }
    int st;
    egide_http_req_t req = {.method = "POST",
                            .path = "/v1/queue",
                            .query = "",
                            .body = (const uint8_t *)"",
                            .authenticated_as = "token"};
    egide_http_resp_t resp = {.status = 500};
    edge_api_handle(&E, &req, &resp);
    CHECK(resp.status == 405);
    free(resp.body);
    /* A route needs a directory; a malformed commune is named. */
    json_t *j = s_get("/v1/route", "commune=71137", &st);
    CHECK(st == 404);
    json_decref(j);
    j = s_get("/v1/route", "commune=7113", &st);
    CHECK(st == 400);
    json_decref(j);
    j = s_get("/v1/route", "", &st);
    CHECK(st == 400);
    json_decref(j);
}

/* An auditor's session (no content right) may not read the queue. */
static void test_queue_auditor(void)
{
    edge_user_row_t u = {.name = "paul", .role = EDGE_ROLE_AUDITOR, .created_ms = egide_now_ms()};
    u.updated_ms = u.created_ms;
    REQUIRE(edge_password_hash("correct horse battery", 21, u.pwhash) == EGIDE_OK);
    REQUIRE(edge_store_user_add(E.store, &u) == EGIDE_OK);
    char sid[EDGE_SESSION_HEX + 1];
    edge_principal_t who;
    REQUIRE(edge_session_login(E.store, NULL, &E.auth, "paul", 4, "correct horse battery", 21,
                               "127.0.0.1", egide_now_ms(), sid, &who) == EGIDE_OK);
    egide_http_req_t req = {.method = "GET",
                            .path = "/v1/queue",
                            .query = "",
                            .body = (const uint8_t *)"",
                            .authenticated_as = "session",
                            .session = sid};
    egide_http_resp_t resp = {.status = 500};
    edge_api_handle(&E, &req, &resp);
    CHECK(resp.status == 403);
    free(resp.body);
    req.path = "/v1/route";
    resp = (egide_http_resp_t){.status = 500};
    edge_api_handle(&E, &req, &resp);
    CHECK(resp.status == 403);
    free(resp.body);
}

/* Health for the IT page: the node's role, the recipients per state; no
 * directory here, so no name and no expiry (never a made-up one). */
static void test_health_fields(void)
{
    int st;
    json_t *j = s_get("/v1/health", "", &st);
    CHECK(st == 200);
    CHECK_STREQ(json_string_value(json_object_get(j, "node")), "71.crip");
    CHECK(json_is_string(json_object_get(j, "node_role")));
    json_t *rq = json_object_get(j, "outbox_recipients");
    CHECK(json_is_integer(json_object_get(rq, "queued")) &&
          json_is_integer(json_object_get(rq, "delivered")) &&
          json_is_integer(json_object_get(rq, "rejected")));
    CHECK(json_integer_value(json_object_get(j, "inbox")) == N_REF);
    CHECK(json_object_get(j, "directory_not_after_ms") == NULL);
    CHECK(json_object_get(j, "certificate_not_after_ms") == NULL);
    CHECK(json_object_get(j, "node_name") == NULL);
    json_decref(j);
}

static int s_serve(const char *path, const char **type)
{
    egide_http_req_t req = {.method = "GET", .path = path, .query = ""};
    egide_http_resp_t resp = {.status = 0};
    bool handled = edge_web_handle(&req, &resp);
    *type = resp.content_type;
    free(resp.body);
    return handled ? resp.status : -1;
}

static void test_web_paths(void)
{
    char **paths = edge_web_public_paths();
    REQUIRE(paths);
    bool crip = false, app = false, css = false, login = false;
    for (size_t i = 0; paths[i]; i++) {
        crip = crip || strcmp(paths[i], "/crip.html") == 0;
        app = app || strcmp(paths[i], "/assets/app.js") == 0;
        css = css || strcmp(paths[i], "/assets/style.css") == 0;
        login = login || strcmp(paths[i], "/login") == 0;
        /* Each listed path is served. */
        const char *t = NULL;
        CHECK(s_serve(paths[i], &t) == 200);
    }
    CHECK(crip && app && css && login);
    edge_web_paths_free(paths);
    const char *t = NULL;
    CHECK(s_serve("/crip.html", &t) == 200 && t && strncmp(t, "text/html", 9) == 0);
    CHECK(s_serve("/assets/app.js", &t) == 200 && t && strncmp(t, "text/javascript", 15) == 0);
    /* Only by the kind's own path, nothing else. */
    CHECK(s_serve("/assets/crip.html", &t) == -1);
    CHECK(s_serve("/app.js", &t) == -1);
    CHECK(s_serve("/assets/../crip.html", &t) == -1);
    CHECK(s_serve("/nope.html", &t) == -1);
    CHECK(s_serve("/assets/", &t) == -1);
    CHECK(s_serve("/crip.html/", &t) == -1);
}

int main(void)
{
    egide_log_set_sink(s_quiet, NULL);
    egide_strlcpy(s_dir, "/tmp/egide-test-queue.XXXXXX", sizeof s_dir);
    if (!mkdtemp(s_dir))
        return 1;
    memset(&E, 0, sizeof E);
    pthread_mutex_init(&E.dir_lock, NULL);
    pthread_mutex_init(&E.api_lock, NULL);
    E.wake[0] = E.wake[1] = -1;
    egide_strlcpy(E.node_id, "71.crip", sizeof E.node_id);
    edge_auth_policy_default(&E.auth);
    if (s_seed()) {
        fprintf(stderr, "seed failed\n");
        return 1;
    }
    RUN(test_queue_rows);
    RUN(test_queue_paging);
    RUN(test_queue_bad);
    RUN(test_queue_auditor);
    RUN(test_web_paths);
    RUN(test_health_fields);
    edge_store_close(&E.store);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
    EGIDE_TEST_DONE();
}
