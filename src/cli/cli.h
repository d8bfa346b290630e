/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cli.h - the `egide` command: one entry per top-level command (its option
 * table and its body, or a function for a group of subcommands), each in the
 * cli_*.c file of its area.  Every command prints errors as one line
 * "egide: WHAT: why" on stderr and returns non-zero; --json switches output
 * to JSON for machines where the command has output.
 */
#ifndef EGIDE_CLI_H
#define EGIDE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <limits.h>

#include <jansson.h>

#include "egide/base/egide_rc.h"
#include "egide/net/egide_httpc.h"

/* Print "egide: <what>: <formatted message>\n" to stderr; returns 1. */
int cli_fail(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same with the egide_rc text appended; returns 1. */
int cli_fail_rc(const char *what, egide_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- cli_opts.c: one option table and one parser for every command ----
 *
 * Each command describes itself with a cli_cmd_t: its name, its positional
 * arguments, a paragraph for --help, and up to CLI_MAX_TABLES tables of
 * options (its own, then shared groups such as cli_api_opts).  cli_parse()
 * reads "--name VALUE", "--name=VALUE", flags, "--" and positional
 * arguments in any order, and refuses with one line on stderr and exit
 * status 2: an unknown option, a missing value, a value given to a flag, an
 * option given twice (unless it is a list), a missing required option, too
 * many or too few positional arguments.  --help (or -h) anywhere prints the
 * help generated from the tables. */

typedef enum cli_opt_kind {
    CLI_FLAG = 0, /* --json: present or not */
    CLI_VALUE,    /* --type TYPE: once */
    CLI_LIST,     /* --to NODE: repeatable, every value kept in order */
} cli_opt_kind;

/* One option.  A table ends with a row whose name is NULL. */
typedef struct cli_opt {
    const char *name;  /* "--type" */
    cli_opt_kind kind; /* flag, value or list */
    const char *arg;   /* the value's name in --help ("TYPE"); NULL for flags */
    const char *help;  /* one line for --help */
    bool required;     /* missing -> "--type TYPE is required" */
} cli_opt_t;

#define CLI_MAX_TABLES 4u  /* option tables of one command */
#define CLI_MAX_OPTS   48u /* options of one command, all tables together */
#define CLI_MAX_VALUES 64u /* values of list options on one command line */
#define CLI_MAX_POS    4u  /* positional arguments */

typedef struct cli_cmd {
    const char *name;                      /* "send", "directory build": prefix of errors */
    const char *args;                      /* positional part of the usage line, or NULL */
    size_t min_args, max_args;             /* how many positional arguments */
    const char *about;                     /* paragraph for --help */
    const cli_opt_t *opts[CLI_MAX_TABLES]; /* the command's tables, NULL after the last */
} cli_cmd_t;

/* A cli_cmd_t initializer: name, positional part, min and max positional
 * arguments, the --help paragraph, then the option tables. */
#define CLI_CMD(name, args, min, max, about, ...)                                                  \
    {                                                                                              \
        name, args, min, max, about,                                                               \
        {                                                                                          \
            __VA_ARGS__                                                                            \
        }                                                                                          \
    }

/* The options of every command that talks to a daemon, and --json. */
extern const cli_opt_t cli_api_opts[];
extern const cli_opt_t cli_json_opts[];

/* A parsed command line.  Invariant after cli_parse() returned 0: every
 * value points into argv; options are those of cmd's tables only. */
typedef struct cli_args {
    const cli_cmd_t *cmd;
    const cli_opt_t *opt[CLI_MAX_OPTS]; /* the command's options, tables merged */
    size_t n_opt;
    const char *value[CLI_MAX_OPTS];  /* last value (flags: the option's name), or NULL */
    const char *list[CLI_MAX_VALUES]; /* values of list options, in order */
    size_t list_opt[CLI_MAX_VALUES];  /* which option each list value belongs to */
    size_t n_list;
    const char *pos[CLI_MAX_POS]; /* positional arguments */
    size_t n_pos;
} cli_args_t;

/* Parse argv[0..argc-1] (the arguments after the command's own words) for
 * cmd.  Returns 0 when parsed; CLI_HELP when --help was printed on stdout
 * (the command then exits 0); 2 after printing a usage error. */
#define CLI_HELP (-1)
int cli_parse(const cli_cmd_t *cmd, int argc, char **argv, cli_args_t *out);
/* Parse argv[0..argc-1] for cmd, then run fn on the result.  Returns fn's
 * exit status, 0 after --help, 2 after a usage error. */
int cli_run(const cli_cmd_t *cmd, int argc, char **argv, int (*fn)(const cli_args_t *));
/* For a command with subcommands ("egide directory build"): find argv[1]
 * among cmds[0..n-1], each named "GROUP SUB", and parse the arguments after
 * it into *args.  Returns 0 with *which set when the subcommand is to run;
 * CLI_HELP after printing help (the group's list, generated from cmds with
 * intro above it, or the subcommand's); 2 after a usage error (no or an
 * unknown subcommand included). */
int cli_parse_sub(const char *group, const char *intro, const cli_cmd_t *cmds, size_t n, int argc,
                  char **argv, size_t *which, cli_args_t *args);
/* The value of option name ("--type"), or NULL when not given.  Borrowed. */
const char *cli_get(const cli_args_t *a, const char *name);
/* Whether option name was given. */
bool cli_has(const cli_args_t *a, const char *name);
/* The values of list option name, in order: *n of them, at most max copied
 * into out; returns the total count (may exceed max: the caller refuses). */
size_t cli_list(const cli_args_t *a, const char *name, const char **out, size_t max);
/* Print cmd's help (generated from its tables) to f (a FILE *). */
void cli_help(const cli_cmd_t *cmd, void *f);
/* Print "egide: <cmd>: <message>" and return 2 (a usage error). */
int cli_usage_fail(const cli_cmd_t *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- cli_progress.c: how far long work is, on a terminal ----------------
 *
 * One line on stderr redrawn with \r ("egide audit verify: 1200 of 5000
 * entries (24%)"), at most CLI_PROGRESS_EVERY_MS apart (the first update is
 * drawn at once), erased by cli_progress_end() so that what the command
 * prints next starts on a clean line.  Only when stderr is a terminal:
 * scripts, pipes and CI logs never see it.  An error printed by cli_fail()
 * while a line is shown erases it first. */

#define CLI_PROGRESS_EVERY_MS 250 /* at most 4 redraws a second */

typedef struct cli_progress {
    FILE *out;               /* where the line is drawn; NULL: progress off */
    const char *label;       /* "audit verify" (after "egide ") */
    const char *unit;        /* "entries", "pages", "nodes" */
    int64_t (*now_ms)(void); /* monotonic clock; tests give their own */
    int64_t last_ms;         /* when the line was last drawn */
    size_t width;            /* length of the line on screen, 0: none */
    unsigned draws;          /* how many times a line was drawn */
} cli_progress_t;

/* Begin: on when stderr is a terminal (isatty), else every call is a no-op. */
void cli_progress_start(cli_progress_t *p, const char *label, const char *unit);
/* Begin drawing on out (NULL: off) whatever it is (tests). */
void cli_progress_start_on(cli_progress_t *p, FILE *out, const char *label, const char *unit);
/* done of total (total 0: unknown, the count alone is shown). */
void cli_progress_update(cli_progress_t *p, uint64_t done, uint64_t total);
/* The same as a callback (arg is the cli_progress_t *). */
void cli_progress_cb(void *arg, uint64_t done, uint64_t total);
/* Erase the line; idempotent. */
void cli_progress_end(cli_progress_t *p);
/* Erase whichever line is shown (cli_fail() calls it). */
void cli_progress_clear(void);

/* ---- cli_conn.c: talking to a daemon's API ------------------------------ */

/* Which daemon, and how its options resolve. */
typedef struct cli_conn_spec {
    const char *section;     /* the configuration file's section: "api" (the edge) */
    const char *default_url; /* without --api nor url = */
    long timeout_ms;         /* default timeout, 0 = EGIDE_HTTPC_DEFAULT_TIMEOUT_MS */
    bool any_token;          /* send the token file's line whatever its length (the
                                daemon judges it) instead of egide_token_load()'s rules */
} cli_conn_spec_t;

/* The local edge's REST API: [api], http://127.0.0.1:7720. */
extern const cli_conn_spec_t cli_edge;

/* One command's connection.  Invariant after cli_conn_setup() returned 0:
 * url has no trailing '/', token is NULL or loaded (wiped by
 * cli_conn_done()). */
typedef struct cli_conn {
    const char *what;             /* command name, the prefix of error lines */
    const cli_conn_spec_t *spec;  /* borrowed */
    char url[512];                /* API base URL */
    char token_file[PATH_MAX];    /* "" = send no token */
    const char *config;           /* --config FILE, or NULL */
    bool url_set, token_file_set; /* given on the command line (they win) */
    bool timeout_set;
    bool json;       /* --json */
    long timeout_ms; /* total request timeout */
    char *token;     /* loaded token, or NULL */
} cli_conn_t;

/* Resolve --api, --token-file, --config, --timeout and --json of a (command
 * line first, then the [spec->section] of --config, $EGIDE_CONFIG or
 * ~/.config/egide/cli.ini when it exists, then the defaults) and load the
 * token.  Returns 0, or the exit status after printing one line (2 for a
 * bad option value, 1 for a bad file or URL).  Call cli_conn_done() in both
 * cases. */
int cli_conn_setup(cli_conn_t *c, const cli_args_t *a, const cli_conn_spec_t *spec);
/* Wipe the token; a failed write to stdout turns ret 0 into 1 (scripts must
 * never take truncated output).  Returns the exit status. */
int cli_conn_done(cli_conn_t *c, int ret);
/* One request to the edge's API.  On success (2xx with a JSON object body)
 * *out holds the parsed body and *resp the raw one (caller frees both) and
 * 0 is returned; otherwise the error is printed (one line per detail the
 * server gave; msg_id names the message of a 404) and 1 returned. */
int cli_conn_call(cli_conn_t *c, const char *method, const char *path, json_t *body,
                  const char *msg_id, egide_httpc_resp_t *resp, json_t **out);
/* cli_conn_setup() then cli_conn_call(): one command, one request.  *resp
 * and *out are initialised first, so the caller frees them in every case. */
int cli_conn_request(cli_conn_t *c, const cli_args_t *a, const cli_conn_spec_t *spec,
                     const char *method, const char *path, json_t *body, const char *msg_id,
                     egide_httpc_resp_t *resp, json_t **out);
/* --json: the server's bytes as they came, with a final newline. */
void cli_conn_print_raw(const egide_httpc_resp_t *r);
/* Copy s into out without C0/C1 control characters nor DEL (UTF-8 kept,
 * never cut inside a character).  Returns out. */
const char *cli_clean(const char *s, char *out, size_t outsz);
/* A JSON member as clean printable text ("-" when absent or null). */
const char *cli_field(json_t *o, const char *key, char *out, size_t outsz);

/* cli_cmds.c: run `egide argv[1] ...` as main() does (argv[0] is the
 * program).  Returns the exit status. */
int cli_dispatch(int argc, char **argv);

/* A command without subcommands: its description and its body, which main()
 * runs through cli_run(). */
typedef struct cli_entry {
    const cli_cmd_t *cmd;               /* options, --help */
    int (*run)(const cli_args_t *args); /* returns the exit status */
} cli_entry_t;

/* cli_crypto.c: sealed envelopes and PKI helpers. */
extern const cli_entry_t cli_seal, cli_open;
int cmd_pki(int argc, char **argv);
/* cli_directory.c: build, show, verify, route. */
int cmd_directory(int argc, char **argv);
/* cli_audit.c: checkpoint, prove, consistency, export, verify, history. */
int cmd_audit(int argc, char **argv);
/* cli_domain.c: payload validation, deadlines, observatory export. */
extern const cli_entry_t cli_validate, cli_deadlines;
int cmd_export(int argc, char **argv);
/* cli_user.c: personal accounts on the edge's database (offline). */
int cmd_user(int argc, char **argv);
/* cli_trail.c: the edge's trail of who read what, verified offline. */
int cmd_trail(int argc, char **argv);
/* cli_api.c: talking to the local edge API. */
extern const cli_entry_t cli_send, cli_inbox, cli_outbox, cli_show, cli_ack, cli_status;
/* cli_search.c */
extern const cli_entry_t cli_search, cli_cases;
extern const cli_entry_t cli_backup; /* cli_backup.c */

#endif
