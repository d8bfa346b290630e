/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_deadline.h - the legal clocks of the message catalogue.
 *
 * A jurisdiction profile (INI file, deploy/profiles/fr-casf.ini,
 * deploy/profiles/nc-province-sud.ini) lists the deadlines: which message
 * types start each one, how long it runs (shorter when urgent, for a child
 * under 2, for a runaway…), which later message types close it, and its legal
 * source.  Values not checked against the primary texts are marked
 * "(to confirm)" in the profile: they are configuration, never constants.
 *
 * Two steps, both pure (the caller passes every time, tests use a fixed clock):
 *   1. egide_deadline_compute(): a message of type T received at R with facts
 *      F starts the deadlines {name, label, due_ms, source} of the profile;
 *   2. egide_deadline_evaluate(): given those deadlines and the later messages
 *      (msg_id, in_reply_to, type, time), each deadline is open, met, late
 *      (met after its due time) or overdue at now_ms.
 * A message closes a deadline when its type is one of the deadline's
 * closed_by types, it is not earlier than the deadline's start (or than the
 * starting message, when that is among the messages and earlier), and it
 * belongs to the same thread (following in_reply_to up to the first message,
 * both reach the same root) - or, for deadlines with "close = any" (the
 * yearly observatory export), any such message closes it.
 *
 * Profile file format (see the profiles for commented examples):
 *   [profile]            name, jurisdiction, term (what an IP is called)
 *   [deadline NAME]      label, source, on (types), closed_by (types),
 *                        due, due_urgent, due_immediate, due_under_2,
 *                        due_runaway (durations: "8 days", "72 hours",
 *                        "3 months", "1 years"; due may also be "requested"
 *                        = the date the sender set, or "date MM-DD +N" = that
 *                        day of the start's year + N), from (received |
 *                        ip_received | je_seized), from_fallback (another
 *                        deadline's due when the fact is missing), when
 *                        (no_parental_agreement), when_kind (codes of the
 *                        payload's main enum, e.g. "placement"), close
 *                        (thread | any), practice (true: not a legal term).
 * Calendar arithmetic is in UTC (see egide_date.h); a due date given as a
 * day ends at 23:59:59.999 UTC of that day.
 */
#ifndef EGIDE_DEADLINE_H
#define EGIDE_DEADLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "egide/domain/egide_payload.h"
#include "egide/base/egide_rc.h"

#define EGIDE_DEADLINE_MAX_DEFS 32 /* deadlines in one profile */
#define EGIDE_DEADLINE_PER_MSG  8  /* most deadlines one message can start */

typedef enum egide_deadline_state {
    EGIDE_DEADLINE_OPEN = 0,    /* not closed, due time not passed */
    EGIDE_DEADLINE_MET = 1,     /* closed on or before its due time */
    EGIDE_DEADLINE_OVERDUE = 2, /* not closed and now_ms is past its due time */
    EGIDE_DEADLINE_LATE = 3,    /* closed, but after its due time */
} egide_deadline_state;

/* One running deadline.  Plain data: the edge stores it as a row. */
typedef struct egide_deadline {
    char msg_id[72];  /* the starting message's id, as the caller writes it (hex) */
    char type[64];    /* the starting message's type */
    char name[48];    /* profile deadline name, e.g. "evaluation" */
    char label[192];  /* human label (UTF-8, the profile's language) */
    char source[128]; /* legal source, e.g. "L226-3, D226-2-3" */
    int64_t start_ms; /* when the clock started */
    int64_t due_ms;   /* when it is due */
    bool practice;    /* a practice target, not a legal term */
    egide_deadline_state state;
    int64_t closed_ms;  /* time of the closing message, 0 = not closed */
    char closed_by[72]; /* id of the closing message, "" = not closed */
} egide_deadline_t;

/* A later message, as evaluate() needs it (borrowed strings). */
typedef struct egide_deadline_msg {
    const char *msg_id;      /* required */
    const char *in_reply_to; /* NULL or "" for a first message */
    const char *type;        /* catalogue type */
    int64_t time_ms;         /* when it was sent/received */
} egide_deadline_msg_t;

typedef struct egide_deadline_profile egide_deadline_profile_t;

/* Load a profile file.  On error returns EGIDE_ERR_CONFIG (or _IO/_LIMIT for
 * the file) and writes "file:line: message" (or "file: message") into err. */
egide_rc egide_deadline_profile_load(const char *path, egide_deadline_profile_t **out, char *err,
                                     size_t errsz);
/* Same from text (name used in messages). */
egide_rc egide_deadline_profile_parse(const char *name, const char *text,
                                      egide_deadline_profile_t **out, char *err, size_t errsz);
/* NULL-safe, idempotent; sets *self_p to NULL. */
void egide_deadline_profile_destroy(egide_deadline_profile_t **self_p);

/* The profile's name ("fr-casf"), jurisdiction and term for an IP
 * ("information préoccupante", "information signalante").  Borrowed. */
const char *egide_deadline_profile_name(const egide_deadline_profile_t *p);
const char *egide_deadline_profile_jurisdiction(const egide_deadline_profile_t *p);
const char *egide_deadline_profile_term(const egide_deadline_profile_t *p);
/* Number of deadline definitions, and the name of the i-th (NULL out of range). */
size_t egide_deadline_profile_count(const egide_deadline_profile_t *p);
const char *egide_deadline_profile_def_name(const egide_deadline_profile_t *p, size_t i);

/* The deadlines a message starts.
 *   type         catalogue type of the message
 *   msg_id       its id as text (copied into each deadline; may be NULL = "")
 *   received_ms  when it was received (the clock's default start)
 *   facts        from egide_payload_from_json()/check(); NULL = none known
 *   out/max      room for the results; *n set to the number written
 * Returns EGIDE_OK (also when none apply, *n = 0), EGIDE_ERR_LIMIT when more
 * than max would be written, EGIDE_ERR_INVALID on NULL arguments. */
egide_rc egide_deadline_compute(const egide_deadline_profile_t *p, const char *type,
                                const char *msg_id, int64_t received_ms,
                                const egide_payload_facts_t *facts, egide_deadline_t *out,
                                size_t max, size_t *n);

/* Set state/closed_ms/closed_by of each of d[0..n) from the later messages
 * and now_ms (see the header comment).  A deadline whose name is not in the
 * profile keeps its closure, if any, and is only checked against now_ms.
 * Thread walks are bounded (64 hops) so cycles in in_reply_to are harmless.
 * Returns EGIDE_ERR_INVALID on NULL arguments. */
egide_rc egide_deadline_evaluate(const egide_deadline_profile_t *p, egide_deadline_t *d, size_t n,
                                 const egide_deadline_msg_t *msgs, size_t nmsgs, int64_t now_ms);

/* "open", "met", "overdue", "late" ("?" out of range).  Static. */
const char *egide_deadline_state_name(egide_deadline_state s);
/* The state for a name above; EGIDE_ERR_INVALID when unknown. */
egide_rc egide_deadline_state_parse(const char *s, egide_deadline_state *out);

#endif
