/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_envelope.c - seal and open Égide envelopes (suite 1): see
 * egide_envelope.h for the byte-level bindings and the order of the checks.
 *
 * Everything a peer sends is validated before it is used: sizes first (before
 * protobuf allocates anything), then every header field, then the signature
 * over the header bytes exactly as received (protobuf is not canonical, so the
 * header is never re-serialized), then the cryptography.  Content keys and
 * plaintext are wiped before they are freed; the decrypted Payload is parsed
 * in place and its buffer handed to the caller, so plaintext is never copied.
 */
#include "egide/protocol/egide_envelope.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "egide/crypto/egide_crypto.h"
#include "egide/crypto/egide_hpke.h"
#include "egide/base/egide_limits.h"
#include "egide/base/egide_log.h"
#include "egide/crypto/egide_pki.h"
#include "egide/base/egide_util.h"

#define WRAP_LABEL      "egide-wrap-v1"
#define PAYLOAD_LABEL   "egide-payload-v1"
#define COMMIT_LABEL    "egide-commit-v1"
#define KEEP_LABEL      "egide-keep-v1"
#define WRAPPED_CEK_LEN (EGIDE_CEK_LEN + EGIDE_GCM_TAG_LEN)
/* Payload framing overhead: two tags, two lengths, the content type. */
#define MAX_PLAINTEXT (EGIDE_MAX_PAYLOAD + EGIDE_MAX_CONTENT_TYPE + 32u)

/* Invariant: env and hdr are unpacked from raw and validated by
 * s_validate_header(); hdr->header bytes live inside env. */
struct egide_envelope {
    uint8_t *raw;                   /* the bytes as received (owned) */
    size_t raw_len;                 /* their length */
    Egide__V1__SignedEnvelope *env; /* unpacked outer message (owned) */
    Egide__V1__EnvelopeHeader *hdr; /* unpacked env->header (owned) */
    /* Memo of a successful egide_envelope_verify(): the raw Ed25519 key it
     * verified under.  egide_envelope_open() verifies again for safety; the
     * memo makes that free when the caller already did (the signature is
     * the most expensive step of opening).  Not thread-safe, like the rest
     * of the object. */
    bool verified;
    uint8_t verified_pub[32];
};

/* ------------------------------------------------------------ field checks */

/* 1..max bytes, each printable ASCII without space. */
static int s_valid_id(const char *s, size_t max)
{
    if (!s)
        return 0;
    size_t n = 0;
    for (; s[n]; n++) {
        if (n >= max)
            return 0;
        unsigned char c = (unsigned char)s[n];
        if (c < 0x21 || c > 0x7e)
            return 0;
    }
    return n > 0;
}

/* Printable ASCII (spaces allowed), 1..max bytes: content types. */
static int s_valid_text(const char *s, size_t len, size_t max)
{
    if (!s || len == 0 || len > max)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

static int s_urgency_ok(int u)
{
    return u == EGIDE__V1__URGENCY__URGENCY_NORMAL || u == EGIDE__V1__URGENCY__URGENCY_URGENT ||
           u == EGIDE__V1__URGENCY__URGENCY_IMMEDIATE;
}

static egide_rc s_validate_header(const Egide__V1__EnvelopeHeader *h)
{
    if (h->version != EGIDE_ENVELOPE_VERSION || h->suite != EGIDE_ENVELOPE_SUITE)
        return EGIDE_ERR_VERSION;
    if (h->msg_id.len != EGIDE_MSG_ID_LEN || !s_valid_id(h->sender_id, EGIDE_MAX_NODE_ID) ||
        h->sender_cert_fingerprint.len != EGIDE_SHA256_LEN ||
        !s_valid_id(h->message_type, EGIDE_MAX_TYPE_NAME) || !s_urgency_ok((int)h->urgency) ||
        (h->in_reply_to.len != 0 && h->in_reply_to.len != EGIDE_MSG_ID_LEN) ||
        h->payload_nonce.len != EGIDE_GCM_NONCE_LEN ||
        h->ciphertext_sha256.len != EGIDE_SHA256_LEN || h->key_commitment.len != EGIDE_SHA256_LEN ||
        h->created_ms <= 0 || h->expires_ms < h->created_ms)
        return EGIDE_ERR_PROTO;
    if (h->n_recipients == 0)
        return EGIDE_ERR_PROTO;
    if (h->n_recipients > EGIDE_MAX_RECIPIENTS)
        return EGIDE_ERR_LIMIT;
    for (size_t i = 0; i < h->n_recipients; i++) {
        const Egide__V1__Recipient *r = h->recipients[i];
        if (!r || !s_valid_id(r->node_id, EGIDE_MAX_NODE_ID) ||
            r->key_fingerprint.len != EGIDE_SHA256_LEN || r->enc.len != EGIDE_HPKE_ENC_LEN ||
            r->wrapped_cek.len != WRAPPED_CEK_LEN)
            return EGIDE_ERR_PROTO;
        for (size_t j = 0; j < i; j++)
            if (strcmp(h->recipients[j]->node_id, r->node_id) == 0)
                return EGIDE_ERR_PROTO; /* duplicate recipient */
    }
    return EGIDE_OK;
}

/* ------------------------------------------------------------ payload */

/* Write v as a protobuf varint (at most 10 bytes); returns its length. */
static size_t s_put_varint(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

/* Read a protobuf varint of at most 10 bytes from *p (< end). */
static int s_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        if (shift == 63 && b > 1)
            return -1; /* more than 64 bits */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* Parse a serialized egide.v1.Payload in place: content_type (field 1) and
 * body (field 2) point into buf.  Unknown fields are skipped, the last
 * occurrence of a field wins (protobuf rules), groups and a wrong wire type
 * for a known field are refused.  Parsing in place spares the copies (and
 * wipes) of a generic unpack of what may be megabytes of plaintext. */
static egide_rc s_parse_payload(const uint8_t *buf, size_t len, const uint8_t **ct, size_t *ct_len,
                                const uint8_t **body, size_t *body_len)
{
    const uint8_t *p = buf, *end = buf + len;
    *ct = NULL;
    *ct_len = 0;
    *body = p;
    *body_len = 0;
    while (p < end) {
        uint64_t key, n;
        if (s_varint(&p, end, &key) || key > UINT32_MAX || (key >> 3) == 0)
            return EGIDE_ERR_PROTO;
        uint64_t field = key >> 3;
        unsigned wt = (unsigned)(key & 7);
        if ((field == 1 || field == 2) && wt != 2)
            return EGIDE_ERR_PROTO;
        switch (wt) {
        case 0:
            if (s_varint(&p, end, &n))
                return EGIDE_ERR_PROTO;
            break;
        case 1:
            if ((size_t)(end - p) < 8)
                return EGIDE_ERR_PROTO;
            p += 8;
            break;
        case 5:
            if ((size_t)(end - p) < 4)
                return EGIDE_ERR_PROTO;
            p += 4;
            break;
        case 2:
            if (s_varint(&p, end, &n) || n > (uint64_t)(end - p))
                return EGIDE_ERR_PROTO;
            if (field == 1) {
                *ct = p;
                *ct_len = (size_t)n;
            } else if (field == 2) {
                *body = p;
                *body_len = (size_t)n;
            }
            p += n;
            break;
        default:
            return EGIDE_ERR_PROTO; /* groups (3, 4) and reserved types */
        }
    }
    if (!*ct || !s_valid_text((const char *)*ct, *ct_len, EGIDE_MAX_CONTENT_TYPE) ||
        *body_len > EGIDE_MAX_PAYLOAD)
        return EGIDE_ERR_PROTO;
    return EGIDE_OK;
}

/* ------------------------------------------------------------ bindings */

static egide_rc s_payload_aad(egide_buf_t *b, const uint8_t *msg_id, const char *sender_id,
                              const char *type)
{
    egide_buf_init(b, 4 * 4 + sizeof PAYLOAD_LABEL + EGIDE_MSG_ID_LEN + EGIDE_MAX_NODE_ID +
                          EGIDE_MAX_TYPE_NAME);
    egide_rc rc = egide_buf_append_lp(b, PAYLOAD_LABEL, strlen(PAYLOAD_LABEL));
    if (!rc)
        rc = egide_buf_append_lp(b, msg_id, EGIDE_MSG_ID_LEN);
    if (!rc)
        rc = egide_buf_append_lp(b, sender_id, strlen(sender_id));
    if (!rc)
        rc = egide_buf_append_lp(b, type, strlen(type));
    return rc;
}

static egide_rc s_wrap_info(egide_buf_t *b, const uint8_t *msg_id, const char *sender_id,
                            const char *recipient_id)
{
    egide_buf_init(b, 4 * 4 + sizeof WRAP_LABEL + EGIDE_MSG_ID_LEN + 2 * EGIDE_MAX_NODE_ID);
    egide_rc rc = egide_buf_append_lp(b, WRAP_LABEL, strlen(WRAP_LABEL));
    if (!rc)
        rc = egide_buf_append_lp(b, msg_id, EGIDE_MSG_ID_LEN);
    if (!rc)
        rc = egide_buf_append_lp(b, sender_id, strlen(sender_id));
    if (!rc)
        rc = egide_buf_append_lp(b, recipient_id, strlen(recipient_id));
    return rc;
}

static egide_rc s_commitment(const uint8_t cek[EGIDE_CEK_LEN], const uint8_t *msg_id,
                             uint8_t out[32])
{
    uint8_t in[sizeof COMMIT_LABEL - 1 + EGIDE_MSG_ID_LEN];
    memcpy(in, COMMIT_LABEL, sizeof COMMIT_LABEL - 1);
    memcpy(in + sizeof COMMIT_LABEL - 1, msg_id, EGIDE_MSG_ID_LEN);
    return egide_hmac_sha256(cek, EGIDE_CEK_LEN, in, sizeof in, out);
}

/* ------------------------------------------------------------ seal */

static egide_rc s_check_params(const egide_seal_params_t *p)
{
    if (!p || !p->sign_key || EVP_PKEY_get_id(p->sign_key) != EVP_PKEY_ED25519 ||
        !p->sign_cert_fpr || !s_valid_id(p->sender_id, EGIDE_MAX_NODE_ID) ||
        !s_valid_id(p->message_type, EGIDE_MAX_TYPE_NAME) || !s_urgency_ok(p->urgency) ||
        !p->content_type ||
        !s_valid_text(p->content_type, strlen(p->content_type), EGIDE_MAX_CONTENT_TYPE) ||
        (p->payload_len > 0 && !p->payload) || !p->recipients || p->created_ms < 0 ||
        p->expires_ms < 0)
        return EGIDE_ERR_INVALID;
    if (p->n_recipients == 0)
        return EGIDE_ERR_INVALID;
    if (p->n_recipients > EGIDE_MAX_RECIPIENTS || p->payload_len > EGIDE_MAX_PAYLOAD)
        return EGIDE_ERR_LIMIT;
    for (size_t i = 0; i < p->n_recipients; i++) {
        const egide_seal_recipient_t *r = &p->recipients[i];
        if (!s_valid_id(r->node_id, EGIDE_MAX_NODE_ID) || !r->enc_pub ||
            EVP_PKEY_get_id(r->enc_pub) != EVP_PKEY_X25519 || !r->enc_cert_fpr)
            return EGIDE_ERR_INVALID;
        for (size_t j = 0; j < i; j++)
            if (strcmp(p->recipients[j].node_id, r->node_id) == 0)
                return EGIDE_ERR_INVALID;
    }
    return EGIDE_OK;
}

/* The kept copy's HPKE info: lp("egide-keep-v1") lp(msg_id) lp(sender_id). */
static egide_rc s_keep_info(egide_buf_t *b, const uint8_t *msg_id, const char *sender_id)
{
    egide_buf_init(b, 3 * 4 + sizeof KEEP_LABEL + EGIDE_MSG_ID_LEN + EGIDE_MAX_NODE_ID);
    egide_rc rc = egide_buf_append_lp(b, KEEP_LABEL, strlen(KEEP_LABEL));
    if (!rc)
        rc = egide_buf_append_lp(b, msg_id, EGIDE_MSG_ID_LEN);
    if (!rc)
        rc = egide_buf_append_lp(b, sender_id, strlen(sender_id));
    return rc;
}

/* One HPKE wrap of cek for r into enc (32) || wrapped (48). */
static egide_rc s_wrap(const uint8_t *msg_id, const char *sender_id,
                       const egide_seal_recipient_t *r, const uint8_t cek[EGIDE_CEK_LEN],
                       uint8_t *enc, uint8_t *wrapped)
{
    egide_buf_t info;
    egide_rc rc = s_wrap_info(&info, msg_id, sender_id, r->node_id);
    if (!rc)
        rc = egide_hpke_seal(EGIDE_HPKE_AEAD_AES256GCM, r->enc_pub, info.data, info.len,
                             r->enc_cert_fpr, EGIDE_SHA256_LEN, cek, EGIDE_CEK_LEN, enc, wrapped);
    egide_buf_free(&info);
    return rc;
}

static egide_rc s_seal(const egide_seal_params_t *p, EVP_PKEY *keep_pub,
                       uint8_t keep[EGIDE_ENVELOPE_KEEP_LEN], uint8_t **out, size_t *out_len,
                       uint8_t msg_id_out[16]);

egide_rc egide_envelope_seal(const egide_seal_params_t *p, uint8_t **out, size_t *out_len,
                             uint8_t msg_id_out[16])
{
    return s_seal(p, NULL, NULL, out, out_len, msg_id_out);
}

egide_rc egide_envelope_seal_kept(const egide_seal_params_t *p, EVP_PKEY *keep_pub, uint8_t **out,
                                  size_t *out_len, uint8_t msg_id_out[16],
                                  uint8_t keep[EGIDE_ENVELOPE_KEEP_LEN])
{
    if (!keep_pub || !keep || EVP_PKEY_get_id(keep_pub) != EVP_PKEY_X25519) {
        if (out)
            *out = NULL;
        if (out_len)
            *out_len = 0;
        return EGIDE_ERR_INVALID;
    }
    return s_seal(p, keep_pub, keep, out, out_len, msg_id_out);
}

static egide_rc s_seal(const egide_seal_params_t *p, EVP_PKEY *keep_pub,
                       uint8_t keep[EGIDE_ENVELOPE_KEEP_LEN], uint8_t **out, size_t *out_len,
                       uint8_t msg_id_out[16])
{
    if (!out || !out_len)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    *out_len = 0;
    egide_rc rc = s_check_params(p);
    if (rc)
        return rc;

    uint8_t msg_id[EGIDE_MSG_ID_LEN], cek[EGIDE_CEK_LEN], nonce[EGIDE_GCM_NONCE_LEN];
    uint8_t commit[32], ct_hash[32], sig[64];
    uint8_t *ct = NULL, *hdr_bytes = NULL, *env_bytes = NULL;
    size_t pt_len = 0, ct_len = 0, hdr_len = 0;
    egide_buf_t aad;
    egide_buf_init(&aad, 0);
    Egide__V1__Recipient *rcpts = NULL;
    Egide__V1__Recipient **rcpt_ptrs = NULL;
    uint8_t *wraps = NULL; /* n * (32 enc + 48 wrapped) */

    int64_t created = p->created_ms ? p->created_ms : egide_now_ms();
    int64_t expires = p->expires_ms ? p->expires_ms : created + EGIDE_DEFAULT_MESSAGE_TTL_MS;
    if (expires < created)
        return EGIDE_ERR_INVALID;

    /* One call to the DRBG for all three (each call takes its lock). */
    uint8_t rnd[EGIDE_MSG_ID_LEN + EGIDE_CEK_LEN + EGIDE_GCM_NONCE_LEN];
    if ((rc = egide_random(rnd, sizeof rnd)))
        goto done;
    memcpy(msg_id, rnd, sizeof msg_id);
    memcpy(cek, rnd + sizeof msg_id, sizeof cek);
    memcpy(nonce, rnd + sizeof msg_id + sizeof cek, sizeof nonce);
    egide_wipe(rnd, sizeof rnd);

    /* Plaintext: the serialized Payload, i.e. field 1 (content_type) then
     * field 2 (body, omitted when empty, as protobuf does).  Only the framing
     * is built here; the body is encrypted straight from the caller's buffer,
     * never copied. */
    uint8_t frame[2 * 11 + EGIDE_MAX_CONTENT_TYPE];
    size_t fl = 0, ctl = strlen(p->content_type);
    frame[fl++] = 0x0a;
    fl += s_put_varint(frame + fl, ctl);
    memcpy(frame + fl, p->content_type, ctl);
    fl += ctl;
    if (p->payload_len > 0) {
        frame[fl++] = 0x12;
        fl += s_put_varint(frame + fl, p->payload_len);
    }
    pt_len = fl + p->payload_len;
    ct_len = pt_len + EGIDE_GCM_TAG_LEN;
    ct = malloc(ct_len);
    if (!ct) {
        rc = EGIDE_ERR_NOMEM;
        goto done;
    }
    if ((rc = s_payload_aad(&aad, msg_id, p->sender_id, p->message_type)))
        goto done;
    rc = egide_aead_seal2(EGIDE_HPKE_AEAD_AES256GCM, cek, sizeof cek, nonce, aad.data, aad.len,
                          frame, fl, p->payload, p->payload_len, ct);
    egide_wipe(frame, sizeof frame);
    if (rc)
        goto done;
    egide_sha256(ct, ct_len, ct_hash);
    if ((rc = s_commitment(cek, msg_id, commit)))
        goto done;
    if (keep_pub) {
        /* The sender's kept copy of the content key, for itself only. */
        egide_buf_t kinfo;
        rc = s_keep_info(&kinfo, msg_id, p->sender_id);
        if (!rc)
            rc = egide_hpke_seal(EGIDE_HPKE_AEAD_AES256GCM, keep_pub, kinfo.data, kinfo.len, NULL,
                                 0, cek, sizeof cek, keep, keep + EGIDE_HPKE_ENC_LEN);
        egide_buf_free(&kinfo);
        if (rc)
            goto done;
    }

    /* One HPKE wrap of the CEK per recipient. */
    rcpts = calloc(p->n_recipients, sizeof *rcpts);
    rcpt_ptrs = calloc(p->n_recipients, sizeof(Egide__V1__Recipient *));
    wraps = malloc(p->n_recipients * (EGIDE_HPKE_ENC_LEN + WRAPPED_CEK_LEN));
    if (!rcpts || !rcpt_ptrs || !wraps) {
        rc = EGIDE_ERR_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < p->n_recipients; i++) {
        const egide_seal_recipient_t *r = &p->recipients[i];
        uint8_t *enc = wraps + i * (EGIDE_HPKE_ENC_LEN + WRAPPED_CEK_LEN);
        uint8_t *wrapped = enc + EGIDE_HPKE_ENC_LEN;
        rc = s_wrap(msg_id, p->sender_id, r, cek, enc, wrapped);
        if (rc)
            goto done;
        egide__v1__recipient__init(&rcpts[i]);
        rcpts[i].node_id = (char *)r->node_id;
        rcpts[i].key_fingerprint.data = (uint8_t *)r->enc_cert_fpr;
        rcpts[i].key_fingerprint.len = EGIDE_SHA256_LEN;
        rcpts[i].enc.data = enc;
        rcpts[i].enc.len = EGIDE_HPKE_ENC_LEN;
        rcpts[i].wrapped_cek.data = wrapped;
        rcpts[i].wrapped_cek.len = WRAPPED_CEK_LEN;
        rcpt_ptrs[i] = &rcpts[i];
    }

    /* The header, signed as the bytes we store. */
    Egide__V1__EnvelopeHeader h = EGIDE__V1__ENVELOPE_HEADER__INIT;
    h.version = EGIDE_ENVELOPE_VERSION;
    h.suite = EGIDE_ENVELOPE_SUITE;
    h.msg_id.data = msg_id;
    h.msg_id.len = sizeof msg_id;
    h.sender_id = (char *)p->sender_id;
    h.sender_cert_fingerprint.data = (uint8_t *)p->sign_cert_fpr;
    h.sender_cert_fingerprint.len = EGIDE_SHA256_LEN;
    h.sender_seq = p->sender_seq;
    h.created_ms = created;
    h.expires_ms = expires;
    h.message_type = (char *)p->message_type;
    h.urgency = (Egide__V1__Urgency)p->urgency;
    if (p->in_reply_to) {
        h.in_reply_to.data = (uint8_t *)p->in_reply_to;
        h.in_reply_to.len = EGIDE_MSG_ID_LEN;
    }
    h.n_recipients = p->n_recipients;
    h.recipients = rcpt_ptrs;
    h.payload_nonce.data = nonce;
    h.payload_nonce.len = sizeof nonce;
    h.ciphertext_sha256.data = ct_hash;
    h.ciphertext_sha256.len = sizeof ct_hash;
    h.key_commitment.data = commit;
    h.key_commitment.len = sizeof commit;
    hdr_len = egide__v1__envelope_header__get_packed_size(&h);
    if (hdr_len > EGIDE_MAX_HEADER) {
        rc = EGIDE_ERR_LIMIT;
        goto done;
    }
    hdr_bytes = malloc(hdr_len);
    if (!hdr_bytes) {
        rc = EGIDE_ERR_NOMEM;
        goto done;
    }
    egide__v1__envelope_header__pack(&h, hdr_bytes);
    if ((rc = egide_sign_labeled(p->sign_key, EGIDE_LABEL_ENVELOPE, hdr_bytes, hdr_len, sig)))
        goto done;

    Egide__V1__SignedEnvelope env = EGIDE__V1__SIGNED_ENVELOPE__INIT;
    env.header.data = hdr_bytes;
    env.header.len = hdr_len;
    env.ciphertext.data = ct;
    env.ciphertext.len = ct_len;
    env.signature.data = sig;
    env.signature.len = sizeof sig;
    size_t env_len = egide__v1__signed_envelope__get_packed_size(&env);
    if (env_len > EGIDE_MAX_ENVELOPE) {
        rc = EGIDE_ERR_LIMIT;
        goto done;
    }
    env_bytes = malloc(env_len);
    if (!env_bytes) {
        rc = EGIDE_ERR_NOMEM;
        goto done;
    }
    egide__v1__signed_envelope__pack(&env, env_bytes);
    *out = env_bytes;
    *out_len = env_len;
    env_bytes = NULL;
    if (msg_id_out)
        memcpy(msg_id_out, msg_id, sizeof msg_id);
    rc = EGIDE_OK;
done:
    egide_wipe(cek, sizeof cek);
    if (rc && keep)
        egide_wipe(keep, EGIDE_ENVELOPE_KEEP_LEN);
    free(ct);
    free(hdr_bytes);
    free(env_bytes);
    free(rcpts);
    free(rcpt_ptrs);
    free(wraps);
    egide_buf_free(&aad);
    return rc;
}

/* ------------------------------------------------------------ resequence */

egide_rc egide_envelope_sender_fpr(const uint8_t *buf, size_t len, uint8_t fpr[32])
{
    if (!buf || !fpr)
        return EGIDE_ERR_INVALID;
    egide_envelope_t *e = NULL;
    egide_rc rc = egide_envelope_parse(buf, len, &e);
    if (rc)
        return rc;
    const Egide__V1__EnvelopeHeader *h = egide_envelope_header(e);
    rc = EGIDE_ERR_PROTO;
    if (h->sender_cert_fingerprint.len == 32) {
        memcpy(fpr, h->sender_cert_fingerprint.data, 32);
        rc = EGIDE_OK;
    }
    egide_envelope_destroy(&e);
    return rc;
}

/* Sign header h and pack it with ciphertext as a SignedEnvelope: a new
 * buffer in *out (the caller frees it).  The size limits of a first
 * sealing apply. */
static egide_rc s_sign_pack(const Egide__V1__EnvelopeHeader *h, ProtobufCBinaryData ciphertext,
                            EVP_PKEY *sign_key, uint8_t **out, size_t *out_len)
{
    uint8_t sig[EGIDE_ED25519_SIG_LEN];
    size_t hdr_len = egide__v1__envelope_header__get_packed_size(h);
    if (hdr_len > EGIDE_MAX_HEADER)
        return EGIDE_ERR_LIMIT;
    uint8_t *hdr = malloc(hdr_len);
    if (!hdr)
        return EGIDE_ERR_NOMEM;
    egide__v1__envelope_header__pack(h, hdr);
    egide_rc rc = egide_sign_labeled(sign_key, EGIDE_LABEL_ENVELOPE, hdr, hdr_len, sig);
    Egide__V1__SignedEnvelope env = EGIDE__V1__SIGNED_ENVELOPE__INIT;
    env.header = (ProtobufCBinaryData){hdr_len, hdr};
    env.ciphertext = ciphertext;
    env.signature = (ProtobufCBinaryData){sizeof sig, sig};
    size_t env_len = rc ? 0 : egide__v1__signed_envelope__get_packed_size(&env);
    uint8_t *env_bytes = NULL;
    if (!rc && env_len > EGIDE_MAX_ENVELOPE)
        rc = EGIDE_ERR_LIMIT;
    if (!rc && !(env_bytes = malloc(env_len)))
        rc = EGIDE_ERR_NOMEM;
    if (!rc) {
        egide__v1__signed_envelope__pack(&env, env_bytes);
        *out = env_bytes;
        *out_len = env_len;
    }
    free(hdr);
    return rc;
}

egide_rc egide_envelope_resequence(const uint8_t *buf, size_t len, uint64_t new_seq,
                                   EVP_PKEY *sign_key, const uint8_t *sign_cert_fpr, uint8_t **out,
                                   size_t *out_len)
{
    if (!buf || !sign_key || !out || !out_len || !new_seq)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    *out_len = 0;
    egide_envelope_t *e = NULL;
    egide_rc rc = egide_envelope_parse(buf, len, &e);
    if (rc)
        return rc;
    /* Only the sequence changes: a shallow copy of the parsed header keeps
     * every other field, recipients and their wrapped keys included, and
     * neither the payload nor the keys bind the sequence, so nothing is
     * decrypted or re-encrypted. */
    Egide__V1__EnvelopeHeader h = *egide_envelope_header(e);
    h.sender_seq = new_seq;
    uint8_t fpr[32];
    if (sign_cert_fpr) {
        memcpy(fpr, sign_cert_fpr, sizeof fpr);
        h.sender_cert_fingerprint = (ProtobufCBinaryData){sizeof fpr, fpr};
    }
    if ((rc = s_sign_pack(&h, e->env->ciphertext, sign_key, out, out_len)))
        goto done;
    rc = EGIDE_OK;
done:
    egide_envelope_destroy(&e);
    return rc;
}

/* ------------------------------------------------------------ reseal */

egide_rc egide_envelope_reseal(const uint8_t *buf, size_t len, const uint8_t *keep, size_t keep_len,
                               EVP_PKEY *keep_key, const egide_seal_recipient_t *rcpts, size_t n,
                               uint64_t new_seq, EVP_PKEY *sign_key, const uint8_t *sign_cert_fpr,
                               uint8_t **out, size_t *out_len, size_t *n_rewrapped)
{
    if (out)
        *out = NULL;
    if (out_len)
        *out_len = 0;
    if (n_rewrapped)
        *n_rewrapped = 0;
    if (!buf || !keep || !keep_key || EVP_PKEY_get_id(keep_key) != EVP_PKEY_X25519 || !rcpts ||
        !sign_key || !out || !out_len || !new_seq)
        return EGIDE_ERR_INVALID;
    if (keep_len != EGIDE_ENVELOPE_KEEP_LEN)
        return EGIDE_ERR_PROTO;
    egide_envelope_t *e = NULL;
    egide_rc rc = egide_envelope_parse(buf, len, &e);
    if (rc)
        return rc;
    const Egide__V1__EnvelopeHeader *h0 = egide_envelope_header(e);
    /* The same addressees, in the same order: only their keys change. */
    if (n != h0->n_recipients) {
        egide_envelope_destroy(&e);
        return EGIDE_ERR_INVALID;
    }
    for (size_t i = 0; i < n; i++)
        if (!rcpts[i].node_id || strcmp(rcpts[i].node_id, h0->recipients[i]->node_id) != 0 ||
            !rcpts[i].enc_pub || EVP_PKEY_get_id(rcpts[i].enc_pub) != EVP_PKEY_X25519 ||
            !rcpts[i].enc_cert_fpr) {
            egide_envelope_destroy(&e);
            return EGIDE_ERR_INVALID;
        }
    uint8_t cek[EGIDE_CEK_LEN], commit[32], fpr[32];
    uint8_t *wraps = NULL;
    Egide__V1__Recipient *nr = NULL;
    Egide__V1__Recipient **ptrs = NULL;
    size_t rewrapped = 0;
    egide_buf_t kinfo;
    rc = s_keep_info(&kinfo, h0->msg_id.data, h0->sender_id);
    if (!rc) {
        rc = egide_hpke_open(EGIDE_HPKE_AEAD_AES256GCM, keep_key, keep, EGIDE_HPKE_ENC_LEN,
                             kinfo.data, kinfo.len, NULL, 0, keep + EGIDE_HPKE_ENC_LEN,
                             keep_len - EGIDE_HPKE_ENC_LEN, cek);
        if (rc == EGIDE_ERR_CRYPTO)
            rc = EGIDE_ERR_DECRYPT;
    }
    egide_buf_free(&kinfo);
    if (rc)
        goto done;
    /* The kept key must be this envelope's: its commitment says so. */
    if ((rc = s_commitment(cek, h0->msg_id.data, commit)))
        goto done;
    if (!egide_ct_equal(commit, h0->key_commitment.data, 32)) {
        rc = EGIDE_ERR_COMMITMENT;
        goto done;
    }
    nr = calloc(n, sizeof *nr);
    ptrs = calloc(n, sizeof *ptrs);
    wraps = malloc(n * (EGIDE_HPKE_ENC_LEN + WRAPPED_CEK_LEN));
    if (!nr || !ptrs || !wraps) {
        rc = EGIDE_ERR_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const Egide__V1__Recipient *old = h0->recipients[i];
        const egide_seal_recipient_t *r = &rcpts[i];
        nr[i] = *old;
        ptrs[i] = &nr[i];
        if (old->key_fingerprint.len == EGIDE_SHA256_LEN &&
            memcmp(old->key_fingerprint.data, r->enc_cert_fpr, EGIDE_SHA256_LEN) == 0)
            continue; /* this recipient's key did not change: its wrap stays */
        uint8_t *enc = wraps + i * (EGIDE_HPKE_ENC_LEN + WRAPPED_CEK_LEN);
        uint8_t *wrapped = enc + EGIDE_HPKE_ENC_LEN;
        if ((rc = s_wrap(h0->msg_id.data, h0->sender_id, r, cek, enc, wrapped)))
            goto done;
        nr[i].key_fingerprint = (ProtobufCBinaryData){EGIDE_SHA256_LEN, (uint8_t *)r->enc_cert_fpr};
        nr[i].enc = (ProtobufCBinaryData){EGIDE_HPKE_ENC_LEN, enc};
        nr[i].wrapped_cek = (ProtobufCBinaryData){WRAPPED_CEK_LEN, wrapped};
        rewrapped++;
    }
    Egide__V1__EnvelopeHeader h = *h0;
    h.recipients = ptrs;
    h.sender_seq = new_seq;
    if (sign_cert_fpr) {
        memcpy(fpr, sign_cert_fpr, sizeof fpr);
        h.sender_cert_fingerprint = (ProtobufCBinaryData){sizeof fpr, fpr};
    }
    if ((rc = s_sign_pack(&h, e->env->ciphertext, sign_key, out, out_len)))
        goto done;
    if (n_rewrapped)
        *n_rewrapped = rewrapped;
    rc = EGIDE_OK;
done:
    egide_wipe(cek, sizeof cek);
    free(nr);
    free(ptrs);
    free(wraps);
    egide_envelope_destroy(&e);
    return rc;
}

/* ------------------------------------------------------------ parse */

egide_rc egide_envelope_parse(const uint8_t *buf, size_t len, egide_envelope_t **out)
{
    if (!out)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    if (len > EGIDE_MAX_ENVELOPE)
        return EGIDE_ERR_LIMIT;
    if (!buf || len == 0)
        return EGIDE_ERR_PROTO;
    egide_envelope_t *e = calloc(1, sizeof *e);
    if (!e)
        return EGIDE_ERR_NOMEM;
    egide_rc rc = EGIDE_OK;
    e->raw = malloc(len);
    if (!e->raw) {
        rc = EGIDE_ERR_NOMEM;
        goto fail;
    }
    memcpy(e->raw, buf, len);
    e->raw_len = len;
    e->env = egide__v1__signed_envelope__unpack(NULL, len, buf);
    if (!e->env) {
        rc = EGIDE_ERR_PROTO;
        goto fail;
    }
    if (e->env->header.len > EGIDE_MAX_HEADER) {
        rc = EGIDE_ERR_LIMIT;
        goto fail;
    }
    /* The signature is the highest-numbered, required field: a truncated
     * envelope lacks it.  The ciphertext holds at least a tag. */
    if (e->env->header.len == 0 || e->env->signature.len != EGIDE_ED25519_SIG_LEN ||
        e->env->ciphertext.len < EGIDE_GCM_TAG_LEN) {
        rc = EGIDE_ERR_PROTO;
        goto fail;
    }
    if (e->env->ciphertext.len > MAX_PLAINTEXT + EGIDE_GCM_TAG_LEN) {
        rc = EGIDE_ERR_LIMIT;
        goto fail;
    }
    e->hdr = egide__v1__envelope_header__unpack(NULL, e->env->header.len, e->env->header.data);
    if (!e->hdr) {
        rc = EGIDE_ERR_PROTO;
        goto fail;
    }
    rc = s_validate_header(e->hdr);
    if (rc)
        goto fail;
    *out = e;
    return EGIDE_OK;
fail:
    egide_envelope_destroy(&e);
    return rc;
}

void egide_envelope_destroy(egide_envelope_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    egide_envelope_t *e = *self_p;
    if (e->hdr)
        egide__v1__envelope_header__free_unpacked(e->hdr, NULL);
    if (e->env)
        egide__v1__signed_envelope__free_unpacked(e->env, NULL);
    free(e->raw);
    free(e);
    *self_p = NULL;
}

const Egide__V1__EnvelopeHeader *egide_envelope_header(const egide_envelope_t *e)
{
    return e ? e->hdr : NULL;
}

void egide_envelope_hash(const egide_envelope_t *e, uint8_t out[32])
{
    /* Computed when asked (once per envelope in practice), not in parse:
     * receivers that only open pay for one hash of the ciphertext. */
    if (e)
        egide_sha256(e->raw, e->raw_len, out);
}

const uint8_t *egide_envelope_bytes(const egide_envelope_t *e, size_t *len)
{
    if (len)
        *len = e ? e->raw_len : 0;
    return e ? e->raw : NULL;
}

int egide_envelope_recipient_index(const egide_envelope_t *e, const char *node_id)
{
    if (!e || !node_id)
        return -1;
    for (size_t i = 0; i < e->hdr->n_recipients; i++)
        if (strcmp(e->hdr->recipients[i]->node_id, node_id) == 0)
            return (int)i;
    return -1;
}

egide_rc egide_envelope_match_sender_cert(const egide_envelope_t *e, X509 *sign_cert)
{
    if (!e || !sign_cert)
        return EGIDE_ERR_INVALID;
    uint8_t fpr[32];
    if (egide_cert_fingerprint(sign_cert, fpr) != EGIDE_OK ||
        !egide_ct_equal(fpr, e->hdr->sender_cert_fingerprint.data, 32))
        return EGIDE_ERR_CERT;
    char cn[EGIDE_MAX_NODE_ID + 1];
    if (egide_pki_cert_cn(sign_cert, cn, sizeof cn) != EGIDE_OK ||
        strcmp(cn, e->hdr->sender_id) != 0)
        return EGIDE_ERR_CERT;
    return EGIDE_OK;
}

egide_rc egide_envelope_check_time(const egide_envelope_t *e, int64_t now_ms, int64_t skew_ms)
{
    if (!e || skew_ms < 0)
        return EGIDE_ERR_INVALID;
    if (now_ms > e->hdr->expires_ms)
        return EGIDE_ERR_EXPIRED;
    if (e->hdr->created_ms > now_ms && e->hdr->created_ms - now_ms > skew_ms)
        return EGIDE_ERR_REPLAY;
    return EGIDE_OK;
}

egide_rc egide_envelope_verify(const egide_envelope_t *e, EVP_PKEY *sender_sign_pub)
{
    if (!e || !sender_sign_pub || EVP_PKEY_get_id(sender_sign_pub) != EVP_PKEY_ED25519)
        return EGIDE_ERR_INVALID;
    uint8_t pub[32];
    if (egide_key_raw_public(sender_sign_pub, pub) != EGIDE_OK)
        return EGIDE_ERR_INVALID;
    if (e->verified && egide_ct_equal(pub, e->verified_pub, 32))
        return EGIDE_OK;
    egide_rc rc =
        egide_verify_labeled(sender_sign_pub, EGIDE_LABEL_ENVELOPE, e->env->header.data,
                             e->env->header.len, e->env->signature.data, e->env->signature.len);
    if (rc)
        return rc == EGIDE_ERR_INVALID ? EGIDE_ERR_INVALID : EGIDE_ERR_SIGNATURE;
    uint8_t h[32];
    egide_sha256(e->env->ciphertext.data, e->env->ciphertext.len, h);
    if (!egide_ct_equal(h, e->hdr->ciphertext_sha256.data, 32))
        return EGIDE_ERR_HASH;
    egide_envelope_t *m = (egide_envelope_t *)e; /* the memo only; see the struct */
    memcpy(m->verified_pub, pub, 32);
    m->verified = true;
    return EGIDE_OK;
}

egide_rc egide_envelope_open(const egide_envelope_t *e, const char *my_node_id,
                             EVP_PKEY *my_enc_key, EVP_PKEY *sender_sign_pub, char **content_type,
                             uint8_t **payload, size_t *payload_len)
{
    if (!content_type || !payload || !payload_len)
        return EGIDE_ERR_INVALID;
    *content_type = NULL;
    *payload = NULL;
    *payload_len = 0;
    if (!e || !my_node_id || !my_enc_key || EVP_PKEY_get_id(my_enc_key) != EVP_PKEY_X25519)
        return EGIDE_ERR_INVALID;
    egide_rc rc = egide_envelope_verify(e, sender_sign_pub);
    if (rc)
        return rc;
    const Egide__V1__EnvelopeHeader *h = e->hdr;
    int idx = egide_envelope_recipient_index(e, my_node_id);
    if (idx < 0)
        return EGIDE_ERR_NOT_RECIPIENT;
    const Egide__V1__Recipient *r = h->recipients[idx];

    uint8_t cek[EGIDE_CEK_LEN], commit[32];
    uint8_t *pt = NULL;
    size_t pt_len = e->env->ciphertext.len - EGIDE_GCM_TAG_LEN;
    egide_buf_t info, aad;
    egide_buf_init(&aad, 0);
    rc = s_wrap_info(&info, h->msg_id.data, h->sender_id, r->node_id);
    if (!rc) {
        rc = egide_hpke_open(EGIDE_HPKE_AEAD_AES256GCM, my_enc_key, r->enc.data, r->enc.len,
                             info.data, info.len, r->key_fingerprint.data, r->key_fingerprint.len,
                             r->wrapped_cek.data, r->wrapped_cek.len, cek);
        if (rc == EGIDE_ERR_CRYPTO)
            rc = EGIDE_ERR_DECRYPT;
    }
    egide_buf_free(&info);
    if (rc)
        goto done;
    if ((rc = s_commitment(cek, h->msg_id.data, commit)))
        goto done;
    if (!egide_ct_equal(commit, h->key_commitment.data, 32)) {
        rc = EGIDE_ERR_COMMITMENT;
        goto done;
    }
    if ((rc = s_payload_aad(&aad, h->msg_id.data, h->sender_id, h->message_type)))
        goto done;
    pt = malloc(pt_len ? pt_len : 1);
    if (!pt) {
        rc = EGIDE_ERR_NOMEM;
        goto done;
    }
    rc = egide_aead_open(EGIDE_HPKE_AEAD_AES256GCM, cek, sizeof cek, h->payload_nonce.data,
                         aad.data, aad.len, e->env->ciphertext.data, e->env->ciphertext.len, pt);
    if (rc)
        goto done;
    const uint8_t *ctp, *body;
    size_t ctl, body_len;
    if ((rc = s_parse_payload(pt, pt_len, &ctp, &ctl, &body, &body_len)))
        goto done;
    *content_type = strndup((const char *)ctp, ctl);
    if (!*content_type) {
        rc = EGIDE_ERR_NOMEM;
        goto done;
    }
    /* Hand the plaintext buffer itself over: body moved to its start, the
     * rest (content type, framing) wiped. */
    memmove(pt, body, body_len);
    egide_wipe(pt + body_len, pt_len - body_len);
    *payload = pt;
    *payload_len = body_len;
    pt = NULL;
    rc = EGIDE_OK;
done:
    egide_free_secret(pt, pt_len);
    egide_wipe(cek, sizeof cek);
    egide_buf_free(&aad);
    return rc;
}
