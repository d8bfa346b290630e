/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge.h - egide-edge internals.  An edge holds one node's keys, seals what
 * its local users submit, keeps a durable outbox (resent with backoff until
 * the broker's ACCEPTED), opens and stores what arrives (answering with a
 * signed DELIVERED or REJECTED receipt), tracks per-recipient states and
 * legal deadlines, and serves the local REST API.
 *
 * Files, one job each: edge_main.c (main, start-up checks: edge_init and
 * edge_fini), edge_loop.c (poll loop, connection events, hello, directory,
 * the per-batch transaction), edge_outbox.c (submitting, resending, receipts
 * for what we sent, per-recipient states, expiry), edge_inbox.c (a Deliver:
 * open, store, sign DELIVERED or REJECTED), edge_witness.c (the broker's
 * audit checkpoints), edge_out.c (frames held until the commit), edge_api.c
 * (HTTP routes), edge_store*.{h,c} (all state, behind edge_store_ops_t).
 *
 * Threads: the loop thread owns the DEALER socket and its store handle
 * (store); the API's HTTP workers ([api] threads, egide_http.h) write on
 * their own handle (api_store, one request at a time under api_lock) and
 * read each on a read-only handle of its own (api_readers[worker]), so
 * that reads never wait for a write or for one another.  The directory and the peer table are
 * swapped by the loop on a DirectorySync, under dir_lock; the API takes the
 * lock while it resolves and seals.  The API wakes the loop through a pipe
 * when it has queued something.
 *
 * Store errors are transient everywhere: a handler that meets one returns
 * it, the loop rolls the batch back and sends nothing of it (no receipt, no
 * ack), and the broker delivers or relays again later.  No store error is
 * ever answered with a REJECTED receipt, and none stops the daemon.
 */
#ifndef EGIDE_EDGE_H
#define EGIDE_EDGE_H

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <openssl/evp.h>

#include "egide/base/egide_config.h"
#include "egide/domain/egide_deadline.h"
#include "egide/directory/egide_directory.h"
#include "egide/net/egide_http.h"
#include "egide/base/egide_limits.h"
#include "egide/directory/egide_peers.h"
#include "egide/crypto/egide_pki.h"
#include "egide/net/egide_transport.h"

#include "edge_oblig.h"
#include "edge_accounts.h"
#include "edge_store.h"

extern const egide_config_key_t edge_config_schema[];

typedef struct edge_metrics {
    _Atomic uint64_t submitted, accepted, rejected, delivered_out, rejected_out;
    _Atomic uint64_t received, received_rejected, retries, acks_sent;
    _Atomic uint64_t sender_unknown_deferred; /* deliveries left for a newer directory */
    _Atomic uint64_t rejected_by_reason[32];
    _Atomic uint64_t checkpoint_alerts;
    _Atomic uint64_t latency_bucket[12]; /* submit -> all DELIVERED, see edge_api.c bounds */
    _Atomic uint64_t latency_count, latency_sum_ms;
    _Atomic uint64_t clock_ahead; /* envelopes created ahead of our clock (> EDGE_CLOCK_NOTE_MS) */
    _Atomic uint64_t clock_expired; /* delivered although past expiry by our clock */
    _Atomic uint64_t reseq_stalls;  /* REPLAYs past EDGE_RESEQ_MAX kept queued for a Welcome */
    _Atomic uint64_t seq_lowered;   /* counters set back after a jump the broker refuses */
    _Atomic uint64_t cert_refusals; /* CERT_INVALID for the current certificate, kept queued */
    _Atomic uint64_t resealed;      /* queued messages sealed again for renewed recipient keys */
    _Atomic uint64_t api_batches, api_batched; /* the API's submission batches, their jobs */
} edge_metrics_t;

/* How far a sender's signed created time may be ahead of our clock before
 * it is noted as a disagreement (network delay only ever makes it look
 * older, so an envelope from the future says one of the two clocks is
 * wrong), and how long the largest offset seen is remembered. */
#define EDGE_CLOCK_NOTE_MS   30000
#define EDGE_CLOCK_WINDOW_MS (60 * 60 * 1000)

/* What this node's clock disagrees with, under dir_lock.  Invariant:
 * offset_ms > 0 exactly when a disagreement was seen (at seen_ms, by our
 * clock) from sender; it is the largest one seen within
 * EDGE_CLOCK_WINDOW_MS of seen_ms.  Only ever noted: a recipient never
 * refuses a referral because of its own clock (edge_inbox.c). */
typedef struct edge_clock {
    int64_t offset_ms;                  /* sender's created time - our clock, > 0 */
    int64_t seen_ms;                    /* our clock when it was seen */
    char sender[EGIDE_MAX_NODE_ID + 1]; /* who it was seen from */
} edge_clock_t;

typedef struct edge {
    egide_config_t *cfg;
    const egide_config_key_t *cfg_schema; /* cfg's schema, for a reload (NULL: none) */
    char node_id[EGIDE_MAX_NODE_ID + 1];
    char role[32];
    int64_t ttl_ms;
    int retry_min_ms, retry_max_ms;
    int64_t clock_skew_ms;
    int64_t (*now_ms)(void); /* this node's clock; NULL = egide_now_ms (tests inject one) */
    edge_clock_t clock;      /* disagreements with senders' clocks, under dir_lock */
    bool group_commit;
    /* keys and trust */
    EVP_PKEY *sign_key, *enc_key; /* held by keyd (public part only here) unless inline */
    struct egide_keyd *keyd;      /* the key holder; NULL with [keys] holder = inline */
    uint8_t sign_fpr[32];
    int64_t sign_not_after_ms; /* end of the signing certificate's validity (Unix ms) */
    X509 *anchor;
    egide_trust_t *trust;
    char curve_public[41], curve_secret[41];
    char broker_endpoint[256], broker_public[41]; /* the broker in use (written under dir_lock) */
    /* The department's brokers (one active): the directory's list, or the
     * one of [edge] broker_endpoint (an override: no moving).  Loop thread. */
    bool broker_pinned;      /* [edge] broker_endpoint set: never move */
    size_t broker_i;         /* index in the directory's list of the one in use */
    int broker_fails;        /* moves since the last Welcome: the backoff */
    int64_t broker_since_ms; /* monotonic: connecting (or disconnected) since */
    bool broker_passive;     /* the one in use answered REASON_BROKER_PASSIVE */
    unsigned monitor_gen;    /* the monitor's inproc name changes with the socket */
    char broker_id[EGIDE_MAX_NODE_ID + 1];
    pthread_mutex_t dir_lock; /* guards dir, peers and clock */
    egide_directory_t *dir;
    egide_peers_t *peers;
    egide_deadline_profile_t *profile;       /* swapped by a reload: read with edge_profile() */
    egide_deadline_profile_t **old_profiles; /* replaced by reloads, freed at fini */
    size_t n_old_profiles;
    uint8_t *kc_key; /* [known_child] key_file (CRIP only), wiped at fini; NULL = detection off */
    size_t kc_key_len;
    /* store */
    char *db_path;
    edge_store_t *store; /* loop thread */
    /* Taken around every write transaction of store and api_store
     * (edge_store_sqlite_share_writes): writers wait on it, not in
     * SQLite's busy handler. */
    pthread_mutex_t write_lock;
    /* transport */
    void *zctx, *dealer, *monitor;
    atomic_bool connected;
    atomic_bool refused; /* the broker refused our key at the handshake */
    int wake[2];         /* API -> loop */
    uint64_t corr;
    /* api */
    egide_http_t *http;
    edge_store_t *api_store;  /* the API's writes (and reads without readers) */
    pthread_mutex_t api_lock; /* one request at a time on api_store */
    /* The API's submissions waiting for their batch (edge_api_batch.c). */
    pthread_mutex_t batch_lock;
    pthread_cond_t batch_cond;
    struct edge_api_job *batch_head, *batch_tail;
    bool batch_writer;          /* a request is writing a batch */
    edge_store_t **api_readers; /* read-only handle per HTTP worker, or NULL (tests) */
    unsigned n_api_readers;     /* entries of api_readers */
    char *api_token;
    edge_auth_policy_t auth; /* sessions and lockout of personal accounts ([web]) */
    bool cookie_secure;      /* session cookie marked Secure (TLS in front) */
    edge_metrics_t m;
    /* Re-signing after REPLAY (loop thread; edge_outbox.c, edge_loop.c):
     * Welcomes handled, their count at the last REPLAY handled, and a Hello
     * asked for (sent by the loop, at most every EDGE_HELLO_AGAIN_MS) when
     * a message is past EDGE_RESEQ_MAX with no Welcome since. */
    uint64_t welcomes, welcomes_at_replay;
    bool hello_wanted;
    /* A Hello was sent and no Welcome came since: sent again at most every
     * EDGE_HELLO_AGAIN_MS while connected (a Hello can be lost: a broker
     * that was passive when it came, a batch of the broker's rolled back;
     * until a Welcome the broker may not deliver to this node). */
    bool welcome_due;
    bool welcome_in_batch;  /* a Welcome in the batch being handled */
    int64_t hello_again_ms; /* wait before the next repeated Hello */
    /* A sender unknown to this node's directory (edge_inbox.c): the broker
     * admitted it, so this directory may be behind; its messages are left
     * undelivered (the broker delivers again) and a Hello brings the newer
     * directory, for this long after the first attempt, before a REJECTED
     * UNKNOWN_SENDER is signed.  [edge] unknown_sender_grace_s. */
    int64_t unknown_sender_grace_ms;
    int64_t hello_asked_ms;    /* monotonic */
    atomic_bool reseq_stalled; /* a message waits for a Welcome (health) */
    atomic_bool cert_refused;  /* the broker refused the current certificate (health) */
    volatile sig_atomic_t *stop;
    volatile sig_atomic_t *reload; /* SIGHUP asked for edge_reload (NULL: never) */
} edge_t;

/* This node's clock (e->now_ms, else the system's), in ms since the epoch. */
int64_t edge_now_ms(const edge_t *e);
/* Note that a sender's signed time is offset_ms ahead of our clock (kept
 * when it is the largest within the window; ignored unless offset_ms >
 * EDGE_CLOCK_NOTE_MS). */
void edge_clock_note(edge_t *e, const char *sender_id, int64_t offset_ms);
/* The disagreement to report now: *out zeroed when none within the window. */
void edge_clock_get(edge_t *e, edge_clock_t *out);

/* ---- edge_main.c ---- */
/* Load keys, trust, store and directory, open the transport and the API.
 * On failure the caller still calls edge_fini. */
egide_rc edge_init(edge_t *e, egide_config_t *cfg);
/* SIGHUP (edge_reload.c): read the configuration file again (one that does
 * not load changes nothing), apply its log level, and read the API token
 * file and the deadline profile it names and use them from now on; a file
 * that fails to load is logged and the one in use kept.  Other keys that
 * changed are named as applying at the next restart.  Runs on the loop's
 * thread. */
void edge_reload(edge_t *e);
/* The deadline profile in use (NULL: none); a reload replaces it, the
 * replaced one stays valid until edge_fini. */
static inline egide_deadline_profile_t *edge_profile(const edge_t *e)
{
    return __atomic_load_n(&e->profile, __ATOMIC_ACQUIRE);
}
/* `egide-edge -n` (edge_check.c): every file the configuration names opened
 * and checked; one line on stderr per problem; returns how many. */
int edge_check_config(egide_config_t *cfg);
/* Release everything edge_init made; safe on a half-initialised edge. */
void edge_fini(edge_t *e);

/* ---- edge_out.c: frames held until the batch commits ---- */
#define EDGE_OUT_MAX 512 /* frames per batch; beyond, the peer retries */
typedef struct edge_out {
    uint8_t *data[EDGE_OUT_MAX]; /* packed frames, owned */
    size_t len[EDGE_OUT_MAX];
    size_t n;
    uint64_t acks[EDGE_OUT_MAX]; /* relay ids to acknowledge in one Ack frame */
    size_t n_acks;
} edge_out_t;
/* Queue a Receipt frame carrying rcpt (copied).  EGIDE_ERR_LIMIT when full
 * (nothing queued: the broker redelivers), else egide_frame_receipt's. */
egide_rc edge_out_receipt(edge_out_t *o, const uint8_t *rcpt, size_t len);
/* Note a relay id to acknowledge (dropped when full: the broker relays
 * again and the receipt is stored once). */
void edge_out_ack(edge_out_t *o, uint64_t relay_id);
/* After the COMMIT (send = true): send the frames and one Ack frame, then
 * empty o; after a rollback (send = false): only empty it. */
void edge_out_flush(edge_t *e, edge_out_t *o, bool send);
/* Move the i-th queued frame to the caller (*frame to free); NULL when
 * there is none. */
void edge_out_take(edge_out_t *o, size_t i, uint8_t **frame, size_t *len);

/* ---- edge_loop.c ---- */
/* Run until *e->stop: poll, handle frames in batches, resend, expire.
 * Returns the process exit status. */
int edge_run(edge_t *e);
/* Check and adopt a signed directory newer than the one held (same version:
 * no-op).  persist: also keep it in the store (a store error is returned
 * after the directory was adopted in memory). */
egide_rc edge_adopt_directory(edge_t *e, const uint8_t *signed_bytes, size_t len, bool persist);

/* ---- edge_api_batch.c ---- */
/* A request's writes, run by whichever request writes the batch, in one
 * transaction on e->api_store (api_lock held) shared with the batch's
 * other jobs; *trail is the trail on that store (NULL until a job's
 * entry opens it: edge_trail_note_in).
 * Anything but EGIDE_OK undoes the job's writes alone. */
struct edge_trail;
typedef struct edge_api_job {
    egide_rc (*fn)(edge_t *e, struct edge_trail **trail, void *arg);
    void *arg;
    egide_rc rc; /* the job's result once done, EGIDE_OK = committed */
    bool done;
    struct edge_api_job *next;
} edge_api_job_t;
#define EDGE_API_BATCH_MAX 64
/* Queue job and return once its batch is committed or rolled back: its
 * rc (EGIDE_OK only when committed; a store error when its batch could
 * not be; the loop is woken for each committed job).  The caller must not
 * hold api_lock. */
egide_rc edge_api_batch_run(edge_t *e, edge_api_job_t *job);

/* ---- edge_outbox.c ---- */
/* Seal and queue a message from the API or loop thread, on store st (its
 * own transaction): recipients resolved from the peers (EGIDE_ERR_NOTFOUND
 * for one not in the directory, its status when not valid), then sealed,
 * queued (joined to its case, with the obligations it opens or closes
 * here), committed, and the loop woken.  msg_id gets the
 * new id.  Store errors come back as they are (nothing queued). */
egide_rc edge_submit(edge_t *e, edge_store_t *st, const char *type, const char *const *to,
                     size_t n_to, int urgency, const uint8_t *in_reply_to, const uint8_t *pb,
                     size_t pb_len, const egide_payload_facts_t *facts, uint8_t msg_id[16]);
/* The same within the caller's transaction on st (nothing committed, the
 * loop not woken: call edge_outbox_queued after the commit). */
egide_rc edge_submit_in(edge_t *e, edge_store_t *st, const char *type, const char *const *to,
                        size_t n_to, int urgency, const uint8_t *in_reply_to, const uint8_t *pb,
                        size_t pb_len, const egide_payload_facts_t *facts, uint8_t msg_id[16]);
/* After committing an edge_submit_in: count it and wake the loop. */
void edge_outbox_queued(edge_t *e);
/* What a message stored (sent = false) or queued (sent = true) here does
 * to this node's obligations (edge_oblig.h), on st in the caller's
 * transaction: the parties' roles come from the directory held (a node not
 * in it has no role), this node's from e->role.  Nothing without a profile
 * or a case.  Store errors are returned (transient). */
egide_rc edge_obligations_note(edge_t *e, edge_store_t *st, const uint8_t msg_id[16],
                               const char *type, bool sent, const char *sender_id,
                               const char *const *rcpt_ids, size_t n_rcpt, int64_t case_id,
                               int64_t time_ms, const egide_payload_facts_t *facts);
/* The broker's Welcome (within the batch): it holds sequence numbers up to
 * last_seq from this node, so the next one given is at least last_seq + 1
 * (never lower; a notice says so when the counter had to move: the edge
 * was restored from a backup or reinstalled).  A store error is returned;
 * an impossible last_seq is logged and ignored. */
egide_rc edge_outbox_welcome(edge_t *e, uint64_t last_seq);
/* How many times one queued message is re-signed under a fresh sequence
 * after the broker refused its sequence as a replay with no Welcome in
 * between.  Past it the message stays queued (never rejected for good for
 * a stale counter): a Hello asks for a fresh Welcome, and the next REPLAY
 * after a Welcome re-signs it again. */
#define EDGE_RESEQ_MAX 8
/* How many times one queued message is sealed again for recipient keys
 * renewed while it waited (the broker's UNKNOWN_RECIPIENT, "recipient key
 * is not the directory's"): each time needs a key in this node's directory
 * other than the one the envelope names, so a renewal or two; past it the
 * rejection stands. */
#define EDGE_RESEAL_MAX 4
/* How far past the broker's last number from this node the counter may be
 * before a Welcome sets it back (edge_outbox_welcome): half the jump the
 * broker refuses for good (BROKER_SEQ_MAX_JUMP, 2^48). */
#define EDGE_SEQ_FAR (UINT64_C(1) << 47)
/* The least time between two Hellos asked for by stalled re-signing. */
#define EDGE_HELLO_AGAIN_MS 5000
/* A Hello without a Welcome is said again after EDGE_HELLO_AGAIN_MS, then
 * twice as long each time, up to this. */
#define EDGE_HELLO_AGAIN_MAX_MS 60000
/* Send what is due (connected only), one transaction of attempts.  A
 * message never sent yet whose envelope names a recipient key this node's
 * directory has since renewed is sealed again first (from its kept content
 * key) and sent on the next pass; without a kept copy it is sent as is. */
void edge_outbox_send(edge_t *e);
/* Mark expired what passed its expiry (own transaction). */
void edge_outbox_expire(edge_t *e);
/* A Receipt frame from the broker (within the batch): verified against its
 * issuer, stored, applied to the outbox; the relay is acknowledged.  The
 * broker's REJECTED with REASON_REPLAY for a queued message (its sequence
 * was used already, by a message this edge forgot) re-signs it under a
 * fresh sequence and queues it again, at most EDGE_RESEQ_MAX times unless
 * a Welcome came since the last REPLAY; past that it stays queued and a
 * Hello is asked for (e->hello_wanted).  REASON_CERT_INVALID re-signs
 * under a renewed certificate or keeps it queued.  REASON_UNKNOWN_RECIPIENT
 * for a message whose content key was kept seals it again for the
 * recipients' current keys when this node's directory names another key
 * for one of them (at most EDGE_RESEAL_MAX times).  For every other reason
 * the rejection is for good.  A store error is returned (the batch rolls back,
 * no ack is sent). */
egide_rc edge_outbox_receipt(edge_t *e, const uint8_t *rcpt, size_t len, uint64_t relay_id,
                             edge_out_t *out);
/* A received message.acknowledgement answering one of ours: that recipient
 * acknowledged (no-op for other types).  Store errors are returned. */
egide_rc edge_outbox_note_ack(edge_t *e, const char *type, const uint8_t *in_reply_to,
                              size_t irt_len, const char *sender_id, int64_t created_ms);

/* ---- edge_inbox.c ---- */
/* Handle one delivered envelope within the caller's transaction: a
 * duplicate gets the receipt sent before; otherwise it is checked (recipient,
 * sender certificate, signature, time, decryption, payload), stored, and
 * answered with a signed DELIVERED receipt, or refused with a signed
 * REJECTED one (remembered), queued on out.  EGIDE_OK when handled (an
 * unparsable envelope is dropped, logged); a store error otherwise: nothing
 * was queued, the caller rolls back and the broker redelivers. */
egide_rc edge_inbox_deliver(edge_t *e, const uint8_t *env, size_t len, edge_out_t *out);
/* The same as one step with its own transaction, for tests and tools:
 * *frame gets the packed frame to send (a Receipt; the caller's), or NULL
 * when there is nothing to send.  A store error (the begin, a write, the
 * commit) is returned with *frame NULL and everything rolled back. */
egide_rc edge_inbox_step(edge_t *e, const uint8_t *env, size_t len, uint8_t **frame,
                         size_t *frame_len);

/* ---- edge_known_child.c ---- */
/* At start-up: read [known_child] key_file when the node is a CRIP (a
 * notice when it is a CRIP without one; a warning and nothing read when it
 * is not a CRIP).  The file's errors (mode, size) are returned. */
egide_rc edge_known_child_init(edge_t *e);
/* Read the key from path (0600, EGIDE_PSEUDO_MIN_KEY.. bytes, else
 * EGIDE_ERR_INVALID), replacing any held: for edge_known_child_init and
 * tests. */
egide_rc edge_known_child_set_key(edge_t *e, const char *path);
/* Wipe and forget the key (detection off).  Safe when none is held. */
void edge_known_child_fini(edge_t *e);
/* A referral just stored on st (inside its transaction): key its children
 * and store the keys (CRIP with a key only; other types and nodes: no-op).
 * A child that cannot be keyed is stored as not comparable.  Store and
 * resource errors are returned: the caller rolls the receipt back. */
egide_rc edge_known_child_note(edge_t *e, edge_store_t *st, const char *type,
                               const uint8_t msg_id[16], int64_t received_ms,
                               const uint8_t *payload, size_t len);
/* Add "known_child" to out (a json_t * object) for received message m:
 * detection on/off/not_computed and, per child, "new" / "known" /
 * "not_comparable" with the earlier related messages (ids, child indexes,
 * received times; never names or keys).  No-op for other types and
 * nodes.  Store errors are returned (out unchanged). */
egide_rc edge_known_child_view(edge_t *e, edge_store_t *st, const edge_inbox_row_t *m, void *out);

/* ---- edge_export.c ---- */
/* GET /v1/export/olinpe?year=N[&after=CURSOR][&limit=K] (the CRIP only):
 * one page of the received measure messages for `egide export olinpe`
 * (see edge_export.c).  Called by edge_api_handle, authenticated. */
void edge_export_olinpe(edge_t *e, const egide_http_req_t *req, egide_http_resp_t *resp);

/* ---- edge_witness.c ---- */
/* A Checkpoint frame: verified against the one held (signature, consistency)
 * and kept, or an alert raised and kept.  Store errors are returned. */
egide_rc edge_witness_checkpoint(edge_t *e, const uint8_t *note, size_t note_len,
                                 const ProtobufCBinaryData *proof, size_t n_proof);
/* Tree size of the checkpoint held (0 = none), for the hello. */
uint64_t edge_witness_size(edge_t *e);

/* ---- edge_api.c ---- */
/* Open the API's store handle and start the HTTP server. */
egide_rc edge_api_start(edge_t *e);
void edge_api_stop(edge_t *e);
/* Answer one request (authenticated already) on e->api_store: the routes
 * above as a pure function of the request, for the server and for tests
 * (tests/unit/test_edge_api.c).  resp as egide_http fills it. */
void edge_api_handle(edge_t *e, const egide_http_req_t *req, egide_http_resp_t *resp);
/* The store handle for the reads of one request: the read-only handle of
 * the worker running it (egide_http_worker()) in a read snapshot, else api_store
 * under api_lock (threads = 1, tests).  *st is always set; call
 * edge_api_reader_end(e, *st) after, whatever was returned (a store error
 * starting the snapshot). */
egide_rc edge_api_reader(edge_t *e, const egide_http_req_t *req, edge_store_t **st);
void edge_api_reader_end(edge_t *e, edge_store_t *st);

/* A confidential sender (edge_confidential.c): split rcpt[0..n) into the
 * CRIP recipients (crip, *n_crip) and the others (others; the count is
 * returned), by their directory role.  Both arrays hold n entries. */
size_t edge_conf_split(edge_t *e, const char *const *rcpt, size_t n, const char **crip,
                       size_t *n_crip, const char **others);
/* A copy of payload without the sender's identifying fields (the
 * caller's; NULL when out of memory); *removed lists the fields removed
 * ("sender.name", ...), the caller's. */
json_t *edge_conf_redact(json_t *payload, json_t **removed);
/* A store error as the API answers it: 503, transient, retry. */
void edge_api_store_error(egide_http_resp_t *resp, egide_rc rc);
/* The JSON of one message / its receipts / one obligation as the API shows
 * them (new references; NULL on a store error or out of memory). */
json_t *edge_api_outbox_json(edge_store_t *st, const edge_outbox_row_t *m, const char *node_id);
json_t *edge_api_inbox_json(const edge_inbox_row_t *m);
json_t *edge_api_receipts_json(edge_store_t *st, const uint8_t id[16]);
json_t *edge_api_obligation_json(const edge_obligation_t *o, int64_t now_ms);

/* ---- edge_api_cases.c ---- */
/* GET /v1/cases, GET /v1/cases/{id}, GET /v1/search (docs/edge-api.md):
 * answers resp and returns true for those paths, false for any other. */
bool edge_api_cases_handle(edge_t *e, const egide_http_req_t *req, egide_http_resp_t *resp);

/* ---- edge_api_queue.c ---- */
/* GET /v1/queue (the inbox with triage facts) and GET /v1/route?commune=
 * (docs/edge-api.md): answers resp and returns true for those paths. */
bool edge_api_queue_handle(edge_t *e, const egide_http_req_t *req, egide_http_resp_t *resp);

#endif
