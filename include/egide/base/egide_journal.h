/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_journal.h - a daemon's log lines to systemd's journal with
 * structured fields (egide_log.h) when its stderr is the journal's stream.
 *
 * Header-only, like egide_notify.h, so that only the daemons (built with
 * EGIDE_HAVE_SYSTEMD and libsystemd) link libsystemd; the library layers
 * format the fields and do not.  Started from a terminal, with stderr
 * redirected to a file, or with [log] syslog, the text lines stay as they
 * are.  Without EGIDE_HAVE_SYSTEMD only the node id is recorded.
 *
 * $JOURNAL_STREAM matching stderr but no journal socket (journald stopped,
 * or a container without it): sd_journal_sendv() would drop every line
 * silently (it returns 0 on ENOENT), so the text lines stay on stderr.
 */
#ifndef EGIDE_JOURNAL_H
#define EGIDE_JOURNAL_H

#include <stdbool.h>
#include <unistd.h>

#include "egide/base/egide_log.h"

#ifdef EGIDE_HAVE_SYSTEMD
/* No CODE_FILE/CODE_LINE/CODE_FUNC: they would all name this header. */
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>

/* journald's native socket (systemd's journal-send.c, not configurable). */
#define EGIDE_JOURNAL_SOCKET "/run/systemd/journal/socket"

static inline int egide_journal_sendv_(const struct iovec *iov, int n, void *arg)
{
    (void)arg;
    return sd_journal_sendv(iov, n);
}
#endif

/* Name this daemon's node (EGIDE_NODE) and, when stderr is the journal's
 * stream, send the log lines to the journal; true when it does. */
static inline bool egide_journal_attach(const char *node_id)
{
    egide_log_set_node(node_id);
#ifdef EGIDE_HAVE_SYSTEMD
    if (egide_log_journal_stream() && access(EGIDE_JOURNAL_SOCKET, W_OK) == 0) {
        egide_log_set_journal(egide_journal_sendv_, NULL);
        return true;
    }
#endif
    return false;
}

#endif
