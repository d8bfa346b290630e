/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_token.h - bearer tokens kept in secret files (API tokens).
 */
#ifndef EGIDE_TOKEN_H
#define EGIDE_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include "egide/base/egide_rc.h"

/* Token files: at least this many characters, at most EGIDE_TOKEN_MAX. */
#define EGIDE_TOKEN_MIN 32u
#define EGIDE_TOKEN_MAX 1024u

/* A usable token: printable ASCII without spaces, of a sane length. */
bool egide_token_valid(const char *t, size_t len);

/* Load a token from path: the file must not be readable or writable by group
 * or others (EGIDE_ERR_PERM otherwise, via egide_secret_read), one line, at
 * least EGIDE_TOKEN_MIN printable characters with no spaces
 * (EGIDE_ERR_CONFIG otherwise).  *token is a new NUL-terminated string; free
 * it with egide_token_free().  EGIDE_ERR_NOTFOUND if the file does not
 * exist, EGIDE_ERR_IO if it cannot be read. */
egide_rc egide_token_load(const char *path, char **token);

/* Write a fresh token (256 random bits as 64 lower-case hex characters and a
 * newline) to path with mode 0600, atomically.  Fails with EGIDE_ERR_EXISTS
 * if path already exists, so a running deployment's token is never replaced
 * by accident. */
egide_rc egide_token_generate(const char *path);

/* Wipe and free a token from egide_token_load(); sets *token = NULL.
 * NULL-safe. */
void egide_token_free(char **token);

#endif
