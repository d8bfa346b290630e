/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_edge_cases_api.c - GET /v1/cases, /v1/cases/{id}, /v1/search and the
 * paging of GET /v1/messages (edge_api_handle, no server) on a seeded
 * SQLite store: 30 received messages in 10 cases (3 each, by case
 * reference), two senders, two communes, two types, some acknowledged,
 * received in pairs at the same millisecond (the id breaks ties); 6 sent
 * replies joining cases 0..5, one with receipts; an obligation on case 0.
 *
 * What it proves: paging returns every row once across pages, in order;
 * filters combine (each row matches all, and all matching rows come);
 * since= returns only what is newer; every bad parameter is a 400 naming
 * it; a case view lists both boxes with receipts, its obligations and its
 * state; and every main read is an index range (EXPLAIN QUERY PLAN: no
 * full scan of inbox, outbox or cases, no sort).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "edge.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/wire/egide_wire.h"
#include "egide_test.h"

#define N_IN  30
#define N_OUT 6

static char s_dir[64];
static edge_t E;
static int64_t s_case[N_IN]; /* the case each inbox message joined */

static void s_quiet(egide_log_level level, const char *line, void *arg)
{
    (void)level, (void)line, (void)arg;
}

static void s_in_id(uint8_t id[16], int i)
{
    memset(id, 0, 16);
    id[0] = 0xA0;
    id[15] = (uint8_t)i;
}

static void s_out_id(uint8_t id[16], int j)
{
    memset(id, 0, 16);
    id[0] = 0xB0;
    id[15] = (uint8_t)j;
}

static const char *s_sender(int i)
{
    return i % 2 ? "71.n119" : "71.tas.macon";
}
static const char *s_commune(int i)
{
    return i % 2 ? "71270" : "2A004";
}
static const char *s_type(int i)
{
    return i % 3 == 0 ? "snated.transmission" : "ip.transmission";
}
static int64_t s_received(int i)
{
    return 10000 + (i / 2) * 100; /* pairs share a millisecond */
}

static int s_seed(void)
{
    char p[128];
    snprintf(p, sizeof p, "%s/edge.db", s_dir);
    if (edge_store_sqlite_ops.open(p, &E.store))
        return -1;
    E.api_store = E.store;
    int urgent = 0;
    egide_wire_urgency_parse("urgent", &urgent);
    for (int i = 0; i < N_IN; i++) {
        uint8_t id[16], sha[32];
        s_in_id(id, i);
        memset(sha, i, sizeof sha);
        char ref[32];
        snprintf(ref, sizeof ref, "IP-2026-%04d", i / 3);
        edge_inbox_msg_t m = {.msg_id = id,
                              .sha256 = sha,
                              .sender_id = s_sender(i),
                              .type = s_type(i),
                              .urgency = i % 5 == 0 ? urgent : 0,
                              .created_ms = s_received(i) - 5,
                              .received_ms = s_received(i),
                              .content_type = "application/x-test",
                              .payload = (const uint8_t *)"x",
                              .payload_len = 1,
                              .receipt = (const uint8_t *)"R",
                              .receipt_len = 1,
                              .case_ref = ref,
                              .commune = s_commune(i),
                              .case_id = &s_case[i]};
        edge_inbox_put_result res;
        uint8_t *rc = NULL;
        size_t rl = 0;
        if (edge_store_inbox_put(E.store, &m, &res, &rc, &rl) || res != EDGE_INBOX_STORED)
            return -1;
        free(rc);
        if (i % 4 == 0 && edge_store_inbox_acknowledge(E.store, id, s_received(i) + 1, NULL))
            return -1;
    }
    for (int j = 0; j < N_OUT; j++) {
        uint8_t id[16], irt[16], sha[32];
        s_out_id(id, j);
        s_in_id(irt, j * 3);
        memset(sha, 0x50 + j, sizeof sha);
        const char *to[1] = {s_sender(j * 3)};
        edge_outbox_msg_t m = {.msg_id = id,
                               .seq = (uint64_t)j + 1,
                               .type = "ip.qualification",
                               .in_reply_to = irt,
                               .created_ms = 20000 + j * 10,
                               .expires_ms = 99999999,
                               .envelope = (const uint8_t *)"E",
                               .envelope_len = 1,
                               .sha256 = sha,
                               .rcpt_ids = to,
                               .n_rcpt = 1,
                               .commune = "71270"};
        if (edge_store_outbox_add(E.store, &m))
            return -1;
    }
    /* Sent message 0: accepted and delivered, with both receipts. */
    uint8_t id0[16];
    s_out_id(id0, 0);
    bool ch;
    if (edge_store_outbox_mark_accepted(E.store, id0, 20001, 7, &ch) ||
        edge_store_rcpt_update(E.store, id0, "71.tas.macon", EDGE_RCPT_DELIVERED, 0, 20002, &ch))
        return -1;
    for (int k = 0; k < 2; k++) {
        edge_receipt_row_t r = {.kind = k ? 2 : 1, .time_ms = 20001 + k};
        memcpy(r.msg_id, id0, 16);
        memset(r.sha256, 0x70 + k, 32);
        strcpy(r.issuer, k ? "71.tas.macon" : "71.broker");
        if (edge_store_receipt_put(E.store, &r, (const uint8_t *)"r", 1))
            return -1;
    }
    /* An obligation on case 0, long overdue. */
    edge_obligation_t o = {
        .case_id = s_case[0], .role = EDGE_OBLIG_ACT, .start_ms = 10000, .due_ms = 10500};
    strcpy(o.name, "evaluation");
    strcpy(o.actor, "71.crip");
    s_in_id(o.start_msg, 0);
    strcpy(o.start_type, "snated.transmission");
    strcpy(o.label, "Évaluation (3 mois)");
    strcpy(o.source, "L226-3");
    return edge_store_obligation_open(E.store, &o, NULL, NULL) ? -1 : 0;
}

/* One GET through the routes: the status, and the parsed JSON answer (the
 * caller's). */
static json_t *s_get(const char *path, const char *query, int *status)
{
    egide_http_req_t req = {.method = "GET",
                            .path = path,
                            .query = query ? query : "",
                            .body = (const uint8_t *)"",
                            .authenticated_as = "token"};
    egide_http_resp_t resp = {.status = 500, .content_type = "application/json"};
    edge_api_handle(&E, &req, &resp);
    *status = resp.status;
    json_t *j = resp.body ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
    free(resp.body);
    return j;
}

static const char *s_errmsg(json_t *j)
{
    const char *m = json_string_value(json_object_get(j, "detail"));
    return m ? m : "";
}

static int s_index_of(const char *hex)
{
    uint8_t id[16];
    if (!hex || egide_hex_decode(hex, id, 16))
        return -1;
    return id[15] + (id[0] == 0xB0 ? 100 : 0);
}

/* Walk every page of path?query&limit=lim; seen[i] counts the inbox
 * message i (or, with out, the sent one); false on any failure; the order
 * is checked on the way (key = received_ms or created_ms, never up). */
static bool s_walk(const char *path, const char *query, int lim, const char *arr, bool out,
                   int seen[N_IN], int *pages)
{
    char q[512], after[128] = "";
    memset(seen, 0, sizeof(int) * N_IN);
    *pages = 0;
    int64_t last = INT64_MAX;
    for (int guard = 0; guard < 100; guard++) {
        snprintf(q, sizeof q, "%s%slimit=%d%s%s", query, query[0] ? "&" : "", lim,
                 after[0] ? "&after=" : "", after);
        int st = 0;
        json_t *j = s_get(path, q, &st);
        if (st != 200) {
            fprintf(stderr, "%s?%s: %d %s\n", path, q, st, s_errmsg(j));
            json_decref(j);
            return false;
        }
        (*pages)++;
        json_t *a = json_object_get(j, arr);
        if (json_array_size(a) > (size_t)lim) {
            json_decref(j);
            return false;
        }
        size_t k;
        json_t *m;
        json_array_foreach(a, k, m)
        {
            int i = s_index_of(json_string_value(json_object_get(m, "id")));
            int64_t t = json_integer_value(json_object_get(m, out ? "created_ms" : "received_ms"));
            if (t > last) {
                json_decref(j);
                return false;
            }
            last = t;
            if (out && i >= 100 && i - 100 < N_IN)
                seen[i - 100]++;
            else if (!out && i >= 0 && i < N_IN)
                seen[i]++;
        }
        const char *next = json_string_value(json_object_get(j, "next"));
        if (!next) {
            json_decref(j);
            return true;
        }
        egide_strlcpy(after, next, sizeof after);
        json_decref(j);
    }
    return false;
}

static void test_search_paging(void)
{
    int seen[N_IN], pages = 0;
    /* Every inbox message once, across pages of 7 (ties included). */
    CHECK(s_walk("/v1/search", "box=inbox", 7, "messages", false, seen, &pages));
    for (int i = 0; i < N_IN; i++)
        CHECK(seen[i] == 1);
    CHECK(pages == 5);
    /* total: exact, whatever the page */
    int st;
    json_t *j = s_get("/v1/search", "box=inbox&limit=3", &st);
    CHECK(st == 200);
    CHECK(json_integer_value(json_object_get(j, "total")) == N_IN);
    CHECK(json_is_true(json_object_get(j, "total_exact")));
    CHECK(json_array_size(json_object_get(j, "messages")) == 3);
    json_decref(j);
    /* The outbox by created time. */
    CHECK(s_walk("/v1/search", "box=outbox", 4, "messages", true, seen, &pages));
    for (int i = 0; i < N_IN; i++)
        CHECK(seen[i] == (i < N_OUT));
    /* GET /v1/messages pages the same way, with a state filter in the store. */
    CHECK(
        s_walk("/v1/messages", "box=inbox&state=acknowledged", 2, "messages", false, seen, &pages));
    for (int i = 0; i < N_IN; i++)
        CHECK(seen[i] == (i % 4 == 0));
    CHECK(s_walk("/v1/messages", "box=outbox&state=delivered", 1, "messages", true, seen, &pages));
    for (int i = 0; i < N_IN; i++)
        CHECK(seen[i] == (i == 0));
    CHECK(s_walk("/v1/messages", "box=outbox&state=queued", 2, "messages", true, seen, &pages));
    for (int i = 0; i < N_IN; i++)
        CHECK(seen[i] == (i >= 1 && i < N_OUT));
    CHECK(pages == 3);
}

static void test_search_filters(void)
{
    int seen[N_IN], pages;
    /* sender and commune and type together: each row matches all, and
     * every matching row comes. */
    CHECK(s_walk("/v1/search", "sender=71.n119&commune=71270&type=ip.transmission", 2, "messages",
                 false, seen, &pages));
    for (int i = 0; i < N_IN; i++)
        CHECK(seen[i] == (i % 2 == 1 && i % 3 != 0));
    CHECK(s_walk("/v1/search", "state=acknowledged&urgency=urgent", 5, "messages", false, seen,
                 &pages));
    for (int i = 0; i < N_IN; i++)
        CHECK(seen[i] == (i % 4 == 0 && i % 5 == 0));
    /* ref: a case-insensitive substring of the case reference */
    CHECK(s_walk("/v1/search", "ref=ip-2026-0003", 10, "messages", false, seen, &pages));
    for (int i = 0; i < N_IN; i++)
        CHECK(seen[i] == (i / 3 == 3));
    /* a time range: received in [10500, 11000) */
    CHECK(s_walk("/v1/search", "from=10500&to=11000", 10, "messages", false, seen, &pages));
    for (int i = 0; i < N_IN; i++)
        CHECK(seen[i] == (s_received(i) >= 10500 && s_received(i) < 11000));
    /* since: only what is newer */
    CHECK(s_walk("/v1/search", "since=11000", 4, "messages", false, seen, &pages));
    for (int i = 0; i < N_IN; i++)
        CHECK(seen[i] == (s_received(i) >= 11000));
    int st;
    json_t *j = s_get("/v1/search", "since=11000&commune=2A004", &st);
    CHECK(st == 200);
    CHECK(json_integer_value(json_object_get(j, "total")) == 5); /* i = 12, 14, ..., 20... */
    size_t k;
    json_t *m;
    json_array_foreach(json_object_get(j, "messages"), k, m)
    {
        CHECK_STREQ(json_string_value(json_object_get(m, "commune")), "2A004");
        CHECK(json_integer_value(json_object_get(m, "received_ms")) >= 11000);
        CHECK(json_integer_value(json_object_get(m, "case_id")) > 0);
    }
    json_decref(j);
    /* nothing matches: an empty last page */
    j = s_get("/v1/search", "sender=71.parquet", &st);
    CHECK(st == 200);
    CHECK(json_array_size(json_object_get(j, "messages")) == 0);
    CHECK(json_is_null(json_object_get(j, "next")));
    CHECK(json_integer_value(json_object_get(j, "total")) == 0);
    json_decref(j);
}

static void test_bad_parameters(void)
{
    static const struct {
        const char *path, *query, *says;
    } bad[] = {
        {"/v1/search", "colour=red", "not a parameter"},
        {"/v1/search", "box=trash", "box:"},
        {"/v1/search", "state=lost", "state:"},
        {"/v1/search", "box=outbox&state=delivered", "state:"},
        {"/v1/search", "type=ip.nonsense", "type:"},
        {"/v1/search", "urgency=later", "urgency:"},
        {"/v1/search", "commune=7127", "commune:"},
        {"/v1/search", "commune=71X70", "commune:"},
        {"/v1/search", "sender=NOT%20A%20NODE", "sender:"},
        {"/v1/search", "box=outbox&sender=71.n119", "sender:"},
        {"/v1/search", "limit=0", "limit:"},
        {"/v1/search", "limit=501", "limit:"},
        {"/v1/search", "limit=ten", "limit:"},
        {"/v1/search", "from=yesterday", "from:"},
        {"/v1/search", "from=2000&to=1000", "from:"},
        {"/v1/search", "after=zzz", "after:"},
        {"/v1/search", "after=mo000000000000000000000000000000000000000000000000", "after:"},
        {"/v1/search", "ref=", "ref:"},
        {"/v1/search", "ref=0123456789012345678901234567890123456789012345678901234567890123",
         "ref:"},
        {"/v1/search", "what=people", "what:"},
        {"/v1/search", "what=cases&commune=71270", "not a parameter"},
        {"/v1/search", "limit=5&limit=6", "twice"},
        {"/v1/cases", "box=inbox", "not a parameter"},
        {"/v1/cases", "after=mi00", "after:"},
        {"/v1/cases/abc", "", "case id"},
        {"/v1/cases/0", "", "case id"},
        {"/v1/cases/1", "limit=3", "not a parameter"},
        {"/v1/messages", "box=inbox&after=o12", "after:"},
        {"/v1/messages", "box=outbox&after=i1.00", "after:"},
        {"/v1/messages", "box=outbox&state=lost", "state:"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int st = 0;
        json_t *j = s_get(bad[i].path, bad[i].query, &st);
        if (st != 400 || !strstr(s_errmsg(j), bad[i].says))
            fprintf(stderr, "%s?%s: %d %s\n", bad[i].path, bad[i].query, st, s_errmsg(j));
        CHECK(st == 400);
        CHECK(strstr(s_errmsg(j), bad[i].says) != NULL);
        json_decref(j);
    }
    int st;
    json_t *j = s_get("/v1/cases/999999", "", &st);
    CHECK(st == 404);
    json_decref(j);
    egide_http_req_t req = {.method = "POST",
                            .path = "/v1/search",
                            .query = "",
                            .body = (const uint8_t *)"",
                            .authenticated_as = "token"};
    egide_http_resp_t resp = {.status = 500, .content_type = "application/json"};
    edge_api_handle(&E, &req, &resp);
    CHECK(resp.status == 405);
    free(resp.body);
}

static void test_cases(void)
{
    /* Every case once, newest activity first (cases 0..5 got a reply). */
    char after[128] = "", q[256];
    int seen[64] = {0}, count = 0;
    int64_t last = INT64_MAX;
    for (int guard = 0; guard < 20; guard++) {
        snprintf(q, sizeof q, "limit=3%s%s", after[0] ? "&after=" : "", after);
        int st;
        json_t *j = s_get("/v1/cases", q, &st);
        REQUIRE(st == 200);
        size_t k;
        json_t *c;
        json_array_foreach(json_object_get(j, "cases"), k, c)
        {
            int64_t id = json_integer_value(json_object_get(c, "id"));
            int64_t up = json_integer_value(json_object_get(c, "updated_ms"));
            CHECK(up <= last);
            last = up;
            if (id > 0 && id < 64)
                seen[id]++;
            count++;
        }
        CHECK(json_integer_value(json_object_get(j, "total")) == 10);
        const char *next = json_string_value(json_object_get(j, "next"));
        if (!next) {
            json_decref(j);
            break;
        }
        egide_strlcpy(after, next, sizeof after);
        json_decref(j);
    }
    CHECK(count == 10);
    for (int i = 0; i < N_IN; i += 3)
        CHECK(seen[s_case[i]] == 1);
    /* since: only cases with activity since then (the six replied to) */
    int st;
    json_t *j = s_get("/v1/cases", "since=20000", &st);
    CHECK(st == 200);
    CHECK(json_array_size(json_object_get(j, "cases")) == N_OUT);
    json_decref(j);
    /* search cases by reference */
    j = s_get("/v1/search", "what=cases&ref=2026-0004", &st);
    CHECK(st == 200);
    CHECK(json_array_size(json_object_get(j, "cases")) == 1);
    CHECK(json_integer_value(
              json_object_get(json_array_get(json_object_get(j, "cases"), 0), "id")) == s_case[12]);
    CHECK_STREQ(json_string_value(json_object_get(j, "ref_match")),
                "case-insensitive substring (ASCII)");
    json_decref(j);
}

static void test_case_view(void)
{
    char path[64];
    snprintf(path, sizeof path, "/v1/cases/%lld", (long long)s_case[0]);
    int st;
    json_t *j = s_get(path, "", &st);
    REQUIRE(st == 200);
    CHECK_STREQ(json_string_value(json_object_get(j, "ref")), "IP-2026-0000");
    CHECK_STREQ(json_string_value(json_object_get(j, "state")), "overdue");
    json_t *in = json_object_get(j, "inbox"), *out = json_object_get(j, "outbox");
    CHECK(json_array_size(in) == 3);
    CHECK(json_array_size(out) == 1);
    /* oldest first; each with its state */
    for (int k = 0; k < 3; k++) {
        json_t *m = json_array_get(in, (size_t)k);
        CHECK(s_index_of(json_string_value(json_object_get(m, "id"))) == k);
        CHECK_STREQ(json_string_value(json_object_get(m, "state")),
                    k == 0 ? "acknowledged" : "delivered");
        CHECK(json_is_array(json_object_get(m, "receipts")));
    }
    json_t *o = json_array_get(out, 0);
    CHECK_STREQ(json_string_value(json_object_get(o, "state")), "delivered");
    json_t *rc = json_object_get(o, "receipts");
    CHECK(json_array_size(rc) == 2);
    CHECK_STREQ(json_string_value(json_object_get(json_array_get(rc, 0), "issuer")), "71.broker");
    json_t *ob = json_object_get(j, "obligations");
    CHECK(json_array_size(ob) == 1);
    CHECK_STREQ(json_string_value(json_object_get(json_array_get(ob, 0), "name")), "evaluation");
    CHECK(json_object_get(j, "truncated") == NULL);
    json_decref(j);
    /* a case without obligations */
    snprintf(path, sizeof path, "/v1/cases/%lld", (long long)s_case[27]);
    j = s_get(path, "", &st);
    CHECK(st == 200);
    CHECK_STREQ(json_string_value(json_object_get(j, "state")), "none");
    CHECK(json_array_size(json_object_get(j, "outbox")) == 0);
    json_decref(j);

    /* a recurring deadline: two occurrences in one case, the first closed
     * by the message that started the second; the view lists both, each
     * with its occurrence (GET /v1/deadlines: test_obligations.c) */
    edge_obligation_t r1 = {.case_id = s_case[27],
                            .role = EDGE_OBLIG_ACT,
                            .start_ms = 30000,
                            .due_ms = 40000,
                            .recurring = true};
    strcpy(r1.name, "situation_report_next");
    strcpy(r1.actor, "71.ase");
    s_in_id(r1.start_msg, 27);
    strcpy(r1.start_type, "ase.situation_report");
    strcpy(r1.label, "Rapport de situation suivant");
    strcpy(r1.source, "L223-5");
    bool created = false;
    REQUIRE(edge_store_obligation_open(E.store, &r1, &created, NULL) == EGIDE_OK && created);
    edge_obligation_t r2 = r1;
    s_in_id(r2.start_msg, 28);
    r2.start_ms = 35000;
    r2.due_ms = 1LL << 50;
    REQUIRE(edge_store_obligation_close(E.store, s_case[27], r1.name, 0, -1, false, 35000,
                                        r2.start_msg, NULL) == EGIDE_OK);
    REQUIRE(edge_store_obligation_open(E.store, &r2, &created, NULL) == EGIDE_OK && created);
    j = s_get(path, "", &st);
    CHECK(st == 200);
    ob = json_object_get(j, "obligations");
    REQUIRE(json_array_size(ob) == 2);
    for (size_t k = 0; k < 2; k++) {
        json_t *x = json_array_get(ob, k);
        CHECK_STREQ(json_string_value(json_object_get(x, "name")), "situation_report_next");
        CHECK(json_integer_value(json_object_get(x, "occurrence")) == (json_int_t)k + 1);
        CHECK_STREQ(json_string_value(json_object_get(x, "state")), k ? "open" : "met");
    }
    json_decref(j);
}

/* Record the plans; a plan that reads a whole table or sorts fails. */
static void s_plan(const char *name, const char *plan, void *arg)
{
    int *bad = arg;
    static const char *const tables[] = {"inbox", "outbox", "cases"};
    bool full = false;
    for (size_t t = 0; t < 3; t++) {
        char pat[32];
        snprintf(pat, sizeof pat, "SCAN %s", tables[t]);
        for (const char *p = strstr(plan, pat); p; p = strstr(p + 1, pat)) {
            const char *after = p + strlen(pat);
            /* "SCAN inbox" alone (or "... USING INTEGER PRIMARY KEY"... not
             * used) is a full table scan; "SCAN x USING INDEX i" reads an
             * index in order and stops at the page. */
            if (strncmp(after, " USING INDEX", 12) != 0 &&
                strncmp(after, " USING COVERING INDEX", 21) != 0)
                full = true;
        }
    }
    bool sort = strstr(plan, "USE TEMP B-TREE") != NULL;
    /* A search's range, its total and the case list read index entries
     * only (migration 9): a row that does not match never costs its table
     * row. */
    bool covered = (strncmp(name, "search ", 7) != 0 && strncmp(name, "total ", 6) != 0 &&
                    strncmp(name, "cases", 5) != 0) ||
                   strstr(plan, "COVERING INDEX") != NULL;
    if (full || sort || !covered) {
        fprintf(stderr, "plan of %s:\n%s", name, plan);
        (*bad)++;
    }
    if (getenv("EGIDE_SHOW_PLANS"))
        fprintf(stderr, "-- %s\n%s", name, plan);
    (*(bad + 1))++;
}

static void test_query_plans(void)
{
    int counts[2] = {0, 0}; /* bad, seen */
    CHECK_RC(edge_store_sqlite_plans(E.store, s_plan, counts), EGIDE_OK);
    CHECK(counts[0] == 0);
    CHECK(counts[1] >= 30);
    CHECK_RC(edge_store_sqlite_plans(NULL, s_plan, counts), EGIDE_ERR_INVALID);
}

/* A sparse filter over more rows than one request looks at: pages come
 * back short (even empty) but always with a next until the end, and the
 * one match is found once. */
static void test_scan_bound(void)
{
    edge_store_t *saved = E.api_store, *st = NULL;
    char p[128];
    snprintf(p, sizeof p, "%s/big.db", s_dir);
    REQUIRE(edge_store_sqlite_ops.open(p, &st) == EGIDE_OK);
    const int n = EDGE_STORE_SCAN_MAX + 5;
    REQUIRE(edge_store_begin(st) == EGIDE_OK);
    for (int i = 0; i < n; i++) {
        uint8_t id[16], sha[32];
        memset(id, 0, 16);
        id[0] = 0xC0;
        id[14] = (uint8_t)(i >> 8);
        id[15] = (uint8_t)i;
        memset(sha, 1, sizeof sha);
        const char *to[1] = {"71.n119"};
        edge_inbox_msg_t m = {.msg_id = id,
                              .sha256 = sha,
                              .sender_id = "71.n119",
                              .type = "ip.transmission",
                              .created_ms = i,
                              .received_ms = 1000 + i,
                              .content_type = "application/x-test",
                              .receipt = (const uint8_t *)"R",
                              .receipt_len = 1,
                              .case_ref = i == 0 ? "NEEDLE-1" : "HAY"};
        edge_inbox_put_result res;
        uint8_t *rc = NULL;
        size_t rl = 0;
        REQUIRE(edge_store_inbox_put(st, &m, &res, &rc, &rl) == EGIDE_OK);
        free(rc);
        id[0] = 0xD0;
        edge_outbox_msg_t o = {.msg_id = id,
                               .seq = (uint64_t)i + 1,
                               .type = "ip.qualification",
                               .created_ms = 1000 + i,
                               .expires_ms = 99999999,
                               .envelope = (const uint8_t *)"E",
                               .envelope_len = 1,
                               .sha256 = sha,
                               .rcpt_ids = to,
                               .n_rcpt = 1};
        REQUIRE(edge_store_outbox_add(st, &o) == EGIDE_OK);
        bool ch;
        if (i == 0)
            REQUIRE(edge_store_outbox_mark_accepted(st, id, 2000, 1, &ch) == EGIDE_OK &&
                    edge_store_rcpt_update(st, id, "71.n119", EDGE_RCPT_DELIVERED, 0, 2001, &ch) ==
                        EGIDE_OK);
    }
    REQUIRE(edge_store_commit(st) == EGIDE_OK);
    E.api_store = st;
    static const struct {
        const char *path, *query;
    } q[] = {{"/v1/search", "ref=needle&limit=10"},
             {"/v1/messages", "box=outbox&state=delivered&limit=10"}};
    for (size_t k = 0; k < 2; k++) {
        char query[256], after[128] = "";
        int found = 0, pages = 0, empty = 0;
        for (int guard = 0; guard < 10; guard++) {
            snprintf(query, sizeof query, "%s%s%s", q[k].query, after[0] ? "&after=" : "", after);
            int status;
            json_t *j = s_get(q[k].path, query, &status);
            CHECK(status == 200);
            pages++;
            size_t got = json_array_size(json_object_get(j, "messages"));
            found += (int)got;
            empty += got == 0;
            const char *next = json_string_value(json_object_get(j, "next"));
            if (!next) {
                json_decref(j);
                break;
            }
            egide_strlcpy(after, next, sizeof after);
            json_decref(j);
        }
        CHECK(found == 1);
        CHECK(pages == 2); /* the bound, then the rest */
        CHECK(empty == 1); /* the first page: nothing in 5,000 rows, but a next */
    }
    /* The total of a search stops counting at the cap and says so. */
    int status;
    json_t *j = s_get("/v1/search", "sender=71.n119", &status);
    CHECK(status == 200);
    CHECK(json_integer_value(json_object_get(j, "total")) == EDGE_SEARCH_COUNT_CAP);
    CHECK(json_is_false(json_object_get(j, "total_exact")));
    json_decref(j);
    E.api_store = saved;
    edge_store_close(&st);
}

/* A store that cannot answer: 503, retry, never a 4xx or a partial page. */
static void test_store_error(void)
{
    edge_store_t *saved = E.api_store;
    E.api_store = NULL; /* every operation fails */
    static const char *const paths[] = {"/v1/search", "/v1/cases", "/v1/cases/1", "/v1/messages"};
    for (size_t i = 0; i < 4; i++) {
        int st;
        json_t *j = s_get(paths[i], "", &st);
        CHECK(st == 503);
        CHECK(strstr(s_errmsg(j), "retry") != NULL);
        json_decref(j);
    }
    E.api_store = saved;
}

static void s_serve(const egide_http_req_t *req, egide_http_resp_t *resp, void *arg)
{
    (void)arg;
    edge_api_handle(&E, req, resp);
}

/* Run $EGIDE_BIN/egide with args against the server; its exit status and
 * stdout in out (size outsz). */
static int s_cli(const char *const *args, char *out, size_t outsz)
{
    const char *bin = getenv("EGIDE_BIN");
    char exe[512], fo[128];
    snprintf(exe, sizeof exe, "%s/egide", bin ? bin : ".");
    snprintf(fo, sizeof fo, "%s/cli.out", s_dir);
    const char *argv[24];
    size_t n = 0;
    argv[n++] = exe;
    for (size_t i = 0; args[i] && n < 23; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int o = open(fo, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (o < 0 || dup2(o, 1) < 0 || dup2(o, 2) < 0)
            _exit(127);
        setenv("HOME", s_dir, 1);
        unsetenv("EGIDE_CONFIG");
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    int st = -1;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    FILE *f = fopen(fo, "r");
    size_t got = f ? fread(out, 1, outsz - 1, f) : 0;
    out[got] = '\0';
    if (f)
        fclose(f);
    return WEXITSTATUS(st);
}

/* egide search / egide cases against the real routes. */
static void test_cli(void)
{
    static const char tok[] = "0123456789abcdef0123456789abcdef-cases-cli";
    char tf[128], api[64], out[8192];
    snprintf(tf, sizeof tf, "%s/api.token", s_dir);
    int fd = open(tf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, tok, strlen(tok)) == (ssize_t)strlen(tok));
    close(fd);
    egide_http_config_t cfg = {.token = tok, .threads = 2};
    egide_http_t *h = NULL;
    REQUIRE(egide_http_start(&cfg, s_serve, NULL, &h) == EGIDE_OK);
    snprintf(api, sizeof api, "http://127.0.0.1:%u", (unsigned)egide_http_port(h));
    const char *a1[] = {"search",  "--api", api, "--token-file", tf, "--ref", "IP-2026-0003",
                        "--limit", "2",     NULL};
    CHECK(s_cli(a1, out, sizeof out) == 0);
    CHECK(strstr(out, "total: 3") != NULL);
    CHECK(strstr(out, "more: egide search ... --after mi") != NULL);
    CHECK(strstr(out, "IP-2026-0003") != NULL);
    /* A reference with a space and a '&' reaches the edge encoded. */
    const char *a2[] = {"search", "--api", api, "--token-file", tf, "--ref", "a b&c", NULL};
    CHECK(s_cli(a2, out, sizeof out) == 0);
    CHECK(strstr(out, "total: 0") != NULL);
    const char *a3[] = {"search", "--api", api, "--token-file", tf, "--commune", "7127", NULL};
    CHECK(s_cli(a3, out, sizeof out) == 1);
    CHECK(strstr(out, "commune:") != NULL);
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)s_case[0]);
    const char *a4[] = {"cases", id, "--api", api, "--token-file", tf, NULL};
    CHECK(s_cli(a4, out, sizeof out) == 0);
    CHECK(strstr(out, "state overdue") != NULL);
    CHECK(strstr(out, "obligations: 1") != NULL);
    const char *a5[] = {"cases", "--api", api, "--token-file", tf, "--since", "20000", NULL};
    CHECK(s_cli(a5, out, sizeof out) == 0);
    CHECK(strstr(out, "total: 6") != NULL);
    const char *a6[] = {"cases", "x", "--api", api, "--token-file", tf, NULL};
    CHECK(s_cli(a6, out, sizeof out) == 2);
    egide_http_stop(&h);
}

int main(void)
{
    egide_log_set_sink(s_quiet, NULL);
    egide_strlcpy(s_dir, "/tmp/egide-test-cases.XXXXXX", sizeof s_dir);
    if (!mkdtemp(s_dir))
        return 1;
    memset(&E, 0, sizeof E);
    pthread_mutex_init(&E.dir_lock, NULL);
    pthread_mutex_init(&E.api_lock, NULL);
    pthread_mutex_init(&E.batch_lock, NULL);
    pthread_cond_init(&E.batch_cond, NULL);
    E.wake[0] = E.wake[1] = -1;
    egide_strlcpy(E.node_id, "71.crip", sizeof E.node_id);
    if (s_seed()) {
        fprintf(stderr, "seed failed\n");
        return 1;
    }
    RUN(test_search_paging);
    RUN(test_search_filters);
    RUN(test_bad_parameters);
    RUN(test_cases);
    RUN(test_case_view);
    RUN(test_query_plans);
    RUN(test_scan_bound);
    RUN(test_store_error);
    RUN(test_cli);
    edge_store_close(&E.store);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
    EGIDE_TEST_DONE();
}
