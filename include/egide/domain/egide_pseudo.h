/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_pseudo.h - keyed pseudonyms of children for the observatories
 * (décret 2016-1966, D226-3-4 CASF).
 *
 * Inputs: the child's first name, month and year of birth, and the mother's
 * *birth* name.  The national algorithm and its key management are set by
 * DREES/ONPE and were not available when this was written, so the algorithm
 * is pluggable (a table of egide_pseudo_alg_t, chosen by name) and every
 * algorithm is keyed and key-separated: the key file's key is never used
 * directly, a sub-key is derived for one algorithm and one context (e.g.
 * "olinpe"), so the same key file used for something else gives unrelated
 * values.  Without the key there is no way back from a pseudonym to a child;
 * the key stays in the department (0600 file, egide_secret_read).
 *
 * Built-in algorithm "hmac-sha256-v1" (Égide's own, NOT the national one):
 *   subkey    = HMAC-SHA256(key, "egide-pseudo-v1" || 0x00 || context)
 *   pseudonym = hex(HMAC-SHA256(subkey, lp(first) || lp("YYYY-MM") || lp(mother)))
 * where lp(x) is a 4-byte big-endian length then x, and first/mother are
 * normalised by egide_pseudo_normalize().
 *
 * Normalisation (strict, so the same child gives the same pseudonym whoever
 * typed the name), done with utf8proc (Debian libutf8proc): UTF-8 in; each
 * character decomposed with the compatibility mappings (NFKD), its
 * combining marks removed and its case folded, then written in upper-case
 * ASCII.  So accents and diacritics go, whether typed precomposed or
 * decomposed (É->E, Ç->C, Ÿ->Y, "Thị Ngọc" -> "THI NGOC", "Nguyễn" ->
 * "NGUYEN", Å->A, Ș->S, Ơ->O), ß and ẞ become SS, compatibility forms their
 * letters (ĳ->IJ, ﬁ->FI, ǆ->DZ, ſ->S, fullwidth letters).  Letters Unicode
 * does not decompose are written as civil status writes them in ASCII:
 * the ligatures as their two letters (Œ->OE, Æ->AE: "Œdipe" = "Oedipe" =
 * "OEDIPE"), Þ->TH, and the letters with a stroke or bar as the plain
 * letter (Ø->O, Ł->L, Đ->D, Ð->D, Ħ->H, Ŧ->T, ı->I, ĸ->K, Ŋ->N).  Hyphens,
 * dashes, dots, underscores and spaces become one space; apostrophes
 * (' ’ ‘ ʼ ` ´) and the Catalan middle dot (l·l) are removed ("N'Diaye" ->
 * "NDIAYE"); leading/trailing separators dropped.  So "Zoé" = "ZOE" =
 * "zoe", "Marie-Hélène" = "MARIE HELENE" = "marie  hélène".  Any other
 * character (digits, other scripts, symbols, combining marks outside the
 * Latin ones) is refused: a name that cannot be normalised safely is not
 * guessed at.
 */
#ifndef EGIDE_PSEUDO_H
#define EGIDE_PSEUDO_H

#include <stddef.h>
#include <stdint.h>
#include "egide/base/egide_rc.h"

#define EGIDE_PSEUDO_HEX_LEN  64 /* pseudonym length (hex digits) */
#define EGIDE_PSEUDO_MIN_KEY  32 /* shortest key accepted (bytes) */
#define EGIDE_PSEUDO_MAX_KEY  4096
#define EGIDE_PSEUDO_MAX_NAME 256 /* longest normalised name (bytes) */

/* Normalise a first name or family name (see above) into out (outsz bytes,
 * NUL-terminated; "" on error).  EGIDE_ERR_PROTO when in is not valid UTF-8
 * (truncated or overlong sequence, surrogate, above U+10FFFF);
 * EGIDE_ERR_INVALID for a character outside the accepted set, an empty
 * result or NULL arguments; EGIDE_ERR_LIMIT when out is too small. */
egide_rc egide_pseudo_normalize(const char *in, char *out, size_t outsz);

/* The same folding for search and comparison of any text (names, case
 * references, free text): NFKD, combining marks removed, case folded, the
 * same letters as above written as ASCII, in lower case; apostrophes and the
 * middle dot removed; separators, whitespace and control characters as one
 * space, none leading or trailing; other characters (digits, other scripts,
 * symbols) kept, folded.  Compare or search folded texts with strcmp /
 * strstr: "Thị Ngọc" and "THI NGOC" both fold to "thi ngoc", "Œdipe" to
 * "oedipe".  out: outsz bytes, NUL-terminated ("" for an empty text).
 * EGIDE_ERR_PROTO when in is not valid UTF-8, EGIDE_ERR_LIMIT when out is too
 * small, EGIDE_ERR_INVALID for NULL arguments. */
egide_rc egide_pseudo_fold(const char *in, char *out, size_t outsz);

/* One pseudonym algorithm.  derive() gets already-normalised names and a
 * key of klen >= EGIDE_PSEUDO_MIN_KEY bytes, writes 64 hex digits + NUL. */
typedef struct egide_pseudo_alg {
    const char *name; /* e.g. "hmac-sha256-v1" */
    egide_rc (*derive)(const uint8_t *key, size_t klen, const char *context, const char *first,
                       int birth_year, int birth_month, const char *mother,
                       char out[EGIDE_PSEUDO_HEX_LEN + 1]);
} egide_pseudo_alg_t;

/* The algorithm named name (NULL = the default, "hmac-sha256-v1"), or NULL
 * when unknown.  Static. */
const egide_pseudo_alg_t *egide_pseudo_alg_find(const char *name);

/* Normalise the names and derive the pseudonym with alg (NULL = default).
 *   key/klen    the department's pseudonymisation key (EGIDE_PSEUDO_MIN_KEY..
 *               EGIDE_PSEUDO_MAX_KEY bytes, else EGIDE_ERR_INVALID)
 *   context     key-separation label, e.g. "olinpe" (non-empty)
 *   birth_year/birth_month  1900..2199 / 1..12
 * Returns EGIDE_ERR_PROTO for a name that is not valid UTF-8,
 * EGIDE_ERR_INVALID for a name that does not normalise, bad month, key or
 * context; EGIDE_ERR_CRYPTO if HMAC fails.  No input is logged. */
egide_rc egide_pseudo_compute(const egide_pseudo_alg_t *alg, const uint8_t *key, size_t klen,
                              const char *context, const char *first_name, int birth_year,
                              int birth_month, const char *mother_birth_name,
                              char out[EGIDE_PSEUDO_HEX_LEN + 1]);

/* The household key of known-child detection at the CRIP (see
 * egide_known_child.h for what a household is and what it misses): keyed
 * like a pseudonym, under its own label so it is never equal to one:
 *   subkey = HMAC-SHA256(key, "egide-household-v1" || 0x00 || context)
 *   out    = hex(HMAC-SHA256(subkey, lp(mother_first) || lp(mother_birth)
 *                                    || lp(commune)))
 * with the two names normalised by egide_pseudo_normalize() and commune an
 * INSEE code as written (5 characters: digits, or 2A/2B then 3 digits).
 * Same key and context rules and return codes as egide_pseudo_compute();
 * EGIDE_ERR_INVALID also for a commune that is not an INSEE code.  No input
 * is logged. */
egide_rc egide_pseudo_household(const uint8_t *key, size_t klen, const char *context,
                                const char *mother_first_name, const char *mother_birth_name,
                                const char *commune, char out[EGIDE_PSEUDO_HEX_LEN + 1]);

#endif
