/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* egide_db.c - SQLite open/migrate/transaction helpers (see egide_db.h). */
#include "egide/store/egide_db.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "egide/base/egide_log.h"

egide_rc egide_db_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return EGIDE_OK;
    case SQLITE_CONSTRAINT:
        return EGIDE_ERR_EXISTS;
    case SQLITE_NOMEM:
        return EGIDE_ERR_NOMEM;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
        return EGIDE_ERR_IO;
    default:
        return EGIDE_ERR_DB;
    }
}

egide_rc egide_db_exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK) {
        egide_log(EGIDE_LOG_ERROR, "sqlite: %s", err ? err : sqlite3_errstr(rc));
        sqlite3_free(err);
        return egide_db_rc(rc);
    }
    return EGIDE_OK;
}

egide_rc egide_db_open(const char *path, bool readonly, sqlite3 **out)
{
    *out = NULL;
    if (!readonly) {
        /* Create the file 0600 ourselves: SQLite would use the umask.  Only
         * when it does not exist: close() drops every POSIX lock this
         * process holds on the file, including those of the connections
         * already open on it (the loop's, the API's), after which another
         * process (the sqlite3 shell) could take it for the last
         * connection and delete the WAL under them. */
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            close(fd);
        } else if (errno != EEXIST) {
            egide_log_warn("database %s", path);
            return EGIDE_ERR_IO;
        }
    }
    sqlite3 *db = NULL;
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    int rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        egide_log(EGIDE_LOG_ERROR, "database %s: %s", path,
                  db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return EGIDE_ERR_DB;
    }
    sqlite3_busy_timeout(db, 10000);
    sqlite3_extended_result_codes(db, 1);
    egide_rc erc = egide_db_exec(db, readonly ? "PRAGMA query_only=ON; PRAGMA foreign_keys=ON;"
                                              : "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                                                " PRAGMA foreign_keys=ON;");
    if (erc) {
        sqlite3_close(db);
        return erc;
    }
    *out = db;
    return EGIDE_OK;
}

/* Statement cache: small, bounded, linear (a daemon uses a few dozen
 * statements).  When full, statements are prepared uncached. */
#define S_CACHE_MAX 256
static struct {
    sqlite3 *db;
    const char *sql;
    sqlite3_stmt *st;
} s_cache[S_CACHE_MAX];
static size_t s_cache_n;
static pthread_mutex_t s_cache_lock = PTHREAD_MUTEX_INITIALIZER;

egide_rc egide_db_stmt(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
    *st = NULL;
    pthread_mutex_lock(&s_cache_lock);
    for (size_t i = 0; i < s_cache_n; i++)
        if (s_cache[i].db == db && s_cache[i].sql == sql) {
            *st = s_cache[i].st;
            pthread_mutex_unlock(&s_cache_lock);
            return EGIDE_OK;
        }
    pthread_mutex_unlock(&s_cache_lock);
    int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
    if (rc != SQLITE_OK) {
        egide_log(EGIDE_LOG_ERROR, "sqlite prepare: %s", sqlite3_errmsg(db));
        *st = NULL;
        return egide_db_rc(rc) ? egide_db_rc(rc) : EGIDE_ERR_DB;
    }
    pthread_mutex_lock(&s_cache_lock);
    if (s_cache_n < S_CACHE_MAX) {
        s_cache[s_cache_n].db = db;
        s_cache[s_cache_n].sql = sql;
        s_cache[s_cache_n].st = *st;
        s_cache_n++;
    }
    pthread_mutex_unlock(&s_cache_lock);
    return EGIDE_OK;
}

void egide_db_done(sqlite3_stmt *st)
{
    if (!st)
        return;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    /* An uncached statement (cache full) is finalized here. */
    bool cached = false;
    pthread_mutex_lock(&s_cache_lock);
    for (size_t i = 0; i < s_cache_n && !cached; i++)
        cached = s_cache[i].st == st;
    pthread_mutex_unlock(&s_cache_lock);
    if (!cached)
        sqlite3_finalize(st);
}

void egide_db_close(sqlite3 **db_p)
{
    if (!db_p || !*db_p)
        return;
    pthread_mutex_lock(&s_cache_lock);
    for (size_t i = 0; i < s_cache_n;) {
        if (s_cache[i].db == *db_p) {
            sqlite3_finalize(s_cache[i].st);
            s_cache[i] = s_cache[--s_cache_n];
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&s_cache_lock);
    sqlite3_close_v2(*db_p);
    *db_p = NULL;
}

egide_rc egide_db_migrate(sqlite3 *db, const char *const *migrations, size_t n)
{
    sqlite3_stmt *st;
    egide_rc rc = egide_db_prepare(db, "PRAGMA user_version", &st);
    if (rc)
        return rc;
    int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (version < 0)
        return EGIDE_ERR_DB;
    if ((size_t)version > n) {
        egide_log(EGIDE_LOG_ERROR, "database schema version %d is newer than this program (%zu)",
                  version, n);
        return EGIDE_ERR_VERSION;
    }
    for (size_t i = (size_t)version; i < n; i++) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version=%zu;", i + 1);
        if ((rc = egide_db_begin(db)))
            return rc;
        if ((rc = egide_db_exec(db, migrations[i])) || (rc = egide_db_exec(db, pragma))) {
            egide_db_rollback(db);
            return rc;
        }
        if ((rc = egide_db_commit(db)))
            return rc;
    }
    return EGIDE_OK;
}

egide_rc egide_db_begin(sqlite3 *db)
{
    return egide_db_exec(db, "BEGIN IMMEDIATE");
}
egide_rc egide_db_commit(sqlite3 *db)
{
    return egide_db_exec(db, "COMMIT");
}

void egide_db_rollback(sqlite3 *db)
{
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

egide_rc egide_db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
    *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);
    if (rc != SQLITE_OK) {
        egide_log(EGIDE_LOG_ERROR, "sqlite prepare: %s", sqlite3_errmsg(db));
        return egide_db_rc(rc) ? egide_db_rc(rc) : EGIDE_ERR_DB;
    }
    return EGIDE_OK;
}
