/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "http-request.h"

G_BEGIN_DECLS

/*
 * HearthHttpRoutes: the stream port's routing table. Each route registers
 * itself with a name, a path pattern, the methods it answers, its handler
 * and its own state, which the table frees with it.
 *
 * A pattern is its path's segments: a literal segment matches itself, "{x}"
 * one segment (captured, in order, into the request's captures), a last "*"
 * the rest of the path. No route matches a path with an empty, "." or
 * ".." segment, so a capture is one segment that names something. "/" is
 * the root alone.
 */
typedef enum {
  HEARTH_HTTP_GET = 1 << 0,
  HEARTH_HTTP_HEAD = 1 << 1,
  HEARTH_HTTP_POST = 1 << 2,
} HearthHttpMethods;

#define HEARTH_HTTP_READ (HEARTH_HTTP_GET | HEARTH_HTTP_HEAD)

typedef void (*HearthHttpHandler) (HearthHttpRequest *request, gpointer state);

typedef struct _HearthHttpRoutes HearthHttpRoutes;
typedef struct _HearthHttpRoute HearthHttpRoute;

HearthHttpRoutes *hearth_http_routes_new (void);
/* Frees every route's state with it. */
void hearth_http_routes_free (HearthHttpRoutes *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HearthHttpRoutes, hearth_http_routes_free)

/* @name and @pattern must be static strings; @state is the route's, freed
 * with @destroy. */
void hearth_http_routes_add (HearthHttpRoutes *self, const char *name,
                             const char *pattern, HearthHttpMethods methods,
                             HearthHttpHandler handler, gpointer state,
                             GDestroyNotify destroy);
/* The state of the route @name. (transfer none) (nullable) */
gpointer hearth_http_routes_get_state (HearthHttpRoutes *self, const char *name);

/**
 * hearth_http_routes_match:
 * @path: a request's path, percent-decoded
 * @captures: (out) (transfer full) (optional): the segments the pattern's
 *   {…} name, in order; NULL when no route matches
 *
 * The route whose pattern @path matches (the first added, if several do),
 * or NULL. Pure: nothing is answered or called.
 */
const HearthHttpRoute *hearth_http_routes_match (HearthHttpRoutes *self,
                                                 const char *path,
                                                 char ***captures);

const char *hearth_http_route_get_name (const HearthHttpRoute *route);
const char *hearth_http_route_get_pattern (const HearthHttpRoute *route);
/* Whether @route answers @method (a SOUP_METHOD_* string). */
gboolean hearth_http_route_allows (const HearthHttpRoute *route,
                                   const char *method);

/* Hands @request to its route's handler if the route answers the request's
 * method; else answers 405 with the methods it does answer. */
void hearth_http_route_dispatch (const HearthHttpRoute *route,
                                 HearthHttpRequest *request);

G_END_DECLS
