/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_directory.c - loading, verifying, validating and querying the signed
 * directory (see egide_directory.h for the contract).
 *
 * Everything here treats the directory bytes as hostile until the signature
 * has been verified with the pinned anchor, and still validates every field
 * afterwards: an authority's tooling bug must not become a daemon crash.
 * protobuf-c gives us a tree of strings and byte arrays; we never modify it,
 * and we index it with arrays of borrowed pointers sorted by key, so lookups
 * are bsearch() and the directory needs no locking once loaded.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "egide/domain/egide_catalogue.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/directory/egide_directory.h"
#include "egide/base/egide_limits.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"

/* One postal code -> one route (a code covering k communes has k entries). */
typedef struct s_postal {
    const char *code;                   /* borrowed from the route */
    const Egide__V1__RouteEntry *route; /* borrowed */
} s_postal_t;

/* The indexes over a parsed Directory.  Invariant: every array is sorted by
 * its key with no duplicate key (postal: sorted by code then commune), and
 * every pointer borrows from `dir`. */
typedef struct s_index {
    const Egide__V1__Directory *dir;
    const Egide__V1__NodeEntry **by_id;    /* n_nodes, by id */
    const Egide__V1__NodeEntry **by_curve; /* n_nodes, by CURVE key */
    size_t n_nodes;
    const Egide__V1__RouteEntry **routes; /* n_routes, by commune */
    size_t n_routes;
    const Egide__V1__AccessRule **rules; /* n_rules, by (sender_role, type) */
    size_t n_rules;
    s_postal_t *postal; /* n_postal */
    size_t n_postal;
} s_index_t;

struct egide_directory {
    uint8_t *signed_bytes;     /* copy of what was loaded, served as is */
    size_t signed_len;         /* its length */
    Egide__V1__Directory *dir; /* parsed, owned */
    s_index_t idx;             /* borrows from dir */
};

/* The route fields a rule's route_to may name. */
static const char *const s_route_fields[] = {"crip", "territory", "parquet", "court", "police"};
#define S_NFIELDS (sizeof s_route_fields / sizeof s_route_fields[0])

/* ------------------------------------------------------------------ syntax */

static bool s_is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
static bool s_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

bool egide_directory_node_id_valid(const char *id)
{
    if (!id || !s_is_lower_alnum(id[0]))
        return false;
    size_t n = 0;
    for (const char *p = id; *p; p++, n++) {
        if (n >= EGIDE_MAX_NODE_ID)
            return false;
        char c = *p;
        if (!(s_is_lower_alnum(c) || c == '.' || c == '-' || c == '_'))
            return false;
        if (c == '.' && (p[1] == '.' || p[1] == '\0'))
            return false;
    }
    return true;
}

bool egide_directory_commune_valid(const char *code)
{
    if (!code || strlen(code) != 5)
        return false;
    bool head = (s_is_digit(code[0]) && s_is_digit(code[1])) ||
                (code[0] == '2' && (code[1] == 'A' || code[1] == 'B'));
    return head && s_is_digit(code[2]) && s_is_digit(code[3]) && s_is_digit(code[4]);
}

bool egide_directory_department_valid(const char *dep)
{
    if (!dep)
        return false;
    size_t n = strlen(dep);
    if (n == 2)
        return (s_is_digit(dep[0]) && s_is_digit(dep[1]) && !(dep[0] == '9' && dep[1] >= '7') &&
                !(dep[0] == '0' && dep[1] == '0')) ||
               (dep[0] == '2' && (dep[1] == 'A' || dep[1] == 'B'));
    if (n == 3)
        return dep[0] == '9' && (dep[1] == '7' || dep[1] == '8') && s_is_digit(dep[2]);
    return false;
}

bool egide_directory_commune_in_department(const char *commune, const char *department)
{
    if (!egide_directory_commune_valid(commune) || !egide_directory_department_valid(department))
        return false;
    return strncmp(commune, department, strlen(department)) == 0;
}

bool egide_directory_z85_key_valid(const char *z85)
{
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz"
                                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
    if (!z85)
        return false;
    size_t n = 0;
    for (const char *p = z85; *p; p++, n++)
        if (n >= EGIDE_CURVE_KEY_Z85_LEN || !strchr(alphabet, *p))
            return false;
    return n == EGIDE_CURVE_KEY_Z85_LEN;
}

bool egide_directory_postal_valid(const char *pc)
{
    if (!pc || strlen(pc) != 5)
        return false;
    for (int i = 0; i < 5; i++)
        if (!s_is_digit(pc[i]))
            return false;
    return true;
}

/* Well-formed UTF-8 of at most max bytes, without control characters. */
bool egide_directory_text_valid(const char *s, size_t max)
{
    if (!s)
        return false;
    size_t n = strlen(s);
    if (n > max)
        return false;
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        unsigned c = *p;
        size_t k;
        unsigned cp;
        if (c < 0x20 || c == 0x7f)
            return false;
        if (c < 0x80) {
            p++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if ((size_t)(end - p) < k + 1)
            return false;
        for (size_t i = 1; i <= k; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        /* overlong, surrogate, out of range, C1 controls */
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff || (cp >= 0x80 && cp < 0xa0))
            return false;
        p += k + 1;
    }
    return true;
}

static bool s_jurisdiction_valid(const char *s)
{
    if (!s || !s[0] || strlen(s) > 32)
        return false;
    for (const char *p = s; *p; p++)
        if (!(s_is_lower_alnum(*p) || *p == '-'))
            return false;
    return true;
}

static bool s_endpoint_valid(const char *s)
{
    if (!s || strlen(s) > EGIDE_DIRECTORY_MAX_ENDPOINT)
        return false;
    if (strncmp(s, "tcp://", 6) != 0 && strncmp(s, "ipc://", 6) != 0)
        return false;
    if (!s[6])
        return false;
    for (const char *p = s; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f)
            return false;
    return true;
}

/* ------------------------------------------------------------------ index */

static int s_cmp_node_id(const void *a, const void *b)
{
    const Egide__V1__NodeEntry *x = *(const Egide__V1__NodeEntry *const *)a;
    const Egide__V1__NodeEntry *y = *(const Egide__V1__NodeEntry *const *)b;
    return strcmp(x->id, y->id);
}

static int s_cmp_node_curve(const void *a, const void *b)
{
    const Egide__V1__NodeEntry *x = *(const Egide__V1__NodeEntry *const *)a;
    const Egide__V1__NodeEntry *y = *(const Egide__V1__NodeEntry *const *)b;
    return strcmp(x->curve_public_key, y->curve_public_key);
}

static int s_cmp_route(const void *a, const void *b)
{
    const Egide__V1__RouteEntry *x = *(const Egide__V1__RouteEntry *const *)a;
    const Egide__V1__RouteEntry *y = *(const Egide__V1__RouteEntry *const *)b;
    return strcmp(x->commune, y->commune);
}

static int s_cmp_rule(const void *a, const void *b)
{
    const Egide__V1__AccessRule *x = *(const Egide__V1__AccessRule *const *)a;
    const Egide__V1__AccessRule *y = *(const Egide__V1__AccessRule *const *)b;
    int c = strcmp(x->sender_role, y->sender_role);
    return c ? c : strcmp(x->message_type, y->message_type);
}

static int s_cmp_postal(const void *a, const void *b)
{
    const s_postal_t *x = a, *y = b;
    int c = strcmp(x->code, y->code);
    return c ? c : strcmp(x->route->commune, y->route->commune);
}

/* Search keys are wrapped in a fake entry so the comparators can be shared. */
static const Egide__V1__NodeEntry *s_find_node(const s_index_t *ix, const char *id)
{
    if (!id || !ix->by_id)
        return NULL;
    Egide__V1__NodeEntry key = EGIDE__V1__NODE_ENTRY__INIT;
    key.id = (char *)id;
    const Egide__V1__NodeEntry *kp = &key;
    const Egide__V1__NodeEntry **hit =
        bsearch(&kp, ix->by_id, ix->n_nodes, sizeof *ix->by_id, s_cmp_node_id);
    return hit ? *hit : NULL;
}

static const Egide__V1__NodeEntry *s_find_curve(const s_index_t *ix, const char *z85)
{
    if (!z85 || !ix->by_curve)
        return NULL;
    Egide__V1__NodeEntry key = EGIDE__V1__NODE_ENTRY__INIT;
    key.curve_public_key = (char *)z85;
    const Egide__V1__NodeEntry *kp = &key;
    const Egide__V1__NodeEntry **hit =
        bsearch(&kp, ix->by_curve, ix->n_nodes, sizeof *ix->by_curve, s_cmp_node_curve);
    return hit ? *hit : NULL;
}

static const Egide__V1__RouteEntry *s_find_route(const s_index_t *ix, const char *commune)
{
    if (!commune || !ix->routes)
        return NULL;
    Egide__V1__RouteEntry key = EGIDE__V1__ROUTE_ENTRY__INIT;
    key.commune = (char *)commune;
    const Egide__V1__RouteEntry *kp = &key;
    const Egide__V1__RouteEntry **hit =
        bsearch(&kp, ix->routes, ix->n_routes, sizeof *ix->routes, s_cmp_route);
    return hit ? *hit : NULL;
}

static const Egide__V1__AccessRule *s_find_rule(const s_index_t *ix, const char *role,
                                                const char *type)
{
    if (!role || !type || !ix->rules)
        return NULL;
    Egide__V1__AccessRule key = EGIDE__V1__ACCESS_RULE__INIT;
    key.sender_role = (char *)role;
    key.message_type = (char *)type;
    const Egide__V1__AccessRule *kp = &key;
    const Egide__V1__AccessRule **hit =
        bsearch(&kp, ix->rules, ix->n_rules, sizeof *ix->rules, s_cmp_rule);
    return hit ? *hit : NULL;
}

static void s_index_free(s_index_t *ix)
{
    free(ix->by_id);
    free(ix->by_curve);
    free(ix->routes);
    free(ix->rules);
    free(ix->postal);
    memset(ix, 0, sizeof *ix);
}

/* The node id a route gives for a route field name, "" when unset. */
static const char *s_route_field(const Egide__V1__RouteEntry *r, const char *field)
{
    const char *v = NULL;
    if (strcmp(field, "crip") == 0)
        v = r->crip;
    else if (strcmp(field, "territory") == 0)
        v = r->territory;
    else if (strcmp(field, "parquet") == 0)
        v = r->parquet;
    else if (strcmp(field, "court") == 0)
        v = r->court;
    else if (strcmp(field, "police") == 0)
        v = r->police;
    return v ? v : "";
}

static bool s_route_field_known(const char *f)
{
    for (size_t i = 0; i < S_NFIELDS; i++)
        if (f && strcmp(f, s_route_fields[i]) == 0)
            return true;
    return false;
}

static bool s_rule_allows_role(const Egide__V1__AccessRule *rule, const char *role)
{
    for (size_t i = 0; i < rule->n_recipient_roles; i++)
        if (strcmp(rule->recipient_roles[i], role) == 0)
            return true;
    return false;
}

/* The certificate must parse and carry a key of the given type. */
static bool s_cert_has_key(const ProtobufCBinaryData *der, int type)
{
    egide_cert_facts_t f;
    return egide_cert_facts(der->data, der->len, &f) == EGIDE_OK && f.key_type == type;
}

#define S_FAIL(...)                                                                                \
    do {                                                                                           \
        if (err && errlen)                                                                         \
            (void)snprintf(err, errlen, __VA_ARGS__);                                              \
        goto fail;                                                                                 \
    } while (0)

/* A node's role must be one of the listed ones ("" never matches). */
static bool s_node_role_is(const Egide__V1__NodeEntry *n, const char *r1, const char *r2)
{
    return n && ((r1 && strcmp(n->role, r1) == 0) || (r2 && strcmp(n->role, r2) == 0));
}

/* Validate dir and build its indexes into ix.  On failure ix is freed and err
 * says why (ids and codes only, sanitized: they come from the input). */
static egide_rc s_index_build(const Egide__V1__Directory *dir, s_index_t *ix, char *err,
                              size_t errlen)
{
    char safe[96]; /* sanitized copy of an offending value */
#define SAFE(s) egide_sanitize((s), strlen(s), safe, sizeof safe)
    memset(ix, 0, sizeof *ix);
    ix->dir = dir;
    if (err && errlen)
        err[0] = '\0';

    if (dir->format_version != EGIDE_DIRECTORY_FORMAT_VERSION) {
        if (err && errlen)
            (void)snprintf(err, errlen, "unsupported directory format version %u",
                           dir->format_version);
        return EGIDE_ERR_VERSION;
    }
    if (!egide_directory_department_valid(dir->department))
        S_FAIL("bad department code '%s'", SAFE(dir->department));
    if (dir->version == 0)
        S_FAIL("version must be at least 1");
    if (dir->issued_ms <= 0 || dir->not_after_ms <= dir->issued_ms)
        S_FAIL("validity period is empty or negative");
    if (!s_jurisdiction_valid(dir->jurisdiction))
        S_FAIL("bad jurisdiction '%s'", SAFE(dir->jurisdiction));
    if (!egide_directory_text_valid(dir->referral_term, 64))
        S_FAIL("bad referral term");

    /* ---- nodes */
    if (dir->n_nodes == 0 || dir->n_nodes > EGIDE_DIRECTORY_MAX_NODES)
        S_FAIL("node count %zu out of range 1..%u", dir->n_nodes, EGIDE_DIRECTORY_MAX_NODES);
    ix->n_nodes = dir->n_nodes;
    ix->by_id = calloc(dir->n_nodes, sizeof *ix->by_id);
    ix->by_curve = calloc(dir->n_nodes, sizeof *ix->by_curve);
    if (!ix->by_id || !ix->by_curve) {
        s_index_free(ix);
        return EGIDE_ERR_NOMEM;
    }
    for (size_t i = 0; i < dir->n_nodes; i++) {
        const Egide__V1__NodeEntry *n = dir->nodes[i];
        if (!egide_directory_node_id_valid(n->id))
            S_FAIL("node %zu: bad node id '%s'", i, SAFE(n->id));
        if (!egide_catalogue_role_known(n->role))
            S_FAIL("node %s: unknown role '%s'", n->id, SAFE(n->role));
        if (!egide_directory_text_valid(n->display_name, EGIDE_DIRECTORY_MAX_NAME) ||
            !n->display_name[0])
            S_FAIL("node %s: missing or bad display name", n->id);
        if (!s_cert_has_key(&n->signing_cert_der, EVP_PKEY_ED25519))
            S_FAIL("node %s: signing certificate missing, malformed or not Ed25519", n->id);
        bool need_enc = strcmp(n->role, EGIDE_ROLE_BROKER) != 0;
        if ((need_enc || n->encryption_cert_der.len) &&
            !s_cert_has_key(&n->encryption_cert_der, EVP_PKEY_X25519))
            S_FAIL("node %s: encryption certificate missing, malformed or not X25519", n->id);
        if (!egide_directory_z85_key_valid(n->curve_public_key))
            S_FAIL("node %s: CURVE public key is not 40 Z85 characters", n->id);
        if (n->status != EGIDE__V1__NODE_STATUS__NODE_ACTIVE &&
            n->status != EGIDE__V1__NODE_STATUS__NODE_SUSPENDED)
            S_FAIL("node %s: status must be active or suspended", n->id);
        ix->by_id[i] = n;
        ix->by_curve[i] = n;
    }
    qsort(ix->by_id, ix->n_nodes, sizeof *ix->by_id, s_cmp_node_id);
    qsort(ix->by_curve, ix->n_nodes, sizeof *ix->by_curve, s_cmp_node_curve);
    for (size_t i = 1; i < ix->n_nodes; i++) {
        if (strcmp(ix->by_id[i - 1]->id, ix->by_id[i]->id) == 0)
            S_FAIL("duplicate node id %s", ix->by_id[i]->id);
        if (strcmp(ix->by_curve[i - 1]->curve_public_key, ix->by_curve[i]->curve_public_key) == 0)
            S_FAIL("nodes %s and %s share a CURVE key", ix->by_curve[i - 1]->id,
                   ix->by_curve[i]->id);
    }

    /* ---- brokers */
    if (dir->n_brokers == 0 || dir->n_brokers > EGIDE_DIRECTORY_MAX_BROKERS)
        S_FAIL("broker count %zu out of range 1..%u", dir->n_brokers, EGIDE_DIRECTORY_MAX_BROKERS);
    for (size_t i = 0; i < dir->n_brokers; i++) {
        const Egide__V1__BrokerEndpoint *b = dir->brokers[i];
        if (!s_endpoint_valid(b->endpoint))
            S_FAIL("broker %zu: bad endpoint '%s'", i, SAFE(b->endpoint));
        const Egide__V1__NodeEntry *n = s_find_node(ix, b->node_id);
        if (!s_node_role_is(n, EGIDE_ROLE_BROKER, NULL))
            S_FAIL("broker %zu: node '%s' is not a broker node", i, SAFE(b->node_id));
        if (!egide_directory_z85_key_valid(b->curve_public_key) ||
            strcmp(b->curve_public_key, n->curve_public_key) != 0)
            S_FAIL("broker %s: CURVE key differs from its node entry", n->id);
    }

    /* ---- routes */
    if (dir->n_routes > EGIDE_DIRECTORY_MAX_ROUTES)
        S_FAIL("too many routes (%zu > %u)", dir->n_routes, EGIDE_DIRECTORY_MAX_ROUTES);
    ix->n_routes = dir->n_routes;
    size_t n_postal = 0;
    if (dir->n_routes) {
        ix->routes = calloc(dir->n_routes, sizeof *ix->routes);
        if (!ix->routes) {
            s_index_free(ix);
            return EGIDE_ERR_NOMEM;
        }
    }
    for (size_t i = 0; i < dir->n_routes; i++) {
        const Egide__V1__RouteEntry *r = dir->routes[i];
        if (!egide_directory_commune_valid(r->commune))
            S_FAIL("route %zu: bad commune code '%s'", i, SAFE(r->commune));
        if (!egide_directory_commune_in_department(r->commune, dir->department))
            S_FAIL("route %s: commune is not in department %s", r->commune, dir->department);
        if (!s_node_role_is(s_find_node(ix, r->territory), EGIDE_ROLE_TAS, EGIDE_ROLE_ASE))
            S_FAIL("route %s: territory '%s' is not a tas or ase node", r->commune,
                   SAFE(r->territory));
        if (!s_node_role_is(s_find_node(ix, r->crip), EGIDE_ROLE_CRIP, NULL))
            S_FAIL("route %s: crip '%s' is not a crip node", r->commune, SAFE(r->crip));
        if (r->parquet[0] && !s_node_role_is(s_find_node(ix, r->parquet), EGIDE_ROLE_PARQUET, NULL))
            S_FAIL("route %s: parquet '%s' is not a parquet node", r->commune, SAFE(r->parquet));
        if (r->court[0] && !s_node_role_is(s_find_node(ix, r->court), EGIDE_ROLE_COURT, NULL))
            S_FAIL("route %s: court '%s' is not a court node", r->commune, SAFE(r->court));
        if (r->police[0] && !s_node_role_is(s_find_node(ix, r->police), EGIDE_ROLE_POLICE, NULL))
            S_FAIL("route %s: police '%s' is not a police node", r->commune, SAFE(r->police));
        if (!egide_directory_text_valid(r->name, EGIDE_DIRECTORY_MAX_NAME))
            S_FAIL("route %s: bad commune name", r->commune);
        if (r->n_postal_codes > EGIDE_DIRECTORY_MAX_POSTAL_CODES)
            S_FAIL("route %s: too many postal codes", r->commune);
        for (size_t k = 0; k < r->n_postal_codes; k++)
            if (!egide_directory_postal_valid(r->postal_codes[k]))
                S_FAIL("route %s: bad postal code '%s'", r->commune, SAFE(r->postal_codes[k]));
        n_postal += r->n_postal_codes;
        ix->routes[i] = r;
    }
    if (ix->n_routes)
        qsort(ix->routes, ix->n_routes, sizeof *ix->routes, s_cmp_route);
    for (size_t i = 1; i < ix->n_routes; i++)
        if (strcmp(ix->routes[i - 1]->commune, ix->routes[i]->commune) == 0)
            S_FAIL("duplicate route for commune %s", ix->routes[i]->commune);
    if (n_postal) {
        ix->postal = calloc(n_postal, sizeof *ix->postal);
        if (!ix->postal) {
            s_index_free(ix);
            return EGIDE_ERR_NOMEM;
        }
        for (size_t i = 0; i < ix->n_routes; i++)
            for (size_t k = 0; k < ix->routes[i]->n_postal_codes; k++) {
                ix->postal[ix->n_postal].code = ix->routes[i]->postal_codes[k];
                ix->postal[ix->n_postal].route = ix->routes[i];
                ix->n_postal++;
            }
        qsort(ix->postal, ix->n_postal, sizeof *ix->postal, s_cmp_postal);
        for (size_t i = 1; i < ix->n_postal; i++)
            if (s_cmp_postal(&ix->postal[i - 1], &ix->postal[i]) == 0)
                S_FAIL("route %s: postal code %s listed twice", ix->postal[i].route->commune,
                       ix->postal[i].code);
    }

    /* ---- rules */
    if (dir->n_rules > EGIDE_DIRECTORY_MAX_RULES)
        S_FAIL("too many rules (%zu > %u)", dir->n_rules, EGIDE_DIRECTORY_MAX_RULES);
    ix->n_rules = dir->n_rules;
    if (dir->n_rules) {
        ix->rules = calloc(dir->n_rules, sizeof *ix->rules);
        if (!ix->rules) {
            s_index_free(ix);
            return EGIDE_ERR_NOMEM;
        }
    }
    for (size_t i = 0; i < dir->n_rules; i++) {
        const Egide__V1__AccessRule *r = dir->rules[i];
        if (!egide_catalogue_role_known(r->sender_role))
            S_FAIL("rule %zu: unknown sender role '%s'", i, SAFE(r->sender_role));
        if (!egide_catalogue_type_known(r->message_type))
            S_FAIL("rule %zu: unknown message type '%s'", i, SAFE(r->message_type));
        if (r->n_recipient_roles == 0 || r->n_recipient_roles > egide_catalogue_role_count())
            S_FAIL("rule %s/%s: recipient role count out of range", r->sender_role,
                   r->message_type);
        for (size_t k = 0; k < r->n_recipient_roles; k++) {
            if (!egide_catalogue_role_known(r->recipient_roles[k]))
                S_FAIL("rule %s/%s: unknown recipient role '%s'", r->sender_role, r->message_type,
                       SAFE(r->recipient_roles[k]));
            for (size_t j = 0; j < k; j++)
                if (strcmp(r->recipient_roles[j], r->recipient_roles[k]) == 0)
                    S_FAIL("rule %s/%s: recipient role %s listed twice", r->sender_role,
                           r->message_type, r->recipient_roles[k]);
        }
        if (r->n_route_to > S_NFIELDS)
            S_FAIL("rule %s/%s: too many route fields", r->sender_role, r->message_type);
        for (size_t k = 0; k < r->n_route_to; k++) {
            if (!s_route_field_known(r->route_to[k]))
                S_FAIL("rule %s/%s: unknown route field '%s'", r->sender_role, r->message_type,
                       SAFE(r->route_to[k]));
            for (size_t j = 0; j < k; j++)
                if (strcmp(r->route_to[j], r->route_to[k]) == 0)
                    S_FAIL("rule %s/%s: route field %s listed twice", r->sender_role,
                           r->message_type, r->route_to[k]);
            /* Every commune must give a node the rule lets receive the type,
             * or resolve() would produce addressees check_send() refuses. */
            for (size_t c = 0; c < ix->n_routes; c++) {
                const char *id = s_route_field(ix->routes[c], r->route_to[k]);
                const Egide__V1__NodeEntry *n = s_find_node(ix, id);
                if (!n)
                    S_FAIL("rule %s/%s routes to %s, which commune %s does not set", r->sender_role,
                           r->message_type, r->route_to[k], ix->routes[c]->commune);
                if (!s_rule_allows_role(r, n->role))
                    S_FAIL("rule %s/%s routes to %s, but %s (%s) has a role it does not allow",
                           r->sender_role, r->message_type, r->route_to[k], n->id, n->role);
            }
        }
        ix->rules[i] = r;
    }
    if (ix->n_rules)
        qsort(ix->rules, ix->n_rules, sizeof *ix->rules, s_cmp_rule);
    for (size_t i = 1; i < ix->n_rules; i++)
        if (s_cmp_rule(&ix->rules[i - 1], &ix->rules[i]) == 0)
            S_FAIL("duplicate rule for %s sending %s", ix->rules[i]->sender_role,
                   ix->rules[i]->message_type);
    return EGIDE_OK;
#undef SAFE
fail:
    s_index_free(ix);
    return EGIDE_ERR_PROTO;
}

egide_rc egide_directory_validate(const Egide__V1__Directory *dir, char *err, size_t errlen)
{
    if (!dir) {
        if (err && errlen)
            (void)snprintf(err, errlen, "no directory");
        return EGIDE_ERR_INVALID;
    }
    s_index_t ix;
    egide_rc rc = s_index_build(dir, &ix, err, errlen);
    if (rc == EGIDE_OK)
        s_index_free(&ix);
    return rc;
}

/* ------------------------------------------------------------------ load */

/* Is the certificate valid at now_ms? */
static bool s_cert_valid_at(X509 *cert, int64_t now_ms)
{
    time_t t = (time_t)(now_ms / 1000);
    int after = X509_cmp_time(X509_get0_notAfter(cert), &t);
    int before = X509_cmp_time(X509_get0_notBefore(cert), &t);
    /* X509_cmp_time: -1 when the ASN.1 time is before t, 1 after, 0 on error */
    return after > 0 && before < 0;
}

static egide_rc s_load(const uint8_t *bytes, size_t len, X509 *anchor, bool trusted,
                       uint64_t min_version, int64_t now_ms, egide_directory_t **out)
{
    if (!out)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    if (!bytes || (trusted && !anchor))
        return EGIDE_ERR_INVALID;
    if (len == 0)
        return EGIDE_ERR_PROTO;
    if (len > EGIDE_MAX_DIRECTORY) {
        egide_log(EGIDE_LOG_WARNING, "directory: %zu bytes exceeds the %u-byte limit", len,
                  EGIDE_MAX_DIRECTORY);
        return EGIDE_ERR_LIMIT;
    }

    egide_rc rc = EGIDE_ERR_PROTO;
    X509 *embedded = NULL;
    uint8_t *anchor_der = NULL;
    size_t anchor_len = 0;
    Egide__V1__Directory *dir = NULL;
    egide_directory_t *d = NULL;
    Egide__V1__SignedDirectory *sd = egide__v1__signed_directory__unpack(NULL, len, bytes);
    if (!sd) {
        egide_log(EGIDE_LOG_WARNING, "directory: signed wrapper does not parse");
        goto out;
    }
    if (sd->signature.len != EGIDE_ED25519_SIG_LEN || sd->directory.len == 0 ||
        sd->authority_cert_der.len == 0) {
        egide_log(EGIDE_LOG_WARNING, "directory: signed wrapper misses a field");
        goto out;
    }

    /* Verify before parsing the directory. */
    EVP_PKEY *key = NULL;
    if (trusted) {
        key = X509_get0_pubkey(anchor);
        if (!key || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
            egide_log(EGIDE_LOG_WARNING, "directory: the anchor is not an Ed25519 certificate");
            rc = EGIDE_ERR_CERT;
            goto out;
        }
        if (!s_cert_valid_at(anchor, now_ms)) {
            egide_log(EGIDE_LOG_WARNING, "directory: the anchor certificate is not valid now");
            rc = EGIDE_ERR_CERT;
            goto out;
        }
    } else {
        rc =
            egide_cert_from_der(sd->authority_cert_der.data, sd->authority_cert_der.len, &embedded);
        if (rc) {
            egide_log(EGIDE_LOG_WARNING, "directory: embedded authority certificate is malformed");
            goto out;
        }
        key = X509_get0_pubkey(embedded);
        if (!key || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
            egide_log(EGIDE_LOG_WARNING, "directory: embedded authority key is not Ed25519");
            rc = EGIDE_ERR_CERT;
            goto out;
        }
    }
    rc = egide_verify_labeled(key, EGIDE_LABEL_DIRECTORY, sd->directory.data, sd->directory.len,
                              sd->signature.data, sd->signature.len);
    if (rc) {
        egide_log(EGIDE_LOG_WARNING, "directory: signature does not verify with the %s",
                  trusted ? "pinned authority certificate" : "embedded certificate");
        rc = EGIDE_ERR_SIGNATURE;
        goto out;
    }
    if (trusted) {
        rc = egide_cert_to_der(anchor, &anchor_der, &anchor_len);
        if (rc)
            goto out;
        if (anchor_len != sd->authority_cert_der.len ||
            memcmp(anchor_der, sd->authority_cert_der.data, anchor_len) != 0) {
            egide_log(EGIDE_LOG_WARNING,
                      "directory: embedded authority certificate is not the pinned one");
            rc = EGIDE_ERR_CERT;
            goto out;
        }
    }

    dir = egide__v1__directory__unpack(NULL, sd->directory.len, sd->directory.data);
    if (!dir) {
        egide_log(EGIDE_LOG_WARNING, "directory: signed content does not parse");
        rc = EGIDE_ERR_PROTO;
        goto out;
    }
    if (dir->format_version != EGIDE_DIRECTORY_FORMAT_VERSION) {
        egide_log(EGIDE_LOG_WARNING, "directory: unsupported format version %u",
                  dir->format_version);
        rc = EGIDE_ERR_VERSION;
        goto out;
    }
    if (dir->version < min_version) {
        egide_log(EGIDE_LOG_WARNING,
                  "directory: version %llu is older than the minimum %llu: refused",
                  (unsigned long long)dir->version, (unsigned long long)min_version);
        rc = EGIDE_ERR_VERSION;
        goto out;
    }
    if (trusted && now_ms > dir->not_after_ms) {
        egide_log(EGIDE_LOG_WARNING, "directory: version %llu expired",
                  (unsigned long long)dir->version);
        rc = EGIDE_ERR_EXPIRED;
        goto out;
    }
    if (trusted && dir->issued_ms > now_ms &&
        dir->issued_ms - now_ms > (int64_t)EGIDE_DEFAULT_CLOCK_SKEW_MS) {
        egide_log(EGIDE_LOG_WARNING, "directory: version %llu is issued in the future",
                  (unsigned long long)dir->version);
        rc = EGIDE_ERR_EXPIRED;
        goto out;
    }

    d = calloc(1, sizeof *d);
    if (!d) {
        rc = EGIDE_ERR_NOMEM;
        goto out;
    }
    char why[256];
    rc = s_index_build(dir, &d->idx, why, sizeof why);
    if (rc) {
        egide_log(EGIDE_LOG_WARNING, "directory: invalid: %s", why);
        goto out;
    }
    d->signed_bytes = malloc(len);
    if (!d->signed_bytes) {
        rc = EGIDE_ERR_NOMEM;
        goto out;
    }
    memcpy(d->signed_bytes, bytes, len);
    d->signed_len = len;
    d->dir = dir;
    dir = NULL;
    *out = d;
    d = NULL;
    rc = EGIDE_OK;
out:
    if (d) {
        s_index_free(&d->idx);
        free(d->signed_bytes);
        free(d);
    }
    if (dir)
        egide__v1__directory__free_unpacked(dir, NULL);
    if (sd)
        egide__v1__signed_directory__free_unpacked(sd, NULL);
    OPENSSL_free(anchor_der);
    X509_free(embedded);
    return rc;
}

egide_rc egide_directory_load(const uint8_t *signed_bytes, size_t len, X509 *anchor,
                              uint64_t min_version, int64_t now_ms, egide_directory_t **out)
{
    return s_load(signed_bytes, len, anchor, true, min_version, now_ms, out);
}

egide_rc egide_directory_load_untrusted(const uint8_t *signed_bytes, size_t len,
                                        egide_directory_t **out)
{
    return s_load(signed_bytes, len, NULL, false, 0, 0, out);
}

egide_rc egide_directory_load_file(const char *path, X509 *anchor, uint64_t min_version,
                                   int64_t now_ms, egide_directory_t **out)
{
    if (!out)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    if (!path || !anchor)
        return EGIDE_ERR_INVALID;
    uint8_t *buf = NULL;
    size_t len = 0;
    egide_rc rc = egide_file_read(path, EGIDE_MAX_DIRECTORY, &buf, &len);
    if (rc)
        return rc;
    rc = egide_directory_load(buf, len, anchor, min_version, now_ms, out);
    free(buf);
    return rc;
}

void egide_directory_destroy(egide_directory_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    egide_directory_t *d = *self_p;
    s_index_free(&d->idx);
    if (d->dir)
        egide__v1__directory__free_unpacked(d->dir, NULL);
    free(d->signed_bytes);
    free(d);
    *self_p = NULL;
}

/* ------------------------------------------------------------------ queries */

uint64_t egide_directory_version(const egide_directory_t *d)
{
    return d ? d->dir->version : 0;
}

const char *egide_directory_department(const egide_directory_t *d)
{
    return d ? d->dir->department : NULL;
}

int64_t egide_directory_not_after_ms(const egide_directory_t *d)
{
    return d ? d->dir->not_after_ms : 0;
}

const uint8_t *egide_directory_signed_bytes(const egide_directory_t *d, size_t *len)
{
    if (!d) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = d->signed_len;
    return d->signed_bytes;
}

const Egide__V1__Directory *egide_directory_pb(const egide_directory_t *d)
{
    return d ? d->dir : NULL;
}

const Egide__V1__NodeEntry *egide_directory_node(const egide_directory_t *d, const char *node_id)
{
    return d ? s_find_node(&d->idx, node_id) : NULL;
}

const Egide__V1__NodeEntry *egide_directory_node_by_curve(const egide_directory_t *d,
                                                          const char *curve_z85)
{
    return d ? s_find_curve(&d->idx, curve_z85) : NULL;
}

const Egide__V1__BrokerEndpoint *egide_directory_broker(const egide_directory_t *d)
{
    return (d && d->dir->n_brokers) ? d->dir->brokers[0] : NULL;
}

const Egide__V1__RouteEntry *egide_directory_route(const egide_directory_t *d, const char *commune)
{
    return d ? s_find_route(&d->idx, commune) : NULL;
}

const Egide__V1__AccessRule *egide_directory_rule(const egide_directory_t *d,
                                                  const char *sender_role, const char *type)
{
    return d ? s_find_rule(&d->idx, sender_role, type) : NULL;
}

bool egide_directory_node_active(const Egide__V1__NodeEntry *node)
{
    return node && node->status == EGIDE__V1__NODE_STATUS__NODE_ACTIVE;
}

size_t egide_directory_postal_lookup(const egide_directory_t *d, const char *postal_code,
                                     const Egide__V1__RouteEntry **out, size_t max)
{
    if (!d || !egide_directory_postal_valid(postal_code) || !d->idx.n_postal)
        return 0;
    /* lower bound */
    size_t lo = 0, hi = d->idx.n_postal;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(d->idx.postal[mid].code, postal_code) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t count = 0;
    for (size_t i = lo; i < d->idx.n_postal && strcmp(d->idx.postal[i].code, postal_code) == 0;
         i++) {
        if (out && count < max)
            out[count] = d->idx.postal[i].route;
        count++;
    }
    return count;
}

void egide_directory_ids_free(char ***ids)
{
    if (!ids || !*ids)
        return;
    for (char **p = *ids; *p; p++)
        free(*p);
    free(*ids);
    *ids = NULL;
}

egide_rc egide_directory_resolve(const egide_directory_t *d, const char *sender_role,
                                 const char *type, const char *commune, char ***ids)
{
    if (!ids)
        return EGIDE_ERR_INVALID;
    *ids = NULL;
    if (!d || !sender_role || !type || !commune)
        return EGIDE_ERR_INVALID;
    if (!egide_catalogue_type_known(type))
        return EGIDE_ERR_VALIDATION;
    const Egide__V1__AccessRule *rule = s_find_rule(&d->idx, sender_role, type);
    if (!rule)
        return EGIDE_ERR_RULE;
    if (rule->n_route_to == 0)
        return EGIDE_ERR_ROUTE;
    if (!egide_directory_commune_in_department(commune, d->dir->department))
        return EGIDE_ERR_ROUTE;
    const Egide__V1__RouteEntry *route = s_find_route(&d->idx, commune);
    if (!route)
        return EGIDE_ERR_ROUTE;
    char **arr = calloc(rule->n_route_to + 1, sizeof *arr);
    if (!arr)
        return EGIDE_ERR_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < rule->n_route_to; i++) {
        const char *id = s_route_field(route, rule->route_to[i]);
        if (!egide_directory_node_active(s_find_node(&d->idx, id)))
            continue;
        bool dup = false;
        for (size_t j = 0; j < k; j++)
            dup = dup || strcmp(arr[j], id) == 0;
        if (dup)
            continue;
        arr[k] = strdup(id);
        if (!arr[k]) {
            egide_directory_ids_free(&arr);
            return EGIDE_ERR_NOMEM;
        }
        k++;
    }
    if (k == 0) {
        free(arr);
        return EGIDE_ERR_ROUTE;
    }
    *ids = arr;
    return EGIDE_OK;
}

egide_rc egide_directory_check_send(const egide_directory_t *d, const char *sender_id,
                                    const char *type, const char *const *recipient_ids, size_t n,
                                    int *reason)
{
    int dummy;
    if (!reason)
        reason = &dummy;
    *reason = EGIDE__V1__REASON_CODE__REASON_INTERNAL;
    if (!d || !type || (n && !recipient_ids))
        return EGIDE_ERR_INVALID;
    const Egide__V1__NodeEntry *sender = s_find_node(&d->idx, sender_id);
    if (!sender) {
        *reason = EGIDE__V1__REASON_CODE__REASON_UNKNOWN_SENDER;
        return EGIDE_ERR_NOTFOUND;
    }
    if (!egide_directory_node_active(sender)) {
        *reason = EGIDE__V1__REASON_CODE__REASON_NODE_SUSPENDED;
        return EGIDE_ERR_AUTH;
    }
    if (!egide_catalogue_type_known(type)) {
        *reason = EGIDE__V1__REASON_CODE__REASON_UNKNOWN_TYPE;
        return EGIDE_ERR_RULE;
    }
    const Egide__V1__AccessRule *rule = s_find_rule(&d->idx, sender->role, type);
    if (!rule) {
        *reason = EGIDE__V1__REASON_CODE__REASON_FORBIDDEN_TYPE;
        return EGIDE_ERR_RULE;
    }
    if (n == 0) {
        *reason = EGIDE__V1__REASON_CODE__REASON_NO_RECIPIENT;
        return EGIDE_ERR_RULE;
    }
    if (n > EGIDE_MAX_RECIPIENTS) {
        *reason = EGIDE__V1__REASON_CODE__REASON_OVERSIZE;
        return EGIDE_ERR_LIMIT;
    }
    for (size_t i = 0; i < n; i++) {
        if (!recipient_ids[i]) {
            *reason = EGIDE__V1__REASON_CODE__REASON_MALFORMED;
            return EGIDE_ERR_PROTO;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(recipient_ids[j], recipient_ids[i]) == 0) {
                *reason = EGIDE__V1__REASON_CODE__REASON_MALFORMED;
                return EGIDE_ERR_PROTO;
            }
        const Egide__V1__NodeEntry *r = s_find_node(&d->idx, recipient_ids[i]);
        if (!r) {
            *reason = EGIDE__V1__REASON_CODE__REASON_UNKNOWN_RECIPIENT;
            return EGIDE_ERR_NOTFOUND;
        }
        if (!egide_directory_node_active(r)) {
            *reason = EGIDE__V1__REASON_CODE__REASON_NODE_SUSPENDED;
            return EGIDE_ERR_AUTH;
        }
        if (!s_rule_allows_role(rule, r->role)) {
            *reason = EGIDE__V1__REASON_CODE__REASON_FORBIDDEN_RECIPIENT;
            return EGIDE_ERR_RULE;
        }
    }
    *reason = EGIDE__V1__REASON_CODE__REASON_NONE;
    return EGIDE_OK;
}

/* ------------------------------------------------------------------ sign */

egide_rc egide_directory_sign(const Egide__V1__Directory *dir, EVP_PKEY *authority_key,
                              X509 *authority_cert, uint8_t **out, size_t *out_len, char *err,
                              size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out || !out_len)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    *out_len = 0;
    if (!dir || !authority_key || !authority_cert)
        return EGIDE_ERR_INVALID;
    egide_rc rc = egide_directory_validate(dir, err, errlen);
    if (rc)
        return rc;
    size_t dlen = egide__v1__directory__get_packed_size(dir);
    if (dlen > EGIDE_MAX_DIRECTORY - 4096u) {
        if (err && errlen)
            (void)snprintf(err, errlen, "directory of %zu bytes exceeds the limit", dlen);
        return EGIDE_ERR_LIMIT;
    }
    uint8_t *dbuf = malloc(dlen ? dlen : 1);
    uint8_t *cert_der = NULL, *sbuf = NULL;
    size_t cert_len = 0;
    uint8_t sig[EGIDE_ED25519_SIG_LEN];
    if (!dbuf)
        return EGIDE_ERR_NOMEM;
    egide__v1__directory__pack(dir, dbuf);
    rc = egide_sign_labeled(authority_key, EGIDE_LABEL_DIRECTORY, dbuf, dlen, sig);
    if (rc) {
        if (err && errlen)
            (void)snprintf(err, errlen, "signing failed (is the key Ed25519?)");
        goto out;
    }
    EVP_PKEY *pub = X509_get0_pubkey(authority_cert);
    if (!pub || EVP_PKEY_get_id(pub) != EVP_PKEY_ED25519 ||
        egide_verify_labeled(pub, EGIDE_LABEL_DIRECTORY, dbuf, dlen, sig, sizeof sig) != EGIDE_OK) {
        if (err && errlen)
            (void)snprintf(err, errlen, "the authority key does not match its certificate");
        rc = EGIDE_ERR_CERT;
        goto out;
    }
    rc = egide_cert_to_der(authority_cert, &cert_der, &cert_len);
    if (rc)
        goto out;
    Egide__V1__SignedDirectory sd = EGIDE__V1__SIGNED_DIRECTORY__INIT;
    sd.directory.data = dbuf;
    sd.directory.len = dlen;
    sd.authority_cert_der.data = cert_der;
    sd.authority_cert_der.len = cert_len;
    sd.signature.data = sig;
    sd.signature.len = sizeof sig;
    size_t slen = egide__v1__signed_directory__get_packed_size(&sd);
    if (slen > EGIDE_MAX_DIRECTORY) {
        rc = EGIDE_ERR_LIMIT;
        goto out;
    }
    sbuf = malloc(slen);
    if (!sbuf) {
        rc = EGIDE_ERR_NOMEM;
        goto out;
    }
    egide__v1__signed_directory__pack(&sd, sbuf);
    *out = sbuf;
    *out_len = slen;
    rc = EGIDE_OK;
out:
    free(dbuf);
    OPENSSL_free(cert_der);
    return rc;
}
