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

#endif
