/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * bench_db_ckpt.c - what a commit costs when it also checkpoints: SQLite's
 * automatic checkpoint (in the commit that passes 1000 pages) against the
 * checkpointer thread (egide_db_ckpt.h), on databases opened as the daemons
 * open theirs (WAL, synchronous=FULL).  Each commit writes one row of ROW
 * bytes (an envelope's size) with an index entry, as a store's accept does;
 * the latency of each commit (BEGIN to COMMIT's return) is recorded.  Rounds
 * interleaved, each on a fresh file in DIR (default /tmp: use the disk the
 * stores live on).
 *
 *   build/bench_db_ckpt [COMMITS] [ROW] [ROUNDS] [DIR]
 *   build/bench_db_ckpt 5000 4300 3
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "egide/base/egide_rc.h"
#include "egide/store/egide_db.h"
#include "egide/store/egide_db_ckpt.h"

static double s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    double p50, p99, p999, max, total_s;
} s_res_t;

static int s_round(const char *dir, int thread, int commits, int row, s_res_t *out)
{
    char path[512];
    snprintf(path, sizeof path, "%s/egide-bench-ckpt-%d.sqlite", dir, (int)getpid());
    static const char *const sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char p[540];
        snprintf(p, sizeof p, "%s%s", path, sfx[i]);
        unlink(p);
    }
    sqlite3 *db = NULL;
    if (egide_db_open(path, false, &db) != EGIDE_OK ||
        egide_db_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, k BLOB, b BLOB);"
                          "CREATE INDEX t_k ON t(k)") != EGIDE_OK)
        return -1;
    egide_db_ckpt_t *c = NULL;
    if (thread && egide_db_ckpt_start(path, db, &c) != EGIDE_OK)
        return -1;
    double *lat = calloc((size_t)commits, sizeof *lat);
    if (!lat)
        return -1;
    int rc = 0;
    double t0 = s_now_ms();
    for (int i = 0; i < commits && !rc; i++) {
        double a = s_now_ms();
        sqlite3_stmt *st = NULL;
        rc = egide_db_begin(db) || egide_db_stmt(db,
                                                 "INSERT INTO t(k, b) VALUES(randomblob(16),"
                                                 " randomblob(?))",
                                                 &st);
        if (!rc) {
            sqlite3_bind_int(st, 1, row);
            rc = sqlite3_step(st) != SQLITE_DONE;
            egide_db_done(st);
        }
        if (!rc)
            rc = egide_db_commit(db) != EGIDE_OK;
        lat[i] = s_now_ms() - a;
    }
    out->total_s = (s_now_ms() - t0) / 1e3;
    egide_db_ckpt_stop(&c, db);
    egide_db_close(&db);
    for (int i = 0; i < 3; i++) {
        char p[540];
        snprintf(p, sizeof p, "%s%s", path, sfx[i]);
        unlink(p);
    }
    qsort(lat, (size_t)commits, sizeof *lat, s_cmp);
    out->p50 = lat[commits / 2];
    out->p99 = lat[(size_t)((double)commits * 0.99)];
    out->p999 = lat[(size_t)((double)commits * 0.999)];
    out->max = lat[commits - 1];
    free(lat);
    return rc ? -1 : 0;
}

int main(int argc, char **argv)
{
    int commits = argc > 1 ? atoi(argv[1]) : 5000;
    int row = argc > 2 ? atoi(argv[2]) : 4300;
    int rounds = argc > 3 ? atoi(argv[3]) : 3;
    const char *dir = argc > 4 ? argv[4] : "/tmp";
    if (commits < 100 || commits > 10000000 || row < 1 || row > 1 << 20 || rounds < 1 ||
        rounds > 50) {
        fprintf(stderr, "usage: bench_db_ckpt [COMMITS 100..10^7] [ROW] [ROUNDS] [DIR]\n");
        return 2;
    }
    s_res_t r[2][50];
    for (int k = 0; k < rounds; k++)
        for (int m = 0; m < 2; m++) {
            if (s_round(dir, m, commits, row, &r[m][k]) != 0) {
                fprintf(stderr, "round failed\n");
                return 1;
            }
            printf("%-8s round %d: %d commits in %.2f s, commit p50 %.2f p99 %.2f p99.9 %.2f"
                   " max %.2f ms\n",
                   m ? "thread" : "inline", k + 1, commits, r[m][k].total_s, r[m][k].p50,
                   r[m][k].p99, r[m][k].p999, r[m][k].max);
        }
    /* Medians over the rounds, then thread / inline. */
    double med[2][5];
    for (int m = 0; m < 2; m++)
        for (int f = 0; f < 5; f++) {
            double v[50];
            for (int k = 0; k < rounds; k++) {
                const s_res_t *x = &r[m][k];
                v[k] = f == 0   ? x->p50
                       : f == 1 ? x->p99
                       : f == 2 ? x->p999
                       : f == 3 ? x->max
                                : x->total_s;
            }
            qsort(v, (size_t)rounds, sizeof *v, s_cmp);
            med[m][f] = v[rounds / 2];
        }
    static const char *const names[] = {"commit p50", "commit p99", "commit p99.9", "commit max",
                                        "total"};
    printf("medians over %d rounds (inline = SQLite's checkpoint in the commit, thread ="
           " egide_db_ckpt)\n",
           rounds);
    for (int f = 0; f < 5; f++)
        printf("  %-13s inline %8.2f  thread %8.2f %s  ratio %.2f\n", names[f], med[0][f],
               med[1][f], f == 4 ? "s " : "ms", med[0][f] > 0 ? med[1][f] / med[0][f] : 0);
    return 0;
}
