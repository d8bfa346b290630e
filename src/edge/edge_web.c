/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_web.c - serving the embedded web pages (edge_web.h): one table from
 * path to file and content type.  Only these exact paths: no file system,
 * no directory listing, nothing derived from the request.
 */
#include "edge_web.h"

#include <stdlib.h>
#include <string.h>

static const struct {
    const char *path; /* request path */
    const char *file; /* embedded file */
    const char *type; /* Content-Type */
} s_routes[] = {
    {"/", "login.html", "text/html; charset=utf-8"},
    {"/login", "login.html", "text/html; charset=utf-8"},
    {"/assets/login.js", "login.js", "text/javascript; charset=utf-8"},
    {"/assets/style.css", "style.css", "text/css; charset=utf-8"},
};

const char *const edge_web_paths[] = {"/", "/login", "/assets/login.js", "/assets/style.css", NULL};

const edge_asset_t *edge_web_find(const char *name)
{
    for (const edge_asset_t *a = edge_assets; name && a->name; a++)
        if (strcmp(a->name, name) == 0)
            return a;
    return NULL;
}

bool edge_web_handle(const egide_http_req_t *req, egide_http_resp_t *resp)
{
    if (!req || !resp || !req->path || !req->method)
        return false;
    for (size_t i = 0; i < sizeof s_routes / sizeof s_routes[0]; i++) {
        if (strcmp(req->path, s_routes[i].path) != 0)
            continue;
        if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
            egide_http_method_not_allowed(resp, "GET, HEAD");
            return true;
        }
        const edge_asset_t *a = edge_web_find(s_routes[i].file);
        char *body = a ? malloc(a->len + 1) : NULL;
        if (!body) {
            egide_http_error(resp, a ? 500 : 404, a ? EGIDE_ERR_NOMEM : EGIDE_ERR_NOTFOUND,
                             "page not available");
            return true;
        }
        memcpy(body, a->data, a->len + 1);
        free(resp->body);
        resp->status = 200;
        resp->body = body;
        resp->body_len = a->len;
        resp->content_type = s_routes[i].type;
        return true;
    }
    return false;
}
