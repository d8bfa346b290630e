/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_reload.c - SIGHUP: the configuration file, the API token file and
 * the jurisdiction's deadline profile read again (see edge_reload in
 * edge.h).  Each is loaded completely before it replaces the one in use, so
 * a bad file changes nothing; the replaced profile is kept until edge_fini
 * because API workers may still be reading it.  Of the configuration, the
 * log level and the token and profile paths apply at once; any other key
 * changed is named in a warning as applying at the next restart.  systemd
 * is told RELOADING=1, then READY=1.
 */
#include "edge.h"

#include <stdlib.h>
#include <string.h>

#include "egide/base/egide_log.h"
#include "egide/base/egide_notify.h"
#include "egide/base/egide_token.h"
#include "egide/domain/egide_deadline.h"
#include "egide/net/egide_http.h"

/* The token file named by cfg again; true when the new token is in use. */
static bool s_token(edge_t *e, const egide_config_t *cfg)
{
    char *p = egide_config_path(cfg, "api", "token_file");
    char *tok = NULL;
    egide_rc rc = egide_token_load(p, &tok);
    if (!rc && e->http)
        rc = egide_http_set_token(e->http, tok);
    if (rc) {
        egide_log(EGIDE_LOG_ERROR, "reload: API token %s: %s%s; the previous token stays in use",
                  p ? p : "(not set)",
                  rc == EGIDE_ERR_CONFIG ? "not a usable token (one line of at least 32 "
                                           "printable characters, no spaces)"
                                         : egide_strerror(rc),
                  rc == EGIDE_ERR_PERM ? " (chmod 600)" : "");
        egide_token_free(&tok);
        free(p);
        return false;
    }
    egide_token_free(&e->api_token);
    e->api_token = tok;
    free(p);
    return true;
}

/* The deadline profile named by cfg again; true when there is none to load
 * or the new one is in use. */
static bool s_profile(edge_t *e, const egide_config_t *cfg)
{
    char *p = egide_config_path(cfg, "deadlines", "profile");
    if (!p)
        return true;
    char err[512] = "";
    egide_deadline_profile_t *np = NULL;
    egide_rc rc = egide_deadline_profile_load(p, &np, err, sizeof err);
    egide_deadline_profile_t **old = NULL;
    if (!rc) {
        old = realloc(e->old_profiles, (e->n_old_profiles + 1) * sizeof *old);
        if (!old) {
            rc = EGIDE_ERR_NOMEM;
            egide_deadline_profile_destroy(&np);
        }
    }
    if (rc) {
        egide_log(EGIDE_LOG_ERROR,
                  "reload: deadline profile: %s; the previous profile stays in use",
                  err[0] ? err : egide_strerror(rc));
        free(p);
        return false;
    }
    e->old_profiles = old;
    egide_deadline_profile_t *prev = __atomic_exchange_n(&e->profile, np, __ATOMIC_ACQ_REL);
    if (prev)
        e->old_profiles[e->n_old_profiles++] = prev;
    egide_log(EGIDE_LOG_NOTICE, "reload: deadline profile %s (%s) in use", p,
              egide_deadline_profile_name(np));
    free(p);
    return true;
}

/* The keys a reload applies at once (the others at the next restart). */
static bool s_live(const egide_config_key_t *k)
{
    static const char *const live[][2] = {
        {"log", "level"}, {"api", "token_file"}, {"deadlines", "profile"}};
    for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
        if (strcmp(k->section, live[i][0]) == 0 && strcmp(k->name, live[i][1]) == 0)
            return true;
    return false;
}

/* The configuration file again: NULL (logged) when it does not load, and
 * then nothing changes.  Otherwise the log level is applied and every other
 * key that differs from the running configuration is named (not its value:
 * a path may say more than the log should) as applying at the next
 * restart. */
static egide_config_t *s_config(edge_t *e, bool *ok)
{
    const char *file = egide_config_file(e->cfg);
    char err[512] = "";
    egide_config_t *n = NULL;
    egide_rc rc = file && e->cfg_schema
                      ? egide_config_load(file, e->cfg_schema, &n, err, sizeof err)
                      : EGIDE_ERR_NOTFOUND;
    if (rc) {
        egide_log(EGIDE_LOG_ERROR,
                  "reload: configuration %s: %s; nothing reloaded, the running configuration, "
                  "token and profile stay in use",
                  file ? file : "(none)", err[0] ? err : egide_strerror(rc));
        *ok = false;
        return NULL;
    }
    int later = 0;
    for (const egide_config_key_t *k = e->cfg_schema; k->section; k++) {
        const char *a = egide_config_str(e->cfg, k->section, k->name);
        const char *b = egide_config_str(n, k->section, k->name);
        if ((!a && !b) || (a && b && strcmp(a, b) == 0))
            continue;
        if (s_live(k))
            continue;
        later++;
        egide_log(EGIDE_LOG_WARNING,
                  "reload: [%s] %s changed in %s: it applies at the next restart (the running "
                  "value stays)",
                  k->section, k->name, file);
    }
    egide_log_level lvl = EGIDE_LOG_NOTICE;
    if (egide_log_parse_level(egide_config_str(n, "log", "level"), &lvl) == EGIDE_OK)
        egide_log_set_level(lvl);
    *ok = later == 0;
    return n;
}

void edge_reload(edge_t *e)
{
    egide_notify("RELOADING=1");
    bool cfg_ok = true;
    egide_config_t *n = NULL;
    if (!e->cfg_schema) {
        /* No schema to read the file against (an edge set up by a test
         * fixture): the token and profile the running configuration names. */
        bool tok = s_token(e, e->cfg), prof = s_profile(e, e->cfg);
        egide_log(tok && prof ? EGIDE_LOG_NOTICE : EGIDE_LOG_WARNING, "reload: %s",
                  tok && prof ? "API token and deadline profile reloaded"
                              : "done with errors, see above");
        egide_notify("READY=1");
        return;
    }
    n = s_config(e, &cfg_ok);
    if (!n) {
        egide_notify("READY=1"); /* the running configuration serves */
        return;
    }
    bool tok = s_token(e, n);
    bool prof = s_profile(e, n);
    egide_config_destroy(&n);
    egide_log(tok && prof && cfg_ok ? EGIDE_LOG_NOTICE : EGIDE_LOG_WARNING, "reload: %s",
              !(tok && prof) ? "done with errors, see above"
              : cfg_ok       ? "configuration, API token and deadline profile reloaded"
                             : "API token and deadline profile reloaded; some changed keys apply "
                               "at the next restart, see above");
    egide_notify("READY=1"); /* also after a refused file: the old one serves */
}
