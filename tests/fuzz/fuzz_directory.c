/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fuzz_directory.c - libFuzzer target for the directory decoder.
 *
 * Each input goes through every entry point that sees directory bytes:
 *   1. egide_directory_load with a pinned anchor (outer framing, size cap,
 *      signature refusal),
 *   2. egide_directory_load_untrusted (embedded-certificate path, which the
 *      seed corpus passes, so validation is reached),
 *   3. the input as a bare Directory through egide_directory_validate, and
 *   4. when the input wraps (or is) a Directory, that Directory re-signed
 *      with the fuzzer's own authority and loaded for real, then queried:
 *      every node by id and CURVE key, every commune and postal code through
 *      resolve, and check_send with each rule, so mutated content reaches the
 *      indexes and lookups, not just the signature check.
 * Work that cannot reach anything new is skipped (parsing the nodes'
 * certificates is most of the cost of an input, OpenSSL 3.0 being slow at
 * it): a bare Directory that egide_directory_validate refuses is not
 * re-signed (the load would refuse it at the same check), and a
 * SignedDirectory that step 2 already loaded is not re-signed (same content,
 * same indexes; the pinned-anchor load is reached by every mutated one).
 * The fuzzer's authority key comes from a fixed public seed: it protects
 * nothing, it only lets mutated content be signed.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "egide/domain/egide_catalogue.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/directory/egide_directory.h"
#include "egide/base/egide_limits.h"
#include "egide/base/egide_log.h"

static EVP_PKEY *s_key;
static X509 *s_cert;
static uint8_t *s_cert_der;
static size_t s_cert_len;

static void s_quiet(egide_log_level level, const char *line, void *arg)
{
    (void)level, (void)line, (void)arg;
}

static int s_init(void)
{
    if (s_key)
        return 0;
    egide_log_set_sink(s_quiet, NULL);
    static const uint8_t seed[32] = "egide fuzz authority, not secret";
    s_key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof seed);
    s_cert = X509_new();
    if (!s_key || !s_cert)
        return -1;
    X509_NAME *name = X509_NAME_new();
    if (!name ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                    (const unsigned char *)"fuzz-authority", -1, -1, 0) ||
        !X509_set_version(s_cert, 2) || !ASN1_INTEGER_set(X509_get_serialNumber(s_cert), 1) ||
        !ASN1_TIME_set_string(X509_getm_notBefore(s_cert), "19700101000000Z") ||
        !ASN1_TIME_set_string(X509_getm_notAfter(s_cert), "99991231235959Z") ||
        !X509_set_subject_name(s_cert, name) || !X509_set_issuer_name(s_cert, name) ||
        !X509_set_pubkey(s_cert, s_key) || X509_sign(s_cert, s_key, NULL) <= 0) {
        X509_NAME_free(name);
        return -1;
    }
    X509_NAME_free(name);
    return egide_cert_to_der(s_cert, &s_cert_der, &s_cert_len) == EGIDE_OK ? 0 : -1;
}

/* Query everything a loaded directory offers; the results are not checked
 * (the unit tests do that), the point is that nothing crashes or leaks. */
static void s_exercise(const egide_directory_t *d)
{
    const Egide__V1__Directory *p = egide_directory_pb(d);
    size_t blen = 0;
    (void)egide_directory_signed_bytes(d, &blen);
    (void)egide_directory_broker(d);
    (void)egide_directory_version(d);
    (void)egide_directory_department(d);
    for (size_t i = 0; i < p->n_nodes; i++) {
        (void)egide_directory_node(d, p->nodes[i]->id);
        (void)egide_directory_node_by_curve(d, p->nodes[i]->curve_public_key);
    }
    const char *ids[EGIDE_MAX_RECIPIENTS];
    for (size_t i = 0; i < p->n_routes && i < 64; i++) {
        const Egide__V1__RouteEntry *r = p->routes[i];
        const Egide__V1__RouteEntry *hits[8];
        for (size_t k = 0; k < r->n_postal_codes; k++)
            (void)egide_directory_postal_lookup(d, r->postal_codes[k], hits, 8);
        for (size_t k = 0; k < p->n_rules && k < 64; k++) {
            char **out = NULL;
            if (egide_directory_resolve(d, p->rules[k]->sender_role, p->rules[k]->message_type,
                                        r->commune, &out) == EGIDE_OK) {
                size_t n = 0;
                for (char **q = out; *q && n < EGIDE_MAX_RECIPIENTS; q++)
                    ids[n++] = *q;
                /* any node of the sender's role */
                for (size_t s = 0; s < p->n_nodes; s++)
                    if (strcmp(p->nodes[s]->role, p->rules[k]->sender_role) == 0) {
                        int reason;
                        (void)egide_directory_check_send(
                            d, p->nodes[s]->id, p->rules[k]->message_type, ids, n, &reason);
                        break;
                    }
            }
            egide_directory_ids_free(&out);
        }
    }
    int reason;
    (void)egide_directory_check_send(d, "71.crip", "ip.transmission", NULL, 0, &reason);
}

/* Sign dir_bytes with the fuzzer's authority and load them. */
static void s_resign_and_load(const uint8_t *dir_bytes, size_t len)
{
    if (len == 0 || len > EGIDE_MAX_DIRECTORY - 4096u)
        return;
    Egide__V1__Directory *dir = egide__v1__directory__unpack(NULL, len, dir_bytes);
    if (!dir)
        return;
    int64_t now = dir->issued_ms;
    egide__v1__directory__free_unpacked(dir, NULL);
    uint8_t sig[64];
    if (egide_sign_labeled(s_key, EGIDE_LABEL_DIRECTORY, dir_bytes, len, sig) != EGIDE_OK)
        return;
    Egide__V1__SignedDirectory sd = EGIDE__V1__SIGNED_DIRECTORY__INIT;
    sd.directory.data = (uint8_t *)dir_bytes;
    sd.directory.len = len;
    sd.authority_cert_der.data = s_cert_der;
    sd.authority_cert_der.len = s_cert_len;
    sd.signature.data = sig;
    sd.signature.len = sizeof sig;
    size_t slen = egide__v1__signed_directory__get_packed_size(&sd);
    uint8_t *sbuf = malloc(slen);
    if (!sbuf)
        return;
    egide__v1__signed_directory__pack(&sd, sbuf);
    egide_directory_t *d = NULL;
    if (egide_directory_load(sbuf, slen, s_cert, 0, now, &d) == EGIDE_OK) {
        s_exercise(d);
        egide_directory_destroy(&d);
    }
    free(sbuf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (s_init() != 0)
        abort(); /* the fixture itself failed: not an input problem */
    egide_directory_t *d = NULL;

    /* 1. pinned anchor */
    if (egide_directory_load(data, size, s_cert, 0, 0, &d) == EGIDE_OK) {
        s_exercise(d);
        egide_directory_destroy(&d);
    }
    /* 2. display path */
    bool loaded = false;
    if (egide_directory_load_untrusted(data, size, &d) == EGIDE_OK) {
        s_exercise(d);
        egide_directory_destroy(&d);
        loaded = true;
    }
    if (size > EGIDE_MAX_DIRECTORY)
        return 0;
    /* 3. the input as a bare Directory */
    Egide__V1__Directory *dir = egide__v1__directory__unpack(NULL, size, data);
    if (dir) {
        char err[256];
        egide_rc valid = egide_directory_validate(dir, err, sizeof err);
        egide__v1__directory__free_unpacked(dir, NULL);
        if (valid == EGIDE_OK)
            s_resign_and_load(data, size);
    }
    /* 4. the Directory inside a SignedDirectory, re-signed (unless step 2
     * loaded it: then its content is valid and already exercised) */
    if (loaded)
        return 0;
    Egide__V1__SignedDirectory *sd = egide__v1__signed_directory__unpack(NULL, size, data);
    if (sd) {
        s_resign_and_load(sd->directory.data, sd->directory.len);
        egide__v1__signed_directory__free_unpacked(sd, NULL);
    }
    return 0;
}
