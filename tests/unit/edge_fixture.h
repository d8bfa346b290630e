/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_fixture.h - what the edge's unit tests (test_edge_*.c) share to stand
 * up a real edge without a socket: a department's PKI and signed directory
 * made at run time by deploy/71/make-directory.sh in a temporary directory,
 * and the nodes' keys and certificates read from it.  Header-only: each test
 * program is one file.
 */
#ifndef EGIDE_EDGE_FIXTURE_H
#define EGIDE_EDGE_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <openssl/x509.h>

#include "egide/base/egide_util.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/crypto/egide_pki.h"

/* Run a shell command; its status, with a line on stderr when it failed. */
static inline int edge_fx_sh(const char *cmd)
{
    int st = system(cmd);
    if (st != 0)
        fprintf(stderr, "command failed (%d): %s\n", st, cmd);
    return st;
}

/* A fresh temporary directory from tmpl ("/tmp/egide-test-x.XXXXXX") into
 * dir, with the 71 PKI and signed directory in dir/pki.  0 or -1. */
static inline int edge_fx_make_pki(char *dir, size_t dirsz, const char *tmpl)
{
    const char *src = getenv("EGIDE_SOURCE_DIR"), *bin = getenv("EGIDE_BIN");
    if (!src || !bin || egide_strlcpy(dir, tmpl, dirsz) || !mkdtemp(dir))
        return -1;
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "EGIDE='%s/egide' bash '%s/deploy/71/make-directory.sh' '%s/pki' >/dev/null 2>&1", bin,
             src, dir);
    return edge_fx_sh(cmd) ? -1 : 0;
}

/* Node id's certificate dir/pki/nodes/<id>/<file>: its public key for use
 * (pub may be NULL) and its fingerprint (fpr may be NULL).  0 or -1. */
static inline int edge_fx_cert(const char *dir, const char *id, const char *file,
                               egide_cert_use use, EVP_PKEY **pub, uint8_t fpr[32])
{
    char p[512];
    snprintf(p, sizeof p, "%s/pki/nodes/%s/%s", dir, id, file);
    X509 *c = NULL;
    int rc = egide_cert_load(p, &c) || (fpr && egide_cert_fingerprint(c, fpr)) ||
             (pub && egide_pki_cert_pubkey(c, use, pub));
    X509_free(c);
    return rc ? -1 : 0;
}

/* Node id's private key dir/pki/nodes/<id>/<file> for use.  0 or -1. */
static inline int edge_fx_key(const char *dir, const char *id, const char *file, egide_cert_use use,
                              EVP_PKEY **out)
{
    char p[512];
    snprintf(p, sizeof p, "%s/pki/nodes/%s/%s", dir, id, file);
    return egide_pki_load_key(p, use, out) ? -1 : 0;
}

#endif
