/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_observatory.c - the pseudonymised observatory export built from the
 * invented samples: event counts and codes, one stable pseudonym per child
 * across messages, the "previous identifier" for corrections, the year
 * filter, refusals of bad input - and the proof that no name, address, date
 * of birth, reference or free text of the inputs appears in the output
 * (every input string value longer than 2 characters that is not a
 * catalogue code is searched for, case-insensitively; the scanner itself is
 * shown to catch a planted leak).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "egide/domain/egide_observatory.h"
#include "egide/domain/egide_payload.h"
#include "egide/domain/egide_pseudo.h"
#include "egide/base/egide_util.h"
#include "egide_test.h"

#define NOW 1795341600000LL /* 2026-11-22T10:00:00Z */

static const struct {
    const char *file, *type;
} s_samples[] = {
    {"snated-cluny.json", "snated.transmission"},
    {"ip-macon-under2.json", "ip.transmission"},
    {"evaluation-report-cluny.json", "evaluation.report"},
    {"opp-macon.json", "court.opp"},
    {"nc-noumea-information-signalante.json", "ip.transmission"},
    {"court-decision-macon.json", "court.decision"},
    {"emergency-reception-cluny.json", "ase.emergency_reception"},
};
#define NSAMPLES (sizeof s_samples / sizeof s_samples[0])

static json_t *s_payloads[NSAMPLES];
static uint8_t s_key[32];

/* Members whose values are catalogue codes (enums), allowed in the export. */
static bool s_is_code_key(const char *k)
{
    static const char *const codes[] = {"sex",           "type",
                                        "link",          "categories",
                                        "urgency",       "parents_informed",
                                        "channel",       "decision",
                                        "conclusion",    "parental_agreement",
                                        "kind",          "outcome",
                                        "qualification", "grounds",
                                        "reason",        NULL};
    for (size_t i = 0; codes[i]; i++)
        if (strcmp(codes[i], k) == 0)
            return true;
    return false;
}

/* Collect every string value (len > 2) of j that is not under a code key. */
static void s_collect(json_t *j, const char *key, json_t *out)
{
    if (json_is_string(j)) {
        if (json_string_length(j) > 2 && !(key && s_is_code_key(key)))
            json_array_append(out, j);
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) s_collect(v, key, out);
    } else if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) s_collect(v, k, out);
    }
}

/* Number of input strings found in text (case-insensitive). */
static size_t s_leaks(const char *text, json_t *strings, bool verbose)
{
    size_t n = 0, i;
    json_t *s;
    json_array_foreach(strings, i, s)
    {
        if (strcasestr(text, json_string_value(s))) {
            if (verbose)
                fprintf(stderr, "leak: \"%s\"\n", json_string_value(s));
            n++;
        }
    }
    return n;
}

/* The samples as JSON lines {"type","payload"}, plus extra lines. */
static char *s_jsonl(const char *extra)
{
    egide_buf_t b;
    egide_buf_init(&b, 1u << 22);
    for (size_t i = 0; i < NSAMPLES; i++) {
        json_t *line = json_pack("{s:s, s:O}", "type", s_samples[i].type, "payload", s_payloads[i]);
        char *t = json_dumps(line, JSON_COMPACT);
        egide_buf_append(&b, t, strlen(t));
        egide_buf_append(&b, "\n", 1);
        free(t);
        json_decref(line);
    }
    egide_buf_append(&b, "# a comment line\n\n", 18);
    if (extra)
        egide_buf_append(&b, extra, strlen(extra));
    egide_buf_append(&b, "", 1);
    return (char *)b.data;
}

static egide_olinpe_opts_t s_opts(int year)
{
    egide_olinpe_opts_t o = {.year = year, .key = s_key, .key_len = sizeof s_key, .now_ms = NOW};
    return o;
}

/* The events of an export, as a jansson array (borrowed from root). */
static json_t *s_events(json_t *root)
{
    return json_object_get(root, "events");
}

static size_t s_count(json_t *events, const char *member, const char *value)
{
    size_t n = 0, i;
    json_t *e;
    json_array_foreach(events, i, e)
    {
        json_t *v = json_object_get(e, member);
        n += json_is_string(v) && strcmp(json_string_value(v), value) == 0;
    }
    return n;
}

static void test_export_samples(void)
{
    char *in = s_jsonl(NULL);
    egide_olinpe_opts_t o = s_opts(2026);
    char *out = NULL, *errors = NULL;
    egide_olinpe_stats_t st;
    CHECK_RC(egide_observatory_export(in, strlen(in), &o, &out, &st, &errors), EGIDE_OK);
    if (errors)
        fprintf(stderr, "%s\n", errors);
    free(errors);
    REQUIRE(out != NULL);
    CHECK(st.lines == NSAMPLES);
    CHECK(st.events == 9);
    CHECK(st.no_mother_name == 0 && st.other_year == 0 && st.not_a_measure == 0);
    json_t *root = json_loads(out, 0, NULL);
    REQUIRE(root != NULL);
    CHECK_STREQ(json_string_value(json_object_get(root, "department")), "71");
    CHECK(json_integer_value(json_object_get(root, "year")) == 2026);
    CHECK_STREQ(json_string_value(json_object_get(root, "algorithm")), "hmac-sha256-v1");
    json_t *ev = s_events(root);
    CHECK(json_array_size(ev) == 9);
    CHECK(s_count(ev, "event_type", "ip_received") == 4);
    CHECK(s_count(ev, "event_type", "evaluation_concluded") == 2);
    CHECK(s_count(ev, "event_type", "opp") == 1);
    CHECK(s_count(ev, "event_type", "judicial_decision") == 1);
    CHECK(s_count(ev, "event_type", "emergency_reception") == 1);
    CHECK(s_count(ev, "detail", "snated") == 2);
    CHECK(s_count(ev, "detail", "placement") == 1);
    CHECK(s_count(ev, "detail", "runaway") == 1);
    CHECK(s_count(ev, "department", "988") == 1);
    CHECK(s_count(ev, "event_month", "2026-09") == 2);
    /* Zoé (Cluny) is one child across the 119 call, the evaluation and the
     * emergency reception: one pseudonym, three events. */
    char zoe[65];
    REQUIRE(egide_pseudo_compute(NULL, s_key, 32, "olinpe", "ZOE", 2016, 5, "INVENTE DUPONT",
                                 zoe) == EGIDE_OK);
    CHECK(s_count(ev, "pseudonym", zoe) == 3);
    /* The output is a valid observatory.export payload (checked inside too). */
    CHECK_RC(egide_payload_from_json("observatory.export", out, strlen(out), NOW, NULL, NULL, NULL,
                                     NULL),
             EGIDE_OK);

    /* No identifying string of any input reaches the export. */
    json_t *strings = json_array();
    for (size_t i = 0; i < NSAMPLES; i++)
        s_collect(s_payloads[i], NULL, strings);
    CHECK(json_array_size(strings) > 80); /* names, addresses, dates, texts, refs */
    CHECK(s_leaks(out, strings, true) == 0);
    /* The scanner is not blind: a planted name, birth date or commune is caught. */
    size_t olen = strlen(out);
    char *planted = malloc(olen + 64);
    snprintf(planted, olen + 64, "%s\"x\":\"zoé\"", out);
    CHECK(s_leaks(planted, strings, false) >= 1);
    snprintf(planted, olen + 64, "%s 2016-05-14", out);
    CHECK(s_leaks(planted, strings, false) >= 1);
    snprintf(planted, olen + 64, "%s 71137", out);
    CHECK(s_leaks(planted, strings, false) >= 1);
    free(planted);
    json_decref(strings);
    json_decref(root);
    free(out);
    free(in);
}

static void test_previous_and_filters(void)
{
    /* A correction: the earlier export had the wrong birth month. */
    char *line = NULL;
    {
        json_t *l = json_pack("{s:s, s:s, s:O, s:{s:i, s:s, s:s, s:s}}", "type", "court.decision",
                              "received", "2026-10-15T11:00:00+02:00", "payload", s_payloads[5],
                              "previous", "child", 0, "first_name", "Leo", "birth_month", "2025-07",
                              "mother_birth_name", "OEUVRARD EXEMPLE");
        line = json_dumps(l, JSON_COMPACT);
        json_decref(l);
    }
    egide_olinpe_opts_t o = s_opts(2026);
    char *out = NULL, *errors = NULL;
    egide_olinpe_stats_t st;
    CHECK_RC(egide_observatory_export(line, strlen(line), &o, &out, &st, &errors), EGIDE_OK);
    REQUIRE(out != NULL);
    json_t *root = json_loads(out, 0, NULL);
    json_t *e = json_array_get(s_events(root), 0);
    char now_p[65], prev_p[65];
    egide_pseudo_compute(NULL, s_key, 32, "olinpe", "Léo", 2025, 8, "Œuvrard-Exemple", now_p);
    egide_pseudo_compute(NULL, s_key, 32, "olinpe", "Léo", 2025, 7, "Œuvrard-Exemple", prev_p);
    CHECK_STREQ(json_string_value(json_object_get(e, "pseudonym")), now_p);
    CHECK_STREQ(json_string_value(json_object_get(e, "previous_pseudonym")), prev_p);
    json_decref(root);
    free(out);
    free(line);

    /* Another year: nothing to export, the department must then be given. */
    char *in = s_jsonl(NULL);
    o = s_opts(2025);
    CHECK_RC(egide_observatory_export(in, strlen(in), &o, &out, &st, &errors),
             EGIDE_ERR_VALIDATION);
    CHECK(errors && strstr(errors, "department") != NULL);
    CHECK(st.other_year == NSAMPLES);
    free(errors);
    errors = NULL;
    o.department = "71";
    CHECK_RC(egide_observatory_export(in, strlen(in), &o, &out, &st, &errors), EGIDE_OK);
    CHECK(out && strstr(out, "\"events\"") == NULL);
    free(out);
    out = NULL;
    /* A different key gives different pseudonyms for the same events. */
    o = s_opts(2026);
    char *out1 = NULL, *out2 = NULL;
    CHECK_RC(egide_observatory_export(in, strlen(in), &o, &out1, NULL, NULL), EGIDE_OK);
    uint8_t key2[32];
    memset(key2, 0x5a, sizeof key2);
    o.key = key2;
    CHECK_RC(egide_observatory_export(in, strlen(in), &o, &out2, NULL, NULL), EGIDE_OK);
    json_t *r1 = json_loads(out1, 0, NULL), *r2 = json_loads(out2, 0, NULL);
    CHECK(strcmp(json_string_value(json_object_get(json_array_get(s_events(r1), 0), "pseudonym")),
                 json_string_value(
                     json_object_get(json_array_get(s_events(r2), 0), "pseudonym"))) != 0);
    json_decref(r1);
    json_decref(r2);
    free(out1);
    free(out2);
    free(in);
}

/* Names beyond Latin-1 and Latin Extended-A (issue 11: "Thị Ngọc" was
 * dropped): exported, and one pseudonym whether typed composed or
 * decomposed. */
static void test_unicode_names(void)
{
    const char *forms[][2] = {
        {"Th\xe1\xbb\x8b Ng\xe1\xbb\x8d"
         "c",
         "Nguy\xe1\xbb\x85n"}, /* precomposed U+1ECB U+1ECD, U+1EC5 */
        {"Thi\xcc\xa3 Ngo\xcc\xa3"
         "c",
         "Nguye\xcc\x82\xcc\x83n"}, /* i + U+0323, e + U+0302 + U+0303 */
    };
    egide_buf_t b;
    egide_buf_init(&b, 1u << 20);
    const char *birth = NULL;
    for (int i = 0; i < 2; i++) {
        json_t *p = json_deep_copy(s_payloads[5]);
        json_t *child = json_array_get(json_object_get(p, "children"), 0);
        json_object_set_new(child, "first_names", json_pack("[s]", forms[i][0]));
        json_object_set_new(child, "mother_birth_surname", json_string(forms[i][1]));
        birth = json_string_value(json_object_get(
            json_array_get(json_object_get(s_payloads[5], "children"), 0), "birth_date"));
        json_t *l = json_pack("{s:s, s:o}", "type", "court.decision", "payload", p);
        char *t = json_dumps(l, JSON_COMPACT);
        json_decref(l);
        egide_buf_append(&b, t, strlen(t));
        egide_buf_append(&b, "\n", 1);
        free(t);
    }
    egide_buf_append(&b, "", 1);
    egide_olinpe_opts_t o = s_opts(2026);
    char *out = NULL, *errors = NULL;
    egide_olinpe_stats_t st;
    CHECK_RC(egide_observatory_export((const char *)b.data, b.len - 1, &o, &out, &st, &errors),
             EGIDE_OK);
    if (errors)
        fprintf(stderr, "%s\n", errors);
    free(errors);
    CHECK(st.bad_identity == 0 && st.events == 2);
    json_t *root = out ? json_loads(out, 0, NULL) : NULL;
    json_t *ev = s_events(root);
    int y = 0, m = 0;
    REQUIRE(birth && sscanf(birth, "%d-%d", &y, &m) == 2);
    char want[65];
    REQUIRE(egide_pseudo_compute(NULL, s_key, 32, "olinpe", "THI NGOC", y, m, "NGUYEN", want) ==
            EGIDE_OK);
    CHECK(json_array_size(ev) == 2 && s_count(ev, "pseudonym", want) == 2);
    /* Neither spelling of the names reaches the export. */
    CHECK(out && !strstr(out, "Ng\xe1\xbb\x8d") && !strcasestr(out, "ngoc") &&
          !strcasestr(out, "nguy"));
    json_decref(root);
    free(out);
    egide_buf_free(&b);
}

static void test_bad_input(void)
{
    egide_olinpe_opts_t o = s_opts(2026);
    char *out = NULL, *errors = NULL;
    egide_olinpe_stats_t st;
    /* An invalid payload fails the whole export, naming the line. */
    json_t *bad = json_deep_copy(s_payloads[5]);
    json_object_set_new(json_array_get(json_object_get(bad, "children"), 0), "birth_date",
                        json_string("2025-02-30"));
    json_t *l = json_pack("{s:s, s:o}", "type", "court.decision", "payload", bad);
    char *t = json_dumps(l, JSON_COMPACT);
    json_decref(l);
    char *in = s_jsonl(t);
    free(t);
    CHECK_RC(egide_observatory_export(in, strlen(in), &o, &out, &st, &errors),
             EGIDE_ERR_VALIDATION);
    CHECK(out == NULL);
    CHECK(errors && strstr(errors, "line 10: payload.children[0].birth_date: not a date") != NULL);
    free(errors);
    errors = NULL;
    free(in);
    /* Lines that are not objects, unknown members, unknown types. */
    const char *junk = "[1]\n{\"type\":\"ip.nope\",\"payload\":{}}\n{\"type\":\"court.opp\","
                       "\"payload\":{},\"x\":1}\n"
                       "{\"type\":\"court.opp\",\"received\":\"yesterday\",\"payload\":{}}\n";
    CHECK_RC(egide_observatory_export(junk, strlen(junk), &o, &out, &st, &errors),
             EGIDE_ERR_VALIDATION);
    CHECK(errors && strstr(errors, "line 1: json: not a JSON object"));
    CHECK(errors && strstr(errors, "line 2: type: missing or not a catalogue type"));
    CHECK(errors && strstr(errors, "line 3: x: unknown field"));
    CHECK(errors && strstr(errors, "line 4: payload.children: at least one child"));
    free(errors);
    errors = NULL;
    /* Unknown keys cannot forge lines or escapes, at the top or in the payload. */
    const char *forge = "{\"type\":\"court.opp\",\"payload\":{\"a\\nline 9: b\":1},"
                        "\"\\u001b[31mx\\\"\":1}\n";
    CHECK_RC(egide_observatory_export(forge, strlen(forge), &o, &out, &st, &errors),
             EGIDE_ERR_VALIDATION);
    CHECK(errors && strstr(errors, "line 1: [\"\\u001b[31mx\\\"\"]: unknown field\n"));
    CHECK(errors && strstr(errors, "line 1: payload[\"a\\u000aline 9: b\"]: unknown field\n"));
    CHECK(errors && !strstr(errors, "\nline 9") && !strstr(errors, ": line 9") &&
          !strchr(errors, 0x1b));
    free(errors);
    errors = NULL;
    /* A child without the mother's birth name is skipped, not guessed. */
    json_t *nomother = json_deep_copy(s_payloads[5]);
    json_object_del(json_array_get(json_object_get(nomother, "children"), 0),
                    "mother_birth_surname");
    l = json_pack("{s:s, s:o}", "type", "court.decision", "payload", nomother);
    t = json_dumps(l, JSON_COMPACT);
    json_decref(l);
    o.department = "71";
    CHECK_RC(egide_observatory_export(t, strlen(t), &o, &out, &st, &errors), EGIDE_OK);
    CHECK(st.no_mother_name == 1 && st.events == 0);
    free(out);
    free(t);
    /* Bad options. */
    o.key_len = 16;
    CHECK_RC(egide_observatory_export("", 0, &o, &out, &st, &errors), EGIDE_ERR_INVALID);
    o = s_opts(1999);
    CHECK_RC(egide_observatory_export("", 0, &o, &out, &st, &errors), EGIDE_ERR_INVALID);
    CHECK_RC(egide_observatory_export("", 0, NULL, &out, &st, &errors), EGIDE_ERR_INVALID);
    /* Messages that are not measures are counted and skipped. */
    const char *ack = "{\"type\":\"message.acknowledgement\",\"payload\":{\"acknowledged_at\":"
                      "\"2026-11-20T09:14:00+01:00\",\"acknowledged_by\":\"w\"}}\n";
    o = s_opts(2026);
    o.department = "71";
    CHECK_RC(egide_observatory_export(ack, strlen(ack), &o, &out, &st, &errors), EGIDE_OK);
    CHECK(st.not_a_measure == 1 && st.events == 0);
    free(out);
}

/* The export built one message at a time (as from a store, page by page)
 * is the export of the whole text; bad arguments; a resource error is
 * not swallowed. */
static void test_builder(void)
{
    egide_olinpe_opts_t o = s_opts(2026);
    char *in = s_jsonl(NULL), *whole = NULL, *errors = NULL, *built = NULL;
    egide_olinpe_stats_t st1, st2;
    REQUIRE(in);
    CHECK_RC(egide_observatory_export(in, strlen(in), &o, &whole, &st1, &errors), EGIDE_OK);
    egide_olinpe_t *b = NULL;
    REQUIRE(egide_olinpe_new(&o, &b) == EGIDE_OK);
    const char *p = in;
    size_t lines = 0;
    while (*p) {
        size_t n = strcspn(p, "\n");
        CHECK_RC(egide_olinpe_add(b, p, n), EGIDE_OK);
        lines++;
        p += n + (p[n] ? 1 : 0);
    }
    CHECK(lines > NSAMPLES);
    CHECK_RC(egide_olinpe_finish(b, &built, &st2, &errors), EGIDE_OK);
    CHECK(whole && built && strcmp(whole, built) == 0);
    CHECK(st1.events == st2.events && st2.events > 0 && st1.lines == st2.lines);
    egide_olinpe_destroy(&b);
    CHECK(b == NULL);
    egide_olinpe_destroy(&b); /* idempotent */
    egide_olinpe_destroy(NULL);
    free(whole);
    free(built);
    free(in);
    /* An invalid line is reported by finish, with its number. */
    REQUIRE(egide_olinpe_new(&o, &b) == EGIDE_OK);
    CHECK_RC(egide_olinpe_add(b, "", 0), EGIDE_OK);
    CHECK_RC(egide_olinpe_add(b, "[1]", 3), EGIDE_OK);
    CHECK_RC(egide_olinpe_finish(b, &built, NULL, &errors), EGIDE_ERR_VALIDATION);
    CHECK(built == NULL && errors && strstr(errors, "line 2: json: not a JSON object"));
    free(errors);
    egide_olinpe_destroy(&b);
    /* Arguments. */
    egide_olinpe_opts_t bad = s_opts(1999);
    CHECK_RC(egide_olinpe_new(&bad, &b), EGIDE_ERR_INVALID);
    CHECK(b == NULL);
    CHECK_RC(egide_olinpe_new(NULL, &b), EGIDE_ERR_INVALID);
    CHECK_RC(egide_olinpe_new(&o, NULL), EGIDE_ERR_INVALID);
    CHECK_RC(egide_olinpe_add(NULL, "{}", 2), EGIDE_ERR_INVALID);
    CHECK_RC(egide_olinpe_finish(NULL, &built, NULL, NULL), EGIDE_ERR_INVALID);
    /* The counted types. */
    CHECK(egide_observatory_type_counted("court.decision"));
    CHECK(egide_observatory_type_counted("ip.transmission"));
    CHECK(egide_observatory_type_counted("department.transfer"));
    CHECK(!egide_observatory_type_counted("ip.qualification"));
    CHECK(!egide_observatory_type_counted("message.acknowledgement"));
    CHECK(!egide_observatory_type_counted(NULL));
}

/* A transfer is the sending department's transfer_out: one that came in
 * from another department is no event of this department's export. */
static void test_transfers(void)
{
#define S_TRANSFER                                                                                 \
    "{\"type\":\"department.transfer\",\"payload\":{\"transferred_at\":"                           \
    "\"2026-06-01T10:00:00+02:00\",\"case_ref\":\"C-1\",\"from_department\":\"%s\","               \
    "\"to_department\":\"%s\",\"summary\":\"s\",\"children\":[{\"first_names\":[\"Zoe\"],"         \
    "\"sex\":\"female\",\"birth_date\":\"2016-05-14\",\"commune\":\"%s\","                         \
    "\"mother_birth_surname\":\"Invente\"}]}}\n"
    char in[2048];
    int n = snprintf(in, sizeof in, S_TRANSFER, "71", "21", "71270");
    snprintf(in + n, sizeof in - (size_t)n, S_TRANSFER, "21", "71", "71270");
    egide_olinpe_opts_t o = s_opts(2026);
    o.department = "71";
    char *out = NULL, *errors = NULL;
    egide_olinpe_stats_t st;
    CHECK_RC(egide_observatory_export(in, strlen(in), &o, &out, &st, &errors), EGIDE_OK);
    CHECK(st.events == 1 && st.other_department == 1);
    json_t *root = out ? json_loads(out, 0, NULL) : NULL;
    CHECK(s_count(s_events(root), "event_type", "transfer_out") == 1);
    CHECK(s_count(s_events(root), "detail", "21") == 1);
    json_decref(root);
    free(out);
    /* Without a department, both are kept (as before). */
    o.department = NULL;
    CHECK_RC(egide_observatory_export(in, strlen(in), &o, &out, &st, &errors), EGIDE_OK);
    CHECK(st.events == 2 && st.other_department == 0);
    free(out);
}

int main(void)
{
    const char *src = getenv("EGIDE_SOURCE_DIR");
    if (!src) {
        fprintf(stderr, "EGIDE_SOURCE_DIR not set\n");
        return 1;
    }
    for (int i = 0; i < 32; i++)
        s_key[i] = (uint8_t)(0xa0 + i);
    for (size_t i = 0; i < NSAMPLES; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/deploy/samples/%s", src, s_samples[i].file);
        s_payloads[i] = json_load_file(path, 0, NULL);
        if (!s_payloads[i]) {
            fprintf(stderr, "%s: cannot load\n", path);
            return 1;
        }
    }
    RUN(test_export_samples);
    RUN(test_previous_and_filters);
    RUN(test_bad_input);
    RUN(test_unicode_names);
    RUN(test_builder);
    RUN(test_transfers);
    for (size_t i = 0; i < NSAMPLES; i++)
        json_decref(s_payloads[i]);
    EGIDE_TEST_DONE();
}
