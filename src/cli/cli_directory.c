/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cli_directory.c - `egide directory build|show|verify|route`: the directory
 * authority's tool to turn three human-edited files into a signed directory,
 * and everyone's tool to inspect one and ask where a referral would go.
 *
 * Inputs of `build` (every error is one line "file:line: message" and nothing
 * is written; the output appears atomically once everything validated):
 *   NODES.ini   one [node-id] section per node: role, name, status
 *               (active|suspended), signing_cert, encryption_cert,
 *               curve_public_key or curve_public_key_file, and for the broker
 *               endpoint.  Paths are relative to the file's directory; unset
 *               certificate/key paths default to PKI/nodes/<id>/{sign.crt,
 *               enc.crt,curve.public} when --pki PKI is given.
 *   ROUTES.csv  a header line then one row per commune: commune (INSEE code),
 *               territory, and optionally parquet, court, police, crip, name,
 *               postal_codes (space-separated).  crip defaults to the only
 *               crip node.  With --communes FILE (columns insee_code|commune|
 *               code, name, postal_codes), every commune must exist there,
 *               its name and postal codes come from there, and every commune
 *               of the department must be routed (unless --allow-unrouted).
 *   RULES.ini   one [message.type] section per rule group (sections may
 *               repeat): from = sender roles, to = recipient roles, and for
 *               types routed by commune route = route fields (crip territory
 *               parquet court police).  Replies are ordinary explicit rules.
 * inih parses the INI files; line numbers come from our own line reader.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ini.h>
#include <jansson.h>
#include <openssl/x509.h>

#include "cli.h"
#include "egide/domain/egide_catalogue.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/directory/egide_directory.h"
#include "egide/base/egide_limits.h"
#include "egide/base/egide_util.h"

#define S_MAX_ITEMS    20000u /* rows or sections in one input file */
#define S_MAX_CSV_LINE 4096u
#define S_MAX_FIELDS   32u

/* ------------------------------------------------------------------ errors */

/* The first error of a build: "file:line: message" (line 0: "file: message"). */
static char s_err[1024];

static bool s_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool s_fail(const char *file, int line, const char *fmt, ...)
{
    if (s_err[0])
        return false; /* keep the first */
    char msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(s_err, sizeof s_err, "%s:%d: %s", file, line, msg);
    else
        snprintf(s_err, sizeof s_err, "%s: %s", file, msg);
    return false;
}

/* ------------------------------------------------------------------ strings */

static char *s_strdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d) {
        fprintf(stderr, "egide: out of memory\n");
        exit(1);
    }
    return d;
}

static void *s_calloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz);
    if (!p) {
        fprintf(stderr, "egide: out of memory\n");
        exit(1);
    }
    return p;
}

/* Split s on spaces/tabs/commas into at most max words (new strings). */
static size_t s_words(const char *s, char **out, size_t max, bool *overflow)
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
        out[n] = s_calloc((size_t)(q - p) + 1, 1);
        memcpy(out[n], p, (size_t)(q - p));
        n++;
        p = q;
    }
    return n;
}

/* dir of file + "/" + rel, unless rel is absolute. */
static char *s_resolve_path(const char *file, const char *rel)
{
    if (rel[0] == '/')
        return s_strdup(rel);
    const char *slash = strrchr(file, '/');
    size_t dlen = slash ? (size_t)(slash - file) : 1;
    const char *dir = slash ? file : ".";
    size_t n = dlen + 1 + strlen(rel) + 1;
    char *p = s_calloc(n, 1);
    snprintf(p, n, "%.*s/%s", (int)dlen, dir, rel);
    return p;
}

/* ------------------------------------------------------------------ INI */

/* The line reader behind inih: feeds one physical line per call so that our
 * line numbers are exact, and notes where each section starts. */
typedef struct s_ini {
    const char *file;  /* for messages */
    const char *text;  /* whole file, NUL-terminated */
    size_t pos;        /* next byte */
    int line;          /* line number of the last line handed out */
    bool too_long;     /* a line exceeded inih's buffer */
    int too_long_line; /* where */
    /* the last section header seen by the reader */
    char section[128];
    int section_line;
    int section_seq; /* increments at every header, so repeats are seen */
    bool section_bad;
    void *user; /* the caller's state */
    int (*on_section)(struct s_ini *ini);
    int (*on_key)(struct s_ini *ini, const char *name, const char *value);
} s_ini_t;

static char *s_ini_reader(char *str, int num, void *stream)
{
    s_ini_t *ini = stream;
    if (!ini->text[ini->pos] || num < 2)
        return NULL;
    const char *start = ini->text + ini->pos;
    const char *nl = strchr(start, '\n');
    size_t len = nl ? (size_t)(nl - start) + 1 : strlen(start);
    ini->pos += len;
    ini->line++;
    if (len > (size_t)num - 1) {
        if (!ini->too_long) {
            ini->too_long = true;
            ini->too_long_line = ini->line;
        }
        len = (size_t)num - 2; /* keep room for a newline so inih stays in step */
        memcpy(str, start, len);
        str[len] = '\n';
        str[len + 1] = '\0';
    } else {
        memcpy(str, start, len);
        str[len] = '\0';
    }
    /* section header? */
    const char *p = str;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '[') {
        const char *e = strchr(p, ']');
        ini->section_seq++;
        ini->section_line = ini->line;
        ini->section_bad = !e || (size_t)(e - p - 1) >= sizeof ini->section;
        if (!ini->section_bad) {
            /* trim like inih does */
            const char *b = p + 1;
            while (*b == ' ' || *b == '\t')
                b++;
            const char *t = e;
            while (t > b && (t[-1] == ' ' || t[-1] == '\t'))
                t--;
            snprintf(ini->section, sizeof ini->section, "%.*s", (int)(t - b), b);
            if (ini->on_section && !ini->on_section(ini))
                ini->section_bad = true;
        }
    }
    return str;
}

static int s_ini_handler(void *user, const char *section, const char *name, const char *value)
{
    s_ini_t *ini = user;
    if (!section[0] || ini->section_seq == 0)
        return s_fail(ini->file, ini->line, "'%s' is outside any [section]", name);
    if (ini->section_bad)
        return 0;
    return ini->on_key(ini, name, value);
}

/* Parse a whole INI file; returns false with s_err set. */
static bool s_ini_parse(s_ini_t *ini)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    egide_rc rc = egide_file_read(ini->file, EGIDE_MAX_CONFIG_FILE, &buf, &len);
    if (rc)
        return s_fail(ini->file, 0, "cannot read: %s", egide_strerror(rc));
    if (memchr(buf, '\0', len)) {
        free(buf);
        return s_fail(ini->file, 0, "binary data (NUL byte) in a text file");
    }
    ini->text = (const char *)buf;
    int r = ini_parse_stream(s_ini_reader, ini, s_ini_handler, ini);
    ini->text = NULL;
    free(buf);
    if (ini->too_long)
        return s_fail(ini->file, ini->too_long_line, "line too long (at most %d bytes)",
                      ini_max_line - 3);
    if (s_err[0])
        return false;
    if (r > 0)
        return s_fail(ini->file, r, "malformed line (want [section] or key = value)");
    if (r < 0)
        return s_fail(ini->file, 0, "cannot parse (%d)", r);
    return true;
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
    s_node_t *v;
    size_t n;
    size_t cap;
    int cur_seq; /* section_seq of the current node */
} s_nodes_t;

static const s_node_t *s_nodes_find(const s_nodes_t *ns, const char *id)
{
    for (size_t i = 0; i < ns->n; i++)
        if (strcmp(ns->v[i].id, id) == 0)
            return &ns->v[i];
    return NULL;
}

static int s_nodes_section(s_ini_t *ini)
{
    s_nodes_t *ns = ini->user;
    if (!egide_directory_node_id_valid(ini->section))
        return s_fail(ini->file, ini->line,
                      "bad node id [%s] (lower-case letters, digits, '.', '-', '_'; at most %u)",
                      ini->section, EGIDE_MAX_NODE_ID);
    const s_node_t *dup = s_nodes_find(ns, ini->section);
    if (dup)
        return s_fail(ini->file, ini->line, "duplicate node id %s (first at line %d)", ini->section,
                      dup->line);
    if (ns->n >= S_MAX_ITEMS || ns->n >= EGIDE_DIRECTORY_MAX_NODES)
        return s_fail(ini->file, ini->line, "too many nodes");
    if (ns->n == ns->cap) {
        size_t cap = ns->cap ? ns->cap * 2 : 32;
        s_node_t *v = realloc(ns->v, cap * sizeof *v);
        if (!v)
            return s_fail(ini->file, ini->line, "out of memory");
        ns->v = v;
        ns->cap = cap;
    }
    s_node_t *n = &ns->v[ns->n++];
    memset(n, 0, sizeof *n);
    n->id = s_strdup(ini->section);
    n->line = ini->line;
    n->status = EGIDE__V1__NODE_STATUS__NODE_ACTIVE;
    ns->cur_seq = ini->section_seq;
    return 1;
}

static bool s_set_once(s_ini_t *ini, char **slot, int *line_slot, const char *name,
                       const char *value)
{
    if (*slot)
        return s_fail(ini->file, ini->line, "duplicate key '%s' (first at line %d)", name,
                      *line_slot);
    if (!value[0])
        return s_fail(ini->file, ini->line, "empty value for '%s'", name);
    *slot = s_strdup(value);
    *line_slot = ini->line;
    return true;
}

static int s_nodes_key(s_ini_t *ini, const char *name, const char *value)
{
    s_nodes_t *ns = ini->user;
    if (ns->n == 0 || ns->cur_seq != ini->section_seq)
        return 0;
    s_node_t *n = &ns->v[ns->n - 1];
    if (strcmp(name, "role") == 0) {
        if (!egide_catalogue_role_known(value))
            return s_fail(ini->file, ini->line,
                          "unknown role '%s' (crip, tas, snated, parquet, police, court, ase, "
                          "reporter, observatory, auditor, broker)",
                          value);
        return s_set_once(ini, &n->role, &n->role_line, name, value);
    }
    if (strcmp(name, "name") == 0 || strcmp(name, "display_name") == 0)
        return s_set_once(ini, &n->name, &n->name_line, name, value);
    if (strcmp(name, "status") == 0) {
        if (n->status_line)
            return s_fail(ini->file, ini->line, "duplicate key 'status' (first at line %d)",
                          n->status_line);
        n->status_line = ini->line;
        if (strcmp(value, "active") == 0)
            n->status = EGIDE__V1__NODE_STATUS__NODE_ACTIVE;
        else if (strcmp(value, "suspended") == 0)
            n->status = EGIDE__V1__NODE_STATUS__NODE_SUSPENDED;
        else
            return s_fail(ini->file, ini->line, "status must be active or suspended, not '%s'",
                          value);
        return 1;
    }
    if (strcmp(name, "signing_cert") == 0)
        return s_set_once(ini, &n->sign_path, &n->sign_line, name, value);
    if (strcmp(name, "encryption_cert") == 0)
        return s_set_once(ini, &n->enc_path, &n->enc_line, name, value);
    if (strcmp(name, "curve_public_key") == 0) {
        if (n->curve_path)
            return s_fail(ini->file, ini->line,
                          "set curve_public_key or curve_public_key_file, not both");
        return s_set_once(ini, &n->curve_value, &n->curve_line, name, value);
    }
    if (strcmp(name, "curve_public_key_file") == 0) {
        if (n->curve_value)
            return s_fail(ini->file, ini->line,
                          "set curve_public_key or curve_public_key_file, not both");
        return s_set_once(ini, &n->curve_path, &n->curve_line, name, value);
    }
    if (strcmp(name, "endpoint") == 0)
        return s_set_once(ini, &n->endpoint, &n->endpoint_line, name, value);
    return s_fail(ini->file, ini->line,
                  "unknown key '%s' (role, name, status, signing_cert, encryption_cert, "
                  "curve_public_key, curve_public_key_file, endpoint)",
                  name);
}

/* Load a certificate, check its key type, keep its DER. */
static bool s_load_cert(const char *file, int line, const char *id, const char *what,
                        const char *path, int key_type, uint8_t **der, size_t *len)
{
    X509 *c = NULL;
    egide_rc rc = egide_cert_load(path, &c);
    if (rc)
        return s_fail(file, line, "%s: cannot load %s certificate %s: %s", id, what, path,
                      egide_strerror(rc));
    EVP_PKEY *k = X509_get0_pubkey(c);
    if (!k || EVP_PKEY_get_id(k) != key_type) {
        X509_free(c);
        return s_fail(file, line, "%s: %s certificate %s does not hold an %s key", id, what, path,
                      key_type == EVP_PKEY_ED25519 ? "Ed25519" : "X25519");
    }
    rc = egide_cert_to_der(c, der, len);
    X509_free(c);
    if (rc)
        return s_fail(file, line, "%s: cannot encode %s certificate", id, what);
    return true;
}

/* Check each node is complete and load its certificates and keys. */
static bool s_nodes_finish(const char *file, s_nodes_t *ns, const char *pki,
                           const char *endpoint_override)
{
    if (ns->n == 0)
        return s_fail(file, 0, "no node sections");
    for (size_t i = 0; i < ns->n; i++) {
        s_node_t *n = &ns->v[i];
        if (!n->role)
            return s_fail(file, n->line, "node %s has no role", n->id);
        if (!n->name)
            return s_fail(file, n->line, "node %s has no name", n->id);
        if (!egide_directory_text_valid(n->name, EGIDE_DIRECTORY_MAX_NAME))
            return s_fail(file, n->name_line,
                          "%s: name must be UTF-8 text of at most %u bytes, no control characters",
                          n->id, EGIDE_DIRECTORY_MAX_NAME);
        bool broker = strcmp(n->role, EGIDE_ROLE_BROKER) == 0;
        if (broker && endpoint_override) {
            free(n->endpoint);
            n->endpoint = s_strdup(endpoint_override);
        }
        if (broker && !n->endpoint)
            return s_fail(file, n->line, "broker %s has no endpoint", n->id);
        if (!broker && n->endpoint)
            return s_fail(file, n->endpoint_line, "%s: only a broker node has an endpoint", n->id);
        char dflt[4096];
        /* signing certificate */
        char *path = NULL;
        int line = n->sign_line ? n->sign_line : n->line;
        if (n->sign_path) {
            path = s_resolve_path(file, n->sign_path);
        } else if (pki) {
            snprintf(dflt, sizeof dflt, "%s/nodes/%s/sign.crt", pki, n->id);
            path = s_strdup(dflt);
        } else {
            return s_fail(file, n->line, "node %s: signing_cert is not set (nor --pki)", n->id);
        }
        bool ok = s_load_cert(file, line, n->id, "signing", path, EVP_PKEY_ED25519, &n->sign_der,
                              &n->sign_len);
        free(path);
        if (!ok)
            return false;
        /* encryption certificate (a broker may have none) */
        path = NULL;
        line = n->enc_line ? n->enc_line : n->line;
        if (n->enc_path) {
            path = s_resolve_path(file, n->enc_path);
        } else if (pki) {
            snprintf(dflt, sizeof dflt, "%s/nodes/%s/enc.crt", pki, n->id);
            path = s_strdup(dflt);
            if (broker && access(path, R_OK) != 0) {
                free(path);
                path = NULL;
            }
        } else if (!broker) {
            return s_fail(file, n->line, "node %s: encryption_cert is not set (nor --pki)", n->id);
        }
        if (path) {
            ok = s_load_cert(file, line, n->id, "encryption", path, EVP_PKEY_X25519, &n->enc_der,
                             &n->enc_len);
            free(path);
            if (!ok)
                return false;
        }
        /* CURVE public key */
        line = n->curve_line ? n->curve_line : n->line;
        if (n->curve_value) {
            if (!egide_directory_z85_key_valid(n->curve_value))
                return s_fail(file, line, "%s: curve_public_key is not 40 Z85 characters", n->id);
            snprintf(n->curve, sizeof n->curve, "%s", n->curve_value);
        } else {
            if (n->curve_path) {
                path = s_resolve_path(file, n->curve_path);
            } else if (pki) {
                snprintf(dflt, sizeof dflt, "%s/nodes/%s/curve.public", pki, n->id);
                path = s_strdup(dflt);
            } else {
                return s_fail(file, n->line, "node %s: curve_public_key is not set (nor --pki)",
                              n->id);
            }
            uint8_t *kb = NULL;
            size_t kl = 0;
            egide_rc rc = egide_file_read(path, 256, &kb, &kl);
            if (rc) {
                s_fail(file, line, "%s: cannot read CURVE public key %s: %s", n->id, path,
                       egide_strerror(rc));
                free(path);
                return false;
            }
            while (kl && (kb[kl - 1] == '\n' || kb[kl - 1] == '\r' || kb[kl - 1] == ' '))
                kb[--kl] = '\0';
            bool kv = egide_directory_z85_key_valid((char *)kb);
            if (kv)
                snprintf(n->curve, sizeof n->curve, "%s", (char *)kb);
            free(kb);
            if (!kv) {
                s_fail(file, line, "%s: %s does not hold a 40-character Z85 CURVE key", n->id,
                       path);
                free(path);
                return false;
            }
            free(path);
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(ns->v[j].curve, n->curve) == 0)
                return s_fail(file, line, "%s: same CURVE key as %s (line %d)", n->id, ns->v[j].id,
                              ns->v[j].line);
    }
    return true;
}

static void s_nodes_free(s_nodes_t *ns)
{
    for (size_t i = 0; i < ns->n; i++) {
        s_node_t *n = &ns->v[i];
        free(n->id);
        free(n->role);
        free(n->name);
        free(n->sign_path);
        free(n->enc_path);
        free(n->curve_value);
        free(n->curve_path);
        free(n->endpoint);
        OPENSSL_free(n->sign_der);
        OPENSSL_free(n->enc_der);
    }
    free(ns->v);
    memset(ns, 0, sizeof *ns);
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
    s_rule_group_t *v;
    size_t n, cap;
    int cur_seq;
} s_rules_t;

static int s_rules_section(s_ini_t *ini)
{
    s_rules_t *rs = ini->user;
    if (!egide_catalogue_type_known(ini->section))
        return s_fail(ini->file, ini->line, "unknown message type [%s]", ini->section);
    if (rs->n >= EGIDE_DIRECTORY_MAX_RULES)
        return s_fail(ini->file, ini->line, "too many rule sections");
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 32;
        s_rule_group_t *v = realloc(rs->v, cap * sizeof *v);
        if (!v)
            return s_fail(ini->file, ini->line, "out of memory");
        rs->v = v;
        rs->cap = cap;
    }
    s_rule_group_t *g = &rs->v[rs->n++];
    memset(g, 0, sizeof *g);
    g->type = s_strdup(ini->section);
    g->line = ini->line;
    rs->cur_seq = ini->section_seq;
    return 1;
}

static const char *const s_fields[] = {"crip", "territory", "parquet", "court", "police"};

static int s_rules_key(s_ini_t *ini, const char *name, const char *value)
{
    s_rules_t *rs = ini->user;
    if (rs->n == 0 || rs->cur_seq != ini->section_seq)
        return 0;
    s_rule_group_t *g = &rs->v[rs->n - 1];
    char **slot;
    size_t *count, max;
    int *lp;
    bool roles = true;
    if (strcmp(name, "from") == 0) {
        slot = g->from, count = &g->n_from, max = S_MAX_ROLES, lp = &g->from_line;
    } else if (strcmp(name, "to") == 0) {
        slot = g->to, count = &g->n_to, max = S_MAX_ROLES, lp = &g->to_line;
    } else if (strcmp(name, "route") == 0) {
        slot = g->route, count = &g->n_route, max = S_MAX_ROUTE_FIELDS, lp = &g->route_line;
        roles = false;
    } else {
        return s_fail(ini->file, ini->line, "unknown key '%s' (from, to, route)", name);
    }
    if (*lp)
        return s_fail(ini->file, ini->line, "duplicate key '%s' (first at line %d)", name, *lp);
    *lp = ini->line;
    bool overflow;
    *count = s_words(value, slot, max, &overflow);
    if (overflow)
        return s_fail(ini->file, ini->line, "too many values for '%s'", name);
    if (*count == 0 && roles)
        return s_fail(ini->file, ini->line, "'%s' lists no role", name);
    for (size_t i = 0; i < *count; i++) {
        if (roles && !egide_catalogue_role_known(slot[i]))
            return s_fail(ini->file, ini->line, "unknown role '%s'", slot[i]);
        if (!roles) {
            bool known = false;
            for (size_t k = 0; k < sizeof s_fields / sizeof s_fields[0]; k++)
                known = known || strcmp(slot[i], s_fields[k]) == 0;
            if (!known)
                return s_fail(ini->file, ini->line,
                              "unknown route field '%s' (crip, territory, parquet, court, police)",
                              slot[i]);
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(slot[j], slot[i]) == 0)
                return s_fail(ini->file, ini->line, "'%s' listed twice", slot[i]);
    }
    return 1;
}

static bool s_rules_finish(const char *file, s_rules_t *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        s_rule_group_t *g = &rs->v[i];
        if (!g->n_from)
            return s_fail(file, g->line, "[%s] has no 'from'", g->type);
        if (!g->n_to)
            return s_fail(file, g->line, "[%s] has no 'to'", g->type);
        for (size_t f = 0; f < g->n_from; f++)
            for (size_t j = 0; j <= i; j++) {
                const s_rule_group_t *h = &rs->v[j];
                if (strcmp(h->type, g->type) != 0)
                    continue;
                size_t limit = (j == i) ? f : h->n_from;
                for (size_t k = 0; k < limit; k++)
                    if (strcmp(h->from[k], g->from[f]) == 0)
                        return s_fail(file, g->from_line,
                                      "%s may already send %s (rule at line %d)", g->from[f],
                                      g->type, h->line);
            }
    }
    return true;
}

static void s_rules_free(s_rules_t *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        s_rule_group_t *g = &rs->v[i];
        free(g->type);
        for (size_t k = 0; k < g->n_from; k++)
            free(g->from[k]);
        for (size_t k = 0; k < g->n_to; k++)
            free(g->to[k]);
        for (size_t k = 0; k < g->n_route; k++)
            free(g->route[k]);
    }
    free(rs->v);
    memset(rs, 0, sizeof *rs);
}

/* ------------------------------------------------------------------ CSV */

/* One CSV file read line by line: fields may be double-quoted ("" inside). */
typedef struct s_csv {
    const char *file;
    char *text;
    size_t pos, len;
    int line;
    char *field[S_MAX_FIELDS];
    size_t nfield;
    char buf[S_MAX_CSV_LINE];
} s_csv_t;

static bool s_csv_open(s_csv_t *c, const char *file)
{
    memset(c, 0, sizeof *c);
    c->file = file;
    uint8_t *b = NULL;
    size_t n = 0;
    egide_rc rc = egide_file_read(file, 64u * 1024u * 1024u, &b, &n);
    if (rc)
        return s_fail(file, 0, "cannot read: %s", egide_strerror(rc));
    if (memchr(b, '\0', n)) {
        free(b);
        return s_fail(file, 0, "binary data (NUL byte) in a text file");
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
            return s_fail(c->file, c->line, "line too long"), -1;
        /* split in place into c->buf */
        c->nfield = 0;
        size_t o = 0, i = 0;
        for (;;) {
            if (c->nfield >= S_MAX_FIELDS)
                return s_fail(c->file, c->line, "too many fields"), -1;
            c->field[c->nfield++] = c->buf + o;
            if (i < len && start[i] == '"') {
                i++;
                for (;;) {
                    if (i >= len)
                        return s_fail(c->file, c->line, "unterminated quoted field"), -1;
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
                    return s_fail(c->file, c->line, "text after a quoted field"), -1;
            } else {
                while (i < len && start[i] != ',') {
                    if (start[i] == '"')
                        return s_fail(c->file, c->line, "quote inside an unquoted field"), -1;
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
static bool s_communes_load(s_communes_t *cs, const char *file, const char *dep)
{
    memset(cs, 0, sizeof *cs);
    cs->file = file;
    s_csv_t c;
    if (!s_csv_open(&c, file))
        return false;
    bool ok = false;
    int r = s_csv_next(&c);
    if (r <= 0) {
        if (r == 0)
            s_fail(file, 0, "empty file");
        goto out;
    }
    char *hdr[S_MAX_FIELDS];
    size_t nh = c.nfield;
    for (size_t i = 0; i < nh; i++)
        hdr[i] = s_strdup(c.field[i]);
    int ccode = s_col(nh, hdr, "insee_code");
    if (ccode < 0)
        ccode = s_col(nh, hdr, "code");
    if (ccode < 0)
        ccode = s_col(nh, hdr, "commune");
    int cname = s_col(nh, hdr, "name");
    int cpost = s_col(nh, hdr, "postal_codes");
    for (size_t i = 0; i < nh; i++)
        free(hdr[i]);
    if (ccode < 0 || cname < 0) {
        s_fail(file, c.line, "header must name insee_code (or code) and name columns");
        goto out;
    }
    while ((r = s_csv_next(&c)) == 1) {
        if (c.nfield != nh) {
            s_fail(file, c.line, "%zu fields, the header has %zu", c.nfield, nh);
            goto out;
        }
        const char *code = c.field[ccode];
        if (!egide_directory_commune_valid(code)) {
            s_fail(file, c.line, "bad INSEE code '%s'", code);
            goto out;
        }
        if (!egide_directory_commune_in_department(code, dep))
            continue;
        if (cs->n >= S_MAX_ITEMS) {
            s_fail(file, c.line, "too many communes");
            goto out;
        }
        if (cs->n == cs->cap) {
            size_t cap = cs->cap ? cs->cap * 2 : 256;
            s_commune_t *v = realloc(cs->v, cap * sizeof *v);
            if (!v) {
                s_fail(file, c.line, "out of memory");
                goto out;
            }
            cs->v = v;
            cs->cap = cap;
        }
        s_commune_t *e = &cs->v[cs->n++];
        memset(e, 0, sizeof *e);
        snprintf(e->code, sizeof e->code, "%s", code);
        e->name = s_strdup(c.field[cname]);
        e->postal = s_strdup(cpost >= 0 ? c.field[cpost] : "");
        e->line = c.line;
    }
    if (r < 0)
        goto out;
    if (cs->n > 1)
        qsort(cs->v, cs->n, sizeof *cs->v, s_cmp_commune);
    for (size_t i = 1; i < cs->n; i++)
        if (strcmp(cs->v[i - 1].code, cs->v[i].code) == 0) {
            s_fail(file, cs->v[i].line, "commune %s listed twice", cs->v[i].code);
            goto out;
        }
    if (cs->n == 0) {
        s_fail(file, 0, "no commune of department %s", dep);
        goto out;
    }
    ok = true;
out:
    s_csv_close(&c);
    return ok;
}

static void s_communes_free(s_communes_t *cs)
{
    for (size_t i = 0; i < cs->n; i++) {
        free(cs->v[i].name);
        free(cs->v[i].postal);
    }
    free(cs->v);
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
    for (size_t i = 0; i < rs->n; i++) {
        s_route_t *r = &rs->v[i];
        free(r->territory);
        free(r->parquet);
        free(r->court);
        free(r->police);
        free(r->crip);
        free(r->name);
        for (size_t k = 0; k < r->n_postal; k++)
            free(r->postal[k]);
        free(r->postal);
    }
    free(rs->v);
    memset(rs, 0, sizeof *rs);
}

/* A route field must name an existing node of one of the given roles. */
static bool s_check_ref(const char *file, int line, const s_nodes_t *ns, const char *commune,
                        const char *field, const char *id, const char *r1, const char *r2)
{
    const s_node_t *n = s_nodes_find(ns, id);
    if (!n)
        return s_fail(file, line, "commune %s: %s '%s' is not a node of the nodes file", commune,
                      field, id);
    if (strcmp(n->role, r1) != 0 && !(r2 && strcmp(n->role, r2) == 0))
        return s_fail(file, line, "commune %s: %s '%s' has role %s, not %s%s%s", commune, field, id,
                      n->role, r1, r2 ? " or " : "", r2 ? r2 : "");
    return true;
}

static bool s_postal_split(const char *file, int line, const char *commune, const char *s,
                           s_route_t *r)
{
    char *w[EGIDE_DIRECTORY_MAX_POSTAL_CODES];
    bool overflow;
    size_t n = s_words(s, w, EGIDE_DIRECTORY_MAX_POSTAL_CODES, &overflow);
    r->postal = s_calloc(n, sizeof *r->postal);
    for (size_t i = 0; i < n; i++)
        r->postal[i] = w[i];
    r->n_postal = n;
    if (overflow)
        return s_fail(file, line, "commune %s: more than %u postal codes", commune,
                      EGIDE_DIRECTORY_MAX_POSTAL_CODES);
    for (size_t i = 0; i < n; i++) {
        if (!egide_directory_postal_valid(w[i]))
            return s_fail(file, line, "commune %s: bad postal code '%s'", commune, w[i]);
        for (size_t j = 0; j < i; j++)
            if (strcmp(w[i], w[j]) == 0)
                return s_fail(file, line, "commune %s: postal code %s listed twice", commune, w[i]);
    }
    return true;
}

static bool s_routes_load(s_routes_t *rs, const char *file, const char *dep, const s_nodes_t *ns,
                          s_communes_t *communes)
{
    memset(rs, 0, sizeof *rs);
    s_csv_t c;
    if (!s_csv_open(&c, file))
        return false;
    bool ok = false;
    char *hdr[S_MAX_FIELDS] = {0};
    size_t nh = 0;
    int r = s_csv_next(&c);
    if (r <= 0) {
        if (r == 0)
            s_fail(file, 0, "empty file (want a header line)");
        goto out;
    }
    static const char *const known[] = {"commune", "territory", "parquet", "court",
                                        "police",  "crip",      "name",    "postal_codes"};
    nh = c.nfield;
    for (size_t i = 0; i < nh; i++) {
        hdr[i] = s_strdup(c.field[i]);
        bool k = false;
        for (size_t j = 0; j < sizeof known / sizeof known[0]; j++)
            k = k || strcmp(hdr[i], known[j]) == 0;
        if (!k) {
            s_fail(file, c.line,
                   "unknown column '%s' (commune, territory, parquet, court, police, crip, name, "
                   "postal_codes)",
                   hdr[i]);
            goto out;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(hdr[i], hdr[j]) == 0) {
                s_fail(file, c.line, "column '%s' appears twice", hdr[i]);
                goto out;
            }
    }
    int ccom = s_col(nh, hdr, "commune"), cter = s_col(nh, hdr, "territory");
    int cpar = s_col(nh, hdr, "parquet"), ccou = s_col(nh, hdr, "court");
    int cpol = s_col(nh, hdr, "police"), ccri = s_col(nh, hdr, "crip");
    int cnam = s_col(nh, hdr, "name"), cpos = s_col(nh, hdr, "postal_codes");
    if (ccom < 0 || cter < 0) {
        s_fail(file, c.line, "the header must name the commune and territory columns");
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
            s_fail(file, c.line, "%zu fields, the header has %zu", c.nfield, nh);
            goto out;
        }
        const char *code = c.field[ccom];
        if (!egide_directory_commune_valid(code)) {
            s_fail(file, c.line, "bad commune INSEE code '%s' (5 characters, e.g. 71137, 2A004)",
                   code);
            goto out;
        }
        if (!egide_directory_commune_in_department(code, dep)) {
            s_fail(file, c.line, "commune %s is not in department %s", code, dep);
            goto out;
        }
        s_commune_t *known_c = NULL;
        if (communes) {
            known_c = s_communes_find(communes, code);
            if (!known_c) {
                s_fail(file, c.line, "unknown commune %s (not in %s)", code, communes->file);
                goto out;
            }
        }
        for (size_t i = 0; i < rs->n; i++)
            if (strcmp(rs->v[i].commune, code) == 0) {
                s_fail(file, c.line, "commune %s is routed twice (first at line %d)", code,
                       rs->v[i].line);
                goto out;
            }
        if (rs->n >= EGIDE_DIRECTORY_MAX_ROUTES) {
            s_fail(file, c.line, "too many routes");
            goto out;
        }
        if (rs->n == rs->cap) {
            size_t cap = rs->cap ? rs->cap * 2 : 256;
            s_route_t *v = realloc(rs->v, cap * sizeof *v);
            if (!v) {
                s_fail(file, c.line, "out of memory");
                goto out;
            }
            rs->v = v;
            rs->cap = cap;
        }
        s_route_t *e = &rs->v[rs->n++];
        memset(e, 0, sizeof *e);
        snprintf(e->commune, sizeof e->commune, "%s", code);
        e->line = c.line;
        e->territory = s_strdup(c.field[cter]);
        e->parquet = s_strdup(cpar >= 0 ? c.field[cpar] : "");
        e->court = s_strdup(ccou >= 0 ? c.field[ccou] : "");
        e->police = s_strdup(cpol >= 0 ? c.field[cpol] : "");
        e->crip = s_strdup(ccri >= 0 ? c.field[ccri] : "");
        if (!e->crip[0]) {
            if (ncrip != 1) {
                s_fail(file, c.line,
                       "commune %s: no crip given and the nodes file has %zu crip nodes", code,
                       ncrip);
                goto out;
            }
            free(e->crip);
            e->crip = s_strdup(only_crip);
        }
        const char *nm = cnam >= 0 ? c.field[cnam] : "";
        if (!nm[0] && known_c)
            nm = known_c->name;
        e->name = s_strdup(nm);
        if (!egide_directory_text_valid(e->name, EGIDE_DIRECTORY_MAX_NAME)) {
            s_fail(file, c.line,
                   "commune %s: name must be UTF-8 text of at most %u bytes, no control "
                   "characters",
                   code, EGIDE_DIRECTORY_MAX_NAME);
            goto out;
        }
        const char *pc = cpos >= 0 ? c.field[cpos] : "";
        if (!pc[0] && known_c)
            pc = known_c->postal;
        if (!s_postal_split(file, c.line, code, pc, e))
            goto out;
        if (!e->territory[0]) {
            s_fail(file, c.line, "commune %s: no territory", code);
            goto out;
        }
        if (!s_check_ref(file, c.line, ns, code, "territory", e->territory, EGIDE_ROLE_TAS,
                         EGIDE_ROLE_ASE) ||
            !s_check_ref(file, c.line, ns, code, "crip", e->crip, EGIDE_ROLE_CRIP, NULL) ||
            (e->parquet[0] && !s_check_ref(file, c.line, ns, code, "parquet", e->parquet,
                                           EGIDE_ROLE_PARQUET, NULL)) ||
            (e->court[0] &&
             !s_check_ref(file, c.line, ns, code, "court", e->court, EGIDE_ROLE_COURT, NULL)) ||
            (e->police[0] &&
             !s_check_ref(file, c.line, ns, code, "police", e->police, EGIDE_ROLE_POLICE, NULL)))
            goto out;
        if (known_c)
            known_c->routed = true;
    }
    if (r < 0)
        goto out;
    if (rs->n == 0) {
        s_fail(file, 0, "no route");
        goto out;
    }
    ok = true;
out:
    for (size_t i = 0; i < nh; i++)
        free(hdr[i]);
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
static bool s_cross_check(const char *routes_file, const char *rules_file, const s_routes_t *rs,
                          const s_rules_t *rules, const s_nodes_t *ns)
{
    for (size_t g = 0; g < rules->n; g++) {
        const s_rule_group_t *rg = &rules->v[g];
        for (size_t f = 0; f < rg->n_route; f++)
            for (size_t i = 0; i < rs->n; i++) {
                const char *id = s_route_get(&rs->v[i], rg->route[f]);
                if (!id[0])
                    return s_fail(routes_file, rs->v[i].line,
                                  "commune %s sets no %s, which [%s] (%s:%d) routes to",
                                  rs->v[i].commune, rg->route[f], rg->type, rules_file, rg->line);
                const s_node_t *n = s_nodes_find(ns, id);
                bool allowed = false;
                for (size_t k = 0; n && k < rg->n_to; k++)
                    allowed = allowed || strcmp(rg->to[k], n->role) == 0;
                if (!allowed)
                    return s_fail(rules_file, rg->route_line ? rg->route_line : rg->line,
                                  "[%s] routes to %s, but %s (role %s, commune %s) is not in 'to'",
                                  rg->type, rg->route[f], id, n ? n->role : "?", rs->v[i].commune);
            }
    }
    return true;
}

/* ------------------------------------------------------------------ options */

typedef struct s_opts {
    const char *nodes, *routes, *rules, *key, *cert, *out, *pki, *communes, *endpoint;
    const char *department, *jurisdiction, *term, *anchor, *commune, *postal, *type, *role;
    const char *version, *valid_days, *min_version;
    bool json, allow_unrouted, all;
    const char *file; /* positional */
} s_opts_t;

static int s_parse_opts(const char *what, int argc, char **argv, s_opts_t *o)
{
    struct {
        const char *name;
        const char **slot;
    } str[] = {
        {"--nodes", &o->nodes},
        {"--routes", &o->routes},
        {"--rules", &o->rules},
        {"--authority-key", &o->key},
        {"--authority-cert", &o->cert},
        {"--out", &o->out},
        {"--pki", &o->pki},
        {"--communes", &o->communes},
        {"--broker-endpoint", &o->endpoint},
        {"--department", &o->department},
        {"--jurisdiction", &o->jurisdiction},
        {"--referral-term", &o->term},
        {"--anchor", &o->anchor},
        {"--commune", &o->commune},
        {"--postal-code", &o->postal},
        {"--type", &o->type},
        {"--sender-role", &o->role},
        {"--version", &o->version},
        {"--valid-days", &o->valid_days},
        {"--min-version", &o->min_version},
    };
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            o->json = true;
            continue;
        }
        if (strcmp(a, "--allow-unrouted") == 0) {
            o->allow_unrouted = true;
            continue;
        }
        if (strcmp(a, "--all") == 0) {
            o->all = true;
            continue;
        }
        bool matched = false;
        for (size_t k = 0; k < sizeof str / sizeof str[0]; k++) {
            size_t nl = strlen(str[k].name);
            if (strcmp(a, str[k].name) == 0) {
                if (i + 1 >= argc) {
                    cli_fail(what, "%s needs a value", a);
                    return 2;
                }
                *str[k].slot = argv[++i];
                matched = true;
                break;
            }
            if (strncmp(a, str[k].name, nl) == 0 && a[nl] == '=') {
                *str[k].slot = a + nl + 1;
                matched = true;
                break;
            }
        }
        if (matched)
            continue;
        if (a[0] == '-' && a[1]) {
            cli_fail(what, "unknown option %s (egide directory --help)", a);
            return 2;
        }
        if (o->file) {
            cli_fail(what, "unexpected argument '%s'", a);
            return 2;
        }
        o->file = a;
    }
    return 0;
}

static void s_usage(FILE *f)
{
    fprintf(f, "usage:\n"
               "  egide directory build --nodes NODES.ini --routes ROUTES.csv --rules RULES.ini\n"
               "        --authority-key KEY --authority-cert CERT --version N --out FILE\n"
               "        [--valid-days D (30)] [--department 71] [--jurisdiction fr-casf]\n"
               "        [--referral-term TEXT] [--pki DIR] [--communes COMMUNES.csv]\n"
               "        [--allow-unrouted] [--broker-endpoint tcp://HOST:PORT]\n"
               "  egide directory show FILE [--anchor CERT] [--json]\n"
               "  egide directory verify FILE --anchor AUTHORITY_CERT [--min-version N]\n"
               "  egide directory route FILE (--commune CODE | --postal-code CODE)\n"
               "        [--type TYPE (ip.transmission)] [--sender-role ROLE] [--anchor CERT]\n"
               "\n"
               "build signs the directory made of the nodes, routes and rules files (see\n"
               "deploy/71/ for examples); errors are 'file:line: message' and nothing is\n"
               "written.  route prints the node ids a message goes to, one per line;\n"
               "with --all, one line per routed commune: CODE<TAB>id id...\n");
}

/* ------------------------------------------------------------------ build */

static int s_build(int argc, char **argv)
{
    s_opts_t o;
    memset(&o, 0, sizeof o);
    int prc = s_parse_opts("directory build", argc, argv, &o);
    if (prc)
        return prc;
    if (o.file)
        return cli_fail("directory build", "unexpected argument '%s'", o.file), 2;
    if (!o.nodes || !o.routes || !o.rules || !o.key || !o.cert || !o.version || !o.out) {
        cli_fail("directory build", "--nodes, --routes, --rules, --authority-key, "
                                    "--authority-cert, --version and --out are required");
        return 2;
    }
    int64_t version = 0, days = 30;
    if (egide_parse_int64(o.version, 1, INT64_MAX, &version) != EGIDE_OK)
        return cli_fail("directory build", "--version wants a positive integer"), 2;
    if (o.valid_days && egide_parse_int64(o.valid_days, 1, 3660, &days) != EGIDE_OK)
        return cli_fail("directory build", "--valid-days wants 1..3660"), 2;
    if (o.endpoint && strncmp(o.endpoint, "tcp://", 6) != 0 && strncmp(o.endpoint, "ipc://", 6))
        return cli_fail("directory build", "--broker-endpoint wants tcp://HOST:PORT"), 2;
    const char *jur = o.jurisdiction ? o.jurisdiction : "fr-casf";
    const char *term = o.term;
    if (!term)
        term = strncmp(jur, "nc-", 3) == 0 ? "information signalante" : "information préoccupante";

    int ret = 1;
    s_err[0] = '\0';
    s_nodes_t nodes;
    s_rules_t rules;
    s_routes_t routes;
    s_communes_t communes;
    memset(&nodes, 0, sizeof nodes);
    memset(&rules, 0, sizeof rules);
    memset(&routes, 0, sizeof routes);
    memset(&communes, 0, sizeof communes);
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    uint8_t *signed_bytes = NULL;
    size_t signed_len = 0;
    char dep[8] = "";
    Egide__V1__Directory dir = EGIDE__V1__DIRECTORY__INIT;
    Egide__V1__NodeEntry *ne = NULL, **nep = NULL;
    Egide__V1__RouteEntry *re = NULL, **rep = NULL;
    Egide__V1__AccessRule *ae = NULL, **aep = NULL;
    Egide__V1__BrokerEndpoint *be = NULL, **bep = NULL;

    /* nodes */
    s_ini_t ini;
    memset(&ini, 0, sizeof ini);
    ini.file = o.nodes;
    ini.user = &nodes;
    ini.on_section = s_nodes_section;
    ini.on_key = s_nodes_key;
    if (!s_ini_parse(&ini) || !s_nodes_finish(o.nodes, &nodes, o.pki, o.endpoint))
        goto fail;
    if (nodes.n == 0) {
        s_fail(o.nodes, 0, "no node defined");
        goto fail;
    }
    /* department: given, or the prefix of the first node id */
    if (o.department) {
        snprintf(dep, sizeof dep, "%s", o.department);
    } else {
        const char *dot = strchr(nodes.v[0].id, '.');
        size_t l = dot ? (size_t)(dot - nodes.v[0].id) : 0;
        if (l && l < sizeof dep)
            snprintf(dep, sizeof dep, "%.*s", (int)l, nodes.v[0].id);
    }
    if (!egide_directory_department_valid(dep)) {
        cli_fail("directory build", "no valid department: give --department (e.g. 71, 2A, 988)");
        ret = 2;
        goto out;
    }
    /* rules */
    memset(&ini, 0, sizeof ini);
    ini.file = o.rules;
    ini.user = &rules;
    ini.on_section = s_rules_section;
    ini.on_key = s_rules_key;
    if (!s_ini_parse(&ini) || !s_rules_finish(o.rules, &rules))
        goto fail;
    /* communes and routes */
    if (o.communes && !s_communes_load(&communes, o.communes, dep))
        goto fail;
    if (!s_routes_load(&routes, o.routes, dep, &nodes, o.communes ? &communes : NULL))
        goto fail;
    if (o.communes && !o.allow_unrouted)
        for (size_t i = 0; i < communes.n; i++)
            if (!communes.v[i].routed) {
                s_fail(o.communes, communes.v[i].line,
                       "commune %s (%s) has no route in %s (or pass --allow-unrouted)",
                       communes.v[i].code, communes.v[i].name, o.routes);
                goto fail;
            }
    if (!s_cross_check(o.routes, o.rules, &routes, &rules, &nodes))
        goto fail;

    /* authority */
    egide_rc rc = egide_key_load_private(o.key, &key);
    if (rc) {
        cli_fail_rc("directory build", rc, "authority key %s", o.key);
        goto out;
    }
    rc = egide_cert_load(o.cert, &cert);
    if (rc) {
        cli_fail_rc("directory build", rc, "authority certificate %s", o.cert);
        goto out;
    }

    /* assemble */
    int64_t now = egide_now_ms();
    dir.format_version = EGIDE_DIRECTORY_FORMAT_VERSION;
    dir.department = dep;
    dir.version = (uint64_t)version;
    dir.issued_ms = now;
    dir.not_after_ms = now + days * 86400000LL;
    dir.jurisdiction = (char *)jur;
    dir.referral_term = (char *)term;
    ne = s_calloc(nodes.n, sizeof *ne);
    nep = s_calloc(nodes.n, sizeof *nep);
    size_t nb = 0;
    for (size_t i = 0; i < nodes.n; i++) {
        s_node_t *n = &nodes.v[i];
        egide__v1__node_entry__init(&ne[i]);
        ne[i].id = n->id;
        ne[i].role = n->role;
        ne[i].display_name = n->name;
        ne[i].signing_cert_der.data = n->sign_der;
        ne[i].signing_cert_der.len = n->sign_len;
        ne[i].encryption_cert_der.data = n->enc_der;
        ne[i].encryption_cert_der.len = n->enc_len;
        ne[i].curve_public_key = n->curve;
        ne[i].status = (Egide__V1__NodeStatus)n->status;
        nep[i] = &ne[i];
        if (n->endpoint)
            nb++;
    }
    dir.nodes = nep;
    dir.n_nodes = nodes.n;
    be = s_calloc(nb, sizeof *be);
    bep = s_calloc(nb, sizeof *bep);
    for (size_t i = 0, k = 0; i < nodes.n; i++)
        if (nodes.v[i].endpoint) {
            egide__v1__broker_endpoint__init(&be[k]);
            be[k].endpoint = nodes.v[i].endpoint;
            be[k].curve_public_key = nodes.v[i].curve;
            be[k].node_id = nodes.v[i].id;
            bep[k] = &be[k];
            k++;
        }
    dir.brokers = bep;
    dir.n_brokers = nb;
    re = s_calloc(routes.n, sizeof *re);
    rep = s_calloc(routes.n, sizeof *rep);
    for (size_t i = 0; i < routes.n; i++) {
        s_route_t *r = &routes.v[i];
        egide__v1__route_entry__init(&re[i]);
        re[i].commune = r->commune;
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
    dir.n_routes = routes.n;
    size_t nr = 0;
    for (size_t g = 0; g < rules.n; g++)
        nr += rules.v[g].n_from;
    ae = s_calloc(nr, sizeof *ae);
    aep = s_calloc(nr, sizeof *aep);
    for (size_t g = 0, k = 0; g < rules.n; g++) {
        s_rule_group_t *rg = &rules.v[g];
        for (size_t f = 0; f < rg->n_from; f++, k++) {
            egide__v1__access_rule__init(&ae[k]);
            ae[k].sender_role = rg->from[f];
            ae[k].message_type = rg->type;
            ae[k].recipient_roles = rg->to;
            ae[k].n_recipient_roles = rg->n_to;
            ae[k].route_to = rg->route;
            ae[k].n_route_to = rg->n_route;
            aep[k] = &ae[k];
        }
    }
    dir.rules = aep;
    dir.n_rules = nr;

    char why[512];
    rc = egide_directory_sign(&dir, key, cert, &signed_bytes, &signed_len, why, sizeof why);
    if (rc) {
        cli_fail_rc("directory build", rc, "%s", why[0] ? why : "cannot sign");
        goto out;
    }
    rc = egide_file_write_atomic(o.out, signed_bytes, signed_len, 0644);
    if (rc) {
        cli_fail_rc("directory build", rc, "cannot write %s", o.out);
        goto out;
    }
    printf("%s: directory %s version %lld: %zu nodes, %zu communes, %zu rules, %zu bytes, valid "
           "%lld days\n",
           o.out, dep, (long long)version, nodes.n, routes.n, nr, signed_len, (long long)days);
    ret = 0;
    goto out;
fail:
    fprintf(stderr, "egide: directory build: %s\n", s_err[0] ? s_err : "failed");
    ret = 1;
out:
    free(ne);
    free(nep);
    free(re);
    free(rep);
    free(ae);
    free(aep);
    free(be);
    free(bep);
    free(signed_bytes);
    EVP_PKEY_free(key);
    X509_free(cert);
    s_nodes_free(&nodes);
    s_rules_free(&rules);
    s_routes_free(&routes);
    s_communes_free(&communes);
    return ret;
}

/* ------------------------------------------------------------------ loading */

/* Load FILE with --anchor (verified, not expired) or, without one, for
 * display only (self-consistent signature). */
static int s_open(const char *what, const s_opts_t *o, uint64_t min_version, egide_directory_t **d)
{
    if (!o->file) {
        cli_fail(what, "which directory file?");
        return 2;
    }
    egide_rc rc;
    if (o->anchor) {
        X509 *anchor = NULL;
        rc = egide_cert_load(o->anchor, &anchor);
        if (rc)
            return cli_fail_rc(what, rc, "anchor %s", o->anchor);
        rc = egide_directory_load_file(o->file, anchor, min_version, egide_now_ms(), d);
        X509_free(anchor);
    } else {
        uint8_t *b = NULL;
        size_t n = 0;
        rc = egide_file_read(o->file, EGIDE_MAX_DIRECTORY, &b, &n);
        if (rc == EGIDE_OK) {
            rc = egide_directory_load_untrusted(b, n, d);
            free(b);
        }
    }
    if (rc)
        return cli_fail_rc(what, rc, "%s", o->file);
    return 0;
}

static void s_time(int64_t ms, char *out, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, n, "%lld ms", (long long)ms);
}

static void s_fingerprint(const ProtobufCBinaryData *der, char out[65])
{
    uint8_t h[32];
    egide_sha256(der->data, der->len, h);
    egide_hex_encode(h, sizeof h, out);
}

static const char *s_status(int st)
{
    return st == EGIDE__V1__NODE_STATUS__NODE_ACTIVE ? "active" : "suspended";
}

/* ------------------------------------------------------------------ show */

static json_t *s_strarray(char **v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static int s_show_json(const egide_directory_t *d, bool verified)
{
    const Egide__V1__Directory *p = egide_directory_pb(d);
    char t1[32], t2[32], fp[65];
    s_time(p->issued_ms, t1, sizeof t1);
    s_time(p->not_after_ms, t2, sizeof t2);
    json_t *root = json_object();
    json_object_set_new(root, "format_version", json_integer(p->format_version));
    json_object_set_new(root, "department", json_string(p->department));
    json_object_set_new(root, "version", json_integer((json_int_t)p->version));
    json_object_set_new(root, "issued", json_string(t1));
    json_object_set_new(root, "not_after", json_string(t2));
    json_object_set_new(root, "issued_ms", json_integer(p->issued_ms));
    json_object_set_new(root, "not_after_ms", json_integer(p->not_after_ms));
    json_object_set_new(root, "jurisdiction", json_string(p->jurisdiction));
    json_object_set_new(root, "referral_term", json_string(p->referral_term));
    json_object_set_new(root, "verified_with_anchor", json_boolean(verified));
    json_t *nodes = json_array();
    for (size_t i = 0; i < p->n_nodes; i++) {
        const Egide__V1__NodeEntry *n = p->nodes[i];
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(n->id));
        json_object_set_new(o, "role", json_string(n->role));
        json_object_set_new(o, "name", json_string(n->display_name));
        json_object_set_new(o, "status", json_string(s_status(n->status)));
        s_fingerprint(&n->signing_cert_der, fp);
        json_object_set_new(o, "signing_cert_sha256", json_string(fp));
        if (n->encryption_cert_der.len) {
            s_fingerprint(&n->encryption_cert_der, fp);
            json_object_set_new(o, "encryption_cert_sha256", json_string(fp));
        }
        json_object_set_new(o, "curve_public_key", json_string(n->curve_public_key));
        json_array_append_new(nodes, o);
    }
    json_object_set_new(root, "nodes", nodes);
    json_t *brokers = json_array();
    for (size_t i = 0; i < p->n_brokers; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "node_id", json_string(p->brokers[i]->node_id));
        json_object_set_new(o, "endpoint", json_string(p->brokers[i]->endpoint));
        json_object_set_new(o, "curve_public_key", json_string(p->brokers[i]->curve_public_key));
        json_array_append_new(brokers, o);
    }
    json_object_set_new(root, "brokers", brokers);
    json_t *routes = json_array();
    for (size_t i = 0; i < p->n_routes; i++) {
        const Egide__V1__RouteEntry *r = p->routes[i];
        json_t *o = json_object();
        json_object_set_new(o, "commune", json_string(r->commune));
        json_object_set_new(o, "name", json_string(r->name));
        json_object_set_new(o, "postal_codes", s_strarray(r->postal_codes, r->n_postal_codes));
        json_object_set_new(o, "crip", json_string(r->crip));
        json_object_set_new(o, "territory", json_string(r->territory));
        json_object_set_new(o, "parquet", json_string(r->parquet));
        json_object_set_new(o, "court", json_string(r->court));
        json_object_set_new(o, "police", json_string(r->police));
        json_array_append_new(routes, o);
    }
    json_object_set_new(root, "routes", routes);
    json_t *rules = json_array();
    for (size_t i = 0; i < p->n_rules; i++) {
        const Egide__V1__AccessRule *r = p->rules[i];
        json_t *o = json_object();
        json_object_set_new(o, "sender_role", json_string(r->sender_role));
        json_object_set_new(o, "message_type", json_string(r->message_type));
        json_object_set_new(o, "recipient_roles",
                            s_strarray(r->recipient_roles, r->n_recipient_roles));
        json_object_set_new(o, "route_to", s_strarray(r->route_to, r->n_route_to));
        json_array_append_new(rules, o);
    }
    json_object_set_new(root, "rules", rules);
    int rc = json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    printf("\n");
    json_decref(root);
    return rc == 0 ? 0 : 1;
}

static int s_show(int argc, char **argv)
{
    s_opts_t o;
    memset(&o, 0, sizeof o);
    int prc = s_parse_opts("directory show", argc, argv, &o);
    if (prc)
        return prc;
    egide_directory_t *d = NULL;
    int r = s_open("directory show", &o, 0, &d);
    if (r)
        return r;
    if (o.json) {
        r = s_show_json(d, o.anchor != NULL);
        egide_directory_destroy(&d);
        return r;
    }
    const Egide__V1__Directory *p = egide_directory_pb(d);
    char t1[32], t2[32], fp[65];
    s_time(p->issued_ms, t1, sizeof t1);
    s_time(p->not_after_ms, t2, sizeof t2);
    printf("directory of department %s, version %llu (format %u)\n", p->department,
           (unsigned long long)p->version, p->format_version);
    printf("jurisdiction %s, referral term \"%s\"\n", p->jurisdiction, p->referral_term);
    printf("issued %s, valid until %s\n", t1, t2);
    printf("signature: %s\n",
           o.anchor ? "verified with the anchor" : "self-consistent only (use --anchor or verify)");
    printf("\nbrokers:\n");
    for (size_t i = 0; i < p->n_brokers; i++)
        printf("  %-28s %s\n", p->brokers[i]->node_id, p->brokers[i]->endpoint);
    printf("\nnodes (%zu):\n", p->n_nodes);
    for (size_t i = 0; i < p->n_nodes; i++) {
        const Egide__V1__NodeEntry *n = p->nodes[i];
        s_fingerprint(&n->signing_cert_der, fp);
        printf("  %-28s %-12s %-9s sign:%.16s  %s\n", n->id, n->role, s_status(n->status), fp,
               n->display_name);
    }
    printf("\nroutes: %zu communes\n", p->n_routes);
    /* communes per territory, in node order */
    for (size_t i = 0; i < p->n_nodes; i++) {
        size_t c = 0;
        for (size_t k = 0; k < p->n_routes; k++)
            c += strcmp(p->routes[k]->territory, p->nodes[i]->id) == 0;
        if (c)
            printf("  %-28s %zu communes\n", p->nodes[i]->id, c);
    }
    printf("\nrules (%zu):\n", p->n_rules);
    for (size_t i = 0; i < p->n_rules; i++) {
        const Egide__V1__AccessRule *ar = p->rules[i];
        printf("  %-12s %-32s ->", ar->sender_role, ar->message_type);
        for (size_t k = 0; k < ar->n_recipient_roles; k++)
            printf(" %s", ar->recipient_roles[k]);
        if (ar->n_route_to) {
            printf("   (routed: ");
            for (size_t k = 0; k < ar->n_route_to; k++)
                printf("%s%s", k ? " " : "", ar->route_to[k]);
            printf(")");
        }
        printf("\n");
    }
    egide_directory_destroy(&d);
    return 0;
}

/* ------------------------------------------------------------------ verify */

static int s_verify(int argc, char **argv)
{
    s_opts_t o;
    memset(&o, 0, sizeof o);
    int prc = s_parse_opts("directory verify", argc, argv, &o);
    if (prc)
        return prc;
    if (!o.anchor) {
        cli_fail("directory verify", "--anchor AUTHORITY_CERT is required");
        return 2;
    }
    int64_t minv = 0;
    if (o.min_version && egide_parse_int64(o.min_version, 0, INT64_MAX, &minv) != EGIDE_OK)
        return cli_fail("directory verify", "--min-version wants an integer"), 2;
    egide_directory_t *d = NULL;
    int r = s_open("directory verify", &o, (uint64_t)minv, &d);
    if (r)
        return r;
    const Egide__V1__Directory *p = egide_directory_pb(d);
    char t2[32];
    s_time(p->not_after_ms, t2, sizeof t2);
    printf("%s: OK: department %s, version %llu, valid until %s, %zu nodes, %zu communes, %zu "
           "rules\n",
           o.file, p->department, (unsigned long long)p->version, t2, p->n_nodes, p->n_routes,
           p->n_rules);
    egide_directory_destroy(&d);
    return 0;
}

/* ------------------------------------------------------------------ route */

static int s_route(int argc, char **argv)
{
    const char *what = "directory route";
    s_opts_t o;
    memset(&o, 0, sizeof o);
    int prc = s_parse_opts(what, argc, argv, &o);
    if (prc)
        return prc;
    if ((o.commune != NULL) + (o.postal != NULL) + o.all != 1) {
        cli_fail(what, "give one of --commune INSEE_CODE, --postal-code CODE, --all");
        return 2;
    }
    const char *type = o.type ? o.type : EGIDE_TYPE_IP_TRANSMISSION;
    if (!egide_catalogue_type_known(type)) {
        cli_fail(what, "unknown message type '%s'", type);
        return 2;
    }
    if (o.role && !egide_catalogue_role_known(o.role)) {
        cli_fail(what, "unknown role '%s'", o.role);
        return 2;
    }
    egide_directory_t *d = NULL;
    int r = s_open(what, &o, 0, &d);
    if (r)
        return r;
    const Egide__V1__Directory *p = egide_directory_pb(d);
    const char *dep = p->department;
    char commune[8] = "";
    r = 1;
    /* sender role: given, or the first role whose rule routes this type */
    const char *role = o.role;
    if (!role) {
        for (size_t i = 0; i < p->n_rules && !role; i++)
            if (strcmp(p->rules[i]->message_type, type) == 0 && p->rules[i]->n_route_to)
                role = p->rules[i]->sender_role;
        if (!role) {
            cli_fail_rc(what, EGIDE_ERR_ROUTE, "no rule routes %s by commune", type);
            goto out;
        }
    }
    if (o.all) {
        size_t failed = 0;
        for (size_t i = 0; i < p->n_routes; i++) {
            char **all_ids = NULL;
            egide_rc arc = egide_directory_resolve(d, role, type, p->routes[i]->commune, &all_ids);
            if (arc) {
                fprintf(stderr, "egide: %s: commune %s: %s\n", what, p->routes[i]->commune,
                        egide_strerror(arc));
                failed++;
                continue;
            }
            printf("%s\t", p->routes[i]->commune);
            for (char **q = all_ids; *q; q++)
                printf("%s%s", q == all_ids ? "" : " ", *q);
            printf("\n");
            egide_directory_ids_free(&all_ids);
        }
        r = failed ? 1 : 0;
        goto out;
    }
    if (o.postal) {
        if (!egide_directory_postal_valid(o.postal)) {
            cli_fail(what, "bad postal code '%s' (5 digits)", o.postal);
            goto out;
        }
        const Egide__V1__RouteEntry *hits[64];
        size_t n = egide_directory_postal_lookup(d, o.postal, hits, 64);
        if (n == 0) {
            cli_fail_rc(what, EGIDE_ERR_ROUTE,
                        "no commune of department %s has postal code %s (route by INSEE code "
                        "with --commune)",
                        dep, o.postal);
            goto out;
        }
        if (n > 1) {
            char list[700] = "";
            size_t used = 0;
            for (size_t i = 0; i < n && i < 64; i++) {
                int w = snprintf(list + used, sizeof list - used, "%s%s %s", i ? ", " : "",
                                 hits[i]->commune, hits[i]->name);
                if (w < 0 || (size_t)w >= sizeof list - used) {
                    snprintf(list + (sizeof list - 5), 5, "...");
                    break;
                }
                used += (size_t)w;
            }
            cli_fail_rc(what, EGIDE_ERR_AMBIGUOUS,
                        "postal code %s covers %zu communes, choose one with --commune: %s",
                        o.postal, n, list);
            goto out;
        }
        snprintf(commune, sizeof commune, "%s", hits[0]->commune);
        fprintf(stderr, "egide: postal code %s is commune %s (%s)\n", o.postal, commune,
                hits[0]->name);
    } else {
        snprintf(commune, sizeof commune, "%.7s", o.commune);
    }
    if (!egide_directory_commune_valid(commune)) {
        cli_fail_rc(what, EGIDE_ERR_ROUTE, "'%s' is not an INSEE commune code", o.commune);
        goto out;
    }
    if (!egide_directory_commune_in_department(commune, dep)) {
        cli_fail_rc(what, EGIDE_ERR_ROUTE,
                    "commune %s is not in department %s, which this directory covers", commune,
                    dep);
        goto out;
    }
    if (!egide_directory_route(d, commune)) {
        cli_fail_rc(what, EGIDE_ERR_ROUTE, "commune %s is not a routed commune of department %s",
                    commune, dep);
        goto out;
    }
    char **ids = NULL;
    egide_rc rc = egide_directory_resolve(d, role, type, commune, &ids);
    if (rc == EGIDE_ERR_RULE) {
        cli_fail_rc(what, rc, "role %s may not send %s", role, type);
        goto out;
    }
    if (rc == EGIDE_ERR_ROUTE) {
        cli_fail_rc(what, rc,
                    "%s from %s is not routed by commune, or every node for %s is suspended", type,
                    role, commune);
        goto out;
    }
    if (rc) {
        cli_fail_rc(what, rc, "%s", commune);
        goto out;
    }
    for (char **q = ids; *q; q++)
        printf("%s\n", *q);
    egide_directory_ids_free(&ids);
    r = 0;
out:
    egide_directory_destroy(&d);
    return r;
}

/* ------------------------------------------------------------------ entry */

int cmd_directory(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        s_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0) {
            s_usage(stdout);
            return 0;
        }
    if (strcmp(sub, "build") == 0)
        return s_build(argc - 2, argv + 2);
    if (strcmp(sub, "show") == 0)
        return s_show(argc - 2, argv + 2);
    if (strcmp(sub, "verify") == 0)
        return s_verify(argc - 2, argv + 2);
    if (strcmp(sub, "route") == 0)
        return s_route(argc - 2, argv + 2);
    cli_fail("directory", "unknown subcommand '%s' (build, show, verify, route)", sub);
    return 2;
}
