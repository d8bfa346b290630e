/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_crypto.c - shared primitives on OpenSSL 3.0 EVP: hashing, HMAC,
 * labelled Ed25519 signatures, key and certificate loading.
 *
 * SHA-256 and HMAC-SHA256 (RFC 2104, written out on one EVP_MD_CTX) run on
 * a digest fetched once; HPKE's HKDF (egide_hpke.c) is built on
 * egide_hmac_sha256v(), so this file depends on nothing above it.
 *
 * Held keys (egide_key_new_held) are public-only EVP_PKEYs whose ex_data
 * names the process that holds the private part; signing with one is
 * forwarded there (see egide_keyd.c for the one holder there is).
 *
 * Ed25519 itself (RFC 8032, pure, no context) runs on libsodium by default:
 * its verify costs about 60% of OpenSSL 3.0's on this kind of machine, and
 * the broker verifies three signatures per referral.  Keys stay EVP_PKEYs;
 * the raw public key is read from the EVP_PKEY per call, and a private
 * key's libsodium form (seed || public, 64 bytes) is derived once and kept
 * in the key's ex_data, wiped when the key is freed.  OpenSSL's
 * implementation remains selectable (egide_ed25519_backend_set: tests run
 * RFC 8032's vectors through both, benches compare them).
 */
#include "egide/crypto/egide_crypto.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthread.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "egide/base/egide_limits.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"

#define S_SHA256_LEN 32u
#define S_HMAC_BLOCK 64u

/* The SHA-256 digest is fetched once: OpenSSL 3.0's one-shot SHA256() and
 * HMAC() and its legacy EVP_sha256() fetch the implementation from the
 * provider on every call, which costs more than hashing the short inputs of
 * HKDF and showed in the daemons' profiles. */
static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static EVP_MD *s_md; /* never freed; NULL when the fetch failed */

static void s_init(void)
{
    s_md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
    ERR_clear_error();
}

/* Init md for SHA-256 and feed it parts[0..n-1] (empty parts skipped). */
static int s_digest_parts(EVP_MD_CTX *md, const void *const *parts, const size_t *lens, size_t n)
{
    if (EVP_DigestInit_ex(md, s_md, NULL) != 1)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lens[i] > 0 && EVP_DigestUpdate(md, parts[i], lens[i]) != 1)
            return 0;
    return 1;
}

static int s_digest_final(EVP_MD_CTX *md, uint8_t out[S_SHA256_LEN])
{
    unsigned int olen = 0;
    return EVP_DigestFinal_ex(md, out, &olen) == 1 && olen == S_SHA256_LEN;
}

void egide_sha256(const void *data, size_t len, uint8_t out[32])
{
    pthread_once(&s_once, s_init);
    EVP_MD_CTX *md = s_md ? EVP_MD_CTX_new() : NULL;
    const void *parts[1] = {data};
    int ok = md && s_digest_parts(md, parts, &len, 1) && s_digest_final(md, out);
    EVP_MD_CTX_free(md);
    if (!ok) {
        ERR_clear_error();
        SHA256(data, len, out); /* the slow path still works */
    }
}

egide_rc egide_hmac_sha256v(const uint8_t *key, size_t klen, const void *const *parts,
                            const size_t *lens, size_t n, uint8_t out[32])
{
    if ((klen > 0 && !key) || (n > 0 && (!parts || !lens)))
        return EGIDE_ERR_INVALID;
    for (size_t i = 0; i < n; i++)
        if (lens[i] > 0 && !parts[i])
            return EGIDE_ERR_INVALID;
    pthread_once(&s_once, s_init);
    if (!s_md)
        return EGIDE_ERR_CRYPTO;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md)
        return EGIDE_ERR_NOMEM;
    /* RFC 2104: H((K0 ^ opad) || H((K0 ^ ipad) || text)), K0 the key padded
     * to the block (hashed first when longer). */
    uint8_t k0[S_HMAC_BLOCK] = {0}, pad[S_HMAC_BLOCK], inner[S_SHA256_LEN];
    const void *kp[1] = {key};
    egide_rc rc = EGIDE_ERR_CRYPTO;
    if (klen > S_HMAC_BLOCK) {
        if (!s_digest_parts(md, kp, &klen, 1) || !s_digest_final(md, k0))
            goto done;
    } else if (klen > 0) {
        memcpy(k0, key, klen);
    }
    for (size_t i = 0; i < S_HMAC_BLOCK; i++)
        pad[i] = k0[i] ^ 0x36;
    const void *ip[1] = {pad};
    const size_t bl = S_HMAC_BLOCK;
    if (!s_digest_parts(md, ip, &bl, 1))
        goto done;
    for (size_t i = 0; i < n; i++)
        if (lens[i] > 0 && EVP_DigestUpdate(md, parts[i], lens[i]) != 1)
            goto done;
    if (!s_digest_final(md, inner))
        goto done;
    for (size_t i = 0; i < S_HMAC_BLOCK; i++)
        pad[i] = k0[i] ^ 0x5c;
    const void *op[2] = {pad, inner};
    const size_t ol[2] = {S_HMAC_BLOCK, S_SHA256_LEN};
    if (s_digest_parts(md, op, ol, 2) && s_digest_final(md, out))
        rc = EGIDE_OK;
done:
    if (rc)
        egide_crypto_log_errors("hmac-sha256");
    egide_wipe(k0, sizeof k0);
    egide_wipe(pad, sizeof pad);
    egide_wipe(inner, sizeof inner);
    EVP_MD_CTX_free(md);
    return rc;
}

egide_rc egide_hmac_sha256(const uint8_t *key, size_t klen, const void *data, size_t len,
                           uint8_t out[32])
{
    const void *parts[1] = {data};
    return egide_hmac_sha256v(key, klen, parts, &len, 1, out);
}

/* ------------------------------------------------------------ held keys */

/* What a held key's ex_data points to.  Owned by the key (freed by
 * s_held_free, copied by s_held_dup when OpenSSL duplicates the key). */
typedef struct s_held {
    const egide_key_holder_ops_t *ops; /* borrowed: outlives the key */
    void *holder;                      /* borrowed: outlives the key */
    int slot;                          /* the holder's slot of this key */
} s_held_t;

static pthread_once_t s_held_once = PTHREAD_ONCE_INIT;
static int s_held_idx = -1; /* EVP_PKEY ex_data index, -1 when unavailable */

static void s_held_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    free(ptr);
}

static int s_held_dup(CRYPTO_EX_DATA *to, const CRYPTO_EX_DATA *from, void **from_d, int idx,
                      long argl, void *argp)
{
    (void)to, (void)from, (void)idx, (void)argl, (void)argp;
    if (!*from_d)
        return 1;
    s_held_t *c = malloc(sizeof *c);
    if (!c)
        return 0;
    memcpy(c, *from_d, sizeof *c);
    *from_d = c;
    return 1;
}

static void s_held_init(void)
{
    s_held_idx = EVP_PKEY_get_ex_new_index(0, NULL, NULL, s_held_dup, s_held_free);
    ERR_clear_error();
}

static const s_held_t *s_held_of(EVP_PKEY *k)
{
    pthread_once(&s_held_once, s_held_init);
    return k && s_held_idx >= 0 ? EVP_PKEY_get_ex_data(k, s_held_idx) : NULL;
}

egide_rc egide_key_new_held(int type, const uint8_t raw_pub[32], const egide_key_holder_ops_t *ops,
                            void *holder, int slot, EVP_PKEY **out)
{
    if (!out)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    if (!raw_pub || !ops || !ops->sign || !ops->dh ||
        (type != EVP_PKEY_ED25519 && type != EVP_PKEY_X25519))
        return EGIDE_ERR_INVALID;
    pthread_once(&s_held_once, s_held_init);
    if (s_held_idx < 0)
        return EGIDE_ERR_CRYPTO;
    s_held_t *h = malloc(sizeof *h);
    if (!h)
        return EGIDE_ERR_NOMEM;
    *h = (s_held_t){ops, holder, slot};
    EVP_PKEY *k = NULL;
    egide_rc rc = egide_key_from_raw_public(type, raw_pub, &k);
    if (!rc && EVP_PKEY_set_ex_data(k, s_held_idx, h) != 1) {
        ERR_clear_error();
        rc = EGIDE_ERR_NOMEM;
    }
    if (rc) {
        free(h);
        EVP_PKEY_free(k);
        return rc;
    }
    *out = k; /* h is the key's now */
    return EGIDE_OK;
}

int egide_key_is_held(EVP_PKEY *key)
{
    return s_held_of(key) != NULL;
}

egide_rc egide_key_held_dh(EVP_PKEY *key, const uint8_t peer[32], uint8_t out[32])
{
    const s_held_t *h = s_held_of(key);
    if (!h || !peer || !out || EVP_PKEY_get_id(key) != EVP_PKEY_X25519)
        return EGIDE_ERR_INVALID;
    return h->ops->dh(h->holder, h->slot, peer, out);
}

/* ------------------------------------------------------------ Ed25519 */

/* The backend (egide_ed25519_backend_t), read and set atomically. */
static _Atomic int s_backend = EGIDE_ED25519_SODIUM;
static pthread_once_t s_sodium_once = PTHREAD_ONCE_INIT;
static int s_sodium_ok; /* sodium_init() succeeded */

/* A private key's libsodium secret key, kept in its ex_data; set once under
 * s_sk_lock (ex_data is not thread-safe to set while read). */
typedef struct s_sodium_sk {
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
} s_sodium_sk_t;

static int s_sk_idx = -1;
static pthread_mutex_t s_sk_lock = PTHREAD_MUTEX_INITIALIZER;

static void s_sk_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    if (ptr)
        sodium_memzero(ptr, sizeof(s_sodium_sk_t));
    free(ptr);
}

static int s_sk_dup(CRYPTO_EX_DATA *to, const CRYPTO_EX_DATA *from, void **from_d, int idx,
                    long argl, void *argp)
{
    (void)to, (void)from, (void)idx, (void)argl, (void)argp;
    *from_d = NULL; /* the copy derives its own */
    return 1;
}

static void s_sodium_init(void)
{
    s_sodium_ok = sodium_init() >= 0;
    s_sk_idx = EVP_PKEY_get_ex_new_index(0, NULL, NULL, s_sk_dup, s_sk_free);
    ERR_clear_error();
}

egide_ed25519_backend_t egide_ed25519_backend_set(egide_ed25519_backend_t b)
{
    if (b != EGIDE_ED25519_SODIUM && b != EGIDE_ED25519_OPENSSL)
        return (egide_ed25519_backend_t)atomic_load(&s_backend);
    return (egide_ed25519_backend_t)atomic_exchange(&s_backend, (int)b);
}

/* libsodium in use (initialised, and chosen). */
static bool s_sodium(void)
{
    pthread_once(&s_sodium_once, s_sodium_init);
    return s_sodium_ok && atomic_load(&s_backend) == EGIDE_ED25519_SODIUM;
}

/* sk's libsodium secret key (derived from its seed the first time), or NULL
 * when it cannot be had (then OpenSSL signs). */
static const uint8_t *s_sodium_sk(EVP_PKEY *sk)
{
    if (s_sk_idx < 0)
        return NULL;
    pthread_mutex_lock(&s_sk_lock);
    s_sodium_sk_t *c = EVP_PKEY_get_ex_data(sk, s_sk_idx);
    if (!c) {
        uint8_t seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES];
        size_t n = sizeof seed;
        c = malloc(sizeof *c);
        if (c && (EVP_PKEY_get_raw_private_key(sk, seed, &n) != 1 || n != sizeof seed ||
                  crypto_sign_seed_keypair(pk, c->sk, seed) != 0 ||
                  EVP_PKEY_set_ex_data(sk, s_sk_idx, c) != 1)) {
            sodium_memzero(c, sizeof *c);
            free(c);
            c = NULL;
        }
        sodium_memzero(seed, sizeof seed);
        ERR_clear_error();
    }
    pthread_mutex_unlock(&s_sk_lock);
    return c ? c->sk : NULL;
}

static egide_rc s_openssl_sign(EVP_PKEY *sk, const void *msg, size_t len, uint8_t sig[64])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return EGIDE_ERR_NOMEM;
    size_t siglen = 64;
    egide_rc rc = EGIDE_OK;
    if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, sk) != 1 ||
        EVP_DigestSign(ctx, sig, &siglen, msg, len) != 1 || siglen != 64) {
        egide_crypto_log_errors("ed25519 sign");
        rc = EGIDE_ERR_CRYPTO;
    }
    EVP_MD_CTX_free(ctx);
    return rc;
}

egide_rc egide_ed25519_sign(EVP_PKEY *sk, const void *msg, size_t len, uint8_t sig[64])
{
    if (!sk || EVP_PKEY_get_id(sk) != EVP_PKEY_ED25519)
        return EGIDE_ERR_INVALID;
    const s_held_t *h = s_held_of(sk);
    if (h)
        return h->ops->sign(h->holder, h->slot, NULL, msg, len, sig);
    const uint8_t *ssk = s_sodium() ? s_sodium_sk(sk) : NULL;
    if (ssk)
        return crypto_sign_detached(sig, NULL, msg ? msg : (const void *)"", len, ssk) == 0
                   ? EGIDE_OK
                   : EGIDE_ERR_CRYPTO;
    return s_openssl_sign(sk, msg, len, sig);
}

static egide_rc s_openssl_verify(EVP_PKEY *pk, const void *msg, size_t len, const uint8_t *sig,
                                 size_t siglen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return EGIDE_ERR_NOMEM;
    egide_rc rc = EGIDE_ERR_SIGNATURE;
    if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) == 1 &&
        EVP_DigestVerify(ctx, sig, siglen, msg, len) == 1)
        rc = EGIDE_OK;
    ERR_clear_error();
    EVP_MD_CTX_free(ctx);
    return rc;
}

egide_rc egide_ed25519_verify(EVP_PKEY *pk, const void *msg, size_t len, const uint8_t *sig,
                              size_t siglen)
{
    if (!pk || EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519)
        return EGIDE_ERR_INVALID;
    if (!sig || siglen != 64)
        return EGIDE_ERR_SIGNATURE;
    if (!s_sodium())
        return s_openssl_verify(pk, msg, len, sig, siglen);
    uint8_t raw[crypto_sign_PUBLICKEYBYTES];
    size_t n = sizeof raw;
    if (EVP_PKEY_get_raw_public_key(pk, raw, &n) != 1 || n != sizeof raw) {
        ERR_clear_error();
        return EGIDE_ERR_INVALID;
    }
    return crypto_sign_verify_detached(sig, msg ? msg : (const void *)"", len, raw) == 0
               ? EGIDE_OK
               : EGIDE_ERR_SIGNATURE;
}

static egide_rc s_labeled(const char *label, const void *msg, size_t len, egide_buf_t *b)
{
    size_t ll = strlen(label) + 1; /* the NUL is part of the label */
    egide_buf_init(b, SIZE_MAX);
    egide_rc rc = egide_buf_append(b, label, ll);
    return rc ? rc : egide_buf_append(b, msg, len);
}

egide_rc egide_sign_labeled(EVP_PKEY *sk, const char *label, const void *msg, size_t len,
                            uint8_t sig[64])
{
    /* A held key gets the label apart, so that its holder can tell what it
     * signs (and the message is not copied twice). */
    const s_held_t *h = sk && EVP_PKEY_get_id(sk) == EVP_PKEY_ED25519 ? s_held_of(sk) : NULL;
    if (h)
        return label ? h->ops->sign(h->holder, h->slot, label, msg, len, sig) : EGIDE_ERR_INVALID;
    egide_buf_t b;
    egide_rc rc = s_labeled(label, msg, len, &b);
    if (!rc)
        rc = egide_ed25519_sign(sk, b.data, b.len, sig);
    egide_buf_free(&b);
    return rc;
}

egide_rc egide_verify_labeled(EVP_PKEY *pk, const char *label, const void *msg, size_t len,
                              const uint8_t *sig, size_t siglen)
{
    egide_buf_t b;
    egide_rc rc = s_labeled(label, msg, len, &b);
    if (!rc)
        rc = egide_ed25519_verify(pk, b.data, b.len, sig, siglen);
    egide_buf_free(&b);
    return rc;
}

/* No passphrase: an encrypted key fails to load instead of OpenSSL asking
 * for one on the terminal (a daemon has none). */
static int s_no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

egide_rc egide_key_load_private(const char *path, EVP_PKEY **out)
{
    if (!out)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    /* One open, without following a link, checked on the descriptor that is
     * read: the file whose owner and mode were checked is the file parsed.
     * A PEM key is far smaller than the largest certificate file. */
    uint8_t *pem = NULL;
    size_t len = 0;
    egide_rc rc = egide_secret_read(path, EGIDE_MAX_CERT_FILE, &pem, &len);
    if (rc)
        return rc;
    EVP_PKEY *k = NULL;
    BIO *b = len <= INT_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;
    if (b) {
        k = PEM_read_bio_PrivateKey(b, NULL, s_no_passphrase, NULL);
        BIO_free(b);
    }
    egide_free_secret(pem, len);
    if (!k) {
        egide_crypto_log_errors("private key");
        return b ? EGIDE_ERR_CRYPTO : EGIDE_ERR_NOMEM;
    }
    *out = k;
    return EGIDE_OK;
}

egide_rc egide_key_from_raw_public(int type, const uint8_t raw[32], EVP_PKEY **out)
{
    *out = EVP_PKEY_new_raw_public_key(type, NULL, raw, 32);
    if (!*out) {
        ERR_clear_error();
        return EGIDE_ERR_CRYPTO;
    }
    return EGIDE_OK;
}

egide_rc egide_key_raw_public(EVP_PKEY *key, uint8_t out[32])
{
    size_t len = 32;
    if (!key || EVP_PKEY_get_raw_public_key(key, out, &len) != 1 || len != 32) {
        ERR_clear_error();
        return EGIDE_ERR_INVALID;
    }
    return EGIDE_OK;
}

egide_rc egide_cert_from_der(const uint8_t *der, size_t len, X509 **out)
{
    *out = NULL;
    if (!der || len == 0 || len > EGIDE_MAX_CERT_FILE)
        return EGIDE_ERR_CERT;
    const unsigned char *p = der;
    X509 *c = d2i_X509(NULL, &p, (long)len);
    if (!c || p != der + len) {
        X509_free(c);
        ERR_clear_error();
        return EGIDE_ERR_CERT;
    }
    *out = c;
    return EGIDE_OK;
}

egide_rc egide_cert_load(const char *path, X509 **out)
{
    *out = NULL;
    uint8_t *data;
    size_t len;
    egide_rc rc = egide_file_read(path, EGIDE_MAX_CERT_FILE, &data, &len);
    if (rc)
        return rc;
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    X509 *c = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (c) {
        *out = c;
        rc = EGIDE_OK;
    } else {
        ERR_clear_error();
        rc = egide_cert_from_der(data, len, out);
    }
    free(data);
    return rc;
}

egide_rc egide_cert_to_der(X509 *cert, uint8_t **der, size_t *len)
{
    *der = NULL;
    int n = i2d_X509(cert, der);
    if (n <= 0) {
        ERR_clear_error();
        return EGIDE_ERR_CERT;
    }
    *len = (size_t)n;
    return EGIDE_OK;
}

egide_rc egide_cert_fingerprint(X509 *cert, uint8_t out[32])
{
    uint8_t *der;
    size_t len;
    egide_rc rc = egide_cert_to_der(cert, &der, &len);
    if (rc)
        return rc;
    egide_sha256(der, len, out);
    OPENSSL_free(der);
    return EGIDE_OK;
}

egide_rc egide_cert_not_after_ms(const X509 *cert, int64_t *out)
{
    return cert && out && egide_asn1_time_ms(X509_get0_notAfter(cert), out) ? EGIDE_OK
                                                                            : EGIDE_ERR_CERT;
}

/* A direct-mapped cache of certificate facts: slot = first digest bytes.
 * A slot holds the whole digest, so an answer is only ever given for the
 * same bytes (a collision of SHA-256 aside). */
typedef struct {
    bool used;
    uint8_t digest[S_SHA256_LEN];
    egide_cert_facts_t facts;
} s_facts_slot_t;
static s_facts_slot_t s_facts[EGIDE_CERT_FACTS_CACHE];
static pthread_mutex_t s_facts_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t s_facts_hits, s_facts_parses;

bool egide_asn1_time_ms(const ASN1_TIME *t, int64_t *ms)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return false;
    *ms = (int64_t)timegm(&tm) * 1000;
    return true;
}

static egide_rc s_facts_parse(const uint8_t *der, size_t len, egide_cert_facts_t *out)
{
    X509 *c = NULL;
    egide_rc rc = egide_cert_from_der(der, len, &c);
    if (rc)
        return rc;
    EVP_PKEY *k = X509_get0_pubkey(c);
    out->key_type = k ? EVP_PKEY_get_id(k) : EVP_PKEY_NONE;
    out->times_ok = egide_asn1_time_ms(X509_get0_notBefore(c), &out->not_before_ms) &&
                    egide_asn1_time_ms(X509_get0_notAfter(c), &out->not_after_ms);
    if (!out->times_ok)
        out->not_before_ms = out->not_after_ms = 0;
    X509_free(c);
    ERR_clear_error();
    return EGIDE_OK;
}

egide_rc egide_cert_facts(const uint8_t *der, size_t len, egide_cert_facts_t *out)
{
    memset(out, 0, sizeof *out);
    if (!der || len == 0 || len > EGIDE_MAX_CERT_FILE)
        return EGIDE_ERR_CERT;
    uint8_t digest[S_SHA256_LEN];
    egide_sha256(der, len, digest);
    size_t slot = ((size_t)digest[0] << 8 | digest[1]) % EGIDE_CERT_FACTS_CACHE;
    pthread_mutex_lock(&s_facts_lock);
    s_facts_slot_t *e = &s_facts[slot];
    if (e->used && memcmp(e->digest, digest, sizeof digest) == 0) {
        *out = e->facts;
        s_facts_hits++;
        pthread_mutex_unlock(&s_facts_lock);
        return EGIDE_OK;
    }
    pthread_mutex_unlock(&s_facts_lock);
    /* parsed outside the lock: two threads may parse the same bytes at once,
     * and both store the same answer */
    egide_cert_facts_t f;
    memset(&f, 0, sizeof f);
    egide_rc rc = s_facts_parse(der, len, &f);
    pthread_mutex_lock(&s_facts_lock);
    s_facts_parses++;
    if (rc == EGIDE_OK) {
        /* a refusal is not kept: d2i_X509 says the same for bytes that are
         * not a certificate and for a lack of memory */
        e->used = true;
        memcpy(e->digest, digest, sizeof digest);
        e->facts = f;
    }
    pthread_mutex_unlock(&s_facts_lock);
    *out = f;
    return rc;
}

void egide_cert_facts_clear(void)
{
    pthread_mutex_lock(&s_facts_lock);
    memset(s_facts, 0, sizeof s_facts);
    pthread_mutex_unlock(&s_facts_lock);
}

void egide_cert_facts_stats(uint64_t *hits, uint64_t *parses)
{
    pthread_mutex_lock(&s_facts_lock);
    if (hits)
        *hits = s_facts_hits;
    if (parses)
        *parses = s_facts_parses;
    pthread_mutex_unlock(&s_facts_lock);
}

void egide_crypto_log_errors(const char *what)
{
    unsigned long e;
    char buf[256];
    int n = 0;
    while ((e = ERR_get_error()) != 0) {
        if (n++ < 4) {
            ERR_error_string_n(e, buf, sizeof buf);
            egide_log(EGIDE_LOG_WARNING, "%s: openssl: %s", what, buf);
        }
    }
}
