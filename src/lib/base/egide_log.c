/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_log.c - leveled logging to stderr or syslog.  Lines are formatted
 * into a bounded buffer, control characters are replaced, and the line is
 * written with one call so concurrent lines do not interleave.
 */
#include "egide/base/egide_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "egide/base/egide_util.h"

static struct {
    char ident[32];
    bool use_syslog;
    egide_log_level level;
    egide_log_sink_fn sink;
    void *sink_arg;
} s_log = {"egide", false, EGIDE_LOG_NOTICE, NULL, NULL};

static const char *s_names[] = {"error", "warning", "notice", "info", "debug"};

void egide_log_init(const char *ident, bool use_syslog, egide_log_level level)
{
    egide_strlcpy(s_log.ident, ident ? ident : "egide", sizeof s_log.ident);
    s_log.use_syslog = use_syslog;
    s_log.level = level;
    if (use_syslog)
        openlog(s_log.ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void egide_log_set_level(egide_log_level level)
{
    s_log.level = level;
}
egide_log_level egide_log_get_level(void)
{
    return s_log.level;
}

egide_rc egide_log_parse_level(const char *s, egide_log_level *out)
{
    for (int i = 0; i <= EGIDE_LOG_DEBUG; i++) {
        if (strcasecmp(s, s_names[i]) == 0) {
            *out = (egide_log_level)i;
            return EGIDE_OK;
        }
    }
    return EGIDE_ERR_INVALID;
}

void egide_log_set_sink(egide_log_sink_fn fn, void *arg)
{
    s_log.sink = fn;
    s_log.sink_arg = arg;
}

static void s_emit(egide_log_level level, const char *msg)
{
    char line[1024];
    egide_sanitize(msg, strlen(msg), line, sizeof line);
    if (s_log.sink) {
        s_log.sink(level, line, s_log.sink_arg);
        return;
    }
    if (s_log.use_syslog) {
        static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG};
        syslog(prio[level], "%s", line);
        return;
    }
    char out[1200];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(out, sizeof out, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%ld] %s: %s\n",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, s_log.ident, (long)getpid(), s_names[level], line);
    if (n > 0) {
        size_t len = (size_t)n < sizeof out ? (size_t)n : sizeof out - 1;
        ssize_t w = write(STDERR_FILENO, out, len);
        (void)w;
    }
}

void egide_log(egide_log_level level, const char *fmt, ...)
{
    if (level > s_log.level || (int)level < 0)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s_emit(level, msg);
}

void egide_log_warn(const char *fmt, ...)
{
    int saved = errno;
    if (EGIDE_LOG_WARNING > s_log.level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof msg)
        snprintf(msg + n, sizeof msg - (size_t)n, ": %s", strerror(saved));
    s_emit(EGIDE_LOG_WARNING, msg);
}
