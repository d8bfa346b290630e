/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * keyd_main.c - egide-keyd: the key holder of one daemon.  Started by
 * egide-edge or egide-broker (fork + exec) with its socket on descriptor 3,
 * it reads the private keys named on its command line (with the same
 * permission checks as the daemons: a key readable by group or others is
 * refused), checks each works, closes every other descriptor, enters its
 * sandbox (egide_keyd_sandbox: no network, no program, no file), and answers
 * SIGN / DH / PUBKEYS until the daemon closes the socket.  Its exit status
 * is an egide_rc: the daemon reports why it did not start.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>
#include <sys/syscall.h>

#include "egide/base/egide_log.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/crypto/egide_keyd.h"
#include "egide/crypto/egide_pki.h"

static void s_usage(void)
{
    fprintf(stderr, "usage: egide-keyd [-s SIGN_KEY] [-e ENC_KEY] [-v]\n"
                    "Started by egide-edge and egide-broker ([keys] holder = process), with\n"
                    "its socket on descriptor 3; not meant to be run by hand.\n");
}

/* Each key does what it is for before the sandbox closes the file system
 * (OpenSSL fetches its algorithms on first use). */
static egide_rc s_self_test(EVP_PKEY *const keys[EGIDE_KEYD_SLOTS])
{
    static const char msg[] = "egide-keyd self-test";
    if (keys[EGIDE_KEYD_SLOT_SIGN]) {
        uint8_t sig[64];
        if (egide_sign_labeled(keys[EGIDE_KEYD_SLOT_SIGN], "egide-keyd-test", msg, sizeof msg,
                               sig) != EGIDE_OK ||
            egide_verify_labeled(keys[EGIDE_KEYD_SLOT_SIGN], "egide-keyd-test", msg, sizeof msg,
                                 sig, 64) != EGIDE_OK)
            return EGIDE_ERR_CRYPTO;
    }
    if (keys[EGIDE_KEYD_SLOT_ENC]) {
        static const uint8_t base[32] = {9};
        EVP_PKEY *pk = NULL;
        EVP_PKEY_CTX *c = NULL;
        uint8_t out[32];
        size_t len = sizeof out;
        egide_rc rc = egide_key_from_raw_public(EVP_PKEY_X25519, base, &pk);
        if (!rc && (!(c = EVP_PKEY_CTX_new(keys[EGIDE_KEYD_SLOT_ENC], NULL)) ||
                    EVP_PKEY_derive_init(c) != 1 || EVP_PKEY_derive_set_peer(c, pk) != 1 ||
                    EVP_PKEY_derive(c, out, &len) != 1))
            rc = EGIDE_ERR_CRYPTO;
        EVP_PKEY_CTX_free(c);
        EVP_PKEY_free(pk);
        OPENSSL_cleanse(out, sizeof out);
        if (rc)
            return rc;
    }
    return EGIDE_OK;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    const char *path[EGIDE_KEYD_SLOTS] = {NULL, NULL};
    egide_log_level level = EGIDE_LOG_NOTICE;
    int c;
    while ((c = getopt(argc, argv, "s:e:vh")) != -1) {
        switch (c) {
        case 's':
            path[EGIDE_KEYD_SLOT_SIGN] = optarg;
            break;
        case 'e':
            path[EGIDE_KEYD_SLOT_ENC] = optarg;
            break;
        case 'v':
            level = EGIDE_LOG_DEBUG;
            break;
        default:
            s_usage();
            return c == 'h' ? 0 : EGIDE_ERR_INVALID;
        }
    }
    egide_log_init("egide-keyd", false, level);
    struct stat st;
    if (optind != argc || (!path[0] && !path[1])) {
        s_usage();
        return EGIDE_ERR_INVALID;
    }
    if (fstat(EGIDE_KEYD_FD, &st) != 0 || !S_ISSOCK(st.st_mode)) {
        egide_log(EGIDE_LOG_ERROR,
                  "descriptor %d is not a socket: egide-keyd is started by "
                  "egide-edge or egide-broker",
                  EGIDE_KEYD_FD);
        return EGIDE_ERR_INVALID;
    }
    static const char *const what[EGIDE_KEYD_SLOTS] = {"signing key", "encryption key"};
    static const egide_cert_use use[EGIDE_KEYD_SLOTS] = {EGIDE_CERT_USE_SIGN, EGIDE_CERT_USE_ENC};
    EVP_PKEY *keys[EGIDE_KEYD_SLOTS] = {NULL, NULL};
    egide_rc rc = EGIDE_OK;
    for (int s = 0; !rc && s < EGIDE_KEYD_SLOTS; s++) {
        if (!path[s])
            continue;
        rc = egide_pki_load_key(path[s], use[s], &keys[s]);
        if (rc)
            egide_log(EGIDE_LOG_ERROR, "%s %s: %s%s", what[s], path[s], egide_strerror(rc),
                      rc == EGIDE_ERR_PERM ? " (chmod 600)" : "");
    }
    if (!rc && (rc = s_self_test(keys)) != EGIDE_OK)
        egide_log(EGIDE_LOG_ERROR, "a key does not work: %s", egide_strerror(rc));
    if (!rc) {
        /* Nothing but stderr (the daemon's log) and the socket. */
        close(STDIN_FILENO);
        close(STDOUT_FILENO);
#ifdef SYS_close_range
        if (syscall(SYS_close_range, EGIDE_KEYD_FD + 1, ~0U, 0) != 0)
#endif
            for (int fd = EGIDE_KEYD_FD + 1; fd < 1024; fd++)
                close(fd);
        rc = egide_keyd_sandbox();
        if (rc == EGIDE_ERR_INVALID) {
            egide_log(EGIDE_LOG_WARNING, "no seccomp filter on this architecture");
            rc = EGIDE_OK;
        } else if (rc) {
            egide_log_warn("seccomp filter refused by the kernel");
        }
    }
    int status = rc;
    if (!rc) {
        egide_log(EGIDE_LOG_INFO, "holding %s%s%s; sandboxed", path[0] ? "the signing key" : "",
                  path[0] && path[1] ? " and " : "", path[1] ? "the encryption key" : "");
        status = egide_keyd_serve(EGIDE_KEYD_FD, keys);
    }
    for (int s = 0; s < EGIDE_KEYD_SLOTS; s++)
        EVP_PKEY_free(keys[s]); /* OpenSSL wipes the private part */
    return status;
}
