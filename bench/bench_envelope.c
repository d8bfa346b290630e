/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * bench_envelope.c - seals and opens per second for a 4 KB payload with 1, 2
 * and 5 recipients, printed beside the cost of the primitives that bound them,
 * measured in the same run:
 *   seal floor = Ed25519 sign + n x (X25519 key generation + X25519 derive)
 *   open floor = Ed25519 verify + X25519 derive
 * and the ratio measured / floor (1.00 = nothing but the asymmetric work).
 *
 *   bench_envelope [ITERATIONS]   (default 2000 per measurement)
 *
 * Each figure is the fastest of 9 rounds, in CPU time of the thread, and the floor is measured
 * again beside each row, so that a busy machine distorts the ratio less.
 *
 * First, Ed25519's two backends (egide_ed25519_backend_set: OpenSSL 3.0 and
 * libsodium, the default) side by side in the same run: sign and verify of
 * a 700-byte message, seal and open with 2 recipients (bench_e2e's case),
 * and the ratio libsodium / OpenSSL; the table after runs on the default.
 *
 * Keys are generated in memory; nothing is written.  Never run as a test.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "egide/crypto/egide_crypto.h"
#include "egide/protocol/egide_envelope.h"
#include "egide/base/egide_util.h"

#define PAYLOAD_LEN 4096
#define MAX_N       5

/* This thread's CPU time: on a shared machine, time spent preempted by
 * other processes is not the operation's. */
static double s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static EVP_PKEY *s_keygen(int type)
{
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(type, NULL);
    if (c && EVP_PKEY_keygen_init(c) == 1)
        EVP_PKEY_keygen(c, &k);
    EVP_PKEY_CTX_free(c);
    return k;
}

static int s_derive(EVP_PKEY *sk, EVP_PKEY *pk, uint8_t out[32])
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(sk, NULL);
    size_t len = 32;
    int ok = c && EVP_PKEY_derive_init(c) == 1 && EVP_PKEY_derive_set_peer(c, pk) == 1 &&
             EVP_PKEY_derive(c, out, &len) == 1;
    EVP_PKEY_CTX_free(c);
    return ok ? 0 : -1;
}

/* What one measured operation needs. */
typedef struct {
    EVP_PKEY *sign;        /* sender Ed25519 key */
    EVP_PKEY *rk[MAX_N];   /* recipients' X25519 keys */
    egide_seal_params_t p; /* seal parameters (n recipients) */
    uint8_t *env;          /* last sealed envelope */
    size_t env_len;
    uint8_t msg[700], sig[64]; /* for the raw primitives */
    const char *me;            /* opener's node id */
    EVP_PKEY *my_key;          /* opener's key */
} bench_t;

typedef int (*op_fn)(bench_t *b);

static int s_op_sign(bench_t *b)
{
    return egide_sign_labeled(b->sign, EGIDE_LABEL_ENVELOPE, b->msg, sizeof b->msg, b->sig);
}

static int s_op_verify(bench_t *b)
{
    return egide_verify_labeled(b->sign, EGIDE_LABEL_ENVELOPE, b->msg, sizeof b->msg, b->sig, 64);
}

static int s_op_keygen(bench_t *b)
{
    (void)b;
    EVP_PKEY *k = s_keygen(EVP_PKEY_X25519);
    EVP_PKEY_free(k);
    return k ? 0 : -1;
}

static int s_op_derive(bench_t *b)
{
    uint8_t dh[32];
    return s_derive(b->rk[0], b->rk[1], dh);
}

static int s_op_seal(bench_t *b)
{
    free(b->env);
    b->env = NULL;
    return egide_envelope_seal(&b->p, &b->env, &b->env_len, NULL);
}

static int s_op_open(bench_t *b)
{
    egide_envelope_t *e = NULL;
    char *ct = NULL;
    uint8_t *pl = NULL;
    size_t pl_len = 0;
    egide_rc rc = egide_envelope_parse(b->env, b->env_len, &e);
    if (!rc)
        rc = egide_envelope_open(e, b->me, b->my_key, b->sign, &ct, &pl, &pl_len);
    free(ct);
    egide_free_secret(pl, pl_len);
    egide_envelope_destroy(&e);
    return rc;
}

#define ROUNDS 9

/* Microseconds per operation: the fastest of ROUNDS rounds of iters/ROUNDS
 * operations, so that other processes on the machine bias it less. */
static double s_measure(op_fn fn, bench_t *b, int64_t iters)
{
    int64_t per = iters / ROUNDS > 0 ? iters / ROUNDS : 1;
    double best = 1e30;
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = s_now_us();
        for (int64_t i = 0; i < per; i++)
            if (fn(b) != 0) {
                fprintf(stderr, "operation failed\n");
                exit(1);
            }
        double us = (s_now_us() - t0) / (double)per;
        if (us < best)
            best = us;
    }
    return best;
}

/* Sign, verify, seal and open (2 recipients) in us on each backend,
 * measured alternately (OpenSSL, libsodium, twice) and the faster kept. */
static void s_backends(bench_t *b, egide_seal_recipient_t *r, const uint8_t *fpr, char ids[][16],
                       const uint8_t *payload, int64_t iters)
{
    b->p = (egide_seal_params_t){
        .sender_id = "71.police",
        .sign_key = b->sign,
        .sign_cert_fpr = fpr,
        .recipients = r,
        .n_recipients = 2,
        .message_type = "ip.transmission",
        .urgency = 1,
        .content_type = "application/json",
        .payload = payload,
        .payload_len = PAYLOAD_LEN,
    };
    b->me = ids[1];
    b->my_key = b->rk[1];
    static const op_fn ops[4] = {s_op_sign, s_op_verify, s_op_seal, s_op_open};
    static const char *names[4] = {"ed25519 sign", "ed25519 verify", "seal (2 rcpts)", "open"};
    double us[2][4];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++)
            us[i][j] = 1e30;
    for (int pass = 0; pass < 2; pass++)
        for (int be = 0; be < 2; be++) {
            egide_ed25519_backend_set(be ? EGIDE_ED25519_SODIUM : EGIDE_ED25519_OPENSSL);
            s_op_sign(b); /* b->sig by this backend (they are the same bytes) */
            for (int j = 0; j < 4; j++) {
                double v = s_measure(ops[j], b, iters);
                if (v < us[be][j])
                    us[be][j] = v;
            }
        }
    egide_ed25519_backend_set(EGIDE_ED25519_SODIUM);
    printf("Ed25519 backend     openssl us  libsodium us  ratio\n");
    for (int j = 0; j < 4; j++)
        printf("%-18s %11.1f %13.1f %6.2f\n", names[j], us[0][j], us[1][j], us[1][j] / us[0][j]);
    printf("\n");
    free(b->env);
    b->env = NULL;
}

int main(int argc, char **argv)
{
    int64_t iters = 2000;
    if (argc > 1 && egide_parse_int64(argv[1], 10, 1000000, &iters) != EGIDE_OK) {
        fprintf(stderr, "usage: %s [ITERATIONS (10..1000000)]\n", argv[0]);
        return 2;
    }
    bench_t b;
    memset(&b, 0, sizeof b);
    b.sign = s_keygen(EVP_PKEY_ED25519);
    char ids[MAX_N][16];
    uint8_t fpr[32] = {1};
    egide_seal_recipient_t r[MAX_N];
    for (int i = 0; i < MAX_N; i++) {
        b.rk[i] = s_keygen(EVP_PKEY_X25519);
        snprintf(ids[i], sizeof ids[i], "71.node%d", i);
        r[i].node_id = ids[i];
        r[i].enc_pub = b.rk[i];
        r[i].enc_cert_fpr = fpr;
    }
    uint8_t *payload = malloc(PAYLOAD_LEN);
    if (!b.sign || !payload)
        return 1;
    egide_random(payload, PAYLOAD_LEN);
    egide_random(b.msg, sizeof b.msg);
    s_op_sign(&b);

    printf("4 KB payload, %lld operations per figure (fastest of %d rounds)\n", (long long)iters,
           ROUNDS);
    s_backends(&b, r, fpr, ids, payload, iters);
    printf("%-6s %9s %9s %9s %6s   %9s %9s %9s %6s   %s\n", "rcpts", "seal/s", "seal us",
           "floor us", "ratio", "open/s", "open us", "floor us", "ratio",
           "primitives us: sign verify x25519-keygen x25519-derive");
    const int ns[] = {1, 2, 5};
    for (int k = 0; k < 3; k++) {
        int n = ns[k];
        b.p = (egide_seal_params_t){
            .sender_id = "71.police",
            .sign_key = b.sign,
            .sign_cert_fpr = fpr,
            .recipients = r,
            .n_recipients = (size_t)n,
            .message_type = "ip.transmission",
            .urgency = 1,
            .content_type = "application/json",
            .payload = payload,
            .payload_len = PAYLOAD_LEN,
        };
        b.me = ids[n - 1];
        b.my_key = b.rk[n - 1];
        /* The floor is measured again for each row, next to what it bounds. */
        double us_sign = s_measure(s_op_sign, &b, iters);
        double us_verify = s_measure(s_op_verify, &b, iters);
        double us_kg = s_measure(s_op_keygen, &b, iters);
        double us_dh = s_measure(s_op_derive, &b, iters);
        double us_seal = s_measure(s_op_seal, &b, iters);
        double us_open = s_measure(s_op_open, &b, iters);
        double seal_floor = us_sign + n * (us_kg + us_dh), open_floor = us_verify + us_dh;
        printf("%-6d %9.0f %9.1f %9.1f %6.2f   %9.0f %9.1f %9.1f %6.2f   %.1f %.1f %.1f %.1f\n", n,
               1e6 / us_seal, us_seal, seal_floor, us_seal / seal_floor, 1e6 / us_open, us_open,
               open_floor, us_open / open_floor, us_sign, us_verify, us_kg, us_dh);
    }
    free(b.env);
    for (int i = 0; i < MAX_N; i++)
        EVP_PKEY_free(b.rk[i]);
    EVP_PKEY_free(b.sign);
    free(payload);
    return 0;
}
