/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * broker_dir.c - the trust store and the directory, at start-up and on
 * SIGHUP: the directory's signature by the pinned anchor, never an older
 * version, not expired; then every node's certificates against the root,
 * the chain and the CRLs (egide_peers).  A directory newer than the one held
 * is audited.  On any failure the old state stays.
 *
 * Validity is also checked as time passes, not only at load: the peers'
 * certificates are checked again every BROKER_PEERS_RECHECK_MS (the loop's
 * timer), and past the directory's not_after the broker refuses new work
 * with a transient error (broker_directory_valid) instead of signing
 * REJECTEDs: an expired directory is the department's to renew, and the
 * senders keep their referrals queued until it is.
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
    b->peers_ms = egide_now_ms();
    if (newer) {
        egide_directory_destroy(&b->dir);
        b->dir = d;
        if (b->store && atomic_load(&b->m.role) == BROKER_ACTIVE &&
            broker_audit_directory(b) != EGIDE_OK)
            egide_log(EGIDE_LOG_WARNING, "directory v%llu loaded but not audited",
                      (unsigned long long)egide_directory_version(b->dir));
    }
    atomic_store(&b->m.directory_version, egide_directory_version(b->dir));
    atomic_store(&b->m.directory_not_after_ms, egide_directory_not_after_ms(b->dir));
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

bool broker_directory_valid(broker_t *b, int64_t now_ms)
{
    int64_t na = egide_directory_not_after_ms(b->dir);
    if (now_ms <= na)
        return true;
    atomic_fetch_add(&b->m.directory_expired_refusals, 1);
    if (!b->dir_expired_log_ms || now_ms - b->dir_expired_log_ms >= 60000 ||
        now_ms < b->dir_expired_log_ms) {
        b->dir_expired_log_ms = now_ms;
        egide_log(EGIDE_LOG_ERROR,
                  "DIRECTORY EXPIRED: v%llu was valid until %lld ms (%lld s ago); new referrals "
                  "and connections are refused (transient error, senders keep them queued) "
                  "until a renewed directory is installed and the broker reloaded (SIGHUP); "
                  "%llu refused so far",
                  (unsigned long long)egide_directory_version(b->dir), (long long)na,
                  (long long)((now_ms - na) / 1000),
                  (unsigned long long)atomic_load(&b->m.directory_expired_refusals));
    }
    return false;
}

egide_rc broker_refresh_peers(broker_t *b, int64_t now_ms, bool force)
{
    if (!b->dir || !b->pki)
        return EGIDE_ERR_STATE;
    if (!force && now_ms >= b->peers_ms && now_ms - b->peers_ms < BROKER_PEERS_RECHECK_MS)
        return EGIDE_OK;
    egide_peers_t *p = NULL;
    egide_rc rc = egide_peers_build(b->dir, b->pki, now_ms, &p);
    if (rc) {
        egide_log(EGIDE_LOG_WARNING, "checking the directory's certificates again: %s",
                  egide_strerror(rc));
        return rc;
    }
    /* What time alone may change is a certificate's validity.  A node that
     * was valid and now fails for another reason (most likely a CRL past its
     * next update) is the department's to fix: refusing every node for it
     * would sign permanent REJECTEDs, so the checked table stays, loudly. */
    const Egide__V1__Directory *pb = egide_directory_pb(b->dir);
    for (size_t i = 0; i < pb->n_nodes; i++) {
        const egide_peer_t *o = egide_peers_get(b->peers, pb->nodes[i]->id);
        const egide_peer_t *n = egide_peers_get(p, pb->nodes[i]->id);
        if (o && n && o->status == EGIDE_OK && n->status != EGIDE_OK &&
            n->status != EGIDE_ERR_EXPIRED) {
            egide_log(EGIDE_LOG_ERROR,
                      "certificates of %s no longer verify (%s): is the CRL out of date? "
                      "keeping the certificate check of %lld s ago; install a fresh CRL and "
                      "reload (SIGHUP)",
                      pb->nodes[i]->id, egide_strerror(n->status),
                      (long long)((now_ms - b->peers_ms) / 1000));
            egide_peers_destroy(&p);
            return EGIDE_ERR_CERT;
        }
    }
    egide_peers_destroy(&b->peers);
    b->peers = p;
    b->peers_ms = now_ms;
    return EGIDE_OK;
}
