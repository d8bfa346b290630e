/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * broker_out.c - what the broker sends and when: the table of connected
 * nodes, the output queue (b->out) that handlers fill inside a transaction
 * and that is flushed only after its COMMIT, the commit itself (rolled back
 * and discarded when the batch met a store error), the broker's signed
 * receipts, error frames and audit appends.  Every frame is built by
 * egide_frame_* and sent by egide_transport_send_raw.
 */
#include "broker.h"

#include <stdlib.h>
#include <string.h>

#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/protocol/egide_receipt.h"
#include "egide/wire/egide_frame.h"
#include "egide/wire/egide_wire.h"

int64_t broker_now(const broker_t *b)
{
    return b->clock ? b->clock() : egide_now_ms();
}

/* ------------------------------------------------------------ connections */

broker_conn_t *broker_conn(broker_t *b, const char *node_id, bool create)
{
    for (size_t i = 0; i < b->n_conns; i++)
        if (strcmp(b->conns[i].node_id, node_id) == 0)
            return &b->conns[i];
    if (!create)
        return NULL;
    if (b->n_conns == b->cap_conns) {
        size_t ncap = b->cap_conns ? b->cap_conns * 2 : 16;
        broker_conn_t *n = realloc(b->conns, ncap * sizeof *n);
        if (!n)
            return NULL;
        b->conns = n;
        b->cap_conns = ncap;
    }
    broker_conn_t *c = &b->conns[b->n_conns++];
    memset(c, 0, sizeof *c);
    egide_strlcpy(c->node_id, node_id, sizeof c->node_id);
    return c;
}

void broker_conns_forget(broker_t *b)
{
    for (size_t i = 0; i < b->n_conns; i++) {
        b->conns[i].connected = false;
        b->conns[i].said_hello = false;
    }
    atomic_store(&b->m.connected_nodes, 0);
}

void broker_conn_seen(broker_t *b, const egide_transport_msg_t *m)
{
    broker_conn_t *c = broker_conn(b, m->user_id, true);
    if (!c || m->rid_len > sizeof c->rid)
        return;
    memcpy(c->rid, m->routing_id, m->rid_len);
    c->rid_len = m->rid_len;
    if (!c->connected)
        atomic_fetch_add(&b->m.connected_nodes, 1);
    c->connected = true;
    c->last_seen_ms = egide_now_ms();
}

/* ------------------------------------------------------------ queue */

void broker_out_push(broker_t *b, const char *node_id, egide_rc rc, uint8_t **data, size_t len)
{
    broker_out_t *o = NULL;
    if (rc == EGIDE_OK && *data)
        o = calloc(1, sizeof *o);
    if (!o) {
        /* A frame we cannot build is one we cannot send: the peer's retry
         * (or the next redelivery) asks again. */
        egide_log(EGIDE_LOG_WARNING, "frame for %s not built: %s", node_id,
                  egide_strerror(rc ? rc : EGIDE_ERR_NOMEM));
        free(*data);
        *data = NULL;
        return;
    }
    o->data = *data;
    o->len = len;
    *data = NULL;
    egide_strlcpy(o->node_id, node_id, sizeof o->node_id);
    *b->out_tail = o;
    b->out_tail = &o->next;
}

void broker_out_discard(broker_t *b)
{
    broker_out_t *o = b->out;
    while (o) {
        broker_out_t *next = o->next;
        free(o->data);
        free(o);
        o = next;
    }
    b->out = NULL;
    b->out_tail = &b->out;
}

void broker_flush(broker_t *b)
{
    for (broker_out_t *o = b->out; o; o = o->next) {
        broker_conn_t *c = broker_conn(b, o->node_id, false);
        if (!c || !c->connected)
            continue; /* stays in the store; sent when it connects */
        egide_rc rc = egide_transport_send_raw(b->router, c->rid, c->rid_len, o->data, o->len);
        if (rc == EGIDE_ERR_STATE) {
            c->connected = false;
            atomic_fetch_sub(&b->m.connected_nodes, 1);
            egide_log(EGIDE_LOG_INFO, "node %s unreachable; its queue waits", c->node_id);
        }
    }
    broker_out_discard(b);
}

void broker_store_failed(broker_t *b, egide_rc rc, const char *what)
{
    if (!b->store_failed)
        egide_log_kv(EGIDE_LOG_ERROR,
                     &(egide_log_fields){.component = "store", .reason = egide_rc_name(rc)},
                     "store: %s: %s; this batch will be refused", what, egide_strerror(rc));
    b->store_failed = true;
}

/* The committed transaction's outcomes into the metrics. */
static void s_count(broker_t *b)
{
    broker_metrics_t *m = &b->m;
    const broker_counted_t *c = &b->counted;
    atomic_fetch_add(&m->accepted, c->accepted);
    atomic_fetch_add(&m->rejected, c->rejected);
    atomic_fetch_add(&m->delivered, c->delivered);
    atomic_fetch_add(&m->recipient_rejected, c->recipient_rejected);
    atomic_fetch_add(&m->relayed, c->relayed);
    atomic_fetch_add(&m->expired, c->expired);
    atomic_fetch_add(&m->deliveries_sent, c->deliveries_sent);
    atomic_fetch_add(&m->redeliveries, c->redeliveries);
    for (size_t i = 0; i < 32; i++)
        if (c->rejected_by_reason[i])
            atomic_fetch_add(&m->rejected_by_reason[i], c->rejected_by_reason[i]);
    /* The loop commits every tick; only a transaction that wrote is a
     * durable write (an fsync with SQLite): count those. */
    if (broker_store_wrote(b->store) || b->audit_wrote || b->checkpoint_pending)
        atomic_fetch_add(&m->commits, 1);
    b->audit_wrote = false;
}

/* The redelivery flags changed in this transaction: kept when it
 * committed; when it rolled back (with the pages it queued and the stored
 * cursors, which are the truth: the flag only says where to look), a flag
 * set then or before stays set: a cursor may be there, and a flag set
 * for none costs one lookup, which clears it. */
/* The checkpoints queued in this transaction: sent with its commit (the
 * edges then hold them), or dropped with its rollback. */
static void s_checkpoints_queued(broker_t *b, bool committed)
{
    for (size_t i = 0; i < b->n_conns; i++) {
        broker_conn_t *c = &b->conns[i];
        if (committed && c->checkpoint_size_queued > c->checkpoint_size)
            c->checkpoint_size = c->checkpoint_size_queued;
        c->checkpoint_size_queued = 0;
    }
}

static void s_redeliver_cursors(broker_t *b, bool committed)
{
    if (!b->redeliver_moved)
        return;
    for (size_t i = 0; i < b->n_conns; i++) {
        broker_conn_t *c = &b->conns[i];
        if (committed)
            c->redeliver_more_committed = c->redeliver_more;
        else
            c->redeliver_more = c->redeliver_more || c->redeliver_more_committed;
    }
    b->redeliver_moved = false;
}

egide_rc broker_commit(broker_t *b)
{
    egide_rc rc = EGIDE_ERR_DB;
    if (!b->store_failed && (rc = broker_store_commit(b->store)) == EGIDE_OK) {
        s_redeliver_cursors(b, true);
        s_checkpoints_queued(b, true);
        s_count(b);
        memset(&b->counted, 0, sizeof b->counted);
        broker_keep_checkpoint(b);
        broker_flush(b);
        return EGIDE_OK;
    }
    if (rc == EGIDE_ERR_STATE)
        b->lease_check = true; /* fenced: the lease is checked before anything else */
    b->audit_wrote = false;
    free(b->checkpoint_pending); /* signed in a transaction that did not happen */
    b->checkpoint_pending = NULL;
    memset(&b->counted, 0, sizeof b->counted);
    /* Nothing queued in b->out was promised: drop it, peers retry. */
    egide_log_kv(EGIDE_LOG_ERROR, &(egide_log_fields){.component = "store"},
                 "%s; batch rolled back, nothing sent, peers will retry",
                 b->store_failed ? "store error in this batch" : "commit failed");
    broker_store_rollback(b->store);
    s_redeliver_cursors(b, false);
    s_checkpoints_queued(b, false);
    broker_out_discard(b);
    b->store_failed = false;
    return rc;
}

/* ------------------------------------------------------------ audit */

egide_rc broker_audit(broker_t *b, Egide__V1__AuditEvent *ev, uint64_t *leaf)
{
    ev->version = 1;
    if (!ev->time_ms)
        ev->time_ms = egide_now_ms();
    uint64_t idx = 0;
    egide_rc rc = egide_auditlog_append_event(b->audit, ev, &idx);
    if (rc)
        broker_store_failed(b, rc, egide_wire_audit_type_name(ev->type));
    else
        atomic_store(&b->m.audit_size, idx + 1);
    if (!rc)
        b->audit_wrote = true;
    if (leaf)
        *leaf = idx;
    return rc;
}

/* ------------------------------------------------------------ frames */

egide_rc broker_receipt(broker_t *b, int kind, const uint8_t *msg_id, const uint8_t *sha,
                        const char *sender_id, const char *recipient_id, int reason,
                        const char *detail, int64_t leaf, uint8_t **out, size_t *len)
{
    egide_receipt_params_t p = {
        .kind = kind,
        .msg_id = msg_id,
        .envelope_sha256 = sha,
        .issuer_id = b->node_id,
        .sender_id = sender_id ? sender_id : "",
        .recipient_id = recipient_id,
        .time_ms = egide_now_ms(),
        .reason = reason,
        .detail = detail,
        .has_audit_leaf = leaf >= 0,
        .audit_leaf_index = leaf >= 0 ? (uint64_t)leaf : 0,
        .issuer_cert_fpr = b->sign_fpr,
    };
    egide_rc rc = egide_receipt_sign(&p, b->sign_key, out, len);
    if (rc)
        egide_log(EGIDE_LOG_ERROR, "signing a receipt: %s", egide_strerror(rc));
    return rc;
}

egide_rc broker_audit_receipt(broker_t *b, Egide__V1__AuditEvent *ev, int kind,
                              const uint8_t *msg_id, const uint8_t *sha, const char *sender_id,
                              const char *recipient_id, int reason, const char *detail,
                              uint8_t **out, size_t *len, uint64_t *leaf)
{
    uint64_t idx = 0;
    egide_rc rc = broker_audit(b, ev, &idx);
    if (!rc)
        rc = broker_receipt(b, kind, msg_id, sha, sender_id, recipient_id, reason, detail,
                            (int64_t)idx, out, len);
    if (rc)
        broker_store_failed(b, rc, "an audited receipt");
    if (leaf)
        *leaf = idx;
    return rc;
}

void broker_send_receipt(broker_t *b, const char *node_id, uint64_t corr, uint64_t relay_id,
                         const uint8_t *receipt, size_t len)
{
    uint8_t *f = NULL;
    size_t n = 0;
    egide_rc rc = egide_frame_receipt(corr, relay_id, receipt, len, &f, &n);
    broker_out_push(b, node_id, rc, &f, n);
}

void broker_send_error(broker_t *b, const char *node_id, uint64_t corr, int code,
                       const char *detail)
{
    uint8_t *f = NULL;
    size_t n = 0;
    egide_rc rc = egide_frame_error(corr, code, detail, &f, &n);
    broker_out_push(b, node_id, rc, &f, n);
}

void broker_send_deliver(broker_t *b, const char *node_id, const uint8_t *env, size_t len)
{
    uint8_t *f = NULL;
    size_t n = 0;
    egide_rc rc = egide_frame_deliver(0, env, len, &f, &n);
    broker_out_push(b, node_id, rc, &f, n);
    b->counted.deliveries_sent++;
}

void broker_send_welcome(broker_t *b, const char *node_id, uint64_t corr, uint64_t last_seq)
{
    uint8_t *f = NULL;
    size_t n = 0;
    egide_rc rc = egide_frame_welcome(corr, last_seq, &f, &n);
    broker_out_push(b, node_id, rc, &f, n);
}
