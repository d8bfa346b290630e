/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_catalogue.c - the static tables behind egide_catalogue.h: the
 * message types of DOMAIN.md's catalogue (with the protobuf message, content
 * type and facts fields that egide_payload converts by) and the directory's
 * node roles.  This is the only list of message types.
 * Lookups are linear over ~22 short strings, which is cheaper than hashing
 * at this size; callers that look up per message (the broker) go through the
 * directory's own sorted indexes.
 */
#include <stddef.h>
#include <string.h>

#include "egide/domain/egide_catalogue.h"

#include "referral.pb-c.h"

/* One row per message type: name, DOMAIN.md row, description, reply,
 * payload message, content type, own time field, main code field. */
#define CT(x) "application/vnd.egide." x "+protobuf"
#define P(x)  &egide__v1__##x##__descriptor
static const egide_catalogue_type_t s_types[] = {
    {EGIDE_TYPE_IP_TRANSMISSION, 1, "IP transmission (information préoccupante)", false,
     P(ip_transmission), CT("ip-transmission"), "received_at", NULL},
    {EGIDE_TYPE_SNATED_TRANSMISSION, 2, "119 transmission (notice 1)", false,
     P(snated_transmission), CT("snated-transmission"), "received_at", NULL},
    {EGIDE_TYPE_IP_QUALIFICATION, 3, "acknowledgement / qualification of an IP", true,
     P(ip_qualification), CT("ip-qualification"), "decided_at", "qualification"},
    {EGIDE_TYPE_PARQUET_DIRECT_SIGNALEMENT, 4, "direct signalement to the parquet", false,
     P(direct_signalement), CT("parquet-direct-signalement"), "sent_at", NULL},
    {EGIDE_TYPE_PARQUET_SOIT_TRANSMIS, 5, "soit-transmis: request to evaluate", false,
     P(soit_transmis), CT("parquet-soit-transmis"), "issued_at", NULL},
    {EGIDE_TYPE_PARQUET_SAISINE, 6, "saisine / signalement by the PCD", false, P(parquet_saisine),
     CT("parquet-saisine"), "sent_at", NULL},
    {EGIDE_TYPE_PARQUET_FEEDBACK, 7, "parquet feedback on what it did", true, P(parquet_feedback),
     CT("parquet-feedback"), "decided_at", "outcome"},
    {EGIDE_TYPE_EVALUATION_ASSIGNMENT, 8, "evaluation assignment", false, P(evaluation_assignment),
     CT("evaluation-assignment"), "assigned_at", NULL},
    {EGIDE_TYPE_PARENTS_NOTICE, 9, "notice to parents (tracked, sent outside)", false,
     P(parents_notice), CT("parents-notice"), "sent_at", NULL},
    {EGIDE_TYPE_EVALUATION_INFORMATION_REQUEST, 10, "information request (shared secrecy)", false,
     P(information_request), CT("evaluation-information-request"), "requested_at", NULL},
    {EGIDE_TYPE_EVALUATION_ESCALATION, 11, "mid-evaluation escalation", false,
     P(evaluation_escalation), CT("evaluation-escalation"), "escalated_at", "reason"},
    {EGIDE_TYPE_EVALUATION_REPORT, 12, "evaluation report", false, P(evaluation_report),
     CT("evaluation-report"), "completed_at", "conclusion"},
    {EGIDE_TYPE_SENDER_FEEDBACK, 13, "feedback to the original sender (notice 2)", true,
     P(sender_feedback), CT("sender-feedback"), "sent_at", "outcome"},
    {EGIDE_TYPE_DEPARTMENT_TRANSFER, 14, "transfer to another department", false,
     P(department_transfer), CT("department-transfer"), "transferred_at", NULL},
    {EGIDE_TYPE_ASE_EMERGENCY_RECEPTION, 15, "emergency administrative reception notice", false,
     P(emergency_reception), CT("ase-emergency-reception"), "received_at", NULL},
    {EGIDE_TYPE_COURT_OPP, 16, "OPP (emergency placement order)", false, P(opp), CT("court-opp"),
     "ordered_at", NULL},
    {EGIDE_TYPE_COURT_DECISION, 17, "juvenile judge decision", false, P(court_decision),
     CT("court-decision"), "decided_at", "decision"},
    {EGIDE_TYPE_ASE_SITUATION_REPORT, 18, "situation report on a child in care", false,
     P(situation_report), CT("ase-situation-report"), "report_date", NULL},
    {EGIDE_TYPE_ASE_INCIDENT, 19, "incident / runaway note", false, P(incident), CT("ase-incident"),
     "occurred_at", "kind"},
    {EGIDE_TYPE_OBSERVATORY_EXPORT, 20, "observatory export (pseudonymised)", false,
     P(observatory_export), CT("observatory-export"), "generated_at", NULL},
    {EGIDE_TYPE_MESSAGE_ACKNOWLEDGEMENT, 0, "a person's acknowledgement of a message", true,
     P(message_acknowledgement), CT("message-acknowledgement"), "acknowledged_at", NULL},
    /* A territory's "not ours" (issue 11 item 3): tas -> crip, in reply to
     * the referral or the assignment; the CRIP re-dispatches. */
    {EGIDE_TYPE_ROUTING_MISROUTED, 0, "a territory's notice that a message is not its own", true,
     P(routing_misrouted), CT("routing-misrouted"), "reported_at", "reason"},
};
#undef P
#undef CT

static const char *const s_roles[] = {
    EGIDE_ROLE_CRIP,        EGIDE_ROLE_TAS,     EGIDE_ROLE_SNATED, EGIDE_ROLE_PARQUET,
    EGIDE_ROLE_POLICE,      EGIDE_ROLE_COURT,   EGIDE_ROLE_ASE,    EGIDE_ROLE_REPORTER,
    EGIDE_ROLE_OBSERVATORY, EGIDE_ROLE_AUDITOR, EGIDE_ROLE_BROKER,
};

#define S_NTYPES (sizeof s_types / sizeof s_types[0])
#define S_NROLES (sizeof s_roles / sizeof s_roles[0])

size_t egide_catalogue_type_count(void)
{
    return S_NTYPES;
}

const egide_catalogue_type_t *egide_catalogue_type_at(size_t i)
{
    return i < S_NTYPES ? &s_types[i] : NULL;
}

/* The entry of n `stride`-byte entries from base whose string at offset
 * off equals key, or NULL (also for a NULL key). */
static const void *s_lookup(const void *base, size_t n, size_t stride, size_t off, const char *key)
{
    for (size_t i = 0; key && i < n; i++) {
        const char *e = (const char *)base + i * stride;
        const char *s;
        memcpy(&s, e + off, sizeof s);
        if (strcmp(s, key) == 0)
            return e;
    }
    return NULL;
}

const egide_catalogue_type_t *egide_catalogue_type_find(const char *name)
{
    return s_lookup(s_types, S_NTYPES, sizeof s_types[0], offsetof(egide_catalogue_type_t, name),
                    name);
}

const egide_catalogue_type_t *egide_catalogue_type_for_content_type(const char *content_type)
{
    return s_lookup(s_types, S_NTYPES, sizeof s_types[0],
                    offsetof(egide_catalogue_type_t, content_type), content_type);
}

bool egide_catalogue_type_known(const char *name)
{
    return egide_catalogue_type_find(name) != NULL;
}

size_t egide_catalogue_role_count(void)
{
    return S_NROLES;
}

const char *egide_catalogue_role_at(size_t i)
{
    return i < S_NROLES ? s_roles[i] : NULL;
}

bool egide_catalogue_role_known(const char *name)
{
    return s_lookup(s_roles, S_NROLES, sizeof s_roles[0], 0, name) != NULL;
}
