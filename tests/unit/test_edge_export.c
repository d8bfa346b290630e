/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_edge_export.c - the observatory export built from a CRIP edge's own
 * store (issue 11 item 6): a store seeded with received messages of years
 * N-1, N and N+1 (some received in one year and dated in another), of
 * types that make events and types that do not, and an opaque message;
 * GET /v1/export/olinpe pages through it (edge_api_handle, no server) and
 * the pages, fed one message at a time to egide_olinpe_add as
 * `egide export olinpe` does, give exactly year N's events - and the same
 * export as the hand-made --in file of the same messages.  Paging is
 * checked with ties on the received time and page sizes 1, 2 and 100;
 * the store's inbox_range with its cursor and limits; the route's
 * refusals (year, limit, cursor, a node that is not a CRIP).  The store
 * also holds messages the CRIP sent (parquet.saisine, department.transfer)
 * with the sender's own copy of their payloads, across N-1, N and N+1 and
 * with ties on the created time, and one sent without a copy (queued
 * before the outbox kept one): the route serves the inbox then the outbox,
 * each message once, and the store's outbox_range is checked as
 * inbox_range is.  Invented names; the key is made at run time.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edge.h"
#include "egide/base/egide_date.h"
#include "egide/base/egide_util.h"
#include "egide/domain/egide_observatory.h"
#include "egide/domain/egide_payload.h"
#include "egide_test.h"

#define NOW_MS 1811894400000LL /* 2027-06-01T00:00:00Z: every payload date is past */

static char s_dir[256];
static edge_t E;
static uint8_t s_key[32];
static json_t *s_in_lines; /* the same messages as --in lines */
static size_t s_n;         /* messages seeded */
static size_t s_n_sent;    /* sent messages seeded with a copy of their payload */

static int64_t s_ms(const char *datetime)
{
    int64_t ms = 0;
    return egide_datetime_parse(datetime, &ms) == EGIDE_OK ? ms : -1;
}

static json_t *s_sample(const char *file)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/deploy/samples/%s", getenv("EGIDE_SOURCE_DIR"), file);
    return json_load_file(p, 0, NULL);
}

/* An ip.transmission about one child whose mother is named, dated at. */
static json_t *s_ip(const char *at, bool attachment)
{
    json_t *j =
        json_pack("{s:s, s:{s:s}, s:[{s:[s], s:s, s:s, s:s, s:s}], s:{s:[s]}, s:s}", "received_at",
                  at, "sender", "type", "education", "children", "first_names", "Zo\xc3\xab", "sex",
                  "female", "birth_date", "2016-05-14", "commune", "71270", "mother_birth_surname",
                  "Invent\xc3\xa9", "danger", "categories", "severe_neglect", "urgency", "normal");
    if (attachment)
        json_object_set_new(j, "attachments",
                            json_pack("[{s:s, s:s, s:i, s:s, s:s}]", "name", "note.txt",
                                      "media_type", "text/plain", "size_bytes", 5, "sha256",
                                      "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e7304336293"
                                      "8b9824",
                                      "content", "aGVsbG8="));
    return j;
}

/* Store one received message: type, payload JSON (or opaque bytes when
 * payload is NULL), inbox received time.  0 or -1. */
static int s_put(const char *type, json_t *payload, int64_t received_ms)
{
    uint8_t id[16], sha[32], *pb = NULL;
    size_t pl = 0;
    const char *ctype = "text/plain";
    if (egide_random(id, 16) || egide_random(sha, 32))
        return -1;
    if (payload) {
        char *js = json_dumps(payload, JSON_COMPACT), *errors = NULL;
        egide_rc rc =
            egide_payload_from_json(type, js, strlen(js), NOW_MS, &pb, &pl, NULL, &errors);
        if (rc)
            fprintf(stderr, "%s: %s\n", type, errors ? errors : egide_strerror(rc));
        free(errors);
        free(js);
        if (rc)
            return -1;
        ctype = egide_payload_content_type(type);
        /* The same message as a --in line. */
        json_t *l = json_pack("{s:s, s:O}", "type", type, "payload", payload);
        json_array_append_new(s_in_lines, l);
    } else {
        pb = (uint8_t *)strdup("opaque note");
        pl = strlen((char *)pb);
    }
    edge_inbox_msg_t m = {.msg_id = id,
                          .sha256 = sha,
                          .sender_id = "71.police.macon",
                          .type = type,
                          .urgency = 1,
                          .created_ms = received_ms,
                          .received_ms = received_ms,
                          .content_type = ctype,
                          .payload = pb,
                          .payload_len = pl,
                          .receipt = (const uint8_t *)"r",
                          .receipt_len = 1};
    edge_inbox_put_result res;
    uint8_t *stored = NULL;
    size_t sl = 0;
    egide_rc rc = edge_store_inbox_put(E.store, &m, &res, &stored, &sl);
    free(stored);
    free(pb);
    json_decref(payload);
    s_n++;
    return rc || res != EDGE_INBOX_STORED ? -1 : 0;
}

/* Store one message this CRIP sent: type, payload JSON, created time;
 * with the sender's own copy of the payload, or without one (as queued
 * before the outbox kept it) when copy is false.  0 or -1. */
static int s_sent(const char *type, json_t *payload, int64_t created_ms, bool copy)
{
    static uint64_t seq = 1;
    uint8_t id[16], sha[32], *pb = NULL, env[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    size_t pl = 0;
    char *js = json_dumps(payload, JSON_COMPACT), *errors = NULL;
    egide_rc rc =
        egide_random(id, 16) || egide_random(sha, 32)
            ? EGIDE_ERR_CRYPTO
            : egide_payload_from_json(type, js, strlen(js), NOW_MS, &pb, &pl, NULL, &errors);
    if (rc)
        fprintf(stderr, "%s: %s\n", type, errors ? errors : egide_strerror(rc));
    free(errors);
    free(js);
    if (!rc && copy) {
        json_array_append_new(s_in_lines,
                              json_pack("{s:s, s:O}", "type", type, "payload", payload));
        s_n_sent += created_ms >= s_ms("2025-12-31T00:00:00Z");
    }
    const char *to[] = {"71.parquet.macon"};
    edge_outbox_msg_t m = {.msg_id = id,
                           .seq = seq++,
                           .type = type,
                           .urgency = 1,
                           .created_ms = created_ms,
                           .expires_ms = created_ms + 86400000LL,
                           .envelope = env,
                           .envelope_len = sizeof env,
                           .sha256 = sha,
                           .rcpt_ids = to,
                           .n_rcpt = 1,
                           .content_type = copy ? egide_payload_content_type(type) : NULL,
                           .payload = copy ? pb : NULL,
                           .payload_len = copy ? pl : 0};
    if (!rc)
        rc = edge_store_outbox_add(E.store, &m);
    egide_free_secret(pb, pl);
    json_decref(payload);
    return rc ? -1 : 0;
}

/* A parquet.saisine about one child, sent at. */
static json_t *s_saisine(const char *at)
{
    return json_pack(
        "{s:s, s:s, s:[s], s:s, s:[{s:s, s:[s], s:s, s:s, s:s, s:s}], s:[], s:{s:[s]},"
        " s:s}",
        "sent_at", at, "case_ref", "C-1", "grounds", "grave_immediate_danger", "actions_taken",
        "AED refus\xc3\xa9"
        "e.",
        "children", "surname", "Imaginaire", "first_names", "Zo\xc3\xab", "sex", "female",
        "birth_date", "2016-05-14", "commune", "71270", "mother_birth_surname", "Invent\xc3\xa9",
        "adults", "danger", "categories", "severe_neglect", "urgency", "urgent");
}

/* A department.transfer out of 71, transferred at. */
static json_t *s_transfer(const char *at)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:[s], s:s, s:s, s:s, s:s}]}", "transferred_at",
                     at, "case_ref", "C-2", "from_department", "71", "to_department", "21",
                     "summary", "s", "children", "first_names", "Zo\xc3\xab", "sex", "female",
                     "birth_date", "2016-05-14", "commune", "71270", "mother_birth_surname",
                     "Invent\xc3\xa9");
}

static int s_setup(void)
{
    egide_strlcpy(s_dir, "/tmp/egide-test-edge-export.XXXXXX", sizeof s_dir);
    if (!getenv("EGIDE_SOURCE_DIR") || !mkdtemp(s_dir) || egide_random(s_key, sizeof s_key))
        return -1;
    memset(&E, 0, sizeof E);
    pthread_mutex_init(&E.dir_lock, NULL);
    pthread_mutex_init(&E.api_lock, NULL);
    pthread_mutex_init(&E.batch_lock, NULL);
    pthread_cond_init(&E.batch_cond, NULL);
    egide_strlcpy(E.node_id, "71.crip", sizeof E.node_id);
    egide_strlcpy(E.role, "crip", sizeof E.role);
    char p[512];
    snprintf(p, sizeof p, "%s/crip.db", s_dir);
    if (edge_store_sqlite_ops.open(p, &E.store))
        return -1;
    E.api_store = E.store;
    s_in_lines = json_array();

    json_t *decision = s_sample("court-decision-macon.json");
    json_t *late_report = s_sample("evaluation-report-cluny.json");
    if (!decision || !late_report)
        return -1;
    json_object_del(decision, "_comment");
    json_object_del(decision, "notified_at");
    json_object_set_new(decision, "decided_at", json_string("2026-12-31T15:00:00+01:00"));
    json_object_del(late_report, "_comment");
    json_object_set_new(late_report, "completed_at", json_string("2027-02-01T10:00:00+01:00"));
    json_t *ack = json_pack("{s:s, s:s}", "acknowledged_at", "2026-05-02T10:00:00+02:00",
                            "acknowledged_by", "w");
    int64_t tie = s_ms("2026-01-01T00:00:30Z");
    int bad =
        /* N-1: outside the window, never scanned. */
        s_put("ip.transmission", s_ip("2024-06-01T10:00:00+02:00", false),
              s_ms("2024-06-01T08:00:05Z")) ||
        /* Dated N-1, received at the very start of N (twice, same ms). */
        s_put("ip.transmission", s_ip("2025-12-31T23:50:00+01:00", false), tie) ||
        s_put("ip.transmission", s_ip("2025-12-31T23:55:00+01:00", false), tie) ||
        /* N: events. */
        s_put("ip.transmission", s_ip("2026-03-10T09:00:00+01:00", false),
              s_ms("2026-03-10T08:00:10Z")) ||
        s_put("ip.transmission", s_ip("2026-07-01T09:00:00+02:00", true),
              s_ms("2026-07-01T07:00:10Z")) ||
        /* Dated in N, received in N+1: an event of N. */
        s_put("court.decision", decision, s_ms("2027-01-03T09:00:00Z")) ||
        /* Not measures, and an opaque message, in N. */
        s_put("message.acknowledgement", ack, s_ms("2026-05-02T08:00:00Z")) ||
        s_put("x.note", NULL, s_ms("2026-04-01T08:00:00Z")) ||
        /* N+1. */
        s_put("evaluation.report", late_report, s_ms("2027-02-01T09:00:00Z")) ||
        s_put("ip.transmission", s_ip("2027-03-01T09:00:00+01:00", false),
              s_ms("2027-03-01T08:00:00Z"));
    int64_t sent_tie = s_ms("2026-01-01T00:00:40Z");
    bad = bad ||
          /* Sent in N-1: outside the window, never scanned. */
          s_sent("parquet.saisine", s_saisine("2025-12-20T10:00:00+01:00"),
                 s_ms("2025-12-20T09:00:01Z"), true) ||
          /* Dated N-1 and N, sent at the very start of N (same ms). */
          s_sent("parquet.saisine", s_saisine("2025-12-31T23:58:00+01:00"), sent_tie, true) ||
          s_sent("parquet.saisine", s_saisine("2026-01-01T00:00:20+00:00"), sent_tie, true) ||
          /* N: events. */
          s_sent("parquet.saisine", s_saisine("2026-04-10T09:00:00+02:00"),
                 s_ms("2026-04-10T07:00:01Z"), true) ||
          s_sent("department.transfer", s_transfer("2026-06-01T10:00:00+02:00"),
                 s_ms("2026-06-01T08:00:01Z"), true) ||
          /* N, but sent before the outbox kept a copy: not readable. */
          s_sent("parquet.saisine", s_saisine("2026-08-01T10:00:00+02:00"),
                 s_ms("2026-08-01T08:00:01Z"), false) ||
          /* N+1. */
          s_sent("parquet.saisine", s_saisine("2027-02-01T10:00:00+01:00"),
                 s_ms("2027-02-01T09:00:01Z"), true);
    return bad ? -1 : 0;
}

static void s_teardown(void)
{
    E.api_store = NULL;
    edge_store_close(&E.store);
    pthread_mutex_destroy(&E.dir_lock);
    pthread_mutex_destroy(&E.api_lock);
    pthread_cond_destroy(&E.batch_cond);
    pthread_mutex_destroy(&E.batch_lock);
    json_decref(s_in_lines);
    if (s_dir[0]) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "cleanup failed\n");
    }
}

static json_t *s_get(const char *query, int *status)
{
    egide_http_req_t req = {.method = "GET",
                            .path = "/v1/export/olinpe",
                            .query = query,
                            .body = (const uint8_t *)"",
                            .authenticated_as = "token"};
    egide_http_resp_t resp = {.status = 500, .content_type = "application/json"};
    edge_api_handle(&E, &req, &resp);
    *status = resp.status;
    json_t *j = resp.body ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
    free(resp.body);
    return j;
}

static egide_olinpe_opts_t s_opts(void)
{
    egide_olinpe_opts_t o = {
        .year = 2026, .key = s_key, .key_len = sizeof s_key, .department = "71", .now_ms = NOW_MS};
    return o;
}

/* Page through the route with this limit, feeding the builder; the
 * export JSON (the caller's) or NULL; *msgs = messages served. */
static char *s_export_by_pages(int limit, size_t *msgs, size_t *pages, egide_olinpe_stats_t *st)
{
    egide_olinpe_opts_t o = s_opts();
    egide_olinpe_t *b = NULL;
    if (egide_olinpe_new(&o, &b))
        return NULL;
    char next[80] = "", q[160];
    *msgs = *pages = 0;
    for (int guard = 0; guard < 100; guard++) {
        snprintf(q, sizeof q, "year=2026&limit=%d%s%s", limit, next[0] ? "&after=" : "", next);
        int status = 0;
        json_t *page = s_get(q, &status);
        if (status != 200 || !page) {
            json_decref(page);
            break;
        }
        (*pages)++;
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(page, "messages"), i, m)
        {
            char *line = json_dumps(m, JSON_COMPACT);
            if (!line || strstr(line, "aGVsbG8=")) /* attachment content never served */
                (*msgs) += 1000;
            egide_olinpe_add(b, line, line ? strlen(line) : 0);
            free(line);
            (*msgs)++;
        }
        const char *n = json_string_value(json_object_get(page, "next"));
        size_t scanned = (size_t)json_integer_value(json_object_get(page, "scanned"));
        bool done = !n || scanned == 0;
        if (n)
            egide_strlcpy(next, n, sizeof next);
        json_decref(page);
        if (done) {
            char *out = NULL, *errors = NULL;
            egide_rc rc = egide_olinpe_finish(b, &out, st, &errors);
            if (rc)
                fprintf(stderr, "export: %s\n", errors ? errors : egide_strerror(rc));
            free(errors);
            egide_olinpe_destroy(&b);
            return out;
        }
    }
    egide_olinpe_destroy(&b);
    return NULL;
}

static size_t s_count(json_t *events, const char *member, const char *value)
{
    size_t n = 0, i;
    json_t *e;
    json_array_foreach(events, i, e)
    {
        json_t *v = json_object_get(e, member);
        n += json_is_string(v) && strcmp(json_string_value(v), value) == 0;
    }
    return n;
}

static void test_exactly_year_n(void)
{
    const int limits[] = {1, 2, 100};
    char *first = NULL;
    for (size_t k = 0; k < 3; k++) {
        size_t msgs = 0, pages = 0;
        egide_olinpe_stats_t st;
        memset(&st, 0, sizeof st);
        char *out = s_export_by_pages(limits[k], &msgs, &pages, &st);
        REQUIRE(out);
        /* Served: the seven received messages of types that make events in
         * the window (not the one of 2024, the acknowledgement nor the
         * opaque note), then the five sent in the window with a copy (not
         * the one of N-1 nor the one without a copy). */
        CHECK(msgs == 7 + 5 && s_n_sent == 5);
        if (limits[k] == 1)
            CHECK(pages == 9 + 5 + 1); /* one row per page in each box, then the end */
        if (limits[k] == 100)
            CHECK(pages == 3); /* the inbox, the outbox, the end */
        CHECK(st.lines == 12 && st.other_year == 4 + 2 && st.events == 3 + 3);
        json_t *root = json_loads(out, 0, NULL);
        json_t *ev = json_object_get(root, "events");
        CHECK(json_array_size(ev) == 6);
        CHECK(s_count(ev, "event_type", "ip_received") == 2);
        CHECK(s_count(ev, "event_type", "judicial_decision") == 1);
        CHECK(s_count(ev, "event_type", "parquet_referral") == 2);
        CHECK(s_count(ev, "event_type", "transfer_out") == 1);
        CHECK(s_count(ev, "event_month", "2026-01") == 1);
        CHECK(s_count(ev, "event_month", "2026-03") == 1);
        CHECK(s_count(ev, "event_month", "2026-04") == 1);
        CHECK(s_count(ev, "event_month", "2026-06") == 1);
        CHECK(s_count(ev, "event_month", "2026-07") == 1);
        CHECK(s_count(ev, "event_month", "2026-08") == 0); /* sent without a copy */
        CHECK(s_count(ev, "event_month", "2026-12") == 1);
        size_t i;
        json_t *e;
        json_array_foreach(ev, i, e)
            CHECK(strncmp(json_string_value(json_object_get(e, "event_month")), "2026-", 5) == 0);
        CHECK(json_integer_value(json_object_get(root, "year")) == 2026);
        /* Valid as an observatory.export payload, and without a name. */
        CHECK_RC(egide_payload_from_json("observatory.export", out, strlen(out), NOW_MS, NULL, NULL,
                                         NULL, NULL),
                 EGIDE_OK);
        CHECK(!strstr(out, "Zo") && !strstr(out, "Invent") && !strstr(out, "Imaginaire"));
        json_decref(root);
        if (!first)
            first = out;
        else {
            CHECK_STREQ(out, first); /* the page size changes nothing */
            free(out);
        }
    }
    /* The hand-made --in file of the same messages: the same export. */
    egide_buf_t in;
    egide_buf_init(&in, 1u << 24);
    size_t i;
    json_t *l;
    json_array_foreach(s_in_lines, i, l)
    {
        char *t = json_dumps(l, JSON_COMPACT);
        egide_buf_append(&in, t, strlen(t));
        egide_buf_append(&in, "\n", 1);
        free(t);
    }
    egide_olinpe_opts_t o = s_opts();
    char *out = NULL, *errors = NULL;
    egide_olinpe_stats_t st;
    CHECK_RC(egide_observatory_export((const char *)in.data, in.len, &o, &out, &st, &errors),
             EGIDE_OK);
    CHECK(out && first && strcmp(out, first) == 0);
    free(errors);
    free(out);
    free(first);
    egide_buf_free(&in);
}

static void test_route_refusals(void)
{
    int status = 0;
    const char *bad[] = {"",
                         "year=1999",
                         "year=abc",
                         "year=2026&limit=0",
                         "year=2026&limit=501",
                         "year=2026&after=zz",
                         "year=2026&after=12-abc",
                         "year=2026&after=-00000000000000000000000000000000",
                         "year=2026&after=o-",
                         "year=2026&after=o-zz",
                         "year=2026&after=o-o-1-00000000000000000000000000000000",
                         "year=2026&after=x-1-00000000000000000000000000000000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *j = s_get(bad[i], &status);
        CHECK(status == 400);
        json_decref(j);
    }
    /* Another year: nothing dated or received then. */
    json_t *j = s_get("year=2030", &status);
    CHECK(status == 200 && json_array_size(json_object_get(j, "messages")) == 0 &&
          json_object_get(j, "next") == NULL);
    json_decref(j);
    /* Only the CRIP exports. */
    egide_strlcpy(E.role, "tas", sizeof E.role);
    j = s_get("year=2026", &status);
    CHECK(status == 403);
    json_decref(j);
    egide_strlcpy(E.role, "crip", sizeof E.role);
}

static void test_inbox_range(void)
{
    edge_inbox_row_t *rows = NULL;
    size_t n = 0;
    /* Everything, in (received, msg id) order, with payloads. */
    CHECK_RC(edge_store_inbox_range(E.store, INT64_MIN, INT64_MAX, 0, NULL, 100, &rows, &n),
             EGIDE_OK);
    CHECK(n == s_n);
    for (size_t i = 0; i + 1 < n; i++)
        CHECK(rows[i].received_ms < rows[i + 1].received_ms ||
              (rows[i].received_ms == rows[i + 1].received_ms &&
               memcmp(rows[i].msg_id, rows[i + 1].msg_id, 16) < 0));
    CHECK(n > 0 && rows[0].payload && rows[0].payload_len > 0);
    /* After a cursor: strictly after it, ties broken by msg id. */
    REQUIRE(n >= 3);
    edge_inbox_row_t *after = NULL;
    size_t m = 0;
    CHECK_RC(edge_store_inbox_range(E.store, INT64_MIN, INT64_MAX, rows[1].received_ms,
                                    rows[1].msg_id, 100, &after, &m),
             EGIDE_OK);
    CHECK(m == n - 2 && memcmp(after[0].msg_id, rows[2].msg_id, 16) == 0);
    for (size_t i = 0; i < m; i++)
        edge_inbox_row_clear(&after[i]);
    free(after);
    /* The window's end is excluded. */
    CHECK_RC(edge_store_inbox_range(E.store, rows[0].received_ms, rows[0].received_ms, 0, NULL, 10,
                                    &after, &m),
             EGIDE_OK);
    CHECK(m == 0 && after == NULL);
    for (size_t i = 0; i < n; i++)
        edge_inbox_row_clear(&rows[i]);
    free(rows);
    CHECK_RC(edge_store_inbox_range(E.store, 0, 1, 0, NULL, 0, &rows, &n), EGIDE_ERR_INVALID);
    CHECK_RC(edge_store_inbox_range(E.store, 0, 1, 0, NULL, EDGE_STORE_PAGE_MAX + 1, &rows, &n),
             EGIDE_ERR_INVALID);
    CHECK_RC(edge_store_inbox_range(E.store, 0, 1, 0, NULL, 1, NULL, &n), EGIDE_ERR_INVALID);
}

static void test_outbox_range(void)
{
    edge_sent_row_t *rows = NULL;
    size_t n = 0;
    /* Every sent message with a copy, in (created, msg id) order. */
    CHECK_RC(edge_store_outbox_range(E.store, INT64_MIN, INT64_MAX, 0, NULL, 100, &rows, &n),
             EGIDE_OK);
    CHECK(n == s_n_sent + 1); /* and the one of N-1 */
    for (size_t i = 0; i + 1 < n; i++)
        CHECK(rows[i].created_ms < rows[i + 1].created_ms ||
              (rows[i].created_ms == rows[i + 1].created_ms &&
               memcmp(rows[i].msg_id, rows[i + 1].msg_id, 16) < 0));
    for (size_t i = 0; i < n; i++)
        CHECK(rows[i].payload && rows[i].payload_len > 0 &&
              strcmp(rows[i].content_type, egide_payload_content_type(rows[i].type)) == 0);
    /* The year's window of the route, from the second of the tie. */
    REQUIRE(n >= 3);
    edge_sent_row_t *after = NULL;
    size_t m = 0;
    CHECK_RC(edge_store_outbox_range(E.store, INT64_MIN, INT64_MAX, rows[1].created_ms,
                                     rows[1].msg_id, 100, &after, &m),
             EGIDE_OK);
    CHECK(m == n - 2 && memcmp(after[0].msg_id, rows[2].msg_id, 16) == 0);
    for (size_t i = 0; i < m; i++)
        edge_sent_row_clear(&after[i]);
    free(after);
    for (size_t i = 0; i < n; i++)
        edge_sent_row_clear(&rows[i]);
    free(rows);
    edge_sent_row_clear(NULL);
    CHECK_RC(edge_store_outbox_range(E.store, 0, 1, 0, NULL, 0, &rows, &n), EGIDE_ERR_INVALID);
    CHECK_RC(edge_store_sqlite_ops.outbox_range(NULL, 0, 1, 0, NULL, 1, &rows, &n),
             EGIDE_ERR_INVALID);
    CHECK_RC(edge_store_outbox_range(E.store, 0, 1, 0, NULL, 1, &rows, NULL), EGIDE_ERR_INVALID);
}

int main(void)
{
    if (s_setup()) {
        fprintf(stderr, "setup failed\n");
        s_teardown();
        return 1;
    }
    RUN(test_exactly_year_n);
    RUN(test_route_refusals);
    RUN(test_inbox_range);
    RUN(test_outbox_range);
    s_teardown();
    EGIDE_TEST_DONE();
}
