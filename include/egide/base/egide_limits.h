/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_limits.h - every size limit and default of Égide, in one place.
 *
 * Peers, files and the API are checked against these before anything is
 * allocated.  Daemon configurations may lower (never raise above the hard
 * maximums) the values marked "default".
 */
#ifndef EGIDE_LIMITS_H
#define EGIDE_LIMITS_H

#define EGIDE_VERSION_STRING "0.1.0"
#define EGIDE_WIRE_VERSION   1

/* Hard maximums on the wire. */
#define EGIDE_MAX_FRAME       (24u * 1024u * 1024u) /* one ZeroMQ frame */
#define EGIDE_MAX_ENVELOPE    (20u * 1024u * 1024u) /* one SignedEnvelope */
#define EGIDE_MAX_HEADER      (64u * 1024u)         /* one EnvelopeHeader */
#define EGIDE_MAX_PAYLOAD     (16u * 1024u * 1024u) /* plaintext payload */
#define EGIDE_MAX_RECIPIENTS  32u
#define EGIDE_MAX_NODE_ID     64u                  /* bytes of a node id */
#define EGIDE_MAX_TYPE_NAME   64u                  /* bytes of a message type */
#define EGIDE_MAX_DIRECTORY   (8u * 1024u * 1024u) /* one SignedDirectory */
#define EGIDE_MAX_RECEIPT     (16u * 1024u)
#define EGIDE_MAX_AUDIT_EVENT (8u * 1024u)
#define EGIDE_MAX_CONFIG_FILE (1024u * 1024u)
#define EGIDE_MAX_CERT_FILE   (64u * 1024u)
#define EGIDE_MAX_JSON_BODY   (24u * 1024u * 1024u) /* REST API request body */

/* One page of GET /v1/messages (the edge API) and of `egide inbox|outbox
 * --limit`: the same bound on both sides. */
#define EGIDE_LIST_PAGE_MAX 10000

/* Crypto sizes (suite 1). */
#define EGIDE_MSG_ID_LEN        16u
#define EGIDE_SHA256_LEN        32u
#define EGIDE_ED25519_SIG_LEN   64u
#define EGIDE_ED25519_PUB_LEN   32u
#define EGIDE_X25519_LEN        32u
#define EGIDE_CEK_LEN           32u
#define EGIDE_GCM_NONCE_LEN     12u
#define EGIDE_GCM_TAG_LEN       16u
#define EGIDE_CURVE_KEY_Z85_LEN 40u

/* Defaults (configurable). */
#define EGIDE_DEFAULT_BROKER_ENDPOINT    "tcp://127.0.0.1:7710"
#define EGIDE_DEFAULT_API_BIND           "127.0.0.1"
#define EGIDE_DEFAULT_EDGE_API_PORT      7720
#define EGIDE_DEFAULT_BROKER_API_PORT    7711
#define EGIDE_DEFAULT_HEARTBEAT_MS       5000
#define EGIDE_DEFAULT_RETRY_MIN_MS       500
#define EGIDE_DEFAULT_RETRY_MAX_MS       60000
#define EGIDE_DEFAULT_CLOCK_SKEW_MS      (5 * 60 * 1000)
#define EGIDE_DEFAULT_MESSAGE_TTL_MS     (30LL * 24 * 3600 * 1000)
#define EGIDE_DEFAULT_LINGER_MS          1000
#define EGIDE_DEFAULT_SEQ_WINDOW         4096u
#define EGIDE_DEFAULT_CHECKPOINT_ENTRIES 256u
#define EGIDE_DEFAULT_CHECKPOINT_SECONDS 10u

/* The signed directory (egide_directory.h): bounds checked before indexing. */
#define EGIDE_DIRECTORY_MAX_NODES        4096u
#define EGIDE_DIRECTORY_MAX_ROUTES       8192u
#define EGIDE_DIRECTORY_MAX_RULES        1024u
#define EGIDE_DIRECTORY_MAX_BROKERS      8u
#define EGIDE_DIRECTORY_MAX_POSTAL_CODES 16u  /* per commune */
#define EGIDE_DIRECTORY_MAX_NAME         200u /* bytes of a display or commune name */
#define EGIDE_DIRECTORY_MAX_ENDPOINT     256u /* bytes of a ZeroMQ endpoint */

/* The key holder (egide_keyd.h): its requests and how often it may die. */
#define EGIDE_KEYD_MAX_MSG           (256u * 1024u) /* bytes signed in one request */
#define EGIDE_KEYD_MAX_LABEL         64u            /* bytes of a signature label */
#define EGIDE_KEYD_TIMEOUT_MS        10000          /* one answer, else it is killed */
#define EGIDE_KEYD_RESPAWN_MAX       8              /* restarts per window... */
#define EGIDE_KEYD_RESPAWN_WINDOW_MS 60000          /* ...after which calls fail fast */

#endif
