/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_ed25519.c - egide_ed25519_sign/verify against RFC 8032's test
 * vectors (section 7.1, TEST 1, 2 and 3), through both backends (libsodium,
 * the default, and OpenSSL): the public key from the seed, the exact
 * signature, its verification; a signature made by one backend verifies on
 * the other; a changed message, a changed R or S, S + L (a non-canonical S),
 * a truncated signature, another key are refused by both; a key that is not
 * Ed25519 is EGIDE_ERR_INVALID; labelled signatures still cover the label.
 */
#include <openssl/evp.h>
#include <stdbool.h>
#include <string.h>

#include "egide/base/egide_util.h"
#include "egide/crypto/egide_crypto.h"
#include "egide_test.h"

/* RFC 8032, section 7.1: SECRET KEY (the seed), PUBLIC KEY, MESSAGE,
 * SIGNATURE. */
static const struct {
    const char *seed, *pub, *msg, *sig;
} s_vec[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b"
     "4"
     "6bd25bf5f0595bbe24655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11"
     "d"
     "8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc"
     "6"
     "594a7c15e9716ed28dc027beceea1ec40a"},
};
#define N_VEC (sizeof s_vec / sizeof s_vec[0])

/* The group order L, little-endian (RFC 8032, section 5.1). */
static const uint8_t s_order[32] = {
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10};

static const egide_ed25519_backend_t s_backends[2] = {EGIDE_ED25519_SODIUM, EGIDE_ED25519_OPENSSL};

typedef struct {
    EVP_PKEY *sk, *pk;
    uint8_t msg[8], sig[64];
    size_t msg_len;
} s_keys_t;

static bool s_load(size_t i, s_keys_t *k)
{
    uint8_t seed[32], pub[32];
    memset(k, 0, sizeof *k);
    k->msg_len = strlen(s_vec[i].msg) / 2;
    if (egide_hex_decode(s_vec[i].seed, seed, 32) || egide_hex_decode(s_vec[i].pub, pub, 32) ||
        egide_hex_decode(s_vec[i].sig, k->sig, 64) ||
        (k->msg_len && egide_hex_decode(s_vec[i].msg, k->msg, k->msg_len)))
        return false;
    k->sk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    return k->sk && egide_key_from_raw_public(EVP_PKEY_ED25519, pub, &k->pk) == EGIDE_OK;
}

static void s_unload(s_keys_t *k)
{
    EVP_PKEY_free(k->sk);
    EVP_PKEY_free(k->pk);
}

/* The vectors, signed and verified by each backend. */
static void test_rfc8032_vectors(void)
{
    for (size_t b = 0; b < 2; b++) {
        egide_ed25519_backend_set(s_backends[b]);
        for (size_t i = 0; i < N_VEC; i++) {
            s_keys_t k;
            REQUIRE(s_load(i, &k));
            uint8_t raw[32], want[32], sig[64];
            CHECK_RC(egide_key_raw_public(k.sk, raw), EGIDE_OK);
            CHECK(egide_hex_decode(s_vec[i].pub, want, 32) == EGIDE_OK &&
                  memcmp(raw, want, 32) == 0);
            CHECK_RC(egide_ed25519_sign(k.sk, k.msg, k.msg_len, sig), EGIDE_OK);
            CHECK(memcmp(sig, k.sig, 64) == 0);
            /* Signed again (libsodium's cached key is used): the same. */
            CHECK_RC(egide_ed25519_sign(k.sk, k.msg, k.msg_len, sig), EGIDE_OK);
            CHECK(memcmp(sig, k.sig, 64) == 0);
            CHECK_RC(egide_ed25519_verify(k.pk, k.msg, k.msg_len, k.sig, 64), EGIDE_OK);
            /* The private key verifies too (its public half). */
            CHECK_RC(egide_ed25519_verify(k.sk, k.msg, k.msg_len, k.sig, 64), EGIDE_OK);
            s_unload(&k);
        }
    }
    egide_ed25519_backend_set(EGIDE_ED25519_SODIUM);
}

/* What one backend signs, the other verifies. */
static void test_cross_backend(void)
{
    s_keys_t k;
    REQUIRE(s_load(1, &k));
    const char text[] = "a referral, invented for this test";
    uint8_t sig[2][64];
    for (size_t b = 0; b < 2; b++) {
        egide_ed25519_backend_set(s_backends[b]);
        CHECK_RC(egide_sign_labeled(k.sk, EGIDE_LABEL_RECEIPT, text, sizeof text, sig[b]),
                 EGIDE_OK);
    }
    CHECK(memcmp(sig[0], sig[1], 64) == 0); /* deterministic */
    for (size_t b = 0; b < 2; b++) {
        egide_ed25519_backend_set(s_backends[b]);
        CHECK_RC(egide_verify_labeled(k.pk, EGIDE_LABEL_RECEIPT, text, sizeof text, sig[1 - b], 64),
                 EGIDE_OK);
        /* The label is covered: another one does not verify. */
        CHECK_RC(
            egide_verify_labeled(k.pk, EGIDE_LABEL_ENVELOPE, text, sizeof text, sig[1 - b], 64),
            EGIDE_ERR_SIGNATURE);
    }
    egide_ed25519_backend_set(EGIDE_ED25519_SODIUM);
    s_unload(&k);
}

/* S + L < 2^256 (S < 2^253 for these): the same point equation holds, so a
 * verifier that does not check S < L would accept it. */
static void s_add_order(uint8_t s[32])
{
    unsigned carry = 0;
    for (size_t i = 0; i < 32; i++) {
        unsigned v = (unsigned)s[i] + s_order[i] + carry;
        s[i] = (uint8_t)v;
        carry = v >> 8;
    }
}

static void test_refusals(void)
{
    s_keys_t k, other;
    REQUIRE(s_load(2, &k));
    REQUIRE(s_load(0, &other));
    EVP_PKEY *x = NULL;
    uint8_t xraw[32] = {9};
    REQUIRE(egide_key_from_raw_public(EVP_PKEY_X25519, xraw, &x) == EGIDE_OK);
    for (size_t b = 0; b < 2; b++) {
        egide_ed25519_backend_set(s_backends[b]);
        uint8_t sig[64], msg[8];
        memcpy(msg, k.msg, k.msg_len);
        msg[0] ^= 1;
        CHECK_RC(egide_ed25519_verify(k.pk, msg, k.msg_len, k.sig, 64), EGIDE_ERR_SIGNATURE);
        memcpy(sig, k.sig, 64);
        sig[3] ^= 0x10; /* R */
        CHECK_RC(egide_ed25519_verify(k.pk, k.msg, k.msg_len, sig, 64), EGIDE_ERR_SIGNATURE);
        memcpy(sig, k.sig, 64);
        sig[40] ^= 0x01; /* S */
        CHECK_RC(egide_ed25519_verify(k.pk, k.msg, k.msg_len, sig, 64), EGIDE_ERR_SIGNATURE);
        memcpy(sig, k.sig, 64);
        s_add_order(sig + 32);
        CHECK_RC(egide_ed25519_verify(k.pk, k.msg, k.msg_len, sig, 64), EGIDE_ERR_SIGNATURE);
        CHECK_RC(egide_ed25519_verify(k.pk, k.msg, k.msg_len, k.sig, 63), EGIDE_ERR_SIGNATURE);
        CHECK_RC(egide_ed25519_verify(k.pk, k.msg, k.msg_len, NULL, 64), EGIDE_ERR_SIGNATURE);
        CHECK_RC(egide_ed25519_verify(other.pk, k.msg, k.msg_len, k.sig, 64), EGIDE_ERR_SIGNATURE);
        CHECK_RC(egide_ed25519_verify(x, k.msg, k.msg_len, k.sig, 64), EGIDE_ERR_INVALID);
        CHECK_RC(egide_ed25519_verify(NULL, k.msg, k.msg_len, k.sig, 64), EGIDE_ERR_INVALID);
        CHECK_RC(egide_ed25519_sign(x, k.msg, k.msg_len, sig), EGIDE_ERR_INVALID);
        /* A public-only key cannot sign (nothing is returned as signed). */
        CHECK(egide_ed25519_sign(k.pk, k.msg, k.msg_len, sig) != EGIDE_OK);
    }
    /* An unknown backend changes nothing. */
    CHECK(egide_ed25519_backend_set((egide_ed25519_backend_t)7) == EGIDE_ED25519_OPENSSL);
    CHECK(egide_ed25519_backend_set(EGIDE_ED25519_SODIUM) == EGIDE_ED25519_OPENSSL);
    EVP_PKEY_free(x);
    s_unload(&k);
    s_unload(&other);
}

/* A duplicated private key signs the same (its cached libsodium key is not
 * shared with the copy: the copy derives its own). */
static void test_dup_key(void)
{
    s_keys_t k;
    REQUIRE(s_load(0, &k));
    uint8_t sig[64];
    CHECK_RC(egide_ed25519_sign(k.sk, k.msg, k.msg_len, sig), EGIDE_OK);
    EVP_PKEY *d = EVP_PKEY_dup(k.sk);
    REQUIRE(d != NULL);
    EVP_PKEY_free(k.sk);
    k.sk = NULL;
    CHECK_RC(egide_ed25519_sign(d, k.msg, k.msg_len, sig), EGIDE_OK);
    CHECK(memcmp(sig, k.sig, 64) == 0);
    EVP_PKEY_free(d);
    s_unload(&k);
}

int main(void)
{
    RUN(test_rfc8032_vectors);
    RUN(test_cross_backend);
    RUN(test_refusals);
    RUN(test_dup_key);
    EGIDE_TEST_DONE();
}
