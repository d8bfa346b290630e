/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * bench_e2e.c - end-to-end throughput and latency: this program is the
 * sending node (fr.snated); it seals 4 KB referrals (a valid
 * snated.transmission payload, padded) for two recipients, submits them to a
 * real broker over CURVE, and counts a referral done when both recipients'
 * DELIVERED receipts (signed by them, relayed by the broker) are back.  The
 * recipients are real egide-edge processes.  Run by bench/run-e2e.sh, which
 * sets up the deployment with an fsync per commit and with group commit.
 *
 *   bench_e2e ENDPOINT PKI_DIR COUNT WINDOW SAMPLE_JSON
 * Prints referrals/s, p50/p99 latency (submit -> both DELIVERED) in ms.
 * EGIDE_BENCH_NEED=1: a referral is done at its first DELIVERED receipt
 * (one recipient offline: run-offline-queue.sh queues for it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <zmq.h>

#include "egide/crypto/egide_crypto.h"
#include "egide/protocol/egide_envelope.h"
#include "egide/domain/egide_payload.h"
#include "egide/crypto/egide_pki.h"
#include "egide/protocol/egide_receipt.h"
#include "egide/net/egide_transport.h"
#include "egide/base/egide_util.h"
#include "egide/wire/egide_wire.h"

typedef struct {
    uint8_t id[16];
    int64_t t0_us;
    int64_t acc_us;  /* ACCEPTED back (the broker's commit) */
    int64_t d1_us;   /* the first recipient's DELIVERED back */
    int64_t done_us; /* the second's */
    int delivered;
} s_msg_t;

static int64_t s_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int s_cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The median and 99th percentile of n values (sorted in place), in ms. */
static void s_pct(int64_t *v, int64_t n, double *p50, double *p99)
{
    qsort(v, (size_t)n, sizeof *v, s_cmp64);
    *p50 = n ? (double)v[n / 2] / 1000.0 : 0.0;
    *p99 = n ? (double)v[(n * 99) / 100] / 1000.0 : 0.0;
}

static char *s_read(const char *p)
{
    uint8_t *d;
    size_t n;
    return egide_file_read(p, 1 << 20, &d, &n) ? NULL : (char *)d;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: bench_e2e ENDPOINT PKI_DIR COUNT WINDOW SAMPLE_JSON\n");
        return 2;
    }
    const char *ep = argv[1], *pki = argv[2];
    int64_t count, window;
    if (egide_parse_int64(argv[3], 1, 10000000, &count) ||
        egide_parse_int64(argv[4], 1, 100000, &window))
        return 2;
    char path[1024], bk[41], sk[41], pk[41];
    snprintf(path, sizeof path, "%s/nodes/71.broker/curve.public", pki);
    egide_curve_key_read(path, 0, bk);
    snprintf(path, sizeof path, "%s/nodes/fr.snated/curve.secret", pki);
    egide_curve_key_read(path, 1, sk);
    snprintf(path, sizeof path, "%s/nodes/fr.snated/curve.public", pki);
    egide_curve_key_read(path, 0, pk);
    EVP_PKEY *skey = NULL;
    X509 *scert = NULL;
    uint8_t sfpr[32];
    snprintf(path, sizeof path, "%s/nodes/fr.snated/sign.key", pki);
    if (egide_pki_load_key(path, EGIDE_CERT_USE_SIGN, &skey))
        return 1;
    snprintf(path, sizeof path, "%s/nodes/fr.snated/sign.crt", pki);
    if (egide_cert_load(path, &scert) || egide_cert_fingerprint(scert, sfpr))
        return 1;
    X509_free(scert);
    const char *to[2] = {"71.crip", "71.tas.cluny-tournus"};
    egide_seal_recipient_t r[2];
    EVP_PKEY *pubs[2];
    uint8_t fprs[2][32];
    for (int i = 0; i < 2; i++) {
        X509 *c = NULL;
        snprintf(path, sizeof path, "%s/nodes/%s/enc.crt", pki, to[i]);
        if (egide_cert_load(path, &c) || egide_pki_cert_pubkey(c, EGIDE_CERT_USE_ENC, &pubs[i]) ||
            egide_cert_fingerprint(c, fprs[i]))
            return 1;
        X509_free(c);
        r[i] = (egide_seal_recipient_t){to[i], pubs[i], fprs[i]};
    }
    /* A valid payload of about 4 KB: the sample with a longer account. */
    char *sample = s_read(argv[5]);
    if (!sample)
        return 1;
    json_t *js = json_loads(sample, 0, NULL);
    free(sample);
    char pad[3200];
    memset(pad, 'a', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    const char *acc = json_string_value(json_object_get(js, "caller_account"));
    size_t alen = strlen(acc) + sizeof pad + 2;
    char *account = malloc(alen);
    snprintf(account, alen, "%s %s", acc, pad);
    json_object_set_new(js, "caller_account", json_string(account));
    free(account);
    char *text = json_dumps(js, JSON_COMPACT);
    json_decref(js);
    uint8_t *pb;
    size_t pb_len;
    egide_payload_facts_t facts;
    char *errs = NULL;
    if (egide_payload_from_json("snated.transmission", text, strlen(text), egide_now_ms(), &pb,
                                &pb_len, &facts, &errs)) {
        fprintf(stderr, "bench_e2e: sample payload invalid: %s\n", errs ? errs : "");
        return 1;
    }
    free(text);

    void *zctx = zmq_ctx_new(), *sock = NULL, *mon = NULL;
    egide_transport_opts_t o = {.heartbeat_ms = 0,
                                .linger_ms = 0,
                                .max_msg = 0,
                                .sndhwm = 0,
                                .monitor_ep = "inproc://bench-mon",
                                .monitor_events = ZMQ_EVENT_HANDSHAKE_SUCCEEDED,
                                .monitor_out = &mon};
    if (egide_transport_dealer(zctx, ep, bk, pk, sk, &o, &sock))
        return 1;
    zmq_pollitem_t mi = {mon, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&mi, 1, 10000) <= 0) {
        fprintf(stderr, "bench_e2e: no handshake with the broker\n");
        return 1;
    }
    Egide__V1__Frame f;
    Egide__V1__Hello h = EGIDE__V1__HELLO__INIT;
    egide_wire_frame_init(&f, 1);
    h.node_id = "fr.snated";
    h.directory_version = 1u << 30; /* no directory needed */
    f.body_case = EGIDE__V1__FRAME__BODY_HELLO;
    f.hello = &h;
    egide_transport_send(sock, NULL, 0, &f);
    /* Sequence numbers go on from the highest the broker accepted from us
     * (its Welcome says which): a number far above it is refused. */
    uint64_t seq0 = 0;
    for (int tries = 0; tries < 100 && !seq0; tries++) {
        zmq_pollitem_t wi = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&wi, 1, 100) <= 0)
            continue;
        egide_transport_msg_t m;
        while (!seq0 && egide_transport_recv(sock, 0, &m) == EGIDE_OK) {
            if (m.frame->body_case == EGIDE__V1__FRAME__BODY_WELCOME && m.frame->welcome)
                seq0 = m.frame->welcome->last_seq + 1;
            egide_transport_msg_clear(&m);
        }
    }
    if (!seq0) {
        fprintf(stderr, "bench_e2e: no Welcome from the broker\n");
        return 1;
    }

    s_msg_t *msgs = calloc((size_t)count, sizeof *msgs);
    int64_t *lat = calloc((size_t)count, sizeof *lat);
    int64_t sent = 0, done = 0, accepted = 0, rejected = 0;
    uint64_t *acks = calloc(4096, sizeof *acks);
    size_t nacks = 0;
    int need = 2;
    const char *need_s = getenv("EGIDE_BENCH_NEED");
    int64_t need64 = 0;
    if (need_s && egide_parse_int64(need_s, 1, 2, &need64) == EGIDE_OK)
        need = (int)need64;
    int64_t t_start = s_us(), t_end_limit = t_start + 600 * 1000000LL;
    while (done < count && s_us() < t_end_limit) {
        while (sent < count && sent - done < window) {
            egide_seal_params_t p = {.sender_id = "fr.snated",
                                     .sign_key = skey,
                                     .sign_cert_fpr = sfpr,
                                     .recipients = r,
                                     .n_recipients = 2,
                                     .message_type = "snated.transmission",
                                     .urgency = EGIDE__V1__URGENCY__URGENCY_NORMAL,
                                     .sender_seq = seq0 + (uint64_t)sent,
                                     .content_type =
                                         egide_payload_content_type("snated.transmission"),
                                     .payload = pb,
                                     .payload_len = pb_len};
            uint8_t *env;
            size_t len;
            if (egide_envelope_seal(&p, &env, &len, msgs[sent].id))
                return 1;
            msgs[sent].t0_us = s_us();
            Egide__V1__Frame sf;
            Egide__V1__Submit s = EGIDE__V1__SUBMIT__INIT;
            egide_wire_frame_init(&sf, (uint64_t)sent + 1);
            s.envelope = (ProtobufCBinaryData){len, env};
            sf.body_case = EGIDE__V1__FRAME__BODY_SUBMIT;
            sf.submit = &s;
            egide_transport_send(sock, NULL, 0, &sf);
            free(env);
            sent++;
        }
        zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
        zmq_poll(&it, 1, 100);
        for (int k = 0; k < 1024; k++) {
            egide_transport_msg_t m;
            if (egide_transport_recv(sock, 0, &m) != EGIDE_OK)
                break;
            if (m.frame->body_case == EGIDE__V1__FRAME__BODY_RECEIPT) {
                egide_receipt_t *rc = NULL;
                if (egide_receipt_parse(m.frame->receipt->receipt.data,
                                        m.frame->receipt->receipt.len, &rc) == 0) {
                    const Egide__V1__ReceiptBody *b = egide_receipt_body(rc);
                    if (b->kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_ACCEPTED) {
                        accepted++;
                        /* The answer to Submit corr k+1 (corr ids are echoed). */
                        uint64_t c = m.frame->corr_id;
                        if (c >= 1 && c <= (uint64_t)sent && !msgs[c - 1].acc_us)
                            msgs[c - 1].acc_us = s_us();
                    } else if (b->kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED)
                        rejected++;
                    else if (b->kind == EGIDE__V1__RECEIPT_KIND__RECEIPT_DELIVERED) {
                        /* corr ids are not echoed in relays: find by msg_id (recent first) */
                        for (int64_t i = sent - 1; i >= 0 && i >= sent - window - 1024; i--)
                            if (memcmp(msgs[i].id, b->msg_id.data, 16) == 0) {
                                if (++msgs[i].delivered == 1)
                                    msgs[i].d1_us = s_us();
                                if (msgs[i].delivered == need) {
                                    msgs[i].done_us = s_us();
                                    lat[done++] = msgs[i].done_us - msgs[i].t0_us;
                                }
                                break;
                            }
                    }
                    egide_receipt_destroy(&rc);
                }
                if (m.frame->receipt->relay_id && nacks < 4096)
                    acks[nacks++] = m.frame->receipt->relay_id;
            }
            egide_transport_msg_clear(&m);
        }
        if (nacks) {
            Egide__V1__Frame af;
            Egide__V1__Ack a = EGIDE__V1__ACK__INIT;
            egide_wire_frame_init(&af, 0);
            a.n_ids = nacks;
            a.ids = acks;
            af.body_case = EGIDE__V1__FRAME__BODY_ACK;
            af.ack = &a;
            egide_transport_send(sock, NULL, 0, &af);
            nacks = 0;
        }
        if (rejected) {
            fprintf(stderr, "bench_e2e: %lld rejected\n", (long long)rejected);
            return 1;
        }
    }
    double secs = (double)(s_us() - t_start) / 1e6;
    double rate = (double)done / secs, p50, p99;
    s_pct(lat, done, &p50, &p99);
    printf("referrals=%lld accepted=%lld seconds=%.2f rate=%.0f/s p50=%.1fms p99=%.1fms "
           "payload=%zuB\n",
           (long long)done, (long long)accepted, secs, rate, p50, p99, pb_len);
    /* The hops (EGIDE_BENCH_HOPS=1): submit -> ACCEPTED (admission and the
     * broker's commit), ACCEPTED -> the first DELIVERED (delivery, the edge's
     * checks and commit, its receipt, the broker's commit, the relay), and
     * the first -> the second DELIVERED (how far apart the two edges are). */
    const char *hops = getenv("EGIDE_BENCH_HOPS");
    if (hops && strcmp(hops, "1") == 0) {
        int64_t *hv[3];
        int64_t n[3] = {0, 0, 0};
        for (int j = 0; j < 3; j++)
            hv[j] = calloc((size_t)count + 1, sizeof *hv[j]);
        for (int64_t i = 0; i < sent; i++) {
            if (msgs[i].acc_us)
                hv[0][n[0]++] = msgs[i].acc_us - msgs[i].t0_us;
            if (msgs[i].acc_us && msgs[i].d1_us > msgs[i].acc_us)
                hv[1][n[1]++] = msgs[i].d1_us - msgs[i].acc_us;
            if (msgs[i].delivered == 2)
                hv[2][n[2]++] = msgs[i].done_us - msgs[i].d1_us;
        }
        static const char *names[3] = {"submit->accepted", "accepted->1st_delivered",
                                       "1st->2nd_delivered"};
        for (int j = 0; j < 3; j++) {
            s_pct(hv[j], n[j], &p50, &p99);
            printf("hop %-24s n=%lld p50=%.1fms p99=%.1fms\n", names[j], (long long)n[j], p50, p99);
            free(hv[j]);
        }
    }
    zmq_close(mon);
    zmq_close(sock);
    zmq_ctx_term(zctx);
    free(pb);
    free(msgs);
    free(lat);
    free(acks);
    EVP_PKEY_free(skey);
    EVP_PKEY_free(pubs[0]);
    EVP_PKEY_free(pubs[1]);
    return done == count ? 0 : 1;
}
