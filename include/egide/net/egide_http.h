/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_http.h - the small HTTP server both daemons mount their REST handlers
 * on (the edge's local API, the broker's read-only audit API and /metrics).
 *
 * It wraps libmicrohttpd with the rules every Égide API shares: loopback only
 * unless explicitly allowed; a bearer token (compared in constant time, via
 * SHA-256 digests so that length differences leak nothing) on every route
 * except an explicit list of public paths; request bodies capped before they
 * are buffered (413); security headers on every response; errors as RFC 9457
 * problem details (application/problem+json: type, title, status, detail,
 * code, errors; the codes in egide_problem.h, docs/errors.md).  The token and
 * request bodies are never logged, nor are session cookies.  Every answer
 * carries the same security headers (Content-Security-Policy
 * EGIDE_HTTP_CSP, X-Frame-Options DENY, X-Content-Type-Options nosniff,
 * Referrer-Policy no-referrer, Cache-Control no-store), pages and JSON
 * alike.
 *
 * Threading: libmicrohttpd runs one internal polling thread (epoll) that
 * reads requests and writes answers; handlers never run on the thread that
 * called egide_http_start().  With cfg->threads <= 1 (the old behaviour,
 * kept for the broker's audit API) the handler runs on that polling thread:
 * calls never overlap, and a slow handler delays every other request, even
 * one on another connection, until it returns.  With cfg->threads = N > 1
 * the handler runs on N pool workers plus one express worker: when a
 * request is complete its connection is suspended (MHD_suspend_connection)
 * and the request queued; a worker runs the handler and resumes the
 * connection, and the polling thread sends the answer.  So up to N requests
 * are answered at once, a slow one never delays another while a worker is
 * free, and a request on one of cfg->express_paths (e.g. /v1/health) is
 * answered by the express worker even while all N are busy (an idle pool
 * worker takes express requests too).  The handler must then be
 * thread-safe; egide_http_worker() tells it which worker runs it (0..N-1
 * for the pool, N for the express worker), so that a handler can keep one
 * resource (a store handle) per worker.  Jobs are bounded by the
 * connections (one request at a time per connection).
 * egide_http_stop() stops the workers first (requests still queued are
 * answered 503, the ones running finish), then libmicrohttpd; it returns
 * only after every thread has been joined, so no handler call is running
 * or will run afterwards.
 *
 * Abuse (slow clients, floods, malformed requests).  Every connection lives
 * under two deadlines besides libmicrohttpd's idle timeout (timeout_s, reset
 * by every byte), counted from the start of the request (the connection's
 * start, or the end of the previous request on a kept-alive connection): the
 * request line and headers must be complete within header_timeout_s, and so
 * must the whole request when it is not authenticated (a public path, or a
 * server without a token); an
 * authenticated request must be complete within body_timeout_s.  A watchdog
 * thread closes a connection past its deadline, whatever it is still
 * sending.  When every connection slot is taken, the unauthenticated
 * connection whose request started first (at least EGIDE_HTTP_EVICT_GRACE_MS
 * ago) is closed to make room: slow, unauthenticated connections can never
 * lock out a client that sends its request at once, even when every client
 * shares 127.0.0.1.  Memory is bounded per connection (EGIDE_HTTP_CONN_MEMORY
 * for the request line and headers, max_body for the body) and overall
 * (max_connections pools; max_body_total body bytes buffered at once, past
 * which 503).  A malformed request gets, with the usual problem body: 400 (a
 * control character in the target, a malformed header field, several
 * Content-Length or Transfer-Encoding fields, both, or an encoding other than
 * chunked), 411 (a chunked body, unless allow_chunked), 413, 414 (target over
 * EGIDE_HTTP_MAX_URI).  What libmicrohttpd refuses before it calls us it
 * answers itself (400, 413, 431, 505, with an HTML body) or, for a request
 * line without a space or a header block over its memory, closes the
 * connection at once.  With allow_chunked, libmicrohttpd 0.9.75 (which can
 * answer only before a body or after all of it) leaves two cases without an
 * answer: a chunked body that goes over max_body and keeps coming is
 * discarded up to EGIDE_HTTP_DISCARD_MAX more bytes, then the connection is
 * closed; one that stops coming (a chunk size of 2^64-1) is closed at its
 * deadline or the idle timeout, whichever comes first.
 */
#ifndef EGIDE_HTTP_H
#define EGIDE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "egide/base/egide_problem.h"
#include "egide/base/egide_rc.h"
#include "egide/base/egide_token.h"

/* Defaults used when the matching config field is 0. */
#define EGIDE_HTTP_DEFAULT_MAX_CONNECTIONS  128u
#define EGIDE_HTTP_DEFAULT_TIMEOUT_S        30u
#define EGIDE_HTTP_DEFAULT_HEADER_TIMEOUT_S 10u
#define EGIDE_HTTP_DEFAULT_BODY_TIMEOUT_S   120u
/* Per-address connection limit on a non-loopback address (see max_per_client). */
#define EGIDE_HTTP_DEFAULT_MAX_PER_CLIENT 16u
/* Overall buffered body bytes: max(4 * max_body, this) unless max_body_total says. */
#define EGIDE_HTTP_MIN_BODY_TOTAL (16u * 1024u * 1024u)
/* libmicrohttpd's memory pool per connection: request line, headers, response headers. */
#define EGIDE_HTTP_CONN_MEMORY (64u * 1024u)
/* Listen backlog (the kernel caps it at net.core.somaxconn). */
#define EGIDE_HTTP_LISTEN_BACKLOG 1024u
/* A connection still waiting for its headers is evicted for a newcomer only
 * after this long: a client that sends its request at once never is. */
#define EGIDE_HTTP_EVICT_GRACE_MS 100u
/* Bytes of an over-large chunked body discarded before the connection is closed. */
#define EGIDE_HTTP_DISCARD_MAX (64u * 1024u)
/* The Content-Security-Policy of every answer: no script, style, frame or
 * form target but the server's own, no inline script, never framed. */
#define EGIDE_HTTP_CSP                                                                             \
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

/* At stop, how long answers made by workers may take to be written. */
#define EGIDE_HTTP_STOP_DRAIN_MS 2000u
/* Most handler workers (cfg->threads above it is cut to it). */
#define EGIDE_HTTP_MAX_THREADS 64u
/* Longest accepted request target (path + query); longer gets 414. */
#define EGIDE_HTTP_MAX_URI 8192u

typedef struct egide_http egide_http_t;

/* One request as the handler sees it.  Everything is borrowed and valid only
 * for the duration of the handler call. */
typedef struct egide_http_req {
    const char *method;  /* "GET", "POST", ... */
    const char *path;    /* URL path, no query, e.g. "/v1/messages/abcd" */
    const char *query;   /* raw query string without '?', or "" (never NULL) */
    const uint8_t *body; /* request body, NUL-terminated (body[body_len] == 0), never NULL */
    size_t body_len;     /* bytes of body, not counting the NUL */
    const char *authenticated_as; /* "token" when the bearer token matched; "session" when the
                                     session callback accepted the cookie; NULL on a public path;
                                     "none" when the server runs without a token (tests only) */
    const char *content_type;     /* request Content-Type header, or NULL */
    /* Fields below were added for personal accounts (sessions). */
    const char *session;     /* the session cookie's value (cfg->session_cookie), or NULL;
                                authenticated_as is "session" only when cfg->session_fn
                                accepted it (the handler still checks it: it needs who) */
    const char *csrf;        /* the X-CSRF-Token header, or NULL */
    const char *client_addr; /* the client's IP address as text, or "" (never NULL) */
} egide_http_req_t;

/* The handler's answer.  The wrapper initialises it to {500, NULL, 0,
 * "application/json"}.  If the handler leaves body NULL, the wrapper sends a
 * problem (application/problem+json) matching status ("not found", ...). */
typedef struct egide_http_resp {
    int status;               /* HTTP status (200..599, else 500); default 500 until set */
    char *body;               /* malloc'ed, freed by the wrapper; may be NULL */
    size_t body_len;          /* bytes of body */
    const char *content_type; /* static string; default "application/json" */
    char *set_cookie;         /* a Set-Cookie value, malloc'ed, freed by the wrapper; or NULL */
    const char *allow;        /* static: the Allow header of a 405 ("GET, POST"); or NULL */
} egide_http_resp_t;

/* A 405 naming the methods the route answers, in the Allow header and the
 * message ("use GET or POST" style: "method not allowed; allowed: GET, POST"). */
void egide_http_method_not_allowed(egide_http_resp_t *resp, const char *allow);

/* Called once per complete request (after authentication and the size check
 * passed).  Runs on the polling thread or a worker (see the file comment).  Must set
 * resp->status and normally resp->body through the helpers below.  If a
 * helper is called twice, the previous body is freed. */
typedef void (*egide_http_handler_fn)(const egide_http_req_t *req, egide_http_resp_t *resp,
                                      void *arg);

/* Whether session (a session cookie's value) is a live session; see
 * egide_http_config_t.session_fn. */
typedef bool (*egide_http_session_fn)(const char *session, void *arg);

typedef struct egide_http_config {
    const char *bind_addr; /* "127.0.0.1" (default when NULL) or "::1"; other addresses need
                              allow_non_loopback */
    uint16_t port;         /* 0 = pick a free port; egide_http_port() tells which */
    const char *token;     /* bearer token required on every route except public_paths;
                              NULL = no authentication (tests only).  Copied. */
    const char *const *public_paths; /* NULL-terminated list of exact paths served without a
                                        token (e.g. "/v1/health"), or NULL for none.  /metrics is
                                        public only if listed here (daemons add it when their
                                        configuration says metrics_public = yes).  Copied. */
    size_t max_body;                 /* larger bodies refused with 413 before being buffered
                                        (from Content-Length; with allow_chunked, a chunked
                                        body going over is discarded, then refused); 0 or more
                                        than EGIDE_MAX_JSON_BODY = EGIDE_MAX_JSON_BODY */
    unsigned max_connections;        /* 0 = EGIDE_HTTP_DEFAULT_MAX_CONNECTIONS */
    unsigned timeout_s;              /* idle connection timeout; 0 = EGIDE_HTTP_DEFAULT_TIMEOUT_S */
    bool allow_non_loopback;         /* must be true to bind anything but 127.0.0.0/8 or ::1 */
    unsigned threads;                /* 0 or 1: handlers on the polling thread, one at a time;
                                        N > 1: N pool workers + 1 express worker (the handler must
                                        then be thread-safe; see the file comment); at most
                                        EGIDE_HTTP_MAX_THREADS */
    const char *const *express_paths; /* NULL-terminated exact paths answered by the express
                                         worker when every pool worker is busy (threads > 1 only;
                                         their handler must be quick), or NULL.  Copied. */
    /* Fields below were added for abuse resistance; 0 means the safe default,
     * so a zero-initialised config (as the daemons use) is protected. */
    unsigned header_timeout_s; /* request line + headers must be complete this long after the
                                  request started; 0 = EGIDE_HTTP_DEFAULT_HEADER_TIMEOUT_S */
    unsigned body_timeout_s;   /* the whole request (headers + body) likewise; 0 =
                                  EGIDE_HTTP_DEFAULT_BODY_TIMEOUT_S; never less than
                                  header_timeout_s */
    unsigned max_per_client;   /* connections from one IP address; 0 = no limit on a loopback
                                  bind (every local client shares 127.0.0.1, so a limit would let
                                  one local process lock the others out: the deadlines and the
                                  eviction protect them), EGIDE_HTTP_DEFAULT_MAX_PER_CLIENT on
                                  any other address; set explicitly, it applies everywhere */
    size_t max_body_total;     /* request body bytes buffered at once over all connections
                                  (past it: 503); 0 = max(4 * max_body, EGIDE_HTTP_MIN_BODY_TOTAL);
                                  never less than max_body + 1 */
    bool allow_chunked;        /* false (default): a request with Transfer-Encoding gets 411,
                                  since libmicrohttpd cannot refuse a chunked body while it is
                                  still coming; true: accepted, with the limits described in the
                                  file comment */
    /* Sessions (personal accounts): a request without an Authorization
     * header that carries the cookie session_cookie is admitted when
     * session_fn(value, session_arg) returns true (authenticated_as
     * "session"), refused with 401 when it returns false.  session_fn runs
     * on libmicrohttpd's thread(s) before the body is read, so it must be
     * thread-safe and quick.  NULL session_cookie or session_fn: cookies
     * authenticate nothing (the token alone, as before).  Copied. */
    const char *session_cookie;
    egide_http_session_fn session_fn;
    void *session_arg;
    /* TLS (HTTPS) on the listener: the server's certificate chain and its
     * private key, PEM text, both or neither (NULL: plain HTTP, for
     * loopback).  TLS 1.2 and 1.3 only.  Copied; the key's copy is wiped
     * at stop.  EGIDE_ERR_STATE when libmicrohttpd was built without TLS. */
    const char *tls_cert_pem;
    const char *tls_key_pem;
} egide_http_config_t;

/* Counters since start, for metrics and tests (egide_http_stats()). */
typedef struct egide_http_stats {
    unsigned open;           /* connections open now */
    uint64_t accepted;       /* connections accepted */
    uint64_t header_expired; /* closed: headers not complete by header_timeout_s */
    uint64_t body_expired;   /* closed: request not complete by body_timeout_s */
    uint64_t evicted;        /* closed to make room for a new connection */
    uint64_t refused_busy;   /* 503: max_body_total reached */
    uint64_t queued;         /* requests handed to a worker (threads > 1) */
    uint64_t answered;       /* of them, answered by a worker (handler run, or 503 at stop) */
    bool stopping;           /* egide_http_stop() has begun: what is still queued gets 503 */
} egide_http_stats_t;

/* Start serving.  cfg is copied (strings included); fn and arg must stay valid
 * until egide_http_stop().  *out receives the server.
 * Returns EGIDE_ERR_INVALID (NULL arguments, unparsable bind_addr),
 * EGIDE_ERR_CONFIG (non-loopback bind_addr without allow_non_loopback, token
 * shorter than EGIDE_TOKEN_MIN or containing spaces or control characters),
 * EGIDE_ERR_IO (the port could not be bound), EGIDE_ERR_NOMEM. */
egide_rc egide_http_start(const egide_http_config_t *cfg, egide_http_handler_fn fn, void *arg,
                          egide_http_t **out);

/* The port actually bound (useful with cfg->port == 0); 0 if h is NULL. */
uint16_t egide_http_port(const egide_http_t *h);
/* Replace the bearer token (a reload): requests from now on need the new
 * one.  EGIDE_ERR_INVALID when the server was started without a token,
 * EGIDE_ERR_CONFIG when token is not a usable one (the old one stays). */
egide_rc egide_http_set_token(egide_http_t *h, const char *token);

/* Copy the counters into *out (zeroes if h is NULL).  Thread-safe. */
void egide_http_stats(egide_http_t *h, egide_http_stats_t *out);

/* Stop accepting, finish or drop open connections, join the thread(s), free
 * everything and set *self_p = NULL.  NULL-safe and idempotent. */
void egide_http_stop(egide_http_t **self_p);

/* ---- helpers for handlers --------------------------------------------- */

/* The worker running the calling thread's handler: 0..threads-1 for the
 * pool, threads for the express worker; 0 on the polling thread (threads
 * <= 1) and on any thread that is not a worker (tests calling a handler
 * directly).  A thread-local, so that egide_http_req_t keeps its layout. */
unsigned egide_http_worker(void);

/* Serialise obj as compact JSON plus "\n" into resp with the given status and
 * content type "application/json", after egide_http_json_add_times(obj).
 * Takes the reference to obj (NULL-safe: a NULL obj, or a serialisation
 * failure, gives a 500 problem). */
void egide_http_json(egide_http_resp_t *resp, int status, json_t *obj);

/* Give every instant of obj an RFC 3339 sibling: in every object (nested
 * ones and array items too, down to 16 levels), a member <name>_ms whose
 * value is an integer or null gets <name>_at, the same instant as
 * "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC), or null when the value is null, 0 or
 * out of the years 0000-9999.  Left alone: durations (clock_skew_ms,
 * heartbeat_ms, offset_ms, retry_min_ms, retry_max_ms, lock_ms, timeout_ms,
 * latency_ms, age_ms, elapsed_ms, interval_ms), a member whose _at sibling
 * is already there, and whatever is under a "payload" member (a referral's
 * own content).  NULL-safe; at most 64 members per object get one. */
void egide_http_json_add_times(json_t *obj);

/* An RFC 9457 problem (application/problem+json) with the given status:
 * {"type":"https://egide.fr/problems/<code>","title":...,"status":status,
 *  "detail":"<formatted>","code":"<code>"}, the code picked from (status, rc)
 * by egide_problem_pick().  The detail is cut at 511 bytes, made valid UTF-8
 * if it is not, and not logged; keep referral content out of it. */
void egide_http_error(egide_http_resp_t *resp, int status, egide_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Like egide_http_error() with an "errors":[...] array of strings (e.g.
 * payload validation errors).  Takes the reference to details (a JSON
 * array, may be NULL). */
void egide_http_error_details(egide_http_resp_t *resp, int status, egide_rc rc, json_t *details,
                              const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Like egide_http_error_details() with the code given (p, e.g. one that
 * egide_problem_pick() chose with a wire reason) instead of picked from rc.
 * Takes the reference to errors (may be NULL). */
void egide_http_problem(egide_http_resp_t *resp, int status, egide_problem p, json_t *errors,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Copy text into resp with status and content_type (a static string, e.g.
 * "text/plain; version=0.0.4" for Prometheus; NULL = "text/plain; charset=utf-8"). */
void egide_http_text(egide_http_resp_t *resp, int status, const char *content_type,
                     const char *text);

/* Look key up in a raw query string ("a=1&b=x%20y") and copy its URL-decoded
 * value ('+' is a space) into out (size outsz, always NUL-terminated; "" on
 * any error, never a partial value).  The first occurrence wins; a key
 * without '=' has the value "".
 * Returns EGIDE_ERR_NOTFOUND if absent, EGIDE_ERR_LIMIT if the decoded value
 * does not fit, EGIDE_ERR_PROTO on a bad %-escape or a decoded NUL byte,
 * EGIDE_ERR_INVALID on NULL arguments or an empty key. */
egide_rc egide_http_query_get(const char *query, const char *key, char *out, size_t outsz);

#endif
