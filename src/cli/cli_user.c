/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cli_user.c - `egide user add|disable|enable|list|passwd`: the personal
 * accounts of an edge's web pages, managed offline on the edge's own
 * database (--db), through the same functions the edge uses
 * (edge_accounts.h).  A password is read from --password-file (a file
 * readable by its owner only) or from standard input, never from the
 * command line, where other users could see it; `list` never shows a
 * hash.  Names are shown (the administrator asked for them), never logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "edge_accounts.h"
#include "edge_store.h"
#include "edge_trail.h"
#include "egide/base/egide_util.h"

static const cli_opt_t s_db_opts[] = {
    {"--db", CLI_VALUE, "PATH", "the edge's database (edge.db; it must exist)", true},
    {NULL, CLI_FLAG, NULL, NULL, false},
};
static const cli_opt_t s_pw_opts[] = {
    {"--password-file", CLI_VALUE, "FILE",
     "read the password from FILE (mode 0600; default: standard input, first line)", false},
    {NULL, CLI_FLAG, NULL, NULL, false},
};
static const cli_opt_t s_role_opts[] = {
    {"--role", CLI_VALUE, "ROLE", "agent, supervisor, auditor or admin", true},
    {NULL, CLI_FLAG, NULL, NULL, false},
};

static const char s_about_add[] =
    "Create an account on the edge's database.  The password (at least 12 bytes of UTF-8) is "
    "read from --password-file or standard input and stored as an Argon2id hash.";
static const char s_about_disable[] =
    "Disable an account: it can no longer log in, and its open sessions end at once.";
static const char s_about_enable[] = "Enable a disabled account again.";
static const char s_about_list[] = "List the accounts: name, role, state (never a hash).";
static const char s_about_passwd[] =
    "Set a new password (read as for add); the account's open sessions end.";

static const cli_cmd_t s_cmds[] = {
    CLI_CMD("user add", "NAME", 1, 1, s_about_add, s_db_opts, s_role_opts, s_pw_opts),
    CLI_CMD("user disable", "NAME", 1, 1, s_about_disable, s_db_opts),
    CLI_CMD("user enable", "NAME", 1, 1, s_about_enable, s_db_opts),
    CLI_CMD("user list", NULL, 0, 0, s_about_list, s_db_opts, cli_json_opts),
    CLI_CMD("user passwd", "NAME", 1, 1, s_about_passwd, s_db_opts, s_pw_opts),
};

/* Open the existing database at --db (never create one: a typo must not
 * make an empty edge). */
static int s_open(const cli_args_t *a, edge_store_t **st)
{
    const char *what = a->cmd->name;
    const char *db = cli_get(a, "--db");
    struct stat sb;
    if (stat(db, &sb) != 0 || !S_ISREG(sb.st_mode))
        return cli_fail(what, "%s: no such database (the edge creates it at its first start)", db);
    egide_rc rc = edge_store_sqlite_ops.open(db, st);
    if (rc)
        return cli_fail_rc(what, rc, "%s", db);
    return 0;
}

/* The password: --password-file (owner-only, at most EDGE_PASSWORD_MAX
 * bytes plus a final newline) or the first line of standard input.
 * Returns its length in pw (size EDGE_PASSWORD_MAX + 2), or -1 after
 * printing why. */
static long s_read_password(const cli_args_t *a, char *pw, size_t size)
{
    const char *what = a->cmd->name;
    const char *file = cli_get(a, "--password-file");
    int fd = 0;
    if (file) {
        fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat sb;
        if (fd < 0 || fstat(fd, &sb) != 0) {
            cli_fail(what, "%s: %s", file, strerror(errno));
            if (fd >= 0)
                close(fd);
            return -1;
        }
        if (sb.st_mode & 077) {
            close(fd);
            cli_fail(what, "%s: readable by others (chmod 600)", file);
            return -1;
        }
    }
    size_t n = 0;
    bool eol = false;
    /* Byte by byte up to the first newline: stdin may hold more. */
    while (n < size - 1 && !eol) {
        ssize_t k = read(fd, pw + n, 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        if (pw[n] == '\n')
            eol = true;
        else
            n++;
    }
    if (file)
        close(fd);
    if (n && pw[n - 1] == '\r')
        n--;
    pw[n] = '\0';
    if (n >= size - 1 && !eol) {
        egide_wipe(pw, size);
        cli_fail(what, "password longer than %u bytes", EDGE_PASSWORD_MAX);
        return -1;
    }
    if (!edge_password_valid(pw, n, true)) {
        egide_wipe(pw, size);
        cli_fail(what, "the password must be %u to %u bytes of UTF-8 without control characters",
                 EDGE_PASSWORD_MIN, EDGE_PASSWORD_MAX);
        return -1;
    }
    return (long)n;
}

static int s_name_check(const cli_args_t *a)
{
    const char *name = a->pos[0];
    if (!edge_account_name_valid(name, strlen(name)))
        return cli_fail(a->cmd->name,
                        "an account name is 1 to %u of a-z 0-9 . _ - (starting with a letter or "
                        "digit)",
                        EDGE_USER_NAME_MAX);
    return 0;
}

/* The edge's trail of who did what (edge_trail.h): the account action,
 * by "cli:<the system user who ran it>", on the account named. */
static egide_rc s_note(edge_store_t *st, const char *action, const char *subject)
{
    struct passwd *pw = getpwuid(geteuid());
    char who[EDGE_TRAIL_ACCOUNT_MAX + 1];
    snprintf(who, sizeof who, "cli:%s", pw && pw->pw_name && pw->pw_name[0] ? pw->pw_name : "?");
    for (char *p = who; *p; p++)
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e || *p == '"' || *p == '\\')
            *p = '_';
    egide_rc rc = edge_trail_note_offline(st, who, action, subject, egide_now_ms());
    if (rc)
        fprintf(stderr, "egide: %s: done, but not recorded in the edge's trail (%s)\n", action,
                egide_strerror(rc));
    return rc;
}

static int s_result(const cli_args_t *a, egide_rc rc, const char *done)
{
    const char *what = a->cmd->name;
    if (rc == EGIDE_ERR_NOTFOUND)
        return cli_fail(what, "no such account");
    if (rc == EGIDE_ERR_EXISTS)
        return cli_fail(what, "an account of that name exists");
    if (rc)
        return cli_fail_rc(what, rc, "%s", "");
    printf("%s\n", done);
    return 0;
}

static int s_add(const cli_args_t *a)
{
    edge_role role;
    if (edge_role_parse(cli_get(a, "--role"), &role))
        return cli_fail(a->cmd->name, "--role: agent, supervisor, auditor or admin");
    if (s_name_check(a))
        return 1;
    char pw[EDGE_PASSWORD_MAX + 2];
    long n = s_read_password(a, pw, sizeof pw);
    if (n < 0)
        return 1;
    edge_store_t *st = NULL;
    int r = s_open(a, &st);
    if (!r) {
        egide_rc rc = edge_account_add(st, NULL, a->pos[0], role, pw, (size_t)n, egide_now_ms());
        r = s_result(a, rc, "account created");
        if (!rc && s_note(st, "user.add", a->pos[0]))
            r = 1;
    }
    egide_wipe(pw, sizeof pw);
    edge_store_close(&st);
    return r;
}

static int s_passwd(const cli_args_t *a)
{
    if (s_name_check(a))
        return 1;
    char pw[EDGE_PASSWORD_MAX + 2];
    long n = s_read_password(a, pw, sizeof pw);
    if (n < 0)
        return 1;
    edge_store_t *st = NULL;
    int r = s_open(a, &st);
    if (!r) {
        egide_rc rc = edge_account_passwd(st, NULL, a->pos[0], pw, (size_t)n, egide_now_ms());
        r = s_result(a, rc, "password changed; the account's sessions ended");
        if (!rc && s_note(st, "user.passwd", a->pos[0]))
            r = 1;
    }
    egide_wipe(pw, sizeof pw);
    edge_store_close(&st);
    return r;
}

static int s_set_disabled(const cli_args_t *a, bool disabled)
{
    if (s_name_check(a))
        return 1;
    edge_store_t *st = NULL;
    int r = s_open(a, &st);
    if (!r) {
        egide_rc rc = edge_account_set_disabled(st, NULL, a->pos[0], disabled, egide_now_ms());
        r = s_result(a, rc, disabled ? "account disabled; its sessions ended" : "account enabled");
        if (!rc && s_note(st, disabled ? "user.disable" : "user.enable", a->pos[0]))
            r = 1;
    }
    edge_store_close(&st);
    return r;
}

static int s_disable(const cli_args_t *a)
{
    return s_set_disabled(a, true);
}

static int s_enable(const cli_args_t *a)
{
    return s_set_disabled(a, false);
}

static int s_list(const cli_args_t *a)
{
    edge_store_t *st = NULL;
    if (s_open(a, &st))
        return 1;
    edge_user_row_t *rows = NULL;
    size_t n = 0;
    egide_rc rc = edge_store_user_list(st, &rows, &n);
    edge_store_close(&st);
    if (rc)
        return cli_fail_rc(a->cmd->name, rc, "%s", "");
    bool json = cli_has(a, "--json");
    json_t *arr = json ? json_array() : NULL;
    for (size_t i = 0; i < n; i++) {
        const char *state = rows[i].disabled ? "disabled" : "enabled";
        if (json)
            json_array_append_new(arr,
                                  json_pack("{s:s, s:s, s:s, s:I, s:I}", "user", rows[i].name,
                                            "role", edge_role_name(rows[i].role), "state", state,
                                            "created_ms", (json_int_t)rows[i].created_ms,
                                            "updated_ms", (json_int_t)rows[i].updated_ms));
        else
            printf("%-32s %-11s %s\n", rows[i].name, edge_role_name(rows[i].role), state);
    }
    free(rows);
    if (json) {
        char *s = json_dumps(arr, JSON_COMPACT);
        printf("%s\n", s ? s : "[]");
        free(s);
        json_decref(arr);
    }
    return 0;
}

int cmd_user(int argc, char **argv)
{
    static int (*const fns[])(const cli_args_t *) = {s_add, s_disable, s_enable, s_list, s_passwd};
    size_t which = 0;
    cli_args_t args;
    int prc = cli_parse_sub("user", NULL, s_cmds, sizeof s_cmds / sizeof s_cmds[0], argc, argv,
                            &which, &args);
    if (prc)
        return prc == CLI_HELP ? 0 : prc;
    return fns[which](&args);
}
