/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_oblig.h - the edge's obligation engine: what a message stored in the
 * inbox or queued in the outbox opens, closes or releases among the legal
 * obligations held at this node, in the message's own transaction.
 *
 * Who holds an obligation (the profile's actor / actor_roles, see
 * egide_deadline.h): this node, with role "act", when it is the party that
 * must act (a recipient of the starting message whose role is listed, or
 * its sender for actor = sender); or this node with role "oversee" when its
 * own role is crip, it is a party (sender or recipient) of the starting
 * message and another party must act.  Never a node that only sent or was
 * copied.  One row per (case, name, year): the first start is kept, so an
 * evaluation.assignment does not move the clock the referral started.
 * Except a recurring deadline, one whose starting type also closes it (the
 * next situation report): each such message closes the running occurrence,
 * then opens the next one (occurrence 1, 2, ... in the store).
 *
 * Clock origin: a CRIP receiving a referral records its own receipt time
 * (to the second, the precision payload date-times carry) as the case's
 * origin, and the payload's received_at beside it (declared); a message
 * carrying ip_received_at (an evaluation.assignment at a TAS) gives the
 * origin.  Deadlines with from = ip_received start at the case's origin.
 *
 * Closing: a message of a closed_by type in the case closes the case's open
 * rows of that name (met when on or before due, else late); for a yearly
 * deadline only the row of the year the payload names.  A RECEIVED message
 * closes only when its sender is a party that may: the row's actor, a node
 * this one addressed in the case, or a node of a role this one addressed
 * nobody of in the case (a court's decision).  So a territory never
 * assigned the case, or another parquet, cannot close the CRIP's clocks by
 * naming its case reference or replying into it: its message joins the
 * case (it is shown there) but closes nothing, and a notice says so.  Releasing: a
 * message of a released_by type SENT by this node releases its own "act"
 * row of that name (others' copies stay as they are).
 */
#ifndef EGIDE_EDGE_OBLIG_H
#define EGIDE_EDGE_OBLIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_store.h"
#include "egide/domain/egide_deadline.h"
#include "egide/domain/egide_payload.h"

/* A message as the engine sees it.  Borrowed pointers. */
typedef struct edge_oblig_msg {
    const uint8_t *msg_id;         /* 16 bytes */
    const char *type;              /* message type */
    bool sent;                     /* this node sent it (outbox); false: received */
    const char *sender_id;         /* its sender */
    const char *sender_role;       /* the sender's directory role, NULL/"" = unknown */
    const char *const *rcpt_ids;   /* its recipients */
    const char *const *rcpt_roles; /* their roles (NULL entries = unknown) */
    size_t n_rcpt;                 /* how many */
    int64_t case_id;               /* from inbox_put / outbox_add; <= 0: nothing done */
    int64_t time_ms;               /* this node's clock: received (inbox) or created (outbox) */
    const egide_payload_facts_t *facts; /* NULL = none known */
} edge_oblig_msg_t;

/* This node as the engine needs it. */
typedef struct edge_oblig_self {
    const egide_deadline_profile_t *profile; /* NULL: nothing is done */
    const char *node_id;
    const char *role; /* this node's directory role */
    /* The directory role of a node into buf ("" when unknown); NULL = no
     * roles known (then only the actor and the nodes this one addressed in
     * the case may close its obligations). */
    void (*role_of)(void *arg, const char *node_id, char *buf, size_t size);
    void *role_arg;
} edge_oblig_self_t;

/* Open, close and release on st what m does at this node (see above), in
 * the caller's transaction.  Returns EGIDE_OK (also when nothing applies),
 * EGIDE_ERR_INVALID for NULL arguments, or the store's error (transient:
 * the caller rolls the message back with it). */
egide_rc edge_oblig_note(const edge_oblig_self_t *self, edge_store_t *st,
                         const edge_oblig_msg_t *m);

#endif
