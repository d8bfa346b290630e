/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * bench_payload.c - throughput of the domain library on the 119 sample
 * (deploy/samples/snated-cluny.json): JSON -> validated protobuf, protobuf
 * -> JSON, strict check of a received protobuf, deadline computation and
 * keyed pseudonyms.  Usage: bench_payload [ITERATIONS] (default 20000);
 * needs EGIDE_SOURCE_DIR or runs from the source tree's parent paths.
 * Never run as a test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egide/domain/egide_deadline.h"
#include "egide/domain/egide_payload.h"
#include "egide/domain/egide_pseudo.h"
#include "egide/base/egide_util.h"

#define NOW 1795341600000LL

static void s_report(const char *what, int n, int64_t t0)
{
    double ms = (double)(egide_mono_ms() - t0);
    printf("%-34s %8d ops  %9.1f ms  %10.0f ops/s\n", what, n, ms, ms > 0 ? n * 1000.0 / ms : 0.0);
}

int main(int argc, char **argv)
{
    int64_t iters = 20000;
    if (argc > 1 && egide_parse_int64(argv[1], 1, 100000000, &iters) != EGIDE_OK) {
        fprintf(stderr, "usage: %s [ITERATIONS]\n", argv[0]);
        return 2;
    }
    const char *src = getenv("EGIDE_SOURCE_DIR") ? getenv("EGIDE_SOURCE_DIR") : EGIDE_SOURCE_DIR;
    char path[1024];
    snprintf(path, sizeof path, "%s/deploy/samples/snated-cluny.json", src);
    uint8_t *json;
    size_t len;
    if (egide_file_read(path, 1u << 20, &json, &len) != EGIDE_OK) {
        fprintf(stderr, "%s: cannot read\n", path);
        return 1;
    }
    int n = (int)iters;
    uint8_t *pb = NULL;
    size_t pb_len = 0;
    egide_payload_facts_t f;
    int64_t t0 = egide_mono_ms();
    for (int i = 0; i < n; i++) {
        free(pb);
        if (egide_payload_from_json("snated.transmission", (char *)json, len, NOW, &pb, &pb_len, &f,
                                    NULL) != EGIDE_OK)
            return 1;
    }
    s_report("json -> validated protobuf", n, t0);
    printf("  (%zu bytes of JSON -> %zu bytes of protobuf)\n", len, pb_len);
    t0 = egide_mono_ms();
    for (int i = 0; i < n; i++) {
        char *out = NULL;
        if (egide_payload_to_json("snated.transmission", pb, pb_len, &out) != EGIDE_OK)
            return 1;
        free(out);
    }
    s_report("protobuf -> json", n, t0);
    t0 = egide_mono_ms();
    for (int i = 0; i < n; i++)
        if (egide_payload_check("snated.transmission", pb, pb_len, NOW, &f, NULL) != EGIDE_OK)
            return 1;
    s_report("check received protobuf", n, t0);

    snprintf(path, sizeof path, "%s/deploy/profiles/fr-casf.ini", src);
    egide_deadline_profile_t *prof = NULL;
    char err[256];
    if (egide_deadline_profile_load(path, &prof, err, sizeof err) != EGIDE_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    egide_deadline_t d[EGIDE_DEADLINE_PER_MSG];
    size_t nd;
    t0 = egide_mono_ms();
    for (int i = 0; i < n; i++)
        egide_deadline_compute(prof, "snated.transmission", "m", f.received_ms, &f, d, 8, &nd);
    s_report("deadline compute", n, t0);
    egide_deadline_profile_destroy(&prof);

    uint8_t key[32] = {1};
    char out[65];
    t0 = egide_mono_ms();
    for (int i = 0; i < n; i++)
        egide_pseudo_compute(NULL, key, sizeof key, "olinpe", "Marie-Hélène", 2016, 5,
                             "Inventé-Dupont", out);
    s_report("pseudonym (normalise + 2 HMAC)", n, t0);
    free(pb);
    free(json);
    return 0;
}
