/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fuzz_payload_json.c - fuzz target for the referral payload decoder.
 *
 * Input: optionally a first line "type=NAME\n" choosing the catalogue type,
 * then a JSON document; without the line, one catalogue type is chosen from
 * a hash of the input (trying every type multiplied the cost of each input
 * by the 22 types; a given input still always gets the same type, so a
 * crash replays).  For each accepted payload the invariants are checked (abort
 * on violation): the protobuf converts back to JSON, that JSON is accepted
 * again and serializes to the same bytes, and egide_payload_check() accepts
 * the protobuf.  The raw input is also fed to the protobuf side
 * (egide_payload_to_json / egide_payload_check) as a received payload.
 * Corpus: tests/fuzz/corpus/payload_json/ (the samples and broken variants);
 * dictionary for campaign.sh: tests/fuzz/payload_json.dict (type names, the
 * JSON keys and enum values of proto/referral.proto).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "egide/domain/egide_catalogue.h"
#include "egide/domain/egide_payload.h"

#define NOW 1795341600000LL /* fixed clock: 2026-11-22T10:00:00Z */

static void s_one(const char *type, const char *json, size_t len)
{
    uint8_t *pb = NULL;
    size_t pb_len = 0;
    char *errors = NULL;
    egide_payload_facts_t facts;
    egide_rc rc = egide_payload_from_json(type, json, len, NOW, &pb, &pb_len, &facts, &errors);
    free(errors);
    if (rc != EGIDE_OK)
        return;
    char *back = NULL;
    if (egide_payload_to_json(type, pb, pb_len, &back) != EGIDE_OK)
        abort();
    uint8_t *pb2 = NULL;
    size_t pb2_len = 0;
    if (egide_payload_from_json(type, back, strlen(back), NOW, &pb2, &pb2_len, NULL, NULL) !=
        EGIDE_OK)
        abort();
    if (pb2_len != pb_len || memcmp(pb, pb2, pb_len) != 0)
        abort();
    if (egide_payload_check(type, pb, pb_len, NOW, NULL, NULL) != EGIDE_OK)
        abort();
    free(pb2);
    free(back);
    free(pb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    const char *type = NULL;
    char tbuf[80];
    if (size > 5 && memcmp(p, "type=", 5) == 0) {
        const char *nl = memchr(p, '\n', size);
        if (nl && (size_t)(nl - p - 5) < sizeof tbuf) {
            memcpy(tbuf, p + 5, (size_t)(nl - p - 5));
            tbuf[nl - p - 5] = '\0';
            type = tbuf;
            size -= (size_t)(nl - p) + 1;
            p = nl + 1;
        }
    }
    if (!type) {
        /* FNV-1a over the whole input picks the type. */
        uint32_t h = 2166136261u;
        for (size_t i = 0; i < size; i++)
            h = (h ^ (uint8_t)p[i]) * 16777619u;
        type = egide_catalogue_type_at(h % egide_catalogue_type_count())->name;
    }
    if (egide_payload_type_known(type)) {
        s_one(type, p, size);
        /* The same bytes as a received protobuf payload. */
        char *json = NULL;
        if (egide_payload_to_json(type, (const uint8_t *)p, size, &json) == EGIDE_OK)
            free(json);
        char *errors = NULL;
        (void)egide_payload_check(type, (const uint8_t *)p, size, NOW, NULL, &errors);
        free(errors);
        return 0;
    }
    s_one(type, p, size); /* unknown type: must be refused cleanly */
    return 0;
}
