/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cli_directory.c - `egide directory build|show|verify|route`: the directory
 * authority's tool to turn three human-edited files into a signed directory,
 * and everyone's tool to inspect one and ask where a referral would go.
 *
 * `build` is a command line over egide_directory_build (the inputs, their
 * checks and the "file:line: message" errors are described in
 * egide_directory_build.h); nothing is written unless everything validated,
 * and then the output appears atomically.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "cli.h"
#include "egide/domain/egide_catalogue.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/directory/egide_directory.h"
#include "egide/directory/egide_directory_build.h"
#include "egide/base/egide_limits.h"
#include "egide/base/egide_util.h"

/* ------------------------------------------------------------------ options */

typedef struct s_opts {
    const char *nodes, *routes, *rules, *key, *cert, *out, *pki, *communes, *endpoint;
    const char *department, *jurisdiction, *term, *anchor, *commune, *postal, *type, *role;
    const char *version, *valid_days, *min_version;
    bool json, allow_unrouted, all;
    const char *file; /* positional */
} s_opts_t;

static const cli_opt_t s_build_opts[] = {
    {"--nodes", CLI_VALUE, "NODES.ini", "one [node-id] section per node", true},
    {"--routes", CLI_VALUE, "ROUTES.csv", "one row per commune", true},
    {"--rules", CLI_VALUE, "RULES.ini", "one [message.type] section per rule group", true},
    {"--authority-key", CLI_VALUE, "KEY", "the directory authority's signing key", true},
    {"--authority-cert", CLI_VALUE, "CERT", "its certificate", true},
    {"--version", CLI_VALUE, "N", "the directory's version (never going backwards)", true},
    {"--out", CLI_VALUE, "FILE", "the signed directory", true},
    {"--valid-days", CLI_VALUE, "D", "validity, 1..3660 days (default 30)", false},
    {"--department", CLI_VALUE, "D", "e.g. 71, 2A, 988 (default: from the first node id)", false},
    {"--jurisdiction", CLI_VALUE, "J", "default fr-casf", false},
    {"--referral-term", CLI_VALUE, "TEXT", "default by jurisdiction", false},
    {"--pki", CLI_VALUE, "DIR", "default certificate and key paths DIR/nodes/<id>/", false},
    {"--communes", CLI_VALUE, "COMMUNES.csv", "every commune of the department", false},
    {"--allow-unrouted", CLI_FLAG, NULL, "with --communes: communes may lack a route", false},
    {"--broker-endpoint", CLI_VALUE, "tcp://HOST:PORT[,...]",
     "replaces the brokers' endpoint (a comma list: the department's brokers, one active)", false},
    {NULL, CLI_FLAG, NULL, NULL, false},
};
static const cli_opt_t s_anchor_opts[] = {
    {"--anchor", CLI_VALUE, "CERT", "verify with the authority's certificate", false},
    {NULL, CLI_FLAG, NULL, NULL, false},
};
static const cli_opt_t s_verify_opts[] = {
    {"--anchor", CLI_VALUE, "AUTHORITY_CERT", "the authority's certificate", true},
    {"--min-version", CLI_VALUE, "N", "refuse older directories", false},
    {NULL, CLI_FLAG, NULL, NULL, false},
};
static const cli_opt_t s_route_opts[] = {
    {"--commune", CLI_VALUE, "CODE", "the child's commune (INSEE code)", false},
    {"--postal-code", CLI_VALUE, "CODE", "or its postal code (when it covers one commune)", false},
    {"--all", CLI_FLAG, NULL, "every routed commune: CODE<TAB>id id...", false},
    {"--type", CLI_VALUE, "TYPE", "message type (default ip.transmission)", false},
    {"--sender-role", CLI_VALUE, "ROLE", "the sender's role (default: the routed rule's)", false},
    {NULL, CLI_FLAG, NULL, NULL, false},
};
static const char s_about_directory_route[] =
    "Print the node ids a message goes to, one per line; with --all, one line per\n"
    "routed commune.";
static const char s_about_directory_verify[] =
    "Verify a directory's signature, version and validity.";
static const char s_about_directory_show[] = "Print a directory (verified with --anchor).";
static const char s_about_directory_build[] =
    "Sign the directory made of the nodes, routes and rules files (see deploy/71/ for\n"
    "examples); errors are 'file:line: message' and nothing is written.";
static const cli_cmd_t s_cmds[] = {
    CLI_CMD("directory build", NULL, 0, 0, s_about_directory_build, s_build_opts),
    CLI_CMD("directory show", "FILE", 1, 1, s_about_directory_show, s_anchor_opts, cli_json_opts),
    CLI_CMD("directory verify", "FILE", 1, 1, s_about_directory_verify, s_verify_opts),
    CLI_CMD("directory route", "FILE", 1, 1, s_about_directory_route, s_route_opts, s_anchor_opts),
};

/* The parsed options as the subcommands use them. */
static void s_fill(const cli_args_t *a, s_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->nodes = cli_get(a, "--nodes");
    o->routes = cli_get(a, "--routes");
    o->rules = cli_get(a, "--rules");
    o->key = cli_get(a, "--authority-key");
    o->cert = cli_get(a, "--authority-cert");
    o->out = cli_get(a, "--out");
    o->pki = cli_get(a, "--pki");
    o->communes = cli_get(a, "--communes");
    o->endpoint = cli_get(a, "--broker-endpoint");
    o->department = cli_get(a, "--department");
    o->jurisdiction = cli_get(a, "--jurisdiction");
    o->term = cli_get(a, "--referral-term");
    o->anchor = cli_get(a, "--anchor");
    o->commune = cli_get(a, "--commune");
    o->postal = cli_get(a, "--postal-code");
    o->type = cli_get(a, "--type");
    o->role = cli_get(a, "--sender-role");
    o->version = cli_get(a, "--version");
    o->valid_days = cli_get(a, "--valid-days");
    o->min_version = cli_get(a, "--min-version");
    o->json = cli_has(a, "--json");
    o->allow_unrouted = cli_has(a, "--allow-unrouted");
    o->all = cli_has(a, "--all");
    o->file = a->n_pos ? a->pos[0] : NULL;
}

/* ------------------------------------------------------------------ build */

/* The nodes checked so far into the progress line (cli_progress.c). */
static void s_build_progress(void *arg, size_t done, size_t total)
{
    cli_progress_update(arg, done, total);
}

static int s_build(const cli_args_t *a)
{
    const char *what = "directory build";
    s_opts_t o;
    s_fill(a, &o);
    int64_t version = 0, days = 30;
    if (egide_parse_int64(o.version, 1, INT64_MAX, &version) != EGIDE_OK)
        return cli_fail(what, "--version wants a positive integer"), 2;
    if (o.valid_days && egide_parse_int64(o.valid_days, 1, 3660, &days) != EGIDE_OK)
        return cli_fail(what, "--valid-days wants 1..3660"), 2;
    if (o.endpoint && strncmp(o.endpoint, "tcp://", 6) != 0 && strncmp(o.endpoint, "ipc://", 6))
        return cli_fail(what, "--broker-endpoint wants tcp://HOST:PORT"), 2;

    cli_progress_t pg;
    egide_directory_build_opts_t bo = {.nodes = o.nodes,
                                       .routes = o.routes,
                                       .rules = o.rules,
                                       .communes = o.communes,
                                       .pki = o.pki,
                                       .broker_endpoint = o.endpoint,
                                       .department = o.department,
                                       .jurisdiction = o.jurisdiction,
                                       .referral_term = o.term,
                                       .allow_unrouted = o.allow_unrouted,
                                       .progress = s_build_progress,
                                       .progress_arg = &pg};
    char err[1024];
    egide_directory_build_t *b = NULL;
    cli_progress_start(&pg, what, "nodes");
    egide_rc rc = egide_directory_build_load(&bo, &b, err, sizeof err);
    cli_progress_end(&pg);
    if (rc == EGIDE_ERR_INVALID)
        return cli_fail(what, "%s", err), 2;
    if (rc)
        return cli_fail(what, "%s", err);
    int ret = 1;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    uint8_t *signed_bytes = NULL;
    size_t signed_len = 0;
    rc = egide_key_load_private(o.key, &key);
    if (rc) {
        cli_fail_rc(what, rc, "authority key %s", o.key);
        goto out;
    }
    rc = egide_cert_load(o.cert, &cert);
    if (rc) {
        cli_fail_rc(what, rc, "authority certificate %s", o.cert);
        goto out;
    }
    rc = egide_directory_build_sign(b, (uint64_t)version, egide_now_ms(), days, key, cert,
                                    &signed_bytes, &signed_len, err, sizeof err);
    if (rc) {
        cli_fail_rc(what, rc, "%s", err[0] ? err : "cannot sign");
        goto out;
    }
    rc = egide_file_write_atomic(o.out, signed_bytes, signed_len, 0644);
    if (rc) {
        cli_fail_rc(what, rc, "cannot write %s", o.out);
        goto out;
    }
    printf("%s: directory %s version %lld: %zu nodes, %zu communes, %zu rules, %zu bytes, valid "
           "%lld days\n",
           o.out, egide_directory_build_department(b), (long long)version,
           egide_directory_build_n_nodes(b), egide_directory_build_n_routes(b),
           egide_directory_build_n_rules(b), signed_len, (long long)days);
    ret = 0;
out:
    free(signed_bytes);
    EVP_PKEY_free(key);
    X509_free(cert);
    egide_directory_build_destroy(&b);
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
        const Egide__V1__BrokerEndpoint *b = p->brokers[i];
        json_array_append_new(brokers,
                              json_pack("{s:s?, s:s?, s:s?}", "node_id", b->node_id, "endpoint",
                                        b->endpoint, "curve_public_key", b->curve_public_key));
    }
    json_object_set_new(root, "brokers", brokers);
    json_t *routes = json_array();
    for (size_t i = 0; i < p->n_routes; i++) {
        const Egide__V1__RouteEntry *r = p->routes[i];
        /* s? keeps a field that protobuf-c left NULL from dropping the row */
        json_array_append_new(routes,
                              json_pack("{s:s?, s:s?, s:o, s:s?, s:s?, s:s?, s:s?, s:s?}",
                                        "commune", r->commune, "name", r->name, "postal_codes",
                                        s_strarray(r->postal_codes, r->n_postal_codes), "crip",
                                        r->crip, "territory", r->territory, "parquet", r->parquet,
                                        "court", r->court, "police", r->police));
    }
    json_object_set_new(root, "routes", routes);
    json_t *rules = json_array();
    for (size_t i = 0; i < p->n_rules; i++) {
        const Egide__V1__AccessRule *r = p->rules[i];
        json_array_append_new(rules,
                              json_pack("{s:s?, s:s?, s:o, s:o}", "sender_role", r->sender_role,
                                        "message_type", r->message_type, "recipient_roles",
                                        s_strarray(r->recipient_roles, r->n_recipient_roles),
                                        "route_to", s_strarray(r->route_to, r->n_route_to)));
    }
    json_object_set_new(root, "rules", rules);
    int rc = json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    printf("\n");
    json_decref(root);
    return rc == 0 ? 0 : 1;
}

static int s_show(const cli_args_t *a)
{
    s_opts_t o;
    s_fill(a, &o);
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

static int s_verify(const cli_args_t *a)
{
    s_opts_t o;
    s_fill(a, &o);
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

static int s_route(const cli_args_t *a)
{
    const char *what = "directory route";
    s_opts_t o;
    s_fill(a, &o);
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
    static int (*const fns[])(const cli_args_t *) = {s_build, s_show, s_verify, s_route};
    size_t which = 0;
    cli_args_t args;
    int prc = cli_parse_sub("directory", NULL, s_cmds, sizeof s_cmds / sizeof s_cmds[0], argc, argv,
                            &which, &args);
    if (prc)
        return prc == CLI_HELP ? 0 : prc;
    return fns[which](&args);
}
