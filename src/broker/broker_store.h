/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * broker_store.h - the broker's durable state as named, checked operations
 * behind a table of functions (broker_store_ops_t), after OpenSMTPD's
 * queue_backend.c and GNUnet's datastore plugins, so that a second backend
 * (PostgreSQL) slots in without touching the daemon's logic.  SQLite is the
 * default (broker_store_sqlite.c); tests/unit/test_broker_store.c is the
 * conformance test every backend passes.
 *
 * What the store holds: envelopes as the exact bytes received with the
 * ACCEPTED receipt the broker signed for them; one delivery per (message,
 * recipient), the recipient's queue; remembered rejections, so that a retry
 * of a refused envelope gets the same signed answer; each sender's highest
 * sequence number; relays, receipts on their way back to senders until the
 * sender acknowledges them; and the audit log, in the same transaction so
 * that "accepted" and its audit leaf are one commit.
 *
 * Invariants:
 * - Every operation checks every result of its backend; a failure is
 *   returned as an egide_rc and logged once (never with message content).
 * - A failed write leaves nothing half-written: broker_store_accept() writes
 *   the envelope, its deliveries and the sender's sequence all or nothing.
 * - A store error is transient.  The caller rolls back the transaction, sends
 *   nothing it produced in it (no receipt, no REJECTED) and lets the peer
 *   retry.
 * - A delivery moves only from QUEUED to one final state (DELIVERED,
 *   REJECTED, EXPIRED); a second move is refused with EGIDE_ERR_STATE.
 *
 * Return codes common to every operation: EGIDE_OK; EGIDE_ERR_INVALID for a
 * NULL store or a missing/ill-sized argument; EGIDE_ERR_DB, EGIDE_ERR_IO,
 * EGIDE_ERR_NOMEM for backend failures.  Lookups return EGIDE_ERR_NOTFOUND
 * when there is nothing to find.  Lists are returned in malloc'd arrays the
 * caller frees with the matching *_free function (NULL-safe); an empty list
 * is EGIDE_OK with *n = 0 and *items = NULL.
 */
#ifndef BROKER_STORE_H
#define BROKER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "egide/audit/egide_auditlog.h"
#include "egide/base/egide_limits.h"
#include "egide/base/egide_rc.h"

/* State of one delivery (message, recipient).  Stored as these numbers:
 * never renumber. */
typedef enum {
    BROKER_DELIVERY_QUEUED = 0,    /* waiting for the recipient's receipt */
    BROKER_DELIVERY_DELIVERED = 1, /* the recipient signed DELIVERED */
    BROKER_DELIVERY_REJECTED = 2,  /* the recipient signed REJECTED */
    BROKER_DELIVERY_EXPIRED = 3,   /* the broker gave up at expires_ms */
} broker_delivery_state;

/* "queued", "delivered", "rejected", "expired"; "unknown" otherwise. */
const char *broker_delivery_state_name(broker_delivery_state s);

/* Longest node id and message type the store keeps (with the NUL). */
#define BROKER_STORE_ID_MAX   (EGIDE_MAX_NODE_ID + 1)
#define BROKER_STORE_TYPE_MAX (EGIDE_MAX_TYPE_NAME + 1)

/* An accepted envelope, as broker_store_accept() writes it.  All pointers
 * are borrowed for the call. */
typedef struct broker_accept {
    const uint8_t *msg_id;          /* 16 bytes */
    const uint8_t *sha256;          /* 32 bytes: SHA-256 of data */
    const char *sender_id;          /* authenticated sender */
    uint64_t sender_seq;            /* 1..INT64_MAX */
    const char *type;               /* catalogue name */
    int urgency;                    /* Egide__V1__Urgency: due deliveries sort by it */
    int64_t created_ms, expires_ms; /* from the header */
    int64_t received_ms;            /* broker clock */
    const uint8_t *data;            /* the exact envelope bytes */
    size_t len;                     /* 1..EGIDE_MAX_ENVELOPE */
    const uint8_t *receipt;         /* the signed ACCEPTED receipt */
    size_t receipt_len;             /* > 0 */
    uint64_t leaf_index;            /* its audit leaf */
    const char *const *recipients;  /* distinct node ids, one delivery each */
    size_t n_recipients;            /* 1..EGIDE_MAX_RECIPIENTS */
} broker_accept_t;

/* A stored signed answer (an ACCEPTED receipt of a known envelope, or a
 * remembered REJECTED).  receipt is the caller's (broker_stored_clear). */
typedef struct broker_stored {
    uint8_t sha256[32]; /* hash of the envelope it answers */
    uint8_t *receipt;
    size_t receipt_len;
} broker_stored_t;
void broker_stored_clear(broker_stored_t *s);

/* A delivery with what the broker needs to answer its recipient's receipt. */
typedef struct broker_delivery {
    uint8_t sha256[32];
    char sender_id[BROKER_STORE_ID_MAX];
    char type[BROKER_STORE_TYPE_MAX];
    broker_delivery_state state;
    int attempts;
} broker_delivery_t;

/* Something due to be sent: a queued delivery (data = the envelope) or a
 * relay (id names it, data = the receipt).  data is owned by the list. */
typedef struct broker_due {
    uint64_t id;        /* relays: the relay id the sender acknowledges */
    uint8_t msg_id[16]; /* the message it is about */
    uint8_t *data;
    size_t len;
    int attempts; /* frames sent so far */
} broker_due_t;
void broker_due_free(broker_due_t *items, size_t n);

/* A queued delivery past its expiry. */
typedef struct broker_expiring {
    uint8_t msg_id[16], sha256[32];
    char recipient_id[BROKER_STORE_ID_MAX];
    char sender_id[BROKER_STORE_ID_MAX];
    char type[BROKER_STORE_TYPE_MAX];
} broker_expiring_t;
void broker_expiring_free(broker_expiring_t *items);

/* What an acknowledged relay was, for the audit trail. */
typedef struct broker_relay_acked {
    uint8_t msg_id[16];
    uint8_t receipt_sha256[32];
    char issuer[BROKER_STORE_ID_MAX]; /* whose receipt it is */
} broker_relay_acked_t;

/* Where a redelivery to a restored recipient stands: the finished
 * deliveries after (done_ms, seq) in the broker's finishing order are still
 * to queue, skip excepted (the message the recipient said it holds).  Set by
 * broker_store_redeliver_start, moved on (and kept in the store while a
 * page was full) by broker_store_redeliver_page. */
typedef struct broker_redeliver_cursor {
    int64_t done_ms;  /* when the last one taken was finished */
    int64_t seq;      /* its delivery's order (-1: every tie of done_ms) */
    uint8_t skip[16]; /* msg_id never taken (the one the recipient holds) */
} broker_redeliver_cursor_t;

typedef struct broker_store broker_store_t;

/* Called while a statement waits on the server, with the server's socket
 * fd (readable wanted; also writable when write) and at most timeout_ms to
 * wait: see broker_store_set_wait. */
typedef void (*broker_store_wait_fn)(void *arg, int fd, bool write, int timeout_ms);

/* A backend.  Each function gets the backend's own state (impl); the
 * broker_store_* wrappers below check the arguments first, so a backend may
 * rely on non-NULL, well-sized arguments.  Semantics are those of the
 * wrappers. */
typedef struct broker_store_ops {
    const char *name; /* "sqlite", "postgresql" */
    egide_rc (*open)(const char *location, bool reader, void **impl);
    void (*close)(void *impl);
    egide_rc (*audit)(void *impl, egide_auditlog_t **log);
    egide_rc (*location)(void *impl, char *out, size_t size);
    egide_rc (*begin)(void *impl);
    egide_rc (*commit)(void *impl);
    void (*rollback)(void *impl);
    egide_rc (*accept)(void *impl, const broker_accept_t *a);
    egide_rc (*envelope_find)(void *impl, const uint8_t *msg_id, broker_stored_t *out);
    egide_rc (*rejection_put)(void *impl, const uint8_t *msg_id, const uint8_t *sha256,
                              const uint8_t *receipt, size_t len, int64_t now_ms);
    egide_rc (*rejection_find)(void *impl, const uint8_t *msg_id, const uint8_t *sha256,
                               broker_stored_t *out);
    egide_rc (*sender_max_seq)(void *impl, const char *sender_id, uint64_t *max);
    egide_rc (*sender_seq_used)(void *impl, const char *sender_id, uint64_t seq, bool *used);
    egide_rc (*delivery_get)(void *impl, const uint8_t *msg_id, const char *recipient_id,
                             broker_delivery_t *out);
    egide_rc (*deliveries_due)(void *impl, const char *recipient_id, int64_t now_ms, size_t limit,
                               broker_due_t **items, size_t *n);
    egide_rc (*delivery_attempted)(void *impl, const uint8_t *msg_id, const char *recipient_id,
                                   int64_t next_ms);
    egide_rc (*delivery_finish)(void *impl, const uint8_t *msg_id, const char *recipient_id,
                                broker_delivery_state state, const uint8_t *receipt, size_t len,
                                int64_t now_ms);
    egide_rc (*deliveries_expiring)(void *impl, int64_t now_ms, size_t limit,
                                    broker_expiring_t **items, size_t *n);
    egide_rc (*node_wake)(void *impl, const char *node_id);
    egide_rc (*relay_queue)(void *impl, const char *sender_id, const char *issuer,
                            const uint8_t *msg_id, const uint8_t *receipt, size_t len,
                            int64_t now_ms, uint64_t *id);
    egide_rc (*relays_due)(void *impl, const char *sender_id, int64_t now_ms, size_t limit,
                           broker_due_t **items, size_t *n);
    egide_rc (*relay_attempted)(void *impl, uint64_t id, int64_t next_ms);
    egide_rc (*relay_ack)(void *impl, uint64_t id, const char *sender_id,
                          broker_relay_acked_t *out);
    egide_rc (*counts)(void *impl, uint64_t *queued, uint64_t *relays);
    egide_rc (*redeliver_start)(void *impl, const char *recipient_id, const uint8_t *held_msg_id,
                                broker_redeliver_cursor_t *cur);
    egide_rc (*redeliver_page)(void *impl, const char *recipient_id, broker_redeliver_cursor_t *cur,
                               size_t limit, int64_t now_ms, size_t *n);
    egide_rc (*redeliver_resume)(void *impl, const char *recipient_id,
                                 broker_redeliver_cursor_t *cur);
    egide_rc (*redeliveries_due)(void *impl, const char *recipient_id, int64_t now_ms, size_t limit,
                                 broker_due_t **items, size_t *n);
    egide_rc (*redelivery_attempted)(void *impl, const uint8_t *msg_id, const char *recipient_id,
                                     int64_t next_ms);
    egide_rc (*redelivery_done)(void *impl, const uint8_t *msg_id, const char *recipient_id);
    /* Optional (NULL when a backend has none: SQLite, whose file one
     * process owns): the write lease, see broker_store_lease. */
    egide_rc (*lease)(void *impl, const char *holder, int64_t ttl_ms, uint64_t *epoch);
    /* Optional, for tests (NULL when a backend has none): the nth backend
     * write from now (1 = the next one) fails with EGIDE_ERR_IO, as SQLite's
     * own tests inject I/O errors; 0 clears it. */
    void (*inject_fault)(void *impl, int nth_write);
    /* Optional (NULL when the backend's calls do not wait on a server:
     * SQLite): what to do while a statement waits, see
     * broker_store_set_wait. */
    void (*set_wait)(void *impl, broker_store_wait_fn fn, void *arg);
} broker_store_ops_t;

/* The backends compiled in, NULL-terminated (SQLite first, the default). */
extern const broker_store_ops_t *const broker_store_backends[];
extern const broker_store_ops_t broker_store_sqlite_ops;
/* PostgreSQL (broker_store_pg.c): the location is a libpq conninfo. */
extern const broker_store_ops_t broker_store_pg_ops;
/* The backend called name ("sqlite", "postgresql"); NULL when none is. */
const broker_store_ops_t *broker_store_backend_named(const char *name);

/* Open the store at location with backend ops (NULL = SQLite): creates the
 * schema (migrations, audit tables included) and opens the audit log on the
 * store's connection.  reader: a second, read-only handle on an existing
 * store (the API thread's); it runs no migration.  *out is the caller's
 * (broker_store_close).  EGIDE_ERR_VERSION when the store is newer than
 * this program. */
egide_rc broker_store_open(const broker_store_ops_t *ops, const char *location, bool reader,
                           broker_store_t **out);
/* A reader (see broker_store_open) on the same store with the same backend,
 * for another thread.  *out is the caller's. */
egide_rc broker_store_open_reader(broker_store_t *s, broker_store_t **out);
/* Close and NULL *self_p; NULL-safe.  An open transaction is rolled back. */
void broker_store_close(broker_store_t **self_p);
/* The backend's name ("sqlite", "postgresql"). */
const char *broker_store_backend(const broker_store_t *s);
/* The audit log kept in the store (borrowed; lives as long as the store). */
egide_auditlog_t *broker_store_audit(broker_store_t *s);
/* Where the store is (a file name for SQLite), to open a reader on it. */
egide_rc broker_store_location(broker_store_t *s, char *out, size_t size);

/* One transaction at a time (nested begin: EGIDE_ERR_STATE from SQLite).
 * commit: durable on return (fsync); on failure the caller rolls back. */
egide_rc broker_store_begin(broker_store_t *s);
egide_rc broker_store_commit(broker_store_t *s);
/* Whether a write call (through these functions, not the audit log's) was
 * made since the last broker_store_begin: a commit with none writes
 * nothing. */
bool broker_store_wrote(const broker_store_t *s);
void broker_store_rollback(broker_store_t *s);

/* Write an accepted envelope, one QUEUED delivery per recipient (attempts 0,
 * due now) and raise the sender's highest sequence to a->sender_seq — all or
 * nothing.  EGIDE_ERR_EXISTS when the msg_id, the (sender, seq) pair or a
 * recipient repeats (nothing written). */
egide_rc broker_store_accept(broker_store_t *s, const broker_accept_t *a);
/* The stored hash and ACCEPTED receipt of msg_id (16 bytes);
 * EGIDE_ERR_NOTFOUND when unknown. */
egide_rc broker_store_envelope_find(broker_store_t *s, const uint8_t *msg_id, broker_stored_t *out);
/* Remember a signed REJECTED for (msg_id, sha256); idempotent: a second put
 * of the same pair keeps the first receipt and returns EGIDE_OK. */
egide_rc broker_store_rejection_put(broker_store_t *s, const uint8_t *msg_id, const uint8_t *sha256,
                                    const uint8_t *receipt, size_t len, int64_t now_ms);
/* The remembered REJECTED for exactly (msg_id, sha256); EGIDE_ERR_NOTFOUND. */
egide_rc broker_store_rejection_find(broker_store_t *s, const uint8_t *msg_id,
                                     const uint8_t *sha256, broker_stored_t *out);
/* The sender's highest accepted sequence (0 when none). */
egide_rc broker_store_sender_max_seq(broker_store_t *s, const char *sender_id, uint64_t *max);
/* Whether an accepted envelope of sender_id has sequence seq. */
egide_rc broker_store_sender_seq_used(broker_store_t *s, const char *sender_id, uint64_t seq,
                                      bool *used);
/* One delivery; EGIDE_ERR_NOTFOUND when (msg_id, recipient) is not one. */
egide_rc broker_store_delivery_get(broker_store_t *s, const uint8_t *msg_id,
                                   const char *recipient_id, broker_delivery_t *out);
/* Up to limit (1..4096) QUEUED deliveries of recipient_id due at now_ms,
 * most urgent first, then in the order accepted. */
egide_rc broker_store_deliveries_due(broker_store_t *s, const char *recipient_id, int64_t now_ms,
                                     size_t limit, broker_due_t **items, size_t *n);
/* A Deliver frame was sent: attempts + 1, next due at next_ms.
 * EGIDE_ERR_NOTFOUND when no such QUEUED delivery. */
egide_rc broker_store_delivery_attempted(broker_store_t *s, const uint8_t *msg_id,
                                         const char *recipient_id, int64_t next_ms);
/* QUEUED -> state (DELIVERED, REJECTED or EXPIRED) with the receipt that
 * settles it.  EGIDE_ERR_NOTFOUND for no such delivery, EGIDE_ERR_STATE when
 * it is already final (unchanged), EGIDE_ERR_INVALID for state QUEUED. */
egide_rc broker_store_delivery_finish(broker_store_t *s, const uint8_t *msg_id,
                                      const char *recipient_id, broker_delivery_state state,
                                      const uint8_t *receipt, size_t len, int64_t now_ms);
/* Up to limit (1..4096) QUEUED deliveries with expires_ms <= now_ms. */
egide_rc broker_store_deliveries_expiring(broker_store_t *s, int64_t now_ms, size_t limit,
                                          broker_expiring_t **items, size_t *n);
/* The node is back: its queued deliveries, redeliveries and pending relays
 * are due now.  EGIDE_OK also when it has none. */
egide_rc broker_store_node_wake(broker_store_t *s, const char *node_id);
/* Queue a receipt (issued by issuer about msg_id) for sender_id, due now,
 * attempts 0; *id (> 0, increasing) names it in the sender's Ack. */
egide_rc broker_store_relay_queue(broker_store_t *s, const char *sender_id, const char *issuer,
                                  const uint8_t *msg_id, const uint8_t *receipt, size_t len,
                                  int64_t now_ms, uint64_t *id);
/* Up to limit (1..4096) unacknowledged relays of sender_id due at now_ms,
 * oldest first. */
egide_rc broker_store_relays_due(broker_store_t *s, const char *sender_id, int64_t now_ms,
                                 size_t limit, broker_due_t **items, size_t *n);
/* A relay was sent: attempts + 1, next due at next_ms; EGIDE_ERR_NOTFOUND. */
egide_rc broker_store_relay_attempted(broker_store_t *s, uint64_t id, int64_t next_ms);
/* The sender acknowledged relay id: done.  EGIDE_ERR_NOTFOUND when it is not
 * an unacknowledged relay of that sender (a second ack, another sender's id). */
egide_rc broker_store_relay_ack(broker_store_t *s, uint64_t id, const char *sender_id,
                                broker_relay_acked_t *out);
/* Gauges: QUEUED deliveries and unacknowledged relays. */
egide_rc broker_store_counts(broker_store_t *s, uint64_t *queued, uint64_t *relays);
/* Redelivery to a restored recipient (docs/backup.md).  A recipient whose
 * store was restored from a backup lost what it received since; its Hello
 * names the newest message it holds.  The deliveries to it that the broker
 * finished as DELIVERED after that one are queued again, in a queue of their
 * own: the delivery keeps its final state and receipt, no relay goes to the
 * sender and nothing is written to the audit log.  The recipient recognises
 * what it holds and answers with the receipt it signed before.
 *
 * redeliver_start: the cursor just before held_msg_id's delivery to
 * recipient_id in finishing order (ties of its done_ms included, itself
 * skipped).  EGIDE_ERR_NOTFOUND when held_msg_id is not a DELIVERED delivery
 * to recipient_id (unknown, still QUEUED, REJECTED or EXPIRED).  One lookup
 * by primary key; writes nothing. */
egide_rc broker_store_redeliver_start(broker_store_t *s, const char *recipient_id,
                                      const uint8_t *held_msg_id, broker_redeliver_cursor_t *cur);
/* Queue for redelivery (due now, attempts 0) the next limit (1..4096)
 * DELIVERED deliveries to recipient_id after *cur in (done_ms, seq) order,
 * cur->skip excepted, unless already queued; *cur moves to the last one
 * taken.  *n: how many were taken (n < limit: none follow).  In the same
 * transaction the recipient's stored cursor (broker_store_redeliver_resume)
 * becomes *cur when n == limit, and is deleted when n < limit: a restart
 * goes on from where the last committed page left off.  Nothing taken is
 * one index lookup and a delete by primary key that finds no row. */
egide_rc broker_store_redeliver_page(broker_store_t *s, const char *recipient_id,
                                     broker_redeliver_cursor_t *cur, size_t limit, int64_t now_ms,
                                     size_t *n);
/* The cursor of a redelivery to recipient_id under way (its last page was
 * full: more may follow), as the last committed (or this transaction's)
 * broker_store_redeliver_page left it.  EGIDE_ERR_NOTFOUND when none is
 * under way.  One lookup by primary key. */
egide_rc broker_store_redeliver_resume(broker_store_t *s, const char *recipient_id,
                                       broker_redeliver_cursor_t *cur);
/* Up to limit (1..4096) queued redeliveries to recipient_id due at now_ms,
 * in finishing order; data is the envelope as first delivered. */
egide_rc broker_store_redeliveries_due(broker_store_t *s, const char *recipient_id, int64_t now_ms,
                                       size_t limit, broker_due_t **items, size_t *n);
/* A redelivery was sent: attempts + 1, next due at next_ms.
 * EGIDE_ERR_NOTFOUND when none is queued for (msg_id, recipient_id). */
egide_rc broker_store_redelivery_attempted(broker_store_t *s, const uint8_t *msg_id,
                                           const char *recipient_id, int64_t next_ms);
/* The recipient answered a redelivery: it leaves the queue.
 * EGIDE_ERR_NOTFOUND when none is queued for (msg_id, recipient_id). */
egide_rc broker_store_redelivery_done(broker_store_t *s, const uint8_t *msg_id,
                                      const char *recipient_id);
/* Take or renew the store's write lease for holder (a name unique to this
 * process) for ttl_ms (0..86400000) by the database server's clock; ttl_ms
 * 0 gives it up.  *epoch is the fencing token: it rises each time the
 * lease changes holder.  From then on every commit of this handle checks,
 * in its own transaction, that holder still has the lease at that epoch,
 * and fails with EGIDE_ERR_STATE (nothing committed) when it lost it, so a
 * broker that was paused or cut off cannot write after another took over.
 * Call it outside a transaction.  EGIDE_ERR_STATE when another holder's
 * lease is valid, EGIDE_ERR_NOTFOUND when the backend has no lease. */
egide_rc broker_store_lease(broker_store_t *s, const char *holder, int64_t ttl_ms, uint64_t *epoch);
/* While one of its statements waits on the server, the store calls
 * fn(arg, fd, write, timeout_ms) instead of blocking (PostgreSQL: the
 * socket of libpq, see egide_pg_set_wait), so that the caller's loop goes
 * on with what needs no store.  fn must not use the store.  NULL fn: block.
 * EGIDE_ERR_STATE when the backend never waits on a server (SQLite). */
egide_rc broker_store_set_wait(broker_store_t *s, broker_store_wait_fn fn, void *arg);
/* See broker_store_ops_t.inject_fault; EGIDE_ERR_STATE when the backend has none. */
egide_rc broker_store_inject_fault(broker_store_t *s, int nth_write);

#endif
