/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_deadline.c - jurisdiction profiles (INI, read with egide_ini) and the
 * computation and evaluation of legal deadlines (see egide_deadline.h).
 *
 * Invariants: a loaded profile holds 1..EGIDE_DEADLINE_MAX_DEFS definitions,
 * each with a label, a source, at least one starting type, a due rule and
 * at least one closing type, every type being a catalogue type.  Nothing
 * here reads the clock: every time comes from the caller.
 */
#include "egide/domain/egide_deadline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egide/base/egide_date.h"
#include "egide/base/egide_ini.h"
#include "egide/domain/egide_catalogue.h"
#include "egide/base/egide_limits.h"
#include "egide/base/egide_util.h"

#define S_MAX_TYPES 12 /* types in one on/closed_by/released_by list */
#define S_MAX_KINDS 8  /* codes in one when_kind list */
#define S_ROLES_LEN 96 /* bytes of one actor_roles list */

typedef enum {
    S_DUR_NONE = 0,
    S_DUR_HOURS,
    S_DUR_DAYS,
    S_DUR_MONTHS,
    S_DUR_REQUESTED,
    S_DUR_DATE
} s_dur_unit;

/* A duration or due rule: n units, the sender's date, or a fixed day. */
typedef struct s_dur {
    s_dur_unit unit;
    int64_t n;      /* count of hours/days/months; for S_DUR_DATE: years to add */
    int month, day; /* S_DUR_DATE: the fixed day */
} s_dur_t;

typedef enum { S_FROM_RECEIVED = 0, S_FROM_IP_RECEIVED, S_FROM_JE_SEIZED } s_from;

typedef struct s_def {
    char name[48];
    char label[192];
    char source[128];
    char on[S_MAX_TYPES][EGIDE_MAX_TYPE_NAME];
    size_t n_on;
    char closed_by[S_MAX_TYPES][EGIDE_MAX_TYPE_NAME];
    size_t n_closed_by;
    char released_by[S_MAX_TYPES][EGIDE_MAX_TYPE_NAME];
    size_t n_released_by;
    egide_deadline_actor actor;              /* recipient (default) or sender */
    char actor_roles[S_ROLES_LEN];           /* roles of the node that must act, "" = any */
    char on_roles[S_MAX_TYPES][S_ROLES_LEN]; /* actor_roles.<on[i]>, "" = actor_roles */
    bool yearly;                             /* scope = year */
    s_dur_t due, due_urgent, due_immediate, due_under_2, due_runaway;
    s_from from;
    char from_fallback[48]; /* another deadline's name, or "" */
    bool when_no_parental_agreement;
    char when_kind[S_MAX_KINDS][40];
    size_t n_when_kind;
    bool practice;
} s_def_t;

struct egide_deadline_profile {
    char name[64];
    char jurisdiction[160];
    char term[96];
    s_def_t defs[EGIDE_DEADLINE_MAX_DEFS];
    size_t n_defs;
};

/* ------------------------------------------------------------ parsing */

typedef struct s_parse {
    egide_deadline_profile_t *p;
    char err[256]; /* first error, without file:line */
} s_parse_t;

static egide_rc s_parse_dur(const char *v, s_dur_t *d)
{
    memset(d, 0, sizeof *d);
    if (strcmp(v, "requested") == 0) {
        d->unit = S_DUR_REQUESTED;
        return EGIDE_OK;
    }
    int mo = 0, dd = 0, plus = 0, used = 0;
    if (strncmp(v, "date ", 5) == 0) {
        if (sscanf(v + 5, "%2d-%2d +%d%n", &mo, &dd, &plus, &used) != 3 || v[5 + used] != '\0' ||
            !egide_date_valid(2000, (unsigned)mo, (unsigned)dd) || plus < 0 || plus > 10)
            return EGIDE_ERR_CONFIG;
        d->unit = S_DUR_DATE;
        d->month = mo;
        d->day = dd;
        d->n = plus;
        return EGIDE_OK;
    }
    char num[24], unit[24];
    const char *sp = strchr(v, ' ');
    if (!sp || (size_t)(sp - v) >= sizeof num || strlen(sp + 1) >= sizeof unit)
        return EGIDE_ERR_CONFIG;
    memcpy(num, v, (size_t)(sp - v));
    num[sp - v] = '\0';
    egide_strlcpy(unit, sp + 1, sizeof unit);
    if (egide_parse_int64(num, 1, 100000, &d->n) != EGIDE_OK)
        return EGIDE_ERR_CONFIG;
    if (strcmp(unit, "hour") == 0 || strcmp(unit, "hours") == 0)
        d->unit = S_DUR_HOURS;
    else if (strcmp(unit, "day") == 0 || strcmp(unit, "days") == 0)
        d->unit = S_DUR_DAYS;
    else if (strcmp(unit, "month") == 0 || strcmp(unit, "months") == 0)
        d->unit = S_DUR_MONTHS;
    else if (strcmp(unit, "year") == 0 || strcmp(unit, "years") == 0) {
        d->unit = S_DUR_MONTHS;
        d->n *= 12;
    } else
        return EGIDE_ERR_CONFIG;
    return EGIDE_OK;
}

/* A name shaped like a message type ("family.name", [a-z0-9_.]), for the
 * closing and releasing lists, which may name types the catalogue adds
 * later (a profile must not fail to load before the code that sends them). */
static bool s_type_shaped(const char *t)
{
    if (!t[0] || !strchr(t, '.') || t[0] == '.')
        return false;
    for (const char *q = t; *q; q++)
        if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '_' || *q == '.'))
            return false;
    return true;
}

/* Split a space-separated list of message types: catalogue types only when
 * strict (on = ...), else any type-shaped name (closed_by, released_by). */
static bool s_parse_types(s_parse_t *ps, const char *v, char out[][EGIDE_MAX_TYPE_NAME], size_t *n,
                          bool strict)
{
    *n = 0;
    const char *q = v;
    while (*q) {
        while (*q == ' ' || *q == ',')
            q++;
        if (!*q)
            break;
        size_t len = strcspn(q, " ,");
        if (*n >= S_MAX_TYPES || len >= EGIDE_MAX_TYPE_NAME) {
            snprintf(ps->err, sizeof ps->err, "too many or too long message types");
            return false;
        }
        memcpy(out[*n], q, len);
        out[*n][len] = '\0';
        if (strict ? !egide_catalogue_type_known(out[*n]) : !s_type_shaped(out[*n])) {
            char safe[80];
            egide_sanitize(out[*n], strlen(out[*n]), safe, sizeof safe);
            snprintf(ps->err, sizeof ps->err, "unknown message type \"%s\"", safe);
            return false;
        }
        (*n)++;
        q += len;
    }
    if (*n == 0) {
        snprintf(ps->err, sizeof ps->err, "empty list of message types");
        return false;
    }
    return true;
}

/* A space-separated list of directory roles ([a-z_]+ each), kept as one
 * string with single spaces. */
static int s_parse_roles(s_parse_t *ps, const char *v, char out[S_ROLES_LEN], const char *key)
{
    size_t o = 0;
    out[0] = '\0';
    for (const char *q = v; *q;) {
        while (*q == ' ' || *q == ',')
            q++;
        size_t len = strcspn(q, " ,");
        if (!len)
            break;
        for (size_t i = 0; i < len; i++)
            if (!((q[i] >= 'a' && q[i] <= 'z') || q[i] == '_')) {
                snprintf(ps->err, sizeof ps->err, "%s: roles are lower-case words (crip tas ...)",
                         key);
                return 0;
            }
        if (o + len + 2 > S_ROLES_LEN) {
            snprintf(ps->err, sizeof ps->err, "%s: longer than %d bytes", key, S_ROLES_LEN - 1);
            return 0;
        }
        if (o)
            out[o++] = ' ';
        memcpy(out + o, q, len);
        o += len;
        out[o] = '\0';
        q += len;
    }
    if (!o) {
        snprintf(ps->err, sizeof ps->err, "%s: empty list of roles", key);
        return 0;
    }
    return 1;
}

static bool s_copy(s_parse_t *ps, char *dst, size_t dstsz, const char *v, const char *key)
{
    if (!*v || egide_strlcpy(dst, v, dstsz) != EGIDE_OK) {
        snprintf(ps->err, sizeof ps->err, "%s: empty or longer than %zu bytes", key, dstsz - 1);
        return false;
    }
    return true;
}

static int s_key(s_parse_t *ps, const char *section, const char *key, const char *value)
{
    egide_deadline_profile_t *p = ps->p;
    if (strcmp(section, "profile") == 0) {
        if (strcmp(key, "name") == 0)
            return s_copy(ps, p->name, sizeof p->name, value, key);
        if (strcmp(key, "jurisdiction") == 0)
            return s_copy(ps, p->jurisdiction, sizeof p->jurisdiction, value, key);
        if (strcmp(key, "term") == 0)
            return s_copy(ps, p->term, sizeof p->term, value, key);
        snprintf(ps->err, sizeof ps->err, "[profile]: unknown key \"%.40s\"", key);
        return 0;
    }
    if (strncmp(section, "deadline ", 9) != 0 || !section[9]) {
        snprintf(ps->err, sizeof ps->err, "unknown section [%.60s]", section);
        return 0;
    }
    const char *name = section + 9;
    s_def_t *d = NULL;
    for (size_t i = 0; i < p->n_defs; i++)
        if (strcmp(p->defs[i].name, name) == 0)
            d = &p->defs[i];
    if (!d) {
        if (p->n_defs >= EGIDE_DEADLINE_MAX_DEFS) {
            snprintf(ps->err, sizeof ps->err, "more than %d deadlines", EGIDE_DEADLINE_MAX_DEFS);
            return 0;
        }
        d = &p->defs[p->n_defs];
        memset(d, 0, sizeof *d);
        if (!s_copy(ps, d->name, sizeof d->name, name, "deadline name"))
            return 0;
        p->n_defs++;
    }
    if (strcmp(key, "label") == 0)
        return s_copy(ps, d->label, sizeof d->label, value, key);
    if (strcmp(key, "source") == 0)
        return s_copy(ps, d->source, sizeof d->source, value, key);
    if (strcmp(key, "on") == 0)
        return s_parse_types(ps, value, d->on, &d->n_on, true);
    if (strcmp(key, "closed_by") == 0)
        return s_parse_types(ps, value, d->closed_by, &d->n_closed_by, false);
    if (strcmp(key, "released_by") == 0)
        return s_parse_types(ps, value, d->released_by, &d->n_released_by, false);
    if (strcmp(key, "actor") == 0) {
        if (strcmp(value, "recipient") == 0)
            d->actor = EGIDE_DEADLINE_ACTOR_RECIPIENT;
        else if (strcmp(value, "sender") == 0)
            d->actor = EGIDE_DEADLINE_ACTOR_SENDER;
        else {
            snprintf(ps->err, sizeof ps->err, "actor: recipient or sender");
            return 0;
        }
        return 1;
    }
    if (strcmp(key, "actor_roles") == 0)
        return s_parse_roles(ps, value, d->actor_roles, key);
    if (strncmp(key, "actor_roles.", 12) == 0) {
        /* actor_roles.<type>: the roles for one starting type, which must
         * be listed in on = ... already. */
        const char *t = key + 12;
        for (size_t i = 0; i < d->n_on; i++)
            if (strcmp(d->on[i], t) == 0)
                return s_parse_roles(ps, value, d->on_roles[i], "actor_roles.<type>");
        snprintf(ps->err, sizeof ps->err, "%.60s: the type is not in \"on\" (set on first)", key);
        return 0;
    }
    if (strcmp(key, "scope") == 0) {
        if (strcmp(value, "case") != 0 && strcmp(value, "year") != 0) {
            snprintf(ps->err, sizeof ps->err, "scope: case or year");
            return 0;
        }
        d->yearly = strcmp(value, "year") == 0;
        return 1;
    }
    s_dur_t *dur = NULL;
    if (strcmp(key, "due") == 0)
        dur = &d->due;
    else if (strcmp(key, "due_urgent") == 0)
        dur = &d->due_urgent;
    else if (strcmp(key, "due_immediate") == 0)
        dur = &d->due_immediate;
    else if (strcmp(key, "due_under_2") == 0)
        dur = &d->due_under_2;
    else if (strcmp(key, "due_runaway") == 0)
        dur = &d->due_runaway;
    if (dur) {
        if (s_parse_dur(value, dur) != EGIDE_OK ||
            (dur != &d->due && (dur->unit == S_DUR_REQUESTED || dur->unit == S_DUR_DATE))) {
            snprintf(ps->err, sizeof ps->err,
                     "%s: not a duration (\"8 days\", \"72 hours\", \"3 months\"%s)", key,
                     dur == &d->due ? ", \"requested\", \"date 04-30 +1\"" : "");
            return 0;
        }
        return 1;
    }
    if (strcmp(key, "from") == 0) {
        if (strcmp(value, "received") == 0)
            d->from = S_FROM_RECEIVED;
        else if (strcmp(value, "ip_received") == 0)
            d->from = S_FROM_IP_RECEIVED;
        else if (strcmp(value, "je_seized") == 0)
            d->from = S_FROM_JE_SEIZED;
        else {
            snprintf(ps->err, sizeof ps->err, "from: received, ip_received or je_seized");
            return 0;
        }
        return 1;
    }
    if (strcmp(key, "from_fallback") == 0)
        return s_copy(ps, d->from_fallback, sizeof d->from_fallback, value, key);
    if (strcmp(key, "when") == 0) {
        if (strcmp(value, "no_parental_agreement") != 0) {
            snprintf(ps->err, sizeof ps->err, "when: only no_parental_agreement is known");
            return 0;
        }
        d->when_no_parental_agreement = true;
        return 1;
    }
    if (strcmp(key, "when_kind") == 0) {
        d->n_when_kind = 0;
        const char *q = value;
        while (*q) {
            while (*q == ' ')
                q++;
            size_t len = strcspn(q, " ");
            if (!len)
                break;
            if (d->n_when_kind >= S_MAX_KINDS || len >= sizeof d->when_kind[0]) {
                snprintf(ps->err, sizeof ps->err, "when_kind: too many or too long codes");
                return 0;
            }
            memcpy(d->when_kind[d->n_when_kind], q, len);
            d->when_kind[d->n_when_kind++][len] = '\0';
            q += len;
        }
        return 1;
    }
    if (strcmp(key, "close") == 0) {
        /* The old spelling of scope: thread = case, any = year (an "any"
         * export never again closes every later year's). */
        if (strcmp(value, "thread") != 0 && strcmp(value, "any") != 0) {
            snprintf(ps->err, sizeof ps->err, "close: thread or any (now: scope = case | year)");
            return 0;
        }
        d->yearly = strcmp(value, "any") == 0;
        return 1;
    }
    if (strcmp(key, "practice") == 0) {
        if (egide_parse_bool(value, &d->practice) != EGIDE_OK) {
            snprintf(ps->err, sizeof ps->err, "practice: not a boolean");
            return 0;
        }
        return 1;
    }
    snprintf(ps->err, sizeof ps->err, "[deadline %.40s]: unknown key \"%.40s\"", name, key);
    return 0;
}

/* egide_ini's callback: s_key() leaves its message in ps->err. */
static bool s_on_key(egide_ini_t *ini, const char *section, const char *key, const char *value,
                     void *user)
{
    s_parse_t *ps = user;
    if (s_key(ps, section, key, value))
        return true;
    return egide_ini_fail(ini, "%s", ps->err[0] ? ps->err : "refused");
}

static bool s_in_list(const char list[][EGIDE_MAX_TYPE_NAME], size_t n, const char *type)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], type) == 0)
            return true;
    return false;
}

/* Whole-profile checks once every line is read. */
static bool s_check_profile(s_parse_t *ps)
{
    egide_deadline_profile_t *p = ps->p;
    if (!p->name[0]) {
        snprintf(ps->err, sizeof ps->err, "[profile] name is required");
        return false;
    }
    if (!p->term[0])
        egide_strlcpy(p->term, "information préoccupante", sizeof p->term);
    if (p->n_defs == 0) {
        snprintf(ps->err, sizeof ps->err, "no [deadline NAME] section");
        return false;
    }
    for (size_t i = 0; i < p->n_defs; i++) {
        const s_def_t *d = &p->defs[i];
        const char *missing = !d->label[0]                ? "label"
                              : !d->source[0]             ? "source"
                              : !d->n_on                  ? "on"
                              : !d->n_closed_by           ? "closed_by"
                              : d->due.unit == S_DUR_NONE ? "due"
                                                          : NULL;
        if (missing) {
            snprintf(ps->err, sizeof ps->err, "[deadline %.40s]: %s is required", d->name, missing);
            return false;
        }
        /* The edge keeps what one message starts in EGIDE_DEADLINE_PER_MSG
         * slots: more is a profile error now, never a clock dropped later. */
        for (size_t k = 0; k < d->n_on; k++) {
            size_t starts = 0;
            for (size_t j = 0; j < p->n_defs; j++)
                starts += s_in_list(p->defs[j].on, p->defs[j].n_on, d->on[k]);
            if (starts > EGIDE_DEADLINE_PER_MSG) {
                snprintf(ps->err, sizeof ps->err, "%.60s starts more than %d deadlines", d->on[k],
                         EGIDE_DEADLINE_PER_MSG);
                return false;
            }
        }
        if (d->from_fallback[0]) {
            bool found = false;
            for (size_t j = 0; j < p->n_defs; j++)
                found |= j != i && strcmp(p->defs[j].name, d->from_fallback) == 0;
            if (!found) {
                snprintf(ps->err, sizeof ps->err,
                         "[deadline %.40s]: from_fallback names no deadline", d->name);
                return false;
            }
        }
    }
    return true;
}

egide_rc egide_deadline_profile_parse(const char *name, const char *text,
                                      egide_deadline_profile_t **out, char *err, size_t errsz)
{
    if (err && errsz)
        err[0] = '\0';
    if (!out || !text)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    if (!name)
        name = "(profile)";
    s_parse_t ps;
    memset(&ps, 0, sizeof ps);
    ps.p = calloc(1, sizeof *ps.p);
    if (!ps.p)
        return EGIDE_ERR_NOMEM;
    /* [deadline NAME] may repeat: its keys add to the same definition.  A
     * key set again replaces the earlier value, as profiles have always
     * allowed (and test_deadline relies on). */
    static const egide_ini_section_spec_t spec[] = {
        {"profile", NULL}, {"deadline *", NULL}, {NULL, NULL}};
    egide_ini_opts_t o = {
        .on_key = s_on_key, .user = &ps, .spec = spec, .allow_duplicate_keys = true};
    egide_rc rc = egide_ini_parse_string(name, text, &o, err, errsz);
    if (rc != EGIDE_OK) {
        free(ps.p);
        return rc;
    }
    if (!s_check_profile(&ps)) {
        if (err)
            snprintf(err, errsz, "%s: %s", name, ps.err);
        free(ps.p);
        return EGIDE_ERR_CONFIG;
    }
    *out = ps.p;
    return EGIDE_OK;
}

egide_rc egide_deadline_profile_load(const char *path, egide_deadline_profile_t **out, char *err,
                                     size_t errsz)
{
    if (err && errsz)
        err[0] = '\0';
    if (!path || !out)
        return EGIDE_ERR_INVALID;
    uint8_t *buf;
    size_t len;
    egide_rc rc = egide_file_read(path, EGIDE_MAX_CONFIG_FILE, &buf, &len);
    if (rc != EGIDE_OK) {
        if (err)
            snprintf(err, errsz, "%s: %s", path, egide_strerror(rc));
        return rc;
    }
    if (strlen((char *)buf) != len) {
        free(buf);
        if (err)
            snprintf(err, errsz, "%s: contains a NUL byte", path);
        return EGIDE_ERR_CONFIG;
    }
    rc = egide_deadline_profile_parse(path, (char *)buf, out, err, errsz);
    free(buf);
    return rc;
}

void egide_deadline_profile_destroy(egide_deadline_profile_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

const char *egide_deadline_profile_name(const egide_deadline_profile_t *p)
{
    return p ? p->name : "";
}

const char *egide_deadline_profile_jurisdiction(const egide_deadline_profile_t *p)
{
    return p ? p->jurisdiction : "";
}

const char *egide_deadline_profile_term(const egide_deadline_profile_t *p)
{
    return p ? p->term : "";
}

size_t egide_deadline_profile_count(const egide_deadline_profile_t *p)
{
    return p ? p->n_defs : 0;
}

const char *egide_deadline_profile_def_name(const egide_deadline_profile_t *p, size_t i)
{
    return (p && i < p->n_defs) ? p->defs[i].name : NULL;
}

/* ------------------------------------------------------------ compute */

/* The due time of a duration from start; 0 when it does not apply. */
static int64_t s_apply(const s_dur_t *d, int64_t start, const egide_payload_facts_t *f)
{
    int y, m;
    switch (d->unit) {
    case S_DUR_HOURS:
        return start + d->n * 3600LL * 1000LL;
    case S_DUR_DAYS:
        return start + d->n * EGIDE_MS_PER_DAY;
    case S_DUR_MONTHS:
        return egide_date_add_months(start, d->n);
    case S_DUR_REQUESTED:
        return (f && f->requested_due_ms) ? f->requested_due_ms + EGIDE_MS_PER_DAY - 1 : 0;
    case S_DUR_DATE:
        egide_date_year_month(start, &y, &m);
        return egide_date_days_from_civil(y + d->n, (unsigned)d->month, (unsigned)d->day) *
                   EGIDE_MS_PER_DAY +
               EGIDE_MS_PER_DAY - 1;
    default:
        return 0;
    }
}

static int64_t s_min_due(int64_t a, int64_t b)
{
    if (a == 0)
        return b;
    if (b == 0)
        return a;
    return a < b ? a : b;
}

static const s_def_t *s_def_find(const egide_deadline_profile_t *p, const char *name)
{
    for (size_t i = 0; i < p->n_defs; i++)
        if (strcmp(p->defs[i].name, name) == 0)
            return &p->defs[i];
    return NULL;
}

/* The base due (before shortening) of d for this message, 0 = none. */
static int64_t s_due_of(const egide_deadline_profile_t *p, const s_def_t *d, int64_t received,
                        const egide_payload_facts_t *f, int depth, int64_t *start_out)
{
    int64_t start = received;
    if (d->from == S_FROM_IP_RECEIVED && f && f->ip_received_ms)
        start = f->ip_received_ms;
    if (d->from == S_FROM_JE_SEIZED) {
        if (f && f->je_seized_ms) {
            start = f->je_seized_ms;
        } else if (d->from_fallback[0] && depth < 4) {
            const s_def_t *fb = s_def_find(p, d->from_fallback);
            int64_t ignored;
            if (fb)
                start = s_due_of(p, fb, received, f, depth + 1, &ignored);
        }
    }
    *start_out = start;
    int64_t due = s_apply(&d->due, start, f);
    if (!f || due == 0)
        return due;
    if (f->urgency >= 2 && d->due_urgent.unit)
        due = s_min_due(due, s_apply(&d->due_urgent, start, f));
    if (f->urgency >= 3 && d->due_immediate.unit)
        due = s_min_due(due, s_apply(&d->due_immediate, start, f));
    if (f->child_under_2 && d->due_under_2.unit)
        due = s_min_due(due, s_apply(&d->due_under_2, start, f));
    if (f->runaway && d->due_runaway.unit)
        due = s_min_due(due, s_apply(&d->due_runaway, start, f));
    return due;
}

static bool s_applies(const s_def_t *d, const char *type, const egide_payload_facts_t *f)
{
    if (!s_in_list(d->on, d->n_on, type))
        return false;
    /* Agreement "yes" is the only answer that stops the clock: "no",
     * "unknown" and "not said" all leave the court to be seized. */
    if (d->when_no_parental_agreement && f && f->parental_agreement == 1)
        return false;
    if (d->n_when_kind) {
        bool ok = false;
        for (size_t i = 0; f && i < d->n_when_kind; i++)
            ok |= strcmp(d->when_kind[i], f->kind) == 0;
        if (!ok)
            return false;
    }
    return true;
}

egide_rc egide_deadline_compute(const egide_deadline_profile_t *p, const char *type,
                                const char *msg_id, int64_t received_ms,
                                const egide_payload_facts_t *facts, egide_deadline_t *out,
                                size_t max, size_t *n)
{
    if (n)
        *n = 0;
    if (!p || !type || !n || (!out && max))
        return EGIDE_ERR_INVALID;
    for (size_t i = 0; i < p->n_defs; i++) {
        const s_def_t *d = &p->defs[i];
        if (!s_applies(d, type, facts))
            continue;
        int64_t start;
        int64_t due = s_due_of(p, d, received_ms, facts, 0, &start);
        if (due == 0)
            continue; /* e.g. "requested" and the sender set no date */
        if (*n >= max)
            return EGIDE_ERR_LIMIT;
        egide_deadline_t *o = &out[(*n)++];
        memset(o, 0, sizeof *o);
        egide_strlcpy(o->msg_id, msg_id ? msg_id : "", sizeof o->msg_id);
        egide_strlcpy(o->type, type, sizeof o->type);
        egide_strlcpy(o->name, d->name, sizeof o->name);
        egide_strlcpy(o->label, d->label, sizeof o->label);
        egide_strlcpy(o->source, d->source, sizeof o->source);
        o->start_ms = start;
        o->due_ms = due;
        o->practice = d->practice;
        o->state = EGIDE_DEADLINE_OPEN;
        o->actor = d->actor;
        o->yearly = d->yearly;
        const char *roles = d->actor_roles;
        for (size_t k = 0; k < d->n_on; k++)
            if (strcmp(d->on[k], type) == 0 && d->on_roles[k][0])
                roles = d->on_roles[k];
        egide_strlcpy(o->actor_roles, roles, sizeof o->actor_roles);
    }
    return EGIDE_OK;
}

unsigned egide_deadline_effect(const egide_deadline_profile_t *p, size_t i, const char *type)
{
    if (!p || i >= p->n_defs || !type)
        return 0;
    const s_def_t *d = &p->defs[i];
    unsigned fx = 0;
    if (s_in_list(d->closed_by, d->n_closed_by, type))
        fx |= EGIDE_DEADLINE_CLOSES;
    if (s_in_list(d->released_by, d->n_released_by, type))
        fx |= EGIDE_DEADLINE_RELEASES;
    return fx;
}

bool egide_deadline_def_yearly(const egide_deadline_profile_t *p, size_t i)
{
    return p && i < p->n_defs && p->defs[i].yearly;
}

bool egide_deadline_role_in(const char *roles, const char *role)
{
    if (!roles || !role || !role[0])
        return false;
    if (!roles[0])
        return true;
    size_t n = strlen(role);
    for (const char *q = roles; *q;) {
        size_t len = strcspn(q, " ");
        if (len == n && strncmp(q, role, n) == 0)
            return true;
        q += len;
        while (*q == ' ')
            q++;
    }
    return false;
}

const char *egide_deadline_state_name(egide_deadline_state s)
{
    switch (s) {
    case EGIDE_DEADLINE_OPEN:
        return "open";
    case EGIDE_DEADLINE_MET:
        return "met";
    case EGIDE_DEADLINE_OVERDUE:
        return "overdue";
    case EGIDE_DEADLINE_LATE:
        return "late";
    case EGIDE_DEADLINE_RELEASED:
        return "released";
    }
    return "?";
}

egide_rc egide_deadline_state_parse(const char *s, egide_deadline_state *out)
{
    static const egide_deadline_state all[] = {EGIDE_DEADLINE_OPEN, EGIDE_DEADLINE_MET,
                                               EGIDE_DEADLINE_OVERDUE, EGIDE_DEADLINE_LATE,
                                               EGIDE_DEADLINE_RELEASED};
    if (!s || !out)
        return EGIDE_ERR_INVALID;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(egide_deadline_state_name(all[i]), s) == 0) {
            *out = all[i];
            return EGIDE_OK;
        }
    return EGIDE_ERR_INVALID;
}
