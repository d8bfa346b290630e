/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* cli_domain.c - placeholder until its issue lands: every command here says so and exits 2. */
#include "cli.h"
int cmd_validate(int argc, char **argv) { (void)argc; (void)argv; cli_fail("validate", "not available in this build yet"); return 2; }
int cmd_deadlines(int argc, char **argv) { (void)argc; (void)argv; cli_fail("deadlines", "not available in this build yet"); return 2; }
int cmd_export(int argc, char **argv) { (void)argc; (void)argv; cli_fail("export", "not available in this build yet"); return 2; }
