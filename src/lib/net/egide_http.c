/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_http.c - the HTTP server wrapper on libmicrohttpd (see egide_http.h).
 *
 * One request goes through three libmicrohttpd callbacks (with workers, the
 * handler itself runs on a worker while the connection is suspended, see
 * s_worker_main):
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
 *
 * Abuse resistance (see the header): s_on_connection() keeps every open
 * connection in a list (s_conn_t, oldest request first) with the phase of
 * its current request; the watchdog thread closes, with shutdown(2), those
 * past their header or body deadline, and a new connection that fills the
 * last slot evicts the unauthenticated one whose request started first.
 * shutdown() on a descriptor another thread serves is safe here because
 * libmicrohttpd calls the CLOSED notification, which unlinks the entry
 * under h->lock, before it closes the descriptor.
 */
#include "egide/net/egide_http.h"
#include "egide/base/egide_token.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "egide/crypto/egide_crypto.h"
#include "egide/base/egide_date.h"
#include "egide/base/egide_limits.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"

/* Where a connection's current request stands. */
typedef enum s_phase {
    S_HEAD = 0, /* waiting for the request line and headers */
    S_ANON,     /* headers in, not authenticated (public path), body arriving */
    S_BODY,     /* headers in, bearer token checked, body arriving */
    S_DONE      /* handler running or answer queued: no deadline but the idle timeout */
} s_phase_t;

/* One open connection.  Invariant: linked in its server's list, in order of
 * start_ms, from the STARTED to the CLOSED notification; fd stays open for
 * that whole time (libmicrohttpd closes it after CLOSED).  All fields but
 * req are under the server's lock. */
typedef struct s_conn {
    struct s_conn *prev, *next; /* list links */
    int fd;                     /* the connection's socket */
    int64_t start_ms;           /* when the current request started (monotonic) */
    s_phase_t phase;            /* see s_phase_t */
    bool closing;               /* shutdown() already done */
    struct s_req *req;          /* the current request's context, or NULL; owned by the
                                   connection's libmicrohttpd thread, not under the lock */
} s_conn_t;

/* A running server.  Invariant: d != NULL between start and stop; the
 * configuration it uses is owned here (copied from the caller). */
struct egide_http {
    struct MHD_Daemon *d;       /* the libmicrohttpd daemon */
    egide_http_handler_fn fn;   /* the Égide handler */
    void *arg;                  /* its argument */
    bool has_token;             /* false: no authentication (tests only) */
    uint8_t token_digest[32];   /* SHA-256 of the expected token, under token_lock */
    pthread_mutex_t token_lock; /* guards token_digest (egide_http_set_token) */
    char **public_paths;        /* NULL-terminated copy, may be NULL */
    size_t max_body;            /* request body cap in bytes */
    bool allow_chunked;         /* chunked request bodies accepted (else 411) */
    char *session_cookie;       /* cookie name of sessions, or NULL (no sessions) */
    egide_http_session_fn sfn;  /* accepts a session cookie's value */
    void *session_arg;          /* its argument */
    char *tls_cert, *tls_key;   /* PEM copies while TLS is on, or NULL */
    uint16_t port;              /* bound port */
    unsigned max_conns;         /* connection slots (libmicrohttpd's limit too) */
    int64_t header_ms;          /* header deadline from the request's start */
    int64_t body_ms;            /* whole-request deadline from the request's start */
    size_t body_total;          /* cap on body bytes buffered over all connections */
    atomic_size_t body_used;    /* body bytes reserved now */
    pthread_mutex_t lock;       /* guards the list, counters and stopping */
    pthread_cond_t wake;        /* wakes the watchdog to stop */
    bool lock_ok;               /* lock and wake are initialised */
    bool stopping;              /* the watchdog must exit */
    bool watchdog_ok;           /* the watchdog thread runs */
    unsigned nclosing;          /* listed connections already shut down */
    pthread_t watchdog;         /* closes connections past their deadlines */
    s_conn_t *head, *tail;      /* open connections, oldest request first */
    egide_http_stats_t st;      /* counters (st.open = list length) */
    egide_http_stats_t logged;  /* counters at the last aggregated log line */
    int64_t logged_ms;          /* when that line was written */
    /* Handler workers (threads > 1; see s_worker): jobs are requests whose
     * connection is suspended, queued under qlock; the pool's workers take
     * from q, the express worker (and an idle pool worker) from xq. */
    unsigned nworkers;               /* pool workers (0: handlers run on libmicrohttpd's thread) */
    struct s_worker *workers;        /* nworkers + 1 (the last is the express worker) */
    unsigned nstarted;               /* worker threads started (joined at stop) */
    char **express_paths;            /* NULL-terminated copy, may be NULL */
    pthread_mutex_t qlock;           /* guards the queues and qstop */
    pthread_cond_t qwake;            /* a job was queued, or stop */
    bool q_ok;                       /* qlock and qwake are initialised */
    bool qstop;                      /* workers drain the queues with 503s and exit */
    struct s_req *q_head, *q_tail;   /* jobs for the pool, oldest first */
    struct s_req *xq_head, *xq_tail; /* jobs on express paths, oldest first */
    unsigned inflight;               /* jobs queued and not yet completed (under lock) */
    pthread_cond_t drained;          /* inflight went down (under lock) */
    bool drained_ok;                 /* drained is initialised */
};

/* One handler worker thread. */
typedef struct s_worker {
    egide_http_t *h;  /* its server */
    unsigned index;   /* egide_http_req_t.worker of the requests it runs */
    bool express;     /* serves only the express queue */
    pthread_t thread; /* the thread */
} s_worker_t;

/* One request in flight.  Invariant: body.len <= max_body of the server;
 * once too_large is set the body is freed and further data discarded. */
typedef struct s_req {
    char *query;         /* raw query without '?', "" when none; owned */
    bool uri_too_long;   /* request target longer than EGIDE_HTTP_MAX_URI */
    bool started;        /* the header-time checks ran */
    bool too_large;      /* the body went over max_body (chunked upload) */
    bool busy;           /* max_body_total reached: answer 503 */
    bool bad_target;     /* control character or space in the request target */
    size_t reserved;     /* bytes of egide_http.body_used held by this request */
    size_t discarded;    /* bytes thrown away after too_large */
    const char *auth_as; /* what egide_http_req_t.authenticated_as will say */
    char addr[64];       /* the client's address as text, or "" */
    egide_buf_t body;    /* the buffered body */
    /* As a job for a worker (egide_http.nworkers > 0): set on the
     * libmicrohttpd thread before the connection is suspended, then owned
     * by the worker until it resumes the connection. */
    int job;                    /* S_JOB_NONE, S_JOB_QUEUED, S_JOB_DONE */
    struct s_req *qnext;        /* queue link (under qlock) */
    struct MHD_Connection *con; /* the suspended connection */
    egide_http_req_t hreq;      /* the request as the handler sees it */
    egide_http_resp_t resp;     /* the handler's answer, sent once resumed */
} s_req_t;

enum { S_JOB_NONE = 0, S_JOB_QUEUED, S_JOB_DONE };

static const char *const s_json = "application/json";
static const char *const s_problem = EGIDE_PROBLEM_MEDIA_TYPE;

static void s_log_answer(const egide_http_req_t *req, int status);
static int s_enqueue(egide_http_t *h, struct MHD_Connection *con, s_req_t *r);

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

/* An RFC 9457 problem body as a new string (NULL on allocation failure):
 * type, title, status, detail, code and, when given, errors. */
static char *s_problem_body(int status, egide_problem p, const char *msg, json_t *errors,
                            size_t *len)
{
    const egide_problem_info_t *pi = egide_problem_info(p);
    char type[128];
    json_t *root = json_object();
    char *out = NULL;
    if (!root)
        goto done;
    json_t *m = json_string(msg ? msg : "");
    if (!m) {
        /* Not valid UTF-8: never lose the error because of it. */
        char clean[512];
        m = json_string(egide_sanitize(msg, strlen(msg), clean, sizeof clean));
    }
    if (json_object_set_new(root, "type",
                            json_string(egide_problem_type_uri(p, type, sizeof type))) ||
        json_object_set_new(root, "title", json_string(pi->title)) ||
        json_object_set_new(root, "status", json_integer(status)) ||
        json_object_set_new(root, "detail", m) ||
        json_object_set_new(root, "code", json_string(pi->code)))
        goto done;
    if (errors) {
        if (json_object_set(root, "errors", errors))
            goto done;
    }
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
    json_decref(root);
    return out;
}

static void s_problem_v(egide_http_resp_t *resp, int status, egide_problem p, json_t *errors,
                        const char *fmt, va_list ap)
{
    char msg[512];
    (void)vsnprintf(msg, sizeof msg, fmt, ap);
    size_t len = 0;
    char *body = s_problem_body(status, p, msg, errors, &len);
    s_set_body(resp, status, s_problem, body, body ? len : 0);
}

/* ---- helpers for handlers ------------------------------------------- */

void egide_http_error(egide_http_resp_t *resp, int status, egide_rc rc, const char *fmt, ...)
{
    if (!resp)
        return;
    va_list ap;
    va_start(ap, fmt);
    s_problem_v(resp, status, egide_problem_pick(status, rc, 0), NULL, fmt, ap);
    va_end(ap);
}

void egide_http_problem(egide_http_resp_t *resp, int status, egide_problem p, json_t *errors,
                        const char *fmt, ...)
{
    if (!resp) {
        json_decref(errors);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    s_problem_v(resp, status, p, errors, fmt, ap);
    va_end(ap);
    json_decref(errors);
}

void egide_http_method_not_allowed(egide_http_resp_t *resp, const char *allow)
{
    if (!resp)
        return;
    egide_http_error(resp, 405, EGIDE_ERR_INVALID, "method not allowed; allowed: %s", allow);
    resp->allow = allow;
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
    s_problem_v(resp, status, egide_problem_pick(status, rc, 0), details, fmt, ap);
    va_end(ap);
    json_decref(details);
}

/* Members named *_ms that are durations, not instants: no _at sibling.
 * A new duration in an answer is added here (the live OpenAPI check and
 * docs/errors.md list the rule). */
static const char *const s_durations[] = {
    "clock_skew_ms", "heartbeat_ms", "offset_ms", "retry_min_ms", "retry_max_ms", "lock_ms",
    "timeout_ms",    "latency_ms",   "age_ms",    "elapsed_ms",   "interval_ms",  NULL};
/* Members holding a referral's own content: never rewritten. */
static const char *const s_opaque[] = {"payload", NULL};

static bool s_in(const char *const *list, const char *key)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], key) == 0)
            return true;
    return false;
}

/* Most *_ms members of one object given an _at sibling; deeper than
 * S_TIMES_DEPTH nothing is added (answers are a few levels deep). */
#define S_TIMES_PER_OBJECT 64
#define S_TIMES_DEPTH      16
#define S_TIMES_KEY        64

static void s_add_times(json_t *j, int depth)
{
    if (depth > S_TIMES_DEPTH)
        return;
    if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++)
            s_add_times(json_array_get(j, i), depth + 1);
        return;
    }
    if (!json_is_object(j))
        return;
    /* Collected first: an object is not changed while it is walked. */
    char names[S_TIMES_PER_OBJECT][S_TIMES_KEY];
    json_int_t vals[S_TIMES_PER_OBJECT];
    bool set[S_TIMES_PER_OBJECT];
    size_t n = 0;
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        if (s_in(s_opaque, key))
            continue;
        if (json_is_object(v) || json_is_array(v)) {
            s_add_times(v, depth + 1);
            continue;
        }
        size_t kl = strlen(key);
        if (kl <= 3 || kl >= S_TIMES_KEY || strcmp(key + kl - 3, "_ms") != 0 ||
            s_in(s_durations, key) || !(json_is_integer(v) || json_is_null(v)) ||
            n >= S_TIMES_PER_OBJECT)
            continue;
        memcpy(names[n], key, kl - 3);
        memcpy(names[n] + kl - 3, "_at", 4);
        set[n] = json_is_integer(v) && json_integer_value(v) > 0;
        vals[n] = set[n] ? json_integer_value(v) : 0;
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        if (json_object_get(j, names[i]))
            continue; /* the answer has its own (e.g. a payload-like field) */
        char when[32];
        bool ok = set[i] && egide_datetime_format_ms(vals[i], when, sizeof when) == EGIDE_OK;
        (void)json_object_set_new(j, names[i], ok ? json_string(when) : json_null());
    }
}

void egide_http_json_add_times(json_t *obj)
{
    s_add_times(obj, 0);
}

void egide_http_json(egide_http_resp_t *resp, int status, json_t *obj)
{
    if (!resp) {
        json_decref(obj);
        return;
    }
    s_add_times(obj, 0);
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

/* Log lines caused by clients (libmicrohttpd's messages, refused tokens): at
 * most S_LOG_BURST of each kind per S_LOG_WINDOW_MS, then one line saying
 * how many were left out, so a flood of broken or unauthenticated requests
 * does not become a flood of log lines. */
#define S_LOG_BURST     10
#define S_LOG_WINDOW_MS 10000

/* One rate limit (process-wide: the daemons run one server, tests several). */
typedef struct s_ratelimit {
    _Atomic int64_t window_start; /* monotonic ms */
    atomic_uint in_window;        /* lines asked for in this window */
    atomic_uint suppressed;       /* of them, left out */
    const char *what;             /* "libmicrohttpd messages", ... */
} s_ratelimit_t;

static s_ratelimit_t s_rl_mhd = {.what = "libmicrohttpd messages"};
static s_ratelimit_t s_rl_auth = {.what = "refused bearer tokens"};

/* true when one more line may be written now. */
static bool s_log_allowed(s_ratelimit_t *rl)
{
    int64_t now = egide_mono_ms();
    int64_t ws = atomic_load(&rl->window_start);
    if (now - ws >= S_LOG_WINDOW_MS &&
        atomic_compare_exchange_strong(&rl->window_start, &ws, now)) {
        atomic_store(&rl->in_window, 0);
        unsigned n = atomic_exchange(&rl->suppressed, 0);
        if (n)
            egide_log(EGIDE_LOG_WARNING, "http: %u more %s not logged", n, rl->what);
    }
    if (atomic_fetch_add(&rl->in_window, 1) >= S_LOG_BURST) {
        atomic_fetch_add(&rl->suppressed, 1);
        return false;
    }
    return true;
}

static void s_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    if (!s_log_allowed(&s_rl_mhd))
        return;
    char line[512];
    (void)vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    char clean[512];
    egide_log(EGIDE_LOG_WARNING, "http: %s", egide_sanitize(line, n, clean, sizeof clean));
}

/* Free a request context and give back its share of the body budget. */
static void s_req_free(egide_http_t *h, s_req_t *r)
{
    if (!r)
        return;
    if (r->reserved)
        atomic_fetch_sub(&h->body_used, r->reserved);
    if (r->job != S_JOB_NONE) {
        /* A worker's job is over: its answer was sent, or never will be. */
        pthread_mutex_lock(&h->lock);
        h->inflight--;
        pthread_cond_broadcast(&h->drained);
        pthread_mutex_unlock(&h->lock);
    }
    free(r->resp.body); /* an answer made but never sent (the connection died) */
    free(r->query);
    egide_buf_free_secret(&r->body);
    free(r);
}

/* ---- connection tracking -------------------------------------------- */

static void s_list_unlink(egide_http_t *h, s_conn_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        h->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        h->tail = c->prev;
    c->prev = c->next = NULL;
}

static void s_list_append(egide_http_t *h, s_conn_t *c)
{
    c->prev = h->tail;
    c->next = NULL;
    if (h->tail)
        h->tail->next = c;
    else
        h->head = c;
    h->tail = c;
}

/* Close c's socket (lock held).  libmicrohttpd then reads EOF and frees the
 * connection in its own thread; the slot stays taken until it has. */
static void s_close_locked(egide_http_t *h, s_conn_t *c)
{
    if (c->closing)
        return;
    c->closing = true;
    h->nclosing++;
    (void)shutdown(c->fd, SHUT_RDWR);
}

/* While every slot is taken (counting none being closed already), close the
 * unauthenticated connection (still in its headers, or sending a body to a
 * public path) whose request started first, if it started at least the
 * grace ago; never `except` (the newcomer).  Lock held. */
static void s_evict_locked(egide_http_t *h, int64_t now, const s_conn_t *except)
{
    while (h->st.open - h->nclosing >= h->max_conns) {
        s_conn_t *victim = NULL;
        for (s_conn_t *c = h->head; c && !victim; c = c->next)
            if (c != except && !c->closing && (c->phase == S_HEAD || c->phase == S_ANON))
                victim = c;
        /* The list is in order of start: the first is the oldest. */
        if (!victim || now - victim->start_ms < (int64_t)EGIDE_HTTP_EVICT_GRACE_MS)
            return;
        s_close_locked(h, victim);
        h->st.evicted++;
    }
}

static void s_on_connection(void *cls, struct MHD_Connection *con, void **socket_context,
                            enum MHD_ConnectionNotificationCode code)
{
    egide_http_t *h = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
        s_conn_t *c = ci ? calloc(1, sizeof *c) : NULL;
        *socket_context = c;
        if (!c) {
            /* Untracked means unbounded: do not serve it. */
            if (ci)
                (void)shutdown(ci->connect_fd, SHUT_RDWR);
            return;
        }
        c->fd = ci->connect_fd;
        c->start_ms = egide_mono_ms();
        c->phase = S_HEAD;
        pthread_mutex_lock(&h->lock);
        s_list_append(h, c);
        h->st.open++;
        h->st.accepted++;
        s_evict_locked(h, c->start_ms, c);
        pthread_mutex_unlock(&h->lock);
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        s_conn_t *c = *socket_context;
        if (!c)
            return;
        pthread_mutex_lock(&h->lock);
        s_list_unlink(h, c);
        h->st.open--;
        if (c->closing)
            h->nclosing--;
        pthread_mutex_unlock(&h->lock);
        s_req_free(h, c->req);
        free(c);
        *socket_context = NULL;
    }
}

static s_conn_t *s_conn_of(struct MHD_Connection *con)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Move con's request to phase; restart = a new request begins now. */
static void s_set_phase(egide_http_t *h, struct MHD_Connection *con, s_phase_t phase, bool restart)
{
    s_conn_t *c = s_conn_of(con);
    if (!c)
        return;
    pthread_mutex_lock(&h->lock);
    c->phase = phase;
    if (restart) {
        c->start_ms = egide_mono_ms();
        s_list_unlink(h, c);
        s_list_append(h, c);
    }
    pthread_mutex_unlock(&h->lock);
}

/* The watchdog: every 100 ms, close connections past their deadline, make
 * room if every slot is taken, and write one summary line per 10 s when
 * something was closed. */
static void *s_watchdog(void *arg)
{
    egide_http_t *h = arg;
    pthread_mutex_lock(&h->lock);
    while (!h->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        (void)pthread_cond_timedwait(&h->wake, &h->lock, &ts);
        if (h->stopping)
            break;
        int64_t now = egide_mono_ms();
        for (s_conn_t *c = h->head; c; c = c->next) {
            if (c->closing)
                continue;
            /* An unauthenticated request has the header deadline for all of it. */
            if ((c->phase == S_HEAD || c->phase == S_ANON) && now - c->start_ms >= h->header_ms) {
                s_close_locked(h, c);
                h->st.header_expired++;
            } else if (c->phase == S_BODY && now - c->start_ms >= h->body_ms) {
                s_close_locked(h, c);
                h->st.body_expired++;
            }
        }
        s_evict_locked(h, now, NULL);
        egide_http_stats_t st = h->st, was = h->logged;
        bool say =
            now - h->logged_ms >= 10000 &&
            (st.header_expired != was.header_expired || st.body_expired != was.body_expired ||
             st.evicted != was.evicted || st.refused_busy != was.refused_busy);
        if (say) {
            h->logged = st;
            h->logged_ms = now;
            pthread_mutex_unlock(&h->lock);
            egide_log(EGIDE_LOG_NOTICE,
                      "http: closed %llu connections past the header deadline, %llu past the "
                      "request deadline, %llu to make room; %llu requests refused busy "
                      "(%u open)",
                      (unsigned long long)(st.header_expired - was.header_expired),
                      (unsigned long long)(st.body_expired - was.body_expired),
                      (unsigned long long)(st.evicted - was.evicted),
                      (unsigned long long)(st.refused_busy - was.refused_busy), st.open);
            pthread_mutex_lock(&h->lock);
        }
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

void egide_http_stats(egide_http_t *h, egide_http_stats_t *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!h || !h->lock_ok)
        return;
    pthread_mutex_lock(&h->lock);
    *out = h->st;
    pthread_mutex_unlock(&h->lock);
}

/* Reserve n more bytes of the overall body budget for r; false when full. */
static bool s_reserve(egide_http_t *h, s_req_t *r, size_t n)
{
    size_t cur = atomic_load(&h->body_used);
    do {
        if (n > h->body_total || cur > h->body_total - n)
            return false;
    } while (!atomic_compare_exchange_weak(&h->body_used, &cur, cur + n));
    r->reserved += n;
    return true;
}

static void *s_on_uri(void *cls, const char *uri, struct MHD_Connection *con)
{
    egide_http_t *h = cls;
    /* libmicrohttpd 0.9.75 forgets to report the end of a request whose
     * cookies overflow its pool: the connection owns the request's context,
     * so that one still left at the next request or at the close is freed. */
    s_conn_t *c = s_conn_of(con);
    if (c) {
        s_req_free(h, c->req);
        c->req = NULL;
    }
    s_req_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    egide_buf_init(&r->body, h->max_body + 1);
    size_t ulen = uri ? strlen(uri) : 0;
    if (ulen > EGIDE_HTTP_MAX_URI)
        r->uri_too_long = true;
    for (size_t i = 0; i < ulen && !r->bad_target; i++) {
        unsigned char b = (unsigned char)uri[i];
        r->bad_target = b <= 0x20 || b == 0x7f;
    }
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
    /* libmicrohttpd 0.9.75 goes on to split the query into its connection's
     * memory pool; when the pool runs out (a few hundred parameters) it
     * queues a 431 and then, ignoring its own failure, waits for headers it
     * has just discarded: the client gets nothing until the idle timeout.
     * We never use its copy (handlers get the raw query kept above), so the
     * query is ended right after the '?' in its buffer, which it then splits
     * into nothing.  The buffer is libmicrohttpd's own writable read buffer;
     * only the const of the callback's prototype is cast away. */
    char *mq = uri ? strchr((char *)(uintptr_t)uri, '?') : NULL;
    if (mq && mq[1] != '\0')
        mq[1] = '\0';
    if (c)
        c->req = r;
    return r;
}

static void s_on_completed(void *cls, struct MHD_Connection *con, void **req_cls,
                           enum MHD_RequestTerminationCode toe)
{
    egide_http_t *h = cls;
    (void)toe;
    /* A kept-alive connection's next request starts now. */
    s_set_phase(h, con, S_HEAD, true);
    s_req_t *r = req_cls ? *req_cls : NULL;
    if (!r)
        return;
    s_conn_t *c = s_conn_of(con);
    if (c && c->req == r)
        c->req = NULL;
    s_req_free(h, r);
    *req_cls = NULL;
}

/* Fill a handler-less response with the default problem for its status. */
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
    case 411:
        egide_http_error(resp, 411, EGIDE_ERR_INVALID,
                         "Content-Length required (chunked request bodies are not accepted)");
        break;
    case 413:
        egide_http_error(resp, 413, EGIDE_ERR_LIMIT, "request body too large");
        break;
    case 414:
        egide_http_error(resp, 414, EGIDE_ERR_LIMIT, "request target too long");
        break;
    case 431:
        egide_http_error(resp, 431, EGIDE_ERR_LIMIT, "request header fields too large");
        break;
    case 503:
        egide_http_error(resp, 503, EGIDE_ERR_STATE, "service unavailable, retry later");
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

/* close_after: "Connection: close", so libmicrohttpd closes the connection
 * once the answer is written.  Given to every answer the wrapper makes itself
 * (refusals) and to every answer to an unauthenticated request: such a
 * connection cannot then pipeline requests it never reads the answers of,
 * which would pin its slot out of reach of eviction until the idle timeout. */
static enum MHD_Result s_send(struct MHD_Connection *con, egide_http_resp_t *resp,
                              const char *www_auth, const char *retry_after, bool close_after)
{
    if (resp->status < 200 || resp->status > 599) {
        free(resp->body);
        resp->body = NULL;
        resp->status = 500;
    }
    if (!resp->body)
        s_default_body(resp);
    /* Every 503 is transient (busy, stopping, the store or the key holder
     * away): tell the client when to retry, the handlers' answers too. */
    if (!retry_after && resp->status == 503)
        retry_after = "1";
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
    if (!mr) {
        free(resp->set_cookie);
        resp->set_cookie = NULL;
        return MHD_NO;
    }
    bool ok = MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
                                      resp->content_type ? resp->content_type : s_json) &&
              MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") &&
              MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff") &&
              MHD_add_response_header(mr, "X-Frame-Options", "DENY") &&
              MHD_add_response_header(mr, "Referrer-Policy", "no-referrer") &&
              MHD_add_response_header(mr, "Content-Security-Policy", EGIDE_HTTP_CSP);
    if (ok && resp->set_cookie)
        ok = MHD_add_response_header(mr, MHD_HTTP_HEADER_SET_COOKIE, resp->set_cookie);
    if (ok && resp->allow)
        ok = MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, resp->allow);
    free(resp->set_cookie);
    resp->set_cookie = NULL;
    if (ok && www_auth)
        ok = MHD_add_response_header(mr, MHD_HTTP_HEADER_WWW_AUTHENTICATE, www_auth);
    if (ok && retry_after)
        ok = MHD_add_response_header(mr, MHD_HTTP_HEADER_RETRY_AFTER, retry_after);
    if (ok && close_after)
        ok = MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = ok ? MHD_queue_response(con, (unsigned)resp->status, mr) : MHD_NO;
    MHD_destroy_response(mr);
    return ret;
}

/* An answer from the wrapper itself; the request needs no deadline after. */
static enum MHD_Result s_send_status(egide_http_t *h, struct MHD_Connection *con, int status,
                                     const char *www_auth)
{
    s_set_phase(h, con, S_DONE, false);
    egide_http_resp_t resp = {.status = status, .content_type = s_json};
    return s_send(con, &resp, www_auth, NULL, true);
}

/* 503 with Retry-After: the overall body budget is spent. */
static enum MHD_Result s_send_busy(egide_http_t *h, struct MHD_Connection *con)
{
    s_set_phase(h, con, S_DONE, false);
    pthread_mutex_lock(&h->lock);
    h->st.refused_busy++;
    pthread_mutex_unlock(&h->lock);
    egide_http_resp_t resp = {.status = 503, .content_type = s_json};
    egide_http_error(&resp, 503, EGIDE_ERR_LIMIT, "server busy, retry later");
    return s_send(con, &resp, NULL, "1", true);
}

/* What the header check found. */
typedef struct s_hdr_scan {
    bool bad;            /* a malformed field name or value */
    unsigned n_length;   /* Content-Length fields */
    unsigned n_encoding; /* Transfer-Encoding fields */
    bool chunked;        /* the Transfer-Encoding is exactly "chunked" */
} s_hdr_scan_t;

static bool s_is_tchar(unsigned char c)
{
    return c > 0x20 && c < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", c);
}

static enum MHD_Result s_hdr_check(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    s_hdr_scan_t *sc = cls;
    if (!key || !*key) {
        sc->bad = true;
        return MHD_NO;
    }
    for (const char *k = key; *k; k++)
        if (!s_is_tchar((unsigned char)*k))
            sc->bad = true;
    for (const char *v = value ? value : ""; *v; v++) {
        unsigned char c = (unsigned char)*v;
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            sc->bad = true;
    }
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
        sc->n_length++;
    if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        sc->n_encoding++;
        sc->chunked = value && strcasecmp(value, "chunked") == 0;
    }
    return sc->bad ? MHD_NO : MHD_YES;
}

static bool s_is_public(const egide_http_t *h, const char *path)
{
    for (size_t i = 0; h->public_paths && h->public_paths[i]; i++)
        if (strcmp(h->public_paths[i], path) == 0)
            return true;
    return false;
}

/* A request without an Authorization header whose session cookie the
 * session callback accepts.  (A request with both is judged by its token.) */
static bool s_session_ok(const egide_http_t *h, struct MHD_Connection *con)
{
    if (!h->session_cookie || !h->sfn ||
        MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION))
        return false;
    const char *v = MHD_lookup_connection_value(con, MHD_COOKIE_KIND, h->session_cookie);
    return v && h->sfn(v, h->session_arg);
}

/* The client's address as text into out ("" when unknown). */
/* The request came with the bearer token or an accepted session: its
 * answer may keep the connection open (unauthenticated ones close it). */
static bool s_authenticated(const s_req_t *r)
{
    return r->auth_as && (strcmp(r->auth_as, "token") == 0 || strcmp(r->auth_as, "session") == 0);
}

static void s_client_addr(struct MHD_Connection *con, char *out, size_t outsz)
{
    out[0] = '\0';
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (!sa)
        return;
    const void *a =
        sa->sa_family == AF_INET    ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
        : sa->sa_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                                    : NULL;
    if (!a || !inet_ntop(sa->sa_family, a, out, (socklen_t)outsz))
        out[0] = '\0';
}

/* 0: authenticated; 1: no credentials; 2: wrong credentials. */
static int s_check_token(egide_http_t *h, struct MHD_Connection *con)
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
    pthread_mutex_lock(&h->token_lock);
    bool ok = egide_ct_equal(d, h->token_digest, sizeof d);
    pthread_mutex_unlock(&h->token_lock);
    egide_wipe(d, sizeof d);
    return ok ? 0 : 2;
}

egide_rc egide_http_set_token(egide_http_t *h, const char *token)
{
    if (!h || !token || !h->has_token)
        return EGIDE_ERR_INVALID;
    if (!egide_token_valid(token, strlen(token)))
        return EGIDE_ERR_CONFIG;
    uint8_t d[32];
    egide_sha256(token, strlen(token), d);
    pthread_mutex_lock(&h->token_lock);
    memcpy(h->token_digest, d, sizeof d);
    pthread_mutex_unlock(&h->token_lock);
    egide_wipe(d, sizeof d);
    return EGIDE_OK;
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
        s_set_phase(h, con, S_ANON, false);
        if (r->uri_too_long)
            return s_send_status(h, con, 414, NULL);
        /* Malformed requests are refused before authentication: they say
         * nothing about the client but that it is broken or probing.  One
         * Content-Length, or one "Transfer-Encoding: chunked" and no
         * Content-Length, as RFC 9112 section 6 asks of a server that wants
         * no request smuggling. */
        s_hdr_scan_t sc = {0};
        (void)MHD_get_connection_values(con, MHD_HEADER_KIND, s_hdr_check, &sc);
        if (r->bad_target || sc.bad || sc.n_length > 1 || sc.n_encoding > 1 ||
            (sc.n_encoding && (!sc.chunked || sc.n_length)))
            return s_send_status(h, con, 400, NULL);
        /* libmicrohttpd 0.9.75 can answer only before a body or after all
         * of it, and never shows us a chunk's size: a chunk of 2^64-1 bytes
         * could only be cut off by a deadline, so by default a body must
         * announce its length. */
        if (sc.n_encoding && !h->allow_chunked)
            return s_send_status(h, con, 411, NULL);
        if (s_is_public(h, url)) {
            r->auth_as = NULL;
        } else if (s_session_ok(h, con)) {
            r->auth_as = "session";
            s_set_phase(h, con, S_BODY, false);
        } else if (h->has_token) {
            int a = s_check_token(h, con);
            if (a != 0) {
                char path[128], meth[32];
                if (s_log_allowed(&s_rl_auth))
                    egide_log(EGIDE_LOG_NOTICE, "http: %s %s: %s bearer token",
                              egide_sanitize(method, strlen(method), meth, sizeof meth),
                              egide_sanitize(url, strlen(url), path, sizeof path),
                              a == 1 ? "missing" : "wrong");
                return s_send_status(h, con, 401,
                                     a == 1 ? "Bearer realm=\"egide\""
                                            : "Bearer realm=\"egide\", error=\"invalid_token\"");
            }
            r->auth_as = "token";
            s_set_phase(h, con, S_BODY, false);
        } else {
            r->auth_as = "none";
        }
        const char *cl =
            MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            int64_t n = 0;
            if (egide_parse_int64(cl, 0, INT64_MAX, &n) != EGIDE_OK)
                return s_send_status(h, con, 400, NULL);
            if ((uint64_t)n > h->max_body)
                return s_send_status(h, con, 413, NULL);
            /* The body plus its NUL, reserved before a byte is read. */
            if (!s_reserve(h, r, (size_t)n + 1))
                return s_send_busy(h, con);
        }
        return MHD_YES;
    }

    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->too_large || r->busy) {
            /* Discard the rest and answer at the end, but only so much:
             * libmicrohttpd cannot answer before the body is complete, and
             * a chunked body may never end (chunk size 2^64-1). */
            r->discarded += n;
            return r->discarded > EGIDE_HTTP_DISCARD_MAX ? MHD_NO : MHD_YES;
        }
        if (n > h->max_body - r->body.len) {
            r->too_large = true;
            r->discarded = n;
            egide_buf_free_secret(&r->body);
            return MHD_YES;
        }
        /* Chunked bodies reserve as they grow (the NUL included). */
        size_t need = r->body.len + n + 1;
        if (need > r->reserved && !s_reserve(h, r, need - r->reserved)) {
            r->busy = true;
            r->discarded = n;
            egide_buf_free_secret(&r->body);
            return MHD_YES;
        }
        if (egide_buf_append(&r->body, upload_data, n) != EGIDE_OK)
            return MHD_NO;
        return MHD_YES;
    }

    if (r->job == S_JOB_DONE) {
        /* Resumed by the worker that ran the handler: send its answer. */
        s_log_answer(&r->hreq, r->resp.status);
        return s_send(con, &r->resp, NULL, NULL, !s_authenticated(r));
    }
    s_set_phase(h, con, S_DONE, false);
    if (r->too_large)
        return s_send_status(h, con, 413, NULL);
    if (r->busy)
        return s_send_busy(h, con);
    /* NUL-terminate for the handler's convenience (the cap has room). */
    if (egide_buf_append(&r->body, "", 1) != EGIDE_OK)
        return MHD_NO;
    r->body.len--;

    r->hreq = (egide_http_req_t){
        .method = method,
        .path = url,
        .query = r->query,
        .body = r->body.data ? r->body.data : (const uint8_t *)"",
        .body_len = r->body.len,
        .authenticated_as = r->auth_as,
        .content_type =
            MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
        .session = h->session_cookie
                       ? MHD_lookup_connection_value(con, MHD_COOKIE_KIND, h->session_cookie)
                       : NULL,
        .csrf = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "X-CSRF-Token"),
        .client_addr = r->addr,
    };
    s_client_addr(con, r->addr, sizeof r->addr);
    r->resp = (egide_http_resp_t){.status = 500, .content_type = s_json};
    if (h->nworkers) {
        int q = s_enqueue(h, con, r);
        if (q == 0)
            return MHD_YES; /* suspended: the worker resumes it with the answer */
        /* Stopping: no worker will run it. */
        egide_http_error(&r->resp, 503, EGIDE_ERR_STATE, "server stopping, retry later");
        return s_send(con, &r->resp, NULL, "1", true);
    }
    h->fn(&r->hreq, &r->resp, h->arg);
    s_log_answer(&r->hreq, r->resp.status);
    return s_send(con, &r->resp, NULL, NULL, !s_authenticated(r));
}

/* ---- handler workers -------------------------------------------------- */

static void s_log_answer(const egide_http_req_t *req, int status)
{
    char path[128], meth[32];
    egide_log(EGIDE_LOG_DEBUG, "http: %s %s -> %d",
              egide_sanitize(req->method, strlen(req->method), meth, sizeof meth),
              egide_sanitize(req->path, strlen(req->path), path, sizeof path), status);
}

static bool s_is_express(const egide_http_t *h, const char *path)
{
    for (size_t i = 0; h->express_paths && h->express_paths[i]; i++)
        if (strcmp(h->express_paths[i], path) == 0)
            return true;
    return false;
}

/* Suspend con and queue r for a worker (on libmicrohttpd's thread).  The
 * connection is suspended before the job is visible to any worker: a
 * resume must never come before its suspend.  0 when queued, -1 when the
 * server is stopping (nothing suspended). */
static int s_enqueue(egide_http_t *h, struct MHD_Connection *con, s_req_t *r)
{
    pthread_mutex_lock(&h->qlock);
    if (h->qstop) {
        pthread_mutex_unlock(&h->qlock);
        return -1;
    }
    pthread_mutex_lock(&h->lock);
    h->st.queued++;
    h->inflight++;
    pthread_mutex_unlock(&h->lock);
    MHD_suspend_connection(con);
    r->con = con;
    r->job = S_JOB_QUEUED;
    r->qnext = NULL;
    bool x = s_is_express(h, r->hreq.path);
    s_req_t **head = x ? &h->xq_head : &h->q_head, **tail = x ? &h->xq_tail : &h->q_tail;
    if (*tail)
        (*tail)->qnext = r;
    else
        *head = r;
    *tail = r;
    pthread_cond_broadcast(&h->qwake);
    pthread_mutex_unlock(&h->qlock);
    return 0;
}

static s_req_t *s_pop(s_req_t **head, s_req_t **tail)
{
    s_req_t *r = *head;
    if (r) {
        *head = r->qnext;
        if (!*head)
            *tail = NULL;
        r->qnext = NULL;
    }
    return r;
}

/* A worker: take a job (the express worker only from the express queue,
 * a pool worker from the pool's, then the express one), run the handler,
 * resume the connection.  After MHD_resume_connection the job belongs to
 * libmicrohttpd's thread again and is not touched.  At stop the queues
 * are drained with 503s, so that every suspended connection is resumed
 * before MHD_stop_daemon (which requires it). */
static _Thread_local unsigned s_worker_index; /* egide_http_worker() */

unsigned egide_http_worker(void)
{
    return s_worker_index;
}

static void *s_worker_main(void *arg)
{
    s_worker_t *w = arg;
    egide_http_t *h = w->h;
    s_worker_index = w->index;
    pthread_mutex_lock(&h->qlock);
    for (;;) {
        s_req_t *r = w->express ? NULL : s_pop(&h->q_head, &h->q_tail);
        if (!r)
            r = s_pop(&h->xq_head, &h->xq_tail);
        if (!r) {
            if (h->qstop)
                break;
            pthread_cond_wait(&h->qwake, &h->qlock);
            continue;
        }
        bool stopping = h->qstop;
        pthread_mutex_unlock(&h->qlock);
        if (stopping) {
            egide_http_error(&r->resp, 503, EGIDE_ERR_STATE, "server stopping, retry later");
        } else {
            h->fn(&r->hreq, &r->resp, h->arg);
        }
        struct MHD_Connection *con = r->con;
        r->job = S_JOB_DONE;
        pthread_mutex_lock(&h->lock);
        h->st.answered++;
        pthread_mutex_unlock(&h->lock);
        MHD_resume_connection(con);
        pthread_mutex_lock(&h->qlock);
    }
    pthread_mutex_unlock(&h->qlock);
    return NULL;
}

/* Stop the workers: drain the queues (503), join.  Idempotent. */
static void s_workers_stop(egide_http_t *h)
{
    if (!h->q_ok)
        return;
    pthread_mutex_lock(&h->qlock);
    h->qstop = true;
    pthread_cond_broadcast(&h->qwake);
    pthread_mutex_unlock(&h->qlock);
    pthread_mutex_lock(&h->lock);
    h->st.stopping = true;
    pthread_mutex_unlock(&h->lock);
    for (unsigned i = 0; i < h->nstarted; i++)
        pthread_join(h->workers[i].thread, NULL);
    h->nstarted = 0;
    /* Every job is resumed now; give the polling thread the time to write
     * their answers (bounded: a client that reads nothing is dropped). */
    pthread_mutex_lock(&h->lock);
    int64_t end = egide_mono_ms() + EGIDE_HTTP_STOP_DRAIN_MS;
    for (int i = 0; i < 1000 && h->inflight && egide_mono_ms() < end; i++) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 10 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        (void)pthread_cond_timedwait(&h->drained, &h->lock, &ts);
    }
    pthread_mutex_unlock(&h->lock);
}

/* ---- start / stop --------------------------------------------------- */

/* A NULL-terminated copy of paths (NULL stays NULL; at most 1024 kept). */
static egide_rc s_copy_paths(const char *const *paths, char ***out)
{
    *out = NULL;
    if (!paths)
        return EGIDE_OK;
    size_t n = 0;
    while (n < 1024 && paths[n])
        n++;
    char **p = calloc(n + 1, sizeof *p);
    if (!p)
        return EGIDE_ERR_NOMEM;
    *out = p;
    for (size_t i = 0; i < n; i++)
        if (!(p[i] = s_strdup(paths[i])))
            return EGIDE_ERR_NOMEM; /* the caller frees what was copied */
    return EGIDE_OK;
}

static void s_free(egide_http_t *h)
{
    if (!h)
        return;
    for (size_t i = 0; h->public_paths && h->public_paths[i]; i++)
        free(h->public_paths[i]);
    free(h->public_paths);
    free(h->session_cookie);
    free(h->tls_cert);
    if (h->tls_key) {
        egide_wipe(h->tls_key, strlen(h->tls_key));
        free(h->tls_key);
    }
    for (size_t i = 0; h->express_paths && h->express_paths[i]; i++)
        free(h->express_paths[i]);
    free(h->express_paths);
    free(h->workers);
    if (h->q_ok) {
        pthread_cond_destroy(&h->qwake);
        pthread_mutex_destroy(&h->qlock);
    }
    egide_wipe(h->token_digest, sizeof h->token_digest);
    pthread_mutex_destroy(&h->token_lock);
    if (h->drained_ok)
        pthread_cond_destroy(&h->drained);
    if (h->lock_ok) {
        pthread_cond_destroy(&h->wake);
        pthread_mutex_destroy(&h->lock);
    }
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
    if (pthread_mutex_init(&h->token_lock, NULL) != 0) {
        free(h);
        return EGIDE_ERR_NOMEM;
    }
    h->fn = fn;
    h->arg = arg;
    h->max_body = cfg->max_body ? cfg->max_body : EGIDE_MAX_JSON_BODY;
    if (h->max_body > EGIDE_MAX_JSON_BODY)
        h->max_body = EGIDE_MAX_JSON_BODY;
    h->allow_chunked = cfg->allow_chunked;
    if (cfg->token) {
        h->has_token = true;
        egide_sha256(cfg->token, strlen(cfg->token), h->token_digest);
    }
    if (s_copy_paths(cfg->public_paths, &h->public_paths) ||
        s_copy_paths(cfg->express_paths, &h->express_paths)) {
        s_free(h);
        return EGIDE_ERR_NOMEM;
    }

    if (cfg->session_cookie && cfg->session_fn) {
        h->session_cookie = s_strdup(cfg->session_cookie);
        if (!h->session_cookie) {
            s_free(h);
            return EGIDE_ERR_NOMEM;
        }
        h->sfn = cfg->session_fn;
        h->session_arg = cfg->session_arg;
    }

    size_t body_total = cfg->max_body_total;
    if (!body_total) {
        body_total = h->max_body <= SIZE_MAX / 4 ? 4 * h->max_body : SIZE_MAX;
        if (body_total < EGIDE_HTTP_MIN_BODY_TOTAL)
            body_total = EGIDE_HTTP_MIN_BODY_TOTAL;
    }
    /* A budget smaller than one request would refuse every large one. */
    if (body_total <= h->max_body)
        body_total = h->max_body + 1;
    h->body_total = body_total;
    atomic_init(&h->body_used, 0);
    unsigned header_s =
        cfg->header_timeout_s ? cfg->header_timeout_s : EGIDE_HTTP_DEFAULT_HEADER_TIMEOUT_S;
    unsigned body_s = cfg->body_timeout_s ? cfg->body_timeout_s : EGIDE_HTTP_DEFAULT_BODY_TIMEOUT_S;
    if (body_s < header_s)
        body_s = header_s;
    h->header_ms = (int64_t)header_s * 1000;
    h->body_ms = (int64_t)body_s * 1000;
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0) {
        s_free(h);
        return EGIDE_ERR_NOMEM;
    }
    (void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (pthread_mutex_init(&h->lock, NULL) != 0) {
        pthread_condattr_destroy(&ca);
        s_free(h);
        return EGIDE_ERR_NOMEM;
    }
    if (pthread_cond_init(&h->wake, &ca) != 0) {
        pthread_condattr_destroy(&ca);
        pthread_mutex_destroy(&h->lock);
        s_free(h);
        return EGIDE_ERR_NOMEM;
    }
    h->lock_ok = true;
    if (pthread_cond_init(&h->drained, &ca) != 0) {
        pthread_condattr_destroy(&ca);
        s_free(h);
        return EGIDE_ERR_NOMEM;
    }
    pthread_condattr_destroy(&ca);
    h->drained_ok = true;

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (v6)
        flags |= MHD_USE_IPv6;
    unsigned maxconn =
        cfg->max_connections ? cfg->max_connections : EGIDE_HTTP_DEFAULT_MAX_CONNECTIONS;
    h->max_conns = maxconn;
    unsigned timeout = cfg->timeout_s ? cfg->timeout_s : EGIDE_HTTP_DEFAULT_TIMEOUT_S;
    unsigned threads = cfg->threads > 1 ? cfg->threads : 1;
    if (threads > EGIDE_HTTP_MAX_THREADS)
        threads = EGIDE_HTTP_MAX_THREADS;
    if (threads > 1) {
        /* Handlers on workers of our own, libmicrohttpd's one thread
         * suspending each connection meanwhile (see s_worker_main). */
        h->workers = calloc(threads + 1, sizeof *h->workers);
        if (!h->workers || pthread_mutex_init(&h->qlock, NULL) != 0) {
            s_free(h);
            return EGIDE_ERR_NOMEM;
        }
        if (pthread_cond_init(&h->qwake, NULL) != 0) {
            pthread_mutex_destroy(&h->qlock);
            s_free(h);
            return EGIDE_ERR_NOMEM;
        }
        h->q_ok = true;
        h->nworkers = threads;
        flags |= MHD_ALLOW_SUSPEND_RESUME;
    }
    unsigned per_ip = cfg->max_per_client;
    if (!per_ip && !loopback)
        per_ip = EGIDE_HTTP_DEFAULT_MAX_PER_CLIENT;
    const struct sockaddr *sa = v6 ? (const struct sockaddr *)&sin6 : (const struct sockaddr *)&sin;

    bool tls = cfg->tls_cert_pem || cfg->tls_key_pem;
    if (tls) {
        if (!cfg->tls_cert_pem || !cfg->tls_key_pem || !*cfg->tls_cert_pem || !*cfg->tls_key_pem) {
            egide_log(EGIDE_LOG_ERROR, "http: TLS needs both a certificate and its key");
            s_free(h);
            return EGIDE_ERR_INVALID;
        }
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            egide_log(EGIDE_LOG_ERROR, "http: this libmicrohttpd has no TLS support");
            s_free(h);
            return EGIDE_ERR_STATE;
        }
        h->tls_cert = strdup(cfg->tls_cert_pem);
        h->tls_key = strdup(cfg->tls_key_pem);
        if (!h->tls_cert || !h->tls_key) {
            s_free(h);
            return EGIDE_ERR_NOMEM;
        }
        flags |= MHD_USE_TLS;
    }
    struct MHD_OptionItem opts[24];
    size_t no = 0;
#define S_OPT(o, v, p) (opts[no++] = (struct MHD_OptionItem){(o), (intptr_t)(v), (p)})
    S_OPT(MHD_OPTION_SOCK_ADDR, 0, (void *)(uintptr_t)sa);
    S_OPT(MHD_OPTION_CONNECTION_LIMIT, maxconn, NULL);
    S_OPT(MHD_OPTION_CONNECTION_TIMEOUT, timeout, NULL);
    S_OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, EGIDE_HTTP_CONN_MEMORY, NULL);
    S_OPT(MHD_OPTION_LISTEN_BACKLOG_SIZE, EGIDE_HTTP_LISTEN_BACKLOG, NULL);
    /* Host required on HTTP/1.1, no spaces inside the request target. */
    S_OPT(MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL);
    if (per_ip)
        S_OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip, NULL);
    S_OPT(MHD_OPTION_NOTIFY_CONNECTION, s_on_connection, h);
    S_OPT(MHD_OPTION_URI_LOG_CALLBACK, s_on_uri, h);
    S_OPT(MHD_OPTION_NOTIFY_COMPLETED, s_on_completed, h);
    if (tls) {
        S_OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert);
        S_OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key);
        S_OPT(MHD_OPTION_HTTPS_PRIORITIES, 0,
              (void *)(uintptr_t) "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2");
    }
    S_OPT(MHD_OPTION_END, 0, NULL);
#undef S_OPT
    h->d =
        MHD_start_daemon(flags, cfg->port, NULL, NULL, s_on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
                         s_mhd_log, h, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!h->d) {
        char a[64];
        egide_log(EGIDE_LOG_ERROR, "http: cannot listen on %s port %u",
                  egide_sanitize(addr, strlen(addr), a, sizeof a), (unsigned)cfg->port);
        s_free(h);
        return EGIDE_ERR_IO;
    }
    if (pthread_create(&h->watchdog, NULL, s_watchdog, h) != 0) {
        egide_log(EGIDE_LOG_ERROR, "http: cannot start the connection watchdog");
        MHD_stop_daemon(h->d);
        h->d = NULL;
        s_free(h);
        return EGIDE_ERR_NOMEM;
    }
    h->watchdog_ok = true;
    for (unsigned i = 0; h->nworkers && i <= h->nworkers; i++) {
        s_worker_t *w = &h->workers[i];
        *w = (s_worker_t){.h = h, .index = i, .express = i == h->nworkers};
        if (pthread_create(&w->thread, NULL, s_worker_main, w) != 0) {
            egide_log(EGIDE_LOG_ERROR, "http: cannot start the handler workers");
            egide_http_t *hp = h;
            egide_http_stop(&hp);
            return EGIDE_ERR_NOMEM;
        }
        h->nstarted++;
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
    /* The watchdog first, so nothing shuts sockets down while
     * libmicrohttpd closes them. */
    if (h->watchdog_ok) {
        pthread_mutex_lock(&h->lock);
        h->stopping = true;
        pthread_cond_signal(&h->wake);
        pthread_mutex_unlock(&h->lock);
        pthread_join(h->watchdog, NULL);
        h->watchdog_ok = false;
    }
    /* Then the workers: every suspended connection is resumed before
     * libmicrohttpd stops (it requires that). */
    s_workers_stop(h);
    if (h->d)
        MHD_stop_daemon(h->d);
    h->d = NULL;
    s_free(h);
    *self_p = NULL;
}
