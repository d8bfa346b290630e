/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_observatory.h - the yearly pseudonymised export of measure events
 * to the observatories (ODPE, ONPE/DREES; décret 2016-1966).
 *
 * Input: JSON lines, one catalogue message per line:
 *   {"type": "court.decision", "received": "2026-10-15T11:00:00+02:00",
 *    "payload": { ...the message's JSON payload... },
 *    "previous": {"child": 0, "first_name": "Zoe", "birth_month": "2016-05",
 *                 "mother_birth_name": "Dupont"}}
 * "received" is optional (default: the payload's own time); "previous"
 * is optional and gives, for child number `child` of the payload, the
 * identity values used in an earlier export, so the observatory can link
 * the corrected pseudonym to the one it already holds ("previous_pseudonym").
 * Blank lines and lines starting with '#' are skipped.  Every payload is
 * validated like any message; one invalid line fails the whole export.
 *
 * Output: the JSON of an observatory.export payload (proto ObservatoryExport):
 * department, year, algorithm, generated_at and one event per child per
 * measure message of that year: pseudonym, previous_pseudonym, event_type,
 * event_month (YYYY-MM), department, detail (a catalogue code).  No name,
 * address, full date or free text is ever copied; the output is itself
 * validated against the observatory.export schema before it is returned.
 *
 * Messages that make events: ip.transmission / snated.transmission
 * (ip_received, detail = sender type), parquet.saisine /
 * parquet.direct_signalement (parquet_referral), evaluation.report
 * (evaluation_concluded, detail = conclusion), ase.emergency_reception
 * (emergency_reception, detail "runaway" if so), court.opp (opp),
 * court.decision (judicial_decision, detail = decision),
 * department.transfer (transfer_out, detail = destination department),
 * ase.incident (incident, detail = kind).  Other types are counted and
 * skipped.  With opts.department given, a department.transfer whose
 * from_department is another department is skipped and counted
 * (other_department): it is that department's transfer_out, and a transfer
 * into this one (what a CRIP's inbox holds) is no event of this export.  A child whose mother's
 * birth name is not given (child.mother_birth_surname, or exactly one adult with link "mother" and
 * a birth_surname) is skipped and counted: a married name would give a
 * different pseudonym, so none is guessed.
 */
#ifndef EGIDE_OBSERVATORY_H
#define EGIDE_OBSERVATORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "egide/domain/egide_pseudo.h"
#include "egide/base/egide_rc.h"

typedef struct egide_olinpe_opts {
    int year;           /* the year N exported (events dated in N) */
    const uint8_t *key; /* pseudonymisation key (borrowed) */
    size_t key_len;
    const egide_pseudo_alg_t *alg; /* NULL = default */
    const char *context;           /* key separation label; NULL = "olinpe" */
    const char *department;        /* export-level department; NULL = the first event's */
    int64_t now_ms;                /* generated_at, and the validation clock */
} egide_olinpe_opts_t;

typedef struct egide_olinpe_stats {
    size_t lines;            /* messages read */
    size_t events;           /* events written */
    size_t other_year;       /* messages dated outside the year */
    size_t not_a_measure;    /* messages of types that make no event */
    size_t no_mother_name;   /* children skipped: no mother's birth name */
    size_t bad_identity;     /* children skipped: a name that does not normalise */
    size_t other_department; /* transfers from another department (see above) */
} egide_olinpe_stats_t;

/* Build the export from JSON lines (see above).
 *   in/len    the JSON-lines text (at most EGIDE_MAX_JSON_BODY * 4 bytes)
 *   out_json  on EGIDE_OK: pretty JSON of the observatory.export payload
 *             (caller frees)
 *   stats     counters (may be NULL)
 *   errors    on EGIDE_ERR_VALIDATION: "line N: path: message" lines
 *             (caller frees; may be NULL)
 * Returns EGIDE_ERR_INVALID for bad options (year, key length),
 * EGIDE_ERR_VALIDATION, EGIDE_ERR_LIMIT, EGIDE_ERR_NOMEM, EGIDE_ERR_CRYPTO. */
egide_rc egide_observatory_export(const char *in, size_t len, const egide_olinpe_opts_t *opts,
                                  char **out_json, egide_olinpe_stats_t *stats, char **errors);

/* The same export built one message at a time, so that a caller reading a
 * store page by page never holds more than one page of messages (the
 * events, codes and pseudonyms only, are kept until finish).
 *   new      opts is borrowed until destroy (checked as above); *out the
 *            caller's (egide_olinpe_destroy)
 *   add      one JSON line as above (blank and '#' lines skipped); an
 *            invalid line is recorded and reported by finish; returns only
 *            resource errors (EGIDE_ERR_NOMEM, EGIDE_ERR_CRYPTO), after
 *            which every call returns the same, and EGIDE_ERR_LIMIT for a
 *            line longer than EGIDE_MAX_JSON_BODY
 *   finish   as egide_observatory_export's result, for everything added
 * egide_observatory_export() is new + add per line + finish. */
typedef struct egide_olinpe egide_olinpe_t;
egide_rc egide_olinpe_new(const egide_olinpe_opts_t *opts, egide_olinpe_t **out);
egide_rc egide_olinpe_add(egide_olinpe_t *b, const char *line, size_t len);
egide_rc egide_olinpe_finish(egide_olinpe_t *b, char **out_json, egide_olinpe_stats_t *stats,
                             char **errors);
/* NULL-safe, idempotent; sets *b = NULL. */
void egide_olinpe_destroy(egide_olinpe_t **b);

/* true for the message types that make events (the list above). */
bool egide_observatory_type_counted(const char *type);

#endif
