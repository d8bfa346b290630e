/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * broker_init.c - the broker's configuration schema, its start-up (keys with
 * their permissions checked, the pinned directory anchor, the directory, the
 * store, the ZAP handler and the ROUTER, the HTTP API) and its shutdown.
 */
#include "broker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "egide/base/egide_daemon.h"
#include "egide/base/egide_limits.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/crypto/egide_keyd.h"
#include "egide/audit/egide_auditverify.h"
#include "egide/protocol/egide_checkpoint.h"

static const char *const s_levels[] = {"error", "warning", "notice", "info", "debug", NULL};
static const char *const s_holders[] = {"process", "inline", NULL};
static const char *const s_store_backends[] = {"sqlite", "postgresql", NULL};

#define K(sec, name, type, req, min, max, def, help)                                               \
    {                                                                                              \
        sec, name, type, req, min, max, def, NULL, help                                            \
    }
const egide_config_key_t broker_config_schema[] = {
    K("broker", "node_id", EGIDE_CFG_NODE_ID, true, 0, 0, NULL,
      "this broker's node id, e.g. 71.broker"),
    K("broker", "endpoint", EGIDE_CFG_ENDPOINT, false, 0, 0, EGIDE_DEFAULT_BROKER_ENDPOINT,
      "ZeroMQ endpoint to bind"),
    K("broker", "database", EGIDE_CFG_PATH, true, 0, 0, NULL,
      "SQLite file (envelopes, queues, audit log); with [store] backend = postgresql, names the "
      "default checkpoint file only"),
    K("broker", "directory", EGIDE_CFG_PATH, true, 0, 0, NULL, "signed directory file"),
    K("broker", "directory_anchor", EGIDE_CFG_PATH, true, 0, 0, NULL,
      "directory authority certificate (pinned)"),
    K("broker", "ca_root", EGIDE_CFG_PATH, true, 0, 0, NULL, "department root CA certificate"),
    K("broker", "ca_chain", EGIDE_CFG_PATH, false, 0, 0, NULL,
      "intermediate (issuing) CA certificates"),
    K("broker", "crl", EGIDE_CFG_PATH, false, 0, 0, NULL, "CRLs of the root and issuing CAs"),
    K("broker", "sign_key", EGIDE_CFG_PATH, true, 0, 0, NULL, "Ed25519 signing key (mode 0600)"),
    K("broker", "sign_cert", EGIDE_CFG_PATH, true, 0, 0, NULL, "Ed25519 signing certificate"),
    K("broker", "curve_secret", EGIDE_CFG_PATH, true, 0, 0, NULL,
      "CURVE secret key, Z85 (mode 0600)"),
    K("broker", "group_commit", EGIDE_CFG_BOOL, false, 0, 0, "true",
      "commit a batch of frames with one fsync"),
    K("broker", "batch_max", EGIDE_CFG_INT, false, 1, 4096, "256", "frames per group commit"),
    K("broker", "clock_skew_ms", EGIDE_CFG_INT, false, 1000, 86400000, "300000",
      "how far in the future of the broker's clock an envelope may be created"),
    K("broker", "max_lifetime_days", EGIDE_CFG_INT, false, 1, 3650, "365",
      "longest envelope lifetime (expires - created) accepted"),
    K("broker", "seq_window", EGIDE_CFG_INT, false, 1, 1000000, "4096",
      "per-sender sequence replay window"),
    K("broker", "retry_min_ms", EGIDE_CFG_INT, false, 10, 600000, "500", "first redelivery delay"),
    K("broker", "retry_max_ms", EGIDE_CFG_INT, false, 100, 3600000, "60000",
      "longest redelivery delay"),
    K("broker", "heartbeat_ms", EGIDE_CFG_INT, false, 0, 600000, "5000",
      "ZeroMQ heartbeat interval (0 = off)"),
    K("broker", "max_message_bytes", EGIDE_CFG_INT, false, 1024, 25165824, "25165824",
      "largest frame accepted"),
    K("audit", "origin", EGIDE_CFG_STRING, false, 0, 0, NULL,
      "checkpoint origin (default egide.<node_id>/audit)"),
    K("audit", "checkpoint_file", EGIDE_CFG_PATH, false, 0, 0, NULL,
      "file keeping the last signed checkpoint, checked against the store at start "
      "(default <database>.checkpoint)"),
    K("audit", "checkpoint_entries", EGIDE_CFG_INT, false, 1, 1000000, "256",
      "checkpoint after this many leaves"),
    K("audit", "checkpoint_seconds", EGIDE_CFG_INT, false, 1, 86400, "10",
      "or after this many seconds"),
    K("api", "enabled", EGIDE_CFG_BOOL, false, 0, 0, "true",
      "serve /v1/health, /metrics and the audit API"),
    K("api", "bind", EGIDE_CFG_STRING, false, 0, 0, "127.0.0.1", "address of the HTTP API"),
    K("api", "port", EGIDE_CFG_INT, false, 0, 65535, "7711",
      "port of the HTTP API (0 = any free port)"),
    K("api", "token_file", EGIDE_CFG_PATH, false, 0, 0, NULL,
      "bearer token for the audit API (mode 0600)"),
    K("api", "metrics_public", EGIDE_CFG_BOOL, false, 0, 0, "false",
      "serve /metrics without the token"),
    K("api", "allow_non_loopback", EGIDE_CFG_BOOL, false, 0, 0, "false",
      "allow binding a non-loopback address"),
    {"keys", "holder", EGIDE_CFG_ENUM, false, 0, 0, "process", s_holders,
     "process: the signing key lives in egide-keyd, not here; inline: in this process"},
    K("keys", "program", EGIDE_CFG_PATH, false, 0, 0, NULL,
      "the key holder to run (default: egide-keyd next to this binary)"),
    {"store", "backend", EGIDE_CFG_ENUM, false, 0, 0, "sqlite", s_store_backends,
     "where the broker keeps its state: sqlite ([broker] database) or postgresql"},
    K("store", "conninfo", EGIDE_CFG_STRING, false, 0, 0, NULL,
      "libpq connection string for backend = postgresql (several hosts with "
      "target_session_attrs=read-write allowed; no password here: use ~/.pgpass or peer auth)"),
    K("store", "lease_seconds", EGIDE_CFG_INT, false, 0, 3600, "0",
      "postgresql: hold the store's write lease (renewed every third of it); a second broker "
      "waits passive until it expires; 0 = no lease (one broker)"),
    {"log", "level", EGIDE_CFG_ENUM, false, 0, 0, "notice", s_levels, "log level"},
    K("log", "syslog", EGIDE_CFG_BOOL, false, 0, 0, "false", "log to syslog instead of stderr"),
    EGIDE_CONFIG_END,
};

static egide_rc s_fail(const char *what, egide_rc rc)
{
    egide_log(EGIDE_LOG_ERROR, "%s: %s", what, egide_strerror(rc));
    return rc;
}

egide_rc broker_file_fail(const char *what, const char *path, egide_rc rc)
{
    if (rc)
        egide_log(EGIDE_LOG_ERROR, "%s %s: %s%s", what, path ? path : "(not set)",
                  egide_strerror(rc), rc == EGIDE_ERR_PERM ? " (chmod 600)" : "");
    return rc;
}

/* The broker's own keys and the directory authority it pins. */
static egide_rc s_keys(broker_t *b)
{
    /* The signing key is read by the key holder (egide-keyd), which this
     * process asks to sign; held here only with [keys] holder = inline. */
    char *p = egide_config_path(b->cfg, "broker", "sign_key");
    char *prog = egide_config_path(b->cfg, "keys", "program");
    egide_rc rc = egide_keyd_load(egide_config_str(b->cfg, "keys", "holder"), prog, p, NULL,
                                  &b->keyd, &b->sign_key, NULL);
    free(prog);
    free(p);
    if (rc)
        return rc;
    X509 *cert = NULL;
    p = egide_config_path(b->cfg, "broker", "sign_cert");
    rc = egide_cert_load(p, &cert);
    if (!rc)
        rc = egide_cert_fingerprint(cert, b->sign_fpr);
    if (!rc)
        rc = egide_cert_not_after_ms(cert, &b->sign_not_after_ms);
    X509_free(cert);
    rc = broker_file_fail("signing certificate", p, rc);
    free(p);
    if (rc)
        return rc;
    p = egide_config_path(b->cfg, "broker", "directory_anchor");
    rc = broker_file_fail("directory anchor", p, egide_cert_load(p, &b->anchor));
    free(p);
    return rc;
}

egide_rc broker_init(broker_t *b, egide_config_t *cfg)
{
    memset(b, 0, sizeof *b);
    b->cfg = cfg;
    b->out_tail = &b->out;
    b->stop = &egide_daemon_stop;
    b->reload = &egide_daemon_reload;
    egide_strlcpy(b->node_id, egide_config_str(cfg, "broker", "node_id"), sizeof b->node_id);
    b->group_commit = egide_config_bool(cfg, "broker", "group_commit");
    b->batch_max = (int)egide_config_int(cfg, "broker", "batch_max");
    b->clock_skew_ms = egide_config_int(cfg, "broker", "clock_skew_ms");
    b->max_lifetime_ms = egide_config_int(cfg, "broker", "max_lifetime_days") * 86400000LL;
    b->refused_interval_ms = BROKER_REFUSED_INTERVAL_MS;
    b->seq_window = (uint64_t)egide_config_int(cfg, "broker", "seq_window");
    b->retry_min_ms = (int)egide_config_int(cfg, "broker", "retry_min_ms");
    b->retry_max_ms = (int)egide_config_int(cfg, "broker", "retry_max_ms");
    b->redeliver_page = BROKER_REDELIVER_PAGE;
    /* Test only, not settings (not in the config schema), so that a test
     * can restart the broker in the middle of a redelivery of a few
     * messages (tests/integration/test_edge_restore_restart.sh):
     * EGIDE_TEST_REDELIVER_PAGE, a smaller page (ignored unless
     * 1..BROKER_REDELIVER_PAGE); EGIDE_TEST_REDELIVER_HOLD=1, only a Hello
     * queues a page (the pump queues none: the redelivery stops after its
     * first page until the node's next Hello). */
    const char *page = getenv("EGIDE_TEST_REDELIVER_PAGE");
    if (page && *page) {
        char *end = NULL;
        long v = strtol(page, &end, 10);
        if (*end == '\0' && v >= 1 && v <= BROKER_REDELIVER_PAGE) {
            b->redeliver_page = (size_t)v;
            egide_log(EGIDE_LOG_WARNING,
                      "test only: redelivery pages of %ld (EGIDE_TEST_REDELIVER_PAGE)", v);
        }
    }
    const char *hold = getenv("EGIDE_TEST_REDELIVER_HOLD");
    if (hold && strcmp(hold, "1") == 0) {
        b->redeliver_hold = true;
        egide_log(EGIDE_LOG_WARNING,
                  "test only: redelivery pages queued on Hello only (EGIDE_TEST_REDELIVER_HOLD)");
    }
    b->checkpoint_entries = (uint64_t)egide_config_int(cfg, "audit", "checkpoint_entries");
    b->checkpoint_ms = egide_config_int(cfg, "audit", "checkpoint_seconds") * 1000;
    const char *origin = egide_config_str(cfg, "audit", "origin");
    if (origin)
        egide_strlcpy(b->origin, origin, sizeof b->origin);
    else if (egide_checkpoint_origin_for(b->node_id, b->origin, sizeof b->origin))
        return s_fail("audit origin", EGIDE_ERR_CONFIG);

    egide_rc rc = s_keys(b);
    if (rc)
        return rc;
    b->directory_path = egide_config_path(cfg, "broker", "directory");
    if ((rc = broker_load_directory(b)))
        return rc;
    if (!egide_directory_node(b->dir, b->node_id)) {
        /* A broker the directory does not list has no certificate the edges
         * trust for its receipts: refuse to run rather than warn. */
        egide_log(EGIDE_LOG_ERROR, "directory %s (v%llu) does not list this broker's node id %s",
                  b->directory_path, (unsigned long long)egide_directory_version(b->dir),
                  b->node_id);
        return EGIDE_ERR_CONFIG;
    }

    const broker_store_ops_t *ops =
        broker_store_backend_named(egide_config_str(cfg, "store", "backend"));
    if (!ops)
        return s_fail("[store] backend", EGIDE_ERR_CONFIG);
    char *p = NULL;
    if (ops == &broker_store_sqlite_ops) {
        p = egide_config_path(cfg, "broker", "database");
        b->store_new = p && access(p, F_OK) != 0;
    } else {
        /* A server's database has no file to miss: an empty one behind a
         * signed checkpoint is refused by broker_check_store. */
        const char *ci = egide_config_str(cfg, "store", "conninfo");
        if (!ci)
            return s_fail("[store] conninfo (backend = postgresql)", EGIDE_ERR_CONFIG);
        p = strdup(ci);
        if (!p)
            return s_fail("[store] conninfo", EGIDE_ERR_NOMEM);
    }
    rc = broker_store_open(ops, p, false, &b->store);
    if (p)
        egide_wipe(p, strlen(p)); /* a conninfo may hold a password */
    free(p);
    if (rc)
        return s_fail(ops == &broker_store_sqlite_ops ? "database" : "PostgreSQL store", rc);
    b->lease_ms = egide_config_int(cfg, "store", "lease_seconds") * 1000;
    b->audit = broker_store_audit(b->store);
    b->last_checkpoint_size = 0;
    p = egide_config_path(cfg, "audit", "checkpoint_file");
    if (!p) {
        char *db = egide_config_path(cfg, "broker", "database");
        size_t n = db ? strlen(db) + sizeof ".checkpoint" : 0;
        p = n ? malloc(n) : NULL;
        if (p)
            snprintf(p, n, "%s.checkpoint", db);
        free(db);
    }
    b->checkpoint_path = p;
    if ((rc = broker_lease_take(b))) /* before anything is written */
        return rc;
    /* Passive: the checks wait for the takeover (broker_become_active). */
    if (atomic_load(&b->m.role) == BROKER_ACTIVE && (rc = broker_become_active(b)))
        return rc;

    char secret[41];
    p = egide_config_path(cfg, "broker", "curve_secret");
    rc = broker_file_fail("CURVE secret", p, egide_curve_key_read(p, 1, secret));
    free(p);
    if (rc)
        return rc;
    b->zctx = egide_transport_ctx_new();
    if (!b->zctx || egide_zap_open(b->zctx, &b->zap) != EGIDE_OK) {
        egide_wipe(secret, sizeof secret);
        return s_fail("ZAP handler", EGIDE_ERR_IO);
    }
    egide_transport_opts_t o = {
        .heartbeat_ms = (int)egide_config_int(cfg, "broker", "heartbeat_ms"),
        .linger_ms = EGIDE_DEFAULT_LINGER_MS,
        .max_msg = egide_config_int(cfg, "broker", "max_message_bytes"),
        .sndhwm = 100000,
    };
    rc = egide_transport_router(b->zctx, egide_config_str(cfg, "broker", "endpoint"), secret, &o,
                                &b->router);
    egide_wipe(secret, sizeof secret);
    if (rc)
        return s_fail("transport", rc);
    b->last_checkpoint_ms = egide_mono_ms();
    if (egide_config_bool(cfg, "api", "enabled") && (rc = broker_api_start(b)))
        return s_fail("HTTP API", rc);
    return EGIDE_OK;
}

/* The highest checkpoint stored whose root the store still has, below
 * `below`: where the damage starts (0 when none agrees). */
static uint64_t s_last_good(broker_t *b, uint64_t below)
{
    uint64_t good = 0, from = 1, size = 0;
    char *note = NULL;
    while (egide_auditlog_checkpoint_next(b->audit, from, &size, &note) == EGIDE_OK) {
        egide_checkpoint_t cp;
        uint8_t root[32];
        bool ok = size < below && egide_checkpoint_parse(note, strlen(note), &cp) == EGIDE_OK &&
                  egide_auditlog_root(b->audit, cp.size, root) == EGIDE_OK &&
                  memcmp(root, cp.root, 32) == 0;
        free(note);
        note = NULL;
        if (size >= below)
            break;
        if (ok)
            good = size;
        from = size + 1;
    }
    free(note);
    return good;
}

egide_rc broker_check_store(broker_t *b)
{
    char *note = NULL;
    const char *where = b->checkpoint_path;
    uint8_t *fbytes = NULL;
    size_t flen = 0;
    egide_rc rc = where ? egide_file_read(where, EGIDE_CHECKPOINT_MAX_NOTE, &fbytes, &flen)
                        : EGIDE_ERR_NOTFOUND;
    if (rc == EGIDE_OK) {
        note = calloc(1, flen + 1);
        if (!note) {
            free(fbytes);
            return s_fail("last signed checkpoint", EGIDE_ERR_NOMEM);
        }
        memcpy(note, fbytes, flen);
        free(fbytes);
    } else {
        /* No file yet (a first start, or a store from before it was kept):
         * the store's own latest checkpoint is all there is to check. */
        where = "the store";
        rc = egide_auditlog_latest_checkpoint(b->audit, &note);
        if (rc == EGIDE_ERR_NOTFOUND)
            return EGIDE_OK;
        if (rc)
            return s_fail("reading the latest checkpoint", rc);
    }
    egide_checkpoint_t cp;
    rc = egide_checkpoint_verify(note, strlen(note), b->origin, b->sign_key, &cp);
    free(note);
    if (!rc && b->store_new && egide_auditlog_size(b->audit) == 0) {
        /* The database file was not there: someone installed a new store on
         * purpose (damage leaves a file behind).  Start a new log, loudly:
         * the edges' witnesses will see a fork. */
        egide_log(EGIDE_LOG_WARNING,
                  "store check: a NEW, empty store replaces one whose last signed checkpoint "
                  "(%s) covered %llu entries; starting a new audit log (the edges will raise "
                  "fork alerts)",
                  where, (unsigned long long)cp.size);
        return EGIDE_OK;
    }
    if (rc) {
        egide_log(EGIDE_LOG_ERROR,
                  "store check: the last checkpoint (%s) is not one this broker signed: %s; "
                  "refusing to serve",
                  where, egide_strerror(rc));
        return EGIDE_ERR_CONSISTENCY;
    }
    uint64_t size = egide_auditlog_size(b->audit);
    uint8_t root[32];
    if (size < cp.size) {
        egide_log(EGIDE_LOG_ERROR,
                  "store check: the audit log has %llu entries but the last checkpoint this "
                  "broker signed (%s) covers %llu: entries %llu..%llu (%llu) are lost from the "
                  "store, with the referrals they recorded as accepted, rejected or delivered; "
                  "refusing to serve. Restore the store from a backup that holds them",
                  (unsigned long long)size, where, (unsigned long long)cp.size,
                  (unsigned long long)size, (unsigned long long)(cp.size - 1),
                  (unsigned long long)(cp.size - size));
        return EGIDE_ERR_CONSISTENCY;
    }
    rc = egide_auditlog_root(b->audit, cp.size, root);
    if (rc || memcmp(root, cp.root, 32) != 0) {
        uint64_t good = s_last_good(b, cp.size);
        egide_log(EGIDE_LOG_ERROR,
                  "store check: the audit log (%llu entries) does not hash at size %llu to the "
                  "root of the last checkpoint this broker signed (%s)%s%s: entries in "
                  "%llu..%llu were altered or lost (the store agrees with a signed checkpoint "
                  "up to size %llu); refusing to serve. Restore the store from a backup",
                  (unsigned long long)size, (unsigned long long)cp.size, where, rc ? ": " : "",
                  rc ? egide_strerror(rc) : "", (unsigned long long)good,
                  (unsigned long long)(cp.size - 1), (unsigned long long)good);
        return EGIDE_ERR_CONSISTENCY;
    }
    b->last_checkpoint_size = cp.size;
    egide_log(EGIDE_LOG_INFO, "store check: %llu entries, agrees with the checkpoint of size %llu",
              (unsigned long long)size, (unsigned long long)cp.size);
    return EGIDE_OK;
}

egide_rc broker_verify_log(broker_t *b)
{
    egide_auditverify_report_t rep;
    int64_t t0 = egide_mono_ms();
    uint64_t size = egide_auditlog_size(b->audit);
    egide_log(EGIDE_LOG_NOTICE,
              "takeover: recomputing the audit log's root from its %llu stored "
              "leaves before signing",
              (unsigned long long)size);
    egide_rc rc = egide_auditlog_verify_all(b->audit, b->origin, b->sign_key, false, &rep);
    if (rc == EGIDE_ERR_CONSISTENCY && rep.unanchored && !rep.checkpoints) {
        /* A young log no checkpoint covers yet: nothing signed to disagree
         * with, and every stored hash was recomputed from its leaves. */
        rc = EGIDE_OK;
    }
    if (rc == EGIDE_ERR_CONSISTENCY) {
        (void)snprintf(b->refuse_why, sizeof b->refuse_why,
                       "the audit log recomputed from its stored leaves disagrees with what "
                       "this broker signed: %s",
                       rep.problem);
        egide_log(EGIDE_LOG_ERROR,
                  "takeover: %s (first bad entry %llu); refusing to serve. Restore the store "
                  "from a backup",
                  b->refuse_why, (unsigned long long)rep.bad_index);
        return rc;
    }
    if (rc) {
        (void)snprintf(b->refuse_why, sizeof b->refuse_why,
                       "the audit log could not be recomputed: %s", egide_strerror(rc));
        egide_log(EGIDE_LOG_ERROR, "takeover: %s", b->refuse_why);
        return rc;
    }
    egide_log(EGIDE_LOG_NOTICE,
              "takeover: the audit log's %llu leaves hash to the stored tree and to the %llu "
              "signed checkpoints (%lld ms)",
              (unsigned long long)rep.size, (unsigned long long)rep.checkpoints,
              (long long)(egide_mono_ms() - t0));
    return EGIDE_OK;
}

egide_rc broker_become_active(broker_t *b)
{
    egide_rc rc = broker_check_store(b); /* before anything is appended */
    if (rc && !b->refuse_why[0])
        (void)snprintf(b->refuse_why, sizeof b->refuse_why,
                       "the store does not agree with the last signed checkpoint (see the log)");
    /* With a lease the store may have been written by another broker:
     * every leaf is hashed again before this one signs over them. */
    if (!rc && b->lease_ms > 0)
        rc = broker_verify_log(b);
    if (!rc &&
        (rc = broker_audit_directory(b)) != EGIDE_OK) /* the directory this run starts with */
        (void)snprintf(b->refuse_why, sizeof b->refuse_why, "audit log: %s", egide_strerror(rc));
    if (rc)
        return rc == EGIDE_ERR_STATE ? rc : s_fail("audit log", rc);
    b->last_checkpoint_ms = egide_mono_ms();
    atomic_store(&b->m.audit_size, egide_auditlog_size(b->audit));
    atomic_store(&b->m.role, BROKER_ACTIVE);
    return EGIDE_OK;
}

void broker_keep_checkpoint(broker_t *b)
{
    char *note = b->checkpoint_pending;
    b->checkpoint_pending = NULL;
    if (!note || !b->checkpoint_path) {
        free(note);
        return;
    }
    egide_rc rc = egide_file_write_atomic(b->checkpoint_path, note, strlen(note), 0600);
    if (rc)
        egide_log(EGIDE_LOG_WARNING, "keeping the last checkpoint in %s: %s", b->checkpoint_path,
                  egide_strerror(rc));
    free(note);
}

void broker_fini(broker_t *b)
{
    broker_api_stop(b);
    egide_transport_close(&b->router, 0);
    egide_transport_close(&b->zap, 0);
    egide_transport_ctx_destroy(&b->zctx);
    if (b->out_tail)
        broker_out_discard(b);
    b->audit = NULL; /* the store's */
    broker_store_close(&b->store);
    egide_peers_destroy(&b->peers);
    egide_directory_destroy(&b->dir);
    egide_trust_destroy(&b->pki);
    X509_free(b->anchor);
    EVP_PKEY_free(b->sign_key);
    egide_keyd_destroy(&b->keyd); /* after the key it holds */
    free(b->directory_path);
    free(b->checkpoint_path);
    free(b->checkpoint_pending);
    free(b->conns);
}

int broker_serve(egide_config_t *cfg)
{
    broker_t b;
    egide_rc rc = broker_init(&b, cfg);
    int status = rc == EGIDE_OK ? broker_run(&b) : 1;
    broker_fini(&b); /* also after a failed init: it frees what init made */
    return status;
}
