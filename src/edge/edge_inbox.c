/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_inbox.c - what arrives for this node: a delivered envelope is
 * checked in DESIGN.md's order (recipient, sender certificate, signature
 * over the raw header, time, key commitment and decryption, the payload's
 * content type against the message type's, the payload), then
 * stored with the signed DELIVERED receipt that answers it, or refused with
 * a signed REJECTED receipt that is remembered.  A duplicate with the same
 * hash gets the receipt it had; the same msg_id with another hash is a
 * DUPLICATE_CONFLICT.
 *
 * Time is never a reason to refuse here.  The broker already judged the
 * envelope's created and expiry times with its own clock before it
 * delivered it (and expires what it cannot deliver in time, telling the
 * sender); a recipient whose own clock is wrong would otherwise sign a
 * permanent REJECTED for every referral, and nothing would be retried once
 * its clock was fixed.  So a created time ahead of our clock is only noted
 * (edge_clock_note: health and metrics say the clock is skewed, and from
 * which sender), and an envelope that looks expired to our clock is still
 * verified, stored and answered DELIVERED (counted, logged without
 * content): it was live when the broker sent it, and a late referral read
 * is better than a child's referral refused for good.  Likewise a sender's
 * certificate that is not yet valid or expired by our clock (a certificate
 * just issued or renewed, our clock behind) is judged again at the sender's
 * signed created time and within its own validity period, and a pass is a
 * noted disagreement, not a refusal (s_sender_key); revocation, a wrong
 * chain or name and a bad signature remain refusals.  For the payload's
 * own dates ("not in the future"), the later of our clock and the sender's
 * signed created time is used, which the broker bounded by its clock.
 *
 * A store error is NOT a refusal: it is transient (a full disk, an I/O
 * error), so nothing is queued, the batch rolls back and the broker delivers
 * again later.  Only a genuine "same id, other bytes" is refused as a
 * conflict.  Receipts are queued on an edge_out_t and leave after the
 * commit; nothing here touches a socket.
 */
#include "edge.h"

#include <stdlib.h>
#include <string.h>

#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/domain/egide_catalogue.h"
#include "egide/domain/egide_payload.h"
#include "egide/protocol/egide_envelope.h"
#include "egide/protocol/egide_receipt.h"
#include "egide/wire/egide_wire.h"

#define R(x) EGIDE__V1__REASON_CODE__REASON_##x

int64_t edge_now_ms(const edge_t *e)
{
    return e && e->now_ms ? e->now_ms() : egide_now_ms();
}

void edge_clock_note(edge_t *e, const char *sender_id, int64_t offset_ms)
{
    if (!e || !sender_id || offset_ms <= EDGE_CLOCK_NOTE_MS)
        return;
    int64_t now = edge_now_ms(e);
    atomic_fetch_add(&e->m.clock_ahead, 1);
    pthread_mutex_lock(&e->dir_lock);
    edge_clock_t *c = &e->clock;
    bool stale = c->offset_ms <= 0 || now - c->seen_ms > EDGE_CLOCK_WINDOW_MS || now < c->seen_ms;
    bool first = c->offset_ms <= 0;
    if (stale || offset_ms >= c->offset_ms) {
        c->offset_ms = offset_ms;
        c->seen_ms = now;
        egide_strlcpy(c->sender, sender_id, sizeof c->sender);
    }
    pthread_mutex_unlock(&e->dir_lock);
    if (first || stale)
        egide_log(EGIDE_LOG_WARNING,
                  "this node's clock is %lld ms behind %s's signed time: check its time "
                  "synchronisation (referrals are still accepted)",
                  (long long)offset_ms, sender_id);
}

void edge_clock_get(edge_t *e, edge_clock_t *out)
{
    memset(out, 0, sizeof *out);
    if (!e)
        return;
    int64_t now = edge_now_ms(e);
    pthread_mutex_lock(&e->dir_lock);
    if (e->clock.offset_ms > 0 && now - e->clock.seen_ms <= EDGE_CLOCK_WINDOW_MS &&
        now >= e->clock.seen_ms)
        *out = e->clock;
    pthread_mutex_unlock(&e->dir_lock);
}

static egide_rc s_sign_receipt(edge_t *e, int kind, const Egide__V1__EnvelopeHeader *h,
                               const uint8_t sha[32], int reason, const char *detail, uint8_t **r,
                               size_t *rl)
{
    egide_receipt_params_t p = {
        .kind = kind,
        .msg_id = h->msg_id.data,
        .envelope_sha256 = sha,
        .issuer_id = e->node_id,
        .sender_id = h->sender_id,
        .recipient_id = e->node_id,
        .time_ms = edge_now_ms(e),
        .reason = reason,
        .detail = detail,
        .issuer_cert_fpr = e->sign_fpr,
    };
    return egide_receipt_sign(&p, e->sign_key, r, rl);
}

/* Queue a receipt; a full queue is not an error (the broker redelivers and
 * the duplicate gets the stored receipt then). */
static void s_reply(edge_out_t *out, const uint8_t *r, size_t rl)
{
    egide_rc rc = edge_out_receipt(out, r, rl);
    if (rc)
        egide_log(EGIDE_LOG_WARNING, "receipt not queued (%s): sent on redelivery",
                  egide_strerror(rc));
}

/* Already answered (stored or refused with these very bytes)?  Send the
 * same receipt again.  *dup false and EGIDE_OK when not seen. */
static egide_rc s_duplicate(edge_t *e, const Egide__V1__EnvelopeHeader *h, const uint8_t sha[32],
                            edge_out_t *out, bool *dup)
{
    uint8_t *r = NULL;
    size_t rl = 0;
    *dup = false;
    egide_rc rc = edge_store_inbox_receipt(e->store, h->msg_id.data, sha, &r, &rl);
    if (rc == EGIDE_ERR_NOTFOUND)
        rc = edge_store_rejected_find(e->store, h->msg_id.data, sha, &r, &rl);
    if (rc == EGIDE_ERR_NOTFOUND)
        return EGIDE_OK;
    if (rc)
        return rc;
    s_reply(out, r, rl);
    free(r);
    *dup = true;
    return EGIDE_OK;
}

/* Refuse for good: sign REJECTED, remember it, queue it.  Only for reasons
 * that hold whenever the same bytes come again. */
static egide_rc s_reject(edge_t *e, const Egide__V1__EnvelopeHeader *h, const uint8_t sha[32],
                         int reason, const char *why, edge_out_t *out)
{
    char hex[33];
    egide_hex_encode(h->msg_id.data, 16, hex);
    uint8_t *r = NULL;
    size_t rl = 0;
    egide_rc rc =
        s_sign_receipt(e, EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED, h, sha, reason, why, &r, &rl);
    if (rc) {
        /* Nothing to send: the broker redelivers and we try again. */
        egide_log(EGIDE_LOG_ERROR, "signing a receipt failed: %s", egide_strerror(rc));
        return EGIDE_OK;
    }
    rc = edge_store_rejected_put(e->store, h->msg_id.data, sha, h->sender_id, reason, r, rl,
                                 edge_now_ms(e));
    if (rc) {
        free(r);
        return rc;
    }
    egide_log_kv(EGIDE_LOG_WARNING,
                 &(egide_log_fields){.component = "inbox",
                                     .msg_id = hex,
                                     .peer = h->sender_id,
                                     .reason = egide_wire_reason_name(reason)},
                 "refused message %s from %s: %s (%s)", hex, h->sender_id,
                 egide_wire_reason_name(reason), why);
    atomic_fetch_add(&e->m.received_rejected, 1);
    if (reason >= 0 && reason < 32)
        atomic_fetch_add(&e->m.rejected_by_reason[reason], 1);
    s_reply(out, r, rl);
    free(r);
    return EGIDE_OK;
}

/* The reason code a refusal carries for each check that failed; any other
 * failure is MALFORMED. */
static const int s_reasons[EGIDE_RC__COUNT] = {
    // clang-format off
    [EGIDE_ERR_SIGNATURE] = R(BAD_SIGNATURE),    [EGIDE_ERR_HASH] = R(BAD_SIGNATURE),
    [EGIDE_ERR_COMMITMENT] = R(KEY_COMMITMENT),  [EGIDE_ERR_DECRYPT] = R(DECRYPT_FAILED),
    [EGIDE_ERR_NOT_RECIPIENT] = R(NOT_RECIPIENT), [EGIDE_ERR_EXPIRED] = R(EXPIRED),
    [EGIDE_ERR_REPLAY] = R(CLOCK_SKEW),          [EGIDE_ERR_VERSION] = R(UNSUPPORTED_VERSION),
    [EGIDE_ERR_LIMIT] = R(OVERSIZE),             [EGIDE_ERR_CERT] = R(CERT_INVALID),
    [EGIDE_ERR_REVOKED] = R(CERT_REVOKED),       [EGIDE_ERR_VALIDATION] = R(PAYLOAD_INVALID),
    // clang-format on
};

static int s_reason_of(egide_rc rc)
{
    int r = rc > 0 && rc < EGIDE_RC__COUNT ? s_reasons[rc] : 0;
    return r ? r : R(MALFORMED);
}

/* How the sender's certificates stand by our clock when the peer table
 * judged them out of their validity period (see s_sender_key). */
typedef struct s_cert_clock {
    int64_t lead_ms; /* > 0: their validity starts that far ahead of our clock */
    bool expired;    /* our clock is past their end */
} s_cert_clock_t;

/* The sender's signing key if its certificate is valid and the one the
 * header names (a new reference, the caller frees); NULL with *why.
 *
 * A certificate outside its validity period by this node's clock is a clock
 * disagreement, not a refusal: the broker judged its validity with its own
 * clock when it admitted the envelope (and re-checks certificates every
 * minute), and the peer table was built with our clock at adoption.  So a
 * peer whose status is EXPIRED is verified again, in full (chain, CRL, key
 * usage, name), at our clock now (it may have been corrected since), at the
 * sender's signed created time (bounded by the broker's clock) and within the
 * certificates' own period; a revoked certificate, a wrong chain or name, a
 * suspended node and a bad signature stay refusals.  *cc says what our
 * clock disagreed with, noted by s_check_clock once the signature verified. */
static EVP_PKEY *s_sender_key(edge_t *e, const Egide__V1__EnvelopeHeader *h, egide_rc *why,
                              s_cert_clock_t *cc)
{
    memset(cc, 0, sizeof *cc);
    int64_t now = edge_now_ms(e);
    pthread_mutex_lock(&e->dir_lock);
    const egide_peer_t *p = egide_peers_get(e->peers, h->sender_id);
    EVP_PKEY *spub = NULL;
    egide_rc prc = EGIDE_ERR_NOTFOUND;
    if (p) {
        prc = p->status;
        if (!prc && EVP_PKEY_up_ref(p->sign_pub) == 1)
            spub = p->sign_pub;
        else if (!prc)
            prc = EGIDE_ERR_NOMEM;
        if (prc == EGIDE_ERR_EXPIRED) {
            const int64_t at[] = {now, h->created_ms};
            int64_t when = 0;
            prc = egide_peer_verify_at(p, e->trust, at, 2, &when, &spub);
            if (!prc && when != now && now < p->not_before_ms)
                cc->lead_ms = p->not_before_ms - now;
            else if (!prc && when != now && now > p->not_after_ms)
                cc->expired = true;
        }
        if (!prc && (h->sender_cert_fingerprint.len != 32 ||
                     memcmp(h->sender_cert_fingerprint.data, p->sign_fpr, 32) != 0))
            prc = EGIDE_ERR_CERT;
        if (prc) {
            EVP_PKEY_free(spub);
            spub = NULL;
            memset(cc, 0, sizeof *cc);
        }
    }
    pthread_mutex_unlock(&e->dir_lock);
    *why = prc;
    return spub;
}

/* What a message just stored does to this node's obligations (same
 * transaction: a store error rolls the message back with them). */
static egide_rc s_obligations(edge_t *e, const Egide__V1__EnvelopeHeader *h, int64_t case_id,
                              int64_t now, const egide_payload_facts_t *facts)
{
    const char *ids[EGIDE_MAX_RECIPIENTS];
    size_t n = 0;
    for (size_t i = 0; i < h->n_recipients && n < EGIDE_MAX_RECIPIENTS; i++)
        if (h->recipients[i] && h->recipients[i]->node_id)
            ids[n++] = h->recipients[i]->node_id;
    return edge_obligations_note(e, e->store, h->msg_id.data, h->message_type, false, h->sender_id,
                                 ids, n, case_id, now, facts);
}

/* Verified and opened: store it with its DELIVERED receipt. */
static egide_rc s_store(edge_t *e, const Egide__V1__EnvelopeHeader *h, const uint8_t sha[32],
                        const char *ctype, const uint8_t *payload, size_t plen,
                        const egide_payload_facts_t *facts, edge_out_t *out)
{
    uint8_t *r = NULL, *stored = NULL;
    size_t rl = 0, sl = 0;
    egide_rc rc =
        s_sign_receipt(e, EGIDE__V1__RECEIPT_KIND__RECEIPT_DELIVERED, h, sha, 0, NULL, &r, &rl);
    if (rc) {
        egide_log(EGIDE_LOG_ERROR, "signing a receipt failed: %s", egide_strerror(rc));
        return EGIDE_OK; /* nothing promised: the broker redelivers */
    }
    int64_t now = edge_now_ms(e);
    int64_t case_id = 0;
    edge_inbox_msg_t m = {
        .msg_id = h->msg_id.data,
        .sha256 = sha,
        .sender_id = h->sender_id,
        .type = h->message_type,
        .urgency = h->urgency,
        .in_reply_to = h->in_reply_to.len == 16 ? h->in_reply_to.data : NULL,
        .created_ms = h->created_ms,
        .received_ms = now,
        .content_type = ctype ? ctype : "",
        .payload = payload,
        .payload_len = plen,
        .receipt = r,
        .receipt_len = rl,
        .case_ref = facts->case_ref,
        .commune = facts->commune,
        .case_id = &case_id,
    };
    edge_inbox_put_result res = EDGE_INBOX_STORED;
    rc = edge_store_inbox_put(e->store, &m, &res, &stored, &sl);
    if (!rc && res == EDGE_INBOX_STORED)
        rc = edge_outbox_note_ack(e, h->message_type, h->in_reply_to.data, h->in_reply_to.len,
                                  h->sender_id, h->created_ms);
    if (!rc && res == EDGE_INBOX_STORED)
        rc = s_obligations(e, h, case_id, now, facts);
    if (!rc && res == EDGE_INBOX_STORED) /* same transaction: a failure rolls it all back */
        rc =
            edge_known_child_note(e, e->store, h->message_type, h->msg_id.data, now, payload, plen);
    char hex[33];
    egide_hex_encode(h->msg_id.data, 16, hex);
    if (rc) {
        /* Transient: the DELIVERED receipt just signed is dropped unsent. */
        egide_log_kv(EGIDE_LOG_WARNING,
                     &(egide_log_fields){.component = "store",
                                         .msg_id = hex,
                                         .peer = h->sender_id,
                                         .reason = egide_rc_name(rc)},
                     "message %s from %s not stored (%s): the broker will deliver it again", hex,
                     h->sender_id, egide_strerror(rc));
    } else if (res == EDGE_INBOX_CONFLICT) {
        rc = s_reject(e, h, sha, R(DUPLICATE_CONFLICT), "msg_id already received", out);
    } else if (res == EDGE_INBOX_DUPLICATE) {
        s_reply(out, stored, sl);
    } else {
        atomic_fetch_add(&e->m.received, 1);
        egide_log_kv(EGIDE_LOG_INFO,
                     &(egide_log_fields){.component = "inbox", .msg_id = hex, .peer = h->sender_id},
                     "received %s (%s) from %s", hex, h->message_type, h->sender_id);
        s_reply(out, r, rl);
    }
    free(stored);
    free(r);
    return rc;
}

/* Checks after decryption: the payload's own type and schema. */
static egide_rc s_check_payload(edge_t *e, const Egide__V1__EnvelopeHeader *h,
                                const uint8_t sha[32], const char *ctype, const uint8_t *payload,
                                size_t plen, egide_payload_facts_t *facts, edge_out_t *out,
                                bool *refused)
{
    *refused = false;
    /* A catalogue type carries its structured payload and nothing else
     * (issue 11): anything else is refused for good, before any DELIVERED
     * receipt or legal clock. */
    const egide_catalogue_type_t *ct = egide_catalogue_type_find(h->message_type);
    if (ct && ct->content_type && (!ctype || strcmp(ctype, ct->content_type) != 0)) {
        *refused = true;
        return s_reject(e, h, sha, R(CONTENT_TYPE_MISMATCH),
                        "payload content type is not the message type's", out);
    }
    const char *ptype = egide_payload_type_for_content_type(ctype);
    if (!ptype)
        return EGIDE_OK;
    *refused = true;
    if (strcmp(ptype, h->message_type) != 0)
        return s_reject(e, h, sha, R(PAYLOAD_INVALID), "payload type differs from header", out);
    char *errors = NULL;
    /* "In the future" by the later of the two clocks (see the file comment). */
    int64_t now = edge_now_ms(e);
    if (h->created_ms > now)
        now = h->created_ms;
    egide_rc rc = egide_payload_check(ptype, payload, plen, now, facts, &errors);
    free(errors); /* field errors may quote content: never logged */
    if (rc)
        return s_reject(e, h, sha, R(PAYLOAD_INVALID), "payload fails validation", out);
    *refused = false;
    return EGIDE_OK;
}

/* The signed times, and the sender's certificates' validity (*cc), against
 * our clock, after the signature verified: noted, never a refusal (see the
 * file comment).  One envelope is one disagreement of each kind at most. */
static void s_check_clock(edge_t *e, const Egide__V1__EnvelopeHeader *h, const s_cert_clock_t *cc)
{
    int64_t now = edge_now_ms(e);
    char hex[33];
    egide_hex_encode(h->msg_id.data, 16, hex);
    int64_t ahead = h->created_ms > now ? h->created_ms - now : 0;
    if (cc->lead_ms > 0) {
        egide_log(EGIDE_LOG_WARNING,
                  "message %s from %s: the sender's certificate is not yet valid by this node's "
                  "clock (%lld ms early); the broker admitted it, so it is accepted",
                  hex, h->sender_id, (long long)cc->lead_ms);
        if (cc->lead_ms > ahead)
            ahead = cc->lead_ms;
    }
    if (ahead > 0)
        edge_clock_note(e, h->sender_id, ahead);
    bool expired = now > h->expires_ms;
    if (expired)
        egide_log(EGIDE_LOG_WARNING,
                  "message %s from %s looks expired by %lld ms to this node's clock; the broker "
                  "delivered it, so it is accepted",
                  hex, h->sender_id, (long long)(now - h->expires_ms));
    if (cc->expired)
        egide_log(EGIDE_LOG_WARNING,
                  "message %s from %s: the sender's certificate looks expired to this node's "
                  "clock; the broker admitted it, so it is accepted",
                  hex, h->sender_id);
    if (expired || cc->expired)
        atomic_fetch_add(&e->m.clock_expired, 1);
}

/* A sender this node's directory does not list, though the broker admitted
 * its message: most likely this directory is behind the broker's (a node
 * added since, and the newer directory not adopted yet).  Refusing would
 * lose the referral for good, so for unknown_sender_grace_ms after the
 * first attempt (kept in the store's meta "unknown_sender/<msg id>", in the
 * batch's transaction) nothing is signed: *later true, the broker delivers
 * again, and a Hello is asked for so that the broker sends its directory.
 * Past the grace, *later false: the caller refuses.  Store errors are
 * returned (transient). */
static egide_rc s_unknown_sender(edge_t *e, const Egide__V1__EnvelopeHeader *h, bool *later)
{
    *later = false;
    char hex[33], key[64];
    egide_hex_encode(h->msg_id.data, 16, hex);
    snprintf(key, sizeof key, "unknown_sender/%s", hex);
    int64_t now = edge_now_ms(e), first = now;
    uint8_t *v = NULL;
    size_t vl = 0;
    egide_rc rc = edge_store_meta_get(e->store, key, &v, &vl);
    if (rc == EGIDE_OK && vl == 8) {
        uint64_t t = 0;
        for (int i = 0; i < 8; i++)
            t = (t << 8) | v[i];
        first = (int64_t)t;
    }
    free(v);
    if (rc == EGIDE_ERR_NOTFOUND) {
        uint8_t b[8];
        for (int i = 0; i < 8; i++)
            b[i] = (uint8_t)((uint64_t)now >> (56 - 8 * i));
        rc = edge_store_meta_put(e->store, key, b, sizeof b);
    }
    if (rc)
        return rc;
    if (now - first >= e->unknown_sender_grace_ms)
        return EGIDE_OK;
    *later = true;
    e->hello_wanted = true;
    atomic_fetch_add(&e->m.sender_unknown_deferred, 1);
    egide_log(EGIDE_LOG_WARNING,
              "message %s from %s: sender not in this node's directory (v%llu); not refused: left "
              "for the broker to deliver again, asking it for a newer directory (refused after "
              "%lld s without one)",
              hex, h->sender_id, (unsigned long long)(e->dir ? egide_directory_version(e->dir) : 0),
              (long long)(e->unknown_sender_grace_ms / 1000));
    return EGIDE_OK;
}

egide_rc edge_inbox_deliver(edge_t *e, const uint8_t *bytes, size_t len, edge_out_t *out)
{
    if (!e || !out || (!bytes && len))
        return EGIDE_ERR_INVALID;
    egide_envelope_t *env = NULL;
    egide_rc rc = egide_envelope_parse(bytes, len, &env);
    if (rc) {
        /* No msg_id to sign about: the broker checked it, so this is a bug
         * or an attack; dropped. */
        egide_log(EGIDE_LOG_WARNING, "unparsable envelope delivered: %s", egide_strerror(rc));
        return EGIDE_OK;
    }
    const Egide__V1__EnvelopeHeader *h = egide_envelope_header(env);
    uint8_t sha[32];
    egide_envelope_hash(env, sha);
    char *ctype = NULL;
    uint8_t *payload = NULL;
    size_t plen = 0;
    bool done = false;
    rc = s_duplicate(e, h, sha, out, &done);
    if (rc || done)
        goto end;
    if (egide_envelope_recipient_index(env, e->node_id) < 0) {
        rc = s_reject(e, h, sha, R(NOT_RECIPIENT), "this node is not a recipient", out);
        goto end;
    }
    egide_rc why = EGIDE_OK;
    s_cert_clock_t cc;
    EVP_PKEY *spub = s_sender_key(e, h, &why, &cc);
    if (!spub && why == EGIDE_ERR_NOMEM) {
        rc = why; /* transient, like a store error */
        goto end;
    }
    if (!spub && why == EGIDE_ERR_NOTFOUND) {
        bool later = false;
        rc = s_unknown_sender(e, h, &later);
        if (rc || later)
            goto end; /* nothing signed: the broker delivers it again */
    }
    if (!spub) {
        rc = s_reject(e, h, sha, why == EGIDE_ERR_NOTFOUND ? R(UNKNOWN_SENDER) : s_reason_of(why),
                      "sender certificate unknown or not valid", out);
        goto end;
    }
    egide_rc vrc = egide_envelope_verify(env, spub);
    if (!vrc)
        s_check_clock(e, h, &cc);
    if (!vrc)
        vrc = egide_envelope_open(env, e->node_id, e->enc_key, spub, &ctype, &payload, &plen);
    EVP_PKEY_free(spub);
    if (vrc == EGIDE_ERR_UNAVAILABLE) {
        rc = vrc; /* the key holder is restarting: transient, delivered again */
        goto end;
    }
    if (vrc) {
        rc = s_reject(e, h, sha, s_reason_of(vrc), egide_strerror(vrc), out);
        goto end;
    }
    egide_payload_facts_t facts;
    memset(&facts, 0, sizeof facts);
    rc = s_check_payload(e, h, sha, ctype, payload, plen, &facts, out, &done);
    if (!rc && !done)
        rc = s_store(e, h, sha, ctype, payload, plen, &facts, out);
end:
    free(ctype);
    egide_free_secret(payload, plen);
    egide_envelope_destroy(&env);
    return rc;
}

egide_rc edge_inbox_step(edge_t *e, const uint8_t *bytes, size_t len, uint8_t **frame,
                         size_t *frame_len)
{
    if (!frame || !frame_len)
        return EGIDE_ERR_INVALID;
    *frame = NULL;
    *frame_len = 0;
    if (!e)
        return EGIDE_ERR_INVALID;
    edge_out_t *o = calloc(1, sizeof *o);
    if (!o)
        return EGIDE_ERR_NOMEM;
    egide_rc rc = edge_store_begin(e->store);
    if (!rc)
        rc = edge_inbox_deliver(e, bytes, len, o);
    if (!rc)
        rc = edge_store_commit(e->store);
    if (rc)
        edge_store_rollback(e->store);
    else
        edge_out_take(o, 0, frame, frame_len);
    edge_out_flush(e, o, false);
    free(o);
    return rc;
}
