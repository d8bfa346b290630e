/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cli_main.c - main() of the `egide` command: logging, then the dispatch of
 * cli_cmds.c (the command table, --help and --version).
 */
#include "cli.h"
#include "egide/base/egide_log.h"

int main(int argc, char **argv)
{
    egide_log_init("egide", false, EGIDE_LOG_WARNING);
    return cli_dispatch(argc, argv);
}
