/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_checkpoint.h - the audit log's signed checkpoints, in the C2SP
 * signed-note format (c2sp.org/signed-note, c2sp.org/tlog-checkpoint).
 *
 * A note is the text
 *
 *     <origin>\n<tree size in decimal>\n<base64 root hash>\n
 *
 * then an empty line, then one or more signature lines
 *
 *     — <key name> <base64(key id || Ed25519 signature over the text)>\n
 *
 * (the dash is U+2014) where key id = the first 4 bytes of
 * SHA-256(key name || 0x0A || 0x01 || 32-byte Ed25519 public key).
 *
 * Convention in Égide: the origin is "egide.<broker node id>/audit" (e.g.
 * "egide.71.broker/audit"), the key name is the origin itself, and the key
 * is the broker's Ed25519 signing key (the one in its signing certificate).
 * Verifiers take the key name from their configuration (or, when they pin
 * only the certificate, from the note's origin: the signature still has to
 * verify under that name and the anchored key).
 *
 * The parser is strict and bounded: at most EGIDE_CHECKPOINT_MAX_NOTE bytes,
 * printable ASCII origin and key names without spaces, a canonical decimal
 * size, a root of exactly 32 bytes, no extension lines, 1 to
 * EGIDE_CHECKPOINT_MAX_SIGS signature lines, and nothing after the last one.
 */
#ifndef EGIDE_CHECKPOINT_H
#define EGIDE_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "egide/base/egide_rc.h"

#define EGIDE_CHECKPOINT_MAX_NOTE   4096u
#define EGIDE_CHECKPOINT_MAX_ORIGIN 255u
#define EGIDE_CHECKPOINT_MAX_SIGS   16u

/* The signed content of a checkpoint. */
typedef struct egide_checkpoint {
    char origin[EGIDE_CHECKPOINT_MAX_ORIGIN + 1]; /* NUL-terminated, non-empty */
    uint64_t size;                                /* tree size */
    uint8_t root[32];                             /* RFC 9162 root hash */
} egide_checkpoint_t;

/* Writes "egide.<broker_id>/audit" into out (size outsz).
 * EGIDE_ERR_INVALID for an empty id or one with spaces or control bytes,
 * EGIDE_ERR_LIMIT when it does not fit. */
egide_rc egide_checkpoint_origin_for(const char *broker_id, char *out, size_t outsz);

/* The 4-byte key id of (key_name, Ed25519 public key of pub).
 * EGIDE_ERR_INVALID for a bad name or a key that is not Ed25519. */
egide_rc egide_checkpoint_key_id(const char *key_name, EVP_PKEY *pub, uint8_t id[4]);

/* Make a note for cp signed by key (Ed25519 private) under key_name.
 * *note_out is NUL-terminated and the caller's to free.
 * EGIDE_ERR_INVALID for a bad origin, key name or key; EGIDE_ERR_CRYPTO;
 * EGIDE_ERR_NOMEM. */
egide_rc egide_checkpoint_sign(const egide_checkpoint_t *cp, const char *key_name, EVP_PKEY *key,
                               char **note_out);

/* Parse the text and check the syntax of the signature lines, without
 * verifying any signature.  EGIDE_ERR_PROTO for anything malformed,
 * EGIDE_ERR_LIMIT when longer than EGIDE_CHECKPOINT_MAX_NOTE. */
egide_rc egide_checkpoint_parse(const char *note, size_t len, egide_checkpoint_t *cp);

/* Parse, then require a signature line by (key_name, pub) that verifies.
 * Lines of other signers are ignored.  cp (may be NULL) is filled only on
 * success.  EGIDE_ERR_PROTO / EGIDE_ERR_LIMIT as egide_checkpoint_parse;
 * EGIDE_ERR_SIGNATURE when no line of that key verifies; EGIDE_ERR_INVALID
 * for a bad key name or a key that is not Ed25519. */
egide_rc egide_checkpoint_verify(const char *note, size_t len, const char *key_name, EVP_PKEY *pub,
                                 egide_checkpoint_t *cp);

#endif
