/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_api.c - the edge's local REST API (loopback, bearer token, JSON):
 *   POST /v1/messages            validate, resolve, seal, queue
 *   GET  /v1/messages?box=&state=&limit=&after=   a page, newest first,
 *                                filtered by the store, "next" whenever
 *                                more follow (an outbox message's "state"
 *                                is overall, never better than its worst
 *                                recipient: see edge_overall_state)
 *   GET  /v1/messages/{id}       with its receipts (and the payload, inbox)
 *   POST /v1/messages/{id}/ack   acknowledge a received message
 *   GET  /v1/deadlines?state=&role=&case=&limit=&after=   one page of the
 *                                obligations held here (stored, see edge_oblig.h)
 *   GET  /v1/export/olinpe?year= the CRIP's measure messages of a year, paged
 *   GET  /v1/health, GET /metrics
 *   POST/GET/DELETE /v1/session  log in, who am I, log out (personal
 *                                accounts, edge_accounts.h)
 *   GET  /, /login, /assets/...  the embedded web pages (edge_web.c)
 * A request comes with the bearer token (a machine: every right) or with
 * a session cookie (a person: the rights of their role, edge_role_allows,
 * and the session's CSRF token on every request that is not a GET).
 * Runs on the HTTP server's workers ([api] threads; docs/edge-api.md):
 * writes (submit, ack) on api_store under api_lock, one at a time; reads on
 * the worker's own read-only handle (edge_api_reader), each request in one
 * read snapshot, so a slow read never holds up another request or
 * /v1/health.  Shared state is read under its lock (the directory under
 * dir_lock) or is atomic (metrics, connection flags); node_id, role and
 * profile are set before the server starts and never change.  It reads
 * through the store's named operations only (no SQL here) and submits
 * through edge_submit.  A store error is a 503 saying to retry (store
 * errors are transient), never a partial answer.  Payloads are validated before anything is
 * signed; errors name the field (never echo content into logs).
 */
#include "edge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "egide/base/egide_date.h"
#include "edge_trail.h"
#include "edge_web.h"

#include "egide/base/egide_token.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/protocol/egide_envelope.h"
#include "egide/base/egide_log.h"
#include "egide/net/egide_metrics.h"
#include "egide/domain/egide_catalogue.h"
#include "egide/domain/egide_payload.h"
#include "egide/base/egide_util.h"
#include "egide/wire/egide_wire.h"

static json_t *s_hex_json(const void *blob, int len)
{
    if (!blob || len <= 0 || len > 64)
        return json_null();
    char hex[129];
    egide_hex_encode(blob, (size_t)len, hex);
    return json_string(hex);
}

static bool s_parse_id(const char *s, uint8_t id[16])
{
    return s && strlen(s) == 32 && egide_hex_decode(s, id, 16) == EGIDE_OK;
}

/* ------------------------------------------------------------ submit */

/* The directory's access rules for this node sending type to rcpt
 * (EGIDE_ERR_STATE while no directory is held). */
static egide_rc s_check_send(edge_t *e, const char *type, const char *const *rcpt, size_t n,
                             int *reason)
{
    pthread_mutex_lock(&e->dir_lock);
    egide_rc rc = e->dir ? egide_directory_check_send(e->dir, e->node_id, type, rcpt, n, reason)
                         : EGIDE_ERR_STATE;
    pthread_mutex_unlock(&e->dir_lock);
    return rc;
}

static json_t *s_outbox_json(edge_store_t *st, const edge_outbox_row_t *m, const char *node_id);
static void s_store_error(egide_http_resp_t *resp, egide_rc rc);
static bool s_store_transient(egide_rc rc);

/* The idempotency key of a submission (issue 13 item 14).  It comes from
 * the body's "idempotency_key" member: egide_http does not pass request
 * headers to handlers yet; once it does, the Idempotency-Key header is
 * read here first.  1..EDGE_IDEM_KEY_MAX printable ASCII characters.
 * The request's identity is the SHA-256 of the body without the key, in
 * a canonical form (compact, keys sorted), so a retry that only reorders
 * members is the same request.
 * Returns true when the caller goes on (idem[0] == '\0' without a key;
 * else idem and req_sha set, the key not held yet); false when resp was
 * answered: 400 for a bad key, 200 with the original message for the
 * same key and the same request, 409 for the same key and another
 * request, 503 on a store error. */

/* The routing override the sender recorded with message id (meta entry
 * "routing_override/<id>", s_override_record), set on o as
 * "routing_override"; nothing when there was none. */
static void s_override_attach(edge_store_t *st, const uint8_t id[16], json_t *o)
{
    char hex[33], mkey[64];
    egide_hex_encode(id, 16, hex);
    snprintf(mkey, sizeof mkey, "routing_override/%s", hex);
    uint8_t *rec = NULL;
    size_t rec_len = 0;
    egide_rc rc = edge_store_meta_get(st, mkey, &rec, &rec_len);
    json_t *rj = rc == EGIDE_OK ? json_loadb((const char *)rec, rec_len, 0, NULL) : NULL;
    free(rec);
    if (rj)
        json_object_set_new(o, "routing_override", rj);
}
static bool s_idempotency(edge_t *e, const egide_http_req_t *req, json_t *root,
                          char idem[EDGE_IDEM_KEY_MAX + 1], uint8_t req_sha[32],
                          egide_http_resp_t *resp)
{
    (void)req;
    idem[0] = '\0';
    json_t *k = json_object_get(root, "idempotency_key");
    if (!k)
        return true;
    const char *key = json_string_value(k);
    size_t kl = key ? strlen(key) : 0;
    bool ok = kl > 0 && kl <= EDGE_IDEM_KEY_MAX;
    for (size_t i = 0; ok && i < kl; i++)
        ok = key[i] > 0x20 && key[i] < 0x7f;
    if (!ok) {
        egide_http_error(resp, 400, EGIDE_ERR_VALIDATION,
                         "idempotency_key: 1 to %d printable ASCII characters, no spaces",
                         EDGE_IDEM_KEY_MAX);
        return false;
    }
    json_t *copy = json_deep_copy(root);
    if (copy)
        json_object_del(copy, "idempotency_key");
    char *canon = copy ? json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(copy);
    if (!canon) {
        egide_http_error(resp, 500, EGIDE_ERR_NOMEM, "out of memory");
        return false;
    }
    egide_sha256(canon, strlen(canon), req_sha);
    egide_wipe(canon, strlen(canon)); /* it holds the referral */
    free(canon);
    uint8_t held_sha[32], held_id[16];
    edge_outbox_row_t m;
    json_t *o = NULL;
    pthread_mutex_lock(&e->api_lock);
    egide_rc rc = edge_store_idem_get(e->api_store, key, held_sha, held_id);
    bool same = !rc && egide_ct_equal(held_sha, req_sha, 32);
    if (same && !(rc = edge_store_outbox_get(e->api_store, held_id, &m)) &&
        !(o = s_outbox_json(e->api_store, &m, e->node_id)))
        rc = EGIDE_ERR_DB;
    pthread_mutex_unlock(&e->api_lock);
    if (rc == EGIDE_ERR_NOTFOUND && !same) {
        memcpy(idem, key, kl + 1);
        return true;
    }
    if (rc) {
        s_store_error(resp, rc);
        return false;
    }
    char hex[33];
    egide_hex_encode(held_id, 16, hex);
    if (!same) {
        egide_http_error(resp, 409, EGIDE_ERR_EXISTS,
                         "idempotency_key: already used for another request (message %s); "
                         "use a new key for a new message",
                         hex);
        return false;
    }
    /* The same request again: the message it made, not a new one (with
     * the routing override it recorded, as the first answer had it). */
    pthread_mutex_lock(&e->api_lock);
    s_override_attach(e->api_store, held_id, o);
    pthread_mutex_unlock(&e->api_lock);
    json_object_set_new(o, "idempotent_replay", json_true());
    egide_http_json(resp, 200, o);
    return false;
}

/* The CRIP's evaluation.assignment carries the case's clock origin (when
 * this edge received the referral, by its own clock) as ip_received_at, so
 * the territory's evaluation runs on the same clock as the CRIP's: when the
 * case is known here (by in_reply_to or the payload's case_ref) and holds
 * an origin, a missing or different ip_received_at is filled from it (a
 * CRIP worker need not copy it; the answer says "filled"), never refused.
 * *filled says whether the payload changed.  Store errors are returned. */
static egide_rc s_fill_origin(edge_t *e, const char *type, const uint8_t *irt, json_t *payload,
                              bool *filled)
{
    *filled = false;
    if (strcmp(e->role, "crip") != 0 || strcmp(type, "evaluation.assignment") != 0 ||
        !json_is_object(payload))
        return EGIDE_OK;
    const char *ref = json_string_value(json_object_get(payload, "case_ref"));
    if (!irt && (!ref || !ref[0]))
        return EGIDE_OK;
    int64_t cid = 0;
    edge_case_row_t c;
    memset(&c, 0, sizeof c);
    pthread_mutex_lock(&e->api_lock);
    egide_rc rc = edge_store_case_find(e->api_store, NULL, irt, ref && ref[0] ? ref : NULL, &cid);
    if (!rc)
        rc = edge_store_case_get(e->api_store, cid, &c);
    pthread_mutex_unlock(&e->api_lock);
    if (rc == EGIDE_ERR_NOTFOUND || (!rc && !c.has_origin))
        return EGIDE_OK;
    if (rc)
        return rc;
    const char *have = json_string_value(json_object_get(payload, "ip_received_at"));
    int64_t ms = 0;
    if (have && egide_datetime_parse(have, &ms) == EGIDE_OK && ms == c.origin_ms)
        return EGIDE_OK;
    char iso[32];
    rc = egide_datetime_format(c.origin_ms, iso, sizeof iso);
    if (rc)
        return rc;
    if (json_object_set_new(payload, "ip_received_at", json_string(iso)) != 0)
        return EGIDE_ERR_NOMEM;
    *filled = true;
    return EGIDE_OK;
}

/* ------------------------------------------------------------ routing checks */

/* The request's "routing_override": {"reason": "..."} (issue 11 item 3),
 * checked as the payload will check it.  *reason is borrowed from root (NULL
 * without an override).  false when resp was answered (400). */
static bool s_override_parse(json_t *root, const char **reason, egide_http_resp_t *resp)
{
    *reason = NULL;
    json_t *o = json_object_get(root, "routing_override");
    if (!o)
        return true;
    if (!json_is_object(o)) {
        egide_http_error(resp, 400, EGIDE_ERR_VALIDATION,
                         "routing_override: an object {\"reason\": \"why\"}");
        return false;
    }
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        if (strcmp(key, "reason") != 0) {
            char q[EGIDE_PAYLOAD_QUOTE_SIZE];
            egide_payload_quote(key, strlen(key), q, sizeof q);
            egide_http_error(resp, 400, EGIDE_ERR_VALIDATION,
                             "routing_override: unknown field %s (only \"reason\")", q);
            return false;
        }
    }
    json_t *r = json_object_get(o, "reason");
    const char *why =
        !r ? "required: say why the message goes elsewhere"
        : !json_is_string(r)
            ? "not a string"
            : egide_payload_override_reason_problem(json_string_value(r), json_string_length(r));
    if (why) {
        egide_http_error(resp, 400, EGIDE_ERR_VALIDATION, "routing_override.reason: %s", why);
        return false;
    }
    *reason = json_string_value(r);
    return true;
}

/* true when the payload message of type has a routing_override field. */
static bool s_type_has_override(const char *type)
{
    const egide_catalogue_type_t *t = egide_catalogue_type_find(type);
    return t && t->payload &&
           protobuf_c_message_descriptor_get_field_by_name(t->payload, "routing_override");
}

/* "71137, 71270" (and ", ..." when the payload had more). */
static void s_communes_text(const egide_payload_facts_t *fx, char *out, size_t outsz)
{
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < fx->n_communes && o + 16 < outsz; i++)
        o += (size_t)snprintf(out + o, outsz - o, "%s%s", i ? ", " : "", fx->communes[i]);
    if (fx->more_communes && o + 8 < outsz)
        snprintf(out + o, outsz - o, ", ...");
}

/* Issue 11 item 3: a message routed by commune goes where its payload says.
 * The commune given must be one of the children's (when the payload names
 * any), and the payload's territory, when it has one, must be the node the
 * directory routes that commune to; a routing_override in the payload lets
 * either through.  false when resp was answered (422, EGIDE_ERR_ROUTE). */
static bool s_routing_consistent(edge_t *e, const char *given, const char *c,
                                 const egide_payload_facts_t *fx, egide_http_resp_t *resp)
{
    if (fx->routing_override)
        return true;
    char list[EGIDE_PAYLOAD_MAX_COMMUNES * 8 + 16];
    s_communes_text(fx, list, sizeof list);
    if (given && fx->n_communes > 0 && !egide_payload_facts_has_commune(fx, given)) {
        egide_http_error(resp, 422, EGIDE_ERR_ROUTE,
                         "routing mismatch: commune %s given for routing is not a commune of the "
                         "payload's children (%s); route by one of them, or give "
                         "routing_override with a reason",
                         given, list);
        return false;
    }
    if (!fx->territory[0])
        return true;
    char routed[EGIDE_MAX_NODE_ID + 1] = "";
    pthread_mutex_lock(&e->dir_lock);
    const Egide__V1__RouteEntry *r = e->dir ? egide_directory_route(e->dir, c) : NULL;
    if (r && r->territory)
        egide_strlcpy(routed, r->territory, sizeof routed);
    pthread_mutex_unlock(&e->dir_lock);
    if (routed[0] && strcmp(routed, fx->territory) != 0) {
        egide_http_error(resp, 422, EGIDE_ERR_ROUTE,
                         "routing mismatch: the payload's territory is %s but the directory "
                         "routes commune %s to %s; correct one of them, or give "
                         "routing_override with a reason",
                         fx->territory, c, routed);
        return false;
    }
    return true;
}

/* What the sender keeps of an override: the edge store's meta entry
 * "routing_override/<msg id>", {"reason", "commune", "children_communes",
 * "territory", "recipients"}, written in the transaction that queues the
 * message (the sealed payload itself is for its recipients only). */
static json_t *s_override_record(const char *reason, const char *c, const egide_payload_facts_t *fx,
                                 const char *const *rcpt, size_t n)
{
    json_t *kids = json_array(), *to = json_array();
    for (int i = 0; kids && i < fx->n_communes; i++)
        json_array_append_new(kids, json_string(fx->communes[i]));
    for (size_t i = 0; to && i < n; i++)
        json_array_append_new(to, json_string(rcpt[i]));
    json_t *o =
        json_pack("{s:s, s:s*, s:o, s:s*, s:o}", "reason", reason ? reason : "", "commune", c,
                  "children_communes", kids ? kids : json_array(), "territory",
                  fx->territory[0] ? fx->territory : NULL, "recipients", to ? to : json_array());
    return o;
}

/* A submission's writes, run in its batch's transaction
 * (edge_api_batch.c): the message (and its copy without a confidential
 * sender's identity), its override record, its idempotency key and the
 * trail entry saying who sent it commit together, so that a request cut
 * off after the commit and retried finds the key, never a second
 * referral, and no message is queued without its entry. */
typedef struct {
    const edge_principal_t *who;
    const char *type;
    const char *const *full, *const *others;
    size_t n_full, n_others;
    int urgency;
    const uint8_t *irt;
    const uint8_t *pb, *red_pb;
    size_t pb_len, red_len;
    const egide_payload_facts_t *facts;
    const char *rec_text, *idem;
    const uint8_t *req_sha;
    uint8_t msg_id[16], red_id[16];
} s_submit_job_t;

static egide_rc s_submit_job(edge_t *e, struct edge_trail **trail, void *arg)
{
    s_submit_job_t *j = arg;
    edge_store_t *st = e->api_store;
    egide_rc rc = EGIDE_OK;
    if (j->n_full)
        rc = edge_submit_in(e, st, j->type, j->full, j->n_full, j->urgency, j->irt, j->pb,
                            j->pb_len, j->facts, j->msg_id);
    if (!rc && j->n_others)
        rc = edge_submit_in(e, st, j->type, j->others, j->n_others, j->urgency, j->irt, j->red_pb,
                            j->red_len, j->facts, j->red_id);
    if (!rc && !j->n_full)
        memcpy(j->msg_id, j->red_id, 16); /* no CRIP among the recipients: the one message */
    if (!rc && j->rec_text) {
        char mkey[64], hex[33];
        egide_hex_encode(j->msg_id, 16, hex);
        snprintf(mkey, sizeof mkey, "routing_override/%s", hex);
        rc = edge_store_meta_put(st, mkey, j->rec_text, strlen(j->rec_text));
    }
    if (!rc && j->idem[0])
        rc = edge_store_idem_put(st, j->idem, j->req_sha, j->msg_id, edge_now_ms(e));
    if (!rc)
        rc = edge_trail_note_in(e, trail, j->who, "message.send", j->msg_id);
    return rc;
}

static void s_post_message(edge_t *e, const egide_http_req_t *req, const edge_principal_t *who,
                           egide_http_resp_t *resp)
{
    json_error_t jerr;
    json_t *root =
        json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root)) {
        egide_http_error(resp, 400, EGIDE_ERR_PROTO, "body is not a JSON object (line %d: %s)",
                         jerr.line, root ? "not an object" : jerr.text);
        json_decref(root);
        return;
    }
    static const char *const allowed[] = {
        "type",    "to",          "commune",      "urgency",         "in_reply_to",
        "payload", "payload_b64", "content_type", "idempotency_key", "routing_override",
        NULL};
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val)
    {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            ok = ok || strcmp(*a, key) == 0;
        if (!ok) {
            /* Quoted, escaped and bounded: the key is the client's. */
            char q[EGIDE_PAYLOAD_QUOTE_SIZE];
            egide_payload_quote(key, strlen(key), q, sizeof q);
            egide_http_error(resp, 400, EGIDE_ERR_PROTO, "unknown field %s", q);
            json_decref(root);
            return;
        }
    }
    uint8_t req_sha[32];
    char idem[EDGE_IDEM_KEY_MAX + 1];
    if (!s_idempotency(e, req, root, idem, req_sha, resp)) {
        json_decref(root);
        return; /* answered: a bad key, the original message, or a conflict */
    }
    const char *type = json_string_value(json_object_get(root, "type"));
    json_t *payload = json_object_get(root, "payload");
    json_t *to = json_object_get(root, "to");
    json_t *jcommune = json_object_get(root, "commune");
    const char *commune = json_string_value(jcommune);
    const char *ovr_reason = NULL;
    json_t *pcopy = NULL;  /* the payload with the request's override written in */
    json_t *record = NULL; /* what the outbox keeps of an override */
    const char *urg = json_string_value(json_object_get(root, "urgency"));
    const char *irt = json_string_value(json_object_get(root, "in_reply_to"));
    uint8_t irt_id[16];
    int urgency = EGIDE__V1__URGENCY__URGENCY_NORMAL;
    char *errors = NULL;
    uint8_t *pb = NULL;
    size_t pb_len = 0;
    char **ids = NULL;
    json_t *redacted = NULL; /* the sender's fields withheld from non-CRIP recipients */
    uint8_t *red_pb = NULL;  /* the payload without them */
    size_t red_len = 0;
    const char *rcpt[EGIDE_MAX_RECIPIENTS];
    size_t n = 0;
    egide_payload_facts_t facts;
    memset(&facts, 0, sizeof facts);

    if (!type || !egide_payload_type_known(type)) {
        /* The types this edge can send, so that a typo is fixed at once. */
        char known[2048];
        size_t o = 0;
        known[0] = '\0';
        for (size_t i = 0; i < egide_catalogue_type_count() && o + 72 < sizeof known; i++) {
            const egide_catalogue_type_t *t = egide_catalogue_type_at(i);
            if (t && egide_payload_type_known(t->name))
                o += (size_t)snprintf(known + o, sizeof known - o, "%s%s", o ? ", " : "", t->name);
        }
        egide_http_error(resp, 400, EGIDE_ERR_VALIDATION, "type: %s; one of: %s",
                         type ? "unknown message type" : "required", known);
        goto done;
    }
    /* A catalogue type carries its own structured payload and nothing else:
     * opaque bytes or another content type are refused here, with the
     * content type expected, rather than REJECTED by the recipient. */
    const char *want_ct = egide_payload_content_type(type);
    const char *req_ct = json_string_value(json_object_get(root, "content_type"));
    if (json_object_get(root, "payload_b64") || json_object_get(root, "content_type")) {
        if (json_object_get(root, "content_type") && !req_ct) {
            egide_http_error(resp, 400, EGIDE_ERR_VALIDATION, "content_type: not a string");
            goto done;
        }
        if (json_object_get(root, "payload_b64") || (want_ct && strcmp(req_ct, want_ct) != 0)) {
            egide_http_error(resp, 422, EGIDE_ERR_VALIDATION,
                             "content_type: type %s carries %s (a structured payload, sent as "
                             "\"payload\"), not %s",
                             type, want_ct ? want_ct : "a structured payload",
                             req_ct ? "opaque bytes of another type" : "opaque bytes");
            goto done;
        }
    }
    if (!json_is_object(payload)) {
        egide_http_error(resp, 400, EGIDE_ERR_VALIDATION, "payload: required (a JSON object)");
        goto done;
    }
    /* A commune as a JSON number loses its leading zero and cannot be 2A004:
     * named, never ignored (issue 11 item 3). */
    if (jcommune && !commune) {
        egide_http_error(resp, 400, EGIDE_ERR_VALIDATION,
                         "commune: commune must be a string INSEE code such as \"71137\"");
        goto done;
    }
    /* The directory's syntax, and as the payload checks it: no INSEE code
     * starts with 00, nor with 20 since Corsica became 2A/2B. */
    if (commune &&
        (!egide_directory_commune_valid(commune) || (commune[0] == '0' && commune[1] == '0') ||
         (commune[0] == '2' && commune[1] == '0'))) {
        char q[EGIDE_PAYLOAD_QUOTE_SIZE];
        egide_payload_quote(commune, strlen(commune), q, sizeof q);
        egide_http_error(resp, 400, EGIDE_ERR_VALIDATION,
                         "commune: %s is not an INSEE commune code (5 characters: 2 digits, 2A "
                         "or 2B, then 3 digits, e.g. \"71137\")",
                         q);
        goto done;
    }
    if (!s_override_parse(root, &ovr_reason, resp))
        goto done;
    if (ovr_reason) {
        if (!s_type_has_override(type)) {
            egide_http_error(resp, 400, EGIDE_ERR_VALIDATION,
                             "routing_override: type %s is not routed by the children's commune "
                             "and carries no override",
                             type);
            goto done;
        }
        if (json_object_get(payload, "routing_override")) {
            egide_http_error(resp, 400, EGIDE_ERR_VALIDATION,
                             "routing_override: given both in the request and in the payload");
            goto done;
        }
        /* Written into the payload, so it is signed and sealed with it and
         * every recipient sees it; the request's own JSON stays as it came
         * (the idempotency hash is of the request). */
        json_t *o = json_pack("{s:s, s:s*}", "reason", ovr_reason, "commune", commune);
        pcopy = json_copy(payload);
        if (!o || !pcopy || json_object_set_new(pcopy, "routing_override", o) != 0) {
            egide_http_error(resp, 500, EGIDE_ERR_NOMEM, "out of memory");
            goto done;
        }
        payload = pcopy;
    }
    /* A routing.misrouted answers the message it is about. */
    if (strcmp(type, EGIDE_TYPE_ROUTING_MISROUTED) == 0) {
        const char *rid = json_string_value(json_object_get(payload, "received_msg_id"));
        uint8_t rid_b[16];
        if (!irt) {
            egide_http_error(resp, 400, EGIDE_ERR_VALIDATION,
                             "in_reply_to: required for %s (the referral or assignment that is "
                             "not this territory's)",
                             type);
            goto done;
        }
        if (rid && s_parse_id(rid, rid_b) && s_parse_id(irt, irt_id) &&
            memcmp(rid_b, irt_id, 16) != 0) {
            egide_http_error(resp, 422, EGIDE_ERR_VALIDATION,
                             "payload.received_msg_id %.32s differs from in_reply_to %.32s", rid,
                             irt);
            goto done;
        }
    }
    if (urg && egide_wire_urgency_parse(urg, &urgency)) {
        egide_http_error(resp, 400, EGIDE_ERR_VALIDATION,
                         "urgency: not one of normal, urgent, immediate");
        goto done;
    }
    if (irt && !s_parse_id(irt, irt_id)) {
        egide_http_error(resp, 400, EGIDE_ERR_VALIDATION,
                         "in_reply_to: not a message id (32 hex digits)");
        goto done;
    }
    bool filled = false;
    egide_rc frc = s_fill_origin(e, type, irt ? irt_id : NULL, payload, &filled);
    if (frc) {
        s_store_error(resp, frc);
        goto done;
    }
    char *ptext = json_dumps(payload, JSON_COMPACT);
    egide_rc rc = ptext ? egide_payload_from_json(type, ptext, strlen(ptext), egide_now_ms(), &pb,
                                                  &pb_len, &facts, &errors)
                        : EGIDE_ERR_NOMEM;
    free(ptext);
    if (rc) {
        json_t *details = json_array();
        if (errors) {
            char *save = NULL;
            for (char *line = strtok_r(errors, "\n", &save); line;
                 line = strtok_r(NULL, "\n", &save))
                json_array_append_new(details, json_string(line));
        }
        egide_http_error_details(resp, 422, rc, details, "payload invalid for %s", type);
        goto done;
    }
    if (!urg && facts.urgency > 0)
        urgency = facts.urgency; /* the payload's own urgency when the request says none */
    if (to && commune) {
        egide_http_error(resp, 400, EGIDE_ERR_INVALID,
                         "give either \"to\" or \"commune\", not both");
        goto done;
    }
    if (to) {
        if (!json_is_array(to) || json_array_size(to) == 0 ||
            json_array_size(to) > EGIDE_MAX_RECIPIENTS) {
            egide_http_error(resp, 400, EGIDE_ERR_VALIDATION, "to: a list of 1 to %u node ids",
                             EGIDE_MAX_RECIPIENTS);
            goto done;
        }
        for (size_t i = 0; i < json_array_size(to); i++) {
            rcpt[n] = json_string_value(json_array_get(to, i));
            if (!rcpt[n]) {
                egide_http_error(resp, 400, EGIDE_ERR_VALIDATION, "to[%zu]: not a string", i);
                goto done;
            }
            n++;
        }
        /* Explicit recipients get the same routing checks (issue 11 item
         * 3): a payload that names a territory is addressed to it, and that
         * territory is the directory's for the children's commune. */
        if (facts.territory[0] && !facts.routing_override) {
            bool addressed = false;
            for (size_t i = 0; i < n; i++)
                addressed = addressed || strcmp(rcpt[i], facts.territory) == 0;
            if (!addressed) {
                egide_http_error(resp, 422, EGIDE_ERR_ROUTE,
                                 "routing mismatch: the payload's territory is %s but \"to\" does "
                                 "not address it; address it, or correct the payload's territory",
                                 facts.territory);
                goto done;
            }
            if (facts.commune[0] && !s_routing_consistent(e, NULL, facts.commune, &facts, resp))
                goto done;
        }
        if (facts.routing_override) {
            json_t *po = json_object_get(payload, "routing_override");
            record = s_override_record(json_string_value(json_object_get(po, "reason")),
                                       facts.commune[0] ? facts.commune : NULL, &facts, rcpt, n);
            if (!record) {
                egide_http_error(resp, 500, EGIDE_ERR_NOMEM, "out of memory");
                goto done;
            }
        }
    } else {
        const char *c = commune ? commune : (facts.commune[0] ? facts.commune : NULL);
        if (!c) {
            egide_http_error(
                resp, 400, EGIDE_ERR_VALIDATION,
                "recipients: give \"to\", or \"commune\" (or a child's commune in the payload)");
            goto done;
        }
        if (!s_routing_consistent(e, commune, c, &facts, resp))
            goto done;
        pthread_mutex_lock(&e->dir_lock);
        rc = e->dir ? egide_directory_resolve(e->dir, e->role, type, c, &ids) : EGIDE_ERR_STATE;
        pthread_mutex_unlock(&e->dir_lock);
        if (rc) {
            egide_http_error(
                resp, rc == EGIDE_ERR_STATE ? 503 : 422, rc, "commune %s, type %s: %s", c, type,
                rc == EGIDE_ERR_ROUTE   ? "no route in the directory (another department?)"
                : rc == EGIDE_ERR_RULE  ? "this node's role may not send this type there"
                : rc == EGIDE_ERR_STATE ? "no directory yet (broker not reached)"
                                        : egide_strerror(rc));
            goto done;
        }
        for (size_t i = 0; ids[i] && n < EGIDE_MAX_RECIPIENTS; i++)
            rcpt[n++] = ids[i];
        if (facts.routing_override) {
            json_t *po = json_object_get(payload, "routing_override");
            record = s_override_record(json_string_value(json_object_get(po, "reason")), c, &facts,
                                       rcpt, n);
            if (!record) {
                egide_http_error(resp, 500, EGIDE_ERR_NOMEM, "out of memory");
                goto done;
            }
        }
    }
    /* Check against the access rules here too: a refusal now is clearer
     * than a REJECTED receipt later. */
    int reason = 0;
    if ((rc = s_check_send(e, type, rcpt, n, &reason)) != EGIDE_OK) {
        /* The code names the reason (forbidden-type, ...), the detail says
         * it in words: never the wire's REASON_ names. */
        int st = rc == EGIDE_ERR_STATE ? 503 : 422;
        const char *why = egide_problem_reason_text(reason);
        egide_http_problem(resp, st, egide_problem_pick(st, rc, reason), NULL,
                           "recipients refused: %s",
                           rc == EGIDE_ERR_STATE ? "no directory yet"
                           : why                 ? why
                                                 : egide_strerror(rc));
        goto done;
    }
    /* A confidential sender's identity reaches the CRIP only: the other
     * recipients get a message of their own without it (edge_confidential.c). */
    const char *full[EGIDE_MAX_RECIPIENTS], *others[EGIDE_MAX_RECIPIENTS];
    size_t n_full = n, n_others = 0;
    memcpy(full, rcpt, n * sizeof *rcpt);
    if (facts.confidential_sender) {
        n_others = edge_conf_split(e, rcpt, n, full, &n_full, others);
        if (n_others) {
            json_t *red = edge_conf_redact(payload, &redacted);
            char *rtext = red ? json_dumps(red, JSON_COMPACT) : NULL;
            json_decref(red);
            egide_payload_facts_t rfx;
            rc = rtext ? egide_payload_from_json(type, rtext, strlen(rtext), egide_now_ms(),
                                                 &red_pb, &red_len, &rfx, NULL)
                       : EGIDE_ERR_NOMEM;
            if (rtext) {
                egide_wipe(rtext, strlen(rtext));
                free(rtext);
            }
            if (rc) {
                egide_http_error(resp, 500, rc, "withholding the sender's identity failed: %s",
                                 egide_strerror(rc));
                goto done;
            }
        }
    }
    uint8_t msg_id[16], red_id[16] = {0};
    char *rec_text = record ? json_dumps(record, JSON_COMPACT) : NULL;
    if (record && !rec_text) {
        egide_http_error(resp, 500, EGIDE_ERR_NOMEM, "out of memory");
        goto done;
    }
    s_submit_job_t sj = {.who = who,
                         .type = type,
                         .full = full,
                         .others = others,
                         .n_full = n_full,
                         .n_others = n_others,
                         .urgency = urgency,
                         .irt = irt ? irt_id : NULL,
                         .pb = pb,
                         .red_pb = red_pb,
                         .pb_len = pb_len,
                         .red_len = red_len,
                         .facts = &facts,
                         .rec_text = rec_text,
                         .idem = idem,
                         .req_sha = req_sha};
    edge_api_job_t job = {.fn = s_submit_job, .arg = &sj};
    rc = edge_api_batch_run(e, &job);
    memcpy(msg_id, sj.msg_id, 16);
    memcpy(red_id, sj.red_id, 16);
    free(rec_text);
    if (rc == EGIDE_ERR_EXISTS && idem[0]) {
        /* Taken meanwhile (nothing was queued): answer as a retry would be;
         * when the key is still not held, the EXISTS was the message's own
         * id or sequence: nothing was queued, the client retries. */
        if (s_idempotency(e, req, root, idem, req_sha, resp))
            egide_http_error(resp, 503, rc, "not queued (a sequence number collided): retry");
        goto done;
    }
    if (rc == EGIDE_ERR_EXISTS) {
        egide_http_error(resp, 503, rc, "not queued (a sequence number collided): retry");
        goto done;
    }
    if (s_store_transient(rc)) {
        s_store_error(resp, rc);
        goto done;
    }
    if (rc) {
        egide_http_error(resp, rc == EGIDE_ERR_NOTFOUND ? 422 : 500, rc, "sealing failed: %s",
                         rc == EGIDE_ERR_NOTFOUND ? "a recipient is not in the directory"
                                                  : egide_strerror(rc));
        goto done;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < (n_full ? n_full : n_others); i++)
        json_array_append_new(arr, json_string(n_full ? full[i] : others[i]));
    json_t *ans = json_pack("{s:o, s:s, s:s, s:o}", "id", s_hex_json(msg_id, 16), "state", "queued",
                            "type", type, "recipients", arr);
    if (ans && filled)
        json_object_set_new(ans, "filled", json_pack("[s]", "ip_received_at"));
    if (ans && record)
        json_object_set(ans, "routing_override", record);
    if (ans && n_others) {
        /* The confidential sender's identity went to the CRIP only. */
        json_t *to_o = json_array();
        for (size_t i = 0; to_o && i < n_others; i++)
            json_array_append_new(to_o, json_string(others[i]));
        json_t *cp = json_pack("{s:o, s:o, s:O}", "id", s_hex_json(red_id, 16), "recipients",
                               to_o ? to_o : json_array(), "withheld", redacted);
        if (n_full && cp)
            json_object_set_new(ans, "copies", json_pack("[o]", cp));
        else if (cp) {
            json_object_set_new(ans, "withheld", json_incref(redacted));
            json_decref(cp);
        }
    }
    egide_http_json(resp, 202, ans);
done:
    json_decref(record);
    json_decref(pcopy);
    free(errors);
    egide_free_secret(pb, pb_len);
    egide_free_secret(red_pb, red_len);
    json_decref(redacted);
    egide_directory_ids_free(&ids);
    json_decref(root);
}

/* ------------------------------------------------------------ listing */

static json_t *s_outbox_recipients(const edge_rcpt_row_t *r, size_t n, bool accepted,
                                   int64_t accepted_ms)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_pack("{s:s, s:s}", "node", r[i].node_id, "state",
                              edge_rcpt_state_name(r[i].state));
        if (r[i].has_done)
            json_object_set_new(o,
                                r[i].state == EDGE_RCPT_DELIVERED ||
                                        r[i].state == EDGE_RCPT_ACKNOWLEDGED
                                    ? "delivered_ms"
                                    : "done_ms",
                                json_integer(r[i].done_ms));
        if (r[i].has_acknowledged)
            json_object_set_new(o, "acknowledged_ms", json_integer(r[i].acknowledged_ms));
        if (r[i].reason)
            json_object_set_new(o, "reason", json_string(egide_wire_reason_name(r[i].reason)));
        if (accepted)
            json_object_set_new(o, "accepted_ms", json_integer(accepted_ms));
        json_array_append_new(arr, o);
    }
    return arr;
}

/* NULL on a store error (the caller answers 500). */
static json_t *s_outbox_json(edge_store_t *st, const edge_outbox_row_t *m, const char *node_id)
{
    edge_rcpt_row_t r[EGIDE_MAX_RECIPIENTS];
    size_t n = 0;
    egide_rc rc = edge_store_rcpt_list(st, m->msg_id, r, EGIDE_MAX_RECIPIENTS, &n, NULL);
    if (rc && rc != EGIDE_ERR_NOTFOUND)
        return NULL;
    /* The overall state is never better than the worst recipient's
     * (edge_overall_state): a refusal by one shows on the message. */
    json_t *o = json_pack("{s:o, s:s, s:s, s:s, s:s, s:I, s:s}", "id", s_hex_json(m->msg_id, 16),
                          "box", "outbox", "type", m->type, "sender", node_id, "urgency",
                          egide_wire_urgency_name(m->urgency), "created_ms",
                          (json_int_t)m->created_ms, "state", edge_overall_state(m->state, r, n));
    if (m->has_accepted) {
        json_object_set_new(o, "accepted_ms", json_integer(m->accepted_ms));
        json_object_set_new(o, "audit_leaf_index", json_integer(m->leaf_index));
    }
    if (m->reason)
        json_object_set_new(o, "reason", json_string(egide_wire_reason_name(m->reason)));
    if (m->has_in_reply_to)
        json_object_set_new(o, "in_reply_to", s_hex_json(m->in_reply_to, 16));
    json_object_set_new(o, "recipients",
                        s_outbox_recipients(r, n, m->has_accepted, m->accepted_ms));
    return o;
}

static json_t *s_inbox_json(const edge_inbox_row_t *m)
{
    json_t *o = json_pack(
        "{s:o, s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "id", s_hex_json(m->msg_id, 16), "box", "inbox",
        "type", m->type, "sender", m->sender_id, "urgency", egide_wire_urgency_name(m->urgency),
        "created_ms", (json_int_t)m->created_ms, "received_ms", (json_int_t)m->received_ms, "state",
        m->state == EDGE_IN_ACKNOWLEDGED ? "acknowledged" : "delivered");
    if (m->has_acknowledged)
        json_object_set_new(o, "acknowledged_ms", json_integer(m->acknowledged_ms));
    if (m->has_in_reply_to)
        json_object_set_new(o, "in_reply_to", s_hex_json(m->in_reply_to, 16));
    return o;
}

/* A store failure is transient (a full disk, a locked or failing
 * database), and so is a key holder that is restarting: 503, so that
 * clients retry; nothing was signed, accepted or lost. */
static bool s_store_transient(egide_rc rc)
{
    return rc == EGIDE_ERR_IO || rc == EGIDE_ERR_DB || rc == EGIDE_ERR_FULL ||
           rc == EGIDE_ERR_NOMEM || rc == EGIDE_ERR_TIMEOUT || rc == EGIDE_ERR_UNAVAILABLE;
}

static void s_store_error(egide_http_resp_t *resp, egide_rc rc)
{
    edge_api_store_error(resp, rc);
}

void edge_api_store_error(egide_http_resp_t *resp, egide_rc rc)
{
    if (rc == EGIDE_ERR_UNAVAILABLE)
        egide_http_error(resp, 503, rc, "key holder unavailable (restarting): retry");
    else
        egide_http_error(resp, 503, rc, "store unavailable (%s); nothing was changed, retry",
                         egide_strerror(rc));
}

egide_rc edge_api_reader(edge_t *e, const egide_http_req_t *req, edge_store_t **st)
{
    (void)req;
    unsigned w = egide_http_worker();
    if (e->api_readers && w < e->n_api_readers && e->api_readers[w]) {
        *st = e->api_readers[w];
        return edge_store_read_begin(*st);
    }
    pthread_mutex_lock(&e->api_lock);
    *st = e->api_store;
    return EGIDE_OK;
}

void edge_api_reader_end(edge_t *e, edge_store_t *st)
{
    if (st == e->api_store)
        pthread_mutex_unlock(&e->api_lock);
    else
        edge_store_read_end(st);
}

/* Page cursors of GET /v1/messages, opaque to clients: "o<seq>" for the
 * outbox, "i<received_ms>.<msg id hex>" for the inbox.  Parsed strictly:
 * anything else is a 400, never a page from the top. */
static void s_msg_cursor_format(bool out, const edge_page_t *pg, char *buf, size_t size)
{
    if (out) {
        snprintf(buf, size, "o%lld", (long long)pg->next_key);
    } else {
        char hex[33];
        egide_hex_encode(pg->next_id, 16, hex);
        snprintf(buf, size, "i%lld.%s", (long long)pg->next_key, hex);
    }
}

static bool s_msg_cursor_parse(bool out, const char *c, edge_page_q_t *q)
{
    if (c[0] != (out ? 'o' : 'i'))
        return false;
    char num[24];
    const char *dot = out ? NULL : strchr(c, '.');
    size_t nl = out ? strlen(c + 1) : dot ? (size_t)(dot - c - 1) : 0;
    if (nl == 0 || nl >= sizeof num)
        return false;
    memcpy(num, c + 1, nl);
    num[nl] = '\0';
    if (egide_parse_int64(num, 0, INT64_MAX, &q->after_key) != EGIDE_OK)
        return false;
    if (!out && !s_parse_id(dot + 1, q->after_id))
        return false;
    q->has_after = true;
    return true;
}

static void s_list(edge_t *e, const egide_http_req_t *req, egide_http_resp_t *resp)
{
    char box[16], state[32], limit_s[16], after[64];
    static const struct {
        const char *name;
        const char *def;
        size_t size;
    } q[] = {{"box", "inbox", 16}, {"state", "", 32}, {"limit", "100", 16}, {"after", "", 64}};
    char *bufs[] = {box, state, limit_s, after};
    for (size_t i = 0; i < 4; i++) {
        egide_rc rc = egide_http_query_get(req->query, q[i].name, bufs[i], q[i].size);
        if (rc == EGIDE_ERR_NOTFOUND) {
            egide_strlcpy(bufs[i], q[i].def, q[i].size);
        } else if (rc) {
            egide_http_error(resp, 400, rc, "%s: not a valid value", q[i].name);
            return;
        }
    }
    int64_t limit;
    if (egide_parse_int64(limit_s, 1, EDGE_STORE_LIST_MAX, &limit)) {
        egide_http_error(resp, 400, EGIDE_ERR_INVALID, "limit: a number from 1 to %d",
                         EDGE_STORE_LIST_MAX);
        return;
    }
    bool out = strcmp(box, "outbox") == 0;
    if (!out && strcmp(box, "inbox") != 0) {
        egide_http_error(resp, 400, EGIDE_ERR_INVALID, "box: inbox or outbox");
        return;
    }
    edge_in_state is;
    if (state[0] &&
        (out ? !edge_overall_state_known(state) : edge_in_state_parse(state, &is) != EGIDE_OK)) {
        char quoted[EGIDE_PAYLOAD_QUOTE_SIZE];
        egide_payload_quote(state, strlen(state), quoted, sizeof quoted);
        egide_http_error(resp, 400, EGIDE_ERR_INVALID, "state: unknown state %s for the %s", quoted,
                         box);
        return;
    }
    edge_page_q_t pq = {.state = state[0] ? state : NULL, .limit = (size_t)limit};
    if (after[0] && !s_msg_cursor_parse(out, after, &pq)) {
        egide_http_error(resp, 400, EGIDE_ERR_INVALID,
                         "after: not a cursor of this list (give the \"next\" of the previous "
                         "page of the same box)");
        return;
    }
    json_t *arr = json_array();
    edge_page_t pg;
    size_t n = 0;
    edge_store_t *st = NULL;
    egide_rc rc = edge_api_reader(e, req, &st);
    if (!rc && out) {
        edge_outbox_row_t *rows = NULL;
        rc = edge_store_outbox_page(st, &pq, &rows, &n, &pg);
        for (size_t i = 0; !rc && i < n; i++) {
            json_t *o = s_outbox_json(st, &rows[i], e->node_id);
            if (!o)
                rc = EGIDE_ERR_DB;
            else
                json_array_append_new(arr, o);
        }
        free(rows);
    } else if (!rc) {
        edge_inbox_row_t *rows = NULL;
        rc = edge_store_inbox_page(st, &pq, &rows, &n, &pg);
        for (size_t i = 0; !rc && i < n; i++)
            json_array_append_new(arr, s_inbox_json(&rows[i]));
        free(rows);
    }
    edge_api_reader_end(e, st);
    if (rc) {
        json_decref(arr);
        s_store_error(resp, rc);
        return;
    }
    json_t *o = json_pack("{s:o}", "messages", arr);
    if (pg.more) {
        char cur[80];
        s_msg_cursor_format(out, &pg, cur, sizeof cur);
        json_object_set_new(o, "next", json_string(cur));
    }
    egide_http_json(resp, 200, o);
}

static json_t *s_receipts(edge_store_t *st, const uint8_t id[16])
{
    json_t *arr = json_array();
    edge_receipt_row_t *r = NULL;
    size_t n = 0;
    if (edge_store_receipt_list(st, id, &r, &n) != EGIDE_OK)
        return arr;
    for (size_t i = 0; i < n; i++) {
        json_t *o =
            json_pack("{s:s, s:s, s:I, s:b}", "kind", egide_wire_receipt_kind_name(r[i].kind),
                      "issuer", r[i].issuer, "time_ms", (json_int_t)r[i].time_ms, "verified", 1);
        if (r[i].recipient[0])
            json_object_set_new(o, "recipient", json_string(r[i].recipient));
        if (r[i].reason)
            json_object_set_new(o, "reason", json_string(egide_wire_reason_name(r[i].reason)));
        if (r[i].has_leaf)
            json_object_set_new(o, "audit_leaf_index", json_integer(r[i].leaf_index));
        json_array_append_new(arr, o);
    }
    free(r);
    return arr;
}

/* The payload as JSON for a known content type, else base64. */
static void s_payload_json(json_t *o, const edge_inbox_row_t *m)
{
    json_object_set_new(o, "content_type", json_string(m->content_type));
    const char *ptype = egide_payload_type_for_content_type(m->content_type);
    char *js = NULL;
    json_t *pj = NULL;
    if (ptype && egide_payload_to_json(ptype, m->payload, m->payload_len, &js) == EGIDE_OK)
        pj = json_loads(js, 0, NULL);
    if (pj) {
        json_object_set_new(o, "payload", pj);
    } else {
        char *b64 = egide_base64_encode(m->payload, m->payload_len);
        json_object_set_new(o, "payload_b64", json_string(b64 ? b64 : ""));
        free(b64);
    }
    if (js) {
        egide_wipe(js, strlen(js));
        free(js);
    }
}

/* content: the payload too (never for a person whose role may not read
 * content: an auditor's session gets the message without it). */
static void s_show(edge_t *e, const egide_http_req_t *req, const uint8_t id[16], bool content,
                   egide_http_resp_t *resp)
{
    json_t *o = NULL;
    edge_store_t *st = NULL;
    egide_rc rc = edge_api_reader(e, req, &st);
    edge_outbox_row_t om;
    if (!rc)
        rc = edge_store_outbox_get(st, id, &om);
    if (!rc && !(o = s_outbox_json(st, &om, e->node_id)))
        rc = EGIDE_ERR_DB;
    if (!rc)
        s_override_attach(st, id, o); /* what the sender overrode, and why */
    if (rc == EGIDE_ERR_NOTFOUND) {
        edge_inbox_row_t im;
        rc = edge_store_inbox_get(st, id, content, &im);
        if (!rc) {
            o = s_inbox_json(&im);
            if (im.case_id > 0) /* the pages open the case from the message */
                json_object_set_new(o, "case_id", json_integer(im.case_id));
            if (content)
                s_payload_json(o, &im);
            rc = edge_known_child_view(e, st, &im, o);
            edge_inbox_row_clear(&im);
        }
    }
    if (o)
        json_object_set_new(o, "receipts", s_receipts(st, id));
    edge_api_reader_end(e, st);
    if (rc && rc != EGIDE_ERR_NOTFOUND) {
        json_decref(o);
        s_store_error(resp, rc);
        return;
    }
    if (!o) {
        char hex[33];
        egide_hex_encode(id, 16, hex);
        egide_http_error(resp, 404, EGIDE_ERR_NOTFOUND, "no message %s", hex);
        return;
    }
    egide_http_json(resp, 200, o);
}

/* Seal the acknowledgement of message id for its sender and mark the
 * message acknowledged, in one transaction. */
static egide_rc s_send_ack(edge_t *e, const uint8_t id[16], const char *sender, const char *comment)
{
    char when[32];
    time_t t = (time_t)(egide_now_ms() / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *pj = json_pack("{s:s, s:s}", "acknowledged_at", when, "acknowledged_by", e->node_id);
    if (comment)
        json_object_set_new(pj, "comment", json_string(comment));
    char *ptext = json_dumps(pj, JSON_COMPACT);
    json_decref(pj);
    if (!ptext)
        return EGIDE_ERR_NOMEM;
    uint8_t *pb = NULL;
    size_t pb_len = 0;
    char *errors = NULL;
    egide_payload_facts_t facts;
    egide_rc rc = egide_payload_from_json("message.acknowledgement", ptext, strlen(ptext),
                                          egide_now_ms(), &pb, &pb_len, &facts, &errors);
    free(ptext);
    free(errors);
    const char *to[1] = {sender};
    uint8_t ack_id[16];
    /* The acknowledgement message and the inbox state change commit
     * together: a retry after a failure sends no second acknowledgement. */
    if (!rc)
        rc = edge_store_begin(e->api_store);
    if (!rc) {
        rc = edge_submit_in(e, e->api_store, "message.acknowledgement", to, 1,
                            EGIDE__V1__URGENCY__URGENCY_NORMAL, id, pb, pb_len, NULL, ack_id);
        if (!rc)
            rc = edge_store_inbox_acknowledge(e->api_store, id, egide_now_ms(), NULL);
        if (!rc)
            rc = edge_store_commit(e->api_store);
        if (rc)
            edge_store_rollback(e->api_store);
        else
            edge_outbox_queued(e);
    }
    free(pb);
    return rc;
}

static void s_ack(edge_t *e, const egide_http_req_t *req, const uint8_t id[16],
                  egide_http_resp_t *resp)
{
    char hex[33];
    egide_hex_encode(id, 16, hex);
    const char *comment = NULL;
    json_t *body = NULL;
    if (req->body_len) {
        body = json_loadb((const char *)req->body, req->body_len, 0, NULL);
        if (!json_is_object(body)) {
            json_decref(body);
            egide_http_error(resp, 400, EGIDE_ERR_PROTO, "body: a JSON object or nothing");
            return;
        }
        comment = json_string_value(json_object_get(body, "note"));
    }
    pthread_mutex_lock(&e->api_lock);
    edge_inbox_row_t m;
    egide_rc rc = edge_store_inbox_get(e->api_store, id, false, &m);
    if (!rc && m.state != EDGE_IN_ACKNOWLEDGED) {
        /* The acknowledgement is a message of its own, signed and receipted. */
        rc = s_send_ack(e, id, m.sender_id, comment);
    }
    pthread_mutex_unlock(&e->api_lock);
    json_decref(body);
    if (rc == EGIDE_ERR_NOTFOUND) {
        egide_http_error(resp, 404, EGIDE_ERR_NOTFOUND, "no received message %s", hex);
        return;
    }
    if (rc) {
        egide_http_error(resp, 500, rc, "acknowledgement failed");
        return;
    }
    egide_http_json(resp, 200, json_pack("{s:s, s:s}", "id", hex, "state", "acknowledged"));
}

/* ------------------------------------------------------------ obligations */

/* A page cursor as the API writes it: "<due_ms>.<id>", both decimal. */
static bool s_cursor_parse(const char *v, int64_t *due, int64_t *id)
{
    char a[24];
    const char *dot = strchr(v, '.');
    if (!dot || (size_t)(dot - v) >= sizeof a)
        return false;
    memcpy(a, v, (size_t)(dot - v));
    a[dot - v] = '\0';
    return egide_parse_int64(a, INT64_MIN + 1, INT64_MAX, due) == EGIDE_OK &&
           egide_parse_int64(dot + 1, 1, INT64_MAX, id) == EGIDE_OK;
}

/* One obligation as the API shows it; overdue is computed at now. */
static json_t *s_obligation_json(const edge_obligation_t *o, int64_t now)
{
    char start[33], closed[33];
    egide_hex_encode(o->start_msg, 16, start);
    bool overdue = o->state == EGIDE_DEADLINE_OPEN && o->due_ms < now;
    json_t *j = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:b, s:b}", "id",
                          (json_int_t)o->id, "name", o->name, "label", o->label, "source",
                          o->source, "actor", o->actor, "role", edge_oblig_role_name(o->role),
                          "start_msg", start, "start_type", o->start_type, "start_ms",
                          (json_int_t)o->start_ms, "due_ms", (json_int_t)o->due_ms, "state",
                          overdue ? "overdue" : egide_deadline_state_name(o->state), "overdue",
                          overdue, "practice", o->practice);
    if (!j)
        return NULL;
    if (o->case_id)
        json_object_set_new(j, "case_id", json_integer(o->case_id));
    if (o->year)
        json_object_set_new(j, "year", json_integer(o->year));
    if (o->occurrence > 0)
        json_object_set_new(j, "occurrence", json_integer(o->occurrence));
    if (o->declared_ms)
        json_object_set_new(j, "declared_ms", json_integer(o->declared_ms));
    if (o->closed_ms)
        json_object_set_new(j, "closed_ms", json_integer(o->closed_ms));
    if (o->has_closed_by) {
        egide_hex_encode(o->closed_by, 16, closed);
        json_object_set_new(j, "closed_by", json_string(closed));
    }
    return j;
}

/* GET /v1/deadlines?state=&role=&case=&due_after=&due_before=&limit=&after=
 * One page of the obligations held here, by due time: state open (default;
 * overdue ones included), overdue, met, late, released or any; role act,
 * oversee or any (default); "next" is the cursor of the next page (null on
 * the last), "total" how many the filter selects (at most
 * EDGE_OBLIG_COUNT_CAP: "total_exact" false past it). */
static void s_deadlines(edge_t *e, const egide_http_req_t *req, egide_http_resp_t *resp)
{
    enum { Q_STATE, Q_ROLE, Q_CASE, Q_AFTER_DUE, Q_BEFORE_DUE, Q_LIMIT, Q_CURSOR, Q__N };
    static const char *const names[Q__N] = {"state",      "role",  "case", "due_after",
                                            "due_before", "limit", "after"};
    char v[Q__N][48];
    for (int i = 0; i < Q__N; i++) {
        egide_rc rc = egide_http_query_get(req->query, names[i], v[i], sizeof v[i]);
        if (rc == EGIDE_ERR_NOTFOUND)
            v[i][0] = '\0';
        else if (rc) {
            egide_http_error(resp, 400, rc, "%s: not a valid value", names[i]);
            return;
        }
    }
    int64_t now = edge_now_ms(e);
    edge_oblig_filter_t f;
    memset(&f, 0, sizeof f);
    f.state = EDGE_OBLIG_Q_OPEN;
    f.role = -1;
    f.now_ms = now;
    int64_t limit = 100;
    edge_oblig_role role;
    const char *bad = NULL;
    if (v[Q_STATE][0] && edge_oblig_query_parse(v[Q_STATE], &f.state))
        bad = "state: open, overdue, met, late, released or any";
    else if (v[Q_ROLE][0] && strcmp(v[Q_ROLE], "any") != 0 &&
             edge_oblig_role_parse(v[Q_ROLE], &role))
        bad = "role: act, oversee or any";
    else if (v[Q_CASE][0] && egide_parse_int64(v[Q_CASE], 0, INT64_MAX, &f.case_id))
        bad = "case: a case id";
    else if (v[Q_AFTER_DUE][0] &&
             egide_parse_int64(v[Q_AFTER_DUE], INT64_MIN + 1, INT64_MAX, &f.due_after_ms))
        bad = "due_after: a time in ms";
    else if (v[Q_BEFORE_DUE][0] &&
             egide_parse_int64(v[Q_BEFORE_DUE], INT64_MIN + 1, INT64_MAX, &f.due_before_ms))
        bad = "due_before: a time in ms";
    else if (v[Q_LIMIT][0] && egide_parse_int64(v[Q_LIMIT], 1, EDGE_OBLIG_PAGE_MAX, &limit))
        bad = "limit: a number from 1 to 500";
    else if (v[Q_CURSOR][0] && !s_cursor_parse(v[Q_CURSOR], &f.cursor_due_ms, &f.cursor_id))
        bad = "after: the \"next\" cursor of the previous page";
    if (bad) {
        egide_http_error(resp, 400, EGIDE_ERR_INVALID, "%s", bad);
        return;
    }
    if (v[Q_ROLE][0] && strcmp(v[Q_ROLE], "any") != 0)
        f.role = (int)role;
    f.has_case = v[Q_CASE][0] != '\0';
    f.has_due_after = v[Q_AFTER_DUE][0] != '\0';
    f.has_due_before = v[Q_BEFORE_DUE][0] != '\0';
    f.has_cursor = v[Q_CURSOR][0] != '\0';
    f.limit = (size_t)limit;
    const egide_deadline_profile_t *profile = edge_profile(e);
    if (!profile) {
        egide_http_json(resp, 200,
                        json_pack("{s:[], s:n, s:i, s:s}", "obligations", "next", "total", 0,
                                  "note", "no deadline profile configured"));
        return;
    }
    edge_obligation_t *rows = NULL;
    size_t n = 0;
    edge_oblig_cursor_t next;
    int64_t total = 0;
    bool exact = false;
    edge_store_t *st = NULL;
    egide_rc rc = edge_api_reader(e, NULL, &st);
    if (!rc) {
        rc = edge_store_obligation_list(st, &f, &rows, &n, &next);
        if (!rc)
            rc = edge_store_obligation_count(st, &f, &total, &exact);
        edge_api_reader_end(e, st);
    }
    if (rc) {
        free(rows);
        egide_http_error(resp, 500, rc, "store: %s", egide_strerror(rc));
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        json_array_append_new(arr, s_obligation_json(&rows[i], now));
    free(rows);
    char cur[48];
    snprintf(cur, sizeof cur, "%lld.%lld", (long long)next.due_ms, (long long)next.id);
    /* A count by index stops past its cap: then the total is a lower bound. */
    egide_http_json(resp, 200,
                    json_pack("{s:o, s:o, s:I, s:b, s:s}", "obligations", arr, "next",
                              next.more ? json_string(cur) : json_null(), "total",
                              (json_int_t)(exact ? total : EDGE_OBLIG_COUNT_CAP), "total_exact",
                              exact, "profile", egide_deadline_profile_name(profile)));
}

/* ------------------------------------------------------------ health, metrics */

static void s_health(edge_t *e, const egide_http_req_t *req, egide_http_resp_t *resp)
{
    edge_store_counts_t c;
    edge_store_t *st = NULL;
    egide_rc rc = edge_api_reader(e, req, &st);
    if (!rc)
        rc = edge_store_counts(st, &c);
    uint8_t *alert = NULL;
    size_t alen = 0;
    /* Absent (NOTFOUND) is the normal case; a store error shows in counts. */
    if (!rc)
        edge_store_meta_get(st, "checkpoint_alert", &alert, &alen);
    edge_api_reader_end(e, st);
    if (rc) {
        free(alert);
        s_store_error(resp, rc);
        return;
    }
    /* The loop swaps the directory under dir_lock (edge_loop.c). */
    pthread_mutex_lock(&e->dir_lock);
    json_int_t dir_version = (json_int_t)(e->dir ? egide_directory_version(e->dir) : 0);
    /* For the IT page: the directory's and this node's certificates' expiry,
     * and the service's name (none of it is secret; health stays public). */
    json_int_t dir_not_after = (json_int_t)(e->dir ? egide_directory_not_after_ms(e->dir) : 0);
    const Egide__V1__NodeEntry *self = e->dir ? egide_directory_node(e->dir, e->node_id) : NULL;
    char node_name[128] = "";
    if (self && self->display_name)
        egide_strlcpy(node_name, self->display_name, sizeof node_name);
    char node_role[32];
    egide_strlcpy(node_role, e->role, sizeof node_role);
    const egide_peer_t *me = e->peers ? egide_peers_get(e->peers, e->node_id) : NULL;
    json_int_t cert_not_after = (json_int_t)(me ? me->not_after_ms : 0);
    char broker_ep[sizeof e->broker_endpoint];
    egide_strlcpy(broker_ep, e->broker_endpoint, sizeof broker_ep); /* the broker in use */
    pthread_mutex_unlock(&e->dir_lock);
    bool conn = atomic_load(&e->connected);
    edge_clock_t clk;
    edge_clock_get(e, &clk);
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "status",
                          alert ? "alert"
                          : conn && !clk.offset_ms && !atomic_load(&e->reseq_stalled) &&
                                  !atomic_load(&e->cert_refused)
                              ? "ok"
                              : "degraded",
                          "node", e->node_id, "broker",
                          conn                       ? "connected"
                          : atomic_load(&e->refused) ? "refused"
                                                     : "disconnected",
                          "directory_version", dir_version, "outbox_pending",
                          (json_int_t)c.outbox_queued, "inbox", (json_int_t)c.inbox);
    json_object_set_new(o, "broker_endpoint", json_string(broker_ep));
    /* A clock that disagrees with senders' signed times: referrals are
     * still accepted (edge_inbox.c), but legal clocks start from it. */
    json_t *cj = json_pack("{s:s, s:I}", "status", clk.offset_ms ? "skewed" : "ok", "offset_ms",
                           (json_int_t)clk.offset_ms);
    if (clk.offset_ms) {
        json_object_set_new(cj, "sender", json_string(clk.sender));
        json_object_set_new(cj, "seen_ms", json_integer(clk.seen_ms));
        json_object_set_new(cj, "note",
                            json_string("this node's clock is behind the sender's "
                                        "signed time: check time synchronisation"));
    }
    json_object_set_new(o, "clock", cj);
    json_object_set_new(o, "node_role", json_string(node_role));
    if (node_name[0])
        json_object_set_new(o, "node_name", json_string(node_name));
    if (dir_not_after > 0)
        json_object_set_new(o, "directory_not_after_ms", json_integer(dir_not_after));
    if (cert_not_after > 0)
        json_object_set_new(o, "certificate_not_after_ms", json_integer(cert_not_after));
    json_t *rq = json_object();
    for (int i = 0; rq && i < EDGE_RCPT_STATE__COUNT; i++)
        json_object_set_new(rq, edge_rcpt_state_name(i), json_integer(c.by_rcpt[i]));
    if (rq)
        json_object_set_new(o, "outbox_recipients", rq);
    /* A message refused as a replay past EDGE_RESEQ_MAX re-signings: kept
     * queued until a Welcome from the broker gives the counter. */
    if (atomic_load(&e->reseq_stalled))
        json_object_set_new(o, "sequence",
                            json_string("behind the broker's: a queued message waits for a "
                                        "Welcome before it is re-signed"));
    /* The broker refused this node's current signing certificate: queued
     * messages wait (edge_outbox.c s_recertify) until the directories agree. */
    if (atomic_load(&e->cert_refused))
        json_object_set_new(o, "certificate",
                            json_string("refused by the broker: queued messages wait; check this "
                                        "node's certificate and the directory's version"));
    if (alert)
        json_object_set_new(o, "audit_alert", json_stringn((const char *)alert, alen));
    free(alert);
    egide_http_json(resp, 200, o);
}

static void s_metrics(edge_t *e, egide_http_resp_t *resp)
{
    /* The bucket bounds of latency_bucket[] (ms: edge.h) in seconds. */
    static const char *const le[] = {"0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
                                     "1",    "2.5",   "5",    "10",  "60",   "+Inf"};
    edge_store_counts_t c;
    edge_store_t *st = NULL;
    egide_rc rc = edge_api_reader(e, NULL, &st);
    if (!rc) {
        rc = edge_store_counts(st, &c);
        edge_api_reader_end(e, st);
    }
    if (rc) {
        s_store_error(resp, rc);
        return;
    }
    const edge_metrics_t *m = &e->m;
    egide_buf_t out;
    egide_buf_init(&out, 1 << 20);
    egide_metrics_single(&out, "egide_edge_up", "gauge",
                         "Edge connected to its broker (1) or not (0).",
                         atomic_load(&e->connected) ? 1 : 0);
    static const char *const rs = "egide_edge_recipient_states";
    egide_metrics_family(&out, rs, "gauge", "Sent messages per recipient state.");
    for (int k = 0; k < EDGE_RCPT_STATE__COUNT; k++)
        egide_metrics_value(&out, rs, "state", edge_rcpt_state_name(k), (uint64_t)c.by_rcpt[k]);
    egide_metrics_single(&out, "egide_edge_outbox_pending", "gauge",
                         "Messages not yet accepted by the broker.", (uint64_t)c.outbox_queued);
    egide_metrics_single(&out, "egide_edge_inbox_messages", "gauge", "Messages received.",
                         (uint64_t)c.inbox);
    static const char *const mt = "egide_edge_messages_total";
    egide_metrics_family(&out, mt, "counter", "Message events.");
    egide_metrics_value(&out, mt, "event", "submitted", atomic_load(&m->submitted));
    egide_metrics_value(&out, mt, "event", "accepted", atomic_load(&m->accepted));
    egide_metrics_value(&out, mt, "event", "rejected_by_broker", atomic_load(&m->rejected));
    egide_metrics_value(&out, mt, "event", "delivered", atomic_load(&m->delivered_out));
    egide_metrics_value(&out, mt, "event", "rejected_by_recipient", atomic_load(&m->rejected_out));
    egide_metrics_value(&out, mt, "event", "received", atomic_load(&m->received));
    egide_metrics_value(&out, mt, "event", "refused_on_receipt",
                        atomic_load(&m->received_rejected));
    egide_metrics_value(&out, mt, "event", "sender_unknown_deferred",
                        atomic_load(&m->sender_unknown_deferred));
    egide_metrics_single(&out, "egide_edge_retries_total", "counter",
                         "Envelopes sent again to the broker.", atomic_load(&m->retries));
    static const char *const rj = "egide_edge_rejections_total";
    egide_metrics_family(&out, rj, "counter",
                         "Rejections by reason (by the broker, or by this node on receipt).");
    for (int r = 0; r < 32; r++) {
        uint64_t v = atomic_load(&m->rejected_by_reason[r]);
        if (v)
            egide_metrics_value(&out, rj, "reason", egide_wire_reason_name(r), v);
    }
    edge_oblig_counts_t oc;
    egide_rc orc = EGIDE_ERR_NOTFOUND;
    if (edge_profile(e) && !(orc = edge_api_reader(e, NULL, &st))) {
        orc = edge_store_obligation_counts(st, edge_now_ms(e), &oc);
        edge_api_reader_end(e, st);
    }
    if (orc == EGIDE_OK) {
        static const char *dn = "egide_edge_deadlines";
        egide_metrics_family(&out, dn, "gauge",
                             "Obligations held here by state (overdue = open and past due).");
        egide_metrics_value(&out, dn, "state", "open", (uint64_t)oc.open);
        egide_metrics_value(&out, dn, "state", "met", (uint64_t)oc.met);
        egide_metrics_value(&out, dn, "state", "overdue", (uint64_t)oc.overdue);
        egide_metrics_value(&out, dn, "state", "late", (uint64_t)oc.late);
        egide_metrics_value(&out, dn, "state", "released", (uint64_t)oc.released);
    }
    egide_metrics_single(&out, "egide_edge_resequence_stalls_total", "counter",
                         "Replay refusals past the re-signing bound: the message kept queued "
                         "until a Welcome gives the broker's sequence.",
                         atomic_load(&m->reseq_stalls));
    egide_metrics_single(&out, "egide_edge_sequence_resets_total", "counter",
                         "Sequence counters set back after a Welcome: they had gone further past "
                         "the broker's last number than it accepts.",
                         atomic_load(&m->seq_lowered));
    egide_metrics_single(&out, "egide_edge_certificate_refusals_total", "counter",
                         "Broker refusals of this node's current signing certificate"
                         " (messages kept queued).",
                         atomic_load(&m->cert_refusals));
    egide_metrics_single(&out, "egide_edge_resealed_total", "counter",
                         "Queued messages sealed again for a recipient key renewed while they"
                         " waited.",
                         atomic_load(&m->resealed));
    egide_metrics_single(&out, "egide_edge_api_batches_total", "counter",
                         "Transactions that committed (or not) the API's submissions together.",
                         atomic_load(&m->api_batches));
    egide_metrics_single(&out, "egide_edge_api_batch_submits_total", "counter",
                         "Submissions those transactions ran (over egide_edge_api_batches_total:"
                         " the mean batch).",
                         atomic_load(&m->api_batched));
    egide_metrics_single(&out, "egide_edge_audit_alerts_total", "counter",
                         "Broker checkpoints that failed the consistency check.",
                         atomic_load(&m->checkpoint_alerts));
    edge_clock_t clk;
    edge_clock_get(e, &clk);
    egide_metrics_single_ms(&out, "egide_edge_clock_offset_seconds", "gauge",
                            "Largest lead of a sender's signed time over this node's clock in "
                            "the last hour (0 = none beyond 30 s).",
                            clk.offset_ms);
    static const char *const ck = "egide_edge_clock_disagreements_total";
    egide_metrics_family(&out, ck, "counter",
                         "Envelopes accepted although this node's clock disagreed: created ahead "
                         "of it, or past expiry by it.");
    egide_metrics_value(&out, ck, "kind", "created_ahead", atomic_load(&m->clock_ahead));
    egide_metrics_value(&out, ck, "kind", "expired_by_own_clock", atomic_load(&m->clock_expired));
    static const char *const lat = "egide_edge_delivery_latency_seconds";
    egide_metrics_family(&out, lat, "histogram",
                         "Seconds from submission to the last recipient's receipt.");
    uint64_t cum = 0;
    for (int i = 0; i < 12; i++) {
        cum += atomic_load(&m->latency_bucket[i]);
        egide_metrics_value(&out, "egide_edge_delivery_latency_seconds_bucket", "le", le[i], cum);
    }
    egide_metrics_value_ms(&out, "egide_edge_delivery_latency_seconds_sum", NULL, NULL,
                           (int64_t)atomic_load(&m->latency_sum_ms));
    egide_metrics_value(&out, "egide_edge_delivery_latency_seconds_count", NULL, NULL,
                        atomic_load(&m->latency_count));
    int64_t now = egide_now_ms();
    pthread_mutex_lock(&e->dir_lock);
    int64_t dna = e->dir ? egide_directory_not_after_ms(e->dir) : 0;
    pthread_mutex_unlock(&e->dir_lock);
    if (dna)
        egide_metrics_single_ms(&out, "egide_edge_directory_expiry_seconds", "gauge",
                                "Seconds until the directory held expires (negative: expired).",
                                dna - now);
    egide_metrics_single_ms(&out, "egide_edge_certificate_expiry_seconds", "gauge",
                            "Seconds until this node's signing certificate expires (negative: "
                            "expired).",
                            e->sign_not_after_ms - now);
    egide_metrics_family(&out, "egide_build_info", "gauge", "The running build (always 1).");
    egide_metrics_value(&out, "egide_build_info", "version", EGIDE_VERSION_STRING, 1);
    egide_buf_append(&out, "", 1);
    egide_http_text(resp, 200, "text/plain; version=0.0.4", out.data ? (const char *)out.data : "");
    egide_buf_free(&out);
}

/* ------------------------------------------------------------ sessions */

static bool s_is_read(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

/* The CSRF token a state-changing request carries: the X-CSRF-Token
 * header, else the csrf_token field of a form body. */
static bool s_csrf_ok(const egide_http_req_t *req, const edge_principal_t *who)
{
    if (req->csrf)
        return edge_session_csrf_ok(who, req->csrf);
    char field[EDGE_CSRF_HEX + 2];
    if (req->content_type &&
        strncasecmp(req->content_type, "application/x-www-form-urlencoded", 33) == 0 &&
        egide_http_query_get((const char *)req->body, EDGE_CSRF_FIELD, field, sizeof field) ==
            EGIDE_OK)
        return edge_session_csrf_ok(who, field);
    return false;
}

/* Who sends req: *who is NULL for the bearer token (a machine, every
 * right) or a public path, else the session's person, whose CSRF token a
 * state-changing request must carry.  false when resp was answered (401:
 * no valid session; 403: CSRF token missing or wrong). */
static bool s_authenticate(edge_t *e, const egide_http_req_t *req, egide_http_resp_t *resp,
                           edge_principal_t *buf, const edge_principal_t **who)
{
    *who = NULL;
    const char *as = req->authenticated_as;
    if (!as || strcmp(as, "token") == 0 || strcmp(as, "none") == 0)
        return true;
    if (strcmp(as, "session") != 0 ||
        edge_session_check(e->api_store, &e->api_lock, &e->auth, req->session, edge_now_ms(e), true,
                           buf) != EGIDE_OK) {
        egide_http_error(resp, 401, EGIDE_ERR_AUTH, "session ended: log in again");
        return false;
    }
    if (!s_is_read(req->method) && !s_csrf_ok(req, buf)) {
        egide_http_error(resp, 403, EGIDE_ERR_AUTH, "CSRF token missing or wrong");
        return false;
    }
    *who = buf;
    return true;
}

/* Whether who may do perm (the token may do everything); 403 when not. */
static bool s_allowed(const edge_principal_t *who, edge_perm perm, egide_http_resp_t *resp)
{
    if (!who || edge_role_allows(who->role, perm))
        return true;
    egide_http_error(resp, 403, EGIDE_ERR_AUTH, "role %s may not do this",
                     edge_role_name(who->role));
    return false;
}

static json_t *s_who_json(const edge_principal_t *who)
{
    return json_pack("{s:s, s:s, s:s, s:I}", "user", who->user, "role", edge_role_name(who->role),
                     "csrf_token", who->csrf, "expires_ms", (json_int_t)who->expires_ms);
}

/* POST /v1/session: {"user", "password"} -> a session cookie, the CSRF
 * token and the role.  One answer (401) for an unknown name, a wrong
 * password and a disabled account; 429 while the name or the client's
 * address is locked; 400 for a malformed body; 415 unless JSON (a
 * cross-site form cannot send JSON, so no login CSRF). */
static void s_login(edge_t *e, const egide_http_req_t *req, egide_http_resp_t *resp)
{
    if (!req->content_type || strncasecmp(req->content_type, "application/json", 16) != 0) {
        egide_http_error(resp, 415, EGIDE_ERR_INVALID, "send {\"user\", \"password\"} as JSON");
        return;
    }
    json_t *root = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, NULL);
    json_t *u = json_object_get(root, "user"), *p = json_object_get(root, "password");
    if (!json_is_object(root) || json_object_size(root) != 2 || !json_is_string(u) ||
        !json_is_string(p)) {
        json_decref(root);
        egide_http_error(resp, 400, EGIDE_ERR_INVALID, "send {\"user\", \"password\"} as JSON");
        return;
    }
    char sid[EDGE_SESSION_HEX + 1];
    edge_principal_t who;
    size_t plen = json_string_length(p);
    egide_rc rc = edge_session_login(e->api_store, &e->api_lock, &e->auth, json_string_value(u),
                                     json_string_length(u), json_string_value(p), plen,
                                     req->client_addr, edge_now_ms(e), sid, &who);
    /* jansson's copy of the password: wiped before it is freed. */
    egide_wipe((char *)(uintptr_t)json_string_value(p), plen);
    json_decref(root);
    switch (rc) {
    case EGIDE_OK:
        resp->set_cookie = edge_session_cookie(sid, e->auth.absolute_ms / 1000, e->cookie_secure);
        egide_wipe(sid, sizeof sid);
        if (!resp->set_cookie) {
            egide_http_error(resp, 500, EGIDE_ERR_NOMEM, "out of memory");
            return;
        }
        egide_log(EGIDE_LOG_NOTICE, "web: session opened (role %s)", edge_role_name(who.role));
        egide_http_json(resp, 200, s_who_json(&who));
        return;
    case EGIDE_ERR_INVALID:
        egide_http_error(resp, 400, rc,
                         "user: 1 to %u of a-z 0-9 . _ -; password: 1 to %u bytes "
                         "of UTF-8 without control characters",
                         EDGE_USER_NAME_MAX, EDGE_PASSWORD_MAX);
        return;
    case EGIDE_ERR_AUTH:
        egide_http_error(resp, 401, rc, "identifiant ou mot de passe incorrect");
        return;
    case EGIDE_ERR_LIMIT:
        egide_http_error(resp, 429, rc, "trop d'essais : réessayez dans %lld minutes",
                         (long long)(e->auth.lock_ms / 60000));
        return;
    default:
        s_store_error(resp, rc);
        return;
    }
}

/* /v1/session: POST logs in; GET says who the session is; DELETE logs out
 * (with the CSRF token). */
static void s_session_route(edge_t *e, const egide_http_req_t *req, egide_http_resp_t *resp)
{
    if (strcmp(req->method, "POST") == 0) {
        s_login(e, req, resp);
        return;
    }
    bool get = strcmp(req->method, "GET") == 0, del = strcmp(req->method, "DELETE") == 0;
    if (!get && !del) {
        egide_http_method_not_allowed(resp, "GET, POST, DELETE");
        return;
    }
    edge_principal_t who;
    if (edge_session_check(e->api_store, &e->api_lock, &e->auth, req->session, edge_now_ms(e), get,
                           &who) != EGIDE_OK) {
        egide_http_error(resp, 401, EGIDE_ERR_AUTH, "no session");
        return;
    }
    if (get) {
        egide_http_json(resp, 200, s_who_json(&who));
        return;
    }
    if (!s_csrf_ok(req, &who)) {
        egide_http_error(resp, 403, EGIDE_ERR_AUTH, "CSRF token missing or wrong");
        return;
    }
    egide_rc rc = edge_session_logout(e->api_store, &e->api_lock, req->session);
    if (rc && rc != EGIDE_ERR_AUTH) {
        s_store_error(resp, rc);
        return;
    }
    resp->set_cookie = edge_session_cookie(NULL, 0, e->cookie_secure);
    egide_http_json(resp, 200, json_pack("{s:s}", "state", "logged_out"));
}

/* ------------------------------------------------------------ routing */

static void s_handler(const egide_http_req_t *req, egide_http_resp_t *resp, void *arg)
{
    edge_api_handle(arg, req, resp);
}

/* The session callback of egide_http (any libmicrohttpd thread): only
 * whether the session is alive; the handler checks it again for who. */
static bool s_session_alive(const char *session, void *arg)
{
    edge_t *e = arg;
    edge_principal_t who;
    return edge_session_check(e->api_store, &e->api_lock, &e->auth, session, edge_now_ms(e), false,
                              &who) == EGIDE_OK;
}

void edge_api_handle(edge_t *e, const egide_http_req_t *req, egide_http_resp_t *resp)
{
    const char *p = req->path;
    if (edge_web_handle(req, resp))
        return;
    if (strcmp(p, "/v1/session") == 0) {
        /* The trail notes logins, failed ones and logouts (edge_trail.h). */
        edge_principal_t leaving;
        bool had = edge_api_trail_session_before(e, req, &leaving);
        s_session_route(e, req, resp);
        edge_api_trail_session_after(e, req, had ? &leaving : NULL, resp);
        return;
    }
    edge_principal_t wbuf;
    const edge_principal_t *who = NULL;
    if (!s_authenticate(e, req, resp, &wbuf, &who))
        return;
    bool get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
    if (!s_allowed(who, EDGE_PERM_READ, resp))
        return;
    bool get_only = strcmp(p, "/v1/health") == 0 || strcmp(p, "/metrics") == 0 ||
                    strcmp(p, "/v1/deadlines") == 0 || strcmp(p, "/v1/export/olinpe") == 0;
    if (get_only && !get) {
        egide_http_method_not_allowed(resp, "GET");
    } else if (strcmp(p, "/v1/health") == 0) {
        s_health(e, req, resp);
    } else if (strcmp(p, "/metrics") == 0) {
        s_metrics(e, resp);
    } else if (strcmp(p, "/v1/deadlines") == 0) {
        s_deadlines(e, req, resp);
    } else if (strcmp(p, "/v1/export/olinpe") == 0) {
        /* The export's pages carry the referrals' payloads (the CLI keys them). */
        if (s_allowed(who, EDGE_PERM_CONTENT, resp)) {
            edge_export_olinpe(e, req, resp); /* edge_export.c */
            edge_api_trail_served(e, who, "export.olinpe", NULL, 0, resp);
        }
    } else if (strcmp(p, "/v1/trail") == 0 || strncmp(p, "/v1/trail/", 10) == 0) {
        edge_api_trail_handle(e, req, who, resp); /* edge_api_trail.c */
    } else if (strcmp(p, "/v1/messages") == 0) {
        if (post && s_allowed(who, EDGE_PERM_SEND, resp)) {
            s_post_message(e, req, who, resp); /* its trail entry in its transaction */
        } else if (post)
            return;
        else if (get)
            s_list(e, req, resp);
        else
            egide_http_method_not_allowed(resp, "GET, POST");
    } else if (strncmp(p, "/v1/messages/", 13) == 0) {
        const char *rest = p + 13;
        char idtxt[33];
        size_t n = strcspn(rest, "/");
        uint8_t id[16];
        if (n != 32 || (memcpy(idtxt, rest, 32), idtxt[32] = '\0', !s_parse_id(idtxt, id))) {
            egide_http_error(resp, 400, EGIDE_ERR_INVALID, "message id: 32 hexadecimal digits");
        } else if (rest[32] == '\0' && get) {
            /* A received message's payload is shown only once the trail
             * holds who opened it (edge_trail.h). */
            bool content = !who || edge_role_allows(who->role, EDGE_PERM_CONTENT), in = false;
            egide_rc trc = content ? edge_api_trail_in_inbox(e, id, &in) : EGIDE_OK;
            if (trc) {
                s_store_error(resp, trc);
            } else {
                s_show(e, req, id, content && in, resp);
                if (content && in)
                    edge_api_trail_served(e, who, "message.open", id, 0, resp);
            }
        } else if (rest[32] == '\0') {
            egide_http_method_not_allowed(resp, "GET");
        } else if (strcmp(rest + 32, "/ack") == 0 && post) {
            if (s_allowed(who, EDGE_PERM_ACK, resp)) {
                s_ack(e, req, id, resp);
                edge_api_trail_acted(e, who, "message.ack", id, resp, 200);
            }
        } else if (strcmp(rest + 32, "/ack") == 0) {
            egide_http_method_not_allowed(resp, "POST");
        } else {
            egide_http_error(resp, 404, EGIDE_ERR_NOTFOUND, "no route %s %s", req->method, p);
        }
    } else if ((strcmp(p, "/v1/search") == 0 || strcmp(p, "/v1/cases") == 0 ||
                strncmp(p, "/v1/cases/", 10) == 0 || strcmp(p, "/v1/queue") == 0 ||
                strcmp(p, "/v1/route") == 0) &&
               !s_allowed(who, EDGE_PERM_CONTENT, resp)) {
        /* A case's commune and reference, and a search by them, say who a
         * child is: only for roles that may read content (review F2). */
        return;
    } else if (edge_api_cases_handle(e, req, resp)) {
        edge_api_trail_cases(e, req, who, resp); /* a case's view: noted */
    } else if (!edge_api_queue_handle(e, req, resp)) {
        egide_http_error(resp, 404, EGIDE_ERR_NOTFOUND, "no route %s %s", req->method, p);
    }
}

/* ------------------------------------------------------------ for edge_api_cases.c */

json_t *edge_api_outbox_json(edge_store_t *st, const edge_outbox_row_t *m, const char *node_id)
{
    return s_outbox_json(st, m, node_id);
}

json_t *edge_api_inbox_json(const edge_inbox_row_t *m)
{
    return s_inbox_json(m);
}

json_t *edge_api_receipts_json(edge_store_t *st, const uint8_t id[16])
{
    return s_receipts(st, id);
}

json_t *edge_api_obligation_json(const edge_obligation_t *o, int64_t now_ms)
{
    return s_obligation_json(o, now_ms);
}

egide_rc edge_api_start(edge_t *e)
{
    const egide_config_t *cfg = e->cfg;
    char *tf = egide_config_path(cfg, "api", "token_file");
    egide_rc rc = egide_token_load(tf, &e->api_token);
    if (rc) {
        egide_log(EGIDE_LOG_ERROR, "API token %s: %s%s", tf, egide_strerror(rc),
                  rc == EGIDE_ERR_PERM ? " (chmod 600)" : "");
        free(tf);
        return rc;
    }
    free(tf);
    rc = edge_store_sqlite_ops.open(e->db_path, &e->api_store);
    if (rc)
        return rc;
    edge_store_sqlite_share_writes(e->api_store, &e->write_lock); /* with the loop's */
    /* Public: health (and metrics when configured), the login endpoint and
     * the pages (edge_web_paths), which hold no data. */
    edge_auth_policy_default(&e->auth);
    e->auth.idle_ms = egide_config_int(cfg, "web", "session_idle_minutes") * 60000LL;
    e->auth.absolute_ms = egide_config_int(cfg, "web", "session_max_hours") * 3600000LL;
    e->auth.max_user_failures = (unsigned)egide_config_int(cfg, "web", "lockout_failures");
    e->auth.max_source_failures = (unsigned)egide_config_int(cfg, "web", "lockout_source_failures");
    e->auth.fail_window_ms = e->auth.lock_ms =
        egide_config_int(cfg, "web", "lockout_minutes") * 60000LL;
    e->cookie_secure = egide_config_bool(cfg, "web", "cookie_secure");
    /* One read-only handle per HTTP worker (the pool and the express
     * worker), opened after the writer migrated the store. */
    unsigned threads = (unsigned)egide_config_int(cfg, "api", "threads");
    if (threads < 1)
        threads = 1;
    if (threads > EGIDE_HTTP_MAX_THREADS)
        threads = EGIDE_HTTP_MAX_THREADS;
    if (threads > 1) {
        e->api_readers = calloc(threads + 1, sizeof *e->api_readers);
        if (!e->api_readers)
            return EGIDE_ERR_NOMEM;
        e->n_api_readers = threads + 1;
        for (unsigned i = 0; i < e->n_api_readers; i++)
            if ((rc = edge_store_sqlite_ops.open_readonly(e->db_path, &e->api_readers[i])))
                return rc; /* edge_api_stop closes what was opened */
    }
    char **web = edge_web_public_paths();
    size_t nweb = 0;
    while (web && web[nweb])
        nweb++;
    const char **pub = calloc(nweb + 4, sizeof *pub);
    if (!web || !pub) {
        edge_web_paths_free(web);
        free(pub);
        return EGIDE_ERR_NOMEM;
    }
    size_t np = 0;
    pub[np++] = "/v1/health";
    if (egide_config_bool(cfg, "api", "metrics_public"))
        pub[np++] = "/metrics";
    pub[np++] = "/v1/session";
    for (size_t i = 0; i < nweb; i++)
        pub[np++] = web[i];
    pub[np] = NULL;
    static const char *const express[] = {"/v1/health", NULL};
    /* HTTPS when both are given (for use beyond loopback): the cookie is
     * then Secure whatever [web] cookie_secure says. */
    char *cert_path = egide_config_path(cfg, "api", "tls_cert");
    char *key_path = egide_config_path(cfg, "api", "tls_key");
    uint8_t *cert = NULL, *key = NULL;
    size_t cert_len = 0, key_len = 0;
    if ((cert_path != NULL) != (key_path != NULL)) {
        egide_log(EGIDE_LOG_ERROR, "[api] tls_cert and tls_key: give both, or neither");
        rc = EGIDE_ERR_INVALID;
    } else if (cert_path) {
        rc = egide_file_read(cert_path, 1 << 20, &cert, &cert_len);
        if (rc)
            egide_log(EGIDE_LOG_ERROR, "[api] tls_cert %s: %s", cert_path, egide_strerror(rc));
        if (!rc && (rc = egide_secret_read(key_path, 1 << 20, &key, &key_len)))
            egide_log(EGIDE_LOG_ERROR, "[api] tls_key %s: %s%s", key_path, egide_strerror(rc),
                      rc == EGIDE_ERR_PERM ? " (a regular file of this user, chmod 600)" : "");
        if (!rc)
            e->cookie_secure = true;
    }
    free(cert_path);
    free(key_path);
    if (rc) {
        free(cert);
        if (key)
            egide_free_secret(key, key_len);
        free(pub);
        edge_web_paths_free(web);
        return rc;
    }
    egide_http_config_t hc = {
        .bind_addr = egide_config_str(cfg, "api", "bind"),
        .port = (uint16_t)egide_config_int(cfg, "api", "port"),
        .token = e->api_token,
        .public_paths = (const char *const *)pub,
        .session_cookie = EDGE_SESSION_COOKIE,
        .session_fn = s_session_alive,
        .session_arg = e,
        .max_body = (size_t)egide_config_int(cfg, "api", "max_body_bytes"),
        .allow_non_loopback = egide_config_bool(cfg, "api", "allow_non_loopback"),
        .threads = threads,
        .express_paths = express,
        .tls_cert_pem = (const char *)cert,
        .tls_key_pem = (const char *)key,
    };
    rc = egide_http_start(&hc, s_handler, e, &e->http);
    free(cert);
    if (key)
        egide_free_secret(key, key_len);
    free(pub); /* egide_http keeps its own copy of the paths */
    edge_web_paths_free(web);
    if (!rc)
        egide_log(EGIDE_LOG_NOTICE, "REST API on %s://%s:%u (%u request%s at once)",
                  e->cookie_secure && cert_len ? "https" : "http", hc.bind_addr,
                  egide_http_port(e->http), threads, threads > 1 ? "s" : "");
    return rc;
}

void edge_api_stop(edge_t *e)
{
    egide_http_stop(&e->http); /* no handler runs after this */
    for (unsigned i = 0; i < e->n_api_readers; i++)
        edge_store_close(&e->api_readers[i]);
    free(e->api_readers);
    e->api_readers = NULL;
    e->n_api_readers = 0;
    edge_store_close(&e->api_store);
    egide_token_free(&e->api_token);
}
