/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_cli_trail.c - `egide trail verify` on an edge's database, in this
 * process through the same dispatch as main() (cli_dispatch): a trail
 * written by edge_trail.c and signed by a key made here (its certificate
 * made by the openssl command), verified with and without the
 * certificate; refused with another edge's certificate, on a rewritten
 * entry, on a database without a trail, and with bad options.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <sqlite3.h>

#include "cli.h"
#include "edge_store.h"
#include "edge_trail.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide_test.h"

static char s_dir[64], s_db[128];
static char s_out[16384], s_err[8192];

static void s_quiet(egide_log_level level, const char *line, void *arg)
{
    (void)level, (void)line, (void)arg;
}

static void s_slurp(const char *name, char *buf, size_t bufsz)
{
    char p[128];
    snprintf(p, sizeof p, "%s/%s", s_dir, name);
    FILE *f = fopen(p, "r");
    size_t n = f ? fread(buf, 1, bufsz - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

/* Write text to dir/name with mode. */
static void s_write(const char *name, const char *text, mode_t mode)
{
    char p[128];
    snprintf(p, sizeof p, "%s/%s", s_dir, name);
    unlink(p);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd >= 0) {
        if (write(fd, text, strlen(text)) < 0)
            perror("write");
        fchmod(fd, mode);
        close(fd);
    }
}

/* Run `egide ARGS...` (space-separated) with stdin_text on standard input
 * (NULL: an empty one); stdout and stderr into s_out and s_err. */
static int s_run(const char *args, const char *stdin_text)
{
    char buf[1024], p[128];
    char *argv[32];
    int argc = 0;
    argv[argc++] = "egide";
    snprintf(buf, sizeof buf, "%s", args);
    for (char *t = strtok(buf, " "); t && argc < 31; t = strtok(NULL, " "))
        argv[argc++] = t;
    argv[argc] = NULL;
    s_write("stdin", stdin_text ? stdin_text : "", 0600);
    fflush(stdout);
    fflush(stderr);
    int in = dup(0), o = dup(1), e = dup(2);
    snprintf(p, sizeof p, "%s/stdin", s_dir);
    int fi = open(p, O_RDONLY);
    snprintf(p, sizeof p, "%s/out", s_dir);
    int fo = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    snprintf(p, sizeof p, "%s/err", s_dir);
    int fe = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fi, 0);
    dup2(fo, 1);
    dup2(fe, 2);
    close(fi);
    close(fo);
    close(fe);
    int rc = cli_dispatch(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(in, 0);
    dup2(o, 1);
    dup2(e, 2);
    close(in);
    close(o);
    close(e);
    s_slurp("out", s_out, sizeof s_out);
    s_slurp("err", s_err, sizeof s_err);
    return rc;
}

static EVP_PKEY *s_key(const char *name)
{
    char cmd[512], p[160];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && openssl req -x509 -newkey ed25519 -nodes -keyout %s.key -out %s.crt "
             "-subj /CN=71.crip -days 2 -addext keyUsage=critical,digitalSignature "
             ">/dev/null 2>&1",
             s_dir, name, name);
    if (system(cmd) != 0)
        return NULL;
    snprintf(p, sizeof p, "%s/%s.key", s_dir, name);
    FILE *f = fopen(p, "r");
    EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    return k;
}

static void test_verify(void)
{
    EVP_PKEY *key = s_key("edge"), *other = s_key("other"); /* other: its certificate is used */
    bool made = key && other;
    EVP_PKEY_free(other);
    REQUIRE(made);
    edge_store_t *st = NULL;
    REQUIRE(edge_store_sqlite_ops.open(s_db, &st) == EGIDE_OK);
    edge_trail_t *t = NULL;
    REQUIRE(edge_trail_open(edge_store_sqlite_db(st), "71.crip", &t) == EGIDE_OK);
    for (int i = 0; i < 5; i++) {
        edge_trail_entry_t en = {.time_ms = 1767225600000LL + i, .has_msg = true, .case_id = i};
        snprintf(en.account, sizeof en.account, "alice");
        snprintf(en.role, sizeof en.role, "agent");
        snprintf(en.action, sizeof en.action, "message.open");
        memset(en.msg_id, i + 1, 16);
        CHECK_RC(edge_trail_append(t, &en, NULL), EGIDE_OK);
    }
    char *note = NULL;
    uint64_t size = 0;
    CHECK_RC(edge_trail_checkpoint(t, key, true, &note, &size), EGIDE_OK);
    CHECK(size == 5 && note && strstr(note, "egide.71.crip/trail"));
    free(note);
    edge_trail_destroy(&t);
    edge_store_close(&st);
    EVP_PKEY_free(key);

    char args[512];
    snprintf(args, sizeof args, "trail verify --db %s", s_db);
    CHECK(s_run(args, NULL) == 0);
    CHECK(strstr(s_out, "5 entries") && strstr(s_out, "roots only") && strstr(s_out, "71.crip"));
    CHECK(!strstr(s_out, "alice")); /* no entry printed */
    snprintf(args, sizeof args, "trail verify --db %s --cert %s/edge.crt", s_db, s_dir);
    CHECK(s_run(args, NULL) == 0);
    CHECK(strstr(s_out, "signatures checked") && strstr(s_out, "signed up to 5"));
    snprintf(args, sizeof args, "trail verify --db %s --cert %s/other.crt", s_db, s_dir);
    CHECK(s_run(args, NULL) == 1);
    CHECK(strstr(s_err, "NOT verified"));
    snprintf(args, sizeof args, "trail verify --db %s --cert %s/none.crt", s_db, s_dir);
    CHECK(s_run(args, NULL) == 2);
    snprintf(args, sizeof args, "trail verify --db %s/none.db", s_dir);
    CHECK(s_run(args, NULL) == 1);
    CHECK(s_run("trail verify", NULL) == 2); /* --db is required */

    /* An entry rewritten by someone who dropped the trigger. */
    sqlite3 *db = NULL;
    REQUIRE(sqlite3_open(s_db, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db,
                       "DROP TRIGGER audit_leaves_no_update;"
                       "UPDATE audit_leaves SET leaf = CAST(replace(CAST(leaf AS TEXT), 'alice',"
                       " 'bobby') AS BLOB) WHERE idx = 2",
                       NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    snprintf(args, sizeof args, "trail verify --db %s --cert %s/edge.crt", s_db, s_dir);
    CHECK(s_run(args, NULL) == 1);
    CHECK(strstr(s_err, "entry 2"));

    /* Account commands are entries of the trail, naming who ran them and
     * the account; never the password. */
    static const char pw[] = "un-mot-de-passe-de-test-0001";
    s_write("pw", pw, 0600);
    char p3[160];
    snprintf(p3, sizeof p3, "%s/users.db", s_dir);
    REQUIRE(edge_store_sqlite_ops.open(p3, &st) == EGIDE_OK);
    edge_store_close(&st);
    snprintf(args, sizeof args, "user add --db %s --role auditor --password-file %s/pw paul", p3,
             s_dir);
    CHECK(s_run(args, NULL) == 0);
    snprintf(args, sizeof args, "user disable --db %s paul", p3);
    CHECK(s_run(args, NULL) == 0);
    REQUIRE(edge_store_sqlite_ops.open(p3, &st) == EGIDE_OK);
    REQUIRE(edge_trail_open(edge_store_sqlite_db(st), "offline", &t) == EGIDE_OK);
    edge_trail_q_t q = {.limit = 10};
    edge_trail_entry_t *rows = NULL;
    size_t n = 0;
    bool more = true;
    CHECK_RC(edge_trail_list(t, &q, &rows, &n, &more), EGIDE_OK);
    REQUIRE(n == 2 && !more);
    CHECK_STREQ(rows[0].action, "user.add");
    CHECK_STREQ(rows[1].action, "user.disable");
    CHECK_STREQ(rows[0].subject, "paul");
    CHECK(strncmp(rows[0].account, "cli:", 4) == 0 && !rows[0].has_msg);
    free(rows);
    edge_trail_destroy(&t);
    edge_store_close(&st);
    db = NULL;
    REQUIRE(sqlite3_open(p3, &db) == SQLITE_OK);
    sqlite3_stmt *sq = NULL;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT count(*) FROM audit_leaves WHERE instr(leaf, ?1) > 0",
                               -1, &sq, NULL) == SQLITE_OK);
    sqlite3_bind_text(sq, 1, pw, -1, SQLITE_STATIC);
    CHECK(sqlite3_step(sq) == SQLITE_ROW && sqlite3_column_int(sq, 0) == 0);
    sqlite3_finalize(sq);
    sqlite3_close(db);

    /* An edge database without a trail yet. */
    char p2[160];
    snprintf(p2, sizeof p2, "%s/fresh.db", s_dir);
    REQUIRE(edge_store_sqlite_ops.open(p2, &st) == EGIDE_OK);
    edge_store_close(&st);
    snprintf(args, sizeof args, "trail verify --db %s", p2);
    CHECK(s_run(args, NULL) == 1);
    CHECK(strstr(s_err, "no trail"));
}

int main(void)
{
    egide_log_set_sink(s_quiet, NULL);
    snprintf(s_dir, sizeof s_dir, "/tmp/egide-test-clitrail.XXXXXX");
    if (!mkdtemp(s_dir))
        return 1;
    snprintf(s_db, sizeof s_db, "%s/edge.db", s_dir);
    RUN(test_verify);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", s_dir);
    EGIDE_TEST_DONE();
}
