/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_auditverify.h - offline, streaming verification of a whole audit log:
 * recompute the RFC 9162 tree from the leaves, check every signed checkpoint
 * (signature, and its root against the recomputed tree at its size), and that
 * every event about one msg_id carries the same envelope hash.  Used by
 * egide_auditlog_verify_all() on the broker's database and by
 * `egide audit verify` on an exported log.
 *
 * Memory: O(log n) for the tree plus 56 bytes per distinct msg_id (for the
 * envelope-hash check); the leaves are never kept.
 *
 * Usage: new, add every checkpoint, add every leaf in index order (0, 1, ...),
 * finish.  The first problem found is kept (its index and a sentence);
 * later calls return EGIDE_ERR_CONSISTENCY at once.
 */
#ifndef EGIDE_AUDITVERIFY_H
#define EGIDE_AUDITVERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "egide.pb-c.h"
#include "egide/base/egide_rc.h"

/* bad_index when the problem is not about one entry (e.g. a signature). */
#define EGIDE_AUDITVERIFY_NO_INDEX UINT64_MAX

typedef struct egide_auditverify egide_auditverify_t;

/* The outcome, filled by egide_auditverify_finish(). */
typedef struct egide_auditverify_report {
    uint64_t size;        /* leaves checked */
    uint64_t checkpoints; /* checkpoints whose signature and root matched */
    uint64_t signed_size; /* entries covered by the largest of them (0 = none) */
    uint64_t messages;    /* distinct msg_ids seen */
    uint8_t root[32];     /* recomputed root at size */
    bool ok;              /* no problem found */
    uint64_t bad_index;   /* first bad entry, or EGIDE_AUDITVERIFY_NO_INDEX */
    uint64_t bad_end;     /* 0 when bad_index is exact; else the first bad entry is
                             somewhere in [bad_index, bad_end): only a signed
                             checkpoint showed it (e.g. entries swapped together
                             with their recorded leaf hashes) */
    bool unanchored;      /* the only problem: a key was given, entries are
                             present, and no signed checkpoint covers any
                             (bad_index is then EGIDE_AUDITVERIFY_NO_INDEX) */
    char problem[256];    /* one sentence, "" when ok */
} egide_auditverify_report_t;

/* Called for every complete subtree hash as it is formed, in the order the
 * log's stored-hash table holds them (level 0 is the leaf hash).  Return
 * non-EGIDE_OK to report a mismatch with the stored copy (the problem text
 * is then taken from `why`, a buffer of 160 bytes): EGIDE_ERR_NOTFOUND when
 * the stored copy is missing (the report names the entry whose append wrote
 * it), anything else when it differs.  A differing leaf hash names its
 * entry; a differing hash at level L > 0, index i (every hash below it
 * having matched) names the range [i << L, (i + 1) << L) in bad_index and
 * bad_end: the stored hash itself, or any entry under it rewritten together
 * with its stored leaf hash, would give the same mismatch. */
typedef egide_rc (*egide_auditverify_hash_fn)(void *ctx, unsigned level, uint64_t index,
                                              const uint8_t hash[32], char *why);
/* Called for every decoded event (events mode).  Same contract. */
typedef egide_rc (*egide_auditverify_event_fn)(void *ctx, uint64_t index,
                                               const Egide__V1__AuditEvent *ev, char *why);

/* key_name: the checkpoint key name, or NULL to use each note's origin.
 * pub: the broker's Ed25519 key (borrowed; must outlive the verifier), or NULL
 *      to skip signature checks (roots are still compared).
 * origin: required origin of every checkpoint, or NULL for any (but all equal).
 * events: leaves must be AuditEvents (decoded and checked). */
egide_auditverify_t *egide_auditverify_new(const char *key_name, EVP_PKEY *pub, const char *origin,
                                           bool events);
void egide_auditverify_destroy(egide_auditverify_t **self_p);
void egide_auditverify_set_hooks(egide_auditverify_t *self, egide_auditverify_hash_fn on_hash,
                                 egide_auditverify_event_fn on_event, void *ctx);

/* Add one checkpoint note (before any leaf).  Its signature is checked at
 * once.  EGIDE_ERR_CONSISTENCY once a problem is recorded; EGIDE_ERR_STATE
 * after the first leaf; EGIDE_ERR_NOMEM; EGIDE_ERR_LIMIT over 10^6 notes. */
egide_rc egide_auditverify_add_checkpoint(egide_auditverify_t *self, const char *note, size_t len);
/* Add the leaf at `index` (must be the next one: a gap is reported as the
 * missing index).  stored_leaf_hash, when not NULL, is the leaf hash the
 * source claims (an export's "leaf_hash"); a mismatch names this index.
 * EGIDE_ERR_CONSISTENCY once a problem is recorded; EGIDE_ERR_NOMEM. */
egide_rc egide_auditverify_add_leaf(egide_auditverify_t *self, uint64_t index, const uint8_t *leaf,
                                    size_t len, const uint8_t *stored_leaf_hash);
/* Record a problem found by the caller (e.g. a malformed export entry). */
void egide_auditverify_fail(egide_auditverify_t *self, uint64_t bad_index, const char *problem);
/* Check checkpoints beyond the last leaf, fill rep.  EGIDE_OK when the log
 * verified, EGIDE_ERR_CONSISTENCY otherwise (rep says why).  With a key
 * (pub), a log of one or more entries of which no signed checkpoint covers
 * any fails too (EGIDE_ERR_CONSISTENCY, rep->unanchored set): such a log
 * proves nothing, as anyone who can write it can make it.  Entries after the
 * last checkpoint are normal (checkpoints are periodic): rep->signed_size
 * says how far the signed part goes.  May be called again; a problem
 * recorded after an unanchored finish takes its place. */
egide_rc egide_auditverify_finish(egide_auditverify_t *self, egide_auditverify_report_t *rep);

#endif
