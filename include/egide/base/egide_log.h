/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_log.h - logging for the daemons and the library.
 *
 * One line per event, to stderr (default) or syslog.  Never log referral
 * content, names, keys or tokens: log ids, types, hashes and reason codes.
 * Strings that come from peers must go through egide_sanitize() first;
 * egide_log() also replaces control characters in the final line, so a
 * forgotten sanitize cannot forge log lines.
 *
 * Under systemd's journal (a daemon whose stderr is the stream named by
 * $JOURNAL_STREAM, see systemd.exec(5)) a daemon hands each line to the
 * journal with structured fields instead (egide_log_set_journal(), wired by
 * egide/base/egide_journal.h): PRIORITY, MESSAGE, SYSLOG_IDENTIFIER,
 * EGIDE_NODE, and EGIDE_COMPONENT / EGIDE_MSG_ID / EGIDE_PEER / EGIDE_REASON
 * where the call site gives them (egide_log_kv()).  Field values are ids and
 * codes only, sanitized like the line.  Elsewhere (terminal, file, syslog)
 * the output is the text line, whatever fields a call gives.
 */
#ifndef EGIDE_LOG_H
#define EGIDE_LOG_H

#include <stdbool.h>
#include <sys/uio.h>
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

/* The structured fields of one line (journal only; the text line is the
 * same with or without them).  Every member may be NULL (field left out).
 * Ids and codes only: never referral content, names, keys or passwords. */
typedef struct egide_log_fields {
    const char *component; /* EGIDE_COMPONENT ("submit", "relay", "inbox", "store", ...);
                              NULL: the thread's, egide_log_set_component() */
    const char *msg_id;    /* EGIDE_MSG_ID: a message id, 32 hex digits */
    const char *peer;      /* EGIDE_PEER: the node id of the other side */
    const char *reason;    /* EGIDE_REASON: REASON_..., EGIDE_ERR_... */
} egide_log_fields;

/* egide_log() with structured fields f (may be NULL). */
void egide_log_kv(egide_log_level level, const egide_log_fields *f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The EGIDE_COMPONENT of this thread's lines that name none; component is a
 * string that outlives the thread (a literal), NULL for none. */
void egide_log_set_component(const char *component);
/* EGIDE_NODE of every line: this daemon's node id (copied; NULL clears). */
void egide_log_set_node(const char *node_id);

/* The most iovecs a journal line has (PRIORITY, MESSAGE, SYSLOG_IDENTIFIER,
 * EGIDE_NODE, EGIDE_COMPONENT, EGIDE_MSG_ID, EGIDE_PEER, EGIDE_REASON). */
#define EGIDE_LOG_JOURNAL_FIELDS 8
/* Journal writer: iov[i] is one "NAME=value" field (not NUL-terminated
 * within iov_len), n of them, as sd_journal_sendv() takes; returns >= 0 when
 * the line was sent, < 0 (a negative errno) when it was not: the line then
 * goes to stderr as text, so nothing is lost while journald is away. */
typedef int (*egide_log_journal_fn)(const struct iovec *iov, int n, void *arg);
/* Send lines to fn instead of stderr (not instead of syslog nor of a test
 * sink set by egide_log_set_sink()); NULL restores stderr. */
void egide_log_set_journal(egide_log_journal_fn fn, void *arg);
/* True when stderr is the journal's stream: $JOURNAL_STREAM is "dev:ino"
 * and equals stderr's fstat() device and inode (what systemd documents for
 * sd_journal_stream_fd users, systemd.exec(5)). */
bool egide_log_journal_stream(void);

#endif
