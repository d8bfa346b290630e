/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_edge_restore.c - a sending edge restored from a backup or
 * reinstalled (issue 13 item 2): its sequence counter is behind what the
 * broker already accepted from it.  With a real development PKI and signed
 * directory made at run time (deploy/71/make-directory.sh), the 119's edge
 * (fr.snated) is driven without a socket:
 *  - a Welcome moves the next sequence up to the broker's last + 1, never
 *    down, in the batch's transaction (rolled back with it), with one
 *    notice when it moved and none when it did not;
 *  - the broker's REJECTED REASON_REPLAY for a queued message re-signs it
 *    under a fresh sequence from the store: same msg_id, new seq, new hash,
 *    due again, still verifying under the sender's key and opening for
 *    each recipient with the same payload; the broker's ACCEPTED for the
 *    new bytes is then applied;
 *  - bounded: after EDGE_RESEQ_MAX re-signings with no Welcome between,
 *    the next REPLAY keeps it queued (not re-signed, never rejected for
 *    good: the counter is stale, not the message), logged, counted, and a
 *    Hello asked for; after a Welcome the next REPLAY re-signs it again;
 *  - the Welcome answering the Hello is lost (its batch rolled back): the
 *    queued referrals still end ACCEPTED, whether the broker sends a
 *    Welcome only for a Hello or also before each REPLAY;
 *  - the broker's CERT_INVALID for a queued message is never final: signed
 *    under a certificate since renewed, it is re-signed under the current
 *    one; under the current one, it stays queued and health says so;
 *  - the broker's UNKNOWN_RECIPIENT for a queued message whose recipient's
 *    encryption key was renewed meanwhile seals it again from the kept
 *    content key for the new key (same msg_id; the old key no longer opens
 *    it), and the kept copy is erased once ACCEPTED; the rejection stands
 *    for a key the directory still names, a recipient not valid here, a
 *    message without a kept copy, and past EDGE_RESEAL_MAX;
 *  - any other rejection is for good at once, as before.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "edge.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/protocol/egide_envelope.h"
#include "egide/protocol/egide_receipt.h"
#include "egide/wire/egide_wire.h"
#include "edge_fixture.h"
#include "egide_test.h"

#define R(x) EGIDE__V1__REASON_CODE__REASON_##x

static char s_dir[256];
static edge_t E;
static EVP_PKEY *s_broker_sign, *s_snated_sign_pub, *s_crip_enc, *s_tas_enc;
static uint8_t s_broker_fpr[32];
static int s_moved_notes, s_reseq_notes, s_for_good_notes, s_kept_notes;
static int s_resealed_notes, s_reseal_refused_notes;

static void s_sink(egide_log_level level, const char *line, void *arg)
{
    (void)arg;
    (void)level;
    if (strstr(line, "restored or reinstalled"))
        s_moved_notes++;
    if (strstr(line, "re-signed under sequence"))
        s_reseq_notes++;
    if (strstr(line, "rejected for good"))
        s_for_good_notes++;
    if (strstr(line, "kept queued (not rejected)"))
        s_kept_notes++;
    if (strstr(line, "sealed again for"))
        s_resealed_notes++;
    if (strstr(line, "refused recipient keys") || strstr(line, "names as well") ||
        strstr(line, "re-sealings: rejected") || strstr(line, "cannot be sealed again"))
        s_reseal_refused_notes++;
}

/* The 119's edge fr.snated: keys, trust, the signed directory, a store. */
static int s_setup(void)
{
    if (edge_fx_make_pki(s_dir, sizeof s_dir, "/tmp/egide-test-edge-restore.XXXXXX"))
        return -1;
    memset(&E, 0, sizeof E);
    pthread_mutex_init(&E.dir_lock, NULL);
    pthread_mutex_init(&E.api_lock, NULL);
    E.wake[0] = E.wake[1] = -1;
    egide_strlcpy(E.node_id, "fr.snated", sizeof E.node_id);
    E.clock_skew_ms = 300000;
    E.ttl_ms = 86400000;
    E.retry_min_ms = 1000;
    E.retry_max_ms = 60000;
    if (edge_fx_key(s_dir, "fr.snated", "sign.key", EGIDE_CERT_USE_SIGN, &E.sign_key) ||
        edge_fx_key(s_dir, "fr.snated", "enc.key", EGIDE_CERT_USE_ENC, &E.enc_key) ||
        edge_fx_cert(s_dir, "fr.snated", "sign.crt", EGIDE_CERT_USE_SIGN, &s_snated_sign_pub,
                     E.sign_fpr) ||
        edge_fx_key(s_dir, "71.broker", "sign.key", EGIDE_CERT_USE_SIGN, &s_broker_sign) ||
        edge_fx_cert(s_dir, "71.broker", "sign.crt", EGIDE_CERT_USE_SIGN, NULL, s_broker_fpr) ||
        edge_fx_key(s_dir, "71.crip", "enc.key", EGIDE_CERT_USE_ENC, &s_crip_enc) ||
        edge_fx_key(s_dir, "71.tas.macon", "enc.key", EGIDE_CERT_USE_ENC, &s_tas_enc))
        return -1;
    char p[512], root[512], chain[512], crl[512];
    snprintf(p, sizeof p, "%s/pki/authority/authority.crt", s_dir);
    snprintf(root, sizeof root, "%s/pki/ca/root.crt", s_dir);
    snprintf(chain, sizeof chain, "%s/pki/ca/chain.pem", s_dir);
    snprintf(crl, sizeof crl, "%s/pki/ca/crl.pem", s_dir);
    if (egide_cert_load(p, &E.anchor) || egide_trust_new(root, chain, crl, 0, &E.trust))
        return -1;
    snprintf(p, sizeof p, "%s/pki/directory.bin", s_dir);
    uint8_t *d = NULL;
    size_t dl = 0;
    if (egide_file_read(p, EGIDE_MAX_DIRECTORY, &d, &dl))
        return -1;
    snprintf(p, sizeof p, "%s/snated.db", s_dir);
    egide_rc rc = edge_store_sqlite_ops.open(p, &E.store);
    if (!rc)
        rc = edge_adopt_directory(&E, d, dl, true);
    free(d);
    return rc || !E.peers || strcmp(E.broker_id, "71.broker") != 0 ? -1 : 0;
}

static void s_teardown(void)
{
    edge_store_close(&E.store);
    egide_peers_destroy(&E.peers);
    egide_directory_destroy(&E.dir);
    egide_trust_destroy(&E.trust);
    X509_free(E.anchor);
    EVP_PKEY_free(E.sign_key);
    EVP_PKEY_free(E.enc_key);
    EVP_PKEY_free(s_broker_sign);
    EVP_PKEY_free(s_snated_sign_pub);
    EVP_PKEY_free(s_crip_enc);
    EVP_PKEY_free(s_tas_enc);
    pthread_mutex_destroy(&E.dir_lock);
    pthread_mutex_destroy(&E.api_lock);
    if (s_dir[0]) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
        edge_fx_sh(cmd);
    }
}

/* ------------------------------------------------------------ helpers */

/* The number next_seq would give now, without using one. */
static uint64_t s_next(void)
{
    uint64_t b = 0;
    if (edge_store_seq_raise(E.store, 0, &b, NULL) != EGIDE_OK)
        return 0;
    return b;
}

/* A Welcome handled in a batch's transaction, committed or rolled back. */
static egide_rc s_welcome(uint64_t last_seq, bool commit)
{
    egide_rc rc = edge_store_begin(E.store);
    if (!rc)
        rc = edge_outbox_welcome(&E, last_seq);
    if (!rc && commit)
        return edge_store_commit(E.store);
    edge_store_rollback(E.store);
    return rc;
}

/* A broker receipt for the message's current bytes, handled as the loop
 * does (one transaction); *acked: the relay was acknowledged. */
static egide_rc s_broker_receipt(const uint8_t id[16], int kind, int reason, uint64_t relay,
                                 bool *acked)
{
    edge_outbox_row_t row;
    egide_rc rc = edge_store_outbox_get(E.store, id, &row);
    if (rc)
        return rc;
    egide_receipt_params_t p = {
        .kind = kind,
        .msg_id = id,
        .envelope_sha256 = row.sha256,
        .issuer_id = "71.broker",
        .sender_id = "fr.snated",
        .reason = reason,
        .has_audit_leaf = kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_ACCEPTED,
        .audit_leaf_index = 17,
        .issuer_cert_fpr = s_broker_fpr,
    };
    uint8_t *r = NULL;
    size_t rl = 0;
    rc = egide_receipt_sign(&p, s_broker_sign, &r, &rl);
    if (rc)
        return rc;
    edge_out_t *o = calloc(1, sizeof *o);
    if (!o) {
        free(r);
        return EGIDE_ERR_NOMEM;
    }
    rc = edge_store_begin(E.store);
    if (!rc)
        rc = edge_outbox_receipt(&E, r, rl, relay, o);
    if (!rc)
        rc = edge_store_commit(E.store);
    if (rc)
        edge_store_rollback(E.store);
    *acked = !rc && o->n_acks == 1;
    edge_out_flush(&E, o, false);
    free(o);
    free(r);
    return rc;
}

static const uint8_t s_body[] = "{\"ip\":\"test only\"}";

/* Submit a referral from the 119 to the CRIP and the Mâconnais. */
static egide_rc s_submit(uint8_t id[16])
{
    const char *to[] = {"71.crip", "71.tas.macon"};
    return edge_submit(&E, E.store, "ip.transmission", to, 2, EGIDE__V1__URGENCY__URGENCY_NORMAL,
                       NULL, s_body, sizeof s_body - 1, NULL, id);
}

/* The stored bytes of message id: their header's msg_id and seq are the
 * row's, their hash the row's, they verify under the 119's key and open
 * for both recipients with the submitted payload. */
static int s_check_stored(const uint8_t id[16], uint64_t want_seq)
{
    uint8_t *env = NULL;
    size_t len = 0;
    edge_outbox_row_t row;
    if (edge_store_outbox_get(E.store, id, &row) ||
        edge_store_outbox_envelope(E.store, id, &env, &len))
        return -1;
    egide_envelope_t *pe = NULL;
    int bad = egide_envelope_parse(env, len, &pe) != EGIDE_OK;
    if (!bad) {
        const Egide__V1__EnvelopeHeader *h = egide_envelope_header(pe);
        uint8_t sha[32];
        egide_envelope_hash(pe, sha);
        bad |= h->msg_id.len != 16 || memcmp(h->msg_id.data, id, 16) != 0;
        bad |= h->sender_seq != want_seq || row.seq != want_seq;
        bad |= memcmp(sha, row.sha256, 32) != 0;
        bad |= egide_envelope_verify(pe, s_snated_sign_pub) != EGIDE_OK;
        const char *who[] = {"71.crip", "71.tas.macon"};
        EVP_PKEY *keys[] = {s_crip_enc, s_tas_enc};
        for (int i = 0; i < 2 && !bad; i++) {
            char *ct = NULL;
            uint8_t *pl = NULL;
            size_t pll = 0;
            bad |= egide_envelope_open(pe, who[i], keys[i], s_snated_sign_pub, &ct, &pl, &pll) !=
                   EGIDE_OK;
            bad |= !pl || pll != sizeof s_body - 1 || memcmp(pl, s_body, pll) != 0;
            free(ct);
            if (pl)
                egide_free_secret(pl, pll);
        }
    }
    egide_envelope_destroy(&pe);
    free(env);
    return bad ? -1 : 0;
}

typedef struct s_due {
    uint8_t id[16];
    uint64_t seq;
    int found;
} s_due_t;

static int s_find_due(const edge_outbox_due_t *m, void *arg)
{
    s_due_t *d = arg;
    if (memcmp(m->msg_id, d->id, 16) == 0 && m->seq == d->seq)
        d->found++;
    return 0;
}

/* Is message id queued and due now under sequence seq? */
static bool s_due_now(const uint8_t id[16], uint64_t seq)
{
    s_due_t d;
    memcpy(d.id, id, 16);
    d.seq = seq;
    d.found = 0;
    if (edge_store_outbox_due(E.store, egide_now_ms(), 256, s_find_due, &d) != EGIDE_OK)
        return false;
    return d.found == 1;
}

/* ------------------------------------------------------------ tests */

/* A Welcome raises the counter to the broker's last + 1, never lowers it,
 * is undone with a rolled-back batch, and is noted only when it moved. */
static void test_welcome(void)
{
    uint8_t id[16];
    REQUIRE(s_submit(id) == EGIDE_OK);
    edge_outbox_row_t row;
    REQUIRE(edge_store_outbox_get(E.store, id, &row) == EGIDE_OK);
    CHECK(row.seq == 1);
    CHECK(s_next() == 2);

    /* the broker holds no more than we do: nothing moves, nothing said */
    s_moved_notes = 0;
    CHECK_RC(s_welcome(0, true), EGIDE_OK);
    CHECK_RC(s_welcome(1, true), EGIDE_OK);
    CHECK(s_next() == 2 && s_moved_notes == 0);

    /* a rolled-back batch takes its Welcome with it */
    CHECK_RC(s_welcome(40, false), EGIDE_OK);
    CHECK(s_next() == 2);

    /* restored from a backup: the broker accepted up to 40 from us */
    s_moved_notes = 0;
    CHECK_RC(s_welcome(40, true), EGIDE_OK);
    CHECK(s_next() == 41 && s_moved_notes == 1);
    REQUIRE(s_submit(id) == EGIDE_OK);
    REQUIRE(edge_store_outbox_get(E.store, id, &row) == EGIDE_OK);
    CHECK(row.seq == 41);

    /* an older Welcome (or the same again) never moves it down */
    s_moved_notes = 0;
    CHECK_RC(s_welcome(12, true), EGIDE_OK);
    CHECK_RC(s_welcome(40, true), EGIDE_OK);
    CHECK_RC(s_welcome(41, true), EGIDE_OK);
    CHECK(s_next() == 42 && s_moved_notes == 0);

    /* an impossible number is ignored, not a store error */
    CHECK_RC(s_welcome(UINT64_MAX, true), EGIDE_OK);
    CHECK(s_next() == 42);
}

/* REJECTED REPLAY for a queued message: re-signed under a fresh sequence,
 * same msg_id, verifies and opens, due again; then ACCEPTED applies. */
static void test_replay_resequenced(void)
{
    uint8_t id[16];
    REQUIRE(s_submit(id) == EGIDE_OK);
    edge_outbox_row_t row;
    REQUIRE(edge_store_outbox_get(E.store, id, &row) == EGIDE_OK);
    uint64_t old_seq = row.seq;
    uint8_t old_sha[32];
    memcpy(old_sha, row.sha256, 32);
    CHECK(s_check_stored(id, old_seq) == 0);
    /* it was sent once: not due until its backoff */
    REQUIRE(edge_store_outbox_attempt(E.store, id, egide_now_ms() + 600000) == EGIDE_OK);
    CHECK(!s_due_now(id, old_seq));

    s_reseq_notes = 0;
    bool acked = false;
    CHECK_RC(s_broker_receipt(id, EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED, R(REPLAY), 0, &acked),
             EGIDE_OK);
    REQUIRE(edge_store_outbox_get(E.store, id, &row) == EGIDE_OK);
    CHECK(row.state == EDGE_OUT_QUEUED && row.reason == 0 && row.resequenced == 1);
    CHECK(row.seq == old_seq + 1 && memcmp(row.sha256, old_sha, 32) != 0);
    CHECK(s_check_stored(id, row.seq) == 0);
    CHECK(s_due_now(id, row.seq));
    CHECK(s_reseq_notes == 1);
    /* the fresh number is used up: the next message gets the one after */
    CHECK(s_next() == row.seq + 1);
    edge_rcpt_row_t rr[EGIDE_MAX_RECIPIENTS];
    size_t n = 0, pending = 0;
    CHECK_RC(edge_store_rcpt_list(E.store, id, rr, EGIDE_MAX_RECIPIENTS, &n, &pending), EGIDE_OK);
    CHECK(n == 2 && pending == 2);

    /* the broker's ACCEPTED for the new bytes is applied */
    CHECK_RC(s_broker_receipt(id, EGIDE__V1__RECEIPT_KIND__RECEIPT_ACCEPTED, 0, 0, &acked),
             EGIDE_OK);
    REQUIRE(edge_store_outbox_get(E.store, id, &row) == EGIDE_OK);
    CHECK(row.state == EDGE_OUT_ACCEPTED && row.has_accepted && row.leaf_index == 17);
    /* a REPLAY arriving after acceptance changes nothing */
    CHECK_RC(s_broker_receipt(id, EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED, R(REPLAY), 5, &acked),
             EGIDE_OK);
    CHECK(acked);
    REQUIRE(edge_store_outbox_get(E.store, id, &row) == EGIDE_OK);
    CHECK(row.state == EDGE_OUT_ACCEPTED && row.resequenced == 1);
}

/* Bounded: EDGE_RESEQ_MAX re-signings with no Welcome between; then the
 * REPLAY keeps the message queued and asks for a Welcome; after one, the
 * next REPLAY re-signs it.  (This test expected "after EDGE_RESEQ_MAX (3)
 * new sequence numbers: rejected for good"; that was the defect that lost
 * every referral queued by an edge whose Welcome was lost.) */
static void test_replay_bounded(void)
{
    uint8_t id[16];
    REQUIRE(s_submit(id) == EGIDE_OK);
    edge_outbox_row_t row;
    bool acked = false;
    s_for_good_notes = 0;
    s_kept_notes = 0;
    E.hello_wanted = false;
    uint64_t stalls = atomic_load(&E.m.reseq_stalls);
    for (int i = 1; i <= EDGE_RESEQ_MAX; i++) {
        CHECK_RC(s_broker_receipt(id, EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED, R(REPLAY),
                                  (uint64_t)(100 + i), &acked),
                 EGIDE_OK);
        CHECK(acked);
        REQUIRE(edge_store_outbox_get(E.store, id, &row) == EGIDE_OK);
        CHECK(row.state == EDGE_OUT_QUEUED && row.resequenced == i);
        CHECK(s_check_stored(id, row.seq) == 0);
    }
    CHECK(s_for_good_notes == 0 && !E.hello_wanted);
    uint64_t last_seq = row.seq;
    /* Past the bound, twice with no Welcome: kept queued as it is. */
    for (int i = 0; i < 2; i++) {
        CHECK_RC(s_broker_receipt(id, EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED, R(REPLAY),
                                  (uint64_t)(200 + i), &acked),
                 EGIDE_OK);
        CHECK(acked);
        REQUIRE(edge_store_outbox_get(E.store, id, &row) == EGIDE_OK);
        CHECK(row.state == EDGE_OUT_QUEUED && row.reason == 0);
        CHECK(row.seq == last_seq && row.resequenced == EDGE_RESEQ_MAX);
    }
    CHECK(s_for_good_notes == 0 && s_kept_notes == 2);
    CHECK(E.hello_wanted && atomic_load(&E.reseq_stalled));
    CHECK(atomic_load(&E.m.reseq_stalls) == stalls + 2);
    edge_rcpt_row_t rr[EGIDE_MAX_RECIPIENTS];
    size_t n = 0, pending = 0;
    CHECK_RC(edge_store_rcpt_list(E.store, id, rr, EGIDE_MAX_RECIPIENTS, &n, &pending), EGIDE_OK);
    CHECK(n == 2 && pending == 2);
    /* The Hello was sent (the loop clears the flag); its Welcome arrives. */
    E.hello_wanted = false;
    CHECK_RC(s_welcome(0, true), EGIDE_OK);
    CHECK_RC(
        s_broker_receipt(id, EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED, R(REPLAY), 210, &acked),
        EGIDE_OK);
    REQUIRE(edge_store_outbox_get(E.store, id, &row) == EGIDE_OK);
    CHECK(row.state == EDGE_OUT_QUEUED && row.resequenced == EDGE_RESEQ_MAX + 1);
    CHECK(row.seq > last_seq && s_check_stored(id, row.seq) == 0 && s_due_now(id, row.seq));
    CHECK(!atomic_load(&E.reseq_stalled) && !E.hello_wanted);
    CHECK_RC(s_broker_receipt(id, EGIDE__V1__RECEIPT_KIND__RECEIPT_ACCEPTED, 0, 0, &acked),
             EGIDE_OK);
    REQUIRE(edge_store_outbox_get(E.store, id, &row) == EGIDE_OK);
    CHECK(row.state == EDGE_OUT_ACCEPTED);
    CHECK(s_for_good_notes == 0);
}

/* The broker accepted sequences up to bmax from this node before it was
 * restored; the Welcome answering the edge's Hello is lost (its batch rolled
 * back), then two referrals are submitted.  The broker answers each Submit
 * as broker_admit does (a used sequence: REPLAY; else ACCEPTED), with a
 * Welcome before each REPLAY when welcome_with_replay, and a Welcome for
 * each Hello the edge asks for.  Both end ACCEPTED, none rejected. */
static void s_lost_welcome(bool welcome_with_replay)
{
    E.hello_wanted = false;
    uint64_t bmax = s_next() + 40;
    CHECK_RC(s_welcome(bmax, false), EGIDE_OK); /* lost */
    CHECK(s_next() <= bmax);
    uint8_t id[2][16];
    REQUIRE(s_submit(id[0]) == EGIDE_OK);
    REQUIRE(s_submit(id[1]) == EGIDE_OK);
    s_for_good_notes = 0;
    int hellos = 0;
    for (int round = 0; round < 60; round++) {
        for (int k = 0; k < 2; k++) {
            edge_outbox_row_t row;
            bool acked = false;
            REQUIRE(edge_store_outbox_get(E.store, id[k], &row) == EGIDE_OK);
            if (row.state != EDGE_OUT_QUEUED)
                continue;
            bool replay = row.seq <= bmax;
            if (replay && welcome_with_replay)
                CHECK_RC(s_welcome(bmax, true), EGIDE_OK);
            CHECK_RC(s_broker_receipt(id[k],
                                      replay ? EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED
                                             : EGIDE__V1__RECEIPT_KIND__RECEIPT_ACCEPTED,
                                      replay ? R(REPLAY) : 0, 0, &acked),
                     EGIDE_OK);
            if (E.hello_wanted) { /* the loop sends a Hello; its Welcome */
                E.hello_wanted = false;
                hellos++;
                CHECK_RC(s_welcome(bmax, true), EGIDE_OK);
            }
        }
    }
    for (int k = 0; k < 2; k++) {
        edge_outbox_row_t row;
        REQUIRE(edge_store_outbox_get(E.store, id[k], &row) == EGIDE_OK);
        CHECK(row.state == EDGE_OUT_ACCEPTED);
        CHECK(row.seq > bmax && s_check_stored(id[k], row.seq) == 0);
    }
    CHECK(s_for_good_notes == 0);
    CHECK(welcome_with_replay ? hellos == 0 : hellos >= 1);
    CHECK(s_next() > bmax + 2);
}

static void test_welcome_lost(void)
{
    s_lost_welcome(false);
}

static void test_welcome_lost_broker_welcomes_replays(void)
{
    s_lost_welcome(true);
}

/* Any other reason is a rejection for good at once, as before. */
static void test_other_rejection_unchanged(void)
{
    uint8_t id[16];
    REQUIRE(s_submit(id) == EGIDE_OK);
    edge_outbox_row_t row;
    REQUIRE(edge_store_outbox_get(E.store, id, &row) == EGIDE_OK);
    uint64_t seq = row.seq;
    bool acked = false;
    CHECK_RC(s_broker_receipt(id, EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED, R(FORBIDDEN_TYPE), 0,
                              &acked),
             EGIDE_OK);
    REQUIRE(edge_store_outbox_get(E.store, id, &row) == EGIDE_OK);
    CHECK(row.state == EDGE_OUT_REJECTED && row.reason == R(FORBIDDEN_TYPE));
    CHECK(row.seq == seq && row.resequenced == 0);
}

/* A certificate renewal with messages queued: the broker's CERT_INVALID
 * for an envelope signed under the certificate this node no longer uses
 * re-signs it under the current key and certificate (same msg_id, fresh
 * sequence, still opens for its recipients); CERT_INVALID for the current
 * certificate keeps it queued, never rejected, and says so in health
 * until the broker accepts something again. */
static void test_cert_renewal(void)
{
    uint8_t id[16];
    REQUIRE(s_submit(id) == EGIDE_OK);
    edge_outbox_row_t row;
    REQUIRE(edge_store_outbox_get(E.store, id, &row) == EGIDE_OK);
    uint64_t old_seq = row.seq;
    /* the node's certificate is renewed (a new key) while it is queued */
    EVP_PKEY *old_key = E.sign_key, *renewed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    REQUIRE(renewed != NULL);
    uint8_t old_fpr[32];
    memcpy(old_fpr, E.sign_fpr, 32);
    E.sign_key = renewed;
    memset(E.sign_fpr, 0x3c, 32);
    bool acked = false;
    CHECK_RC(
        s_broker_receipt(id, EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED, R(CERT_INVALID), 0, &acked),
        EGIDE_OK);
    REQUIRE(edge_store_outbox_get(E.store, id, &row) == EGIDE_OK);
    CHECK(row.state == EDGE_OUT_QUEUED && row.reason == 0 && row.resequenced == 1);
    CHECK(row.seq > old_seq && s_due_now(id, row.seq));
    uint8_t *env = NULL;
    size_t len = 0;
    uint8_t fpr[32];
    REQUIRE(edge_store_outbox_envelope(E.store, id, &env, &len) == EGIDE_OK);
    CHECK_RC(egide_envelope_sender_fpr(env, len, fpr), EGIDE_OK);
    CHECK(memcmp(fpr, E.sign_fpr, 32) == 0);
    egide_envelope_t *pe = NULL;
    REQUIRE(egide_envelope_parse(env, len, &pe) == EGIDE_OK);
    CHECK_RC(egide_envelope_verify(pe, renewed), EGIDE_OK);
    char *ct = NULL;
    uint8_t *pl = NULL;
    size_t pll = 0;
    CHECK_RC(egide_envelope_open(pe, "71.crip", s_crip_enc, renewed, &ct, &pl, &pll), EGIDE_OK);
    CHECK(pl && pll == sizeof s_body - 1 && memcmp(pl, s_body, pll) == 0);
    free(ct);
    if (pl)
        egide_free_secret(pl, pll);
    egide_envelope_destroy(&pe);
    free(env);
    CHECK(!atomic_load(&E.cert_refused));

    /* refused again under the current certificate: kept queued, loudly */
    uint64_t refusals = atomic_load(&E.m.cert_refusals);
    uint64_t seq = row.seq;
    CHECK_RC(
        s_broker_receipt(id, EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED, R(CERT_INVALID), 0, &acked),
        EGIDE_OK);
    REQUIRE(edge_store_outbox_get(E.store, id, &row) == EGIDE_OK);
    CHECK(row.state == EDGE_OUT_QUEUED && row.reason == 0 && row.resequenced == 1);
    CHECK(row.seq == seq);
    CHECK(atomic_load(&E.cert_refused));
    CHECK(atomic_load(&E.m.cert_refusals) == refusals + 1);
    /* the directories agree again: accepted, health clear */
    CHECK_RC(s_broker_receipt(id, EGIDE__V1__RECEIPT_KIND__RECEIPT_ACCEPTED, 0, 0, &acked),
             EGIDE_OK);
    REQUIRE(edge_store_outbox_get(E.store, id, &row) == EGIDE_OK);
    CHECK(row.state == EDGE_OUT_ACCEPTED);
    CHECK(!atomic_load(&E.cert_refused));
    E.sign_key = old_key;
    memcpy(E.sign_fpr, old_fpr, 32);
    EVP_PKEY_free(renewed);
}

/* 71.crip's encryption key renewed in this edge's directory (the peer
 * table edited in place, as a new directory would): a new key and
 * certificate fingerprint (fill byte f); the previous ones are given back
 * through *old_pub / old_fpr for s_crip_restore. */
static void s_crip_renew(uint8_t f, EVP_PKEY **nk, EVP_PKEY **old_pub, uint8_t old_fpr[32])
{
    egide_peer_t *p = (egide_peer_t *)egide_peers_get(E.peers, "71.crip");
    *nk = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    if (!p || !*nk)
        return;
    if (old_pub) {
        *old_pub = p->enc_pub;
        memcpy(old_fpr, p->enc_fpr, 32);
    } else {
        EVP_PKEY_free(p->enc_pub);
    }
    p->enc_pub = *nk;
    memset(p->enc_fpr, f, 32);
}

static void s_crip_restore(EVP_PKEY *old_pub, const uint8_t old_fpr[32])
{
    egide_peer_t *p = (egide_peer_t *)egide_peers_get(E.peers, "71.crip");
    EVP_PKEY_free(p->enc_pub);
    p->enc_pub = old_pub;
    memcpy(p->enc_fpr, old_fpr, 32);
}

/* Opens message id's stored bytes as node with key: the payload as
 * submitted?  EGIDE_OK or the first failure. */
static egide_rc s_opens(const uint8_t id[16], const char *node, EVP_PKEY *key)
{
    uint8_t *env = NULL;
    size_t len = 0;
    egide_rc rc = edge_store_outbox_envelope(E.store, id, &env, &len);
    egide_envelope_t *pe = NULL;
    if (!rc)
        rc = egide_envelope_parse(env, len, &pe);
    char *ct = NULL;
    uint8_t *pl = NULL;
    size_t pll = 0;
    if (!rc)
        rc = egide_envelope_open(pe, node, key, s_snated_sign_pub, &ct, &pl, &pll);
    if (!rc && (!pl || pll != sizeof s_body - 1 || memcmp(pl, s_body, pll) != 0))
        rc = EGIDE_ERR_PROTO;
    free(ct);
    if (pl)
        egide_free_secret(pl, pll);
    egide_envelope_destroy(&pe);
    free(env);
    return rc;
}

/* A recipient's encryption key renewed while a referral is queued here
 * (issue 13): the broker's REJECTED UNKNOWN_RECIPIENT ("recipient key is
 * not the directory's") seals it again from the kept content key for the
 * key this node's directory now names - same msg_id, fresh sequence, the
 * renewed recipient opens it with its new key and no longer with the old
 * one, the other recipient as before - and the kept copy is erased once
 * the broker ACCEPTED it.  The rejection stands when the directory still
 * names the refused key, when a recipient's certificates are not valid
 * here, when no copy was kept, and after EDGE_RESEAL_MAX re-sealings. */
static void test_recipient_key_renewed(void)
{
    uint8_t id[16];
    REQUIRE(s_submit(id) == EGIDE_OK);
    edge_outbox_row_t row;
    REQUIRE(edge_store_outbox_get(E.store, id, &row) == EGIDE_OK);
    CHECK(row.has_kept && row.resealed == 0);
    uint64_t seq0 = row.seq;
    EVP_PKEY *nk = NULL, *old_pub = NULL;
    uint8_t old_fpr[32];
    s_crip_renew(0x71, &nk, &old_pub, old_fpr);
    REQUIRE(nk != NULL && old_pub != NULL);
    int notes = s_resealed_notes;
    uint64_t counted = atomic_load(&E.m.resealed);
    bool acked = false;
    CHECK_RC(s_broker_receipt(id, EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED, R(UNKNOWN_RECIPIENT),
                              0, &acked),
             EGIDE_OK);
    REQUIRE(edge_store_outbox_get(E.store, id, &row) == EGIDE_OK);
    CHECK(row.state == EDGE_OUT_QUEUED && row.reason == 0 && row.resealed == 1);
    CHECK(row.has_kept && row.seq > seq0 && s_due_now(id, row.seq));
    CHECK(s_resealed_notes == notes + 1 && atomic_load(&E.m.resealed) == counted + 1);
    CHECK_RC(s_opens(id, "71.crip", nk), EGIDE_OK);
    CHECK_RC(s_opens(id, "71.crip", s_crip_enc), EGIDE_ERR_DECRYPT);
    CHECK_RC(s_opens(id, "71.tas.macon", s_tas_enc), EGIDE_OK);
    uint8_t *env = NULL;
    size_t len = 0;
    REQUIRE(edge_store_outbox_envelope(E.store, id, &env, &len) == EGIDE_OK);
    egide_envelope_t *pe = NULL;
    REQUIRE(egide_envelope_parse(env, len, &pe) == EGIDE_OK);
    CHECK(memcmp(egide_envelope_header(pe)->msg_id.data, id, 16) == 0);
    CHECK(egide_envelope_header(pe)->sender_seq == row.seq);
    egide_envelope_destroy(&pe);
    free(env);
    /* accepted: the kept copy is erased */
    CHECK_RC(s_broker_receipt(id, EGIDE__V1__RECEIPT_KIND__RECEIPT_ACCEPTED, 0, 0, &acked),
             EGIDE_OK);
    REQUIRE(edge_store_outbox_get(E.store, id, &row) == EGIDE_OK);
    CHECK(row.state == EDGE_OUT_ACCEPTED && !row.has_kept);
    uint8_t *kept = NULL;
    size_t kl = 0;
    CHECK_RC(edge_store_outbox_kept(E.store, id, &kept, &kl), EGIDE_ERR_NOTFOUND);

    /* refused for the key the directory names: nothing to seal again for */
    uint8_t id2[16];
    REQUIRE(s_submit(id2) == EGIDE_OK);
    int refused = s_reseal_refused_notes;
    CHECK_RC(s_broker_receipt(id2, EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED, R(UNKNOWN_RECIPIENT),
                              0, &acked),
             EGIDE_OK);
    REQUIRE(edge_store_outbox_get(E.store, id2, &row) == EGIDE_OK);
    CHECK(row.state == EDGE_OUT_REJECTED && row.reason == R(UNKNOWN_RECIPIENT));
    CHECK(row.resealed == 0 && !row.has_kept);
    CHECK(s_reseal_refused_notes == refused + 1);

    /* a recipient whose certificates are not valid here: stands */
    uint8_t id3[16];
    REQUIRE(s_submit(id3) == EGIDE_OK);
    egide_peer_t *crip = (egide_peer_t *)egide_peers_get(E.peers, "71.crip");
    REQUIRE(crip != NULL);
    crip->status = EGIDE_ERR_REVOKED;
    CHECK_RC(s_broker_receipt(id3, EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED, R(UNKNOWN_RECIPIENT),
                              0, &acked),
             EGIDE_OK);
    crip->status = EGIDE_OK;
    REQUIRE(edge_store_outbox_get(E.store, id3, &row) == EGIDE_OK);
    CHECK(row.state == EDGE_OUT_REJECTED && row.resealed == 0);
    CHECK(s_reseal_refused_notes == refused + 2);

    /* queued without a kept copy (before the migration): stands */
    uint8_t id4[16];
    REQUIRE(s_submit(id4) == EGIDE_OK);
    {
        char p[512];
        snprintf(p, sizeof p, "%s/snated.db", s_dir);
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        REQUIRE(sqlite3_open(p, &db) == SQLITE_OK);
        sqlite3_busy_timeout(db, 2000);
        REQUIRE(sqlite3_prepare_v2(db, "UPDATE outbox SET kept_cek=NULL WHERE msg_id=?", -1, &st,
                                   NULL) == SQLITE_OK);
        sqlite3_bind_blob(st, 1, id4, 16, SQLITE_STATIC);
        CHECK(sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(db) == 1);
        sqlite3_finalize(st);
        sqlite3_close(db);
    }
    EVP_PKEY *nk2 = NULL;
    s_crip_renew(0x72, &nk2, NULL, NULL);
    CHECK_RC(s_broker_receipt(id4, EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED, R(UNKNOWN_RECIPIENT),
                              0, &acked),
             EGIDE_OK);
    REQUIRE(edge_store_outbox_get(E.store, id4, &row) == EGIDE_OK);
    CHECK(row.state == EDGE_OUT_REJECTED && row.resealed == 0);
    CHECK(s_reseal_refused_notes == refused + 3);

    /* bounded: renewed again and again, sealed again EDGE_RESEAL_MAX
     * times, then the rejection stands */
    uint8_t id5[16];
    REQUIRE(s_submit(id5) == EGIDE_OK);
    for (int i = 0; i <= EDGE_RESEAL_MAX; i++) {
        EVP_PKEY *k = NULL;
        s_crip_renew((uint8_t)(0x80 + i), &k, NULL, NULL);
        REQUIRE(k != NULL);
        CHECK_RC(s_broker_receipt(id5, EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED,
                                  R(UNKNOWN_RECIPIENT), 0, &acked),
                 EGIDE_OK);
        REQUIRE(edge_store_outbox_get(E.store, id5, &row) == EGIDE_OK);
        if (i < EDGE_RESEAL_MAX) {
            CHECK(row.state == EDGE_OUT_QUEUED && row.resealed == i + 1);
            CHECK_RC(s_opens(id5, "71.crip", k), EGIDE_OK);
        }
    }
    CHECK(row.state == EDGE_OUT_REJECTED && row.resealed == EDGE_RESEAL_MAX && !row.has_kept);
    CHECK(s_reseal_refused_notes == refused + 4);
    s_crip_restore(old_pub, old_fpr);
}

/* Before sending: a referral never sent whose envelope names a key this
 * node's directory has since renewed is sealed again first (the broker
 * never sees the stale key, no refusal is needed); one already sent is
 * not (its bytes may have been accepted) and waits for the broker's
 * answer. */
static void test_recipient_key_renewed_before_send(void)
{
    uint8_t id[16], sent[16];
    REQUIRE(s_submit(id) == EGIDE_OK);
    REQUIRE(s_submit(sent) == EGIDE_OK);
    CHECK_RC(edge_store_outbox_attempt(E.store, sent, 0), EGIDE_OK); /* sent once, due again */
    EVP_PKEY *nk = NULL, *old_pub = NULL;
    uint8_t old_fpr[32];
    s_crip_renew(0x91, &nk, &old_pub, old_fpr);
    REQUIRE(nk != NULL && old_pub != NULL);
    edge_outbox_row_t row;
    REQUIRE(edge_store_outbox_get(E.store, id, &row) == EGIDE_OK);
    uint64_t seq0 = row.seq;
    /* connected, but no socket: the sends themselves fail (left due) */
    atomic_store(&E.connected, true);
    edge_outbox_send(&E);
    atomic_store(&E.connected, false);
    REQUIRE(edge_store_outbox_get(E.store, id, &row) == EGIDE_OK);
    CHECK(row.state == EDGE_OUT_QUEUED && row.resealed == 1 && row.seq > seq0);
    CHECK(row.attempts == 0 && row.has_kept && s_due_now(id, row.seq));
    CHECK_RC(s_opens(id, "71.crip", nk), EGIDE_OK);
    CHECK_RC(s_opens(id, "71.crip", s_crip_enc), EGIDE_ERR_DECRYPT);
    CHECK_RC(s_opens(id, "71.tas.macon", s_tas_enc), EGIDE_OK);
    REQUIRE(edge_store_outbox_get(E.store, sent, &row) == EGIDE_OK);
    CHECK(row.state == EDGE_OUT_QUEUED && row.resealed == 0 && row.attempts == 1);
    CHECK_RC(s_opens(sent, "71.crip", s_crip_enc), EGIDE_OK);
    /* the next pass finds nothing to seal again */
    atomic_store(&E.connected, true);
    edge_outbox_send(&E);
    atomic_store(&E.connected, false);
    REQUIRE(edge_store_outbox_get(E.store, id, &row) == EGIDE_OK);
    CHECK(row.resealed == 1);
    s_crip_restore(old_pub, old_fpr);
    /* settle both, so the tests after see nothing queued from here */
    bool acked = false;
    CHECK_RC(s_broker_receipt(id, EGIDE__V1__RECEIPT_KIND__RECEIPT_ACCEPTED, 0, 0, &acked),
             EGIDE_OK);
    CHECK_RC(s_broker_receipt(sent, EGIDE__V1__RECEIPT_KIND__RECEIPT_ACCEPTED, 0, 0, &acked),
             EGIDE_OK);
}

int main(void)
{
    egide_log_set_sink(s_sink, NULL);
    if (s_setup() != 0) {
        fprintf(stderr, "setup failed\n");
        s_teardown();
        return 1;
    }
    RUN(test_welcome);
    RUN(test_replay_resequenced);
    RUN(test_replay_bounded);
    RUN(test_other_rejection_unchanged);
    RUN(test_cert_renewal);
    RUN(test_recipient_key_renewed);
    RUN(test_recipient_key_renewed_before_send);
    RUN(test_welcome_lost);
    RUN(test_welcome_lost_broker_welcomes_replays);
    s_teardown();
    EGIDE_TEST_DONE();
}
