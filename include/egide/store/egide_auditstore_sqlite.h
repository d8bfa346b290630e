/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_auditstore_sqlite.h - the SQLite backend of egide_auditstore.h: the
 * audit log's tables in the caller's connection (the broker's database),
 * their migrations and the triggers that make them append-only.
 *
 * Tables (version 1):
 *   audit_leaves(idx INTEGER PRIMARY KEY, leaf BLOB)
 *   audit_hashes(pos INTEGER PRIMARY KEY, hash BLOB CHECK(length(hash) = 32))
 *   audit_checkpoints(size INTEGER PRIMARY KEY, note TEXT)
 *   audit_msg_index(msg_id BLOB, idx INTEGER, PRIMARY KEY(msg_id, idx))
 *   audit_migrations(version INTEGER PRIMARY KEY)  the versions applied
 * UPDATE and DELETE on the four log tables, and an INSERT over an existing
 * key (INSERT OR REPLACE, which would delete without firing DELETE
 * triggers), are refused by triggers.  The audit tables keep their own
 * version table because PRAGMA user_version belongs to the daemon whose
 * database they live in.
 */
#ifndef EGIDE_AUDITSTORE_SQLITE_H
#define EGIDE_AUDITSTORE_SQLITE_H

#include <sqlite3.h>
#include "egide/base/egide_rc.h"
#include "egide/store/egide_auditstore.h"

/* A backend handle: prepared statements on a borrowed connection. */
typedef struct egide_auditstore_sqlite egide_auditstore_sqlite_t;

/* The function table; its handles are egide_auditstore_sqlite_t *. */
extern const egide_auditstore_ops_t egide_auditstore_sqlite_ops;

/* Create or upgrade the audit tables and triggers on db (idempotent; each
 * migration in its own SAVEPOINT, so inside the caller's transaction it
 * commits with it).  A daemon may call it from its own migrations; _new()
 * calls it too.  EGIDE_ERR_VERSION when the tables are newer than this
 * program, EGIDE_ERR_DB, EGIDE_ERR_NOMEM, EGIDE_ERR_INVALID for NULL. */
egide_rc egide_auditstore_sqlite_migrate(sqlite3 *db);

/* A backend on db (borrowed: must outlive the handle).  On a writable db the
 * tables are migrated first; on a read-only one they must exist
 * (EGIDE_ERR_NOTFOUND otherwise).  Never BEGINs or COMMITs.  *out is the
 * caller's (egide_auditstore_sqlite_destroy, or ops.destroy).
 * EGIDE_ERR_INVALID, EGIDE_ERR_DB, EGIDE_ERR_NOMEM, EGIDE_ERR_VERSION. */
egide_rc egide_auditstore_sqlite_new(sqlite3 *db, egide_auditstore_sqlite_t **out);

/* Give the statements back to the connection's cache (egide_db_done: they
 * are finalized with the connection, or here when the cache was full) and
 * free; does not close the connection.  NULL-safe, nulls *self_p. */
void egide_auditstore_sqlite_destroy(egide_auditstore_sqlite_t **self_p);

#endif
