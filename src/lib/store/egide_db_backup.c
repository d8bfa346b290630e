/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_db_backup.c - an online, consistent copy of an SQLite database
 * (egide_db_backup, egide_db.h): SQLite's backup API from one read
 * snapshot, so the copy is the store as it was at one commit, never a mix;
 * the copy's file created with O_EXCL and mode 0600 before a byte is
 * written (it holds referrals), switched to rollback-journal mode so that
 * it is one self-contained file, checked with PRAGMA integrity_check, and
 * its directory synced.  On any failure the partial copy is removed.
 */
#include "egide/store/egide_db.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S_PAGES_PER_STEP 1024 /* pages copied per step (4 MB at 4 KB pages) */
#define S_BUSY_TRIES     600  /* steps met by a lock, 50 ms apart: 30 s */

static void s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int s_sync_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -1;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

/* err (may be NULL) = "A: B". */
static void s_err(char *err, size_t size, const char *a, const char *b)
{
    if (err && size)
        snprintf(err, size, "%s: %s", a, b);
}

egide_rc egide_db_backup(const char *src_path, const char *dst_path, egide_db_progress_fn progress,
                         void *arg, egide_db_backup_info_t *info, char *err, size_t errsz)
{
    if (err && errsz)
        err[0] = '\0';
    if (info)
        memset(info, 0, sizeof *info);
    if (!src_path || !dst_path)
        return EGIDE_ERR_INVALID;
    struct stat sb;
    if (stat(src_path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        s_err(err, errsz, src_path, "no such database");
        return EGIDE_ERR_NOTFOUND;
    }
    int fd = open(dst_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        s_err(err, errsz, dst_path, strerror(e));
        return e == EEXIST ? EGIDE_ERR_EXISTS : EGIDE_ERR_IO;
    }
    close(fd);
    sqlite3 *src = NULL, *dst = NULL;
    sqlite3_backup *bk = NULL;
    egide_rc rc = EGIDE_ERR_DB;
    const char *step = "open";
    int r = sqlite3_open_v2(src_path, &src, SQLITE_OPEN_READONLY, NULL);
    if (r == SQLITE_OK)
        r = sqlite3_open_v2(dst_path, &dst, SQLITE_OPEN_READWRITE, NULL);
    if (r != SQLITE_OK)
        goto fail;
    sqlite3_busy_timeout(src, 5000);
    step = "backup";
    bk = sqlite3_backup_init(dst, "main", src, "main");
    if (!bk)
        goto fail;
    for (int busy = 0;;) {
        r = sqlite3_backup_step(bk, S_PAGES_PER_STEP);
        if (r == SQLITE_DONE)
            break;
        if (r == SQLITE_BUSY || r == SQLITE_LOCKED) {
            if (++busy > S_BUSY_TRIES)
                goto fail;
            s_sleep_ms(50);
            continue;
        }
        if (r != SQLITE_OK)
            goto fail;
        if (progress)
            progress(arg, sqlite3_backup_pagecount(bk) - sqlite3_backup_remaining(bk),
                     sqlite3_backup_pagecount(bk));
    }
    int pages = sqlite3_backup_pagecount(bk);
    r = sqlite3_backup_finish(bk);
    bk = NULL;
    if (r != SQLITE_OK)
        goto fail;
    if (progress)
        progress(arg, pages, pages);
    /* One self-contained file (a WAL-mode source gives a WAL-mode copy). */
    step = "journal mode";
    if ((r = sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL)) != SQLITE_OK)
        goto fail;
    step = "integrity check";
    sqlite3_stmt *st = NULL;
    if ((r = sqlite3_prepare_v2(dst, "PRAGMA integrity_check", -1, &st, NULL)) != SQLITE_OK)
        goto fail;
    const unsigned char *v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
    bool ok = v && strcmp((const char *)v, "ok") == 0;
    sqlite3_finalize(st);
    if (!ok) {
        s_err(err, errsz, dst_path, "the copy fails its integrity check");
        rc = EGIDE_ERR_HASH;
        goto cleanup;
    }
    sqlite3_close(dst);
    dst = NULL;
    /* SQLite synced the file at its commit; the new name needs its directory. */
    if (s_sync_dir(dst_path) != 0) {
        s_err(err, errsz, dst_path, strerror(errno));
        rc = EGIDE_ERR_IO;
        goto cleanup;
    }
    if (info) {
        struct stat ob;
        info->pages = pages;
        info->bytes = stat(dst_path, &ob) == 0 ? (int64_t)ob.st_size : 0;
    }
    rc = EGIDE_OK;
    goto cleanup;
fail:
    rc = egide_db_rc(r) ? egide_db_rc(r) : EGIDE_ERR_DB;
    s_err(err, errsz, step,
          src && sqlite3_errcode(src) != SQLITE_OK ? sqlite3_errmsg(src)
          : dst                                    ? sqlite3_errmsg(dst)
                                                   : sqlite3_errstr(r));
cleanup:
    if (bk)
        sqlite3_backup_finish(bk);
    sqlite3_close(dst);
    sqlite3_close(src);
    if (rc) {
        unlink(dst_path);
        char j[4096];
        snprintf(j, sizeof j, "%s-journal", dst_path);
        unlink(j);
    }
    return rc;
}
