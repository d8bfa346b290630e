/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_cert_facts.c - egide_cert_facts: the key type and validity period of
 * a DER certificate, as a fresh parse gives them; a second question about
 * the same bytes is answered from the cache (no parse) with the same
 * answer; bytes that differ in one field get their own answer, never a
 * neighbour's; what is not one whole certificate (garbage, a truncated or
 * padded certificate, empty, too large) is EGIDE_ERR_CERT, asked once or
 * again; and more distinct certificates than the cache holds all keep
 * their own answers.
 */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "egide/base/egide_limits.h"
#include "egide/crypto/egide_crypto.h"
#include "egide_test.h"

static EVP_PKEY *s_gen(int type)
{
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(type, NULL);
    if (c && EVP_PKEY_keygen_init(c) == 1)
        EVP_PKEY_keygen(c, &k);
    EVP_PKEY_CTX_free(c);
    return k;
}

/* DER of a certificate for pub, signed by signer, valid [nb, na] (Unix s). */
static uint8_t *s_cert(EVP_PKEY *pub, EVP_PKEY *signer, long serial, time_t nb, time_t na,
                       size_t *len)
{
    X509 *x = X509_new();
    uint8_t *der = NULL;
    if (!x)
        return NULL;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    ASN1_TIME_set(X509_getm_notBefore(x), nb);
    ASN1_TIME_set(X509_getm_notAfter(x), na);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"test-facts", -1, -1,
                               0);
    X509_set_issuer_name(x, n);
    X509_set_pubkey(x, pub);
    if (X509_sign(x, signer, NULL) > 0 && egide_cert_to_der(x, &der, len) != EGIDE_OK)
        der = NULL;
    X509_free(x);
    return der;
}

static uint64_t s_parses(void)
{
    uint64_t p = 0;
    egide_cert_facts_stats(NULL, &p);
    return p;
}

static uint64_t s_hits(void)
{
    uint64_t h = 0;
    egide_cert_facts_stats(&h, NULL);
    return h;
}

static void test_facts_and_cache(void)
{
    EVP_PKEY *ed = s_gen(EVP_PKEY_ED25519), *x = s_gen(EVP_PKEY_X25519);
    REQUIRE(ed && x);
    const time_t nb = 1700000000, na = 1900000000;
    size_t l1 = 0, l2 = 0, l3 = 0;
    uint8_t *c1 = s_cert(ed, ed, 1, nb, na, &l1);
    uint8_t *c2 = s_cert(x, ed, 2, nb, na, &l2);
    uint8_t *c3 = s_cert(ed, ed, 1, nb, na + 86400, &l3); /* c1 one day longer */
    REQUIRE(c1 && c2 && c3);

    egide_cert_facts_t f;
    uint64_t p0 = s_parses(), h0 = s_hits();
    CHECK_RC(egide_cert_facts(c1, l1, &f), EGIDE_OK);
    CHECK(f.key_type == EVP_PKEY_ED25519);
    CHECK(f.times_ok);
    CHECK(f.not_before_ms == (int64_t)nb * 1000);
    CHECK(f.not_after_ms == (int64_t)na * 1000);
    CHECK(s_parses() == p0 + 1);

    /* the same bytes again: the cache answers, the same answer */
    egide_cert_facts_t g;
    memset(&g, 0x5a, sizeof g);
    CHECK_RC(egide_cert_facts(c1, l1, &g), EGIDE_OK);
    CHECK(s_parses() == p0 + 1);
    CHECK(s_hits() == h0 + 1);
    CHECK(g.key_type == f.key_type && g.times_ok == f.times_ok &&
          g.not_before_ms == f.not_before_ms && g.not_after_ms == f.not_after_ms);

    /* another key type; a certificate differing in its end only */
    CHECK_RC(egide_cert_facts(c2, l2, &f), EGIDE_OK);
    CHECK(f.key_type == EVP_PKEY_X25519);
    CHECK_RC(egide_cert_facts(c3, l3, &f), EGIDE_OK);
    CHECK(f.not_after_ms == ((int64_t)na + 86400) * 1000);
    CHECK_RC(egide_cert_facts(c1, l1, &f), EGIDE_OK);
    CHECK(f.not_after_ms == (int64_t)na * 1000);

    /* the facts agree with a full parse */
    X509 *full = NULL;
    int64_t end = 0;
    CHECK_RC(egide_cert_from_der(c2, l2, &full), EGIDE_OK);
    CHECK_RC(egide_cert_not_after_ms(full, &end), EGIDE_OK);
    CHECK_RC(egide_cert_facts(c2, l2, &f), EGIDE_OK);
    CHECK(end == f.not_after_ms);
    CHECK(full && EVP_PKEY_get_id(X509_get0_pubkey(full)) == f.key_type);
    X509_free(full);

    /* not one whole certificate: refused, the first time and again (a
     * refusal is never kept: each is parsed again) */
    uint64_t pj = s_parses();
    uint8_t *pad = malloc(l1 + 1);
    REQUIRE(pad);
    memcpy(pad, c1, l1);
    pad[l1] = 0;
    static const uint8_t junk[] = "not a certificate at all";
    for (int round = 0; round < 2; round++) {
        memset(&f, 0x5a, sizeof f);
        CHECK_RC(egide_cert_facts(junk, sizeof junk, &f), EGIDE_ERR_CERT);
        CHECK(f.key_type == 0 && !f.times_ok);
        CHECK_RC(egide_cert_facts(c1, l1 - 1, &f), EGIDE_ERR_CERT);
        CHECK_RC(egide_cert_facts(pad, l1 + 1, &f), EGIDE_ERR_CERT);
        CHECK_RC(egide_cert_facts(c1, 0, &f), EGIDE_ERR_CERT);
        CHECK_RC(egide_cert_facts(NULL, 10, &f), EGIDE_ERR_CERT);
        CHECK_RC(egide_cert_facts(c1, EGIDE_MAX_CERT_FILE + 1, &f), EGIDE_ERR_CERT);
    }
    CHECK(s_parses() == pj + 6); /* junk, cut, padded, twice; the rest not parsed */
    /* and the good one it was cut from is still good */
    CHECK_RC(egide_cert_facts(c1, l1, &f), EGIDE_OK);
    CHECK(f.key_type == EVP_PKEY_ED25519);
    free(pad);
    OPENSSL_free(c1);
    OPENSSL_free(c2);
    OPENSSL_free(c3);
    EVP_PKEY_free(ed);
    EVP_PKEY_free(x);
}

/* Twice as many certificates as slots, each with its own end: every answer
 * is its own, on the way in and on a second pass (slots reused or not). */
static void test_more_than_the_cache(void)
{
    enum { N = 2 * EGIDE_CERT_FACTS_CACHE };
    EVP_PKEY *ed = s_gen(EVP_PKEY_ED25519);
    REQUIRE(ed);
    uint8_t **der = calloc(N, sizeof *der);
    size_t *len = calloc(N, sizeof *len);
    REQUIRE(der && len);
    int bad = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < N; i++) {
            if (!der[i])
                der[i] = s_cert(ed, ed, (long)i + 10, 1700000000, 1800000000 + (time_t)i, &len[i]);
            egide_cert_facts_t f;
            if (!der[i] || egide_cert_facts(der[i], len[i], &f) != EGIDE_OK ||
                f.not_after_ms != (1800000000 + (int64_t)i) * 1000)
                bad++;
        }
    CHECK(bad == 0);
    for (size_t i = 0; i < N; i++)
        OPENSSL_free(der[i]);
    free(der);
    free(len);
    EVP_PKEY_free(ed);
}

int main(void)
{
    RUN(test_facts_and_cache);
    RUN(test_more_than_the_cache);
    EGIDE_TEST_DONE();
}
