/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_directory_build.c - the directory builder without the command line:
 * a small department (broker, CRIP, two territories, a parquet, the SNATED)
 * builds, signs and routes as written; then each kind of bad input, one row
 * of a table per case, is refused with its exact "file:line: message" and
 * no draft.  Certificates come from openssl in a temporary directory; the
 * input files use paths relative to it (the test runs there).
 */
#include "egide/directory/egide_directory_build.h"

#include <sys/stat.h>
#include <unistd.h>

#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/directory/egide_directory.h"
#include "egide/net/egide_transport.h"
#include "egide_test.h"

static char s_tmp[256];
static EVP_PKEY *s_auth_key;
static X509 *s_auth_cert;
static char s_keys[6][41]; /* CURVE public keys of the six nodes */

/* The inputs; @Kn@ stands for s_keys[n]. */
static const char s_nodes[] = "; nodes of the test department\n"            /* 1 */
                              "[71.broker]\n"                               /* 2 */
                              "role = broker\n"                             /* 3 */
                              "name = Broker\n"                             /* 4 */
                              "endpoint = tcp://127.0.0.1:7710\n"           /* 5 */
                              "curve_public_key = @K0@\n"                   /* 6 */
                              "\n"                                          /* 7 */
                              "[71.crip]\n"                                 /* 8 */
                              "role = crip\n"                               /* 9 */
                              "name = Cellule de recueil\n"                 /* 10 */
                              "signing_cert = crip/sign.pem\n"              /* 11 */
                              "curve_public_key_file = crip/curve.public\n" /* 12 */
                              "\n"                                          /* 13 */
                              "[71.tas.macon]\n"                            /* 14 */
                              "role = tas\n"                                /* 15 */
                              "name = Territoire de Mâcon\n"                /* 16 */
                              "curve_public_key = @K2@\n"                   /* 17 */
                              "\n"                                          /* 18 */
                              "[71.tas.cluny]\n"                            /* 19 */
                              "role = tas\n"                                /* 20 */
                              "name = Territoire de Cluny\n"                /* 21 */
                              "curve_public_key = @K3@\n"                   /* 22 */
                              "\n"                                          /* 23 */
                              "[71.parquet]\n"                              /* 24 */
                              "role = parquet\n"                            /* 25 */
                              "name = Parquet de Mâcon\n"                   /* 26 */
                              "status = suspended\n"                        /* 27 */
                              "curve_public_key = @K4@\n"                   /* 28 */
                              "\n"                                          /* 29 */
                              "[fr.snated]\n"                               /* 30 */
                              "role = snated\n"                             /* 31 */
                              "name = SNATED\n"                             /* 32 */
                              "curve_public_key = @K5@\n";                  /* 33 */
static const char s_rules[] = "[ip.transmission]\n"                         /* 1 */
                              "from = snated\n"                             /* 2 */
                              "to = crip tas\n"                             /* 3 */
                              "route = crip territory\n"                    /* 4 */
                              "\n"                                          /* 5 */
                              "[evaluation.assignment]\n"                   /* 6 */
                              "from = crip\n"                               /* 7 */
                              "to = tas\n";                                 /* 8 */
static const char s_routes[] = "commune,name,territory,parquet\n"           /* 1 */
                               "71270,,71.tas.macon,71.parquet\n"           /* 2 */
                               "71137,Cluny,71.tas.cluny,71.parquet\n";     /* 3 */
static const char s_communes[] = "insee_code,name,postal_codes\n"           /* 1 */
                                 "71270,Mâcon,71000 71870\n"                /* 2 */
                                 "# a comment\n"                            /* 3 */
                                 "71137,Cluny,71250\n"                      /* 4 */
                                 "98818,Nouméa,98800\n";                    /* 5 */

enum { F_NODES, F_ROUTES, F_RULES, F_COMMUNES };
static const char *const s_names[] = {"nodes.ini", "routes.csv", "rules.ini", "communes.csv"};
static const char *const s_texts[] = {s_nodes, s_routes, s_rules, s_communes};

static void s_quiet(egide_log_level level, const char *line, void *arg)
{
    (void)level, (void)line, (void)arg;
}

/* Write file f from its text with the first `old` replaced by `new` (both
 * may be NULL), and @Kn@ by the keys.  Returns false when old is absent. */
static bool s_write(int f, const char *old, const char *new)
{
    char tpl[4096], buf[4096];
    const char *t = s_texts[f];
    const char *at = old ? strstr(t, old) : NULL;
    if (old && !at)
        return false;
    if (at)
        snprintf(tpl, sizeof tpl, "%.*s%s%s", (int)(at - t), t, new, at + strlen(old));
    else
        snprintf(tpl, sizeof tpl, "%s", t);
    size_t o = 0;
    for (const char *p = tpl; *p && o + 64 < sizeof buf;) {
        if (strncmp(p, "@K", 2) == 0 && p[2] >= '0' && p[2] <= '5' && p[3] == '@') {
            memcpy(buf + o, s_keys[p[2] - '0'], 40);
            o += 40;
            p += 4;
        } else {
            buf[o++] = *p++;
        }
    }
    return egide_file_write_atomic(s_names[f], buf, o, 0600) == EGIDE_OK;
}

static void s_write_all(void)
{
    for (int f = 0; f < 4; f++)
        REQUIRE(s_write(f, NULL, NULL));
}

static egide_directory_build_opts_t s_opts(void)
{
    egide_directory_build_opts_t o = {.nodes = "nodes.ini",
                                      .routes = "routes.csv",
                                      .rules = "rules.ini",
                                      .communes = "communes.csv",
                                      .pki = "pki"};
    return o;
}

static int s_setup(void)
{
    egide_strlcpy(s_tmp, "/tmp/egide-test-dirbuild-XXXXXX", sizeof s_tmp);
    if (!mkdtemp(s_tmp) || chdir(s_tmp) != 0)
        return -1;
    /* One signing and one encryption certificate serve every node: the
     * builder checks key types, not uniqueness; each node's CURVE key is its
     * own. */
    const char *script =
        "umask 077 && mkdir -p crip && "
        "openssl genpkey -algorithm ed25519 -out auth.key 2>/dev/null && "
        "openssl req -x509 -new -key auth.key -subj /CN=authority -days 30 -out auth.crt "
        "2>/dev/null && "
        "openssl genpkey -algorithm ed25519 -out node.key 2>/dev/null && "
        "openssl req -x509 -new -key node.key -subj /CN=node -days 30 -out crip/sign.pem "
        "2>/dev/null && "
        "openssl genpkey -algorithm x25519 -out enc.key 2>/dev/null && "
        "openssl pkey -in enc.key -pubout -out enc.pub 2>/dev/null && "
        "openssl req -new -key node.key -subj /CN=node-enc -out enc.csr 2>/dev/null && "
        "openssl x509 -req -in enc.csr -CA auth.crt -CAkey auth.key -force_pubkey enc.pub "
        "-days 30 -out crip/enc.pem 2>/dev/null && "
        "for n in 71.broker 71.crip 71.tas.macon 71.tas.cluny 71.parquet fr.snated; do "
        "mkdir -p pki/nodes/$n && cp crip/sign.pem pki/nodes/$n/sign.crt && "
        "cp crip/enc.pem pki/nodes/$n/enc.crt; done && rm pki/nodes/71.broker/enc.crt";
    if (system(script) != 0)
        return -1;
    char sec[41];
    for (size_t i = 0; i < 6; i++)
        if (egide_curve_keypair(s_keys[i], sec) != EGIDE_OK)
            return -1;
    if (egide_file_write_atomic("crip/curve.public", s_keys[1], 40, 0644) != EGIDE_OK ||
        egide_key_load_private("auth.key", &s_auth_key) != EGIDE_OK ||
        egide_cert_load("auth.crt", &s_auth_cert) != EGIDE_OK)
        return -1;
    return 0;
}

static void test_good(void)
{
    s_write_all();
    egide_directory_build_opts_t o = s_opts();
    char err[1024] = "x";
    egide_directory_build_t *b = NULL;
    CHECK_RC(egide_directory_build_load(&o, &b, err, sizeof err), EGIDE_OK);
    REQUIRE(b != NULL);
    CHECK_STREQ(err, "");
    CHECK_STREQ(egide_directory_build_department(b), "71");
    CHECK(egide_directory_build_n_nodes(b) == 6);
    CHECK(egide_directory_build_n_routes(b) == 2);
    CHECK(egide_directory_build_n_rules(b) == 2);

    uint8_t *bytes = NULL;
    size_t len = 0;
    int64_t now = egide_now_ms();
    CHECK_RC(egide_directory_build_sign(b, 3, now, 10, s_auth_key, s_auth_cert, &bytes, &len, err,
                                        sizeof err),
             EGIDE_OK);
    egide_directory_t *d = NULL;
    CHECK_RC(egide_directory_load(bytes, len, s_auth_cert, 3, now, &d), EGIDE_OK);
    REQUIRE(d != NULL);
    const Egide__V1__Directory *p = egide_directory_pb(d);
    CHECK(p->version == 3);
    CHECK(p->not_after_ms == now + 10 * 86400000LL);
    CHECK_STREQ(p->jurisdiction, "fr-casf");
    CHECK_STREQ(p->referral_term, "information préoccupante");
    CHECK(p->n_brokers == 1 && strcmp(p->brokers[0]->endpoint, "tcp://127.0.0.1:7710") == 0);
    CHECK(p->n_nodes == 6 && p->nodes[0]->encryption_cert_der.len == 0); /* broker: none */
    CHECK(p->nodes[1]->encryption_cert_der.len > 0);
    CHECK_STREQ(p->nodes[1]->curve_public_key, s_keys[1]); /* from curve_public_key_file */
    CHECK(p->nodes[4]->status == EGIDE__V1__NODE_STATUS__NODE_SUSPENDED);
    /* The name and postal codes come from the communes file when the route
     * leaves them empty; Nouméa (another department) is not routed. */
    const Egide__V1__RouteEntry *macon = egide_directory_route(d, "71270");
    REQUIRE(macon != NULL);
    CHECK_STREQ(macon->name, "Mâcon");
    CHECK(macon->n_postal_codes == 2 && strcmp(macon->postal_codes[1], "71870") == 0);
    CHECK_STREQ(macon->crip, "71.crip"); /* the only crip */
    CHECK(egide_directory_route(d, "98818") == NULL);
    char **ids = NULL;
    CHECK_RC(egide_directory_resolve(d, "snated", "ip.transmission", "71137", &ids), EGIDE_OK);
    REQUIRE(ids != NULL);
    CHECK(ids[0] && ids[1] && !ids[2]);
    CHECK_STREQ(ids[0], "71.crip");
    CHECK_STREQ(ids[1], "71.tas.cluny");
    egide_directory_ids_free(&ids);
    egide_directory_destroy(&d);
    free(bytes);

    /* Bad signing arguments. */
    CHECK_RC(egide_directory_build_sign(b, 0, now, 10, s_auth_key, s_auth_cert, &bytes, &len, err,
                                        sizeof err),
             EGIDE_ERR_INVALID);
    CHECK_RC(egide_directory_build_sign(b, 1, now, 0, s_auth_key, s_auth_cert, &bytes, &len, err,
                                        sizeof err),
             EGIDE_ERR_INVALID);
    CHECK_RC(
        egide_directory_build_sign(b, 1, now, 10, NULL, s_auth_cert, &bytes, &len, err, sizeof err),
        EGIDE_ERR_INVALID);
    egide_directory_build_destroy(&b);
    CHECK(b == NULL);
    egide_directory_build_destroy(&b); /* idempotent */

    /* New Caledonia's term follows the jurisdiction; an explicit one wins. */
    o.jurisdiction = "nc-province-sud";
    CHECK_RC(egide_directory_build_load(&o, &b, err, sizeof err), EGIDE_OK);
    CHECK_RC(egide_directory_build_sign(b, 1, now, 1, s_auth_key, s_auth_cert, &bytes, &len, err,
                                        sizeof err),
             EGIDE_OK);
    CHECK_RC(egide_directory_load_untrusted(bytes, len, &d), EGIDE_OK);
    CHECK(d && strcmp(egide_directory_pb(d)->referral_term, "information signalante") == 0);
    egide_directory_destroy(&d);
    free(bytes);
    egide_directory_build_destroy(&b);

    /* Without a communes file the routes stand alone (71270 keeps no name). */
    o = s_opts();
    o.communes = NULL;
    o.broker_endpoint = "tcp://10.0.0.1:7710";
    CHECK_RC(egide_directory_build_load(&o, &b, err, sizeof err), EGIDE_OK);
    CHECK_RC(egide_directory_build_sign(b, 1, now, 1, s_auth_key, s_auth_cert, &bytes, &len, err,
                                        sizeof err),
             EGIDE_OK);
    CHECK_RC(egide_directory_load_untrusted(bytes, len, &d), EGIDE_OK);
    CHECK(d && strcmp(egide_directory_pb(d)->brokers[0]->endpoint, "tcp://10.0.0.1:7710") == 0);
    egide_directory_destroy(&d);
    free(bytes);
    egide_directory_build_destroy(&b);

    /* Several brokers for the department (one node, one store): a comma
     * list, one entry each with the node's key; signing twice gives the
     * same list.  An empty item is refused. */
    o.broker_endpoint = "tcp://10.0.0.1:7710,tcp://10.0.0.2:7711";
    CHECK_RC(egide_directory_build_load(&o, &b, err, sizeof err), EGIDE_OK);
    for (int round = 0; round < 2; round++) {
        CHECK_RC(egide_directory_build_sign(b, 1, now, 1, s_auth_key, s_auth_cert, &bytes, &len,
                                            err, sizeof err),
                 EGIDE_OK);
        CHECK_RC(egide_directory_load_untrusted(bytes, len, &d), EGIDE_OK);
        const Egide__V1__Directory *pb = d ? egide_directory_pb(d) : NULL;
        CHECK(pb && pb->n_brokers == 2);
        CHECK(pb && pb->n_brokers == 2 &&
              strcmp(pb->brokers[0]->endpoint, "tcp://10.0.0.1:7710") == 0 &&
              strcmp(pb->brokers[1]->endpoint, "tcp://10.0.0.2:7711") == 0 &&
              strcmp(pb->brokers[0]->curve_public_key, pb->brokers[1]->curve_public_key) == 0 &&
              strcmp(pb->brokers[0]->node_id, pb->brokers[1]->node_id) == 0);
        egide_directory_destroy(&d);
        free(bytes);
    }
    egide_directory_build_destroy(&b);
    static const char *const s_bad_lists[] = {"tcp://10.0.0.1:7710,,tcp://10.0.0.2:7711",
                                              "tcp://10.0.0.1:7710,", ",tcp://10.0.0.1:7710"};
    for (size_t i = 0; i < sizeof s_bad_lists / sizeof s_bad_lists[0]; i++) {
        o.broker_endpoint = s_bad_lists[i];
        bytes = NULL;
        CHECK_RC(egide_directory_build_load(&o, &b, err, sizeof err), EGIDE_OK);
        CHECK(egide_directory_build_sign(b, 1, now, 1, s_auth_key, s_auth_cert, &bytes, &len, err,
                                         sizeof err) != EGIDE_OK);
        CHECK(bytes == NULL);
        egide_directory_build_destroy(&b);
    }

    /* A commune without a route is allowed when asked. */
    REQUIRE(s_write(F_ROUTES, "71137,Cluny,71.tas.cluny,71.parquet\n", ""));
    o = s_opts();
    o.allow_unrouted = true;
    CHECK_RC(egide_directory_build_load(&o, &b, err, sizeof err), EGIDE_OK);
    CHECK(egide_directory_build_n_routes(b) == 1);
    egide_directory_build_destroy(&b);
}

/* One bad input: file f with old replaced by new must be refused with an
 * error starting with want (and containing also, when set). */
typedef struct bad_case {
    int f;
    const char *old, *new;
    const char *want;
    const char *also;
} bad_case_t;

static const bad_case_t s_bad[] = {
    /* nodes.ini */
    {F_NODES, "[71.tas.cluny]", "[71.tas.macon]",
     "nodes.ini:19: duplicate node id 71.tas.macon (first at line 14)", NULL},
    {F_NODES, "[71.parquet]", "[71.Parquet]", "nodes.ini:24: bad node id [71.Parquet]", NULL},
    {F_NODES, "role = parquet", "role = parket", "nodes.ini:25: unknown role 'parket'", NULL},
    {F_NODES, "crip/sign.pem", "crip/missing.pem",
     "nodes.ini:11: 71.crip: cannot load signing certificate ./crip/missing.pem", NULL},
    {F_NODES, "crip/sign.pem", "crip/enc.pem", "nodes.ini:11: 71.crip: signing certificate ",
     "does not hold an Ed25519 key"},
    {F_NODES, "name = SNATED", "name SNATED", "nodes.ini:32: malformed line", NULL},
    {F_NODES, "name = Territoire de Cluny\n", "name = Territoire de Cluny\ncolour = blue\n",
     "nodes.ini:22: unknown key 'colour' in section [71.tas.cluny]", NULL},
    {F_NODES, "status = suspended", "status = sleeping",
     "nodes.ini:27: status must be active or suspended, not 'sleeping'", NULL},
    {F_NODES, "Parquet de Mâcon",
     "Parquet de M\xe2"
     "con",
     "nodes.ini:26: 71.parquet: name must be UTF-8 text", NULL},
    {F_NODES, "role = crip\n", "role = crip\nrole = tas\n",
     "nodes.ini:10: duplicate key 'role' (first set on line 9)", NULL},
    {F_NODES, "role = snated\n", "", "nodes.ini:30: node fr.snated has no role", NULL},
    {F_NODES, "name = SNATED\n", "", "nodes.ini:30: node fr.snated has no name", NULL},
    {F_NODES, "endpoint = tcp://127.0.0.1:7710\n", "",
     "nodes.ini:2: broker 71.broker has no endpoint", NULL},
    {F_NODES, "name = SNATED\n", "name = SNATED\nendpoint = tcp://x:1\n",
     "nodes.ini:33: fr.snated: only a broker node has an endpoint", NULL},
    {F_NODES, "@K2@", "tooshort",
     "nodes.ini:17: 71.tas.macon: curve_public_key is not 40 Z85 characters", NULL},
    {F_NODES, "@K3@", "@K2@",
     "nodes.ini:22: 71.tas.cluny: same CURVE key as 71.tas.macon (line 14)", NULL},
    {F_NODES, "crip/curve.public", "crip/nope.public",
     "nodes.ini:12: 71.crip: cannot read CURVE public key ./crip/nope.public", NULL},
    {F_NODES, "curve_public_key = @K5@\n", "curve_public_key = @K5@\ncurve_public_key_file = x\n",
     "nodes.ini:34: set curve_public_key or curve_public_key_file, not both", NULL},
    {F_NODES, "; nodes of the test department", "role = crip",
     "nodes.ini:1: key outside any [section]", NULL},
    {F_NODES, "name = Broker\n", "name = Broker\n  more\n", "nodes.ini:5: indented line", NULL},
    /* routes.csv */
    {F_ROUTES, "71137,Cluny", "71999,Nowhere",
     "routes.csv:3: unknown commune 71999 (not in communes.csv)", NULL},
    {F_ROUTES, "71137,Cluny", "98818,Nouméa", "routes.csv:3: commune 98818 is not in department 71",
     NULL},
    {F_ROUTES, "71137,Cluny", "7113,Cluny",
     "routes.csv:3: bad commune INSEE code '7113' (5 characters, e.g. 71137, 2A004)", NULL},
    {F_ROUTES, "71.tas.cluny,71.parquet", "71.tas.nowhere,71.parquet",
     "routes.csv:3: commune 71137: territory '71.tas.nowhere' is not a node of the nodes file",
     NULL},
    {F_ROUTES, "71.tas.cluny,71.parquet", "71.parquet,71.parquet",
     "routes.csv:3: commune 71137: territory '71.parquet' has role parquet, not tas or ase", NULL},
    {F_ROUTES, "71137,Cluny,71.tas.cluny,71.parquet", "71137,Cluny,71.tas.cluny",
     "routes.csv:3: 3 fields, the header has 4", NULL},
    {F_ROUTES, "71137,Cluny,71.tas.cluny,71.parquet\n",
     "71137,Cluny,71.tas.cluny,71.parquet\n71137,Cluny,71.tas.cluny,71.parquet\n",
     "routes.csv:4: commune 71137 is routed twice (first at line 3)", NULL},
    {F_ROUTES, "71137,Cluny,71.tas.cluny,71.parquet\n", "",
     "communes.csv:4: commune 71137 (Cluny) has no route in routes.csv (or pass "
     "--allow-unrouted)",
     NULL},
    {F_ROUTES, "territory,parquet", "territory,colour", "routes.csv:1: unknown column 'colour'",
     NULL},
    {F_ROUTES, "name,territory", "name,crip",
     "routes.csv:1: the header must name the commune and territory columns", NULL},
    {F_ROUTES, "71137,Cluny", "71137,\"Cluny", "routes.csv:3: unterminated quoted field", NULL},
    {F_ROUTES, "71137,Cluny", "71137,Cl\"uny", "routes.csv:3: quote inside an unquoted field",
     NULL},
    {F_ROUTES, s_routes, "", "routes.csv: empty file (want a header line)", NULL},
    /* communes.csv */
    {F_COMMUNES, "71137,Cluny,71250", "7113X,Cluny,71250", "communes.csv:4: bad INSEE code '7113X'",
     NULL},
    {F_COMMUNES, "98818,Nouméa,98800\n", "98818,Nouméa,98800\n71270,Mâcon,71000\n",
     "communes.csv:6: commune 71270 listed twice", NULL},
    {F_COMMUNES, "71137,Cluny,71250", "71137,Cluny,7125",
     "routes.csv:3: commune 71137: bad postal code '7125'", NULL},
    {F_COMMUNES, "insee_code,name", "insee,nom",
     "communes.csv:1: header must name insee_code (or code) and name columns", NULL},
    /* rules.ini */
    {F_RULES, "[evaluation.assignment]", "[evaluation.assignement]",
     "rules.ini:6: unknown message type [evaluation.assignement]", NULL},
    {F_RULES, "from = snated", "from = snated hotline", "rules.ini:2: unknown role 'hotline'",
     NULL},
    {F_RULES, "to = tas\n", "to = tas\n\n[ip.transmission]\nfrom = snated\nto = crip\n",
     "rules.ini:11: snated may already send ip.transmission (rule at line 1)", NULL},
    {F_RULES, "to = crip tas", "to = crip",
     "rules.ini:4: [ip.transmission] routes to territory, but 71.tas.macon (role tas, commune "
     "71270) is not in 'to'",
     NULL},
    {F_RULES, "route = crip territory", "route = crip territory police",
     "routes.csv:2: commune 71270 sets no police, which [ip.transmission] (rules.ini:1) routes to",
     NULL},
    {F_RULES, "route = crip territory", "route = crip county",
     "rules.ini:4: unknown route field 'county'", NULL},
    {F_RULES, "to = crip tas", "to = crip crip", "rules.ini:3: 'crip' listed twice", NULL},
    {F_RULES, "to = tas", "ot = tas",
     "rules.ini:8: unknown key 'ot' in section [evaluation.assignment] (known: from, to, route)",
     NULL},
    {F_RULES, "to = tas\n", "", "rules.ini:6: [evaluation.assignment] has no 'to'", NULL},
    {F_RULES, "from = crip", "from =", "rules.ini:7: 'from' lists no role", NULL},
};

static void test_bad_input(void)
{
    for (size_t i = 0; i < sizeof s_bad / sizeof s_bad[0]; i++) {
        const bad_case_t *c = &s_bad[i];
        s_write_all();
        if (!s_write(c->f, c->old, c->new)) {
            fprintf(stderr, "  case %zu: '%s' not in %s\n", i, c->old, s_names[c->f]);
            CHECK(0);
            continue;
        }
        egide_directory_build_opts_t o = s_opts();
        char err[1024] = "";
        egide_directory_build_t *b = (egide_directory_build_t *)&o; /* must become NULL */
        CHECK_RC(egide_directory_build_load(&o, &b, err, sizeof err), EGIDE_ERR_CONFIG);
        CHECK(b == NULL);
        bool ok = strncmp(err, c->want, strlen(c->want)) == 0 && (!c->also || strstr(err, c->also));
        if (!ok)
            fprintf(stderr, "  case %zu: got \"%s\", wanted \"%s\"%s%s\n", i, err, c->want,
                    c->also ? " with " : "", c->also ? c->also : "");
        CHECK(ok);
        CHECK(strchr(err, '\n') == NULL); /* one line */
    }
}

static void test_bad_options(void)
{
    s_write_all();
    egide_directory_build_opts_t o = s_opts();
    char err[1024];
    egide_directory_build_t *b = NULL;
    /* No PKI folder: the certificates must then be named. */
    o.pki = NULL;
    CHECK_RC(egide_directory_build_load(&o, &b, err, sizeof err), EGIDE_ERR_CONFIG);
    CHECK_STREQ(err, "nodes.ini:2: node 71.broker: signing_cert is not set (nor --pki)");
    /* A missing file. */
    o = s_opts();
    o.rules = "none.ini";
    CHECK_RC(egide_directory_build_load(&o, &b, err, sizeof err), EGIDE_ERR_CONFIG);
    CHECK(strncmp(err, "none.ini: cannot read: ", 23) == 0);
    o = s_opts();
    o.communes = "none.csv";
    CHECK_RC(egide_directory_build_load(&o, &b, err, sizeof err), EGIDE_ERR_CONFIG);
    CHECK(strncmp(err, "none.csv: cannot read: ", 23) == 0);
    /* No valid department. */
    o = s_opts();
    o.department = "7";
    CHECK_RC(egide_directory_build_load(&o, &b, err, sizeof err), EGIDE_ERR_INVALID);
    CHECK(strstr(err, "no valid department") == err);
    CHECK(b == NULL);
    /* Required inputs and arguments. */
    o = s_opts();
    o.routes = NULL;
    CHECK_RC(egide_directory_build_load(&o, &b, err, sizeof err), EGIDE_ERR_INVALID);
    CHECK_RC(egide_directory_build_load(NULL, &b, err, sizeof err), EGIDE_ERR_INVALID);
    CHECK_RC(egide_directory_build_load(&o, NULL, err, sizeof err), EGIDE_ERR_INVALID);
    /* No error buffer: still refused, nothing written anywhere. */
    o = s_opts();
    o.pki = NULL;
    CHECK_RC(egide_directory_build_load(&o, &b, NULL, 0), EGIDE_ERR_CONFIG);
    CHECK(b == NULL);
    /* Accessors are NULL-safe. */
    CHECK(egide_directory_build_n_nodes(NULL) == 0 && egide_directory_build_n_rules(NULL) == 0);
    CHECK_STREQ(egide_directory_build_department(NULL), "");
}

int main(void)
{
    egide_log_set_sink(s_quiet, NULL);
    if (s_setup() != 0) {
        fprintf(stderr, "setup failed (openssl?)\n");
        return 1;
    }
    RUN(test_good);
    RUN(test_bad_input);
    RUN(test_bad_options);
    EVP_PKEY_free(s_auth_key);
    X509_free(s_auth_cert);
    if (chdir("/") == 0) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", s_tmp);
        if (system(cmd) != 0)
            fprintf(stderr, "note: %s not removed\n", s_tmp);
    }
    EGIDE_TEST_DONE();
}
