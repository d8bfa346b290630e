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
 * usage: bench_broker_store [ACCEPTS]   (default 2000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker_store.h"
#include "egide/crypto/egide_crypto.h"

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* n accepts from seq0, batch per commit; accepts per second, < 0 on error. */
static double s_run(broker_store_t *s, uint64_t seq0, int n, int batch)
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
            uint64_t leaf = 0;
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
                                 .len = sizeof data,
                                 .receipt = receipt,
                                 .receipt_len = sizeof receipt,
                                 .recipients = rcpt,
                                 .n_recipients = 1};
            if (egide_auditlog_append(log, sha, sizeof sha, &leaf) != EGIDE_OK)
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
    char path[] = "/tmp/egide-bench-store-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 1;
    close(fd);
    unlink(path);
    s_bench(&broker_store_sqlite_ops, path, n);
    unlink(path);
    char side[64];
    for (const char *ext = "-wal\0-shm\0"; *ext; ext += strlen(ext) + 1) {
        snprintf(side, sizeof side, "%s%s", path, ext);
        unlink(side);
    }
    const char *pg = getenv("EGIDE_BENCH_PG");
    if (pg && pg[0])
        s_bench(&broker_store_pg_ops, pg, n);
    else
        printf("postgresql skipped (set EGIDE_BENCH_PG to a conninfo of an empty database)\n");
    return 0;
}
