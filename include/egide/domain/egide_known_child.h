/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_known_child.h - the keys a CRIP compares to tell that a referral is
 * about a child it already knows, or about a brother or sister of one
 * (DOMAIN.md, "What the people using it expect": known-child and sibling
 * detection).  Pure functions of a payload and a key: the edge stores the
 * keys (edge_known_child.c) and compares them.
 *
 * Referrals keyed: ip.transmission, snated.transmission,
 * parquet.direct_signalement, parquet.soit_transmis, department.transfer
 * (the types that bring children to the CRIP).
 *
 * Child key: egide_pseudo_compute() over the child's first first name, the
 * month and year of birth and the mother's birth name (the child's own
 * mother_birth_surname, else the birth_surname of the one adult whose link
 * is "mother"), under the context EGIDE_KNOWN_CHILD_CONTEXT.  The key is
 * the CRIP's own ([known_child] key_file), and even with the observatory's
 * key file the context differs, so a child key is never the pseudonym sent
 * to the observatories (and cannot be joined with it).
 *
 * Household key: egide_pseudo_household() over the mother's first first
 * name, her birth name (as above) and the child's commune of residence
 * (INSEE).  Two children with the same household key and different child
 * keys are shown as siblings.  What it misses, by construction: siblings
 * through the father only (half-siblings, a father's new household);
 * a household that moved to another commune between two referrals; a
 * referral that names no mother, or her married name only, or not her first
 * name; siblings living apart (one placed, one with a grandparent, in
 * another commune); spellings that normalisation does not equate (a typo,
 * a first name written as a diminutive).  It wrongly joins two mothers with
 * the same first and birth names in one commune (shown as "sibling", for
 * a worker to check, never merged).
 *
 * A child without enough data - no mother's birth name, no birth date, a
 * first name or mother's name that does not normalise - gets no child key
 * and is "not comparable" (never "new").  Nothing here logs anything.
 */
#ifndef EGIDE_KNOWN_CHILD_H
#define EGIDE_KNOWN_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "egide/base/egide_rc.h"
#include "egide/domain/egide_pseudo.h"

#define EGIDE_KNOWN_CHILD_CONTEXT "known-child" /* key separation from "olinpe" */
#define EGIDE_KNOWN_CHILD_MAX     64            /* children keyed per message */

/* Why a child is or is not comparable.  Stored as these integers: never
 * renumber. */
typedef enum egide_kc_status {
    EGIDE_KC_COMPARABLE = 0,     /* child_key set */
    EGIDE_KC_NO_MOTHER_NAME = 1, /* no mother's birth name in the payload */
    EGIDE_KC_NO_BIRTH_DATE = 2,  /* no (valid) birth date */
    EGIDE_KC_BAD_NAME = 3,       /* a name that does not normalise, or no first name */
} egide_kc_status;
#define EGIDE_KC_STATUS__COUNT 4

/* The keys of one child of a payload, in the payload's order. */
typedef struct egide_child_keys {
    egide_kc_status status;                       /* EGIDE_KC_COMPARABLE or why not */
    char child_key[EGIDE_PSEUDO_HEX_LEN + 1];     /* "" unless comparable */
    char household_key[EGIDE_PSEUDO_HEX_LEN + 1]; /* "" when the household cannot be keyed */
} egide_child_keys_t;

/* "comparable", "no_mother_name", "no_birth_date", "bad_name"; "unknown"
 * out of range.  Static. */
const char *egide_known_child_status_name(int status);

/* true for the referral types above. */
bool egide_known_child_type(const char *type);

/* The keys of every child (at most max; the rest are not keyed) of a
 * serialized payload of a referral type.
 *   type        one of the referral types (else EGIDE_ERR_INVALID)
 *   pb/len      the serialized payload, as the inbox holds it
 *   key/klen    the CRIP's known-child key (EGIDE_PSEUDO_MIN_KEY..
 *               EGIDE_PSEUDO_MAX_KEY bytes, else EGIDE_ERR_INVALID)
 *   out/max/n   *n children written to out[0..]
 * A child that cannot be keyed is not an error (its status says why).
 * Returns EGIDE_ERR_PROTO when pb does not decode, EGIDE_ERR_NOMEM,
 * EGIDE_ERR_CRYPTO (HMAC failed), EGIDE_ERR_INVALID for bad arguments.
 * Decoded names are wiped before return. */
egide_rc egide_known_child_keys(const char *type, const uint8_t *pb, size_t len, const uint8_t *key,
                                size_t klen, egide_child_keys_t *out, size_t max, size_t *n);

/* The same on a payload already loaded by jansson (a json_t * object,
 * passed as void * so this header needs no jansson.h). */
egide_rc egide_known_child_keys_json(const void *payload, const uint8_t *key, size_t klen,
                                     egide_child_keys_t *out, size_t max, size_t *n);

/* The mother's birth name for a child of a payload (both json_t *): the
 * child's mother_birth_surname, else the birth_surname of the one adult
 * whose link is "mother"; NULL when not known (no such adult, two of them,
 * or only a married name).  Borrowed from payload.  Shared with the
 * observatory export, which keys children the same way. */
const char *egide_known_child_mother(const void *payload, const void *child);

#endif
