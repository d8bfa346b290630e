/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_db_ckpt.h - WAL checkpoints off the commit path.
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that takes the WAL
 * past 1000 pages, in the committing thread: that commit then also copies
 * the WAL's pages into the database and fsyncs it, tens of milliseconds
 * during which the daemon's loop (or, at the edge, every writer waiting on
 * the shared writer lock) waits.  A checkpointer is a thread with its own
 * connection to the same file that runs that checkpoint instead (PASSIVE:
 * it takes no writer lock, so writers go on meanwhile):
 *
 *   - its writer connection's automatic checkpoint is replaced by a hook
 *     that, at each commit leaving EGIDE_DB_CKPT_PAGES or more in the WAL,
 *     wakes the thread (a condition variable: no I/O in the commit);
 *   - when the WAL reaches EGIDE_DB_CKPT_HARD pages all the same (the
 *     thread stuck, or its checkpoints failing), the commit runs one
 *     itself, as SQLite would have: the WAL stays bounded;
 *   - when the WAL is below the threshold nothing is checkpointed, as with
 *     SQLite's default (no checkpoint at idle).
 *
 * What is durable does not change: a COMMIT still returns after the WAL's
 * fsync; the checkpoint only moves committed pages into the database file.
 */
#ifndef EGIDE_DB_CKPT_H
#define EGIDE_DB_CKPT_H

#include <stdbool.h>
#include <stdint.h>
#include <sqlite3.h>
#include "egide/base/egide_rc.h"

#define EGIDE_DB_CKPT_PAGES 1000  /* SQLite's own default threshold */
#define EGIDE_DB_CKPT_HARD  16000 /* about 64 MB of WAL at 4 KB pages */

typedef struct egide_db_ckpt egide_db_ckpt_t;

/* Start a checkpointer for the database at path (which exists) and hand
 * it the checkpoints of db, a writer connection to that file.  On failure
 * (no thread, no connection) db keeps SQLite's automatic checkpoint and
 * the error is returned (the caller may go on without). */
egide_rc egide_db_ckpt_start(const char *path, sqlite3 *db, egide_db_ckpt_t **out);
/* Give db back its automatic checkpoint, stop the thread (a checkpoint
 * under way finishes first) and free c.  db may be NULL (closed already). */
void egide_db_ckpt_stop(egide_db_ckpt_t **c, sqlite3 *db);

typedef struct egide_db_ckpt_stats {
    uint64_t runs;        /* checkpoints the thread ran */
    uint64_t busy;        /* ... that found another checkpoint under way */
    uint64_t errors;      /* ... that failed otherwise (logged) */
    uint64_t inline_runs; /* checkpoints run by a commit (EGIDE_DB_CKPT_HARD) */
    uint64_t pages;       /* pages copied into the database by the thread */
} egide_db_ckpt_stats_t;
void egide_db_ckpt_stats(egide_db_ckpt_t *c, egide_db_ckpt_stats_t *out);

/* For tests: hold the thread (it takes no checkpoint while held) or let
 * it go; and the two thresholds in pages (0 < pages < hard). */
void egide_db_ckpt_hold(egide_db_ckpt_t *c, bool held);
void egide_db_ckpt_set_pages(egide_db_ckpt_t *c, int pages, int hard);

#endif
