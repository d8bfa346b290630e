/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_catalogue.c - the static tables behind egide_catalogue.h: the
 * message types of DOMAIN.md's catalogue and the directory's node roles.
 * Lookups are linear over ~20 short strings, which is cheaper than hashing
 * at this size; callers that look up per message (the broker) go through the
 * directory's own sorted indexes.
 */
#include <string.h>

#include "egide/domain/egide_catalogue.h"

static const egide_catalogue_type_t s_types[] = {
    {EGIDE_TYPE_IP_TRANSMISSION, 1, "IP transmission (information préoccupante)", false},
    {EGIDE_TYPE_SNATED_TRANSMISSION, 2, "119 transmission (notice 1)", false},
    {EGIDE_TYPE_IP_QUALIFICATION, 3, "acknowledgement / qualification of an IP", true},
    {EGIDE_TYPE_PARQUET_DIRECT_SIGNALEMENT, 4, "direct signalement to the parquet", false},
    {EGIDE_TYPE_PARQUET_SOIT_TRANSMIS, 5, "soit-transmis: request to evaluate", false},
    {EGIDE_TYPE_PARQUET_SAISINE, 6, "saisine / signalement by the PCD", false},
    {EGIDE_TYPE_PARQUET_FEEDBACK, 7, "parquet feedback on what it did", true},
    {EGIDE_TYPE_EVALUATION_ASSIGNMENT, 8, "evaluation assignment", false},
    {EGIDE_TYPE_PARENTS_NOTICE, 9, "notice to parents (tracked, sent outside)", false},
    {EGIDE_TYPE_EVALUATION_INFORMATION_REQUEST, 10, "information request (shared secrecy)", false},
    {EGIDE_TYPE_EVALUATION_ESCALATION, 11, "mid-evaluation escalation", false},
    {EGIDE_TYPE_EVALUATION_REPORT, 12, "evaluation report", false},
    {EGIDE_TYPE_SENDER_FEEDBACK, 13, "feedback to the original sender (notice 2)", true},
    {EGIDE_TYPE_DEPARTMENT_TRANSFER, 14, "transfer to another department", false},
    {EGIDE_TYPE_ASE_EMERGENCY_RECEPTION, 15, "emergency administrative reception notice", false},
    {EGIDE_TYPE_COURT_OPP, 16, "OPP (emergency placement order)", false},
    {EGIDE_TYPE_COURT_DECISION, 17, "juvenile judge decision", false},
    {EGIDE_TYPE_ASE_SITUATION_REPORT, 18, "situation report on a child in care", false},
    {EGIDE_TYPE_ASE_INCIDENT, 19, "incident / runaway note", false},
    {EGIDE_TYPE_OBSERVATORY_EXPORT, 20, "observatory export (pseudonymised)", false},
    {EGIDE_TYPE_MESSAGE_ACKNOWLEDGEMENT, 0, "a person's acknowledgement of a message", true},
};

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

const egide_catalogue_type_t *egide_catalogue_type_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < S_NTYPES; i++)
        if (strcmp(s_types[i].name, name) == 0)
            return &s_types[i];
    return NULL;
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
    if (!name)
        return false;
    for (size_t i = 0; i < S_NROLES; i++)
        if (strcmp(s_roles[i], name) == 0)
            return true;
    return false;
}
