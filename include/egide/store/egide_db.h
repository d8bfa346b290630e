/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_db.h - SQLite conventions shared by the broker and the edge: WAL,
 * synchronous=FULL (a COMMIT returns only after the fsync covering it), a
 * busy timeout, foreign keys, and schema migrations by PRAGMA user_version.
 *
 * A receipt must never leave before the COMMIT that covers what it vouches
 * for: callers commit, then send.
 */
#ifndef EGIDE_DB_H
#define EGIDE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>
#include "egide/base/egide_rc.h"

/* Open (creating, mode 0600) path with the pragmas above.  readonly opens
 * an existing database for reading only (API threads). */
egide_rc egide_db_open(const char *path, bool readonly, sqlite3 **out);
void egide_db_close(sqlite3 **db_p);

/* Apply migrations[i] for every i >= current user_version, each in its own
 * transaction, setting user_version = i + 1.  EGIDE_ERR_VERSION when the
 * database is newer than this program knows. */
egide_rc egide_db_migrate(sqlite3 *db, const char *const *migrations, size_t n);

/* Execute SQL without results; logs sqlite3_errmsg on failure (never data). */
egide_rc egide_db_exec(sqlite3 *db, const char *sql);
egide_rc egide_db_begin(sqlite3 *db); /* BEGIN IMMEDIATE */
egide_rc egide_db_commit(sqlite3 *db);
void egide_db_rollback(sqlite3 *db);

/* Prepare, logging the error; *st is NULL on failure. */
egide_rc egide_db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st);
/* A cached prepared statement for sql, which must be a string literal (the
 * cache is keyed by the pointer).  Give it back with egide_db_done() — never
 * sqlite3_finalize() — which resets it and clears its bindings.  The cache
 * is shared by threads but a connection is used by one thread at a time;
 * egide_db_close() finalizes the connection's entries. */
egide_rc egide_db_stmt(sqlite3 *db, const char *sql, sqlite3_stmt **st);
void egide_db_done(sqlite3_stmt *st);

/* Map a sqlite result code to egide_rc (SQLITE_CONSTRAINT -> EGIDE_ERR_EXISTS). */
egide_rc egide_db_rc(int sqlite_rc);

/* An online, consistent copy of the database at src_path into a NEW file
 * dst_path (egide_db_backup.c): one read snapshot through SQLite's backup
 * API, while writers go on; dst created O_EXCL mode 0600, one file
 * (rollback journal), integrity-checked, synced with its directory.
 * progress (may be NULL) is called with pages done and total.  *info (may
 * be NULL) gets the pages and bytes copied.  On failure the partial copy
 * is removed and err (may be NULL) says why: EGIDE_ERR_NOTFOUND (no
 * source), EGIDE_ERR_EXISTS (dst exists: never written over),
 * EGIDE_ERR_IO, EGIDE_ERR_HASH (the copy fails its integrity check),
 * EGIDE_ERR_DB or EGIDE_ERR_FULL (SQLite). */
typedef void (*egide_db_progress_fn)(void *arg, int done, int total);
typedef struct egide_db_backup_info {
    int pages;
    int64_t bytes;
} egide_db_backup_info_t;
egide_rc egide_db_backup(const char *src_path, const char *dst_path, egide_db_progress_fn progress,
                         void *arg, egide_db_backup_info_t *info, char *err, size_t errsz);

#endif
