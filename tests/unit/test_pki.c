/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_pki.c - unit tests for egide_pki against a development PKI made at
 * run time with certs/egide-pki.sh in a mkdtemp directory: chain + CRL
 * verification (good, revoked, expired, foreign CA, stale CRL), the explicit
 * verification time, key type / key usage / CN checks, trust store errors,
 * key loading with the 0600 rule, and the script's own layout promises.
 */
#include "egide/crypto/egide_crypto.h"
#include "egide/base/egide_limits.h"
#include "egide/crypto/egide_pki.h"
#include "egide/base/egide_rc.h"
#include "egide/base/egide_util.h"
#include "egide_test.h"

#include <sys/stat.h>
#include <unistd.h>

static char s_dir[256], s_pki[300], s_other[300];
static char s_root[400], s_chain[400], s_crl[400], s_issuing[400];
static egide_trust_t *s_trust;

static int s_run(const char *cmd)
{
    int st = system(cmd);
    if (st != 0)
        fprintf(stderr, "command failed (%d): %s\n", st, cmd);
    return st;
}

static X509 *s_cert(const char *pki, const char *id, const char *which)
{
    char p[512];
    snprintf(p, sizeof p, "%s/nodes/%s/%s.crt", pki, id, which);
    X509 *c = NULL;
    if (egide_cert_load(p, &c) != EGIDE_OK)
        fprintf(stderr, "cannot load %s\n", p);
    return c;
}

static int s_setup(void)
{
    const char *src = getenv("EGIDE_SOURCE_DIR"), *bin = getenv("EGIDE_BIN");
    if (!src || !bin)
        return -1;
    snprintf(s_dir, sizeof s_dir, "/tmp/egide-test-pki.XXXXXX");
    if (!mkdtemp(s_dir))
        return -1;
    snprintf(s_pki, sizeof s_pki, "%s/pki", s_dir);
    snprintf(s_other, sizeof s_other, "%s/other", s_dir);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "EGIDE='%s/egide' bash '%s/certs/egide-pki.sh' --days 30 --expired 71.old '%s' "
             "71.crip 71.rev 2>/dev/null && "
             "EGIDE='%s/egide' bash '%s/certs/egide-pki.sh' '%s' 71.late 2>/dev/null && "
             "bash '%s/certs/egide-pki.sh' --revoke '%s' 71.rev 2>/dev/null && "
             "EGIDE='%s/egide' bash '%s/certs/egide-pki.sh' '%s' 72.crip 2>/dev/null",
             bin, src, s_pki, bin, src, s_pki, src, s_pki, bin, src, s_other);
    if (s_run(cmd))
        return -1;
    snprintf(s_root, sizeof s_root, "%s/ca/root.crt", s_pki);
    snprintf(s_chain, sizeof s_chain, "%s/ca/chain.pem", s_pki);
    snprintf(s_crl, sizeof s_crl, "%s/ca/crl.pem", s_pki);
    snprintf(s_issuing, sizeof s_issuing, "%s/ca/issuing.crt", s_pki);
    return egide_trust_new(s_root, s_chain, s_crl, 0, &s_trust) == EGIDE_OK ? 0 : -1;
}

static void s_teardown(void)
{
    egide_trust_destroy(&s_trust);
    if (s_dir[0]) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
        s_run(cmd);
    }
}

static void test_layout(void)
{
    /* The files others code against, with their modes. */
    const char *pub[] = {"ca/root.crt",
                         "ca/issuing.crt",
                         "ca/chain.pem",
                         "ca/crl.pem",
                         "authority/authority.crt",
                         "nodes/71.crip/sign.crt",
                         "nodes/71.crip/enc.crt",
                         "nodes/71.crip/curve.public"};
    const char *sec[] = {"ca/root.key",
                         "ca/issuing.key",
                         "authority/authority.key",
                         "nodes/71.crip/sign.key",
                         "nodes/71.crip/enc.key",
                         "nodes/71.crip/curve.secret"};
    char p[512];
    struct stat st;
    for (size_t i = 0; i < sizeof pub / sizeof pub[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", s_pki, pub[i]);
        CHECK(stat(p, &st) == 0 && st.st_size > 0);
    }
    for (size_t i = 0; i < sizeof sec / sizeof sec[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", s_pki, sec[i]);
        CHECK(stat(p, &st) == 0 && (st.st_mode & 077) == 0);
        CHECK_RC(egide_file_check_secret(p), EGIDE_OK);
    }
    /* CURVE keys: 40 Z85 characters. */
    uint8_t *z = NULL;
    size_t zl = 0;
    snprintf(p, sizeof p, "%s/nodes/71.crip/curve.public", s_pki);
    CHECK(egide_file_read(p, 100, &z, &zl) == EGIDE_OK && zl == EGIDE_CURVE_KEY_Z85_LEN);
    free(z);
    /* chain.pem = issuing + root. */
    STACK_OF(X509) *sk = NULL;
    CHECK_RC(egide_pki_load_certs(s_chain, &sk), EGIDE_OK);
    CHECK(sk && sk_X509_num(sk) == 2);
    sk_X509_pop_free(sk, X509_free);
    /* The authority: CN=<dept>.directory-authority, digitalSignature, verifies. */
    X509 *a = NULL;
    snprintf(p, sizeof p, "%s/authority/authority.crt", s_pki);
    REQUIRE(egide_cert_load(p, &a) == EGIDE_OK);
    CHECK_RC(egide_trust_verify(s_trust, a, NULL, 0), EGIDE_OK);
    CHECK_RC(egide_pki_check_node_cert(a, EGIDE_CERT_USE_SIGN, "71.directory-authority"), EGIDE_OK);
    X509_free(a);
}

static void test_verify_good_and_checks(void)
{
    X509 *sign = s_cert(s_pki, "71.crip", "sign"), *enc = s_cert(s_pki, "71.crip", "enc");
    X509 *late = s_cert(s_pki, "71.late", "sign");
    REQUIRE(sign && enc && late);
    EVP_PKEY *pub = NULL;
    CHECK_RC(egide_trust_verify_node(s_trust, sign, EGIDE_CERT_USE_SIGN, "71.crip", 0, &pub),
             EGIDE_OK);
    CHECK(pub && EVP_PKEY_get_id(pub) == EVP_PKEY_ED25519);
    EVP_PKEY_free(pub);
    CHECK_RC(egide_trust_verify_node(s_trust, enc, EGIDE_CERT_USE_ENC, "71.crip", 0, &pub),
             EGIDE_OK);
    CHECK(pub && EVP_PKEY_get_id(pub) == EVP_PKEY_X25519);
    EVP_PKEY_free(pub);
    /* A node added by a second run of the script, same CAs. */
    CHECK_RC(egide_trust_verify_node(s_trust, late, EGIDE_CERT_USE_SIGN, "71.late", 0, NULL),
             EGIDE_OK);
    /* Wrong use, wrong name. */
    CHECK_RC(egide_trust_verify_node(s_trust, sign, EGIDE_CERT_USE_ENC, "71.crip", 0, &pub),
             EGIDE_ERR_CERT);
    CHECK(pub == NULL);
    CHECK_RC(egide_pki_check_node_cert(enc, EGIDE_CERT_USE_SIGN, "71.crip"), EGIDE_ERR_CERT);
    CHECK_RC(egide_pki_check_node_cert(sign, EGIDE_CERT_USE_SIGN, "71.cri"), EGIDE_ERR_CERT);
    CHECK_RC(egide_pki_check_node_cert(sign, EGIDE_CERT_USE_SIGN, "71.crip.x"), EGIDE_ERR_CERT);
    CHECK_RC(egide_pki_check_node_cert(sign, EGIDE_CERT_USE_SIGN, "71.late"), EGIDE_ERR_CERT);
    CHECK_RC(egide_pki_check_node_cert(sign, EGIDE_CERT_USE_SIGN, NULL), EGIDE_OK);
    /* A CA certificate is not a node certificate. */
    X509 *issuing = NULL;
    REQUIRE(egide_cert_load(s_issuing, &issuing) == EGIDE_OK);
    CHECK_RC(egide_trust_verify(s_trust, issuing, NULL, 0), EGIDE_OK);
    CHECK_RC(egide_pki_check_node_cert(issuing, EGIDE_CERT_USE_SIGN, NULL), EGIDE_ERR_CERT);
    /* CN and public key accessors. */
    char cn[EGIDE_MAX_NODE_ID + 1], tiny[4];
    CHECK_RC(egide_pki_cert_cn(sign, cn, sizeof cn), EGIDE_OK);
    CHECK_STREQ(cn, "71.crip");
    CHECK_RC(egide_pki_cert_cn(sign, tiny, sizeof tiny), EGIDE_ERR_LIMIT);
    CHECK_RC(egide_pki_cert_pubkey(enc, EGIDE_CERT_USE_SIGN, &pub), EGIDE_ERR_CERT);
    CHECK(pub == NULL);
    /* Without the issuing CA in the store, only an extra chain makes it verify. */
    egide_trust_t *bare = NULL;
    CHECK_RC(egide_trust_new(s_root, NULL, s_crl, 0, &bare), EGIDE_OK);
    CHECK_RC(egide_trust_verify(bare, sign, NULL, 0), EGIDE_ERR_CERT);
    STACK_OF(X509) *extra = sk_X509_new_null();
    sk_X509_push(extra, issuing);
    CHECK_RC(egide_trust_verify(bare, sign, extra, 0), EGIDE_OK);
    sk_X509_free(extra);
    egide_trust_destroy(&bare);
    X509_free(issuing);
    X509_free(sign);
    X509_free(enc);
    X509_free(late);
}

static void test_revoked_expired_foreign(void)
{
    X509 *rs = s_cert(s_pki, "71.rev", "sign"), *re = s_cert(s_pki, "71.rev", "enc");
    X509 *os = s_cert(s_pki, "71.old", "sign"), *oe = s_cert(s_pki, "71.old", "enc");
    X509 *fs = s_cert(s_other, "72.crip", "sign"), *good = s_cert(s_pki, "71.crip", "sign");
    REQUIRE(rs && re && os && oe && fs && good);
    CHECK_RC(egide_trust_verify(s_trust, rs, NULL, 0), EGIDE_ERR_REVOKED);
    CHECK_RC(egide_trust_verify(s_trust, re, NULL, 0), EGIDE_ERR_REVOKED);
    CHECK_RC(egide_trust_verify(s_trust, os, NULL, 0), EGIDE_ERR_EXPIRED);
    CHECK_RC(egide_trust_verify(s_trust, oe, NULL, 0), EGIDE_ERR_EXPIRED);
    CHECK_RC(egide_trust_verify(s_trust, fs, NULL, 0), EGIDE_ERR_CERT);
    CHECK_RC(egide_trust_verify_node(s_trust, fs, EGIDE_CERT_USE_SIGN, "72.crip", 0, NULL),
             EGIDE_ERR_CERT);
    /* The explicit time: the expired signing certificate was valid ten days
     * ago (its CAs and the CRL were too); a good one (--days 30) is expired
     * in 40 days, when the CRL is stale as well, and not yet valid 90 days ago. */
    int64_t now = egide_now_ms(), day = 24LL * 3600 * 1000;
    CHECK_RC(egide_trust_verify(s_trust, os, NULL, now - 10 * day), EGIDE_OK);
    CHECK_RC(egide_trust_verify(s_trust, good, NULL, now + 40 * day), EGIDE_ERR_EXPIRED);
    CHECK_RC(egide_trust_verify(s_trust, good, NULL, now - 90 * day), EGIDE_ERR_EXPIRED);
    CHECK_RC(egide_trust_verify(s_trust, good, NULL, now + 29 * day), EGIDE_OK);
    /* 71.late (825 days) in 40 days: valid, but the CRL is past its next
     * update, so revocation is unknown: refused. */
    X509 *late = s_cert(s_pki, "71.late", "sign");
    CHECK_RC(egide_trust_verify(s_trust, late, NULL, now + 40 * day), EGIDE_ERR_CERT);
    X509_free(late);
    /* A store without CRL (explicitly allowed) does not see revocation. */
    egide_trust_t *nocrl = NULL;
    CHECK_RC(egide_trust_new(s_root, s_chain, NULL, EGIDE_TRUST_NO_CRL, &nocrl), EGIDE_OK);
    CHECK_RC(egide_trust_verify(nocrl, rs, NULL, 0), EGIDE_OK);
    CHECK_RC(egide_trust_verify(nocrl, os, NULL, 0), EGIDE_ERR_EXPIRED);
    egide_trust_destroy(&nocrl);
    /* The foreign CA's own store accepts its node and refuses ours. */
    char root2[400], chain2[400], crl2[400];
    snprintf(root2, sizeof root2, "%s/ca/root.crt", s_other);
    snprintf(chain2, sizeof chain2, "%s/ca/chain.pem", s_other);
    snprintf(crl2, sizeof crl2, "%s/ca/crl.pem", s_other);
    egide_trust_t *t2 = NULL;
    CHECK_RC(egide_trust_new(root2, chain2, crl2, 0, &t2), EGIDE_OK);
    CHECK_RC(egide_trust_verify(t2, fs, NULL, 0), EGIDE_OK);
    CHECK_RC(egide_trust_verify(t2, good, NULL, 0), EGIDE_ERR_CERT);
    /* Our CRL in their store: the CRL's issuer is unknown, so no valid CRL. */
    egide_trust_t *mixed = NULL;
    CHECK_RC(egide_trust_new(root2, chain2, s_crl, 0, &mixed), EGIDE_OK);
    CHECK_RC(egide_trust_verify(mixed, fs, NULL, 0), EGIDE_ERR_CERT);
    egide_trust_destroy(&mixed);
    egide_trust_destroy(&t2);
    X509 *all[] = {rs, re, os, oe, fs, good};
    for (size_t i = 0; i < 6; i++)
        X509_free(all[i]);
}

static void test_trust_store_errors(void)
{
    egide_trust_t *t = (egide_trust_t *)1;
    CHECK_RC(egide_trust_new(s_root, s_chain, NULL, 0, &t), EGIDE_ERR_CONFIG);
    CHECK(t == NULL);
    char p[512];
    snprintf(p, sizeof p, "%s/missing.pem", s_dir);
    CHECK_RC(egide_trust_new(p, NULL, s_crl, 0, &t), EGIDE_ERR_NOTFOUND);
    snprintf(p, sizeof p, "%s/garbage.pem", s_dir);
    CHECK_RC(egide_file_write_atomic(p, "not a certificate\n", 18, 0644), EGIDE_OK);
    CHECK_RC(egide_trust_new(p, NULL, s_crl, 0, &t), EGIDE_ERR_CERT);
    CHECK_RC(egide_trust_new(s_root, NULL, p, 0, &t), EGIDE_ERR_PROTO);
    CHECK_RC(egide_trust_new(NULL, NULL, s_crl, 0, &t), EGIDE_ERR_INVALID);
    CHECK_RC(egide_trust_verify(NULL, NULL, NULL, 0), EGIDE_ERR_INVALID);
    egide_trust_destroy(&t);
    egide_trust_destroy(NULL);
}

static void test_private_keys(void)
{
    char p[512];
    EVP_PKEY *k = NULL;
    snprintf(p, sizeof p, "%s/nodes/71.crip/sign.key", s_pki);
    CHECK_RC(egide_pki_load_key(p, EGIDE_CERT_USE_SIGN, &k), EGIDE_OK);
    /* The key matches the certificate. */
    X509 *c = s_cert(s_pki, "71.crip", "sign");
    CHECK(k && c && EVP_PKEY_eq(k, X509_get0_pubkey(c)) == 1);
    X509_free(c);
    EVP_PKEY_free(k);
    CHECK_RC(egide_pki_load_key(p, EGIDE_CERT_USE_ENC, &k), EGIDE_ERR_CERT);
    CHECK(k == NULL);
    snprintf(p, sizeof p, "%s/nodes/71.crip/enc.key", s_pki);
    CHECK_RC(egide_pki_load_key(p, EGIDE_CERT_USE_ENC, &k), EGIDE_OK);
    EVP_PKEY_free(k);
    /* Readable by others: refused. */
    CHECK(chmod(p, 0640) == 0);
    CHECK_RC(egide_pki_load_key(p, EGIDE_CERT_USE_ENC, &k), EGIDE_ERR_PERM);
    CHECK(chmod(p, 0600) == 0);
}

static void test_script_revoke_and_rerun(void)
{
    /* Re-running with existing nodes changes nothing; an unknown node cannot
     * be revoked; a bad node id is refused. */
    const char *src = getenv("EGIDE_SOURCE_DIR"), *bin = getenv("EGIDE_BIN");
    char fpr1[32], fpr2[32], cmd[2048];
    X509 *c = s_cert(s_pki, "71.crip", "sign");
    REQUIRE(c && egide_cert_fingerprint(c, (uint8_t *)fpr1) == EGIDE_OK);
    X509_free(c);
    snprintf(cmd, sizeof cmd,
             "EGIDE='%s/egide' bash '%s/certs/egide-pki.sh' '%s' 71.crip 2>/dev/null", bin, src,
             s_pki);
    CHECK(s_run(cmd) == 0);
    c = s_cert(s_pki, "71.crip", "sign");
    REQUIRE(c && egide_cert_fingerprint(c, (uint8_t *)fpr2) == EGIDE_OK);
    X509_free(c);
    CHECK(memcmp(fpr1, fpr2, 32) == 0);
    snprintf(cmd, sizeof cmd, "bash '%s/certs/egide-pki.sh' --revoke '%s' 71.nobody 2>/dev/null",
             src, s_pki);
    CHECK(system(cmd) != 0);
    snprintf(cmd, sizeof cmd, "bash '%s/certs/egide-pki.sh' '%s' '../evil' 2>/dev/null", src,
             s_pki);
    CHECK(system(cmd) != 0);
}

int main(void)
{
    if (s_setup() != 0) {
        fprintf(stderr, "fixture: could not make the test PKI\n");
        s_teardown();
        return 1;
    }
    RUN(test_layout);
    RUN(test_verify_good_and_checks);
    RUN(test_revoked_expired_foreign);
    RUN(test_trust_store_errors);
    RUN(test_private_keys);
    RUN(test_script_revoke_and_rerun);
    s_teardown();
    EGIDE_TEST_DONE();
}
