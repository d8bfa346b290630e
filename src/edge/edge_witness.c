/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_witness.c - the edge as a witness of the broker's audit log: each
 * signed checkpoint the broker sends must verify with the broker's key from
 * the directory and extend the one held (a consistency proof from it).  A
 * good one replaces it; anything else - a bad signature, a fork, a smaller
 * tree than one already signed (a rollback) - is evidence: counted, kept in
 * the store as an alert the API shows, and logged.
 */
#include "edge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egide/audit/egide_witness.h"
#include "egide/base/egide_log.h"
#include "egide/protocol/egide_checkpoint.h"

uint64_t edge_witness_size(edge_t *e)
{
    uint8_t *note = NULL;
    size_t nlen = 0;
    uint64_t size = 0;
    if (edge_store_meta_get(e->store, "checkpoint", &note, &nlen) == EGIDE_OK) {
        egide_checkpoint_t cp;
        if (egide_checkpoint_parse((const char *)note, nlen, &cp) == EGIDE_OK)
            size = cp.size;
        free(note);
    }
    return size;
}

static egide_rc s_alert(edge_t *e, egide_rc why)
{
    atomic_fetch_add(&e->m.checkpoint_alerts, 1);
    char msg[160];
    snprintf(msg, sizeof msg, "%s",
             why == EGIDE_ERR_VERSION
                 ? "broker log smaller than a checkpoint it signed before (rollback)"
             : why == EGIDE_ERR_CONSISTENCY
                 ? "new checkpoint does not extend the one held (fork or rewrite)"
                 : egide_strerror(why));
    egide_log(EGIDE_LOG_ERROR,
              "ALERT: the broker's audit checkpoint does not extend the one this node holds"
              " (%s): the log may have been rewritten or forked",
              msg);
    return edge_store_meta_put(e->store, "checkpoint_alert", msg, strlen(msg));
}

egide_rc edge_witness_checkpoint(edge_t *e, const uint8_t *note, size_t note_len,
                                 const ProtobufCBinaryData *proof, size_t n_proof)
{
    uint8_t *trusted = NULL;
    size_t tlen = 0;
    egide_rc rc = edge_store_meta_get(e->store, "checkpoint", &trusted, &tlen);
    if (rc && rc != EGIDE_ERR_NOTFOUND)
        return rc; /* transient: the broker sends another on the next hello */
    uint8_t(*p)[32] = calloc(n_proof ? n_proof : 1, 32);
    if (!p) {
        free(trusted);
        return EGIDE_ERR_NOMEM;
    }
    bool ok_sizes = true;
    for (size_t i = 0; i < n_proof; i++) {
        if (proof[i].len != 32)
            ok_sizes = false;
        else
            memcpy(p[i], proof[i].data, 32);
    }
    pthread_mutex_lock(&e->dir_lock);
    const egide_peer_t *peer = egide_peers_get(e->peers, e->broker_id);
    EVP_PKEY *pub = peer && peer->status == EGIDE_OK ? peer->sign_pub : NULL;
    if (pub && EVP_PKEY_up_ref(pub) != 1)
        pub = NULL;
    pthread_mutex_unlock(&e->dir_lock);
    char origin[128];
    egide_rc wrc = EGIDE_ERR_CERT;
    egide_checkpoint_t cp;
    if (pub && ok_sizes && egide_checkpoint_origin_for(e->broker_id, origin, sizeof origin) == 0)
        wrc = egide_witness_check((const char *)trusted, tlen, (const char *)note, note_len, origin,
                                  pub, (const uint8_t(*)[32])p, n_proof, &cp);
    EVP_PKEY_free(pub);
    rc = wrc == EGIDE_OK ? edge_store_meta_put(e->store, "checkpoint", note, note_len)
                         : s_alert(e, wrc);
    free(p);
    free(trusted);
    return rc;
}
