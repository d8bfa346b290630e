/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_api_trail.c - the trail of who read what through the edge API
 * (docs/edge-api.md, "Trail"):
 *   GET /v1/trail?after=&limit=&message=&account=
 *       entries oldest first, one page (an index range), "next" when more;
 *   GET /v1/trail/proof?index=N
 *       the entry's inclusion proof to the current signed checkpoint;
 *   GET /v1/trail/checkpoint
 *       the current signed checkpoint and the key that signs it.
 * For the machine token and the roles auditor, supervisor and admin (an
 * agent reads content; who reads what is for others to see).  A
 * checkpoint is made, signed by the key holder, when the latest does not
 * cover every entry.  All on api_store under api_lock (rare reads).
 *
 * And the notes the dispatch of edge_api.c takes around the routes that
 * open content or act: edge_api_trail_* below.  A content read whose entry
 * cannot be written is not answered (503, the body wiped); an action that
 * is done (queued, acknowledged) and whose entry fails is logged as an
 * error, as the action cannot be undone.
 */
#include "edge.h"
#include "edge_trail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "egide/audit/egide_merkle.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/protocol/egide_checkpoint.h"

#define S_DEFAULT_LIMIT 50

static json_t *s_b64(const uint8_t *b, size_t n)
{
    char *s = egide_base64_encode(b, n);
    json_t *j = json_string(s ? s : "");
    free(s);
    return j;
}

static json_t *s_entry_json(const edge_trail_entry_t *en)
{
    char when[32] = "";
    time_t t = (time_t)(en->time_ms / 1000);
    struct tm tm;
    if (gmtime_r(&t, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *o = json_pack("{s:I, s:s, s:I, s:s, s:s, s:s, s:s}", "index", (json_int_t)en->index,
                          "node", en->node, "time_ms", (json_int_t)en->time_ms, "time", when,
                          "account", en->account, "role", en->role, "action", en->action);
    if (o && en->has_msg) {
        char hex[33];
        egide_hex_encode(en->msg_id, 16, hex);
        json_object_set_new(o, "msg_id", json_string(hex));
    }
    if (o && en->case_id > 0)
        json_object_set_new(o, "case_id", json_integer(en->case_id));
    if (o && en->subject[0])
        json_object_set_new(o, "subject", json_string(en->subject));
    return o;
}

/* Who may read the trail: the token, auditors, supervisors, admins. */
static bool s_may_read(const edge_principal_t *who)
{
    return !who || who->role == EDGE_ROLE_AUDITOR || who->role == EDGE_ROLE_SUPERVISOR ||
           who->role == EDGE_ROLE_ADMIN;
}

/* A decimal in [0, INT64_MAX), canonical (no sign, no leading zero). */
static bool s_dec(const char *s, uint64_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 18 || (n > 1 && s[0] == '0'))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* The parameters of a trail route: each known name at most once, values
 * without escapes (none is needed: digits, hex, account names). */
typedef struct s_params {
    char after[24], limit[8], message[40], account[EDGE_TRAIL_ACCOUNT_MAX + 2], index[24];
    bool has_after, has_limit, has_message, has_account, has_index;
} s_params_t;

static bool s_params(const char *query, bool proof, s_params_t *p, egide_http_resp_t *resp)
{
    memset(p, 0, sizeof *p);
    if (strlen(query) > 512) {
        egide_http_error(resp, 400, EGIDE_ERR_INVALID, "query: at most 512 bytes");
        return false;
    }
    char q[520];
    egide_strlcpy(q, query, sizeof q);
    char *save = NULL;
    for (char *kv = strtok_r(q, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        const char *v = eq ? eq + 1 : "";
        if (eq)
            *eq = '\0';
        struct {
            const char *name;
            char *buf;
            size_t size;
            bool *has;
        } known[] = {
            {"after", p->after, sizeof p->after, &p->has_after},
            {"limit", p->limit, sizeof p->limit, &p->has_limit},
            {"message", p->message, sizeof p->message, &p->has_message},
            {"account", p->account, sizeof p->account, &p->has_account},
            {"index", p->index, sizeof p->index, &p->has_index},
        };
        size_t k = 0, nk = sizeof known / sizeof known[0];
        while (k < nk && strcmp(known[k].name, kv) != 0)
            k++;
        bool allowed = k < nk && (proof ? k == 4 : k < 4);
        if (!allowed) {
            egide_http_error(resp, 400, EGIDE_ERR_INVALID, "unknown parameter (%s)",
                             proof ? "use index" : "use after, limit, message, account");
            return false;
        }
        if (*known[k].has) {
            egide_http_error(resp, 400, EGIDE_ERR_INVALID, "%s: given twice", known[k].name);
            return false;
        }
        if (strchr(v, '%') || egide_strlcpy(known[k].buf, v, known[k].size) != EGIDE_OK) {
            egide_http_error(resp, 400, EGIDE_ERR_INVALID, "%s: malformed or too long",
                             known[k].name);
            return false;
        }
        *known[k].has = true;
    }
    return true;
}

static void s_list(edge_t *e, const egide_http_req_t *req, egide_http_resp_t *resp)
{
    s_params_t p;
    if (!s_params(req->query, false, &p, resp))
        return;
    edge_trail_q_t q = {.limit = S_DEFAULT_LIMIT};
    uint64_t v = 0;
    if (p.has_after) {
        if (!s_dec(p.after, &v)) {
            egide_http_error(resp, 400, EGIDE_ERR_INVALID, "after: an entry index (decimal)");
            return;
        }
        q.has_after = true;
        q.after = v;
    }
    if (p.has_limit) {
        if (!s_dec(p.limit, &v) || v < 1 || v > EDGE_TRAIL_PAGE_MAX) {
            egide_http_error(resp, 400, EGIDE_ERR_INVALID, "limit: 1 to %d", EDGE_TRAIL_PAGE_MAX);
            return;
        }
        q.limit = (size_t)v;
    }
    if (p.has_message) {
        if (strlen(p.message) != 32 || egide_hex_decode(p.message, q.msg_id, 16) != EGIDE_OK) {
            egide_http_error(resp, 400, EGIDE_ERR_INVALID, "message: 32 hexadecimal digits");
            return;
        }
        q.has_msg = true;
    }
    if (p.has_account) {
        if (!edge_account_name_valid(p.account, strlen(p.account))) {
            egide_http_error(resp, 400, EGIDE_ERR_INVALID,
                             "account: an account name (a-z 0-9 . _ -) or api-token");
            return;
        }
        q.account = p.account;
    }
    edge_trail_entry_t *rows = NULL;
    size_t n = 0;
    bool more = false;
    uint64_t size = 0;
    pthread_mutex_lock(&e->api_lock);
    edge_trail_t *t = NULL;
    egide_rc rc = edge_trail_open(edge_store_sqlite_db(e->api_store), e->node_id, &t);
    if (!rc)
        rc = edge_trail_list(t, &q, &rows, &n, &more);
    if (!rc)
        size = egide_auditlog_size(edge_trail_log(t));
    edge_trail_destroy(&t);
    pthread_mutex_unlock(&e->api_lock);
    if (rc == EGIDE_ERR_CONSISTENCY) {
        egide_http_error(resp, 500, rc,
                         "the trail's index does not match its entries: run "
                         "`egide trail verify`");
        return;
    }
    if (rc) {
        edge_api_store_error(resp, rc);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, s_entry_json(&rows[i]));
    json_t *o = json_pack("{s:o, s:I}", "entries", arr, "tree_size", (json_int_t)size);
    if (more && n)
        json_object_set_new(o, "next", json_sprintf("%llu", (unsigned long long)rows[n - 1].index));
    else
        json_object_set_new(o, "next", json_null());
    free(rows);
    egide_http_json(resp, 200, o);
}

/* The checkpoint note's root (its third line), for the answer. */
static json_t *s_cp_fields(json_t *o, const char *note)
{
    egide_checkpoint_t cp;
    if (o && egide_checkpoint_parse(note, strlen(note), &cp) == EGIDE_OK) {
        json_object_set_new(o, "tree_size", json_integer((json_int_t)cp.size));
        json_object_set_new(o, "root", s_b64(cp.root, 32));
        json_object_set_new(o, "origin", json_string(cp.origin));
    }
    return o;
}

/* The latest checkpoint, a new one first when entries follow it, in a
 * write transaction of its own (see edge_trail_note_as); under api_lock. */
static egide_rc s_fresh_checkpoint(edge_t *e, edge_trail_t *t, char **note, uint64_t *size)
{
    egide_rc rc = edge_store_begin(e->api_store);
    if (rc)
        return rc;
    rc = edge_trail_checkpoint(t, e->sign_key, true, note, size);
    if (!rc)
        rc = edge_store_commit(e->api_store);
    if (rc) {
        edge_store_rollback(e->api_store);
        free(*note);
        *note = NULL;
    }
    return rc;
}

static void s_checkpoint(edge_t *e, egide_http_resp_t *resp)
{
    char *note = NULL;
    pthread_mutex_lock(&e->api_lock);
    edge_trail_t *t = NULL;
    egide_rc rc = edge_trail_open(edge_store_sqlite_db(e->api_store), e->node_id, &t);
    if (!rc)
        rc = s_fresh_checkpoint(e, t, &note, NULL);
    edge_trail_destroy(&t);
    pthread_mutex_unlock(&e->api_lock);
    if (rc == EGIDE_ERR_NOTFOUND) {
        egide_http_problem(resp, 404, EGIDE_PROBLEM_NO_CHECKPOINT, NULL,
                           "no checkpoint yet (the trail is empty)");
        return;
    }
    if (rc) {
        edge_api_store_error(resp, rc);
        return;
    }
    json_t *o = json_pack("{s:s, s:s}", "checkpoint", note, "key_name", "");
    char origin[EGIDE_MAX_NODE_ID + 16];
    snprintf(origin, sizeof origin, "egide.%s/trail", e->node_id);
    json_object_set_new(o, "key_name", json_string(origin));
    uint8_t pub[32];
    size_t pl = sizeof pub;
    if (e->sign_key && EVP_PKEY_get_raw_public_key(e->sign_key, pub, &pl) == 1 && pl == 32)
        json_object_set_new(o, "public_key", s_b64(pub, 32));
    egide_http_json(resp, 200, s_cp_fields(o, note));
    free(note);
}

static void s_proof(edge_t *e, const egide_http_req_t *req, egide_http_resp_t *resp)
{
    s_params_t p;
    if (!s_params(req->query, true, &p, resp))
        return;
    uint64_t index = 0;
    if (!p.has_index || !s_dec(p.index, &index)) {
        egide_http_error(resp, 400, EGIDE_ERR_INVALID, "index: an entry index (decimal)");
        return;
    }
    char *note = NULL;
    uint64_t size = 0;
    uint8_t(*path)[32] = NULL;
    size_t np = 0;
    uint8_t *leaf = NULL, lh[32];
    size_t len = 0;
    edge_trail_entry_t en;
    pthread_mutex_lock(&e->api_lock);
    edge_trail_t *t = NULL;
    egide_rc rc = edge_trail_open(edge_store_sqlite_db(e->api_store), e->node_id, &t);
    if (!rc && index >= egide_auditlog_size(edge_trail_log(t)))
        rc = EGIDE_ERR_NOTFOUND;
    if (!rc)
        rc = s_fresh_checkpoint(e, t, &note, &size);
    if (!rc && index >= size)
        rc = EGIDE_ERR_STATE; /* no key: the latest checkpoint is older than the entry */
    if (!rc)
        rc = egide_auditlog_inclusion(edge_trail_log(t), index, size, &path, &np);
    if (!rc)
        rc = egide_auditlog_leaf(edge_trail_log(t), index, &leaf, &len);
    if (!rc)
        rc = egide_auditlog_leaf_hash(edge_trail_log(t), index, lh);
    if (!rc && edge_trail_leaf_decode(leaf, len, &en) != EGIDE_OK)
        rc = EGIDE_ERR_CONSISTENCY;
    edge_trail_destroy(&t);
    pthread_mutex_unlock(&e->api_lock);
    if (rc == EGIDE_ERR_NOTFOUND) {
        egide_http_error(resp, 404, rc, "no trail entry %llu", (unsigned long long)index);
    } else if (rc == EGIDE_ERR_STATE) {
        egide_http_error(resp, 409, rc, "no signed checkpoint covers entry %llu yet",
                         (unsigned long long)index);
    } else if (rc == EGIDE_ERR_CONSISTENCY) {
        egide_http_error(resp, 500, rc, "trail entry %llu is damaged: run `egide trail verify`",
                         (unsigned long long)index);
    } else if (rc) {
        edge_api_store_error(resp, rc);
    } else {
        en.index = index;
        json_t *arr = json_array();
        for (size_t i = 0; i < np; i++)
            json_array_append_new(arr, s_b64(path[i], 32));
        json_t *o = json_pack("{s:I, s:o, s:o, s:o, s:s, s:o}", "index", (json_int_t)index, "leaf",
                              s_b64(leaf, len), "leaf_hash", s_b64(lh, 32), "proof", arr,
                              "checkpoint", note, "entry", s_entry_json(&en));
        egide_http_json(resp, 200, s_cp_fields(o, note));
    }
    free(path);
    free(leaf);
    free(note);
}

void edge_api_trail_handle(edge_t *e, const egide_http_req_t *req, const edge_principal_t *who,
                           egide_http_resp_t *resp)
{
    if (strcmp(req->method, "GET") != 0) {
        egide_http_method_not_allowed(resp, "GET");
        return;
    }
    if (!s_may_read(who)) {
        egide_http_error(resp, 403, EGIDE_ERR_AUTH, "role %s may not read the trail",
                         edge_role_name(who->role));
        return;
    }
    if (!edge_store_sqlite_db(e->api_store)) {
        edge_api_store_error(resp, EGIDE_ERR_DB);
        return;
    }
    const char *p = req->path;
    if (strcmp(p, "/v1/trail") == 0)
        s_list(e, req, resp);
    else if (strcmp(p, "/v1/trail/proof") == 0)
        s_proof(e, req, resp);
    else if (strcmp(p, "/v1/trail/checkpoint") == 0)
        s_checkpoint(e, resp);
    else
        egide_http_error(resp, 404, EGIDE_ERR_NOTFOUND, "no route GET %s", p);
}

/* ------------------------------------------------------------ notes */

egide_rc edge_api_trail_in_inbox(edge_t *e, const uint8_t id[16], bool *in_inbox)
{
    *in_inbox = false;
    edge_inbox_row_t m;
    pthread_mutex_lock(&e->api_lock);
    egide_rc rc = edge_store_inbox_get(e->api_store, id, false, &m);
    pthread_mutex_unlock(&e->api_lock);
    if (rc == EGIDE_ERR_NOTFOUND)
        return EGIDE_OK;
    if (!rc) {
        *in_inbox = true;
        edge_inbox_row_clear(&m);
    }
    return rc;
}

void edge_api_trail_served(edge_t *e, const edge_principal_t *who, const char *action,
                           const uint8_t *msg_id, int64_t case_id, egide_http_resp_t *resp)
{
    if (resp->status != 200)
        return;
    egide_rc rc = edge_trail_note(e, who, action, msg_id, case_id);
    if (!rc)
        return;
    /* Not recorded: not shown.  The body holds content: wiped. */
    if (resp->body) {
        egide_wipe(resp->body, resp->body_len);
        free(resp->body);
        resp->body = NULL;
        resp->body_len = 0;
    }
    egide_http_error(resp, 503, rc,
                     "the trail could not record this reading (%s): nothing is shown, retry",
                     egide_strerror(rc));
}

void edge_api_trail_acted(edge_t *e, const edge_principal_t *who, const char *action,
                          const uint8_t *msg_id, const egide_http_resp_t *resp, int ok_status)
{
    if (resp->status != ok_status)
        return;
    uint8_t id[16];
    const uint8_t *mid = msg_id;
    if (!mid && resp->body) {
        /* The answer names the message made (POST /v1/messages: "id"). */
        json_t *j = json_loadb(resp->body, resp->body_len, 0, NULL);
        const char *h = json_string_value(json_object_get(j, "id"));
        if (h && strlen(h) == 32 && egide_hex_decode(h, id, 16) == EGIDE_OK)
            mid = id;
        json_decref(j);
    }
    (void)edge_trail_note(e, who, action, mid, 0); /* logged when it fails */
}

bool edge_api_trail_session_before(edge_t *e, const egide_http_req_t *req, edge_principal_t *who)
{
    if (strcmp(req->method, "DELETE") != 0 || !req->session)
        return false;
    return edge_session_check(e->api_store, &e->api_lock, &e->auth, req->session, edge_now_ms(e),
                              false, who) == EGIDE_OK;
}

void edge_api_trail_session_after(edge_t *e, const egide_http_req_t *req,
                                  const edge_principal_t *before, const egide_http_resp_t *resp)
{
    if (strcmp(req->method, "DELETE") == 0) {
        if (before && resp->status == 200)
            (void)edge_trail_note(e, before, "logout", NULL, 0);
        return;
    }
    if (strcmp(req->method, "POST") != 0)
        return;
    const char *action = resp->status == 200   ? "login"
                         : resp->status == 401 ? "login.failed"
                         : resp->status == 429 ? "login.locked"
                                               : NULL;
    if (!action)
        return;
    /* The name tried, when it is an account's (a password typed in the
     * name field never reaches the trail); never the password. */
    json_t *j = json_loadb((const char *)req->body, req->body_len, 0, NULL);
    const char *u = json_string_value(json_object_get(j, "user"));
    char name[EDGE_USER_NAME_MAX + 1] = EDGE_TRAIL_ACCOUNT_UNKNOWN;
    const char *role = "unknown";
    edge_user_row_t row;
    if (u && edge_account_name_valid(u, strlen(u))) {
        pthread_mutex_lock(&e->api_lock);
        egide_rc rc = edge_store_user_get(e->api_store, u, &row);
        pthread_mutex_unlock(&e->api_lock);
        if (!rc) {
            egide_strlcpy(name, row.name, sizeof name);
            role = edge_role_name(row.role);
            egide_wipe(row.pwhash, sizeof row.pwhash);
        }
    }
    json_decref(j);
    (void)edge_trail_note_as(e, name, role, action, NULL, 0);
}

void edge_api_trail_cases(edge_t *e, const egide_http_req_t *req, const edge_principal_t *who,
                          egide_http_resp_t *resp)
{
    const char *p = req->path;
    if (strcmp(req->method, "GET") != 0 || strncmp(p, "/v1/cases/", 10) != 0)
        return;
    uint64_t id = 0;
    if (!s_dec(p + 10, &id) || id == 0)
        return;
    edge_api_trail_served(e, who, "case.view", NULL, (int64_t)id, resp);
}
