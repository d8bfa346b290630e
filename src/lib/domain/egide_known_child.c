/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_known_child.c - the child and household keys of a referral (see
 * egide_known_child.h for what they are made of and what they miss).
 *
 * The payload is decoded to JSON by egide_payload (the same strict decoder
 * every received payload went through), read with jansson, and the JSON
 * text wiped: names never outlive the call.  The keys themselves come from
 * egide_pseudo, which normalises the names.
 */
#include "egide/domain/egide_known_child.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "egide/base/egide_date.h"
#include "egide/base/egide_util.h"
#include "egide/domain/egide_catalogue.h"
#include "egide/domain/egide_payload.h"

static const char *const s_types[] = {
    EGIDE_TYPE_IP_TRANSMISSION,
    EGIDE_TYPE_SNATED_TRANSMISSION,
    EGIDE_TYPE_PARQUET_DIRECT_SIGNALEMENT,
    EGIDE_TYPE_PARQUET_SOIT_TRANSMIS,
    EGIDE_TYPE_DEPARTMENT_TRANSFER,
};

static const char *const s_status[EGIDE_KC_STATUS__COUNT] = {
    [EGIDE_KC_COMPARABLE] = "comparable",
    [EGIDE_KC_NO_MOTHER_NAME] = "no_mother_name",
    [EGIDE_KC_NO_BIRTH_DATE] = "no_birth_date",
    [EGIDE_KC_BAD_NAME] = "bad_name",
};

const char *egide_known_child_status_name(int status)
{
    return status >= 0 && status < EGIDE_KC_STATUS__COUNT ? s_status[status] : "unknown";
}

bool egide_known_child_type(const char *type)
{
    for (size_t i = 0; type && i < sizeof s_types / sizeof s_types[0]; i++)
        if (strcmp(s_types[i], type) == 0)
            return true;
    return false;
}

static const char *s_str(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The one adult whose link is "mother", or NULL (none, or two). */
static json_t *s_mother_adult(json_t *payload)
{
    json_t *adults = json_object_get(payload, "adults"), *a, *found = NULL;
    size_t i, mothers = 0;
    json_array_foreach(adults, i, a)
    {
        const char *link = s_str(a, "link");
        if (link && strcmp(link, "mother") == 0) {
            mothers++;
            found = a;
        }
    }
    return mothers == 1 ? found : NULL;
}

const char *egide_known_child_mother(const void *payload, const void *child)
{
    const char *m = s_str((json_t *)child, "mother_birth_surname");
    if (m)
        return m;
    return s_str(s_mother_adult((json_t *)payload), "birth_surname");
}

/* One child's keys; only resource failures are errors. */
static egide_rc s_child(json_t *payload, json_t *child, json_t *mother, const uint8_t *key,
                        size_t klen, egide_child_keys_t *k)
{
    memset(k, 0, sizeof *k);
    const char *first = json_string_value(json_array_get(json_object_get(child, "first_names"), 0));
    const char *birth = s_str(child, "birth_date");
    const char *mname = egide_known_child_mother(payload, child);
    int64_t bms = 0;
    if (!mname) {
        k->status = EGIDE_KC_NO_MOTHER_NAME;
        return EGIDE_OK;
    }
    if (!birth || egide_date_parse(birth, &bms) != EGIDE_OK) {
        k->status = EGIDE_KC_NO_BIRTH_DATE;
        return EGIDE_OK;
    }
    int by = 0, bm = 0;
    egide_date_year_month(bms, &by, &bm);
    egide_rc rc = first ? egide_pseudo_compute(NULL, key, klen, EGIDE_KNOWN_CHILD_CONTEXT, first,
                                               by, bm, mname, k->child_key)
                        : EGIDE_ERR_INVALID;
    if (rc == EGIDE_ERR_INVALID || rc == EGIDE_ERR_PROTO) {
        k->status = EGIDE_KC_BAD_NAME;
        k->child_key[0] = '\0';
        return EGIDE_OK;
    }
    if (rc)
        return rc;
    /* The household: only with the mother's first name and the commune. */
    const char *mfirst =
        json_string_value(json_array_get(json_object_get(mother, "first_names"), 0));
    const char *commune = s_str(child, "commune");
    if (mfirst && commune) {
        rc = egide_pseudo_household(key, klen, EGIDE_KNOWN_CHILD_CONTEXT, mfirst, mname, commune,
                                    k->household_key);
        if (rc == EGIDE_ERR_INVALID || rc == EGIDE_ERR_PROTO) {
            k->household_key[0] = '\0';
            rc = EGIDE_OK;
        }
    }
    return rc;
}

egide_rc egide_known_child_keys_json(const void *payload, const uint8_t *key, size_t klen,
                                     egide_child_keys_t *out, size_t max, size_t *n)
{
    if (n)
        *n = 0;
    json_t *p = (json_t *)payload;
    if (!json_is_object(p) || !key || klen < EGIDE_PSEUDO_MIN_KEY || klen > EGIDE_PSEUDO_MAX_KEY ||
        !n || (!out && max))
        return EGIDE_ERR_INVALID;
    json_t *mother = s_mother_adult(p);
    json_t *children = json_object_get(p, "children"), *c;
    size_t i;
    egide_rc rc = EGIDE_OK;
    json_array_foreach(children, i, c)
    {
        if (i >= max || rc)
            break;
        rc = s_child(p, c, mother, key, klen, &out[i]);
        if (!rc)
            (*n)++;
    }
    if (rc) {
        egide_wipe(out, *n * sizeof *out);
        *n = 0;
    }
    return rc;
}

/* Wipe every string of a JSON tree in place (jansson owns the buffers). */
static void s_wipe_json(json_t *j)
{
    if (json_is_string(j)) {
        egide_wipe((char *)json_string_value(j), json_string_length(j));
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            s_wipe_json(v);
        }
    } else if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v)
        {
            s_wipe_json(v);
        }
    }
}

egide_rc egide_known_child_keys(const char *type, const uint8_t *pb, size_t len, const uint8_t *key,
                                size_t klen, egide_child_keys_t *out, size_t max, size_t *n)
{
    if (n)
        *n = 0;
    if (!egide_known_child_type(type) || (!pb && len) || !n)
        return EGIDE_ERR_INVALID;
    char *js = NULL;
    egide_rc rc = egide_payload_to_json(type, pb, len, &js);
    if (rc == EGIDE_ERR_NOTFOUND || rc == EGIDE_ERR_LIMIT)
        rc = EGIDE_ERR_PROTO;
    if (rc)
        return rc;
    json_t *root = json_loads(js, 0, NULL);
    egide_wipe(js, strlen(js));
    free(js);
    if (!root)
        return EGIDE_ERR_NOMEM; /* egide_payload_to_json made valid JSON */
    rc = egide_known_child_keys_json(root, key, klen, out, max, n);
    s_wipe_json(root);
    json_decref(root);
    return rc;
}
