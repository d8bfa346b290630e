/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_token.c - bearer tokens in secret files: load (permission-checked),
 * generate (O_EXCL, 0600), wipe.  Shared by the daemons' HTTP servers and
 * the command line, so it sits in the base layer, below net.
 */
#include "egide/base/egide_token.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "egide/base/egide_util.h"

/* A usable token: printable ASCII without spaces, of a sane length. */
bool egide_token_valid(const char *t, size_t len)
{
    if (len < EGIDE_TOKEN_MIN || len > EGIDE_TOKEN_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c <= 0x20 || c >= 0x7f)
            return false;
    }
    return true;
}

egide_rc egide_token_load(const char *path, char **token)
{
    if (!path || !token)
        return EGIDE_ERR_INVALID;
    *token = NULL;
    uint8_t *data = NULL;
    size_t len = 0;
    egide_rc rc = egide_secret_read(path, EGIDE_TOKEN_MAX + 2, &data, &len);
    if (rc == EGIDE_ERR_LIMIT)
        return EGIDE_ERR_CONFIG;
    if (rc)
        return rc;
    if (strlen((const char *)data) != len || !egide_token_valid((const char *)data, len)) {
        egide_free_secret(data, len);
        return EGIDE_ERR_CONFIG;
    }
    *token = (char *)data;
    return EGIDE_OK;
}

void egide_token_free(char **token)
{
    if (!token || !*token)
        return;
    egide_free_secret(*token, strlen(*token));
    *token = NULL;
}

egide_rc egide_token_generate(const char *path)
{
    if (!path)
        return EGIDE_ERR_INVALID;
    uint8_t raw[32];
    char line[2 * sizeof raw + 2];
    egide_rc rc = egide_random(raw, sizeof raw);
    if (rc)
        return rc;
    egide_hex_encode(raw, sizeof raw, line);
    egide_wipe(raw, sizeof raw);
    line[2 * sizeof raw] = '\n';
    line[2 * sizeof raw + 1] = '\0';
    /* O_EXCL: never replace a token in use; the mode is set at creation so
     * the token is never readable by others, not even for an instant. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = errno == EEXIST ? EGIDE_ERR_EXISTS : EGIDE_ERR_IO;
        egide_wipe(line, sizeof line);
        return rc;
    }
    size_t want = 2 * sizeof raw + 1, done = 0;
    while (done < want) {
        ssize_t w = write(fd, line + done, want - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    egide_wipe(line, sizeof line);
    if (done != want || fchmod(fd, 0600) != 0 || fsync(fd) != 0) {
        close(fd);
        unlink(path);
        return EGIDE_ERR_IO;
    }
    if (close(fd) != 0) {
        unlink(path);
        return EGIDE_ERR_IO;
    }
    return EGIDE_OK;
}
