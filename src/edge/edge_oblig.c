/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_oblig.c - the obligation engine (edge_oblig.h): a message stored or
 * queued here opens, closes and releases stored obligation rows in its own
 * transaction, from the jurisdiction profile's deadlines and the parties'
 * directory roles.  Nothing here reads the clock or the whole store: every
 * step touches the rows of one case (or one year) through the store's
 * indexed operations.
 */
#include "edge_oblig.h"

#include <stdlib.h>
#include <string.h>

#include "egide/base/egide_date.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"

static bool s_is(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* The node that must act for d among the parties of m, or NULL; *self_acts
 * says whether it is this node. */
static const char *s_actor(const edge_oblig_self_t *self, const edge_oblig_msg_t *m,
                           const egide_deadline_t *d, bool *self_acts)
{
    *self_acts = false;
    if (d->actor == EGIDE_DEADLINE_ACTOR_SENDER) {
        if (!egide_deadline_role_in(d->actor_roles, m->sender_role))
            return NULL;
        *self_acts = m->sent;
        return m->sender_id;
    }
    const char *first = NULL;
    for (size_t i = 0; i < m->n_rcpt; i++) {
        const char *role = m->rcpt_roles ? m->rcpt_roles[i] : NULL;
        if (!m->rcpt_ids[i] || !egide_deadline_role_in(d->actor_roles, role))
            continue;
        if (!m->sent && s_is(m->rcpt_ids[i], self->node_id)) {
            *self_acts = true;
            return m->rcpt_ids[i];
        }
        if (!first)
            first = m->rcpt_ids[i];
    }
    return first;
}

/* The case's clock origin, recorded first when this message gives one. */
static egide_rc s_origin(edge_store_t *st, const edge_oblig_self_t *self, const edge_oblig_msg_t *m,
                         edge_case_row_t *c)
{
    const egide_payload_facts_t *f = m->facts;
    if (!m->sent) {
        int64_t origin = 0, declared = f ? f->received_ms : 0;
        if (f && f->ip_received_ms) {
            origin = f->ip_received_ms; /* written by the CRIP (an assignment) */
            declared = f->ip_received_ms;
        } else if (s_is(self->role, "crip")) {
            /* This node's own receipt, to the second: the assignment it
             * sends later carries it as an RFC 3339 date-time. */
            origin = m->time_ms - m->time_ms % 1000;
        }
        if (origin) {
            egide_rc rc = edge_store_case_origin(st, m->case_id, origin, declared, NULL);
            if (rc)
                return rc;
        }
    }
    return edge_store_case_get(st, m->case_id, c);
}

/* May the sender of received message m close the case's obligations of
 * `name`?  (edge_oblig.h, Closing.)  The actor of an open row of that name
 * may; so may a node this one addressed in the case; so may a node whose
 * role this one addressed nobody of in the case (when roles are known).
 * Reads the case's outbox messages and their recipients: bounded by
 * EDGE_CASE_MSGS_MAX.  Store errors are returned. */
static egide_rc s_may_close(const edge_oblig_self_t *self, edge_store_t *st,
                            const edge_oblig_msg_t *m, const char *name, bool *may)
{
    *may = true;
    if (m->sent)
        return EGIDE_OK;
    edge_oblig_filter_t f;
    memset(&f, 0, sizeof f);
    f.state = EDGE_OBLIG_Q_OPEN;
    f.role = -1;
    f.has_case = true;
    f.case_id = m->case_id;
    f.limit = EDGE_OBLIG_PAGE_MAX;
    edge_obligation_t *rows = NULL;
    size_t n = 0;
    edge_oblig_cursor_t next;
    egide_rc rc = edge_store_obligation_list(st, &f, &rows, &n, &next);
    if (rc)
        return rc;
    bool open_of_name = false;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(rows[i].name, name) != 0)
            continue;
        open_of_name = true;
        if (strcmp(rows[i].actor, m->sender_id) == 0) {
            free(rows);
            return EGIDE_OK; /* the party that had to act */
        }
    }
    free(rows);
    if (!open_of_name)
        return EGIDE_OK; /* nothing to close: nothing to guard */
    edge_search_row_t *msgs = NULL;
    size_t nm = 0;
    bool more = false;
    rc = edge_store_case_messages(st, m->case_id, true, EDGE_CASE_MSGS_MAX, &msgs, &nm, &more);
    if (rc)
        return rc;
    char srole[32] = "";
    if (self->role_of)
        self->role_of(self->role_arg, m->sender_id, srole, sizeof srole);
    bool same_role_addressed = false;
    for (size_t i = 0; i < nm && !rc; i++) {
        edge_rcpt_row_t rr[EGIDE_MAX_RECIPIENTS];
        size_t nr = 0, pending = 0;
        rc = edge_store_rcpt_list(st, msgs[i].out.msg_id, rr, EGIDE_MAX_RECIPIENTS, &nr, &pending);
        for (size_t k = 0; !rc && k < nr; k++) {
            if (strcmp(rr[k].node_id, m->sender_id) == 0) {
                free(msgs);
                return EGIDE_OK; /* a node this one addressed in the case */
            }
            char r[32] = "";
            if (self->role_of && srole[0]) {
                self->role_of(self->role_arg, rr[k].node_id, r, sizeof r);
                same_role_addressed = same_role_addressed || strcmp(r, srole) == 0;
            }
        }
    }
    free(msgs);
    if (rc)
        return rc;
    /* Nobody of the sender's role was addressed here (a court's decision,
     * a case this node only received): its role's rules let it through. */
    *may = self->role_of && srole[0] && !same_role_addressed;
    return EGIDE_OK;
}

/* Close and release what m does to the profile's definitions. */
static egide_rc s_close(const edge_oblig_self_t *self, edge_store_t *st, const edge_oblig_msg_t *m)
{
    const egide_deadline_profile_t *p = self->profile;
    for (size_t i = 0; i < egide_deadline_profile_count(p); i++) {
        unsigned fx = egide_deadline_effect(p, i, m->type);
        const char *name = egide_deadline_profile_def_name(p, i);
        egide_rc rc = EGIDE_OK;
        bool may = true;
        if ((fx & EGIDE_DEADLINE_CLOSES) && !egide_deadline_def_yearly(p, i))
            rc = s_may_close(self, st, m, name, &may);
        if (rc)
            return rc;
        if (!may) {
            char hex[33];
            egide_hex_encode(m->msg_id, 16, hex);
            egide_log(EGIDE_LOG_NOTICE,
                      "message %s (%s) from %s closes no %s obligation of case %lld: that node"
                      " is not a party of the case that may",
                      hex, m->type, m->sender_id, name, (long long)m->case_id);
        }
        if ((fx & EGIDE_DEADLINE_CLOSES) && may) {
            if (!egide_deadline_def_yearly(p, i))
                rc = edge_store_obligation_close(st, m->case_id, name, 0, -1, false, m->time_ms,
                                                 m->msg_id, NULL);
            else if (m->facts && m->facts->year > 0)
                rc = edge_store_obligation_close(st, 0, name, m->facts->year, -1, false, m->time_ms,
                                                 m->msg_id, NULL);
        }
        if (!rc && (fx & EGIDE_DEADLINE_RELEASES) && m->sent && !egide_deadline_def_yearly(p, i))
            rc = edge_store_obligation_close(st, m->case_id, name, 0, EDGE_OBLIG_ACT, true,
                                             m->time_ms, m->msg_id, NULL);
        if (rc)
            return rc;
    }
    return EGIDE_OK;
}

/* Whether the deadline named `name`, started by a message of type `type`,
 * recurs: that type also closes it, so each such message closes the running
 * occurrence and starts the next.  Any other deadline keeps its first row
 * (an evaluation.assignment does not move the referral's clock). */
static bool s_recurs(const egide_deadline_profile_t *p, const char *name, const char *type)
{
    for (size_t i = 0; i < egide_deadline_profile_count(p); i++)
        if (s_is(egide_deadline_profile_def_name(p, i), name))
            return (egide_deadline_effect(p, i, type) & EGIDE_DEADLINE_CLOSES) != 0;
    return false;
}

egide_rc edge_oblig_note(const edge_oblig_self_t *self, edge_store_t *st, const edge_oblig_msg_t *m)
{
    if (!self || !st || !m || !m->msg_id || !m->type || !m->sender_id ||
        (!m->rcpt_ids && m->n_rcpt))
        return EGIDE_ERR_INVALID;
    if (!self->profile || !self->node_id || m->case_id <= 0)
        return EGIDE_OK;
    /* Close first: a type that both closes and starts a deadline (the next
     * situation report) closes the running one, never the one it starts;
     * the one it starts is then opened as the next occurrence (s_recurs). */
    egide_rc rc = s_close(self, st, m);
    if (rc)
        return rc;
    edge_case_row_t c;
    rc = s_origin(st, self, m, &c);
    if (rc)
        return rc;
    egide_payload_facts_t f;
    memset(&f, 0, sizeof f);
    if (m->facts)
        f = *m->facts;
    f.ip_received_ms = c.has_origin ? c.origin_ms : 0;
    char hex[33];
    egide_hex_encode(m->msg_id, 16, hex);
    egide_deadline_t d[EGIDE_DEADLINE_PER_MSG];
    size_t n = 0;
    /* Every clock runs on this node's time; the payload's own time is only
     * shown beside (declared_ms), never a start: a backdated received_at
     * must not make a referral overdue on arrival. */
    if (egide_deadline_compute(self->profile, m->type, hex, m->time_ms, &f, d,
                               EGIDE_DEADLINE_PER_MSG, &n) != EGIDE_OK)
        return EGIDE_OK;
    for (size_t i = 0; i < n; i++) {
        bool self_acts = false;
        const char *actor = s_actor(self, m, &d[i], &self_acts);
        if (!actor)
            continue;
        bool party = m->sent || s_is(m->sender_id, self->node_id);
        for (size_t k = 0; !party && k < m->n_rcpt; k++)
            party = s_is(m->rcpt_ids[k], self->node_id);
        bool oversee =
            !self_acts && party && s_is(self->role, "crip") && !s_is(actor, self->node_id);
        if (!self_acts && !oversee)
            continue;
        edge_obligation_t o;
        memset(&o, 0, sizeof o);
        o.case_id = d[i].yearly ? 0 : m->case_id;
        if (d[i].yearly) {
            int y, mo;
            egide_date_year_month(d[i].start_ms, &y, &mo);
            o.year = y;
        }
        egide_strlcpy(o.name, d[i].name, sizeof o.name);
        egide_strlcpy(o.actor, actor, sizeof o.actor);
        o.role = self_acts ? EDGE_OBLIG_ACT : EDGE_OBLIG_OVERSEE;
        memcpy(o.start_msg, m->msg_id, 16);
        egide_strlcpy(o.start_type, m->type, sizeof o.start_type);
        o.start_ms = d[i].start_ms;
        o.declared_ms = c.has_declared && d[i].start_ms == c.origin_ms ? c.declared_ms
                        : m->facts                                     ? m->facts->received_ms
                                                                       : 0;
        o.due_ms = d[i].due_ms;
        o.practice = d[i].practice;
        egide_strlcpy(o.label, d[i].label, sizeof o.label);
        egide_strlcpy(o.source, d[i].source, sizeof o.source);
        o.recurring = !d[i].yearly && s_recurs(self->profile, d[i].name, m->type);
        rc = edge_store_obligation_open(st, &o, NULL, NULL);
        if (rc)
            return rc;
    }
    return EGIDE_OK;
}
