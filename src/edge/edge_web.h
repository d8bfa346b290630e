/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_web.h - the edge's web pages: files of web/ embedded in the binary
 * at build time (cmake/embed_assets.cmake writes edge_assets[]) and served
 * by path, publicly (a page holds no data: everything it shows comes from
 * the API, under a session).  The security headers come with every answer
 * from egide_http.
 */
#ifndef EGIDE_EDGE_WEB_H
#define EGIDE_EDGE_WEB_H

#include <stdbool.h>
#include <stddef.h>

#include "egide/net/egide_http.h"

/* One embedded file.  The table ends with a row whose name is NULL. */
typedef struct edge_asset {
    const char *name;          /* base name in web/, e.g. "login.html" */
    const unsigned char *data; /* its bytes (followed by a NUL, not counted) */
    size_t len;                /* bytes */
} edge_asset_t;

extern const edge_asset_t edge_assets[];

/* The paths edge_web_handle serves (NULL-terminated), to list as public. */
extern const char *const edge_web_paths[];

/* Every path edge_web_handle serves: edge_web_paths, then "/<name>.html"
 * for each embedded page and "/assets/<name>" for each script, style and
 * image (a NULL-terminated list of the caller's, for edge_web_paths_free;
 * NULL when out of memory). */
char **edge_web_public_paths(void);
void edge_web_paths_free(char **paths);

/* The embedded file named name, or NULL. */
const edge_asset_t *edge_web_find(const char *name);

/* When req is a GET (or HEAD) of one of edge_web_public_paths(), fill resp with
 * the page and return true; else false and resp untouched. */
bool edge_web_handle(const egide_http_req_t *req, egide_http_resp_t *resp);

#endif
