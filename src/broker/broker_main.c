/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * broker_main.c - egide-broker's main(): the shared daemon main (command
 * line, configuration, logging, signals) over the broker's init, loop and
 * fini, which live in the egide_brokerd library with everything else (see
 * broker.h).  It also tells systemd (Type=notify) when the broker serves
 * and when it stops; the loop reports its reloads itself (broker_loop.c).
 */
#include "broker.h"

#include "egide/base/egide_daemon.h"
#include "egide/base/egide_journal.h"
#include "egide/base/egide_notify.h"

/* broker_serve() with the service manager told: READY=1 once init has
 * bound the ROUTER and the API, STOPPING=1 when the loop ends. */
static int s_run(egide_config_t *cfg)
{
    broker_t b;
    int status = 1;
    egide_journal_attach(egide_config_str(cfg, "broker", "node_id"));
    if (broker_init(&b, cfg) == EGIDE_OK) {
        egide_notify("READY=1");
        status = broker_run(&b);
        egide_notify("STOPPING=1");
    }
    broker_fini(&b); /* also after a failed init: it frees what init made */
    return status;
}

int main(int argc, char **argv)
{
    static const egide_daemon_spec_t spec = {
        .name = "egide-broker",
        .description = "Égide broker: routes signed, encrypted referrals between the nodes of a\n"
                       "department's directory, keeps per-recipient queues and the audit log.\n"
                       "SIGHUP reloads the directory and the CRL.  -n opens and checks every file\n"
                       "the configuration names (keys, certificates, directory, CRL).\n",
        .schema = broker_config_schema,
        .run = s_run,
        .check = broker_check_config,
    };
    return egide_daemon_main(&spec, argc, argv);
}
