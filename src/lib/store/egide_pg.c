/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_pg.c - the libpq side of the PostgreSQL store backends (see
 * egide_pg.h): connection, reconnection after a loss, statements prepared
 * lazily once per server session, parameters from a format string, the
 * transaction calls with a checked COMMIT, migrations recorded in
 * schema_version, and PostgreSQL errors turned into an egide_rc and one log
 * line at this boundary.
 *
 * Reconnection: a lost connection is noticed on the call that fails (libpq
 * reports CONNECTION_BAD, or the server sends a class 08 / 57P0x error).
 * Inside a transaction nothing can be saved: calls fail until the caller's
 * rollback.  Outside one, the next call reconnects once (PQreset, or with
 * a wait hook a new PQconnectdb on a thread of its own; both try every host
 * of the conninfo) and, when it works, starts a new session generation, so
 * that every statement is prepared again before its use.
 *
 * Waiting (egide_pg_set_wait): with a hook, statements go out through
 * PQsend* on a non-blocking connection and their answers are awaited
 * through the hook, so the caller's loop polls libpq's socket.
 */
#include "egide/store/egide_pg.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"

#define S_MAX_PARAMS 16

/* Invariants: conn is never NULL; gen counts the server sessions (it
 * starts at 1, so a statement's gen of 0 means never prepared); txn is set
 * between our BEGIN and its COMMIT or ROLLBACK, whatever happened to the
 * connection meanwhile; down is set while the server is unreachable, so
 * that the loss is logged once and the return logged once. */
struct egide_pg {
    PGconn *conn;          /* the connection (owned) */
    char *conninfo;        /* as given (owned) */
    bool reader;           /* READ ONLY session */
    bool txn;              /* a transaction block of ours is open */
    bool down;             /* the last attempt to reach the server failed */
    uint64_t gen;          /* session generation */
    char state[6];         /* SQLSTATE of the last failure, "" */
    bool broken;           /* up for libpq, but in a state we cannot trust: reconnect */
    egide_pg_wait_fn wait; /* NULL: libpq's blocking calls */
    void *wait_arg;
    uint64_t waits; /* calls of wait */
};

/* ------------------------------------------------------------ errors */

/* Copy s into out with control characters replaced (for one log line). */
static void s_clean(const char *s, char *out, size_t size)
{
    size_t i = 0;
    for (; s && s[i] && i + 1 < size; i++)
        out[i] = (unsigned char)s[i] < 0x20 ? ' ' : s[i];
    out[i] = '\0';
    while (i > 0 && out[i - 1] == ' ')
        out[--i] = '\0';
}

static void s_quiet_notice(void *arg, const char *message)
{
    (void)arg;
    char m[256];
    s_clean(message, m, sizeof m);
    egide_log(EGIDE_LOG_DEBUG, "postgresql: %s", m);
}

/* Whether the connection is gone (libpq's view or the server's SQLSTATE). */
static bool s_lost(const egide_pg_t *p, const char *sqlstate)
{
    if (PQstatus(p->conn) != CONNECTION_OK || p->broken)
        return true;
    return sqlstate && (strncmp(sqlstate, "08", 2) == 0 || strcmp(sqlstate, "57P01") == 0 ||
                        strcmp(sqlstate, "57P02") == 0 || strcmp(sqlstate, "57P03") == 0);
}

/* The egide_rc of a result (NULL: libpq could not even send), logged once
 * with the SQLSTATE and the primary message, never the DETAIL. */
static egide_rc s_rc(egide_pg_t *p, const PGresult *res, const char *what)
{
    ExecStatusType es = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    p->state[0] = '\0';
    if (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK)
        return EGIDE_OK;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state)
        egide_strlcpy(p->state, state, sizeof p->state);
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char m[256];
    s_clean(msg ? msg : PQerrorMessage(p->conn), m, sizeof m);
    if (s_lost(p, state)) {
        if (!p->down)
            egide_log(EGIDE_LOG_ERROR, "postgresql: %s: connection lost (%s)%s", what,
                      state ? state : "no SQLSTATE", p->txn ? "; the transaction is gone" : "");
        p->down = true;
        return EGIDE_ERR_DB;
    }
    if (state && strcmp(state, "23505") == 0) {
        egide_log(EGIDE_LOG_INFO, "postgresql: %s: %s", what, m);
        return EGIDE_ERR_EXISTS;
    }
    egide_log(EGIDE_LOG_ERROR, "postgresql: %s: %s %s", what, state ? state : "-", m);
    return EGIDE_ERR_DB;
}

/* ------------------------------------------------------------ waiting */

/* With a wait hook: send the query already queued by a PQsend* call (which
 * returned ok), then collect its results, waiting through the hook, as
 * PQexec does (the last result, or the first error, is returned; NULL when
 * the connection broke and libpq has no result to give). */
static PGresult *s_collect(egide_pg_t *p, int sent)
{
    if (!sent)
        return NULL;
    int fd = PQsocket(p->conn);
    for (;;) { /* the query out: wait for writable or readable (libpq's rule) */
        int f = PQflush(p->conn);
        if (f == 0)
            break;
        bool ok = f > 0 && fd >= 0;
        if (ok) {
            p->waits++;
            p->wait(p->wait_arg, fd, true, EGIDE_PG_WAIT_MS);
            ok = PQconsumeInput(p->conn) != 0;
        }
        if (!ok) {
            p->broken = true; /* a command may be half sent: this session is done */
            return NULL;
        }
    }
    PGresult *keep = NULL;
    for (;;) {
        while (PQisBusy(p->conn)) {
            p->waits++;
            p->wait(p->wait_arg, fd, false, EGIDE_PG_WAIT_MS);
            if (!PQconsumeInput(p->conn)) {
                /* broken, or out of memory with the connection up: either
                 * way PQgetResult would block or lie; reconnect */
                p->broken = true;
                PQclear(keep);
                return NULL;
            }
        }
        PGresult *r = PQgetResult(p->conn);
        if (!r)
            break;
        if (keep && PQresultStatus(keep) == PGRES_FATAL_ERROR) {
            PQclear(r); /* the first error stands, with its SQLSTATE */
            continue;
        }
        PQclear(keep);
        keep = r;
    }
    return keep;
}

static PGresult *s_exec(egide_pg_t *p, const char *sql)
{
    if (!p->wait)
        return PQexec(p->conn, sql);
    return s_collect(p, PQsendQuery(p->conn, sql));
}

static PGresult *s_prepare(egide_pg_t *p, const egide_pg_stmt_t *st)
{
    if (!p->wait)
        return PQprepare(p->conn, st->name, st->sql, 0, NULL);
    return s_collect(p, PQsendPrepare(p->conn, st->name, st->sql, 0, NULL));
}

static PGresult *s_exec_prepared(egide_pg_t *p, const char *name, int n, const char *const *vals,
                                 const int *lens, const int *fmts)
{
    if (!p->wait)
        return PQexecPrepared(p->conn, name, n, vals, lens, fmts, 1);
    return s_collect(p, PQsendQueryPrepared(p->conn, name, n, vals, lens, fmts, 1));
}

void egide_pg_set_wait(egide_pg_t *p, egide_pg_wait_fn fn, void *arg)
{
    if (!p)
        return;
    p->wait = fn;
    p->wait_arg = arg;
    /* a PQsend* must never block on a full socket: libpq's blocking calls
     * (PQexec, PQreset's session settings) ignore this and still block */
    if (PQsetnonblocking(p->conn, fn ? 1 : 0) != 0)
        egide_log(EGIDE_LOG_WARNING, "postgresql: cannot change the connection's blocking mode");
}

uint64_t egide_pg_waits(const egide_pg_t *p)
{
    return p ? p->waits : 0;
}

/* ------------------------------------------------------------ sessions */

/* What every new session runs. */
static egide_rc s_session(egide_pg_t *p)
{
    PQsetNoticeProcessor(p->conn, s_quiet_notice, NULL);
    if (PQsetClientEncoding(p->conn, "UTF8") != 0) {
        egide_log(EGIDE_LOG_ERROR, "postgresql: cannot use UTF8 as the client encoding");
        return EGIDE_ERR_DB;
    }
    const char *sql = p->reader ? "SET client_min_messages = warning;"
                                  " SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"
                                : "SET client_min_messages = warning";
    PGresult *r = PQexec(p->conn, sql);
    egide_rc rc = s_rc(p, r, "session settings");
    if (p->wait && PQsetnonblocking(p->conn, 1) != 0)
        rc = EGIDE_ERR_DB;
    PQclear(r);
    if (rc == EGIDE_OK)
        p->gen++;
    return rc;
}

/* A connection attempt on its own thread, so that the caller's wait hook
 * keeps running: PQconnectdb tries every host of the conninfo, each within
 * connect_timeout, which libpq's polling interface would not do. */
typedef struct {
    const char *conninfo;
    PGconn *conn; /* the attempt's result (NULL: out of memory) */
    int done[2];  /* pipe: written once the attempt is over */
} s_attempt_t;

static void *s_attempt_run(void *arg)
{
    s_attempt_t *a = arg;
    a->conn = PQconnectdb(a->conninfo);
    ssize_t w;
    do
        w = write(a->done[1], "", 1);
    while (w < 0 && errno == EINTR);
    return NULL;
}

/* One reconnection attempt: PQreset without a wait hook; with one, a new
 * connection made on a thread while the hook waits for its pipe (when no
 * thread or pipe can be had, PQreset after all).  p->conn is then the new
 * connection, up or not. */
static void s_reconnect(egide_pg_t *p)
{
    s_attempt_t a = {.conninfo = p->conninfo, .conn = NULL, .done = {-1, -1}};
    pthread_t t;
    if (!p->wait || pipe2(a.done, O_CLOEXEC) != 0) {
        PQreset(p->conn);
        return;
    }
    if (pthread_create(&t, NULL, s_attempt_run, &a) != 0) {
        close(a.done[0]);
        close(a.done[1]);
        PQreset(p->conn);
        return;
    }
    for (;;) {
        struct pollfd pf = {.fd = a.done[0], .events = POLLIN};
        if (poll(&pf, 1, 0) > 0)
            break;
        p->waits++;
        p->wait(p->wait_arg, a.done[0], false, EGIDE_PG_WAIT_MS);
    }
    (void)pthread_join(t, NULL);
    close(a.done[0]);
    close(a.done[1]);
    if (!a.conn)
        return; /* out of memory: the old one stays, still down */
    PQfinish(p->conn);
    p->conn = a.conn;
}

/* Make sure the connection is up before a call: reconnect once when it was
 * lost outside a transaction. */
static egide_rc s_ready(egide_pg_t *p)
{
    if (PQstatus(p->conn) == CONNECTION_OK && !p->broken)
        return EGIDE_OK;
    if (p->txn)
        return EGIDE_ERR_DB; /* gone with its connection: the caller rolls back */
    s_reconnect(p);
    p->broken = false; /* a new connection, or PQreset's */
    if (PQstatus(p->conn) != CONNECTION_OK) {
        if (!p->down) {
            char m[256];
            s_clean(PQerrorMessage(p->conn), m, sizeof m);
            egide_log(EGIDE_LOG_ERROR, "postgresql: cannot reconnect: %s", m);
        }
        p->down = true;
        return EGIDE_ERR_DB;
    }
    egide_rc rc = s_session(p);
    if (rc == EGIDE_OK && p->down)
        egide_log(EGIDE_LOG_NOTICE, "postgresql: connection back");
    if (rc == EGIDE_OK)
        p->down = false;
    else
        p->broken = true; /* a session without its settings: the next call reconnects */
    return rc;
}

uint64_t egide_pg_session(const egide_pg_t *p)
{
    return p ? p->gen : 0;
}

egide_rc egide_pg_open(const char *conninfo, bool reader, egide_pg_t **out)
{
    if (!out)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    if (!conninfo || !conninfo[0])
        return EGIDE_ERR_INVALID;
    egide_pg_t *p = calloc(1, sizeof *p);
    if (!p || !(p->conninfo = strdup(conninfo))) {
        free(p);
        return EGIDE_ERR_NOMEM;
    }
    p->reader = reader;
    p->conn = PQconnectdb(conninfo);
    egide_rc rc = EGIDE_OK;
    if (!p->conn) {
        rc = EGIDE_ERR_NOMEM;
    } else if (PQstatus(p->conn) != CONNECTION_OK) {
        char m[256];
        s_clean(PQerrorMessage(p->conn), m, sizeof m);
        egide_log(EGIDE_LOG_ERROR, "postgresql: cannot connect: %s", m);
        rc = EGIDE_ERR_DB;
    } else {
        rc = s_session(p);
    }
    if (rc != EGIDE_OK) {
        egide_pg_close(&p);
        return rc;
    }
    *out = p;
    return EGIDE_OK;
}

void egide_pg_close(egide_pg_t **p)
{
    if (!p || !*p)
        return;
    if ((*p)->conn)
        PQfinish((*p)->conn);
    free((*p)->conninfo);
    free(*p);
    *p = NULL;
}

const char *egide_pg_conninfo(const egide_pg_t *p)
{
    return p ? p->conninfo : "";
}

bool egide_pg_reader(const egide_pg_t *p)
{
    return p && p->reader;
}

bool egide_pg_in_txn(const egide_pg_t *p)
{
    return p && p->txn;
}

bool egide_pg_up(const egide_pg_t *p)
{
    return p && PQstatus(p->conn) == CONNECTION_OK && !p->down && !p->broken;
}

const char *egide_pg_sqlstate(const egide_pg_t *p)
{
    return p ? p->state : "";
}

/* ------------------------------------------------------------ statements */

egide_rc egide_pg_exec_rows(egide_pg_t *p, const char *sql, uint64_t *rows)
{
    if (!p || !sql)
        return EGIDE_ERR_INVALID;
    egide_rc rc = s_ready(p);
    if (rc != EGIDE_OK)
        return rc;
    PGresult *r = s_exec(p, sql);
    char what[48];
    s_clean(sql, what, 28);
    rc = s_rc(p, r, what);
    if (rc == EGIDE_OK && rows) {
        const char *t = PQcmdTuples(r);
        *rows = PQresultStatus(r) == PGRES_TUPLES_OK ? (uint64_t)PQntuples(r)
                : t && t[0]                          ? strtoull(t, NULL, 10)
                                                     : 0;
    }
    PQclear(r);
    return rc;
}

egide_rc egide_pg_exec(egide_pg_t *p, const char *sql)
{
    return egide_pg_exec_rows(p, sql, NULL);
}

egide_rc egide_pg_run(egide_pg_t *p, egide_pg_stmt_t *st, PGresult **res, uint64_t *changed,
                      const char *fmt, ...)
{
    if (res)
        *res = NULL;
    if (!p || !st || !fmt || strlen(fmt) > S_MAX_PARAMS)
        return EGIDE_ERR_INVALID;
    egide_rc rc = s_ready(p);
    if (rc != EGIDE_OK)
        return rc;
    if (st->gen != p->gen) {
        PGresult *r = s_prepare(p, st);
        rc = s_rc(p, r, st->name);
        PQclear(r);
        if (rc != EGIDE_OK)
            return rc == EGIDE_ERR_EXISTS ? EGIDE_ERR_DB : rc;
        st->gen = p->gen;
    }
    const char *vals[S_MAX_PARAMS];
    int lens[S_MAX_PARAMS], fmts[S_MAX_PARAMS];
    char num[S_MAX_PARAMS][24];
    int n = 0;
    va_list ap;
    va_start(ap, fmt);
    for (; fmt[n]; n++) {
        lens[n] = 0;
        fmts[n] = 1; /* binary unless text or a number */
        switch (fmt[n]) {
        case 'k':
        case 'h':
            vals[n] = (const char *)va_arg(ap, const uint8_t *);
            lens[n] = fmt[n] == 'k' ? 16 : 32;
            break;
        case 'b':
            vals[n] = (const char *)va_arg(ap, const uint8_t *);
            lens[n] = (int)va_arg(ap, size_t);
            break;
        case 't':
            vals[n] = va_arg(ap, const char *);
            fmts[n] = 0;
            break;
        case 'I':
            (void)snprintf(num[n], sizeof num[n], "%lld", (long long)va_arg(ap, int64_t));
            vals[n] = num[n];
            fmts[n] = 0;
            break;
        default:
            (void)snprintf(num[n], sizeof num[n], "%d", va_arg(ap, int));
            vals[n] = num[n];
            fmts[n] = 0;
            break;
        }
    }
    va_end(ap);
    PGresult *r = s_exec_prepared(p, st->name, n, vals, lens, fmts);
    rc = s_rc(p, r, st->name);
    if (rc == EGIDE_OK && changed) {
        const char *t = PQcmdTuples(r);
        *changed = t && t[0] ? strtoull(t, NULL, 10) : 0;
    }
    if (rc == EGIDE_OK && res)
        *res = r;
    else
        PQclear(r);
    return rc;
}

/* ------------------------------------------------------------ transactions */

egide_rc egide_pg_begin(egide_pg_t *p)
{
    if (!p)
        return EGIDE_ERR_INVALID;
    if (p->txn)
        return EGIDE_ERR_STATE;
    egide_rc rc = egide_pg_exec(p, "BEGIN");
    if (rc == EGIDE_OK)
        p->txn = true;
    return rc;
}

egide_rc egide_pg_commit(egide_pg_t *p)
{
    if (!p)
        return EGIDE_ERR_INVALID;
    if (!p->txn)
        return EGIDE_ERR_STATE;
    if (PQstatus(p->conn) != CONNECTION_OK || p->broken)
        return EGIDE_ERR_DB; /* the transaction went with the connection */
    PGresult *r = s_exec(p, "COMMIT");
    egide_rc rc = s_rc(p, r, "COMMIT");
    if (rc == EGIDE_OK && strcmp(PQcmdStatus(r), "COMMIT") != 0) {
        /* The transaction had failed: the server rolled it back. */
        egide_log(EGIDE_LOG_ERROR, "postgresql: COMMIT of a failed transaction: rolled back");
        p->txn = false;
        rc = EGIDE_ERR_DB;
    } else if (rc == EGIDE_OK) {
        p->txn = false;
    }
    PQclear(r);
    return rc;
}

void egide_pg_rollback(egide_pg_t *p)
{
    if (!p || !p->txn)
        return;
    p->txn = false;
    if (PQstatus(p->conn) != CONNECTION_OK || p->broken)
        return; /* nothing to roll back there: the next call reconnects */
    PGresult *r = s_exec(p, "ROLLBACK");
    (void)s_rc(p, r, "ROLLBACK");
    PQclear(r);
}

egide_rc egide_pg_atomic_begin(egide_pg_t *p, const char *sp, bool *own)
{
    if (!p || !sp || !own)
        return EGIDE_ERR_INVALID;
    char sql[96];
    *own = !p->txn;
    if (*own)
        return egide_pg_begin(p);
    (void)snprintf(sql, sizeof sql, "SAVEPOINT %s", sp);
    return egide_pg_exec(p, sql);
}

egide_rc egide_pg_atomic_end(egide_pg_t *p, const char *sp, bool own, egide_rc rc)
{
    if (!p || !sp)
        return EGIDE_ERR_INVALID;
    char sql[96];
    if (rc == EGIDE_OK) {
        (void)snprintf(sql, sizeof sql, "RELEASE %s", sp);
        rc = own ? egide_pg_commit(p) : egide_pg_exec(p, sql);
    }
    if (rc == EGIDE_OK)
        return rc;
    if (own) {
        egide_pg_rollback(p);
        return rc;
    }
    (void)snprintf(sql, sizeof sql, "ROLLBACK TO %s", sp);
    if (egide_pg_exec(p, sql) == EGIDE_OK) {
        (void)snprintf(sql, sizeof sql, "RELEASE %s", sp);
        (void)egide_pg_exec(p, sql);
    }
    return rc;
}

/* ------------------------------------------------------------ migrations */

/* One parameterised query outside the statement tables (migrations run
 * once per start). */
static egide_rc s_query1(egide_pg_t *p, const char *sql, const char *param, PGresult **out)
{
    PGresult *r = PQexecParams(p->conn, sql, 1, NULL, &param, NULL, NULL, 1);
    egide_rc rc = s_rc(p, r, "schema_version");
    if (rc == EGIDE_OK)
        *out = r;
    else
        PQclear(r);
    return rc;
}

egide_rc egide_pg_version(egide_pg_t *p, const char *component, int64_t *version)
{
    if (!p || !component || !version)
        return EGIDE_ERR_INVALID;
    egide_rc rc = s_ready(p);
    PGresult *r = NULL;
    if (rc == EGIDE_OK)
        rc = s_query1(p, "SELECT version FROM schema_version WHERE component = $1::text", component,
                      &r);
    if (rc == EGIDE_OK)
        *version = PQntuples(r) == 1 ? egide_pg_int(r, 0, 0) : 0;
    PQclear(r);
    return rc;
}

egide_rc egide_pg_migrate(egide_pg_t *p, const char *component, const char *const *migrations,
                          size_t n)
{
    if (!p || !component || (n && !migrations) || p->reader)
        return EGIDE_ERR_INVALID;
    egide_rc rc = egide_pg_begin(p);
    if (rc != EGIDE_OK)
        return rc;
    /* One migrator at a time, whatever the component: the key is ours. */
    rc = egide_pg_exec(p, "SELECT pg_advisory_xact_lock(7152019141);"
                          "CREATE TABLE IF NOT EXISTS schema_version("
                          " component TEXT PRIMARY KEY, version BIGINT NOT NULL)");
    int64_t v = 0;
    if (rc == EGIDE_OK)
        rc = egide_pg_version(p, component, &v);
    if (rc == EGIDE_OK && (v < 0 || (uint64_t)v > n)) {
        egide_log(EGIDE_LOG_ERROR,
                  "postgresql: %s schema version %lld is newer than this "
                  "program's %zu",
                  component, (long long)v, n);
        rc = EGIDE_ERR_VERSION;
    }
    for (size_t i = (size_t)v; rc == EGIDE_OK && i < n; i++)
        rc = egide_pg_exec(p, migrations[i]);
    if (rc == EGIDE_OK && (size_t)v < n) {
        char num[24];
        (void)snprintf(num, sizeof num, "%zu", n);
        const char *vals[2] = {component, num};
        PGresult *r = PQexecParams(p->conn,
                                   "INSERT INTO schema_version(component, version)"
                                   " VALUES($1::text, $2::bigint) ON CONFLICT(component)"
                                   " DO UPDATE SET version = EXCLUDED.version",
                                   2, NULL, vals, NULL, NULL, 0);
        rc = s_rc(p, r, "schema_version");
        PQclear(r);
    }
    if (rc == EGIDE_OK)
        rc = egide_pg_commit(p);
    if (rc != EGIDE_OK)
        egide_pg_rollback(p);
    return rc;
}

/* ------------------------------------------------------------ columns */

int64_t egide_pg_int(const PGresult *r, int row, int col)
{
    const unsigned char *v = (const unsigned char *)PQgetvalue(r, row, col);
    int len = PQgetlength(r, row, col);
    if (!v || PQgetisnull(r, row, col) || (len != 2 && len != 4 && len != 8))
        return 0;
    uint64_t u = 0;
    for (int i = 0; i < len; i++)
        u = (u << 8) | v[i];
    if (len < 8 && (v[0] & 0x80)) /* sign-extend int2/int4 */
        u |= ~(uint64_t)0 << (8 * len);
    return (int64_t)u;
}

bool egide_pg_fixed(const PGresult *r, int row, int col, uint8_t *out, size_t n)
{
    if (PQgetisnull(r, row, col) || (size_t)PQgetlength(r, row, col) != n)
        return false;
    memcpy(out, PQgetvalue(r, row, col), n);
    return true;
}

egide_rc egide_pg_dup(const PGresult *r, int row, int col, uint8_t **out, size_t *len)
{
    int n = PQgetlength(r, row, col);
    if (PQgetisnull(r, row, col) || n <= 0)
        return EGIDE_ERR_DB;
    *out = malloc((size_t)n);
    if (!*out)
        return EGIDE_ERR_NOMEM;
    memcpy(*out, PQgetvalue(r, row, col), (size_t)n);
    *len = (size_t)n;
    return EGIDE_OK;
}

void egide_pg_text(const PGresult *r, int row, int col, char *out, size_t size)
{
    if (!size)
        return;
    size_t n = PQgetisnull(r, row, col) ? 0 : (size_t)PQgetlength(r, row, col);
    if (n >= size)
        n = size - 1;
    if (n)
        memcpy(out, PQgetvalue(r, row, col), n);
    out[n] = '\0';
}
