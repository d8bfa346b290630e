/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_auditlog.c - the audit log's logic: the tlog stored-hash layout,
 * appends, proofs, signed checkpoints, the msg_id index and whole-log
 * verification (see the header), on rows kept by a store backend through
 * egide_auditstore_ops_t.  No SQL here: the statements, the schema and the
 * append-only triggers are the backend's (egide_auditstore_sqlite.c).
 *
 * Each append and each checkpoint is one unit of the backend's work
 * (begin ... release, rollback on any failure), so a failure half-way leaves
 * nothing behind, with or without an outer transaction; the store's own
 * errors are logged there and become EGIDE_ERR_DB (or EGIDE_ERR_NOMEM)
 * here, as the header promises.
 */
#include "egide/audit/egide_auditlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egide/protocol/egide_checkpoint.h"
#include "egide/base/egide_limits.h"
#include "egide/base/egide_log.h"
#include "egide/audit/egide_merkle.h"
#include "egide/base/egide_util.h"
#include "egide/store/egide_auditstore_sqlite.h"
#include "egide/wire/egide_wire.h"

/* The two limits have the same value on purpose: each layer names its own. */
/* NOLINTBEGIN(misc-redundant-expression) */
_Static_assert(EGIDE_AUDITLOG_MAX_LEAF == EGIDE_AUDITSTORE_MAX_LEAF, "leaf limits differ");
/* NOLINTEND(misc-redundant-expression) */
_Static_assert(EGIDE_CHECKPOINT_MAX_NOTE <= EGIDE_AUDITSTORE_MAX_NOTE, "store notes too short");
_Static_assert(EGIDE_MSG_ID_LEN == EGIDE_AUDITSTORE_MSG_ID_LEN, "msg_id lengths differ");

/* Invariant: ops has every required member; be is its handle, freed with
 * ops->destroy when owned.  No state a ROLLBACK could make stale is kept:
 * the size is read from the store each time. */
struct egide_auditlog {
    const egide_auditstore_ops_t *ops; /* the backend's functions */
    void *be;                          /* the backend's handle */
    bool owns;                         /* destroy be with the log */
};

/* A store error at the log's boundary: the header promises EGIDE_ERR_DB
 * (the store has logged the details). */
static egide_rc s_db(egide_rc rc)
{
    return rc == EGIDE_OK || rc == EGIDE_ERR_NOMEM ? rc : EGIDE_ERR_DB;
}

uint64_t egide_auditlog_hash_pos(unsigned level, uint64_t index)
{
    for (unsigned l = level; l > 0; l--)
        index = 2 * index + 1;
    uint64_t i = 0;
    for (; index > 0; index >>= 1)
        i += index;
    return i + level;
}

static bool s_ops_complete(const egide_auditstore_ops_t *o)
{
    return o && o->destroy && o->begin && o->release && o->rollback && o->size && o->append &&
           o->hash && o->hash_run && o->leaf && o->scan_leaves && o->find_msg && o->msg_has &&
           o->counts && o->put_checkpoint && o->checkpoint;
}

static egide_rc s_new(const egide_auditstore_ops_t *ops, void *be, bool owns,
                      egide_auditlog_t **out)
{
    egide_auditlog_t *log = calloc(1, sizeof *log);
    if (!log)
        return EGIDE_ERR_NOMEM;
    log->ops = ops;
    log->be = be;
    log->owns = owns;
    *out = log;
    return EGIDE_OK;
}

egide_rc egide_auditlog_open_store(const egide_auditstore_ops_t *ops, void *backend,
                                   egide_auditlog_t **out)
{
    if (!out)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    if (!s_ops_complete(ops) || !backend)
        return EGIDE_ERR_INVALID;
    return s_new(ops, backend, false, out);
}

egide_rc egide_auditlog_open(sqlite3 *db, egide_auditlog_t **out)
{
    if (!db || !out)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    egide_auditstore_sqlite_t *be = NULL;
    egide_rc rc = egide_auditstore_sqlite_new(db, &be);
    if (rc == EGIDE_OK)
        rc = s_new(&egide_auditstore_sqlite_ops, be, true, out);
    if (rc != EGIDE_OK)
        egide_auditstore_sqlite_destroy(&be);
    return rc;
}

void egide_auditlog_destroy(egide_auditlog_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    if ((*self_p)->owns)
        (*self_p)->ops->destroy((*self_p)->be);
    free(*self_p);
    *self_p = NULL;
}

static egide_rc s_size(egide_auditlog_t *log, uint64_t *size)
{
    return s_db(log->ops->size(log->be, size));
}

uint64_t egide_auditlog_size(egide_auditlog_t *log)
{
    uint64_t n = 0;
    if (!log || s_size(log, &n) != EGIDE_OK)
        return 0;
    return n;
}

static egide_rc s_get_hash(egide_auditlog_t *log, uint64_t pos, uint8_t out[32])
{
    egide_rc rc = log->ops->hash(log->be, pos, out);
    if (rc == EGIDE_ERR_NOTFOUND || rc == EGIDE_ERR_CONSISTENCY)
        egide_log(EGIDE_LOG_ERROR, "audit log: stored hash %llu missing or malformed",
                  (unsigned long long)pos);
    return s_db(rc);
}

/* Append leaf n = the current size, in one unit of the store's work: the
 * leaf hash and the 1 + trailing_ones(n) subtree hashes it completes (each
 * from the stored left sibling), at consecutive positions from
 * hash_pos(0, n). */
static egide_rc s_append(egide_auditlog_t *log, const uint8_t *leaf, size_t len,
                         const uint8_t *msg_id, uint64_t *leaf_index)
{
    const egide_auditstore_ops_t *o = log->ops;
    egide_rc rc = s_db(o->begin(log->be));
    if (rc != EGIDE_OK)
        return rc;
    uint64_t n = 0;
    rc = s_size(log, &n);
    if (rc == EGIDE_OK && n >= (UINT64_MAX >> 2))
        rc = EGIDE_ERR_LIMIT;
    uint8_t h[EGIDE_AUDITSTORE_MAX_HASHES][32];
    size_t nh = 1;
    if (rc == EGIDE_OK)
        egide_merkle_leaf_hash(leaf, len, h[0]);
    unsigned l = 0;
    for (uint64_t i = n; rc == EGIDE_OK && (i & 1); i >>= 1, l++, nh++) {
        uint8_t left[32];
        rc = s_get_hash(log, egide_auditlog_hash_pos(l, i - 1), left);
        if (rc == EGIDE_OK)
            egide_merkle_node_hash(left, h[nh - 1], h[nh]);
    }
    if (rc == EGIDE_OK) {
        rc = o->append(log->be, n, leaf, len, msg_id, egide_auditlog_hash_pos(0, n),
                       (const uint8_t(*)[32])h, nh);
        if (rc == EGIDE_ERR_EXISTS)
            egide_log(EGIDE_LOG_ERROR, "audit log: entry %llu or its hashes are already stored",
                      (unsigned long long)n);
        rc = s_db(rc);
    }
    if (rc == EGIDE_OK)
        rc = s_db(o->release(log->be));
    if (rc != EGIDE_OK) {
        o->rollback(log->be);
        return rc;
    }
    if (leaf_index)
        *leaf_index = n;
    return EGIDE_OK;
}

egide_rc egide_auditlog_append(egide_auditlog_t *log, const uint8_t *leaf, size_t len,
                               uint64_t *leaf_index)
{
    if (!log || !leaf || len == 0)
        return EGIDE_ERR_INVALID;
    if (len > EGIDE_AUDITLOG_MAX_LEAF)
        return EGIDE_ERR_LIMIT;
    return s_append(log, leaf, len, NULL, leaf_index);
}

egide_rc egide_auditlog_append_event(egide_auditlog_t *log, const Egide__V1__AuditEvent *ev,
                                     uint64_t *leaf_index)
{
    if (!log || !ev)
        return EGIDE_ERR_INVALID;
    uint8_t *buf = NULL;
    size_t len = 0;
    egide_rc rc = egide_wire_pack(EGIDE_WIRE_AUDIT_EVENT, ev, &buf, &len);
    if (rc != EGIDE_OK)
        return rc;
    if (len > EGIDE_AUDITLOG_MAX_LEAF)
        rc = EGIDE_ERR_LIMIT;
    else
        rc = s_append(log, buf, len, ev->msg_id.len == EGIDE_MSG_ID_LEN ? ev->msg_id.data : NULL,
                      leaf_index);
    free(buf);
    return rc;
}

/* Reader over the stored-hash table, bounded by the tree size asked for. */
typedef struct s_reader {
    egide_auditlog_t *log; /* the log */
    uint64_t size;         /* subtrees must lie within the first size leaves */
} s_reader_t;

static egide_rc s_read(void *ctx, unsigned level, uint64_t index, uint8_t out[32])
{
    s_reader_t *r = ctx;
    if (level >= 63 || index > (r->size >> level) || ((index + 1) << level) > r->size)
        return EGIDE_ERR_INVALID;
    return s_get_hash(r->log, egide_auditlog_hash_pos(level, index), out);
}

static egide_rc s_check_size(egide_auditlog_t *log, uint64_t size)
{
    uint64_t cur = 0;
    egide_rc rc = s_size(log, &cur);
    if (rc == EGIDE_OK && size > cur)
        rc = EGIDE_ERR_INVALID;
    return rc;
}

typedef enum { S_ROOT, S_INCLUSION, S_CONSISTENCY } s_tree_op_t;

/* One Merkle computation over the stored hashes of the first `size` leaves
 * (EGIDE_ERR_INVALID when the log is shorter): the root, the inclusion
 * proof of leaf a, or the consistency proof from size a. */
static egide_rc s_tree(egide_auditlog_t *log, s_tree_op_t op, uint64_t a, uint64_t size,
                       uint8_t root[32], uint8_t (**proof)[32], size_t *n)
{
    egide_rc rc = s_check_size(log, size);
    if (rc != EGIDE_OK)
        return rc;
    s_reader_t r = {log, size};
    if (op == S_ROOT)
        return egide_merkle_tree_hash(s_read, &r, size, root);
    if (op == S_INCLUSION)
        return egide_merkle_inclusion_proof(s_read, &r, a, size, proof, n);
    return egide_merkle_consistency_proof(s_read, &r, a, size, proof, n);
}

egide_rc egide_auditlog_root(egide_auditlog_t *log, uint64_t size, uint8_t root[32])
{
    if (!log || !root)
        return EGIDE_ERR_INVALID;
    return s_tree(log, S_ROOT, 0, size, root, NULL, NULL);
}

egide_rc egide_auditlog_inclusion(egide_auditlog_t *log, uint64_t index, uint64_t size,
                                  uint8_t (**proof)[32], size_t *n)
{
    if (!log || !proof || !n || index >= size)
        return EGIDE_ERR_INVALID;
    return s_tree(log, S_INCLUSION, index, size, NULL, proof, n);
}

egide_rc egide_auditlog_consistency(egide_auditlog_t *log, uint64_t m, uint64_t n,
                                    uint8_t (**proof)[32], size_t *count)
{
    if (!log || !proof || !count || m == 0 || m > n)
        return EGIDE_ERR_INVALID;
    return s_tree(log, S_CONSISTENCY, m, n, NULL, proof, count);
}

egide_rc egide_auditlog_leaf(egide_auditlog_t *log, uint64_t index, uint8_t **leaf, size_t *len)
{
    if (!log || !leaf || !len || index > INT64_MAX)
        return EGIDE_ERR_INVALID;
    *leaf = NULL;
    *len = 0;
    egide_rc rc = log->ops->leaf(log->be, index, leaf, len);
    return rc == EGIDE_ERR_NOTFOUND ? rc : s_db(rc);
}

egide_rc egide_auditlog_leaf_hash(egide_auditlog_t *log, uint64_t index, uint8_t out[32])
{
    if (!log || !out)
        return EGIDE_ERR_INVALID;
    if (index >= INT64_MAX)
        return EGIDE_ERR_NOTFOUND;
    egide_rc rc = s_check_size(log, index + 1);
    if (rc == EGIDE_ERR_INVALID)
        return EGIDE_ERR_NOTFOUND;
    return rc == EGIDE_OK ? s_get_hash(log, egide_auditlog_hash_pos(0, index), out) : rc;
}

egide_rc egide_auditlog_find_msg(egide_auditlog_t *log, const uint8_t msg_id[16],
                                 uint64_t **indexes, size_t *n)
{
    if (!log || !msg_id || !indexes || !n)
        return EGIDE_ERR_INVALID;
    *indexes = NULL;
    *n = 0;
    uint64_t *out = malloc(EGIDE_AUDITLOG_MAX_MSG_EVENTS * sizeof *out);
    if (!out)
        return EGIDE_ERR_NOMEM;
    size_t k = 0;
    egide_rc rc = s_db(log->ops->find_msg(log->be, msg_id, out, EGIDE_AUDITLOG_MAX_MSG_EVENTS, &k));
    if (rc != EGIDE_OK || k == 0) {
        free(out);
        return rc;
    }
    *indexes = out;
    *n = k;
    return EGIDE_OK;
}

/* The checkpoint q/arg from the store, for the public getters: a note the
 * store holds but a checkpoint cannot be is a damaged store. */
static egide_rc s_cp_get(egide_auditlog_t *log, egide_auditstore_cp_query_t q, uint64_t arg,
                         uint64_t *size, char **note_out)
{
    egide_rc rc = log->ops->checkpoint(log->be, q, arg, size, note_out);
    return rc == EGIDE_ERR_NOTFOUND ? rc : s_db(rc);
}

egide_rc egide_auditlog_checkpoint(egide_auditlog_t *log, const char *origin, const char *key_name,
                                   EVP_PKEY *key, char **note_out)
{
    if (!log || !origin || !key_name || !key)
        return EGIDE_ERR_INVALID;
    if (note_out)
        *note_out = NULL;
    egide_checkpoint_t cp;
    memset(&cp, 0, sizeof cp);
    uint8_t id[4];
    /* Validate origin, key name and key before anything is looked up. */
    if (egide_strlcpy(cp.origin, origin, sizeof cp.origin) != EGIDE_OK ||
        egide_checkpoint_key_id(origin, key, id) != EGIDE_OK ||
        egide_checkpoint_key_id(key_name, key, id) != EGIDE_OK)
        return EGIDE_ERR_INVALID;
    const egide_auditstore_ops_t *o = log->ops;
    egide_rc rc = s_db(o->begin(log->be));
    if (rc != EGIDE_OK)
        return rc;
    char *note = NULL;
    rc = s_size(log, &cp.size);
    if (rc == EGIDE_OK)
        rc = s_cp_get(log, EGIDE_AUDITSTORE_CP_AT, cp.size, NULL, &note);
    if (rc == EGIDE_ERR_NOTFOUND) {
        rc = egide_auditlog_root(log, cp.size, cp.root);
        if (rc == EGIDE_OK)
            rc = egide_checkpoint_sign(&cp, key_name, key, &note);
        if (rc == EGIDE_OK)
            rc = s_db(o->put_checkpoint(log->be, cp.size, note));
    }
    if (rc == EGIDE_OK)
        rc = s_db(o->release(log->be));
    if (rc != EGIDE_OK) {
        o->rollback(log->be);
        free(note);
        return rc;
    }
    if (note_out)
        *note_out = note;
    else
        free(note);
    return EGIDE_OK;
}

egide_rc egide_auditlog_latest_checkpoint(egide_auditlog_t *log, char **note_out)
{
    if (!log || !note_out)
        return EGIDE_ERR_INVALID;
    *note_out = NULL;
    return s_cp_get(log, EGIDE_AUDITSTORE_CP_LATEST, 0, NULL, note_out);
}

egide_rc egide_auditlog_checkpoint_next(egide_auditlog_t *log, uint64_t min_size, uint64_t *size,
                                        char **note_out)
{
    if (!log || !note_out || min_size > INT64_MAX)
        return EGIDE_ERR_INVALID;
    *note_out = NULL;
    return s_cp_get(log, EGIDE_AUDITSTORE_CP_NEXT, min_size, size, note_out);
}

/* ---------------------------------------------------------------- verify */

/* Stored hashes read ahead: the walk forms them in position order. */
#define S_RUN 512u

/* State of egide_auditlog_verify_all's hooks.  Invariant: run[k] is the
 * stored hash at position run_first + k for k < run_n. */
typedef struct s_vctx {
    egide_auditlog_t *log;  /* the log */
    egide_auditverify_t *v; /* the verifier fed with the stored leaves */
    uint64_t msg_events;    /* events with a msg_id seen */
    egide_rc err;           /* a store error during the walk */
    uint64_t run_first;     /* position of run[0] */
    size_t run_n;           /* valid entries of run */
    uint8_t run[S_RUN][32]; /* stored hashes read ahead */

    egide_auditlog_progress_fn progress; /* told after each leaf, or NULL */
    void *progress_arg;                  /* its first argument */
    uint64_t leaves, total;              /* leaves read so far, of the size at the start */
} s_vctx_t;

/* The stored hash at pos: from the read-ahead run, refilled from pos when
 * pos is outside it; a position the run stops before is asked for alone,
 * for its exact status (missing or malformed). */
static egide_rc s_stored_hash(s_vctx_t *v, uint64_t pos, uint8_t out[32])
{
    const egide_auditstore_ops_t *o = v->log->ops;
    if (pos < v->run_first || pos - v->run_first >= v->run_n) {
        egide_rc rc = o->hash_run(v->log->be, pos, S_RUN, v->run, &v->run_n);
        v->run_first = pos;
        if (rc != EGIDE_OK) {
            v->run_n = 0;
            return rc;
        }
        if (v->run_n == 0)
            return o->hash(v->log->be, pos, out);
    }
    memcpy(out, v->run[pos - v->run_first], 32);
    return EGIDE_OK;
}

/* Each hash the verifier forms against the stored one at its position. */
static egide_rc s_on_hash(void *ctx, unsigned level, uint64_t index, const uint8_t hash[32],
                          char *why)
{
    s_vctx_t *v = ctx;
    uint64_t want = egide_auditlog_hash_pos(level, index);
    uint8_t stored[32];
    egide_rc rc = s_stored_hash(v, want, stored);
    if (rc != EGIDE_OK && rc != EGIDE_ERR_CONSISTENCY) {
        if (rc != EGIDE_ERR_NOTFOUND)
            v->err = s_db(rc);
        (void)snprintf(why, 160, "stored hash %llu (level %u, index %llu) is missing",
                       (unsigned long long)want, level, (unsigned long long)index);
        return EGIDE_ERR_NOTFOUND;
    }
    if (rc == EGIDE_ERR_CONSISTENCY || memcmp(stored, hash, 32) != 0) {
        if (level == 0)
            (void)snprintf(why, 160, "entry %llu does not match its stored leaf hash",
                           (unsigned long long)index);
        else
            (void)snprintf(why, 160,
                           "stored hash at level %u, index %llu differs from the recomputed tree",
                           level, (unsigned long long)index);
        return EGIDE_ERR_CONSISTENCY;
    }
    return EGIDE_OK;
}

static egide_rc s_on_event(void *ctx, uint64_t index, const Egide__V1__AuditEvent *ev, char *why)
{
    s_vctx_t *v = ctx;
    if (ev->msg_id.len != EGIDE_MSG_ID_LEN)
        return EGIDE_OK;
    v->msg_events++;
    egide_rc rc = v->log->ops->msg_has(v->log->be, ev->msg_id.data, index);
    if (rc == EGIDE_OK)
        return EGIDE_OK;
    if (rc != EGIDE_ERR_NOTFOUND)
        v->err = s_db(rc);
    (void)snprintf(why, 160, "entry %llu is missing from the msg_id index",
                   (unsigned long long)index);
    return EGIDE_ERR_CONSISTENCY;
}

/* scan_leaves' callback: a store error met by a hook ends the scan with it. */
static egide_rc s_on_leaf(void *ctx, uint64_t index, const uint8_t *leaf, size_t len)
{
    s_vctx_t *v = ctx;
    egide_rc rc = egide_auditverify_add_leaf(v->v, index, leaf, len, NULL);
    if (v->progress) {
        v->leaves++;
        v->progress(v->progress_arg, v->leaves < v->total ? v->leaves : v->total, v->total);
    }
    return v->err != EGIDE_OK ? v->err : rc;
}

/* Feed every stored checkpoint, by size, to the verifier.  EGIDE_OK also
 * when one was bad (recorded in v; *bad set). */
static egide_rc s_feed_checkpoints(egide_auditlog_t *log, egide_auditverify_t *v, bool *bad)
{
    uint64_t min = 0;
    for (;;) {
        uint64_t size = 0;
        char *note = NULL;
        egide_rc rc = log->ops->checkpoint(log->be, EGIDE_AUDITSTORE_CP_NEXT, min, &size, &note);
        if (rc == EGIDE_ERR_NOTFOUND)
            return EGIDE_OK;
        if (rc == EGIDE_ERR_LIMIT) {
            egide_auditverify_fail(v, EGIDE_AUDITVERIFY_NO_INDEX,
                                   "a stored checkpoint is longer than any note can be");
            *bad = true;
            return EGIDE_OK;
        }
        if (rc != EGIDE_OK)
            return s_db(rc);
        rc = egide_auditverify_add_checkpoint(v, note, strlen(note));
        free(note);
        if (rc == EGIDE_ERR_CONSISTENCY) {
            *bad = true;
            return EGIDE_OK;
        }
        if (rc != EGIDE_OK)
            return rc;
        if (size >= INT64_MAX)
            return EGIDE_OK;
        min = size + 1;
    }
}

/* What the walk cannot see: rows beyond those the leaves account for. */
static egide_rc s_check_counts(s_vctx_t *vc, bool events, const egide_auditverify_report_t *r)
{
    egide_auditstore_counts_t c;
    egide_rc rc = s_db(vc->log->ops->counts(vc->log->be, &c));
    if (rc != EGIDE_OK)
        return rc;
    if (c.hashes != egide_auditlog_hash_pos(0, r->size))
        egide_auditverify_fail(vc->v, r->size,
                               "stored hashes go beyond the last entry: entries were "
                               "removed from the end");
    else if (c.leaves != r->size)
        egide_auditverify_fail(vc->v, r->size,
                               "the log holds entries outside the sequence 0, 1, ...");
    else if (events && c.msg_entries != vc->msg_events)
        egide_auditverify_fail(vc->v, EGIDE_AUDITVERIFY_NO_INDEX,
                               "the msg_id index has entries for events that do not exist");
    return EGIDE_OK;
}

egide_rc egide_auditlog_verify_all(egide_auditlog_t *log, const char *key_name, EVP_PKEY *pub,
                                   bool events, egide_auditverify_report_t *rep)
{
    return egide_auditlog_verify_all_progress(log, key_name, pub, events, NULL, NULL, rep);
}

egide_rc egide_auditlog_verify_all_progress(egide_auditlog_t *log, const char *key_name,
                                            EVP_PKEY *pub, bool events,
                                            egide_auditlog_progress_fn progress, void *arg,
                                            egide_auditverify_report_t *rep)
{
    if (!log)
        return EGIDE_ERR_INVALID;
    egide_auditverify_t *v = egide_auditverify_new(key_name, pub, NULL, events);
    if (!v)
        return EGIDE_ERR_NOMEM;
    s_vctx_t *vc = calloc(1, sizeof *vc); /* 16 KiB of read-ahead: not on the stack */
    if (!vc) {
        egide_auditverify_destroy(&v);
        return EGIDE_ERR_NOMEM;
    }
    vc->log = log;
    vc->v = v;
    vc->progress = progress;
    vc->progress_arg = arg;
    vc->total = progress ? egide_auditlog_size(log) : 0;
    egide_auditverify_set_hooks(v, s_on_hash, events ? s_on_event : NULL, vc);
    /* Checkpoints first (their signatures), then the leaves in order, then
     * the row counts (only when all else held, as the first problem is the
     * one reported). */
    egide_auditverify_report_t r;
    bool bad = false;
    egide_rc rc = s_feed_checkpoints(log, v, &bad);
    if (rc == EGIDE_OK && !bad) {
        rc = log->ops->scan_leaves(log->be, s_on_leaf, vc);
        if (rc == EGIDE_ERR_CONSISTENCY)
            rc = EGIDE_OK; /* recorded in v */
        else
            rc = s_db(rc);
        if (rc == EGIDE_OK)
            rc = vc->err;
    }
    if (rc == EGIDE_OK) {
        egide_auditverify_finish(v, &r);
        if (r.ok || r.unanchored) /* a tampered row count is the better report */
            rc = s_check_counts(vc, events, &r);
    }
    if (rc == EGIDE_OK) {
        egide_auditverify_finish(v, &r);
        if (rep)
            *rep = r;
        if (!r.ok)
            rc = EGIDE_ERR_CONSISTENCY;
    }
    free(vc);
    egide_auditverify_destroy(&v);
    return rc;
}
