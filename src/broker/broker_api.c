/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * broker_api.c - the broker's HTTP API (loopback by default): /v1/health
 * (public), /metrics (Prometheus text) and the read-only audit API
 * (/v1/audit/...), behind the bearer token.  Runs in libmicrohttpd's thread
 * with its own reader handle on the store; reads only.
 */
#include "broker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egide/base/egide_token.h"
#include "egide/audit/egide_auditapi.h"
#include "egide/base/egide_log.h"
#include "egide/net/egide_metrics.h"
#include "egide/base/egide_util.h"
#include "egide/wire/egide_wire.h"

static void s_metrics(broker_t *b, egide_http_resp_t *resp)
{
    egide_buf_t out;
    egide_buf_init(&out, 1 << 20);
    const broker_metrics_t *m = &b->m;
    static const char *const msg_total = "egide_broker_messages_total";
    egide_metrics_family(&out, msg_total, "counter", "Envelopes by outcome at the broker.");
    egide_metrics_value(&out, msg_total, "outcome", "accepted", atomic_load(&m->accepted));
    egide_metrics_value(&out, msg_total, "outcome", "rejected", atomic_load(&m->rejected));
    static const char *const del_total = "egide_broker_deliveries_total";
    egide_metrics_family(&out, del_total, "counter", "Per-recipient delivery outcomes.");
    egide_metrics_value(&out, del_total, "outcome", "delivered", atomic_load(&m->delivered));
    egide_metrics_value(&out, del_total, "outcome", "rejected",
                        atomic_load(&m->recipient_rejected));
    egide_metrics_value(&out, del_total, "outcome", "expired", atomic_load(&m->expired));
    egide_metrics_single(&out, "egide_broker_delivery_attempts_total", "counter",
                         "Deliver frames sent (retries included).",
                         atomic_load(&m->deliveries_sent));
    egide_metrics_single(&out, "egide_broker_redeliveries_total", "counter",
                         "Deliver frames that were retries.", atomic_load(&m->redeliveries));
    egide_metrics_single(&out, "egide_broker_receipts_relayed_total", "counter",
                         "Receipts acknowledged by their senders.", atomic_load(&m->relayed));
    egide_metrics_family(&out, "egide_broker_rejections_total", "counter",
                         "Rejections by reason code.");
    for (int r = 0; r < 32; r++) {
        uint64_t v = atomic_load(&m->rejected_by_reason[r]);
        if (v)
            egide_metrics_value(&out, "egide_broker_rejections_total", "reason",
                                egide_wire_reason_name(r), v);
    }
    static const char *const frames = "egide_broker_frames_total";
    egide_metrics_family(&out, frames, "counter",
                         "Frames received, and those refused as malformed.");
    egide_metrics_value(&out, frames, "kind", "all", atomic_load(&m->frames_in));
    egide_metrics_value(&out, frames, "kind", "bad", atomic_load(&m->frames_bad));
    egide_metrics_single(&out, "egide_broker_zap_refused_total", "counter",
                         "Transport keys refused at the handshake.", atomic_load(&m->zap_refused));
    egide_metrics_single(&out, "egide_broker_commits_total", "counter",
                         "Store transactions committed that wrote something (each one a durable "
                         "write: one fsync with SQLite); the loop's empty commits are not counted.",
                         atomic_load(&m->commits));
    egide_metrics_single(&out, "egide_broker_queue_depth", "gauge",
                         "Deliveries waiting for a recipient's receipt.",
                         atomic_load(&m->queue_depth));
    egide_metrics_single(&out, "egide_broker_relay_depth", "gauge",
                         "Receipts waiting for their sender.", atomic_load(&m->relay_depth));
    egide_metrics_single(&out, "egide_broker_audit_log_size", "gauge", "Leaves in the audit log.",
                         atomic_load(&m->audit_size));
    egide_metrics_single(&out, "egide_broker_connected_nodes", "gauge",
                         "Nodes with a live connection.", atomic_load(&m->connected_nodes));
    int64_t na = atomic_load(&m->directory_not_after_ms);
    egide_metrics_single(&out, "egide_broker_directory_expired", "gauge",
                         "1 when the directory held is past its validity: new work is refused.",
                         egide_now_ms() > na ? 1 : 0);
    egide_metrics_single(&out, "egide_broker_directory_not_after_seconds", "gauge",
                         "End of the directory's validity (Unix time).",
                         na > 0 ? (uint64_t)(na / 1000) : 0);
    int64_t now = egide_now_ms();
    egide_metrics_single_ms(&out, "egide_broker_directory_expiry_seconds", "gauge",
                            "Seconds until the directory held expires (negative: expired).",
                            na - now);
    egide_metrics_single_ms(&out, "egide_broker_certificate_expiry_seconds", "gauge",
                            "Seconds until this broker's signing certificate expires (negative: "
                            "expired).",
                            b->sign_not_after_ms - now);
    egide_metrics_family(&out, "egide_build_info", "gauge", "The running build (always 1).");
    egide_metrics_value(&out, "egide_build_info", "version", EGIDE_VERSION_STRING, 1);
    egide_metrics_single(&out, "egide_broker_directory_expired_refusals_total", "counter",
                         "Hellos and submits refused because the directory expired.",
                         atomic_load(&m->directory_expired_refusals));
    egide_metrics_single(&out, "egide_broker_passive", "gauge",
                         "1 while this broker does not hold the store's write lease (or refuses).",
                         atomic_load(&m->role) != BROKER_ACTIVE);
    egide_metrics_single(&out, "egide_broker_passive_refusals_total", "counter",
                         "Frames answered REASON_BROKER_PASSIVE.",
                         atomic_load(&m->passive_refusals));
    egide_metrics_single(&out, "egide_broker_zap_refused_audited_total", "counter",
                         "Refused handshakes that made an audit leaf (one per key per interval).",
                         atomic_load(&m->zap_refused_audited));
    egide_metrics_single(&out, "egide_broker_store_waits_total", "counter",
                         "Rounds of the loop's poll while a store statement waited on the server.",
                         atomic_load(&m->store_waits));
    egide_metrics_single(&out, "egide_broker_zap_in_store_wait_total", "counter",
                         "Handshakes answered while a store statement waited on the server.",
                         atomic_load(&m->zap_in_store_wait));
    egide_buf_append(&out, "", 1);
    egide_http_text(resp, 200, "text/plain; version=0.0.4", out.data ? (const char *)out.data : "");
    egide_buf_free(&out);
}

static void s_handler(const egide_http_req_t *req, egide_http_resp_t *resp, void *arg)
{
    broker_t *b = arg;
    bool read = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    if ((strcmp(req->path, "/v1/health") == 0 || strcmp(req->path, "/metrics") == 0) && !read) {
        egide_http_method_not_allowed(resp, "GET, HEAD");
        return;
    }
    if (strcmp(req->path, "/v1/health") == 0) {
        /* Past the directory's validity the broker refuses new work: say so
         * to monitoring (503) until the directory is renewed. */
        int64_t na = atomic_load(&b->m.directory_not_after_ms);
        bool expired = egide_now_ms() > na;
        /* The store away (a PostgreSQL server down): 503 too, transient. */
        bool store_down = atomic_load(&b->m.store_unavailable);
        /* Passive (another broker holds the write lease) or refusing (the
         * store failed the takeover checks): 503, with the reason. */
        int role = atomic_load(&b->m.role);
        json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:b, s:s, s:s}", "status",
                              role == BROKER_REFUSING  ? "refusing"
                              : role == BROKER_PASSIVE ? "passive"
                              : store_down             ? "store_unavailable"
                              : expired                ? "directory_expired"
                                                       : "ok",
                              "node", b->node_id, "directory_version",
                              (json_int_t)atomic_load(&b->m.directory_version), "audit_log_size",
                              (json_int_t)atomic_load(&b->m.audit_size), "connected_nodes",
                              (json_int_t)atomic_load(&b->m.connected_nodes),
                              "directory_not_after_ms", (json_int_t)na, "directory_expired",
                              expired, "store", store_down ? "unavailable" : "ok", "store_backend",
                              broker_store_backend(b->store));
        json_object_set_new(o, "role",
                            json_string(role == BROKER_REFUSING  ? "refusing"
                                        : role == BROKER_PASSIVE ? "passive"
                                                                 : "active"));
        if (role == BROKER_REFUSING)
            json_object_set_new(o, "reason", json_string(b->refuse_why));
        else if (role == BROKER_PASSIVE)
            json_object_set_new(o, "reason",
                                json_string("another broker holds the store's write lease"));
        egide_http_json(resp, expired || store_down || role != BROKER_ACTIVE ? 503 : 200, o);
        return;
    }
    if (strcmp(req->path, "/metrics") == 0) {
        s_metrics(b, resp);
        return;
    }
    if (strncmp(req->path, "/v1/audit/", 10) == 0) {
        char *body = NULL;
        const char *ctype = NULL;
        int status =
            egide_auditapi_handle(b->api_audit, req->method, req->path, req->query, &body, &ctype);
        resp->status = status;
        resp->body = body;
        resp->body_len = body ? strlen(body) : 0;
        resp->content_type = ctype;
        if (status == 405)
            resp->allow = "GET, HEAD"; /* the audit API is read-only */
        return;
    }
    egide_http_error(resp, 404, EGIDE_ERR_NOTFOUND, "no route %s", req->path);
}

egide_rc broker_api_start(broker_t *b)
{
    egide_rc rc;
    const egide_config_t *cfg = b->cfg;
    char *tf = egide_config_path(cfg, "api", "token_file");
    if (!tf)
        egide_log(EGIDE_LOG_WARNING, "[api] token_file not set: the audit API and /metrics are"
                                     " served without authentication on loopback");
    rc = tf ? broker_file_fail("API token", tf, egide_token_load(tf, &b->api_token)) : EGIDE_OK;
    free(tf);
    if (rc)
        return rc;
    /* The API thread reads through its own handle on the store. */
    rc = broker_store_open_reader(b->store, &b->api_store);
    if (rc)
        return rc;
    b->api_audit = broker_store_audit(b->api_store);
    static const char *const pub_only_health[] = {"/v1/health", NULL};
    static const char *const pub_with_metrics[] = {"/v1/health", "/metrics", NULL};
    egide_http_config_t hc = {
        .bind_addr = egide_config_str(cfg, "api", "bind"),
        .port = (uint16_t)egide_config_int(cfg, "api", "port"),
        .token = b->api_token,
        .public_paths =
            egide_config_bool(cfg, "api", "metrics_public") ? pub_with_metrics : pub_only_health,
        .max_body = 4096,
        .allow_non_loopback = egide_config_bool(cfg, "api", "allow_non_loopback"),
        .threads = 1,
    };
    rc = egide_http_start(&hc, s_handler, b, &b->http);
    if (rc)
        return rc;
    egide_log(EGIDE_LOG_NOTICE, "HTTP API on %s:%u", hc.bind_addr, egide_http_port(b->http));
    return EGIDE_OK;
}

void broker_api_stop(broker_t *b)
{
    egide_http_stop(&b->http);
    b->api_audit = NULL; /* the store's */
    broker_store_close(&b->api_store);
    egide_token_free(&b->api_token);
}
