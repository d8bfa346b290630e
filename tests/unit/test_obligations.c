/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_obligations.c - the edge's obligation engine over whole cases, on a
 * fixed clock, with one store per node (the 119, the CRIP, the TAS
 * Cluny-Tournus, the parquet, the ODPE) and the real fr-casf profile.
 * Each message goes the way the daemon takes it: queued in the sender's
 * outbox (outbox_add, then edge_oblig_note as edge_outbox.c's s_queue
 * does) and stored in each recipient's inbox (inbox_put, then
 * edge_oblig_note as edge_inbox.c's s_store does), each in one
 * transaction.  The parties' roles are the ones the directory gives them
 * (edge_obligations_note looks them up there; here they are the nodes').
 * After every step the test says exactly which obligations each node
 * lists, in which role and state.  Also: a backdated received_at, the
 * per-year observatory export, late closing, release, the OPP clocks of
 * the parquet (actor = sender), a message closing
 * nothing, isolation of cases, rollback with the message, the payload
 * facts the engine uses, GET /v1/deadlines through edge_api_handle, and a
 * recurring deadline (the ASE's yearly situation reports).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edge.h"
#include "egide/base/egide_date.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/domain/egide_payload.h"
#include "egide_test.h"

#define SEC  1000LL
#define HOUR (3600LL * SEC)
#define DAY  (24 * HOUR)

typedef struct node {
    const char *id;
    const char *role;
    edge_store_t *st;
} node_t;

static node_t N119 = {"fr.snated", "snated", NULL};
static node_t CRIP = {"71.crip", "crip", NULL};
static node_t TAS = {"71.tas.cluny-tournus", "tas", NULL};
static node_t PARQ = {"71.parquet.macon", "parquet", NULL};
static node_t ODPE = {"71.odpe", "observatory", NULL};
static node_t ASE = {"71.ase", "ase", NULL};
static node_t JE = {"71.je.macon", "court", NULL};
static node_t TAS2 = {"71.tas.autun", "tas", NULL};           /* a territory not assigned */
static node_t PARQ2 = {"71.parquet.chalon", "parquet", NULL}; /* another parquet */
static node_t *const ALL[] = {&N119, &CRIP, &TAS, &PARQ, &ODPE, &ASE, &JE, &TAS2, &PARQ2};
#define N_ALL (sizeof ALL / sizeof ALL[0])

static egide_deadline_profile_t *P;
static char s_dir[256];
static int s_run_no, s_msg_no;

static void s_quiet(egide_log_level level, const char *line, void *arg)
{
    (void)level, (void)line, (void)arg;
}

static int64_t s_ts(const char *s)
{
    int64_t ms = 0;
    if (egide_datetime_parse(s, &ms) != EGIDE_OK && egide_date_parse(s, &ms) != EGIDE_OK)
        fprintf(stderr, "bad time in test: %s\n", s);
    return ms;
}

/* Fresh stores for every node (one case story per test). */
static void s_fresh(void)
{
    s_run_no++;
    for (size_t i = 0; i < N_ALL; i++) {
        edge_store_close(&ALL[i]->st);
        char p[512];
        snprintf(p, sizeof p, "%s/%s-%d.db", s_dir, ALL[i]->id, s_run_no);
        if (edge_store_sqlite_ops.open(p, &ALL[i]->st) != EGIDE_OK)
            ALL[i]->st = NULL;
    }
}

static egide_payload_facts_t s_facts(int64_t declared)
{
    egide_payload_facts_t f;
    memset(&f, 0, sizeof f);
    f.urgency = 1;
    f.received_ms = declared;
    egide_strlcpy(f.commune, "71137", sizeof f.commune);
    return f;
}

/* The nodes' roles, as the directory gives them (edge_oblig_self_t.role_of). */
static void s_role_of(void *arg, const char *node_id, char *buf, size_t size)
{
    (void)arg;
    buf[0] = '\0';
    for (size_t i = 0; i < N_ALL; i++)
        if (strcmp(ALL[i]->id, node_id) == 0)
            egide_strlcpy(buf, ALL[i]->role, size);
}

/* What the engine does at node `at` for a message (the daemon's call). */
static egide_rc s_note(const node_t *at, const uint8_t id[16], const char *type, bool sent,
                       const node_t *from, node_t *const *to, size_t n, int64_t case_id, int64_t t,
                       const egide_payload_facts_t *f)
{
    const char *ids[8], *roles[8];
    for (size_t i = 0; i < n; i++) {
        ids[i] = to[i]->id;
        roles[i] = to[i]->role;
    }
    edge_oblig_self_t self = {P, at->id, at->role, s_role_of, NULL};
    edge_oblig_msg_t m = {
        .msg_id = id,
        .type = type,
        .sent = sent,
        .sender_id = from->id,
        .sender_role = from->role,
        .rcpt_ids = ids,
        .rcpt_roles = roles,
        .n_rcpt = n,
        .case_id = case_id,
        .time_ms = t,
        .facts = f,
    };
    return edge_oblig_note(&self, at->st, &m);
}

/* `from` sends type (replying to irt, may be NULL) to to[0..n) at t_sent;
 * each recipient stores it at t_recv.  id gets the new message id. */
static void s_send(node_t *from, node_t *const *to, size_t n, const char *type, const uint8_t *irt,
                   const egide_payload_facts_t *f, int64_t t_sent, int64_t t_recv, uint8_t id[16])
{
    memset(id, 0, 16);
    id[0] = 0x0b;
    id[15] = (uint8_t)++s_msg_no;
    id[14] = (uint8_t)(s_msg_no >> 8);
    uint8_t sha[32], env[4] = {1, 2, 3, 4};
    memset(sha, s_msg_no & 0xff, sizeof sha);
    const char *ids[8];
    for (size_t i = 0; i < n; i++)
        ids[i] = to[i]->id;
    int64_t case_id = 0;
    edge_outbox_msg_t om = {
        .msg_id = id,
        .seq = (uint64_t)s_msg_no,
        .type = type,
        .urgency = 1,
        .in_reply_to = irt,
        .created_ms = t_sent,
        .expires_ms = t_sent + 30 * DAY,
        .envelope = env,
        .envelope_len = sizeof env,
        .sha256 = sha,
        .rcpt_ids = ids,
        .n_rcpt = n,
        .case_ref = f->case_ref,
        .commune = f->commune,
        .case_id = &case_id,
    };
    REQUIRE(edge_store_begin(from->st) == EGIDE_OK);
    REQUIRE(edge_store_outbox_add(from->st, &om) == EGIDE_OK);
    REQUIRE(s_note(from, id, type, true, from, to, n, case_id, t_sent, f) == EGIDE_OK);
    REQUIRE(edge_store_commit(from->st) == EGIDE_OK);
    for (size_t i = 0; i < n; i++) {
        edge_inbox_msg_t im = {
            .msg_id = id,
            .sha256 = sha,
            .sender_id = from->id,
            .type = type,
            .urgency = 1,
            .in_reply_to = irt,
            .created_ms = t_sent,
            .received_ms = t_recv,
            .content_type = "application/x-test",
            .receipt = (const uint8_t *)"receipt",
            .receipt_len = 7,
            .case_ref = f->case_ref,
            .commune = f->commune,
            .case_id = &case_id,
        };
        edge_inbox_put_result res;
        uint8_t *stored = NULL;
        size_t sl = 0;
        REQUIRE(edge_store_begin(to[i]->st) == EGIDE_OK);
        REQUIRE(edge_store_inbox_put(to[i]->st, &im, &res, &stored, &sl) == EGIDE_OK);
        free(stored);
        REQUIRE(res == EDGE_INBOX_STORED);
        REQUIRE(s_note(to[i], id, type, false, from, to, n, case_id, t_recv, f) == EGIDE_OK);
        REQUIRE(edge_store_commit(to[i]->st) == EGIDE_OK);
    }
}

static int s_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every obligation at nd as "name/role/state" (state "overdue" when open
 * and past due at now; "/YEAR" for yearly ones), sorted, joined by " ". */
static const char *s_show(const node_t *nd, int64_t now, char *buf, size_t sz)
{
    edge_oblig_filter_t f;
    memset(&f, 0, sizeof f);
    f.role = -1;
    f.limit = EDGE_OBLIG_PAGE_MAX;
    edge_obligation_t *rows = NULL;
    size_t n = 0;
    edge_oblig_cursor_t next;
    buf[0] = '\0';
    if (edge_store_obligation_list(nd->st, &f, &rows, &n, &next) != EGIDE_OK || next.more) {
        snprintf(buf, sz, "(list failed)");
        free(rows);
        return buf;
    }
    char(*items)[96] = calloc(n ? n : 1, sizeof *items);
    char **ptrs = calloc(n ? n : 1, sizeof *ptrs);
    for (size_t i = 0; items && ptrs && i < n; i++) {
        const edge_obligation_t *o = &rows[i];
        const char *state = o->state == EGIDE_DEADLINE_OPEN && o->due_ms < now
                                ? "overdue"
                                : egide_deadline_state_name(o->state);
        char year[12] = "";
        if (o->year)
            snprintf(year, sizeof year, "/%d", o->year);
        snprintf(items[i], sizeof items[i], "%s/%s/%s%s", o->name, edge_oblig_role_name(o->role),
                 state, year);
        ptrs[i] = items[i];
    }
    if (items && ptrs) {
        qsort(ptrs, n, sizeof *ptrs, s_cmp);
        size_t o = 0;
        for (size_t i = 0; i < n && o < sz; i++)
            o += (size_t)snprintf(buf + o, sz - o, "%s%s", i ? " " : "", ptrs[i]);
    }
    free(items);
    free(ptrs);
    free(rows);
    return buf;
}

#define SHOWS(nd, now, want)                                                                       \
    do {                                                                                           \
        char shown_[1024];                                                                         \
        CHECK_STREQ(s_show(&(nd), (now), shown_, sizeof shown_), (want));                          \
    } while (0)

/* The row of name (and year, 0 for per-case ones) at nd; false if none. */
static bool s_get(const node_t *nd, const char *name, int year, edge_obligation_t *out)
{
    edge_oblig_filter_t f;
    memset(&f, 0, sizeof f);
    f.role = -1;
    f.limit = EDGE_OBLIG_PAGE_MAX;
    edge_obligation_t *rows = NULL;
    size_t n = 0;
    edge_oblig_cursor_t next;
    bool found = false;
    if (edge_store_obligation_list(nd->st, &f, &rows, &n, &next) == EGIDE_OK)
        for (size_t i = 0; i < n && !found; i++)
            if (strcmp(rows[i].name, name) == 0 && rows[i].year == year) {
                *out = rows[i];
                found = true;
            }
    free(rows);
    return found;
}

/* The case origin the CRIP holds for a message it has (0 if none). */
static int64_t s_origin(const node_t *nd, const uint8_t id[16])
{
    int64_t cid = 0;
    edge_case_row_t c;
    if (edge_store_case_of(nd->st, id, &cid) != EGIDE_OK ||
        edge_store_case_get(nd->st, cid, &c) != EGIDE_OK || !c.has_origin)
        return 0;
    return c.origin_ms;
}

/* ------------------------------------------------------------ the case */

/* 119 -> CRIP (+ TAS by routing) -> qualification -> assignment ->
 * report -> feedback, with each node's list after each step. */
static void test_whole_case(void)
{
    s_fresh();
    const int64_t t0 = s_ts("2026-09-14T07:14:23.456Z"); /* the 119 sends */
    const int64_t rc = t0 + 2 * SEC;                     /* the CRIP's edge receives */
    const int64_t origin = rc - rc % SEC;
    node_t *crip_tas[] = {&CRIP, &TAS}, *to119[] = {&N119}, *tocrip[] = {&CRIP}, *totas[] = {&TAS};
    uint8_t ip[16], q[16], as[16], rp[16], fb[16];

    /* 1. the 119's transmission, routed to the CRIP and the territory */
    egide_payload_facts_t f = s_facts(t0 - 5 * 60 * SEC); /* the call, 5 minutes before */
    s_send(&N119, crip_tas, 2, "snated.transmission", NULL, &f, t0, rc, ip);
    int64_t now = rc + HOUR;
    SHOWS(CRIP, now, "evaluation/act/open observatory_export/act/open/2026 qualification/act/open");
    SHOWS(TAS, now, "");
    SHOWS(N119, now, "");
    edge_obligation_t qual, ev_crip, ev_tas, x;
    REQUIRE(s_get(&CRIP, "qualification", 0, &qual));
    CHECK(qual.start_ms == rc && qual.due_ms == rc + 7 * DAY && qual.practice);
    CHECK_STREQ(qual.actor, "71.crip");
    REQUIRE(s_get(&CRIP, "evaluation", 0, &ev_crip));
    CHECK(s_origin(&CRIP, ip) == origin);
    CHECK(ev_crip.start_ms == origin && ev_crip.due_ms == egide_date_add_months(origin, 3));
    CHECK(ev_crip.declared_ms == t0 - 5 * 60 * SEC); /* the 119's own time, shown beside */
    CHECK(memcmp(ev_crip.start_msg, ip, 16) == 0);
    CHECK_STREQ(ev_crip.start_type, "snated.transmission");
    REQUIRE(s_get(&CRIP, "observatory_export", 2026, &x));
    CHECK(x.case_id == 0 && x.due_ms == s_ts("2027-04-30T23:59:59.999Z"));
    CHECK(s_origin(&TAS, ip) == 0); /* a copy gives the TAS no clock */

    /* 2. the CRIP qualifies it, with its case reference */
    egide_payload_facts_t fq = s_facts(rc + DAY);
    egide_strlcpy(fq.case_ref, "CRIP71-2026-0042", sizeof fq.case_ref);
    s_send(&CRIP, to119, 1, "ip.qualification", ip, &fq, rc + DAY, rc + DAY + SEC, q);
    now = rc + DAY + HOUR;
    SHOWS(CRIP, now, "evaluation/act/open observatory_export/act/open/2026 qualification/act/met");
    SHOWS(N119, now, "");
    SHOWS(TAS, now, "");
    REQUIRE(s_get(&CRIP, "qualification", 0, &qual));
    CHECK(qual.closed_ms == rc + DAY && qual.has_closed_by && memcmp(qual.closed_by, q, 16) == 0);

    /* 3. the assignment carries the CRIP's origin as ip_received_at */
    egide_payload_facts_t fa = s_facts(rc + 2 * DAY);
    egide_strlcpy(fa.case_ref, "CRIP71-2026-0042", sizeof fa.case_ref);
    fa.ip_received_ms = s_origin(&CRIP, ip);
    s_send(&CRIP, totas, 1, "evaluation.assignment", ip, &fa, rc + 2 * DAY, rc + 2 * DAY + 3 * SEC,
           as);
    now = rc + 3 * DAY;
    SHOWS(TAS, now, "evaluation/act/open");
    SHOWS(CRIP, now, "evaluation/act/open observatory_export/act/open/2026 qualification/act/met");
    SHOWS(N119, now, "");
    REQUIRE(s_get(&TAS, "evaluation", 0, &ev_tas));
    REQUIRE(s_get(&CRIP, "evaluation", 0, &x));
    CHECK(ev_tas.due_ms == ev_crip.due_ms && x.due_ms == ev_crip.due_ms); /* the same clock */
    CHECK(x.id == ev_crip.id && x.start_ms == origin);
    CHECK_STREQ(ev_tas.actor, "71.tas.cluny-tournus");
    CHECK(ev_tas.start_ms == origin && memcmp(ev_tas.start_msg, as, 16) == 0);
    /* the TAS joined the assignment to the case of the copy it had */
    int64_t c_ip = 0, c_as = 0;
    CHECK_RC(edge_store_case_of(TAS.st, ip, &c_ip), EGIDE_OK);
    CHECK_RC(edge_store_case_of(TAS.st, as, &c_as), EGIDE_OK);
    CHECK(c_ip == c_as && c_ip > 0);
    /* a second assignment (a re-dispatch) moves no clock and adds no
     * occurrence: the evaluation is not recurring */
    uint8_t as2[16];
    s_send(&CRIP, totas, 1, "evaluation.assignment", ip, &fa, rc + 3 * DAY, rc + 3 * DAY, as2);
    SHOWS(TAS, now, "evaluation/act/open");
    SHOWS(CRIP, now, "evaluation/act/open observatory_export/act/open/2026 qualification/act/met");
    REQUIRE(s_get(&TAS, "evaluation", 0, &x));
    CHECK(x.id == ev_tas.id && x.occurrence == 1 && memcmp(x.start_msg, as, 16) == 0);
    REQUIRE(s_get(&CRIP, "evaluation", 0, &x));
    CHECK(x.id == ev_crip.id && x.occurrence == 1 && x.start_ms == origin);

    /* 4. the TAS's report closes the evaluation on both sides and starts
     * the feedback to the 119 at the CRIP */
    egide_payload_facts_t fr = s_facts(rc + 40 * DAY);
    egide_strlcpy(fr.case_ref, "CRIP71-2026-0042", sizeof fr.case_ref);
    fr.ip_received_ms = origin;
    s_send(&TAS, tocrip, 1, "evaluation.report", as, &fr, rc + 40 * DAY, rc + 40 * DAY + SEC, rp);
    now = rc + 41 * DAY;
    SHOWS(TAS, now, "evaluation/act/met");
    SHOWS(CRIP, now,
          "evaluation/act/met observatory_export/act/open/2026 qualification/act/met "
          "sender_feedback/act/open");
    SHOWS(N119, now, "");
    REQUIRE(s_get(&CRIP, "sender_feedback", 0, &x));
    CHECK(x.start_ms == rc + 40 * DAY + SEC && x.due_ms == egide_date_add_months(x.start_ms, 1));

    /* 5. the feedback to the 119 closes it; the 119 holds nothing */
    egide_payload_facts_t ff = s_facts(rc + 45 * DAY);
    egide_strlcpy(ff.case_ref, "CRIP71-2026-0042", sizeof ff.case_ref);
    s_send(&CRIP, to119, 1, "sender.feedback", ip, &ff, rc + 45 * DAY, rc + 45 * DAY + SEC, fb);
    now = rc + 46 * DAY;
    SHOWS(CRIP, now,
          "evaluation/act/met observatory_export/act/open/2026 qualification/act/met "
          "sender_feedback/act/met");
    SHOWS(N119, now, "");
    SHOWS(TAS, now, "evaluation/act/met");
    /* one case at the CRIP for all five messages */
    int64_t c0 = 0, ck = 0;
    CHECK_RC(edge_store_case_of(CRIP.st, ip, &c0), EGIDE_OK);
    const uint8_t *all[] = {q, as, rp, fb};
    for (size_t i = 0; i < 4; i++) {
        CHECK_RC(edge_store_case_of(CRIP.st, all[i], &ck), EGIDE_OK);
        CHECK(ck == c0);
    }
    edge_case_row_t cr;
    CHECK_RC(edge_store_case_get(CRIP.st, c0, &cr), EGIDE_OK);
    CHECK_STREQ(cr.ref, "CRIP71-2026-0042");
    /* overdue is read at now: the yearly export after 30 April 2027 */
    SHOWS(CRIP, s_ts("2027-05-01"),
          "evaluation/act/met observatory_export/act/overdue/2026 qualification/act/met "
          "sender_feedback/act/met");
    edge_oblig_counts_t c;
    CHECK_RC(edge_store_obligation_counts(CRIP.st, s_ts("2027-05-01"), &c), EGIDE_OK);
    CHECK(c.open == 0 && c.overdue == 1 && c.met == 3 && c.late == 0 && c.released == 0);
}

/* A 119 payload whose received_at is four months old is not overdue on
 * arrival at the CRIP: its clocks run from the CRIP's own receipt, the
 * payload's time is shown beside. */
static void test_backdated(void)
{
    s_fresh();
    const int64_t rc = s_ts("2026-10-02T10:00:00Z");
    const int64_t declared = egide_date_add_months(rc, -4);
    node_t *tocrip[] = {&CRIP};
    uint8_t ip[16];
    egide_payload_facts_t f = s_facts(declared);
    s_send(&N119, tocrip, 1, "snated.transmission", NULL, &f, rc - SEC, rc, ip);
    SHOWS(CRIP, rc + HOUR,
          "evaluation/act/open observatory_export/act/open/2026 qualification/act/open");
    edge_obligation_t ev;
    REQUIRE(s_get(&CRIP, "evaluation", 0, &ev));
    CHECK(ev.start_ms == rc && ev.declared_ms == declared);
    CHECK(ev.due_ms == egide_date_add_months(rc, 3));
    edge_oblig_filter_t q;
    memset(&q, 0, sizeof q);
    q.state = EDGE_OBLIG_Q_OVERDUE;
    q.role = -1;
    q.now_ms = rc + HOUR;
    int64_t total = -1;
    bool exact = false;
    CHECK_RC(edge_store_obligation_count(CRIP.st, &q, &total, &exact), EGIDE_OK);
    CHECK(total == 0);
    /* a second referral for the same case (a duplicate UNIQUE row) keeps
     * the first clock */
    egide_payload_facts_t f2 = s_facts(rc + DAY);
    uint8_t ip2[16];
    s_send(&N119, tocrip, 1, "snated.transmission", ip, &f2, rc + DAY, rc + DAY, ip2);
    edge_obligation_t again;
    REQUIRE(s_get(&CRIP, "evaluation", 0, &again));
    CHECK(again.id == ev.id && again.due_ms == ev.due_ms);
}

/* One export obligation per year at the CRIP; the export of year N closes
 * N's only (met before 30 April N+1, late after). */
static void test_export_per_year(void)
{
    s_fresh();
    node_t *tocrip[] = {&CRIP}, *toodpe[] = {&ODPE};
    uint8_t a[16], b[16], x1[16], x2[16];
    egide_payload_facts_t f = s_facts(s_ts("2026-06-01"));
    s_send(&N119, tocrip, 1, "snated.transmission", NULL, &f, s_ts("2026-06-01"),
           s_ts("2026-06-01"), a);
    s_send(&N119, tocrip, 1, "snated.transmission", NULL, &f, s_ts("2027-02-01"),
           s_ts("2027-02-01"), b);
    edge_obligation_t y26, y27;
    REQUIRE(s_get(&CRIP, "observatory_export", 2026, &y26));
    REQUIRE(s_get(&CRIP, "observatory_export", 2027, &y27));
    CHECK(y26.due_ms == s_ts("2027-04-30T23:59:59.999Z"));
    CHECK(y27.due_ms == s_ts("2028-04-30T23:59:59.999Z"));
    /* an export naming no year closes nothing */
    egide_payload_facts_t fx = s_facts(s_ts("2027-04-01"));
    uint8_t x0[16];
    s_send(&CRIP, toodpe, 1, "observatory.export", NULL, &fx, s_ts("2027-04-01"),
           s_ts("2027-04-01"), x0);
    REQUIRE(s_get(&CRIP, "observatory_export", 2026, &y26));
    CHECK(y26.state == EGIDE_DEADLINE_OPEN);
    fx.year = 2026;
    s_send(&CRIP, toodpe, 1, "observatory.export", NULL, &fx, s_ts("2027-04-10"),
           s_ts("2027-04-10"), x1);
    REQUIRE(s_get(&CRIP, "observatory_export", 2026, &y26));
    REQUIRE(s_get(&CRIP, "observatory_export", 2027, &y27));
    CHECK(y26.state == EGIDE_DEADLINE_MET && memcmp(y26.closed_by, x1, 16) == 0);
    CHECK(y27.state == EGIDE_DEADLINE_OPEN);
    /* the ODPE, which only receives, holds nothing */
    SHOWS(ODPE, s_ts("2027-04-11"), "");
    fx.year = 2027;
    s_send(&CRIP, toodpe, 1, "observatory.export", NULL, &fx, s_ts("2028-05-02"),
           s_ts("2028-05-02"), x2);
    REQUIRE(s_get(&CRIP, "observatory_export", 2027, &y27));
    CHECK(y27.state == EGIDE_DEADLINE_LATE && y27.closed_ms == s_ts("2028-05-02"));
    REQUIRE(s_get(&CRIP, "observatory_export", 2026, &y26));
    CHECK(y26.closed_ms == s_ts("2027-04-10")); /* not closed again */
    /* a referral of 2026 after that year's export opens no second row */
    uint8_t c26[16];
    s_send(&N119, tocrip, 1, "snated.transmission", NULL, &f, s_ts("2026-12-01"),
           s_ts("2026-12-01"), c26);
    edge_oblig_filter_t q;
    memset(&q, 0, sizeof q);
    q.role = -1;
    q.has_case = true; /* case 0: the yearly rows, one per year */
    int64_t total = -1;
    bool exact = false;
    CHECK_RC(edge_store_obligation_count(CRIP.st, &q, &total, &exact), EGIDE_OK);
    CHECK(total == 2);
    REQUIRE(s_get(&CRIP, "observatory_export", 2026, &y26));
    CHECK(y26.occurrence == 1 && y26.state == EGIDE_DEADLINE_MET);
}

/* A report after the due time: late on both sides; a report in another
 * case closes nothing here; a message at a node with nothing open closes
 * nothing. */
static void test_late_and_isolation(void)
{
    s_fresh();
    const int64_t rc = s_ts("2026-09-01T08:00:00Z");
    node_t *crip_tas[] = {&CRIP, &TAS}, *tocrip[] = {&CRIP}, *totas[] = {&TAS}, *to119[] = {&N119};
    uint8_t ip[16], ip2[16], as[16], rp_other[16], rp[16], fb[16];
    egide_payload_facts_t f = s_facts(rc);
    s_send(&N119, crip_tas, 2, "snated.transmission", NULL, &f, rc, rc, ip);
    s_send(&N119, crip_tas, 2, "snated.transmission", NULL, &f, rc, rc, ip2); /* another case */
    egide_payload_facts_t fa = s_facts(rc + DAY);
    fa.ip_received_ms = s_origin(&CRIP, ip);
    s_send(&CRIP, totas, 1, "evaluation.assignment", ip, &fa, rc + DAY, rc + DAY, as);
    /* the other case's report closes only the other case's evaluation */
    egide_payload_facts_t fr = s_facts(rc + 10 * DAY);
    s_send(&TAS, tocrip, 1, "evaluation.report", ip2, &fr, rc + 10 * DAY, rc + 10 * DAY, rp_other);
    edge_obligation_t e;
    int64_t c1 = 0;
    CHECK_RC(edge_store_case_of(CRIP.st, ip, &c1), EGIDE_OK);
    edge_oblig_filter_t q;
    memset(&q, 0, sizeof q);
    q.role = -1;
    q.has_case = true;
    q.case_id = c1;
    q.limit = 10;
    edge_obligation_t *rows = NULL;
    size_t n = 0;
    edge_oblig_cursor_t next;
    CHECK_RC(edge_store_obligation_list(CRIP.st, &q, &rows, &n, &next), EGIDE_OK);
    bool ev_open = false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].name, "evaluation") == 0)
            ev_open = rows[i].state == EGIDE_DEADLINE_OPEN;
    CHECK(ev_open && n == 2); /* qualification and evaluation; the export has no case */
    free(rows);
    SHOWS(TAS, rc + 11 * DAY, "evaluation/act/open");
    /* the report after the 3 months: late at the TAS and at the CRIP */
    const int64_t late = egide_date_add_months(rc, 3) + 2 * DAY;
    fr = s_facts(late);
    s_send(&TAS, tocrip, 1, "evaluation.report", as, &fr, late, late + SEC, rp);
    SHOWS(TAS, late + DAY, "evaluation/act/late");
    REQUIRE(s_get(&CRIP, "evaluation", 0, &e) || true);
    CHECK_RC(edge_store_obligation_list(CRIP.st, &q, &rows, &n, &next), EGIDE_OK);
    bool ev_late = false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].name, "evaluation") == 0)
            ev_late = rows[i].state == EGIDE_DEADLINE_LATE && rows[i].closed_ms == late + SEC;
    CHECK(ev_late);
    free(rows);
    /* the 119 receives the feedback: it closes nothing there, it held
     * nothing; the CRIP's own feedback obligation is met */
    egide_payload_facts_t ff = s_facts(late + DAY);
    s_send(&CRIP, to119, 1, "sender.feedback", ip, &ff, late + DAY, late + DAY, fb);
    SHOWS(N119, late + 2 * DAY, "");
    edge_oblig_counts_t c;
    CHECK_RC(edge_store_obligation_counts(N119.st, late + 2 * DAY, &c), EGIDE_OK);
    CHECK(c.open == 0 && c.overdue == 0 && c.met == 0 && c.late == 0 && c.released == 0);
}

/* The parquet acts on a saisine, the CRIP oversees it; the parquet's
 * feedback closes both.  A TAS that sends routing.misrouted (a type the
 * catalogue adds on another branch) releases its own evaluation only. */
static void test_oversee_and_release(void)
{
    s_fresh();
    const int64_t rc = s_ts("2026-11-02T09:00:00Z");
    node_t *toparq[] = {&PARQ}, *tocrip[] = {&CRIP}, *totas[] = {&TAS};
    uint8_t ip[16], sa[16], pf[16], as[16], mis[16];
    egide_payload_facts_t f = s_facts(rc);
    s_send(&N119, tocrip, 1, "snated.transmission", NULL, &f, rc, rc, ip);
    s_send(&CRIP, toparq, 1, "parquet.saisine", ip, &f, rc + HOUR, rc + HOUR, sa);
    SHOWS(PARQ, rc + DAY, "parquet_feedback/act/open");
    edge_obligation_t pcrip, ppar;
    REQUIRE(s_get(&CRIP, "parquet_feedback", 0, &pcrip));
    REQUIRE(s_get(&PARQ, "parquet_feedback", 0, &ppar));
    CHECK(pcrip.role == EDGE_OBLIG_OVERSEE && strcmp(pcrip.actor, "71.parquet.macon") == 0);
    CHECK(pcrip.due_ms == egide_date_add_months(rc + HOUR, 1) && ppar.due_ms == pcrip.due_ms);
    s_send(&PARQ, tocrip, 1, "parquet.feedback", sa, &f, rc + 3 * DAY, rc + 3 * DAY, pf);
    SHOWS(PARQ, rc + 4 * DAY, "parquet_feedback/act/met");
    REQUIRE(s_get(&CRIP, "parquet_feedback", 0, &pcrip));
    CHECK(pcrip.state == EGIDE_DEADLINE_MET);

    egide_payload_facts_t fa = s_facts(rc + DAY);
    fa.ip_received_ms = s_origin(&CRIP, ip);
    s_send(&CRIP, totas, 1, "evaluation.assignment", ip, &fa, rc + DAY, rc + DAY, as);
    SHOWS(TAS, rc + 2 * DAY, "evaluation/act/open");
    s_send(&TAS, tocrip, 1, "routing.misrouted", as, &f, rc + 2 * DAY, rc + 2 * DAY, mis);
    SHOWS(TAS, rc + 3 * DAY, "evaluation/act/released");
    edge_obligation_t ev;
    REQUIRE(s_get(&CRIP, "evaluation", 0, &ev));
    CHECK(ev.state == EGIDE_DEADLINE_OPEN); /* the CRIP still has to see it evaluated */
    REQUIRE(s_get(&TAS, "evaluation", 0, &ev));
    CHECK(ev.has_closed_by && memcmp(ev.closed_by, mis, 16) == 0 && ev.closed_ms == rc + 2 * DAY);
}

/* actor = sender: the parquet that orders an OPP must have the judge seize
 * and rule; the ASE it placed the child with holds nothing for it.  The
 * judge's placement decision closes both (met) and starts the ASE's
 * situation report; the judge, which only sent it, holds nothing. */
static void test_opp_sender_acts(void)
{
    s_fresh();
    const int64_t t = s_ts("2026-10-03T00:30:00Z");
    node_t *toase[] = {&ASE}, *parties[] = {&PARQ, &ASE};
    uint8_t opp[16], dec[16];
    egide_payload_facts_t f = s_facts(t);
    s_send(&PARQ, toase, 1, "court.opp", NULL, &f, t, t + SEC, opp);
    SHOWS(PARQ, t + DAY, "opp_je_ruling/act/open opp_je_seizure/act/open");
    SHOWS(ASE, t + DAY, "");
    edge_obligation_t seize;
    REQUIRE(s_get(&PARQ, "opp_je_seizure", 0, &seize));
    CHECK(seize.due_ms == t + 8 * DAY && strcmp(seize.actor, "71.parquet.macon") == 0);
    SHOWS(PARQ, t + 9 * DAY, "opp_je_ruling/act/open opp_je_seizure/act/overdue");
    egide_payload_facts_t fd = s_facts(t + 5 * DAY);
    egide_strlcpy(fd.kind, "placement", sizeof fd.kind);
    s_send(&JE, parties, 2, "court.decision", opp, &fd, t + 5 * DAY, t + 5 * DAY + SEC, dec);
    SHOWS(PARQ, t + 6 * DAY, "opp_je_ruling/act/met opp_je_seizure/act/met");
    SHOWS(ASE, t + 6 * DAY, "situation_report/act/open");
    SHOWS(JE, t + 6 * DAY, "");
}

/* The row of occurrence `occ` of name in role `role` at nd; false if none. */
static bool s_occ(const node_t *nd, const char *name, edge_oblig_role role, int occ,
                  edge_obligation_t *out)
{
    edge_oblig_filter_t f;
    memset(&f, 0, sizeof f);
    f.role = (int)role;
    f.limit = EDGE_OBLIG_PAGE_MAX;
    edge_obligation_t *rows = NULL;
    size_t n = 0;
    edge_oblig_cursor_t next;
    bool found = false;
    if (edge_store_obligation_list(nd->st, &f, &rows, &n, &next) == EGIDE_OK)
        for (size_t i = 0; i < n && !found; i++)
            if (strcmp(rows[i].name, name) == 0 && rows[i].occurrence == occ) {
                *out = rows[i];
                found = true;
            }
    free(rows);
    return found;
}

/* A recurring deadline (on = closed_by = ase.situation_report): each
 * yearly report the ASE sends the judge, copied to the CRIP, closes the
 * running clock and starts the next, at the ASE (act) and the CRIP
 * (oversee); the judge holds nothing.  Three reports: occurrences 1 and 2
 * met, 3 open, due a year after the third; a fourth for a child under 2
 * is due in 6 months.  Noting a report twice opens nothing more. */
static void test_recurring_report(void)
{
    s_fresh();
    const int64_t t = s_ts("2026-10-05T09:00:00Z");
    node_t *toase[] = {&ASE}, *tojc[] = {&JE, &CRIP};
    uint8_t dec[16], r[4][16];
    egide_payload_facts_t fd = s_facts(t);
    egide_strlcpy(fd.kind, "placement", sizeof fd.kind);
    s_send(&JE, toase, 1, "court.decision", NULL, &fd, t, t + SEC, dec);
    SHOWS(ASE, t + DAY, "situation_report/act/open");
    const int64_t tr[4] = {egide_date_add_months(t, 11), egide_date_add_months(t, 23),
                           egide_date_add_months(t, 35), egide_date_add_months(t, 41)};
    for (int i = 0; i < 3; i++) {
        egide_payload_facts_t fr = s_facts(tr[i]);
        s_send(&ASE, tojc, 2, "ase.situation_report", dec, &fr, tr[i], tr[i] + SEC, r[i]);
    }
    const int64_t now = tr[2] + DAY;
    SHOWS(ASE, now,
          "situation_report/act/met situation_report_next/act/met situation_report_next/act/met "
          "situation_report_next/act/open");
    SHOWS(CRIP, now,
          "situation_report_next/oversee/met situation_report_next/oversee/met "
          "situation_report_next/oversee/open");
    SHOWS(JE, now, "");
    edge_obligation_t first, o;
    REQUIRE(s_get(&ASE, "situation_report", 0, &first));
    CHECK(first.occurrence == 1 && first.has_closed_by && memcmp(first.closed_by, r[0], 16) == 0);
    const edge_oblig_role roles[2] = {EDGE_OBLIG_ACT, EDGE_OBLIG_OVERSEE};
    node_t *at[2] = {&ASE, &CRIP};
    for (int k = 0; k < 2; k++) {
        const int64_t t_at = k ? SEC : 0; /* the CRIP's clock runs from its receipt */
        for (int i = 0; i < 3; i++) {
            REQUIRE(s_occ(at[k], "situation_report_next", roles[k], i + 1, &o));
            CHECK(memcmp(o.start_msg, r[i], 16) == 0 && o.start_ms == tr[i] + t_at);
            CHECK(o.due_ms == egide_date_add_months(tr[i] + t_at, 12));
            CHECK_STREQ(o.actor, "71.ase");
            if (i < 2) {
                CHECK(o.state == EGIDE_DEADLINE_MET && o.closed_ms == tr[i + 1] + t_at);
                CHECK(o.has_closed_by && memcmp(o.closed_by, r[i + 1], 16) == 0);
            } else {
                CHECK(o.state == EGIDE_DEADLINE_OPEN && !o.has_closed_by && o.closed_ms == 0);
            }
        }
        CHECK(!s_occ(at[k], "situation_report_next", roles[k], 4, &o));
    }

    /* The third report noted again (the same message) closes nothing and
     * opens nothing: a message never closes the occurrence it started. */
    egide_payload_facts_t f3 = s_facts(tr[2]);
    int64_t cid = 0;
    CHECK_RC(edge_store_case_of(ASE.st, r[2], &cid), EGIDE_OK);
    REQUIRE(edge_store_begin(ASE.st) == EGIDE_OK);
    CHECK_RC(s_note(&ASE, r[2], "ase.situation_report", true, &ASE, tojc, 2, cid, tr[2], &f3),
             EGIDE_OK);
    REQUIRE(edge_store_commit(ASE.st) == EGIDE_OK);
    REQUIRE(s_occ(&ASE, "situation_report_next", EDGE_OBLIG_ACT, 3, &o));
    CHECK(o.state == EGIDE_DEADLINE_OPEN);
    CHECK(!s_occ(&ASE, "situation_report_next", EDGE_OBLIG_ACT, 4, &o));

    /* A fourth report, the youngest child now under 2: 6 months. */
    egide_payload_facts_t f4 = s_facts(tr[3]);
    f4.child_under_2 = true;
    s_send(&ASE, tojc, 2, "ase.situation_report", dec, &f4, tr[3], tr[3] + SEC, r[3]);
    REQUIRE(s_occ(&ASE, "situation_report_next", EDGE_OBLIG_ACT, 3, &o));
    CHECK(o.state == EGIDE_DEADLINE_MET && memcmp(o.closed_by, r[3], 16) == 0);
    REQUIRE(s_occ(&ASE, "situation_report_next", EDGE_OBLIG_ACT, 4, &o));
    CHECK(o.state == EGIDE_DEADLINE_OPEN && o.due_ms == egide_date_add_months(tr[3], 6));
    edge_oblig_counts_t c;
    CHECK_RC(edge_store_obligation_counts(ASE.st, tr[3] + DAY, &c), EGIDE_OK);
    CHECK(c.open == 1 && c.overdue == 0 && c.met == 4 && c.late == 0);
}

/* Obligations are written in the message's transaction: a rollback drops
 * them with it.  Bad arguments are refused. */
static void test_transaction_and_args(void)
{
    s_fresh();
    const int64_t rc = s_ts("2026-11-02T09:00:00Z");
    node_t *tocrip[] = {&CRIP};
    uint8_t id[16] = {0x77};
    egide_payload_facts_t f = s_facts(rc);
    REQUIRE(edge_store_begin(CRIP.st) == EGIDE_OK);
    int64_t cid = 0;
    edge_inbox_msg_t im = {
        .msg_id = id,
        .sha256 = id,
        .sender_id = N119.id,
        .type = "snated.transmission",
        .received_ms = rc,
        .content_type = "x",
        .receipt = (const uint8_t *)"r",
        .receipt_len = 1,
        .case_id = &cid,
    };
    uint8_t sha[32] = {1};
    im.sha256 = sha;
    edge_inbox_put_result res;
    uint8_t *stored = NULL;
    size_t sl = 0;
    REQUIRE(edge_store_inbox_put(CRIP.st, &im, &res, &stored, &sl) == EGIDE_OK);
    CHECK(cid > 0);
    CHECK_RC(s_note(&CRIP, id, "snated.transmission", false, &N119, tocrip, 1, cid, rc, &f),
             EGIDE_OK);
    SHOWS(CRIP, rc, "evaluation/act/open observatory_export/act/open/2026 qualification/act/open");
    edge_store_rollback(CRIP.st);
    SHOWS(CRIP, rc, "");
    CHECK_RC(edge_store_case_of(CRIP.st, id, &cid), EGIDE_ERR_NOTFOUND);

    edge_oblig_self_t self = {P, CRIP.id, CRIP.role, s_role_of, NULL};
    edge_oblig_msg_t m = {.msg_id = id,
                          .type = "snated.transmission",
                          .sender_id = N119.id,
                          .case_id = 1,
                          .time_ms = rc};
    CHECK_RC(edge_oblig_note(NULL, CRIP.st, &m), EGIDE_ERR_INVALID);
    CHECK_RC(edge_oblig_note(&self, NULL, &m), EGIDE_ERR_INVALID);
    CHECK_RC(edge_oblig_note(&self, CRIP.st, NULL), EGIDE_ERR_INVALID);
    m.type = NULL;
    CHECK_RC(edge_oblig_note(&self, CRIP.st, &m), EGIDE_ERR_INVALID);
    m.type = "snated.transmission";
    m.n_rcpt = 1; /* recipients counted but not given */
    CHECK_RC(edge_oblig_note(&self, CRIP.st, &m), EGIDE_ERR_INVALID);
    m.n_rcpt = 0;
    /* no case, or no profile: nothing done, not an error */
    m.case_id = 0;
    CHECK_RC(edge_oblig_note(&self, CRIP.st, &m), EGIDE_OK);
    edge_oblig_self_t none = {NULL, CRIP.id, CRIP.role, NULL, NULL};
    m.case_id = 1;
    CHECK_RC(edge_oblig_note(&none, CRIP.st, &m), EGIDE_OK);
    SHOWS(CRIP, rc, "");
    /* a case id the store does not hold is a store answer, not ignored */
    CHECK_RC(edge_oblig_note(&self, CRIP.st, &m), EGIDE_ERR_NOTFOUND);
}

/* The facts the engine reads from real payloads: case_ref and the
 * export's year. */
static void test_payload_facts(void)
{
    static const char qual[] =
        "{\"decided_at\":\"2026-11-20T09:14:00+01:00\",\"case_ref\":\"CRIP71-2026-0042\","
        "\"qualification\":\"information_preoccupante\",\"urgency\":\"normal\"}";
    static const char exp[] =
        "{\"department\":\"71\",\"year\":2026,\"algorithm\":\"hmac-sha256-v1\","
        "\"generated_at\":\"2027-04-10T09:00:00+02:00\",\"events\":[]}";
    egide_payload_facts_t f;
    char *errors = NULL;
    int64_t now = s_ts("2027-05-01");
    CHECK_RC(egide_payload_from_json("ip.qualification", qual, strlen(qual), now, NULL, NULL, &f,
                                     &errors),
             EGIDE_OK);
    free(errors);
    CHECK_STREQ(f.case_ref, "CRIP71-2026-0042");
    CHECK(f.year == 0);
    errors = NULL;
    CHECK_RC(egide_payload_from_json("observatory.export", exp, strlen(exp), now, NULL, NULL, &f,
                                     &errors),
             EGIDE_OK);
    if (errors)
        fprintf(stderr, "%s\n", errors);
    free(errors);
    CHECK(f.year == 2026 && f.case_ref[0] == '\0');
}

/* ------------------------------------------------------------ the API */

static int64_t s_clock;
static int64_t s_now(void)
{
    return s_clock;
}

static json_t *s_get_api(edge_t *e, const char *query, int *status)
{
    egide_http_req_t req = {.method = "GET",
                            .path = "/v1/deadlines",
                            .query = query,
                            .body = (const uint8_t *)"",
                            .authenticated_as = "token"};
    egide_http_resp_t resp = {.status = 500, .content_type = "application/json"};
    edge_api_handle(e, &req, &resp);
    *status = resp.status;
    json_t *j = resp.body ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
    free(resp.body);
    return j;
}

/* GET /v1/deadlines: a page of stored rows with "next" and "total"; every
 * row once across pages; overdue at the edge's clock; bad parameters 400. */
static void test_api(void)
{
    s_fresh();
    node_t *tocrip[] = {&CRIP};
    uint8_t id[16];
    int64_t rc = s_ts("2026-03-02T08:00:00Z");
    for (int i = 0; i < 3; i++) {
        egide_payload_facts_t f = s_facts(rc);
        s_send(&N119, tocrip, 1, "snated.transmission", NULL, &f, rc + i * DAY, rc + i * DAY, id);
    }
    static edge_t E;
    memset(&E, 0, sizeof E);
    pthread_mutex_init(&E.dir_lock, NULL);
    pthread_mutex_init(&E.api_lock, NULL);
    egide_strlcpy(E.node_id, CRIP.id, sizeof E.node_id);
    egide_strlcpy(E.role, CRIP.role, sizeof E.role);
    E.profile = P;
    E.api_store = CRIP.st;
    E.now_ms = s_now;
    s_clock = rc + 8 * DAY + 1; /* the first two qualifications are overdue */
    int status = 0;
    json_t *j = s_get_api(&E, "", &status);
    CHECK(status == 200);
    /* 3 x (qualification, evaluation) + one export for 2026, all open */
    CHECK(json_integer_value(json_object_get(j, "total")) == 7);
    CHECK(json_array_size(json_object_get(j, "obligations")) == 7);
    CHECK(json_is_null(json_object_get(j, "next")));
    json_decref(j);
    j = s_get_api(&E, "state=overdue", &status);
    CHECK(status == 200 && json_integer_value(json_object_get(j, "total")) == 2);
    json_t *o0 = json_array_get(json_object_get(j, "obligations"), 0);
    CHECK_STREQ(json_string_value(json_object_get(o0, "state")), "overdue");
    CHECK_STREQ(json_string_value(json_object_get(o0, "name")), "qualification");
    CHECK_STREQ(json_string_value(json_object_get(o0, "role")), "act");
    CHECK(json_integer_value(json_object_get(o0, "due_ms")) == rc + 7 * DAY);
    json_decref(j);
    /* paging by 3: 3 + 3 + 1, each row once */
    char query[128] = "limit=3";
    int seen = 0, pages = 0;
    json_int_t ids[16];
    for (;;) {
        j = s_get_api(&E, query, &status);
        REQUIRE(status == 200 && j);
        json_t *arr = json_object_get(j, "obligations");
        for (size_t i = 0; i < json_array_size(arr) && seen < 16; i++) {
            json_int_t v = json_integer_value(json_object_get(json_array_get(arr, i), "id"));
            for (int k = 0; k < seen; k++)
                CHECK(ids[k] != v);
            ids[seen++] = v;
        }
        pages++;
        CHECK(json_integer_value(json_object_get(j, "total")) == 7);
        const char *next = json_string_value(json_object_get(j, "next"));
        if (!next) {
            json_decref(j);
            break;
        }
        snprintf(query, sizeof query, "limit=3&after=%s", next);
        json_decref(j);
        REQUIRE(pages < 10);
    }
    CHECK(seen == 7 && pages == 3);
    static const char *const bad[] = {"state=closed", "limit=0",      "limit=501", "after=12",
                                      "after=x.y",    "role=watcher", "case=-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j = s_get_api(&E, bad[i], &status);
        if (status != 400)
            fprintf(stderr, "query %s gave %d\n", bad[i], status);
        CHECK(status == 400);
        json_decref(j);
    }
    j = s_get_api(&E, "role=oversee&state=any", &status);
    CHECK(status == 200 && json_integer_value(json_object_get(j, "total")) == 0);
    json_decref(j);
    /* /metrics: the gauges from obligation_counts */
    egide_http_req_t req = {.method = "GET",
                            .path = "/metrics",
                            .query = "",
                            .body = (const uint8_t *)"",
                            .authenticated_as = "token"};
    egide_http_resp_t resp = {.status = 500, .content_type = "application/json"};
    edge_api_handle(&E, &req, &resp);
    CHECK(resp.status == 200 && resp.body);
    CHECK(resp.body && strstr(resp.body, "egide_edge_deadlines{state=\"overdue\"} 2") != NULL);
    CHECK(resp.body && strstr(resp.body, "egide_edge_deadlines{state=\"open\"} 5") != NULL);
    free(resp.body);
    pthread_mutex_destroy(&E.dir_lock);
    pthread_mutex_destroy(&E.api_lock);
}

/* GET /v1/deadlines lists each occurrence of a recurring deadline with its
 * number: all of them with state=any, the running one by default. */
static void test_recurring_api(void)
{
    s_fresh();
    const int64_t t = s_ts("2026-10-05T09:00:00Z");
    node_t *toase[] = {&ASE}, *tojc[] = {&JE, &CRIP};
    uint8_t dec[16], r[16];
    egide_payload_facts_t fd = s_facts(t);
    egide_strlcpy(fd.kind, "placement", sizeof fd.kind);
    s_send(&JE, toase, 1, "court.decision", NULL, &fd, t, t + SEC, dec);
    int64_t tr = t;
    for (int i = 0; i < 3; i++) {
        tr = egide_date_add_months(t, 11 + 12 * i);
        egide_payload_facts_t fr = s_facts(tr);
        s_send(&ASE, tojc, 2, "ase.situation_report", dec, &fr, tr, tr + SEC, r);
    }
    static edge_t E;
    memset(&E, 0, sizeof E);
    pthread_mutex_init(&E.dir_lock, NULL);
    pthread_mutex_init(&E.api_lock, NULL);
    egide_strlcpy(E.node_id, ASE.id, sizeof E.node_id);
    egide_strlcpy(E.role, ASE.role, sizeof E.role);
    E.profile = P;
    E.api_store = ASE.st;
    E.now_ms = s_now;
    s_clock = tr + DAY;
    int status = 0;
    json_t *j = s_get_api(&E, "state=any", &status);
    CHECK(status == 200 && json_integer_value(json_object_get(j, "total")) == 4);
    json_t *arr = json_object_get(j, "obligations");
    int occ_seen = 0;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *o = json_array_get(arr, i);
        if (strcmp(json_string_value(json_object_get(o, "name")), "situation_report_next") == 0)
            occ_seen |= 1 << json_integer_value(json_object_get(o, "occurrence"));
    }
    CHECK(occ_seen == (1 << 1 | 1 << 2 | 1 << 3));
    json_decref(j);
    j = s_get_api(&E, "", &status);
    CHECK(status == 200 && json_integer_value(json_object_get(j, "total")) == 1);
    json_t *o0 = json_array_get(json_object_get(j, "obligations"), 0);
    CHECK_STREQ(json_string_value(json_object_get(o0, "name")), "situation_report_next");
    CHECK(json_integer_value(json_object_get(o0, "occurrence")) == 3);
    CHECK(json_integer_value(json_object_get(o0, "due_ms")) == egide_date_add_months(tr, 12));
    CHECK_STREQ(json_string_value(json_object_get(o0, "state")), "open");
    json_decref(j);
    pthread_mutex_destroy(&E.dir_lock);
    pthread_mutex_destroy(&E.api_lock);
}

/* Review finding F1: only a party may close.  A territory never assigned
 * the case, naming its (guessable) case reference, sends an evaluation
 * report: the CRIP's evaluation stays open (the message joins the case,
 * closes nothing); the assigned territory's report closes it.  Another
 * parquet's feedback leaves the CRIP's oversight of the parquet it seized
 * open; that parquet's closes it.  A court's decision, from a role the
 * node addressed nobody of in the case, still closes what it closes. */
static void test_only_parties_close(void)
{
    s_fresh();
    const int64_t rc = s_ts("2026-09-01T08:00:00Z");
    node_t *crip_tas[] = {&CRIP, &TAS}, *tocrip[] = {&CRIP}, *totas[] = {&TAS}, *to119[] = {&N119};
    uint8_t ip[16], q[16], as[16], forged[16], rep[16];
    egide_payload_facts_t f = s_facts(rc);
    s_send(&N119, crip_tas, 2, "snated.transmission", NULL, &f, rc, rc, ip);
    egide_payload_facts_t fq = s_facts(rc + DAY);
    egide_strlcpy(fq.case_ref, "CRIP71-2026-0042", sizeof fq.case_ref);
    s_send(&CRIP, to119, 1, "ip.qualification", ip, &fq, rc + DAY, rc + DAY, q);
    egide_payload_facts_t fa = s_facts(rc + 2 * DAY);
    egide_strlcpy(fa.case_ref, "CRIP71-2026-0042", sizeof fa.case_ref);
    fa.ip_received_ms = s_origin(&CRIP, ip);
    s_send(&CRIP, totas, 1, "evaluation.assignment", ip, &fa, rc + 2 * DAY, rc + 2 * DAY, as);
    edge_obligation_t ev;
    REQUIRE(s_get(&CRIP, "evaluation", 0, &ev));
    CHECK(ev.state == EGIDE_DEADLINE_OPEN);
    egide_payload_facts_t fr = s_facts(rc + 3 * DAY);
    egide_strlcpy(fr.case_ref, "CRIP71-2026-0042", sizeof fr.case_ref);
    s_send(&TAS2, tocrip, 1, "evaluation.report", NULL, &fr, rc + 3 * DAY, rc + 3 * DAY, forged);
    REQUIRE(s_get(&CRIP, "evaluation", 0, &ev));
    CHECK(ev.state == EGIDE_DEADLINE_OPEN);
    int64_t c_ip = 0, c_f = 0;
    CHECK_RC(edge_store_case_of(CRIP.st, ip, &c_ip), EGIDE_OK);
    CHECK_RC(edge_store_case_of(CRIP.st, forged, &c_f), EGIDE_OK);
    CHECK(c_ip == c_f && c_ip > 0); /* shown in the case, closing nothing */
    /* the territory the case was assigned to closes it */
    s_send(&TAS, tocrip, 1, "evaluation.report", as, &fr, rc + 4 * DAY, rc + 4 * DAY, rep);
    REQUIRE(s_get(&CRIP, "evaluation", 0, &ev));
    CHECK(ev.state == EGIDE_DEADLINE_MET && memcmp(ev.closed_by, rep, 16) == 0);

    s_fresh();
    node_t *toparq[] = {&PARQ};
    uint8_t sa[16], fb[16], fb2[16];
    s_send(&N119, tocrip, 1, "snated.transmission", NULL, &f, rc, rc, ip);
    egide_payload_facts_t fs = s_facts(rc + DAY);
    egide_strlcpy(fs.case_ref, "CRIP71-2026-0043", sizeof fs.case_ref);
    s_send(&CRIP, toparq, 1, "parquet.saisine", ip, &fs, rc + DAY, rc + DAY, sa);
    edge_obligation_t o;
    REQUIRE(s_get(&CRIP, "parquet_feedback", 0, &o));
    CHECK(o.state == EGIDE_DEADLINE_OPEN && strcmp(o.actor, "71.parquet.macon") == 0);
    egide_payload_facts_t ff = s_facts(rc + 2 * DAY);
    egide_strlcpy(ff.case_ref, "CRIP71-2026-0043", sizeof ff.case_ref);
    s_send(&PARQ2, tocrip, 1, "parquet.feedback", NULL, &ff, rc + 2 * DAY, rc + 2 * DAY, fb);
    REQUIRE(s_get(&CRIP, "parquet_feedback", 0, &o));
    CHECK(o.state == EGIDE_DEADLINE_OPEN);
    s_send(&PARQ, tocrip, 1, "parquet.feedback", sa, &ff, rc + 3 * DAY, rc + 3 * DAY, fb2);
    REQUIRE(s_get(&CRIP, "parquet_feedback", 0, &o));
    CHECK(o.state == EGIDE_DEADLINE_MET && memcmp(o.closed_by, fb2, 16) == 0);
}

int main(void)
{
    egide_log_set_sink(s_quiet, NULL);
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/deploy/profiles/fr-casf.ini", getenv("EGIDE_SOURCE_DIR"));
    if (egide_deadline_profile_load(path, &P, err, sizeof err) != EGIDE_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    snprintf(s_dir, sizeof s_dir, "/tmp/egide-test-obligations.XXXXXX");
    if (!mkdtemp(s_dir)) {
        fprintf(stderr, "mkdtemp failed\n");
        return 1;
    }
    RUN(test_whole_case);
    RUN(test_backdated);
    RUN(test_export_per_year);
    RUN(test_late_and_isolation);
    RUN(test_oversee_and_release);
    RUN(test_opp_sender_acts);
    RUN(test_recurring_report);
    RUN(test_transaction_and_args);
    RUN(test_payload_facts);
    RUN(test_api);
    RUN(test_recurring_api);
    RUN(test_only_parties_close);
    for (size_t i = 0; i < N_ALL; i++)
        edge_store_close(&ALL[i]->st);
    egide_deadline_profile_destroy(&P);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
    EGIDE_TEST_DONE();
}
