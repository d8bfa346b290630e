/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cli_domain.c - the domain commands of `egide`:
 *   egide validate --type TYPE FILE [--out PB_FILE] [--facts]
 *       check a JSON payload offline; prints "ok" or every error, one per
 *       line ("path: message"); exit 0 valid, 1 invalid, 2 usage.
 *   egide deadlines [--api URL] [--token-file FILE] [--config FILE] [--json]
 *       fetch GET /v1/deadlines from the local edge and print a table (the
 *       daemon options resolve as for every command: cli_conn.c).
 *   egide deadlines --type TYPE --received DATE [--under-2] [--urgency U]
 *       [--runaway] [--no-parental-agreement] [--kind CODE] [--payload FILE]
 *       [--profile FILE] [--now DATE] [--json]
 *       compute the deadlines a message starts, offline.
 *   egide export olinpe --year N --key-file FILE --out FILE [--in EVENTS]
 *       [--department D] [--algorithm NAME] [--context LABEL] [--page K]
 *       [--api URL] [--token-file FILE] [--config FILE]
 *       the pseudonymised observatory export (see egide_observatory.h):
 *       from a JSON-lines file, or without --in from the local CRIP edge's
 *       store through GET /v1/export/olinpe, page by page (edge_export.c).
 * Options come from one table per command (cli_opts.c).  Nothing here
 * prints payload content except `validate`'s own error paths.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "egide/base/egide_date.h"
#include "egide/domain/egide_deadline.h"
#include "egide/base/egide_limits.h"
#include "egide/domain/egide_observatory.h"
#include "egide/domain/egide_payload.h"
#include "egide/domain/egide_pseudo.h"
#include "egide/base/egide_util.h"

#define S_MAX_EVENTS_FILE (64u * 1024u * 1024u)

/* ------------------------------------------------------------ validate */

static const cli_opt_t s_validate_opts[] = {
    {"--type", CLI_VALUE, "TYPE", "the message type of the payload", true},
    {"--out", CLI_VALUE, "PB_FILE", "also write the serialized protobuf", false},
    {"--facts", CLI_FLAG, NULL, "print the routing and deadline facts", false},
    {NULL, CLI_FLAG, NULL, NULL, false},
};
static const char s_about_validate[] =
    "Check a JSON payload of message type TYPE offline.  Prints \"ok\" or every\n"
    "error as \"path: message\", one per line (exit 1).";
static const cli_cmd_t s_validate_cmd =
    CLI_CMD("validate", "FILE", 1, 1, s_about_validate, s_validate_opts);

static void s_print_facts(const egide_payload_facts_t *f)
{
    char when[32];
    egide_datetime_format(f->received_ms, when, sizeof when);
    printf("commune: %s\ndepartment: %s\nreceived: %s\nurgency: %d\nchildren: %d\n"
           "child_under_2: %s\nkind: %s\n",
           f->commune, f->department, when, f->urgency, f->n_children,
           f->child_under_2 ? "yes" : "no", f->kind);
}

static int s_validate(const cli_args_t *args)
{
    const char *type = cli_get(args, "--type"), *file = args->pos[0];
    const char *out = cli_get(args, "--out");
    bool facts = cli_has(args, "--facts");
    if (!egide_payload_type_known(type)) {
        cli_fail("validate", "unknown message type \"%s\"", type);
        return 2;
    }
    uint8_t *buf;
    size_t len;
    egide_rc rc = egide_file_read(file, EGIDE_MAX_JSON_BODY, &buf, &len);
    if (rc != EGIDE_OK)
        return cli_fail_rc("validate", rc, "%s", file);
    uint8_t *pb = NULL;
    size_t pb_len = 0;
    char *errors = NULL;
    egide_payload_facts_t fx;
    rc = egide_payload_from_json(type, (const char *)buf, len, egide_now_ms(), &pb, &pb_len, &fx,
                                 &errors);
    free(buf);
    if (rc == EGIDE_ERR_VALIDATION) {
        printf("%s\n", errors ? errors : "json: invalid");
        free(errors);
        return 1;
    }
    free(errors);
    if (rc != EGIDE_OK)
        return cli_fail_rc("validate", rc, "%s", file);
    if (out) {
        rc = egide_file_write_atomic(out, pb, pb_len, 0600);
        if (rc != EGIDE_OK) {
            free(pb);
            return cli_fail_rc("validate", rc, "%s", out);
        }
    }
    free(pb);
    printf("ok\n");
    if (facts)
        s_print_facts(&fx);
    return 0;
}

const cli_entry_t cli_validate = {&s_validate_cmd, s_validate};

/* ------------------------------------------------------------ deadlines */

static const cli_opt_t s_deadlines_opts[] = {
    {"--type", CLI_VALUE, "TYPE", "offline: the deadlines a message of TYPE starts", false},
    {"--received", CLI_VALUE, "DATE", "offline: when it was received (YYYY-MM-DD or RFC 3339)",
     false},
    {"--payload", CLI_VALUE, "FILE", "offline: take the facts from a payload", false},
    {"--under-2", CLI_FLAG, NULL, "offline: a child is under 2", false},
    {"--urgency", CLI_VALUE, "U", "offline: normal, urgent or immediate", false},
    {"--runaway", CLI_FLAG, NULL, "offline: a runaway child", false},
    {"--no-parental-agreement", CLI_FLAG, NULL, "offline: the parents do not agree", false},
    {"--kind", CLI_VALUE, "CODE", "offline: the kind of measure", false},
    {"--profile", CLI_VALUE, "FILE",
     "offline: jurisdiction profile (default $EGIDE_PROFILE, else fr-casf)", false},
    {"--now", CLI_VALUE, "DATE", "offline: evaluate the states at DATE (default: now)", false},
    {NULL, CLI_FLAG, NULL, NULL, false},
};
static const char s_about_deadlines[] =
    "Without --type: the local edge's open, overdue and met deadlines (GET\n"
    "/v1/deadlines).  With --type: offline, the deadlines a message of TYPE received\n"
    "at DATE starts under a jurisdiction profile, and their state at --now.";
static const cli_cmd_t s_deadlines_cmd = CLI_CMD("deadlines", NULL, 0, 0, s_about_deadlines,
                                                 s_deadlines_opts, cli_api_opts, cli_json_opts);

/* The edge, with the token sent as the file holds it (the edge judges it),
 * as this command always did. */
static const cli_conn_spec_t s_deadlines_edge = {
    .section = "api", .default_url = "http://127.0.0.1:7720", .any_token = true};

static void s_fmt_time(int64_t ms, char *out, size_t outsz)
{
    /* Local time with its zone, as every other command prints times (a
     * CRIP reads its deadlines in Paris time, not UTC). */
    struct tm tm;
    time_t t = (time_t)(ms / 1000);
    if (ms <= 0 || !localtime_r(&t, &tm) || strftime(out, outsz, "%Y-%m-%d %H:%M %Z", &tm) == 0)
        egide_strlcpy(out, "-", outsz);
}

/* Copy s for the terminal: control characters become '?', UTF-8 is kept
 * (labels are French), at most n bytes of s. */
static const char *s_clean(const char *s, size_t n, char *out, size_t outsz)
{
    size_t o = 0;
    for (size_t i = 0; i < n && s[i] && o + 1 < outsz; i++) {
        unsigned char c = (unsigned char)s[i];
        out[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    out[o] = '\0';
    return out;
}

/* Print one table row; strings come from the edge or the profile, so they
 * are cleaned (no control characters reach the terminal). */
static void s_row(const char *state, int64_t due, const char *type, const char *name,
                  const char *msg_id, const char *label, const char *source)
{
    char due_s[32], a[80], b[80], c[80], d[40], e[200], f[140];
    s_fmt_time(due, due_s, sizeof due_s);
    s_clean(state, 16, a, sizeof a);
    s_clean(type, 64, b, sizeof b);
    s_clean(name, 64, c, sizeof c);
    s_clean(msg_id, 12, d, sizeof d);
    s_clean(label, 190, e, sizeof e);
    s_clean(source, 130, f, sizeof f);
    printf("%-8s %-16s %-26s %-22s %-12s %s [%s]\n", a, due_s, b, c, d, e, f);
}

static void s_header(void)
{
    printf("%-8s %-16s %-26s %-22s %-12s %s\n", "STATE", "DUE (UTC)", "TYPE", "NAME", "MSG",
           "LABEL [SOURCE]");
}

static int s_deadlines_online(const cli_args_t *args)
{
    cli_conn_t ctx;
    json_t *root = NULL;
    egide_httpc_resp_t resp = {0};
    int ret = cli_conn_request(&ctx, args, &s_deadlines_edge, "GET", "/v1/deadlines?limit=500",
                               NULL, NULL, &resp, &root);
    if (ret)
        goto done;
    json_t *list = json_object_get(root, "obligations");
    if (!json_is_array(list)) {
        ret = cli_fail("deadlines", "%s: not a {\"obligations\": [...]} answer", ctx.url);
        goto done;
    }
    if (ctx.json) {
        cli_conn_print_raw(&resp);
        goto done;
    }
    s_header();
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d)
    {
#define S_F(k)                                                                                     \
    (json_is_string(json_object_get(d, k)) ? json_string_value(json_object_get(d, k)) : "")
        json_t *due = json_object_get(d, "due_ms");
        s_row(S_F("state"), json_is_integer(due) ? (int64_t)json_integer_value(due) : 0,
              S_F("start_type"), S_F("name"), S_F("start_msg"), S_F("label"), S_F("source"));
#undef S_F
    }
    if (json_array_size(list) == 0)
        printf("(no deadline)\n");
    /* A page is never cut silently: say how many more there are. */
    json_t *total = json_object_get(root, "total");
    if (json_is_string(json_object_get(root, "next")) && json_is_integer(total))
        printf("(%zu of %lld open obligations shown: GET /v1/deadlines?after=%s for the next "
               "page)\n",
               json_array_size(list), (long long)json_integer_value(total),
               json_string_value(json_object_get(root, "next")));
done:
    json_decref(root);
    egide_httpc_resp_free(&resp);
    return cli_conn_done(&ctx, ret);
}

/* A date "YYYY-MM-DD" (00:00 UTC) or an RFC 3339 date-time. */
static egide_rc s_parse_when(const char *s, int64_t *ms)
{
    if (egide_datetime_parse(s, ms) == EGIDE_OK)
        return EGIDE_OK;
    return egide_date_parse(s, ms);
}

static int s_deadlines(const cli_args_t *args)
{
    const char *type = cli_get(args, "--type"), *received = cli_get(args, "--received");
    const char *urgency = cli_get(args, "--urgency"), *profile_path = cli_get(args, "--profile");
    const char *now_s = cli_get(args, "--now"), *kind = cli_get(args, "--kind");
    const char *payload = cli_get(args, "--payload");
    bool as_json = cli_has(args, "--json"), under_2 = cli_has(args, "--under-2");
    bool runaway = cli_has(args, "--runaway");
    bool no_agreement = cli_has(args, "--no-parental-agreement");
    bool online_opts = cli_has(args, "--api") || cli_has(args, "--token-file") ||
                       cli_has(args, "--config") || cli_has(args, "--timeout");
    if (!type) {
        if (received || urgency || profile_path || now_s || kind || payload || under_2 || runaway ||
            no_agreement)
            return cli_usage_fail(&s_deadlines_cmd,
                                  "offline deadlines need --type TYPE (egide deadlines --help)");
        return s_deadlines_online(args);
    }
    if (online_opts)
        return cli_usage_fail(&s_deadlines_cmd,
                              "--type computes deadlines offline: --api, --token-file, --config "
                              "and --timeout are for the edge's list (without --type)");
    if (!received && !payload)
        return cli_usage_fail(&s_deadlines_cmd, "give --received DATE or --payload FILE");
    if (!egide_payload_type_known(type)) {
        cli_fail("deadlines", "unknown message type \"%s\"", type);
        return 2;
    }
    int64_t now = egide_now_ms(), recv_ms = 0;
    if (now_s && s_parse_when(now_s, &now) != EGIDE_OK) {
        cli_fail("deadlines", "--now: not a date");
        return 2;
    }
    egide_payload_facts_t fx;
    memset(&fx, 0, sizeof fx);
    fx.urgency = 1;
    if (payload) {
        uint8_t *buf;
        size_t len;
        char *errors = NULL;
        egide_rc rc = egide_file_read(payload, EGIDE_MAX_JSON_BODY, &buf, &len);
        if (rc != EGIDE_OK)
            return cli_fail_rc("deadlines", rc, "%s", payload);
        rc = egide_payload_from_json(type, (char *)buf, len, now, NULL, NULL, &fx, &errors);
        free(buf);
        if (rc != EGIDE_OK) {
            if (errors)
                fprintf(stderr, "%s\n", errors);
            free(errors);
            return cli_fail_rc("deadlines", rc, "%s", payload);
        }
        recv_ms = fx.received_ms;
    }
    if (received && s_parse_when(received, &recv_ms) != EGIDE_OK) {
        cli_fail("deadlines", "--received: not a date (YYYY-MM-DD or RFC 3339)");
        return 2;
    }
    if (under_2)
        fx.child_under_2 = true;
    if (runaway)
        fx.runaway = true;
    if (no_agreement)
        fx.parental_agreement = 2;
    if (kind)
        egide_strlcpy(fx.kind, kind, sizeof fx.kind);
    if (urgency) {
        if (strcmp(urgency, "normal") == 0)
            fx.urgency = 1;
        else if (strcmp(urgency, "urgent") == 0)
            fx.urgency = 2;
        else if (strcmp(urgency, "immediate") == 0)
            fx.urgency = 3;
        else {
            cli_fail("deadlines", "--urgency: normal, urgent or immediate");
            return 2;
        }
    }
    char defpath[1024];
    if (!profile_path) {
        const char *env = getenv("EGIDE_PROFILE");
        if (env && *env)
            profile_path = env;
        else {
            /* The installed profile (packages, cmake --install), else the
             * source tree's (a build run where it was built). */
            egide_snprintf(defpath, sizeof defpath, "%s/fr-casf.ini", EGIDE_PROFILE_DIR);
            if (access(defpath, R_OK) != 0)
                egide_snprintf(defpath, sizeof defpath, "%s/deploy/profiles/fr-casf.ini",
                               EGIDE_SOURCE_DIR);
            profile_path = defpath;
        }
    }
    egide_deadline_profile_t *prof = NULL;
    char err[512];
    egide_rc rc = egide_deadline_profile_load(profile_path, &prof, err, sizeof err);
    if (rc != EGIDE_OK)
        return cli_fail("deadlines", "%s", err);
    egide_deadline_t dl[EGIDE_DEADLINE_MAX_DEFS];
    size_t n = 0;
    rc = egide_deadline_compute(prof, type, "", recv_ms, &fx, dl, EGIDE_DEADLINE_MAX_DEFS, &n);
    /* Offline nothing closes them: each is open, or overdue at --now. */
    for (size_t i = 0; rc == EGIDE_OK && i < n; i++)
        dl[i].state = now > dl[i].due_ms ? EGIDE_DEADLINE_OVERDUE : EGIDE_DEADLINE_OPEN;
    if (rc != EGIDE_OK) {
        egide_deadline_profile_destroy(&prof);
        return cli_fail_rc("deadlines", rc, "compute");
    }
    if (as_json) {
        json_t *root = json_object(), *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *o = json_object();
            json_object_set_new(o, "msg_id", json_string(dl[i].msg_id));
            json_object_set_new(o, "type", json_string(dl[i].type));
            json_object_set_new(o, "name", json_string(dl[i].name));
            json_object_set_new(o, "label", json_string(dl[i].label));
            json_object_set_new(o, "start_ms", json_integer(dl[i].start_ms));
            json_object_set_new(o, "due_ms", json_integer(dl[i].due_ms));
            json_object_set_new(o, "state", json_string(egide_deadline_state_name(dl[i].state)));
            json_object_set_new(o, "source", json_string(dl[i].source));
            json_object_set_new(o, "practice", json_boolean(dl[i].practice));
            json_array_append_new(arr, o);
        }
        json_object_set_new(root, "profile", json_string(egide_deadline_profile_name(prof)));
        json_object_set_new(root, "deadlines", arr);
        char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", s ? s : "{}");
        free(s);
        json_decref(root);
    } else {
        printf("profile %s (%s)\n", egide_deadline_profile_name(prof),
               egide_deadline_profile_jurisdiction(prof));
        s_header();
        for (size_t i = 0; i < n; i++)
            s_row(egide_deadline_state_name(dl[i].state), dl[i].due_ms, dl[i].type, dl[i].name, "-",
                  dl[i].label, dl[i].source);
        if (n == 0)
            printf("(no deadline)\n");
    }
    egide_deadline_profile_destroy(&prof);
    return 0;
}

const cli_entry_t cli_deadlines = {&s_deadlines_cmd, s_deadlines};

/* ------------------------------------------------------------ export */

#define S_STR_(x) #x
#define S_STR(x)  S_STR_(x)
static const cli_opt_t s_export_opts[] = {
    {"--year", CLI_VALUE, "N", "the year of the measure events", true},
    {"--key-file", CLI_VALUE, "FILE",
     "pseudonymisation key (mode 0600, at least " S_STR(EGIDE_PSEUDO_MIN_KEY) " bytes)", true},
    {"--in", CLI_VALUE, "EVENTS",
     "JSON lines {\"type\",\"received\",\"payload\"[,\"previous\"]} instead of the edge", false},
    {"--out", CLI_VALUE, "FILE", "the export (written 0600)", true},
    {"--department", CLI_VALUE, "D", "the exporting department (e.g. 71)", false},
    {"--algorithm", CLI_VALUE, "NAME", "pseudonymisation (default hmac-sha256-v1)", false},
    {"--context", CLI_VALUE, "LABEL", "key derivation context (default \"olinpe\")", false},
    {"--page", CLI_VALUE, "K", "messages asked per page from the edge (default 100)", false},
    {NULL, CLI_FLAG, NULL, NULL, false},
};
static const char s_about_export_olinpe[] =
    "Pseudonymised yearly export of measure events (décret 2016-1966); see\n"
    "docs/payloads-and-deadlines.md.  Without --in, the events come from the local\n"
    "CRIP edge's own store (what it received, then what it sent), page by page\n"
    "(GET /v1/export/olinpe): only the pages and the events are ever held, and\n"
    "the key file never leaves this command.\n"
    "hmac-sha256-v1 is Égide's own algorithm: the national one is not known.";
static const cli_cmd_t s_export_cmd =
    CLI_CMD("export olinpe", NULL, 0, 0, s_about_export_olinpe, s_export_opts, cli_api_opts);

#define S_EXPORT_MAX_PAGES 1000000 /* a guard against an edge that never ends */

/* The messages of one page, each as one line for the builder. */
static egide_rc s_feed_page(egide_olinpe_t *b, json_t *page, size_t *msgs)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(page, "messages"), i, m)
    {
        char *line = json_dumps(m, JSON_COMPACT);
        if (!line)
            return EGIDE_ERR_NOMEM;
        size_t n = strlen(line);
        egide_rc rc = egide_olinpe_add(b, line, n);
        egide_free_secret(line, n); /* it held names */
        if (rc)
            return rc;
        (*msgs)++;
    }
    return EGIDE_OK;
}

/* Every page of GET /v1/export/olinpe?year=N into b.  0 or the exit
 * status after one line on stderr. */
static int s_export_from_edge(const cli_args_t *args, int year, int64_t page, egide_olinpe_t *b,
                              size_t *msgs, char *where, size_t wsz)
{
    cli_conn_t ctx;
    int ret = cli_conn_setup(&ctx, args, &cli_edge);
    if (ret)
        return cli_conn_done(&ctx, ret);
    egide_strlcpy(where, ctx.url, wsz);
    char next[96] = "", path[256];
    bool done = false;
    for (long n = 0; !ret && !done; n++) {
        if (n >= S_EXPORT_MAX_PAGES) {
            ret =
                cli_fail("export", "%s: more than %d pages, stopped", ctx.url, S_EXPORT_MAX_PAGES);
            break;
        }
        snprintf(path, sizeof path, "/v1/export/olinpe?year=%d&limit=%lld%s%s", year,
                 (long long)page, next[0] ? "&after=" : "", next);
        egide_httpc_resp_t resp = {0};
        json_t *root = NULL;
        ret = cli_conn_call(&ctx, "GET", path, NULL, NULL, &resp, &root);
        if (!ret) {
            json_t *nx = json_object_get(root, "next");
            json_t *sc = json_object_get(root, "scanned");
            if (!json_is_array(json_object_get(root, "messages")) || !json_is_integer(sc) ||
                (nx && (!json_is_string(nx) || json_string_length(nx) >= sizeof next ||
                        strcmp(json_string_value(nx), next) == 0))) {
                ret = cli_fail("export", "%s: not an export page (or a cursor that does not move)",
                               ctx.url);
            } else {
                egide_rc rc = s_feed_page(b, root, msgs);
                if (rc)
                    ret = cli_fail_rc("export", rc, "building the export");
                else if (!nx || json_integer_value(sc) == 0)
                    done = true; /* the end */
                else
                    egide_strlcpy(next, json_string_value(nx), sizeof next);
            }
        }
        json_decref(root);
        if (resp.body)
            egide_wipe(resp.body, resp.body_len); /* payloads */
        egide_httpc_resp_free(&resp);
    }
    return cli_conn_done(&ctx, ret);
}

static int s_export(const cli_args_t *args)
{
    const char *year_s = cli_get(args, "--year"), *key_file = cli_get(args, "--key-file");
    const char *in = cli_get(args, "--in"), *out = cli_get(args, "--out");
    const char *dept = cli_get(args, "--department"), *alg_name = cli_get(args, "--algorithm");
    const char *context = cli_get(args, "--context"), *page_s = cli_get(args, "--page");
    int64_t year, page = 100;
    if (egide_parse_int64(year_s, 2000, 2199, &year) != EGIDE_OK) {
        cli_fail("export", "--year: not a year");
        return 2;
    }
    if (page_s && egide_parse_int64(page_s, 1, 500, &page) != EGIDE_OK) {
        cli_fail("export", "--page: a number from 1 to 500");
        return 2;
    }
    if (in && page_s) {
        cli_fail("export", "--page is for the edge, not with --in");
        return 2;
    }
    const egide_pseudo_alg_t *alg = egide_pseudo_alg_find(alg_name);
    if (!alg) {
        cli_fail("export", "unknown algorithm \"%s\"", alg_name);
        return 2;
    }
    uint8_t *key = NULL;
    size_t klen = 0;
    egide_rc rc = egide_secret_read(key_file, EGIDE_PSEUDO_MAX_KEY, &key, &klen);
    if (rc != EGIDE_OK)
        return cli_fail_rc("export", rc, "key file %s", key_file);
    if (klen < EGIDE_PSEUDO_MIN_KEY) {
        egide_free_secret(key, klen);
        return cli_fail("export", "key file %s: shorter than %d bytes", key_file,
                        EGIDE_PSEUDO_MIN_KEY);
    }
    egide_olinpe_opts_t o = {.year = (int)year,
                             .key = key,
                             .key_len = klen,
                             .alg = alg,
                             .context = context,
                             .department = dept,
                             .now_ms = egide_now_ms()};
    char *json = NULL, *errors = NULL, where[512] = "";
    egide_olinpe_stats_t st;
    memset(&st, 0, sizeof st);
    if (in) {
        uint8_t *events = NULL;
        size_t elen = 0;
        rc = egide_file_read(in, S_MAX_EVENTS_FILE, &events, &elen);
        if (rc != EGIDE_OK) {
            egide_free_secret(key, klen);
            return cli_fail_rc("export", rc, "%s", in);
        }
        egide_strlcpy(where, in, sizeof where);
        rc = egide_observatory_export((const char *)events, elen, &o, &json, &st, &errors);
        egide_free_secret(events, elen);
    } else {
        egide_olinpe_t *b = NULL;
        size_t msgs = 0;
        rc = egide_olinpe_new(&o, &b);
        if (rc) {
            egide_free_secret(key, klen);
            return cli_fail_rc("export", rc, "options");
        }
        int ret = s_export_from_edge(args, (int)year, page, b, &msgs, where, sizeof where);
        if (ret) {
            egide_olinpe_destroy(&b);
            egide_free_secret(key, klen);
            return ret; /* the reason is printed; nothing written */
        }
        rc = egide_olinpe_finish(b, &json, &st, &errors);
        egide_olinpe_destroy(&b);
    }
    egide_free_secret(key, klen);
    if (rc == EGIDE_ERR_VALIDATION) {
        fprintf(stderr, "%s\n", errors ? errors : "invalid input");
        free(errors);
        return cli_fail("export", "%s: invalid events, nothing written", where);
    }
    free(errors);
    if (rc != EGIDE_OK)
        return cli_fail_rc("export", rc, "%s", where);
    size_t jlen = strlen(json);
    egide_buf_t b;
    egide_buf_init(&b, jlen + 2);
    rc = egide_buf_append(&b, json, jlen);
    if (rc == EGIDE_OK)
        rc = egide_buf_append(&b, "\n", 1);
    free(json);
    if (rc == EGIDE_OK)
        rc = egide_file_write_atomic(out, b.data, b.len, 0600);
    egide_buf_free(&b);
    if (rc != EGIDE_OK)
        return cli_fail_rc("export", rc, "%s", out);
    fprintf(stderr,
            "egide: export: %zu event(s) from %zu message(s); skipped: %zu other year, %zu not a "
            "measure, %zu transfer(s) from another department, %zu child(ren) without mother's "
            "birth name, %zu with a name that does not normalise\n",
            st.events, st.lines, st.other_year, st.not_a_measure, st.other_department,
            st.no_mother_name, st.bad_identity);
    return 0;
}

int cmd_export(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        cli_help(&s_export_cmd, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "olinpe") != 0) {
        cli_fail("export", "unknown export \"%s\" (known: olinpe)", argv[1]);
        return 2;
    }
    return cli_run(&s_export_cmd, argc - 2, argv + 2, s_export);
}
