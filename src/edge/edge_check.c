/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_check.c - `egide-edge -n`: every file the configuration names,
 * opened and checked with the loaders edge_init() uses (see
 * egide_config_check.h): the signing and encryption keys and certificates,
 * the CURVE keys, the trust store and its CRL, the directory anchor and the
 * directory (which must list this node), the API token, the deadline
 * profile, the known-child key, the database's place.  One line per
 * problem; returns how many.
 */
#include "edge.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "egide/base/egide_token.h"
#include "egide/base/egide_util.h"
#include "egide/directory/egide_config_check.h"
#include "egide/domain/egide_deadline.h"
#include "egide/net/egide_transport.h"

/* A node key and its certificate, checked against each other. */
static void s_key_pair(egide_check_t *c, egide_config_t *cfg, const egide_trust_t *t,
                       const char *key_name, const char *cert_name, egide_cert_use use)
{
    const char *node = egide_config_str(cfg, "edge", "node_id");
    bool sign = use == EGIDE_CERT_USE_SIGN;
    char *p = egide_config_path(cfg, "edge", key_name);
    EVP_PKEY *key = NULL;
    egide_check_private_key(c, sign ? "signing key" : "encryption key", p, use, &key);
    free(p);
    if (!cert_name) {
        EVP_PKEY_free(key);
        return;
    }
    p = egide_config_path(cfg, "edge", cert_name);
    egide_check_node_cert(c, sign ? "signing certificate" : "encryption certificate", p, t, use,
                          node, key, NULL);
    free(p);
    EVP_PKEY_free(key);
}

static void s_curve(egide_check_t *c, const char *what, char *path, int secret)
{
    if (!path)
        return;
    if (secret && !egide_check_secret_file(c, what, path)) {
        free(path);
        return;
    }
    char k[41];
    egide_rc rc = egide_curve_key_read(path, secret, k);
    if (rc == EGIDE_ERR_NOTFOUND)
        egide_check_fail(c, what, path, "does not exist");
    else if (rc)
        egide_check_fail(c, what, path, "not a Z85 CURVE key (40 characters)");
    egide_wipe(k, sizeof k);
    free(path);
}

/* The directory the edge's database holds, if any, valid now under the
 * anchor (NULL otherwise: no database yet, none stored, or not valid). */
static egide_directory_t *s_stored_directory(egide_config_t *cfg, X509 *anchor, int64_t now_ms)
{
    char *db = egide_config_path(cfg, "edge", "database");
    edge_store_t *st = NULL;
    egide_directory_t *d = NULL;
    if (anchor && db && access(db, F_OK) == 0 &&
        edge_store_sqlite_ops.open_readonly(db, &st) == EGIDE_OK) {
        uint8_t *b = NULL;
        size_t n = 0;
        if (edge_store_meta_get(st, "directory", &b, &n) == EGIDE_OK &&
            egide_directory_load(b, n, anchor, 0, now_ms, &d) != EGIDE_OK)
            d = NULL;
        free(b);
        edge_store_close(&st);
    }
    free(db);
    return d;
}

int edge_check_config(egide_config_t *cfg)
{
    egide_check_t c = {.prog = "egide-edge", .now_ms = egide_now_ms()};
    const char *node = egide_config_str(cfg, "edge", "node_id");
    char *root = egide_config_path(cfg, "edge", "ca_root");
    char *chain = egide_config_path(cfg, "edge", "ca_chain");
    char *crl = egide_config_path(cfg, "edge", "crl");
    egide_trust_t *t = egide_check_trust(&c, root, chain, crl);
    free(root);
    free(chain);
    free(crl);
    s_key_pair(&c, cfg, t, "sign_key", "sign_cert", EGIDE_CERT_USE_SIGN);
    /* The encryption certificate is published in the directory, not
     * configured: the key alone is checked here. */
    s_key_pair(&c, cfg, t, "enc_key", NULL, EGIDE_CERT_USE_ENC);
    egide_trust_destroy(&t);
    s_curve(&c, "CURVE secret", egide_config_path(cfg, "edge", "curve_secret"), 1);
    s_curve(&c, "CURVE public key", egide_config_path(cfg, "edge", "curve_public"), 0);
    s_curve(&c, "broker CURVE key", egide_config_path(cfg, "edge", "broker_curve_public"), 0);

    char *p = egide_config_path(cfg, "edge", "directory_anchor");
    X509 *anchor = egide_check_anchor(&c, p);
    free(p);
    /* The edge starts with the newest of the directory its database holds
     * (later ones came from the broker) and the configured first one: with
     * a valid stored one, the configured file's problems (typically: long
     * expired) are warnings. */
    egide_directory_t *stored = s_stored_directory(cfg, anchor, c.now_ms);
    p = egide_config_path(cfg, "edge", "directory");
    egide_directory_t *d = NULL;
    if (p) {
        /* edge_init refuses a file it cannot read, stored directory or not. */
        c.warn_only = stored != NULL && access(p, R_OK) == 0;
        d = egide_check_directory(&c, p, anchor, stored ? NULL : node);
        c.warn_only = false;
    }
    if (stored) {
        if (!d || egide_directory_version(stored) >= egide_directory_version(d)) {
            egide_directory_destroy(&d);
            d = stored;
        } else {
            egide_directory_destroy(&stored);
        }
        if (!egide_directory_node(d, node))
            egide_check_fail(&c, "directory", p ? p : "(stored)",
                             "v%llu does not list this node (%s)",
                             (unsigned long long)egide_directory_version(d), node);
    } else if (!p) {
        egide_check_fail(&c, "[edge] directory", NULL,
                         "not set, and the database holds no valid directory");
    }
    if (d && !egide_config_str(cfg, "edge", "broker_endpoint") && !egide_directory_broker(d))
        egide_check_fail(&c, "directory", p ? p : "(stored)",
                         "names no broker endpoint (set [edge] broker_endpoint)");
    egide_directory_destroy(&d);
    free(p);
    X509_free(anchor);

    p = egide_config_path(cfg, "edge", "database");
    egide_check_writable(&c, "database", p);
    free(p);
    p = egide_config_path(cfg, "api", "token_file");
    if (egide_check_secret_file(&c, "API token", p)) {
        char *tok = NULL;
        if (egide_token_load(p, &tok) != EGIDE_OK)
            egide_check_fail(&c, "API token", p,
                             "not one line of at least %u printable characters without spaces",
                             EGIDE_TOKEN_MIN);
        egide_token_free(&tok);
    }
    free(p);
    p = egide_config_path(cfg, "deadlines", "profile");
    if (p) {
        char err[512] = "";
        egide_deadline_profile_t *prof = NULL;
        if (access(p, F_OK) != 0)
            egide_check_fail(&c, "deadline profile", p, "does not exist");
        else if (egide_deadline_profile_load(p, &prof, err, sizeof err) != EGIDE_OK)
            egide_check_fail(&c, "deadline profile", p, "%s", err[0] ? err : "cannot be loaded");
        egide_deadline_profile_destroy(&prof);
    }
    free(p);
    p = egide_config_path(cfg, "known_child", "key_file");
    if (p && egide_check_secret_file(&c, "known-child key", p)) {
        uint8_t *k = NULL;
        size_t klen = 0;
        if (egide_secret_read(p, 4096, &k, &klen) != EGIDE_OK || klen < 32)
            egide_check_fail(&c, "known-child key", p, "shorter than 32 bytes");
        egide_free_secret(k, klen);
    }
    free(p);
    return c.problems;
}
