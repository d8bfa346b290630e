/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_known_child.c - known-child and sibling detection at the CRIP
 * (issue 11 item 5).  On receipt of a referral (the types of
 * egide_known_child_type), the CRIP's edge keys each child
 * (egide_known_child_keys: a child key and a household key, keyed with
 * the CRIP's own [known_child] key_file under the "known-child" context,
 * never the observatory's pseudonym) and stores the keys with the message,
 * in the same transaction (edge_inbox.c's s_store calls
 * edge_known_child_note).  GET /v1/messages/{id} then shows, for each child
 * of a received referral, the earlier messages about the same child and
 * about its siblings (edge_known_child_view): message ids, child indexes
 * and received times only, never a name or a key.
 *
 * Off unless the node's role in the directory is "crip" and a key file is
 * configured; the view says which.  Failure contract: a store error or a
 * resource failure (memory, HMAC) while keying is returned, so the whole
 * receipt rolls back and the broker delivers the referral again (transient,
 * as every store error on the inbox path: nothing is lost, nothing is
 * refused).  A child that cannot be keyed (no mother's birth name, no birth
 * date, a name that does not normalise) is stored as "not comparable" and
 * is never an error.  Nothing here logs names, keys or content.
 */
#include "edge.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "egide/base/egide_date.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/domain/egide_catalogue.h"
#include "egide/domain/egide_known_child.h"

/* The node's role is "crip" (under dir_lock: the loop swaps it). */
static bool s_is_crip(edge_t *e)
{
    pthread_mutex_lock(&e->dir_lock);
    bool crip = strcmp(e->role, EGIDE_ROLE_CRIP) == 0;
    pthread_mutex_unlock(&e->dir_lock);
    return crip;
}

egide_rc edge_known_child_init(edge_t *e)
{
    if (!e)
        return EGIDE_ERR_INVALID;
    char *p = egide_config_path(e->cfg, "known_child", "key_file");
    if (!p) {
        if (s_is_crip(e))
            egide_log(EGIDE_LOG_NOTICE, "known-child detection off: no [known_child] key_file");
        return EGIDE_OK;
    }
    if (!s_is_crip(e)) {
        egide_log(EGIDE_LOG_WARNING,
                  "[known_child] key_file ignored: only a CRIP detects known children");
        free(p);
        return EGIDE_OK;
    }
    egide_rc rc = edge_known_child_set_key(e, p);
    if (rc)
        egide_log(EGIDE_LOG_ERROR, "known-child key %s: %s%s", p, egide_strerror(rc),
                  rc == EGIDE_ERR_PERM ? " (chmod 600)" : "");
    else
        egide_log(EGIDE_LOG_NOTICE, "known-child detection on");
    free(p);
    return rc;
}

egide_rc edge_known_child_set_key(edge_t *e, const char *path)
{
    if (!e || !path)
        return EGIDE_ERR_INVALID;
    uint8_t *k = NULL;
    size_t kl = 0;
    egide_rc rc = egide_secret_read(path, EGIDE_PSEUDO_MAX_KEY, &k, &kl);
    if (rc)
        return rc;
    if (kl < EGIDE_PSEUDO_MIN_KEY) {
        egide_free_secret(k, kl);
        return EGIDE_ERR_INVALID;
    }
    edge_known_child_fini(e);
    e->kc_key = k;
    e->kc_key_len = kl;
    return EGIDE_OK;
}

void edge_known_child_fini(edge_t *e)
{
    if (!e)
        return;
    egide_free_secret(e->kc_key, e->kc_key_len);
    e->kc_key = NULL;
    e->kc_key_len = 0;
}

egide_rc edge_known_child_note(edge_t *e, edge_store_t *st, const char *type,
                               const uint8_t msg_id[16], int64_t received_ms,
                               const uint8_t *payload, size_t len)
{
    if (!e || !st || !type || !msg_id)
        return EGIDE_ERR_INVALID;
    if (!e->kc_key || !egide_known_child_type(type) || !s_is_crip(e))
        return EGIDE_OK;
    egide_child_keys_t *k = calloc(EGIDE_KNOWN_CHILD_MAX, sizeof *k);
    edge_kc_row_t *rows = calloc(EGIDE_KNOWN_CHILD_MAX, sizeof *rows);
    size_t n = 0;
    egide_rc rc = k && rows ? EGIDE_OK : EGIDE_ERR_NOMEM;
    if (!rc)
        rc = egide_known_child_keys(type, payload, len, e->kc_key, e->kc_key_len, k,
                                    EGIDE_KNOWN_CHILD_MAX, &n);
    if (rc == EGIDE_ERR_PROTO) {
        /* Cannot happen for a payload that passed egide_payload_check; if
         * it does, the referral is stored all the same, without keys. */
        char hex[33];
        egide_hex_encode(msg_id, 16, hex);
        egide_log(EGIDE_LOG_WARNING, "message %s: payload not keyed for known-child detection",
                  hex);
        rc = EGIDE_OK;
        n = 0;
    }
    for (size_t i = 0; !rc && i < n; i++) {
        rows[i].child = (int)i;
        rows[i].status = (int)k[i].status;
        memcpy(rows[i].child_key, k[i].child_key, sizeof rows[i].child_key);
        memcpy(rows[i].household_key, k[i].household_key, sizeof rows[i].household_key);
    }
    if (!rc && n)
        rc = edge_store_kc_put(st, msg_id, received_ms, rows, n);
    if (rc == EGIDE_ERR_EXISTS)
        rc = EGIDE_OK; /* keyed already (cannot happen: the message is new) */
    if (k)
        egide_wipe(k, EGIDE_KNOWN_CHILD_MAX * sizeof *k);
    if (rows)
        egide_wipe(rows, EGIDE_KNOWN_CHILD_MAX * sizeof *rows);
    free(k);
    free(rows);
    return rc;
}

/* The related messages of one child, by relation, appended to arr. */
static egide_rc s_related(edge_store_t *st, edge_kc_relation rel, const edge_kc_row_t *r,
                          const uint8_t msg_id[16], int64_t before_ms, json_t *arr, size_t *found)
{
    edge_kc_related_t rows[EDGE_KC_RELATED_MAX];
    size_t n = 0;
    *found = 0;
    if (rel == EDGE_KC_SIBLING && !r->household_key[0])
        return EGIDE_OK;
    egide_rc rc = edge_store_kc_related(st, rel, r->child_key, r->household_key, msg_id, before_ms,
                                        EDGE_KC_RELATED_MAX, rows, &n);
    for (size_t i = 0; !rc && i < n; i++) {
        char hex[33], when[40];
        egide_hex_encode(rows[i].msg_id, 16, hex);
        if (egide_datetime_format(rows[i].received_ms, when, sizeof when))
            when[0] = '\0';
        json_t *o = json_pack("{s:s, s:s, s:i, s:I, s:s}", "relation",
                              rel == EDGE_KC_SAME_CHILD ? "same_child" : "sibling", "msg_id", hex,
                              "child", rows[i].child, "received_ms",
                              (json_int_t)rows[i].received_ms, "received", when);
        if (o && rows[i].case_id > 0)
            json_object_set_new(o, "case_id", json_integer(rows[i].case_id));
        if (!o || json_array_append_new(arr, o))
            rc = EGIDE_ERR_NOMEM;
    }
    *found = n;
    return rc;
}

egide_rc edge_known_child_view(edge_t *e, edge_store_t *st, const edge_inbox_row_t *m, void *out)
{
    json_t *o = out;
    if (!e || !st || !m || !json_is_object(o))
        return EGIDE_ERR_INVALID;
    if (!egide_known_child_type(m->type) || !s_is_crip(e))
        return EGIDE_OK;
    edge_kc_row_t rows[EGIDE_KNOWN_CHILD_MAX];
    size_t n = 0;
    egide_rc rc = edge_store_kc_get(st, m->msg_id, rows, EGIDE_KNOWN_CHILD_MAX, &n);
    if (rc)
        return rc;
    json_t *kc = json_object();
    if (!kc)
        return EGIDE_ERR_NOMEM;
    if (n == 0) {
        /* Never keyed: detection is off now, or was when it arrived. */
        json_object_set_new(kc, "detection", json_string(e->kc_key ? "not_computed" : "off"));
        json_object_set_new(kc, "reason",
                            json_string(e->kc_key ? "received while detection was off"
                                                  : "no [known_child] key_file configured"));
        json_object_set_new(o, "known_child", kc);
        return EGIDE_OK;
    }
    json_object_set_new(kc, "detection", json_string(e->kc_key ? "on" : "off"));
    json_t *children = json_array();
    json_object_set_new(kc, "children", children);
    for (size_t i = 0; !rc && i < n; i++) {
        json_t *c = json_pack("{s:i}", "child", rows[i].child);
        if (!c || json_array_append_new(children, c)) {
            rc = EGIDE_ERR_NOMEM;
            break;
        }
        if (!rows[i].child_key[0]) {
            json_object_set_new(c, "status", json_string("not_comparable"));
            json_object_set_new(c, "reason",
                                json_string(egide_known_child_status_name(rows[i].status)));
            continue;
        }
        json_t *rel = json_array();
        json_object_set_new(c, "related", rel);
        size_t same = 0, sib = 0;
        rc = s_related(st, EDGE_KC_SAME_CHILD, &rows[i], m->msg_id, m->received_ms, rel, &same);
        if (!rc)
            rc = s_related(st, EDGE_KC_SIBLING, &rows[i], m->msg_id, m->received_ms, rel, &sib);
        json_object_set_new(c, "status", json_string(same ? "known" : "new"));
        json_object_set_new(c, "siblings_known", json_boolean(sib > 0));
        if (!rows[i].household_key[0])
            json_object_set_new(c, "household", json_string("not_comparable"));
    }
    egide_wipe(rows, sizeof rows);
    if (rc) {
        json_decref(kc);
        return rc;
    }
    json_object_set_new(o, "known_child", kc);
    return EGIDE_OK;
}
