/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_receipt.c - unit tests for egide_receipt: sign/parse/verify round
 * trip, verification against a key and against a certificate (fingerprint and
 * CN), wrong keys, every flipped byte, every truncation, oversize, version,
 * and the parameter rules (kind, reason consistency, ids, detail).
 */
#include "egide/crypto/egide_crypto.h"
#include "egide/base/egide_limits.h"
#include "egide/protocol/egide_receipt.h"
#include "egide/base/egide_util.h"
#include "egide_test.h"

#include <openssl/x509.h>

static EVP_PKEY *s_key(void)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    EVP_PKEY *k = NULL;
    if (c && EVP_PKEY_keygen_init(c) == 1)
        EVP_PKEY_keygen(c, &k);
    EVP_PKEY_CTX_free(c);
    return k;
}

/* A self-signed certificate with CN=cn for key k (enough for the name and
 * fingerprint checks; chains are egide_pki's business). */
static X509 *s_selfsigned(EVP_PKEY *k, const char *cn)
{
    X509 *x = X509_new();
    if (!x)
        return NULL;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, n);
    X509_set_pubkey(x, k);
    if (X509_sign(x, k, NULL) <= 0) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static uint8_t s_id[16] = {7, 7, 7}, s_sha[32] = {9, 9};

static egide_receipt_params_t s_params(const uint8_t *fpr)
{
    egide_receipt_params_t p = {
        .kind = EGIDE__V1__RECEIPT_KIND__RECEIPT_DELIVERED,
        .msg_id = s_id,
        .envelope_sha256 = s_sha,
        .issuer_id = "71.crip",
        .sender_id = "fr.snated",
        .recipient_id = "71.crip",
        .time_ms = 1700000000000,
        .issuer_cert_fpr = fpr,
    };
    return p;
}

static void test_roundtrip(void)
{
    EVP_PKEY *k = s_key(), *other = s_key();
    REQUIRE(k && other);
    X509 *cert = s_selfsigned(k, "71.crip"), *wrong_cn = s_selfsigned(k, "71.tas");
    REQUIRE(cert && wrong_cn);
    uint8_t fpr[32];
    REQUIRE(egide_cert_fingerprint(cert, fpr) == EGIDE_OK);
    egide_receipt_params_t p = s_params(fpr);
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_RC(egide_receipt_sign(&p, k, &buf, &len), EGIDE_OK);
    REQUIRE(buf && len > 0 && len <= EGIDE_MAX_RECEIPT);
    egide_receipt_t *r = NULL;
    CHECK_RC(egide_receipt_parse(buf, len, &r), EGIDE_OK);
    REQUIRE(r);
    const Egide__V1__ReceiptBody *b = egide_receipt_body(r);
    CHECK(b->kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_DELIVERED);
    CHECK_STREQ(b->issuer_id, "71.crip");
    CHECK_STREQ(b->sender_id, "fr.snated");
    CHECK(b->time_ms == 1700000000000);
    CHECK(memcmp(b->msg_id.data, s_id, 16) == 0 && memcmp(b->envelope_sha256.data, s_sha, 32) == 0);
    CHECK_RC(egide_receipt_verify(r, k), EGIDE_OK);
    CHECK_RC(egide_receipt_verify(r, other), EGIDE_ERR_SIGNATURE);
    CHECK_RC(egide_receipt_verify_cert(r, cert), EGIDE_OK);
    CHECK_RC(egide_receipt_verify_cert(r, wrong_cn), EGIDE_ERR_CERT);
    X509 *other_cert = s_selfsigned(other, "71.crip");
    CHECK_RC(egide_receipt_verify_cert(r, other_cert), EGIDE_ERR_CERT); /* fingerprint */
    X509_free(other_cert);
    uint8_t h[32], want[32];
    egide_receipt_hash(r, h);
    egide_sha256(buf, len, want);
    CHECK(memcmp(h, want, 32) == 0);
    egide_receipt_destroy(&r);
    egide_receipt_destroy(&r);
    CHECK(r == NULL);

    /* An ACCEPTED receipt with an audit leaf, a REJECTED one with a reason. */
    p.kind = EGIDE__V1__RECEIPT_KIND__RECEIPT_ACCEPTED;
    p.issuer_id = "71.broker";
    p.recipient_id = NULL;
    p.has_audit_leaf = true;
    p.audit_leaf_index = 42;
    p.time_ms = 0;
    uint8_t *b2 = NULL;
    size_t l2 = 0;
    CHECK_RC(egide_receipt_sign(&p, k, &b2, &l2), EGIDE_OK);
    CHECK_RC(egide_receipt_parse(b2, l2, &r), EGIDE_OK);
    if (r) {
        CHECK(egide_receipt_body(r)->has_audit_leaf &&
              egide_receipt_body(r)->audit_leaf_index == 42);
        CHECK(egide_receipt_body(r)->time_ms > 1700000000000);
        CHECK_RC(egide_receipt_verify(r, k), EGIDE_OK);
        CHECK_RC(egide_receipt_verify_cert(r, cert), EGIDE_ERR_CERT); /* CN is 71.crip */
    }
    egide_receipt_destroy(&r);
    free(b2);
    p.kind = EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED;
    p.reason = EGIDE__V1__REASON_CODE__REASON_REPLAY;
    p.detail = "sequence 12 already seen";
    CHECK_RC(egide_receipt_sign(&p, k, &b2, &l2), EGIDE_OK);
    CHECK_RC(egide_receipt_parse(b2, l2, &r), EGIDE_OK);
    if (r)
        CHECK_STREQ(egide_receipt_body(r)->detail, "sequence 12 already seen");
    egide_receipt_destroy(&r);
    free(b2);

    /* Every flipped byte: refused at parse or at verification. */
    int accepted = 0;
    for (size_t i = 0; i < len; i++) {
        buf[i] ^= 0x01;
        if (egide_receipt_parse(buf, len, &r) == EGIDE_OK && egide_receipt_verify(r, k) == EGIDE_OK)
            accepted++;
        egide_receipt_destroy(&r);
        buf[i] ^= 0x01;
    }
    CHECK(accepted == 0);
    /* Every truncation: malformed. */
    int wrong = 0;
    for (size_t cut = 0; cut < len; cut++) {
        egide_rc rc = egide_receipt_parse(buf, cut, &r);
        if (rc != EGIDE_ERR_PROTO)
            wrong++;
        egide_receipt_destroy(&r);
    }
    CHECK(wrong == 0);
    free(buf);
    X509_free(cert);
    X509_free(wrong_cn);
    EVP_PKEY_free(k);
    EVP_PKEY_free(other);
}

static void test_oversize_random_version(void)
{
    egide_receipt_t *r = NULL;
    uint8_t *big = calloc(1, EGIDE_MAX_RECEIPT + 1);
    REQUIRE(big);
    CHECK_RC(egide_receipt_parse(big, EGIDE_MAX_RECEIPT + 1, &r), EGIDE_ERR_LIMIT);
    CHECK(r == NULL);
    free(big);
    CHECK_RC(egide_receipt_parse(NULL, 0, &r), EGIDE_ERR_PROTO);
    int accepted = 0;
    uint8_t rnd[300];
    for (int i = 0; i < 2000; i++) {
        size_t n = 1 + (size_t)i % sizeof rnd;
        egide_random(rnd, n);
        if (egide_receipt_parse(rnd, n, &r) == EGIDE_OK)
            accepted++;
        egide_receipt_destroy(&r);
    }
    CHECK(accepted == 0);
    /* A version-2 body, correctly signed, is refused as a version. */
    EVP_PKEY *k = s_key();
    REQUIRE(k);
    uint8_t fpr[32] = {1};
    Egide__V1__ReceiptBody b = EGIDE__V1__RECEIPT_BODY__INIT;
    b.version = 2;
    b.kind = EGIDE__V1__RECEIPT_KIND__RECEIPT_DELIVERED;
    b.msg_id = (ProtobufCBinaryData){16, s_id};
    b.envelope_sha256 = (ProtobufCBinaryData){32, s_sha};
    b.issuer_id = "71.crip";
    b.sender_id = "fr.snated";
    b.time_ms = 1;
    b.issuer_cert_fingerprint = (ProtobufCBinaryData){32, fpr};
    uint8_t body[512], sig[64], out[700];
    size_t bl = egide__v1__receipt_body__pack(&b, body);
    REQUIRE(egide_sign_labeled(k, EGIDE_LABEL_RECEIPT, body, bl, sig) == EGIDE_OK);
    Egide__V1__SignedReceipt sr = EGIDE__V1__SIGNED_RECEIPT__INIT;
    sr.body = (ProtobufCBinaryData){bl, body};
    sr.signature = (ProtobufCBinaryData){64, sig};
    size_t ol = egide__v1__signed_receipt__pack(&sr, out);
    CHECK_RC(egide_receipt_parse(out, ol, &r), EGIDE_ERR_VERSION);
    b.version = 1;
    bl = egide__v1__receipt_body__pack(&b, body);
    REQUIRE(egide_sign_labeled(k, EGIDE_LABEL_RECEIPT, body, bl, sig) == EGIDE_OK);
    sr.body.len = bl;
    ol = egide__v1__signed_receipt__pack(&sr, out);
    CHECK_RC(egide_receipt_parse(out, ol, &r), EGIDE_OK);
    CHECK_RC(egide_receipt_verify(r, k), EGIDE_OK);
    egide_receipt_destroy(&r);
    EVP_PKEY_free(k);
}

static void test_bad_parameters(void)
{
    EVP_PKEY *k = s_key();
    REQUIRE(k);
    uint8_t fpr[32] = {5};
    uint8_t *buf = (uint8_t *)1;
    size_t len = 0;
    egide_receipt_params_t p = s_params(fpr);
    p.kind = 0;
    CHECK_RC(egide_receipt_sign(&p, k, &buf, &len), EGIDE_ERR_INVALID);
    CHECK(buf == NULL);
    p = s_params(fpr);
    p.reason = EGIDE__V1__REASON_CODE__REASON_REPLAY; /* DELIVERED with a reason */
    CHECK_RC(egide_receipt_sign(&p, k, &buf, &len), EGIDE_ERR_INVALID);
    p = s_params(fpr);
    p.kind = EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED; /* REJECTED without one */
    CHECK_RC(egide_receipt_sign(&p, k, &buf, &len), EGIDE_ERR_INVALID);
    p = s_params(fpr);
    p.issuer_id = "";
    CHECK_RC(egide_receipt_sign(&p, k, &buf, &len), EGIDE_ERR_INVALID);
    p = s_params(fpr);
    p.sender_id = "fr snated";
    CHECK_RC(egide_receipt_sign(&p, k, &buf, &len), EGIDE_ERR_INVALID);
    p = s_params(fpr);
    p.detail = "line\nbreak";
    CHECK_RC(egide_receipt_sign(&p, k, &buf, &len), EGIDE_ERR_INVALID);
    p = s_params(fpr);
    p.msg_id = NULL;
    CHECK_RC(egide_receipt_sign(&p, k, &buf, &len), EGIDE_ERR_INVALID);
    p = s_params(fpr);
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);
    EVP_PKEY *x = NULL;
    if (c && EVP_PKEY_keygen_init(c) == 1)
        EVP_PKEY_keygen(c, &x);
    EVP_PKEY_CTX_free(c);
    CHECK_RC(egide_receipt_sign(&p, x, &buf, &len), EGIDE_ERR_INVALID);
    CHECK_RC(egide_receipt_sign(&p, k, &buf, &len), EGIDE_OK);
    egide_receipt_t *r = NULL;
    CHECK_RC(egide_receipt_parse(buf, len, &r), EGIDE_OK);
    CHECK_RC(egide_receipt_verify(r, x), EGIDE_ERR_INVALID);
    CHECK_RC(egide_receipt_verify(NULL, k), EGIDE_ERR_INVALID);
    egide_receipt_destroy(&r);
    egide_receipt_destroy(NULL);
    free(buf);
    EVP_PKEY_free(x);
    EVP_PKEY_free(k);
}

int main(void)
{
    RUN(test_roundtrip);
    RUN(test_oversize_random_version);
    RUN(test_bad_parameters);
    EGIDE_TEST_DONE();
}
