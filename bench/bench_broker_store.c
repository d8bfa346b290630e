/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * bench_broker_store.c - accepts per second on each broker store backend:
 * an envelope (1 KiB), one delivery and its audit leaf per accept, with a
 * commit per accept (the broker with group_commit = false) and with 64
 * accepts per commit (group commit).  SQLite runs on a temp file
 * (synchronous=FULL); PostgreSQL on EGIDE_BENCH_PG (a conninfo of an empty
 * database; skipped when unset).  One run, one machine: a figure to compare
 * the two, not a promise.
 *
 * Then the queue gauges (broker_store_counts, read every second by the
 * loop) with 10^4, 10^5 and 10^6 deliveries queued (an offline recipient's
 * backlog; GAUGE_MAX caps it), against counting the queued rows as the
 * store did before its counters (the same query, on the same store, in the
 * same run): median of 11 reads each.
 *
 * usage: bench_broker_store [ACCEPTS] [GAUGE_MAX]   (default 2000 1000000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "broker_store.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/store/egide_pg.h"

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* n accepts from seq0, batch per commit; accepts per second, < 0 on error. */
static double s_run_sized(broker_store_t *s, uint64_t seq0, int n, int batch, size_t len,
                          bool audit)
{
    static uint8_t data[1024], receipt[200];
    memset(data, 0x42, sizeof data);
    memset(receipt, 0x24, sizeof receipt);
    const char *rcpt[1] = {"71.crip"};
    egide_auditlog_t *log = broker_store_audit(s);
    double t0 = s_now();
    for (int i = 0; i < n; i += batch) {
        if (broker_store_begin(s) != EGIDE_OK)
            return -1;
        for (int k = 0; k < batch && i + k < n; k++) {
            uint64_t seq = seq0 + (uint64_t)(i + k);
            uint8_t id[16] = {0}, sha[32];
            memcpy(id, &seq, sizeof seq);
            memcpy(data, &seq, sizeof seq);
            egide_sha256(data, sizeof data, sha);
            uint64_t leaf = seq;
            broker_accept_t a = {.msg_id = id,
                                 .sha256 = sha,
                                 .sender_id = "fr.snated",
                                 .sender_seq = seq,
                                 .type = "snated.transmission",
                                 .urgency = 1,
                                 .created_ms = 1,
                                 .expires_ms = 1e12,
                                 .received_ms = 2,
                                 .data = data,
                                 .len = len,
                                 .receipt = receipt,
                                 .receipt_len = sizeof receipt,
                                 .recipients = rcpt,
                                 .n_recipients = 1};
            if (audit && egide_auditlog_append(log, sha, sizeof sha, &leaf) != EGIDE_OK)
                return -1;
            a.leaf_index = leaf;
            if (broker_store_accept(s, &a) != EGIDE_OK)
                return -1;
        }
        if (broker_store_commit(s) != EGIDE_OK)
            return -1;
    }
    return n / (s_now() - t0);
}

static double s_run(broker_store_t *s, uint64_t seq0, int n, int batch)
{
    return s_run_sized(s, seq0, n, batch, 1024, true);
}

static int s_cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The old gauge: the queued rows counted (what the store ran every second
 * before its counters).  ms, < 0 on error. */
static double s_count_rows(const broker_store_ops_t *ops, const char *loc)
{
    static const char *sql = "SELECT (SELECT count(*) FROM deliveries WHERE state=0),"
                             " (SELECT count(*) FROM relays WHERE done=0)";
    double t0 = s_now();
    if (ops == &broker_store_sqlite_ops) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        bool ok = sqlite3_open_v2(loc, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
                  sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK;
        t0 = s_now();
        ok = ok && sqlite3_step(st) == SQLITE_ROW;
        double t = s_now();
        sqlite3_finalize(st);
        sqlite3_close(db);
        return ok ? (t - t0) * 1e3 : -1;
    }
    egide_pg_t *pg = NULL;
    if (egide_pg_open(loc, true, &pg) != EGIDE_OK)
        return -1;
    t0 = s_now();
    egide_rc rc = egide_pg_exec(pg, "SELECT (SELECT count(*) FROM deliveries WHERE state=0),"
                                    " (SELECT count(*) FROM relays WHERE NOT done)");
    double t = s_now();
    egide_pg_close(&pg);
    return rc == EGIDE_OK ? (t - t0) * 1e3 : -1;
}

/* The gauges at 10^4, 10^5, 10^6 queued deliveries (up to max). */
static void s_gauges(const broker_store_ops_t *ops, const char *loc, int max, uint64_t seq0)
{
    broker_store_t *s = NULL;
    if (broker_store_open(ops, loc, false, &s) != EGIDE_OK)
        return;
    uint64_t have = 0, relays = 0;
    if (broker_store_counts(s, &have, &relays) != EGIDE_OK) {
        broker_store_close(&s);
        return;
    }
    for (uint64_t target = 10000; target <= (uint64_t)max; target *= 10) {
        if (have < target &&
            s_run_sized(s, seq0 + have, (int)(target - have), 1000, 64, false) < 0) {
            printf("%-10s cannot grow the queue\n", ops->name);
            break;
        }
        double now[11], old[11];
        uint64_t q = 0;
        for (int i = 0; i < 11; i++) {
            double t0 = s_now();
            if (broker_store_counts(s, &q, &relays) != EGIDE_OK)
                q = 0;
            now[i] = (s_now() - t0) * 1e3;
            old[i] = s_count_rows(ops, loc);
        }
        qsort(now, 11, sizeof now[0], s_cmpd);
        qsort(old, 11, sizeof old[0], s_cmpd);
        printf("%-10s queued %8llu: gauges read %7.3f ms (counting the rows: %8.3f ms, %.0fx)\n",
               ops->name, (unsigned long long)q, now[5], old[5], now[5] > 0 ? old[5] / now[5] : 0);
        have = target;
    }
    broker_store_close(&s);
}

static void s_bench(const broker_store_ops_t *ops, const char *loc, int n)
{
    broker_store_t *s = NULL;
    if (broker_store_open(ops, loc, false, &s) != EGIDE_OK) {
        printf("%-10s cannot open the store\n", ops->name);
        return;
    }
    double one = s_run(s, 1, n / 4, 1);
    double group = s_run(s, (uint64_t)n, n, 64);
    printf("%-10s %8.0f accepts/s (commit each)  %8.0f accepts/s (64 per commit)\n", ops->name, one,
           group);
    broker_store_close(&s);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    if (n < 64 || n > 1000000)
        n = 2000;
    int gmax = argc > 2 ? atoi(argv[2]) : 1000000;
    if (gmax < 0 || gmax > 10000000)
        gmax = 1000000;
    char path[] = "/tmp/egide-bench-store-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 1;
    close(fd);
    unlink(path);
    s_bench(&broker_store_sqlite_ops, path, n);
    s_gauges(&broker_store_sqlite_ops, path, gmax, 10000000);
    unlink(path);
    char side[64];
    for (const char *ext = "-wal\0-shm\0"; *ext; ext += strlen(ext) + 1) {
        snprintf(side, sizeof side, "%s%s", path, ext);
        unlink(side);
    }
    const char *pg = getenv("EGIDE_BENCH_PG");
    if (pg && pg[0]) {
        s_bench(&broker_store_pg_ops, pg, n);
        s_gauges(&broker_store_pg_ops, pg, gmax, 10000000);
    } else
        printf("postgresql skipped (set EGIDE_BENCH_PG to a conninfo of an empty database)\n");
    return 0;
}
