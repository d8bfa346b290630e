/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fuzz_checkpoint.c - the signed-note checkpoint parser and verifier, and the
 * witness check, on arbitrary bytes.  Invariants: no crash; a note that
 * parses re-signs to a note that parses to the same checkpoint; nothing
 * unsigned by the fixed key ever verifies (except the corpus notes, which are
 * not signed by it either: the key is made fresh each run).
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "egide/protocol/egide_checkpoint.h"
#include "egide/audit/egide_witness.h"

static EVP_PKEY *s_key;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_key)
        s_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!s_key)
        return 0;
    const char *note = (const char *)data;
    egide_checkpoint_t cp;
    if (egide_checkpoint_parse(note, size, &cp) == EGIDE_OK) {
        if (cp.origin[0] == '\0' || strlen(cp.origin) > EGIDE_CHECKPOINT_MAX_ORIGIN)
            abort();
        char *again = NULL;
        egide_checkpoint_t cp2;
        if (egide_checkpoint_sign(&cp, cp.origin, s_key, &again) != EGIDE_OK ||
            egide_checkpoint_verify(again, strlen(again), cp.origin, s_key, &cp2) != EGIDE_OK ||
            cp2.size != cp.size || memcmp(cp2.root, cp.root, 32) != 0 ||
            strcmp(cp2.origin, cp.origin) != 0)
            abort();
        /* A fresh key never signed the input. */
        if (egide_checkpoint_verify(note, size, cp.origin, s_key, NULL) == EGIDE_OK)
            abort();
        if (egide_witness_check(again, strlen(again), note, size, cp.origin, s_key, NULL, 0,
                                NULL) == EGIDE_OK)
            abort();
        free(again);
    } else if (egide_checkpoint_verify(note, size, "k", s_key, NULL) == EGIDE_OK) {
        abort();
    }
    return 0;
}
