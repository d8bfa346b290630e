/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_api.c - the edge's local REST API (loopback, bearer token, JSON):
 *   POST /v1/messages            validate, resolve, seal, queue
 *   GET  /v1/messages?box=&state=&limit=
 *   GET  /v1/messages/{id}       with its receipts (and the payload, inbox)
 *   POST /v1/messages/{id}/ack   acknowledge a received message
 *   GET  /v1/deadlines           open, overdue, met and late legal deadlines
 *   GET  /v1/health, GET /metrics
 * Runs in libmicrohttpd's thread, on its own SQLite connection, one request
 * at a time.  Payloads are validated before anything is signed; errors name
 * the field (never echo content into logs).
 */
#include "edge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "egide/base/egide_token.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/store/egide_db.h"
#include "egide/protocol/egide_envelope.h"
#include "egide/base/egide_log.h"
#include "egide/net/egide_metrics.h"
#include "egide/domain/egide_payload.h"
#include "egide/base/egide_util.h"
#include "egide/wire/egide_wire.h"

static const char *const s_out_states[] = {"queued", "accepted", "rejected", "expired"};
static const char *const s_rcpt_states[] = {"queued", "delivered", "rejected", "acknowledged",
                                            "expired"};

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

egide_rc edge_submit(edge_t *e, sqlite3 *db, const char *type, const char *const *to, size_t n_to,
                     int urgency, const uint8_t *in_reply_to, const uint8_t *pb, size_t pb_len,
                     const egide_payload_facts_t *facts, uint8_t msg_id[16])
{
    egide_seal_recipient_t rcpts[EGIDE_MAX_RECIPIENTS];
    if (n_to == 0 || n_to > EGIDE_MAX_RECIPIENTS)
        return EGIDE_ERR_LIMIT;
    egide_rc rc = egide_db_begin(db);
    if (rc)
        return rc;
    uint64_t seq = 0;
    uint8_t *env = NULL;
    size_t len = 0;
    pthread_mutex_lock(&e->dir_lock);
    for (size_t i = 0; i < n_to && !rc; i++) {
        const egide_peer_t *p = egide_peers_get(e->peers, to[i]);
        if (!p)
            rc = EGIDE_ERR_NOTFOUND;
        else if (p->status)
            rc = p->status;
        else
            rcpts[i] = (egide_seal_recipient_t){p->node->id, p->enc_pub, p->enc_fpr};
    }
    if (!rc)
        rc = edge_store_next_seq(db, &seq);
    if (!rc) {
        int64_t now = egide_now_ms();
        egide_seal_params_t sp = {
            .sender_id = e->node_id,
            .sign_key = e->sign_key,
            .sign_cert_fpr = e->sign_fpr,
            .recipients = rcpts,
            .n_recipients = n_to,
            .message_type = type,
            .urgency = urgency,
            .in_reply_to = in_reply_to,
            .sender_seq = seq,
            .created_ms = now,
            .expires_ms = now + e->ttl_ms,
            .content_type = egide_payload_content_type(type),
            .payload = pb,
            .payload_len = pb_len,
        };
        rc = egide_envelope_seal(&sp, &env, &len, msg_id);
    }
    pthread_mutex_unlock(&e->dir_lock);
    egide_envelope_t *parsed = NULL;
    if (!rc)
        rc = egide_envelope_parse(env, len, &parsed);
    if (!rc) {
        uint8_t sha[32];
        egide_envelope_hash(parsed, sha);
        rc = edge_store_outbox_add(db, egide_envelope_header(parsed), env, len, sha);
    }
    if (!rc && facts)
        edge_store_deadlines(e, db, type, msg_id,
                             facts->received_ms ? facts->received_ms : egide_now_ms(), facts);
    egide_envelope_destroy(&parsed);
    free(env);
    if (!rc)
        rc = egide_db_commit(db);
    if (rc) {
        egide_db_rollback(db);
        return rc;
    }
    atomic_fetch_add(&e->m.submitted, 1);
    ssize_t w = write(e->wake[1], "x", 1);
    (void)w;
    return EGIDE_OK;
}

static void s_post_message(edge_t *e, const egide_http_req_t *req, egide_http_resp_t *resp)
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
    static const char *const allowed[] = {"type",        "to",           "commune",
                                          "urgency",     "in_reply_to",  "payload",
                                          "payload_b64", "content_type", NULL};
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val)
    {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            ok = ok || strcmp(*a, key) == 0;
        if (!ok) {
            egide_http_error(resp, 400, EGIDE_ERR_PROTO, "unknown field \"%.64s\"", key);
            json_decref(root);
            return;
        }
    }
    const char *type = json_string_value(json_object_get(root, "type"));
    json_t *payload = json_object_get(root, "payload");
    json_t *to = json_object_get(root, "to");
    const char *commune = json_string_value(json_object_get(root, "commune"));
    const char *urg = json_string_value(json_object_get(root, "urgency"));
    const char *irt = json_string_value(json_object_get(root, "in_reply_to"));
    uint8_t irt_id[16];
    int urgency = EGIDE__V1__URGENCY__URGENCY_NORMAL;
    char *errors = NULL;
    uint8_t *pb = NULL;
    size_t pb_len = 0;
    char **ids = NULL;
    const char *rcpt[EGIDE_MAX_RECIPIENTS];
    size_t n = 0;
    egide_payload_facts_t facts;
    memset(&facts, 0, sizeof facts);

    if (!type || !egide_payload_type_known(type)) {
        egide_http_error(resp, 400, EGIDE_ERR_VALIDATION, "type: %s",
                         type ? "unknown message type" : "required");
        goto done;
    }
    if (json_object_get(root, "payload_b64")) {
        egide_http_error(
            resp, 400, EGIDE_ERR_VALIDATION,
            "payload_b64: type %s carries a structured payload; send it as \"payload\"", type);
        goto done;
    }
    if (!json_is_object(payload)) {
        egide_http_error(resp, 400, EGIDE_ERR_VALIDATION, "payload: required (a JSON object)");
        goto done;
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
    } else {
        const char *c = commune ? commune : (facts.commune[0] ? facts.commune : NULL);
        if (!c) {
            egide_http_error(
                resp, 400, EGIDE_ERR_VALIDATION,
                "recipients: give \"to\", or \"commune\" (or a child's commune in the payload)");
            goto done;
        }
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
    }
    /* Check against the access rules here too: a refusal now is clearer
     * than a REJECTED receipt later. */
    int reason = 0;
    pthread_mutex_lock(&e->dir_lock);
    rc = e->dir ? egide_directory_check_send(e->dir, e->node_id, type, rcpt, n, &reason)
                : EGIDE_ERR_STATE;
    pthread_mutex_unlock(&e->dir_lock);
    if (rc) {
        egide_http_error(resp, rc == EGIDE_ERR_STATE ? 503 : 422, rc, "recipients refused: %s",
                         rc == EGIDE_ERR_STATE ? "no directory yet"
                                               : egide_wire_reason_name(reason));
        goto done;
    }
    uint8_t msg_id[16];
    pthread_mutex_lock(&e->api_lock);
    rc = edge_submit(e, e->api_db, type, rcpt, n, urgency, irt ? irt_id : NULL, pb, pb_len, &facts,
                     msg_id);
    pthread_mutex_unlock(&e->api_lock);
    if (rc) {
        egide_http_error(resp, rc == EGIDE_ERR_NOTFOUND ? 422 : 500, rc, "sealing failed: %s",
                         rc == EGIDE_ERR_NOTFOUND ? "a recipient is not in the directory"
                                                  : egide_strerror(rc));
        goto done;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_string(rcpt[i]));
    egide_http_json(resp, 202,
                    json_pack("{s:o, s:s, s:s, s:o}", "id", s_hex_json(msg_id, 16), "state",
                              "queued", "type", type, "recipients", arr));
done:
    free(errors);
    egide_free_secret(pb, pb_len);
    egide_directory_ids_free(&ids);
    json_decref(root);
}

/* ------------------------------------------------------------ listing */

static json_t *s_outbox_recipients(sqlite3 *db, const void *msg_id)
{
    json_t *arr = json_array();
    sqlite3_stmt *st;
    if (egide_db_stmt(db,
                      "SELECT node_id, state, delivered_ms, acknowledged_ms, reason FROM"
                      " outbox_rcpt WHERE msg_id=? ORDER BY node_id",
                      &st))
        return arr;
    sqlite3_bind_blob(st, 1, msg_id, 16, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int s = sqlite3_column_int(st, 1);
        json_t *o = json_pack("{s:s, s:s}", "node", (const char *)sqlite3_column_text(st, 0),
                              "state", s >= 0 && s <= 4 ? s_rcpt_states[s] : "unknown");
        if (sqlite3_column_type(st, 2) != SQLITE_NULL)
            json_object_set_new(
                o, s == RCPT_DELIVERED || s == RCPT_ACKNOWLEDGED ? "delivered_ms" : "done_ms",
                json_integer(sqlite3_column_int64(st, 2)));
        if (sqlite3_column_type(st, 3) != SQLITE_NULL)
            json_object_set_new(o, "acknowledged_ms", json_integer(sqlite3_column_int64(st, 3)));
        if (sqlite3_column_int(st, 4))
            json_object_set_new(o, "reason",
                                json_string(egide_wire_reason_name(sqlite3_column_int(st, 4))));
        json_array_append_new(arr, o);
    }
    egide_db_done(st);
    return arr;
}

static json_t *s_outbox_row(sqlite3 *db, sqlite3_stmt *st, const char *node_id)
{
    /* columns: msg_id, type, urgency, created_ms, state, accepted_ms, reason, leaf_index,
     * in_reply_to */
    int s = sqlite3_column_int(st, 4);
    json_t *o =
        json_pack("{s:o, s:s, s:s, s:s, s:s, s:I, s:s}", "id",
                  s_hex_json(sqlite3_column_blob(st, 0), sqlite3_column_bytes(st, 0)), "box",
                  "outbox", "type", (const char *)sqlite3_column_text(st, 1), "sender", node_id,
                  "urgency", egide_wire_urgency_name(sqlite3_column_int(st, 2)), "created_ms",
                  (json_int_t)sqlite3_column_int64(st, 3), "state",
                  s >= 0 && s <= 3 ? s_out_states[s] : "unknown");
    if (sqlite3_column_type(st, 5) != SQLITE_NULL)
        json_object_set_new(o, "accepted_ms", json_integer(sqlite3_column_int64(st, 5)));
    if (sqlite3_column_int(st, 6))
        json_object_set_new(o, "reason",
                            json_string(egide_wire_reason_name(sqlite3_column_int(st, 6))));
    if (sqlite3_column_type(st, 7) != SQLITE_NULL)
        json_object_set_new(o, "audit_leaf_index", json_integer(sqlite3_column_int64(st, 7)));
    if (sqlite3_column_type(st, 8) != SQLITE_NULL)
        json_object_set_new(o, "in_reply_to", s_hex_json(sqlite3_column_blob(st, 8), 16));
    json_t *r = s_outbox_recipients(db, sqlite3_column_blob(st, 0));
    if (sqlite3_column_type(st, 5) != SQLITE_NULL) {
        size_t i;
        json_t *x;
        json_array_foreach(r, i, x)
        {
            json_object_set_new(x, "accepted_ms", json_integer(sqlite3_column_int64(st, 5)));
        }
    }
    /* The message's overall state: the least advanced recipient once accepted. */
    if (s == OUT_ACCEPTED) {
        int lo = 99;
        size_t i;
        json_t *x;
        json_array_foreach(r, i, x)
        {
            const char *rs = json_string_value(json_object_get(x, "state"));
            int v = strcmp(rs, "queued") == 0         ? 0
                    : strcmp(rs, "delivered") == 0    ? 1
                    : strcmp(rs, "acknowledged") == 0 ? 2
                                                      : 3;
            lo = v < lo ? v : lo;
        }
        if (lo == 1)
            json_object_set_new(o, "state", json_string("delivered"));
        else if (lo == 2)
            json_object_set_new(o, "state", json_string("acknowledged"));
    }
    json_object_set_new(o, "recipients", r);
    return o;
}

static json_t *s_inbox_row(sqlite3_stmt *st)
{
    /* columns: msg_id, type, urgency, created_ms, state, received_ms, sender_id, acknowledged_ms,
     * in_reply_to */
    int s = sqlite3_column_int(st, 4);
    json_t *o = json_pack("{s:o, s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "id",
                          s_hex_json(sqlite3_column_blob(st, 0), sqlite3_column_bytes(st, 0)),
                          "box", "inbox", "type", (const char *)sqlite3_column_text(st, 1),
                          "sender", (const char *)sqlite3_column_text(st, 6), "urgency",
                          egide_wire_urgency_name(sqlite3_column_int(st, 2)), "created_ms",
                          (json_int_t)sqlite3_column_int64(st, 3), "received_ms",
                          (json_int_t)sqlite3_column_int64(st, 5), "state",
                          s == IN_ACKNOWLEDGED ? "acknowledged" : "delivered");
    if (sqlite3_column_type(st, 7) != SQLITE_NULL)
        json_object_set_new(o, "acknowledged_ms", json_integer(sqlite3_column_int64(st, 7)));
    if (sqlite3_column_type(st, 8) != SQLITE_NULL)
        json_object_set_new(o, "in_reply_to", s_hex_json(sqlite3_column_blob(st, 8), 16));
    return o;
}

#define OUTBOX_COLS                                                                                \
    "msg_id, type, urgency, created_ms, state, accepted_ms, reason, leaf_index, in_reply_to"
#define INBOX_COLS                                                                                 \
    "msg_id, type, urgency, created_ms, state, received_ms, sender_id, acknowledged_ms, "          \
    "in_reply_to"

static void s_list(edge_t *e, const egide_http_req_t *req, egide_http_resp_t *resp)
{
    char box[16], state[16], limit_s[16];
    static const struct {
        const char *name;
        const char *def;
    } q[] = {{"box", "inbox"}, {"state", ""}, {"limit", "100"}};
    char *bufs[] = {box, state, limit_s};
    for (size_t i = 0; i < 3; i++) {
        egide_rc rc = egide_http_query_get(req->query, q[i].name, bufs[i], 16);
        if (rc == EGIDE_ERR_NOTFOUND) {
            egide_strlcpy(bufs[i], q[i].def, 16);
        } else if (rc) {
            egide_http_error(resp, 400, rc, "%s: not a valid value", q[i].name);
            return;
        }
    }
    int64_t limit;
    if (egide_parse_int64(limit_s, 1, 10000, &limit)) {
        egide_http_error(resp, 400, EGIDE_ERR_INVALID, "limit: a number from 1 to 10000");
        return;
    }
    bool out = strcmp(box, "outbox") == 0;
    if (!out && strcmp(box, "inbox") != 0) {
        egide_http_error(resp, 400, EGIDE_ERR_INVALID, "box: inbox or outbox");
        return;
    }
    int want = -1;
    if (state[0]) {
        const char *const *names =
            out ? s_out_states : (const char *const[]){"", "delivered", "", "acknowledged"};
        size_t nn = 4;
        for (size_t i = 0; i < nn; i++)
            if (names[i][0] && strcmp(names[i], state) == 0)
                want = (int)i;
        /* For the outbox, delivered/acknowledged are recipient states: filter after. */
        if (want < 0 &&
            !(out && (strcmp(state, "delivered") == 0 || strcmp(state, "acknowledged") == 0))) {
            egide_http_error(resp, 400, EGIDE_ERR_INVALID, "state: unknown state \"%s\" for the %s",
                             state, box);
            return;
        }
    }
    sqlite3_stmt *st;
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT %s FROM %s %s ORDER BY %s DESC LIMIT ?",
             out ? OUTBOX_COLS : INBOX_COLS, out ? "outbox" : "inbox",
             want >= 0 ? "WHERE state=?" : "", out ? "seq" : "received_ms");
    pthread_mutex_lock(&e->api_lock);
    if (egide_db_prepare(e->api_db, sql, &st)) {
        pthread_mutex_unlock(&e->api_lock);
        egide_http_error(resp, 500, EGIDE_ERR_DB, "query failed");
        return;
    }
    int k = 1;
    if (want >= 0)
        sqlite3_bind_int(st, k++, want);
    sqlite3_bind_int64(st, k, limit);
    json_t *arr = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *o = out ? s_outbox_row(e->api_db, st, e->node_id) : s_inbox_row(st);
        if (out && want < 0 && state[0] &&
            strcmp(json_string_value(json_object_get(o, "state")), state) != 0) {
            json_decref(o);
            continue;
        }
        json_array_append_new(arr, o);
    }
    egide_db_done(st);
    pthread_mutex_unlock(&e->api_lock);
    egide_http_json(resp, 200, json_pack("{s:o}", "messages", arr));
}

static json_t *s_receipts(sqlite3 *db, const uint8_t id[16])
{
    json_t *arr = json_array();
    sqlite3_stmt *st;
    if (egide_db_stmt(db,
                      "SELECT kind, issuer, recipient, time_ms, reason, leaf_index FROM"
                      " receipts WHERE msg_id=? ORDER BY time_ms",
                      &st))
        return arr;
    sqlite3_bind_blob(st, 1, id, 16, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *o = json_pack("{s:s, s:s, s:I, s:b}", "kind",
                              egide_wire_receipt_kind_name(sqlite3_column_int(st, 0)), "issuer",
                              (const char *)sqlite3_column_text(st, 1), "time_ms",
                              (json_int_t)sqlite3_column_int64(st, 3), "verified", 1);
        const char *rc = (const char *)sqlite3_column_text(st, 2);
        if (rc && rc[0])
            json_object_set_new(o, "recipient", json_string(rc));
        if (sqlite3_column_int(st, 4))
            json_object_set_new(o, "reason",
                                json_string(egide_wire_reason_name(sqlite3_column_int(st, 4))));
        if (sqlite3_column_type(st, 5) != SQLITE_NULL)
            json_object_set_new(o, "audit_leaf_index", json_integer(sqlite3_column_int64(st, 5)));
        json_array_append_new(arr, o);
    }
    egide_db_done(st);
    return arr;
}

static void s_show(edge_t *e, const uint8_t id[16], egide_http_resp_t *resp)
{
    sqlite3_stmt *st;
    json_t *o = NULL;
    pthread_mutex_lock(&e->api_lock);
    if (egide_db_stmt(e->api_db, "SELECT " OUTBOX_COLS " FROM outbox WHERE msg_id=?", &st) == 0) {
        sqlite3_bind_blob(st, 1, id, 16, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            o = s_outbox_row(e->api_db, st, e->node_id);
        egide_db_done(st);
    }
    if (!o && egide_db_stmt(e->api_db,
                            "SELECT " INBOX_COLS ", content_type, payload FROM inbox"
                            " WHERE msg_id=?",
                            &st) == 0) {
        sqlite3_bind_blob(st, 1, id, 16, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            o = s_inbox_row(st);
            const char *ct = (const char *)sqlite3_column_text(st, 9);
            json_object_set_new(o, "content_type", json_string(ct));
            const char *ptype = egide_payload_type_for_content_type(ct);
            char *js = NULL;
            json_t *pj = NULL;
            if (ptype &&
                egide_payload_to_json(ptype, sqlite3_column_blob(st, 10),
                                      (size_t)sqlite3_column_bytes(st, 10), &js) == EGIDE_OK)
                pj = json_loads(js, 0, NULL);
            if (pj) {
                json_object_set_new(o, "payload", pj);
            } else {
                char *b64 = egide_base64_encode(sqlite3_column_blob(st, 10),
                                                (size_t)sqlite3_column_bytes(st, 10));
                json_object_set_new(o, "payload_b64", json_string(b64 ? b64 : ""));
                free(b64);
            }
            if (js) {
                egide_wipe(js, strlen(js));
                free(js);
            }
        }
        egide_db_done(st);
    }
    if (o)
        json_object_set_new(o, "receipts", s_receipts(e->api_db, id));
    pthread_mutex_unlock(&e->api_lock);
    if (!o) {
        char hex[33];
        egide_hex_encode(id, 16, hex);
        egide_http_error(resp, 404, EGIDE_ERR_NOTFOUND, "no message %s", hex);
        return;
    }
    egide_http_json(resp, 200, o);
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
    sqlite3_stmt *st;
    char sender[EGIDE_MAX_NODE_ID + 1] = "";
    int state = -1;
    if (egide_db_stmt(e->api_db, "SELECT sender_id, state FROM inbox WHERE msg_id=?", &st) == 0) {
        sqlite3_bind_blob(st, 1, id, 16, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            egide_strlcpy(sender, (const char *)sqlite3_column_text(st, 0), sizeof sender);
            state = sqlite3_column_int(st, 1);
        }
        egide_db_done(st);
    }
    if (state < 0) {
        pthread_mutex_unlock(&e->api_lock);
        json_decref(body);
        egide_http_error(resp, 404, EGIDE_ERR_NOTFOUND, "no received message %s", hex);
        return;
    }
    egide_rc rc = EGIDE_OK;
    if (state != IN_ACKNOWLEDGED) {
        /* The acknowledgement is a message of its own, signed and receipted. */
        char when[32];
        time_t t = (time_t)(egide_now_ms() / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_t *pj =
            json_pack("{s:s, s:s}", "acknowledged_at", when, "acknowledged_by", e->node_id);
        if (comment)
            json_object_set_new(pj, "comment", json_string(comment));
        char *ptext = json_dumps(pj, JSON_COMPACT);
        json_decref(pj);
        uint8_t *pb = NULL;
        size_t pb_len = 0;
        char *errors = NULL;
        egide_payload_facts_t facts;
        rc = egide_payload_from_json("message.acknowledgement", ptext, strlen(ptext),
                                     egide_now_ms(), &pb, &pb_len, &facts, &errors);
        free(ptext);
        free(errors);
        const char *to[1] = {sender};
        uint8_t ack_id[16];
        if (!rc)
            rc = edge_submit(e, e->api_db, "message.acknowledgement", to, 1,
                             EGIDE__V1__URGENCY__URGENCY_NORMAL, id, pb, pb_len, NULL, ack_id);
        free(pb);
        if (!rc && egide_db_stmt(e->api_db,
                                 "UPDATE inbox SET state=3, acknowledged_ms=? WHERE"
                                 " msg_id=?",
                                 &st) == 0) {
            sqlite3_bind_int64(st, 1, egide_now_ms());
            sqlite3_bind_blob(st, 2, id, 16, SQLITE_STATIC);
            sqlite3_step(st);
            egide_db_done(st);
        }
    }
    pthread_mutex_unlock(&e->api_lock);
    json_decref(body);
    if (rc) {
        egide_http_error(resp, 500, rc, "acknowledgement failed");
        return;
    }
    egide_http_json(resp, 200, json_pack("{s:s, s:s}", "id", hex, "state", "acknowledged"));
}

/* ------------------------------------------------------------ deadlines */

/* Load every stored deadline and evaluate it against the messages of both
 * boxes at now.  *out is the caller's (free). */
static egide_rc s_deadlines_eval(edge_t *e, egide_deadline_t **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (!e->profile)
        return EGIDE_OK;
    pthread_mutex_lock(&e->api_lock);
    size_t nd = 0, cap = 64;
    egide_deadline_t *d = calloc(cap, sizeof *d);
    sqlite3_stmt *st;
    if (d && egide_db_stmt(e->api_db,
                           "SELECT msg_id, type, name, label, source, start_ms, due_ms,"
                           " practice FROM deadlines ORDER BY due_ms LIMIT 10000",
                           &st) == 0) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            if (nd == cap) {
                egide_deadline_t *n = realloc(d, cap * 2 * sizeof *d);
                if (!n)
                    break;
                d = n;
                cap *= 2;
            }
            egide_deadline_t *x = &d[nd++];
            memset(x, 0, sizeof *x);
            egide_strlcpy(x->msg_id, (const char *)sqlite3_column_text(st, 0), sizeof x->msg_id);
            egide_strlcpy(x->type, (const char *)sqlite3_column_text(st, 1), sizeof x->type);
            egide_strlcpy(x->name, (const char *)sqlite3_column_text(st, 2), sizeof x->name);
            egide_strlcpy(x->label, (const char *)sqlite3_column_text(st, 3), sizeof x->label);
            egide_strlcpy(x->source, (const char *)sqlite3_column_text(st, 4), sizeof x->source);
            x->start_ms = sqlite3_column_int64(st, 5);
            x->due_ms = sqlite3_column_int64(st, 6);
            x->practice = sqlite3_column_int(st, 7);
        }
        egide_db_done(st);
    }
    /* The later messages of both boxes, to see which deadlines were closed. */
    size_t nm = 0, mcap = 256;
    egide_deadline_msg_t *msgs = calloc(mcap, sizeof *msgs);
    char(*ids)[2][33] = calloc(mcap, sizeof *ids);
    if (msgs && ids &&
        egide_db_stmt(e->api_db,
                      "SELECT msg_id, in_reply_to, type, created_ms FROM outbox UNION ALL"
                      " SELECT msg_id, in_reply_to, type, received_ms FROM inbox LIMIT 20000",
                      &st) == 0) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            if (nm == mcap) {
                egide_deadline_msg_t *nmsg = realloc(msgs, mcap * 2 * sizeof *msgs);
                if (nmsg)
                    msgs = nmsg;
                char(*nids)[2][33] = nmsg ? realloc(ids, mcap * 2 * sizeof *ids) : NULL;
                if (!nids)
                    break;
                ids = nids;
                mcap *= 2;
            }
            egide_hex_encode(sqlite3_column_blob(st, 0), 16, ids[nm][0]);
            ids[nm][1][0] = '\0';
            if (sqlite3_column_bytes(st, 1) == 16)
                egide_hex_encode(sqlite3_column_blob(st, 1), 16, ids[nm][1]);
            msgs[nm].type = strdup((const char *)sqlite3_column_text(st, 2));
            msgs[nm].time_ms = sqlite3_column_int64(st, 3);
            nm++;
        }
        for (size_t i = 0; i < nm; i++) {
            msgs[i].msg_id = ids[i][0];
            msgs[i].in_reply_to = ids[i][1];
        }
        egide_db_done(st);
    }
    pthread_mutex_unlock(&e->api_lock);
    egide_rc rc = EGIDE_ERR_NOMEM;
    if (d && msgs)
        rc = egide_deadline_evaluate(e->profile, d, nd, msgs, nm, egide_now_ms());
    for (size_t i = 0; msgs && i < nm; i++)
        free((char *)msgs[i].type);
    free(msgs);
    free(ids);
    if (rc) {
        free(d);
        return rc;
    }
    *out = d;
    *n_out = nd;
    return EGIDE_OK;
}

static void s_deadlines(edge_t *e, const egide_http_req_t *req, egide_http_resp_t *resp)
{
    char filter[16] = "";
    if (egide_http_query_get(req->query, "state", filter, sizeof filter) != EGIDE_OK)
        filter[0] = '\0';
    egide_deadline_state want = EGIDE_DEADLINE_OPEN;
    if (filter[0] && egide_deadline_state_parse(filter, &want)) {
        egide_http_error(resp, 400, EGIDE_ERR_INVALID, "state: open, overdue, met or late");
        return;
    }
    json_t *arr = json_array();
    if (!e->profile) {
        egide_http_json(
            resp, 200,
            json_pack("{s:o, s:s}", "deadlines", arr, "note", "no deadline profile configured"));
        return;
    }
    egide_deadline_t *d = NULL;
    size_t nd = 0;
    if (s_deadlines_eval(e, &d, &nd) != EGIDE_OK) {
        json_decref(arr);
        egide_http_error(resp, 500, EGIDE_ERR_NOMEM, "deadline evaluation failed");
        return;
    }
    for (size_t i = 0; i < nd; i++) {
        if (filter[0] && d[i].state != want)
            continue;
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:b}", "msg_id",
                              d[i].msg_id, "type", d[i].type, "name", d[i].name, "label",
                              d[i].label, "source", d[i].source, "start_ms",
                              (json_int_t)d[i].start_ms, "due_ms", (json_int_t)d[i].due_ms, "state",
                              egide_deadline_state_name(d[i].state), "practice", d[i].practice);
        if (d[i].closed_ms)
            json_object_set_new(o, "closed_ms", json_integer(d[i].closed_ms));
        if (d[i].closed_by[0])
            json_object_set_new(o, "closed_by", json_string(d[i].closed_by));
        json_array_append_new(arr, o);
    }
    free(d);
    egide_http_json(resp, 200,
                    json_pack("{s:o, s:s}", "deadlines", arr, "profile",
                              egide_deadline_profile_name(e->profile)));
}

/* ------------------------------------------------------------ health, metrics */

static void s_counts(edge_t *e, int64_t *pending, int64_t *inbox, int64_t *by_state)
{
    sqlite3_stmt *st;
    *pending = *inbox = 0;
    if (egide_db_stmt(e->api_db,
                      "SELECT (SELECT count(*) FROM outbox WHERE state=0),"
                      " (SELECT count(*) FROM inbox)",
                      &st) == 0) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            *pending = sqlite3_column_int64(st, 0);
            *inbox = sqlite3_column_int64(st, 1);
        }
        egide_db_done(st);
    }
    if (by_state &&
        egide_db_stmt(e->api_db, "SELECT state, count(*) FROM outbox_rcpt GROUP BY state", &st) ==
            0) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            int s = sqlite3_column_int(st, 0);
            if (s >= 0 && s <= 4)
                by_state[s] = sqlite3_column_int64(st, 1);
        }
        egide_db_done(st);
    }
}

static void s_health(edge_t *e, egide_http_resp_t *resp)
{
    int64_t pending, inbox;
    pthread_mutex_lock(&e->api_lock);
    s_counts(e, &pending, &inbox, NULL);
    uint8_t *alert = NULL;
    size_t alen = 0;
    edge_store_meta_get(e->api_db, "checkpoint_alert", &alert, &alen);
    pthread_mutex_unlock(&e->api_lock);
    bool conn = atomic_load(&e->connected);
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "status",
                  alert  ? "alert"
                  : conn ? "ok"
                         : "degraded",
                  "node", e->node_id, "broker",
                  conn                       ? "connected"
                  : atomic_load(&e->refused) ? "refused"
                                             : "disconnected",
                  "directory_version", (json_int_t)(e->dir ? egide_directory_version(e->dir) : 0),
                  "outbox_pending", (json_int_t)pending, "inbox", (json_int_t)inbox);
    if (alert)
        json_object_set_new(o, "audit_alert", json_stringn((const char *)alert, alen));
    free(alert);
    egide_http_json(resp, 200, o);
}

static void s_metrics(edge_t *e, egide_http_resp_t *resp)
{
    static const char *const le[] = {"10",   "25",   "50",   "100",   "250",   "500",
                                     "1000", "2500", "5000", "10000", "60000", "+Inf"};
    int64_t pending, inbox, by_state[5] = {0};
    pthread_mutex_lock(&e->api_lock);
    s_counts(e, &pending, &inbox, by_state);
    pthread_mutex_unlock(&e->api_lock);
    const edge_metrics_t *m = &e->m;
    egide_buf_t out;
    egide_buf_init(&out, 1 << 20);
    egide_metrics_single(&out, "egide_edge_up", "gauge",
                         "Edge connected to its broker (1) or not (0).",
                         atomic_load(&e->connected) ? 1 : 0);
    static const char *const rs = "egide_edge_recipient_states";
    egide_metrics_family(&out, rs, "gauge", "Sent messages per recipient state.");
    for (int k = 0; k < 5; k++)
        egide_metrics_value(&out, rs, "state", s_rcpt_states[k], (uint64_t)by_state[k]);
    egide_metrics_single(&out, "egide_edge_outbox_pending", "gauge",
                         "Messages not yet accepted by the broker.", (uint64_t)pending);
    egide_metrics_single(&out, "egide_edge_inbox_messages", "gauge", "Messages received.",
                         (uint64_t)inbox);
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
    egide_deadline_t *dl = NULL;
    size_t ndl = 0;
    if (s_deadlines_eval(e, &dl, &ndl) == EGIDE_OK) {
        uint64_t by[4] = {0};
        for (size_t i = 0; i < ndl; i++)
            if ((unsigned)dl[i].state < 4)
                by[dl[i].state]++;
        egide_metrics_family(&out, "egide_edge_deadlines", "gauge",
                             "Legal deadlines by state (overdue = past due, not met).");
        for (int k = 0; k < 4; k++)
            egide_metrics_value(&out, "egide_edge_deadlines", "state",
                                egide_deadline_state_name((egide_deadline_state)k), by[k]);
        free(dl);
    }
    egide_metrics_single(&out, "egide_edge_audit_alerts_total", "counter",
                         "Broker checkpoints that failed the consistency check.",
                         atomic_load(&m->checkpoint_alerts));
    static const char *const lat = "egide_edge_delivery_latency_ms";
    egide_metrics_family(&out, lat, "histogram", "Submission to the last recipient's receipt.");
    uint64_t cum = 0;
    for (int i = 0; i < 12; i++) {
        cum += atomic_load(&m->latency_bucket[i]);
        egide_metrics_value(&out, "egide_edge_delivery_latency_ms_bucket", "le", le[i], cum);
    }
    egide_metrics_value(&out, "egide_edge_delivery_latency_ms_sum", NULL, NULL,
                        atomic_load(&m->latency_sum_ms));
    egide_metrics_value(&out, "egide_edge_delivery_latency_ms_count", NULL, NULL,
                        atomic_load(&m->latency_count));
    egide_buf_append(&out, "", 1);
    egide_http_text(resp, 200, "text/plain; version=0.0.4", out.data ? (const char *)out.data : "");
    egide_buf_free(&out);
}

/* ------------------------------------------------------------ routing */

static void s_handler(const egide_http_req_t *req, egide_http_resp_t *resp, void *arg)
{
    edge_t *e = arg;
    const char *p = req->path;
    bool get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
    if (strcmp(p, "/v1/health") == 0 && get) {
        s_health(e, resp);
    } else if (strcmp(p, "/metrics") == 0 && get) {
        s_metrics(e, resp);
    } else if (strcmp(p, "/v1/deadlines") == 0 && get) {
        s_deadlines(e, req, resp);
    } else if (strcmp(p, "/v1/messages") == 0) {
        if (post)
            s_post_message(e, req, resp);
        else if (get)
            s_list(e, req, resp);
        else
            egide_http_error(resp, 405, EGIDE_ERR_INVALID, "use GET or POST");
    } else if (strncmp(p, "/v1/messages/", 13) == 0) {
        const char *rest = p + 13;
        char idtxt[33];
        size_t n = strcspn(rest, "/");
        uint8_t id[16];
        if (n != 32 || (memcpy(idtxt, rest, 32), idtxt[32] = '\0', !s_parse_id(idtxt, id))) {
            egide_http_error(resp, 400, EGIDE_ERR_INVALID, "message id: 32 hexadecimal digits");
        } else if (rest[32] == '\0' && get) {
            s_show(e, id, resp);
        } else if (strcmp(rest + 32, "/ack") == 0 && post) {
            s_ack(e, req, id, resp);
        } else {
            egide_http_error(resp, 404, EGIDE_ERR_NOTFOUND, "no route %s %s", req->method, p);
        }
    } else {
        egide_http_error(resp, 404, EGIDE_ERR_NOTFOUND, "no route %s %s", req->method, p);
    }
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
    rc = edge_store_open(e->db_path, &e->api_db);
    if (rc)
        return rc;
    static const char *const pub_only_health[] = {"/v1/health", NULL};
    static const char *const pub_with_metrics[] = {"/v1/health", "/metrics", NULL};
    egide_http_config_t hc = {
        .bind_addr = egide_config_str(cfg, "api", "bind"),
        .port = (uint16_t)egide_config_int(cfg, "api", "port"),
        .token = e->api_token,
        .public_paths =
            egide_config_bool(cfg, "api", "metrics_public") ? pub_with_metrics : pub_only_health,
        .max_body = (size_t)egide_config_int(cfg, "api", "max_body_bytes"),
        .allow_non_loopback = egide_config_bool(cfg, "api", "allow_non_loopback"),
        .threads = 1,
    };
    rc = egide_http_start(&hc, s_handler, e, &e->http);
    if (!rc)
        egide_log(EGIDE_LOG_NOTICE, "REST API on %s:%u", hc.bind_addr, egide_http_port(e->http));
    return rc;
}

void edge_api_stop(edge_t *e)
{
    egide_http_stop(&e->http);
    egide_db_close(&e->api_db);
    egide_token_free(&e->api_token);
}
