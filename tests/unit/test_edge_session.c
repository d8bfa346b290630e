/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_edge_session.c - personal accounts through the edge's HTTP routes:
 * edge_api_handle (the handler, without a server) for the rules, then the
 * real egide_http server on loopback for what only it does (the session
 * cookie admitted before the body, Set-Cookie, the security headers).
 * The clock is injected (edge_t.now_ms); accounts, passwords and the API
 * token are generated here.
 *
 * What it proves:
 *  - POST /v1/session: JSON only (415 otherwise); malformed bodies, empty,
 *    over-long or non-UTF-8 names and passwords are 400; an unknown name
 *    and a wrong password get the very same 401 answer; success sets an
 *    HttpOnly, SameSite=Strict, Path=/ cookie and returns the CSRF token
 *    and the role; GET says who; DELETE logs out (CSRF token required);
 *  - a session request that changes state without the CSRF token, or with
 *    a wrong one, is 403 and does nothing; with the right one (header or
 *    form field) it gets the same answer as the bearer token;
 *  - roles: an auditor reads GET /v1/messages/{id} without the payload
 *    (an agent and the token get it) and may not send (403);
 *  - a session that is unknown, idle past its limit or whose account was
 *    disabled is 401;
 *  - every answer of the server, pages and JSON, errors included, carries
 *    Content-Security-Policy, X-Frame-Options, X-Content-Type-Options,
 *    Referrer-Policy and Cache-Control; the login page is French, labelled,
 *    and has no inline script.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "edge.h"
#include "edge_web.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/crypto/egide_crypto.h"
#include "egide_test.h"

static char s_dir[64], s_db[128];
static edge_t E;
static int64_t s_now = 1767225600000LL;
static char s_pw[40], s_pw_audit[40];
static uint8_t s_msg_id[16];
static char s_msg_hex[33];

static int64_t s_clock(void)
{
    return s_now;
}

static void s_quiet(egide_log_level level, const char *line, void *arg)
{
    (void)level, (void)line, (void)arg;
}

static void s_gen(char *out)
{
    uint8_t r[16];
    (void)egide_random(r, sizeof r);
    egide_hex_encode(r, sizeof r, out);
}

/* One answer of edge_api_handle. */
typedef struct t_resp {
    int status;
    char *body; /* NUL-terminated, the test's */
    char *cookie;
    const char *type;
} t_resp_t;

static void t_free(t_resp_t *r)
{
    free(r->body);
    free(r->cookie);
    memset(r, 0, sizeof *r);
}

static t_resp_t s_call(const char *method, const char *path, const char *as, const char *session,
                       const char *csrf, const char *ctype, const char *body)
{
    egide_http_req_t req = {method,
                            path,
                            "",
                            (const uint8_t *)(body ? body : ""),
                            body ? strlen(body) : 0,
                            as,
                            ctype,
                            session,
                            csrf,
                            "127.0.0.1"};
    egide_http_resp_t resp = {.status = 500, .content_type = "application/json"};
    edge_api_handle(&E, &req, &resp);
    t_resp_t r = {resp.status, NULL, resp.set_cookie, resp.content_type};
    r.body = calloc(1, resp.body_len + 1);
    if (r.body && resp.body)
        memcpy(r.body, resp.body, resp.body_len);
    free(resp.body);
    return r;
}

/* Log user in; sid and csrf (65 bytes each) filled; returns the status. */
static int s_login(const char *user, const char *pw, char *sid, char *csrf)
{
    char body[256];
    snprintf(body, sizeof body, "{\"user\":\"%s\",\"password\":\"%s\"}", user, pw);
    t_resp_t r = s_call("POST", "/v1/session", NULL, NULL, NULL, "application/json", body);
    sid[0] = csrf[0] = '\0';
    if (r.status == 200 && r.cookie && strncmp(r.cookie, "egide_session=", 14) == 0) {
        memcpy(sid, r.cookie + 14, EDGE_SESSION_HEX);
        sid[EDGE_SESSION_HEX] = '\0';
        json_t *j = json_loads(r.body, 0, NULL);
        const char *c = json_string_value(json_object_get(j, "csrf_token"));
        egide_strlcpy(csrf, c ? c : "", EDGE_CSRF_HEX + 1);
        json_decref(j);
    }
    int st = r.status;
    t_free(&r);
    return st;
}

/* ------------------------------------------------------------ login route */

static void test_login_route(void)
{
    char body[2400];
    const char *J = "application/json";
    /* Not JSON: 415 (a cross-site form cannot send JSON). */
    snprintf(body, sizeof body, "{\"user\":\"alice\",\"password\":\"%s\"}", s_pw);
    t_resp_t r =
        s_call("POST", "/v1/session", NULL, NULL, NULL, "application/x-www-form-urlencoded", body);
    CHECK(r.status == 415 && !r.cookie);
    t_free(&r);
    r = s_call("POST", "/v1/session", NULL, NULL, NULL, NULL, body);
    CHECK(r.status == 415);
    t_free(&r);
    /* Malformed bodies: 400, no cookie. */
    static const char *const bad[] = {
        "",
        "not json",
        "[]",
        "{\"user\":\"alice\"}",
        "{\"user\":\"alice\",\"password\":\"x\",\"extra\":1}",
        "{\"user\":1,\"password\":\"abcdefghijkl\"}",
        "{\"user\":\"\",\"password\":\"abcdefghijkl\"}",
        "{\"user\":\"alice\",\"password\":\"\"}",
        "{\"user\":\"alice\",\"password\":\"abc\\u0000def\"}",
        "{\"user\":\"al\\u0000ice\",\"password\":\"abcdefghijkl\"}",
        "{\"user\":\"alice\",\"password\":\"tab\\there\"}",
        "{\"user\":\"alice\",\"password\":\"\xff\xfe\"}",           /* not UTF-8 */
        "{\"user\":\"alice\",\"user\":\"bob\",\"password\":\"x\"}", /* duplicate */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = s_call("POST", "/v1/session", NULL, NULL, NULL, J, bad[i]);
        if (r.status != 400)
            fprintf(stderr, "bad login body %zu: %d\n", i, r.status);
        CHECK(r.status == 400 && !r.cookie);
        t_free(&r);
    }
    /* Over-long name and password. */
    char lname[EDGE_USER_NAME_MAX + 2];
    memset(lname, 'a', sizeof lname - 1);
    lname[sizeof lname - 1] = '\0';
    snprintf(body, sizeof body, "{\"user\":\"%s\",\"password\":\"%s\"}", lname, s_pw);
    r = s_call("POST", "/v1/session", NULL, NULL, NULL, J, body);
    CHECK(r.status == 400);
    t_free(&r);
    char lpw[EDGE_PASSWORD_MAX + 2];
    memset(lpw, 'p', sizeof lpw - 1);
    lpw[sizeof lpw - 1] = '\0';
    snprintf(body, sizeof body, "{\"user\":\"alice\",\"password\":\"%s\"}", lpw);
    r = s_call("POST", "/v1/session", NULL, NULL, NULL, J, body);
    CHECK(r.status == 400);
    t_free(&r);

    /* Unknown name and wrong password: byte for byte the same answer. */
    snprintf(body, sizeof body, "{\"user\":\"nobody\",\"password\":\"%s\"}", s_pw);
    t_resp_t a = s_call("POST", "/v1/session", NULL, NULL, NULL, J, body);
    snprintf(body, sizeof body, "{\"user\":\"alice\",\"password\":\"%s\"}", s_pw_audit);
    t_resp_t b = s_call("POST", "/v1/session", NULL, NULL, NULL, J, body);
    CHECK(a.status == 401 && b.status == 401);
    CHECK(a.body && b.body && strcmp(a.body, b.body) == 0);
    CHECK(!a.cookie && !b.cookie);
    CHECK(a.body && !strstr(a.body, "nobody"));
    t_free(&a);
    t_free(&b);

    /* Success: the cookie's attributes, the CSRF token and the role. */
    snprintf(body, sizeof body, "{\"user\":\"alice\",\"password\":\"%s\"}", s_pw);
    r = s_call("POST", "/v1/session", NULL, NULL, NULL, "application/json; charset=utf-8", body);
    CHECK(r.status == 200);
    REQUIRE(r.cookie != NULL);
    CHECK(strstr(r.cookie, "; HttpOnly") && strstr(r.cookie, "; SameSite=Strict") &&
          strstr(r.cookie, "; Path=/"));
    CHECK(strstr(r.cookie, "Secure") == NULL); /* plain HTTP on loopback */
    json_t *j = json_loads(r.body, 0, NULL);
    CHECK_STREQ(json_string_value(json_object_get(j, "role")), "agent");
    CHECK_STREQ(json_string_value(json_object_get(j, "user")), "alice");
    const char *csrf = json_string_value(json_object_get(j, "csrf_token"));
    CHECK(csrf && strlen(csrf) == EDGE_CSRF_HEX);
    CHECK(r.body && !strstr(r.body, s_pw) && !strstr(r.body, r.cookie + 14));
    json_decref(j);
    t_free(&r);
    r = s_call("PUT", "/v1/session", NULL, NULL, NULL, J, "{}");
    CHECK(r.status == 405);
    t_free(&r);
}

/* ------------------------------------------------------------ CSRF */

static void test_csrf(void)
{
    char sid[EDGE_SESSION_HEX + 1], csrf[EDGE_CSRF_HEX + 1];
    REQUIRE(s_login("alice", s_pw, sid, csrf) == 200);
    const char *J = "application/json";
    /* Who am I. */
    t_resp_t r = s_call("GET", "/v1/session", NULL, sid, NULL, NULL, NULL);
    CHECK(r.status == 200 && strstr(r.body, "\"alice\"") && strstr(r.body, csrf));
    t_free(&r);
    r = s_call("GET", "/v1/session", NULL, NULL, NULL, NULL, NULL);
    CHECK(r.status == 401);
    t_free(&r);

    /* The token's answer to an (invalid) submission, for comparison. */
    t_resp_t tok = s_call("POST", "/v1/messages", "token", NULL, NULL, J, "{}");
    CHECK(tok.status == 400);

    /* Missing, wrong, and someone else's CSRF token: 403. */
    r = s_call("POST", "/v1/messages", "session", sid, NULL, J, "{}");
    CHECK(r.status == 403);
    t_free(&r);
    char wrong[EDGE_CSRF_HEX + 1];
    memcpy(wrong, csrf, sizeof wrong);
    wrong[0] = wrong[0] == '0' ? '1' : '0';
    r = s_call("POST", "/v1/messages", "session", sid, wrong, J, "{}");
    CHECK(r.status == 403);
    t_free(&r);
    r = s_call("POST", "/v1/messages", "session", sid, "", J, "{}");
    CHECK(r.status == 403);
    t_free(&r);
    char sid2[EDGE_SESSION_HEX + 1], csrf2[EDGE_CSRF_HEX + 1];
    REQUIRE(s_login("alice", s_pw, sid2, csrf2) == 200);
    r = s_call("POST", "/v1/messages", "session", sid, csrf2, J, "{}");
    CHECK(r.status == 403);
    t_free(&r);
    /* The session id as CSRF token: no. */
    r = s_call("POST",
               "/v1/messages/"
               "00000000000000000000000000000000"
               "/ack",
               "session", sid, sid, J, "{}");
    CHECK(r.status == 403);
    t_free(&r);

    /* The right one: the same answer as the token. */
    r = s_call("POST", "/v1/messages", "session", sid, csrf, J, "{}");
    CHECK(r.status == tok.status && strcmp(r.body, tok.body) == 0);
    t_free(&r);
    /* In a form field (a form posted without script). */
    char form[128];
    snprintf(form, sizeof form, "csrf_token=%s", csrf);
    r = s_call("POST", "/v1/messages", "session", sid, NULL, "application/x-www-form-urlencoded",
               form);
    CHECK(r.status == 400 && !strstr(r.body, "CSRF"));
    t_free(&r);
    snprintf(form, sizeof form, "csrf_token=%s", wrong);
    r = s_call("POST", "/v1/messages", "session", sid, NULL, "application/x-www-form-urlencoded",
               form);
    CHECK(r.status == 403);
    t_free(&r);
    t_free(&tok);
    /* A GET needs none. */
    r = s_call("GET", "/v1/messages", "session", sid, NULL, NULL, NULL);
    CHECK(r.status == 200);
    t_free(&r);

    /* Logout: CSRF token required; then the session is gone. */
    r = s_call("DELETE", "/v1/session", NULL, sid, NULL, NULL, NULL);
    CHECK(r.status == 403 && !r.cookie);
    t_free(&r);
    r = s_call("DELETE", "/v1/session", NULL, sid, csrf, NULL, NULL);
    CHECK(r.status == 200 && r.cookie && strstr(r.cookie, "Max-Age=0"));
    t_free(&r);
    r = s_call("GET", "/v1/session", NULL, sid, NULL, NULL, NULL);
    CHECK(r.status == 401);
    t_free(&r);
    r = s_call("GET", "/v1/messages", "session", sid, NULL, NULL, NULL);
    CHECK(r.status == 401);
    t_free(&r);
    r = s_call("GET", "/v1/messages", "session", sid2, NULL, NULL, NULL);
    CHECK(r.status == 200); /* the other session lives on */
    t_free(&r);
}

/* ------------------------------------------------------------ roles */

static bool s_has_payload(const char *body)
{
    json_t *j = json_loads(body, 0, NULL);
    bool has = json_object_get(j, "payload") || json_object_get(j, "payload_b64");
    json_decref(j);
    return has;
}

static void test_roles(void)
{
    char path[64];
    snprintf(path, sizeof path, "/v1/messages/%s", s_msg_hex);
    char sa[EDGE_SESSION_HEX + 1], ca[EDGE_CSRF_HEX + 1];
    char su[EDGE_SESSION_HEX + 1], cu[EDGE_CSRF_HEX + 1];
    REQUIRE(s_login("alice", s_pw, sa, ca) == 200);
    REQUIRE(s_login("audrey", s_pw_audit, su, cu) == 200);

    t_resp_t r = s_call("GET", path, "token", NULL, NULL, NULL, NULL);
    CHECK(r.status == 200 && s_has_payload(r.body));
    t_free(&r);
    r = s_call("GET", path, "session", sa, NULL, NULL, NULL);
    CHECK(r.status == 200 && s_has_payload(r.body));
    t_free(&r);
    r = s_call("GET", path, "session", su, NULL, NULL, NULL);
    CHECK(r.status == 200 && !s_has_payload(r.body));
    CHECK(strstr(r.body, s_msg_hex) && strstr(r.body, "\"receipts\""));
    t_free(&r);
    /* An auditor may list and read deadlines, not send. */
    r = s_call("GET", "/v1/messages", "session", su, NULL, NULL, NULL);
    CHECK(r.status == 200 && strstr(r.body, s_msg_hex));
    t_free(&r);
    r = s_call("POST", "/v1/messages", "session", su, cu, "application/json", "{}");
    CHECK(r.status == 403 && strstr(r.body, "auditor"));
    t_free(&r);
    char ack[80];
    snprintf(ack, sizeof ack, "/v1/messages/%s/ack", s_msg_hex);
    r = s_call("POST", ack, "session", su, cu, "application/json", "{}");
    CHECK(r.status == 403);
    t_free(&r);
    /* Cases, searches and the observatory export name children (a case's
     * commune and reference, the export's payloads): not for an auditor;
     * an agent and the token get past the role check. */
    static const char *const content_routes[] = {"/v1/search", "/v1/cases", "/v1/cases/1",
                                                 "/v1/export/olinpe"};
    for (size_t i = 0; i < sizeof content_routes / sizeof content_routes[0]; i++) {
        r = s_call("GET", content_routes[i], "session", su, NULL, NULL, NULL);
        if (r.status != 403)
            fprintf(stderr, "auditor on %s: %d\n", content_routes[i], r.status);
        CHECK(r.status == 403 && strstr(r.body, "auditor"));
        t_free(&r);
        r = s_call("GET", content_routes[i], "session", sa, NULL, NULL, NULL);
        CHECK(r.status != 403 && r.status != 401);
        t_free(&r);
    }
    /* An unknown authentication is refused, never taken for the token. */
    r = s_call("GET", path, "someone", NULL, NULL, NULL, NULL);
    CHECK(r.status == 401);
    t_free(&r);
}

/* ------------------------------------------------------------ expiry, disable */

static void test_expiry_and_disable(void)
{
    char sid[EDGE_SESSION_HEX + 1], csrf[EDGE_CSRF_HEX + 1];
    REQUIRE(s_login("alice", s_pw, sid, csrf) == 200);
    s_now += E.auth.idle_ms - 1;
    t_resp_t r = s_call("GET", "/v1/messages", "session", sid, NULL, NULL, NULL);
    CHECK(r.status == 200);
    t_free(&r);
    s_now += E.auth.idle_ms;
    r = s_call("GET", "/v1/messages", "session", sid, NULL, NULL, NULL);
    CHECK(r.status == 401);
    t_free(&r);

    REQUIRE(s_login("alice", s_pw, sid, csrf) == 200);
    CHECK_RC(edge_account_set_disabled(E.api_store, &E.api_lock, "alice", true, s_now), EGIDE_OK);
    r = s_call("GET", "/v1/messages", "session", sid, NULL, NULL, NULL);
    CHECK(r.status == 401);
    t_free(&r);
    CHECK(s_login("alice", s_pw, sid, csrf) == 401);
    CHECK_RC(edge_account_set_disabled(E.api_store, &E.api_lock, "alice", false, s_now), EGIDE_OK);
    CHECK(s_login("alice", s_pw, sid, csrf) == 200);
    /* The token is not affected by any of it. */
    r = s_call("GET", "/v1/messages", "token", NULL, NULL, NULL, NULL);
    CHECK(r.status == 200);
    t_free(&r);
}

/* ------------------------------------------------------------ pages */

static void test_pages(void)
{
    t_resp_t r = s_call("GET", "/", NULL, NULL, NULL, NULL, NULL);
    CHECK(r.status == 200 && strncmp(r.type, "text/html", 9) == 0);
    CHECK(strstr(r.body, "<html lang=\"fr\">") != NULL);
    CHECK(strstr(r.body, "<label for=\"user\">") && strstr(r.body, "<label for=\"password\">"));
    CHECK(strstr(r.body, "id=\"user\"") && strstr(r.body, "id=\"password\""));
    CHECK(strstr(r.body, "<script type=\"module\" src=\"/assets/login.js\"></script>") != NULL);
    /* No inline script: every <script has a src, and no on* handlers. */
    for (const char *p = strstr(r.body, "<script"); p; p = strstr(p + 1, "<script")) {
        const char *end = strchr(p, '>');
        CHECK(end && memmem(p, (size_t)(end - p), " src=", 5) != NULL);
    }
    CHECK(strstr(r.body, " onclick") == NULL && strstr(r.body, " onsubmit") == NULL);
    CHECK(strstr(r.body, "Marianne") == NULL);
    t_free(&r);
    r = s_call("GET", "/login", NULL, NULL, NULL, NULL, NULL);
    CHECK(r.status == 200 && strstr(r.body, "Connexion"));
    t_free(&r);
    r = s_call("GET", "/assets/login.js", NULL, NULL, NULL, NULL, NULL);
    CHECK(r.status == 200 && strncmp(r.type, "text/javascript", 15) == 0);
    CHECK(strstr(r.body, "/v1/session") && strstr(r.body, "X-CSRF-Token"));
    t_free(&r);
    r = s_call("GET", "/assets/style.css", NULL, NULL, NULL, NULL, NULL);
    CHECK(r.status == 200 && strncmp(r.type, "text/css", 8) == 0);
    t_free(&r);
    r = s_call("POST", "/login", NULL, NULL, NULL, NULL, NULL);
    CHECK(r.status == 405);
    t_free(&r);
    r = s_call("GET", "/assets/../edge.db", "token", NULL, NULL, NULL, NULL);
    CHECK(r.status == 404);
    t_free(&r);
    CHECK(edge_web_find("login.html") && edge_web_find("nope.html") == NULL);
}

/* ------------------------------------------------------------ a real server */

static egide_http_t *s_http;
static char s_token[65];

static void s_handler(const egide_http_req_t *req, egide_http_resp_t *resp, void *arg)
{
    edge_api_handle(arg, req, resp);
}

static bool s_alive(const char *session, void *arg)
{
    edge_t *e = arg;
    edge_principal_t who;
    return edge_session_check(e->api_store, &e->api_lock, &e->auth, session, edge_now_ms(e), false,
                              &who) == EGIDE_OK;
}

/* One request on a new connection; the whole answer (headers and body)
 * into out.  Returns the status, or -1. */
static int s_http_req(const char *method, const char *path, const char *extra, const char *body,
                      char *out, size_t outsz)
{
    out[0] = '\0';
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {10, 0}; /* a bound on a broken test, not a measurement */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(egide_http_port(s_http))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    char req[4096];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
                     "Content-Length: %zu\r\n\r\n%s",
                     method, path, extra ? extra : "", body ? strlen(body) : 0, body ? body : "");
    if (n < 0 || (size_t)n >= sizeof req || write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    for (int i = 0; i < 1000 && got + 1 < outsz; i++) {
        ssize_t k = read(fd, out + got, outsz - 1 - got);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    out[got] = '\0';
    close(fd);
    int status = -1;
    return sscanf(out, "HTTP/1.1 %d", &status) == 1 ? status : -1;
}

static bool s_header(const char *resp, const char *line)
{
    const char *end = strstr(resp, "\r\n\r\n");
    const char *p = strcasestr(resp, line);
    return p && end && p < end;
}

static void test_server_headers(void)
{
    static char buf[65536];
    static const struct {
        const char *method, *path, *extra;
        int status;
    } reqs[] = {
        {"GET", "/", NULL, 200},
        {"GET", "/login", NULL, 200},
        {"GET", "/assets/login.js", NULL, 200},
        {"GET", "/assets/style.css", NULL, 200},
        {"GET", "/v1/health", NULL, 200},
        {"GET", "/v1/session", NULL, 401},
        {"GET", "/v1/messages", NULL, 401},
        {"GET", "/v1/messages", "Cookie: egide_session=00\r\n", 401},
        {"GET", "/nowhere", NULL, 401},
        {"POST", "/login", NULL, 405},
    };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        int st = s_http_req(reqs[i].method, reqs[i].path, reqs[i].extra, NULL, buf, sizeof buf);
        if (st != reqs[i].status)
            fprintf(stderr, "%s %s: %d\n", reqs[i].method, reqs[i].path, st);
        CHECK(st == reqs[i].status);
        CHECK(s_header(buf, "\r\nContent-Security-Policy: default-src 'self'; frame-ancestors "
                            "'none'; base-uri 'none'; form-action 'self'\r\n"));
        CHECK(s_header(buf, "\r\nX-Frame-Options: DENY\r\n"));
        CHECK(s_header(buf, "\r\nX-Content-Type-Options: nosniff\r\n"));
        CHECK(s_header(buf, "\r\nReferrer-Policy: no-referrer\r\n"));
        CHECK(s_header(buf, "\r\nCache-Control: no-store\r\n"));
    }

    /* Log in over HTTP; the cookie authenticates the next requests. */
    char body[256], extra[256];
    snprintf(body, sizeof body, "{\"user\":\"audrey\",\"password\":\"%s\"}", s_pw_audit);
    int st = s_http_req("POST", "/v1/session", "Content-Type: application/json\r\n", body, buf,
                        sizeof buf);
    CHECK(st == 200);
    const char *c = strcasestr(buf, "\r\nSet-Cookie: egide_session=");
    REQUIRE(c != NULL);
    c += strlen("\r\nSet-Cookie: egide_session=");
    char sid[EDGE_SESSION_HEX + 1];
    memcpy(sid, c, EDGE_SESSION_HEX);
    sid[EDGE_SESSION_HEX] = '\0';
    CHECK(s_header(buf, "; HttpOnly; SameSite=Strict"));
    snprintf(extra, sizeof extra, "Cookie: egide_session=%s\r\n", sid);
    char path[64];
    snprintf(path, sizeof path, "/v1/messages/%s", s_msg_hex);
    st = s_http_req("GET", path, extra, NULL, buf, sizeof buf);
    CHECK(st == 200);
    const char *jb = strstr(buf, "\r\n\r\n");
    CHECK(jb && !s_has_payload(jb + 4) && strstr(jb, s_msg_hex));
    /* With the token, the same message has its payload. */
    snprintf(extra, sizeof extra, "Authorization: Bearer %s\r\n", s_token);
    st = s_http_req("GET", path, extra, NULL, buf, sizeof buf);
    jb = strstr(buf, "\r\n\r\n");
    CHECK(st == 200 && jb && s_has_payload(jb + 4));
    /* A changing request with the cookie but no CSRF token: 403. */
    snprintf(extra, sizeof extra, "Cookie: egide_session=%s\r\nContent-Type: application/json\r\n",
             sid);
    st = s_http_req("POST", "/v1/messages", extra, "{}", buf, sizeof buf);
    CHECK(st == 403);
    /* A session the server no longer knows: 401 before the body. */
    s_now += E.auth.absolute_ms;
    snprintf(extra, sizeof extra, "Cookie: egide_session=%s\r\n", sid);
    st = s_http_req("GET", "/v1/messages", extra, NULL, buf, sizeof buf);
    CHECK(st == 401);
}

int main(void)
{
    egide_log_set_sink(s_quiet, NULL);
    snprintf(s_dir, sizeof s_dir, "/tmp/egide-test-session.XXXXXX");
    if (!mkdtemp(s_dir))
        return 1;
    snprintf(s_db, sizeof s_db, "%s/edge.db", s_dir);
    memset(&E, 0, sizeof E);
    pthread_mutex_init(&E.dir_lock, NULL);
    pthread_mutex_init(&E.api_lock, NULL);
    E.wake[0] = E.wake[1] = -1;
    E.now_ms = s_clock;
    egide_strlcpy(E.node_id, "71.crip", sizeof E.node_id);
    edge_auth_policy_default(&E.auth);
    if (edge_store_sqlite_ops.open(s_db, &E.api_store) != EGIDE_OK)
        return 1;
    s_gen(s_pw);
    s_gen(s_pw_audit);
    if (edge_account_add(E.api_store, NULL, "alice", EDGE_ROLE_AGENT, s_pw, strlen(s_pw), s_now) ||
        edge_account_add(E.api_store, NULL, "audrey", EDGE_ROLE_AUDITOR, s_pw_audit,
                         strlen(s_pw_audit), s_now))
        return 1;
    /* One received message with a payload. */
    uint8_t sha[32], payload[24], receipt[8] = {1};
    (void)egide_random(s_msg_id, sizeof s_msg_id);
    (void)egide_random(payload, sizeof payload);
    egide_sha256(payload, sizeof payload, sha);
    egide_hex_encode(s_msg_id, 16, s_msg_hex);
    edge_inbox_msg_t m = {
        .msg_id = s_msg_id,
        .sha256 = sha,
        .sender_id = "71.police.macon",
        .type = "ip.transmission",
        .created_ms = s_now,
        .received_ms = s_now,
        .content_type = "application/octet-stream",
        .payload = payload,
        .payload_len = sizeof payload,
        .receipt = receipt,
        .receipt_len = sizeof receipt,
    };
    edge_inbox_put_result res;
    uint8_t *rb = NULL;
    size_t rl = 0;
    if (edge_store_inbox_put(E.api_store, &m, &res, &rb, &rl) != EGIDE_OK)
        return 1;
    free(rb);

    RUN(test_login_route);
    RUN(test_csrf);
    RUN(test_roles);
    RUN(test_expiry_and_disable);
    RUN(test_pages);

    uint8_t t[32];
    (void)egide_random(t, sizeof t);
    egide_hex_encode(t, sizeof t, s_token);
    const char *pub[16];
    size_t np = 0;
    pub[np++] = "/v1/health";
    pub[np++] = "/v1/session";
    for (size_t i = 0; edge_web_paths[i]; i++)
        pub[np++] = edge_web_paths[i];
    pub[np] = NULL;
    egide_http_config_t hc = {.bind_addr = "127.0.0.1",
                              .token = s_token,
                              .public_paths = pub,
                              .session_cookie = EDGE_SESSION_COOKIE,
                              .session_fn = s_alive,
                              .session_arg = &E};
    if (egide_http_start(&hc, s_handler, &E, &s_http) == EGIDE_OK) {
        RUN(test_server_headers);
        egide_http_stop(&s_http);
    } else {
        CHECK(!"the HTTP server did not start");
    }

    edge_store_close(&E.api_store);
    pthread_mutex_destroy(&E.dir_lock);
    pthread_mutex_destroy(&E.api_lock);
    char p[160];
    static const char *const sfx[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", s_db, sfx[i]);
        unlink(p);
    }
    rmdir(s_dir);
    EGIDE_TEST_DONE();
}
