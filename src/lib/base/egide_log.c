/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_log.c - leveled logging to stderr or syslog.  Lines are formatted
 * into a bounded buffer, control characters are replaced, and the line is
 * written with one call so concurrent lines do not interleave.  Under the
 * journal (egide_log_set_journal()) the same line goes out as structured
 * fields in one sd_journal_sendv()-style call instead.
 */
#include "egide/base/egide_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
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
    egide_log_journal_fn journal; /* NULL: text on stderr */
    void *journal_arg;
    char node[128]; /* EGIDE_NODE, "" for none */
} s_log = {"egide", false, EGIDE_LOG_NOTICE, NULL, NULL, NULL, NULL, ""};

/* The EGIDE_COMPONENT of this thread's lines that name none. */
static _Thread_local const char *s_component;

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

void egide_log_set_journal(egide_log_journal_fn fn, void *arg)
{
    s_log.journal = fn;
    s_log.journal_arg = arg;
}

void egide_log_set_component(const char *component)
{
    s_component = component;
}

void egide_log_set_node(const char *node_id)
{
    egide_strlcpy(s_log.node, node_id ? node_id : "", sizeof s_log.node);
}

bool egide_log_journal_stream(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    if (!js || !*js)
        return false;
    char *end = NULL;
    errno = 0;
    unsigned long long dev = strtoull(js, &end, 10);
    if (errno || end == js || *end != ':')
        return false;
    const char *p = end + 1;
    unsigned long long ino = strtoull(p, &end, 10);
    if (errno || end == p || *end != '\0')
        return false;
    struct stat st;
    if (fstat(STDERR_FILENO, &st) != 0)
        return false;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static const int s_prio[] = {LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG};

/* One "NAME=value" field into buf (value sanitized, bounded); false when
 * there is no value. */
static bool s_field(struct iovec *iov, char *buf, size_t cap, const char *name, const char *value)
{
    if (!value || !*value)
        return false;
    int k = snprintf(buf, cap, "%s=", name);
    if (k < 0 || (size_t)k + 1 >= cap)
        return false;
    egide_sanitize(value, strlen(value), buf + k, cap - (size_t)k);
    iov->iov_base = buf;
    iov->iov_len = strlen(buf);
    return true;
}

/* The line as journal fields; false when the journal did not take it. */
static bool s_journal(egide_log_level level, const char *line, const egide_log_fields *f)
{
    char prio[16], msg[1100], ident[64], node[160], comp[64], mid[96], peer[160], reason[96];
    struct iovec iov[EGIDE_LOG_JOURNAL_FIELDS];
    int n = 0;
    snprintf(prio, sizeof prio, "PRIORITY=%d", s_prio[level]);
    iov[n++] = (struct iovec){prio, strlen(prio)};
    snprintf(msg, sizeof msg, "MESSAGE=%s", line); /* line is sanitized already */
    iov[n++] = (struct iovec){msg, strlen(msg)};
    n += s_field(&iov[n], ident, sizeof ident, "SYSLOG_IDENTIFIER", s_log.ident);
    n += s_field(&iov[n], node, sizeof node, "EGIDE_NODE", s_log.node);
    n += s_field(&iov[n], comp, sizeof comp, "EGIDE_COMPONENT",
                 f && f->component ? f->component : s_component);
    if (f) {
        n += s_field(&iov[n], mid, sizeof mid, "EGIDE_MSG_ID", f->msg_id);
        n += s_field(&iov[n], peer, sizeof peer, "EGIDE_PEER", f->peer);
        n += s_field(&iov[n], reason, sizeof reason, "EGIDE_REASON", f->reason);
    }
    return s_log.journal(iov, n, s_log.journal_arg) >= 0;
}

static void s_emit(egide_log_level level, const egide_log_fields *f, const char *msg)
{
    char line[1024];
    egide_sanitize(msg, strlen(msg), line, sizeof line);
    if (s_log.sink) {
        s_log.sink(level, line, s_log.sink_arg);
        return;
    }
    if (s_log.use_syslog) {
        syslog(s_prio[level], "%s", line);
        return;
    }
    if (s_log.journal && s_journal(level, line, f))
        return;
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
    s_emit(level, NULL, msg);
}

void egide_log_kv(egide_log_level level, const egide_log_fields *f, const char *fmt, ...)
{
    if (level > s_log.level || (int)level < 0)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s_emit(level, f, msg);
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
    s_emit(EGIDE_LOG_WARNING, NULL, msg);
}
