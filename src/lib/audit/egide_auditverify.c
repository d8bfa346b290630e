/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_auditverify.c - streaming recomputation of an audit log's Merkle
 * tree with checkpoint and per-message checks (see the header).
 *
 * The tree is kept as its right spine: spine[L] is the hash of the complete
 * subtree of height L covering the leaves just before the current size, for
 * every bit L set in the size.  Appending merges exactly like the stored-hash
 * table is filled, so each formed hash can be compared with the stored one.
 */
#include "egide/audit/egide_auditverify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egide/protocol/egide_checkpoint.h"
#include "egide/base/egide_limits.h"
#include "egide/audit/egide_merkle.h"
#include "egide/base/egide_util.h"
#include "egide/wire/egide_wire.h"

#define S_MAX_CHECKPOINTS 1000000u

/* One checkpoint waiting for the tree to reach its size. */
typedef struct s_cp {
    uint64_t size;    /* tree size it signs */
    uint8_t root[32]; /* root it signs */
} s_cp_t;

/* One msg_id seen, with the envelope hash of its first event. */
typedef struct s_msg {
    uint8_t id[16];  /* msg_id */
    uint8_t env[32]; /* envelope hash of the first event that had one */
    uint64_t first;  /* index of that event */
    uint8_t used;    /* slot in use */
    uint8_t has_env; /* env is set */
} s_msg_t;

/* Invariants: size leaves added; spine[L] valid for every bit L of size;
 * cps sorted (once `sorted`) and next_cp the first with size > the last
 * checked size; failed set once problem/bad_index are. */
struct egide_auditverify {
    char key_name[EGIDE_CHECKPOINT_MAX_ORIGIN + 1]; /* "" = the note's origin */
    char origin[EGIDE_CHECKPOINT_MAX_ORIGIN + 1];   /* "" = not pinned yet */
    EVP_PKEY *pub;                                  /* borrowed, may be NULL */
    bool events;                                    /* decode leaves as AuditEvents */
    uint64_t size;                                  /* leaves added */
    uint8_t spine[64][32];                          /* right spine, by level */
    s_cp_t *cps;                                    /* checkpoints (owned) */
    size_t ncps, capcps, next_cp;                   /* count, capacity, cursor */
    bool sorted;                                    /* cps sorted, no more adds */
    uint64_t last_ok_size;                          /* largest size matched so far */
    uint64_t cps_ok;                                /* checkpoints matched */
    s_msg_t *msgs;                                  /* open-addressing table (owned) */
    size_t nmsgs, capmsgs;                          /* used, slots (power of two) */
    egide_auditverify_hash_fn on_hash;              /* optional */
    egide_auditverify_event_fn on_event;            /* optional */
    void *hook_ctx;                                 /* for the hooks */
    bool failed;                                    /* a problem is recorded */
    uint64_t bad_index;                             /* first bad entry */
    uint64_t bad_end;                               /* 0, or end of the bad range */
    char problem[256];                              /* what */
};

egide_auditverify_t *egide_auditverify_new(const char *key_name, EVP_PKEY *pub, const char *origin,
                                           bool events)
{
    egide_auditverify_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if ((key_name && egide_strlcpy(self->key_name, key_name, sizeof self->key_name) != EGIDE_OK) ||
        (origin && egide_strlcpy(self->origin, origin, sizeof self->origin) != EGIDE_OK)) {
        free(self);
        return NULL;
    }
    self->pub = pub;
    self->events = events;
    self->bad_index = EGIDE_AUDITVERIFY_NO_INDEX;
    return self;
}

void egide_auditverify_destroy(egide_auditverify_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->cps);
    free((*self_p)->msgs);
    free(*self_p);
    *self_p = NULL;
}

void egide_auditverify_set_hooks(egide_auditverify_t *self, egide_auditverify_hash_fn on_hash,
                                 egide_auditverify_event_fn on_event, void *ctx)
{
    if (!self)
        return;
    self->on_hash = on_hash;
    self->on_event = on_event;
    self->hook_ctx = ctx;
}

void egide_auditverify_fail(egide_auditverify_t *self, uint64_t bad_index, const char *problem)
{
    if (!self || self->failed)
        return;
    self->failed = true;
    self->bad_index = bad_index;
    egide_strlcpy(self->problem, problem ? problem : "failed", sizeof self->problem);
}

egide_rc egide_auditverify_add_checkpoint(egide_auditverify_t *self, const char *note, size_t len)
{
    if (!self || !note)
        return EGIDE_ERR_INVALID;
    if (self->failed)
        return EGIDE_ERR_CONSISTENCY;
    if (self->sorted)
        return EGIDE_ERR_STATE;
    if (self->ncps >= S_MAX_CHECKPOINTS)
        return EGIDE_ERR_LIMIT;
    char why[256];
    egide_checkpoint_t cp;
    egide_rc rc = egide_checkpoint_parse(note, len, &cp);
    if (rc != EGIDE_OK) {
        (void)snprintf(why, sizeof why, "checkpoint #%zu is malformed (%s)", self->ncps + 1,
                       egide_strerror(rc));
        egide_auditverify_fail(self, EGIDE_AUDITVERIFY_NO_INDEX, why);
        return EGIDE_ERR_CONSISTENCY;
    }
    if (self->origin[0] == '\0')
        memcpy(self->origin, cp.origin, sizeof self->origin);
    if (strcmp(self->origin, cp.origin) != 0) {
        (void)snprintf(why, sizeof why, "checkpoint of size %llu has another origin",
                       (unsigned long long)cp.size);
        egide_auditverify_fail(self, EGIDE_AUDITVERIFY_NO_INDEX, why);
        return EGIDE_ERR_CONSISTENCY;
    }
    if (self->pub) {
        const char *name = self->key_name[0] ? self->key_name : cp.origin;
        if (egide_checkpoint_verify(note, len, name, self->pub, NULL) != EGIDE_OK) {
            (void)snprintf(why, sizeof why,
                           "checkpoint of size %llu is not signed by the anchored broker key",
                           (unsigned long long)cp.size);
            egide_auditverify_fail(self, EGIDE_AUDITVERIFY_NO_INDEX, why);
            return EGIDE_ERR_CONSISTENCY;
        }
    }
    if (self->ncps == self->capcps) {
        size_t ncap = self->capcps ? self->capcps * 2 : 16;
        s_cp_t *p = realloc(self->cps, ncap * sizeof *p);
        if (!p)
            return EGIDE_ERR_NOMEM;
        self->cps = p;
        self->capcps = ncap;
    }
    self->cps[self->ncps].size = cp.size;
    memcpy(self->cps[self->ncps].root, cp.root, 32);
    self->ncps++;
    return EGIDE_OK;
}

static int s_cp_cmp(const void *a, const void *b)
{
    uint64_t x = ((const s_cp_t *)a)->size, y = ((const s_cp_t *)b)->size;
    return x < y ? -1 : x > y;
}

static void s_root(const egide_auditverify_t *self, uint8_t out[32])
{
    if (self->size == 0) {
        egide_merkle_empty_root(out);
        return;
    }
    int have = 0;
    for (unsigned l = 0; l < 64; l++) {
        if (!((self->size >> l) & 1))
            continue;
        if (!have) {
            memcpy(out, self->spine[l], 32);
            have = 1;
        } else {
            egide_merkle_node_hash(self->spine[l], out, out);
        }
    }
}

/* Compare every checkpoint of exactly the current size. */
static egide_rc s_check_cps(egide_auditverify_t *self)
{
    if (!self->sorted) {
        if (self->ncps)
            qsort(self->cps, self->ncps, sizeof *self->cps, s_cp_cmp);
        self->sorted = true;
    }
    while (self->next_cp < self->ncps && self->cps[self->next_cp].size <= self->size) {
        const s_cp_t *cp = &self->cps[self->next_cp];
        if (cp->size == self->size) {
            uint8_t root[32];
            s_root(self, root);
            if (!egide_ct_equal(root, cp->root, 32)) {
                char why[256];
                (void)snprintf(
                    why, sizeof why,
                    "the entries do not match the signed checkpoint of size %llu: an entry "
                    "since the last matching checkpoint was changed, removed or reordered",
                    (unsigned long long)cp->size);
                egide_auditverify_fail(self, self->last_ok_size, why);
                self->bad_end = cp->size;
                return EGIDE_ERR_CONSISTENCY;
            }
            self->last_ok_size = cp->size;
            self->cps_ok++;
        }
        self->next_cp++;
    }
    return EGIDE_OK;
}

static uint64_t s_msg_hash(const uint8_t id[16])
{
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < 16; i++)
        h = (h ^ id[i]) * 1099511628211ULL;
    return h;
}

static egide_rc s_msg_grow(egide_auditverify_t *self)
{
    size_t ncap = self->capmsgs ? self->capmsgs * 2 : 1024;
    s_msg_t *n = calloc(ncap, sizeof *n);
    if (!n)
        return EGIDE_ERR_NOMEM;
    for (size_t i = 0; i < self->capmsgs; i++) {
        if (!self->msgs[i].used)
            continue;
        size_t j = (size_t)s_msg_hash(self->msgs[i].id) & (ncap - 1);
        while (n[j].used)
            j = (j + 1) & (ncap - 1);
        n[j] = self->msgs[i];
    }
    free(self->msgs);
    self->msgs = n;
    self->capmsgs = ncap;
    return EGIDE_OK;
}

static egide_rc s_check_event(egide_auditverify_t *self, uint64_t index, const uint8_t *leaf,
                              size_t len)
{
    char why[256];
    void *m = NULL;
    const char *detail = NULL;
    egide_rc rc = egide_wire_unpack(EGIDE_WIRE_AUDIT_EVENT, leaf, len, &m, &detail);
    if (rc != EGIDE_OK) {
        (void)snprintf(why, sizeof why, "entry %llu is not a valid audit event (%s)",
                       (unsigned long long)index, detail ? detail : egide_strerror(rc));
        egide_auditverify_fail(self, index, why);
        return EGIDE_ERR_CONSISTENCY;
    }
    const Egide__V1__AuditEvent *ev = m;
    rc = EGIDE_OK;
    if (ev->envelope_sha256.len != 0 && ev->envelope_sha256.len != 32) {
        (void)snprintf(why, sizeof why, "entry %llu has an envelope hash that is not 32 bytes",
                       (unsigned long long)index);
        egide_auditverify_fail(self, index, why);
        rc = EGIDE_ERR_CONSISTENCY;
    }
    if (rc == EGIDE_OK && ev->msg_id.len == 16) {
        if ((self->nmsgs + 1) * 2 > self->capmsgs)
            rc = s_msg_grow(self);
        if (rc == EGIDE_OK) {
            size_t j = (size_t)s_msg_hash(ev->msg_id.data) & (self->capmsgs - 1);
            while (self->msgs[j].used && memcmp(self->msgs[j].id, ev->msg_id.data, 16) != 0)
                j = (j + 1) & (self->capmsgs - 1);
            s_msg_t *e = &self->msgs[j];
            if (!e->used) {
                e->used = 1;
                memcpy(e->id, ev->msg_id.data, 16);
                self->nmsgs++;
            }
            if (ev->envelope_sha256.len == 32) {
                if (!e->has_env) {
                    e->has_env = 1;
                    memcpy(e->env, ev->envelope_sha256.data, 32);
                    e->first = index;
                } else if (memcmp(e->env, ev->envelope_sha256.data, 32) != 0) {
                    (void)snprintf(
                        why, sizeof why,
                        "entry %llu carries another envelope hash than entry %llu for the "
                        "same msg_id",
                        (unsigned long long)index, (unsigned long long)e->first);
                    egide_auditverify_fail(self, index, why);
                    rc = EGIDE_ERR_CONSISTENCY;
                }
            }
        }
    }
    if (rc == EGIDE_OK && self->on_event) {
        char hw[160] = "";
        if (self->on_event(self->hook_ctx, index, ev, hw) != EGIDE_OK) {
            egide_auditverify_fail(self, index, hw[0] ? hw : "event check failed");
            rc = EGIDE_ERR_CONSISTENCY;
        }
    }
    egide_wire_free(EGIDE_WIRE_AUDIT_EVENT, m);
    return rc;
}

static egide_rc s_formed(egide_auditverify_t *self, unsigned level, uint64_t index,
                         const uint8_t h[32])
{
    if (!self->on_hash)
        return EGIDE_OK;
    char hw[160] = "";
    egide_rc rc = self->on_hash(self->hook_ctx, level, index, h, hw);
    if (rc == EGIDE_OK)
        return EGIDE_OK;
    uint64_t first = index << level, end = (index + 1) << level;
    if (level == 0 || rc == EGIDE_ERR_NOTFOUND) {
        /* The entry itself, or the entry whose append wrote the missing hash. */
        egide_auditverify_fail(self, end - 1, hw[0] ? hw : "stored hash differs");
        return EGIDE_ERR_CONSISTENCY;
    }
    /* Every hash below this one matched its stored copy, this one does not:
     * either this stored hash was changed, or an entry under it was changed
     * together with the stored hashes on its path (its leaf hash...).  The
     * hashes cannot tell which, so the range under it is named. */
    char why[256];
    (void)snprintf(why, sizeof why,
                   "%s: one of entries %llu to %llu was changed with its stored leaf hash, or "
                   "that stored hash was changed",
                   hw[0] ? hw : "a stored hash differs", (unsigned long long)first,
                   (unsigned long long)(end - 1));
    egide_auditverify_fail(self, first, why);
    self->bad_end = end;
    return EGIDE_ERR_CONSISTENCY;
}

egide_rc egide_auditverify_add_leaf(egide_auditverify_t *self, uint64_t index, const uint8_t *leaf,
                                    size_t len, const uint8_t *stored_leaf_hash)
{
    if (!self || (len && !leaf))
        return EGIDE_ERR_INVALID;
    if (self->failed)
        return EGIDE_ERR_CONSISTENCY;
    char why[256];
    egide_rc rc = s_check_cps(self); /* also sorts before the first leaf (size 0) */
    if (rc != EGIDE_OK)
        return rc;
    if (index != self->size) {
        (void)snprintf(why, sizeof why, "entry %llu is missing (next stored entry is %llu)",
                       (unsigned long long)self->size, (unsigned long long)index);
        egide_auditverify_fail(self, self->size, why);
        return EGIDE_ERR_CONSISTENCY;
    }
    if (self->size == UINT64_MAX >> 1)
        return EGIDE_ERR_LIMIT;
    uint8_t h[32];
    egide_merkle_leaf_hash(leaf, len, h);
    if (stored_leaf_hash && !egide_ct_equal(h, stored_leaf_hash, 32)) {
        (void)snprintf(why, sizeof why, "entry %llu does not match its recorded leaf hash",
                       (unsigned long long)index);
        egide_auditverify_fail(self, index, why);
        return EGIDE_ERR_CONSISTENCY;
    }
    if (self->events && (rc = s_check_event(self, index, leaf, len)) != EGIDE_OK)
        return rc;
    if ((rc = s_formed(self, 0, index, h)) != EGIDE_OK)
        return rc;
    unsigned l = 0;
    uint64_t n = self->size;
    while (n & 1) {
        egide_merkle_node_hash(self->spine[l], h, h);
        n >>= 1;
        l++;
        if ((rc = s_formed(self, l, n, h)) != EGIDE_OK)
            return rc;
    }
    memcpy(self->spine[l], h, 32);
    self->size++;
    return s_check_cps(self);
}

egide_rc egide_auditverify_finish(egide_auditverify_t *self, egide_auditverify_report_t *rep)
{
    if (!self)
        return EGIDE_ERR_INVALID;
    if (!self->failed)
        s_check_cps(self);
    if (!self->failed && self->next_cp < self->ncps) {
        char why[256];
        (void)snprintf(
            why, sizeof why,
            "a signed checkpoint covers %llu entries but only %llu are present: entry %llu "
            "and later were removed",
            (unsigned long long)self->cps[self->ncps - 1].size, (unsigned long long)self->size,
            (unsigned long long)self->size);
        egide_auditverify_fail(self, self->size, why);
    }
    /* With an anchor, entries that no signed checkpoint covers prove nothing:
     * anyone with write access to the log could have made all of them.  Not
     * recorded as `failed`, so that a problem found later by the caller
     * (egide_auditlog_verify_all's row counts) is still the one reported. */
    bool unanchored = !self->failed && self->pub && self->size > 0 && self->cps_ok == 0;
    if (rep) {
        memset(rep, 0, sizeof *rep);
        rep->size = self->size;
        rep->checkpoints = self->cps_ok;
        rep->signed_size = self->last_ok_size;
        rep->messages = self->nmsgs;
        s_root(self, rep->root);
        rep->ok = !self->failed && !unanchored;
        rep->unanchored = unanchored;
        rep->bad_index = self->bad_index;
        rep->bad_end = self->bad_end;
        egide_strlcpy(rep->problem, self->problem, sizeof rep->problem);
        if (unanchored)
            (void)snprintf(rep->problem, sizeof rep->problem,
                           "no checkpoint signed by the anchored broker key covers any of the "
                           "%llu entries: nothing proves they are the broker's",
                           (unsigned long long)self->size);
    }
    return self->failed || unanchored ? EGIDE_ERR_CONSISTENCY : EGIDE_OK;
}
