/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * broker_zap.c - the ZAP handler (RFC 27): a connecting node's CURVE key is
 * admitted only when the directory lists it for an active node whose
 * certificates are valid; the answer's User-Id (the node id) is then the
 * identity of every frame on that connection.  A refused key is logged by
 * its hash prefix and audited.  The ZeroMQ side is egide_zap_recv/_reply.
 */
#include "broker.h"

#include <string.h>

#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/crypto/egide_crypto.h"

#define R(x) EGIDE__V1__REASON_CODE__REASON_##x

/* A refused CURVE key: a log line (hash prefix, never the key) and a leaf. */
static void s_refused(broker_t *b, const egide_zap_request_t *req, const Egide__V1__NodeEntry *node)
{
    atomic_fetch_add(&b->m.zap_refused, 1);
    uint8_t ksha[32];
    egide_sha256(req->curve_key, 32, ksha);
    char khex[17];
    egide_hex_encode(ksha, 8, khex);
    egide_log(EGIDE_LOG_NOTICE, "refused transport key %s…%s%s", khex, node ? " of node " : "",
              node ? node->id : "");
    Egide__V1__AuditEvent ev = EGIDE__V1__AUDIT_EVENT__INIT;
    ev.type = EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_NODE_REFUSED;
    ev.node_id = node ? node->id : "";
    ev.reason = node ? R(NODE_SUSPENDED) : R(UNKNOWN_SENDER);
    ev.transport_key_sha256 = (ProtobufCBinaryData){32, ksha};
    broker_audit(b, &ev, NULL);
}

static void s_answer(broker_t *b, const egide_zap_request_t *req)
{
    const char *status = "400", *text = "unknown transport key";
    char user[EGIDE_MAX_NODE_ID + 1] = "";
    if (req->has_curve_key && strcmp(req->mechanism, "CURVE") == 0) {
        const Egide__V1__NodeEntry *node =
            egide_directory_node_by_curve(b->dir, req->curve_key_z85);
        const egide_peer_t *p = node ? egide_peers_get(b->peers, node->id) : NULL;
        if (node && egide_directory_node_active(node) && p && p->status == EGIDE_OK) {
            status = "200";
            text = "OK";
            egide_strlcpy(user, node->id, sizeof user);
        } else {
            text =
                node ? "node suspended or its certificate is not valid" : "unknown transport key";
            s_refused(b, req, node);
        }
    }
    if (egide_zap_reply(b->zap, req, status, text, user) != EGIDE_OK)
        egide_log(EGIDE_LOG_WARNING, "ZAP reply not sent");
}

void broker_zap_handle(broker_t *b, int max)
{
    for (int i = 0; i < max; i++) {
        egide_zap_request_t req;
        egide_rc rc = egide_zap_recv(b->zap, &req);
        if (rc == EGIDE_ERR_TIMEOUT)
            break;
        if (rc)
            continue; /* malformed and drained: nothing to answer */
        s_answer(b, &req);
    }
}
