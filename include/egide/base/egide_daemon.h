/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_daemon.h - what egide-broker and egide-edge share around their loop:
 * the command line (-c, -n, -v, --print-config, --help, --version), loading
 * and checking the configuration (errors as "file:line: message"), logging
 * set up from [log] level/syslog, and the signals (TERM/INT stop, HUP asks
 * for a reload, PIPE ignored).
 */
#ifndef EGIDE_DAEMON_H
#define EGIDE_DAEMON_H

#include <signal.h>
#include "egide/base/egide_config.h"

/* The flags the signal handlers set; the daemon's loop polls them. */
extern volatile sig_atomic_t egide_daemon_stop;
extern volatile sig_atomic_t egide_daemon_reload;

typedef struct egide_daemon_spec {
    const char *name;                 /* "egide-broker" */
    const char *description;          /* lines printed by --help */
    const egide_config_key_t *schema; /* must have [log] level and syslog */
    /* Start and run until egide_daemon_stop; returns the exit status. */
    int (*run)(egide_config_t *cfg);
    /* -n after the syntax check: open and check every file the configuration
     * names (keys, certificates, directory, CRL); prints one line on stderr
     * per problem and returns how many.  NULL: syntax only. */
    int (*check)(egide_config_t *cfg);
} egide_daemon_spec_t;

/* main() of a daemon.  Exit 0 for -n on a valid file, --help, --version;
 * 1 for a bad configuration (one line on stderr per problem); 2 for a usage
 * error. */
int egide_daemon_main(const egide_daemon_spec_t *spec, int argc, char **argv);

#endif
