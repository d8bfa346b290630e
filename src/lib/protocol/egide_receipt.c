/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_receipt.c - build, sign, parse and verify SignedReceipt messages.
 *
 * The body is signed and verified as the stored bytes; parse() validates
 * every field with the same rules sign() applies to its parameters, so a
 * receipt this module produced always parses, and one it refuses could not
 * have been produced by it.
 */
#include "egide/protocol/egide_receipt.h"

#include <stdlib.h>
#include <string.h>

#include "egide/crypto/egide_crypto.h"
#include "egide/base/egide_limits.h"
#include "egide/crypto/egide_pki.h"
#include "egide/base/egide_util.h"

/* Invariant: sr and body are unpacked from raw and passed s_validate(). */
struct egide_receipt {
    uint8_t *raw; /* bytes as received (owned) */
    size_t raw_len;
    Egide__V1__SignedReceipt *sr; /* outer message (owned) */
    Egide__V1__ReceiptBody *body; /* unpacked sr->body (owned) */
};

static int s_valid_id(const char *s, int may_be_empty)
{
    if (!s)
        return may_be_empty;
    size_t n = 0;
    for (; s[n]; n++) {
        if (n >= EGIDE_MAX_NODE_ID)
            return 0;
        if ((unsigned char)s[n] < 0x21 || (unsigned char)s[n] > 0x7e)
            return 0;
    }
    return n > 0 || may_be_empty;
}

static int s_valid_detail(const char *s)
{
    if (!s)
        return 1;
    size_t n = 0;
    for (; s[n]; n++) {
        if (n >= EGIDE_RECEIPT_MAX_DETAIL)
            return 0;
        if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7e)
            return 0;
    }
    return 1;
}

static int s_kind_ok(int k)
{
    return k == EGIDE__V1__RECEIPT_KIND__RECEIPT_ACCEPTED ||
           k == EGIDE__V1__RECEIPT_KIND__RECEIPT_DELIVERED ||
           k == EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED;
}

/* A REJECTED receipt says why; the others carry no reason. */
static int s_reason_ok(int kind, int reason)
{
    if (reason < 0 || reason > EGIDE_RECEIPT_MAX_REASON)
        return 0;
    if (kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED)
        return reason != EGIDE__V1__REASON_CODE__REASON_NONE;
    return reason == EGIDE__V1__REASON_CODE__REASON_NONE;
}

static egide_rc s_validate(const Egide__V1__ReceiptBody *b)
{
    if (b->version != EGIDE_RECEIPT_VERSION)
        return EGIDE_ERR_VERSION;
    if (!s_kind_ok((int)b->kind) || b->msg_id.len != EGIDE_MSG_ID_LEN ||
        b->envelope_sha256.len != EGIDE_SHA256_LEN || !s_valid_id(b->issuer_id, 0) ||
        !s_valid_id(b->sender_id, 0) || !s_valid_id(b->recipient_id, 1) || b->time_ms <= 0 ||
        !s_reason_ok((int)b->kind, (int)b->reason) || !s_valid_detail(b->detail) ||
        b->issuer_cert_fingerprint.len != EGIDE_SHA256_LEN)
        return EGIDE_ERR_PROTO;
    return EGIDE_OK;
}

egide_rc egide_receipt_sign(const egide_receipt_params_t *p, EVP_PKEY *issuer_key, uint8_t **out,
                            size_t *out_len)
{
    if (!out || !out_len)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    *out_len = 0;
    if (!p || !issuer_key || EVP_PKEY_get_id(issuer_key) != EVP_PKEY_ED25519 || !p->msg_id ||
        !p->envelope_sha256 || !p->issuer_cert_fpr || p->time_ms < 0)
        return EGIDE_ERR_INVALID;
    Egide__V1__ReceiptBody b = EGIDE__V1__RECEIPT_BODY__INIT;
    b.version = EGIDE_RECEIPT_VERSION;
    b.kind = (Egide__V1__ReceiptKind)p->kind;
    b.msg_id.data = (uint8_t *)p->msg_id;
    b.msg_id.len = EGIDE_MSG_ID_LEN;
    b.envelope_sha256.data = (uint8_t *)p->envelope_sha256;
    b.envelope_sha256.len = EGIDE_SHA256_LEN;
    b.issuer_id = (char *)p->issuer_id;
    b.sender_id = (char *)p->sender_id;
    if (p->recipient_id)
        b.recipient_id = (char *)p->recipient_id;
    b.time_ms = p->time_ms ? p->time_ms : egide_now_ms();
    b.reason = (Egide__V1__ReasonCode)p->reason;
    if (p->detail)
        b.detail = (char *)p->detail;
    b.has_audit_leaf = p->has_audit_leaf;
    b.audit_leaf_index = p->audit_leaf_index;
    b.issuer_cert_fingerprint.data = (uint8_t *)p->issuer_cert_fpr;
    b.issuer_cert_fingerprint.len = EGIDE_SHA256_LEN;
    if (!p->issuer_id || !p->sender_id || s_validate(&b) != EGIDE_OK)
        return EGIDE_ERR_INVALID;

    size_t blen = egide__v1__receipt_body__get_packed_size(&b);
    uint8_t *body = malloc(blen);
    if (!body)
        return EGIDE_ERR_NOMEM;
    egide__v1__receipt_body__pack(&b, body);
    uint8_t sig[64];
    egide_rc rc = egide_sign_labeled(issuer_key, EGIDE_LABEL_RECEIPT, body, blen, sig);
    if (rc) {
        free(body);
        return rc;
    }
    Egide__V1__SignedReceipt sr = EGIDE__V1__SIGNED_RECEIPT__INIT;
    sr.body.data = body;
    sr.body.len = blen;
    sr.signature.data = sig;
    sr.signature.len = sizeof sig;
    size_t len = egide__v1__signed_receipt__get_packed_size(&sr);
    if (len > EGIDE_MAX_RECEIPT) {
        free(body);
        return EGIDE_ERR_LIMIT;
    }
    uint8_t *buf = malloc(len);
    if (!buf) {
        free(body);
        return EGIDE_ERR_NOMEM;
    }
    egide__v1__signed_receipt__pack(&sr, buf);
    free(body);
    *out = buf;
    *out_len = len;
    return EGIDE_OK;
}

egide_rc egide_receipt_parse(const uint8_t *buf, size_t len, egide_receipt_t **out)
{
    if (!out)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    if (len > EGIDE_MAX_RECEIPT)
        return EGIDE_ERR_LIMIT;
    if (!buf || len == 0)
        return EGIDE_ERR_PROTO;
    egide_receipt_t *r = calloc(1, sizeof *r);
    if (!r)
        return EGIDE_ERR_NOMEM;
    egide_rc rc = EGIDE_ERR_NOMEM;
    r->raw = malloc(len);
    if (!r->raw)
        goto fail;
    memcpy(r->raw, buf, len);
    r->raw_len = len;
    rc = EGIDE_ERR_PROTO;
    r->sr = egide__v1__signed_receipt__unpack(NULL, len, buf);
    /* The signature is the last, required field: a truncated receipt lacks it. */
    if (!r->sr || r->sr->signature.len != EGIDE_ED25519_SIG_LEN || r->sr->body.len == 0)
        goto fail;
    r->body = egide__v1__receipt_body__unpack(NULL, r->sr->body.len, r->sr->body.data);
    if (!r->body)
        goto fail;
    rc = s_validate(r->body);
    if (rc)
        goto fail;
    *out = r;
    return EGIDE_OK;
fail:
    egide_receipt_destroy(&r);
    return rc;
}

void egide_receipt_destroy(egide_receipt_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    egide_receipt_t *r = *self_p;
    if (r->body)
        egide__v1__receipt_body__free_unpacked(r->body, NULL);
    if (r->sr)
        egide__v1__signed_receipt__free_unpacked(r->sr, NULL);
    free(r->raw);
    free(r);
    *self_p = NULL;
}

const Egide__V1__ReceiptBody *egide_receipt_body(const egide_receipt_t *r)
{
    return r ? r->body : NULL;
}

void egide_receipt_hash(const egide_receipt_t *r, uint8_t out[32])
{
    if (r)
        egide_sha256(r->raw, r->raw_len, out);
}

egide_rc egide_receipt_verify(const egide_receipt_t *r, EVP_PKEY *issuer_pub)
{
    if (!r || !issuer_pub || EVP_PKEY_get_id(issuer_pub) != EVP_PKEY_ED25519)
        return EGIDE_ERR_INVALID;
    return egide_verify_labeled(issuer_pub, EGIDE_LABEL_RECEIPT, r->sr->body.data, r->sr->body.len,
                                r->sr->signature.data, r->sr->signature.len);
}

egide_rc egide_receipt_verify_cert(const egide_receipt_t *r, X509 *issuer_cert)
{
    if (!r || !issuer_cert)
        return EGIDE_ERR_INVALID;
    uint8_t fpr[32];
    char cn[EGIDE_MAX_NODE_ID + 1];
    if (egide_cert_fingerprint(issuer_cert, fpr) != EGIDE_OK ||
        !egide_ct_equal(fpr, r->body->issuer_cert_fingerprint.data, 32) ||
        egide_pki_cert_cn(issuer_cert, cn, sizeof cn) != EGIDE_OK ||
        strcmp(cn, r->body->issuer_id) != 0)
        return EGIDE_ERR_CERT;
    EVP_PKEY *pub = NULL;
    egide_rc rc = egide_pki_cert_pubkey(issuer_cert, EGIDE_CERT_USE_SIGN, &pub);
    if (rc)
        return rc;
    rc = egide_receipt_verify(r, pub);
    EVP_PKEY_free(pub);
    return rc;
}
