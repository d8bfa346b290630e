/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_witness.h - what an edge (or an auditor) does with each new signed
 * checkpoint of the broker's audit log: check it is signed by the broker and
 * that the log it describes extends the last one it trusted.  A broker that
 * rewrites or forks its history cannot produce such a proof, so its own edges
 * catch it.
 *
 * Pure functions: the caller fetches the new note and the consistency proof
 * (GET /v1/audit/proof/consistency?from=<trusted size>&to=<new size>) and,
 * on EGIDE_OK, persists the new note as its trusted one.
 */
#ifndef EGIDE_WITNESS_H
#define EGIDE_WITNESS_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "egide/protocol/egide_checkpoint.h"
#include "egide/base/egide_rc.h"

/* Check new_note against trusted_note (NULL or empty: nothing trusted yet,
 * then only the signature is checked and the proof must be empty).
 *
 * key_name and pub are the broker's checkpoint key (see egide_checkpoint.h).
 * proof/proof_n is the consistency proof from the trusted size to the new
 * size.  new_cp (may be NULL) receives the new checkpoint on EGIDE_OK.
 *
 * Returns EGIDE_OK; EGIDE_ERR_SIGNATURE when the new note is malformed or not
 * signed by the key; EGIDE_ERR_VERSION when the new tree is smaller than the
 * trusted one; EGIDE_ERR_CONSISTENCY when the new tree does not extend the
 * trusted one (different origin, a different root at the same size, or a
 * proof that fails: a fork or a rewrite); EGIDE_ERR_INVALID for NULL
 * arguments or a trusted note that no longer verifies under the key. */
egide_rc egide_witness_check(const char *trusted_note, size_t trusted_len, const char *new_note,
                             size_t new_len, const char *key_name, EVP_PKEY *pub,
                             const uint8_t (*proof)[32], size_t proof_n,
                             egide_checkpoint_t *new_cp);

#endif
