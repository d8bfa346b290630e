/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_frame.c - every frame builder of egide_frame: the packed bytes unpack
 * (through egide_wire, as a receiver would) to the frame that was asked for;
 * missing arguments are refused; a frame over the size limit is refused.
 */
#include <stdlib.h>
#include <string.h>

#include "egide.pb-c.h"
#include "egide/base/egide_limits.h"
#include "egide/wire/egide_frame.h"
#include "egide/wire/egide_wire.h"
#include "egide_test.h"

/* Unpack a built frame as a receiver does; NULL if it does not pass. */
static Egide__V1__Frame *s_unpack(uint8_t *buf, size_t len)
{
    void *m = NULL;
    egide_rc rc = egide_wire_unpack(EGIDE_WIRE_FRAME, buf, len, &m, NULL);
    free(buf);
    return rc == EGIDE_OK ? m : NULL;
}

static void test_each_builder(void)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    const uint8_t env[] = {1, 2, 3, 4, 5};
    Egide__V1__Frame *f;

    egide_frame_hello_t h = {.node_id = "71.crip",
                             .directory_version = 7,
                             .checkpoint_size = 42,
                             .software = "egide-edge/test"};
    CHECK_RC(egide_frame_hello(9, &h, &buf, &len), EGIDE_OK);
    REQUIRE((f = s_unpack(buf, len)) != NULL);
    CHECK(f->corr_id == 9 && f->body_case == EGIDE__V1__FRAME__BODY_HELLO);
    CHECK_STREQ(f->hello->node_id, "71.crip");
    CHECK(f->hello->inbox_newest.len == 0); /* none held */
    CHECK(f->hello->directory_version == 7 && f->hello->checkpoint_size == 42);
    CHECK_STREQ(f->hello->software, "egide-edge/test");
    egide_wire_free(EGIDE_WIRE_FRAME, f);

    /* The newest inbox message it holds, for redelivery after a restore. */
    const uint8_t newest[16] = {0xa1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0xf0};
    h.inbox_newest = newest;
    CHECK_RC(egide_frame_hello(10, &h, &buf, &len), EGIDE_OK);
    REQUIRE((f = s_unpack(buf, len)) != NULL);
    CHECK(f->hello->inbox_newest.len == 16 && memcmp(f->hello->inbox_newest.data, newest, 16) == 0);
    egide_wire_free(EGIDE_WIRE_FRAME, f);

    CHECK_RC(egide_frame_directory(0, env, sizeof env, &buf, &len), EGIDE_OK);
    REQUIRE((f = s_unpack(buf, len)) != NULL);
    CHECK(f->body_case == EGIDE__V1__FRAME__BODY_DIRECTORY);
    CHECK(f->directory->signed_directory.len == sizeof env &&
          memcmp(f->directory->signed_directory.data, env, sizeof env) == 0);
    egide_wire_free(EGIDE_WIRE_FRAME, f);

    CHECK_RC(egide_frame_submit(3, env, sizeof env, &buf, &len), EGIDE_OK);
    REQUIRE((f = s_unpack(buf, len)) != NULL);
    CHECK(f->body_case == EGIDE__V1__FRAME__BODY_SUBMIT && f->corr_id == 3);
    CHECK(f->submit->envelope.len == sizeof env && memcmp(f->submit->envelope.data, env, 5) == 0);
    egide_wire_free(EGIDE_WIRE_FRAME, f);

    CHECK_RC(egide_frame_deliver(0, env, sizeof env, &buf, &len), EGIDE_OK);
    REQUIRE((f = s_unpack(buf, len)) != NULL);
    CHECK(f->body_case == EGIDE__V1__FRAME__BODY_DELIVER);
    CHECK(f->deliver->envelope.len == sizeof env);
    egide_wire_free(EGIDE_WIRE_FRAME, f);

    CHECK_RC(egide_frame_receipt(4, 77, env, sizeof env, &buf, &len), EGIDE_OK);
    REQUIRE((f = s_unpack(buf, len)) != NULL);
    CHECK(f->body_case == EGIDE__V1__FRAME__BODY_RECEIPT && f->receipt->relay_id == 77);
    CHECK(f->receipt->receipt.len == sizeof env);
    egide_wire_free(EGIDE_WIRE_FRAME, f);

    CHECK_RC(egide_frame_heartbeat(0, 123456789, &buf, &len), EGIDE_OK);
    REQUIRE((f = s_unpack(buf, len)) != NULL);
    CHECK(f->body_case == EGIDE__V1__FRAME__BODY_HEARTBEAT && f->heartbeat->time_ms == 123456789);
    egide_wire_free(EGIDE_WIRE_FRAME, f);

    CHECK_RC(egide_frame_error(5, EGIDE__V1__REASON_CODE__REASON_REPLAY, "seq", &buf, &len),
             EGIDE_OK);
    REQUIRE((f = s_unpack(buf, len)) != NULL);
    CHECK(f->body_case == EGIDE__V1__FRAME__BODY_ERROR);
    CHECK(f->error->code == EGIDE__V1__REASON_CODE__REASON_REPLAY);
    CHECK_STREQ(f->error->detail, "seq");
    egide_wire_free(EGIDE_WIRE_FRAME, f);
    CHECK_RC(egide_frame_error(5, 0, NULL, &buf, &len), EGIDE_OK); /* no detail */
    REQUIRE((f = s_unpack(buf, len)) != NULL);
    CHECK_STREQ(f->error->detail, "");
    egide_wire_free(EGIDE_WIRE_FRAME, f);

    const char note[] = "egide.71.broker/audit\n2\nAAAA\n";
    uint8_t proof[2][32];
    memset(proof[0], 0xaa, 32);
    memset(proof[1], 0xbb, 32);
    CHECK_RC(egide_frame_checkpoint(0, note, strlen(note), 1, (const uint8_t(*)[32])proof, 2, &buf,
                                    &len),
             EGIDE_OK);
    REQUIRE((f = s_unpack(buf, len)) != NULL);
    CHECK(f->body_case == EGIDE__V1__FRAME__BODY_CHECKPOINT);
    CHECK(f->checkpoint->note.len == strlen(note) && f->checkpoint->from_size == 1);
    CHECK(f->checkpoint->n_consistency_proof == 2 &&
          f->checkpoint->consistency_proof[1].len == 32 &&
          f->checkpoint->consistency_proof[1].data[0] == 0xbb);
    egide_wire_free(EGIDE_WIRE_FRAME, f);
    CHECK_RC(egide_frame_checkpoint(0, note, strlen(note), 0, NULL, 0, &buf, &len), EGIDE_OK);
    REQUIRE((f = s_unpack(buf, len)) != NULL);
    CHECK(f->checkpoint->n_consistency_proof == 0 && f->checkpoint->from_size == 0);
    egide_wire_free(EGIDE_WIRE_FRAME, f);

    const uint64_t ids[] = {1, 2, 99};
    CHECK_RC(egide_frame_ack(0, ids, 3, &buf, &len), EGIDE_OK);
    REQUIRE((f = s_unpack(buf, len)) != NULL);
    CHECK(f->body_case == EGIDE__V1__FRAME__BODY_ACK && f->ack->n_ids == 3 && f->ack->ids[2] == 99);
    egide_wire_free(EGIDE_WIRE_FRAME, f);

    CHECK_RC(egide_frame_welcome(8, 1234, &buf, &len), EGIDE_OK);
    REQUIRE((f = s_unpack(buf, len)) != NULL);
    CHECK(f->body_case == EGIDE__V1__FRAME__BODY_WELCOME && f->welcome->last_seq == 1234);
    egide_wire_free(EGIDE_WIRE_FRAME, f);
}

static void test_refusals(void)
{
    uint8_t *buf = (uint8_t *)"sentinel";
    size_t len = 1;
    const uint8_t env[] = {1};
    egide_frame_hello_t nobody = {.node_id = NULL};
    CHECK_RC(egide_frame_hello(0, NULL, &buf, &len), EGIDE_ERR_INVALID);
    CHECK_RC(egide_frame_hello(0, &nobody, &buf, &len), EGIDE_ERR_INVALID);
    egide_frame_hello_t bad = {.node_id = "not a node id!"};
    CHECK_RC(egide_frame_hello(0, &bad, &buf, &len), EGIDE_ERR_PROTO); /* wire's check */
    CHECK(buf == NULL && len == 0);
    CHECK_RC(egide_frame_submit(0, NULL, 3, &buf, &len), EGIDE_ERR_INVALID);
    CHECK_RC(egide_frame_submit(0, env, 0, &buf, &len), EGIDE_ERR_INVALID);
    CHECK_RC(egide_frame_deliver(0, env, 1, NULL, &len), EGIDE_ERR_INVALID);
    CHECK_RC(egide_frame_directory(0, NULL, 0, &buf, &len), EGIDE_ERR_INVALID);
    CHECK_RC(egide_frame_receipt(0, 0, NULL, 0, &buf, &len), EGIDE_ERR_INVALID);
    CHECK_RC(egide_frame_checkpoint(0, NULL, 0, 0, NULL, 0, &buf, &len), EGIDE_ERR_INVALID);
    CHECK_RC(egide_frame_checkpoint(0, "x", 1, 0, NULL, 2, &buf, &len), EGIDE_ERR_INVALID);
    CHECK_RC(egide_frame_ack(0, NULL, 0, &buf, &len), EGIDE_ERR_INVALID);
    CHECK_RC(egide_frame_welcome(0, 1, &buf, NULL), EGIDE_ERR_INVALID);
    /* Over the Frame limit: refused before anything is sent. */
    size_t big = EGIDE_MAX_FRAME + 1;
    uint8_t *huge = calloc(1, big);
    REQUIRE(huge != NULL);
    CHECK_RC(egide_frame_deliver(0, huge, big, &buf, &len), EGIDE_ERR_LIMIT);
    CHECK(buf == NULL);
    free(huge);
}

int main(void)
{
    RUN(test_each_builder);
    RUN(test_refusals);
    EGIDE_TEST_DONE();
}
