/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cli_api.c - the `egide` commands that talk to the local edge's REST API:
 * send, inbox, outbox, show, ack and status.
 *
 * Each command is one option table (cli_opts.c parses it) plus the shared
 * daemon options (--api URL, --token-file FILE, --config FILE, --timeout MS,
 * --json) that cli_conn.c resolves: command line, then the [api] section of
 * the configuration file, then the defaults.  Failures are one line on
 * stderr, "egide: WHAT: why", with a non-zero exit (2 for usage errors, 1
 * otherwise).  --json prints the server's JSON as it came.
 *
 * Strings from the server (types, node ids, reasons) come from other
 * parties: they are stripped of control characters before they reach the
 * terminal, so a crafted value cannot move the cursor or forge lines.
 * Payloads, which hold referral content, are printed only on request
 * (show --payload) or written to a 0600 file (show --out).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "egide/domain/egide_payload.h"
#include "egide/net/egide_httpc.h"
#include "egide/base/egide_limits.h"
#include "egide/base/egide_util.h"

#define S_MAX_TO 32 /* EGIDE_MAX_RECIPIENTS */

/* Milliseconds since the epoch as a local ISO date, "-" for 0 or absent. */
enum { S_T_MIN, S_T_SEC, S_T_ISO }; /* table, details, full ISO 8601 with the offset */
static const char *s_time(json_t *o, const char *key, int style, char *out, size_t outsz)
{
    json_t *v = json_object_get(o, key);
    json_int_t ms = json_is_integer(v) ? json_integer_value(v) : 0;
    struct tm tm;
    time_t t = (time_t)(ms / 1000);
    size_t n = 0;
    if (ms > 0 && localtime_r(&t, &tm)) {
        if (style == S_T_MIN)
            n = strftime(out, outsz, "%Y-%m-%d %H:%M %Z", &tm);
        else if (style == S_T_SEC)
            n = strftime(out, outsz, "%Y-%m-%d %H:%M:%S %Z", &tm);
        else
            n = strftime(out, outsz, "%Y-%m-%dT%H:%M:%S%z", &tm);
    }
    if (!n)
        (void)snprintf(out, outsz, "-");
    return out;
}

static bool s_is_msg_id(const char *s)
{
    return strlen(s) == 2 * EGIDE_MSG_ID_LEN &&
           strspn(s, "0123456789abcdefABCDEF") == 2 * EGIDE_MSG_ID_LEN;
}

static bool s_in(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

static const char *const s_urgencies[] = {"normal", "urgent", "immediate", NULL};

/* ---- send ------------------------------------------------------------ */

/* The whole of stdin, at most EGIDE_MAX_PAYLOAD bytes, NUL-terminated. */
static egide_rc s_read_stdin(uint8_t **out, size_t *len)
{
    egide_buf_t b;
    egide_buf_init(&b, EGIDE_MAX_PAYLOAD + 1);
    uint8_t chunk[16384];
    size_t n;
    egide_rc rc = EGIDE_OK;
    while (rc == EGIDE_OK && (n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        rc = egide_buf_append(&b, chunk, n);
    if (rc == EGIDE_OK && ferror(stdin))
        rc = EGIDE_ERR_IO;
    if (rc == EGIDE_OK && b.len > EGIDE_MAX_PAYLOAD)
        rc = EGIDE_ERR_LIMIT;
    if (rc == EGIDE_OK)
        rc = egide_buf_append(&b, "", 1);
    egide_wipe(chunk, sizeof chunk);
    if (rc) {
        egide_buf_free_secret(&b);
        return rc;
    }
    *out = b.data;
    *len = b.len - 1;
    return EGIDE_OK;
}

static int s_send_body(cli_conn_t *ctx, const char *type, const char **to, size_t nto,
                       const char *commune, const char *file, const char *urgency,
                       const char *reply, const char *ctype, const char *override, json_t **out)
{
    uint8_t *data = NULL;
    size_t len = 0;
    egide_rc rc = strcmp(file, "-") == 0 ? s_read_stdin(&data, &len)
                                         : egide_file_read(file, EGIDE_MAX_PAYLOAD, &data, &len);
    if (strcmp(file, "-") == 0)
        file = "(stdin)";
    if (rc == EGIDE_ERR_LIMIT)
        return cli_fail(ctx->what, "%s: larger than %u bytes", file, EGIDE_MAX_PAYLOAD);
    if (rc)
        return cli_fail(ctx->what, "%s: cannot read the payload file", file);
    json_t *o = json_object();
    int ret = 0;
    if (!o) {
        ret = cli_fail(ctx->what, "out of memory");
        goto done;
    }
    json_object_set_new(o, "type", json_string(type));
    if (nto) {
        json_t *a = json_array();
        for (size_t i = 0; i < nto; i++)
            json_array_append_new(a, json_string(to[i]));
        json_object_set_new(o, "to", a);
    } else if (commune) {
        json_object_set_new(o, "commune", json_string(commune));
    } /* neither: the edge routes by the children's commune in the payload */
    if (override)
        json_object_set_new(o, "routing_override", json_pack("{s:s}", "reason", override));
    if (urgency)
        json_object_set_new(o, "urgency", json_string(urgency));
    if (reply) {
        char lower[2 * EGIDE_MSG_ID_LEN + 1];
        for (size_t i = 0; i < sizeof lower; i++)
            lower[i] = (char)((reply[i] >= 'A' && reply[i] <= 'F') ? reply[i] + 32 : reply[i]);
        json_object_set_new(o, "in_reply_to", json_string(lower));
    }
    if (!ctype || strcmp(ctype, "application/json") == 0) {
        json_error_t jerr;
        json_t *p = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!p) {
            char t[160];
            ret = cli_fail(ctx->what, "%s: not valid JSON (line %d: %s)", file, jerr.line,
                           cli_clean(jerr.text, t, sizeof t));
            goto done;
        }
        if (!json_is_object(p)) {
            json_decref(p);
            ret = cli_fail(ctx->what, "%s: the payload must be a JSON object", file);
            goto done;
        }
        json_object_set_new(o, "payload", p);
    } else {
        char *b64 = egide_base64_encode(data, len);
        if (!b64) {
            ret = cli_fail(ctx->what, "out of memory");
            goto done;
        }
        json_object_set_new(o, "payload_b64", json_string(b64));
        json_object_set_new(o, "content_type", json_string(ctype));
        egide_free_secret(b64, strlen(b64));
    }
done:
    egide_free_secret(data, len);
    if (ret) {
        json_decref(o);
        return ret;
    }
    *out = o;
    return 0;
}

static const cli_opt_t s_send_opts[] = {
    {"--type", CLI_VALUE, "TYPE", "message type, e.g. snated.transmission", true},
    {"--to", CLI_LIST, "NODE", "recipient node id", false},
    {"--commune", CLI_VALUE, "CODE",
     "route by this commune (INSEE code), one of the children's unless overridden", false},
    {"--override-reason", CLI_VALUE, "TEXT",
     "route by --commune although the payload disagrees, and why (travels in the message)", false},
    {"--file", CLI_VALUE, "PAYLOAD", "the payload: a file, or - for stdin", true},
    {"--urgency", CLI_VALUE, "U", "normal, urgent or immediate", false},
    {"--in-reply-to", CLI_VALUE, "MSG_ID", "the message this one answers", false},
    {"--content-type", CLI_VALUE, "TYPE", "payload bytes of this type instead of JSON", false},
    {NULL, CLI_FLAG, NULL, NULL, false},
};
static const char s_about_send[] =
    "Submit a message through the local edge.  PAYLOAD is a JSON object, or any bytes\n"
    "when --content-type is given (other than application/json).  Without --to or\n"
    "--commune the edge routes by the children's commune in the payload.  --commune\n"
    "must be one of the children's communes, and the payload's territory the one the\n"
    "directory gives for it, unless --override-reason says why not.  Prints the\n"
    "message id and its recipients.";
static const cli_cmd_t s_send_cmd =
    CLI_CMD("send", NULL, 0, 0, s_about_send, s_send_opts, cli_api_opts, cli_json_opts);

static int s_send(const cli_args_t *args)
{
    const char *type = cli_get(args, "--type"), *commune = cli_get(args, "--commune");
    const char *file = cli_get(args, "--file"), *urgency = cli_get(args, "--urgency");
    const char *reply = cli_get(args, "--in-reply-to"), *ctype = cli_get(args, "--content-type");
    const char *override = cli_get(args, "--override-reason");
    const char *to[S_MAX_TO];
    size_t nto = cli_list(args, "--to", to, S_MAX_TO);
    if (nto > S_MAX_TO)
        return cli_fail("send", "at most %d recipients", S_MAX_TO) + 1;
    cli_conn_t ctx;
    if (!*type)
        return cli_fail("send", "--type TYPE is required") + 1;
    if (strlen(type) > EGIDE_MAX_TYPE_NAME)
        return cli_fail("send", "--type: longer than %u characters", EGIDE_MAX_TYPE_NAME) + 1;
    if (nto && commune)
        return cli_fail("send", "--to and --commune are exclusive") + 1;
    for (size_t i = 0; i < nto; i++)
        if (!*to[i] || strlen(to[i]) > EGIDE_MAX_NODE_ID)
            return cli_fail("send", "--to: '%s' is not a node id", to[i]) + 1;
    if (commune && (strlen(commune) != 5 || strspn(commune, "0123456789ABab") != 5))
        return cli_fail("send", "--commune: '%s' is not an INSEE commune code (5 characters)",
                        commune) +
               1;
    if (override) {
        const char *why = egide_payload_override_reason_problem(override, strlen(override));
        if (why)
            return cli_fail("send", "--override-reason: %s", why) + 1;
        if (nto)
            return cli_fail("send", "--override-reason is for routing by commune, not with --to") +
                   1;
    }
    if (urgency && !s_in(urgency, s_urgencies))
        return cli_fail("send", "--urgency: '%s' is not normal, urgent or immediate", urgency) + 1;
    if (reply && !s_is_msg_id(reply))
        return cli_fail("send", "--in-reply-to: '%s' is not a message id (32 hex characters)",
                        reply) +
               1;

    int ret = cli_conn_setup(&ctx, args, &cli_edge);
    json_t *body = NULL, *res = NULL;
    egide_httpc_resp_t r = {0};
    if (ret)
        goto done;
    ret = s_send_body(&ctx, type, to, nto, commune, file, urgency, reply, ctype, override, &body);
    if (ret)
        goto done;
    ret = cli_conn_call(&ctx, "POST", "/v1/messages", body, NULL, &r, &res);
    if (ret)
        goto done;
    if (ctx.json) {
        cli_conn_print_raw(&r);
        goto done;
    }
    char id[80], state[32];
    printf("%s\n", cli_field(res, "id", id, sizeof id));
    printf("state: %s\n", cli_field(res, "state", state, sizeof state));
    json_t *rec = json_object_get(res, "recipients");
    printf("recipients:");
    for (size_t i = 0; i < json_array_size(rec); i++) {
        char n[EGIDE_MAX_NODE_ID + 1];
        printf(" %s", cli_clean(json_string_value(json_array_get(rec, i)), n, sizeof n));
    }
    printf("\n");
    if (json_object_get(res, "routing_override"))
        printf("routing override: recorded in the payload and in this edge's store\n");
done:
    json_decref(body);
    json_decref(res);
    egide_httpc_resp_free(&r);
    return cli_conn_done(&ctx, ret);
}

const cli_entry_t cli_send = {&s_send_cmd, s_send};

/* ---- inbox / outbox ---------------------------------------------------- */

/* "node=state node=state" for a message's recipients. */
static const char *s_recipients_line(json_t *m, char *out, size_t outsz)
{
    json_t *rec = json_object_get(m, "recipients");
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < json_array_size(rec) && o + 1 < outsz; i++) {
        json_t *r = json_array_get(rec, i);
        char node[EGIDE_MAX_NODE_ID + 1], st[32];
        if (json_is_string(r)) {
            cli_clean(json_string_value(r), node, sizeof node);
            st[0] = '\0';
        } else {
            cli_field(r, "node", node, sizeof node);
            cli_field(r, "state", st, sizeof st);
        }
        int n = snprintf(out + o, outsz - o, "%s%s%s%s", i ? " " : "", node, st[0] ? "=" : "", st);
        if (n < 0 || (size_t)n >= outsz - o)
            break;
        o += (size_t)n;
    }
    if (!out[0])
        (void)snprintf(out, outsz, "-");
    return out;
}

#define S_STR_(x) #x
#define S_STR(x)  S_STR_(x)
/* The states each box's API accepts (edge_in_state_parse and
 * edge_overall_state_known at the edge). */
static const char *const s_in_states[] = {"delivered", "acknowledged", NULL};
static const char *const s_out_states[] = {"queued",         "accepted", "delivered",
                                           "acknowledged",   "rejected", "partly_rejected",
                                           "partly_expired", "expired",  NULL};
static const cli_opt_t s_inbox_opts[] = {
    {"--state", CLI_VALUE, "STATE", "only messages in STATE: delivered or acknowledged", false},
    {"--limit", CLI_VALUE, "N",
     "at most N messages (1.." S_STR(EGIDE_LIST_PAGE_MAX) ", default 100)", false},
    {"--after", CLI_VALUE, "CURSOR", "the next page (the cursor the previous run printed)", false},
    {NULL, CLI_FLAG, NULL, NULL, false},
};
static const cli_opt_t s_outbox_opts[] = {
    {"--state", CLI_VALUE, "STATE",
     "only messages in STATE: queued, accepted, delivered, acknowledged, rejected, "
     "partly_rejected, partly_expired, expired",
     false},
    {"--limit", CLI_VALUE, "N",
     "at most N messages (1.." S_STR(EGIDE_LIST_PAGE_MAX) ", default 100)", false},
    {"--after", CLI_VALUE, "CURSOR", "the next page (the cursor the previous run printed)", false},
    {NULL, CLI_FLAG, NULL, NULL, false},
};
static const char s_about_inbox[] =
    "List the messages received, newest first, with their states; one page, then the command "
    "for the next one.";
static const cli_cmd_t s_inbox_cmd =
    CLI_CMD("inbox", NULL, 0, 0, s_about_inbox, s_inbox_opts, cli_api_opts, cli_json_opts);
static const char s_about_outbox[] =
    "List the messages sent, newest first, with their states per recipient; one page, then the "
    "command for the next one.";
static const cli_cmd_t s_outbox_cmd =
    CLI_CMD("outbox", NULL, 0, 0, s_about_outbox, s_outbox_opts, cli_api_opts, cli_json_opts);

static int s_list(const cli_args_t *args)
{
    const char *what = args->cmd->name;
    const char *box = args->cmd == &s_inbox_cmd ? "inbox" : "outbox";
    const char *state = cli_get(args, "--state"), *v = cli_get(args, "--limit");
    const char *after = cli_get(args, "--after");
    bool inbox = strcmp(box, "inbox") == 0;
    int64_t limit = 0;
    if (state && !s_in(state, inbox ? s_in_states : s_out_states))
        return cli_fail(what, "--state: '%s' is not one of %s", state,
                        inbox ? "delivered, acknowledged"
                              : "queued, accepted, delivered, acknowledged, rejected, "
                                "partly_rejected, partly_expired, expired") +
               1;
    if (v && egide_parse_int64(v, 1, EGIDE_LIST_PAGE_MAX, &limit))
        return cli_fail(what, "--limit: a number from 1 to %d", EGIDE_LIST_PAGE_MAX) + 1;
    /* a cursor is what a previous page printed: letters and digits */
    for (const char *c = after; c && *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
              *c == '.' || *c == '-') ||
            c - after > 64)
            return cli_fail(what,
                            "--after: not a cursor (give the one the previous page printed)") +
                   1;
    cli_conn_t ctx;
    json_t *res = NULL;
    egide_httpc_resp_t r = {0};
    char path[256];
    (void)snprintf(path, sizeof path, "/v1/messages?box=%s%s%s", box, state ? "&state=" : "",
                   state ? state : "");
    if (limit) {
        size_t n = strlen(path);
        (void)snprintf(path + n, sizeof path - n, "&limit=%lld", (long long)limit);
    }
    if (after && after[0]) {
        size_t n = strlen(path);
        (void)snprintf(path + n, sizeof path - n, "&after=%s", after);
    }
    int ret = cli_conn_request(&ctx, args, &cli_edge, "GET", path, NULL, NULL, &r, &res);
    if (ret)
        goto done;
    if (ctx.json) {
        cli_conn_print_raw(&r);
        goto done;
    }
    json_t *msgs = json_object_get(res, "messages");
    if (!json_array_size(msgs)) {
        printf("(no messages%s%s)\n", state ? " in state " : "", state ? state : "");
        goto done;
    }
    printf("%-32s  %-26s  %-9s  %-16s  %-12s  %s\n", "ID", "TYPE", "URGENCY",
           inbox ? "RECEIVED" : "CREATED", "STATE", inbox ? "FROM" : "TO (STATE)");
    for (size_t i = 0; i < json_array_size(msgs); i++) {
        json_t *m = json_array_get(msgs, i);
        char id[80], type[80], urg[16], when[40], st[32], who[1024];
        cli_field(m, "id", id, sizeof id);
        cli_field(m, "type", type, sizeof type);
        cli_field(m, "urgency", urg, sizeof urg);
        cli_field(m, "state", st, sizeof st);
        if (inbox) {
            s_time(m, json_object_get(m, "received_ms") ? "received_ms" : "created_ms", S_T_MIN,
                   when, sizeof when);
            cli_field(m, "sender", who, sizeof who);
        } else {
            s_time(m, "created_ms", S_T_MIN, when, sizeof when);
            s_recipients_line(m, who, sizeof who);
        }
        printf("%-32s  %-26s  %-9s  %-16s  %-12s  %s\n", id, type, urg, when, st, who);
    }
    /* The page is not the whole list: say how to get the next one. */
    if (json_is_string(json_object_get(res, "next"))) {
        char next[128];
        printf("more: egide %s%s%s --after %s\n", box, state ? " --state " : "", state ? state : "",
               cli_field(res, "next", next, sizeof next));
    }
done:
    json_decref(res);
    egide_httpc_resp_free(&r);
    return cli_conn_done(&ctx, ret);
}

const cli_entry_t cli_inbox = {&s_inbox_cmd, s_list};

const cli_entry_t cli_outbox = {&s_outbox_cmd, s_list};

/* ---- show -------------------------------------------------------------- */

/* METHOD /v1/messages/ID<suffix> for the command's MSG_ID argument, which
 * is checked first (32 hex digits: never a path of the caller's choosing).
 * Everything is initialised, so the caller frees in every case; returns 0
 * or the exit status (2 for a bad id, nothing sent). */
static int s_msg_request(cli_conn_t *ctx, const cli_args_t *args, const char *method,
                         const char *suffix, json_t *body, egide_httpc_resp_t *r, json_t **res)
{
    const char *id = args->pos[0];
    char path[128];
    memset(ctx, 0, sizeof *ctx);
    memset(r, 0, sizeof *r);
    *res = NULL;
    ctx->what = args->cmd->name;
    if (!s_is_msg_id(id))
        return cli_fail(ctx->what, "'%s' is not a message id (32 hex characters)", id) + 1;
    (void)snprintf(path, sizeof path, "/v1/messages/%s%s", id, suffix);
    return cli_conn_request(ctx, args, &cli_edge, method, path, body, id, r, res);
}

static const cli_opt_t s_show_opts[] = {
    {"--payload", CLI_FLAG, NULL, "print the payload (referral content)", false},
    {"--out", CLI_VALUE, "FILE", "write the payload to FILE (mode 0600)", false},
    {NULL, CLI_FLAG, NULL, NULL, false},
};
static const char s_about_show[] =
    "Show one message: header, per-recipient states and signed receipts.  The payload\n"
    "(referral content) is printed only with --payload, or written to FILE (mode 0600)\n"
    "with --out.";
static const cli_cmd_t s_show_cmd =
    CLI_CMD("show", "MSG_ID", 1, 1, s_about_show, s_show_opts, cli_api_opts, cli_json_opts);

static int s_write_payload(cli_conn_t *ctx, json_t *res, const char *out_file, bool to_stdout)
{
    json_t *p = json_object_get(res, "payload");
    json_t *b = json_object_get(res, "payload_b64");
    uint8_t *data = NULL;
    size_t len = 0;
    if (json_is_object(p) || json_is_array(p)) {
        char *s = json_dumps(p, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (!s)
            return cli_fail(ctx->what, "out of memory");
        len = strlen(s);
        data = (uint8_t *)s;
    } else if (json_is_string(b)) {
        const char *t = json_string_value(b);
        if (to_stdout && !out_file) {
            /* Opaque bytes are not for the terminal. */
            char ct[128];
            printf("\nPayload: %s, base64 (use --out FILE to save the bytes)\n%s\n",
                   cli_field(res, "content_type", ct, sizeof ct), t);
            return 0;
        }
        if (egide_base64_decode(t, strlen(t), &data, &len, EGIDE_MAX_PAYLOAD))
            return cli_fail(ctx->what, "the payload is not valid base64");
    } else {
        return cli_fail(ctx->what, "this message has no payload here (outbox messages keep "
                                   "none)");
    }
    int ret = 0;
    if (out_file) {
        if (egide_file_write_atomic(out_file, data, len, 0600))
            ret = cli_fail(ctx->what, "%s: cannot write the payload", out_file);
        else
            (void)fprintf(stderr, "egide: show: payload written to %s (%zu bytes)\n", out_file,
                          len);
    } else {
        char ct[128];
        printf("\nPayload (%s):\n", cli_field(res, "content_type", ct, sizeof ct));
        (void)fwrite(data, 1, len, stdout);
        printf("\n");
    }
    egide_free_secret(data, len);
    return ret;
}

static int s_show(const cli_args_t *args)
{
    const char *out_file = cli_get(args, "--out");
    bool payload = cli_has(args, "--payload");
    cli_conn_t ctx;
    json_t *res = NULL;
    egide_httpc_resp_t r;
    int ret = s_msg_request(&ctx, args, "GET", "", NULL, &r, &res);
    if (ret)
        goto done;
    if (ctx.json) {
        cli_conn_print_raw(&r);
        if (out_file)
            ret = s_write_payload(&ctx, res, out_file, false);
        goto done;
    }
    char a[512], b[64];
    printf("Message     %s\n", cli_field(res, "id", a, sizeof a));
    printf("Box         %s\n", cli_field(res, "box", a, sizeof a));
    printf("Type        %s\n", cli_field(res, "type", a, sizeof a));
    printf("From        %s\n", cli_field(res, "sender", a, sizeof a));
    printf("Urgency     %s\n", cli_field(res, "urgency", a, sizeof a));
    printf("Created     %s\n", s_time(res, "created_ms", S_T_ISO, a, sizeof a));
    printf("State       %s\n", cli_field(res, "state", a, sizeof a));
    if (json_is_string(json_object_get(res, "in_reply_to")))
        printf("In reply to %s\n", cli_field(res, "in_reply_to", a, sizeof a));

    json_t *rec = json_object_get(res, "recipients");
    if (json_array_size(rec)) {
        printf("\nRecipients\n");
        for (size_t i = 0; i < json_array_size(rec); i++) {
            json_t *x = json_array_get(rec, i);
            char node[EGIDE_MAX_NODE_ID + 1], st[32], t1[40], t2[40], t3[40], reason[256];
            cli_field(x, "node", node, sizeof node);
            cli_field(x, "state", st, sizeof st);
            printf("  %-28s %-12s accepted %-19s delivered %-19s acknowledged %s", node, st,
                   s_time(x, "accepted_ms", S_T_SEC, t1, sizeof t1),
                   s_time(x, "delivered_ms", S_T_SEC, t2, sizeof t2),
                   s_time(x, "acknowledged_ms", S_T_SEC, t3, sizeof t3));
            if (json_is_string(json_object_get(x, "reason")) &&
                json_string_length(json_object_get(x, "reason")))
                printf("  reason: %s", cli_field(x, "reason", reason, sizeof reason));
            printf("\n");
        }
    }
    json_t *rcpts = json_object_get(res, "receipts");
    printf("\nReceipts%s\n", json_array_size(rcpts) ? "" : "    (none yet)");
    for (size_t i = 0; i < json_array_size(rcpts); i++) {
        json_t *x = json_array_get(rcpts, i);
        char kind[32], issuer[EGIDE_MAX_NODE_ID + 1], rcp[EGIDE_MAX_NODE_ID + 1], t[40],
            reason[256];
        json_t *ver = json_object_get(x, "verified");
        /* Who signed it, and about which recipient when that is another
         * node (the broker's ACCEPTED is about the message as a whole). */
        cli_field(x, "kind", kind, sizeof kind);
        cli_field(x, "issuer", issuer, sizeof issuer);
        cli_field(x, "recipient", rcp, sizeof rcp);
        bool about = rcp[0] && strcmp(rcp, "-") != 0 && strcmp(rcp, issuer) != 0;
        printf("  %-12s signed by %s%s%s  %s  %s", kind, issuer, about ? ", about " : "",
               about ? rcp : "", s_time(x, "time_ms", S_T_SEC, t, sizeof t),
               json_is_true(ver) ? "signature verified" : "SIGNATURE NOT VERIFIED");
        if (json_is_integer(json_object_get(x, "audit_leaf_index")))
            printf("  audit #%s", cli_field(x, "audit_leaf_index", b, sizeof b));
        if (json_is_string(json_object_get(x, "reason")) &&
            json_string_length(json_object_get(x, "reason")))
            printf("  reason: %s", cli_field(x, "reason", reason, sizeof reason));
        printf("\n");
    }
    bool has_payload = json_object_get(res, "payload") || json_object_get(res, "payload_b64");
    if (payload || out_file) {
        ret = s_write_payload(&ctx, res, out_file, payload);
    } else if (has_payload) {
        printf("\nPayload     %s (not shown: use --payload, or --out FILE)\n",
               cli_field(res, "content_type", a, sizeof a));
    }
done:
    json_decref(res);
    egide_httpc_resp_free(&r);
    return cli_conn_done(&ctx, ret);
}

const cli_entry_t cli_show = {&s_show_cmd, s_show};

/* ---- ack --------------------------------------------------------------- */

static const cli_opt_t s_ack_opts[] = {
    {"--note", CLI_VALUE, "TEXT", "a note for the sender", false},
    {NULL, CLI_FLAG, NULL, NULL, false},
};
static const char s_about_ack[] =
    "Acknowledge a received message (sends the signed acknowledgement back to its\n"
    "sender).";
static const cli_cmd_t s_ack_cmd =
    CLI_CMD("ack", "MSG_ID", 1, 1, s_about_ack, s_ack_opts, cli_api_opts, cli_json_opts);

static int s_ack(const cli_args_t *args)
{
    const char *note = cli_get(args, "--note");
    json_t *body = NULL;
    if (note && !(body = json_pack("{s:s}", "note", note)))
        return cli_fail("ack", "--note: not valid UTF-8 text") + 1;
    cli_conn_t ctx;
    json_t *res = NULL;
    egide_httpc_resp_t r;
    int ret = s_msg_request(&ctx, args, "POST", "/ack", body, &r, &res);
    if (ret)
        goto done;
    if (ctx.json) {
        cli_conn_print_raw(&r);
        goto done;
    }
    char a[80], st[32];
    printf("%s %s\n", cli_field(res, "id", a, sizeof a), cli_field(res, "state", st, sizeof st));
done:
    json_decref(body);
    json_decref(res);
    egide_httpc_resp_free(&r);
    return cli_conn_done(&ctx, ret);
}

const cli_entry_t cli_ack = {&s_ack_cmd, s_ack};

/* ---- status ------------------------------------------------------------ */

static const char s_about_status[] =
    "Health of the local edge: node, broker connection, directory version, pending\n"
    "outbox and inbox counts.  Exits non-zero unless the edge says \"ok\".";
static const cli_cmd_t s_status_cmd =
    CLI_CMD("status", NULL, 0, 0, s_about_status, cli_api_opts, cli_json_opts);

static int s_status(const cli_args_t *args)
{
    cli_conn_t ctx;
    json_t *res = NULL;
    egide_httpc_resp_t r = {0};
    int ret = cli_conn_request(&ctx, args, &cli_edge, "GET", "/v1/health", NULL, NULL, &r, &res);
    if (ret)
        goto done;
    const char *st = json_string_value(json_object_get(res, "status"));
    if (ctx.json) {
        cli_conn_print_raw(&r);
    } else {
        char a[256];
        printf("edge              %s\n", ctx.url);
        printf("node              %s\n", cli_field(res, "node", a, sizeof a));
        printf("status            %s\n", cli_field(res, "status", a, sizeof a));
        printf("broker            %s\n", cli_field(res, "broker", a, sizeof a));
        printf("directory version %s\n", cli_field(res, "directory_version", a, sizeof a));
        printf("outbox pending    %s\n", cli_field(res, "outbox_pending", a, sizeof a));
        printf("inbox             %s\n", cli_field(res, "inbox", a, sizeof a));
        if (json_object_get(res, "audit_alert"))
            printf("AUDIT ALERT       %s\n", cli_field(res, "audit_alert", a, sizeof a));
    }
    if (!st || strcmp(st, "ok") != 0) {
        char a[64];
        ret = cli_fail("status", "the edge reports status '%s'", cli_clean(st, a, sizeof a));
    }
done:
    json_decref(res);
    egide_httpc_resp_free(&r);
    return cli_conn_done(&ctx, ret);
}

const cli_entry_t cli_status = {&s_status_cmd, s_status};
