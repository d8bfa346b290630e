/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* cli_crypto.c - placeholder until its issue lands: every command here says so and exits 2. */
#include "cli.h"
int cmd_seal(int argc, char **argv) { (void)argc; (void)argv; cli_fail("seal", "not available in this build yet"); return 2; }
int cmd_open(int argc, char **argv) { (void)argc; (void)argv; cli_fail("open", "not available in this build yet"); return 2; }
int cmd_pki(int argc, char **argv) { (void)argc; (void)argv; cli_fail("pki", "not available in this build yet"); return 2; }
