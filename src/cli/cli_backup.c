/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cli_backup.c - `egide backup --db PATH --out FILE`: an online, consistent
 * copy of an edge's or an SQLite broker's database while its daemon runs,
 * through SQLite's backup API (one read snapshot: the copy is the store as
 * it was at one commit, never a mix).  The copy is created with O_EXCL and
 * mode 0600 before a byte is written (it holds referrals), in rollback
 * journal mode so that it is one self-contained file, checked with
 * PRAGMA integrity_check, then synced with its directory.  On a terminal the
 * progress is shown.  A broker on PostgreSQL is backed up with PostgreSQL's
 * own tools (docs/backup.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cli.h"

#define S_PAGES_PER_STEP 1024 /* pages copied per step (4 MB at 4 KB pages) */
#define S_BUSY_TRIES     600  /* steps met by a lock, 50 ms apart: 30 s */

static const cli_opt_t s_opts[] = {
    {"--db", CLI_VALUE, "PATH", "the database to copy (edge.sqlite, broker.sqlite)", true},
    {"--out", CLI_VALUE, "FILE", "the copy to make (must not exist; made mode 0600)", true},
    {NULL, CLI_FLAG, NULL, NULL, false},
};
static const char s_about[] =
    "Copy an edge's or a broker's SQLite database while its daemon runs: one consistent "
    "snapshot, written to a new 0600 file, checked, synced.  Restore: stop the daemon, put the "
    "copy in place of the database (removing its -wal and -shm files), start it (docs/backup.md).";
static const cli_cmd_t s_cmd = CLI_CMD("backup", NULL, 0, 0, s_about, s_opts);

static void s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* fsync the directory holding path, so that the new name is durable. */
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

static int s_backup(const cli_args_t *a)
{
    const char *what = a->cmd->name;
    const char *db = cli_get(a, "--db"), *out = cli_get(a, "--out");
    struct stat sb;
    if (stat(db, &sb) != 0 || !S_ISREG(sb.st_mode))
        return cli_fail(what, "%s: no such database", db) + 1;
    /* The copy's file first, owner-only, never over an existing one. */
    int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return cli_fail(what, "%s: %s%s", out, strerror(errno),
                        errno == EEXIST ? " (a backup is never written over a file)" : "");
    close(fd);
    sqlite3 *src = NULL, *dst = NULL;
    sqlite3_backup *bk = NULL;
    int ret = 1, r;
    const char *step = "open";
    r = sqlite3_open_v2(db, &src, SQLITE_OPEN_READONLY, NULL);
    if (r == SQLITE_OK)
        r = sqlite3_open_v2(out, &dst, SQLITE_OPEN_READWRITE, NULL);
    if (r != SQLITE_OK)
        goto fail;
    sqlite3_busy_timeout(src, 5000);
    step = "backup";
    bk = sqlite3_backup_init(dst, "main", src, "main");
    if (!bk) {
        r = sqlite3_errcode(dst);
        goto fail;
    }
    bool tty = isatty(STDERR_FILENO);
    int busy = 0;
    for (;;) {
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
        if (tty) {
            int total = sqlite3_backup_pagecount(bk), left = sqlite3_backup_remaining(bk);
            fprintf(stderr, "\regide backup: %d of %d pages (%d%%)", total - left, total,
                    total ? (int)(100LL * (total - left) / total) : 100);
        }
    }
    int pages = sqlite3_backup_pagecount(bk);
    r = sqlite3_backup_finish(bk);
    bk = NULL;
    if (tty)
        fprintf(stderr, "\n");
    if (r != SQLITE_OK)
        goto fail;
    /* One self-contained file (a WAL-mode source gives a WAL-mode copy),
     * checked whole. */
    step = "journal mode";
    r = sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
    if (r != SQLITE_OK)
        goto fail;
    step = "integrity check";
    sqlite3_stmt *st = NULL;
    r = sqlite3_prepare_v2(dst, "PRAGMA integrity_check", -1, &st, NULL);
    if (r != SQLITE_OK)
        goto fail;
    bool ok = sqlite3_step(st) == SQLITE_ROW &&
              strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
    sqlite3_finalize(st);
    if (!ok) {
        cli_fail(what, "%s: the copy fails its integrity check; removed", out);
        goto cleanup;
    }
    sqlite3_close(dst);
    dst = NULL;
    /* SQLite synced the file at its commit; the name needs its directory. */
    if (s_sync_dir(out) != 0) {
        cli_fail(what, "%s: syncing its directory: %s; removed", out, strerror(errno));
        goto cleanup;
    }
    struct stat ob;
    if (stat(out, &ob) == 0)
        printf("%s: a consistent copy of %s, %d pages (%lld bytes), integrity ok, mode 0600\n",
               out, db, pages, (long long)ob.st_size);
    ret = 0;
    goto cleanup;
fail:
    cli_fail(what, "%s: %s: %s; the partial copy %s is removed", db, step,
             src && sqlite3_errcode(src) != SQLITE_OK ? sqlite3_errmsg(src)
             : dst                                    ? sqlite3_errmsg(dst)
                                                      : sqlite3_errstr(r),
             out);
cleanup:
    if (bk)
        sqlite3_backup_finish(bk);
    sqlite3_close(dst);
    sqlite3_close(src);
    if (ret) {
        unlink(out);
        char j[4096];
        snprintf(j, sizeof j, "%s-journal", out);
        unlink(j);
    }
    return ret;
}

const cli_entry_t cli_backup = {&s_cmd, s_backup};
