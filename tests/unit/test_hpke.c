/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_hpke.c - unit tests for egide_hpke: every mode-0
 * DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 vector of RFC 9180 Appendix A,
 * read at run time from
 * $EGIDE_SHARED_DIR/data/vectors/hpke-rfc9180-appendix-a.txt (DeriveKeyPair,
 * enc, shared_secret, key, base_nonce, exporter_secret, every ciphertext both
 * ways, every exported value), plus round trips and the error paths of the API.
 */
#include "egide/crypto/egide_crypto.h"
#include "egide/crypto/egide_hpke.h"
#include "egide/base/egide_rc.h"
#include "egide/base/egide_util.h"
#include "egide_test.h"

#include <ctype.h>
#include <stdint.h>

/* ------------------------------------------------------------ vector file
 * parser */

#define MAX_KV      32
#define MAX_ENTRIES 16

typedef struct {
    char key[32];
    char *val; /* hex or decimal text, continuation lines joined; malloc'd */
} kv_t;

typedef struct {
    kv_t kv[MAX_KV];
    int n;
} rec_t;

typedef struct {
    rec_t setup;
    rec_t enc[MAX_ENTRIES];
    int n_enc;
    rec_t exp[MAX_ENTRIES];
    int n_exp;
} vec_t;

static void s_rec_free(rec_t *r)
{
    for (int i = 0; i < r->n; i++)
        free(r->kv[i].val);
    r->n = 0;
}

static void s_vec_free(vec_t *v)
{
    s_rec_free(&v->setup);
    for (int i = 0; i < v->n_enc; i++)
        s_rec_free(&v->enc[i]);
    for (int i = 0; i < v->n_exp; i++)
        s_rec_free(&v->exp[i]);
    memset(v, 0, sizeof *v);
}

static const char *s_get(const rec_t *r, const char *key)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->kv[i].key, key) == 0)
            return r->kv[i].val;
    return NULL;
}

static void s_append(char **dst, const char *s, size_t n)
{
    size_t old = *dst ? strlen(*dst) : 0;
    char *p = realloc(*dst, old + n + 1);
    if (!p)
        abort();
    memcpy(p + old, s, n);
    p[old + n] = 0;
    *dst = p;
}

static int s_is_hexline(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isxdigit((unsigned char)*s))
            return 0;
    return 1;
}

/* Decode hex into a malloc'd buffer; NULL text or "" gives len 0. */
static uint8_t *s_unhex(const char *hex, size_t *len)
{
    *len = 0;
    if (!hex || !*hex)
        return calloc(1, 1);
    uint8_t *out;
    if (egide_hex_decode_alloc(hex, &out, len, 1u << 20) != EGIDE_OK)
        return NULL;
    return out;
}

static int s_eq_hex(const uint8_t *got, size_t n, const char *hex)
{
    size_t len;
    uint8_t *want = s_unhex(hex, &len);
    int ok = want && len == n && memcmp(got, want, n) == 0;
    free(want);
    return ok;
}

static int s_vectors_run = 0;

static void s_check_vector(vec_t *v);

/* Parse the RFC text: sections "### ... Setup Information" followed by a ~~~
 * block of "key: value" lines (values may continue on following hex lines),
 * then "#### Encryptions" and "#### Exported Values" blocks of entries
 * separated by blank lines.  Calls s_check_vector for each mode-0 X25519
 * / HKDF-SHA256 setup. */
static int s_parse_file(const char *path)
{
    uint8_t *data;
    size_t len;
    if (egide_file_read(path, 4u << 20, &data, &len) != EGIDE_OK)
        return -1;
    vec_t v;
    memset(&v, 0, sizeof v);
    enum { NONE, SETUP, ENC, EXP } block = NONE;
    int in_fence = 0, have = 0;
    rec_t *cur = NULL;
    kv_t *last = NULL;
    char *save = (char *)data;
    char *line = save;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        size_t l = strlen(line);
        while (l > 0 && (line[l - 1] == '\r' || line[l - 1] == ' '))
            line[--l] = 0;
        if (strncmp(line, "##", 2) == 0) {
            if (strncmp(line, "#### Encryptions", 16) == 0) {
                block = ENC;
            } else if (strncmp(line, "#### Exported", 13) == 0) {
                block = EXP;
            } else {
                if (have) {
                    s_check_vector(&v);
                    s_vec_free(&v);
                    have = 0;
                }
                block = strstr(line, "Setup Information") ? SETUP : NONE;
            }
            cur = NULL;
            last = NULL;
        } else if (strcmp(line, "~~~") == 0) {
            in_fence = !in_fence;
            cur = NULL;
            last = NULL;
        } else if (in_fence && block != NONE) {
            if (l == 0) {
                cur = NULL; /* entry separator */
                last = NULL;
            } else if (last && s_is_hexline(line)) {
                s_append(&last->val, line, l);
            } else {
                char *colon = strchr(line, ':');
                if (colon && colon - line < 31) {
                    if (!cur) {
                        if (block == SETUP) {
                            cur = &v.setup;
                            have = 1;
                        } else if (block == ENC && v.n_enc < MAX_ENTRIES) {
                            cur = &v.enc[v.n_enc++];
                        } else if (block == EXP && v.n_exp < MAX_ENTRIES) {
                            cur = &v.exp[v.n_exp++];
                        }
                    }
                    if (cur && cur->n < MAX_KV) {
                        last = &cur->kv[cur->n++];
                        memcpy(last->key, line, (size_t)(colon - line));
                        last->key[colon - line] = 0;
                        const char *val = colon + 1;
                        while (*val == ' ')
                            val++;
                        last->val = NULL;
                        s_append(&last->val, val, strlen(val));
                    }
                }
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    if (have)
        s_check_vector(&v);
    s_vec_free(&v);
    free(data);
    return 0;
}

static int64_t s_num(const rec_t *r, const char *key)
{
    int64_t n = -1;
    const char *s = s_get(r, key);
    if (!s || egide_parse_int64(s, 0, INT64_MAX, &n) != EGIDE_OK)
        return -1;
    return n;
}

static EVP_PKEY *s_raw_priv(const char *hex)
{
    size_t n;
    uint8_t *raw = s_unhex(hex, &n);
    EVP_PKEY *k =
        (raw && n == 32) ? EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, raw, 32) : NULL;
    free(raw);
    return k;
}

static void s_check_vector(vec_t *v)
{
    const rec_t *s = &v->setup;
    if (s_num(s, "mode") != 0 || s_num(s, "kem_id") != 32 || s_num(s, "kdf_id") != 1)
        return;
    int64_t aead = s_num(s, "aead_id");
    CHECK(aead == 1 || aead == 2 || aead == 3 || aead == 0xFFFF);
    s_vectors_run++;
    fprintf(stderr, "  vector: mode 0, aead %lld, %d encryptions, %d exports\n", (long long)aead,
            v->n_enc, v->n_exp);
    uint16_t aead_id = (uint16_t)aead;

    size_t info_len, ikme_len, ikmr_len;
    uint8_t *info = s_unhex(s_get(s, "info"), &info_len);
    uint8_t *ikme = s_unhex(s_get(s, "ikmE"), &ikme_len);
    uint8_t *ikmr = s_unhex(s_get(s, "ikmR"), &ikmr_len);
    REQUIRE(info && ikme && ikmr);

    /* DeriveKeyPair for both key pairs. */
    EVP_PKEY *skr = NULL, *ske = NULL;
    uint8_t raw[32];
    size_t rl = 32;
    CHECK_RC(egide_hpke_derive_keypair(ikmr, ikmr_len, &skr), EGIDE_OK);
    CHECK_RC(egide_hpke_derive_keypair(ikme, ikme_len, &ske), EGIDE_OK);
    if (skr) {
        CHECK(egide_key_raw_public(skr, raw) == EGIDE_OK && s_eq_hex(raw, 32, s_get(s, "pkRm")));
        CHECK(EVP_PKEY_get_raw_private_key(skr, raw, &rl) == 1 &&
              s_eq_hex(raw, 32, s_get(s, "skRm")));
    }
    if (ske)
        CHECK(egide_key_raw_public(ske, raw) == EGIDE_OK && s_eq_hex(raw, 32, s_get(s, "pkEm")));

    /* Sender from ikmE, receiver from skRm given directly. */
    EVP_PKEY *skr_raw = s_raw_priv(s_get(s, "skRm"));
    CHECK(skr_raw != NULL);
    uint8_t enc[32];
    egide_hpke_ctx_t *cs = NULL, *cr = NULL;
    CHECK_RC(egide_hpke_setup_base_s(aead_id, skr, info, info_len, ikme, ikme_len, enc, &cs),
             EGIDE_OK);
    CHECK(s_eq_hex(enc, 32, s_get(s, "enc")));
    size_t enc_len;
    uint8_t *enc_v = s_unhex(s_get(s, "enc"), &enc_len);
    CHECK_RC(egide_hpke_setup_base_r(aead_id, enc_v, enc_len, skr_raw, info, info_len, &cr),
             EGIDE_OK);
    free(enc_v);
    egide_hpke_ctx_t *both[2] = {cs, cr};
    for (int i = 0; i < 2; i++) {
        if (!both[i])
            continue;
        uint8_t key[32], nonce[12], exp[32], shared[32];
        size_t key_len = 99;
        egide_hpke_ctx_schedule(both[i], key, &key_len, nonce, exp, shared);
        CHECK(s_eq_hex(shared, 32, s_get(s, "shared_secret")));
        CHECK(s_eq_hex(key, key_len, s_get(s, "key")));
        if (key_len > 0)
            CHECK(s_eq_hex(nonce, 12, s_get(s, "base_nonce")));
        CHECK(s_eq_hex(exp, 32, s_get(s, "exporter_secret")));
    }

    /* Every encryption, sealed by the sender and opened by the receiver. */
    for (int e = 0; e < v->n_enc && cs && cr; e++) {
        const rec_t *r = &v->enc[e];
        int64_t seq = s_num(r, "sequence number");
        CHECK(seq >= 0);
        size_t pt_len, aad_len, ct_len;
        uint8_t *pt = s_unhex(s_get(r, "pt"), &pt_len);
        uint8_t *aad = s_unhex(s_get(r, "aad"), &aad_len);
        uint8_t *ct = s_unhex(s_get(r, "ct"), &ct_len);
        if (!pt || !aad || !ct || ct_len != pt_len + 16) {
            CHECK(!"malformed encryption entry");
        } else {
            uint8_t *out = malloc(ct_len);
            egide_hpke_ctx_set_seq(cs, (uint64_t)seq);
            CHECK_RC(egide_hpke_ctx_seal(cs, aad, aad_len, pt, pt_len, out), EGIDE_OK);
            CHECK(memcmp(out, ct, ct_len) == 0);
            CHECK(egide_hpke_ctx_seq(cs) == (uint64_t)seq + 1);
            egide_hpke_ctx_set_seq(cr, (uint64_t)seq);
            CHECK_RC(egide_hpke_ctx_open(cr, aad, aad_len, ct, ct_len, out), EGIDE_OK);
            CHECK(memcmp(out, pt, pt_len) == 0);
            /* Wrong sequence number, flipped tag, wrong aad: all refused. */
            CHECK_RC(egide_hpke_ctx_open(cr, aad, aad_len, ct, ct_len, out), EGIDE_ERR_DECRYPT);
            egide_hpke_ctx_set_seq(cr, (uint64_t)seq);
            ct[ct_len - 1] ^= 1;
            CHECK_RC(egide_hpke_ctx_open(cr, aad, aad_len, ct, ct_len, out), EGIDE_ERR_DECRYPT);
            ct[ct_len - 1] ^= 1;
            CHECK_RC(egide_hpke_ctx_open(cr, aad, aad_len > 0 ? aad_len - 1 : 0, ct, ct_len, out),
                     EGIDE_ERR_DECRYPT);
            CHECK(egide_hpke_ctx_seq(cr) == (uint64_t)seq);
            free(out);
        }
        free(pt);
        free(aad);
        free(ct);
    }
    if (aead_id == EGIDE_HPKE_AEAD_EXPORT_ONLY && cs) {
        uint8_t out[32];
        CHECK_RC(egide_hpke_ctx_seal(cs, NULL, 0, (const uint8_t *)"x", 1, out), EGIDE_ERR_INVALID);
    }

    /* Every exported value, from both sides. */
    for (int e = 0; e < v->n_exp && cs && cr; e++) {
        const rec_t *r = &v->exp[e];
        int64_t L = s_num(r, "L");
        size_t ctx_len;
        uint8_t *ectx = s_unhex(s_get(r, "exporter_context"), &ctx_len);
        REQUIRE(L > 0 && L <= 1024 && ectx);
        uint8_t out[1024];
        for (int i = 0; i < 2; i++) {
            CHECK_RC(egide_hpke_ctx_export(both[i], ectx, ctx_len, out, (size_t)L), EGIDE_OK);
            CHECK(s_eq_hex(out, (size_t)L, s_get(r, "exported_value")));
        }
        free(ectx);
    }
    CHECK(v->n_exp > 0);
    if (aead_id != EGIDE_HPKE_AEAD_EXPORT_ONLY)
        CHECK(v->n_enc > 0);

    egide_hpke_ctx_destroy(&cs);
    egide_hpke_ctx_destroy(&cr);
    CHECK(cs == NULL && cr == NULL);
    EVP_PKEY_free(skr);
    EVP_PKEY_free(ske);
    EVP_PKEY_free(skr_raw);
    free(info);
    free(ikme);
    free(ikmr);
}

static void test_rfc9180_vectors(void)
{
    const char *shared = getenv("EGIDE_SHARED_DIR");
    REQUIRE(shared != NULL);
    char path[4096];
    REQUIRE(egide_snprintf(path, sizeof path, "%s/data/vectors/hpke-rfc9180-appendix-a.txt",
                           shared) == EGIDE_OK);
    REQUIRE(s_parse_file(path) == 0);
    fprintf(stderr, "  %d mode-0 DHKEM(X25519, HKDF-SHA256) vectors checked\n", s_vectors_run);
    /* Appendix A has three: AES-128-GCM, ChaCha20-Poly1305, export-only. */
    CHECK(s_vectors_run >= 3);
}

/* ------------------------------------------------------------ SHA-256 / HMAC */

/* egide_crypto owns SHA-256 and HMAC (RFC 4231 vectors); the HPKE names are
 * aliases; the multi-part form equals the one-part form over the
 * concatenation; bad pointers are refused. */
static void test_sha256_hmac(void)
{
    uint8_t out[32], alias[32];
    const char *want;
    /* FIPS 180-2: SHA-256("abc"). */
    want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    egide_sha256("abc", 3, out);
    CHECK(s_eq_hex(out, 32, want));
    CHECK_RC(egide_hpke_sha256("abc", 3, alias), EGIDE_OK);
    CHECK(s_eq_hex(alias, 32, want));
    CHECK_RC(egide_hpke_sha256(NULL, 3, alias), EGIDE_ERR_CRYPTO);
    /* SHA-256(""). */
    want = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    egide_sha256(NULL, 0, out);
    CHECK(s_eq_hex(out, 32, want));
    /* RFC 4231 test case 2: key "Jefe". */
    want = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    const char *msg = "what do ya want for nothing?";
    CHECK_RC(egide_hmac_sha256((const uint8_t *)"Jefe", 4, msg, strlen(msg), out), EGIDE_OK);
    CHECK(s_eq_hex(out, 32, want));
    CHECK_RC(egide_hpke_hmac_sha256((const uint8_t *)"Jefe", 4, msg, strlen(msg), alias), EGIDE_OK);
    CHECK(s_eq_hex(alias, 32, want));
    const void *parts[3] = {msg, NULL, msg + 10};
    const size_t lens[3] = {10, 0, strlen(msg) - 10};
    CHECK_RC(egide_hmac_sha256v((const uint8_t *)"Jefe", 4, parts, lens, 3, out), EGIDE_OK);
    CHECK(s_eq_hex(out, 32, want));
    /* RFC 4231 test case 6: a 131-byte key (longer than the block: hashed). */
    uint8_t key[131];
    memset(key, 0xaa, sizeof key);
    const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    want = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54";
    CHECK_RC(egide_hmac_sha256(key, sizeof key, m6, strlen(m6), out), EGIDE_OK);
    CHECK(s_eq_hex(out, 32, want));
    /* Bad input. */
    CHECK_RC(egide_hmac_sha256(NULL, 4, msg, 1, out), EGIDE_ERR_INVALID);
    CHECK_RC(egide_hmac_sha256(key, 4, NULL, 1, out), EGIDE_ERR_INVALID);
    const void *bad[1] = {NULL};
    const size_t blen[1] = {3};
    CHECK_RC(egide_hmac_sha256v(key, 4, bad, blen, 1, out), EGIDE_ERR_INVALID);
    CHECK_RC(egide_hmac_sha256v(key, 4, NULL, NULL, 1, out), EGIDE_ERR_INVALID);
    /* No parts at all is HMAC of the empty string (RFC 4231 has none; check
     * against the one-part form). */
    CHECK_RC(egide_hmac_sha256v(key, 4, NULL, NULL, 0, out), EGIDE_OK);
    CHECK_RC(egide_hmac_sha256(key, 4, NULL, 0, alias), EGIDE_OK);
    CHECK(memcmp(out, alias, 32) == 0);
}

/* ------------------------------------------------------------ API behaviour */

static EVP_PKEY *s_keygen(void)
{
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);
    if (c && EVP_PKEY_keygen_init(c) == 1)
        EVP_PKEY_keygen(c, &k);
    EVP_PKEY_CTX_free(c);
    return k;
}

static void test_roundtrip_all_aeads(void)
{
    EVP_PKEY *r = s_keygen(), *other = s_keygen();
    REQUIRE(r && other);
    uint8_t pub[32];
    EVP_PKEY *rpub = NULL;
    REQUIRE(egide_key_raw_public(r, pub) == EGIDE_OK);
    REQUIRE(egide_key_from_raw_public(EVP_PKEY_X25519, pub, &rpub) == EGIDE_OK);
    const uint16_t aeads[] = {EGIDE_HPKE_AEAD_AES128GCM, EGIDE_HPKE_AEAD_AES256GCM,
                              EGIDE_HPKE_AEAD_CHACHA20POLY1305};
    const uint8_t info[] = "egide-test-info", aad[] = "aad",
                  pt[] = "a content key of 32 bytes......";
    for (size_t i = 0; i < 3; i++) {
        uint8_t enc[32], ct[sizeof pt + 16], out[sizeof pt];
        CHECK_RC(egide_hpke_seal(aeads[i], rpub, info, sizeof info, aad, sizeof aad, pt, sizeof pt,
                                 enc, ct),
                 EGIDE_OK);
        CHECK_RC(egide_hpke_open(aeads[i], r, enc, 32, info, sizeof info, aad, sizeof aad, ct,
                                 sizeof ct, out),
                 EGIDE_OK);
        CHECK(memcmp(out, pt, sizeof pt) == 0);
        /* Wrong recipient, wrong info, wrong aead, short ct, bad enc length. */
        CHECK_RC(egide_hpke_open(aeads[i], other, enc, 32, info, sizeof info, aad, sizeof aad, ct,
                                 sizeof ct, out),
                 EGIDE_ERR_DECRYPT);
        CHECK_RC(egide_hpke_open(aeads[i], r, enc, 32, info, sizeof info - 1, aad, sizeof aad, ct,
                                 sizeof ct, out),
                 EGIDE_ERR_DECRYPT);
        CHECK_RC(egide_hpke_open(aeads[(i + 1) % 3], r, enc, 32, info, sizeof info, aad, sizeof aad,
                                 ct, sizeof ct, out),
                 EGIDE_ERR_DECRYPT);
        CHECK_RC(
            egide_hpke_open(aeads[i], r, enc, 32, info, sizeof info, aad, sizeof aad, ct, 15, out),
            EGIDE_ERR_DECRYPT);
        CHECK_RC(egide_hpke_open(aeads[i], r, enc, 31, info, sizeof info, aad, sizeof aad, ct,
                                 sizeof ct, out),
                 EGIDE_ERR_DECRYPT);
        /* Two seals of the same input differ (fresh ephemeral key). */
        uint8_t enc2[32], ct2[sizeof pt + 16];
        CHECK_RC(egide_hpke_seal(aeads[i], rpub, info, sizeof info, aad, sizeof aad, pt, sizeof pt,
                                 enc2, ct2),
                 EGIDE_OK);
        CHECK(memcmp(enc, enc2, 32) != 0);
    }
    /* A small-order enc (all zero) makes X25519 output zero: refused. */
    uint8_t zero[32] = {0}, ct[48] = {0}, out[32];
    CHECK_RC(egide_hpke_open(EGIDE_HPKE_AEAD_AES256GCM, r, zero, 32, NULL, 0, NULL, 0, ct, 48, out),
             EGIDE_ERR_DECRYPT);
    EVP_PKEY_free(r);
    EVP_PKEY_free(other);
    EVP_PKEY_free(rpub);
}

static void test_bad_arguments(void)
{
    EVP_PKEY *r = s_keygen();
    REQUIRE(r);
    uint8_t enc[32], ct[64], ikm[31] = {0};
    egide_hpke_ctx_t *ctx = (egide_hpke_ctx_t *)1;
    CHECK_RC(egide_hpke_setup_base_s(7, r, NULL, 0, NULL, 0, enc, &ctx), EGIDE_ERR_INVALID);
    CHECK(ctx == NULL);
    EVP_PKEY *ed = NULL;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    if (c && EVP_PKEY_keygen_init(c) == 1)
        EVP_PKEY_keygen(c, &ed);
    EVP_PKEY_CTX_free(c);
    CHECK_RC(egide_hpke_setup_base_s(EGIDE_HPKE_AEAD_AES256GCM, ed, NULL, 0, NULL, 0, enc, &ctx),
             EGIDE_ERR_INVALID);
    CHECK_RC(
        egide_hpke_setup_base_s(EGIDE_HPKE_AEAD_AES256GCM, r, NULL, 0, ikm, sizeof ikm, enc, &ctx),
        EGIDE_ERR_INVALID);
    EVP_PKEY *derived = (EVP_PKEY *)1;
    CHECK_RC(egide_hpke_derive_keypair(ikm, sizeof ikm, &derived), EGIDE_ERR_INVALID);
    CHECK(derived == NULL);
    EVP_PKEY_free(ed);
    CHECK_RC(egide_hpke_seal(EGIDE_HPKE_AEAD_AES256GCM, r, NULL, EGIDE_HPKE_MAX_INFO + 1, NULL, 0,
                             ct, 1, enc, ct),
             EGIDE_ERR_INVALID);
    /* The sequence number is bounded. */
    CHECK_RC(egide_hpke_setup_base_s(EGIDE_HPKE_AEAD_AES256GCM, r, NULL, 0, NULL, 0, enc, &ctx),
             EGIDE_OK);
    egide_hpke_ctx_set_seq(ctx, UINT64_MAX);
    CHECK_RC(egide_hpke_ctx_seal(ctx, NULL, 0, ct, 1, ct + 16), EGIDE_ERR_LIMIT);
    CHECK_RC(egide_hpke_ctx_export(ctx, NULL, 0, ct, 0), EGIDE_ERR_INVALID);
    CHECK_RC(egide_hpke_ctx_export(ctx, NULL, 0, ct, 255 * 32 + 1), EGIDE_ERR_INVALID);
    egide_hpke_ctx_destroy(&ctx);
    egide_hpke_ctx_destroy(&ctx); /* NULL-safe */
    egide_hpke_ctx_destroy(NULL);
    /* Plain AEAD: key length must match. */
    uint8_t key[32] = {1}, nonce[12] = {2};
    CHECK_RC(egide_aead_seal(EGIDE_HPKE_AEAD_AES256GCM, key, 16, nonce, NULL, 0, ct, 4, ct + 32),
             EGIDE_ERR_INVALID);
    CHECK_RC(egide_aead_seal(EGIDE_HPKE_AEAD_AES256GCM, key, 32, nonce, NULL, 0, ct, 4, ct + 32),
             EGIDE_OK);
    CHECK_RC(egide_aead_open(EGIDE_HPKE_AEAD_AES256GCM, key, 32, nonce, NULL, 0, ct + 32, 20, ct),
             EGIDE_OK);
    key[0] ^= 1;
    CHECK_RC(egide_aead_open(EGIDE_HPKE_AEAD_AES256GCM, key, 32, nonce, NULL, 0, ct + 32, 20, ct),
             EGIDE_ERR_DECRYPT);
    /* Two-part sealing equals sealing the concatenation. */
    uint8_t whole[40], c1[56], c2[56];
    for (int i = 0; i < 40; i++)
        whole[i] = (uint8_t)i;
    CHECK_RC(egide_aead_seal(EGIDE_HPKE_AEAD_AES256GCM, key, 32, nonce, ct, 3, whole, 40, c1),
             EGIDE_OK);
    CHECK_RC(egide_aead_seal2(EGIDE_HPKE_AEAD_AES256GCM, key, 32, nonce, ct, 3, whole, 13,
                              whole + 13, 27, c2),
             EGIDE_OK);
    CHECK(memcmp(c1, c2, 56) == 0);
    CHECK_RC(
        egide_aead_seal2(EGIDE_HPKE_AEAD_AES256GCM, key, 32, nonce, ct, 3, whole, 40, NULL, 0, c2),
        EGIDE_OK);
    CHECK(memcmp(c1, c2, 56) == 0);
    CHECK_RC(
        egide_aead_seal2(EGIDE_HPKE_AEAD_AES256GCM, key, 16, nonce, NULL, 0, whole, 1, NULL, 0, c2),
        EGIDE_ERR_INVALID);
    EVP_PKEY_free(r);
}

int main(void)
{
    RUN(test_rfc9180_vectors);
    RUN(test_roundtrip_all_aeads);
    RUN(test_bad_arguments);
    RUN(test_sha256_hmac);
    EGIDE_TEST_DONE();
}
