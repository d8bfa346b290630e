/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_pseudo.c - name normalisation and keyed pseudonyms for the
 * observatory export (see egide_pseudo.h for the rules and why).
 *
 * The UTF-8 decoder is strict (no overlong forms, no surrogates, nothing
 * above U+10FFFF).  Folding covers Latin-1 Supplement, Latin Extended-A, the
 * Romanian comma-below letters, capital sharp s and combining diacritics,
 * which is what French civil-status names use; everything else is refused.
 */
#include "egide/domain/egide_pseudo.h"

#include <stdbool.h>
#include <string.h>

#include "egide/crypto/egide_crypto.h"
#include "egide/base/egide_util.h"

/* U+00C0..U+00FF; NULL = refused (× and ÷). */
static const char *const s_latin1[64] = {
    "A", "A", "A", "A", "A", "A", "AE", "C",  "E", "E", "E", "E", "I", "I", "I",  "I",
    "D", "N", "O", "O", "O", "O", "O",  NULL, "O", "U", "U", "U", "U", "Y", "TH", "SS",
    "A", "A", "A", "A", "A", "A", "AE", "C",  "E", "E", "E", "E", "I", "I", "I",  "I",
    "D", "N", "O", "O", "O", "O", "O",  NULL, "O", "U", "U", "U", "U", "Y", "TH", "Y"};

/* U+0100..U+017F as runs of one folding. */
static const struct {
    unsigned count;
    const char *to;
} s_ext_a[] = {{6, "A"}, {8, "C"},  {4, "D"},  {10, "E"}, {8, "G"}, {4, "H"},  {10, "I"}, {2, "IJ"},
               {2, "J"}, {3, "K"},  {10, "L"}, {9, "N"},  {6, "O"}, {2, "OE"}, {6, "R"},  {8, "S"},
               {6, "T"}, {12, "U"}, {2, "W"},  {3, "Y"},  {6, "Z"}, {1, "S"}};

/* Decode one UTF-8 code point at s (strict); returns bytes used, 0 on error. */
static size_t s_utf8(const unsigned char *s, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t n;
    uint32_t c, min;
    if ((s[0] & 0xE0) == 0xC0) {
        n = 2;
        c = s[0] & 0x1F;
        min = 0x80;
    } else if ((s[0] & 0xF0) == 0xE0) {
        n = 3;
        c = s[0] & 0x0F;
        min = 0x800;
    } else if ((s[0] & 0xF8) == 0xF0) {
        n = 4;
        c = s[0] & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return n;
}

typedef enum { S_LETTERS, S_SEPARATOR, S_DROP, S_BAD } s_class;

/* Classify a code point; for letters, *to is its upper-case ASCII folding. */
static s_class s_fold(uint32_t c, const char **to, char *one)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        one[0] = (char)(c >= 'a' ? c - 32 : c);
        one[1] = '\0';
        *to = one;
        return S_LETTERS;
    }
    if (c == ' ' || c == '-' || c == '.' || c == '_' || c == '\t' || c == 0xA0 ||
        (c >= 0x2010 && c <= 0x2015) || c == 0x2212 || c == 0x202F || c == 0x2009)
        return S_SEPARATOR;
    if (c == '\'' || c == '`' || c == 0x2018 || c == 0x2019 || c == 0x02BC || c == 0xB4)
        return S_DROP;
    if (c >= 0x0300 && c <= 0x036F)
        return S_DROP; /* combining diacritical marks (decomposed input) */
    if (c >= 0xC0 && c <= 0xFF) {
        *to = s_latin1[c - 0xC0];
        return *to ? S_LETTERS : S_BAD;
    }
    if (c >= 0x100 && c <= 0x17F) {
        unsigned off = c - 0x100;
        for (size_t i = 0; i < sizeof s_ext_a / sizeof s_ext_a[0]; i++) {
            if (off < s_ext_a[i].count) {
                *to = s_ext_a[i].to;
                return S_LETTERS;
            }
            off -= s_ext_a[i].count;
        }
        return S_BAD;
    }
    if (c >= 0x218 && c <= 0x21B) {
        *to = c <= 0x219 ? "S" : "T";
        return S_LETTERS;
    }
    if (c == 0x1E9E) {
        *to = "SS";
        return S_LETTERS;
    }
    return S_BAD;
}

egide_rc egide_pseudo_normalize(const char *in, char *out, size_t outsz)
{
    if (!in || !out || outsz == 0)
        return EGIDE_ERR_INVALID;
    out[0] = '\0';
    size_t o = 0;
    bool pending_space = false;
    const unsigned char *p = (const unsigned char *)in;
    while (*p) {
        uint32_t cp;
        size_t n = s_utf8(p, &cp);
        if (n == 0)
            return EGIDE_ERR_INVALID;
        p += n;
        const char *to = NULL;
        char one[2];
        switch (s_fold(cp, &to, one)) {
        case S_BAD:
            out[0] = '\0';
            return EGIDE_ERR_INVALID;
        case S_DROP:
            break;
        case S_SEPARATOR:
            pending_space = o > 0;
            break;
        case S_LETTERS: {
            size_t tl = strlen(to);
            if (o + (pending_space ? 1 : 0) + tl + 1 > outsz) {
                out[0] = '\0';
                return EGIDE_ERR_LIMIT;
            }
            if (pending_space)
                out[o++] = ' ';
            pending_space = false;
            memcpy(out + o, to, tl);
            o += tl;
            break;
        }
        }
    }
    out[o] = '\0';
    return o ? EGIDE_OK : EGIDE_ERR_INVALID;
}

static egide_rc s_lp(egide_buf_t *b, const char *s)
{
    return egide_buf_append_lp(b, s, strlen(s));
}

/* hmac-sha256-v1: see egide_pseudo.h. */
static egide_rc s_hmac_v1(const uint8_t *key, size_t klen, const char *context, const char *first,
                          int birth_year, int birth_month, const char *mother,
                          char out[EGIDE_PSEUDO_HEX_LEN + 1])
{
    static const char label[] = "egide-pseudo-v1";
    uint8_t subkey[32], mac[32];
    egide_buf_t info, msg;
    egide_buf_init(&info, 1024);
    egide_buf_init(&msg, 4096);
    char ym[16];
    egide_rc rc = egide_snprintf(ym, sizeof ym, "%04d-%02d", birth_year, birth_month);
    if (rc == EGIDE_OK)
        rc = egide_buf_append(&info, label, sizeof label); /* includes the 0x00 */
    if (rc == EGIDE_OK)
        rc = egide_buf_append(&info, context, strlen(context));
    if (rc == EGIDE_OK)
        rc = egide_hmac_sha256(key, klen, info.data, info.len, subkey);
    if (rc == EGIDE_OK)
        rc = s_lp(&msg, first);
    if (rc == EGIDE_OK)
        rc = s_lp(&msg, ym);
    if (rc == EGIDE_OK)
        rc = s_lp(&msg, mother);
    if (rc == EGIDE_OK)
        rc = egide_hmac_sha256(subkey, sizeof subkey, msg.data, msg.len, mac);
    if (rc == EGIDE_OK)
        egide_hex_encode(mac, sizeof mac, out);
    egide_wipe(subkey, sizeof subkey);
    egide_wipe(mac, sizeof mac);
    egide_buf_free(&info);
    egide_buf_free_secret(&msg);
    return rc;
}

static const egide_pseudo_alg_t s_algs[] = {
    {"hmac-sha256-v1", s_hmac_v1},
};

const egide_pseudo_alg_t *egide_pseudo_alg_find(const char *name)
{
    if (!name)
        return &s_algs[0];
    for (size_t i = 0; i < sizeof s_algs / sizeof s_algs[0]; i++)
        if (strcmp(s_algs[i].name, name) == 0)
            return &s_algs[i];
    return NULL;
}

egide_rc egide_pseudo_compute(const egide_pseudo_alg_t *alg, const uint8_t *key, size_t klen,
                              const char *context, const char *first_name, int birth_year,
                              int birth_month, const char *mother_birth_name,
                              char out[EGIDE_PSEUDO_HEX_LEN + 1])
{
    if (!out)
        return EGIDE_ERR_INVALID;
    out[0] = '\0';
    if (!alg)
        alg = egide_pseudo_alg_find(NULL);
    if (!key || klen < EGIDE_PSEUDO_MIN_KEY || klen > EGIDE_PSEUDO_MAX_KEY || !context ||
        !*context || birth_year < 1900 || birth_year > 2199 || birth_month < 1 || birth_month > 12)
        return EGIDE_ERR_INVALID;
    char first[EGIDE_PSEUDO_MAX_NAME], mother[EGIDE_PSEUDO_MAX_NAME];
    egide_rc rc = egide_pseudo_normalize(first_name, first, sizeof first);
    if (rc == EGIDE_OK)
        rc = egide_pseudo_normalize(mother_birth_name, mother, sizeof mother);
    if (rc == EGIDE_OK)
        rc = alg->derive(key, klen, context, first, birth_year, birth_month, mother, out);
    if (rc == EGIDE_ERR_LIMIT)
        rc = EGIDE_ERR_INVALID;
    egide_wipe(first, sizeof first);
    egide_wipe(mother, sizeof mother);
    return rc;
}
