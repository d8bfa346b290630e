/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_problem.c - the one table of the APIs' error codes (RFC 9457), and
 * the one table that picks a code from (HTTP status, egide_rc, reason).
 *
 * docs/errors.md documents every row of s_codes; test_problem fails when a
 * code is missing there or when a row of s_pick answers a code whose status
 * is not the row's.  A code is never renamed or given another meaning: add
 * a new one instead.
 */
#include "egide/base/egide_problem.h"

#include <stdio.h>
#include <string.h>

/* Only for the reason codes' values (a compile-time dependency on the
 * generated header, no symbol of the wire layer is used). */
#include "egide.pb-c.h"

static const egide_problem_info_t s_codes[EGIDE_PROBLEM__COUNT] = {
    [EGIDE_PROBLEM_BAD_REQUEST] = {"bad-request", 400, "Bad request"},
    [EGIDE_PROBLEM_MALFORMED_REQUEST] = {"malformed-request", 400, "Malformed request"},
    [EGIDE_PROBLEM_VALIDATION_FAILED] = {"validation-failed", 400, "Invalid field"},
    [EGIDE_PROBLEM_UNAUTHENTICATED] = {"unauthenticated", 401, "Authentication required"},
    [EGIDE_PROBLEM_FORBIDDEN] = {"forbidden", 403, "Forbidden"},
    [EGIDE_PROBLEM_NOT_FOUND] = {"not-found", 404, "Not found"},
    [EGIDE_PROBLEM_NO_CHECKPOINT] = {"no-checkpoint", 404, "No checkpoint yet"},
    [EGIDE_PROBLEM_METHOD_NOT_ALLOWED] = {"method-not-allowed", 405, "Method not allowed"},
    [EGIDE_PROBLEM_CONFLICT] = {"conflict", 409, "Conflict"},
    [EGIDE_PROBLEM_NOT_CHECKPOINTED] = {"not-checkpointed", 409, "Not covered by a checkpoint"},
    [EGIDE_PROBLEM_LENGTH_REQUIRED] = {"length-required", 411, "Content-Length required"},
    [EGIDE_PROBLEM_BODY_TOO_LARGE] = {"body-too-large", 413, "Request body too large"},
    [EGIDE_PROBLEM_URI_TOO_LONG] = {"uri-too-long", 414, "Request target too long"},
    [EGIDE_PROBLEM_UNSUPPORTED_MEDIA] = {"unsupported-media-type", 415, "Unsupported media type"},
    [EGIDE_PROBLEM_PAYLOAD_INVALID] = {"payload-invalid", 422, "Payload invalid"},
    [EGIDE_PROBLEM_ROUTING_REFUSED] = {"routing-refused", 422, "Routing refused"},
    [EGIDE_PROBLEM_FORBIDDEN_TYPE] = {"forbidden-type", 422, "Type not allowed"},
    [EGIDE_PROBLEM_FORBIDDEN_RECIPIENT] = {"forbidden-recipient", 422, "Recipient not allowed"},
    [EGIDE_PROBLEM_UNKNOWN_RECIPIENT] = {"unknown-recipient", 422, "Unknown recipient"},
    [EGIDE_PROBLEM_NODE_SUSPENDED] = {"node-suspended", 422, "Node suspended"},
    [EGIDE_PROBLEM_UNKNOWN_TYPE] = {"unknown-type", 422, "Unknown message type"},
    [EGIDE_PROBLEM_NO_RECIPIENT] = {"no-recipient", 422, "No recipient"},
    [EGIDE_PROBLEM_RECIPIENTS_REFUSED] = {"recipients-refused", 422, "Recipients refused"},
    [EGIDE_PROBLEM_UNPROCESSABLE] = {"unprocessable", 422, "Request cannot be processed"},
    [EGIDE_PROBLEM_RATE_LIMITED] = {"rate-limited", 429, "Too many attempts"},
    [EGIDE_PROBLEM_HEADERS_TOO_LARGE] = {"headers-too-large", 431, "Header fields too large"},
    [EGIDE_PROBLEM_REQUEST_REFUSED] = {"request-refused", 0, "Request refused"},
    [EGIDE_PROBLEM_INTERNAL_ERROR] = {"internal-error", 500, "Internal error"},
    [EGIDE_PROBLEM_INTEGRITY_FAILURE] = {"integrity-failure", 500, "Integrity check failed"},
    [EGIDE_PROBLEM_SERVER_BUSY] = {"server-busy", 503, "Server busy"},
    [EGIDE_PROBLEM_UNAVAILABLE] = {"unavailable", 503, "Temporarily unavailable"},
    [EGIDE_PROBLEM_STORE_UNAVAILABLE] = {"store-unavailable", 503, "Store unavailable"},
    [EGIDE_PROBLEM_KEY_HOLDER_UNAVAILABLE] = {"key-holder-unavailable", 503,
                                              "Key holder unavailable"},
    [EGIDE_PROBLEM_SEQUENCE_COLLISION] = {"sequence-collision", 503, "Sequence number collided"},
    [EGIDE_PROBLEM_SERVER_ERROR] = {"server-error", 0, "Server error"},
};

/* S_ANY_RC: the row matches every egide_rc. */
#define S_ANY_RC (-1)

/* Tried in order; the first row whose reason (when not 0), status and rc
 * match gives the code.  Reason rows come first: a refusal by the access
 * rules names its reason whatever the rc. */
static const struct {
    int reason;       /* an Egide__V1__ReasonCode, or 0 */
    int status;       /* HTTP status, or 0 for any */
    int rc;           /* an egide_rc, or S_ANY_RC */
    egide_problem p;  /* the code answered */
    const char *text; /* reason rows: what the reason means, for the detail */
} s_pick[] = {
    {EGIDE__V1__REASON_CODE__REASON_FORBIDDEN_TYPE, 422, S_ANY_RC, EGIDE_PROBLEM_FORBIDDEN_TYPE,
     "this node's role may not send this type"},
    {EGIDE__V1__REASON_CODE__REASON_FORBIDDEN_RECIPIENT, 422, S_ANY_RC,
     EGIDE_PROBLEM_FORBIDDEN_RECIPIENT, "this type may not go to a recipient's role"},
    {EGIDE__V1__REASON_CODE__REASON_UNKNOWN_RECIPIENT, 422, S_ANY_RC,
     EGIDE_PROBLEM_UNKNOWN_RECIPIENT, "a recipient is not in the directory"},
    {EGIDE__V1__REASON_CODE__REASON_NODE_SUSPENDED, 422, S_ANY_RC, EGIDE_PROBLEM_NODE_SUSPENDED,
     "this node or a recipient is suspended in the directory"},
    {EGIDE__V1__REASON_CODE__REASON_UNKNOWN_TYPE, 422, S_ANY_RC, EGIDE_PROBLEM_UNKNOWN_TYPE,
     "the message type is not in the catalogue"},
    {EGIDE__V1__REASON_CODE__REASON_NO_RECIPIENT, 422, S_ANY_RC, EGIDE_PROBLEM_NO_RECIPIENT,
     "no recipient is left"},
    {EGIDE__V1__REASON_CODE__REASON_UNKNOWN_SENDER, 422, S_ANY_RC, EGIDE_PROBLEM_RECIPIENTS_REFUSED,
     "this node is not in the directory"},
    {EGIDE__V1__REASON_CODE__REASON_MALFORMED, 422, S_ANY_RC, EGIDE_PROBLEM_RECIPIENTS_REFUSED,
     "a recipient id is malformed"},
    {EGIDE__V1__REASON_CODE__REASON_OVERSIZE, 422, S_ANY_RC, EGIDE_PROBLEM_RECIPIENTS_REFUSED,
     "too many recipients"},
    {EGIDE__V1__REASON_CODE__REASON_INTERNAL, 422, S_ANY_RC, EGIDE_PROBLEM_RECIPIENTS_REFUSED,
     "the directory could not be checked"},
    {0, 400, EGIDE_ERR_VALIDATION, EGIDE_PROBLEM_VALIDATION_FAILED, NULL},
    {0, 400, EGIDE_ERR_PROTO, EGIDE_PROBLEM_MALFORMED_REQUEST, NULL},
    {0, 400, S_ANY_RC, EGIDE_PROBLEM_BAD_REQUEST, NULL},
    {0, 401, S_ANY_RC, EGIDE_PROBLEM_UNAUTHENTICATED, NULL},
    {0, 403, S_ANY_RC, EGIDE_PROBLEM_FORBIDDEN, NULL},
    {0, 404, S_ANY_RC, EGIDE_PROBLEM_NOT_FOUND, NULL},
    {0, 405, S_ANY_RC, EGIDE_PROBLEM_METHOD_NOT_ALLOWED, NULL},
    {0, 409, EGIDE_ERR_STATE, EGIDE_PROBLEM_NOT_CHECKPOINTED, NULL},
    {0, 409, S_ANY_RC, EGIDE_PROBLEM_CONFLICT, NULL},
    {0, 411, S_ANY_RC, EGIDE_PROBLEM_LENGTH_REQUIRED, NULL},
    {0, 413, S_ANY_RC, EGIDE_PROBLEM_BODY_TOO_LARGE, NULL},
    {0, 414, S_ANY_RC, EGIDE_PROBLEM_URI_TOO_LONG, NULL},
    {0, 415, S_ANY_RC, EGIDE_PROBLEM_UNSUPPORTED_MEDIA, NULL},
    {0, 422, EGIDE_ERR_VALIDATION, EGIDE_PROBLEM_PAYLOAD_INVALID, NULL},
    {0, 422, EGIDE_ERR_ROUTE, EGIDE_PROBLEM_ROUTING_REFUSED, NULL},
    {0, 422, EGIDE_ERR_RULE, EGIDE_PROBLEM_FORBIDDEN_TYPE, NULL},
    {0, 422, EGIDE_ERR_NOTFOUND, EGIDE_PROBLEM_UNKNOWN_RECIPIENT, NULL},
    {0, 422, S_ANY_RC, EGIDE_PROBLEM_UNPROCESSABLE, NULL},
    {0, 429, S_ANY_RC, EGIDE_PROBLEM_RATE_LIMITED, NULL},
    {0, 431, S_ANY_RC, EGIDE_PROBLEM_HEADERS_TOO_LARGE, NULL},
    {0, 500, EGIDE_ERR_CONSISTENCY, EGIDE_PROBLEM_INTEGRITY_FAILURE, NULL},
    {0, 500, S_ANY_RC, EGIDE_PROBLEM_INTERNAL_ERROR, NULL},
    {0, 503, EGIDE_ERR_LIMIT, EGIDE_PROBLEM_SERVER_BUSY, NULL},
    {0, 503, EGIDE_ERR_STATE, EGIDE_PROBLEM_UNAVAILABLE, NULL},
    {0, 503, EGIDE_ERR_UNAVAILABLE, EGIDE_PROBLEM_KEY_HOLDER_UNAVAILABLE, NULL},
    {0, 503, EGIDE_ERR_EXISTS, EGIDE_PROBLEM_SEQUENCE_COLLISION, NULL},
    {0, 503, S_ANY_RC, EGIDE_PROBLEM_STORE_UNAVAILABLE, NULL},
};

const egide_problem_info_t *egide_problem_info(egide_problem p)
{
    if ((int)p < 0 || p >= EGIDE_PROBLEM__COUNT)
        p = EGIDE_PROBLEM_SERVER_ERROR;
    return &s_codes[p];
}

egide_problem egide_problem_pick(int status, egide_rc rc, int reason)
{
    for (size_t i = 0; i < sizeof s_pick / sizeof s_pick[0]; i++) {
        if (s_pick[i].reason && s_pick[i].reason != reason)
            continue;
        if (s_pick[i].status && s_pick[i].status != status)
            continue;
        if (s_pick[i].rc != S_ANY_RC && s_pick[i].rc != (int)rc)
            continue;
        return s_pick[i].p;
    }
    return status >= 400 && status < 500 ? EGIDE_PROBLEM_REQUEST_REFUSED
                                         : EGIDE_PROBLEM_SERVER_ERROR;
}

const char *egide_problem_reason_text(int reason)
{
    for (size_t i = 0; reason && i < sizeof s_pick / sizeof s_pick[0]; i++)
        if (s_pick[i].reason == reason)
            return s_pick[i].text;
    return NULL;
}

char *egide_problem_type_uri(egide_problem p, char *out, size_t outsz)
{
    if (out && outsz)
        (void)snprintf(out, outsz, "%s%s", EGIDE_PROBLEM_TYPE_BASE, egide_problem_info(p)->code);
    return out;
}
