/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_catalogue.h - the one list of message types and node roles.
 *
 * The message types are the catalogue of DOMAIN.md (rows 1-20 plus
 * message.acknowledgement and routing.misrouted); the roles are the node roles of the directory.
 * Every module that needs to know whether a type or a role exists (the
 * directory, payload validation, the broker's checks) asks here, so adding a
 * type is a one-line change in egide_catalogue.c (plus its message in
 * referral.proto).  Names are compared
 * exactly (case-sensitive, no surrounding spaces).
 */
#ifndef EGIDE_CATALOGUE_H
#define EGIDE_CATALOGUE_H

#include <stdbool.h>
#include <stddef.h>

/* Message type names on the wire (EnvelopeHeader.message_type). */
#define EGIDE_TYPE_IP_TRANSMISSION                "ip.transmission"
#define EGIDE_TYPE_SNATED_TRANSMISSION            "snated.transmission"
#define EGIDE_TYPE_IP_QUALIFICATION               "ip.qualification"
#define EGIDE_TYPE_PARQUET_DIRECT_SIGNALEMENT     "parquet.direct_signalement"
#define EGIDE_TYPE_PARQUET_SOIT_TRANSMIS          "parquet.soit_transmis"
#define EGIDE_TYPE_PARQUET_SAISINE                "parquet.saisine"
#define EGIDE_TYPE_PARQUET_FEEDBACK               "parquet.feedback"
#define EGIDE_TYPE_EVALUATION_ASSIGNMENT          "evaluation.assignment"
#define EGIDE_TYPE_PARENTS_NOTICE                 "parents.notice"
#define EGIDE_TYPE_EVALUATION_INFORMATION_REQUEST "evaluation.information_request"
#define EGIDE_TYPE_EVALUATION_ESCALATION          "evaluation.escalation"
#define EGIDE_TYPE_EVALUATION_REPORT              "evaluation.report"
#define EGIDE_TYPE_SENDER_FEEDBACK                "sender.feedback"
#define EGIDE_TYPE_DEPARTMENT_TRANSFER            "department.transfer"
#define EGIDE_TYPE_ASE_EMERGENCY_RECEPTION        "ase.emergency_reception"
#define EGIDE_TYPE_COURT_OPP                      "court.opp"
#define EGIDE_TYPE_COURT_DECISION                 "court.decision"
#define EGIDE_TYPE_ASE_SITUATION_REPORT           "ase.situation_report"
#define EGIDE_TYPE_ASE_INCIDENT                   "ase.incident"
#define EGIDE_TYPE_OBSERVATORY_EXPORT             "observatory.export"
#define EGIDE_TYPE_MESSAGE_ACKNOWLEDGEMENT        "message.acknowledgement"
#define EGIDE_TYPE_ROUTING_MISROUTED              "routing.misrouted"

/* Node roles (NodeEntry.role). */
#define EGIDE_ROLE_CRIP        "crip"
#define EGIDE_ROLE_TAS         "tas"
#define EGIDE_ROLE_SNATED      "snated"
#define EGIDE_ROLE_PARQUET     "parquet"
#define EGIDE_ROLE_POLICE      "police"
#define EGIDE_ROLE_COURT       "court"
#define EGIDE_ROLE_ASE         "ase"
#define EGIDE_ROLE_REPORTER    "reporter"
#define EGIDE_ROLE_OBSERVATORY "observatory"
#define EGIDE_ROLE_AUDITOR     "auditor"
#define EGIDE_ROLE_BROKER      "broker"

/* protobuf-c's descriptor type, declared here so that users of the catalogue
 * need not include protobuf-c. */
struct ProtobufCMessageDescriptor;

/* One catalogue entry: the wire name, the DOMAIN.md row (0 for
 * message.acknowledgement, which applies to any message, and for
 * routing.misrouted, which answers a referral or an assignment), a short English
 * description, whether it is a reply (sent back to the sender of an earlier
 * message, linked by in_reply_to), and how its structured payload is carried
 * (egide_payload converts by these: the top-level message of
 * proto/referral.proto, the content type, and the fields the broker-visible
 * facts are taken from). */
typedef struct egide_catalogue_type {
    const char *name;                                 /* wire name, e.g. "ip.transmission" */
    int row;                                          /* DOMAIN.md catalogue row, 0 = none */
    const char *description;                          /* English, for help texts and logs */
    bool reply;                                       /* answers an earlier message */
    const struct ProtobufCMessageDescriptor *payload; /* top-level payload message */
    const char *content_type;                         /* application/vnd.egide.*+protobuf */
    const char *time_field;                           /* the payload's own time (facts) */
    const char *kind_field;                           /* main enum code (facts.kind), or NULL */
} egide_catalogue_type_t;

/* Number of message types, and the i-th (NULL when i is out of range).
 * The table is static: the pointers stay valid for the program's life. */
size_t egide_catalogue_type_count(void);
const egide_catalogue_type_t *egide_catalogue_type_at(size_t i);
/* The entry named name, or NULL (also for NULL). */
const egide_catalogue_type_t *egide_catalogue_type_find(const char *name);
/* The entry whose content_type is content_type (exact match), or NULL (also
 * for NULL). */
const egide_catalogue_type_t *egide_catalogue_type_for_content_type(const char *content_type);
/* true when name is a catalogue message type. */
bool egide_catalogue_type_known(const char *name);

/* Number of roles and the i-th role name (NULL when out of range). */
size_t egide_catalogue_role_count(void);
const char *egide_catalogue_role_at(size_t i);
/* true when name is a known node role. */
bool egide_catalogue_role_known(const char *name);

#endif
