/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* egide_metrics.c - Prometheus text exposition helpers (see header). */
#include "egide/net/egide_metrics.h"

#include <stddef.h>
#include <stdio.h>

void egide_metrics_family(egide_buf_t *b, const char *name, const char *type, const char *help)
{
    egide_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample: name, an optional label, the value already formatted. */
static void s_sample(egide_buf_t *b, const char *name, const char *label, const char *value,
                     const char *v)
{
    if (!label) {
        egide_buf_printf(b, "%s %s\n", name, v);
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
    egide_buf_printf(b, "%s{%s=\"%s\"} %s\n", name, label, esc, v);
}

void egide_metrics_value(egide_buf_t *b, const char *name, const char *label, const char *value,
                         uint64_t v)
{
    char num[24];
    snprintf(num, sizeof num, "%llu", (unsigned long long)v);
    s_sample(b, name, label, value, num);
}

void egide_metrics_value_ms(egide_buf_t *b, const char *name, const char *label, const char *value,
                            int64_t ms)
{
    /* Milliseconds as seconds, exactly: an integer part and three decimals. */
    char num[32];
    uint64_t a = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
    snprintf(num, sizeof num, "%s%llu.%03u", ms < 0 ? "-" : "", (unsigned long long)(a / 1000),
             (unsigned)(a % 1000));
    s_sample(b, name, label, value, num);
}

void egide_metrics_single_ms(egide_buf_t *b, const char *name, const char *type, const char *help,
                             int64_t ms)
{
    egide_metrics_family(b, name, type, help);
    egide_metrics_value_ms(b, name, NULL, NULL, ms);
}

void egide_metrics_single(egide_buf_t *b, const char *name, const char *type, const char *help,
                          uint64_t v)
{
    egide_metrics_family(b, name, type, help);
    egide_metrics_value(b, name, NULL, NULL, v);
}
