/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * broker_dir.c - the trust store and the directory, at start-up and on
 * SIGHUP: the directory's signature by the pinned anchor, never an older
 * version, not expired; then every node's certificates against the root,
 * the chain and the CRLs (egide_peers).  A directory newer than the one held
 * is audited.  On any failure the old state stays.
 */
#include "broker.h"

#include <stdlib.h>

#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"

static egide_rc s_load_trust(broker_t *b, egide_trust_t **out)
{
    char *root = egide_config_path(b->cfg, "broker", "ca_root");
    char *chain = egide_config_path(b->cfg, "broker", "ca_chain");
    char *crl = egide_config_path(b->cfg, "broker", "crl");
    egide_rc rc = egide_trust_new(root, chain, crl, crl ? 0 : EGIDE_TRUST_NO_CRL, out);
    if (rc)
        egide_log(EGIDE_LOG_ERROR, "trust store (%s%s%s): %s", root, crl ? ", " : "",
                  crl ? crl : "", egide_strerror(rc));
    free(root);
    free(chain);
    free(crl);
    return rc;
}

egide_rc broker_audit_directory(broker_t *b)
{
    Egide__V1__AuditEvent ev = EGIDE__V1__AUDIT_EVENT__INIT;
    ev.type = EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_DIRECTORY_LOADED;
    ev.directory_version = egide_directory_version(b->dir);
    ev.node_id = b->node_id;
    egide_rc rc = broker_store_begin(b->store);
    if (rc)
        return rc;
    broker_audit(b, &ev, NULL);
    /* Its own transaction: nothing else is queued in b->out here. */
    return broker_commit(b);
}

static egide_rc s_fail(const char *what, egide_rc rc)
{
    egide_log(EGIDE_LOG_ERROR, "%s: %s", what, egide_strerror(rc));
    return rc;
}

egide_rc broker_load_directory(broker_t *b)
{
    egide_trust_t *t = NULL;
    egide_rc rc = s_load_trust(b, &t);
    if (rc)
        return rc;
    uint64_t cur = b->dir ? egide_directory_version(b->dir) : 0;
    egide_directory_t *d = NULL;
    rc = egide_directory_load_file(b->directory_path, b->anchor, cur, egide_now_ms(), &d);
    if (rc) {
        egide_trust_destroy(&t);
        return s_fail("directory", rc);
    }
    bool newer = !b->dir || egide_directory_version(d) > cur;
    if (!newer)
        egide_directory_destroy(&d); /* same version: keep ours, refresh certificates */
    egide_peers_t *p = NULL;
    rc = egide_peers_build(newer ? d : b->dir, t, egide_now_ms(), &p);
    if (rc) {
        egide_directory_destroy(&d);
        egide_trust_destroy(&t);
        return s_fail("directory certificates", rc);
    }
    egide_peers_destroy(&b->peers);
    egide_trust_destroy(&b->pki);
    b->pki = t;
    b->peers = p;
    if (newer) {
        egide_directory_destroy(&b->dir);
        b->dir = d;
        if (b->store && broker_audit_directory(b) != EGIDE_OK)
            egide_log(EGIDE_LOG_WARNING, "directory v%llu loaded but not audited",
                      (unsigned long long)egide_directory_version(b->dir));
    }
    atomic_store(&b->m.directory_version, egide_directory_version(b->dir));
    egide_log(EGIDE_LOG_NOTICE, "directory v%llu %s (%zu nodes), certificates and CRL checked",
              (unsigned long long)egide_directory_version(b->dir), newer ? "loaded" : "unchanged",
              egide_directory_pb(b->dir)->n_nodes);
    return EGIDE_OK;
}

egide_rc broker_reload_directory(broker_t *b)
{
    egide_rc rc = broker_load_directory(b);
    if (rc)
        egide_log(EGIDE_LOG_WARNING, "directory reload refused; keeping v%llu",
                  (unsigned long long)egide_directory_version(b->dir));
    return rc;
}
