/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_pki.h - the department PKI as seen by a node: a trust store (root CA,
 * issuing chain, CRLs), verification of a node's certificate to the root with
 * CRL checking at an explicit time, and the checks that tie a certificate to
 * a node and a use (key type, key usage, subject CN = node id).
 *
 * Chain and CRL checks are kept apart from envelope processing so that the
 * broker and edges verify each certificate once per directory version, cache
 * the resulting EVP_PKEY, and hand that to egide_envelope_* per message.
 *
 * Errors: EGIDE_ERR_REVOKED (a certificate in the chain is on a CRL),
 * EGIDE_ERR_EXPIRED (the certificate is expired or not yet valid at the
 * verification time, or a CA of its chain is), EGIDE_ERR_CERT (anything else: unknown issuer, bad
 * signature, missing or stale CRL, wrong key type/usage/name).
 */
#ifndef EGIDE_PKI_H
#define EGIDE_PKI_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "egide/base/egide_rc.h"

/* What a node certificate is for. */
typedef enum egide_cert_use {
    EGIDE_CERT_USE_SIGN = 1, /* Ed25519, keyUsage digitalSignature (envelopes, receipts) */
    EGIDE_CERT_USE_ENC = 2,  /* X25519, keyUsage keyAgreement (HPKE recipient key) */
} egide_cert_use;

/* Flags of egide_trust_new(). */
#define EGIDE_TRUST_NO_CRL 0x1u /* allow a store without CRLs (revocation NOT checked) */

/* A trust store: one department root, its intermediates and CRLs.
 * Immutable after creation; may be shared by threads for verification. */
typedef struct egide_trust egide_trust_t;

/* Build a trust store.
 *   root_path   PEM file with the root CA certificate(s) (trust anchors)
 *   chain_path  NULL or a PEM file of intermediates (e.g. ca/chain.pem; a
 *               root found in it is ignored as an anchor: only root_path is trusted)
 *   crl_path    NULL or a PEM file of one or more CRLs (e.g. ca/crl.pem)
 *   flags       0, or EGIDE_TRUST_NO_CRL to accept crl_path == NULL
 * Without a CRL and without EGIDE_TRUST_NO_CRL this returns EGIDE_ERR_CONFIG:
 * revocation checking is on unless explicitly turned off.
 * Returns EGIDE_ERR_NOTFOUND / EGIDE_ERR_IO for missing or unreadable files,
 * EGIDE_ERR_CERT for unparsable certificates, EGIDE_ERR_PROTO for a CRL file
 * without any CRL.  *out is the caller's (egide_trust_destroy). */
egide_rc egide_trust_new(const char *root_path, const char *chain_path, const char *crl_path,
                         unsigned flags, egide_trust_t **out);

/* NULL-safe; nulls *self_p. */
void egide_trust_destroy(egide_trust_t **self_p);

/* Verify cert to the root through the store's intermediates, with
 * X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL (unless the store was made
 * with EGIDE_TRUST_NO_CRL), at time at_ms (Unix ms; 0 = now).  extra_chain may
 * be NULL or more untrusted intermediates.  EGIDE_OK, EGIDE_ERR_REVOKED,
 * EGIDE_ERR_EXPIRED or EGIDE_ERR_CERT. */
egide_rc egide_trust_verify(const egide_trust_t *t, X509 *cert, STACK_OF(X509) * extra_chain,
                            int64_t at_ms);

/* Check that cert is a node certificate for use and node_id: key type
 * (Ed25519 / X25519), keyUsage extension present with the bit of the use,
 * not a CA, and exactly one subject CN equal to node_id (byte for byte).
 * node_id may be NULL to skip the name check.  EGIDE_ERR_CERT otherwise. */
egide_rc egide_pki_check_node_cert(X509 *cert, egide_cert_use use, const char *node_id);

/* egide_trust_verify() then egide_pki_check_node_cert(); on success and when
 * pub_out is not NULL, *pub_out is a new reference to the certificate's public
 * key (EVP_PKEY_free) ready for egide_envelope_* / egide_receipt_*. */
egide_rc egide_trust_verify_node(const egide_trust_t *t, X509 *cert, egide_cert_use use,
                                 const char *node_id, int64_t at_ms, EVP_PKEY **pub_out);

/* The subject's single commonName as a NUL-terminated string in out (size
 * outsz).  EGIDE_ERR_CERT when there is none, several, or it contains a NUL
 * or a non-printable byte; EGIDE_ERR_LIMIT when it does not fit. */
egide_rc egide_pki_cert_cn(X509 *cert, char *out, size_t outsz);

/* The certificate's public key (new reference), checked to be of the type of
 * use.  EGIDE_ERR_CERT on a wrong key type. */
egide_rc egide_pki_cert_pubkey(X509 *cert, egide_cert_use use, EVP_PKEY **out);

/* Load a node private key (PEM, file must be 0600 or stricter: EGIDE_ERR_PERM)
 * and check its type for use (EGIDE_ERR_CERT if wrong). */
egide_rc egide_pki_load_key(const char *path, egide_cert_use use, EVP_PKEY **out);

/* Load every certificate of a PEM file (at most 16, at most
 * EGIDE_MAX_CERT_FILE bytes).  *out is the caller's
 * (OSSL_STACK_OF_X509_free / sk_X509_pop_free(s, X509_free)). */
egide_rc egide_pki_load_certs(const char *path, STACK_OF(X509) * *out);

#endif
