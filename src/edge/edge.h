/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge.h - egide-edge internals.  An edge holds one node's keys, seals what
 * its local users submit, keeps a durable outbox (resent with backoff until
 * the broker's ACCEPTED), opens and stores what arrives (answering with a
 * signed DELIVERED or REJECTED receipt), tracks per-recipient states and
 * legal deadlines, and serves the local REST API.
 *
 * Threads: the loop thread owns the DEALER socket and its SQLite connection;
 * the API (libmicrohttpd's thread) has its own connection.  The directory and
 * the peer table are swapped by the loop on a DirectorySync, under dir_lock;
 * the API takes the lock while it resolves and seals.  The API wakes the loop
 * through a pipe when it has queued something.
 */
#ifndef EGIDE_EDGE_H
#define EGIDE_EDGE_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sqlite3.h>
#include <openssl/evp.h>

#include "egide/base/egide_config.h"
#include "egide/domain/egide_deadline.h"
#include "egide/directory/egide_directory.h"
#include "egide/net/egide_http.h"
#include "egide/base/egide_limits.h"
#include "egide/directory/egide_peers.h"
#include "egide/crypto/egide_pki.h"
#include "egide/net/egide_transport.h"

extern const egide_config_key_t edge_config_schema[];

/* Outbox message states and per-recipient states (stored as integers). */
enum { OUT_QUEUED = 0, OUT_ACCEPTED = 1, OUT_REJECTED = 2, OUT_EXPIRED = 3 };
enum {
    RCPT_PENDING = 0,
    RCPT_DELIVERED = 1,
    RCPT_REJECTED = 2,
    RCPT_ACKNOWLEDGED = 3,
    RCPT_EXPIRED = 4
};
enum { IN_DELIVERED = 1, IN_ACKNOWLEDGED = 3 };

typedef struct edge_metrics {
    _Atomic uint64_t submitted, accepted, rejected, delivered_out, rejected_out;
    _Atomic uint64_t received, received_rejected, retries, acks_sent;
    _Atomic uint64_t rejected_by_reason[32];
    _Atomic uint64_t checkpoint_alerts;
    _Atomic uint64_t latency_bucket[12]; /* submit -> all DELIVERED, see edge_api.c bounds */
    _Atomic uint64_t latency_count, latency_sum_ms;
} edge_metrics_t;

typedef struct edge {
    egide_config_t *cfg;
    char node_id[EGIDE_MAX_NODE_ID + 1];
    char role[32];
    int64_t ttl_ms;
    int retry_min_ms, retry_max_ms;
    int64_t clock_skew_ms;
    bool group_commit;
    /* keys and trust */
    EVP_PKEY *sign_key, *enc_key;
    uint8_t sign_fpr[32];
    X509 *anchor;
    egide_trust_t *trust;
    char curve_public[41], curve_secret[41];
    char broker_endpoint[256], broker_public[41];
    char broker_id[EGIDE_MAX_NODE_ID + 1];
    pthread_mutex_t dir_lock; /* guards dir and peers */
    egide_directory_t *dir;
    egide_peers_t *peers;
    egide_deadline_profile_t *profile;
    /* store */
    char *db_path;
    sqlite3 *db; /* loop thread */
    /* transport */
    void *zctx, *dealer, *monitor;
    atomic_bool connected;
    atomic_bool refused; /* the broker refused our key at the handshake */
    int wake[2];         /* API -> loop */
    uint64_t corr;
    /* api */
    egide_http_t *http;
    sqlite3 *api_db;
    pthread_mutex_t api_lock; /* one request at a time on api_db */
    char *api_token;
    edge_metrics_t m;
    volatile sig_atomic_t *stop;
} edge_t;

/* edge_main.c */
egide_rc edge_init(edge_t *e, egide_config_t *cfg);
void edge_fini(edge_t *e);
/* edge_core.c */
int edge_run(edge_t *e);
egide_rc edge_adopt_directory(edge_t *e, const uint8_t *signed_bytes, size_t len, bool persist);
/* edge_store.c */
egide_rc edge_store_open(const char *path, sqlite3 **db);
egide_rc edge_store_next_seq(sqlite3 *db, uint64_t *seq);
egide_rc edge_store_meta_get(sqlite3 *db, const char *key, uint8_t **val, size_t *len);
egide_rc edge_store_meta_put(sqlite3 *db, const char *key, const void *val, size_t len);
/* Queue a sealed envelope (within the caller's transaction). */
egide_rc edge_store_outbox_add(sqlite3 *db, const Egide__V1__EnvelopeHeader *h, const uint8_t *env,
                               size_t len, const uint8_t sha[32]);
/* Record deadlines started by a message (within the caller's transaction). */
void edge_store_deadlines(edge_t *e, sqlite3 *db, const char *type, const uint8_t msg_id[16],
                          int64_t time_ms, const egide_payload_facts_t *facts);
/* edge_api.c */
egide_rc edge_api_start(edge_t *e);
void edge_api_stop(edge_t *e);
/* Seal and queue an acknowledgement / reply from the API or loop thread. */
egide_rc edge_submit(edge_t *e, sqlite3 *db, const char *type, const char *const *to, size_t n_to,
                     int urgency, const uint8_t *in_reply_to, const uint8_t *pb, size_t pb_len,
                     const egide_payload_facts_t *facts, uint8_t msg_id[16]);

#endif
