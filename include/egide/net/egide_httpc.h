/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_httpc.h - a small, strict HTTP client (libcurl) for the `egide`
 * command and tests: one blocking request at a time, http:// or https://
 * only, no redirects, a cap on the response size and a total timeout.
 *
 * Proxies from the environment are never used for loopback hosts, so a bearer
 * token meant for the local edge never leaves the machine through a proxy.
 * The token is never logged.  Safe to call from several threads at once
 * (libcurl's global initialisation is done once, under pthread_once).
 */
#ifndef EGIDE_HTTPC_H
#define EGIDE_HTTPC_H

#include <stddef.h>

#include "egide/base/egide_rc.h"

/* Default cap on a response body and default total timeout. */
#define EGIDE_HTTPC_DEFAULT_MAX_RESP   (16u * 1024u * 1024u)
#define EGIDE_HTTPC_DEFAULT_TIMEOUT_MS 10000L

typedef struct egide_httpc_resp {
    long status;            /* HTTP status (0 when no response was received) */
    char *body;             /* malloc'ed, NUL-terminated (not counted in body_len); never NULL
                               after EGIDE_OK; free with egide_httpc_resp_free() */
    size_t body_len;        /* bytes of body */
    char content_type[128]; /* response Content-Type, "" when absent (truncated if longer) */
    char error[256];        /* one-line reason when the call did not return EGIDE_OK, e.g.
                               "cannot connect to http://127.0.0.1:7720", else "" */
} egide_httpc_resp_t;

/* Send one request and wait for the whole response.
 *   method       "GET", "POST" (others passed as a custom request method)
 *   url          must start with http:// or https:// (EGIDE_ERR_INVALID otherwise)
 *   token        bearer token sent as "Authorization: Bearer <token>", or NULL;
 *                must not contain control characters (EGIDE_ERR_INVALID)
 *   content_type Content-Type of the body, or NULL ("application/json" when a
 *                body is given)
 *   body         request body, or NULL (body_len bytes; may contain NULs)
 *   max_resp     cap on the response body (0 = EGIDE_HTTPC_DEFAULT_MAX_RESP)
 *   timeout_ms   total timeout (<= 0 = EGIDE_HTTPC_DEFAULT_TIMEOUT_MS)
 *   out          filled in on return (zeroed first); free with egide_httpc_resp_free()
 * Any HTTP status, 4xx/5xx included, is EGIDE_OK: look at out->status.
 * Returns EGIDE_ERR_IO when the server cannot be reached or the transfer
 * fails (out->error says which), EGIDE_ERR_TIMEOUT when timeout_ms passed,
 * EGIDE_ERR_LIMIT when the response body exceeds max_resp,
 * EGIDE_ERR_INVALID on bad arguments, EGIDE_ERR_NOMEM. */
egide_rc egide_httpc_request(const char *method, const char *url, const char *token,
                             const char *content_type, const void *body, size_t body_len,
                             size_t max_resp, long timeout_ms, egide_httpc_resp_t *out);

/* Free r->body and reset r; NULL-safe, idempotent. */
void egide_httpc_resp_free(egide_httpc_resp_t *r);

#endif
