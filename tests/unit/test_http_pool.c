/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_http_pool.c - egide_http's handler workers (cfg->threads > 1): a
 * request is answered while a slow one is provably still in its handler;
 * an express path is answered while every pool worker is busy; with
 * threads = 1 (the old behaviour) requests are handled one after the
 * other; at stop, what is still queued is answered 503 and every
 * suspended connection is resumed.
 *
 * Nothing here measures time.  Overlap is proven by state the handlers
 * share: the slow handler blocks on a condition until the test releases
 * it, and the fast handler reports how many slow handlers were inside at
 * that moment.  Waits are bounded (they fail the test rather than hang).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "egide/net/egide_http.h"
#include "egide/base/egide_util.h"
#include "egide_test.h"

/* What the handlers share. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int entered;   /* slow handlers that started */
    int inside;    /* slow handlers inside now */
    int done;      /* slow handlers that returned */
    bool released; /* the slow handlers may return */
} S = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, false};

static void s_reset(void)
{
    pthread_mutex_lock(&S.lock);
    S.entered = S.inside = S.done = 0;
    S.released = false;
    pthread_mutex_unlock(&S.lock);
}

/* Wait on S.cond for at most about 20 s in all (bounded: a broken server
 * fails the test instead of hanging it).  Lock held. */
static void s_wait_locked(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 100 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    (void)pthread_cond_timedwait(&S.cond, &S.lock, &ts);
}

/* /slow: in until released.  /fast and /v1/health: how many slow ones are
 * inside and done right now, and which worker answers. */
static void s_handler(const egide_http_req_t *req, egide_http_resp_t *resp, void *arg)
{
    (void)arg;
    if (strcmp(req->path, "/slow") == 0) {
        pthread_mutex_lock(&S.lock);
        S.entered++;
        S.inside++;
        pthread_cond_broadcast(&S.cond);
        for (int i = 0; i < 200 && !S.released; i++)
            s_wait_locked();
        bool ok = S.released;
        S.inside--;
        S.done++;
        pthread_cond_broadcast(&S.cond);
        pthread_mutex_unlock(&S.lock);
        egide_http_json(resp, ok ? 200 : 500, json_pack("{s:b}", "released", ok));
        return;
    }
    pthread_mutex_lock(&S.lock);
    int inside = S.inside, done = S.done;
    pthread_mutex_unlock(&S.lock);
    egide_http_json(resp, 200,
                    json_pack("{s:i, s:i, s:i}", "inside", inside, "done", done, "worker",
                              (int)egide_http_worker()));
}

/* Wait until n slow handlers have entered; false if they never do. */
static bool s_wait_entered(int n)
{
    pthread_mutex_lock(&S.lock);
    for (int i = 0; i < 200 && S.entered < n; i++)
        s_wait_locked();
    bool ok = S.entered >= n;
    pthread_mutex_unlock(&S.lock);
    return ok;
}

static void s_release(void)
{
    pthread_mutex_lock(&S.lock);
    S.released = true;
    pthread_cond_broadcast(&S.cond);
    pthread_mutex_unlock(&S.lock);
}

static egide_http_t *s_start(unsigned threads, const char *const *express)
{
    static const char *const pub[] = {"/v1/health", NULL};
    egide_http_config_t cfg = {
        .bind_addr = "127.0.0.1",
        .public_paths = pub,
        .max_connections = 16,
        .timeout_s = 30,
        .threads = threads,
        .express_paths = express,
    };
    egide_http_t *h = NULL;
    return egide_http_start(&cfg, s_handler, NULL, &h) == EGIDE_OK ? h : NULL;
}

/* Connect and send a whole GET of path asking to close; -1 on error.  The
 * request is in the kernel's buffers when this returns. */
static int s_send_get(uint16_t port, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char req[256];
    int len = snprintf(req, sizeof req,
                       "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        send(fd, req, (size_t)len, MSG_NOSIGNAL) != len) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Read the whole answer on fd (then closed): its status, and its JSON body
 * in *body (the caller's, may be NULL); 0 when nothing came. */
static int s_read_answer(int fd, json_t **body)
{
    if (body)
        *body = NULL;
    if (fd < 0)
        return 0;
    char buf[4096];
    size_t got = 0;
    for (int i = 0; i < 1000 && got + 1 < sizeof buf; i++) {
        ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    close(fd);
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        return 0;
    const char *b = strstr(buf, "\r\n\r\n");
    if (body && b)
        *body = json_loads(b + 4, 0, NULL);
    return status;
}

static int s_int(json_t *o, const char *k)
{
    return (int)json_integer_value(json_object_get(o, k));
}

/* With workers, a request on another connection is answered while a slow
 * one is still inside its handler. */
static void test_pool_overlap(void)
{
    s_reset();
    egide_http_t *h = s_start(4, NULL);
    REQUIRE(h != NULL);
    uint16_t port = egide_http_port(h);
    int slow = s_send_get(port, "/slow");
    CHECK(slow >= 0);
    CHECK(s_wait_entered(1));
    /* Answered now, before the slow one is released: it saw it inside. */
    for (int k = 0; k < 3; k++) {
        json_t *b = NULL;
        CHECK(s_read_answer(s_send_get(port, k ? "/fast" : "/v1/health"), &b) == 200);
        CHECK(s_int(b, "inside") == 1);
        CHECK(s_int(b, "done") == 0);
        CHECK(s_int(b, "worker") >= 0 && s_int(b, "worker") <= 4);
        json_decref(b);
    }
    s_release();
    json_t *b = NULL;
    CHECK(s_read_answer(slow, &b) == 200);
    CHECK(json_is_true(json_object_get(b, "released")));
    json_decref(b);
    egide_http_stats_t st;
    egide_http_stats(h, &st);
    CHECK(st.queued == 4);
    CHECK(st.answered == 4);
    egide_http_stop(&h);
    CHECK(h == NULL);
}

/* Every pool worker busy: an express path is still answered, by the
 * express worker (index = threads). */
static void test_pool_express(void)
{
    s_reset();
    static const char *const express[] = {"/v1/health", NULL};
    egide_http_t *h = s_start(2, express);
    REQUIRE(h != NULL);
    uint16_t port = egide_http_port(h);
    int s1 = s_send_get(port, "/slow"), s2 = s_send_get(port, "/slow");
    CHECK(s_wait_entered(2));
    json_t *b = NULL;
    CHECK(s_read_answer(s_send_get(port, "/v1/health"), &b) == 200);
    CHECK(s_int(b, "inside") == 2);
    CHECK(s_int(b, "done") == 0);
    CHECK(s_int(b, "worker") == 2);
    json_decref(b);
    s_release();
    CHECK(s_read_answer(s1, NULL) == 200);
    CHECK(s_read_answer(s2, NULL) == 200);
    egide_http_stop(&h);
}

/* threads = 1, the old behaviour: the handler runs on the polling thread,
 * so a request sent while a slow one is inside is handled only after it
 * returned. */
static void test_single_thread_serial(void)
{
    s_reset();
    egide_http_t *h = s_start(1, NULL);
    REQUIRE(h != NULL);
    uint16_t port = egide_http_port(h);
    int slow = s_send_get(port, "/slow");
    CHECK(s_wait_entered(1));
    int fast = s_send_get(port, "/fast"); /* sent while the slow one is inside */
    CHECK(fast >= 0);
    s_release();
    json_t *b = NULL;
    CHECK(s_read_answer(fast, &b) == 200);
    CHECK(s_int(b, "inside") == 0);
    CHECK(s_int(b, "done") == 1); /* it ran after the slow one returned */
    CHECK(s_int(b, "worker") == 0);
    json_decref(b);
    CHECK(s_read_answer(slow, NULL) == 200);
    egide_http_stats_t st;
    egide_http_stats(h, &st);
    CHECK(st.queued == 0); /* no workers */
    egide_http_stop(&h);
}

static void *s_stop_thread(void *arg)
{
    egide_http_t **hp = arg;
    egide_http_stop(hp);
    return NULL;
}

/* Stop with both workers busy and a request queued: the running handlers
 * finish (200), the queued request is answered 503 without running, and
 * stop returns with every connection resumed. */
static void test_pool_stop_drains(void)
{
    s_reset();
    egide_http_t *h = s_start(2, NULL);
    REQUIRE(h != NULL);
    uint16_t port = egide_http_port(h);
    int s1 = s_send_get(port, "/slow"), s2 = s_send_get(port, "/slow");
    CHECK(s_wait_entered(2));
    int q = s_send_get(port, "/fast");
    egide_http_stats_t st = {0};
    for (int i = 0; i < 2000 && st.queued < 3; i++) {
        egide_http_stats(h, &st);
        if (st.queued < 3)
            usleep(10000);
    }
    CHECK(st.queued == 3);
    egide_http_t *hs = h;
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, s_stop_thread, &hs) == 0);
    /* Release only once the stop has begun, so the queued one is drained. */
    for (int i = 0; i < 2000 && !st.stopping; i++) {
        egide_http_stats(h, &st);
        if (!st.stopping)
            usleep(10000);
    }
    CHECK(st.stopping);
    s_release();
    json_t *b = NULL;
    CHECK(s_read_answer(q, &b) == 503);
    CHECK_STREQ(json_string_value(json_object_get(b, "code")), "unavailable");
    json_decref(b);
    CHECK(s_read_answer(s1, NULL) == 200);
    CHECK(s_read_answer(s2, NULL) == 200);
    pthread_join(t, NULL);
    CHECK(hs == NULL);
    pthread_mutex_lock(&S.lock);
    CHECK(S.done == 2); /* the queued request never reached the handler */
    pthread_mutex_unlock(&S.lock);
}

/* Bad thread counts: far too many is cut to EGIDE_HTTP_MAX_THREADS and
 * still serves; a stop with nothing running is clean. */
static void test_pool_limits(void)
{
    s_reset();
    s_release();
    egide_http_t *h = s_start(100000, NULL);
    REQUIRE(h != NULL);
    json_t *b = NULL;
    CHECK(s_read_answer(s_send_get(egide_http_port(h), "/fast"), &b) == 200);
    CHECK(s_int(b, "worker") >= 0 && s_int(b, "worker") <= (int)EGIDE_HTTP_MAX_THREADS);
    json_decref(b);
    egide_http_stop(&h);
    egide_http_stop(&h); /* idempotent */
    CHECK(h == NULL);
}

int main(void)
{
    RUN(test_pool_overlap);
    RUN(test_pool_express);
    RUN(test_single_thread_serial);
    RUN(test_pool_stop_drains);
    RUN(test_pool_limits);
    EGIDE_TEST_DONE();
}
