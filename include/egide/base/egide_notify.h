/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_notify.h - tells the service manager what a daemon is doing
 * (systemd's Type=notify protocol): "READY=1" once it serves, "RELOADING=1"
 * then "READY=1" around a reload, "STOPPING=1" when it begins to stop.
 *
 * Header-only so that only the daemons (egide_brokerd, egide_edged, built
 * with EGIDE_HAVE_SYSTEMD and libsystemd) link libsystemd, and the library
 * layers and the command do not.  Without $NOTIFY_SOCKET (not started by
 * systemd) sd_notify() does nothing; without EGIDE_HAVE_SYSTEMD this is a
 * no-op.  A failure to notify is not an error for the daemon: systemd
 * times the start out on its own and says so.
 */
#ifndef EGIDE_NOTIFY_H
#define EGIDE_NOTIFY_H

#ifdef EGIDE_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

/* Send state (e.g. "READY=1") to the service manager, if there is one. */
static inline void egide_notify(const char *state)
{
#ifdef EGIDE_HAVE_SYSTEMD
    (void)sd_notify(0, state);
#else
    (void)state;
#endif
}

#endif
