/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_auditapi.c - the broker's read-only audit API as a pure handler:
 * strict query parsing, proofs from egide_auditlog, JSON with jansson.
 *
 * Every answer is built in memory and bounded: a page holds at most
 * EGIDE_AUDITAPI_MAX_PAGE entries of at most EGIDE_AUDITLOG_MAX_LEAF bytes,
 * a proof at most EGIDE_MERKLE_MAX_PROOF hashes.  Nothing here writes.
 */
#include "egide/audit/egide_auditapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egide/protocol/egide_checkpoint.h"
#include "egide/base/egide_date.h"
#include "egide/base/egide_limits.h"
#include "egide/base/egide_problem.h"
#include "egide/audit/egide_merkle.h"
#include "egide/base/egide_util.h"
#include "egide/wire/egide_wire.h"

#define S_JSON       "application/json"
#define S_TEXT       "text/plain; charset=utf-8"
#define S_MAX_PARAMS 4

/* A parsed query: at most S_MAX_PARAMS distinct keys. */
typedef struct s_query {
    char key[S_MAX_PARAMS][16]; /* parameter names */
    char val[S_MAX_PARAMS][72]; /* raw values (digits or hex only) */
    int n;                      /* parameters present */
} s_query_t;

/* An RFC 9457 problem (egide_problem.h) with the given status; the same
 * members as the HTTP layer's egide_http_problem(). */
static int s_error(int status, egide_problem p, const char *message, char **body, const char **ct)
{
    const egide_problem_info_t *pi = egide_problem_info(p);
    char type[128];
    json_t *j =
        json_pack("{s:s,s:s,s:i,s:s,s:s}", "type", egide_problem_type_uri(p, type, sizeof type),
                  "title", pi->title, "status", status, "detail", message, "code", pi->code);
    *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    *ct = EGIDE_PROBLEM_MEDIA_TYPE;
    return *body ? status : 500;
}

static int s_json(json_t *j, char **body, const char **ct)
{
    *ct = S_JSON;
    if (!j)
        return s_error(500, EGIDE_PROBLEM_INTERNAL_ERROR, "out of memory", body, ct);
    *body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!*body)
        return s_error(500, EGIDE_PROBLEM_INTERNAL_ERROR, "out of memory", body, ct);
    return 200;
}

/* Parse "a=1&b=2".  Returns NULL or a static reason. */
static const char *s_parse_query(const char *q, const char *const *allowed, s_query_t *out)
{
    memset(out, 0, sizeof *out);
    if (!q || !*q)
        return NULL;
    if (strlen(q) > EGIDE_AUDITAPI_MAX_QUERY)
        return "query string too long";
    const char *p = q;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (!eq || eq == p)
            return "malformed query string";
        size_t klen = (size_t)(eq - p), vlen = len - klen - 1;
        if (klen >= sizeof out->key[0] || vlen == 0 || vlen >= sizeof out->val[0])
            return "malformed query parameter";
        int known = 0;
        for (const char *const *a = allowed; *a; a++)
            if (strlen(*a) == klen && memcmp(*a, p, klen) == 0)
                known = 1;
        if (!known)
            return "unknown query parameter";
        for (int i = 0; i < out->n; i++)
            if (strlen(out->key[i]) == klen && memcmp(out->key[i], p, klen) == 0)
                return "repeated query parameter";
        if (out->n == S_MAX_PARAMS)
            return "too many query parameters";
        for (size_t i = 0; i < vlen; i++) {
            char c = eq[1 + i];
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
                return "query values are decimal or hex";
        }
        memcpy(out->key[out->n], p, klen);
        memcpy(out->val[out->n], eq + 1, vlen);
        out->n++;
        p += len;
        if (*p == '&') {
            p++;
            if (!*p)
                return "malformed query string";
        }
    }
    return NULL;
}

static const char *s_get(const s_query_t *q, const char *key)
{
    for (int i = 0; i < q->n; i++)
        if (strcmp(q->key[i], key) == 0)
            return q->val[i];
    return NULL;
}

/* 0: absent, 1: parsed, -1: bad. */
static int s_get_u64(const s_query_t *q, const char *key, uint64_t *out)
{
    const char *v = s_get(q, key);
    if (!v)
        return 0;
    int64_t x = 0;
    if (egide_parse_int64(v, 0, INT64_MAX, &x) != EGIDE_OK)
        return -1;
    *out = (uint64_t)x;
    return 1;
}

static json_t *s_str(const char *s)
{
    if (!s)
        return json_string("");
    json_t *j = json_string(s);
    if (j)
        return j;
    char clean[256];
    egide_sanitize(s, strnlen(s, 4096), clean, sizeof clean);
    return json_string(clean);
}

static json_t *s_hex(const uint8_t *p, size_t n)
{
    char buf[2 * 64 + 1];
    if (n > 64)
        n = 64;
    egide_hex_encode(p, n, buf);
    return json_string(buf);
}

static json_t *s_b64(const uint8_t *p, size_t n)
{
    char *s = egide_base64_encode(p, n);
    json_t *j = s ? json_string(s) : NULL;
    free(s);
    return j;
}

json_t *egide_auditapi_event_json(const Egide__V1__AuditEvent *ev)
{
    if (!ev)
        return NULL;
    json_t *j = json_object();
    if (!j)
        return NULL;
    json_object_set_new(j, "type", json_string(egide_wire_audit_type_name((int)ev->type)));
    if (ev->msg_id.len)
        json_object_set_new(j, "msg_id", s_hex(ev->msg_id.data, ev->msg_id.len));
    if (ev->envelope_sha256.len)
        json_object_set_new(j, "envelope_sha256",
                            s_hex(ev->envelope_sha256.data, ev->envelope_sha256.len));
    if (ev->sender_id && *ev->sender_id)
        json_object_set_new(j, "sender", s_str(ev->sender_id));
    if (ev->n_recipient_ids) {
        json_t *r = json_array();
        for (size_t i = 0; r && i < ev->n_recipient_ids && i < EGIDE_MAX_RECIPIENTS * 4; i++)
            json_array_append_new(r, s_str(ev->recipient_ids[i]));
        json_object_set_new(j, "recipients", r);
    }
    if (ev->message_type && *ev->message_type)
        json_object_set_new(j, "message_type", s_str(ev->message_type));
    if (ev->node_id && *ev->node_id)
        json_object_set_new(j, "node", s_str(ev->node_id));
    if (ev->reason)
        json_object_set_new(j, "reason", json_string(egide_wire_reason_name((int)ev->reason)));
    if (ev->directory_version)
        json_object_set_new(j, "directory_version",
                            json_integer((json_int_t)(ev->directory_version & INT64_MAX)));
    if (ev->receipt_sha256.len)
        json_object_set_new(j, "receipt_sha256",
                            s_hex(ev->receipt_sha256.data, ev->receipt_sha256.len));
    if (ev->transport_key_sha256.len)
        json_object_set_new(j, "transport_key_sha256",
                            s_hex(ev->transport_key_sha256.data, ev->transport_key_sha256.len));
    if (ev->refusals_before)
        json_object_set_new(j, "refusals_before", json_integer((json_int_t)ev->refusals_before));
    json_object_set_new(j, "time_ms", json_integer(ev->time_ms));
    char t[64];
    if (egide_datetime_format(ev->time_ms, t, sizeof t) == EGIDE_OK)
        json_object_set_new(j, "time", json_string(t));
    /* The rule of every answer: <name>_at beside <name>_ms (docs/errors.md). */
    bool at = ev->time_ms > 0 && egide_datetime_format_ms(ev->time_ms, t, sizeof t) == EGIDE_OK;
    json_object_set_new(j, "time_at", at ? json_string(t) : json_null());
    return j;
}

json_t *egide_auditapi_leaf_json(const uint8_t *leaf, size_t len)
{
    void *m = NULL;
    if (egide_wire_unpack(EGIDE_WIRE_AUDIT_EVENT, leaf, len, &m, NULL) != EGIDE_OK)
        return json_null();
    json_t *j = egide_auditapi_event_json(m);
    egide_wire_free(EGIDE_WIRE_AUDIT_EVENT, m);
    return j;
}

static json_t *s_proof_json(const uint8_t (*p)[32], size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, s_b64(p[i], 32));
    return a;
}

/* {"index", "leaf", "leaf_hash", "event"} (+ "proof" when size > 0). */
static egide_rc s_entry(egide_auditlog_t *log, uint64_t index, uint64_t size, json_t **out)
{
    uint8_t *leaf = NULL;
    size_t len = 0;
    uint8_t lh[32];
    egide_rc rc = egide_auditlog_leaf(log, index, &leaf, &len);
    if (rc == EGIDE_OK)
        rc = egide_auditlog_leaf_hash(log, index, lh);
    if (rc != EGIDE_OK) {
        free(leaf);
        return rc;
    }
    json_t *e = json_object();
    if (e) {
        json_object_set_new(e, "index", json_integer((json_int_t)index));
        json_object_set_new(e, "leaf", s_b64(leaf, len));
        json_object_set_new(e, "leaf_hash", s_b64(lh, 32));
    }
    if (e && size > 0) {
        uint8_t(*p)[32] = NULL;
        size_t n = 0;
        rc = egide_auditlog_inclusion(log, index, size, &p, &n);
        if (rc == EGIDE_OK)
            json_object_set_new(e, "proof", s_proof_json((const uint8_t(*)[32])p, n));
        free(p);
    }
    if (e)
        json_object_set_new(e, "event", egide_auditapi_leaf_json(leaf, len));
    free(leaf);
    if (!e)
        return EGIDE_ERR_NOMEM;
    if (rc != EGIDE_OK) {
        json_decref(e);
        return rc;
    }
    *out = e;
    return EGIDE_OK;
}

/* Latest checkpoint: its size and note (caller frees). */
static egide_rc s_latest(egide_auditlog_t *log, uint64_t *size, char **note)
{
    egide_rc rc = egide_auditlog_latest_checkpoint(log, note);
    if (rc != EGIDE_OK)
        return rc;
    egide_checkpoint_t cp;
    rc = egide_checkpoint_parse(*note, strlen(*note), &cp);
    if (rc != EGIDE_OK) {
        free(*note);
        *note = NULL;
        return EGIDE_ERR_DB;
    }
    *size = cp.size;
    return EGIDE_OK;
}

static json_t *s_note_at(egide_auditlog_t *log, uint64_t size)
{
    uint64_t got = 0;
    char *note = NULL;
    if (egide_auditlog_checkpoint_next(log, size, &got, &note) == EGIDE_OK && got == size) {
        json_t *j = json_string(note);
        free(note);
        return j ? j : json_null();
    }
    free(note);
    return json_null();
}

static int s_internal(egide_rc rc, char **body, const char **ct)
{
    return s_error(500, EGIDE_PROBLEM_INTERNAL_ERROR, egide_strerror(rc), body, ct);
}

static int s_checkpoint(egide_auditlog_t *log, char **body, const char **ct)
{
    char *note = NULL;
    egide_rc rc = egide_auditlog_latest_checkpoint(log, &note);
    if (rc == EGIDE_ERR_NOTFOUND)
        return s_error(404, EGIDE_PROBLEM_NO_CHECKPOINT, "no checkpoint has been published yet",
                       body, ct);
    if (rc != EGIDE_OK)
        return s_internal(rc, body, ct);
    *body = note;
    *ct = S_TEXT;
    return 200;
}

static int s_checkpoints(egide_auditlog_t *log, const s_query_t *q, char **body, const char **ct)
{
    uint64_t start = 0;
    if (s_get_u64(q, "start", &start) < 0)
        return s_error(400, EGIDE_PROBLEM_BAD_REQUEST, "start must be a non-negative integer", body,
                       ct);
    json_t *arr = json_array();
    json_t *next = json_null();
    for (unsigned i = 0; arr && i <= EGIDE_AUDITAPI_MAX_PAGE; i++) {
        uint64_t size = 0;
        char *note = NULL;
        egide_rc rc = egide_auditlog_checkpoint_next(log, start, &size, &note);
        if (rc == EGIDE_ERR_NOTFOUND)
            break;
        if (rc != EGIDE_OK) {
            json_decref(arr);
            return s_internal(rc, body, ct);
        }
        if (i == EGIDE_AUDITAPI_MAX_PAGE) {
            next = json_integer((json_int_t)size);
            free(note);
            break;
        }
        json_array_append_new(arr, json_pack("{s:I,s:s}", "size", (json_int_t)size, "note", note));
        free(note);
        if (size == INT64_MAX)
            break;
        start = size + 1;
    }
    return s_json(json_pack("{s:o,s:o}", "checkpoints", arr, "next", next), body, ct);
}

static int s_inclusion(egide_auditlog_t *log, const s_query_t *q, char **body, const char **ct)
{
    uint64_t index = 0, size = 0, logsize = egide_auditlog_size(log);
    int hi = s_get_u64(q, "index", &index), hs = s_get_u64(q, "size", &size);
    const char *mid = s_get(q, "msg_id");
    if (hi < 0 || hs < 0)
        return s_error(400, EGIDE_PROBLEM_BAD_REQUEST,
                       "index and size must be non-negative integers", body, ct);
    if ((hi == 1) == (mid != NULL))
        return s_error(400, EGIDE_PROBLEM_BAD_REQUEST, "give either index or msg_id", body, ct);
    uint8_t msg_id[16];
    if (mid && egide_hex_decode(mid, msg_id, 16) != EGIDE_OK)
        return s_error(400, EGIDE_PROBLEM_BAD_REQUEST, "msg_id must be 32 hex digits", body, ct);
    char *note = NULL;
    json_t *jnote = NULL;
    if (hs == 0) {
        egide_rc rc = s_latest(log, &size, &note);
        if (rc == EGIDE_ERR_NOTFOUND)
            return s_error(409, EGIDE_PROBLEM_NOT_CHECKPOINTED,
                           "no checkpoint has been published yet", body, ct);
        if (rc != EGIDE_OK)
            return s_internal(rc, body, ct);
        jnote = json_string(note);
        free(note);
    } else {
        if (size > logsize)
            return s_error(400, EGIDE_PROBLEM_BAD_REQUEST, "size is beyond the log", body, ct);
        jnote = s_note_at(log, size);
    }
    uint64_t *idx = NULL;
    size_t nidx = 0;
    if (mid) {
        egide_rc rc = egide_auditlog_find_msg(log, msg_id, &idx, &nidx);
        if (rc != EGIDE_OK) {
            json_decref(jnote);
            return s_internal(rc, body, ct);
        }
        if (nidx == 0) {
            json_decref(jnote);
            return s_error(404, EGIDE_PROBLEM_NOT_FOUND, "no audit event for this msg_id", body,
                           ct);
        }
    } else {
        if (index >= logsize) {
            json_decref(jnote);
            return s_error(404, EGIDE_PROBLEM_NOT_FOUND, "no entry at this index", body, ct);
        }
        if (index >= size) {
            json_decref(jnote);
            return s_error(hs ? 400 : 409,
                           hs ? EGIDE_PROBLEM_BAD_REQUEST : EGIDE_PROBLEM_NOT_CHECKPOINTED,
                           "the entry is not covered by the tree size", body, ct);
        }
        idx = malloc(sizeof *idx);
        if (!idx) {
            json_decref(jnote);
            return s_internal(EGIDE_ERR_NOMEM, body, ct);
        }
        idx[0] = index;
        nidx = 1;
    }
    json_t *entries = json_array(), *pending = json_array();
    egide_rc rc = EGIDE_OK;
    for (size_t i = 0; i < nidx && rc == EGIDE_OK; i++) {
        if (idx[i] >= size) {
            json_array_append_new(pending, json_integer((json_int_t)idx[i]));
            continue;
        }
        json_t *e = NULL;
        rc = s_entry(log, idx[i], size, &e);
        if (rc == EGIDE_OK)
            json_array_append_new(entries, e);
    }
    free(idx);
    if (rc != EGIDE_OK) {
        json_decref(entries);
        json_decref(pending);
        json_decref(jnote);
        return s_internal(rc, body, ct);
    }
    json_t *j = json_pack("{s:I,s:o,s:o}", "tree_size", (json_int_t)size, "checkpoint", jnote,
                          "entries", entries);
    if (j && mid)
        json_object_set_new(j, "pending", pending);
    else
        json_decref(pending);
    return s_json(j, body, ct);
}

static int s_consistency(egide_auditlog_t *log, const s_query_t *q, char **body, const char **ct)
{
    uint64_t from = 0, to = 0, logsize = egide_auditlog_size(log);
    int hf = s_get_u64(q, "from", &from), ht = s_get_u64(q, "to", &to);
    if (hf != 1 || ht < 0)
        return s_error(400, EGIDE_PROBLEM_BAD_REQUEST,
                       "from (and to) must be non-negative integers", body, ct);
    json_t *tonote = NULL;
    if (ht == 0) {
        char *note = NULL;
        egide_rc rc = s_latest(log, &to, &note);
        if (rc == EGIDE_ERR_NOTFOUND)
            return s_error(409, EGIDE_PROBLEM_NOT_CHECKPOINTED,
                           "no checkpoint has been published yet", body, ct);
        if (rc != EGIDE_OK)
            return s_internal(rc, body, ct);
        tonote = json_string(note);
        free(note);
    }
    if (from == 0 || from > to || to > logsize) {
        json_decref(tonote);
        return s_error(400, EGIDE_PROBLEM_BAD_REQUEST, "need 0 < from <= to <= tree size", body,
                       ct);
    }
    if (!tonote)
        tonote = s_note_at(log, to);
    uint8_t(*p)[32] = NULL;
    size_t n = 0;
    egide_rc rc = egide_auditlog_consistency(log, from, to, &p, &n);
    if (rc != EGIDE_OK) {
        json_decref(tonote);
        return s_internal(rc, body, ct);
    }
    json_t *j = json_pack("{s:I,s:I,s:o,s:o,s:o}", "from", (json_int_t)from, "to", (json_int_t)to,
                          "proof", s_proof_json((const uint8_t(*)[32])p, n), "from_checkpoint",
                          s_note_at(log, from), "to_checkpoint", tonote);
    free(p);
    return s_json(j, body, ct);
}

static int s_entries(egide_auditlog_t *log, const s_query_t *q, char **body, const char **ct)
{
    uint64_t start = 0, end = 0, size = egide_auditlog_size(log);
    int hs = s_get_u64(q, "start", &start), he = s_get_u64(q, "end", &end);
    if (hs != 1 || he < 0)
        return s_error(400, EGIDE_PROBLEM_BAD_REQUEST,
                       "start (and end) must be non-negative integers", body, ct);
    if (start > size || (he == 1 && end < start))
        return s_error(400, EGIDE_PROBLEM_BAD_REQUEST, "need start <= end and start <= tree size",
                       body, ct);
    uint64_t stop = start + EGIDE_AUDITAPI_MAX_PAGE;
    if (he == 1 && end < stop)
        stop = end;
    if (stop > size)
        stop = size;
    json_t *arr = json_array();
    egide_rc rc = EGIDE_OK;
    for (uint64_t i = start; arr && i < stop && rc == EGIDE_OK; i++) {
        json_t *e = NULL;
        rc = s_entry(log, i, 0, &e);
        if (rc == EGIDE_OK)
            json_array_append_new(arr, e);
    }
    if (rc != EGIDE_OK) {
        json_decref(arr);
        return s_internal(rc, body, ct);
    }
    uint64_t want_end = he == 1 ? end : size;
    json_t *next = stop < want_end && stop < size ? json_integer((json_int_t)stop) : json_null();
    return s_json(json_pack("{s:I,s:I,s:I,s:o,s:o}", "start", (json_int_t)start, "end",
                            (json_int_t)stop, "tree_size", (json_int_t)size, "entries", arr, "next",
                            next),
                  body, ct);
}

int egide_auditapi_handle(egide_auditlog_t *log, const char *method, const char *path,
                          const char *query, char **body, const char **content_type)
{
    if (!body || !content_type)
        return 500;
    *body = NULL;
    *content_type = S_JSON;
    if (!log || !method || !path)
        return s_error(500, EGIDE_PROBLEM_INTERNAL_ERROR, "audit API not configured", body,
                       content_type);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return s_error(405, EGIDE_PROBLEM_METHOD_NOT_ALLOWED, "the audit API is read-only", body,
                       content_type);
    static const char *const none[] = {NULL};
    static const char *const p_cps[] = {"start", NULL};
    static const char *const p_incl[] = {"index", "size", "msg_id", NULL};
    static const char *const p_cons[] = {"from", "to", NULL};
    static const char *const p_ent[] = {"start", "end", NULL};
    const char *const *allowed = NULL;
    int which = 0;
    if (strcmp(path, "/v1/audit/checkpoint") == 0) {
        allowed = none;
        which = 1;
    } else if (strcmp(path, "/v1/audit/checkpoints") == 0) {
        allowed = p_cps;
        which = 2;
    } else if (strcmp(path, "/v1/audit/proof/inclusion") == 0) {
        allowed = p_incl;
        which = 3;
    } else if (strcmp(path, "/v1/audit/proof/consistency") == 0) {
        allowed = p_cons;
        which = 4;
    } else if (strcmp(path, "/v1/audit/entries") == 0) {
        allowed = p_ent;
        which = 5;
    } else {
        return s_error(404, EGIDE_PROBLEM_NOT_FOUND, "no such audit endpoint", body, content_type);
    }
    s_query_t q;
    const char *why = s_parse_query(query, allowed, &q);
    if (why)
        return s_error(400, EGIDE_PROBLEM_BAD_REQUEST, why, body, content_type);
    switch (which) {
    case 1:
        return s_checkpoint(log, body, content_type);
    case 2:
        return s_checkpoints(log, &q, body, content_type);
    case 3:
        return s_inclusion(log, &q, body, content_type);
    case 4:
        return s_consistency(log, &q, body, content_type);
    default:
        return s_entries(log, &q, body, content_type);
    }
}
