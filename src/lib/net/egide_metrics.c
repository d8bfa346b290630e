/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* egide_metrics.c - Prometheus text exposition helpers (see header). */
#include "egide/net/egide_metrics.h"

#include <stddef.h>

void egide_metrics_family(egide_buf_t *b, const char *name, const char *type, const char *help)
{
    egide_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void egide_metrics_value(egide_buf_t *b, const char *name, const char *label, const char *value,
                         uint64_t v)
{
    if (!label) {
        egide_buf_printf(b, "%s %llu\n", name, (unsigned long long)v);
        return;
    }
    /* Escape as the format requires: backslash, double quote, newline. */
    char esc[256];
    size_t o = 0;
    for (const char *p = value ? value : ""; *p && o + 2 < sizeof esc; p++) {
        if (*p == '\\' || *p == '"' || *p == '\n') {
            esc[o++] = '\\';
            esc[o++] = *p == '\n' ? 'n' : *p;
        } else {
            esc[o++] = *p;
        }
    }
    esc[o] = '\0';
    egide_buf_printf(b, "%s{%s=\"%s\"} %llu\n", name, label, esc, (unsigned long long)v);
}

void egide_metrics_single(egide_buf_t *b, const char *name, const char *type, const char *help,
                          uint64_t v)
{
    egide_metrics_family(b, name, type, help);
    egide_metrics_value(b, name, NULL, NULL, v);
}
