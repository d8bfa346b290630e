/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * broker_relay.c - the way back and the retries: a recipient's signed
 * receipt settles its delivery and is relayed to the message's sender until
 * the sender acknowledges it; due deliveries and relays are (re)sent to
 * connected nodes with exponential backoff; deliveries past their expiry get
 * a REJECTED (EXPIRED) receipt from the broker.
 */
#include "broker.h"

#include <stdlib.h>
#include <string.h>

#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/protocol/egide_receipt.h"
#include "egide/wire/egide_wire.h"

#define R(x)         EGIDE__V1__REASON_CODE__REASON_##x
#define PUMP_BATCH   256
#define EXPIRE_BATCH 64

int64_t broker_backoff(const broker_t *b, int attempts)
{
    int64_t d = b->retry_min_ms;
    for (int i = 1; i < attempts && d < b->retry_max_ms; i++)
        d *= 2;
    return d < b->retry_max_ms ? d : b->retry_max_ms;
}

/* When a sent item is next due: a generous multiple of the backoff, since
 * the peer's answer normally settles it first. */
static int64_t s_next_due(const broker_t *b, int attempts)
{
    return egide_now_ms() + broker_backoff(b, attempts) * 4;
}

void broker_queue_relay(broker_t *b, const char *sender_id, const char *issuer,
                        const uint8_t *msg_id, const uint8_t *rcpt, size_t len)
{
    uint64_t id = 0;
    egide_rc rc = broker_store_relay_queue(b->store, sender_id, issuer, msg_id, rcpt, len,
                                           egide_now_ms(), &id);
    if (!rc)
        rc = broker_store_relay_attempted(b->store, id, s_next_due(b, 1));
    if (rc) {
        broker_store_failed(b, rc, "queueing a relay");
        return;
    }
    broker_send_receipt(b, sender_id, 0, id, rcpt, len);
}

/* The receipt's body, if it is one the authenticated node may give: signed
 * by it, about a delivery to it, DELIVERED or REJECTED.  Else answered. */
static const Egide__V1__ReceiptBody *s_receipt_body(broker_t *b, const egide_transport_msg_t *m,
                                                    const egide_peer_t *p, egide_receipt_t **r)
{
    const char *node = m->user_id;
    const ProtobufCBinaryData *raw = &m->frame->receipt->receipt;
    egide_rc rc = egide_receipt_parse(raw->data, raw->len, r);
    if (!rc)
        rc = egide_receipt_verify(*r, p->sign_pub);
    const Egide__V1__ReceiptBody *body = *r ? egide_receipt_body(*r) : NULL;
    if (rc || !body) {
        egide_log_kv(
            EGIDE_LOG_NOTICE,
            &(egide_log_fields){.component = "relay", .peer = node, .reason = egide_rc_name(rc)},
            "bad receipt from %s: %s", node, egide_strerror(rc));
        broker_send_error(b, node, m->frame->corr_id,
                          rc == EGIDE_ERR_SIGNATURE ? R(BAD_SIGNATURE) : R(MALFORMED),
                          "receipt refused");
        return NULL;
    }
    if (strcmp(body->issuer_id, node) != 0 || strcmp(body->recipient_id, node) != 0 ||
        (body->kind != EGIDE__V1__RECEIPT_KIND__RECEIPT_DELIVERED &&
         body->kind != EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED)) {
        broker_send_error(b, node, m->frame->corr_id, R(SENDER_MISMATCH),
                          "receipt issuer must be the authenticated recipient");
        return NULL;
    }
    return body;
}

void broker_handle_receipt(broker_t *b, const egide_transport_msg_t *m)
{
    const char *node = m->user_id;
    const ProtobufCBinaryData *raw = &m->frame->receipt->receipt;
    const egide_peer_t *p = egide_peers_get(b->peers, node);
    if (!p || p->status != EGIDE_OK) {
        broker_send_error(b, node, m->frame->corr_id, R(UNKNOWN_SENDER), "issuer not valid");
        return;
    }
    egide_receipt_t *r = NULL;
    const Egide__V1__ReceiptBody *body = s_receipt_body(b, m, p, &r);
    if (!body)
        goto done;
    broker_delivery_t dl;
    egide_rc rc = body->msg_id.len == 16
                      ? broker_store_delivery_get(b->store, body->msg_id.data, node, &dl)
                      : EGIDE_ERR_NOTFOUND;
    if (rc == EGIDE_ERR_NOTFOUND || (!rc && (body->envelope_sha256.len != 32 ||
                                             memcmp(dl.sha256, body->envelope_sha256.data, 32)))) {
        broker_send_error(b, node, m->frame->corr_id, R(UNKNOWN_RECIPIENT),
                          "no such delivery for this node");
        goto done;
    }
    if (rc) {
        broker_store_failed(b, rc, "reading a delivery");
        goto done;
    }
    if (dl.state != BROKER_DELIVERY_QUEUED) {
        /* Already final: a retry of the same receipt (its relay exists), or
         * the answer to a redelivery to a restored node.  Either way the
         * delivery keeps the receipt that settled it, the sender was told
         * once, and the audit log has its entry: only the redelivery, if
         * any, is done. */
        rc = broker_store_redelivery_done(b->store, body->msg_id.data, node);
        if (rc && rc != EGIDE_ERR_NOTFOUND)
            broker_store_failed(b, rc, "ending a redelivery");
        else if (!rc && body->kind != EGIDE__V1__RECEIPT_KIND__RECEIPT_DELIVERED)
            egide_log(EGIDE_LOG_NOTICE,
                      "node %s refused a message it had received before the restore of its "
                      "store; the sender keeps the first answer",
                      node);
        goto done;
    }

    bool delivered = body->kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_DELIVERED;
    rc = broker_store_delivery_finish(b->store, body->msg_id.data, node,
                                      delivered ? BROKER_DELIVERY_DELIVERED
                                                : BROKER_DELIVERY_REJECTED,
                                      raw->data, raw->len, egide_now_ms());
    if (rc) {
        /* Not settled: do not relay a receipt the store does not hold. */
        broker_store_failed(b, rc, "settling a delivery");
        goto done;
    }
    uint8_t rsha[32];
    egide_sha256(raw->data, raw->len, rsha);
    Egide__V1__AuditEvent ev = EGIDE__V1__AUDIT_EVENT__INIT;
    ev.type = delivered ? EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_DELIVERED
                        : EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_RECIPIENT_REJECTED;
    ev.msg_id = body->msg_id;
    ev.envelope_sha256 = body->envelope_sha256;
    ev.sender_id = dl.sender_id;
    ev.message_type = dl.type;
    ev.node_id = (char *)node;
    ev.reason = body->reason;
    ev.receipt_sha256 = (ProtobufCBinaryData){32, rsha};
    if (broker_audit(b, &ev, NULL))
        goto done;
    if (delivered)
        b->counted.delivered++;
    else
        b->counted.recipient_rejected++;
    char hex[33];
    egide_hex_encode(body->msg_id.data, 16, hex);
    egide_log_kv(
        EGIDE_LOG_INFO,
        &(egide_log_fields){.component = "relay",
                            .msg_id = hex,
                            .peer = node,
                            .reason = delivered ? NULL : egide_wire_reason_name(body->reason)},
        "%s %s at %s", hex, delivered ? "delivered" : "refused by its recipient", node);
    broker_queue_relay(b, dl.sender_id, node, body->msg_id.data, raw->data, raw->len);
done:
    egide_receipt_destroy(&r);
}

void broker_handle_ack(broker_t *b, const egide_transport_msg_t *m)
{
    const Egide__V1__Ack *a = m->frame->ack;
    for (size_t i = 0; i < a->n_ids && i < 4096; i++) {
        broker_relay_acked_t ack;
        egide_rc rc = broker_store_relay_ack(b->store, a->ids[i], m->user_id, &ack);
        if (rc == EGIDE_ERR_NOTFOUND)
            continue; /* a second ack, or not this sender's relay */
        if (rc) {
            broker_store_failed(b, rc, "acknowledging a relay");
            return;
        }
        Egide__V1__AuditEvent ev = EGIDE__V1__AUDIT_EVENT__INIT;
        ev.type = EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_RECEIPT_RELAYED;
        ev.msg_id = (ProtobufCBinaryData){16, ack.msg_id};
        ev.receipt_sha256 = (ProtobufCBinaryData){32, ack.receipt_sha256};
        ev.sender_id = (char *)m->user_id; /* the message's sender, who now holds it */
        ev.node_id = ack.issuer;           /* whose receipt it is */
        if (broker_audit(b, &ev, NULL))
            return;
        b->counted.relayed++;
    }
}

/* What a restored node lost (broker_hello.c): the next page queued while
 * one follows, then what is due sent, as the first deliveries were. */
static egide_rc s_pump_redeliveries(broker_t *b, const char *node, int64_t now)
{
    broker_conn_t *c = broker_conn(b, node, false);
    egide_rc rc = EGIDE_OK;
    if (c && c->redeliver_more && !b->redeliver_hold) {
        /* The cursor is the store's: a page queued and the cursor moved on
         * commit (or roll back) together. */
        broker_redeliver_cursor_t cur;
        size_t k = 0;
        rc = broker_store_redeliver_resume(b->store, node, &cur);
        if (rc == EGIDE_OK)
            rc = broker_store_redeliver_page(b->store, node, &cur, b->redeliver_page, now, &k);
        else if (rc == EGIDE_ERR_NOTFOUND)
            rc = EGIDE_OK; /* none under way any more */
        if (rc)
            return rc;
        c->redeliver_more = k == b->redeliver_page;
        b->redeliver_moved = true;
    }
    broker_due_t *due = NULL;
    size_t n = 0;
    rc = broker_store_redeliveries_due(b->store, node, now, PUMP_BATCH, &due, &n);
    for (size_t i = 0; !rc && i < n; i++) {
        rc = broker_store_redelivery_attempted(b->store, due[i].msg_id, node,
                                               s_next_due(b, due[i].attempts + 1));
        if (rc)
            break;
        broker_send_deliver(b, node, due[i].data, due[i].len);
        b->counted.redeliveries++;
    }
    broker_due_free(due, n);
    return rc;
}

/* Due deliveries, redeliveries and relays of one connected node. */
static egide_rc s_pump_node(broker_t *b, const char *node, int64_t now)
{
    broker_due_t *due = NULL;
    size_t n = 0;
    egide_rc rc = broker_store_deliveries_due(b->store, node, now, PUMP_BATCH, &due, &n);
    for (size_t i = 0; !rc && i < n; i++) {
        rc = broker_store_delivery_attempted(b->store, due[i].msg_id, node,
                                             s_next_due(b, due[i].attempts + 1));
        if (rc)
            break;
        broker_send_deliver(b, node, due[i].data, due[i].len);
        if (due[i].attempts > 0)
            b->counted.redeliveries++;
    }
    broker_due_free(due, n);
    if (rc)
        return rc;
    rc = s_pump_redeliveries(b, node, now);
    if (rc)
        return rc;
    broker_due_t *rel = NULL;
    rc = broker_store_relays_due(b->store, node, now, PUMP_BATCH, &rel, &n);
    for (size_t i = 0; !rc && i < n; i++) {
        rc = broker_store_relay_attempted(b->store, rel[i].id, s_next_due(b, rel[i].attempts + 1));
        if (!rc)
            broker_send_receipt(b, node, 0, rel[i].id, rel[i].data, rel[i].len);
    }
    broker_due_free(rel, n);
    return rc;
}

void broker_pump(broker_t *b)
{
    int64_t now = egide_now_ms();
    for (size_t i = 0; i < b->n_conns; i++) {
        broker_conn_t *c = &b->conns[i];
        if (!c->connected)
            continue;
        /* A node suspended or revoked since it connected gets nothing more. */
        const egide_peer_t *cp = egide_peers_get(b->peers, c->node_id);
        if (!cp || cp->status != EGIDE_OK || !egide_directory_node_active(cp->node))
            continue;
        egide_rc rc = s_pump_node(b, c->node_id, now);
        if (rc) {
            broker_store_failed(b, rc, "sending due deliveries");
            return;
        }
    }
}

void broker_expire(broker_t *b)
{
    broker_expiring_t *rows = NULL;
    size_t n = 0;
    int64_t now = egide_now_ms();
    /* Rows are read first: the audit log cannot open its savepoint while a
     * query is still stepping. */
    egide_rc rc = broker_store_deliveries_expiring(b->store, now, EXPIRE_BATCH, &rows, &n);
    if (rc)
        broker_store_failed(b, rc, "reading expired deliveries");
    for (size_t i = 0; !rc && i < n; i++) {
        broker_expiring_t *x = &rows[i];
        Egide__V1__AuditEvent ev = EGIDE__V1__AUDIT_EVENT__INIT;
        ev.type = EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_EXPIRED;
        ev.msg_id = (ProtobufCBinaryData){16, x->msg_id};
        ev.envelope_sha256 = (ProtobufCBinaryData){32, x->sha256};
        ev.sender_id = x->sender_id;
        ev.node_id = x->recipient_id;
        ev.message_type = x->type;
        ev.reason = R(EXPIRED);
        uint8_t *r = NULL;
        size_t rlen = 0;
        rc = broker_audit_receipt(b, &ev, EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED, x->msg_id,
                                  x->sha256, x->sender_id, x->recipient_id, R(EXPIRED),
                                  "not delivered before expiry", &r, &rlen, NULL);
        if (!rc)
            rc = broker_store_delivery_finish(b->store, x->msg_id, x->recipient_id,
                                              BROKER_DELIVERY_EXPIRED, r, rlen, now);
        if (rc) {
            broker_store_failed(b, rc, "expiring a delivery");
            free(r);
            break;
        }
        broker_queue_relay(b, x->sender_id, b->node_id, x->msg_id, r, rlen);
        free(r);
        b->counted.expired++;
    }
    broker_expiring_free(rows);
}
