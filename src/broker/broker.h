/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * broker.h - egide-broker internals: configuration, state, and the steps of
 * the message loop, one file per job:
 *   broker_init.c   configuration schema, start-up (keys, store, sockets), shutdown
 *   broker_dir.c    trust store and directory (re)load
 *   broker_loop.c   poll loop, transactions, timers, dispatch of frames
 *   broker_zap.c    ZAP handler (CURVE key -> node id)
 *   broker_admit.c  admission of an envelope: a pure decision
 *   broker_submit.c a Submit frame: admission, then store, sign, answer
 *   broker_relay.c  recipients' receipts, relays to senders, acks, redelivery, expiry
 *   broker_hello.c  hello, directory sync, audit checkpoints
 *   broker_out.c    connections, the output queue, receipts, errors, audit appends
 *   broker_store*.c the store (the only files with SQL)
 *   broker_api.c    the HTTP API
 * main() (broker_main.c) only runs the shared daemon main over these.
 *
 * Invariants:
 * - A receipt or delivery leaves only after the COMMIT covering it: handlers
 *   append outgoing frames to b->out, which is flushed after each commit and
 *   discarded when the commit fails or the batch is refused.
 * - A store error is transient: the step that meets it calls
 *   broker_store_failed(), the whole batch is rolled back and nothing it
 *   produced is sent (no receipt, no REJECTED); peers retry.  The daemon
 *   keeps running.
 * - The peer's identity is the ZAP User-Id of its connection (a node id the
 *   ZAP handler found for its CURVE key in the directory), never a routing id
 *   or a field the peer chose.
 * - Frames are built only by egide_frame_* and sent only by
 *   egide_transport_send_raw (from broker_flush); no ZeroMQ or SQL here.
 * - The broker never holds a content key: it sees headers only.
 */
#ifndef EGIDE_BROKER_H
#define EGIDE_BROKER_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <openssl/evp.h>

#include "egide/audit/egide_auditlog.h"
#include "egide/base/egide_config.h"
#include "egide/base/egide_limits.h"
#include "egide/directory/egide_directory.h"
#include "egide/net/egide_http.h"
#include "egide/protocol/egide_checkpoint.h"
#include "egide/crypto/egide_pki.h"
#include "egide/directory/egide_peers.h"
#include "egide/net/egide_transport.h"

#include "broker_store.h"

extern const egide_config_key_t broker_config_schema[];

/* One outgoing frame, sent after the commit that covers it. */
typedef struct broker_out {
    char node_id[EGIDE_MAX_NODE_ID + 1]; /* recipient node (routing id looked up at send) */
    uint8_t *data;                       /* packed Frame */
    size_t len;
    struct broker_out *next;
} broker_out_t;

/* A connected node: where to send, as last seen. */
typedef struct broker_conn {
    char node_id[EGIDE_MAX_NODE_ID + 1];
    uint8_t rid[256]; /* ROUTER routing id of its latest connection */
    size_t rid_len;
    bool connected; /* false after EHOSTUNREACH until its next frame */
    int64_t last_seen_ms;
    uint64_t checkpoint_size; /* tree size the edge said it holds */
    /* Size of a checkpoint queued for it in this transaction: it becomes
     * checkpoint_size once the commit sends it, and is dropped with a
     * rollback (which drops the frame too). */
    uint64_t checkpoint_size_queued;
    /* Its Hello was handled by this broker while active: until then its
     * checkpoint_size is unknown, so no checkpoint is pushed to it (one
     * without the right proof would raise a false fork alert). */
    bool said_hello;
    /* A redelivery to a restored node may have pages still to queue: its
     * cursor is in the store (broker_store_redeliver_resume), read when a
     * page is queued, one per pump pass.  Only a cache: false (the common
     * case) costs the pump nothing; set at Hello from the store. */
    bool redeliver_more;
    /* The same as of the last commit: a rolled-back batch also rolled back
     * the stored cursor, so the flag goes back with it (broker_commit). */
    bool redeliver_more_committed;
} broker_conn_t;

/* Counters for /metrics (read from the API thread). */
typedef struct broker_metrics {
    _Atomic uint64_t accepted, rejected, delivered, recipient_rejected, relayed, expired;
    _Atomic uint64_t deliveries_sent, redeliveries, frames_in, frames_bad, zap_refused;
    _Atomic uint64_t commits;
    _Atomic uint64_t rejected_by_reason[32];
    _Atomic uint64_t queue_depth; /* deliveries not yet receipted (updated each tick) */
    _Atomic uint64_t relay_depth; /* receipts not yet acked by senders */
    _Atomic uint64_t audit_size;
    _Atomic uint64_t connected_nodes;
    _Atomic uint64_t directory_version;          /* of b->dir, which only the loop thread reads */
    _Atomic int64_t directory_not_after_ms;      /* of b->dir: past it, new work is refused */
    _Atomic uint64_t directory_expired_refusals; /* hellos and submits refused for it */
    _Atomic uint64_t zap_refused_audited;        /* refusals that made an audit leaf */
    _Atomic uint64_t store_waits;                /* rounds a store statement waited */
    _Atomic uint64_t zap_in_store_wait;          /* handshakes answered during those */
    _Atomic bool store_unavailable;    /* the last transaction could not begin (server away) */
    _Atomic int role;                  /* BROKER_ACTIVE, _PASSIVE or _REFUSING */
    _Atomic uint64_t passive_refusals; /* frames answered REASON_BROKER_PASSIVE */
} broker_metrics_t;

/* A broker's role among those sharing one store ([store] lease_seconds):
 * active (holds the write lease, or there is no lease), passive (another
 * holds it: every frame is answered REASON_BROKER_PASSIVE, nothing is
 * written), refusing (it took the lease but the store failed the takeover
 * checks: it serves nothing and gave the lease up; b->refuse_why says why). */
enum { BROKER_ACTIVE = 0, BROKER_PASSIVE = 1, BROKER_REFUSING = 2 };

/* A refused CURVE key, for aggregating refusals (broker_zap.c): one audit
 * leaf and one log line per key per interval, however many handshakes. */
typedef struct broker_refused {
    uint8_t key_sha256[32]; /* SHA-256 of the refused key (never the key) */
    int64_t window_ms;      /* start of its interval (the refusal that was audited) */
    uint64_t count;         /* refusals in this interval, the audited one included */
    bool audited;           /* this interval's first refusal made a leaf */
} broker_refused_t;

#define BROKER_REFUSED_MAX         1024               /* keys remembered; oldest evicted */
#define BROKER_REFUSED_INTERVAL_MS (10LL * 60 * 1000) /* one leaf per key per interval */
/* Leaves for refused keys per interval, all keys together: CURVE keys cost
 * nothing to make, so a client cycling through keys is bounded too (the
 * refusals past it are counted in the summary line). */
#define BROKER_REFUSED_LEAVES_MAX 256
/* Refused keys whose audit waits while a store statement waits on the
 * server (broker_store_wait): past it they are only counted. */
#define BROKER_ZAP_LATER_MAX 64

/* A refusal answered during a store wait, audited after it. */
typedef struct broker_zap_later {
    uint8_t key_sha256[32];
    bool has_node;
    char node_id[EGIDE_MAX_NODE_ID + 1];
    int64_t time_ms; /* when it was refused */
} broker_zap_later_t;
/* How often the peers' certificates are checked again against the clock. */
/* Redeliveries to a restored node queued per Hello or pump pass. */
#define BROKER_REDELIVER_PAGE   1024
#define BROKER_PEERS_RECHECK_MS (60LL * 1000)

/* Outcomes counted inside the open transaction, added to the metrics when
 * it commits: a refused batch did not happen. */
typedef struct broker_counted {
    uint64_t accepted, rejected, delivered, recipient_rejected, relayed, expired;
    uint64_t deliveries_sent, redeliveries;
    uint64_t rejected_by_reason[32];
} broker_counted_t;

/* The broker.  Invariants: the HTTP API's thread reads only m, node_id,
 * refuse_why (written before m.role becomes BROKER_REFUSING),
 * cfg and its own api_* fields; everything else is the loop thread's (the
 * directory it replaces on SIGHUP included: the API reads its version from
 * m).  out holds only frames produced inside the open transaction, and
 * store_failed is false outside a transaction. */
typedef struct broker {
    /* configuration */
    egide_config_t *cfg;                 /* borrowed from main */
    char node_id[EGIDE_MAX_NODE_ID + 1]; /* this broker's node id (receipts' issuer) */
    char origin[128];                    /* audit log origin / checkpoint key name */
    bool group_commit;                   /* one commit per batch, else per frame */
    int batch_max;                       /* frames per commit with group commit */
    int64_t lease_ms;                    /* [store] lease_seconds in ms; 0 = no lease */
    char lease_holder[65];               /* this process's name as the lease's holder */
    int64_t lease_next_ms;               /* monotonic time of the next renewal */
    bool lease_lost;                     /* another broker took it: stopping */
    char refuse_why[400];                /* BROKER_REFUSING: why (set before m.role) */
    int64_t lease_try_ms;                /* passive: monotonic time of the next try */
    bool lease_check;                    /* a commit was fenced: renew (or step down) now */
    int64_t clock_skew_ms;               /* accepted created_ms - now (future only) */
    int64_t max_lifetime_ms;             /* longest expires_ms - created_ms accepted */
    uint64_t seq_window;                 /* per-sender replay window */
    int retry_min_ms, retry_max_ms;      /* redelivery backoff bounds */
    size_t redeliver_page;               /* BROKER_REDELIVER_PAGE (tests: smaller) */
    bool redeliver_hold;                 /* tests: the pump queues no page */
    uint64_t checkpoint_entries;         /* checkpoint after this many leaves */
    int64_t checkpoint_ms;               /* or after this long */
    /* keys and trust */
    EVP_PKEY *sign_key;         /* Ed25519: receipts and checkpoints (held by keyd) */
    struct egide_keyd *keyd;    /* the key holder; NULL with [keys] holder = inline */
    uint8_t sign_fpr[32];       /* SHA-256 of its certificate */
    int64_t sign_not_after_ms;  /* end of its certificate's validity (Unix ms) */
    X509 *anchor;               /* directory authority, pinned */
    egide_trust_t *pki;         /* root, chain, CRLs */
    egide_directory_t *dir;     /* the directory held (replaced on reload) */
    egide_peers_t *peers;       /* dir's nodes with verified certificates */
    char *directory_path;       /* where reloads read it */
    int64_t peers_ms;           /* wall clock the peers' certificates were checked at */
    int64_t dir_expired_log_ms; /* last loud log line about an expired directory */
    /* refused handshakes (broker_zap.c) */
    broker_refused_t refused[BROKER_REFUSED_MAX]; /* keys refused lately */
    size_t n_refused;
    int64_t refused_interval_ms; /* BROKER_REFUSED_INTERVAL_MS unless a test sets it */
    uint64_t refused_quiet;      /* refusals not logged since the last summary */
    int64_t refused_summary_ms;  /* when the last summary line was logged */
    int64_t refused_leaves_ms;   /* start of the interval refused_leaves counts in */
    uint64_t refused_leaves;     /* leaves for refused keys in that interval */
    /* handshakes answered while a store statement waits (broker_zap.c) */
    bool in_store_wait;                                 /* answering ZAP inside a store wait */
    broker_zap_later_t zap_later[BROKER_ZAP_LATER_MAX]; /* refusals to audit after it */
    size_t n_zap_later;
    /* store */
    broker_store_t *store;         /* the loop thread's */
    egide_auditlog_t *audit;       /* borrowed from store */
    bool store_failed;             /* a store error in this batch: roll it back */
    bool audit_wrote;              /* this transaction appended to the audit log */
    bool store_new;                /* the store's file did not exist before this start */
    uint64_t last_checkpoint_size; /* tree size of the last checkpoint */
    int64_t last_checkpoint_ms;    /* monotonic time of it */
    char *checkpoint_path;         /* file keeping the last signed checkpoint, outside
                                    * the store (NULL: not kept) */
    char *checkpoint_pending;      /* signed in this transaction; written to
                                    * checkpoint_path after its commit */
    /* transport (opaque libzmq handles, used through egide_transport_*) */
    void *zctx, *router, *zap;
    broker_conn_t *conns; /* nodes seen, connected or not */
    bool redeliver_moved; /* a conn's redelivery cursor moved in this transaction */
    size_t n_conns, cap_conns;
    broker_out_t *out, **out_tail; /* frames waiting for the commit */
    /* api */
    egide_http_t *http;
    broker_store_t *api_store;   /* the API thread's own reader */
    egide_auditlog_t *api_audit; /* borrowed from api_store */
    char *api_token;             /* bearer token (NULL: none) */
    broker_metrics_t m;
    broker_counted_t counted;      /* this transaction's, not yet in m */
    int64_t (*clock)(void);        /* wall clock (NULL: egide_now_ms); tests inject one */
    volatile sig_atomic_t *stop;   /* set by SIGTERM/SIGINT */
    volatile sig_atomic_t *reload; /* set by SIGHUP */
} broker_t;

/* The broker's wall clock in ms (b->clock when a test set one). */
int64_t broker_now(const broker_t *b);

/* broker_init.c: start-up (every failure logged) and shutdown (also after
 * a failed init); broker_serve runs init, the loop and fini: the exit status. */
egide_rc broker_init(broker_t *b, egide_config_t *cfg);
void broker_fini(broker_t *b);
int broker_serve(egide_config_t *cfg);
/* `egide-broker -n` (broker_check.c): every file the configuration names
 * opened and checked; one line on stderr per problem; returns how many. */
int broker_check_config(egide_config_t *cfg);
/* Log that the file at path (for `what`) failed to load with rc, with the
 * fix for a mode too open; returns rc (EGIDE_OK: nothing logged). */
egide_rc broker_file_fail(const char *what, const char *path, egide_rc rc);

/* broker_dir.c: load (or reload) the trust store and the directory; on any
 * failure the old state stays. */
egide_rc broker_load_directory(broker_t *b);
/* On SIGHUP: the same, logging a refusal. */
egide_rc broker_reload_directory(broker_t *b);
/* Audit the directory held (its own transaction; no other open). */
egide_rc broker_audit_directory(broker_t *b);

/* broker_loop.c: run until *b->stop; returns the exit status. */
int broker_run(broker_t *b);

/* broker_zap.c: answer the waiting ZAP requests (at most max). */
void broker_zap_handle(broker_t *b, int max);
/* The store's wait hook (broker_store_set_wait; arg is the broker): waits
 * for the server's socket and meanwhile answers ZAP handshakes, so that a
 * slow database does not stop edges from connecting (an edge that cannot
 * complete a handshake in 3 s moves to the next broker).  Refused keys
 * are audited after the wait, by the next broker_zap_handle. */
void broker_store_wait(void *arg, int fd, bool write, int timeout_ms);
/* A refused CURVE key (its SHA-256) of node (NULL: unknown key) at now_ms:
 * counted; audited and logged only for the first refusal of that key in
 * b->refused_interval_ms.  Returns true when it appended an audit leaf. */
bool broker_zap_refused(broker_t *b, const uint8_t key_sha256[32], const char *node_id,
                        int64_t now_ms);

/* Log the total of refusals not logged one by one, when there are some and
 * the last such line is an interval old (also from the loop's timer, so
 * that the total of a burst that stopped is said). */
void broker_zap_summary(broker_t *b, int64_t now_ms);

/* broker_dir.c: whether the directory held is still valid at now_ms; when
 * not, log it loudly (at most once a minute) and count a refusal. */
bool broker_directory_valid(broker_t *b, int64_t now_ms);
/* Check the peers' certificates again against now_ms when the last check is
 * older than BROKER_PEERS_RECHECK_MS (or force): a certificate that expired
 * since the directory was loaded is refused from then on.  The old table
 * stays when the check fails. */
egide_rc broker_refresh_peers(broker_t *b, int64_t now_ms, bool force);

/* broker_init.c: at start, the store must hold everything the last signed
 * checkpoint (in b->checkpoint_path, else the store's own latest) covers:
 * a tree at least that large whose root at that size is the checkpoint's.
 * Otherwise it logs what is missing and returns EGIDE_ERR_CONSISTENCY: the
 * broker must not serve. */
egide_rc broker_check_store(broker_t *b);
/* After a commit: keep the checkpoint signed in it (b->checkpoint_pending)
 * in b->checkpoint_path (atomic write).  A failure is logged. */
void broker_keep_checkpoint(broker_t *b);

/* broker_submit.c / broker_relay.c / broker_hello.c: frame handlers. */
void broker_handle_submit(broker_t *b, const egide_transport_msg_t *m);
void broker_handle_receipt(broker_t *b, const egide_transport_msg_t *m);
void broker_handle_ack(broker_t *b, const egide_transport_msg_t *m);
void broker_handle_hello(broker_t *b, const egide_transport_msg_t *m);
/* Timers: send due deliveries and relays; expire deliveries; checkpoint. */
void broker_pump(broker_t *b);
void broker_expire(broker_t *b);
void broker_checkpoint(broker_t *b, bool force);
/* Queue (in this transaction) and send (after commit) a receipt to sender_id. */
void broker_queue_relay(broker_t *b, const char *sender_id, const char *issuer,
                        const uint8_t *msg_id, const uint8_t *rcpt, size_t len);
/* The directory to one node, or to every connected node (node_id NULL). */
void broker_send_directory(broker_t *b, const char *node_id);
/* Redelivery delay after attempts sends (exponential, capped). */
int64_t broker_backoff(const broker_t *b, int attempts);

/* broker_out.c */
broker_conn_t *broker_conn(broker_t *b, const char *node_id, bool create);
void broker_conn_seen(broker_t *b, const egide_transport_msg_t *m);
/* Every node as not connected and not yet said Hello (a passive broker
 * taking over: the nodes it refused meanwhile say Hello again). */
void broker_conns_forget(broker_t *b);
/* Queue packed frame bytes for node_id (takes ownership of *data, NULLs it);
 * a failed build (rc != EGIDE_OK) is logged and dropped. */
void broker_out_push(broker_t *b, const char *node_id, egide_rc rc, uint8_t **data, size_t len);
void broker_out_discard(broker_t *b);
/* Send the queue to connected nodes, then empty it. */
void broker_flush(broker_t *b);
/* Commit the transaction and flush; when it fails or the batch met a store
 * error, roll back and discard instead.  EGIDE_OK only when committed. */
egide_rc broker_commit(broker_t *b);
/* [store] lease_seconds > 0 (PostgreSQL): try to take the store's write
 * lease once, before anything is written: m.role is BROKER_ACTIVE when
 * taken (or with no lease), else BROKER_PASSIVE (broker_run tries again).
 * EGIDE_ERR_CONFIG when the backend has no lease. */
egide_rc broker_lease_take(broker_t *b);
/* Become the active broker (at start with the lease, or at a takeover): the
 * store against the last signed checkpoint (broker_check_store), with a
 * lease every leaf hashed again (broker_verify_log), then the directory
 * audited.  On failure b->refuse_why says why and nothing was signed. */
egide_rc broker_become_active(broker_t *b);
/* Recompute every stored hash and every stored checkpoint's root from the
 * stored leaves (egide_auditlog_verify_all: reads all of them, O(n)).
 * EGIDE_ERR_CONSISTENCY when they disagree (b->refuse_why set). */
egide_rc broker_verify_log(broker_t *b);
/* Note a store error in this batch (logged once here). */
void broker_store_failed(broker_t *b, egide_rc rc, const char *what);
/* Append an audit event (version and time filled in); *leaf its index.
 * A failure is a store failure of the batch. */
egide_rc broker_audit(broker_t *b, Egide__V1__AuditEvent *ev, uint64_t *leaf);
/* Sign a broker receipt; *out is the caller's.  leaf < 0: none. */
egide_rc broker_receipt(broker_t *b, int kind, const uint8_t *msg_id, const uint8_t *sha,
                        const char *sender_id, const char *recipient_id, int reason,
                        const char *detail, int64_t leaf, uint8_t **out, size_t *len);
/* Append ev, then sign a receipt citing its leaf (*leaf, if not NULL);
 * *out is the caller's.  A failure of either refuses the batch. */
egide_rc broker_audit_receipt(broker_t *b, Egide__V1__AuditEvent *ev, int kind,
                              const uint8_t *msg_id, const uint8_t *sha, const char *sender_id,
                              const char *recipient_id, int reason, const char *detail,
                              uint8_t **out, size_t *len, uint64_t *leaf);
void broker_send_receipt(broker_t *b, const char *node_id, uint64_t corr, uint64_t relay_id,
                         const uint8_t *receipt, size_t len);
void broker_send_error(broker_t *b, const char *node_id, uint64_t corr, int code,
                       const char *detail);
void broker_send_deliver(broker_t *b, const char *node_id, const uint8_t *env, size_t len);
void broker_send_welcome(broker_t *b, const char *node_id, uint64_t corr, uint64_t last_seq);

/* broker_api.c */
egide_rc broker_api_start(broker_t *b);
void broker_api_stop(broker_t *b);

#endif
