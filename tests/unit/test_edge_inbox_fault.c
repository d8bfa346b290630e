/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_edge_inbox_fault.c - a referral reaches a recipient whose store
 * fails, injected the way SQLite's own tests inject I/O errors: a test VFS,
 * registered as the default, wraps the real one and fails xWrite, xSync and
 * xTruncate with SQLITE_IOERR_WRITE or SQLITE_FULL while a flag is set.
 *
 * With a real sealed envelope from a development PKI and signed directory
 * made at run time (deploy/71 through deploy/tools/make-directory.sh), the
 * edge's inbox step (edge_inbox_step: the Deliver handling of the loop,
 * without a socket) must:
 *  - under the fault: produce nothing to send, sign and remember no
 *    REJECTED, store nothing (the fault hits the COMMIT for a small
 *    referral, the INSERT itself for one larger than the page cache; and
 *    a one-shot fault fails a single write of the INSERT only, the case
 *    where a refusal written just after would have been committed);
 *  - once the fault clears, on the same bytes: one DELIVERED receipt, valid
 *    under the recipient's key, and exactly one inbox row;
 *  - on the same bytes once more: the very same frame bytes, still one row.
 * A recipient whose own clock is wrong (10 minutes slow, then 31 days
 * fast) still delivers, and says so in health and metrics (issue 13
 * item 4).
 * A catalogue type whose payload is not its own content type is refused
 * with CONTENT_TYPE_MISMATCH, never stored (issue 11, Deliver 4).
 * Around it: genuine refusals still happen (not a recipient, same msg_id
 * with other bytes = DUPLICATE_CONFLICT) and are stable; a refusal met by
 * the fault is not sent either; garbage and bad arguments fail cleanly.
 * On the sending side the same holds: a submission under the fault queues
 * nothing, and a recipient's receipt under the fault is neither applied nor
 * acknowledged (so the broker relays it again), then is, once.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "edge.h"
#include "egide/base/egide_date.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/domain/egide_payload.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/protocol/egide_envelope.h"
#include "egide/protocol/egide_receipt.h"
#include "egide/wire/egide_wire.h"
#include "edge_fixture.h"
#include "egide_test.h"

/* ------------------------------------------------------------ fault VFS */

static sqlite3_vfs *s_real;     /* the default VFS we wrap */
static int s_fault;             /* 0 = none, else the error xWrite/xSync return */
static int s_faults_hit;        /* how many calls failed */
static int s_fault_left = -1;   /* calls left to fail (-1 = while s_fault is set) */
static sqlite3_io_methods s_io; /* forwarding methods, filled at open */

typedef struct s_file {
    sqlite3_file base;   /* pMethods = &s_io */
    sqlite3_file *inner; /* the real file, allocated right after */
} s_file_t;

#define INNER(f) (((s_file_t *)(f))->inner)

static int s_close(sqlite3_file *f)
{
    return INNER(f)->pMethods->xClose(INNER(f));
}
static int s_read(sqlite3_file *f, void *b, int n, sqlite3_int64 off)
{
    return INNER(f)->pMethods->xRead(INNER(f), b, n, off);
}
/* The error to inject now, or 0. */
static int s_inject(void)
{
    int e = s_fault;
    if (!e)
        return 0;
    s_faults_hit++;
    if (s_fault_left > 0 && --s_fault_left == 0)
        s_fault = 0; /* a one-shot fault: the disk recovers at once */
    return e;
}

static int s_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 off)
{
    int e = s_inject();
    if (e)
        return e;
    return INNER(f)->pMethods->xWrite(INNER(f), b, n, off);
}
static int s_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    int e = s_inject();
    if (e)
        return e;
    return INNER(f)->pMethods->xTruncate(INNER(f), size);
}
static int s_sync(sqlite3_file *f, int flags)
{
    int e = s_inject();
    if (e)
        return e == SQLITE_FULL ? SQLITE_FULL : SQLITE_IOERR_FSYNC;
    return INNER(f)->pMethods->xSync(INNER(f), flags);
}
static int s_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return INNER(f)->pMethods->xFileSize(INNER(f), size);
}
static int s_lock(sqlite3_file *f, int l)
{
    return INNER(f)->pMethods->xLock(INNER(f), l);
}
static int s_unlock(sqlite3_file *f, int l)
{
    return INNER(f)->pMethods->xUnlock(INNER(f), l);
}
static int s_check(sqlite3_file *f, int *out)
{
    return INNER(f)->pMethods->xCheckReservedLock(INNER(f), out);
}
static int s_fctl(sqlite3_file *f, int op, void *arg)
{
    return INNER(f)->pMethods->xFileControl(INNER(f), op, arg);
}
static int s_sector(sqlite3_file *f)
{
    return INNER(f)->pMethods->xSectorSize(INNER(f));
}
static int s_devchar(sqlite3_file *f)
{
    return INNER(f)->pMethods->xDeviceCharacteristics(INNER(f));
}
static int s_shm_map(sqlite3_file *f, int pg, int sz, int ext, void volatile **pp)
{
    return INNER(f)->pMethods->xShmMap(INNER(f), pg, sz, ext, pp);
}
static int s_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    return INNER(f)->pMethods->xShmLock(INNER(f), off, n, flags);
}
static void s_shm_barrier(sqlite3_file *f)
{
    INNER(f)->pMethods->xShmBarrier(INNER(f));
}
static int s_shm_unmap(sqlite3_file *f, int del)
{
    return INNER(f)->pMethods->xShmUnmap(INNER(f), del);
}
static int s_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
    return INNER(f)->pMethods->xFetch(INNER(f), off, n, pp);
}
static int s_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return INNER(f)->pMethods->xUnfetch(INNER(f), off, p);
}

static int s_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    (void)vfs;
    s_file_t *w = (s_file_t *)f;
    w->inner = (sqlite3_file *)(w + 1);
    int rc = s_real->xOpen(s_real, name, w->inner, flags, out_flags);
    if (rc != SQLITE_OK || !w->inner->pMethods) {
        f->pMethods = NULL;
        return rc;
    }
    /* Forward at the real file's version: no method it lacks is offered. */
    s_io = (sqlite3_io_methods){
        w->inner->pMethods->iVersion < 3 ? w->inner->pMethods->iVersion : 3,
        s_close,
        s_read,
        s_write,
        s_truncate,
        s_sync,
        s_size,
        s_lock,
        s_unlock,
        s_check,
        s_fctl,
        s_sector,
        s_devchar,
        s_shm_map,
        s_shm_lock,
        s_shm_barrier,
        s_shm_unmap,
        s_fetch,
        s_unfetch,
    };
    f->pMethods = &s_io;
    return SQLITE_OK;
}

static sqlite3_vfs s_vfs;

static int s_vfs_install(void)
{
    s_real = sqlite3_vfs_find(NULL);
    if (!s_real)
        return -1;
    s_vfs = *s_real;
    s_vfs.szOsFile = (int)sizeof(s_file_t) + s_real->szOsFile;
    s_vfs.zName = "egide-fault";
    s_vfs.pNext = NULL;
    s_vfs.xOpen = s_open;
    /* Everything else (delete, access, randomness, time...) is the real
     * VFS's, called with its own object by the copied pointers' code: the
     * unix VFS does not depend on its pAppData being ours. */
    return sqlite3_vfs_register(&s_vfs, 1) == SQLITE_OK ? 0 : -1;
}

/* ------------------------------------------------------------ fixture */

static char s_dir[256];
static edge_t E;
static EVP_PKEY *s_police_sign, *s_crip_sign_pub, *s_crip_enc_pub, *s_tas_enc_pub, *s_tas_sign;
static uint8_t s_police_fpr[32], s_crip_enc_fpr[32], s_tas_enc_fpr[32], s_tas_sign_fpr[32];
static int s_warnings; /* "not stored" lines: the INSERT itself failed */

static void s_sink(egide_log_level level, const char *line, void *arg)
{
    (void)arg;
    (void)level;
    if (strstr(line, "not stored"))
        s_warnings++;
}

/* The recipient edge 71.crip: keys, trust, the signed directory, a store. */
static int s_setup(void)
{
    if (edge_fx_make_pki(s_dir, sizeof s_dir, "/tmp/egide-test-edge-fault.XXXXXX"))
        return -1;
    memset(&E, 0, sizeof E);
    pthread_mutex_init(&E.dir_lock, NULL);
    pthread_mutex_init(&E.api_lock, NULL);
    E.wake[0] = E.wake[1] = -1;
    egide_strlcpy(E.node_id, "71.crip", sizeof E.node_id);
    E.clock_skew_ms = 300000;
    E.ttl_ms = 86400000;
    if (edge_fx_key(s_dir, "71.crip", "sign.key", EGIDE_CERT_USE_SIGN, &E.sign_key) ||
        edge_fx_key(s_dir, "71.crip", "enc.key", EGIDE_CERT_USE_ENC, &E.enc_key) ||
        edge_fx_cert(s_dir, "71.crip", "sign.crt", EGIDE_CERT_USE_SIGN, &s_crip_sign_pub,
                     E.sign_fpr) ||
        edge_fx_cert(s_dir, "71.crip", "enc.crt", EGIDE_CERT_USE_ENC, &s_crip_enc_pub,
                     s_crip_enc_fpr) ||
        edge_fx_cert(s_dir, "71.tas.macon", "enc.crt", EGIDE_CERT_USE_ENC, &s_tas_enc_pub,
                     s_tas_enc_fpr) ||
        edge_fx_key(s_dir, "71.police.macon", "sign.key", EGIDE_CERT_USE_SIGN, &s_police_sign) ||
        edge_fx_cert(s_dir, "71.police.macon", "sign.crt", EGIDE_CERT_USE_SIGN, NULL,
                     s_police_fpr) ||
        edge_fx_key(s_dir, "71.tas.macon", "sign.key", EGIDE_CERT_USE_SIGN, &s_tas_sign) ||
        edge_fx_cert(s_dir, "71.tas.macon", "sign.crt", EGIDE_CERT_USE_SIGN, NULL, s_tas_sign_fpr))
        return -1;
    char p[512], root[512], chain[512], crl[512];
    snprintf(p, sizeof p, "%s/pki/authority/authority.crt", s_dir);
    snprintf(root, sizeof root, "%s/pki/ca/root.crt", s_dir);
    snprintf(chain, sizeof chain, "%s/pki/ca/chain.pem", s_dir);
    snprintf(crl, sizeof crl, "%s/pki/ca/crl.pem", s_dir);
    if (egide_cert_load(p, &E.anchor) || egide_trust_new(root, chain, crl, 0, &E.trust))
        return -1;
    snprintf(p, sizeof p, "%s/pki/directory.bin", s_dir);
    uint8_t *d = NULL;
    size_t dl = 0;
    if (egide_file_read(p, EGIDE_MAX_DIRECTORY, &d, &dl))
        return -1;
    /* The CRIP keeps its legal obligations: they are written in the
     * referral's transaction, so the faults below meet them too. */
    char perr[512];
    snprintf(p, sizeof p, "%s/deploy/profiles/fr-casf.ini", getenv("EGIDE_SOURCE_DIR"));
    if (egide_deadline_profile_load(p, &E.profile, perr, sizeof perr))
        return -1;
    snprintf(p, sizeof p, "%s/crip.db", s_dir);
    egide_rc rc = edge_store_sqlite_ops.open(p, &E.store);
    if (!rc)
        rc = edge_adopt_directory(&E, d, dl, true);
    free(d);
    return rc || !E.peers ? -1 : 0;
}

static void s_teardown(void)
{
    egide_deadline_profile_destroy(&E.profile);
    edge_store_close(&E.store);
    egide_peers_destroy(&E.peers);
    egide_directory_destroy(&E.dir);
    egide_trust_destroy(&E.trust);
    X509_free(E.anchor);
    EVP_PKEY_free(E.sign_key);
    EVP_PKEY_free(E.enc_key);
    EVP_PKEY_free(s_police_sign);
    EVP_PKEY_free(s_crip_sign_pub);
    EVP_PKEY_free(s_crip_enc_pub);
    EVP_PKEY_free(s_tas_enc_pub);
    EVP_PKEY_free(s_tas_sign);
    pthread_mutex_destroy(&E.dir_lock);
    pthread_mutex_destroy(&E.api_lock);
    if (s_dir[0]) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
        edge_fx_sh(cmd);
    }
}

/* Seal body (content type ctype, message type type) from 71.police.macon
 * for 71.crip or 71.tas.macon, created at created_ms (0 = now). */
/* The sender id s_seal writes (always signed with the police's key). */
static const char *s_seal_sender = "71.police.macon";

static uint8_t *s_seal(bool to_crip, const char *type, const char *ctype, const uint8_t *body,
                       size_t body_len, uint64_t seq, int64_t created_ms, size_t *len,
                       uint8_t msg_id[16])
{
    egide_seal_recipient_t r = {to_crip ? "71.crip" : "71.tas.macon",
                                to_crip ? s_crip_enc_pub : s_tas_enc_pub,
                                to_crip ? s_crip_enc_fpr : s_tas_enc_fpr};
    egide_seal_params_t p = {
        .sender_id = s_seal_sender,
        .sign_key = s_police_sign,
        .sign_cert_fpr = s_police_fpr,
        .recipients = &r,
        .n_recipients = 1,
        .message_type = type,
        .urgency = EGIDE__V1__URGENCY__URGENCY_URGENT,
        .sender_seq = seq,
        .created_ms = created_ms,
        .content_type = ctype,
        .payload = body,
        .payload_len = body_len,
    };
    uint8_t *out = NULL;
    egide_rc rc = egide_envelope_seal(&p, &out, len, msg_id);
    return rc ? NULL : out;
}

/* A valid structured ip.transmission received at received_ms (the
 * sender's clock), carrying an attachment of attach_len incompressible
 * bytes so that it really takes that much on disk.  *pb the caller's. */
static int s_ip_payload(size_t attach_len, int64_t received_ms, uint8_t **pb, size_t *pb_len)
{
    uint8_t *att = malloc(attach_len ? attach_len : 1);
    if (!att)
        return -1;
    for (size_t i = 0; i < attach_len; i++)
        att[i] = (uint8_t)((i * 2654435761u) >> 13);
    uint8_t h[32];
    char hex[65], when[40];
    egide_sha256(att, attach_len, h);
    egide_hex_encode(h, 32, hex);
    char *b64 = egide_base64_encode(att, attach_len);
    free(att);
    if (!b64 || egide_datetime_format(received_ms, when, sizeof when)) {
        free(b64);
        return -1;
    }
    size_t cap = strlen(b64) + 2048;
    char *json = malloc(cap);
    if (!json) {
        free(b64);
        return -1;
    }
    snprintf(json, cap,
             "{\"received_at\":\"%s\",\"sender\":{\"type\":\"police\"},"
             "\"children\":[{\"first_names\":[\"Zo\u00e9\"],\"sex\":\"female\","
             "\"birth_date\":\"2016-05-14\",\"commune\":\"71270\"}],"
             "\"danger\":{\"categories\":[\"severe_neglect\"]},\"urgency\":\"urgent\","
             "\"attachments\":[{\"name\":\"a.bin\",\"media_type\":\"application/"
             "octet-stream\",\"size_bytes\":%zu,\"sha256\":\"%s\",\"content\":\"%s\"}]}",
             when, attach_len, hex, b64);
    free(b64);
    char *errors = NULL;
    egide_payload_facts_t facts;
    egide_rc rc = egide_payload_from_json("ip.transmission", json, strlen(json), egide_now_ms(), pb,
                                          pb_len, &facts, &errors);
    if (rc)
        fprintf(stderr, "payload: %s\n", errors ? errors : egide_strerror(rc));
    free(errors);
    free(json);
    return rc ? -1 : 0;
}

/* A referral from 71.police.macon, sealed for `to` (crip or tas): a valid
 * ip.transmission of about body_len bytes, received and created now by the
 * sender's clock. */
static uint8_t *s_referral(bool to_crip, size_t body_len, uint64_t seq, size_t *len,
                           uint8_t msg_id[16])
{
    uint8_t *pb = NULL;
    size_t pl = 0;
    if (s_ip_payload(body_len, egide_now_ms(), &pb, &pl))
        return NULL;
    uint8_t *out = s_seal(to_crip, "ip.transmission", egide_payload_content_type("ip.transmission"),
                          pb, pl, seq, 0, len, msg_id);
    free(pb);
    return out;
}

/* The same envelope with one header field changed and signed again by its
 * sender: same msg_id, valid, other bytes. */
static uint8_t *s_resigned(const uint8_t *env, size_t len, size_t *out_len)
{
    Egide__V1__SignedEnvelope *se = NULL;
    Egide__V1__EnvelopeHeader *h = NULL;
    uint8_t *hb = NULL, *out = NULL;
    size_t hl = 0;
    uint8_t sig[64];
    if (egide_wire_unpack(EGIDE_WIRE_SIGNED_ENVELOPE, env, len, (void **)&se, NULL) ||
        egide_wire_unpack(EGIDE_WIRE_ENVELOPE_HEADER, se->header.data, se->header.len, (void **)&h,
                          NULL))
        goto done;
    h->created_ms += 1;
    if (egide_wire_pack(EGIDE_WIRE_ENVELOPE_HEADER, h, &hb, &hl) ||
        egide_sign_labeled(s_police_sign, EGIDE_LABEL_ENVELOPE, hb, hl, sig))
        goto done;
    ProtobufCBinaryData oh = se->header, os = se->signature;
    se->header = (ProtobufCBinaryData){hl, hb};
    se->signature = (ProtobufCBinaryData){64, sig};
    if (egide_wire_pack(EGIDE_WIRE_SIGNED_ENVELOPE, se, &out, out_len))
        out = NULL;
    se->header = oh;
    se->signature = os;
done:
    free(hb);
    if (h)
        egide_wire_free(EGIDE_WIRE_ENVELOPE_HEADER, h);
    if (se)
        egide_wire_free(EGIDE_WIRE_SIGNED_ENVELOPE, se);
    return out;
}

/* The receipt inside a Receipt frame, verified with 71.crip's key. */
static int s_receipt_kind(const uint8_t *frame, size_t len, const uint8_t msg_id[16], int *reason)
{
    Egide__V1__Frame *f = NULL;
    int kind = -1;
    if (egide_wire_unpack(EGIDE_WIRE_FRAME, frame, len, (void **)&f, NULL))
        return -1;
    egide_receipt_t *r = NULL;
    if (f->body_case == EGIDE__V1__FRAME__BODY_RECEIPT &&
        egide_receipt_parse(f->receipt->receipt.data, f->receipt->receipt.len, &r) == EGIDE_OK &&
        egide_receipt_verify(r, s_crip_sign_pub) == EGIDE_OK) {
        const Egide__V1__ReceiptBody *b = egide_receipt_body(r);
        if (b->msg_id.len == 16 && memcmp(b->msg_id.data, msg_id, 16) == 0 &&
            strcmp(b->issuer_id, "71.crip") == 0) {
            kind = b->kind;
            if (reason)
                *reason = b->reason;
        }
    }
    egide_receipt_destroy(&r);
    egide_wire_free(EGIDE_WIRE_FRAME, f);
    return kind;
}

static size_t s_rows(const uint8_t msg_id[16])
{
    size_t n = 99;
    if (edge_store_inbox_count(E.store, msg_id, &n) != EGIDE_OK)
        return 99;
    return n;
}

static bool s_rejected_held(const uint8_t *env, size_t len)
{
    egide_envelope_t *p = NULL;
    if (egide_envelope_parse(env, len, &p))
        return false;
    uint8_t sha[32];
    egide_envelope_hash(p, sha);
    uint8_t *r = NULL;
    size_t rl = 0;
    egide_rc rc =
        edge_store_rejected_find(E.store, egide_envelope_header(p)->msg_id.data, sha, &r, &rl);
    free(r);
    egide_envelope_destroy(&p);
    return rc == EGIDE_OK;
}

/* The obligations held for the case of message msg_id (0 when it has no
 * case here; 99 on a store error). */
static size_t s_obligations(const uint8_t msg_id[16])
{
    int64_t cid = 0;
    egide_rc rc = edge_store_case_of(E.store, msg_id, &cid);
    if (rc == EGIDE_ERR_NOTFOUND)
        return 0;
    edge_oblig_filter_t f;
    memset(&f, 0, sizeof f);
    f.role = -1;
    f.has_case = true;
    f.case_id = cid;
    f.limit = 50;
    edge_obligation_t *rows = NULL;
    size_t n = 99;
    edge_oblig_cursor_t next;
    if (rc || edge_store_obligation_list(E.store, &f, &rows, &n, &next))
        n = 99;
    free(rows);
    return n;
}

/* ------------------------------------------------------------ tests */

/* The heart of it: the fault, then the same bytes twice. */
static void s_fault_then_deliver(int fault, int budget, size_t body_len, bool insert_fails)
{
    uint8_t id[16];
    size_t len = 0;
    static uint64_t seq = 100;
    uint8_t *env = s_referral(true, body_len, ++seq, &len, id);
    REQUIRE(env);
    uint64_t rejected_before = atomic_load(&E.m.received_rejected);
    int warnings_before = s_warnings;

    s_fault = fault;
    s_fault_left = budget;
    s_faults_hit = 0;
    uint8_t *frame = NULL;
    size_t fl = 0;
    egide_rc rc = edge_inbox_step(&E, env, len, &frame, &fl);
    s_fault = 0;
    s_fault_left = -1;
    CHECK(rc == EGIDE_ERR_IO || rc == EGIDE_ERR_DB);               /* transient, reported */
    CHECK(frame == NULL && fl == 0);                               /* nothing to send */
    CHECK(s_faults_hit > 0);                                       /* the fault was met */
    CHECK(atomic_load(&E.m.received_rejected) == rejected_before); /* no REJECTED signed */
    CHECK(!s_rejected_held(env, len));                             /* nor remembered */
    CHECK(s_rows(id) == 0);
    CHECK(s_obligations(id) == 0); /* no case, no obligation left behind */
    if (insert_fails)
        CHECK(s_warnings > warnings_before); /* the INSERT itself failed */

    /* The broker delivers the same bytes again. */
    rc = edge_inbox_step(&E, env, len, &frame, &fl);
    CHECK_RC(rc, EGIDE_OK);
    REQUIRE(frame);
    CHECK(s_receipt_kind(frame, fl, id, NULL) == EGIDE__V1__RECEIPT_KIND__RECEIPT_DELIVERED);
    CHECK(s_rows(id) == 1);
    CHECK(s_obligations(id) == 2); /* the CRIP's qualification and evaluation */
    /* And once more: the same receipt, still one row. */
    uint8_t *again = NULL;
    size_t al = 0;
    CHECK_RC(edge_inbox_step(&E, env, len, &again, &al), EGIDE_OK);
    CHECK(again && al == fl && memcmp(again, frame, fl) == 0);
    CHECK(s_rows(id) == 1);
    CHECK(s_obligations(id) == 2); /* a duplicate opens nothing more */
    CHECK(!s_rejected_held(env, len));
    free(again);
    free(frame);
    free(env);
}

static void test_full_disk_at_commit(void)
{
    s_fault_then_deliver(SQLITE_FULL, -1, 600, false);
}

static void test_io_error_at_commit(void)
{
    s_fault_then_deliver(SQLITE_IOERR_WRITE, -1, 600, false);
}

/* 6 MB: more than the page cache, so the INSERT spills to disk and fails. */
static void test_full_disk_at_insert(void)
{
    s_fault_then_deliver(SQLITE_FULL, -1, 6u * 1024 * 1024, true);
}

/* The bug this guards against: ONE failed write during the INSERT, the
 * disk fine again right after.  A refusal written after it would commit
 * and be sent; what must happen is nothing, then DELIVERED on redelivery. */
static void test_one_failed_write_at_insert(void)
{
    s_fault_then_deliver(SQLITE_FULL, 1, 6u * 1024 * 1024, true);
}

/* A genuine refusal met by the fault is not sent either; later it is, the
 * same each time. */
static void test_refusal_under_fault(void)
{
    uint8_t id[16];
    size_t len = 0;
    uint8_t *env = s_referral(false, 100, 200, &len, id); /* for 71.tas.macon only */
    REQUIRE(env);
    s_fault = SQLITE_IOERR_WRITE;
    uint8_t *frame = NULL;
    size_t fl = 0;
    egide_rc rc = edge_inbox_step(&E, env, len, &frame, &fl);
    s_fault = 0;
    CHECK(rc != EGIDE_OK && frame == NULL);
    CHECK(!s_rejected_held(env, len));
    CHECK_RC(edge_inbox_step(&E, env, len, &frame, &fl), EGIDE_OK);
    REQUIRE(frame);
    int reason = 0;
    CHECK(s_receipt_kind(frame, fl, id, &reason) == EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED);
    CHECK(reason == EGIDE__V1__REASON_CODE__REASON_NOT_RECIPIENT);
    CHECK(s_rejected_held(env, len));
    uint8_t *again = NULL;
    size_t al = 0;
    CHECK_RC(edge_inbox_step(&E, env, len, &again, &al), EGIDE_OK);
    CHECK(again && al == fl && memcmp(again, frame, fl) == 0);
    CHECK(s_rows(id) == 0);
    free(again);
    free(frame);
    free(env);
}

/* Same msg_id, other (validly signed) bytes: the one case that is a
 * DUPLICATE_CONFLICT; the first stays. */
static void test_conflict(void)
{
    uint8_t id[16];
    size_t len = 0, l2 = 0;
    uint8_t *env = s_referral(true, 100, 300, &len, id);
    REQUIRE(env);
    uint8_t *other = s_resigned(env, len, &l2);
    REQUIRE(other);
    CHECK(l2 != len || memcmp(other, env, len) != 0);
    uint8_t *frame = NULL;
    size_t fl = 0;
    CHECK_RC(edge_inbox_step(&E, env, len, &frame, &fl), EGIDE_OK);
    CHECK(frame &&
          s_receipt_kind(frame, fl, id, NULL) == EGIDE__V1__RECEIPT_KIND__RECEIPT_DELIVERED);
    free(frame);
    int reason = 0;
    CHECK_RC(edge_inbox_step(&E, other, l2, &frame, &fl), EGIDE_OK);
    CHECK(frame &&
          s_receipt_kind(frame, fl, id, &reason) == EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED);
    CHECK(reason == EGIDE__V1__REASON_CODE__REASON_DUPLICATE_CONFLICT);
    CHECK(s_rows(id) == 1);
    free(frame);
    /* Under a fault even the conflict is not answered. */
    uint8_t *third = s_resigned(other, l2, &len);
    REQUIRE(third);
    s_fault = SQLITE_FULL;
    egide_rc rc = edge_inbox_step(&E, third, len, &frame, &fl);
    s_fault = 0;
    CHECK(rc != EGIDE_OK && frame == NULL);
    CHECK(!s_rejected_held(third, len));
    free(third);
    free(other);
    free(env);
}

/* ---- the recipient's own clock ---- */

static int64_t s_clock_offset; /* added to the real clock by s_clock */
static int64_t s_clock(void)
{
    return egide_now_ms() + s_clock_offset;
}

/* GET path through the API's routes; the body (JSON or text) is the
 * caller's, NULL on a status other than 200. */
static char *s_api_get(const char *path)
{
    egide_http_req_t req = {"GET", path, "", (const uint8_t *)"", 0, "token", NULL, NULL, NULL, ""};
    egide_http_resp_t resp = {.status = 500, .content_type = "application/json"};
    E.api_store = E.store;
    edge_api_handle(&E, &req, &resp);
    E.api_store = NULL;
    if (resp.status != 200) {
        free(resp.body);
        return NULL;
    }
    char *out = malloc(resp.body_len + 1);
    if (out) {
        memcpy(out, resp.body, resp.body_len);
        out[resp.body_len] = '\0';
    }
    free(resp.body);
    return out;
}

/* The metric line "name{labels} value" (or "name value"): its value, -1
 * when absent. */
static long long s_metric(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return atoll(p + n + 1);
    return -1;
}

/* Issue 13 item 4: a recipient whose clock is 10 minutes slow.  The
 * envelope's created time and the payload's received_at (both now by the
 * sender's clock) look 10 minutes in the future to it.  It must verify,
 * store and sign DELIVERED, and say in health and metrics that its clock
 * disagrees, with whom and by how much. */
static void test_slow_clock_delivers(void)
{
    char *h = s_api_get("/v1/health");
    REQUIRE(h);
    CHECK(strstr(h, "\"clock\": {\"status\": \"ok\"") || strstr(h, "\"clock\":{\"status\":\"ok\""));
    free(h);
    E.now_ms = s_clock;
    s_clock_offset = -10 * 60 * 1000;
    uint8_t id[16];
    size_t len = 0;
    uint8_t *env = s_referral(true, 100, 400, &len, id);
    REQUIRE(env);
    uint8_t *frame = NULL;
    size_t fl = 0;
    int reason = -1;
    CHECK_RC(edge_inbox_step(&E, env, len, &frame, &fl), EGIDE_OK);
    REQUIRE(frame);
    CHECK(s_receipt_kind(frame, fl, id, &reason) == EGIDE__V1__RECEIPT_KIND__RECEIPT_DELIVERED);
    CHECK(reason == 0);
    CHECK(s_rows(id) == 1);
    CHECK(!s_rejected_held(env, len));
    free(frame);

    json_t *j = NULL;
    h = s_api_get("/v1/health");
    REQUIRE(h);
    j = json_loads(h, 0, NULL);
    free(h);
    REQUIRE(j);
    json_t *c = json_object_get(j, "clock");
    CHECK(c && strcmp(json_string_value(json_object_get(c, "status")), "skewed") == 0);
    json_int_t off = json_integer_value(json_object_get(c, "offset_ms"));
    CHECK(off >= 9 * 60 * 1000 && off <= 11 * 60 * 1000);
    CHECK(json_string_value(json_object_get(c, "sender")) &&
          strcmp(json_string_value(json_object_get(c, "sender")), "71.police.macon") == 0);
    CHECK(strcmp(json_string_value(json_object_get(j, "status")), "degraded") == 0);
    json_decref(j);
    char *m = s_api_get("/metrics");
    REQUIRE(m);
    long long g = s_metric(m, "egide_edge_clock_offset_seconds"); /* whole seconds */
    CHECK(g >= 9 * 60 && g <= 11 * 60);
    CHECK(s_metric(m, "egide_edge_clock_disagreements_total{kind=\"created_ahead\"}") >= 1);
    free(m);

    /* Its clock fixed, then fast by 31 days: the envelope now looks
     * expired to it, yet the broker delivered it; a new referral is
     * still delivered, never refused for good. */
    s_clock_offset = 31LL * 86400000; /* past the 30-day default expiry */
    uint8_t id2[16];
    uint8_t *env2 = s_referral(true, 100, 401, &len, id2);
    REQUIRE(env2);
    CHECK_RC(edge_inbox_step(&E, env2, len, &frame, &fl), EGIDE_OK);
    REQUIRE(frame);
    CHECK(s_receipt_kind(frame, fl, id2, NULL) == EGIDE__V1__RECEIPT_KIND__RECEIPT_DELIVERED);
    CHECK(s_rows(id2) == 1);
    free(frame);
    m = s_api_get("/metrics");
    REQUIRE(m);
    CHECK(s_metric(m, "egide_edge_clock_disagreements_total{kind=\"expired_by_own_clock\"}") == 1);
    free(m);
    E.now_ms = NULL;
    s_clock_offset = 0;
    free(env2);
    free(env);
}

/* ---- a catalogue type must carry its structured payload ---- */

/* Issue 11 (Deliver 4): snated.transmission carrying opaque bytes, an
 * ip.transmission carrying another type's payload or text: each is refused
 * for good with CONTENT_TYPE_MISMATCH, before any DELIVERED receipt, row or
 * legal clock, and the refusal is the same on redelivery. */
/* The peer table as an edge whose clock is clock_ms builds it when it adopts
 * the directory (edge_loop.c). */
static void s_rebuild_peers(int64_t clock_ms)
{
    egide_peers_t *p = NULL;
    REQUIRE(egide_peers_build(E.dir, E.trust, clock_ms, &p) == EGIDE_OK);
    pthread_mutex_lock(&E.dir_lock);
    egide_peers_destroy(&E.peers);
    E.peers = p;
    pthread_mutex_unlock(&E.dir_lock);
}

/* The sender's encryption certificate became valid "now" (issued at run
 * time) and this node's clock is 10 minutes behind: by its clock the
 * certificate is not yet valid when it adopts the directory.  That is a
 * clock disagreement, not a refusal: DELIVERED, nothing remembered as
 * REJECTED, the disagreement in /v1/health and /metrics.  A revoked sender
 * is still refused. */
static void test_cert_not_yet_valid_by_clock(void)
{
    E.now_ms = s_clock;
    s_clock_offset = -10 * 60 * 1000;
    s_rebuild_peers(edge_now_ms(&E));
    pthread_mutex_lock(&E.dir_lock);
    const egide_peer_t *pp = egide_peers_get(E.peers, "71.police.macon");
    egide_rc st = pp ? pp->status : EGIDE_ERR_NOTFOUND;
    bool in_window =
        pp && pp->not_before_ms > edge_now_ms(&E) && pp->not_after_ms > pp->not_before_ms;
    pthread_mutex_unlock(&E.dir_lock);
    CHECK_RC(st, EGIDE_ERR_EXPIRED); /* the premise: not yet valid by our clock */
    CHECK(in_window);
    uint64_t ahead0 = atomic_load(&E.m.clock_ahead);
    uint8_t id[16];
    size_t len = 0;
    uint8_t *env = s_referral(true, 100, 500, &len, id);
    REQUIRE(env);
    uint8_t *frame = NULL;
    size_t fl = 0;
    int reason = -1;
    CHECK_RC(edge_inbox_step(&E, env, len, &frame, &fl), EGIDE_OK);
    REQUIRE(frame);
    CHECK(s_receipt_kind(frame, fl, id, &reason) == EGIDE__V1__RECEIPT_KIND__RECEIPT_DELIVERED);
    CHECK(reason == 0);
    CHECK(s_rows(id) == 1);
    CHECK(!s_rejected_held(env, len));
    CHECK(atomic_load(&E.m.clock_ahead) == ahead0 + 1); /* one envelope, one disagreement */
    free(frame);
    free(env);
    char *h = s_api_get("/v1/health");
    REQUIRE(h);
    json_t *j = json_loads(h, 0, NULL);
    free(h);
    REQUIRE(j);
    json_t *c = json_object_get(j, "clock");
    CHECK(c && strcmp(json_string_value(json_object_get(c, "status")), "skewed") == 0);
    CHECK(json_integer_value(json_object_get(c, "offset_ms")) >= 9 * 60 * 1000);
    CHECK(strcmp(json_string_value(json_object_get(j, "status")), "degraded") == 0);
    json_decref(j);
    char *m = s_api_get("/metrics");
    REQUIRE(m);
    CHECK(s_metric(m, "egide_edge_clock_offset_seconds") >= 9 * 60);
    CHECK(s_metric(m, "egide_edge_clock_disagreements_total{kind=\"created_ahead\"}") >= 2);
    free(m);

    /* Its clock fixed, the same table (no new directory): delivered, and
     * judged at our clock now without a new disagreement. */
    s_clock_offset = 0;
    ahead0 = atomic_load(&E.m.clock_ahead);
    env = s_referral(true, 100, 501, &len, id);
    REQUIRE(env);
    CHECK_RC(edge_inbox_step(&E, env, len, &frame, &fl), EGIDE_OK);
    REQUIRE(frame);
    CHECK(s_receipt_kind(frame, fl, id, NULL) == EGIDE__V1__RECEIPT_KIND__RECEIPT_DELIVERED);
    CHECK(!s_rejected_held(env, len));
    CHECK(atomic_load(&E.m.clock_ahead) == ahead0);
    free(frame);
    free(env);

    /* Revoked, with the clock behind again: still refused for good. */
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "bash '%s/certs/egide-pki.sh' --revoke '%s/pki' 71.police.macon >/dev/null 2>&1",
             getenv("EGIDE_SOURCE_DIR"), s_dir);
    REQUIRE(edge_fx_sh(cmd) == 0);
    char root[512], chain[512], crl[512];
    snprintf(root, sizeof root, "%s/pki/ca/root.crt", s_dir);
    snprintf(chain, sizeof chain, "%s/pki/ca/chain.pem", s_dir);
    snprintf(crl, sizeof crl, "%s/pki/ca/crl.pem", s_dir);
    egide_trust_t *t = NULL, *old = E.trust;
    REQUIRE(egide_trust_new(root, chain, crl, 0, &t) == EGIDE_OK);
    E.trust = t;
    s_clock_offset = -10 * 60 * 1000;
    s_rebuild_peers(edge_now_ms(&E));
    env = s_referral(true, 100, 502, &len, id);
    REQUIRE(env);
    reason = -1;
    CHECK_RC(edge_inbox_step(&E, env, len, &frame, &fl), EGIDE_OK);
    REQUIRE(frame);
    CHECK(s_receipt_kind(frame, fl, id, &reason) == EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED);
    CHECK(reason == EGIDE__V1__REASON_CODE__REASON_CERT_REVOKED);
    CHECK(s_rows(id) == 0);
    CHECK(s_rejected_held(env, len));
    free(frame);
    free(env);
    /* Put back the trust and table of the other tests. */
    E.trust = old;
    egide_trust_destroy(&t);
    s_clock_offset = 0;
    E.now_ms = NULL;
    s_rebuild_peers(egide_now_ms());
}

static void test_content_type_mismatch(void)
{
    uint8_t *pb = NULL;
    size_t pl = 0;
    REQUIRE(s_ip_payload(10, egide_now_ms(), &pb, &pl) == 0);
    static const uint8_t opaque[] = "%PDF-1.4 x";
    const struct {
        const char *type, *ctype;
        const uint8_t *body;
        size_t len;
    } c[] = {
        {"snated.transmission", "application/octet-stream", opaque, sizeof opaque - 1},
        {"ip.transmission", "text/plain", opaque, sizeof opaque - 1},
        {"ip.transmission", egide_payload_content_type("snated.transmission"), pb, pl},
        {"snated.transmission", egide_payload_content_type("ip.transmission"), pb, pl},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        uint8_t id[16];
        size_t len = 0;
        uint8_t *env =
            s_seal(true, c[i].type, c[i].ctype, c[i].body, c[i].len, 500 + i, 0, &len, id);
        REQUIRE(env);
        uint64_t received = atomic_load(&E.m.received);
        uint8_t *frame = NULL, *again = NULL;
        size_t fl = 0, al = 0;
        int reason = 0;
        CHECK_RC(edge_inbox_step(&E, env, len, &frame, &fl), EGIDE_OK);
        REQUIRE(frame);
        CHECK(s_receipt_kind(frame, fl, id, &reason) == EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED);
        CHECK(reason == EGIDE__V1__REASON_CODE__REASON_CONTENT_TYPE_MISMATCH);
        CHECK(s_rows(id) == 0);
        CHECK(s_rejected_held(env, len));
        CHECK(atomic_load(&E.m.received) == received);
        CHECK_RC(edge_inbox_step(&E, env, len, &again, &al), EGIDE_OK);
        CHECK(again && al == fl && memcmp(again, frame, fl) == 0);
        free(again);
        free(frame);
        free(env);
    }
    CHECK_STREQ(egide_wire_reason_name(EGIDE__V1__REASON_CODE__REASON_CONTENT_TYPE_MISMATCH),
                "REASON_CONTENT_TYPE_MISMATCH");
    free(pb);
}

/* ---- the sending side: a submission and a receipt meet the fault ---- */

/* Submitting while the disk is full fails cleanly: nothing is queued. */
/* A sender this node's directory does not know, whose message the broker
 * admitted (its directory is newer): nothing signed, nothing stored, a
 * Hello asked for, for the grace after the first attempt; then a REJECTED
 * UNKNOWN_SENDER.  With no grace, refused at once. */
static void test_unknown_sender_waits(void)
{
    E.now_ms = s_clock;
    s_clock_offset = 0;
    E.unknown_sender_grace_ms = 60000;
    s_seal_sender = "71.police.nouveau"; /* not in the directory */
    uint8_t id[16];
    size_t len = 0;
    uint8_t *env = s_referral(true, 100, 700, &len, id);
    s_seal_sender = "71.police.macon";
    REQUIRE(env);
    uint64_t rejected_before = atomic_load(&E.m.received_rejected);
    uint64_t deferred_before = atomic_load(&E.m.sender_unknown_deferred);
    for (int i = 0; i < 2; i++) {
        E.hello_wanted = false;
        s_clock_offset = i * 30000; /* again 30 s later: still within the grace */
        uint8_t *frame = NULL;
        size_t fl = 0;
        CHECK_RC(edge_inbox_step(&E, env, len, &frame, &fl), EGIDE_OK);
        CHECK(frame == NULL && fl == 0); /* no receipt of any kind */
        CHECK(s_rows(id) == 0);
        CHECK(!s_rejected_held(env, len));
        CHECK(E.hello_wanted); /* a Hello brings the broker's newer directory */
        CHECK(atomic_load(&E.m.sender_unknown_deferred) == deferred_before + (uint64_t)i + 1);
        CHECK(atomic_load(&E.m.received_rejected) == rejected_before);
        free(frame);
    }
    char *m = s_api_get("/metrics");
    CHECK(m && strstr(m, "event=\"sender_unknown_deferred\"} ") != NULL);
    free(m);
    /* past the grace since the FIRST attempt: refused, signed, held */
    s_clock_offset = 61000;
    uint8_t *frame = NULL;
    size_t fl = 0;
    CHECK_RC(edge_inbox_step(&E, env, len, &frame, &fl), EGIDE_OK);
    REQUIRE(frame);
    int reason = -1;
    CHECK(s_receipt_kind(frame, fl, id, &reason) == EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED);
    CHECK(reason == EGIDE__V1__REASON_CODE__REASON_UNKNOWN_SENDER);
    CHECK(s_rejected_held(env, len));
    CHECK(s_rows(id) == 0);
    free(frame);
    free(env);
    /* no grace: refused on the first attempt, as before */
    E.unknown_sender_grace_ms = 0;
    s_clock_offset = 0;
    s_seal_sender = "71.police.nouveau";
    env = s_referral(true, 100, 701, &len, id);
    s_seal_sender = "71.police.macon";
    REQUIRE(env);
    frame = NULL;
    CHECK_RC(edge_inbox_step(&E, env, len, &frame, &fl), EGIDE_OK);
    CHECK(frame &&
          s_receipt_kind(frame, fl, id, NULL) == EGIDE__V1__RECEIPT_KIND__RECEIPT_REJECTED);
    free(frame);
    free(env);
    E.now_ms = NULL;
}

static void test_submit_under_fault(void)
{
    const char *to[] = {"71.tas.macon"};
    static const uint8_t body[] = "suivi";
    uint8_t id[16];
    edge_outbox_row_t *rows = NULL;
    size_t before = 0, after = 0;
    REQUIRE(edge_store_outbox_list(E.store, -1, 100, &rows, &before) == EGIDE_OK);
    free(rows);
    s_fault = SQLITE_FULL;
    egide_rc rc =
        edge_submit(&E, E.store, "ip.transmission", to, 1, EGIDE__V1__URGENCY__URGENCY_NORMAL, NULL,
                    body, sizeof body - 1, NULL, id);
    s_fault = 0;
    CHECK(rc == EGIDE_ERR_IO || rc == EGIDE_ERR_DB || rc == EGIDE_ERR_STATE);
    REQUIRE(edge_store_outbox_list(E.store, -1, 100, &rows, &after) == EGIDE_OK);
    free(rows);
    CHECK(after == before);
    CHECK_RC(edge_submit(&E, E.store, "ip.transmission", to, 1, EGIDE__V1__URGENCY__URGENCY_NORMAL,
                         NULL, body, sizeof body - 1, NULL, id),
             EGIDE_OK);
    REQUIRE(edge_store_outbox_list(E.store, -1, 100, &rows, &after) == EGIDE_OK);
    free(rows);
    CHECK(after == before + 1);
}

/* One receipt step in its own transaction, as the loop runs it. */
static egide_rc s_receipt_step(const uint8_t *r, size_t rl, uint64_t relay, size_t *acks)
{
    edge_out_t *o = calloc(1, sizeof *o);
    if (!o)
        return EGIDE_ERR_NOMEM;
    egide_rc rc = edge_store_begin(E.store);
    if (!rc)
        rc = edge_outbox_receipt(&E, r, rl, relay, o);
    if (!rc)
        rc = edge_store_commit(E.store);
    if (rc)
        edge_store_rollback(E.store);
    *acks = rc ? 0 : o->n_acks; /* what the loop would send after the commit */
    edge_out_flush(&E, o, false);
    free(o);
    return rc;
}

/* The recipient's DELIVERED receipt arrives while the store fails: it is
 * not acknowledged (the broker relays it again) and changes nothing; then
 * it is stored, applied and acknowledged once the fault clears. */
static void test_receipt_under_fault(void)
{
    const char *to[] = {"71.tas.macon"};
    static const uint8_t body[] = "suivi";
    uint8_t id[16];
    REQUIRE(edge_submit(&E, E.store, "ip.transmission", to, 1, EGIDE__V1__URGENCY__URGENCY_NORMAL,
                        NULL, body, sizeof body - 1, NULL, id) == EGIDE_OK);
    edge_outbox_row_t m;
    REQUIRE(edge_store_outbox_get(E.store, id, &m) == EGIDE_OK);
    egide_receipt_params_t p = {
        .kind = EGIDE__V1__RECEIPT_KIND__RECEIPT_DELIVERED,
        .msg_id = id,
        .envelope_sha256 = m.sha256,
        .issuer_id = "71.tas.macon",
        .sender_id = "71.crip",
        .recipient_id = "71.tas.macon",
        .issuer_cert_fpr = s_tas_sign_fpr,
    };
    uint8_t *r = NULL;
    size_t rl = 0;
    REQUIRE(egide_receipt_sign(&p, s_tas_sign, &r, &rl) == EGIDE_OK);
    edge_rcpt_row_t row[EGIDE_MAX_RECIPIENTS];
    size_t n = 0, pending = 0, acks = 9;
    edge_receipt_row_t *held = NULL;
    size_t nheld = 9;

    s_fault = SQLITE_IOERR_WRITE;
    egide_rc rc = s_receipt_step(r, rl, 41, &acks);
    s_fault = 0;
    CHECK(rc != EGIDE_OK);
    CHECK(acks == 0);
    CHECK_RC(edge_store_rcpt_list(E.store, id, row, EGIDE_MAX_RECIPIENTS, &n, &pending), EGIDE_OK);
    CHECK(n == 1 && row[0].state == EDGE_RCPT_PENDING);
    CHECK_RC(edge_store_receipt_list(E.store, id, &held, &nheld), EGIDE_OK);
    CHECK(nheld == 0);
    free(held);

    CHECK_RC(s_receipt_step(r, rl, 41, &acks), EGIDE_OK);
    CHECK(acks == 1);
    CHECK_RC(edge_store_rcpt_list(E.store, id, row, EGIDE_MAX_RECIPIENTS, &n, &pending), EGIDE_OK);
    CHECK(n == 1 && row[0].state == EDGE_RCPT_DELIVERED && pending == 0);
    /* Relayed again: acknowledged again, kept once, state unchanged. */
    CHECK_RC(s_receipt_step(r, rl, 42, &acks), EGIDE_OK);
    CHECK(acks == 1);
    CHECK_RC(edge_store_receipt_list(E.store, id, &held, &nheld), EGIDE_OK);
    CHECK(nheld == 1);
    free(held);
    /* A receipt that does not verify is acknowledged (it cannot get better)
     * but changes nothing. */
    r[rl - 1] ^= 1;
    CHECK_RC(s_receipt_step(r, rl, 43, &acks), EGIDE_OK);
    CHECK(acks == 1);
    CHECK_RC(edge_store_receipt_list(E.store, id, &held, &nheld), EGIDE_OK);
    CHECK(nheld == 1);
    free(held);
    free(r);
}

/* The queue of frames held until the commit: bad arguments, full, take. */
static void test_out_queue(void)
{
    uint8_t id[16] = {1}, sha[32] = {2};
    egide_receipt_params_t p = {
        .kind = EGIDE__V1__RECEIPT_KIND__RECEIPT_DELIVERED,
        .msg_id = id,
        .envelope_sha256 = sha,
        .issuer_id = "71.crip",
        .sender_id = "71.police.macon",
        .recipient_id = "71.crip",
        .issuer_cert_fpr = E.sign_fpr,
    };
    uint8_t *r = NULL;
    size_t rl = 0;
    REQUIRE(egide_receipt_sign(&p, E.sign_key, &r, &rl) == EGIDE_OK);
    edge_out_t *o = calloc(1, sizeof *o);
    REQUIRE(o);
    CHECK_RC(edge_out_receipt(NULL, r, rl), EGIDE_ERR_INVALID);
    CHECK_RC(edge_out_receipt(o, NULL, rl), EGIDE_ERR_INVALID);
    CHECK_RC(edge_out_receipt(o, r, 0), EGIDE_ERR_INVALID);
    int ok = 0;
    for (size_t i = 0; i < EDGE_OUT_MAX; i++)
        ok += edge_out_receipt(o, r, rl) == EGIDE_OK;
    CHECK(ok == EDGE_OUT_MAX && o->n == EDGE_OUT_MAX);
    CHECK_RC(edge_out_receipt(o, r, rl), EGIDE_ERR_LIMIT); /* full: the broker redelivers */
    for (uint64_t i = 1; i <= EDGE_OUT_MAX + 3; i++)
        edge_out_ack(o, i);
    edge_out_ack(o, 0); /* no relay: nothing to acknowledge */
    CHECK(o->n_acks == EDGE_OUT_MAX);
    uint8_t *f = NULL;
    size_t fl = 0;
    edge_out_take(o, 0, &f, &fl);
    CHECK(f && s_receipt_kind(f, fl, id, NULL) == EGIDE__V1__RECEIPT_KIND__RECEIPT_DELIVERED);
    free(f);
    edge_out_take(o, 0, &f, &fl); /* taken already */
    CHECK(f == NULL && fl == 0);
    edge_out_take(o, EDGE_OUT_MAX, &f, &fl);
    CHECK(f == NULL);
    edge_out_flush(&E, o, false); /* after a rollback: dropped, nothing sent */
    CHECK(o->n == 0 && o->n_acks == 0);
    edge_out_flush(&E, NULL, false);
    free(o);
    free(r);
}

static void test_bad_input(void)
{
    uint8_t *frame = (uint8_t *)1;
    size_t fl = 7;
    CHECK_RC(edge_inbox_step(NULL, (const uint8_t *)"x", 1, &frame, &fl), EGIDE_ERR_INVALID);
    CHECK(frame == NULL && fl == 0);
    CHECK_RC(edge_inbox_step(&E, (const uint8_t *)"x", 1, NULL, &fl), EGIDE_ERR_INVALID);
    CHECK_RC(edge_inbox_step(&E, NULL, 5, &frame, &fl), EGIDE_ERR_INVALID);
    /* Garbage is dropped (logged), nothing signed, the store still works. */
    static const uint8_t junk[] = {0x0a, 0xff, 0xff, 0x01, 0x12, 0x00, 0x99};
    CHECK_RC(edge_inbox_step(&E, junk, sizeof junk, &frame, &fl), EGIDE_OK);
    CHECK(frame == NULL);
    CHECK_RC(edge_inbox_step(&E, junk, 0, &frame, &fl), EGIDE_OK);
    CHECK(frame == NULL);
    uint8_t id[16] = {0};
    CHECK(s_rows(id) == 0);
}

int main(void)
{
    egide_log_set_sink(s_sink, NULL);
    if (s_vfs_install() != 0 || s_setup() != 0) {
        fprintf(stderr, "setup failed\n");
        s_teardown();
        return 1;
    }
    RUN(test_full_disk_at_commit);
    RUN(test_io_error_at_commit);
    RUN(test_full_disk_at_insert);
    RUN(test_one_failed_write_at_insert);
    RUN(test_refusal_under_fault);
    RUN(test_conflict);
    RUN(test_slow_clock_delivers);
    RUN(test_cert_not_yet_valid_by_clock);
    RUN(test_content_type_mismatch);
    RUN(test_unknown_sender_waits);
    RUN(test_submit_under_fault);
    RUN(test_receipt_under_fault);
    RUN(test_out_queue);
    RUN(test_bad_input);
    s_teardown();
    EGIDE_TEST_DONE();
}
