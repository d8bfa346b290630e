/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_pg.h - PostgreSQL (libpq) conventions shared by the store backends
 * that run on it (the broker store, the audit store): one connection from a
 * conninfo (which may list several hosts with target_session_attrs=
 * read-write), statements prepared once per server session from the
 * caller's table, parameters bound from a format string (bytea in binary),
 * results asked for in binary, and PostgreSQL errors turned into an egide_rc
 * and one log line here (the SQLSTATE and the primary message, never the
 * DETAIL, which may quote values).
 *
 * Errors: a unique violation (23505) is EGIDE_ERR_EXISTS; everything else
 * is EGIDE_ERR_DB.  A lost connection (SQLSTATE class 08, a server shutting
 * down, 57P01-57P03, or libpq's own CONNECTION_BAD) is transient: the
 * transaction it was in is gone, every call fails with EGIDE_ERR_DB until
 * the caller rolls back (egide_pg_rollback), and the next call after that
 * reconnects (one attempt per call, no loop) and prepares its statements
 * again.  COMMIT is checked by its command tag: a COMMIT of an aborted
 * transaction answers "ROLLBACK", which is EGIDE_ERR_DB here.
 *
 * A connection is used by one thread at a time.
 */
#ifndef EGIDE_PG_H
#define EGIDE_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>
#include "egide/base/egide_rc.h"

typedef struct egide_pg egide_pg_t;

/* A statement of a caller's table.  gen is egide_pg's: the session it was
 * prepared in (0 = never); name must be unique on the connection. */
typedef struct egide_pg_stmt {
    const char *name; /* e.g. "broker_3" */
    const char *sql;  /* $1, $2 ... parameters only, never data */
    uint64_t gen;     /* session it is prepared in */
} egide_pg_stmt_t;

/* Connect to conninfo.  reader: every transaction of the session is READ
 * ONLY (an API thread's handle).  *out is the caller's (egide_pg_close).
 * EGIDE_ERR_DB when the server cannot be reached, EGIDE_ERR_NOMEM,
 * EGIDE_ERR_INVALID. */
egide_rc egide_pg_open(const char *conninfo, bool reader, egide_pg_t **out);
/* Close and NULL *p; NULL-safe.  An open transaction is rolled back by the
 * server. */
void egide_pg_close(egide_pg_t **p);
/* The conninfo it was opened with (borrowed). */
const char *egide_pg_conninfo(const egide_pg_t *p);
/* Whether it was opened as a reader. */
bool egide_pg_reader(const egide_pg_t *p);
/* Whether a transaction block is open (also when it failed and awaits its
 * rollback, or its connection was lost). */
bool egide_pg_in_txn(const egide_pg_t *p);
/* Whether the connection is up now (no call is made). */
bool egide_pg_up(const egide_pg_t *p);
/* The server session's generation: it changes at each reconnection (for a
 * caller that sets session parameters once per session). */
uint64_t egide_pg_session(const egide_pg_t *p);
/* The SQLSTATE of the last failed call ("" after a success or when libpq
 * had none): for a caller that tells a refusal from a failure. */
const char *egide_pg_sqlstate(const egide_pg_t *p);

/* What the caller does while a statement waits on the server.  Without
 * one (the default) libpq blocks the thread until the answer comes.  With
 * one, every statement, COMMIT included, is sent without blocking and the
 * answer awaited through wait(arg, fd, write, timeout_ms): fd is libpq's
 * socket; the call returns when fd is readable (or, when write, also
 * writable), when timeout_ms (at most EGIDE_PG_WAIT_MS) has passed, or
 * earlier, and may do other work meanwhile (the broker answers its ZAP
 * handshakes), but must not use this connection.  Waiting takes as long as
 * the server does: the hook bounds the wait of each round, not the
 * statement (the server's statement_timeout and the lease do).  A
 * reconnection runs PQconnectdb (every host of the conninfo, each within
 * connect_timeout) on a thread of its own while wait is called with the
 * read end of a pipe that thread writes when it is done.
 * NULL fn: block again (PQreset for a reconnection). */
#define EGIDE_PG_WAIT_MS 200
typedef void (*egide_pg_wait_fn)(void *arg, int fd, bool write, int timeout_ms);
void egide_pg_set_wait(egide_pg_t *p, egide_pg_wait_fn fn, void *arg);
/* How many times a statement of p waited (called its wait hook) since it
 * was opened: for tests and metrics. */
uint64_t egide_pg_waits(const egide_pg_t *p);

/* Run SQL without parameters or results (BEGIN, SAVEPOINT, DDL; several
 * statements allowed).  Reconnects first when the connection was lost
 * outside a transaction. */
egide_rc egide_pg_exec(egide_pg_t *p, const char *sql);
/* As egide_pg_exec, one statement, and *rows (not NULL) the rows it
 * returned or changed. */
egide_rc egide_pg_exec_rows(egide_pg_t *p, const char *sql, uint64_t *rows);

/* Prepare st (if not yet in this session) and run it with the parameters
 * of fmt, one letter each: 'k' a 16-byte key, 'h' a 32-byte hash, 'b' a
 * blob (const uint8_t *, size_t), 't' text (const char *), 'I' int64_t,
 * 'i' int.  On EGIDE_OK *res (may be NULL: cleared) holds the result
 * (PQclear it); *changed (may be NULL) the rows the command changed.
 * On failure nothing is left to clear. */
egide_rc egide_pg_run(egide_pg_t *p, egide_pg_stmt_t *st, PGresult **res, uint64_t *changed,
                      const char *fmt, ...);

/* Transactions: begin = BEGIN (EGIDE_ERR_STATE when one is open); commit
 * = COMMIT, EGIDE_OK only when the server committed; rollback ends
 * whatever is open (NULL-safe, harmless without a transaction) and, after
 * a lost connection, lets the next call reconnect. */
egide_rc egide_pg_begin(egide_pg_t *p);
egide_rc egide_pg_commit(egide_pg_t *p);
void egide_pg_rollback(egide_pg_t *p);

/* An all-or-nothing section named sp (an SQL identifier): a SAVEPOINT
 * inside the open transaction, else a transaction of its own (*own).  end
 * keeps it when rc is EGIDE_OK (RELEASE or COMMIT), else undoes it, and
 * returns rc or the failure to keep it.  A failed statement inside is
 * undone without aborting the caller's transaction. */
egide_rc egide_pg_atomic_begin(egide_pg_t *p, const char *sp, bool *own);
egide_rc egide_pg_atomic_end(egide_pg_t *p, const char *sp, bool own, egide_rc rc);

/* Apply migrations[i] for every i >= the version of component recorded in
 * the schema_version table (created when missing), all in one transaction
 * under an advisory lock, so that two processes migrating at once apply
 * each step once.  EGIDE_ERR_VERSION when the database is newer than n. */
egide_rc egide_pg_migrate(egide_pg_t *p, const char *component, const char *const *migrations,
                          size_t n);
/* The version of component recorded (0 when none), for a reader to check. */
egide_rc egide_pg_version(egide_pg_t *p, const char *component, int64_t *version);

/* Column readers of a binary result: an integer column (int2/4/8); a
 * bytea of exactly n bytes (false otherwise); a malloc'd copy of a
 * non-empty bytea; text copied (truncated) into out. */
int64_t egide_pg_int(const PGresult *r, int row, int col);
bool egide_pg_fixed(const PGresult *r, int row, int col, uint8_t *out, size_t n);
egide_rc egide_pg_dup(const PGresult *r, int row, int col, uint8_t **out, size_t *len);
void egide_pg_text(const PGresult *r, int row, int col, char *out, size_t size);

#endif
