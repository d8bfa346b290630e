/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * bench_http.c - throughput and latency of the local API stack: egide_httpc
 * requests (one connection each, as the CLI does) against an egide_http
 * server with a bearer token on 127.0.0.1, for small GETs and for POSTs of a
 * 16 KiB and a 1 MiB JSON body.  Usage: bench_http [REQUESTS] (default 2000).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    s_run("GET (no body)", url, "GET", NULL, 0, n);
    body[small - 1] = '}';
    s_run("POST 16 KiB", url, "POST", body, small, n);
    body[small - 1] = ' ';
    s_run("POST 1 MiB", url, "POST", body, big, n / 10 > 0 ? n / 10 : 1);
    free(body);
    egide_http_stop(&h);
    return 0;
}
