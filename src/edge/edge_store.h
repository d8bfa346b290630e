/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_store.h - the edge's durable state as named, checked operations
 * behind one table of functions (after OpenSMTPD's queue_backend.c and
 * GNUnet's datastore plugins), so that another backend slots in beside
 * edge_store_sqlite.c and passes the same conformance test
 * (tests/unit/test_edge_store.c).
 *
 * What is kept: meta (key -> bytes: the directory, the witnessed checkpoint,
 * an audit alert, the sender sequence); the outbox (the exact sealed bytes,
 * so retries are byte-identical, replaced only when the broker refused
 * their sequence as a replay and they are re-signed under a fresh one, or
 * refused a recipient key renewed meanwhile and they are sealed again
 * from the kept copy of their content key, held sealed while QUEUED only)
 * with one state per recipient, and for the types that make observatory
 * events the sender's own copy of the payload sealed (read by the export
 * only, never sent); the inbox
 * (the opened payload and the DELIVERED receipt sent for it, so a duplicate
 * gets the same bytes again); the envelopes refused on receipt with the
 * REJECTED receipt sent; every verified receipt received; the cases
 * (messages linked by in_reply_to or by the payload's case reference) and
 * the legal obligations held at this node, opened and closed in the same
 * transaction as the message that starts or closes them (edge_oblig.c),
 * never recomputed on read.
 *
 * Contract for every operation:
 *  - a NULL store or a required argument missing -> EGIDE_ERR_INVALID and
 *    nothing changes;
 *  - a storage failure (I/O error, full disk, busy, corruption) ->
 *    EGIDE_ERR_IO, EGIDE_ERR_NOMEM or EGIDE_ERR_DB, logged once by the
 *    backend (never with data).  Callers treat it as TRANSIENT: nothing is
 *    signed because of it, nothing is acknowledged, the peer retries.  It is
 *    never answered with a REJECTED receipt;
 *  - EGIDE_ERR_NOTFOUND only where documented;
 *  - a write runs inside the caller's transaction when one is open
 *    (begin/commit/rollback), else on its own.
 * Buffers returned through uint8_t ** / T ** are the caller's to free()
 * (payloads with egide_free_secret or edge_inbox_row_clear); strings in row
 * structs are copied and NUL-terminated (truncated to their field).
 *
 * A store handle is used by one thread at a time; the loop and the API each
 * open their own (the API: one write handle, and one read-only handle per
 * HTTP worker, open_readonly).
 */
#ifndef EGIDE_EDGE_STORE_H
#define EGIDE_EDGE_STORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "egide/base/egide_limits.h"
#include "egide/base/egide_rc.h"
#include "egide/domain/egide_deadline.h"

/* ---- states ---------------------------------------------------------------
 * Stored as these integers: never renumber. */

/* An outbox message as the broker saw it. */
typedef enum edge_out_state {
    EDGE_OUT_QUEUED = 0,   /* sealed, not yet ACCEPTED by the broker (resent) */
    EDGE_OUT_ACCEPTED = 1, /* the broker's ACCEPTED receipt is held */
    EDGE_OUT_REJECTED = 2, /* the broker refused it (reason kept) */
    EDGE_OUT_EXPIRED = 3,  /* its expiry passed before acceptance */
} edge_out_state;
#define EDGE_OUT_STATE__COUNT 4

/* One recipient of an outbox message. */
typedef enum edge_rcpt_state {
    EDGE_RCPT_PENDING = 0,      /* no answer from the recipient yet ("queued") */
    EDGE_RCPT_DELIVERED = 1,    /* its signed DELIVERED receipt is held */
    EDGE_RCPT_REJECTED = 2,     /* refused by it, or by the broker for it */
    EDGE_RCPT_ACKNOWLEDGED = 3, /* a person acknowledged it (a message of its own) */
    EDGE_RCPT_EXPIRED = 4,      /* the broker gave up on it at expiry */
} edge_rcpt_state;
#define EDGE_RCPT_STATE__COUNT 5

/* A received message. */
typedef enum edge_in_state {
    EDGE_IN_DELIVERED = 1,    /* stored, DELIVERED receipt sent */
    EDGE_IN_ACKNOWLEDGED = 3, /* acknowledged through the API */
} edge_in_state;

/* API names ("queued", "accepted", ...; "unknown" out of range).  Static. */
const char *edge_out_state_name(int s);
const char *edge_rcpt_state_name(int s);
const char *edge_in_state_name(int s);
/* A sent message's overall state, as the API shows it: never better than
 * its worst recipient, so a refusal is never hidden behind "delivered".
 * From the stored state st and the n recipients r (r may be NULL when n
 * is 0), the first that applies:
 *   "rejected" / "expired"  st is REJECTED / EXPIRED (the broker's answer),
 *                           or every recipient is rejected or expired
 *                           ("rejected" when any one is rejected);
 *   "partly_rejected"       some recipient rejected it, others did not;
 *   "partly_expired"        some recipient expired (none rejected), others
 *                           did not;
 *   "queued"                st is QUEUED (not yet accepted);
 *   "accepted"              accepted, some recipient not answered yet;
 *   "delivered"             every recipient delivered or acknowledged,
 *                           not all acknowledged;
 *   "acknowledged"          every recipient acknowledged.
 * The recipients' own states say which.  Static strings. */
struct edge_rcpt_row;
const char *edge_overall_state(edge_out_state st, const struct edge_rcpt_row *r, size_t n);
/* true when name is one of the overall states above. */
bool edge_overall_state_known(const char *name);
/* The state for an API name; EGIDE_ERR_INVALID when unknown. */
egide_rc edge_out_state_parse(const char *name, edge_out_state *out);
egide_rc edge_in_state_parse(const char *name, edge_in_state *out);

/* What edge_store_ops_t.inbox_put found. */
typedef enum edge_inbox_put_result {
    EDGE_INBOX_STORED = 0,    /* a new row */
    EDGE_INBOX_DUPLICATE = 1, /* same msg_id and same hash: the stored receipt is returned */
    EDGE_INBOX_CONFLICT = 2,  /* same msg_id, another hash: nothing written */
} edge_inbox_put_result;

/* ---- rows ---------------------------------------------------------------- */

#define EDGE_TYPE_MAX 64 /* message type names, content types */

/* A sealed message to queue (outbox_add).  Borrowed pointers. */
typedef struct edge_outbox_msg {
    const uint8_t *msg_id;       /* 16 bytes */
    uint64_t seq;                /* sender_seq, unique */
    const char *type;            /* message type */
    int urgency;                 /* Egide__V1__Urgency */
    const uint8_t *in_reply_to;  /* 16 bytes or NULL */
    int64_t created_ms;          /* header times */
    int64_t expires_ms;          /* */
    const uint8_t *envelope;     /* the sealed bytes, sent as they are */
    size_t envelope_len;         /* > 0 */
    const uint8_t *sha256;       /* 32 bytes: the envelope hash */
    const char *const *rcpt_ids; /* recipients' node ids */
    size_t n_rcpt;               /* 1..EGIDE_MAX_RECIPIENTS */
    const char *case_ref;        /* the payload's case reference, NULL or "" = none */
    const char *commune;         /* the payload's commune (facts.commune), NULL or "" = none */
    int64_t *case_id;            /* may be NULL: gets the case the message joined */
    /* The sender's own copy of what it sealed, for the observatory export
     * (outbox_range): NULL / 0 = none kept.  Never sent: only the
     * envelope leaves the edge. */
    const char *content_type; /* the payload's content type; required with a payload */
    const uint8_t *payload;   /* the plaintext payload, or NULL */
    size_t payload_len;       /* 0 with a NULL payload */
    /* The kept copy of the content key, sealed to this node's own
     * encryption key (egide_envelope_seal_kept), kept while QUEUED so the
     * message can be sealed again for a renewed recipient key
     * (outbox_reseal); erased when it leaves QUEUED.  NULL / 0 = none. */
    const uint8_t *kept;
    size_t kept_len; /* 1..4096 with kept, else 0 */
} edge_outbox_msg_t;

/* An outbox message as listed (no envelope bytes). */
typedef struct edge_outbox_row {
    uint8_t msg_id[16];
    uint64_t seq;
    char type[EDGE_TYPE_MAX];
    int urgency;
    int64_t created_ms, expires_ms;
    uint8_t sha256[32];
    edge_out_state state;
    int attempts;      /* sends so far */
    int reason;        /* the broker's reason when rejected, else 0 */
    bool has_accepted; /* accepted_ms and leaf_index are set */
    int64_t accepted_ms;
    int64_t leaf_index; /* the broker's audit leaf for the acceptance */
    bool has_in_reply_to;
    uint8_t in_reply_to[16];
    int resequenced;   /* times re-signed under a fresh seq (outbox_resequence) */
    int64_t case_id;   /* its case; 0 = none (queued before the cases migration) */
    char commune[8];   /* the payload's commune as queued, "" = none */
    char case_ref[64]; /* the payload's case reference as queued, "" = none */
    int resealed;      /* times sealed again for renewed recipient keys (outbox_reseal) */
    bool has_kept;     /* the kept copy of its content key is held (outbox_kept) */
} edge_outbox_row_t;

/* One recipient's state. */
typedef struct edge_rcpt_row {
    char node_id[EGIDE_MAX_NODE_ID + 1];
    edge_rcpt_state state;
    bool has_done; /* done_ms set (delivered, rejected or expired time) */
    int64_t done_ms;
    bool has_acknowledged;
    int64_t acknowledged_ms;
    int reason; /* 0 = none */
} edge_rcpt_row_t;

/* A due outbox message (outbox_due callback).  Borrowed for the call only. */
typedef struct edge_outbox_due {
    const uint8_t *msg_id; /* 16 bytes */
    uint64_t seq;
    const uint8_t *envelope;
    size_t envelope_len;
    int attempts;
} edge_outbox_due_t;
/* Return 0 to go on, anything else to stop the iteration. */
typedef int (*edge_outbox_due_fn)(const edge_outbox_due_t *m, void *arg);

/* A received message to store (inbox_put).  Borrowed pointers. */
typedef struct edge_inbox_msg {
    const uint8_t *msg_id; /* 16 bytes */
    const uint8_t *sha256; /* 32 bytes */
    const char *sender_id;
    const char *type;
    int urgency;
    const uint8_t *in_reply_to; /* 16 bytes or NULL */
    int64_t created_ms, received_ms;
    const char *content_type;
    const uint8_t *payload; /* may be NULL when payload_len is 0 */
    size_t payload_len;
    const uint8_t *receipt; /* the signed DELIVERED receipt */
    size_t receipt_len;     /* > 0 */
    const char *case_ref;   /* the payload's case reference, NULL or "" = none */
    const char *commune;    /* the payload's commune (facts.commune), NULL or "" = none */
    int64_t *case_id;       /* may be NULL: gets the case a STORED message joined (else 0) */
} edge_inbox_msg_t;

/* A received message as read back. */
typedef struct edge_inbox_row {
    uint8_t msg_id[16];
    uint8_t sha256[32];
    char sender_id[EGIDE_MAX_NODE_ID + 1];
    char type[EDGE_TYPE_MAX];
    int urgency;
    int64_t created_ms, received_ms;
    edge_in_state state;
    bool has_acknowledged;
    int64_t acknowledged_ms;
    bool has_in_reply_to;
    uint8_t in_reply_to[16];
    char content_type[EDGE_TYPE_MAX * 2];
    uint8_t *payload; /* inbox_get with want_payload only; the caller's */
    size_t payload_len;
    int64_t case_id;   /* its case; 0 = none (stored before the cases migration) */
    char commune[8];   /* the payload's commune as stored, "" = none */
    char case_ref[64]; /* the payload's case reference as stored, "" = none */
} edge_inbox_row_t;
/* Wipe and free row->payload; the row may be reused.  NULL-safe. */
void edge_inbox_row_clear(edge_inbox_row_t *row);

/* A sent message with the sender's own copy of its payload (outbox_range). */
typedef struct edge_sent_row {
    uint8_t msg_id[16];
    char type[EDGE_TYPE_MAX];
    int64_t created_ms;                   /* the header's created time */
    char content_type[EDGE_TYPE_MAX * 2]; /* as kept by outbox_add */
    uint8_t *payload;                     /* the caller's: clear with edge_sent_row_clear */
    size_t payload_len;
} edge_sent_row_t;
/* Wipe and free row->payload; the row may be reused.  NULL-safe. */
void edge_sent_row_clear(edge_sent_row_t *row);

/* A verified receipt received (receipt_put / receipt_list). */
typedef struct edge_receipt_row {
    uint8_t sha256[32]; /* the receipt's hash: its key */
    uint8_t msg_id[16];
    int kind; /* Egide__V1__ReceiptKind */
    char issuer[EGIDE_MAX_NODE_ID + 1];
    char recipient[EGIDE_MAX_NODE_ID + 1]; /* "" = none */
    int64_t time_ms;
    int reason;
    bool has_leaf;
    int64_t leaf_index;
} edge_receipt_row_t;

/* ---- cases and obligations ----------------------------------------------
 *
 * A case is the set of messages linked by in_reply_to or by the payload's
 * case reference.  inbox_put (a STORED message) and outbox_add resolve it in
 * the message's own transaction, first that applies:
 *   1. the message's id is already in case_msgs (a reply to it came first
 *      and left a placeholder): that case;
 *   2. in_reply_to names a message (or placeholder) of a case: that case;
 *   3. the case reference names a case (cases.ref): that case;
 *   4. a new case.
 * The message is written to case_msgs, and so is its in_reply_to parent when
 * it is not held here (a placeholder, so siblings replying to the same
 * unknown parent join one case).  A case without a reference takes the
 * first one a message brings.  Two cases are never merged (a message whose
 * parent and reference name different cases joins its parent's).  Rows
 * stored before the cases migration keep case_id NULL (not backfilled). */
typedef struct edge_case_row {
    int64_t id;          /* > 0 */
    char ref[64];        /* the case reference, "" = not known yet */
    int64_t created_ms;  /* the first message's time at this node */
    int64_t updated_ms;  /* the last message's time at this node */
    bool has_origin;     /* origin_ms is known here */
    int64_t origin_ms;   /* when this node received the referral by its own clock (the CRIP),
                            or the origin an evaluation.assignment carried (a TAS) */
    bool has_declared;   /* declared_ms is known */
    int64_t declared_ms; /* the sender's own received_at, shown beside the origin */
} edge_case_row_t;

/* Who an obligation row is for: the node that must act, or the CRIP
 * overseeing another node's act.  Stored as 'act' / 'oversee'. */
typedef enum edge_oblig_role {
    EDGE_OBLIG_ACT = 0,
    EDGE_OBLIG_OVERSEE = 1,
} edge_oblig_role;
/* "act", "oversee" ("unknown" out of range); parse: EGIDE_ERR_INVALID when
 * unknown. */
const char *edge_oblig_role_name(int r);
egide_rc edge_oblig_role_parse(const char *name, edge_oblig_role *out);

/* One stored obligation.  Its state is one of EGIDE_DEADLINE_OPEN, _MET,
 * _LATE (closed after due_ms) or _RELEASED (this node's act released by a
 * message it sent, e.g. routing.misrouted); "overdue" is never stored: it
 * is "open and due_ms < now" at read time.  Invariant: closed_ms and
 * closed_by are set exactly when the state is not OPEN. */
typedef struct edge_obligation {
    int64_t id;                        /* > 0, set by the store */
    int64_t case_id;                   /* 0 = none (a yearly obligation) */
    char name[48];                     /* the profile's deadline name */
    int year;                          /* yearly ones (observatory_export): the year; else 0 */
    char actor[EGIDE_MAX_NODE_ID + 1]; /* node id that must act */
    edge_oblig_role role;              /* act or oversee */
    uint8_t start_msg[16];             /* the message that started it */
    char start_type[EDGE_TYPE_MAX];    /* its type */
    int64_t start_ms;                  /* the clock's origin */
    int64_t declared_ms;               /* the sender's own time, shown beside; 0 = none */
    int64_t due_ms;                    /* when it is due */
    bool practice;                     /* a practice target, not a legal term */
    char label[192];                   /* the profile's label */
    char source[128];                  /* legal source */
    egide_deadline_state state;        /* OPEN, MET, LATE or RELEASED */
    int64_t closed_ms;                 /* when closed or released; 0 = open */
    bool has_closed_by;                /* closed_by is set */
    uint8_t closed_by[16];             /* the message that closed or released it */
    int occurrence;                    /* 1, 2, ... within (case, name, year); set by the store */
    bool recurring;                    /* obligation_open only: open the next occurrence */
} edge_obligation_t;

/* What obligation_list and obligation_count select.  Zero it, then set. */
typedef enum edge_oblig_query {
    EDGE_OBLIG_Q_ANY = 0,
    EDGE_OBLIG_Q_OPEN,     /* state open (overdue ones included) */
    EDGE_OBLIG_Q_OVERDUE,  /* state open and due_ms < now_ms */
    EDGE_OBLIG_Q_MET,      /* closed on or before due */
    EDGE_OBLIG_Q_LATE,     /* closed after due */
    EDGE_OBLIG_Q_RELEASED, /* released by this node */
} edge_oblig_query;
#define EDGE_OBLIG_Q__COUNT 6
/* "any", "open", "overdue", "met", "late", "released"; parse:
 * EGIDE_ERR_INVALID when unknown. */
const char *edge_oblig_query_name(int q);
egide_rc edge_oblig_query_parse(const char *name, edge_oblig_query *out);

typedef struct edge_oblig_filter {
    edge_oblig_query state; /* which rows */
    int role;               /* EDGE_OBLIG_ACT, EDGE_OBLIG_OVERSEE, or -1 = any */
    bool has_case;          /* only case case_id (0 = the yearly ones) */
    int64_t case_id;
    int64_t now_ms;     /* for OVERDUE */
    bool has_due_after; /* only due_ms >= due_after_ms */
    int64_t due_after_ms;
    bool has_due_before; /* only due_ms < due_before_ms */
    int64_t due_before_ms;
    bool has_cursor; /* only rows strictly after (cursor_due_ms, cursor_id) */
    int64_t cursor_due_ms;
    int64_t cursor_id;
    size_t limit; /* 1..EDGE_OBLIG_PAGE_MAX (obligation_list only) */
} edge_oblig_filter_t;

/* The next page's cursor (obligation_list). */
typedef struct edge_oblig_cursor {
    bool more;      /* another page follows: pass due_ms/id as the filter's cursor */
    int64_t due_ms; /* the last row's due time */
    int64_t id;     /* the last row's id */
} edge_oblig_cursor_t;

/* obligation_counts: by state, overdue apart (open + overdue = every open
 * row), all through the (state, due_ms) index. */
typedef struct edge_oblig_counts {
    int64_t open;    /* open, not yet due at now_ms */
    int64_t overdue; /* open, due_ms < now_ms */
    int64_t met;
    int64_t late;
    int64_t released;
} edge_oblig_counts_t;

#define EDGE_OBLIG_PAGE_MAX 500 /* obligation_list limit */
/* obligation_count counts at most this many + 1: past it, the total is a
 * lower bound (the API says total_exact false), so a count costs at most
 * that much however many years the store holds. */
#define EDGE_OBLIG_COUNT_CAP 10000

typedef struct edge_store_counts {
    int64_t outbox_queued;                   /* outbox messages in EDGE_OUT_QUEUED */
    int64_t inbox;                           /* inbox messages */
    int64_t by_rcpt[EDGE_RCPT_STATE__COUNT]; /* recipients per state */
} edge_store_counts_t;

/* Limits the reads enforce (the API's paging). */
#define EDGE_STORE_LIST_MAX     EGIDE_LIST_PAGE_MAX /* outbox_list / inbox_list limit */
#define EDGE_STORE_RECEIPTS_MAX 1024                /* receipt_list, per message */
#define EDGE_IDEM_KEY_MAX       128                 /* bytes of an idempotency key */

/* ---- accounts (personal accounts of the web pages: edge_accounts.h) ----- */

#define EDGE_USER_NAME_MAX 64    /* bytes of an account name */
#define EDGE_PWHASH_MAX    128   /* bytes of a stored password hash string (Argon2id, NUL incl.) */
#define EDGE_AUTH_KEY_MAX  96    /* bytes of a lockout key ("u:" name, "s:" address) */
#define EDGE_USERS_MAX     10000 /* user_list */

/* One personal account.  pwhash is libsodium's crypto_pwhash_str() string
 * (it carries its own algorithm, parameters and salt). */
typedef struct edge_user_row {
    char name[EDGE_USER_NAME_MAX + 1]; /* [a-z0-9._-], 1..EDGE_USER_NAME_MAX */
    int role;                          /* edge_role (edge_accounts.h) */
    bool disabled;                     /* a disabled account cannot log in */
    char pwhash[EDGE_PWHASH_MAX];      /* empty in user_list rows */
    int64_t created_ms, updated_ms;    /* account created, last changed */
} edge_user_row_t;

/* One session, as session_get returns it: joined with its account, whose
 * role and disabled flag are read at each lookup, never copied. */
typedef struct edge_session_row {
    uint8_t id_sha256[32];             /* SHA-256 of the session id (the id is never stored) */
    char user[EDGE_USER_NAME_MAX + 1]; /* the account */
    int role;                          /* the account's role now */
    bool disabled;                     /* the account is disabled now */
    int64_t created_ms;                /* login time (absolute expiry counts from it) */
    int64_t last_ms;                   /* last request (idle expiry counts from it) */
} edge_session_row_t;

/* ---- known child (edge_known_child.c) and the export's inbox pages ------
 * The child and household keys of the referrals a CRIP received
 * (egide_known_child.h), in the transaction that stores the message. */

#define EDGE_KC_HEX_LEN       64                    /* a child or household key, hex */
#define EDGE_KC_RELATED_MAX   100                   /* kc_related: rows per child and relation */
#define EDGE_STORE_PAGE_MAX   500                   /* inbox_range: rows per page */
#define EDGE_STORE_PAGE_BYTES (16u * 1024u * 1024u) /* inbox_range: payload bytes per page */

/* One child of a received referral (kc_put / kc_get). */
typedef struct edge_kc_row {
    int child;                               /* its index in the payload's children */
    int status;                              /* egide_kc_status: why it has no child key */
    char child_key[EDGE_KC_HEX_LEN + 1];     /* "" = not comparable */
    char household_key[EDGE_KC_HEX_LEN + 1]; /* "" = household not keyed */
} edge_kc_row_t;

/* How an earlier message relates to a child (kc_related). */
typedef enum edge_kc_relation {
    EDGE_KC_SAME_CHILD = 0, /* same child key */
    EDGE_KC_SIBLING = 1,    /* same household key, another child key */
} edge_kc_relation;

/* An earlier message about the same child or a sibling. */
typedef struct edge_kc_related {
    uint8_t msg_id[16];
    int child;           /* the child's index in that message */
    int64_t received_ms; /* when that message was received */
    int64_t case_id;     /* the case it belongs to (case_msgs), 0 = none */
} edge_kc_related_t;

/* ---- paged lists (the API's readers) -------------------------------------
 * A page is read after a cursor (the last row of the previous page) in a
 * fixed order: the outbox newest first by seq, the inbox newest first by
 * (received_ms, msg_id).  A filtered outbox page looks at most
 * EDGE_STORE_SCAN_MAX messages (the overall state depends on the
 * recipients): it may then hold fewer than limit rows, with more set.
 * more is set whenever rows follow, and never when none do, except that
 * it is set when a filtered outbox page stopped at the scan bound. */
#define EDGE_STORE_SCAN_MAX 5000

typedef struct edge_page_q {
    const char *state;    /* outbox: an overall state (edge_overall_state_known), inbox: "delivered"
                             or "acknowledged"; NULL = any */
    size_t limit;         /* 1..EDGE_STORE_LIST_MAX */
    bool has_after;       /* continue after the cursor below */
    int64_t after_key;    /* outbox: seq; inbox: received_ms */
    uint8_t after_id[16]; /* inbox: msg_id (ties of received_ms) */
} edge_page_q_t;

typedef struct edge_page {
    bool more;           /* rows may follow: continue after next_* */
    int64_t next_key;    /* the cursor of the next page (as edge_page_q_t.after_*) */
    uint8_t next_id[16]; /* */
} edge_page_t;

/* ---- cases and search (wt-http) ------------------------------------------
 * Searches read an index range in time order (newest first, then by id),
 * chosen by the most selective filter given (sender, commune, type, state,
 * else time alone); the other filters are checked row by row, on at most
 * EDGE_STORE_SCAN_MAX rows per page, so a page costs at most that much
 * whatever the store holds.  A page may then hold fewer rows than asked,
 * with more set and the cursor where the scan stopped: never cut silently.
 * total counts the matches among the first EDGE_SEARCH_COUNT_CAP rows of
 * the range: total_exact is false when the range goes on (total is then a
 * lower bound). */
#define EDGE_SEARCH_COUNT_CAP 2000 /* rows a search's total looks at */
#define EDGE_SEARCH_REF_MAX   63   /* bytes of a case reference searched */
#define EDGE_SEARCH_PAGE_MAX  500  /* search and case pages */
#define EDGE_CASE_MSGS_MAX    500  /* messages of one box shown in a case */

typedef struct edge_search_q {
    bool outbox;          /* the box searched (inbox: by received_ms; outbox: by created_ms) */
    const char *type;     /* message type, exact; NULL = any */
    int state;            /* stored state (edge_in_state / edge_out_state); < 0 = any */
    int urgency;          /* Egide__V1__Urgency; < 0 = any */
    const char *commune;  /* commune code, exact; NULL = any */
    const char *sender;   /* sender node id, exact (inbox only); NULL = any */
    const char *ref;      /* case reference: ASCII case-insensitive substring, 1..
                             EDGE_SEARCH_REF_MAX bytes; NULL = any */
    bool has_from;        /* time >= from_ms */
    int64_t from_ms;      /* */
    bool has_to;          /* time < to_ms */
    int64_t to_ms;        /* */
    bool has_after;       /* only rows after the cursor (after_ms, after_id) in the order */
    int64_t after_ms;     /* */
    uint8_t after_id[16]; /* */
    size_t limit;         /* 1..EDGE_SEARCH_PAGE_MAX */
} edge_search_q_t;

/* One message found (the row of its box) with its case columns. */
typedef struct edge_search_row {
    edge_outbox_row_t out; /* when the box is the outbox */
    edge_inbox_row_t in;   /* when the box is the inbox (no payload) */
    int64_t case_id;       /* 0 = none */
    char commune[16];      /* "" = none */
    char case_ref[64];     /* "" = none */
} edge_search_row_t;

typedef struct edge_search_page {
    bool more;           /* rows may follow: continue after (next_ms, next_id) */
    int64_t next_ms;     /* */
    uint8_t next_id[16]; /* cases: next_id's first 8 bytes hold the case id (big-endian) */
    int64_t total;       /* matches counted (see above) */
    bool total_exact;    /* total is exact; false: a lower bound */
} edge_search_page_t;

/* Cases newest activity first (updated_ms, then id). */
typedef struct edge_case_q {
    bool has_since;   /* only cases updated at or after since_ms */
    int64_t since_ms; /* */
    const char *ref;  /* as edge_search_q_t.ref */
    bool has_from;    /* created_ms >= from_ms */
    int64_t from_ms;  /* */
    bool has_to;      /* created_ms < to_ms */
    int64_t to_ms;    /* */
    bool has_after;   /* after the cursor (after_ms = updated_ms, after_id = id) */
    int64_t after_ms; /* */
    int64_t after_id; /* */
    size_t limit;     /* 1..EDGE_SEARCH_PAGE_MAX */
} edge_case_q_t;

/* ---- the table ------------------------------------------------------------ */

typedef struct edge_store edge_store_t;
typedef struct edge_store_ops edge_store_ops_t;

/* Every backend's handle starts with this. */
struct edge_store {
    const edge_store_ops_t *ops;
};

struct edge_store_ops {
    const char *name; /* "sqlite" */

    /* Open (creating and migrating) the store at path. */
    egide_rc (*open)(const char *path, edge_store_t **out);
    /* NULL-safe, idempotent; sets *s = NULL. */
    void (*close)(edge_store_t **s);
    /* One write transaction; EGIDE_ERR_STATE when one is already open.
     * commit failing leaves nothing written (the caller rolls back). */
    egide_rc (*begin)(edge_store_t *s);
    egide_rc (*commit)(edge_store_t *s);
    void (*rollback)(edge_store_t *s); /* harmless when none is open */
    /* Inside the open transaction: mark where one request's writes begin
     * (EGIDE_ERR_STATE when no transaction is open: the store ended it
     * after an error), then keep them or undo them alone (undo = true).
     * unmark returns EGIDE_ERR_STATE when the transaction is no longer
     * open, whatever was asked: nothing of it is kept.  Marks do not nest. */
    egide_rc (*mark)(edge_store_t *s);
    egide_rc (*unmark)(edge_store_t *s, bool undo);

    /* meta: *val (NUL-terminated beyond *len) is the caller's;
     * EGIDE_ERR_NOTFOUND when the key is absent. */
    egide_rc (*meta_get)(edge_store_t *s, const char *key, uint8_t **val, size_t *len);
    egide_rc (*meta_put)(edge_store_t *s, const char *key, const void *val, size_t len);
    /* The next sender sequence number: 1, 2, 3... (durable with the transaction). */
    egide_rc (*next_seq)(edge_store_t *s, uint64_t *seq);
    /* The broker already holds sequence numbers up to last_used from this
     * node: next_seq gives at least last_used + 1 from now on, never less
     * than it would have.  *before and *after (each may be NULL) get the
     * number next_seq would have given before and gives after (equal when
     * nothing moved).  EGIDE_ERR_LIMIT when last_used >= INT64_MAX (nothing
     * changes). */
    egide_rc (*seq_raise)(edge_store_t *s, uint64_t last_used, uint64_t *before, uint64_t *after);
    /* The counter went far past what the broker accepts (a jump it refuses
     * for good): set it back so that next_seq gives the first number above
     * last_used and above every outbox row's number at or below limit (the
     * rows beyond limit are the jumped ones, re-signed when refused).
     * *after as for seq_raise.  EGIDE_ERR_LIMIT when last_used or limit is
     * >= INT64_MAX or limit < last_used. */
    egide_rc (*seq_lower)(edge_store_t *s, uint64_t last_used, uint64_t limit, uint64_t *after);

    /* outbox.  add: the message in EDGE_OUT_QUEUED, due now, every recipient
     * EDGE_RCPT_PENDING; EGIDE_ERR_EXISTS for a msg_id or seq already held. */
    egide_rc (*outbox_add)(edge_store_t *s, const edge_outbox_msg_t *m);
    /* EGIDE_ERR_NOTFOUND when no such message. */
    egide_rc (*outbox_get)(edge_store_t *s, const uint8_t msg_id[16], edge_outbox_row_t *row);
    /* Calls fn for up to limit queued messages with next_ms <= now_ms, most
     * urgent first, then by seq.  fn may call outbox_attempt on this store. */
    egide_rc (*outbox_due)(edge_store_t *s, int64_t now_ms, size_t limit, edge_outbox_due_fn fn,
                           void *arg);
    /* The stored sealed bytes of a message, *env the caller's (free());
     * EGIDE_ERR_NOTFOUND when no such message. */
    egide_rc (*outbox_envelope)(edge_store_t *s, const uint8_t msg_id[16], uint8_t **env,
                                size_t *len);
    /* A QUEUED message re-signed under a fresh sequence: its envelope bytes,
     * hash and seq replaced, resequenced + 1, due now (attempts kept);
     * *changed false when it was not QUEUED (or absent), nothing written.
     * EGIDE_ERR_EXISTS when another message holds seq (nothing written). */
    egide_rc (*outbox_resequence)(edge_store_t *s, const uint8_t msg_id[16], uint64_t seq,
                                  const uint8_t *env, size_t len, const uint8_t sha256[32],
                                  bool *changed);
    /* As outbox_resequence for a message sealed again for renewed
     * recipient keys: envelope, hash and seq replaced, resealed + 1 (not
     * resequenced), due now; the kept copy stays (it is the same content
     * key).  Same *changed and EGIDE_ERR_EXISTS. */
    egide_rc (*outbox_reseal)(edge_store_t *s, const uint8_t msg_id[16], uint64_t seq,
                              const uint8_t *env, size_t len, const uint8_t sha256[32],
                              bool *changed);
    /* The kept copy of a message's content key as outbox_add stored it,
     * *kept the caller's (free()); EGIDE_ERR_NOTFOUND when no such message
     * or none is kept (queued before it was kept, or no longer QUEUED:
     * leaving QUEUED erases it). */
    egide_rc (*outbox_kept)(edge_store_t *s, const uint8_t msg_id[16], uint8_t **kept, size_t *len);
    /* One more send: attempts + 1, next due at next_ms. */
    egide_rc (*outbox_attempt)(edge_store_t *s, const uint8_t msg_id[16], int64_t next_ms);
    /* Every queued message due now (on reconnecting). */
    egide_rc (*outbox_retry_all)(edge_store_t *s);
    /* QUEUED -> ACCEPTED; *changed false when it was not QUEUED (or absent). */
    egide_rc (*outbox_mark_accepted)(edge_store_t *s, const uint8_t msg_id[16], int64_t time_ms,
                                     int64_t leaf_index, bool *changed);
    /* QUEUED -> REJECTED with its pending recipients. */
    egide_rc (*outbox_mark_rejected)(edge_store_t *s, const uint8_t msg_id[16], int reason,
                                     int64_t time_ms, bool *changed);
    /* Queued messages whose expires_ms <= now_ms -> EXPIRED, and pending
     * recipients of any message past expiry -> EDGE_RCPT_EXPIRED; *n (may be
     * NULL) gets the number of messages expired. */
    egide_rc (*outbox_expire)(edge_store_t *s, int64_t now_ms, size_t *n);
    /* Newest first (by seq); state < 0 = any.  *rows the caller's. */
    egide_rc (*outbox_list)(edge_store_t *s, int state, size_t limit, edge_outbox_row_t **rows,
                            size_t *n);

    /* recipients.  PENDING -> state (DELIVERED, REJECTED or EXPIRED) with
     * reason and time; *changed false when it was not PENDING. */
    egide_rc (*rcpt_update)(edge_store_t *s, const uint8_t msg_id[16], const char *node_id,
                            edge_rcpt_state state, int reason, int64_t time_ms, bool *changed);
    /* PENDING or DELIVERED -> ACKNOWLEDGED. */
    egide_rc (*rcpt_acknowledge)(edge_store_t *s, const uint8_t msg_id[16], const char *node_id,
                                 int64_t time_ms, bool *changed);
    /* The message's recipients by node id (at most max, EGIDE_MAX_RECIPIENTS
     * is enough); *pending = how many are PENDING.  NOTFOUND: no message. */
    egide_rc (*rcpt_list)(edge_store_t *s, const uint8_t msg_id[16], edge_rcpt_row_t *rows,
                          size_t max, size_t *n, size_t *pending);

    /* inbox.  put: a new row in EDGE_IN_DELIVERED, or what was there (see
     * edge_inbox_put_result; on DUPLICATE *receipt gets the stored receipt,
     * the caller's).  Only a storage failure returns an error. */
    egide_rc (*inbox_put)(edge_store_t *s, const edge_inbox_msg_t *m, edge_inbox_put_result *result,
                          uint8_t **receipt, size_t *receipt_len);
    /* The receipt stored for exactly (msg_id, sha256); NOTFOUND otherwise. */
    egide_rc (*inbox_receipt)(edge_store_t *s, const uint8_t msg_id[16], const uint8_t sha256[32],
                              uint8_t **receipt, size_t *len);
    /* NOTFOUND when absent; the payload only when want_payload. */
    egide_rc (*inbox_get)(edge_store_t *s, const uint8_t msg_id[16], bool want_payload,
                          edge_inbox_row_t *row);
    /* Newest first (by received_ms); state < 0 = any; no payloads. */
    egide_rc (*inbox_list)(edge_store_t *s, int state, size_t limit, edge_inbox_row_t **rows,
                           size_t *n);
    /* DELIVERED -> ACKNOWLEDGED; NOTFOUND when absent; *changed false when
     * already acknowledged. */
    egide_rc (*inbox_acknowledge)(edge_store_t *s, const uint8_t msg_id[16], int64_t time_ms,
                                  bool *changed);
    /* Count of inbox rows with this msg_id (0 or 1), for checks. */
    egide_rc (*inbox_count)(edge_store_t *s, const uint8_t msg_id[16], size_t *n);

    /* envelopes refused on receipt: remember the REJECTED receipt sent (a
     * second remember of the same pair keeps the first); find it again. */
    egide_rc (*rejected_put)(edge_store_t *s, const uint8_t msg_id[16], const uint8_t sha256[32],
                             const char *sender_id, int reason, const uint8_t *receipt, size_t len,
                             int64_t time_ms);
    egide_rc (*rejected_find)(edge_store_t *s, const uint8_t msg_id[16], const uint8_t sha256[32],
                              uint8_t **receipt, size_t *len);

    /* receipts received (verified): put keeps the first of one hash;
     * list by time, at most EDGE_STORE_RECEIPTS_MAX. */
    egide_rc (*receipt_put)(edge_store_t *s, const edge_receipt_row_t *r, const uint8_t *data,
                            size_t len);
    egide_rc (*receipt_list)(edge_store_t *s, const uint8_t msg_id[16], edge_receipt_row_t **rows,
                             size_t *n);

    /* cases.  get: NOTFOUND when no case id.  find: the case a message
     * would join (rules 1-3 above, nothing written) from its id, its
     * in_reply_to and its case reference (each may be NULL; not all),
     * NOTFOUND when none.  The case of a message (held or placeholder):
     * case_of, NOTFOUND when not in case_msgs. */
    egide_rc (*case_get)(edge_store_t *s, int64_t case_id, edge_case_row_t *row);
    egide_rc (*case_find)(edge_store_t *s, const uint8_t *msg_id, const uint8_t *in_reply_to,
                          const char *case_ref, int64_t *case_id);
    egide_rc (*case_of)(edge_store_t *s, const uint8_t msg_id[16], int64_t *case_id);
    /* Record the case's clock origin and the sender's declared time when
     * none is recorded yet (the first one is kept: *changed false then).
     * declared_ms 0 = not known.  NOTFOUND when no such case. */
    egide_rc (*case_origin)(edge_store_t *s, int64_t case_id, int64_t origin_ms,
                            int64_t declared_ms, bool *changed);

    /* obligations.  open: insert o (its id, state, closed_* and
     * occurrence ignored: it is OPEN).  Not o->recurring: occurrence 1,
     * unless (case_id, name, year) is held already, which keeps the first
     * (*created false, *id the held row's id; both may be NULL).
     * o->recurring: the next occurrence of (case_id, name, year) (1 when
     * none), unless one of them is still OPEN or was started by
     * o->start_msg (*created false, *id the latest occurrence's id).
     * EGIDE_ERR_INVALID: empty name, actor, label or source, case_id < 0,
     * year < 0, role out of range. */
    egide_rc (*obligation_open)(edge_store_t *s, const edge_obligation_t *o, bool *created,
                                int64_t *id);
    /* Close the OPEN rows of (case_id, name), of year `year` when year > 0,
     * of role `role` unless role < 0: released true -> RELEASED, else MET
     * when closed_ms <= due_ms, LATE otherwise; closed_ms and closed_by
     * written.  A row started by closed_by itself is never closed by it
     * (a recurring deadline's new occurrence, or a message noted twice).
     * *n (may be NULL) gets the number of rows closed.
     * EGIDE_ERR_INVALID: empty name, case_id < 0, no closed_by. */
    egide_rc (*obligation_close)(edge_store_t *s, int64_t case_id, const char *name, int year,
                                 int role, bool released, int64_t closed_ms,
                                 const uint8_t closed_by[16], size_t *n);
    /* One page of rows selected by f, ordered by (due_ms, id); *next says
     * whether another page follows and from where.  *rows the caller's.
     * EGIDE_ERR_INVALID: limit 0 or above EDGE_OBLIG_PAGE_MAX, a state or
     * role out of range.  Cost: the page, through the indexes. */
    egide_rc (*obligation_list)(edge_store_t *s, const edge_oblig_filter_t *f,
                                edge_obligation_t **rows, size_t *n, edge_oblig_cursor_t *next);
    /* How many rows f selects (its cursor and limit ignored): an indexed
     * COUNT, stopping at EDGE_OBLIG_COUNT_CAP + 1. */
    /* *exact false: the count stopped past EDGE_OBLIG_COUNT_CAP (*total is
     * then a lower bound).  A filter by state alone is read from the
     * counters (migration 8): exact, whatever its size. */
    egide_rc (*obligation_count)(edge_store_t *s, const edge_oblig_filter_t *f, int64_t *total,
                                 bool *exact);
    /* Rows by state at now_ms (see edge_oblig_counts_t). */
    egide_rc (*obligation_counts)(edge_store_t *s, int64_t now_ms, edge_oblig_counts_t *c);
    /* Totals for health and metrics. */
    egide_rc (*counts)(edge_store_t *s, edge_store_counts_t *c);
    /* Idempotency keys of submissions (1..EDGE_IDEM_KEY_MAX bytes; the API
     * checks they are printable): put remembers key -> (the hash of the
     * request, the message it made, when), in the caller's transaction
     * with the message itself, and never forgets it (it lives as long as
     * the outbox row); EGIDE_ERR_EXISTS when the key is held already
     * (nothing written).  get: NOTFOUND when the key is not held. */
    egide_rc (*idem_put)(edge_store_t *s, const char *key, const uint8_t request_sha256[32],
                         const uint8_t msg_id[16], int64_t time_ms);
    egide_rc (*idem_get)(edge_store_t *s, const char *key, uint8_t request_sha256[32],
                         uint8_t msg_id[16]);

    /* ---- accounts (edge_accounts.c and edge_session.c are the callers) ----
     * user_add: EGIDE_ERR_EXISTS when the name is taken.  user_get:
     * NOTFOUND when absent.  user_set_hash / user_set_disabled: NOTFOUND
     * when absent; user_set_disabled(true) also deletes the account's
     * sessions in the same statement group (its own transaction unless the
     * caller holds one).  user_list: by name, without hashes. */
    egide_rc (*user_add)(edge_store_t *s, const edge_user_row_t *u);
    egide_rc (*user_get)(edge_store_t *s, const char *name, edge_user_row_t *u);
    egide_rc (*user_set_hash)(edge_store_t *s, const char *name, const char *pwhash,
                              int64_t time_ms);
    egide_rc (*user_set_disabled)(edge_store_t *s, const char *name, bool disabled,
                                  int64_t time_ms);
    egide_rc (*user_list)(edge_store_t *s, edge_user_row_t **rows, size_t *n);
    /* Sessions by the SHA-256 of their id.  session_get: NOTFOUND when
     * absent (or its account is gone).  session_touch: last_ms = time_ms.
     * session_delete: NOTFOUND when absent.  session_delete_user: every
     * session of the account.  session_purge: those created before
     * created_before or idle since before last_before. */
    egide_rc (*session_put)(edge_store_t *s, const uint8_t id_sha256[32], const char *user,
                            int64_t time_ms);
    egide_rc (*session_get)(edge_store_t *s, const uint8_t id_sha256[32], edge_session_row_t *row);
    egide_rc (*session_touch)(edge_store_t *s, const uint8_t id_sha256[32], int64_t time_ms);
    egide_rc (*session_delete)(edge_store_t *s, const uint8_t id_sha256[32]);
    egide_rc (*session_delete_user)(edge_store_t *s, const char *user);
    egide_rc (*session_purge)(edge_store_t *s, int64_t created_before, int64_t last_before);
    /* Failed logins, by key ("u:" + name, "s:" + source address): add one
     * at time_ms; count those at or after since_ms (*last_ms, may be NULL:
     * the latest of them, 0 when none); clear the key; purge every failure
     * before before_ms. */
    egide_rc (*auth_fail_add)(edge_store_t *s, const char *key, int64_t time_ms);
    egide_rc (*auth_fail_count)(edge_store_t *s, const char *key, int64_t since_ms, size_t *n,
                                int64_t *last_ms);
    egide_rc (*auth_fail_clear)(edge_store_t *s, const char *key);
    egide_rc (*auth_fail_purge)(edge_store_t *s, int64_t before_ms);
    /* Remove one failure of key at time_ms (a login's reservation, taken
     * before its password is checked, once the password proves right);
     * nothing when there is none. */
    egide_rc (*auth_fail_remove)(edge_store_t *s, const char *key, int64_t time_ms);
    /* ---- known child (appended: keep other sections above) ----
     * kc_put: the keys of a received message's children, in the caller's
     * transaction with the message itself; n may be 0 (nothing written).
     * EGIDE_ERR_EXISTS when the message has keys already (nothing written).
     * kc_get: the message's rows by child index, at most max; *n = 0 when
     * it has none (received while detection was off, or not a referral). */
    egide_rc (*kc_put)(edge_store_t *s, const uint8_t msg_id[16], int64_t received_ms,
                       const edge_kc_row_t *rows, size_t n);
    egide_rc (*kc_get)(edge_store_t *s, const uint8_t msg_id[16], edge_kc_row_t *rows, size_t max,
                       size_t *n);
    /* Other messages, received at or before before_ms, about the same child
     * (rel SAME_CHILD: child key equal to child_key) or a sibling (rel
     * SIBLING: household key equal to household_key, child key known and
     * not child_key); newest first, at most limit (1..EDGE_KC_RELATED_MAX)
     * into rows.  Through an index on each key: the cost is bounded by the
     * matches.  The key needed by rel must be non-empty. */
    egide_rc (*kc_related)(edge_store_t *s, edge_kc_relation rel, const char *child_key,
                           const char *household_key, const uint8_t msg_id[16], int64_t before_ms,
                           size_t limit, edge_kc_related_t *rows, size_t *n);
    /* Received messages with from_ms <= received_ms < to_ms, in
     * (received_ms, msg_id) order strictly after the cursor (after_ms,
     * after_id; after_id NULL = from the start), with their payloads: at
     * most limit (1..EDGE_STORE_PAGE_MAX) rows, and no row more once
     * EDGE_STORE_PAGE_BYTES of payload are held (always one at least).
     * Through the received-time index.  *rows the caller's: clear each
     * with edge_inbox_row_clear, then free. */
    egide_rc (*inbox_range)(edge_store_t *s, int64_t from_ms, int64_t to_ms, int64_t after_ms,
                            const uint8_t *after_id, size_t limit, edge_inbox_row_t **rows,
                            size_t *n);

    /* ---- read-only handles and paged lists (the API's readers) ---------- */
    /* Open an existing, already migrated store for reading only (busy
     * timeout as open's); every write on it fails.  EGIDE_ERR_DB / _IO
     * when it cannot be opened. */
    egide_rc (*open_readonly)(const char *path, edge_store_t **out);
    /* One read snapshot over several reads (a page and its recipients);
     * EGIDE_ERR_STATE when a transaction is open.  read_end is harmless
     * when none is. */
    egide_rc (*read_begin)(edge_store_t *s);
    void (*read_end)(edge_store_t *s);
    /* A page of the outbox / inbox (see edge_page_q_t); *rows the caller's,
     * *pg filled.  EGIDE_ERR_INVALID for a limit out of range or an
     * unknown state. */
    egide_rc (*outbox_page)(edge_store_t *s, const edge_page_q_t *q, edge_outbox_row_t **rows,
                            size_t *n, edge_page_t *pg);
    egide_rc (*inbox_page)(edge_store_t *s, const edge_page_q_t *q, edge_inbox_row_t **rows,
                           size_t *n, edge_page_t *pg);

    /* ---- cases and search (wt-http; appended after this line) ---------- */
    /* A page of one box's messages matching q (see edge_search_q_t);
     * *rows the caller's.  EGIDE_ERR_INVALID: a limit out of range, a
     * sender on the outbox, a ref of the wrong length. */
    egide_rc (*msg_search)(edge_store_t *s, const edge_search_q_t *q, edge_search_row_t **rows,
                           size_t *n, edge_search_page_t *pg);
    /* A page of cases matching q, newest activity first; pg->next_id's
     * first 8 bytes carry the case id cursor (big-endian). */
    egide_rc (*case_search)(edge_store_t *s, const edge_case_q_t *q, edge_case_row_t **rows,
                            size_t *n, edge_search_page_t *pg);
    /* The messages of case case_id in one box, oldest first, at most max
     * (1..EDGE_CASE_MSGS_MAX); *more when the case holds more. */
    egide_rc (*case_messages)(edge_store_t *s, int64_t case_id, bool outbox, size_t max,
                              edge_search_row_t **rows, size_t *n, bool *more);

    /* ---- the sender's own copies (wt-sentcopy; appended after this line) */
    /* Sent messages that kept their payload (outbox_add with a payload),
     * with from_ms <= created_ms < to_ms, in (created_ms, msg_id) order
     * strictly after the cursor (after_ms, after_id; after_id NULL = from
     * the start): at most limit (1..EDGE_STORE_PAGE_MAX) rows, and no row
     * more once EDGE_STORE_PAGE_BYTES of payload are held (always one at
     * least).  Through the created-time index.  *rows the caller's: clear
     * each with edge_sent_row_clear, then free.  EGIDE_ERR_INVALID for a
     * NULL argument or a limit out of range. */
    egide_rc (*outbox_range)(edge_store_t *s, int64_t from_ms, int64_t to_ms, int64_t after_ms,
                             const uint8_t *after_id, size_t limit, edge_sent_row_t **rows,
                             size_t *n);
};

/* The SQLite backend (edge_store_sqlite.c). */
extern const edge_store_ops_t edge_store_sqlite_ops;
/* For tests: EXPLAIN QUERY PLAN of every page, search, total and case read
 * the API runs on an SQLite handle s, one call of fn per statement (its
 * name, the plan's lines).  EGIDE_ERR_INVALID when s is not SQLite's. */
typedef void (*edge_store_plan_fn)(const char *name, const char *plan, void *arg);
egide_rc edge_store_sqlite_plans(edge_store_t *s, edge_store_plan_fn fn, void *arg);
/* The SQLite connection of an SQLite handle (NULL for another backend or
 * NULL): the edge's trail (edge_trail.c) keeps the audit log's tables in
 * the same database, through the library's own SQLite audit store. */
struct sqlite3;
struct sqlite3 *edge_store_sqlite_db(edge_store_t *s);
/* The daemon's handles on one database (the loop's and the API's) take
 * lock around each write transaction (begin to commit or rollback), so
 * that a writer waits for another on the mutex and is woken at its commit,
 * rather than in SQLite's busy handler, which sleeps up to 100 ms at a
 * time while the other writer takes the database again (the API's
 * submissions waited up to 1.4 s behind the loop's transactions).  Given
 * up after 10 s as SQLite's busy timeout is (EGIDE_ERR_TIMEOUT).  NULL:
 * SQLite's locking alone (other processes always are). */
void edge_store_sqlite_share_writes(edge_store_t *s, pthread_mutex_t *lock);

/* The named operations, for the daemon's code: each calls the handle's
 * table (same arguments and return codes as the table above); a NULL
 * handle gives EGIDE_ERR_INVALID.  Macros: s is evaluated more than once,
 * so pass a plain variable or field.  edge_store_close takes the handle's
 * address (never NULL) and sets the handle to NULL. */
#define EDGE_STORE_CALL(s, op, ...) ((s) ? (s)->ops->op((s), __VA_ARGS__) : EGIDE_ERR_INVALID)
#define edge_store_begin(s)         ((s) ? (s)->ops->begin(s) : EGIDE_ERR_INVALID)
#define edge_store_commit(s)        ((s) ? (s)->ops->commit(s) : EGIDE_ERR_INVALID)
#define edge_store_mark(s)          ((s) ? (s)->ops->mark(s) : EGIDE_ERR_INVALID)
#define edge_store_unmark(s, undo)  ((s) ? (s)->ops->unmark((s), (undo)) : EGIDE_ERR_INVALID)
#define edge_store_rollback(s)                                                                     \
    do {                                                                                           \
        if (s)                                                                                     \
            (s)->ops->rollback(s);                                                                 \
    } while (0)
#define edge_store_close(sp)                                                                       \
    do {                                                                                           \
        if (*(sp))                                                                                 \
            (*(sp))->ops->close(sp);                                                               \
    } while (0)
#define edge_store_meta_get(s, ...)          EDGE_STORE_CALL(s, meta_get, __VA_ARGS__)
#define edge_store_meta_put(s, ...)          EDGE_STORE_CALL(s, meta_put, __VA_ARGS__)
#define edge_store_next_seq(s, ...)          EDGE_STORE_CALL(s, next_seq, __VA_ARGS__)
#define edge_store_seq_raise(s, ...)         EDGE_STORE_CALL(s, seq_raise, __VA_ARGS__)
#define edge_store_seq_lower(s, ...)         EDGE_STORE_CALL(s, seq_lower, __VA_ARGS__)
#define edge_store_outbox_add(s, ...)        EDGE_STORE_CALL(s, outbox_add, __VA_ARGS__)
#define edge_store_outbox_envelope(s, ...)   EDGE_STORE_CALL(s, outbox_envelope, __VA_ARGS__)
#define edge_store_outbox_resequence(s, ...) EDGE_STORE_CALL(s, outbox_resequence, __VA_ARGS__)
#define edge_store_outbox_get(s, ...)        EDGE_STORE_CALL(s, outbox_get, __VA_ARGS__)
#define edge_store_outbox_reseal(s, ...)     EDGE_STORE_CALL(s, outbox_reseal, __VA_ARGS__)
#define edge_store_outbox_kept(s, ...)       EDGE_STORE_CALL(s, outbox_kept, __VA_ARGS__)
#define edge_store_outbox_due(s, ...)        EDGE_STORE_CALL(s, outbox_due, __VA_ARGS__)
#define edge_store_outbox_attempt(s, ...)    EDGE_STORE_CALL(s, outbox_attempt, __VA_ARGS__)
#define edge_store_outbox_retry_all(s)       ((s) ? (s)->ops->outbox_retry_all(s) : EGIDE_ERR_INVALID)
#define edge_store_outbox_mark_accepted(s, ...)                                                    \
    EDGE_STORE_CALL(s, outbox_mark_accepted, __VA_ARGS__)
#define edge_store_outbox_mark_rejected(s, ...)                                                    \
    EDGE_STORE_CALL(s, outbox_mark_rejected, __VA_ARGS__)
#define edge_store_outbox_expire(s, ...)     EDGE_STORE_CALL(s, outbox_expire, __VA_ARGS__)
#define edge_store_outbox_list(s, ...)       EDGE_STORE_CALL(s, outbox_list, __VA_ARGS__)
#define edge_store_rcpt_update(s, ...)       EDGE_STORE_CALL(s, rcpt_update, __VA_ARGS__)
#define edge_store_rcpt_acknowledge(s, ...)  EDGE_STORE_CALL(s, rcpt_acknowledge, __VA_ARGS__)
#define edge_store_rcpt_list(s, ...)         EDGE_STORE_CALL(s, rcpt_list, __VA_ARGS__)
#define edge_store_inbox_put(s, ...)         EDGE_STORE_CALL(s, inbox_put, __VA_ARGS__)
#define edge_store_inbox_receipt(s, ...)     EDGE_STORE_CALL(s, inbox_receipt, __VA_ARGS__)
#define edge_store_inbox_get(s, ...)         EDGE_STORE_CALL(s, inbox_get, __VA_ARGS__)
#define edge_store_inbox_list(s, ...)        EDGE_STORE_CALL(s, inbox_list, __VA_ARGS__)
#define edge_store_inbox_acknowledge(s, ...) EDGE_STORE_CALL(s, inbox_acknowledge, __VA_ARGS__)
#define edge_store_inbox_count(s, ...)       EDGE_STORE_CALL(s, inbox_count, __VA_ARGS__)
#define edge_store_rejected_put(s, ...)      EDGE_STORE_CALL(s, rejected_put, __VA_ARGS__)
#define edge_store_rejected_find(s, ...)     EDGE_STORE_CALL(s, rejected_find, __VA_ARGS__)
#define edge_store_receipt_put(s, ...)       EDGE_STORE_CALL(s, receipt_put, __VA_ARGS__)
#define edge_store_receipt_list(s, ...)      EDGE_STORE_CALL(s, receipt_list, __VA_ARGS__)
#define edge_store_case_get(s, ...)          EDGE_STORE_CALL(s, case_get, __VA_ARGS__)
#define edge_store_case_find(s, ...)         EDGE_STORE_CALL(s, case_find, __VA_ARGS__)
#define edge_store_case_of(s, ...)           EDGE_STORE_CALL(s, case_of, __VA_ARGS__)
#define edge_store_case_origin(s, ...)       EDGE_STORE_CALL(s, case_origin, __VA_ARGS__)
#define edge_store_obligation_open(s, ...)   EDGE_STORE_CALL(s, obligation_open, __VA_ARGS__)
#define edge_store_obligation_close(s, ...)  EDGE_STORE_CALL(s, obligation_close, __VA_ARGS__)
#define edge_store_obligation_list(s, ...)   EDGE_STORE_CALL(s, obligation_list, __VA_ARGS__)
#define edge_store_obligation_count(s, ...)  EDGE_STORE_CALL(s, obligation_count, __VA_ARGS__)
#define edge_store_obligation_counts(s, ...) EDGE_STORE_CALL(s, obligation_counts, __VA_ARGS__)
#define edge_store_counts(s, ...)            EDGE_STORE_CALL(s, counts, __VA_ARGS__)
#define edge_store_idem_put(s, ...)          EDGE_STORE_CALL(s, idem_put, __VA_ARGS__)
#define edge_store_idem_get(s, ...)          EDGE_STORE_CALL(s, idem_get, __VA_ARGS__)
/* accounts */
#define edge_store_user_add(s, ...)            EDGE_STORE_CALL(s, user_add, __VA_ARGS__)
#define edge_store_user_get(s, ...)            EDGE_STORE_CALL(s, user_get, __VA_ARGS__)
#define edge_store_user_set_hash(s, ...)       EDGE_STORE_CALL(s, user_set_hash, __VA_ARGS__)
#define edge_store_user_set_disabled(s, ...)   EDGE_STORE_CALL(s, user_set_disabled, __VA_ARGS__)
#define edge_store_user_list(s, ...)           EDGE_STORE_CALL(s, user_list, __VA_ARGS__)
#define edge_store_session_put(s, ...)         EDGE_STORE_CALL(s, session_put, __VA_ARGS__)
#define edge_store_session_get(s, ...)         EDGE_STORE_CALL(s, session_get, __VA_ARGS__)
#define edge_store_session_touch(s, ...)       EDGE_STORE_CALL(s, session_touch, __VA_ARGS__)
#define edge_store_session_delete(s, ...)      EDGE_STORE_CALL(s, session_delete, __VA_ARGS__)
#define edge_store_session_delete_user(s, ...) EDGE_STORE_CALL(s, session_delete_user, __VA_ARGS__)
#define edge_store_session_purge(s, ...)       EDGE_STORE_CALL(s, session_purge, __VA_ARGS__)
#define edge_store_auth_fail_add(s, ...)       EDGE_STORE_CALL(s, auth_fail_add, __VA_ARGS__)
#define edge_store_auth_fail_count(s, ...)     EDGE_STORE_CALL(s, auth_fail_count, __VA_ARGS__)
#define edge_store_auth_fail_clear(s, ...)     EDGE_STORE_CALL(s, auth_fail_clear, __VA_ARGS__)
#define edge_store_auth_fail_purge(s, ...)     EDGE_STORE_CALL(s, auth_fail_purge, __VA_ARGS__)
#define edge_store_auth_fail_remove(s, ...)    EDGE_STORE_CALL(s, auth_fail_remove, __VA_ARGS__)
#define edge_store_kc_put(s, ...)              EDGE_STORE_CALL(s, kc_put, __VA_ARGS__)
#define edge_store_kc_get(s, ...)              EDGE_STORE_CALL(s, kc_get, __VA_ARGS__)
#define edge_store_kc_related(s, ...)          EDGE_STORE_CALL(s, kc_related, __VA_ARGS__)
#define edge_store_inbox_range(s, ...)         EDGE_STORE_CALL(s, inbox_range, __VA_ARGS__)

/* read-only handles, paged lists, cases and search */
#define edge_store_read_begin(s) ((s) ? (s)->ops->read_begin(s) : EGIDE_ERR_INVALID)
#define edge_store_read_end(s)                                                                     \
    do {                                                                                           \
        if (s)                                                                                     \
            (s)->ops->read_end(s);                                                                 \
    } while (0)
#define edge_store_outbox_page(s, ...)   EDGE_STORE_CALL(s, outbox_page, __VA_ARGS__)
#define edge_store_inbox_page(s, ...)    EDGE_STORE_CALL(s, inbox_page, __VA_ARGS__)
#define edge_store_msg_search(s, ...)    EDGE_STORE_CALL(s, msg_search, __VA_ARGS__)
#define edge_store_case_search(s, ...)   EDGE_STORE_CALL(s, case_search, __VA_ARGS__)
#define edge_store_case_messages(s, ...) EDGE_STORE_CALL(s, case_messages, __VA_ARGS__)
#define edge_store_outbox_range(s, ...)  EDGE_STORE_CALL(s, outbox_range, __VA_ARGS__)

#endif
