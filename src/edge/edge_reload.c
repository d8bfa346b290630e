/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_reload.c - SIGHUP: the API token file and the jurisdiction's
 * deadline profile read again (see edge_reload in edge.h).  Each is loaded
 * completely before it replaces the one in use, so a bad file changes
 * nothing; the replaced profile is kept until edge_fini because API workers
 * may still be reading it.  systemd is told RELOADING=1, then READY=1.
 */
#include "edge.h"

#include <stdlib.h>

#include "egide/base/egide_log.h"
#include "egide/base/egide_notify.h"
#include "egide/base/egide_token.h"
#include "egide/domain/egide_deadline.h"
#include "egide/net/egide_http.h"

/* The token file again; true when the new token is in use. */
static bool s_token(edge_t *e)
{
    char *p = egide_config_path(e->cfg, "api", "token_file");
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

/* The deadline profile again; true when there is none to load or the new
 * one is in use. */
static bool s_profile(edge_t *e)
{
    char *p = egide_config_path(e->cfg, "deadlines", "profile");
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

void edge_reload(edge_t *e)
{
    egide_notify("RELOADING=1");
    bool tok = s_token(e);
    bool prof = s_profile(e);
    egide_log(tok && prof ? EGIDE_LOG_NOTICE : EGIDE_LOG_WARNING,
              "reload: %s (other configuration keys need a restart)",
              tok && prof ? "API token and deadline profile reloaded"
                          : "done with errors, see above");
    egide_notify("READY=1"); /* also after a refused file: the old one serves */
}
