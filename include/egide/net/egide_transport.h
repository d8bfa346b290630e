/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_transport.h - ZeroMQ CURVE sockets as DESIGN.md "Transport" says:
 * broker ROUTER (CURVE server, ZAP domain enforced so a missing handler fails
 * closed, ROUTER_MANDATORY, non-blocking sends), edge DEALER (CURVE client
 * pinned to the broker key); heartbeats, a maximum message size and a bounded
 * linger on both.  Frames are egide.v1.Frame protobufs, one per ZeroMQ
 * message part (the ROUTER adds the routing id part).
 *
 * A successful send only means "queued in memory": receipts carry
 * reliability.
 */
#ifndef EGIDE_TRANSPORT_H
#define EGIDE_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "egide.pb-c.h"
#include "egide/base/egide_rc.h"

#define EGIDE_ZAP_DOMAIN "egide"

/* Read a Z85 CURVE key (40 characters, optional trailing newline) from a
 * file.  secret: the file must be 0600 (EGIDE_ERR_PERM otherwise). */
egide_rc egide_curve_key_read(const char *path, int secret, char out[41]);
/* Make a fresh CURVE key pair as two NUL-terminated Z85 strings.
 * EGIDE_ERR_CRYPTO if libzmq was built without CURVE. */
egide_rc egide_curve_keypair(char pub[41], char sec[41]);
/* Check that s is a valid 40-character Z85 key. */
int egide_curve_key_valid(const char *s);

typedef struct egide_transport_opts {
    int heartbeat_ms; /* ZMQ_HEARTBEAT_IVL; timeout is 3x */
    int linger_ms;    /* ZMQ_LINGER */
    int64_t max_msg;  /* ZMQ_MAXMSGSIZE */
    int sndhwm;       /* ZMQ_SNDHWM (0 = libzmq default) */
    /* Dealer only: when monitor_ep is set, a socket monitor for
     * monitor_events is attached and a PAIR socket connected to it (returned
     * in *monitor_out) BEFORE connecting, so no handshake event is missed. */
    const char *monitor_ep;
    int monitor_events;
    void **monitor_out;
} egide_transport_opts_t;

/* Broker side: ROUTER, CURVE server with the broker's secret key, bound to
 * endpoint.  ZMQ_ZAP_DOMAIN is set and ZMQ_ZAP_ENFORCE_DOMAIN is on, so a
 * ZAP handler must be bound at inproc://zeromq.zap.01 beforehand. */
egide_rc egide_transport_router(void *zctx, const char *endpoint, const char *secret_z85,
                                const egide_transport_opts_t *o, void **out);
/* Edge side: DEALER, CURVE client pinned to server_public, connected. */
egide_rc egide_transport_dealer(void *zctx, const char *endpoint, const char *server_public_z85,
                                const char *public_z85, const char *secret_z85,
                                const egide_transport_opts_t *o, void **out);

/* Pack and send f without blocking.  routing_id NULL for a DEALER.
 * EGIDE_ERR_STATE when the peer is unknown/unreachable (EHOSTUNREACH) or the
 * queue is full (EAGAIN): the caller keeps the item and retries later. */
egide_rc egide_transport_send(void *sock, const void *routing_id, size_t rid_len,
                              const Egide__V1__Frame *f);

/* One received frame.  user_id is the ZAP User-Id of the connection (the
 * authenticated node id) on the broker; empty on the edge. */
typedef struct egide_transport_msg {
    uint8_t routing_id[256];
    size_t rid_len;
    char user_id[80];
    Egide__V1__Frame *frame; /* NULL when the bytes did not parse (see rc) */
    size_t frame_len;        /* size of the raw frame */
} egide_transport_msg_t;

/* Receive one message without blocking (EGIDE_ERR_TIMEOUT when none).  A
 * frame that does not unpack returns EGIDE_ERR_PROTO/_LIMIT with routing_id
 * and user_id filled so the caller can answer.  Extra parts are drained. */
egide_rc egide_transport_recv(void *sock, int is_router, egide_transport_msg_t *m);
void egide_transport_msg_clear(egide_transport_msg_t *m);

/* ---- contexts, sockets, polling ------------------------------------------
 * The daemons hold sockets as opaque void * and reach libzmq only through
 * these functions, so ZeroMQ stays inside the net layer. */

/* A new ZeroMQ context (NULL on failure). */
void *egide_transport_ctx_new(void);
/* Terminate a context after its sockets are closed; sets *ctx = NULL. */
void egide_transport_ctx_destroy(void **ctx);
/* Close a socket with the given linger (ms); NULL-safe, sets *sock = NULL. */
void egide_transport_close(void **sock, int linger_ms);
/* Detach a socket monitor attached by egide_transport_dealer.  Call it before
 * closing the monitor's receiving socket: an event sent to a closed receiver
 * blocks libzmq's I/O thread, and then this call, for good. */
void egide_transport_monitor_stop(void *sock);

/* Send already-packed frame bytes without blocking (same results as
 * egide_transport_send). */
egide_rc egide_transport_send_raw(void *sock, const void *routing_id, size_t rid_len,
                                  const uint8_t *data, size_t len);

/* Wait up to timeout_ms (-1: forever) until one of n sockets is readable;
 * ready[i] tells which.  EGIDE_OK when at least one is, EGIDE_ERR_TIMEOUT when
 * none or when a signal interrupted the wait, EGIDE_ERR_IO otherwise (logged). */
egide_rc egide_transport_poll(void *const *socks, bool *ready, int n, int timeout_ms);
/* The same, also waiting on one plain file descriptor (a pipe; fd < 0 for
 * none): *fd_ready tells whether it is readable. */
egide_rc egide_transport_poll_fd(void *const *socks, bool *ready, int n, int fd, bool *fd_ready,
                                 int timeout_ms);
/* The same, and when fd_write also waiting for fd to be writable: *fd_ready
 * tells whether it is readable, writable or in error (a database client's
 * socket, whose library then says which). */
egide_rc egide_transport_poll_fd_rw(void *const *socks, bool *ready, int n, int fd, bool fd_write,
                                    bool *fd_ready, int timeout_ms);

/* Read one event from a monitor PAIR socket without blocking: *event gets the
 * ZMQ_EVENT_* number.  EGIDE_ERR_TIMEOUT when none is waiting. */
egide_rc egide_transport_monitor_recv(void *monitor, int *event);
/* The monitor events the edge watches, for egide_transport_opts_t. */
#define EGIDE_TRANSPORT_EV_HANDSHAKE_OK          0x1000 /* ZMQ_EVENT_HANDSHAKE_SUCCEEDED */
#define EGIDE_TRANSPORT_EV_DISCONNECTED          0x0200 /* ZMQ_EVENT_DISCONNECTED */
#define EGIDE_TRANSPORT_EV_HANDSHAKE_FAIL_AUTH   0x4000 /* ZMQ_EVENT_HANDSHAKE_FAILED_AUTH */
#define EGIDE_TRANSPORT_EV_HANDSHAKE_FAIL_PROTO  0x2000 /* ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL */
#define EGIDE_TRANSPORT_EV_HANDSHAKE_FAIL_NOAUTH 0x0800 /* ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL */

/* ---- ZAP (RFC 27) ---------------------------------------------------------
 * The broker's authentication handler: a REP socket bound at
 * inproc://zeromq.zap.01, polled with the ROUTER. */
typedef struct egide_zap_request {
    uint8_t request_id[256]; /* echoed in the reply */
    size_t request_id_len;
    char mechanism[16]; /* "CURVE", "NULL", ... */
    bool has_curve_key;
    uint8_t curve_key[32];  /* the client's long-term CURVE public key */
    char curve_key_z85[41]; /* the same, Z85 */
} egide_zap_request_t;

/* Bind the ZAP handler socket in zctx. */
egide_rc egide_zap_open(void *zctx, void **zap);
/* Read one request without blocking (EGIDE_ERR_TIMEOUT when none,
 * EGIDE_ERR_PROTO for a malformed request, which is drained; the caller then
 * has nothing to answer). */
egide_rc egide_zap_recv(void *zap, egide_zap_request_t *req);
/* Answer a request: status "200" (user_id = the node id) or "400"/"500". */
egide_rc egide_zap_reply(void *zap, const egide_zap_request_t *req, const char *status,
                         const char *text, const char *user_id);

#endif
