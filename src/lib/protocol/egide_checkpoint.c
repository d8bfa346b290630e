/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_checkpoint.c - C2SP signed notes carrying the audit log's
 * checkpoints: make, parse (strict, bounded) and verify.  See the header for
 * the format and the origin / key-name convention.
 *
 * Parsing never allocates more than the note's own bounded size and walks
 * the input once; the signed text is the prefix up to and including the
 * third newline, verified as received (never re-serialized).
 */
#include "egide/protocol/egide_checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egide/crypto/egide_crypto.h"
#include "egide/base/egide_util.h"

#define S_DASH    "\xE2\x80\x94" /* U+2014 EM DASH */
#define S_SIG_MIN 5u             /* key id + at least one byte */
#define S_SIG_MAX 512u           /* decoded key id + signature, other signers included */

/* A name (origin or key name): printable ASCII, no space, no '+' (which the
 * signed-note spec forbids in key names; we refuse it in origins too). */
static int s_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > EGIDE_CHECKPOINT_MAX_ORIGIN)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7F || c == '+')
            return 0;
    }
    return 1;
}

egide_rc egide_checkpoint_origin_for(const char *broker_id, char *out, size_t outsz)
{
    if (!broker_id || !out || !s_name_ok(broker_id, strlen(broker_id)))
        return EGIDE_ERR_INVALID;
    egide_rc rc = egide_snprintf(out, outsz, "egide.%s/audit", broker_id);
    if (rc == EGIDE_OK && strlen(out) > EGIDE_CHECKPOINT_MAX_ORIGIN)
        rc = EGIDE_ERR_LIMIT;
    return rc;
}

egide_rc egide_checkpoint_key_id(const char *key_name, EVP_PKEY *pub, uint8_t id[4])
{
    if (!key_name || !pub || !id || !s_name_ok(key_name, strlen(key_name)) ||
        EVP_PKEY_get_base_id(pub) != EVP_PKEY_ED25519)
        return EGIDE_ERR_INVALID;
    size_t nlen = strlen(key_name);
    uint8_t buf[EGIDE_CHECKPOINT_MAX_ORIGIN + 2 + 32];
    memcpy(buf, key_name, nlen); /* NOLINT(bugprone-not-null-terminated-result): bytes */
    buf[nlen] = 0x0A;
    buf[nlen + 1] = 0x01; /* signature type: Ed25519 */
    if (egide_key_raw_public(pub, buf + nlen + 2) != EGIDE_OK)
        return EGIDE_ERR_INVALID;
    uint8_t h[32];
    egide_sha256(buf, nlen + 2 + 32, h);
    memcpy(id, h, 4);
    return EGIDE_OK;
}

egide_rc egide_checkpoint_sign(const egide_checkpoint_t *cp, const char *key_name, EVP_PKEY *key,
                               char **note_out)
{
    if (!cp || !key || !note_out || !key_name)
        return EGIDE_ERR_INVALID;
    *note_out = NULL;
    size_t olen = strnlen(cp->origin, sizeof cp->origin);
    if (olen == sizeof cp->origin || !s_name_ok(cp->origin, olen))
        return EGIDE_ERR_INVALID;
    uint8_t id_sig[4 + 64];
    egide_rc rc = egide_checkpoint_key_id(key_name, key, id_sig);
    if (rc != EGIDE_OK)
        return rc;
    char *root64 = egide_base64_encode(cp->root, 32);
    if (!root64)
        return EGIDE_ERR_NOMEM;
    char text[EGIDE_CHECKPOINT_MAX_ORIGIN + 128];
    rc = egide_snprintf(text, sizeof text, "%s\n%llu\n%s\n", cp->origin,
                        (unsigned long long)cp->size, root64);
    free(root64);
    if (rc != EGIDE_OK)
        return rc;
    rc = egide_ed25519_sign(key, text, strlen(text), id_sig + 4);
    if (rc != EGIDE_OK)
        return rc;
    char *sig64 = egide_base64_encode(id_sig, sizeof id_sig);
    if (!sig64)
        return EGIDE_ERR_NOMEM;
    size_t need = strlen(text) + 1 + strlen(S_DASH) + 1 + strlen(key_name) + 1 + strlen(sig64) + 2;
    char *note = malloc(need);
    if (!note) {
        free(sig64);
        return EGIDE_ERR_NOMEM;
    }
    rc = egide_snprintf(note, need, "%s\n" S_DASH " %s %s\n", text, key_name, sig64);
    free(sig64);
    if (rc != EGIDE_OK) {
        free(note);
        return rc;
    }
    *note_out = note;
    return EGIDE_OK;
}

/* One parsed signature line; pointers into the note. */
typedef struct s_sigline {
    const char *name; /* key name, not terminated */
    size_t name_len;
    uint8_t blob[S_SIG_MAX]; /* key id || signature */
    size_t blob_len;
} s_sigline_t;

/* Find the next '\n' in [p, end); returns its pointer or NULL. */
static const char *s_eol(const char *p, const char *end)
{
    return memchr(p, '\n', (size_t)(end - p));
}

static egide_rc s_parse_size(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 20 || (len > 1 && s[0] == '0'))
        return EGIDE_ERR_PROTO;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return EGIDE_ERR_PROTO;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return EGIDE_ERR_PROTO;
        v = v * 10 + d;
    }
    *out = v;
    return EGIDE_OK;
}

/* Parse the whole note.  On success *text_len is the length of the signed
 * text and sigs[0..*nsigs) the signature lines. */
static egide_rc s_parse(const char *note, size_t len, egide_checkpoint_t *cp, size_t *text_len,
                        s_sigline_t *sigs, size_t *nsigs)
{
    if (!note || !cp)
        return EGIDE_ERR_INVALID;
    if (len > EGIDE_CHECKPOINT_MAX_NOTE)
        return EGIDE_ERR_LIMIT;
    /* Only printable ASCII, newline, and the bytes of U+2014 (checked where
     * they may appear) are allowed anywhere. */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)note[i];
        if (c != '\n' && (c < 0x20 || c == 0x7F) && c < 0x80)
            return EGIDE_ERR_PROTO;
    }
    const char *p = note, *end = note + len, *e;
    /* Origin. */
    if (!(e = s_eol(p, end)) || !s_name_ok(p, (size_t)(e - p)))
        return EGIDE_ERR_PROTO;
    memset(cp, 0, sizeof *cp);
    memcpy(cp->origin, p, (size_t)(e - p));
    p = e + 1;
    /* Size. */
    if (!(e = s_eol(p, end)) || s_parse_size(p, (size_t)(e - p), &cp->size) != EGIDE_OK)
        return EGIDE_ERR_PROTO;
    p = e + 1;
    /* Root: exactly 44 base64 characters for 32 bytes. */
    if (!(e = s_eol(p, end)) || e - p != 44)
        return EGIDE_ERR_PROTO;
    uint8_t *root = NULL;
    size_t rlen = 0;
    if (egide_base64_decode(p, 44, &root, &rlen, 32) != EGIDE_OK || rlen != 32) {
        free(root);
        return EGIDE_ERR_PROTO;
    }
    memcpy(cp->root, root, 32);
    free(root);
    p = e + 1;
    *text_len = (size_t)(p - note);
    /* The empty line: extension lines are not accepted. */
    if (p >= end || *p != '\n')
        return EGIDE_ERR_PROTO;
    p++;
    *nsigs = 0;
    while (p < end) {
        if (*nsigs == EGIDE_CHECKPOINT_MAX_SIGS)
            return EGIDE_ERR_PROTO;
        if (!(e = s_eol(p, end)))
            return EGIDE_ERR_PROTO;
        size_t dl = strlen(S_DASH " ");
        if ((size_t)(e - p) < dl || memcmp(p, S_DASH " ", dl) != 0)
            return EGIDE_ERR_PROTO;
        const char *name = p + dl;
        const char *sp = memchr(name, ' ', (size_t)(e - name));
        if (!sp || !s_name_ok(name, (size_t)(sp - name)))
            return EGIDE_ERR_PROTO;
        const char *b64 = sp + 1;
        size_t b64len = (size_t)(e - b64);
        s_sigline_t *s = &sigs[*nsigs];
        uint8_t *blob = NULL;
        size_t blen = 0;
        if (b64len == 0 || egide_base64_decode(b64, b64len, &blob, &blen, S_SIG_MAX) != EGIDE_OK ||
            blen < S_SIG_MIN) {
            free(blob);
            return EGIDE_ERR_PROTO;
        }
        s->name = name;
        s->name_len = (size_t)(sp - name);
        memcpy(s->blob, blob, blen);
        s->blob_len = blen;
        free(blob);
        (*nsigs)++;
        p = e + 1;
    }
    if (*nsigs == 0)
        return EGIDE_ERR_PROTO;
    return EGIDE_OK;
}

egide_rc egide_checkpoint_parse(const char *note, size_t len, egide_checkpoint_t *cp)
{
    s_sigline_t *sigs = calloc(EGIDE_CHECKPOINT_MAX_SIGS, sizeof *sigs);
    if (!sigs)
        return EGIDE_ERR_NOMEM;
    size_t text_len = 0, nsigs = 0;
    egide_checkpoint_t tmp;
    egide_rc rc = s_parse(note, len, &tmp, &text_len, sigs, &nsigs);
    if (rc == EGIDE_OK && cp)
        *cp = tmp;
    free(sigs);
    return rc;
}

egide_rc egide_checkpoint_verify(const char *note, size_t len, const char *key_name, EVP_PKEY *pub,
                                 egide_checkpoint_t *cp)
{
    uint8_t id[4];
    egide_rc rc = egide_checkpoint_key_id(key_name, pub, id);
    if (rc != EGIDE_OK)
        return rc;
    s_sigline_t *sigs = calloc(EGIDE_CHECKPOINT_MAX_SIGS, sizeof *sigs);
    if (!sigs)
        return EGIDE_ERR_NOMEM;
    size_t text_len = 0, nsigs = 0;
    egide_checkpoint_t tmp;
    rc = s_parse(note, len, &tmp, &text_len, sigs, &nsigs);
    if (rc == EGIDE_OK) {
        rc = EGIDE_ERR_SIGNATURE;
        size_t nlen = strlen(key_name);
        for (size_t i = 0; i < nsigs; i++) {
            const s_sigline_t *s = &sigs[i];
            if (s->name_len != nlen || memcmp(s->name, key_name, nlen) != 0 ||
                s->blob_len != 4 + 64 || memcmp(s->blob, id, 4) != 0)
                continue;
            if (egide_ed25519_verify(pub, note, text_len, s->blob + 4, 64) == EGIDE_OK) {
                rc = EGIDE_OK;
                break;
            }
        }
    }
    if (rc == EGIDE_OK && cp)
        *cp = tmp;
    free(sigs);
    return rc;
}
