/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_keyd.h - the key holder: a process of its own (egide-keyd, after
 * X-Road's signer and OpenSMTPD's ca.c) that alone reads a daemon's private
 * keys and answers three requests over a socketpair, so that the process
 * that talks to the network (ZeroMQ, HTTP) never has them in its memory.
 *
 * Protocol (every integer big-endian).  A request is
 *     u32 len | u8 op | fields            (len counts op and fields, 1..max)
 * and an answer is
 *     u32 len | u8 status | data          (status 0 = EGIDE_OK, else an egide_rc)
 *   PUBKEYS  op 1, no field           -> u8 mask (bit s: slot s held) | 32 bytes per slot
 *   SIGN     op 2, u8 slot | u8 label_len | label | msg
 *                                     -> 64-byte Ed25519 signature over
 *                                        label || '\0' || msg (msg alone when
 *                                        label_len is 0)
 *   DH       op 3, u8 slot | 32-byte X25519 public key of the peer
 *                                     -> the 32-byte X25519 shared secret
 * label_len <= EGIDE_KEYD_MAX_LABEL, msg <= EGIDE_KEYD_MAX_MSG.  Anything
 * else - an unknown op, a length out of bounds or that does not match the
 * op, a slot without a key of the op's type, a frame cut short - is fatal
 * for the key holder: it exits, and the client sees EOF.  A failing
 * operation on a well-formed request (a small-order DH point) is an answer
 * with status EGIDE_ERR_CRYPTO.
 *
 * The client (egide_keyd_t) starts the holder (fork + exec), serializes
 * calls with a mutex (the edge signs from its loop and its HTTP threads),
 * bounds every answer in time (EGIDE_KEYD_TIMEOUT_MS: a holder that does not
 * answer is killed), and when the holder is gone answers
 * EGIDE_ERR_UNAVAILABLE - transient: nothing is signed, nothing is
 * acknowledged, peers retry - and starts it again on the next call, at most
 * EGIDE_KEYD_RESPAWN_MAX times per EGIDE_KEYD_RESPAWN_WINDOW_MS, logging
 * each exit once.  A restarted holder must hold the same public keys.
 */
#ifndef EGIDE_KEYD_H
#define EGIDE_KEYD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <openssl/evp.h>
#include "egide/base/egide_rc.h"

#define EGIDE_KEYD_SLOT_SIGN 0 /* Ed25519 signing key */
#define EGIDE_KEYD_SLOT_ENC  1 /* X25519 encryption key (HPKE recipient) */
#define EGIDE_KEYD_SLOTS     2

#define EGIDE_KEYD_OP_PUBKEYS 1
#define EGIDE_KEYD_OP_SIGN    2
#define EGIDE_KEYD_OP_DH      3

/* The descriptor on which egide-keyd finds its socket. */
#define EGIDE_KEYD_FD 3

/* A running key holder, seen from the daemon.  Opaque; thread-safe. */
typedef struct egide_keyd egide_keyd_t;

/* Start program (NULL: egide-keyd next to this process's binary, found
 * through /proc/self/exe) holding the keys of key_path[slot] (NULL for a
 * slot not used; at least one given), and ask for the public keys.  The
 * holder reads the files itself, with egide_key_load_private()'s checks.
 * *out is the caller's (egide_keyd_destroy).  When the holder cannot start,
 * the reason it gave by its exit status: EGIDE_ERR_PERM (a key file
 * readable by others), EGIDE_ERR_NOTFOUND, EGIDE_ERR_CERT (wrong key type),
 * EGIDE_ERR_CRYPTO...; EGIDE_ERR_IO when program cannot run; EGIDE_ERR_PROTO
 * when it answers nonsense. */
egide_rc egide_keyd_new(const char *program, const char *const key_path[EGIDE_KEYD_SLOTS],
                        egide_keyd_t **out);

/* Stop the holder (its socket closed, it exits; killed if it does not
 * within a bounded time) and free.  The held keys made by egide_keyd_key
 * must be freed before.  NULL-safe; nulls *self_p. */
void egide_keyd_destroy(egide_keyd_t **self_p);

/* A new public-only EVP_PKEY for slot, held by k (egide_key_new_held):
 * signing and DH with it are forwarded to the holder.  EGIDE_ERR_NOTFOUND
 * when the holder has no key in that slot. */
egide_rc egide_keyd_key(egide_keyd_t *k, int slot, EVP_PKEY **out);

/* The requests (what the held keys' operations call).  EGIDE_OK;
 * EGIDE_ERR_UNAVAILABLE when the holder is down, died during the request,
 * did not answer in time, or may not be restarted yet; EGIDE_ERR_CRYPTO as
 * answered; EGIDE_ERR_INVALID / EGIDE_ERR_LIMIT for a bad argument (not
 * sent). */
egide_rc egide_keyd_sign(egide_keyd_t *k, int slot, const char *label, const void *msg, size_t len,
                         uint8_t sig[64]);
egide_rc egide_keyd_dh(egide_keyd_t *k, int slot, const uint8_t peer[32], uint8_t out[32]);

/* The holder's pid (0 when none is running) and how many times it was
 * started; for health reports and tests. */
pid_t egide_keyd_pid(egide_keyd_t *k);
unsigned egide_keyd_starts(egide_keyd_t *k);

/* Tests: send len raw bytes as they are (a malformed request), then, when
 * then_close, shut the sending side (so that a frame cut short is seen as
 * such), and wait for an answer: its status, or EGIDE_ERR_UNAVAILABLE when
 * the holder exits instead (it is restarted on the next call). */
egide_rc egide_keyd_send_raw(egide_keyd_t *k, const uint8_t *bytes, size_t len, bool then_close);

/* The key holder's side: answer requests on fd with keys[slot] (NULL for an
 * empty slot; borrowed) until EOF.  Returns 0 on EOF between requests, or
 * EGIDE_ERR_PROTO (malformed request) / EGIDE_ERR_IO (short read, write
 * failure), which egide-keyd turns into its exit status. */
int egide_keyd_serve(int fd, EVP_PKEY *const keys[EGIDE_KEYD_SLOTS]);

/* Drop what the key holder does not need, once its keys are loaded:
 * PR_SET_NO_NEW_PRIVS, not dumpable (no core file with keys), and a seccomp
 * filter that makes socket(2) and every other call that reaches the network,
 * runs a program, traces a process or opens a file fail with EPERM (see
 * docs/architecture.md, "Key holder", for the list).  Sanitizer builds
 * stay dumpable and deny only the network calls (their run-time reads
 * /proc/self/maps and traces the process at exit).  EGIDE_OK;
 * EGIDE_ERR_STATE when the kernel refuses the filter; EGIDE_ERR_INVALID on
 * an architecture without a filter here. */
egide_rc egide_keyd_sandbox(void);

/* The daemons' start-up: holder "process" starts the key holder (program as
 * in egide_keyd_new, *kd set) and makes held keys; "inline" (or NULL
 * meaning process) loads the keys here with egide_pki_load_key (*kd NULL).
 * sign_path is required, enc_path may be NULL (the broker); *sign and *enc
 * are the caller's.  Logs what failed; returns its code. */
egide_rc egide_keyd_load(const char *holder, const char *program, const char *sign_path,
                         const char *enc_path, egide_keyd_t **kd, EVP_PKEY **sign, EVP_PKEY **enc);

#endif
