/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_wire.h - packing and unpacking the wire messages of proto/egide.proto
 * with size limits and structural validation.
 *
 * Every unpack checks the size against the kind's limit before parsing
 * (EGIDE_ERR_LIMIT), parses (EGIDE_ERR_PROTO on malformed input) and then
 * checks the fields the kind requires (EGIDE_ERR_PROTO), so a truncated
 * message never passes as a valid shorter one.  Semantic checks (signatures,
 * directory rules) belong to the modules that own them.
 */
#ifndef EGIDE_WIRE_H
#define EGIDE_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include "egide.pb-c.h"
#include "egide/base/egide_rc.h"

typedef enum egide_wire_kind {
    EGIDE_WIRE_SIGNED_ENVELOPE = 0,
    EGIDE_WIRE_ENVELOPE_HEADER,
    EGIDE_WIRE_PAYLOAD,
    EGIDE_WIRE_SIGNED_RECEIPT,
    EGIDE_WIRE_RECEIPT_BODY,
    EGIDE_WIRE_AUDIT_EVENT,
    EGIDE_WIRE_SIGNED_DIRECTORY,
    EGIDE_WIRE_DIRECTORY,
    EGIDE_WIRE_FRAME,
    EGIDE_WIRE__COUNT
} egide_wire_kind;

/* Name of a kind ("SignedEnvelope", ...), for messages. */
const char *egide_wire_kind_name(egide_wire_kind kind);
/* The size limit of a kind, in bytes. */
size_t egide_wire_max(egide_wire_kind kind);

/* Unpack buf into a new message (free with egide_wire_free).  *out is NULL on
 * error.  If detail is not NULL it receives a static description of the first
 * problem ("signature must be 64 bytes"). */
egide_rc egide_wire_unpack(egide_wire_kind kind, const uint8_t *buf, size_t len, void **out,
                           const char **detail);
/* Check an already-built message as unpack would (before packing). */
egide_rc egide_wire_check(egide_wire_kind kind, const void *msg, const char **detail);
/* Pack msg into a new buffer (caller frees).  Refuses (EGIDE_ERR_LIMIT) a
 * result over the kind's limit and (EGIDE_ERR_PROTO) a message that fails the
 * kind's validation, so nothing invalid is ever sent. */
egide_rc egide_wire_pack(egide_wire_kind kind, const void *msg, uint8_t **out, size_t *len);
void egide_wire_free(egide_wire_kind kind, void *msg);

/* Convenience for the transport: a Frame with version set. */
void egide_wire_frame_init(Egide__V1__Frame *f, uint64_t corr_id);

/* Names of enum values for logs and JSON ("REASON_REPLAY", "RECEIPT_ACCEPTED", ...). */
const char *egide_wire_reason_name(int reason);
const char *egide_wire_receipt_kind_name(int kind);
const char *egide_wire_audit_type_name(int type);
const char *egide_wire_urgency_name(int urgency); /* "normal", "urgent", "immediate" */
/* "normal"/"urgent"/"immediate" -> value; EGIDE_ERR_INVALID otherwise. */
egide_rc egide_wire_urgency_parse(const char *s, int *out);

#endif
