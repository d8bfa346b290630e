/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * broker_loop.c - the broker's message loop.  One thread owns the ROUTER,
 * the ZAP socket and the store.  Frames are handled in batches inside one
 * transaction (group commit) or one per transaction; what they produce
 * (receipts, deliveries) is queued in b->out and sent only after the COMMIT
 * has returned, i.e. after the fsync.  A store error refuses the batch it
 * happened in (rolled back, nothing sent) and the loop goes on: peers retry.
 * Timers (every TICK_MS): due deliveries and relays, expiry, checkpoints;
 * every second the gauges; on SIGHUP the directory.
 * A store on a server (PostgreSQL) does not block the thread: while one of
 * its statements waits, the loop polls libpq's socket with the ZAP socket
 * and answers handshakes (broker_store_wait), so a slow or locked database
 * delays the frames, which wait in ZeroMQ, but not the edges' connections.
 */
#include "broker.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "egide/base/egide_log.h"
#include "egide/base/egide_notify.h"
#include "egide/base/egide_util.h"

#define R(x)         EGIDE__V1__REASON_CODE__REASON_##x
#define TICK_MS      200
#define ZAP_MAX      256 /* ZAP requests answered per round */
#define LEASE_TRY_MS 500 /* passive: how often the lease is tried */

static void s_handle(broker_t *b, egide_transport_msg_t *m, egide_rc rrc)
{
    atomic_fetch_add(&b->m.frames_in, 1);
    if (!m->user_id[0]) {
        /* Cannot happen with ZAP enforced; refuse to act on it if it does. */
        atomic_fetch_add(&b->m.frames_bad, 1);
        return;
    }
    broker_conn_seen(b, m);
    if (rrc != EGIDE_OK || !m->frame) {
        atomic_fetch_add(&b->m.frames_bad, 1);
        char safe[80];
        egide_log(EGIDE_LOG_NOTICE, "bad frame (%zu bytes) from %s: %s", m->frame_len,
                  egide_sanitize(m->user_id, sizeof m->user_id, safe, sizeof safe),
                  egide_strerror(rrc));
        broker_send_error(b, m->user_id, 0, rrc == EGIDE_ERR_LIMIT ? R(OVERSIZE) : R(MALFORMED),
                          egide_strerror(rrc));
        return;
    }
    /* The frames a node may send the broker, and their handlers. */
    static const struct {
        Egide__V1__Frame__BodyCase body;
        void (*fn)(broker_t *, const egide_transport_msg_t *);
    } handlers[] = {
        {EGIDE__V1__FRAME__BODY_HELLO, broker_handle_hello},
        {EGIDE__V1__FRAME__BODY_SUBMIT, broker_handle_submit},
        {EGIDE__V1__FRAME__BODY_RECEIPT, broker_handle_receipt},
        {EGIDE__V1__FRAME__BODY_ACK, broker_handle_ack},
        {EGIDE__V1__FRAME__BODY_HEARTBEAT, NULL}, /* its arrival was the point */
    };
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++) {
        if (handlers[i].body != m->frame->body_case)
            continue;
        if (handlers[i].fn)
            handlers[i].fn(b, m);
        return;
    }
    atomic_fetch_add(&b->m.frames_bad, 1);
    broker_send_error(b, m->user_id, m->frame->corr_id, R(MALFORMED),
                      "frame type not accepted by the broker");
}

static void s_gauges(broker_t *b)
{
    uint64_t queued = 0, relays = 0;
    if (broker_store_counts(b->store, &queued, &relays) == EGIDE_OK) {
        atomic_store(&b->m.queue_depth, queued);
        atomic_store(&b->m.relay_depth, relays);
    }
}

/* With one commit per frame, frames whose effects need no fsync of their
 * own ride on the next commit: an Ack or a heartbeat promises nothing, and a
 * recipient's receipt is already durable at the recipient, which answers a
 * redelivery with the same bytes, so a crash before our commit loses nothing
 * (the receipt comes again, is relayed and audited again, and the sender
 * deduplicates it).  What the broker itself vouches for - an ACCEPTED or
 * REJECTED receipt - always waits for its commit. */
static bool s_quiet(egide_rc rc, const egide_transport_msg_t *m)
{
    return rc == EGIDE_OK && m->frame &&
           (m->frame->body_case == EGIDE__V1__FRAME__BODY_ACK ||
            m->frame->body_case == EGIDE__V1__FRAME__BODY_HEARTBEAT ||
            m->frame->body_case == EGIDE__V1__FRAME__BODY_RECEIPT);
}

/* Begin a transaction; on failure wait a tick so that the loop retries
 * without spinning (frames stay queued in ZeroMQ meanwhile). */
static bool s_begin(broker_t *b)
{
    egide_rc rc = broker_store_begin(b->store);
    bool was = atomic_exchange(&b->m.store_unavailable, rc != EGIDE_OK);
    if (rc && !was)
        egide_log_kv(EGIDE_LOG_ERROR,
                     &(egide_log_fields){.component = "store", .reason = egide_rc_name(rc)},
                     "store unavailable (%s store: %s): no new work is taken until it is back; "
                     "frames wait and peers retry",
                     broker_store_backend(b->store), egide_strerror(rc));
    else if (!rc && was)
        egide_log_kv(EGIDE_LOG_NOTICE, &(egide_log_fields){.component = "store"},
                     "store available again");
    if (rc) {
        struct timespec ts = {0, TICK_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    return rc == EGIDE_OK;
}

/* ------------------------------------------------------------ lease */

egide_rc broker_lease_take(broker_t *b)
{
    atomic_store(&b->m.role, BROKER_ACTIVE);
    if (b->lease_ms <= 0)
        return EGIDE_OK;
    char host[24] = "";
    if (gethostname(host, sizeof host) != 0)
        host[0] = '\0';
    host[sizeof host - 1] = '\0';
    (void)snprintf(b->lease_holder, sizeof b->lease_holder, "%.24s/%s/%ld", b->node_id, host,
                   (long)getpid());
    uint64_t epoch = 0;
    egide_rc rc = broker_store_lease(b->store, b->lease_holder, b->lease_ms, &epoch);
    if (rc == EGIDE_OK) {
        egide_log(EGIDE_LOG_NOTICE,
                  "active: this broker holds the store's write lease (epoch %llu)",
                  (unsigned long long)epoch);
        b->lease_next_ms = egide_mono_ms() + b->lease_ms / 3;
        return EGIDE_OK;
    }
    if (rc == EGIDE_ERR_NOTFOUND) {
        egide_log(EGIDE_LOG_ERROR, "[store] lease_seconds: the %s store has no lease",
                  broker_store_backend(b->store));
        return EGIDE_ERR_CONFIG;
    }
    egide_log(EGIDE_LOG_NOTICE,
              "passive: %s; waiting for the store's write lease (edges are refused: "
              "REASON_BROKER_PASSIVE)",
              rc == EGIDE_ERR_STATE ? "another broker holds it" : egide_strerror(rc));
    atomic_store(&b->m.role, BROKER_PASSIVE);
    b->lease_try_ms = egide_mono_ms() + LEASE_TRY_MS;
    return EGIDE_OK;
}

/* The lease is another broker's: write nothing more, refuse the edges, try
 * again every LEASE_TRY_MS (a takeover then checks the store again). */
static void s_step_down(broker_t *b)
{
    egide_log(EGIDE_LOG_ERROR,
              "passive: the store's write lease was taken by another broker: stepping down "
              "(nothing more is committed here; edges are refused: REASON_BROKER_PASSIVE)");
    broker_out_discard(b);
    b->lease_lost = true;
    b->lease_try_ms = egide_mono_ms() + LEASE_TRY_MS;
    atomic_store(&b->m.role, BROKER_PASSIVE);
}

/* Renew the lease a third of its time before it runs out, or at once after
 * a fenced commit.  Lost to another broker: step down.  A store error: try
 * again next tick. */
static void s_lease_renew(broker_t *b)
{
    int64_t now = egide_mono_ms();
    if (b->lease_ms <= 0 || (now < b->lease_next_ms && !b->lease_check))
        return;
    b->lease_check = false;
    uint64_t epoch = 0;
    egide_rc rc = broker_store_lease(b->store, b->lease_holder, b->lease_ms, &epoch);
    if (rc == EGIDE_OK)
        b->lease_next_ms = now + b->lease_ms / 3;
    else if (rc == EGIDE_ERR_STATE)
        s_step_down(b);
    else
        b->lease_next_ms = now + TICK_MS;
}

/* Passive or refusing: answer every frame with REASON_BROKER_PASSIVE and
 * its reason, audit nothing; passive, try to take the lease over. */
static void s_not_active(broker_t *b, void *const *socks)
{
    bool ready[2];
    if (egide_transport_poll(socks, ready, 2, TICK_MS) == EGIDE_ERR_IO) {
        *b->stop = 1;
        return;
    }
    broker_zap_handle(b, ZAP_MAX); /* refusals are not audited while not active */
    int role = atomic_load(&b->m.role);
    const char *why = role == BROKER_REFUSING
                          ? "this broker refuses to serve: its store failed the takeover checks"
                          : "passive: another broker holds the store's write lease";
    for (int i = 0; i < b->batch_max; i++) {
        egide_transport_msg_t m;
        egide_rc rc = egide_transport_recv(b->router, 1, &m);
        if (rc == EGIDE_ERR_TIMEOUT || rc == EGIDE_ERR_IO)
            break;
        atomic_fetch_add(&b->m.frames_in, 1);
        if (m.user_id[0]) {
            /* the refusal must reach the edge (which then tries the next
             * broker listed): sending goes by the node's connection */
            broker_conn_seen(b, &m);
            atomic_fetch_add(&b->m.passive_refusals, 1);
            broker_send_error(b, m.user_id, m.frame ? m.frame->corr_id : 0, R(BROKER_PASSIVE), why);
        }
        egide_transport_msg_clear(&m);
    }
    broker_flush(b);
    int64_t now = egide_mono_ms();
    if (role != BROKER_PASSIVE || now < b->lease_try_ms)
        return;
    b->lease_try_ms = now + LEASE_TRY_MS;
    uint64_t epoch = 0;
    egide_rc rc = broker_store_lease(b->store, b->lease_holder, b->lease_ms, &epoch);
    if (rc != EGIDE_OK)
        return;
    int64_t t0 = egide_mono_ms();
    egide_log(EGIDE_LOG_NOTICE, "active: this broker holds the store's write lease (epoch %llu)",
              (unsigned long long)epoch);
    b->lease_next_ms = t0 + b->lease_ms / 3;
    b->lease_lost = false;
    /* The nodes refused while passive said no Hello to an active broker:
     * each says one when it connects again (nothing is pushed meanwhile). */
    broker_conns_forget(b);
    rc = broker_become_active(b);
    if (rc == EGIDE_OK) {
        egide_log(EGIDE_LOG_NOTICE, "takeover done in %lld ms: serving",
                  (long long)(egide_mono_ms() - t0));
        return;
    }
    if (rc != EGIDE_ERR_CONSISTENCY && rc != EGIDE_ERR_INVALID) {
        /* A transient fault (the server away): passive again, retried. */
        egide_log(EGIDE_LOG_WARNING, "takeover not done (%s): giving the lease up, retrying",
                  egide_strerror(rc));
        b->refuse_why[0] = '\0';
        (void)broker_store_lease(b->store, b->lease_holder, 0, &epoch);
        return;
    }
    /* The store disagrees with what was signed: serve nothing, sign nothing,
     * and leave the lease free (a broker holding it would sign over it). */
    (void)broker_store_lease(b->store, b->lease_holder, 0, &epoch);
    b->lease_lost = true;
    atomic_store(&b->m.role, BROKER_REFUSING);
    egide_log(EGIDE_LOG_ERROR, "refusing to serve: %s", b->refuse_why);
}

/* Handle up to batch_max frames; returns with a transaction open, or false
 * when a new one could not be begun. */
static bool s_frames(broker_t *b)
{
    for (int handled = 0; handled < b->batch_max; handled++) {
        egide_transport_msg_t m;
        egide_rc rc = egide_transport_recv(b->router, 1, &m);
        if (rc == EGIDE_ERR_TIMEOUT || rc == EGIDE_ERR_IO)
            break;
        bool quiet = s_quiet(rc, &m);
        s_handle(b, &m, rc);
        egide_transport_msg_clear(&m);
        if (!b->group_commit && !quiet) {
            broker_commit(b); /* a failure is logged; the loop goes on */
            if (!s_begin(b))
                return false;
        }
    }
    return true;
}

static void s_reload(broker_t *b)
{
    *b->reload = 0;
    egide_notify("RELOADING=1");
    uint64_t before = egide_directory_version(b->dir);
    if (broker_reload_directory(b) == EGIDE_OK && egide_directory_version(b->dir) > before) {
        /* Push the new directory to every connected edge. */
        broker_send_directory(b, NULL);
        broker_flush(b);
    }
    egide_notify("READY=1"); /* also after a refused reload: the old state serves */
}

int broker_run(broker_t *b)
{
    void *socks[2] = {b->router, b->zap};
    int64_t next_tick = 0, next_gauges = 0;
    /* A store on a server (PostgreSQL) waits in the loop's poll, answering
     * handshakes, instead of blocking the thread (broker_store_wait). */
    bool waits = broker_store_set_wait(b->store, broker_store_wait, b) == EGIDE_OK;
    egide_log(EGIDE_LOG_NOTICE, "broker %s running (directory v%llu, %s commit, %s store%s)",
              b->node_id, (unsigned long long)egide_directory_version(b->dir),
              b->group_commit ? "group" : "per-message", broker_store_backend(b->store),
              waits ? ", its waits in the loop's poll" : "");
    while (!*b->stop) {
        int64_t now = egide_mono_ms();
        int timeout = next_tick > now ? (int)(next_tick - now) : 0;
        bool ready[2];
        if (atomic_load(&b->m.role) != BROKER_ACTIVE) {
            s_not_active(b, socks);
            continue;
        }
        if (egide_transport_poll(socks, ready, 2, timeout) == EGIDE_ERR_IO)
            break;
        if (*b->stop)
            break;
        if (!s_begin(b))
            continue;
        broker_zap_handle(b, ZAP_MAX);
        if (!s_frames(b))
            continue;
        now = egide_mono_ms();
        if (now >= next_tick) {
            broker_refresh_peers(b, broker_now(b), false);
            broker_zap_summary(b, broker_now(b));
            broker_pump(b);
            broker_expire(b);
            broker_checkpoint(b, false);
            next_tick = now + TICK_MS;
        }
        egide_rc crc = broker_commit(b);
        /* After the commit, not before: a broker resumed after a pause past
         * its lease meets the fence first (its commit is refused), then
         * finds here that the lease is another's.  Not after a commit that
         * failed on the connection (the server ended a transaction left
         * open by the pause): the next round's commit meets the fence. */
        if (crc != EGIDE_ERR_DB)
            s_lease_renew(b);
        if (now >= next_gauges) {
            s_gauges(b);
            next_gauges = now + 1000;
        }
        if (b->reload && *b->reload)
            s_reload(b);
    }
    bool active = atomic_load(&b->m.role) == BROKER_ACTIVE;
    if (active && !b->lease_lost && broker_store_begin(b->store) == EGIDE_OK) {
        broker_checkpoint(b, true);
        broker_commit(b);
    }
    uint64_t epoch = 0;
    if (active && b->lease_ms > 0 && !b->lease_lost &&
        broker_store_lease(b->store, b->lease_holder, 0, &epoch) == EGIDE_OK)
        egide_log(EGIDE_LOG_NOTICE, "write lease given up: a passive broker may take over");
    (void)broker_store_set_wait(b->store, NULL, NULL);
    egide_log(EGIDE_LOG_NOTICE, "broker stopping");
    return 0;
}
