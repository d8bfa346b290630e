/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_hpke.h - HPKE base mode (RFC 9180) on OpenSSL 3.0 EVP primitives.
 *
 * One KEM, DHKEM(X25519, HKDF-SHA256) (kem_id 0x0020), one KDF, HKDF-SHA256
 * (kdf_id 0x0001), and the AEADs AES-128-GCM (1), AES-256-GCM (2),
 * ChaCha20-Poly1305 (3) plus the export-only pseudo-AEAD (0xFFFF).  Only mode
 * 0 (base) is implemented: Égide authenticates senders with Ed25519
 * signatures, not with HPKE auth mode.
 *
 * OpenSSL 3.0 has no HPKE API.  This interface is kept small (setup sender,
 * setup receiver, seal, open, export, single-shot seal/open) so that it can be
 * re-implemented on OpenSSL 3.2's OSSL_HPKE_* without touching its callers.
 *
 * Keys are EVP_PKEY objects of type EVP_PKEY_X25519.  A context holds the key
 * schedule secrets; egide_hpke_ctx_destroy() wipes them.
 */
#ifndef EGIDE_HPKE_H
#define EGIDE_HPKE_H

#include "egide/base/egide_rc.h"
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#define EGIDE_HPKE_KEM_X25519_SHA256     0x0020u
#define EGIDE_HPKE_KDF_HKDF_SHA256       0x0001u
#define EGIDE_HPKE_AEAD_AES128GCM        0x0001u
#define EGIDE_HPKE_AEAD_AES256GCM        0x0002u
#define EGIDE_HPKE_AEAD_CHACHA20POLY1305 0x0003u
#define EGIDE_HPKE_AEAD_EXPORT_ONLY      0xFFFFu

#define EGIDE_HPKE_ENC_LEN     32u /* Nenc of DHKEM(X25519) */
#define EGIDE_HPKE_SECRET_LEN  32u /* Nsecret / Nh of HKDF-SHA256 */
#define EGIDE_HPKE_NONCE_LEN   12u /* Nn of every supported AEAD */
#define EGIDE_HPKE_TAG_LEN     16u /* Nt of every supported AEAD */
#define EGIDE_HPKE_MAX_KEY_LEN 32u /* largest Nk */
#define EGIDE_HPKE_MAX_INFO    (64u * 1024u)

/* A set-up HPKE context (sender or receiver).  Opaque. */
typedef struct egide_hpke_ctx egide_hpke_ctx_t;

/* DeriveKeyPair(ikm) of DHKEM(X25519, HKDF-SHA256) (RFC 9180 section 7.1.3).
 * ikm must be at least 32 bytes.  *out is a new X25519 private key (caller
 * frees with EVP_PKEY_free).  EGIDE_ERR_INVALID on a short ikm. */
egide_rc egide_hpke_derive_keypair(const uint8_t *ikm, size_t ikm_len, EVP_PKEY **out);

/* SetupBaseS: encapsulate to the recipient public key pk_r.
 *   aead_id   one of EGIDE_HPKE_AEAD_*
 *   info      application info (may be NULL when info_len is 0; <=
 * EGIDE_HPKE_MAX_INFO) ikm_e     NULL for a fresh random ephemeral key; or >=
 * 32 bytes of input keying material for DeriveKeyPair (deterministic: test
 * vectors only) enc       receives the 32-byte encapsulated key out receives a
 * new context (egide_hpke_ctx_destroy) Returns EGIDE_ERR_INVALID for an unknown
 * aead_id or a key that is not X25519, EGIDE_ERR_CRYPTO when OpenSSL fails
 * (e.g. an all-zero DH output). */
egide_rc egide_hpke_setup_base_s(uint16_t aead_id, EVP_PKEY *pk_r, const uint8_t *info,
                                 size_t info_len, const uint8_t *ikm_e, size_t ikm_e_len,
                                 uint8_t enc[EGIDE_HPKE_ENC_LEN], egide_hpke_ctx_t **out);

/* SetupBaseR: decapsulate enc with the recipient private key sk_r.
 * EGIDE_ERR_DECRYPT when enc is not a usable X25519 share. */
egide_rc egide_hpke_setup_base_r(uint16_t aead_id, const uint8_t *enc, size_t enc_len,
                                 EVP_PKEY *sk_r, const uint8_t *info, size_t info_len,
                                 egide_hpke_ctx_t **out);

/* Wipe and free; NULL-safe, nulls *self_p. */
void egide_hpke_ctx_destroy(egide_hpke_ctx_t **self_p);

/* Seal pt with the next sequence number: ct (pt_len + EGIDE_HPKE_TAG_LEN
 * bytes, caller's buffer) = AEAD(key, base_nonce XOR seq, aad, pt); seq then
 * increments.  EGIDE_ERR_INVALID for an export-only context,
 * EGIDE_ERR_LIMIT when the sequence number is exhausted. */
egide_rc egide_hpke_ctx_seal(egide_hpke_ctx_t *ctx, const uint8_t *aad, size_t aad_len,
                             const uint8_t *pt, size_t pt_len, uint8_t *ct);

/* Open ct (ct_len >= EGIDE_HPKE_TAG_LEN) into pt (ct_len - 16 bytes, caller's
 * buffer) with the next sequence number; increments seq only on success.
 * EGIDE_ERR_DECRYPT when authentication fails (pt is wiped). */
egide_rc egide_hpke_ctx_open(egide_hpke_ctx_t *ctx, const uint8_t *aad, size_t aad_len,
                             const uint8_t *ct, size_t ct_len, uint8_t *pt);

/* Secret export: LabeledExpand(exporter_secret, "sec", exporter_context, L),
 * L <= 255 * 32. */
egide_rc egide_hpke_ctx_export(const egide_hpke_ctx_t *ctx, const uint8_t *exporter_context,
                               size_t context_len, uint8_t *out, size_t out_len);

/* Sequence number control (test vectors skip numbers). */
uint64_t egide_hpke_ctx_seq(const egide_hpke_ctx_t *ctx);
void egide_hpke_ctx_set_seq(egide_hpke_ctx_t *ctx, uint64_t seq);

/* Copy out the schedule values for known-answer tests; any pointer may be
 * NULL.  key receives Nk bytes (*key_len set; 0 for export-only), base_nonce
 * 12 bytes (zero for export-only), exporter_secret and shared_secret 32. */
void egide_hpke_ctx_schedule(const egide_hpke_ctx_t *ctx, uint8_t *key, size_t *key_len,
                             uint8_t *base_nonce, uint8_t *exporter_secret, uint8_t *shared_secret);

/* Single-shot base mode (seq 0): ct must hold pt_len + 16 bytes. */
egide_rc egide_hpke_seal(uint16_t aead_id, EVP_PKEY *pk_r, const uint8_t *info, size_t info_len,
                         const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len,
                         uint8_t enc[EGIDE_HPKE_ENC_LEN], uint8_t *ct);
/* pt must hold ct_len - 16 bytes.  EGIDE_ERR_DECRYPT on any failure that
 * depends on the peer's input (bad enc, bad tag, short ct). */
egide_rc egide_hpke_open(uint16_t aead_id, EVP_PKEY *sk_r, const uint8_t *enc, size_t enc_len,
                         const uint8_t *info, size_t info_len, const uint8_t *aad, size_t aad_len,
                         const uint8_t *ct, size_t ct_len, uint8_t *pt);

/* Plain AEAD with an explicit key and 12-byte nonce (also used for the
 * envelope payload).  key_len must match the AEAD (16 or 32).  ct holds
 * pt_len + 16 bytes; open returns EGIDE_ERR_DECRYPT on a bad tag. */
egide_rc egide_aead_seal(uint16_t aead_id, const uint8_t *key, size_t key_len,
                         const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
                         const uint8_t *pt, size_t pt_len, uint8_t *ct);
/* As egide_aead_seal over the concatenation pt1 || pt2 (ct holds
 * len1 + len2 + 16 bytes), so a framed plaintext need not be copied. */
egide_rc egide_aead_seal2(uint16_t aead_id, const uint8_t *key, size_t key_len,
                          const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
                          const uint8_t *pt1, size_t len1, const uint8_t *pt2, size_t len2,
                          uint8_t *ct);
egide_rc egide_aead_open(uint16_t aead_id, const uint8_t *key, size_t key_len,
                         const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
                         const uint8_t *ct, size_t ct_len, uint8_t *pt);

/* Aliases kept for existing callers: egide_sha256() (EGIDE_ERR_CRYPTO only
 * for NULL data with a non-zero length) and egide_hmac_sha256() of
 * egide_crypto.h, which own the digest fetched once.  New code calls those. */
egide_rc egide_hpke_sha256(const void *data, size_t len, uint8_t out[32]);
egide_rc egide_hpke_hmac_sha256(const uint8_t *key, size_t klen, const void *data, size_t len,
                                uint8_t out[32]);

#endif
