/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * broker_admit.c - admission of a submitted envelope as a pure decision (see
 * broker_admit.h for the order of the checks).  It reads the store through
 * its named lookups and writes nothing; it neither signs nor sends, so a
 * unit test drives every reason code without a socket.
 */
#include "broker_admit.h"

#include <string.h>

#include "egide/base/egide_limits.h"
#include "egide/crypto/egide_crypto.h"

#define R(x) EGIDE__V1__REASON_CODE__REASON_##x

const char *broker_admit_verdict_name(broker_admit_verdict v)
{
    static const char *const names[] = {"accept",    "reject", "duplicate",
                                        "malformed", "retry",  "unavailable"};
    return (unsigned)v < sizeof names / sizeof names[0] ? names[v] : "unknown";
}

void broker_admit_clear(broker_admit_t *d)
{
    if (!d)
        return;
    egide_envelope_destroy(&d->env);
    broker_stored_clear(&d->stored);
    memset(d, 0, sizeof *d);
}

static egide_rc s_reject(broker_admit_t *d, int reason, const char *detail, bool remember)
{
    d->verdict = BROKER_ADMIT_REJECT;
    d->reason = reason;
    d->detail = detail;
    d->remember = remember;
    return EGIDE_OK;
}

static egide_rc s_retry(broker_admit_t *d, egide_rc rc)
{
    d->verdict = BROKER_ADMIT_RETRY;
    d->rc = rc;
    d->detail = "broker storage failure; retry";
    return EGIDE_OK;
}

/* Step 3: a msg_id seen before.  Returns true when it decided. */
static bool s_duplicate(const broker_admit_in_t *in, const Egide__V1__EnvelopeHeader *h,
                        broker_admit_t *d)
{
    egide_rc rc = broker_store_envelope_find(in->store, h->msg_id.data, &d->stored);
    if (rc == EGIDE_OK) {
        if (memcmp(d->stored.sha256, d->sha256, 32) == 0) {
            d->verdict = BROKER_ADMIT_DUPLICATE;
            return true;
        }
        broker_stored_clear(&d->stored);
        s_reject(d, R(DUPLICATE_CONFLICT), "msg_id already used with another envelope", false);
        return true;
    }
    if (rc == EGIDE_ERR_NOTFOUND)
        rc = broker_store_rejection_find(in->store, h->msg_id.data, d->sha256, &d->stored);
    if (rc == EGIDE_OK) {
        d->verdict = BROKER_ADMIT_DUPLICATE;
        return true;
    }
    if (rc != EGIDE_ERR_NOTFOUND) {
        s_retry(d, rc);
        return true;
    }
    return false;
}

/* Step 12: a sequence number is used once, and never more than seq_window
 * behind the highest seen.  Returns true when it decided. */
static bool s_sequence(const broker_admit_in_t *in, const Egide__V1__EnvelopeHeader *h,
                       broker_admit_t *d)
{
    if (h->sender_seq == 0 || h->sender_seq > INT64_MAX) {
        s_reject(d, R(REPLAY), "sender sequence already used or too old", false);
        return true;
    }
    uint64_t max = 0;
    bool used = false;
    egide_rc rc = broker_store_sender_max_seq(in->store, h->sender_id, &max);
    if (!rc && !(max > in->seq_window && h->sender_seq <= max - in->seq_window))
        rc = broker_store_sender_seq_used(in->store, h->sender_id, h->sender_seq, &used);
    else if (!rc)
        used = true; /* below the window */
    if (rc) {
        s_retry(d, rc);
        return true;
    }
    if (used) {
        s_reject(d, R(REPLAY), "sender sequence already used or too old", false);
        return true;
    }
    /* A number far above the highest would, once accepted, leave the
     * sender nothing above it (numbers stop at INT64_MAX): a bug or a
     * corrupted counter at the edge must not lock it out for good.  Refused
     * as a REPLAY, so the edge gets a Welcome with the highest number and
     * re-signs just above it. */
    if (h->sender_seq > max && h->sender_seq - max > BROKER_SEQ_MAX_JUMP) {
        s_reject(d, R(REPLAY), "sender sequence jumps too far above the highest", false);
        return true;
    }
    return false;
}

/* Steps 4-11: who may send what to whom. */
static void s_rules(const broker_admit_in_t *in, const Egide__V1__EnvelopeHeader *h,
                    broker_admit_t *d)
{
    const egide_peer_t *sp = egide_peers_get(in->peers, in->node_id);
    if (!sp) {
        s_reject(d, R(UNKNOWN_SENDER), "sender not in the directory", true);
        return;
    }
    if (sp->status != EGIDE_OK) {
        s_reject(d, sp->status == EGIDE_ERR_REVOKED ? R(CERT_REVOKED) : R(CERT_INVALID),
                 "sender certificate not valid", true);
        return;
    }
    if (h->sender_cert_fingerprint.len != 32 ||
        memcmp(h->sender_cert_fingerprint.data, sp->sign_fpr, 32) != 0) {
        s_reject(d, R(CERT_INVALID), "sender certificate is not the one in the directory", true);
        return;
    }
    egide_rc rc = egide_envelope_verify(d->env, sp->sign_pub);
    if (rc) {
        d->rc = rc;
        s_reject(d, R(BAD_SIGNATURE), egide_strerror(rc), false);
        return;
    }
    if (h->expires_ms <= in->now_ms) {
        s_reject(d, R(EXPIRED), "message expired", true);
        return;
    }
    int64_t max_life =
        in->max_lifetime_ms > 0 ? in->max_lifetime_ms : BROKER_DEFAULT_MAX_LIFETIME_MS;
    if (h->expires_ms - h->created_ms > max_life) {
        s_reject(d, R(EXPIRED), "lifetime longer than the maximum", true);
        return;
    }
    /* Only a creation time in the future is the sender's clock: one in the
     * past is a retry (broker outage, sender offline) or a slow path, and
     * is judged by expiry and lifetime above, replays by msg_id and
     * sequence. */
    if (h->created_ms > in->now_ms + in->clock_skew_ms) {
        s_reject(d, R(CLOCK_SKEW), "created_ms too far in the future of the broker clock", true);
        return;
    }
    const char *const *ids = (const char *const *)d->ids;
    size_t n = d->n_ids;
    int reason = 0;
    rc = egide_directory_check_send(in->dir, in->node_id, h->message_type, ids, n, &reason);
    if (rc) {
        d->rc = rc;
        s_reject(d, reason ? reason : R(FORBIDDEN_TYPE), egide_strerror(rc), true);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const egide_peer_t *rp = egide_peers_get(in->peers, ids[i]);
        if (!rp || rp->status != EGIDE_OK ||
            (h->recipients[i]->key_fingerprint.len == 32 &&
             memcmp(h->recipients[i]->key_fingerprint.data, rp->enc_fpr, 32) != 0)) {
            s_reject(d, R(UNKNOWN_RECIPIENT), "recipient key is not the directory's", true);
            return;
        }
    }
    if (s_sequence(in, h, d))
        return;
    d->verdict = BROKER_ADMIT_ACCEPT;
    d->accept = (broker_accept_t){
        .msg_id = h->msg_id.data,
        .sha256 = d->sha256,
        .sender_id = h->sender_id,
        .sender_seq = h->sender_seq,
        .type = h->message_type,
        .urgency = h->urgency,
        .created_ms = h->created_ms,
        .expires_ms = h->expires_ms,
        .data = in->env,
        .len = in->len,
        .recipients = (const char *const *)d->ids,
        .n_recipients = d->n_ids,
    };
}

egide_rc broker_admit(const broker_admit_in_t *in, broker_admit_t *out)
{
    if (!out)
        return EGIDE_ERR_INVALID;
    memset(out, 0, sizeof *out);
    if (!in || !in->node_id || !in->env || !in->dir || !in->peers || !in->store)
        return EGIDE_ERR_INVALID;
    egide_sha256(in->env, in->len, out->sha256);
    egide_rc rc = egide_envelope_parse(in->env, in->len, &out->env);
    if (rc) {
        /* Without a parsable header there is no msg_id to sign about. */
        out->verdict = BROKER_ADMIT_MALFORMED;
        out->rc = rc;
        out->reason = rc == EGIDE_ERR_LIMIT ? R(OVERSIZE) : R(MALFORMED);
        out->detail = egide_strerror(rc);
        return EGIDE_OK;
    }
    const Egide__V1__EnvelopeHeader *h = egide_envelope_header(out->env);
    out->n_ids = h->n_recipients < EGIDE_MAX_RECIPIENTS ? h->n_recipients : EGIDE_MAX_RECIPIENTS;
    for (size_t i = 0; i < out->n_ids; i++)
        out->ids[i] = h->recipients[i]->node_id;
    if (in->now_ms > egide_directory_not_after_ms(in->dir)) {
        /* Not the sender's fault: say so without signing anything, so that
         * the referral stays queued at the sender until IT renews it.  A
         * retry of what was answered before still gets its stored answer
         * (nothing new is signed for it). */
        if (strcmp(h->sender_id, in->node_id) == 0 && s_duplicate(in, h, out) &&
            out->verdict == BROKER_ADMIT_DUPLICATE)
            return EGIDE_OK;
        broker_stored_clear(&out->stored);
        out->verdict = BROKER_ADMIT_UNAVAILABLE;
        out->reason = R(INTERNAL);
        out->detail = "broker directory expired; retry later";
        out->remember = false;
        out->rc = EGIDE_OK;
        return EGIDE_OK;
    }
    if (strcmp(h->sender_id, in->node_id) != 0)
        /* Not the sender's own message: a forged or relayed sender id. */
        return s_reject(out, R(SENDER_MISMATCH),
                        "header sender differs from the authenticated node", false);
    if (!s_duplicate(in, h, out))
        s_rules(in, h, out);
    return EGIDE_OK;
}
