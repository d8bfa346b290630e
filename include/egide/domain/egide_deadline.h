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
 * Pure functions (the caller passes every time, tests use a fixed clock):
 * egide_deadline_compute() says which deadlines a message of type T
 * received at R with facts F starts ({name, label, due_ms, source, who must
 * act}), egide_deadline_effect() whether a type closes or releases a
 * definition.  Keeping them is the edge's job: it stores each as an
 * obligation row, opened and closed in the transaction of the message that
 * starts or closes it (src/edge/edge_oblig.c), never re-evaluated on read.
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
 *                        (old spelling of scope: thread = case, any = year),
 *                        practice (true: not a legal term),
 *                        actor (recipient | sender: which party of the
 *                        starting message must act; default recipient),
 *                        actor_roles (the directory roles of that party,
 *                        e.g. "crip"; absent = any), actor_roles.<type>
 *                        (the same for one starting type listed in on),
 *                        released_by (types that, sent by the node that
 *                        must act, release its own obligation), scope
 *                        (case | year: one per case, or one per calendar
 *                        year of its start, closed only by a closing
 *                        message whose payload names that year).
 * closed_by and released_by may name types the catalogue does not know yet
 * (any "family.name" of [a-z0-9_.]); on must name catalogue types.
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
    EGIDE_DEADLINE_OPEN = 0,     /* not closed, due time not passed */
    EGIDE_DEADLINE_MET = 1,      /* closed on or before its due time */
    EGIDE_DEADLINE_OVERDUE = 2,  /* not closed and now_ms is past its due time */
    EGIDE_DEADLINE_LATE = 3,     /* closed, but after its due time */
    EGIDE_DEADLINE_RELEASED = 4, /* released: the node that had to act sent a released_by type */
} egide_deadline_state;

/* Which party of the starting message must act. */
typedef enum egide_deadline_actor {
    EGIDE_DEADLINE_ACTOR_RECIPIENT = 0, /* a recipient with one of actor_roles */
    EGIDE_DEADLINE_ACTOR_SENDER = 1,    /* the sender (e.g. the parquet after its OPP) */
} egide_deadline_actor;

/* One deadline a message starts (egide_deadline_compute).  Plain data. */
typedef struct egide_deadline {
    char msg_id[72];            /* the starting message's id, as the caller writes it (hex) */
    char type[64];              /* the starting message's type */
    char name[48];              /* profile deadline name, e.g. "evaluation" */
    char label[192];            /* human label (UTF-8, the profile's language) */
    char source[128];           /* legal source, e.g. "L226-3, D226-2-3" */
    int64_t start_ms;           /* when the clock started */
    int64_t due_ms;             /* when it is due */
    bool practice;              /* a practice target, not a legal term */
    egide_deadline_state state; /* EGIDE_DEADLINE_OPEN from compute */
    egide_deadline_actor actor; /* who must act */
    char actor_roles[96];       /* their roles for this starting type, space-separated; "" = any */
    bool yearly;                /* scope = year: one per calendar year of start_ms */
} egide_deadline_t;

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

/* What a message of `type` does to the i-th definition: a mask of
 * EGIDE_DEADLINE_CLOSES (type is in closed_by) and EGIDE_DEADLINE_RELEASES
 * (in released_by); 0 for NULL arguments or i out of range. */
#define EGIDE_DEADLINE_CLOSES   1u
#define EGIDE_DEADLINE_RELEASES 2u
unsigned egide_deadline_effect(const egide_deadline_profile_t *p, size_t i, const char *type);
/* true when the i-th definition has scope = year. */
bool egide_deadline_def_yearly(const egide_deadline_profile_t *p, size_t i);
/* true when role is one of the space-separated roles ("" = any role
 * matches); false for a NULL or empty role. */
bool egide_deadline_role_in(const char *roles, const char *role);

/* "open", "met", "overdue", "late", "released" ("?" out of range).  Static. */
const char *egide_deadline_state_name(egide_deadline_state s);
/* The state for a name above; EGIDE_ERR_INVALID when unknown. */
egide_rc egide_deadline_state_parse(const char *s, egide_deadline_state *out);

#endif
