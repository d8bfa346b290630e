/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_merkle.c - RFC 9162 Merkle hashing, proof generation over a reader of
 * complete subtrees, and the two verifiers.
 *
 * Every range the RFC recursion visits, D[lo:lo+len], starts at a multiple of
 * the smallest power of two >= len, so its hash is either one stored complete
 * subtree (len a power of two) or the node hash of a complete left part and a
 * smaller right range with the same property.  s_range_hash() uses that to
 * read at most one hash per level.  Recursion depth is bounded by 64.
 */
#include "egide/audit/egide_merkle.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "egide/crypto/egide_crypto.h"
#include "egide/base/egide_util.h"

void egide_merkle_leaf_hash(const void *leaf, size_t len, uint8_t out[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    const uint8_t prefix = 0x00;
    unsigned int olen = 0;
    if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
        EVP_DigestUpdate(c, &prefix, 1) == 1 && (len == 0 || EVP_DigestUpdate(c, leaf, len) == 1) &&
        EVP_DigestFinal_ex(c, out, &olen) == 1) {
        EVP_MD_CTX_free(c);
        return;
    }
    /* Only an allocation failure inside OpenSSL gets here: fall back to a
     * bounded copy so the function stays total. */
    EVP_MD_CTX_free(c);
    uint8_t *tmp = malloc(len + 1);
    if (!tmp) {
        memset(out, 0, 32);
        return;
    }
    tmp[0] = 0x00;
    if (len)
        memcpy(tmp + 1, leaf, len);
    egide_sha256(tmp, len + 1, out);
    free(tmp);
}

void egide_merkle_node_hash(const uint8_t left[32], const uint8_t right[32], uint8_t out[32])
{
    uint8_t buf[65];
    buf[0] = 0x01;
    memcpy(buf + 1, left, 32);
    memcpy(buf + 33, right, 32);
    egide_sha256(buf, sizeof buf, out);
}

void egide_merkle_empty_root(uint8_t out[32])
{
    egide_sha256("", 0, out);
}

/* Largest power of two strictly smaller than n (n >= 2). */
static uint64_t s_split(uint64_t n)
{
    uint64_t k = 1;
    while ((k << 1) < n)
        k <<= 1;
    return k;
}

static int s_is_pow2(uint64_t n)
{
    return n && (n & (n - 1)) == 0;
}

static unsigned s_log2(uint64_t n)
{
    unsigned l = 0;
    while (n > 1) {
        n >>= 1;
        l++;
    }
    return l;
}

/* MTH(D[lo:lo+len]) for len >= 1 under the alignment invariant above. */
static egide_rc s_range_hash(egide_merkle_reader_fn rd, void *ctx, uint64_t lo, uint64_t len,
                             uint8_t out[32])
{
    if (len == 0)
        return EGIDE_ERR_INVALID;
    if (s_is_pow2(len) && (lo & (len - 1)) == 0) {
        unsigned level = s_log2(len);
        return rd(ctx, level, lo >> level, out);
    }
    uint64_t k = s_split(len);
    uint8_t l[32], r[32];
    egide_rc rc = s_range_hash(rd, ctx, lo, k, l);
    if (rc == EGIDE_OK)
        rc = s_range_hash(rd, ctx, lo + k, len - k, r);
    if (rc == EGIDE_OK)
        egide_merkle_node_hash(l, r, out);
    return rc;
}

egide_rc egide_merkle_tree_hash(egide_merkle_reader_fn rd, void *ctx, uint64_t size,
                                uint8_t root[32])
{
    if (!rd || !root)
        return EGIDE_ERR_INVALID;
    if (size == 0) {
        egide_merkle_empty_root(root);
        return EGIDE_OK;
    }
    return s_range_hash(rd, ctx, 0, size, root);
}

/* A bounded proof under construction. */
typedef struct s_proof {
    uint8_t h[EGIDE_MERKLE_MAX_PROOF][32]; /* hashes in RFC order */
    size_t n;                              /* used, <= EGIDE_MERKLE_MAX_PROOF */
} s_proof_t;

static egide_rc s_proof_push_range(s_proof_t *p, egide_merkle_reader_fn rd, void *ctx, uint64_t lo,
                                   uint64_t len)
{
    if (p->n >= EGIDE_MERKLE_MAX_PROOF)
        return EGIDE_ERR_LIMIT;
    egide_rc rc = s_range_hash(rd, ctx, lo, len, p->h[p->n]);
    if (rc == EGIDE_OK)
        p->n++;
    return rc;
}

static egide_rc s_proof_out(const s_proof_t *p, uint8_t (**proof)[32], size_t *n)
{
    *proof = NULL;
    *n = 0;
    if (p->n == 0)
        return EGIDE_OK;
    uint8_t(*out)[32] = malloc(p->n * 32);
    if (!out)
        return EGIDE_ERR_NOMEM;
    memcpy(out, p->h, p->n * 32);
    *proof = out;
    *n = p->n;
    return EGIDE_OK;
}

/* PATH(m, D[lo:lo+len]), appending in RFC order (deepest first). */
static egide_rc s_path(s_proof_t *p, egide_merkle_reader_fn rd, void *ctx, uint64_t m, uint64_t lo,
                       uint64_t len)
{
    if (len <= 1)
        return EGIDE_OK;
    uint64_t k = s_split(len);
    egide_rc rc;
    if (m < k) {
        rc = s_path(p, rd, ctx, m, lo, k);
        if (rc == EGIDE_OK)
            rc = s_proof_push_range(p, rd, ctx, lo + k, len - k);
    } else {
        rc = s_path(p, rd, ctx, m - k, lo + k, len - k);
        if (rc == EGIDE_OK)
            rc = s_proof_push_range(p, rd, ctx, lo, k);
    }
    return rc;
}

egide_rc egide_merkle_inclusion_proof(egide_merkle_reader_fn rd, void *ctx, uint64_t index,
                                      uint64_t size, uint8_t (**proof)[32], size_t *n)
{
    if (!rd || !proof || !n || index >= size)
        return EGIDE_ERR_INVALID;
    s_proof_t *p = calloc(1, sizeof *p);
    if (!p)
        return EGIDE_ERR_NOMEM;
    egide_rc rc = s_path(p, rd, ctx, index, 0, size);
    if (rc == EGIDE_OK)
        rc = s_proof_out(p, proof, n);
    free(p);
    return rc;
}

/* SUBPROOF(m, D[lo:lo+len], b). */
static egide_rc s_subproof(s_proof_t *p, egide_merkle_reader_fn rd, void *ctx, uint64_t m,
                           uint64_t lo, uint64_t len, int b)
{
    if (m == len)
        return b ? EGIDE_OK : s_proof_push_range(p, rd, ctx, lo, len);
    uint64_t k = s_split(len);
    egide_rc rc;
    if (m <= k) {
        rc = s_subproof(p, rd, ctx, m, lo, k, b);
        if (rc == EGIDE_OK)
            rc = s_proof_push_range(p, rd, ctx, lo + k, len - k);
    } else {
        rc = s_subproof(p, rd, ctx, m - k, lo + k, len - k, 0);
        if (rc == EGIDE_OK)
            rc = s_proof_push_range(p, rd, ctx, lo, k);
    }
    return rc;
}

egide_rc egide_merkle_consistency_proof(egide_merkle_reader_fn rd, void *ctx, uint64_t m,
                                        uint64_t n, uint8_t (**proof)[32], size_t *count)
{
    if (!rd || !proof || !count || m == 0 || m > n)
        return EGIDE_ERR_INVALID;
    s_proof_t *p = calloc(1, sizeof *p);
    if (!p)
        return EGIDE_ERR_NOMEM;
    egide_rc rc = s_subproof(p, rd, ctx, m, 0, n, 1);
    if (rc == EGIDE_OK)
        rc = s_proof_out(p, proof, count);
    free(p);
    return rc;
}

egide_rc egide_merkle_verify_inclusion(const uint8_t leaf_hash[32], uint64_t index, uint64_t size,
                                       const uint8_t (*proof)[32], size_t n, const uint8_t root[32])
{
    if (!leaf_hash || !root || (n && !proof) || index >= size)
        return EGIDE_ERR_CONSISTENCY;
    uint64_t fn = index, sn = size - 1;
    uint8_t r[32];
    memcpy(r, leaf_hash, 32);
    for (size_t i = 0; i < n; i++) {
        if (sn == 0)
            return EGIDE_ERR_CONSISTENCY;
        if ((fn & 1) || fn == sn) {
            egide_merkle_node_hash(proof[i], r, r);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            egide_merkle_node_hash(r, proof[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0 || !egide_ct_equal(r, root, 32))
        return EGIDE_ERR_CONSISTENCY;
    return EGIDE_OK;
}

egide_rc egide_merkle_verify_consistency(uint64_t m, uint64_t n, const uint8_t root1[32],
                                         const uint8_t root2[32], const uint8_t (*proof)[32],
                                         size_t count)
{
    if (!root1 || !root2 || (count && !proof) || m == 0 || m > n)
        return EGIDE_ERR_CONSISTENCY;
    if (m == n)
        return (count == 0 && egide_ct_equal(root1, root2, 32)) ? EGIDE_OK : EGIDE_ERR_CONSISTENCY;
    if (count == 0 || count > EGIDE_MERKLE_MAX_PROOF)
        return EGIDE_ERR_CONSISTENCY;
    /* Step 2: when m is a power of two the first hash is root1 itself. */
    const uint8_t *first = proof[0];
    size_t start = 1;
    if (s_is_pow2(m)) {
        first = root1;
        start = 0;
    }
    uint64_t fn = m - 1, sn = n - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    uint8_t fr[32], sr[32];
    memcpy(fr, first, 32);
    memcpy(sr, first, 32);
    for (size_t i = start; i < count; i++) {
        if (sn == 0)
            return EGIDE_ERR_CONSISTENCY;
        if ((fn & 1) || fn == sn) {
            egide_merkle_node_hash(proof[i], fr, fr);
            egide_merkle_node_hash(proof[i], sr, sr);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            egide_merkle_node_hash(sr, proof[i], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0 || !egide_ct_equal(fr, root1, 32) || !egide_ct_equal(sr, root2, 32))
        return EGIDE_ERR_CONSISTENCY;
    return EGIDE_OK;
}

/* ---------------------------------------------------------------- in memory */

/* Invariant: level[L] holds the count[L] complete subtree hashes of height L
 * formed so far; count[0] is the number of leaves. */
struct egide_merkle_mem {
    uint8_t (*level[64])[32]; /* owned arrays, one per level */
    uint64_t count[64];       /* hashes in use per level */
    uint64_t cap[64];         /* hashes allocated per level */
};

egide_merkle_mem_t *egide_merkle_mem_new(void)
{
    return calloc(1, sizeof(egide_merkle_mem_t));
}

void egide_merkle_mem_destroy(egide_merkle_mem_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    for (int i = 0; i < 64; i++)
        free((*self_p)->level[i]);
    free(*self_p);
    *self_p = NULL;
}

static egide_rc s_mem_push(egide_merkle_mem_t *self, unsigned l, const uint8_t h[32])
{
    if (self->count[l] == self->cap[l]) {
        uint64_t ncap = self->cap[l] ? self->cap[l] * 2 : 64;
        if (ncap > SIZE_MAX / 32)
            return EGIDE_ERR_NOMEM;
        void *p = realloc(self->level[l], (size_t)ncap * 32);
        if (!p)
            return EGIDE_ERR_NOMEM;
        self->level[l] = p;
        self->cap[l] = ncap;
    }
    memcpy(self->level[l][self->count[l]++], h, 32);
    return EGIDE_OK;
}

egide_rc egide_merkle_mem_append_hash(egide_merkle_mem_t *self, const uint8_t leaf_hash[32])
{
    if (!self || !leaf_hash)
        return EGIDE_ERR_INVALID;
    egide_rc rc = s_mem_push(self, 0, leaf_hash);
    uint8_t h[32];
    memcpy(h, leaf_hash, 32);
    for (unsigned l = 0; rc == EGIDE_OK && l < 63 && (self->count[l] & 1) == 0; l++) {
        egide_merkle_node_hash(self->level[l][self->count[l] - 2], h, h);
        rc = s_mem_push(self, l + 1, h);
    }
    return rc;
}

egide_rc egide_merkle_mem_append(egide_merkle_mem_t *self, const void *leaf, size_t len)
{
    uint8_t h[32];
    egide_merkle_leaf_hash(leaf, len, h);
    return egide_merkle_mem_append_hash(self, h);
}

uint64_t egide_merkle_mem_size(const egide_merkle_mem_t *self)
{
    return self ? self->count[0] : 0;
}

egide_rc egide_merkle_mem_reader(void *ctx, unsigned level, uint64_t index, uint8_t out[32])
{
    egide_merkle_mem_t *self = ctx;
    if (!self || level >= 64 || index >= self->count[level])
        return EGIDE_ERR_INVALID;
    memcpy(out, self->level[level][index], 32);
    return EGIDE_OK;
}
