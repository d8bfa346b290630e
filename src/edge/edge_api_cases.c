/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_api_cases.c - the edge API's case and search routes (docs/edge-api.md):
 *   GET /v1/cases?since=&ref=&from=&to=&limit=&after=
 *       cases, newest activity first, paged ("next"), with "total";
 *   GET /v1/cases/{id}
 *       one case: its reference, origin, state (from its obligations), every
 *       message of both boxes with its state and receipts, its obligations;
 *   GET /v1/search?what=messages|cases&box=&type=&state=&urgency=&commune=
 *       &sender=&ref=&from=&to=&since=&limit=&after=
 *       messages of one box (or cases) matching every filter given, newest
 *       first, paged, with a counted "total" ("total_exact": false when the
 *       count stopped at EDGE_SEARCH_COUNT_CAP rows: it is then a lower
 *       bound).
 * Every parameter is checked before the store is read: an unknown
 * parameter, state, type, urgency, a malformed commune, node id, time,
 * cursor or a limit out of range is a 400 naming it.  Every read is an
 * index range bounded by the page (edge_store.h, cases and search): a page
 * may hold fewer rows than asked with "next" set, never fewer silently.
 * Reads run on the worker's read-only handle in one snapshot
 * (edge_api_reader); a store error is a 503 (transient, retry).  Nothing
 * here logs a parameter: a case reference or a commune says who a child is.
 */
#include "edge.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egide/base/egide_date.h"
#include "egide/base/egide_util.h"
#include "egide/directory/egide_directory.h"
#include "egide/domain/egide_payload.h"
#include "egide/wire/egide_wire.h"

#define S_DEFAULT_LIMIT 50

/* ------------------------------------------------------------ parameters */

/* The parameters a route accepts; v holds their decoded values ("" when
 * absent, with given[] false). */
enum {
    P_WHAT,
    P_BOX,
    P_TYPE,
    P_STATE,
    P_URGENCY,
    P_COMMUNE,
    P_SENDER,
    P_REF,
    P_FROM,
    P_TO,
    P_SINCE,
    P_LIMIT,
    P_AFTER,
    P__N
};
static const char *const s_pname[P__N] = {"what",    "box",    "type", "state", "urgency",
                                          "commune", "sender", "ref",  "from",  "to",
                                          "since",   "limit",  "after"};

typedef struct s_params {
    char v[P__N][EGIDE_MAX_NODE_ID + 16];
    bool given[P__N];
} s_params_t;

/* Read the query: every name must be one of allowed (a bit per P_*), each
 * at most once.  false with resp answered (400) otherwise. */
static bool s_params(const egide_http_req_t *req, unsigned allowed, s_params_t *p,
                     egide_http_resp_t *resp)
{
    memset(p, 0, sizeof *p);
    const char *q = req->query;
    for (int guard = 0; *q && guard < 64; guard++) {
        size_t seg = strcspn(q, "&");
        size_t nl = strcspn(q, "=&");
        int k = -1;
        for (int i = 0; i < P__N && k < 0; i++)
            if (strlen(s_pname[i]) == nl && strncmp(q, s_pname[i], nl) == 0)
                k = i;
        if (nl == 0 && seg == 0) {
            q++;
            continue;
        }
        if (k < 0 || !(allowed & (1u << k))) {
            char name[64], quoted[EGIDE_PAYLOAD_QUOTE_SIZE];
            size_t cl = nl < sizeof name - 1 ? nl : sizeof name - 1;
            memcpy(name, q, cl);
            name[cl] = '\0';
            egide_payload_quote(name, cl, quoted, sizeof quoted);
            egide_http_error(resp, 400, EGIDE_ERR_INVALID, "%s: not a parameter of %s%s", quoted,
                             req->path,
                             k >= 0 && strcmp(req->path, "/v1/search") == 0
                                 ? " with this what= (cases take ref, from, to, since)"
                                 : "");
            return false;
        }
        if (p->given[k]) {
            egide_http_error(resp, 400, EGIDE_ERR_INVALID, "%s: given twice", s_pname[k]);
            return false;
        }
        egide_rc rc = egide_http_query_get(req->query, s_pname[k], p->v[k], sizeof p->v[k]);
        if (rc) {
            egide_http_error(resp, 400, rc, "%s: %s", s_pname[k],
                             rc == EGIDE_ERR_LIMIT ? "too long" : "not a valid value");
            return false;
        }
        p->given[k] = true;
        q += seg;
        if (*q == '&')
            q++;
    }
    if (*q) {
        egide_http_error(resp, 400, EGIDE_ERR_LIMIT, "query: too many parameters");
        return false;
    }
    return true;
}

/* A time: milliseconds since the epoch, an ISO 8601 date-time or a date
 * (UTC midnight). */
static bool s_time(const char *v, int64_t *ms)
{
    if (!v[0])
        return false;
    if (strspn(v, "0123456789") == strlen(v))
        return egide_parse_int64(v, 0, INT64_MAX / 2, ms) == EGIDE_OK;
    return egide_datetime_parse(v, ms) == EGIDE_OK || egide_date_parse(v, ms) == EGIDE_OK;
}

/* An INSEE commune code: five digits, or 2A/2B and three digits (Corsica). */
static bool s_commune_ok(const char *c)
{
    if (strlen(c) != 5)
        return false;
    bool corsica = c[0] == '2' && (c[1] == 'A' || c[1] == 'B');
    for (int i = 0; i < 5; i++)
        if (!(isdigit((unsigned char)c[i]) || (i == 1 && corsica)))
            return false;
    return true;
}

/* Cursors, opaque to clients: "m" box hex(ms, id) for messages, "c"
 * hex(ms, case id) for cases; anything else is refused. */
static void s_put_be64(uint8_t *b, int64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
}

static int64_t s_get_be64(const uint8_t *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | b[i];
    return (int64_t)v;
}

static void s_cursor_make(char kind, char box, int64_t ms, const uint8_t *id, size_t idlen,
                          char *out, size_t size)
{
    uint8_t b[24];
    s_put_be64(b, ms);
    memcpy(b + 8, id, idlen);
    char hex[49];
    egide_hex_encode(b, 8 + idlen, hex);
    snprintf(out, size, "%c%c%s", kind, box, hex);
}

static bool s_cursor_read(const char *c, char kind, char box, int64_t *ms, uint8_t *id,
                          size_t idlen)
{
    uint8_t b[24];
    if (c[0] != kind || c[1] != box || strlen(c + 2) != 2 * (8 + idlen) ||
        egide_hex_decode(c + 2, b, 8 + idlen) != EGIDE_OK)
        return false;
    *ms = s_get_be64(b);
    memcpy(id, b + 8, idlen);
    return true;
}

/* limit: 1..EDGE_SEARCH_PAGE_MAX, default S_DEFAULT_LIMIT. */
static bool s_limit(const s_params_t *p, size_t *limit, egide_http_resp_t *resp)
{
    int64_t l = S_DEFAULT_LIMIT;
    if (p->given[P_LIMIT] && egide_parse_int64(p->v[P_LIMIT], 1, EDGE_SEARCH_PAGE_MAX, &l)) {
        egide_http_error(resp, 400, EGIDE_ERR_INVALID, "limit: a number from 1 to %d",
                         EDGE_SEARCH_PAGE_MAX);
        return false;
    }
    *limit = (size_t)l;
    return true;
}

/* from, to, since (each optional): times; from < to. */
static bool s_times(const s_params_t *p, bool *has_from, int64_t *from, bool *has_to, int64_t *to,
                    bool *has_since, int64_t *since, egide_http_resp_t *resp)
{
    static const int k[3] = {P_FROM, P_TO, P_SINCE};
    bool *has[3] = {has_from, has_to, has_since};
    int64_t *val[3] = {from, to, since};
    for (int i = 0; i < 3; i++) {
        *has[i] = p->given[k[i]];
        if (*has[i] && !s_time(p->v[k[i]], val[i])) {
            egide_http_error(resp, 400, EGIDE_ERR_INVALID,
                             "%s: a time (milliseconds since 1970, YYYY-MM-DD or an ISO 8601 "
                             "date-time)",
                             s_pname[k[i]]);
            return false;
        }
    }
    if (*has_from && *has_to && *from >= *to) {
        egide_http_error(resp, 400, EGIDE_ERR_INVALID, "from: must be before to");
        return false;
    }
    return true;
}

static bool s_ref(const s_params_t *p, const char **ref, egide_http_resp_t *resp)
{
    *ref = NULL;
    if (!p->given[P_REF])
        return true;
    size_t n = strlen(p->v[P_REF]);
    bool ok = n >= 1 && n <= EDGE_SEARCH_REF_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = (unsigned char)p->v[P_REF][i] >= 0x20 && p->v[P_REF][i] != 0x7f;
    if (!ok) {
        egide_http_error(resp, 400, EGIDE_ERR_INVALID,
                         "ref: 1 to %d printable characters (matched as a case-insensitive "
                         "substring of the case reference)",
                         EDGE_SEARCH_REF_MAX);
        return false;
    }
    *ref = p->v[P_REF];
    return true;
}

/* ------------------------------------------------------------ JSON */

static json_t *s_case_json(const edge_case_row_t *c)
{
    json_t *o = json_pack("{s:I, s:s?, s:I, s:I}", "id", (json_int_t)c->id, "ref",
                          c->ref[0] ? c->ref : NULL, "created_ms", (json_int_t)c->created_ms,
                          "updated_ms", (json_int_t)c->updated_ms);
    if (o && c->has_origin)
        json_object_set_new(o, "origin_ms", json_integer(c->origin_ms));
    if (o && c->has_declared)
        json_object_set_new(o, "declared_ms", json_integer(c->declared_ms));
    return o;
}

/* A found message with its case columns; NULL on a store error. */
static json_t *s_msg_json(edge_t *e, edge_store_t *st, bool outbox, const edge_search_row_t *r,
                          bool receipts)
{
    json_t *o =
        outbox ? edge_api_outbox_json(st, &r->out, e->node_id) : edge_api_inbox_json(&r->in);
    if (!o)
        return NULL;
    if (r->case_id)
        json_object_set_new(o, "case_id", json_integer(r->case_id));
    if (r->commune[0])
        json_object_set_new(o, "commune", json_string(r->commune));
    if (r->case_ref[0])
        json_object_set_new(o, "case_ref", json_string(r->case_ref));
    if (receipts)
        json_object_set_new(o, "receipts",
                            edge_api_receipts_json(st, outbox ? r->out.msg_id : r->in.msg_id));
    return o;
}

static void s_page_meta(json_t *o, const edge_search_page_t *pg, const char *next)
{
    json_object_set_new(o, "total", json_integer(pg->total));
    json_object_set_new(o, "total_exact", json_boolean(pg->total_exact));
    json_object_set_new(o, "next", next ? json_string(next) : json_null());
}

/* ------------------------------------------------------------ routes */

#define S_BIT(k) (1u << (k))
#define S_CASE_PARAMS                                                                              \
    (S_BIT(P_REF) | S_BIT(P_FROM) | S_BIT(P_TO) | S_BIT(P_SINCE) | S_BIT(P_LIMIT) | S_BIT(P_AFTER))

/* Cases newest activity first: GET /v1/cases and GET /v1/search?what=cases. */
static void s_cases(edge_t *e, const egide_http_req_t *req, const s_params_t *p,
                    egide_http_resp_t *resp)
{
    edge_case_q_t q = {0};
    const char *ref;
    if (!s_limit(p, &q.limit, resp) ||
        !s_times(p, &q.has_from, &q.from_ms, &q.has_to, &q.to_ms, &q.has_since, &q.since_ms,
                 resp) ||
        !s_ref(p, &ref, resp))
        return;
    q.ref = ref;
    if (p->given[P_AFTER]) {
        uint8_t id[8];
        if (!s_cursor_read(p->v[P_AFTER], 'c', 'a', &q.after_ms, id, 8)) {
            egide_http_error(resp, 400, EGIDE_ERR_INVALID,
                             "after: not a cursor of a case list (give the \"next\" of the "
                             "previous page)");
            return;
        }
        q.has_after = true;
        q.after_id = s_get_be64(id);
    }
    edge_store_t *st = NULL;
    edge_case_row_t *rows = NULL;
    size_t n = 0;
    edge_search_page_t pg;
    egide_rc rc = edge_api_reader(e, req, &st);
    if (!rc)
        rc = edge_store_case_search(st, &q, &rows, &n, &pg);
    edge_api_reader_end(e, st);
    if (rc) {
        edge_api_store_error(resp, rc);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, s_case_json(&rows[i]));
    free(rows);
    char next[64];
    if (pg.more)
        s_cursor_make('c', 'a', pg.next_ms, pg.next_id, 8, next, sizeof next);
    json_t *o = json_pack("{s:s, s:o}", "what", "cases", "cases", arr);
    if (q.ref)
        json_object_set_new(o, "ref_match", json_string("case-insensitive substring (ASCII)"));
    s_page_meta(o, &pg, pg.more ? next : NULL);
    egide_http_json(resp, 200, o);
}

static void s_search_messages(edge_t *e, const egide_http_req_t *req, const s_params_t *p,
                              egide_http_resp_t *resp)
{
    edge_search_q_t q = {.state = -1, .urgency = -1};
    const char *box = p->given[P_BOX] ? p->v[P_BOX] : "inbox";
    q.outbox = strcmp(box, "outbox") == 0;
    if (!q.outbox && strcmp(box, "inbox") != 0) {
        egide_http_error(resp, 400, EGIDE_ERR_INVALID, "box: inbox or outbox");
        return;
    }
    const char *ref;
    bool has_since;
    int64_t since;
    if (!s_limit(p, &q.limit, resp) ||
        !s_times(p, &q.has_from, &q.from_ms, &q.has_to, &q.to_ms, &has_since, &since, resp) ||
        !s_ref(p, &ref, resp))
        return;
    q.ref = ref;
    /* since: what is new since then (received / created), for polling. */
    if (has_since && (!q.has_from || since > q.from_ms)) {
        q.has_from = true;
        q.from_ms = since;
    }
    if (p->given[P_TYPE]) {
        if (!egide_payload_type_known(p->v[P_TYPE]) &&
            strcmp(p->v[P_TYPE], "message.acknowledgement") != 0) {
            egide_http_error(resp, 400, EGIDE_ERR_INVALID, "type: unknown message type");
            return;
        }
        q.type = p->v[P_TYPE];
    }
    if (p->given[P_STATE]) {
        edge_in_state is;
        edge_out_state os;
        if (q.outbox ? edge_out_state_parse(p->v[P_STATE], &os) != EGIDE_OK
                     : edge_in_state_parse(p->v[P_STATE], &is) != EGIDE_OK) {
            egide_http_error(resp, 400, EGIDE_ERR_INVALID, "state: %s",
                             q.outbox ? "queued, accepted, rejected or expired (the broker's "
                                        "answer; recipients' states are in each message)"
                                      : "delivered or acknowledged");
            return;
        }
        q.state = q.outbox ? (int)os : (int)is;
    }
    if (p->given[P_URGENCY] && egide_wire_urgency_parse(p->v[P_URGENCY], &q.urgency)) {
        egide_http_error(resp, 400, EGIDE_ERR_INVALID, "urgency: normal, urgent or immediate");
        return;
    }
    if (p->given[P_COMMUNE]) {
        if (!s_commune_ok(p->v[P_COMMUNE])) {
            egide_http_error(resp, 400, EGIDE_ERR_INVALID,
                             "commune: an INSEE code (5 digits, or 2A/2B and 3 digits)");
            return;
        }
        q.commune = p->v[P_COMMUNE];
    }
    if (p->given[P_SENDER]) {
        if (q.outbox) {
            egide_http_error(resp, 400, EGIDE_ERR_INVALID,
                             "sender: the outbox holds this node's own messages (search the "
                             "inbox)");
            return;
        }
        if (!egide_directory_node_id_valid(p->v[P_SENDER])) {
            egide_http_error(resp, 400, EGIDE_ERR_INVALID, "sender: not a node id");
            return;
        }
        q.sender = p->v[P_SENDER];
    }
    char bc = q.outbox ? 'o' : 'i';
    if (p->given[P_AFTER]) {
        if (!s_cursor_read(p->v[P_AFTER], 'm', bc, &q.after_ms, q.after_id, 16)) {
            egide_http_error(resp, 400, EGIDE_ERR_INVALID,
                             "after: not a cursor of a %s search (give the \"next\" of the "
                             "previous page)",
                             box);
            return;
        }
        q.has_after = true;
    }
    edge_store_t *st = NULL;
    edge_search_row_t *rows = NULL;
    size_t n = 0;
    edge_search_page_t pg;
    json_t *arr = json_array();
    egide_rc rc = edge_api_reader(e, req, &st);
    if (!rc)
        rc = edge_store_msg_search(st, &q, &rows, &n, &pg);
    for (size_t i = 0; !rc && i < n; i++) {
        json_t *o = s_msg_json(e, st, q.outbox, &rows[i], false);
        if (!o)
            rc = EGIDE_ERR_DB;
        else
            json_array_append_new(arr, o);
    }
    edge_api_reader_end(e, st);
    free(rows);
    if (rc) {
        json_decref(arr);
        edge_api_store_error(resp, rc);
        return;
    }
    char next[64];
    if (pg.more)
        s_cursor_make('m', bc, pg.next_ms, pg.next_id, 16, next, sizeof next);
    json_t *o = json_pack("{s:s, s:s, s:o}", "what", "messages", "box", box, "messages", arr);
    if (q.ref)
        json_object_set_new(o, "ref_match", json_string("case-insensitive substring (ASCII)"));
    s_page_meta(o, &pg, pg.more ? next : NULL);
    egide_http_json(resp, 200, o);
}

/* The state of a case from its obligations: "overdue" (one open past due),
 * "open", "closed" (all met, late or released), "none" (no obligation). */
static const char *s_case_state(const edge_obligation_t *o, size_t n, int64_t now)
{
    bool open = false, overdue = false;
    for (size_t i = 0; i < n; i++)
        if (o[i].state == EGIDE_DEADLINE_OPEN) {
            open = true;
            overdue = overdue || o[i].due_ms < now;
        }
    return overdue ? "overdue" : open ? "open" : n ? "closed" : "none";
}

static void s_case_show(edge_t *e, const egide_http_req_t *req, int64_t id, egide_http_resp_t *resp)
{
    edge_store_t *st = NULL;
    edge_case_row_t c;
    edge_search_row_t *rows[2] = {NULL, NULL};
    size_t n[2] = {0, 0};
    bool more[2] = {false, false};
    edge_obligation_t *ob = NULL;
    size_t nob = 0;
    edge_oblig_cursor_t obnext = {0};
    json_t *boxes[2] = {json_array(), json_array()};
    egide_rc rc = edge_api_reader(e, req, &st);
    if (!rc)
        rc = edge_store_case_get(st, id, &c);
    for (int b = 0; !rc && b < 2; b++)
        rc =
            edge_store_case_messages(st, id, b == 1, EDGE_CASE_MSGS_MAX, &rows[b], &n[b], &more[b]);
    for (int b = 0; !rc && b < 2; b++)
        for (size_t i = 0; !rc && i < n[b]; i++) {
            json_t *o = s_msg_json(e, st, b == 1, &rows[b][i], true);
            if (!o)
                rc = EGIDE_ERR_DB;
            else
                json_array_append_new(boxes[b], o);
        }
    if (!rc) {
        edge_oblig_filter_t f = {.state = EDGE_OBLIG_Q_ANY,
                                 .role = -1,
                                 .has_case = true,
                                 .case_id = id,
                                 .now_ms = edge_now_ms(e),
                                 .limit = EDGE_OBLIG_PAGE_MAX};
        rc = edge_store_obligation_list(st, &f, &ob, &nob, &obnext);
    }
    edge_api_reader_end(e, st);
    free(rows[0]);
    free(rows[1]);
    if (rc) {
        free(ob);
        json_decref(boxes[0]);
        json_decref(boxes[1]);
        if (rc == EGIDE_ERR_NOTFOUND)
            egide_http_error(resp, 404, EGIDE_ERR_NOTFOUND, "no case %lld", (long long)id);
        else
            edge_api_store_error(resp, rc);
        return;
    }
    int64_t now = edge_now_ms(e);
    json_t *obs = json_array();
    for (size_t i = 0; i < nob; i++)
        json_array_append_new(obs, edge_api_obligation_json(&ob[i], now));
    json_t *o = s_case_json(&c);
    json_object_set_new(o, "state", json_string(s_case_state(ob, nob, now)));
    free(ob);
    json_object_set_new(o, "inbox", boxes[0]);
    json_object_set_new(o, "outbox", boxes[1]);
    json_object_set_new(o, "obligations", obs);
    /* Never cut silently: a case past the bounds says so. */
    if (more[0] || more[1] || obnext.more)
        json_object_set_new(o, "truncated",
                            json_pack("{s:b, s:b, s:b, s:i}", "inbox", more[0], "outbox", more[1],
                                      "obligations", obnext.more, "max", EDGE_CASE_MSGS_MAX));
    egide_http_json(resp, 200, o);
}

bool edge_api_cases_handle(edge_t *e, const egide_http_req_t *req, egide_http_resp_t *resp)
{
    const char *p = req->path;
    bool cases = strcmp(p, "/v1/cases") == 0, search = strcmp(p, "/v1/search") == 0;
    bool one = strncmp(p, "/v1/cases/", 10) == 0;
    if (!cases && !search && !one)
        return false;
    if (strcmp(req->method, "GET") != 0) {
        egide_http_method_not_allowed(resp, "GET");
        return true;
    }
    s_params_t prm;
    if (one) {
        int64_t id = 0;
        if (egide_parse_int64(p + 10, 1, INT64_MAX, &id) != EGIDE_OK) {
            egide_http_error(resp, 400, EGIDE_ERR_INVALID, "case id: a positive number");
        } else if (s_params(req, 0, &prm, resp)) {
            s_case_show(e, req, id, resp);
        }
        return true;
    }
    if (cases) {
        if (s_params(req, S_CASE_PARAMS, &prm, resp))
            s_cases(e, req, &prm, resp);
        return true;
    }
    /* /v1/search: what= decides which parameters apply. */
    char what[16];
    egide_rc rc = egide_http_query_get(req->query, "what", what, sizeof what);
    if (rc == EGIDE_ERR_NOTFOUND)
        egide_strlcpy(what, "messages", sizeof what);
    else if (rc) {
        egide_http_error(resp, 400, rc, "what: messages or cases");
        return true;
    }
    bool wcases = strcmp(what, "cases") == 0;
    if (!wcases && strcmp(what, "messages") != 0) {
        egide_http_error(resp, 400, EGIDE_ERR_INVALID, "what: messages or cases");
        return true;
    }
    unsigned allowed = wcases ? S_CASE_PARAMS | S_BIT(P_WHAT) : (1u << P__N) - 1;
    if (!s_params(req, allowed, &prm, resp))
        return true;
    if (wcases)
        s_cases(e, req, &prm, resp);
    else
        s_search_messages(e, req, &prm, resp);
    return true;
}
