/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_receipt.h - signed receipts (DESIGN.md, "Routing and delivery"):
 * ACCEPTED by the broker, DELIVERED or REJECTED by a recipient (or REJECTED
 * by the broker), each referring to a msg_id and the envelope hash.
 *
 * A SignedReceipt carries the serialized ReceiptBody as stored bytes and an
 * Ed25519 signature over "egide-receipt-v1\0" || body (egide_sign_labeled with
 * EGIDE_LABEL_RECEIPT).  Parsing validates sizes and every field before
 * anything is trusted; verification checks the signature against the issuer's
 * key, or against its certificate (fingerprint and CN must also match).
 */
#ifndef EGIDE_RECEIPT_H
#define EGIDE_RECEIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "egide.pb-c.h"
#include "egide/base/egide_rc.h"

#define EGIDE_RECEIPT_VERSION    1u
#define EGIDE_RECEIPT_MAX_DETAIL 256u /* bytes of ReceiptBody.detail */
#define EGIDE_RECEIPT_MAX_REASON 63   /* highest reason code accepted on parse */

/* What egide_receipt_sign() needs; pointers borrowed. */
typedef struct egide_receipt_params {
    int kind;                       /* Egide__V1__ReceiptKind, not UNSPECIFIED */
    const uint8_t *msg_id;          /* 16 bytes */
    const uint8_t *envelope_sha256; /* 32 bytes */
    const char *issuer_id;          /* signer's node id */
    const char *sender_id;          /* the message's sender */
    const char *recipient_id;       /* NULL/"" or the recipient concerned */
    int64_t time_ms;                /* 0 = now */
    int reason;                     /* Egide__V1__ReasonCode: REJECTED only (else 0) */
    const char *detail;             /* NULL or short printable text, never content */
    bool has_audit_leaf;            /* ACCEPTED: audit_leaf_index is meaningful */
    uint64_t audit_leaf_index;
    const uint8_t *issuer_cert_fpr; /* 32: SHA-256 of the issuer's signing certificate */
} egide_receipt_params_t;

/* Build and sign a receipt with the issuer's Ed25519 key.  *out (malloc'd,
 * free()) is a serialized SignedReceipt.  EGIDE_ERR_INVALID on bad parameters
 * (the same rules egide_receipt_parse enforces). */
egide_rc egide_receipt_sign(const egide_receipt_params_t *p, EVP_PKEY *issuer_key, uint8_t **out,
                            size_t *out_len);

/* A parsed, validated receipt (signature not yet checked). */
typedef struct egide_receipt egide_receipt_t;

/* Parse buf (copied).  EGIDE_ERR_LIMIT when len > EGIDE_MAX_RECEIPT,
 * EGIDE_ERR_PROTO when truncated or malformed (missing signature, bad field
 * length, unknown kind, reason inconsistent with kind, bad id...),
 * EGIDE_ERR_VERSION when version != 1.  *out: egide_receipt_destroy. */
egide_rc egide_receipt_parse(const uint8_t *buf, size_t len, egide_receipt_t **out);

/* NULL-safe; nulls *self_p. */
void egide_receipt_destroy(egide_receipt_t **self_p);

/* The parsed body (borrowed, valid until destroy). */
const Egide__V1__ReceiptBody *egide_receipt_body(const egide_receipt_t *r);

/* SHA-256 of the SignedReceipt bytes as received. */
void egide_receipt_hash(const egide_receipt_t *r, uint8_t out[32]);

/* EGIDE_OK when the signature verifies with issuer_pub (Ed25519),
 * EGIDE_ERR_SIGNATURE otherwise, EGIDE_ERR_INVALID for a wrong key type. */
egide_rc egide_receipt_verify(const egide_receipt_t *r, EVP_PKEY *issuer_pub);

/* As egide_receipt_verify with the key of issuer_cert, after checking that
 * its fingerprint equals issuer_cert_fingerprint and its CN equals issuer_id
 * (EGIDE_ERR_CERT).  Chain and revocation of issuer_cert are egide_pki's job. */
egide_rc egide_receipt_verify_cert(const egide_receipt_t *r, X509 *issuer_cert);

#endif
