/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * broker_api.c - the broker's HTTP API (loopback by default): /v1/health
 * (public), /metrics (Prometheus text) and the read-only audit API
 * (/v1/audit/...), behind the bearer token.  Runs in libmicrohttpd's thread
 * with its own SQLite connection; reads only.
 */
#include "broker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egide/egide_auditapi.h"
#include "egide/egide_db.h"
#include "egide/egide_log.h"
#include "egide/egide_util.h"
#include "egide/egide_wire.h"

static void s_metrics(broker_t *b, egide_http_resp_t *resp)
{
    egide_buf_t out;
    egide_buf_init(&out, 1 << 20);
#define EMIT(...) egide_buf_printf(&out, __VA_ARGS__)
    EMIT("# HELP egide_broker_messages_total Envelopes by outcome at the broker.\n");
    EMIT("# TYPE egide_broker_messages_total counter\n");
    EMIT("egide_broker_messages_total{outcome=\"accepted\"} %llu\n",
         (unsigned long long)atomic_load(&b->m.accepted));
    EMIT("egide_broker_messages_total{outcome=\"rejected\"} %llu\n",
         (unsigned long long)atomic_load(&b->m.rejected));
    EMIT("# HELP egide_broker_deliveries_total Per-recipient delivery outcomes.\n");
    EMIT("# TYPE egide_broker_deliveries_total counter\n");
    EMIT("egide_broker_deliveries_total{outcome=\"delivered\"} %llu\n",
         (unsigned long long)atomic_load(&b->m.delivered));
    EMIT("egide_broker_deliveries_total{outcome=\"rejected\"} %llu\n",
         (unsigned long long)atomic_load(&b->m.recipient_rejected));
    EMIT("egide_broker_deliveries_total{outcome=\"expired\"} %llu\n",
         (unsigned long long)atomic_load(&b->m.expired));
    EMIT("# HELP egide_broker_delivery_attempts_total Deliver frames sent (retries included).\n");
    EMIT("# TYPE egide_broker_delivery_attempts_total counter\n");
    EMIT("egide_broker_delivery_attempts_total %llu\n",
         (unsigned long long)atomic_load(&b->m.deliveries_sent));
    EMIT("# HELP egide_broker_redeliveries_total Deliver frames that were retries.\n");
    EMIT("# TYPE egide_broker_redeliveries_total counter\n");
    EMIT("egide_broker_redeliveries_total %llu\n",
         (unsigned long long)atomic_load(&b->m.redeliveries));
    EMIT("# HELP egide_broker_receipts_relayed_total Receipts acknowledged by their senders.\n");
    EMIT("# TYPE egide_broker_receipts_relayed_total counter\n");
    EMIT("egide_broker_receipts_relayed_total %llu\n",
         (unsigned long long)atomic_load(&b->m.relayed));
    EMIT("# HELP egide_broker_rejections_total Rejections by reason code.\n");
    EMIT("# TYPE egide_broker_rejections_total counter\n");
    for (int r = 0; r < 32; r++) {
        uint64_t v = atomic_load(&b->m.rejected_by_reason[r]);
        if (v)
            EMIT("egide_broker_rejections_total{reason=\"%s\"} %llu\n", egide_wire_reason_name(r),
                 (unsigned long long)v);
    }
    EMIT("# HELP egide_broker_frames_total Frames received, and those refused as malformed.\n");
    EMIT("# TYPE egide_broker_frames_total counter\n");
    EMIT("egide_broker_frames_total{kind=\"all\"} %llu\n",
         (unsigned long long)atomic_load(&b->m.frames_in));
    EMIT("egide_broker_frames_total{kind=\"bad\"} %llu\n",
         (unsigned long long)atomic_load(&b->m.frames_bad));
    EMIT("# HELP egide_broker_zap_refused_total Transport keys refused at the handshake.\n");
    EMIT("# TYPE egide_broker_zap_refused_total counter\n");
    EMIT("egide_broker_zap_refused_total %llu\n",
         (unsigned long long)atomic_load(&b->m.zap_refused));
    EMIT("# HELP egide_broker_commits_total Database commits (each one fsync).\n");
    EMIT("# TYPE egide_broker_commits_total counter\n");
    EMIT("egide_broker_commits_total %llu\n", (unsigned long long)atomic_load(&b->m.commits));
    EMIT("# HELP egide_broker_queue_depth Deliveries waiting for a recipient's receipt.\n");
    EMIT("# TYPE egide_broker_queue_depth gauge\n");
    EMIT("egide_broker_queue_depth %llu\n", (unsigned long long)atomic_load(&b->m.queue_depth));
    EMIT("# HELP egide_broker_relay_depth Receipts waiting for their sender.\n");
    EMIT("# TYPE egide_broker_relay_depth gauge\n");
    EMIT("egide_broker_relay_depth %llu\n", (unsigned long long)atomic_load(&b->m.relay_depth));
    EMIT("# HELP egide_broker_audit_log_size Leaves in the audit log.\n");
    EMIT("# TYPE egide_broker_audit_log_size gauge\n");
    EMIT("egide_broker_audit_log_size %llu\n", (unsigned long long)atomic_load(&b->m.audit_size));
    EMIT("# HELP egide_broker_connected_nodes Nodes with a live connection.\n");
    EMIT("# TYPE egide_broker_connected_nodes gauge\n");
    EMIT("egide_broker_connected_nodes %llu\n",
         (unsigned long long)atomic_load(&b->m.connected_nodes));
#undef EMIT
    egide_buf_append(&out, "", 1);
    egide_http_text(resp, 200, "text/plain; version=0.0.4", out.data ? (const char *)out.data : "");
    egide_buf_free(&out);
}

static void s_handler(const egide_http_req_t *req, egide_http_resp_t *resp, void *arg)
{
    broker_t *b = arg;
    if (strcmp(req->path, "/v1/health") == 0) {
        json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I}", "status", "ok", "node", b->node_id,
                              "directory_version", (json_int_t)egide_directory_version(b->dir),
                              "audit_log_size", (json_int_t)atomic_load(&b->m.audit_size),
                              "connected_nodes", (json_int_t)atomic_load(&b->m.connected_nodes));
        egide_http_json(resp, 200, o);
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
        return;
    }
    egide_http_error(resp, 404, EGIDE_ERR_NOTFOUND, "no route %s", req->path);
}

egide_rc broker_api_start(broker_t *b)
{
    egide_rc rc;
    const egide_config_t *cfg = b->cfg;
    char *tf = egide_config_path(cfg, "api", "token_file");
    if (tf) {
        rc = egide_http_token_load(tf, &b->api_token);
        if (rc) {
            egide_log(EGIDE_LOG_ERROR, "API token %s: %s%s", tf, egide_strerror(rc),
                      rc == EGIDE_ERR_PERM ? " (chmod 600)" : "");
            free(tf);
            return rc;
        }
        free(tf);
    } else {
        egide_log(EGIDE_LOG_WARNING, "[api] token_file not set: the audit API and /metrics are"
                                     " served without authentication on loopback");
    }
    const char *dbfile = sqlite3_db_filename(b->db, "main");
    rc = egide_db_open(dbfile, false, &b->api_db);
    if (!rc)
        rc = egide_auditlog_open(b->api_db, &b->api_audit);
    if (rc)
        return rc;
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
    egide_auditlog_destroy(&b->api_audit);
    egide_db_close(&b->api_db);
    egide_http_token_free(&b->api_token);
}
