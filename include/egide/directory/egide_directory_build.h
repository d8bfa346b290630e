/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_directory_build.h - the directory authority's builder: three
 * human-edited files (and optionally the national list of communes) turned
 * into a checked draft, then into a signed directory.  `egide directory
 * build` is a thin command line over it; unit tests drive it directly.
 *
 * Inputs (every error is one line "file:line: message", or "file: message"
 * when no line applies, and nothing is built):
 *   nodes     INI, one [node-id] section per node: role, name (or
 *             display_name), status (active|suspended), signing_cert,
 *             encryption_cert, curve_public_key or curve_public_key_file,
 *             and for a broker endpoint.  Paths are relative to the file's
 *             directory; unset certificate/key paths default to
 *             PKI/nodes/<id>/{sign.crt,enc.crt,curve.public} when pki is
 *             given (a broker may have no encryption certificate).
 *   routes    CSV, a header line then one row per commune: commune (INSEE
 *             code), territory, and optionally parquet, court, police, crip,
 *             name, postal_codes (space-separated).  crip defaults to the
 *             only crip node.
 *   communes  optional CSV with columns insee_code (or code, commune), name
 *             and optionally postal_codes: every routed commune must exist
 *             there, its name and postal codes come from there when the
 *             route leaves them empty, and every commune of the department
 *             must be routed unless allow_unrouted.
 *   rules     INI, one [message.type] section per rule group (sections may
 *             repeat): from = sender roles, to = recipient roles, and for
 *             types routed by commune route = route fields (crip territory
 *             parquet court police).
 * Checks, in this order: nodes (then their certificates and keys), the
 * department, rules, communes, routes, unrouted communes, and finally that
 * every routed rule finds in every commune a node its 'to' lets receive.
 */
#ifndef EGIDE_DIRECTORY_BUILD_H
#define EGIDE_DIRECTORY_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "egide/base/egide_rc.h"

/* Told how far the load is: done of total nodes checked (their certificates
 * read and checked, the slow part of a large directory). */
typedef void (*egide_directory_build_progress_fn)(void *arg, size_t done, size_t total);

typedef struct egide_directory_build_opts {
    const char *nodes;           /* nodes INI file (required) */
    const char *routes;          /* routes CSV file (required) */
    const char *rules;           /* rules INI file (required) */
    const char *communes;        /* communes CSV file, or NULL */
    const char *pki;             /* PKI folder for default certificate/key paths, or NULL */
    const char *broker_endpoint; /* replaces every broker's endpoint, or NULL */
    const char *department;      /* NULL: the prefix of the first node id ("71") */
    const char *jurisdiction;    /* NULL: "fr-casf" */
    const char *referral_term;   /* NULL: "information signalante" for "nc-*"
                                    jurisdictions, else "information préoccupante" */
    bool allow_unrouted;         /* with communes: communes without a route are allowed */
    egide_directory_build_progress_fn progress; /* after each node, or NULL */
    void *progress_arg;                         /* progress's first argument */
} egide_directory_build_opts_t;

/* A checked draft: nodes with their loaded certificates and keys, routes and
 * rules.  Opaque; owns everything it holds. */
typedef struct egide_directory_build egide_directory_build_t;

/* Read and check the inputs named by opts.  On success *out is a draft (the
 * caller destroys it) and EGIDE_OK is returned.  Otherwise *out is NULL, err
 * holds one line, and the result is:
 *   EGIDE_ERR_CONFIG   an input is wrong: "file:line: message";
 *   EGIDE_ERR_INVALID  a required input is not named, or no valid department
 *                      can be found (give opts->department);
 *   EGIDE_ERR_NOMEM    out of memory.
 * err may be NULL when errsz is 0. */
egide_rc egide_directory_build_load(const egide_directory_build_opts_t *opts,
                                    egide_directory_build_t **out, char *err, size_t errsz);

/* Sign the draft as directory version (>= 1) issued at now_ms and valid for
 * valid_days (1..3660), with the authority's key and certificate (borrowed).
 * On success *out (caller frees) holds the signed directory and *out_len its
 * size.  Errors: EGIDE_ERR_INVALID for bad arguments, or the code of
 * egide_directory_sign() with its reason in err. */
egide_rc egide_directory_build_sign(const egide_directory_build_t *b, uint64_t version,
                                    int64_t now_ms, int64_t valid_days, EVP_PKEY *key, X509 *cert,
                                    uint8_t **out, size_t *out_len, char *err, size_t errsz);

/* The draft's department ("71", "2A", "988"); borrowed. */
const char *egide_directory_build_department(const egide_directory_build_t *b);
/* How many nodes, routed communes and access rules (one per sender role)
 * the draft holds. */
size_t egide_directory_build_n_nodes(const egide_directory_build_t *b);
size_t egide_directory_build_n_routes(const egide_directory_build_t *b);
size_t egide_directory_build_n_rules(const egide_directory_build_t *b);

/* NULL-safe, idempotent; sets *self_p to NULL. */
void egide_directory_build_destroy(egide_directory_build_t **self_p);

#endif
