/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * bench_auditlog.c - speed and memory of the SQLite audit log.
 *
 * Prints: appends per second with one transaction (and so one fsync, the
 * broker's synchronous=FULL) per append and batched; the time to make and to
 * check an inclusion and a consistency proof at 10^6 entries; the time of a
 * full egide_auditlog_verify_all at 10^6; and the max RSS (getrusage) at
 * 10^4, 10^5 and 10^6 entries, which stays flat because nothing but SQLite's
 * bounded page cache is kept in memory.
 *
 * usage: bench_auditlog [ENTRIES]   (default 1000000; the log is built in a
 * temp file in batched transactions and removed at the end)
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "egide/audit/egide_auditlog.h"
#include "egide/protocol/egide_checkpoint.h"
#include "egide/store/egide_db.h"
#include "egide/audit/egide_merkle.h"
#include "egide/base/egide_util.h"

#define ORIGIN "egide.71.broker/audit"

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long s_maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static egide_rc s_append(egide_auditlog_t *log, uint64_t i)
{
    static char *recips[2] = {"71.crip", "71.tas.macon"};
    Egide__V1__AuditEvent ev = EGIDE__V1__AUDIT_EVENT__INIT;
    uint8_t id[16] = {0}, env[32];
    uint64_t m = i / 4;
    memcpy(id, &m, sizeof m);
    id[15] = 0x5A;
    memset(env, (int)(m & 0xFF), 32);
    ev.version = 1;
    ev.type = (Egide__V1__AuditEventType)(1 + i % 4);
    ev.msg_id.data = id;
    ev.msg_id.len = 16;
    ev.envelope_sha256.data = env;
    ev.envelope_sha256.len = 32;
    ev.sender_id = "71.police.macon";
    ev.n_recipient_ids = 2;
    ev.recipient_ids = recips;
    ev.message_type = "ip.transmission";
    ev.node_id = "71.broker";
    ev.time_ms = 1790000000000LL + (int64_t)i;
    return egide_auditlog_append_event(log, &ev, NULL);
}

static uint64_t s_rand(uint64_t n)
{
    uint64_t r = 0;
    egide_random(&r, sizeof r);
    return n ? r % n : 0;
}

int main(int argc, char **argv)
{
    int64_t total = 1000000;
    if (argc > 1 && egide_parse_int64(argv[1], 10000, 100000000, &total) != EGIDE_OK) {
        fprintf(stderr, "usage: %s [ENTRIES >= 10000]\n", argv[0]);
        return 2;
    }
    char dir[] = "/tmp/egide-bench-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char path[128];
    snprintf(path, sizeof path, "%s/audit.sqlite", dir);
    sqlite3 *db = NULL;
    egide_auditlog_t *log = NULL;
    if (egide_db_open(path, false, &db) != EGIDE_OK || egide_auditlog_open(db, &log) != EGIDE_OK)
        return 1;
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    printf("egide audit log bench: %lld entries, file %s\n", (long long)total, path);

    /* 1. One transaction (one fsync) per append, bounded by count and time. */
    uint64_t n = 0;
    double t0 = s_now();
    while (n < 2000 && s_now() - t0 < 5.0) {
        egide_db_begin(db);
        if (s_append(log, n) != EGIDE_OK || egide_db_commit(db) != EGIDE_OK)
            return 1;
        n++;
    }
    double dt = s_now() - t0;
    printf("appends, 1 transaction each:   %8.0f /s  (%llu in %.2f s)\n", (double)n / dt,
           (unsigned long long)n, dt);

    /* 2. Batched: 1000 appends per transaction, up to 10^4 entries. */
    t0 = s_now();
    uint64_t start = n;
    while (n < 10000) {
        egide_db_begin(db);
        for (int k = 0; k < 1000 && n < 10000; k++, n++)
            if (s_append(log, n) != EGIDE_OK)
                return 1;
        if (egide_db_commit(db) != EGIDE_OK)
            return 1;
    }
    dt = s_now() - t0;
    printf("appends, 1000 per transaction: %8.0f /s\n", (double)(n - start) / dt);
    printf("max RSS at %8llu entries: %6ld KiB\n", (unsigned long long)n, s_maxrss_kb());

    /* 3. Grow to `total` in batches of 10^4, reporting RSS at each power of ten. */
    t0 = s_now();
    start = n;
    uint64_t next_report = 100000;
    while (n < (uint64_t)total) {
        egide_db_begin(db);
        for (int k = 0; k < 10000 && n < (uint64_t)total; k++, n++)
            if (s_append(log, n) != EGIDE_OK)
                return 1;
        if (egide_db_commit(db) != EGIDE_OK)
            return 1;
        if (n >= next_report) {
            printf("max RSS at %8llu entries: %6ld KiB\n", (unsigned long long)n, s_maxrss_kb());
            next_report *= 10;
        }
    }
    dt = s_now() - t0;
    printf("build to %llu: %.1f s (%.0f appends/s, batches of 10^4)\n", (unsigned long long)n, dt,
           (double)(n - start) / dt);
    char *note = NULL;
    if (egide_auditlog_checkpoint(log, ORIGIN, ORIGIN, key, &note) != EGIDE_OK)
        return 1;
    egide_checkpoint_t cp;
    if (egide_checkpoint_verify(note, strlen(note), ORIGIN, key, &cp) != EGIDE_OK)
        return 1;
    free(note);

    /* 4. Proofs at the full size: make, then check, averaged. */
    const int reps = 2000;
    double make = 0, check = 0;
    size_t hashes = 0;
    for (int r = 0; r < reps; r++) {
        uint64_t idx = s_rand(n);
        uint8_t(*p)[32] = NULL, lh[32];
        size_t pn = 0;
        double a = s_now();
        if (egide_auditlog_inclusion(log, idx, n, &p, &pn) != EGIDE_OK ||
            egide_auditlog_leaf_hash(log, idx, lh) != EGIDE_OK)
            return 1;
        double b = s_now();
        if (egide_merkle_verify_inclusion(lh, idx, n, (const uint8_t(*)[32])p, pn, cp.root) !=
            EGIDE_OK)
            return 1;
        double c = s_now();
        make += b - a;
        check += c - b;
        hashes += pn;
        free(p);
    }
    printf("inclusion proof at %llu: make %.1f us, check %.1f us (%.1f hashes)\n",
           (unsigned long long)n, make / reps * 1e6, check / reps * 1e6, (double)hashes / reps);
    make = check = 0;
    hashes = 0;
    for (int r = 0; r < reps; r++) {
        uint64_t m = 1 + s_rand(n - 1);
        uint8_t(*p)[32] = NULL, r1[32];
        size_t pn = 0;
        if (egide_auditlog_root(log, m, r1) != EGIDE_OK)
            return 1;
        double a = s_now();
        if (egide_auditlog_consistency(log, m, n, &p, &pn) != EGIDE_OK)
            return 1;
        double b = s_now();
        if (egide_merkle_verify_consistency(m, n, r1, cp.root, (const uint8_t(*)[32])p, pn) !=
            EGIDE_OK)
            return 1;
        double c = s_now();
        make += b - a;
        check += c - b;
        hashes += pn;
        free(p);
    }
    printf("consistency proof to %llu: make %.1f us, check %.1f us (%.1f hashes)\n",
           (unsigned long long)n, make / reps * 1e6, check / reps * 1e6, (double)hashes / reps);

    /* 5. The whole log recomputed (what `egide audit verify --db` does). */
    t0 = s_now();
    egide_auditverify_report_t rep;
    egide_rc rc = egide_auditlog_verify_all(log, ORIGIN, key, true, &rep);
    dt = s_now() - t0;
    printf("verify_all at %llu: %.1f s (%s), max RSS now %ld KiB\n", (unsigned long long)n, dt,
           rc == EGIDE_OK ? "ok" : "FAILED", s_maxrss_kb());

    egide_auditlog_destroy(&log);
    egide_db_close(&db);
    EVP_PKEY_free(key);
    char f[160];
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(f, sizeof f, "%s%s", path, sfx[i]);
        unlink(f);
    }
    rmdir(dir);
    return rc == EGIDE_OK ? 0 : 1;
}
