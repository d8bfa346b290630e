/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cli_conn.c - what every `egide` command that talks to a daemon shares:
 * --api, --token-file, --config, --timeout and --json resolved in one
 * order (command line, then the configuration file's section, then the
 * defaults), the token loaded and wiped, requests to the local edge's API
 * with its errors printed as one line each, and the final check that
 * stdout was really written.
 *
 * Strings from the server come from other parties: cli_clean() strips
 * control characters before they reach the terminal.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "egide/base/egide_ini.h"
#include "egide/base/egide_limits.h"
#include "egide/base/egide_token.h"
#include "egide/base/egide_util.h"

const cli_conn_spec_t cli_edge = {
    .section = "api", .default_url = "http://127.0.0.1:7720", .timeout_ms = 0, .any_token = false};

/* Copy s into out, dropping C0/C1 control characters and DEL (the string
 * is valid UTF-8: jansson checked it). */
const char *cli_clean(const char *s, char *out, size_t outsz)
{
    size_t o = 0;
    if (!outsz)
        return out;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        size_t n = *p < 0x80 ? 1 : *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : 2;
        for (size_t k = 1; k < n; k++)
            if (!p[k]) /* truncated sequence: stop */
                n = 0;
        if (!n)
            break;
        bool ctl = *p < 0x20 || *p == 0x7f || (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f);
        if (!ctl) {
            if (o + n >= outsz)
                break; /* never cut a character in half */
            memcpy(out + o, p, n);
            o += n;
        }
        p += n;
    }
    out[o] = '\0';
    return out;
}

/* A JSON member as clean printable text ("-" when absent or null). */
const char *cli_field(json_t *o, const char *key, char *out, size_t outsz)
{
    json_t *v = json_object_get(o, key);
    if (json_is_string(v))
        return cli_clean(json_string_value(v), out, outsz);
    if (json_is_integer(v)) {
        (void)snprintf(out, outsz, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return out;
    }
    if (json_is_true(v) || json_is_false(v)) {
        (void)snprintf(out, outsz, "%s", json_is_true(v) ? "yes" : "no");
        return out;
    }
    (void)snprintf(out, outsz, "-");
    return out;
}

/* The command's section of the configuration file ([api] for the edge,
 * [audit] for the broker); other sections belong to other commands and are
 * skipped. */
typedef struct s_ini {
    cli_conn_t *ctx; /* where values go (only if not set on the command line) */
    const char *dir; /* the config file's directory, for relative paths */
} s_ini_t;

static bool s_on_ini(egide_ini_t *p, const char *section, const char *name, const char *value,
                     void *user)
{
    s_ini_t *ini = user;
    if (strcmp(name, "url") == 0) {
        if (!ini->ctx->url_set && egide_strlcpy(ini->ctx->url, value, sizeof ini->ctx->url))
            return egide_ini_fail(p, "url too long");
    } else if (strcmp(name, "token_file") == 0) {
        if (ini->ctx->token_file_set)
            return true;
        egide_rc rc;
        const char *home = getenv("HOME");
        if (value[0] == '/')
            rc = egide_strlcpy(ini->ctx->token_file, value, sizeof ini->ctx->token_file);
        else if (value[0] == '~' && value[1] == '/' && home)
            rc = egide_snprintf(ini->ctx->token_file, sizeof ini->ctx->token_file, "%s/%s", home,
                                value + 2);
        else
            rc = egide_snprintf(ini->ctx->token_file, sizeof ini->ctx->token_file, "%s/%s",
                                ini->dir, value);
        if (rc)
            return egide_ini_fail(p, "token_file too long");
    } else if (strcmp(name, "timeout_ms") == 0) {
        int64_t v;
        if (egide_parse_int64(value, 1, 600000, &v))
            return egide_ini_fail(p, "timeout_ms: not a number of ms in [1, 600000]");
        if (!ini->ctx->timeout_set)
            ini->ctx->timeout_ms = (long)v;
    } else {
        char n[64];
        return egide_ini_fail(p, "unknown key '%s' in [%s]",
                              egide_sanitize(name, strlen(name), n, sizeof n), section);
    }
    return true;
}

static int s_load_config(cli_conn_t *ctx)
{
    char def[PATH_MAX];
    const char *path = ctx->config;
    bool must_exist = true;
    if (!path) {
        path = getenv("EGIDE_CONFIG");
        if (path && !*path)
            path = NULL;
    }
    if (!path) {
        const char *home = getenv("HOME");
        if (!home || egide_snprintf(def, sizeof def, "%s/.config/egide/cli.ini", home))
            return 0;
        path = def;
        must_exist = false;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        if (!must_exist)
            return 0;
        return cli_fail("config", "%s: cannot open", path);
    }
    char dir[PATH_MAX];
    egide_strlcpy(dir, path, sizeof dir);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        egide_strlcpy(dir, ".", sizeof dir);
    s_ini_t ini = {.ctx = ctx, .dir = dir};
    const egide_ini_section_spec_t spec[] = {{ctx->spec->section, NULL}, {NULL, NULL}};
    egide_ini_opts_t o = {
        .on_key = s_on_ini, .user = &ini, .spec = spec, .skip_unknown_sections = true};
    char err[512];
    if (egide_ini_parse_file(path, &o, err, sizeof err) != EGIDE_OK)
        return cli_fail("config", "%s", err);
    return 0;
}

/* The file's first line as the token, whatever its length: the daemon
 * judges it (the broker's audit token and the deadlines command always took
 * it so). */
static egide_rc s_token_any(const char *path, char **token)
{
    uint8_t *t = NULL;
    size_t len = 0;
    egide_rc rc = egide_secret_read(path, EGIDE_TOKEN_MAX + 2, &t, &len);
    if (rc == EGIDE_OK && strlen((const char *)t) != len) { /* a NUL byte: not text */
        egide_free_secret(t, len);
        rc = EGIDE_ERR_CONFIG;
    }
    if (rc == EGIDE_OK)
        *token = (char *)t;
    return rc == EGIDE_ERR_LIMIT ? EGIDE_ERR_CONFIG : rc;
}

int cli_conn_setup(cli_conn_t *ctx, const cli_args_t *a, const cli_conn_spec_t *spec)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->what = a->cmd->name;
    ctx->spec = spec;
    ctx->timeout_ms = spec->timeout_ms > 0 ? spec->timeout_ms : EGIDE_HTTPC_DEFAULT_TIMEOUT_MS;
    ctx->json = cli_has(a, "--json");
    ctx->config = cli_get(a, "--config");
    const char *v;
    if ((v = cli_get(a, "--api"))) {
        if (egide_strlcpy(ctx->url, v, sizeof ctx->url))
            return cli_fail(ctx->what, "--api: URL too long") + 1;
        ctx->url_set = true;
    }
    if ((v = cli_get(a, "--token-file"))) {
        if (egide_strlcpy(ctx->token_file, v, sizeof ctx->token_file))
            return cli_fail(ctx->what, "--token-file: path too long") + 1;
        ctx->token_file_set = true;
    }
    if ((v = cli_get(a, "--timeout"))) {
        int64_t ms;
        if (egide_parse_int64(v, 1, 600000, &ms))
            return cli_fail(ctx->what, "--timeout: not a number of milliseconds in [1, 600000]") +
                   1;
        ctx->timeout_ms = (long)ms;
        ctx->timeout_set = true;
    }
    int rc = s_load_config(ctx);
    if (rc)
        return rc;
    if (!ctx->url[0])
        egide_strlcpy(ctx->url, spec->default_url, sizeof ctx->url);
    size_t n = strlen(ctx->url);
    while (n && ctx->url[n - 1] == '/')
        ctx->url[--n] = '\0';
    if (strncmp(ctx->url, "http://", 7) != 0 && strncmp(ctx->url, "https://", 8) != 0)
        return cli_fail(ctx->what, "--api: '%s' is not an http:// or https:// URL", ctx->url);
    if (strpbrk(ctx->url, "?# \t\r\n"))
        return cli_fail(ctx->what, "--api: '%s' must be a base URL (no query, no spaces)",
                        ctx->url);
    if (ctx->token_file[0]) {
        egide_rc r = spec->any_token ? s_token_any(ctx->token_file, &ctx->token)
                                     : egide_token_load(ctx->token_file, &ctx->token);
        switch (r) {
        case EGIDE_OK:
            break;
        case EGIDE_ERR_PERM:
            return cli_fail("token", "%s: permissions too open (chmod 600)", ctx->token_file);
        case EGIDE_ERR_NOTFOUND:
            return cli_fail("token", "%s: no such file", ctx->token_file);
        case EGIDE_ERR_CONFIG:
            if (spec->any_token)
                return cli_fail("token", "%s: not a token file (one line of text)",
                                ctx->token_file);
            return cli_fail("token", "%s: not a valid token (one line, at least %u characters)",
                            ctx->token_file, EGIDE_TOKEN_MIN);
        default:
            return cli_fail_rc("token", r, "%s", ctx->token_file);
        }
    }
    return 0;
}

/* Wipe the token; a failed write to stdout (disk full, closed pipe) turns
 * a success into a failure, so scripts never take truncated output. */
int cli_conn_done(cli_conn_t *ctx, int ret)
{
    egide_token_free(&ctx->token);
    if ((fflush(stdout) != 0 || ferror(stdout)) && ret == 0)
        ret = cli_fail(ctx->what, "cannot write the output");
    return ret;
}

/* --json: the server's bytes as they came, with a final newline. */
void cli_conn_print_raw(const egide_httpc_resp_t *r)
{
    (void)fwrite(r->body, 1, r->body_len, stdout);
    if (!r->body_len || r->body[r->body_len - 1] != '\n')
        (void)fputc('\n', stdout);
}

/* Print the server's problem (RFC 9457: detail, code, errors) as one line
 * per field error, "<status> <detail> [<code>]"; returns 1. */
static int s_api_error(cli_conn_t *ctx, const egide_httpc_resp_t *r, const char *msg_id)
{
    json_t *o = json_loadb(r->body, r->body_len, 0, NULL);
    bool problem = json_is_string(json_object_get(o, "detail"));
    char msg[512], code[64];
    cli_field(o, "detail", msg, sizeof msg);
    cli_field(o, "code", code, sizeof code);
    if (ctx->json && o)
        cli_conn_print_raw(r); /* machines get the details too */
    if (r->status == 404 && msg_id) {
        cli_fail(ctx->what, "no message %s", msg_id);
    } else if (r->status == 401) {
        cli_fail(ctx->what, "401 %s (%s)", strcmp(msg, "-") ? msg : "unauthorized",
                 ctx->token ? "the edge refused the token in the --token-file"
                            : "give the API token with --token-file");
    } else if (!problem) {
        char snippet[80];
        cli_clean(r->body ? r->body : "", snippet, sizeof snippet);
        cli_fail(ctx->what, "HTTP %ld from the edge API%s%s", r->status, snippet[0] ? ": " : "",
                 snippet);
    } else {
        json_t *details = json_object_get(o, "errors");
        size_t nd = json_array_size(details);
        size_t printed = 0;
        for (size_t i = 0; i < nd && i < 1000; i++) {
            char d[512];
            json_t *di = json_array_get(details, i);
            if (!json_is_string(di))
                continue;
            cli_fail(ctx->what, "%ld %s [%s]: %s", r->status, msg, code,
                     cli_clean(json_string_value(di), d, sizeof d));
            printed++;
        }
        if (!printed)
            cli_fail(ctx->what, "%ld %s [%s]", r->status, msg, code);
    }
    json_decref(o);
    return 1;
}

/* One request to the API.  On success (2xx with a JSON object body) *out
 * holds the parsed body and *resp the raw one (caller frees both) and 0 is
 * returned; otherwise the error is printed and 1 returned. */
int cli_conn_call(cli_conn_t *ctx, const char *method, const char *path, json_t *body,
                  const char *msg_id, egide_httpc_resp_t *resp, json_t **out)
{
    char url[1024];
    *out = NULL;
    memset(resp, 0, sizeof *resp);
    if (egide_snprintf(url, sizeof url, "%s%s", ctx->url, path))
        return cli_fail(ctx->what, "URL too long");
    char *text = NULL;
    if (body) {
        text = json_dumps(body, JSON_COMPACT);
        if (!text)
            return cli_fail_rc(ctx->what, EGIDE_ERR_NOMEM, "cannot encode the request");
    }
    egide_rc rc =
        egide_httpc_request(method, url, ctx->token, text ? "application/json" : NULL, text,
                            text ? strlen(text) : 0, EGIDE_MAX_JSON_BODY, ctx->timeout_ms, resp);
    if (text)
        egide_free_secret(text, strlen(text)); /* may hold a referral */
    switch (rc) {
    case EGIDE_OK:
        break;
    case EGIDE_ERR_IO:
        if (strstr(resp->error, "cannot connect"))
            return cli_fail(ctx->what, "edge API unreachable at %s (is egide-edge running?)",
                            ctx->url);
        return cli_fail(ctx->what, "edge API at %s: %s", ctx->url, resp->error);
    case EGIDE_ERR_TIMEOUT:
        return cli_fail(ctx->what, "edge API at %s did not answer within %ld ms", ctx->url,
                        ctx->timeout_ms);
    default:
        return cli_fail(ctx->what, "edge API at %s: %s", ctx->url,
                        resp->error[0] ? resp->error : egide_strerror(rc));
    }
    if (resp->status < 200 || resp->status > 299) {
        int r = s_api_error(ctx, resp, msg_id);
        egide_httpc_resp_free(resp);
        return r;
    }
    json_error_t jerr;
    *out = json_loadb(resp->body, resp->body_len, 0, &jerr);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        egide_httpc_resp_free(resp);
        return cli_fail(ctx->what,
                        "the edge API answered %ld with something that is not a "
                        "JSON object",
                        resp->status);
    }
    return 0;
}

int cli_conn_request(cli_conn_t *c, const cli_args_t *a, const cli_conn_spec_t *spec,
                     const char *method, const char *path, json_t *body, const char *msg_id,
                     egide_httpc_resp_t *resp, json_t **out)
{
    memset(resp, 0, sizeof *resp);
    *out = NULL;
    int ret = cli_conn_setup(c, a, spec);
    return ret ? ret : cli_conn_call(c, method, path, body, msg_id, resp, out);
}
