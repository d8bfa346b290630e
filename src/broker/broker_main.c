/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * broker_main.c - egide-broker's main(): the shared daemon main (command
 * line, configuration, logging, signals) over broker_init, broker_run and
 * broker_fini, which live in the egide_brokerd library (see broker.h).
 */
#include "broker.h"

#include "egide/base/egide_daemon.h"

static int s_run(egide_config_t *cfg)
{
    broker_t b;
    int status = 1;
    if (broker_init(&b, cfg) == EGIDE_OK)
        status = broker_run(&b);
    broker_fini(&b);
    return status;
}

int main(int argc, char **argv)
{
    static const egide_daemon_spec_t spec = {
        "egide-broker",
        "Égide broker: routes signed, encrypted referrals between the nodes of a\n"
        "department's directory, keeps per-recipient queues and the audit log.\n"
        "SIGHUP reloads the directory and the CRL.\n",
        broker_config_schema, s_run};
    return egide_daemon_main(&spec, argc, argv);
}
