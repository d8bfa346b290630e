/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_wire.c - size-checked, validated protobuf-c pack/unpack for every
 * wire message.  One table row per kind: descriptor, limit, validator.
 */
#include "egide/wire/egide_wire.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "egide/base/egide_limits.h"

typedef const char *(*s_validator_fn)(const void *msg);

static bool s_id_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > EGIDE_MAX_NODE_ID)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

static const char *s_check_signed_envelope(const void *m)
{
    const Egide__V1__SignedEnvelope *e = m;
    if (e->header.len == 0)
        return "header missing";
    if (e->header.len > EGIDE_MAX_HEADER)
        return "header too large";
    if (e->signature.len != EGIDE_ED25519_SIG_LEN)
        return "signature must be 64 bytes";
    return NULL;
}

static const char *s_check_header(const void *m)
{
    const Egide__V1__EnvelopeHeader *h = m;
    if (h->version != 1)
        return "unsupported envelope version";
    if (h->msg_id.len != EGIDE_MSG_ID_LEN)
        return "msg_id must be 16 bytes";
    if (!s_id_ok(h->sender_id))
        return "bad sender_id";
    if (h->n_recipients == 0)
        return "no recipient";
    if (h->n_recipients > EGIDE_MAX_RECIPIENTS)
        return "too many recipients";
    for (size_t i = 0; i < h->n_recipients; i++)
        if (!h->recipients[i] || !s_id_ok(h->recipients[i]->node_id))
            return "bad recipient node_id";
    if (!h->message_type || !*h->message_type || strlen(h->message_type) > EGIDE_MAX_TYPE_NAME)
        return "bad message_type";
    if (h->key_commitment.len != EGIDE_SHA256_LEN)
        return "key_commitment must be 32 bytes";
    return NULL;
}

static const char *s_check_payload(const void *m)
{
    const Egide__V1__Payload *p = m;
    if (!p->content_type || !*p->content_type)
        return "content_type missing";
    if (p->body.len == 0)
        return "body missing";
    return NULL;
}

static const char *s_check_signed_receipt(const void *m)
{
    const Egide__V1__SignedReceipt *r = m;
    if (r->body.len == 0)
        return "receipt body missing";
    if (r->signature.len != EGIDE_ED25519_SIG_LEN)
        return "signature must be 64 bytes";
    return NULL;
}

static const char *s_check_receipt_body(const void *m)
{
    const Egide__V1__ReceiptBody *b = m;
    if (b->version != 1)
        return "unsupported receipt version";
    if (b->kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_KIND_UNSPECIFIED)
        return "receipt kind missing";
    if (b->msg_id.len != EGIDE_MSG_ID_LEN)
        return "msg_id must be 16 bytes";
    if (b->envelope_sha256.len != EGIDE_SHA256_LEN)
        return "envelope_sha256 must be 32 bytes";
    if (!s_id_ok(b->issuer_id))
        return "bad issuer_id";
    if (b->issuer_cert_fingerprint.len != EGIDE_SHA256_LEN)
        return "issuer_cert_fingerprint must be 32 bytes";
    return NULL;
}

static const char *s_check_audit_event(const void *m)
{
    const Egide__V1__AuditEvent *a = m;
    if (a->version != 1)
        return "unsupported audit event version";
    if (a->type == EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_UNSPECIFIED)
        return "audit event type missing";
    if (a->time_ms <= 0)
        return "audit event time missing";
    if (a->msg_id.len != 0 && a->msg_id.len != EGIDE_MSG_ID_LEN)
        return "msg_id must be 16 bytes";
    return NULL;
}

static const char *s_check_signed_directory(const void *m)
{
    const Egide__V1__SignedDirectory *d = m;
    if (d->directory.len == 0)
        return "directory missing";
    if (d->signature.len != EGIDE_ED25519_SIG_LEN)
        return "signature must be 64 bytes";
    return NULL;
}

static const char *s_check_directory(const void *m)
{
    const Egide__V1__Directory *d = m;
    if (d->format_version != 1)
        return "unsupported directory format";
    if (d->version == 0)
        return "directory version missing";
    if (!d->department || !*d->department)
        return "department missing";
    return NULL;
}

static const char *s_check_frame(const void *m)
{
    const Egide__V1__Frame *f = m;
    if (f->version != EGIDE_WIRE_VERSION)
        return "unsupported frame version";
    switch (f->body_case) {
    case EGIDE__V1__FRAME__BODY_HELLO:
        if (!s_id_ok(f->hello->node_id))
            return "hello: bad node_id";
        return f->hello->inbox_newest.len == 0 || f->hello->inbox_newest.len == 16
                   ? NULL
                   : "hello: inbox_newest is not a 16-byte msg_id";
    case EGIDE__V1__FRAME__BODY_DIRECTORY:
        return f->directory->signed_directory.len ? NULL : "directory: empty";
    case EGIDE__V1__FRAME__BODY_SUBMIT:
        return f->submit->envelope.len ? NULL : "submit: empty envelope";
    case EGIDE__V1__FRAME__BODY_DELIVER:
        return f->deliver->envelope.len ? NULL : "deliver: empty envelope";
    case EGIDE__V1__FRAME__BODY_RECEIPT:
        return f->receipt->receipt.len ? NULL : "receipt: empty";
    case EGIDE__V1__FRAME__BODY_HEARTBEAT:
        return NULL;
    case EGIDE__V1__FRAME__BODY_ERROR:
        return NULL;
    case EGIDE__V1__FRAME__BODY_CHECKPOINT:
        return f->checkpoint->note.len ? NULL : "checkpoint: empty note";
    case EGIDE__V1__FRAME__BODY_ACK:
        return f->ack->n_ids ? NULL : "ack: no ids";
    case EGIDE__V1__FRAME__BODY_WELCOME:
        return NULL;
    default:
        return "frame body missing";
    }
}

static const struct {
    const char *name;
    const ProtobufCMessageDescriptor *desc;
    size_t max;
    s_validator_fn check;
} s_kinds[EGIDE_WIRE__COUNT] = {
    [EGIDE_WIRE_SIGNED_ENVELOPE] = {"SignedEnvelope", &egide__v1__signed_envelope__descriptor,
                                    EGIDE_MAX_ENVELOPE, s_check_signed_envelope},
    [EGIDE_WIRE_ENVELOPE_HEADER] = {"EnvelopeHeader", &egide__v1__envelope_header__descriptor,
                                    EGIDE_MAX_HEADER, s_check_header},
    [EGIDE_WIRE_PAYLOAD] = {"Payload", &egide__v1__payload__descriptor, EGIDE_MAX_PAYLOAD + 1024,
                            s_check_payload},
    [EGIDE_WIRE_SIGNED_RECEIPT] = {"SignedReceipt", &egide__v1__signed_receipt__descriptor,
                                   EGIDE_MAX_RECEIPT, s_check_signed_receipt},
    [EGIDE_WIRE_RECEIPT_BODY] = {"ReceiptBody", &egide__v1__receipt_body__descriptor,
                                 EGIDE_MAX_RECEIPT, s_check_receipt_body},
    [EGIDE_WIRE_AUDIT_EVENT] = {"AuditEvent", &egide__v1__audit_event__descriptor,
                                EGIDE_MAX_AUDIT_EVENT, s_check_audit_event},
    [EGIDE_WIRE_SIGNED_DIRECTORY] = {"SignedDirectory", &egide__v1__signed_directory__descriptor,
                                     EGIDE_MAX_DIRECTORY, s_check_signed_directory},
    [EGIDE_WIRE_DIRECTORY] = {"Directory", &egide__v1__directory__descriptor, EGIDE_MAX_DIRECTORY,
                              s_check_directory},
    [EGIDE_WIRE_FRAME] = {"Frame", &egide__v1__frame__descriptor, EGIDE_MAX_FRAME, s_check_frame},
};

const char *egide_wire_kind_name(egide_wire_kind kind)
{
    return (unsigned)kind < EGIDE_WIRE__COUNT ? s_kinds[kind].name : "unknown";
}

size_t egide_wire_max(egide_wire_kind kind)
{
    return (unsigned)kind < EGIDE_WIRE__COUNT ? s_kinds[kind].max : 0;
}

egide_rc egide_wire_unpack(egide_wire_kind kind, const uint8_t *buf, size_t len, void **out,
                           const char **detail)
{
    const char *dummy;
    if (!detail)
        detail = &dummy;
    *out = NULL;
    *detail = NULL;
    if ((unsigned)kind >= EGIDE_WIRE__COUNT)
        return EGIDE_ERR_INVALID;
    if (len > s_kinds[kind].max) {
        *detail = "message too large";
        return EGIDE_ERR_LIMIT;
    }
    if (len > 0 && !buf)
        return EGIDE_ERR_INVALID;
    ProtobufCMessage *m = protobuf_c_message_unpack(s_kinds[kind].desc, NULL, len, buf);
    if (!m) {
        *detail = "malformed protobuf";
        return EGIDE_ERR_PROTO;
    }
    const char *bad = s_kinds[kind].check(m);
    if (bad) {
        *detail = bad;
        protobuf_c_message_free_unpacked(m, NULL);
        return EGIDE_ERR_PROTO;
    }
    *out = m;
    return EGIDE_OK;
}

egide_rc egide_wire_check(egide_wire_kind kind, const void *msg, const char **detail)
{
    const char *dummy;
    if (!detail)
        detail = &dummy;
    *detail = NULL;
    if ((unsigned)kind >= EGIDE_WIRE__COUNT || !msg)
        return EGIDE_ERR_INVALID;
    *detail = s_kinds[kind].check(msg);
    return *detail ? EGIDE_ERR_PROTO : EGIDE_OK;
}

egide_rc egide_wire_pack(egide_wire_kind kind, const void *msg, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    egide_rc rc = egide_wire_check(kind, msg, NULL);
    if (rc)
        return rc;
    size_t n = protobuf_c_message_get_packed_size(msg);
    if (n > s_kinds[kind].max)
        return EGIDE_ERR_LIMIT;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return EGIDE_ERR_NOMEM;
    if (protobuf_c_message_pack(msg, buf) != n) {
        free(buf);
        return EGIDE_ERR_PROTO;
    }
    *out = buf;
    *len = n;
    return EGIDE_OK;
}

void egide_wire_free(egide_wire_kind kind, void *msg)
{
    (void)kind;
    if (msg)
        protobuf_c_message_free_unpacked(msg, NULL);
}

void egide_wire_frame_init(Egide__V1__Frame *f, uint64_t corr_id)
{
    egide__v1__frame__init(f);
    f->version = EGIDE_WIRE_VERSION;
    f->corr_id = corr_id;
}

static const char *s_enum_name(const ProtobufCEnumDescriptor *d, int v, const char *fallback)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, v);
    return ev ? ev->name : fallback;
}

const char *egide_wire_reason_name(int reason)
{
    return s_enum_name(&egide__v1__reason_code__descriptor, reason, "REASON_UNKNOWN");
}

const char *egide_wire_receipt_kind_name(int kind)
{
    static const char *names[] = {"UNSPECIFIED", "ACCEPTED", "DELIVERED", "REJECTED"};
    return kind >= 0 && kind <= 3 ? names[kind] : "UNKNOWN";
}

const char *egide_wire_audit_type_name(int type)
{
    return s_enum_name(&egide__v1__audit_event_type__descriptor, type, "AUDIT_UNKNOWN");
}

const char *egide_wire_urgency_name(int urgency)
{
    static const char *names[] = {"unspecified", "normal", "urgent", "immediate"};
    return urgency >= 0 && urgency <= 3 ? names[urgency] : "unknown";
}

egide_rc egide_wire_urgency_parse(const char *s, int *out)
{
    for (int i = 1; i <= 3; i++)
        if (s && strcmp(s, egide_wire_urgency_name(i)) == 0) {
            *out = i;
            return EGIDE_OK;
        }
    return EGIDE_ERR_INVALID;
}
