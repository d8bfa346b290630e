/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_hpke.c - HPKE base mode (RFC 9180) for DHKEM(X25519, HKDF-SHA256),
 * HKDF-SHA256 and AES-128-GCM / AES-256-GCM / ChaCha20-Poly1305 /
 * export-only, on OpenSSL 3.0 EVP primitives.
 *
 * The structure follows the RFC's pseudo-code closely (LabeledExtract,
 * LabeledExpand, ExtractAndExpand, KeySchedule) so that it can be checked
 * against it line by line.  HMAC-SHA256 is egide_crypto's (on a SHA-256
 * digest fetched once) and the AEAD ciphers are fetched once here, which
 * keeps provider fetches off the hot path (an envelope runs about ten HMACs
 * per recipient).
 */
#include "egide/crypto/egide_hpke.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "egide/crypto/egide_crypto.h"
#include "egide/base/egide_util.h"

/* Invariants: key_len in {0,16,32}; secrets wiped by destroy. */
struct egide_hpke_ctx {
    uint16_t aead_id;                             /* EGIDE_HPKE_AEAD_* */
    size_t key_len;                               /* Nk; 0 for export-only */
    uint8_t key[EGIDE_HPKE_MAX_KEY_LEN];          /* AEAD key */
    uint8_t base_nonce[EGIDE_HPKE_NONCE_LEN];     /* base nonce */
    uint8_t secret[EGIDE_HPKE_SECRET_LEN];        /* key schedule secret */
    uint8_t ksc[1 + 2 * EGIDE_HPKE_SECRET_LEN];   /* key_schedule_context */
    uint8_t shared_secret[EGIDE_HPKE_SECRET_LEN]; /* KEM output (kept for tests) */
    uint64_t seq;                                 /* next sequence number */
};

#define NH 32u /* HKDF-SHA256 output length */

/* ------------------------------------------------------------ HKDF */

/* The AEAD ciphers are fetched once: OpenSSL 3.0's legacy getters
 * (EVP_aes_256_gcm()) fetch from the provider on every call.  HMAC-SHA256
 * comes from egide_crypto, which fetches its digest once too. */
static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *s_aes128; /* never freed */
static EVP_CIPHER *s_aes256; /* never freed */
static EVP_CIPHER *s_chacha; /* never freed */

static EVP_PKEY *s_x25519_template; /* any X25519 public key, never freed */

static void s_init(void)
{
    s_aes128 = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
    s_aes256 = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    s_chacha = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
    static const uint8_t base_point[32] = {9};
    s_x25519_template = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, base_point, 32);
    ERR_clear_error();
}

/* HMAC-SHA256(key, p1 || p2 || p3); any part may be empty.  An empty key is
 * the zero-filled default salt of RFC 5869 (identical under HMAC). */
static egide_rc s_hmac3(const uint8_t *key, size_t klen, const void *p1, size_t l1, const void *p2,
                        size_t l2, const void *p3, size_t l3, uint8_t out[NH])
{
    const void *parts[3] = {p1, p2, p3};
    const size_t lens[3] = {l1, l2, l3};
    return egide_hmac_sha256v(key, klen, parts, lens, 3, out);
}

/* Kept for callers of the HPKE names (the envelope): aliases of egide_crypto's. */
egide_rc egide_hpke_hmac_sha256(const uint8_t *key, size_t klen, const void *data, size_t len,
                                uint8_t out[32])
{
    return egide_hmac_sha256(key, klen, data, len, out);
}

egide_rc egide_hpke_sha256(const void *data, size_t len, uint8_t out[32])
{
    if (len > 0 && !data)
        return EGIDE_ERR_CRYPTO;
    egide_sha256(data, len, out);
    return EGIDE_OK;
}

/* suite_id is "KEM" || kem_id or "HPKE" || kem || kdf || aead. */
typedef struct {
    uint8_t id[10];
    size_t len;
} s_suite_t;

static void s_suite_kem(s_suite_t *s)
{
    memcpy(s->id, "KEM", 3);
    s->id[3] = 0x00;
    s->id[4] = 0x20;
    s->len = 5;
}

static void s_suite_hpke(s_suite_t *s, uint16_t aead_id)
{
    memcpy(s->id, "HPKE", 4);
    s->id[4] = 0x00;
    s->id[5] = 0x20;
    s->id[6] = 0x00;
    s->id[7] = 0x01;
    s->id[8] = (uint8_t)(aead_id >> 8);
    s->id[9] = (uint8_t)aead_id;
    s->len = 10;
}

static const uint8_t s_hpke_v1[7] = {'H', 'P', 'K', 'E', '-', 'v', '1'};

/* LabeledExtract(salt, label, ikm) = HMAC(salt, "HPKE-v1" || suite || label ||
 * ikm). */
static egide_rc s_labeled_extract(const s_suite_t *suite, const uint8_t *salt, size_t salt_len,
                                  const char *label, const uint8_t *ikm, size_t ikm_len,
                                  uint8_t out[NH])
{
    uint8_t prefix[7 + 10 + 32];
    size_t ll = strlen(label);
    if (ll > 32)
        return EGIDE_ERR_INVALID;
    memcpy(prefix, s_hpke_v1, 7);
    memcpy(prefix + 7, suite->id, suite->len);
    for (size_t k = 0; k < ll; k++) /* the label is bytes, not a C string */
        prefix[7 + suite->len + k] = (uint8_t)label[k];
    return s_hmac3(salt, salt_len, prefix, 7 + suite->len + ll, ikm, ikm_len, NULL, 0, out);
}

/* LabeledExpand(prk, label, info, L): HKDF-Expand with
 * info' = I2OSP(L, 2) || "HPKE-v1" || suite || label || info. */
static egide_rc s_labeled_expand(const s_suite_t *suite, const uint8_t prk[NH], const char *label,
                                 const uint8_t *info, size_t info_len, uint8_t *out, size_t L)
{
    uint8_t prefix[2 + 7 + 10 + 32];
    size_t ll = strlen(label);
    if (ll > 32 || L > 255u * NH)
        return EGIDE_ERR_INVALID;
    prefix[0] = (uint8_t)(L >> 8);
    prefix[1] = (uint8_t)L;
    memcpy(prefix + 2, s_hpke_v1, 7);
    memcpy(prefix + 9, suite->id, suite->len);
    for (size_t k = 0; k < ll; k++)
        prefix[9 + suite->len + k] = (uint8_t)label[k];
    size_t plen = 9 + suite->len + ll;

    uint8_t t[NH];
    size_t tlen = 0, done = 0;
    egide_rc rc = EGIDE_OK;
    for (unsigned i = 1; done < L; i++) {
        /* T(i) = HMAC(prk, T(i-1) || info' || i); info' is split in two parts. */
        uint8_t ctr = (uint8_t)i;
        const void *parts[4] = {t, prefix, info, &ctr};
        const size_t lens[4] = {tlen, plen, info_len, 1};
        if (egide_hmac_sha256v(prk, NH, parts, lens, 4, t) != EGIDE_OK) {
            rc = EGIDE_ERR_CRYPTO;
            break;
        }
        tlen = NH;
        size_t n = (L - done < NH) ? L - done : NH;
        memcpy(out + done, t, n);
        done += n;
    }
    egide_wipe(t, sizeof t);
    return rc;
}

/* ------------------------------------------------------------ AEAD */

static const EVP_CIPHER *s_cipher(uint16_t aead_id, size_t *key_len)
{
    pthread_once(&s_once, s_init);
    switch (aead_id) {
    case EGIDE_HPKE_AEAD_AES128GCM:
        *key_len = 16;
        return s_aes128;
    case EGIDE_HPKE_AEAD_AES256GCM:
        *key_len = 32;
        return s_aes256;
    case EGIDE_HPKE_AEAD_CHACHA20POLY1305:
        *key_len = 32;
        return s_chacha;
    default:
        *key_len = 0;
        return NULL;
    }
}

/* AEAD over in1 || in2 (in2 only when sealing; len2 is 0 when opening).
 * Sealing writes len1 + len2 bytes of ciphertext and the tag to out;
 * opening takes ciphertext || tag in in1 and writes len1 - 16 bytes, wiped
 * again when the tag does not verify (EGIDE_ERR_DECRYPT). */
static egide_rc s_aead(int enc, uint16_t aead_id, const uint8_t *key, size_t key_len,
                       const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
                       const uint8_t *in1, size_t len1, const uint8_t *in2, size_t len2,
                       uint8_t *out)
{
    size_t want = 0;
    const EVP_CIPHER *cipher = s_cipher(aead_id, &want);
    if (!cipher || key_len != want)
        return EGIDE_ERR_INVALID;
    if (len1 > INT32_MAX - 64 || len2 > INT32_MAX - 64 - len1 || aad_len > INT32_MAX)
        return EGIDE_ERR_LIMIT;
    size_t body = len1 + len2;
    if (!enc) {
        if (len1 < EGIDE_HPKE_TAG_LEN)
            return EGIDE_ERR_DECRYPT;
        body = len1 - EGIDE_HPKE_TAG_LEN;
        len1 = body;
    }
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c)
        return EGIDE_ERR_NOMEM;
    int len = 0;
    egide_rc rc = EGIDE_ERR_CRYPTO;
    if (EVP_CipherInit_ex(c, cipher, NULL, NULL, NULL, enc) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) != 1 ||
        EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) != 1)
        goto done;
    if (aad_len > 0 && EVP_CipherUpdate(c, NULL, &len, aad, (int)aad_len) != 1)
        goto done;
    if (len1 > 0 && EVP_CipherUpdate(c, out, &len, in1, (int)len1) != 1)
        goto done;
    if (len2 > 0 && EVP_CipherUpdate(c, out + len1, &len, in2, (int)len2) != 1)
        goto done;
    if (enc) {
        if (EVP_CipherFinal_ex(c, out + body, &len) != 1 ||
            EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, EGIDE_HPKE_TAG_LEN, out + body) != 1)
            goto done;
        rc = EGIDE_OK;
    } else {
        if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, EGIDE_HPKE_TAG_LEN,
                                (void *)(in1 + body)) != 1)
            goto done;
        if (EVP_CipherFinal_ex(c, out + body, &len) != 1) {
            egide_wipe(out, body);
            rc = EGIDE_ERR_DECRYPT;
            ERR_clear_error();
            goto out;
        }
        rc = EGIDE_OK;
    }
done:
    if (rc == EGIDE_ERR_CRYPTO)
        egide_crypto_log_errors("aead");
out:
    EVP_CIPHER_CTX_free(c);
    return rc;
}

egide_rc egide_aead_seal2(uint16_t aead_id, const uint8_t *key, size_t key_len,
                          const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
                          const uint8_t *pt1, size_t len1, const uint8_t *pt2, size_t len2,
                          uint8_t *ct)
{
    return s_aead(1, aead_id, key, key_len, nonce, aad, aad_len, pt1, len1, pt2, len2, ct);
}

egide_rc egide_aead_seal(uint16_t aead_id, const uint8_t *key, size_t key_len,
                         const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
                         const uint8_t *pt, size_t pt_len, uint8_t *ct)
{
    return s_aead(1, aead_id, key, key_len, nonce, aad, aad_len, pt, pt_len, NULL, 0, ct);
}

egide_rc egide_aead_open(uint16_t aead_id, const uint8_t *key, size_t key_len,
                         const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
                         const uint8_t *ct, size_t ct_len, uint8_t *pt)
{
    return s_aead(0, aead_id, key, key_len, nonce, aad, aad_len, ct, ct_len, NULL, 0, pt);
}

/* ------------------------------------------------------------ KEM */

static int s_is_x25519(EVP_PKEY *k)
{
    return k && EVP_PKEY_get_id(k) == EVP_PKEY_X25519;
}

/* An X25519 public key from 32 raw bytes.  Duplicating a template and
 * setting its encoded key avoids the provider lookup of
 * EVP_PKEY_new_raw_public_key() (about half its cost on OpenSSL 3.0). */
static egide_rc s_x25519_public(const uint8_t raw[32], EVP_PKEY **out)
{
    pthread_once(&s_once, s_init);
    *out = NULL;
    if (s_x25519_template) {
        EVP_PKEY *k = EVP_PKEY_dup(s_x25519_template);
        if (k && EVP_PKEY_set1_encoded_public_key(k, raw, 32) == 1) {
            *out = k;
            return EGIDE_OK;
        }
        EVP_PKEY_free(k);
        ERR_clear_error();
    }
    return egide_key_from_raw_public(EVP_PKEY_X25519, raw, out);
}

/* dh = X25519(sk, pk).  A held sk (egide_key_new_held: the key holder has
 * the private part) is answered by its holder; EGIDE_ERR_UNAVAILABLE from
 * it is transient, never a verdict on the peer's share. */
static egide_rc s_dh(EVP_PKEY *sk, EVP_PKEY *pk, uint8_t dh[32])
{
    if (egide_key_is_held(sk)) {
        uint8_t peer[32];
        egide_rc rc = egide_key_raw_public(pk, peer);
        return rc ? rc : egide_key_held_dh(sk, peer, dh);
    }
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(sk, NULL);
    if (!c)
        return EGIDE_ERR_NOMEM;
    size_t len = 32;
    egide_rc rc = EGIDE_OK;
    if (EVP_PKEY_derive_init(c) != 1 || EVP_PKEY_derive_set_peer(c, pk) != 1 ||
        EVP_PKEY_derive(c, dh, &len) != 1 || len != 32) {
        ERR_clear_error(); /* an all-zero output (small-order point) lands here */
        rc = EGIDE_ERR_CRYPTO;
    }
    EVP_PKEY_CTX_free(c);
    return rc;
}

/* shared_secret = ExtractAndExpand(dh, enc || pkRm). */
static egide_rc s_extract_and_expand(const uint8_t dh[32], const uint8_t enc[32],
                                     const uint8_t pkrm[32], uint8_t shared[NH])
{
    s_suite_t kem;
    s_suite_kem(&kem);
    uint8_t prk[NH], kem_context[64];
    memcpy(kem_context, enc, 32);
    memcpy(kem_context + 32, pkrm, 32);
    egide_rc rc = s_labeled_extract(&kem, NULL, 0, "eae_prk", dh, 32, prk);
    if (!rc)
        rc = s_labeled_expand(&kem, prk, "shared_secret", kem_context, 64, shared, NH);
    egide_wipe(prk, sizeof prk);
    return rc;
}

egide_rc egide_hpke_derive_keypair(const uint8_t *ikm, size_t ikm_len, EVP_PKEY **out)
{
    *out = NULL;
    if (!ikm || ikm_len < 32)
        return EGIDE_ERR_INVALID;
    s_suite_t kem;
    s_suite_kem(&kem);
    uint8_t prk[NH], sk[32];
    egide_rc rc = s_labeled_extract(&kem, NULL, 0, "dkp_prk", ikm, ikm_len, prk);
    if (!rc)
        rc = s_labeled_expand(&kem, prk, "sk", NULL, 0, sk, 32);
    if (!rc) {
        *out = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk, 32);
        if (!*out) {
            egide_crypto_log_errors("hpke derive keypair");
            rc = EGIDE_ERR_CRYPTO;
        }
    }
    egide_wipe(prk, sizeof prk);
    egide_wipe(sk, sizeof sk);
    return rc;
}

/* ------------------------------------------------------------ key schedule */

/* psk_id_hash = LabeledExtract("", "psk_id_hash", "") depends only on the
 * suite: computed once per AEAD. */
static pthread_once_t s_psk_once = PTHREAD_ONCE_INIT;
static const uint16_t s_aeads[4] = {EGIDE_HPKE_AEAD_AES128GCM, EGIDE_HPKE_AEAD_AES256GCM,
                                    EGIDE_HPKE_AEAD_CHACHA20POLY1305, EGIDE_HPKE_AEAD_EXPORT_ONLY};
static uint8_t s_psk_hash[4][NH];
static int s_psk_ok;

static void s_psk_init(void)
{
    for (int i = 0; i < 4; i++) {
        s_suite_t suite;
        s_suite_hpke(&suite, s_aeads[i]);
        if (s_labeled_extract(&suite, NULL, 0, "psk_id_hash", NULL, 0, s_psk_hash[i]) != EGIDE_OK)
            return;
    }
    s_psk_ok = 1;
}

static egide_rc s_psk_id_hash(uint16_t aead_id, uint8_t out[NH])
{
    pthread_once(&s_psk_once, s_psk_init);
    for (int i = 0; s_psk_ok && i < 4; i++) {
        if (s_aeads[i] == aead_id) {
            memcpy(out, s_psk_hash[i], NH);
            return EGIDE_OK;
        }
    }
    return EGIDE_ERR_CRYPTO;
}

static egide_rc s_key_schedule(egide_hpke_ctx_t *ctx, const uint8_t *info, size_t info_len)
{
    s_suite_t suite;
    s_suite_hpke(&suite, ctx->aead_id);
    uint8_t *ksc = ctx->ksc;
    ksc[0] = 0x00; /* mode_base */
    egide_rc rc = s_psk_id_hash(ctx->aead_id, ksc + 1);
    if (!rc)
        rc = s_labeled_extract(&suite, NULL, 0, "info_hash", info, info_len, ksc + 1 + NH);
    if (!rc)
        rc = s_labeled_extract(&suite, ctx->shared_secret, NH, "secret", NULL, 0, ctx->secret);
    if (!rc && ctx->key_len > 0)
        rc = s_labeled_expand(&suite, ctx->secret, "key", ksc, sizeof ctx->ksc, ctx->key,
                              ctx->key_len);
    if (!rc && ctx->key_len > 0)
        rc = s_labeled_expand(&suite, ctx->secret, "base_nonce", ksc, sizeof ctx->ksc,
                              ctx->base_nonce, EGIDE_HPKE_NONCE_LEN);
    /* exporter_secret is derived when asked for (s_exporter_secret): the
     * envelope never exports, and it is one HMAC per recipient less. */
    return rc;
}

static egide_rc s_exporter_secret(const egide_hpke_ctx_t *ctx, uint8_t out[NH])
{
    s_suite_t suite;
    s_suite_hpke(&suite, ctx->aead_id);
    return s_labeled_expand(&suite, ctx->secret, "exp", ctx->ksc, sizeof ctx->ksc, out, NH);
}

static egide_rc s_ctx_new(uint16_t aead_id, const uint8_t *info, size_t info_len,
                          egide_hpke_ctx_t **out)
{
    size_t key_len = 0;
    if (aead_id != EGIDE_HPKE_AEAD_EXPORT_ONLY && !s_cipher(aead_id, &key_len))
        return EGIDE_ERR_INVALID;
    if (info_len > EGIDE_HPKE_MAX_INFO || (info_len > 0 && !info))
        return EGIDE_ERR_INVALID;
    egide_hpke_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return EGIDE_ERR_NOMEM;
    ctx->aead_id = aead_id;
    ctx->key_len = key_len;
    *out = ctx;
    return EGIDE_OK;
}

/* The end of both setups, once the DH is done (rc: how far it went):
 * shared_secret and the key schedule, then the ephemeral key and the DH
 * output go; on failure the context too. */
static egide_rc s_setup_finish(egide_rc rc, egide_hpke_ctx_t *ctx, uint8_t dh[32],
                               const uint8_t enc[32], const uint8_t pkrm[32], const uint8_t *info,
                               size_t info_len, EVP_PKEY *eph, egide_hpke_ctx_t **out)
{
    if (!rc)
        rc = s_extract_and_expand(dh, enc, pkrm, ctx->shared_secret);
    if (!rc)
        rc = s_key_schedule(ctx, info, info_len);
    EVP_PKEY_free(eph);
    egide_wipe(dh, 32);
    if (rc)
        egide_hpke_ctx_destroy(&ctx);
    *out = ctx;
    return rc;
}

egide_rc egide_hpke_setup_base_s(uint16_t aead_id, EVP_PKEY *pk_r, const uint8_t *info,
                                 size_t info_len, const uint8_t *ikm_e, size_t ikm_e_len,
                                 uint8_t enc[EGIDE_HPKE_ENC_LEN], egide_hpke_ctx_t **out)
{
    *out = NULL;
    if (!s_is_x25519(pk_r))
        return EGIDE_ERR_INVALID;
    egide_hpke_ctx_t *ctx;
    egide_rc rc = s_ctx_new(aead_id, info, info_len, &ctx);
    if (rc)
        return rc;
    EVP_PKEY *ske = NULL;
    uint8_t pkrm[32], dh[32];
    if (ikm_e) {
        rc = egide_hpke_derive_keypair(ikm_e, ikm_e_len, &ske);
    } else {
        EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);
        if (!kc || EVP_PKEY_keygen_init(kc) != 1 || EVP_PKEY_keygen(kc, &ske) != 1) {
            egide_crypto_log_errors("hpke ephemeral keygen");
            rc = EGIDE_ERR_CRYPTO;
        }
        EVP_PKEY_CTX_free(kc);
    }
    if (!rc)
        rc = egide_key_raw_public(ske, enc);
    if (!rc)
        rc = egide_key_raw_public(pk_r, pkrm);
    if (!rc)
        rc = s_dh(ske, pk_r, dh);
    return s_setup_finish(rc, ctx, dh, enc, pkrm, info, info_len, ske, out);
}

egide_rc egide_hpke_setup_base_r(uint16_t aead_id, const uint8_t *enc, size_t enc_len,
                                 EVP_PKEY *sk_r, const uint8_t *info, size_t info_len,
                                 egide_hpke_ctx_t **out)
{
    *out = NULL;
    if (!s_is_x25519(sk_r))
        return EGIDE_ERR_INVALID;
    if (!enc || enc_len != EGIDE_HPKE_ENC_LEN)
        return EGIDE_ERR_DECRYPT;
    egide_hpke_ctx_t *ctx;
    egide_rc rc = s_ctx_new(aead_id, info, info_len, &ctx);
    if (rc)
        return rc;
    uint8_t pkrm[32], dh[32];
    EVP_PKEY *pke = NULL;
    if (s_x25519_public(enc, &pke) != EGIDE_OK)
        rc = EGIDE_ERR_DECRYPT;
    if (!rc)
        rc = egide_key_raw_public(sk_r, pkrm);
    if (!rc) {
        egide_rc drc = s_dh(sk_r, pke, dh);
        /* A key holder that cannot answer now is no verdict on enc. */
        if (drc == EGIDE_ERR_UNAVAILABLE)
            rc = drc;
        else if (drc)
            rc = EGIDE_ERR_DECRYPT; /* peer-supplied enc of small order */
    }
    return s_setup_finish(rc, ctx, dh, enc, pkrm, info, info_len, pke, out);
}

void egide_hpke_ctx_destroy(egide_hpke_ctx_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    egide_free_secret(*self_p, sizeof **self_p);
    *self_p = NULL;
}

static void s_nonce(const egide_hpke_ctx_t *ctx, uint8_t nonce[12])
{
    memcpy(nonce, ctx->base_nonce, 12);
    for (int i = 0; i < 8; i++)
        nonce[11 - i] ^= (uint8_t)(ctx->seq >> (8 * i));
}

/* Seal (enc) or open with the context's next nonce; seq moves on success. */
static egide_rc s_ctx_aead(int enc, egide_hpke_ctx_t *ctx, const uint8_t *aad, size_t aad_len,
                           const uint8_t *in, size_t in_len, uint8_t *out)
{
    if (!ctx || ctx->key_len == 0)
        return EGIDE_ERR_INVALID;
    if (ctx->seq == UINT64_MAX)
        return EGIDE_ERR_LIMIT;
    uint8_t nonce[12];
    s_nonce(ctx, nonce);
    egide_rc rc = s_aead(enc, ctx->aead_id, ctx->key, ctx->key_len, nonce, aad, aad_len, in, in_len,
                         NULL, 0, out);
    if (!rc)
        ctx->seq++;
    return rc;
}

egide_rc egide_hpke_ctx_seal(egide_hpke_ctx_t *ctx, const uint8_t *aad, size_t aad_len,
                             const uint8_t *pt, size_t pt_len, uint8_t *ct)
{
    return s_ctx_aead(1, ctx, aad, aad_len, pt, pt_len, ct);
}

egide_rc egide_hpke_ctx_open(egide_hpke_ctx_t *ctx, const uint8_t *aad, size_t aad_len,
                             const uint8_t *ct, size_t ct_len, uint8_t *pt)
{
    return s_ctx_aead(0, ctx, aad, aad_len, ct, ct_len, pt);
}

egide_rc egide_hpke_ctx_export(const egide_hpke_ctx_t *ctx, const uint8_t *exporter_context,
                               size_t context_len, uint8_t *out, size_t out_len)
{
    if (!ctx || !out || out_len == 0 || out_len > 255u * NH || context_len > EGIDE_HPKE_MAX_INFO)
        return EGIDE_ERR_INVALID;
    s_suite_t suite;
    s_suite_hpke(&suite, ctx->aead_id);
    uint8_t exp[NH];
    egide_rc rc = s_exporter_secret(ctx, exp);
    if (!rc)
        rc = s_labeled_expand(&suite, exp, "sec", exporter_context, context_len, out, out_len);
    egide_wipe(exp, sizeof exp);
    return rc;
}

uint64_t egide_hpke_ctx_seq(const egide_hpke_ctx_t *ctx)
{
    return ctx ? ctx->seq : 0;
}

void egide_hpke_ctx_set_seq(egide_hpke_ctx_t *ctx, uint64_t seq)
{
    if (ctx)
        ctx->seq = seq;
}

void egide_hpke_ctx_schedule(const egide_hpke_ctx_t *ctx, uint8_t *key, size_t *key_len,
                             uint8_t *base_nonce, uint8_t *exporter_secret, uint8_t *shared_secret)
{
    if (!ctx)
        return;
    if (key)
        memcpy(key, ctx->key, ctx->key_len);
    if (key_len)
        *key_len = ctx->key_len;
    if (base_nonce)
        memcpy(base_nonce, ctx->base_nonce, EGIDE_HPKE_NONCE_LEN);
    if (exporter_secret && s_exporter_secret(ctx, exporter_secret) != EGIDE_OK)
        memset(exporter_secret, 0, NH);
    if (shared_secret)
        memcpy(shared_secret, ctx->shared_secret, NH);
}

egide_rc egide_hpke_seal(uint16_t aead_id, EVP_PKEY *pk_r, const uint8_t *info, size_t info_len,
                         const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len,
                         uint8_t enc[EGIDE_HPKE_ENC_LEN], uint8_t *ct)
{
    egide_hpke_ctx_t *ctx;
    egide_rc rc = egide_hpke_setup_base_s(aead_id, pk_r, info, info_len, NULL, 0, enc, &ctx);
    if (rc)
        return rc;
    rc = egide_hpke_ctx_seal(ctx, aad, aad_len, pt, pt_len, ct);
    egide_hpke_ctx_destroy(&ctx);
    return rc;
}

egide_rc egide_hpke_open(uint16_t aead_id, EVP_PKEY *sk_r, const uint8_t *enc, size_t enc_len,
                         const uint8_t *info, size_t info_len, const uint8_t *aad, size_t aad_len,
                         const uint8_t *ct, size_t ct_len, uint8_t *pt)
{
    if (ct_len < EGIDE_HPKE_TAG_LEN)
        return EGIDE_ERR_DECRYPT;
    egide_hpke_ctx_t *ctx;
    egide_rc rc = egide_hpke_setup_base_r(aead_id, enc, enc_len, sk_r, info, info_len, &ctx);
    if (rc)
        return rc;
    rc = egide_hpke_ctx_open(ctx, aad, aad_len, ct, ct_len, pt);
    egide_hpke_ctx_destroy(&ctx);
    return rc;
}
