/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fuzz_audit_query.c - the audit API handler on arbitrary paths and query
 * strings, over a small log built once in memory.  Input: the first line is
 * the path, the rest the query.  Invariants: no crash, a body is always
 * returned, errors are JSON objects with error.code, and the status is one
 * the API documents.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "egide/audit/egide_auditapi.h"
#include "egide/audit/egide_auditlog.h"

static egide_auditlog_t *s_log;

static void s_init(void)
{
    sqlite3 *db = NULL;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK || egide_auditlog_open(db, &s_log) != EGIDE_OK)
        abort();
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    for (int i = 0; i < 40; i++) {
        uint8_t id[16] = {0}, env[32] = {0};
        id[15] = (uint8_t)(i / 4);
        Egide__V1__AuditEvent ev = EGIDE__V1__AUDIT_EVENT__INIT;
        ev.version = 1;
        ev.type = EGIDE__V1__AUDIT_EVENT_TYPE__AUDIT_ACCEPTED;
        ev.msg_id.data = id;
        ev.msg_id.len = 16;
        ev.envelope_sha256.data = env;
        ev.envelope_sha256.len = 32;
        ev.time_ms = 1790000000000LL + i;
        egide_auditlog_append_event(s_log, &ev, NULL);
        if (i % 10 == 9)
            egide_auditlog_checkpoint(s_log, "egide.71.broker/audit", "egide.71.broker/audit", key,
                                      NULL);
    }
    EVP_PKEY_free(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_log)
        s_init();
    if (size > 4096)
        return 0;
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *nl = memchr(buf, '\n', size);
    const char *query = NULL;
    if (nl) {
        *nl = '\0';
        query = nl + 1;
    }
    char *body = NULL;
    const char *ct = NULL;
    int st = egide_auditapi_handle(s_log, "GET", buf, query, &body, &ct);
    if (!body || !ct)
        abort();
    if (st != 200 && st != 400 && st != 404 && st != 409)
        abort();
    if (st != 200) {
        json_t *j = json_loads(body, 0, NULL);
        if (!json_string_value(json_object_get(j, "code")) ||
            !json_string_value(json_object_get(j, "detail")) ||
            json_integer_value(json_object_get(j, "status")) != st)
            abort();
        json_decref(j);
    }
    free(body);
    free(buf);
    return 0;
}
