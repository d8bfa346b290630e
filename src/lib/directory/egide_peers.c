/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* egide_peers.c - verified, parsed node keys of a directory (see header). */
#include "egide/directory/egide_peers.h"

#include <stdlib.h>
#include <string.h>

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
