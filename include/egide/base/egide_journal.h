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
 */
#ifndef EGIDE_JOURNAL_H
#define EGIDE_JOURNAL_H

#include <stdbool.h>

#include "egide/base/egide_log.h"

#ifdef EGIDE_HAVE_SYSTEMD
#include <systemd/sd-journal.h>

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
    if (egide_log_journal_stream()) {
        egide_log_set_journal(egide_journal_sendv_, NULL);
        return true;
    }
#endif
    return false;
}

#endif
