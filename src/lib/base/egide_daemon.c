/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* egide_daemon.c - the shared main() of the daemons (see egide_daemon.h). */
#include "egide/base/egide_daemon.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "egide/base/egide_limits.h"
#include "egide/base/egide_log.h"

volatile sig_atomic_t egide_daemon_stop = 0;
volatile sig_atomic_t egide_daemon_reload = 0;

static void s_on_term(int sig)
{
    (void)sig;
    egide_daemon_stop = 1;
}

static void s_on_hup(int sig)
{
    (void)sig;
    egide_daemon_reload = 1;
}

static void s_usage(const egide_daemon_spec_t *spec, FILE *f)
{
    fprintf(f,
            "usage: %s -c CONFIG [-n] [-v]\n"
            "  -c, --config FILE   configuration (INI)\n"
            "  -n, --check         check the configuration and exit\n"
            "  -v, --verbose       log at debug level\n"
            "      --print-config  print every configuration key with its default\n"
            "  -h, --help          this text\n"
            "      --version       print the version\n"
            "%s",
            spec->name, spec->description);
}

int egide_daemon_main(const egide_daemon_spec_t *spec, int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"check", no_argument, NULL, 'n'},
                                         {"verbose", no_argument, NULL, 'v'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {"print-config", no_argument, NULL, 'P'},
                                         {NULL, 0, NULL, 0}};
    const char *config = NULL;
    bool check = false, verbose = false;
    int c;
    while ((c = getopt_long(argc, argv, "c:nvh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'n':
            check = true;
            break;
        case 'v':
            verbose = true;
            break;
        case 'h':
            s_usage(spec, stdout);
            return 0;
        case 'V':
            printf("%s %s\n", spec->name, EGIDE_VERSION_STRING);
            return 0;
        case 'P':
            egide_config_print_schema(spec->schema, stdout);
            return 0;
        default:
            s_usage(spec, stderr);
            return 2;
        }
    }
    if (!config || optind != argc) {
        s_usage(spec, stderr);
        return 2;
    }
    egide_log_init(spec->name, false, EGIDE_LOG_NOTICE);
    char err[1024];
    egide_config_t *cfg = NULL;
    if (egide_config_load(config, spec->schema, &cfg, err, sizeof err) != EGIDE_OK) {
        fprintf(stderr, "%s: %s\n", spec->name, err);
        return 1;
    }
    if (check) {
        /* Only errors: the loaders' own warnings would repeat the lines the
         * check prints. */
        egide_log_init(spec->name, false, EGIDE_LOG_ERROR);
        int problems = spec->check ? spec->check(cfg) : 0;
        if (problems) {
            fprintf(stderr, "%s: configuration %s: %d problem%s\n", spec->name, config, problems,
                    problems == 1 ? "" : "s");
            egide_config_destroy(&cfg);
            return 1;
        }
        printf("%s: configuration %s is valid\n", spec->name, config);
        egide_config_destroy(&cfg);
        return 0;
    }
    egide_log_level lvl = EGIDE_LOG_NOTICE;
    egide_log_parse_level(egide_config_str(cfg, "log", "level"), &lvl);
    egide_log_init(spec->name, egide_config_bool(cfg, "log", "syslog"),
                   verbose ? EGIDE_LOG_DEBUG : lvl);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = s_on_hup;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int status = spec->run(cfg);
    egide_config_destroy(&cfg);
    return status;
}
