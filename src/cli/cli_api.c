/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cli_api.c - the `egide` commands that talk to the local edge's REST API:
 * send, inbox, outbox, show, ack and status.
 *
 * Every command shares the same options (--api URL, --token-file FILE,
 * --config FILE, --json, --timeout MS) resolved in this order: command line,
 * then the [api] section of the configuration file (--config, else
 * $EGIDE_CONFIG, else ~/.config/egide/cli.ini when it exists), then the
 * defaults.  Failures are one line on stderr, "egide: WHAT: why", with a
 * non-zero exit (2 for usage errors, 1 otherwise).  --json prints the
 * server's JSON as it came.
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
#include "egide/base/egide_ini.h"
#include "egide/base/egide_token.h"
#include "egide/net/egide_http.h"
#include "egide/net/egide_httpc.h"
#include "egide/base/egide_limits.h"
#include "egide/base/egide_util.h"

#define S_DEFAULT_API "http://127.0.0.1:7720"
#define S_MAX_TO      32 /* EGIDE_MAX_RECIPIENTS */

/* Options shared by every command, and the loaded token.  Invariant: after
 * s_setup() succeeded, url has no trailing '/', token is NULL or a loaded
 * token (wiped by s_done()). */
typedef struct s_ctx {
    const char *what;          /* command name, the prefix of error lines */
    char url[512];             /* API base URL */
    char token_file[PATH_MAX]; /* "" = send no token */
    const char *config;        /* --config FILE, or NULL */
    bool url_set;              /* given on the command line */
    bool token_file_set;       /* given on the command line */
    bool timeout_set;          /* given on the command line */
    bool json;                 /* --json */
    long timeout_ms;           /* total request timeout */
    char *token;               /* loaded token, or NULL */
} s_ctx_t;

/* ---- small helpers ------------------------------------------------- */

/* Copy s into out, dropping C0/C1 control characters and DEL (the string
 * is valid UTF-8: jansson checked it). */
static const char *s_clean(const char *s, char *out, size_t outsz)
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
static const char *s_field(json_t *o, const char *key, char *out, size_t outsz)
{
    json_t *v = json_object_get(o, key);
    if (json_is_string(v))
        return s_clean(json_string_value(v), out, outsz);
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
            n = strftime(out, outsz, "%Y-%m-%d %H:%M", &tm);
        else if (style == S_T_SEC)
            n = strftime(out, outsz, "%Y-%m-%d %H:%M:%S", &tm);
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

static const char *const s_states[] = {"queued",   "accepted", "delivered", "acknowledged",
                                       "rejected", "expired",  NULL};
static const char *const s_urgencies[] = {"normal", "urgent", "immediate", NULL};

/* ---- options and configuration --------------------------------------- */

/* The [api] section of the configuration file; other sections belong to
 * other commands and are skipped. */
typedef struct s_ini {
    s_ctx_t *ctx;    /* where values go (only if not set on the command line) */
    const char *dir; /* the config file's directory, for relative paths */
} s_ini_t;

static bool s_on_ini(egide_ini_t *p, const char *section, const char *name, const char *value,
                     void *user)
{
    s_ini_t *ini = user;
    (void)section; /* only [api] reaches here */
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
        return egide_ini_fail(p, "unknown key '%s' in [api]",
                              egide_sanitize(name, strlen(name), n, sizeof n));
    }
    return true;
}

static int s_load_config(s_ctx_t *ctx)
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
    static const egide_ini_section_spec_t spec[] = {{"api", NULL}, {NULL, NULL}};
    egide_ini_opts_t o = {
        .on_key = s_on_ini, .user = &ini, .spec = spec, .skip_unknown_sections = true};
    char err[512];
    if (egide_ini_parse_file(path, &o, err, sizeof err) != EGIDE_OK)
        return cli_fail("config", "%s", err);
    return 0;
}

/* 1: consumed a common option; 0: not a common option; -1: error printed. */
static int s_common_opt(s_ctx_t *ctx, int argc, char **argv, int *i);

/* Match "--name VALUE" or "--name=VALUE".  Returns 1 and sets *val when
 * matched, 0 when argv[*i] is another option, -1 (message printed) when the
 * value is missing. */
static int s_opt(const char *what, int argc, char **argv, int *i, const char *name,
                 const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        cli_fail(what, "%s needs a value", name);
        return -1;
    }
    *val = argv[++*i];
    return 1;
}

static int s_common_opt(s_ctx_t *ctx, int argc, char **argv, int *i)
{
    const char *v = NULL;
    int m;
    if (strcmp(argv[*i], "--json") == 0) {
        ctx->json = true;
        return 1;
    }
    if ((m = s_opt(ctx->what, argc, argv, i, "--api", &v)) != 0) {
        if (m < 0)
            return -1;
        if (egide_strlcpy(ctx->url, v, sizeof ctx->url)) {
            cli_fail(ctx->what, "--api: URL too long");
            return -1;
        }
        ctx->url_set = true;
        return 1;
    }
    if ((m = s_opt(ctx->what, argc, argv, i, "--token-file", &v)) != 0) {
        if (m < 0)
            return -1;
        if (egide_strlcpy(ctx->token_file, v, sizeof ctx->token_file)) {
            cli_fail(ctx->what, "--token-file: path too long");
            return -1;
        }
        ctx->token_file_set = true;
        return 1;
    }
    if ((m = s_opt(ctx->what, argc, argv, i, "--config", &v)) != 0) {
        if (m < 0)
            return -1;
        ctx->config = v;
        return 1;
    }
    if ((m = s_opt(ctx->what, argc, argv, i, "--timeout", &v)) != 0) {
        int64_t ms;
        if (m < 0)
            return -1;
        if (egide_parse_int64(v, 1, 600000, &ms)) {
            cli_fail(ctx->what, "--timeout: not a number of milliseconds in [1, 600000]");
            return -1;
        }
        ctx->timeout_ms = (long)ms;
        ctx->timeout_set = true;
        return 1;
    }
    return 0;
}

static void s_ctx_init(s_ctx_t *ctx, const char *what)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->what = what;
    ctx->timeout_ms = EGIDE_HTTPC_DEFAULT_TIMEOUT_MS;
}

/* After parsing: configuration file, defaults, token.  Returns 0 or an exit
 * code (error printed). */
static int s_setup(s_ctx_t *ctx)
{
    int rc = s_load_config(ctx);
    if (rc)
        return rc;
    if (!ctx->url[0])
        egide_strlcpy(ctx->url, S_DEFAULT_API, sizeof ctx->url);
    size_t n = strlen(ctx->url);
    while (n && ctx->url[n - 1] == '/')
        ctx->url[--n] = '\0';
    if (strncmp(ctx->url, "http://", 7) != 0 && strncmp(ctx->url, "https://", 8) != 0)
        return cli_fail(ctx->what, "--api: '%s' is not an http:// or https:// URL", ctx->url);
    if (strpbrk(ctx->url, "?# \t\r\n"))
        return cli_fail(ctx->what, "--api: '%s' must be a base URL (no query, no spaces)",
                        ctx->url);
    if (ctx->token_file[0]) {
        egide_rc r = egide_token_load(ctx->token_file, &ctx->token);
        switch (r) {
        case EGIDE_OK:
            break;
        case EGIDE_ERR_PERM:
            return cli_fail("token", "%s: permissions too open (chmod 600)", ctx->token_file);
        case EGIDE_ERR_NOTFOUND:
            return cli_fail("token", "%s: no such file", ctx->token_file);
        case EGIDE_ERR_CONFIG:
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
static int s_done(s_ctx_t *ctx, int ret)
{
    egide_token_free(&ctx->token);
    if ((fflush(stdout) != 0 || ferror(stdout)) && ret == 0)
        ret = cli_fail(ctx->what, "cannot write the output");
    return ret;
}

/* ---- requests ---------------------------------------------------------- */

/* --json: the server's bytes as they came, with a final newline. */
static void s_print_raw(const egide_httpc_resp_t *r)
{
    (void)fwrite(r->body, 1, r->body_len, stdout);
    if (!r->body_len || r->body[r->body_len - 1] != '\n')
        (void)fputc('\n', stdout);
}

/* Print the server's error as one line per detail; returns 1. */
static int s_api_error(s_ctx_t *ctx, const egide_httpc_resp_t *r, const char *msg_id)
{
    json_t *o = json_loadb(r->body, r->body_len, 0, NULL);
    json_t *err = json_object_get(o, "error");
    char msg[512];
    s_field(err, "message", msg, sizeof msg);
    if (ctx->json && o)
        s_print_raw(r); /* machines get the details too */
    if (r->status == 404 && msg_id) {
        cli_fail(ctx->what, "no message %s", msg_id);
    } else if (r->status == 401) {
        cli_fail(ctx->what, "401 %s (%s)", strcmp(msg, "-") ? msg : "unauthorized",
                 ctx->token ? "the edge refused the token in the --token-file"
                            : "give the API token with --token-file");
    } else if (!err) {
        char snippet[80];
        s_clean(r->body ? r->body : "", snippet, sizeof snippet);
        cli_fail(ctx->what, "HTTP %ld from the edge API%s%s", r->status, snippet[0] ? ": " : "",
                 snippet);
    } else {
        json_t *details = json_object_get(err, "details");
        size_t nd = json_array_size(details);
        size_t printed = 0;
        for (size_t i = 0; i < nd && i < 1000; i++) {
            char d[512];
            json_t *di = json_array_get(details, i);
            if (!json_is_string(di))
                continue;
            cli_fail(ctx->what, "%ld %s: %s", r->status, msg,
                     s_clean(json_string_value(di), d, sizeof d));
            printed++;
        }
        if (!printed)
            cli_fail(ctx->what, "%ld %s", r->status, msg);
    }
    json_decref(o);
    return 1;
}

/* One request to the API.  On success (2xx with a JSON object body) *out
 * holds the parsed body and *resp the raw one (caller frees both) and 0 is
 * returned; otherwise the error is printed and 1 returned. */
static int s_call(s_ctx_t *ctx, const char *method, const char *path, json_t *body,
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

static int s_usage(const char *what, const char *text, bool error)
{
    (void)fprintf(error ? stderr : stdout,
                  "usage: egide %s\n"
                  "common options:\n"
                  "  --api URL          edge API (default " S_DEFAULT_API ")\n"
                  "  --token-file FILE  API bearer token (a 0600 file)\n"
                  "  --config FILE      INI file with [api] url, token_file, timeout_ms\n"
                  "                     (default $EGIDE_CONFIG or ~/.config/egide/cli.ini)\n"
                  "  --json             print the server's JSON\n"
                  "  --timeout MS       total request timeout (default %ld)\n",
                  text, EGIDE_HTTPC_DEFAULT_TIMEOUT_MS);
    (void)what;
    return error ? 2 : 0;
}

static bool s_is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

/* ---- send ------------------------------------------------------------ */

static const char s_send_usage[] =
    "send --type TYPE (--to NODE ... | --commune CODE) --file PAYLOAD\n"
    "                  [--urgency normal|urgent|immediate] [--in-reply-to MSG_ID]\n"
    "                  [--content-type TYPE]\n\n"
    "Submit a message through the local edge.  PAYLOAD (a file, or - for stdin) is a\n"
    "JSON object, or any\n"
    "bytes when --content-type is given (other than application/json).  Prints the\n"
    "message id and its recipients.\n";

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

static int s_send_body(s_ctx_t *ctx, const char *type, const char **to, size_t nto,
                       const char *commune, const char *file, const char *urgency,
                       const char *reply, const char *ctype, json_t **out)
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
    } else {
        json_object_set_new(o, "commune", json_string(commune));
    }
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
                           s_clean(jerr.text, t, sizeof t));
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

int cmd_send(int argc, char **argv)
{
    s_ctx_t ctx;
    s_ctx_init(&ctx, "send");
    const char *type = NULL, *commune = NULL, *file = NULL, *urgency = NULL, *reply = NULL,
               *ctype = NULL;
    const char *to[S_MAX_TO];
    size_t nto = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int m;
        if (s_is_help(argv[i]))
            return s_usage("send", s_send_usage, false);
        if ((m = s_common_opt(&ctx, argc, argv, &i)) != 0) {
            if (m < 0)
                return 2;
        } else if ((m = s_opt("send", argc, argv, &i, "--type", &v)) != 0) {
            if (m < 0)
                return 2;
            type = v;
        } else if ((m = s_opt("send", argc, argv, &i, "--to", &v)) != 0) {
            if (m < 0)
                return 2;
            if (nto == S_MAX_TO)
                return cli_fail("send", "at most %d recipients", S_MAX_TO) + 1;
            to[nto++] = v;
        } else if ((m = s_opt("send", argc, argv, &i, "--commune", &v)) != 0) {
            if (m < 0)
                return 2;
            commune = v;
        } else if ((m = s_opt("send", argc, argv, &i, "--file", &v)) != 0) {
            if (m < 0)
                return 2;
            file = v;
        } else if ((m = s_opt("send", argc, argv, &i, "--urgency", &v)) != 0) {
            if (m < 0)
                return 2;
            urgency = v;
        } else if ((m = s_opt("send", argc, argv, &i, "--in-reply-to", &v)) != 0) {
            if (m < 0)
                return 2;
            reply = v;
        } else if ((m = s_opt("send", argc, argv, &i, "--content-type", &v)) != 0) {
            if (m < 0)
                return 2;
            ctype = v;
        } else {
            cli_fail("send", "unknown argument '%s' (egide send --help)", argv[i]);
            return 2;
        }
    }
    if (!type || !*type)
        return cli_fail("send", "--type TYPE is required") + 1;
    if (strlen(type) > EGIDE_MAX_TYPE_NAME)
        return cli_fail("send", "--type: longer than %u characters", EGIDE_MAX_TYPE_NAME) + 1;
    if (!nto && !commune)
        return cli_fail("send", "give the recipients with --to NODE or --commune CODE") + 1;
    if (nto && commune)
        return cli_fail("send", "--to and --commune are exclusive") + 1;
    for (size_t i = 0; i < nto; i++)
        if (!*to[i] || strlen(to[i]) > EGIDE_MAX_NODE_ID)
            return cli_fail("send", "--to: '%s' is not a node id", to[i]) + 1;
    if (commune && (strlen(commune) != 5 || strspn(commune, "0123456789ABab") != 5))
        return cli_fail("send", "--commune: '%s' is not an INSEE commune code (5 characters)",
                        commune) +
               1;
    if (!file)
        return cli_fail("send", "--file PAYLOAD is required") + 1;
    if (urgency && !s_in(urgency, s_urgencies))
        return cli_fail("send", "--urgency: '%s' is not normal, urgent or immediate", urgency) + 1;
    if (reply && !s_is_msg_id(reply))
        return cli_fail("send", "--in-reply-to: '%s' is not a message id (32 hex characters)",
                        reply) +
               1;

    int ret = s_setup(&ctx);
    json_t *body = NULL, *res = NULL;
    egide_httpc_resp_t r = {0};
    if (ret)
        goto done;
    ret = s_send_body(&ctx, type, to, nto, commune, file, urgency, reply, ctype, &body);
    if (ret)
        goto done;
    ret = s_call(&ctx, "POST", "/v1/messages", body, NULL, &r, &res);
    if (ret)
        goto done;
    if (ctx.json) {
        s_print_raw(&r);
        goto done;
    }
    char id[80], state[32];
    printf("%s\n", s_field(res, "id", id, sizeof id));
    printf("state: %s\n", s_field(res, "state", state, sizeof state));
    json_t *rec = json_object_get(res, "recipients");
    printf("recipients:");
    for (size_t i = 0; i < json_array_size(rec); i++) {
        char n[EGIDE_MAX_NODE_ID + 1];
        printf(" %s", s_clean(json_string_value(json_array_get(rec, i)), n, sizeof n));
    }
    printf("\n");
done:
    json_decref(body);
    json_decref(res);
    egide_httpc_resp_free(&r);
    return s_done(&ctx, ret);
}

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
            s_clean(json_string_value(r), node, sizeof node);
            st[0] = '\0';
        } else {
            s_field(r, "node", node, sizeof node);
            s_field(r, "state", st, sizeof st);
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

static int s_list(const char *what, const char *box, int argc, char **argv)
{
    s_ctx_t ctx;
    s_ctx_init(&ctx, what);
    const char *state = NULL;
    int64_t limit = 0;
    char usage[256];
    (void)snprintf(usage, sizeof usage,
                   "%s [--state STATE] [--limit N]\n\nList the %s with their states "
                   "(STATE: queued, accepted, delivered, acknowledged, rejected, expired).\n",
                   what, strcmp(box, "inbox") == 0 ? "messages received" : "messages sent");
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int m;
        if (s_is_help(argv[i]))
            return s_usage(what, usage, false);
        if ((m = s_common_opt(&ctx, argc, argv, &i)) != 0) {
            if (m < 0)
                return 2;
        } else if ((m = s_opt(what, argc, argv, &i, "--state", &v)) != 0) {
            if (m < 0)
                return 2;
            if (!s_in(v, s_states))
                return cli_fail(what,
                                "--state: '%s' is not one of queued, accepted, delivered, "
                                "acknowledged, rejected, expired",
                                v) +
                       1;
            state = v;
        } else if ((m = s_opt(what, argc, argv, &i, "--limit", &v)) != 0) {
            if (m < 0)
                return 2;
            if (egide_parse_int64(v, 1, 100000, &limit))
                return cli_fail(what, "--limit: not a number in [1, 100000]") + 1;
        } else {
            cli_fail(what, "unknown argument '%s' (egide %s --help)", argv[i], what);
            return 2;
        }
    }
    int ret = s_setup(&ctx);
    json_t *res = NULL;
    egide_httpc_resp_t r = {0};
    if (ret)
        goto done;
    char path[256];
    (void)snprintf(path, sizeof path, "/v1/messages?box=%s%s%s", box, state ? "&state=" : "",
                   state ? state : "");
    if (limit) {
        size_t n = strlen(path);
        (void)snprintf(path + n, sizeof path - n, "&limit=%lld", (long long)limit);
    }
    ret = s_call(&ctx, "GET", path, NULL, NULL, &r, &res);
    if (ret)
        goto done;
    if (ctx.json) {
        s_print_raw(&r);
        goto done;
    }
    json_t *msgs = json_object_get(res, "messages");
    if (!json_array_size(msgs)) {
        printf("(no messages%s%s)\n", state ? " in state " : "", state ? state : "");
        goto done;
    }
    bool inbox = strcmp(box, "inbox") == 0;
    printf("%-32s  %-26s  %-9s  %-16s  %-12s  %s\n", "ID", "TYPE", "URGENCY",
           inbox ? "RECEIVED" : "CREATED", "STATE", inbox ? "FROM" : "TO (STATE)");
    for (size_t i = 0; i < json_array_size(msgs); i++) {
        json_t *m = json_array_get(msgs, i);
        char id[80], type[80], urg[16], when[40], st[32], who[1024];
        s_field(m, "id", id, sizeof id);
        s_field(m, "type", type, sizeof type);
        s_field(m, "urgency", urg, sizeof urg);
        s_field(m, "state", st, sizeof st);
        if (inbox) {
            s_time(m, json_object_get(m, "received_ms") ? "received_ms" : "created_ms", S_T_MIN,
                   when, sizeof when);
            s_field(m, "sender", who, sizeof who);
        } else {
            s_time(m, "created_ms", S_T_MIN, when, sizeof when);
            s_recipients_line(m, who, sizeof who);
        }
        printf("%-32s  %-26s  %-9s  %-16s  %-12s  %s\n", id, type, urg, when, st, who);
    }
done:
    json_decref(res);
    egide_httpc_resp_free(&r);
    return s_done(&ctx, ret);
}

int cmd_inbox(int argc, char **argv)
{
    return s_list("inbox", "inbox", argc, argv);
}

int cmd_outbox(int argc, char **argv)
{
    return s_list("outbox", "outbox", argc, argv);
}

/* ---- show -------------------------------------------------------------- */

static const char s_show_usage[] =
    "show MSG_ID [--payload] [--out FILE]\n\n"
    "Show one message: header, per-recipient states and signed receipts.  The payload\n"
    "(referral content) is printed only with --payload, or written to FILE (mode 0600)\n"
    "with --out.\n";

static int s_write_payload(s_ctx_t *ctx, json_t *res, const char *out_file, bool to_stdout)
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
                   s_field(res, "content_type", ct, sizeof ct), t);
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
        printf("\nPayload (%s):\n", s_field(res, "content_type", ct, sizeof ct));
        (void)fwrite(data, 1, len, stdout);
        printf("\n");
    }
    egide_free_secret(data, len);
    return ret;
}

int cmd_show(int argc, char **argv)
{
    s_ctx_t ctx;
    s_ctx_init(&ctx, "show");
    const char *id = NULL, *out_file = NULL;
    bool payload = false;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int m;
        if (s_is_help(argv[i]))
            return s_usage("show", s_show_usage, false);
        if ((m = s_common_opt(&ctx, argc, argv, &i)) != 0) {
            if (m < 0)
                return 2;
        } else if (strcmp(argv[i], "--payload") == 0) {
            payload = true;
        } else if ((m = s_opt("show", argc, argv, &i, "--out", &v)) != 0) {
            if (m < 0)
                return 2;
            out_file = v;
        } else if (argv[i][0] != '-' && !id) {
            id = argv[i];
        } else {
            cli_fail("show", "unknown argument '%s' (egide show --help)", argv[i]);
            return 2;
        }
    }
    if (!id)
        return s_usage("show", s_show_usage, true);
    if (!s_is_msg_id(id))
        return cli_fail("show", "'%s' is not a message id (32 hex characters)", id) + 1;

    int ret = s_setup(&ctx);
    json_t *res = NULL;
    egide_httpc_resp_t r = {0};
    if (ret)
        goto done;
    char path[128];
    (void)snprintf(path, sizeof path, "/v1/messages/%s", id);
    ret = s_call(&ctx, "GET", path, NULL, id, &r, &res);
    if (ret)
        goto done;
    if (ctx.json) {
        s_print_raw(&r);
        if (out_file)
            ret = s_write_payload(&ctx, res, out_file, false);
        goto done;
    }
    char a[512], b[64];
    printf("Message     %s\n", s_field(res, "id", a, sizeof a));
    printf("Box         %s\n", s_field(res, "box", a, sizeof a));
    printf("Type        %s\n", s_field(res, "type", a, sizeof a));
    printf("From        %s\n", s_field(res, "sender", a, sizeof a));
    printf("Urgency     %s\n", s_field(res, "urgency", a, sizeof a));
    printf("Created     %s\n", s_time(res, "created_ms", S_T_ISO, a, sizeof a));
    printf("State       %s\n", s_field(res, "state", a, sizeof a));
    if (json_is_string(json_object_get(res, "in_reply_to")))
        printf("In reply to %s\n", s_field(res, "in_reply_to", a, sizeof a));

    json_t *rec = json_object_get(res, "recipients");
    if (json_array_size(rec)) {
        printf("\nRecipients\n");
        for (size_t i = 0; i < json_array_size(rec); i++) {
            json_t *x = json_array_get(rec, i);
            char node[EGIDE_MAX_NODE_ID + 1], st[32], t1[40], t2[40], t3[40], reason[256];
            s_field(x, "node", node, sizeof node);
            s_field(x, "state", st, sizeof st);
            printf("  %-28s %-12s accepted %-19s delivered %-19s acknowledged %s", node, st,
                   s_time(x, "accepted_ms", S_T_SEC, t1, sizeof t1),
                   s_time(x, "delivered_ms", S_T_SEC, t2, sizeof t2),
                   s_time(x, "acknowledged_ms", S_T_SEC, t3, sizeof t3));
            if (json_is_string(json_object_get(x, "reason")) &&
                json_string_length(json_object_get(x, "reason")))
                printf("  reason: %s", s_field(x, "reason", reason, sizeof reason));
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
        printf("  %-9s %s -> %s  %s  %s", s_field(x, "kind", kind, sizeof kind),
               s_field(x, "issuer", issuer, sizeof issuer),
               s_field(x, "recipient", rcp, sizeof rcp), s_time(x, "time_ms", S_T_SEC, t, sizeof t),
               json_is_true(ver) ? "signature verified" : "SIGNATURE NOT VERIFIED");
        if (json_is_integer(json_object_get(x, "audit_leaf_index")))
            printf("  audit #%s", s_field(x, "audit_leaf_index", b, sizeof b));
        if (json_is_string(json_object_get(x, "reason")) &&
            json_string_length(json_object_get(x, "reason")))
            printf("  reason: %s", s_field(x, "reason", reason, sizeof reason));
        printf("\n");
    }
    bool has_payload = json_object_get(res, "payload") || json_object_get(res, "payload_b64");
    if (payload || out_file) {
        ret = s_write_payload(&ctx, res, out_file, payload);
    } else if (has_payload) {
        printf("\nPayload     %s (not shown: use --payload, or --out FILE)\n",
               s_field(res, "content_type", a, sizeof a));
    }
done:
    json_decref(res);
    egide_httpc_resp_free(&r);
    return s_done(&ctx, ret);
}

/* ---- ack --------------------------------------------------------------- */

static const char s_ack_usage[] = "ack MSG_ID [--note TEXT]\n\n"
                                  "Acknowledge a received message (sends the signed "
                                  "acknowledgement back to its sender).\n";

int cmd_ack(int argc, char **argv)
{
    s_ctx_t ctx;
    s_ctx_init(&ctx, "ack");
    const char *id = NULL, *note = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int m;
        if (s_is_help(argv[i]))
            return s_usage("ack", s_ack_usage, false);
        if ((m = s_common_opt(&ctx, argc, argv, &i)) != 0) {
            if (m < 0)
                return 2;
        } else if ((m = s_opt("ack", argc, argv, &i, "--note", &v)) != 0) {
            if (m < 0)
                return 2;
            note = v;
        } else if (argv[i][0] != '-' && !id) {
            id = argv[i];
        } else {
            cli_fail("ack", "unknown argument '%s' (egide ack --help)", argv[i]);
            return 2;
        }
    }
    if (!id)
        return s_usage("ack", s_ack_usage, true);
    if (!s_is_msg_id(id))
        return cli_fail("ack", "'%s' is not a message id (32 hex characters)", id) + 1;
    json_t *body = NULL;
    if (note) {
        body = json_pack("{s:s}", "note", note);
        if (!body)
            return cli_fail("ack", "--note: not valid UTF-8 text") + 1;
    }
    int ret = s_setup(&ctx);
    json_t *res = NULL;
    egide_httpc_resp_t r = {0};
    if (ret)
        goto done;
    char path[128];
    (void)snprintf(path, sizeof path, "/v1/messages/%s/ack", id);
    ret = s_call(&ctx, "POST", path, body, id, &r, &res);
    if (ret)
        goto done;
    if (ctx.json) {
        s_print_raw(&r);
        goto done;
    }
    char a[80], st[32];
    printf("%s %s\n", s_field(res, "id", a, sizeof a), s_field(res, "state", st, sizeof st));
done:
    json_decref(body);
    json_decref(res);
    egide_httpc_resp_free(&r);
    return s_done(&ctx, ret);
}

/* ---- status ------------------------------------------------------------ */

static const char s_status_usage[] =
    "status\n\nHealth of the local edge: node, broker connection, directory version,\n"
    "pending outbox and inbox counts.  Exits non-zero unless the edge says \"ok\".\n";

int cmd_status(int argc, char **argv)
{
    s_ctx_t ctx;
    s_ctx_init(&ctx, "status");
    for (int i = 1; i < argc; i++) {
        int m;
        if (s_is_help(argv[i]))
            return s_usage("status", s_status_usage, false);
        if ((m = s_common_opt(&ctx, argc, argv, &i)) != 0) {
            if (m < 0)
                return 2;
        } else {
            cli_fail("status", "unknown argument '%s' (egide status --help)", argv[i]);
            return 2;
        }
    }
    int ret = s_setup(&ctx);
    json_t *res = NULL;
    egide_httpc_resp_t r = {0};
    if (ret)
        goto done;
    ret = s_call(&ctx, "GET", "/v1/health", NULL, NULL, &r, &res);
    if (ret)
        goto done;
    const char *st = json_string_value(json_object_get(res, "status"));
    if (ctx.json) {
        s_print_raw(&r);
    } else {
        char a[256];
        printf("edge              %s\n", ctx.url);
        printf("node              %s\n", s_field(res, "node", a, sizeof a));
        printf("status            %s\n", s_field(res, "status", a, sizeof a));
        printf("broker            %s\n", s_field(res, "broker", a, sizeof a));
        printf("directory version %s\n", s_field(res, "directory_version", a, sizeof a));
        printf("outbox pending    %s\n", s_field(res, "outbox_pending", a, sizeof a));
        printf("inbox             %s\n", s_field(res, "inbox", a, sizeof a));
        if (json_object_get(res, "audit_alert"))
            printf("AUDIT ALERT       %s\n", s_field(res, "audit_alert", a, sizeof a));
    }
    if (!st || strcmp(st, "ok") != 0) {
        char a[64];
        ret = cli_fail("status", "the edge reports status '%s'", s_clean(st, a, sizeof a));
    }
done:
    json_decref(res);
    egide_httpc_resp_free(&r);
    return s_done(&ctx, ret);
}
