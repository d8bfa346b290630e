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

#include <stddef.h>
#include <stdint.h>
#include "egide.pb-c.h"
#include "egide/egide_rc.h"

#define EGIDE_ZAP_DOMAIN "egide"

/* Read a Z85 CURVE key (40 characters, optional trailing newline) from a
 * file.  secret: the file must be 0600 (EGIDE_ERR_PERM otherwise). */
egide_rc egide_curve_key_read(const char *path, int secret, char out[41]);
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

#endif
