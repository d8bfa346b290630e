/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_known_child.c - the child and household keys of a referral
 * (egide_known_child.h), from real serialized payloads of every referral
 * type: siblings share a household key and not a child key; the same child
 * typed differently (NFD, upper case, another referral type) has one child
 * key, which is the "known-child" pseudonym and never the observatory's;
 * a child without a mother's birth name (none, two mothers, a married name
 * only) or without a birth date is not comparable; a household without
 * the mother's first name gets no household key; bad input and arguments
 * are refused.  Invented names only; the key is made at run time.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egide/base/egide_util.h"
#include "egide/domain/egide_known_child.h"
#include "egide/domain/egide_payload.h"
#include "egide/domain/egide_pseudo.h"
#include "egide_test.h"

#define NOW 1795341600000LL /* 2026-11-22T10:00:00Z */

static uint8_t s_key[32];

/* The members every referral type needs besides children and adults. */
static const struct {
    const char *type, *head;
} s_heads[] = {
    {"ip.transmission", "\"received_at\":\"2026-11-20T09:00:00+01:00\",\"sender\":{\"type\":"
                        "\"education\"},\"danger\":{\"categories\":[\"severe_neglect\"]},"
                        "\"urgency\":\"normal\""},
    {"snated.transmission",
     "\"received_at\":\"2026-11-20T09:00:00+01:00\",\"snated_ref\":\"S-1\",\"caller_account\":"
     "\"x\",\"handler_assessment\":\"y\",\"danger\":{\"categories\":[\"severe_neglect\"]},"
     "\"urgency\":\"normal\""},
    {"parquet.direct_signalement",
     "\"sent_at\":\"2026-11-20T09:00:00+01:00\",\"sender\":{\"type\":\"health\"},\"danger\":{"
     "\"categories\":[\"physical_violence\"]},\"urgency\":\"urgent\""},
    {"parquet.soit_transmis", "\"issued_at\":\"2026-11-20T09:00:00+01:00\",\"parquet_ref\":\"P-1\","
                              "\"request\":\"evaluate\",\"urgency\":\"normal\""},
    {"department.transfer",
     "\"transferred_at\":\"2026-11-20T09:00:00+01:00\",\"case_ref\":\"C-1\","
     "\"from_department\":\"21\",\"to_department\":\"71\",\"summary\":\"s\""},
};
#define NTYPES (sizeof s_heads / sizeof s_heads[0])

/* Serialize a payload of type i from its head and the given members. */
static uint8_t *s_pb(size_t i, const char *members, size_t *len)
{
    char json[8192];
    snprintf(json, sizeof json, "{%s,%s}", s_heads[i].head, members);
    uint8_t *pb = NULL;
    char *errors = NULL;
    egide_rc rc =
        egide_payload_from_json(s_heads[i].type, json, strlen(json), NOW, &pb, len, NULL, &errors);
    if (rc)
        fprintf(stderr, "payload %s: %s\n", s_heads[i].type, errors ? errors : egide_strerror(rc));
    free(errors);
    return rc ? NULL : pb;
}

static egide_rc s_keys(size_t i, const char *members, egide_child_keys_t *k, size_t max, size_t *n)
{
    size_t len = 0;
    uint8_t *pb = s_pb(i, members, &len);
    if (!pb)
        return EGIDE_ERR_VALIDATION;
    egide_rc rc = egide_known_child_keys(s_heads[i].type, pb, len, s_key, sizeof s_key, k, max, n);
    free(pb);
    return rc;
}

#define SIBLINGS                                                                                   \
    "\"children\":[{\"first_names\":[\"Zo\\u00eb-L\\u00e9a\"],\"sex\":\"female\","                 \
    "\"birth_date\":\"2016-05-14\",\"commune\":\"71270\"},"                                        \
    "{\"first_names\":[\"Nguy\\u1ec5n\",\"Paul\"],\"sex\":\"male\",\"birth_date\":\"2019-02-01\"," \
    "\"commune\":\"71270\"}],"                                                                     \
    "\"adults\":[{\"surname\":\"Martin\",\"birth_surname\":\"Invent\\u00e9\",\"first_names\":["    \
    "\"\\u00c5sa\"],\"link\":\"mother\"},{\"surname\":\"Martin\",\"first_names\":[\"Jean\"],"      \
    "\"link\":\"father\"}]"

static void test_siblings(void)
{
    egide_child_keys_t k[4];
    size_t n = 0;
    CHECK_RC(s_keys(0, SIBLINGS, k, 4, &n), EGIDE_OK);
    REQUIRE(n == 2);
    for (size_t i = 0; i < 2; i++) {
        CHECK(k[i].status == EGIDE_KC_COMPARABLE);
        CHECK(strlen(k[i].child_key) == 64 && strlen(k[i].household_key) == 64);
    }
    CHECK(strcmp(k[0].child_key, k[1].child_key) != 0);
    CHECK_STREQ(k[0].household_key, k[1].household_key);
    CHECK(strcmp(k[0].child_key, k[0].household_key) != 0);
    /* The child key is the known-child pseudonym of (first name, month of
     * birth, mother's birth name), and not the observatory's. */
    char want[65], olinpe[65], hh[65];
    CHECK_RC(egide_pseudo_compute(NULL, s_key, 32, EGIDE_KNOWN_CHILD_CONTEXT, "ZOE LEA", 2016, 5,
                                  "INVENTE", want),
             EGIDE_OK);
    CHECK_STREQ(k[0].child_key, want);
    CHECK_RC(egide_pseudo_compute(NULL, s_key, 32, "olinpe", "ZOE LEA", 2016, 5, "INVENTE", olinpe),
             EGIDE_OK);
    CHECK(strcmp(k[0].child_key, olinpe) != 0);
    CHECK_RC(egide_pseudo_compute(NULL, s_key, 32, EGIDE_KNOWN_CHILD_CONTEXT, "NGUYEN", 2019, 2,
                                  "INVENTE", want),
             EGIDE_OK);
    CHECK_STREQ(k[1].child_key, want); /* the first first name only */
    CHECK_RC(
        egide_pseudo_household(s_key, 32, EGIDE_KNOWN_CHILD_CONTEXT, "ASA", "INVENTE", "71270", hh),
        EGIDE_OK);
    CHECK_STREQ(k[0].household_key, hh);
    /* max bounds what is written. */
    CHECK_RC(s_keys(0, SIBLINGS, k, 1, &n), EGIDE_OK);
    CHECK(n == 1);
    CHECK_RC(s_keys(0, SIBLINGS, k, 0, &n), EGIDE_OK);
    CHECK(n == 0);
}

/* The same child in each referral type, typed another way each time (NFD,
 * upper case, the mother's name on the child), has one child key. */
static void test_same_child_every_type(void)
{
    egide_child_keys_t first[2], k[2];
    size_t n = 0;
    CHECK_RC(s_keys(0, SIBLINGS, first, 2, &n), EGIDE_OK);
    REQUIRE(n == 2);
    const char *variants[] = {
        /* NFD and upper case, same household */
        "\"children\":[{\"first_names\":[\"ZOE\\u0308-LE\\u0301A\"],\"sex\":\"female\","
        "\"birth_date\":\"2016-05-30\",\"commune\":\"71270\"}],\"adults\":[{\"birth_surname\":"
        "\"INVENTE\\u0301\",\"first_names\":[\"A\\u030asa\"],\"link\":\"mother\"}]",
        /* the mother's name on the child, no adult: no household key */
        "\"children\":[{\"first_names\":[\"zo\\u00eb l\\u00e9a\"],\"sex\":\"female\","
        "\"birth_date\":\"2016-05-01\",\"commune\":\"71270\",\"mother_birth_surname\":"
        "\"invent\\u00e9\"}]",
    };
    for (size_t t = 0; t < NTYPES; t++)
        for (size_t v = 0; v < 2; v++) {
            memset(k, 0, sizeof k);
            CHECK_RC(s_keys(t, variants[v], k, 2, &n), EGIDE_OK);
            REQUIRE(n == 1);
            CHECK(k[0].status == EGIDE_KC_COMPARABLE);
            CHECK_STREQ(k[0].child_key, first[0].child_key);
            if (v == 0)
                CHECK_STREQ(k[0].household_key, first[0].household_key);
            else
                CHECK_STREQ(k[0].household_key, "");
        }
    /* Born another month, or another mother: another child. */
    CHECK_RC(s_keys(0,
                    "\"children\":[{\"first_names\":[\"Zo\\u00eb-L\\u00e9a\"],\"sex\":\"female\","
                    "\"birth_date\":\"2016-06-14\",\"commune\":\"71270\","
                    "\"mother_birth_surname\":\"Invent\\u00e9\"}]",
                    k, 2, &n),
             EGIDE_OK);
    CHECK(n == 1 && strcmp(k[0].child_key, first[0].child_key) != 0);
    CHECK_RC(s_keys(0,
                    "\"children\":[{\"first_names\":[\"Zo\\u00eb-L\\u00e9a\"],\"sex\":\"female\","
                    "\"birth_date\":\"2016-05-14\",\"commune\":\"71270\","
                    "\"mother_birth_surname\":\"Inventa\"}]",
                    k, 2, &n),
             EGIDE_OK);
    CHECK(n == 1 && strcmp(k[0].child_key, first[0].child_key) != 0);
    /* Same mother, another commune: the household key changes (a move is
     * missed, as documented), the child key does not. */
    CHECK_RC(s_keys(0,
                    "\"children\":[{\"first_names\":[\"Zo\\u00eb-L\\u00e9a\"],\"sex\":\"female\","
                    "\"birth_date\":\"2016-05-14\",\"commune\":\"71076\"}],\"adults\":[{"
                    "\"birth_surname\":\"Invent\\u00e9\",\"first_names\":[\"\\u00c5sa\"],"
                    "\"link\":\"mother\"}]",
                    k, 2, &n),
             EGIDE_OK);
    CHECK(n == 1);
    CHECK_STREQ(k[0].child_key, first[0].child_key);
    CHECK(k[0].household_key[0] && strcmp(k[0].household_key, first[0].household_key) != 0);
}

static void test_not_comparable(void)
{
    egide_child_keys_t k[2];
    size_t n = 0;
    const struct {
        const char *members;
        egide_kc_status want;
    } cases[] = {
        /* no adult, no mother's name */
        {"\"children\":[{\"first_names\":[\"Zo\\u00e9\"],\"sex\":\"female\",\"birth_date\":"
         "\"2016-05-14\",\"commune\":\"71270\"}]",
         EGIDE_KC_NO_MOTHER_NAME},
        /* the mother's married name only */
        {"\"children\":[{\"first_names\":[\"Zo\\u00e9\"],\"sex\":\"female\",\"birth_date\":"
         "\"2016-05-14\",\"commune\":\"71270\"}],\"adults\":[{\"surname\":\"Martin\","
         "\"first_names\":[\"Ana\"],\"link\":\"mother\"}]",
         EGIDE_KC_NO_MOTHER_NAME},
        /* two mothers: which one is not guessed */
        {"\"children\":[{\"first_names\":[\"Zo\\u00e9\"],\"sex\":\"female\",\"birth_date\":"
         "\"2016-05-14\",\"commune\":\"71270\"}],\"adults\":[{\"birth_surname\":\"Invente\","
         "\"link\":\"mother\"},{\"birth_surname\":\"Autre\",\"link\":\"mother\"}]",
         EGIDE_KC_NO_MOTHER_NAME},
        /* a first name that does not normalise */
        {"\"children\":[{\"first_names\":[\"Zo\\u00e9 2\"],\"sex\":\"female\",\"birth_date\":"
         "\"2016-05-14\",\"commune\":\"71270\",\"mother_birth_surname\":\"Invente\"}]",
         EGIDE_KC_BAD_NAME},
        {"\"children\":[{\"first_names\":[\"Zo\\u00e9\"],\"sex\":\"female\",\"birth_date\":"
         "\"2016-05-14\",\"commune\":\"71270\",\"mother_birth_surname\":\"\\u0417\\u043e\"}]",
         EGIDE_KC_BAD_NAME},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(k, 'x', sizeof k);
        CHECK_RC(s_keys(0, cases[i].members, k, 2, &n), EGIDE_OK);
        REQUIRE(n == 1);
        CHECK(k[0].status == cases[i].want);
        CHECK_STREQ(k[0].child_key, "");
        CHECK_STREQ(k[0].household_key, "");
    }
    /* No birth date: the schema requires one, so only a JSON payload from
     * elsewhere can lack it. */
    json_t *p = json_loads("{\"children\":[{\"first_names\":[\"Zoe\"],\"mother_birth_surname\":"
                           "\"Invente\"},{\"first_names\":[\"Zoe\"],\"birth_date\":\"2016-13-01\","
                           "\"mother_birth_surname\":\"Invente\"},{\"birth_date\":\"2016-01-01\","
                           "\"mother_birth_surname\":\"Invente\"}]}",
                           0, NULL);
    REQUIRE(p);
    egide_child_keys_t k3[3];
    CHECK_RC(egide_known_child_keys_json(p, s_key, 32, k3, 3, &n), EGIDE_OK);
    CHECK(n == 3);
    CHECK(k3[0].status == EGIDE_KC_NO_BIRTH_DATE && k3[0].child_key[0] == '\0');
    CHECK(k3[1].status == EGIDE_KC_NO_BIRTH_DATE);
    CHECK(k3[2].status == EGIDE_KC_BAD_NAME); /* no first name */
    json_decref(p);
    CHECK_STREQ(egide_known_child_status_name(EGIDE_KC_COMPARABLE), "comparable");
    CHECK_STREQ(egide_known_child_status_name(EGIDE_KC_NO_MOTHER_NAME), "no_mother_name");
    CHECK_STREQ(egide_known_child_status_name(EGIDE_KC_NO_BIRTH_DATE), "no_birth_date");
    CHECK_STREQ(egide_known_child_status_name(EGIDE_KC_BAD_NAME), "bad_name");
    CHECK_STREQ(egide_known_child_status_name(9), "unknown");
    CHECK_STREQ(egide_known_child_status_name(-1), "unknown");
}

static void test_household_needs_mother_first_name(void)
{
    egide_child_keys_t k[2];
    size_t n = 0;
    CHECK_RC(s_keys(0,
                    "\"children\":[{\"first_names\":[\"Zo\\u00e9\"],\"sex\":\"female\","
                    "\"birth_date\":\"2016-05-14\",\"commune\":\"71270\"}],\"adults\":[{"
                    "\"birth_surname\":\"Invente\",\"link\":\"mother\"}]",
                    k, 2, &n),
             EGIDE_OK);
    REQUIRE(n == 1);
    CHECK(k[0].status == EGIDE_KC_COMPARABLE && k[0].child_key[0]);
    CHECK_STREQ(k[0].household_key, "");
}

static void test_arguments(void)
{
    egide_child_keys_t k[2];
    size_t n = 9, len = 0;
    uint8_t *pb = s_pb(0, SIBLINGS, &len);
    REQUIRE(pb);
    /* Only the referral types. */
    CHECK(egide_known_child_type("ip.transmission"));
    CHECK(egide_known_child_type("department.transfer"));
    CHECK(!egide_known_child_type("court.decision"));
    CHECK(!egide_known_child_type("evaluation.report"));
    CHECK(!egide_known_child_type(NULL));
    CHECK_RC(egide_known_child_keys("court.decision", pb, len, s_key, 32, k, 2, &n),
             EGIDE_ERR_INVALID);
    CHECK(n == 0);
    CHECK_RC(egide_known_child_keys("ip.transmission", pb, len, s_key, 31, k, 2, &n),
             EGIDE_ERR_INVALID);
    CHECK_RC(egide_known_child_keys("ip.transmission", pb, len, NULL, 32, k, 2, &n),
             EGIDE_ERR_INVALID);
    CHECK_RC(egide_known_child_keys("ip.transmission", pb, len, s_key, 32, NULL, 2, &n),
             EGIDE_ERR_INVALID);
    CHECK_RC(egide_known_child_keys("ip.transmission", pb, len, s_key, 32, k, 2, NULL),
             EGIDE_ERR_INVALID);
    CHECK_RC(egide_known_child_keys("ip.transmission", NULL, 3, s_key, 32, k, 2, &n),
             EGIDE_ERR_INVALID);
    /* Bytes that do not decode as the type. */
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    CHECK_RC(egide_known_child_keys("ip.transmission", junk, sizeof junk, s_key, 32, k, 2, &n),
             EGIDE_ERR_PROTO);
    CHECK(n == 0);
    CHECK_RC(egide_known_child_keys_json(NULL, s_key, 32, k, 2, &n), EGIDE_ERR_INVALID);
    /* A different key gives unrelated keys. */
    egide_child_keys_t a[2], b[2];
    uint8_t key2[32];
    memcpy(key2, s_key, 32);
    key2[0] ^= 1;
    CHECK_RC(egide_known_child_keys("ip.transmission", pb, len, s_key, 32, a, 2, &n), EGIDE_OK);
    CHECK_RC(egide_known_child_keys("ip.transmission", pb, len, key2, 32, b, 2, &n), EGIDE_OK);
    CHECK(n == 2 && strcmp(a[0].child_key, b[0].child_key) != 0 &&
          strcmp(a[0].household_key, b[0].household_key) != 0);
    free(pb);
}

int main(void)
{
    if (egide_random(s_key, sizeof s_key) != EGIDE_OK)
        return 1;
    RUN(test_siblings);
    RUN(test_same_child_every_type);
    RUN(test_not_comparable);
    RUN(test_household_needs_mother_first_name);
    RUN(test_arguments);
    EGIDE_TEST_DONE();
}
