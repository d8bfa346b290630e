/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_checkpoint.c - C2SP signed-note checkpoints (make, strict parse,
 * verify) and the edge-side witness check (signature, size, consistency).
 */
#include <openssl/evp.h>
#include <string.h>

#include "egide/protocol/egide_checkpoint.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/audit/egide_merkle.h"
#include "egide/base/egide_util.h"
#include "egide/audit/egide_witness.h"
#include "egide_test.h"

#define NAME "egide.71.broker/audit"

static EVP_PKEY *s_key, *s_other;

static egide_rc s_note(egide_merkle_mem_t *t, uint64_t size, EVP_PKEY *key, char **note)
{
    egide_checkpoint_t cp;
    memset(&cp, 0, sizeof cp);
    egide_strlcpy(cp.origin, NAME, sizeof cp.origin);
    cp.size = size;
    egide_rc rc = egide_merkle_tree_hash(egide_merkle_mem_reader, t, size, cp.root);
    return rc == EGIDE_OK ? egide_checkpoint_sign(&cp, NAME, key, note) : rc;
}

static void test_format(void)
{
    char origin[300];
    CHECK_RC(egide_checkpoint_origin_for("71.broker", origin, sizeof origin), EGIDE_OK);
    CHECK_STREQ(origin, NAME);
    CHECK_RC(egide_checkpoint_origin_for("71 broker", origin, sizeof origin), EGIDE_ERR_INVALID);
    CHECK_RC(egide_checkpoint_origin_for("", origin, sizeof origin), EGIDE_ERR_INVALID);
    CHECK_RC(egide_checkpoint_origin_for("71.broker", origin, 8), EGIDE_ERR_LIMIT);

    egide_checkpoint_t cp;
    memset(&cp, 0, sizeof cp);
    egide_strlcpy(cp.origin, NAME, sizeof cp.origin);
    cp.size = 12345;
    for (int i = 0; i < 32; i++)
        cp.root[i] = (uint8_t)i;
    char *note = NULL;
    REQUIRE(egide_checkpoint_sign(&cp, NAME, s_key, &note) == EGIDE_OK);
    /* Exact layout: three text lines, blank line, one signature line. */
    const char *want_text = NAME "\n12345\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n"
                                 "\xE2\x80\x94 " NAME " ";
    CHECK(strncmp(note, want_text, strlen(want_text)) == 0);
    CHECK(note[strlen(note) - 1] == '\n');
    /* The signature blob starts with the key id. */
    uint8_t id[4];
    CHECK_RC(egide_checkpoint_key_id(NAME, s_key, id), EGIDE_OK);
    const char *b64 = note + strlen(want_text);
    uint8_t *blob = NULL;
    size_t blen = 0;
    CHECK_RC(egide_base64_decode(b64, strlen(b64) - 1, &blob, &blen, 100), EGIDE_OK);
    CHECK(blen == 68 && blob && memcmp(blob, id, 4) == 0);
    free(blob);
    /* Key id by hand: SHA-256(name || 0x0A || 0x01 || pub)[0:4]. */
    uint8_t buf[200], pub[32], h[32];
    size_t nl = strlen(NAME);
    memcpy(buf, NAME, nl);
    buf[nl] = 0x0A;
    buf[nl + 1] = 0x01;
    CHECK_RC(egide_key_raw_public(s_key, pub), EGIDE_OK);
    memcpy(buf + nl + 2, pub, 32);
    egide_sha256(buf, nl + 34, h);
    CHECK(memcmp(h, id, 4) == 0);

    egide_checkpoint_t got;
    CHECK_RC(egide_checkpoint_verify(note, strlen(note), NAME, s_key, &got), EGIDE_OK);
    CHECK(got.size == 12345 && memcmp(got.root, cp.root, 32) == 0);
    CHECK_STREQ(got.origin, NAME);
    CHECK_RC(egide_checkpoint_parse(note, strlen(note), &got), EGIDE_OK);
    /* Wrong key, wrong name, not Ed25519. */
    CHECK_RC(egide_checkpoint_verify(note, strlen(note), NAME, s_other, NULL), EGIDE_ERR_SIGNATURE);
    CHECK_RC(egide_checkpoint_verify(note, strlen(note), "egide.other/audit", s_key, NULL),
             EGIDE_ERR_SIGNATURE);
    EVP_PKEY *x = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    CHECK_RC(egide_checkpoint_verify(note, strlen(note), NAME, x, NULL), EGIDE_ERR_INVALID);
    char *nx = NULL;
    CHECK_RC(egide_checkpoint_sign(&cp, NAME, x, &nx), EGIDE_ERR_INVALID);
    CHECK(nx == NULL);
    EVP_PKEY_free(x);
    /* Bad origin in the struct. */
    egide_checkpoint_t bad = cp;
    egide_strlcpy(bad.origin, "has space", sizeof bad.origin);
    char *n2 = NULL;
    CHECK_RC(egide_checkpoint_sign(&bad, NAME, s_key, &n2), EGIDE_ERR_INVALID);
    CHECK(n2 == NULL);

    /* A second signer's line is ignored; ours still verifies. */
    char *other = NULL;
    REQUIRE(egide_checkpoint_sign(&cp, "witness.example", s_other, &other) == EGIDE_OK);
    const char *oline = strstr(other, "\n\n") + 2;
    char two[2048];
    egide_snprintf(two, sizeof two, "%s%s", note, oline);
    CHECK_RC(egide_checkpoint_verify(two, strlen(two), NAME, s_key, NULL), EGIDE_OK);
    CHECK_RC(egide_checkpoint_verify(two, strlen(two), "witness.example", s_other, NULL), EGIDE_OK);
    free(other);

    /* Every single-byte change of the signed text, and flips in the
     * signature, must fail to verify. */
    size_t len = strlen(note);
    int accepted = 0;
    for (size_t i = 0; i < len; i++) {
        char *m = strdup(note);
        m[i] ^= 0x01;
        accepted += egide_checkpoint_verify(m, len, NAME, s_key, NULL) == EGIDE_OK;
        free(m);
    }
    CHECK(accepted == 0);
    /* Truncation at every length fails too. */
    accepted = 0;
    for (size_t i = 0; i < len; i++)
        accepted += egide_checkpoint_verify(note, i, NAME, s_key, NULL) == EGIDE_OK;
    CHECK(accepted == 0);
    free(note);
}

static void test_parse_strict(void)
{
    const char *root = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const char *sig = "\xE2\x80\x94 k AAAAAAA=\n";
    char buf[8192];
    egide_checkpoint_t cp;
    egide_snprintf(buf, sizeof buf, "o\n7\n%s\n\n%s", root, sig);
    CHECK_RC(egide_checkpoint_parse(buf, strlen(buf), &cp), EGIDE_OK);
    CHECK(cp.size == 7);
    const char *bad[] = {
        "o\n07\n%s\n\n%s",                   /* leading zero */
        "o\n-7\n%s\n\n%s",                   /* sign */
        "o\n18446744073709551616\n%s\n\n%s", /* overflow */
        "o\n\n%s\n\n%s",                     /* empty size */
        "\n7\n%s\n\n%s",                     /* empty origin */
        "o o\n7\n%s\n\n%s",                  /* space in origin */
        "o\n7\n%s\next\n\n%s",               /* extension line */
        "o\n7\n%s\n%s",                      /* no blank line */
        "o\n7\n%s\n\n",                      /* no signature */
        "o\n7\n%s\n\n%sjunk",                /* trailing bytes */
        "o\n7\n%s\n\n- k AAAAAAA=\n%s",      /* ASCII dash */
        "o\n7\n%s\r\n\n%s",                  /* CR */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        egide_snprintf(buf, sizeof buf, bad[i], root, sig);
#pragma GCC diagnostic pop
        egide_rc rc = egide_checkpoint_parse(buf, strlen(buf), &cp);
        if (rc != EGIDE_ERR_PROTO)
            fprintf(stderr, "bad[%zu] accepted (%s)\n", i, egide_rc_name(rc));
        CHECK(rc == EGIDE_ERR_PROTO);
    }
    /* Root of 31 bytes, base64 garbage. */
    egide_snprintf(buf, sizeof buf, "o\n7\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\n\n%s",
                   sig);
    CHECK_RC(egide_checkpoint_parse(buf, strlen(buf), &cp), EGIDE_ERR_PROTO);
    egide_snprintf(buf, sizeof buf, "o\n7\n%s\n\n\xE2\x80\x94 k A*AAAAA=\n", root);
    CHECK_RC(egide_checkpoint_parse(buf, strlen(buf), &cp), EGIDE_ERR_PROTO);
    /* Embedded NUL. */
    egide_snprintf(buf, sizeof buf, "o\n7\n%s\n\n%s", root, sig);
    buf[1] = '\0';
    CHECK_RC(egide_checkpoint_parse(buf, 60, &cp), EGIDE_ERR_PROTO);
    /* Too many signature lines, too long. */
    size_t off = (size_t)snprintf(buf, sizeof buf, "o\n7\n%s\n\n", root);
    for (int i = 0; i < 17; i++)
        off += (size_t)snprintf(buf + off, sizeof buf - off, "%s", sig);
    CHECK_RC(egide_checkpoint_parse(buf, strlen(buf), &cp), EGIDE_ERR_PROTO);
    char *big = calloc(1, EGIDE_CHECKPOINT_MAX_NOTE + 2);
    memset(big, 'a', EGIDE_CHECKPOINT_MAX_NOTE + 1);
    CHECK_RC(egide_checkpoint_parse(big, EGIDE_CHECKPOINT_MAX_NOTE + 1, &cp), EGIDE_ERR_LIMIT);
    free(big);
    CHECK_RC(egide_checkpoint_parse(NULL, 0, &cp), EGIDE_ERR_INVALID);
}

static void test_witness(void)
{
    egide_merkle_mem_t *a = egide_merkle_mem_new(), *b = egide_merkle_mem_new();
    for (int i = 0; i < 20; i++) {
        char leaf[16];
        snprintf(leaf, sizeof leaf, "e%d", i);
        egide_merkle_mem_append(a, leaf, strlen(leaf));
        if (i == 9) /* log b forks at index 9 */
            snprintf(leaf, sizeof leaf, "forged%d", i);
        egide_merkle_mem_append(b, leaf, strlen(leaf));
    }
    char *n0 = NULL, *n5 = NULL, *n12 = NULL, *n20 = NULL, *b20 = NULL, *b5 = NULL, *bad = NULL;
    REQUIRE(s_note(a, 0, s_key, &n0) == EGIDE_OK);
    REQUIRE(s_note(a, 5, s_key, &n5) == EGIDE_OK);
    REQUIRE(s_note(a, 12, s_key, &n12) == EGIDE_OK);
    REQUIRE(s_note(a, 20, s_key, &n20) == EGIDE_OK);
    REQUIRE(s_note(b, 20, s_key, &b20) == EGIDE_OK);
    REQUIRE(s_note(b, 5, s_key, &b5) == EGIDE_OK);
    REQUIRE(s_note(a, 20, s_other, &bad) == EGIDE_OK);

    uint8_t(*p)[32] = NULL;
    size_t n = 0;
    egide_checkpoint_t cp;
    /* Nothing trusted yet: signature only, no proof. */
    CHECK_RC(egide_witness_check(NULL, 0, n5, strlen(n5), NAME, s_key, NULL, 0, &cp), EGIDE_OK);
    CHECK(cp.size == 5);
    CHECK_RC(egide_witness_check(NULL, 0, bad, strlen(bad), NAME, s_key, NULL, 0, NULL),
             EGIDE_ERR_SIGNATURE);
    CHECK_RC(egide_witness_check(NULL, 0, "garbage", 7, NAME, s_key, NULL, 0, NULL),
             EGIDE_ERR_SIGNATURE);
    /* From the empty tree: anything, with an empty proof. */
    CHECK_RC(egide_witness_check(n0, strlen(n0), n12, strlen(n12), NAME, s_key, NULL, 0, NULL),
             EGIDE_OK);
    /* 5 -> 12 -> 20 on the honest log. */
    REQUIRE(egide_merkle_consistency_proof(egide_merkle_mem_reader, a, 5, 12, &p, &n) == EGIDE_OK);
    CHECK_RC(egide_witness_check(n5, strlen(n5), n12, strlen(n12), NAME, s_key,
                                 (const uint8_t(*)[32])p, n, &cp),
             EGIDE_OK);
    CHECK(cp.size == 12);
    /* The same proof against a new note signed by someone else. */
    CHECK_RC(egide_witness_check(n5, strlen(n5), bad, strlen(bad), NAME, s_key,
                                 (const uint8_t(*)[32])p, n, NULL),
             EGIDE_ERR_SIGNATURE);
    free(p);
    REQUIRE(egide_merkle_consistency_proof(egide_merkle_mem_reader, a, 12, 20, &p, &n) == EGIDE_OK);
    CHECK_RC(egide_witness_check(n12, strlen(n12), n20, strlen(n20), NAME, s_key,
                                 (const uint8_t(*)[32])p, n, NULL),
             EGIDE_OK);
    /* The forked log's checkpoint with the honest proof, and with its own
     * proof: both fail (the fork rewrote index 9 < 12). */
    CHECK_RC(egide_witness_check(n12, strlen(n12), b20, strlen(b20), NAME, s_key,
                                 (const uint8_t(*)[32])p, n, NULL),
             EGIDE_ERR_CONSISTENCY);
    free(p);
    REQUIRE(egide_merkle_consistency_proof(egide_merkle_mem_reader, b, 12, 20, &p, &n) == EGIDE_OK);
    CHECK_RC(egide_witness_check(n12, strlen(n12), b20, strlen(b20), NAME, s_key,
                                 (const uint8_t(*)[32])p, n, NULL),
             EGIDE_ERR_CONSISTENCY);
    free(p);
    /* A fork after the trusted size is not a fork of anything it saw. */
    REQUIRE(egide_merkle_consistency_proof(egide_merkle_mem_reader, b, 5, 20, &p, &n) == EGIDE_OK);
    CHECK_RC(egide_witness_check(n5, strlen(n5), b20, strlen(b20), NAME, s_key,
                                 (const uint8_t(*)[32])p, n, NULL),
             EGIDE_OK);
    free(p);
    /* Smaller tree: version error.  Same size, other root: consistency. */
    CHECK_RC(egide_witness_check(n12, strlen(n12), n5, strlen(n5), NAME, s_key, NULL, 0, NULL),
             EGIDE_ERR_VERSION);
    CHECK_RC(egide_witness_check(n20, strlen(n20), b20, strlen(b20), NAME, s_key, NULL, 0, NULL),
             EGIDE_ERR_CONSISTENCY);
    CHECK_RC(egide_witness_check(n20, strlen(n20), n20, strlen(n20), NAME, s_key, NULL, 0, NULL),
             EGIDE_OK);
    /* Missing proof. */
    CHECK_RC(egide_witness_check(n5, strlen(n5), n20, strlen(n20), NAME, s_key, NULL, 0, NULL),
             EGIDE_ERR_CONSISTENCY);
    /* A trusted note that no longer verifies is the caller's problem. */
    CHECK_RC(egide_witness_check(bad, strlen(bad), n20, strlen(n20), NAME, s_key, NULL, 0, NULL),
             EGIDE_ERR_INVALID);
    CHECK_RC(egide_witness_check(NULL, 0, NULL, 0, NAME, s_key, NULL, 0, NULL), EGIDE_ERR_INVALID);
    free(n0);
    free(n5);
    free(n12);
    free(n20);
    free(b20);
    free(b5);
    free(bad);
    egide_merkle_mem_destroy(&a);
    egide_merkle_mem_destroy(&b);
}

int main(void)
{
    s_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    s_other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!s_key || !s_other)
        return 1;
    RUN(test_format);
    RUN(test_parse_strict);
    RUN(test_witness);
    EVP_PKEY_free(s_key);
    EVP_PKEY_free(s_other);
    EGIDE_TEST_DONE();
}
