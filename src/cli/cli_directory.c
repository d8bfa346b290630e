/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* cli_directory.c - placeholder until its issue lands: every command here says so and exits 2. */
#include "cli.h"
int cmd_directory(int argc, char **argv) { (void)argc; (void)argv; cli_fail("directory", "not available in this build yet"); return 2; }
