/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * broker_submit.c - a Submit frame: admission (broker_admit, a pure
 * decision), then what the decision asks for: an audit leaf, a signed
 * receipt, the envelope and its queues in the store, the answer and the
 * first deliveries queued for after the commit.  Any store error makes the
 * batch refused (broker_store_failed): nothing of it is sent.
 */
#include "broker.h"

#include <stdlib.h>
#include <string.h>

#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/wire/egide_wire.h"

#include "broker_admit.h"

#define R(x) EGIDE__V1__REASON_CODE__REASON_##x

static void s_hex16(const uint8_t *id, char out[33])
{
    egide_hex_encode(id, 16, out);
}

/* An audit event about the envelope with header h; ids (n) its recipients. */
static void s_event(Egide__V1__AuditEvent *ev, int type, const Egide__V1__EnvelopeHeader *h,
                    const uint8_t *sha, char **ids, size_t n)
{
    *ev = (Egide__V1__AuditEvent)EGIDE__V1__AUDIT_EVENT__INIT;
    ev->type = type;
    ev->msg_id = h->msg_id;
    ev->envelope_sha256 = (ProtobufCBinaryData){32, (uint8_t *)sha};
    ev->sender_id = h->sender_id;
    ev->message_type = h->message_type;
    ev->n_recipient_ids = n;
    ev->recipient_ids = ids;
}

/* A signed REJECTED receipt with an audit leaf; remembered when the decision
 * says so, so that a retry gets the same answer. */
static void s_reject(broker_t *b, const char *node, uint64_t corr, const broker_admit_t *d)
{
    const Egide__V1__EnvelopeHeader *h = egide_envelope_header(d->env);
    char hex[33];
    s_hex16(h->msg_id.data, hex);
    egide_log_kv(EGIDE_LOG_NOTICE,
                 &(egide_log_fields){.component = "submit",
                                     .msg_id = hex,
                                     .peer = node,
                                     .reason = egide_wire_reason_name(d->reason)},
                 "rejected %s from %s (%s): %s", hex, node, egide_wire_reason_name(d->reason),
                 d->detail);

    Egide__V1__AuditEvent ev;
    s_event(&ev, EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_REJECTED, h, d->sha256, (char **)d->ids,
            d->n_ids);
    ev.node_id = (char *)node;
    ev.reason = d->reason;
    /* A rejection that is not remembered is not about these bytes as the
     * message (a sequence already used, a signature or sender that does not
     * hold, a msg_id taken): the same msg_id may still be accepted with
     * other bytes (an edge restored from a backup resequences and resubmits
     * it), and all the audit events of one msg_id must name one envelope.
     * So its leaf names the message, not a hash; the receipt has the hash. */
    if (!d->remember)
        ev.envelope_sha256 = (ProtobufCBinaryData){0, NULL};
    uint8_t *rcpt = NULL;
    size_t rlen = 0;
    egide_rc rc = broker_audit_receipt(b, &ev, EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED,
                                       h->msg_id.data, d->sha256, h->sender_id, NULL, d->reason,
                                       d->detail, &rcpt, &rlen, NULL);
    if (!rc && d->remember)
        rc = broker_store_rejection_put(b->store, h->msg_id.data, d->sha256, rcpt, rlen,
                                        egide_now_ms());
    if (rc) {
        broker_store_failed(b, rc, "remembering a rejection");
    } else {
        b->counted.rejected++;
        if (d->reason >= 0 && d->reason < 32)
            b->counted.rejected_by_reason[d->reason]++;
        broker_send_receipt(b, node, corr, 0, rcpt, rlen);
    }
    free(rcpt);
}

/* Accept: audit leaf, signed receipt, envelope + queues, in this commit;
 * then the answer and a first delivery to connected recipients. */
static void s_accept(broker_t *b, const char *node, uint64_t corr, broker_admit_t *d)
{
    const Egide__V1__EnvelopeHeader *h = egide_envelope_header(d->env);
    char **ids = d->ids;
    size_t n = d->n_ids;
    Egide__V1__AuditEvent ev;
    s_event(&ev, EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_ACCEPTED, h, d->sha256, ids, n);
    uint64_t leaf = 0;
    uint8_t *rcpt = NULL;
    size_t rlen = 0;
    egide_rc rc =
        broker_audit_receipt(b, &ev, EGIDE__V1__RECEIPT_KIND__RECEIPT_ACCEPTED, h->msg_id.data,
                             d->sha256, h->sender_id, NULL, 0, NULL, &rcpt, &rlen, &leaf);
    if (!rc) {
        d->accept.received_ms = egide_now_ms();
        d->accept.receipt = rcpt;
        d->accept.receipt_len = rlen;
        d->accept.leaf_index = leaf;
        rc = broker_store_accept(b->store, &d->accept);
    }
    if (rc) {
        broker_store_failed(b, rc, "storing an accepted envelope");
        free(rcpt);
        return;
    }
    if (h->in_reply_to.len == EGIDE_MSG_ID_LEN &&
        strcmp(h->message_type, "message.acknowledgement") == 0) {
        /* A person acknowledged an earlier message: log it under that
         * message's id, so its trail shows who acknowledged it and when. */
        Egide__V1__AuditEvent ack = EGIDE__V1__AUDIT_EVENT__INIT;
        ack.type = EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_ACKNOWLEDGED;
        ack.msg_id = h->in_reply_to;
        ack.node_id = h->sender_id;
        ack.message_type = h->message_type;
        ack.n_recipient_ids = n;
        ack.recipient_ids = ids;
        broker_audit(b, &ack, NULL);
    }
    b->counted.accepted++;
    char hex[33];
    s_hex16(h->msg_id.data, hex);
    egide_log_kv(EGIDE_LOG_INFO,
                 &(egide_log_fields){.component = "submit", .msg_id = hex, .peer = node},
                 "accepted %s (%s) from %s for %zu recipient%s", hex, h->message_type, node, n,
                 n == 1 ? "" : "s");
    broker_send_receipt(b, node, corr, 0, rcpt, rlen);
    free(rcpt);
    /* Deliver right away to connected recipients (after this commit). */
    for (size_t i = 0; i < n; i++) {
        broker_conn_t *c = broker_conn(b, ids[i], false);
        if (!c || !c->connected)
            continue;
        rc = broker_store_delivery_attempted(b->store, h->msg_id.data, ids[i],
                                             egide_now_ms() + (int64_t)b->retry_min_ms * 4);
        if (rc) {
            broker_store_failed(b, rc, "noting a delivery");
            return;
        }
        broker_send_deliver(b, ids[i], d->accept.data, d->accept.len);
    }
}

/* Before a REPLAY refusal: a Welcome with the highest sequence accepted from
 * node, queued ahead of the receipt in this batch (both leave after the same
 * commit, in this order).  The sender's counter is behind (restored, or the
 * Welcome answering its Hello was lost): with this it re-signs under a
 * number the broker has not used, instead of another stale one.  A store
 * error refuses the batch (returns true: nothing to send). */
static bool s_welcome(broker_t *b, const char *node, uint64_t corr)
{
    uint64_t last_seq = 0;
    egide_rc rc = broker_store_sender_max_seq(b->store, node, &last_seq);
    if (rc) {
        broker_store_failed(b, rc, "the sequence for a welcome before a replay refusal");
        return true;
    }
    broker_send_welcome(b, node, corr, last_seq);
    return false;
}

void broker_handle_submit(broker_t *b, const egide_transport_msg_t *m)
{
    const char *node = m->user_id;
    uint64_t corr = m->frame->corr_id;
    const ProtobufCBinaryData *raw = &m->frame->submit->envelope;
    broker_admit_in_t in = {
        .node_id = node,
        .env = raw->data,
        .len = raw->len,
        .dir = b->dir,
        .peers = b->peers,
        .store = b->store,
        .now_ms = broker_now(b),
        .clock_skew_ms = b->clock_skew_ms,
        .max_lifetime_ms = b->max_lifetime_ms,
        .seq_window = b->seq_window,
    };
    broker_admit_t d;
    if (broker_admit(&in, &d) != EGIDE_OK) {
        broker_admit_clear(&d);
        return;
    }
    switch (d.verdict) {
    case BROKER_ADMIT_MALFORMED:
        b->counted.rejected++;
        b->counted.rejected_by_reason[d.reason]++;
        egide_log_kv(
            EGIDE_LOG_NOTICE,
            &(egide_log_fields){.component = "submit", .peer = node, .reason = egide_rc_name(d.rc)},
            "unparsable envelope from %s: %s", node, egide_strerror(d.rc));
        broker_send_error(b, node, corr, d.reason, d.detail);
        break;
    case BROKER_ADMIT_RETRY:
        broker_store_failed(b, d.rc, "admission lookups");
        break;
    case BROKER_ADMIT_UNAVAILABLE:
        /* Logged loudly and counted by broker_directory_valid; nothing is
         * signed or remembered, the sender keeps the referral queued. */
        broker_directory_valid(b, in.now_ms);
        broker_send_error(b, node, corr, d.reason, d.detail);
        break;
    case BROKER_ADMIT_DUPLICATE:
        broker_send_receipt(b, node, corr, 0, d.stored.receipt, d.stored.receipt_len);
        break;
    case BROKER_ADMIT_REJECT:
        if (d.reason == R(REPLAY) && s_welcome(b, node, corr))
            break;
        s_reject(b, node, corr, &d);
        break;
    case BROKER_ADMIT_ACCEPT:
        s_accept(b, node, corr, &d);
        break;
    }
    broker_admit_clear(&d);
}
