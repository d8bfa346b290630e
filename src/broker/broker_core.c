/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * broker_core.c - the broker's message loop: ZAP admission, hello and
 * directory sync, envelope acceptance (authentication, signature, rules,
 * replay), per-recipient queues, receipts relayed back to senders, expiry,
 * and signed audit checkpoints.
 *
 * One thread owns the ROUTER, the ZAP socket and the database.  Frames are
 * handled in batches inside one transaction (group commit) or one per
 * transaction; what they produce (receipts, deliveries) is queued in b->out
 * and sent only after the COMMIT has returned, i.e. after the fsync.
 */
#include "broker.h"

#include <errno.h>
#include <string.h>
#include <zmq.h>

#include "egide/crypto/egide_crypto.h"
#include "egide/store/egide_db.h"
#include "egide/protocol/egide_envelope.h"
#include "egide/base/egide_limits.h"
#include "egide/base/egide_log.h"
#include "egide/protocol/egide_receipt.h"
#include "egide/base/egide_util.h"
#include "egide/wire/egide_wire.h"

#define R(x)       EGIDE__V1__REASON_CODE__REASON_##x
#define PUMP_BATCH 256
#define TICK_MS    200

static void s_hex16(const uint8_t *id, char out[33])
{
    egide_hex_encode(id, 16, out);
}

/* ------------------------------------------------------------ connections */

static broker_conn_t *s_conn(broker_t *b, const char *node_id, bool create)
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

static void s_conn_seen(broker_t *b, const egide_transport_msg_t *m)
{
    broker_conn_t *c = s_conn(b, m->user_id, true);
    if (!c)
        return;
    memcpy(c->rid, m->routing_id, m->rid_len);
    c->rid_len = m->rid_len;
    if (!c->connected)
        atomic_fetch_add(&b->m.connected_nodes, 1);
    c->connected = true;
    c->last_seen_ms = egide_now_ms();
}

/* ------------------------------------------------------------ outgoing */

static void s_out_push(broker_t *b, const char *node_id, const Egide__V1__Frame *f)
{
    broker_out_t *o = calloc(1, sizeof *o);
    if (!o)
        return;
    if (egide_wire_pack(EGIDE_WIRE_FRAME, f, &o->data, &o->len) != EGIDE_OK) {
        free(o);
        return;
    }
    egide_strlcpy(o->node_id, node_id, sizeof o->node_id);
    *b->out_tail = o;
    b->out_tail = &o->next;
}

static void s_out_discard(broker_t *b)
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

static void s_flush(broker_t *b)
{
    for (broker_out_t *o = b->out; o; o = o->next) {
        broker_conn_t *c = s_conn(b, o->node_id, false);
        if (!c || !c->connected)
            continue; /* stays in the database; sent when it connects */
        if (zmq_send(b->router, c->rid, c->rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zmq_send(b->router, o->data, o->len, ZMQ_DONTWAIT) < 0) {
            if (errno == EHOSTUNREACH) {
                c->connected = false;
                atomic_fetch_sub(&b->m.connected_nodes, 1);
                egide_log(EGIDE_LOG_INFO, "node %s unreachable; its queue waits", c->node_id);
            }
        }
    }
    s_out_discard(b);
}

static egide_rc s_commit(broker_t *b)
{
    egide_rc rc = egide_db_commit(b->db);
    if (rc) {
        /* Nothing queued in b->out was promised: drop it, peers retry. */
        egide_log(EGIDE_LOG_ERROR, "commit failed: %s; batch rolled back", egide_strerror(rc));
        egide_db_rollback(b->db);
        s_out_discard(b);
        return rc;
    }
    atomic_fetch_add(&b->m.commits, 1);
    s_flush(b);
    return EGIDE_OK;
}

/* ------------------------------------------------------------ audit */

static void s_audit(broker_t *b, Egide__V1__AuditEvent *ev, uint64_t *leaf)
{
    ev->version = 1;
    if (!ev->time_ms)
        ev->time_ms = egide_now_ms();
    uint64_t idx = 0;
    egide_rc rc = egide_auditlog_append_event(b->audit, ev, &idx);
    if (rc)
        egide_log(EGIDE_LOG_ERROR, "audit append (%s): %s", egide_wire_audit_type_name(ev->type),
                  egide_strerror(rc));
    else
        atomic_store(&b->m.audit_size, idx + 1);
    if (leaf)
        *leaf = idx;
}

/* ------------------------------------------------------------ receipts */

/* Build and sign a broker receipt; *out is the caller's. */
static egide_rc s_receipt(broker_t *b, int kind, const uint8_t *msg_id, const uint8_t *sha,
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
    return egide_receipt_sign(&p, b->sign_key, out, len);
}

static void s_send_receipt(broker_t *b, const char *node_id, uint64_t corr, uint64_t relay_id,
                           const uint8_t *receipt, size_t len)
{
    Egide__V1__Frame f;
    Egide__V1__ReceiptFrame rf = EGIDE__V1__RECEIPT_FRAME__INIT;
    egide_wire_frame_init(&f, corr);
    rf.receipt = (ProtobufCBinaryData){len, (uint8_t *)receipt};
    rf.relay_id = relay_id;
    f.body_case = EGIDE__V1__FRAME__BODY_RECEIPT;
    f.receipt = &rf;
    s_out_push(b, node_id, &f);
}

static void s_send_error(broker_t *b, const char *node_id, uint64_t corr, int code,
                         const char *detail)
{
    Egide__V1__Frame f;
    Egide__V1__Error e = EGIDE__V1__ERROR__INIT;
    egide_wire_frame_init(&f, corr);
    e.code = code;
    e.detail = (char *)detail;
    f.body_case = EGIDE__V1__FRAME__BODY_ERROR;
    f.error = &e;
    s_out_push(b, node_id, &f);
}

/* ------------------------------------------------------------ submit */

/* Reject an envelope whose sender is authenticated: signed REJECTED receipt,
 * remembered so a retry gets the same answer, and an audit leaf. */
static void s_reject(broker_t *b, const char *node_id, uint64_t corr,
                     const Egide__V1__EnvelopeHeader *h, const uint8_t sha[32], int reason,
                     const char *detail, bool remember)
{
    char hex[33];
    s_hex16(h->msg_id.data, hex);
    egide_log(EGIDE_LOG_NOTICE, "rejected %s from %s (%s): %s", hex, node_id,
              egide_wire_reason_name(reason), detail);
    atomic_fetch_add(&b->m.rejected, 1);
    if (reason >= 0 && reason < 32)
        atomic_fetch_add(&b->m.rejected_by_reason[reason], 1);

    Egide__V1__AuditEvent ev = EGIDE__V1__AUDIT_EVENT__INIT;
    ev.type = EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_REJECTED;
    ev.msg_id = h->msg_id;
    ev.envelope_sha256 = (ProtobufCBinaryData){32, (uint8_t *)sha};
    ev.sender_id = h->sender_id;
    ev.message_type = h->message_type;
    ev.node_id = (char *)node_id;
    ev.reason = reason;
    char *ids[EGIDE_MAX_RECIPIENTS];
    for (size_t i = 0; i < h->n_recipients && i < EGIDE_MAX_RECIPIENTS; i++)
        ids[i] = h->recipients[i]->node_id;
    ev.n_recipient_ids = h->n_recipients;
    ev.recipient_ids = ids;
    uint64_t leaf;
    s_audit(b, &ev, &leaf);

    uint8_t *rcpt;
    size_t rlen;
    if (s_receipt(b, EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED, h->msg_id.data, sha, h->sender_id,
                  NULL, reason, detail, (int64_t)leaf, &rcpt, &rlen) != EGIDE_OK)
        return;
    if (remember) {
        sqlite3_stmt *st;
        if (egide_db_stmt(b->db,
                          "INSERT OR IGNORE INTO rejections(msg_id, sha256, receipt, time_ms)"
                          " VALUES(?,?,?,?)",
                          &st) == EGIDE_OK) {
            sqlite3_bind_blob(st, 1, h->msg_id.data, 16, SQLITE_STATIC);
            sqlite3_bind_blob(st, 2, sha, 32, SQLITE_STATIC);
            sqlite3_bind_blob(st, 3, rcpt, (int)rlen, SQLITE_STATIC);
            sqlite3_bind_int64(st, 4, egide_now_ms());
            sqlite3_step(st);
            egide_db_done(st);
        }
    }
    s_send_receipt(b, node_id, corr, 0, rcpt, rlen);
    free(rcpt);
}

/* A msg_id seen before: same bytes -> the original receipt, no redelivery;
 * other bytes -> REJECTED (duplicate conflict).  Returns true if handled. */
static bool s_duplicate(broker_t *b, const char *node_id, uint64_t corr,
                        const Egide__V1__EnvelopeHeader *h, const uint8_t sha[32])
{
    sqlite3_stmt *st;
    bool handled = false;
    if (egide_db_stmt(b->db, "SELECT sha256, receipt FROM envelopes WHERE msg_id=?", &st))
        return false;
    sqlite3_bind_blob(st, 1, h->msg_id.data, 16, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        handled = true;
        const void *osha = sqlite3_column_blob(st, 0);
        if (sqlite3_column_bytes(st, 0) == 32 && memcmp(osha, sha, 32) == 0) {
            s_send_receipt(b, node_id, corr, 0, sqlite3_column_blob(st, 1),
                           (size_t)sqlite3_column_bytes(st, 1));
        } else {
            egide_db_done(st);
            s_reject(b, node_id, corr, h, sha, R(DUPLICATE_CONFLICT),
                     "msg_id already used with another envelope", false);
            return true;
        }
    }
    egide_db_done(st);
    if (handled)
        return true;
    if (egide_db_stmt(b->db, "SELECT receipt FROM rejections WHERE msg_id=? AND sha256=?", &st))
        return false;
    sqlite3_bind_blob(st, 1, h->msg_id.data, 16, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, sha, 32, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        s_send_receipt(b, node_id, corr, 0, sqlite3_column_blob(st, 0),
                       (size_t)sqlite3_column_bytes(st, 0));
        handled = true;
    }
    egide_db_done(st);
    return handled;
}

/* Replay window on the per-sender sequence: a sequence number is used once,
 * and never more than seq_window behind the highest seen. */
static bool s_seq_ok(broker_t *b, const Egide__V1__EnvelopeHeader *h)
{
    sqlite3_stmt *st;
    if (h->sender_seq == 0 || h->sender_seq > INT64_MAX)
        return false;
    if (egide_db_stmt(b->db, "SELECT max_seq FROM senders WHERE sender_id=?", &st))
        return false;
    sqlite3_bind_text(st, 1, h->sender_id, -1, SQLITE_STATIC);
    uint64_t max = 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        max = (uint64_t)sqlite3_column_int64(st, 0);
    egide_db_done(st);
    if (max > b->seq_window && h->sender_seq <= max - b->seq_window)
        return false;
    if (egide_db_stmt(b->db, "SELECT 1 FROM envelopes WHERE sender_id=? AND sender_seq=?", &st))
        return false;
    sqlite3_bind_text(st, 1, h->sender_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)h->sender_seq);
    bool used = sqlite3_step(st) == SQLITE_ROW;
    egide_db_done(st);
    return !used;
}

static egide_rc s_store_accepted(broker_t *b, const Egide__V1__EnvelopeHeader *h,
                                 const uint8_t sha[32], const uint8_t *raw, size_t len,
                                 const uint8_t *rcpt, size_t rlen, uint64_t leaf)
{
    sqlite3_stmt *st;
    egide_rc rc = egide_db_stmt(
        b->db,
        "INSERT INTO envelopes(msg_id, sha256, sender_id, sender_seq, type, urgency, created_ms,"
        " expires_ms, received_ms, data, receipt, leaf_index) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
        &st);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, h->msg_id.data, 16, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, sha, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, h->sender_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (int64_t)h->sender_seq);
    sqlite3_bind_text(st, 5, h->message_type, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, h->urgency);
    sqlite3_bind_int64(st, 7, h->created_ms);
    sqlite3_bind_int64(st, 8, h->expires_ms);
    sqlite3_bind_int64(st, 9, egide_now_ms());
    sqlite3_bind_blob(st, 10, raw, (int)len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 11, rcpt, (int)rlen, SQLITE_STATIC);
    sqlite3_bind_int64(st, 12, (int64_t)leaf);
    rc = egide_db_rc(sqlite3_step(st));
    egide_db_done(st);
    if (rc)
        return rc;
    rc = egide_db_stmt(b->db,
                       "INSERT INTO deliveries(msg_id, recipient_id, urgency, expires_ms)"
                       " VALUES(?,?,?,?)",
                       &st);
    if (rc)
        return rc;
    for (size_t i = 0; i < h->n_recipients && !rc; i++) {
        sqlite3_reset(st);
        sqlite3_bind_blob(st, 1, h->msg_id.data, 16, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, h->recipients[i]->node_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, h->urgency);
        sqlite3_bind_int64(st, 4, h->expires_ms);
        rc = egide_db_rc(sqlite3_step(st));
    }
    egide_db_done(st);
    if (rc)
        return rc;
    rc = egide_db_stmt(b->db,
                       "INSERT INTO senders(sender_id, max_seq) VALUES(?1, ?2)"
                       " ON CONFLICT(sender_id) DO UPDATE SET max_seq=max(max_seq, ?2)",
                       &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, h->sender_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)h->sender_seq);
    rc = egide_db_rc(sqlite3_step(st));
    egide_db_done(st);
    return rc;
}

static void s_handle_submit(broker_t *b, const egide_transport_msg_t *m)
{
    const char *node = m->user_id;
    uint64_t corr = m->frame->corr_id;
    const ProtobufCBinaryData *raw = &m->frame->submit->envelope;
    uint8_t sha[32];
    egide_sha256(raw->data, raw->len, sha);

    egide_envelope_t *env = NULL;
    egide_rc rc = egide_envelope_parse(raw->data, raw->len, &env);
    if (rc) {
        /* Without a parsable header there is no msg_id to sign a receipt
         * about: answer with an error frame and count it. */
        atomic_fetch_add(&b->m.rejected, 1);
        atomic_fetch_add(
            &b->m.rejected_by_reason[rc == EGIDE_ERR_LIMIT ? R(OVERSIZE) : R(MALFORMED)], 1);
        egide_log(EGIDE_LOG_NOTICE, "unparsable envelope from %s: %s", node, egide_strerror(rc));
        s_send_error(b, node, corr, rc == EGIDE_ERR_LIMIT ? R(OVERSIZE) : R(MALFORMED),
                     egide_strerror(rc));
        return;
    }
    const Egide__V1__EnvelopeHeader *h = egide_envelope_header(env);

    if (strcmp(h->sender_id, node) != 0) {
        /* Not the sender's own message: a forged or relayed sender id. */
        s_reject(b, node, corr, h, sha, R(SENDER_MISMATCH),
                 "header sender differs from the authenticated node", false);
        goto done;
    }
    if (s_duplicate(b, node, corr, h, sha))
        goto done;

    const egide_peer_t *sp = egide_peers_get(b->peers, node);
    if (!sp) {
        s_reject(b, node, corr, h, sha, R(UNKNOWN_SENDER), "sender not in the directory", true);
        goto done;
    }
    if (sp->status != EGIDE_OK) {
        s_reject(b, node, corr, h, sha,
                 sp->status == EGIDE_ERR_REVOKED ? R(CERT_REVOKED) : R(CERT_INVALID),
                 "sender certificate not valid", true);
        goto done;
    }
    if (h->sender_cert_fingerprint.len != 32 ||
        memcmp(h->sender_cert_fingerprint.data, sp->sign_fpr, 32) != 0) {
        s_reject(b, node, corr, h, sha, R(CERT_INVALID),
                 "sender certificate is not the one in the directory", true);
        goto done;
    }
    rc = egide_envelope_verify(env, sp->sign_pub);
    if (rc) {
        s_reject(b, node, corr, h, sha, R(BAD_SIGNATURE), egide_strerror(rc), false);
        goto done;
    }
    int64_t now = egide_now_ms();
    if (h->expires_ms <= now) {
        s_reject(b, node, corr, h, sha, R(EXPIRED), "message expired", true);
        goto done;
    }
    if (h->created_ms > now + b->clock_skew_ms || h->created_ms < now - b->clock_skew_ms) {
        s_reject(b, node, corr, h, sha, R(CLOCK_SKEW), "created_ms too far from broker clock",
                 true);
        goto done;
    }
    const char *ids[EGIDE_MAX_RECIPIENTS];
    for (size_t i = 0; i < h->n_recipients; i++)
        ids[i] = h->recipients[i]->node_id;
    int reason = 0;
    rc = egide_directory_check_send(b->dir, node, h->message_type, ids, h->n_recipients, &reason);
    if (rc) {
        s_reject(b, node, corr, h, sha, reason ? reason : R(FORBIDDEN_TYPE), egide_strerror(rc),
                 true);
        goto done;
    }
    for (size_t i = 0; i < h->n_recipients; i++) {
        const egide_peer_t *rp = egide_peers_get(b->peers, ids[i]);
        if (!rp || rp->status != EGIDE_OK ||
            (h->recipients[i]->key_fingerprint.len == 32 &&
             memcmp(h->recipients[i]->key_fingerprint.data, rp->enc_fpr, 32) != 0)) {
            s_reject(b, node, corr, h, sha, R(UNKNOWN_RECIPIENT),
                     "recipient key is not the directory's", true);
            goto done;
        }
    }
    if (!s_seq_ok(b, h)) {
        s_reject(b, node, corr, h, sha, R(REPLAY), "sender sequence already used or too old",
                 false);
        goto done;
    }

    /* Accept: audit leaf, signed receipt, envelope + queues, in this commit. */
    Egide__V1__AuditEvent ev = EGIDE__V1__AUDIT_EVENT__INIT;
    ev.type = EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_ACCEPTED;
    ev.msg_id = h->msg_id;
    ev.envelope_sha256 = (ProtobufCBinaryData){32, sha};
    ev.sender_id = h->sender_id;
    ev.message_type = h->message_type;
    ev.n_recipient_ids = h->n_recipients;
    ev.recipient_ids = (char **)ids;
    uint64_t leaf = 0;
    s_audit(b, &ev, &leaf);
    uint8_t *rcpt = NULL;
    size_t rlen = 0;
    rc = s_receipt(b, EGIDE__V1__RECEIPT_KIND__RECEIPT_ACCEPTED, h->msg_id.data, sha, h->sender_id,
                   NULL, 0, NULL, (int64_t)leaf, &rcpt, &rlen);
    if (!rc)
        rc = s_store_accepted(b, h, sha, raw->data, raw->len, rcpt, rlen, leaf);
    if (rc) {
        egide_log(EGIDE_LOG_ERROR, "storing accepted envelope failed: %s", egide_strerror(rc));
        s_send_error(b, node, corr, R(INTERNAL), "broker storage failure; retry");
        free(rcpt);
        goto done;
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
        ack.n_recipient_ids = h->n_recipients;
        ack.recipient_ids = (char **)ids;
        s_audit(b, &ack, NULL);
    }
    atomic_fetch_add(&b->m.accepted, 1);
    s_send_receipt(b, node, corr, 0, rcpt, rlen);
    free(rcpt);
    /* Deliver right away to connected recipients (after this commit). */
    for (size_t i = 0; i < h->n_recipients; i++) {
        broker_conn_t *c = s_conn(b, ids[i], false);
        if (!c || !c->connected)
            continue;
        Egide__V1__Frame f;
        Egide__V1__Deliver d = EGIDE__V1__DELIVER__INIT;
        egide_wire_frame_init(&f, 0);
        d.envelope = *raw;
        f.body_case = EGIDE__V1__FRAME__BODY_DELIVER;
        f.deliver = &d;
        s_out_push(b, ids[i], &f);
        sqlite3_stmt *st;
        if (egide_db_stmt(b->db,
                          "UPDATE deliveries SET attempts=1, next_ms=? WHERE msg_id=?"
                          " AND recipient_id=?",
                          &st) == EGIDE_OK) {
            sqlite3_bind_int64(st, 1, egide_now_ms() + b->retry_min_ms * 4);
            sqlite3_bind_blob(st, 2, h->msg_id.data, 16, SQLITE_STATIC);
            sqlite3_bind_text(st, 3, ids[i], -1, SQLITE_STATIC);
            sqlite3_step(st);
            egide_db_done(st);
        }
        atomic_fetch_add(&b->m.deliveries_sent, 1);
    }
done:
    egide_envelope_destroy(&env);
}

/* ------------------------------------------------------------ receipts in */

static void s_queue_relay(broker_t *b, const char *sender_id, const char *issuer,
                          const uint8_t *msg_id, const uint8_t *rcpt, size_t len)
{
    uint8_t rsha[32];
    egide_sha256(rcpt, len, rsha);
    sqlite3_stmt *st;
    if (egide_db_stmt(b->db,
                      "INSERT INTO relays(sender_id, msg_id, receipt, receipt_sha256, created_ms,"
                      " issuer) VALUES(?,?,?,?,?,?)",
                      &st))
        return;
    sqlite3_bind_text(st, 1, sender_id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, msg_id, 16, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, rcpt, (int)len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, rsha, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, egide_now_ms());
    sqlite3_bind_text(st, 6, issuer, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_DONE) {
        int64_t id = sqlite3_last_insert_rowid(b->db);
        s_send_receipt(b, sender_id, 0, (uint64_t)id, rcpt, len);
        sqlite3_stmt *u;
        if (egide_db_stmt(b->db, "UPDATE relays SET attempts=1, next_ms=? WHERE id=?", &u) == 0) {
            sqlite3_bind_int64(u, 1, egide_now_ms() + b->retry_min_ms * 4);
            sqlite3_bind_int64(u, 2, id);
            sqlite3_step(u);
            egide_db_done(u);
        }
    }
    egide_db_done(st);
}

static void s_handle_receipt(broker_t *b, const egide_transport_msg_t *m)
{
    const char *node = m->user_id;
    const ProtobufCBinaryData *raw = &m->frame->receipt->receipt;
    const egide_peer_t *p = egide_peers_get(b->peers, node);
    if (!p || p->status != EGIDE_OK) {
        s_send_error(b, node, m->frame->corr_id, R(UNKNOWN_SENDER), "issuer not valid");
        return;
    }
    egide_receipt_t *r = NULL;
    egide_rc rc = egide_receipt_parse(raw->data, raw->len, &r);
    if (!rc)
        rc = egide_receipt_verify(r, p->sign_pub);
    const Egide__V1__ReceiptBody *body = r ? egide_receipt_body(r) : NULL;
    if (rc || !body) {
        egide_log(EGIDE_LOG_NOTICE, "bad receipt from %s: %s", node, egide_strerror(rc));
        s_send_error(b, node, m->frame->corr_id,
                     rc == EGIDE_ERR_SIGNATURE ? R(BAD_SIGNATURE) : R(MALFORMED),
                     "receipt refused");
        egide_receipt_destroy(&r);
        return;
    }
    if (strcmp(body->issuer_id, node) != 0 || strcmp(body->recipient_id, node) != 0 ||
        (body->kind != EGIDE__V1__RECEIPT_KIND__RECEIPT_DELIVERED &&
         body->kind != EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED)) {
        s_send_error(b, node, m->frame->corr_id, R(SENDER_MISMATCH),
                     "receipt issuer must be the authenticated recipient");
        goto done;
    }
    sqlite3_stmt *st;
    if (egide_db_stmt(
            b->db,
            "SELECT e.sha256, e.sender_id, e.type, d.state FROM deliveries d JOIN envelopes e"
            " ON e.msg_id=d.msg_id WHERE d.msg_id=? AND d.recipient_id=?",
            &st))
        goto done;
    sqlite3_bind_blob(st, 1, body->msg_id.data, 16, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, node, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_bytes(st, 0) != 32 ||
        memcmp(sqlite3_column_blob(st, 0), body->envelope_sha256.data, 32) != 0) {
        egide_db_done(st);
        s_send_error(b, node, m->frame->corr_id, R(UNKNOWN_RECIPIENT),
                     "no such delivery for this node");
        goto done;
    }
    char sender[EGIDE_MAX_NODE_ID + 1], type[EGIDE_MAX_TYPE_NAME + 1];
    egide_strlcpy(sender, (const char *)sqlite3_column_text(st, 1), sizeof sender);
    egide_strlcpy(type, (const char *)sqlite3_column_text(st, 2), sizeof type);
    int state = sqlite3_column_int(st, 3);
    egide_db_done(st);
    if (state != 0)
        goto done; /* already final: a retry of the same receipt; relay exists */

    bool delivered = body->kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_DELIVERED;
    if (egide_db_stmt(b->db,
                      "UPDATE deliveries SET state=?, done_ms=?, receipt=? WHERE msg_id=?"
                      " AND recipient_id=?",
                      &st))
        goto done;
    sqlite3_bind_int(st, 1, delivered ? 1 : 2);
    sqlite3_bind_int64(st, 2, egide_now_ms());
    sqlite3_bind_blob(st, 3, raw->data, (int)raw->len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, body->msg_id.data, 16, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, node, -1, SQLITE_STATIC);
    sqlite3_step(st);
    egide_db_done(st);

    uint8_t rsha[32];
    egide_sha256(raw->data, raw->len, rsha);
    Egide__V1__AuditEvent ev = EGIDE__V1__AUDIT_EVENT__INIT;
    ev.type = delivered ? EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_DELIVERED
                        : EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_RECIPIENT_REJECTED;
    ev.msg_id = body->msg_id;
    ev.envelope_sha256 = body->envelope_sha256;
    ev.sender_id = sender;
    ev.message_type = type;
    ev.node_id = (char *)node;
    ev.reason = body->reason;
    ev.receipt_sha256 = (ProtobufCBinaryData){32, rsha};
    s_audit(b, &ev, NULL);
    atomic_fetch_add(delivered ? &b->m.delivered : &b->m.recipient_rejected, 1);
    s_queue_relay(b, sender, node, body->msg_id.data, raw->data, raw->len);
done:
    egide_receipt_destroy(&r);
}

static void s_handle_ack(broker_t *b, const egide_transport_msg_t *m)
{
    const Egide__V1__Ack *a = m->frame->ack;
    sqlite3_stmt *st;
    if (egide_db_stmt(b->db,
                      "UPDATE relays SET done=1 WHERE id=? AND sender_id=? AND done=0"
                      " RETURNING msg_id, receipt_sha256, issuer",
                      &st))
        return;
    for (size_t i = 0; i < a->n_ids && i < 4096; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, (int64_t)a->ids[i]);
        sqlite3_bind_text(st, 2, m->user_id, -1, SQLITE_STATIC);
        uint8_t msg_id[16], rsha[32];
        char issuer[EGIDE_MAX_NODE_ID + 1] = "";
        bool hit = false;
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 16 &&
            sqlite3_column_bytes(st, 1) == 32) {
            memcpy(msg_id, sqlite3_column_blob(st, 0), 16);
            memcpy(rsha, sqlite3_column_blob(st, 1), 32);
            egide_strlcpy(issuer, (const char *)sqlite3_column_text(st, 2), sizeof issuer);
            hit = true;
        }
        /* Finish the statement before the audit log opens its savepoint. */
        while (sqlite3_step(st) == SQLITE_ROW)
            ;
        sqlite3_reset(st);
        if (!hit)
            continue;
        Egide__V1__AuditEvent ev = EGIDE__V1__AUDIT_EVENT__INIT;
        ev.type = EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_RECEIPT_RELAYED;
        ev.msg_id = (ProtobufCBinaryData){16, msg_id};
        ev.receipt_sha256 = (ProtobufCBinaryData){32, rsha};
        ev.sender_id = (char *)m->user_id; /* the message's sender, who now holds it */
        ev.node_id = issuer;               /* whose receipt it is */
        s_audit(b, &ev, NULL);
        atomic_fetch_add(&b->m.relayed, 1);
    }
    egide_db_done(st);
}

/* ------------------------------------------------------------ hello */

static void s_send_checkpoint(broker_t *b, broker_conn_t *c)
{
    char *note = NULL;
    if (egide_auditlog_latest_checkpoint(b->audit, &note) != EGIDE_OK || !note)
        return;
    egide_checkpoint_t cp;
    if (egide_checkpoint_parse(note, strlen(note), &cp) != EGIDE_OK) {
        free(note);
        return;
    }
    Egide__V1__Frame f;
    Egide__V1__Checkpoint ck = EGIDE__V1__CHECKPOINT__INIT;
    egide_wire_frame_init(&f, 0);
    ck.note = (ProtobufCBinaryData){strlen(note), (uint8_t *)note};
    uint8_t(*proof)[32] = NULL;
    size_t n = 0;
    ProtobufCBinaryData *items = NULL;
    if (c->checkpoint_size > 0 && c->checkpoint_size < cp.size &&
        egide_auditlog_consistency(b->audit, c->checkpoint_size, cp.size, &proof, &n) == EGIDE_OK) {
        items = calloc(n ? n : 1, sizeof *items);
        for (size_t i = 0; items && i < n; i++)
            items[i] = (ProtobufCBinaryData){32, proof[i]};
        ck.from_size = c->checkpoint_size;
        ck.n_consistency_proof = items ? n : 0;
        ck.consistency_proof = items;
    }
    f.body_case = EGIDE__V1__FRAME__BODY_CHECKPOINT;
    f.checkpoint = &ck;
    s_out_push(b, c->node_id, &f);
    /* The edge will hold this one: the next proof starts from it. */
    if (cp.size > c->checkpoint_size)
        c->checkpoint_size = cp.size;
    free(items);
    free(proof);
    free(note);
}

static void s_handle_hello(broker_t *b, const egide_transport_msg_t *m)
{
    const Egide__V1__Hello *h = m->frame->hello;
    if (strcmp(h->node_id, m->user_id) != 0) {
        s_send_error(b, m->user_id, m->frame->corr_id, R(SENDER_MISMATCH),
                     "hello node_id differs from the authenticated node");
        return;
    }
    broker_conn_t *c = s_conn(b, m->user_id, false);
    if (!c)
        return;
    const egide_peer_t *hp = egide_peers_get(b->peers, m->user_id);
    if (!hp || hp->status != EGIDE_OK || !egide_directory_node_active(hp->node)) {
        /* Admitted under an older directory or CRL: not any more. */
        s_send_error(b, m->user_id, m->frame->corr_id, R(NODE_SUSPENDED),
                     "node suspended or certificate revoked");
        return;
    }
    c->checkpoint_size = h->checkpoint_size;
    Egide__V1__AuditEvent ev = EGIDE__V1__AUDIT_EVENT__INIT;
    ev.type = EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_NODE_CONNECTED;
    ev.node_id = (char *)m->user_id;
    ev.directory_version = h->directory_version;
    s_audit(b, &ev, NULL);
    egide_log(EGIDE_LOG_INFO, "node %s connected (directory v%llu)", m->user_id,
              (unsigned long long)h->directory_version);
    if (h->directory_version < egide_directory_version(b->dir)) {
        size_t len;
        const uint8_t *d = egide_directory_signed_bytes(b->dir, &len);
        Egide__V1__Frame f;
        Egide__V1__DirectorySync ds = EGIDE__V1__DIRECTORY_SYNC__INIT;
        egide_wire_frame_init(&f, 0);
        ds.signed_directory = (ProtobufCBinaryData){len, (uint8_t *)d};
        f.body_case = EGIDE__V1__FRAME__BODY_DIRECTORY;
        f.directory = &ds;
        s_out_push(b, m->user_id, &f);
    }
    s_send_checkpoint(b, c);
    /* Everything pending for this node is due now. */
    sqlite3_stmt *st;
    if (egide_db_stmt(b->db, "UPDATE deliveries SET next_ms=0 WHERE recipient_id=? AND state=0",
                      &st) == EGIDE_OK) {
        sqlite3_bind_text(st, 1, m->user_id, -1, SQLITE_STATIC);
        sqlite3_step(st);
        egide_db_done(st);
    }
    if (egide_db_stmt(b->db, "UPDATE relays SET next_ms=0 WHERE sender_id=? AND done=0", &st) ==
        EGIDE_OK) {
        sqlite3_bind_text(st, 1, m->user_id, -1, SQLITE_STATIC);
        sqlite3_step(st);
        egide_db_done(st);
    }
}

/* ------------------------------------------------------------ dispatch */

static void s_handle(broker_t *b, egide_transport_msg_t *m, egide_rc rrc)
{
    atomic_fetch_add(&b->m.frames_in, 1);
    if (!m->user_id[0]) {
        /* Cannot happen with ZAP enforced; refuse to act on it if it does. */
        atomic_fetch_add(&b->m.frames_bad, 1);
        return;
    }
    s_conn_seen(b, m);
    if (rrc != EGIDE_OK || !m->frame) {
        atomic_fetch_add(&b->m.frames_bad, 1);
        char safe[80];
        egide_log(EGIDE_LOG_NOTICE, "bad frame (%zu bytes) from %s: %s", m->frame_len,
                  egide_sanitize(m->user_id, sizeof m->user_id, safe, sizeof safe),
                  egide_strerror(rrc));
        s_send_error(b, m->user_id, 0, rrc == EGIDE_ERR_LIMIT ? R(OVERSIZE) : R(MALFORMED),
                     egide_strerror(rrc));
        return;
    }
    switch (m->frame->body_case) {
    case EGIDE__V1__FRAME__BODY_HELLO:
        s_handle_hello(b, m);
        break;
    case EGIDE__V1__FRAME__BODY_SUBMIT:
        s_handle_submit(b, m);
        break;
    case EGIDE__V1__FRAME__BODY_RECEIPT:
        s_handle_receipt(b, m);
        break;
    case EGIDE__V1__FRAME__BODY_ACK:
        s_handle_ack(b, m);
        break;
    case EGIDE__V1__FRAME__BODY_HEARTBEAT:
        break;
    default:
        atomic_fetch_add(&b->m.frames_bad, 1);
        s_send_error(b, m->user_id, m->frame->corr_id, R(MALFORMED),
                     "frame type not accepted by the broker");
        break;
    }
}

/* ------------------------------------------------------------ ZAP */

static void s_zap(broker_t *b)
{
    zmq_msg_t parts[7];
    int n = 0;
    int more = 1;
    while (more && n < 7) {
        zmq_msg_init(&parts[n]);
        if (zmq_msg_recv(&parts[n], b->zap, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&parts[n]);
            break;
        }
        more = zmq_msg_more(&parts[n]);
        n++;
    }
    while (more) { /* drain a malformed request */
        zmq_msg_t x;
        zmq_msg_init(&x);
        if (zmq_msg_recv(&x, b->zap, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&x);
            break;
        }
        more = zmq_msg_more(&x);
        zmq_msg_close(&x);
    }
    if (n < 2) {
        for (int i = 0; i < n; i++)
            zmq_msg_close(&parts[i]);
        return;
    }
    const char *status = "400", *text = "unknown transport key";
    char user[EGIDE_MAX_NODE_ID + 1] = "";
    if (n == 7 && zmq_msg_size(&parts[5]) == 5 &&
        memcmp(zmq_msg_data(&parts[5]), "CURVE", 5) == 0 && zmq_msg_size(&parts[6]) == 32) {
        char z85[41];
        zmq_z85_encode(z85, zmq_msg_data(&parts[6]), 32);
        const Egide__V1__NodeEntry *node = egide_directory_node_by_curve(b->dir, z85);
        const egide_peer_t *p = node ? egide_peers_get(b->peers, node->id) : NULL;
        if (node && egide_directory_node_active(node) && p && p->status == EGIDE_OK) {
            status = "200";
            text = "OK";
            egide_strlcpy(user, node->id, sizeof user);
        } else {
            text =
                node ? "node suspended or its certificate is not valid" : "unknown transport key";
            atomic_fetch_add(&b->m.zap_refused, 1);
            uint8_t ksha[32];
            egide_sha256(zmq_msg_data(&parts[6]), 32, ksha);
            char khex[17];
            egide_hex_encode(ksha, 8, khex);
            egide_log(EGIDE_LOG_NOTICE, "refused transport key %s…%s%s", khex,
                      node ? " of node " : "", node ? node->id : "");
            Egide__V1__AuditEvent ev = EGIDE__V1__AUDIT_EVENT__INIT;
            ev.type = EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_NODE_REFUSED;
            ev.node_id = node ? node->id : "";
            ev.reason = node ? R(NODE_SUSPENDED) : R(UNKNOWN_SENDER);
            ev.transport_key_sha256 = (ProtobufCBinaryData){32, ksha};
            s_audit(b, &ev, NULL);
        }
    }
    /* Reply: version, request id, status code, status text, user id, metadata. */
    zmq_send(b->zap, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(b->zap, zmq_msg_data(&parts[1]), zmq_msg_size(&parts[1]), ZMQ_SNDMORE);
    zmq_send(b->zap, status, 3, ZMQ_SNDMORE);
    zmq_send(b->zap, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(b->zap, user, strlen(user), ZMQ_SNDMORE);
    zmq_send(b->zap, "", 0, 0);
    for (int i = 0; i < n; i++)
        zmq_msg_close(&parts[i]);
}

/* ------------------------------------------------------------ timers */

static int64_t s_backoff(broker_t *b, int attempts)
{
    int64_t d = b->retry_min_ms;
    for (int i = 1; i < attempts && d < b->retry_max_ms; i++)
        d *= 2;
    return d < b->retry_max_ms ? d : b->retry_max_ms;
}

/* Send due deliveries and relays to connected nodes (bounded per tick). */
static void s_pump(broker_t *b)
{
    int64_t now = egide_now_ms();
    sqlite3_stmt *sel, *upd;
    for (size_t i = 0; i < b->n_conns; i++) {
        broker_conn_t *c = &b->conns[i];
        if (!c->connected)
            continue;
        /* A node suspended or revoked since it connected gets nothing more. */
        const egide_peer_t *cp = egide_peers_get(b->peers, c->node_id);
        if (!cp || cp->status != EGIDE_OK || !egide_directory_node_active(cp->node))
            continue;
        if (egide_db_stmt(b->db,
                          "SELECT d.msg_id, e.data, d.attempts FROM deliveries d JOIN envelopes e"
                          " ON e.msg_id=d.msg_id WHERE d.recipient_id=? AND d.state=0 AND"
                          " d.next_ms<=? ORDER BY d.urgency DESC, d.rowid LIMIT ?",
                          &sel))
            return;
        if (egide_db_stmt(b->db,
                          "UPDATE deliveries SET attempts=attempts+1, next_ms=? WHERE"
                          " msg_id=? AND recipient_id=?",
                          &upd)) {
            egide_db_done(sel);
            return;
        }
        sqlite3_bind_text(sel, 1, c->node_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(sel, 2, now);
        sqlite3_bind_int(sel, 3, PUMP_BATCH);
        while (sqlite3_step(sel) == SQLITE_ROW) {
            int attempts = sqlite3_column_int(sel, 2);
            Egide__V1__Frame f;
            Egide__V1__Deliver d = EGIDE__V1__DELIVER__INIT;
            egide_wire_frame_init(&f, 0);
            d.envelope = (ProtobufCBinaryData){(size_t)sqlite3_column_bytes(sel, 1),
                                               (uint8_t *)sqlite3_column_blob(sel, 1)};
            f.body_case = EGIDE__V1__FRAME__BODY_DELIVER;
            f.deliver = &d;
            s_out_push(b, c->node_id, &f);
            atomic_fetch_add(&b->m.deliveries_sent, 1);
            if (attempts > 0)
                atomic_fetch_add(&b->m.redeliveries, 1);
            sqlite3_reset(upd);
            sqlite3_bind_int64(upd, 1, now + s_backoff(b, attempts + 1) * 4);
            sqlite3_bind_blob(upd, 2, sqlite3_column_blob(sel, 0), 16, SQLITE_TRANSIENT);
            sqlite3_bind_text(upd, 3, c->node_id, -1, SQLITE_STATIC);
            sqlite3_step(upd);
        }
        egide_db_done(sel);
        egide_db_done(upd);

        if (egide_db_stmt(b->db,
                          "SELECT id, receipt, attempts FROM relays WHERE sender_id=? AND"
                          " done=0 AND next_ms<=? ORDER BY id LIMIT ?",
                          &sel))
            return;
        if (egide_db_stmt(b->db, "UPDATE relays SET attempts=attempts+1, next_ms=? WHERE id=?",
                          &upd)) {
            egide_db_done(sel);
            return;
        }
        sqlite3_bind_text(sel, 1, c->node_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(sel, 2, now);
        sqlite3_bind_int(sel, 3, PUMP_BATCH);
        while (sqlite3_step(sel) == SQLITE_ROW) {
            int64_t id = sqlite3_column_int64(sel, 0);
            s_send_receipt(b, c->node_id, 0, (uint64_t)id, sqlite3_column_blob(sel, 1),
                           (size_t)sqlite3_column_bytes(sel, 1));
            sqlite3_reset(upd);
            sqlite3_bind_int64(upd, 1, now + s_backoff(b, sqlite3_column_int(sel, 2) + 1) * 4);
            sqlite3_bind_int64(upd, 2, id);
            sqlite3_step(upd);
        }
        egide_db_done(sel);
        egide_db_done(upd);
    }
}

/* Deliveries past their expiry: REJECTED (EXPIRED) receipt to the sender.
 * Rows are read first: the audit log cannot open its savepoint while a
 * SELECT is still stepping. */
static void s_expire(broker_t *b)
{
    typedef struct {
        uint8_t msg_id[16], sha[32];
        char rcpt[EGIDE_MAX_NODE_ID + 1], sender[EGIDE_MAX_NODE_ID + 1],
            type[EGIDE_MAX_TYPE_NAME + 1];
    } s_exp_t;
    s_exp_t *rows = NULL;
    size_t n = 0;
    sqlite3_stmt *sel;
    int64_t now = egide_now_ms();
    if (egide_db_stmt(
            b->db,
            "SELECT d.msg_id, d.recipient_id, e.sha256, e.sender_id, e.type FROM deliveries d"
            " JOIN envelopes e ON e.msg_id=d.msg_id WHERE d.state=0 AND d.expires_ms<=?"
            " LIMIT 64",
            &sel))
        return;
    sqlite3_bind_int64(sel, 1, now);
    while (sqlite3_step(sel) == SQLITE_ROW) {
        if (!rows && !(rows = calloc(64, sizeof *rows)))
            break;
        if (n >= 64 || sqlite3_column_bytes(sel, 0) != 16 || sqlite3_column_bytes(sel, 2) != 32)
            continue;
        s_exp_t *x = &rows[n++];
        memcpy(x->msg_id, sqlite3_column_blob(sel, 0), 16);
        memcpy(x->sha, sqlite3_column_blob(sel, 2), 32);
        egide_strlcpy(x->rcpt, (const char *)sqlite3_column_text(sel, 1), sizeof x->rcpt);
        egide_strlcpy(x->sender, (const char *)sqlite3_column_text(sel, 3), sizeof x->sender);
        egide_strlcpy(x->type, (const char *)sqlite3_column_text(sel, 4), sizeof x->type);
    }
    egide_db_done(sel);
    for (size_t i = 0; i < n; i++) {
        s_exp_t *x = &rows[i];
        Egide__V1__AuditEvent ev = EGIDE__V1__AUDIT_EVENT__INIT;
        ev.type = EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_EXPIRED;
        ev.msg_id = (ProtobufCBinaryData){16, x->msg_id};
        ev.envelope_sha256 = (ProtobufCBinaryData){32, x->sha};
        ev.sender_id = x->sender;
        ev.node_id = x->rcpt;
        ev.message_type = x->type;
        ev.reason = R(EXPIRED);
        uint64_t leaf;
        s_audit(b, &ev, &leaf);
        uint8_t *r;
        size_t rlen;
        if (s_receipt(b, EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED, x->msg_id, x->sha, x->sender,
                      x->rcpt, R(EXPIRED), "not delivered before expiry", (int64_t)leaf, &r,
                      &rlen) == 0) {
            sqlite3_stmt *u;
            if (egide_db_stmt(b->db,
                              "UPDATE deliveries SET state=3, done_ms=?, receipt=? WHERE"
                              " msg_id=? AND recipient_id=?",
                              &u) == 0) {
                sqlite3_bind_int64(u, 1, now);
                sqlite3_bind_blob(u, 2, r, (int)rlen, SQLITE_STATIC);
                sqlite3_bind_blob(u, 3, x->msg_id, 16, SQLITE_STATIC);
                sqlite3_bind_text(u, 4, x->rcpt, -1, SQLITE_STATIC);
                sqlite3_step(u);
                egide_db_done(u);
            }
            s_queue_relay(b, x->sender, b->node_id, x->msg_id, r, rlen);
            free(r);
        }
        atomic_fetch_add(&b->m.expired, 1);
    }
    free(rows);
}

static void s_checkpoint(broker_t *b, bool force)
{
    uint64_t size = egide_auditlog_size(b->audit);
    int64_t now = egide_mono_ms();
    if (size == b->last_checkpoint_size)
        return;
    if (!force && size - b->last_checkpoint_size < b->checkpoint_entries &&
        now - b->last_checkpoint_ms < b->checkpoint_ms)
        return;
    char *note = NULL;
    egide_rc rc = egide_auditlog_checkpoint(b->audit, b->origin, b->origin, b->sign_key, &note);
    if (rc) {
        egide_log(EGIDE_LOG_ERROR, "checkpoint: %s", egide_strerror(rc));
        return;
    }
    b->last_checkpoint_size = size;
    b->last_checkpoint_ms = now;
    /* Connected edges get it (with a consistency proof from their size). */
    for (size_t i = 0; i < b->n_conns; i++)
        if (b->conns[i].connected)
            s_send_checkpoint(b, &b->conns[i]);
    free(note);
}

static void s_gauges(broker_t *b)
{
    sqlite3_stmt *st;
    if (egide_db_stmt(b->db,
                      "SELECT (SELECT count(*) FROM deliveries WHERE state=0),"
                      " (SELECT count(*) FROM relays WHERE done=0)",
                      &st) == EGIDE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            atomic_store(&b->m.queue_depth, (uint64_t)sqlite3_column_int64(st, 0));
            atomic_store(&b->m.relay_depth, (uint64_t)sqlite3_column_int64(st, 1));
        }
        egide_db_done(st);
    }
}

/* ------------------------------------------------------------ loop */

int broker_run(broker_t *b)
{
    zmq_pollitem_t items[2] = {{b->router, 0, ZMQ_POLLIN, 0}, {b->zap, 0, ZMQ_POLLIN, 0}};
    int64_t next_tick = 0, next_gauges = 0;
    egide_log(EGIDE_LOG_NOTICE, "broker %s running (directory v%llu, %s commit)", b->node_id,
              (unsigned long long)egide_directory_version(b->dir),
              b->group_commit ? "group" : "per-message");
    while (!*b->stop) {
        int64_t now = egide_mono_ms();
        long timeout = next_tick > now ? (long)(next_tick - now) : 0;
        int r = zmq_poll(items, 2, timeout);
        if (r < 0 && zmq_errno() != EINTR) {
            egide_log(EGIDE_LOG_ERROR, "poll: %s", zmq_strerror(zmq_errno()));
            break;
        }
        if (egide_db_begin(b->db) != EGIDE_OK) {
            egide_log(EGIDE_LOG_ERROR, "cannot begin a transaction; stopping");
            return 1;
        }
        int handled = 0;
        for (int i = 0; i < 256; i++) {
            zmq_pollitem_t z = {b->zap, 0, ZMQ_POLLIN, 0};
            if (zmq_poll(&z, 1, 0) <= 0)
                break;
            s_zap(b);
        }
        while (handled < b->batch_max) {
            egide_transport_msg_t m;
            egide_rc rc = egide_transport_recv(b->router, 1, &m);
            if (rc == EGIDE_ERR_TIMEOUT || rc == EGIDE_ERR_IO)
                break;
            /* With one commit per frame, frames whose effects need no fsync
             * of their own ride on the next commit: an Ack or a heartbeat
             * promises nothing, and a recipient's receipt is already durable
             * at the recipient, which answers a redelivery with the same
             * bytes, so a crash before our commit loses nothing (the receipt
             * comes again, is relayed and audited again, and the sender
             * deduplicates it).  What the broker itself vouches for - an
             * ACCEPTED or REJECTED receipt - always waits for its commit. */
            bool quiet = rc == EGIDE_OK && m.frame &&
                         (m.frame->body_case == EGIDE__V1__FRAME__BODY_ACK ||
                          m.frame->body_case == EGIDE__V1__FRAME__BODY_HEARTBEAT ||
                          m.frame->body_case == EGIDE__V1__FRAME__BODY_RECEIPT);
            s_handle(b, &m, rc);
            egide_transport_msg_clear(&m);
            handled++;
            if (!b->group_commit && !quiet) {
                if (s_commit(b) || egide_db_begin(b->db))
                    return 1;
            }
        }
        now = egide_mono_ms();
        if (now >= next_tick) {
            s_pump(b);
            s_expire(b);
            s_checkpoint(b, false);
            next_tick = now + TICK_MS;
        }
        if (s_commit(b) != EGIDE_OK)
            egide_log(EGIDE_LOG_WARNING, "batch lost to a failed commit; peers will retry");
        if (now >= next_gauges) {
            s_gauges(b);
            next_gauges = now + 1000;
        }
        if (b->reload && *b->reload) {
            *b->reload = 0;
            uint64_t before = egide_directory_version(b->dir);
            if (broker_reload_directory(b) == EGIDE_OK &&
                egide_directory_version(b->dir) > before) {
                /* Push the new directory to every connected edge. */
                size_t len;
                const uint8_t *d = egide_directory_signed_bytes(b->dir, &len);
                Egide__V1__Frame f;
                Egide__V1__DirectorySync ds = EGIDE__V1__DIRECTORY_SYNC__INIT;
                egide_wire_frame_init(&f, 0);
                ds.signed_directory = (ProtobufCBinaryData){len, (uint8_t *)d};
                f.body_case = EGIDE__V1__FRAME__BODY_DIRECTORY;
                f.directory = &ds;
                for (size_t i = 0; i < b->n_conns; i++)
                    if (b->conns[i].connected)
                        s_out_push(b, b->conns[i].node_id, &f);
                s_flush(b);
            }
        }
    }
    if (egide_db_begin(b->db) == EGIDE_OK) {
        s_checkpoint(b, true);
        s_commit(b);
    }
    egide_log(EGIDE_LOG_NOTICE, "broker stopping");
    return 0;
}
