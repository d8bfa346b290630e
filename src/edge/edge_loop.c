/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_loop.c - the edge's loop: connection events from the socket monitor,
 * the hello, directory sync, frames from the broker handled in batches, and
 * the timers (resending the outbox, expiry).
 *
 * Frames are handled in one store transaction per batch; what must be sent
 * after (receipts, acks) is held in an edge_out_t and sent only once the
 * COMMIT returned.  A handler that meets a store error stops the batch: it
 * is rolled back and nothing of it is sent, so the broker delivers and
 * relays again (a store error is transient, never a refusal).
 *
 * ZeroMQ is reached only through egide_transport.
 */
#include "edge.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/wire/egide_frame.h"
#include "egide/wire/egide_wire.h"

#define TICK_MS   200
#define BATCH_MAX 256
/* After a store error the broker's socket is left unread this long, so a
 * full disk does not turn the loop into a busy one; the broker keeps what
 * we did not acknowledge and sends it again. */
#define STORE_RETRY_MS 500
/* Several brokers listed: how long one may go without a handshake before
 * the next is tried, and the longest extra wait after rounds of the list. */
#define EDGE_BROKER_WAIT_MS        3000
#define EDGE_BROKER_BACKOFF_MAX_MS 16000

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
    egide_log(EGIDE_LOG_NOTICE, "directory v%llu adopted",
              (unsigned long long)egide_directory_version(d));
    if (persist && e->store)
        return edge_store_meta_put(e->store, "directory", bytes, len);
    return EGIDE_OK;
}

/* ------------------------------------------------------------ hello */

/* The msg_id of the newest message in the inbox (by the order received)
 * into id; false when the inbox is empty or cannot be read (the Hello then
 * says none is held: the broker redelivers nothing, which is what an edge
 * before this field got too). */
static bool s_inbox_newest(edge_t *e, uint8_t id[16])
{
    edge_page_q_t q = {.limit = 1};
    edge_page_t pg = {0};
    edge_inbox_row_t *rows = NULL;
    size_t n = 0;
    egide_rc rc = edge_store_inbox_page(e->store, &q, &rows, &n, &pg);
    if (rc)
        egide_log(EGIDE_LOG_WARNING, "hello: newest inbox message not read: %s",
                  egide_strerror(rc));
    bool found = !rc && n > 0;
    if (found)
        memcpy(id, rows[0].msg_id, 16);
    for (size_t i = 0; i < n; i++)
        edge_inbox_row_clear(&rows[i]);
    free(rows);
    return found;
}

/* Say Hello: fresh on a new connection (everything not yet accepted is
 * then due at once), or again when the last one had no Welcome (then
 * nothing else is sent again, and the next repeat waits twice as long, up
 * to EDGE_HELLO_AGAIN_MAX_MS). */
static void s_hello(edge_t *e, bool fresh)
{
    uint8_t newest[16];
    egide_frame_hello_t h = {
        .node_id = e->node_id,
        .directory_version = e->dir ? egide_directory_version(e->dir) : 0,
        .checkpoint_size = edge_witness_size(e),
        .software = "egide-edge/" EGIDE_VERSION_STRING,
        .inbox_newest = s_inbox_newest(e, newest) ? newest : NULL,
    };
    uint8_t *f = NULL;
    size_t fl = 0;
    egide_rc rc = egide_frame_hello(++e->corr, &h, &f, &fl);
    if (!rc)
        rc = egide_transport_send_raw(e->dealer, NULL, 0, f, fl);
    free(f);
    if (rc)
        egide_log(EGIDE_LOG_WARNING, "hello not sent: %s", egide_strerror(rc));
    /* Its Welcome answers any Hello asked for by stalled re-signing. */
    e->hello_wanted = false;
    e->welcome_due = true;
    e->hello_asked_ms = egide_mono_ms();
    if (!fresh) {
        int64_t next = e->hello_again_ms * 2;
        e->hello_again_ms = next < EDGE_HELLO_AGAIN_MS       ? EDGE_HELLO_AGAIN_MS
                            : next > EDGE_HELLO_AGAIN_MAX_MS ? EDGE_HELLO_AGAIN_MAX_MS
                                                             : next;
        return;
    }
    e->hello_again_ms = EDGE_HELLO_AGAIN_MS;
    /* Everything not yet accepted is due now (a failure only delays it). */
    edge_store_outbox_retry_all(e->store);
}

/* Whether another listed broker can be tried (s_broker_move's rule). */
static bool s_can_move(edge_t *e)
{
    pthread_mutex_lock(&e->dir_lock);
    const Egide__V1__Directory *d = e->dir ? egide_directory_pb(e->dir) : NULL;
    size_t n = d ? d->n_brokers : 0;
    pthread_mutex_unlock(&e->dir_lock);
    return !e->broker_pinned && n >= 2;
}

/* ------------------------------------------------------------ frames */

static egide_rc s_handle_frame(edge_t *e, const Egide__V1__Frame *f, edge_out_t *out)
{
    switch (f->body_case) {
    case EGIDE__V1__FRAME__BODY_DIRECTORY: {
        egide_rc rc = edge_adopt_directory(e, f->directory->signed_directory.data,
                                           f->directory->signed_directory.len, true);
        /* A refused directory is the broker's problem; only a store error
         * stops the batch. */
        return rc == EGIDE_ERR_IO || rc == EGIDE_ERR_DB || rc == EGIDE_ERR_NOMEM ? rc : EGIDE_OK;
    }
    case EGIDE__V1__FRAME__BODY_RECEIPT:
        return edge_outbox_receipt(e, f->receipt->receipt.data, f->receipt->receipt.len,
                                   f->receipt->relay_id, out);
    case EGIDE__V1__FRAME__BODY_DELIVER:
        return edge_inbox_deliver(e, f->deliver->envelope.data, f->deliver->envelope.len, out);
    case EGIDE__V1__FRAME__BODY_CHECKPOINT:
        return edge_witness_checkpoint(e, f->checkpoint->note.data, f->checkpoint->note.len,
                                       f->checkpoint->consistency_proof,
                                       f->checkpoint->n_consistency_proof);
    case EGIDE__V1__FRAME__BODY_ERROR:
        if (f->error->code == EGIDE__V1__REASON_CODE__REASON_BROKER_PASSIVE) {
            /* Not the active broker: another listed one is tried.  With
             * none to move to (one listed, or [edge] broker_endpoint), the
             * connection stays and the Hello is said again until this
             * broker takes over and answers it with a Welcome. */
            if (!e->broker_passive)
                egide_log(EGIDE_LOG_NOTICE, "broker %s is passive (%s)", e->broker_endpoint,
                          f->error->detail ? f->error->detail : "");
            e->broker_passive = true;
            if (s_can_move(e))
                atomic_store(&e->connected, false);
            return EGIDE_OK;
        }
        egide_log(EGIDE_LOG_WARNING, "broker error (corr %llu): %s", (unsigned long long)f->corr_id,
                  egide_wire_reason_name(f->error->code));
        return EGIDE_OK;
    case EGIDE__V1__FRAME__BODY_HEARTBEAT:
        return EGIDE_OK;
    case EGIDE__V1__FRAME__BODY_WELCOME:
        /* In this batch's transaction: the raised counter is durable before
         * anything the batch produces is sent. */
        e->broker_fails = 0; /* an active broker: the backoff starts again */
        e->broker_passive = false;
        e->welcome_in_batch = true; /* welcome_due is cleared once this batch commits */
        return f->welcome ? edge_outbox_welcome(e, f->welcome->last_seq) : EGIDE_OK;
    default:
        egide_log(EGIDE_LOG_WARNING, "unexpected frame from the broker");
        return EGIDE_OK;
    }
}

/* Receive and handle up to BATCH_MAX frames in one transaction; send what
 * they produced after the commit.  Returns how many were received; *failed
 * tells a store error (the batch was rolled back, nothing sent). */
static int s_batch(edge_t *e, bool *failed)
{
    static bool s_failing; /* log the first failure of a streak and the recovery */
    edge_out_t *out = calloc(1, sizeof *out);
    *failed = out == NULL;
    if (!out)
        return 0;
    int handled = 0;
    egide_rc rc = edge_store_begin(e->store);
    while (!rc && handled < BATCH_MAX) {
        egide_transport_msg_t m;
        egide_rc rrc = egide_transport_recv(e->dealer, 0, &m);
        if (rrc == EGIDE_ERR_TIMEOUT || rrc == EGIDE_ERR_IO)
            break;
        handled++;
        if (rrc == EGIDE_OK)
            rc = s_handle_frame(e, m.frame, out);
        else
            egide_log(EGIDE_LOG_WARNING, "bad frame from the broker: %s", egide_strerror(rrc));
        egide_transport_msg_clear(&m);
        if (!e->group_commit)
            break;
    }
    if (!rc)
        rc = edge_store_commit(e->store);
    if (rc) {
        /* Nothing was promised: the broker will redeliver. */
        if (!s_failing)
            egide_log_kv(EGIDE_LOG_WARNING,
                         &(egide_log_fields){.component = "store", .reason = egide_rc_name(rc)},
                         "store: %s; %d frame(s) left for the broker to resend", egide_strerror(rc),
                         handled);
        s_failing = true;
        *failed = true;
        edge_store_rollback(e->store);
        edge_out_flush(e, out, false);
    } else {
        if (s_failing)
            egide_log_kv(EGIDE_LOG_NOTICE, &(egide_log_fields){.component = "store"},
                         "store writable again");
        s_failing = false;
        edge_out_flush(e, out, true);
        if (e->welcome_in_batch)
            e->welcome_due = false;
    }
    e->welcome_in_batch = false; /* rolled back: the Hello is said again */
    free(out);
    return handled;
}

static void s_monitor(edge_t *e)
{
    for (int i = 0; i < 64; i++) {
        int event = 0;
        egide_rc rc = egide_transport_monitor_recv(e->monitor, &event);
        if (rc == EGIDE_ERR_TIMEOUT || rc == EGIDE_ERR_INVALID)
            return;
        if (rc)
            continue;
        switch (event) {
        case EGIDE_TRANSPORT_EV_HANDSHAKE_OK:
            atomic_store(&e->connected, true);
            atomic_store(&e->refused, false);
            egide_log_kv(EGIDE_LOG_NOTICE, &(egide_log_fields){.component = "transport"},
                         "connected to the broker");
            s_hello(e, true);
            break;
        case EGIDE_TRANSPORT_EV_DISCONNECTED:
            if (atomic_exchange(&e->connected, false)) {
                egide_log(EGIDE_LOG_NOTICE, "disconnected from the broker; will reconnect");
                e->broker_since_ms = egide_mono_ms();
            }
            break;
        case EGIDE_TRANSPORT_EV_HANDSHAKE_FAIL_AUTH:
            if (!atomic_exchange(&e->refused, true))
                egide_log_kv(
                    EGIDE_LOG_ERROR,
                    &(egide_log_fields){.component = "transport", .reason = "NODE_REFUSED"},
                    "the broker refused this node's transport key:"
                    " is the node active in the directory?");
            break;
        case EGIDE_TRANSPORT_EV_HANDSHAKE_FAIL_NOAUTH:
        case EGIDE_TRANSPORT_EV_HANDSHAKE_FAIL_PROTO:
            egide_log(EGIDE_LOG_WARNING,
                      "handshake with the broker failed (is its key the pinned one?)");
            break;
        default:
            break;
        }
    }
}

/* ------------------------------------------------------------ brokers */

/* Move to the next broker the directory lists (its own CURVE key) when the
 * one in use is passive, or has not answered a handshake for
 * EDGE_BROKER_WAIT_MS (more after each round of the list without a
 * Welcome, at most EDGE_BROKER_BACKOFF_MAX_MS).  Not with [edge]
 * broker_endpoint, nor with one listed broker. */
static void s_broker_move(edge_t *e, int64_t now)
{
    pthread_mutex_lock(&e->dir_lock);
    const Egide__V1__Directory *d = e->dir ? egide_directory_pb(e->dir) : NULL;
    size_t n = d ? d->n_brokers : 0;
    pthread_mutex_unlock(&e->dir_lock); /* the loop thread alone replaces e->dir */
    if (e->broker_pinned || n < 2 || atomic_load(&e->connected))
        return;
    int64_t round = e->broker_fails / (int)n, wait = e->broker_passive ? 0 : EDGE_BROKER_WAIT_MS;
    if (round > 0)
        wait +=
            round >= 5 ? EDGE_BROKER_BACKOFF_MAX_MS : (EDGE_BROKER_BACKOFF_MAX_MS >> (5 - round));
    if (now - e->broker_since_ms < wait)
        return;
    size_t i = (e->broker_i + 1) % n;
    const Egide__V1__BrokerEndpoint *be = d->brokers[i];
    char mon_ep[48];
    (void)snprintf(mon_ep, sizeof mon_ep, "inproc://edge-monitor-%u", ++e->monitor_gen);
    void *dealer = NULL, *monitor = NULL;
    egide_transport_opts_t o = {
        .heartbeat_ms = (int)egide_config_int(e->cfg, "edge", "heartbeat_ms"),
        .linger_ms = EGIDE_DEFAULT_LINGER_MS,
        .max_msg = EGIDE_MAX_FRAME,
        .sndhwm = 100000,
        .monitor_ep = mon_ep,
        .monitor_events = EGIDE_TRANSPORT_EV_HANDSHAKE_OK | EGIDE_TRANSPORT_EV_DISCONNECTED |
                          EGIDE_TRANSPORT_EV_HANDSHAKE_FAIL_AUTH |
                          EGIDE_TRANSPORT_EV_HANDSHAKE_FAIL_NOAUTH |
                          EGIDE_TRANSPORT_EV_HANDSHAKE_FAIL_PROTO,
        .monitor_out = &monitor,
    };
    e->broker_since_ms = now;
    e->broker_fails++;
    if (egide_transport_dealer(e->zctx, be->endpoint, be->curve_public_key, e->curve_public,
                               e->curve_secret, &o, &dealer) != EGIDE_OK) {
        egide_log(EGIDE_LOG_WARNING, "broker %s: cannot open a socket; staying on %s", be->endpoint,
                  e->broker_endpoint);
        return;
    }
    egide_log(EGIDE_LOG_NOTICE, "broker %s %s: moving to %s (%zu of %zu listed)",
              e->broker_endpoint, e->broker_passive ? "is passive" : "does not answer",
              be->endpoint, i + 1, n);
    egide_transport_monitor_stop(e->dealer); /* before its receiver: see edge_fini */
    egide_transport_close(&e->monitor, 0);
    egide_transport_close(&e->dealer, 0); /* unacknowledged frames are sent again */
    e->dealer = dealer;
    e->monitor = monitor;
    e->broker_i = i;
    e->broker_passive = false;
    pthread_mutex_lock(&e->dir_lock);
    egide_strlcpy(e->broker_endpoint, be->endpoint, sizeof e->broker_endpoint);
    egide_strlcpy(e->broker_public, be->curve_public_key, sizeof e->broker_public);
    pthread_mutex_unlock(&e->dir_lock);
}

int edge_run(edge_t *e)
{
    if (!e->monitor)
        return 1;
    int64_t next_tick = 0, store_retry = 0;
    egide_log(EGIDE_LOG_NOTICE, "edge %s running, broker %s", e->node_id, e->broker_endpoint);
    while (!*e->stop) {
        void *const socks[2] = {e->monitor, e->dealer}; /* s_broker_move replaces them */
        int64_t now = egide_mono_ms();
        int64_t wait = next_tick > now ? next_tick - now : 0;
        bool ready[2] = {false, false};
        int n = now < store_retry ? 1 : 2; /* the dealer rests after a store error */
        bool wake_ready = false;           /* the API's pipe: a submission is waiting */
        egide_rc prc = egide_transport_poll_fd(socks, ready, n, e->wake[0], &wake_ready, (int)wait);
        if (prc == EGIDE_ERR_IO || prc == EGIDE_ERR_INVALID)
            break;
        if (ready[0])
            s_monitor(e);
        bool woken = false;
        char buf[64];
        while (wake_ready && read(e->wake[0], buf, sizeof buf) > 0)
            woken = true;
        bool failed = false;
        int handled = ready[1] ? s_batch(e, &failed) : 0;
        now = egide_mono_ms();
        if (failed)
            store_retry = now + STORE_RETRY_MS;
        /* A message refused as a replay past EDGE_RESEQ_MAX waits for a
         * Welcome (the one of the last Hello was lost): ask for one. */
        if ((e->hello_wanted || e->welcome_due) && atomic_load(&e->connected) &&
            now - e->hello_asked_ms >=
                (e->hello_wanted ? EDGE_HELLO_AGAIN_MS : e->hello_again_ms)) {
            egide_log(EGIDE_LOG_NOTICE, e->hello_wanted
                                            ? "asking the broker for a Welcome (hello again)"
                                            : "no Welcome to the last Hello: hello again");
            s_hello(e, e->hello_wanted); /* re-signing stalled: as before, all due */
        }
        if (woken || now >= next_tick || handled)
            edge_outbox_send(e);
        if (now >= next_tick) {
            s_broker_move(e, now);
            edge_outbox_expire(e);
            next_tick = now + TICK_MS;
        }
        if (e->reload && *e->reload) {
            *e->reload = 0;
            edge_reload(e);
        }
    }
    egide_log(EGIDE_LOG_NOTICE, "edge stopping");
    return 0;
}
