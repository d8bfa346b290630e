/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cli_audit.c - `egide audit`: what an auditor runs to check the broker's
 * audit log without trusting the department's IT and without seeing any
 * content.
 *
 *   egide audit checkpoint [--out FILE]      latest signed checkpoint
 *   egide audit prove MSGID                  inclusion of every event of a message
 *   egide audit consistency --from FILE [--update]
 *                                            the log still extends a checkpoint kept earlier
 *   egide audit export --out FILE            all entries and checkpoints, JSON
 *   egide audit verify FILE | --db BROKER.sqlite
 *                                            recompute everything offline
 *   egide audit history MSGID [FILE | --db BROKER.sqlite]
 *                                            readable trail of one message
 *
 * Online commands take the daemon options of every command (cli_conn.c):
 * --api URL (default http://127.0.0.1:7711), --token-file FILE, --timeout MS
 * and --config FILE, whose [audit] section may set url, token_file and
 * timeout_ms.  Each subcommand is one option table (cli_opts.c).  --anchor CERT is the broker's
 * Ed25519 signing certificate: every checkpoint must carry a signature by that key, under the key
 * name = the checkpoint's origin ("egide.<broker id>/audit"); --origin pins the origin too. Nothing
 * the API says is believed without checking it against a signed checkpoint: leaves are re-hashed
 * and re-decoded here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cli.h"
#include "egide/audit/egide_auditapi.h"
#include "egide/audit/egide_auditlog.h"
#include "egide/audit/egide_auditverify.h"
#include "egide/protocol/egide_checkpoint.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/base/egide_date.h"
#include "egide/store/egide_db.h"
#include "egide/net/egide_httpc.h"
#include "egide/base/egide_limits.h"
#include "egide/audit/egide_merkle.h"
#include "egide/base/egide_util.h"
#include "egide/wire/egide_wire.h"
#include "egide/audit/egide_witness.h"

#define S_MAX_EXPORT (2048ull * 1024 * 1024) /* export files read by verify/history */

/* The broker's read-only audit API: [audit] in the configuration file, the
 * token sent as the file holds it (the broker judges it), 30 s. */
static const cli_conn_spec_t s_broker = {.section = "audit",
                                         .default_url = "http://127.0.0.1:7711",
                                         .timeout_ms = 30000,
                                         .any_token = true};

/* Parsed command line of one subcommand.  Invariant: conn is set up (by
 * s_online()) before the first request only, so that offline subcommands
 * never read the configuration nor the token. */
typedef struct s_opts {
    const char *what;       /* "audit prove", for messages */
    const cli_args_t *args; /* the parsed command line */
    cli_conn_t conn;        /* --api, --token-file, --config, --timeout */
    bool online;            /* conn is set up */
    const char *anchor;     /* broker signing certificate path, or NULL */
    const char *origin;     /* pinned origin, or NULL */
    const char *out;        /* --out */
    const char *from;       /* --from */
    const char *db;         /* --db */
    const char *arg;        /* the positional argument, or NULL */
    const char *arg2;       /* a second one (history MSGID FILE), or NULL */
    bool json;              /* --json */
    bool update;            /* --update */
    EVP_PKEY *pub;          /* anchored key (owned), loaded from anchor */
} s_opts_t;

static void s_opts_free(s_opts_t *o)
{
    EVP_PKEY_free(o->pub);
    o->pub = NULL;
}

static const cli_opt_t s_audit_opts[] = {
    {"--anchor", CLI_VALUE, "CERT",
     "the broker's Ed25519 signing certificate: checkpoints must be signed by it", false},
    {"--origin", CLI_VALUE, "ORIGIN", "require this origin (e.g. egide.71.broker/audit)", false},
    {NULL, CLI_FLAG, NULL, NULL, false},
};
static const cli_opt_t s_out_opts[] = {
    {"--out", CLI_VALUE, "FILE", "write it to FILE", false},
    {NULL, CLI_FLAG, NULL, NULL, false},
};
static const cli_opt_t s_consistency_opts[] = {
    {"--from", CLI_VALUE, "FILE", "a checkpoint kept earlier", true},
    {"--update", CLI_FLAG, NULL, "replace it by the newer one once proven", false},
    {NULL, CLI_FLAG, NULL, NULL, false},
};
static const cli_opt_t s_db_opts[] = {
    {"--db", CLI_VALUE, "BROKER.sqlite", "read the broker's database instead", false},
    {NULL, CLI_FLAG, NULL, NULL, false},
};

static int s_cmd_checkpoint(s_opts_t *o);
static int s_cmd_prove(s_opts_t *o);
static int s_cmd_consistency(s_opts_t *o);
static int s_cmd_export(s_opts_t *o);
static int s_cmd_verify(s_opts_t *o);
static int s_cmd_history(s_opts_t *o);

static const char s_about_audit_history[] =
    "Who sent what to whom, and what happened: from an export FILE, --db, or the API.";
static const char s_about_audit_verify[] =
    "Recompute the whole log offline, from an export FILE or --db BROKER.sqlite.";
static const char s_about_audit_export[] =
    "Save all entries and checkpoints (JSON) with --out FILE.";
static const char s_about_audit_consistency[] =
    "Check the log still extends a checkpoint kept earlier.";
static const char s_about_audit_prove[] = "Prove every event of a message is in the log.";
static const char s_about_audit_checkpoint[] = "Fetch the latest signed checkpoint.";
static const cli_cmd_t s_subs[] = {
    CLI_CMD("audit checkpoint", NULL, 0, 0, s_about_audit_checkpoint, s_out_opts, s_audit_opts,
            cli_api_opts, cli_json_opts),
    CLI_CMD("audit prove", "MSGID", 1, 1, s_about_audit_prove, s_audit_opts, cli_api_opts,
            cli_json_opts),
    CLI_CMD("audit consistency", NULL, 0, 0, s_about_audit_consistency, s_consistency_opts,
            s_audit_opts, cli_api_opts, cli_json_opts),
    CLI_CMD("audit export", NULL, 0, 0, s_about_audit_export, s_out_opts, s_audit_opts,
            cli_api_opts, cli_json_opts),
    CLI_CMD("audit verify", "[FILE]", 0, 1, s_about_audit_verify, s_db_opts, s_audit_opts,
            cli_json_opts),
    CLI_CMD("audit history", "MSGID [FILE]", 1, 2, s_about_audit_history, s_db_opts, s_audit_opts,
            cli_api_opts, cli_json_opts),
};
/* In the order of s_subs. */
static int (*const s_sub_fns[])(s_opts_t *) = {s_cmd_checkpoint, s_cmd_prove,  s_cmd_consistency,
                                               s_cmd_export,     s_cmd_verify, s_cmd_history};

/* Take the parsed options; load the anchor.  Returns 0 or an exit status
 * (message printed). */
static int s_parse(s_opts_t *o, const cli_args_t *a)
{
    o->args = a;
    o->conn.what = o->what; /* for cli_conn_done() even when offline */
    o->anchor = cli_get(a, "--anchor");
    o->origin = cli_get(a, "--origin");
    o->out = cli_get(a, "--out");
    o->from = cli_get(a, "--from");
    o->db = cli_get(a, "--db");
    o->json = cli_has(a, "--json");
    o->update = cli_has(a, "--update");
    o->arg = a->n_pos > 0 ? a->pos[0] : NULL;
    o->arg2 = a->n_pos > 1 ? a->pos[1] : NULL;
    if (o->origin) {
        char chk[EGIDE_CHECKPOINT_MAX_ORIGIN + 1];
        if (egide_strlcpy(chk, o->origin, sizeof chk) != EGIDE_OK || !*o->origin ||
            strpbrk(o->origin, " \t\n+"))
            return cli_fail(o->what, "--origin: not a valid origin") + 1;
    }
    if (o->anchor) {
        X509 *cert = NULL;
        egide_rc rc = egide_cert_load(o->anchor, &cert);
        if (rc != EGIDE_OK)
            return cli_fail_rc(o->what, rc, "--anchor %s", o->anchor);
        o->pub = X509_get_pubkey(cert);
        X509_free(cert);
        if (!o->pub || EVP_PKEY_get_base_id(o->pub) != EVP_PKEY_ED25519)
            return cli_fail(o->what, "--anchor %s: not an Ed25519 certificate", o->anchor);
    }
    return 0;
}

/* Resolve the API options once, before the first request. */
static int s_online(s_opts_t *o)
{
    if (o->online)
        return 0;
    int rc = cli_conn_setup(&o->conn, o->args, &s_broker);
    o->conn.what = o->what;
    if (rc == 0)
        o->online = true;
    return rc;
}

static int s_need_anchor(const s_opts_t *o)
{
    if (o->pub)
        return 0;
    return cli_fail(o->what, "give the broker's signing certificate with --anchor CERT");
}

/* ---------------------------------------------------------------- HTTP */

/* GET api + path_query; on 200 returns the body (caller frees), else prints
 * one line and returns NULL. */
static char *s_get(s_opts_t *o, const char *path_query, size_t *len, bool want_json)
{
    char url[2048];
    if (s_online(o))
        return NULL;
    if (snprintf(url, sizeof url, "%s%s", o->conn.url, path_query) >= (int)sizeof url) {
        cli_fail(o->what, "--api: URL too long");
        return NULL;
    }
    egide_httpc_resp_t r;
    egide_rc rc = egide_httpc_request("GET", url, o->conn.token, NULL, NULL, 0,
                                      EGIDE_HTTPC_DEFAULT_MAX_RESP, o->conn.timeout_ms, &r);
    if (rc != EGIDE_OK) {
        cli_fail_rc(o->what, rc, "%s", r.error[0] ? r.error : url);
        egide_httpc_resp_free(&r);
        return NULL;
    }
    if (r.status != 200) {
        const char *msg = NULL;
        json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
        /* An RFC 9457 problem: its detail, and its code in brackets. */
        msg = json_string_value(json_object_get(j, "detail"));
        const char *code = json_string_value(json_object_get(j, "code"));
        char clean[256], cclean[64];
        egide_sanitize(msg ? msg : "", msg ? strlen(msg) : 0, clean, sizeof clean);
        egide_sanitize(code ? code : "", code ? strlen(code) : 0, cclean, sizeof cclean);
        cli_fail(o->what, "the broker answered %ld%s%s%s%s%s", r.status, msg ? ": " : "", clean,
                 code ? " [" : "", cclean, code ? "]" : "");
        json_decref(j);
        egide_httpc_resp_free(&r);
        return NULL;
    }
    if (want_json && strncmp(r.content_type, "application/json", 16) != 0) {
        cli_fail(o->what, "the broker did not answer JSON");
        egide_httpc_resp_free(&r);
        return NULL;
    }
    char *body = r.body;
    if (len)
        *len = r.body_len;
    r.body = NULL;
    egide_httpc_resp_free(&r);
    return body;
}

static json_t *s_get_json(s_opts_t *o, const char *path_query)
{
    size_t len = 0;
    char *body = s_get(o, path_query, &len, true);
    if (!body)
        return NULL;
    json_error_t e;
    json_t *j = json_loadb(body, len, 0, &e);
    free(body);
    if (!j || !json_is_object(j)) {
        cli_fail(o->what, "the broker's answer is not a JSON object");
        json_decref(j);
        return NULL;
    }
    return j;
}

/* ---------------------------------------------------------------- helpers */

/* --json output: j indented on stdout, then released (NULL: nothing). */
static void s_print_json(json_t *j)
{
    char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    if (text)
        printf("%s\n", text);
    free(text);
    json_decref(j);
}

/* Base64 JSON string -> exactly 32 bytes. */
static int s_b64_32(json_t *v, uint8_t out[32])
{
    const char *s = json_string_value(v);
    uint8_t *raw = NULL;
    size_t len = 0;
    if (!s || egide_base64_decode(s, strlen(s), &raw, &len, 32) != EGIDE_OK || len != 32) {
        free(raw);
        return 0;
    }
    memcpy(out, raw, 32);
    free(raw);
    return 1;
}

/* JSON array of base64 hashes -> new proof (caller frees); -1 when bad. */
static int s_proof(json_t *arr, uint8_t (**p)[32], size_t *n)
{
    *p = NULL;
    *n = 0;
    if (!json_is_array(arr) || json_array_size(arr) > EGIDE_MERKLE_MAX_PROOF)
        return -1;
    size_t k = json_array_size(arr);
    if (k == 0)
        return 0;
    uint8_t(*out)[32] = calloc(k, 32);
    if (!out)
        return -1;
    for (size_t i = 0; i < k; i++) {
        if (!s_b64_32(json_array_get(arr, i), out[i])) {
            free(out);
            return -1;
        }
    }
    *p = out;
    *n = k;
    return 0;
}

static int s_u64(json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return 0;
    *out = (uint64_t)json_integer_value(v);
    return 1;
}

/* Verify a note with the anchor: key name = --origin or the note's origin. */
static egide_rc s_verify_note(const s_opts_t *o, const char *note, egide_checkpoint_t *cp)
{
    egide_checkpoint_t tmp;
    size_t len = strlen(note);
    egide_rc rc = egide_checkpoint_parse(note, len, &tmp);
    if (rc != EGIDE_OK)
        return rc;
    if (o->origin && strcmp(o->origin, tmp.origin) != 0)
        return EGIDE_ERR_SIGNATURE;
    return egide_checkpoint_verify(note, len, o->origin ? o->origin : tmp.origin, o->pub, cp);
}

static int s_parse_msgid(const char *what, const char *arg, uint8_t id[16])
{
    if (!arg)
        return cli_fail(what, "give the message id (32 hex digits)");
    if (strlen(arg) != 32 || egide_hex_decode(arg, id, 16) != EGIDE_OK)
        return cli_fail(what, "'%.40s' is not a message id (32 hex digits)", arg);
    return 0;
}

/* ---------------------------------------------------------------- checkpoint */

static int s_cmd_checkpoint(s_opts_t *o)
{
    size_t len = 0;
    char *note = s_get(o, "/v1/audit/checkpoint", &len, false);
    if (!note)
        return 1;
    if (strlen(note) != len || len > EGIDE_CHECKPOINT_MAX_NOTE) {
        free(note);
        return cli_fail(o->what, "the broker's checkpoint is not a signed note");
    }
    egide_checkpoint_t cp;
    egide_rc rc;
    const char *state = "signature not checked (no --anchor)";
    if (o->pub) {
        rc = s_verify_note(o, note, &cp);
        if (rc != EGIDE_OK) {
            free(note);
            return cli_fail_rc(o->what, rc, "the checkpoint is not signed by the anchored key");
        }
        state = "signature verified";
    } else if ((rc = egide_checkpoint_parse(note, len, &cp)) != EGIDE_OK) {
        free(note);
        return cli_fail_rc(o->what, rc, "the broker's checkpoint");
    }
    if (o->out && (rc = egide_file_write_atomic(o->out, note, len, 0644)) != EGIDE_OK) {
        free(note);
        return cli_fail_rc(o->what, rc, "--out %s", o->out);
    }
    if (o->json) {
        char root[65];
        egide_hex_encode(cp.root, 32, root);
        json_t *j =
            json_pack("{s:s,s:I,s:s,s:b,s:s}", "origin", cp.origin, "size", (json_int_t)cp.size,
                      "root", root, "verified", o->pub != NULL, "note", note);
        s_print_json(j);
    } else {
        (void)fputs(note, stdout);
        if (!o->pub)
            (void)fprintf(stderr, "egide: audit checkpoint: %s\n", state);
    }
    free(note);
    return 0;
}

/* ---------------------------------------------------------------- prove */

/* One event line of a trail. */
static void s_trail_line(uint64_t index, const Egide__V1__AuditEvent *ev, const char *mark)
{
    char t[32] = "?", node[80], sender[80], reason[64];
    egide_datetime_format(ev->time_ms, t, sizeof t);
    egide_sanitize(ev->node_id ? ev->node_id : "", ev->node_id ? strlen(ev->node_id) : 0, node,
                   sizeof node);
    egide_sanitize(ev->sender_id ? ev->sender_id : "", ev->sender_id ? strlen(ev->sender_id) : 0,
                   sender, sizeof sender);
    (void)snprintf(reason, sizeof reason, "%s", egide_wire_reason_name((int)ev->reason));
    /* One row per event type: the words around up to two of node, sender
     * and reason (a table, so that the text of a type is said once). */
    enum { W_NODE, W_SENDER, W_REASON, W_NONE }; /* what the words name */
    static const struct {
        int type;
        const char *before;
        int a;
        const char *between;
        int b;
    } words[] = {
        {EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_SUBMITTED, "submitted by ", W_SENDER, "", W_NONE},
        {EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_ACCEPTED, "accepted by the broker", W_NONE, "", W_NONE},
        {EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_REJECTED, "rejected by the broker: ", W_REASON, "",
         W_NONE},
        {EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_DELIVERED, "delivered to ", W_NODE, "", W_NONE},
        {EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_RECEIPT_RELAYED, "receipt of ", W_NODE, " relayed to ",
         W_SENDER},
        {EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_RECIPIENT_REJECTED, "rejected by recipient ", W_NODE,
         ": ", W_REASON},
        {EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_EXPIRED, "expired undelivered for ", W_NODE, "",
         W_NONE},
        {EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_ACKNOWLEDGED, "acknowledged by ", W_NODE, "", W_NONE},
    };
    const char *val[] = {node, sender, reason, ""};
    char what[256];
    (void)snprintf(what, sizeof what, "%s %s", egide_wire_audit_type_name((int)ev->type), node);
    for (size_t k = 0; k < sizeof words / sizeof words[0]; k++)
        if (words[k].type == (int)ev->type)
            (void)snprintf(what, sizeof what, "%s%s%s%s", words[k].before, val[words[k].a],
                           words[k].between, val[words[k].b]);
    printf("  %s  #%-8llu %s%s\n", t, (unsigned long long)index, what, mark);
}

/* Header line of a trail: type, sender, recipients. */
static void s_trail_head(const char *msgid_hex, const Egide__V1__AuditEvent *ev)
{
    char type[80] = "?", sender[80] = "?", to[600] = "";
    if (ev) {
        egide_sanitize(ev->message_type ? ev->message_type : "?",
                       ev->message_type ? strlen(ev->message_type) : 1, type, sizeof type);
        egide_sanitize(ev->sender_id ? ev->sender_id : "?",
                       ev->sender_id ? strlen(ev->sender_id) : 1, sender, sizeof sender);
        size_t off = 0;
        for (size_t i = 0; i < ev->n_recipient_ids && i < EGIDE_MAX_RECIPIENTS; i++) {
            char r[80];
            egide_sanitize(ev->recipient_ids[i], strlen(ev->recipient_ids[i]), r, sizeof r);
            int w = snprintf(to + off, sizeof to - off, "%s%s", i ? ", " : "", r);
            if (w < 0 || (size_t)w >= sizeof to - off)
                break;
            off += (size_t)w;
        }
    }
    printf("message %s: %s from %s to %s\n", msgid_hex, type, sender, to[0] ? to : "?");
}

/* Decode leaf and check it is about msg_id.  Returns the event or NULL. */
static Egide__V1__AuditEvent *s_event_for(const uint8_t *leaf, size_t len, const uint8_t id[16])
{
    void *m = NULL;
    if (egide_wire_unpack(EGIDE_WIRE_AUDIT_EVENT, leaf, len, &m, NULL) != EGIDE_OK)
        return NULL;
    Egide__V1__AuditEvent *ev = m;
    if (ev->msg_id.len != 16 || memcmp(ev->msg_id.data, id, 16) != 0) {
        egide_wire_free(EGIDE_WIRE_AUDIT_EVENT, m);
        return NULL;
    }
    return ev;
}

/* A collected trail: the events of one message, checked or not. */
typedef struct s_trail {
    uint64_t index[EGIDE_AUDITLOG_MAX_MSG_EVENTS];            /* leaf indexes */
    Egide__V1__AuditEvent *ev[EGIDE_AUDITLOG_MAX_MSG_EVENTS]; /* decoded events (owned) */
    bool proven[EGIDE_AUDITLOG_MAX_MSG_EVENTS];               /* inclusion verified */
    size_t n;                                                 /* events */
} s_trail_t;

static void s_trail_free(s_trail_t *t)
{
    for (size_t i = 0; i < t->n; i++)
        egide_wire_free(EGIDE_WIRE_AUDIT_EVENT, t->ev[i]);
    free(t);
}

static void s_trail_print(const s_opts_t *o, s_trail_t *t, const char *hex, const char *footer)
{
    if (o->json) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < t->n; i++) {
            json_t *e = egide_auditapi_event_json(t->ev[i]);
            if (!e)
                continue;
            json_object_set_new(e, "index", json_integer((json_int_t)t->index[i]));
            json_object_set_new(e, "proven", json_boolean(t->proven[i]));
            json_array_append_new(arr, e);
        }
        json_t *j = json_pack("{s:s,s:o}", "msg_id", hex, "events", arr);
        s_print_json(j);
        return;
    }
    s_trail_head(hex, t->n ? t->ev[0] : NULL);
    for (size_t i = 0; i < t->n; i++)
        s_trail_line(t->index[i], t->ev[i],
                     t->proven[i] || !o->pub || o->db || o->arg2 ? ""
                                                                 : "  (not yet in a checkpoint)");
    if (footer)
        printf("%s\n", footer);
}

/* Fetch every event of msg_id with proofs; verify all against the signed
 * checkpoint when the anchor is set (required when `strict`).  Fills *out. */
static int s_fetch_trail(s_opts_t *o, const uint8_t id[16], const char *hex, bool strict,
                         s_trail_t **out, egide_checkpoint_t *cp_out)
{
    char pq[128];
    (void)snprintf(pq, sizeof pq, "/v1/audit/proof/inclusion?msg_id=%s", hex);
    json_t *j = s_get_json(o, pq);
    if (!j)
        return 1;
    int ret = 0;
    s_trail_t *t = calloc(1, sizeof *t);
    if (!t) {
        json_decref(j);
        return cli_fail(o->what, "out of memory");
    }
    egide_checkpoint_t cp;
    memset(&cp, 0, sizeof cp);
    const char *note = json_string_value(json_object_get(j, "checkpoint"));
    uint64_t tree_size = 0;
    if (!note || !s_u64(json_object_get(j, "tree_size"), &tree_size)) {
        ret = cli_fail(o->what, "the broker's answer has no checkpoint");
    } else if (o->pub) {
        egide_rc rc = s_verify_note(o, note, &cp);
        if (rc != EGIDE_OK)
            ret = cli_fail_rc(o->what, rc, "the checkpoint is not signed by the anchored key");
        else if (cp.size != tree_size)
            ret = cli_fail(o->what, "the proofs are not relative to the signed checkpoint");
    } else if (strict) {
        ret = s_need_anchor(o);
    }
    json_t *entries = json_object_get(j, "entries");
    size_t k = json_array_size(entries);
    for (size_t i = 0; ret == 0 && i < k; i++) {
        json_t *e = json_array_get(entries, i);
        uint64_t index = 0;
        const char *leaf64 = json_string_value(json_object_get(e, "leaf"));
        uint8_t *leaf = NULL;
        size_t len = 0;
        if (!s_u64(json_object_get(e, "index"), &index) || !leaf64 ||
            egide_base64_decode(leaf64, strlen(leaf64), &leaf, &len, EGIDE_AUDITLOG_MAX_LEAF) !=
                EGIDE_OK) {
            ret = cli_fail(o->what, "malformed entry in the broker's answer");
            break;
        }
        Egide__V1__AuditEvent *ev = s_event_for(leaf, len, id);
        uint8_t lh[32];
        egide_merkle_leaf_hash(leaf, len, lh);
        free(leaf);
        if (!ev) {
            ret = cli_fail(o->what, "entry %llu is not an event of this message",
                           (unsigned long long)index);
            break;
        }
        bool proven = false;
        if (o->pub) {
            uint8_t(*p)[32] = NULL;
            size_t pn = 0;
            if (s_proof(json_object_get(e, "proof"), &p, &pn) != 0 ||
                egide_merkle_verify_inclusion(lh, index, cp.size, (const uint8_t(*)[32])p, pn,
                                              cp.root) != EGIDE_OK) {
                free(p);
                egide_wire_free(EGIDE_WIRE_AUDIT_EVENT, ev);
                ret = cli_fail(o->what,
                               "entry %llu: the inclusion proof does not match the signed "
                               "checkpoint of size %llu",
                               (unsigned long long)index, (unsigned long long)cp.size);
                break;
            }
            free(p);
            proven = true;
        }
        if (t->n == EGIDE_AUDITLOG_MAX_MSG_EVENTS) {
            egide_wire_free(EGIDE_WIRE_AUDIT_EVENT, ev);
            break;
        }
        t->index[t->n] = index;
        t->ev[t->n] = ev;
        t->proven[t->n] = proven;
        t->n++;
    }
    /* Events after the checkpoint: fetched as entries, shown as pending. */
    json_t *pending = json_object_get(j, "pending");
    for (size_t i = 0; ret == 0 && i < json_array_size(pending); i++) {
        uint64_t index = 0;
        if (!s_u64(json_array_get(pending, i), &index) || t->n == EGIDE_AUDITLOG_MAX_MSG_EVENTS)
            break;
        (void)snprintf(pq, sizeof pq, "/v1/audit/entries?start=%llu&end=%llu",
                       (unsigned long long)index, (unsigned long long)index + 1);
        json_t *pj = s_get_json(o, pq);
        json_t *e = json_array_get(json_object_get(pj, "entries"), 0);
        const char *leaf64 = json_string_value(json_object_get(e, "leaf"));
        uint8_t *leaf = NULL;
        size_t len = 0;
        Egide__V1__AuditEvent *ev = NULL;
        if (leaf64 && egide_base64_decode(leaf64, strlen(leaf64), &leaf, &len,
                                          EGIDE_AUDITLOG_MAX_LEAF) == EGIDE_OK)
            ev = s_event_for(leaf, len, id);
        free(leaf);
        json_decref(pj);
        if (!ev) {
            ret = cli_fail(o->what, "entry %llu is not an event of this message",
                           (unsigned long long)index);
            break;
        }
        t->index[t->n] = index;
        t->ev[t->n] = ev;
        t->proven[t->n] = false;
        t->n++;
    }
    json_decref(j);
    if (ret != 0) {
        s_trail_free(t);
        return ret;
    }
    *out = t;
    if (cp_out)
        *cp_out = cp;
    return 0;
}

static int s_cmd_prove(s_opts_t *o)
{
    uint8_t id[16];
    if (s_parse_msgid(o->what, o->arg, id) || s_need_anchor(o))
        return 1;
    char hex[33];
    egide_hex_encode(id, 16, hex);
    s_trail_t *t = NULL;
    egide_checkpoint_t cp;
    int ret = s_fetch_trail(o, id, hex, true, &t, &cp);
    if (ret)
        return ret;
    size_t proven = 0;
    for (size_t i = 0; i < t->n; i++)
        proven += t->proven[i];
    if (proven == 0) {
        s_trail_free(t);
        return cli_fail(o->what, "no event of message %s is covered by a checkpoint yet", hex);
    }
    char footer[512];
    (void)snprintf(footer, sizeof footer,
                   "proven: %zu event(s) included in the signed checkpoint of %s at size %llu%s",
                   proven, cp.origin, (unsigned long long)cp.size,
                   proven < t->n ? " (later events are not in a checkpoint yet)" : "");
    s_trail_print(o, t, hex, footer);
    s_trail_free(t);
    return 0;
}

/* ---------------------------------------------------------------- consistency */

static int s_cmd_consistency(s_opts_t *o)
{
    if (!o->from)
        return cli_fail(o->what, "give the checkpoint kept earlier with --from FILE");
    if (s_need_anchor(o))
        return 1;
    uint8_t *old = NULL;
    size_t old_len = 0;
    egide_rc rc = egide_file_read(o->from, EGIDE_CHECKPOINT_MAX_NOTE, &old, &old_len);
    if (rc != EGIDE_OK)
        return cli_fail_rc(o->what, rc, "--from %s", o->from);
    egide_checkpoint_t oldcp, newcp;
    if ((rc = s_verify_note(o, (const char *)old, &oldcp)) != EGIDE_OK) {
        free(old);
        return cli_fail_rc(o->what, rc, "--from %s is not a checkpoint signed by the anchored key",
                           o->from);
    }
    size_t len = 0;
    char *note = s_get(o, "/v1/audit/checkpoint", &len, false);
    if (!note) {
        free(old);
        return 1;
    }
    uint8_t(*p)[32] = NULL;
    size_t pn = 0;
    int ret = 0;
    egide_checkpoint_t peek;
    memset(&peek, 0, sizeof peek);
    memset(&newcp, 0, sizeof newcp);
    if (strlen(note) != len || egide_checkpoint_parse(note, len, &peek) != EGIDE_OK) {
        ret = cli_fail(o->what, "the broker's checkpoint is not a signed note");
    } else if (oldcp.size > 0 && peek.size > oldcp.size) {
        char pq[128];
        (void)snprintf(pq, sizeof pq, "/v1/audit/proof/consistency?from=%llu&to=%llu",
                       (unsigned long long)oldcp.size, (unsigned long long)peek.size);
        json_t *j = s_get_json(o, pq);
        if (!j)
            ret = 1;
        else if (s_proof(json_object_get(j, "proof"), &p, &pn) != 0)
            ret = cli_fail(o->what, "malformed consistency proof");
        json_decref(j);
    }
    if (ret == 0) {
        rc = egide_witness_check((const char *)old, old_len, note, len,
                                 o->origin ? o->origin : oldcp.origin, o->pub,
                                 (const uint8_t(*)[32])p, pn, &newcp);
        switch (rc) {
        case EGIDE_OK:
            break;
        case EGIDE_ERR_SIGNATURE:
            ret = cli_fail(o->what, "the broker's new checkpoint is not signed by the anchored "
                                    "key");
            break;
        case EGIDE_ERR_VERSION:
        case EGIDE_ERR_CONSISTENCY: {
            bool shorter = rc == EGIDE_ERR_VERSION;
            ret = cli_fail(
                o->what, "the broker's log (size %llu) %s the trusted checkpoint (size %llu): %s",
                (unsigned long long)peek.size, shorter ? "is smaller than" : "does not extend",
                (unsigned long long)oldcp.size,
                shorter ? "entries were removed" : "its history was rewritten or forked");
            break;
        }
        default:
            ret = cli_fail_rc(o->what, rc, "checking consistency");
            break;
        }
    }
    if (ret == 0 && o->update && newcp.size > oldcp.size &&
        (rc = egide_file_write_atomic(o->from, note, len, 0644)) != EGIDE_OK)
        ret = cli_fail_rc(o->what, rc, "updating %s", o->from);
    if (ret == 0) {
        if (o->json) {
            json_t *j = json_pack("{s:b,s:s,s:I,s:I,s:b}", "consistent", 1, "origin", newcp.origin,
                                  "from", (json_int_t)oldcp.size, "to", (json_int_t)newcp.size,
                                  "updated", o->update && newcp.size > oldcp.size);
            s_print_json(j);
        } else {
            printf("consistent: %s grew from %llu to %llu entries without rewriting history%s\n",
                   newcp.origin, (unsigned long long)oldcp.size, (unsigned long long)newcp.size,
                   o->update && newcp.size > oldcp.size ? " (checkpoint file updated)" : "");
        }
    }
    free(p);
    free(note);
    free(old);
    return ret;
}

/* ---------------------------------------------------------------- export */

/* Write one JSON value compactly to f; 0 on success. */
static int s_put(FILE *f, json_t *j)
{
    int r = j ? json_dumpf(j, f, JSON_COMPACT | JSON_ENCODE_ANY) : -1;
    json_decref(j);
    return r;
}

/* The export is written as it is fetched (one entry per line, so memory
 * stays flat whatever the log size) into FILE.part, then fsync'ed and
 * renamed over FILE. */
static int s_cmd_export(s_opts_t *o)
{
    if (!o->out)
        return cli_fail(o->what, "give the output file with --out FILE");
    char part[4096];
    if (egide_snprintf(part, sizeof part, "%s.part", o->out) != EGIDE_OK)
        return cli_fail(o->what, "--out: path too long");
    FILE *f = fopen(part, "w");
    if (!f)
        return cli_fail(o->what, "--out %s: cannot create %s", o->out, part);
    uint64_t size = 0, start = 0;
    int ret = 0, io = 0;
    cli_progress_t pg;
    cli_progress_start(&pg, o->what, "entries");
    /* Entries first: the export's size is the log size at the first page. */
    for (int page = 0; ret == 0; page++) {
        char pq[128];
        if (page == 0)
            (void)snprintf(pq, sizeof pq, "/v1/audit/entries?start=0");
        else
            (void)snprintf(pq, sizeof pq, "/v1/audit/entries?start=%llu&end=%llu",
                           (unsigned long long)start, (unsigned long long)size);
        json_t *j = s_get_json(o, pq);
        if (!j) {
            ret = 1;
            break;
        }
        if (page == 0) {
            if (!s_u64(json_object_get(j, "tree_size"), &size))
                ret = cli_fail(o->what, "malformed entries page");
            else
                io |= fprintf(f,
                              "{\"format\":\"egide-audit-export/1\",\"exported_ms\":%lld,"
                              "\"tree_size\":%llu,\n\"entries\":[",
                              (long long)egide_now_ms(), (unsigned long long)size) < 0;
        }
        json_t *arr = json_object_get(j, "entries");
        size_t k = json_array_size(arr);
        for (size_t i = 0; ret == 0 && i < k && start < size; i++) {
            json_t *e = json_array_get(arr, i);
            uint64_t idx = 0;
            json_t *lh = json_object_get(e, "leaf_hash");
            if (!s_u64(json_object_get(e, "index"), &idx) || idx != start ||
                !json_is_string(json_object_get(e, "leaf"))) {
                ret = cli_fail(o->what, "malformed entry %llu", (unsigned long long)start);
                break;
            }
            io |= fputs(start ? ",\n" : "\n", f) < 0;
            io |= s_put(f, json_pack("{s:I,s:O,s:O}", "index", (json_int_t)idx, "leaf",
                                     json_object_get(e, "leaf"), "leaf_hash",
                                     lh ? lh : json_null())) != 0;
            start++;
        }
        cli_progress_update(&pg, start, size);
        json_decref(j);
        if (ret == 0 && k == 0 && start < size)
            ret = cli_fail(o->what, "the broker returned no entries at %llu",
                           (unsigned long long)start);
        if (start >= size)
            break;
    }
    /* Checkpoints up to that size (later ones would name entries not exported). */
    if (ret == 0)
        io |= fputs("],\n\"checkpoints\":[", f) < 0;
    uint64_t cstart = 0, ncps = 0;
    for (int guard = 0; ret == 0 && guard < 100000; guard++) {
        char pq[128];
        (void)snprintf(pq, sizeof pq, "/v1/audit/checkpoints?start=%llu",
                       (unsigned long long)cstart);
        json_t *j = s_get_json(o, pq);
        if (!j) {
            ret = 1;
            break;
        }
        json_t *arr = json_object_get(j, "checkpoints");
        for (size_t i = 0; i < json_array_size(arr); i++) {
            json_t *c = json_array_get(arr, i);
            uint64_t cs = 0;
            if (s_u64(json_object_get(c, "size"), &cs) && cs <= size &&
                json_is_string(json_object_get(c, "note"))) {
                io |= fputs(ncps++ ? ",\n" : "\n", f) < 0;
                io |= s_put(f, json_incref(json_object_get(c, "note"))) != 0;
            }
        }
        uint64_t next = 0;
        int more = s_u64(json_object_get(j, "next"), &next) && next > cstart && next <= size;
        json_decref(j);
        if (!more)
            break;
        cstart = next;
    }
    cli_progress_end(&pg);
    if (ret == 0)
        io |= fputs("]}\n", f) < 0;
    io |= fflush(f) != 0 || fsync(fileno(f)) != 0;
    io |= fclose(f) != 0;
    if (ret == 0 && io)
        ret = cli_fail(o->what, "--out %s: write failed", o->out);
    if (ret == 0 && rename(part, o->out) != 0)
        ret = cli_fail(o->what, "--out %s: cannot rename %s", o->out, part);
    if (ret != 0) {
        (void)remove(part);
        return ret;
    }
    if (o->json)
        printf("{\"entries\": %llu, \"checkpoints\": %llu}\n", (unsigned long long)size,
               (unsigned long long)ncps);
    else
        printf("exported %llu entries and %llu checkpoints to %s\n", (unsigned long long)size,
               (unsigned long long)ncps, o->out);
    return 0;
}

/* ---------------------------------------------------------------- verify */

static json_t *s_load_export(const char *what, const char *path)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    egide_rc rc = egide_file_read(path, (size_t)S_MAX_EXPORT, &buf, &len);
    if (rc != EGIDE_OK) {
        cli_fail_rc(what, rc, "%s", path);
        return NULL;
    }
    json_error_t e;
    json_t *j = json_loadb((const char *)buf, len, 0, &e);
    free(buf);
    if (!j || !json_is_object(j) || !json_is_array(json_object_get(j, "entries")) ||
        !json_is_array(json_object_get(j, "checkpoints"))) {
        cli_fail(what, "%s: not an egide audit export (line %d)", path, j ? 0 : e.line);
        json_decref(j);
        return NULL;
    }
    return j;
}

static int s_report(const s_opts_t *o, const egide_auditverify_report_t *r, const char *src)
{
    char root[65];
    egide_hex_encode(r->root, 32, root);
    if (o->json) {
        json_t *j = json_pack("{s:b,s:s,s:I,s:I,s:I,s:s}", "ok", r->ok, "source", src, "entries",
                              (json_int_t)r->size, "checkpoints", (json_int_t)r->checkpoints,
                              "messages", (json_int_t)r->messages, "root", root);
        if (j)
            json_object_set_new(j, "signed_entries", json_integer((json_int_t)r->signed_size));
        if (j && !r->ok) {
            json_object_set_new(j, "problem", json_string(r->problem));
            json_object_set_new(j, "bad_index",
                                r->bad_index == EGIDE_AUDITVERIFY_NO_INDEX
                                    ? json_null()
                                    : json_integer((json_int_t)r->bad_index));
            if (r->bad_end)
                json_object_set_new(j, "bad_range_end", json_integer((json_int_t)r->bad_end));
        }
        s_print_json(j);
    }
    if (!r->ok) {
        if (r->bad_index == EGIDE_AUDITVERIFY_NO_INDEX)
            return cli_fail(o->what, "%s: %s", src, r->problem);
        if (r->bad_end)
            return cli_fail(o->what, "%s: first bad index in [%llu, %llu): %s", src,
                            (unsigned long long)r->bad_index, (unsigned long long)r->bad_end,
                            r->problem);
        return cli_fail(o->what, "%s: first bad index %llu: %s", src,
                        (unsigned long long)r->bad_index, r->problem);
    }
    if (!o->json)
        printf("verified %s: %llu entries, %llu signed checkpoints, %llu messages\n"
               "%llu entries under the latest signed checkpoint\nroot %s\n",
               src, (unsigned long long)r->size, (unsigned long long)r->checkpoints,
               (unsigned long long)r->messages, (unsigned long long)r->signed_size, root);
    return 0;
}

static int s_cmd_verify(s_opts_t *o)
{
    if (!o->arg == !o->db)
        return cli_fail(o->what, "give an export FILE or --db BROKER.sqlite (one of them)");
    if (s_need_anchor(o))
        return 1;
    egide_auditverify_report_t rep;
    memset(&rep, 0, sizeof rep);
    if (o->db) {
        sqlite3 *db = NULL;
        egide_auditlog_t *log = NULL;
        egide_rc rc = egide_db_open(o->db, true, &db);
        if (rc == EGIDE_OK)
            rc = egide_auditlog_open(db, &log);
        cli_progress_t pg;
        cli_progress_start(&pg, o->what, "entries");
        if (rc == EGIDE_OK)
            rc = egide_auditlog_verify_all_progress(log, o->origin, o->pub, true,
                                                    pg.out ? cli_progress_cb : NULL, &pg, &rep);
        cli_progress_end(&pg);
        egide_auditlog_destroy(&log);
        egide_db_close(&db);
        if (rc != EGIDE_OK && rc != EGIDE_ERR_CONSISTENCY)
            return cli_fail_rc(o->what, rc, "--db %s", o->db);
        return s_report(o, &rep, o->db);
    }
    json_t *doc = s_load_export(o->what, o->arg);
    if (!doc)
        return 1;
    egide_auditverify_t *v = egide_auditverify_new(o->origin, o->pub, o->origin, true);
    if (!v) {
        json_decref(doc);
        return cli_fail(o->what, "out of memory");
    }
    json_t *cps = json_object_get(doc, "checkpoints");
    json_t *entries = json_object_get(doc, "entries");
    egide_rc rc = EGIDE_OK;
    cli_progress_t pg;
    cli_progress_start(&pg, o->what, "entries");
    for (size_t i = 0; i < json_array_size(cps) && rc == EGIDE_OK; i++) {
        const char *note = json_string_value(json_array_get(cps, i));
        if (!note) {
            egide_auditverify_fail(v, EGIDE_AUDITVERIFY_NO_INDEX, "a checkpoint is not a string");
            break;
        }
        rc = egide_auditverify_add_checkpoint(v, note, strlen(note));
    }
    for (size_t i = 0; i < json_array_size(entries) && rc == EGIDE_OK; i++) {
        json_t *e = json_array_get(entries, i);
        uint64_t idx = 0;
        const char *leaf64 = json_string_value(json_object_get(e, "leaf"));
        uint8_t *leaf = NULL, lh[32];
        size_t len = 0;
        json_t *jh = json_object_get(e, "leaf_hash");
        if (!s_u64(json_object_get(e, "index"), &idx) || !leaf64 ||
            egide_base64_decode(leaf64, strlen(leaf64), &leaf, &len, EGIDE_AUDITLOG_MAX_LEAF) !=
                EGIDE_OK ||
            (jh && !json_is_null(jh) && !s_b64_32(jh, lh))) {
            free(leaf);
            char why[128];
            (void)snprintf(why, sizeof why, "entry #%zu of the file is malformed", i);
            egide_auditverify_fail(v, i, why);
            break;
        }
        rc = egide_auditverify_add_leaf(v, idx, leaf, len, jh && !json_is_null(jh) ? lh : NULL);
        free(leaf);
        cli_progress_update(&pg, i + 1, json_array_size(entries));
    }
    cli_progress_end(&pg);
    if (rc != EGIDE_OK && rc != EGIDE_ERR_CONSISTENCY) {
        egide_auditverify_destroy(&v);
        json_decref(doc);
        return cli_fail_rc(o->what, rc, "%s", o->arg);
    }
    uint64_t claimed = 0;
    egide_auditverify_finish(v, &rep);
    if (rep.ok && s_u64(json_object_get(doc, "tree_size"), &claimed) && claimed != rep.size) {
        char why[160];
        (void)snprintf(why, sizeof why, "the file says %llu entries but holds %llu",
                       (unsigned long long)claimed, (unsigned long long)rep.size);
        egide_auditverify_fail(v, rep.size, why);
        egide_auditverify_finish(v, &rep);
    }
    egide_auditverify_destroy(&v);
    json_decref(doc);
    return s_report(o, &rep, o->arg);
}

/* ---------------------------------------------------------------- history */

static int s_cmd_history(s_opts_t *o)
{
    uint8_t id[16];
    if (s_parse_msgid(o->what, o->arg, id))
        return 1;
    char hex[33];
    egide_hex_encode(id, 16, hex);
    /* history MSGID [FILE]: the source is --db, an export FILE, or the API. */
    const char *file = o->arg2;
    if (file && o->db)
        return cli_fail(o->what, "give an export FILE or --db, not both");
    s_trail_t *t = NULL;
    const char *footer = NULL;
    if (o->db || file) {
        t = calloc(1, sizeof *t);
        if (!t)
            return cli_fail(o->what, "out of memory");
        footer = "(read from a file: run `egide audit verify` on it to check it)";
    }
    if (o->db) {
        sqlite3 *db = NULL;
        egide_auditlog_t *log = NULL;
        uint64_t *idx = NULL;
        size_t n = 0;
        egide_rc rc = egide_db_open(o->db, true, &db);
        if (rc == EGIDE_OK)
            rc = egide_auditlog_open(db, &log);
        if (rc == EGIDE_OK)
            rc = egide_auditlog_find_msg(log, id, &idx, &n);
        for (size_t i = 0; rc == EGIDE_OK && i < n; i++) {
            uint8_t *leaf = NULL;
            size_t len = 0;
            rc = egide_auditlog_leaf(log, idx[i], &leaf, &len);
            Egide__V1__AuditEvent *ev = rc == EGIDE_OK ? s_event_for(leaf, len, id) : NULL;
            free(leaf);
            if (ev) {
                t->index[t->n] = idx[i];
                t->ev[t->n++] = ev;
            }
        }
        free(idx);
        egide_auditlog_destroy(&log);
        egide_db_close(&db);
        if (rc != EGIDE_OK) {
            s_trail_free(t);
            return cli_fail_rc(o->what, rc, "--db %s", o->db);
        }
    } else if (file) {
        json_t *doc = s_load_export(o->what, file);
        if (!doc) {
            s_trail_free(t);
            return 1;
        }
        json_t *entries = json_object_get(doc, "entries");
        for (size_t i = 0; i < json_array_size(entries) && t->n < EGIDE_AUDITLOG_MAX_MSG_EVENTS;
             i++) {
            json_t *e = json_array_get(entries, i);
            const char *leaf64 = json_string_value(json_object_get(e, "leaf"));
            uint8_t *leaf = NULL;
            size_t len = 0;
            uint64_t idx = 0;
            if (!leaf64 || !s_u64(json_object_get(e, "index"), &idx) ||
                egide_base64_decode(leaf64, strlen(leaf64), &leaf, &len, EGIDE_AUDITLOG_MAX_LEAF) !=
                    EGIDE_OK)
                continue;
            Egide__V1__AuditEvent *ev = s_event_for(leaf, len, id);
            free(leaf);
            if (ev) {
                t->index[t->n] = idx;
                t->ev[t->n++] = ev;
            }
        }
        json_decref(doc);
    } else {
        int ret = s_fetch_trail(o, id, hex, false, &t, NULL);
        if (ret)
            return ret;
        footer = o->pub ? "(each event marked without a note is proven against the signed "
                          "checkpoint)"
                        : "(not verified: give --anchor to check proofs)";
    }
    if (t->n == 0) {
        s_trail_free(t);
        return cli_fail(o->what, "no audit event for message %s", hex);
    }
    s_trail_print(o, t, hex, footer);
    s_trail_free(t);
    return 0;
}

/* ---------------------------------------------------------------- dispatch */

int cmd_audit(int argc, char **argv)
{
    size_t which = 0;
    cli_args_t args;
    int ret = cli_parse_sub("audit",
                            "Check the broker's tamper-evident audit log (ids, types, hashes, "
                            "times; never content).",
                            s_subs, sizeof s_subs / sizeof s_subs[0], argc, argv, &which, &args);
    if (ret)
        return ret == CLI_HELP ? 0 : ret;
    s_opts_t o;
    memset(&o, 0, sizeof o);
    o.what = s_subs[which].name;
    ret = s_parse(&o, &args);
    if (ret == 0)
        ret = s_sub_fns[which](&o);
    s_opts_free(&o);
    return cli_conn_done(&o.conn, ret);
}
