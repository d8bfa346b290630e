/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_merkle.h - RFC 9162 Merkle tree hashing, proofs and their verifiers.
 *
 * Leaf hash = SHA-256(0x00 || leaf), node hash = SHA-256(0x01 || left || right),
 * the hash of the empty tree is SHA-256("").  Proof generation works over a
 * hash-reader callback that returns the hash of one complete, aligned subtree,
 * so the same code serves an in-memory tree and the audit log's stored-hash
 * table; it reads O(log n) hashes per proof.  The verifiers implement the
 * algorithms of RFC 9162 sections 2.1.3.2 and 2.1.4.2 and need nothing but the
 * proof.
 *
 * Proofs are arrays of 32-byte hashes, `uint8_t (*)[32]`, malloc'ed and the
 * caller's to free().
 */
#ifndef EGIDE_MERKLE_H
#define EGIDE_MERKLE_H

#include <stddef.h>
#include <stdint.h>
#include "egide/base/egide_rc.h"

#define EGIDE_MERKLE_HASH_LEN 32u
/* Longest proof for any 64-bit tree size (inclusion <= 64, consistency <= 128). */
#define EGIDE_MERKLE_MAX_PROOF 130u

/* Reader: write to out the hash of the complete subtree at (level, index),
 * i.e. of leaves [index << level, (index + 1) << level).  Level 0 is a leaf
 * hash.  Return EGIDE_OK or an error, which the caller passes on. */
typedef egide_rc (*egide_merkle_reader_fn)(void *ctx, unsigned level, uint64_t index,
                                           uint8_t out[32]);

/* SHA-256(0x00 || leaf). */
void egide_merkle_leaf_hash(const void *leaf, size_t len, uint8_t out[32]);
/* SHA-256(0x01 || left || right). */
void egide_merkle_node_hash(const uint8_t left[32], const uint8_t right[32], uint8_t out[32]);
/* SHA-256(""), the root of the empty tree. */
void egide_merkle_empty_root(uint8_t out[32]);

/* Root (MTH) of the first `size` leaves.  Reads O(log size) hashes.
 * EGIDE_ERR_INVALID when rd is NULL; reader errors are passed on. */
egide_rc egide_merkle_tree_hash(egide_merkle_reader_fn rd, void *ctx, uint64_t size,
                                uint8_t root[32]);

/* RFC 9162 inclusion proof PATH(index, D[size]).  *proof (caller frees; NULL
 * when *n is 0) receives *n hashes, leaf to root.
 * EGIDE_ERR_INVALID when index >= size; EGIDE_ERR_NOMEM; reader errors. */
egide_rc egide_merkle_inclusion_proof(egide_merkle_reader_fn rd, void *ctx, uint64_t index,
                                      uint64_t size, uint8_t (**proof)[32], size_t *n);

/* RFC 9162 consistency proof PROOF(m, D[n]) for 0 < m <= n (empty when m == n).
 * EGIDE_ERR_INVALID when m == 0 or m > n; EGIDE_ERR_NOMEM; reader errors. */
egide_rc egide_merkle_consistency_proof(egide_merkle_reader_fn rd, void *ctx, uint64_t m,
                                        uint64_t n, uint8_t (**proof)[32], size_t *count);

/* RFC 9162 2.1.3.2.  EGIDE_OK when `proof` proves leaf_hash at index in the
 * tree of `size` leaves with the given root; EGIDE_ERR_CONSISTENCY otherwise
 * (including index >= size or a proof of the wrong length). */
egide_rc egide_merkle_verify_inclusion(const uint8_t leaf_hash[32], uint64_t index, uint64_t size,
                                       const uint8_t (*proof)[32], size_t n,
                                       const uint8_t root[32]);

/* RFC 9162 2.1.4.2.  EGIDE_OK when the tree of size m with root1 is a prefix
 * of the tree of size n with root2.  Sizes equal: the proof must be empty and
 * the roots equal.  m == 0 is refused (a proof from the empty tree proves
 * nothing; callers trusting nothing yet skip the check).  Any failure,
 * including m > n, is EGIDE_ERR_CONSISTENCY. */
egide_rc egide_merkle_verify_consistency(uint64_t m, uint64_t n, const uint8_t root1[32],
                                         const uint8_t root2[32], const uint8_t (*proof)[32],
                                         size_t count);

/* In-memory tree for tests, tools and the verifiers of exported logs:
 * keeps every level, so it costs about 2 hashes of memory per leaf. */
typedef struct egide_merkle_mem egide_merkle_mem_t;
egide_merkle_mem_t *egide_merkle_mem_new(void);
void egide_merkle_mem_destroy(egide_merkle_mem_t **self_p);
/* Append a leaf (hashed here).  EGIDE_ERR_NOMEM. */
egide_rc egide_merkle_mem_append(egide_merkle_mem_t *self, const void *leaf, size_t len);
/* Append an already computed leaf hash.  EGIDE_ERR_NOMEM. */
egide_rc egide_merkle_mem_append_hash(egide_merkle_mem_t *self, const uint8_t leaf_hash[32]);
uint64_t egide_merkle_mem_size(const egide_merkle_mem_t *self);
/* Reader over an egide_merkle_mem_t (ctx = the tree): EGIDE_ERR_INVALID for a
 * subtree that is not complete yet. */
egide_rc egide_merkle_mem_reader(void *ctx, unsigned level, uint64_t index, uint8_t out[32]);

#endif
