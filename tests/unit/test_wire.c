/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_wire.c - every wire message packs and unpacks to the same bytes and
 * fields; every proper prefix (truncation) is refused with EGIDE_ERR_PROTO,
 * input over the kind's limit with EGIDE_ERR_LIMIT, and invalid messages are
 * refused at pack time.
 */
#include "egide/base/egide_limits.h"
#include "egide/base/egide_util.h"
#include "egide/wire/egide_wire.h"
#include "egide_test.h"

static uint8_t s_b16[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static uint8_t s_b32[32] = {[0] = 0xaa, [31] = 0x55};
static uint8_t s_b64[64] = {[0] = 0x11, [63] = 0x22};
static uint8_t s_b12[12] = {[0] = 9};
#define BIN(a) ((ProtobufCBinaryData){sizeof(a), (uint8_t *)(a)})

/* Pack msg, unpack it, check it packs again to the same bytes, that every
 * proper prefix is refused and oversize input is refused. */
static void s_roundtrip(egide_wire_kind kind, const void *msg)
{
    uint8_t *buf = NULL, *buf2 = NULL;
    size_t len = 0, len2 = 0;
    CHECK_RC(egide_wire_pack(kind, msg, &buf, &len), EGIDE_OK);
    if (!buf)
        return;
    void *back = NULL;
    const char *detail = NULL;
    CHECK_RC(egide_wire_unpack(kind, buf, len, &back, &detail), EGIDE_OK);
    if (back) {
        CHECK_RC(egide_wire_pack(kind, back, &buf2, &len2), EGIDE_OK);
        CHECK(len2 == len && buf2 && memcmp(buf, buf2, len) == 0);
        free(buf2);
        egide_wire_free(kind, back);
    }
    int refused = 0;
    for (size_t cut = 0; cut < len; cut++) {
        void *m = NULL;
        egide_rc rc = egide_wire_unpack(kind, buf, cut, &m, &detail);
        if (rc == EGIDE_ERR_PROTO && m == NULL)
            refused++;
        else
            fprintf(stderr, "  %s truncated to %zu of %zu bytes: rc %d\n",
                    egide_wire_kind_name(kind), cut, len, rc);
        egide_wire_free(kind, m);
    }
    CHECK(refused == (int)len);
    /* Oversize: the limit is checked before parsing, so no huge allocation
     * of real data is needed beyond the buffer itself. */
    size_t big = egide_wire_max(kind) + 1;
    uint8_t *huge = calloc(1, big);
    if (huge) {
        memcpy(huge, buf, len);
        void *m = NULL;
        CHECK_RC(egide_wire_unpack(kind, huge, big, &m, &detail), EGIDE_ERR_LIMIT);
        CHECK(m == NULL && detail && strcmp(detail, "message too large") == 0);
        free(huge);
    }
    free(buf);
}

static void test_envelope(void)
{
    Egide__V1__Recipient r1 = EGIDE__V1__RECIPIENT__INIT, r2 = EGIDE__V1__RECIPIENT__INIT;
    r1.node_id = "71.crip";
    r1.key_fingerprint = BIN(s_b32);
    r1.enc = BIN(s_b32);
    r1.wrapped_cek = BIN(s_b64);
    r2 = r1;
    r2.node_id = "71.tas.cluny-tournus";
    Egide__V1__Recipient *rs[] = {&r1, &r2};
    Egide__V1__EnvelopeHeader h = EGIDE__V1__ENVELOPE_HEADER__INIT;
    h.version = 1;
    h.suite = 1;
    h.msg_id = BIN(s_b16);
    h.sender_id = "fr.snated";
    h.sender_cert_fingerprint = BIN(s_b32);
    h.sender_seq = 42;
    h.created_ms = 1700000000000;
    h.expires_ms = 1800000000000;
    h.message_type = "snated.transmission";
    h.urgency = EGIDE__V1__URGENCY__URGENCY_URGENT;
    h.n_recipients = 2;
    h.recipients = rs;
    h.payload_nonce = BIN(s_b12);
    h.ciphertext_sha256 = BIN(s_b32);
    h.key_commitment = BIN(s_b32);
    s_roundtrip(EGIDE_WIRE_ENVELOPE_HEADER, &h);

    uint8_t *hb;
    size_t hl;
    REQUIRE(egide_wire_pack(EGIDE_WIRE_ENVELOPE_HEADER, &h, &hb, &hl) == EGIDE_OK);
    Egide__V1__SignedEnvelope e = EGIDE__V1__SIGNED_ENVELOPE__INIT;
    e.header = (ProtobufCBinaryData){hl, hb};
    e.ciphertext = BIN(s_b64);
    e.signature = BIN(s_b64);
    s_roundtrip(EGIDE_WIRE_SIGNED_ENVELOPE, &e);

    /* field-level equality after the round trip */
    uint8_t *eb;
    size_t el;
    REQUIRE(egide_wire_pack(EGIDE_WIRE_SIGNED_ENVELOPE, &e, &eb, &el) == EGIDE_OK);
    Egide__V1__SignedEnvelope *e2 = NULL;
    CHECK_RC(egide_wire_unpack(EGIDE_WIRE_SIGNED_ENVELOPE, eb, el, (void **)&e2, NULL), EGIDE_OK);
    if (e2) {
        Egide__V1__EnvelopeHeader *h2 = NULL;
        CHECK_RC(egide_wire_unpack(EGIDE_WIRE_ENVELOPE_HEADER, e2->header.data, e2->header.len,
                                   (void **)&h2, NULL),
                 EGIDE_OK);
        if (h2) {
            CHECK_STREQ(h2->sender_id, "fr.snated");
            CHECK(h2->n_recipients == 2);
            CHECK_STREQ(h2->recipients[1]->node_id, "71.tas.cluny-tournus");
            CHECK(h2->sender_seq == 42 && h2->urgency == EGIDE__V1__URGENCY__URGENCY_URGENT);
            CHECK(memcmp(h2->msg_id.data, s_b16, 16) == 0);
            egide_wire_free(EGIDE_WIRE_ENVELOPE_HEADER, h2);
        }
        egide_wire_free(EGIDE_WIRE_SIGNED_ENVELOPE, e2);
    }
    free(eb);

    /* invalid messages are refused at pack time with a reason */
    const char *detail;
    Egide__V1__SignedEnvelope bad = e;
    bad.signature.len = 63;
    uint8_t *out;
    size_t ol;
    CHECK_RC(egide_wire_pack(EGIDE_WIRE_SIGNED_ENVELOPE, &bad, &out, &ol), EGIDE_ERR_PROTO);
    CHECK_RC(egide_wire_check(EGIDE_WIRE_SIGNED_ENVELOPE, &bad, &detail), EGIDE_ERR_PROTO);
    CHECK_STREQ(detail, "signature must be 64 bytes");
    Egide__V1__EnvelopeHeader hbad = h;
    hbad.n_recipients = 0;
    CHECK_RC(egide_wire_check(EGIDE_WIRE_ENVELOPE_HEADER, &hbad, &detail), EGIDE_ERR_PROTO);
    CHECK_STREQ(detail, "no recipient");
    hbad = h;
    hbad.sender_id = "bad id";
    CHECK_RC(egide_wire_check(EGIDE_WIRE_ENVELOPE_HEADER, &hbad, &detail), EGIDE_ERR_PROTO);
    CHECK_STREQ(detail, "bad sender_id");
    free(hb);

    Egide__V1__Payload p = EGIDE__V1__PAYLOAD__INIT;
    p.content_type = "application/json";
    p.body = BIN(s_b64);
    s_roundtrip(EGIDE_WIRE_PAYLOAD, &p);
}

static void test_receipt(void)
{
    Egide__V1__ReceiptBody b = EGIDE__V1__RECEIPT_BODY__INIT;
    b.version = 1;
    b.kind = EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED;
    b.msg_id = BIN(s_b16);
    b.envelope_sha256 = BIN(s_b32);
    b.issuer_id = "71.broker";
    b.sender_id = "fr.snated";
    b.recipient_id = "71.crip";
    b.time_ms = 1700000000001;
    b.reason = EGIDE__V1__REASON_CODE__REASON_FORBIDDEN_TYPE;
    b.detail = "role snated may not send court.opp";
    b.audit_leaf_index = 7;
    b.has_audit_leaf = 1;
    b.issuer_cert_fingerprint = BIN(s_b32);
    s_roundtrip(EGIDE_WIRE_RECEIPT_BODY, &b);
    uint8_t *bb;
    size_t bl;
    REQUIRE(egide_wire_pack(EGIDE_WIRE_RECEIPT_BODY, &b, &bb, &bl) == EGIDE_OK);
    Egide__V1__SignedReceipt s = EGIDE__V1__SIGNED_RECEIPT__INIT;
    s.body = (ProtobufCBinaryData){bl, bb};
    s.signature = BIN(s_b64);
    s_roundtrip(EGIDE_WIRE_SIGNED_RECEIPT, &s);
    free(bb);
    CHECK_STREQ(egide_wire_reason_name(EGIDE__V1__REASON_CODE__REASON_REPLAY), "REASON_REPLAY");
    CHECK_STREQ(egide_wire_reason_name(9999), "REASON_UNKNOWN");
    CHECK_STREQ(egide_wire_receipt_kind_name(2), "DELIVERED");
}

static void test_audit(void)
{
    char *rcpts[] = {"71.crip", "71.tas.macon"};
    Egide__V1__AuditEvent a = EGIDE__V1__AUDIT_EVENT__INIT;
    a.version = 1;
    a.type = EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_ACCEPTED;
    a.msg_id = BIN(s_b16);
    a.envelope_sha256 = BIN(s_b32);
    a.sender_id = "fr.snated";
    a.n_recipient_ids = 2;
    a.recipient_ids = rcpts;
    a.message_type = "snated.transmission";
    a.time_ms = 1700000000002;
    s_roundtrip(EGIDE_WIRE_AUDIT_EVENT, &a);
    CHECK_STREQ(egide_wire_audit_type_name(2), "AUDIT_ACCEPTED");
}

static void test_directory(void)
{
    Egide__V1__NodeEntry n = EGIDE__V1__NODE_ENTRY__INIT;
    n.id = "71.crip";
    n.role = "crip";
    n.display_name = "CRIP de Saône-et-Loire";
    n.signing_cert_der = BIN(s_b64);
    n.encryption_cert_der = BIN(s_b64);
    n.curve_public_key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    n.status = EGIDE__V1__NODE_STATUS__NODE_ACTIVE;
    Egide__V1__NodeEntry *ns[] = {&n};
    Egide__V1__RouteEntry r = EGIDE__V1__ROUTE_ENTRY__INIT;
    r.commune = "71137";
    r.territory = "71.tas.cluny-tournus";
    r.crip = "71.crip";
    Egide__V1__RouteEntry *rs[] = {&r};
    char *roles[] = {"crip"};
    char *route_to[] = {"crip", "territory"};
    Egide__V1__AccessRule ru = EGIDE__V1__ACCESS_RULE__INIT;
    ru.sender_role = "snated";
    ru.message_type = "snated.transmission";
    ru.n_recipient_roles = 1;
    ru.recipient_roles = roles;
    ru.n_route_to = 2;
    ru.route_to = route_to;
    Egide__V1__AccessRule *rus[] = {&ru};
    Egide__V1__Directory d = EGIDE__V1__DIRECTORY__INIT;
    d.format_version = 1;
    d.department = "71";
    d.version = 3;
    d.issued_ms = 1;
    d.not_after_ms = 2;
    d.n_nodes = 1;
    d.nodes = ns;
    d.n_routes = 1;
    d.routes = rs;
    d.n_rules = 1;
    d.rules = rus;
    d.jurisdiction = "fr-casf";
    d.referral_term = "information préoccupante";
    uint8_t *db;
    size_t dl;
    CHECK_RC(egide_wire_pack(EGIDE_WIRE_DIRECTORY, &d, &db, &dl), EGIDE_OK);
    Egide__V1__Directory *d2 = NULL;
    CHECK_RC(egide_wire_unpack(EGIDE_WIRE_DIRECTORY, db, dl, (void **)&d2, NULL), EGIDE_OK);
    if (d2) {
        CHECK(d2->version == 3 && d2->n_nodes == 1 && d2->n_routes == 1 && d2->n_rules == 1);
        CHECK_STREQ(d2->rules[0]->route_to[1], "territory");
        CHECK_STREQ(d2->referral_term, "information préoccupante");
        egide_wire_free(EGIDE_WIRE_DIRECTORY, d2);
    }
    Egide__V1__SignedDirectory s = EGIDE__V1__SIGNED_DIRECTORY__INIT;
    s.directory = (ProtobufCBinaryData){dl, db};
    s.authority_cert_der = BIN(s_b64);
    s.signature = BIN(s_b64);
    s_roundtrip(EGIDE_WIRE_SIGNED_DIRECTORY, &s);
    free(db);
}

static void test_frames(void)
{
    Egide__V1__Frame f;
    Egide__V1__Hello hello = EGIDE__V1__HELLO__INIT;
    hello.node_id = "71.crip";
    hello.directory_version = 3;
    hello.software = "egide-edge/test";
    egide_wire_frame_init(&f, 1);
    f.body_case = EGIDE__V1__FRAME__BODY_HELLO;
    f.hello = &hello;
    s_roundtrip(EGIDE_WIRE_FRAME, &f);

    Egide__V1__DirectorySync ds = EGIDE__V1__DIRECTORY_SYNC__INIT;
    ds.signed_directory = BIN(s_b64);
    egide_wire_frame_init(&f, 2);
    f.body_case = EGIDE__V1__FRAME__BODY_DIRECTORY;
    f.directory = &ds;
    s_roundtrip(EGIDE_WIRE_FRAME, &f);

    Egide__V1__Submit sub = EGIDE__V1__SUBMIT__INIT;
    sub.envelope = BIN(s_b64);
    egide_wire_frame_init(&f, 3);
    f.body_case = EGIDE__V1__FRAME__BODY_SUBMIT;
    f.submit = &sub;
    s_roundtrip(EGIDE_WIRE_FRAME, &f);

    Egide__V1__Deliver del = EGIDE__V1__DELIVER__INIT;
    del.envelope = BIN(s_b64);
    egide_wire_frame_init(&f, 4);
    f.body_case = EGIDE__V1__FRAME__BODY_DELIVER;
    f.deliver = &del;
    s_roundtrip(EGIDE_WIRE_FRAME, &f);

    Egide__V1__ReceiptFrame rf = EGIDE__V1__RECEIPT_FRAME__INIT;
    rf.receipt = BIN(s_b64);
    egide_wire_frame_init(&f, 5);
    f.body_case = EGIDE__V1__FRAME__BODY_RECEIPT;
    f.receipt = &rf;
    s_roundtrip(EGIDE_WIRE_FRAME, &f);

    Egide__V1__Heartbeat hb = EGIDE__V1__HEARTBEAT__INIT;
    hb.time_ms = 1700000000000;
    egide_wire_frame_init(&f, 0);
    f.body_case = EGIDE__V1__FRAME__BODY_HEARTBEAT;
    f.heartbeat = &hb;
    s_roundtrip(EGIDE_WIRE_FRAME, &f);

    Egide__V1__Error er = EGIDE__V1__ERROR__INIT;
    er.code = EGIDE__V1__REASON_CODE__REASON_MALFORMED;
    er.detail = "frame body missing";
    egide_wire_frame_init(&f, 6);
    f.body_case = EGIDE__V1__FRAME__BODY_ERROR;
    f.error = &er;
    s_roundtrip(EGIDE_WIRE_FRAME, &f);

    uint8_t h1[32] = {1}, h2[32] = {2};
    ProtobufCBinaryData proof[2] = {BIN(h1), BIN(h2)};
    Egide__V1__Checkpoint cp = EGIDE__V1__CHECKPOINT__INIT;
    cp.note = (ProtobufCBinaryData){5, (uint8_t *)"note\n"};
    cp.from_size = 4;
    cp.n_consistency_proof = 2;
    cp.consistency_proof = proof;
    egide_wire_frame_init(&f, 7);
    f.body_case = EGIDE__V1__FRAME__BODY_CHECKPOINT;
    f.checkpoint = &cp;
    s_roundtrip(EGIDE_WIRE_FRAME, &f);

    uint64_t ids[] = {3, 9};
    Egide__V1__Ack ack = EGIDE__V1__ACK__INIT;
    ack.n_ids = 2;
    ack.ids = ids;
    egide_wire_frame_init(&f, 0);
    f.body_case = EGIDE__V1__FRAME__BODY_ACK;
    f.ack = &ack;
    s_roundtrip(EGIDE_WIRE_FRAME, &f);

    /* A frame without a body, or of another version, is refused. */
    egide_wire_frame_init(&f, 8);
    const char *detail;
    CHECK_RC(egide_wire_check(EGIDE_WIRE_FRAME, &f, &detail), EGIDE_ERR_PROTO);
    CHECK_STREQ(detail, "frame body missing");
    f.body_case = EGIDE__V1__FRAME__BODY_HEARTBEAT;
    f.heartbeat = &hb;
    f.version = 99;
    CHECK_RC(egide_wire_check(EGIDE_WIRE_FRAME, &f, &detail), EGIDE_ERR_PROTO);

    /* A Hello's newest inbox message is a 16-byte msg_id or nothing. */
    uint8_t id[17] = {1, 2, 3};
    egide_wire_frame_init(&f, 9);
    f.body_case = EGIDE__V1__FRAME__BODY_HELLO;
    f.hello = &hello;
    hello.inbox_newest = (ProtobufCBinaryData){16, id};
    s_roundtrip(EGIDE_WIRE_FRAME, &f);
    hello.inbox_newest = (ProtobufCBinaryData){17, id};
    CHECK_RC(egide_wire_check(EGIDE_WIRE_FRAME, &f, &detail), EGIDE_ERR_PROTO);
    CHECK_STREQ(detail, "hello: inbox_newest is not a 16-byte msg_id");
    hello.inbox_newest = (ProtobufCBinaryData){15, id};
    CHECK_RC(egide_wire_check(EGIDE_WIRE_FRAME, &f, &detail), EGIDE_ERR_PROTO);
}

static void test_garbage(void)
{
    /* Random bytes never crash the decoders and never parse as valid
     * signed/framed messages by chance (with overwhelming probability the
     * required fields are missing). */
    uint8_t buf[512];
    int accepted = 0;
    for (int round = 0; round < 2000; round++) {
        size_t len = (size_t)(round % 512);
        egide_random(buf, len);
        for (int k = 0; k < EGIDE_WIRE__COUNT; k++) {
            void *m = NULL;
            egide_rc rc = egide_wire_unpack((egide_wire_kind)k, buf, len, &m, NULL);
            if (rc == EGIDE_OK && (k == EGIDE_WIRE_SIGNED_ENVELOPE || k == EGIDE_WIRE_FRAME ||
                                   k == EGIDE_WIRE_SIGNED_RECEIPT))
                accepted++;
            CHECK(rc == EGIDE_OK || m == NULL);
            egide_wire_free((egide_wire_kind)k, m);
        }
    }
    CHECK(accepted == 0);
    void *m;
    CHECK_RC(egide_wire_unpack(EGIDE_WIRE__COUNT, buf, 1, &m, NULL), EGIDE_ERR_INVALID);
    CHECK_RC(egide_wire_unpack(EGIDE_WIRE_FRAME, NULL, 5, &m, NULL), EGIDE_ERR_INVALID);
}

static void test_urgency(void)
{
    int u;
    CHECK_RC(egide_wire_urgency_parse("urgent", &u), EGIDE_OK);
    CHECK(u == EGIDE__V1__URGENCY__URGENCY_URGENT);
    CHECK_RC(egide_wire_urgency_parse("panic", &u), EGIDE_ERR_INVALID);
    CHECK_STREQ(egide_wire_urgency_name(3), "immediate");
}

int main(void)
{
    RUN(test_envelope);
    RUN(test_receipt);
    RUN(test_audit);
    RUN(test_directory);
    RUN(test_frames);
    RUN(test_garbage);
    RUN(test_urgency);
    EGIDE_TEST_DONE();
}
