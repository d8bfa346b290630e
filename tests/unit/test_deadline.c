/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_deadline.c - legal clocks on a fixed clock: the 3-month evaluation
 * and its shorter variants (urgent, immediate, child under 2), OPP (8 + 15
 * days), emergency reception (5 days / 72 h, parental agreement), situation
 * reports, the parquet's own term, the 30 April export, the New Caledonia
 * profile, closing by the in_reply_to thread (met, late, overdue, open), and
 * profile parsing errors with their line numbers.
 */
#include <stdlib.h>
#include <string.h>

#include "egide/base/egide_date.h"
#include "egide/domain/egide_deadline.h"
#include "egide/base/egide_util.h"
#include "egide_test.h"

#define HOUR (3600LL * 1000LL)
#define DAY  (24 * HOUR)

static egide_deadline_profile_t *s_fr, *s_nc;

static egide_deadline_profile_t *s_load(const char *file)
{
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/deploy/profiles/%s", getenv("EGIDE_SOURCE_DIR"), file);
    egide_deadline_profile_t *p = NULL;
    egide_rc rc = egide_deadline_profile_load(path, &p, err, sizeof err);
    if (rc != EGIDE_OK)
        fprintf(stderr, "%s\n", err);
    return p;
}

static int64_t s_ts(const char *s)
{
    int64_t ms = 0;
    if (egide_datetime_parse(s, &ms) != EGIDE_OK && egide_date_parse(s, &ms) != EGIDE_OK)
        fprintf(stderr, "bad time in test: %s\n", s);
    return ms;
}

static egide_payload_facts_t s_facts(int urgency, bool under_2)
{
    egide_payload_facts_t f;
    memset(&f, 0, sizeof f);
    f.urgency = urgency;
    f.child_under_2 = under_2;
    return f;
}

/* The deadline named name among d[0..n), or NULL. */
static const egide_deadline_t *s_find(const egide_deadline_t *d, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(d[i].name, name) == 0)
            return &d[i];
    return NULL;
}

static void test_profiles_load(void)
{
    REQUIRE(s_fr != NULL && s_nc != NULL);
    CHECK_STREQ(egide_deadline_profile_name(s_fr), "fr-casf");
    CHECK_STREQ(egide_deadline_profile_term(s_fr), "information préoccupante");
    CHECK_STREQ(egide_deadline_profile_name(s_nc), "nc-province-sud");
    CHECK_STREQ(egide_deadline_profile_term(s_nc), "information signalante");
    CHECK(strstr(egide_deadline_profile_jurisdiction(s_nc), "Province Sud") != NULL);
    CHECK(egide_deadline_profile_count(s_fr) >= 10);
    CHECK(egide_deadline_profile_def_name(s_fr, 0) != NULL);
    CHECK(egide_deadline_profile_def_name(s_fr, 1000) == NULL);
}

static void test_evaluation_normal(void)
{
    egide_deadline_t d[EGIDE_DEADLINE_PER_MSG];
    size_t n = 0;
    egide_payload_facts_t f = s_facts(1, false);
    int64_t r = s_ts("2026-11-20T08:14:00Z");
    CHECK_RC(egide_deadline_compute(s_fr, "ip.transmission", "ab01", r, &f, d,
                                    EGIDE_DEADLINE_PER_MSG, &n),
             EGIDE_OK);
    CHECK(n == 3);
    const egide_deadline_t *e = s_find(d, n, "evaluation");
    REQUIRE(e != NULL);
    CHECK(e->start_ms == r);
    CHECK(e->due_ms == s_ts("2027-02-20T08:14:00Z"));
    CHECK(strstr(e->source, "L226-3") != NULL);
    CHECK(!e->practice);
    CHECK_STREQ(e->msg_id, "ab01");
    CHECK_STREQ(e->type, "ip.transmission");
    CHECK(e->state == EGIDE_DEADLINE_OPEN);
    const egide_deadline_t *q = s_find(d, n, "qualification");
    REQUIRE(q != NULL);
    CHECK(q->due_ms == r + 7 * DAY);
    CHECK(q->practice);
    const egide_deadline_t *o = s_find(d, n, "observatory_export");
    REQUIRE(o != NULL);
    CHECK(o->due_ms == s_ts("2027-05-01T00:00:00Z") - 1);
    /* No facts at all: the base terms. */
    CHECK_RC(egide_deadline_compute(s_fr, "ip.transmission", NULL, r, NULL, d,
                                    EGIDE_DEADLINE_PER_MSG, &n),
             EGIDE_OK);
    CHECK(n == 3 && s_find(d, n, "evaluation")->due_ms == s_ts("2027-02-20T08:14:00Z"));
    CHECK_STREQ(d[0].msg_id, "");
}

static void test_evaluation_shorter(void)
{
    egide_deadline_t d[EGIDE_DEADLINE_PER_MSG];
    size_t n = 0;
    int64_t r = s_ts("2026-11-20T08:14:00Z");
    /* Urgent: one month, qualification the next day. */
    egide_payload_facts_t f = s_facts(2, false);
    CHECK_RC(egide_deadline_compute(s_fr, "ip.transmission", "x", r, &f, d, 8, &n), EGIDE_OK);
    CHECK(s_find(d, n, "evaluation")->due_ms == s_ts("2026-12-20T08:14:00Z"));
    CHECK(s_find(d, n, "qualification")->due_ms == r + DAY);
    /* Immediate: 15 days. */
    f = s_facts(3, false);
    CHECK_RC(egide_deadline_compute(s_fr, "snated.transmission", "x", r, &f, d, 8, &n), EGIDE_OK);
    CHECK(s_find(d, n, "evaluation")->due_ms == r + 15 * DAY);
    /* Under 2, normal urgency: one month. */
    f = s_facts(1, true);
    CHECK_RC(egide_deadline_compute(s_fr, "ip.transmission", "x", r, &f, d, 8, &n), EGIDE_OK);
    CHECK(s_find(d, n, "evaluation")->due_ms == s_ts("2026-12-20T08:14:00Z"));
    /* Under 2 and immediate: the shortest wins. */
    f = s_facts(3, true);
    CHECK_RC(egide_deadline_compute(s_fr, "ip.transmission", "x", r, &f, d, 8, &n), EGIDE_OK);
    CHECK(s_find(d, n, "evaluation")->due_ms == r + 15 * DAY);
    /* The TAS's assignment carries the IP's receipt: same clock. */
    f = s_facts(1, false);
    f.ip_received_ms = r;
    CHECK_RC(egide_deadline_compute(s_fr, "evaluation.assignment", "as", r + 5 * DAY, &f, d, 8, &n),
             EGIDE_OK);
    CHECK(n == 1 && s_find(d, n, "evaluation")->due_ms == s_ts("2027-02-20T08:14:00Z"));
    CHECK(s_find(d, n, "evaluation")->start_ms == r);
    /* End-of-month clamping: 30 November + 3 months = 28 February. */
    f = s_facts(1, false);
    CHECK_RC(egide_deadline_compute(s_fr, "ip.transmission", "x", s_ts("2026-11-30T10:00:00Z"), &f,
                                    d, 8, &n),
             EGIDE_OK);
    CHECK(s_find(d, n, "evaluation")->due_ms == s_ts("2027-02-28T10:00:00Z"));
}

static void test_opp(void)
{
    egide_deadline_t d[8];
    size_t n = 0;
    int64_t r = s_ts("2026-10-03T00:30:00Z");
    egide_payload_facts_t f = s_facts(1, true);
    CHECK_RC(egide_deadline_compute(s_fr, "court.opp", "opp1", r, &f, d, 8, &n), EGIDE_OK);
    const egide_deadline_t *seize = s_find(d, n, "opp_je_seizure");
    const egide_deadline_t *rule = s_find(d, n, "opp_je_ruling");
    REQUIRE(seize && rule);
    CHECK(seize->due_ms == r + 8 * DAY);
    CHECK(strstr(seize->source, "375-5") != NULL);
    /* Seizure date unknown: 15 days from the 8-day limit. */
    CHECK(rule->start_ms == r + 8 * DAY);
    CHECK(rule->due_ms == r + 23 * DAY);
    CHECK(strstr(rule->source, "1184") != NULL);
    /* Seized on 5 October: the judge rules by 20 October. */
    f.je_seized_ms = s_ts("2026-10-05T09:00:00Z");
    CHECK_RC(egide_deadline_compute(s_fr, "court.opp", "opp1", r, &f, d, 8, &n), EGIDE_OK);
    rule = s_find(d, n, "opp_je_ruling");
    REQUIRE(rule != NULL);
    CHECK(rule->due_ms == s_ts("2026-10-20T09:00:00Z"));
    CHECK(s_find(d, n, "opp_je_seizure")->due_ms == r + 8 * DAY);
    /* The judge rules on day 5, before the ruling clock's fallback start:
     * both deadlines are met. */
    f.je_seized_ms = 0;
    CHECK_RC(egide_deadline_compute(s_fr, "court.opp", "opp1", r, &f, d, 8, &n), EGIDE_OK);
    egide_deadline_msg_t msgs[] = {{"opp1", NULL, "court.opp", r},
                                   {"dec1", "opp1", "court.decision", r + 5 * DAY}};
    CHECK_RC(egide_deadline_evaluate(s_fr, d, n, msgs, 2, r + 30 * DAY), EGIDE_OK);
    CHECK(s_find(d, n, "opp_je_seizure")->state == EGIDE_DEADLINE_MET);
    CHECK(s_find(d, n, "opp_je_ruling")->state == EGIDE_DEADLINE_MET);
    /* Without the decision, both are overdue after 23 days. */
    for (size_t i = 0; i < n; i++)
        d[i].closed_ms = 0;
    CHECK_RC(egide_deadline_evaluate(s_fr, d, n, msgs, 1, r + 24 * DAY), EGIDE_OK);
    CHECK(s_find(d, n, "opp_je_seizure")->state == EGIDE_DEADLINE_OVERDUE);
    CHECK(s_find(d, n, "opp_je_ruling")->state == EGIDE_DEADLINE_OVERDUE);
}

static void test_emergency_reception(void)
{
    egide_deadline_t d[8];
    size_t n = 0;
    int64_t r = s_ts("2026-11-21T22:10:00Z");
    egide_payload_facts_t f = s_facts(1, false);
    f.parental_agreement = 2; /* no */
    CHECK_RC(egide_deadline_compute(s_fr, "ase.emergency_reception", "e1", r, &f, d, 8, &n),
             EGIDE_OK);
    CHECK(n == 1 && d[0].due_ms == r + 5 * DAY);
    CHECK(strstr(d[0].source, "L223-2") != NULL);
    f.runaway = true;
    CHECK_RC(egide_deadline_compute(s_fr, "ase.emergency_reception", "e1", r, &f, d, 8, &n),
             EGIDE_OK);
    CHECK(n == 1 && d[0].due_ms == r + 72 * HOUR);
    /* Not said / unknown: the court must still be seized. */
    f.parental_agreement = 0;
    CHECK_RC(egide_deadline_compute(s_fr, "ase.emergency_reception", "e1", r, &f, d, 8, &n),
             EGIDE_OK);
    CHECK(n == 1);
    f.parental_agreement = 3;
    CHECK_RC(egide_deadline_compute(s_fr, "ase.emergency_reception", "e1", r, &f, d, 8, &n),
             EGIDE_OK);
    CHECK(n == 1);
    /* Parents agreed: no clock. */
    f.parental_agreement = 1;
    CHECK_RC(egide_deadline_compute(s_fr, "ase.emergency_reception", "e1", r, &f, d, 8, &n),
             EGIDE_OK);
    CHECK(n == 0);
}

static void test_situation_reports_and_requested(void)
{
    egide_deadline_t d[8];
    size_t n = 0;
    int64_t r = s_ts("2026-10-15T09:00:00Z");
    egide_payload_facts_t f = s_facts(1, true);
    egide_strlcpy(f.kind, "placement", sizeof f.kind);
    CHECK_RC(egide_deadline_compute(s_fr, "court.decision", "j1", r, &f, d, 8, &n), EGIDE_OK);
    const egide_deadline_t *s = s_find(d, n, "situation_report");
    REQUIRE(s != NULL);
    CHECK(s->due_ms == s_ts("2027-04-15T09:00:00Z")); /* 6 months under 2 */
    f.child_under_2 = false;
    CHECK_RC(egide_deadline_compute(s_fr, "court.decision", "j1", r, &f, d, 8, &n), EGIDE_OK);
    CHECK(s_find(d, n, "situation_report")->due_ms == s_ts("2027-10-15T09:00:00Z"));
    /* An AEMO is not a placement: no situation report clock. */
    egide_strlcpy(f.kind, "aemo", sizeof f.kind);
    CHECK_RC(egide_deadline_compute(s_fr, "court.decision", "j1", r, &f, d, 8, &n), EGIDE_OK);
    CHECK(s_find(d, n, "situation_report") == NULL);
    CHECK(s_find(d, n, "observatory_export") != NULL);
    /* Soit-transmis: the parquet's date, end of that day; none without it. */
    f = s_facts(1, false);
    f.requested_due_ms = s_ts("2026-12-31");
    CHECK_RC(egide_deadline_compute(s_fr, "parquet.soit_transmis", "st", r, &f, d, 8, &n),
             EGIDE_OK);
    CHECK(n == 1 && d[0].due_ms == s_ts("2027-01-01T00:00:00Z") - 1);
    f.requested_due_ms = 0;
    CHECK_RC(egide_deadline_compute(s_fr, "parquet.soit_transmis", "st", r, &f, d, 8, &n),
             EGIDE_OK);
    CHECK(n == 0);
    /* Types without a clock. */
    CHECK_RC(egide_deadline_compute(s_fr, "message.acknowledgement", "a", r, &f, d, 8, &n),
             EGIDE_OK);
    CHECK(n == 0);
    CHECK_RC(egide_deadline_compute(s_fr, "no.such.type", "a", r, &f, d, 8, &n), EGIDE_OK);
    CHECK(n == 0);
}

static void test_new_caledonia(void)
{
    egide_deadline_t d[8];
    size_t n = 0;
    int64_t r = s_ts("2026-11-19T08:05:00+11:00");
    egide_payload_facts_t f = s_facts(1, false);
    CHECK_RC(egide_deadline_compute(s_nc, "ip.transmission", "nc1", r, &f, d, 8, &n), EGIDE_OK);
    CHECK(n == 2);
    const egide_deadline_t *e = s_find(d, n, "evaluation");
    REQUIRE(e != NULL);
    CHECK(strstr(e->label, "information signalante") != NULL);
    CHECK(e->due_ms == s_ts("2027-02-18T21:05:00Z"));
    CHECK(s_find(d, n, "observatory_export") == NULL); /* no ONPE export there */
    f.child_under_2 = true;
    CHECK_RC(egide_deadline_compute(s_nc, "ip.transmission", "nc1", r, &f, d, 8, &n), EGIDE_OK);
    CHECK(s_find(d, n, "evaluation")->due_ms == s_ts("2026-12-18T21:05:00Z"));
    /* No emergency-reception clock is configured for Province Sud. */
    f.parental_agreement = 2;
    CHECK_RC(egide_deadline_compute(s_nc, "ase.emergency_reception", "e", r, &f, d, 8, &n),
             EGIDE_OK);
    CHECK(n == 0);
    CHECK_RC(egide_deadline_compute(s_nc, "court.opp", "o", r, &f, d, 8, &n), EGIDE_OK);
    CHECK(n == 2);
}

static void test_evaluate(void)
{
    egide_deadline_t d[8];
    size_t n = 0;
    int64_t r = s_ts("2026-09-14T07:14:00Z");
    egide_payload_facts_t f = s_facts(1, false);
    REQUIRE(egide_deadline_compute(s_fr, "snated.transmission", "ip1", r, &f, d, 8, &n) ==
            EGIDE_OK);
    REQUIRE(n == 3);
    /* Nothing yet: open the next day, qualification overdue after a week. */
    CHECK_RC(egide_deadline_evaluate(s_fr, d, n, NULL, 0, r + DAY), EGIDE_OK);
    for (size_t i = 0; i < n; i++)
        CHECK(d[i].state == EGIDE_DEADLINE_OPEN);
    CHECK_RC(egide_deadline_evaluate(s_fr, d, n, NULL, 0, r + 8 * DAY), EGIDE_OK);
    CHECK(s_find(d, n, "qualification")->state == EGIDE_DEADLINE_OVERDUE);
    CHECK(s_find(d, n, "evaluation")->state == EGIDE_DEADLINE_OPEN);

    /* The thread: IP <- qualification, IP <- assignment <- report. */
    egide_deadline_msg_t msgs[] = {
        {"ip1", NULL, "snated.transmission", r},
        {"q1", "ip1", "ip.qualification", r + 2 * DAY},
        {"as1", "ip1", "evaluation.assignment", r + 3 * DAY},
        {"rp1", "as1", "evaluation.report", s_ts("2026-11-18T14:00:00Z")},
        /* Another child's thread: its report must not close ours. */
        {"ip2", NULL, "ip.transmission", r},
        {"rp2", "ip2", "evaluation.report", r + DAY},
    };
    CHECK_RC(egide_deadline_evaluate(s_fr, d, n, msgs, 6, s_ts("2026-11-22T10:00:00Z")), EGIDE_OK);
    const egide_deadline_t *q = s_find(d, n, "qualification"), *e = s_find(d, n, "evaluation");
    CHECK(q->state == EGIDE_DEADLINE_MET);
    CHECK_STREQ(q->closed_by, "q1");
    CHECK(q->closed_ms == r + 2 * DAY);
    CHECK(e->state == EGIDE_DEADLINE_MET);
    CHECK_STREQ(e->closed_by, "rp1");
    CHECK(s_find(d, n, "observatory_export")->state == EGIDE_DEADLINE_OPEN);
    CHECK_STREQ(egide_deadline_state_name(e->state), "met");

    /* Without our own report: rp2 (another thread) leaves it overdue. */
    for (size_t i = 0; i < n; i++) {
        d[i].closed_ms = 0;
        d[i].closed_by[0] = '\0';
    }
    egide_deadline_msg_t other[] = {msgs[0], msgs[4], msgs[5]};
    CHECK_RC(egide_deadline_evaluate(s_fr, d, n, other, 3, s_ts("2026-12-15T00:00:00Z")), EGIDE_OK);
    CHECK(s_find(d, n, "evaluation")->state == EGIDE_DEADLINE_OVERDUE);

    /* A report after the due time: late. */
    for (size_t i = 0; i < n; i++)
        d[i].closed_ms = 0;
    egide_deadline_msg_t late[] = {
        {"ip1", NULL, "snated.transmission", r},
        {"rp3", "ip1", "evaluation.report", s_ts("2027-01-05T10:00:00Z")}};
    CHECK_RC(egide_deadline_evaluate(s_fr, d, n, late, 2, s_ts("2027-01-06T00:00:00Z")), EGIDE_OK);
    CHECK(s_find(d, n, "evaluation")->state == EGIDE_DEADLINE_LATE);
    CHECK_STREQ(egide_deadline_state_name(EGIDE_DEADLINE_LATE), "late");

    /* A cycle in in_reply_to is harmless. */
    for (size_t i = 0; i < n; i++)
        d[i].closed_ms = 0;
    egide_deadline_msg_t cyc[] = {{"a", "b", "evaluation.report", r + DAY},
                                  {"b", "a", "ip.qualification", r}};
    CHECK_RC(egide_deadline_evaluate(s_fr, d, n, cyc, 2, r + 2 * DAY), EGIDE_OK);
    CHECK(s_find(d, n, "evaluation")->state == EGIDE_DEADLINE_OPEN);
}

static void test_evaluate_export_any(void)
{
    egide_deadline_t d[8];
    size_t n = 0;
    int64_t r = s_ts("2026-10-15T09:00:00Z");
    egide_payload_facts_t f = s_facts(1, false);
    egide_strlcpy(f.kind, "placement", sizeof f.kind);
    REQUIRE(egide_deadline_compute(s_fr, "court.decision", "j1", r, &f, d, 8, &n) == EGIDE_OK);
    /* The export is not in the decision's thread: "close = any". */
    egide_deadline_msg_t ok[] = {{"x1", NULL, "observatory.export", s_ts("2027-04-10T08:00:00Z")}};
    CHECK_RC(egide_deadline_evaluate(s_fr, d, n, ok, 1, s_ts("2027-04-11T00:00:00Z")), EGIDE_OK);
    CHECK(s_find(d, n, "observatory_export")->state == EGIDE_DEADLINE_MET);
    CHECK(s_find(d, n, "situation_report")->state == EGIDE_DEADLINE_OPEN);
    for (size_t i = 0; i < n; i++)
        d[i].closed_ms = 0;
    egide_deadline_msg_t late[] = {
        {"x2", NULL, "observatory.export", s_ts("2027-05-02T08:00:00Z")}};
    CHECK_RC(egide_deadline_evaluate(s_fr, d, n, late, 1, s_ts("2027-05-03T00:00:00Z")), EGIDE_OK);
    CHECK(s_find(d, n, "observatory_export")->state == EGIDE_DEADLINE_LATE);
    /* An export sent before the decision does not count. */
    for (size_t i = 0; i < n; i++)
        d[i].closed_ms = 0;
    egide_deadline_msg_t before[] = {{"x0", NULL, "observatory.export", r - DAY}};
    CHECK_RC(egide_deadline_evaluate(s_fr, d, n, before, 1, s_ts("2027-05-03T00:00:00Z")),
             EGIDE_OK);
    CHECK(s_find(d, n, "observatory_export")->state == EGIDE_DEADLINE_OVERDUE);
}

static void test_states_and_args(void)
{
    egide_deadline_state s;
    CHECK_RC(egide_deadline_state_parse("overdue", &s), EGIDE_OK);
    CHECK(s == EGIDE_DEADLINE_OVERDUE);
    CHECK_RC(egide_deadline_state_parse("met", &s), EGIDE_OK);
    CHECK(s == EGIDE_DEADLINE_MET);
    CHECK_RC(egide_deadline_state_parse("closed", &s), EGIDE_ERR_INVALID);
    CHECK_RC(egide_deadline_state_parse(NULL, &s), EGIDE_ERR_INVALID);
    CHECK_STREQ(egide_deadline_state_name((egide_deadline_state)42), "?");
    egide_deadline_t d[1];
    size_t n = 7;
    CHECK_RC(egide_deadline_compute(NULL, "ip.transmission", "x", 0, NULL, d, 1, &n),
             EGIDE_ERR_INVALID);
    CHECK(n == 0);
    /* Three deadlines do not fit in one slot. */
    CHECK_RC(
        egide_deadline_compute(s_fr, "ip.transmission", "x", s_ts("2026-11-20"), NULL, d, 1, &n),
        EGIDE_ERR_LIMIT);
    CHECK_RC(egide_deadline_evaluate(NULL, d, 1, NULL, 0, 0), EGIDE_ERR_INVALID);
    CHECK_RC(egide_deadline_evaluate(s_fr, NULL, 1, NULL, 0, 0), EGIDE_ERR_INVALID);
    egide_deadline_profile_t *p = NULL;
    egide_deadline_profile_destroy(&p); /* NULL-safe */
    egide_deadline_profile_destroy(NULL);
    char err[256];
    CHECK_RC(egide_deadline_profile_load("/nonexistent/profile.ini", &p, err, sizeof err),
             EGIDE_ERR_NOTFOUND);
    CHECK(p == NULL && strstr(err, "/nonexistent/profile.ini") != NULL);
}

/* Parsing text must fail with EGIDE_ERR_CONFIG and an error containing want. */
static void s_bad_profile(const char *text, const char *want)
{
    egide_deadline_profile_t *p = NULL;
    char err[512];
    CHECK_RC(egide_deadline_profile_parse("t.ini", text, &p, err, sizeof err), EGIDE_ERR_CONFIG);
    CHECK(p == NULL);
    if (!strstr(err, want))
        fprintf(stderr, "wanted \"%s\" in \"%s\"\n", want, err);
    CHECK(strstr(err, want) != NULL);
}

#define HEAD "[profile]\nname = t\n"
#define DEF                                                                                        \
    "[deadline a]\nlabel = A\nsource = S\non = ip.transmission\nclosed_by = evaluation.report\n"

static void test_profile_errors(void)
{
    egide_deadline_profile_t *p = NULL;
    char err[512];
    CHECK_RC(
        egide_deadline_profile_parse("t.ini", HEAD DEF "due = 3 months\n", &p, err, sizeof err),
        EGIDE_OK);
    CHECK(p != NULL && strcmp(egide_deadline_profile_term(p), "information préoccupante") == 0);
    egide_deadline_profile_destroy(&p);
    CHECK(p == NULL);
    s_bad_profile(HEAD DEF "due = 3 weeks\n", "t.ini:8: due: not a duration");
    s_bad_profile(HEAD DEF "due = three months\n", "t.ini:8: due: not a duration");
    s_bad_profile(HEAD DEF "due = 3 months\ndue_urgent = requested\n",
                  "t.ini:9: due_urgent: not a duration");
    s_bad_profile(HEAD DEF "due = date 02-30 +1\n", "t.ini:8: due: not a duration");
    s_bad_profile(HEAD DEF "due = 3 months\ncolour = red\n",
                  "t.ini:9: [deadline a]: unknown key \"colour\"");
    s_bad_profile(HEAD DEF "due = 3 months\nclosed_by = evaluation.reprot\n",
                  "t.ini:9: unknown message type \"evaluation.reprot\"");
    s_bad_profile(HEAD DEF, "t.ini: [deadline a]: due is required");
    s_bad_profile(
        HEAD "[deadline a]\nlabel = A\nsource = S\ndue = 1 days\nclosed_by = ip.qualification\n",
        "[deadline a]: on is required");
    s_bad_profile(HEAD DEF "due = 1 days\nfrom = je_seized\nfrom_fallback = nope\n",
                  "from_fallback names no deadline");
    s_bad_profile(HEAD DEF "due = 1 days\nfrom = yesterday\n",
                  "from: received, ip_received or je_seized");
    s_bad_profile(HEAD DEF "due = 1 days\nwhen = raining\n", "when: only no_parental_agreement");
    s_bad_profile(HEAD DEF "due = 1 days\nclose = never\n", "close: thread or any");
    s_bad_profile(HEAD DEF "due = 1 days\npractice = maybe\n", "practice: not a boolean");
    s_bad_profile(HEAD "[other]\nx = 1\n", "t.ini:4: unknown section [other]");
    s_bad_profile(HEAD, "no [deadline NAME] section");
    s_bad_profile("[profile]\nterm = x\n" DEF "due = 1 days\n", "[profile] name is required");
    s_bad_profile(HEAD "colour = red\n", "t.ini:3: [profile]: unknown key");
    s_bad_profile(HEAD "this is not ini\n", "t.ini:3:");
    CHECK_RC(egide_deadline_profile_parse("t.ini", NULL, &p, err, sizeof err), EGIDE_ERR_INVALID);
}

int main(void)
{
    s_fr = s_load("fr-casf.ini");
    s_nc = s_load("nc-province-sud.ini");
    RUN(test_profiles_load);
    RUN(test_evaluation_normal);
    RUN(test_evaluation_shorter);
    RUN(test_opp);
    RUN(test_emergency_reception);
    RUN(test_situation_reports_and_requested);
    RUN(test_new_caledonia);
    RUN(test_evaluate);
    RUN(test_evaluate_export_any);
    RUN(test_states_and_args);
    RUN(test_profile_errors);
    egide_deadline_profile_destroy(&s_fr);
    egide_deadline_profile_destroy(&s_nc);
    CHECK(s_fr == NULL);
    EGIDE_TEST_DONE();
}
