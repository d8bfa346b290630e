/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_broker_admit.c - broker admission (broker_admit.h), table-driven: one
 * row per reason code the broker can give a submitted envelope, and one per
 * other verdict (accept, duplicate of an accepted or of a rejected envelope,
 * retry after a store failure).  Each row seals a real signed envelope with
 * keys of a PKI made at run time (certs/egide-pki.sh), against a directory
 * signed at run time (`egide directory build`) with a suspended node, an
 * expired and a revoked certificate and a node the directory does not list;
 * the store is a fresh SQLite store per row, prepared through its named
 * operations (an accepted twin, a remembered rejection, used sequences), and
 * for the retry rows a backend whose lookups fail.  Every row asserts the
 * verdict, the reason code, the detail and whether the rejection is to be
 * remembered.
 *
 * Then what the broker does with a decision (broker_handle_submit,
 * broker_handle_receipt, broker_commit) and its timers and acks
 * (broker_expire, broker_pump, broker_handle_ack), with store failures
 * injected: a failed accept, remembered rejection, commit, settling of a
 * delivery, expiry, redelivery or ack each leave nothing to send (no
 * ACCEPTED, no REJECTED, no relay, no Deliver) and nothing stored; the
 * daemon's next transaction works, and the retry is answered exactly once.
 */
#include "broker.h"
#include "broker_admit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>

#include "egide/audit/egide_auditverify.h"
#include "egide/base/egide_limits.h"
#include "egide/base/egide_rc.h"
#include "egide/base/egide_util.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/crypto/egide_pki.h"
#include "egide/protocol/egide_envelope.h"
#include "egide/protocol/egide_receipt.h"
#include "egide/wire/egide_wire.h"
#include "egide_test.h"

#define R(x) EGIDE__V1__REASON_CODE__REASON_##x

/* ------------------------------------------------------------ fixture */

enum { POLICE, CRIP, TAS, SUSPENDED, ASE, OLD, REVOKED, STRANGER, BROKER, N_NODES };
static const char *const s_ids[N_NODES] = {"71.police.macon",      "71.crip",     "71.tas.macon",
                                           "71.tas.cluny-tournus", "71.ase",      "71.old",
                                           "71.revoked",           "71.stranger", "71.broker"};

typedef struct {
    EVP_PKEY *sign_key, *enc_pub;
    uint8_t sign_fpr[32], enc_fpr[32];
} node_t;

static char s_dir[256];
static node_t s_nodes[N_NODES];
static egide_directory_t *s_directory;
static egide_peers_t *s_peers;
static int s_stores;

static const char s_nodes_ini[] = "[71.broker]\nrole = broker\nname = Broker\n"
                                  "endpoint = tcp://127.0.0.1:7710\n"
                                  "[71.crip]\nrole = crip\nname = CRIP\n"
                                  "[71.tas.macon]\nrole = tas\nname = TAS Macon\n"
                                  "[71.tas.cluny-tournus]\nrole = tas\nname = TAS Cluny\n"
                                  "status = suspended\n"
                                  "[71.ase]\nrole = ase\nname = ASE\n"
                                  "[71.police.macon]\nrole = police\nname = Police\n"
                                  "[71.old]\nrole = police\nname = Old\n"
                                  "[71.revoked]\nrole = tas\nname = Revoked\n"
                                  "[71.parquet.macon]\nrole = parquet\nname = Parquet\n"
                                  "[71.je.macon]\nrole = court\nname = JE\n";
static const char s_routes[] = "commune,name,territory,parquet,court,police\n"
                               "71270,Macon,71.tas.macon,71.parquet.macon,71.je.macon,"
                               "71.police.macon\n";

static int s_run(const char *cmd)
{
    int st = system(cmd);
    if (st != 0)
        fprintf(stderr, "command failed (%d): %s\n", st, cmd);
    return st;
}

static int s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static int s_load_node(node_t *n, const char *id)
{
    char p[512];
    X509 *c = NULL;
    snprintf(p, sizeof p, "%s/pki/nodes/%s/sign.key", s_dir, id);
    if (egide_pki_load_key(p, EGIDE_CERT_USE_SIGN, &n->sign_key))
        return -1;
    snprintf(p, sizeof p, "%s/pki/nodes/%s/sign.crt", s_dir, id);
    if (egide_cert_load(p, &c) || egide_cert_fingerprint(c, n->sign_fpr))
        return -1;
    X509_free(c);
    snprintf(p, sizeof p, "%s/pki/nodes/%s/enc.crt", s_dir, id);
    c = NULL;
    if (egide_cert_load(p, &c) || egide_cert_fingerprint(c, n->enc_fpr) ||
        egide_pki_cert_pubkey(c, EGIDE_CERT_USE_ENC, &n->enc_pub))
        return -1;
    X509_free(c);
    return 0;
}

static int s_setup(void)
{
    const char *src = getenv("EGIDE_SOURCE_DIR"), *bin = getenv("EGIDE_BIN");
    if (!src || !bin)
        return -1;
    snprintf(s_dir, sizeof s_dir, "/tmp/egide-test-broker-admit.XXXXXX");
    if (!mkdtemp(s_dir))
        return -1;
    char p[512], cmd[4096];
    snprintf(p, sizeof p, "%s/nodes.ini", s_dir);
    if (s_write(p, s_nodes_ini))
        return -1;
    snprintf(p, sizeof p, "%s/routes.csv", s_dir);
    if (s_write(p, s_routes))
        return -1;
    /* The PKI (71.stranger has keys but is not in the directory), the
     * directory, then 71.revoked revoked after the directory was signed. */
    snprintf(cmd, sizeof cmd,
             "EGIDE='%s/egide' bash '%s/certs/egide-pki.sh' --expired 71.old '%s/pki' 71.broker "
             "71.crip 71.tas.macon 71.tas.cluny-tournus 71.ase 71.police.macon 71.old "
             "71.revoked 71.parquet.macon 71.je.macon 71.stranger >/dev/null 2>&1 && "
             "'%s/egide' directory build --nodes '%s/nodes.ini' --pki '%s/pki' "
             "--routes '%s/routes.csv' --communes '%s/deploy/71/communes.csv' "
             "--rules '%s/deploy/71/rules.ini' --authority-key '%s/pki/authority/authority.key' "
             "--authority-cert '%s/pki/authority/authority.crt' --department 71 "
             "--jurisdiction fr-casf --version 1 --valid-days 30 "
             "--broker-endpoint tcp://127.0.0.1:7710 --allow-unrouted "
             "--out '%s/pki/directory.bin' >/dev/null && "
             "bash '%s/certs/egide-pki.sh' --revoke '%s/pki' 71.revoked >/dev/null 2>&1",
             bin, src, s_dir, bin, s_dir, s_dir, s_dir, src, src, s_dir, s_dir, s_dir, src, s_dir);
    if (s_run(cmd))
        return -1;
    for (int i = 0; i < N_NODES; i++)
        if (s_load_node(&s_nodes[i], s_ids[i]))
            return -1;
    X509 *anchor = NULL;
    egide_trust_t *trust = NULL;
    char root[512], chain[512], crl[512];
    snprintf(p, sizeof p, "%s/pki/authority/authority.crt", s_dir);
    snprintf(root, sizeof root, "%s/pki/ca/root.crt", s_dir);
    snprintf(chain, sizeof chain, "%s/pki/ca/chain.pem", s_dir);
    snprintf(crl, sizeof crl, "%s/pki/ca/crl.pem", s_dir);
    char dpath[512];
    snprintf(dpath, sizeof dpath, "%s/pki/directory.bin", s_dir);
    int rc = egide_cert_load(p, &anchor) ||
             egide_directory_load_file(dpath, anchor, 0, egide_now_ms(), &s_directory) ||
             egide_trust_new(root, chain, crl, 0, &trust) ||
             egide_peers_build(s_directory, trust, egide_now_ms(), &s_peers);
    X509_free(anchor);
    egide_trust_destroy(&trust);
    return rc ? -1 : 0;
}

static void s_teardown(void)
{
    for (int i = 0; i < N_NODES; i++) {
        EVP_PKEY_free(s_nodes[i].sign_key);
        EVP_PKEY_free(s_nodes[i].enc_pub);
    }
    egide_peers_destroy(&s_peers);
    egide_directory_destroy(&s_directory);
    if (s_dir[0]) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
        s_run(cmd);
    }
}

/* ------------------------------------------------------------ rows */

typedef enum {
    SETUP_NONE,
    SETUP_ACCEPTED_SAME,   /* the same envelope already accepted */
    SETUP_ACCEPTED_OTHER,  /* its msg_id accepted with other bytes */
    SETUP_REJECTED_SAME,   /* the same envelope already rejected */
    SETUP_SEQ_USED,        /* another envelope of the sender has its sequence */
    SETUP_SEQ_OLD,         /* the sender is far ahead: its sequence is below the window */
    SETUP_SEQ_GAP,         /* the sender's highest is a little above: a gap being filled */
    SETUP_SEQ_JUMP,        /* sealed more than BROKER_SEQ_MAX_JUMP above the highest */
    SETUP_SEQ_JUMP_MAX,    /* sealed exactly BROKER_SEQ_MAX_JUMP above the highest */
    SETUP_FAIL_FIND,       /* the store's envelope lookup fails */
    SETUP_FAIL_SEQ,        /* the store's sequence lookup fails */
    SETUP_LIFE_CENTURY,    /* sealed to expire 100 years after its creation */
    SETUP_LIFE_MAX,        /* sealed with exactly the maximum lifetime */
    SETUP_DIR_EXPIRED,     /* the broker's clock is past the directory's validity */
    SETUP_DIR_EXPIRED_DUP, /* that, and the same envelope already accepted */
} setup_t;

typedef enum { BYTES_SEALED, BYTES_GARBAGE, BYTES_HUGE } bytes_t;

#define NONE -1
#define DAY  (24LL * 3600 * 1000)

typedef struct {
    const char *name;
    int sender;    /* header sender and, unless sign_with, signing key */
    int auth;      /* the connection's node (ZAP User-Id) */
    int sign_with; /* NONE: the sender's key */
    int fpr_of;    /* whose signing certificate the header names (NONE: the sender's) */
    int to[2];
    int enc_of; /* NONE, or whose encryption key the first recipient is sealed to */
    const char *type;
    int64_t clock; /* the broker's clock relative to the envelope's creation */
    setup_t setup;
    bytes_t bytes;
    broker_admit_verdict verdict;
    int reason;
    const char *detail; /* expected start of the decision's detail */
    bool remember;
} row_t;

#define IPT "ip.transmission"

/* One row per reason code (and per other verdict).  Columns: name; sender,
 * authenticated node, signing key, certificate named; recipients, whose key
 * the first is sealed to; type; broker clock minus created_ms; store setup;
 * bytes; expected verdict, reason, detail (prefix), remembered. */
/* clang-format off */
static const row_t s_rows[] = {
    {"accept", POLICE, POLICE, NONE, NONE, {CRIP, TAS}, NONE, IPT, 0, SETUP_NONE, BYTES_SEALED,
     BROKER_ADMIT_ACCEPT, 0, NULL, false},
    {"malformed bytes", POLICE, POLICE, NONE, NONE, {CRIP, NONE}, NONE, IPT, 0, SETUP_NONE,
     BYTES_GARBAGE, BROKER_ADMIT_MALFORMED, R(MALFORMED), NULL, false},
    {"oversize", POLICE, POLICE, NONE, NONE, {CRIP, NONE}, NONE, IPT, 0, SETUP_NONE, BYTES_HUGE,
     BROKER_ADMIT_MALFORMED, R(OVERSIZE), NULL, false},
    {"sender mismatch", POLICE, CRIP, NONE, NONE, {CRIP, NONE}, NONE, IPT, 0, SETUP_NONE,
     BYTES_SEALED, BROKER_ADMIT_REJECT, R(SENDER_MISMATCH), "header sender differs", false},
    {"duplicate, same bytes: stored ACCEPTED", POLICE, POLICE, NONE, NONE, {CRIP, NONE}, NONE, IPT,
     0, SETUP_ACCEPTED_SAME, BYTES_SEALED, BROKER_ADMIT_DUPLICATE, 0, NULL, false},
    {"duplicate conflict", POLICE, POLICE, NONE, NONE, {CRIP, NONE}, NONE, IPT, 0,
     SETUP_ACCEPTED_OTHER, BYTES_SEALED, BROKER_ADMIT_REJECT, R(DUPLICATE_CONFLICT),
     "msg_id already used", false},
    {"duplicate of a rejection: stored REJECTED", POLICE, POLICE, NONE, NONE, {CRIP, NONE}, NONE,
     IPT, 0, SETUP_REJECTED_SAME, BYTES_SEALED, BROKER_ADMIT_DUPLICATE, 0, NULL, false},
    {"unknown sender", STRANGER, STRANGER, NONE, NONE, {CRIP, NONE}, NONE, IPT, 0, SETUP_NONE,
     BYTES_SEALED, BROKER_ADMIT_REJECT, R(UNKNOWN_SENDER), "sender not in the directory", true},
    {"sender certificate revoked", REVOKED, REVOKED, NONE, NONE, {CRIP, NONE}, NONE,
     "parents.notice", 0, SETUP_NONE, BYTES_SEALED, BROKER_ADMIT_REJECT, R(CERT_REVOKED),
     "sender certificate not valid", true},
    {"sender certificate expired", OLD, OLD, NONE, NONE, {CRIP, NONE}, NONE, IPT, 0, SETUP_NONE,
     BYTES_SEALED, BROKER_ADMIT_REJECT, R(CERT_INVALID), "sender certificate not valid", true},
    {"bad fingerprint", POLICE, POLICE, NONE, CRIP, {CRIP, NONE}, NONE, IPT, 0, SETUP_NONE,
     BYTES_SEALED, BROKER_ADMIT_REJECT, R(CERT_INVALID),
     "sender certificate is not the one in the directory", true},
    {"bad signature", POLICE, POLICE, CRIP, NONE, {CRIP, NONE}, NONE, IPT, 0, SETUP_NONE,
     BYTES_SEALED, BROKER_ADMIT_REJECT, R(BAD_SIGNATURE), NULL, false},
    {"expired", POLICE, POLICE, NONE, NONE, {CRIP, NONE}, NONE, IPT, 31 * DAY, SETUP_NONE,
     BYTES_SEALED, BROKER_ADMIT_REJECT, R(EXPIRED), "message expired", true},
    {"clock skew (created in the future)", POLICE, POLICE, NONE, NONE, {CRIP, NONE}, NONE, IPT,
     -3600 * 1000, SETUP_NONE, BYTES_SEALED, BROKER_ADMIT_REJECT, R(CLOCK_SKEW),
     "created_ms too far", true},
    /* Issue 13 item 1: a creation time in the past is a retry (a broker
     * outage, a sender offline), not clock skew.  This row said CLOCK_SKEW
     * before; that was the defect that threw queued referrals away. */
    {"created an hour ago (queued during an outage): accepted", POLICE, POLICE, NONE, NONE,
     {CRIP, NONE}, NONE, IPT, 3600 * 1000, SETUP_NONE, BYTES_SEALED, BROKER_ADMIT_ACCEPT, 0, NULL,
     false},
    {"created 10 minutes ago (a retry): accepted", POLICE, POLICE, NONE, NONE, {CRIP, NONE}, NONE,
     IPT, 600 * 1000, SETUP_NONE, BYTES_SEALED, BROKER_ADMIT_ACCEPT, 0, NULL, false},
    {"created 29 days ago, not expired: accepted", POLICE, POLICE, NONE, NONE, {CRIP, NONE}, NONE,
     IPT, 29 * DAY, SETUP_NONE, BYTES_SEALED, BROKER_ADMIT_ACCEPT, 0, NULL, false},
    {"created 6 minutes in the future: clock skew", POLICE, POLICE, NONE, NONE, {CRIP, NONE}, NONE,
     IPT, -360 * 1000, SETUP_NONE, BYTES_SEALED, BROKER_ADMIT_REJECT, R(CLOCK_SKEW),
     "created_ms too far", true},
    {"created 4 minutes in the future: within the skew", POLICE, POLICE, NONE, NONE, {CRIP, NONE},
     NONE, IPT, -240 * 1000, SETUP_NONE, BYTES_SEALED, BROKER_ADMIT_ACCEPT, 0, NULL, false},
    /* Item 14: a maximum lifetime. */
    {"lifetime of 100 years: refused", POLICE, POLICE, NONE, NONE, {CRIP, NONE}, NONE, IPT, 0,
     SETUP_LIFE_CENTURY, BYTES_SEALED, BROKER_ADMIT_REJECT, R(EXPIRED),
     "lifetime longer than the maximum", true},
    {"lifetime exactly the maximum: accepted", POLICE, POLICE, NONE, NONE, {CRIP, NONE}, NONE, IPT,
     0, SETUP_LIFE_MAX, BYTES_SEALED, BROKER_ADMIT_ACCEPT, 0, NULL, false},
    /* Item 9: past the directory's validity, nothing is signed. */
    {"directory expired: unavailable (transient)", POLICE, POLICE, NONE, NONE, {CRIP, NONE}, NONE,
     IPT, 0, SETUP_DIR_EXPIRED, BYTES_SEALED, BROKER_ADMIT_UNAVAILABLE, R(INTERNAL),
     "broker directory expired", false},
    {"directory expired, duplicate: still the stored ACCEPTED", POLICE, POLICE, NONE, NONE,
     {CRIP, NONE}, NONE, IPT, 0, SETUP_DIR_EXPIRED_DUP, BYTES_SEALED, BROKER_ADMIT_DUPLICATE, 0,
     NULL, false},
    {"forbidden type", POLICE, POLICE, NONE, NONE, {CRIP, NONE}, NONE, "ip.qualification", 0,
     SETUP_NONE, BYTES_SEALED, BROKER_ADMIT_REJECT, R(FORBIDDEN_TYPE), NULL, true},
    {"unknown type", POLICE, POLICE, NONE, NONE, {CRIP, NONE}, NONE, "no.such.type", 0,
     SETUP_NONE, BYTES_SEALED, BROKER_ADMIT_REJECT, R(UNKNOWN_TYPE), NULL, true},
    {"forbidden recipient", POLICE, POLICE, NONE, NONE, {CRIP, ASE}, NONE, IPT, 0, SETUP_NONE,
     BYTES_SEALED, BROKER_ADMIT_REJECT, R(FORBIDDEN_RECIPIENT), NULL, true},
    {"unknown recipient", POLICE, POLICE, NONE, NONE, {CRIP, STRANGER}, NONE, IPT, 0, SETUP_NONE,
     BYTES_SEALED, BROKER_ADMIT_REJECT, R(UNKNOWN_RECIPIENT), NULL, true},
    {"suspended recipient", POLICE, POLICE, NONE, NONE, {CRIP, SUSPENDED}, NONE, IPT, 0,
     SETUP_NONE, BYTES_SEALED, BROKER_ADMIT_REJECT, R(NODE_SUSPENDED), NULL, true},
    {"recipient certificate revoked", POLICE, POLICE, NONE, NONE, {CRIP, REVOKED}, NONE, IPT, 0,
     SETUP_NONE, BYTES_SEALED, BROKER_ADMIT_REJECT, R(UNKNOWN_RECIPIENT),
     "recipient key is not the directory's", true},
    {"recipient key mismatch", POLICE, POLICE, NONE, NONE, {CRIP, NONE}, TAS, IPT, 0, SETUP_NONE,
     BYTES_SEALED, BROKER_ADMIT_REJECT, R(UNKNOWN_RECIPIENT),
     "recipient key is not the directory's", true},
    {"replay: sequence used", POLICE, POLICE, NONE, NONE, {CRIP, NONE}, NONE, IPT, 0,
     SETUP_SEQ_USED, BYTES_SEALED, BROKER_ADMIT_REJECT, R(REPLAY), "sender sequence", false},
    {"replay: sequence below the window", POLICE, POLICE, NONE, NONE, {CRIP, NONE}, NONE, IPT, 0,
     SETUP_SEQ_OLD, BYTES_SEALED, BROKER_ADMIT_REJECT, R(REPLAY), "sender sequence", false},
    {"sequence in a gap below the highest", POLICE, POLICE, NONE, NONE, {CRIP, NONE}, NONE, IPT, 0,
     SETUP_SEQ_GAP, BYTES_SEALED, BROKER_ADMIT_ACCEPT, 0, NULL, false},
    {"replay: sequence jumps too far", POLICE, POLICE, NONE, NONE, {CRIP, NONE}, NONE, IPT, 0,
     SETUP_SEQ_JUMP, BYTES_SEALED, BROKER_ADMIT_REJECT, R(REPLAY), "sender sequence jumps", false},
    {"sequence at the largest jump", POLICE, POLICE, NONE, NONE, {CRIP, NONE}, NONE, IPT, 0,
     SETUP_SEQ_JUMP_MAX, BYTES_SEALED, BROKER_ADMIT_ACCEPT, 0, NULL, false},
    {"store failure (duplicate lookup): retry", POLICE, POLICE, NONE, NONE, {CRIP, NONE}, NONE,
     IPT, 0, SETUP_FAIL_FIND, BYTES_SEALED, BROKER_ADMIT_RETRY, 0, NULL, false},
    {"store failure (sequence lookup): retry", POLICE, POLICE, NONE, NONE, {CRIP, NONE}, NONE, IPT,
     0, SETUP_FAIL_SEQ, BYTES_SEALED, BROKER_ADMIT_RETRY, 0, NULL, false},
};
/* clang-format on */

#define SEQ       100
#define WINDOW    64
#define SKEW_MS   (300 * 1000)
#define MAXLIFE   (90 * DAY)
#define CREATED   1000000000000LL /* envelopes' created_ms */
#define RCPT_SAME "stored-accepted-receipt"
#define RCPT_REJ  "stored-rejected-receipt"

static egide_rc s_fail_find(void *impl, const uint8_t *msg_id, broker_stored_t *out)
{
    (void)impl, (void)msg_id, (void)out;
    return EGIDE_ERR_IO;
}

static egide_rc s_fail_seq(void *impl, const char *sender_id, uint64_t *max)
{
    (void)impl, (void)sender_id, (void)max;
    return EGIDE_ERR_IO;
}

static egide_rc s_seal(const row_t *r, uint8_t **out, size_t *len)
{
    egide_seal_recipient_t rc[2];
    size_t n = 0;
    for (int i = 0; i < 2 && r->to[i] != NONE; i++, n++) {
        const node_t *k = &s_nodes[i == 0 && r->enc_of != NONE ? r->enc_of : r->to[i]];
        rc[i].node_id = s_ids[r->to[i]];
        rc[i].enc_pub = k->enc_pub;
        rc[i].enc_cert_fpr = k->enc_fpr;
    }
    egide_seal_params_t p = {
        .sender_id = s_ids[r->sender],
        .sign_key = s_nodes[r->sign_with != NONE ? r->sign_with : r->sender].sign_key,
        .sign_cert_fpr = s_nodes[r->fpr_of != NONE ? r->fpr_of : r->sender].sign_fpr,
        .recipients = rc,
        .n_recipients = n,
        .message_type = r->type,
        .urgency = EGIDE__V1__URGENCY__URGENCY_URGENT,
        .sender_seq = r->setup == SETUP_SEQ_JUMP       ? SEQ + BROKER_SEQ_MAX_JUMP + 1
                      : r->setup == SETUP_SEQ_JUMP_MAX ? SEQ + BROKER_SEQ_MAX_JUMP
                                                       : SEQ,
        .created_ms = CREATED,
        .expires_ms = r->setup == SETUP_LIFE_CENTURY ? CREATED + 36525 * DAY
                      : r->setup == SETUP_LIFE_MAX   ? CREATED + MAXLIFE
                                                     : 0,
        .content_type = "text/plain",
        .payload = (const uint8_t *)"test",
        .payload_len = 4,
    };
    return egide_envelope_seal(&p, out, len, NULL);
}

/* An accepted envelope of the sender (another msg_id unless same). */
static egide_rc s_put_accepted(broker_store_t *st, const uint8_t *msg_id, const uint8_t *sha,
                               const char *sender, uint64_t seq)
{
    static const uint8_t data[8] = "envelope";
    const char *rc[1] = {"71.crip"};
    broker_accept_t a = {
        .msg_id = msg_id,
        .sha256 = sha,
        .sender_id = sender,
        .sender_seq = seq,
        .type = IPT,
        .urgency = 2,
        .created_ms = CREATED,
        .expires_ms = CREATED + DAY,
        .received_ms = CREATED,
        .data = data,
        .len = sizeof data,
        .receipt = (const uint8_t *)RCPT_SAME,
        .receipt_len = sizeof RCPT_SAME - 1,
        .leaf_index = 0,
        .recipients = rc,
        .n_recipients = 1,
    };
    egide_rc r = broker_store_begin(st);
    if (!r)
        r = broker_store_accept(st, &a);
    if (!r)
        r = broker_store_commit(st);
    return r;
}

static egide_rc s_prepare(const row_t *r, broker_store_t *st, const uint8_t *env, size_t len)
{
    egide_envelope_t *e = NULL;
    egide_rc rc = egide_envelope_parse(env, len, &e);
    if (rc)
        return rc;
    const Egide__V1__EnvelopeHeader *h = egide_envelope_header(e);
    uint8_t id[16], sha[32], other_id[16], other_sha[32];
    memcpy(id, h->msg_id.data, 16);
    memcpy(other_id, id, 16);
    other_id[0] ^= 0xff;
    egide_sha256(env, len, sha);
    memset(other_sha, 0x42, sizeof other_sha);
    const char *sender = h->sender_id;
    switch (r->setup) {
    case SETUP_ACCEPTED_SAME:
    case SETUP_DIR_EXPIRED_DUP:
        rc = s_put_accepted(st, id, sha, sender, SEQ);
        break;
    case SETUP_ACCEPTED_OTHER:
        rc = s_put_accepted(st, id, other_sha, sender, SEQ + 1);
        break;
    case SETUP_REJECTED_SAME:
        if (!(rc = broker_store_begin(st)) &&
            !(rc = broker_store_rejection_put(st, id, sha, (const uint8_t *)RCPT_REJ,
                                              sizeof RCPT_REJ - 1, CREATED)))
            rc = broker_store_commit(st);
        break;
    case SETUP_SEQ_USED:
        rc = s_put_accepted(st, other_id, other_sha, sender, SEQ);
        break;
    case SETUP_SEQ_OLD:
        rc = s_put_accepted(st, other_id, other_sha, sender, SEQ + WINDOW);
        break;
    case SETUP_SEQ_GAP:
        rc = s_put_accepted(st, other_id, other_sha, sender, SEQ + 10);
        break;
    case SETUP_SEQ_JUMP:
    case SETUP_SEQ_JUMP_MAX:
        rc = s_put_accepted(st, other_id, other_sha, sender, SEQ);
        break;
    default:
        break;
    }
    egide_envelope_destroy(&e);
    return rc;
}

static void s_check_row(const row_t *r)
{
    uint8_t *env = NULL;
    size_t len = 0;
    if (r->bytes == BYTES_SEALED) {
        CHECK_RC(s_seal(r, &env, &len), EGIDE_OK);
    } else {
        len = r->bytes == BYTES_HUGE ? EGIDE_MAX_ENVELOPE + 1 : 300;
        env = malloc(len);
        if (env)
            memset(env, 0xee, len);
    }
    if (!env) {
        CHECK(env != NULL);
        return;
    }
    broker_store_ops_t ops = broker_store_sqlite_ops;
    if (r->setup == SETUP_FAIL_FIND)
        ops.envelope_find = s_fail_find;
    if (r->setup == SETUP_FAIL_SEQ)
        ops.sender_max_seq = s_fail_seq;
    char loc[512];
    snprintf(loc, sizeof loc, "%s/store-%d.db", s_dir, ++s_stores);
    broker_store_t *st = NULL;
    CHECK_RC(broker_store_open(&ops, loc, false, &st), EGIDE_OK);
    if (st && r->bytes == BYTES_SEALED)
        CHECK_RC(s_prepare(r, st, env, len), EGIDE_OK);
    broker_admit_in_t in = {
        .node_id = s_ids[r->auth],
        .env = env,
        .len = len,
        .dir = s_directory,
        .peers = s_peers,
        .store = st,
        .now_ms = r->setup == SETUP_DIR_EXPIRED || r->setup == SETUP_DIR_EXPIRED_DUP
                      ? egide_directory_not_after_ms(s_directory) + 1
                      : CREATED + r->clock,
        .clock_skew_ms = SKEW_MS,
        .max_lifetime_ms = MAXLIFE,
        .seq_window = WINDOW,
    };
    broker_admit_t d;
    CHECK_RC(broker_admit(&in, &d), st ? EGIDE_OK : EGIDE_ERR_INVALID);
    bool ok = d.verdict == r->verdict && d.reason == r->reason &&
              (!r->detail || (d.detail && strncmp(d.detail, r->detail, strlen(r->detail)) == 0)) &&
              (r->verdict != BROKER_ADMIT_REJECT || d.remember == r->remember);
    if (!ok)
        fprintf(stderr, "row '%s': got %s, reason %d, detail '%s', remember %d\n", r->name,
                broker_admit_verdict_name(d.verdict), d.reason, d.detail ? d.detail : "",
                d.remember);
    CHECK(ok);
    if (r->verdict == BROKER_ADMIT_MALFORMED)
        CHECK(d.env == NULL);
    else
        CHECK(d.env != NULL);
    if (r->verdict == BROKER_ADMIT_RETRY)
        CHECK(d.rc == EGIDE_ERR_IO);
    if (r->verdict == BROKER_ADMIT_DUPLICATE) {
        const char *want = r->setup == SETUP_REJECTED_SAME ? RCPT_REJ : RCPT_SAME;
        CHECK(d.stored.receipt_len == strlen(want) &&
              memcmp(d.stored.receipt, want, d.stored.receipt_len) == 0);
    } else {
        CHECK(d.stored.receipt == NULL);
    }
    uint8_t sha[32];
    egide_sha256(env, len, sha);
    CHECK(memcmp(d.sha256, sha, 32) == 0);
    broker_admit_clear(&d);
    CHECK(d.env == NULL);
    /* Admission wrote nothing. */
    uint64_t q = 9, rl = 9;
    if (st && r->setup != SETUP_FAIL_FIND && r->setup != SETUP_FAIL_SEQ) {
        CHECK_RC(broker_store_counts(st, &q, &rl), EGIDE_OK);
        bool put = r->setup == SETUP_ACCEPTED_SAME || r->setup == SETUP_DIR_EXPIRED_DUP ||
                   r->setup == SETUP_ACCEPTED_OTHER || r->setup == SETUP_SEQ_USED ||
                   r->setup == SETUP_SEQ_OLD || r->setup == SETUP_SEQ_GAP ||
                   r->setup == SETUP_SEQ_JUMP || r->setup == SETUP_SEQ_JUMP_MAX;
        CHECK(q == (put ? 1u : 0u));
    }
    broker_store_close(&st);
    free(env);
}

static void test_rows(void)
{
    for (size_t i = 0; i < sizeof s_rows / sizeof s_rows[0]; i++) {
        int before = egide_test_fail_;
        s_check_row(&s_rows[i]);
        fprintf(stderr, "  %s %s\n", egide_test_fail_ == before ? "ok  " : "FAIL", s_rows[i].name);
    }
}

/* Every reason code the broker gives a submitted envelope has its row. */
static void test_rows_cover_reasons(void)
{
    static const int reasons[] = {
        R(MALFORMED),         R(OVERSIZE),
        R(SENDER_MISMATCH),   R(DUPLICATE_CONFLICT),
        R(UNKNOWN_SENDER),    R(CERT_REVOKED),
        R(CERT_INVALID),      R(BAD_SIGNATURE),
        R(EXPIRED),           R(CLOCK_SKEW),
        R(FORBIDDEN_TYPE),    R(UNKNOWN_TYPE),
        R(NODE_SUSPENDED),    R(FORBIDDEN_RECIPIENT),
        R(UNKNOWN_RECIPIENT), R(REPLAY),
        R(INTERNAL),
    };
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        bool found = false;
        for (size_t j = 0; j < sizeof s_rows / sizeof s_rows[0]; j++)
            found |= s_rows[j].reason == reasons[i];
        if (!found)
            fprintf(stderr, "no row for reason %d\n", reasons[i]);
        CHECK(found);
    }
}

static void test_bad_arguments(void)
{
    broker_admit_t d;
    CHECK_RC(broker_admit(NULL, &d), EGIDE_ERR_INVALID);
    CHECK(d.env == NULL && d.verdict == BROKER_ADMIT_ACCEPT && d.reason == 0);
    broker_admit_in_t in = {.node_id = "71.crip"};
    CHECK_RC(broker_admit(&in, NULL), EGIDE_ERR_INVALID);
    CHECK_RC(broker_admit(&in, &d), EGIDE_ERR_INVALID);
    broker_admit_clear(&d);
    broker_admit_clear(NULL);
    CHECK_STREQ(broker_admit_verdict_name(BROKER_ADMIT_ACCEPT), "accept");
    CHECK_STREQ(broker_admit_verdict_name(BROKER_ADMIT_REJECT), "reject");
    CHECK_STREQ(broker_admit_verdict_name(BROKER_ADMIT_DUPLICATE), "duplicate");
    CHECK_STREQ(broker_admit_verdict_name(BROKER_ADMIT_MALFORMED), "malformed");
    CHECK_STREQ(broker_admit_verdict_name(BROKER_ADMIT_RETRY), "retry");
    CHECK_STREQ(broker_admit_verdict_name(BROKER_ADMIT_UNAVAILABLE), "unavailable");
    CHECK_STREQ(broker_admit_verdict_name((broker_admit_verdict)99), "unknown");
}

/* ------------------------------------------------------------ the caller */

/* A broker with just what the frame handlers use: no sockets (nothing is
 * connected, so nothing is ever sent; b->out is what would be). */
static void s_broker(broker_t *b, broker_store_t *st)
{
    memset(b, 0, sizeof *b);
    egide_strlcpy(b->node_id, s_ids[BROKER], sizeof b->node_id);
    b->store = st;
    b->audit = broker_store_audit(st);
    b->dir = s_directory;
    b->peers = s_peers;
    b->sign_key = s_nodes[BROKER].sign_key;
    memcpy(b->sign_fpr, s_nodes[BROKER].sign_fpr, 32);
    b->clock_skew_ms = SKEW_MS;
    b->max_lifetime_ms = MAXLIFE;
    b->seq_window = WINDOW;
    b->refused_interval_ms = 10 * 60 * 1000;
    b->retry_min_ms = 500;
    b->retry_max_ms = 60000;
    b->out_tail = &b->out;
    b->batch_max = 1;
}

/* Frames queued for node, and the kind of the first receipt among them. */
static size_t s_out(const broker_t *b, const char *node, int *receipt_kind, uint64_t *relay_id)
{
    size_t n = 0;
    *receipt_kind = 0;
    for (const broker_out_t *o = b->out; o; o = o->next) {
        if (strcmp(o->node_id, node) != 0)
            continue;
        n++;
        Egide__V1__Frame *f = NULL;
        if (egide_wire_unpack(EGIDE_WIRE_FRAME, o->data, o->len, (void **)&f, NULL) != EGIDE_OK)
            continue;
        egide_receipt_t *r = NULL;
        if (f->body_case == EGIDE__V1__FRAME__BODY_RECEIPT && !*receipt_kind &&
            egide_receipt_parse(f->receipt->receipt.data, f->receipt->receipt.len, &r) ==
                EGIDE_OK) {
            *receipt_kind = egide_receipt_body(r)->kind;
            if (relay_id)
                *relay_id = f->receipt->relay_id;
        }
        egide_receipt_destroy(&r);
        egide_wire_free(EGIDE_WIRE_FRAME, f);
    }
    return n;
}

/* A frame from node as the transport hands it over. */
typedef struct {
    egide_transport_msg_t m;
    Egide__V1__Frame f;
    Egide__V1__Submit sub;
    Egide__V1__ReceiptFrame rf;
} s_frame_t;

static void s_frame(s_frame_t *x, int node, const uint8_t *data, size_t len, bool receipt)
{
    memset(x, 0, sizeof *x);
    egide_strlcpy(x->m.user_id, s_ids[node], sizeof x->m.user_id);
    egide_wire_frame_init(&x->f, 77);
    if (receipt) {
        x->rf = (Egide__V1__ReceiptFrame)EGIDE__V1__RECEIPT_FRAME__INIT;
        x->rf.receipt = (ProtobufCBinaryData){len, (uint8_t *)data};
        x->f.body_case = EGIDE__V1__FRAME__BODY_RECEIPT;
        x->f.receipt = &x->rf;
    } else {
        x->sub = (Egide__V1__Submit)EGIDE__V1__SUBMIT__INIT;
        x->sub.envelope = (ProtobufCBinaryData){len, (uint8_t *)data};
        x->f.body_case = EGIDE__V1__FRAME__BODY_SUBMIT;
        x->f.submit = &x->sub;
    }
    x->m.frame = &x->f;
}

/* Seal a fresh envelope (created now) from POLICE to `to`. */
static egide_rc s_seal_now(int to, const char *type, uint64_t seq, uint8_t **out, size_t *len,
                           uint8_t msg_id[16])
{
    egide_seal_recipient_t rc = {s_ids[to], s_nodes[to].enc_pub, s_nodes[to].enc_fpr};
    egide_seal_params_t p = {
        .sender_id = s_ids[POLICE],
        .sign_key = s_nodes[POLICE].sign_key,
        .sign_cert_fpr = s_nodes[POLICE].sign_fpr,
        .recipients = &rc,
        .n_recipients = 1,
        .message_type = type,
        .urgency = EGIDE__V1__URGENCY__URGENCY_URGENT,
        .sender_seq = seq,
        .content_type = "text/plain",
        .payload = (const uint8_t *)"test",
        .payload_len = 4,
    };
    return egide_envelope_seal(&p, out, len, msg_id);
}

static broker_store_t *s_store(void)
{
    char loc[512];
    snprintf(loc, sizeof loc, "%s/store-%d.db", s_dir, ++s_stores);
    broker_store_t *st = NULL;
    return broker_store_open(NULL, loc, false, &st) == EGIDE_OK ? st : NULL;
}

/* A failed accept: nothing sent, nothing stored, the audit leaf rolled back;
 * the retry is accepted once, and a retry after that gets the same receipt. */
static void test_submit_store_failure(void)
{
    broker_store_t *st = s_store();
    REQUIRE(st != NULL);
    broker_t b;
    s_broker(&b, st);
    uint8_t *env = NULL, id[16];
    size_t len = 0;
    REQUIRE(s_seal_now(CRIP, IPT, 1, &env, &len, id) == EGIDE_OK);
    s_frame_t fr;
    s_frame(&fr, POLICE, env, len, false);
    uint64_t size0 = egide_auditlog_size(b.audit);
    int kind = 0;

    CHECK_RC(broker_store_begin(st), EGIDE_OK);
    CHECK_RC(broker_store_inject_fault(st, 1), EGIDE_OK); /* the envelope's INSERT */
    broker_handle_submit(&b, &fr.m);
    CHECK(b.store_failed);
    CHECK(broker_commit(&b) != EGIDE_OK);
    CHECK(b.out == NULL && !b.store_failed);
    CHECK(egide_auditlog_size(b.audit) == size0);
    broker_stored_t sd;
    CHECK_RC(broker_store_envelope_find(st, id, &sd), EGIDE_ERR_NOTFOUND);
    CHECK(atomic_load(&b.m.accepted) == 0 && atomic_load(&b.m.rejected) == 0);

    /* The daemon goes on; the sender's retry is accepted. */
    CHECK_RC(broker_store_begin(st), EGIDE_OK);
    broker_handle_submit(&b, &fr.m);
    CHECK(!b.store_failed);
    CHECK(s_out(&b, s_ids[POLICE], &kind, NULL) == 1);
    CHECK(kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_ACCEPTED);
    CHECK_RC(broker_commit(&b), EGIDE_OK);
    CHECK(b.out == NULL);
    CHECK(egide_auditlog_size(b.audit) == size0 + 1);
    CHECK(atomic_load(&b.m.accepted) == 1);
    CHECK_RC(broker_store_envelope_find(st, id, &sd), EGIDE_OK);
    /* Once more: the stored receipt again, nothing new stored or audited. */
    CHECK_RC(broker_store_begin(st), EGIDE_OK);
    broker_handle_submit(&b, &fr.m);
    CHECK(s_out(&b, s_ids[POLICE], &kind, NULL) == 1);
    CHECK(kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_ACCEPTED);
    CHECK(b.out && b.out->next == NULL);
    CHECK_RC(broker_commit(&b), EGIDE_OK);
    CHECK(egide_auditlog_size(b.audit) == size0 + 1);
    CHECK(atomic_load(&b.m.accepted) == 1);
    uint64_t q = 0, r = 0;
    CHECK_RC(broker_store_counts(st, &q, &r), EGIDE_OK);
    CHECK(q == 1);
    broker_stored_clear(&sd);
    free(env);
    broker_store_close(&st);
}

/* A rejection that cannot be remembered is not sent: the retry gets it. */
static void test_reject_store_failure(void)
{
    broker_store_t *st = s_store();
    REQUIRE(st != NULL);
    broker_t b;
    s_broker(&b, st);
    uint8_t *env = NULL, id[16];
    size_t len = 0;
    REQUIRE(s_seal_now(ASE, IPT, 1, &env, &len, id) == EGIDE_OK); /* forbidden recipient */
    s_frame_t fr;
    s_frame(&fr, POLICE, env, len, false);
    int kind = 0;
    CHECK_RC(broker_store_begin(st), EGIDE_OK);
    CHECK_RC(broker_store_inject_fault(st, 1), EGIDE_OK); /* the rejection's INSERT */
    broker_handle_submit(&b, &fr.m);
    CHECK(b.store_failed);
    CHECK(broker_commit(&b) != EGIDE_OK);
    CHECK(b.out == NULL);
    CHECK(atomic_load(&b.m.rejected) == 0);
    CHECK_RC(broker_store_begin(st), EGIDE_OK);
    broker_handle_submit(&b, &fr.m);
    CHECK(s_out(&b, s_ids[POLICE], &kind, NULL) == 1);
    CHECK(kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED);
    CHECK_RC(broker_commit(&b), EGIDE_OK);
    CHECK(atomic_load(&b.m.rejected) == 1);
    uint8_t sha[32];
    egide_sha256(env, len, sha);
    broker_stored_t sd;
    CHECK_RC(broker_store_rejection_find(st, id, sha, &sd), EGIDE_OK);
    broker_stored_clear(&sd);
    free(env);
    broker_store_close(&st);
}

/* A failed COMMIT (as with group_commit = false after each frame): the
 * batch is discarded, the next transaction begins and commits. */
static void test_commit_failure(void)
{
    broker_store_t *st = s_store();
    REQUIRE(st != NULL);
    broker_t b;
    s_broker(&b, st);
    uint8_t *env = NULL, id[16];
    size_t len = 0;
    REQUIRE(s_seal_now(CRIP, IPT, 1, &env, &len, id) == EGIDE_OK);
    s_frame_t fr;
    s_frame(&fr, POLICE, env, len, false);
    int kind = 0;
    CHECK_RC(broker_store_begin(st), EGIDE_OK);
    broker_handle_submit(&b, &fr.m);
    CHECK(s_out(&b, s_ids[POLICE], &kind, NULL) == 1);
    CHECK_RC(broker_store_inject_fault(st, 1), EGIDE_OK); /* the COMMIT */
    CHECK(broker_commit(&b) != EGIDE_OK);
    CHECK(b.out == NULL);
    broker_stored_t sd;
    CHECK_RC(broker_store_envelope_find(st, id, &sd), EGIDE_ERR_NOTFOUND);
    CHECK_RC(broker_store_begin(st), EGIDE_OK);
    broker_handle_submit(&b, &fr.m);
    CHECK(s_out(&b, s_ids[POLICE], &kind, NULL) == 1);
    CHECK(kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_ACCEPTED);
    CHECK_RC(broker_commit(&b), EGIDE_OK);
    CHECK_RC(broker_store_envelope_find(st, id, &sd), EGIDE_OK);
    broker_stored_clear(&sd);
    free(env);
    broker_store_close(&st);
}

/* A recipient's receipt whose delivery cannot be settled is not relayed;
 * the recipient's retry is settled and relayed once. */
static void test_receipt_store_failure(void)
{
    broker_store_t *st = s_store();
    REQUIRE(st != NULL);
    broker_t b;
    s_broker(&b, st);
    uint8_t *env = NULL, id[16];
    size_t len = 0;
    REQUIRE(s_seal_now(CRIP, IPT, 1, &env, &len, id) == EGIDE_OK);
    s_frame_t fr;
    s_frame(&fr, POLICE, env, len, false);
    CHECK_RC(broker_store_begin(st), EGIDE_OK);
    broker_handle_submit(&b, &fr.m);
    CHECK_RC(broker_commit(&b), EGIDE_OK);

    uint8_t sha[32];
    egide_sha256(env, len, sha);
    egide_receipt_params_t p = {
        .kind = EGIDE__V1__RECEIPT_KIND__RECEIPT_DELIVERED,
        .msg_id = id,
        .envelope_sha256 = sha,
        .issuer_id = s_ids[CRIP],
        .sender_id = s_ids[POLICE],
        .recipient_id = s_ids[CRIP],
        .issuer_cert_fpr = s_nodes[CRIP].sign_fpr,
    };
    uint8_t *rc = NULL;
    size_t rlen = 0;
    REQUIRE(egide_receipt_sign(&p, s_nodes[CRIP].sign_key, &rc, &rlen) == EGIDE_OK);
    s_frame_t rf;
    s_frame(&rf, CRIP, rc, rlen, true);
    int kind = 0;
    uint64_t relay = 0;
    CHECK_RC(broker_store_begin(st), EGIDE_OK);
    CHECK_RC(broker_store_inject_fault(st, 1), EGIDE_OK); /* the delivery's UPDATE */
    broker_handle_receipt(&b, &rf.m);
    CHECK(b.store_failed);
    CHECK(broker_commit(&b) != EGIDE_OK);
    CHECK(b.out == NULL);
    broker_delivery_t d;
    CHECK_RC(broker_store_delivery_get(st, id, s_ids[CRIP], &d), EGIDE_OK);
    CHECK(d.state == BROKER_DELIVERY_QUEUED);
    uint64_t q = 0, r = 0;
    CHECK_RC(broker_store_counts(st, &q, &r), EGIDE_OK);
    CHECK(q == 1 && r == 0);

    CHECK_RC(broker_store_begin(st), EGIDE_OK);
    broker_handle_receipt(&b, &rf.m);
    CHECK(s_out(&b, s_ids[POLICE], &kind, &relay) == 1);
    CHECK(kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_DELIVERED && relay > 0);
    CHECK_RC(broker_commit(&b), EGIDE_OK);
    CHECK_RC(broker_store_delivery_get(st, id, s_ids[CRIP], &d), EGIDE_OK);
    CHECK(d.state == BROKER_DELIVERY_DELIVERED);
    /* The same receipt again: already settled, nothing relayed twice. */
    CHECK_RC(broker_store_begin(st), EGIDE_OK);
    broker_handle_receipt(&b, &rf.m);
    CHECK(b.out == NULL);
    CHECK_RC(broker_commit(&b), EGIDE_OK);
    CHECK_RC(broker_store_counts(st, &q, &r), EGIDE_OK);
    CHECK(q == 0 && r == 1);
    CHECK(atomic_load(&b.m.delivered) == 1);
    free(rc);
    free(env);
    broker_store_close(&st);
}

/* Frames of one kind queued for node. */
static size_t s_out_count(const broker_t *b, const char *node, int body)
{
    size_t n = 0;
    for (const broker_out_t *o = b->out; o; o = o->next) {
        Egide__V1__Frame *f = NULL;
        if (strcmp(o->node_id, node) != 0 ||
            egide_wire_unpack(EGIDE_WIRE_FRAME, o->data, o->len, (void **)&f, NULL) != EGIDE_OK)
            continue;
        n += (int)f->body_case == body;
        egide_wire_free(EGIDE_WIRE_FRAME, f);
    }
    return n;
}

/* The timers and the sender's Ack under store failures: an expiry, a
 * redelivery and an acknowledgement that cannot be written send nothing and
 * change nothing; each succeeds on the next round. */
static void test_timers_store_failure(void)
{
    broker_store_t *st = s_store();
    REQUIRE(st != NULL);
    broker_t b;
    s_broker(&b, st);
    broker_conn_t *c = broker_conn(&b, s_ids[CRIP], true);
    REQUIRE(c != NULL);
    c->connected = true; /* its frames stay in b->out: there is no socket */
    uint8_t old_id[16], new_id[16], sha[32];
    memset(old_id, 0x31, sizeof old_id);
    memset(new_id, 0x32, sizeof new_id);
    memset(sha, 0x33, sizeof sha);
    /* One delivery long expired, one due now. */
    REQUIRE(s_put_accepted(st, old_id, sha, s_ids[POLICE], 1) == EGIDE_OK);
    static const uint8_t data[8] = "envelope";
    const char *rc1[1] = {s_ids[CRIP]};
    broker_accept_t a = {
        .msg_id = new_id,
        .sha256 = sha,
        .sender_id = s_ids[POLICE],
        .sender_seq = 2,
        .type = IPT,
        .urgency = 2,
        .created_ms = egide_now_ms(),
        .expires_ms = egide_now_ms() + DAY,
        .received_ms = egide_now_ms(),
        .data = data,
        .len = sizeof data,
        .receipt = (const uint8_t *)RCPT_SAME,
        .receipt_len = sizeof RCPT_SAME - 1,
        .recipients = rc1,
        .n_recipients = 1,
    };
    REQUIRE(broker_store_begin(st) == EGIDE_OK);
    REQUIRE(broker_store_accept(st, &a) == EGIDE_OK);
    REQUIRE(broker_store_commit(st) == EGIDE_OK);
    int kind = 0;
    uint64_t relay = 0, q = 0, r = 0;
    broker_delivery_t d;

    /* Expiry. */
    CHECK_RC(broker_store_begin(st), EGIDE_OK);
    CHECK_RC(broker_store_inject_fault(st, 1), EGIDE_OK);
    broker_expire(&b);
    CHECK(b.store_failed);
    CHECK(broker_commit(&b) != EGIDE_OK);
    CHECK(b.out == NULL);
    CHECK_RC(broker_store_delivery_get(st, old_id, s_ids[CRIP], &d), EGIDE_OK);
    CHECK(d.state == BROKER_DELIVERY_QUEUED);
    CHECK_RC(broker_store_begin(st), EGIDE_OK);
    broker_expire(&b);
    CHECK(s_out(&b, s_ids[POLICE], &kind, &relay) == 1);
    CHECK(kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED && relay > 0);
    CHECK_RC(broker_commit(&b), EGIDE_OK);
    CHECK_RC(broker_store_delivery_get(st, old_id, s_ids[CRIP], &d), EGIDE_OK);
    CHECK(d.state == BROKER_DELIVERY_EXPIRED);
    CHECK(atomic_load(&b.m.expired) == 1);

    /* Redelivery to the connected recipient. */
    CHECK_RC(broker_store_begin(st), EGIDE_OK);
    CHECK_RC(broker_store_inject_fault(st, 1), EGIDE_OK);
    broker_pump(&b);
    CHECK(b.store_failed);
    CHECK(broker_commit(&b) != EGIDE_OK);
    CHECK(b.out == NULL);
    CHECK_RC(broker_store_delivery_get(st, new_id, s_ids[CRIP], &d), EGIDE_OK);
    CHECK(d.attempts == 0);
    CHECK_RC(broker_store_begin(st), EGIDE_OK);
    broker_pump(&b);
    CHECK(s_out_count(&b, s_ids[CRIP], EGIDE__V1__FRAME__BODY_DELIVER) == 1);
    CHECK_RC(broker_commit(&b), EGIDE_OK);
    CHECK_RC(broker_store_delivery_get(st, new_id, s_ids[CRIP], &d), EGIDE_OK);
    CHECK(d.attempts == 1);
    /* Not due again before its backoff. */
    CHECK_RC(broker_store_begin(st), EGIDE_OK);
    broker_pump(&b);
    CHECK(b.out == NULL);
    CHECK_RC(broker_commit(&b), EGIDE_OK);

    /* The sender's Ack of the expiry receipt. */
    uint64_t ids[1] = {relay};
    Egide__V1__Ack ack = EGIDE__V1__ACK__INIT;
    ack.n_ids = 1;
    ack.ids = ids;
    s_frame_t fr;
    s_frame(&fr, POLICE, NULL, 0, false);
    fr.f.body_case = EGIDE__V1__FRAME__BODY_ACK;
    fr.f.ack = &ack;
    uint64_t size0 = egide_auditlog_size(b.audit);
    CHECK_RC(broker_store_begin(st), EGIDE_OK);
    CHECK_RC(broker_store_inject_fault(st, 1), EGIDE_OK);
    broker_handle_ack(&b, &fr.m);
    CHECK(b.store_failed);
    CHECK(broker_commit(&b) != EGIDE_OK);
    CHECK_RC(broker_store_counts(st, &q, &r), EGIDE_OK);
    CHECK(r == 1);
    CHECK(egide_auditlog_size(b.audit) == size0);
    CHECK_RC(broker_store_begin(st), EGIDE_OK);
    broker_handle_ack(&b, &fr.m);
    broker_handle_ack(&b, &fr.m); /* a second Ack: nothing more */
    CHECK(!b.store_failed);
    CHECK_RC(broker_commit(&b), EGIDE_OK);
    CHECK_RC(broker_store_counts(st, &q, &r), EGIDE_OK);
    CHECK(r == 0);
    CHECK(egide_auditlog_size(b.audit) == size0 + 1); /* one RECEIPT_RELAYED */
    CHECK(atomic_load(&b.m.relayed) == 1);
    free(b.conns);
    broker_store_close(&st);
}

/* ------------------------------------------------------------ issue 13 */

/* The first frame of a kind queued for node, unpacked (the caller frees it
 * with egide_wire_free), or NULL. */
static Egide__V1__Frame *s_first(const broker_t *b, const char *node, int body)
{
    for (const broker_out_t *o = b->out; o; o = o->next) {
        Egide__V1__Frame *f = NULL;
        if (strcmp(o->node_id, node) != 0 ||
            egide_wire_unpack(EGIDE_WIRE_FRAME, o->data, o->len, (void **)&f, NULL) != EGIDE_OK)
            continue;
        if ((int)f->body_case == body)
            return f;
        egide_wire_free(EGIDE_WIRE_FRAME, f);
    }
    return NULL;
}

/* Seal from POLICE to `to` with sequence seq, created at created_ms. */
static egide_rc s_seal_at(int to, uint64_t seq, int64_t created_ms, uint8_t **out, size_t *len,
                          uint8_t msg_id[16])
{
    egide_seal_recipient_t rc = {s_ids[to], s_nodes[to].enc_pub, s_nodes[to].enc_fpr};
    egide_seal_params_t p = {
        .sender_id = s_ids[POLICE],
        .sign_key = s_nodes[POLICE].sign_key,
        .sign_cert_fpr = s_nodes[POLICE].sign_fpr,
        .recipients = &rc,
        .n_recipients = 1,
        .message_type = IPT,
        .urgency = EGIDE__V1__URGENCY__URGENCY_URGENT,
        .sender_seq = seq,
        .created_ms = created_ms,
        .content_type = "text/plain",
        .payload = (const uint8_t *)"test",
        .payload_len = 4,
    };
    return egide_envelope_seal(&p, out, len, msg_id);
}

/* Submit env from POLICE in one transaction and commit; the kind of the
 * receipt answered (0: none) and the Error code answered (0: none). */
static void s_submit(broker_t *b, const uint8_t *env, size_t len, int *kind, int *reason,
                     int *error)
{
    s_frame_t fr;
    s_frame(&fr, POLICE, env, len, false);
    *kind = 0;
    *reason = 0;
    *error = 0;
    CHECK_RC(broker_store_begin(b->store), EGIDE_OK);
    broker_handle_submit(b, &fr.m);
    Egide__V1__Frame *f = s_first(b, s_ids[POLICE], EGIDE__V1__FRAME__BODY_RECEIPT);
    egide_receipt_t *r = NULL;
    if (f &&
        egide_receipt_parse(f->receipt->receipt.data, f->receipt->receipt.len, &r) == EGIDE_OK) {
        *kind = egide_receipt_body(r)->kind;
        *reason = egide_receipt_body(r)->reason;
    }
    egide_receipt_destroy(&r);
    if (f)
        egide_wire_free(EGIDE_WIRE_FRAME, f);
    f = s_first(b, s_ids[POLICE], EGIDE__V1__FRAME__BODY_ERROR);
    if (f) {
        *error = f->error->code;
        egide_wire_free(EGIDE_WIRE_FRAME, f);
    }
    CHECK_RC(broker_commit(b), EGIDE_OK);
}

/* Item 1: a referral queued at the sender during a 10-minute broker outage
 * (created 10 minutes before the broker sees it) is accepted, stored and
 * queued for delivery; its retry gets the same receipt. */
static void test_retry_after_outage(void)
{
    broker_store_t *st = s_store();
    REQUIRE(st != NULL);
    broker_t b;
    s_broker(&b, st);
    uint8_t *env = NULL, id[16];
    size_t len = 0;
    REQUIRE(s_seal_at(CRIP, 1, egide_now_ms() - 10 * 60 * 1000, &env, &len, id) == EGIDE_OK);
    int kind, reason, error;
    s_submit(&b, env, len, &kind, &reason, &error);
    CHECK(kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_ACCEPTED && error == 0);
    broker_stored_t sd;
    CHECK_RC(broker_store_envelope_find(st, id, &sd), EGIDE_OK);
    broker_stored_clear(&sd);
    broker_delivery_t dv;
    CHECK_RC(broker_store_delivery_get(st, id, s_ids[CRIP], &dv), EGIDE_OK);
    CHECK(dv.state == BROKER_DELIVERY_QUEUED);
    s_submit(&b, env, len, &kind, &reason, &error); /* the sender retries: same answer */
    CHECK(kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_ACCEPTED);
    CHECK(atomic_load(&b.m.accepted) == 1 && atomic_load(&b.m.rejected) == 0);
    free(env);
    broker_store_close(&st);
}

static int64_t s_fake_now;
static int64_t s_fake_clock(void)
{
    return s_fake_now;
}

/* A hello from node; what was queued for it is in b->out after. */
static void s_hello(broker_t *b, int node)
{
    Egide__V1__Hello h = EGIDE__V1__HELLO__INIT;
    h.node_id = (char *)s_ids[node];
    h.directory_version = egide_directory_version(s_directory);
    s_frame_t fr;
    s_frame(&fr, node, NULL, 0, false);
    fr.f.body_case = EGIDE__V1__FRAME__BODY_HELLO;
    fr.f.hello = &h;
    broker_conn_t *c = broker_conn(b, s_ids[node], true);
    if (c)
        c->connected = true;
    broker_handle_hello(b, &fr.m);
}

/* Item 9: past the directory's validity (injected clock) a submit gets an
 * Error (REASON_INTERNAL), no receipt, nothing stored or audited, and a
 * hello an Error and no Welcome; counted for /metrics and /v1/health.  Back
 * within it, the same envelope is accepted. */
static void test_directory_expired(void)
{
    broker_store_t *st = s_store();
    REQUIRE(st != NULL);
    broker_t b;
    s_broker(&b, st);
    b.clock = s_fake_clock;
    atomic_store(&b.m.directory_not_after_ms, egide_directory_not_after_ms(s_directory));
    s_fake_now = egide_directory_not_after_ms(s_directory) + 31 * DAY;
    uint8_t *env = NULL, id[16];
    size_t len = 0;
    REQUIRE(s_seal_at(CRIP, 1, s_fake_now - 1000, &env, &len, id) == EGIDE_OK);
    uint64_t size0 = egide_auditlog_size(b.audit);
    int kind, reason, error;
    s_submit(&b, env, len, &kind, &reason, &error);
    CHECK(kind == 0 && error == R(INTERNAL));
    CHECK(egide_auditlog_size(b.audit) == size0);
    broker_stored_t sd;
    CHECK_RC(broker_store_envelope_find(st, id, &sd), EGIDE_ERR_NOTFOUND);
    uint8_t sha[32];
    egide_sha256(env, len, sha);
    CHECK_RC(broker_store_rejection_find(st, id, sha, &sd), EGIDE_ERR_NOTFOUND);
    CHECK(atomic_load(&b.m.rejected) == 0);
    CHECK(atomic_load(&b.m.directory_expired_refusals) == 1);

    CHECK_RC(broker_store_begin(st), EGIDE_OK);
    s_hello(&b, POLICE);
    Egide__V1__Frame *f = s_first(&b, s_ids[POLICE], EGIDE__V1__FRAME__BODY_ERROR);
    CHECK(f && f->error->code == R(INTERNAL));
    if (f)
        egide_wire_free(EGIDE_WIRE_FRAME, f);
    CHECK(s_out_count(&b, s_ids[POLICE], EGIDE__V1__FRAME__BODY_WELCOME) == 0);
    CHECK_RC(broker_commit(&b), EGIDE_OK);
    CHECK(egide_auditlog_size(b.audit) == size0);
    CHECK(atomic_load(&b.m.directory_expired_refusals) == 2);

    /* Renewed (here: the clock back within it): the referral still queued
     * at the sender is accepted. */
    free(env);
    s_fake_now = egide_now_ms();
    REQUIRE(s_seal_at(CRIP, 1, s_fake_now - 1000, &env, &len, id) == EGIDE_OK);
    s_submit(&b, env, len, &kind, &reason, &error);
    CHECK(kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_ACCEPTED && error == 0);
    free(env);
    free(b.conns);
    broker_store_close(&st);
}

/* Item 9: certificates are checked again as time passes.  826 days on
 * (injected clock), the nodes' 825-day certificates have expired: the
 * sender is refused (CERT_INVALID) and a hello from it is refused.  A check
 * that fails for another reason (40 days on: the CRL is past its next
 * update, the certificates still valid) keeps the table checked before, so
 * an out-of-date CRL does not make the broker refuse everyone for good. */
static void test_certificates_expire(void)
{
    broker_store_t *st = s_store();
    REQUIRE(st != NULL);
    broker_t b;
    s_broker(&b, st);
    egide_trust_t *trust = NULL;
    char root[512], chain[512], crl[512];
    snprintf(root, sizeof root, "%s/pki/ca/root.crt", s_dir);
    snprintf(chain, sizeof chain, "%s/pki/ca/chain.pem", s_dir);
    snprintf(crl, sizeof crl, "%s/pki/ca/crl.pem", s_dir);
    REQUIRE(egide_trust_new(root, chain, crl, 0, &trust) == EGIDE_OK);
    b.pki = trust;
    b.peers = NULL;
    int64_t now = egide_now_ms();
    CHECK_RC(broker_refresh_peers(&b, now, true), EGIDE_OK);
    REQUIRE(b.peers != NULL);
    const egide_peers_t *checked = b.peers;
    CHECK_RC(broker_refresh_peers(&b, now + 1000, false), EGIDE_OK); /* too soon: unchanged */
    CHECK(b.peers == checked);
    CHECK_RC(broker_refresh_peers(&b, now + 40 * DAY, false), EGIDE_ERR_CERT);
    CHECK(b.peers == checked);
    const egide_peer_t *pp = egide_peers_get(b.peers, s_ids[POLICE]);
    CHECK(pp && pp->status == EGIDE_OK);

    CHECK_RC(broker_refresh_peers(&b, now + 826 * DAY, false), EGIDE_OK);
    pp = egide_peers_get(b.peers, s_ids[POLICE]);
    CHECK(pp && pp->status == EGIDE_ERR_EXPIRED);
    uint8_t *env = NULL, id[16];
    size_t len = 0;
    REQUIRE(s_seal_at(CRIP, 1, now, &env, &len, id) == EGIDE_OK);
    int kind, reason, error;
    s_submit(&b, env, len, &kind, &reason, &error);
    CHECK(kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED && reason == R(CERT_INVALID));
    CHECK_RC(broker_store_begin(st), EGIDE_OK);
    s_hello(&b, POLICE);
    Egide__V1__Frame *f = s_first(&b, s_ids[POLICE], EGIDE__V1__FRAME__BODY_ERROR);
    CHECK(f && f->error->code == R(NODE_SUSPENDED));
    if (f)
        egide_wire_free(EGIDE_WIRE_FRAME, f);
    CHECK(s_out_count(&b, s_ids[POLICE], EGIDE__V1__FRAME__BODY_WELCOME) == 0);
    CHECK_RC(broker_commit(&b), EGIDE_OK);
    free(env);
    free(b.conns);
    egide_peers_destroy(&b.peers);
    egide_trust_destroy(&trust);
    broker_store_close(&st);
}

static uint64_t s_welcome(broker_t *b, int node, bool *got)
{
    CHECK_RC(broker_store_begin(b->store), EGIDE_OK);
    s_hello(b, node);
    Egide__V1__Frame *f = s_first(b, s_ids[node], EGIDE__V1__FRAME__BODY_WELCOME);
    *got = f != NULL;
    uint64_t seq = f ? f->welcome->last_seq : 0;
    if (f)
        egide_wire_free(EGIDE_WIRE_FRAME, f);
    CHECK_RC(broker_commit(b), EGIDE_OK);
    return seq;
}

/* Item 2: a hello is answered with a Welcome carrying the highest sequence
 * accepted from the node (0 for a new one).  A REPLAY rejection is not
 * remembered, so the edge's resequenced resubmission of the same message
 * (same msg_id, sequence above last_seq, signed again) is accepted; a
 * resequenced copy of an ACCEPTED message is still DUPLICATE_CONFLICT; and
 * the audit log stays consistent (every event of a msg_id names one
 * envelope). */
static void test_welcome_and_resequence(void)
{
    broker_store_t *st = s_store();
    REQUIRE(st != NULL);
    broker_t b;
    s_broker(&b, st);
    bool got = false;
    CHECK(s_welcome(&b, POLICE, &got) == 0 && got);

    uint8_t *a = NULL, *x = NULL, *x2 = NULL, *a2 = NULL, ida[16], idx[16];
    size_t alen = 0, xlen = 0, x2len = 0, a2len = 0;
    int64_t now = egide_now_ms();
    REQUIRE(s_seal_at(CRIP, 10, now, &a, &alen, ida) == EGIDE_OK);
    int kind, reason, error;
    s_submit(&b, a, alen, &kind, &reason, &error);
    CHECK(kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_ACCEPTED);
    CHECK(s_welcome(&b, POLICE, &got) == 10 && got);

    /* A restored edge sends a new message under a sequence it already used. */
    REQUIRE(s_seal_at(CRIP, 10, now, &x, &xlen, idx) == EGIDE_OK);
    s_submit(&b, x, xlen, &kind, &reason, &error);
    CHECK(kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED && reason == R(REPLAY));
    uint8_t sha[32];
    egide_sha256(x, xlen, sha);
    broker_stored_t sd;
    CHECK_RC(broker_store_rejection_find(st, idx, sha, &sd), EGIDE_ERR_NOTFOUND);
    /* Its hello told it last_seq = 10: it resequences above and resubmits. */
    REQUIRE(egide_envelope_resequence(x, xlen, 11, s_nodes[POLICE].sign_key, NULL, &x2, &x2len) ==
            EGIDE_OK);
    s_submit(&b, x2, x2len, &kind, &reason, &error);
    CHECK(kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_ACCEPTED && error == 0);
    CHECK_RC(broker_store_envelope_find(st, idx, &sd), EGIDE_OK);
    broker_stored_clear(&sd);
    CHECK(s_welcome(&b, POLICE, &got) == 11 && got);
    /* The same for an ACCEPTED message: its msg_id is known with another
     * hash. */
    REQUIRE(egide_envelope_resequence(a, alen, 12, s_nodes[POLICE].sign_key, NULL, &a2, &a2len) ==
            EGIDE_OK);
    s_submit(&b, a2, a2len, &kind, &reason, &error);
    CHECK(kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED && reason == R(DUPLICATE_CONFLICT));
    /* The original of each is still answered with its ACCEPTED. */
    s_submit(&b, x2, x2len, &kind, &reason, &error);
    CHECK(kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_ACCEPTED);
    s_submit(&b, a, alen, &kind, &reason, &error);
    CHECK(kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_ACCEPTED);
    CHECK(atomic_load(&b.m.accepted) == 2);
    /* A welcome for a node that never sent: 0. */
    CHECK(s_welcome(&b, CRIP, &got) == 0 && got);
    egide_auditverify_report_t rep;
    memset(&rep, 0, sizeof rep);
    egide_rc vrc = egide_auditlog_verify_all(b.audit, NULL, NULL, true, &rep);
    if (vrc)
        fprintf(stderr, "audit verify: %s\n", rep.problem);
    CHECK_RC(vrc, EGIDE_OK);
    free(a);
    free(a2);
    free(x);
    free(x2);
    free(b.conns);
    broker_store_close(&st);
}

/* A REPLAY refusal is preceded by a Welcome: an edge whose counter is behind
 * (restored, or the Welcome answering its Hello was lost) learns the
 * broker's highest sequence from it and re-signs above it.  Queued for the
 * sender in this order, in the batch of the Submit, with its corr_id, and
 * both flushed by the one commit; other refusals get no Welcome. */
static void test_replay_preceded_by_welcome(void)
{
    broker_store_t *st = s_store();
    REQUIRE(st != NULL);
    broker_t b;
    s_broker(&b, st);
    uint8_t *a = NULL, *c = NULL, *x = NULL, *y = NULL, ida[16], idc[16], idx[16], idy[16];
    size_t alen = 0, clen = 0, xlen = 0, ylen = 0;
    int64_t now = egide_now_ms();
    int kind, reason, error;
    REQUIRE(s_seal_at(CRIP, 10, now, &a, &alen, ida) == EGIDE_OK);
    REQUIRE(s_seal_at(CRIP, 11, now, &c, &clen, idc) == EGIDE_OK);
    s_submit(&b, a, alen, &kind, &reason, &error);
    CHECK(kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_ACCEPTED);
    s_submit(&b, c, clen, &kind, &reason, &error);
    CHECK(kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_ACCEPTED);
    CHECK(b.out == NULL);

    /* A new message under a sequence the broker has used (10, not the
     * highest): the Welcome says 11, then the REPLAY receipt. */
    REQUIRE(s_seal_at(CRIP, 10, now, &x, &xlen, idx) == EGIDE_OK);
    s_frame_t fr;
    s_frame(&fr, POLICE, x, xlen, false);
    CHECK_RC(broker_store_begin(b.store), EGIDE_OK);
    broker_handle_submit(&b, &fr.m);
    int bodies[4] = {0}, n = 0;
    uint64_t last_seq = 0, corrs[4] = {0};
    int rkind = 0, rreason = 0;
    for (const broker_out_t *o = b.out; o; o = o->next) {
        Egide__V1__Frame *f = NULL;
        CHECK(strcmp(o->node_id, s_ids[POLICE]) == 0);
        if (egide_wire_unpack(EGIDE_WIRE_FRAME, o->data, o->len, (void **)&f, NULL) != EGIDE_OK)
            continue;
        if (n < 4) {
            bodies[n] = (int)f->body_case;
            corrs[n] = f->corr_id;
        }
        n++;
        if (f->body_case == EGIDE__V1__FRAME__BODY_WELCOME)
            last_seq = f->welcome->last_seq;
        egide_receipt_t *r = NULL;
        if (f->body_case == EGIDE__V1__FRAME__BODY_RECEIPT &&
            egide_receipt_parse(f->receipt->receipt.data, f->receipt->receipt.len, &r) ==
                EGIDE_OK) {
            rkind = egide_receipt_body(r)->kind;
            rreason = egide_receipt_body(r)->reason;
        }
        egide_receipt_destroy(&r);
        egide_wire_free(EGIDE_WIRE_FRAME, f);
    }
    CHECK(n == 2);
    CHECK(bodies[0] == EGIDE__V1__FRAME__BODY_WELCOME);
    CHECK(bodies[1] == EGIDE__V1__FRAME__BODY_RECEIPT);
    CHECK(last_seq == 11);
    CHECK(corrs[0] == 77 && corrs[1] == 77);
    CHECK(rkind == EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED && rreason == R(REPLAY));
    CHECK_RC(broker_commit(&b), EGIDE_OK);
    CHECK(b.out == NULL); /* both went with the one commit */

    /* Another refusal (the signature does not hold) comes without a Welcome. */
    REQUIRE(s_seal_at(CRIP, 12, now, &y, &ylen, idy) == EGIDE_OK);
    y[ylen - 5] ^= 0x40;
    s_submit(&b, y, ylen, &kind, &reason, &error);
    Egide__V1__Frame *w = s_first(&b, s_ids[POLICE], EGIDE__V1__FRAME__BODY_WELCOME);
    CHECK(w == NULL);
    if (w)
        egide_wire_free(EGIDE_WIRE_FRAME, w);
    free(a);
    free(c);
    free(x);
    free(y);
    free(b.conns);
    broker_store_close(&st);
}

/* Item 8: refused handshakes.  5,000 refusals of one key make one audit
 * leaf; of 3 keys, 3 leaves; after the interval (injected time), one more
 * per key; the table of keys stays bounded (oldest evicted), and so do the
 * leaves of a client cycling through keys. */
static void test_zap_refusals(void)
{
    broker_store_t *st = s_store();
    REQUIRE(st != NULL);
    broker_t b;
    s_broker(&b, st);
    uint8_t k[3][32];
    for (int i = 0; i < 3; i++)
        memset(k[i], 0x50 + i, 32);
    int64_t t0 = 1700000000000LL;
    uint64_t size0 = egide_auditlog_size(b.audit);
    CHECK_RC(broker_store_begin(st), EGIDE_OK);
    int leaves = 0;
    for (int i = 0; i < 5000; i++)
        leaves += broker_zap_refused(&b, k[0], NULL, t0 + i);
    CHECK(leaves == 1);
    CHECK(egide_auditlog_size(b.audit) == size0 + 1);
    /* The burst stops: the timer says its total once, an interval on. */
    CHECK(b.refused_quiet == 4999);
    broker_zap_summary(&b, t0 + 6000);
    CHECK(b.refused_quiet == 4999);
    broker_zap_summary(&b, t0 + b.refused_interval_ms + 1);
    CHECK(b.refused_quiet == 0);
    b.refused_summary_ms = t0;
    for (int i = 0; i < 5000; i++)
        leaves += broker_zap_refused(&b, k[i % 3], i % 3 == 1 ? s_ids[SUSPENDED] : NULL, t0 + i);
    CHECK(leaves == 3);
    CHECK(egide_auditlog_size(b.audit) == size0 + 3);
    CHECK(atomic_load(&b.m.zap_refused) == 10000);
    CHECK(atomic_load(&b.m.zap_refused_audited) == 3);
    /* The interval later: one more leaf per key, carrying the count of
     * the refusals of its previous interval that made no leaf (key 0:
     * 5,000 + 1,667, keys 1 and 2: 1,667 and 1,666; one of each audited). */
    int64_t t1 = t0 + b.refused_interval_ms + 5000;
    for (int i = 0; i < 300; i++)
        leaves += broker_zap_refused(&b, k[i % 3], NULL, t1 + i);
    CHECK(leaves == 6);
    CHECK(egide_auditlog_size(b.audit) == size0 + 6);
    static const uint64_t want_before[3] = {6666, 1666, 1665};
    for (uint64_t i = 0; i < 3; i++) {
        uint8_t *leaf = NULL;
        size_t ll = 0;
        REQUIRE(egide_auditlog_leaf(b.audit, size0 + 3 + i, &leaf, &ll) == EGIDE_OK);
        Egide__V1__AuditEvent *ev = egide__v1__audit_event__unpack(NULL, ll, leaf);
        REQUIRE(ev != NULL);
        CHECK(ev->type == EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_NODE_REFUSED);
        CHECK(ev->transport_key_sha256.len == 32 &&
              memcmp(ev->transport_key_sha256.data, k[i], 32) == 0);
        if (ev->refusals_before != want_before[i])
            fprintf(stderr, "key %llu: refusals_before %llu\n", (unsigned long long)i,
                    (unsigned long long)ev->refusals_before);
        CHECK(ev->refusals_before == want_before[i]);
        egide__v1__audit_event__free_unpacked(ev, NULL);
        free(leaf);
    }
    /* Many keys: at most BROKER_REFUSED_MAX remembered, one leaf each. */
    for (uint32_t i = 0; i < BROKER_REFUSED_MAX + 100; i++) {
        uint8_t kk[32] = {0};
        memcpy(kk, &i, sizeof i);
        kk[31] = 0xaa;
        leaves += broker_zap_refused(&b, kk, NULL, t1 + 1000 + i);
    }
    CHECK(b.n_refused == BROKER_REFUSED_MAX);
    /* ... and at most BROKER_REFUSED_LEAVES_MAX leaves an interval in all
     * (3 of this interval's were the keys above). */
    CHECK(leaves == 3 + BROKER_REFUSED_LEAVES_MAX);
    CHECK(egide_auditlog_size(b.audit) == size0 + 3 + BROKER_REFUSED_LEAVES_MAX);
    CHECK_RC(broker_commit(&b), EGIDE_OK);
    broker_store_close(&st);
}

/* Run fn(b) with stderr going to a file; returns what it logged (the
 * caller frees) and fn's result in *rc. */
static char *s_logged(egide_rc (*fn)(broker_t *), broker_t *b, egide_rc *rc)
{
    char path[512];
    snprintf(path, sizeof path, "%s/stderr-%d.log", s_dir, ++s_stores);
    fflush(stderr);
    int saved = dup(2);
    FILE *f = fopen(path, "w");
    if (!f || saved < 0) {
        if (f)
            fclose(f);
        *rc = fn(b);
        return NULL;
    }
    dup2(fileno(f), 2);
    *rc = fn(b);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fclose(f);
    uint8_t *text = NULL;
    size_t n = 0;
    if (egide_file_read(path, 1 << 20, &text, &n) != EGIDE_OK)
        return NULL;
    char *out = calloc(1, n + 1);
    if (out)
        memcpy(out, text, n);
    free(text);
    return out;
}

/* Raw SQL on the store's file, as a damaged disk would leave it (the
 * append-only triggers dropped first: damage does not ask). */
static int s_damage(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    char *err = NULL;
    int rc = sqlite3_open(db, &h);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(h,
                          "DROP TRIGGER IF EXISTS audit_leaves_no_delete;"
                          "DROP TRIGGER IF EXISTS audit_leaves_no_update;"
                          "DROP TRIGGER IF EXISTS audit_hashes_no_delete;"
                          "DROP TRIGGER IF EXISTS audit_hashes_no_update;",
                          NULL, NULL, &err);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(h, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        fprintf(stderr, "damage: %s\n", err ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    sqlite3_close(h);
    return rc == SQLITE_OK ? 0 : -1;
}

static int s_copy(const char *from, const char *to)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && rm -f '%s-wal' '%s-shm'", from, to, to, to);
    return s_run(cmd);
}

/* Item 3: at start the store must hold what the last signed checkpoint
 * covers.  A store that lost entries below it (deleted, as a WAL that lost
 * its last frames leaves it) or whose tree no longer hashes to its root is
 * refused, with the sizes and the range of lost entries in the log; the
 * intact store, and one that only grew since, start. */
static void test_store_check_at_start(void)
{
    char db[512], copy[512], cpf[512];
    snprintf(db, sizeof db, "%s/store-check.db", s_dir);
    snprintf(copy, sizeof copy, "%s/store-check-damaged.db", s_dir);
    snprintf(cpf, sizeof cpf, "%s/store-check.db.checkpoint", s_dir);
    broker_store_t *st = NULL;
    REQUIRE(broker_store_open(NULL, db, false, &st) == EGIDE_OK);
    broker_t b;
    s_broker(&b, st);
    egide_strlcpy(b.origin, "egide.71.broker/audit", sizeof b.origin);
    b.checkpoint_path = cpf;
    /* No checkpoint yet: nothing to check. */
    egide_rc rc = broker_check_store(&b);
    CHECK_RC(rc, EGIDE_OK);
    int kind, reason, error;
    for (uint64_t i = 1; i <= 6; i++) {
        uint8_t *env = NULL, id[16];
        size_t len = 0;
        REQUIRE(s_seal_at(CRIP, i, egide_now_ms(), &env, &len, id) == EGIDE_OK);
        s_submit(&b, env, len, &kind, &reason, &error);
        CHECK(kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_ACCEPTED);
        free(env);
    }
    CHECK_RC(broker_store_begin(st), EGIDE_OK);
    broker_checkpoint(&b, true);
    CHECK(access(cpf, F_OK) != 0); /* not before its commit */
    CHECK_RC(broker_commit(&b), EGIDE_OK);
    CHECK(access(cpf, F_OK) == 0);
    CHECK(b.checkpoint_pending == NULL);
    uint64_t signed_size = egide_auditlog_size(b.audit);
    CHECK(signed_size == 6);
    /* Two more accepted after the checkpoint: a store that grew is fine. */
    for (uint64_t i = 7; i <= 8; i++) {
        uint8_t *env = NULL, id[16];
        size_t len = 0;
        REQUIRE(s_seal_at(CRIP, i, egide_now_ms(), &env, &len, id) == EGIDE_OK);
        s_submit(&b, env, len, &kind, &reason, &error);
        free(env);
    }
    broker_store_close(&st);

    /* Intact: starts. */
    REQUIRE(broker_store_open(NULL, db, false, &st) == EGIDE_OK);
    b.store = st;
    b.audit = broker_store_audit(st);
    b.last_checkpoint_size = 0;
    char *log = s_logged(broker_check_store, &b, &rc);
    CHECK_RC(rc, EGIDE_OK);
    CHECK(b.last_checkpoint_size == signed_size);
    free(log);
    broker_store_close(&st);

    /* Entries 4.. lost (below the checkpoint's 6): refused, and said. */
    REQUIRE(s_copy(db, copy) == 0);
    REQUIRE(s_damage(copy, "DELETE FROM audit_leaves WHERE idx >= 4;") == 0);
    REQUIRE(broker_store_open(NULL, copy, false, &st) == EGIDE_OK);
    b.store = st;
    b.audit = broker_store_audit(st);
    log = s_logged(broker_check_store, &b, &rc);
    CHECK_RC(rc, EGIDE_ERR_CONSISTENCY);
    CHECK(log &&
          strstr(log, "the audit log has 4 entries but the last checkpoint this broker "
                      "signed") &&
          strstr(log, "covers 6: entries 4..5") && strstr(log, "refusing to serve"));
    if (log)
        fputs(log, stderr);
    free(log);
    broker_store_close(&st);

    /* The tree's stored hashes altered below the checkpoint: refused. */
    REQUIRE(s_copy(db, copy) == 0);
    REQUIRE(s_damage(copy, "UPDATE audit_hashes SET hash = randomblob(32);") == 0);
    REQUIRE(broker_store_open(NULL, copy, false, &st) == EGIDE_OK);
    b.store = st;
    b.audit = broker_store_audit(st);
    log = s_logged(broker_check_store, &b, &rc);
    CHECK_RC(rc, EGIDE_ERR_CONSISTENCY);
    CHECK(log && strstr(log, "does not hash at size 6") && strstr(log, "refusing to serve"));
    if (log)
        fputs(log, stderr);
    free(log);
    broker_store_close(&st);

    /* Everything lost but the file is still there: refused, unless the
     * database itself was removed (a new store on purpose). */
    REQUIRE(s_copy(db, copy) == 0);
    REQUIRE(s_damage(copy, "DELETE FROM audit_leaves;") == 0);
    REQUIRE(broker_store_open(NULL, copy, false, &st) == EGIDE_OK);
    b.store = st;
    b.audit = broker_store_audit(st);
    log = s_logged(broker_check_store, &b, &rc);
    CHECK_RC(rc, EGIDE_ERR_CONSISTENCY);
    CHECK(log && strstr(log, "entries 0..5"));
    free(log);
    b.store_new = true;
    CHECK_RC(broker_check_store(&b), EGIDE_OK);
    b.store_new = false;
    broker_store_close(&st);

    /* A checkpoint file that is not this broker's signature: refused. */
    REQUIRE(s_write(cpf, "egide.71.broker/audit\n6\nAAAA\n\n") == 0);
    REQUIRE(broker_store_open(NULL, db, false, &st) == EGIDE_OK);
    b.store = st;
    b.audit = broker_store_audit(st);
    CHECK_RC(broker_check_store(&b), EGIDE_ERR_CONSISTENCY);
    broker_store_close(&st);
}

int main(void)
{
    if (s_setup()) {
        fprintf(stderr, "setup failed\n");
        s_teardown();
        return 1;
    }
    RUN(test_bad_arguments);
    RUN(test_rows_cover_reasons);
    RUN(test_rows);
    RUN(test_submit_store_failure);
    RUN(test_reject_store_failure);
    RUN(test_commit_failure);
    RUN(test_receipt_store_failure);
    RUN(test_timers_store_failure);
    RUN(test_retry_after_outage);
    RUN(test_directory_expired);
    RUN(test_certificates_expire);
    RUN(test_welcome_and_resequence);
    RUN(test_replay_preceded_by_welcome);
    RUN(test_zap_refusals);
    RUN(test_store_check_at_start);
    s_teardown();
    EGIDE_TEST_DONE();
}
