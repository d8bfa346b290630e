/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_util.c - helpers shared by every module.  Nothing here logs: callers
 * turn the returned egide_rc into one log line at their own boundary.
 */
#include "egide/base/egide_util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

void egide_wipe(void *p, size_t len)
{
    if (p && len)
        OPENSSL_cleanse(p, len);
}

void egide_free_secret(void *p, size_t len)
{
    if (!p)
        return;
    egide_wipe(p, len);
    free(p);
}

bool egide_ct_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

egide_rc egide_strlcpy(char *dst, const char *src, size_t dstsz)
{
    if (!dst || dstsz == 0)
        return EGIDE_ERR_INVALID;
    size_t n = strlen(src);
    if (n >= dstsz) {
        memcpy(dst, src, dstsz - 1);
        dst[dstsz - 1] = '\0';
        return EGIDE_ERR_LIMIT;
    }
    memcpy(dst, src, n + 1);
    return EGIDE_OK;
}

egide_rc egide_snprintf(char *dst, size_t dstsz, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst, dstsz, fmt, ap);
    va_end(ap);
    if (n < 0)
        return EGIDE_ERR_INVALID;
    return (size_t)n >= dstsz ? EGIDE_ERR_LIMIT : EGIDE_OK;
}

void egide_buf_init(egide_buf_t *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max;
}

static egide_rc s_buf_reserve(egide_buf_t *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return EGIDE_ERR_LIMIT;
    size_t need = b->len + extra;
    if (need <= b->cap)
        return EGIDE_OK;
    size_t ncap = b->cap ? b->cap : 64;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    if (ncap > b->max)
        ncap = b->max;
    uint8_t *nd = realloc(b->data, ncap);
    if (!nd)
        return EGIDE_ERR_NOMEM;
    b->data = nd;
    b->cap = ncap;
    return EGIDE_OK;
}

egide_rc egide_buf_append(egide_buf_t *b, const void *p, size_t n)
{
    if (n == 0)
        return EGIDE_OK;
    egide_rc rc = s_buf_reserve(b, n);
    if (rc)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return EGIDE_OK;
}

egide_rc egide_buf_append_lp(egide_buf_t *b, const void *p, size_t n)
{
    if (n > UINT32_MAX)
        return EGIDE_ERR_LIMIT;
    uint8_t l[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    egide_rc rc = egide_buf_append(b, l, 4);
    return rc ? rc : egide_buf_append(b, p, n);
}

egide_rc egide_buf_printf(egide_buf_t *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return EGIDE_ERR_INVALID;
    if ((size_t)n < sizeof small)
        return egide_buf_append(b, small, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big)
        return EGIDE_ERR_NOMEM;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    egide_rc rc = egide_buf_append(b, big, (size_t)n);
    free(big);
    return rc;
}

void egide_buf_free(egide_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void egide_buf_free_secret(egide_buf_t *b)
{
    egide_wipe(b->data, b->cap);
    egide_buf_free(b);
}

void egide_hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int s_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

egide_rc egide_hex_decode(const char *hex, uint8_t *out, size_t outlen)
{
    if (!hex || strlen(hex) != 2 * outlen)
        return EGIDE_ERR_PROTO;
    for (size_t i = 0; i < outlen; i++) {
        int hi = s_hexval(hex[2 * i]), lo = s_hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return EGIDE_ERR_PROTO;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return EGIDE_OK;
}

egide_rc egide_hex_decode_alloc(const char *hex, uint8_t **out, size_t *outlen, size_t max)
{
    *out = NULL;
    *outlen = 0;
    size_t n = strlen(hex);
    if (n % 2)
        return EGIDE_ERR_PROTO;
    if (n / 2 > max)
        return EGIDE_ERR_LIMIT;
    uint8_t *buf = malloc(n / 2 ? n / 2 : 1);
    if (!buf)
        return EGIDE_ERR_NOMEM;
    egide_rc rc = egide_hex_decode(hex, buf, n / 2);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    *outlen = n / 2;
    return EGIDE_OK;
}

static const char s_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *egide_base64_encode(const uint8_t *in, size_t n)
{
    if (n > (SIZE_MAX - 1) / 4 * 3 - 3)
        return NULL;
    size_t olen = (n + 2) / 3 * 4;
    char *out = malloc(olen + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = s_b64[(v >> 18) & 63];
        out[o++] = s_b64[(v >> 12) & 63];
        out[o++] = i + 1 < n ? s_b64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? s_b64[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static int s_b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

egide_rc egide_base64_decode(const char *in, size_t inlen, uint8_t **out, size_t *outlen,
                             size_t max)
{
    *out = NULL;
    *outlen = 0;
    if (inlen % 4)
        return EGIDE_ERR_PROTO;
    size_t pad = 0;
    if (inlen >= 1 && in[inlen - 1] == '=')
        pad++;
    if (inlen >= 2 && in[inlen - 2] == '=')
        pad++;
    size_t n = inlen / 4 * 3 - pad;
    if (n > max)
        return EGIDE_ERR_LIMIT;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return EGIDE_ERR_NOMEM;
    size_t o = 0;
    for (size_t i = 0; i < inlen; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++) {
            char c = in[i + k];
            bool last = i + 4 == inlen;
            if (c == '=' && last && (k == 3 || (k == 2 && in[i + 3] == '='))) {
                v[k] = 0;
                continue;
            }
            v[k] = s_b64val(c);
            if (v[k] < 0) {
                free(buf);
                return EGIDE_ERR_PROTO;
            }
        }
        uint32_t w =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        uint8_t bytes[3] = {(uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w};
        for (int k = 0; k < 3 && o < n; k++)
            buf[o++] = bytes[k];
        /* Non-canonical padding bits are refused: one encoding per value. */
        if (i + 4 == inlen && pad && (bytes[3 - pad] != 0)) {
            free(buf);
            return EGIDE_ERR_PROTO;
        }
    }
    *out = buf;
    *outlen = n;
    return EGIDE_OK;
}

/* Read at most max bytes from an open regular file (st is its fstat). */
static egide_rc s_read_fd(int fd, const struct stat *st, size_t max, uint8_t **out, size_t *len)
{
    if ((uint64_t)st->st_size > max)
        return EGIDE_ERR_LIMIT;
    size_t want = (size_t)st->st_size;
    uint8_t *buf = malloc(want + 1);
    if (!buf)
        return EGIDE_ERR_NOMEM;
    size_t got = 0;
    while (got < want) {
        ssize_t r = read(fd, buf + got, want - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (got != want) {
        egide_free_secret(buf, want + 1);
        return EGIDE_ERR_IO;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return EGIDE_OK;
}

egide_rc egide_file_read(const char *path, size_t max, uint8_t **out, size_t *len)
{
    if (!out || !len)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    *len = 0;
    if (!path)
        return EGIDE_ERR_INVALID;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return errno == ENOENT ? EGIDE_ERR_NOTFOUND : EGIDE_ERR_IO;
    struct stat st;
    egide_rc rc = EGIDE_ERR_IO;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
        rc = s_read_fd(fd, &st, max, out, len);
    close(fd);
    return rc;
}

/* Fsync the directory holding path, so a rename into it is durable. */
static egide_rc s_fsync_dir(const char *path)
{
    char dir[PATH_MAX];
    if (egide_strlcpy(dir, path, sizeof dir))
        return EGIDE_ERR_LIMIT;
    char *slash = strrchr(dir, '/');
    if (!slash)
        egide_strlcpy(dir, ".", sizeof dir);
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return EGIDE_ERR_IO;
    int r = fsync(dfd);
    close(dfd);
    return r == 0 ? EGIDE_OK : EGIDE_ERR_IO;
}

egide_rc egide_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
    if (!path || (len && !data))
        return EGIDE_ERR_INVALID;
    /* A random temporary name created exclusively, never followed: nobody
     * can plant a link or a file at a name we would write through. */
    uint8_t rnd[8];
    char rhex[17], tmp[PATH_MAX];
    egide_rc rc = egide_random(rnd, sizeof rnd);
    if (rc)
        return rc;
    egide_hex_encode(rnd, sizeof rnd, rhex);
    if (egide_snprintf(tmp, sizeof tmp, "%s.tmp-%s", path, rhex))
        return EGIDE_ERR_LIMIT;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
    if (fd < 0)
        return errno == ENOSPC ? EGIDE_ERR_FULL : EGIDE_ERR_IO;
    const uint8_t *p = data;
    size_t done = 0;
    int werr = 0;
    while (done < len) {
        ssize_t w = write(fd, p + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            werr = w < 0 ? errno : EIO;
            break;
        }
        done += (size_t)w;
    }
    if (done != len || fchmod(fd, (mode_t)mode) != 0 || fsync(fd) != 0) {
        if (!werr)
            werr = errno;
        close(fd);
        unlink(tmp);
        return werr == ENOSPC || werr == EDQUOT ? EGIDE_ERR_FULL : EGIDE_ERR_IO;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return EGIDE_ERR_IO;
    }
    return s_fsync_dir(path);
}

egide_rc egide_secret_open(const char *path, int *fd_out)
{
    if (!path || !fd_out)
        return EGIDE_ERR_INVALID;
    *fd_out = -1;
    /* Opened once, by name, without following a link; everything else is
     * checked on the descriptor that is then read, so the file checked is
     * the file read. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return EGIDE_ERR_NOTFOUND;
        return errno == ELOOP ? EGIDE_ERR_PERM : EGIDE_ERR_IO;
    }
    struct stat st;
    egide_rc rc = EGIDE_OK;
    if (fstat(fd, &st) != 0)
        rc = EGIDE_ERR_IO;
    else if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & (S_IRWXG | S_IRWXO)))
        rc = EGIDE_ERR_PERM;
    if (rc) {
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return EGIDE_OK;
}

egide_rc egide_file_check_secret(const char *path)
{
    int fd;
    egide_rc rc = egide_secret_open(path, &fd);
    if (!rc)
        close(fd);
    return rc;
}

egide_rc egide_secret_read(const char *path, size_t max, uint8_t **out, size_t *len)
{
    if (!out || !len)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    *len = 0;
    int fd;
    egide_rc rc = egide_secret_open(path, &fd);
    if (rc)
        return rc;
    struct stat st;
    rc = fstat(fd, &st) == 0 ? s_read_fd(fd, &st, max, out, len) : EGIDE_ERR_IO;
    close(fd);
    if (rc)
        return rc;
    while (*len && ((*out)[*len - 1] == '\n' || (*out)[*len - 1] == '\r'))
        (*out)[--*len] = '\0';
    return EGIDE_OK;
}

char *egide_sanitize(const char *s, size_t slen, char *out, size_t outsz)
{
    if (!outsz)
        return out;
    size_t o = 0;
    for (size_t i = 0; s && i < slen && s[i] && o + 1 < outsz; i++) {
        unsigned char c = (unsigned char)s[i];
        out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[o] = '\0';
    return out;
}

int64_t egide_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t egide_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

egide_rc egide_random(void *out, size_t n)
{
    if (n > INT_MAX)
        return EGIDE_ERR_INVALID;
    return RAND_bytes(out, (int)n) == 1 ? EGIDE_OK : EGIDE_ERR_CRYPTO;
}

egide_rc egide_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s || !*s || isspace((unsigned char)*s))
        return EGIDE_ERR_INVALID;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno || *end != '\0')
        return EGIDE_ERR_INVALID;
    if (v < min || v > max)
        return EGIDE_ERR_LIMIT;
    *out = (int64_t)v;
    return EGIDE_OK;
}

egide_rc egide_parse_bool(const char *s, bool *out)
{
    static const char *yes[] = {"true", "yes", "on", "1"};
    static const char *no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return EGIDE_OK;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return EGIDE_OK;
        }
    }
    return EGIDE_ERR_INVALID;
}
