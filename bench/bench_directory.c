/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * bench_directory.c - how fast the directory answers the questions the
 * daemons ask per message, on a real signed directory:
 *   load        verify + parse + validate + index (once per directory version)
 *   check_send  the broker's per-envelope check (sender, type, 2 recipients)
 *   resolve     the sender edge's recipients for a commune (allocates)
 *   by_curve    the ZAP handler's transport-key lookup
 *
 *   deploy/71/make-directory.sh /tmp/d71
 *   build/bench_directory /tmp/d71/directory.bin /tmp/d71/authority/authority.crt
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egide/crypto/egide_crypto.h"
#include "egide/directory/egide_directory.h"
#include "egide/base/egide_limits.h"
#include "egide/base/egide_util.h"

static double s_rate(int64_t t0, long n)
{
    int64_t dt = egide_mono_ms() - t0;
    return dt > 0 ? (double)n * 1000.0 / (double)dt : 0.0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s DIRECTORY.bin AUTHORITY.crt\n", argv[0]);
        return 2;
    }
    X509 *anchor = NULL;
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (egide_cert_load(argv[2], &anchor) != EGIDE_OK ||
        egide_file_read(argv[1], EGIDE_MAX_DIRECTORY, &bytes, &len) != EGIDE_OK) {
        fprintf(stderr, "cannot read the directory or the anchor\n");
        return 1;
    }
    int64_t now = egide_now_ms();
    egide_directory_t *d = NULL;

    /* Cold (the certificate facts cache emptied before each load, as at a
     * daemon's start) and warm (a reload of a directory naming the same
     * certificates), interleaved in rounds. */
    const long n_load = 200, rounds = 4;
    long n_cold = 0, n_warm = 0;
    int64_t ms_cold = 0, ms_warm = 0;
    for (long r = 0; r < rounds * 2; r++) {
        bool cold = r % 2 == 0;
        int64_t t = egide_mono_ms();
        for (long i = 0; i < n_load / rounds; i++) {
            if (cold)
                egide_cert_facts_clear();
            if (egide_directory_load(bytes, len, anchor, 0, now, &d) != EGIDE_OK) {
                fprintf(stderr, "load failed\n");
                return 1;
            }
            if (r + 1 < rounds * 2 || i + 1 < n_load / rounds)
                egide_directory_destroy(&d);
        }
        *(cold ? &ms_cold : &ms_warm) += egide_mono_ms() - t;
        *(cold ? &n_cold : &n_warm) += n_load / rounds;
    }
    double load_rate = ms_cold > 0 ? (double)n_cold * 1000.0 / (double)ms_cold : 0.0;
    double warm_rate = ms_warm > 0 ? (double)n_warm * 1000.0 / (double)ms_warm : 0.0;
    int64_t t0;
    const Egide__V1__Directory *p = egide_directory_pb(d);

    /* check_send over every (rule, commune) pair that resolves */
    const long n_check = 2000000;
    const Egide__V1__RouteEntry *route = p->routes[0];
    char **ids = NULL;
    if (egide_directory_resolve(d, "reporter", "ip.transmission", route->commune, &ids) !=
        EGIDE_OK) {
        fprintf(stderr, "the directory does not route ip.transmission from a reporter\n");
        return 1;
    }
    const char *sender = NULL;
    for (size_t i = 0; i < p->n_nodes && !sender; i++)
        if (strcmp(p->nodes[i]->role, "reporter") == 0)
            sender = p->nodes[i]->id;
    if (!sender) {
        fprintf(stderr, "no reporter node\n");
        return 1;
    }
    const char *rcpt[2] = {ids[0], ids[1] ? ids[1] : ids[0]};
    size_t nr = ids[1] ? 2 : 1;
    int reason;
    long ok = 0;
    t0 = egide_mono_ms();
    for (long i = 0; i < n_check; i++)
        ok +=
            egide_directory_check_send(d, sender, "ip.transmission", rcpt, nr, &reason) == EGIDE_OK;
    double check_rate = s_rate(t0, n_check);
    egide_directory_ids_free(&ids);

    const long n_resolve = 1000000;
    t0 = egide_mono_ms();
    for (long i = 0; i < n_resolve; i++) {
        const char *c = p->routes[(size_t)i % p->n_routes]->commune;
        if (egide_directory_resolve(d, "reporter", "ip.transmission", c, &ids) == EGIDE_OK)
            ok++;
        egide_directory_ids_free(&ids);
    }
    double resolve_rate = s_rate(t0, n_resolve);

    const long n_curve = 2000000;
    t0 = egide_mono_ms();
    for (long i = 0; i < n_curve; i++)
        ok += egide_directory_node_by_curve(
                  d, p->nodes[(size_t)i % p->n_nodes]->curve_public_key) != NULL;
    double curve_rate = s_rate(t0, n_curve);

    printf("directory: department %s version %llu, %zu bytes, %zu nodes, %zu routes, %zu rules\n",
           p->department, (unsigned long long)p->version, len, p->n_nodes, p->n_routes, p->n_rules);
    printf("load (verify+validate+index): %10.0f /s  (%.3f ms each), cold certificate cache\n",
           load_rate, load_rate > 0 ? 1000.0 / load_rate : 0.0);
    printf("load, warm certificate cache: %10.0f /s  (%.3f ms each), %.2fx the cold rate\n",
           warm_rate, warm_rate > 0 ? 1000.0 / warm_rate : 0.0,
           load_rate > 0 ? warm_rate / load_rate : 0.0);
    printf("check_send (2 recipients):    %10.0f /s\n", check_rate);
    printf("resolve (commune -> ids):     %10.0f /s\n", resolve_rate);
    printf("node_by_curve:                %10.0f /s\n", curve_rate);
    printf("(%ld successful calls)\n", ok);
    egide_directory_destroy(&d);
    X509_free(anchor);
    free(bytes);
    return 0;
}
