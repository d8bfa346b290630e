/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_frame.h - one builder per outgoing transport frame.
 *
 * Every frame a daemon sends is made here, packed and checked by egide_wire
 * (size limit and required fields), so no handler assembles an
 * Egide__V1__Frame by hand.  Each builder returns a new buffer in *out (the
 * caller frees it) and its length in *len.  Byte arguments are copied into
 * the packed frame; nothing is kept.
 *
 * Return codes: EGIDE_OK; EGIDE_ERR_INVALID (a NULL output or a required
 * argument missing); EGIDE_ERR_LIMIT (the frame would exceed the Frame
 * limit); EGIDE_ERR_PROTO (a field fails egide_wire's checks);
 * EGIDE_ERR_NOMEM.
 */
#ifndef EGIDE_FRAME_H
#define EGIDE_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include "egide/base/egide_rc.h"

typedef struct egide_frame_hello {
    const char *node_id;         /* must equal the connection's ZAP User-Id */
    uint64_t directory_version;  /* 0 = none held */
    uint64_t checkpoint_size;    /* tree size of the checkpoint held (0 = none) */
    const char *software;        /* "egide-edge/0.1.0" */
    const uint8_t *inbox_newest; /* 16 bytes: newest msg_id in the inbox; NULL = none held */
} egide_frame_hello_t;

egide_rc egide_frame_hello(uint64_t corr, const egide_frame_hello_t *h, uint8_t **out, size_t *len);
egide_rc egide_frame_directory(uint64_t corr, const uint8_t *signed_dir, size_t dir_len,
                               uint8_t **out, size_t *len);
egide_rc egide_frame_submit(uint64_t corr, const uint8_t *env, size_t env_len, uint8_t **out,
                            size_t *len);
egide_rc egide_frame_deliver(uint64_t corr, const uint8_t *env, size_t env_len, uint8_t **out,
                             size_t *len);
/* relay_id: 0 for the broker's own answer to a Submit, else the relay row the
 * sender acknowledges with an Ack frame. */
egide_rc egide_frame_receipt(uint64_t corr, uint64_t relay_id, const uint8_t *rcpt, size_t rcpt_len,
                             uint8_t **out, size_t *len);
egide_rc egide_frame_heartbeat(uint64_t corr, int64_t time_ms, uint8_t **out, size_t *len);
/* code: an Egide__V1__ReasonCode; detail may be NULL. */
egide_rc egide_frame_error(uint64_t corr, int code, const char *detail, uint8_t **out, size_t *len);
/* proof: n_proof hashes of 32 bytes each (RFC 9162), from from_size. */
egide_rc egide_frame_checkpoint(uint64_t corr, const char *note, size_t note_len,
                                uint64_t from_size, const uint8_t (*proof)[32], size_t n_proof,
                                uint8_t **out, size_t *len);
/* last_seq: the highest sender_seq the broker accepted from the node. */
egide_rc egide_frame_welcome(uint64_t corr, uint64_t last_seq, uint8_t **out, size_t *len);
egide_rc egide_frame_ack(uint64_t corr, const uint64_t *ids, size_t n_ids, uint8_t **out,
                         size_t *len);

#endif
