/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_probe.c - a raw transport client for the integration tests: it
 * speaks to a broker as a node would, but can also misbehave (forged sender,
 * forbidden type, replays, garbage and truncated frames) so the tests can
 * check what the broker answers.  Test tool only; never installed.
 *
 *   egide_probe --endpoint E --broker-public F --curve-secret F --curve-public F
 *               --node ID [--sign-key K --sign-cert C --pki DIR] MODE [options]
 * MODE: handshake | hello | submit | replay | garbage
 *   handshake: only the CURVE handshake (the broker's ZAP answer), then exit
 *   nohello: no Hello, a heartbeat a second for --count seconds; prints
 *   "checkpoints N", the checkpoint frames the broker pushed meanwhile
 *   submit/replay: --type T --to ID [--to ID] [--sender-id ID] [--seq N] [--size BYTES]
 *   garbage: --count N
 * Prints one line per outcome; exit 0 when the exchange completed, 3 when the
 * broker did not answer in time, 4 when the handshake was refused.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "egide/domain/egide_payload.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/protocol/egide_envelope.h"
#include "egide/base/egide_limits.h"
#include "egide/crypto/egide_pki.h"
#include "egide/protocol/egide_receipt.h"
#include "egide/net/egide_transport.h"
#include "egide/base/egide_util.h"
#include "egide/wire/egide_frame.h"
#include "egide/wire/egide_wire.h"

static void *s_zctx, *s_sock, *s_mon;

/* Wait up to ms for a frame; NULL on timeout.  Sets *refused on ZAP refusal. */
static Egide__V1__Frame *s_wait(int ms, int want_case, int *refused)
{
    int64_t end = egide_mono_ms() + ms;
    while (egide_mono_ms() < end) {
        zmq_pollitem_t it[2] = {{s_sock, 0, ZMQ_POLLIN, 0}, {s_mon, 0, ZMQ_POLLIN, 0}};
        zmq_poll(it, 2, 100);
        if (it[1].revents & ZMQ_POLLIN) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, s_mon, 0) >= 0 && zmq_msg_size(&m) >= 6) {
                uint16_t ev;
                memcpy(&ev, zmq_msg_data(&m), 2);
                if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH && refused)
                    *refused = 1;
                if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED && want_case < 0) {
                    zmq_msg_close(&m);
                    zmq_msg_init(&m);
                    zmq_msg_recv(&m, s_mon, 0);
                    zmq_msg_close(&m);
                    static Egide__V1__Frame marker;
                    return &marker; /* connected */
                }
            }
            int more = zmq_msg_more(&m);
            zmq_msg_close(&m);
            if (more) {
                zmq_msg_init(&m);
                zmq_msg_recv(&m, s_mon, 0);
                zmq_msg_close(&m);
            }
            if (refused && *refused)
                return NULL;
        }
        if (it[0].revents & ZMQ_POLLIN) {
            egide_transport_msg_t m;
            if (egide_transport_recv(s_sock, 0, &m) == EGIDE_OK) {
                if (want_case == 0 || (int)m.frame->body_case == want_case)
                    return m.frame;
                egide_transport_msg_clear(&m);
            }
        }
    }
    return NULL;
}

static int s_print_receipt(const Egide__V1__Frame *f, uint8_t *keep, size_t *keep_len)
{
    if (f->body_case == EGIDE__V1__FRAME__BODY_ERROR) {
        printf("ERROR %s\n", egide_wire_reason_name(f->error->code));
        return 0;
    }
    egide_receipt_t *r = NULL;
    if (egide_receipt_parse(f->receipt->receipt.data, f->receipt->receipt.len, &r)) {
        printf("BADRECEIPT\n");
        return 1;
    }
    const Egide__V1__ReceiptBody *b = egide_receipt_body(r);
    printf("%s %s\n", egide_wire_receipt_kind_name(b->kind),
           b->reason ? egide_wire_reason_name(b->reason) : "-");
    if (keep && f->receipt->receipt.len <= 4096) {
        memcpy(keep, f->receipt->receipt.data, f->receipt->receipt.len);
        *keep_len = f->receipt->receipt.len;
    }
    egide_receipt_destroy(&r);
    return 0;
}

static int s_hello(const char *node)
{
    Egide__V1__Frame f;
    Egide__V1__Hello h = EGIDE__V1__HELLO__INIT;
    egide_wire_frame_init(&f, 1);
    h.node_id = (char *)node;
    f.body_case = EGIDE__V1__FRAME__BODY_HELLO;
    f.hello = &h;
    return egide_transport_send(s_sock, NULL, 0, &f);
}

int main(int argc, char **argv)
{
    const char *endpoint = NULL, *bpub = NULL, *csec = NULL, *cpub = NULL, *node = NULL;
    const char *skey = NULL, *scert = NULL, *pki = NULL, *type = "ip.transmission";
    const char *sender_id = NULL, *json_path = NULL, *to[8];
    size_t n_to = 0;
    long long seq = 0, count = 100, size = 4096;
    static const struct option o[] = {{"endpoint", 1, 0, 'e'},     {"broker-public", 1, 0, 'b'},
                                      {"curve-secret", 1, 0, 's'}, {"curve-public", 1, 0, 'p'},
                                      {"node", 1, 0, 'n'},         {"sign-key", 1, 0, 'k'},
                                      {"sign-cert", 1, 0, 'c'},    {"pki", 1, 0, 'P'},
                                      {"type", 1, 0, 't'},         {"to", 1, 0, 'T'},
                                      {"sender-id", 1, 0, 'S'},    {"seq", 1, 0, 'q'},
                                      {"count", 1, 0, 'N'},        {"size", 1, 0, 'z'},
                                      {"json", 1, 0, 'j'},         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", o, NULL)) != -1) {
        int64_t v = 0;
        switch (c) {
        case 'e':
            endpoint = optarg;
            break;
        case 'b':
            bpub = optarg;
            break;
        case 's':
            csec = optarg;
            break;
        case 'p':
            cpub = optarg;
            break;
        case 'n':
            node = optarg;
            break;
        case 'k':
            skey = optarg;
            break;
        case 'c':
            scert = optarg;
            break;
        case 'P':
            pki = optarg;
            break;
        case 't':
            type = optarg;
            break;
        case 'T':
            if (n_to < 8)
                to[n_to++] = optarg;
            break;
        case 'S':
            sender_id = optarg;
            break;
        case 'j':
            json_path = optarg;
            break;
        case 'q':
            if (egide_parse_int64(optarg, 0, INT64_MAX, &v) == 0)
                seq = v;
            break;
        case 'N':
            if (egide_parse_int64(optarg, 1, 1000000, &v) == 0)
                count = v;
            break;
        case 'z':
            if (egide_parse_int64(optarg, 1, 1 << 24, &v) == 0)
                size = v;
            break;
        default:
            return 2;
        }
    }
    if (optind != argc - 1 || !endpoint || !bpub || !csec || !cpub || !node) {
        fprintf(stderr, "egide_probe: missing arguments\n");
        return 2;
    }
    const char *mode = argv[optind];
    char bk[41], sk[41], pk[41];
    if (egide_curve_key_read(bpub, 0, bk) || egide_curve_key_read(csec, 1, sk) ||
        egide_curve_key_read(cpub, 0, pk)) {
        fprintf(stderr, "egide_probe: cannot read CURVE keys\n");
        return 2;
    }
    s_zctx = zmq_ctx_new();
    egide_transport_opts_t opts = {.heartbeat_ms = 0,
                                   .linger_ms = 500,
                                   .max_msg = 0,
                                   .sndhwm = 0,
                                   .monitor_ep = "inproc://probe-mon",
                                   .monitor_events = ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                                                     ZMQ_EVENT_HANDSHAKE_SUCCEEDED,
                                   .monitor_out = &s_mon};
    if (egide_transport_dealer(s_zctx, endpoint, bk, pk, sk, &opts, &s_sock))
        return 2;
    int refused = 0, status = 0;
    /* With ZMQ_IMMEDIATE nothing can be sent before the handshake: wait for it. */
    int64_t t0 = egide_mono_ms();
    Egide__V1__Frame *f = s_wait(5000, -1, &refused);
    if (!f) {
        printf(refused ? "refused\n" : "no-answer\n");
        status = refused ? 4 : 3;
        goto out;
    }
    if (strcmp(mode, "handshake") == 0) {
        printf("handshake %lld ms\n", (long long)(egide_mono_ms() - t0));
        goto out;
    }
    if (strcmp(mode, "nohello") == 0) {
        int checkpoints = 0;
        for (long long i = 0; i < count && i < 600; i++) {
            uint8_t *hb = NULL;
            size_t hl = 0;
            if (egide_frame_heartbeat(0, egide_now_ms(), &hb, &hl) == EGIDE_OK)
                (void)egide_transport_send_raw(s_sock, NULL, 0, hb, hl);
            free(hb);
            int64_t end = egide_mono_ms() + 1000;
            while (egide_mono_ms() < end) {
                Egide__V1__Frame *cf =
                    s_wait((int)(end - egide_mono_ms()), EGIDE__V1__FRAME__BODY_CHECKPOINT, NULL);
                if (!cf)
                    break;
                checkpoints++;
                egide_wire_free(EGIDE_WIRE_FRAME, cf);
            }
        }
        printf("checkpoints %d\n", checkpoints);
        goto out;
    }
    s_hello(node);
    f = s_wait(5000, 0, &refused);
    if (!f) {
        printf(refused ? "refused\n" : "no-answer\n");
        status = refused ? 4 : 3;
        goto out;
    }
    egide_wire_free(EGIDE_WIRE_FRAME, f);
    if (strcmp(mode, "hello") == 0) {
        printf("connected\n");
    } else if (strcmp(mode, "submit") == 0 || strcmp(mode, "replay") == 0) {
        EVP_PKEY *key = NULL;
        X509 *cert = NULL;
        uint8_t fpr[32];
        if (!skey || !scert || !pki || n_to == 0 ||
            egide_pki_load_key(skey, EGIDE_CERT_USE_SIGN, &key) || egide_cert_load(scert, &cert) ||
            egide_cert_fingerprint(cert, fpr)) {
            fprintf(stderr, "egide_probe: need --sign-key, --sign-cert, --pki and --to\n");
            status = 2;
            goto out;
        }
        X509_free(cert);
        egide_seal_recipient_t r[8];
        EVP_PKEY *pubs[8] = {0};
        uint8_t fprs[8][32];
        for (size_t i = 0; i < n_to; i++) {
            char path[1024];
            X509 *ec = NULL;
            snprintf(path, sizeof path, "%s/nodes/%s/enc.crt", pki, to[i]);
            if (egide_cert_load(path, &ec) ||
                egide_pki_cert_pubkey(ec, EGIDE_CERT_USE_ENC, &pubs[i]) ||
                egide_cert_fingerprint(ec, fprs[i])) {
                fprintf(stderr, "egide_probe: %s: bad certificate\n", path);
                return 2;
            }
            X509_free(ec);
            r[i] = (egide_seal_recipient_t){to[i], pubs[i], fprs[i]};
        }
        /* The payload: --json FILE gives a real structured payload of the
         * type (its catalogue content type), as an edge would seal it;
         * otherwise SIZE filler bytes as application/octet-stream, which a
         * recipient refuses for a catalogue type (the broker never looks). */
        uint8_t *payload = NULL;
        size_t payload_len = (size_t)size;
        const char *ctype = "application/octet-stream";
        if (json_path) {
            uint8_t *js = NULL;
            size_t jlen = 0;
            char *errs = NULL;
            if (egide_file_read(json_path, 1 << 20, &js, &jlen) ||
                egide_payload_from_json(type, (const char *)js, jlen, egide_now_ms(), &payload,
                                        &payload_len, NULL, &errs) ||
                !(ctype = egide_payload_content_type(type))) {
                fprintf(stderr, "egide_probe: %s: not a valid %s payload%s%s\n", json_path, type,
                        errs ? ": " : "", errs ? errs : "");
                free(js);
                free(errs);
                return 2;
            }
            free(js);
        } else if ((payload = malloc(payload_len)) != NULL)
            memset(payload, 'x', payload_len);
        egide_seal_params_t p = {.sender_id = sender_id ? sender_id : node,
                                 .sign_key = key,
                                 .sign_cert_fpr = fpr,
                                 .recipients = r,
                                 .n_recipients = n_to,
                                 .message_type = type,
                                 .urgency = EGIDE__V1__URGENCY__URGENCY_NORMAL,
                                 .sender_seq = seq ? (uint64_t)seq : (uint64_t)egide_now_ms(),
                                 .content_type = ctype,
                                 .payload = payload,
                                 .payload_len = payload_len};
        uint8_t *env;
        size_t len;
        uint8_t id[16];
        if (egide_envelope_seal(&p, &env, &len, id)) {
            fprintf(stderr, "egide_probe: seal failed\n");
            return 2;
        }
        char hex[33];
        egide_hex_encode(id, 16, hex);
        printf("msg %s\n", hex);
        uint8_t first[4096];
        size_t first_len = 0;
        int rounds = strcmp(mode, "replay") == 0 ? 2 : 1;
        for (int k = 0; k < rounds; k++) {
            Egide__V1__Frame sf;
            Egide__V1__Submit s = EGIDE__V1__SUBMIT__INIT;
            egide_wire_frame_init(&sf, 100 + (uint64_t)k);
            s.envelope = (ProtobufCBinaryData){len, env};
            sf.body_case = EGIDE__V1__FRAME__BODY_SUBMIT;
            sf.submit = &s;
            egide_transport_send(s_sock, NULL, 0, &sf);
            Egide__V1__Frame *rf = NULL;
            for (int tries = 0; tries < 10 && !rf; tries++) {
                rf = s_wait(1000, 0, NULL);
                if (rf && rf->body_case != EGIDE__V1__FRAME__BODY_RECEIPT &&
                    rf->body_case != EGIDE__V1__FRAME__BODY_ERROR) {
                    egide_wire_free(EGIDE_WIRE_FRAME, rf);
                    rf = NULL;
                }
                /* Relayed receipts of earlier messages are not our answer. */
                if (rf && rf->body_case == EGIDE__V1__FRAME__BODY_RECEIPT &&
                    rf->receipt->relay_id) {
                    egide_wire_free(EGIDE_WIRE_FRAME, rf);
                    rf = NULL;
                }
            }
            if (!rf) {
                printf("no-answer\n");
                status = 3;
                break;
            }
            uint8_t cur[4096];
            size_t cur_len = 0;
            s_print_receipt(rf, k == 0 ? first : cur, k == 0 ? &first_len : &cur_len);
            if (k == 1)
                printf("same-receipt %s\n",
                       cur_len == first_len && memcmp(cur, first, cur_len) == 0 ? "yes" : "no");
            egide_wire_free(EGIDE_WIRE_FRAME, rf);
        }
        free(env);
        free(payload);
        for (size_t i = 0; i < n_to; i++)
            EVP_PKEY_free(pubs[i]);
        EVP_PKEY_free(key);
    } else if (strcmp(mode, "garbage") == 0) {
        /* Random frames, then truncated copies of a valid hello, then a real
         * hello: the broker must still answer. */
        uint8_t buf[2048];
        for (long long i = 0; i < count; i++) {
            size_t n = (size_t)(i % (long long)sizeof buf);
            egide_random(buf, n);
            zmq_send(s_sock, buf, n, ZMQ_DONTWAIT);
        }
        Egide__V1__Frame hf;
        Egide__V1__Hello h = EGIDE__V1__HELLO__INIT;
        egide_wire_frame_init(&hf, 9);
        h.node_id = (char *)node;
        hf.body_case = EGIDE__V1__FRAME__BODY_HELLO;
        hf.hello = &h;
        uint8_t *hb;
        size_t hl;
        egide_wire_pack(EGIDE_WIRE_FRAME, &hf, &hb, &hl);
        for (size_t cut = 0; cut < hl; cut++)
            zmq_send(s_sock, hb, cut, ZMQ_DONTWAIT);
        free(hb);
        /* drain the error answers, then check the broker still serves us */
        int errors = 0;
        for (;;) {
            Egide__V1__Frame *ef = s_wait(1500, EGIDE__V1__FRAME__BODY_ERROR, NULL);
            if (!ef)
                break;
            errors++;
            egide_wire_free(EGIDE_WIRE_FRAME, ef);
        }
        printf("errors %d\n", errors);
        s_hello(node);
        Egide__V1__Frame *af = s_wait(5000, EGIDE__V1__FRAME__BODY_CHECKPOINT, NULL);
        if (!af)
            af = s_wait(3000, 0, NULL);
        printf(af ? "alive\n" : "no-answer\n");
        status = af ? 0 : 3;
        egide_wire_free(EGIDE_WIRE_FRAME, af);
    } else {
        fprintf(stderr, "egide_probe: unknown mode %s\n", mode);
        status = 2;
    }
out:
    zmq_socket_monitor(s_sock, NULL, 0);
    zmq_close(s_mon);
    zmq_close(s_sock);
    zmq_ctx_term(s_zctx);
    return status;
}
