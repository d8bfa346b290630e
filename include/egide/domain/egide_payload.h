/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_payload.h - referral payloads: JSON <-> protobuf for every message
 * type of the catalogue (proto/referral.proto), with strict validation and
 * field-level errors, and the few facts the edge needs for routing and
 * deadlines.
 *
 * An invalid payload is refused here, before anything is signed or sent.
 * Errors are reported one per line as "path: message", e.g.
 *   children[1].birth_date: not a date
 *   children: at least one child
 *   danger.categories[0]: unknown category "x"
 *   foo: unknown field
 * Paths are JSON member names with [i] for array elements; "json" names the
 * document itself (syntax errors).  A member name that is not a plain
 * identifier ([A-Za-z_][A-Za-z0-9_]*, at most 64 bytes) - which only an
 * unknown member can be - is shown quoted and escaped by
 * egide_payload_quote() in brackets: children[0]["a\u000ab"]: unknown field.
 * Error text never quotes a string value of the payload except an enum code
 * that was not recognised, also through egide_payload_quote(), so an error
 * list holds no control character, no line break, no lone quote and no
 * invalid UTF-8 and can be logged as it is.
 *
 * JSON rules: enums are lower-case value names without the enum prefix
 * ("physical_violence"); dates "YYYY-MM-DD", date-times RFC 3339 with an
 * offset, months "YYYY-MM"; bytes are base64; no null, no unknown member,
 * no duplicate member, no empty string.  The top level may carry a
 * "_comment" string (e.g. "INVENTED sample"), which is dropped.  JSON
 * produced by egide_payload_to_json() leaves out false, 0 and absent
 * members (proto3 has no presence for them).
 */
#ifndef EGIDE_PAYLOAD_H
#define EGIDE_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "egide/base/egide_limits.h"
#include "egide/base/egide_rc.h"

/* Largest attachment carried inline (bytes), and longest free-text and
 * short string fields; more than this is a validation error. */
#define EGIDE_MAX_ATTACHMENT  (10u * 1024u * 1024u)
#define EGIDE_MAX_TEXT_FIELD  (64u * 1024u)
#define EGIDE_MAX_SHORT_FIELD 512u
/* Most errors reported for one payload (then "...: too many errors"). */
#define EGIDE_PAYLOAD_MAX_ERRORS 100

/* Caller-supplied text quoted in an error: at most EGIDE_PAYLOAD_QUOTE_MAX
 * bytes of it, and an output buffer of EGIDE_PAYLOAD_QUOTE_SIZE always holds
 * the result. */
#define EGIDE_PAYLOAD_QUOTE_MAX  64u
#define EGIDE_PAYLOAD_QUOTE_SIZE (EGIDE_PAYLOAD_QUOTE_MAX * 6u + 8u)

/* Quote s (len bytes, need not be NUL-terminated) for an error message or a
 * log line: between double quotes, '"' and '\\' as \" and \\, control and
 * line-breaking characters (C0, DEL, C1, U+2028/2029) and bidirectional
 * formatting characters (U+061C, U+200E/F, U+202A-E, U+2066-9, U+FEFF) as
 * \uXXXX, each byte that is not part of valid UTF-8 as \xNN; other UTF-8 is
 * kept.  Only the first EGIDE_PAYLOAD_QUOTE_MAX bytes of s are shown (cut at
 * a character), then "…" (U+2026).  The result is cut the same way, never in
 * an escape, when outsz is smaller than EGIDE_PAYLOAD_QUOTE_SIZE.  Writes ""
 * when outsz < 8.  Returns strlen(out). */
size_t egide_payload_quote(const char *s, size_t len, char *out, size_t outsz);

/* A JSON member name as error paths show it (into out, size outsz; returns
 * out): as it is when it is a plain identifier ([A-Za-z_][A-Za-z0-9_]*, at
 * most EGIDE_PAYLOAD_QUOTE_MAX bytes), else ["..."] with the name quoted by
 * egide_payload_quote().  EGIDE_PAYLOAD_MEMBER_SIZE bytes always suffice;
 * a smaller out gets "". */
#define EGIDE_PAYLOAD_MEMBER_SIZE (EGIDE_PAYLOAD_QUOTE_SIZE + 2u)
const char *egide_payload_member(const char *name, char *out, size_t outsz);

/* Longest reason of a routing override (bytes), and most distinct
 * children's communes the facts keep. */
#define EGIDE_PAYLOAD_OVERRIDE_REASON_MAX 300
#define EGIDE_PAYLOAD_MAX_COMMUNES        16

/* What the edge needs from a valid payload without reading it: routing
 * (commune), urgency and the inputs of the legal clocks.  All fields are
 * zero/empty when the payload does not say. */
typedef struct egide_payload_facts {
    char commune[8];           /* INSEE code of the first child's residence ("71137"), or "" */
    char department[4];        /* its department ("71", "2A", "988"), or "" */
    int64_t received_ms;       /* the payload's own time (received_at, decided_at, ordered_at…);
                                  now_ms when the type has none */
    int urgency;               /* Egide__V1__Urgency value; 1 (normal) when the payload has none */
    bool child_under_2;        /* some child is under 2 years old at received_ms */
    int64_t youngest_birth_ms; /* 00:00 UTC of the youngest child's birth date; 0 = no child */
    int n_children;            /* children in the payload */
    bool runaway;              /* ase.emergency_reception: the child ran away */
    int parental_agreement;    /* ase.emergency_reception: Answer value (1 yes, 2 no, 3 unknown,
                                  0 not said) */
    int64_t requested_due_ms;  /* a due date set by the sender (soit-transmis, information
                                  request), 00:00 UTC; 0 = none */
    int64_t ip_received_ms;    /* ip_received_at when given (assignment, report); 0 = none */
    int64_t je_seized_ms;      /* court.opp: when the juvenile judge was seized; 0 = not yet */
    char kind[40];             /* the payload's main code: decision ("placement"), conclusion,
                                  qualification, outcome, reason or incident kind; "" if none */
    bool anonymous_sender;     /* the sender asked to stay anonymous */
    bool confidential_sender;  /* the sender's identity must not reach the family */
    bool health_data;          /* the payload says it carries health data */
    char case_ref[64];         /* the payload's case_ref (the CRIP's case reference), or "" when
                                  absent or longer than 63 bytes */
    int year;                  /* observatory.export: the year N exported; 0 = none */
    /* Routing checks (issue 11 item 3): the sender edge compares these with
     * the commune it routes by and with the directory's route. */
    char communes[EGIDE_PAYLOAD_MAX_COMMUNES][8]; /* the children's distinct communes, in
                                                     payload order */
    int n_communes;                               /* entries of communes[] */
    bool more_communes;                           /* more distinct communes than communes[] holds */
    char territory[EGIDE_MAX_NODE_ID + 1];        /* the payload's `territory` node id, or "" */
    bool routing_override;                        /* the payload carries a routing_override */
} egide_payload_facts_t;

/* Why s (len bytes) cannot be the reason of a routing override, as a short
 * English phrase (static), or NULL when it can: empty, longer than
 * EGIDE_PAYLOAD_OVERRIDE_REASON_MAX bytes, not valid UTF-8, or holding a
 * control, line-breaking or bidirectional formatting character (see
 * egide_payload_quote).  The payload's routing_override.reason is checked
 * by the same rule. */
const char *egide_payload_override_reason_problem(const char *s, size_t len);

/* true when facts name a commune among the children's (always false when
 * commune is NULL or the payload names none). */
bool egide_payload_facts_has_commune(const egide_payload_facts_t *facts, const char *commune);

/* true when type is a catalogue message type with a payload schema. */
bool egide_payload_type_known(const char *type);

/* Validate a JSON payload for message type `type` and serialize it.
 *   json/len   the document (need not be NUL-terminated; at most
 *              EGIDE_MAX_JSON_BODY bytes)
 *   now_ms     the caller's clock (dates in the future are checked against it)
 *   pb/pb_len  on EGIDE_OK: the serialized protobuf (malloc'ed, caller frees);
 *              may be NULL to validate only
 *   facts      on EGIDE_OK: filled in (may be NULL)
 *   errors     on EGIDE_ERR_VALIDATION: newline-separated "path: message"
 *              lines (malloc'ed, caller frees; no trailing newline); else
 *              NULL.  May be NULL.
 * Returns EGIDE_OK, EGIDE_ERR_VALIDATION (bad JSON or schema/semantic
 * errors), EGIDE_ERR_NOTFOUND (unknown type), EGIDE_ERR_LIMIT (document or
 * serialized payload too large), EGIDE_ERR_INVALID (NULL arguments),
 * EGIDE_ERR_NOMEM. */
egide_rc egide_payload_from_json(const char *type, const char *json, size_t len, int64_t now_ms,
                                 uint8_t **pb, size_t *pb_len, egide_payload_facts_t *facts,
                                 char **errors);

/* Decode a serialized payload of message type `type` into pretty JSON
 * (2-space indent, members in field order; malloc'ed, caller frees).
 * Returns EGIDE_ERR_PROTO when pb does not parse, EGIDE_ERR_NOTFOUND for an
 * unknown type, EGIDE_ERR_LIMIT when len > EGIDE_MAX_PAYLOAD. */
egide_rc egide_payload_to_json(const char *type, const uint8_t *pb, size_t len, char **json);

/* Check a received serialized payload as strictly as egide_payload_from_json
 * checks JSON (a recipient calls this after decrypting): unknown field
 * numbers, unknown enum values and every schema rule are errors.  Same
 * arguments and return codes as egide_payload_from_json() (EGIDE_ERR_PROTO
 * when pb does not parse). */
egide_rc egide_payload_check(const char *type, const uint8_t *pb, size_t len, int64_t now_ms,
                             egide_payload_facts_t *facts, char **errors);

/* "application/vnd.egide.<type with . and _ as ->+protobuf", e.g.
 * "application/vnd.egide.ip-transmission+protobuf"; NULL for an unknown
 * type.  Static string. */
const char *egide_payload_content_type(const char *type);

/* The type whose content type is ct, or NULL. */
const char *egide_payload_type_for_content_type(const char *ct);

/* Parse JSON already loaded by jansson (a json_t *, passed as void * so this
 * header does not need jansson.h) into a newly allocated protobuf-c message
 * (ProtobufCMessage *, returned as void *; free with
 * egide_payload_message_free()).  Same validation and errors as
 * egide_payload_from_json().  Used by the observatory export. */
egide_rc egide_payload_from_jansson(const char *type, const void *root, int64_t now_ms, void **msg,
                                    egide_payload_facts_t *facts, char **errors);
void egide_payload_message_free(void *msg);

#endif
