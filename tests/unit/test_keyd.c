/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_keyd.c - the key holder (egide_keyd.h) with the real egide-keyd
 * binary: signatures and DH through it equal the same key's inline ones, an
 * envelope sealed to a held encryption key opens, malformed requests end
 * the holder (the client answers EGIDE_ERR_UNAVAILABLE and starts it again
 * on the next call, a bounded number of times), a killed holder is replaced
 * before the next request, one that stops answering is killed (the call
 * fails as transient, it does not hang), a holder restarted with other keys is not used,
 * key files with open permissions or of the wrong type are refused, and the
 * sandbox makes socket(2), open(2) and execve(2) fail.  Keys are made at run
 * time with the openssl command in a mkdtemp directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <openssl/evp.h>

#include "egide/base/egide_limits.h"
#include "egide/base/egide_log.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/crypto/egide_hpke.h"
#include "egide/crypto/egide_keyd.h"
#include "egide/crypto/egide_pki.h"
#include "egide/protocol/egide_envelope.h"
#include "egide_test.h"

static char s_dir[256];
static char s_prog[512];
static char s_sign[300], s_enc[300], s_sign2[300];
static EVP_PKEY *s_sign_inline, *s_enc_inline;

static int s_sh(const char *cmd)
{
    int st = system(cmd);
    if (st != 0)
        fprintf(stderr, "command failed (%d): %s\n", st, cmd);
    return st;
}

static int s_setup(void)
{
    const char *bin = getenv("EGIDE_BIN");
    if (!bin)
        return -1;
    snprintf(s_prog, sizeof s_prog, "%s/egide-keyd", bin);
    snprintf(s_dir, sizeof s_dir, "/tmp/egide-test-keyd.XXXXXX");
    if (!mkdtemp(s_dir))
        return -1;
    snprintf(s_sign, sizeof s_sign, "%s/sign.key", s_dir);
    snprintf(s_enc, sizeof s_enc, "%s/enc.key", s_dir);
    snprintf(s_sign2, sizeof s_sign2, "%s/sign2.key", s_dir);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && umask 077 && openssl genpkey -algorithm ed25519 -out sign.key && "
             "openssl genpkey -algorithm ed25519 -out sign2.key && "
             "openssl genpkey -algorithm x25519 -out enc.key",
             s_dir);
    if (s_sh(cmd))
        return -1;
    if (egide_pki_load_key(s_sign, EGIDE_CERT_USE_SIGN, &s_sign_inline) ||
        egide_pki_load_key(s_enc, EGIDE_CERT_USE_ENC, &s_enc_inline))
        return -1;
    return 0;
}

static egide_keyd_t *s_new(void)
{
    const char *paths[EGIDE_KEYD_SLOTS] = {s_sign, s_enc};
    egide_keyd_t *k = NULL;
    egide_rc rc = egide_keyd_new(s_prog, paths, &k);
    if (rc)
        fprintf(stderr, "egide_keyd_new: %s\n", egide_strerror(rc));
    return k;
}

/* Signing through the holder: the same bytes as inline (Ed25519 is
 * deterministic), and they verify with the held key's public part. */
static void t_sign(void)
{
    egide_keyd_t *k = s_new();
    REQUIRE(k != NULL);
    CHECK(egide_keyd_pid(k) > 0);
    EVP_PKEY *held = NULL;
    REQUIRE(egide_keyd_key(k, EGIDE_KEYD_SLOT_SIGN, &held) == EGIDE_OK);
    CHECK(egide_key_is_held(held) == 1);
    CHECK(egide_key_is_held(s_sign_inline) == 0);
    CHECK(EVP_PKEY_get_id(held) == EVP_PKEY_ED25519);
    uint8_t a[32], b[32];
    CHECK(egide_key_raw_public(held, a) == EGIDE_OK);
    CHECK(egide_key_raw_public(s_sign_inline, b) == EGIDE_OK);
    CHECK(memcmp(a, b, 32) == 0);

    static const char msg[] = "a receipt body";
    uint8_t s1[64], s2[64];
    CHECK_RC(egide_sign_labeled(held, EGIDE_LABEL_RECEIPT, msg, sizeof msg, s1), EGIDE_OK);
    CHECK_RC(egide_sign_labeled(s_sign_inline, EGIDE_LABEL_RECEIPT, msg, sizeof msg, s2), EGIDE_OK);
    CHECK(memcmp(s1, s2, 64) == 0);
    CHECK_RC(egide_verify_labeled(held, EGIDE_LABEL_RECEIPT, msg, sizeof msg, s1, 64), EGIDE_OK);
    CHECK_RC(egide_verify_labeled(s_sign_inline, EGIDE_LABEL_ENVELOPE, msg, sizeof msg, s1, 64),
             EGIDE_ERR_SIGNATURE); /* the label is signed */
    s1[5] ^= 1;
    CHECK_RC(egide_verify_labeled(held, EGIDE_LABEL_RECEIPT, msg, sizeof msg, s1, 64),
             EGIDE_ERR_SIGNATURE);
    /* Raw (checkpoint notes), and an empty message. */
    CHECK_RC(egide_ed25519_sign(held, msg, sizeof msg, s1), EGIDE_OK);
    CHECK_RC(egide_ed25519_sign(s_sign_inline, msg, sizeof msg, s2), EGIDE_OK);
    CHECK(memcmp(s1, s2, 64) == 0);
    CHECK_RC(egide_ed25519_sign(held, NULL, 0, s1), EGIDE_OK);
    CHECK_RC(egide_ed25519_verify(s_sign_inline, NULL, 0, s1, 64), EGIDE_OK);
    /* Bad arguments are refused here, not sent. */
    pid_t pid = egide_keyd_pid(k);
    char label[EGIDE_KEYD_MAX_LABEL + 2];
    memset(label, 'a', sizeof label - 1);
    label[sizeof label - 1] = 0;
    CHECK_RC(egide_keyd_sign(k, EGIDE_KEYD_SLOT_SIGN, label, msg, 1, s1), EGIDE_ERR_LIMIT);
    CHECK_RC(egide_keyd_sign(k, EGIDE_KEYD_SLOT_SIGN, NULL, msg, EGIDE_KEYD_MAX_MSG + 1, s1),
             EGIDE_ERR_LIMIT);
    CHECK_RC(egide_keyd_sign(k, 7, NULL, msg, 1, s1), EGIDE_ERR_INVALID);
    CHECK_RC(egide_sign_labeled(held, NULL, msg, 1, s1), EGIDE_ERR_INVALID);
    /* The largest message goes through. */
    uint8_t *big = calloc(1, EGIDE_KEYD_MAX_MSG);
    REQUIRE(big != NULL);
    CHECK_RC(egide_keyd_sign(k, EGIDE_KEYD_SLOT_SIGN, NULL, big, EGIDE_KEYD_MAX_MSG, s1), EGIDE_OK);
    CHECK_RC(egide_ed25519_verify(s_sign_inline, big, EGIDE_KEYD_MAX_MSG, s1, 64), EGIDE_OK);
    free(big);
    CHECK(egide_keyd_pid(k) == pid);
    CHECK(egide_keyd_starts(k) == 1);
    /* The signing slot does no DH, and the encryption key does not sign:
     * both are malformed requests, which end the holder. */
    uint8_t peer[32] = {9}, out[32];
    CHECK_RC(egide_keyd_dh(k, EGIDE_KEYD_SLOT_SIGN, peer, out), EGIDE_ERR_UNAVAILABLE);
    CHECK_RC(egide_keyd_sign(k, EGIDE_KEYD_SLOT_ENC, NULL, msg, 1, s1), EGIDE_ERR_UNAVAILABLE);
    CHECK_RC(egide_sign_labeled(held, EGIDE_LABEL_RECEIPT, msg, sizeof msg, s1), EGIDE_OK);
    CHECK(egide_keyd_starts(k) == 3);
    EVP_PKEY_free(held);
    egide_keyd_destroy(&k);
    CHECK(k == NULL);
    egide_keyd_destroy(&k); /* idempotent */
    egide_keyd_destroy(NULL);
}

/* X25519 through the holder equals the inline DH; a small-order point is
 * an answer (EGIDE_ERR_CRYPTO), not the end of the holder. */
static void t_dh(void)
{
    egide_keyd_t *k = s_new();
    REQUIRE(k != NULL);
    EVP_PKEY *held = NULL, *eph = NULL;
    REQUIRE(egide_keyd_key(k, EGIDE_KEYD_SLOT_ENC, &held) == EGIDE_OK);
    CHECK(EVP_PKEY_get_id(held) == EVP_PKEY_X25519);
    EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);
    REQUIRE(kc && EVP_PKEY_keygen_init(kc) == 1 && EVP_PKEY_keygen(kc, &eph) == 1);
    EVP_PKEY_CTX_free(kc);
    uint8_t peer[32], via[32], local[32];
    size_t len = 32;
    REQUIRE(egide_key_raw_public(eph, peer) == EGIDE_OK);
    CHECK_RC(egide_key_held_dh(held, peer, via), EGIDE_OK);
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(s_enc_inline, NULL);
    REQUIRE(c && EVP_PKEY_derive_init(c) == 1 && EVP_PKEY_derive_set_peer(c, eph) == 1 &&
            EVP_PKEY_derive(c, local, &len) == 1);
    EVP_PKEY_CTX_free(c);
    CHECK(memcmp(via, local, 32) == 0);
    /* The other side of the exchange agrees too. */
    uint8_t pub[32], theirs[32];
    EVP_PKEY *rpub = NULL;
    REQUIRE(egide_key_raw_public(held, pub) == EGIDE_OK);
    REQUIRE(egide_key_from_raw_public(EVP_PKEY_X25519, pub, &rpub) == EGIDE_OK);
    c = EVP_PKEY_CTX_new(eph, NULL);
    len = 32;
    REQUIRE(c && EVP_PKEY_derive_init(c) == 1 && EVP_PKEY_derive_set_peer(c, rpub) == 1 &&
            EVP_PKEY_derive(c, theirs, &len) == 1);
    EVP_PKEY_CTX_free(c);
    CHECK(memcmp(via, theirs, 32) == 0);
    pid_t pid = egide_keyd_pid(k);
    uint8_t zero[32] = {0};
    CHECK_RC(egide_keyd_dh(k, EGIDE_KEYD_SLOT_ENC, zero, via), EGIDE_ERR_CRYPTO);
    CHECK(egide_keyd_pid(k) == pid);
    CHECK_RC(egide_key_held_dh(s_enc_inline, peer, via), EGIDE_ERR_INVALID); /* not held */
    EVP_PKEY_free(rpub);
    EVP_PKEY_free(eph);
    EVP_PKEY_free(held);
    egide_keyd_destroy(&k);
}

/* An envelope sealed to the held encryption key opens through the holder;
 * one signed with the held signing key verifies. */
static void t_envelope(void)
{
    egide_keyd_t *k = s_new();
    REQUIRE(k != NULL);
    EVP_PKEY *hsign = NULL, *henc = NULL;
    REQUIRE(egide_keyd_key(k, EGIDE_KEYD_SLOT_SIGN, &hsign) == EGIDE_OK);
    REQUIRE(egide_keyd_key(k, EGIDE_KEYD_SLOT_ENC, &henc) == EGIDE_OK);
    uint8_t fpr[32];
    memset(fpr, 0x5a, sizeof fpr);
    egide_seal_recipient_t r = {"71.crip", henc, fpr};
    static const uint8_t payload[] = "{\"type\":\"test\"}";
    egide_seal_params_t p = {
        .sender_id = "fr.snated",
        .sign_key = hsign,
        .sign_cert_fpr = fpr,
        .recipients = &r,
        .n_recipients = 1,
        .message_type = "snated.transmission",
        .urgency = 1, /* EGIDE__V1__URGENCY__URGENCY_NORMAL */
        .sender_seq = 1,
        .created_ms = 1700000000000,
        .expires_ms = 1700000000000 + 86400000,
        .content_type = "application/json",
        .payload = payload,
        .payload_len = sizeof payload,
    };
    uint8_t *bytes = NULL;
    size_t len = 0;
    REQUIRE(egide_envelope_seal(&p, &bytes, &len, NULL) == EGIDE_OK);
    egide_envelope_t *env = NULL;
    REQUIRE(egide_envelope_parse(bytes, len, &env) == EGIDE_OK);
    CHECK_RC(egide_envelope_verify(env, s_sign_inline), EGIDE_OK);
    char *ctype = NULL;
    uint8_t *pt = NULL;
    size_t plen = 0;
    CHECK_RC(egide_envelope_open(env, "71.crip", henc, hsign, &ctype, &pt, &plen), EGIDE_OK);
    CHECK(plen == sizeof payload && pt && memcmp(pt, payload, plen) == 0);
    CHECK_STREQ(ctype, "application/json");
    free(ctype);
    free(pt);
    /* The inline key opens it the same. */
    CHECK_RC(egide_envelope_open(env, "71.crip", s_enc_inline, hsign, &ctype, &pt, &plen),
             EGIDE_OK);
    free(ctype);
    free(pt);
    /* A holder gone and not allowed back is transient, never DECRYPT: the
     * inbox keeps such a message for redelivery instead of refusing it. */
    for (int i = 0; i < EGIDE_KEYD_RESPAWN_MAX + 1; i++) {
        uint8_t bad[5] = {0, 0, 0, 1, 0x7f};
        (void)egide_keyd_send_raw(k, bad, sizeof bad, false);
    }
    CHECK(egide_keyd_starts(k) == EGIDE_KEYD_RESPAWN_MAX);
    CHECK_RC(egide_envelope_open(env, "71.crip", henc, hsign, &ctype, &pt, &plen),
             EGIDE_ERR_UNAVAILABLE);
    CHECK(pt == NULL);
    uint8_t *b2 = NULL;
    size_t l2 = 0;
    CHECK_RC(egide_envelope_seal(&p, &b2, &l2, NULL), EGIDE_ERR_UNAVAILABLE);
    CHECK(b2 == NULL);
    CHECK(egide_keyd_starts(k) == EGIDE_KEYD_RESPAWN_MAX); /* bounded: no start */
    egide_envelope_destroy(&env);
    free(bytes);
    EVP_PKEY_free(hsign);
    EVP_PKEY_free(henc);
    egide_keyd_destroy(&k);
}

/* Each malformed request ends the holder: the client answers
 * EGIDE_ERR_UNAVAILABLE, and the next call starts a new one. */
static void t_malformed(void)
{
    static const struct {
        const char *what;
        uint8_t bytes[12];
        size_t len;
        bool close;
    } cases[] = {
        {"unknown op", {0, 0, 0, 1, 0x7f}, 5, false},
        {"length 0", {0, 0, 0, 0}, 4, false},
        {"oversize length", {0xff, 0xff, 0xff, 0xff, EGIDE_KEYD_OP_SIGN}, 5, false},
        {"truncated frame", {0, 0, 0, 10, EGIDE_KEYD_OP_SIGN, 0}, 6, true},
        {"truncated length", {0, 0}, 2, true},
        {"PUBKEYS with a field", {0, 0, 0, 2, EGIDE_KEYD_OP_PUBKEYS, 0}, 6, false},
        {"DH too short", {0, 0, 0, 3, EGIDE_KEYD_OP_DH, EGIDE_KEYD_SLOT_ENC, 9}, 7, false},
        {"SIGN label past the end", {0, 0, 0, 4, EGIDE_KEYD_OP_SIGN, 0, 9, 'a'}, 8, false},
        {"SIGN label with a NUL", {0, 0, 0, 5, EGIDE_KEYD_OP_SIGN, 0, 2, 'a', 0}, 9, false},
        {"SIGN empty slot", {0, 0, 0, 4, EGIDE_KEYD_OP_SIGN, 5, 0, 'm'}, 8, false},
    };
    static const char msg[] = "after";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        egide_keyd_t *k = s_new();
        REQUIRE(k != NULL);
        pid_t before = egide_keyd_pid(k);
        egide_rc rc = egide_keyd_send_raw(k, cases[i].bytes, cases[i].len, cases[i].close);
        if (rc != EGIDE_ERR_UNAVAILABLE)
            fprintf(stderr, "case %s: %s\n", cases[i].what, egide_rc_name(rc));
        CHECK_RC(rc, EGIDE_ERR_UNAVAILABLE);
        CHECK(egide_keyd_pid(k) == 0); /* gone, reaped */
        CHECK(kill(before, 0) != 0);
        uint8_t sig[64];
        CHECK_RC(egide_keyd_sign(k, EGIDE_KEYD_SLOT_SIGN, "egide-test", msg, sizeof msg, sig),
                 EGIDE_OK);
        CHECK_RC(egide_verify_labeled(s_sign_inline, "egide-test", msg, sizeof msg, sig, 64),
                 EGIDE_OK);
        CHECK(egide_keyd_pid(k) > 0 && egide_keyd_pid(k) != before);
        CHECK(egide_keyd_starts(k) == 2);
        egide_keyd_destroy(&k);
    }
    /* A well-formed raw request is answered. */
    egide_keyd_t *k = s_new();
    REQUIRE(k != NULL);
    uint8_t pk[5] = {0, 0, 0, 1, EGIDE_KEYD_OP_PUBKEYS};
    CHECK_RC(egide_keyd_send_raw(k, pk, sizeof pk, false), EGIDE_OK);
    CHECK(egide_keyd_starts(k) == 1);
    egide_keyd_destroy(&k);
}

/* The server loop on its own: its exit status says how it ended. */
static int s_serve_with(const uint8_t *bytes, size_t len)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        EVP_PKEY *keys[EGIDE_KEYD_SLOTS] = {s_sign_inline, s_enc_inline};
        _exit(egide_keyd_serve(sv[1], keys));
    }
    close(sv[1]);
    ssize_t w = write(sv[0], bytes, len);
    (void)w;
    shutdown(sv[0], SHUT_WR);
    uint8_t buf[256];
    size_t got = 0;
    ssize_t r;
    while ((r = read(sv[0], buf + got, sizeof buf - got)) > 0 && got < sizeof buf)
        got += (size_t)r;
    close(sv[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1000;
}

static void t_server(void)
{
    uint8_t pubkeys[5] = {0, 0, 0, 1, EGIDE_KEYD_OP_PUBKEYS};
    CHECK(s_serve_with(pubkeys, 5) == 0); /* EOF between requests */
    CHECK(s_serve_with(NULL, 0) == 0);
    uint8_t bad_op[5] = {0, 0, 0, 1, 0};
    CHECK(s_serve_with(bad_op, 5) == EGIDE_ERR_PROTO);
    uint8_t huge[4] = {0x7f, 0, 0, 0};
    CHECK(s_serve_with(huge, 4) == EGIDE_ERR_PROTO);
    uint8_t cut[7] = {0, 0, 0, 40, EGIDE_KEYD_OP_DH, 1, 9};
    CHECK(s_serve_with(cut, 7) == EGIDE_ERR_IO);
    uint8_t half[9] = {0, 0, 0, 1, EGIDE_KEYD_OP_PUBKEYS, 0, 0};
    CHECK(s_serve_with(half, 7) == EGIDE_ERR_IO); /* a second header cut short */
    /* After a good request, a bad one still ends it. */
    uint8_t two[10] = {0, 0, 0, 1, EGIDE_KEYD_OP_PUBKEYS, 0, 0, 0, 1, 0x42};
    CHECK(s_serve_with(two, 10) == EGIDE_ERR_PROTO);
}

/* A killed holder is noticed and replaced before the next request. */
static void t_killed(void)
{
    egide_keyd_t *k = s_new();
    REQUIRE(k != NULL);
    pid_t pid = egide_keyd_pid(k);
    REQUIRE(pid > 0);
    REQUIRE(kill(pid, SIGKILL) == 0);
    /* Bounded wait for the kill to land (the holder's end closes). */
    for (int i = 0; i < 200 && kill(pid, 0) == 0; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            break;
        usleep(10000);
    }
    uint8_t sig[64];
    static const char msg[] = "x";
    CHECK_RC(egide_keyd_sign(k, EGIDE_KEYD_SLOT_SIGN, NULL, msg, 1, sig), EGIDE_OK);
    CHECK(egide_keyd_pid(k) != pid && egide_keyd_pid(k) > 0);
    CHECK(egide_keyd_starts(k) == 2);
    egide_keyd_destroy(&k);
    CHECK(kill(pid, 0) != 0);
}

/* A holder that stops answering (SIGSTOP) does not hang the daemon: the
 * request fails as transient once EGIDE_KEYD_TIMEOUT_MS is over, the holder
 * is killed, and the next call starts another. */
static void t_stopped(void)
{
    egide_keyd_t *k = s_new();
    REQUIRE(k != NULL);
    pid_t pid = egide_keyd_pid(k);
    REQUIRE(kill(pid, SIGSTOP) == 0);
    uint8_t sig[64];
    CHECK_RC(egide_keyd_sign(k, EGIDE_KEYD_SLOT_SIGN, NULL, "x", 1, sig), EGIDE_ERR_UNAVAILABLE);
    CHECK(egide_keyd_pid(k) == 0);
    CHECK(kill(pid, 0) != 0); /* killed and reaped */
    CHECK_RC(egide_keyd_sign(k, EGIDE_KEYD_SLOT_SIGN, NULL, "x", 1, sig), EGIDE_OK);
    CHECK_RC(egide_ed25519_verify(s_sign_inline, "x", 1, sig, 64), EGIDE_OK);
    egide_keyd_destroy(&k);
}

/* A holder that comes back with another key than the daemon started with
 * is not used: transient failures until the daemon is restarted. */
static void t_other_keys(void)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp -p '%s' '%s/sign.orig'", s_sign, s_dir);
    REQUIRE(s_sh(cmd) == 0);
    egide_keyd_t *k = s_new();
    REQUIRE(k != NULL);
    snprintf(cmd, sizeof cmd, "cp -p '%s' '%s'", s_sign2, s_sign);
    REQUIRE(s_sh(cmd) == 0);
    uint8_t bad[5] = {0, 0, 0, 1, 0x7f};
    CHECK_RC(egide_keyd_send_raw(k, bad, sizeof bad, false), EGIDE_ERR_UNAVAILABLE);
    uint8_t sig[64];
    CHECK_RC(egide_keyd_sign(k, EGIDE_KEYD_SLOT_SIGN, NULL, "x", 1, sig), EGIDE_ERR_UNAVAILABLE);
    CHECK(egide_keyd_pid(k) == 0);
    snprintf(cmd, sizeof cmd, "cp -p '%s/sign.orig' '%s'", s_dir, s_sign);
    REQUIRE(s_sh(cmd) == 0);
    CHECK_RC(egide_keyd_sign(k, EGIDE_KEYD_SLOT_SIGN, NULL, "x", 1, sig), EGIDE_OK);
    CHECK_RC(egide_ed25519_verify(s_sign_inline, "x", 1, sig, 64), EGIDE_OK);
    egide_keyd_destroy(&k);
}

/* The holder refuses what egide_key_load_private refuses, and says why by
 * its exit status. */
static void t_refused(void)
{
    egide_keyd_t *k = NULL;
    const char *paths[EGIDE_KEYD_SLOTS] = {s_sign, s_enc};
    REQUIRE(chmod(s_sign, 0640) == 0);
    CHECK_RC(egide_keyd_new(s_prog, paths, &k), EGIDE_ERR_PERM);
    CHECK(k == NULL);
    REQUIRE(chmod(s_sign, 0600) == 0);
    REQUIRE(chmod(s_enc, 0604) == 0);
    CHECK_RC(egide_keyd_new(s_prog, paths, &k), EGIDE_ERR_PERM);
    REQUIRE(chmod(s_enc, 0600) == 0);
    char missing[320];
    snprintf(missing, sizeof missing, "%s/none.key", s_dir);
    const char *p2[EGIDE_KEYD_SLOTS] = {missing, NULL};
    CHECK_RC(egide_keyd_new(s_prog, p2, &k), EGIDE_ERR_NOTFOUND);
    const char *p3[EGIDE_KEYD_SLOTS] = {s_enc, NULL}; /* an X25519 key to sign */
    CHECK_RC(egide_keyd_new(s_prog, p3, &k), EGIDE_ERR_CERT);
    char link[320];
    snprintf(link, sizeof link, "%s/link.key", s_dir);
    REQUIRE(symlink(s_sign, link) == 0);
    const char *p4[EGIDE_KEYD_SLOTS] = {link, NULL};
    CHECK_RC(egide_keyd_new(s_prog, p4, &k), EGIDE_ERR_PERM);
    const char *p5[EGIDE_KEYD_SLOTS] = {NULL, NULL};
    CHECK_RC(egide_keyd_new(s_prog, p5, &k), EGIDE_ERR_INVALID);
    CHECK_RC(egide_keyd_new("/nonexistent/egide-keyd", paths, &k), EGIDE_ERR_IO);
    CHECK(k == NULL);
    /* Only the signing slot (the broker). */
    const char *p6[EGIDE_KEYD_SLOTS] = {s_sign, NULL};
    REQUIRE(egide_keyd_new(s_prog, p6, &k) == EGIDE_OK);
    EVP_PKEY *enc = NULL;
    CHECK_RC(egide_keyd_key(k, EGIDE_KEYD_SLOT_ENC, &enc), EGIDE_ERR_NOTFOUND);
    CHECK(enc == NULL);
    egide_keyd_destroy(&k);
}

/* The daemons' start-up helper: process (held keys) or inline (local). */
static void t_load(void)
{
    egide_keyd_t *kd = NULL;
    EVP_PKEY *sk = NULL, *ek = NULL;
    CHECK_RC(egide_keyd_load("process", s_prog, s_sign, s_enc, &kd, &sk, &ek), EGIDE_OK);
    CHECK(kd != NULL && egide_key_is_held(sk) && egide_key_is_held(ek));
    EVP_PKEY_free(sk);
    EVP_PKEY_free(ek);
    egide_keyd_destroy(&kd);
    CHECK_RC(egide_keyd_load("inline", s_prog, s_sign, s_enc, &kd, &sk, &ek), EGIDE_OK);
    CHECK(kd == NULL && sk && ek && !egide_key_is_held(sk) && !egide_key_is_held(ek));
    EVP_PKEY_free(sk);
    EVP_PKEY_free(ek);
    CHECK_RC(egide_keyd_load("elsewhere", s_prog, s_sign, s_enc, &kd, &sk, &ek), EGIDE_ERR_CONFIG);
    REQUIRE(chmod(s_sign, 0644) == 0);
    CHECK_RC(egide_keyd_load("process", s_prog, s_sign, s_enc, &kd, &sk, &ek), EGIDE_ERR_PERM);
    CHECK(kd == NULL && sk == NULL && ek == NULL);
    CHECK_RC(egide_keyd_load("inline", s_prog, s_sign, s_enc, &kd, &sk, &ek), EGIDE_ERR_PERM);
    REQUIRE(chmod(s_sign, 0600) == 0);
}

/* The sandbox: no socket, no program, no file; what it keeps works. */
static void t_sandbox(void)
{
    int p[2];
    REQUIRE(pipe(p) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        int bits = 0;
        if (egide_keyd_sandbox() != EGIDE_OK)
            _exit(100);
        errno = 0;
        if (socket(AF_INET, SOCK_STREAM, 0) < 0 && errno == EPERM)
            bits |= 1;
        errno = 0;
        if (socket(AF_UNIX, SOCK_STREAM, 0) < 0 && errno == EPERM)
            bits |= 2;
        int sv[2];
        errno = 0;
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 && errno == EPERM)
            bits |= 4;
#if !defined(__SANITIZE_ADDRESS__) /* sanitizer builds deny the network only */
        char *const argv[] = {"/bin/true", NULL};
        errno = 0;
        if (execv("/bin/true", argv) < 0 && errno == EPERM)
            bits |= 8;
        errno = 0;
        if (open("/etc/hostname", O_RDONLY) < 0 && errno == EPERM)
            bits |= 16;
#endif
        /* Still allowed: writing on a descriptor it has, and memory. */
        void *m = malloc(1 << 20);
        if (m && write(p[1], "ok", 2) == 2)
            bits |= 32;
        free(m);
        _exit(bits);
    }
    close(p[1]);
    char buf[2] = {0};
    ssize_t r = read(p[0], buf, 2);
    close(p[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    REQUIRE(WIFEXITED(st));
    int bits = WEXITSTATUS(st);
    CHECK(bits != 100);
    CHECK(bits & 1);
    CHECK(bits & 2);
    CHECK(bits & 4);
    CHECK(bits & 32);
    CHECK(r == 2 && memcmp(buf, "ok", 2) == 0);
#if !defined(__SANITIZE_ADDRESS__)
    CHECK(bits & 8);
    CHECK(bits & 16);
#endif
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    egide_log_init("test_keyd", false, EGIDE_LOG_WARNING);
    if (s_setup() != 0) {
        fprintf(stderr, "setup failed (openssl command? EGIDE_BIN?)\n");
        return 1;
    }
    RUN(t_sign);
    RUN(t_dh);
    RUN(t_envelope);
    RUN(t_malformed);
    RUN(t_server);
    RUN(t_killed);
    RUN(t_stopped);
    RUN(t_other_keys);
    RUN(t_refused);
    RUN(t_load);
    RUN(t_sandbox);
    EVP_PKEY_free(s_sign_inline);
    EVP_PKEY_free(s_enc_inline);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    s_sh(cmd);
    EGIDE_TEST_DONE();
}
