/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_out.c - the frames a batch of handled frames wants to send, held
 * until the COMMIT covering them returned: a receipt must never leave
 * before what it vouches for is durable.  After a rollback they are
 * dropped, and the broker delivers or relays again.  Every frame is built
 * by egide_frame.
 */
#include "edge.h"

#include <stdlib.h>
#include <string.h>

#include "egide/base/egide_log.h"
#include "egide/wire/egide_frame.h"

egide_rc edge_out_receipt(edge_out_t *o, const uint8_t *rcpt, size_t len)
{
    if (!o || !rcpt || !len)
        return EGIDE_ERR_INVALID;
    if (o->n >= EDGE_OUT_MAX)
        return EGIDE_ERR_LIMIT; /* the broker redelivers; nothing is lost */
    egide_rc rc = egide_frame_receipt(0, 0, rcpt, len, &o->data[o->n], &o->len[o->n]);
    if (!rc)
        o->n++;
    return rc;
}

void edge_out_ack(edge_out_t *o, uint64_t relay_id)
{
    if (o && relay_id && o->n_acks < EDGE_OUT_MAX)
        o->acks[o->n_acks++] = relay_id;
}

void edge_out_take(edge_out_t *o, size_t i, uint8_t **frame, size_t *len)
{
    *frame = NULL;
    *len = 0;
    if (!o || i >= o->n || !o->data[i])
        return;
    *frame = o->data[i];
    *len = o->len[i];
    o->data[i] = NULL;
}

static void s_send(edge_t *e, const uint8_t *data, size_t len)
{
    egide_rc rc = egide_transport_send_raw(e->dealer, NULL, 0, data, len);
    if (rc)
        egide_log(EGIDE_LOG_DEBUG, "frame not sent now (%s): the broker will ask again",
                  egide_strerror(rc));
}

void edge_out_flush(edge_t *e, edge_out_t *o, bool send)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->n; i++) {
        if (send && o->data[i])
            s_send(e, o->data[i], o->len[i]);
        free(o->data[i]);
        o->data[i] = NULL;
    }
    /* The acknowledgements last, as one frame. */
    if (send && o->n_acks) {
        uint8_t *f = NULL;
        size_t fl = 0;
        if (egide_frame_ack(0, o->acks, o->n_acks, &f, &fl) == EGIDE_OK) {
            s_send(e, f, fl);
            atomic_fetch_add(&e->m.acks_sent, o->n_acks);
        }
        free(f);
    }
    o->n = 0;
    o->n_acks = 0;
}
