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
 */
#include "broker_admit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "egide/base/egide_limits.h"
#include "egide/base/egide_rc.h"
#include "egide/base/egide_util.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/crypto/egide_pki.h"
#include "egide/protocol/egide_envelope.h"
#include "egide_test.h"

#define R(x) EGIDE__V1__REASON_CODE__REASON_##x

/* ------------------------------------------------------------ fixture */

enum { POLICE, CRIP, TAS, SUSPENDED, ASE, OLD, REVOKED, STRANGER, N_NODES };
static const char *const s_ids[N_NODES] = {"71.police.macon",      "71.crip",    "71.tas.macon",
                                           "71.tas.cluny-tournus", "71.ase",     "71.old",
                                           "71.revoked",           "71.stranger"};

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
    SETUP_ACCEPTED_SAME,  /* the same envelope already accepted */
    SETUP_ACCEPTED_OTHER, /* its msg_id accepted with other bytes */
    SETUP_REJECTED_SAME,  /* the same envelope already rejected */
    SETUP_SEQ_USED,       /* another envelope of the sender has its sequence */
    SETUP_SEQ_OLD,        /* the sender is far ahead: its sequence is below the window */
    SETUP_FAIL_FIND,      /* the store's envelope lookup fails */
    SETUP_FAIL_SEQ,       /* the store's sequence lookup fails */
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

static const row_t s_rows[] = {
    {"accept",
     POLICE,
     POLICE,
     NONE,
     NONE,
     {CRIP, TAS},
     NONE,
     IPT,
     0,
     SETUP_NONE,
     BYTES_SEALED,
     BROKER_ADMIT_ACCEPT,
     0,
     NULL,
     false},
    {"malformed bytes",
     POLICE,
     POLICE,
     NONE,
     NONE,
     {CRIP, NONE},
     NONE,
     IPT,
     0,
     SETUP_NONE,
     BYTES_GARBAGE,
     BROKER_ADMIT_MALFORMED,
     R(MALFORMED),
     NULL,
     false},
    {"oversize",
     POLICE,
     POLICE,
     NONE,
     NONE,
     {CRIP, NONE},
     NONE,
     IPT,
     0,
     SETUP_NONE,
     BYTES_HUGE,
     BROKER_ADMIT_MALFORMED,
     R(OVERSIZE),
     NULL,
     false},
    {"sender mismatch",
     POLICE,
     CRIP,
     NONE,
     NONE,
     {CRIP, NONE},
     NONE,
     IPT,
     0,
     SETUP_NONE,
     BYTES_SEALED,
     BROKER_ADMIT_REJECT,
     R(SENDER_MISMATCH),
     "header sender differs",
     false},
    {"duplicate, same bytes: stored ACCEPTED",
     POLICE,
     POLICE,
     NONE,
     NONE,
     {CRIP, NONE},
     NONE,
     IPT,
     0,
     SETUP_ACCEPTED_SAME,
     BYTES_SEALED,
     BROKER_ADMIT_DUPLICATE,
     0,
     NULL,
     false},
    {"duplicate conflict",
     POLICE,
     POLICE,
     NONE,
     NONE,
     {CRIP, NONE},
     NONE,
     IPT,
     0,
     SETUP_ACCEPTED_OTHER,
     BYTES_SEALED,
     BROKER_ADMIT_REJECT,
     R(DUPLICATE_CONFLICT),
     "msg_id already used",
     false},
    {"duplicate of a rejection: stored REJECTED",
     POLICE,
     POLICE,
     NONE,
     NONE,
     {CRIP, NONE},
     NONE,
     IPT,
     0,
     SETUP_REJECTED_SAME,
     BYTES_SEALED,
     BROKER_ADMIT_DUPLICATE,
     0,
     NULL,
     false},
    {"unknown sender",
     STRANGER,
     STRANGER,
     NONE,
     NONE,
     {CRIP, NONE},
     NONE,
     IPT,
     0,
     SETUP_NONE,
     BYTES_SEALED,
     BROKER_ADMIT_REJECT,
     R(UNKNOWN_SENDER),
     "sender not in the directory",
     true},
    {"sender certificate revoked",
     REVOKED,
     REVOKED,
     NONE,
     NONE,
     {CRIP, NONE},
     NONE,
     "parents.notice",
     0,
     SETUP_NONE,
     BYTES_SEALED,
     BROKER_ADMIT_REJECT,
     R(CERT_REVOKED),
     "sender certificate not valid",
     true},
    {"sender certificate expired",
     OLD,
     OLD,
     NONE,
     NONE,
     {CRIP, NONE},
     NONE,
     IPT,
     0,
     SETUP_NONE,
     BYTES_SEALED,
     BROKER_ADMIT_REJECT,
     R(CERT_INVALID),
     "sender certificate not valid",
     true},
    {"bad fingerprint",
     POLICE,
     POLICE,
     NONE,
     CRIP,
     {CRIP, NONE},
     NONE,
     IPT,
     0,
     SETUP_NONE,
     BYTES_SEALED,
     BROKER_ADMIT_REJECT,
     R(CERT_INVALID),
     "sender certificate is not the one in the directory",
     true},
    {"bad signature",
     POLICE,
     POLICE,
     CRIP,
     NONE,
     {CRIP, NONE},
     NONE,
     IPT,
     0,
     SETUP_NONE,
     BYTES_SEALED,
     BROKER_ADMIT_REJECT,
     R(BAD_SIGNATURE),
     NULL,
     false},
    {"expired",
     POLICE,
     POLICE,
     NONE,
     NONE,
     {CRIP, NONE},
     NONE,
     IPT,
     31 * DAY,
     SETUP_NONE,
     BYTES_SEALED,
     BROKER_ADMIT_REJECT,
     R(EXPIRED),
     "message expired",
     true},
    {"clock skew (created in the future)",
     POLICE,
     POLICE,
     NONE,
     NONE,
     {CRIP, NONE},
     NONE,
     IPT,
     -3600 * 1000,
     SETUP_NONE,
     BYTES_SEALED,
     BROKER_ADMIT_REJECT,
     R(CLOCK_SKEW),
     "created_ms too far",
     true},
    {"clock skew (created long ago)",
     POLICE,
     POLICE,
     NONE,
     NONE,
     {CRIP, NONE},
     NONE,
     IPT,
     3600 * 1000,
     SETUP_NONE,
     BYTES_SEALED,
     BROKER_ADMIT_REJECT,
     R(CLOCK_SKEW),
     "created_ms too far",
     true},
    {"forbidden type",
     POLICE,
     POLICE,
     NONE,
     NONE,
     {CRIP, NONE},
     NONE,
     "ip.qualification",
     0,
     SETUP_NONE,
     BYTES_SEALED,
     BROKER_ADMIT_REJECT,
     R(FORBIDDEN_TYPE),
     NULL,
     true},
    {"unknown type",
     POLICE,
     POLICE,
     NONE,
     NONE,
     {CRIP, NONE},
     NONE,
     "no.such.type",
     0,
     SETUP_NONE,
     BYTES_SEALED,
     BROKER_ADMIT_REJECT,
     R(UNKNOWN_TYPE),
     NULL,
     true},
    {"forbidden recipient",
     POLICE,
     POLICE,
     NONE,
     NONE,
     {CRIP, ASE},
     NONE,
     IPT,
     0,
     SETUP_NONE,
     BYTES_SEALED,
     BROKER_ADMIT_REJECT,
     R(FORBIDDEN_RECIPIENT),
     NULL,
     true},
    {"unknown recipient",
     POLICE,
     POLICE,
     NONE,
     NONE,
     {CRIP, STRANGER},
     NONE,
     IPT,
     0,
     SETUP_NONE,
     BYTES_SEALED,
     BROKER_ADMIT_REJECT,
     R(UNKNOWN_RECIPIENT),
     NULL,
     true},
    {"suspended recipient",
     POLICE,
     POLICE,
     NONE,
     NONE,
     {CRIP, SUSPENDED},
     NONE,
     IPT,
     0,
     SETUP_NONE,
     BYTES_SEALED,
     BROKER_ADMIT_REJECT,
     R(NODE_SUSPENDED),
     NULL,
     true},
    {"recipient certificate revoked",
     POLICE,
     POLICE,
     NONE,
     NONE,
     {CRIP, REVOKED},
     NONE,
     IPT,
     0,
     SETUP_NONE,
     BYTES_SEALED,
     BROKER_ADMIT_REJECT,
     R(UNKNOWN_RECIPIENT),
     "recipient key is not the directory's",
     true},
    {"recipient key mismatch",
     POLICE,
     POLICE,
     NONE,
     NONE,
     {CRIP, NONE},
     TAS,
     IPT,
     0,
     SETUP_NONE,
     BYTES_SEALED,
     BROKER_ADMIT_REJECT,
     R(UNKNOWN_RECIPIENT),
     "recipient key is not the directory's",
     true},
    {"replay: sequence used",
     POLICE,
     POLICE,
     NONE,
     NONE,
     {CRIP, NONE},
     NONE,
     IPT,
     0,
     SETUP_SEQ_USED,
     BYTES_SEALED,
     BROKER_ADMIT_REJECT,
     R(REPLAY),
     "sender sequence",
     false},
    {"replay: sequence below the window",
     POLICE,
     POLICE,
     NONE,
     NONE,
     {CRIP, NONE},
     NONE,
     IPT,
     0,
     SETUP_SEQ_OLD,
     BYTES_SEALED,
     BROKER_ADMIT_REJECT,
     R(REPLAY),
     "sender sequence",
     false},
    {"store failure (duplicate lookup): retry",
     POLICE,
     POLICE,
     NONE,
     NONE,
     {CRIP, NONE},
     NONE,
     IPT,
     0,
     SETUP_FAIL_FIND,
     BYTES_SEALED,
     BROKER_ADMIT_RETRY,
     0,
     NULL,
     false},
    {"store failure (sequence lookup): retry",
     POLICE,
     POLICE,
     NONE,
     NONE,
     {CRIP, NONE},
     NONE,
     IPT,
     0,
     SETUP_FAIL_SEQ,
     BYTES_SEALED,
     BROKER_ADMIT_RETRY,
     0,
     NULL,
     false},
};

#define SEQ       100
#define WINDOW    64
#define SKEW_MS   (300 * 1000)
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
        .sender_seq = SEQ,
        .created_ms = CREATED,
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
        .now_ms = CREATED + r->clock,
        .clock_skew_ms = SKEW_MS,
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
        const char *want = r->setup == SETUP_ACCEPTED_SAME ? RCPT_SAME : RCPT_REJ;
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
        CHECK(q == (r->setup == SETUP_NONE || r->setup == SETUP_REJECTED_SAME ? 0u : 1u));
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
    CHECK_STREQ(broker_admit_verdict_name((broker_admit_verdict)99), "unknown");
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
    s_teardown();
    EGIDE_TEST_DONE();
}
