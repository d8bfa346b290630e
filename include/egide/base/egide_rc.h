/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_rc.h - the one error-code enum of libegide.
 *
 * Every public function that can fail returns an egide_rc.  Values are never
 * renumbered: they appear in logs, receipts' reason codes and exit statuses.
 * errno, zmq_errno(), ERR_get_error() and sqlite3_errmsg() are turned into one
 * of these at the module boundary, with one log line saying what failed.
 */
#ifndef EGIDE_RC_H
#define EGIDE_RC_H

typedef enum egide_rc {
    EGIDE_OK = 0,
    EGIDE_ERR_NOMEM = 1,          /* allocation failed */
    EGIDE_ERR_IO = 2,             /* file or socket I/O failed */
    EGIDE_ERR_PROTO = 3,          /* malformed wire or file data */
    EGIDE_ERR_AUTH = 4,           /* peer or sender not authenticated / not allowed */
    EGIDE_ERR_CRYPTO = 5,         /* a cryptographic primitive failed */
    EGIDE_ERR_DB = 6,             /* the SQLite store failed */
    EGIDE_ERR_CONFIG = 7,         /* bad configuration file or value */
    EGIDE_ERR_LIMIT = 8,          /* a size or count limit was exceeded */
    EGIDE_ERR_INVALID = 9,        /* bad argument from the caller */
    EGIDE_ERR_NOTFOUND = 10,      /* no such item */
    EGIDE_ERR_EXISTS = 11,        /* the item already exists */
    EGIDE_ERR_SIGNATURE = 12,     /* a signature did not verify */
    EGIDE_ERR_CERT = 13,          /* certificate chain, usage or name check failed */
    EGIDE_ERR_REVOKED = 14,       /* certificate revoked (CRL) */
    EGIDE_ERR_EXPIRED = 15,       /* certificate, directory or message expired */
    EGIDE_ERR_REPLAY = 16,        /* message already seen or outside the window */
    EGIDE_ERR_DECRYPT = 17,       /* AEAD decryption or unwrap failed */
    EGIDE_ERR_COMMITMENT = 18,    /* key commitment mismatch */
    EGIDE_ERR_NOT_RECIPIENT = 19, /* this node is not among the recipients */
    EGIDE_ERR_VERSION = 20,       /* unsupported version/suite, or version went backwards */
    EGIDE_ERR_PERM = 21,          /* file permissions too open */
    EGIDE_ERR_ROUTE = 22,         /* no route for this commune/type */
    EGIDE_ERR_RULE = 23,          /* access rules forbid this sender/type/recipient */
    EGIDE_ERR_TIMEOUT = 24,       /* an operation timed out */
    EGIDE_ERR_STATE = 25,         /* operation not valid in the current state */
    EGIDE_ERR_VALIDATION = 26,    /* payload failed schema validation */
    EGIDE_ERR_CONSISTENCY = 27,   /* audit log proof or consistency failed */
    EGIDE_ERR_AMBIGUOUS = 28,     /* input maps to several answers (e.g. postal code) */
    EGIDE_ERR_HASH = 29,          /* a hash did not match */
    EGIDE_ERR_FULL = 30,          /* disk or quota full: transient, retry later */
    EGIDE_ERR_UNAVAILABLE = 31,   /* the key holder is down: transient, retry later */
    EGIDE_RC__COUNT
} egide_rc;

/* Static, never-NULL English description of rc ("unknown error" if out of range). */
const char *egide_strerror(egide_rc rc);

/* Short stable identifier, e.g. "EGIDE_ERR_PROTO", for logs and JSON. */
const char *egide_rc_name(egide_rc rc);

#endif
