/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * broker_admit.h - admission of a submitted envelope as one pure step: the
 * parsed inputs in (authenticated node, the envelope bytes, the directory and
 * its verified peers, the store for lookups, the time), a decision out.  No
 * SQL, no socket, no signing: the caller (broker_submit.c) stores, signs and
 * answers.  tests/unit/test_broker_admit.c has one row per reason code.
 *
 * Order of the checks (the first that fails decides):
 *   1. the bytes parse as an envelope       MALFORMED: REASON_MALFORMED / _OVERSIZE
 *   2. header sender = authenticated node   REJECT: SENDER_MISMATCH (not remembered)
 *   3. msg_id already accepted              same hash: DUPLICATE (stored ACCEPTED)
 *                                           other hash: REJECT DUPLICATE_CONFLICT
 *      (msg_id, hash) already rejected      DUPLICATE (the stored REJECTED)
 *   4. sender in the directory              REJECT: UNKNOWN_SENDER
 *   5. sender's certificates valid          REJECT: CERT_REVOKED / CERT_INVALID
 *   6. header names that certificate        REJECT: CERT_INVALID
 *   7. signature                            REJECT: BAD_SIGNATURE (not remembered)
 *   8. not expired, and a lifetime (expires_ms - created_ms) no longer
 *      than max_lifetime_ms                 REJECT: EXPIRED
 *   9. created_ms not in the future beyond
 *      the clock skew (the sender's clock)  REJECT: CLOCK_SKEW
 *      A created_ms in the past is not skew: a referral queued during an
 *      outage, or by a sender that was offline, is retried long after it was
 *      created and must be accepted while it has not expired.  Replays are
 *      caught by msg_id (3) and the sequence rules (12), not by its age.
 *  10. directory rules (type, recipients)   REJECT: egide_directory_check_send's reason
 *  11. each recipient's certificates valid and the key the envelope was
 *      sealed to is the directory's         REJECT: UNKNOWN_RECIPIENT
 *  12. sender sequence unused, in window    REJECT: REPLAY (not remembered)
 *  else ACCEPT.  Before all but 1: the directory held must be valid at
 *  now_ms, else UNAVAILABLE (transient: an Error frame, nothing signed,
 *  nothing remembered; the sender keeps the referral queued until the
 *  directory is renewed) - except a DUPLICATE of the sender's own, which
 *  still gets its stored answer.  A store lookup that fails at 3 or 12 gives RETRY: nothing is
 *  signed, the sender retries.  Rejections that depend only on the envelope's
 *  bytes and the directory are "remembered" (the caller stores them so that
 *  a retry gets the same signed answer); those that depend on who sent it or
 *  on state that moves (signature over forged bytes, sequence) are not.
 */
#ifndef BROKER_ADMIT_H
#define BROKER_ADMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "egide/base/egide_limits.h"
#include "egide/directory/egide_directory.h"
#include "egide/directory/egide_peers.h"
#include "egide/protocol/egide_envelope.h"

#include "broker_store.h"

/* How far above the highest sequence number accepted from a sender a new
 * one may be (2^48: 8,900 years of one message a millisecond; a fresh
 * sender starting at its clock in milliseconds, as egide_probe does, is
 * far below it). */
#define BROKER_SEQ_MAX_JUMP (UINT64_C(1) << 48)

typedef struct broker_admit_in {
    const char *node_id; /* authenticated sender (ZAP User-Id) */
    const uint8_t *env;  /* the envelope bytes as received */
    size_t len;
    const egide_directory_t *dir;
    const egide_peers_t *peers; /* dir's nodes with verified certificates */
    broker_store_t *store;      /* read only: duplicates and sequences */
    int64_t now_ms;             /* broker clock */
    int64_t clock_skew_ms;      /* accepted created_ms - now (the future only) */
    int64_t max_lifetime_ms;    /* longest expires_ms - created_ms (0: the default) */
    uint64_t seq_window;        /* how far behind the highest a sequence may be */
} broker_admit_in_t;

typedef enum {
    BROKER_ADMIT_ACCEPT,      /* store, sign ACCEPTED, deliver */
    BROKER_ADMIT_REJECT,      /* sign REJECTED with reason */
    BROKER_ADMIT_DUPLICATE,   /* answer with stored.receipt again, nothing else */
    BROKER_ADMIT_MALFORMED,   /* no header to sign about: an Error frame with reason */
    BROKER_ADMIT_RETRY,       /* a store lookup failed (rc): answer nothing */
    BROKER_ADMIT_UNAVAILABLE, /* the broker cannot judge now (its directory expired):
                               * an Error frame with reason, nothing signed */
} broker_admit_verdict;

/* Longest envelope lifetime accepted when the configuration sets none: the
 * edge's own cap on message_ttl_days (365), so that no envelope an edge may
 * legitimately seal is refused for good, while one expiring in a century is. */
#define BROKER_DEFAULT_MAX_LIFETIME_MS (365LL * 24 * 3600 * 1000)

typedef struct broker_admit {
    broker_admit_verdict verdict;
    int reason;             /* Egide__V1__ReasonCode (REJECT, MALFORMED); 0 otherwise */
    const char *detail;     /* static text for the receipt and the log */
    bool remember;          /* REJECT: store it for the retries */
    egide_rc rc;            /* the error behind a MALFORMED, a RETRY or a signature */
    uint8_t sha256[32];     /* SHA-256 of the envelope bytes */
    egide_envelope_t *env;  /* parsed envelope (all but MALFORMED); owned */
    broker_stored_t stored; /* DUPLICATE: the stored answer; owned */
    /* All but MALFORMED: the recipients' ids (borrowed from env). */
    char *ids[EGIDE_MAX_RECIPIENTS];
    size_t n_ids;
    /* ACCEPT: what to store, from the header and the bytes (borrowed from
     * env and in->env); the caller adds received_ms, receipt and leaf_index. */
    broker_accept_t accept;
} broker_admit_t;

/* Decide on in->env.  *out is filled (and owns what it points to) whatever
 * the verdict; free it with broker_admit_clear.  Returns EGIDE_OK, or
 * EGIDE_ERR_INVALID when in, out or one of in's pointers is NULL. */
egide_rc broker_admit(const broker_admit_in_t *in, broker_admit_t *out);
void broker_admit_clear(broker_admit_t *d);
/* "accept", "reject", "duplicate", "malformed", "retry", "unavailable". */
const char *broker_admit_verdict_name(broker_admit_verdict v);

#endif
