/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_cli_user.c - `egide user add|disable|enable|list|passwd` run in
 * process through the same dispatch as main() (cli_dispatch), on a real
 * edge database, with passwords generated here and given on standard
 * input or in a file, never on the command line.
 *
 * What it proves:
 *  - add creates an account whose password then logs in (checked through
 *    edge_session_login on the same database); the password comes from a
 *    0600 file or stdin; a group-readable file, a too-short password, an
 *    empty stdin, a bad name or role, a taken name and a missing database
 *    are refused with a non-zero status and nothing created;
 *  - list shows name, role and state, never a hash (nor the password);
 *  - disable ends the account's sessions and its logins; enable undoes it;
 *  - passwd changes the password (the old one is refused after) and ends
 *    the sessions.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "edge_accounts.h"
#include "edge_store.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide_test.h"

static char s_dir[64], s_db[128];
static char s_out[16384], s_err[8192];
static char s_pw[40], s_pw2[40];
static edge_auth_policy_t P;

static void s_quiet(egide_log_level level, const char *line, void *arg)
{
    (void)level, (void)line, (void)arg;
}

static void s_gen(char *out)
{
    uint8_t r[16];
    (void)egide_random(r, sizeof r);
    egide_hex_encode(r, sizeof r, out);
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

/* Log user in on the database; returns the result, *sid the session. */
static egide_rc s_login(const char *user, const char *pw, char sid[EDGE_SESSION_HEX + 1])
{
    edge_store_t *st = NULL;
    if (edge_store_sqlite_ops.open(s_db, &st))
        return EGIDE_ERR_DB;
    edge_principal_t who;
    char tmp[EDGE_SESSION_HEX + 1];
    egide_rc rc = edge_session_login(st, NULL, &P, user, strlen(user), pw, strlen(pw), "",
                                     egide_now_ms(), sid ? sid : tmp, &who);
    edge_store_close(&st);
    return rc;
}

static egide_rc s_check(const char *sid)
{
    edge_store_t *st = NULL;
    if (edge_store_sqlite_ops.open(s_db, &st))
        return EGIDE_ERR_DB;
    edge_principal_t who;
    egide_rc rc = edge_session_check(st, NULL, &P, sid, egide_now_ms(), false, &who);
    edge_store_close(&st);
    return rc;
}

static size_t s_count_users(void)
{
    edge_store_t *st = NULL;
    if (edge_store_sqlite_ops.open(s_db, &st))
        return (size_t)-1;
    edge_user_row_t *rows = NULL;
    size_t n = 0;
    if (edge_store_user_list(st, &rows, &n))
        n = (size_t)-1;
    free(rows);
    edge_store_close(&st);
    return n;
}

static void test_add(void)
{
    char cmd[512], line[64];
    snprintf(line, sizeof line, "%s\n", s_pw);
    /* From standard input. */
    snprintf(cmd, sizeof cmd, "user add --db %s --role agent marie", s_db);
    CHECK(s_run(cmd, line) == 0);
    CHECK(strstr(s_out, "created") != NULL);
    CHECK(strstr(s_out, s_pw) == NULL && strstr(s_err, s_pw) == NULL);
    CHECK_RC(s_login("marie", s_pw, NULL), EGIDE_OK);
    CHECK_RC(s_login("marie", s_pw2, NULL), EGIDE_ERR_AUTH);
    /* From a 0600 file (with a CRLF end of line). */
    snprintf(line, sizeof line, "%s\r\n", s_pw2);
    s_write("pw", line, 0600);
    snprintf(cmd, sizeof cmd, "user add --db %s --role auditor --password-file %s/pw paul", s_db,
             s_dir);
    CHECK(s_run(cmd, NULL) == 0);
    CHECK_RC(s_login("paul", s_pw2, NULL), EGIDE_OK);

    size_t n0 = s_count_users();
    /* Refusals: nothing created. */
    s_write("pw-open", line, 0644);
    snprintf(cmd, sizeof cmd, "user add --db %s --role agent --password-file %s/pw-open x1", s_db,
             s_dir);
    CHECK(s_run(cmd, NULL) == 1 && strstr(s_err, "chmod 600"));
    snprintf(cmd, sizeof cmd, "user add --db %s --role agent x2", s_db);
    CHECK(s_run(cmd, "short\n") == 1 && strstr(s_err, "12"));
    CHECK(s_run(cmd, NULL) == 1); /* empty stdin */
    CHECK(s_run(cmd, "abc\xff\xfe"
                     "defghijklmn\n") == 1); /* not UTF-8 */
    snprintf(cmd, sizeof cmd, "user add --db %s --role root x3", s_db);
    CHECK(s_run(cmd, "abcdefghijklmnop\n") == 1 && strstr(s_err, "--role"));
    snprintf(cmd, sizeof cmd, "user add --db %s --role agent Bad/Name", s_db);
    CHECK(s_run(cmd, "abcdefghijklmnop\n") == 1);
    snprintf(cmd, sizeof cmd, "user add --db %s --role agent marie", s_db);
    CHECK(s_run(cmd, "abcdefghijklmnop\n") == 1 && strstr(s_err, "exists"));
    CHECK_RC(s_login("marie", s_pw, NULL), EGIDE_OK); /* unchanged */
    snprintf(cmd, sizeof cmd, "user add --db %s/missing.db --role agent x4", s_dir);
    CHECK(s_run(cmd, "abcdefghijklmnop\n") == 1 && strstr(s_err, "no such database"));
    char p[160];
    snprintf(p, sizeof p, "%s/missing.db", s_dir);
    CHECK(access(p, F_OK) != 0);
    /* Usage errors: no password option on the command line exists. */
    snprintf(cmd, sizeof cmd, "user add --db %s --role agent --password %s x5", s_db, s_pw);
    CHECK(s_run(cmd, NULL) == 2);
    snprintf(cmd, sizeof cmd, "user add --role agent x6");
    CHECK(s_run(cmd, NULL) == 2);
    CHECK(s_run("user", NULL) == 2);
    CHECK(s_run("user --help", NULL) == 0 && strstr(s_out, "passwd NAME"));
    CHECK(s_count_users() == n0);
}

static void test_list(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "user list --db %s", s_db);
    CHECK(s_run(cmd, NULL) == 0);
    CHECK(strstr(s_out, "marie") && strstr(s_out, "agent") && strstr(s_out, "enabled"));
    CHECK(strstr(s_out, "paul") && strstr(s_out, "auditor"));
    CHECK(strstr(s_out, "argon2") == NULL && strstr(s_out, "$") == NULL);
    CHECK(strstr(s_out, s_pw) == NULL && strstr(s_out, s_pw2) == NULL);
    snprintf(cmd, sizeof cmd, "user list --db %s --json", s_db);
    CHECK(s_run(cmd, NULL) == 0);
    json_t *j = json_loads(s_out, 0, NULL);
    CHECK(json_is_array(j) && json_array_size(j) == 2);
    json_t *first = json_array_get(j, 0);
    CHECK_STREQ(json_string_value(json_object_get(first, "user")), "marie");
    CHECK(json_object_get(first, "pwhash") == NULL && strstr(s_out, "argon2") == NULL);
    json_decref(j);
}

static void test_disable_enable(void)
{
    char sid[EDGE_SESSION_HEX + 1], cmd[256];
    REQUIRE(s_login("marie", s_pw, sid) == EGIDE_OK);
    CHECK_RC(s_check(sid), EGIDE_OK);
    snprintf(cmd, sizeof cmd, "user disable --db %s marie", s_db);
    CHECK(s_run(cmd, NULL) == 0);
    CHECK_RC(s_check(sid), EGIDE_ERR_AUTH);
    CHECK_RC(s_login("marie", s_pw, NULL), EGIDE_ERR_AUTH);
    snprintf(cmd, sizeof cmd, "user list --db %s", s_db);
    CHECK(s_run(cmd, NULL) == 0 && strstr(s_out, "disabled"));
    snprintf(cmd, sizeof cmd, "user disable --db %s nobody", s_db);
    CHECK(s_run(cmd, NULL) == 1 && strstr(s_err, "no such account"));
    snprintf(cmd, sizeof cmd, "user enable --db %s marie", s_db);
    CHECK(s_run(cmd, NULL) == 0);
    CHECK_RC(s_check(sid), EGIDE_ERR_AUTH); /* the old session stays dead */
    CHECK_RC(s_login("marie", s_pw, NULL), EGIDE_OK);
}

static void test_passwd(void)
{
    char sid[EDGE_SESSION_HEX + 1], cmd[256], line[64];
    REQUIRE(s_login("paul", s_pw2, sid) == EGIDE_OK);
    snprintf(line, sizeof line, "%s\n", s_pw);
    snprintf(cmd, sizeof cmd, "user passwd --db %s paul", s_db);
    CHECK(s_run(cmd, line) == 0);
    CHECK_RC(s_check(sid), EGIDE_ERR_AUTH);
    CHECK_RC(s_login("paul", s_pw2, NULL), EGIDE_ERR_AUTH);
    CHECK_RC(s_login("paul", s_pw, NULL), EGIDE_OK);
    CHECK(s_run(cmd, "tooshort\n") == 1);
    CHECK_RC(s_login("paul", s_pw, NULL), EGIDE_OK);
    snprintf(cmd, sizeof cmd, "user passwd --db %s nobody", s_db);
    CHECK(s_run(cmd, line) == 1 && strstr(s_err, "no such account"));
}

int main(void)
{
    egide_log_set_sink(s_quiet, NULL);
    snprintf(s_dir, sizeof s_dir, "/tmp/egide-test-cli-user.XXXXXX");
    if (!mkdtemp(s_dir))
        return 1;
    snprintf(s_db, sizeof s_db, "%s/edge.db", s_dir);
    /* The edge makes its database at its first start; so does this. */
    edge_store_t *st = NULL;
    if (edge_store_sqlite_ops.open(s_db, &st))
        return 1;
    edge_store_close(&st);
    edge_auth_policy_default(&P);
    s_gen(s_pw);
    s_gen(s_pw2);
    RUN(test_add);
    RUN(test_list);
    RUN(test_disable_enable);
    RUN(test_passwd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
    EGIDE_TEST_DONE();
}
