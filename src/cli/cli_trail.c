/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cli_trail.c - `egide trail verify --db EDGE.sqlite [--cert CERT]`: the
 * edge's trail of who read what (edge_trail.h), verified offline on a copy
 * of the edge's database: the whole Merkle tree recomputed from the
 * entries, every checkpoint's root and (with --cert, the edge's signing
 * certificate) its signature, and every index row against its entry.
 * Exit 0 when all holds, 1 when something does not (the first problem and
 * the entry are printed), 2 for bad options.  Prints no entry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/x509.h>

#include "cli.h"
#include "edge_store.h"
#include "edge_trail.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/crypto/egide_pki.h"
#include "egide/protocol/egide_checkpoint.h"
#include "egide/store/egide_db.h"

static const cli_opt_t s_opts[] = {
    {"--db", CLI_VALUE, "EDGE.sqlite", "the edge's database (or a copy)", true},
    {"--cert", CLI_VALUE, "CERT", "the edge's signing certificate: check the signatures", false},
    {NULL, CLI_FLAG, NULL, NULL, false},
};
static const char s_about_verify[] =
    "Recompute the edge's trail of who read what offline and check its signed checkpoints.";
static const cli_cmd_t s_cmds[] = {
    CLI_CMD("trail verify", NULL, 0, 0, s_about_verify, s_opts),
};

/* The node id a checkpoint's origin "egide.<node>/trail" names, or "". */
static void s_node_of(egide_auditlog_t *log, char *node, size_t size)
{
    node[0] = '\0';
    char *note = NULL;
    egide_checkpoint_t cp;
    if (egide_auditlog_latest_checkpoint(log, &note) == EGIDE_OK &&
        egide_checkpoint_parse(note, strlen(note), &cp) == EGIDE_OK) {
        size_t n = strlen(cp.origin);
        if (n > 12 && strncmp(cp.origin, "egide.", 6) == 0 &&
            strcmp(cp.origin + n - 6, "/trail") == 0 && n - 12 < size) {
            memcpy(node, cp.origin + 6, n - 12);
            node[n - 12] = '\0';
        }
    }
    free(note);
}

static int s_verify(const cli_args_t *a)
{
    const char *what = a->cmd->name, *path = cli_get(a, "--db"), *cert = cli_get(a, "--cert");
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return cli_fail(what, "%s: no such database", path);
    EVP_PKEY *pub = NULL;
    if (cert) {
        X509 *c = NULL;
        egide_rc rc = egide_cert_load(cert, &c);
        if (!rc)
            rc = egide_pki_cert_pubkey(c, EGIDE_CERT_USE_SIGN, &pub);
        X509_free(c);
        if (rc) {
            EVP_PKEY_free(pub); /* whatever a refused certificate left there */
            return cli_fail_rc(what, rc, "--cert %s: not a signing certificate", cert) + 1;
        }
    }
    sqlite3 *db = NULL;
    egide_auditlog_t *log = NULL;
    edge_trail_t *t = NULL;
    char node[EGIDE_MAX_NODE_ID + 1];
    egide_rc rc = egide_db_open(path, true, &db);
    if (!rc)
        rc = egide_auditlog_open(db, &log);
    if (!rc) {
        s_node_of(log, node, sizeof node);
        rc = edge_trail_open(db, node[0] ? node : "unknown", &t);
    }
    int ret = 0;
    if (rc == EGIDE_ERR_NOTFOUND) {
        ret = cli_fail(what, "%s: no trail in this database", path);
    } else if (rc) {
        ret = cli_fail_rc(what, rc, "%s", path);
    } else {
        egide_auditverify_report_t rep;
        rc = edge_trail_verify(t, pub, &rep);
        if (rc == EGIDE_OK) {
            printf("trail of %s verified: %llu entries, %llu checkpoints (%s), signed up to %llu\n",
                   node[0] ? node : "?", (unsigned long long)rep.size,
                   (unsigned long long)rep.checkpoints,
                   pub ? "signatures checked" : "roots only: give --cert to check signatures",
                   (unsigned long long)rep.signed_size);
        } else if (rc == EGIDE_ERR_CONSISTENCY) {
            if (rep.bad_index != EGIDE_AUDITVERIFY_NO_INDEX)
                ret = cli_fail(what, "NOT verified at entry %llu: %s",
                               (unsigned long long)rep.bad_index, rep.problem);
            else
                ret = cli_fail(what, "NOT verified: %s", rep.problem);
        } else {
            ret = cli_fail_rc(what, rc, "%s", path);
        }
    }
    edge_trail_destroy(&t);
    egide_auditlog_destroy(&log);
    egide_db_close(&db);
    EVP_PKEY_free(pub);
    return ret;
}

int cmd_trail(int argc, char **argv)
{
    size_t which = 0;
    cli_args_t args;
    int prc = cli_parse_sub("trail", NULL, s_cmds, sizeof s_cmds / sizeof s_cmds[0], argc, argv,
                            &which, &args);
    if (prc)
        return prc == CLI_HELP ? 0 : prc;
    return s_verify(&args);
}
