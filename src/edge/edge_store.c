/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_store.c - what every edge store backend shares: the names of the
 * typed states (one table each, as the API shows them) and the row helpers.
 * No SQL here: the backends (edge_store_sqlite.c) hold it.
 */
#include "edge_store.h"

#include <stdlib.h>
#include <string.h>

#include "egide/base/egide_util.h"

static const char *const s_out_names[EDGE_OUT_STATE__COUNT] = {
    [EDGE_OUT_QUEUED] = "queued",
    [EDGE_OUT_ACCEPTED] = "accepted",
    [EDGE_OUT_REJECTED] = "rejected",
    [EDGE_OUT_EXPIRED] = "expired",
};

/* A recipient not yet answered shows as "queued", as it always has. */
static const char *const s_rcpt_names[EDGE_RCPT_STATE__COUNT] = {
    [EDGE_RCPT_PENDING] = "queued",    [EDGE_RCPT_DELIVERED] = "delivered",
    [EDGE_RCPT_REJECTED] = "rejected", [EDGE_RCPT_ACKNOWLEDGED] = "acknowledged",
    [EDGE_RCPT_EXPIRED] = "expired",
};

static const char *const s_in_names[] = {
    [EDGE_IN_DELIVERED] = "delivered",
    [EDGE_IN_ACKNOWLEDGED] = "acknowledged",
};
#define S_IN_COUNT (sizeof s_in_names / sizeof s_in_names[0])

static const char *s_name(const char *const *names, size_t n, int s)
{
    return s >= 0 && (size_t)s < n && names[s] ? names[s] : "unknown";
}

static egide_rc s_parse(const char *const *names, size_t n, const char *name, int *out)
{
    if (!name || !out)
        return EGIDE_ERR_INVALID;
    for (size_t i = 0; i < n; i++)
        if (names[i] && strcmp(names[i], name) == 0) {
            *out = (int)i;
            return EGIDE_OK;
        }
    return EGIDE_ERR_INVALID;
}

const char *edge_out_state_name(int s)
{
    return s_name(s_out_names, EDGE_OUT_STATE__COUNT, s);
}

const char *edge_rcpt_state_name(int s)
{
    return s_name(s_rcpt_names, EDGE_RCPT_STATE__COUNT, s);
}

const char *edge_in_state_name(int s)
{
    return s_name(s_in_names, S_IN_COUNT, s);
}

egide_rc edge_out_state_parse(const char *name, edge_out_state *out)
{
    int v = 0;
    egide_rc rc = s_parse(s_out_names, EDGE_OUT_STATE__COUNT, name, &v);
    if (!rc)
        *out = (edge_out_state)v;
    return rc;
}

egide_rc edge_in_state_parse(const char *name, edge_in_state *out)
{
    int v = 0;
    egide_rc rc = s_parse(s_in_names, S_IN_COUNT, name, &v);
    if (!rc)
        *out = (edge_in_state)v;
    return rc;
}

static const char *const s_overall[] = {
    "queued",          "accepted",       "delivered", "acknowledged", "rejected",
    "partly_rejected", "partly_expired", "expired",   NULL,
};

const char *edge_overall_state(edge_out_state st, const struct edge_rcpt_row *r, size_t n)
{
    if (st == EDGE_OUT_REJECTED)
        return "rejected";
    if (st == EDGE_OUT_EXPIRED)
        return "expired";
    size_t by[EDGE_RCPT_STATE__COUNT] = {0};
    for (size_t i = 0; r && i < n; i++)
        if ((unsigned)r[i].state < EDGE_RCPT_STATE__COUNT)
            by[r[i].state]++;
    size_t bad = by[EDGE_RCPT_REJECTED] + by[EDGE_RCPT_EXPIRED];
    if (n > 0 && bad == n)
        return by[EDGE_RCPT_REJECTED] ? "rejected" : "expired";
    if (bad)
        return by[EDGE_RCPT_REJECTED] ? "partly_rejected" : "partly_expired";
    if (st == EDGE_OUT_QUEUED)
        return "queued";
    if (n == 0 || by[EDGE_RCPT_PENDING])
        return "accepted";
    return by[EDGE_RCPT_ACKNOWLEDGED] == n ? "acknowledged" : "delivered";
}

bool edge_overall_state_known(const char *name)
{
    for (size_t i = 0; name && s_overall[i]; i++)
        if (strcmp(s_overall[i], name) == 0)
            return true;
    return false;
}

void edge_inbox_row_clear(edge_inbox_row_t *row)
{
    if (!row)
        return;
    egide_free_secret(row->payload, row->payload_len);
    row->payload = NULL;
    row->payload_len = 0;
}

void edge_sent_row_clear(edge_sent_row_t *row)
{
    if (!row)
        return;
    egide_free_secret(row->payload, row->payload_len);
    row->payload = NULL;
    row->payload_len = 0;
}

static const char *const s_role_names[] = {
    [EDGE_OBLIG_ACT] = "act",
    [EDGE_OBLIG_OVERSEE] = "oversee",
};
#define S_ROLE_COUNT (sizeof s_role_names / sizeof s_role_names[0])

const char *edge_oblig_role_name(int r)
{
    return s_name(s_role_names, S_ROLE_COUNT, r);
}

egide_rc edge_oblig_role_parse(const char *name, edge_oblig_role *out)
{
    int v = 0;
    egide_rc rc = s_parse(s_role_names, S_ROLE_COUNT, name, &v);
    if (!rc)
        *out = (edge_oblig_role)v;
    return rc;
}

static const char *const s_query_names[EDGE_OBLIG_Q__COUNT] = {
    [EDGE_OBLIG_Q_ANY] = "any", [EDGE_OBLIG_Q_OPEN] = "open", [EDGE_OBLIG_Q_OVERDUE] = "overdue",
    [EDGE_OBLIG_Q_MET] = "met", [EDGE_OBLIG_Q_LATE] = "late", [EDGE_OBLIG_Q_RELEASED] = "released",
};

const char *edge_oblig_query_name(int q)
{
    return s_name(s_query_names, EDGE_OBLIG_Q__COUNT, q);
}

egide_rc edge_oblig_query_parse(const char *name, edge_oblig_query *out)
{
    int v = 0;
    egide_rc rc = s_parse(s_query_names, EDGE_OBLIG_Q__COUNT, name, &v);
    if (!rc)
        *out = (edge_oblig_query)v;
    return rc;
}
