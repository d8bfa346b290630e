/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_edge_api_pool.c - the edge's REST API as edge_api_start() serves it
 * ([api] threads = 4): GET /v1/health and reads of the outbox are answered
 * while a write is provably still in progress (it waits for api_lock,
 * which the test holds), and the write is answered once the lock is
 * given back.  With [api] threads = 1 the server runs as before (one
 * request at a time, no read-only handles).
 *
 * No timing is measured: "in progress" is the server's own count of
 * requests handed to a worker and not yet answered (egide_http_stats),
 * and the write cannot finish while the lock is held.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "edge.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/net/egide_httpc.h"
#include "egide_test.h"

#define TOKEN "0123456789abcdef0123456789abcdef-edge-pool"

static char s_dir[64];
static edge_t E;

/* The [api] keys edge_api_start() reads (edge_config_schema lives in the
 * daemon's main, which tests do not link). */
#define K(s, n, t, def)                                                                            \
    {                                                                                              \
        s, n, t, false, 0, 0x7fffffff, def, NULL, ""                                               \
    }
static const egide_config_key_t s_schema[] = {
    K("api", "bind", EGIDE_CFG_STRING, "127.0.0.1"),
    K("api", "port", EGIDE_CFG_INT, "0"),
    K("api", "token_file", EGIDE_CFG_PATH, NULL),
    K("api", "metrics_public", EGIDE_CFG_BOOL, "false"),
    K("api", "allow_non_loopback", EGIDE_CFG_BOOL, "false"),
    K("api", "max_body_bytes", EGIDE_CFG_INT, "1048576"),
    K("api", "threads", EGIDE_CFG_INT, "4"),
    EGIDE_CONFIG_END,
};
#undef K

static void s_quiet(egide_log_level level, const char *line, void *arg)
{
    (void)level, (void)line, (void)arg;
}

/* A bare edge: a node id, a store, a config with the [api] section; no
 * keys (the routes used here need none). */
static egide_rc s_start(unsigned threads)
{
    memset(&E, 0, sizeof E);
    pthread_mutex_init(&E.dir_lock, NULL);
    pthread_mutex_init(&E.api_lock, NULL);
    pthread_mutex_init(&E.batch_lock, NULL);
    pthread_cond_init(&E.batch_cond, NULL);
    E.wake[0] = E.wake[1] = -1;
    egide_strlcpy(E.node_id, "71.crip", sizeof E.node_id);
    char tok[128], db[128], cfg[2048], err[256];
    snprintf(tok, sizeof tok, "%s/token", s_dir);
    snprintf(db, sizeof db, "%s/edge-%u.db", s_dir, threads);
    int fd = open(tok, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, TOKEN "\n", strlen(TOKEN) + 1) < 0) {
        if (fd >= 0)
            close(fd);
        return EGIDE_ERR_IO;
    }
    close(fd);
    snprintf(cfg, sizeof cfg, "[api]\nport = 0\ntoken_file = %s\nthreads = %u\n", tok, threads);
    egide_rc rc = egide_config_load_string("test", cfg, s_schema, &E.cfg, err, sizeof err);
    if (rc) {
        fprintf(stderr, "config: %s\n", err);
        return rc;
    }
    E.db_path = strdup(db);
    /* The loop's handle creates and migrates the store, as edge_init does. */
    rc = edge_store_sqlite_ops.open(db, &E.store);
    return rc ? rc : edge_api_start(&E);
}

static void s_stop(void)
{
    edge_api_stop(&E);
    edge_store_close(&E.store);
    egide_config_destroy(&E.cfg);
    free(E.db_path);
    pthread_mutex_destroy(&E.dir_lock);
    pthread_mutex_destroy(&E.api_lock);
    pthread_cond_destroy(&E.batch_cond);
    pthread_mutex_destroy(&E.batch_lock);
}

static int s_get(const char *path, json_t **body)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", (unsigned)egide_http_port(E.http), path);
    egide_httpc_resp_t r;
    int status = 0;
    if (egide_httpc_request("GET", url, TOKEN, NULL, NULL, 0, 0, 20000, &r) == EGIDE_OK)
        status = r.status;
    if (body)
        *body = status && r.body ? json_loadb(r.body, r.body_len, 0, NULL) : NULL;
    if (status)
        egide_httpc_resp_free(&r);
    return status;
}

/* A write request sent from a thread of its own. */
typedef struct s_post {
    pthread_t t;
    int status;
} s_post_t;

static void *s_post_main(void *arg)
{
    s_post_t *p = arg;
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/messages/%032d/ack",
             (unsigned)egide_http_port(E.http), 0);
    egide_httpc_resp_t r;
    if (egide_httpc_request("POST", url, TOKEN, "application/json", "{}", 2, 0, 20000, &r) ==
        EGIDE_OK) {
        p->status = r.status;
        egide_httpc_resp_free(&r);
    }
    return NULL;
}

/* Wait until the server has handed `queued` requests to its workers and
 * answered `answered` of them (bounded); false if it never does. */
static bool s_wait_stats(uint64_t queued, uint64_t answered)
{
    egide_http_stats_t st = {0};
    for (int i = 0; i < 2000; i++) {
        egide_http_stats(E.http, &st);
        if (st.queued >= queued && st.answered >= answered)
            return true;
        usleep(10000);
    }
    return false;
}

static void test_health_during_write(void)
{
    REQUIRE(s_start(4) == EGIDE_OK);
    CHECK(E.n_api_readers == 5); /* the pool's 4 and the express worker */
    json_t *b = NULL;
    CHECK(s_get("/v1/health", &b) == 200);
    CHECK_STREQ(json_string_value(json_object_get(b, "node")), "71.crip");
    json_decref(b);

    /* The write waits for api_lock, held here: it is in progress until
     * the lock is given back. */
    pthread_mutex_lock(&E.api_lock);
    s_post_t p = {0};
    REQUIRE(pthread_create(&p.t, NULL, s_post_main, &p) == 0);
    CHECK(s_wait_stats(2, 1)); /* health answered, the write handed to a worker */
    /* Reads go on meanwhile, on the workers' read-only handles. */
    CHECK(s_get("/v1/health", &b) == 200);
    json_decref(b);
    CHECK(s_get("/v1/messages?box=outbox&limit=5", &b) == 200);
    CHECK(json_array_size(json_object_get(b, "messages")) == 0);
    CHECK(json_object_get(b, "next") == NULL);
    json_decref(b);
    egide_http_stats_t st;
    egide_http_stats(E.http, &st);
    CHECK(st.queued == 4);
    CHECK(st.answered == 3); /* all but the write */
    CHECK(p.status == 0);    /* not answered: it cannot be while the lock is held */
    pthread_mutex_unlock(&E.api_lock);
    pthread_join(p.t, NULL);
    CHECK(p.status == 404); /* no such received message */
    s_stop();
}

/* threads = 1: no read-only handles, every request on the HTTP thread. */
static void test_single_thread(void)
{
    REQUIRE(s_start(1) == EGIDE_OK);
    CHECK(E.api_readers == NULL);
    CHECK(s_get("/v1/health", NULL) == 200);
    egide_http_stats_t st;
    egide_http_stats(E.http, &st);
    CHECK(st.queued == 0);
    s_stop();
}

static bool s_put_inbox(int i)
{
    uint8_t id[16], sha[32];
    memset(id, 0, 16);
    id[0] = 0xE0;
    id[15] = (uint8_t)i;
    memset(sha, i, sizeof sha);
    edge_inbox_msg_t m = {.msg_id = id,
                          .sha256 = sha,
                          .sender_id = "71.n119",
                          .type = "ip.transmission",
                          .created_ms = 1000 + i,
                          .received_ms = 2000 + i,
                          .content_type = "application/x-test",
                          .receipt = (const uint8_t *)"R",
                          .receipt_len = 1};
    edge_inbox_put_result res;
    uint8_t *rc = NULL;
    size_t rl = 0;
    bool ok = edge_store_inbox_put(E.store, &m, &res, &rc, &rl) == EGIDE_OK;
    free(rc);
    return ok;
}

/* Another process (an operator's sqlite3 shell) opening and closing the
 * database while the edge runs must not take itself for the last
 * connection and delete the WAL under the edge's: the workers' read-only
 * handles, opened after, still read every row (egide_db_open once dropped
 * the process's locks by closing a descriptor of the file). */
static void test_external_reader(void)
{
    REQUIRE(s_start(4) == EGIDE_OK);
    for (int i = 0; i < 20; i++)
        CHECK(s_put_inbox(i));
    /* A process of its own (not a fork of this one: SQLite's lock
     * bookkeeping would come along): the sqlite3 shell, as operators and
     * the integration tests use it. */
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, 1);
        execlp("sqlite3", "sqlite3", E.db_path, "SELECT count(*) FROM inbox", (char *)NULL);
        _exit(127);
    }
    int wst = 0;
    CHECK(pid > 0 && waitpid(pid, &wst, 0) == pid && WIFEXITED(wst));
    if (WIFEXITED(wst) && WEXITSTATUS(wst) == 127)
        fprintf(stderr, "(no sqlite3 shell: the external reader was not run)\n");
    for (int i = 20; i < 30; i++)
        CHECK(s_put_inbox(i));
    json_t *b = NULL;
    CHECK(s_get("/v1/search?box=inbox&limit=5", &b) == 200);
    CHECK(json_integer_value(json_object_get(b, "total")) == 30);
    json_decref(b);
    s_stop();
}

int main(void)
{
    egide_log_set_sink(s_quiet, NULL);
    egide_strlcpy(s_dir, "/tmp/egide-test-edge-pool.XXXXXX", sizeof s_dir);
    if (!mkdtemp(s_dir)) {
        fprintf(stderr, "mkdtemp failed\n");
        return 1;
    }
    RUN(test_health_during_write);
    RUN(test_single_thread);
    RUN(test_external_reader);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
    EGIDE_TEST_DONE();
}
