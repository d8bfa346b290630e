/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_witness.c - checking each new signed checkpoint against the last
 * trusted one: signature first, then size, then the consistency proof.
 */
#include "egide/audit/egide_witness.h"

#include <string.h>

#include "egide/audit/egide_merkle.h"
#include "egide/base/egide_util.h"

egide_rc egide_witness_check(const char *trusted_note, size_t trusted_len, const char *new_note,
                             size_t new_len, const char *key_name, EVP_PKEY *pub,
                             const uint8_t (*proof)[32], size_t proof_n, egide_checkpoint_t *new_cp)
{
    if (!new_note || !key_name || !pub || (proof_n && !proof))
        return EGIDE_ERR_INVALID;
    egide_checkpoint_t old, cur;
    egide_rc rc = egide_checkpoint_verify(new_note, new_len, key_name, pub, &cur);
    if (rc == EGIDE_ERR_INVALID)
        return rc;
    if (rc != EGIDE_OK)
        return EGIDE_ERR_SIGNATURE;
    int have_old = trusted_note && trusted_len > 0;
    if (have_old) {
        if (egide_checkpoint_verify(trusted_note, trusted_len, key_name, pub, &old) != EGIDE_OK)
            return EGIDE_ERR_INVALID;
        if (strcmp(old.origin, cur.origin) != 0)
            return EGIDE_ERR_CONSISTENCY;
        if (cur.size < old.size)
            return EGIDE_ERR_VERSION;
        if (old.size == 0) {
            /* Every tree extends the empty tree; a proof would be meaningless. */
            if (proof_n != 0)
                return EGIDE_ERR_CONSISTENCY;
        } else if (egide_merkle_verify_consistency(old.size, cur.size, old.root, cur.root, proof,
                                                   proof_n) != EGIDE_OK) {
            return EGIDE_ERR_CONSISTENCY;
        }
    } else if (proof_n != 0) {
        return EGIDE_ERR_CONSISTENCY;
    }
    if (new_cp)
        *new_cp = cur;
    return EGIDE_OK;
}
