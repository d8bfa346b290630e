/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* egide_rc.c - string tables for the egide_rc error enum. */
#include "egide/base/egide_rc.h"

static const struct {
    const char *name;
    const char *text;
} s_table[EGIDE_RC__COUNT] = {
    [EGIDE_OK] = {"EGIDE_OK", "success"},
    [EGIDE_ERR_NOMEM] = {"EGIDE_ERR_NOMEM", "out of memory"},
    [EGIDE_ERR_IO] = {"EGIDE_ERR_IO", "input/output error"},
    [EGIDE_ERR_PROTO] = {"EGIDE_ERR_PROTO", "malformed data"},
    [EGIDE_ERR_AUTH] = {"EGIDE_ERR_AUTH", "not authenticated or not allowed"},
    [EGIDE_ERR_CRYPTO] = {"EGIDE_ERR_CRYPTO", "cryptographic operation failed"},
    [EGIDE_ERR_DB] = {"EGIDE_ERR_DB", "database error"},
    [EGIDE_ERR_CONFIG] = {"EGIDE_ERR_CONFIG", "configuration error"},
    [EGIDE_ERR_LIMIT] = {"EGIDE_ERR_LIMIT", "size or count limit exceeded"},
    [EGIDE_ERR_INVALID] = {"EGIDE_ERR_INVALID", "invalid argument"},
    [EGIDE_ERR_NOTFOUND] = {"EGIDE_ERR_NOTFOUND", "not found"},
    [EGIDE_ERR_EXISTS] = {"EGIDE_ERR_EXISTS", "already exists"},
    [EGIDE_ERR_SIGNATURE] = {"EGIDE_ERR_SIGNATURE", "signature verification failed"},
    [EGIDE_ERR_CERT] = {"EGIDE_ERR_CERT", "certificate check failed"},
    [EGIDE_ERR_REVOKED] = {"EGIDE_ERR_REVOKED", "certificate revoked"},
    [EGIDE_ERR_EXPIRED] = {"EGIDE_ERR_EXPIRED", "expired"},
    [EGIDE_ERR_REPLAY] = {"EGIDE_ERR_REPLAY", "replayed or out-of-window message"},
    [EGIDE_ERR_DECRYPT] = {"EGIDE_ERR_DECRYPT", "decryption failed"},
    [EGIDE_ERR_COMMITMENT] = {"EGIDE_ERR_COMMITMENT", "key commitment mismatch"},
    [EGIDE_ERR_NOT_RECIPIENT] = {"EGIDE_ERR_NOT_RECIPIENT", "not a recipient of this message"},
    [EGIDE_ERR_VERSION] = {"EGIDE_ERR_VERSION", "unsupported or older version"},
    [EGIDE_ERR_PERM] = {"EGIDE_ERR_PERM", "file permissions too open"},
    [EGIDE_ERR_ROUTE] = {"EGIDE_ERR_ROUTE", "no route"},
    [EGIDE_ERR_RULE] = {"EGIDE_ERR_RULE", "forbidden by the access rules"},
    [EGIDE_ERR_TIMEOUT] = {"EGIDE_ERR_TIMEOUT", "timed out"},
    [EGIDE_ERR_STATE] = {"EGIDE_ERR_STATE", "invalid in the current state"},
    [EGIDE_ERR_VALIDATION] = {"EGIDE_ERR_VALIDATION", "payload validation failed"},
    [EGIDE_ERR_CONSISTENCY] = {"EGIDE_ERR_CONSISTENCY", "audit proof or consistency check failed"},
    [EGIDE_ERR_AMBIGUOUS] = {"EGIDE_ERR_AMBIGUOUS", "ambiguous input"},
    [EGIDE_ERR_HASH] = {"EGIDE_ERR_HASH", "hash mismatch"},
    [EGIDE_ERR_FULL] = {"EGIDE_ERR_FULL", "disk full"},
    [EGIDE_ERR_UNAVAILABLE] = {"EGIDE_ERR_UNAVAILABLE", "key holder unavailable"},
};

const char *egide_strerror(egide_rc rc)
{
    if ((int)rc < 0 || rc >= EGIDE_RC__COUNT || !s_table[rc].text)
        return "unknown error";
    return s_table[rc].text;
}

const char *egide_rc_name(egide_rc rc)
{
    if ((int)rc < 0 || rc >= EGIDE_RC__COUNT || !s_table[rc].name)
        return "EGIDE_ERR_UNKNOWN";
    return s_table[rc].name;
}
