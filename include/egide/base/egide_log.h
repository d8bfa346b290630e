/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_log.h - logging for the daemons and the library.
 *
 * One line per event, to stderr (default) or syslog.  Never log referral
 * content, names, keys or tokens: log ids, types, hashes and reason codes.
 * Strings that come from peers must go through egide_sanitize() first;
 * egide_log() also replaces control characters in the final line, so a
 * forgotten sanitize cannot forge log lines.
 */
#ifndef EGIDE_LOG_H
#define EGIDE_LOG_H

#include <stdbool.h>
#include "egide/base/egide_rc.h"

typedef enum egide_log_level {
    EGIDE_LOG_ERROR = 0,
    EGIDE_LOG_WARNING = 1,
    EGIDE_LOG_NOTICE = 2,
    EGIDE_LOG_INFO = 3,
    EGIDE_LOG_DEBUG = 4,
} egide_log_level;

/* ident: program name; use_syslog: log to syslog(3) instead of stderr. */
void egide_log_init(const char *ident, bool use_syslog, egide_log_level level);
void egide_log_set_level(egide_log_level level);
egide_log_level egide_log_get_level(void);
/* "error", "warning", "notice", "info", "debug" -> level. */
egide_rc egide_log_parse_level(const char *s, egide_log_level *out);

void egide_log(egide_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like egide_log(EGIDE_LOG_WARNING, ...) with ": strerror(errno)" appended. */
void egide_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Redirect output to a callback (tests); NULL restores the default. */
typedef void (*egide_log_sink_fn)(egide_log_level level, const char *line, void *arg);
void egide_log_set_sink(egide_log_sink_fn fn, void *arg);

#endif
