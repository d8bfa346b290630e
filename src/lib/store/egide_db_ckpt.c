/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* egide_db_ckpt.c - WAL checkpoints on a thread of their own (see egide_db_ckpt.h). */
#include "egide/store/egide_db_ckpt.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/store/egide_db.h"

#define S_LOG_EVERY_MS 60000 /* a failing checkpoint is logged once a minute */

struct egide_db_ckpt {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool kicked; /* a commit left EGIDE_DB_CKPT_PAGES or more */
    bool stop;
    bool held;             /* tests */
    atomic_int soft, hard; /* EGIDE_DB_CKPT_PAGES, EGIDE_DB_CKPT_HARD */
    sqlite3 *db;           /* the thread's own connection */
    atomic_uint_fast64_t runs, busy, errors, inline_runs, pages;
    atomic_int_fast64_t logged_ms; /* last failure logged (monotonic) */
};

static void s_failed(egide_db_ckpt_t *c, const char *who, int rc)
{
    int64_t now = egide_mono_ms(), last = atomic_load(&c->logged_ms);
    if (last && now - last < S_LOG_EVERY_MS)
        return;
    atomic_store(&c->logged_ms, now);
    egide_log(EGIDE_LOG_WARNING, "database checkpoint (%s): %s; the WAL grows until one succeeds",
              who, sqlite3_errstr(rc));
}

/* Called by SQLite after each commit of the writer connection, with the
 * WAL's size in pages.  Never fails the commit (it is done). */
static int s_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    egide_db_ckpt_t *c = arg;
    if (pages >= atomic_load(&c->hard)) {
        int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        atomic_fetch_add(&c->inline_runs, 1);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY)
            s_failed(c, "in the commit", rc);
        return SQLITE_OK;
    }
    if (pages >= atomic_load(&c->soft)) {
        pthread_mutex_lock(&c->mu);
        if (!c->kicked) {
            c->kicked = true;
            pthread_cond_signal(&c->cv);
        }
        pthread_mutex_unlock(&c->mu);
    }
    return SQLITE_OK;
}

static void *s_run(void *arg)
{
    egide_db_ckpt_t *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->stop && (!c->kicked || c->held))
            pthread_cond_wait(&c->cv, &c->mu);
        if (c->stop)
            break;
        c->kicked = false;
        pthread_mutex_unlock(&c->mu);
        int log = 0, done = 0;
        int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
        if (rc == SQLITE_OK) {
            atomic_fetch_add(&c->runs, 1);
            if (done > 0)
                atomic_fetch_add(&c->pages, (uint_fast64_t)done);
        } else if (rc == SQLITE_BUSY) {
            atomic_fetch_add(&c->busy, 1); /* another one under way: the next commit kicks again */
        } else {
            atomic_fetch_add(&c->errors, 1);
            s_failed(c, "thread", rc);
        }
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

egide_rc egide_db_ckpt_start(const char *path, sqlite3 *db, egide_db_ckpt_t **out)
{
    if (!path || !db || !out)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    egide_db_ckpt_t *c = calloc(1, sizeof *c);
    if (!c)
        return EGIDE_ERR_NOMEM;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    atomic_init(&c->soft, EGIDE_DB_CKPT_PAGES);
    atomic_init(&c->hard, EGIDE_DB_CKPT_HARD);
    egide_rc rc = egide_db_open(path, false, &c->db);
    if (!rc && pthread_create(&c->thread, NULL, s_run, c) != 0) {
        egide_log_warn("database checkpoint thread");
        rc = EGIDE_ERR_NOMEM;
    }
    if (rc) {
        egide_db_close(&c->db);
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        free(c);
        return rc;
    }
    sqlite3_wal_hook(db, s_hook, c); /* replaces the automatic checkpoint */
    *out = c;
    return EGIDE_OK;
}

void egide_db_ckpt_stop(egide_db_ckpt_t **cp, sqlite3 *db)
{
    if (!cp || !*cp)
        return;
    egide_db_ckpt_t *c = *cp;
    if (db)
        sqlite3_wal_autocheckpoint(db, EGIDE_DB_CKPT_PAGES); /* the hook removed */
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    egide_db_close(&c->db);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
    *cp = NULL;
}

void egide_db_ckpt_stats(egide_db_ckpt_t *c, egide_db_ckpt_stats_t *out)
{
    *out = (egide_db_ckpt_stats_t){0};
    if (!c)
        return;
    out->runs = atomic_load(&c->runs);
    out->busy = atomic_load(&c->busy);
    out->errors = atomic_load(&c->errors);
    out->inline_runs = atomic_load(&c->inline_runs);
    out->pages = atomic_load(&c->pages);
}

void egide_db_ckpt_hold(egide_db_ckpt_t *c, bool held)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->held = held;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

void egide_db_ckpt_set_pages(egide_db_ckpt_t *c, int pages, int hard)
{
    if (!c || pages <= 0 || hard <= pages)
        return;
    atomic_store(&c->soft, pages);
    atomic_store(&c->hard, hard);
}
