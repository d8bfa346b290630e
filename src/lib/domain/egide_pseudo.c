/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_pseudo.c - name normalisation and keyed pseudonyms for the
 * observatory export (see egide_pseudo.h for the rules and why).
 *
 * Folding is utf8proc's (Debian libutf8proc, a maintained Unicode library):
 * each code point is decomposed with compatibility mappings (NFKD), its
 * combining marks are dropped and it is case-folded, in one call
 * (utf8proc_decompose_char).  utf8proc also decodes the UTF-8, strictly
 * (no overlong forms, no surrogates, nothing above U+10FFFF).  What is left
 * here is what Unicode does not decompose and French civil status writes as
 * two letters or as a plain letter (s_letters[]: oe, ae, o, l, d, th...),
 * and which characters separate words or are dropped.
 */
#include "egide/domain/egide_pseudo.h"

#include <stdbool.h>
#include <string.h>
#include <utf8proc.h>

#include "egide/crypto/egide_crypto.h"
#include "egide/base/egide_util.h"

/* NFKD + marks removed + case folding: what every code point goes through. */
#define S_FOLD (UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_STRIPMARK | UTF8PROC_CASEFOLD)
/* Longest folding of one code point (U+FDFA gives 18). */
#define S_MAX_FOLD 32

/* Case-folded letters that have no decomposition, written in ASCII as civil
 * status writes them: the ligatures as their two letters (Œ -> OE, Æ -> AE,
 * as a registrar writes "OEDIPE" for "Œdipe"), the letters with a stroke or
 * a bar as the plain letter, thorn and eth as TH and D, dotless i as I. */
static const struct {
    uint32_t cp;
    const char *to;
} s_letters[] = {
    {0x00E6, "AE"}, /* æ (also ǣ ǽ, which fold to it) */
    {0x00F0, "D"},  /* ð */
    {0x00F8, "O"},  /* ø (also ǿ) */
    {0x00FE, "TH"}, /* þ */
    {0x0111, "D"},  /* đ, Vietnamese and Croatian */
    {0x0127, "H"},  /* ħ */
    {0x0131, "I"},  /* ı */
    {0x0138, "K"},  /* ĸ */
    {0x0142, "L"},  /* ł */
    {0x014B, "N"},  /* ŋ */
    {0x0153, "OE"}, /* œ */
    {0x0167, "T"},  /* ŧ */
};

static const char *s_letter(uint32_t c)
{
    for (size_t i = 0; i < sizeof s_letters / sizeof s_letters[0]; i++)
        if (s_letters[i].cp == c)
            return s_letters[i].to;
    return NULL;
}

/* Word separators and dropped characters, judged on the code point as
 * typed (before folding, which would turn the acute accent U+00B4 into a
 * space and a mark). */
static bool s_separator(uint32_t c)
{
    return c == ' ' || c == '-' || c == '.' || c == '_' || c == '\t' || c == 0xA0 ||
           (c >= 0x2010 && c <= 0x2015) || c == 0x2212 || c == 0x202F || c == 0x2009;
}

/* Apostrophes, and the middle dot of Catalan "l·l" (U+00B7): dropped. */
static bool s_dropped(uint32_t c)
{
    return c == '\'' || c == '`' || c == 0x2018 || c == 0x2019 || c == 0x02BC || c == 0xB4 ||
           c == 0xB7;
}

/* Combining marks that Latin letters take (decomposed input): the
 * diacritical marks and their extended and supplement blocks, half marks. */
static bool s_latin_mark(uint32_t c)
{
    return (c >= 0x0300 && c <= 0x036F) || (c >= 0x1AB0 && c <= 0x1AFF) ||
           (c >= 0x1DC0 && c <= 0x1DFF) || (c >= 0xFE20 && c <= 0xFE2F);
}

/* Append to out: false when it does not fit. */
static bool s_put(char *out, size_t outsz, size_t *o, const char *s, size_t n)
{
    if (*o + n + 1 > outsz)
        return false;
    memcpy(out + *o, s, n);
    *o += n;
    return true;
}

/* Whitespace and controls of any kind (text mode): one space. */
static bool s_space(uint32_t c)
{
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k == UTF8PROC_CATEGORY_ZS || k == UTF8PROC_CATEGORY_ZL || k == UTF8PROC_CATEGORY_ZP ||
           k == UTF8PROC_CATEGORY_CC;
}

/* The folding both public functions share.  name: egide_pseudo_normalize()'s
 * rules (upper-case ASCII letters only, anything else refused); else
 * egide_pseudo_fold()'s (lower case, other characters kept folded). */
static egide_rc s_fold(const char *in, char *out, size_t outsz, bool name)
{
    if (!in || !out || outsz == 0)
        return EGIDE_ERR_INVALID;
    out[0] = '\0';
    size_t o = 0, len = strlen(in);
    bool pending_space = false;
    egide_rc rc = EGIDE_OK;
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)in;
    while (len > 0 && rc == EGIDE_OK) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p, (utf8proc_ssize_t)len, &cp);
        if (n <= 0 || cp < 0) {
            rc = EGIDE_ERR_PROTO;
            break;
        }
        p += n;
        len -= (size_t)n;
        if (s_separator((uint32_t)cp) || (!name && s_space((uint32_t)cp))) {
            pending_space = o > 0;
            continue;
        }
        if (s_dropped((uint32_t)cp))
            continue;
        utf8proc_int32_t f[S_MAX_FOLD];
        int bound = 0;
        utf8proc_ssize_t nf = utf8proc_decompose_char(cp, f, S_MAX_FOLD, S_FOLD, &bound);
        if (nf < 0 || nf > S_MAX_FOLD) {
            rc = EGIDE_ERR_INVALID;
            break;
        }
        /* nf == 0: a combining mark typed as such (decomposed input), dropped;
         * in a name only when it is one of the marks Latin letters take (a
         * Hebrew point or an Arabic vowel sign on a Latin name is not
         * guessed at). */
        if (nf == 0 && name && !s_latin_mark((uint32_t)cp)) {
            rc = EGIDE_ERR_INVALID;
            break;
        }
        for (utf8proc_ssize_t i = 0; i < nf && rc == EGIDE_OK; i++) {
            uint32_t c = (uint32_t)f[i];
            char buf[8] = {0};
            const char *to = NULL;
            size_t tl = 0;
            if (c >= 'a' && c <= 'z') {
                buf[0] = (char)(name ? c - 'a' + 'A' : c);
                to = buf, tl = 1;
            } else if ((to = s_letter(c)) != NULL) {
                tl = strlen(to);
                if (!name) {
                    for (size_t j = 0; j < tl; j++)
                        buf[j] = (char)(to[j] - 'A' + 'a');
                    to = buf;
                }
            } else if ((c == 0xB7 && (cp == 0x13F || cp == 0x140)) || (c == 0x2BC && cp == 0x149)) {
                /* What two letters decompose into besides letters: the
                 * middle dot of Catalan Ŀ ŀ, the apostrophe of ŉ. */
                continue;
            } else if (name) {
                rc = EGIDE_ERR_INVALID; /* digit, symbol, other script */
                break;
            } else {
                tl = (size_t)utf8proc_encode_char((utf8proc_int32_t)c, (utf8proc_uint8_t *)buf);
                to = buf;
            }
            if ((pending_space && !s_put(out, outsz, &o, " ", 1)) || !s_put(out, outsz, &o, to, tl))
                rc = EGIDE_ERR_LIMIT;
            pending_space = false;
        }
    }
    if (rc == EGIDE_OK && o == 0 && name)
        rc = EGIDE_ERR_INVALID;
    if (rc != EGIDE_OK) {
        egide_wipe(out, o < outsz ? o + 1 : outsz);
        out[0] = '\0';
        return rc;
    }
    out[o] = '\0';
    return EGIDE_OK;
}

egide_rc egide_pseudo_normalize(const char *in, char *out, size_t outsz)
{
    return s_fold(in, out, outsz, true);
}

egide_rc egide_pseudo_fold(const char *in, char *out, size_t outsz)
{
    return s_fold(in, out, outsz, false);
}

static egide_rc s_lp(egide_buf_t *b, const char *s)
{
    return egide_buf_append_lp(b, s, strlen(s));
}

/* The keyed construction both derivations share: a sub-key for (label,
 * context), then HMAC over the length-prefixed fields. */
static egide_rc s_keyed(const char *label, const uint8_t *key, size_t klen, const char *context,
                        const char *const *fields, size_t nfields,
                        char out[EGIDE_PSEUDO_HEX_LEN + 1])
{
    uint8_t subkey[32], mac[32];
    egide_buf_t info, msg;
    egide_buf_init(&info, 1024);
    egide_buf_init(&msg, 4096);
    egide_rc rc = egide_buf_append(&info, label, strlen(label) + 1); /* includes the 0x00 */
    if (rc == EGIDE_OK)
        rc = egide_buf_append(&info, context, strlen(context));
    if (rc == EGIDE_OK)
        rc = egide_hmac_sha256(key, klen, info.data, info.len, subkey);
    for (size_t i = 0; i < nfields && rc == EGIDE_OK; i++)
        rc = s_lp(&msg, fields[i]);
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

/* hmac-sha256-v1: see egide_pseudo.h. */
static egide_rc s_hmac_v1(const uint8_t *key, size_t klen, const char *context, const char *first,
                          int birth_year, int birth_month, const char *mother,
                          char out[EGIDE_PSEUDO_HEX_LEN + 1])
{
    char ym[16];
    egide_rc rc = egide_snprintf(ym, sizeof ym, "%04d-%02d", birth_year, birth_month);
    const char *fields[] = {first, ym, mother};
    if (rc == EGIDE_OK)
        rc = s_keyed("egide-pseudo-v1", key, klen, context, fields, 3, out);
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

/* An INSEE commune code: 5 digits, or 2A/2B then 3 digits. */
static bool s_commune(const char *c)
{
    if (!c || strlen(c) != 5)
        return false;
    bool corsica = c[0] == '2' && (c[1] == 'A' || c[1] == 'B');
    for (size_t i = corsica ? 2 : 0; i < 5; i++)
        if (c[i] < '0' || c[i] > '9')
            return false;
    return true;
}

egide_rc egide_pseudo_household(const uint8_t *key, size_t klen, const char *context,
                                const char *mother_first_name, const char *mother_birth_name,
                                const char *commune, char out[EGIDE_PSEUDO_HEX_LEN + 1])
{
    if (!out)
        return EGIDE_ERR_INVALID;
    out[0] = '\0';
    if (!key || klen < EGIDE_PSEUDO_MIN_KEY || klen > EGIDE_PSEUDO_MAX_KEY || !context ||
        !*context || !s_commune(commune))
        return EGIDE_ERR_INVALID;
    char first[EGIDE_PSEUDO_MAX_NAME], mother[EGIDE_PSEUDO_MAX_NAME];
    egide_rc rc = egide_pseudo_normalize(mother_first_name, first, sizeof first);
    if (rc == EGIDE_OK)
        rc = egide_pseudo_normalize(mother_birth_name, mother, sizeof mother);
    const char *fields[] = {first, mother, commune};
    if (rc == EGIDE_OK)
        rc = s_keyed("egide-household-v1", key, klen, context, fields, 3, out);
    if (rc == EGIDE_ERR_LIMIT)
        rc = EGIDE_ERR_INVALID;
    egide_wipe(first, sizeof first);
    egide_wipe(mother, sizeof mother);
    return rc;
}
