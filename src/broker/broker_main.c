/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * broker_main.c - egide-broker's main(): the shared daemon main (command
 * line, configuration, logging, signals) over broker_serve, which lives in
 * the egide_brokerd library with everything else (see broker.h).
 */
#include "broker.h"

#include "egide/base/egide_daemon.h"

int main(int argc, char **argv)
{
    static const egide_daemon_spec_t spec = {
        "egide-broker",
        "Égide broker: routes signed, encrypted referrals between the nodes of a\n"
        "department's directory, keeps per-recipient queues and the audit log.\n"
        "SIGHUP reloads the directory and the CRL.\n",
        broker_config_schema, broker_serve};
    return egide_daemon_main(&spec, argc, argv);
}
