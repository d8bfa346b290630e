/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_deadline.c - legal clocks on a fixed clock: the 3-month evaluation
 * and its shorter variants (urgent, immediate, child under 2), OPP (8 + 15
 * days), emergency reception (5 days / 72 h, parental agreement), situation
 * reports, the parquet's own term, the 30 April export, the New Caledonia
 * profile, who must act (actor, actor_roles per starting type), what closes
 * and releases each deadline, and profile parsing errors with their line
 * numbers.  Keeping, closing and releasing them is test_obligations'.
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
    /* The parquet that sent the OPP must act on both; the decision closes
     * them (the edge stores and closes them: test_obligations). */
    CHECK(seize->actor == EGIDE_DEADLINE_ACTOR_SENDER &&
          strcmp(seize->actor_roles, "parquet") == 0);
    CHECK(rule->actor == EGIDE_DEADLINE_ACTOR_SENDER && !rule->yearly);
    size_t nd = egide_deadline_profile_count(s_fr);
    int closes = 0;
    for (size_t i = 0; i < nd; i++) {
        const char *name = egide_deadline_profile_def_name(s_fr, i);
        bool opp = strncmp(name, "opp_je_", 7) == 0;
        unsigned fx = egide_deadline_effect(s_fr, i, "court.decision");
        if (opp) {
            CHECK(fx == EGIDE_DEADLINE_CLOSES);
            closes++;
        }
    }
    CHECK(closes == 2);
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

/* Who must act, per starting type: the CRIP on the referral, the TAS on
 * the assignment; what closes and releases; the yearly export. */
static void test_who_and_effects(void)
{
    egide_deadline_t d[8];
    size_t n = 0;
    int64_t r = s_ts("2026-09-14T07:14:00Z");
    egide_payload_facts_t f = s_facts(1, false);
    REQUIRE(egide_deadline_compute(s_fr, "snated.transmission", "ip1", r, &f, d, 8, &n) ==
            EGIDE_OK);
    REQUIRE(n == 3);
    for (size_t i = 0; i < n; i++) {
        CHECK(d[i].actor == EGIDE_DEADLINE_ACTOR_RECIPIENT);
        CHECK_STREQ(d[i].actor_roles, "crip");
        CHECK(d[i].state == EGIDE_DEADLINE_OPEN);
    }
    const egide_deadline_t *x = s_find(d, n, "observatory_export");
    REQUIRE(x != NULL);
    CHECK(x->yearly && !s_find(d, n, "evaluation")->yearly);
    CHECK(x->due_ms == s_ts("2027-04-30T23:59:59.999Z"));
    f.ip_received_ms = r;
    REQUIRE(egide_deadline_compute(s_fr, "evaluation.assignment", "as1", r + 3 * DAY, &f, d, 8,
                                   &n) == EGIDE_OK);
    REQUIRE(n == 1);
    CHECK_STREQ(d[0].name, "evaluation");
    CHECK_STREQ(d[0].actor_roles, "tas");
    CHECK(d[0].start_ms == r && d[0].due_ms == egide_date_add_months(r, 3));
    REQUIRE(egide_deadline_compute(s_fr, "parquet.saisine", "s1", r, &f, d, 8, &n) == EGIDE_OK);
    CHECK(n == 1 && strcmp(d[0].name, "parquet_feedback") == 0 &&
          strcmp(d[0].actor_roles, "parquet") == 0);
    REQUIRE(egide_deadline_compute(s_fr, "ase.situation_report", "sr", r, &f, d, 8, &n) ==
            EGIDE_OK);
    CHECK(n == 1 && d[0].actor == EGIDE_DEADLINE_ACTOR_SENDER &&
          strcmp(d[0].actor_roles, "ase") == 0);

    /* closed_by and released_by, per definition */
    size_t nd = egide_deadline_profile_count(s_fr);
    for (size_t i = 0; i < nd; i++) {
        const char *name = egide_deadline_profile_def_name(s_fr, i);
        unsigned rep = egide_deadline_effect(s_fr, i, "evaluation.report");
        unsigned mis = egide_deadline_effect(s_fr, i, "routing.misrouted");
        unsigned q = egide_deadline_effect(s_fr, i, "ip.qualification");
        unsigned exp = egide_deadline_effect(s_fr, i, "observatory.export");
        if (strcmp(name, "evaluation") == 0) {
            CHECK(rep == EGIDE_DEADLINE_CLOSES && mis == EGIDE_DEADLINE_RELEASES && q == 0);
        } else if (strcmp(name, "qualification") == 0) {
            CHECK(q == EGIDE_DEADLINE_CLOSES && rep == 0 && mis == 0);
        } else if (strcmp(name, "observatory_export") == 0) {
            CHECK(exp == EGIDE_DEADLINE_CLOSES && egide_deadline_def_yearly(s_fr, i));
        } else {
            CHECK(mis == 0 && exp == 0 && !egide_deadline_def_yearly(s_fr, i));
        }
    }
    CHECK(egide_deadline_effect(s_fr, nd, "evaluation.report") == 0);
    CHECK(egide_deadline_effect(NULL, 0, "evaluation.report") == 0);
    CHECK(egide_deadline_effect(s_fr, 0, NULL) == 0);
    CHECK(!egide_deadline_def_yearly(s_fr, nd));

    CHECK(egide_deadline_role_in("crip tas", "tas"));
    CHECK(egide_deadline_role_in("crip tas", "crip"));
    CHECK(!egide_deadline_role_in("crip tas", "ta"));
    CHECK(!egide_deadline_role_in("crip", "cri"));
    CHECK(egide_deadline_role_in("", "ase")); /* no list: any role */
    CHECK(!egide_deadline_role_in("", ""));
    CHECK(!egide_deadline_role_in("crip", NULL));
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
    CHECK_STREQ(egide_deadline_state_name(EGIDE_DEADLINE_RELEASED), "released");
    CHECK_RC(egide_deadline_state_parse("released", &s), EGIDE_OK);
    CHECK(s == EGIDE_DEADLINE_RELEASED);
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
    /* on names catalogue types; closed_by and released_by may name types
     * the catalogue adds later, but only type-shaped names */
    s_bad_profile(HEAD DEF "due = 3 months\non = evaluation.reprot\n",
                  "t.ini:9: unknown message type \"evaluation.reprot\"");
    s_bad_profile(HEAD DEF "due = 3 months\nclosed_by = Evaluation\n",
                  "t.ini:9: unknown message type \"Evaluation\"");
    s_bad_profile(HEAD DEF "due = 3 months\nreleased_by = misrouted\n",
                  "t.ini:9: unknown message type \"misrouted\"");
    CHECK_RC(egide_deadline_profile_parse("t.ini",
                                          HEAD DEF "due = 3 months\nreleased_by = routing.misrouted"
                                                   "\nclosed_by = routing.closed_later\n",
                                          &p, err, sizeof err),
             EGIDE_OK);
    egide_deadline_profile_destroy(&p);
    s_bad_profile(HEAD DEF "due = 1 days\nactor = judge\n", "actor: recipient or sender");
    s_bad_profile(HEAD DEF "due = 1 days\nactor_roles = CRIP\n", "actor_roles: roles are lower");
    s_bad_profile(HEAD DEF "due = 1 days\nactor_roles = ,\n", "actor_roles: empty list of roles");
    s_bad_profile(HEAD DEF "due = 1 days\nactor_roles.court.opp = parquet\n",
                  "actor_roles.court.opp: the type is not in \"on\"");
    s_bad_profile(HEAD DEF "due = 1 days\nscope = decade\n", "scope: case or year");
    /* nine deadlines started by one type do not fit what the edge keeps */
    char many[4096];
    size_t o = (size_t)snprintf(many, sizeof many, "%s", HEAD);
    for (int i = 0; i <= EGIDE_DEADLINE_PER_MSG; i++)
        o += (size_t)snprintf(many + o, sizeof many - o,
                              "[deadline d%d]\nlabel = A\nsource = S\non = ip.transmission\n"
                              "closed_by = evaluation.report\ndue = 1 days\n",
                              i);
    s_bad_profile(many, "ip.transmission starts more than 8 deadlines");
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
    RUN(test_who_and_effects);
    RUN(test_states_and_args);
    RUN(test_profile_errors);
    egide_deadline_profile_destroy(&s_fr);
    egide_deadline_profile_destroy(&s_nc);
    CHECK(s_fr == NULL);
    EGIDE_TEST_DONE();
}
