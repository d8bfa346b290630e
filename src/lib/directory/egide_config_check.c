/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* egide_config_check.c - the deep checks of the daemons' -n (see egide_config_check.h). */
#include "egide/directory/egide_config_check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "egide/base/egide_date.h"
#include "egide/base/egide_limits.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/crypto/egide_crypto.h"

void egide_check_fail(egide_check_t *c, const char *what, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s%s%s%s: %s\n", c->prog, c->warn_only ? "warning: " : "", what,
            path ? " " : "", path ? path : "", msg);
    if (!c->warn_only)
        c->problems++;
}

static void s_warn(egide_check_t *c, const char *what, const char *path, int64_t not_after)
{
    char when[40] = "";
    egide_datetime_format(not_after, when, sizeof when);
    fprintf(stderr, "%s: warning: %s %s expires in %lld hours (%s)\n", c->prog, what, path,
            (long long)((not_after - c->now_ms) / 3600000), when);
}

/* Why a file egide_secret_open() refused with rc is refused, as one phrase. */
static void s_secret_problem(egide_check_t *c, const char *what, const char *path, egide_rc rc)
{
    struct stat st;
    if (rc == EGIDE_ERR_NOTFOUND) {
        egide_check_fail(c, what, path, "does not exist");
        return;
    }
    if (lstat(path, &st) != 0) {
        egide_check_fail(c, what, path, "cannot be examined: %s", strerror(errno));
        return;
    }
    if (S_ISLNK(st.st_mode))
        egide_check_fail(c, what, path,
                         "is a symbolic link (secret files are opened without "
                         "following links: point the configuration at the file)");
    else if (!S_ISREG(st.st_mode))
        egide_check_fail(c, what, path, "is not a regular file");
    else if (st.st_uid != geteuid())
        egide_check_fail(c, what, path,
                         "owned by uid %u, not by the user running the daemon (uid %u)",
                         (unsigned)st.st_uid, (unsigned)geteuid());
    else if (st.st_mode & (S_IRWXG | S_IRWXO))
        egide_check_fail(c, what, path, "mode %04o, must be 0600 (chmod 600)",
                         (unsigned)(st.st_mode & 07777));
    else if (rc == EGIDE_ERR_IO)
        egide_check_fail(c, what, path, "cannot be read: %s",
                         access(path, R_OK) != 0 ? strerror(errno) : "I/O error");
    else
        egide_check_fail(c, what, path, "%s", egide_strerror(rc));
}

bool egide_check_secret_file(egide_check_t *c, const char *what, const char *path)
{
    if (!path) {
        egide_check_fail(c, what, NULL, "not set");
        return false;
    }
    egide_rc rc = egide_file_check_secret(path);
    if (rc)
        s_secret_problem(c, what, path, rc);
    return rc == EGIDE_OK;
}

bool egide_check_private_key(egide_check_t *c, const char *what, const char *path,
                             egide_cert_use use, EVP_PKEY **out)
{
    if (out)
        *out = NULL;
    if (!egide_check_secret_file(c, what, path))
        return false;
    EVP_PKEY *k = NULL;
    egide_rc rc = egide_pki_load_key(path, use, &k);
    if (rc == EGIDE_ERR_CERT)
        egide_check_fail(c, what, path, "not an %s key",
                         use == EGIDE_CERT_USE_SIGN ? "Ed25519" : "X25519");
    else if (rc == EGIDE_ERR_CRYPTO)
        egide_check_fail(c, what, path, "not a PEM private key (or an encrypted one)");
    else if (rc)
        s_secret_problem(c, what, path, rc);
    if (rc)
        return false;
    if (out)
        *out = k;
    else
        EVP_PKEY_free(k);
    return true;
}

/* The file's CRLs: each parses, was issued in the past, is not stale. */
static bool s_check_crl_dates(egide_check_t *c, const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        egide_check_fail(c, "CRL", path, "cannot be read: %s", strerror(errno));
        return false;
    }
    bool ok = true;
    int n = 0;
    X509_CRL *crl;
    while (ok && (crl = PEM_read_X509_CRL(f, NULL, NULL, NULL)) != NULL) {
        int64_t last = 0, next = 0;
        char when[40] = "";
        n++;
        if (!egide_asn1_time_ms(X509_CRL_get0_lastUpdate(crl), &last)) {
            egide_check_fail(c, "CRL", path, "CRL %d has no valid issue date", n);
            ok = false;
        } else if (last > c->now_ms + EGIDE_DEFAULT_CLOCK_SKEW_MS) {
            egide_datetime_format(last, when, sizeof when);
            egide_check_fail(c, "CRL", path, "CRL %d is issued in the future (%s)", n, when);
            ok = false;
        } else if (!X509_CRL_get0_nextUpdate(crl) ||
                   !egide_asn1_time_ms(X509_CRL_get0_nextUpdate(crl), &next)) {
            egide_check_fail(c, "CRL", path, "CRL %d has no next-update date", n);
            ok = false;
        } else if (next < c->now_ms) {
            egide_datetime_format(next, when, sizeof when);
            egide_check_fail(c, "CRL", path, "CRL %d is stale: its next update was due %s", n,
                             when);
            ok = false;
        }
        X509_CRL_free(crl);
    }
    fclose(f);
    if (ok && n == 0) {
        egide_check_fail(c, "CRL", path, "holds no CRL");
        ok = false;
    }
    return ok;
}

static bool s_check_cert_file(egide_check_t *c, const char *what, const char *path)
{
    if (!path) {
        egide_check_fail(c, what, NULL, "not set");
        return false;
    }
    STACK_OF(X509) *s = NULL;
    egide_rc rc = egide_pki_load_certs(path, &s);
    if (s)
        sk_X509_pop_free(s, X509_free);
    if (rc == EGIDE_ERR_NOTFOUND)
        egide_check_fail(c, what, path, "does not exist");
    else if (rc)
        egide_check_fail(c, what, path, "not a PEM certificate file: %s", egide_strerror(rc));
    return rc == EGIDE_OK;
}

egide_trust_t *egide_check_trust(egide_check_t *c, const char *root, const char *chain,
                                 const char *crl)
{
    bool ok = s_check_cert_file(c, "root CA certificate", root);
    if (chain)
        ok = s_check_cert_file(c, "CA chain", chain) && ok;
    if (crl && access(crl, F_OK) != 0) {
        egide_check_fail(c, "CRL", crl, "does not exist");
        ok = false;
    } else if (crl) {
        ok = s_check_crl_dates(c, crl) && ok;
    }
    if (!ok)
        return NULL;
    egide_trust_t *t = NULL;
    egide_rc rc = egide_trust_new(root, chain, crl, crl ? 0 : EGIDE_TRUST_NO_CRL, &t);
    if (rc) {
        egide_check_fail(c, "trust store", root, "%s (root %s, chain %s, CRL %s)",
                         egide_strerror(rc), root, chain ? chain : "-", crl ? crl : "-");
        return NULL;
    }
    return t;
}

bool egide_check_node_cert(egide_check_t *c, const char *what, const char *path,
                           const egide_trust_t *trust, egide_cert_use use, const char *node_id,
                           EVP_PKEY *key, int64_t *not_after_ms)
{
    if (not_after_ms)
        *not_after_ms = 0;
    if (!path) {
        egide_check_fail(c, what, NULL, "not set");
        return false;
    }
    X509 *cert = NULL;
    egide_rc rc = egide_cert_load(path, &cert);
    if (rc) {
        egide_check_fail(c, what, path, "%s",
                         rc == EGIDE_ERR_NOTFOUND ? "does not exist" : "not a PEM certificate");
        return false;
    }
    bool ok = true;
    int64_t nb = 0, na = 0;
    char when[40] = "";
    if (!egide_asn1_time_ms(X509_get0_notBefore(cert), &nb) ||
        !egide_asn1_time_ms(X509_get0_notAfter(cert), &na)) {
        egide_check_fail(c, what, path, "has no valid validity dates");
        ok = false;
    } else if (na < c->now_ms) {
        egide_datetime_format(na, when, sizeof when);
        egide_check_fail(c, what, path, "expired on %s", when);
        ok = false;
    } else if (nb > c->now_ms) {
        egide_datetime_format(nb, when, sizeof when);
        egide_check_fail(c, what, path, "not valid before %s", when);
        ok = false;
    } else if (na - c->now_ms < EGIDE_CHECK_WARN_MS) {
        s_warn(c, what, path, na);
    }
    if (not_after_ms)
        *not_after_ms = na;
    if (ok && egide_pki_check_node_cert(cert, use, node_id) != EGIDE_OK) {
        char cn[128] = "?";
        egide_pki_cert_cn(cert, cn, sizeof cn);
        egide_check_fail(c, what, path,
                         "not a %s certificate of node %s (subject CN %s; wanted an %s key with "
                         "keyUsage %s, not a CA)",
                         use == EGIDE_CERT_USE_SIGN ? "signing" : "encryption", node_id, cn,
                         use == EGIDE_CERT_USE_SIGN ? "Ed25519" : "X25519",
                         use == EGIDE_CERT_USE_SIGN ? "digitalSignature" : "keyAgreement");
        ok = false;
    }
    if (ok && trust) {
        rc = egide_trust_verify(trust, cert, NULL, c->now_ms);
        if (rc) {
            egide_check_fail(
                c, what, path, "does not chain to the root CA: %s%s", egide_strerror(rc),
                rc == EGIDE_ERR_CERT ? " (unknown issuer, or a missing or stale CRL)" : "");
            ok = false;
        }
    }
    if (ok && key) {
        uint8_t a[32], b[32];
        EVP_PKEY *pub = X509_get0_pubkey(cert);
        if (!pub || egide_key_raw_public(pub, a) != EGIDE_OK ||
            egide_key_raw_public(key, b) != EGIDE_OK || memcmp(a, b, 32) != 0) {
            egide_check_fail(c, what, path, "does not hold the public half of the configured key");
            ok = false;
        }
    }
    X509_free(cert);
    return ok;
}

X509 *egide_check_anchor(egide_check_t *c, const char *path)
{
    X509 *a = NULL;
    egide_rc rc = path ? egide_cert_load(path, &a) : EGIDE_ERR_NOTFOUND;
    if (rc) {
        egide_check_fail(c, "directory anchor", path, "%s",
                         rc == EGIDE_ERR_NOTFOUND ? "does not exist" : "not a PEM certificate");
        return NULL;
    }
    int64_t nb = 0, na = 0;
    char when[40] = "";
    if (!egide_asn1_time_ms(X509_get0_notBefore(a), &nb) ||
        !egide_asn1_time_ms(X509_get0_notAfter(a), &na) || nb > c->now_ms) {
        egide_check_fail(c, "directory anchor", path, "not valid now");
    } else if (na < c->now_ms) {
        egide_datetime_format(na, when, sizeof when);
        egide_check_fail(c, "directory anchor", path, "expired on %s", when);
    } else {
        if (na - c->now_ms < EGIDE_CHECK_WARN_MS)
            s_warn(c, "directory anchor", path, na);
        return a;
    }
    X509_free(a);
    return NULL;
}

egide_directory_t *egide_check_directory(egide_check_t *c, const char *path, X509 *anchor,
                                         const char *node_id)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    egide_rc rc = egide_file_read(path, EGIDE_MAX_DIRECTORY, &bytes, &len);
    if (rc) {
        egide_check_fail(c, "directory", path, "%s",
                         rc == EGIDE_ERR_NOTFOUND ? "does not exist" : egide_strerror(rc));
        return NULL;
    }
    egide_directory_t *d = NULL;
    if (!anchor) {
        /* The anchor's own problem is printed: say what could not be done. */
        egide_check_fail(c, "directory", path, "signature not checked (no usable anchor)");
        free(bytes);
        return NULL;
    }
    rc = egide_directory_load(bytes, len, anchor, 0, c->now_ms, &d);
    if (rc == EGIDE_ERR_EXPIRED) {
        egide_directory_t *u = NULL;
        char when[40] = "?";
        if (egide_directory_load_untrusted(bytes, len, &u) == EGIDE_OK) {
            egide_datetime_format(egide_directory_not_after_ms(u), when, sizeof when);
            if (egide_directory_not_after_ms(u) >= c->now_ms)
                egide_strlcpy(when, "later: issued in the future", sizeof when);
        }
        egide_check_fail(c, "directory", path, "expired on %s (build and sign a new one)", when);
        egide_directory_destroy(&u);
    } else if (rc == EGIDE_ERR_SIGNATURE || rc == EGIDE_ERR_CERT) {
        egide_check_fail(c, "directory", path,
                         "not signed by the directory anchor (%s) or the anchor is not valid: %s",
                         "[directory_anchor]", egide_strerror(rc));
    } else if (rc) {
        egide_check_fail(c, "directory", path, "%s", egide_strerror(rc));
    }
    free(bytes);
    if (rc)
        return NULL;
    int64_t na = egide_directory_not_after_ms(d);
    if (na - c->now_ms < EGIDE_CHECK_WARN_MS)
        s_warn(c, "directory", path, na);
    if (node_id && !egide_directory_node(d, node_id)) {
        egide_check_fail(c, "directory", path, "v%llu does not list this node (%s)",
                         (unsigned long long)egide_directory_version(d), node_id);
        egide_directory_destroy(&d);
        return NULL;
    }
    return d;
}

bool egide_check_writable(egide_check_t *c, const char *what, const char *path)
{
    if (!path) {
        egide_check_fail(c, what, NULL, "not set");
        return false;
    }
    struct stat st;
    if (stat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode)) {
            egide_check_fail(c, what, path, "is not a regular file");
            return false;
        }
        if (access(path, R_OK | W_OK) != 0) {
            egide_check_fail(c, what, path, "cannot be opened for writing: %s", strerror(errno));
            return false;
        }
        return true;
    }
    char *dir = strdup(path);
    if (!dir) {
        egide_check_fail(c, what, path, "out of memory");
        return false;
    }
    char *slash = strrchr(dir, '/');
    const char *d = ".";
    if (slash) {
        *slash = '\0';
        d = slash == dir ? "/" : dir;
    }
    bool ok = true;
    if (stat(d, &st) != 0 || !S_ISDIR(st.st_mode)) {
        egide_check_fail(c, what, path, "its directory %s does not exist", d);
        ok = false;
    } else if (access(d, W_OK | X_OK) != 0) {
        egide_check_fail(c, what, path, "cannot be created: directory %s is not writable (%s)", d,
                         strerror(errno));
        ok = false;
    }
    free(dir);
    return ok;
}
