/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_config_check.h - the deep checks of `egide-broker -n` and
 * `egide-edge -n` (as `nginx -t` and `postfix check` do): every file the
 * configuration names is opened and checked with the same loaders the
 * daemon uses at start, so a configuration -n accepts is one the daemon
 * starts with.  Each problem is one line on stderr naming the file:
 *   "egide-edge: signing key /etc/egide/keys/sign.key: mode 0644, must be 0600 (chmod 600)"
 * and is counted; the checks go on after a failure so that one run lists
 * every problem.  Warnings (a directory or certificate expiring within 7
 * days) are printed as "warning:" lines and not counted.
 */
#ifndef EGIDE_CONFIG_CHECK_H
#define EGIDE_CONFIG_CHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "egide/crypto/egide_pki.h"
#include "egide/directory/egide_directory.h"

/* Warn when the directory or a certificate expires within this long. */
#define EGIDE_CHECK_WARN_MS (7LL * 86400000LL)

typedef struct egide_check {
    const char *prog; /* "egide-broker": the first word of each line */
    int problems;     /* lines printed by egide_check_fail() so far */
    int64_t now_ms;   /* the time certificates and the directory are checked at */
    bool warn_only;   /* print problems as "warning:" lines, not counted */
} egide_check_t;

/* Print "prog: what path: problem" on stderr and count it (with warn_only:
 * "prog: warning: what path: problem", not counted). */
void egide_check_fail(egide_check_t *c, const char *what, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A secret file (key, token, CURVE secret) as egide_secret_open() accepts
 * it: exists, not a link, a regular file owned by the running user, no
 * group or other bit.  true when it is. */
bool egide_check_secret_file(egide_check_t *c, const char *what, const char *path);

/* A PEM private key for use: the secret-file checks, then parsed and of the
 * key type of use.  *out (may be NULL) gets the key on success. */
bool egide_check_private_key(egide_check_t *c, const char *what, const char *path,
                             egide_cert_use use, EVP_PKEY **out);

/* The trust store (root, chain, CRL) as the daemon builds it, and the CRL's
 * own dates (this update in the past, next update in the future).  NULL
 * after a problem (printed). */
egide_trust_t *egide_check_trust(egide_check_t *c, const char *root, const char *chain,
                                 const char *crl);

/* A node certificate: parses, is for use and names node_id, chains to the
 * root of trust (when not NULL) with its CRLs at now, is not expired, and
 * (when key is not NULL) holds key's public half.  *not_after_ms (may be
 * NULL) gets its end of validity when it parses. */
bool egide_check_node_cert(egide_check_t *c, const char *what, const char *path,
                           const egide_trust_t *trust, egide_cert_use use, const char *node_id,
                           EVP_PKEY *key, int64_t *not_after_ms);

/* The directory anchor: parses and is within its validity.  NULL after a
 * problem. */
X509 *egide_check_anchor(egide_check_t *c, const char *path);

/* The signed directory: signature under anchor, not expired, node_id
 * present.  The directory on success (the caller's), NULL otherwise. */
egide_directory_t *egide_check_directory(egide_check_t *c, const char *path, X509 *anchor,
                                         const char *node_id);

/* A file the daemon creates or opens for writing (a database): if it exists
 * a regular file, its directory exists and is writable. */
bool egide_check_writable(egide_check_t *c, const char *what, const char *path);

#endif
