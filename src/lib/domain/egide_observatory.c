/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_observatory.c - the pseudonymised yearly export of measure events
 * (see egide_observatory.h for the input and output formats).
 *
 * Every input line is validated as a catalogue payload first; identity
 * values are read from the validated JSON, go through egide_pseudo and are
 * wiped; the output is built only from codes (event types, catalogue enum
 * codes, department codes, year-months) and pseudonyms, then validated
 * against the observatory.export schema before it is handed back.
 */
#include "egide/domain/egide_observatory.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egide/domain/egide_catalogue.h"
#include "egide/domain/egide_known_child.h"
#include "egide/base/egide_date.h"
#include "egide/base/egide_limits.h"
#include "egide/domain/egide_payload.h"
#include "egide/base/egide_util.h"

/* Catalogue type -> event type, and where its detail code comes from. */
static const struct {
    const char *type;
    const char *event;
    const char *detail_member; /* top-level member holding the code, or NULL */
    const char *detail_sub;    /* member inside it ("sender" -> "type"), or NULL */
} s_events[] = {
    {EGIDE_TYPE_IP_TRANSMISSION, "ip_received", "sender", "type"},
    {EGIDE_TYPE_SNATED_TRANSMISSION, "ip_received", NULL, NULL},
    {EGIDE_TYPE_PARQUET_SAISINE, "parquet_referral", NULL, NULL},
    {EGIDE_TYPE_PARQUET_DIRECT_SIGNALEMENT, "parquet_referral", NULL, NULL},
    {EGIDE_TYPE_EVALUATION_REPORT, "evaluation_concluded", "conclusion", NULL},
    {EGIDE_TYPE_ASE_EMERGENCY_RECEPTION, "emergency_reception", NULL, NULL},
    {EGIDE_TYPE_COURT_OPP, "opp", NULL, NULL},
    {EGIDE_TYPE_COURT_DECISION, "judicial_decision", "decision", NULL},
    {EGIDE_TYPE_DEPARTMENT_TRANSFER, "transfer_out", "to_department", NULL},
    {EGIDE_TYPE_ASE_INCIDENT, "incident", "kind", NULL},
};

typedef struct s_run {
    const egide_olinpe_opts_t *o;
    egide_buf_t errs;
    int nerr;
} s_run_t;

static void s_err(s_run_t *r, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void s_err(s_run_t *r, size_t line, const char *fmt, ...)
{
    /* Room for a payload error line whole (egide_payload's own bound): a
     * line is never cut inside an escape or a UTF-8 sequence. */
    char msg[2048], out[2100];
    if (r->nerr++ >= EGIDE_PAYLOAD_MAX_ERRORS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int n = snprintf(out, sizeof out, "line %zu: %s\n", line, msg);
    if (n > 0)
        (void)egide_buf_append(&r->errs, out, strlen(out));
}

static const char *s_str(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static egide_rc s_pseudo(const egide_olinpe_opts_t *o, const char *first, int y, int m,
                         const char *mother, char out[EGIDE_PSEUDO_HEX_LEN + 1])
{
    return egide_pseudo_compute(o->alg, o->key, o->key_len, o->context ? o->context : "olinpe",
                                first, y, m, mother, out);
}

/* Append the events of one validated message to `events`. */
static egide_rc s_events_of(s_run_t *r, size_t lineno, const char *type, json_t *payload,
                            json_t *previous, int64_t when, json_t *events,
                            egide_olinpe_stats_t *st, char *first_dept)
{
    const char *event = NULL, *detail = NULL;
    for (size_t i = 0; i < sizeof s_events / sizeof s_events[0]; i++) {
        if (strcmp(s_events[i].type, type) != 0)
            continue;
        event = s_events[i].event;
        if (s_events[i].detail_member) {
            json_t *v = json_object_get(payload, s_events[i].detail_member);
            if (s_events[i].detail_sub)
                v = json_object_get(v, s_events[i].detail_sub);
            detail = json_is_string(v) ? json_string_value(v) : NULL;
        }
    }
    if (!event) {
        st->not_a_measure++;
        return EGIDE_OK;
    }
    /* A transfer from another department is that department's transfer_out
     * (a CRIP's inbox holds the transfers that came in). */
    const char *from = s_str(payload, "from_department");
    if (strcmp(type, EGIDE_TYPE_DEPARTMENT_TRANSFER) == 0 && r->o->department && from &&
        strcmp(from, r->o->department) != 0) {
        st->other_department++;
        return EGIDE_OK;
    }
    if (strcmp(type, EGIDE_TYPE_ASE_EMERGENCY_RECEPTION) == 0 &&
        json_is_true(json_object_get(payload, "runaway")))
        detail = "runaway";
    if (strcmp(type, EGIDE_TYPE_SNATED_TRANSMISSION) == 0)
        detail = "snated";

    int ey, em;
    egide_date_year_month(when, &ey, &em);
    char month[16];
    snprintf(month, sizeof month, "%04d-%02d", ey, em);

    long long prev_child = -1;
    if (previous) {
        json_t *c = json_object_get(previous, "child");
        prev_child = json_is_integer(c) ? (long long)json_integer_value(c) : -1;
    }
    json_t *children = json_object_get(payload, "children");
    size_t i;
    json_t *child;
    json_array_foreach(children, i, child)
    {
        json_t *names = json_object_get(child, "first_names");
        const char *first = json_string_value(json_array_get(names, 0));
        const char *birth = s_str(child, "birth_date");
        const char *commune = s_str(child, "commune");
        const char *mother = egide_known_child_mother(payload, child);
        int by = 0, bm = 0;
        int64_t bms;
        if (!mother) {
            st->no_mother_name++;
            continue;
        }
        if (!first || !birth || !commune || egide_date_parse(birth, &bms) != EGIDE_OK) {
            st->bad_identity++;
            continue;
        }
        egide_date_year_month(bms, &by, &bm);
        char pseudo[EGIDE_PSEUDO_HEX_LEN + 1], prev[EGIDE_PSEUDO_HEX_LEN + 1] = "";
        egide_rc rc = s_pseudo(r->o, first, by, bm, mother, pseudo);
        if (rc == EGIDE_ERR_INVALID || rc == EGIDE_ERR_PROTO) { /* PROTO: not UTF-8 */
            st->bad_identity++;
            continue;
        }
        if (rc != EGIDE_OK)
            return rc;
        if (previous && prev_child == (long long)i) {
            int py, pm;
            const char *pf = s_str(previous, "first_name");
            const char *pmn = s_str(previous, "mother_birth_name");
            if (!pf || !pmn || egide_date_parse_month(s_str(previous, "birth_month"), &py, &pm) ||
                s_pseudo(r->o, pf, py, pm, pmn, prev) != EGIDE_OK) {
                s_err(r, lineno,
                      "previous: needs first_name, birth_month (YYYY-MM) and "
                      "mother_birth_name that normalise");
                continue;
            }
            if (strcmp(prev, pseudo) == 0)
                prev[0] = '\0'; /* nothing changed */
        }
        char dept[4];
        size_t dn = (commune[0] == '9' && (commune[1] == '7' || commune[1] == '8')) ? 3 : 2;
        memcpy(dept, commune, dn);
        dept[dn] = '\0';
        if (!first_dept[0])
            egide_strlcpy(first_dept, dept, 4);
        json_t *e = json_object();
        if (!e)
            return EGIDE_ERR_NOMEM;
        json_object_set_new(e, "pseudonym", json_string(pseudo));
        if (prev[0])
            json_object_set_new(e, "previous_pseudonym", json_string(prev));
        json_object_set_new(e, "event_type", json_string(event));
        json_object_set_new(e, "event_month", json_string(month));
        json_object_set_new(e, "department", json_string(dept));
        if (detail)
            json_object_set_new(e, "detail", json_string(detail));
        if (json_array_append_new(events, e) != 0)
            return EGIDE_ERR_NOMEM;
        st->events++;
    }
    if (previous && (prev_child < 0 || (size_t)prev_child >= json_array_size(children)))
        s_err(r, lineno, "previous.child: no such child in the payload");
    return EGIDE_OK;
}

/* One JSON line: check its shape, validate its payload, add its events. */
static egide_rc s_line(s_run_t *r, size_t lineno, const char *text, size_t len, json_t *events,
                       egide_olinpe_stats_t *st, char *first_dept)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(root)) {
        s_err(r, lineno, "json: not a JSON object");
        json_decref(root);
        return EGIDE_OK;
    }
    st->lines++;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "type") && strcmp(key, "received") && strcmp(key, "payload") &&
            strcmp(key, "previous")) {
            char name[EGIDE_PAYLOAD_MEMBER_SIZE];
            s_err(r, lineno, "%s: unknown field", egide_payload_member(key, name, sizeof name));
        }
    }
    const char *type = s_str(root, "type");
    json_t *payload = json_object_get(root, "payload");
    json_t *previous = json_object_get(root, "previous");
    if (!type || !egide_payload_type_known(type)) {
        s_err(r, lineno, "type: missing or not a catalogue type");
        json_decref(root);
        return EGIDE_OK;
    }
    if (previous && !json_is_object(previous)) {
        s_err(r, lineno, "previous: not an object");
        previous = NULL;
    }
    egide_payload_facts_t facts;
    char *perr = NULL;
    egide_rc rc = egide_payload_from_jansson(type, payload ? payload : json_null(), r->o->now_ms,
                                             NULL, &facts, &perr);
    if (rc == EGIDE_ERR_VALIDATION) {
        const char *p = perr ? perr : "payload: invalid";
        while (*p) {
            size_t n = strcspn(p, "\n");
            s_err(r, lineno, "payload%s%.*s", *p == '[' ? "" : ".", (int)n, p);
            p += n + (p[n] ? 1 : 0);
        }
        free(perr);
        json_decref(root);
        return EGIDE_OK;
    }
    free(perr);
    if (rc != EGIDE_OK) {
        json_decref(root);
        return rc;
    }
    int64_t when = facts.received_ms;
    const char *received = s_str(root, "received");
    if (json_object_get(root, "received") &&
        (!received || egide_datetime_parse(received, &when) != EGIDE_OK))
        s_err(r, lineno, "received: not a date-time");
    int y, m;
    egide_date_year_month(when, &y, &m);
    if (y != r->o->year) {
        st->other_year++;
        json_decref(root);
        return EGIDE_OK;
    }
    rc = s_events_of(r, lineno, type, payload, previous, when, events, st, first_dept);
    json_decref(root);
    return rc;
}

struct egide_olinpe {
    s_run_t r;               /* options and errors */
    egide_olinpe_stats_t st; /* counters so far */
    json_t *events;          /* the events so far (codes and pseudonyms only) */
    char first_dept[4];      /* the first event's department */
    size_t lineno;           /* lines given so far (numbering errors) */
    egide_rc failed;         /* a resource error met: every later call returns it */
};

static egide_rc s_check_opts(const egide_olinpe_opts_t *opts)
{
    if (!opts || opts->year < 2000 || opts->year > 2199 || !opts->key ||
        opts->key_len < EGIDE_PSEUDO_MIN_KEY || opts->key_len > EGIDE_PSEUDO_MAX_KEY)
        return EGIDE_ERR_INVALID;
    return EGIDE_OK;
}

egide_rc egide_olinpe_new(const egide_olinpe_opts_t *opts, egide_olinpe_t **out)
{
    if (!out)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    egide_rc rc = s_check_opts(opts);
    if (rc)
        return rc;
    egide_olinpe_t *b = calloc(1, sizeof *b);
    if (!b)
        return EGIDE_ERR_NOMEM;
    b->r.o = opts;
    egide_buf_init(&b->r.errs, 64u * 1024u);
    b->events = json_array();
    if (!b->events) {
        free(b);
        return EGIDE_ERR_NOMEM;
    }
    *out = b;
    return EGIDE_OK;
}

void egide_olinpe_destroy(egide_olinpe_t **bp)
{
    if (!bp || !*bp)
        return;
    egide_olinpe_t *b = *bp;
    json_decref(b->events);
    egide_buf_free(&b->r.errs);
    free(b);
    *bp = NULL;
}

egide_rc egide_olinpe_add(egide_olinpe_t *b, const char *line, size_t len)
{
    if (!b || (!line && len))
        return EGIDE_ERR_INVALID;
    if (b->failed)
        return b->failed;
    if (len > EGIDE_MAX_JSON_BODY)
        return EGIDE_ERR_LIMIT;
    b->lineno++;
    size_t k = 0;
    while (k < len && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r'))
        k++;
    if (k == len || line[k] == '#')
        return EGIDE_OK;
    egide_rc rc = s_line(&b->r, b->lineno, line, len, b->events, &b->st, b->first_dept);
    if (rc)
        b->failed = rc;
    return rc;
}

egide_rc egide_olinpe_finish(egide_olinpe_t *b, char **out_json, egide_olinpe_stats_t *stats,
                             char **errors)
{
    if (errors)
        *errors = NULL;
    if (out_json)
        *out_json = NULL;
    if (!b || !out_json)
        return EGIDE_ERR_INVALID;
    const egide_olinpe_opts_t *opts = b->r.o;
    s_run_t *r = &b->r;
    const egide_pseudo_alg_t *alg = opts->alg ? opts->alg : egide_pseudo_alg_find(NULL);
    egide_rc rc = b->failed;
    json_t *root = NULL;
    if (rc == EGIDE_OK && r->nerr == 0) {
        const char *dept = opts->department ? opts->department : b->first_dept;
        if (!dept[0]) {
            s_err(r, b->lineno, "department: no event to take it from (give one)");
        } else {
            char gen[32];
            egide_datetime_format(opts->now_ms, gen, sizeof gen);
            root = json_object();
            if (!root) {
                rc = EGIDE_ERR_NOMEM;
            } else {
                json_object_set_new(root, "department", json_string(dept));
                json_object_set_new(root, "year", json_integer(opts->year));
                json_object_set_new(root, "algorithm", json_string(alg->name));
                json_object_set_new(root, "generated_at", json_string(gen));
                if (json_array_size(b->events) > 0)
                    json_object_set(root, "events", b->events);
                /* The export is a catalogue payload too: check it as one. */
                char *verr = NULL;
                egide_rc vrc = egide_payload_from_jansson(EGIDE_TYPE_OBSERVATORY_EXPORT, root,
                                                          opts->now_ms, NULL, NULL, &verr);
                if (vrc == EGIDE_ERR_VALIDATION)
                    s_err(r, b->lineno, "export: %s", verr ? verr : "invalid");
                else if (vrc != EGIDE_OK)
                    rc = vrc;
                free(verr);
            }
        }
    }
    if (rc == EGIDE_OK && r->nerr > 0) {
        rc = EGIDE_ERR_VALIDATION;
        if (errors && r->errs.len > 0) {
            *errors = malloc(r->errs.len);
            if (*errors) {
                memcpy(*errors, r->errs.data, r->errs.len - 1);
                (*errors)[r->errs.len - 1] = '\0';
            }
        }
    }
    if (rc == EGIDE_OK) {
        *out_json = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (!*out_json)
            rc = EGIDE_ERR_NOMEM;
    }
    if (stats)
        *stats = b->st;
    json_decref(root);
    return rc;
}

bool egide_observatory_type_counted(const char *type)
{
    for (size_t i = 0; type && i < sizeof s_events / sizeof s_events[0]; i++)
        if (strcmp(s_events[i].type, type) == 0)
            return true;
    return false;
}

egide_rc egide_observatory_export(const char *in, size_t len, const egide_olinpe_opts_t *opts,
                                  char **out_json, egide_olinpe_stats_t *stats, char **errors)
{
    if (errors)
        *errors = NULL;
    if (out_json)
        *out_json = NULL;
    if (!opts || !out_json || (!in && len))
        return EGIDE_ERR_INVALID;
    if (s_check_opts(opts))
        return EGIDE_ERR_INVALID;
    if (len > (size_t)EGIDE_MAX_JSON_BODY * 4)
        return EGIDE_ERR_LIMIT;
    egide_olinpe_t *b = NULL;
    egide_rc rc = egide_olinpe_new(opts, &b);
    size_t pos = 0;
    while (!rc && pos < len) {
        const char *nl = memchr(in + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (in + pos)) : len - pos;
        rc = egide_olinpe_add(b, in + pos, n);
        pos += n + (nl ? 1 : 0);
    }
    if (!rc)
        rc = egide_olinpe_finish(b, out_json, stats, errors);
    else if (stats && b)
        *stats = b->st;
    egide_olinpe_destroy(&b);
    return rc;
}
