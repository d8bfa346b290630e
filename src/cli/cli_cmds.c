/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cli_cmds.c - the table of `egide`'s commands and the dispatch main() runs:
 * a command with an option table goes through cli_run(), a group of
 * subcommands through its own function (which uses cli_parse_sub()).  In
 * the library rather than beside main(), so that unit tests run exactly
 * what the binary runs.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "egide/base/egide_limits.h"

static const struct {
    const char *name;
    const cli_entry_t *entry;   /* a command with one option table, or NULL */
    int (*group)(int, char **); /* else: a group of subcommands */
    const char *summary;
} s_cmds[] = {
    {"send", &cli_send, NULL, "submit a message through the local edge"},
    {"inbox", &cli_inbox, NULL, "list received messages"},
    {"outbox", &cli_outbox, NULL, "list sent messages and their states"},
    {"show", &cli_show, NULL, "show one message with its receipts"},
    {"ack", &cli_ack, NULL, "acknowledge a received message"},
    {"status", &cli_status, NULL, "health of the local edge"},
    {"deadlines", &cli_deadlines, NULL, "open and overdue legal deadlines"},
    {"cases", &cli_cases, NULL, "list cases, or show one with its messages and obligations"},
    {"search", &cli_search, NULL, "search messages or cases by type, state, commune, reference..."},
    {"validate", &cli_validate, NULL, "check a payload file offline"},
    {"export", NULL, cmd_export, "pseudonymised observatory export"},
    {"seal", &cli_seal, NULL, "seal a payload into a signed envelope (offline)"},
    {"open", &cli_open, NULL, "verify and open a sealed envelope (offline)"},
    {"pki", NULL, cmd_pki, "PKI helpers (CURVE key pairs, fingerprints)"},
    {"directory", NULL, cmd_directory, "build, show, verify and query the signed directory"},
    {"audit", NULL, cmd_audit, "verify the broker's audit log (auditors)"},
    {"user", NULL, cmd_user, "personal accounts of the edge's web pages (offline, --db)"},
    {"backup", &cli_backup, NULL, "online consistent copy of an edge's or broker's database"},
    {"trail", NULL, cmd_trail, "verify an edge's trail of who read what (offline, --db)"},
};

static void s_usage(FILE *f)
{
    fprintf(f, "usage: egide COMMAND [OPTIONS]   (egide COMMAND --help for details)\n\n"
               "Égide command line: referrals between child-protection services.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof s_cmds / sizeof s_cmds[0]; i++)
        fprintf(f, "  %-10s %s\n", s_cmds[i].name, s_cmds[i].summary);
    fprintf(f, "\n  --help     this text\n  --version  print the version\n");
}

int cli_dispatch(int argc, char **argv)
{
    if (argc < 2) {
        s_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        s_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("egide %s (wire version %d)\n", EGIDE_VERSION_STRING, EGIDE_WIRE_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof s_cmds / sizeof s_cmds[0]; i++) {
        if (strcmp(argv[1], s_cmds[i].name) != 0)
            continue;
        if (s_cmds[i].entry)
            return cli_run(s_cmds[i].entry->cmd, argc - 2, argv + 2, s_cmds[i].entry->run);
        return s_cmds[i].group(argc - 1, argv + 1);
    }
    cli_fail("usage", "unknown command '%s' (egide --help lists them)", argv[1]);
    return 2;
}
