/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cli_main.c - main() of the `egide` command: dispatches to one function per
 * command (see cli.h) and owns --help and --version.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "egide/base/egide_limits.h"
#include "egide/base/egide_log.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} s_cmds[] = {
    {"send", cmd_send, "submit a message through the local edge"},
    {"inbox", cmd_inbox, "list received messages"},
    {"outbox", cmd_outbox, "list sent messages and their states"},
    {"show", cmd_show, "show one message with its receipts"},
    {"ack", cmd_ack, "acknowledge a received message"},
    {"status", cmd_status, "health of the local edge"},
    {"deadlines", cmd_deadlines, "open and overdue legal deadlines"},
    {"validate", cmd_validate, "check a payload file offline"},
    {"export", cmd_export, "pseudonymised observatory export"},
    {"seal", cmd_seal, "seal a payload into a signed envelope (offline)"},
    {"open", cmd_open, "verify and open a sealed envelope (offline)"},
    {"pki", cmd_pki, "PKI helpers (CURVE key pairs, fingerprints)"},
    {"directory", cmd_directory, "build, show, verify and query the signed directory"},
    {"audit", cmd_audit, "verify the broker's audit log (auditors)"},
};

static void s_usage(FILE *f)
{
    fprintf(f, "usage: egide COMMAND [OPTIONS]   (egide COMMAND --help for details)\n\n"
               "Égide command line: referrals between child-protection services.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof s_cmds / sizeof s_cmds[0]; i++)
        fprintf(f, "  %-10s %s\n", s_cmds[i].name, s_cmds[i].summary);
    fprintf(f, "\n  --help     this text\n  --version  print the version\n");
}

int main(int argc, char **argv)
{
    egide_log_init("egide", false, EGIDE_LOG_WARNING);
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
    for (size_t i = 0; i < sizeof s_cmds / sizeof s_cmds[0]; i++)
        if (strcmp(argv[1], s_cmds[i].name) == 0)
            return s_cmds[i].fn(argc - 1, argv + 1);
    cli_fail("usage", "unknown command '%s' (egide --help lists them)", argv[1]);
    return 2;
}
