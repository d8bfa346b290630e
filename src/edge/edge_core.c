/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_core.c - the edge's loop: connection events, hello, directory sync,
 * resending the outbox with backoff until ACCEPTED, receipts (verified
 * against the broker's or the recipient's key), deliveries (verified,
 * opened, validated, stored, then answered with a signed receipt), and the
 * audit checkpoints it witnesses.
 *
 * Frames are handled in one transaction per batch; what must be sent after
 * (receipts, acks) is collected and sent only once the COMMIT returned.
 */
#include "edge.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "egide/protocol/egide_checkpoint.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/store/egide_db.h"
#include "egide/protocol/egide_envelope.h"
#include "egide/base/egide_log.h"
#include "egide/domain/egide_payload.h"
#include "egide/protocol/egide_receipt.h"
#include "egide/base/egide_util.h"
#include "egide/wire/egide_wire.h"
#include "egide/audit/egide_witness.h"

#define R(x)       EGIDE__V1__REASON_CODE__REASON_##x
#define TICK_MS    200
#define SEND_BATCH 256

/* Frames to send after the commit. */
typedef struct s_pending {
    uint8_t *data[SEND_BATCH * 2];
    size_t len[SEND_BATCH * 2];
    size_t n;
    uint64_t acks[SEND_BATCH * 2];
    size_t n_acks;
} s_pending_t;

static void s_queue(s_pending_t *p, const Egide__V1__Frame *f)
{
    if (p->n >= sizeof p->data / sizeof p->data[0])
        return; /* the peer retries; nothing is lost */
    if (egide_wire_pack(EGIDE_WIRE_FRAME, f, &p->data[p->n], &p->len[p->n]) == EGIDE_OK)
        p->n++;
}

static void s_flush(edge_t *e, s_pending_t *p, bool send)
{
    if (send && p->n_acks) {
        Egide__V1__Frame f;
        Egide__V1__Ack a = EGIDE__V1__ACK__INIT;
        egide_wire_frame_init(&f, 0);
        a.n_ids = p->n_acks;
        a.ids = p->acks;
        f.body_case = EGIDE__V1__FRAME__BODY_ACK;
        f.ack = &a;
        s_queue(p, &f);
        atomic_fetch_add(&e->m.acks_sent, p->n_acks);
    }
    for (size_t i = 0; i < p->n; i++) {
        if (send)
            zmq_send(e->dealer, p->data[i], p->len[i], ZMQ_DONTWAIT);
        free(p->data[i]);
    }
    p->n = 0;
    p->n_acks = 0;
}

static egide_rc s_send_now(edge_t *e, const Egide__V1__Frame *f)
{
    return egide_transport_send(e->dealer, NULL, 0, f);
}

/* ------------------------------------------------------------ directory */

egide_rc edge_adopt_directory(edge_t *e, const uint8_t *bytes, size_t len, bool persist)
{
    uint64_t cur = e->dir ? egide_directory_version(e->dir) : 0;
    egide_directory_t *d = NULL;
    egide_rc rc = egide_directory_load(bytes, len, e->anchor, cur, egide_now_ms(), &d);
    if (rc) {
        egide_log(EGIDE_LOG_WARNING, "directory refused: %s", egide_strerror(rc));
        return rc;
    }
    if (e->dir && egide_directory_version(d) == cur) {
        egide_directory_destroy(&d);
        return EGIDE_OK;
    }
    egide_peers_t *p = NULL;
    rc = egide_peers_build(d, e->trust, egide_now_ms(), &p);
    if (rc) {
        egide_directory_destroy(&d);
        return rc;
    }
    const Egide__V1__NodeEntry *me = egide_directory_node(d, e->node_id);
    if (!me)
        egide_log(EGIDE_LOG_WARNING, "this node (%s) is not in directory v%llu", e->node_id,
                  (unsigned long long)egide_directory_version(d));
    pthread_mutex_lock(&e->dir_lock);
    egide_peers_destroy(&e->peers);
    egide_directory_destroy(&e->dir);
    e->dir = d;
    e->peers = p;
    if (me)
        egide_strlcpy(e->role, me->role, sizeof e->role);
    const Egide__V1__BrokerEndpoint *be = egide_directory_broker(d);
    if (be && be->node_id)
        egide_strlcpy(e->broker_id, be->node_id, sizeof e->broker_id);
    pthread_mutex_unlock(&e->dir_lock);
    if (persist && e->db)
        edge_store_meta_put(e->db, "directory", bytes, len);
    egide_log(EGIDE_LOG_NOTICE, "directory v%llu adopted",
              (unsigned long long)egide_directory_version(d));
    return EGIDE_OK;
}

/* ------------------------------------------------------------ hello, outbox */

static void s_hello(edge_t *e)
{
    Egide__V1__Frame f;
    Egide__V1__Hello h = EGIDE__V1__HELLO__INIT;
    egide_wire_frame_init(&f, ++e->corr);
    h.node_id = e->node_id;
    h.directory_version = e->dir ? egide_directory_version(e->dir) : 0;
    h.software = "egide-edge/" EGIDE_VERSION_STRING;
    uint8_t *note = NULL;
    size_t nlen = 0;
    if (edge_store_meta_get(e->db, "checkpoint", &note, &nlen) == EGIDE_OK) {
        egide_checkpoint_t cp;
        if (egide_checkpoint_parse((const char *)note, nlen, &cp) == EGIDE_OK)
            h.checkpoint_size = cp.size;
        free(note);
    }
    f.body_case = EGIDE__V1__FRAME__BODY_HELLO;
    f.hello = &h;
    s_send_now(e, &f);
    /* Everything not yet accepted is due now. */
    egide_db_exec(e->db, "UPDATE outbox SET next_ms=0 WHERE state=0");
}

static int64_t s_backoff(edge_t *e, int attempts)
{
    int64_t d = e->retry_min_ms;
    for (int i = 1; i < attempts && d < e->retry_max_ms; i++)
        d *= 2;
    return d < e->retry_max_ms ? d : e->retry_max_ms;
}

static void s_send_outbox(edge_t *e)
{
    if (!atomic_load(&e->connected))
        return;
    int64_t now = egide_now_ms();
    sqlite3_stmt *sel, *upd;
    if (egide_db_stmt(e->db,
                      "SELECT msg_id, seq, envelope, attempts FROM outbox WHERE state=0"
                      " AND next_ms<=? ORDER BY urgency DESC, seq LIMIT ?",
                      &sel))
        return;
    if (egide_db_stmt(e->db, "UPDATE outbox SET attempts=attempts+1, next_ms=? WHERE msg_id=?",
                      &upd)) {
        egide_db_done(sel);
        return;
    }
    sqlite3_bind_int64(sel, 1, now);
    sqlite3_bind_int(sel, 2, SEND_BATCH);
    egide_db_begin(e->db);
    while (sqlite3_step(sel) == SQLITE_ROW) {
        int attempts = sqlite3_column_int(sel, 3);
        Egide__V1__Frame f;
        Egide__V1__Submit s = EGIDE__V1__SUBMIT__INIT;
        egide_wire_frame_init(&f, (uint64_t)sqlite3_column_int64(sel, 1));
        s.envelope = (ProtobufCBinaryData){(size_t)sqlite3_column_bytes(sel, 2),
                                           (uint8_t *)sqlite3_column_blob(sel, 2)};
        f.body_case = EGIDE__V1__FRAME__BODY_SUBMIT;
        f.submit = &s;
        if (s_send_now(e, &f) != EGIDE_OK)
            break;
        if (attempts > 0)
            atomic_fetch_add(&e->m.retries, 1);
        sqlite3_reset(upd);
        sqlite3_bind_int64(upd, 1, now + s_backoff(e, attempts + 1) * 4);
        sqlite3_bind_blob(upd, 2, sqlite3_column_blob(sel, 0), 16, SQLITE_TRANSIENT);
        sqlite3_step(upd);
    }
    egide_db_done(sel);
    egide_db_done(upd);
    egide_db_commit(e->db);
}

/* Messages whose expiry passed before acceptance, and recipients still
 * pending after expiry, are marked expired locally. */
static void s_expire(edge_t *e)
{
    sqlite3_stmt *st;
    int64_t now = egide_now_ms();
    egide_db_begin(e->db);
    if (egide_db_stmt(e->db,
                      "UPDATE outbox_rcpt SET state=4 WHERE state=0 AND msg_id IN"
                      " (SELECT msg_id FROM outbox WHERE expires_ms<=?)",
                      &st) == 0) {
        sqlite3_bind_int64(st, 1, now);
        sqlite3_step(st);
        egide_db_done(st);
    }
    if (egide_db_stmt(e->db,
                      "UPDATE outbox SET state=3, done_ms=? WHERE state=0 AND"
                      " expires_ms<=?",
                      &st) == 0) {
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_int64(st, 2, now);
        sqlite3_step(st);
        egide_db_done(st);
    }
    egide_db_commit(e->db);
}

/* ------------------------------------------------------------ receipts */

static void s_store_receipt(edge_t *e, egide_receipt_t *r, const ProtobufCBinaryData *raw)
{
    const Egide__V1__ReceiptBody *b = egide_receipt_body(r);
    uint8_t sha[32];
    egide_receipt_hash(r, sha);
    sqlite3_stmt *st;
    if (egide_db_stmt(e->db,
                      "INSERT OR IGNORE INTO receipts(sha256, msg_id, kind, issuer,"
                      " recipient, time_ms, reason, leaf_index, data)"
                      " VALUES(?,?,?,?,?,?,?,?,?)",
                      &st))
        return;
    sqlite3_bind_blob(st, 1, sha, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, b->msg_id.data, 16, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, b->kind);
    sqlite3_bind_text(st, 4, b->issuer_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, b->recipient_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, b->time_ms);
    sqlite3_bind_int(st, 7, b->reason);
    if (b->has_audit_leaf)
        sqlite3_bind_int64(st, 8, (int64_t)b->audit_leaf_index);
    sqlite3_bind_blob(st, 9, raw->data, (int)raw->len, SQLITE_STATIC);
    sqlite3_step(st);
    egide_db_done(st);
}

static void s_latency(edge_t *e, const uint8_t *msg_id)
{
    /* When the last recipient has answered, record submit -> delivered. */
    static const int64_t bounds[] = {10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 60000};
    sqlite3_stmt *st;
    if (egide_db_stmt(e->db,
                      "SELECT (SELECT count(*) FROM outbox_rcpt WHERE msg_id=?1 AND"
                      " state=0), (SELECT created_ms FROM outbox WHERE msg_id=?1)",
                      &st))
        return;
    sqlite3_bind_blob(st, 1, msg_id, 16, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 0) {
        int64_t ms = egide_now_ms() - sqlite3_column_int64(st, 1);
        if (ms < 0)
            ms = 0;
        size_t i = 0;
        while (i < sizeof bounds / sizeof bounds[0] && ms > bounds[i])
            i++;
        atomic_fetch_add(&e->m.latency_bucket[i], 1);
        atomic_fetch_add(&e->m.latency_count, 1);
        atomic_fetch_add(&e->m.latency_sum_ms, (uint64_t)ms);
    }
    egide_db_done(st);
}

static void s_rcpt_update(edge_t *e, const uint8_t *msg_id, const char *node, int state, int reason,
                          int64_t t)
{
    sqlite3_stmt *st;
    if (egide_db_stmt(e->db,
                      "UPDATE outbox_rcpt SET state=?, reason=?, delivered_ms=? WHERE"
                      " msg_id=? AND node_id=? AND state=0",
                      &st))
        return;
    sqlite3_bind_int(st, 1, state);
    sqlite3_bind_int(st, 2, reason);
    sqlite3_bind_int64(st, 3, t);
    sqlite3_bind_blob(st, 4, msg_id, 16, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, node, -1, SQLITE_STATIC);
    sqlite3_step(st);
    bool changed = sqlite3_changes(e->db) > 0;
    egide_db_done(st);
    if (changed) {
        atomic_fetch_add(state == RCPT_DELIVERED ? &e->m.delivered_out : &e->m.rejected_out, 1);
        s_latency(e, msg_id);
    }
}

static void s_handle_receipt(edge_t *e, const Egide__V1__Frame *f, s_pending_t *out)
{
    const ProtobufCBinaryData *raw = &f->receipt->receipt;
    egide_receipt_t *r = NULL;
    egide_rc rc = egide_receipt_parse(raw->data, raw->len, &r);
    if (rc) {
        egide_log(EGIDE_LOG_WARNING, "unparsable receipt from the broker: %s", egide_strerror(rc));
        return;
    }
    const Egide__V1__ReceiptBody *b = egide_receipt_body(r);
    sqlite3_stmt *st;
    if (egide_db_stmt(e->db, "SELECT sha256, state FROM outbox WHERE msg_id=?", &st))
        goto done;
    sqlite3_bind_blob(st, 1, b->msg_id.data, 16, SQLITE_STATIC);
    bool known = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32 &&
                 memcmp(sqlite3_column_blob(st, 0), b->envelope_sha256.data, 32) == 0;
    egide_db_done(st);
    if (!known) {
        egide_log(EGIDE_LOG_WARNING, "receipt from %s for a message this node did not send",
                  b->issuer_id);
        goto done;
    }
    /* Verify with the issuer's key from the directory. */
    pthread_mutex_lock(&e->dir_lock);
    const egide_peer_t *p = egide_peers_get(e->peers, b->issuer_id);
    rc = (p && p->status == EGIDE_OK) ? egide_receipt_verify(r, p->sign_pub) : EGIDE_ERR_CERT;
    pthread_mutex_unlock(&e->dir_lock);
    if (rc) {
        egide_log(EGIDE_LOG_WARNING, "receipt issued by %s does not verify: %s", b->issuer_id,
                  egide_strerror(rc));
        goto done;
    }
    bool from_broker = strcmp(b->issuer_id, e->broker_id) == 0;
    s_store_receipt(e, r, raw);
    if (from_broker && b->kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_ACCEPTED) {
        if (egide_db_stmt(e->db,
                          "UPDATE outbox SET state=1, accepted_ms=?, leaf_index=? WHERE"
                          " msg_id=? AND state=0",
                          &st) == 0) {
            sqlite3_bind_int64(st, 1, b->time_ms);
            sqlite3_bind_int64(st, 2, (int64_t)b->audit_leaf_index);
            sqlite3_bind_blob(st, 3, b->msg_id.data, 16, SQLITE_STATIC);
            sqlite3_step(st);
            if (sqlite3_changes(e->db))
                atomic_fetch_add(&e->m.accepted, 1);
            egide_db_done(st);
        }
    } else if (from_broker && b->kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED &&
               !b->recipient_id[0]) {
        egide_log(EGIDE_LOG_WARNING, "broker rejected a message: %s",
                  egide_wire_reason_name(b->reason));
        if (b->reason >= 0 && b->reason < 32)
            atomic_fetch_add(&e->m.rejected_by_reason[b->reason], 1);
        if (egide_db_stmt(e->db,
                          "UPDATE outbox SET state=2, reason=?, done_ms=? WHERE msg_id=?"
                          " AND state=0",
                          &st) == 0) {
            sqlite3_bind_int(st, 1, b->reason);
            sqlite3_bind_int64(st, 2, b->time_ms);
            sqlite3_bind_blob(st, 3, b->msg_id.data, 16, SQLITE_STATIC);
            sqlite3_step(st);
            if (sqlite3_changes(e->db))
                atomic_fetch_add(&e->m.rejected, 1);
            egide_db_done(st);
        }
        if (egide_db_stmt(e->db,
                          "UPDATE outbox_rcpt SET state=2, reason=? WHERE msg_id=? AND"
                          " state=0",
                          &st) == 0) {
            sqlite3_bind_int(st, 1, b->reason);
            sqlite3_bind_blob(st, 2, b->msg_id.data, 16, SQLITE_STATIC);
            sqlite3_step(st);
            egide_db_done(st);
        }
    } else if (from_broker && b->kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED) {
        /* The broker gave up on one recipient (expiry). */
        s_rcpt_update(e, b->msg_id.data, b->recipient_id,
                      b->reason == R(EXPIRED) ? RCPT_EXPIRED : RCPT_REJECTED, b->reason,
                      b->time_ms);
    } else if (!from_broker && strcmp(b->recipient_id, b->issuer_id) == 0) {
        s_rcpt_update(e, b->msg_id.data, b->issuer_id,
                      b->kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_DELIVERED ? RCPT_DELIVERED
                                                                            : RCPT_REJECTED,
                      b->reason, b->time_ms);
    }
done:
    /* Acknowledge relays even when we could not use them: resending the
     * same bytes would not change the outcome, and the broker logged them. */
    if (f->receipt->relay_id && out->n_acks < sizeof out->acks / sizeof out->acks[0])
        out->acks[out->n_acks++] = f->receipt->relay_id;
    egide_receipt_destroy(&r);
}

/* ------------------------------------------------------------ deliveries */

static void s_reply_receipt(s_pending_t *out, const uint8_t *rcpt, size_t len)
{
    Egide__V1__Frame f;
    Egide__V1__ReceiptFrame rf = EGIDE__V1__RECEIPT_FRAME__INIT;
    egide_wire_frame_init(&f, 0);
    rf.receipt = (ProtobufCBinaryData){len, (uint8_t *)rcpt};
    f.body_case = EGIDE__V1__FRAME__BODY_RECEIPT;
    f.receipt = &rf;
    s_queue(out, &f);
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
        .time_ms = egide_now_ms(),
        .reason = reason,
        .detail = detail,
        .issuer_cert_fpr = e->sign_fpr,
    };
    return egide_receipt_sign(&p, e->sign_key, r, rl);
}

/* Already seen?  Resend what we answered then. */
static bool s_duplicate(edge_t *e, const Egide__V1__EnvelopeHeader *h, const uint8_t sha[32],
                        s_pending_t *out)
{
    sqlite3_stmt *st;
    bool dup = false;
    if (egide_db_stmt(e->db,
                      "SELECT receipt FROM inbox WHERE msg_id=? AND sha256=? UNION ALL"
                      " SELECT receipt FROM inbox_rejected WHERE msg_id=? AND sha256=?",
                      &st))
        return false;
    sqlite3_bind_blob(st, 1, h->msg_id.data, 16, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, sha, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, h->msg_id.data, 16, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, sha, 32, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        s_reply_receipt(out, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
        dup = true;
    }
    egide_db_done(st);
    return dup;
}

static void s_reject_delivery(edge_t *e, const Egide__V1__EnvelopeHeader *h, const uint8_t sha[32],
                              int reason, const char *why, s_pending_t *out)
{
    char hex[33];
    egide_hex_encode(h->msg_id.data, 16, hex);
    egide_log(EGIDE_LOG_WARNING, "refused message %s from %s: %s (%s)", hex, h->sender_id,
              egide_wire_reason_name(reason), why);
    atomic_fetch_add(&e->m.received_rejected, 1);
    if (reason >= 0 && reason < 32)
        atomic_fetch_add(&e->m.rejected_by_reason[reason], 1);
    uint8_t *r;
    size_t rl;
    if (s_sign_receipt(e, EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED, h, sha, reason, why, &r, &rl))
        return;
    sqlite3_stmt *st;
    if (egide_db_stmt(e->db,
                      "INSERT OR IGNORE INTO inbox_rejected(msg_id, sha256, sender_id,"
                      " reason, receipt, time_ms) VALUES(?,?,?,?,?,?)",
                      &st) == 0) {
        sqlite3_bind_blob(st, 1, h->msg_id.data, 16, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, sha, 32, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, h->sender_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, reason);
        sqlite3_bind_blob(st, 5, r, (int)rl, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, egide_now_ms());
        sqlite3_step(st);
        egide_db_done(st);
    }
    s_reply_receipt(out, r, rl);
    free(r);
}

static int s_reason_of(egide_rc rc)
{
    switch (rc) {
    case EGIDE_ERR_SIGNATURE:
        return R(BAD_SIGNATURE);
    case EGIDE_ERR_HASH:
        return R(BAD_SIGNATURE);
    case EGIDE_ERR_COMMITMENT:
        return R(KEY_COMMITMENT);
    case EGIDE_ERR_DECRYPT:
        return R(DECRYPT_FAILED);
    case EGIDE_ERR_NOT_RECIPIENT:
        return R(NOT_RECIPIENT);
    case EGIDE_ERR_EXPIRED:
        return R(EXPIRED);
    case EGIDE_ERR_REPLAY:
        return R(CLOCK_SKEW);
    case EGIDE_ERR_VERSION:
        return R(UNSUPPORTED_VERSION);
    case EGIDE_ERR_LIMIT:
        return R(OVERSIZE);
    case EGIDE_ERR_CERT:
        return R(CERT_INVALID);
    case EGIDE_ERR_REVOKED:
        return R(CERT_REVOKED);
    case EGIDE_ERR_VALIDATION:
        return R(PAYLOAD_INVALID);
    default:
        return R(MALFORMED);
    }
}

/* A message.acknowledgement answering one of ours: that recipient acknowledged. */
static void s_note_ack(edge_t *e, const Egide__V1__EnvelopeHeader *h)
{
    if (strcmp(h->message_type, "message.acknowledgement") != 0 || h->in_reply_to.len != 16)
        return;
    sqlite3_stmt *st;
    if (egide_db_stmt(e->db,
                      "UPDATE outbox_rcpt SET state=3, acknowledged_ms=? WHERE msg_id=?"
                      " AND node_id=? AND state IN (0,1)",
                      &st))
        return;
    sqlite3_bind_int64(st, 1, h->created_ms);
    sqlite3_bind_blob(st, 2, h->in_reply_to.data, 16, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, h->sender_id, -1, SQLITE_STATIC);
    sqlite3_step(st);
    egide_db_done(st);
}

static void s_handle_deliver(edge_t *e, const Egide__V1__Frame *f, s_pending_t *out)
{
    const ProtobufCBinaryData *raw = &f->deliver->envelope;
    egide_envelope_t *env = NULL;
    egide_rc rc = egide_envelope_parse(raw->data, raw->len, &env);
    if (rc) {
        /* No msg_id to sign about: the broker checked it, so this is a bug or an attack. */
        egide_log(EGIDE_LOG_WARNING, "unparsable envelope delivered: %s", egide_strerror(rc));
        return;
    }
    const Egide__V1__EnvelopeHeader *h = egide_envelope_header(env);
    uint8_t sha[32];
    egide_envelope_hash(env, sha);
    char *ctype = NULL;
    uint8_t *payload = NULL;
    size_t plen = 0;
    if (s_duplicate(e, h, sha, out))
        goto done;
    if (egide_envelope_recipient_index(env, e->node_id) < 0) {
        s_reject_delivery(e, h, sha, R(NOT_RECIPIENT), "this node is not a recipient", out);
        goto done;
    }
    pthread_mutex_lock(&e->dir_lock);
    const egide_peer_t *p = egide_peers_get(e->peers, h->sender_id);
    EVP_PKEY *spub = NULL;
    egide_rc prc = EGIDE_ERR_NOTFOUND;
    if (p) {
        prc = p->status;
        if (!prc && (h->sender_cert_fingerprint.len != 32 ||
                     memcmp(h->sender_cert_fingerprint.data, p->sign_fpr, 32) != 0))
            prc = EGIDE_ERR_CERT;
        if (!prc && EVP_PKEY_up_ref(p->sign_pub) == 1)
            spub = p->sign_pub;
    }
    pthread_mutex_unlock(&e->dir_lock);
    if (!spub) {
        s_reject_delivery(e, h, sha,
                          prc == EGIDE_ERR_NOTFOUND ? R(UNKNOWN_SENDER) : s_reason_of(prc),
                          "sender certificate unknown or not valid", out);
        goto done;
    }
    rc = egide_envelope_verify(env, spub);
    if (!rc)
        rc = egide_envelope_check_time(env, egide_now_ms(), e->clock_skew_ms);
    if (!rc)
        rc = egide_envelope_open(env, e->node_id, e->enc_key, spub, &ctype, &payload, &plen);
    EVP_PKEY_free(spub);
    if (rc) {
        s_reject_delivery(e, h, sha, s_reason_of(rc), egide_strerror(rc), out);
        goto done;
    }
    egide_payload_facts_t facts;
    memset(&facts, 0, sizeof facts);
    const char *ptype = egide_payload_type_for_content_type(ctype);
    if (ptype) {
        char *errors = NULL;
        if (strcmp(ptype, h->message_type) != 0) {
            s_reject_delivery(e, h, sha, R(PAYLOAD_INVALID), "payload type differs from header",
                              out);
            goto done;
        }
        rc = egide_payload_check(ptype, payload, plen, egide_now_ms(), &facts, &errors);
        free(errors); /* field errors may quote content: never logged */
        if (rc) {
            s_reject_delivery(e, h, sha, R(PAYLOAD_INVALID), "payload fails validation", out);
            goto done;
        }
    }
    uint8_t *r = NULL;
    size_t rl = 0;
    if (s_sign_receipt(e, EGIDE__V1__RECEIPT_KIND__RECEIPT_DELIVERED, h, sha, 0, NULL, &r, &rl))
        goto done;
    sqlite3_stmt *st;
    rc = egide_db_stmt(e->db,
                       "INSERT INTO inbox(msg_id, sha256, sender_id, type, urgency, in_reply_to,"
                       " created_ms, received_ms, content_type, payload, receipt)"
                       " VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                       &st);
    if (!rc) {
        sqlite3_bind_blob(st, 1, h->msg_id.data, 16, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, sha, 32, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, h->sender_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, h->message_type, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 5, h->urgency);
        if (h->in_reply_to.len == 16)
            sqlite3_bind_blob(st, 6, h->in_reply_to.data, 16, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, h->created_ms);
        sqlite3_bind_int64(st, 8, egide_now_ms());
        sqlite3_bind_text(st, 9, ctype, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 10, payload, (int)plen, SQLITE_STATIC);
        sqlite3_bind_blob(st, 11, r, (int)rl, SQLITE_STATIC);
        rc = egide_db_rc(sqlite3_step(st));
        egide_db_done(st);
    }
    if (rc) {
        /* A msg_id we already hold with other bytes: refuse, keep the first. */
        free(r);
        s_reject_delivery(e, h, sha, R(DUPLICATE_CONFLICT), "msg_id already received", out);
        goto done;
    }
    s_note_ack(e, h);
    edge_store_deadlines(e, e->db, h->message_type, h->msg_id.data,
                         facts.received_ms ? facts.received_ms : egide_now_ms(), &facts);
    atomic_fetch_add(&e->m.received, 1);
    char hex[33];
    egide_hex_encode(h->msg_id.data, 16, hex);
    egide_log(EGIDE_LOG_INFO, "received %s (%s) from %s", hex, h->message_type, h->sender_id);
    s_reply_receipt(out, r, rl);
    free(r);
done:
    free(ctype);
    egide_free_secret(payload, plen);
    egide_envelope_destroy(&env);
}

/* ------------------------------------------------------------ checkpoints */

static void s_handle_checkpoint(edge_t *e, const Egide__V1__Frame *f)
{
    const Egide__V1__Checkpoint *c = f->checkpoint;
    uint8_t *trusted = NULL;
    size_t tlen = 0;
    edge_store_meta_get(e->db, "checkpoint", &trusted, &tlen);
    uint8_t(*proof)[32] = calloc(c->n_consistency_proof ? c->n_consistency_proof : 1, 32);
    if (!proof) {
        free(trusted);
        return;
    }
    bool ok_sizes = true;
    for (size_t i = 0; i < c->n_consistency_proof; i++) {
        if (c->consistency_proof[i].len != 32)
            ok_sizes = false;
        else
            memcpy(proof[i], c->consistency_proof[i].data, 32);
    }
    pthread_mutex_lock(&e->dir_lock);
    const egide_peer_t *p = egide_peers_get(e->peers, e->broker_id);
    EVP_PKEY *pub = p && p->status == EGIDE_OK ? p->sign_pub : NULL;
    if (pub)
        EVP_PKEY_up_ref(pub);
    pthread_mutex_unlock(&e->dir_lock);
    char origin[128];
    egide_rc rc = EGIDE_ERR_CERT;
    egide_checkpoint_t cp;
    if (pub && ok_sizes && egide_checkpoint_origin_for(e->broker_id, origin, sizeof origin) == 0)
        rc = egide_witness_check((const char *)trusted, tlen, (const char *)c->note.data,
                                 c->note.len, origin, pub, (const uint8_t(*)[32])proof,
                                 c->n_consistency_proof, &cp);
    EVP_PKEY_free(pub);
    if (rc == EGIDE_OK) {
        edge_store_meta_put(e->db, "checkpoint", c->note.data, c->note.len);
    } else {
        /* A bad signature, a fork (no consistency proof from ours), or a
         * smaller tree than one the broker already signed (a log never
         * shrinks: a rollback) - each is evidence, kept and raised. */
        atomic_fetch_add(&e->m.checkpoint_alerts, 1);
        char msg[160];
        snprintf(msg, sizeof msg, "%s",
                 rc == EGIDE_ERR_VERSION
                     ? "broker log smaller than a checkpoint it signed before (rollback)"
                 : rc == EGIDE_ERR_CONSISTENCY
                     ? "new checkpoint does not extend the one held (fork or rewrite)"
                     : egide_strerror(rc));
        edge_store_meta_put(e->db, "checkpoint_alert", msg, strlen(msg));
        egide_log(EGIDE_LOG_ERROR,
                  "ALERT: the broker's audit checkpoint does not extend the one this node holds"
                  " (%s): the log may have been rewritten or forked",
                  msg);
    }
    free(proof);
    free(trusted);
}

/* ------------------------------------------------------------ loop */

static void s_handle_frame(edge_t *e, const Egide__V1__Frame *f, s_pending_t *out)
{
    switch (f->body_case) {
    case EGIDE__V1__FRAME__BODY_DIRECTORY:
        edge_adopt_directory(e, f->directory->signed_directory.data,
                             f->directory->signed_directory.len, true);
        break;
    case EGIDE__V1__FRAME__BODY_RECEIPT:
        s_handle_receipt(e, f, out);
        break;
    case EGIDE__V1__FRAME__BODY_DELIVER:
        s_handle_deliver(e, f, out);
        break;
    case EGIDE__V1__FRAME__BODY_CHECKPOINT:
        s_handle_checkpoint(e, f);
        break;
    case EGIDE__V1__FRAME__BODY_ERROR:
        egide_log(EGIDE_LOG_WARNING, "broker error (corr %llu): %s", (unsigned long long)f->corr_id,
                  egide_wire_reason_name(f->error->code));
        break;
    case EGIDE__V1__FRAME__BODY_HEARTBEAT:
        break;
    default:
        egide_log(EGIDE_LOG_WARNING, "unexpected frame from the broker");
        break;
    }
}

static void s_monitor(edge_t *e)
{
    for (int i = 0; i < 64; i++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, e->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        uint16_t event = 0;
        uint32_t value = 0;
        if (zmq_msg_size(&m) >= 6) {
            const uint8_t *d = zmq_msg_data(&m);
            memcpy(&event, d, 2);
            memcpy(&value, d + 2, 4);
        }
        bool more = zmq_msg_more(&m);
        zmq_msg_close(&m);
        if (more) { /* the endpoint part */
            zmq_msg_init(&m);
            zmq_msg_recv(&m, e->monitor, ZMQ_DONTWAIT);
            zmq_msg_close(&m);
        }
        switch (event) {
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
            atomic_store(&e->connected, true);
            atomic_store(&e->refused, false);
            egide_log(EGIDE_LOG_NOTICE, "connected to the broker");
            s_hello(e);
            break;
        case ZMQ_EVENT_DISCONNECTED:
            if (atomic_exchange(&e->connected, false))
                egide_log(EGIDE_LOG_NOTICE, "disconnected from the broker; will reconnect");
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
            if (!atomic_exchange(&e->refused, true))
                egide_log(EGIDE_LOG_ERROR,
                          "the broker refused this node's transport key (status %u):"
                          " is the node active in the directory?",
                          value);
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
            egide_log(EGIDE_LOG_WARNING,
                      "handshake with the broker failed (is its key the pinned one?)");
            break;
        default:
            break;
        }
    }
}

int edge_run(edge_t *e)
{
    if (!e->monitor)
        return 1;
    zmq_pollitem_t items[3] = {{e->dealer, 0, ZMQ_POLLIN, 0},
                               {e->monitor, 0, ZMQ_POLLIN, 0},
                               {NULL, e->wake[0], ZMQ_POLLIN, 0}};
    int64_t next_tick = 0;
    egide_log(EGIDE_LOG_NOTICE, "edge %s running, broker %s", e->node_id, e->broker_endpoint);
    while (!*e->stop) {
        int64_t now = egide_mono_ms();
        long timeout = next_tick > now ? (long)(next_tick - now) : 0;
        if (zmq_poll(items, 3, timeout) < 0 && zmq_errno() != EINTR)
            break;
        if (items[1].revents & ZMQ_POLLIN)
            s_monitor(e);
        bool woken = false;
        if (items[2].revents & ZMQ_POLLIN) {
            char buf[64];
            while (read(e->wake[0], buf, sizeof buf) > 0)
                ;
            woken = true;
        }
        s_pending_t *out = calloc(1, sizeof *out);
        if (!out)
            continue;
        int handled = 0;
        if (egide_db_begin(e->db) == EGIDE_OK) {
            while (handled < SEND_BATCH) {
                egide_transport_msg_t m;
                egide_rc rc = egide_transport_recv(e->dealer, 0, &m);
                if (rc == EGIDE_ERR_TIMEOUT || rc == EGIDE_ERR_IO)
                    break;
                handled++;
                if (rc == EGIDE_OK)
                    s_handle_frame(e, m.frame, out);
                else
                    egide_log(EGIDE_LOG_WARNING, "bad frame from the broker: %s",
                              egide_strerror(rc));
                egide_transport_msg_clear(&m);
                if (!e->group_commit)
                    break;
            }
            if (egide_db_commit(e->db) == EGIDE_OK) {
                s_flush(e, out, true);
            } else {
                /* Nothing was promised: the broker will redeliver. */
                egide_db_rollback(e->db);
                s_flush(e, out, false);
            }
        }
        free(out);
        now = egide_mono_ms();
        if (woken || now >= next_tick || handled) {
            s_send_outbox(e);
        }
        if (now >= next_tick) {
            s_expire(e);
            next_tick = now + TICK_MS;
        }
    }
    egide_log(EGIDE_LOG_NOTICE, "edge stopping");
    return 0;
}
