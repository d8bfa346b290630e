/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * bench_http.c - throughput and latency of the local API stack: egide_httpc
 * requests (one connection each, as the CLI does) against an egide_http
 * server with a bearer token on 127.0.0.1, for small GETs and for POSTs of a
 * 16 KiB and a 1 MiB JSON body.  Usage: bench_http [REQUESTS [SLOW]]
 * (default 2000 requests, 0 slow connections).  With SLOW > 0 the same runs
 * are repeated while SLOW slow, unauthenticated connections (a slowloris on
 * 127.0.0.1, one header byte every 100 ms, reopened when the server closes
 * them) are open, and the server's counters are printed after.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "egide/net/egide_http.h"
#include "egide/net/egide_httpc.h"
#include "egide/base/egide_util.h"

#define TOKEN "bench-token-0123456789abcdef0123456789abcdef"

static void s_handler(const egide_http_req_t *req, egide_http_resp_t *resp, void *arg)
{
    (void)arg;
    egide_http_json(resp, 200,
                    json_pack("{s:s, s:I}", "path", req->path, "len", (json_int_t)req->body_len));
}

static void s_run(const char *label, const char *url, const char *method, const char *body,
                  size_t len, int n)
{
    int64_t t0 = egide_mono_ms();
    int ok = 0;
    for (int i = 0; i < n; i++) {
        egide_httpc_resp_t r;
        if (egide_httpc_request(method, url, TOKEN, body ? "application/json" : NULL, body, len, 0,
                                10000, &r) == EGIDE_OK &&
            r.status == 200)
            ok++;
        egide_httpc_resp_free(&r);
    }
    int64_t dt = egide_mono_ms() - t0;
    if (dt <= 0)
        dt = 1;
    printf("%-22s %6d requests (%d ok) in %6lld ms: %8.0f req/s, %7.3f ms/request, %8.1f MB/s\n",
           label, n, ok, (long long)dt, n * 1000.0 / (double)dt, (double)dt / n,
           (double)len * n / 1e6 / ((double)dt / 1000.0));
}

/* ---- the slowloris ---------------------------------------------------- */

#define SLOW_MAX 1000

static atomic_bool s_slow_stop;
static uint16_t s_slow_port;
static int s_slow_n;

static int s_slow_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(s_slow_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void *s_slowloris(void *arg)
{
    (void)arg;
    static const char line[] = "GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    static int fd[SLOW_MAX];
    static size_t pos[SLOW_MAX];
    for (int i = 0; i < s_slow_n; i++)
        fd[i] = s_slow_connect();
    /* Bounded: at most an hour of rounds. */
    for (int round = 0; round < 36000 && !atomic_load(&s_slow_stop); round++) {
        for (int i = 0; i < s_slow_n; i++) {
            if (fd[i] < 0) {
                fd[i] = s_slow_connect();
                pos[i] = 0;
                if (fd[i] < 0)
                    continue;
            }
            char c = pos[i] < sizeof line - 1 ? line[pos[i]] : 'a';
            char junk[64];
            if (recv(fd[i], junk, sizeof junk, MSG_DONTWAIT) == 0 ||
                send(fd[i], &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1) {
                close(fd[i]);
                fd[i] = -1;
                continue;
            }
            pos[i]++;
        }
        usleep(100 * 1000);
    }
    for (int i = 0; i < s_slow_n; i++)
        if (fd[i] >= 0)
            close(fd[i]);
    return NULL;
}

static void s_run_all(const char *url, char *body, size_t big, size_t small, int n)
{
    s_run("GET (no body)", url, "GET", NULL, 0, n);
    body[small - 1] = '}';
    s_run("POST 16 KiB", url, "POST", body, small, n);
    body[small - 1] = ' ';
    s_run("POST 1 MiB", url, "POST", body, big, n / 10 > 0 ? n / 10 : 1);
}

int main(int argc, char **argv)
{
    int n = 2000;
    if (argc > 1) {
        int64_t v;
        if (egide_parse_int64(argv[1], 1, 1000000, &v)) {
            fprintf(stderr, "usage: bench_http [REQUESTS]\n");
            return 2;
        }
        n = (int)v;
    }
    if (argc > 2) {
        int64_t v;
        if (egide_parse_int64(argv[2], 0, SLOW_MAX, &v)) {
            fprintf(stderr, "usage: bench_http [REQUESTS [SLOW (0..%d)]]\n", SLOW_MAX);
            return 2;
        }
        s_slow_n = (int)v;
    }
    egide_http_config_t cfg = {.bind_addr = "127.0.0.1", .token = TOKEN, .max_body = 2u << 20};
    egide_http_t *h = NULL;
    if (egide_http_start(&cfg, s_handler, NULL, &h) != EGIDE_OK) {
        fprintf(stderr, "cannot start the server\n");
        return 1;
    }
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/messages", (unsigned)egide_http_port(h));

    size_t big = 1u << 20, small = 16u * 1024u;
    char *body = malloc(big + 1);
    if (!body)
        return 1;
    memset(body, ' ', big);
    body[0] = '{';
    body[big - 1] = '}';
    body[big] = '\0';
    s_run_all(url, body, big, small, n);
    if (s_slow_n > 0) {
        s_slow_port = egide_http_port(h);
        pthread_t th;
        if (pthread_create(&th, NULL, s_slowloris, NULL) == 0) {
            sleep(2); /* all connected and old enough to be evicted */
            printf("-- with %d slow connections open:\n", s_slow_n);
            s_run_all(url, body, big, small, n);
            atomic_store(&s_slow_stop, true);
            pthread_join(th, NULL);
            egide_http_stats_t st;
            egide_http_stats(h, &st);
            printf("server: %llu accepted, %llu closed past the header deadline, %llu evicted, "
                   "%llu refused busy, %u open\n",
                   (unsigned long long)st.accepted, (unsigned long long)st.header_expired,
                   (unsigned long long)st.evicted, (unsigned long long)st.refused_busy, st.open);
        }
    }
    free(body);
    egide_http_stop(&h);
    return 0;
}
