/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_auditstore_pg.h - the PostgreSQL backend of egide_auditstore.h: the
 * audit log's tables in the caller's database (the broker's), on the
 * caller's connection (egide_pg.h), so that the broker's writes and their
 * audit leaves are one transaction.
 *
 * Tables (audit schema version 1, recorded in schema_version as "audit"):
 *   audit_leaves(idx BIGINT PRIMARY KEY, leaf BYTEA)
 *   audit_hashes(pos BIGINT PRIMARY KEY, hash BYTEA, length 32)
 *   audit_checkpoints(size BIGINT PRIMARY KEY, note TEXT)
 *   audit_msg_index(msg_id BYTEA, idx BIGINT, PRIMARY KEY(msg_id, idx))
 *   audit_head(one row: size BIGINT)   the tree size, the writers' lock
 * UPDATE, DELETE and TRUNCATE on the four log tables are refused by
 * triggers (an INSERT ... ON CONFLICT DO UPDATE fires the UPDATE one).
 *
 * Single writer: a writer handle reads the size with SELECT ... FOR UPDATE
 * on audit_head, and append raises it in the same transaction, so a second
 * writer (another broker, another connection) waits for the first one's
 * COMMIT and then reads the new size: two leaves never get one index and
 * the log cannot fork.  A reader handle reads the size without the lock.
 *
 * Units of work nest in the caller's transaction as SAVEPOINTs; without
 * one, a unit (or an append on its own) is a transaction of its own.
 */
#ifndef EGIDE_AUDITSTORE_PG_H
#define EGIDE_AUDITSTORE_PG_H

#include <stdbool.h>
#include "egide/base/egide_rc.h"
#include "egide/store/egide_auditstore.h"
#include "egide/store/egide_pg.h"

typedef struct egide_auditstore_pg egide_auditstore_pg_t;

/* The function table; its handles are egide_auditstore_pg_t *. */
extern const egide_auditstore_ops_t egide_auditstore_pg_ops;

/* Create or upgrade the audit tables on pg (its own transaction;
 * idempotent).  EGIDE_ERR_VERSION when they are newer than this program,
 * EGIDE_ERR_DB, EGIDE_ERR_INVALID (NULL, or a reader connection). */
egide_rc egide_auditstore_pg_migrate(egide_pg_t *pg);

/* A backend on pg (borrowed: must outlive the handle).  A writer connection
 * migrates first; a reader's (egide_pg_open(..., true)) reads only.
 * Never COMMITs what the caller began.  *out is the caller's.
 * EGIDE_ERR_INVALID, EGIDE_ERR_DB, EGIDE_ERR_NOMEM, EGIDE_ERR_VERSION. */
egide_rc egide_auditstore_pg_new(egide_pg_t *pg, egide_auditstore_pg_t **out);

/* Free the handle (not the connection).  NULL-safe, nulls *self_p. */
void egide_auditstore_pg_destroy(egide_auditstore_pg_t **self_p);

#endif
