/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_http.c - the HTTP server wrapper on libmicrohttpd (see egide_http.h).
 *
 * One request goes through three libmicrohttpd callbacks:
 *   s_on_uri()       sees the raw request target first; it allocates the
 *                    per-request context (s_req_t) and keeps the raw query
 *                    string, which libmicrohttpd would otherwise only hand
 *                    out already split and decoded;
 *   s_on_request()   is called once when the headers are in (authentication
 *                    and the Content-Length check happen here, so a refused
 *                    request never has its body read), then with each piece
 *                    of the body, then once more when the request is
 *                    complete, which is when the Égide handler runs;
 *   s_on_completed() frees the context, wiping the body (it may hold a
 *                    referral).
 * The token is kept only as its SHA-256 digest: comparing digests in constant
 * time leaks neither the content nor the length of the expected token.
 */
#include "egide/net/egide_http.h"
#include "egide/base/egide_token.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "egide/crypto/egide_crypto.h"
#include "egide/base/egide_limits.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"

/* A running server.  Invariant: d != NULL between start and stop; the
 * configuration it uses is owned here (copied from the caller). */
struct egide_http {
    struct MHD_Daemon *d;     /* the libmicrohttpd daemon */
    egide_http_handler_fn fn; /* the Égide handler */
    void *arg;                /* its argument */
    bool has_token;           /* false: no authentication (tests only) */
    uint8_t token_digest[32]; /* SHA-256 of the expected token */
    char **public_paths;      /* NULL-terminated copy, may be NULL */
    size_t max_body;          /* request body cap in bytes */
    uint16_t port;            /* bound port */
};

/* One request in flight.  Invariant: body.len <= max_body of the server;
 * once too_large is set the body is freed and further data discarded. */
typedef struct s_req {
    char *query;         /* raw query without '?', "" when none; owned */
    bool uri_too_long;   /* request target longer than EGIDE_HTTP_MAX_URI */
    bool started;        /* the header-time checks ran */
    bool too_large;      /* the body went over max_body (chunked upload) */
    const char *auth_as; /* what egide_http_req_t.authenticated_as will say */
    egide_buf_t body;    /* the buffered body */
} s_req_t;

static const char *const s_json = "application/json";

/* ---- small helpers --------------------------------------------------- */

static char *s_strdup(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p)
        memcpy(p, s, n + 1);
    return p;
}

static void s_set_body(egide_http_resp_t *resp, int status, const char *ctype, char *body,
                       size_t len)
{
    free(resp->body);
    resp->status = status;
    resp->content_type = ctype;
    resp->body = body;
    resp->body_len = len;
}

/* A JSON error body as a new string (NULL on allocation failure). */
static char *s_error_body(egide_rc rc, const char *msg, json_t *details, size_t *len)
{
    json_t *err = json_object();
    json_t *root = json_object();
    char *out = NULL;
    if (!err || !root)
        goto done;
    json_t *m = json_string(msg ? msg : "");
    if (!m) {
        /* Not valid UTF-8: never lose the error because of it. */
        char clean[512];
        m = json_string(egide_sanitize(msg, strlen(msg), clean, sizeof clean));
    }
    if (json_object_set_new(err, "code", json_string(egide_rc_name(rc))) ||
        json_object_set_new(err, "message", m))
        goto done;
    if (details) {
        if (json_object_set(err, "details", details))
            goto done;
    }
    if (json_object_set(root, "error", err))
        goto done;
    char *s = json_dumps(root, JSON_COMPACT);
    if (!s)
        goto done;
    size_t n = strlen(s);
    out = realloc(s, n + 2);
    if (!out) {
        free(s);
        goto done;
    }
    out[n] = '\n';
    out[n + 1] = '\0';
    *len = n + 1;
done:
    json_decref(err);
    json_decref(root);
    return out;
}

static void s_error_v(egide_http_resp_t *resp, int status, egide_rc rc, json_t *details,
                      const char *fmt, va_list ap)
{
    char msg[512];
    (void)vsnprintf(msg, sizeof msg, fmt, ap);
    size_t len = 0;
    char *body = s_error_body(rc, msg, details, &len);
    s_set_body(resp, status, s_json, body, body ? len : 0);
}

/* ---- helpers for handlers ------------------------------------------- */

void egide_http_error(egide_http_resp_t *resp, int status, egide_rc rc, const char *fmt, ...)
{
    if (!resp)
        return;
    va_list ap;
    va_start(ap, fmt);
    s_error_v(resp, status, rc, NULL, fmt, ap);
    va_end(ap);
}

void egide_http_error_details(egide_http_resp_t *resp, int status, egide_rc rc, json_t *details,
                              const char *fmt, ...)
{
    if (!resp) {
        json_decref(details);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    s_error_v(resp, status, rc, details, fmt, ap);
    va_end(ap);
    json_decref(details);
}

void egide_http_json(egide_http_resp_t *resp, int status, json_t *obj)
{
    if (!resp) {
        json_decref(obj);
        return;
    }
    char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!s) {
        egide_http_error(resp, 500, EGIDE_ERR_NOMEM, "cannot serialise the response");
        return;
    }
    size_t n = strlen(s);
    char *out = realloc(s, n + 2);
    if (!out) {
        free(s);
        egide_http_error(resp, 500, EGIDE_ERR_NOMEM, "out of memory");
        return;
    }
    out[n] = '\n';
    out[n + 1] = '\0';
    s_set_body(resp, status, s_json, out, n + 1);
}

void egide_http_text(egide_http_resp_t *resp, int status, const char *content_type,
                     const char *text)
{
    if (!resp)
        return;
    char *body = s_strdup(text ? text : "");
    if (!body) {
        egide_http_error(resp, 500, EGIDE_ERR_NOMEM, "out of memory");
        return;
    }
    s_set_body(resp, status, content_type ? content_type : "text/plain; charset=utf-8", body,
               strlen(body));
}

static int s_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* URL-decode s[0..n) into out (size outsz, NUL-terminated).  EGIDE_ERR_PROTO
 * on a bad escape or a decoded NUL, EGIDE_ERR_LIMIT when it does not fit. */
static egide_rc s_url_decode(const char *s, size_t n, char *out, size_t outsz)
{
    size_t o = 0;
    egide_rc rc = EGIDE_OK;
    for (size_t i = 0; i < n && rc == EGIDE_OK; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi = n - i >= 3 ? s_hexval(s[i + 1]) : -1;
            int lo = n - i >= 3 ? s_hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                rc = EGIDE_ERR_PROTO;
                break;
            }
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0')
            rc = EGIDE_ERR_PROTO;
        else if (o + 1 >= outsz)
            rc = EGIDE_ERR_LIMIT;
        else
            out[o++] = c;
    }
    /* Never hand back part of a value. */
    out[rc == EGIDE_OK ? o : 0] = '\0';
    return rc;
}

egide_rc egide_http_query_get(const char *query, const char *key, char *out, size_t outsz)
{
    if (out && outsz)
        out[0] = '\0';
    if (!query || !key || !*key || !out || !outsz)
        return EGIDE_ERR_INVALID;
    size_t klen = strlen(key);
    const char *p = query;
    while (*p) {
        const char *end = strchr(p, '&');
        size_t seglen = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', seglen);
        size_t namelen = eq ? (size_t)(eq - p) : seglen;
        /* Decode the name: a key is short, so a name that does not fit
         * twice the key's length cannot match. */
        char name[256];
        if (klen < sizeof name / 2 && s_url_decode(p, namelen, name, sizeof name) == EGIDE_OK &&
            strcmp(name, key) == 0) {
            if (!eq)
                return EGIDE_OK;
            return s_url_decode(eq + 1, seglen - namelen - 1, out, outsz);
        }
        if (!end)
            break;
        p = end + 1;
    }
    return EGIDE_ERR_NOTFOUND;
}

/* ---- libmicrohttpd callbacks ---------------------------------------- */

static void s_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    (void)vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    egide_log(EGIDE_LOG_WARNING, "http: %s", line);
}

static void *s_on_uri(void *cls, const char *uri, struct MHD_Connection *con)
{
    (void)con;
    egide_http_t *h = cls;
    s_req_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    egide_buf_init(&r->body, h->max_body + 1);
    size_t ulen = uri ? strlen(uri) : 0;
    if (ulen > EGIDE_HTTP_MAX_URI)
        r->uri_too_long = true;
    const char *q = (uri && !r->uri_too_long) ? strchr(uri, '?') : NULL;
    if (q) {
        q++;
        size_t qlen = strcspn(q, "#");
        r->query = malloc(qlen + 1);
        if (r->query) {
            memcpy(r->query, q, qlen);
            r->query[qlen] = '\0';
        }
    } else {
        r->query = s_strdup("");
    }
    if (!r->query) {
        free(r);
        return NULL;
    }
    return r;
}

static void s_on_completed(void *cls, struct MHD_Connection *con, void **req_cls,
                           enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)con;
    (void)toe;
    s_req_t *r = req_cls ? *req_cls : NULL;
    if (!r)
        return;
    free(r->query);
    egide_buf_free_secret(&r->body);
    free(r);
    *req_cls = NULL;
}

/* Fill a handler-less response with the default JSON error for its status. */
static void s_default_body(egide_http_resp_t *resp)
{
    switch (resp->status) {
    case 400:
        egide_http_error(resp, 400, EGIDE_ERR_INVALID, "bad request");
        break;
    case 401:
        egide_http_error(resp, 401, EGIDE_ERR_AUTH, "missing or invalid bearer token");
        break;
    case 403:
        egide_http_error(resp, 403, EGIDE_ERR_AUTH, "forbidden");
        break;
    case 404:
        egide_http_error(resp, 404, EGIDE_ERR_NOTFOUND, "not found");
        break;
    case 405:
        egide_http_error(resp, 405, EGIDE_ERR_INVALID, "method not allowed");
        break;
    case 413:
        egide_http_error(resp, 413, EGIDE_ERR_LIMIT, "request body too large");
        break;
    case 414:
        egide_http_error(resp, 414, EGIDE_ERR_LIMIT, "request target too long");
        break;
    default:
        if (resp->status == 204 || resp->status == 304)
            egide_http_text(resp, resp->status, s_json, "");
        else if (resp->status < 400)
            egide_http_text(resp, resp->status, s_json, "{}\n");
        else if (resp->status < 500)
            egide_http_error(resp, resp->status, EGIDE_ERR_INVALID, "request refused");
        else
            egide_http_error(resp, resp->status, EGIDE_ERR_IO, "internal error");
        break;
    }
}

static enum MHD_Result s_send(struct MHD_Connection *con, egide_http_resp_t *resp,
                              const char *www_auth)
{
    if (resp->status < 200 || resp->status > 599) {
        free(resp->body);
        resp->body = NULL;
        resp->status = 500;
    }
    if (!resp->body)
        s_default_body(resp);
    struct MHD_Response *mr;
    if (resp->body) {
        mr = MHD_create_response_from_buffer(resp->body_len, resp->body, MHD_RESPMEM_MUST_FREE);
        if (mr)
            resp->body = NULL; /* now libmicrohttpd's to free() */
    } else {
        mr = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    free(resp->body);
    resp->body = NULL;
    if (!mr)
        return MHD_NO;
    bool ok = MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
                                      resp->content_type ? resp->content_type : s_json) &&
              MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") &&
              MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff") &&
              MHD_add_response_header(mr, "X-Frame-Options", "DENY") &&
              MHD_add_response_header(mr, "Referrer-Policy", "no-referrer");
    if (ok && www_auth)
        ok = MHD_add_response_header(mr, MHD_HTTP_HEADER_WWW_AUTHENTICATE, www_auth);
    enum MHD_Result ret = ok ? MHD_queue_response(con, (unsigned)resp->status, mr) : MHD_NO;
    MHD_destroy_response(mr);
    return ret;
}

static enum MHD_Result s_send_status(struct MHD_Connection *con, int status, const char *www_auth)
{
    egide_http_resp_t resp = {status, NULL, 0, s_json};
    return s_send(con, &resp, www_auth);
}

static bool s_is_public(const egide_http_t *h, const char *path)
{
    for (size_t i = 0; h->public_paths && h->public_paths[i]; i++)
        if (strcmp(h->public_paths[i], path) == 0)
            return true;
    return false;
}

/* 0: authenticated; 1: no credentials; 2: wrong credentials. */
static int s_check_token(const egide_http_t *h, struct MHD_Connection *con)
{
    const char *v =
        MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!v)
        return 1;
    if (strncasecmp(v, "Bearer ", 7) != 0)
        return 2;
    v += 7;
    while (*v == ' ')
        v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    uint8_t d[32];
    egide_sha256(v, n, d);
    bool ok = egide_ct_equal(d, h->token_digest, sizeof d);
    egide_wipe(d, sizeof d);
    return ok ? 0 : 2;
}

static enum MHD_Result s_on_request(void *cls, struct MHD_Connection *con, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **req_cls)
{
    (void)version;
    egide_http_t *h = cls;
    s_req_t *r = *req_cls;
    if (!r)
        return MHD_NO; /* out of memory in s_on_uri: drop the connection */

    if (!r->started) {
        r->started = true;
        if (r->uri_too_long)
            return s_send_status(con, 414, NULL);
        if (s_is_public(h, url)) {
            r->auth_as = NULL;
        } else if (h->has_token) {
            int a = s_check_token(h, con);
            if (a != 0) {
                char path[128];
                egide_log(EGIDE_LOG_NOTICE, "http: %s %s: %s bearer token", method,
                          egide_sanitize(url, strlen(url), path, sizeof path),
                          a == 1 ? "missing" : "wrong");
                return s_send_status(con, 401,
                                     a == 1 ? "Bearer realm=\"egide\""
                                            : "Bearer realm=\"egide\", error=\"invalid_token\"");
            }
            r->auth_as = "token";
        } else {
            r->auth_as = "none";
        }
        const char *cl =
            MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            int64_t n = 0;
            if (egide_parse_int64(cl, 0, INT64_MAX, &n) != EGIDE_OK)
                return s_send_status(con, 400, NULL);
            if ((uint64_t)n > h->max_body)
                return s_send_status(con, 413, NULL);
        }
        return MHD_YES;
    }

    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->too_large)
            return MHD_YES; /* discard the rest, answer 413 at the end */
        if (n > h->max_body - r->body.len) {
            r->too_large = true;
            egide_buf_free_secret(&r->body);
            return MHD_YES;
        }
        if (egide_buf_append(&r->body, upload_data, n) != EGIDE_OK)
            return MHD_NO;
        return MHD_YES;
    }

    if (r->too_large)
        return s_send_status(con, 413, NULL);
    /* NUL-terminate for the handler's convenience (the cap has room). */
    if (egide_buf_append(&r->body, "", 1) != EGIDE_OK)
        return MHD_NO;
    r->body.len--;

    egide_http_req_t req = {
        .method = method,
        .path = url,
        .query = r->query,
        .body = r->body.data ? r->body.data : (const uint8_t *)"",
        .body_len = r->body.len,
        .authenticated_as = r->auth_as,
        .content_type =
            MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
    };
    egide_http_resp_t resp = {500, NULL, 0, s_json};
    h->fn(&req, &resp, h->arg);
    char path[128];
    egide_log(EGIDE_LOG_DEBUG, "http: %s %s -> %d", method,
              egide_sanitize(url, strlen(url), path, sizeof path), resp.status);
    return s_send(con, &resp, NULL);
}

/* ---- start / stop --------------------------------------------------- */

static void s_free(egide_http_t *h)
{
    if (!h)
        return;
    for (size_t i = 0; h->public_paths && h->public_paths[i]; i++)
        free(h->public_paths[i]);
    free(h->public_paths);
    egide_wipe(h->token_digest, sizeof h->token_digest);
    free(h);
}

egide_rc egide_http_start(const egide_http_config_t *cfg, egide_http_handler_fn fn, void *arg,
                          egide_http_t **out)
{
    if (!cfg || !fn || !out)
        return EGIDE_ERR_INVALID;
    *out = NULL;

    const char *addr = cfg->bind_addr ? cfg->bind_addr : EGIDE_DEFAULT_API_BIND;
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    memset(&sin, 0, sizeof sin);
    memset(&sin6, 0, sizeof sin6);
    bool v6 = false, loopback = false;
    if (inet_pton(AF_INET, addr, &sin.sin_addr) == 1) {
        sin.sin_family = AF_INET;
        sin.sin_port = htons(cfg->port);
        loopback = (ntohl(sin.sin_addr.s_addr) >> 24) == 127;
    } else if (inet_pton(AF_INET6, addr, &sin6.sin6_addr) == 1) {
        v6 = true;
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(cfg->port);
        loopback = IN6_IS_ADDR_LOOPBACK(&sin6.sin6_addr);
    } else {
        egide_log(EGIDE_LOG_ERROR, "http: bind address is not an IP address");
        return EGIDE_ERR_INVALID;
    }
    if (!loopback && !cfg->allow_non_loopback) {
        char a[64];
        egide_log(EGIDE_LOG_ERROR,
                  "http: refusing to listen on non-loopback address %s "
                  "(set allow_non_loopback to do so on purpose)",
                  egide_sanitize(addr, strlen(addr), a, sizeof a));
        return EGIDE_ERR_CONFIG;
    }
    if (cfg->token && !egide_token_valid(cfg->token, strlen(cfg->token))) {
        egide_log(EGIDE_LOG_ERROR,
                  "http: the API token is too short or has invalid characters "
                  "(need at least %u printable characters)",
                  EGIDE_TOKEN_MIN);
        return EGIDE_ERR_CONFIG;
    }

    egide_http_t *h = calloc(1, sizeof *h);
    if (!h)
        return EGIDE_ERR_NOMEM;
    h->fn = fn;
    h->arg = arg;
    h->max_body = cfg->max_body ? cfg->max_body : EGIDE_MAX_JSON_BODY;
    if (h->max_body > EGIDE_MAX_JSON_BODY)
        h->max_body = EGIDE_MAX_JSON_BODY;
    if (cfg->token) {
        h->has_token = true;
        egide_sha256(cfg->token, strlen(cfg->token), h->token_digest);
    }
    if (cfg->public_paths) {
        size_t n = 0;
        while (n < 1024 && cfg->public_paths[n])
            n++;
        h->public_paths = calloc(n + 1, sizeof *h->public_paths);
        if (!h->public_paths) {
            s_free(h);
            return EGIDE_ERR_NOMEM;
        }
        for (size_t i = 0; i < n; i++) {
            h->public_paths[i] = s_strdup(cfg->public_paths[i]);
            if (!h->public_paths[i]) {
                s_free(h);
                return EGIDE_ERR_NOMEM;
            }
        }
    }

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (v6)
        flags |= MHD_USE_IPv6;
    unsigned maxconn =
        cfg->max_connections ? cfg->max_connections : EGIDE_HTTP_DEFAULT_MAX_CONNECTIONS;
    unsigned timeout = cfg->timeout_s ? cfg->timeout_s : EGIDE_HTTP_DEFAULT_TIMEOUT_S;
    unsigned threads = cfg->threads > 1 ? cfg->threads : 1;
    if (threads > 64)
        threads = 64;
    const struct sockaddr *sa = v6 ? (const struct sockaddr *)&sin6 : (const struct sockaddr *)&sin;

    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_SOCK_ADDR, 0, (void *)sa},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)maxconn, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)timeout, NULL},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)s_on_uri, h},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)s_on_completed, h},
        {threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, (intptr_t)threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    h->d =
        MHD_start_daemon(flags, cfg->port, NULL, NULL, s_on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
                         s_mhd_log, NULL, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!h->d) {
        char a[64];
        egide_log(EGIDE_LOG_ERROR, "http: cannot listen on %s port %u",
                  egide_sanitize(addr, strlen(addr), a, sizeof a), (unsigned)cfg->port);
        s_free(h);
        return EGIDE_ERR_IO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : cfg->port;
    *out = h;
    return EGIDE_OK;
}

uint16_t egide_http_port(const egide_http_t *h)
{
    return h ? h->port : 0;
}

void egide_http_stop(egide_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    egide_http_t *h = *self_p;
    if (h->d)
        MHD_stop_daemon(h->d);
    h->d = NULL;
    s_free(h);
    *self_p = NULL;
}
