/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_cli_options.c - the one option parser of `egide` (cli_opts.c),
 * table-driven: good command lines and the values they give, bad ones and
 * the one line and exit status 2 they get, --help generated from the
 * tables; then every real command in process, through the same dispatch as
 * main() (cli_dispatch): --help answers 0, an unknown
 * option and a missing value answer 2 with one line, and the daemon options
 * (--api, --token-file, --config, --json) are accepted where the command
 * talks to a daemon.
 */
#include <fcntl.h>
#include <unistd.h>

#include "cli.h"
#include "egide_test.h"

static const cli_opt_t t_opts[] = {
    {"--type", CLI_VALUE, "TYPE", "the type", true},
    {"--to", CLI_LIST, "NODE", "a recipient", false},
    {"--to-be", CLI_VALUE, "X", "shares a prefix with --to", false},
    {"--flag", CLI_FLAG, NULL, "a flag", false},
    {NULL, CLI_FLAG, NULL, NULL, false},
};
static const cli_cmd_t t_cmd = {
    "test cmd", "ID", 0, 1, "About this command.", {t_opts, cli_api_opts, cli_json_opts}};
static const cli_cmd_t t_need_pos = {"test pos", "FILE", 1, 2, NULL, {cli_json_opts}};

/* ---- capturing stdout and stderr of code run in this process ---- */

static char s_dir[64];
static char s_out[8192], s_err[8192];
static int s_saved_out = -1, s_saved_err = -1;

static void s_capture(void)
{
    char p[128];
    fflush(stdout);
    fflush(stderr);
    s_saved_out = dup(1);
    s_saved_err = dup(2);
    snprintf(p, sizeof p, "%s/out", s_dir);
    int o = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    snprintf(p, sizeof p, "%s/err", s_dir);
    int e = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (o >= 0)
        dup2(o, 1);
    if (e >= 0)
        dup2(e, 2);
    if (o >= 0)
        close(o);
    if (e >= 0)
        close(e);
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

static void s_release(void)
{
    fflush(stdout);
    fflush(stderr);
    dup2(s_saved_out, 1);
    dup2(s_saved_err, 2);
    close(s_saved_out);
    close(s_saved_err);
    s_slurp("out", s_out, sizeof s_out);
    s_slurp("err", s_err, sizeof s_err);
}

/* Split line on spaces into argv (at most 31 words); "" gives none. */
static int s_split(const char *line, char *buf, size_t bufsz, char **argv)
{
    snprintf(buf, bufsz, "%s", line);
    int n = 0;
    for (char *t = strtok(buf, " "); t && n < 31; t = strtok(NULL, " "))
        argv[n++] = t;
    argv[n] = NULL;
    return n;
}

static int s_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* ---- the parser, table-driven ---- */

typedef struct parse_case {
    const char *argv;  /* space-separated */
    int rc;            /* 0, 2 or CLI_HELP */
    const char *err;   /* rc 2: the exact stderr */
    const char *type;  /* rc 0: --type */
    const char *to;    /* rc 0: the --to values joined by ',' ("" = none) */
    const char *pos;   /* rc 0: the positional argument, or NULL */
    bool flag, json;   /* rc 0: --flag, --json */
    const char *to_be; /* rc 0: --to-be */
    const char *api;   /* rc 0: --api */
} parse_case_t;

static const parse_case_t s_parse_cases[] = {
    {"--type t", 0, NULL, "t", "", NULL, false, false, NULL, NULL},
    {"--type=t --to a --to=b ID1", 0, NULL, "t", "a,b", "ID1", false, false, NULL, NULL},
    {"ID1 --flag --json --type t", 0, NULL, "t", "", "ID1", true, true, NULL, NULL},
    {"--type t -- --flag", 0, NULL, "t", "", "--flag", false, false, NULL, NULL},
    {"--type t -", 0, NULL, "t", "", "-", false, false, NULL, NULL},
    {"--to-be x --type t", 0, NULL, "t", "", NULL, false, false, "x", NULL},
    {"--type= --api=http://x", 0, NULL, "", "", NULL, false, false, NULL, "http://x"},
    {"--type t --to --flag", 0, NULL, "t", "--flag", NULL, false, false, NULL, NULL},
    {"--bogus --type t", 2,
     "egide: test cmd: unknown argument '--bogus': unknown option (egide test cmd --help lists "
     "them)\n",
     NULL, NULL, NULL, false, false, NULL, NULL},
    {"--typo t", 2,
     "egide: test cmd: unknown argument '--typo': unknown option (egide test cmd --help lists "
     "them)\n",
     NULL, NULL, NULL, false, false, NULL, NULL},
    {"-x --type t", 2,
     "egide: test cmd: unknown argument '-x': unknown option (egide test cmd --help lists them)\n",
     NULL, NULL, NULL, false, false, NULL, NULL},
    {"--type", 2, "egide: test cmd: --type needs a value (--type TYPE)\n", NULL, NULL, NULL, false,
     false, NULL, NULL},
    {"--type t --api", 2, "egide: test cmd: --api needs a value (--api URL)\n", NULL, NULL, NULL,
     false, false, NULL, NULL},
    {"--type t --flag=yes", 2, "egide: test cmd: --flag takes no value\n", NULL, NULL, NULL, false,
     false, NULL, NULL},
    {"--type a --type b", 2, "egide: test cmd: --type given twice\n", NULL, NULL, NULL, false,
     false, NULL, NULL},
    {"", 2, "egide: test cmd: --type TYPE is required\n", NULL, NULL, NULL, false, false, NULL,
     NULL},
    {"--type t a b", 2, "egide: test cmd: unexpected argument 'b' (egide test cmd --help)\n", NULL,
     NULL, NULL, false, false, NULL, NULL},
    {"--bogus --help", CLI_HELP, NULL, NULL, NULL, NULL, false, false, NULL, NULL},
    {"-h", CLI_HELP, NULL, NULL, NULL, NULL, false, false, NULL, NULL},
};

static void test_parse_table(void)
{
    for (size_t i = 0; i < sizeof s_parse_cases / sizeof s_parse_cases[0]; i++) {
        const parse_case_t *c = &s_parse_cases[i];
        char buf[512], *argv[32];
        int argc = s_split(c->argv, buf, sizeof buf, argv);
        cli_args_t a;
        s_capture();
        int rc = cli_parse(&t_cmd, argc, argv, &a);
        s_release();
        if (rc != c->rc)
            fprintf(stderr, "  case %zu '%s': rc %d, wanted %d (%s)\n", i, c->argv, rc, c->rc,
                    s_err);
        CHECK(rc == c->rc);
        if (rc == 2) {
            CHECK_STREQ(s_err, c->err);
            CHECK(s_lines(s_err) == 1);
            CHECK_STREQ(s_out, "");
            continue;
        }
        if (rc == CLI_HELP) {
            CHECK(strstr(s_out, "usage: egide test cmd [OPTIONS] ID\n") == s_out);
            CHECK_STREQ(s_err, "");
            continue;
        }
        CHECK_STREQ(s_err, "");
        CHECK_STREQ(cli_get(&a, "--type"), c->type);
        const char *to[4];
        size_t n = cli_list(&a, "--to", to, 4);
        char joined[128] = "";
        for (size_t k = 0; k < n && k < 4; k++)
            snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "%s%s", k ? "," : "",
                     to[k]);
        CHECK_STREQ(joined, c->to);
        if (c->pos) {
            CHECK(a.n_pos == 1);
            CHECK_STREQ(a.pos[0], c->pos);
        } else {
            CHECK(a.n_pos == 0);
        }
        CHECK(cli_has(&a, "--flag") == c->flag);
        CHECK(cli_has(&a, "--json") == c->json);
        CHECK(c->to_be ? cli_get(&a, "--to-be") && strcmp(cli_get(&a, "--to-be"), c->to_be) == 0
                       : !cli_has(&a, "--to-be"));
        CHECK(c->api ? cli_get(&a, "--api") && strcmp(cli_get(&a, "--api"), c->api) == 0
                     : !cli_has(&a, "--api"));
        CHECK(cli_get(&a, "--not-an-option") == NULL);
    }
}

static void test_lists_and_positionals(void)
{
    char buf[512], *argv[32];
    cli_args_t a;
    int argc = s_split("--type t --to a --to b --to c", buf, sizeof buf, argv);
    REQUIRE(cli_parse(&t_cmd, argc, argv, &a) == 0);
    const char *two[2];
    CHECK(cli_list(&a, "--to", two, 2) == 3); /* the count, so the caller can refuse */
    CHECK_STREQ(two[0], "a");
    CHECK_STREQ(two[1], "b");
    CHECK(cli_list(&a, "--nope", two, 2) == 0);

    /* More list values than the parser keeps: refused, not truncated. */
    static char many[CLI_MAX_VALUES + 2][8];
    char *margv[2 * (CLI_MAX_VALUES + 2) + 2];
    int m = 0;
    margv[m++] = "--type";
    margv[m++] = "t";
    for (size_t i = 0; i < CLI_MAX_VALUES + 1; i++) {
        snprintf(many[i], sizeof many[i], "n%zu", i);
        margv[m++] = "--to";
        margv[m++] = many[i];
    }
    s_capture();
    CHECK(cli_parse(&t_cmd, m, margv, &a) == 2);
    s_release();
    CHECK_STREQ(s_err, "egide: test cmd: --to: too many values\n");

    /* Positional arguments: at least min_args. */
    s_capture();
    CHECK(cli_parse(&t_need_pos, 0, argv, &a) == 2);
    s_release();
    CHECK_STREQ(s_err, "egide: test pos: missing FILE (egide test pos --help)\n");
    argc = s_split("f1 f2", buf, sizeof buf, argv);
    CHECK(cli_parse(&t_need_pos, argc, argv, &a) == 0);
    CHECK(a.n_pos == 2 && strcmp(a.pos[1], "f2") == 0);
}

static void test_help_from_the_table(void)
{
    char p[128];
    snprintf(p, sizeof p, "%s/help", s_dir);
    FILE *f = fopen(p, "w");
    REQUIRE(f != NULL);
    cli_help(&t_cmd, f);
    fclose(f);
    char h[4096];
    s_slurp("help", h, sizeof h);
    CHECK(strstr(h, "usage: egide test cmd [OPTIONS] ID\n\nAbout this command.\n") == h);
    CHECK(strstr(h, "\noptions:\n  --type TYPE ") != NULL);
    CHECK(strstr(h, "the type (required)\n") != NULL);
    CHECK(strstr(h, "a recipient (repeatable)\n") != NULL);
    CHECK(strstr(h, "\ntalking to the daemon:\n  --api URL ") != NULL);
    CHECK(strstr(h, "  --token-file FILE ") != NULL);
    CHECK(strstr(h, "  --config FILE ") != NULL);
    CHECK(strstr(h, "  --json ") != NULL);
    CHECK(strstr(h, "  --help ") != NULL);
}

/* ---- the real commands, in process ---- */

typedef struct cmd_case {
    const char *argv; /* after "egide" */
    int rc;           /* exit status */
    const char *err;  /* the start of the one stderr line, or NULL for none */
} cmd_case_t;

static const cmd_case_t s_cmd_cases[] = {
    /* --help of every command: generated, exit 0, nothing on stderr */
    {"send --help", 0, NULL},
    {"inbox --help", 0, NULL},
    {"outbox -h", 0, NULL},
    {"show --help", 0, NULL},
    {"ack --help", 0, NULL},
    {"status --help", 0, NULL},
    {"deadlines --help", 0, NULL},
    {"validate --help", 0, NULL},
    {"export olinpe --help", 0, NULL},
    {"seal --help", 0, NULL},
    {"open --help", 0, NULL},
    {"pki verify --help", 0, NULL},
    {"directory route --help", 0, NULL},
    {"audit prove --help", 0, NULL},
    /* unknown options: one line, exit 2 */
    {"send --bogus", 2, "egide: send: unknown argument '--bogus': unknown option"},
    {"deadlines --colour red", 2, "egide: deadlines: unknown argument '--colour': unknown option"},
    {"seal --sender x", 2, "egide: seal: unknown argument '--sender': unknown option"},
    {"pki curve-keygen --out x", 2,
     "egide: pki curve-keygen: unknown argument '--out': unknown option"},
    {"directory show f.bin --min-version 2", 2,
     "egide: directory show: unknown argument '--min-version': unknown option"},
    {"audit verify --api http://x", 2,
     "egide: audit verify: unknown argument '--api': unknown option"},
    /* missing values: one line, exit 2 */
    {"deadlines --config", 2, "egide: deadlines: --config needs a value"},
    {"status --token-file", 2, "egide: status: --token-file needs a value"},
    {"audit checkpoint --config", 2, "egide: audit checkpoint: --config needs a value"},
    {"validate --type", 2, "egide: validate: --type needs a value"},
    /* missing required options and arguments */
    {"validate f.json", 2, "egide: validate: --type TYPE is required"},
    {"show", 2, "egide: show: missing MSG_ID"},
    {"open --key k", 2, "egide: open: --cert ENCCERT is required"},
    {"directory build --nodes n.ini", 2, "egide: directory build: --routes ROUTES.csv is required"},
    {"audit consistency", 2, "egide: audit consistency: --from FILE is required"},
    /* deadlines: offline and online options do not mix */
    {"deadlines --type ip.transmission --received 2026-01-01 --config x.ini", 2,
     "egide: deadlines: --type computes deadlines offline"},
    {"deadlines --received 2026-01-01", 2, "egide: deadlines: offline deadlines need --type TYPE"},
    {"deadlines --type ip.transmission", 2,
     "egide: deadlines: give --received DATE or --payload FILE"},
    /* the daemon options are accepted by every command that talks to one
     * (here they fail later, on the missing file, with exit 1) */
    {"deadlines --api http://127.0.0.1:1 --config /nonexistent.ini --json", 1,
     "egide: config: /nonexistent.ini: cannot open"},
    {"inbox --config /nonexistent.ini --token-file t --json", 1,
     "egide: config: /nonexistent.ini: cannot open"},
    {"audit checkpoint --config /nonexistent.ini --json", 1,
     "egide: config: /nonexistent.ini: cannot open"},
    {"status --timeout 0", 2, "egide: status: --timeout: not a number"},
    /* the top level */
    {"frobnicate", 2, "egide: usage: unknown command 'frobnicate'"},
    {"--version", 0, NULL},
    /* subcommands */
    {"pki frobnicate", 2, "egide: pki: unknown subcommand 'frobnicate'"},
    {"directory frobnicate", 2, "egide: directory: unknown subcommand"},
};

static void test_commands(void)
{
    for (size_t i = 0; i < sizeof s_cmd_cases / sizeof s_cmd_cases[0]; i++) {
        const cmd_case_t *c = &s_cmd_cases[i];
        char line[512], buf[512], *argv[32];
        snprintf(line, sizeof line, "egide %s", c->argv);
        int argc = s_split(line, buf, sizeof buf, argv);
        s_capture();
        int rc = cli_dispatch(argc, argv);
        s_release();
        bool ok = rc == c->rc;
        if (c->err)
            ok = ok && strncmp(s_err, c->err, strlen(c->err)) == 0 && s_lines(s_err) == 1;
        else
            ok = ok && s_err[0] == '\0' &&
                 (strstr(s_out, "usage: egide ") == s_out || strstr(s_out, "egide ") == s_out);
        if (!ok)
            fprintf(stderr, "  case %zu '%s': rc %d (wanted %d), stderr \"%s\"\n", i, c->argv, rc,
                    c->rc, s_err);
        CHECK(ok);
    }
}

int main(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/egide-test-cliopts-XXXXXX");
    if (!mkdtemp(s_dir))
        return 1;
    unsetenv("EGIDE_CONFIG");
    setenv("HOME", s_dir, 1); /* no ~/.config/egide/cli.ini of the user's */
    RUN(test_parse_table);
    RUN(test_lists_and_positionals);
    RUN(test_help_from_the_table);
    RUN(test_commands);
    const char *files[] = {"out", "err", "help", NULL};
    for (size_t i = 0; files[i]; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s/%s", s_dir, files[i]);
        unlink(p);
    }
    rmdir(s_dir);
    EGIDE_TEST_DONE();
}
