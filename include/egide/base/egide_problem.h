/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_problem.h - the stable error codes of the HTTP APIs (RFC 9457
 * problem details), in one table.
 *
 * Every error an Égide API answers (the edge API, its web pages' calls, the
 * broker's audit API, /metrics) is an application/problem+json object:
 *
 *   {"type":"https://egide.fr/problems/<code>","title":"<title>",
 *    "status":<HTTP status>,"detail":"<what happened, this time>",
 *    "code":"<code>","errors":[...]}
 *
 * code is a lower-kebab identifier that never changes meaning once
 * published (docs/errors.md lists every one; a unit test fails if a code of
 * the table is missing there); type is EGIDE_PROBLEM_TYPE_BASE followed by
 * the code (an identifier, not necessarily a page that can be fetched, as
 * RFC 9457 section 3.1.1 allows); title is fixed per code; detail is the
 * specific message; errors (optional) lists field-level errors as strings.
 * Internal names (egide_rc_name(), the wire REASON_* names) never appear.
 *
 * The code of an answer is chosen from (HTTP status, egide_rc, wire reason)
 * by egide_problem_pick(), one table of rows tried in order: the status a
 * handler answers stays what it was, the code names why.
 */
#ifndef EGIDE_PROBLEM_H
#define EGIDE_PROBLEM_H

#include <stddef.h>

#include "egide/base/egide_rc.h"

/* The prefix of every problem type URI. */
#define EGIDE_PROBLEM_TYPE_BASE "https://egide.fr/problems/"
/* The media type of every error answer (RFC 9457 section 3). */
#define EGIDE_PROBLEM_MEDIA_TYPE "application/problem+json"

/* One value per code; values may be added, never renumbered or reused. */
typedef enum egide_problem {
    EGIDE_PROBLEM_BAD_REQUEST = 0,        /* 400 bad-request */
    EGIDE_PROBLEM_MALFORMED_REQUEST,      /* 400 malformed-request */
    EGIDE_PROBLEM_VALIDATION_FAILED,      /* 400 validation-failed */
    EGIDE_PROBLEM_UNAUTHENTICATED,        /* 401 unauthenticated */
    EGIDE_PROBLEM_FORBIDDEN,              /* 403 forbidden */
    EGIDE_PROBLEM_NOT_FOUND,              /* 404 not-found */
    EGIDE_PROBLEM_NO_CHECKPOINT,          /* 404 no-checkpoint */
    EGIDE_PROBLEM_METHOD_NOT_ALLOWED,     /* 405 method-not-allowed */
    EGIDE_PROBLEM_CONFLICT,               /* 409 conflict */
    EGIDE_PROBLEM_NOT_CHECKPOINTED,       /* 409 not-checkpointed */
    EGIDE_PROBLEM_LENGTH_REQUIRED,        /* 411 length-required */
    EGIDE_PROBLEM_BODY_TOO_LARGE,         /* 413 body-too-large */
    EGIDE_PROBLEM_URI_TOO_LONG,           /* 414 uri-too-long */
    EGIDE_PROBLEM_UNSUPPORTED_MEDIA,      /* 415 unsupported-media-type */
    EGIDE_PROBLEM_PAYLOAD_INVALID,        /* 422 payload-invalid */
    EGIDE_PROBLEM_ROUTING_REFUSED,        /* 422 routing-refused */
    EGIDE_PROBLEM_FORBIDDEN_TYPE,         /* 422 forbidden-type */
    EGIDE_PROBLEM_FORBIDDEN_RECIPIENT,    /* 422 forbidden-recipient */
    EGIDE_PROBLEM_UNKNOWN_RECIPIENT,      /* 422 unknown-recipient */
    EGIDE_PROBLEM_NODE_SUSPENDED,         /* 422 node-suspended */
    EGIDE_PROBLEM_UNKNOWN_TYPE,           /* 422 unknown-type */
    EGIDE_PROBLEM_NO_RECIPIENT,           /* 422 no-recipient */
    EGIDE_PROBLEM_RECIPIENTS_REFUSED,     /* 422 recipients-refused */
    EGIDE_PROBLEM_UNPROCESSABLE,          /* 422 unprocessable */
    EGIDE_PROBLEM_RATE_LIMITED,           /* 429 rate-limited */
    EGIDE_PROBLEM_HEADERS_TOO_LARGE,      /* 431 headers-too-large */
    EGIDE_PROBLEM_REQUEST_REFUSED,        /* any other 4xx: request-refused */
    EGIDE_PROBLEM_INTERNAL_ERROR,         /* 500 internal-error */
    EGIDE_PROBLEM_INTEGRITY_FAILURE,      /* 500 integrity-failure */
    EGIDE_PROBLEM_SERVER_BUSY,            /* 503 server-busy */
    EGIDE_PROBLEM_UNAVAILABLE,            /* 503 unavailable */
    EGIDE_PROBLEM_STORE_UNAVAILABLE,      /* 503 store-unavailable */
    EGIDE_PROBLEM_KEY_HOLDER_UNAVAILABLE, /* 503 key-holder-unavailable */
    EGIDE_PROBLEM_SEQUENCE_COLLISION,     /* 503 sequence-collision */
    EGIDE_PROBLEM_SERVER_ERROR,           /* any other 5xx: server-error */
    EGIDE_PROBLEM__COUNT
} egide_problem;

/* One code as the table holds it.  status is the HTTP status it is answered
 * with; 0 for the two catch-alls, request-refused (any other 4xx) and
 * server-error (any other 5xx). */
typedef struct egide_problem_info {
    const char *code;  /* "forbidden-type": lower-kebab, stable */
    int status;        /* 400..599, or 0 (see above) */
    const char *title; /* short fixed English text, e.g. "Type not allowed" */
} egide_problem_info_t;

/* The table row of p; an out-of-range p gives server-error's row.  Never NULL. */
const egide_problem_info_t *egide_problem_info(egide_problem p);

/* The code for an answer with this HTTP status, egide_rc and wire reason
 * (an Egide__V1__ReasonCode value, 0 for none).  Rows are tried in order: a
 * reason row first (the access rules' refusals: forbidden-type, ...), then
 * (status, rc), then status alone; a status no row names gives
 * request-refused (4xx) or server-error (anything else). */
egide_problem egide_problem_pick(int status, egide_rc rc, int reason);

/* What a reason means for a sender, in a sentence ("this node's role may
 * not send this type"), for the detail of a refusal; NULL for a reason the
 * table does not name.  Never an internal name. */
const char *egide_problem_reason_text(int reason);

/* The problem type URI of p (EGIDE_PROBLEM_TYPE_BASE + code) into out
 * (always NUL-terminated); returns out. */
char *egide_problem_type_uri(egide_problem p, char *out, size_t outsz);

#endif
