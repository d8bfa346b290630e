/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_directory_build.c - the directory builder (see the header): nodes
 * and rules read with egide_ini, routes and communes with the small CSV
 * reader below, every cross-reference checked, then the protobuf directory
 * assembled and signed by egide_directory_sign().
 *
 * Every check reports through s_fail(), which keeps the first error only:
 * the first mistake in a file is the one to fix first, and later ones are
 * often its consequences.  Strings read from the inputs live in one arena
 * owned by the draft, so that the many places that keep a string need no
 * matching free and an allocation failure is one check at the end.
 */
#include "egide/directory/egide_directory_build.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "egide/base/egide_ini.h"
#include "egide/base/egide_limits.h"
#include "egide/base/egide_util.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/directory/egide_directory.h"
#include "egide/domain/egide_catalogue.h"

#define S_MAX_ITEMS    20000u /* rows or sections in one input file */
#define S_MAX_CSV_LINE 4096u
#define S_MAX_FIELDS   32u
#define S_MAX_CSV_FILE (64u * 1024u * 1024u)

/* ------------------------------------------------------------------ errors, memory */

/* What every step of a load shares.  Invariant: err is "" until the first
 * error, then holds it; strs owns every string the draft points to. */
typedef struct s_ctx {
    char *err;    /* the caller's buffer, or s_none */
    size_t errsz; /* its size (>= 1) */
    char **strs;  /* arena: owned strings */
    size_t n_strs, cap_strs;
    bool nomem; /* an allocation failed */

    egide_directory_build_progress_fn progress; /* after each node checked, or NULL */
    void *progress_arg;                         /* its first argument */
} s_ctx_t;

/* "file:line: message" (line 0: "file: message"), the first only; false. */
static bool s_fail(s_ctx_t *x, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool s_fail(s_ctx_t *x, const char *file, int line, const char *fmt, ...)
{
    if (x->err[0])
        return false;
    char msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(x->err, x->errsz, "%s:%d: %s", file, line, msg);
    else
        snprintf(x->err, x->errsz, "%s: %s", file, msg);
    return false;
}

/* Grow array v (n used, cap allocated) so that one more element fits. */
static bool s_grow(void **v, size_t elem, size_t n, size_t *cap, size_t first)
{
    if (n < *cap)
        return true;
    size_t c = *cap ? *cap * 2 : first;
    void *p = realloc(*v, c * elem);
    if (!p)
        return false;
    *v = p;
    *cap = c;
    return true;
}
#define S_GROW(v, n, cap, first) s_grow((void **)&(v), sizeof *(v), (n), &(cap), (first))

/* A copy of the first n bytes of s, owned by the arena.  On failure the
 * load fails with "out of memory" and "" stands in, so callers need no
 * check of their own. */
static char *s_strndup(s_ctx_t *x, const char *s, size_t n)
{
    static char empty[1];
    char *d = NULL;
    if (S_GROW(x->strs, x->n_strs, x->cap_strs, 64) && (d = malloc(n + 1))) {
        memcpy(d, s, n);
        d[n] = '\0';
        x->strs[x->n_strs++] = d;
        return d;
    }
    x->nomem = true;
    empty[0] = '\0';
    return empty;
}

static char *s_strdup(s_ctx_t *x, const char *s)
{
    s = s ? s : "";
    return s_strndup(x, s, strlen(s));
}

/* Split s on spaces/tabs/commas into at most max words (arena strings). */
static size_t s_words(s_ctx_t *x, const char *s, char **out, size_t max, bool *overflow)
{
    size_t n = 0;
    *overflow = false;
    const char *p = s;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *q = p;
        while (*q && *q != ' ' && *q != '\t' && *q != ',')
            q++;
        if (n >= max) {
            *overflow = true;
            break;
        }
        out[n++] = s_strndup(x, p, (size_t)(q - p));
        p = q;
    }
    return n;
}

/* ------------------------------------------------------------------ nodes */

typedef struct s_node {
    char *id;
    int line; /* of its [section] */
    char *role;
    int role_line;
    char *name;
    int name_line;
    int status; /* Egide__V1__NodeStatus */
    int status_line;
    char *sign_path, *enc_path, *curve_value, *curve_path, *endpoint;
    int sign_line, enc_line, curve_line, endpoint_line;
    /* results */
    uint8_t *sign_der, *enc_der;
    size_t sign_len, enc_len;
    char curve[41];
} s_node_t;

typedef struct s_nodes {
    s_ctx_t *x; /* errors and strings */
    s_node_t *v;
    size_t n;
    size_t cap;
} s_nodes_t;

static const s_node_t *s_nodes_find(const s_nodes_t *ns, const char *id)
{
    for (size_t i = 0; i < ns->n; i++)
        if (strcmp(ns->v[i].id, id) == 0)
            return &ns->v[i];
    return NULL;
}

static bool s_nodes_section(egide_ini_t *ini, const char *section, void *user)
{
    s_nodes_t *ns = user;
    int line = egide_ini_line(ini);
    if (!egide_directory_node_id_valid(section))
        return egide_ini_fail(
            ini, "bad node id [%s] (lower-case letters, digits, '.', '-', '_'; at most %u)",
            section, EGIDE_MAX_NODE_ID);
    const s_node_t *dup = s_nodes_find(ns, section);
    if (dup)
        return egide_ini_fail(ini, "duplicate node id %s (first at line %d)", section, dup->line);
    if (ns->n >= S_MAX_ITEMS || ns->n >= EGIDE_DIRECTORY_MAX_NODES)
        return egide_ini_fail(ini, "too many nodes");
    if (!S_GROW(ns->v, ns->n, ns->cap, 32))
        return egide_ini_fail(ini, "out of memory");
    s_node_t *n = &ns->v[ns->n++];
    memset(n, 0, sizeof *n);
    n->id = s_strdup(ns->x, section);
    n->line = line;
    n->status = EGIDE__V1__NODE_STATUS__NODE_ACTIVE;
    return true;
}

/* Keep a value given once (egide_ini refuses a second one). */
static bool s_set(egide_ini_t *ini, s_ctx_t *x, char **slot, int *line_slot, const char *name,
                  const char *value)
{
    if (!value[0])
        return egide_ini_fail(ini, "empty value for '%s'", name);
    *slot = s_strdup(x, value);
    *line_slot = egide_ini_line(ini);
    return true;
}

static bool s_nodes_key(egide_ini_t *ini, const char *section, const char *name, const char *value,
                        void *user)
{
    s_nodes_t *ns = user;
    (void)section; /* always the last node's: sections do not repeat */
    s_node_t *n = &ns->v[ns->n - 1];
    if (strcmp(name, "role") == 0) {
        if (!egide_catalogue_role_known(value))
            return egide_ini_fail(ini,
                                  "unknown role '%s' (crip, tas, snated, parquet, police, court, "
                                  "ase, reporter, observatory, auditor, broker)",
                                  value);
        return s_set(ini, ns->x, &n->role, &n->role_line, name, value);
    }
    if (strcmp(name, "name") == 0 || strcmp(name, "display_name") == 0) {
        if (n->name)
            return egide_ini_fail(ini, "set name or display_name, not both");
        return s_set(ini, ns->x, &n->name, &n->name_line, name, value);
    }
    if (strcmp(name, "status") == 0) {
        n->status_line = egide_ini_line(ini);
        if (strcmp(value, "active") == 0)
            n->status = EGIDE__V1__NODE_STATUS__NODE_ACTIVE;
        else if (strcmp(value, "suspended") == 0)
            n->status = EGIDE__V1__NODE_STATUS__NODE_SUSPENDED;
        else
            return egide_ini_fail(ini, "status must be active or suspended, not '%s'", value);
        return true;
    }
    if (strcmp(name, "signing_cert") == 0)
        return s_set(ini, ns->x, &n->sign_path, &n->sign_line, name, value);
    if (strcmp(name, "encryption_cert") == 0)
        return s_set(ini, ns->x, &n->enc_path, &n->enc_line, name, value);
    if (strcmp(name, "curve_public_key") == 0 || strcmp(name, "curve_public_key_file") == 0) {
        if (n->curve_path || n->curve_value)
            return egide_ini_fail(ini, "set curve_public_key or curve_public_key_file, not both");
        return s_set(ini, ns->x, name[16] ? &n->curve_path : &n->curve_value, &n->curve_line, name,
                     value);
    }
    /* endpoint: the table lets no other key through */
    return s_set(ini, ns->x, &n->endpoint, &n->endpoint_line, name, value);
}

static const char *const s_node_keys[] = {"role",
                                          "name",
                                          "display_name",
                                          "status",
                                          "signing_cert",
                                          "encryption_cert",
                                          "curve_public_key",
                                          "curve_public_key_file",
                                          "endpoint",
                                          NULL};

/* Where a node's file is: rel (relative to the nodes file) when set, else
 * PKI/nodes/ID/leaf when pki is given.  Returns false when neither (err
 * untouched) or when the path is too long (err set). */
static bool s_node_path(s_ctx_t *x, const char *file, int line, const char *rel, const char *pki,
                        const char *id, const char *leaf, char *out, size_t outsz)
{
    egide_rc rc;
    if (rel && rel[0] == '/') {
        rc = egide_strlcpy(out, rel, outsz);
    } else if (rel) {
        const char *slash = strrchr(file, '/');
        rc = slash ? egide_snprintf(out, outsz, "%.*s/%s", (int)(slash - file), file, rel)
                   : egide_snprintf(out, outsz, "./%s", rel);
    } else if (pki) {
        rc = egide_snprintf(out, outsz, "%s/nodes/%s/%s", pki, id, leaf);
    } else {
        return false;
    }
    if (rc)
        return s_fail(x, file, line, "%s: path too long", id);
    return true;
}

/* Load a certificate, check its key type, keep its DER. */
static bool s_load_cert(s_ctx_t *x, const char *file, int line, const char *id, const char *what,
                        const char *path, int key_type, uint8_t **der, size_t *len)
{
    X509 *c = NULL;
    egide_rc rc = egide_cert_load(path, &c);
    if (rc)
        return s_fail(x, file, line, "%s: cannot load %s certificate %s: %s", id, what, path,
                      egide_strerror(rc));
    EVP_PKEY *k = X509_get0_pubkey(c);
    if (!k || EVP_PKEY_get_id(k) != key_type) {
        X509_free(c);
        return s_fail(x, file, line, "%s: %s certificate %s does not hold an %s key", id, what,
                      path, key_type == EVP_PKEY_ED25519 ? "Ed25519" : "X25519");
    }
    rc = egide_cert_to_der(c, der, len);
    X509_free(c);
    if (rc)
        return s_fail(x, file, line, "%s: cannot encode %s certificate", id, what);
    return true;
}

/* Check each node is complete and load its certificates and keys. */
static bool s_nodes_finish(s_ctx_t *x, const char *file, s_nodes_t *ns, const char *pki,
                           const char *endpoint_override)
{
    if (ns->n == 0)
        return s_fail(x, file, 0, "no node sections");
    for (size_t i = 0; i < ns->n; i++) {
        s_node_t *n = &ns->v[i];
        if (!n->role)
            return s_fail(x, file, n->line, "node %s has no role", n->id);
        if (!n->name)
            return s_fail(x, file, n->line, "node %s has no name", n->id);
        if (!egide_directory_text_valid(n->name, EGIDE_DIRECTORY_MAX_NAME))
            return s_fail(x, file, n->name_line,
                          "%s: name must be UTF-8 text of at most %u bytes, no control characters",
                          n->id, EGIDE_DIRECTORY_MAX_NAME);
        bool broker = strcmp(n->role, EGIDE_ROLE_BROKER) == 0;
        if (broker && endpoint_override) {
            n->endpoint = s_strdup(x, endpoint_override);
        }
        if (broker && !n->endpoint)
            return s_fail(x, file, n->line, "broker %s has no endpoint", n->id);
        if (!broker && n->endpoint)
            return s_fail(x, file, n->endpoint_line, "%s: only a broker node has an endpoint",
                          n->id);
        char path[PATH_MAX];
        /* signing certificate */
        int line = n->sign_line ? n->sign_line : n->line;
        if (!s_node_path(x, file, line, n->sign_path, pki, n->id, "sign.crt", path, sizeof path))
            return x->err[0] ? false
                             : s_fail(x, file, n->line,
                                      "node %s: signing_cert is not set (nor --pki)", n->id);
        if (!s_load_cert(x, file, line, n->id, "signing", path, EVP_PKEY_ED25519, &n->sign_der,
                         &n->sign_len))
            return false;
        /* encryption certificate (a broker may have none) */
        line = n->enc_line ? n->enc_line : n->line;
        bool have =
            s_node_path(x, file, line, n->enc_path, pki, n->id, "enc.crt", path, sizeof path);
        if (x->err[0])
            return false;
        if (have && broker && !n->enc_path && access(path, R_OK) != 0)
            have = false;
        if (!have && !broker)
            return s_fail(x, file, n->line, "node %s: encryption_cert is not set (nor --pki)",
                          n->id);
        if (have && !s_load_cert(x, file, line, n->id, "encryption", path, EVP_PKEY_X25519,
                                 &n->enc_der, &n->enc_len))
            return false;
        /* CURVE public key */
        line = n->curve_line ? n->curve_line : n->line;
        if (n->curve_value) {
            if (!egide_directory_z85_key_valid(n->curve_value))
                return s_fail(x, file, line, "%s: curve_public_key is not 40 Z85 characters",
                              n->id);
            snprintf(n->curve, sizeof n->curve, "%s", n->curve_value);
        } else {
            if (!s_node_path(x, file, line, n->curve_path, pki, n->id, "curve.public", path,
                             sizeof path))
                return x->err[0]
                           ? false
                           : s_fail(x, file, n->line,
                                    "node %s: curve_public_key is not set (nor --pki)", n->id);
            uint8_t *kb = NULL;
            size_t kl = 0;
            egide_rc rc = egide_file_read(path, 256, &kb, &kl);
            if (rc)
                return s_fail(x, file, line, "%s: cannot read CURVE public key %s: %s", n->id, path,
                              egide_strerror(rc));
            while (kl && (kb[kl - 1] == '\n' || kb[kl - 1] == '\r' || kb[kl - 1] == ' '))
                kb[--kl] = '\0';
            bool kv = egide_directory_z85_key_valid((char *)kb);
            if (kv)
                snprintf(n->curve, sizeof n->curve, "%s", (char *)kb);
            free(kb);
            if (!kv)
                return s_fail(x, file, line, "%s: %s does not hold a 40-character Z85 CURVE key",
                              n->id, path);
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(ns->v[j].curve, n->curve) == 0)
                return s_fail(x, file, line, "%s: same CURVE key as %s (line %d)", n->id,
                              ns->v[j].id, ns->v[j].line);
        if (x->progress)
            x->progress(x->progress_arg, i + 1, ns->n);
    }
    return true;
}

static void s_nodes_free(s_nodes_t *ns)
{
    for (size_t i = 0; i < ns->n; i++) {
        OPENSSL_free(ns->v[i].sign_der);
        OPENSSL_free(ns->v[i].enc_der);
    }
    free(ns->v); /* the strings are in the arena */
    ns->v = NULL;
    ns->n = ns->cap = 0;
}

/* ------------------------------------------------------------------ rules */

#define S_MAX_ROLES        16u
#define S_MAX_ROUTE_FIELDS 5u

typedef struct s_rule_group {
    char *type;
    int line;
    char *from[S_MAX_ROLES], *to[S_MAX_ROLES], *route[S_MAX_ROUTE_FIELDS];
    size_t n_from, n_to, n_route;
    int from_line, to_line, route_line;
} s_rule_group_t;

typedef struct s_rules {
    s_ctx_t *x; /* errors and strings */
    s_rule_group_t *v;
    size_t n, cap;
} s_rules_t;

static bool s_rules_section(egide_ini_t *ini, const char *section, void *user)
{
    s_rules_t *rs = user;
    if (!egide_catalogue_type_known(section))
        return egide_ini_fail(ini, "unknown message type [%s]", section);
    if (rs->n >= EGIDE_DIRECTORY_MAX_RULES)
        return egide_ini_fail(ini, "too many rule sections");
    if (!S_GROW(rs->v, rs->n, rs->cap, 32))
        return egide_ini_fail(ini, "out of memory");
    s_rule_group_t *g = &rs->v[rs->n++];
    memset(g, 0, sizeof *g);
    g->type = s_strdup(rs->x, section);
    g->line = egide_ini_line(ini);
    return true;
}

static const char *const s_rule_keys[] = {"from", "to", "route", NULL};
static const char *const s_fields[] = {"crip", "territory", "parquet", "court", "police"};

static bool s_rules_key(egide_ini_t *ini, const char *section, const char *name, const char *value,
                        void *user)
{
    s_rules_t *rs = user;
    (void)section; /* the last group's */
    s_rule_group_t *g = &rs->v[rs->n - 1];
    char **slot;
    size_t *count, max;
    int *lp;
    bool roles = true;
    if (strcmp(name, "from") == 0) {
        slot = g->from, count = &g->n_from, max = S_MAX_ROLES, lp = &g->from_line;
    } else if (strcmp(name, "to") == 0) {
        slot = g->to, count = &g->n_to, max = S_MAX_ROLES, lp = &g->to_line;
    } else { /* route: the table lets no other key through */
        slot = g->route, count = &g->n_route, max = S_MAX_ROUTE_FIELDS, lp = &g->route_line;
        roles = false;
    }
    *lp = egide_ini_line(ini);
    bool overflow;
    *count = s_words(rs->x, value, slot, max, &overflow);
    if (overflow)
        return egide_ini_fail(ini, "too many values for '%s'", name);
    if (*count == 0 && roles)
        return egide_ini_fail(ini, "'%s' lists no role", name);
    for (size_t i = 0; i < *count; i++) {
        if (roles && !egide_catalogue_role_known(slot[i]))
            return egide_ini_fail(ini, "unknown role '%s'", slot[i]);
        if (!roles) {
            bool known = false;
            for (size_t k = 0; k < sizeof s_fields / sizeof s_fields[0]; k++)
                known = known || strcmp(slot[i], s_fields[k]) == 0;
            if (!known)
                return egide_ini_fail(
                    ini, "unknown route field '%s' (crip, territory, parquet, court, police)",
                    slot[i]);
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(slot[j], slot[i]) == 0)
                return egide_ini_fail(ini, "'%s' listed twice", slot[i]);
    }
    return true;
}

static bool s_rules_finish(s_ctx_t *x, const char *file, s_rules_t *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        s_rule_group_t *g = &rs->v[i];
        if (!g->n_from)
            return s_fail(x, file, g->line, "[%s] has no 'from'", g->type);
        if (!g->n_to)
            return s_fail(x, file, g->line, "[%s] has no 'to'", g->type);
        for (size_t f = 0; f < g->n_from; f++)
            for (size_t j = 0; j <= i; j++) {
                const s_rule_group_t *h = &rs->v[j];
                if (strcmp(h->type, g->type) != 0)
                    continue;
                size_t limit = (j == i) ? f : h->n_from;
                for (size_t k = 0; k < limit; k++)
                    if (strcmp(h->from[k], g->from[f]) == 0)
                        return s_fail(x, file, g->from_line,
                                      "%s may already send %s (rule at line %d)", g->from[f],
                                      g->type, h->line);
            }
    }
    return true;
}

static void s_rules_free(s_rules_t *rs)
{
    free(rs->v); /* the strings are in the arena */
    rs->v = NULL;
    rs->n = rs->cap = 0;
}

/* ------------------------------------------------------------------ CSV */

/* One CSV file read line by line: fields may be double-quoted ("" inside). */
typedef struct s_csv {
    s_ctx_t *x;
    const char *file;
    char *text;
    size_t pos, len;
    int line;
    char *field[S_MAX_FIELDS];
    size_t nfield;
    char buf[S_MAX_CSV_LINE];
} s_csv_t;

static bool s_csv_open(s_ctx_t *x, s_csv_t *c, const char *file)
{
    memset(c, 0, sizeof *c);
    c->x = x;
    c->file = file;
    uint8_t *b = NULL;
    size_t n = 0;
    egide_rc rc = egide_file_read(file, S_MAX_CSV_FILE, &b, &n);
    if (rc)
        return s_fail(x, file, 0, "cannot read: %s", egide_strerror(rc));
    if (memchr(b, '\0', n)) {
        free(b);
        return s_fail(x, file, 0, "binary data (NUL byte) in a text file");
    }
    c->text = (char *)b;
    c->len = n;
    if (n >= 3 && memcmp(b, "\xef\xbb\xbf", 3) == 0)
        c->pos = 3;
    return true;
}

/* Next non-empty line split into fields; 1 = got one, 0 = end, -1 = error. */
static int s_csv_next(s_csv_t *c)
{
    for (;;) {
        if (c->pos >= c->len)
            return 0;
        const char *start = c->text + c->pos;
        const char *nl = memchr(start, '\n', c->len - c->pos);
        size_t len = nl ? (size_t)(nl - start) : c->len - c->pos;
        c->pos += len + (nl ? 1 : 0);
        c->line++;
        if (len && start[len - 1] == '\r')
            len--;
        if (len == 0 || start[0] == '#')
            continue;
        if (len >= sizeof c->buf)
            return s_fail(c->x, c->file, c->line, "line too long"), -1;
        /* split in place into c->buf */
        c->nfield = 0;
        size_t o = 0, i = 0;
        for (;;) {
            if (c->nfield >= S_MAX_FIELDS)
                return s_fail(c->x, c->file, c->line, "too many fields"), -1;
            c->field[c->nfield++] = c->buf + o;
            if (i < len && start[i] == '"') {
                i++;
                for (;;) {
                    if (i >= len)
                        return s_fail(c->x, c->file, c->line, "unterminated quoted field"), -1;
                    if (start[i] == '"') {
                        if (i + 1 < len && start[i + 1] == '"') {
                            c->buf[o++] = '"';
                            i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    c->buf[o++] = start[i++];
                }
                if (i < len && start[i] != ',')
                    return s_fail(c->x, c->file, c->line, "text after a quoted field"), -1;
            } else {
                while (i < len && start[i] != ',') {
                    if (start[i] == '"')
                        return s_fail(c->x, c->file, c->line, "quote inside an unquoted field"), -1;
                    c->buf[o++] = start[i++];
                }
            }
            c->buf[o++] = '\0';
            if (i >= len)
                break;
            i++; /* the comma */
        }
        /* trim spaces around fields */
        for (size_t f = 0; f < c->nfield; f++) {
            char *s = c->field[f];
            while (*s == ' ' || *s == '\t')
                s++;
            size_t l = strlen(s);
            while (l && (s[l - 1] == ' ' || s[l - 1] == '\t'))
                s[--l] = '\0';
            c->field[f] = s;
        }
        return 1;
    }
}

static void s_csv_close(s_csv_t *c)
{
    free(c->text);
    c->text = NULL;
}

/* Column index of name in the header, -1 when absent. */
static int s_col(size_t n, char *const *names, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

/* ------------------------------------------------------------------ communes */

typedef struct s_commune {
    char code[6];
    char *name;
    char *postal; /* space-separated */
    int line;
    bool routed;
} s_commune_t;

typedef struct s_communes {
    const char *file;
    s_commune_t *v;
    size_t n, cap;
} s_communes_t;

static int s_cmp_commune(const void *a, const void *b)
{
    return strcmp(((const s_commune_t *)a)->code, ((const s_commune_t *)b)->code);
}

static s_commune_t *s_communes_find(s_communes_t *cs, const char *code)
{
    s_commune_t key;
    memset(&key, 0, sizeof key);
    snprintf(key.code, sizeof key.code, "%s", code);
    return cs->n ? bsearch(&key, cs->v, cs->n, sizeof *cs->v, s_cmp_commune) : NULL;
}

/* Read the communes of one department from a CSV with a header naming
 * insee_code (or code/commune), name and postal_codes. */
static bool s_communes_load(s_ctx_t *x, s_communes_t *cs, const char *file, const char *dep)
{
    memset(cs, 0, sizeof *cs);
    cs->file = file;
    s_csv_t c;
    if (!s_csv_open(x, &c, file))
        return false;
    bool ok = false;
    int r = s_csv_next(&c);
    if (r <= 0) {
        if (r == 0)
            s_fail(x, file, 0, "empty file");
        goto out;
    }
    char *hdr[S_MAX_FIELDS];
    size_t nh = c.nfield;
    for (size_t i = 0; i < nh; i++)
        hdr[i] = s_strdup(x, c.field[i]);
    int ccode = s_col(nh, hdr, "insee_code");
    if (ccode < 0)
        ccode = s_col(nh, hdr, "code");
    if (ccode < 0)
        ccode = s_col(nh, hdr, "commune");
    int cname = s_col(nh, hdr, "name");
    int cpost = s_col(nh, hdr, "postal_codes");
    if (ccode < 0 || cname < 0) {
        s_fail(x, file, c.line, "header must name insee_code (or code) and name columns");
        goto out;
    }
    while ((r = s_csv_next(&c)) == 1) {
        if (c.nfield != nh) {
            s_fail(x, file, c.line, "%zu fields, the header has %zu", c.nfield, nh);
            goto out;
        }
        const char *code = c.field[ccode];
        if (!egide_directory_commune_valid(code)) {
            s_fail(x, file, c.line, "bad INSEE code '%s'", code);
            goto out;
        }
        if (!egide_directory_commune_in_department(code, dep))
            continue;
        if (cs->n >= S_MAX_ITEMS) {
            s_fail(x, file, c.line, "too many communes");
            goto out;
        }
        if (!S_GROW(cs->v, cs->n, cs->cap, 256)) {
            s_fail(x, file, c.line, "out of memory");
            goto out;
        }
        s_commune_t *e = &cs->v[cs->n++];
        memset(e, 0, sizeof *e);
        snprintf(e->code, sizeof e->code, "%s", code);
        e->name = s_strdup(x, c.field[cname]);
        e->postal = s_strdup(x, cpost >= 0 ? c.field[cpost] : "");
        e->line = c.line;
    }
    if (r < 0)
        goto out;
    if (cs->n > 1)
        qsort(cs->v, cs->n, sizeof *cs->v, s_cmp_commune);
    for (size_t i = 1; i < cs->n; i++)
        if (strcmp(cs->v[i - 1].code, cs->v[i].code) == 0) {
            s_fail(x, file, cs->v[i].line, "commune %s listed twice", cs->v[i].code);
            goto out;
        }
    if (cs->n == 0) {
        s_fail(x, file, 0, "no commune of department %s", dep);
        goto out;
    }
    ok = true;
out:
    s_csv_close(&c);
    return ok;
}

static void s_communes_free(s_communes_t *cs)
{
    free(cs->v); /* the strings are in the arena */
    memset(cs, 0, sizeof *cs);
}

/* ------------------------------------------------------------------ routes */

typedef struct s_route {
    char commune[6];
    int line;
    char *territory, *parquet, *court, *police, *crip, *name;
    char **postal;
    size_t n_postal;
} s_route_t;

typedef struct s_routes {
    s_route_t *v;
    size_t n, cap;
} s_routes_t;

static void s_routes_free(s_routes_t *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        free(rs->v[i].postal); /* the array; its strings are in the arena */
    free(rs->v);
    memset(rs, 0, sizeof *rs);
}

/* A route field must name an existing node of one of the given roles. */
static bool s_check_ref(s_ctx_t *x, const char *file, int line, const s_nodes_t *ns,
                        const char *commune, const char *field, const char *id, const char *r1,
                        const char *r2)
{
    const s_node_t *n = s_nodes_find(ns, id);
    if (!n)
        return s_fail(x, file, line, "commune %s: %s '%s' is not a node of the nodes file", commune,
                      field, id);
    if (strcmp(n->role, r1) != 0 && !(r2 && strcmp(n->role, r2) == 0))
        return s_fail(x, file, line, "commune %s: %s '%s' has role %s, not %s%s%s", commune, field,
                      id, n->role, r1, r2 ? " or " : "", r2 ? r2 : "");
    return true;
}

static bool s_postal_split(s_ctx_t *x, const char *file, int line, const char *commune,
                           const char *s, s_route_t *r)
{
    char *w[EGIDE_DIRECTORY_MAX_POSTAL_CODES];
    bool overflow;
    size_t n = s_words(x, s, w, EGIDE_DIRECTORY_MAX_POSTAL_CODES, &overflow);
    r->postal = calloc(n ? n : 1, sizeof *r->postal);
    if (!r->postal)
        return s_fail(x, file, line, "out of memory");
    for (size_t i = 0; i < n; i++)
        r->postal[i] = w[i];
    r->n_postal = n;
    if (overflow)
        return s_fail(x, file, line, "commune %s: more than %u postal codes", commune,
                      EGIDE_DIRECTORY_MAX_POSTAL_CODES);
    for (size_t i = 0; i < n; i++) {
        if (!egide_directory_postal_valid(w[i]))
            return s_fail(x, file, line, "commune %s: bad postal code '%s'", commune, w[i]);
        for (size_t j = 0; j < i; j++)
            if (strcmp(w[i], w[j]) == 0)
                return s_fail(x, file, line, "commune %s: postal code %s listed twice", commune,
                              w[i]);
    }
    return true;
}

static bool s_routes_load(s_ctx_t *x, s_routes_t *rs, const char *file, const char *dep,
                          const s_nodes_t *ns, s_communes_t *communes)
{
    memset(rs, 0, sizeof *rs);
    s_csv_t c;
    if (!s_csv_open(x, &c, file))
        return false;
    bool ok = false;
    char *hdr[S_MAX_FIELDS] = {0};
    size_t nh = 0;
    int r = s_csv_next(&c);
    if (r <= 0) {
        if (r == 0)
            s_fail(x, file, 0, "empty file (want a header line)");
        goto out;
    }
    static const char *const known[] = {"commune", "territory", "parquet", "court",
                                        "police",  "crip",      "name",    "postal_codes"};
    nh = c.nfield;
    for (size_t i = 0; i < nh; i++) {
        hdr[i] = s_strdup(x, c.field[i]);
        bool k = false;
        for (size_t j = 0; j < sizeof known / sizeof known[0]; j++)
            k = k || strcmp(hdr[i], known[j]) == 0;
        if (!k) {
            s_fail(x, file, c.line,
                   "unknown column '%s' (commune, territory, parquet, court, police, crip, name, "
                   "postal_codes)",
                   hdr[i]);
            goto out;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(hdr[i], hdr[j]) == 0) {
                s_fail(x, file, c.line, "column '%s' appears twice", hdr[i]);
                goto out;
            }
    }
    int ccom = s_col(nh, hdr, "commune"), cter = s_col(nh, hdr, "territory");
    int cpar = s_col(nh, hdr, "parquet"), ccou = s_col(nh, hdr, "court");
    int cpol = s_col(nh, hdr, "police"), ccri = s_col(nh, hdr, "crip");
    int cnam = s_col(nh, hdr, "name"), cpos = s_col(nh, hdr, "postal_codes");
    if (ccom < 0 || cter < 0) {
        s_fail(x, file, c.line, "the header must name the commune and territory columns");
        goto out;
    }
    /* the department's CRIP, when the file has no crip column */
    const char *only_crip = NULL;
    size_t ncrip = 0;
    for (size_t i = 0; i < ns->n; i++)
        if (strcmp(ns->v[i].role, EGIDE_ROLE_CRIP) == 0) {
            only_crip = ns->v[i].id;
            ncrip++;
        }

    while ((r = s_csv_next(&c)) == 1) {
        if (c.nfield != nh) {
            s_fail(x, file, c.line, "%zu fields, the header has %zu", c.nfield, nh);
            goto out;
        }
        const char *code = c.field[ccom];
        if (!egide_directory_commune_valid(code)) {
            s_fail(x, file, c.line, "bad commune INSEE code '%s' (5 characters, e.g. 71137, 2A004)",
                   code);
            goto out;
        }
        if (!egide_directory_commune_in_department(code, dep)) {
            s_fail(x, file, c.line, "commune %s is not in department %s", code, dep);
            goto out;
        }
        s_commune_t *known_c = NULL;
        if (communes) {
            known_c = s_communes_find(communes, code);
            if (!known_c) {
                s_fail(x, file, c.line, "unknown commune %s (not in %s)", code, communes->file);
                goto out;
            }
        }
        for (size_t i = 0; i < rs->n; i++)
            if (strcmp(rs->v[i].commune, code) == 0) {
                s_fail(x, file, c.line, "commune %s is routed twice (first at line %d)", code,
                       rs->v[i].line);
                goto out;
            }
        if (rs->n >= EGIDE_DIRECTORY_MAX_ROUTES) {
            s_fail(x, file, c.line, "too many routes");
            goto out;
        }
        if (!S_GROW(rs->v, rs->n, rs->cap, 256)) {
            s_fail(x, file, c.line, "out of memory");
            goto out;
        }
        s_route_t *e = &rs->v[rs->n++];
        memset(e, 0, sizeof *e);
        snprintf(e->commune, sizeof e->commune, "%s", code);
        e->line = c.line;
        e->territory = s_strdup(x, c.field[cter]);
        e->parquet = s_strdup(x, cpar >= 0 ? c.field[cpar] : "");
        e->court = s_strdup(x, ccou >= 0 ? c.field[ccou] : "");
        e->police = s_strdup(x, cpol >= 0 ? c.field[cpol] : "");
        e->crip = s_strdup(x, ccri >= 0 ? c.field[ccri] : "");
        if (!e->crip[0]) {
            if (ncrip != 1) {
                s_fail(x, file, c.line,
                       "commune %s: no crip given and the nodes file has %zu crip nodes", code,
                       ncrip);
                goto out;
            }
            e->crip = s_strdup(x, only_crip);
        }
        const char *nm = cnam >= 0 ? c.field[cnam] : "";
        if (!nm[0] && known_c)
            nm = known_c->name;
        e->name = s_strdup(x, nm);
        if (!egide_directory_text_valid(e->name, EGIDE_DIRECTORY_MAX_NAME)) {
            s_fail(x, file, c.line,
                   "commune %s: name must be UTF-8 text of at most %u bytes, no control "
                   "characters",
                   code, EGIDE_DIRECTORY_MAX_NAME);
            goto out;
        }
        const char *pc = cpos >= 0 ? c.field[cpos] : "";
        if (!pc[0] && known_c)
            pc = known_c->postal;
        if (!s_postal_split(x, file, c.line, code, pc, e))
            goto out;
        if (!e->territory[0]) {
            s_fail(x, file, c.line, "commune %s: no territory", code);
            goto out;
        }
        if (!s_check_ref(x, file, c.line, ns, code, "territory", e->territory, EGIDE_ROLE_TAS,
                         EGIDE_ROLE_ASE) ||
            !s_check_ref(x, file, c.line, ns, code, "crip", e->crip, EGIDE_ROLE_CRIP, NULL) ||
            (e->parquet[0] && !s_check_ref(x, file, c.line, ns, code, "parquet", e->parquet,
                                           EGIDE_ROLE_PARQUET, NULL)) ||
            (e->court[0] &&
             !s_check_ref(x, file, c.line, ns, code, "court", e->court, EGIDE_ROLE_COURT, NULL)) ||
            (e->police[0] &&
             !s_check_ref(x, file, c.line, ns, code, "police", e->police, EGIDE_ROLE_POLICE, NULL)))
            goto out;
        if (known_c)
            known_c->routed = true;
    }
    if (r < 0)
        goto out;
    if (rs->n == 0) {
        s_fail(x, file, 0, "no route");
        goto out;
    }
    ok = true;
out:
    s_csv_close(&c);
    return ok;
}

static const char *s_route_get(const s_route_t *r, const char *field)
{
    if (strcmp(field, "crip") == 0)
        return r->crip;
    if (strcmp(field, "territory") == 0)
        return r->territory;
    if (strcmp(field, "parquet") == 0)
        return r->parquet;
    if (strcmp(field, "court") == 0)
        return r->court;
    return r->police;
}

/* Every routed rule must find, in every commune, a node it lets receive. */
static bool s_cross_check(s_ctx_t *x, const char *routes_file, const char *rules_file,
                          const s_routes_t *rs, const s_rules_t *rules, const s_nodes_t *ns)
{
    for (size_t g = 0; g < rules->n; g++) {
        const s_rule_group_t *rg = &rules->v[g];
        for (size_t f = 0; f < rg->n_route; f++)
            for (size_t i = 0; i < rs->n; i++) {
                const char *id = s_route_get(&rs->v[i], rg->route[f]);
                if (!id[0])
                    return s_fail(x, routes_file, rs->v[i].line,
                                  "commune %s sets no %s, which [%s] (%s:%d) routes to",
                                  rs->v[i].commune, rg->route[f], rg->type, rules_file, rg->line);
                const s_node_t *n = s_nodes_find(ns, id);
                bool allowed = false;
                for (size_t k = 0; n && k < rg->n_to; k++)
                    allowed = allowed || strcmp(rg->to[k], n->role) == 0;
                if (!allowed)
                    return s_fail(x, rules_file, rg->route_line ? rg->route_line : rg->line,
                                  "[%s] routes to %s, but %s (role %s, commune %s) is not in 'to'",
                                  rg->type, rg->route[f], id, n ? n->role : "?", rs->v[i].commune);
            }
    }
    return true;
}

/* ------------------------------------------------------------------ the draft */

/* Invariant after a successful load: every node has a role, a name, its
 * certificates and CURVE key; every route names existing nodes of the right
 * roles; every rule group has senders and recipients. */
struct egide_directory_build {
    s_ctx_t x;              /* the arena (err is not used after the load) */
    s_nodes_t nodes;        /* in file order */
    s_rules_t rules;        /* rule groups in file order */
    s_routes_t routes;      /* in file order */
    s_communes_t communes;  /* sorted by code; empty without a communes file */
    char dep[8];            /* department */
    const char *jur, *term; /* jurisdiction, referral term (static or arena) */
};

static egide_rc s_parse_ini(s_ctx_t *x, const char *file, const egide_ini_section_spec_t *spec,
                            egide_ini_section_fn on_section, egide_ini_key_fn on_key, void *user)
{
    egide_ini_opts_t o = {.on_section = on_section,
                          .on_key = on_key,
                          .user = user,
                          .spec = spec,
                          .syntax_error = "malformed line (want [section] or key = value)"};
    return egide_ini_parse_file(file, &o, x->err, x->errsz);
}

egide_rc egide_directory_build_load(const egide_directory_build_opts_t *o,
                                    egide_directory_build_t **out, char *err, size_t errsz)
{
    static char s_none[1];
    if (err && errsz)
        err[0] = '\0';
    if (!out)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    if (!o || !o->nodes || !o->routes || !o->rules) {
        if (err && errsz)
            snprintf(err, errsz, "the nodes, routes and rules files are required");
        return EGIDE_ERR_INVALID;
    }
    egide_directory_build_t *b = calloc(1, sizeof *b);
    if (!b)
        return EGIDE_ERR_NOMEM;
    s_ctx_t *x = &b->x;
    s_none[0] = '\0';
    x->err = (err && errsz) ? err : s_none;
    x->errsz = (err && errsz) ? errsz : 1;
    x->progress = o->progress;
    x->progress_arg = o->progress_arg;
    b->nodes.x = b->rules.x = x;
    egide_rc rc = EGIDE_ERR_CONFIG;
    static const egide_ini_section_spec_t node_spec[] = {{"*", s_node_keys}, {NULL, NULL}};
    static const egide_ini_section_spec_t rule_spec[] = {{"*", s_rule_keys}, {NULL, NULL}};

    /* nodes */
    if (s_parse_ini(x, o->nodes, node_spec, s_nodes_section, s_nodes_key, &b->nodes) ||
        !s_nodes_finish(x, o->nodes, &b->nodes, o->pki, o->broker_endpoint))
        goto fail;
    /* department: given, or the prefix of the first node id */
    if (o->department) {
        snprintf(b->dep, sizeof b->dep, "%s", o->department);
    } else {
        const char *id = b->nodes.v[0].id, *dot = strchr(id, '.');
        size_t l = dot ? (size_t)(dot - id) : 0;
        if (l && l < sizeof b->dep)
            snprintf(b->dep, sizeof b->dep, "%.*s", (int)l, id);
    }
    if (!egide_directory_department_valid(b->dep)) {
        snprintf(x->err, x->errsz, "no valid department: give --department (e.g. 71, 2A, 988)");
        rc = EGIDE_ERR_INVALID;
        goto fail;
    }
    b->jur = o->jurisdiction ? s_strdup(x, o->jurisdiction) : "fr-casf";
    if (o->referral_term)
        b->term = s_strdup(x, o->referral_term);
    else
        b->term =
            strncmp(b->jur, "nc-", 3) == 0 ? "information signalante" : "information préoccupante";
    /* rules */
    if (s_parse_ini(x, o->rules, rule_spec, s_rules_section, s_rules_key, &b->rules) ||
        !s_rules_finish(x, o->rules, &b->rules))
        goto fail;
    /* communes and routes */
    if (o->communes && !s_communes_load(x, &b->communes, o->communes, b->dep))
        goto fail;
    if (!s_routes_load(x, &b->routes, o->routes, b->dep, &b->nodes,
                       o->communes ? &b->communes : NULL))
        goto fail;
    if (o->communes && !o->allow_unrouted)
        for (size_t i = 0; i < b->communes.n; i++)
            if (!b->communes.v[i].routed) {
                s_fail(x, o->communes, b->communes.v[i].line,
                       "commune %s (%s) has no route in %s (or pass --allow-unrouted)",
                       b->communes.v[i].code, b->communes.v[i].name, o->routes);
                goto fail;
            }
    if (!s_cross_check(x, o->routes, o->rules, &b->routes, &b->rules, &b->nodes))
        goto fail;
    if (x->nomem)
        goto fail;
    x->err = s_none; /* the caller's buffer is not ours beyond this call */
    x->errsz = 1;
    x->progress = NULL; /* nor is the caller's callback */
    *out = b;
    return EGIDE_OK;
fail:
    if (x->nomem) {
        snprintf(x->err, x->errsz, "out of memory");
        rc = EGIDE_ERR_NOMEM;
    } else if (!x->err[0]) {
        snprintf(x->err, x->errsz, "%s: cannot build", o->nodes);
    }
    x->err = s_none;
    x->errsz = 1;
    egide_directory_build_destroy(&b);
    return rc;
}

egide_rc egide_directory_build_sign(const egide_directory_build_t *b, uint64_t version,
                                    int64_t now_ms, int64_t valid_days, EVP_PKEY *key, X509 *cert,
                                    uint8_t **out, size_t *out_len, char *err, size_t errsz)
{
    if (err && errsz)
        err[0] = '\0';
    if (!b || !key || !cert || !out || !out_len || version == 0 || valid_days < 1 ||
        valid_days > 3660)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    *out_len = 0;
    const s_nodes_t *nodes = &b->nodes;
    const s_routes_t *routes = &b->routes;
    const s_rules_t *rules = &b->rules;
    Egide__V1__Directory dir = EGIDE__V1__DIRECTORY__INIT;
    dir.format_version = EGIDE_DIRECTORY_FORMAT_VERSION;
    dir.department = (char *)b->dep;
    dir.version = version;
    dir.issued_ms = now_ms;
    dir.not_after_ms = now_ms + valid_days * 86400000LL;
    dir.jurisdiction = (char *)b->jur;
    dir.referral_term = (char *)b->term;
    size_t nb = 0, nr = 0;
    /* A broker node's endpoint may be a comma-separated list: the brokers
     * of one department sharing its keys and its store, one entry each. */
    size_t eplen = 0;
    for (size_t i = 0; i < nodes->n; i++) {
        for (const char *p = nodes->v[i].endpoint; p; p = strchr(p, ','), p = p ? p + 1 : p)
            nb++; /* items, empty ones included: the loader refuses those */
        eplen += nodes->v[i].endpoint ? strlen(nodes->v[i].endpoint) + 1 : 0;
    }
    char *eps = malloc(eplen + 1), *ep = eps; /* the lists, copied and split */
    for (size_t g = 0; g < rules->n; g++)
        nr += rules->v[g].n_from;
    /* One block per kind: the entries, then the pointers to them. */
    Egide__V1__NodeEntry *ne = calloc(nodes->n + 1, sizeof *ne);
    Egide__V1__NodeEntry **nep = calloc(nodes->n + 1, sizeof *nep);
    Egide__V1__BrokerEndpoint *be = calloc(nb + 1, sizeof *be);
    Egide__V1__BrokerEndpoint **bep = calloc(nb + 1, sizeof *bep);
    Egide__V1__RouteEntry *re = calloc(routes->n + 1, sizeof *re);
    Egide__V1__RouteEntry **rep = calloc(routes->n + 1, sizeof *rep);
    Egide__V1__AccessRule *ae = calloc(nr + 1, sizeof *ae);
    Egide__V1__AccessRule **aep = calloc(nr + 1, sizeof *aep);
    egide_rc rc = EGIDE_ERR_NOMEM;
    if (!ne || !nep || !be || !bep || !re || !rep || !ae || !aep || !eps)
        goto out;
    for (size_t i = 0, k = 0; i < nodes->n; i++) {
        const s_node_t *n = &nodes->v[i];
        egide__v1__node_entry__init(&ne[i]);
        ne[i].id = n->id;
        ne[i].role = n->role;
        ne[i].display_name = n->name;
        ne[i].signing_cert_der.data = n->sign_der;
        ne[i].signing_cert_der.len = n->sign_len;
        ne[i].encryption_cert_der.data = n->enc_der;
        ne[i].encryption_cert_der.len = n->enc_len;
        ne[i].curve_public_key = (char *)n->curve;
        ne[i].status = (Egide__V1__NodeStatus)n->status;
        nep[i] = &ne[i];
        char *next = NULL;
        if (n->endpoint) {
            memcpy(ep, n->endpoint, strlen(n->endpoint) + 1);
            next = ep;
            ep += strlen(n->endpoint) + 1;
        }
        for (char *p = next; p && k < nb; p = next) {
            next = strchr(p, ',');
            if (next)
                *next++ = '\0';
            egide__v1__broker_endpoint__init(&be[k]);
            be[k].endpoint = p;
            be[k].curve_public_key = (char *)n->curve;
            be[k].node_id = n->id;
            bep[k] = &be[k];
            k++;
        }
    }
    dir.nodes = nep;
    dir.n_nodes = nodes->n;
    dir.brokers = bep;
    dir.n_brokers = nb;
    for (size_t i = 0; i < routes->n; i++) {
        const s_route_t *r = &routes->v[i];
        egide__v1__route_entry__init(&re[i]);
        re[i].commune = (char *)r->commune;
        re[i].territory = r->territory;
        re[i].parquet = r->parquet;
        re[i].court = r->court;
        re[i].police = r->police;
        re[i].crip = r->crip;
        re[i].name = r->name;
        re[i].postal_codes = r->postal;
        re[i].n_postal_codes = r->n_postal;
        rep[i] = &re[i];
    }
    dir.routes = rep;
    dir.n_routes = routes->n;
    for (size_t g = 0, k = 0; g < rules->n; g++) {
        const s_rule_group_t *rg = &rules->v[g];
        for (size_t f = 0; f < rg->n_from; f++, k++) {
            egide__v1__access_rule__init(&ae[k]);
            ae[k].sender_role = rg->from[f];
            ae[k].message_type = rg->type;
            ae[k].recipient_roles = (char **)rg->to;
            ae[k].n_recipient_roles = rg->n_to;
            ae[k].route_to = (char **)rg->route;
            ae[k].n_route_to = rg->n_route;
            aep[k] = &ae[k];
        }
    }
    dir.rules = aep;
    dir.n_rules = nr;
    char why[512] = "";
    rc = egide_directory_sign(&dir, key, cert, out, out_len, why, sizeof why);
    if (rc && err && errsz)
        snprintf(err, errsz, "%s", why[0] ? why : "cannot sign");
out:
    free(ne);
    free(nep);
    free(be);
    free(bep);
    free(eps);
    free(re);
    free(rep);
    free(ae);
    free(aep);
    return rc;
}

const char *egide_directory_build_department(const egide_directory_build_t *b)
{
    return b ? b->dep : "";
}

size_t egide_directory_build_n_nodes(const egide_directory_build_t *b)
{
    return b ? b->nodes.n : 0;
}

size_t egide_directory_build_n_routes(const egide_directory_build_t *b)
{
    return b ? b->routes.n : 0;
}

size_t egide_directory_build_n_rules(const egide_directory_build_t *b)
{
    size_t nr = 0;
    for (size_t g = 0; b && g < b->rules.n; g++)
        nr += b->rules.v[g].n_from;
    return nr;
}

void egide_directory_build_destroy(egide_directory_build_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    egide_directory_build_t *b = *self_p;
    s_nodes_free(&b->nodes);
    s_rules_free(&b->rules);
    s_routes_free(&b->routes);
    s_communes_free(&b->communes);
    for (size_t i = 0; i < b->x.n_strs; i++)
        free(b->x.strs[i]);
    free(b->x.strs);
    free(b);
    *self_p = NULL;
}
