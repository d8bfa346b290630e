/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_frame.c - builders for every outgoing transport frame (see
 * egide_frame.h).  Each fills a Frame on the stack with borrowed pointers and
 * packs it through egide_wire_pack, which checks the frame as the receiver's
 * unpack will.
 */
#include "egide/wire/egide_frame.h"
#include <stdlib.h>
#include <string.h>
#include "egide.pb-c.h"
#include "egide/wire/egide_wire.h"

static egide_rc s_pack(Egide__V1__Frame *f, uint8_t **out, size_t *len)
{
    if (!out || !len)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    *len = 0;
    return egide_wire_pack(EGIDE_WIRE_FRAME, f, out, len);
}

static ProtobufCBinaryData s_bin(const uint8_t *p, size_t n)
{
    return (ProtobufCBinaryData){n, (uint8_t *)p};
}

egide_rc egide_frame_hello(uint64_t corr, const egide_frame_hello_t *h, uint8_t **out, size_t *len)
{
    if (!h || !h->node_id)
        return EGIDE_ERR_INVALID;
    Egide__V1__Frame f;
    Egide__V1__Hello b = EGIDE__V1__HELLO__INIT;
    egide_wire_frame_init(&f, corr);
    b.node_id = (char *)h->node_id;
    b.directory_version = h->directory_version;
    b.checkpoint_size = h->checkpoint_size;
    b.software = (char *)(h->software ? h->software : "");
    if (h->inbox_newest)
        b.inbox_newest = s_bin(h->inbox_newest, 16);
    f.body_case = EGIDE__V1__FRAME__BODY_HELLO;
    f.hello = &b;
    return s_pack(&f, out, len);
}

/* The three frames whose body is one bytes field: a signed directory, an
 * envelope submitted, an envelope delivered. */
static egide_rc s_bytes_frame(uint64_t corr, Egide__V1__Frame__BodyCase which, const uint8_t *p,
                              size_t n, uint8_t **out, size_t *len)
{
    if (!p || !n)
        return EGIDE_ERR_INVALID;
    Egide__V1__Frame f;
    Egide__V1__DirectorySync dir = EGIDE__V1__DIRECTORY_SYNC__INIT;
    Egide__V1__Submit sub = EGIDE__V1__SUBMIT__INIT;
    Egide__V1__Deliver del = EGIDE__V1__DELIVER__INIT;
    egide_wire_frame_init(&f, corr);
    f.body_case = which;
    switch (which) {
    case EGIDE__V1__FRAME__BODY_DIRECTORY:
        dir.signed_directory = s_bin(p, n);
        f.directory = &dir;
        break;
    case EGIDE__V1__FRAME__BODY_SUBMIT:
        sub.envelope = s_bin(p, n);
        f.submit = &sub;
        break;
    case EGIDE__V1__FRAME__BODY_DELIVER:
        del.envelope = s_bin(p, n);
        f.deliver = &del;
        break;
    default:
        return EGIDE_ERR_INVALID;
    }
    return s_pack(&f, out, len);
}

egide_rc egide_frame_directory(uint64_t corr, const uint8_t *signed_dir, size_t dir_len,
                               uint8_t **out, size_t *len)
{
    return s_bytes_frame(corr, EGIDE__V1__FRAME__BODY_DIRECTORY, signed_dir, dir_len, out, len);
}

egide_rc egide_frame_submit(uint64_t corr, const uint8_t *env, size_t env_len, uint8_t **out,
                            size_t *len)
{
    return s_bytes_frame(corr, EGIDE__V1__FRAME__BODY_SUBMIT, env, env_len, out, len);
}

egide_rc egide_frame_deliver(uint64_t corr, const uint8_t *env, size_t env_len, uint8_t **out,
                             size_t *len)
{
    return s_bytes_frame(corr, EGIDE__V1__FRAME__BODY_DELIVER, env, env_len, out, len);
}

egide_rc egide_frame_receipt(uint64_t corr, uint64_t relay_id, const uint8_t *rcpt, size_t rcpt_len,
                             uint8_t **out, size_t *len)
{
    if (!rcpt || !rcpt_len)
        return EGIDE_ERR_INVALID;
    Egide__V1__Frame f;
    Egide__V1__ReceiptFrame b = EGIDE__V1__RECEIPT_FRAME__INIT;
    egide_wire_frame_init(&f, corr);
    b.receipt = s_bin(rcpt, rcpt_len);
    b.relay_id = relay_id;
    f.body_case = EGIDE__V1__FRAME__BODY_RECEIPT;
    f.receipt = &b;
    return s_pack(&f, out, len);
}

egide_rc egide_frame_heartbeat(uint64_t corr, int64_t time_ms, uint8_t **out, size_t *len)
{
    Egide__V1__Frame f;
    Egide__V1__Heartbeat b = EGIDE__V1__HEARTBEAT__INIT;
    egide_wire_frame_init(&f, corr);
    b.time_ms = time_ms;
    f.body_case = EGIDE__V1__FRAME__BODY_HEARTBEAT;
    f.heartbeat = &b;
    return s_pack(&f, out, len);
}

egide_rc egide_frame_error(uint64_t corr, int code, const char *detail, uint8_t **out, size_t *len)
{
    Egide__V1__Frame f;
    Egide__V1__Error b = EGIDE__V1__ERROR__INIT;
    egide_wire_frame_init(&f, corr);
    b.code = (Egide__V1__ReasonCode)code;
    b.detail = (char *)(detail ? detail : "");
    f.body_case = EGIDE__V1__FRAME__BODY_ERROR;
    f.error = &b;
    return s_pack(&f, out, len);
}

egide_rc egide_frame_checkpoint(uint64_t corr, const char *note, size_t note_len,
                                uint64_t from_size, const uint8_t (*proof)[32], size_t n_proof,
                                uint8_t **out, size_t *len)
{
    if (!note || !note_len || (n_proof && !proof))
        return EGIDE_ERR_INVALID;
    Egide__V1__Frame f;
    Egide__V1__Checkpoint b = EGIDE__V1__CHECKPOINT__INIT;
    egide_wire_frame_init(&f, corr);
    b.note = s_bin((const uint8_t *)note, note_len);
    ProtobufCBinaryData *items = NULL;
    if (n_proof) {
        items = calloc(n_proof, sizeof *items);
        if (!items)
            return EGIDE_ERR_NOMEM;
        for (size_t i = 0; i < n_proof; i++)
            items[i] = s_bin(proof[i], 32);
        b.from_size = from_size;
        b.n_consistency_proof = n_proof;
        b.consistency_proof = items;
    }
    f.body_case = EGIDE__V1__FRAME__BODY_CHECKPOINT;
    f.checkpoint = &b;
    egide_rc rc = s_pack(&f, out, len);
    free(items);
    return rc;
}

egide_rc egide_frame_ack(uint64_t corr, const uint64_t *ids, size_t n_ids, uint8_t **out,
                         size_t *len)
{
    if (!ids || !n_ids)
        return EGIDE_ERR_INVALID;
    Egide__V1__Frame f;
    Egide__V1__Ack b = EGIDE__V1__ACK__INIT;
    egide_wire_frame_init(&f, corr);
    b.n_ids = n_ids;
    b.ids = (uint64_t *)ids;
    f.body_case = EGIDE__V1__FRAME__BODY_ACK;
    f.ack = &b;
    return s_pack(&f, out, len);
}

egide_rc egide_frame_welcome(uint64_t corr, uint64_t last_seq, uint8_t **out, size_t *len)
{
    Egide__V1__Frame f;
    Egide__V1__Welcome b = EGIDE__V1__WELCOME__INIT;
    egide_wire_frame_init(&f, corr);
    b.last_seq = last_seq;
    f.body_case = EGIDE__V1__FRAME__BODY_WELCOME;
    f.welcome = &b;
    return s_pack(&f, out, len);
}
