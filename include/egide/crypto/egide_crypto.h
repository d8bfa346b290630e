/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_crypto.h - the primitives every module shares: SHA-256, HMAC-SHA256,
 * Ed25519 signing with a domain-separation label, and loading keys and
 * certificates.  HPKE, envelopes and chain verification live in their own
 * modules (egide_hpke, egide_envelope, egide_pki) on top of this one; this
 * one includes none of them.
 *
 * Keys and certificates are OpenSSL objects (EVP_PKEY, X509); functions that
 * return one hand ownership to the caller (EVP_PKEY_free / X509_free).
 */
#ifndef EGIDE_CRYPTO_H
#define EGIDE_CRYPTO_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "egide/base/egide_rc.h"

/* Domain-separation labels: every signature covers label || '\0' || data. */
#define EGIDE_LABEL_ENVELOPE  "egide-sig-v1"
#define EGIDE_LABEL_RECEIPT   "egide-receipt-v1"
#define EGIDE_LABEL_DIRECTORY "egide-directory-v1"

/* SHA-256 of data (len bytes; data may be NULL when len is 0) into out.
 * Runs on a digest fetched once (no provider fetch per call, unlike
 * SHA256() in OpenSSL 3.0); falls back to SHA256() if that fetch failed, so
 * it cannot fail. */
void egide_sha256(const void *data, size_t len, uint8_t out[32]);
/* HMAC-SHA256(key, data) into out.  key may be NULL when klen is 0 (an empty
 * key, which HMAC pads with zeros: RFC 5869's default salt).
 * EGIDE_ERR_INVALID for a NULL pointer with a non-zero length,
 * EGIDE_ERR_NOMEM, EGIDE_ERR_CRYPTO when OpenSSL fails. */
egide_rc egide_hmac_sha256(const uint8_t *key, size_t klen, const void *data, size_t len,
                           uint8_t out[32]);
/* HMAC-SHA256(key, parts[0] || ... || parts[n-1]) without concatenating
 * them (HKDF's labelled inputs); parts of length 0 are skipped and may be
 * NULL.  Same return codes as egide_hmac_sha256. */
egide_rc egide_hmac_sha256v(const uint8_t *key, size_t klen, const void *const *parts,
                            const size_t *lens, size_t n, uint8_t out[32]);

/* Which implementation runs Ed25519 (RFC 8032, pure): libsodium (the
 * default: faster) or OpenSSL's.  Both give the same signatures (Ed25519 is
 * deterministic) and accept the same valid ones; libsodium also refuses
 * public keys and R values of small order, which no honest signer makes.
 * egide_ed25519_backend_set returns the previous one (an unknown value
 * changes nothing); process-wide, for tests and benchmarks. */
typedef enum {
    EGIDE_ED25519_SODIUM = 0,
    EGIDE_ED25519_OPENSSL = 1,
} egide_ed25519_backend_t;
egide_ed25519_backend_t egide_ed25519_backend_set(egide_ed25519_backend_t b);

/* Raw Ed25519 over msg (used as is by C2SP signed notes). */
egide_rc egide_ed25519_sign(EVP_PKEY *sk, const void *msg, size_t len, uint8_t sig[64]);
/* EGIDE_OK when sig verifies, EGIDE_ERR_SIGNATURE when it does not,
 * EGIDE_ERR_INVALID when pk is not an Ed25519 key. */
egide_rc egide_ed25519_verify(EVP_PKEY *pk, const void *msg, size_t len, const uint8_t *sig,
                              size_t siglen);

/* Ed25519 over label || '\0' || msg. */
egide_rc egide_sign_labeled(EVP_PKEY *sk, const char *label, const void *msg, size_t len,
                            uint8_t sig[64]);
egide_rc egide_verify_labeled(EVP_PKEY *pk, const char *label, const void *msg, size_t len,
                              const uint8_t *sig, size_t siglen);

/* Load a PEM private key (*out is the caller's to free).  The file is
 * opened once through egide_secret_read(): without following a symbolic
 * link, and checked on the descriptor that is read (a regular file owned by
 * the effective user, no group or other permission bits), so the file
 * checked is the file parsed; the PEM text is parsed from memory and wiped.
 * An encrypted key is refused (no passphrase is ever asked for).
 * EGIDE_ERR_NOTFOUND (missing), EGIDE_ERR_PERM (a link, not a regular file,
 * another owner, group/other bits), EGIDE_ERR_LIMIT (over
 * EGIDE_MAX_CERT_FILE), EGIDE_ERR_IO, EGIDE_ERR_CRYPTO (not a PEM private
 * key, or encrypted), EGIDE_ERR_NOMEM, EGIDE_ERR_INVALID (out NULL). */
egide_rc egide_key_load_private(const char *path, EVP_PKEY **out);
/* Public key from 32 raw bytes (type EVP_PKEY_ED25519 or EVP_PKEY_X25519). */
egide_rc egide_key_from_raw_public(int type, const uint8_t raw[32], EVP_PKEY **out);
/* The 32 raw public bytes of an Ed25519 or X25519 key. */
egide_rc egide_key_raw_public(EVP_PKEY *key, uint8_t out[32]);

/* Held keys: a private key that lives in another process (the key holder,
 * egide_keyd.h).  The daemon holds a PUBLIC-ONLY EVP_PKEY carrying, in its
 * ex_data, the holder's operations, the holder and a slot; the two places
 * that use a private key, egide_ed25519_sign()/egide_sign_labeled() and the
 * X25519 of HPKE decapsulation (egide_hpke.c), forward to ops for such a key
 * and run locally otherwise, so that every caller stays unchanged.  Every
 * other use of the key (its id, its raw public bytes, verification) works on
 * the public part.
 *
 * sign signs label || '\0' || msg (label NULL: msg alone) into sig; dh puts
 * X25519(slot's key, peer) into out.  Both return EGIDE_ERR_UNAVAILABLE when
 * the holder cannot answer now (transient: the caller signs nothing and
 * acknowledges nothing), EGIDE_ERR_CRYPTO when the operation itself fails
 * (a small-order peer point). */
typedef struct egide_key_holder_ops {
    egide_rc (*sign)(void *holder, int slot, const char *label, const void *msg, size_t len,
                     uint8_t sig[64]);
    egide_rc (*dh)(void *holder, int slot, const uint8_t peer[32], uint8_t out[32]);
} egide_key_holder_ops_t;

/* A new public-only key of type (EVP_PKEY_ED25519 or EVP_PKEY_X25519) from
 * raw_pub, marked as held by holder at slot (*out is the caller's,
 * EVP_PKEY_free).  ops and holder are borrowed: they must outlive the key
 * and every reference to it.  EGIDE_ERR_INVALID, EGIDE_ERR_CRYPTO,
 * EGIDE_ERR_NOMEM. */
egide_rc egide_key_new_held(int type, const uint8_t raw_pub[32], const egide_key_holder_ops_t *ops,
                            void *holder, int slot, EVP_PKEY **out);
/* 1 when key is a held key (its private part is elsewhere), else 0. */
int egide_key_is_held(EVP_PKEY *key);
/* X25519(key, peer) through the holder of a held X25519 key: the dh
 * operation's codes, or EGIDE_ERR_INVALID when key is not held. */
egide_rc egide_key_held_dh(EVP_PKEY *key, const uint8_t peer[32], uint8_t out[32]);

/* Load an X.509 certificate, PEM or DER. */
egide_rc egide_cert_load(const char *path, X509 **out);
/* Parse DER bytes into a certificate (whole input must be consumed). */
egide_rc egide_cert_from_der(const uint8_t *der, size_t len, X509 **out);
/* DER encoding (*der is the caller's, OPENSSL_free). */
egide_rc egide_cert_to_der(X509 *cert, uint8_t **der, size_t *len);
/* SHA-256 over the certificate's DER encoding. */
egide_rc egide_cert_fingerprint(X509 *cert, uint8_t out[32]);
/* An ASN.1 time as Unix ms; false when t is NULL or unreadable. */
bool egide_asn1_time_ms(const ASN1_TIME *t, int64_t *ms);
/* The end of cert's validity (Unix ms).  EGIDE_ERR_CERT when unreadable. */
egide_rc egide_cert_not_after_ms(const X509 *cert, int64_t *out);

/* What a directory needs to know of a certificate without holding it: the
 * type of its key (EVP_PKEY_ED25519, EVP_PKEY_X25519, ... or EVP_PKEY_NONE
 * when it has none OpenSSL knows) and its validity period (Unix ms;
 * times_ok false when either time cannot be read). */
typedef struct {
    int key_type;
    bool times_ok;
    int64_t not_before_ms;
    int64_t not_after_ms;
} egide_cert_facts_t;
/* The facts of the DER certificate der (the whole input must be one
 * certificate, as egide_cert_from_der).  They depend on the bytes alone, so
 * the last EGIDE_CERT_FACTS_CACHE good answers are kept (refusals are not),
 * keyed by the SHA-256 of
 * der: a directory names each certificate in several checks, and every
 * reload names the same ones again, while OpenSSL 3.0 parses a certificate
 * in tens of microseconds.  Thread-safe.  EGIDE_ERR_CERT when der is not a
 * certificate. */
#define EGIDE_CERT_FACTS_CACHE 512u
egide_rc egide_cert_facts(const uint8_t *der, size_t len, egide_cert_facts_t *out);
/* Counters of egide_cert_facts since the process started: answers taken from
 * the cache and certificates parsed (for tests and benchmarks). */
void egide_cert_facts_stats(uint64_t *hits, uint64_t *parses);
/* Empty the cache (benchmarks: a cold load). */
void egide_cert_facts_clear(void);

/* Log and clear OpenSSL's error queue, prefixed by what failed. */
void egide_crypto_log_errors(const char *what);

#endif
