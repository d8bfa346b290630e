/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cli_search.c - `egide search` and `egide cases` on the local edge's API
 * (GET /v1/search, /v1/cases, /v1/cases/{id}; docs/edge-api.md):
 *   egide search [--what messages|cases] [--box inbox|outbox] [--type T]
 *       [--state S] [--urgency U] [--commune C] [--sender NODE] [--ref TEXT]
 *       [--from T] [--to T] [--since T] [--limit N] [--after CURSOR]
 *   egide cases [CASE_ID] [--since T] [--ref TEXT] [--limit N] [--after CURSOR]
 * One page per run: the table, then "total" (with "at least" when the
 * edge's count stopped at its cap) and the cursor of the next page, so a
 * list is never cut without saying so.  Values are checked by the edge
 * (one error line naming the parameter); here they are only URL-encoded.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egide/base/egide_util.h"

/* The options passed through as query parameters, in one table. */
static const struct {
    const char *opt, *param;
} s_pass[] = {
    {"--what", "what"},     {"--box", "box"},         {"--type", "type"},
    {"--state", "state"},   {"--urgency", "urgency"}, {"--commune", "commune"},
    {"--sender", "sender"}, {"--ref", "ref"},         {"--from", "from"},
    {"--to", "to"},         {"--since", "since"},     {"--limit", "limit"},
    {"--after", "after"},
};

static const cli_opt_t s_search_opts[] = {
    {"--what", CLI_VALUE, "WHAT", "messages (default) or cases", false},
    {"--box", CLI_VALUE, "BOX", "inbox (default) or outbox", false},
    {"--type", CLI_VALUE, "TYPE", "message type", false},
    {"--state", CLI_VALUE, "STATE",
     "inbox: delivered, acknowledged; outbox: queued, accepted, "
     "rejected, expired",
     false},
    {"--urgency", CLI_VALUE, "U", "normal, urgent or immediate", false},
    {"--commune", CLI_VALUE, "CODE", "INSEE commune code", false},
    {"--sender", CLI_VALUE, "NODE", "sender node id (inbox)", false},
    {"--ref", CLI_VALUE, "TEXT", "case reference, case-insensitive substring", false},
    {"--from", CLI_VALUE, "TIME", "received/created at or after (ms, YYYY-MM-DD, ISO 8601)", false},
    {"--to", CLI_VALUE, "TIME", "received/created before", false},
    {"--since", CLI_VALUE, "TIME", "only what is new since TIME", false},
    {"--limit", CLI_VALUE, "N", "rows per page (1..500, default 50)", false},
    {"--after", CLI_VALUE, "CURSOR", "the next page (the cursor the previous run printed)", false},
    {NULL, CLI_FLAG, NULL, NULL, false},
};
static const cli_opt_t s_cases_opts[] = {
    {"--since", CLI_VALUE, "TIME", "only cases with a message since TIME", false},
    {"--ref", CLI_VALUE, "TEXT", "case reference, case-insensitive substring", false},
    {"--limit", CLI_VALUE, "N", "cases per page (1..500, default 50)", false},
    {"--after", CLI_VALUE, "CURSOR", "the next page (the cursor the previous run printed)", false},
    {NULL, CLI_FLAG, NULL, NULL, false},
};

static const char s_about_search[] =
    "Search the messages of one box (or the cases) of the local edge: every filter given must "
    "match.  One page, newest first, then the total and the cursor of the next page.";
static const cli_cmd_t s_search_cmd =
    CLI_CMD("search", NULL, 0, 0, s_about_search, s_search_opts, cli_api_opts, cli_json_opts);
static const char s_about_cases[] =
    "List the cases of the local edge, newest activity first, or show one (CASE_ID): its "
    "messages in both boxes, its obligations and its state.";
static const cli_cmd_t s_cases_cmd =
    CLI_CMD("cases", "[CASE_ID]", 0, 1, s_about_cases, s_cases_opts, cli_api_opts, cli_json_opts);

/* Append "&param=value", URL-encoded; false when it does not fit. */
static bool s_qadd(char *q, size_t size, const char *param, const char *value)
{
    size_t n = strlen(q);
    int w = snprintf(q + n, size - n, "%s%s=", n ? "&" : "", param);
    if (w < 0 || (size_t)w >= size - n)
        return false;
    n += (size_t)w;
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *v = (const unsigned char *)value; *v; v++) {
        bool plain = (*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') ||
                     (*v >= '0' && *v <= '9') || strchr("-._~:", *v);
        if (n + (plain ? 1 : 3) >= size)
            return false;
        if (plain) {
            q[n++] = (char)*v;
        } else {
            q[n++] = '%';
            q[n++] = hex[*v >> 4];
            q[n++] = hex[*v & 15];
        }
    }
    q[n] = '\0';
    return true;
}

/* The footer every page prints: how many, and how to go on. */
static void s_footer(json_t *res, const char *cmd)
{
    json_t *t = json_object_get(res, "total");
    if (json_is_integer(t))
        printf("total: %s%lld\n",
               json_is_false(json_object_get(res, "total_exact")) ? "at least " : "",
               (long long)json_integer_value(t));
    char next[128];
    if (json_is_string(json_object_get(res, "next")))
        printf("more: egide %s ... --after %s\n", cmd, cli_field(res, "next", next, sizeof next));
}

static void s_print_cases(json_t *cases)
{
    printf("%-8s  %-24s  %-14s  %s\n", "CASE", "REFERENCE", "CREATED_MS", "LAST_ACTIVITY_MS");
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i);
        char id[24], ref[80], cr[24], up[24];
        printf("%-8s  %-24s  %-14s  %s\n", cli_field(c, "id", id, sizeof id),
               cli_field(c, "ref", ref, sizeof ref), cli_field(c, "created_ms", cr, sizeof cr),
               cli_field(c, "updated_ms", up, sizeof up));
    }
}

static void s_print_messages(json_t *msgs)
{
    printf("%-32s  %-26s  %-12s  %-8s  %-6s  %s\n", "ID", "TYPE", "STATE", "COMMUNE", "CASE",
           "REFERENCE");
    for (size_t i = 0; i < json_array_size(msgs); i++) {
        json_t *m = json_array_get(msgs, i);
        char id[80], type[80], st[32], co[16], cs[24], ref[80];
        printf("%-32s  %-26s  %-12s  %-8s  %-6s  %s\n", cli_field(m, "id", id, sizeof id),
               cli_field(m, "type", type, sizeof type), cli_field(m, "state", st, sizeof st),
               cli_field(m, "commune", co, sizeof co), cli_field(m, "case_id", cs, sizeof cs),
               cli_field(m, "case_ref", ref, sizeof ref));
    }
}

static int s_search(const cli_args_t *args)
{
    bool cases = args->cmd == &s_cases_cmd;
    const char *what = args->cmd->name;
    char path[2048];
    char q[1900] = "";
    if (cases && args->n_pos == 1) {
        int64_t id = 0;
        if (egide_parse_int64(args->pos[0], 1, INT64_MAX, &id))
            return cli_fail(what, "CASE_ID: a positive number") + 1;
        (void)snprintf(path, sizeof path, "/v1/cases/%lld", (long long)id);
    } else {
        for (size_t i = 0; i < sizeof s_pass / sizeof s_pass[0]; i++) {
            const char *v = cli_get(args, s_pass[i].opt);
            if (v && !s_qadd(q, sizeof q, s_pass[i].param, v))
                return cli_fail(what, "%s: too long", s_pass[i].opt) + 1;
        }
        (void)snprintf(path, sizeof path, "%s%s%s", cases ? "/v1/cases" : "/v1/search",
                       q[0] ? "?" : "", q);
    }
    cli_conn_t ctx;
    json_t *res = NULL;
    egide_httpc_resp_t r = {0};
    int ret = cli_conn_request(&ctx, args, &cli_edge, "GET", path, NULL, NULL, &r, &res);
    if (ret)
        goto done;
    if (ctx.json) {
        cli_conn_print_raw(&r);
        goto done;
    }
    if (cases && args->n_pos == 1) {
        char id[24], ref[80], st[24];
        printf("case %s  reference %s  state %s\n", cli_field(res, "id", id, sizeof id),
               cli_field(res, "ref", ref, sizeof ref), cli_field(res, "state", st, sizeof st));
        printf("received:\n");
        s_print_messages(json_object_get(res, "inbox"));
        printf("sent:\n");
        s_print_messages(json_object_get(res, "outbox"));
        printf("obligations: %zu\n", json_array_size(json_object_get(res, "obligations")));
        if (json_object_get(res, "truncated"))
            printf("(truncated: egide cases %s --json shows which list)\n", id);
    } else if (json_object_get(res, "cases")) {
        s_print_cases(json_object_get(res, "cases"));
        s_footer(res, what);
    } else {
        s_print_messages(json_object_get(res, "messages"));
        s_footer(res, what);
    }
done:
    json_decref(res);
    egide_httpc_resp_free(&r);
    return cli_conn_done(&ctx, ret);
}

const cli_entry_t cli_search = {&s_search_cmd, s_search};
const cli_entry_t cli_cases = {&s_cases_cmd, s_search};
