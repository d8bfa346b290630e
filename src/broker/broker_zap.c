/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * broker_zap.c - the ZAP handler (RFC 27): a connecting node's CURVE key is
 * admitted only when the directory lists it for an active node whose
 * certificates are valid; the answer's User-Id (the node id) is then the
 * identity of every frame on that connection.  A refused key is logged by
 * its hash prefix and audited, once per key per interval (a table of at
 * most BROKER_REFUSED_MAX keys, the oldest evicted), with the refusals in
 * between only counted, and that count written in the key's next leaf
 * (AuditEvent.refusals_before).  The ZeroMQ side is egide_zap_recv/_reply.
 */
#include "broker.h"

#include <string.h>

#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/crypto/egide_crypto.h"

#define R(x)            EGIDE__V1__REASON_CODE__REASON_##x
#define ZAP_IN_WAIT_MAX 64 /* ZAP requests answered per round of a store wait */

/* The entry of a refused key, or a new one (the oldest evicted when the
 * table is full: memory stays bounded whatever a client sends). */
static broker_refused_t *s_refused_entry(broker_t *b, const uint8_t ksha[32], bool *fresh)
{
    *fresh = false;
    size_t oldest = 0;
    for (size_t i = 0; i < b->n_refused; i++) {
        if (memcmp(b->refused[i].key_sha256, ksha, 32) == 0)
            return &b->refused[i];
        if (b->refused[i].window_ms < b->refused[oldest].window_ms)
            oldest = i;
    }
    broker_refused_t *r =
        b->n_refused < BROKER_REFUSED_MAX ? &b->refused[b->n_refused++] : &b->refused[oldest];
    memset(r, 0, sizeof *r);
    memcpy(r->key_sha256, ksha, 32);
    *fresh = true;
    return r;
}

void broker_zap_summary(broker_t *b, int64_t now_ms)
{
    int64_t interval =
        b->refused_interval_ms > 0 ? b->refused_interval_ms : BROKER_REFUSED_INTERVAL_MS;
    if (!b->refused_quiet ||
        (now_ms >= b->refused_summary_ms && now_ms - b->refused_summary_ms < interval))
        return;
    egide_log(EGIDE_LOG_NOTICE,
              "%llu more refused handshakes not logged one by one (%zu keys seen lately)",
              (unsigned long long)b->refused_quiet, b->n_refused);
    b->refused_quiet = 0;
    b->refused_summary_ms = now_ms;
}

/* A refused CURVE key.  Refused handshakes cost an unauthenticated client
 * nothing, and the audit log is permanent: one leaf and one log line per key
 * per interval (the first refusal), the others only counted, with a summary
 * line of what was not logged once per interval. */
bool broker_zap_refused(broker_t *b, const uint8_t ksha[32], const char *node_id, int64_t now_ms)
{
    atomic_fetch_add(&b->m.zap_refused, 1);
    if (atomic_load(&b->m.role) != BROKER_ACTIVE)
        return false; /* a passive broker writes nothing: the active one audits */
    int64_t interval =
        b->refused_interval_ms > 0 ? b->refused_interval_ms : BROKER_REFUSED_INTERVAL_MS;
    bool fresh = false;
    broker_refused_t *r = s_refused_entry(b, ksha, &fresh);
    char khex[17];
    egide_hex_encode(ksha, 8, khex);
    bool quiet = !fresh && now_ms >= r->window_ms && now_ms - r->window_ms < interval;
    if (!quiet) {
        if (now_ms < b->refused_leaves_ms || now_ms - b->refused_leaves_ms >= interval) {
            b->refused_leaves_ms = now_ms;
            b->refused_leaves = 0;
        }
        if (b->refused_leaves >= BROKER_REFUSED_LEAVES_MAX) {
            /* Too many keys this interval: this one is only counted. */
            r->window_ms = now_ms;
            r->count = 0;
            r->audited = false;
            quiet = true;
        }
    }
    if (quiet) {
        r->count++;
        b->refused_quiet++;
        broker_zap_summary(b, now_ms);
        return false;
    }
    uint64_t before = fresh ? 0 : r->count;
    uint64_t unaudited = before > 0 && r->audited ? before - 1 : before;
    r->window_ms = now_ms;
    r->count = 1;
    if (!b->refused_summary_ms)
        b->refused_summary_ms = now_ms;
    const egide_log_fields lf = {
        .component = "transport", .peer = node_id, .reason = "NODE_REFUSED"};
    if (before > 1)
        egide_log_kv(EGIDE_LOG_NOTICE, &lf,
                     "refused transport key %s…%s%s (%llu refusals in the previous interval)", khex,
                     node_id ? " of node " : "", node_id ? node_id : "",
                     (unsigned long long)before);
    else
        egide_log_kv(EGIDE_LOG_NOTICE, &lf, "refused transport key %s…%s%s", khex,
                     node_id ? " of node " : "", node_id ? node_id : "");
    /* One leaf per key per interval, with the count of the refusals of its
     * previous interval that were only counted (the first of an interval
     * is this leaf; the others stay in the table until the next one). */
    Egide__V1__AuditEvent ev = EGIDE__V1__AUDIT_EVENT__INIT;
    ev.refusals_before = unaudited;
    ev.type = EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_NODE_REFUSED;
    ev.node_id = node_id ? (char *)node_id : "";
    ev.reason = node_id ? R(NODE_SUSPENDED) : R(UNKNOWN_SENDER);
    ev.transport_key_sha256 = (ProtobufCBinaryData){32, (uint8_t *)ksha};
    ev.time_ms = now_ms;
    if (broker_audit(b, &ev, NULL) != EGIDE_OK) {
        /* The batch is refused: the next refusal of this key audits it. */
        r->window_ms = INT64_MIN / 2;
        return false;
    }
    r->audited = true;
    b->refused_leaves++;
    atomic_fetch_add(&b->m.zap_refused_audited, 1);
    return true;
}

static void s_refused(broker_t *b, const egide_zap_request_t *req, const Egide__V1__NodeEntry *node)
{
    uint8_t ksha[32];
    egide_sha256(req->curve_key, 32, ksha);
    if (!b->in_store_wait) {
        broker_zap_refused(b, ksha, node ? node->id : NULL, broker_now(b));
        return;
    }
    /* inside a store statement: the audit leaf waits for the loop */
    if (b->n_zap_later >= BROKER_ZAP_LATER_MAX) {
        atomic_fetch_add(&b->m.zap_refused, 1);
        b->refused_quiet++; /* in the next summary line */
        return;
    }
    broker_zap_later_t *l = &b->zap_later[b->n_zap_later++];
    memcpy(l->key_sha256, ksha, 32);
    l->has_node = node != NULL;
    l->time_ms = broker_now(b);
    egide_strlcpy(l->node_id, node ? node->id : "", sizeof l->node_id);
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

/* Answer up to max waiting ZAP requests; how many were answered. */
static int s_zap_round(broker_t *b, int max)
{
    int answered = 0;
    for (int i = 0; i < max; i++) {
        egide_zap_request_t req;
        egide_rc rc = egide_zap_recv(b->zap, &req);
        if (rc == EGIDE_ERR_TIMEOUT)
            break;
        if (rc)
            continue; /* malformed and drained: nothing to answer */
        s_answer(b, &req);
        answered++;
    }
    return answered;
}

void broker_zap_handle(broker_t *b, int max)
{
    /* First the refusals answered during a store wait.  Auditing one runs
     * statements, whose waits may answer (and defer) more: those go to the
     * emptied table, these are audited from a copy. */
    size_t n = b->n_zap_later;
    broker_zap_later_t later[BROKER_ZAP_LATER_MAX];
    memcpy(later, b->zap_later, n * sizeof *later);
    b->n_zap_later = 0;
    for (size_t i = 0; i < n; i++)
        broker_zap_refused(b, later[i].key_sha256, later[i].has_node ? later[i].node_id : NULL,
                           later[i].time_ms);
    (void)s_zap_round(b, max);
}

void broker_store_wait(void *arg, int fd, bool write, int timeout_ms)
{
    broker_t *b = arg;
    atomic_fetch_add(&b->m.store_waits, 1);
    void *socks[1] = {b->zap};
    bool ready[1] = {false}, fd_ready = false;
    if (b->in_store_wait || !b->zap) {
        /* not from inside a ZAP answer (none reaches the store): wait only */
        (void)egide_transport_poll_fd_rw(socks, ready, 0, fd, write, &fd_ready, timeout_ms);
        return;
    }
    if (egide_transport_poll_fd_rw(socks, ready, 1, fd, write, &fd_ready, timeout_ms) != EGIDE_OK ||
        !ready[0])
        return;
    b->in_store_wait = true;
    int n = s_zap_round(b, ZAP_IN_WAIT_MAX);
    b->in_store_wait = false;
    atomic_fetch_add(&b->m.zap_in_store_wait, (uint64_t)n);
}
