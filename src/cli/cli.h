/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cli.h - the `egide` command: one function per top-level command, each in
 * the cli_*.c file of its area.  Every command prints errors as one line
 * "egide: WHAT: why" on stderr and returns non-zero; --json switches output
 * to JSON for machines where the command has output.
 */
#ifndef EGIDE_CLI_H
#define EGIDE_CLI_H

#include <stdbool.h>
#include "egide/base/egide_rc.h"

/* Print "egide: <what>: <formatted message>\n" to stderr; returns 1. */
int cli_fail(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same with the egide_rc text appended; returns 1. */
int cli_fail_rc(const char *what, egide_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* cli_crypto.c: sealed envelopes and PKI helpers. */
int cmd_seal(int argc, char **argv);
int cmd_open(int argc, char **argv);
int cmd_pki(int argc, char **argv);
/* cli_directory.c: build, show, verify, route. */
int cmd_directory(int argc, char **argv);
/* cli_audit.c: checkpoint, prove, consistency, export, verify, history. */
int cmd_audit(int argc, char **argv);
/* cli_domain.c: payload validation, deadlines, observatory export. */
int cmd_validate(int argc, char **argv);
int cmd_deadlines(int argc, char **argv);
int cmd_export(int argc, char **argv);
/* cli_api.c: talking to the local edge API. */
int cmd_send(int argc, char **argv);
int cmd_inbox(int argc, char **argv);
int cmd_outbox(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_ack(int argc, char **argv);
int cmd_status(int argc, char **argv);

#endif
