/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_api_queue.c - the reads behind the web pages' queue (issue 12):
 *
 *   GET /v1/queue?limit=1..100&after=CURSOR
 *     one page of the inbox, newest first (the same index range and cursor
 *     as GET /v1/messages), each row with what triage needs and no more:
 *     the children's age band (never a birth date), the first child's
 *     commune, the sender's type (never its identity), the number of
 *     children, whether a child is already known, the case and its clock
 *     (the open obligation due first, else "closed").
 *   GET /v1/route?commune=INSEE
 *     the directory's route for a commune (territory, parquet, court,
 *     police), to pre-fill an assignment.
 *
 * Cost: a queue page is one index range of the inbox plus, per row, a
 * lookup by primary key, one decode of its payload, the known-child rows
 * of that message and at most two obligation reads on the case index.
 * Nothing here logs a commune, a reference or any content.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edge.h"
#include "egide/directory/egide_directory.h"
#include "egide/base/egide_util.h"
#include "egide/domain/egide_payload.h"
#include "egide/wire/egide_wire.h"

#define QUEUE_LIMIT_MAX 100

/* Whether every parameter of query is one of known, none given twice. */
static bool s_query_only(const char *query, const char *const *known)
{
    unsigned seen = 0;
    for (const char *q = query; q && *q;) {
        size_t len = strcspn(q, "&"), name = strcspn(q, "=&");
        bool ok = false;
        for (unsigned k = 0; known[k] && k < 16; k++)
            if (strlen(known[k]) == name && strncmp(q, known[k], name) == 0) {
                ok = !(seen & (1u << k));
                seen |= 1u << k;
            }
        if (!ok && len > 0)
            return false;
        q += len;
        if (*q == '&')
            q++;
    }
    return true;
}

/* The age band of a child born on birth (YYYY-MM-DD) at now_ms, as the
 * queue shows it; NULL when the date is unreadable. */
static const char *s_age_band(const char *birth, int64_t now_ms)
{
    int y, m, d;
    if (!birth || sscanf(birth, "%4d-%2d-%2d", &y, &m, &d) != 3)
        return NULL;
    time_t t = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    int age = tm.tm_year + 1900 - y;
    if (tm.tm_mon + 1 < m || (tm.tm_mon + 1 == m && tm.tm_mday < d))
        age--;
    if (age < 0)
        return NULL;
    return age < 2    ? "0-2"
           : age < 6  ? "2-5"
           : age < 11 ? "6-10"
           : age < 15 ? "11-14"
           : age < 18 ? "15-17"
                      : "18+";
}

/* The triage facts of one payload into o (age band, commune, sender type,
 * children); nothing when it cannot be decoded. */
static void s_facts(json_t *o, const edge_inbox_row_t *m, int64_t now_ms)
{
    const char *ptype = egide_payload_type_for_content_type(m->content_type);
    char *js = NULL;
    if (!ptype || egide_payload_to_json(ptype, m->payload, m->payload_len, &js) != EGIDE_OK)
        return;
    json_t *p = json_loads(js, 0, NULL);
    egide_wipe(js, strlen(js));
    free(js);
    if (!p)
        return;
    json_t *kids = json_object_get(p, "children");
    const char *youngest = NULL;
    for (size_t i = 0; i < json_array_size(kids); i++) {
        const char *b = json_string_value(json_object_get(json_array_get(kids, i), "birth_date"));
        if (b && (!youngest || strcmp(b, youngest) > 0))
            youngest = b;
    }
    const char *band = s_age_band(youngest, now_ms);
    if (band)
        json_object_set_new(o, "age_band", json_string(band));
    if (json_array_size(kids))
        json_object_set_new(o, "children", json_integer((json_int_t)json_array_size(kids)));
    const char *st = json_string_value(json_object_get(json_object_get(p, "sender"), "type"));
    if (st)
        json_object_set_new(o, "sender_type", json_string(st));
    const char *terr = json_string_value(json_object_get(p, "territory"));
    if (terr)
        json_object_set_new(o, "territory", json_string(terr));
    json_decref(p); /* jansson frees; the strings held names: the decoded copy is gone */
}

/* Whether the known-child view of m says a child is known. */
static egide_rc s_known(edge_t *e, edge_store_t *st, const edge_inbox_row_t *m, json_t *o)
{
    json_t *v = json_object();
    if (!v)
        return EGIDE_ERR_NOMEM;
    egide_rc rc = edge_known_child_view(e, st, m, v);
    json_t *kc = json_object_get(v, "known_child");
    if (!rc && kc) {
        bool known = false, sib = false;
        json_t *c;
        size_t i;
        json_array_foreach(json_object_get(kc, "children"), i, c)
        {
            const char *s = json_string_value(json_object_get(c, "status"));
            known = known || (s && strcmp(s, "known") == 0);
            sib = sib || json_is_true(json_object_get(c, "siblings_known"));
        }
        json_object_set_new(o, "known_child", json_boolean(known));
        json_object_set_new(o, "siblings_known", json_boolean(sib));
    }
    json_decref(v);
    return rc;
}

/* The case's clock: the open obligation due first, else the latest one
 * closed ("state": met/late/released), else nothing. */
static egide_rc s_clock(edge_t *e, edge_store_t *st, int64_t case_id, json_t *o)
{
    if (case_id <= 0)
        return EGIDE_OK;
    int64_t now = edge_now_ms(e);
    edge_oblig_filter_t f = {.state = EDGE_OBLIG_Q_OPEN,
                             .role = -1,
                             .has_case = true,
                             .case_id = case_id,
                             .now_ms = now,
                             .limit = 1};
    edge_obligation_t *rows = NULL;
    size_t n = 0;
    edge_oblig_cursor_t cur;
    egide_rc rc = edge_store_obligation_list(st, &f, &rows, &n, &cur);
    if (!rc && n == 0) {
        free(rows);
        rows = NULL;
        f.state = EDGE_OBLIG_Q_ANY;
        rc = edge_store_obligation_list(st, &f, &rows, &n, &cur);
    }
    if (!rc && n > 0) {
        json_t *c = edge_api_obligation_json(&rows[0], now);
        if (!c)
            rc = EGIDE_ERR_NOMEM;
        else
            json_object_set_new(o, "clock", c);
    }
    free(rows);
    return rc;
}

static void s_queue(edge_t *e, const egide_http_req_t *req, egide_http_resp_t *resp)
{
    char limit_s[16] = "50", after[80] = "";
    static const char *const known[] = {"limit", "after", NULL};
    if (!s_query_only(req->query, known)) {
        egide_http_error(resp, 400, EGIDE_ERR_INVALID, "parameters: limit, after");
        return;
    }
    egide_rc prc = egide_http_query_get(req->query, "limit", limit_s, sizeof limit_s);
    if (prc == EGIDE_ERR_NOTFOUND)
        egide_strlcpy(limit_s, "50", sizeof limit_s);
    int64_t limit;
    if ((prc && prc != EGIDE_ERR_NOTFOUND) ||
        egide_parse_int64(limit_s, 1, QUEUE_LIMIT_MAX, &limit)) {
        egide_http_error(resp, 400, EGIDE_ERR_INVALID, "limit: a number from 1 to %d",
                         QUEUE_LIMIT_MAX);
        return;
    }
    edge_page_q_t pq = {.limit = (size_t)limit};
    prc = egide_http_query_get(req->query, "after", after, sizeof after);
    if (prc == EGIDE_OK) {
        /* "i<received_ms>.<msg id hex>", as GET /v1/messages gives it. */
        char *dot = after[0] == 'i' ? strchr(after, '.') : NULL;
        if (dot)
            *dot = '\0';
        if (!dot || egide_parse_int64(after + 1, 0, INT64_MAX, &pq.after_key) ||
            strlen(dot + 1) != 32 || egide_hex_decode(dot + 1, pq.after_id, 16)) {
            egide_http_error(resp, 400, EGIDE_ERR_INVALID,
                             "after: not a cursor of the queue (give the \"next\" of the previous "
                             "page)");
            return;
        }
        pq.has_after = true;
    } else if (prc != EGIDE_ERR_NOTFOUND) {
        egide_http_error(resp, 400, EGIDE_ERR_INVALID, "after: not a valid value");
        return;
    }
    json_t *arr = json_array();
    edge_page_t pg = {0};
    edge_inbox_row_t *rows = NULL;
    size_t n = 0;
    edge_store_t *st = NULL;
    int64_t now = edge_now_ms(e);
    egide_rc rc = edge_api_reader(e, req, &st);
    if (!rc)
        rc = edge_store_inbox_page(st, &pq, &rows, &n, &pg);
    for (size_t i = 0; !rc && i < n; i++) {
        edge_inbox_row_t im;
        rc = edge_store_inbox_get(st, rows[i].msg_id, true, &im);
        if (rc)
            break;
        json_t *o = edge_api_inbox_json(&im);
        if (!o) {
            rc = EGIDE_ERR_NOMEM;
        } else {
            if (im.case_id > 0)
                json_object_set_new(o, "case_id", json_integer(im.case_id));
            if (im.commune[0])
                json_object_set_new(o, "commune", json_string(im.commune));
            if (im.case_ref[0])
                json_object_set_new(o, "case_ref", json_string(im.case_ref));
            s_facts(o, &im, now);
            rc = s_known(e, st, &im, o);
            if (!rc)
                rc = s_clock(e, st, im.case_id, o);
            json_array_append_new(arr, o);
        }
        edge_inbox_row_clear(&im);
    }
    free(rows);
    edge_api_reader_end(e, st);
    if (rc) {
        json_decref(arr);
        edge_api_store_error(resp, rc);
        return;
    }
    json_t *o = json_pack("{s:o, s:n}", "messages", arr, "next");
    if (pg.more) {
        char hex[33], cur[80];
        egide_hex_encode(pg.next_id, 16, hex);
        snprintf(cur, sizeof cur, "i%lld.%s", (long long)pg.next_key, hex);
        json_object_set_new(o, "next", json_string(cur));
    }
    egide_http_json(resp, 200, o);
}

static void s_route(edge_t *e, const egide_http_req_t *req, egide_http_resp_t *resp)
{
    char commune[16];
    static const char *const known[] = {"commune", NULL};
    if (!s_query_only(req->query, known) ||
        egide_http_query_get(req->query, "commune", commune, sizeof commune) != EGIDE_OK ||
        !egide_directory_commune_valid(commune)) {
        egide_http_error(resp, 400, EGIDE_ERR_INVALID,
                         "commune: an INSEE code (5 digits, or 2A/2B and 3 digits)");
        return;
    }
    pthread_mutex_lock(&e->dir_lock);
    const Egide__V1__RouteEntry *r = e->dir ? egide_directory_route(e->dir, commune) : NULL;
    json_t *o = NULL;
    if (r) {
        o = json_pack("{s:s, s:s}", "commune", commune, "territory",
                      r->territory ? r->territory : "");
        static const char *const k[] = {"parquet", "court", "police", "crip", "name"};
        const char *v[] = {r->parquet, r->court, r->police, r->crip, r->name};
        for (size_t i = 0; o && i < 5; i++)
            if (v[i] && v[i][0])
                json_object_set_new(o, k[i], json_string(v[i]));
        const Egide__V1__NodeEntry *t =
            r->territory ? egide_directory_node(e->dir, r->territory) : NULL;
        if (o && t && t->display_name && t->display_name[0])
            json_object_set_new(o, "territory_name", json_string(t->display_name));
    }
    pthread_mutex_unlock(&e->dir_lock);
    if (!r) {
        egide_http_error(resp, 404, EGIDE_ERR_NOTFOUND,
                         "no route for this commune in the directory");
        return;
    }
    if (!o) {
        egide_http_error(resp, 500, EGIDE_ERR_NOMEM, "out of memory");
        return;
    }
    egide_http_json(resp, 200, o);
}

bool edge_api_queue_handle(edge_t *e, const egide_http_req_t *req, egide_http_resp_t *resp)
{
    bool get = strcmp(req->method, "GET") == 0;
    if (strcmp(req->path, "/v1/queue") == 0) {
        if (get)
            s_queue(e, req, resp);
        else
            egide_http_method_not_allowed(resp, "GET");
        return true;
    }
    if (strcmp(req->path, "/v1/route") == 0) {
        if (get)
            s_route(e, req, resp);
        else
            egide_http_method_not_allowed(resp, "GET");
        return true;
    }
    return false;
}
