/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_payload.c - JSON <-> protobuf for the referral payloads, with strict
 * validation (see egide_payload.h and proto/referral.proto).
 *
 * The conversion is driven by protobuf-c's descriptors, so a field added to
 * referral.proto is converted without touching this file.  What the
 * descriptors cannot say is added here, in three places:
 * - egide_catalogue's table (the only list of types): catalogue type ->
 *   top-level message, content type, its own time field and its main code
 *   (for the facts);
 * - s_required[]: required fields per message ("name+" = at least one);
 * - s_check_string(): checks chosen by field-name convention (*_at date-time,
 *   *_date date, *_month, commune, *department, sha256, pseudonym…), and
 *   s_check_message(): the few cross-field rules.
 * Invariant: a message under construction is always freeable with
 * protobuf_c_message_free_unpacked() (strings set only once validated,
 * sub-messages allocated before they are filled, arrays zeroed).
 */
#include "egide/domain/egide_payload.h"

#include <ctype.h>
#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egide.pb-c.h"
#include "egide/domain/egide_catalogue.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/base/egide_date.h"
#include "egide/base/egide_limits.h"
#include "egide/base/egide_util.h"
#include "referral.pb-c.h"

/* ------------------------------------------------------------ type table */

/* The types, their messages and facts fields are egide_catalogue's table. */
typedef egide_catalogue_type_t s_type_t;

static const s_type_t *s_type_find(const char *name)
{
    return egide_catalogue_type_find(name);
}

bool egide_payload_type_known(const char *type)
{
    return s_type_find(type) != NULL;
}

const char *egide_payload_content_type(const char *type)
{
    const s_type_t *t = s_type_find(type);
    return t ? t->content_type : NULL;
}

const char *egide_payload_type_for_content_type(const char *ct)
{
    const s_type_t *t = egide_catalogue_type_for_content_type(ct);
    return t ? t->name : NULL;
}

/* Required fields per message (full proto name); "x+" = at least one x. */
static const struct {
    const char *message;
    const char *fields;
} s_required[] = {
    {"egide.v1.Sender", "type"},
    {"egide.v1.Child", "first_names+ sex birth_date commune"},
    {"egide.v1.Adult", "link"},
    {"egide.v1.OtherMinor", "birth_date"},
    {"egide.v1.Fact", "account"},
    {"egide.v1.Danger", "categories+"},
    {"egide.v1.Attachment", "name media_type size_bytes sha256"},
    {"egide.v1.IpTransmission", "received_at sender children+ danger urgency"},
    {"egide.v1.SnatedTransmission",
     "received_at snated_ref caller_account handler_assessment children+ danger urgency"},
    {"egide.v1.IpQualification", "decided_at case_ref qualification"},
    {"egide.v1.DirectSignalement", "sent_at sender children+ danger urgency"},
    {"egide.v1.SoitTransmis", "issued_at parquet_ref request children+ urgency"},
    {"egide.v1.ParquetSaisine", "sent_at case_ref grounds+ actions_taken children+ danger urgency"},
    {"egide.v1.ParquetFeedback", "decided_at parquet_ref outcome"},
    {"egide.v1.EvaluationAssignment",
     "assigned_at ip_received_at case_ref territory children+ urgency"},
    {"egide.v1.ParentsNotice", "case_ref"},
    {"egide.v1.InformationRequest", "requested_at case_ref addressee questions"},
    {"egide.v1.EvaluationEscalation", "escalated_at case_ref reason facts urgency"},
    {"egide.v1.EvaluationReport",
     "completed_at ip_received_at case_ref evaluators+ children+ conclusion reasons"},
    {"egide.v1.SenderFeedback", "sent_at case_ref outcome"},
    {"egide.v1.DepartmentTransfer",
     "transferred_at case_ref from_department to_department children+ summary"},
    {"egide.v1.EmergencyReception", "received_at children+ circumstances"},
    {"egide.v1.Opp", "ordered_at parquet_ref children+ placed_with grounds"},
    {"egide.v1.CourtDecision", "decided_at court_ref decision children+"},
    {"egide.v1.SituationReport", "report_date court_ref children+ summary"},
    {"egide.v1.Incident", "occurred_at kind children+ description"},
    {"egide.v1.ObservatoryEvent", "pseudonym event_type event_month department"},
    {"egide.v1.ObservatoryExport", "department year algorithm generated_at"},
    {"egide.v1.MessageAcknowledgement", "acknowledged_at acknowledged_by"},
    {"egide.v1.RoutingOverride", "reason"},
    {"egide.v1.RoutingMisrouted", "reported_at case_ref received_msg_id reason reason_text"},
};

/* Free-text fields: up to EGIDE_MAX_TEXT_FIELD, newlines and tabs allowed;
 * also every field whose name ends in "_text" (reason_text). */
static const char *const s_text_fields[] = {
    "account",   "assessment",    "caller_account", "handler_assessment", "household",
    "request",   "actions_taken", "comment",        "next_step",          "instructions",
    "questions", "facts",         "reasons",        "proposed_measures",  "message",
    "summary",   "circumstances", "grounds",        "description",        "withheld_reason",
    NULL};

/* A limit macro as a string literal, for fixed error messages. */
#define S_STR_(x) #x
#define S_STR(x)  S_STR_(x)

/* Most elements of one repeated field (observatory events excepted). */
#define S_MAX_REPEATED 1024u
#define S_MAX_EVENTS   (1u << 20)

/* ------------------------------------------------------------ errors and paths */

/* Length of the valid UTF-8 sequence at s (at most n bytes) and its code
 * point; 0 when the bytes there are not valid UTF-8 (truncated, overlong,
 * a surrogate, or above U+10FFFF). */
static size_t s_utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2, v = s[0] & 0x1fu, min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3, v = s[0] & 0x0fu, min = 0x800;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4, v = s[0] & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3fu);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

/* Characters that move the cursor, end a line or reorder what a terminal or
 * a log viewer shows: C0 and C1 controls, DEL, the line and paragraph
 * separators and the bidirectional formatting characters. */
static bool s_escaped_cp(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
           cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
           cp == 0xfeff;
}

size_t egide_payload_quote(const char *s, size_t len, char *out, size_t outsz)
{
    static const char more[] = "\xe2\x80\xa6"; /* U+2026 "…" */
    if (!out || outsz < 8) {
        if (out && outsz)
            out[0] = '\0';
        return 0;
    }
    if (!s)
        len = 0;
    /* Room kept for the ellipsis, the closing quote and the NUL. */
    size_t room = outsz - (sizeof more - 1) - 2, o = 0, i = 0;
    out[o++] = '"';
    while (i < len) {
        const unsigned char *p = (const unsigned char *)s + i;
        uint32_t cp = 0;
        size_t n = s_utf8_next(p, len - i, &cp);
        char esc[8];
        size_t el;
        if (n == 0) {
            snprintf(esc, sizeof esc, "\\x%02x", p[0]);
            el = 4, n = 1;
        } else if (cp == '"' || cp == '\\') {
            esc[0] = '\\', esc[1] = (char)cp, el = 2;
        } else if (s_escaped_cp(cp)) {
            snprintf(esc, sizeof esc, "\\u%04x", (unsigned)cp);
            el = 6;
        } else {
            memcpy(esc, p, n);
            el = n;
        }
        if (i + n > EGIDE_PAYLOAD_QUOTE_MAX || o + el > room)
            break;
        memcpy(out + o, esc, el);
        o += el;
        i += n;
    }
    if (i < len) {
        memcpy(out + o, more, sizeof more - 1);
        o += sizeof more - 1;
    }
    out[o++] = '"';
    out[o] = '\0';
    return o;
}

typedef struct s_ctx {
    egide_buf_t errs; /* "path: message\n" lines */
    int nerr;         /* errors recorded (including the "too many" one) */
    int64_t now_ms;   /* caller's clock */
    char path[512];   /* current JSON path */
    size_t plen;      /* strlen(path) */
    bool nomem;       /* an allocation failed: the result is EGIDE_ERR_NOMEM */
} s_ctx_t;

static void s_err(s_ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_err(s_ctx_t *c, const char *fmt, ...)
{
    /* Large enough for a quoted value and a full path: never cut inside an
     * escape or a UTF-8 sequence. */
    char msg[EGIDE_PAYLOAD_QUOTE_SIZE + 128], line[sizeof c->path + sizeof msg + 4];
    if (c->nerr > EGIDE_PAYLOAD_MAX_ERRORS)
        return;
    if (c->nerr == EGIDE_PAYLOAD_MAX_ERRORS) {
        snprintf(line, sizeof line, "...: too many errors\n");
    } else {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(line, sizeof line, "%s: %s\n", c->plen ? c->path : "json", msg);
    }
    c->nerr++;
    if (egide_buf_append(&c->errs, line, strlen(line)) != EGIDE_OK)
        c->nomem = true;
}

/* true when s is a plain member name ([A-Za-z_][A-Za-z0-9_]*, at most
 * EGIDE_PAYLOAD_QUOTE_MAX bytes), shown as is in a path; every schema field
 * is one, so only unknown members are ever shown quoted. */
static bool s_plain_name(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char ch = (unsigned char)s[n];
        if (!(ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (n > 0 && ch >= '0' && ch <= '9')))
            return false;
    }
    return n > 0 && n <= EGIDE_PAYLOAD_QUOTE_MAX;
}

/* Append one path segment.  The path is cut at a segment boundary, with
 * "…", when the next segment does not fit: never in the middle of an escape
 * or of a UTF-8 sequence. */
static size_t s_push_seg(s_ctx_t *c, const char *seg)
{
    static const char more[] = "\xe2\x80\xa6"; /* U+2026 "…" */
    const size_t ml = sizeof more - 1;
    size_t saved = c->plen, n = strlen(seg);
    if (c->plen >= ml && memcmp(c->path + c->plen - ml, more, ml) == 0)
        return saved; /* already cut: deeper segments are not shown */
    if (c->plen + n + ml + 1 > sizeof c->path) {
        seg = more;
        n = ml;
    }
    memcpy(c->path + c->plen, seg, n + 1);
    c->plen += n;
    return saved;
}

const char *egide_payload_member(const char *name, char *out, size_t outsz)
{
    if (!out || outsz == 0)
        return out;
    if (name && s_plain_name(name)) {
        snprintf(out, outsz, "%s", name);
    } else {
        char q[EGIDE_PAYLOAD_QUOTE_SIZE];
        egide_payload_quote(name, name ? strlen(name) : 0, q, sizeof q);
        if (strlen(q) + 3 <= outsz)
            snprintf(out, outsz, "[%s]", q);
        else
            out[0] = '\0';
    }
    return out;
}

static size_t s_push_field(s_ctx_t *c, const char *name)
{
    char seg[EGIDE_PAYLOAD_MEMBER_SIZE + 1];
    egide_payload_member(name, seg + 1, sizeof seg - 1);
    seg[0] = '.';
    return s_push_seg(c, c->plen && seg[1] != '[' ? seg : seg + 1);
}

static size_t s_push_index(s_ctx_t *c, size_t i)
{
    char seg[32];
    snprintf(seg, sizeof seg, "[%zu]", i);
    return s_push_seg(c, seg);
}

static void s_pop(s_ctx_t *c, size_t saved)
{
    c->plen = saved;
    c->path[saved] = '\0';
}

/* ------------------------------------------------------------ names */

static bool s_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* "DangerCategory" -> "DANGER_CATEGORY_" (the prefix of its value names). */
static void s_enum_prefix(const ProtobufCEnumDescriptor *e, char *out, size_t outsz)
{
    size_t o = 0;
    for (const char *p = e->short_name; *p && o + 3 < outsz; p++) {
        if (isupper((unsigned char)*p) && p != e->short_name)
            out[o++] = '_';
        out[o++] = (char)toupper((unsigned char)*p);
    }
    out[o++] = '_';
    out[o] = '\0';
}

/* The JSON name of an enum value: prefix removed, lower case. */
static bool s_enum_json_name(const ProtobufCEnumDescriptor *e, const ProtobufCEnumValue *v,
                             char *out, size_t outsz)
{
    char prefix[80];
    s_enum_prefix(e, prefix, sizeof prefix);
    size_t pl = strlen(prefix);
    if (strncmp(v->name, prefix, pl) != 0)
        return false;
    size_t o = 0;
    for (const char *p = v->name + pl; *p; p++) {
        if (o + 1 >= outsz)
            return false;
        out[o++] = (char)tolower((unsigned char)*p);
    }
    out[o] = '\0';
    return true;
}

/* A noun for enum errors: the last word of the enum name ("category"). */
static void s_enum_noun(const ProtobufCEnumDescriptor *e, char *out, size_t outsz)
{
    const char *last = e->short_name;
    for (const char *p = e->short_name; *p; p++)
        if (isupper((unsigned char)*p))
            last = p;
    size_t o = 0;
    for (const char *p = last; *p && o + 1 < outsz; p++)
        out[o++] = (char)tolower((unsigned char)*p);
    out[o] = '\0';
}

/* Singular of a repeated field name for "at least one …". */
static void s_singular(const char *field, char *out, size_t outsz)
{
    if (strcmp(field, "children") == 0) {
        egide_strlcpy(out, "child", outsz);
        return;
    }
    egide_strlcpy(out, field, outsz);
    size_t n = strlen(out);
    if (n > 3 && strcmp(out + n - 3, "ies") == 0) {
        out[n - 3] = 'y';
        out[n - 2] = '\0';
    } else if (n > 1 && out[n - 1] == 's') {
        out[n - 1] = '\0';
    }
    for (char *p = out; *p; p++)
        if (*p == '_')
            *p = ' ';
}

/* ------------------------------------------------------------ string rules */

static bool s_is_text_field(const char *name)
{
    if (s_ends_with(name, "_text"))
        return true;
    for (size_t i = 0; s_text_fields[i]; i++)
        if (strcmp(s_text_fields[i], name) == 0)
            return true;
    return false;
}

static bool s_all(const char *s, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++)
        if (!strchr(set, s[i]) || s[i] == '\0')
            return false;
    return true;
}

/* An INSEE commune code: 5 digits (not 00xxx, not 20xxx since 1976), or 2A/2B + 3 digits. */
static bool s_is_commune(const char *s)
{
    if (strlen(s) != 5)
        return false;
    if ((s[0] == '2') && (s[1] == 'A' || s[1] == 'B'))
        return s_all(s + 2, 3, "0123456789");
    if (!s_all(s, 5, "0123456789"))
        return false;
    return !(s[0] == '0' && s[1] == '0') && !(s[0] == '2' && s[1] == '0');
}

/* A department code: 01-95 (not 20), 2A, 2B, 971-978, 984-988. */
static bool s_is_department(const char *s)
{
    size_t n = strlen(s);
    if (n == 2) {
        if (strcmp(s, "2A") == 0 || strcmp(s, "2B") == 0)
            return true;
        if (!s_all(s, 2, "0123456789"))
            return false;
        int v = (s[0] - '0') * 10 + (s[1] - '0');
        return v >= 1 && v <= 95 && v != 20;
    }
    if (n == 3 && s_all(s, 3, "0123456789")) {
        int v = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
        return (v >= 971 && v <= 978) || (v >= 984 && v <= 988);
    }
    return false;
}

static bool s_is_hex64(const char *s)
{
    return strlen(s) == 64 && s_all(s, 64, "0123456789abcdef");
}

/* The department of an INSEE commune code. */
static void s_department_of(const char *commune, char out[4])
{
    size_t n = (commune[0] == '9' && (commune[1] == '7' || commune[1] == '8')) ? 3 : 2;
    memcpy(out, commune, n);
    out[n] = '\0';
}

/* Check a string field's value by length, characters and naming convention. */
/* Checks chosen by field name: each returns why s is refused, or NULL. */
typedef const char *(*s_string_check_fn)(const s_ctx_t *c, const char *field, const char *s,
                                         size_t len);

static const char *s_chk_datetime(const s_ctx_t *c, const char *field, const char *s, size_t len)
{
    (void)field;
    (void)len;
    int64_t ms;
    if (egide_datetime_parse(s, &ms) != EGIDE_OK)
        return "not a date-time (RFC 3339, e.g. 2026-11-20T09:14:00+01:00)";
    return ms > c->now_ms + EGIDE_DEFAULT_CLOCK_SKEW_MS ? "in the future" : NULL;
}

static const char *s_chk_date(const s_ctx_t *c, const char *field, const char *s, size_t len)
{
    (void)len;
    int64_t ms;
    if (egide_date_parse(s, &ms) != EGIDE_OK)
        return "not a date";
    return strcmp(field, "birth_date") == 0 && ms > c->now_ms ? "in the future" : NULL;
}

static const char *s_chk_month(const s_ctx_t *c, const char *field, const char *s, size_t len)
{
    (void)c, (void)field, (void)len;
    int y, m;
    return egide_date_parse_month(s, &y, &m) != EGIDE_OK ? "not a month (YYYY-MM)" : NULL;
}

static const char *s_chk_commune(const s_ctx_t *c, const char *field, const char *s, size_t len)
{
    (void)c, (void)field, (void)len;
    return s_is_commune(s) ? NULL : "not an INSEE commune code";
}

static const char *s_chk_department(const s_ctx_t *c, const char *field, const char *s, size_t len)
{
    (void)c, (void)field, (void)len;
    return s_is_department(s) ? NULL : "not a department code";
}

static const char *s_chk_sha256(const s_ctx_t *c, const char *field, const char *s, size_t len)
{
    (void)c, (void)field, (void)len;
    return s_is_hex64(s) ? NULL : "not a SHA-256 (64 lower-case hex digits)";
}

static const char *s_chk_pseudonym(const s_ctx_t *c, const char *field, const char *s, size_t len)
{
    (void)c, (void)field, (void)len;
    return s_is_hex64(s) ? NULL : "not a pseudonym (64 lower-case hex digits)";
}

static const char *s_chk_postal(const s_ctx_t *c, const char *field, const char *s, size_t len)
{
    (void)c, (void)field;
    return len == 5 && s_all(s, 5, "0123456789") ? NULL : "not a postal code";
}

static const char *s_chk_phone(const s_ctx_t *c, const char *field, const char *s, size_t len)
{
    (void)c, (void)field;
    return s_all(s, len, "0123456789+ .-()") ? NULL : "not a phone number";
}

static const char *s_chk_email(const s_ctx_t *c, const char *field, const char *s, size_t len)
{
    (void)c, (void)field, (void)len;
    const char *at = strchr(s, '@');
    if (!at || at == s || !at[1] || strchr(at + 1, '@') || strchr(s, ' '))
        return "not an e-mail address";
    return NULL;
}

static const char *s_chk_node_id(const s_ctx_t *c, const char *field, const char *s, size_t len)
{
    (void)c, (void)field;
    if (len > EGIDE_MAX_NODE_ID || !s_all(s, len, "abcdefghijklmnopqrstuvwxyz0123456789.-"))
        return "not a node id";
    return NULL;
}

static const char *s_chk_msg_id(const s_ctx_t *c, const char *field, const char *s, size_t len)
{
    (void)c, (void)field;
    return len == 32 && s_all(s, 32, "0123456789abcdef")
               ? NULL
               : "not a message id (32 lower-case hex digits)";
}

const char *egide_payload_override_reason_problem(const char *s, size_t len)
{
    if (!s || len == 0)
        return "must not be empty";
    if (len > EGIDE_PAYLOAD_OVERRIDE_REASON_MAX)
        return "longer than " S_STR(EGIDE_PAYLOAD_OVERRIDE_REASON_MAX) " bytes";
    for (size_t i = 0; i < len;) {
        uint32_t cp = 0;
        size_t n = s_utf8_next((const unsigned char *)s + i, len - i, &cp);
        if (n == 0)
            return "not valid UTF-8";
        if (s_escaped_cp(cp))
            return "control or formatting character (printable text only)";
        i += n;
    }
    return NULL;
}

/* The routing override's reason (the only string field named "reason":
 * the other "reason" fields are enums). */
static const char *s_chk_reason(const s_ctx_t *c, const char *field, const char *s, size_t len)
{
    (void)c, (void)field;
    return egide_payload_override_reason_problem(s, len);
}

/* A field is checked by the first row whose exact name or suffix it has. */
typedef struct s_string_rule {
    const char *exact;       /* whole field name, or NULL */
    const char *suffix;      /* end of the field name, or NULL */
    s_string_check_fn check; /* the check */
} s_string_rule_t;

static const s_string_rule_t s_string_rules[] = {
    {NULL, "_at", s_chk_datetime},          {"date", "_date", s_chk_date},
    {NULL, "_month", s_chk_month},          {"commune", "_commune", s_chk_commune},
    {NULL, "department", s_chk_department}, {"sha256", NULL, s_chk_sha256},
    {NULL, "pseudonym", s_chk_pseudonym},   {"postal_code", NULL, s_chk_postal},
    {"phone", NULL, s_chk_phone},           {"email", NULL, s_chk_email},
    {"territory", NULL, s_chk_node_id},     {NULL, "_territory", s_chk_node_id},
    {NULL, "_msg_id", s_chk_msg_id},        {"reason", NULL, s_chk_reason},
};

static bool s_check_string(s_ctx_t *c, const char *field, const char *s, size_t len)
{
    if (len == 0) {
        s_err(c, "must not be empty");
        return false;
    }
    bool text = s_is_text_field(field);
    size_t max = text                           ? EGIDE_MAX_TEXT_FIELD
                 : strcmp(field, "reason") == 0 ? EGIDE_PAYLOAD_OVERRIDE_REASON_MAX
                                                : EGIDE_MAX_SHORT_FIELD;
    if (len > max) {
        s_err(c, "longer than %zu bytes", max);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch < 0x20 && !(text && (ch == '\n' || ch == '\r' || ch == '\t'))) || ch == 0x7f) {
            s_err(c, "control character");
            return false;
        }
    }
    for (size_t i = 0; i < sizeof s_string_rules / sizeof s_string_rules[0]; i++) {
        const s_string_rule_t *r = &s_string_rules[i];
        if ((r->exact && strcmp(field, r->exact) == 0) ||
            (r->suffix && s_ends_with(field, r->suffix))) {
            const char *why = r->check(c, field, s, len);
            if (why) {
                s_err(c, "%s", why);
                return false;
            }
            break; /* the first rule that names the field decides */
        }
    }
    return true;
}

/* ------------------------------------------------------------ JSON -> message */

static ProtobufCMessage *s_msg_new(const ProtobufCMessageDescriptor *d)
{
    ProtobufCMessage *m = calloc(1, d->sizeof_message);
    if (m)
        d->message_init(m);
    return m;
}

static size_t s_elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    default:
        return 4;
    }
}

static void s_from_object(s_ctx_t *c, const ProtobufCMessageDescriptor *d, json_t *obj,
                          ProtobufCMessage *m, bool top);

/* Convert one JSON value into the storage at p for field f. */
static void s_set_value(s_ctx_t *c, const ProtobufCFieldDescriptor *f, json_t *v, void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if (!json_is_integer(v)) {
            s_err(c, "not an integer");
            return;
        }
        *(int64_t *)p = (int64_t)json_integer_value(v);
        return;
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if (!json_is_integer(v) || json_integer_value(v) < INT32_MIN ||
            json_integer_value(v) > INT32_MAX) {
            s_err(c, "not a 32-bit integer");
            return;
        }
        *(int32_t *)p = (int32_t)json_integer_value(v);
        return;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > (json_int_t)UINT32_MAX) {
            s_err(c, "not an unsigned 32-bit integer");
            return;
        }
        *(uint32_t *)p = (uint32_t)json_integer_value(v);
        return;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            s_err(c, "not an unsigned integer");
            return;
        }
        *(uint64_t *)p = (uint64_t)json_integer_value(v);
        return;
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v)) {
            s_err(c, "not a boolean");
            return;
        }
        *(protobuf_c_boolean *)p = json_is_true(v);
        return;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *e = f->descriptor;
        char noun[32], name[80];
        s_enum_noun(e, noun, sizeof noun);
        if (json_is_integer(v)) {
            s_err(c, "unknown %s %lld", noun, (long long)json_integer_value(v));
            return;
        }
        if (!json_is_string(v)) {
            s_err(c, "not a string");
            return;
        }
        const char *s = json_string_value(v);
        for (unsigned i = 0; i < e->n_values; i++) {
            if (e->values[i].value == 0)
                continue;
            if (s_enum_json_name(e, &e->values[i], name, sizeof name) && strcmp(name, s) == 0) {
                *(int *)p = e->values[i].value;
                return;
            }
        }
        char q[EGIDE_PAYLOAD_QUOTE_SIZE];
        egide_payload_quote(s, json_string_length(v), q, sizeof q);
        s_err(c, "unknown %s %s", noun, q);
        return;
    }
    case PROTOBUF_C_TYPE_STRING: {
        if (!json_is_string(v)) {
            /* A commune written as a number would lose its leading zero
             * (01053) and cannot be 2A004: named, never taken. */
            if (json_is_number(v) &&
                (strcmp(f->name, "commune") == 0 || s_ends_with(f->name, "_commune")))
                s_err(c, "commune must be a string INSEE code such as \"71137\"");
            else
                s_err(c, "not a string");
            return;
        }
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        if (strlen(s) != len) {
            s_err(c, "contains a NUL character");
            return;
        }
        if (!s_check_string(c, f->name, s, len))
            return;
        char *dup = strdup(s);
        if (!dup) {
            c->nomem = true;
            return;
        }
        *(char **)p = dup;
        return;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        if (!json_is_string(v)) {
            s_err(c, "not a string");
            return;
        }
        uint8_t *out = NULL;
        size_t outlen = 0;
        egide_rc rc = egide_base64_decode(json_string_value(v), json_string_length(v), &out,
                                          &outlen, EGIDE_MAX_ATTACHMENT);
        if (rc == EGIDE_ERR_LIMIT) {
            s_err(c, "larger than %u bytes", EGIDE_MAX_ATTACHMENT);
            return;
        }
        if (rc != EGIDE_OK) {
            s_err(c, "not base64");
            return;
        }
        if (outlen == 0) {
            free(out);
            s_err(c, "must not be empty");
            return;
        }
        ((ProtobufCBinaryData *)p)->data = out;
        ((ProtobufCBinaryData *)p)->len = outlen;
        return;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        if (!json_is_object(v)) {
            s_err(c, "not an object");
            return;
        }
        ProtobufCMessage *sub = s_msg_new(f->descriptor);
        if (!sub) {
            c->nomem = true;
            return;
        }
        *(ProtobufCMessage **)p = sub;
        s_from_object(c, f->descriptor, v, sub, false);
        return;
    }
    default:
        s_err(c, "unsupported field type");
        return;
    }
}

static void s_set_repeated(s_ctx_t *c, const ProtobufCFieldDescriptor *f, json_t *v,
                           ProtobufCMessage *m)
{
    if (!json_is_array(v)) {
        s_err(c, "not an array");
        return;
    }
    size_t n = json_array_size(v);
    size_t max = strcmp(f->name, "events") == 0 ? S_MAX_EVENTS : S_MAX_REPEATED;
    if (n > max) {
        s_err(c, "more than %zu elements", max);
        return;
    }
    if (n == 0)
        return; /* "at least one" is the required check's business */
    size_t esz = s_elem_size(f->type);
    void *arr = calloc(n, esz);
    if (!arr) {
        c->nomem = true;
        return;
    }
    *(size_t *)((char *)m + f->quantifier_offset) = n;
    *(void **)((char *)m + f->offset) = arr;
    for (size_t i = 0; i < n; i++) {
        size_t saved = s_push_index(c, i);
        json_t *e = json_array_get(v, i);
        if (json_is_null(e))
            s_err(c, "null not allowed");
        else
            s_set_value(c, f, e, (char *)arr + i * esz);
        /* A message element must never stay NULL (free_unpacked dereferences it). */
        if (f->type == PROTOBUF_C_TYPE_MESSAGE && !((ProtobufCMessage **)arr)[i]) {
            ProtobufCMessage *sub = s_msg_new(f->descriptor);
            if (!sub) {
                /* Shrink the count so the array stays freeable. */
                *(size_t *)((char *)m + f->quantifier_offset) = i;
                c->nomem = true;
                s_pop(c, saved);
                return;
            }
            ((ProtobufCMessage **)arr)[i] = sub;
        }
        s_pop(c, saved);
    }
}

static void s_check_required(s_ctx_t *c, const ProtobufCMessageDescriptor *d, json_t *obj)
{
    const char *spec = NULL;
    for (size_t i = 0; i < sizeof s_required / sizeof s_required[0]; i++)
        if (strcmp(s_required[i].message, d->name) == 0)
            spec = s_required[i].fields;
    if (!spec)
        return;
    char tok[64];
    const char *p = spec;
    while (*p) {
        size_t n = strcspn(p, " ");
        if (n >= sizeof tok)
            n = sizeof tok - 1;
        memcpy(tok, p, n);
        tok[n] = '\0';
        p += n;
        while (*p == ' ')
            p++;
        bool many = n > 0 && tok[n - 1] == '+';
        if (many)
            tok[n - 1] = '\0';
        json_t *v = json_object_get(obj, tok);
        size_t saved = s_push_field(c, tok);
        if (many) {
            if (!v || (json_is_array(v) && json_array_size(v) == 0)) {
                char one[64];
                s_singular(tok, one, sizeof one);
                s_err(c, "at least one %s", one);
            }
        } else if (!v) {
            s_err(c, "required");
        }
        s_pop(c, saved);
    }
}

/* Field storage by name (NULL if the message has no such field). */
static void *s_field_ptr(const ProtobufCMessage *m, const char *name,
                         const ProtobufCFieldDescriptor **fd)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);
    if (fd)
        *fd = f;
    return f ? (char *)m + f->offset : NULL;
}

static const char *s_field_str(const ProtobufCMessage *m, const char *name)
{
    const ProtobufCFieldDescriptor *f;
    void *p = s_field_ptr(m, name, &f);
    if (!p || f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED)
        return NULL;
    const char *s = *(char **)p;
    return (s && *s) ? s : NULL;
}

static int s_field_int(const ProtobufCMessage *m, const char *name)
{
    const ProtobufCFieldDescriptor *f;
    void *p = s_field_ptr(m, name, &f);
    if (!p || f->label == PROTOBUF_C_LABEL_REPEATED)
        return 0;
    if (f->type == PROTOBUF_C_TYPE_ENUM)
        return *(int *)p;
    if (f->type == PROTOBUF_C_TYPE_BOOL)
        return *(protobuf_c_boolean *)p ? 1 : 0;
    return 0;
}

/* Cross-field rules, run after the members of one object are converted. */
static void s_check_message(s_ctx_t *c, const ProtobufCMessageDescriptor *d, ProtobufCMessage *m,
                            json_t *obj)
{
    size_t saved;
    if (d == &egide__v1__sender__descriptor) {
        const Egide__V1__Sender *s = (const Egide__V1__Sender *)m;
        if (s->anonymous) {
            const char *ident[] = {"name", "phone", "email"};
            for (size_t i = 0; i < 3; i++) {
                if (s_field_str(m, ident[i])) {
                    saved = s_push_field(c, ident[i]);
                    s_err(c, "must be absent for an anonymous sender");
                    s_pop(c, saved);
                }
            }
        }
    } else if (d == &egide__v1__attachment__descriptor) {
        const Egide__V1__Attachment *a = (const Egide__V1__Attachment *)m;
        saved = s_push_field(c, "size_bytes");
        if (json_object_get(obj, "size_bytes") && a->size_bytes <= 0)
            s_err(c, "must be positive");
        else if (a->size_bytes > (int64_t)EGIDE_MAX_ATTACHMENT)
            s_err(c, "larger than the limit of %u bytes", EGIDE_MAX_ATTACHMENT);
        s_pop(c, saved);
        if (a->content.len > 0) {
            saved = s_push_field(c, "content");
            if ((int64_t)a->content.len != a->size_bytes) {
                s_err(c, "length differs from size_bytes");
            } else if (a->sha256 && s_is_hex64(a->sha256)) {
                uint8_t h[32];
                char hex[65];
                egide_sha256(a->content.data, a->content.len, h);
                egide_hex_encode(h, 32, hex);
                if (strcmp(hex, a->sha256) != 0)
                    s_err(c, "does not match sha256");
            }
            s_pop(c, saved);
        }
    } else if (d == &egide__v1__danger__descriptor) {
        const Egide__V1__Danger *g = (const Egide__V1__Danger *)m;
        for (size_t i = 0; i < g->n_categories; i++)
            for (size_t j = 0; j < i; j++)
                if (g->categories[i] == g->categories[j] && g->categories[i] != 0) {
                    saved = s_push_field(c, "categories");
                    size_t s2 = s_push_index(c, i);
                    s_err(c, "duplicate category");
                    s_pop(c, s2);
                    s_pop(c, saved);
                    break;
                }
    } else if (d == &egide__v1__parents_notice__descriptor) {
        const Egide__V1__ParentsNotice *n = (const Egide__V1__ParentsNotice *)m;
        bool sent = n->sent_at && *n->sent_at;
        bool reason = n->withheld_reason && *n->withheld_reason;
        if (n->withheld && !reason) {
            saved = s_push_field(c, "withheld_reason");
            s_err(c, "required when withheld");
            s_pop(c, saved);
        }
        if (n->withheld && sent) {
            saved = s_push_field(c, "sent_at");
            s_err(c, "must be absent when withheld");
            s_pop(c, saved);
        }
        if (!n->withheld && !sent) {
            saved = s_push_field(c, "sent_at");
            s_err(c, "required unless withheld");
            s_pop(c, saved);
        }
    } else if (d == &egide__v1__department_transfer__descriptor) {
        const Egide__V1__DepartmentTransfer *t = (const Egide__V1__DepartmentTransfer *)m;
        if (t->from_department && t->to_department && *t->from_department &&
            strcmp(t->from_department, t->to_department) == 0) {
            saved = s_push_field(c, "to_department");
            s_err(c, "same as from_department");
            s_pop(c, saved);
        }
    } else if (d == &egide__v1__observatory_export__descriptor) {
        const Egide__V1__ObservatoryExport *x = (const Egide__V1__ObservatoryExport *)m;
        if (x->year != 0 && (x->year < 2000 || x->year > 2199)) {
            saved = s_push_field(c, "year");
            s_err(c, "out of range");
            s_pop(c, saved);
        }
    }
}

static void s_from_object(s_ctx_t *c, const ProtobufCMessageDescriptor *d, json_t *obj,
                          ProtobufCMessage *m, bool top)
{
    if (!json_is_object(obj)) {
        s_err(c, "not an object");
        return;
    }
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        size_t saved = s_push_field(c, key);
        if (top && strcmp(key, "_comment") == 0) {
            if (!json_is_string(v))
                s_err(c, "not a string");
            s_pop(c, saved);
            continue;
        }
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, key);
        if (!f)
            s_err(c, "unknown field");
        else if (json_is_null(v))
            s_err(c, "null not allowed");
        else if (f->label == PROTOBUF_C_LABEL_REPEATED)
            s_set_repeated(c, f, v, m);
        else
            s_set_value(c, f, v, (char *)m + f->offset);
        s_pop(c, saved);
        if (c->nomem)
            return;
    }
    s_check_required(c, d, obj);
    s_check_message(c, d, m, obj);
}

/* ------------------------------------------------------------ facts */

/* An int64 "year" field (observatory.export) within 1900..2199; else 0. */
static int s_field_year(const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f;
    void *p = s_field_ptr(m, "year", &f);
    if (!p || f->label == PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_INT64)
        return 0;
    int64_t y = *(int64_t *)p;
    return y >= 1900 && y <= 2199 ? (int)y : 0;
}

static void s_fill_facts(const s_type_t *t, const ProtobufCMessage *m, int64_t now_ms,
                         egide_payload_facts_t *fx)
{
    memset(fx, 0, sizeof *fx);
    int64_t ms;
    fx->received_ms = now_ms;
    const char *ts = s_field_str(m, t->time_field);
    if (ts && (egide_datetime_parse(ts, &ms) == EGIDE_OK || egide_date_parse(ts, &ms) == EGIDE_OK))
        fx->received_ms = ms;
    fx->urgency = s_field_int(m, "urgency");
    if (fx->urgency == 0)
        fx->urgency = EGIDE__V1__URGENCY__URGENCY_NORMAL;
    const char *s;
    if ((s = s_field_str(m, "ip_received_at")) && egide_datetime_parse(s, &ms) == EGIDE_OK)
        fx->ip_received_ms = ms;
    if ((s = s_field_str(m, "je_seized_at")) && egide_datetime_parse(s, &ms) == EGIDE_OK)
        fx->je_seized_ms = ms;
    if ((s = s_field_str(m, "due_date")) && egide_date_parse(s, &ms) == EGIDE_OK)
        fx->requested_due_ms = ms;
    if ((s = s_field_str(m, "case_ref")) && strlen(s) < sizeof fx->case_ref)
        egide_strlcpy(fx->case_ref, s, sizeof fx->case_ref);
    fx->year = s_field_year(m);
    fx->runaway = s_field_int(m, "runaway") != 0;
    fx->parental_agreement = s_field_int(m, "parental_agreement");

    if (t->kind_field) {
        const ProtobufCFieldDescriptor *f;
        void *p = s_field_ptr(m, t->kind_field, &f);
        if (p && f->type == PROTOBUF_C_TYPE_ENUM) {
            const ProtobufCEnumValue *ev =
                protobuf_c_enum_descriptor_get_value(f->descriptor, *(int *)p);
            if (ev)
                s_enum_json_name(f->descriptor, ev, fx->kind, sizeof fx->kind);
        }
    }

    const ProtobufCFieldDescriptor *f;
    void *p = s_field_ptr(m, "sender", &f);
    if (p && f->type == PROTOBUF_C_TYPE_MESSAGE && *(ProtobufCMessage **)p) {
        const Egide__V1__Sender *snd = *(Egide__V1__Sender **)p;
        fx->anonymous_sender = snd->anonymous;
        fx->confidential_sender = snd->confidential;
    }
    p = s_field_ptr(m, "danger", &f);
    if (p && f->type == PROTOBUF_C_TYPE_MESSAGE && *(ProtobufCMessage **)p)
        fx->health_data = (*(Egide__V1__Danger **)p)->health_data;

    p = s_field_ptr(m, "children", &f);
    if (p && f->label == PROTOBUF_C_LABEL_REPEATED &&
        f->descriptor == &egide__v1__child__descriptor) {
        size_t n = *(size_t *)((char *)m + f->quantifier_offset);
        Egide__V1__Child **kids = *(Egide__V1__Child ***)p;
        fx->n_children = (int)n;
        for (size_t i = 0; i < n; i++) {
            if (i == 0 && kids[i]->commune && s_is_commune(kids[i]->commune)) {
                egide_strlcpy(fx->commune, kids[i]->commune, sizeof fx->commune);
                s_department_of(fx->commune, fx->department);
            }
            if (kids[i]->commune && s_is_commune(kids[i]->commune) &&
                !egide_payload_facts_has_commune(fx, kids[i]->commune)) {
                if (fx->n_communes < EGIDE_PAYLOAD_MAX_COMMUNES)
                    egide_strlcpy(fx->communes[fx->n_communes++], kids[i]->commune,
                                  sizeof fx->communes[0]);
                else
                    fx->more_communes = true;
            }
            if (kids[i]->birth_date && egide_date_parse(kids[i]->birth_date, &ms) == EGIDE_OK) {
                if (fx->youngest_birth_ms == 0 || ms > fx->youngest_birth_ms)
                    fx->youngest_birth_ms = ms;
                if (egide_date_add_months(ms, 24) > fx->received_ms)
                    fx->child_under_2 = true;
            }
        }
    }
    if (!fx->commune[0] && (s = s_field_str(m, "new_commune")) && s_is_commune(s)) {
        egide_strlcpy(fx->commune, s, sizeof fx->commune);
        s_department_of(fx->commune, fx->department);
    }
    if (!fx->department[0] && (s = s_field_str(m, "department")) && s_is_department(s))
        egide_strlcpy(fx->department, s, sizeof fx->department);
    if ((s = s_field_str(m, "territory")) && strlen(s) < sizeof fx->territory)
        egide_strlcpy(fx->territory, s, sizeof fx->territory);
    p = s_field_ptr(m, "routing_override", &f);
    fx->routing_override =
        p && f->type == PROTOBUF_C_TYPE_MESSAGE && *(ProtobufCMessage **)p != NULL;
}

bool egide_payload_facts_has_commune(const egide_payload_facts_t *facts, const char *commune)
{
    if (!facts || !commune)
        return false;
    for (int i = 0; i < facts->n_communes && i < EGIDE_PAYLOAD_MAX_COMMUNES; i++)
        if (strcmp(facts->communes[i], commune) == 0)
            return true;
    return false;
}

/* ------------------------------------------------------------ public: JSON in */

static char *s_take_errors(s_ctx_t *c)
{
    if (c->errs.len == 0)
        return NULL;
    char *out = malloc(c->errs.len);
    if (!out)
        return NULL;
    memcpy(out, c->errs.data, c->errs.len - 1); /* drop the last '\n' */
    out[c->errs.len - 1] = '\0';
    return out;
}

egide_rc egide_payload_from_jansson(const char *type, const void *root, int64_t now_ms, void **msg,
                                    egide_payload_facts_t *facts, char **errors)
{
    if (errors)
        *errors = NULL;
    if (msg)
        *msg = NULL;
    if (!type || !root)
        return EGIDE_ERR_INVALID;
    const s_type_t *t = s_type_find(type);
    if (!t)
        return EGIDE_ERR_NOTFOUND;
    s_ctx_t c;
    memset(&c, 0, sizeof c);
    c.now_ms = now_ms;
    egide_buf_init(&c.errs, 64u * 1024u);
    ProtobufCMessage *m = s_msg_new(t->payload);
    if (!m)
        return EGIDE_ERR_NOMEM;
    s_from_object(&c, t->payload, (json_t *)root, m, true);
    if (c.nomem) {
        protobuf_c_message_free_unpacked(m, NULL);
        egide_buf_free(&c.errs);
        return EGIDE_ERR_NOMEM;
    }
    if (c.nerr > 0) {
        protobuf_c_message_free_unpacked(m, NULL);
        if (errors)
            *errors = s_take_errors(&c);
        egide_buf_free(&c.errs);
        return EGIDE_ERR_VALIDATION;
    }
    egide_buf_free(&c.errs);
    if (facts)
        s_fill_facts(t, m, now_ms, facts);
    if (msg)
        *msg = m;
    else
        protobuf_c_message_free_unpacked(m, NULL);
    return EGIDE_OK;
}

void egide_payload_message_free(void *msg)
{
    if (msg)
        protobuf_c_message_free_unpacked(msg, NULL);
}

/* One-error list for problems with the document itself. */
static char *s_one_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *s_one_error(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    return strdup(line);
}

egide_rc egide_payload_from_json(const char *type, const char *json, size_t len, int64_t now_ms,
                                 uint8_t **pb, size_t *pb_len, egide_payload_facts_t *facts,
                                 char **errors)
{
    if (errors)
        *errors = NULL;
    if (pb)
        *pb = NULL;
    if (pb_len)
        *pb_len = 0;
    if (!type || (!json && len) || (pb && !pb_len))
        return EGIDE_ERR_INVALID;
    if (!s_type_find(type))
        return EGIDE_ERR_NOTFOUND;
    if (len > EGIDE_MAX_JSON_BODY)
        return EGIDE_ERR_LIMIT;
    json_error_t jerr;
    json_t *root = json_loadb(json ? json : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (errors) {
            char safe[160];
            egide_sanitize(jerr.text, strlen(jerr.text), safe, sizeof safe);
            *errors = s_one_error("json: invalid JSON at line %d column %d: %s", jerr.line,
                                  jerr.column, safe);
        }
        return EGIDE_ERR_VALIDATION;
    }
    void *msg = NULL;
    egide_rc rc = egide_payload_from_jansson(type, root, now_ms, &msg, facts, errors);
    json_decref(root);
    if (rc != EGIDE_OK)
        return rc;
    size_t n = protobuf_c_message_get_packed_size(msg);
    if (n > EGIDE_MAX_PAYLOAD) {
        egide_payload_message_free(msg);
        return EGIDE_ERR_LIMIT;
    }
    if (pb) {
        uint8_t *out = malloc(n ? n : 1);
        if (!out) {
            egide_payload_message_free(msg);
            return EGIDE_ERR_NOMEM;
        }
        protobuf_c_message_pack(msg, out);
        *pb = out;
        *pb_len = n;
    }
    egide_payload_message_free(msg);
    return EGIDE_OK;
}

/* ------------------------------------------------------------ message -> JSON */

/* Sets *bad when a string is not valid UTF-8 (jansson refuses it). */
static json_t *s_value_json(const ProtobufCFieldDescriptor *f, const void *p, bool *bad);

static json_t *s_to_object(const ProtobufCMessage *m, bool *bad)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    json_t *obj = json_object();
    if (!obj) {
        *bad = true;
        return NULL;
    }
    for (unsigned i = 0; i < d->n_fields && !*bad; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *p = (const char *)m + f->offset;
        json_t *v = NULL;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
            if (n == 0)
                continue;
            const char *arr = *(char *const *)p;
            size_t esz = s_elem_size(f->type);
            v = json_array();
            for (size_t k = 0; v && k < n && !*bad; k++) {
                json_t *e = s_value_json(f, arr + k * esz, bad);
                if (!e || json_array_append_new(v, e) != 0)
                    *bad = true;
            }
        } else {
            switch (f->type) {
            case PROTOBUF_C_TYPE_STRING:
                if (!*(char *const *)p || !**(char *const *)p)
                    continue;
                break;
            case PROTOBUF_C_TYPE_MESSAGE:
                if (!*(ProtobufCMessage *const *)p)
                    continue;
                break;
            case PROTOBUF_C_TYPE_BYTES:
                if (((const ProtobufCBinaryData *)p)->len == 0)
                    continue;
                break;
            case PROTOBUF_C_TYPE_BOOL:
                if (!*(const protobuf_c_boolean *)p)
                    continue;
                break;
            case PROTOBUF_C_TYPE_ENUM:
                if (*(const int *)p == 0)
                    continue;
                break;
            case PROTOBUF_C_TYPE_INT64:
            case PROTOBUF_C_TYPE_SINT64:
            case PROTOBUF_C_TYPE_SFIXED64:
            case PROTOBUF_C_TYPE_UINT64:
            case PROTOBUF_C_TYPE_FIXED64:
                if (*(const int64_t *)p == 0)
                    continue;
                break;
            default:
                if (*(const int32_t *)p == 0)
                    continue;
                break;
            }
            v = s_value_json(f, p, bad);
        }
        if (!v || json_object_set_new(obj, f->name, v) != 0)
            *bad = true;
    }
    if (*bad) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

static json_t *s_value_json(const ProtobufCFieldDescriptor *f, const void *p, bool *bad)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        json_t *v = json_string(s ? s : "");
        if (!v)
            *bad = true;
        return v;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return s_to_object(*(ProtobufCMessage *const *)p, bad);
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        char *s = egide_base64_encode(b->data, b->len);
        json_t *v = s ? json_string(s) : NULL;
        free(s);
        if (!v)
            *bad = true;
        return v;
    }
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_ENUM: {
        int val = *(const int *)p;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, val);
        char name[80];
        if (ev && s_enum_json_name(f->descriptor, ev, name, sizeof name))
            return json_string(name);
        return json_integer(val); /* unknown value: kept as a number, refused on input */
    }
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return json_integer((json_int_t) * (const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return json_integer((json_int_t) * (const uint64_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer((json_int_t) * (const uint32_t *)p);
    default:
        return json_integer((json_int_t) * (const int32_t *)p);
    }
}

/* Unknown field numbers anywhere in the tree (the schema is not recursive,
 * depth is bounded anyway). */
static size_t s_count_unknown(const ProtobufCMessage *m, int depth)
{
    if (!m || depth > 16)
        return 0;
    size_t n = m->n_unknown_fields;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *p = (const char *)m + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t k = *(const size_t *)((const char *)m + f->quantifier_offset);
            ProtobufCMessage *const *arr = *(ProtobufCMessage *const *const *)p;
            for (size_t j = 0; j < k; j++)
                n += s_count_unknown(arr[j], depth + 1);
        } else {
            n += s_count_unknown(*(ProtobufCMessage *const *)p, depth + 1);
        }
    }
    return n;
}

/* Unpack and convert to a jansson tree; counts unknown field numbers. */
static egide_rc s_unpack_json(const char *type, const uint8_t *pb, size_t len, json_t **out,
                              size_t *unknown)
{
    *out = NULL;
    if (!type || (!pb && len))
        return EGIDE_ERR_INVALID;
    const s_type_t *t = s_type_find(type);
    if (!t)
        return EGIDE_ERR_NOTFOUND;
    if (len > EGIDE_MAX_PAYLOAD)
        return EGIDE_ERR_LIMIT;
    static const uint8_t empty[1] = {0};
    ProtobufCMessage *m = protobuf_c_message_unpack(t->payload, NULL, len, pb ? pb : empty);
    if (!m)
        return EGIDE_ERR_PROTO;
    if (unknown)
        *unknown = s_count_unknown(m, 0);
    bool bad = false;
    json_t *j = s_to_object(m, &bad);
    protobuf_c_message_free_unpacked(m, NULL);
    if (!j)
        return EGIDE_ERR_PROTO;
    *out = j;
    return EGIDE_OK;
}

egide_rc egide_payload_to_json(const char *type, const uint8_t *pb, size_t len, char **json)
{
    if (!json)
        return EGIDE_ERR_INVALID;
    *json = NULL;
    json_t *j;
    egide_rc rc = s_unpack_json(type, pb, len, &j, NULL);
    if (rc != EGIDE_OK)
        return rc;
    *json = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    return *json ? EGIDE_OK : EGIDE_ERR_NOMEM;
}

egide_rc egide_payload_check(const char *type, const uint8_t *pb, size_t len, int64_t now_ms,
                             egide_payload_facts_t *facts, char **errors)
{
    if (errors)
        *errors = NULL;
    json_t *j;
    size_t unknown = 0;
    egide_rc rc = s_unpack_json(type, pb, len, &j, &unknown);
    if (rc != EGIDE_OK)
        return rc;
    if (unknown > 0) {
        json_decref(j);
        if (errors)
            *errors = s_one_error("json: %zu unknown field number(s)", unknown);
        return EGIDE_ERR_VALIDATION;
    }
    rc = egide_payload_from_jansson(type, j, now_ms, NULL, facts, errors);
    json_decref(j);
    return rc;
}
