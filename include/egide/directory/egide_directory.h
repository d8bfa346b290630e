/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_directory.h - the signed directory: every node with its keys, role
 * and status; which nodes cover each commune (INSEE code); which role may
 * send which message type to which roles; and the broker endpoints.
 *
 * A directory travels as a SignedDirectory (proto/egide.proto): the stored
 * bytes of a Directory, the directory authority's certificate and an Ed25519
 * signature over "egide-directory-v1\0" || directory bytes.  Loading one:
 *   1. checks the size cap (EGIDE_MAX_DIRECTORY) and the outer framing,
 *   2. verifies the signature with the caller's pinned anchor (the authority
 *      certificate) before parsing the directory itself, and requires the
 *      embedded certificate to be that anchor byte for byte,
 *   3. parses the Directory and validates every field (syntax of ids, known
 *      roles and message types, certificates that parse with the right key
 *      types, CURVE keys of 40 Z85 characters, routes and rules that only
 *      name existing nodes of fitting roles, no duplicates),
 *   4. refuses a version below the caller's minimum and an expired one,
 *   5. builds sorted indexes so that per-message lookups are O(log n).
 * A loaded directory is immutable and can be read from several threads.
 *
 * Routing (egide_directory_resolve) is by commune INSEE code, never by postal
 * code: egide_directory_postal_lookup lists the communes a postal code covers
 * so that a person chooses (one code may cover several communes).
 */
#ifndef EGIDE_DIRECTORY_H
#define EGIDE_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "egide.pb-c.h"
#include "egide/base/egide_limits.h"
#include "egide/base/egide_rc.h"

#define EGIDE_DIRECTORY_FORMAT_VERSION 1u
/* Bounds on what one directory may hold: EGIDE_DIRECTORY_MAX_* in egide_limits.h. */

typedef struct egide_directory egide_directory_t;

/* Load a SignedDirectory from bytes.
 *   signed_bytes/len: the serialized SignedDirectory (copied; the caller keeps
 *                     its buffer).  len > EGIDE_MAX_DIRECTORY: EGIDE_ERR_LIMIT.
 *   anchor:           the pinned directory-authority certificate (Ed25519),
 *                     borrowed.  The signature is verified with its key and
 *                     the embedded certificate must be this one.
 *   min_version:      refuse versions below this (EGIDE_ERR_VERSION); pass the
 *                     version already held (or held + 1 to require a newer one).
 *   now_ms:           refuse when now_ms > not_after_ms (EGIDE_ERR_EXPIRED) or
 *                     when the directory was issued more than
 *                     EGIDE_DEFAULT_CLOCK_SKEW_MS after now_ms (EGIDE_ERR_EXPIRED),
 *                     or when the anchor is outside its validity (EGIDE_ERR_CERT).
 *   out:              the new directory, the caller's (egide_directory_destroy).
 * Returns EGIDE_OK, EGIDE_ERR_INVALID (NULL arguments), EGIDE_ERR_LIMIT,
 * EGIDE_ERR_PROTO (malformed framing or an invalid field), EGIDE_ERR_SIGNATURE
 * (signature does not verify with the anchor), EGIDE_ERR_CERT (embedded
 * certificate is not the anchor, or the anchor is not an Ed25519 certificate
 * valid now), EGIDE_ERR_VERSION (format version not 1, or version below
 * min_version), EGIDE_ERR_EXPIRED, EGIDE_ERR_NOMEM.  The reason for a refusal
 * is logged as one warning line. */
egide_rc egide_directory_load(const uint8_t *signed_bytes, size_t len, X509 *anchor,
                              uint64_t min_version, int64_t now_ms, egide_directory_t **out);

/* Same, reading the file at path (at most EGIDE_MAX_DIRECTORY bytes; EGIDE_ERR_IO
 * when it cannot be read). */
egide_rc egide_directory_load_file(const char *path, X509 *anchor, uint64_t min_version,
                                   int64_t now_ms, egide_directory_t **out);

/* Load WITHOUT a trust anchor, for display tools only (`egide directory show`):
 * the signature is checked against the certificate the directory carries
 * (integrity, not authenticity) and expiry is not checked; every field is
 * validated as in egide_directory_load.  Daemons must never use this. */
egide_rc egide_directory_load_untrusted(const uint8_t *signed_bytes, size_t len,
                                        egide_directory_t **out);

/* Free a directory and NULL the pointer; NULL-safe. */
void egide_directory_destroy(egide_directory_t **self_p);

/* The directory's version, department code ("71", "988"), validity end. */
uint64_t egide_directory_version(const egide_directory_t *d);
const char *egide_directory_department(const egide_directory_t *d);
int64_t egide_directory_not_after_ms(const egide_directory_t *d);

/* The exact SignedDirectory bytes that were loaded, to serve as is (the broker
 * sends them in DirectorySync).  Borrowed, valid until destroy. */
const uint8_t *egide_directory_signed_bytes(const egide_directory_t *d, size_t *len);

/* The parsed Directory (borrowed, read-only, valid until destroy). */
const Egide__V1__Directory *egide_directory_pb(const egide_directory_t *d);

/* The node with this id, or NULL.  O(log n). */
const Egide__V1__NodeEntry *egide_directory_node(const egide_directory_t *d, const char *node_id);

/* The node whose CURVE transport key (Z85, 40 characters) is curve_z85, or
 * NULL: used by the broker's ZAP handler.  O(log n). */
const Egide__V1__NodeEntry *egide_directory_node_by_curve(const egide_directory_t *d,
                                                          const char *curve_z85);

/* The first broker endpoint (a valid directory has at least one). */
const Egide__V1__BrokerEndpoint *egide_directory_broker(const egide_directory_t *d);

/* The route of a commune (INSEE code), or NULL.  O(log n). */
const Egide__V1__RouteEntry *egide_directory_route(const egide_directory_t *d, const char *commune);

/* The rule for (sender role, message type), or NULL.  O(log n). */
const Egide__V1__AccessRule *egide_directory_rule(const egide_directory_t *d,
                                                  const char *sender_role, const char *type);

/* The communes whose postal codes include postal_code: returns how many there
 * are (0 for none or a malformed code) and stores the first min(count, max) of
 * them, in INSEE-code order, into out[] (borrowed pointers). */
size_t egide_directory_postal_lookup(const egide_directory_t *d, const char *postal_code,
                                     const Egide__V1__RouteEntry **out, size_t max);

/* The recipients of a message of `type` sent by a node of `sender_role` about
 * a child living in `commune`: for each route field the rule lists (route_to,
 * in that order), the node the commune's route names, without duplicates and
 * leaving out suspended nodes.
 *   ids: set to a NULL-terminated array of node ids, the caller's to free
 *        with egide_directory_ids_free (NULL on error).
 * Returns EGIDE_OK, EGIDE_ERR_INVALID (NULL argument), EGIDE_ERR_VALIDATION
 * (type not in the catalogue), EGIDE_ERR_RULE (no rule lets sender_role send
 * type), EGIDE_ERR_ROUTE (commune malformed, unknown, of another department;
 * the rule has no route_to, i.e. the type is addressed explicitly; or every
 * routed node is suspended), EGIDE_ERR_NOMEM. */
egide_rc egide_directory_resolve(const egide_directory_t *d, const char *sender_role,
                                 const char *type, const char *commune, char ***ids);

/* Free an array from egide_directory_resolve and NULL the pointer; NULL-safe. */
void egide_directory_ids_free(char ***ids);

/* The broker's check of an envelope: the sender exists and is active, the
 * type is in the catalogue, a rule lets the sender's role send it, and every
 * recipient exists, is active, has a role the rule allows, and appears once.
 *   reason: set to an Egide__V1__ReasonCode (REASON_NONE on success).
 * Returns EGIDE_OK, or:
 *   EGIDE_ERR_NOTFOUND  REASON_UNKNOWN_SENDER / REASON_UNKNOWN_RECIPIENT
 *   EGIDE_ERR_AUTH      REASON_NODE_SUSPENDED (sender or a recipient)
 *   EGIDE_ERR_RULE      REASON_UNKNOWN_TYPE, REASON_FORBIDDEN_TYPE,
 *                       REASON_FORBIDDEN_RECIPIENT, REASON_NO_RECIPIENT (n == 0)
 *   EGIDE_ERR_LIMIT     REASON_OVERSIZE (n > EGIDE_MAX_RECIPIENTS)
 *   EGIDE_ERR_PROTO     REASON_MALFORMED (a NULL id or the same recipient twice)
 *   EGIDE_ERR_INVALID   REASON_INTERNAL (d, type or reason NULL).
 * Cost: O(n log nodes), no allocation. */
egide_rc egide_directory_check_send(const egide_directory_t *d, const char *sender_id,
                                    const char *type, const char *const *recipient_ids, size_t n,
                                    int *reason);

/* true when the node exists and is active. */
bool egide_directory_node_active(const Egide__V1__NodeEntry *node);

/* Validate a Directory as the loader does (everything but signature, version
 * floor and expiry).  On failure writes one English sentence naming the
 * offending item into err (may be NULL) and returns EGIDE_ERR_PROTO or
 * EGIDE_ERR_VERSION (format version). */
egide_rc egide_directory_validate(const Egide__V1__Directory *dir, char *err, size_t errlen);

/* Validate dir, serialize it, sign it with the authority key and wrap it with
 * the authority certificate: *out is a SignedDirectory the caller frees
 * (free()).  The signature is checked back with cert's key before returning,
 * so a key that does not match the certificate gives EGIDE_ERR_CERT.
 * Returns EGIDE_OK, EGIDE_ERR_PROTO (invalid directory, reason in err),
 * EGIDE_ERR_LIMIT (larger than EGIDE_MAX_DIRECTORY), EGIDE_ERR_CERT,
 * EGIDE_ERR_CRYPTO, EGIDE_ERR_NOMEM. */
egide_rc egide_directory_sign(const Egide__V1__Directory *dir, EVP_PKEY *authority_key,
                              X509 *authority_cert, uint8_t **out, size_t *out_len, char *err,
                              size_t errlen);

/* Syntax checks shared with the builder. */
bool egide_directory_node_id_valid(const char *id);     /* [a-z0-9] then [a-z0-9._-], <= 64 */
bool egide_directory_commune_valid(const char *code);   /* 5 chars: 2 digits|2A|2B + 3 digits */
bool egide_directory_department_valid(const char *dep); /* "71", "2A", "974", "988" */
bool egide_directory_z85_key_valid(const char *z85);    /* 40 Z85 characters */
bool egide_directory_postal_valid(const char *pc);      /* 5 digits */
/* Well-formed UTF-8 of at most max bytes without control characters (names). */
bool egide_directory_text_valid(const char *s, size_t max);
/* true when the commune belongs to the department (its code starts with it). */
bool egide_directory_commune_in_department(const char *commune, const char *department);

#endif
