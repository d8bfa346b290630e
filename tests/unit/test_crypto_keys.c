/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_crypto_keys.c - egide_key_load_private: a good 0600 key loads and
 * signs; a symbolic link to one, group or other bits, another owner, a
 * directory, an oversized file, an encrypted key, text that is not a key are
 * refused with their codes; and the file checked is the file parsed: a file
 * swapped for a link to another key between the check and a second open by
 * name (what the loader did with fopen) is never read.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "egide/base/egide_limits.h"
#include "egide/base/egide_util.h"
#include "egide/crypto/egide_crypto.h"
#include "egide_test.h"

static char s_tmp[256];

/* Fault injection: when s_swap_path is set, opening it by name with fopen()
 * first replaces it by a symbolic link to s_swap_target, as an attacker
 * racing the loader between its permission check and its open would.  The
 * executable's fopen() takes the place of libc's for the library too. */
static const char *s_swap_path, *s_swap_target;
static int s_swapped;

FILE *fopen(const char *restrict path, const char *restrict mode)
{
    static FILE *(*real)(const char *, const char *);
    if (!real)
        real = (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, "fopen");
    if (s_swap_path && strcmp(path, s_swap_path) == 0) {
        s_swapped++;
        unlink(path);
        if (symlink(s_swap_target, path) != 0)
            perror("symlink");
    }
    return real ? real(path, mode) : NULL;
}

static void s_path(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", s_tmp, name);
}

/* Write data to name with mode (exclusive create); returns its path. */
static const char *s_write(const char *name, const void *data, size_t len, mode_t mode)
{
    static char p[512];
    s_path(p, sizeof p, name);
    unlink(p);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return NULL;
    bool ok = write(fd, data, len) == (ssize_t)len;
    close(fd);
    if (!ok || chmod(p, mode) != 0)
        return NULL;
    return p;
}

/* The PEM text of key (encrypted with "pw" when enc). */
static char *s_pem(EVP_PKEY *key, bool enc, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return NULL;
    int ok = enc ? PEM_write_bio_PrivateKey(b, key, EVP_aes_256_cbc(), (unsigned char *)"pw", 2,
                                            NULL, NULL)
                 : PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL);
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    char *out = ok && n > 0 ? malloc((size_t)n + 1) : NULL;
    if (out) {
        memcpy(out, data, (size_t)n);
        out[n] = '\0';
        *len = (size_t)n;
    }
    BIO_free(b);
    return out;
}

static bool s_signs(EVP_PKEY *k)
{
    uint8_t sig[64];
    const char msg[] = "referral 1";
    return egide_sign_labeled(k, "egide test", msg, sizeof msg, sig) == EGIDE_OK &&
           egide_verify_labeled(k, "egide test", msg, sizeof msg, sig, sizeof sig) == EGIDE_OK;
}

static void test_good_key(void)
{
    EVP_PKEY *gen = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    REQUIRE(gen != NULL);
    size_t len = 0;
    char *pem = s_pem(gen, false, &len);
    REQUIRE(pem != NULL);
    const char *p = s_write("good.key", pem, len, 0600);
    REQUIRE(p != NULL);
    EVP_PKEY *k = NULL;
    CHECK_RC(egide_key_load_private(p, &k), EGIDE_OK);
    CHECK(k && EVP_PKEY_eq(k, gen) == 1);
    CHECK(k && s_signs(k));
    EVP_PKEY_free(k);
    k = NULL;
    /* Read-only for the owner is fine; no final newline is fine. */
    CHECK(chmod(p, 0400) == 0);
    CHECK_RC(egide_key_load_private(p, &k), EGIDE_OK);
    EVP_PKEY_free(k);
    k = NULL;
    p = s_write("nonl.key", pem, len - 1, 0600);
    REQUIRE(p != NULL);
    CHECK_RC(egide_key_load_private(p, &k), EGIDE_OK);
    CHECK(k && EVP_PKEY_eq(k, gen) == 1);
    EVP_PKEY_free(k);
    /* An X25519 key too. */
    EVP_PKEY *x = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    char *xpem = s_pem(x, false, &len);
    REQUIRE(xpem != NULL);
    p = s_write("enc.key", xpem, len, 0600);
    k = NULL;
    CHECK_RC(egide_key_load_private(p, &k), EGIDE_OK);
    CHECK(k && EVP_PKEY_eq(k, x) == 1);
    EVP_PKEY_free(k);
    EVP_PKEY_free(x);
    free(xpem);
    free(pem);
    EVP_PKEY_free(gen);
}

/* Bad arguments (last: the loader used to write through out unchecked). */
static void test_arguments(void)
{
    char p[512];
    s_path(p, sizeof p, "good.key");
    CHECK_RC(egide_key_load_private(p, NULL), EGIDE_ERR_INVALID);
    EVP_PKEY *k = (EVP_PKEY *)1;
    CHECK_RC(egide_key_load_private(NULL, &k), EGIDE_ERR_INVALID);
    CHECK(k == NULL);
}

static void test_refused(void)
{
    EVP_PKEY *gen = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    REQUIRE(gen != NULL);
    size_t len = 0;
    char *pem = s_pem(gen, false, &len);
    REQUIRE(pem != NULL);
    char good[512], link[512], p[512];
    REQUIRE(s_write("target.key", pem, len, 0600) != NULL);
    s_path(good, sizeof good, "target.key");
    EVP_PKEY *k = (EVP_PKEY *)1;
    /* A symbolic link to a good 0600 key. */
    s_path(link, sizeof link, "link.key");
    unlink(link);
    REQUIRE(symlink(good, link) == 0);
    CHECK_RC(egide_key_load_private(link, &k), EGIDE_ERR_PERM);
    CHECK(k == NULL);
    /* Group or other bits. */
    const mode_t modes[] = {0644, 0640, 0604, 0660, 0602};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        REQUIRE(chmod(good, modes[i]) == 0);
        k = (EVP_PKEY *)1;
        CHECK_RC(egide_key_load_private(good, &k), EGIDE_ERR_PERM);
        CHECK(k == NULL);
    }
    REQUIRE(chmod(good, 0600) == 0);
    /* Another owner (only root can make one). */
    if (geteuid() == 0) {
        REQUIRE(chown(good, 65534, 65534) == 0);
        CHECK_RC(egide_key_load_private(good, &k), EGIDE_ERR_PERM);
        REQUIRE(chown(good, 0, 0) == 0);
    }
    /* Missing, a directory. */
    s_path(p, sizeof p, "missing.key");
    CHECK_RC(egide_key_load_private(p, &k), EGIDE_ERR_NOTFOUND);
    s_path(p, sizeof p, "dir.key");
    REQUIRE(mkdir(p, 0700) == 0);
    CHECK_RC(egide_key_load_private(p, &k), EGIDE_ERR_PERM);
    rmdir(p);
    /* Not a key, a public key only, an encrypted key (no passphrase asked). */
    const char *q = s_write("junk.key", "hello\n", 6, 0600);
    CHECK_RC(egide_key_load_private(q, &k), EGIDE_ERR_CRYPTO);
    q = s_write("empty.key", "", 0, 0600);
    CHECK_RC(egide_key_load_private(q, &k), EGIDE_ERR_CRYPTO);
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, gen);
    char *pub = NULL;
    long pn = BIO_get_mem_data(b, &pub);
    q = s_write("pub.key", pub, (size_t)pn, 0600);
    CHECK_RC(egide_key_load_private(q, &k), EGIDE_ERR_CRYPTO);
    BIO_free(b);
    size_t elen = 0;
    char *enc = s_pem(gen, true, &elen);
    REQUIRE(enc != NULL);
    q = s_write("crypted.key", enc, elen, 0600);
    CHECK_RC(egide_key_load_private(q, &k), EGIDE_ERR_CRYPTO);
    CHECK(k == NULL);
    free(enc);
    /* Larger than any key file. */
    size_t big = EGIDE_MAX_CERT_FILE + 1;
    char *pad = malloc(big);
    REQUIRE(pad != NULL);
    memset(pad, '\n', big);
    memcpy(pad, pem, len);
    q = s_write("big.key", pad, big, 0600);
    CHECK_RC(egide_key_load_private(q, &k), EGIDE_ERR_LIMIT);
    free(pad);
    free(pem);
    EVP_PKEY_free(gen);
}

/* The file checked is the file parsed: replacing the key by a link to the
 * attacker's own key between the check and a second open by name changes
 * nothing, because there is no second open. */
static void test_check_is_read(void)
{
    EVP_PKEY *mine = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_PKEY *theirs = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    REQUIRE(mine && theirs);
    size_t l1 = 0, l2 = 0;
    char *p1 = s_pem(mine, false, &l1), *p2 = s_pem(theirs, false, &l2);
    REQUIRE(p1 && p2);
    char path[512], attacker[512];
    REQUIRE(s_write("theirs.key", p2, l2, 0644) != NULL);
    s_path(attacker, sizeof attacker, "theirs.key");
    REQUIRE(s_write("mine.key", p1, l1, 0600) != NULL);
    s_path(path, sizeof path, "mine.key");
    s_swap_path = path;
    s_swap_target = attacker;
    s_swapped = 0;
    EVP_PKEY *k = NULL;
    egide_rc rc = egide_key_load_private(path, &k);
    s_swap_path = NULL;
    CHECK_RC(rc, EGIDE_OK);
    CHECK(s_swapped == 0);
    CHECK(k && EVP_PKEY_eq(k, mine) == 1);
    CHECK(!k || EVP_PKEY_eq(k, theirs) != 1);
    EVP_PKEY_free(k);
    free(p1);
    free(p2);
    EVP_PKEY_free(mine);
    EVP_PKEY_free(theirs);
}

int main(void)
{
    snprintf(s_tmp, sizeof s_tmp, "/tmp/egide-keys-XXXXXX");
    if (!mkdtemp(s_tmp))
        return 1;
    umask(077);
    RUN(test_good_key);
    RUN(test_refused);
    RUN(test_check_is_read);
    RUN(test_arguments);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", s_tmp);
    EGIDE_TEST_DONE();
}
