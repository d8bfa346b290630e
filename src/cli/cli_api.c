/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* cli_api.c - placeholder until its issue lands: every command here says so and exits 2. */
#include "cli.h"
int cmd_send(int argc, char **argv) { (void)argc; (void)argv; cli_fail("send", "not available in this build yet"); return 2; }
int cmd_inbox(int argc, char **argv) { (void)argc; (void)argv; cli_fail("inbox", "not available in this build yet"); return 2; }
int cmd_outbox(int argc, char **argv) { (void)argc; (void)argv; cli_fail("outbox", "not available in this build yet"); return 2; }
int cmd_show(int argc, char **argv) { (void)argc; (void)argv; cli_fail("show", "not available in this build yet"); return 2; }
int cmd_ack(int argc, char **argv) { (void)argc; (void)argv; cli_fail("ack", "not available in this build yet"); return 2; }
int cmd_status(int argc, char **argv) { (void)argc; (void)argv; cli_fail("status", "not available in this build yet"); return 2; }
