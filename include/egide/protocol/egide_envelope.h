/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_envelope.h - sealed envelopes (DESIGN.md, "The envelope"), suite 1:
 * Ed25519 signature over the stored header bytes, payload encrypted once with
 * a fresh AES-256-GCM content key (CEK), CEK wrapped for each recipient with
 * HPKE base mode DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM, and a
 * key commitment HMAC-SHA256(CEK, "egide-commit-v1" || msg_id).
 *
 * Byte-level bindings (all strings length-prefixed with egide_buf_append_lp):
 *   payload aad = lp("egide-payload-v1") lp(msg_id) lp(sender_id) lp(message_type)
 *   HPKE info   = lp("egide-wrap-v1") lp(msg_id) lp(sender_id) lp(recipient_id)
 *   HPKE aad    = the recipient's key_fingerprint (32 bytes)
 *   signature   = Ed25519 over "egide-sig-v1\0" || header bytes (egide_sign_labeled)
 *   plaintext   = serialized egide.v1.Payload {content_type, body}
 *
 * Receiving, in DESIGN's order:
 *   1. size limits + structure      egide_envelope_parse()        LIMIT, PROTO, VERSION
 *   2. certificate chain/revocation egide_trust_verify_node() (egide_pki), and
 *      egide_envelope_match_sender_cert() ties the certificate to the header
 *   3. signature over the raw header egide_envelope_verify()      SIGNATURE, HASH
 *   4. replay rules                 the caller's (sender_id, sender_seq, msg_id,
 *                                   created/expires from egide_envelope_header();
 *                                   egide_envelope_check_time() for the clock)
 *   5-7. key commitment, decryption, payload parsing: egide_envelope_open()
 *                                   NOT_RECIPIENT, DECRYPT, COMMITMENT, PROTO
 * egide_envelope_open() repeats step 3 itself, so it is safe on its own.
 *
 * Callers keep parsed keys (EVP_PKEY) of verified certificates: nothing here
 * parses a certificate per message.
 */
#ifndef EGIDE_ENVELOPE_H
#define EGIDE_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "egide.pb-c.h"
#include "egide/base/egide_rc.h"

#define EGIDE_ENVELOPE_VERSION 1u
#define EGIDE_ENVELOPE_SUITE   1u
#define EGIDE_MAX_CONTENT_TYPE 255u /* bytes of Payload.content_type */

/* One addressee for egide_envelope_seal(). */
typedef struct egide_seal_recipient {
    const char *node_id;         /* directory node id (1..EGIDE_MAX_NODE_ID printable bytes) */
    EVP_PKEY *enc_pub;           /* the recipient's X25519 public key (borrowed) */
    const uint8_t *enc_cert_fpr; /* 32: SHA-256 of its encryption certificate (DER) */
} egide_seal_recipient_t;

/* Everything egide_envelope_seal() needs; all pointers borrowed. */
typedef struct egide_seal_params {
    const char *sender_id;                    /* the sender's node id */
    EVP_PKEY *sign_key;                       /* the sender's Ed25519 private key */
    const uint8_t *sign_cert_fpr;             /* 32: SHA-256 of the sender's signing certificate */
    const egide_seal_recipient_t *recipients; /* 1..EGIDE_MAX_RECIPIENTS, distinct ids */
    size_t n_recipients;
    const char *message_type;   /* catalogue name (1..EGIDE_MAX_TYPE_NAME printable) */
    int urgency;                /* Egide__V1__Urgency, not UNSPECIFIED */
    const uint8_t *in_reply_to; /* 16 bytes or NULL */
    uint64_t sender_seq;        /* per-sender counter */
    int64_t created_ms;         /* 0 = now */
    int64_t expires_ms;         /* 0 = created_ms + EGIDE_DEFAULT_MESSAGE_TTL_MS */
    const char *content_type;   /* Payload.content_type (1..EGIDE_MAX_CONTENT_TYPE) */
    const uint8_t *payload;     /* Payload.body (may be NULL when payload_len is 0) */
    size_t payload_len;         /* <= EGIDE_MAX_PAYLOAD */
} egide_seal_params_t;

/* Seal p->payload for p->recipients.  On success *out (malloc'd, *out_len
 * bytes; free()) is a serialized SignedEnvelope and msg_id_out (if not NULL)
 * receives its 16-byte msg_id.  Returns EGIDE_ERR_INVALID on bad parameters
 * (missing key, wrong key type, duplicate recipient, bad id...),
 * EGIDE_ERR_LIMIT when a size or count limit is exceeded, EGIDE_ERR_CRYPTO /
 * EGIDE_ERR_NOMEM on internal failures. */
egide_rc egide_envelope_seal(const egide_seal_params_t *p, uint8_t **out, size_t *out_len,
                             uint8_t msg_id_out[16]);

/* The sender's kept copy of an envelope's content key (CEK): HPKE base
 * mode (as the wraps) to the sender's OWN X25519 key, info =
 * lp("egide-keep-v1") lp(msg_id) lp(sender_id), no aad: enc (32) ||
 * wrapped CEK (48).  Never sent: the sending edge keeps it, sealed, until
 * the broker has ACCEPTED the message, so that it can seal the message
 * again for a recipient whose key was renewed meanwhile
 * (egide_envelope_reseal). */
#define EGIDE_ENVELOPE_KEEP_LEN 80u

/* As egide_envelope_seal, and keep (EGIDE_ENVELOPE_KEEP_LEN bytes) gets
 * the kept copy of the content key sealed to keep_pub (the sender's own
 * X25519 public key; a held key is fine).  EGIDE_ERR_INVALID when keep_pub
 * is missing or not X25519; keep is wiped on failure. */
egide_rc egide_envelope_seal_kept(const egide_seal_params_t *p, EVP_PKEY *keep_pub, uint8_t **out,
                                  size_t *out_len, uint8_t msg_id_out[16],
                                  uint8_t keep[EGIDE_ENVELOPE_KEEP_LEN]);

/* The same envelope sealed again for the recipients' current keys: the
 * content key is opened from keep with keep_key (the sender's own X25519
 * private key, or a held one: the key holder answers), checked against the
 * header's key commitment, and wrapped again for every recipient whose
 * key_fingerprint differs from rcpts[i].enc_cert_fpr (the others keep their
 * wrap); the header is re-packed with sender_seq = new_seq (and
 * sender_cert_fingerprint = sign_cert_fpr when not NULL) and signed with
 * sign_key.  msg_id, times, type, payload nonce, ciphertext and commitment
 * are unchanged.  rcpts must name the header's recipients, in its order
 * (n of them).  *out is new (caller frees); *n_rewrapped (may be NULL) gets
 * how many wraps were made again.  Returns egide_envelope_parse()'s codes
 * for buf, EGIDE_ERR_INVALID (NULL argument, new_seq 0, other recipients),
 * EGIDE_ERR_PROTO (keep_len not EGIDE_ENVELOPE_KEEP_LEN), EGIDE_ERR_DECRYPT
 * (keep does not open with keep_key: another key, or altered),
 * EGIDE_ERR_COMMITMENT (keep holds another envelope's key),
 * EGIDE_ERR_UNAVAILABLE (the key holder is down: transient),
 * EGIDE_ERR_CRYPTO, EGIDE_ERR_LIMIT, EGIDE_ERR_NOMEM. */
egide_rc egide_envelope_reseal(const uint8_t *buf, size_t len, const uint8_t *keep, size_t keep_len,
                               EVP_PKEY *keep_key, const egide_seal_recipient_t *rcpts, size_t n,
                               uint64_t new_seq, EVP_PKEY *sign_key, const uint8_t *sign_cert_fpr,
                               uint8_t **out, size_t *out_len, size_t *n_rewrapped);

/* A parsed, structurally validated envelope (no cryptography checked yet). */
typedef struct egide_envelope egide_envelope_t;

/* Parse and validate buf (borrowed; copied).  Checks, before anything else,
 * len <= EGIDE_MAX_ENVELOPE and header <= EGIDE_MAX_HEADER (EGIDE_ERR_LIMIT),
 * then every header field: version and suite 1 (EGIDE_ERR_VERSION), msg_id 16
 * bytes, sender and recipient ids 1..EGIDE_MAX_NODE_ID printable, fingerprint
 * and hash fields 32 bytes, enc 32, wrapped_cek 48, nonce 12, signature 64,
 * urgency set, in_reply_to empty or 16, expires_ms >= created_ms > 0,
 * 1..EGIDE_MAX_RECIPIENTS distinct recipients (EGIDE_ERR_PROTO, or
 * EGIDE_ERR_LIMIT for too many).  *out is the caller's (egide_envelope_destroy). */
egide_rc egide_envelope_parse(const uint8_t *buf, size_t len, egide_envelope_t **out);

/* NULL-safe; nulls *self_p. */
void egide_envelope_destroy(egide_envelope_t **self_p);

/* The same envelope under another sender sequence number, signed again:
 * the header is re-packed with sender_seq = new_seq (and, when
 * sign_cert_fpr is not NULL, sender_cert_fingerprint = those 32 bytes) and
 * signed with sign_key (the sender's own key, the one that certificate
 * names); msg_id, recipients, wrapped keys and ciphertext are unchanged,
 * since neither the payload's AAD nor the HPKE info bind the sequence or
 * the sender's certificate.  Used by an edge whose queued envelopes carry
 * sequence numbers the broker has already seen from it (restored from a
 * backup), or were signed under a certificate since renewed.  *out is new
 * (caller frees).  Returns egide_envelope_parse()'s codes for buf,
 * EGIDE_ERR_INVALID (NULL argument, new_seq 0), EGIDE_ERR_CRYPTO,
 * EGIDE_ERR_LIMIT, EGIDE_ERR_NOMEM.  Receivers refuse it unless sign_key is
 * the key of the certificate the header names. */
egide_rc egide_envelope_resequence(const uint8_t *buf, size_t len, uint64_t new_seq,
                                   EVP_PKEY *sign_key, const uint8_t *sign_cert_fpr, uint8_t **out,
                                   size_t *out_len);
/* The sender certificate fingerprint an envelope's header names, copied to
 * fpr (32 bytes).  EGIDE_ERR_PROTO when the header has none of 32 bytes;
 * egide_envelope_parse()'s codes for buf. */
egide_rc egide_envelope_sender_fpr(const uint8_t *buf, size_t len, uint8_t fpr[32]);

/* The parsed header (borrowed, valid until destroy). */
const Egide__V1__EnvelopeHeader *egide_envelope_header(const egide_envelope_t *e);

/* SHA-256 of the SignedEnvelope bytes as received (receipts refer to it);
 * computed on each call. */
void egide_envelope_hash(const egide_envelope_t *e, uint8_t out[32]);

/* The raw bytes as received (borrowed). */
const uint8_t *egide_envelope_bytes(const egide_envelope_t *e, size_t *len);

/* Index of node_id among the recipients, or -1. */
int egide_envelope_recipient_index(const egide_envelope_t *e, const char *node_id);

/* Tie the sender's signing certificate to the header: its SHA-256 must equal
 * sender_cert_fingerprint and its subject CN must equal sender_id
 * (EGIDE_ERR_CERT otherwise).  Chain and revocation are egide_pki's job. */
egide_rc egide_envelope_match_sender_cert(const egide_envelope_t *e, X509 *sign_cert);

/* Clock rules: EGIDE_ERR_EXPIRED when now_ms > expires_ms, EGIDE_ERR_REPLAY
 * when created_ms > now_ms + skew_ms (from the future). */
egide_rc egide_envelope_check_time(const egide_envelope_t *e, int64_t now_ms, int64_t skew_ms);

/* Signature over the raw header (EGIDE_ERR_SIGNATURE), then
 * ciphertext_sha256 (EGIDE_ERR_HASH).  sender_sign_pub: the sender's Ed25519
 * public key from its verified certificate (EGIDE_ERR_INVALID if NULL or not
 * Ed25519). */
egide_rc egide_envelope_verify(const egide_envelope_t *e, EVP_PKEY *sender_sign_pub);

/* Verify (as egide_envelope_verify) then open for my_node_id: find the
 * recipient (EGIDE_ERR_NOT_RECIPIENT), unwrap the CEK with my_enc_key (X25519
 * private key; EGIDE_ERR_DECRYPT), check the key commitment
 * (EGIDE_ERR_COMMITMENT), decrypt the payload (EGIDE_ERR_DECRYPT) and parse it
 * (EGIDE_ERR_PROTO).  On success *content_type (free()) and *payload
 * (*payload_len bytes, egide_free_secret(*payload, *payload_len); never NULL,
 * even when empty) are the caller's; on failure both are NULL. */
egide_rc egide_envelope_open(const egide_envelope_t *e, const char *my_node_id,
                             EVP_PKEY *my_enc_key, EVP_PKEY *sender_sign_pub, char **content_type,
                             uint8_t **payload, size_t *payload_len);

#endif
