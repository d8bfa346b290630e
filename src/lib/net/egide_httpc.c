/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_httpc.c - the strict HTTP client on libcurl (see egide_httpc.h).
 *
 * One easy handle per request: the command line makes a handful of requests,
 * so reusing connections is not worth the shared state.  The response body
 * is collected in a capped egide_buf_t; going over the cap aborts the
 * transfer from the write callback.  The Authorization header is built in a
 * buffer that is wiped afterwards, and libcurl's verbose mode is never
 * enabled, so the token appears nowhere.
 */
#include "egide/net/egide_httpc.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "egide/base/egide_log.h"
#include "egide/base/egide_util.h"

static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static CURLcode s_init_rc = CURLE_FAILED_INIT;

static void s_global_init(void)
{
    s_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Collects the body; over the cap it records the fact and aborts. */
typedef struct s_sink {
    egide_buf_t buf; /* capped at max_resp + 1 (room for the NUL) */
    size_t max;      /* the caller's cap */
    bool over;       /* the response went over max */
    bool nomem;      /* an allocation failed */
} s_sink_t;

static size_t s_on_data(char *p, size_t size, size_t nmemb, void *userdata)
{
    s_sink_t *s = userdata;
    size_t n = size * nmemb;
    if (n > s->max - s->buf.len) {
        s->over = true;
        return 0; /* CURLE_WRITE_ERROR */
    }
    if (egide_buf_append(&s->buf, p, n) != EGIDE_OK) {
        s->nomem = true;
        return 0;
    }
    return n;
}

typedef struct s_hdr {
    char *ctype; /* out->content_type */
    size_t ctsz; /* its size */
} s_hdr_t;

static size_t s_on_header(char *p, size_t size, size_t nitems, void *userdata)
{
    s_hdr_t *h = userdata;
    size_t n = size * nitems;
    static const char name[] = "content-type:";
    if (n > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
        const char *v = p + sizeof name - 1;
        size_t vlen = n - (sizeof name - 1);
        while (vlen && (*v == ' ' || *v == '\t')) {
            v++;
            vlen--;
        }
        while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
            vlen--;
        egide_sanitize(v, vlen, h->ctype, h->ctsz);
    }
    return n;
}

static bool s_has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* Is the URL's host a loopback name or address?  Used only to decide that
 * proxies must never be used; a wrong "no" merely lets libcurl apply the
 * environment's proxy settings as usual. */
static bool s_is_loopback_url(CURLU *u)
{
    char *host = NULL;
    bool lo = false;
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host) {
        lo = strcasecmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
             strcmp(host, "[::1]") == 0 || strcmp(host, "::1") == 0;
    }
    curl_free(host);
    return lo;
}

void egide_httpc_resp_free(egide_httpc_resp_t *r)
{
    if (!r)
        return;
    free(r->body);
    memset(r, 0, sizeof *r);
}

egide_rc egide_httpc_request(const char *method, const char *url, const char *token,
                             const char *content_type, const void *body, size_t body_len,
                             size_t max_resp, long timeout_ms, egide_httpc_resp_t *out)
{
    if (!out)
        return EGIDE_ERR_INVALID;
    memset(out, 0, sizeof *out);
    if (!method || !*method || !url || (body_len && !body) || s_has_ctl(method)) {
        (void)snprintf(out->error, sizeof out->error, "invalid arguments");
        return EGIDE_ERR_INVALID;
    }
    if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) {
        (void)snprintf(out->error, sizeof out->error,
                       "only http:// and https:// URLs are supported");
        return EGIDE_ERR_INVALID;
    }
    if (token && s_has_ctl(token)) {
        (void)snprintf(out->error, sizeof out->error, "the token contains control characters");
        return EGIDE_ERR_INVALID;
    }
    if (content_type && s_has_ctl(content_type)) {
        (void)snprintf(out->error, sizeof out->error, "invalid content type");
        return EGIDE_ERR_INVALID;
    }
    if (!max_resp)
        max_resp = EGIDE_HTTPC_DEFAULT_MAX_RESP;
    if (max_resp > SIZE_MAX - 1)
        max_resp = SIZE_MAX - 1;
    if (timeout_ms <= 0)
        timeout_ms = EGIDE_HTTPC_DEFAULT_TIMEOUT_MS;

    pthread_once(&s_once, s_global_init);
    if (s_init_rc != CURLE_OK) {
        (void)snprintf(out->error, sizeof out->error, "libcurl initialisation failed");
        return EGIDE_ERR_IO;
    }

    char shown[96]; /* the URL as shown in messages (no query, sanitized) */
    egide_sanitize(url, strcspn(url, "?#"), shown, sizeof shown);

    egide_rc rc = EGIDE_OK;
    CURL *c = curl_easy_init();
    CURLU *u = curl_url();
    struct curl_slist *hdrs = NULL, *tmp;
    char *auth = NULL;
    size_t auth_len = 0;
    s_sink_t sink = {.max = max_resp};
    egide_buf_init(&sink.buf, max_resp + 1);
    s_hdr_t hs = {out->content_type, sizeof out->content_type};
    if (!c || !u) {
        rc = EGIDE_ERR_NOMEM;
        goto done;
    }
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        (void)snprintf(out->error, sizeof out->error, "malformed URL %s", shown);
        rc = EGIDE_ERR_INVALID;
        goto done;
    }

    if (token) {
        auth_len = strlen("Authorization: Bearer ") + strlen(token) + 1;
        auth = malloc(auth_len);
        if (!auth) {
            rc = EGIDE_ERR_NOMEM;
            goto done;
        }
        (void)snprintf(auth, auth_len, "Authorization: Bearer %s", token);
        if (!(tmp = curl_slist_append(hdrs, auth))) {
            rc = EGIDE_ERR_NOMEM;
            goto done;
        }
        hdrs = tmp;
    }
    if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        char ct[160];
        (void)snprintf(ct, sizeof ct, "Content-Type: %s",
                       content_type ? content_type : "application/json");
        if (!(tmp = curl_slist_append(hdrs, ct))) {
            rc = EGIDE_ERR_NOMEM;
            goto done;
        }
        hdrs = tmp;
        /* No "Expect: 100-continue" round trip for large bodies. */
        if (!(tmp = curl_slist_append(hdrs, "Expect:"))) {
            rc = EGIDE_ERR_NOMEM;
            goto done;
        }
        hdrs = tmp;
    }

    bool ok = curl_easy_setopt(c, CURLOPT_CURLU, u) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_resp) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_on_data) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, s_on_header) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_HEADERDATA, &hs) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_USERAGENT,
                               "egide/"
                               "0.1") == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) == CURLE_OK;
    if (ok && s_is_loopback_url(u))
        ok = curl_easy_setopt(c, CURLOPT_NOPROXY, "*") == CURLE_OK;
    if (ok) {
        if (strcmp(method, "GET") == 0) {
            ok = curl_easy_setopt(c, CURLOPT_HTTPGET, 1L) == CURLE_OK;
        } else if (strcmp(method, "HEAD") == 0) {
            ok = curl_easy_setopt(c, CURLOPT_NOBODY, 1L) == CURLE_OK;
        } else {
            ok = curl_easy_setopt(c, CURLOPT_POST, 1L) == CURLE_OK &&
                 curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len) ==
                     CURLE_OK &&
                 curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "") == CURLE_OK;
            if (ok && strcmp(method, "POST") != 0)
                ok = curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method) == CURLE_OK;
        }
    }
    if (!ok) {
        (void)snprintf(out->error, sizeof out->error, "libcurl refused an option");
        rc = EGIDE_ERR_IO;
        goto done;
    }

    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_OK || cc == CURLE_WRITE_ERROR || cc == CURLE_FILESIZE_EXCEEDED)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    if (sink.over || cc == CURLE_FILESIZE_EXCEEDED) {
        (void)snprintf(out->error, sizeof out->error, "response from %s larger than %zu bytes",
                       shown, max_resp);
        rc = EGIDE_ERR_LIMIT;
    } else if (sink.nomem) {
        rc = EGIDE_ERR_NOMEM;
    } else if (cc == CURLE_OPERATION_TIMEDOUT) {
        (void)snprintf(out->error, sizeof out->error, "no answer from %s within %ld ms", shown,
                       timeout_ms);
        rc = EGIDE_ERR_TIMEOUT;
    } else if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST) {
        (void)snprintf(out->error, sizeof out->error, "cannot connect to %s", shown);
        rc = EGIDE_ERR_IO;
    } else if (cc == CURLE_UNSUPPORTED_PROTOCOL || cc == CURLE_URL_MALFORMAT) {
        (void)snprintf(out->error, sizeof out->error, "unsupported or malformed URL %s", shown);
        rc = EGIDE_ERR_INVALID;
    } else if (cc != CURLE_OK) {
        (void)snprintf(out->error, sizeof out->error, "request to %s failed: %s", shown,
                       curl_easy_strerror(cc));
        rc = EGIDE_ERR_IO;
    }
    if (rc == EGIDE_OK) {
        if (egide_buf_append(&sink.buf, "", 1) != EGIDE_OK) {
            rc = EGIDE_ERR_NOMEM;
        } else {
            out->body = (char *)sink.buf.data;
            out->body_len = sink.buf.len - 1;
            sink.buf.data = NULL;
        }
    }

done:
    if (rc == EGIDE_ERR_NOMEM && !out->error[0])
        (void)snprintf(out->error, sizeof out->error, "out of memory");
    if (rc != EGIDE_OK) {
        out->status = rc == EGIDE_ERR_LIMIT ? out->status : 0;
        egide_log(EGIDE_LOG_DEBUG, "httpc: %s", out->error);
    }
    egide_buf_free(&sink.buf);
    curl_easy_cleanup(c); /* before u, which it points to */
    curl_url_cleanup(u);
    /* libcurl copied the Authorization line: wipe every copy. */
    for (struct curl_slist *l = hdrs; l; l = l->next)
        egide_wipe(l->data, strlen(l->data));
    curl_slist_free_all(hdrs);
    if (auth)
        egide_free_secret(auth, auth_len);
    return rc;
}
