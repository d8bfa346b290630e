/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_trail.c - the daemon's side of the trail of who read what
 * (edge_trail.h): one entry for a person (or the machine token) on the
 * API's store, in a write transaction of its own, or in the caller's (a
 * submission's, edge_trail_note_in).  No SQL here: the
 * trail's store is edge_store_trail.c.
 */
#include "edge_trail.h"

#include <string.h>

#include "edge.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"

/* ------------------------------------------------------------ edge side */

static void s_entry(edge_t *e, edge_trail_entry_t *en, const char *account, const char *role,
                    const char *action, const uint8_t *msg_id, int64_t case_id)
{
    *en = (edge_trail_entry_t){.time_ms = edge_now_ms(e), .case_id = case_id > 0 ? case_id : 0};
    egide_strlcpy(en->account, account, sizeof en->account);
    egide_strlcpy(en->role, role, sizeof en->role);
    egide_strlcpy(en->action, action, sizeof en->action);
    if (msg_id) {
        en->has_msg = true;
        memcpy(en->msg_id, msg_id, 16);
    }
    if (msg_id && en->case_id == 0) {
        int64_t cid = 0;
        if (edge_store_case_of(e->api_store, msg_id, &cid) == EGIDE_OK && cid > 0)
            en->case_id = cid;
    }
}

egide_rc edge_trail_note_in(edge_t *e, edge_trail_t **t, const edge_principal_t *who,
                            const char *action, const uint8_t *msg_id)
{
    if (!e || !t || !action)
        return EGIDE_ERR_INVALID;
    if (!*t) {
        egide_rc rc = edge_trail_open(edge_store_sqlite_db(e->api_store), e->node_id, t);
        if (rc)
            return rc;
    }
    edge_trail_entry_t en;
    s_entry(e, &en, who ? who->user : EDGE_TRAIL_ACCOUNT_TOKEN,
            who ? edge_role_name(who->role) : EDGE_TRAIL_ROLE_TOKEN, action, msg_id, 0);
    return edge_trail_append_in(*t, &en, NULL); /* never alone */
}

egide_rc edge_trail_note_as(edge_t *e, const char *account, const char *role, const char *action,
                            const uint8_t *msg_id, int64_t case_id)
{
    if (!e || !account || !role || !action)
        return EGIDE_ERR_INVALID;
    edge_trail_entry_t en;
    pthread_mutex_lock(&e->api_lock);
    edge_trail_t *t = NULL;
    egide_rc rc = edge_trail_open(edge_store_sqlite_db(e->api_store), e->node_id, &t);
    if (!rc)
        s_entry(e, &en, account, role, action, msg_id, case_id);
    /* A write transaction of its own (BEGIN IMMEDIATE, which waits for the
     * loop's writes): a SAVEPOINT alone would start as a reader and could
     * not become the writer once the loop had committed (busy snapshot). */
    if (!rc)
        rc = edge_store_begin(e->api_store);
    if (!rc) {
        rc = edge_trail_append(t, &en, NULL);
        if (!rc)
            rc = edge_store_commit(e->api_store);
        if (rc)
            edge_store_rollback(e->api_store);
    }
    edge_trail_destroy(&t);
    pthread_mutex_unlock(&e->api_lock);
    if (rc)
        egide_log(EGIDE_LOG_ERROR, "trail: %s not recorded: %s", action, egide_strerror(rc));
    return rc;
}

egide_rc edge_trail_note(edge_t *e, const edge_principal_t *who, const char *action,
                         const uint8_t *msg_id, int64_t case_id)
{
    if (!who)
        return edge_trail_note_as(e, EDGE_TRAIL_ACCOUNT_TOKEN, EDGE_TRAIL_ROLE_TOKEN, action,
                                  msg_id, case_id);
    return edge_trail_note_as(e, who->user, edge_role_name(who->role), action, msg_id, case_id);
}
