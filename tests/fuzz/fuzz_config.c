/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* fuzz_config.c - the INI configuration loader against the broker-like schema: any input gives OK
 * or EGIDE_ERR_CONFIG with a "file:" message, never a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "egide/base/egide_config.h"

static const char *const s_levels[] = {"error", "info", NULL};
static const egide_config_key_t s_schema[] = {
    {"broker", "node_id", EGIDE_CFG_NODE_ID, true, 0, 0, NULL, NULL, ""},
    {"broker", "endpoint", EGIDE_CFG_ENDPOINT, false, 0, 0, "tcp://127.0.0.1:1", NULL, ""},
    {"broker", "batch", EGIDE_CFG_INT, false, 1, 4096, "1", NULL, ""},
    {"broker", "flag", EGIDE_CFG_BOOL, false, 0, 0, "no", NULL, ""},
    {"broker", "path", EGIDE_CFG_PATH, false, 0, 0, NULL, NULL, ""},
    {"log", "level", EGIDE_CFG_ENUM, false, 0, 0, "info", s_levels, ""},
    EGIDE_CONFIG_END,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char err[512];
    egide_config_t *c = NULL;
    egide_rc rc = egide_config_load_string("fuzz.ini", text, s_schema, &c, err, sizeof err);
    if (rc == EGIDE_OK) {
        (void)egide_config_str(c, "broker", "node_id");
        (void)egide_config_int(c, "broker", "batch");
        free(egide_config_path(c, "broker", "path"));
    } else if (strncmp(err, "fuzz.ini", 8) != 0) {
        abort(); /* every refusal names the file */
    }
    egide_config_destroy(&c);
    free(text);
    return 0;
}
