/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * broker_check.c - `egide-broker -n`: every file the configuration names,
 * opened and checked with the loaders broker_init() uses (see
 * egide_config_check.h): the signing key and certificate, the CURVE
 * secret, the trust store and its CRL, the directory anchor and the
 * directory (which must list this broker), the API token, the database's
 * place.  One line per problem; returns how many.
 */
#include "broker.h"

#include <stdlib.h>
#include <string.h>

#include "egide/base/egide_token.h"
#include "egide/base/egide_util.h"
#include "egide/directory/egide_config_check.h"
#include "egide/net/egide_transport.h"

int broker_check_config(egide_config_t *cfg)
{
    egide_check_t c = {.prog = "egide-broker", .now_ms = egide_now_ms()};
    const char *node = egide_config_str(cfg, "broker", "node_id");
    char *p = egide_config_path(cfg, "broker", "sign_key");
    EVP_PKEY *key = NULL;
    egide_check_private_key(&c, "signing key", p, EGIDE_CERT_USE_SIGN, &key);
    free(p);

    char *root = egide_config_path(cfg, "broker", "ca_root");
    char *chain = egide_config_path(cfg, "broker", "ca_chain");
    char *crl = egide_config_path(cfg, "broker", "crl");
    egide_trust_t *t = egide_check_trust(&c, root, chain, crl);
    free(root);
    free(chain);
    free(crl);
    p = egide_config_path(cfg, "broker", "sign_cert");
    egide_check_node_cert(&c, "signing certificate", p, t, EGIDE_CERT_USE_SIGN, node, key, NULL);
    free(p);
    EVP_PKEY_free(key);
    egide_trust_destroy(&t);

    p = egide_config_path(cfg, "broker", "curve_secret");
    if (egide_check_secret_file(&c, "CURVE secret", p)) {
        char secret[41];
        if (egide_curve_key_read(p, 1, secret) != EGIDE_OK)
            egide_check_fail(&c, "CURVE secret", p, "not a Z85 CURVE key (40 characters)");
        egide_wipe(secret, sizeof secret);
    }
    free(p);

    p = egide_config_path(cfg, "broker", "directory_anchor");
    X509 *anchor = egide_check_anchor(&c, p);
    free(p);
    p = egide_config_path(cfg, "broker", "directory");
    egide_directory_t *d = egide_check_directory(&c, p, anchor, node);
    free(p);
    egide_directory_destroy(&d);
    X509_free(anchor);

    if (strcmp(egide_config_str(cfg, "store", "backend"), "sqlite") == 0) {
        p = egide_config_path(cfg, "broker", "database");
        egide_check_writable(&c, "database", p);
        free(p);
    } else if (!egide_config_str(cfg, "store", "conninfo")) {
        egide_check_fail(&c, "[store] conninfo", NULL, "required with backend = postgresql");
    }
    p = egide_config_path(cfg, "audit", "checkpoint_file");
    if (p)
        egide_check_writable(&c, "checkpoint file", p);
    free(p);
    p = egide_config_path(cfg, "api", "token_file");
    if (p && egide_config_bool(cfg, "api", "enabled") &&
        egide_check_secret_file(&c, "API token", p)) {
        char *tok = NULL;
        if (egide_token_load(p, &tok) != EGIDE_OK)
            egide_check_fail(&c, "API token", p,
                             "not one line of at least %u printable characters without spaces",
                             EGIDE_TOKEN_MIN);
        egide_token_free(&tok);
    }
    free(p);
    return c.problems;
}
