/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * bench_edge_submit.c - submit latency through an edge's REST API, as a
 * service's case software submits: POST /v1/messages with a bearer token,
 * one request per connection (egide_httpc), THREADS clients.
 *
 *   bench_edge_submit URL TOKEN_FILE BODY_FILE RATE SECONDS [THREADS]
 *
 * RATE 0: closed loop, every client as fast as it is answered (the peak).
 * RATE > 0: open loop, request i due at start + i / RATE whoever sends it,
 * its latency counted from when it was due (a client that falls behind
 * counts the wait: no coordinated omission).  Prints the requests answered
 * 202, the rate, p50 / p99 / max latency in ms, and any other answer.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "egide/base/egide_util.h"
#include "egide/net/egide_httpc.h"

#define MAX_REQ 1000000

static const char *s_url, *s_token;
static char *s_body;
static size_t s_body_len;
static double s_rate;
static int64_t s_t0_us, s_end_us;
static atomic_long s_next, s_ok, s_bad;
static int64_t *s_lat;

static int64_t s_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void s_sleep_until(int64_t t_us)
{
    int64_t d = t_us - s_us();
    if (d <= 0)
        return;
    struct timespec ts = {(time_t)(d / 1000000), (long)(d % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void *s_client(void *arg)
{
    (void)arg;
    for (;;) {
        long i = atomic_fetch_add(&s_next, 1);
        if (i >= MAX_REQ)
            return NULL;
        int64_t due = s_rate > 0 ? s_t0_us + (int64_t)((double)i * 1e6 / s_rate) : s_us();
        if (due >= s_end_us)
            return NULL;
        s_sleep_until(due);
        egide_httpc_resp_t r;
        egide_rc rc = egide_httpc_request("POST", s_url, s_token, "application/json", s_body,
                                          s_body_len, 0, 30000, &r);
        int64_t t = s_us();
        if (rc == EGIDE_OK && r.status == 202) {
            long k = atomic_fetch_add(&s_ok, 1);
            s_lat[k] = t - due;
        } else {
            if (atomic_fetch_add(&s_bad, 1) < 5)
                fprintf(stderr, "bench_edge_submit: %s %ld %.200s\n", egide_strerror(rc), r.status,
                        r.body ? r.body : r.error);
        }
        egide_httpc_resp_free(&r);
    }
}

static int s_cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static char *s_read(const char *p, size_t *len)
{
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = '\0';
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr,
                "usage: bench_edge_submit URL TOKEN_FILE BODY_FILE RATE SECONDS [THREADS]\n");
        return 2;
    }
    int64_t rate = 0, secs = 0, threads = 16;
    if (egide_parse_int64(argv[4], 0, 100000, &rate) ||
        egide_parse_int64(argv[5], 1, 3600, &secs) ||
        (argc > 6 && egide_parse_int64(argv[6], 1, 256, &threads))) {
        fprintf(stderr, "bench_edge_submit: RATE 0..100000, SECONDS 1..3600, THREADS 1..256\n");
        return 2;
    }
    size_t tl = 0;
    char *token = s_read(argv[2], &tl);
    s_body = s_read(argv[3], &s_body_len);
    if (!token || !s_body) {
        fprintf(stderr, "bench_edge_submit: cannot read the token or the body\n");
        return 1;
    }
    while (tl && (token[tl - 1] == '\n' || token[tl - 1] == '\r'))
        token[--tl] = '\0';
    s_url = argv[1];
    s_token = token;
    s_rate = (double)rate;
    s_lat = calloc(MAX_REQ, sizeof *s_lat);
    pthread_t th[256];
    s_t0_us = s_us();
    s_end_us = s_t0_us + secs * 1000000;
    for (int i = 0; i < threads; i++)
        pthread_create(&th[i], NULL, s_client, NULL);
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    double el = (double)(s_us() - s_t0_us) / 1e6;
    long n = atomic_load(&s_ok);
    qsort(s_lat, (size_t)n, sizeof *s_lat, s_cmp64);
    printf("submits=%ld other=%ld seconds=%.1f rate=%.0f/s p50=%.1fms p99=%.1fms max=%.1fms "
           "(%s, %lld clients)\n",
           n, atomic_load(&s_bad), el, (double)n / el, n ? (double)s_lat[n / 2] / 1e3 : 0.0,
           n ? (double)s_lat[(n * 99) / 100] / 1e3 : 0.0, n ? (double)s_lat[n - 1] / 1e3 : 0.0,
           rate ? "open loop" : "closed loop", (long long)threads);
    free(s_lat);
    free(s_body);
    free(token);
    return atomic_load(&s_bad) ? 1 : 0;
}
