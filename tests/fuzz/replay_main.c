/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * replay_main.c - runs a libFuzzer target over every file of a corpus
 * directory, so the corpus is an ordinary test in every build (including the
 * sanitizer one).  Exits non-zero if the directory is empty or missing, so a
 * lost corpus cannot pass silently.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egide/base/egide_util.h"
#include "egide/base/egide_limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    DIR *d = opendir(argv[1]);
    if (!d) {
        fprintf(stderr, "%s: cannot open corpus\n", argv[1]);
        return 1;
    }
    int n = 0, failed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        if (egide_snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name))
            continue;
        uint8_t *buf;
        size_t len;
        if (egide_file_read(path, EGIDE_MAX_FRAME, &buf, &len) != EGIDE_OK) {
            fprintf(stderr, "%s: unreadable\n", path);
            failed++;
            continue;
        }
        LLVMFuzzerTestOneInput(buf, len);
        free(buf);
        n++;
    }
    closedir(d);
    printf("%d passed, %d failed\n", n, failed);
    return (n > 0 && failed == 0) ? 0 : 1;
}
