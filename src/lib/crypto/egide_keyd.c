/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_keyd.c - the key holder's protocol, both sides: the client a daemon
 * uses (start egide-keyd, ask it, restart it when it dies, bounded), the
 * server loop egide-keyd runs, and the sandbox it enters once its keys are
 * loaded.  egide_keyd.h describes the protocol.
 *
 * The client's keys are public-only EVP_PKEYs marked held
 * (egide_key_new_held): egide_crypto.c and egide_hpke.c call back here
 * through s_ops when one is used, so no caller knows where the private key
 * is.  The server checks every length against the op before it looks at a
 * field; whatever it does not understand ends it.
 */
#include "egide/crypto/egide_keyd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <openssl/err.h>

#include "egide/base/egide_limits.h"
#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"
#include "egide/crypto/egide_crypto.h"
#include "egide/crypto/egide_pki.h"

/* The largest request body (op | slot | label_len | label | msg) and answer
 * body (status | mask | two public keys). */
#define S_MAX_REQ    (3u + EGIDE_KEYD_MAX_LABEL + EGIDE_KEYD_MAX_MSG)
#define S_MAX_ANSWER (2u + 32u * EGIDE_KEYD_SLOTS)
#define S_REAP_MS    2000 /* how long an exiting holder is waited for */

/* Invariants: fd >= 0 exactly when pid > 0 (a holder is running and was
 * asked for its keys); mask and pub are those of the first start, and a
 * restarted holder must answer the same; lock serializes every field. */
struct egide_keyd {
    pthread_mutex_t lock;                     /* one request at a time */
    char *argv[2 + 2 * EGIDE_KEYD_SLOTS + 1]; /* program, -s PATH, -e PATH, NULL */
    int fd;                                   /* our end of the socketpair, or -1 */
    pid_t pid;                                /* the holder, or 0 */
    unsigned starts;                          /* holders started so far */
    bool have_pub;                            /* mask and pub are set */
    uint8_t mask;                             /* bit s: slot s holds a key */
    uint8_t pub[EGIDE_KEYD_SLOTS][32];        /* raw public keys */
    int64_t window_ms;                        /* start of the restart window */
    unsigned window_starts;                   /* starts in that window */
    bool window_logged;                       /* the "keeps dying" line is out */
};

/* ------------------------------------------------------------ framing */

static void s_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t s_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ------------------------------------------------------------ server */

/* Read exactly n bytes (blocking).  1 done, 0 EOF before the first byte
 * (only when eof_ok), -1 a short read or an error. */
static int s_read_full(int fd, uint8_t *buf, size_t n, bool eof_ok)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0 && got == 0 && eof_ok)
            return 0;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 1;
}

static int s_write_full(int fd, const uint8_t *buf, size_t n)
{
    size_t put = 0;
    while (put < n) {
        ssize_t r = write(fd, buf + put, n - put);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        put += (size_t)r;
    }
    return 0;
}

static bool s_slot_is(EVP_PKEY *const keys[], unsigned slot, int type)
{
    return slot < EGIDE_KEYD_SLOTS && keys[slot] && EVP_PKEY_get_id(keys[slot]) == type;
}

/* X25519(sk, peer) with a local private key. */
static egide_rc s_local_dh(EVP_PKEY *sk, const uint8_t peer[32], uint8_t out[32])
{
    EVP_PKEY *pk = NULL;
    egide_rc rc = egide_key_from_raw_public(EVP_PKEY_X25519, peer, &pk);
    EVP_PKEY_CTX *c = rc ? NULL : EVP_PKEY_CTX_new(sk, NULL);
    size_t len = 32;
    if (!rc && (!c || EVP_PKEY_derive_init(c) != 1 || EVP_PKEY_derive_set_peer(c, pk) != 1 ||
                EVP_PKEY_derive(c, out, &len) != 1 || len != 32))
        rc = EGIDE_ERR_CRYPTO; /* an all-zero output (small-order point) lands here */
    ERR_clear_error();
    EVP_PKEY_CTX_free(c);
    EVP_PKEY_free(pk);
    return rc;
}

/* Answer one request body req[0..len) into ans (status first) or return
 * EGIDE_ERR_PROTO for a request that is not well formed.  req is scratch:
 * SIGN rewrites it in place into label || '\0' || msg. */
static egide_rc s_answer(uint8_t *req, size_t len, EVP_PKEY *const keys[], uint8_t *ans,
                         size_t *alen)
{
    egide_rc rc;
    switch (req[0]) {
    case EGIDE_KEYD_OP_PUBKEYS: {
        if (len != 1)
            return EGIDE_ERR_PROTO;
        ans[0] = EGIDE_OK;
        ans[1] = 0;
        memset(ans + 2, 0, 32u * EGIDE_KEYD_SLOTS);
        for (unsigned s = 0; s < EGIDE_KEYD_SLOTS; s++)
            if (keys[s] && egide_key_raw_public(keys[s], ans + 2 + 32 * s) == EGIDE_OK)
                ans[1] |= (uint8_t)(1u << s);
        *alen = S_MAX_ANSWER;
        return EGIDE_OK;
    }
    case EGIDE_KEYD_OP_SIGN: {
        if (len < 3 || !s_slot_is(keys, req[1], EVP_PKEY_ED25519))
            return EGIDE_ERR_PROTO;
        size_t ll = req[2];
        if (ll > EGIDE_KEYD_MAX_LABEL || 3 + ll > len || len - 3 - ll > EGIDE_KEYD_MAX_MSG)
            return EGIDE_ERR_PROTO;
        if (ll > 0 && memchr(req + 3, 0, ll))
            return EGIDE_ERR_PROTO; /* a label is text */
        const uint8_t *data = req + 3;
        size_t dlen = len - 3;
        if (ll > 0) {
            /* label || '\0' || msg, over the label length byte. */
            memmove(req + 2, req + 3, ll);
            req[2 + ll] = 0;
            data = req + 2;
            dlen = len - 2;
        }
        rc = egide_ed25519_sign(keys[req[1]], data, dlen, ans + 1);
        ans[0] = (uint8_t)rc;
        *alen = rc ? 1 : 65;
        return EGIDE_OK;
    }
    case EGIDE_KEYD_OP_DH:
        if (len != 2 + 32 || !s_slot_is(keys, req[1], EVP_PKEY_X25519))
            return EGIDE_ERR_PROTO;
        rc = s_local_dh(keys[req[1]], req + 2, ans + 1);
        ans[0] = (uint8_t)rc;
        *alen = rc ? 1 : 33;
        return EGIDE_OK;
    default:
        return EGIDE_ERR_PROTO;
    }
}

int egide_keyd_serve(int fd, EVP_PKEY *const keys[EGIDE_KEYD_SLOTS])
{
    uint8_t *req = malloc(S_MAX_REQ);
    uint8_t frame[4 + S_MAX_ANSWER];
    int status = EGIDE_ERR_NOMEM;
    if (!req)
        goto done;
    for (;;) {
        uint8_t hdr[4];
        int r = s_read_full(fd, hdr, 4, true);
        if (r == 0) {
            status = 0; /* the daemon closed its end */
            break;
        }
        if (r < 0) {
            egide_log(EGIDE_LOG_ERROR, "request cut short: exiting");
            status = EGIDE_ERR_IO;
            break;
        }
        uint32_t len = s_get_u32(hdr);
        if (len < 1 || len > S_MAX_REQ) {
            egide_log(EGIDE_LOG_ERROR, "request of %u bytes (at most %u): exiting", len,
                      (unsigned)S_MAX_REQ);
            status = EGIDE_ERR_PROTO;
            break;
        }
        if (s_read_full(fd, req, len, false) != 1) {
            egide_log(EGIDE_LOG_ERROR, "request cut short: exiting");
            status = EGIDE_ERR_IO;
            break;
        }
        size_t alen = 0;
        unsigned op = req[0];
        if (s_answer(req, len, keys, frame + 4, &alen) != EGIDE_OK) {
            egide_log(EGIDE_LOG_ERROR, "malformed request (op %u, %u bytes): exiting", op, len);
            status = EGIDE_ERR_PROTO;
            break;
        }
        s_put_u32(frame, (uint32_t)alen);
        int w = s_write_full(fd, frame, 4 + alen);
        egide_wipe(req, len); /* what was signed may be a referral's header */
        if (w != 0) {
            status = EGIDE_ERR_IO;
            break;
        }
    }
done:
    if (req)
        egide_free_secret(req, S_MAX_REQ);
    return status;
}

/* ------------------------------------------------------------ sandbox */

#if defined(__SANITIZE_ADDRESS__)
#define S_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define S_SANITIZED 1
#endif
#endif

#if defined(__x86_64__)
#define S_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define S_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef S_AUDIT_ARCH
/* Calls that fail with EPERM in the key holder.  The network: every way to
 * get or use a socket other than the one it was given. */
static const long s_denied_net[] = {
    SYS_socket, SYS_socketpair, SYS_connect,  SYS_bind,     SYS_listen,  SYS_accept,   SYS_accept4,
    SYS_sendto, SYS_sendmsg,    SYS_sendmmsg, SYS_recvfrom, SYS_recvmsg, SYS_recvmmsg,
};
/* Running a program, reaching into another process, the file system after
 * the keys are read, and the kernel's own surfaces.  (Sanitizer builds keep
 * only the network list: their run-time opens /proc/self/maps and traces
 * the process to check for leaks at exit.) */
static const long s_denied_other[] = {
    SYS_execve,
    SYS_execveat,
    SYS_ptrace,
    SYS_process_vm_readv,
    SYS_process_vm_writev,
    SYS_openat,
    SYS_openat2,
    SYS_open_by_handle_at,
    SYS_mknodat,
    SYS_linkat,
    SYS_symlinkat,
    SYS_unlinkat,
    SYS_renameat2,
    SYS_mkdirat,
    SYS_fchmodat,
    SYS_fchownat,
    SYS_truncate,
    SYS_mount,
    SYS_umount2,
    SYS_pivot_root,
    SYS_chroot,
    SYS_setns,
    SYS_unshare,
    SYS_kexec_load,
    SYS_init_module,
    SYS_finit_module,
    SYS_delete_module,
    SYS_bpf,
    SYS_perf_event_open,
    SYS_keyctl,
    SYS_add_key,
    SYS_request_key,
    SYS_io_uring_setup,
    SYS_userfaultfd,
    SYS_memfd_create,
#ifdef SYS_open
    SYS_open,
    SYS_creat,
    SYS_mknod,
    SYS_link,
    SYS_symlink,
    SYS_unlink,
    SYS_rename,
    SYS_renameat,
    SYS_mkdir,
    SYS_rmdir,
    SYS_chmod,
    SYS_chown,
    SYS_lchown,
    SYS_fork,
    SYS_vfork,
#endif
};
#endif

egide_rc egide_keyd_sandbox(void)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return EGIDE_ERR_STATE;
#ifndef S_SANITIZED
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); /* no core file with the keys */
#endif
#ifndef S_AUDIT_ARCH
    return EGIDE_ERR_INVALID;
#else
    enum { N_NET = sizeof s_denied_net / sizeof s_denied_net[0] };
#ifdef S_SANITIZED
    enum { N_OTHER = 0 };
#else
    enum { N_OTHER = sizeof s_denied_other / sizeof s_denied_other[0] };
#endif
    struct sock_filter f[8 + 2 * (N_NET + N_OTHER)];
    size_t n = 0;
    /* Another architecture's numbers would mean other calls: killed. */
    f[n++] =
        (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, S_AUDIT_ARCH, 1, 0);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    f[n++] =
        (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
#if defined(__x86_64__)
    /* The x32 ABI numbers the same calls differently: killed. */
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
#endif
    for (size_t i = 0; i < N_NET + N_OTHER; i++) {
        long nr = i < N_NET ? s_denied_net[i] : s_denied_other[i - N_NET];
        f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 1);
        f[n++] =
            (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & 0xffff));
    }
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog prog = {.len = (unsigned short)n, .filter = f};
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0)
        return EGIDE_ERR_STATE;
    return EGIDE_OK;
#endif
}

/* ------------------------------------------------------------ client */

/* Wait (bounded) for the holder to exit, killing it when it does not; the
 * wait status, or -1 when there was none to wait for. */
static int s_reap(pid_t pid)
{
    if (pid <= 0)
        return -1;
    int st = 0;
    for (int i = 0; i < S_REAP_MS / 10; i++) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return st;
        if (r < 0 && errno != EINTR)
            return -1;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return st;
}

static void s_describe(int st, char *buf, size_t n)
{
    if (st < 0)
        snprintf(buf, n, "is gone");
    else if (WIFEXITED(st))
        snprintf(buf, n, "exited with status %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, n, "was killed by signal %d", WTERMSIG(st));
    else
        snprintf(buf, n, "stopped");
}

/* The holder is gone or must go: close our end, reap it, and say so once
 * (why: what we saw) unless quiet.  Returns the wait status. */
static int s_lost(egide_keyd_t *k, const char *why, bool quiet)
{
    pid_t pid = k->pid;
    if (k->fd >= 0)
        close(k->fd);
    k->fd = -1;
    k->pid = 0;
    int st = s_reap(pid);
    if (!quiet) {
        char what[64];
        s_describe(st, what, sizeof what);
        egide_log(EGIDE_LOG_ERROR,
                  "key holder (pid %d) %s (%s): signing and unwrapping fail as transient until "
                  "it is restarted, on the next request",
                  (int)pid, what, why);
    }
    return st;
}

/* Move n bytes to (send) or from the holder by the deadline.  EGIDE_OK,
 * EGIDE_ERR_TIMEOUT, or EGIDE_ERR_IO (EOF, error). */
static egide_rc s_xfer(int fd, uint8_t *buf, size_t n, bool send_it, int64_t deadline)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = send_it ? send(fd, buf + done, n - done, MSG_NOSIGNAL)
                            : recv(fd, buf + done, n - done, 0);
        if (r > 0) {
            done += (size_t)r;
            continue;
        }
        if (r == 0)
            return EGIDE_ERR_IO;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return EGIDE_ERR_IO;
        int64_t left = deadline - egide_mono_ms();
        if (left <= 0)
            return EGIDE_ERR_TIMEOUT;
        struct pollfd p = {fd, (short)(send_it ? POLLOUT : POLLIN), 0};
        if (poll(&p, 1, (int)(left > INT_MAX ? INT_MAX : left)) < 0 && errno != EINTR)
            return EGIDE_ERR_IO;
    }
    return EGIDE_OK;
}

/* One request, one answer (body into ans, at most S_MAX_ANSWER).  Any
 * failure ends the holder. */
static egide_rc s_roundtrip(egide_keyd_t *k, uint8_t *req, size_t rlen, uint8_t *ans, size_t *alen)
{
    int64_t deadline = egide_mono_ms() + EGIDE_KEYD_TIMEOUT_MS;
    uint8_t hdr[4];
    egide_rc rc = s_xfer(k->fd, req, rlen, true, deadline);
    if (!rc)
        rc = s_xfer(k->fd, hdr, 4, false, deadline);
    uint32_t n = rc ? 0 : s_get_u32(hdr);
    if (!rc && (n < 1 || n > S_MAX_ANSWER))
        rc = EGIDE_ERR_PROTO;
    if (!rc)
        rc = s_xfer(k->fd, ans, n, false, deadline);
    if (!rc)
        *alen = n;
    return rc;
}

static int s_exit_rc(int st)
{
    if (st >= 0 && WIFEXITED(st)) {
        int x = WEXITSTATUS(st);
        if (x == 127)
            return EGIDE_ERR_IO; /* exec failed */
        if (x > 0 && x < EGIDE_RC__COUNT)
            return x;
    }
    return EGIDE_ERR_PROTO;
}

/* Start a holder and ask for its keys.  EGIDE_OK with fd and pid set; else
 * nothing is left running and the code says why (see egide_keyd_new). */
static egide_rc s_start(egide_keyd_t *k)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        egide_log_warn("key holder: socketpair");
        return EGIDE_ERR_IO;
    }
    long maxfd = sysconf(_SC_OPEN_MAX);
    if (maxfd < 0 || maxfd > 65536)
        maxfd = 65536;
    pid_t pid = fork();
    if (pid < 0) {
        egide_log_warn("key holder: fork");
        close(sv[0]);
        close(sv[1]);
        return EGIDE_ERR_IO;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls until exec: this process may have
         * threads, and only this one was copied. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (sv[1] == EGIDE_KEYD_FD) {
            if (fcntl(sv[1], F_SETFD, 0) != 0)
                _exit(127);
        } else if (dup2(sv[1], EGIDE_KEYD_FD) != EGIDE_KEYD_FD) {
            _exit(127);
        }
#ifdef SYS_close_range
        if (syscall(SYS_close_range, EGIDE_KEYD_FD + 1, ~0U, 0) != 0)
#endif
            for (long fd = EGIDE_KEYD_FD + 1; fd < maxfd; fd++)
                close((int)fd);
        execv(k->argv[0], k->argv);
        _exit(127);
    }
    close(sv[1]);
    k->fd = sv[0];
    k->pid = pid;
    k->starts++;
    int fl = fcntl(k->fd, F_GETFL);
    if (fl < 0 || fcntl(k->fd, F_SETFL, fl | O_NONBLOCK) != 0) {
        s_lost(k, "fcntl", true);
        return EGIDE_ERR_IO;
    }
    uint8_t req[5] = {0, 0, 0, 1, EGIDE_KEYD_OP_PUBKEYS}, ans[S_MAX_ANSWER];
    size_t alen = 0;
    egide_rc rc = s_roundtrip(k, req, sizeof req, ans, &alen);
    if (rc == EGIDE_ERR_IO) /* it exited: its status says why */
        return (egide_rc)s_exit_rc(s_lost(k, "at start", true));
    if (!rc && (alen != S_MAX_ANSWER || ans[0] != EGIDE_OK || ans[1] == 0 ||
                (ans[1] & ~((1u << EGIDE_KEYD_SLOTS) - 1))))
        rc = EGIDE_ERR_PROTO;
    if (!rc && k->have_pub && (ans[1] != k->mask || memcmp(ans + 2, k->pub, sizeof k->pub) != 0)) {
        egide_log(EGIDE_LOG_ERROR, "key holder restarted with other keys than this daemon "
                                   "started with (key files replaced?): not used; restart "
                                   "the daemon");
        rc = EGIDE_ERR_STATE;
    }
    if (rc) {
        s_lost(k, "bad answer at start", true);
        return rc;
    }
    if (!k->have_pub) {
        k->mask = ans[1];
        memcpy(k->pub, ans + 2, sizeof k->pub);
        k->have_pub = true;
    }
    return EGIDE_OK;
}

/* May a holder be started now?  At most EGIDE_KEYD_RESPAWN_MAX in a window. */
static bool s_may_start(egide_keyd_t *k)
{
    int64_t now = egide_mono_ms();
    if (k->window_starts == 0 || now - k->window_ms >= EGIDE_KEYD_RESPAWN_WINDOW_MS) {
        k->window_ms = now;
        k->window_starts = 0;
        k->window_logged = false;
    }
    if (k->window_starts >= EGIDE_KEYD_RESPAWN_MAX) {
        if (!k->window_logged)
            egide_log(EGIDE_LOG_ERROR,
                      "key holder started %u times in %d s: not again before the window ends; "
                      "signing and unwrapping fail as transient until then",
                      k->window_starts, EGIDE_KEYD_RESPAWN_WINDOW_MS / 1000);
        k->window_logged = true;
        return false;
    }
    k->window_starts++;
    return true;
}

/* A running holder, started again when it is gone.  Lock held. */
static egide_rc s_ready(egide_keyd_t *k)
{
    if (k->fd >= 0) {
        /* It never speaks unasked: anything readable, or a hang-up, means
         * it is gone (killed, crashed) since the last request. */
        struct pollfd p = {k->fd, POLLIN, 0};
        if (poll(&p, 1, 0) > 0)
            s_lost(k, "seen before a request", false);
    }
    if (k->fd >= 0)
        return EGIDE_OK;
    if (!s_may_start(k))
        return EGIDE_ERR_UNAVAILABLE;
    egide_rc rc = s_start(k);
    if (rc) {
        egide_log(EGIDE_LOG_ERROR, "key holder %s could not be restarted: %s", k->argv[0],
                  egide_strerror(rc));
        return EGIDE_ERR_UNAVAILABLE;
    }
    egide_log(EGIDE_LOG_NOTICE, "key holder restarted (pid %d, start %u)", (int)k->pid, k->starts);
    return EGIDE_OK;
}

/* A request req (body after the 4 length bytes, which are filled here) and
 * its answer: status returned, data (exactly dlen bytes on EGIDE_OK) into
 * data. */
static egide_rc s_call(egide_keyd_t *k, uint8_t *req, size_t rlen, uint8_t *data, size_t dlen)
{
    s_put_u32(req, (uint32_t)(rlen - 4));
    pthread_mutex_lock(&k->lock);
    egide_rc rc = s_ready(k);
    uint8_t ans[S_MAX_ANSWER];
    size_t alen = 0;
    if (!rc) {
        egide_rc x = s_roundtrip(k, req, rlen, ans, &alen);
        if (!x && ans[0] == EGIDE_OK && alen != 1 + dlen)
            x = EGIDE_ERR_PROTO;
        if (!x && ans[0] != EGIDE_OK && (alen != 1 || ans[0] >= EGIDE_RC__COUNT))
            x = EGIDE_ERR_PROTO;
        if (x) {
            s_lost(k,
                   x == EGIDE_ERR_TIMEOUT ? "no answer in time"
                   : x == EGIDE_ERR_PROTO ? "answer malformed"
                                          : "no answer",
                   false);
            rc = EGIDE_ERR_UNAVAILABLE;
        } else {
            rc = (egide_rc)ans[0];
            if (!rc && data)
                memcpy(data, ans + 1, dlen);
        }
    }
    pthread_mutex_unlock(&k->lock);
    egide_wipe(ans, sizeof ans); /* a DH answer is a shared secret */
    return rc;
}

egide_rc egide_keyd_sign(egide_keyd_t *k, int slot, const char *label, const void *msg, size_t len,
                         uint8_t sig[64])
{
    size_t ll = label ? strlen(label) : 0;
    if (!k || !sig || slot < 0 || slot >= EGIDE_KEYD_SLOTS || (len > 0 && !msg))
        return EGIDE_ERR_INVALID;
    if (ll > EGIDE_KEYD_MAX_LABEL || len > EGIDE_KEYD_MAX_MSG)
        return EGIDE_ERR_LIMIT;
    size_t rlen = 4 + 3 + ll + len;
    uint8_t *req = malloc(rlen);
    if (!req)
        return EGIDE_ERR_NOMEM;
    req[4] = EGIDE_KEYD_OP_SIGN;
    req[5] = (uint8_t)slot;
    req[6] = (uint8_t)ll;
    for (size_t i = 0; i < ll; i++) /* the label without its NUL */
        req[7 + i] = (uint8_t)label[i];
    if (len)
        memcpy(req + 7 + ll, msg, len);
    egide_rc rc = s_call(k, req, rlen, sig, 64);
    egide_free_secret(req, rlen);
    return rc;
}

egide_rc egide_keyd_dh(egide_keyd_t *k, int slot, const uint8_t peer[32], uint8_t out[32])
{
    if (!k || !peer || !out || slot < 0 || slot >= EGIDE_KEYD_SLOTS)
        return EGIDE_ERR_INVALID;
    uint8_t req[4 + 2 + 32];
    req[4] = EGIDE_KEYD_OP_DH;
    req[5] = (uint8_t)slot;
    memcpy(req + 6, peer, 32);
    return s_call(k, req, sizeof req, out, 32);
}

egide_rc egide_keyd_send_raw(egide_keyd_t *k, const uint8_t *bytes, size_t len, bool then_close)
{
    if (!k || (!bytes && len))
        return EGIDE_ERR_INVALID;
    pthread_mutex_lock(&k->lock);
    egide_rc rc = s_ready(k);
    if (!rc) {
        int64_t deadline = egide_mono_ms() + EGIDE_KEYD_TIMEOUT_MS;
        uint8_t *copy = malloc(len ? len : 1), hdr[4], ans[S_MAX_ANSWER];
        egide_rc x = copy ? EGIDE_OK : EGIDE_ERR_NOMEM;
        if (!x && len)
            memcpy(copy, bytes, len);
        if (!x)
            x = s_xfer(k->fd, copy, len, true, deadline);
        /* Shutting our sending side makes a frame cut short look so. */
        if (!x && then_close && shutdown(k->fd, SHUT_WR) != 0)
            x = EGIDE_ERR_IO;
        if (!x)
            x = s_xfer(k->fd, hdr, 4, false, deadline);
        uint32_t n = x ? 0 : s_get_u32(hdr);
        if (!x && (n < 1 || n > S_MAX_ANSWER))
            x = EGIDE_ERR_PROTO;
        if (!x)
            x = s_xfer(k->fd, ans, n, false, deadline);
        free(copy);
        if (x && x != EGIDE_ERR_NOMEM) {
            s_lost(k, "after a raw request", false);
            rc = EGIDE_ERR_UNAVAILABLE;
        } else {
            rc = x ? x : (egide_rc)ans[0];
        }
    }
    pthread_mutex_unlock(&k->lock);
    return rc;
}

static egide_rc s_op_sign(void *holder, int slot, const char *label, const void *msg, size_t len,
                          uint8_t sig[64])
{
    return egide_keyd_sign(holder, slot, label, msg, len, sig);
}

static egide_rc s_op_dh(void *holder, int slot, const uint8_t peer[32], uint8_t out[32])
{
    return egide_keyd_dh(holder, slot, peer, out);
}

static const egide_key_holder_ops_t s_ops = {s_op_sign, s_op_dh};

/* egide-keyd next to this process's binary. */
static char *s_default_program(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return NULL;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (!slash)
        return NULL;
    *slash = 0;
    size_t len = strlen(self) + sizeof "/egide-keyd";
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s/egide-keyd", self);
    return p;
}

static void s_free(egide_keyd_t *k)
{
    /* argv: program, then (flag, path) pairs; the flags are static. */
    free(k->argv[0]);
    for (size_t i = 2; i < sizeof k->argv / sizeof k->argv[0]; i += 2)
        free(k->argv[i]);
    pthread_mutex_destroy(&k->lock);
    free(k);
}

egide_rc egide_keyd_new(const char *program, const char *const key_path[EGIDE_KEYD_SLOTS],
                        egide_keyd_t **out)
{
    if (!out || !key_path || (!key_path[0] && !key_path[1]))
        return EGIDE_ERR_INVALID;
    *out = NULL;
    egide_keyd_t *k = calloc(1, sizeof *k);
    if (!k)
        return EGIDE_ERR_NOMEM;
    pthread_mutex_init(&k->lock, NULL);
    k->fd = -1;
    static const char *const flags[EGIDE_KEYD_SLOTS] = {"-s", "-e"};
    size_t a = 0;
    k->argv[a++] = program ? strdup(program) : s_default_program();
    bool ok = k->argv[0] != NULL;
    for (int s = 0; ok && s < EGIDE_KEYD_SLOTS; s++) {
        if (!key_path[s])
            continue;
        k->argv[a++] = (char *)flags[s]; /* never written, never freed */
        ok = (k->argv[a++] = strdup(key_path[s])) != NULL;
    }
    if (!ok) {
        s_free(k);
        return EGIDE_ERR_NOMEM;
    }
    k->window_starts = 1; /* this first start counts */
    k->window_ms = egide_mono_ms();
    egide_rc rc = s_start(k);
    if (rc) {
        if (rc == EGIDE_ERR_IO)
            egide_log(EGIDE_LOG_ERROR, "key holder %s cannot run", k->argv[0]);
        s_free(k);
        return rc;
    }
    *out = k;
    return EGIDE_OK;
}

void egide_keyd_destroy(egide_keyd_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    egide_keyd_t *k = *self_p;
    pthread_mutex_lock(&k->lock);
    if (k->pid > 0)
        s_lost(k, "stopping", true);
    pthread_mutex_unlock(&k->lock);
    s_free(k);
    *self_p = NULL;
}

egide_rc egide_keyd_key(egide_keyd_t *k, int slot, EVP_PKEY **out)
{
    if (!out)
        return EGIDE_ERR_INVALID;
    *out = NULL;
    if (!k || slot < 0 || slot >= EGIDE_KEYD_SLOTS)
        return EGIDE_ERR_INVALID;
    if (!(k->mask & (1u << slot)))
        return EGIDE_ERR_NOTFOUND;
    int type = slot == EGIDE_KEYD_SLOT_SIGN ? EVP_PKEY_ED25519 : EVP_PKEY_X25519;
    return egide_key_new_held(type, k->pub[slot], &s_ops, k, slot, out);
}

pid_t egide_keyd_pid(egide_keyd_t *k)
{
    if (!k)
        return 0;
    pthread_mutex_lock(&k->lock);
    pid_t p = k->pid;
    pthread_mutex_unlock(&k->lock);
    return p;
}

unsigned egide_keyd_starts(egide_keyd_t *k)
{
    if (!k)
        return 0;
    pthread_mutex_lock(&k->lock);
    unsigned n = k->starts;
    pthread_mutex_unlock(&k->lock);
    return n;
}

/* ------------------------------------------------------------ start-up */

static egide_rc s_load_inline(const char *what, const char *path, egide_cert_use use,
                              EVP_PKEY **out)
{
    egide_rc rc = egide_pki_load_key(path, use, out);
    if (rc)
        egide_log(EGIDE_LOG_ERROR, "%s %s: %s%s", what, path, egide_strerror(rc),
                  rc == EGIDE_ERR_PERM ? " (chmod 600)" : "");
    return rc;
}

egide_rc egide_keyd_load(const char *holder, const char *program, const char *sign_path,
                         const char *enc_path, egide_keyd_t **kd, EVP_PKEY **sign, EVP_PKEY **enc)
{
    if (!kd || !sign || !sign_path || (enc_path && !enc))
        return EGIDE_ERR_INVALID;
    *kd = NULL;
    *sign = NULL;
    if (enc)
        *enc = NULL;
    egide_rc rc;
    if (holder && strcmp(holder, "inline") == 0) {
        rc = s_load_inline("signing key", sign_path, EGIDE_CERT_USE_SIGN, sign);
        if (!rc && enc_path)
            rc = s_load_inline("encryption key", enc_path, EGIDE_CERT_USE_ENC, enc);
    } else if (holder && strcmp(holder, "process") != 0) {
        egide_log(EGIDE_LOG_ERROR, "[keys] holder = %s: process or inline", holder);
        return EGIDE_ERR_CONFIG;
    } else {
        const char *paths[EGIDE_KEYD_SLOTS] = {sign_path, enc_path};
        rc = egide_keyd_new(program, paths, kd);
        if (rc)
            egide_log(EGIDE_LOG_ERROR, "key holder (egide-keyd) did not start: %s%s",
                      egide_strerror(rc), rc == EGIDE_ERR_PERM ? " (chmod 600 the key files)" : "");
        if (!rc)
            rc = egide_keyd_key(*kd, EGIDE_KEYD_SLOT_SIGN, sign);
        if (!rc && enc_path)
            rc = egide_keyd_key(*kd, EGIDE_KEYD_SLOT_ENC, enc);
        if (!rc)
            egide_log(EGIDE_LOG_INFO, "keys held by egide-keyd (pid %d)", (int)(*kd)->pid);
    }
    if (rc) {
        EVP_PKEY_free(*sign);
        *sign = NULL;
        if (enc) {
            EVP_PKEY_free(*enc);
            *enc = NULL;
        }
        egide_keyd_destroy(kd);
    }
    return rc;
}
