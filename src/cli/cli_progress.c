/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cli_progress.c - the progress line of the `egide` commands that can run
 * long (audit export and verify, backup, directory build), shared so that
 * each draws, rate-limits and erases it the same way (see cli.h).  It is
 * drawn only when stderr is a terminal: stdout, exit statuses and
 * redirected stderr are exactly what they are without it.
 */
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "egide/base/egide_util.h"

/* The line on screen now, so that an error line can erase it first. */
static cli_progress_t *s_shown;

void cli_progress_start_on(cli_progress_t *p, FILE *out, const char *label, const char *unit)
{
    *p = (cli_progress_t){.out = out,
                          .label = label,
                          .unit = unit,
                          .now_ms = egide_mono_ms,
                          .last_ms = 0,
                          .width = 0,
                          .draws = 0};
}

void cli_progress_start(cli_progress_t *p, const char *label, const char *unit)
{
    cli_progress_start_on(p, isatty(STDERR_FILENO) ? stderr : NULL, label, unit);
}

void cli_progress_update(cli_progress_t *p, uint64_t done, uint64_t total)
{
    if (!p || !p->out)
        return;
    int64_t now = p->now_ms();
    if (p->draws && now - p->last_ms < CLI_PROGRESS_EVERY_MS && now >= p->last_ms)
        return;
    char line[256];
    int n;
    if (total)
        n = snprintf(line, sizeof line, "egide %s: %llu of %llu %s (%d%%)", p->label,
                     (unsigned long long)done, (unsigned long long)total, p->unit,
                     (int)(done >= total ? 100 : (done * 100) / total));
    else
        n = snprintf(line, sizeof line, "egide %s: %llu %s", p->label, (unsigned long long)done,
                     p->unit);
    if (n < 0)
        return;
    size_t len = strlen(line);
    /* Pad over a longer previous line instead of relying on a terminal's
     * erase sequence. */
    (void)fprintf(p->out, "\r%s%*s", line, p->width > len ? (int)(p->width - len) : 0, "");
    (void)fflush(p->out);
    p->width = len > p->width ? len : p->width;
    p->last_ms = now;
    p->draws++;
    s_shown = p;
}

void cli_progress_cb(void *arg, uint64_t done, uint64_t total)
{
    cli_progress_update(arg, done, total);
}

void cli_progress_end(cli_progress_t *p)
{
    if (!p || !p->out || !p->width)
        return;
    (void)fprintf(p->out, "\r%*s\r", (int)p->width, "");
    (void)fflush(p->out);
    p->width = 0;
    if (s_shown == p)
        s_shown = NULL;
}

void cli_progress_clear(void)
{
    cli_progress_end(s_shown);
}
