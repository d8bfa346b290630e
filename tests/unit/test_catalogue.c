/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_catalogue.c - the message-type and role tables: every DOMAIN.md type
 * is known, lookups are exact, and out-of-range accesses return NULL; the
 * table is the one egide_payload converts by (a payload message, a unique
 * content type and a time field that the message has, for every type).
 */
#include <protobuf-c/protobuf-c.h>
#include <string.h>

#include "egide/domain/egide_catalogue.h"
#include "egide/domain/egide_payload.h"
#include "egide/base/egide_rc.h"
#include "egide_test.h"

static void test_types(void)
{
    CHECK(egide_catalogue_type_count() == 22);
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
    /* routing.misrouted (issue 11 item 3): a territory's "not ours", a reply
     * (in_reply_to the referral or assignment) outside DOMAIN.md's rows,
     * with its own payload, time and reason code. */
    t = egide_catalogue_type_find(EGIDE_TYPE_ROUTING_MISROUTED);
    REQUIRE(t != NULL);
    CHECK_STREQ(t->name, "routing.misrouted");
    CHECK(t->reply);
    CHECK(t->row == 0);
    CHECK_STREQ(t->payload->name, "egide.v1.RoutingMisrouted");
    CHECK_STREQ(t->content_type, "application/vnd.egide.routing-misrouted+protobuf");
    CHECK_STREQ(t->time_field, "reported_at");
    CHECK_STREQ(t->kind_field, "reason");
    CHECK(!egide_catalogue_type_known("routing.Misrouted"));
    /* rows 1..20 each appear exactly once; row 0 is message.acknowledgement
     * and routing.misrouted */
    int seen[21] = {0};
    for (size_t i = 0; i < egide_catalogue_type_count(); i++) {
        const egide_catalogue_type_t *e = egide_catalogue_type_at(i);
        REQUIRE(e != NULL);
        REQUIRE(e->row >= 0 && e->row <= 20);
        seen[e->row]++;
        CHECK(egide_catalogue_type_find(e->name) == e);
    }
    CHECK(seen[0] == 2);
    for (int r = 1; r <= 20; r++)
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

/* The payload columns: every type has a message whose fields include the
 * time field and the kind field, content types are unique and map back,
 * and egide_payload answers from this table. */
static void test_payload_columns(void)
{
    size_t n = egide_catalogue_type_count();
    for (size_t i = 0; i < n; i++) {
        const egide_catalogue_type_t *e = egide_catalogue_type_at(i);
        REQUIRE(e != NULL && e->payload != NULL && e->content_type != NULL);
        CHECK(e->payload->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
        CHECK(strncmp(e->content_type, "application/vnd.egide.", 22) == 0);
        CHECK(e->time_field &&
              protobuf_c_message_descriptor_get_field_by_name(e->payload, e->time_field));
        const ProtobufCFieldDescriptor *k =
            e->kind_field
                ? protobuf_c_message_descriptor_get_field_by_name(e->payload, e->kind_field)
                : NULL;
        CHECK(!e->kind_field || (k && k->type == PROTOBUF_C_TYPE_ENUM));
        CHECK(egide_catalogue_type_for_content_type(e->content_type) == e);
        CHECK(egide_payload_type_known(e->name));
        CHECK(egide_payload_content_type(e->name) == e->content_type);
        CHECK(egide_payload_type_for_content_type(e->content_type) == e->name);
        for (size_t j = 0; j < i; j++) {
            CHECK(strcmp(egide_catalogue_type_at(j)->content_type, e->content_type) != 0);
            CHECK(egide_catalogue_type_at(j)->payload != e->payload);
        }
    }
    const egide_catalogue_type_t *t = egide_catalogue_type_find("court.opp");
    REQUIRE(t != NULL);
    CHECK(strcmp(t->content_type, "application/vnd.egide.court-opp+protobuf") == 0);
    CHECK(strcmp(t->payload->name, "egide.v1.Opp") == 0);
    /* Unknown or malformed content types. */
    CHECK(egide_catalogue_type_for_content_type(NULL) == NULL);
    CHECK(egide_catalogue_type_for_content_type("") == NULL);
    CHECK(egide_catalogue_type_for_content_type("application/json") == NULL);
    CHECK(egide_catalogue_type_for_content_type("application/vnd.egide.court-opp+protobuf ") ==
          NULL);
    CHECK(egide_catalogue_type_for_content_type("APPLICATION/VND.EGIDE.COURT-OPP+PROTOBUF") ==
          NULL);
    CHECK(!egide_payload_type_known("court.op"));
    CHECK(egide_payload_content_type("court.op") == NULL);
    CHECK(egide_payload_type_for_content_type(NULL) == NULL);
}

int main(void)
{
    RUN(test_types);
    RUN(test_roles);
    RUN(test_payload_columns);
    EGIDE_TEST_DONE();
}
