/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * bench_auditlog_pg.c - the cost of a broker takeover's recompute on the
 * PostgreSQL audit log: egide_auditlog_verify_all (every leaf hashed again,
 * every stored hash compared; no checkpoint, no key) at each power of ten
 * up to ENTRIES, the log grown in batched transactions in between.
 *
 * usage: bench_auditlog_pg CONNINFO [ENTRIES]   (default 100000; a fresh
 * database: the audit tables are created there and left; e.g. a
 * temporary cluster of tests/tools/pg-test-cluster.sh)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "egide/audit/egide_auditlog.h"
#include "egide/audit/egide_auditverify.h"
#include "egide/base/egide_util.h"
#include "egide/store/egide_auditstore_pg.h"
#include "egide/store/egide_pg.h"

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The same invented events as bench_auditlog. */
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

int main(int argc, char **argv)
{
    int64_t total = 100000;
    if (argc < 2 || (argc > 2 && egide_parse_int64(argv[2], 1000, 100000000, &total) != EGIDE_OK)) {
        fprintf(stderr, "usage: %s CONNINFO [ENTRIES >= 1000]\n", argv[0]);
        return 2;
    }
    egide_pg_t *pg = NULL;
    egide_auditstore_pg_t *as = NULL;
    egide_auditlog_t *log = NULL;
    if (egide_pg_open(argv[1], false, &pg) != EGIDE_OK ||
        egide_auditstore_pg_new(pg, &as) != EGIDE_OK ||
        egide_auditlog_open_store(&egide_auditstore_pg_ops, as, &log) != EGIDE_OK) {
        fprintf(stderr, "cannot open the PostgreSQL audit log\n");
        return 1;
    }
    uint64_t n = egide_auditlog_size(log), next = 1000;
    printf("egide audit log on PostgreSQL: verify_all (the takeover's recompute) up to %lld\n",
           (long long)total);
    double tb = 0;
    while (next <= (uint64_t)total) {
        double t0 = s_now();
        while (n < next) {
            if (egide_pg_begin(pg) != EGIDE_OK)
                return 1;
            for (int k = 0; k < 1000 && n < next; k++, n++)
                if (s_append(log, n) != EGIDE_OK)
                    return 1;
            if (egide_pg_commit(pg) != EGIDE_OK)
                return 1;
        }
        tb += s_now() - t0;
        t0 = s_now();
        egide_auditverify_report_t rep;
        egide_rc rc = egide_auditlog_verify_all(log, NULL, NULL, false, &rep);
        double dt = s_now() - t0;
        printf("verify_all at %9llu leaves: %8.2f s (%s; %.0f leaves/s); built in %.1f s so far\n",
               (unsigned long long)n, dt, rc == EGIDE_OK ? "ok" : egide_strerror(rc),
               (double)n / dt, tb);
        fflush(stdout);
        next *= 10;
    }
    egide_auditlog_destroy(&log);
    egide_auditstore_pg_destroy(&as);
    egide_pg_close(&pg);
    return 0;
}
