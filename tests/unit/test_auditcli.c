/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_auditcli.c - `egide audit` end to end: the real `egide` binary talks
 * to egide_auditapi_handle served over HTTP on 127.0.0.1 (libmicrohttpd,
 * in this process), and works offline on export files and broker databases.
 *
 * Shows: prove / history / checkpoint / consistency (with --update) on an
 * honest log; a forked log and a shrunk log caught by `consistency` and by
 * egide_witness_check; a wrong anchor refused; export + verify; changing,
 * deleting or reordering one entry in an export or directly in the SQLite
 * file (triggers dropped) makes `egide audit verify` fail naming the first
 * bad index.  Keys and certificates are made at run time in a mkdtemp dir.
 * Under a pseudo-terminal, export and verify of a 3000-entry log draw their
 * progress line on stderr (and erase it), and never when stderr is a file;
 * stdout and the exit status are the same either way.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pty.h>
#include <stdarg.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "egide/audit/egide_auditapi.h"
#include "egide/audit/egide_auditlog.h"
#include "egide/protocol/egide_checkpoint.h"
#include "egide/store/egide_db.h"
#include "egide/net/egide_httpc.h"
#include "egide/base/egide_util.h"
#include "egide/audit/egide_witness.h"
#include "egide_test.h"

#define ORIGIN "egide.71.broker/audit"

static char s_tmp[128], s_bin[1024], s_api[128];
static EVP_PKEY *s_key, *s_other;
static egide_auditlog_t *volatile s_served;
static char s_out[65536], s_err[8192];

/* ---- HTTP server around the pure handler ---- */

static enum MHD_Result s_qarg(void *cls, enum MHD_ValueKind kind, const char *key,
                              const char *value)
{
    (void)kind;
    char *q = cls;
    size_t l = strlen(q);
    snprintf(q + l, 1024 - l, "%s%s=%s", l ? "&" : "", key, value ? value : "");
    return MHD_YES;
}

static enum MHD_Result s_handler(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **req_cls)
{
    (void)cls;
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)req_cls;
    char q[1024] = "";
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, s_qarg, q);
    char *body = NULL;
    const char *ct = NULL;
    int st = egide_auditapi_handle(s_served, method, url, q[0] ? q : NULL, &body, &ct);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(body ? strlen(body) : 0, body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", ct ? ct : "text/plain");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)st, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- helpers ---- */

static int s_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int s_run(const char *fmt, ...)
{
    char args[2048], cmd[4096], o[256], e[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(o, sizeof o, "%s/out.txt", s_tmp);
    snprintf(e, sizeof e, "%s/err.txt", s_tmp);
    snprintf(cmd, sizeof cmd, "'%s' audit %s >'%s' 2>'%s' </dev/null", s_bin, args, o, e);
    int st = system(cmd);
    s_out[0] = s_err[0] = '\0';
    FILE *f = fopen(o, "r");
    if (f) {
        size_t n = fread(s_out, 1, sizeof s_out - 1, f);
        s_out[n] = '\0';
        fclose(f);
    }
    f = fopen(e, "r");
    if (f) {
        size_t n = fread(s_err, 1, sizeof s_err - 1, f);
        s_err[n] = '\0';
        fclose(f);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Like s_run, with stderr on a new pseudo-terminal (stdout still to a file):
 * s_out gets stdout, s_tty what the command drew on the terminal.  Bounded:
 * gives up (exit -1) after about 60 s. */
static char s_tty[65536];
static int s_run_pty(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int s_run_pty(const char *fmt, ...)
{
    char args[2048], cmd[4096], o[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(o, sizeof o, "%s/out.txt", s_tmp);
    snprintf(cmd, sizeof cmd, "exec '%s' audit %s >'%s' </dev/null", s_bin, args, o);
    s_out[0] = s_tty[0] = '\0';
    int m = -1, sl = -1;
    if (openpty(&m, &sl, NULL, NULL, NULL) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        setsid();
        dup2(sl, STDERR_FILENO);
        close(sl);
        close(m);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(sl);
    size_t got = 0;
    for (int i = 0; i < 600; i++) { /* 600 x 100 ms */
        struct pollfd pf = {.fd = m, .events = POLLIN};
        int pr = poll(&pf, 1, 100);
        if (pr < 0)
            break;
        if (pr == 0)
            continue;
        char buf[4096];
        ssize_t n = read(m, buf, sizeof buf);
        if (n <= 0)
            break; /* EIO: the command exited, the terminal's other side closed */
        size_t k = (size_t)n < sizeof s_tty - 1 - got ? (size_t)n : sizeof s_tty - 1 - got;
        memcpy(s_tty + got, buf, k);
        got += k;
    }
    s_tty[got] = '\0';
    close(m);
    int st = 0;
    pid_t w = 0;
    for (int i = 0; i < 100 && (w = waitpid(pid, &st, WNOHANG)) == 0; i++) /* up to 10 s */
        poll(NULL, 0, 100);
    if (w == 0) {
        kill(pid, SIGKILL); /* the one we started */
        waitpid(pid, &st, 0);
        return -1;
    }
    FILE *f = fopen(o, "r");
    if (f) {
        size_t n = fread(s_out, 1, sizeof s_out - 1, f);
        s_out[n] = '\0';
        fclose(f);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The terminal shows a progress line for label and ends erased: the last
 * thing drawn is "\r", blanks at least as wide as a line, "\r". */
static bool s_progress_shown(const char *label, const char *unit_total)
{
    char want[160];
    snprintf(want, sizeof want, "\regide %s: ", label);
    if (!strstr(s_tty, want) || !strstr(s_tty, unit_total) || !strstr(s_tty, "%)"))
        return false;
    size_t n = strlen(s_tty);
    if (n < 2 || s_tty[n - 1] != '\r')
        return false;
    const char *start = s_tty + n - 1;
    while (start > s_tty && start[-1] == ' ')
        start--;
    size_t blanks = (size_t)(s_tty + n - 1 - start);
    return start > s_tty && start[-1] == '\r' && blanks >= strlen(want) + strlen(unit_total);
}

#define EXPECT_RUN(want, needle_out, needle_err, ...)                                              \
    do {                                                                                           \
        int rc_ = s_run(__VA_ARGS__);                                                              \
        int ok_ = (want) == 0 ? rc_ == 0 : rc_ != 0;                                               \
        if (ok_ && (needle_out) && !strstr(s_out, (needle_out) ? (needle_out) : ""))               \
            ok_ = 0;                                                                               \
        if (ok_ && (needle_err) && !strstr(s_err, (needle_err) ? (needle_err) : ""))               \
            ok_ = 0;                                                                               \
        if (!ok_)                                                                                  \
            fprintf(stderr, "%s:%d: exit %d\n--- stdout:\n%s--- stderr:\n%s\n", __FILE__,          \
                    __LINE__, rc_, s_out, s_err);                                                  \
        CHECK(ok_);                                                                                \
    } while (0)

static int s_write_cert(EVP_PKEY *key, const char *path)
{
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    int ok = x && n && X509_set_version(x, 2) && ASN1_INTEGER_set(X509_get_serialNumber(x), 1) &&
             X509_gmtime_adj(X509_getm_notBefore(x), 0) &&
             X509_gmtime_adj(X509_getm_notAfter(x), 3600) &&
             X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"71.broker",
                                        -1, -1, 0) &&
             X509_set_subject_name(x, n) && X509_set_issuer_name(x, n) && X509_set_pubkey(x, key) &&
             X509_sign(x, key, NULL) > 0;
    FILE *f = ok ? fopen(path, "w") : NULL;
    ok = f && PEM_write_X509(f, x);
    if (f)
        fclose(f);
    X509_NAME_free(n);
    X509_free(x);
    return ok;
}

static void s_msgid(int m, uint8_t id[16])
{
    memset(id, 0, 16);
    id[0] = 0xA0;
    id[15] = (uint8_t)m;
}

/* Append events i..i+n-1 of the standard story (5 events per message);
 * fork != 0 changes the time of every event from index `fork` on. */
static void s_story(egide_auditlog_t *log, int from, int n, int fork)
{
    static char *recips[2] = {"71.crip", "71.tas.macon"};
    for (int i = from; i < from + n; i++) {
        Egide__V1__AuditEvent ev = EGIDE__V1__AUDIT_EVENT__INIT;
        uint8_t id[16], env[32];
        int m = i / 5, step = i % 5;
        s_msgid(m, id);
        memset(env, 0x10 + m, 32);
        ev.version = 1;
        static const Egide__V1__AuditEventType types[5] = {
            EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_SUBMITTED,
            EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_ACCEPTED,
            EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_DELIVERED,
            EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_RECIPIENT_REJECTED,
            EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_ACKNOWLEDGED};
        ev.type = types[step];
        ev.msg_id.data = id;
        ev.msg_id.len = 16;
        ev.envelope_sha256.data = env;
        ev.envelope_sha256.len = 32;
        ev.sender_id = "71.police.macon";
        ev.n_recipient_ids = 2;
        ev.recipient_ids = recips;
        ev.message_type = "ip.transmission";
        ev.node_id = step == 3 ? "71.tas.macon" : step == 1 ? "71.broker" : "71.crip";
        ev.reason = step == 3 ? EGIDE__V1__REASON_CODE__REASON_DECRYPT_FAILED : 0;
        ev.time_ms = 1790000000000LL + i * 60000LL + (fork && i >= fork ? 1 : 0);
        egide_auditlog_append_event(log, &ev, NULL);
    }
}

static egide_auditlog_t *s_newlog(const char *name, sqlite3 **db)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", s_tmp, name);
    egide_auditlog_t *log = NULL;
    if (egide_db_open(path, false, db) != EGIDE_OK || egide_auditlog_open(*db, &log) != EGIDE_OK)
        return NULL;
    return log;
}

static void s_drop_triggers(sqlite3 *db)
{
    const char *t[] = {"audit_leaves", "audit_hashes", "audit_checkpoints", "audit_msg_index"};
    for (int i = 0; i < 4; i++) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "DROP TRIGGER %s_no_update; DROP TRIGGER %s_no_delete; DROP TRIGGER %s_no_replace",
                 t[i], t[i], t[i]);
        sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
}

/* ---- tests ---- */

static void test_online(void)
{
    sqlite3 *dba = NULL, *dbb = NULL, *dbc = NULL;
    egide_auditlog_t *a = s_newlog("a.sqlite", &dba);
    egide_auditlog_t *b = s_newlog("b.sqlite", &dbb);
    egide_auditlog_t *c = s_newlog("c.sqlite", &dbc);
    REQUIRE(a && b && c);
    s_story(a, 0, 12, 0);
    REQUIRE(egide_auditlog_checkpoint(a, ORIGIN, ORIGIN, s_key, NULL) == EGIDE_OK);
    s_served = a;

    /* Fetch and keep the checkpoint of size 12. */
    EXPECT_RUN(0, "\n12\n", NULL, "checkpoint --api %s --anchor %s/broker.pem --out %s/cp12.txt",
               s_api, s_tmp, s_tmp);
    EXPECT_RUN(0, "\"size\": 12", NULL, "checkpoint --api %s --anchor %s/broker.pem --json", s_api,
               s_tmp);
    EXPECT_RUN(1, NULL, "not signed by the anchored key",
               "checkpoint --api %s --anchor %s/other.pem", s_api, s_tmp);
    EXPECT_RUN(1, NULL, "not signed by the anchored key",
               "checkpoint --api %s --anchor %s/broker.pem --origin egide.72.broker/audit", s_api,
               s_tmp);
    EXPECT_RUN(0, "\n12\n", "not checked", "checkpoint --api=%s", s_api);
    /* --config: the [audit] section gives the broker's URL (and the
     * timeout); [api] belongs to the edge commands and is not read here;
     * the command line wins; a mistake in the file is its file:line. */
    char cfg[300], text[600];
    snprintf(cfg, sizeof cfg, "%s/cli.ini", s_tmp);
    snprintf(text, sizeof text,
             "[api]\nurl = http://127.0.0.1:1\n[audit]\nurl = %s\ntimeout_ms = 20000\n", s_api);
    REQUIRE(egide_file_write_atomic(cfg, text, strlen(text), 0600) == EGIDE_OK);
    EXPECT_RUN(0, "\n12\n", NULL, "checkpoint --config %s --anchor %s/broker.pem", cfg, s_tmp);
    EXPECT_RUN(1, NULL, "audit checkpoint", "checkpoint --config %s --api http://127.0.0.1:1", cfg);
    snprintf(text, sizeof text, "[audit]\nurl = %s\nurl = %s\n", s_api, s_api);
    REQUIRE(egide_file_write_atomic(cfg, text, strlen(text), 0600) == EGIDE_OK);
    EXPECT_RUN(1, NULL, "cli.ini:3: duplicate key 'url' (first set on line 2)",
               "checkpoint --config %s", cfg);
    /* verify never talks to the broker: no daemon options there */
    EXPECT_RUN(1, NULL, "unknown option", "verify --config %s", cfg);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cp %s/cp12.txt %s/cp12.keep", s_tmp, s_tmp);
    CHECK(system(cmd) == 0);

    s_story(a, 12, 20, 0);
    REQUIRE(egide_auditlog_checkpoint(a, ORIGIN, ORIGIN, s_key, NULL) == EGIDE_OK);
    s_story(a, 32, 3, 0); /* message 6 is partly after the checkpoint */

    /* Prove and history. */
    EXPECT_RUN(0, "proven: 5 event(s)", NULL,
               "prove a000000000000000000000000000000%d --api %s --anchor %s/broker.pem", 1, s_api,
               s_tmp);
    EXPECT_RUN(0, "not in a checkpoint yet", NULL,
               "prove a0000000000000000000000000000006 --api %s --anchor %s/broker.pem", s_api,
               s_tmp);
    /* The broker's problem: its detail and code. */
    EXPECT_RUN(1, NULL, "answered 404: no audit event for this msg_id [not-found]",
               "prove a00000000000000000000000000000ff --api %s --anchor %s/broker.pem", s_api,
               s_tmp);
    EXPECT_RUN(1, NULL, "--anchor", "prove a0000000000000000000000000000001 --api %s", s_api);
    EXPECT_RUN(1, NULL, "not signed",
               "prove a0000000000000000000000000000001 --api %s --anchor %s/other.pem", s_api,
               s_tmp);
    EXPECT_RUN(1, NULL, "not a message id", "prove a0 --api %s --anchor %s/broker.pem", s_api,
               s_tmp);
    EXPECT_RUN(0, "rejected by recipient 71.tas.macon: REASON_DECRYPT_FAILED", NULL,
               "history a0000000000000000000000000000002 --api %s --anchor %s/broker.pem", s_api,
               s_tmp);
    CHECK(strstr(s_out, "ip.transmission from 71.police.macon to 71.crip, 71.tas.macon"));
    CHECK(strstr(s_out, "submitted by 71.police.macon"));
    CHECK(strstr(s_out, "accepted by the broker"));
    CHECK(strstr(s_out, "delivered to 71.crip"));
    CHECK(strstr(s_out, "acknowledged by 71.crip"));
    EXPECT_RUN(0, "\"type\": \"AUDIT_ACKNOWLEDGED\"", NULL,
               "history a0000000000000000000000000000002 --api %s --json", s_api);

    /* Consistency: 12 -> 30 holds; --update moves the file to 30. */
    EXPECT_RUN(0, "grew from 12 to 32", NULL,
               "consistency --from %s/cp12.txt --api %s --anchor %s/broker.pem", s_tmp, s_api,
               s_tmp);
    EXPECT_RUN(0, "updated", NULL,
               "consistency --from %s/cp12.txt --update --api %s --anchor %s/broker.pem", s_tmp,
               s_api, s_tmp);
    EXPECT_RUN(0, "from 32 to 32", NULL,
               "consistency --from %s/cp12.txt --api %s --anchor %s/broker.pem", s_tmp, s_api,
               s_tmp);

    /* A forked log (entry 9 differs, same key) served in its place. */
    s_story(b, 0, 30, 9);
    REQUIRE(egide_auditlog_checkpoint(b, ORIGIN, ORIGIN, s_key, NULL) == EGIDE_OK);
    s_served = b;
    EXPECT_RUN(1, NULL, "rewritten or forked",
               "consistency --from %s/cp12.keep --api %s --anchor %s/broker.pem", s_tmp, s_api,
               s_tmp);
    /* ... and the edge-side witness function says the same. */
    uint8_t *old = NULL;
    size_t old_len = 0;
    char path[256];
    snprintf(path, sizeof path, "%s/cp12.keep", s_tmp);
    REQUIRE(egide_file_read(path, 4096, &old, &old_len) == EGIDE_OK);
    char *newnote = NULL;
    uint8_t(*p)[32] = NULL;
    size_t pn = 0;
    REQUIRE(egide_auditlog_latest_checkpoint(b, &newnote) == EGIDE_OK);
    REQUIRE(egide_auditlog_consistency(b, 12, 30, &p, &pn) == EGIDE_OK);
    CHECK_RC(egide_witness_check((const char *)old, old_len, newnote, strlen(newnote), ORIGIN,
                                 s_key, (const uint8_t(*)[32])p, pn, NULL),
             EGIDE_ERR_CONSISTENCY);
    free(p);
    free(newnote);
    /* The honest log's proof passes the same function. */
    REQUIRE(egide_auditlog_checkpoint_next(a, 30, NULL, &newnote) == EGIDE_OK);
    REQUIRE(egide_auditlog_consistency(a, 12, 32, &p, &pn) == EGIDE_OK);
    CHECK_RC(egide_witness_check((const char *)old, old_len, newnote, strlen(newnote), ORIGIN,
                                 s_key, (const uint8_t(*)[32])p, pn, NULL),
             EGIDE_OK);
    free(p);
    free(newnote);
    free(old);

    /* A log that shrank. */
    s_story(c, 0, 10, 0);
    REQUIRE(egide_auditlog_checkpoint(c, ORIGIN, ORIGIN, s_key, NULL) == EGIDE_OK);
    s_served = c;
    EXPECT_RUN(1, NULL, "smaller than the trusted checkpoint",
               "consistency --from %s/cp12.keep --api %s --anchor %s/broker.pem", s_tmp, s_api,
               s_tmp);

    /* Export the honest log, verify, tamper with the file. */
    s_served = a;
    EXPECT_RUN(0, "exported 35 entries", NULL, "export --out %s/exp.json --api %s", s_tmp, s_api);
    EXPECT_RUN(0, "verified", NULL, "verify %s/exp.json --anchor %s/broker.pem", s_tmp, s_tmp);
    CHECK(strstr(s_out, "35 entries, 2 signed checkpoints, 7 messages") != NULL);
    EXPECT_RUN(1, NULL, "not signed by the anchored broker key",
               "verify %s/exp.json --anchor %s/other.pem", s_tmp, s_tmp);
    EXPECT_RUN(0, "acknowledged by 71.crip", NULL,
               "history a0000000000000000000000000000003 %s/exp.json", s_tmp);

    snprintf(path, sizeof path, "%s/exp.json", s_tmp);
    json_t *doc = json_load_file(path, 0, NULL);
    REQUIRE(doc != NULL);
    json_t *entries = json_object_get(doc, "entries");
    char f[256];
    /* (1) change entry 7's bytes (leaf_hash kept). */
    json_t *d1 = json_deep_copy(doc);
    json_t *e7 = json_array_get(json_object_get(d1, "entries"), 7);
    json_object_set(e7, "leaf", json_object_get(json_array_get(entries, 8), "leaf"));
    snprintf(f, sizeof f, "%s/t1.json", s_tmp);
    json_dump_file(d1, f, 0);
    EXPECT_RUN(1, NULL, "first bad index 7", "verify %s --anchor %s/broker.pem", f, s_tmp);
    /* (1b) same, with the leaf hash removed: the checkpoint names the range. */
    json_object_del(e7, "leaf_hash");
    json_dump_file(d1, f, 0);
    EXPECT_RUN(1, NULL, "first bad index in [0, 12)", "verify %s --anchor %s/broker.pem", f, s_tmp);
    snprintf(cmd, sizeof cmd, "cp %s %s/t1b.json", f, s_tmp);
    CHECK(system(cmd) == 0);
    json_decref(d1);
    /* (2) delete entry 8. */
    json_t *d2 = json_deep_copy(doc);
    json_array_remove(json_object_get(d2, "entries"), 8);
    json_dump_file(d2, f, 0);
    EXPECT_RUN(1, NULL, "first bad index 8", "verify %s --anchor %s/broker.pem", f, s_tmp);
    json_decref(d2);
    /* (3) reorder entries 20 and 21 (indexes renumbered to look right, each
     * with its recorded leaf hash): only the signed checkpoint of size 32
     * shows it, so the range since the last good checkpoint is named. */
    json_t *d3 = json_deep_copy(doc);
    json_t *arr = json_object_get(d3, "entries");
    json_t *x = json_incref(json_array_get(arr, 20));
    json_array_set(arr, 20, json_array_get(arr, 21));
    json_array_set_new(arr, 21, x);
    json_object_set_new(json_array_get(arr, 20), "index", json_integer(20));
    json_object_set_new(json_array_get(arr, 21), "index", json_integer(21));
    json_dump_file(d3, f, 0);
    EXPECT_RUN(1, NULL, "first bad index in [12, 32)", "verify %s --anchor %s/broker.pem", f,
               s_tmp);
    /* (3b) the same with the leaf hashes left in place: exact index. */
    json_object_set(json_array_get(arr, 20), "leaf_hash",
                    json_object_get(json_array_get(entries, 20), "leaf_hash"));
    json_object_set(json_array_get(arr, 21), "leaf_hash",
                    json_object_get(json_array_get(entries, 21), "leaf_hash"));
    json_dump_file(d3, f, 0);
    EXPECT_RUN(1, NULL, "first bad index 20:", "verify %s --anchor %s/broker.pem", f, s_tmp);
    json_decref(d3);
    json_decref(doc);
    snprintf(f, sizeof f, "%s/none.json", s_tmp);
    EXPECT_RUN(1, NULL, "none.json", "verify %s --anchor %s/broker.pem", f, s_tmp);

    /* The API down. */
    s_served = a;
    EXPECT_RUN(1, NULL, "audit checkpoint", "checkpoint --api http://127.0.0.1:1");

    egide_auditlog_destroy(&a);
    egide_auditlog_destroy(&b);
    egide_auditlog_destroy(&c);
    s_served = NULL;
    egide_db_close(&dba);
    egide_db_close(&dbb);
    egide_db_close(&dbc);
}

/* Tampering directly in the SQLite file, then `egide audit verify --db`. */
static void s_db_case(const char *name, const char *sql, const char *want)
{
    sqlite3 *db = NULL;
    egide_auditlog_t *log = s_newlog(name, &db);
    REQUIRE(log != NULL);
    s_story(log, 0, 20, 0);
    egide_auditlog_checkpoint(log, ORIGIN, ORIGIN, s_key, NULL);
    s_story(log, 20, 20, 0);
    egide_auditlog_checkpoint(log, ORIGIN, ORIGIN, s_key, NULL);
    /* Through SQL the log refuses to change. */
    CHECK(sqlite3_exec(db, "UPDATE audit_leaves SET leaf = x'00' WHERE idx = 3", NULL, NULL,
                       NULL) != SQLITE_OK);
    CHECK(sqlite3_exec(db, "DELETE FROM audit_leaves WHERE idx = 3", NULL, NULL, NULL) !=
          SQLITE_OK);
    egide_auditlog_destroy(&log);
    EXPECT_RUN(0, "verified", NULL, "verify --db %s/%s --anchor %s/broker.pem", s_tmp, name, s_tmp);
    if (sql) {
        s_drop_triggers(db);
        CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
    }
    egide_db_close(&db);
    if (sql)
        EXPECT_RUN(1, NULL, want, "verify --db %s/%s --anchor %s/broker.pem", s_tmp, name, s_tmp);
}

static void test_db_tamper(void)
{
    s_db_case("d1.sqlite",
              "UPDATE audit_leaves SET leaf = (SELECT leaf FROM audit_leaves WHERE idx = 18) "
              "WHERE idx = 17",
              "first bad index 17");
    s_db_case("d2.sqlite", "DELETE FROM audit_leaves WHERE idx = 8", "first bad index 8");
    s_db_case("d3.sqlite",
              "UPDATE audit_leaves SET idx = -1 WHERE idx = 25;"
              "UPDATE audit_leaves SET idx = 25 WHERE idx = 26;"
              "UPDATE audit_leaves SET idx = 26 WHERE idx = -1;",
              "first bad index 25");
    s_db_case("d4.sqlite", "DELETE FROM audit_leaves WHERE idx = 39", "first bad index 39");
    s_db_case("d5.sqlite",
              "UPDATE audit_checkpoints SET note = replace(note, char(10) || '20' || char(10), "
              "char(10) || '19' || char(10))",
              "not signed by the anchored broker key");
    EXPECT_RUN(0, "delivered to 71.crip", NULL,
               "history a0000000000000000000000000000001 --db %s/d1.sqlite", s_tmp);
    EXPECT_RUN(1, NULL, "one of them", "verify --anchor %s/broker.pem", s_tmp);
    EXPECT_RUN(1, NULL, "--anchor", "verify --db %s/d1.sqlite", s_tmp);
    EXPECT_RUN(1, NULL, "unknown option", "verify --bogus");
    /* Hardening #10: a log that no signed checkpoint covers proves nothing
     * and is refused with an anchor (it used to pass, "0 signed
     * checkpoints", exit 0). */
    {
        sqlite3 *db = NULL;
        egide_auditlog_t *log = s_newlog("nocp.sqlite", &db);
        REQUIRE(log != NULL);
        s_story(log, 0, 10, 0);
        egide_auditlog_destroy(&log);
        egide_db_close(&db);
        EXPECT_RUN(1, NULL, "no checkpoint signed by the anchored broker key covers any of the 10",
                   "verify --db %s/nocp.sqlite --anchor %s/broker.pem", s_tmp, s_tmp);
    }
    /* Entries after the last checkpoint are normal (checkpoints are
     * periodic); the report says how far the signed part goes. */
    {
        sqlite3 *db = NULL;
        egide_auditlog_t *log = s_newlog("part.sqlite", &db);
        REQUIRE(log != NULL);
        s_story(log, 0, 20, 0);
        egide_auditlog_checkpoint(log, ORIGIN, ORIGIN, s_key, NULL);
        s_story(log, 20, 10, 0);
        egide_auditlog_destroy(&log);
        egide_db_close(&db);
        EXPECT_RUN(0, "\n20 entries under the latest signed checkpoint\n", NULL,
                   "verify --db %s/part.sqlite --anchor %s/broker.pem", s_tmp, s_tmp);
    }
    EXPECT_RUN(1, NULL, "unknown subcommand", "bogus");
    EXPECT_RUN(0, "history MSGID", NULL, "--help");
}

/* Export and verify of a 3000-entry log: the progress line on a terminal
 * only; the same stdout and exit status with and without it. */
static void test_progress(void)
{
    sqlite3 *db = NULL;
    egide_auditlog_t *log = s_newlog("big.sqlite", &db);
    REQUIRE(log != NULL);
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL); /* one commit, not 3000 */
    s_story(log, 0, 3000, 0);                    /* 256 message ids, reused in turn */
    REQUIRE(egide_auditlog_checkpoint(log, ORIGIN, ORIGIN, s_key, NULL) == EGIDE_OK);
    REQUIRE(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
    REQUIRE(egide_auditlog_size(log) == 3000);
    s_served = log;
    static char plain[65536];
    const char *cmds[][2] = {
        {"export --out %s/big.json --api %s", "audit export"},
        {"verify %s/big.json --anchor %s/broker.pem", "audit verify"},
        {"verify --db %s/big.sqlite --anchor %s/broker.pem", "audit verify"},
    };
    for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
        char args[512];
        const char *second = c == 0 ? s_api : s_tmp;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        snprintf(args, sizeof args, cmds[c][0], s_tmp, second);
#pragma GCC diagnostic pop
        /* stderr a file: no progress, nothing but what the command says */
        EXPECT_RUN(0, c == 0 ? "exported 3000 entries and 1 checkpoints" : "verified", NULL, "%s",
                   args);
        CHECK(c == 0 || strstr(s_out, ": 3000 entries, 1 signed checkpoints, 256 messages\n"));
        CHECK(strchr(s_err, '\r') == NULL && strstr(s_err, "entries (") == NULL);
        CHECK_STREQ(s_err, "");
        snprintf(plain, sizeof plain, "%s", s_out);
        /* stderr a terminal: the line, then erased; stdout the same */
        int rc = s_run_pty("%s", args);
        CHECK(rc == 0);
        CHECK_STREQ(s_out, plain);
        bool shown = s_progress_shown(cmds[c][1], " of 3000 entries (");
        if (!shown)
            fprintf(stderr, "%s: terminal got [%s]\n", args, s_tty);
        CHECK(shown);
    }
    /* A failing verify under a terminal (the file claims one entry more
     * than it holds): same status and message, on a line of its own after
     * the progress line was erased. */
    char cmd[600];
    snprintf(cmd, sizeof cmd,
             "sed 's/\"tree_size\":3000,/\"tree_size\":3001,/' %s/big.json >%s/bad.json", s_tmp,
             s_tmp);
    REQUIRE(system(cmd) == 0);
    EXPECT_RUN(1, NULL, "the file says 3001 entries but holds 3000",
               "verify %s/bad.json --anchor %s/broker.pem", s_tmp, s_tmp);
    CHECK(s_run_pty("verify %s/bad.json --anchor %s/broker.pem", s_tmp, s_tmp) == 1);
    char *err = strstr(s_tty, "egide: audit verify: ");
    CHECK(err != NULL && strstr(s_tty, "the file says 3001 entries but holds 3000"));
    CHECK(err != NULL && err > s_tty + 1 && err[-1] == '\r' && err[-2] == ' ');
    CHECK(strstr(s_tty, "\regide audit verify: ") != NULL);
    s_served = NULL;
    egide_auditlog_destroy(&log);
    egide_db_close(&db);
}

int main(void)
{
    const char *bin = getenv("EGIDE_BIN");
    snprintf(s_bin, sizeof s_bin, "%s/egide", bin ? bin : ".");
    if (access(s_bin, X_OK) != 0) {
        fprintf(stderr, "%s not found (set EGIDE_BIN)\n", s_bin);
        return 1;
    }
    snprintf(s_tmp, sizeof s_tmp, "/tmp/egide-auditcli-XXXXXX");
    if (!mkdtemp(s_tmp))
        return 1;
    s_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    s_other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    char p1[256], p2[256];
    snprintf(p1, sizeof p1, "%s/broker.pem", s_tmp);
    snprintf(p2, sizeof p2, "%s/other.pem", s_tmp);
    if (!s_key || !s_other || !s_write_cert(s_key, p1) || !s_write_cert(s_other, p2))
        return 1;

    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, s_handler, NULL,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
    if (!d)
        return 1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(s_api, sizeof s_api, "http://127.0.0.1:%u", info ? info->port : 0);

    RUN(test_online);
    RUN(test_db_tamper);
    RUN(test_progress);

    MHD_stop_daemon(d);
    EVP_PKEY_free(s_key);
    EVP_PKEY_free(s_other);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "%s", getenv("KEEP") ? "true" : "rm -rf");
    snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " %s", s_tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", s_tmp);
    EGIDE_TEST_DONE();
}
