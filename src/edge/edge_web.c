/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_web.c - serving the embedded web pages (edge_web.h): one table from
 * path to file and content type.  Only these exact paths: no file system,
 * no directory listing, nothing derived from the request.
 */
#include "edge_web.h"

#include <stdio.h>
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
    /* the auditor's screen (wt-trail) */
    {"/audit", "auditor.html", "text/html; charset=utf-8"},
    {"/assets/auditor.js", "auditor.js", "text/javascript; charset=utf-8"},
    {"/assets/auditor.css", "auditor.css", "text/css; charset=utf-8"},
};

const char *const edge_web_paths[] = {"/",
                                      "/login",
                                      "/assets/login.js",
                                      "/assets/style.css",
                                      "/audit",
                                      "/assets/auditor.js",
                                      "/assets/auditor.css",
                                      NULL};

/* The content type of an embedded file by its extension, and where it is
 * served: pages at "/<name>.html", scripts, styles and images under
 * "/assets/".  NULL for any other name (never served). */
static const char *s_type_of(const char *name, bool *page)
{
    static const struct {
        const char *ext, *type;
        bool page;
    } t[] = {{".html", "text/html; charset=utf-8", true},
             {".js", "text/javascript; charset=utf-8", false},
             {".css", "text/css; charset=utf-8", false},
             {".svg", "image/svg+xml", false}};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        size_t e = strlen(t[i].ext);
        if (n > e && strcmp(name + n - e, t[i].ext) == 0) {
            *page = t[i].page;
            return t[i].type;
        }
    }
    return NULL;
}

char **edge_web_public_paths(void)
{
    size_t n = 0;
    while (edge_assets[n].name)
        n++;
    size_t fixed = sizeof edge_web_paths / sizeof edge_web_paths[0] - 1;
    char **out = calloc(n + fixed + 1, sizeof *out);
    if (!out)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < fixed; i++)
        if (!(out[k++] = strdup(edge_web_paths[i])))
            goto fail;
    for (size_t i = 0; i < n; i++) {
        bool page = false;
        if (!s_type_of(edge_assets[i].name, &page))
            continue;
        size_t len = strlen(edge_assets[i].name) + 9;
        if (!(out[k] = malloc(len)))
            goto fail;
        snprintf(out[k++], len, "%s%s", page ? "/" : "/assets/", edge_assets[i].name);
    }
    return out;
fail:
    edge_web_paths_free(out);
    return NULL;
}

void edge_web_paths_free(char **paths)
{
    for (size_t i = 0; paths && paths[i]; i++)
        free(paths[i]);
    free(paths);
}

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
    /* "/<name>.html" and "/assets/<name>" of an embedded file of that kind. */
    const char *file = NULL, *type = NULL;
    for (size_t i = 0; i < sizeof s_routes / sizeof s_routes[0]; i++)
        if (strcmp(req->path, s_routes[i].path) == 0) {
            file = s_routes[i].file;
            type = s_routes[i].type;
        }
    if (!file && req->path[0] == '/' &&
        edge_web_find(req->path[1] == 'a' && strncmp(req->path, "/assets/", 8) == 0
                          ? req->path + 8
                          : req->path + 1)) {
        bool asset = strncmp(req->path, "/assets/", 8) == 0, page = false;
        const char *name = req->path + (asset ? 8 : 1);
        const char *t = s_type_of(name, &page);
        if (t && page != asset) {
            file = name;
            type = t;
        }
    }
    if (file) {
        if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
            egide_http_method_not_allowed(resp, "GET, HEAD");
            return true;
        }
        const edge_asset_t *a = edge_web_find(file);
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
        resp->content_type = type;
        return true;
    }
    return false;
}
