/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_cli_api.c - the real `egide` send/inbox/outbox/show/ack/status
 * commands ($EGIDE_BIN/egide) against a fake edge API started here with
 * egide_http.  The fake edge records each request (method, path, query,
 * token, JSON body) and answers with a canned response, so the tests check
 * both what the command sends and how it prints what it gets back: the JSON
 * built from --to/--commune/--file, 422 details, one-line errors and exit
 * codes, --json pass-through, configuration files and token permissions.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "egide/base/egide_token.h"
#include "egide/domain/egide_payload.h"
#include "egide/net/egide_http.h"
#include "egide/net/egide_httpc.h"
#include "egide/base/egide_util.h"
#include "egide_test.h"

#define ID1 "0123456789abcdef0123456789abcdef"
#define ID2 "fedcba9876543210fedcba9876543210"

static pthread_mutex_t s_mu = PTHREAD_MUTEX_INITIALIZER;
/* What the fake edge last received. */
static struct {
    int count;
    char method[16];
    char path[256];
    char query[256];
    char auth[16];
    char *body;
} s_got;
/* What it answers next. */
static int s_status = 200;
static const char *s_answer = "{}";

static char s_dir[64];       /* temp dir: HOME, token files, payloads */
static char s_bin[512];      /* the egide binary */
static char s_api[64];       /* http://127.0.0.1:PORT */
static char s_tok[256];      /* good token file */
static char *s_token;        /* its content */
static const char *s_stdin;  /* file the next command reads as stdin (else /dev/null) */
static const char *s_stdout; /* where the next command writes stdout (else a temp file) */

static void s_handler(const egide_http_req_t *req, egide_http_resp_t *resp, void *arg)
{
    (void)arg;
    pthread_mutex_lock(&s_mu);
    s_got.count++;
    egide_strlcpy(s_got.method, req->method, sizeof s_got.method);
    egide_strlcpy(s_got.path, req->path, sizeof s_got.path);
    egide_strlcpy(s_got.query, req->query, sizeof s_got.query);
    egide_strlcpy(s_got.auth, req->authenticated_as ? req->authenticated_as : "public",
                  sizeof s_got.auth);
    free(s_got.body);
    s_got.body = malloc(req->body_len + 1);
    if (s_got.body)
        memcpy(s_got.body, req->body, req->body_len + 1);
    egide_http_text(resp, s_status, "application/json", s_answer);
    pthread_mutex_unlock(&s_mu);
}

static void s_expect(int status, const char *answer)
{
    pthread_mutex_lock(&s_mu);
    s_status = status;
    s_answer = answer;
    s_got.count = 0;
    s_got.method[0] = s_got.path[0] = s_got.query[0] = s_got.auth[0] = '\0';
    free(s_got.body);
    s_got.body = NULL;
    pthread_mutex_unlock(&s_mu);
}

static char *s_slurp(const char *path)
{
    uint8_t *d = NULL;
    size_t n = 0;
    if (egide_file_read(path, 1 << 20, &d, &n) != EGIDE_OK)
        return calloc(1, 1);
    return (char *)d;
}

/* Run egide with args (NULL-terminated, without argv[0]).  env_config, when
 * not NULL, is put in EGIDE_CONFIG.  Returns the exit status (-1 if it did
 * not exit by itself within 30 s); *out and *err get stdout and stderr. */
static int s_run(const char *const *args, const char *env_config, char **out, char **err)
{
    char fo[128], fe[128];
    snprintf(fo, sizeof fo, "%s/stdout", s_dir);
    snprintf(fe, sizeof fe, "%s/stderr", s_dir);
    const char *argv[32];
    size_t n = 0;
    argv[n++] = s_bin;
    for (size_t i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int o = open(s_stdout ? s_stdout : fo, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(fe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int in = open(s_stdin ? s_stdin : "/dev/null", O_RDONLY);
        if (o < 0 || e < 0 || in < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0 || dup2(in, 0) < 0)
            _exit(127);
        setenv("HOME", s_dir, 1);
        setenv("TZ", "UTC", 0); /* UTC unless a test set a zone */
        if (env_config)
            setenv("EGIDE_CONFIG", env_config, 1);
        else
            unsetenv("EGIDE_CONFIG");
        execv(s_bin, (char *const *)argv);
        _exit(127);
    }
    int st = 0, code = -1;
    for (int i = 0; i < 3000; i++) { /* at most 30 s */
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) {
            code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
            break;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (code == -1 && waitpid(pid, &st, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    *out = s_slurp(fo);
    *err = s_slurp(fe);
    return code;
}

static int s_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static json_t *s_got_json(void)
{
    pthread_mutex_lock(&s_mu);
    json_t *o = s_got.body ? json_loads(s_got.body, 0, NULL) : NULL;
    pthread_mutex_unlock(&s_mu);
    return o;
}

static void s_write(const char *name, const char *text, unsigned mode, char *path, size_t psz)
{
    snprintf(path, psz, "%s/%s", s_dir, name);
    egide_file_write_atomic(path, text, strlen(text), mode);
}

static const char *s_accepted = "{\"id\":\"" ID1 "\",\"state\":\"queued\",\"recipients\":"
                                "[\"71.crip\",\"71.tas.cluny-tournus\"]}";

static void test_send_to(void)
{
    char payload[256];
    s_write("p.json", "{\"children\":[{\"first_name\":\"Zoé\",\"birth_date\":\"2019-03-02\"}]}",
            0600, payload, sizeof payload);
    s_expect(202, s_accepted);
    char *out, *err;
    const char *a[] = {"send",
                       "--type",
                       "snated.transmission",
                       "--to",
                       "71.crip",
                       "--to=71.tas.cluny-tournus",
                       "--file",
                       payload,
                       "--urgency",
                       "urgent",
                       "--in-reply-to",
                       ID2,
                       "--api",
                       s_api,
                       "--token-file",
                       s_tok,
                       NULL};
    CHECK(s_run(a, NULL, &out, &err) == 0);
    CHECK_STREQ(err, "");
    CHECK(strncmp(out, ID1 "\n", 33) == 0);
    CHECK(strstr(out, "71.crip 71.tas.cluny-tournus") != NULL);
    CHECK(strstr(out, "queued") != NULL);
    CHECK_STREQ(s_got.method, "POST");
    CHECK_STREQ(s_got.path, "/v1/messages");
    CHECK_STREQ(s_got.auth, "token");
    json_t *b = s_got_json();
    REQUIRE(b != NULL);
    CHECK_STREQ(json_string_value(json_object_get(b, "type")), "snated.transmission");
    json_t *to = json_object_get(b, "to");
    CHECK(json_array_size(to) == 2);
    CHECK_STREQ(json_string_value(json_array_get(to, 0)), "71.crip");
    CHECK_STREQ(json_string_value(json_array_get(to, 1)), "71.tas.cluny-tournus");
    CHECK(json_object_get(b, "commune") == NULL);
    CHECK_STREQ(json_string_value(json_object_get(b, "urgency")), "urgent");
    CHECK_STREQ(json_string_value(json_object_get(b, "in_reply_to")), ID2);
    json_t *p = json_object_get(b, "payload");
    CHECK(json_is_object(p));
    CHECK_STREQ(json_string_value(json_object_get(json_array_get(json_object_get(p, "children"), 0),
                                                  "first_name")),
                "Zoé");
    json_decref(b);
    free(out);
    free(err);
}

static void test_send_commune_json(void)
{
    char payload[256];
    s_write("p2.json", "{\"a\":1}", 0600, payload, sizeof payload);
    s_expect(202, s_accepted);
    char *out, *err;
    const char *a[] = {
        "send",  "--type", "snated.transmission", "--commune", "71137", "--file", payload, "--json",
        "--api", s_api,    "--token-file",        s_tok,       NULL};
    CHECK(s_run(a, NULL, &out, &err) == 0);
    /* --json: the server's JSON as it came. */
    CHECK(strncmp(out, s_accepted, strlen(s_accepted)) == 0);
    CHECK_STREQ(out + strlen(s_accepted), "\n");
    json_t *b = s_got_json();
    REQUIRE(b != NULL);
    CHECK_STREQ(json_string_value(json_object_get(b, "commune")), "71137");
    CHECK(json_object_get(b, "to") == NULL);
    CHECK(json_object_get(b, "urgency") == NULL);
    CHECK(json_object_get(b, "in_reply_to") == NULL);
    CHECK(json_integer_value(json_object_get(json_object_get(b, "payload"), "a")) == 1);
    json_decref(b);
    free(out);
    free(err);

    /* --file - reads stdin. */
    s_write("p2.json", "{\"from_stdin\":true}", 0600, payload, sizeof payload);
    s_expect(202, s_accepted);
    const char *d[] = {"send", "--type", "t",   "--to",         "71.crip", "--file",
                       "-",    "--api",  s_api, "--token-file", s_tok,     NULL};
    s_stdin = payload;
    CHECK(s_run(d, NULL, &out, &err) == 0);
    s_stdin = NULL;
    b = s_got_json();
    CHECK(json_is_true(json_object_get(json_object_get(b, "payload"), "from_stdin")));
    json_decref(b);
    free(out);
    free(err);
    s_stdin = "/dev/null"; /* empty stdin: not JSON */
    CHECK(s_run(d, NULL, &out, &err) == 1);
    s_stdin = NULL;
    CHECK(strstr(err, "egide: send: (stdin): not valid JSON") == err);
    free(out);
    free(err);

    /* Opaque bytes with --content-type go as payload_b64. */
    s_write("p.bin", "%PDF-1.4 x", 0600, payload, sizeof payload);
    s_expect(202, s_accepted);
    const char *c[] = {"send",
                       "--type",
                       "snated.transmission",
                       "--to",
                       "71.crip",
                       "--file",
                       payload,
                       "--content-type",
                       "application/pdf",
                       "--api",
                       s_api,
                       "--token-file",
                       s_tok,
                       NULL};
    CHECK(s_run(c, NULL, &out, &err) == 0);
    b = s_got_json();
    CHECK_STREQ(json_string_value(json_object_get(b, "payload_b64")), "JVBERi0xLjQgeA==");
    CHECK_STREQ(json_string_value(json_object_get(b, "content_type")), "application/pdf");
    CHECK(json_object_get(b, "payload") == NULL);
    json_decref(b);
    free(out);
    free(err);
}

static void test_send_refusals(void)
{
    char payload[256], bad[256], arr[256];
    s_write("p3.json", "{\"a\":1}", 0600, payload, sizeof payload);
    s_write("bad.json", "{\"a\":", 0600, bad, sizeof bad);
    s_write("arr.json", "[1,2]", 0600, arr, sizeof arr);
    char *out, *err;
    s_expect(202, s_accepted);
    /* Usage errors: exit 2, one line, nothing sent. */
    const char *a1[] = {"send",   "--type", "t",     "--to", "71.crip",      "--commune", "71137",
                        "--file", payload,  "--api", s_api,  "--token-file", s_tok,       NULL};
    CHECK(s_run(a1, NULL, &out, &err) == 2);
    CHECK(strstr(err, "egide: send: --to and --commune are exclusive") == err);
    CHECK(s_lines(err) == 1);
    free(out);
    free(err);
    const char *a2[] = {"send", "--type", "t", "--to", "71.crip", "--api", s_api, NULL};
    CHECK(s_run(a2, NULL, &out, &err) == 2);
    CHECK(strstr(err, "--file") != NULL);
    free(out);
    free(err);
    const char *a3[] = {"send",   "--type", "t",         "--to", "71.crip",
                        "--file", payload,  "--urgency", "asap", NULL};
    CHECK(s_run(a3, NULL, &out, &err) == 2);
    CHECK(strstr(err, "egide: send: --urgency") == err);
    free(out);
    free(err);
    const char *a4[] = {"send",  "--type",        "t",         "--to", "71.crip", "--file",
                        payload, "--in-reply-to", "../../etc", NULL};
    CHECK(s_run(a4, NULL, &out, &err) == 2);
    free(out);
    free(err);
    const char *a5[] = {"send",   "--type", "t",       "--to", "71.crip",
                        "--file", payload,  "--bogus", NULL};
    CHECK(s_run(a5, NULL, &out, &err) == 2);
    CHECK(strstr(err, "unknown argument '--bogus'") != NULL);
    free(out);
    free(err);
    /* Bad payload files: exit 1, naming the file, nothing sent. */
    const char *a6[] = {"send", "--type", "t",   "--to",         "71.crip", "--file",
                        bad,    "--api",  s_api, "--token-file", s_tok,     NULL};
    CHECK(s_run(a6, NULL, &out, &err) == 1);
    CHECK(strstr(err, "egide: send: ") == err && strstr(err, "bad.json: not valid JSON"));
    free(out);
    free(err);
    const char *a7[] = {"send", "--type", "t",   "--to",         "71.crip", "--file",
                        arr,    "--api",  s_api, "--token-file", s_tok,     NULL};
    CHECK(s_run(a7, NULL, &out, &err) == 1);
    CHECK(strstr(err, "must be a JSON object") != NULL);
    free(out);
    free(err);
    const char *a8[] = {
        "send", "--type",       "t",   "--to", "71.crip", "--file", "/nonexistent/p.json", "--api",
        s_api,  "--token-file", s_tok, NULL};
    CHECK(s_run(a8, NULL, &out, &err) == 1);
    CHECK(strstr(err, "/nonexistent/p.json: cannot read") != NULL);
    free(out);
    free(err);
    CHECK(s_got.count == 0);
}

/* Issue 11 item 3: --override-reason travels as the request's
 * routing_override; without --to or --commune the edge routes by the
 * payload; bad reasons are usage errors and nothing is sent; the edge's
 * mismatch refusal is shown as it came. */
static void test_send_override(void)
{
    char payload[256];
    s_write("p5.json", "{\"a\":1}", 0600, payload, sizeof payload);
    static const char accepted[] =
        "{\"id\":\"00112233445566778899aabbccddeeff\",\"state\":\"queued\","
        "\"recipients\":[\"71.crip\",\"71.tas.macon\"],\"routing_override\":{\"reason\":\"r\"}}";
    s_expect(202, accepted);
    char *out, *err;
    const char *a[] = {"send",
                       "--type",
                       "ip.transmission",
                       "--commune",
                       "71270",
                       "--override-reason",
                       "Enfant suivi par le TAS de Mâcon",
                       "--file",
                       payload,
                       "--api",
                       s_api,
                       "--token-file",
                       s_tok,
                       NULL};
    CHECK(s_run(a, NULL, &out, &err) == 0);
    CHECK(strstr(out, "routing override: recorded") != NULL);
    json_t *b = s_got_json();
    REQUIRE(b != NULL);
    CHECK_STREQ(json_string_value(json_object_get(b, "commune")), "71270");
    CHECK_STREQ(
        json_string_value(json_object_get(json_object_get(b, "routing_override"), "reason")),
        "Enfant suivi par le TAS de Mâcon");
    json_decref(b);
    free(out);
    free(err);

    /* Neither --to nor --commune: the edge routes by the children's commune. */
    s_expect(202, s_accepted);
    const char *n[] = {"send",  "--type", "ip.transmission", "--file", payload,
                       "--api", s_api,    "--token-file",    s_tok,    NULL};
    CHECK(s_run(n, NULL, &out, &err) == 0);
    b = s_got_json();
    REQUIRE(b != NULL);
    CHECK(json_object_get(b, "commune") == NULL && json_object_get(b, "to") == NULL);
    CHECK(json_object_get(b, "routing_override") == NULL);
    json_decref(b);
    free(out);
    free(err);

    /* Bad reasons and --to: exit 2, one line, nothing sent. */
    int before = s_got.count;
    char longr[EGIDE_PAYLOAD_OVERRIDE_REASON_MAX + 2];
    memset(longr, 'x', sizeof longr - 1);
    longr[sizeof longr - 1] = '\0';
    static const char *const want[] = {"must not be empty", "longer than 300 bytes",
                                       "control or formatting", "control or formatting",
                                       "not with --to"};
    const char *reasons[] = {"", longr, "a\nb", "a\x1b[2Jb", "fine"};
    for (size_t i = 0; i < 5; i++) {
        const char *c[] = {"send",
                           "--type",
                           "ip.transmission",
                           i == 4 ? "--to" : "--commune",
                           i == 4 ? "71.crip" : "71270",
                           "--override-reason",
                           reasons[i],
                           "--file",
                           payload,
                           "--api",
                           s_api,
                           "--token-file",
                           s_tok,
                           NULL};
        CHECK(s_run(c, NULL, &out, &err) == 2);
        CHECK(strstr(err, "egide: send: --override-reason") == err && strstr(err, want[i]));
        CHECK(s_lines(err) == 1);
        free(out);
        free(err);
    }
    CHECK(s_got.count == before);

    /* The edge's refusal, naming both communes, reaches the user. */
    s_expect(422, "{\"type\":\"https://egide.fr/problems/routing-refused\",\"title\":"
                  "\"Routing refused\",\"status\":422,\"detail\":\"routing mismatch: "
                  "commune 71270 given for routing is not a commune of the payload's children "
                  "(71137)\",\"code\":\"routing-refused\"}");
    const char *m[] = {"send",   "--type", "ip.transmission", "--commune", "71270",
                       "--file", payload,  "--api",           s_api,       "--token-file",
                       s_tok,    NULL};
    CHECK(s_run(m, NULL, &out, &err) == 1);
    CHECK(strstr(err, "422 routing mismatch: commune 71270") && strstr(err, "(71137)"));
    CHECK(strstr(err, "(71137) [routing-refused]\n") != NULL); /* the code, after the detail */
    free(out);
    free(err);
}

static void test_send_422(void)
{
    char payload[256];
    s_write("p4.json", "{\"children\":[{},{\"birth_date\":\"x\"}]}", 0600, payload, sizeof payload);
    static const char body[] =
        "{\"type\":\"https://egide.fr/problems/payload-invalid\",\"title\":\"Payload invalid\","
        "\"status\":422,\"detail\":\"payload invalid\",\"code\":\"payload-invalid\","
        "\"errors\":[\"children[1].birth_date: not a date\",\"children[0].first_name: "
        "missing\"]}";
    s_expect(422, body);
    char *out, *err;
    const char *a[] = {
        "send",  "--type", "snated.transmission", "--to", "71.crip", "--file", payload,
        "--api", s_api,    "--token-file",        s_tok,  NULL};
    CHECK(s_run(a, NULL, &out, &err) == 1);
    CHECK_STREQ(err, "egide: send: 422 payload invalid [payload-invalid]: children[1].birth_date: "
                     "not a date\n"
                     "egide: send: 422 payload invalid [payload-invalid]: children[0].first_name: "
                     "missing\n");
    CHECK_STREQ(out, "");
    free(out);
    free(err);
    /* With --json the error body also goes to stdout for machines. */
    const char *b[] = {
        "send",  "--type", "snated.transmission", "--to", "71.crip", "--file", payload,
        "--api", s_api,    "--token-file",        s_tok,  "--json",  NULL};
    CHECK(s_run(b, NULL, &out, &err) == 1);
    CHECK(strncmp(out, body, strlen(body)) == 0);
    CHECK_STREQ(out + strlen(body), "\n");
    CHECK(s_lines(err) == 2);
    free(out);
    free(err);
    /* An error without details: one line with status and message. */
    s_expect(409, "{\"type\":\"https://egide.fr/problems/conflict\",\"title\":\"Conflict\","
                  "\"status\":409,\"detail\":\"idempotency_key: already used\","
                  "\"code\":\"conflict\"}");
    CHECK(s_run(a, NULL, &out, &err) == 1);
    CHECK_STREQ(err, "egide: send: 409 idempotency_key: already used [conflict]\n");
    free(out);
    free(err);
    /* The old envelope is not a problem: shown as the raw body. */
    s_expect(409, "{\"error\":{\"message\":\"x\"}}");
    CHECK(s_run(a, NULL, &out, &err) == 1);
    CHECK_STREQ(err, "egide: send: HTTP 409 from the edge API: {\"error\":{\"message\":\"x\"}}\n");
    free(out);
    free(err);
    /* A non-JSON error body. */
    s_expect(502, "Bad Gateway");
    CHECK(s_run(a, NULL, &out, &err) == 1);
    CHECK_STREQ(err, "egide: send: HTTP 502 from the edge API: Bad Gateway\n");
    free(out);
    free(err);
}

static void test_unreachable_and_token(void)
{
    /* A port that was free a moment ago. */
    egide_http_config_t cfg = {.bind_addr = "127.0.0.1"};
    egide_http_t *h = NULL;
    REQUIRE(egide_http_start(&cfg, s_handler, NULL, &h) == EGIDE_OK);
    char dead[64];
    snprintf(dead, sizeof dead, "http://127.0.0.1:%u", (unsigned)egide_http_port(h));
    egide_http_stop(&h);

    char payload[256];
    s_write("p5.json", "{}", 0600, payload, sizeof payload);
    char *out, *err;
    const char *a[] = {"send",  "--type", "t",  "--to",         "71.crip", "--file",
                       payload, "--api",  dead, "--token-file", s_tok,     NULL};
    CHECK(s_run(a, NULL, &out, &err) == 1);
    char want[512];
    snprintf(want, sizeof want,
             "egide: send: edge API unreachable at %s (is egide-edge running?)\n", dead);
    CHECK_STREQ(err, want);
    CHECK_STREQ(out, "");
    free(out);
    free(err);
    const char *s[] = {"status", "--api", dead, NULL};
    CHECK(s_run(s, NULL, &out, &err) == 1);
    CHECK(strstr(err, "egide: status: edge API unreachable at ") == err);
    free(out);
    free(err);

    /* Token file too open: refused before any request. */
    char open_tok[256];
    s_write("open.token", s_token, 0644, open_tok, sizeof open_tok);
    chmod(open_tok, 0644);
    s_expect(200, "{\"status\":\"ok\"}");
    const char *t[] = {"inbox", "--api", s_api, "--token-file", open_tok, NULL};
    CHECK(s_run(t, NULL, &out, &err) == 1);
    snprintf(want, sizeof want, "egide: token: %s: permissions too open (chmod 600)\n", open_tok);
    CHECK_STREQ(err, want);
    CHECK(s_got.count == 0);
    free(out);
    free(err);
    /* Missing token file. */
    const char *t2[] = {"inbox", "--api", s_api, "--token-file", "/nonexistent/tok", NULL};
    CHECK(s_run(t2, NULL, &out, &err) == 1);
    CHECK_STREQ(err, "egide: token: /nonexistent/tok: no such file\n");
    free(out);
    free(err);
    /* No token, then a wrong one: the edge says 401. */
    const char *t3[] = {"inbox", "--api", s_api, NULL};
    CHECK(s_run(t3, NULL, &out, &err) == 1);
    CHECK(strstr(err, "egide: inbox: 401 ") == err && strstr(err, "--token-file"));
    CHECK(s_lines(err) == 1);
    free(out);
    free(err);
    char wrong[256];
    s_write("wrong.token", "ffffffffffffffffffffffffffffffffffffffffffffffff", 0600, wrong,
            sizeof wrong);
    const char *t4[] = {"inbox", "--api", s_api, "--token-file", wrong, NULL};
    CHECK(s_run(t4, NULL, &out, &err) == 1);
    CHECK(strstr(err, "egide: inbox: 401 ") == err);
    CHECK(s_got.count == 0); /* the handler never saw either */
    free(out);
    free(err);
}

static void test_lists(void)
{
    static const char outbox[] =
        "{\"messages\":[{\"id\":\"" ID1 "\",\"box\":\"outbox\",\"type\":\"snated.transmission\","
        "\"sender\":\"fr.snated\",\"urgency\":\"urgent\",\"created_ms\":1700000000000,"
        "\"state\":\"delivered\",\"recipients\":[{\"node\":\"71.crip\",\"state\":"
        "\"acknowledged\",\"accepted_ms\":1700000001000,\"delivered_ms\":1700000002000,"
        "\"acknowledged_ms\":1700000003000,\"reason\":null},{\"node\":\"71.tas.cluny-tournus\","
        "\"state\":\"accepted\",\"accepted_ms\":1700000001000}]}]}";
    s_expect(200, outbox);
    char *out, *err;
    const char *a[] = {"outbox", "--state", "delivered",    "--limit", "5",
                       "--api",  s_api,     "--token-file", s_tok,     NULL};
    CHECK(s_run(a, NULL, &out, &err) == 0);
    CHECK_STREQ(s_got.method, "GET");
    CHECK_STREQ(s_got.path, "/v1/messages");
    CHECK_STREQ(s_got.query, "box=outbox&state=delivered&limit=5");
    CHECK(strstr(out, ID1) != NULL);
    CHECK(strstr(out, "snated.transmission") != NULL);
    CHECK(strstr(out, "71.crip=acknowledged 71.tas.cluny-tournus=accepted") != NULL);
    CHECK(strstr(out, "2023-11-14 22:13") != NULL); /* 1700000000 s in UTC */
    CHECK_STREQ(err, "");
    free(out);
    free(err);
    /* Times in the reader's local time, with its zone (a POSIX TZ rule:
     * no tzdata needed). */
    setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
    s_expect(200, outbox);
    CHECK(s_run(a, NULL, &out, &err) == 0);
    CHECK(strstr(out, "2023-11-14 23:13 CET") != NULL);
    unsetenv("TZ");
    free(out);
    free(err);

    /* --json passes the list through. */
    const char *j[] = {"outbox", "--json", "--api", s_api, "--token-file", s_tok, NULL};
    CHECK(s_run(j, NULL, &out, &err) == 0);
    CHECK(strncmp(out, outbox, strlen(outbox)) == 0);
    CHECK_STREQ(s_got.query, "box=outbox");
    free(out);
    free(err);

    /* Inbox: sender column; hostile strings lose their control characters. */
    static const char inbox[] =
        "{\"messages\":[{\"id\":\"" ID2 "\",\"box\":\"inbox\",\"type\":\"evil\\u001b[2J\","
        "\"sender\":\"71.parquet\\r\\nfake line\",\"urgency\":\"normal\",\"created_ms\":"
        "1700000000000,\"state\":\"delivered\"}]}";
    s_expect(200, inbox);
    const char *b[] = {"inbox", "--api", s_api, "--token-file", s_tok, NULL};
    CHECK(s_run(b, NULL, &out, &err) == 0);
    CHECK_STREQ(s_got.query, "box=inbox");
    CHECK(strstr(out, ID2) != NULL);
    CHECK(strstr(out, "71.parquetfake line") != NULL);
    CHECK(strchr(out, 0x1b) == NULL);
    CHECK(strchr(out, '\r') == NULL);
    CHECK(s_lines(out) == 2); /* header + one row */
    free(out);
    free(err);

    s_expect(200, "{\"messages\":[]}");
    CHECK(s_run(b, NULL, &out, &err) == 0);
    CHECK(strstr(out, "no messages") != NULL);
    free(out);
    free(err);

    const char *c[] = {"inbox", "--state", "lost", "--api", s_api, NULL};
    CHECK(s_run(c, NULL, &out, &err) == 2);
    CHECK(strstr(err, "egide: inbox: --state") == err);
    free(out);
    free(err);

    /* The inbox offers the inbox's states only, the limit is the API's. */
    const char *cq[] = {"inbox", "--state", "queued", "--api", s_api, NULL};
    CHECK(s_run(cq, NULL, &out, &err) == 2);
    CHECK(strstr(err, "not one of delivered, acknowledged") != NULL);
    free(out);
    free(err);
    const char *cl[] = {"inbox", "--limit", "10001", "--api", s_api, NULL};
    CHECK(s_run(cl, NULL, &out, &err) == 2);
    CHECK(strstr(err, "--limit: a number from 1 to 10000") != NULL);
    free(out);
    free(err);
    const char *ca[] = {"inbox", "--after", "x&state=1", "--api", s_api, NULL};
    CHECK(s_run(ca, NULL, &out, &err) == 2);
    CHECK(strstr(err, "--after: not a cursor") != NULL);
    free(out);
    free(err);

    /* A page with more after it: the command for the next one, which asks
     * the edge for that cursor. */
    static const char paged[] =
        "{\"messages\":[{\"id\":\"" ID2 "\",\"box\":\"inbox\",\"type\":\"ip.qualification\","
        "\"sender\":\"71.crip\",\"urgency\":\"normal\",\"created_ms\":1700000000000,"
        "\"state\":\"delivered\"}],\"next\":\"i1700000000000.00112233445566778899aabbccddeeff\"}";
    s_expect(200, paged);
    const char *pg[] = {"inbox", "--state",      "delivered", "--api",
                        s_api,   "--token-file", s_tok,       NULL};
    CHECK(s_run(pg, NULL, &out, &err) == 0);
    CHECK(strstr(out, "more: egide inbox --state delivered --after "
                      "i1700000000000.00112233445566778899aabbccddeeff\n") != NULL);
    free(out);
    free(err);
    const char *pn[] = {"inbox", "--after", "i1700000000000.00112233445566778899aabbccddeeff",
                        "--api", s_api,     "--token-file",
                        s_tok,   NULL};
    s_expect(200, "{\"messages\":[]}");
    CHECK(s_run(pn, NULL, &out, &err) == 0);
    CHECK_STREQ(s_got.query, "box=inbox&after=i1700000000000.00112233445566778899aabbccddeeff");
    free(out);
    free(err);

    /* A 200 that is not JSON. */
    s_expect(200, "<html>");
    CHECK(s_run(b, NULL, &out, &err) == 1);
    CHECK(strstr(err, "not a JSON object") != NULL);
    free(out);
    free(err);
}

static void test_show_ack_status(void)
{
    static const char msg[] =
        "{\"id\":\"" ID2 "\",\"box\":\"inbox\",\"type\":\"snated.transmission\",\"sender\":"
        "\"fr.snated\",\"urgency\":\"urgent\",\"created_ms\":1700000000000,\"state\":"
        "\"delivered\",\"receipts\":[{\"kind\":\"ACCEPTED\",\"issuer\":\"71.broker\","
        "\"recipient\":null,\"time_ms\":1700000001000,\"verified\":true},"
        "{\"kind\":\"DELIVERED\",\"issuer\":\"71.crip\","
        "\"recipient\":\"71.crip\",\"time_ms\":1700000002000,\"reason\":\"\",\"verified\":true,"
        "\"audit_leaf_index\":42},{\"kind\":\"EXPIRED\",\"issuer\":\"71.broker\","
        "\"recipient\":\"71.tas.macon\",\"time_ms\":1700000003000,\"verified\":true}],\"content_"
        "type\":\"application/json\",\"payload\":"
        "{\"children\":[{\"first_name\":\"SECRETNAME\"}]}}";
    s_expect(200, msg);
    char *out, *err;
    const char *a[] = {"show", ID2, "--api", s_api, "--token-file", s_tok, NULL};
    CHECK(s_run(a, NULL, &out, &err) == 0);
    CHECK_STREQ(s_got.path, "/v1/messages/" ID2);
    CHECK_STREQ(s_got.method, "GET");
    CHECK(strstr(out, "fr.snated") != NULL);
    CHECK(strstr(out, "DELIVERED") != NULL);
    CHECK(strstr(out, "signature verified") != NULL);
    CHECK(strstr(out, "audit #42") != NULL);
    /* receipts named plainly: who signed, and about whom when another */
    CHECK(strstr(out, "ACCEPTED     signed by 71.broker  ") != NULL);
    CHECK(strstr(out, "DELIVERED    signed by 71.crip  ") != NULL);
    CHECK(strstr(out, "EXPIRED      signed by 71.broker, about 71.tas.macon  ") != NULL);
    CHECK(strstr(out, " -> ") == NULL);
    CHECK(strstr(out, "SECRETNAME") == NULL); /* payload only on request */
    CHECK(strstr(out, "--payload") != NULL);
    free(out);
    free(err);
    const char *b[] = {"show", ID2, "--payload", "--api", s_api, "--token-file", s_tok, NULL};
    CHECK(s_run(b, NULL, &out, &err) == 0);
    CHECK(strstr(out, "SECRETNAME") != NULL);
    CHECK(strstr(out, "\n  \"children\": [") != NULL); /* pretty-printed */
    free(out);
    free(err);
    char saved[256];
    snprintf(saved, sizeof saved, "%s/saved.json", s_dir);
    const char *c[] = {"show", ID2, "--out", saved, "--api", s_api, "--token-file", s_tok, NULL};
    CHECK(s_run(c, NULL, &out, &err) == 0);
    struct stat st;
    CHECK(stat(saved, &st) == 0 && (st.st_mode & 0777) == 0600);
    char *sv = s_slurp(saved);
    CHECK(strstr(sv, "SECRETNAME") != NULL);
    free(sv);
    unlink(saved);
    free(out);
    free(err);

    /* Unknown id: "no message ID". */
    s_expect(404, "{\"type\":\"https://egide.fr/problems/not-found\",\"title\":\"Not found\","
                  "\"status\":404,\"detail\":\"no such message\",\"code\":\"not-found\"}");
    const char *d[] = {"show", ID1, "--api", s_api, "--token-file", s_tok, NULL};
    CHECK(s_run(d, NULL, &out, &err) == 1);
    CHECK_STREQ(err, "egide: show: no message " ID1 "\n");
    free(out);
    free(err);
    /* Not an id: refused locally (and never put in a URL). */
    s_expect(200, "{}");
    const char *e[] = {"show", "../health", "--api", s_api, NULL};
    CHECK(s_run(e, NULL, &out, &err) == 2);
    CHECK(s_got.count == 0);
    free(out);
    free(err);

    /* ack with a note. */
    s_expect(200, "{\"id\":\"" ID2 "\",\"state\":\"acknowledged\"}");
    const char *f[] = {"ack",          ID2,   "--note", "pris en charge", "--api", s_api,
                       "--token-file", s_tok, NULL};
    CHECK(s_run(f, NULL, &out, &err) == 0);
    CHECK_STREQ(s_got.method, "POST");
    CHECK_STREQ(s_got.path, "/v1/messages/" ID2 "/ack");
    json_t *o = s_got_json();
    CHECK_STREQ(json_string_value(json_object_get(o, "note")), "pris en charge");
    json_decref(o);
    CHECK_STREQ(out, ID2 " acknowledged\n");
    free(out);
    free(err);
    const char *g[] = {"ack", ID2, "--api", s_api, "--token-file", s_tok, NULL};
    CHECK(s_run(g, NULL, &out, &err) == 0);
    CHECK(s_got.body != NULL && s_got.body[0] == '\0');
    free(out);
    free(err);

    /* status: public route, works without a token too. */
    static const char health[] = "{\"status\":\"ok\",\"node\":\"71.crip\",\"broker\":"
                                 "\"connected\",\"directory_version\":7,\"outbox_pending\":2,"
                                 "\"inbox\":5}";
    s_expect(200, health);
    const char *h[] = {"status", "--api", s_api, NULL};
    CHECK(s_run(h, NULL, &out, &err) == 0);
    CHECK_STREQ(s_got.path, "/v1/health");
    CHECK_STREQ(s_got.auth, "public");
    CHECK(strstr(out, "71.crip") != NULL);
    CHECK(strstr(out, "connected") != NULL);
    CHECK(strstr(out, "directory version 7") != NULL);
    free(out);
    free(err);
    /* Output that cannot be written is a failure, not a silent success. */
    if (access("/dev/full", W_OK) == 0) {
        s_stdout = "/dev/full";
        CHECK(s_run(h, NULL, &out, &err) == 1);
        s_stdout = NULL;
        CHECK_STREQ(err, "egide: status: cannot write the output\n");
        free(out);
        free(err);
    }
    const char *hj[] = {"status", "--json", "--api", s_api, NULL};
    CHECK(s_run(hj, NULL, &out, &err) == 0);
    CHECK(strncmp(out, health, strlen(health)) == 0);
    free(out);
    free(err);
    s_expect(200, "{\"status\":\"degraded\",\"node\":\"71.crip\"}");
    CHECK(s_run(h, NULL, &out, &err) == 1);
    CHECK(strstr(err, "egide: status: the edge reports status 'degraded'") == err);
    free(out);
    free(err);
}

static void test_config_files(void)
{
    char cfg[256], text[1024];
    /* Relative token_file: relative to the config file's directory. */
    snprintf(text, sizeof text, "[api]\nurl = %s/\ntoken_file = good.token\n[audit]\nx = y\n",
             s_api);
    s_write("cli.ini", text, 0600, cfg, sizeof cfg);
    s_expect(200, "{\"messages\":[]}");
    char *out, *err;
    const char *a[] = {"inbox", "--config", cfg, NULL};
    CHECK(s_run(a, NULL, &out, &err) == 0);
    CHECK_STREQ(s_got.auth, "token");
    CHECK_STREQ(s_got.path, "/v1/messages");
    free(out);
    free(err);
    /* $EGIDE_CONFIG. */
    s_expect(200, "{\"messages\":[]}");
    const char *b[] = {"inbox", NULL};
    CHECK(s_run(b, cfg, &out, &err) == 0);
    CHECK(s_got.count == 1);
    free(out);
    free(err);
    /* ~/.config/egide/cli.ini (HOME is the temp dir). */
    char d1[256], d2[256], home_cfg[300];
    snprintf(d1, sizeof d1, "%s/.config", s_dir);
    snprintf(d2, sizeof d2, "%s/.config/egide", s_dir);
    mkdir(d1, 0700);
    mkdir(d2, 0700);
    snprintf(home_cfg, sizeof home_cfg, "%s/cli.ini", d2);
    snprintf(text, sizeof text, "[api]\nurl = %s\ntoken_file = %s\n", s_api, s_tok);
    egide_file_write_atomic(home_cfg, text, strlen(text), 0600);
    s_expect(200, "{\"messages\":[]}");
    CHECK(s_run(b, NULL, &out, &err) == 0);
    CHECK_STREQ(s_got.auth, "token");
    free(out);
    free(err);
    /* The command line wins over the file. */
    const char *c[] = {"inbox", "--api", "http://127.0.0.1:1", NULL};
    CHECK(s_run(c, NULL, &out, &err) == 1);
    CHECK(strstr(err, "unreachable at http://127.0.0.1:1 ") != NULL);
    free(out);
    free(err);
    unlink(home_cfg);
    rmdir(d2);
    rmdir(d1);
    /* Errors: unknown key, missing file. */
    s_write("bad.ini", "[api]\nurl = http://127.0.0.1:9\ntokenfile = x\n", 0600, cfg, sizeof cfg);
    CHECK(s_run(a, NULL, &out, &err) == 1);
    char want[400];
    snprintf(want, sizeof want, "egide: config: %s:3: unknown key 'tokenfile' in [api]\n", cfg);
    CHECK_STREQ(err, want);
    free(out);
    free(err);
    const char *e[] = {"inbox", "--config", "/nonexistent/cli.ini", NULL};
    CHECK(s_run(e, NULL, &out, &err) == 1);
    CHECK_STREQ(err, "egide: config: /nonexistent/cli.ini: cannot open\n");
    free(out);
    free(err);
    const char *f[] = {"inbox", "--api", "ftp://127.0.0.1/", NULL};
    CHECK(s_run(f, NULL, &out, &err) == 1);
    CHECK(strstr(err, "not an http:// or https:// URL") != NULL);
    free(out);
    free(err);
}

/* `egide deadlines` talks to the edge like every other command: --config
 * (and $EGIDE_CONFIG) give the URL and the token, the command line wins,
 * and --type keeps it offline. */
static void test_deadlines_config(void)
{
    static const char list[] =
        "{\"obligations\":[{\"start_msg\":\"" ID1 "\",\"start_type\":\"snated.transmission\","
        "\"name\":\"evaluation\",\"label\":\"\u00c9valuation (3 mois)\",\"due_ms\":"
        "1797840840000,\"state\":\"open\",\"source\":\"L226-3\"}],\"next\":null,"
        "\"total\":1}";
    char cfg[256], bad[256], text[512];
    snprintf(text, sizeof text, "[api]\nurl = %s\ntoken_file = good.token\n", s_api);
    s_write("dl.ini", text, 0600, cfg, sizeof cfg);
    s_expect(200, list);
    char *out, *err;
    const char *a[] = {"deadlines", "--config", cfg, NULL};
    CHECK(s_run(a, NULL, &out, &err) == 0);
    CHECK_STREQ(err, "");
    CHECK_STREQ(s_got.method, "GET");
    CHECK_STREQ(s_got.path, "/v1/deadlines");
    CHECK_STREQ(s_got.auth, "token"); /* the token named by the file */
    CHECK(strstr(out, "evaluation") != NULL);
    CHECK(strstr(out, "snated.transmission") != NULL);
    CHECK(strstr(out, "Évaluation (3 mois) [L226-3]") != NULL);
    CHECK(strstr(out, "shown") == NULL);            /* one page, nothing more */
    CHECK(strstr(out, "2026-12-21 08:14") != NULL); /* due_ms in UTC (s_run's default) */
    free(out);
    free(err);
    /* The due time in the reader's local time, with its zone. */
    setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
    s_expect(200, list);
    CHECK(s_run(a, NULL, &out, &err) == 0);
    CHECK(strstr(out, "2026-12-21 09:14 CET") != NULL);
    CHECK(strstr(out, "08:14") == NULL);
    unsetenv("TZ");
    free(out);
    free(err);
    /* A page with more after it says so, with the cursor. */
    static const char paged[] =
        "{\"obligations\":[{\"start_msg\":\"" ID1 "\",\"name\":\"evaluation\","
        "\"due_ms\":1797840840000,\"state\":\"open\"}],\"next\":\"1797840840000.7\","
        "\"total\":501}";
    s_expect(200, paged);
    CHECK(s_run(a, NULL, &out, &err) == 0);
    CHECK(
        strstr(out, "(1 of 501 open obligations shown: GET /v1/deadlines?after=1797840840000.7") !=
        NULL);
    free(out);
    free(err);
    /* An answer of the old shape is refused, not shown empty. */
    s_expect(200, "{\"deadlines\":[]}");
    CHECK(s_run(a, NULL, &out, &err) != 0);
    CHECK(strstr(err, "not a {\"obligations\": [...]} answer") != NULL);
    free(out);
    free(err);
    s_expect(200, list);
    /* --json: the edge's answer as it came. */
    const char *b[] = {"deadlines", "--config", cfg, "--json", NULL};
    CHECK(s_run(b, NULL, &out, &err) == 0);
    CHECK(strncmp(out, list, strlen(list)) == 0);
    free(out);
    free(err);
    /* $EGIDE_CONFIG, with no option at all. */
    s_expect(200, list);
    const char *c[] = {"deadlines", NULL};
    CHECK(s_run(c, cfg, &out, &err) == 0);
    CHECK(s_got.count == 1);
    CHECK_STREQ(s_got.auth, "token");
    free(out);
    free(err);
    /* The command line wins over the file. */
    const char *d[] = {"deadlines", "--config", cfg, "--api", "http://127.0.0.1:1", NULL};
    CHECK(s_run(d, NULL, &out, &err) == 1);
    CHECK(strstr(err, "unreachable at http://127.0.0.1:1 ") != NULL);
    CHECK(s_lines(err) == 1);
    free(out);
    free(err);
    /* A mistake in the file: its file:line, nothing sent. */
    s_write("dl-bad.ini", "[api]\nurl = http://127.0.0.1:9\ncolour = blue\n", 0600, bad,
            sizeof bad);
    s_expect(200, list);
    const char *e[] = {"deadlines", "--config", bad, NULL};
    CHECK(s_run(e, NULL, &out, &err) == 1);
    char want[400];
    snprintf(want, sizeof want, "egide: config: %s:3: unknown key 'colour' in [api]\n", bad);
    CHECK_STREQ(err, want);
    CHECK(s_got.count == 0);
    free(out);
    free(err);
    /* Offline (--type) and the edge's options do not mix: a usage error. */
    const char *f[] = {"deadlines",  "--type",     "ip.transmission",
                       "--received", "2026-01-05", "--config",
                       cfg,          NULL};
    CHECK(s_run(f, NULL, &out, &err) == 2);
    CHECK(strstr(err, "egide: deadlines: --type computes deadlines offline") == err);
    CHECK(s_got.count == 0);
    free(out);
    free(err);
    /* A missing value is a one-line usage error. */
    const char *g[] = {"deadlines", "--config", NULL};
    CHECK(s_run(g, NULL, &out, &err) == 2);
    CHECK_STREQ(err, "egide: deadlines: --config needs a value (--config FILE)\n");
    free(out);
    free(err);
}

int main(void)
{
    unsetenv("TZ"); /* the CLI runs in UTC unless a test sets a zone (s_run) */
    const char *bin = getenv("EGIDE_BIN");
    if (!bin) {
        fprintf(stderr, "EGIDE_BIN is not set\n");
        return 1;
    }
    snprintf(s_bin, sizeof s_bin, "%s/egide", bin);
    if (access(s_bin, X_OK) != 0) {
        fprintf(stderr, "%s: not found\n", s_bin);
        return 1;
    }
    snprintf(s_dir, sizeof s_dir, "/tmp/egide-test-cli-XXXXXX");
    if (!mkdtemp(s_dir))
        return 1;
    snprintf(s_tok, sizeof s_tok, "%s/good.token", s_dir);
    if (egide_token_generate(s_tok) || egide_token_load(s_tok, &s_token))
        return 1;

    const char *pub[] = {"/v1/health", NULL};
    egide_http_config_t cfg = {.bind_addr = "127.0.0.1", .token = s_token, .public_paths = pub};
    egide_http_t *h = NULL;
    if (egide_http_start(&cfg, s_handler, NULL, &h) != EGIDE_OK)
        return 1;
    snprintf(s_api, sizeof s_api, "http://127.0.0.1:%u", (unsigned)egide_http_port(h));

    RUN(test_send_to);
    RUN(test_send_commune_json);
    RUN(test_send_refusals);
    RUN(test_send_422);
    RUN(test_send_override);
    RUN(test_unreachable_and_token);
    RUN(test_lists);
    RUN(test_show_ack_status);
    RUN(test_config_files);
    RUN(test_deadlines_config);

    egide_http_stop(&h);
    egide_token_free(&s_token);
    free(s_got.body);
    /* Clean the temp dir (flat, plus what the tests removed themselves). */
    const char *files[] = {"stdout",  "stderr",     "good.token",  "p.json",   "p2.json",
                           "p.bin",   "p3.json",    "bad.json",    "arr.json", "p4.json",
                           "p5.json", "open.token", "wrong.token", "cli.ini",  "bad.ini",
                           "dl.ini",  "dl-bad.ini", NULL};
    for (size_t i = 0; files[i]; i++) {
        char p[256];
        snprintf(p, sizeof p, "%s/%s", s_dir, files[i]);
        unlink(p);
    }
    if (rmdir(s_dir) != 0)
        fprintf(stderr, "note: %s not empty: %s\n", s_dir, strerror(errno));
    EGIDE_TEST_DONE();
}
