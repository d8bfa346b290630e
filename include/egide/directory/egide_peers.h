/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_peers.h - the nodes of a directory with their certificates verified
 * once (chain to the department root, CRL, key usage, subject = node id) and
 * their public keys parsed, so the broker and edges check signatures and
 * wrap keys per message without touching X.509 again.  Rebuilt whenever a
 * new directory is loaded.
 */
#ifndef EGIDE_PEERS_H
#define EGIDE_PEERS_H

#include <stdint.h>
#include <openssl/evp.h>
#include "egide.pb-c.h"
#include "egide/directory/egide_directory.h"
#include "egide/crypto/egide_pki.h"
#include "egide/base/egide_rc.h"

typedef struct egide_peer {
    const Egide__V1__NodeEntry *node; /* borrowed from the directory */
    EVP_PKEY *sign_pub;               /* Ed25519, NULL unless status == EGIDE_OK */
    uint8_t sign_fpr[32];             /* SHA-256 of the signing certificate DER */
    EVP_PKEY *enc_pub;                /* X25519, NULL unless status == EGIDE_OK */
    uint8_t enc_fpr[32];              /* SHA-256 of the encryption certificate DER */
    egide_rc status; /* EGIDE_OK, or why its certificates fail (CERT, REVOKED, EXPIRED) */
    /* The validity period common to its two certificates (Unix ms, from
     * notBefore to notAfter inclusive), whatever the status; both 0 when a
     * certificate does not parse or the two periods do not meet. */
    int64_t not_before_ms, not_after_ms;
} egide_peer_t;

typedef struct egide_peers egide_peers_t;

/* Verify every node's certificates against trust at now_ms.  A node whose
 * certificates fail is kept with its status set (and logged): the directory
 * stays usable for the others.  The directory must outlive the table. */
egide_rc egide_peers_build(const egide_directory_t *dir, const egide_trust_t *trust, int64_t now_ms,
                           egide_peers_t **out);
void egide_peers_destroy(egide_peers_t **self_p);
/* The peer with that id, or NULL. */
const egide_peer_t *egide_peers_get(const egide_peers_t *p, const char *node_id);

/* EGIDE_ERR_EXPIRED from egide_peers_build only says that the certificates
 * were outside their validity period at now_ms, i.e. by one clock.  This
 * verifies the peer's two certificates again, in full (chain, CRL, key
 * usage, node id), at each non-zero time of at_ms[0..n_at) and then at the
 * start and at the end of their common validity period, and stops at the
 * first time that passes: EGIDE_OK, *when_ms (may be NULL) that time and
 * *sign_pub (may be NULL) a new reference to the signing key.  Otherwise
 * EGIDE_ERR_REVOKED at the first attempt that says so (revocation does not
 * depend on the time), EGIDE_ERR_NOMEM, else peer->status.  A status
 * other than EGIDE_ERR_EXPIRED is returned as it is, without retrying: a
 * revoked certificate, a wrong chain or name are not a matter of time. */
egide_rc egide_peer_verify_at(const egide_peer_t *peer, const egide_trust_t *trust,
                              const int64_t *at_ms, size_t n_at, int64_t *when_ms,
                              EVP_PKEY **sign_pub);

#endif
