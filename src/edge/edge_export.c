/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_export.c - GET /v1/export/olinpe?year=N[&after=CURSOR][&limit=K]:
 * the CRIP's received and sent measure messages for the yearly observatory export
 * (issue 11 item 6), one page at a time, for `egide export olinpe`, which
 * pseudonymises them with the operator's key file (the key never reaches
 * the edge) and builds and validates the export (egide_observatory.h).
 *
 * Why the API and not the database: the CLI never speaks SQL (only the
 * store files do), the edge's database stays the edge's, and the API is
 * already the local, token-protected door to the same payloads
 * (GET /v1/messages/{id}).
 *
 * What a page holds: first the inbox, then the outbox.  Inbox messages
 * received from 1 January of N minus a day to 1 January of N+2 (a measure
 * dated in N may arrive up to a year late; a day before N for clocks), in
 * (received time, msg id) order after the cursor, through the
 * received-time index (edge_store inbox_range); once the inbox is done,
 * the messages this CRIP sent itself (parquet.saisine, department.transfer
 * out, ...) created in the same window, in (created time, msg id) order,
 * from the sender's own copy the outbox keeps of each payload it sealed
 * (edge_store outbox_range, the created-time index).  Each message is in
 * one box only, so each is served once.  Only the types that make events
 * (egide_observatory_type_counted) with their own structured payload, as
 * {"type", "payload"} - no "received", so the export dates each event by
 * the payload's own time, and events dated outside N are dropped there.
 * Attachment contents are left out (never needed by an event).  "next" is
 * the cursor after the last message scanned ("MS-HEX32" in the inbox,
 * "o-MS-HEX32" in the outbox); it is absent only when the page scanned
 * nothing (the end).  At most `limit` messages (1..EDGE_STORE_PAGE_MAX,
 * default 100) are scanned and about S_PAGE_JSON bytes of payloads
 * returned, so neither side ever holds more than a page.
 *
 * What the CRIP's edge cannot export: a message it sent before the outbox
 * kept the sender's copy (store migration 7) is sealed for its recipients
 * only and is not readable here.  The sender's copy is read by this route
 * only: it is never sent (only the sealed envelope leaves the edge).  Only
 * a node whose directory role is "crip" answers.
 */
#include "edge.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "egide/base/egide_date.h"
#include "egide/base/egide_util.h"
#include "egide/domain/egide_catalogue.h"
#include "egide/domain/egide_observatory.h"
#include "egide/domain/egide_payload.h"

#define S_PAGE_JSON (8u * 1024u * 1024u) /* payload JSON bytes per page (then "next") */
#define S_DAY_MS    86400000LL

/* "MS-HEX32" (the inbox) or "o-MS-HEX32" (the outbox) -> (box, ms, id). */
static bool s_parse_cursor(const char *s, bool *outbox, int64_t *ms, uint8_t id[16])
{
    *outbox = strncmp(s, "o-", 2) == 0;
    if (*outbox)
        s += 2;
    const char *dash = strchr(s, '-');
    if (!dash || dash == s || (size_t)(dash - s) > 19 || strlen(dash + 1) != 32)
        return false;
    char num[24];
    memcpy(num, s, (size_t)(dash - s));
    num[dash - s] = '\0';
    return egide_parse_int64(num, 0, INT64_MAX, ms) == EGIDE_OK &&
           egide_hex_decode(dash + 1, id, 16) == EGIDE_OK;
}

/* The {"type", "payload"} of one message, or NULL when it makes no event
 * or is not its type's structured payload.  *bytes += the JSON's size. */
static json_t *s_message(const char *type, const char *content_type, const uint8_t *payload,
                         size_t payload_len, size_t *bytes)
{
    if (!egide_observatory_type_counted(type))
        return NULL;
    const char *ptype = egide_payload_type_for_content_type(content_type);
    if (!ptype || strcmp(ptype, type) != 0)
        return NULL;
    char *js = NULL;
    if (egide_payload_to_json(type, payload, payload_len, &js) != EGIDE_OK)
        return NULL;
    size_t jl = strlen(js);
    json_t *p = json_loadb(js, jl, 0, NULL);
    egide_free_secret(js, jl);
    if (!p)
        return NULL;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(p, "attachments"), i, a)
    {
        json_object_del(a, "content");
    }
    *bytes += jl;
    return json_pack("{s:s, s:o}", "type", type, "payload", p);
}

/* Append the message to msgs; EGIDE_ERR_NOMEM when that fails. */
static egide_rc s_add(json_t *msgs, json_t *m)
{
    return m && json_array_append_new(msgs, m) ? EGIDE_ERR_NOMEM : EGIDE_OK;
}

void edge_export_olinpe(edge_t *e, const egide_http_req_t *req, egide_http_resp_t *resp)
{
    char year_s[16] = "", after_s[64] = "", limit_s[16] = "";
    egide_rc q = egide_http_query_get(req->query, "year", year_s, sizeof year_s);
    int64_t year = 0, limit = 0, after_ms = 0;
    uint8_t after_id[16];
    bool after = false, outbox = false;
    if (q || egide_parse_int64(year_s, 2000, 2199, &year)) {
        egide_http_error(resp, 400, EGIDE_ERR_INVALID, "year: a year from 2000 to 2199");
        return;
    }
    q = egide_http_query_get(req->query, "limit", limit_s, sizeof limit_s);
    if (q == EGIDE_ERR_NOTFOUND) {
        egide_strlcpy(limit_s, "100", sizeof limit_s);
        q = EGIDE_OK;
    }
    if (q || egide_parse_int64(limit_s, 1, EDGE_STORE_PAGE_MAX, &limit)) {
        egide_http_error(resp, 400, EGIDE_ERR_INVALID, "limit: a number from 1 to %d",
                         EDGE_STORE_PAGE_MAX);
        return;
    }
    q = egide_http_query_get(req->query, "after", after_s, sizeof after_s);
    if (q == EGIDE_OK) {
        after = s_parse_cursor(after_s, &outbox, &after_ms, after_id);
        if (!after) {
            egide_http_error(resp, 400, EGIDE_ERR_INVALID, "after: a cursor from \"next\"");
            return;
        }
    } else if (q != EGIDE_ERR_NOTFOUND) {
        egide_http_error(resp, 400, EGIDE_ERR_INVALID, "after: a cursor from \"next\"");
        return;
    }
    pthread_mutex_lock(&e->dir_lock);
    bool crip = strcmp(e->role, EGIDE_ROLE_CRIP) == 0;
    pthread_mutex_unlock(&e->dir_lock);
    if (!crip) {
        egide_http_error(resp, 403, EGIDE_ERR_AUTH,
                         "only a CRIP's edge exports for the observatories");
        return;
    }
    int64_t from = egide_date_days_from_civil(year, 1, 1) * S_DAY_MS - S_DAY_MS;
    int64_t to = egide_date_days_from_civil(year + 2, 1, 1) * S_DAY_MS;
    edge_inbox_row_t *rows = NULL;
    edge_sent_row_t *sent = NULL;
    size_t n = 0, n_sent = 0;
    edge_store_t *st = NULL;
    egide_rc rc = edge_api_reader(e, NULL, &st);
    if (!rc) {
        /* The inbox first; once it is done (a page that scans nothing),
         * the outbox from its start, in the same request. */
        if (!outbox)
            rc = edge_store_inbox_range(st, from, to, after_ms, after ? after_id : NULL,
                                        (size_t)limit, &rows, &n);
        if (!rc && !outbox && n == 0) {
            outbox = true; /* the outbox from its start: the inbox cursor is not its own */
            after = false;
        }
        if (!rc && outbox)
            rc = edge_store_outbox_range(st, from, to, after_ms, after ? after_id : NULL,
                                         (size_t)limit, &sent, &n_sent);
        edge_api_reader_end(e, st);
    }
    if (rc) {
        edge_api_store_error(resp, rc);
        return;
    }
    json_t *msgs = json_array(), *root = json_object();
    size_t bytes = 0, scanned = 0, total = outbox ? n_sent : n;
    for (size_t i = 0; i < total && msgs && root && bytes < S_PAGE_JSON && !rc; i++) {
        if (outbox)
            rc = s_add(msgs, s_message(sent[i].type, sent[i].content_type, sent[i].payload,
                                       sent[i].payload_len, &bytes));
        else
            rc = s_add(msgs, s_message(rows[i].type, rows[i].content_type, rows[i].payload,
                                       rows[i].payload_len, &bytes));
        scanned = i + 1;
    }
    if (!msgs || !root)
        rc = EGIDE_ERR_NOMEM;
    if (!rc) {
        json_object_set_new(root, "year", json_integer(year));
        json_object_set_new(root, "scanned", json_integer((json_int_t)scanned));
        json_object_set(root, "messages", msgs);
        if (scanned > 0) {
            char cur[64], hex[33];
            const uint8_t *id = outbox ? sent[scanned - 1].msg_id : rows[scanned - 1].msg_id;
            int64_t ms = outbox ? sent[scanned - 1].created_ms : rows[scanned - 1].received_ms;
            egide_hex_encode(id, 16, hex);
            snprintf(cur, sizeof cur, "%s%lld-%s", outbox ? "o-" : "", (long long)ms, hex);
            json_object_set_new(root, "next", json_string(cur));
        }
    }
    for (size_t i = 0; i < n; i++)
        edge_inbox_row_clear(&rows[i]);
    free(rows);
    for (size_t i = 0; i < n_sent; i++)
        edge_sent_row_clear(&sent[i]);
    free(sent);
    json_decref(msgs);
    if (rc) {
        json_decref(root);
        egide_http_error(resp, 500, rc, "export: %s", egide_strerror(rc));
        return;
    }
    egide_http_json(resp, 200, root);
}
