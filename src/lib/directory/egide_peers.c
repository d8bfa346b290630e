/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* egide_peers.c - verified, parsed node keys of a directory (see header). */
#include "egide/directory/egide_peers.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/x509.h>

#include "egide/crypto/egide_crypto.h"
#include "egide/base/egide_log.h"

struct egide_peers {
    egide_peer_t *v; /* sorted by node id */
    size_t n;
};

static int s_cmp(const void *a, const void *b)
{
    return strcmp(((const egide_peer_t *)a)->node->id, ((const egide_peer_t *)b)->node->id);
}

static egide_rc s_verify(const egide_trust_t *trust, const ProtobufCBinaryData *der,
                         egide_cert_use use, const char *id, int64_t now, EVP_PKEY **pub,
                         uint8_t fpr[32])
{
    X509 *c = NULL;
    egide_rc rc = egide_cert_from_der(der->data, der->len, &c);
    if (rc)
        return rc;
    egide_sha256(der->data, der->len, fpr);
    rc = egide_trust_verify_node(trust, c, use, id, now, pub);
    X509_free(c);
    return rc;
}

/* The validity period common to the node's two certificates (both 0 when
 * one does not parse or they do not meet). */
static void s_window(egide_peer_t *e)
{
    const ProtobufCBinaryData *der[2] = {&e->node->signing_cert_der, &e->node->encryption_cert_der};
    int64_t lo = INT64_MIN, hi = INT64_MAX;
    for (int i = 0; i < 2; i++) {
        egide_cert_facts_t f;
        if (egide_cert_facts(der[i]->data, der[i]->len, &f) != EGIDE_OK || !f.times_ok) {
            lo = 1, hi = 0;
            break;
        }
        lo = f.not_before_ms > lo ? f.not_before_ms : lo;
        hi = f.not_after_ms < hi ? f.not_after_ms : hi;
    }
    if (lo <= hi) {
        e->not_before_ms = lo;
        e->not_after_ms = hi;
    }
}

egide_rc egide_peers_build(const egide_directory_t *dir, const egide_trust_t *trust, int64_t now_ms,
                           egide_peers_t **out)
{
    *out = NULL;
    const Egide__V1__Directory *d = egide_directory_pb(dir);
    egide_peers_t *p = calloc(1, sizeof *p);
    if (!p)
        return EGIDE_ERR_NOMEM;
    p->v = calloc(d->n_nodes ? d->n_nodes : 1, sizeof *p->v);
    if (!p->v) {
        free(p);
        return EGIDE_ERR_NOMEM;
    }
    for (size_t i = 0; i < d->n_nodes; i++) {
        egide_peer_t *e = &p->v[p->n++];
        e->node = d->nodes[i];
        s_window(e);
        e->status = s_verify(trust, &e->node->signing_cert_der, EGIDE_CERT_USE_SIGN, e->node->id,
                             now_ms, &e->sign_pub, e->sign_fpr);
        if (!e->status)
            e->status = s_verify(trust, &e->node->encryption_cert_der, EGIDE_CERT_USE_ENC,
                                 e->node->id, now_ms, &e->enc_pub, e->enc_fpr);
        if (e->status) {
            egide_log(EGIDE_LOG_WARNING, "node %s: certificate refused: %s", e->node->id,
                      egide_strerror(e->status));
            EVP_PKEY_free(e->sign_pub);
            EVP_PKEY_free(e->enc_pub);
            e->sign_pub = e->enc_pub = NULL;
        }
    }
    qsort(p->v, p->n, sizeof *p->v, s_cmp);
    *out = p;
    return EGIDE_OK;
}

void egide_peers_destroy(egide_peers_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    egide_peers_t *p = *self_p;
    for (size_t i = 0; i < p->n; i++) {
        EVP_PKEY_free(p->v[i].sign_pub);
        EVP_PKEY_free(p->v[i].enc_pub);
    }
    free(p->v);
    free(p);
    *self_p = NULL;
}

const egide_peer_t *egide_peers_get(const egide_peers_t *p, const char *node_id)
{
    if (!p || !node_id)
        return NULL;
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(node_id, p->v[mid].node->id);
        if (c == 0)
            return &p->v[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

egide_rc egide_peer_verify_at(const egide_peer_t *peer, const egide_trust_t *trust,
                              const int64_t *at_ms, size_t n_at, int64_t *when_ms,
                              EVP_PKEY **sign_pub)
{
    if (when_ms)
        *when_ms = 0;
    if (sign_pub)
        *sign_pub = NULL;
    if (!peer || !trust || (!at_ms && n_at))
        return EGIDE_ERR_INVALID;
    if (peer->status != EGIDE_ERR_EXPIRED)
        return peer->status;
    size_t n = n_at + 2;
    for (size_t i = 0; i < n; i++) {
        int64_t t = i < n_at ? at_ms[i] : i == n_at ? peer->not_before_ms : peer->not_after_ms;
        if (t <= 0)
            continue;
        EVP_PKEY *sp = NULL, *ep = NULL;
        uint8_t fpr[32];
        egide_rc rc = s_verify(trust, &peer->node->signing_cert_der, EGIDE_CERT_USE_SIGN,
                               peer->node->id, t, &sp, fpr);
        if (!rc)
            rc = s_verify(trust, &peer->node->encryption_cert_der, EGIDE_CERT_USE_ENC,
                          peer->node->id, t, &ep, fpr);
        EVP_PKEY_free(ep);
        if (!rc) {
            if (when_ms)
                *when_ms = t;
            if (sign_pub)
                *sign_pub = sp;
            else
                EVP_PKEY_free(sp);
            return EGIDE_OK;
        }
        EVP_PKEY_free(sp);
        if (rc == EGIDE_ERR_REVOKED || rc == EGIDE_ERR_NOMEM)
            return rc; /* revoked at one time is revoked */
    }
    return peer->status;
}
