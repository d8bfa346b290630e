/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_outbox.c - what this node sends: sealing and queueing a submission
 * (from the API or the loop), resending the exact sealed bytes with backoff
 * until the broker's ACCEPTED, the receipts that come back for what we sent
 * (each verified against its issuer's key, stored, applied to the message's
 * or one recipient's state), acknowledgements by the recipients' people,
 * expiry, and the submit-to-delivered latency.
 *
 * A store error is returned to the loop, which rolls the batch back and
 * acknowledges nothing: the broker relays the receipt again.
 */
#include "edge.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/domain/egide_observatory.h"
#include "egide/domain/egide_payload.h"
#include "egide/protocol/egide_envelope.h"
#include "egide/protocol/egide_receipt.h"
#include "egide/wire/egide_frame.h"
#include "egide/wire/egide_wire.h"

#define R(x)       EGIDE__V1__REASON_CODE__REASON_##x
#define SEND_BATCH 256

/* ------------------------------------------------------------ submit */

/* A node's directory role (edge_oblig_self_t.role_of), under dir_lock. */
static void s_role_of(void *arg, const char *node_id, char *buf, size_t size)
{
    edge_t *e = arg;
    buf[0] = '\0';
    pthread_mutex_lock(&e->dir_lock);
    const Egide__V1__NodeEntry *ne = e->dir ? egide_directory_node(e->dir, node_id) : NULL;
    if (ne && ne->role)
        egide_strlcpy(buf, ne->role, size);
    pthread_mutex_unlock(&e->dir_lock);
}

egide_rc edge_obligations_note(edge_t *e, edge_store_t *st, const uint8_t msg_id[16],
                               const char *type, bool sent, const char *sender_id,
                               const char *const *rcpt_ids, size_t n_rcpt, int64_t case_id,
                               int64_t time_ms, const egide_payload_facts_t *facts)
{
    const egide_deadline_profile_t *profile = edge_profile(e);
    if (!profile || n_rcpt > EGIDE_MAX_RECIPIENTS)
        return EGIDE_OK;
    /* The roles are copied under dir_lock: the directory may be replaced
     * by the loop meanwhile. */
    char roles[EGIDE_MAX_RECIPIENTS + 1][32];
    const char *rp[EGIDE_MAX_RECIPIENTS];
    memset(roles, 0, sizeof roles);
    pthread_mutex_lock(&e->dir_lock);
    for (size_t i = 0; i <= n_rcpt; i++) {
        const char *id = i < n_rcpt ? rcpt_ids[i] : sender_id;
        const Egide__V1__NodeEntry *ne = e->dir && id ? egide_directory_node(e->dir, id) : NULL;
        if (ne && ne->role)
            egide_strlcpy(roles[i], ne->role, sizeof roles[i]);
    }
    pthread_mutex_unlock(&e->dir_lock);
    for (size_t i = 0; i < n_rcpt; i++)
        rp[i] = roles[i];
    edge_oblig_self_t self = {profile, e->node_id, e->role, s_role_of, e};
    edge_oblig_msg_t m = {
        .msg_id = msg_id,
        .type = type,
        .sent = sent,
        .sender_id = sender_id,
        .sender_role = roles[n_rcpt],
        .rcpt_ids = rcpt_ids,
        .rcpt_roles = rp,
        .n_rcpt = n_rcpt,
        .case_id = case_id,
        .time_ms = time_ms,
        .facts = facts,
    };
    return edge_oblig_note(&self, st, &m);
}

/* Resolve recipients under dir_lock and seal; *env is the caller's.  With
 * an encryption key of its own (every edge has one), keep gets the content
 * key sealed to it and *kept is true: queued with the message until the
 * broker takes it, so that it can be sealed again if a recipient's key is
 * renewed meanwhile (s_reseal). */
static egide_rc s_seal(edge_t *e, edge_store_t *st, const char *type, const char *const *to,
                       size_t n_to, int urgency, const uint8_t *in_reply_to, const uint8_t *pb,
                       size_t pb_len, uint8_t **env, size_t *len, uint8_t msg_id[16],
                       uint8_t keep[EGIDE_ENVELOPE_KEEP_LEN], bool *kept)
{
    *kept = false;
    egide_seal_recipient_t rcpts[EGIDE_MAX_RECIPIENTS];
    egide_rc rc = EGIDE_OK;
    uint64_t seq = 0;
    pthread_mutex_lock(&e->dir_lock);
    for (size_t i = 0; i < n_to && !rc; i++) {
        const egide_peer_t *p = egide_peers_get(e->peers, to[i]);
        if (!p)
            rc = EGIDE_ERR_NOTFOUND;
        else if (p->status)
            rc = p->status;
        else
            rcpts[i] = (egide_seal_recipient_t){p->node->id, p->enc_pub, p->enc_fpr};
    }
    if (!rc)
        rc = edge_store_next_seq(st, &seq);
    if (!rc) {
        int64_t now = egide_now_ms();
        egide_seal_params_t sp = {
            .sender_id = e->node_id,
            .sign_key = e->sign_key,
            .sign_cert_fpr = e->sign_fpr,
            .recipients = rcpts,
            .n_recipients = n_to,
            .message_type = type,
            .urgency = urgency,
            .in_reply_to = in_reply_to,
            .sender_seq = seq,
            .created_ms = now,
            .expires_ms = now + e->ttl_ms,
            .content_type = egide_payload_content_type(type),
            .payload = pb,
            .payload_len = pb_len,
        };
        if (e->enc_key && EVP_PKEY_get_id(e->enc_key) == EVP_PKEY_X25519) {
            rc = egide_envelope_seal_kept(&sp, e->enc_key, env, len, msg_id, keep);
            *kept = rc == EGIDE_OK;
        } else {
            rc = egide_envelope_seal(&sp, env, len, msg_id);
        }
    }
    pthread_mutex_unlock(&e->dir_lock);
    return rc;
}

/* Queue sealed bytes as they will be sent (the header as parsed back),
 * joined to their case, with what they do to this node's obligations.
 * pb is the plaintext that was sealed: its copy is kept in the outbox
 * only for the types that make observatory events and have their own
 * structured payload (the export reads it back, edge_export.c); the
 * copy never leaves the edge, only env is sent. */
static egide_rc s_queue(edge_t *e, edge_store_t *st, const uint8_t *env, size_t len,
                        const uint8_t *pb, size_t pb_len, const egide_payload_facts_t *facts,
                        const uint8_t *keep)
{
    egide_envelope_t *parsed = NULL;
    egide_rc rc = egide_envelope_parse(env, len, &parsed);
    if (rc)
        return rc;
    const Egide__V1__EnvelopeHeader *h = egide_envelope_header(parsed);
    uint8_t sha[32];
    egide_envelope_hash(parsed, sha);
    const char *ids[EGIDE_MAX_RECIPIENTS];
    int64_t case_id = 0;
    size_t n = h->n_recipients < EGIDE_MAX_RECIPIENTS ? h->n_recipients : EGIDE_MAX_RECIPIENTS;
    for (size_t i = 0; i < n; i++)
        ids[i] = h->recipients[i]->node_id;
    /* In the struct's order: id, seq, type, urgency, in_reply_to, times,
     * the bytes and their hash, the recipients. */
    edge_outbox_msg_t m = {h->msg_id.data,
                           h->sender_seq,
                           h->message_type,
                           h->urgency,
                           h->in_reply_to.len == 16 ? h->in_reply_to.data : NULL,
                           h->created_ms,
                           h->expires_ms,
                           env,
                           len,
                           sha,
                           ids,
                           n,
                           facts ? facts->case_ref : NULL,
                           facts ? facts->commune : NULL,
                           &case_id,
                           NULL,
                           NULL,
                           0,
                           keep,
                           keep ? EGIDE_ENVELOPE_KEEP_LEN : 0};
    const char *ct = egide_payload_content_type(h->message_type);
    const char *ptype = egide_payload_type_for_content_type(ct);
    if (pb && egide_observatory_type_counted(h->message_type) && ptype &&
        strcmp(ptype, h->message_type) == 0) {
        m.content_type = ct;
        m.payload = pb;
        m.payload_len = pb_len;
    }
    rc = edge_store_outbox_add(st, &m);
    if (!rc)
        rc = edge_obligations_note(e, st, h->msg_id.data, h->message_type, true, e->node_id, ids, n,
                                   case_id, h->created_ms, facts);
    egide_envelope_destroy(&parsed);
    return rc;
}

egide_rc edge_submit_in(edge_t *e, edge_store_t *st, const char *type, const char *const *to,
                        size_t n_to, int urgency, const uint8_t *in_reply_to, const uint8_t *pb,
                        size_t pb_len, const egide_payload_facts_t *facts, uint8_t msg_id[16])
{
    if (n_to == 0 || n_to > EGIDE_MAX_RECIPIENTS)
        return EGIDE_ERR_LIMIT;
    uint8_t *env = NULL;
    size_t len = 0;
    uint8_t keep[EGIDE_ENVELOPE_KEEP_LEN];
    bool kept = false;
    egide_rc rc = s_seal(e, st, type, to, n_to, urgency, in_reply_to, pb, pb_len, &env, &len,
                         msg_id, keep, &kept);
    if (!rc)
        rc = s_queue(e, st, env, len, pb, pb_len, facts, kept ? keep : NULL);
    egide_wipe(keep, sizeof keep);
    free(env);
    return rc;
}

void edge_outbox_queued(edge_t *e)
{
    atomic_fetch_add(&e->m.submitted, 1);
    ssize_t w = write(e->wake[1], "x", 1);
    (void)w; /* a full pipe already wakes the loop */
}

egide_rc edge_submit(edge_t *e, edge_store_t *st, const char *type, const char *const *to,
                     size_t n_to, int urgency, const uint8_t *in_reply_to, const uint8_t *pb,
                     size_t pb_len, const egide_payload_facts_t *facts, uint8_t msg_id[16])
{
    egide_rc rc = edge_store_begin(st);
    if (!rc)
        rc = edge_submit_in(e, st, type, to, n_to, urgency, in_reply_to, pb, pb_len, facts, msg_id);
    if (!rc)
        rc = edge_store_commit(st);
    if (rc) {
        edge_store_rollback(st);
        return rc;
    }
    edge_outbox_queued(e);
    return EGIDE_OK;
}

/* ------------------------------------------------------------ sequence */

egide_rc edge_outbox_welcome(edge_t *e, uint64_t last_seq)
{
    uint64_t before = 0, after = 0;
    egide_rc rc = edge_store_seq_raise(e->store, last_seq, &before, &after);
    if (rc == EGIDE_ERR_LIMIT || rc == EGIDE_ERR_INVALID) {
        egide_log(EGIDE_LOG_WARNING,
                  "welcome from the broker with an impossible sequence %llu:"
                  " ignored",
                  (unsigned long long)last_seq);
        return EGIDE_OK;
    }
    /* A counter that went further past the broker's last number than the
     * broker ever accepts (a jump it refuses as a replay, for good: a
     * damaged or edited store) would stall every message: it is set back
     * just above what the broker and this outbox hold. */
    if (!rc && after > last_seq + 1 && after - 1 - last_seq > EDGE_SEQ_FAR) {
        uint64_t lowered = 0;
        rc = edge_store_seq_lower(e->store, last_seq, last_seq + EDGE_SEQ_FAR, &lowered);
        if (!rc) {
            egide_log(EGIDE_LOG_ERROR,
                      "this node's sequence counter (next %llu) is further past the broker's "
                      "last number from it (%llu) than the broker accepts: set back to %llu; "
                      "queued messages are re-signed under new numbers",
                      (unsigned long long)after, (unsigned long long)last_seq,
                      (unsigned long long)lowered);
            atomic_fetch_add(&e->m.seq_lowered, 1);
            after = lowered;
        }
    }
    if (!rc)
        e->welcomes++; /* a REPLAY after it may re-sign past EDGE_RESEQ_MAX */
    if (!rc && after > before)
        egide_log(EGIDE_LOG_NOTICE,
                  "the broker holds sequence numbers up to %llu from this node but the next one"
                  " here was %llu: this edge was restored or reinstalled; resuming at %llu",
                  (unsigned long long)last_seq, (unsigned long long)before,
                  (unsigned long long)after);
    return rc;
}

/* What s_resign needs to seal a message again for its recipients'
 * current keys (s_reseal): the kept copy of its content key and the
 * recipients' keys, in the header's order (references held). */
typedef struct s_reseal_in {
    const uint8_t *kept;
    size_t kept_len;
    const egide_seal_recipient_t *rcpts;
    size_t n;
    size_t renewed; /* how many of them differ from the envelope's */
} s_reseal_in_t;

/* Re-sign a QUEUED message under a fresh sequence and this node's current
 * signing key and certificate, and queue it again (due now).  With rs, it
 * is sealed again for rs's recipient keys first (the content key opened
 * from the kept copy through the key holder; the payload's ciphertext
 * unchanged) and counted as a re-sealing instead.  *done true when it
 * was, or when it stays queued for another reason; false when it cannot
 * be re-signed (the rejection then stands).  `why` names the broker's
 * refusal for the log.  Store errors returned. */
static egide_rc s_resign(edge_t *e, const uint8_t msg_id[16], const edge_outbox_row_t *row,
                         const char *why, const s_reseal_in_t *rs, bool *done)
{
    char hex[33];
    egide_hex_encode(msg_id, 16, hex);
    uint8_t *env = NULL, *out = NULL;
    size_t len = 0, out_len = 0;
    uint64_t seq = 0;
    egide_rc rc = edge_store_outbox_envelope(e->store, msg_id, &env, &len);
    if (!rc)
        rc = edge_store_next_seq(e->store, &seq);
    if (rc)
        goto done;
    egide_rc crc =
        rs ? egide_envelope_reseal(env, len, rs->kept, rs->kept_len, e->enc_key, rs->rcpts, rs->n,
                                   seq, e->sign_key, e->sign_fpr, &out, &out_len, NULL)
           : egide_envelope_resequence(env, len, seq, e->sign_key, e->sign_fpr, &out, &out_len);
    egide_envelope_t *parsed = NULL;
    if (!crc)
        crc = egide_envelope_parse(out, out_len, &parsed);
    if (crc == EGIDE_ERR_NOMEM || crc == EGIDE_ERR_UNAVAILABLE) {
        rc = crc; /* transient: the broker's answer is relayed again */
        goto done;
    }
    if (crc) {
        egide_log(EGIDE_LOG_WARNING, "message %s refused (%s) cannot be %s (%s): rejected", hex,
                  why, rs ? "sealed again" : "re-signed", egide_strerror(crc));
        goto done;
    }
    uint8_t sha[32];
    egide_envelope_hash(parsed, sha);
    egide_envelope_destroy(&parsed);
    bool changed = false;
    rc = rs ? edge_store_outbox_reseal(e->store, msg_id, seq, out, out_len, sha, &changed)
            : edge_store_outbox_resequence(e->store, msg_id, seq, out, out_len, sha, &changed);
    if (rc == EGIDE_ERR_EXISTS) {
        /* next_seq gave a number another row holds: the store is not what
         * it promises; leave the message queued, its retry asks again. */
        egide_log(EGIDE_LOG_ERROR, "message %s: sequence %llu is held by another message", hex,
                  (unsigned long long)seq);
        rc = EGIDE_OK;
        *done = true;
        goto done;
    }
    if (!rc && changed && rs) {
        *done = true;
        atomic_fetch_add(&e->m.resealed, 1);
        egide_log(EGIDE_LOG_NOTICE,
                  "message %s: %s; sealed again for %zu renewed"
                  " recipient key(s) of this node's directory, re-signed under sequence %llu"
                  " (was %llu), queued again (re-sealing %d of at most %d)",
                  hex, why, rs->renewed, (unsigned long long)seq, (unsigned long long)row->seq,
                  row->resealed + 1, EDGE_RESEAL_MAX);
    } else if (!rc && changed) {
        *done = true;
        egide_log(EGIDE_LOG_NOTICE,
                  "message %s: the broker refused it (%s); re-signed under sequence %llu (was"
                  " %llu) and this node's current certificate, queued again (re-signing %d)",
                  hex, why, (unsigned long long)seq, (unsigned long long)row->seq,
                  row->resequenced + 1);
    }
done:
    free(env);
    free(out);
    return rc;
}

/* A REJECTED REPLAY for a queued message: re-sign it under a fresh
 * sequence and queue it again.  *done true when it was, or when it is kept
 * queued waiting for a Welcome (the rejection is then not applied); false
 * when the rejection stands (not queued, or the envelope cannot be
 * re-signed).  A REPLAY is about the counter, never the message: past
 * EDGE_RESEQ_MAX re-signings with no Welcome since the last REPLAY, a new
 * number from the same counter would be stale again, so the message waits
 * (loudly: log, metric, health) and a Hello asks the broker for a Welcome;
 * the next REPLAY after one re-signs it.  Store errors returned. */
static egide_rc s_resequence(edge_t *e, const uint8_t msg_id[16], bool *done)
{
    *done = false;
    edge_outbox_row_t row;
    egide_rc rc = edge_store_outbox_get(e->store, msg_id, &row);
    if (rc == EGIDE_ERR_NOTFOUND)
        return EGIDE_OK;
    if (rc || row.state != EDGE_OUT_QUEUED)
        return rc;
    bool welcomed = e->welcomes != e->welcomes_at_replay;
    e->welcomes_at_replay = e->welcomes;
    if (row.resequenced >= EDGE_RESEQ_MAX && !welcomed) {
        char hex[33];
        egide_hex_encode(msg_id, 16, hex);
        egide_log(EGIDE_LOG_ERROR,
                  "message %s refused as a replay again after %d new sequence numbers: this"
                  " node's sequence counter is behind the broker's; kept queued (not"
                  " rejected), asking the broker for a Welcome before re-signing it again",
                  hex, row.resequenced);
        atomic_fetch_add(&e->m.reseq_stalls, 1);
        atomic_store(&e->reseq_stalled, true);
        e->hello_wanted = true;
        *done = true;
        return EGIDE_OK;
    }
    rc = s_resign(e, msg_id, &row, "sequence already used", NULL, done);
    if (!rc && *done && row.resequenced >= EDGE_RESEQ_MAX)
        atomic_store(&e->reseq_stalled, false); /* re-signed after a Welcome */
    return rc;
}

/* A REJECTED CERT_INVALID for a queued message: the broker's directory
 * names another signing certificate for this node than the envelope does,
 * or holds this node's as not valid.  Either is a certificate in flux (a
 * renewal, a directory being published), never the referral's fault, so it
 * is never final here.  Signed under a certificate this node no longer
 * uses: re-signed under the current one.  Signed under the current one:
 * kept queued and retried with the usual backoff until the directories
 * agree or the message expires (health says so, a counter counts).  *done
 * as for s_resequence. */
static egide_rc s_recertify(edge_t *e, const uint8_t msg_id[16], bool *done)
{
    *done = false;
    edge_outbox_row_t row;
    egide_rc rc = edge_store_outbox_get(e->store, msg_id, &row);
    if (rc == EGIDE_ERR_NOTFOUND)
        return EGIDE_OK;
    if (rc || row.state != EDGE_OUT_QUEUED)
        return rc;
    uint8_t *env = NULL;
    size_t len = 0;
    uint8_t fpr[32];
    rc = edge_store_outbox_envelope(e->store, msg_id, &env, &len);
    if (rc)
        return rc;
    egide_rc frc = egide_envelope_sender_fpr(env, len, fpr);
    free(env);
    if (!frc && memcmp(fpr, e->sign_fpr, 32) != 0)
        return s_resign(e, msg_id, &row, "signed under a certificate since renewed", NULL, done);
    char hex[33];
    egide_hex_encode(msg_id, 16, hex);
    egide_log(EGIDE_LOG_WARNING,
              "message %s: the broker does not hold this node's signing certificate as valid;"
              " kept queued (not rejected) and retried: check the certificate and the"
              " directory's version",
              hex);
    atomic_fetch_add(&e->m.cert_refusals, 1);
    atomic_store(&e->cert_refused, true);
    *done = true;
    return EGIDE_OK;
}

/* A REJECTED UNKNOWN_RECIPIENT for a queued message: the broker holds a
 * recipient's key as not the directory's, which a renewal of that key (new
 * certificate, new directory) while the message waited here causes.  When
 * this node kept the content key (messages queued since it does) and its
 * directory now names another key for at least one recipient, the message
 * is sealed again for the current keys and re-signed (s_resign), same
 * msg_id, at most EDGE_RESEAL_MAX times.  The rejection stands (*done
 * false), with the reason logged, when a recipient is not in this node's
 * directory or its certificates are not valid (a recipient genuinely
 * unknown), when the directory names the keys the envelope was sealed for
 * (nothing to re-seal for), when no copy was kept, or past the bound.
 * Store errors and a key holder that is down are returned (transient: the
 * receipt is relayed again).  before_send: called for a message never sent
 * yet whose envelope names another key than the directory for a recipient
 * (s_send_one), so it is sealed again before the broker sees the stale
 * key; then nothing is logged when it is not (it is sent as it is, and the
 * broker decides). */
static egide_rc s_reseal(edge_t *e, const uint8_t msg_id[16], bool before_send, bool *done)
{
    *done = false;
    edge_outbox_row_t row;
    egide_rc rc = edge_store_outbox_get(e->store, msg_id, &row);
    if (rc == EGIDE_ERR_NOTFOUND)
        return EGIDE_OK;
    if (rc || row.state != EDGE_OUT_QUEUED)
        return rc;
    char hex[33];
    egide_hex_encode(msg_id, 16, hex);
    if (!row.has_kept) {
        if (!before_send)
            egide_log(EGIDE_LOG_WARNING,
                      "message %s: the broker holds a recipient's key as not the directory's; no"
                      " copy of its content key was kept (queued before this edge kept one), so it"
                      " cannot be sealed again: rejected",
                      hex);
        return EGIDE_OK;
    }
    if (row.resealed >= EDGE_RESEAL_MAX) {
        if (!before_send)
            egide_log(EGIDE_LOG_WARNING,
                      "message %s: the broker refused a recipient's key again after %d re-sealings:"
                      " rejected",
                      hex, row.resealed);
        return EGIDE_OK;
    }
    uint8_t *env = NULL, *kept = NULL;
    size_t len = 0, kept_len = 0, n = 0, renewed = 0;
    egide_envelope_t *parsed = NULL;
    egide_seal_recipient_t rcpts[EGIDE_MAX_RECIPIENTS];
    uint8_t fprs[EGIDE_MAX_RECIPIENTS][32];
    char unknown[EGIDE_MAX_NODE_ID + 1] = "";
    const char *unknown_why = "";
    uint64_t dir_version = 0;
    memset(rcpts, 0, sizeof rcpts);
    rc = edge_store_outbox_envelope(e->store, msg_id, &env, &len);
    if (!rc)
        rc = edge_store_outbox_kept(e->store, msg_id, &kept, &kept_len);
    if (rc == EGIDE_ERR_NOTFOUND)
        rc = EGIDE_OK; /* erased meanwhile: the rejection stands */
    if (rc || !kept)
        goto done;
    if (egide_envelope_parse(env, len, &parsed) != EGIDE_OK)
        goto done; /* our own bytes: s_resign would say the same */
    const Egide__V1__EnvelopeHeader *h = egide_envelope_header(parsed);
    n = h->n_recipients < EGIDE_MAX_RECIPIENTS ? h->n_recipients : EGIDE_MAX_RECIPIENTS;
    /* The keys are referenced under dir_lock: the directory may be replaced
     * meanwhile (by this thread only, but the references keep it simple). */
    pthread_mutex_lock(&e->dir_lock);
    dir_version = e->dir ? egide_directory_version(e->dir) : 0;
    for (size_t i = 0; i < n && !unknown[0]; i++) {
        const char *id = h->recipients[i]->node_id;
        const egide_peer_t *p = egide_peers_get(e->peers, id);
        if (!p || p->status != EGIDE_OK || !p->enc_pub) {
            egide_strlcpy(unknown, id, sizeof unknown);
            unknown_why = !p ? "is not in" : "has certificates that are not valid in";
            break;
        }
        if (EVP_PKEY_up_ref(p->enc_pub) != 1) {
            rc = EGIDE_ERR_NOMEM;
            break;
        }
        memcpy(fprs[i], p->enc_fpr, 32);
        rcpts[i] = (egide_seal_recipient_t){id, p->enc_pub, fprs[i]};
        if (h->recipients[i]->key_fingerprint.len != 32 ||
            memcmp(h->recipients[i]->key_fingerprint.data, p->enc_fpr, 32) != 0)
            renewed++;
    }
    pthread_mutex_unlock(&e->dir_lock);
    if (rc)
        goto done;
    if (unknown[0]) {
        if (!before_send)
            egide_log(EGIDE_LOG_WARNING,
                      "message %s: the broker refused recipient keys; recipient %s %s this node's"
                      " directory v%llu: rejected",
                      hex, unknown, unknown_why, (unsigned long long)dir_version);
        goto done;
    }
    if (renewed == 0) {
        if (!before_send)
            egide_log(
                EGIDE_LOG_WARNING,
                "message %s: the broker refused the recipient keys this node's directory v%llu"
                " names as well (the broker's directory differs): rejected",
                hex, (unsigned long long)dir_version);
        goto done;
    }
    s_reseal_in_t rs = {kept, kept_len, rcpts, n, renewed};
    rc = s_resign(e, msg_id, &row,
                  before_send ? "this node's directory names a renewed key for a recipient"
                              : "the broker refused it (a recipient key is not the directory's)",
                  &rs, done);
done:
    for (size_t i = 0; i < n; i++)
        EVP_PKEY_free(rcpts[i].enc_pub);
    egide_envelope_destroy(&parsed);
    if (kept)
        egide_free_secret(kept, kept_len);
    free(env);
    return rc;
}

/* ------------------------------------------------------------ resending */

static int64_t s_backoff(const edge_t *e, int attempts)
{
    int64_t d = e->retry_min_ms;
    for (int i = 1; i < attempts && d < e->retry_max_ms; i++)
        d *= 2;
    return d < e->retry_max_ms ? d : e->retry_max_ms;
}

#define SEND_STALE_MAX 16 /* re-sealings before sending, per send pass */

typedef struct s_send_ctx {
    edge_t *e;
    int64_t now;
    egide_rc rc;    /* the first store error */
    bool unchecked; /* send as it is (s_send_stale) */
    size_t n_stale; /* never sent, naming a key the directory no longer does */
    uint8_t stale[SEND_STALE_MAX][16];
} s_send_ctx_t;

/* Does this envelope name, for a recipient, another key than this node's
 * directory does now (every recipient valid here)? */
static bool s_keys_renewed(edge_t *e, const uint8_t *env, size_t len)
{
    egide_envelope_t *pe = NULL;
    if (egide_envelope_parse(env, len, &pe) != EGIDE_OK)
        return false;
    const Egide__V1__EnvelopeHeader *h = egide_envelope_header(pe);
    bool renewed = false, valid = true;
    pthread_mutex_lock(&e->dir_lock);
    for (size_t i = 0; i < h->n_recipients && valid; i++) {
        const egide_peer_t *p = egide_peers_get(e->peers, h->recipients[i]->node_id);
        if (!p || p->status != EGIDE_OK)
            valid = false;
        else if (h->recipients[i]->key_fingerprint.len != 32 ||
                 memcmp(h->recipients[i]->key_fingerprint.data, p->enc_fpr, 32) != 0)
            renewed = true;
    }
    pthread_mutex_unlock(&e->dir_lock);
    egide_envelope_destroy(&pe);
    return valid && renewed;
}

static int s_send_one(const edge_outbox_due_t *m, void *arg)
{
    s_send_ctx_t *c = arg;
    /* Never sent, and sealed for a key since renewed: sealed again first
     * (after this pass), so the broker never sees the stale key.  Only
     * then: bytes once sent may have been accepted, and must stay. */
    if (!c->unchecked && m->attempts == 0 && c->n_stale < SEND_STALE_MAX &&
        s_keys_renewed(c->e, m->envelope, m->envelope_len)) {
        memcpy(c->stale[c->n_stale++], m->msg_id, 16);
        return 0;
    }
    uint8_t *f = NULL;
    size_t fl = 0;
    egide_rc rc = egide_frame_submit(m->seq, m->envelope, m->envelope_len, &f, &fl);
    if (!rc)
        rc = egide_transport_send_raw(c->e->dealer, NULL, 0, f, fl);
    free(f);
    if (rc)
        return 1; /* the queue is full or the broker gone: later */
    if (m->attempts > 0)
        atomic_fetch_add(&c->e->m.retries, 1);
    c->rc = edge_store_outbox_attempt(c->e->store, m->msg_id,
                                      c->now + s_backoff(c->e, m->attempts + 1) * 4);
    return c->rc ? 1 : 0;
}

/* The messages s_send_one set aside: each sealed again for the current
 * keys (due now: the next pass sends it), or, when it cannot be, sent as
 * it is.  Store errors returned. */
static egide_rc s_send_stale(s_send_ctx_t *c)
{
    egide_rc rc = EGIDE_OK;
    c->unchecked = true;
    for (size_t i = 0; i < c->n_stale && !rc && !c->rc; i++) {
        bool done = false;
        rc = s_reseal(c->e, c->stale[i], true, &done);
        if (rc == EGIDE_ERR_UNAVAILABLE)
            rc = EGIDE_OK; /* the key holder is down: sent as it is, the broker decides */
        if (rc || done)
            continue;
        edge_outbox_row_t row;
        uint8_t *env = NULL;
        size_t len = 0;
        rc = edge_store_outbox_get(c->e->store, c->stale[i], &row);
        if (!rc && row.state == EDGE_OUT_QUEUED)
            rc = edge_store_outbox_envelope(c->e->store, c->stale[i], &env, &len);
        if (!rc && env) {
            edge_outbox_due_t m = {.msg_id = c->stale[i],
                                   .seq = row.seq,
                                   .envelope = env,
                                   .envelope_len = len,
                                   .attempts = row.attempts};
            (void)s_send_one(&m, c);
        }
        free(env);
        if (rc == EGIDE_ERR_NOTFOUND)
            rc = EGIDE_OK;
    }
    return rc ? rc : c->rc;
}

void edge_outbox_send(edge_t *e)
{
    if (!atomic_load(&e->connected))
        return;
    s_send_ctx_t c = {.e = e, .now = egide_now_ms(), .rc = EGIDE_OK};
    if (edge_store_begin(e->store) != EGIDE_OK)
        return;
    egide_rc rc = edge_store_outbox_due(e->store, c.now, SEND_BATCH, s_send_one, &c);
    if (!rc)
        rc = c.rc;
    if (!rc && c.n_stale)
        rc = s_send_stale(&c);
    /* Frames already sent are harmless: retries are byte-identical. */
    if (!rc)
        rc = edge_store_commit(e->store);
    if (rc)
        edge_store_rollback(e->store);
}

void edge_outbox_expire(edge_t *e)
{
    if (edge_store_begin(e->store) != EGIDE_OK)
        return;
    egide_rc rc = edge_store_outbox_expire(e->store, egide_now_ms(), NULL);
    if (!rc)
        rc = edge_store_commit(e->store);
    if (rc)
        edge_store_rollback(e->store);
}

/* ------------------------------------------------------------ receipts */

/* When the last recipient has answered, record submit -> delivered. */
static egide_rc s_latency(edge_t *e, const uint8_t *msg_id)
{
    static const int64_t bounds[] = {10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 60000};
    edge_outbox_row_t row;
    edge_rcpt_row_t r[EGIDE_MAX_RECIPIENTS];
    size_t n = 0, pending = 0;
    egide_rc rc = edge_store_outbox_get(e->store, msg_id, &row);
    if (!rc)
        rc = edge_store_rcpt_list(e->store, msg_id, r, EGIDE_MAX_RECIPIENTS, &n, &pending);
    if (rc == EGIDE_ERR_NOTFOUND)
        return EGIDE_OK;
    if (rc || pending)
        return rc;
    int64_t ms = egide_now_ms() - row.created_ms;
    if (ms < 0)
        ms = 0;
    size_t i = 0;
    while (i < sizeof bounds / sizeof bounds[0] && ms > bounds[i])
        i++;
    atomic_fetch_add(&e->m.latency_bucket[i], 1);
    atomic_fetch_add(&e->m.latency_count, 1);
    atomic_fetch_add(&e->m.latency_sum_ms, (uint64_t)ms);
    return EGIDE_OK;
}

static egide_rc s_rcpt(edge_t *e, const uint8_t *msg_id, const char *node, edge_rcpt_state state,
                       int reason, int64_t t)
{
    bool changed = false;
    egide_rc rc = edge_store_rcpt_update(e->store, msg_id, node, state, reason, t, &changed);
    if (rc || !changed)
        return rc;
    atomic_fetch_add(state == EDGE_RCPT_DELIVERED ? &e->m.delivered_out : &e->m.rejected_out, 1);
    return s_latency(e, msg_id);
}

/* Apply a verified receipt to the outbox. */
static egide_rc s_apply(edge_t *e, const Egide__V1__ReceiptBody *b)
{
    /* protobuf-c gives "" for an absent string; be safe with NULL anyway. */
    const char *issuer = b->issuer_id ? b->issuer_id : "";
    const char *rcpt = b->recipient_id ? b->recipient_id : "";
    bool from_broker = strcmp(issuer, e->broker_id) == 0;
    bool changed = false;
    egide_rc rc = EGIDE_OK;
    if (from_broker && b->kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_ACCEPTED) {
        rc = edge_store_outbox_mark_accepted(e->store, b->msg_id.data, b->time_ms,
                                             (int64_t)b->audit_leaf_index, &changed);
        if (!rc && changed) {
            atomic_fetch_add(&e->m.accepted, 1);
            atomic_store(&e->cert_refused, false); /* the broker takes our certificate */
        }
    } else if (from_broker && b->kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED && !rcpt[0]) {
        if (b->reason == R(REPLAY) || b->reason == R(CERT_INVALID) ||
            b->reason == R(UNKNOWN_RECIPIENT)) {
            bool done = false;
            rc = b->reason == R(REPLAY)         ? s_resequence(e, b->msg_id.data, &done)
                 : b->reason == R(CERT_INVALID) ? s_recertify(e, b->msg_id.data, &done)
                                                : s_reseal(e, b->msg_id.data, false, &done);
            if (rc || done)
                return rc;
        }
        char rhex[33] = "";
        if (b->msg_id.len == 16)
            egide_hex_encode(b->msg_id.data, 16, rhex);
        egide_log_kv(EGIDE_LOG_WARNING,
                     &(egide_log_fields){.component = "outbox",
                                         .msg_id = rhex,
                                         .peer = b->issuer_id,
                                         .reason = egide_wire_reason_name(b->reason)},
                     "broker rejected a message: %s", egide_wire_reason_name(b->reason));
        if (b->reason >= 0 && b->reason < 32)
            atomic_fetch_add(&e->m.rejected_by_reason[b->reason], 1);
        rc = edge_store_outbox_mark_rejected(e->store, b->msg_id.data, b->reason, b->time_ms,
                                             &changed);
        if (!rc && changed)
            atomic_fetch_add(&e->m.rejected, 1);
    } else if (from_broker && b->kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED) {
        /* The broker gave up on one recipient (expiry). */
        rc = s_rcpt(e, b->msg_id.data, rcpt,
                    b->reason == R(EXPIRED) ? EDGE_RCPT_EXPIRED : EDGE_RCPT_REJECTED, b->reason,
                    b->time_ms);
    } else if (!from_broker && strcmp(rcpt, issuer) == 0) {
        rc = s_rcpt(e, b->msg_id.data, issuer,
                    b->kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_DELIVERED ? EDGE_RCPT_DELIVERED
                                                                          : EDGE_RCPT_REJECTED,
                    b->reason, b->time_ms);
    }
    return rc;
}

/* Verify with the issuer's key from the directory. */
static egide_rc s_verify(edge_t *e, egide_receipt_t *r, const char *issuer)
{
    pthread_mutex_lock(&e->dir_lock);
    const egide_peer_t *p = egide_peers_get(e->peers, issuer);
    egide_rc rc =
        (p && p->status == EGIDE_OK) ? egide_receipt_verify(r, p->sign_pub) : EGIDE_ERR_CERT;
    pthread_mutex_unlock(&e->dir_lock);
    return rc;
}

egide_rc edge_outbox_receipt(edge_t *e, const uint8_t *raw, size_t len, uint64_t relay_id,
                             edge_out_t *out)
{
    egide_receipt_t *r = NULL;
    egide_rc rc = egide_receipt_parse(raw, len, &r);
    if (rc) {
        egide_log(EGIDE_LOG_WARNING, "unparsable receipt from the broker: %s", egide_strerror(rc));
        edge_out_ack(out, relay_id);
        return EGIDE_OK;
    }
    const Egide__V1__ReceiptBody *b = egide_receipt_body(r);
    edge_outbox_row_t row;
    egide_rc src = b->msg_id.len == 16 ? edge_store_outbox_get(e->store, b->msg_id.data, &row)
                                       : EGIDE_ERR_NOTFOUND;
    if (src && src != EGIDE_ERR_NOTFOUND) {
        rc = src; /* transient: not acknowledged, relayed again */
        goto done;
    }
    if (src == EGIDE_ERR_NOTFOUND || b->envelope_sha256.len != 32 ||
        memcmp(row.sha256, b->envelope_sha256.data, 32) != 0) {
        egide_log(EGIDE_LOG_WARNING, "receipt from %s for a message this node did not send",
                  b->issuer_id);
        goto ack;
    }
    rc = s_verify(e, r, b->issuer_id);
    if (rc) {
        egide_log(EGIDE_LOG_WARNING, "receipt issued by %s does not verify: %s", b->issuer_id,
                  egide_strerror(rc));
        rc = EGIDE_OK;
        goto ack;
    }
    edge_receipt_row_t rr;
    memset(&rr, 0, sizeof rr);
    egide_receipt_hash(r, rr.sha256);
    memcpy(rr.msg_id, b->msg_id.data, 16);
    rr.kind = b->kind;
    egide_strlcpy(rr.issuer, b->issuer_id, sizeof rr.issuer);
    egide_strlcpy(rr.recipient, b->recipient_id ? b->recipient_id : "", sizeof rr.recipient);
    rr.time_ms = b->time_ms;
    rr.reason = b->reason;
    rr.has_leaf = b->has_audit_leaf;
    rr.leaf_index = (int64_t)b->audit_leaf_index;
    rc = edge_store_receipt_put(e->store, &rr, raw, len);
    if (!rc)
        rc = s_apply(e, b);
    if (rc)
        goto done;
ack:
    /* Acknowledge relays even when we could not use them: resending the
     * same bytes would not change the outcome, and the broker logged them. */
    edge_out_ack(out, relay_id);
done:
    egide_receipt_destroy(&r);
    return rc;
}

egide_rc edge_outbox_note_ack(edge_t *e, const char *type, const uint8_t *in_reply_to,
                              size_t irt_len, const char *sender_id, int64_t created_ms)
{
    if (!type || strcmp(type, "message.acknowledgement") != 0 || irt_len != 16)
        return EGIDE_OK;
    return edge_store_rcpt_acknowledge(e->store, in_reply_to, sender_id, created_ms, NULL);
}
