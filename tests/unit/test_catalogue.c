/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_catalogue.c - the message-type and role tables: every DOMAIN.md type
 * is known, lookups are exact, and out-of-range accesses return NULL.
 */
#include "egide/domain/egide_catalogue.h"
#include "egide/base/egide_rc.h"
#include "egide_test.h"

static void test_types(void)
{
    CHECK(egide_catalogue_type_count() == 21);
    CHECK(egide_catalogue_type_known("ip.transmission"));
    CHECK(egide_catalogue_type_known("message.acknowledgement"));
    CHECK(egide_catalogue_type_known("observatory.export"));
    CHECK(!egide_catalogue_type_known("ip.Transmission"));
    CHECK(!egide_catalogue_type_known("ip.transmission "));
    CHECK(!egide_catalogue_type_known(""));
    CHECK(!egide_catalogue_type_known(NULL));
    const egide_catalogue_type_t *t = egide_catalogue_type_find("court.opp");
    REQUIRE(t != NULL);
    CHECK(t->row == 16);
    CHECK(!t->reply);
    t = egide_catalogue_type_find("ip.qualification");
    REQUIRE(t != NULL);
    CHECK(t->reply);
    /* rows 1..20 each appear exactly once */
    int seen[21] = {0};
    for (size_t i = 0; i < egide_catalogue_type_count(); i++) {
        const egide_catalogue_type_t *e = egide_catalogue_type_at(i);
        REQUIRE(e != NULL);
        REQUIRE(e->row >= 0 && e->row <= 20);
        seen[e->row]++;
        CHECK(egide_catalogue_type_find(e->name) == e);
    }
    for (int r = 0; r <= 20; r++)
        CHECK(seen[r] == 1);
    CHECK(egide_catalogue_type_at(egide_catalogue_type_count()) == NULL);
}

static void test_roles(void)
{
    CHECK(egide_catalogue_role_count() == 11);
    const char *want[] = {"crip", "tas",      "snated",      "parquet", "police", "court",
                          "ase",  "reporter", "observatory", "auditor", "broker"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECK(egide_catalogue_role_known(want[i]));
    CHECK(!egide_catalogue_role_known("CRIP"));
    CHECK(!egide_catalogue_role_known("judge"));
    CHECK(!egide_catalogue_role_known(NULL));
    CHECK(egide_catalogue_role_at(egide_catalogue_role_count()) == NULL);
    CHECK(egide_catalogue_role_at(0) != NULL);
}

int main(void)
{
    RUN(test_types);
    RUN(test_roles);
    EGIDE_TEST_DONE();
}
