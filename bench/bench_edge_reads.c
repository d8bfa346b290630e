/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * bench_edge_reads.c - what a CRIP worker's screens cost on a CRIP edge
 * seeded with years of a large department (issue 11, "must show"): p50 and
 * p99 of an inbox page, a deep inbox page (by cursor), a message view, a
 * case view, a search, the obligations list (overdue first page and a deep
 * page) and /metrics, each through the edge's own request handler
 * (edge_api_handle, the code GET requests run, without the socket), at
 * several store sizes, in one run.
 *
 *   bench_edge_reads [N ...]     N = messages in the store (default 10000
 *                                100000 1000000); REQS=200 requests per
 *                                figure; DIR=/var/tmp where the stores go;
 *                                KEEP=1 keeps each in DIR/egide-bench-reads.N
 *                                and reuses it on the next run
 *
 * The store is seeded as the daemon writes it: each message through
 * outbox_add / inbox_put and the obligation engine (edge_oblig_note, with
 * the parties' directory roles from a table: no directory here) in
 * transactions of 2,000, on the real fr-casf profile, 10 messages per case
 * (the referral from the 119 with its real payload, the qualification, the
 * assignment, a saisine of the parquet and its feedback, the report, the
 * feedback to the 119, acknowledgements) spread
 * over five years up to "now", so that old cases are closed, the last
 * months' open and a few overdue.  All data is invented.
 *
 * Prints one line per figure and size (with the rows each answer held, on
 * average: the page it returns), then the ratios of the largest size to the
 * smallest: p50, p99 and rows.
 */
#include <inttypes.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edge.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/domain/egide_deadline.h"
#include "egide/domain/egide_payload.h"

#define DAY      (24LL * 3600 * 1000)
#define PER_CASE 10
#define BATCH    2000

static int64_t s_clock;
static int64_t s_now(void)
{
    return s_clock;
}

static void s_quiet(egide_log_level level, const char *line, void *arg)
{
    (void)level, (void)line, (void)arg;
}

static double s_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int s_cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The messages of one case at the CRIP, in order: type, sent here?, days
 * after the referral.  The referral opens qualification, evaluation and
 * the year's export; the qualification, the report and the feedback close
 * them (the report opens sender_feedback). */
static const struct {
    const char *type;
    bool sent;
    int day;
} s_case[PER_CASE] = {
    {"snated.transmission", false, 0},  {"ip.qualification", true, 2},
    {"evaluation.assignment", true, 3}, {"parquet.saisine", true, 10},
    {"parents.notice", false, 15},      {"parquet.feedback", false, 40},
    {"evaluation.report", false, 70},   {"message.acknowledgement", true, 71},
    {"sender.feedback", true, 75},      {"message.acknowledgement", false, 76},
};

/* The roles of the nodes the bench's cases involve, as a directory gives
 * them (the bench runs without one). */
static void s_role_of(void *arg, const char *node_id, char *buf, size_t size)
{
    (void)arg;
    static const char *const map[][2] = {{"71.crip", "crip"},
                                         {"fr.snated", "snated"},
                                         {"71.tas.cluny-tournus", "tas"},
                                         {"71.parquet.macon", "parquet"}};
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i][0], node_id) == 0)
            egide_strlcpy(buf, map[i][1], size);
}

/* What the daemon's edge_obligations_note does, with the roles above. */
static egide_rc s_note(edge_t *e, edge_store_t *st, const uint8_t id[16], const char *type,
                       bool sent, const char *sender, const char *const *to, size_t n,
                       int64_t case_id, int64_t t, const egide_payload_facts_t *f)
{
    char sr[32], rr[4][32];
    const char *rp[4] = {NULL, NULL, NULL, NULL};
    s_role_of(NULL, sender, sr, sizeof sr);
    for (size_t i = 0; i < n && i < 4; i++) {
        s_role_of(NULL, to[i], rr[i], sizeof rr[i]);
        rp[i] = rr[i];
    }
    edge_oblig_self_t self = {e->profile, e->node_id, e->role, s_role_of, NULL};
    edge_oblig_msg_t m = {.msg_id = id,
                          .type = type,
                          .sent = sent,
                          .sender_id = sender,
                          .sender_role = sr,
                          .rcpt_ids = to,
                          .rcpt_roles = rp,
                          .n_rcpt = n,
                          .case_id = case_id,
                          .time_ms = t,
                          .facts = f};
    return edge_oblig_note(&self, st, &m);
}

typedef struct seed {
    edge_t *e;
    uint8_t *pb;
    size_t pb_len;
    egide_payload_facts_t facts;
    uint64_t seq;
} seed_t;

static void s_id(uint8_t id[16], uint64_t c, int k)
{
    memset(id, 0, 16);
    id[0] = 0xbe;
    for (int i = 0; i < 8; i++)
        id[1 + i] = (uint8_t)(c >> (8 * i));
    id[9] = (uint8_t)k;
}

/* Case c (0-based) of n_cases, its referral received at t0; only the
 * messages already due by "now" are written (the newest cases are open). */
static egide_rc s_seed_case(seed_t *sd, uint64_t c, int64_t t0, size_t *written)
{
    edge_t *e = sd->e;
    edge_store_t *st = e->api_store;
    int64_t case_id = 0;
    uint8_t first[16];
    for (int k = 0; k < PER_CASE; k++) {
        int64_t t = t0 + s_case[k].day * DAY + k * 60000;
        /* a few cases run late: their report comes after the 3 months */
        if (c % 50 == 7 && k >= 6)
            t += 40 * DAY;
        if (t > s_clock)
            return EGIDE_OK;
        uint8_t id[16], sha[32];
        s_id(id, c, k);
        if (k == 0)
            memcpy(first, id, 16);
        egide_sha256(id, 16, sha);
        const uint8_t *irt = k ? first : NULL;
        const char *type = s_case[k].type;
        egide_payload_facts_t f = sd->facts;
        f.received_ms = t0;
        snprintf(f.case_ref, sizeof f.case_ref, "CRIP71-%" PRIu64, c);
        egide_rc rc;
        const char *to_tas[] = {"71.tas.cluny-tournus"}, *to_snated[] = {"fr.snated"};
        const char *const *to =
            strcmp(type, "sender.feedback") == 0 || strcmp(type, "ip.qualification") == 0
                ? to_snated
                : to_tas;
        if (s_case[k].sent) {
            static const uint8_t env[64] = {1};
            edge_outbox_msg_t om = {
                .msg_id = id,
                .seq = ++sd->seq,
                .type = type,
                .urgency = 1,
                .in_reply_to = irt,
                .created_ms = t,
                .expires_ms = t + 30 * DAY,
                .envelope = env,
                .envelope_len = sizeof env,
                .sha256 = sha,
                .rcpt_ids = to,
                .n_rcpt = 1,
                .case_ref = f.case_ref,
                .commune = f.commune,
                .case_id = &case_id,
            };
            rc = edge_store_outbox_add(st, &om);
            if (!rc)
                rc = s_note(e, st, id, type, true, e->node_id, to, 1, case_id, t, &f);
        } else {
            const char *sender = k == 0 ? "fr.snated" : "71.tas.cluny-tournus";
            const char *self[] = {e->node_id};
            edge_inbox_msg_t im = {
                .msg_id = id,
                .sha256 = sha,
                .sender_id = sender,
                .type = type,
                .urgency = 1,
                .in_reply_to = irt,
                .created_ms = t - 1000,
                .received_ms = t,
                .content_type = k == 0 ? egide_payload_content_type(type) : "application/json",
                .payload = k == 0 ? sd->pb : (const uint8_t *)"{}",
                .payload_len = k == 0 ? sd->pb_len : 2,
                .receipt = (const uint8_t *)"delivered-receipt",
                .receipt_len = 17,
                .case_ref = f.case_ref,
                .commune = f.commune,
                .case_id = &case_id,
            };
            edge_inbox_put_result res;
            uint8_t *stored = NULL;
            size_t sl = 0;
            rc = edge_store_inbox_put(st, &im, &res, &stored, &sl);
            free(stored);
            if (!rc)
                rc = s_note(e, st, id, type, false, sender, self, 1, case_id, t, &f);
        }
        if (rc)
            return rc;
        (*written)++;
    }
    return EGIDE_OK;
}

/* n messages: n / PER_CASE cases, one referral every (5 years / cases). */
static egide_rc s_seed(seed_t *sd, size_t n, size_t *written)
{
    uint64_t cases = n / PER_CASE;
    int64_t span = 5 * 365 * DAY, step = span / (int64_t)(cases ? cases : 1);
    int64_t start = s_clock - span;
    *written = 0;
    egide_rc rc = EGIDE_OK;
    for (uint64_t c = 0; c < cases && !rc; c++) {
        if (c % (BATCH / PER_CASE) == 0 && (rc = edge_store_begin(sd->e->api_store)))
            break;
        rc = s_seed_case(sd, c, start + (int64_t)c * step, written);
        if (!rc && (c % (BATCH / PER_CASE) == BATCH / PER_CASE - 1 || c == cases - 1))
            rc = edge_store_commit(sd->e->api_store);
    }
    if (rc)
        edge_store_rollback(sd->e->api_store);
    return rc;
}

static json_t *s_get(edge_t *e, const char *path, const char *query, int *status)
{
    egide_http_req_t req = {.method = "GET",
                            .path = path,
                            .query = query,
                            .body = (const uint8_t *)"",
                            .authenticated_as = "token"};
    egide_http_resp_t resp = {.status = 500, .content_type = "application/json"};
    edge_api_handle(e, &req, &resp);
    *status = resp.status;
    json_t *j = NULL;
    if (resp.body && resp.content_type && strstr(resp.content_type, "json"))
        j = json_loadb(resp.body, resp.body_len, 0, NULL);
    free(resp.body);
    return j;
}

typedef struct figure {
    const char *name;
    double p50, p99;
    double rows; /* rows per answer, on average */
    int bad;     /* requests not answered 200 */
} figure_t;

#define N_FIG      12
#define FIG_EXPIRY 10 /* the last two: not a page, the loop's expiry tick */
static const char *const s_fig_names[N_FIG] = {
    "inbox page (newest 50)",
    "inbox page (deep, by cursor)",
    "message view",
    "case view",
    "search (type+commune, a year)",
    "obligations (open, first 50)",
    "obligations (overdue, 50)",
    "obligations (deep page)",
    "case list (newest 50)",
    "/metrics",
    "expiry tick (the loop, 5/s)",
    "expiry tick, before mig. 14",
};

/* The loop's expiry tick (edge_outbox_expire: a write transaction, five
 * times a second, under the writer lock), or the two statements it ran
 * before migration 14 (which read the whole outbox), rolled back.  0 when
 * it ran. */
static int s_expiry_tick(edge_t *e, bool before)
{
    edge_store_t *st = e->store;
    if (edge_store_begin(st) != EGIDE_OK)
        return -1;
    egide_rc rc = EGIDE_OK;
    if (!before) {
        rc = edge_store_outbox_expire(st, s_clock, NULL);
    } else {
        sqlite3_stmt *q = NULL;
        static const char *const old[2] = {
            "UPDATE outbox_rcpt SET state=4 WHERE state=0 AND msg_id IN"
            " (SELECT msg_id FROM outbox WHERE expires_ms<=?1)",
            "UPDATE outbox SET state=3, done_ms=?1 WHERE state=0 AND expires_ms<=?1"};
        for (int i = 0; i < 2 && !rc; i++) {
            if (sqlite3_prepare_v2(edge_store_sqlite_db(st), old[i], -1, &q, NULL) != SQLITE_OK) {
                rc = EGIDE_ERR_DB;
                break;
            }
            sqlite3_bind_int64(q, 1, s_clock);
            if (sqlite3_step(q) != SQLITE_DONE)
                rc = EGIDE_ERR_DB;
            sqlite3_finalize(q);
        }
    }
    if (!rc && !before)
        rc = edge_store_commit(st);
    edge_store_rollback(st);
    return rc ? -1 : 0;
}

/* How many rows an answer holds (the page it returns): its list's length,
 * or 1 for an object without one. */
static size_t s_rows(const json_t *j)
{
    static const char *const lists[] = {"messages", "obligations", "cases"};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        const json_t *a = json_object_get(j, lists[i]);
        if (json_is_array(a))
            return json_array_size(a);
    }
    return 1;
}

/* A cursor deep in a list: follow `next` `pages` times from the start. */
static char *s_deep_cursor(edge_t *e, const char *path, const char *base, const char *member,
                           int pages)
{
    char q[512];
    char *cur = NULL;
    for (int i = 0; i < pages; i++) {
        int st = 0;
        snprintf(q, sizeof q, "%s%s%s", base, cur ? "&after=" : "", cur ? cur : "");
        json_t *j = s_get(e, path, q, &st);
        const char *nx = json_string_value(json_object_get(j, "next"));
        (void)member;
        char *copy = nx ? strdup(nx) : NULL;
        json_decref(j);
        if (!copy)
            break;
        free(cur);
        cur = copy;
    }
    return cur;
}

static void s_measure(edge_t *e, size_t n_msgs, int reqs, figure_t *fig)
{
    uint64_t cases = n_msgs / PER_CASE;
    double *t = calloc((size_t)reqs, sizeof *t);
    char *deep_inbox = s_deep_cursor(e, "/v1/messages", "box=inbox&limit=100", "next", 20);
    char *deep_obl = s_deep_cursor(e, "/v1/deadlines", "state=met&limit=100", "next", 20);
    unsigned seed = 12345;
    for (int f = 0; f < N_FIG; f++) {
        fig[f].name = s_fig_names[f];
        fig[f].bad = 0;
        if (f == FIG_EXPIRY && s_expiry_tick(e, false) != 0) /* what was due expires first */
            fig[f].bad++;
        size_t rows = 0;
        for (int r = 0; r < reqs; r++) {
            char path[128] = "/v1/messages", q[512] = "";
            uint64_t c = cases ? (uint64_t)rand_r(&seed) % cases : 0;
            uint8_t id[16];
            char hex[33];
            s_id(id, c, 0);
            egide_hex_encode(id, 16, hex);
            switch (f) {
            case 0:
                snprintf(q, sizeof q, "box=inbox&limit=50");
                break;
            case 1:
                snprintf(q, sizeof q, "box=inbox&limit=50%s%s", deep_inbox ? "&after=" : "",
                         deep_inbox ? deep_inbox : "");
                break;
            case 2:
                snprintf(path, sizeof path, "/v1/messages/%s", hex);
                break;
            case 3: {
                /* the case of that referral, by its message */
                int st = 0;
                snprintf(path, sizeof path, "/v1/messages/%s", hex);
                json_t *j = s_get(e, path, "", &st);
                json_int_t cid = json_integer_value(json_object_get(j, "case_id"));
                json_decref(j);
                snprintf(path, sizeof path, "/v1/cases/%lld", (long long)(cid ? cid : 1));
                break;
            }
            case 4: {
                /* a year of one commune's referrals, from a day of the
                 * first four years: a full page at every size */
                int64_t from = s_clock - (int64_t)(365 + rand_r(&seed) % (4 * 365)) * DAY;
                snprintf(path, sizeof path, "/v1/search");
                snprintf(q, sizeof q,
                         "type=snated.transmission&commune=71137&from=%lld&to=%lld&limit=50",
                         (long long)from, (long long)(from + 365 * DAY));
                break;
            }
            case 5:
                snprintf(path, sizeof path, "/v1/deadlines");
                snprintf(q, sizeof q, "state=open&limit=50");
                break;
            case 6:
                snprintf(path, sizeof path, "/v1/deadlines");
                snprintf(q, sizeof q, "state=overdue&limit=50");
                break;
            case 7:
                snprintf(path, sizeof path, "/v1/deadlines");
                snprintf(q, sizeof q, "state=met&limit=50%s%s", deep_obl ? "&after=" : "",
                         deep_obl ? deep_obl : "");
                break;
            case 8:
                snprintf(path, sizeof path, "/v1/cases");
                snprintf(q, sizeof q, "limit=50");
                break;
            case 9:
                snprintf(path, sizeof path, "/metrics");
                break;
            }
            int st = 0;
            double a = s_ms();
            if (f >= FIG_EXPIRY) {
                st = s_expiry_tick(e, f > FIG_EXPIRY) == 0 ? 200 : 500;
                t[r] = s_ms() - a;
                if (st != 200)
                    fig[f].bad++;
                continue;
            }
            json_t *j = s_get(e, path, q, &st);
            t[r] = s_ms() - a;
            rows += j ? s_rows(j) : 0;
            json_decref(j);
            if (st != 200)
                fig[f].bad++;
        }
        fig[f].rows = (double)rows / reqs;
        qsort(t, (size_t)reqs, sizeof *t, s_cmpd);
        fig[f].p50 = t[reqs / 2];
        fig[f].p99 = t[(reqs * 99) / 100 < reqs ? (reqs * 99) / 100 : reqs - 1];
    }
    free(deep_inbox);
    free(deep_obl);
    free(t);
}

int main(int argc, char **argv)
{
    egide_log_set_sink(s_quiet, NULL);
    size_t sizes[8] = {10000, 100000, 1000000};
    int n_sizes = 3;
    if (argc > 1) {
        n_sizes = 0;
        for (int i = 1; i < argc && n_sizes < 8; i++) {
            char *end = NULL;
            unsigned long long v = strtoull(argv[i], &end, 10);
            if (!end || *end || v < PER_CASE) {
                fprintf(stderr, "bench_edge_reads: %s: a number of messages >= %d\n", argv[i],
                        PER_CASE);
                return 2;
            }
            sizes[n_sizes++] = (size_t)v;
        }
    }
    int reqs = getenv("REQS") ? atoi(getenv("REQS")) : 200;
    if (reqs < 10 || reqs > 100000)
        reqs = 200;
    const char *src = getenv("EGIDE_SOURCE_DIR") ? getenv("EGIDE_SOURCE_DIR") : ".";
    char prof[1024], sample[1024], err[256];
    snprintf(prof, sizeof prof, "%s/deploy/profiles/fr-casf.ini", src);
    snprintf(sample, sizeof sample, "%s/deploy/samples/snated-cluny.json", src);
    egide_deadline_profile_t *profile = NULL;
    if (egide_deadline_profile_load(prof, &profile, err, sizeof err)) {
        fprintf(stderr, "bench_edge_reads: %s (run from the source tree or set EGIDE_SOURCE_DIR)\n",
                err);
        return 1;
    }
    uint8_t *js = NULL;
    size_t jl = 0;
    s_clock = 1796000000000LL; /* 2026-11-29, fixed */
    seed_t sd = {0};
    char *errors = NULL;
    if (egide_file_read(sample, 1 << 20, &js, &jl) ||
        egide_payload_from_json("snated.transmission", (const char *)js, jl, s_clock, &sd.pb,
                                &sd.pb_len, &sd.facts, &errors)) {
        fprintf(stderr, "bench_edge_reads: %s: %s\n", sample, errors ? errors : "unreadable");
        return 1;
    }
    free(js);
    const char *base = getenv("DIR") ? getenv("DIR") : "/var/tmp";
    figure_t fig[8][N_FIG];
    printf("CRIP edge reads through edge_api_handle, %d requests per figure (ms)\n", reqs);
    for (int s = 0; s < n_sizes; s++) {
        char dir[512], path[600];
        /* KEEP: a fixed place per size, seeded once and reused by later
         * runs (the store is then migrated to this build's schema first). */
        bool keep = getenv("KEEP") != NULL, reuse = false;
        if (keep) {
            snprintf(dir, sizeof dir, "%s/egide-bench-reads.%zu", base, sizes[s]);
            snprintf(path, sizeof path, "%s/crip.db", dir);
            reuse = access(path, F_OK) == 0;
            if (!reuse && mkdir(dir, 0700) != 0) {
                perror(dir);
                return 1;
            }
        } else {
            snprintf(dir, sizeof dir, "%s/egide-bench-reads.XXXXXX", base);
            if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
            }
        }
        snprintf(path, sizeof path, "%s/crip.db", dir);
        static edge_t E;
        memset(&E, 0, sizeof E);
        pthread_mutex_init(&E.dir_lock, NULL);
        pthread_mutex_init(&E.api_lock, NULL);
        egide_strlcpy(E.node_id, "71.crip", sizeof E.node_id);
        egide_strlcpy(E.role, "crip", sizeof E.role);
        E.profile = profile;
        E.now_ms = s_now;
        E.wake[0] = E.wake[1] = -1;
        double o = s_ms();
        if (edge_store_sqlite_ops.open(path, &E.store)) {
            fprintf(stderr, "bench_edge_reads: cannot open %s\n", path);
            return 1;
        }
        double open_s = (s_ms() - o) / 1e3;
        E.api_store = E.store;
        sd.e = &E;
        sd.seq = 0;
        size_t written = 0;
        double a = s_ms();
        egide_rc rc = reuse ? EGIDE_OK : s_seed(&sd, sizes[s], &written);
        double seed_s = (s_ms() - a) / 1e3;
        if (reuse)
            printf("\n%zu messages: the store kept in %s, opened (and migrated) in %.1f s\n",
                   sizes[s], dir, open_s);
        if (rc) {
            fprintf(stderr, "bench_edge_reads: seeding failed: %s\n", egide_strerror(rc));
            return 1;
        }
        if (!reuse)
            printf("\n%zu messages (%zu written, %zu cases), seeded in %.1f s (%.0f messages/s)\n",
                   sizes[s], written, sizes[s] / PER_CASE, seed_s, (double)written / seed_s);
        edge_oblig_counts_t oc;
        if (edge_store_obligation_counts(E.store, s_clock, &oc) == EGIDE_OK)
            printf("  obligations stored: %lld open, %lld overdue, %lld met, %lld late\n",
                   (long long)oc.open, (long long)oc.overdue, (long long)oc.met,
                   (long long)oc.late);
        s_measure(&E, sizes[s], reqs, fig[s]);
        for (int f = 0; f < N_FIG; f++)
            printf("  %-30s p50 %8.3f  p99 %8.3f  rows %5.1f%s\n", fig[s][f].name, fig[s][f].p50,
                   fig[s][f].p99, fig[s][f].rows, fig[s][f].bad ? "  (some answers not 200!)" : "");
        edge_store_close(&E.store);
        E.api_store = NULL;
        pthread_mutex_destroy(&E.dir_lock);
        pthread_mutex_destroy(&E.api_lock);
        char cmd[700];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (getenv("KEEP")) /* KEEP=1 leaves the store for a look with sqlite3 */
            printf("  store kept in %s\n", dir);
        else if (system(cmd) != 0)
            fprintf(stderr, "bench_edge_reads: could not remove %s\n", dir);
    }
    if (n_sizes > 1) {
        printf("\nat %zu messages / at %zu messages:    p50      p99     rows\n",
               sizes[n_sizes - 1], sizes[0]);
        for (int f = 0; f < N_FIG; f++) {
            const figure_t *a = &fig[0][f], *b = &fig[n_sizes - 1][f];
            printf("  %-30s %6.2fx  %6.2fx  %6.2fx\n", s_fig_names[f],
                   a->p50 > 0 ? b->p50 / a->p50 : 0.0, a->p99 > 0 ? b->p99 / a->p99 : 0.0,
                   a->rows > 0 ? b->rows / a->rows : 0.0);
        }
    }
    egide_free_secret(sd.pb, sd.pb_len);
    egide_deadline_profile_destroy(&profile);
    return 0;
}
