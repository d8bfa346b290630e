/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_http.c - the HTTP server wrapper (egide_http) and client
 * (egide_httpc) against each other on 127.0.0.1: bearer token, public paths,
 * body cap, query decoding, security headers, loopback-only binding, clean
 * stop, unreachable servers and response caps; plus token files and the
 * session cookie admitted through the session callback.  A raw
 * socket helper checks what the client does not expose (headers, chunked
 * uploads).
 */
#include <fcntl.h>
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "egide/net/egide_http.h"
#include "egide/net/egide_httpc.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide_test.h"

#define TOKEN    "0123456789abcdef0123456789abcdef-test-token"
#define MAX_BODY 1024u

static atomic_int s_calls;
static char s_base[64];
/* Handler workers for servers started with threads = 0: main runs the
 * server tests once on the polling thread (0) and once with workers (4),
 * so that every limit and deadline is checked in both models. */
static unsigned s_threads;

/* The test handler: /echo describes the request; /big answers 100 KiB;
 * /q decodes two query keys; /err answers 422 with details; anything else
 * is left to the wrapper's default (404 JSON). */
static void s_handler(const egide_http_req_t *req, egide_http_resp_t *resp, void *arg)
{
    (void)arg;
    atomic_fetch_add(&s_calls, 1);
    if (strcmp(req->path, "/echo") == 0 || strcmp(req->path, "/v1/health") == 0) {
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:s%, s:I, s:s?, s:s?}", "method", req->method, "path", req->path,
            "query", req->query, "body", (const char *)req->body, req->body_len, "body_len",
            (json_int_t)req->body_len, "auth", req->authenticated_as, "ctype", req->content_type);
        egide_http_json(resp, 200, o);
    } else if (strcmp(req->path, "/big") == 0) {
        char *big = malloc(100 * 1024 + 1);
        if (!big) {
            egide_http_error(resp, 500, EGIDE_ERR_NOMEM, "oom");
            return;
        }
        memset(big, 'x', 100 * 1024);
        big[100 * 1024] = '\0';
        egide_http_text(resp, 200, NULL, big);
        free(big);
    } else if (strcmp(req->path, "/q") == 0) {
        char box[16], name[64];
        egide_rc r1 = egide_http_query_get(req->query, "box", box, sizeof box);
        egide_rc r2 = egide_http_query_get(req->query, "name", name, sizeof name);
        egide_http_json(resp, 200,
                        json_pack("{s:s, s:i, s:s, s:i}", "box", r1 ? "" : box, "box_rc", (int)r1,
                                  "name", r2 ? "" : name, "name_rc", (int)r2));
    } else if (strcmp(req->path, "/err") == 0) {
        egide_http_error_details(resp, 422, EGIDE_ERR_VALIDATION,
                                 json_pack("[s,s]", "a: bad", "b: worse"), "payload invalid");
    } else if (strcmp(req->path, "/busy") == 0) {
        egide_http_error(resp, 503, EGIDE_ERR_FULL, "store unavailable; retry");
    } else if (strcmp(req->path, "/only-get") == 0) {
        egide_http_method_not_allowed(resp, "GET");
    } else if (strcmp(req->path, "/badutf8") == 0) {
        egide_http_error(resp, 400, EGIDE_ERR_INVALID, "bad \xff\xfe value %s", "x");
    } else if (strcmp(req->path, "/long") == 0) {
        char big[2000];
        memset(big, 'y', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        egide_http_error(resp, 400, EGIDE_ERR_INVALID, "%s", big);
    } else if (strcmp(req->path, "/times") == 0) {
        egide_http_json(resp, 200,
                        json_pack("{s:I, s:I, s:n, s:I, s:{s:I}, s:[{s:I}], s:I, s:s, s:I}",
                                  "created_ms", (json_int_t)1796144400123LL, "timeout_ms",
                                  (json_int_t)5000, "closed_ms", "due_ms", (json_int_t)0, "payload",
                                  "received_ms", (json_int_t)1796144400123LL, "rows", "seen_ms",
                                  (json_int_t)86400000, "time_ms", (json_int_t)253402300800000LL,
                                  "done_at", "kept", "done_ms", (json_int_t)1796144400123LL));
    } else if (strcmp(req->path, "/twice") == 0) {
        egide_http_text(resp, 200, NULL, "first");
        egide_http_json(resp, 201, json_pack("{s:b}", "second", 1));
    } else if (strcmp(req->path, "/status") == 0) {
        /* Only a status, no body: the wrapper fills in a default. */
        char code[8];
        int64_t v = 0;
        if (egide_http_query_get(req->query, "code", code, sizeof code) == EGIDE_OK &&
            egide_parse_int64(code, -1000, 1000, &v) == EGIDE_OK)
            resp->status = (int)v;
    } else {
        resp->status = 404;
    }
}

static egide_http_t *s_start(const char *token, const char *const *public_paths, unsigned threads)
{
    egide_http_config_t cfg = {
        .bind_addr = "127.0.0.1",
        .port = 0,
        .token = token,
        .public_paths = public_paths,
        .max_body = MAX_BODY,
        .max_connections = 16,
        .timeout_s = 5,
        .threads = threads ? threads : s_threads,
    };
    egide_http_t *h = NULL;
    if (egide_http_start(&cfg, s_handler, NULL, &h) != EGIDE_OK)
        return NULL;
    snprintf(s_base, sizeof s_base, "http://127.0.0.1:%u", (unsigned)egide_http_port(h));
    return h;
}

/* A server with the test token and body cap, and the rest from *over. */
static egide_http_t *s_start_cfg(const egide_http_config_t *over)
{
    egide_http_config_t cfg = *over;
    if (!cfg.threads)
        cfg.threads = s_threads;
    cfg.bind_addr = "127.0.0.1";
    cfg.token = TOKEN;
    cfg.max_body = MAX_BODY;
    egide_http_t *h = NULL;
    if (egide_http_start(&cfg, s_handler, NULL, &h) != EGIDE_OK)
        return NULL;
    snprintf(s_base, sizeof s_base, "http://127.0.0.1:%u", (unsigned)egide_http_port(h));
    return h;
}

static egide_rc s_get(const char *path, const char *token, egide_httpc_resp_t *r)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", s_base, path);
    return egide_httpc_request("GET", url, token, NULL, NULL, 0, 0, 5000, r);
}

static egide_rc s_post(const char *path, const char *token, const void *body, size_t len,
                       egide_httpc_resp_t *r)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", s_base, path);
    return egide_httpc_request("POST", url, token, "application/json", body, len, 0, 5000, r);
}

/* Send raw bytes, read the whole answer (the request must ask to close). */
static size_t s_raw(uint16_t port, const char *req, size_t reqlen, char *out, size_t outsz)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    size_t got = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        size_t sent = 0;
        for (int i = 0; i < 10000 && sent < reqlen; i++) {
            ssize_t w = send(fd, req + sent, reqlen - sent, MSG_NOSIGNAL);
            if (w <= 0)
                break;
            sent += (size_t)w;
        }
        for (int i = 0; i < 10000 && got + 1 < outsz; i++) {
            ssize_t n = recv(fd, out + got, outsz - 1 - got, 0);
            if (n <= 0)
                break;
            got += (size_t)n;
        }
    }
    out[got] = '\0';
    close(fd);
    return got;
}

/* Connect to 127.0.0.1:port with send/receive timeouts of ms; -1 on error. */
static int s_connect(uint16_t port, int ms)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

#define S_CLOSED (-1) /* s_raw_status(): the server closed without an answer */

/* Send raw bytes and wait at most wait_ms in all for the answer's status
 * line; the HTTP status, S_CLOSED when the server closed the connection
 * without one, 0 when nothing came in time.  What was read goes to out. */
static int s_raw_status(uint16_t port, const char *req, size_t reqlen, int wait_ms, char *out,
                        size_t outsz)
{
    out[0] = '\0';
    int fd = s_connect(port, 200);
    if (fd < 0)
        return 0;
    size_t sent = 0;
    for (int i = 0; i < 1000 && sent < reqlen; i++) {
        ssize_t w = send(fd, req + sent, reqlen - sent, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        sent += (size_t)w;
    }
    size_t got = 0;
    bool closed = false;
    int64_t end = egide_mono_ms() + wait_ms;
    while (egide_mono_ms() < end && got + 1 < outsz) {
        ssize_t n = recv(fd, out + got, outsz - 1 - got, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            closed = true;
            break;
        }
        if (n > 0) {
            got += (size_t)n;
            out[got] = '\0';
            if (strstr(out, "\r\n\r\n"))
                break; /* the status line and headers are in: enough */
        }
    }
    close(fd);
    int status = 0;
    if (sscanf(out, "HTTP/1.%*d %d", &status) != 1)
        status = closed ? S_CLOSED : 0;
    return status;
}

static json_t *s_parse(const egide_httpc_resp_t *r)
{
    return r->body ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
}

/* The code of an RFC 9457 problem, NULL unless o is a whole one: type is
 * the code's URI, title and detail are strings, status is the answer's. */
static const char *s_err_code(json_t *o)
{
    const char *code = json_string_value(json_object_get(o, "code"));
    const char *type = json_string_value(json_object_get(o, "type"));
    char want[128];
    if (!code || !type || !json_is_string(json_object_get(o, "title")) ||
        !json_is_string(json_object_get(o, "detail")) ||
        !json_is_integer(json_object_get(o, "status")) || json_object_get(o, "error"))
        return NULL;
    snprintf(want, sizeof want, "https://egide.fr/problems/%s", code);
    return strcmp(type, want) == 0 ? code : NULL;
}

/* The problem's status member (-1 if absent). */
static long s_err_status(json_t *o)
{
    json_t *v = json_object_get(o, "status");
    return json_is_integer(v) ? (long)json_integer_value(v) : -1;
}

/* Errors are RFC 9457 problems with their headers; every 503 says when to
 * retry; instants get an RFC 3339 sibling, durations and payloads do not. */
static void test_problems_and_times(void)
{
    egide_http_t *h = s_start(NULL, NULL, 0);
    REQUIRE(h != NULL);
    uint16_t port = egide_http_port(h);
    char buf[8192];
    const char *rq = "GET /busy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    s_raw(port, rq, strlen(rq), buf, sizeof buf);
    CHECK(strstr(buf, " 503 ") != NULL);
    CHECK(strstr(buf, "Retry-After: 1\r\n") != NULL); /* a handler's 503 too */
    CHECK(strstr(buf, "Content-Type: application/problem+json\r\n") != NULL);
    CHECK(strstr(buf, "\"code\":\"store-unavailable\"") != NULL);
    CHECK(strstr(buf, "\"status\":503") != NULL);
    rq = "POST /only-get HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    s_raw(port, rq, strlen(rq), buf, sizeof buf);
    CHECK(strstr(buf, " 405 ") != NULL);
    CHECK(strstr(buf, "Allow: GET\r\n") != NULL);
    CHECK(strstr(buf, "\"code\":\"method-not-allowed\"") != NULL);
    CHECK(strstr(buf, "Retry-After") == NULL);

    egide_httpc_resp_t r;
    /* A detail that is not UTF-8 still makes a problem (sanitised). */
    CHECK_RC(s_get("/badutf8", NULL, &r), EGIDE_OK);
    CHECK(r.status == 400);
    json_t *o = s_parse(&r);
    CHECK_STREQ(s_err_code(o), "bad-request");
    const char *d = json_string_value(json_object_get(o, "detail"));
    CHECK(d && strstr(d, "bad ") == d && strstr(d, "value x") != NULL);
    json_decref(o);
    egide_httpc_resp_free(&r);
    /* A long detail is cut at 511 bytes. */
    CHECK_RC(s_get("/long", NULL, &r), EGIDE_OK);
    o = s_parse(&r);
    d = json_string_value(json_object_get(o, "detail"));
    CHECK(d && strlen(d) == 511);
    CHECK_STREQ(s_err_code(o), "bad-request");
    json_decref(o);
    egide_httpc_resp_free(&r);

    CHECK_RC(s_get("/times", NULL, &r), EGIDE_OK);
    CHECK(r.status == 200);
    o = s_parse(&r);
    REQUIRE(o != NULL);
    CHECK_STREQ(json_string_value(json_object_get(o, "created_at")), "2026-12-01T17:00:00.123Z");
    CHECK(json_object_get(o, "timeout_at") == NULL); /* a duration */
    CHECK(json_is_null(json_object_get(o, "closed_at")));
    CHECK(json_is_null(json_object_get(o, "due_at"))); /* 0: no time */
    CHECK(json_object_get(json_object_get(o, "payload"), "received_at") == NULL);
    json_t *row = json_array_get(json_object_get(o, "rows"), 0);
    CHECK_STREQ(json_string_value(json_object_get(row, "seen_at")), "1970-01-02T00:00:00.000Z");
    CHECK(json_is_null(json_object_get(o, "time_at")));                    /* past year 9999 */
    CHECK_STREQ(json_string_value(json_object_get(o, "done_at")), "kept"); /* its own */
    json_decref(o);
    egide_httpc_resp_free(&r);
    egide_http_stop(&h);
    /* NULL-safe; a non-object is left alone. */
    egide_http_json_add_times(NULL);
    json_t *n = json_integer(5);
    egide_http_json_add_times(n);
    CHECK(json_integer_value(n) == 5);
    json_decref(n);
}

static void test_token_auth(void)
{
    const char *pub[] = {"/v1/health", NULL};
    egide_http_t *h = s_start(TOKEN, pub, 0);
    REQUIRE(h != NULL);
    CHECK(egide_http_port(h) != 0);
    egide_httpc_resp_t r;

    CHECK_RC(s_get("/echo?box=inbox", TOKEN, &r), EGIDE_OK);
    CHECK(r.status == 200);
    CHECK(strncmp(r.content_type, "application/json", 16) == 0);
    CHECK(r.body_len > 0 && r.body[r.body_len - 1] == '\n');
    json_t *o = s_parse(&r);
    CHECK_STREQ(json_string_value(json_object_get(o, "auth")), "token");
    CHECK_STREQ(json_string_value(json_object_get(o, "method")), "GET");
    CHECK_STREQ(json_string_value(json_object_get(o, "path")), "/echo");
    CHECK_STREQ(json_string_value(json_object_get(o, "query")), "box=inbox");
    json_decref(o);
    egide_httpc_resp_free(&r);

    int before = atomic_load(&s_calls);
    /* No token: 401, handler not called. */
    CHECK_RC(s_get("/echo", NULL, &r), EGIDE_OK);
    CHECK(r.status == 401);
    CHECK(strcmp(r.content_type, "application/problem+json") == 0);
    o = s_parse(&r);
    CHECK_STREQ(s_err_code(o), "unauthenticated");
    CHECK(s_err_status(o) == 401);
    json_decref(o);
    egide_httpc_resp_free(&r);
    /* Wrong token, same length. */
    char wrong[] = TOKEN;
    wrong[5] ^= 1;
    CHECK_RC(s_get("/echo", wrong, &r), EGIDE_OK);
    CHECK(r.status == 401);
    egide_httpc_resp_free(&r);
    /* Prefix of the right token, and the right token plus a byte. */
    CHECK_RC(s_get("/echo", "0123456789abcdef0123456789abcdef", &r), EGIDE_OK);
    CHECK(r.status == 401);
    egide_httpc_resp_free(&r);
    CHECK_RC(s_get("/echo", TOKEN "x", &r), EGIDE_OK);
    CHECK(r.status == 401);
    egide_httpc_resp_free(&r);
    /* A public route does not need the token, and says so to the handler. */
    CHECK_RC(s_get("/v1/health", NULL, &r), EGIDE_OK);
    CHECK(r.status == 200);
    o = s_parse(&r);
    CHECK(json_is_null(json_object_get(o, "auth")) || !json_object_get(o, "auth"));
    json_decref(o);
    egide_httpc_resp_free(&r);
    /* Public means that exact path only. */
    CHECK_RC(s_get("/v1/health/x", NULL, &r), EGIDE_OK);
    CHECK(r.status == 401);
    egide_httpc_resp_free(&r);
    CHECK(atomic_load(&s_calls) == before + 1);

    /* Raw: the WWW-Authenticate header, other schemes, security headers. */
    char buf[4096];
    const char *rq = "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    s_raw(egide_http_port(h), rq, strlen(rq), buf, sizeof buf);
    CHECK(strstr(buf, " 401 ") != NULL);
    CHECK(strstr(buf, "WWW-Authenticate: Bearer") != NULL);
    rq = "GET /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " TOKEN
         "\r\nConnection: close\r\n\r\n";
    s_raw(egide_http_port(h), rq, strlen(rq), buf, sizeof buf);
    CHECK(strstr(buf, " 401 ") != NULL);
    CHECK(strstr(buf, "invalid_token") != NULL);
    rq = "GET /echo HTTP/1.1\r\nHost: x\r\nAuthorization: bearer " TOKEN
         "\r\nConnection: close\r\n\r\n";
    s_raw(egide_http_port(h), rq, strlen(rq), buf, sizeof buf);
    CHECK(strstr(buf, " 200 ") != NULL);
    CHECK(strstr(buf, "Cache-Control: no-store") != NULL);
    CHECK(strstr(buf, "X-Content-Type-Options: nosniff") != NULL);
    CHECK(strstr(buf, TOKEN) == NULL); /* never echoed */

    egide_http_stop(&h);
    CHECK(h == NULL);
    egide_http_stop(&h); /* idempotent */
    egide_http_stop(NULL);
}

static void test_body_limits(void)
{
    egide_http_t *h = s_start(TOKEN, NULL, 0);
    REQUIRE(h != NULL);
    egide_httpc_resp_t r;
    char *body = malloc(4 * MAX_BODY);
    REQUIRE(body != NULL);
    memset(body, 'a', 4 * MAX_BODY);

    /* Exactly the cap: accepted, passed through whole and NUL-terminated. */
    CHECK_RC(s_post("/echo", TOKEN, body, MAX_BODY, &r), EGIDE_OK);
    CHECK(r.status == 200);
    json_t *o = s_parse(&r);
    CHECK(json_integer_value(json_object_get(o, "body_len")) == MAX_BODY);
    CHECK(json_string_length(json_object_get(o, "body")) == MAX_BODY);
    CHECK_STREQ(json_string_value(json_object_get(o, "method")), "POST");
    CHECK_STREQ(json_string_value(json_object_get(o, "ctype")), "application/json");
    json_decref(o);
    egide_httpc_resp_free(&r);

    /* One byte over: 413 with a JSON error, handler not called. */
    int before = atomic_load(&s_calls);
    CHECK_RC(s_post("/echo", TOKEN, body, MAX_BODY + 1, &r), EGIDE_OK);
    CHECK(r.status == 413);
    o = s_parse(&r);
    CHECK_STREQ(s_err_code(o), "body-too-large");
    CHECK(s_err_status(o) == 413);
    json_decref(o);
    egide_httpc_resp_free(&r);
    CHECK_RC(s_post("/echo", TOKEN, body, 4 * MAX_BODY, &r), EGIDE_OK);
    CHECK(r.status == 413);
    egide_httpc_resp_free(&r);
    /* Unauthenticated oversize: 401 comes first. */
    CHECK_RC(s_post("/echo", NULL, body, 4 * MAX_BODY, &r), EGIDE_OK);
    CHECK(r.status == 401);
    egide_httpc_resp_free(&r);
    CHECK(atomic_load(&s_calls) == before);

    /* A huge Content-Length is refused from the headers alone. */
    char buf[4096];
    const char *rq = "POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
                     "\r\nContent-Length: 99999999999\r\nConnection: close\r\n\r\n";
    s_raw(egide_http_port(h), rq, strlen(rq), buf, sizeof buf);
    CHECK(strstr(buf, " 413 ") != NULL);

    /* A chunked upload is refused from the headers by default: 411. */
    char chunked[8192];
    int n = snprintf(chunked, sizeof chunked,
                     "POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
                     "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                     "5\r\nhello\r\n0\r\n\r\n");
    s_raw(egide_http_port(h), chunked, (size_t)n, buf, sizeof buf);
    CHECK(strstr(buf, " 411 ") != NULL);
    CHECK(strstr(buf, "\"code\":\"length-required\"") != NULL);
    CHECK(strstr(buf, "application/problem+json") != NULL);
    CHECK(strstr(buf, "EGIDE_ERR") == NULL);
    egide_http_stop(&h);
    egide_http_config_t ccfg = {.allow_chunked = true, .timeout_s = 5};
    h = s_start_cfg(&ccfg);
    REQUIRE(h != NULL);

    /* Allowed: going over the cap gives 413. */
    n = snprintf(chunked, sizeof chunked,
                 "POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
                 "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                 "%x\r\n%.*s\r\n%x\r\n%.*s\r\n0\r\n\r\n",
                 MAX_BODY, (int)MAX_BODY, body, 10u, 10, body);
    REQUIRE(n > 0 && (size_t)n < sizeof chunked);
    s_raw(egide_http_port(h), chunked, (size_t)n, buf, sizeof buf);
    CHECK(strstr(buf, " 413 ") != NULL);
    CHECK(atomic_load(&s_calls) == before);
    /* Chunked within the cap is fine. */
    n = snprintf(chunked, sizeof chunked,
                 "POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
                 "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                 "5\r\nhello\r\n0\r\n\r\n");
    s_raw(egide_http_port(h), chunked, (size_t)n, buf, sizeof buf);
    CHECK(strstr(buf, " 200 ") != NULL);
    CHECK(strstr(buf, "\"body\":\"hello\"") != NULL);

    /* Response cap on the client side. */
    CHECK_RC(s_get("/big", TOKEN, &r), EGIDE_OK);
    CHECK(r.status == 200 && r.body_len == 100 * 1024);
    CHECK(strncmp(r.content_type, "text/plain", 10) == 0);
    egide_httpc_resp_free(&r);
    char url[256];
    snprintf(url, sizeof url, "%s/big", s_base);
    CHECK_RC(egide_httpc_request("GET", url, TOKEN, NULL, NULL, 0, 1000, 5000, &r),
             EGIDE_ERR_LIMIT);
    CHECK(r.body == NULL);
    CHECK(strstr(r.error, "larger than") != NULL);
    egide_httpc_resp_free(&r);

    free(body);
    egide_http_stop(&h);
}

static void test_routes_and_helpers(void)
{
    egide_http_t *h = s_start(NULL, NULL, 4); /* no token, thread pool */
    REQUIRE(h != NULL);
    egide_httpc_resp_t r;

    CHECK_RC(s_get("/echo", NULL, &r), EGIDE_OK);
    CHECK(r.status == 200);
    json_t *o = s_parse(&r);
    CHECK_STREQ(json_string_value(json_object_get(o, "auth")), "none");
    CHECK_STREQ(json_string_value(json_object_get(o, "query")), "");
    json_decref(o);
    egide_httpc_resp_free(&r);

    /* Default 404 from the wrapper when the handler gives no body. */
    CHECK_RC(s_get("/nowhere", NULL, &r), EGIDE_OK);
    CHECK(r.status == 404);
    o = s_parse(&r);
    CHECK_STREQ(s_err_code(o), "not-found");
    json_decref(o);
    egide_httpc_resp_free(&r);

    /* Status-only answers get a default body; nonsense statuses become 500. */
    static const struct {
        const char *q;
        long status;
        const char *body;
    } defaults[] = {
        {"/status?code=409", 409,
         "{\"type\":\"https://egide.fr/problems/conflict\",\"title\":\"Conflict\","
         "\"status\":409,\"detail\":\"request refused\",\"code\":\"conflict\"}\n"},
        {"/status?code=405", 405,
         "{\"type\":\"https://egide.fr/problems/method-not-allowed\",\"title\":"
         "\"Method not allowed\",\"status\":405,\"detail\":\"method not allowed\","
         "\"code\":\"method-not-allowed\"}\n"},
        {"/status?code=204", 204, ""},
        {"/status?code=200", 200, "{}\n"},
        {"/status?code=418", 418,
         "{\"type\":\"https://egide.fr/problems/request-refused\",\"title\":"
         "\"Request refused\",\"status\":418,\"detail\":\"request refused\","
         "\"code\":\"request-refused\"}\n"},
        {"/status?code=503", 503,
         "{\"type\":\"https://egide.fr/problems/unavailable\",\"title\":"
         "\"Temporarily unavailable\",\"status\":503,\"detail\":"
         "\"service unavailable, retry later\",\"code\":\"unavailable\"}\n"},
        {"/status?code=99", 500, NULL},
        {"/status?code=700", 500, NULL},
        {"/status", 500,
         "{\"type\":\"https://egide.fr/problems/internal-error\",\"title\":"
         "\"Internal error\",\"status\":500,\"detail\":\"internal error\","
         "\"code\":\"internal-error\"}\n"},
    };
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        CHECK_RC(s_get(defaults[i].q, NULL, &r), EGIDE_OK);
        CHECK(r.status == defaults[i].status);
        if (defaults[i].body)
            CHECK_STREQ(r.body, defaults[i].body);
        /* Errors are problems, successes JSON. */
        CHECK(strcmp(r.content_type,
                     r.status >= 400 ? "application/problem+json" : "application/json") == 0);
        egide_httpc_resp_free(&r);
    }

    /* Error with details. */
    CHECK_RC(s_get("/err", NULL, &r), EGIDE_OK);
    CHECK(r.status == 422);
    o = s_parse(&r);
    CHECK_STREQ(s_err_code(o), "payload-invalid");
    CHECK(s_err_status(o) == 422);
    CHECK_STREQ(json_string_value(json_object_get(o, "title")), "Payload invalid");
    json_t *d = json_object_get(o, "errors");
    CHECK(json_array_size(d) == 2);
    CHECK_STREQ(json_string_value(json_array_get(d, 1)), "b: worse");
    CHECK_STREQ(json_string_value(json_object_get(o, "detail")), "payload invalid");
    json_decref(o);
    egide_httpc_resp_free(&r);

    /* A second helper call replaces the first body (no leak under ASan). */
    CHECK_RC(s_get("/twice", NULL, &r), EGIDE_OK);
    CHECK(r.status == 201);
    CHECK_STREQ(r.body, "{\"second\":true}\n");
    egide_httpc_resp_free(&r);

    /* Query decoding through the server. */
    CHECK_RC(s_get("/q?name=Cl%C3%A9ment+et%20Zo%C3%A9&box=inbox&box=outbox", NULL, &r), EGIDE_OK);
    o = s_parse(&r);
    CHECK_STREQ(json_string_value(json_object_get(o, "box")), "inbox");
    CHECK_STREQ(json_string_value(json_object_get(o, "name")), "Clément et Zoé");
    json_decref(o);
    egide_httpc_resp_free(&r);
    CHECK_RC(s_get("/q?box=0123456789abcdefXYZ&name=%zz", NULL, &r), EGIDE_OK);
    o = s_parse(&r);
    CHECK(json_integer_value(json_object_get(o, "box_rc")) == EGIDE_ERR_LIMIT);
    CHECK(json_integer_value(json_object_get(o, "name_rc")) == EGIDE_ERR_PROTO);
    json_decref(o);
    egide_httpc_resp_free(&r);

    /* Over-long request target: 414. */
    size_t ulen = EGIDE_HTTP_MAX_URI + 100;
    char *longurl = malloc(ulen + 64);
    REQUIRE(longurl != NULL);
    int n = snprintf(longurl, ulen + 64, "%s/echo?x=", s_base);
    memset(longurl + n, 'a', ulen);
    longurl[n + ulen] = '\0';
    CHECK_RC(egide_httpc_request("GET", longurl, NULL, NULL, NULL, 0, 0, 5000, &r), EGIDE_OK);
    CHECK(r.status == 414 || r.status == 431);
    egide_httpc_resp_free(&r);
    free(longurl);

    egide_http_stop(&h);
}

/* Every malformed request gets an answer with the right status, or (for
 * the few libmicrohttpd refuses before we see them, and the bodies it cannot
 * answer in the middle of) is closed by the server, well before the idle
 * timeout: nothing waits for it. */
static void test_malformed(void)
{
    egide_http_config_t cfg = {.timeout_s = 30, .header_timeout_s = 2, .body_timeout_s = 3};
    egide_http_t *h = s_start_cfg(&cfg);
    REQUIRE(h != NULL);
    uint16_t port = egide_http_port(h);
    const int wait_ms = 10000; /* a third of the idle timeout */
    char *buf = malloc(65536);
    char *rq = malloc(65536);
    REQUIRE(buf && rq);
    const char *auth = "Authorization: Bearer " TOKEN "\r\n";

    /* About 500 query parameters: served, the raw query intact. */
    int n = snprintf(rq, 65536, "GET /echo?");
    for (int i = 0; i < 500; i++)
        n += snprintf(rq + n, 65536 - (size_t)n, "%sp%d=%d", i ? "&" : "", i, i);
    n += snprintf(rq + n, 65536 - (size_t)n, " HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n",
                  auth);
    int st = s_raw_status(port, rq, (size_t)n, wait_ms, buf, 65536);
    CHECK(st == 200);
    CHECK(strstr(buf, "application/json") != NULL);
    egide_httpc_resp_t r;
    CHECK_RC(s_get("/q?box=1&p1=1&p2=2&p3=3&p4=4&p5=5&name=six", TOKEN, &r), EGIDE_OK);
    json_t *o = s_parse(&r);
    CHECK_STREQ(json_string_value(json_object_get(o, "box")), "1");
    CHECK_STREQ(json_string_value(json_object_get(o, "name")), "six");
    json_decref(o);
    egide_httpc_resp_free(&r);

    /* 5000 query parameters in a 40 KB target: 414 with our JSON error. */
    n = snprintf(rq, 65536, "GET /echo?");
    for (int i = 0; i < 5000 && n < 40000; i++)
        n += snprintf(rq + n, 65536 - (size_t)n, "%sq=%d", i ? "&" : "", i % 10);
    n += snprintf(rq + n, 65536 - (size_t)n, " HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n",
                  auth);
    st = s_raw_status(port, rq, (size_t)n, wait_ms, buf, 65536);
    CHECK(st == 414);
    CHECK(strstr(buf, "application/problem+json") != NULL);

    /* Request lines libmicrohttpd refuses itself (no space, no target):
     * closed at once, or a 400. */
    static const char *const refused[] = {"GARBAGE\r\n\r\n", "GET\r\nHost: x\r\n\r\n"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        st = s_raw_status(port, refused[i], strlen(refused[i]), wait_ms, buf, 65536);
        CHECK(st == 400 || st == S_CLOSED);
    }
    /* Bytes that never make a line (a TLS ClientHello on the HTTP port):
     * closed at the header deadline. */
    static const char hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage";
    st = s_raw_status(port, hello, sizeof hello - 1, wait_ms, buf, 65536);
    CHECK(st == S_CLOSED);
    /* Malformed targets and header fields that reach us: 400, JSON, even
     * without a token (they are refused before authentication). */
    static const char *const garbage[] = {
        "GET /echo HTTP/1.1 extra\r\nHost: x\r\n\r\n",
        "GET /echo\001 HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /ec\177ho HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /echo HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
        "GET /echo HTTP/1.1\r\n: empty name\r\nHost: x\r\n\r\n",
        "GET /echo HTTP/1.1\r\nHost: x\r\nBad(name): 1\r\n\r\n",
        "GET /echo HTTP/1.1\r\nHost: x\r\nX-Ctl: a\001b\r\n\r\n",
        "GET /echo HTTP/1.1\r\n\r\n", /* HTTP/1.1 without Host */
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n0\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc",
    };
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        st = s_raw_status(port, garbage[i], strlen(garbage[i]), wait_ms, buf, 65536);
        if (st != 400)
            fprintf(stderr, "garbage %zu: %d\n", i, st);
        CHECK(st == 400);
    }
    /* An unknown HTTP version: libmicrohttpd's 505. */
    const char *v = "GET /echo HTTP/9.9\r\nHost: x\r\n\r\n";
    st = s_raw_status(port, v, strlen(v), wait_ms, buf, 65536);
    CHECK(st == 505);

    /* A chunk size of 2^64-1: by default no chunked body is accepted, so
     * the answer is 411 from the headers alone. */
    n = snprintf(rq, 65536,
                 "POST /echo HTTP/1.1\r\nHost: x\r\n%sTransfer-Encoding: chunked\r\n\r\n"
                 "ffffffffffffffff\r\nabc",
                 auth);
    st = s_raw_status(port, rq, (size_t)n, wait_ms, buf, 65536);
    CHECK(st == 411);
    CHECK(strstr(buf, "application/problem+json") != NULL);

    /* With chunked bodies allowed, libmicrohttpd 0.9.75 cannot answer in the
     * middle of one: a chunk of 2^64-1 bytes that stops coming is closed at
     * the request deadline, one that keeps coming once
     * EGIDE_HTTP_DISCARD_MAX bytes past the cap were thrown away. */
    egide_http_config_t ccfg = cfg;
    ccfg.allow_chunked = true;
    egide_http_t *hc = s_start_cfg(&ccfg);
    REQUIRE(hc != NULL);
    uint16_t cport = egide_http_port(hc);
    st = s_raw_status(cport, rq, (size_t)n, wait_ms, buf, 65536);
    CHECK(st == S_CLOSED);
    n = snprintf(rq, 65536,
                 "POST /echo HTTP/1.1\r\nHost: x\r\n%sTransfer-Encoding: chunked\r\n\r\n"
                 "ffffffffffffffff\r\n",
                 auth);
    size_t big = MAX_BODY + EGIDE_HTTP_DISCARD_MAX + 4096;
    char *stream = malloc((size_t)n + big);
    REQUIRE(stream != NULL);
    memcpy(stream, rq, (size_t)n);
    memset(stream + n, 'a', big);
    st = s_raw_status(cport, stream, (size_t)n + big, wait_ms, buf, 65536);
    CHECK(st == S_CLOSED);
    free(stream);
    /* A chunk size over 64 bits: libmicrohttpd's 413. */
    n = snprintf(rq, 65536,
                 "POST /echo HTTP/1.1\r\nHost: x\r\n%sTransfer-Encoding: chunked\r\n\r\n"
                 "1ffffffffffffffff\r\nabc",
                 auth);
    st = s_raw_status(cport, rq, (size_t)n, wait_ms, buf, 65536);
    CHECK(st == 413);
    /* A chunk size that is not hexadecimal: 400. */
    n = snprintf(rq, 65536,
                 "POST /echo HTTP/1.1\r\nHost: x\r\n%sTransfer-Encoding: chunked\r\n\r\n"
                 "zz\r\nabc\r\n0\r\n\r\n",
                 auth);
    st = s_raw_status(cport, rq, (size_t)n, wait_ms, buf, 65536);
    CHECK(st == 400);
    egide_http_stop(&hc);
    snprintf(s_base, sizeof s_base, "http://127.0.0.1:%u", (unsigned)port);

    /* Headers sent, the announced body never: closed at the request deadline. */
    n = snprintf(rq, 65536, "POST /echo HTTP/1.1\r\nHost: x\r\n%sContent-Length: 100\r\n\r\nabc",
                 auth);
    st = s_raw_status(port, rq, (size_t)n, wait_ms, buf, 65536);
    CHECK(st == S_CLOSED);

    /* Bad Content-Length values: 400 with our JSON error. */
    static const char *const badlen[] = {"abc", "-1", "1, 2", "18446744073709551617"};
    for (size_t i = 0; i < sizeof badlen / sizeof badlen[0]; i++) {
        n = snprintf(rq, 65536,
                     "POST /echo HTTP/1.1\r\nHost: x\r\n%sContent-Length: %s\r\n"
                     "Connection: close\r\n\r\n",
                     auth, badlen[i]);
        st = s_raw_status(port, rq, (size_t)n, wait_ms, buf, 65536);
        CHECK(st == 400 || st == 413);
    }

    /* Headers larger than a connection's memory: 431. */
    n = snprintf(rq, 65536, "GET /echo HTTP/1.1\r\nHost: x\r\n%s", auth);
    for (int i = 0; i < 2000 && n < 60000; i++)
        n += snprintf(rq + n, 65536 - (size_t)n, "X-Filler-%d: %s\r\n", i, "0123456789abcdef");
    n += snprintf(rq + n, 65536 - (size_t)n, "\r\n");
    st = s_raw_status(port, rq, (size_t)n, wait_ms, buf, 65536);
    CHECK(st == 431);
    /* Many cookies, which libmicrohttpd splits into its pool as well. */
    n = snprintf(rq, 65536,
                 "GET /echo HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\nCookie: ", auth);
    for (int i = 0; i < 1000; i++)
        n += snprintf(rq + n, 65536 - (size_t)n, "%sc%d=%d", i ? "; " : "", i, i);
    n += snprintf(rq + n, 65536 - (size_t)n, "\r\n\r\n");
    int64_t t0 = egide_mono_ms();
    st = s_raw_status(port, rq, (size_t)n, wait_ms, buf, 65536);
    if (st != 200 && st != 431 && st != S_CLOSED)
        fprintf(stderr, "cookies: %d after %lld ms\n", st, (long long)(egide_mono_ms() - t0));
    /* libmicrohttpd closes at once when the cookies do not fit its pool. */
    CHECK(st == 200 || st == 431 || st == S_CLOSED);

    /* The server still serves after all that. */
    CHECK_RC(s_get("/echo", TOKEN, &r), EGIDE_OK);
    CHECK(r.status == 200);
    egide_httpc_resp_free(&r);
    free(rq);
    free(buf);
    egide_http_stop(&h);
}

/* ---- slow clients --------------------------------------------------- */

#define SLOW_N 200 /* slow connections, more than the default slots */

/* A slowloris: SLOW_N connections that send a request line and headers one
 * byte every 100 ms and never finish; a connection the server closes is
 * opened again.  Runs until stop is set, at most 60 s. */
typedef struct slow_ctx {
    uint16_t port;
    atomic_bool stop;
    atomic_int open;       /* connections open now */
    atomic_int reconnects; /* connections the server closed and we reopened */
    int fd[SLOW_N];
} slow_ctx_t;

static void *s_slowloris(void *arg)
{
    slow_ctx_t *sc = arg;
    static const char line[] = "GET /echo HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    size_t pos[SLOW_N] = {0};
    for (int i = 0; i < SLOW_N; i++) {
        sc->fd[i] = s_connect(sc->port, 1000);
        if (sc->fd[i] >= 0)
            atomic_fetch_add(&sc->open, 1);
    }
    for (int round = 0; round < 600 && !atomic_load(&sc->stop); round++) {
        for (int i = 0; i < SLOW_N; i++) {
            if (sc->fd[i] < 0) {
                sc->fd[i] = s_connect(sc->port, 200);
                pos[i] = 0;
                if (sc->fd[i] < 0)
                    continue;
                atomic_fetch_add(&sc->open, 1);
                atomic_fetch_add(&sc->reconnects, 1);
            }
            char c = pos[i] < sizeof line - 1 ? line[pos[i]] : 'a';
            char junk[64];
            ssize_t peek = recv(sc->fd[i], junk, sizeof junk, MSG_DONTWAIT);
            if (peek == 0 || send(sc->fd[i], &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1) {
                close(sc->fd[i]);
                sc->fd[i] = -1;
                atomic_fetch_sub(&sc->open, 1);
                continue;
            }
            pos[i]++;
        }
        usleep(100 * 1000);
    }
    return NULL;
}

static void s_slow_release(slow_ctx_t *sc, pthread_t th)
{
    atomic_store(&sc->stop, true);
    pthread_join(th, NULL);
    for (int i = 0; i < SLOW_N; i++)
        if (sc->fd[i] >= 0)
            close(sc->fd[i]);
}

/* SLOW_N slow, unauthenticated connections are open (all on 127.0.0.1, as a
 * local attacker's would be): a client that sends its request at once still
 * gets 8 answers of 8, and once they are gone the server serves at once. */
static void test_slow_clients(void)
{
    egide_http_config_t cfg = {0}; /* the defaults, as the daemons use them */
    egide_http_t *h = s_start_cfg(&cfg);
    REQUIRE(h != NULL);
    static slow_ctx_t sc;
    memset(&sc, 0, sizeof sc);
    sc.port = egide_http_port(h);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, s_slowloris, &sc) == 0);
    /* Wait (at most 10 s) until all are connected, then 1 s more so they are
     * all old enough to be evicted and have filled every slot. */
    for (int i = 0; i < 100 && atomic_load(&sc.open) < SLOW_N; i++)
        usleep(100 * 1000);
    CHECK(atomic_load(&sc.open) == SLOW_N);
    usleep(1000 * 1000);

    int ok = 0;
    for (int i = 0; i < 8; i++) {
        egide_httpc_resp_t r;
        if (s_get("/echo", TOKEN, &r) == EGIDE_OK && r.status == 200)
            ok++;
        egide_httpc_resp_free(&r);
        usleep(200 * 1000);
    }
    fprintf(stderr, "legitimate client: %d of 8 answers with %d slow connections open\n", ok,
            atomic_load(&sc.open));
    CHECK(ok == 8);
    egide_http_stats_t st;
    egide_http_stats(h, &st);
    CHECK(st.evicted > 0);
    CHECK(st.open <= EGIDE_HTTP_DEFAULT_MAX_CONNECTIONS);

    s_slow_release(&sc, th);
    egide_httpc_resp_t r;
    CHECK_RC(s_get("/echo", TOKEN, &r), EGIDE_OK);
    CHECK(r.status == 200);
    egide_httpc_resp_free(&r);
    egide_http_stop(&h);
}

/* A client that pipelines requests on every slot and never reads the
 * answers: each connection would sit with its answer unwritten, out of reach
 * of eviction and of the header deadline, until the idle timeout.  Answers
 * to unauthenticated requests close the connection, so the legitimate
 * client is served. */
static void test_pipelined_pin(void)
{
    static const char *const pub[] = {"/echo", NULL};
    egide_http_config_t cfg = {0};
    cfg.public_paths = pub;
    egide_http_t *h = s_start_cfg(&cfg);
    REQUIRE(h != NULL);
    uint16_t port = egide_http_port(h);
    enum { PIN_N = EGIDE_HTTP_DEFAULT_MAX_CONNECTIONS };
    static int fds[PIN_N];
    const char *req = "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n";
    int opened = 0;
    for (int i = 0; i < PIN_N; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        int rcv = 4096;
        setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&a, sizeof a) != 0)
            continue;
        opened++;
        fcntl(fds[i], F_SETFL, O_NONBLOCK);
        for (int k = 0; k < 20000; k++) /* until the server stops reading */
            if (send(fds[i], req, strlen(req), MSG_NOSIGNAL) < 0)
                break;
    }
    CHECK(opened == PIN_N);
    usleep(1500 * 1000);
    int ok = 0;
    for (int i = 0; i < 4; i++) {
        egide_httpc_resp_t r;
        if (s_get("/echo", TOKEN, &r) == EGIDE_OK && r.status == 200)
            ok++;
        egide_httpc_resp_free(&r);
    }
    fprintf(stderr, "legitimate client: %d of 4 answers with %d pipelining connections\n", ok,
            opened);
    CHECK(ok == 4);
    for (int i = 0; i < PIN_N; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    egide_http_stop(&h);
}

/* A connection that keeps sending its headers one byte at a time is closed
 * by the server at the header deadline, although the idle timeout (reset by
 * every byte) would never close it. */
static void test_header_deadline(void)
{
    egide_http_config_t cfg = {.timeout_s = 30, .header_timeout_s = 2};
    egide_http_t *h = s_start_cfg(&cfg);
    REQUIRE(h != NULL);
    int fd = s_connect(egide_http_port(h), 200);
    REQUIRE(fd >= 0);
    static const char line[] = "GET /echo HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    bool closed = false;
    /* At most 10 s of one byte every 200 ms. */
    for (size_t i = 0; i < 50 && !closed; i++) {
        char c = i < sizeof line - 1 ? line[i] : 'a';
        char junk[64];
        if (recv(fd, junk, sizeof junk, MSG_DONTWAIT) == 0 ||
            send(fd, &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1)
            closed = true;
        else
            usleep(200 * 1000);
    }
    close(fd);
    CHECK(closed);
    egide_http_stats_t st;
    egide_http_stats(h, &st);
    CHECK(st.header_expired == 1);
    CHECK(st.accepted == 1);

    /* A client that is not slow is not touched: a kept-alive connection
     * serves two requests. */
    fd = s_connect(egide_http_port(h), 5000);
    REQUIRE(fd >= 0);
    const char *rq = "GET /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN "\r\n\r\n";
    int answers = 0;
    for (int k = 0; k < 2; k++) {
        if (send(fd, rq, strlen(rq), MSG_NOSIGNAL) != (ssize_t)strlen(rq))
            break;
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
        if (n > 0) {
            buf[n] = '\0';
            answers += strstr(buf, " 200 ") != NULL;
        }
    }
    close(fd);
    CHECK(answers == 2);
    egide_http_stop(&h);
}

/* The overall body budget (503, then served once it is free again), an
 * explicit per-client limit, and an unauthenticated body held at the header
 * deadline. */
static void test_limits(void)
{
    egide_http_config_t cfg = {.timeout_s = 30, .max_body_total = 1500};
    egide_http_t *h = s_start_cfg(&cfg);
    REQUIRE(h != NULL);
    uint16_t port = egide_http_port(h);
    char buf[4096], rq[2048];
    /* A holds 1001 bytes of the budget while its body is still coming. */
    int a = s_connect(port, 1000);
    REQUIRE(a >= 0);
    int n = snprintf(rq, sizeof rq,
                     "POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
                     "\r\nContent-Length: 1000\r\n\r\nabc");
    CHECK(send(a, rq, (size_t)n, MSG_NOSIGNAL) == n);
    usleep(300 * 1000);
    n = snprintf(rq, sizeof rq,
                 "POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
                 "\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n");
    memset(rq + n, 'b', 1000);
    int st = s_raw_status(port, rq, (size_t)n + 1000, 10000, buf, sizeof buf);
    CHECK(st == 503);
    CHECK(strstr(buf, "Retry-After: 1") != NULL);
    egide_http_stats_t stats;
    egide_http_stats(h, &stats);
    CHECK(stats.refused_busy == 1);
    close(a);
    /* Once A is gone the budget is free again (bounded wait, 5 s). */
    st = 0;
    for (int i = 0; i < 50 && st != 200; i++) {
        st = s_raw_status(port, rq, (size_t)n + 1000, 5000, buf, sizeof buf);
        if (st != 200)
            usleep(100 * 1000);
    }
    CHECK(st == 200);
    egide_http_stop(&h);

    /* An explicit per-client limit applies on loopback too: the third
     * connection from 127.0.0.1 is closed without being served. */
    egide_http_config_t pcfg = {.timeout_s = 30, .max_per_client = 2};
    h = s_start_cfg(&pcfg);
    REQUIRE(h != NULL);
    port = egide_http_port(h);
    int c1 = s_connect(port, 1000), c2 = s_connect(port, 1000);
    CHECK(c1 >= 0 && c2 >= 0);
    usleep(300 * 1000);
    const char *get = "GET /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
                      "\r\nConnection: close\r\n\r\n";
    st = s_raw_status(port, get, strlen(get), 10000, buf, sizeof buf);
    CHECK(st == S_CLOSED || st == 0);
    close(c1);
    close(c2);
    st = 0;
    for (int i = 0; i < 50 && st != 200; i++) {
        st = s_raw_status(port, get, strlen(get), 5000, buf, sizeof buf);
        if (st != 200)
            usleep(100 * 1000);
    }
    CHECK(st == 200);
    egide_http_stop(&h);

    /* A body sent slowly to a public path (no token needed) gets only the
     * header deadline for the whole request. */
    const char *pub[] = {"/v1/health", NULL};
    egide_http_config_t ucfg = {.timeout_s = 30, .header_timeout_s = 2, .public_paths = pub};
    h = s_start_cfg(&ucfg);
    REQUIRE(h != NULL);
    const char *slow = "POST /v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab";
    st = s_raw_status(egide_http_port(h), slow, strlen(slow), 10000, buf, sizeof buf);
    CHECK(st == S_CLOSED);
    egide_http_stats(h, &stats);
    CHECK(stats.header_expired == 1);
    egide_http_stop(&h);
    egide_http_stats(NULL, &stats);
    CHECK(stats.accepted == 0);
    egide_http_stats(NULL, NULL);
}

static atomic_int s_token_lines, s_raw_escapes;

static void s_count_sink(egide_log_level level, const char *line, void *arg)
{
    (void)level;
    (void)arg;
    if (strstr(line, "bearer token"))
        atomic_fetch_add(&s_token_lines, 1);
    if (strchr(line, '\033'))
        atomic_fetch_add(&s_raw_escapes, 1);
}

/* A flood of unauthenticated requests makes at most a burst of log lines
 * (then one saying how many were left out), and what the client chose (the
 * method) reaches the log without control characters. */
static void test_log_flood(void)
{
    egide_http_config_t cfg = {.timeout_s = 30};
    egide_http_t *h = s_start_cfg(&cfg);
    REQUIRE(h != NULL);
    egide_log_set_sink(s_count_sink, NULL);
    char buf[4096];
    const char *esc = "G\033[31mET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    int st = s_raw_status(egide_http_port(h), esc, strlen(esc), 10000, buf, sizeof buf);
    CHECK(st == 401);
    int refused = 0;
    for (int i = 0; i < 50; i++) {
        egide_httpc_resp_t r;
        if (s_get("/echo", NULL, &r) == EGIDE_OK && r.status == 401)
            refused++;
        egide_httpc_resp_free(&r);
    }
    egide_log_set_sink(NULL, NULL);
    CHECK(refused == 50);
    CHECK(atomic_load(&s_token_lines) <= 10);
    CHECK(atomic_load(&s_raw_escapes) == 0);
    egide_http_stop(&h);
}

static void test_query_get(void)
{
    char out[16];
    const char *q = "a=1&b=x%20y+z&c&d=%zz&e=%00&f=%4&g=%41%42&&h=0123456789abcdef&a=2&%62%6f=k";
    CHECK_RC(egide_http_query_get(q, "a", out, sizeof out), EGIDE_OK);
    CHECK_STREQ(out, "1");
    CHECK_RC(egide_http_query_get(q, "b", out, sizeof out), EGIDE_OK);
    CHECK_STREQ(out, "x y z");
    CHECK_RC(egide_http_query_get(q, "c", out, sizeof out), EGIDE_OK);
    CHECK_STREQ(out, "");
    CHECK_RC(egide_http_query_get(q, "d", out, sizeof out), EGIDE_ERR_PROTO);
    CHECK_RC(egide_http_query_get(q, "e", out, sizeof out), EGIDE_ERR_PROTO);
    CHECK_RC(egide_http_query_get(q, "f", out, sizeof out), EGIDE_ERR_PROTO);
    CHECK_RC(egide_http_query_get(q, "g", out, sizeof out), EGIDE_OK);
    CHECK_STREQ(out, "AB");
    CHECK_RC(egide_http_query_get(q, "h", out, sizeof out), EGIDE_ERR_LIMIT);
    CHECK_STREQ(out, ""); /* never a truncated value */
    CHECK_RC(egide_http_query_get(q, "d", out, sizeof out), EGIDE_ERR_PROTO);
    CHECK_STREQ(out, "");
    CHECK_RC(egide_http_query_get(q, "a", out, 1), EGIDE_ERR_LIMIT);
    CHECK_STREQ(out, "");
    CHECK_RC(egide_http_query_get(q, "bo", out, sizeof out), EGIDE_OK);
    CHECK_STREQ(out, "k");
    CHECK_RC(egide_http_query_get(q, "zz", out, sizeof out), EGIDE_ERR_NOTFOUND);
    CHECK_RC(egide_http_query_get(q, "", out, sizeof out), EGIDE_ERR_INVALID);
    CHECK_RC(egide_http_query_get("", "a", out, sizeof out), EGIDE_ERR_NOTFOUND);
    CHECK_RC(egide_http_query_get(NULL, "a", out, sizeof out), EGIDE_ERR_INVALID);
    CHECK_RC(egide_http_query_get(q, "a", out, 0), EGIDE_ERR_INVALID);
}

static void test_bind_rules(void)
{
    egide_http_t *h = NULL;
    egide_http_config_t cfg = {.bind_addr = "0.0.0.0", .token = TOKEN};
    CHECK_RC(egide_http_start(&cfg, s_handler, NULL, &h), EGIDE_ERR_CONFIG);
    CHECK(h == NULL);
    cfg.bind_addr = "192.168.1.10";
    CHECK_RC(egide_http_start(&cfg, s_handler, NULL, &h), EGIDE_ERR_CONFIG);
    cfg.bind_addr = "::";
    CHECK_RC(egide_http_start(&cfg, s_handler, NULL, &h), EGIDE_ERR_CONFIG);
    cfg.bind_addr = "localhost.evil";
    CHECK_RC(egide_http_start(&cfg, s_handler, NULL, &h), EGIDE_ERR_INVALID);
    cfg.bind_addr = NULL; /* default 127.0.0.1 */
    cfg.token = "short";
    CHECK_RC(egide_http_start(&cfg, s_handler, NULL, &h), EGIDE_ERR_CONFIG);
    cfg.token = "0123456789abcdef0123456789abcdef\r\nX-Evil: 1";
    CHECK_RC(egide_http_start(&cfg, s_handler, NULL, &h), EGIDE_ERR_CONFIG);
    cfg.token = TOKEN;
    CHECK_RC(egide_http_start(&cfg, NULL, NULL, &h), EGIDE_ERR_INVALID);
    CHECK_RC(egide_http_start(NULL, s_handler, NULL, &h), EGIDE_ERR_INVALID);
    CHECK_RC(egide_http_start(&cfg, s_handler, NULL, &h), EGIDE_OK);
    REQUIRE(h != NULL);
    uint16_t port = egide_http_port(h);
    /* The same port twice: EGIDE_ERR_IO. */
    egide_http_t *h2 = NULL;
    cfg.port = port;
    CHECK_RC(egide_http_start(&cfg, s_handler, NULL, &h2), EGIDE_ERR_IO);
    CHECK(h2 == NULL);
    egide_http_stop(&h);
    CHECK(egide_http_port(NULL) == 0);

    /* ::1 works where the machine has IPv6 loopback. */
    cfg.bind_addr = "::1";
    cfg.port = 0;
    egide_rc rc = egide_http_start(&cfg, s_handler, NULL, &h);
    CHECK(rc == EGIDE_OK || rc == EGIDE_ERR_IO);
    if (rc == EGIDE_OK) {
        char url[128];
        snprintf(url, sizeof url, "http://[::1]:%u/echo", (unsigned)egide_http_port(h));
        egide_httpc_resp_t r;
        CHECK_RC(egide_httpc_request("GET", url, TOKEN, NULL, NULL, 0, 0, 5000, &r), EGIDE_OK);
        CHECK(r.status == 200);
        egide_httpc_resp_free(&r);
        egide_http_stop(&h);
    } else {
        fprintf(stderr, "note: no IPv6 loopback here, ::1 case skipped\n");
    }
}

static void test_client_errors(void)
{
    /* A port that was just free: start, note the port, stop. */
    egide_http_t *h = s_start(NULL, NULL, 0);
    REQUIRE(h != NULL);
    char url[128];
    snprintf(url, sizeof url, "%s/echo", s_base);
    egide_httpc_resp_t r;
    CHECK_RC(egide_httpc_request("GET", url, NULL, NULL, NULL, 0, 0, 5000, &r), EGIDE_OK);
    egide_httpc_resp_free(&r);
    egide_http_stop(&h);
    CHECK_RC(egide_httpc_request("GET", url, NULL, NULL, NULL, 0, 0, 5000, &r), EGIDE_ERR_IO);
    CHECK(r.status == 0 && r.body == NULL);
    CHECK(strstr(r.error, "cannot connect") != NULL);
    CHECK(strstr(r.error, "127.0.0.1") != NULL);
    egide_httpc_resp_free(&r);

    CHECK_RC(egide_httpc_request("GET", "file:///etc/passwd", NULL, NULL, NULL, 0, 0, 1000, &r),
             EGIDE_ERR_INVALID);
    CHECK_RC(egide_httpc_request("GET", "ftp://127.0.0.1/", NULL, NULL, NULL, 0, 0, 1000, &r),
             EGIDE_ERR_INVALID);
    CHECK_RC(egide_httpc_request("GET", "gopher://127.0.0.1/", NULL, NULL, NULL, 0, 0, 1000, &r),
             EGIDE_ERR_INVALID);
    CHECK_RC(egide_httpc_request("GET", url, "tok\r\nX-Evil: 1", NULL, NULL, 0, 0, 1000, &r),
             EGIDE_ERR_INVALID);
    CHECK_RC(egide_httpc_request("GET", NULL, NULL, NULL, NULL, 0, 0, 1000, &r), EGIDE_ERR_INVALID);
    CHECK_RC(egide_httpc_request("POST", url, NULL, NULL, NULL, 5, 0, 1000, &r), EGIDE_ERR_INVALID);
    CHECK_RC(egide_httpc_request("GET", url, NULL, NULL, NULL, 0, 0, 1000, NULL),
             EGIDE_ERR_INVALID);
    egide_httpc_resp_free(&r);
    egide_httpc_resp_free(NULL);
}

static void test_token_files(void)
{
    char dir[] = "/tmp/egide-test-http-XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    char path[256], path2[256], path3[256];
    snprintf(path, sizeof path, "%s/api.token", dir);
    snprintf(path2, sizeof path2, "%s/short.token", dir);
    snprintf(path3, sizeof path3, "%s/missing.token", dir);

    CHECK_RC(egide_token_generate(path), EGIDE_OK);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK_RC(egide_token_generate(path), EGIDE_ERR_EXISTS);
    char *tok = NULL;
    CHECK_RC(egide_token_load(path, &tok), EGIDE_OK);
    REQUIRE(tok != NULL);
    CHECK(strlen(tok) == 64);
    CHECK(strspn(tok, "0123456789abcdef") == 64);

    /* The loaded token works against a server that uses it. */
    egide_http_t *h = s_start(tok, NULL, 0);
    CHECK(h != NULL);
    egide_httpc_resp_t r;
    CHECK_RC(s_get("/echo", tok, &r), EGIDE_OK);
    CHECK(r.status == 200);
    egide_httpc_resp_free(&r);
    egide_http_stop(&h);
    egide_token_free(&tok);
    CHECK(tok == NULL);
    egide_token_free(&tok);

    /* Two generated tokens differ. */
    CHECK_RC(egide_token_generate(path3), EGIDE_OK);
    char *tok2 = NULL;
    CHECK_RC(egide_token_load(path, &tok), EGIDE_OK);
    CHECK_RC(egide_token_load(path3, &tok2), EGIDE_OK);
    CHECK(tok && tok2 && strcmp(tok, tok2) != 0);
    egide_token_free(&tok);
    egide_token_free(&tok2);
    unlink(path3);

    /* Too open. */
    CHECK(chmod(path, 0640) == 0);
    CHECK_RC(egide_token_load(path, &tok), EGIDE_ERR_PERM);
    CHECK(tok == NULL);
    CHECK(chmod(path, 0604) == 0);
    CHECK_RC(egide_token_load(path, &tok), EGIDE_ERR_PERM);
    /* Too short, or with a space. */
    CHECK_RC(egide_file_write_atomic(path2, "abc\n", 4, 0600), EGIDE_OK);
    CHECK_RC(egide_token_load(path2, &tok), EGIDE_ERR_CONFIG);
    CHECK_RC(egide_file_write_atomic(path2, "0123456789abcdef 0123456789abcdef\n", 34, 0600),
             EGIDE_OK);
    CHECK_RC(egide_token_load(path2, &tok), EGIDE_ERR_CONFIG);
    CHECK(tok == NULL);
    /* Missing. */
    CHECK_RC(egide_token_load(path3, &tok), EGIDE_ERR_NOTFOUND);
    CHECK_RC(egide_token_load(NULL, &tok), EGIDE_ERR_INVALID);

    unlink(path);
    unlink(path2);
    rmdir(dir);
}

/* ---- sessions: the cookie admitted through the callback ---- */

static atomic_int s_session_calls;

/* Accepts exactly the cookie value "good-session". */
static bool s_session_fn(const char *session, void *arg)
{
    (void)arg;
    atomic_fetch_add(&s_session_calls, 1);
    return strcmp(session, "good-session") == 0;
}

/* The "auth" member /echo reports for a raw GET with extra headers; the
 * status into *status. */
static void s_echo_auth(uint16_t port, const char *extra, int *status, char *auth, size_t authsz)
{
    char req[512], out[8192];
    snprintf(req, sizeof req, "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n",
             extra);
    size_t n = s_raw(port, req, strlen(req), out, sizeof out);
    *status = -1;
    auth[0] = '\0';
    if (n == 0 || sscanf(out, "HTTP/1.1 %d", status) != 1)
        return;
    const char *a = strstr(out, "\"auth\":\"");
    if (a) {
        a += 8;
        size_t k = strcspn(a, "\"");
        snprintf(auth, authsz, "%.*s", (int)(k < authsz ? k : authsz - 1), a);
    }
}

static void test_session_cookie(void)
{
    egide_http_config_t over = {.session_cookie = "egide_session", .session_fn = s_session_fn};
    egide_http_t *h = s_start_cfg(&over);
    REQUIRE(h != NULL);
    uint16_t port = egide_http_port(h);
    int st;
    char auth[32];
    s_echo_auth(port, "Cookie: egide_session=good-session\r\n", &st, auth, sizeof auth);
    CHECK(st == 200);
    CHECK_STREQ(auth, "session");
    /* Among other cookies too. */
    s_echo_auth(port, "Cookie: a=1; egide_session=good-session; b=2\r\n", &st, auth, sizeof auth);
    CHECK(st == 200 && strcmp(auth, "session") == 0);
    /* A session the callback refuses, another cookie's name, none: 401. */
    s_echo_auth(port, "Cookie: egide_session=bad\r\n", &st, auth, sizeof auth);
    CHECK(st == 401);
    s_echo_auth(port, "Cookie: other=good-session\r\n", &st, auth, sizeof auth);
    CHECK(st == 401);
    s_echo_auth(port, "", &st, auth, sizeof auth);
    CHECK(st == 401);
    /* With an Authorization header, the token alone decides. */
    int calls = atomic_load(&s_session_calls);
    s_echo_auth(port, "Cookie: egide_session=good-session\r\nAuthorization: Bearer wrong\r\n", &st,
                auth, sizeof auth);
    CHECK(st == 401);
    s_echo_auth(port, "Cookie: egide_session=bad\r\nAuthorization: Bearer " TOKEN "\r\n", &st, auth,
                sizeof auth);
    CHECK(st == 200 && strcmp(auth, "token") == 0);
    CHECK(atomic_load(&s_session_calls) == calls);
    egide_http_stop(&h);

    /* Without a callback a cookie authenticates nothing. */
    egide_http_config_t none = {.session_cookie = "egide_session"};
    h = s_start_cfg(&none);
    REQUIRE(h != NULL);
    s_echo_auth(egide_http_port(h), "Cookie: egide_session=good-session\r\n", &st, auth,
                sizeof auth);
    CHECK(st == 401);
    egide_http_stop(&h);
}

int main(void)
{
    RUN(test_query_get);
    RUN(test_token_auth);
    RUN(test_problems_and_times);
    RUN(test_body_limits);
    RUN(test_routes_and_helpers);
    RUN(test_malformed);
    RUN(test_header_deadline);
    RUN(test_slow_clients);
    RUN(test_pipelined_pin);
    RUN(test_limits);
    RUN(test_log_flood);
    RUN(test_bind_rules);
    RUN(test_client_errors);
    RUN(test_token_files);
    RUN(test_session_cookie);
    /* The same server tests with handler workers. */
    s_threads = 4;
    RUN(test_token_auth);
    RUN(test_body_limits);
    RUN(test_routes_and_helpers);
    RUN(test_malformed);
    RUN(test_header_deadline);
    RUN(test_slow_clients);
    RUN(test_pipelined_pin);
    RUN(test_limits);
    /* (test_log_flood not again: its rate limit is process-wide.) */
    RUN(test_client_errors);
    RUN(test_session_cookie);
    EGIDE_TEST_DONE();
}
