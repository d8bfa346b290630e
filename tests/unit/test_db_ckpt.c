/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* test_db_ckpt.c - WAL checkpoints on their own thread (egide_db_ckpt.h):
 * the commits no longer checkpoint, the thread does, even while a writer
 * holds the database; the WAL stays bounded when the thread does not run;
 * without a checkpointer (or after it stops) SQLite's own checkpoint is
 * back. */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "egide/base/egide_rc.h"
#include "egide/base/egide_util.h"
#include "egide/store/egide_db.h"
#include "egide/store/egide_db_ckpt.h"
#include "egide_test.h"

static char s_dir[] = "/tmp/egide-test-ckpt-XXXXXX";
static int s_n;

#define PAGE      4096
#define ROW_PAGES 4 /* each commit below writes a 4-page blob: 5 to 6 WAL frames */

static int64_t s_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

/* A fresh database at *path with one table, its writer connection open. */
static sqlite3 *s_fresh(char *path, size_t size)
{
    snprintf(path, size, "%s/db%d.sqlite", s_dir, ++s_n);
    sqlite3 *db = NULL;
    if (egide_db_open(path, false, &db) != EGIDE_OK)
        return NULL;
    /* Durability is not what is tested: no fsync per commit. */
    if (egide_db_exec(db, "PRAGMA synchronous=OFF;"
                          "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)") != EGIDE_OK)
        egide_db_close(&db);
    return db;
}

/* n commits of one row each; 0 when all committed. */
static int s_commits(sqlite3 *db, int n)
{
    for (int i = 0; i < n; i++) {
        sqlite3_stmt *st = NULL;
        if (egide_db_stmt(db, "INSERT INTO t(b) VALUES (randomblob(?))", &st) != EGIDE_OK)
            return -1;
        sqlite3_bind_int(st, 1, ROW_PAGES * PAGE - 64);
        int rc = sqlite3_step(st);
        egide_db_done(st);
        if (rc != SQLITE_DONE)
            return -1;
    }
    return 0;
}

static int64_t s_rows(const char *path)
{
    sqlite3 *db = NULL;
    int64_t n = -1;
    if (egide_db_open(path, true, &db) != EGIDE_OK)
        return -1;
    sqlite3_stmt *st = NULL;
    if (egide_db_prepare(db, "SELECT count(*) FROM t", &st) == EGIDE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    egide_db_close(&db);
    return n;
}

/* Wait (at most 10 s) until the thread ran `runs` checkpoints. */
static bool s_wait_runs(egide_db_ckpt_t *c, uint64_t runs)
{
    for (int i = 0; i < 1000; i++) {
        egide_db_ckpt_stats_t s;
        egide_db_ckpt_stats(c, &s);
        if (s.runs >= runs)
            return true;
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    }
    return false;
}

/* The commits leave the WAL to the thread: while it is held nothing is
 * copied into the database, however long the WAL; let go, it copies it. */
static void test_thread_checkpoints(void)
{
    char path[256];
    sqlite3 *db = s_fresh(path, sizeof path);
    REQUIRE(db);
    egide_db_ckpt_t *c = NULL;
    CHECK_RC(egide_db_ckpt_start(path, db, &c), EGIDE_OK);
    REQUIRE(c);
    egide_db_ckpt_hold(c, true);
    int64_t before = s_size(path);
    /* 400 commits: about 2,200 WAL frames, twice SQLite's threshold. */
    CHECK(s_commits(db, 400) == 0);
    int64_t held = s_size(path);
    CHECK(held == before); /* no commit checkpointed */
    char wal[300];
    snprintf(wal, sizeof wal, "%s-wal", path);
    CHECK(s_size(wal) > (int64_t)EGIDE_DB_CKPT_PAGES * PAGE);
    egide_db_ckpt_stats_t s;
    egide_db_ckpt_stats(c, &s);
    CHECK(s.runs == 0 && s.inline_runs == 0);

    egide_db_ckpt_hold(c, false);
    CHECK(s_wait_runs(c, 1));
    egide_db_ckpt_stats(c, &s);
    CHECK(s.pages >= 400 * ROW_PAGES);
    CHECK(s.inline_runs == 0 && s.errors == 0);
    CHECK(s_size(path) >= 400LL * ROW_PAGES * PAGE); /* the rows are in the file now */
    CHECK(s_rows(path) == 400);
    egide_db_ckpt_stop(&c, db);
    CHECK(c == NULL);
    egide_db_close(&db);
}

/* A PASSIVE checkpoint takes no writer lock: the thread runs one while a
 * write transaction is open on the database. */
static void test_while_a_writer_holds(void)
{
    char path[256];
    sqlite3 *db = s_fresh(path, sizeof path);
    REQUIRE(db);
    egide_db_ckpt_t *c = NULL;
    REQUIRE(egide_db_ckpt_start(path, db, &c) == EGIDE_OK);
    egide_db_ckpt_hold(c, true);
    CHECK(s_commits(db, 250) == 0); /* past the threshold: the thread is asked */
    CHECK_RC(egide_db_begin(db), EGIDE_OK);
    CHECK(s_commits(db, 1) == 0); /* in the open transaction */
    egide_db_ckpt_hold(c, false);
    CHECK(s_wait_runs(c, 1));
    egide_db_ckpt_stats_t s;
    egide_db_ckpt_stats(c, &s);
    CHECK(s.pages >= 250 * ROW_PAGES);
    CHECK_RC(egide_db_commit(db), EGIDE_OK);
    CHECK(s_rows(path) == 251);
    egide_db_ckpt_stop(&c, db);
    egide_db_close(&db);
}

/* The thread stuck: at the hard limit a commit checkpoints, and the WAL
 * starts over instead of growing. */
static void test_hard_limit(void)
{
    char path[256], wal[300];
    sqlite3 *db = s_fresh(path, sizeof path);
    REQUIRE(db);
    snprintf(wal, sizeof wal, "%s-wal", path);
    egide_db_ckpt_t *c = NULL;
    REQUIRE(egide_db_ckpt_start(path, db, &c) == EGIDE_OK);
    egide_db_ckpt_set_pages(c, 100, 400);
    egide_db_ckpt_hold(c, true);
    CHECK(s_commits(db, 600) == 0); /* about 3,300 frames: eight times the limit */
    egide_db_ckpt_stats_t s;
    egide_db_ckpt_stats(c, &s);
    CHECK(s.runs == 0);
    CHECK(s.inline_runs >= 5);
    /* The WAL never held much more than the limit and one commit. */
    CHECK(s_size(wal) > 0 && s_size(wal) <= (400 + 2 * (ROW_PAGES + 2)) * (PAGE + 24) + 32);
    CHECK(s_size(path) >= 500LL * ROW_PAGES * PAGE);
    CHECK(s_rows(path) == 600);
    egide_db_ckpt_stop(&c, db);
    egide_db_close(&db);
}

/* Stopped, the commits checkpoint themselves again (SQLite's automatic
 * checkpoint at 1,000 pages); a checkpointer that cannot start leaves it
 * in place too. */
static void test_stop_and_failure(void)
{
    char path[256], wal[300];
    sqlite3 *db = s_fresh(path, sizeof path);
    REQUIRE(db);
    snprintf(wal, sizeof wal, "%s-wal", path);
    egide_db_ckpt_t *c = NULL;
    REQUIRE(egide_db_ckpt_start(path, db, &c) == EGIDE_OK);
    egide_db_ckpt_stop(&c, db);
    int64_t before = s_size(path);
    CHECK(s_commits(db, 400) == 0);
    CHECK(s_size(path) > before + 100LL * PAGE); /* a commit checkpointed */
    CHECK(s_size(wal) <= (EGIDE_DB_CKPT_PAGES + 2 * (ROW_PAGES + 2)) * (PAGE + 24) + 32);
    egide_db_close(&db);

    db = s_fresh(path, sizeof path);
    REQUIRE(db);
    char gone[300];
    snprintf(gone, sizeof gone, "%s/no-such-dir/db.sqlite", s_dir);
    CHECK(egide_db_ckpt_start(gone, db, &c) != EGIDE_OK);
    CHECK(c == NULL);
    before = s_size(path);
    CHECK(s_commits(db, 400) == 0);
    CHECK(s_size(path) > before + 100LL * PAGE);
    egide_db_close(&db);

    CHECK_RC(egide_db_ckpt_start(NULL, db, &c), EGIDE_ERR_INVALID);
    CHECK_RC(egide_db_ckpt_start(path, NULL, &c), EGIDE_ERR_INVALID);
    egide_db_ckpt_stop(NULL, NULL); /* nothing to stop */
    egide_db_ckpt_stop(&c, NULL);
    egide_db_ckpt_stats_t s = {.runs = 7};
    egide_db_ckpt_stats(NULL, &s);
    CHECK(s.runs == 0);
}

int main(void)
{
    if (!mkdtemp(s_dir))
        return 1;
    RUN(test_thread_checkpoints);
    RUN(test_while_a_writer_holds);
    RUN(test_hard_limit);
    RUN(test_stop_and_failure);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", s_dir);
    EGIDE_TEST_DONE();
}
