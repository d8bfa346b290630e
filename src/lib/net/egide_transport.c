/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* egide_transport.c - CURVE ROUTER/DEALER setup and framed send/recv (see header). */
#include "egide/net/egide_transport.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "egide/base/egide_limits.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/wire/egide_wire.h"

#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93 /* draft option in 4.3 */
#endif

egide_rc egide_curve_keypair(char pub[41], char sec[41])
{
    if (!pub || !sec)
        return EGIDE_ERR_INVALID;
    if (zmq_curve_keypair(pub, sec) != 0) {
        egide_log(EGIDE_LOG_ERROR, "transport: zmq_curve_keypair: %s", zmq_strerror(zmq_errno()));
        return EGIDE_ERR_CRYPTO;
    }
    return EGIDE_OK;
}

int egide_curve_key_valid(const char *s)
{
    if (!s || strlen(s) != EGIDE_CURVE_KEY_Z85_LEN)
        return 0;
    uint8_t raw[32];
    return zmq_z85_decode(raw, s) != NULL;
}

egide_rc egide_curve_key_read(const char *path, int secret, char out[41])
{
    uint8_t *data;
    size_t len;
    egide_rc rc = secret ? egide_secret_read(path, 256, &data, &len)
                         : egide_file_read(path, 256, &data, &len);
    if (rc)
        return rc;
    while (len && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' '))
        data[--len] = '\0';
    if (len != EGIDE_CURVE_KEY_Z85_LEN || !egide_curve_key_valid((char *)data)) {
        egide_free_secret(data, len);
        return EGIDE_ERR_PROTO;
    }
    memcpy(out, data, 41);
    egide_free_secret(data, len);
    return EGIDE_OK;
}

static egide_rc s_common(void *s, const egide_transport_opts_t *o)
{
    int linger = o->linger_ms;
    int hb = o->heartbeat_ms, hbt = o->heartbeat_ms * 3;
    int64_t max = o->max_msg ? o->max_msg : (int64_t)EGIDE_MAX_FRAME;
    if (zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) ||
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max))
        return EGIDE_ERR_IO;
    if (hb > 0 && (zmq_setsockopt(s, ZMQ_HEARTBEAT_IVL, &hb, sizeof hb) ||
                   zmq_setsockopt(s, ZMQ_HEARTBEAT_TIMEOUT, &hbt, sizeof hbt) ||
                   zmq_setsockopt(s, ZMQ_HEARTBEAT_TTL, &hbt, sizeof hbt)))
        return EGIDE_ERR_IO;
    if (o->sndhwm > 0 && zmq_setsockopt(s, ZMQ_SNDHWM, &o->sndhwm, sizeof o->sndhwm))
        return EGIDE_ERR_IO;
    return EGIDE_OK;
}

egide_rc egide_transport_router(void *zctx, const char *endpoint, const char *secret_z85,
                                const egide_transport_opts_t *o, void **out)
{
    *out = NULL;
    void *s = zmq_socket(zctx, ZMQ_ROUTER);
    if (!s)
        return EGIDE_ERR_IO;
    int one = 1;
    egide_rc rc = s_common(s, o);
    if (!rc && (zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof one) ||
                zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, secret_z85, 40) ||
                zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, EGIDE_ZAP_DOMAIN, strlen(EGIDE_ZAP_DOMAIN)) ||
                zmq_setsockopt(s, ZMQ_ZAP_ENFORCE_DOMAIN, &one, sizeof one) ||
                zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof one)))
        rc = EGIDE_ERR_IO;
    if (!rc && zmq_bind(s, endpoint) != 0) {
        egide_log(EGIDE_LOG_ERROR, "bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
        rc = EGIDE_ERR_IO;
    }
    if (rc) {
        int zero = 0;
        zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
        zmq_close(s);
        return rc;
    }
    *out = s;
    return EGIDE_OK;
}

egide_rc egide_transport_dealer(void *zctx, const char *endpoint, const char *server_public_z85,
                                const char *public_z85, const char *secret_z85,
                                const egide_transport_opts_t *o, void **out)
{
    *out = NULL;
    void *s = zmq_socket(zctx, ZMQ_DEALER);
    if (!s)
        return EGIDE_ERR_IO;
    int one = 1;
    egide_rc rc = s_common(s, o);
    if (!rc && (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_public_z85, 40) ||
                zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, public_z85, 40) ||
                zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, secret_z85, 40) ||
                zmq_setsockopt(s, ZMQ_IMMEDIATE, &one, sizeof one)))
        rc = EGIDE_ERR_IO;
    void *mon = NULL;
    if (!rc && o->monitor_ep) {
        mon = zmq_socket(zctx, ZMQ_PAIR);
        if (!mon || zmq_socket_monitor(s, o->monitor_ep, o->monitor_events) != 0 ||
            zmq_connect(mon, o->monitor_ep) != 0)
            rc = EGIDE_ERR_IO;
    }
    if (!rc && zmq_connect(s, endpoint) != 0) {
        egide_log(EGIDE_LOG_ERROR, "connect %s: %s", endpoint, zmq_strerror(zmq_errno()));
        rc = EGIDE_ERR_IO;
    }
    if (rc) {
        int zero = 0;
        if (mon) {
            zmq_socket_monitor(s, NULL, 0); /* stopped before its receiver is closed */
            zmq_setsockopt(mon, ZMQ_LINGER, &zero, sizeof zero);
            zmq_close(mon);
        }
        zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
        zmq_close(s);
        return rc;
    }
    if (o->monitor_out)
        *o->monitor_out = mon;
    *out = s;
    return EGIDE_OK;
}

egide_rc egide_transport_send(void *sock, const void *routing_id, size_t rid_len,
                              const Egide__V1__Frame *f)
{
    uint8_t *buf;
    size_t len;
    egide_rc rc = egide_wire_pack(EGIDE_WIRE_FRAME, f, &buf, &len);
    if (rc)
        return rc;
    if (routing_id && zmq_send(sock, routing_id, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        free(buf);
        return (errno == EHOSTUNREACH || errno == EAGAIN) ? EGIDE_ERR_STATE : EGIDE_ERR_IO;
    }
    int r = zmq_send(sock, buf, len, ZMQ_DONTWAIT);
    free(buf);
    if (r < 0)
        return (errno == EHOSTUNREACH || errno == EAGAIN) ? EGIDE_ERR_STATE : EGIDE_ERR_IO;
    return EGIDE_OK;
}

static void s_drain_one(void *sock)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    zmq_msg_recv(&m, sock, ZMQ_DONTWAIT);
    zmq_msg_close(&m);
}

static void s_drain(void *sock)
{
    int more = 1;
    size_t sz = sizeof more;
    for (int i = 0; i < 64 && zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz) == 0 && more; i++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        zmq_msg_recv(&m, sock, ZMQ_DONTWAIT);
        zmq_msg_close(&m);
    }
}

egide_rc egide_transport_recv(void *sock, int is_router, egide_transport_msg_t *m)
{
    memset(m, 0, sizeof *m);
    zmq_msg_t part;
    if (is_router) {
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part);
            return errno == EAGAIN ? EGIDE_ERR_TIMEOUT : EGIDE_ERR_IO;
        }
        size_t n = zmq_msg_size(&part);
        m->rid_len = n < sizeof m->routing_id ? n : sizeof m->routing_id;
        memcpy(m->routing_id, zmq_msg_data(&part), m->rid_len);
        zmq_msg_close(&part);
        int more = 0;
        size_t sz = sizeof more;
        zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz);
        if (!more)
            return EGIDE_ERR_PROTO;
    }
    zmq_msg_init(&part);
    if (zmq_msg_recv(&part, sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&part);
        return errno == EAGAIN ? EGIDE_ERR_TIMEOUT : EGIDE_ERR_IO;
    }
    const char *uid = zmq_msg_gets(&part, "User-Id");
    if (uid)
        egide_strlcpy(m->user_id, uid, sizeof m->user_id);
    m->frame_len = zmq_msg_size(&part);
    void *frame = NULL;
    egide_rc rc =
        egide_wire_unpack(EGIDE_WIRE_FRAME, zmq_msg_data(&part), m->frame_len, &frame, NULL);
    zmq_msg_close(&part);
    s_drain(sock);
    m->frame = frame;
    return rc;
}

void egide_transport_msg_clear(egide_transport_msg_t *m)
{
    egide_wire_free(EGIDE_WIRE_FRAME, m->frame);
    m->frame = NULL;
}

/* ---- contexts, sockets, polling ------------------------------------------ */

_Static_assert(EGIDE_TRANSPORT_EV_HANDSHAKE_OK == ZMQ_EVENT_HANDSHAKE_SUCCEEDED, "event");
_Static_assert(EGIDE_TRANSPORT_EV_DISCONNECTED == ZMQ_EVENT_DISCONNECTED, "event");
_Static_assert(EGIDE_TRANSPORT_EV_HANDSHAKE_FAIL_AUTH == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, "event");
_Static_assert(EGIDE_TRANSPORT_EV_HANDSHAKE_FAIL_PROTO == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL,
               "event");
_Static_assert(EGIDE_TRANSPORT_EV_HANDSHAKE_FAIL_NOAUTH == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL,
               "event");

void *egide_transport_ctx_new(void)
{
    return zmq_ctx_new();
}

void egide_transport_ctx_destroy(void **ctx)
{
    if (!ctx || !*ctx)
        return;
    zmq_ctx_term(*ctx);
    *ctx = NULL;
}

void egide_transport_close(void **sock, int linger_ms)
{
    if (!sock || !*sock)
        return;
    zmq_setsockopt(*sock, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
    zmq_close(*sock);
    *sock = NULL;
}

void egide_transport_monitor_stop(void *sock)
{
    if (sock)
        zmq_socket_monitor(sock, NULL, 0);
}

egide_rc egide_transport_send_raw(void *sock, const void *routing_id, size_t rid_len,
                                  const uint8_t *data, size_t len)
{
    if (!sock || !data)
        return EGIDE_ERR_INVALID;
    if (routing_id && zmq_send(sock, routing_id, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return (errno == EHOSTUNREACH || errno == EAGAIN) ? EGIDE_ERR_STATE : EGIDE_ERR_IO;
    if (zmq_send(sock, data, len, ZMQ_DONTWAIT) < 0)
        return (errno == EHOSTUNREACH || errno == EAGAIN) ? EGIDE_ERR_STATE : EGIDE_ERR_IO;
    return EGIDE_OK;
}

egide_rc egide_transport_poll_fd(void *const *socks, bool *ready, int n, int fd, bool *fd_ready,
                                 int timeout_ms)
{
    return egide_transport_poll_fd_rw(socks, ready, n, fd, false, fd_ready, timeout_ms);
}

egide_rc egide_transport_poll_fd_rw(void *const *socks, bool *ready, int n, int fd, bool fd_write,
                                    bool *fd_ready, int timeout_ms)
{
    zmq_pollitem_t items[9];
    if (!socks || !ready || n < 0 || n > 8 || (n == 0 && fd < 0) || (fd >= 0 && !fd_ready))
        return EGIDE_ERR_INVALID;
    for (int i = 0; i < n; i++) {
        items[i] = (zmq_pollitem_t){socks[i], 0, ZMQ_POLLIN, 0};
        ready[i] = false;
    }
    int total = n;
    if (fd >= 0) {
        items[total++] =
            (zmq_pollitem_t){NULL, fd, (short)(ZMQ_POLLIN | (fd_write ? ZMQ_POLLOUT : 0)), 0};
        *fd_ready = false;
    }
    int r = zmq_poll(items, total, timeout_ms);
    if (r < 0) {
        if (zmq_errno() == EINTR)
            return EGIDE_ERR_TIMEOUT;
        egide_log(EGIDE_LOG_ERROR, "poll: %s", zmq_strerror(zmq_errno()));
        return EGIDE_ERR_IO;
    }
    for (int i = 0; i < n; i++)
        ready[i] = (items[i].revents & ZMQ_POLLIN) != 0;
    if (fd >= 0)
        *fd_ready = (items[n].revents &
                     (fd_write ? ZMQ_POLLIN | ZMQ_POLLOUT | ZMQ_POLLERR : ZMQ_POLLIN)) != 0;
    return r > 0 ? EGIDE_OK : EGIDE_ERR_TIMEOUT;
}

egide_rc egide_transport_poll(void *const *socks, bool *ready, int n, int timeout_ms)
{
    if (n <= 0)
        return EGIDE_ERR_INVALID;
    return egide_transport_poll_fd(socks, ready, n, -1, NULL, timeout_ms);
}

egide_rc egide_transport_monitor_recv(void *monitor, int *event)
{
    if (!monitor || !event)
        return EGIDE_ERR_INVALID;
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, monitor, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return EGIDE_ERR_TIMEOUT;
    }
    egide_rc rc = EGIDE_ERR_PROTO;
    if (zmq_msg_size(&m) >= 6) {
        const uint8_t *d = zmq_msg_data(&m);
        uint16_t ev;
        memcpy(&ev, d, sizeof ev);
        *event = ev;
        rc = EGIDE_OK;
    }
    bool more = zmq_msg_more(&m);
    zmq_msg_close(&m);
    if (more) /* the second part: the endpoint address */
        s_drain_one(monitor);
    return rc;
}

/* ---- ZAP ------------------------------------------------------------------ */

egide_rc egide_zap_open(void *zctx, void **zap)
{
    if (!zctx || !zap)
        return EGIDE_ERR_INVALID;
    *zap = zmq_socket(zctx, ZMQ_REP);
    if (!*zap)
        return EGIDE_ERR_IO;
    if (zmq_bind(*zap, "inproc://zeromq.zap.01") != 0) {
        egide_log(EGIDE_LOG_ERROR, "zap: bind: %s", zmq_strerror(zmq_errno()));
        egide_transport_close(zap, 0);
        return EGIDE_ERR_IO;
    }
    return EGIDE_OK;
}

/* ZAP request parts (RFC 27): version, request id, domain, address,
 * identity, mechanism, then the mechanism's credentials (CURVE: the key). */
enum { ZAP_PARTS = 7 };

egide_rc egide_zap_recv(void *zap, egide_zap_request_t *req)
{
    if (!zap || !req)
        return EGIDE_ERR_INVALID;
    memset(req, 0, sizeof *req);
    zmq_msg_t parts[ZAP_PARTS];
    int n = 0, more = 1;
    while (more && n < ZAP_PARTS) {
        zmq_msg_init(&parts[n]);
        if (zmq_msg_recv(&parts[n], zap, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&parts[n]);
            break;
        }
        more = zmq_msg_more(&parts[n]);
        n++;
    }
    bool extra = false;
    while (more) { /* drain a malformed request */
        zmq_msg_t x;
        zmq_msg_init(&x);
        if (zmq_msg_recv(&x, zap, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&x);
            break;
        }
        more = zmq_msg_more(&x);
        zmq_msg_close(&x);
        extra = true;
    }
    egide_rc rc = EGIDE_OK;
    if (n == 0)
        rc = EGIDE_ERR_TIMEOUT;
    else if (n < 2 || zmq_msg_size(&parts[1]) > sizeof req->request_id)
        rc = EGIDE_ERR_PROTO;
    else {
        req->request_id_len = zmq_msg_size(&parts[1]);
        memcpy(req->request_id, zmq_msg_data(&parts[1]), req->request_id_len);
        if (n == ZAP_PARTS && !extra && zmq_msg_size(&parts[5]) < sizeof req->mechanism) {
            memcpy(req->mechanism, zmq_msg_data(&parts[5]), zmq_msg_size(&parts[5]));
            if (strcmp(req->mechanism, "CURVE") == 0 && zmq_msg_size(&parts[6]) == 32) {
                memcpy(req->curve_key, zmq_msg_data(&parts[6]), 32);
                zmq_z85_encode(req->curve_key_z85, req->curve_key, 32);
                req->has_curve_key = true;
            }
        }
    }
    for (int i = 0; i < n; i++)
        zmq_msg_close(&parts[i]);
    return rc;
}

egide_rc egide_zap_reply(void *zap, const egide_zap_request_t *req, const char *status,
                         const char *text, const char *user_id)
{
    if (!zap || !req || !status || strlen(status) != 3)
        return EGIDE_ERR_INVALID;
    text = text ? text : "";
    user_id = user_id ? user_id : "";
    /* Reply: version, request id, status code, status text, user id, metadata. */
    if (zmq_send(zap, "1.0", 3, ZMQ_SNDMORE) < 0 ||
        zmq_send(zap, req->request_id, req->request_id_len, ZMQ_SNDMORE) < 0 ||
        zmq_send(zap, status, 3, ZMQ_SNDMORE) < 0 ||
        zmq_send(zap, text, strlen(text), ZMQ_SNDMORE) < 0 ||
        zmq_send(zap, user_id, strlen(user_id), ZMQ_SNDMORE) < 0 || zmq_send(zap, "", 0, 0) < 0) {
        egide_log(EGIDE_LOG_ERROR, "zap: reply: %s", zmq_strerror(zmq_errno()));
        return EGIDE_ERR_IO;
    }
    return EGIDE_OK;
}
