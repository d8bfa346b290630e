/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * broker_hello.c - a node says hello: it is checked against the current
 * directory and CRL, logged, sent the directory when it holds an older one
 * and the latest audit checkpoint (with a consistency proof from the size it
 * holds), a Welcome with the highest sequence the broker accepted from it
 * (a restored edge resumes above it instead of being refused as a replay
 * for ever), and everything pending for it becomes due; what the broker
 * delivered to it after the newest message it says it holds is queued
 * again (a node restored from a backup).  Past the
 * directory's expiry a hello gets a transient Error instead.  Also the periodic
 * signed checkpoints and the directory push after a reload.
 */
#include "broker.h"

#include <stdlib.h>
#include <string.h>

#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/protocol/egide_checkpoint.h"
#include "egide/wire/egide_frame.h"

#define R(x) EGIDE__V1__REASON_CODE__REASON_##x

/* The one place the DirectorySync frame is built. */
void broker_send_directory(broker_t *b, const char *node_id)
{
    size_t dlen = 0;
    const uint8_t *d = egide_directory_signed_bytes(b->dir, &dlen);
    for (size_t i = 0; i < b->n_conns; i++) {
        broker_conn_t *c = &b->conns[i];
        if (node_id ? strcmp(c->node_id, node_id) != 0 : !c->connected)
            continue;
        uint8_t *f = NULL;
        size_t n = 0;
        egide_rc rc = egide_frame_directory(0, d, dlen, &f, &n);
        broker_out_push(b, c->node_id, rc, &f, n);
    }
}

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
    uint8_t(*proof)[32] = NULL;
    size_t n = 0;
    uint64_t from = 0;
    /* What the edge will hold when this frame arrives: the one queued
     * before it in this transaction, else the one it holds. */
    uint64_t held = c->checkpoint_size_queued > c->checkpoint_size ? c->checkpoint_size_queued
                                                                   : c->checkpoint_size;
    if (held > 0 && held < cp.size &&
        egide_auditlog_consistency(b->audit, held, cp.size, &proof, &n) == EGIDE_OK)
        from = held;
    uint8_t *f = NULL;
    size_t flen = 0;
    egide_rc rc = egide_frame_checkpoint(0, note, strlen(note), from, (const uint8_t(*)[32])proof,
                                         from ? n : 0, &f, &flen);
    broker_out_push(b, c->node_id, rc, &f, flen);
    /* The edge will hold this one: the next proof starts from it. */
    if (rc == EGIDE_OK && cp.size > held)
        c->checkpoint_size_queued = cp.size; /* the edge holds it once sent (broker_commit) */
    free(proof);
    free(note);
}

void broker_checkpoint(broker_t *b, bool force)
{
    /* A refused batch is rolled back: signing a tree it will not keep would
     * tell the edges of a size the log never reaches. */
    if (b->store_failed)
        return;
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
        if (b->conns[i].connected && b->conns[i].said_hello)
            s_send_checkpoint(b, &b->conns[i]);
    /* Kept outside the store once this transaction commits (broker_commit),
     * so that a store that lost what it covers is caught at the next start. */
    free(b->checkpoint_pending);
    b->checkpoint_pending = note;
}

/* a before b in finishing order (a seq of -1 is before every tie). */
static bool s_cursor_before(const broker_redeliver_cursor_t *a, const broker_redeliver_cursor_t *b)
{
    return a->done_ms < b->done_ms || (a->done_ms == b->done_ms && a->seq < b->seq);
}

/* The node's Hello named the newest message it holds: what the broker
 * finished delivering to it after that one is queued again (a node restored
 * from a backup lost it; docs/backup.md).  A redelivery under way (its
 * cursor in the store, written with each full page, so also across a
 * broker restart) goes on from where it stands, whatever newest message
 * the node names now (one delivered since its restore is after the pages
 * still to queue); unless the node holds less than that (restored again):
 * then from what it holds.  The normal case, where that is the last one
 * delivered, is two lookups and nothing queued. */
static void s_redeliver(broker_t *b, broker_conn_t *c, const ProtobufCBinaryData *held)
{
    broker_redeliver_cursor_t cur, from;
    egide_rc rc = broker_store_redeliver_resume(b->store, c->node_id, &cur);
    if (rc && rc != EGIDE_ERR_NOTFOUND) {
        broker_store_failed(b, rc, "reading a redelivery cursor");
        return;
    }
    bool under_way = rc == EGIDE_OK, found = under_way;
    /* None held (a new node, or an edge before this field): nothing more
     * is redelivered; a restored node with an empty inbox is in the docs'
     * procedure. */
    if (held->len == 16) {
        rc = broker_store_redeliver_start(b->store, c->node_id, held->data, &from);
        if (rc && rc != EGIDE_ERR_NOTFOUND) {
            broker_store_failed(b, rc, "queueing redeliveries");
            return;
        }
        /* EGIDE_ERR_NOTFOUND: not one the broker delivered to it (still
         * queued: the receipt was not in yet; or unknown): nothing to
         * compare with. */
        if (!rc && (!found || s_cursor_before(&from, &cur))) {
            cur = from;
            found = true;
        }
    }
    if (!found)
        return;
    size_t n = 0;
    rc = broker_store_redeliver_page(b->store, c->node_id, &cur, b->redeliver_page, egide_now_ms(),
                                     &n);
    if (rc) {
        broker_store_failed(b, rc, "queueing redeliveries");
        return;
    }
    bool more = n == b->redeliver_page;
    if (more != c->redeliver_more) {
        c->redeliver_more = more;
        b->redeliver_moved = true;
    }
    if (n == 0)
        return;
    egide_log(EGIDE_LOG_NOTICE,
              under_way ? "node %s: the redelivery under way goes on (restored from a backup?): "
                          "%zu%s more message(s) delivered before are sent again"
                        : "node %s holds an older inbox than the broker delivered (restored from "
                          "a backup?): %zu%s message(s) delivered since are sent again",
              c->node_id, n, more ? "+" : "");
}

void broker_handle_hello(broker_t *b, const egide_transport_msg_t *m)
{
    const Egide__V1__Hello *h = m->frame->hello;
    if (strcmp(h->node_id, m->user_id) != 0) {
        broker_send_error(b, m->user_id, m->frame->corr_id, R(SENDER_MISMATCH),
                          "hello node_id differs from the authenticated node");
        return;
    }
    broker_conn_t *c = broker_conn(b, m->user_id, false);
    if (!c)
        return;
    if (!broker_directory_valid(b, broker_now(b))) {
        broker_send_error(b, m->user_id, m->frame->corr_id, R(INTERNAL),
                          "broker directory expired; retry later");
        return;
    }
    const egide_peer_t *hp = egide_peers_get(b->peers, m->user_id);
    if (!hp || hp->status != EGIDE_OK || !egide_directory_node_active(hp->node)) {
        /* Admitted under an older directory or CRL: not any more. */
        broker_send_error(b, m->user_id, m->frame->corr_id, R(NODE_SUSPENDED),
                          "node suspended or certificate revoked");
        return;
    }
    c->checkpoint_size = h->checkpoint_size;
    c->checkpoint_size_queued = 0;
    c->said_hello = true;
    Egide__V1__AuditEvent ev = EGIDE__V1__AUDIT_EVENT__INIT;
    ev.type = EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_NODE_CONNECTED;
    ev.node_id = (char *)m->user_id;
    ev.directory_version = h->directory_version;
    if (broker_audit(b, &ev, NULL))
        return;
    egide_log_kv(EGIDE_LOG_INFO, &(egide_log_fields){.component = "transport", .peer = m->user_id},
                 "node %s connected (directory v%llu)", m->user_id,
                 (unsigned long long)h->directory_version);
    uint64_t last_seq = 0;
    egide_rc rc = broker_store_sender_max_seq(b->store, m->user_id, &last_seq);
    if (rc) {
        broker_store_failed(b, rc, "the sequence for a welcome");
        return;
    }
    broker_send_welcome(b, m->user_id, m->frame->corr_id, last_seq);
    if (h->directory_version < egide_directory_version(b->dir))
        broker_send_directory(b, m->user_id);
    s_send_checkpoint(b, c);
    /* Everything pending for this node is due now. */
    rc = broker_store_node_wake(b->store, m->user_id);
    if (rc) {
        broker_store_failed(b, rc, "waking a node's queue");
        return;
    }
    c = broker_conn(b, m->user_id, false); /* the frames above may have moved it */
    if (c)
        s_redeliver(b, c, &h->inbox_newest);
}
