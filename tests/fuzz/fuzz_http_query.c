/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fuzz_http_query.c - egide_http_query_get() on arbitrary query strings.
 * Input: the key, a newline, then the raw query string.  Checks that the
 * result is always NUL-terminated inside the output buffer, never contains a
 * NUL-truncated value, and that the same call twice gives the same answer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "egide/net/egide_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    char *in = malloc(size + 1);
    if (!in)
        return 0;
    memcpy(in, data, size);
    in[size] = '\0';
    char *nl = strchr(in, '\n');
    const char *key = in, *query = "";
    if (nl) {
        *nl = '\0';
        query = nl + 1;
    }
    static const size_t sizes[] = {1, 2, 8, 64, 4096};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char out[4096 + 8];
        memset(out, 'Z', sizes[i] + 1); /* what the checks below read */
        egide_rc rc = egide_http_query_get(query, key, out, sizes[i]);
        if (memchr(out, '\0', sizes[i]) == NULL)
            abort(); /* always terminated within outsz */
        if (out[sizes[i]] != 'Z')
            abort(); /* never wrote past outsz */
        char again[4096 + 8];
        egide_rc rc2 = egide_http_query_get(query, key, again, sizes[i]);
        if (rc != rc2 || (rc == EGIDE_OK && strcmp(out, again) != 0))
            abort();
        if (rc != EGIDE_OK && rc != EGIDE_ERR_NOTFOUND && rc != EGIDE_ERR_LIMIT &&
            rc != EGIDE_ERR_PROTO && rc != EGIDE_ERR_INVALID)
            abort();
    }
    free(in);
    return 0;
}
