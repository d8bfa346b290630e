/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_main.c - egide-edge: command line, configuration, start-up checks
 * (key permissions and types, trust store, the first directory and the
 * broker key it pins), signals.  The loop is in edge_loop.c, the REST API in
 * edge_api.c, the store behind edge_store.h.
 */
#include "edge.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "egide/crypto/egide_crypto.h"
#include "egide/crypto/egide_keyd.h"
#include "egide/base/egide_daemon.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_journal.h"
#include "egide/base/egide_notify.h"
#include "egide/base/egide_util.h"

static const char *const s_levels[] = {"error", "warning", "notice", "info", "debug", NULL};
static const char *const s_holders[] = {"process", "inline", NULL};

#define K(sec, name, type, req, min, max, def, help)                                               \
    {                                                                                              \
        sec, name, type, req, min, max, def, NULL, help                                            \
    }
const egide_config_key_t edge_config_schema[] = {
    K("edge", "node_id", EGIDE_CFG_NODE_ID, true, 0, 0, NULL, "this node's id, e.g. 71.crip"),
    K("edge", "database", EGIDE_CFG_PATH, true, 0, 0, NULL,
      "SQLite file (outbox, inbox, receipts)"),
    K("edge", "directory_anchor", EGIDE_CFG_PATH, true, 0, 0, NULL,
      "directory authority certificate (pinned)"),
    K("edge", "directory", EGIDE_CFG_PATH, false, 0, 0, NULL,
      "initial signed directory (later ones come from the broker)"),
    K("edge", "broker_endpoint", EGIDE_CFG_ENDPOINT, false, 0, 0, NULL,
      "override the directory's broker endpoint"),
    K("edge", "broker_curve_public", EGIDE_CFG_PATH, false, 0, 0, NULL,
      "override the directory's broker CURVE key (Z85 file)"),
    K("edge", "ca_root", EGIDE_CFG_PATH, true, 0, 0, NULL, "department root CA certificate"),
    K("edge", "ca_chain", EGIDE_CFG_PATH, false, 0, 0, NULL,
      "intermediate (issuing) CA certificates"),
    K("edge", "crl", EGIDE_CFG_PATH, false, 0, 0, NULL, "CRLs of the root and issuing CAs"),
    K("edge", "sign_key", EGIDE_CFG_PATH, true, 0, 0, NULL, "Ed25519 signing key (mode 0600)"),
    K("edge", "sign_cert", EGIDE_CFG_PATH, true, 0, 0, NULL, "Ed25519 signing certificate"),
    K("edge", "enc_key", EGIDE_CFG_PATH, true, 0, 0, NULL, "X25519 encryption key (mode 0600)"),
    K("edge", "curve_secret", EGIDE_CFG_PATH, true, 0, 0, NULL,
      "CURVE secret key, Z85 (mode 0600)"),
    K("edge", "curve_public", EGIDE_CFG_PATH, true, 0, 0, NULL, "CURVE public key, Z85"),
    K("edge", "message_ttl_days", EGIDE_CFG_INT, false, 1, 365, "30",
      "a message not delivered by then expires"),
    K("edge", "retry_min_ms", EGIDE_CFG_INT, false, 10, 600000, "500", "first resend delay"),
    K("edge", "retry_max_ms", EGIDE_CFG_INT, false, 100, 3600000, "60000", "longest resend delay"),
    K("edge", "unknown_sender_grace_s", EGIDE_CFG_INT, false, 0, 2592000, "86400",
      "how long a message from a sender unknown to this node's directory waits for a newer "
      "directory before it is refused"),
    K("edge", "clock_skew_ms", EGIDE_CFG_INT, false, 1000, 86400000, "300000",
      "accepted clock difference"),
    K("edge", "heartbeat_ms", EGIDE_CFG_INT, false, 0, 600000, "5000",
      "ZeroMQ heartbeat interval (0 = off)"),
    K("edge", "group_commit", EGIDE_CFG_BOOL, false, 0, 0, "true",
      "commit a batch of frames with one fsync"),
    K("deadlines", "profile", EGIDE_CFG_PATH, false, 0, 0, NULL,
      "jurisdiction deadline profile (INI)"),
    K("known_child", "key_file", EGIDE_CFG_PATH, false, 0, 0, NULL,
      "CRIP only: key of known-child detection (mode 0600, >= 32 bytes); none = off"),
    K("api", "bind", EGIDE_CFG_STRING, false, 0, 0, "127.0.0.1", "address of the REST API"),
    K("api", "port", EGIDE_CFG_INT, false, 0, 65535, "7720",
      "port of the REST API (0 = any free port)"),
    K("api", "token_file", EGIDE_CFG_PATH, true, 0, 0, NULL, "bearer token file (mode 0600)"),
    K("api", "tls_cert", EGIDE_CFG_PATH, false, 0, 0, NULL,
      "HTTPS: the listener's certificate chain (PEM); with tls_key, the API and the pages are "
      "served over TLS only and the session cookie is Secure"),
    K("api", "tls_key", EGIDE_CFG_PATH, false, 0, 0, NULL,
      "HTTPS: the listener's private key (PEM, mode 0600)"),
    K("api", "metrics_public", EGIDE_CFG_BOOL, false, 0, 0, "false",
      "serve /metrics without the token"),
    K("api", "allow_non_loopback", EGIDE_CFG_BOOL, false, 0, 0, "false",
      "allow binding a non-loopback address"),
    K("api", "max_body_bytes", EGIDE_CFG_INT, false, 1024, 25165824, "20971520",
      "largest request body"),
    K("web", "session_idle_minutes", EGIDE_CFG_INT, false, 1, 1440, "30",
      "a web session unused this long ends"),
    K("web", "session_max_hours", EGIDE_CFG_INT, false, 1, 168, "12",
      "a web session ends this long after login"),
    K("web", "lockout_failures", EGIDE_CFG_INT, false, 1, 1000, "5",
      "failed logins of one account name that lock it"),
    K("web", "lockout_source_failures", EGIDE_CFG_INT, false, 1, 100000, "20",
      "failed logins from one address that lock it"),
    K("web", "lockout_minutes", EGIDE_CFG_INT, false, 1, 1440, "15",
      "failures counted over, and lock length"),
    K("web", "cookie_secure", EGIDE_CFG_BOOL, false, 0, 0, "false",
      "mark the session cookie Secure (set when TLS is terminated in front)"),
    K("api", "threads", EGIDE_CFG_INT, false, 1, 64, "4",
      "requests answered at once (1 = one at a time on the HTTP thread; /v1/health is "
      "answered by a worker of its own when more)"),
    {"keys", "holder", EGIDE_CFG_ENUM, false, 0, 0, "process", s_holders,
     "process: the private keys live in egide-keyd, not here; inline: in this process"},
    K("keys", "program", EGIDE_CFG_PATH, false, 0, 0, NULL,
      "the key holder to run (default: egide-keyd next to this binary)"),
    {"log", "level", EGIDE_CFG_ENUM, false, 0, 0, "notice", s_levels, "log level"},
    K("log", "syslog", EGIDE_CFG_BOOL, false, 0, 0, "false", "log to syslog instead of stderr"),
    EGIDE_CONFIG_END,
};

static egide_rc s_path_fail(const char *what, const char *path, egide_rc rc)
{
    egide_log(EGIDE_LOG_ERROR, "%s %s: %s%s", what, path ? path : "", egide_strerror(rc),
              rc == EGIDE_ERR_PERM ? " (chmod 600)" : "");
    return rc;
}

/* The end of loading one configured file: log a failure naming it, free
 * its path either way, return rc. */
static egide_rc s_loaded(const char *what, char *path, egide_rc rc)
{
    if (rc)
        s_path_fail(what, path, rc);
    free(path);
    return rc;
}

egide_rc edge_init(edge_t *e, egide_config_t *cfg)
{
    memset(e, 0, sizeof *e);
    e->cfg = cfg;
    e->cfg_schema = edge_config_schema;
    e->stop = &egide_daemon_stop;
    e->reload = &egide_daemon_reload;
    e->wake[0] = e->wake[1] = -1;
    pthread_mutex_init(&e->dir_lock, NULL);
    pthread_mutex_init(&e->api_lock, NULL);
    pthread_mutex_init(&e->batch_lock, NULL);
    pthread_mutex_init(&e->write_lock, NULL);
    pthread_cond_init(&e->batch_cond, NULL);
    egide_strlcpy(e->node_id, egide_config_str(cfg, "edge", "node_id"), sizeof e->node_id);
    e->ttl_ms = egide_config_int(cfg, "edge", "message_ttl_days") * 86400000LL;
    e->retry_min_ms = (int)egide_config_int(cfg, "edge", "retry_min_ms");
    e->retry_max_ms = (int)egide_config_int(cfg, "edge", "retry_max_ms");
    e->unknown_sender_grace_ms = egide_config_int(cfg, "edge", "unknown_sender_grace_s") * 1000;
    e->clock_skew_ms = egide_config_int(cfg, "edge", "clock_skew_ms");
    e->group_commit = egide_config_bool(cfg, "edge", "group_commit");
    egide_rc rc;
    char *p;

    /* The private keys: read by the key holder (egide-keyd), which this
     * process asks to sign and unwrap; held here only with holder = inline. */
    p = egide_config_path(cfg, "edge", "sign_key");
    char *enc_path = egide_config_path(cfg, "edge", "enc_key");
    char *prog = egide_config_path(cfg, "keys", "program");
    rc = egide_keyd_load(egide_config_str(cfg, "keys", "holder"), prog, p, enc_path, &e->keyd,
                         &e->sign_key, &e->enc_key);
    free(prog);
    free(enc_path);
    free(p);
    if (rc)
        return rc;
    X509 *cert = NULL;
    p = egide_config_path(cfg, "edge", "sign_cert");
    rc = egide_cert_load(p, &cert);
    if (!rc)
        rc = egide_pki_check_node_cert(cert, EGIDE_CERT_USE_SIGN, e->node_id);
    if (!rc)
        rc = egide_cert_fingerprint(cert, e->sign_fpr);
    if (!rc)
        rc = egide_cert_not_after_ms(cert, &e->sign_not_after_ms);
    X509_free(cert);
    if ((rc = s_loaded("signing certificate (must name this node)", p, rc)) != EGIDE_OK)
        return rc;
    p = egide_config_path(cfg, "edge", "directory_anchor");
    if ((rc = s_loaded("directory anchor", p, egide_cert_load(p, &e->anchor))) != EGIDE_OK)
        return rc;
    char *root = egide_config_path(cfg, "edge", "ca_root");
    char *chain = egide_config_path(cfg, "edge", "ca_chain");
    char *crl = egide_config_path(cfg, "edge", "crl");
    rc = egide_trust_new(root, chain, crl, crl ? 0 : EGIDE_TRUST_NO_CRL, &e->trust);
    if (rc)
        s_path_fail("trust store", root, rc);
    free(root);
    free(chain);
    free(crl);
    if (rc)
        return rc;
    p = egide_config_path(cfg, "edge", "curve_secret");
    if ((rc = s_loaded("CURVE secret", p, egide_curve_key_read(p, 1, e->curve_secret))) != EGIDE_OK)
        return rc;
    p = egide_config_path(cfg, "edge", "curve_public");
    if ((rc = s_loaded("CURVE public key", p, egide_curve_key_read(p, 0, e->curve_public))) !=
        EGIDE_OK)
        return rc;

    e->db_path = egide_config_path(cfg, "edge", "database");
    rc = edge_store_sqlite_ops.open(e->db_path, &e->store);
    if (rc)
        return s_path_fail("database", e->db_path, rc);
    edge_store_sqlite_share_writes(e->store, &e->write_lock);

    /* The directory: the newest of the stored one and the configured file. */
    uint8_t *stored = NULL;
    size_t slen = 0;
    if (edge_store_meta_get(e->store, "directory", &stored, &slen) == EGIDE_OK) {
        edge_adopt_directory(e, stored, slen, false);
        free(stored);
    }
    p = egide_config_path(cfg, "edge", "directory");
    if (p) {
        uint8_t *d;
        size_t dl;
        rc = egide_file_read(p, EGIDE_MAX_DIRECTORY, &d, &dl);
        if (rc) {
            s_path_fail("directory", p, rc);
            free(p);
            return rc;
        }
        rc = edge_adopt_directory(e, d, dl, true);
        free(d);
        if (rc && !e->dir) {
            s_path_fail("directory", p, rc);
            free(p);
            return rc;
        }
        free(p);
    }
    const Egide__V1__BrokerEndpoint *be = e->dir ? egide_directory_broker(e->dir) : NULL;
    const char *ep = egide_config_str(cfg, "edge", "broker_endpoint");
    if (!ep && be)
        ep = be->endpoint;
    p = egide_config_path(cfg, "edge", "broker_curve_public");
    if (p) {
        rc = egide_curve_key_read(p, 0, e->broker_public);
        if (rc) {
            s_path_fail("broker CURVE key", p, rc);
            free(p);
            return rc;
        }
        free(p);
    } else if (be && be->curve_public_key) {
        egide_strlcpy(e->broker_public, be->curve_public_key, sizeof e->broker_public);
    }
    if (!ep || !e->broker_public[0]) {
        egide_log(EGIDE_LOG_ERROR, "no broker endpoint or key: set [edge] directory (or"
                                   " broker_endpoint and broker_curve_public)");
        return EGIDE_ERR_CONFIG;
    }
    egide_strlcpy(e->broker_endpoint, ep, sizeof e->broker_endpoint);
    e->broker_pinned = egide_config_str(cfg, "edge", "broker_endpoint") != NULL;
    e->broker_since_ms = egide_mono_ms();
    if (!e->role[0]) {
        egide_log(EGIDE_LOG_ERROR, "node %s is not in the directory", e->node_id);
        return EGIDE_ERR_CONFIG;
    }
    if ((rc = edge_known_child_init(e)) != EGIDE_OK)
        return rc;
    char *prof = egide_config_path(cfg, "deadlines", "profile");
    if (prof) {
        char err[512];
        rc = egide_deadline_profile_load(prof, &e->profile, err, sizeof err);
        free(prof);
        if (rc) {
            egide_log(EGIDE_LOG_ERROR, "deadline profile: %s", err);
            return rc;
        }
    }

    if (pipe2(e->wake, O_NONBLOCK | O_CLOEXEC) != 0)
        return EGIDE_ERR_IO;
    e->zctx = egide_transport_ctx_new();
    if (!e->zctx)
        return s_path_fail("transport", e->broker_endpoint, EGIDE_ERR_IO);
    egide_transport_opts_t o = {
        .heartbeat_ms = (int)egide_config_int(cfg, "edge", "heartbeat_ms"),
        .linger_ms = EGIDE_DEFAULT_LINGER_MS,
        .max_msg = EGIDE_MAX_FRAME,
        .sndhwm = 100000,
        .monitor_ep = "inproc://edge-monitor-0",
        .monitor_events = EGIDE_TRANSPORT_EV_HANDSHAKE_OK | EGIDE_TRANSPORT_EV_DISCONNECTED |
                          EGIDE_TRANSPORT_EV_HANDSHAKE_FAIL_AUTH |
                          EGIDE_TRANSPORT_EV_HANDSHAKE_FAIL_NOAUTH |
                          EGIDE_TRANSPORT_EV_HANDSHAKE_FAIL_PROTO,
        .monitor_out = &e->monitor,
    };
    rc = egide_transport_dealer(e->zctx, e->broker_endpoint, e->broker_public, e->curve_public,
                                e->curve_secret, &o, &e->dealer);
    if (rc)
        return s_path_fail("transport", e->broker_endpoint, rc);
    rc = edge_api_start(e);
    if (rc)
        egide_log(EGIDE_LOG_ERROR, "REST API: %s", egide_strerror(rc));
    return rc;
}

void edge_fini(edge_t *e)
{
    edge_api_stop(e);
    /* The monitor is stopped before its receiving end is closed: libzmq's
     * I/O thread sends each event with a blocking send under the socket's
     * monitor lock, so an event (the handshake's, say) sent to a closed
     * PAIR blocks that thread for good, and stopping the monitor here
     * then waits on the lock forever (the edge hung on exit). */
    if (e->dealer)
        egide_transport_monitor_stop(e->dealer);
    egide_transport_close(&e->monitor, 0);
    egide_transport_close(&e->dealer, EGIDE_DEFAULT_LINGER_MS);
    egide_transport_ctx_destroy(&e->zctx);
    for (int i = 0; i < 2; i++)
        if (e->wake[i] >= 0)
            close(e->wake[i]);
    edge_store_close(&e->store);
    egide_deadline_profile_destroy(&e->profile);
    for (size_t i = 0; i < e->n_old_profiles; i++)
        egide_deadline_profile_destroy(&e->old_profiles[i]);
    free(e->old_profiles);
    edge_known_child_fini(e);
    egide_peers_destroy(&e->peers);
    egide_directory_destroy(&e->dir);
    egide_trust_destroy(&e->trust);
    X509_free(e->anchor);
    EVP_PKEY_free(e->sign_key);
    EVP_PKEY_free(e->enc_key);
    egide_keyd_destroy(&e->keyd); /* after the keys it holds */
    egide_wipe(e->curve_secret, sizeof e->curve_secret);
    free(e->db_path);
    pthread_mutex_destroy(&e->dir_lock);
    pthread_mutex_destroy(&e->api_lock);
    pthread_cond_destroy(&e->batch_cond);
    pthread_mutex_destroy(&e->batch_lock);
    pthread_mutex_destroy(&e->write_lock);
}

static int s_run(egide_config_t *cfg)
{
    edge_t e;
    int status = 1;
    egide_journal_attach(egide_config_str(cfg, "edge", "node_id"));
    if (edge_init(&e, cfg) == EGIDE_OK) {
        /* The REST API and the dealer are up: tell systemd (Type=notify). */
        egide_notify("READY=1");
        status = edge_run(&e);
        egide_notify("STOPPING=1");
    }
    edge_fini(&e);
    return status;
}

int main(int argc, char **argv)
{
    static const egide_daemon_spec_t spec = {
        .name = "egide-edge",
        .description = "Égide edge: holds one node's keys, seals and opens its messages, keeps a\n"
                       "durable outbox and inbox, and serves the local REST API.  SIGHUP reloads\n"
                       "the configuration (log level), the API token and the deadline profile.\n"
                       "-n opens and\n"
                       "checks every file the configuration names (keys, certificates, directory,\n"
                       "CRL, token, deadline profile).\n",
        .schema = edge_config_schema,
        .run = s_run,
        .check = edge_check_config,
    };
    return egide_daemon_main(&spec, argc, argv);
}
