/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cli_crypto.c - `egide seal`, `egide open` and `egide pki`: offline sealed
 * envelopes and PKI helpers (CURVE key pairs, certificate fingerprints and
 * verification) on top of egide_envelope and egide_pki.
 *
 * Every failure is one line on stderr saying what failed ("egide: open:
 * sender certificate: certificate revoked") and a non-zero exit status: 1 for
 * a refused input, 2 for a usage error.  `open` exits 0 only when the sender's
 * certificate chain, revocation, signature, key commitment and decryption all
 * verify; plaintext is written 0600.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "egide/net/egide_transport.h"

#include "cli.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/protocol/egide_envelope.h"
#include "egide/base/egide_limits.h"
#include "egide/crypto/egide_pki.h"
#include "egide/base/egide_util.h"

/* ------------------------------------------------------------ seal */

static const cli_opt_t s_seal_opts[] = {
    {"--key", CLI_VALUE, "SIGNKEY", "the sender's Ed25519 signing key", true},
    {"--cert", CLI_VALUE, "SIGNCERT", "its certificate (CN = the sender's node id)", true},
    {"--to", CLI_LIST, "RCPTCERT", "a recipient's encryption certificate (CN = node id)", true},
    {"--type", CLI_VALUE, "TYPE", "message type", true},
    {"--in", CLI_VALUE, "FILE", "the payload", true},
    {"--out", CLI_VALUE, "FILE", "the sealed envelope", true},
    {"--content-type", CLI_VALUE, "CT", "payload type (default application/octet-stream)", false},
    {"--urgency", CLI_VALUE, "U", "normal, urgent or immediate", false},
    {"--seq", CLI_VALUE, "N", "the sender's sequence number", false},
    {"--reply-to", CLI_VALUE, "MSGID", "the message this one answers (32 hex digits)", false},
    {NULL, CLI_FLAG, NULL, NULL, false},
};
static const char s_about_seal[] =
    "Seal FILE for the recipients named by their encryption certificates; the sender\n"
    "id is the CN of SIGNCERT.  Prints the msg_id (hex).";
static const cli_cmd_t s_seal_cmd = CLI_CMD("seal", NULL, 0, 0, s_about_seal, s_seal_opts);

static int s_parse_urgency(const char *s)
{
    if (strcmp(s, "normal") == 0)
        return EGIDE__V1__URGENCY__URGENCY_NORMAL;
    if (strcmp(s, "urgent") == 0)
        return EGIDE__V1__URGENCY__URGENCY_URGENT;
    if (strcmp(s, "immediate") == 0)
        return EGIDE__V1__URGENCY__URGENCY_IMMEDIATE;
    return -1;
}

static int s_seal(const cli_args_t *args)
{
    const char *key_path = cli_get(args, "--key"), *cert_path = cli_get(args, "--cert");
    const char *type = cli_get(args, "--type"), *in = cli_get(args, "--in");
    const char *outp = cli_get(args, "--out"), *reply = cli_get(args, "--reply-to");
    const char *ctype = cli_get(args, "--content-type"), *v;
    if (!ctype)
        ctype = "application/octet-stream";
    const char *to[EGIDE_MAX_RECIPIENTS];
    size_t n_to = cli_list(args, "--to", to, EGIDE_MAX_RECIPIENTS);
    if (n_to > EGIDE_MAX_RECIPIENTS)
        return cli_fail("seal", "at most %u recipients", EGIDE_MAX_RECIPIENTS) + 1;
    int urgency = EGIDE__V1__URGENCY__URGENCY_NORMAL;
    if ((v = cli_get(args, "--urgency")) && (urgency = s_parse_urgency(v)) < 0)
        return cli_fail("seal", "--urgency: normal, urgent or immediate") + 1;
    int64_t seq = 0;
    if ((v = cli_get(args, "--seq")) && egide_parse_int64(v, 0, INT64_MAX, &seq) != EGIDE_OK)
        return cli_fail("seal", "--seq: not a number") + 1;
    int ret = 1;
    egide_rc rc;
    EVP_PKEY *sk = NULL, *cert_pub = NULL;
    X509 *cert = NULL;
    X509 *rcerts[EGIDE_MAX_RECIPIENTS] = {0};
    EVP_PKEY *rpubs[EGIDE_MAX_RECIPIENTS] = {0};
    uint8_t rfprs[EGIDE_MAX_RECIPIENTS][32];
    char rids[EGIDE_MAX_RECIPIENTS][EGIDE_MAX_NODE_ID + 1];
    egide_seal_recipient_t rcpts[EGIDE_MAX_RECIPIENTS];
    char sender[EGIDE_MAX_NODE_ID + 1];
    uint8_t fpr[32], reply_id[16], msg_id[16];
    uint8_t *body = NULL, *env = NULL;
    size_t body_len = 0, env_len = 0;

    if (reply && egide_hex_decode(reply, reply_id, sizeof reply_id) != EGIDE_OK) {
        cli_fail("seal", "--reply-to: 32 hex digits expected");
        goto done;
    }
    if ((rc = egide_pki_load_key(key_path, EGIDE_CERT_USE_SIGN, &sk))) {
        cli_fail_rc("seal", rc, "%s", key_path);
        goto done;
    }
    if ((rc = egide_cert_load(cert_path, &cert)) ||
        (rc = egide_pki_cert_cn(cert, sender, sizeof sender)) ||
        (rc = egide_pki_check_node_cert(cert, EGIDE_CERT_USE_SIGN, sender)) ||
        (rc = egide_cert_fingerprint(cert, fpr)) ||
        (rc = egide_pki_cert_pubkey(cert, EGIDE_CERT_USE_SIGN, &cert_pub))) {
        cli_fail_rc("seal", rc, "signing certificate %s", cert_path);
        goto done;
    }
    if (EVP_PKEY_eq(sk, cert_pub) != 1) {
        cli_fail("seal", "%s does not match the key in %s", key_path, cert_path);
        goto done;
    }
    for (size_t i = 0; i < n_to; i++) {
        if ((rc = egide_cert_load(to[i], &rcerts[i])) ||
            (rc = egide_pki_cert_cn(rcerts[i], rids[i], sizeof rids[i])) ||
            (rc = egide_pki_check_node_cert(rcerts[i], EGIDE_CERT_USE_ENC, rids[i])) ||
            (rc = egide_cert_fingerprint(rcerts[i], rfprs[i])) ||
            (rc = egide_pki_cert_pubkey(rcerts[i], EGIDE_CERT_USE_ENC, &rpubs[i]))) {
            cli_fail_rc("seal", rc, "recipient certificate %s", to[i]);
            goto done;
        }
        rcpts[i].node_id = rids[i];
        rcpts[i].enc_pub = rpubs[i];
        rcpts[i].enc_cert_fpr = rfprs[i];
    }
    if ((rc = egide_file_read(in, EGIDE_MAX_PAYLOAD, &body, &body_len))) {
        cli_fail_rc("seal", rc, "%s", in);
        goto done;
    }
    egide_seal_params_t p = {
        .sender_id = sender,
        .sign_key = sk,
        .sign_cert_fpr = fpr,
        .recipients = rcpts,
        .n_recipients = n_to,
        .message_type = type,
        .urgency = urgency,
        .in_reply_to = reply ? reply_id : NULL,
        .sender_seq = (uint64_t)seq,
        .content_type = ctype,
        .payload = body,
        .payload_len = body_len,
    };
    if ((rc = egide_envelope_seal(&p, &env, &env_len, msg_id))) {
        cli_fail_rc("seal", rc, "sealing failed (duplicate recipient, bad type or content type?)");
        goto done;
    }
    if ((rc = egide_file_write_atomic(outp, env, env_len, 0644))) {
        cli_fail_rc("seal", rc, "%s", outp);
        goto done;
    }
    char hex[33];
    egide_hex_encode(msg_id, 16, hex);
    (void)printf("%s\n", hex);
    ret = 0;
done:
    for (size_t i = 0; i < n_to; i++) {
        X509_free(rcerts[i]);
        EVP_PKEY_free(rpubs[i]);
    }
    EVP_PKEY_free(sk);
    EVP_PKEY_free(cert_pub);
    X509_free(cert);
    egide_free_secret(body, body_len);
    free(env);
    return ret;
}

const cli_entry_t cli_seal = {&s_seal_cmd, s_seal};

/* ------------------------------------------------------------ open */

static const cli_opt_t s_open_opts[] = {
    {"--key", CLI_VALUE, "ENCKEY", "the recipient's X25519 encryption key", true},
    {"--cert", CLI_VALUE, "ENCCERT", "its certificate (CN = the recipient's node id)", true},
    {"--ca", CLI_VALUE, "ROOTCERT", "the root CA", true},
    {"--chain", CLI_VALUE, "CHAIN", "intermediate certificates", false},
    {"--crl", CLI_VALUE, "CRL", "revocation list (without it revocation is not checked)", false},
    {"--sender-cert", CLI_VALUE, "SIGNCERT", "the sender's signing certificate", true},
    {"--in", CLI_VALUE, "FILE", "the sealed envelope", true},
    {"--out", CLI_VALUE, "FILE", "the payload (written 0600)", true},
    {NULL, CLI_FLAG, NULL, NULL, false},
};
static const char s_about_open[] =
    "Verify (sender chain and revocation, signature, key commitment) and decrypt an\n"
    "envelope addressed to the node of ENCCERT.  Prints sender, msg_id and type on\n"
    "stderr.";
static const cli_cmd_t s_open_cmd = CLI_CMD("open", NULL, 0, 0, s_about_open, s_open_opts);

static int s_open(const cli_args_t *args)
{
    const char *key_path = cli_get(args, "--key"), *cert_path = cli_get(args, "--cert");
    const char *ca = cli_get(args, "--ca"), *chain = cli_get(args, "--chain");
    const char *crl = cli_get(args, "--crl"), *scert_path = cli_get(args, "--sender-cert");
    const char *in = cli_get(args, "--in"), *outp = cli_get(args, "--out");
    int ret = 1;
    egide_rc rc;
    EVP_PKEY *my_key = NULL, *my_pub = NULL, *sender_pub = NULL;
    X509 *my_cert = NULL, *scert = NULL;
    egide_trust_t *trust = NULL;
    egide_envelope_t *env = NULL;
    uint8_t *raw = NULL, *payload = NULL;
    size_t raw_len = 0, payload_len = 0;
    char *ctype = NULL;
    char me[EGIDE_MAX_NODE_ID + 1];

    if ((rc = egide_pki_load_key(key_path, EGIDE_CERT_USE_ENC, &my_key))) {
        cli_fail_rc("open", rc, "%s", key_path);
        goto done;
    }
    if ((rc = egide_cert_load(cert_path, &my_cert)) ||
        (rc = egide_pki_cert_cn(my_cert, me, sizeof me)) ||
        (rc = egide_pki_cert_pubkey(my_cert, EGIDE_CERT_USE_ENC, &my_pub))) {
        cli_fail_rc("open", rc, "own certificate %s", cert_path);
        goto done;
    }
    if (EVP_PKEY_eq(my_key, my_pub) != 1) {
        cli_fail("open", "%s does not match the key in %s", key_path, cert_path);
        goto done;
    }
    if ((rc = egide_trust_new(ca, chain, crl, crl ? 0 : EGIDE_TRUST_NO_CRL, &trust))) {
        cli_fail_rc("open", rc, "trust store (--ca/--chain/--crl)");
        goto done;
    }
    /* 1. size limits and structure */
    rc = egide_file_read(in, EGIDE_MAX_ENVELOPE, &raw, &raw_len);
    if (rc) {
        cli_fail_rc("open", rc, "%s", in);
        goto done;
    }
    if ((rc = egide_envelope_parse(raw, raw_len, &env))) {
        cli_fail_rc("open", rc, "malformed envelope");
        goto done;
    }
    const Egide__V1__EnvelopeHeader *h = egide_envelope_header(env);
    /* 2. the sender's certificate: chain, revocation, use, name, fingerprint */
    if ((rc = egide_cert_load(scert_path, &scert))) {
        cli_fail_rc("open", rc, "sender certificate %s", scert_path);
        goto done;
    }
    if ((rc = egide_trust_verify_node(trust, scert, EGIDE_CERT_USE_SIGN, h->sender_id, 0,
                                      &sender_pub))) {
        cli_fail_rc("open", rc, "sender certificate");
        goto done;
    }
    if (egide_envelope_match_sender_cert(env, scert) != EGIDE_OK) {
        cli_fail("open", "sender certificate: not the one the envelope names");
        goto done;
    }
    /* 3. signature; 4. time rules (the offline tool has no sequence state) */
    if ((rc = egide_envelope_verify(env, sender_pub))) {
        cli_fail_rc("open", rc, "envelope");
        goto done;
    }
    if ((rc = egide_envelope_check_time(env, egide_now_ms(), EGIDE_DEFAULT_CLOCK_SKEW_MS))) {
        cli_fail_rc("open", rc, "message time");
        goto done;
    }
    /* 5-7. key commitment, decryption, payload */
    if ((rc = egide_envelope_open(env, me, my_key, sender_pub, &ctype, &payload, &payload_len))) {
        cli_fail_rc("open", rc, "envelope");
        goto done;
    }
    if ((rc = egide_file_write_atomic(outp, payload, payload_len, 0600))) {
        cli_fail_rc("open", rc, "%s", outp);
        goto done;
    }
    char hex[33];
    egide_hex_encode(h->msg_id.data, 16, hex);
    (void)fprintf(stderr, "sender %s\nmsg_id %s\ntype %s\ncontent-type %s\n", h->sender_id, hex,
                  h->message_type, ctype);
    /* Said after success only, so that a failure stays one line. */
    if (!crl)
        (void)fprintf(stderr, "egide: open: warning: no --crl given, revocation was not checked\n");
    ret = 0;
done:
    egide_free_secret(payload, payload_len);
    free(ctype);
    free(raw);
    egide_envelope_destroy(&env);
    egide_trust_destroy(&trust);
    EVP_PKEY_free(my_key);
    EVP_PKEY_free(my_pub);
    EVP_PKEY_free(sender_pub);
    X509_free(my_cert);
    X509_free(scert);
    return ret;
}

const cli_entry_t cli_open = {&s_open_cmd, s_open};

/* ------------------------------------------------------------ pki */

static const cli_opt_t s_keygen_opts[] = {
    {"--out-secret", CLI_VALUE, "FILE", "the secret key (written 0600, never overwritten)", true},
    {"--out-public", CLI_VALUE, "FILE", "the public key", true},
    {NULL, CLI_FLAG, NULL, NULL, false},
};
static const cli_opt_t s_verify_opts[] = {
    {"--ca", CLI_VALUE, "ROOT", "the root CA", true},
    {"--chain", CLI_VALUE, "CHAIN", "intermediate certificates", false},
    {"--crl", CLI_VALUE, "CRL", "revocation list", false},
    {"--use", CLI_VALUE, "USE", "sign or enc: check a node certificate for this use", false},
    {"--node", CLI_VALUE, "ID", "with --use: the node id it must name", false},
    {NULL, CLI_FLAG, NULL, NULL, false},
};
static const cli_opt_t s_no_opts[] = {{NULL, CLI_FLAG, NULL, NULL, false}};
static const char s_about_pki_verify[] = "Verify a certificate against the PKI.";
static const char s_about_pki_fingerprint[] = "Print the SHA-256 fingerprint of a certificate.";
static const char s_about_pki_curve_keygen[] = "Make a CURVE (ZeroMQ transport) key pair.";
static const cli_cmd_t s_pki_cmds[] = {
    CLI_CMD("pki curve-keygen", NULL, 0, 0, s_about_pki_curve_keygen, s_keygen_opts),
    CLI_CMD("pki fingerprint", "CERT", 1, 1, s_about_pki_fingerprint, s_no_opts),
    CLI_CMD("pki verify", "CERT", 1, 1, s_about_pki_verify, s_verify_opts),
};

static int s_curve_keygen(const cli_args_t *args)
{
    const char *sec = cli_get(args, "--out-secret"), *pub = cli_get(args, "--out-public");
    struct stat st;
    if (stat(sec, &st) == 0)
        return cli_fail("pki", "%s exists: not overwriting a secret key", sec);
    char zpub[41], zsec[41];
    egide_rc rc = egide_curve_keypair(zpub, zsec);
    if (rc)
        return cli_fail_rc("pki", rc, "making a CURVE key pair");
    rc = egide_file_write_atomic(sec, zsec, EGIDE_CURVE_KEY_Z85_LEN, 0600);
    egide_wipe(zsec, sizeof zsec);
    if (rc)
        return cli_fail_rc("pki", rc, "%s", sec);
    if ((rc = egide_file_write_atomic(pub, zpub, EGIDE_CURVE_KEY_Z85_LEN, 0644)))
        return cli_fail_rc("pki", rc, "%s", pub);
    return 0;
}

static int s_fingerprint(const cli_args_t *args)
{
    const char *path = args->pos[0];
    X509 *cert;
    uint8_t fpr[32];
    egide_rc rc = egide_cert_load(path, &cert);
    if (!rc) {
        rc = egide_cert_fingerprint(cert, fpr);
        X509_free(cert);
    }
    if (rc)
        return cli_fail_rc("pki", rc, "%s", path);
    char hex[65];
    egide_hex_encode(fpr, 32, hex);
    (void)printf("%s\n", hex);
    return 0;
}

static int s_verify(const cli_args_t *args)
{
    const char *ca = cli_get(args, "--ca"), *chain = cli_get(args, "--chain");
    const char *crl = cli_get(args, "--crl"), *node = cli_get(args, "--node");
    const char *u = cli_get(args, "--use");
    int use = 0;
    if (u) {
        use = strcmp(u, "sign") == 0  ? EGIDE_CERT_USE_SIGN
              : strcmp(u, "enc") == 0 ? EGIDE_CERT_USE_ENC
                                      : -1;
        if (use < 0)
            return cli_fail("pki", "--use: sign or enc") + 1;
    }
    const char *path = args->pos[0];
    egide_trust_t *t = NULL;
    X509 *cert = NULL;
    if (!crl)
        (void)fprintf(stderr, "egide: pki: warning: no --crl given, revocation is not checked\n");
    egide_rc rc = egide_trust_new(ca, chain, crl, crl ? 0 : EGIDE_TRUST_NO_CRL, &t);
    if (rc)
        return cli_fail_rc("pki", rc, "trust store");
    rc = egide_cert_load(path, &cert);
    if (!rc)
        rc = egide_trust_verify(t, cert, NULL, 0);
    if (!rc && use > 0)
        rc = egide_pki_check_node_cert(cert, (egide_cert_use)use, node);
    X509_free(cert);
    egide_trust_destroy(&t);
    if (rc)
        return cli_fail_rc("pki", rc, "%s", path);
    (void)printf("%s: OK\n", path);
    return 0;
}

int cmd_pki(int argc, char **argv)
{
    static int (*const fns[])(const cli_args_t *) = {s_curve_keygen, s_fingerprint, s_verify};
    size_t which = 0;
    cli_args_t args;
    int prc = cli_parse_sub("pki", NULL, s_pki_cmds, sizeof s_pki_cmds / sizeof s_pki_cmds[0], argc,
                            argv, &which, &args);
    if (prc)
        return prc == CLI_HELP ? 0 : prc;
    return fns[which](&args);
}
