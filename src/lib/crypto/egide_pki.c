/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_pki.c - trust store, chain + CRL verification at an explicit time,
 * and node certificate checks (key type, key usage, subject CN), on OpenSSL
 * 3.0's X509_STORE.
 *
 * The store is built once and never modified afterwards, so concurrent
 * verifications only share read-only state; each verification has its own
 * X509_STORE_CTX and its own copy of the verification parameters.
 */
#include "egide/crypto/egide_pki.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "egide/crypto/egide_crypto.h"
#include "egide/base/egide_limits.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"

#define MAX_CERTS_PER_FILE 16
#define MAX_CRLS_PER_FILE  16

/* Invariant: store holds the anchors (and CRLs); untrusted the
 * intermediates; both immutable once egide_trust_new returns. */
struct egide_trust {
    X509_STORE *store;          /* anchors + CRLs */
    STACK_OF(X509) * untrusted; /* intermediates from chain_path (may be empty) */
    unsigned long vflags;       /* X509_V_FLAG_* used for every verification */
};

static BIO *s_bio_file(const char *path, uint8_t **data)
{
    size_t len;
    *data = NULL;
    if (egide_file_read(path, EGIDE_MAX_CERT_FILE, data, &len) != EGIDE_OK)
        return NULL;
    BIO *b = BIO_new_mem_buf(*data, (int)len);
    if (!b) {
        free(*data);
        *data = NULL;
    }
    return b;
}

egide_rc egide_pki_load_certs(const char *path, STACK_OF(X509) * *out)
{
    *out = NULL;
    uint8_t *data;
    size_t len;
    egide_rc rc = egide_file_read(path, EGIDE_MAX_CERT_FILE, &data, &len);
    if (rc)
        return rc;
    STACK_OF(X509) *sk = sk_X509_new_null();
    BIO *b = BIO_new_mem_buf(data, (int)len);
    if (!sk || !b) {
        rc = EGIDE_ERR_NOMEM;
        goto done;
    }
    X509 *x;
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        if (sk_X509_num(sk) >= MAX_CERTS_PER_FILE || !sk_X509_push(sk, x)) {
            X509_free(x);
            rc = EGIDE_ERR_LIMIT;
            goto done;
        }
    }
    ERR_clear_error(); /* the loop ends on "no start line" */
    if (sk_X509_num(sk) == 0) {
        /* Maybe a single DER certificate. */
        X509 *one;
        if (egide_cert_from_der(data, len, &one) == EGIDE_OK && sk_X509_push(sk, one)) {
            rc = EGIDE_OK;
        } else {
            rc = EGIDE_ERR_CERT;
        }
    }
done:
    BIO_free(b);
    free(data);
    if (rc) {
        sk_X509_pop_free(sk, X509_free);
        return rc;
    }
    *out = sk;
    return EGIDE_OK;
}

static egide_rc s_load_crls(X509_STORE *store, const char *path)
{
    uint8_t *data;
    BIO *b = s_bio_file(path, &data);
    if (!b)
        return EGIDE_ERR_IO;
    int n = 0;
    egide_rc rc = EGIDE_OK;
    X509_CRL *crl;
    while ((crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL)) != NULL) {
        if (n >= MAX_CRLS_PER_FILE || X509_STORE_add_crl(store, crl) != 1) {
            X509_CRL_free(crl);
            rc = EGIDE_ERR_LIMIT;
            break;
        }
        X509_CRL_free(crl); /* the store holds its own reference */
        n++;
    }
    ERR_clear_error();
    if (!rc && n == 0)
        rc = EGIDE_ERR_PROTO;
    BIO_free(b);
    free(data);
    return rc;
}

egide_rc egide_trust_new(const char *root_path, const char *chain_path, const char *crl_path,
                         unsigned flags, egide_trust_t **out)
{
    *out = NULL;
    if (!root_path)
        return EGIDE_ERR_INVALID;
    if (!crl_path && !(flags & EGIDE_TRUST_NO_CRL))
        return EGIDE_ERR_CONFIG;
    egide_trust_t *t = calloc(1, sizeof *t);
    if (!t)
        return EGIDE_ERR_NOMEM;
    egide_rc rc = EGIDE_OK;
    STACK_OF(X509) *roots = NULL;
    t->store = X509_STORE_new();
    if (!t->store) {
        rc = EGIDE_ERR_NOMEM;
        goto fail;
    }
    rc = egide_pki_load_certs(root_path, &roots);
    if (rc)
        goto fail;
    for (int i = 0; i < sk_X509_num(roots); i++) {
        if (X509_STORE_add_cert(t->store, sk_X509_value(roots, i)) != 1) {
            rc = EGIDE_ERR_CERT;
            goto fail;
        }
    }
    if (chain_path) {
        rc = egide_pki_load_certs(chain_path, &t->untrusted);
        if (rc)
            goto fail;
    } else if (!(t->untrusted = sk_X509_new_null())) {
        rc = EGIDE_ERR_NOMEM;
        goto fail;
    }
    if (crl_path) {
        rc = s_load_crls(t->store, crl_path);
        if (rc)
            goto fail;
        t->vflags = X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
    }
    t->vflags |= X509_V_FLAG_X509_STRICT;
    sk_X509_pop_free(roots, X509_free);
    *out = t;
    return EGIDE_OK;
fail:
    ERR_clear_error();
    sk_X509_pop_free(roots, X509_free);
    egide_trust_destroy(&t);
    return rc;
}

void egide_trust_destroy(egide_trust_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    egide_trust_t *t = *self_p;
    X509_STORE_free(t->store);
    sk_X509_pop_free(t->untrusted, X509_free);
    free(t);
    *self_p = NULL;
}

static egide_rc s_map_verify_error(int err)
{
    switch (err) {
    case X509_V_ERR_CERT_REVOKED:
        return EGIDE_ERR_REVOKED;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return EGIDE_ERR_EXPIRED;
    default:
        return EGIDE_ERR_CERT;
    }
}

egide_rc egide_trust_verify(const egide_trust_t *t, X509 *cert, STACK_OF(X509) * extra_chain,
                            int64_t at_ms)
{
    if (!t || !cert)
        return EGIDE_ERR_INVALID;
    STACK_OF(X509) *chain = sk_X509_dup(t->untrusted);
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    egide_rc rc = EGIDE_ERR_NOMEM;
    if (!chain || !ctx)
        goto done;
    for (int i = 0; extra_chain && i < sk_X509_num(extra_chain); i++)
        if (!sk_X509_push(chain, sk_X509_value(extra_chain, i)))
            goto done;
    rc = EGIDE_ERR_CERT;
    if (X509_STORE_CTX_init(ctx, t->store, cert, chain) != 1)
        goto done;
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_flags(param, t->vflags);
    X509_VERIFY_PARAM_set_depth(param, 4);
    int64_t at = at_ms > 0 ? at_ms / 1000 : egide_now_ms() / 1000;
    X509_VERIFY_PARAM_set_time(param, (time_t)at);
    if (X509_verify_cert(ctx) == 1) {
        rc = EGIDE_OK;
    } else {
        int err = X509_STORE_CTX_get_error(ctx);
        rc = s_map_verify_error(err);
        /* OpenSSL checks CRLs before validity periods: a certificate that is
         * out of its validity at that time is reported as such, whatever the
         * CRL says (a revoked one stays revoked). */
        time_t tt = (time_t)at;
        if (rc == EGIDE_ERR_CERT && (X509_cmp_time(X509_get0_notAfter(cert), &tt) < 0 ||
                                     X509_cmp_time(X509_get0_notBefore(cert), &tt) > 0))
            rc = EGIDE_ERR_EXPIRED;
        egide_log(EGIDE_LOG_INFO, "certificate verification: %s (depth %d)",
                  X509_verify_cert_error_string(err), X509_STORE_CTX_get_error_depth(ctx));
    }
done:
    ERR_clear_error();
    X509_STORE_CTX_free(ctx);
    sk_X509_free(chain); /* shallow: the certificates belong to others */
    return rc;
}

egide_rc egide_pki_cert_cn(X509 *cert, char *out, size_t outsz)
{
    if (!cert || !out || outsz == 0)
        return EGIDE_ERR_INVALID;
    out[0] = 0;
    X509_NAME *name = X509_get_subject_name(cert);
    if (!name)
        return EGIDE_ERR_CERT;
    int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (idx < 0 || X509_NAME_get_index_by_NID(name, NID_commonName, idx) >= 0)
        return EGIDE_ERR_CERT; /* none, or more than one */
    const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    if (!s)
        return EGIDE_ERR_CERT;
    int type = ASN1_STRING_type(s);
    if (type != V_ASN1_UTF8STRING && type != V_ASN1_PRINTABLESTRING && type != V_ASN1_IA5STRING)
        return EGIDE_ERR_CERT;
    const unsigned char *p = ASN1_STRING_get0_data(s);
    int n = ASN1_STRING_length(s);
    if (n <= 0)
        return EGIDE_ERR_CERT;
    for (int i = 0; i < n; i++)
        if (p[i] < 0x21 || p[i] > 0x7e)
            return EGIDE_ERR_CERT; /* node ids are printable ASCII without spaces */
    if ((size_t)n >= outsz)
        return EGIDE_ERR_LIMIT;
    memcpy(out, p, (size_t)n);
    out[n] = 0;
    return EGIDE_OK;
}

static int s_key_type(egide_cert_use use)
{
    return use == EGIDE_CERT_USE_SIGN  ? EVP_PKEY_ED25519
           : use == EGIDE_CERT_USE_ENC ? EVP_PKEY_X25519
                                       : -1;
}

egide_rc egide_pki_cert_pubkey(X509 *cert, egide_cert_use use, EVP_PKEY **out)
{
    *out = NULL;
    EVP_PKEY *k = cert ? X509_get0_pubkey(cert) : NULL;
    if (!k || EVP_PKEY_get_id(k) != s_key_type(use)) {
        ERR_clear_error();
        return EGIDE_ERR_CERT;
    }
    if (EVP_PKEY_up_ref(k) != 1)
        return EGIDE_ERR_NOMEM;
    *out = k;
    return EGIDE_OK;
}

egide_rc egide_pki_check_node_cert(X509 *cert, egide_cert_use use, const char *node_id)
{
    if (!cert)
        return EGIDE_ERR_INVALID;
    EVP_PKEY *k = X509_get0_pubkey(cert);
    if (!k || EVP_PKEY_get_id(k) != s_key_type(use)) {
        ERR_clear_error();
        return EGIDE_ERR_CERT;
    }
    /* X509_get_key_usage() returns UINT32_MAX when the extension is absent:
     * we require it. */
    uint32_t ku = X509_get_key_usage(cert);
    uint32_t want = use == EGIDE_CERT_USE_SIGN ? KU_DIGITAL_SIGNATURE : KU_KEY_AGREEMENT;
    if (ku == UINT32_MAX || !(ku & want) || (ku & (KU_KEY_CERT_SIGN | KU_CRL_SIGN)))
        return EGIDE_ERR_CERT;
    if (X509_check_ca(cert) != 0)
        return EGIDE_ERR_CERT;
    if (node_id) {
        char cn[EGIDE_MAX_NODE_ID + 1];
        if (egide_pki_cert_cn(cert, cn, sizeof cn) != EGIDE_OK || strcmp(cn, node_id) != 0)
            return EGIDE_ERR_CERT;
    }
    return EGIDE_OK;
}

egide_rc egide_trust_verify_node(const egide_trust_t *t, X509 *cert, egide_cert_use use,
                                 const char *node_id, int64_t at_ms, EVP_PKEY **pub_out)
{
    if (pub_out)
        *pub_out = NULL;
    egide_rc rc = egide_trust_verify(t, cert, NULL, at_ms);
    if (!rc)
        rc = egide_pki_check_node_cert(cert, use, node_id);
    if (!rc && pub_out)
        rc = egide_pki_cert_pubkey(cert, use, pub_out);
    return rc;
}

egide_rc egide_pki_load_key(const char *path, egide_cert_use use, EVP_PKEY **out)
{
    egide_rc rc = egide_key_load_private(path, out);
    if (rc)
        return rc;
    if (EVP_PKEY_get_id(*out) != s_key_type(use)) {
        EVP_PKEY_free(*out);
        *out = NULL;
        return EGIDE_ERR_CERT;
    }
    return EGIDE_OK;
}
