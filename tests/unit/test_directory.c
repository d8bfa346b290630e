/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_directory.c - the signed directory: syntax helpers, validation of
 * every field, signing and loading (anchor, version floor, expiry, one-byte
 * changes anywhere, truncations, other keys), routing by commune, postal-code
 * lookup and the broker's send check.  Keys and certificates are made at run
 * time with the openssl command in a mkdtemp directory and removed at the end.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <zmq.h>

#include "egide/crypto/egide_crypto.h"
#include "egide/directory/egide_directory.h"
#include "egide/base/egide_limits.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide_test.h"

static char s_tmp[256];
static EVP_PKEY *s_auth_key, *s_other_key;
static X509 *s_auth_cert, *s_other_cert, *s_auth_cert2; /* cert2: same key, another cert */
static uint8_t *s_sign_der, *s_enc_der;
static size_t s_sign_len, s_enc_len;
static int64_t s_now;

/* Run `script` in directory dir with /bin/sh. */
static int s_sh(const char *dir, const char *script)
{
    char cmd[4096];
    if (egide_snprintf(cmd, sizeof cmd, "cd '%s' && %s", dir, script) != EGIDE_OK)
        return -1;
    return system(cmd);
}

static void s_quiet(egide_log_level level, const char *line, void *arg)
{
    (void)level, (void)line, (void)arg;
}

/* Make the authority keys/certs and one node signing + encryption cert. */
static int s_setup(void)
{
    egide_strlcpy(s_tmp, "/tmp/egide-test-directory-XXXXXX", sizeof s_tmp);
    if (!mkdtemp(s_tmp) || setenv("EGIDE_TEST_TMP", s_tmp, 1) != 0)
        return -1;
    const char *script =
        "umask 077 && "
        "openssl genpkey -algorithm ed25519 -out auth.key 2>/dev/null && "
        "openssl req -x509 -new -key auth.key -subj /CN=authority -days 30 -out auth.crt "
        "2>/dev/null && "
        "openssl req -x509 -new -key auth.key -subj /CN=authority2 -days 30 -out auth2.crt "
        "2>/dev/null && "
        "openssl genpkey -algorithm ed25519 -out other.key 2>/dev/null && "
        "openssl req -x509 -new -key other.key -subj /CN=authority -days 30 -out other.crt "
        "2>/dev/null && "
        "openssl genpkey -algorithm ed25519 -out node.key 2>/dev/null && "
        "openssl req -x509 -new -key node.key -subj /CN=node -days 30 -outform DER -out "
        "sign.der 2>/dev/null && "
        "openssl genpkey -algorithm x25519 -out enc.key 2>/dev/null && "
        "openssl pkey -in enc.key -pubout -out enc.pub 2>/dev/null && "
        "openssl req -new -key node.key -subj /CN=node-enc -out enc.csr 2>/dev/null && "
        "openssl x509 -req -in enc.csr -CA auth.crt -CAkey auth.key -force_pubkey enc.pub "
        "-days 30 -outform DER -out enc.der 2>/dev/null";
    if (s_sh(s_tmp, script) != 0)
        return -1;
    char p[512];
    snprintf(p, sizeof p, "%s/auth.key", s_tmp);
    if (egide_key_load_private(p, &s_auth_key))
        return -1;
    snprintf(p, sizeof p, "%s/other.key", s_tmp);
    if (egide_key_load_private(p, &s_other_key))
        return -1;
    snprintf(p, sizeof p, "%s/auth.crt", s_tmp);
    if (egide_cert_load(p, &s_auth_cert))
        return -1;
    snprintf(p, sizeof p, "%s/auth2.crt", s_tmp);
    if (egide_cert_load(p, &s_auth_cert2))
        return -1;
    snprintf(p, sizeof p, "%s/other.crt", s_tmp);
    if (egide_cert_load(p, &s_other_cert))
        return -1;
    snprintf(p, sizeof p, "%s/sign.der", s_tmp);
    if (egide_file_read(p, EGIDE_MAX_CERT_FILE, &s_sign_der, &s_sign_len))
        return -1;
    snprintf(p, sizeof p, "%s/enc.der", s_tmp);
    if (egide_file_read(p, EGIDE_MAX_CERT_FILE, &s_enc_der, &s_enc_len))
        return -1;
    s_now = egide_now_ms();
    return 0;
}

/* ------------------------------------------------------------ a test directory */

#define T_MAX_NODES  16
#define T_MAX_ROUTES 8
#define T_MAX_RULES  16

/* A Directory built on static storage: test code edits it, then signs it. */
typedef struct t_dir {
    Egide__V1__Directory dir;
    Egide__V1__NodeEntry nodes[T_MAX_NODES];
    Egide__V1__NodeEntry *node_p[T_MAX_NODES];
    char curve[T_MAX_NODES][41];
    Egide__V1__RouteEntry routes[T_MAX_ROUTES];
    Egide__V1__RouteEntry *route_p[T_MAX_ROUTES];
    Egide__V1__AccessRule rules[T_MAX_RULES];
    Egide__V1__AccessRule *rule_p[T_MAX_RULES];
    Egide__V1__BrokerEndpoint broker;
    Egide__V1__BrokerEndpoint *broker_p[1];
} t_dir_t;

static t_dir_t T;

static char *s_pc_cluny[] = {"71250"};
static char *s_pc_cortambert[] = {"71250"};
static char *s_pc_macon[] = {"71000", "71870"};
static char *s_ip_to[] = {"crip", "tas"};
static char *s_ip_route[] = {"crip", "territory"};
static char *s_dsig_to[] = {"parquet", "crip"};
static char *s_dsig_route[] = {"parquet", "crip"};
static char *s_qual_to[] = {"reporter", "police", "snated"};
static char *s_assign_to[] = {"tas"};

static void s_node(size_t i, const char *id, const char *role)
{
    Egide__V1__NodeEntry *n = &T.nodes[i];
    egide__v1__node_entry__init(n);
    n->id = (char *)id;
    n->role = (char *)role;
    n->display_name = "Service de test";
    n->signing_cert_der.data = s_sign_der;
    n->signing_cert_der.len = s_sign_len;
    n->encryption_cert_der.data = s_enc_der;
    n->encryption_cert_der.len = s_enc_len;
    char secret[41];
    zmq_curve_keypair(T.curve[i], secret);
    egide_wipe(secret, sizeof secret);
    n->curve_public_key = T.curve[i];
    n->status = EGIDE__V1__NODE_STATUS__NODE_ACTIVE;
    T.node_p[i] = n;
}

static void s_route(size_t i, const char *commune, const char *territory, char **pcs, size_t npc)
{
    Egide__V1__RouteEntry *r = &T.routes[i];
    egide__v1__route_entry__init(r);
    r->commune = (char *)commune;
    r->territory = (char *)territory;
    r->crip = "71.crip";
    r->parquet = "71.parquet.macon";
    r->court = "71.je.macon";
    r->police = "71.police.macon";
    r->name = "Commune";
    r->postal_codes = pcs;
    r->n_postal_codes = npc;
    T.route_p[i] = r;
}

static void s_rule(size_t i, const char *from, const char *type, char **to, size_t nto,
                   char **route, size_t nroute)
{
    Egide__V1__AccessRule *r = &T.rules[i];
    egide__v1__access_rule__init(r);
    r->sender_role = (char *)from;
    r->message_type = (char *)type;
    r->recipient_roles = to;
    r->n_recipient_roles = nto;
    r->route_to = route;
    r->n_route_to = nroute;
    T.rule_p[i] = r;
}

/* A small but complete department 71. */
static void s_make(uint64_t version)
{
    memset(&T, 0, sizeof T);
    egide__v1__directory__init(&T.dir);
    T.dir.format_version = 1;
    T.dir.department = "71";
    T.dir.version = version;
    T.dir.issued_ms = s_now - 1000;
    T.dir.not_after_ms = s_now + 86400000LL;
    T.dir.jurisdiction = "fr-casf";
    T.dir.referral_term = "information préoccupante";
    s_node(0, "71.broker", "broker");
    s_node(1, "71.crip", "crip");
    s_node(2, "71.tas.macon", "tas");
    s_node(3, "71.tas.cluny-tournus", "tas");
    s_node(4, "71.parquet.macon", "parquet");
    s_node(5, "71.je.macon", "court");
    s_node(6, "71.police.macon", "police");
    s_node(7, "fr.snated", "snated");
    s_node(8, "71.education.dsden", "reporter");
    T.nodes[0].encryption_cert_der.len = 0; /* a broker needs no encryption key */
    T.nodes[0].encryption_cert_der.data = NULL;
    T.dir.nodes = T.node_p;
    T.dir.n_nodes = 9;
    s_route(0, "71270", "71.tas.macon", s_pc_macon, 2);
    s_route(1, "71137", "71.tas.cluny-tournus", s_pc_cluny, 1);
    s_route(2, "71145", "71.tas.cluny-tournus", s_pc_cortambert, 1);
    s_route(3, "71543", "71.tas.cluny-tournus", NULL, 0);
    T.dir.routes = T.route_p;
    T.dir.n_routes = 4;
    s_rule(0, "reporter", "ip.transmission", s_ip_to, 2, s_ip_route, 2);
    s_rule(1, "police", "ip.transmission", s_ip_to, 2, s_ip_route, 2);
    s_rule(2, "reporter", "parquet.direct_signalement", s_dsig_to, 2, s_dsig_route, 2);
    s_rule(3, "crip", "ip.qualification", s_qual_to, 3, NULL, 0);
    s_rule(4, "crip", "evaluation.assignment", s_assign_to, 1, NULL, 0);
    T.dir.rules = T.rule_p;
    T.dir.n_rules = 5;
    egide__v1__broker_endpoint__init(&T.broker);
    T.broker.endpoint = "tcp://127.0.0.1:7710";
    T.broker.node_id = "71.broker";
    T.broker.curve_public_key = T.curve[0];
    T.broker_p[0] = &T.broker;
    T.dir.brokers = T.broker_p;
    T.dir.n_brokers = 1;
}

static egide_rc s_sign(uint8_t **out, size_t *len)
{
    char err[256];
    egide_rc rc = egide_directory_sign(&T.dir, s_auth_key, s_auth_cert, out, len, err, sizeof err);
    if (rc)
        fprintf(stderr, "sign: %s: %s\n", egide_rc_name(rc), err);
    return rc;
}

static egide_rc s_load(const uint8_t *b, size_t n, egide_directory_t **d)
{
    return egide_directory_load(b, n, s_auth_cert, 0, s_now, d);
}

/* ------------------------------------------------------------ tests */

static void test_syntax(void)
{
    CHECK(egide_directory_node_id_valid("71.crip"));
    CHECK(egide_directory_node_id_valid("71.tas.cluny-tournus"));
    CHECK(egide_directory_node_id_valid("988.spe.accueil-familial-sud"));
    CHECK(egide_directory_node_id_valid("fr.snated"));
    CHECK(!egide_directory_node_id_valid(""));
    CHECK(!egide_directory_node_id_valid(NULL));
    CHECK(!egide_directory_node_id_valid(".71"));
    CHECK(!egide_directory_node_id_valid("71..crip"));
    CHECK(!egide_directory_node_id_valid("71.crip."));
    CHECK(!egide_directory_node_id_valid("71.CRIP"));
    CHECK(!egide_directory_node_id_valid("71 crip"));
    CHECK(!egide_directory_node_id_valid("71/crip"));
    char longid[80];
    memset(longid, 'a', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    CHECK(!egide_directory_node_id_valid(longid));
    longid[65] = '\0'; /* 65 bytes: one too many */
    CHECK(!egide_directory_node_id_valid(longid));
    longid[64] = '\0'; /* EGIDE_MAX_NODE_ID */
    CHECK(egide_directory_node_id_valid(longid));

    CHECK(egide_directory_commune_valid("71137"));
    CHECK(egide_directory_commune_valid("2A004"));
    CHECK(egide_directory_commune_valid("98818"));
    CHECK(!egide_directory_commune_valid("2C004"));
    CHECK(!egide_directory_commune_valid("7113"));
    CHECK(!egide_directory_commune_valid("711370"));
    CHECK(!egide_directory_commune_valid("71a37"));
    CHECK(!egide_directory_commune_valid(NULL));

    CHECK(egide_directory_department_valid("71"));
    CHECK(egide_directory_department_valid("2A"));
    CHECK(egide_directory_department_valid("974"));
    CHECK(egide_directory_department_valid("988"));
    CHECK(!egide_directory_department_valid("97"));
    CHECK(!egide_directory_department_valid("00"));
    CHECK(!egide_directory_department_valid("7"));
    CHECK(!egide_directory_department_valid("971a"));
    CHECK(!egide_directory_department_valid("961"));

    CHECK(egide_directory_commune_in_department("71137", "71"));
    CHECK(egide_directory_commune_in_department("98818", "988"));
    CHECK(!egide_directory_commune_in_department("98818", "71"));
    CHECK(!egide_directory_commune_in_department("71137", "988"));
    CHECK(!egide_directory_commune_in_department("01001", "71"));

    CHECK(egide_directory_z85_key_valid("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"));
    CHECK(!egide_directory_z85_key_valid("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf"));
    CHECK(!egide_directory_z85_key_valid("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf77"));
    CHECK(!egide_directory_z85_key_valid("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]y \""));
    CHECK(!egide_directory_z85_key_valid(NULL));

    CHECK(egide_directory_text_valid("Mâcon", 10));
    CHECK(egide_directory_text_valid("", 10));
    CHECK(!egide_directory_text_valid("M\xe2"
                                      "con",
                                      10));                 /* Latin-1 */
    CHECK(!egide_directory_text_valid("a\tb", 10));         /* control */
    CHECK(!egide_directory_text_valid("\xc0\xaf", 10));     /* overlong */
    CHECK(!egide_directory_text_valid("\xed\xa0\x80", 10)); /* surrogate */
    CHECK(!egide_directory_text_valid("\xc2\x85", 10));     /* C1 control */
    CHECK(!egide_directory_text_valid("\xe2\x82", 10));     /* truncated */
    CHECK(!egide_directory_text_valid("abcdefghijk", 10));  /* too long */
    CHECK(!egide_directory_text_valid(NULL, 10));
    CHECK(egide_directory_postal_valid("71250"));
    CHECK(!egide_directory_postal_valid("7125"));
    CHECK(!egide_directory_postal_valid("7125a"));
}

static void test_roundtrip(void)
{
    s_make(7);
    uint8_t *b = NULL;
    size_t n = 0;
    REQUIRE(s_sign(&b, &n) == EGIDE_OK);
    egide_directory_t *d = NULL;
    CHECK_RC(s_load(b, n, &d), EGIDE_OK);
    REQUIRE(d != NULL);
    CHECK(egide_directory_version(d) == 7);
    CHECK_STREQ(egide_directory_department(d), "71");
    CHECK(egide_directory_not_after_ms(d) == T.dir.not_after_ms);
    size_t sl = 0;
    const uint8_t *sb = egide_directory_signed_bytes(d, &sl);
    CHECK(sl == n && sb && memcmp(sb, b, n) == 0);
    const Egide__V1__Directory *pb = egide_directory_pb(d);
    REQUIRE(pb != NULL);
    CHECK(pb->n_nodes == 9 && pb->n_routes == 4 && pb->n_rules == 5);
    CHECK_STREQ(pb->referral_term, "information préoccupante");

    const Egide__V1__NodeEntry *ne = egide_directory_node(d, "71.tas.macon");
    REQUIRE(ne != NULL);
    CHECK_STREQ(ne->role, "tas");
    CHECK(egide_directory_node(d, "71.tas.autun") == NULL);
    CHECK(egide_directory_node(d, NULL) == NULL);
    for (size_t i = 0; i < 9; i++) {
        const Egide__V1__NodeEntry *c = egide_directory_node_by_curve(d, T.curve[i]);
        REQUIRE(c != NULL);
        CHECK_STREQ(c->id, T.nodes[i].id);
        CHECK(egide_directory_node(d, T.nodes[i].id) == c);
    }
    CHECK(egide_directory_node_by_curve(d, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7") == NULL);
    const Egide__V1__BrokerEndpoint *br = egide_directory_broker(d);
    REQUIRE(br != NULL);
    CHECK_STREQ(br->endpoint, "tcp://127.0.0.1:7710");
    CHECK_STREQ(br->node_id, "71.broker");
    const Egide__V1__RouteEntry *r = egide_directory_route(d, "71137");
    REQUIRE(r != NULL);
    CHECK_STREQ(r->territory, "71.tas.cluny-tournus");
    CHECK(egide_directory_route(d, "71999") == NULL);
    CHECK(egide_directory_rule(d, "reporter", "ip.transmission") != NULL);
    CHECK(egide_directory_rule(d, "tas", "ip.transmission") == NULL);

    /* the same version again is accepted (re-served by the broker) */
    egide_directory_t *d2 = NULL;
    CHECK_RC(egide_directory_load(b, n, s_auth_cert, 7, s_now, &d2), EGIDE_OK);
    egide_directory_destroy(&d2);
    /* untrusted load (display tools) */
    CHECK_RC(egide_directory_load_untrusted(b, n, &d2), EGIDE_OK);
    CHECK(egide_directory_version(d2) == 7);
    egide_directory_destroy(&d2);

    CHECK(egide_directory_node_active(egide_directory_node(d, "71.crip")));
    CHECK(!egide_directory_node_active(NULL));
    /* NULL-safe accessors */
    CHECK(egide_directory_version(NULL) == 0);
    CHECK(egide_directory_pb(NULL) == NULL);
    CHECK(egide_directory_broker(NULL) == NULL);
    CHECK(egide_directory_route(NULL, "71137") == NULL);
    CHECK(egide_directory_postal_lookup(NULL, "71250", NULL, 0) == 0);
    CHECK(egide_directory_signed_bytes(NULL, &sl) == NULL && sl == 0);
    /* the display loader refuses what is not a signed directory */
    static const uint8_t junk[] = {0x0a, 0x02, 0x08, 0x01};
    CHECK(egide_directory_load_untrusted(junk, sizeof junk, &d2) != EGIDE_OK);
    CHECK(d2 == NULL);
    CHECK_RC(egide_directory_load_untrusted(b, EGIDE_MAX_DIRECTORY + 1, &d2), EGIDE_ERR_LIMIT);

    egide_directory_destroy(&d);
    CHECK(d == NULL);
    egide_directory_destroy(&d); /* idempotent */
    egide_directory_destroy(NULL);
    free(b);
}

static void test_resolve(void)
{
    s_make(1);
    T.nodes[8].status = EGIDE__V1__NODE_STATUS__NODE_ACTIVE;
    uint8_t *b = NULL;
    size_t n = 0;
    REQUIRE(s_sign(&b, &n) == EGIDE_OK);
    egide_directory_t *d = NULL;
    REQUIRE(s_load(b, n, &d) == EGIDE_OK);
    char **ids = NULL;

    /* Cluny: the CRIP and the Cluny/Tournus territory, never Mâcon */
    CHECK_RC(egide_directory_resolve(d, "reporter", "ip.transmission", "71137", &ids), EGIDE_OK);
    REQUIRE(ids != NULL);
    CHECK_STREQ(ids[0], "71.crip");
    CHECK_STREQ(ids[1], "71.tas.cluny-tournus");
    CHECK(ids[2] == NULL);
    egide_directory_ids_free(&ids);
    CHECK(ids == NULL);
    /* Mâcon */
    CHECK_RC(egide_directory_resolve(d, "police", "ip.transmission", "71270", &ids), EGIDE_OK);
    REQUIRE(ids != NULL);
    CHECK_STREQ(ids[0], "71.crip");
    CHECK_STREQ(ids[1], "71.tas.macon");
    CHECK(ids[2] == NULL);
    egide_directory_ids_free(&ids);
    /* route fields in rule order */
    CHECK_RC(egide_directory_resolve(d, "reporter", "parquet.direct_signalement", "71543", &ids),
             EGIDE_OK);
    REQUIRE(ids != NULL);
    CHECK_STREQ(ids[0], "71.parquet.macon");
    CHECK_STREQ(ids[1], "71.crip");
    CHECK(ids[2] == NULL);
    egide_directory_ids_free(&ids);

    /* refusals */
    CHECK_RC(egide_directory_resolve(d, "reporter", "ip.transmission", "98818", &ids),
             EGIDE_ERR_ROUTE);
    CHECK(ids == NULL);
    CHECK_RC(egide_directory_resolve(d, "reporter", "ip.transmission", "99999", &ids),
             EGIDE_ERR_ROUTE);
    CHECK_RC(egide_directory_resolve(d, "reporter", "ip.transmission", "71999", &ids),
             EGIDE_ERR_ROUTE);
    CHECK_RC(egide_directory_resolve(d, "reporter", "ip.transmission", "7113", &ids),
             EGIDE_ERR_ROUTE);
    CHECK_RC(egide_directory_resolve(d, "reporter", "ip.transmission", "", &ids), EGIDE_ERR_ROUTE);
    CHECK_RC(egide_directory_resolve(d, "reporter", "ip.transmision", "71137", &ids),
             EGIDE_ERR_VALIDATION);
    CHECK_RC(egide_directory_resolve(d, "tas", "ip.transmission", "71137", &ids), EGIDE_ERR_RULE);
    CHECK_RC(egide_directory_resolve(d, "judge", "ip.transmission", "71137", &ids), EGIDE_ERR_RULE);
    /* a type addressed explicitly has no commune routing */
    CHECK_RC(egide_directory_resolve(d, "crip", "evaluation.assignment", "71137", &ids),
             EGIDE_ERR_ROUTE);
    CHECK_RC(egide_directory_resolve(d, NULL, "ip.transmission", "71137", &ids), EGIDE_ERR_INVALID);
    CHECK_RC(egide_directory_resolve(d, "reporter", "ip.transmission", "71137", NULL),
             EGIDE_ERR_INVALID);
    CHECK_RC(egide_directory_resolve(NULL, "reporter", "ip.transmission", "71137", &ids),
             EGIDE_ERR_INVALID);
    egide_directory_destroy(&d);
    free(b);

    /* a suspended territory is left out; the CRIP still receives it */
    s_make(2);
    T.nodes[3].status = EGIDE__V1__NODE_STATUS__NODE_SUSPENDED;
    REQUIRE(s_sign(&b, &n) == EGIDE_OK);
    REQUIRE(s_load(b, n, &d) == EGIDE_OK);
    CHECK_RC(egide_directory_resolve(d, "reporter", "ip.transmission", "71137", &ids), EGIDE_OK);
    REQUIRE(ids != NULL);
    CHECK_STREQ(ids[0], "71.crip");
    CHECK(ids[1] == NULL);
    egide_directory_ids_free(&ids);
    egide_directory_destroy(&d);
    free(b);

    /* every routed node suspended: no route */
    s_make(3);
    T.nodes[1].status = EGIDE__V1__NODE_STATUS__NODE_SUSPENDED;
    T.nodes[3].status = EGIDE__V1__NODE_STATUS__NODE_SUSPENDED;
    REQUIRE(s_sign(&b, &n) == EGIDE_OK);
    REQUIRE(s_load(b, n, &d) == EGIDE_OK);
    CHECK_RC(egide_directory_resolve(d, "reporter", "ip.transmission", "71137", &ids),
             EGIDE_ERR_ROUTE);
    CHECK(ids == NULL);
    egide_directory_destroy(&d);
    free(b);
}

static void test_postal(void)
{
    s_make(1);
    uint8_t *b = NULL;
    size_t n = 0;
    REQUIRE(s_sign(&b, &n) == EGIDE_OK);
    egide_directory_t *d = NULL;
    REQUIRE(s_load(b, n, &d) == EGIDE_OK);
    const Egide__V1__RouteEntry *hits[4] = {0};
    CHECK(egide_directory_postal_lookup(d, "71250", hits, 4) == 2);
    REQUIRE(hits[0] && hits[1]);
    CHECK_STREQ(hits[0]->commune, "71137");
    CHECK_STREQ(hits[1]->commune, "71145");
    CHECK(egide_directory_postal_lookup(d, "71250", hits, 1) == 2); /* count beyond max */
    CHECK(egide_directory_postal_lookup(d, "71870", hits, 4) == 1);
    CHECK_STREQ(hits[0]->commune, "71270");
    CHECK(egide_directory_postal_lookup(d, "71000", NULL, 0) == 1);
    CHECK(egide_directory_postal_lookup(d, "71999", hits, 4) == 0);
    CHECK(egide_directory_postal_lookup(d, "7125", hits, 4) == 0);
    CHECK(egide_directory_postal_lookup(d, NULL, hits, 4) == 0);
    egide_directory_destroy(&d);
    free(b);
}

static void test_check_send(void)
{
    s_make(1);
    T.nodes[6].status = EGIDE__V1__NODE_STATUS__NODE_SUSPENDED; /* police */
    uint8_t *b = NULL;
    size_t n = 0;
    REQUIRE(s_sign(&b, &n) == EGIDE_OK);
    egide_directory_t *d = NULL;
    REQUIRE(s_load(b, n, &d) == EGIDE_OK);
    int reason = -1;
    const char *ok[] = {"71.crip", "71.tas.cluny-tournus"};
    CHECK_RC(egide_directory_check_send(d, "71.education.dsden", "ip.transmission", ok, 2, &reason),
             EGIDE_OK);
    CHECK(reason == EGIDE__V1__REASON_CODE__REASON_NONE);
    CHECK_RC(egide_directory_check_send(d, "71.nobody", "ip.transmission", ok, 2, &reason),
             EGIDE_ERR_NOTFOUND);
    CHECK(reason == EGIDE__V1__REASON_CODE__REASON_UNKNOWN_SENDER);
    CHECK_RC(egide_directory_check_send(d, NULL, "ip.transmission", ok, 2, &reason),
             EGIDE_ERR_NOTFOUND);
    CHECK_RC(egide_directory_check_send(d, "71.police.macon", "ip.transmission", ok, 2, &reason),
             EGIDE_ERR_AUTH);
    CHECK(reason == EGIDE__V1__REASON_CODE__REASON_NODE_SUSPENDED);
    CHECK_RC(egide_directory_check_send(d, "71.education.dsden", "ip.nope", ok, 2, &reason),
             EGIDE_ERR_RULE);
    CHECK(reason == EGIDE__V1__REASON_CODE__REASON_UNKNOWN_TYPE);
    CHECK_RC(egide_directory_check_send(d, "71.education.dsden", "court.opp", ok, 2, &reason),
             EGIDE_ERR_RULE);
    CHECK(reason == EGIDE__V1__REASON_CODE__REASON_FORBIDDEN_TYPE);
    const char *bad_role[] = {"71.crip", "71.je.macon"};
    CHECK_RC(egide_directory_check_send(d, "71.education.dsden", "ip.transmission", bad_role, 2,
                                        &reason),
             EGIDE_ERR_RULE);
    CHECK(reason == EGIDE__V1__REASON_CODE__REASON_FORBIDDEN_RECIPIENT);
    const char *unknown[] = {"71.crip", "71.tas.autun"};
    CHECK_RC(
        egide_directory_check_send(d, "71.education.dsden", "ip.transmission", unknown, 2, &reason),
        EGIDE_ERR_NOTFOUND);
    CHECK(reason == EGIDE__V1__REASON_CODE__REASON_UNKNOWN_RECIPIENT);
    CHECK(!egide_directory_node_active(egide_directory_node(d, "71.police.macon")));
    const char *susp[] = {"71.police.macon"};
    CHECK_RC(egide_directory_check_send(d, "71.crip", "ip.qualification", susp, 1, &reason),
             EGIDE_ERR_AUTH);
    CHECK(reason == EGIDE__V1__REASON_CODE__REASON_NODE_SUSPENDED);
    const char *dup[] = {"71.crip", "71.crip"};
    CHECK_RC(
        egide_directory_check_send(d, "71.education.dsden", "ip.transmission", dup, 2, &reason),
        EGIDE_ERR_PROTO);
    CHECK(reason == EGIDE__V1__REASON_CODE__REASON_MALFORMED);
    const char *with_null[] = {"71.crip", NULL};
    CHECK_RC(egide_directory_check_send(d, "71.education.dsden", "ip.transmission", with_null, 2,
                                        &reason),
             EGIDE_ERR_PROTO);
    CHECK_RC(egide_directory_check_send(d, "71.education.dsden", "ip.transmission", ok, 0, &reason),
             EGIDE_ERR_RULE);
    CHECK(reason == EGIDE__V1__REASON_CODE__REASON_NO_RECIPIENT);
    const char *many[EGIDE_MAX_RECIPIENTS + 1];
    for (size_t i = 0; i <= EGIDE_MAX_RECIPIENTS; i++)
        many[i] = "71.crip";
    CHECK_RC(egide_directory_check_send(d, "71.education.dsden", "ip.transmission", many,
                                        EGIDE_MAX_RECIPIENTS + 1, &reason),
             EGIDE_ERR_LIMIT);
    CHECK(reason == EGIDE__V1__REASON_CODE__REASON_OVERSIZE);
    /* a reply to several sender roles */
    const char *reply[] = {"fr.snated", "71.education.dsden"};
    CHECK_RC(egide_directory_check_send(d, "71.crip", "ip.qualification", reply, 2, &reason),
             EGIDE_OK);
    CHECK_RC(egide_directory_check_send(NULL, "71.crip", "ip.qualification", reply, 2, &reason),
             EGIDE_ERR_INVALID);
    CHECK_RC(egide_directory_check_send(d, "71.crip", "ip.qualification", reply, 2, NULL),
             EGIDE_OK);
    egide_directory_destroy(&d);
    free(b);
}

/* Everything the loader must refuse, each with its specific code. */
static void test_refusals(void)
{
    s_make(5);
    uint8_t *b = NULL;
    size_t n = 0;
    REQUIRE(s_sign(&b, &n) == EGIDE_OK);
    egide_directory_t *d = NULL;

    /* older than what is already held */
    CHECK_RC(egide_directory_load(b, n, s_auth_cert, 6, s_now, &d), EGIDE_ERR_VERSION);
    CHECK(d == NULL);
    CHECK_RC(egide_directory_load(b, n, s_auth_cert, 5, s_now, &d), EGIDE_OK);
    egide_directory_destroy(&d);
    /* expired */
    CHECK_RC(egide_directory_load(b, n, s_auth_cert, 0, T.dir.not_after_ms + 1, &d),
             EGIDE_ERR_EXPIRED);
    CHECK_RC(egide_directory_load(b, n, s_auth_cert, 0, T.dir.not_after_ms, &d), EGIDE_OK);
    egide_directory_destroy(&d);
    /* issued far in the future relative to now */
    {
        int64_t keep = T.dir.issued_ms;
        uint8_t *f = NULL;
        size_t fn = 0;
        T.dir.issued_ms = s_now + 3600000LL;
        REQUIRE(s_sign(&f, &fn) == EGIDE_OK);
        CHECK_RC(s_load(f, fn, &d), EGIDE_ERR_EXPIRED);
        CHECK(d == NULL);
        free(f);
        T.dir.issued_ms = keep;
    }
    /* the anchor itself not valid at that time */
    CHECK_RC(egide_directory_load(b, n, s_auth_cert, 0, s_now + 365LL * 86400000, &d),
             EGIDE_ERR_CERT);
    /* another anchor pinned */
    CHECK_RC(egide_directory_load(b, n, s_other_cert, 0, s_now, &d), EGIDE_ERR_SIGNATURE);
    /* same key, other certificate pinned: the embedded one is not the anchor */
    CHECK_RC(egide_directory_load(b, n, s_auth_cert2, 0, s_now, &d), EGIDE_ERR_CERT);
    /* arguments */
    CHECK_RC(egide_directory_load(NULL, n, s_auth_cert, 0, s_now, &d), EGIDE_ERR_INVALID);
    CHECK_RC(egide_directory_load(b, n, NULL, 0, s_now, &d), EGIDE_ERR_INVALID);
    CHECK_RC(egide_directory_load(b, n, s_auth_cert, 0, s_now, NULL), EGIDE_ERR_INVALID);
    CHECK_RC(egide_directory_load(b, 0, s_auth_cert, 0, s_now, &d), EGIDE_ERR_PROTO);
    CHECK_RC(egide_directory_load(b, EGIDE_MAX_DIRECTORY + 1, s_auth_cert, 0, s_now, &d),
             EGIDE_ERR_LIMIT);

    /* signed by another key (with its own certificate embedded) */
    uint8_t *o = NULL;
    size_t on = 0;
    char err[256];
    REQUIRE(egide_directory_sign(&T.dir, s_other_key, s_other_cert, &o, &on, err, sizeof err) ==
            EGIDE_OK);
    CHECK_RC(s_load(o, on, &d), EGIDE_ERR_SIGNATURE);
    CHECK(d == NULL);
    /* ... which the display loader accepts: it is self-consistent */
    CHECK_RC(egide_directory_load_untrusted(o, on, &d), EGIDE_OK);
    egide_directory_destroy(&d);
    free(o);
    /* a key that does not match the certificate cannot sign */
    CHECK_RC(egide_directory_sign(&T.dir, s_other_key, s_auth_cert, &o, &on, err, sizeof err),
             EGIDE_ERR_CERT);
    CHECK(o == NULL);

    /* every single-byte change, and every truncation, is refused */
    uint8_t *m = malloc(n);
    REQUIRE(m != NULL);
    size_t accepted = 0, tried = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t deltas[] = {0x01, 0x80, 0xff};
        for (size_t k = 0; k < sizeof deltas; k++) {
            memcpy(m, b, n);
            m[i] ^= deltas[k];
            tried++;
            if (s_load(m, n, &d) == EGIDE_OK) {
                accepted++;
                fprintf(stderr, "byte %zu ^ 0x%02x accepted\n", i, deltas[k]);
                egide_directory_destroy(&d);
            }
        }
        tried++;
        if (s_load(b, i, &d) == EGIDE_OK) {
            accepted++;
            fprintf(stderr, "truncation to %zu accepted\n", i);
            egide_directory_destroy(&d);
        }
    }
    CHECK(tried == 4 * n);
    CHECK(accepted == 0);
    /* the untouched copy still loads: the loop did not pass by accident */
    CHECK_RC(s_load(b, n, &d), EGIDE_OK);
    egide_directory_destroy(&d);
    /* trailing garbage */
    uint8_t *g = malloc(n + 2);
    REQUIRE(g != NULL);
    memcpy(g, b, n);
    g[n] = 0x08; /* field 1 varint: unknown wire type for `directory` */
    g[n + 1] = 0x00;
    CHECK(s_load(g, n + 2, &d) != EGIDE_OK);
    free(g);
    free(m);
    free(b);
}

/* egide_directory_validate on directories that are wrong in one place. */
static void test_validate(void)
{
    char err[256];
    s_make(1);
    CHECK_RC(egide_directory_validate(&T.dir, err, sizeof err), EGIDE_OK);
    CHECK_RC(egide_directory_validate(NULL, err, sizeof err), EGIDE_ERR_INVALID);

#define BAD(setup, want, needle)                                                                   \
    do {                                                                                           \
        s_make(1);                                                                                 \
        setup;                                                                                     \
        err[0] = '\0';                                                                             \
        CHECK_RC(egide_directory_validate(&T.dir, err, sizeof err), want);                         \
        if (!strstr(err, needle))                                                                  \
            fprintf(stderr, "%s:%d: message \"%s\" lacks \"%s\"\n", __FILE__, __LINE__, err,       \
                    needle);                                                                       \
        CHECK(strstr(err, needle) != NULL);                                                        \
    } while (0)

    BAD(T.dir.format_version = 2, EGIDE_ERR_VERSION, "format version");
    BAD(T.dir.department = "7", EGIDE_ERR_PROTO, "department");
    BAD(T.dir.version = 0, EGIDE_ERR_PROTO, "version");
    BAD(T.dir.not_after_ms = T.dir.issued_ms, EGIDE_ERR_PROTO, "validity");
    BAD(T.dir.jurisdiction = "", EGIDE_ERR_PROTO, "jurisdiction");
    BAD(T.dir.jurisdiction = "FR CASF", EGIDE_ERR_PROTO, "jurisdiction");
    BAD(T.dir.referral_term = "bad\x01term", EGIDE_ERR_PROTO, "referral term");
    BAD(T.dir.n_nodes = 0, EGIDE_ERR_PROTO, "node count");
    BAD(T.nodes[4].id = "71.tas.macon", EGIDE_ERR_PROTO, "duplicate node id 71.tas.macon");
    BAD(T.nodes[4].id = "71..x", EGIDE_ERR_PROTO, "bad node id");
    BAD(T.nodes[4].role = "judge", EGIDE_ERR_PROTO, "unknown role 'judge'");
    BAD(T.nodes[4].display_name = "", EGIDE_ERR_PROTO, "display name");
    BAD(T.nodes[4].display_name = "\xc3\x28", EGIDE_ERR_PROTO, "display name");
    BAD(T.nodes[4].signing_cert_der.len = 0, EGIDE_ERR_PROTO, "signing certificate");
    BAD(T.nodes[4].signing_cert_der.len = s_sign_len - 1, EGIDE_ERR_PROTO, "signing certificate");
    BAD((T.nodes[4].signing_cert_der.data = s_enc_der, T.nodes[4].signing_cert_der.len = s_enc_len),
        EGIDE_ERR_PROTO, "not Ed25519");
    BAD(T.nodes[4].encryption_cert_der.len = 0, EGIDE_ERR_PROTO, "encryption certificate");
    BAD((T.nodes[0].encryption_cert_der.data = s_sign_der,
         T.nodes[0].encryption_cert_der.len = s_sign_len),
        EGIDE_ERR_PROTO, "not X25519");
    BAD(T.nodes[4].curve_public_key = "short", EGIDE_ERR_PROTO, "CURVE");
    BAD(T.nodes[4].curve_public_key = T.curve[5], EGIDE_ERR_PROTO, "share a CURVE key");
    BAD(T.nodes[4].status = EGIDE__V1__NODE_STATUS__NODE_STATUS_UNSPECIFIED, EGIDE_ERR_PROTO,
        "status");
    BAD(T.dir.n_brokers = 0, EGIDE_ERR_PROTO, "broker count");
    BAD(T.broker.endpoint = "http://x", EGIDE_ERR_PROTO, "endpoint");
    BAD(T.broker.endpoint = "tcp://a b", EGIDE_ERR_PROTO, "endpoint");
    BAD(T.broker.node_id = "71.crip", EGIDE_ERR_PROTO, "not a broker node");
    BAD(T.broker.curve_public_key = T.curve[1], EGIDE_ERR_PROTO, "differs");
    BAD(T.routes[1].commune = "7113", EGIDE_ERR_PROTO, "bad commune code");
    BAD(T.routes[1].commune = "98818", EGIDE_ERR_PROTO, "not in department 71");
    BAD(T.routes[1].commune = "71270", EGIDE_ERR_PROTO, "duplicate route for commune 71270");
    BAD(T.routes[1].territory = "71.tas.autun", EGIDE_ERR_PROTO, "territory");
    BAD(T.routes[1].territory = "71.crip", EGIDE_ERR_PROTO, "territory");
    BAD(T.routes[1].crip = "", EGIDE_ERR_PROTO, "crip");
    BAD(T.routes[1].parquet = "71.je.macon", EGIDE_ERR_PROTO, "parquet");
    BAD(T.routes[1].court = "71.nowhere", EGIDE_ERR_PROTO, "court");
    BAD(T.routes[1].police = "71.crip", EGIDE_ERR_PROTO, "police");
    BAD(T.routes[1].name = "a\nb", EGIDE_ERR_PROTO, "commune name");
    static char *badpc[] = {"7125"};
    BAD((T.routes[1].postal_codes = badpc, T.routes[1].n_postal_codes = 1), EGIDE_ERR_PROTO,
        "postal code");
    static char *duppc[] = {"71250", "71250"};
    BAD((T.routes[1].postal_codes = duppc, T.routes[1].n_postal_codes = 2), EGIDE_ERR_PROTO,
        "listed twice");
    BAD(T.rules[0].sender_role = "judge", EGIDE_ERR_PROTO, "unknown sender role");
    BAD(T.rules[0].message_type = "ip.other", EGIDE_ERR_PROTO, "unknown message type");
    BAD(T.rules[0].n_recipient_roles = 0, EGIDE_ERR_PROTO, "recipient role count");
    static char *badroles[] = {"crip", "judge"};
    BAD(T.rules[0].recipient_roles = badroles, EGIDE_ERR_PROTO, "unknown recipient role");
    static char *duproles[] = {"crip", "crip"};
    BAD(T.rules[0].recipient_roles = duproles, EGIDE_ERR_PROTO, "listed twice");
    static char *badfield[] = {"crip", "mayor"};
    BAD(T.rules[0].route_to = badfield, EGIDE_ERR_PROTO, "unknown route field");
    /* routes to the territory, but does not let tas receive it */
    static char *crip_only[] = {"crip", "parquet"};
    BAD(T.rules[0].recipient_roles = crip_only, EGIDE_ERR_PROTO, "does not allow");
    /* routes to the police, which one commune does not set */
    static char *to_police[] = {"police"};
    BAD((T.rules[4].route_to = to_police, T.rules[4].n_route_to = 1,
         T.rules[4].recipient_roles = to_police, T.rules[4].n_recipient_roles = 1,
         T.routes[2].police = ""),
        EGIDE_ERR_PROTO, "does not set");
    BAD(T.rules[1].sender_role = "reporter", EGIDE_ERR_PROTO, "duplicate rule");
    /* counts are checked before anything is read or allocated */
    BAD(T.dir.n_nodes = EGIDE_DIRECTORY_MAX_NODES + 1, EGIDE_ERR_PROTO, "node count");
    BAD(T.dir.n_routes = EGIDE_DIRECTORY_MAX_ROUTES + 1, EGIDE_ERR_PROTO, "too many routes");
    BAD(T.dir.n_rules = EGIDE_DIRECTORY_MAX_RULES + 1, EGIDE_ERR_PROTO, "too many rules");
    BAD(T.dir.n_brokers = EGIDE_DIRECTORY_MAX_BROKERS + 1, EGIDE_ERR_PROTO, "broker count");
#undef BAD
    /* a valid directory whose routes omit optional fields */
    s_make(1);
    T.routes[3].police = "";
    T.routes[3].court = "";
    T.routes[3].parquet = "";
    T.routes[3].name = "";
    T.rules[2].n_route_to = 0;
    CHECK_RC(egide_directory_validate(&T.dir, err, sizeof err), EGIDE_OK);
    /* sign refuses what validate refuses, and says why */
    T.nodes[4].role = "judge";
    uint8_t *o = (uint8_t *)1;
    size_t on = 1;
    CHECK_RC(egide_directory_sign(&T.dir, s_auth_key, s_auth_cert, &o, &on, err, sizeof err),
             EGIDE_ERR_PROTO);
    CHECK(o == NULL && on == 0);
    CHECK(strstr(err, "judge") != NULL);
}

/* A signed directory whose content is invalid is refused after the
 * signature checks out (the authority's tooling is not trusted blindly). */
static void test_signed_but_invalid(void)
{
    s_make(1);
    T.nodes[4].role = "judge";
    size_t dlen = egide__v1__directory__get_packed_size(&T.dir);
    uint8_t *dbuf = malloc(dlen);
    REQUIRE(dbuf != NULL);
    egide__v1__directory__pack(&T.dir, dbuf);
    uint8_t sig[64];
    REQUIRE(egide_sign_labeled(s_auth_key, EGIDE_LABEL_DIRECTORY, dbuf, dlen, sig) == EGIDE_OK);
    uint8_t *cder = NULL;
    size_t clen = 0;
    REQUIRE(egide_cert_to_der(s_auth_cert, &cder, &clen) == EGIDE_OK);
    Egide__V1__SignedDirectory sd = EGIDE__V1__SIGNED_DIRECTORY__INIT;
    sd.directory.data = dbuf;
    sd.directory.len = dlen;
    sd.authority_cert_der.data = cder;
    sd.authority_cert_der.len = clen;
    sd.signature.data = sig;
    sd.signature.len = 64;
    size_t slen = egide__v1__signed_directory__get_packed_size(&sd);
    uint8_t *sbuf = malloc(slen);
    REQUIRE(sbuf != NULL);
    egide__v1__signed_directory__pack(&sd, sbuf);
    egide_directory_t *d = NULL;
    CHECK_RC(s_load(sbuf, slen, &d), EGIDE_ERR_PROTO);
    CHECK(d == NULL);
    /* and a signed blob that is not a Directory at all */
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0xff};
    REQUIRE(egide_sign_labeled(s_auth_key, EGIDE_LABEL_DIRECTORY, junk, sizeof junk, sig) ==
            EGIDE_OK);
    sd.directory.data = (uint8_t *)junk;
    sd.directory.len = sizeof junk;
    size_t jlen = egide__v1__signed_directory__get_packed_size(&sd);
    uint8_t *jbuf = malloc(jlen);
    REQUIRE(jbuf != NULL);
    egide__v1__signed_directory__pack(&sd, jbuf);
    CHECK_RC(s_load(jbuf, jlen, &d), EGIDE_ERR_PROTO);
    /* wrong format version, correctly signed */
    T.nodes[4].role = "parquet";
    T.dir.format_version = 2;
    free(dbuf);
    dlen = egide__v1__directory__get_packed_size(&T.dir);
    dbuf = malloc(dlen);
    REQUIRE(dbuf != NULL);
    egide__v1__directory__pack(&T.dir, dbuf);
    REQUIRE(egide_sign_labeled(s_auth_key, EGIDE_LABEL_DIRECTORY, dbuf, dlen, sig) == EGIDE_OK);
    sd.directory.data = dbuf;
    sd.directory.len = dlen;
    free(sbuf);
    slen = egide__v1__signed_directory__get_packed_size(&sd);
    sbuf = malloc(slen);
    REQUIRE(sbuf != NULL);
    egide__v1__signed_directory__pack(&sd, sbuf);
    CHECK_RC(s_load(sbuf, slen, &d), EGIDE_ERR_VERSION);
    free(jbuf);
    free(sbuf);
    free(dbuf);
    OPENSSL_free(cder);
}

static void test_load_file(void)
{
    s_make(9);
    uint8_t *b = NULL;
    size_t n = 0;
    REQUIRE(s_sign(&b, &n) == EGIDE_OK);
    char p[512];
    snprintf(p, sizeof p, "%s/directory.bin", s_tmp);
    REQUIRE(egide_file_write_atomic(p, b, n, 0644) == EGIDE_OK);
    egide_directory_t *d = NULL;
    CHECK_RC(egide_directory_load_file(p, s_auth_cert, 9, s_now, &d), EGIDE_OK);
    CHECK(egide_directory_version(d) == 9);
    egide_directory_destroy(&d);
    CHECK_RC(egide_directory_load_file(p, s_auth_cert, 10, s_now, &d), EGIDE_ERR_VERSION);
    snprintf(p, sizeof p, "%s/missing.bin", s_tmp);
    CHECK(egide_directory_load_file(p, s_auth_cert, 0, s_now, &d) != EGIDE_OK);
    CHECK(d == NULL);
    CHECK_RC(egide_directory_load_file(NULL, s_auth_cert, 0, s_now, &d), EGIDE_ERR_INVALID);
    free(b);
}

int main(void)
{
    egide_log_set_sink(s_quiet, NULL);
    if (s_setup() != 0) {
        fprintf(stderr, "setup failed (openssl command?)\n");
        return 1;
    }
    RUN(test_syntax);
    RUN(test_roundtrip);
    RUN(test_resolve);
    RUN(test_postal);
    RUN(test_check_send);
    RUN(test_refusals);
    RUN(test_validate);
    RUN(test_signed_but_invalid);
    RUN(test_load_file);
    EVP_PKEY_free(s_auth_key);
    EVP_PKEY_free(s_other_key);
    X509_free(s_auth_cert);
    X509_free(s_auth_cert2);
    X509_free(s_other_cert);
    free(s_sign_der);
    free(s_enc_der);
    s_sh("/tmp", "rm -rf -- \"$EGIDE_TEST_TMP\"");
    EGIDE_TEST_DONE();
}
