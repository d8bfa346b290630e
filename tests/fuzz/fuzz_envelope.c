/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fuzz_envelope.c - libFuzzer target: arbitrary bytes through the whole
 * receiving path of egide_envelope (parse, header accessors, time rules,
 * signature and hash check, open for a fixed recipient).
 *
 * The recipient "71.fuzz" and the sender "71.fuzz-sender" have fixed keys
 * derived once at startup from public constants below (DeriveKeyPair of
 * HPKE for the X25519 key, SHA-256 of a label for the Ed25519 seed): they
 * are test constants, not secrets, and make runs deterministic.
 *
 * Built with -DEGIDE_FUZZ_GEN_MAIN this file is also the corpus generator:
 *   cc -DEGIDE_FUZZ_GEN_MAIN tests/fuzz/fuzz_envelope.c ... -o gen && ./gen DIR
 * writes valid envelopes sealed with these keys (so mutations reach the
 * decryption code) and truncated / garbage variants into DIR.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egide/crypto/egide_crypto.h"
#include "egide/protocol/egide_envelope.h"
#include "egide/crypto/egide_hpke.h"
#include "egide/base/egide_limits.h"
#include "egide/base/egide_util.h"

#define FUZZ_RECIPIENT "71.fuzz"
#define FUZZ_SENDER    "71.fuzz-sender"

static EVP_PKEY *s_recipient; /* X25519 private key of 71.fuzz */
static EVP_PKEY *s_sender;    /* Ed25519 private key of 71.fuzz-sender */
static EVP_PKEY *s_sender_pub;

static int s_init(void)
{
    if (s_recipient)
        return 0;
    static const char ikm[] = "egide fuzz recipient key material, public constant";
    uint8_t seed[32];
    egide_sha256("egide fuzz sender seed, public constant", 39, seed);
    if (egide_hpke_derive_keypair((const uint8_t *)ikm, sizeof ikm - 1, &s_recipient) != EGIDE_OK)
        return -1;
    s_sender = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof seed);
    uint8_t pub[32];
    if (!s_sender || egide_key_raw_public(s_sender, pub) != EGIDE_OK ||
        egide_key_from_raw_public(EVP_PKEY_ED25519, pub, &s_sender_pub) != EGIDE_OK)
        return -1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (s_init() != 0)
        abort(); /* the harness itself is broken, not the input */
    egide_envelope_t *e = NULL;
    if (egide_envelope_parse(data, size, &e) != EGIDE_OK)
        return 0;
    const Egide__V1__EnvelopeHeader *h = egide_envelope_header(e);
    uint8_t hash[32];
    egide_envelope_hash(e, hash);
    (void)egide_envelope_recipient_index(e, h->sender_id);
    (void)egide_envelope_check_time(e, h->created_ms, EGIDE_DEFAULT_CLOCK_SKEW_MS);
    (void)egide_envelope_verify(e, s_sender_pub);
    char *ct = NULL;
    uint8_t *pl = NULL;
    size_t pl_len = 0;
    if (egide_envelope_open(e, FUZZ_RECIPIENT, s_recipient, s_sender_pub, &ct, &pl, &pl_len) ==
        EGIDE_OK) {
        free(ct);
        egide_free_secret(pl, pl_len);
    }
    egide_envelope_destroy(&e);
    return 0;
}

#ifdef EGIDE_FUZZ_GEN_MAIN
/* ------------------------------------------------------------ corpus generator */

static int s_write(const char *dir, const char *name, const uint8_t *b, size_t n)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return egide_file_write_atomic(p, b, n, 0644) == EGIDE_OK ? 0 : -1;
}

static uint8_t *s_seal(const char **ids, size_t n, const char *body, int urgency, size_t *len)
{
    egide_seal_recipient_t r[8];
    EVP_PKEY *others[8] = {0};
    uint8_t fpr[32];
    egide_sha256("fuzz certificate", 16, fpr);
    for (size_t i = 0; i < n; i++) {
        r[i].node_id = ids[i];
        r[i].enc_cert_fpr = fpr;
        if (strcmp(ids[i], FUZZ_RECIPIENT) == 0) {
            r[i].enc_pub = s_recipient;
        } else {
            uint8_t ikm[32];
            egide_random(ikm, sizeof ikm); /* throwaway key, never written */
            egide_hpke_derive_keypair(ikm, sizeof ikm, &others[i]);
            r[i].enc_pub = others[i];
        }
    }
    egide_seal_params_t p = {
        .sender_id = FUZZ_SENDER,
        .sign_key = s_sender,
        .sign_cert_fpr = fpr,
        .recipients = r,
        .n_recipients = n,
        .message_type = "ip.transmission",
        .urgency = urgency,
        .sender_seq = 1,
        .content_type = "application/json",
        .payload = (const uint8_t *)body,
        .payload_len = strlen(body),
    };
    uint8_t *out = NULL;
    if (egide_envelope_seal(&p, &out, len, NULL) != EGIDE_OK)
        out = NULL;
    for (size_t i = 0; i < n; i++)
        EVP_PKEY_free(others[i]);
    return out;
}

int main(int argc, char **argv)
{
    if (argc != 2 || s_init() != 0) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    const char *one[] = {FUZZ_RECIPIENT};
    const char *three[] = {"71.crip", FUZZ_RECIPIENT, "71.tas.macon"};
    const char *notme[] = {"71.crip", "71.parquet"};
    size_t l1, l3, ln, le;
    uint8_t *v1 = s_seal(one, 1, "{\"commune\":\"71137\",\"age\":4}", 1, &l1);
    uint8_t *v3 = s_seal(three, 3, "{\"danger\":\"grave\"}", 3, &l3);
    uint8_t *vn = s_seal(notme, 2, "{}", 2, &ln);
    uint8_t *ve = s_seal(one, 1, "", 1, &le);
    if (!v1 || !v3 || !vn || !ve)
        return 1;
    int rc = 0;
    rc |= s_write(dir, "valid-1-recipient", v1, l1);
    rc |= s_write(dir, "valid-3-recipients-immediate", v3, l3);
    rc |= s_write(dir, "valid-not-addressed", vn, ln);
    rc |= s_write(dir, "valid-empty-payload", ve, le);
    rc |= s_write(dir, "truncated-half", v1, l1 / 2);
    rc |= s_write(dir, "truncated-no-signature", v1, l1 - 66);
    rc |= s_write(dir, "truncated-1-byte", v3, l3 - 1);
    uint8_t flip[4096];
    memcpy(flip, v1, l1 < sizeof flip ? l1 : sizeof flip);
    flip[l1 / 3] ^= 0x40;
    rc |= s_write(dir, "flipped-byte", flip, l1 < sizeof flip ? l1 : sizeof flip);
    uint8_t junk[256];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 131u + 7u);
    rc |= s_write(dir, "garbage", junk, sizeof junk);
    rc |= s_write(dir, "one-byte", (const uint8_t *)"\x0a", 1);
    /* A header length claiming far more than present. */
    rc |= s_write(dir, "huge-length", (const uint8_t *)"\x0a\xff\xff\xff\xff\x0f", 6);
    free(v1);
    free(v3);
    free(vn);
    free(ve);
    return rc ? 1 : 0;
}
#endif
