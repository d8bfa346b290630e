/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_confidential.c - a referral whose sender must stay confidential
 * (payload sender.confidential, issue 13 item 14): the sender's identity
 * reaches the CRIP only.  One envelope is sealed once for all its
 * recipients, so a submission with recipients of other roles (the
 * territory that routing adds, the parquet of a direct signalement) is
 * split: the CRIP's message carries the payload as written; the others'
 * carries it with the sender's identifying fields removed (name, phone,
 * e-mail, role, organisation, own reference; its type and the
 * confidential flag stay, so the recipient sees that an identity was
 * withheld and from whom to ask: the CRIP).  Both are queued in the same
 * transaction (edge_api.c).
 */
#include "edge.h"

#include <string.h>

#include "egide/directory/egide_directory.h"
#include "egide/domain/egide_catalogue.h"

/* The fields of egide.v1.Sender that identify a person or a service. */
static const char *const s_identity[] = {"name",         "phone",     "email", "role",
                                         "organisation", "reference", NULL};

size_t edge_conf_split(edge_t *e, const char *const *rcpt, size_t n, const char **crip,
                       size_t *n_crip, const char **others)
{
    size_t no = 0;
    *n_crip = 0;
    pthread_mutex_lock(&e->dir_lock);
    for (size_t i = 0; i < n; i++) {
        const Egide__V1__NodeEntry *node = e->dir ? egide_directory_node(e->dir, rcpt[i]) : NULL;
        if (node && node->role && strcmp(node->role, EGIDE_ROLE_CRIP) == 0)
            crip[(*n_crip)++] = rcpt[i];
        else
            others[no++] = rcpt[i];
    }
    pthread_mutex_unlock(&e->dir_lock);
    return no;
}

json_t *edge_conf_redact(json_t *payload, json_t **removed)
{
    *removed = json_array();
    json_t *copy = json_deep_copy(payload);
    json_t *snd = copy ? json_object_get(copy, "sender") : NULL;
    if (!copy || !*removed) {
        json_decref(copy);
        json_decref(*removed);
        *removed = NULL;
        return NULL;
    }
    for (size_t i = 0; json_is_object(snd) && s_identity[i]; i++) {
        if (json_object_get(snd, s_identity[i])) {
            json_object_del(snd, s_identity[i]);
            char path[48];
            snprintf(path, sizeof path, "sender.%s", s_identity[i]);
            json_array_append_new(*removed, json_string(path));
        }
    }
    return copy;
}
