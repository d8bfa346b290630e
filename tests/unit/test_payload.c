/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_payload.c - referral payloads: JSON -> protobuf -> JSON round trips
 * for every catalogue type and every sample, one test per kind of
 * validation error, facts, content types, strict decoding of received
 * protobuf, and the date helpers the validator relies on.
 * The clock is fixed (NOW = 2026-11-22T10:00:00Z).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "egide/domain/egide_catalogue.h"
#include "egide/base/egide_date.h"
#include "egide/base/egide_limits.h"
#include "egide/domain/egide_payload.h"
#include "egide/base/egide_util.h"
#include "egide_test.h"

#define NOW 1795341600000LL /* 2026-11-22T10:00:00Z */

#define CHILD                                                                                       \
    "{\"surname\":\"Fictif\",\"first_names\":[\"Zoé\",\"Anne\"],\"sex\":\"female\","               \
    "\"birth_date\":\"2016-05-14\",\"commune\":\"71137\",\"address\":{\"street\":\"1 rue X\","      \
    "\"postal_code\":\"71250\",\"city\":\"Cluny\"},\"school\":\"École\",\"school_class\":\"CM1\"," \
    "\"mother_birth_surname\":\"Inventé\",\"case_ref\":\"C-1\"}"
#define ADULT                                                                                      \
    "{\"surname\":\"Fictif\",\"birth_surname\":\"Inventé\",\"first_names\":[\"Claire\"],"         \
    "\"link\":\"mother\",\"birth_date\":\"1985-01-31\",\"phone\":\"+33 6 00 00 00 00\","           \
    "\"parental_authority\":true,\"presumed_author\":true,\"lives_with_children\":true}"
#define DANGER                                                                                     \
    "{\"categories\":[\"physical_violence\",\"severe_neglect\"],\"facts\":[{\"date\":\"2026-11-"   \
    "01\","                                                                                        \
    "\"account\":\"Vu.\\nDeux lignes.\",\"reported_by\":\"voisin\"}],\"assessment\":\"Grave.\","   \
    "\"health_data\":true}"
#define SENDER                                                                                     \
    "{\"type\":\"education\",\"organisation\":\"Collège\",\"name\":\"A. "                         \
    "Exemple\",\"role\":\"CPE\","                                                                  \
    "\"phone\":\"03 85 00 00 00\",\"email\":\"a@exemple.invalid\",\"reference\":\"R-1\","          \
    "\"confidential\":true}"
/* SHA-256("hello") and its base64 content. */
#define ATTACH                                                                                     \
    "{\"name\":\"a.txt\",\"media_type\":\"text/plain\",\"size_bytes\":5,\"sha256\":"               \
    "\"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\",\"content\":\"aGVsbG8="  \
    "\","                                                                                          \
    "\"health_data\":true}"
#define T "\"2026-11-20T09:14:00+01:00\""

/* One complete payload per catalogue type (every message kind is used). */
static const struct {
    const char *type;
    const char *json;
} s_full[] = {
    {"ip.transmission",
     "{\"received_at\":" T ",\"channel\":\"phone\",\"sender\":" SENDER
     ",\"parents_informed\":\"no\","
     "\"children\":[" CHILD "," CHILD "],\"adults\":[" ADULT "],\"other_minors\":[{\"first_name\":"
     "\"Léo\",\"birth_date\":\"2010-01-01\",\"sex\":\"male\"}],\"danger\":" DANGER
     ",\"urgency\":\"urgent\",\"attachments\":[" ATTACH "],\"household\":\"Mère et enfants.\"}"},
    {"snated.transmission",
     "{\"received_at\":" T
     ",\"snated_ref\":\"S-1\",\"sender\":{\"type\":\"snated\",\"anonymous\":true},"
     "\"caller_account\":\"Récit.\",\"handler_assessment\":\"Évaluation.\",\"phoned_to_crip\":true,"
     "\"children\":[" CHILD "],\"adults\":[" ADULT
     "],\"other_minors\":[{\"birth_date\":\"2012-03-03\"}],"
     "\"danger\":" DANGER ",\"urgency\":\"immediate\",\"parents_informed\":\"unknown\"}"},
    {"ip.qualification",
     "{\"decided_at\":" T ",\"case_ref\":\"C-1\",\"qualification\":\"information_preoccupante\","
     "\"child_already_known\":true,\"next_step\":\"Évaluation.\",\"urgency\":\"normal\"}"},
    {"parquet.direct_signalement",
     "{\"sent_at\":" T ",\"sender\":" SENDER ",\"children\":[" CHILD "],\"adults\":[" ADULT "],"
     "\"danger\":" DANGER ",\"urgency\":\"immediate\",\"copy_to_pcd\":true,\"attachments\":[" ATTACH
     "]}"},
    {"parquet.soit_transmis",
     "{\"issued_at\":" T
     ",\"parquet_ref\":\"P-1\",\"request\":\"Évaluer.\",\"due_date\":\"2026-12-31\","
     "\"children\":[" CHILD "],\"adults\":[" ADULT
     "],\"urgency\":\"normal\",\"attachments\":[" ATTACH "]}"},
    {"parquet.saisine",
     "{\"sent_at\":" T
     ",\"case_ref\":\"C-1\",\"grounds\":[\"grave_immediate_danger\",\"family_refusal\"],"
     "\"actions_taken\":\"AED refusée.\",\"children\":[" CHILD "],\"adults\":[" ADULT
     "],\"danger\":" DANGER ",\"urgency\":\"urgent\",\"attachments\":[" ATTACH "]}"},
    {"parquet.feedback",
     "{\"decided_at\":" T ",\"parquet_ref\":\"P-1\",\"case_ref\":\"C-1\",\"outcome\":\"je_seized\","
     "\"comment\":\"JE saisi.\"}"},
    {"evaluation.assignment",
     "{\"assigned_at\":" T ",\"ip_received_at\":" T
     ",\"case_ref\":\"C-1\",\"territory\":\"71.tas.macon\","
     "\"evaluators\":[\"A\",\"B\"],\"children\":[" CHILD
     "],\"other_minors\":[{\"birth_date\":\"2012-03-03\"}],"
     "\"urgency\":\"urgent\",\"instructions\":\"Rencontrer tous les mineurs.\","
     "\"routing_override\":{\"reason\":\"Enfant suivi par l'équipe de Mâcon.\","
     "\"commune\":\"71270\"}}"},
    {"parents.notice", "{\"case_ref\":\"C-1\",\"sent_at\":" T "}"},
    {"evaluation.information_request",
     "{\"requested_at\":" T ",\"case_ref\":\"C-1\",\"addressee\":\"médecin scolaire\","
     "\"questions\":\"Suivi ?\",\"due_date\":\"2026-12-01\"}"},
    {"evaluation.escalation",
     "{\"escalated_at\":" T
     ",\"case_ref\":\"C-1\",\"reason\":\"child_not_met\",\"facts\":\"Absent.\","
     "\"urgency\":\"immediate\"}"},
    {"evaluation.report",
     "{\"completed_at\":" T ",\"ip_received_at\":" T
     ",\"case_ref\":\"C-1\",\"evaluators\":[\"A\",\"B\"],"
     "\"children\":[" CHILD "],\"conclusion\":\"judicial_referral\",\"reasons\":\"Motifs.\","
     "\"proposed_measures\":\"AEMO.\",\"child_met\":true,\"parents_met\":true,\"attachments\":"
     "[" ATTACH "]}"},
    {"sender.feedback",
     "{\"sent_at\":" T
     ",\"case_ref\":\"C-1\",\"sender_ref\":\"S-1\",\"outcome\":\"evaluation_under_way\","
     "\"message\":\"Merci.\"}"},
    {"department.transfer",
     "{\"transferred_at\":" T
     ",\"case_ref\":\"C-1\",\"from_department\":\"71\",\"to_department\":\"2A\","
     "\"new_commune\":\"2A004\",\"address_unknown\":true,\"children\":[" CHILD
     "],\"adults\":[" ADULT "],"
     "\"danger\":" DANGER ",\"summary\":\"Résumé.\",\"attachments\":[" ATTACH "]}"},
    {"ase.emergency_reception",
     "{\"received_at\":" T ",\"children\":[" CHILD "],\"adults\":[" ADULT
     "],\"parental_agreement\":\"no\","
     "\"runaway\":true,\"circumstances\":\"Fugue.\",\"placement_place\":\"Foyer\"}"},
    {"court.opp", "{\"ordered_at\":" T ",\"parquet_ref\":\"P-1\",\"children\":[" CHILD
                  "],\"adults\":[" ADULT "],"
                  "\"placed_with\":\"ASE 71\",\"grounds\":\"Danger.\",\"je_seized_at\":" T "}"},
    {"court.decision", "{\"decided_at\":" T
                       ",\"court_ref\":\"J-1\",\"decision\":\"placement\",\"children\":[" CHILD "],"
                       "\"measure_start_date\":\"2026-11-20\",\"measure_end_date\":\"2027-11-19\","
                       "\"reasons\":\"Motifs.\","
                       "\"notified_at\":" T "}"},
    {"ase.situation_report",
     "{\"report_date\":\"2026-11-20\",\"court_ref\":\"J-1\",\"children\":[" CHILD "],"
     "\"period_start_date\":\"2025-11-20\",\"period_end_date\":\"2026-11-19\",\"placement_place\":"
     "\"AF\","
     "\"summary\":\"Bilan.\",\"attachments\":[" ATTACH "]}"},
    {"ase.incident", "{\"occurred_at\":" T ",\"kind\":\"runaway\",\"children\":[" CHILD
                     "],\"description\":\"Fugue.\","
                     "\"police_informed\":true,\"ended_at\":" T "}"},
    {"observatory.export",
     "{\"department\":\"71\",\"year\":2026,\"algorithm\":\"hmac-sha256-v1\",\"generated_at\":" T ","
     "\"events\":[{\"pseudonym\":"
     "\"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\","
     "\"previous_pseudonym\":\"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9825\","
     "\"event_type\":\"judicial_decision\",\"event_month\":\"2026-11\",\"department\":\"71\","
     "\"detail\":\"placement\"}]}"},
    {"message.acknowledgement",
     "{\"acknowledged_at\":" T ",\"acknowledged_by\":\"crip-worker-12\",\"comment\":\"Lu.\"}"},
    {"routing.misrouted",
     "{\"reported_at\":" T ",\"case_ref\":\"C-1\",\"received_msg_id\":"
     "\"0123456789abcdef0123456789abcdef\",\"reason\":\"wrong_commune\",\"reason_text\":"
     "\"La famille habite Cluny.\\nPas notre territoire.\",\"believed_commune\":\"71137\","
     "\"believed_territory\":\"71.tas.cluny-tournus\"}"},
};

/* JSON -> pb -> JSON: the output must equal the input (minus "_comment"),
 * and pb -> check must accept it. */
static void s_round_trip(const char *type, const char *json, const char *what)
{
    uint8_t *pb = NULL;
    size_t pb_len = 0;
    char *errors = NULL, *out = NULL;
    egide_payload_facts_t fx;
    egide_rc rc =
        egide_payload_from_json(type, json, strlen(json), NOW, &pb, &pb_len, &fx, &errors);
    if (rc != EGIDE_OK)
        fprintf(stderr, "%s (%s): %s\n", what, type, errors ? errors : "?");
    CHECK_RC(rc, EGIDE_OK);
    free(errors);
    if (rc != EGIDE_OK)
        return;
    CHECK(pb_len > 0);
    CHECK_RC(egide_payload_to_json(type, pb, pb_len, &out), EGIDE_OK);
    json_t *in = json_loads(json, 0, NULL), *back = out ? json_loads(out, 0, NULL) : NULL;
    json_object_del(in, "_comment");
    bool same = in && back && json_equal(in, back);
    if (!same)
        fprintf(stderr, "%s (%s): round trip differs:\n%s\n", what, type, out ? out : "(null)");
    CHECK(same);
    errors = NULL;
    CHECK_RC(egide_payload_check(type, pb, pb_len, NOW, NULL, &errors), EGIDE_OK);
    CHECK(errors == NULL);
    free(errors);
    /* JSON -> pb -> JSON -> pb gives the same bytes. */
    uint8_t *pb2 = NULL;
    size_t pb2_len = 0;
    CHECK_RC(egide_payload_from_json(type, out, strlen(out), NOW, &pb2, &pb2_len, NULL, NULL),
             EGIDE_OK);
    CHECK(pb2_len == pb_len && pb2 && memcmp(pb, pb2, pb_len) == 0);
    free(pb2);
    json_decref(in);
    json_decref(back);
    free(out);
    free(pb);
}

static void test_round_trip_every_type(void)
{
    size_t n = sizeof s_full / sizeof s_full[0];
    /* Every catalogue type has a schema and a case here. */
    CHECK(n == egide_catalogue_type_count());
    for (size_t i = 0; i < egide_catalogue_type_count(); i++) {
        const char *name = egide_catalogue_type_at(i)->name;
        bool found = false;
        for (size_t k = 0; k < n; k++)
            found |= strcmp(s_full[k].type, name) == 0;
        if (!found)
            fprintf(stderr, "no round-trip case for %s\n", name);
        CHECK(found);
        CHECK(egide_payload_type_known(name));
    }
    for (size_t k = 0; k < n; k++)
        s_round_trip(s_full[k].type, s_full[k].json, "full");
}

static void test_round_trip_samples(void)
{
    static const struct {
        const char *file, *type;
    } samples[] = {
        {"snated-cluny.json", "snated.transmission"},
        {"ip-macon-under2.json", "ip.transmission"},
        {"evaluation-report-cluny.json", "evaluation.report"},
        {"opp-macon.json", "court.opp"},
        {"nc-noumea-information-signalante.json", "ip.transmission"},
        {"court-decision-macon.json", "court.decision"},
        {"emergency-reception-cluny.json", "ase.emergency_reception"},
        {"routing-misrouted-macon.json", "routing.misrouted"},
    };
    const char *src = getenv("EGIDE_SOURCE_DIR");
    REQUIRE(src != NULL);
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/deploy/samples/%s", src, samples[i].file);
        uint8_t *buf;
        size_t len;
        CHECK_RC(egide_file_read(path, 1u << 20, &buf, &len), EGIDE_OK);
        if (!buf)
            continue;
        /* Each sample says it is invented. */
        CHECK(strstr((char *)buf, "INVENTED") != NULL);
        s_round_trip(samples[i].type, (char *)buf, samples[i].file);
        free(buf);
    }
}

/* from_json must fail with EGIDE_ERR_VALIDATION and report `want` as one line. */
static void s_expect(const char *type, const char *json, const char *want)
{
    char *errors = NULL;
    uint8_t *pb = (uint8_t *)1;
    size_t pb_len = 99;
    egide_rc rc =
        egide_payload_from_json(type, json, strlen(json), NOW, &pb, &pb_len, NULL, &errors);
    CHECK_RC(rc, EGIDE_ERR_VALIDATION);
    CHECK(pb == NULL && pb_len == 0);
    bool found = false;
    if (errors) {
        const char *p = errors;
        size_t wl = strlen(want);
        while (*p) {
            size_t n = strcspn(p, "\n");
            if (n == wl && strncmp(p, want, n) == 0)
                found = true;
            p += n + (p[n] ? 1 : 0);
        }
    }
    if (!found)
        fprintf(stderr, "wanted \"%s\" in:\n%s\n", want, errors ? errors : "(no errors)");
    CHECK(found);
    free(errors);
}

/* A valid ip.transmission with `extra` members added at the top level. */
static char *s_ip_with(const char *children, const char *extra)
{
    char *buf = malloc(16384);
    snprintf(buf, 16384,
             "{\"received_at\":" T ",\"sender\":" SENDER ",\"children\":%s,\"danger\":" DANGER
             ",\"urgency\":\"normal\"%s%s}",
             children, extra[0] ? "," : "", extra);
    return buf;
}

static void test_validation_errors(void)
{
    const char *ip = "ip.transmission";
    char *j;
    /* Spec examples. */
    j = s_ip_with("[" CHILD
                  ",{\"first_names\":[\"A\"],\"sex\":\"male\",\"birth_date\":\"2016-02-30\","
                  "\"commune\":\"71137\"}]",
                  "");
    s_expect(ip, j, "children[1].birth_date: not a date");
    free(j);
    j = s_ip_with("[]", "");
    s_expect(ip, j, "children: at least one child");
    free(j);
    s_expect(ip,
             "{\"received_at\":" T ",\"sender\":" SENDER ",\"danger\":" DANGER
             ",\"urgency\":\"normal\"}",
             "children: at least one child");
    j = s_ip_with("[" CHILD "]", "\"danger2\":1");
    s_expect(ip, j, "danger2: unknown field");
    free(j);
    s_expect(ip,
             "{\"received_at\":" T ",\"sender\":" SENDER ",\"children\":[" CHILD "],"
             "\"danger\":{\"categories\":[\"x\"]},\"urgency\":\"normal\"}",
             "danger.categories[0]: unknown category \"x\"");
    s_expect(ip,
             "{\"received_at\":" T ",\"sender\":" SENDER ",\"children\":[" CHILD "],"
             "\"danger\":{\"categories\":[\"severe_neglect\",\"severe_neglect\"]},\"urgency\":"
             "\"normal\"}",
             "danger.categories[1]: duplicate category");
    s_expect(ip,
             "{\"received_at\":" T ",\"sender\":" SENDER ",\"children\":[" CHILD "],"
             "\"danger\":{\"categories\":[]},\"urgency\":\"normal\"}",
             "danger.categories: at least one category");
    /* Nested unknown field, required members, types. */
    j = s_ip_with("[{\"first_names\":[\"A\"],\"sex\":\"male\",\"birth_date\":\"2016-02-03\","
                  "\"commune\":\"71137\",\"eyes\":\"blue\"}]",
                  "");
    s_expect(ip, j, "children[0].eyes: unknown field");
    free(j);
    j = s_ip_with("[{\"first_names\":[\"A\"],\"sex\":\"male\",\"commune\":\"71137\"}]", "");
    s_expect(ip, j, "children[0].birth_date: required");
    free(j);
    s_expect(ip,
             "{\"sender\":" SENDER ",\"children\":[" CHILD "],\"danger\":" DANGER
             ",\"urgency\":\"normal\"}",
             "received_at: required");
    j = s_ip_with("{}", "");
    s_expect(ip, j, "children: not an array");
    free(j);
    j = s_ip_with("[3]", "");
    s_expect(ip, j, "children[0]: not an object");
    free(j);
    j = s_ip_with("[null]", "");
    s_expect(ip, j, "children[0]: null not allowed");
    free(j);
    j = s_ip_with("[" CHILD "]", "\"household\":null");
    s_expect(ip, j, "household: null not allowed");
    free(j);
    j = s_ip_with("[" CHILD "]", "\"household\":7");
    s_expect(ip, j, "household: not a string");
    free(j);
    j = s_ip_with("[" CHILD "]", "\"household\":\"\"");
    s_expect(ip, j, "household: must not be empty");
    free(j);
    j = s_ip_with("[{\"first_names\":[\"A\\u0001\"],\"sex\":\"male\",\"birth_date\":\"2016-02-03\","
                  "\"commune\":\"71137\"}]",
                  "");
    s_expect(ip, j, "children[0].first_names[0]: control character");
    free(j);
    j = s_ip_with("[" CHILD "]", "\"channel\":\"pigeon\"");
    s_expect(ip, j, "channel: unknown channel \"pigeon\"");
    free(j);
    j = s_ip_with("[" CHILD "]", "\"channel\":\"unspecified\"");
    s_expect(ip, j, "channel: unknown channel \"unspecified\"");
    free(j);
    j = s_ip_with("[" CHILD "]", "\"channel\":\"PHONE\"");
    s_expect(ip, j, "channel: unknown channel \"PHONE\"");
    free(j);
    /* Conventions: date-times, future, INSEE, postal code, phone, e-mail. */
    s_expect(ip,
             "{\"received_at\":\"2026-11-20 09:14\",\"sender\":" SENDER ",\"children\":[" CHILD "],"
             "\"danger\":" DANGER ",\"urgency\":\"normal\"}",
             "received_at: not a date-time (RFC 3339, e.g. 2026-11-20T09:14:00+01:00)");
    s_expect(ip,
             "{\"received_at\":\"2026-11-20T09:14:00\",\"sender\":" SENDER ",\"children\":[" CHILD
             "],"
             "\"danger\":" DANGER ",\"urgency\":\"normal\"}",
             "received_at: not a date-time (RFC 3339, e.g. 2026-11-20T09:14:00+01:00)");
    s_expect(ip,
             "{\"received_at\":\"2027-01-01T00:00:00Z\",\"sender\":" SENDER ",\"children\":[" CHILD
             "],"
             "\"danger\":" DANGER ",\"urgency\":\"normal\"}",
             "received_at: in the future");
    j = s_ip_with("[{\"first_names\":[\"A\"],\"sex\":\"male\",\"birth_date\":\"2027-02-03\","
                  "\"commune\":\"71137\"}]",
                  "");
    s_expect(ip, j, "children[0].birth_date: in the future");
    free(j);
    j = s_ip_with("[{\"first_names\":[\"A\"],\"sex\":\"male\",\"birth_date\":\"2016-02-03\","
                  "\"commune\":\"71250x\"}]",
                  "");
    s_expect(ip, j, "children[0].commune: not an INSEE commune code");
    free(j);
    j = s_ip_with("[{\"first_names\":[\"A\"],\"sex\":\"male\",\"birth_date\":\"2016-02-03\","
                  "\"commune\":\"20004\",\"address\":{\"postal_code\":\"7125\"}}]",
                  "");
    s_expect(ip, j, "children[0].commune: not an INSEE commune code");
    s_expect(ip, j, "children[0].address.postal_code: not a postal code");
    free(j);
    s_expect(ip,
             "{\"received_at\":" T ",\"sender\":{\"type\":\"health\",\"phone\":\"call me\","
             "\"email\":\"nobody\"},\"children\":[" CHILD "],\"danger\":" DANGER
             ",\"urgency\":\"normal\"}",
             "sender.phone: not a phone number");
    s_expect(ip,
             "{\"received_at\":" T ",\"sender\":{\"type\":\"health\",\"email\":\"nobody\"},"
             "\"children\":[" CHILD "],\"danger\":" DANGER ",\"urgency\":\"normal\"}",
             "sender.email: not an e-mail address");
    /* Anonymous sender with an identity. */
    s_expect(ip,
             "{\"received_at\":" T ",\"sender\":{\"type\":\"individual\",\"anonymous\":true,"
             "\"name\":\"X\"},\"children\":[" CHILD "],\"danger\":" DANGER
             ",\"urgency\":\"normal\"}",
             "sender.name: must be absent for an anonymous sender");
    s_expect(ip,
             "{\"received_at\":" T ",\"sender\":{\"type\":\"individual\",\"anonymous\":1},"
             "\"children\":[" CHILD "],\"danger\":" DANGER ",\"urgency\":\"normal\"}",
             "sender.anonymous: not a boolean");
    /* Attachments: hash, size, base64. */
    j = s_ip_with("[" CHILD "]",
                  "\"attachments\":[{\"name\":\"a\",\"media_type\":\"text/plain\","
                  "\"size_bytes\":5,\"sha256\":"
                  "\"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9825\","
                  "\"content\":\"aGVsbG8=\"}]");
    s_expect(ip, j, "attachments[0].content: does not match sha256");
    free(j);
    j = s_ip_with("[" CHILD "]",
                  "\"attachments\":[{\"name\":\"a\",\"media_type\":\"text/plain\","
                  "\"size_bytes\":6,\"sha256\":"
                  "\"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\","
                  "\"content\":\"aGVsbG8=\"}]");
    s_expect(ip, j, "attachments[0].content: length differs from size_bytes");
    free(j);
    j = s_ip_with("[" CHILD "]",
                  "\"attachments\":[{\"name\":\"a\",\"media_type\":\"text/plain\","
                  "\"size_bytes\":99999999999,\"sha256\":\"ABC\",\"content\":\"!!\"}]");
    s_expect(ip, j, "attachments[0].size_bytes: larger than the limit of 10485760 bytes");
    s_expect(ip, j, "attachments[0].sha256: not a SHA-256 (64 lower-case hex digits)");
    s_expect(ip, j, "attachments[0].content: not base64");
    free(j);
    j = s_ip_with("[" CHILD "]",
                  "\"attachments\":[{\"name\":\"a\",\"media_type\":\"text/plain\","
                  "\"size_bytes\":0,\"sha256\":"
                  "\"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\"}]");
    s_expect(ip, j, "attachments[0].size_bytes: must be positive");
    free(j);
    j = s_ip_with("[" CHILD "]",
                  "\"attachments\":[{\"name\":\"a\",\"media_type\":\"text/plain\","
                  "\"size_bytes\":\"5\",\"sha256\":"
                  "\"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\"}]");
    s_expect(ip, j, "attachments[0].size_bytes: not an integer");
    free(j);
    /* Length limits. */
    {
        size_t big = EGIDE_MAX_SHORT_FIELD + 10;
        char *name = malloc(big + 1);
        memset(name, 'a', big);
        name[big] = '\0';
        char *kid = malloc(big + 256);
        snprintf(kid, big + 256,
                 "[{\"first_names\":[\"%s\"],\"sex\":\"male\",\"birth_date\":\"2016-02-03\","
                 "\"commune\":\"71137\"}]",
                 name);
        j = s_ip_with(kid, "");
        s_expect(ip, j, "children[0].first_names[0]: longer than 512 bytes");
        free(j);
        free(kid);
        free(name);
    }
    /* Other types' cross-field rules. */
    s_expect("parents.notice", "{\"case_ref\":\"C\",\"withheld\":true}",
             "withheld_reason: required when withheld");
    s_expect("parents.notice", "{\"case_ref\":\"C\"}", "sent_at: required unless withheld");
    s_expect("parents.notice",
             "{\"case_ref\":\"C\",\"withheld\":true,\"withheld_reason\":\"r\",\"sent_at\":" T "}",
             "sent_at: must be absent when withheld");
    s_expect("department.transfer",
             "{\"transferred_at\":" T
             ",\"case_ref\":\"C\",\"from_department\":\"71\",\"to_department\":\"71\","
             "\"children\":[" CHILD "],\"summary\":\"S\"}",
             "to_department: same as from_department");
    s_expect("department.transfer",
             "{\"transferred_at\":" T
             ",\"case_ref\":\"C\",\"from_department\":\"20\",\"to_department\":\"979\","
             "\"children\":[" CHILD "],\"summary\":\"S\"}",
             "from_department: not a department code");
    s_expect("observatory.export",
             "{\"department\":\"71\",\"year\":1999,\"algorithm\":\"a\",\"generated_at\":" T ","
             "\"events\":[{\"pseudonym\":\"zz\",\"event_type\":\"opp\",\"event_month\":\"2026-13\","
             "\"department\":\"71\"}]}",
             "year: out of range");
    s_expect("observatory.export",
             "{\"department\":\"71\",\"year\":2026,\"algorithm\":\"a\",\"generated_at\":" T ","
             "\"events\":[{\"pseudonym\":\"zz\",\"event_type\":\"opp\",\"event_month\":\"2026-13\","
             "\"department\":\"71\"}]}",
             "events[0].event_month: not a month (YYYY-MM)");
    s_expect("observatory.export",
             "{\"department\":\"71\",\"year\":2026,\"algorithm\":\"a\",\"generated_at\":" T ","
             "\"events\":[{\"pseudonym\":\"zz\",\"event_type\":\"opp\",\"event_month\":\"2026-12\","
             "\"department\":\"71\"}]}",
             "events[0].pseudonym: not a pseudonym (64 lower-case hex digits)");
    s_expect("evaluation.assignment",
             "{\"assigned_at\":" T ",\"ip_received_at\":" T
             ",\"case_ref\":\"C\",\"territory\":\"TAS Mâcon\","
             "\"children\":[" CHILD "],\"urgency\":\"normal\"}",
             "territory: not a node id");
    s_expect("ip.qualification", "{\"decided_at\":" T ",\"case_ref\":\"C\",\"qualification\":2}",
             "qualification: unknown qualification 2");
    /* The document itself. */
    s_expect(ip, "[1,2]", "json: not an object");
    s_expect(ip, "{\"received_at\":" T ",",
             "json: invalid JSON at line 1 column 43: string or '}' expected near end of file");
    s_expect(ip, "{\"_comment\":5}", "_comment: not a string");
    /* _comment is only accepted at the top level. */
    j = s_ip_with("[{\"_comment\":\"x\",\"first_names\":[\"A\"],\"sex\":\"male\",\"birth_date\":"
                  "\"2016-02-03\","
                  "\"commune\":\"71137\"}]",
                  "");
    s_expect(ip, j, "children[0]._comment: unknown field");
    free(j);
}

/* An error list is safe to log: valid UTF-8, no control byte but the line
 * breaks between errors, exactly `lines` lines, none longer than 1200 bytes. */
static bool s_loggable(const char *errors, int lines)
{
    if (!errors)
        return false;
    int n = 1;
    size_t line = 0;
    for (const unsigned char *p = (const unsigned char *)errors; *p; p++) {
        if (*p == '\n') {
            n++;
            line = 0;
            continue;
        }
        if (*p < 0x20 || *p == 0x7f || ++line > 1200)
            return false;
    }
    /* Valid UTF-8: jansson checks it for us. */
    json_t *j = json_string(errors);
    bool utf8 = j != NULL;
    json_decref(j);
    if (n != lines || !utf8)
        fprintf(stderr, "not loggable (%d lines, want %d):\n%s\n", n, lines, errors);
    return n == lines && utf8;
}

static void test_error_quoting(void)
{
    const char *ip = "ip.transmission";
    char *j, *errors;
    /* A line break, an escape sequence, a quote, a backslash, a bidi override. */
    j = s_ip_with("[" CHILD "]", "\"a\\nb\":1");
    s_expect(ip, j, "[\"a\\u000ab\"]: unknown field");
    free(j);
    j = s_ip_with("[" CHILD "]", "\"\\u001b[31mred\":1");
    s_expect(ip, j, "[\"\\u001b[31mred\"]: unknown field");
    free(j);
    j = s_ip_with("[" CHILD "]", "\"a\\\"b\":1,\"c\\\\d\":2,\"e\\u202ef\":3,\"\":4");
    s_expect(ip, j, "[\"a\\\"b\"]: unknown field");
    s_expect(ip, j, "[\"c\\\\d\"]: unknown field");
    s_expect(ip, j, "[\"e\\u202ef\"]: unknown field");
    s_expect(ip, j, "[\"\"]: unknown field");
    free(j);
    /* A key that tries to forge a second error line gives one line. */
    j = s_ip_with("[" CHILD "]", "\"x\\nchildren: at least one child\\r\\n\\u0085\":1");
    errors = NULL;
    CHECK_RC(egide_payload_from_json(ip, j, strlen(j), NOW, NULL, NULL, NULL, &errors),
             EGIDE_ERR_VALIDATION);
    CHECK(s_loggable(errors, 1));
    CHECK(errors && strstr(errors, "\\u000achildren: at least one child\\u000d\\u000a\\u0085"));
    free(errors);
    free(j);
    /* Nested: the path keeps its plain part. */
    j = s_ip_with("[{\"first_names\":[\"A\"],\"sex\":\"male\",\"birth_date\":\"2016-02-03\","
                  "\"commune\":\"71137\",\"\\u001b]0;x\\u0007\":1}]",
                  "");
    s_expect(ip, j, "children[0][\"\\u001b]0;x\\u0007\"]: unknown field");
    free(j);
    /* 10 KB of letters: 64 bytes shown, then "…". */
    size_t big = 10240;
    char *key = malloc(big + 1);
    REQUIRE(key);
    memset(key, 'a', big);
    key[big] = '\0';
    char *extra = malloc(big + 16);
    REQUIRE(extra);
    snprintf(extra, big + 16, "\"%s\":1", key);
    j = s_ip_with("[" CHILD "]", extra);
    char want[128];
    snprintf(want, sizeof want, "[\"%.64s\xe2\x80\xa6\"]: unknown field", key);
    s_expect(ip, j, want);
    errors = NULL;
    egide_payload_from_json(ip, j, strlen(j), NOW, NULL, NULL, NULL, &errors);
    CHECK(s_loggable(errors, 1));
    free(errors);
    free(j);
    free(extra);
    /* The cut falls between characters, not inside one. */
    memset(key, 'a', 63);
    snprintf(key + 63, big + 1 - 63, "\xc3\xa9z");
    json_t *root = json_object();
    json_object_set_new(root, key, json_integer(1));
    errors = NULL;
    CHECK_RC(egide_payload_from_jansson("message.acknowledgement", root, NOW, NULL, NULL, &errors),
             EGIDE_ERR_VALIDATION);
    snprintf(want, sizeof want, "[\"%.63s\xe2\x80\xa6\"]: unknown field", key);
    CHECK(errors && strstr(errors, want) != NULL);
    CHECK(s_loggable(errors, 3));
    free(errors);
    json_decref(root);
    free(key);
    /* Invalid UTF-8 (only a caller's own jansson tree can hold it): bytes as
     * \xNN, in keys and in an unrecognised enum code. */
    root = json_object();
    json_object_set_new(root, "acknowledged_at", json_string("2026-11-20T09:14:00+01:00"));
    json_object_set_new(root, "acknowledged_by", json_string("w"));
    json_object_set_new_nocheck(root, "k\xff\xc3(\xed\xa0\x80", json_integer(1));
    errors = NULL;
    CHECK_RC(egide_payload_from_jansson("message.acknowledgement", root, NOW, NULL, NULL, &errors),
             EGIDE_ERR_VALIDATION);
    CHECK(errors && strcmp(errors, "[\"k\\xff\\xc3(\\xed\\xa0\\x80\"]: unknown field") == 0);
    CHECK(s_loggable(errors, 1));
    free(errors);
    json_decref(root);
    j = s_ip_with("[" CHILD "]", "");
    root = json_loads(j, 0, NULL);
    free(j);
    REQUIRE(root);
    json_object_set_new(root, "channel", json_stringn_nocheck("\x1b[2J\xfe\"", 6));
    errors = NULL;
    CHECK_RC(egide_payload_from_jansson(ip, root, NOW, NULL, NULL, &errors), EGIDE_ERR_VALIDATION);
    CHECK(errors && strcmp(errors, "channel: unknown channel \"\\u001b[2J\\xfe\\\"\"") == 0);
    free(errors);
    json_decref(root);

    /* egide_payload_quote() itself: small buffers cut between escapes. */
    char q[EGIDE_PAYLOAD_QUOTE_SIZE];
    CHECK(egide_payload_quote("ok", 2, q, sizeof q) == 4);
    CHECK_STREQ(q, "\"ok\"");
    CHECK(egide_payload_quote(NULL, 5, q, sizeof q) == 2);
    CHECK_STREQ(q, "\"\"");
    egide_payload_quote("\n\n\n", 3, q, 16);
    CHECK_STREQ(q, "\"\\u000a\xe2\x80\xa6\"");
    egide_payload_quote("abc", 3, q, 7);
    CHECK_STREQ(q, "");
    egide_payload_quote("Zo\xc3\xab \xe2\x80\xae", 8, q, sizeof q);
    CHECK_STREQ(q, "\"Zo\xc3\xab \\u202e\"");
    /* The worst case fits the documented size. */
    char worst[EGIDE_PAYLOAD_QUOTE_MAX];
    memset(worst, 0x1b, sizeof worst);
    CHECK(egide_payload_quote(worst, sizeof worst, q, sizeof q) == EGIDE_PAYLOAD_QUOTE_MAX * 6 + 2);
}

static void test_document_errors(void)
{
    char *errors = NULL;
    /* Duplicate member: refused by the parser, reported as a JSON error. */
    const char *dup = "{\"received_at\":" T ",\"received_at\":" T "}";
    CHECK_RC(egide_payload_from_json("ip.transmission", dup, strlen(dup), NOW, NULL, NULL, NULL,
                                     &errors),
             EGIDE_ERR_VALIDATION);
    CHECK(errors && strncmp(errors, "json: invalid JSON", 18) == 0);
    free(errors);
    errors = NULL;
    /* Unknown type, bad arguments, size limit. */
    CHECK_RC(egide_payload_from_json("ip.nope", "{}", 2, NOW, NULL, NULL, NULL, &errors),
             EGIDE_ERR_NOTFOUND);
    CHECK(errors == NULL);
    CHECK_RC(egide_payload_from_json(NULL, "{}", 2, NOW, NULL, NULL, NULL, NULL),
             EGIDE_ERR_INVALID);
    CHECK_RC(egide_payload_from_json("ip.transmission", "{}", (size_t)EGIDE_MAX_JSON_BODY + 1, NOW,
                                     NULL, NULL, NULL, NULL),
             EGIDE_ERR_LIMIT);
    /* Not NUL-terminated input: only len bytes are read. */
    const char *ack = "{\"acknowledged_at\":" T ",\"acknowledged_by\":\"w\"}GARBAGE";
    CHECK_RC(egide_payload_from_json("message.acknowledgement", ack, strlen(ack) - 7, NOW, NULL,
                                     NULL, NULL, NULL),
             EGIDE_OK);
    /* Too many errors are capped. */
    egide_buf_t b;
    egide_buf_init(&b, 1u << 20);
    egide_buf_append(&b, "{", 1);
    for (int i = 0; i < 300; i++) {
        char m[32];
        snprintf(m, sizeof m, "%s\"u%d\":1", i ? "," : "", i);
        egide_buf_append(&b, m, strlen(m));
    }
    egide_buf_append(&b, "}", 1);
    CHECK_RC(egide_payload_from_json("ip.transmission", (char *)b.data, b.len, NOW, NULL, NULL,
                                     NULL, &errors),
             EGIDE_ERR_VALIDATION);
    size_t lines = 0;
    for (const char *p = errors; p && *p; p++)
        lines += *p == '\n';
    CHECK(lines + 1 == EGIDE_PAYLOAD_MAX_ERRORS + 1);
    CHECK(errors && strstr(errors, "...: too many errors") != NULL);
    free(errors);
    egide_buf_free(&b);
}

static void test_facts(void)
{
    const char *j =
        "{\"received_at\":\"2026-11-20T09:14:00+01:00\",\"sender\":{\"type\":\"individual\","
        "\"anonymous\":true},\"children\":["
        "{\"first_names\":[\"A\"],\"sex\":\"male\",\"birth_date\":\"2016-02-03\",\"commune\":"
        "\"2A004\"},"
        "{\"first_names\":[\"B\"],\"sex\":\"female\",\"birth_date\":\"2024-11-21\",\"commune\":"
        "\"2A004\"}],"
        "\"danger\":{\"categories\":[\"sexual_violence\"]},\"urgency\":\"immediate\"}";
    egide_payload_facts_t f;
    CHECK_RC(egide_payload_from_json("ip.transmission", j, strlen(j), NOW, NULL, NULL, &f, NULL),
             EGIDE_OK);
    CHECK_STREQ(f.commune, "2A004");
    CHECK_STREQ(f.department, "2A");
    CHECK(f.received_ms == 1795162440000LL); /* 2026-11-20T08:14:00Z */
    CHECK(f.urgency == 3);
    CHECK(f.n_children == 2);
    CHECK(f.child_under_2); /* born 2024-11-21: turns 2 the day after receipt */
    int64_t b;
    egide_date_parse("2024-11-21", &b);
    CHECK(f.youngest_birth_ms == b);
    CHECK(f.anonymous_sender);
    /* Born exactly two years before the receipt day: not under 2 any more. */
    const char *k =
        "{\"received_at\":\"2026-11-21T00:00:00Z\",\"sender\":{\"type\":\"individual\"},"
        "\"children\":[{\"first_names\":[\"B\"],\"sex\":\"female\",\"birth_date\":\"2024-11-21\","
        "\"commune\":\"98818\"}],\"danger\":{\"categories\":[\"severe_neglect\"]},\"urgency\":"
        "\"normal\"}";
    CHECK_RC(egide_payload_from_json("ip.transmission", k, strlen(k), NOW, NULL, NULL, &f, NULL),
             EGIDE_OK);
    CHECK(!f.child_under_2);
    CHECK_STREQ(f.department, "988");
    CHECK(f.urgency == 1);
    /* Types' own facts. */
    const char *e = "{\"received_at\":" T ",\"children\":[" CHILD "],\"parental_agreement\":\"no\","
                    "\"runaway\":true,\"circumstances\":\"c\"}";
    CHECK_RC(
        egide_payload_from_json("ase.emergency_reception", e, strlen(e), NOW, NULL, NULL, &f, NULL),
        EGIDE_OK);
    CHECK(f.runaway && f.parental_agreement == 2);
    const char *d = "{\"decided_at\":" T
                    ",\"court_ref\":\"J\",\"decision\":\"opp_confirmed\",\"children\":[" CHILD "]}";
    CHECK_RC(egide_payload_from_json("court.decision", d, strlen(d), NOW, NULL, NULL, &f, NULL),
             EGIDE_OK);
    CHECK_STREQ(f.kind, "opp_confirmed");
    const char *s =
        "{\"issued_at\":" T ",\"parquet_ref\":\"P\",\"request\":\"r\",\"due_date\":\"2026-12-31\","
        "\"children\":[" CHILD "],\"urgency\":\"normal\"}";
    CHECK_RC(
        egide_payload_from_json("parquet.soit_transmis", s, strlen(s), NOW, NULL, NULL, &f, NULL),
        EGIDE_OK);
    egide_date_parse("2026-12-31", &b);
    CHECK(f.requested_due_ms == b);
}

/* Issue 11 item 3: the facts the sender edge checks routing by (the
 * children's distinct communes, the payload's territory, whether it
 * carries an override), a commune written as a JSON number refused by
 * name, the override's reason bounded and printable, and routing.misrouted
 * validated field by field. */
#define ASSIGN_HEAD "{\"assigned_at\":" T ",\"ip_received_at\":" T ",\"case_ref\":\"C\","
#define KID(c)                                                                                     \
    "{\"first_names\":[\"A\"],\"sex\":\"male\",\"birth_date\":\"2016-02-03\",\"commune\":" c "}"
static void test_routing_facts(void)
{
    const char *j = ASSIGN_HEAD
        "\"territory\":\"71.tas.cluny-tournus\",\"children\":[" KID("\"71137\"") "," KID(
            "\"2A004\"") "," KID("\"71137\"") "," KID("\"97411\"") "," KID("\"98818\"") "],"
                                                                                        "\"urgency"
                                                                                        "\":"
                                                                                        "\"normal\""
                                                                                        "}";
    egide_payload_facts_t f;
    CHECK_RC(
        egide_payload_from_json("evaluation.assignment", j, strlen(j), NOW, NULL, NULL, &f, NULL),
        EGIDE_OK);
    CHECK(f.n_communes == 4); /* 71137 once */
    CHECK_STREQ(f.communes[0], "71137");
    CHECK_STREQ(f.communes[1], "2A004");
    CHECK_STREQ(f.communes[2], "97411");
    CHECK_STREQ(f.communes[3], "98818");
    CHECK(!f.more_communes);
    CHECK_STREQ(f.commune, "71137");
    CHECK_STREQ(f.territory, "71.tas.cluny-tournus");
    CHECK(!f.routing_override);
    CHECK(egide_payload_facts_has_commune(&f, "2A004"));
    CHECK(egide_payload_facts_has_commune(&f, "98818"));
    CHECK(!egide_payload_facts_has_commune(&f, "71270"));
    CHECK(!egide_payload_facts_has_commune(&f, NULL));
    CHECK(!egide_payload_facts_has_commune(NULL, "71137"));

    /* More distinct communes than the facts keep: flagged, never wrapped. */
    char big[8192];
    size_t o = (size_t)snprintf(big, sizeof big, "%s\"children\":[", ASSIGN_HEAD);
    for (int i = 0; i < EGIDE_PAYLOAD_MAX_COMMUNES + 2; i++)
        o += (size_t)snprintf(big + o, sizeof big - o,
                              "%s{\"first_names\":[\"A\"],\"sex\":\"male\",\"birth_date\":"
                              "\"2016-02-03\",\"commune\":\"71%03d\"}",
                              i ? "," : "", 100 + i);
    snprintf(big + o, sizeof big - o, "],\"territory\":\"71.tas.macon\",\"urgency\":\"normal\"}");
    CHECK_RC(egide_payload_from_json("evaluation.assignment", big, strlen(big), NOW, NULL, NULL, &f,
                                     NULL),
             EGIDE_OK);
    CHECK(f.n_communes == EGIDE_PAYLOAD_MAX_COMMUNES && f.more_communes);
    CHECK(egide_payload_facts_has_commune(&f, "71100"));
    CHECK(!egide_payload_facts_has_commune(&f, "71117")); /* the 18th: not kept */

    /* The override is seen, and survives the round trip as the recipient
     * checks it. */
    const char *ov = "{\"received_at\":" T ",\"sender\":{\"type\":\"police\"},\"children\":[" KID(
        "\"71137\"") "],\"danger\":{\"categories\":[\"severe_neglect\"]},\"urgency\":\"normal\","
                     "\"routing_override\":{\"reason\":\"Suivi à Mâcon.\",\"commune\":\"71270\"}}";
    uint8_t *pb = NULL;
    size_t pb_len = 0;
    CHECK_RC(
        egide_payload_from_json("ip.transmission", ov, strlen(ov), NOW, &pb, &pb_len, &f, NULL),
        EGIDE_OK);
    CHECK(f.routing_override);
    CHECK(f.territory[0] == '\0');
    egide_payload_facts_t g;
    CHECK_RC(egide_payload_check("ip.transmission", pb, pb_len, NOW, &g, NULL), EGIDE_OK);
    CHECK(g.routing_override);
    char *back = NULL;
    CHECK_RC(egide_payload_to_json("ip.transmission", pb, pb_len, &back), EGIDE_OK);
    CHECK(back && strstr(back, "\"Suivi à Mâcon.\"") && strstr(back, "\"71270\""));
    free(back);
    free(pb);
}

static void test_routing_errors(void)
{
    /* A commune as a JSON number: named, whatever the field. */
    s_expect("ip.transmission",
             "{\"received_at\":" T ",\"sender\":{\"type\":\"police\"},\"children\":[" KID(
                 "71137") "],\"danger\":{\"categories\":[\"severe_neglect\"]},\"urgency\":"
                          "\"normal\"}",
             "children[0].commune: commune must be a string INSEE code such as \"71137\"");
    s_expect("ip.transmission",
             "{\"received_at\":" T ",\"sender\":{\"type\":\"police\"},\"children\":[" KID(
                 "71137.0") "],\"danger\":{\"categories\":[\"severe_neglect\"]},\"urgency\":"
                            "\"normal\"}",
             "children[0].commune: commune must be a string INSEE code such as \"71137\"");
    s_expect("department.transfer",
             "{\"transferred_at\":" T ",\"case_ref\":\"C\",\"from_department\":\"71\","
             "\"to_department\":\"21\",\"new_commune\":21231,\"children\":[" CHILD
             "],\"summary\":\"s\"}",
             "new_commune: commune must be a string INSEE code such as \"71137\"");
    /* Other non-strings keep the general message. */
    s_expect("ip.transmission",
             "{\"received_at\":" T ",\"sender\":{\"type\":\"police\"},\"children\":[" KID(
                 "true") "],\"danger\":{\"categories\":[\"severe_neglect\"]},\"urgency\":"
                         "\"normal\"}",
             "children[0].commune: not a string");

    /* The override's reason: required, bounded, printable. */
#define OV(r)                                                                                      \
    ASSIGN_HEAD "\"territory\":\"71.tas.macon\",\"children\":[" KID(                               \
        "\"71137\"") "],\"urgency\":\"normal\",\"routing_override\":" r "}"
    s_expect("evaluation.assignment", OV("{\"commune\":\"71270\"}"),
             "routing_override.reason: required");
    s_expect("evaluation.assignment", OV("{\"reason\":\"\"}"),
             "routing_override.reason: must not be empty");
    s_expect("evaluation.assignment", OV("{\"reason\":\"a\\nb\"}"),
             "routing_override.reason: control character");
    s_expect("evaluation.assignment", OV("{\"reason\":\"a\\u0085b\"}"),
             "routing_override.reason: control or formatting character (printable text only)");
    s_expect("evaluation.assignment", OV("{\"reason\":\"a\\u202eb\"}"),
             "routing_override.reason: control or formatting character (printable text only)");
    s_expect("evaluation.assignment", OV("{\"reason\":\"ok\",\"commune\":71270}"),
             "routing_override.commune: commune must be a string INSEE code such as \"71137\"");
    s_expect("evaluation.assignment", OV("{\"reason\":\"ok\",\"commune\":\"7127\"}"),
             "routing_override.commune: not an INSEE commune code");
    s_expect("evaluation.assignment", OV("\"urgent\""), "routing_override: not an object");
    char longr[EGIDE_PAYLOAD_OVERRIDE_REASON_MAX + 64];
    memset(longr, 'x', EGIDE_PAYLOAD_OVERRIDE_REASON_MAX + 1);
    longr[EGIDE_PAYLOAD_OVERRIDE_REASON_MAX + 1] = '\0';
    char body[2048];
    snprintf(body, sizeof body, OV("{\"reason\":\"%s\"}"), longr);
    s_expect("evaluation.assignment", body, "routing_override.reason: longer than 300 bytes");
    longr[EGIDE_PAYLOAD_OVERRIDE_REASON_MAX] = '\0'; /* exactly the limit: fine */
    snprintf(body, sizeof body, OV("{\"reason\":\"%s\"}"), longr);
    CHECK_RC(egide_payload_from_json("evaluation.assignment", body, strlen(body), NOW, NULL, NULL,
                                     NULL, NULL),
             EGIDE_OK);
    /* A type not routed by the children carries none. */
    s_expect("message.acknowledgement",
             "{\"acknowledged_at\":" T ",\"acknowledged_by\":\"x\",\"routing_override\":"
             "{\"reason\":\"r\"}}",
             "routing_override: unknown field");
    /* The shared rule, directly. */
    CHECK(egide_payload_override_reason_problem(NULL, 0) != NULL);
    CHECK(egide_payload_override_reason_problem("ok", 2) == NULL);
    CHECK(egide_payload_override_reason_problem("\xff", 1) != NULL);
    CHECK(egide_payload_override_reason_problem("a\tb", 3) != NULL);
    CHECK(egide_payload_override_reason_problem("Enfant suivi à Mâcon", 22) == NULL);
#undef OV

    /* routing.misrouted, field by field. */
#define MR_HEAD "{\"reported_at\":" T ",\"case_ref\":\"C-1\","
#define MR_ID   "\"received_msg_id\":\"0123456789abcdef0123456789abcdef\","
    s_expect("routing.misrouted", MR_HEAD MR_ID "\"reason\":\"wrong_commune\"}",
             "reason_text: required");
    s_expect("routing.misrouted", MR_HEAD "\"reason\":\"other\",\"reason_text\":\"x\"}",
             "received_msg_id: required");
    s_expect("routing.misrouted",
             MR_HEAD "\"received_msg_id\":\"0123456789ABCDEF0123456789ABCDEF\",\"reason\":"
                     "\"other\",\"reason_text\":\"x\"}",
             "received_msg_id: not a message id (32 lower-case hex digits)");
    s_expect("routing.misrouted", MR_HEAD MR_ID "\"reason\":\"elsewhere\",\"reason_text\":\"x\"}",
             "reason: unknown reason \"elsewhere\"");
    s_expect("routing.misrouted", MR_HEAD MR_ID "\"reason_text\":\"x\"}", "reason: required");
    s_expect("routing.misrouted",
             MR_HEAD MR_ID "\"reason\":\"wrong_commune\",\"reason_text\":\"x\","
                           "\"believed_commune\":71137}",
             "believed_commune: commune must be a string INSEE code such as \"71137\"");
    s_expect("routing.misrouted",
             MR_HEAD MR_ID "\"reason\":\"wrong_territory\",\"reason_text\":\"x\","
                           "\"believed_territory\":\"TAS Cluny\"}",
             "believed_territory: not a node id");
    egide_payload_facts_t f;
    const char *ok = MR_HEAD MR_ID "\"reason\":\"wrong_territory\",\"reason_text\":\"x\"}";
    CHECK_RC(
        egide_payload_from_json("routing.misrouted", ok, strlen(ok), NOW, NULL, NULL, &f, NULL),
        EGIDE_OK);
    CHECK_STREQ(f.kind, "wrong_territory");
    CHECK(f.received_ms == 1795162440000LL);
    CHECK(f.n_communes == 0 && !f.routing_override);
#undef MR_HEAD
#undef MR_ID
}
#undef KID
#undef ASSIGN_HEAD

static void test_content_types(void)
{
    CHECK_STREQ(egide_payload_content_type("ip.transmission"),
                "application/vnd.egide.ip-transmission+protobuf");
    CHECK_STREQ(egide_payload_content_type("evaluation.information_request"),
                "application/vnd.egide.evaluation-information-request+protobuf");
    CHECK(egide_payload_content_type("nope") == NULL);
    CHECK(egide_payload_content_type(NULL) == NULL);
    CHECK_STREQ(egide_payload_type_for_content_type("application/vnd.egide.court-opp+protobuf"),
                "court.opp");
    CHECK(egide_payload_type_for_content_type("application/json") == NULL);
    /* Content types are distinct. */
    for (size_t i = 0; i < egide_catalogue_type_count(); i++)
        for (size_t k = 0; k < i; k++)
            CHECK(strcmp(egide_payload_content_type(egide_catalogue_type_at(i)->name),
                         egide_payload_content_type(egide_catalogue_type_at(k)->name)) != 0);
}

static void test_received_protobuf(void)
{
    char *json = NULL, *errors = NULL;
    /* Garbage does not parse. */
    const uint8_t junk[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f};
    CHECK_RC(egide_payload_to_json("ip.transmission", junk, sizeof junk, &json), EGIDE_ERR_PROTO);
    CHECK(json == NULL);
    CHECK_RC(egide_payload_check("ip.transmission", junk, sizeof junk, NOW, NULL, &errors),
             EGIDE_ERR_PROTO);
    CHECK_RC(egide_payload_to_json("nope", junk, 0, &json), EGIDE_ERR_NOTFOUND);
    CHECK_RC(egide_payload_to_json("ip.transmission", junk, sizeof junk, NULL), EGIDE_ERR_INVALID);
    /* An empty message parses but fails the schema. */
    CHECK_RC(egide_payload_check("ip.transmission", NULL, 0, NOW, NULL, &errors),
             EGIDE_ERR_VALIDATION);
    CHECK(errors && strstr(errors, "children: at least one child"));
    free(errors);
    errors = NULL;
    /* A valid acknowledgement with an unknown field 99 appended is refused. */
    const char *ack = "{\"acknowledged_at\":" T ",\"acknowledged_by\":\"w\"}";
    uint8_t *pb;
    size_t len;
    REQUIRE(egide_payload_from_json("message.acknowledgement", ack, strlen(ack), NOW, &pb, &len,
                                    NULL, NULL) == EGIDE_OK);
    uint8_t *more = malloc(len + 3);
    memcpy(more, pb, len);
    /* field 99, varint: a two-byte tag, then the value 1 */
    more[len] = (uint8_t)(((99 << 3) & 0x7f) | 0x80);
    more[len + 1] = (uint8_t)((99 << 3) >> 7);
    more[len + 2] = 1;
    CHECK_RC(egide_payload_check("message.acknowledgement", more, len + 3, NOW, NULL, &errors),
             EGIDE_ERR_VALIDATION);
    CHECK(errors && strstr(errors, "unknown field"));
    free(errors);
    errors = NULL;
    /* An unknown enum value is shown as a number and refused by check. */
    const char *q = "{\"decided_at\":" T ",\"case_ref\":\"C\",\"qualification\":\"not_ip\"}";
    uint8_t *qpb;
    size_t qlen;
    REQUIRE(egide_payload_from_json("ip.qualification", q, strlen(q), NOW, &qpb, &qlen, NULL,
                                    NULL) == EGIDE_OK);
    for (size_t i = 0; i + 1 < qlen; i++)
        if (qpb[i] == ((3 << 3) | 0) && qpb[i + 1] == 2)
            qpb[i + 1] = 77;
    CHECK_RC(egide_payload_to_json("ip.qualification", qpb, qlen, &json), EGIDE_OK);
    CHECK(json && strstr(json, "77"));
    free(json);
    CHECK_RC(egide_payload_check("ip.qualification", qpb, qlen, NOW, NULL, &errors),
             EGIDE_ERR_VALIDATION);
    CHECK(errors && strstr(errors, "qualification: unknown qualification 77"));
    free(errors);
    free(qpb);
    free(more);
    free(pb);
}

static void test_dates(void)
{
    int64_t ms;
    CHECK_RC(egide_date_parse("2024-02-29", &ms), EGIDE_OK);
    CHECK_RC(egide_date_parse("2023-02-29", &ms), EGIDE_ERR_INVALID);
    CHECK_RC(egide_date_parse("1900-02-29", &ms), EGIDE_ERR_INVALID);
    CHECK_RC(egide_date_parse("2000-02-29", &ms), EGIDE_OK);
    CHECK_RC(egide_date_parse("2024-2-01", &ms), EGIDE_ERR_INVALID);
    CHECK_RC(egide_date_parse("2024-02-01 ", &ms), EGIDE_ERR_INVALID);
    CHECK_RC(egide_date_parse("1899-12-31", &ms), EGIDE_ERR_INVALID);
    CHECK_RC(egide_date_parse(NULL, &ms), EGIDE_ERR_INVALID);
    CHECK_RC(egide_date_parse("1970-01-01", &ms), EGIDE_OK);
    CHECK(ms == 0);
    CHECK_RC(egide_datetime_parse("2026-11-20T09:14:00+01:00", &ms), EGIDE_OK);
    CHECK(ms == 1795162440000LL);
    CHECK_RC(egide_datetime_parse("2026-11-20t08:14:00.5z", &ms), EGIDE_OK);
    CHECK(ms == 1795162440500LL);
    CHECK_RC(egide_datetime_parse("2026-11-20T09:14:00-10:30", &ms), EGIDE_OK);
    CHECK(ms == 1795203840000LL); /* 19:44Z */
    CHECK_RC(egide_datetime_parse("2026-11-20T24:00:00Z", &ms), EGIDE_ERR_INVALID);
    CHECK_RC(egide_datetime_parse("2026-11-20T23:59:60Z", &ms), EGIDE_ERR_INVALID);
    CHECK_RC(egide_datetime_parse("2026-11-20T23:59:59.Z", &ms), EGIDE_ERR_INVALID);
    CHECK_RC(egide_datetime_parse("2026-11-20T23:59:59+0100", &ms), EGIDE_ERR_INVALID);
    CHECK_RC(egide_datetime_parse("2026-11-20T23:59:59Zjunk", &ms), EGIDE_ERR_INVALID);
    int y, m;
    CHECK_RC(egide_date_parse_month("2026-12", &y, &m), EGIDE_OK);
    CHECK(y == 2026 && m == 12);
    CHECK_RC(egide_date_parse_month("2026-00", &y, &m), EGIDE_ERR_INVALID);
    /* Month arithmetic clamps to the end of shorter months. */
    char out[32];
    egide_date_parse("2026-01-31", &ms);
    egide_date_format(egide_date_add_months(ms, 1), out, sizeof out);
    CHECK_STREQ(out, "2026-02-28");
    egide_date_parse("2024-01-31", &ms);
    egide_date_format(egide_date_add_months(ms, 1), out, sizeof out);
    CHECK_STREQ(out, "2024-02-29");
    egide_date_parse("2026-11-30", &ms);
    egide_date_format(egide_date_add_months(ms, 3), out, sizeof out);
    CHECK_STREQ(out, "2027-02-28");
    egide_date_format(egide_date_add_months(ms, -11), out, sizeof out);
    CHECK_STREQ(out, "2025-12-30");
    egide_datetime_format(1795162440500LL, out, sizeof out);
    CHECK_STREQ(out, "2026-11-20T08:14:00Z");
    egide_datetime_format(-1000, out, sizeof out);
    CHECK_STREQ(out, "1969-12-31T23:59:59Z");
    CHECK_RC(egide_date_format(0, out, 5), EGIDE_ERR_LIMIT);
}

int main(void)
{
    RUN(test_round_trip_every_type);
    RUN(test_round_trip_samples);
    RUN(test_validation_errors);
    RUN(test_document_errors);
    RUN(test_error_quoting);
    RUN(test_facts);
    RUN(test_routing_facts);
    RUN(test_routing_errors);
    RUN(test_content_types);
    RUN(test_received_protobuf);
    RUN(test_dates);
    EGIDE_TEST_DONE();
}
