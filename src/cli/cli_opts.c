/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cli_opts.c - the one command-line parser of `egide` (see cli.h): every
 * command describes its options in tables, this file reads argv against
 * them and writes --help from them, so that options behave the same in
 * every command and the help cannot drift from what is accepted.  The
 * one-line error printers (cli_fail, cli_fail_rc) live here too, in the
 * library rather than beside main(), so that unit tests can run commands.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "egide/net/egide_httpc.h"

const cli_opt_t cli_api_opts[] = {
    {"--api", CLI_VALUE, "URL", "the daemon's API (default: the configuration, else local)", false},
    {"--token-file", CLI_VALUE, "FILE", "API bearer token (a 0600 file)", false},
    {"--config", CLI_VALUE, "FILE",
     "INI file with url, token_file, timeout_ms (default $EGIDE_CONFIG, else "
     "~/.config/egide/cli.ini)",
     false},
    {"--timeout", CLI_VALUE, "MS", "total request timeout in milliseconds", false},
    {NULL, CLI_FLAG, NULL, NULL, false},
};

const cli_opt_t cli_json_opts[] = {
    {"--json", CLI_FLAG, NULL, "machine-readable output (JSON)", false},
    {NULL, CLI_FLAG, NULL, NULL, false},
};

/* "egide: what: message[: egide_strerror(rc)]" on stderr (rc < 0: none). */
static void s_vfail(const char *what, int rc, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void s_vfail(const char *what, int rc, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    cli_progress_clear(); /* the error on a line of its own */
    if (rc < 0)
        fprintf(stderr, "egide: %s: %s\n", what, msg);
    else
        fprintf(stderr, "egide: %s: %s%s%s\n", what, msg, msg[0] ? ": " : "",
                egide_strerror((egide_rc)rc));
}

int cli_fail(const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vfail(what, -1, fmt, ap);
    va_end(ap);
    return 1;
}

int cli_fail_rc(const char *what, egide_rc rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vfail(what, (int)rc, fmt, ap);
    va_end(ap);
    return 1;
}

int cli_usage_fail(const cli_cmd_t *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vfail(cmd->name, -1, fmt, ap);
    va_end(ap);
    return 2;
}

static bool s_is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

/* The index of option a ("--x" or "--x=..."; *eq set to the value after
 * '=', or NULL) among the command's options, or -1. */
static int s_find(const cli_args_t *p, const char *a, const char **eq)
{
    *eq = NULL;
    for (size_t i = 0; i < p->n_opt; i++) {
        size_t n = strlen(p->opt[i]->name);
        if (strncmp(a, p->opt[i]->name, n) != 0)
            continue;
        if (a[n] == '\0')
            return (int)i;
        if (a[n] == '=') {
            *eq = a + n + 1;
            return (int)i;
        }
    }
    return -1;
}

int cli_parse(const cli_cmd_t *cmd, int argc, char **argv, cli_args_t *out)
{
    memset(out, 0, sizeof *out);
    out->cmd = cmd;
    for (size_t t = 0; t < CLI_MAX_TABLES && cmd->opts[t]; t++)
        for (const cli_opt_t *o = cmd->opts[t]; o->name; o++) {
            if (out->n_opt == CLI_MAX_OPTS)
                return cli_usage_fail(cmd, "too many options in the table (internal)");
            out->opt[out->n_opt++] = o;
        }
    /* --help wins over every error, so that it always helps. */
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (s_is_help(argv[i])) {
            cli_help(cmd, stdout);
            return CLI_HELP;
        }
    }
    bool only_pos = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (only_pos || a[0] != '-' || a[1] == '\0') { /* "-" is stdin, a value */
            if (out->n_pos >= cmd->max_args || out->n_pos >= CLI_MAX_POS)
                return cli_usage_fail(cmd, "unexpected argument '%s' (egide %s --help)", a,
                                      cmd->name);
            out->pos[out->n_pos++] = a;
            continue;
        }
        const char *eq;
        int k = s_find(out, a, &eq);
        if (k < 0)
            return cli_usage_fail(
                cmd, "unknown argument '%s': unknown option (egide %s --help lists them)", a,
                cmd->name);
        const cli_opt_t *o = out->opt[k];
        const char *v;
        if (o->kind == CLI_FLAG) {
            if (eq)
                return cli_usage_fail(cmd, "%s takes no value", o->name);
            v = o->name;
        } else if (eq) {
            v = eq;
        } else if (i + 1 < argc) {
            v = argv[++i];
        } else {
            return cli_usage_fail(cmd, "%s needs a value (%s %s)", o->name, o->name, o->arg);
        }
        if (o->kind == CLI_LIST) {
            if (out->n_list >= CLI_MAX_VALUES)
                return cli_usage_fail(cmd, "%s: too many values", o->name);
            out->list[out->n_list] = v;
            out->list_opt[out->n_list++] = (size_t)k;
        } else if (out->value[k]) {
            return cli_usage_fail(cmd, "%s given twice", o->name);
        }
        out->value[k] = v;
    }
    for (size_t k = 0; k < out->n_opt; k++)
        if (out->opt[k]->required && !out->value[k])
            return cli_usage_fail(cmd, "%s %s is required", out->opt[k]->name,
                                  out->opt[k]->arg ? out->opt[k]->arg : "");
    if (out->n_pos < cmd->min_args)
        return cli_usage_fail(cmd, "missing %s (egide %s --help)",
                              cmd->args ? cmd->args : "argument", cmd->name);
    return 0;
}

static int s_index(const cli_args_t *a, const char *name)
{
    for (size_t i = 0; i < a->n_opt; i++)
        if (strcmp(a->opt[i]->name, name) == 0)
            return (int)i;
    return -1;
}

const char *cli_get(const cli_args_t *a, const char *name)
{
    int k = s_index(a, name);
    return k < 0 ? NULL : a->value[k];
}

bool cli_has(const cli_args_t *a, const char *name)
{
    return cli_get(a, name) != NULL;
}

size_t cli_list(const cli_args_t *a, const char *name, const char **out, size_t max)
{
    int k = s_index(a, name);
    size_t n = 0;
    for (size_t i = 0; k >= 0 && i < a->n_list; i++)
        if (a->list_opt[i] == (size_t)k) {
            if (n < max)
                out[n] = a->list[i];
            n++;
        }
    return n;
}

void cli_help(const cli_cmd_t *cmd, void *file)
{
    FILE *f = file;
    fprintf(f, "usage: egide %s [OPTIONS]%s%s\n", cmd->name, cmd->args ? " " : "",
            cmd->args ? cmd->args : "");
    if (cmd->about)
        fprintf(f, "\n%s\n", cmd->about);
    const char *heading = NULL;
    for (size_t t = 0; t < CLI_MAX_TABLES && cmd->opts[t]; t++) {
        if (!cmd->opts[t][0].name)
            continue;
        /* One heading for the command's own options, one for the daemon's. */
        const char *h = cmd->opts[t] == cli_api_opts ? "talking to the daemon" : "options";
        if (!heading || (strcmp(h, heading) != 0 && cmd->opts[t] == cli_api_opts))
            fprintf(f, "\n%s:\n", h);
        heading = h;
        for (const cli_opt_t *o = cmd->opts[t]; o->name; o++) {
            char left[64];
            snprintf(left, sizeof left, "%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
            fprintf(f, "  %-24s %s%s%s\n", left, o->help ? o->help : "",
                    o->required ? " (required)" : "", o->kind == CLI_LIST ? " (repeatable)" : "");
        }
    }
    fprintf(f, "\n  %-24s %s\n", "--help", "this text");
}

/* The list of a group's subcommands, for "egide GROUP --help". */
static void s_group_usage(const char *group, const char *intro, const cli_cmd_t *cmds, size_t n,
                          FILE *f)
{
    fprintf(f, "usage: egide %s SUBCOMMAND [OPTIONS]   (egide %s SUBCOMMAND --help)\n\n", group,
            group);
    if (intro)
        fprintf(f, "%s\n\n", intro);
    size_t skip = strlen(group) + 1;
    for (size_t i = 0; i < n; i++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", cmds[i].name + skip, cmds[i].args ? " " : "",
                 cmds[i].args ? cmds[i].args : "");
        const char *about = cmds[i].about ? cmds[i].about : "";
        fprintf(f, "  %-22s %.*s\n", left, (int)strcspn(about, "\n"), about);
    }
}

int cli_parse_sub(const char *group, const char *intro, const cli_cmd_t *cmds, size_t n, int argc,
                  char **argv, size_t *which, cli_args_t *args)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        s_group_usage(group, intro, cmds, n, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : CLI_HELP;
    }
    size_t skip = strlen(group) + 1;
    for (size_t i = 0; i < n; i++)
        if (strncmp(cmds[i].name, group, skip - 1) == 0 &&
            strcmp(cmds[i].name + skip, argv[1]) == 0) {
            *which = i;
            return cli_parse(&cmds[i], argc - 2, argv + 2, args);
        }
    cli_fail(group, "unknown subcommand '%s' (egide %s --help lists them)", argv[1], group);
    return 2;
}

int cli_run(const cli_cmd_t *cmd, int argc, char **argv, int (*fn)(const cli_args_t *))
{
    cli_args_t args;
    int prc = cli_parse(cmd, argc, argv, &args);
    if (prc)
        return prc == CLI_HELP ? 0 : prc;
    return fn(&args);
}
