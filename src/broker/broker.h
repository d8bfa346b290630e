/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * broker.h - egide-broker internals: configuration, state, the store, the
 * message loop and the HTTP API.  main() (broker_main.c) only parses the
 * command line, loads the configuration and runs broker_run().
 *
 * Invariants:
 * - A receipt or delivery leaves only after the COMMIT covering it: handlers
 *   append outgoing frames to b->out, which is flushed after each commit.
 * - The peer's identity is the ZAP User-Id of its connection (a node id the
 *   ZAP handler found for its CURVE key in the directory), never a routing id
 *   or a field the peer chose.
 * - The broker never holds a content key: it sees headers only.
 */
#ifndef EGIDE_BROKER_H
#define EGIDE_BROKER_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sqlite3.h>
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
} broker_metrics_t;

typedef struct broker {
    /* configuration */
    egide_config_t *cfg;
    char node_id[EGIDE_MAX_NODE_ID + 1];
    char origin[128]; /* audit log origin / checkpoint key name */
    bool group_commit;
    int batch_max; /* frames per commit with group commit */
    int64_t clock_skew_ms;
    uint64_t seq_window;
    int retry_min_ms, retry_max_ms;
    uint64_t checkpoint_entries;
    int64_t checkpoint_ms;
    /* keys and trust */
    EVP_PKEY *sign_key;
    uint8_t sign_fpr[32];
    X509 *anchor; /* directory authority, pinned */
    egide_trust_t *pki;
    egide_directory_t *dir;
    egide_peers_t *peers;
    char *directory_path;
    /* store */
    sqlite3 *db;
    egide_auditlog_t *audit;
    uint64_t last_checkpoint_size;
    int64_t last_checkpoint_ms;
    /* transport */
    void *zctx, *router, *zap;
    broker_conn_t *conns;
    size_t n_conns, cap_conns;
    broker_out_t *out, **out_tail;
    /* api */
    egide_http_t *http;
    sqlite3 *api_db; /* the API thread's own connection */
    egide_auditlog_t *api_audit;
    char *api_token;
    broker_metrics_t m;
    volatile sig_atomic_t *stop;
    volatile sig_atomic_t *reload;
} broker_t;

/* broker_main.c / broker_core.c */
egide_rc broker_init(broker_t *b, egide_config_t *cfg);
int broker_run(broker_t *b);
egide_rc broker_reload_directory(broker_t *b);
void broker_fini(broker_t *b);

/* broker_store.c */
egide_rc broker_store_open(broker_t *b, const char *path);
/* broker_api.c */
egide_rc broker_api_start(broker_t *b);
void broker_api_stop(broker_t *b);

#endif
