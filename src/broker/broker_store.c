/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * broker_store.c - the backend-independent half of the broker store: the
 * list of backends, argument checks done once for all of them (so every
 * backend refuses the same bad input the same way), the state names and the
 * functions that free returned lists.  The SQL is in broker_store_sqlite.c
 * and broker_store_pg.c.
 */
#include "broker_store.h"

#include <stdlib.h>
#include <string.h>

#include "egide/base/egide_log.h"

struct broker_store {
    const broker_store_ops_t *ops; /* the backend */
    void *impl;                    /* its state */
    bool reader;                   /* opened read-only */
    bool wrote;                    /* a write call since the last begin */
};

#define LIST_MAX 4096 /* largest list one call returns */

const broker_store_ops_t *const broker_store_backends[] = {&broker_store_sqlite_ops,
                                                           &broker_store_pg_ops, NULL};

const broker_store_ops_t *broker_store_backend_named(const char *name)
{
    for (size_t i = 0; name && broker_store_backends[i]; i++)
        if (strcmp(broker_store_backends[i]->name, name) == 0)
            return broker_store_backends[i];
    return NULL;
}

const char *broker_delivery_state_name(broker_delivery_state s)
{
    /* Indexed by the stored numbers (broker_store.h). */
    static const char *const names[] = {"queued", "delivered", "rejected", "expired"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}

void broker_stored_clear(broker_stored_t *s)
{
    if (!s)
        return;
    free(s->receipt);
    memset(s, 0, sizeof *s);
}

void broker_due_free(broker_due_t *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++)
        free(items[i].data);
    free(items);
}

void broker_expiring_free(broker_expiring_t *items)
{
    free(items);
}

/* A node id the store can hold: non-empty and short enough. */
static bool s_id_ok(const char *id)
{
    return id && id[0] && strlen(id) < BROKER_STORE_ID_MAX;
}

static bool s_list_ok(size_t limit, void *items, const size_t *n)
{
    return limit >= 1 && limit <= LIST_MAX && items && n;
}

egide_rc broker_store_open(const broker_store_ops_t *ops, const char *location, bool reader,
                           broker_store_t **out)
{
    if (!out || !location || !location[0])
        return EGIDE_ERR_INVALID;
    *out = NULL;
    if (!ops)
        ops = &broker_store_sqlite_ops;
    broker_store_t *s = calloc(1, sizeof *s);
    if (!s)
        return EGIDE_ERR_NOMEM;
    s->ops = ops;
    s->reader = reader;
    egide_rc rc = ops->open(location, reader, &s->impl);
    if (rc) {
        free(s);
        return rc;
    }
    *out = s;
    return EGIDE_OK;
}

egide_rc broker_store_open_reader(broker_store_t *s, broker_store_t **out)
{
    if (!s || !out)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    char where[4096];
    egide_rc rc = s->ops->location(s->impl, where, sizeof where);
    if (rc)
        return rc;
    return broker_store_open(s->ops, where, true, out);
}

void broker_store_close(broker_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    broker_store_t *s = *self_p;
    s->ops->close(s->impl);
    free(s);
    *self_p = NULL;
}

const char *broker_store_backend(const broker_store_t *s)
{
    return s ? s->ops->name : "";
}

egide_auditlog_t *broker_store_audit(broker_store_t *s)
{
    egide_auditlog_t *log = NULL;
    if (!s || s->ops->audit(s->impl, &log) != EGIDE_OK)
        return NULL;
    return log;
}

egide_rc broker_store_location(broker_store_t *s, char *out, size_t size)
{
    if (!s || !out || size == 0)
        return EGIDE_ERR_INVALID;
    return s->ops->location(s->impl, out, size);
}

egide_rc broker_store_begin(broker_store_t *s)
{
    if (s)
        s->wrote = false;
    return s ? s->ops->begin(s->impl) : EGIDE_ERR_INVALID;
}

bool broker_store_wrote(const broker_store_t *s)
{
    return s && s->wrote;
}

egide_rc broker_store_commit(broker_store_t *s)
{
    return s ? s->ops->commit(s->impl) : EGIDE_ERR_INVALID;
}

void broker_store_rollback(broker_store_t *s)
{
    if (s)
        s->ops->rollback(s->impl);
}

/* Writes are refused on a reader handle before the backend sees them. */
#define WRITER_OK(s) s_writer(s)

/* A writer handle (and the transaction now has a write to commit). */
static bool s_writer(broker_store_t *s)
{
    if (!s || s->reader)
        return false;
    s->wrote = true;
    return true;
}

egide_rc broker_store_accept(broker_store_t *s, const broker_accept_t *a)
{
    if (!WRITER_OK(s) || !a || !a->msg_id || !a->sha256 || !s_id_ok(a->sender_id) ||
        a->sender_seq == 0 || a->sender_seq > INT64_MAX || !a->type || !a->type[0] ||
        strlen(a->type) >= BROKER_STORE_TYPE_MAX || !a->data || a->len == 0 ||
        a->len > EGIDE_MAX_ENVELOPE || !a->receipt || a->receipt_len == 0 || !a->recipients ||
        a->n_recipients == 0 || a->n_recipients > EGIDE_MAX_RECIPIENTS || a->leaf_index > INT64_MAX)
        return EGIDE_ERR_INVALID;
    for (size_t i = 0; i < a->n_recipients; i++)
        if (!s_id_ok(a->recipients[i]))
            return EGIDE_ERR_INVALID;
    return s->ops->accept(s->impl, a);
}

egide_rc broker_store_envelope_find(broker_store_t *s, const uint8_t *msg_id, broker_stored_t *out)
{
    if (!s || !msg_id || !out)
        return EGIDE_ERR_INVALID;
    memset(out, 0, sizeof *out);
    return s->ops->envelope_find(s->impl, msg_id, out);
}

egide_rc broker_store_rejection_put(broker_store_t *s, const uint8_t *msg_id, const uint8_t *sha256,
                                    const uint8_t *receipt, size_t len, int64_t now_ms)
{
    if (!WRITER_OK(s) || !msg_id || !sha256 || !receipt || len == 0)
        return EGIDE_ERR_INVALID;
    return s->ops->rejection_put(s->impl, msg_id, sha256, receipt, len, now_ms);
}

egide_rc broker_store_rejection_find(broker_store_t *s, const uint8_t *msg_id,
                                     const uint8_t *sha256, broker_stored_t *out)
{
    if (!s || !msg_id || !sha256 || !out)
        return EGIDE_ERR_INVALID;
    memset(out, 0, sizeof *out);
    return s->ops->rejection_find(s->impl, msg_id, sha256, out);
}

egide_rc broker_store_sender_max_seq(broker_store_t *s, const char *sender_id, uint64_t *max)
{
    if (!s || !s_id_ok(sender_id) || !max)
        return EGIDE_ERR_INVALID;
    *max = 0;
    return s->ops->sender_max_seq(s->impl, sender_id, max);
}

egide_rc broker_store_sender_seq_used(broker_store_t *s, const char *sender_id, uint64_t seq,
                                      bool *used)
{
    if (!s || !s_id_ok(sender_id) || !used || seq > INT64_MAX)
        return EGIDE_ERR_INVALID;
    *used = false;
    return s->ops->sender_seq_used(s->impl, sender_id, seq, used);
}

egide_rc broker_store_delivery_get(broker_store_t *s, const uint8_t *msg_id,
                                   const char *recipient_id, broker_delivery_t *out)
{
    if (!s || !msg_id || !s_id_ok(recipient_id) || !out)
        return EGIDE_ERR_INVALID;
    memset(out, 0, sizeof *out);
    return s->ops->delivery_get(s->impl, msg_id, recipient_id, out);
}

egide_rc broker_store_deliveries_due(broker_store_t *s, const char *recipient_id, int64_t now_ms,
                                     size_t limit, broker_due_t **items, size_t *n)
{
    if (!s || !s_id_ok(recipient_id) || !s_list_ok(limit, items, n))
        return EGIDE_ERR_INVALID;
    *items = NULL;
    *n = 0;
    return s->ops->deliveries_due(s->impl, recipient_id, now_ms, limit, items, n);
}

egide_rc broker_store_delivery_attempted(broker_store_t *s, const uint8_t *msg_id,
                                         const char *recipient_id, int64_t next_ms)
{
    if (!WRITER_OK(s) || !msg_id || !s_id_ok(recipient_id))
        return EGIDE_ERR_INVALID;
    return s->ops->delivery_attempted(s->impl, msg_id, recipient_id, next_ms);
}

egide_rc broker_store_delivery_finish(broker_store_t *s, const uint8_t *msg_id,
                                      const char *recipient_id, broker_delivery_state state,
                                      const uint8_t *receipt, size_t len, int64_t now_ms)
{
    if (!WRITER_OK(s) || !msg_id || !s_id_ok(recipient_id) || !receipt || len == 0 ||
        (state != BROKER_DELIVERY_DELIVERED && state != BROKER_DELIVERY_REJECTED &&
         state != BROKER_DELIVERY_EXPIRED))
        return EGIDE_ERR_INVALID;
    return s->ops->delivery_finish(s->impl, msg_id, recipient_id, state, receipt, len, now_ms);
}

egide_rc broker_store_deliveries_expiring(broker_store_t *s, int64_t now_ms, size_t limit,
                                          broker_expiring_t **items, size_t *n)
{
    if (!s || !s_list_ok(limit, items, n))
        return EGIDE_ERR_INVALID;
    *items = NULL;
    *n = 0;
    return s->ops->deliveries_expiring(s->impl, now_ms, limit, items, n);
}

egide_rc broker_store_node_wake(broker_store_t *s, const char *node_id)
{
    if (!WRITER_OK(s) || !s_id_ok(node_id))
        return EGIDE_ERR_INVALID;
    return s->ops->node_wake(s->impl, node_id);
}

egide_rc broker_store_relay_queue(broker_store_t *s, const char *sender_id, const char *issuer,
                                  const uint8_t *msg_id, const uint8_t *receipt, size_t len,
                                  int64_t now_ms, uint64_t *id)
{
    if (!WRITER_OK(s) || !s_id_ok(sender_id) || !s_id_ok(issuer) || !msg_id || !receipt ||
        len == 0 || !id)
        return EGIDE_ERR_INVALID;
    *id = 0;
    return s->ops->relay_queue(s->impl, sender_id, issuer, msg_id, receipt, len, now_ms, id);
}

egide_rc broker_store_relays_due(broker_store_t *s, const char *sender_id, int64_t now_ms,
                                 size_t limit, broker_due_t **items, size_t *n)
{
    if (!s || !s_id_ok(sender_id) || !s_list_ok(limit, items, n))
        return EGIDE_ERR_INVALID;
    *items = NULL;
    *n = 0;
    return s->ops->relays_due(s->impl, sender_id, now_ms, limit, items, n);
}

egide_rc broker_store_relay_attempted(broker_store_t *s, uint64_t id, int64_t next_ms)
{
    if (!WRITER_OK(s) || id == 0 || id > INT64_MAX)
        return EGIDE_ERR_INVALID;
    return s->ops->relay_attempted(s->impl, id, next_ms);
}

egide_rc broker_store_relay_ack(broker_store_t *s, uint64_t id, const char *sender_id,
                                broker_relay_acked_t *out)
{
    if (!WRITER_OK(s) || !s_id_ok(sender_id) || !out)
        return EGIDE_ERR_INVALID;
    memset(out, 0, sizeof *out);
    if (id == 0 || id > INT64_MAX)
        return EGIDE_ERR_NOTFOUND; /* a peer's Ack may carry anything */
    return s->ops->relay_ack(s->impl, id, sender_id, out);
}

egide_rc broker_store_counts(broker_store_t *s, uint64_t *queued, uint64_t *relays)
{
    if (!s || !queued || !relays)
        return EGIDE_ERR_INVALID;
    *queued = *relays = 0;
    return s->ops->counts(s->impl, queued, relays);
}

egide_rc broker_store_redeliver_start(broker_store_t *s, const char *recipient_id,
                                      const uint8_t *held_msg_id, broker_redeliver_cursor_t *cur)
{
    if (!s || !s_id_ok(recipient_id) || !held_msg_id || !cur)
        return EGIDE_ERR_INVALID;
    memset(cur, 0, sizeof *cur);
    return s->ops->redeliver_start(s->impl, recipient_id, held_msg_id, cur);
}

egide_rc broker_store_redeliver_page(broker_store_t *s, const char *recipient_id,
                                     broker_redeliver_cursor_t *cur, size_t limit, int64_t now_ms,
                                     size_t *n)
{
    if (!WRITER_OK(s) || !s_id_ok(recipient_id) || !cur || !n || limit == 0 || limit > LIST_MAX)
        return EGIDE_ERR_INVALID;
    *n = 0;
    return s->ops->redeliver_page(s->impl, recipient_id, cur, limit, now_ms, n);
}

egide_rc broker_store_redeliver_resume(broker_store_t *s, const char *recipient_id,
                                       broker_redeliver_cursor_t *cur)
{
    if (!s || !s_id_ok(recipient_id) || !cur)
        return EGIDE_ERR_INVALID;
    memset(cur, 0, sizeof *cur);
    return s->ops->redeliver_resume(s->impl, recipient_id, cur);
}

egide_rc broker_store_redeliveries_due(broker_store_t *s, const char *recipient_id, int64_t now_ms,
                                       size_t limit, broker_due_t **items, size_t *n)
{
    if (!s || !s_id_ok(recipient_id) || !s_list_ok(limit, items, n))
        return EGIDE_ERR_INVALID;
    *items = NULL;
    *n = 0;
    return s->ops->redeliveries_due(s->impl, recipient_id, now_ms, limit, items, n);
}

egide_rc broker_store_redelivery_attempted(broker_store_t *s, const uint8_t *msg_id,
                                           const char *recipient_id, int64_t next_ms)
{
    if (!WRITER_OK(s) || !msg_id || !s_id_ok(recipient_id))
        return EGIDE_ERR_INVALID;
    return s->ops->redelivery_attempted(s->impl, msg_id, recipient_id, next_ms);
}

egide_rc broker_store_redelivery_done(broker_store_t *s, const uint8_t *msg_id,
                                      const char *recipient_id)
{
    if (!WRITER_OK(s) || !msg_id || !s_id_ok(recipient_id))
        return EGIDE_ERR_INVALID;
    return s->ops->redelivery_done(s->impl, msg_id, recipient_id);
}

egide_rc broker_store_lease(broker_store_t *s, const char *holder, int64_t ttl_ms, uint64_t *epoch)
{
    if (!WRITER_OK(s) || !s_id_ok(holder) || ttl_ms < 0 || ttl_ms > 86400000 || !epoch)
        return EGIDE_ERR_INVALID;
    if (!s->ops->lease)
        return EGIDE_ERR_NOTFOUND;
    return s->ops->lease(s->impl, holder, ttl_ms, epoch);
}

egide_rc broker_store_inject_fault(broker_store_t *s, int nth_write)
{
    if (!s || nth_write < 0)
        return EGIDE_ERR_INVALID;
    if (!s->ops->inject_fault)
        return EGIDE_ERR_STATE;
    s->ops->inject_fault(s->impl, nth_write);
    return EGIDE_OK;
}

egide_rc broker_store_set_wait(broker_store_t *s, broker_store_wait_fn fn, void *arg)
{
    if (!s)
        return EGIDE_ERR_INVALID;
    if (!s->ops->set_wait)
        return EGIDE_ERR_STATE;
    s->ops->set_wait(s->impl, fn, arg);
    return EGIDE_OK;
}
