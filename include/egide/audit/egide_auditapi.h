/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_auditapi.h - the broker's read-only audit API, as a pure request
 * handler that the broker's HTTP server (egide_http) calls.  It never
 * writes to the log and never returns content: leaves hold ids, types,
 * hashes and times only.
 *
 * Endpoints (GET or HEAD only; anything else under /v1/audit is 405):
 *   /v1/audit/checkpoint
 *       the latest signed checkpoint note, text/plain (404 when none).
 *   /v1/audit/checkpoints?start=S
 *       stored checkpoints with size >= S (default 0), at most
 *       EGIDE_AUDITAPI_MAX_PAGE: {"checkpoints":[{"size":N,"note":"..."}],
 *       "next":S' or null}.
 *   /v1/audit/proof/inclusion?index=N[&size=M]   or   ?msg_id=HEX32
 *       {"tree_size":M, "checkpoint":"note" or null,
 *        "entries":[{"index":N, "leaf":b64, "leaf_hash":b64,
 *                    "proof":[b64,...], "event":{...}}],
 *        "pending":[indexes not yet covered by a checkpoint]}   (msg_id form)
 *       M defaults to the latest checkpoint's size (409 no_checkpoint when
 *       there is none; 409 not_checkpointed for an index beyond it); an
 *       explicit M must not exceed the log, and "checkpoint" is then the
 *       stored note of exactly that size, or null.
 *   /v1/audit/proof/consistency?from=A[&to=B]
 *       {"from":A, "to":B, "proof":[b64,...], "from_checkpoint":note|null,
 *        "to_checkpoint":note|null}; B defaults to the latest checkpoint's
 *       size; 0 < A <= B <= log size.
 *   /v1/audit/entries?start=A[&end=B]
 *       entries [A, min(B, A + EGIDE_AUDITAPI_MAX_PAGE, size)):
 *       {"start":A, "end":E, "tree_size":N, "entries":[{"index", "leaf",
 *        "leaf_hash", "event"}], "next":E or null}.
 * Errors are RFC 9457 problems (application/problem+json, egide_problem.h):
 * 400 bad-request (bad or unknown parameter), 404 not-found or
 * no-checkpoint, 405 method-not-allowed, 409 not-checkpointed, 500
 * internal-error.  Query strings are at most
 * EGIDE_AUDITAPI_MAX_QUERY bytes, each parameter once, decimal or hex only.
 *
 * "event" is the decoded AuditEvent: {"type", "msg_id" (hex),
 * "envelope_sha256" (hex), "sender", "recipients", "message_type", "node",
 * "reason", "directory_version", "receipt_sha256", "time_ms", "time", "time_at"
 * (RFC 3339 with milliseconds, as every *_at)}
 * (absent fields omitted), or null when the leaf is not an AuditEvent.
 */
#ifndef EGIDE_AUDITAPI_H
#define EGIDE_AUDITAPI_H

#include <jansson.h>
#include "egide.pb-c.h"
#include "egide/audit/egide_auditlog.h"

#define EGIDE_AUDITAPI_MAX_PAGE  256u
#define EGIDE_AUDITAPI_MAX_QUERY 1024u

/* Handle one request.  method, path ("/v1/audit/..."), raw query string
 * (without '?', may be NULL).  Returns the HTTP status; *body (malloc'ed,
 * NUL-terminated, the caller's to free; never NULL unless out of memory, then
 * the status is 500) and *content_type (static). */
int egide_auditapi_handle(egide_auditlog_t *log, const char *method, const char *path,
                          const char *query, char **body, const char **content_type);

/* The JSON form of an event described above (new reference, caller
 * json_decref's; NULL on allocation failure).  Strings that are not valid
 * UTF-8 are replaced by a sanitized copy. */
json_t *egide_auditapi_event_json(const Egide__V1__AuditEvent *ev);

/* Decode leaf bytes as an AuditEvent and return its JSON form, or a JSON
 * null when they are not one (never NULL except on allocation failure). */
json_t *egide_auditapi_leaf_json(const uint8_t *leaf, size_t len);

#endif
