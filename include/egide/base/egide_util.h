/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_util.h - small, security-minded helpers shared by every module:
 * wiping secrets, bounded buffers and strings, hex and base64, constant-time
 * comparison, bounded file reads, secret-file permission checks, clocks and
 * random bytes.
 */
#ifndef EGIDE_UTIL_H
#define EGIDE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "egide/base/egide_rc.h"

/* Overwrite len bytes at p so the compiler cannot elide it (OPENSSL_cleanse). */
void egide_wipe(void *p, size_t len);

/* Wipe then free; NULL-safe. */
void egide_free_secret(void *p, size_t len);

/* Constant-time equality of two equal-length buffers: true when equal. */
bool egide_ct_equal(const void *a, const void *b, size_t len);

/* Copy src into dst of size dstsz, always NUL-terminated.  Returns
 * EGIDE_ERR_LIMIT (and a truncated copy) when src does not fit. */
egide_rc egide_strlcpy(char *dst, const char *src, size_t dstsz);

/* snprintf that reports truncation as EGIDE_ERR_LIMIT. */
egide_rc egide_snprintf(char *dst, size_t dstsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A growable byte buffer with a hard cap.  Invariant: len <= cap <= max. */
typedef struct egide_buf {
    uint8_t *data; /* owned, may be NULL when cap == 0 */
    size_t len;    /* bytes in use */
    size_t cap;    /* bytes allocated */
    size_t max;    /* never grows beyond this */
} egide_buf_t;

void egide_buf_init(egide_buf_t *b, size_t max);
egide_rc egide_buf_append(egide_buf_t *b, const void *p, size_t n);
/* Append a 4-byte big-endian length then the bytes (used for AAD/info). */
egide_rc egide_buf_append_lp(egide_buf_t *b, const void *p, size_t n);
/* Append formatted text (no NUL counted).  EGIDE_ERR_LIMIT past max. */
egide_rc egide_buf_printf(egide_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void egide_buf_free(egide_buf_t *b);        /* frees, does not wipe */
void egide_buf_free_secret(egide_buf_t *b); /* wipes then frees */

/* Lower-case hex.  out must hold 2*n+1 bytes. */
void egide_hex_encode(const uint8_t *in, size_t n, char *out);
/* Decode exactly outlen bytes from a hex string of 2*outlen characters.
 * Returns EGIDE_ERR_PROTO on a bad character or length. */
egide_rc egide_hex_decode(const char *hex, uint8_t *out, size_t outlen);
/* Decode a hex string of any even length into a new buffer (caller frees). */
egide_rc egide_hex_decode_alloc(const char *hex, uint8_t **out, size_t *outlen, size_t max);

/* Standard base64 with padding.  Returns a new string (caller frees) or NULL. */
char *egide_base64_encode(const uint8_t *in, size_t n);
/* Strict base64 decode (padding required, no whitespace).  *out is the
 * caller's to free.  EGIDE_ERR_PROTO on bad input, EGIDE_ERR_LIMIT if the
 * decoded size would exceed max. */
egide_rc egide_base64_decode(const char *in, size_t inlen, uint8_t **out, size_t *outlen,
                             size_t max);

/* Read a whole file of at most max bytes.  *out is NUL-terminated (not counted
 * in *len) and the caller's to free.  EGIDE_ERR_LIMIT when larger. */
egide_rc egide_file_read(const char *path, size_t max, uint8_t **out, size_t *len);
/* Write a file atomically with the given mode: a temporary file beside it
 * with a random name, created with O_EXCL and O_NOFOLLOW, written, fsync'ed,
 * renamed over path, then the directory fsync'ed.  EGIDE_ERR_FULL when the
 * disk or quota is full (transient), EGIDE_ERR_IO otherwise; on failure path
 * is untouched and no temporary file is left. */
egide_rc egide_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode);
/* Open a secret file once, without following a symbolic link, and check the
 * open descriptor: a regular file, owned by the effective user, with no
 * group or other permission bits.  *fd is the caller's to close.
 * EGIDE_ERR_NOTFOUND (missing), EGIDE_ERR_PERM (a link, not a regular file,
 * another owner, or group/other bits), EGIDE_ERR_IO. */
egide_rc egide_secret_open(const char *path, int *fd);
/* egide_secret_open() and close: the same checks, nothing read. */
egide_rc egide_file_check_secret(const char *path);
/* Read a secret file through egide_secret_open() (the descriptor checked is
 * the one read); trailing newline stripped.  Wipe with
 * egide_free_secret(*out, *len). */
egide_rc egide_secret_read(const char *path, size_t max, uint8_t **out, size_t *len);

/* Copy s into out (size outsz) replacing control and non-printable bytes by
 * '?', for logging peer-supplied strings.  Returns out. */
char *egide_sanitize(const char *s, size_t slen, char *out, size_t outsz);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME) and monotonic ms. */
int64_t egide_now_ms(void);
int64_t egide_mono_ms(void);

/* Cryptographically secure random bytes (RAND_bytes). */
egide_rc egide_random(void *out, size_t n);

/* Parse a decimal integer in [min, max]; whole string must be consumed. */
egide_rc egide_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);

/* Strict boolean: true/false/yes/no/on/off/1/0 (case-insensitive). */
egide_rc egide_parse_bool(const char *s, bool *out);

#endif
